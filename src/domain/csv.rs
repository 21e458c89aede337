//! A small RFC 4180 reader for recipient lists pasted into the console:
//! commas, double-quoted fields (with `""` for a quote and line breaks
//! inside), CRLF or LF line ends, blank lines skipped.

/// Parses `text` into rows of fields; errors name the line.
pub fn parse(text: &str) -> Result<Vec<Vec<String>>, String> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut line = 1usize;
    let mut chars = text.chars().peekable();
    let mut field_started = false;
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => quoted = false,
                '\n' => {
                    line += 1;
                    field.push(c);
                }
                _ => field.push(c),
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
                field_started = false;
            }
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                end_row(&mut rows, &mut row, &mut field);
                field_started = false;
                line += 1;
            }
            _ => {
                field.push(c);
                field_started = true;
            }
        }
    }
    if quoted {
        return Err(format!("Line {line}: a quoted field is not closed."));
    }
    end_row(&mut rows, &mut row, &mut field);
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
    fn a_line_break_inside_quotes_stays_in_the_field() {
        assert_eq!(
            parse("\"two\nlines\",x").unwrap(),
            vec![vec!["two\nlines", "x"]]
        );
    }
}
