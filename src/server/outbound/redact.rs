//! What of an outbound call may be kept. Before a request or response is
//! stored in the API call log or written to a log line, credentials are
//! replaced (authentication headers, fields named like secrets), card-like
//! numbers keep only their last four digits, and bodies are capped.

use serde_json::Value;

/// Most bytes of a body kept; longer ones are cut and marked.
pub const MAX_KEPT_BODY: usize = 16 * 1024;

/// What replaces a secret.
pub const REDACTED: &str = "[redacted]";

/// Header names whose values are credentials.
const SECRET_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-api-key",
    "api-key",
    "x-auth-token",
];

/// Parts of field names that mark a secret (compared without case, `-`
/// and `_`).
const SECRET_NAME_PARTS: &[&str] = &[
    "password",
    "passwd",
    "secret",
    "token",
    "apikey",
    "authorization",
    "credential",
    "privatekey",
    "accesskey",
    "cvv",
    "cvc",
    "pin",
];

/// Whether a header or field name names a secret.
pub fn is_secret_name(name: &str) -> bool {
    let folded: String = name
        .chars()
        .filter(|c| !matches!(c, '-' | '_'))
        .flat_map(char::to_lowercase)
        .collect();
    SECRET_HEADERS.contains(&name.to_ascii_lowercase().as_str())
        || folded.ends_with("key") && folded.contains("api")
        || SECRET_NAME_PARTS.iter().any(|part| {
            // "pin" only as the whole name: "shipping" is not a secret
            if *part == "pin" {
                folded == "pin"
            } else {
                folded.contains(part)
            }
        })
}

/// Headers as they may be kept: credentials replaced.
pub fn headers(headers: &[(String, String)]) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(name, value)| {
            if is_secret_name(name) {
                (name.clone(), REDACTED.to_string())
            } else {
                (name.clone(), card_numbers(value))
            }
        })
        .collect()
}

/// The credential values `headers` carry (each secret-named header's
/// value, a bearer token, a basic password), so an answer that echoes one
/// can be scrubbed of it. Values shorter than 6 characters are left out:
/// scrubbing them would cut up ordinary words.
pub fn credential_values(headers: &[(String, String)]) -> Vec<String> {
    use base64::Engine;
    let mut values = Vec::new();
    for (name, value) in headers {
        if !is_secret_name(name) {
            continue;
        }
        values.push(value.clone());
        if let Some((scheme, credential)) = value.split_once(' ') {
            values.push(credential.to_string());
            if scheme.eq_ignore_ascii_case("basic") {
                let decoded = base64::engine::general_purpose::STANDARD
                    .decode(credential.trim())
                    .ok()
                    .and_then(|bytes| String::from_utf8(bytes).ok());
                if let Some((_, password)) = decoded.as_deref().and_then(|d| d.split_once(':')) {
                    values.push(password.to_string());
                }
            }
        }
    }
    values.retain(|v| v.chars().count() >= 6);
    // longest first, so a value containing another is replaced whole
    values.sort_by_key(|v| std::cmp::Reverse(v.len()));
    values.dedup();
    values
}

/// `text` without any of `credentials` (see [`credential_values`]) and
/// with card numbers masked.
pub fn scrubbed(text: &str, credentials: &[String]) -> String {
    let mut text = text.to_string();
    for credential in credentials {
        if text.contains(credential.as_str()) {
            text = text.replace(credential.as_str(), REDACTED);
        }
    }
    card_numbers(&text)
}

/// A JSON value as it may be kept: fields named like secrets replaced, card
/// numbers in strings masked, at any depth.
pub fn json(value: &Value) -> Value {
    match value {
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(name, field)| {
                    let kept = if is_secret_name(name) && !field.is_null() {
                        Value::String(REDACTED.into())
                    } else {
                        json(field)
                    };
                    (name.clone(), kept)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(json).collect()),
        Value::String(text) => Value::String(card_numbers(text)),
        Value::Number(number) if looks_like_card(&number.to_string()) => {
            Value::String(mask(&number.to_string()))
        }
        other => other.clone(),
    }
}

/// `text` with every card-like number (13–19 digits, spaces or dashes
/// between them allowed, passing the Luhn check, not a `+` phone number)
/// masked to its last four.
pub fn card_numbers(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut kept = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_ascii_digit() && (i == 0 || !chars[i - 1].is_ascii_digit()) {
            // the longest run of digits with single separators between them
            let mut end = i;
            let mut digits = 0;
            let mut j = i;
            while j < chars.len() {
                if chars[j].is_ascii_digit() {
                    digits += 1;
                    j += 1;
                    end = j;
                } else if matches!(chars[j], ' ' | '-')
                    && j + 1 < chars.len()
                    && chars[j + 1].is_ascii_digit()
                {
                    j += 1;
                } else {
                    break;
                }
            }
            let run: String = chars[i..end].iter().collect();
            // an E.164 phone number ("+49…") is not a card, Luhn or not
            let phone = i > 0 && chars[i - 1] == '+';
            if !phone && (13..=19).contains(&digits) && looks_like_card(&run) {
                kept.push_str(&mask(&run));
            } else {
                kept.push_str(&run);
            }
            i = end;
        } else {
            kept.push(chars[i]);
            i += 1;
        }
    }
    kept
}

