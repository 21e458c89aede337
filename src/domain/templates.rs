//! Message templates: a subject and bodies with `{{variable}}` places,
//! filled from a job's variables (a batch's CSV columns). Every
//! organization has the built-in "welcome" and "notification"; an
//! organization's own template of the same name replaces the built-in.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A template of one channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Template {
    /// Its name (`welcome`).
    pub name: String,
    /// The subject (email).
    pub subject: String,
    /// The text body.
    pub text_body: String,
    /// The HTML body (email), if any.
    pub html_body: Option<String>,
}

/// The names of the built-in templates.
pub const BUILTIN_TEMPLATES: [&str; 2] = ["welcome", "notification"];

/// The built-in template `name`, if there is one.
pub fn builtin(name: &str) -> Option<Template> {
    let (subject, text, html) = match name {
        "welcome" => (
            "Welcome, {{name}}",
            "Hello {{name}},\n\nWelcome aboard. You can reach us by replying to this message.\n",
            "<p>Hello {{name}},</p><p>Welcome aboard. You can reach us by replying to this message.</p>",
        ),
        "notification" => (
            "{{subject}}",
            "{{message}}\n",
            "<p>{{message}}</p>",
        ),
        _ => return None,
    };
    Some(Template {
        name: name.to_string(),
        subject: subject.to_string(),
        text_body: text.to_string(),
        html_body: Some(html.to_string()),
    })
}

/// Fills `{{name}}` places of `text` from `variables` (strings and numbers;
/// HTML-escaped when `html`). Every place must have a value: the error
/// names those that do not.
pub fn render(text: &str, variables: &Map<String, Value>, html: bool) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut missing: Vec<String> = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            out.push_str(&rest[start..]);
            rest = "";
            break;
        };
        let name = after[..end].trim();
        match variables.get(name) {
            Some(Value::String(value)) => out.push_str(&escaped(value, html)),
            Some(Value::Number(value)) => out.push_str(&value.to_string()),
            Some(Value::Bool(value)) => out.push_str(if *value { "yes" } else { "no" }),
            _ => {
                if !missing.iter().any(|m| m == name) {
                    missing.push(name.to_string());
                }
            }
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    if missing.is_empty() {
        Ok(out)
    } else {
        Err(format!(
            "The template needs a value for {}.",
            missing
                .iter()
                .map(|m| format!("\"{m}\""))
                .collect::<Vec<_>>()
                .join(", ")
        ))
    }
}

fn escaped(value: &str, html: bool) -> String {
    if !html {
        return value.to_string();
    }
    value
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vars(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn places_are_filled_and_html_is_escaped_in_html_only() {
        let variables = vars(json!({ "name": "Ada <Lovelace>", "amount": 12 }));
        assert_eq!(
            render("Hi {{ name }}, {{amount}} due", &variables, false).unwrap(),
            "Hi Ada <Lovelace>, 12 due"
        );
        assert_eq!(
            render("<p>{{name}}</p>", &variables, true).unwrap(),
            "<p>Ada &lt;Lovelace&gt;</p>"
        );
    }

    #[test]
    fn every_missing_value_is_named_once() {
        assert_eq!(
            render("{{a}} {{b}} {{a}}", &Map::new(), false).unwrap_err(),
            "The template needs a value for \"a\", \"b\"."
        );
    }

    #[test]
    fn the_built_ins_exist_and_others_do_not() {
        for name in BUILTIN_TEMPLATES {
            assert!(builtin(name).is_some(), "{name}");
        }
        assert!(builtin("statement_ready").is_none());
    }
}
