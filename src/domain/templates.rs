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

/// An organization's own template, as the console lists and edits it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct TemplateRow {
    /// Its id.
    pub id: uuid::Uuid,
    /// Whose it is.
    pub organization_id: uuid::Uuid,
    /// That organization's name.
    pub organization_name: String,
    /// Its name (a job's `template`).
    pub name: String,
    /// The subject.
    pub subject: Option<String>,
    /// The text body.
    pub text_body: String,
    /// The HTML body, if any.
    pub html_body: Option<String>,
    /// When it was made.
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// When it last changed.
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

/// The email template form, as the browser sends it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TemplateForm {
    /// A bank admin's choice of organization for a new template.
    #[serde(default)]
    pub organization_id: Option<uuid::Uuid>,
    /// Its name.
    #[serde(default)]
    pub name: String,
    /// The subject.
    #[serde(default)]
    pub subject: String,
    /// The text body.
    #[serde(default)]
    pub text_body: String,
    /// The HTML body (empty: none).
    #[serde(default)]
    pub html_body: String,
}

/// A template form that passed [`TemplateForm::validate`].
#[derive(Debug, Clone, PartialEq)]
pub struct ValidTemplate {
    /// A bank admin's choice of organization.
    pub organization_id: Option<uuid::Uuid>,
    /// Its name.
    pub name: String,
    /// The subject.
    pub subject: String,
    /// The text body.
    pub text_body: String,
    /// The HTML body, if any.
    pub html_body: Option<String>,
    /// Every place the template has, in order of first use.
    pub places: Vec<String>,
}

/// Longest subject, text body and HTML body (their columns' limits).
const MAX_SUBJECT: usize = 255;
const MAX_TEXT: usize = 65_536;
const MAX_HTML: usize = 262_144;

impl TemplateForm {
    /// Checks the form; the error says what to change.
    pub fn validate(&self) -> Result<ValidTemplate, String> {
        let name = self.name.trim();
        if !valid_name(name) {
            return Err("The name uses 1 to 100 lowercase letters, digits, '-' and '_'.".into());
        }
        let subject = self.subject.trim();
        if subject.is_empty() {
            return Err("An email template needs a subject.".into());
        }
        if subject.chars().count() > MAX_SUBJECT || subject.chars().any(char::is_control) {
            return Err("The subject is one line of at most 255 characters.".into());
        }
        if self.text_body.trim().is_empty() {
            return Err("An email template needs a text body.".into());
        }
        if self.text_body.chars().count() > MAX_TEXT {
            return Err("The text body is at most 65,536 characters.".into());
        }
        if self.html_body.chars().count() > MAX_HTML {
            return Err("The HTML body is at most 262,144 characters.".into());
        }
        if [&self.text_body, &self.html_body]
            .iter()
            .any(|text| text.contains('\u{0}'))
        {
            return Err("The bodies cannot contain NUL characters.".into());
        }
        let html_body = Some(self.html_body.clone()).filter(|h| !h.trim().is_empty());
        let mut places = Vec::new();
        for (part, text) in [
            ("subject", subject),
            ("text body", self.text_body.as_str()),
            ("HTML body", html_body.as_deref().unwrap_or("")),
        ] {
            for place in places_in(text).map_err(|e| format!("The {part} {e}"))? {
                if !places.contains(&place) {
                    places.push(place);
                }
            }
        }
        Ok(ValidTemplate {
            organization_id: self.organization_id,
            name: name.to_string(),
            subject: subject.to_string(),
            text_body: self.text_body.clone(),
            html_body,
            places,
        })
    }
}

/// Whether `name` can be a template's name (the database's rule).
pub fn valid_name(name: &str) -> bool {
    (1..=100).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// The `{{name}}` places of `text`, in order; an error (to follow "The
/// subject …") for a place left open or without a name.
pub fn places_in(text: &str) -> Result<Vec<String>, String> {
    let mut places = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            return Err("has a \"{{\" without its \"}}\".".into());
        };
        let name = after[..end].trim();
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_alphanumeric() || c == '_' || c == '-' || c == '.')
        {
            return Err(format!(
                "has a place \"{{{{{}}}}}\" whose name is not letters, digits, '_', '-' or '.'.",
                &after[..end]
            ));
        }
        if !places.iter().any(|p| p == name) {
            places.push(name.to_string());
        }
        rest = &after[end + 2..];
    }
    Ok(places)
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

    fn form(name: &str, subject: &str, text: &str) -> TemplateForm {
        TemplateForm {
            name: name.into(),
            subject: subject.into(),
            text_body: text.into(),
            ..TemplateForm::default()
        }
    }

    #[test]
    fn a_template_s_places_are_listed_once_in_order() {
        let valid = form(
            "statement_ready",
            "Statement {{month}}",
            "Hi {{name}}, {{ month }}",
        )
        .validate()
        .unwrap();
        assert_eq!(valid.places, vec!["month".to_string(), "name".to_string()]);
        assert_eq!(valid.html_body, None);
    }

    #[test]
    fn a_template_with_an_open_place_is_refused_naming_the_part() {
        assert_eq!(
            form("x", "Hi", "Dear {{name").validate().unwrap_err(),
            "The text body has a \"{{\" without its \"}}\"."
        );
        assert_eq!(
            form("x", "Hi {{}}", "Dear").validate().unwrap_err(),
            "The subject has a place \"{{}}\" whose name is not letters, digits, '_', '-' or '.'."
        );
    }

    #[test]
    fn a_template_name_follows_the_database_s_rule() {
        assert_eq!(
            form("Statement Ready", "Hi", "Dear")
                .validate()
                .unwrap_err(),
            "The name uses 1 to 100 lowercase letters, digits, '-' and '_'."
        );
        assert!(form(&"a".repeat(100), "Hi", "Dear").validate().is_ok());
        assert!(form(&"a".repeat(101), "Hi", "Dear").validate().is_err());
    }

    #[test]
    fn the_built_ins_exist_and_others_do_not() {
        for name in BUILTIN_TEMPLATES {
            assert!(builtin(name).is_some(), "{name}");
        }
        assert!(builtin("statement_ready").is_none());
    }
}