fn looks_like_card(run: &str) -> bool {
    let digits: Vec<u32> = run.chars().filter_map(|c| c.to_digit(10)).collect();
    (13..=19).contains(&digits.len()) && luhn(&digits)
}

fn luhn(digits: &[u32]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| {
            if i % 2 == 1 {
                let doubled = d * 2;
                if doubled > 9 {
                    doubled - 9
                } else {
                    doubled
                }
            } else {
                *d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

fn mask(run: &str) -> String {
    let digits: String = run.chars().filter(char::is_ascii_digit).collect();
    format!("****{}", &digits[digits.len() - 4..])
}

/// A body as it may be kept: at most [`MAX_KEPT_BODY`] bytes (cut at a
/// character boundary) and whether it was cut.
pub fn capped(body: &str) -> (String, bool) {
    if body.len() <= MAX_KEPT_BODY {
        return (body.to_string(), false);
    }
    let mut end = MAX_KEPT_BODY;
    while !body.is_char_boundary(end) {
        end -= 1;
    }
    (body[..end].to_string(), true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_echoed_bearer_token_or_basic_password_is_scrubbed() {
        use base64::Engine;
        let basic = base64::engine::general_purpose::STANDARD.encode("AC123:tok-secret-7781");
        let credentials = credential_values(&[
            ("Authorization".into(), format!("Basic {basic}")),
            ("X-Api-Key".into(), "key".into()),
            ("Accept".into(), "application/json-long-enough".into()),
        ]);
        assert_eq!(
            scrubbed(
                "token tok-secret-7781 for AC123, card 4111 1111 1111 1111",
                &credentials
            ),
            "token [redacted] for AC123, card ****1111"
        );
        let bearer = credential_values(&[("authorization".into(), "Bearer wa-token-99".into())]);
        assert_eq!(scrubbed("bad wa-token-99", &bearer), "bad [redacted]");
    }

    #[test]
    fn credential_headers_are_replaced_and_others_kept() {
        let kept = headers(&[
            ("Authorization".into(), "Bearer abc".into()),
            ("X-Api-Key".into(), "k".into()),
            ("Content-Type".into(), "application/json".into()),
        ]);
        assert_eq!(kept[0].1, REDACTED);
        assert_eq!(kept[1].1, REDACTED);
        assert_eq!(kept[2].1, "application/json");
    }

    #[test]
    fn fields_named_like_secrets_are_replaced_at_any_depth() {
        let body = json!({
            "user": "ada",
            "auth": { "client_secret": "s3", "accessToken": "t", "api_key": "k" },
            "items": [{ "password": "p", "shipping": "normal", "pin": "1234" }],
        });
        assert_eq!(
            json(&body),
            json!({
                "user": "ada",
                "auth": { "client_secret": REDACTED, "accessToken": REDACTED, "api_key": REDACTED },
                "items": [{ "password": REDACTED, "shipping": "normal", "pin": REDACTED }],
            })
        );
    }

    #[test]
    fn card_numbers_keep_their_last_four_digits() {
        assert_eq!(
            card_numbers("card 4111 1111 1111 1111 exp 12/29"),
            "card ****1111 exp 12/29"
        );
        assert_eq!(card_numbers("4111-1111-1111-1111"), "****1111");
        assert_eq!(
            json(&json!({ "pan": 4111111111111111u64 })),
            json!({ "pan": "****1111" })
        );
    }

    #[test]
    fn numbers_that_fail_the_luhn_check_are_short_or_are_phones_stay() {
        assert_eq!(card_numbers("ref 4111111111111112"), "ref 4111111111111112");
        // passes the Luhn check, but is written as a phone number
        assert_eq!(card_numbers("+4915112345678"), "+4915112345678");
        assert_eq!(card_numbers("order 12345"), "order 12345");
    }

    #[test]
    fn long_bodies_are_cut_at_a_character_boundary_and_marked() {
        let body = "é".repeat(MAX_KEPT_BODY);
        let (kept, cut) = capped(&body);
        assert!(cut);
        assert!(kept.len() <= MAX_KEPT_BODY);
        assert!(kept.chars().all(|c| c == 'é'));
        assert_eq!(capped("short"), ("short".to_string(), false));
    }
}
