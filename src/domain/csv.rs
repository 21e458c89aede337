//! A small RFC 4180 reader for recipient lists pasted into the console:
//! commas, double-quoted fields (with `""` for a quote and line breaks
//! inside), CRLF or LF line ends, blank lines skipped.

/// How much a parse may hold: every limit is checked as the text is read,
/// so an oversized list is refused before it is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Rows, the header included.
    pub rows: usize,
    /// Fields per row.
    pub columns: usize,
    /// Characters per field.
    pub field_chars: usize,
}

impl Limits {
    /// No practical limit (trusted input, tests).
    pub const NONE: Limits = Limits {
        rows: usize::MAX,
        columns: usize::MAX,
        field_chars: usize::MAX,
    };
}

/// Parses `text` into rows of fields; errors name the line.
pub fn parse(text: &str) -> Result<Vec<Vec<String>>, String> {
    parse_within(text, Limits::NONE)
}

/// Parses `text` into rows of fields within `limits`; errors name the line.
pub fn parse_within(text: &str, limits: Limits) -> Result<Vec<Vec<String>>, String> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut line = 1usize;
    let mut chars = text.chars().peekable();
    let mut field_started = false;
    // characters in `field`, kept as it grows (counting them anew per
    // character would be quadratic)
    let mut field_chars = 0usize;
    while let Some(c) = chars.next() {
        if field_chars > limits.field_chars {
            return Err(format!(
                "Line {line}: a field is longer than {} characters.",
                limits.field_chars
            ));
        }
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                    field_chars += 1;
                }
                '"' => quoted = false,
                '\n' => {
                    line += 1;
                    field.push(c);
                    field_chars += 1;
                }
                _ => {
                    field.push(c);
                    field_chars += 1;
                }
            }
            continue;
        }
        match c {
            '"' if !field_started => {
                quoted = true;
                field_started = true;
            }
            '"' => return Err(format!("Line {line}: a quote inside an unquoted field.")),
            ',' => {
                row.push(std::mem::take(&mut field));
                field_chars = 0;
                field_started = false;
                if row.len() >= limits.columns {
                    return Err(format!("Line {line}: more than {} fields.", limits.columns));
                }
            }
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                end_row(&mut rows, &mut row, &mut field);
                field_chars = 0;
                field_started = false;
                if rows.len() > limits.rows {
                    return Err(format!("More than {} lines.", limits.rows));
                }
                line += 1;
            }
            _ => {
                field.push(c);
                field_chars += 1;
                field_started = true;
            }
        }
    }
    if quoted {
        return Err(format!("Line {line}: a quoted field is not closed."));
    }
    if field_chars > limits.field_chars {
        return Err(format!(
            "Line {line}: a field is longer than {} characters.",
            limits.field_chars
        ));
    }
    end_row(&mut rows, &mut row, &mut field);
    if rows.len() > limits.rows {
        return Err(format!("More than {} lines.", limits.rows));
    }
    Ok(rows)
}

fn end_row(rows: &mut Vec<Vec<String>>, row: &mut Vec<String>, field: &mut String) {
    row.push(std::mem::take(field));
    let finished = std::mem::take(row);
    if !(finished.len() == 1 && finished[0].trim().is_empty()) {
        rows.push(finished);
    }
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn quotes_commas_and_line_ends() {
        let rows = parse(
            "email,name\r\n\"a@x.example\",\"Okafor, Amara\"\n\nb@x.example,\"Say \"\"hi\"\"\"\n",
        )
        .unwrap();
        assert_eq!(
            rows,
            vec![
                vec!["email", "name"],
                vec!["a@x.example", "Okafor, Amara"],
                vec!["b@x.example", "Say \"hi\""],
            ]
        );
    }

    #[test]
    fn broken_quotes_name_the_line() {
        assert!(parse("a,b\nc,\"open").unwrap_err().contains("Line 2"));
        assert!(parse("a,b\nc,d\"e").unwrap_err().contains("Line 2"));
    }

    #[test]
    fn limits_are_checked_while_reading() {
        let limits = super::Limits {
            rows: 3,
            columns: 2,
            field_chars: 5,
        };
        assert_eq!(
            super::parse_within("a,b\n1,2\n3,4\n5,6", limits).unwrap_err(),
            "More than 3 lines."
        );
        assert_eq!(
            super::parse_within("a,b,c", limits).unwrap_err(),
            "Line 1: more than 2 fields."
        );
        assert_eq!(
            super::parse_within("a,\"bbbbbbbbbb\"", limits).unwrap_err(),
            "Line 1: a field is longer than 5 characters."
        );
        assert!(super::parse_within("ab,cd\nef,gh", limits).is_ok());
    }

    #[test]
    fn a_line_break_inside_quotes_stays_in_the_field() {
        assert_eq!(
            parse("\"two\nlines\",x").unwrap(),
            vec![vec!["two\nlines", "x"]]
        );
    }
}
