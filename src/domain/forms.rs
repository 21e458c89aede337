//! Console forms, validated the same way in the browser (as the person types)
//! and on the server (authoritative).

use super::{JobType, Priority};
use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The "New job" form as submitted: every field as text.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NewJobForm {
    /// Organization (bank admins choose; others get their own).
    #[serde(default)]
    pub organization_id: String,
    /// Job type.
    pub job_type: String,
    /// Name shown in the console.
    pub job_name: String,
    /// JSON payload.
    pub payload: String,
    /// low / normal / high / urgent.
    #[serde(default)]
    pub priority: String,
    /// Queue name (empty: default).
    #[serde(default)]
    pub queue: String,
    /// 1–100 (empty: 3).
    #[serde(default)]
    pub max_attempts: String,
    /// `YYYY-MM-DDTHH:MM` in UTC (empty: now).
    #[serde(default)]
    pub run_at: String,
}

/// A valid new job.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidNewJob {
    /// The organization asked for, if any.
    pub organization_id: Option<Uuid>,
    /// Job type.
    pub job_type: JobType,
    /// Name.
    pub job_name: String,
    /// Payload.
    pub payload: serde_json::Value,
    /// Priority.
    pub priority: Priority,
    /// Queue.
    pub queue: String,
    /// Attempts.
    pub max_attempts: i32,
    /// Earliest start.
    pub run_at: Option<DateTime<Utc>>,
}

/// What a queue name may look like, in words (form and database agree).
pub const QUEUE_NAME_RULE: &str =
    "Queue names use lowercase letters, digits, '-' and '_' (at most 100).";

/// Whether `name` is a valid queue name.
pub fn valid_queue_name(name: &str) -> bool {
    (1..=100).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// A number of jobs run at once, 1 to 1000: a queue's concurrency per worker
/// process, or an organization's cap in a queue. Parsed (from a form's text
/// or a number) before a server function sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "ConcurrencyInput", into = "i32")]
pub struct Concurrency(i32);

impl Concurrency {
    /// What a concurrency may be, in words.
    pub const RULE: &'static str = "Concurrency is a whole number from 1 to 1000.";

    /// The number.
    pub fn get(self) -> i32 {
        self.0
    }
}

impl TryFrom<i64> for Concurrency {
    type Error = &'static str;
    fn try_from(value: i64) -> Result<Self, Self::Error> {
        if (1..=1000).contains(&value) {
            Ok(Concurrency(value as i32))
        } else {
            Err(Concurrency::RULE)
        }
    }
}

impl std::str::FromStr for Concurrency {
    type Err = &'static str;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        text.trim()
            .parse::<i64>()
            .map_err(|_| Concurrency::RULE)
            .and_then(Concurrency::try_from)
    }
}

impl From<Concurrency> for i32 {
    fn from(value: Concurrency) -> i32 {
        value.0
    }
}

/// What a concurrency arrives as: form text or a JSON number.
#[derive(Deserialize)]
#[serde(untagged)]
enum ConcurrencyInput {
    Number(i64),
    Text(String),
}

impl TryFrom<ConcurrencyInput> for Concurrency {
    type Error = &'static str;
    fn try_from(input: ConcurrencyInput) -> Result<Self, Self::Error> {
        match input {
            ConcurrencyInput::Number(n) => Concurrency::try_from(n),
            ConcurrencyInput::Text(text) => text.parse(),
        }
    }
}

impl NewJobForm {
    /// Checks every field; the error names the first problem in words a
    /// person understands.
    pub fn validate(&self) -> Result<ValidNewJob, String> {
        let organization_id = match self.organization_id.trim() {
            "" => None,
            text => Some(Uuid::parse_str(text).map_err(|_| "Choose an organization.".to_string())?),
        };
        let job_type =
            JobType::parse(self.job_type.trim()).ok_or_else(|| "Choose a job type.".to_string())?;
        let job_name = self.job_name.trim().to_string();
        if job_name.is_empty() {
            return Err("Give the job a name.".into());
        }
        if job_name.chars().count() > 255 {
            return Err("The name is longer than 255 characters.".into());
        }
        if job_name.chars().any(char::is_control) {
            return Err("The name must not contain control characters.".into());
        }
        let payload_text = if self.payload.trim().is_empty() {
            "{}"
        } else {
            self.payload.trim()
        };
        // checked before parsing: a huge payload is refused without being built
        if payload_text.len() > 256 * 1024 {
            return Err("The payload is larger than 256 KiB.".into());
        }
        let payload: serde_json::Value = serde_json::from_str(payload_text).map_err(|e| {
            format!(
                "The payload is not valid JSON (line {}, column {}).",
                e.line(),
                e.column()
            )
        })?;
        if !payload.is_object() {
            return Err("The payload must be a JSON object, like {\"key\": \"value\"}.".into());
        }
        if json_contains_nul(&payload) {
            return Err("The payload must not contain NUL characters (\\u0000).".into());
        }
        let priority = match self.priority.trim() {
            "" => Priority::Normal,
            text => Priority::parse(text).ok_or_else(|| "Choose a priority.".to_string())?,
        };
        let queue = match self.queue.trim() {
            "" => super::DEFAULT_QUEUE.to_string(),
            text if valid_queue_name(text) => text.to_string(),
            _ => {
                return Err(
                    "Queue names use lowercase letters, digits, '-' and '_' (at most 100).".into(),
                )
            }
        };
        let max_attempts = match self.max_attempts.trim() {
            "" => 3,
            text => match text.parse::<i32>() {
                Ok(n) if (1..=100).contains(&n) => n,
                _ => return Err("Max attempts must be a whole number from 1 to 100.".into()),
            },
        };
        let run_at = match self.run_at.trim() {
            "" => None,
            text => Some(parse_run_at(text)?),
        };
        Ok(ValidNewJob {
            organization_id,
            job_type,
            job_name,
            payload,
            priority,
            queue,
            max_attempts,
            run_at,
        })
    }
}

/// Whether any string or key of `value` holds a NUL character, which
/// PostgreSQL cannot store in text or jsonb.
pub fn json_contains_nul(value: &serde_json::Value) -> bool {
    use serde_json::Value;
    match value {
        Value::String(text) => text.contains('\0'),
        Value::Array(items) => items.iter().any(json_contains_nul),
        Value::Object(fields) => fields
            .iter()
            .any(|(key, value)| key.contains('\0') || json_contains_nul(value)),
        _ => false,
    }
}

/// Whether `at` lies in the years 1 to 9999, which the database and every
/// browser can store and show (chrono parses far wider).
pub fn storable_time(at: DateTime<Utc>) -> bool {
    use chrono::Datelike;
    (1..=9999).contains(&at.year())
}

/// Parses `YYYY-MM-DDTHH:MM[:SS]` (UTC, as `datetime-local` sends) or RFC 3339,
/// in the years 1 to 9999.
fn parse_run_at(text: &str) -> Result<DateTime<Utc>, String> {
    let parsed = DateTime::parse_from_rfc3339(text)
        .map(|at| at.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]
                .iter()
                .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
                .map(|at| at.and_utc())
        });
    match parsed {
        Some(at) if storable_time(at) => Ok(at),
        Some(_) => Err("Run at must be in the years 1 to 9999.".into()),
        None => Err("Run at must be a date and time like 2026-12-01T09:30 (UTC).".into()),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn email_shapes() {
        for good in ["a@b.c", "admin@veriphy.local", "x.y+z@bank.example"] {
            assert!(plausible_email(good), "{good}");
        }
        for bad in [
            "", "hunter2", "@b.c", "a@b", "a@@b.c", "a b@c.d", "a@b.c\0", "a@.c", "a@c.",
        ] {
            assert!(!plausible_email(bad), "{bad:?}");
        }
    }

    #[test]
    fn concurrency_is_parsed_from_text_or_numbers_within_its_range() {
        assert_eq!("25".parse::<Concurrency>().map(Concurrency::get), Ok(25));
        assert_eq!(
            serde_json::from_str::<Concurrency>("1000").unwrap().get(),
            1000
        );
        for bad in ["0", "1001", "many", "2.5", ""] {
            assert_eq!(bad.parse::<Concurrency>(), Err(Concurrency::RULE), "{bad}");
        }
        let err = serde_json::from_str::<Concurrency>("\"0\"").unwrap_err();
        assert!(err.to_string().contains(Concurrency::RULE), "{err}");
    }

    use super::*;

    fn form() -> NewJobForm {
        NewJobForm {
            job_type: "report_generation".into(),
            job_name: "Weekly report".into(),
            payload: r#"{"days": 7}"#.into(),
            ..Default::default()
        }
    }

    #[test]
    fn a_minimal_form_gets_the_seed_defaults() {
        let job = form().validate().unwrap();
        assert_eq!(job.priority, Priority::Normal);
        assert_eq!(job.queue, "default");
        assert_eq!(job.max_attempts, 3);
        assert_eq!(job.run_at, None);
        assert_eq!(job.payload["days"], 7);
    }

    #[test]
    fn every_bad_field_has_its_own_message() {
        type Spoil = fn(&mut NewJobForm);
        let cases: [(Spoil, &str); 12] = [
            (|f| f.job_type = "teleport".into(), "job type"),
            (|f| f.job_name = "  ".into(), "name"),
            (
                |f| f.payload = "{days: 7}".into(),
                "not valid JSON (line 1, column 2)",
            ),
            (|f| f.payload = "[1]".into(), "JSON object"),
            (|f| f.priority = "asap".into(), "priority"),
            (|f| f.queue = "Big Queue".into(), "Queue names"),
            (|f| f.max_attempts = "0".into(), "Max attempts"),
            (|f| f.run_at = "tomorrow".into(), "Run at"),
            (
                |f| f.run_at = "-30000-01-01T00:00".into(),
                "years 1 to 9999",
            ),
            (|f| f.job_name = "bell\u{7}".into(), "control characters"),
            (|f| f.payload = r#"{"a": "x\u0000y"}"#.into(), "NUL"),
            (
                |f| f.payload = format!(r#"{{"a": "{}"}}"#, "x".repeat(300 * 1024)),
                "256 KiB",
            ),
        ];
        for (spoil, expected) in cases {
            let mut f = form();
            spoil(&mut f);
            let error = f.validate().unwrap_err();
            assert!(
                error.contains(expected),
                "{error} should mention {expected}"
            );
        }
    }

    #[test]
    fn run_at_accepts_the_browser_format_and_rfc3339() {
        let mut f = form();
        f.run_at = "2026-12-01T09:30".into();
        let at = f.validate().unwrap().run_at.unwrap();
        assert_eq!(at.to_rfc3339(), "2026-12-01T09:30:00+00:00");
        f.run_at = "2026-12-01T09:30:00+01:00".into();
        assert_eq!(
            f.validate().unwrap().run_at.unwrap().to_rfc3339(),
            "2026-12-01T08:30:00+00:00"
        );
    }
}

/// URL names of the Jobs tab's filters.
pub const JOB_FILTER_NAMES: [&str; 7] = ["type", "priority", "queue", "batch", "from", "to", "q"];

/// The Jobs tab's filters, parsed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JobListFilters {
    /// `type`: one job type.
    pub job_type: Option<JobType>,
    /// `priority`.
    pub priority: Option<Priority>,
    /// `queue`: exact queue name.
    pub queue: Option<String>,
    /// `batch`: jobs of one batch.
    pub batch_id: Option<Uuid>,
    /// `from`: created at or after.
    pub created_from: Option<DateTime<Utc>>,
    /// `to`: created before.
    pub created_to: Option<DateTime<Utc>>,
    /// `q`: text the name contains (any case).
    pub name_contains: Option<String>,
}

impl JobListFilters {
    /// Parses the URL filters; the error names the bad one.
    pub fn parse(filters: &std::collections::BTreeMap<String, String>) -> Result<Self, String> {
        let mut parsed = JobListFilters::default();
        for (name, value) in filters {
            let value = value.trim();
            if value.is_empty() {
                continue;
            }
            match name.as_str() {
                "type" => {
                    parsed.job_type = Some(
                        JobType::parse(value)
                            .ok_or_else(|| format!("Unknown job type {value:?}."))?,
                    )
                }
                "priority" => {
                    parsed.priority = Some(
                        Priority::parse(value)
                            .ok_or_else(|| format!("Unknown priority {value:?}."))?,
                    )
                }
                "queue" if valid_queue_name(value) => parsed.queue = Some(value.to_string()),
                "queue" => return Err(QUEUE_NAME_RULE.into()),
                "batch" => {
                    parsed.batch_id = Some(
                        Uuid::parse_str(value)
                            .map_err(|_| "The batch filter must be a batch id.".to_string())?,
                    )
                }
                "from" => parsed.created_from = Some(parse_filter_time(value)?),
                "to" => parsed.created_to = Some(parse_filter_time(value)?),
                "q" if value.chars().count() <= 200 => {
                    parsed.name_contains = Some(value.to_string())
                }
                "q" => return Err("Search text is longer than 200 characters.".into()),
                other => return Err(format!("Unknown filter {other:?}.")),
            }
        }
        check_time_range(parsed.created_from, parsed.created_to)?;
        Ok(parsed)
    }
}

/// Refuses a filter's time range whose "from" is not before its "to".
pub(crate) fn check_time_range(
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> Result<(), String> {
    match (from, to) {
        (Some(from), Some(to)) if from >= to => {
            Err("The \"from\" time must be before the \"to\" time.".into())
        }
        _ => Ok(()),
    }
}

/// A filter's time (`2026-12-01T09:30`, UTC), or the rule it broke.
pub(crate) fn parse_filter_time(text: &str) -> Result<DateTime<Utc>, String> {
    parse_run_at(text).map_err(|_| {
        "Times in filters look like 2026-12-01T09:30 (UTC), in the years 1 to 9999.".to_string()
    })
}

#[cfg(test)]
mod filter_tests {
    use super::*;

    fn filters(pairs: &[(&str, &str)]) -> std::collections::BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn every_job_filter_parses() {
        let parsed = JobListFilters::parse(&filters(&[
            ("type", "email"),
            ("priority", "urgent"),
            ("queue", "notifications"),
            ("batch", "00000000-0000-0000-0000-000000000001"),
            ("from", "2026-11-01T00:00"),
            ("to", "2026-12-01T00:00"),
            ("q", "Loan"),
        ]))
        .unwrap();
        assert_eq!(parsed.job_type, Some(JobType::Email));
        assert_eq!(parsed.priority, Some(Priority::Urgent));
        assert_eq!(parsed.queue.as_deref(), Some("notifications"));
        assert!(parsed.batch_id.is_some());
        assert_eq!(parsed.name_contains.as_deref(), Some("Loan"));
    }

    #[test]
    fn bad_filters_are_named() {
        for (pair, expected) in [
            (("type", "fax"), "Unknown job type"),
            (("priority", "soon"), "Unknown priority"),
            (("queue", "Big Q"), "Queue names"),
            (("batch", "12"), "batch id"),
            (("from", "yesterday"), "Times in filters"),
            (("from", "-30000-01-01T00:00"), "in the years 1 to 9999"),
            (("colour", "red"), "Unknown filter"),
        ] {
            let error = JobListFilters::parse(&filters(&[pair])).unwrap_err();
            assert!(error.contains(expected), "{error}");
        }
        let backwards = filters(&[("from", "2026-12-01T00:00"), ("to", "2026-11-01T00:00")]);
        assert!(JobListFilters::parse(&backwards)
            .unwrap_err()
            .contains("before"));
        assert_eq!(
            JobListFilters::parse(&filters(&[("q", " ")])).unwrap(),
            JobListFilters::default()
        );
    }
}

/// The "New batch" form: one email job per recipient row.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NewBatchForm {
    /// Organization (bank admins choose; others get their own).
    #[serde(default)]
    pub organization_id: String,
    /// Batch name.
    pub batch_name: String,
    /// Email subject.
    pub subject: String,
    /// Template name the email handler renders.
    pub template: String,
    /// CSV with a header row; an `email` column is required, `name` and any
    /// other columns become template variables.
    pub recipients: String,
    /// low / normal / high / urgent.
    #[serde(default)]
    pub priority: String,
}

/// One recipient row.
#[derive(Debug, Clone, PartialEq)]
pub struct Recipient {
    /// Address.
    pub email: String,
    /// Every column of the row by header name (including email).
    pub variables: serde_json::Map<String, serde_json::Value>,
}

/// A valid new batch.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidNewBatch {
    /// The organization asked for, if any.
    pub organization_id: Option<Uuid>,
    /// Name.
    pub batch_name: String,
    /// Subject.
    pub subject: String,
    /// Template.
    pub template: String,
    /// Priority.
    pub priority: Priority,
    /// Recipients in file order.
    pub recipients: Vec<Recipient>,
}

/// Most recipients one batch may have.
pub const MAX_BATCH_RECIPIENTS: usize = 10_000;

/// Most columns a recipient list may have.
pub const MAX_RECIPIENT_COLUMNS: usize = 50;

/// Most characters of a column name (a template variable).
pub const MAX_COLUMN_NAME_CHARS: usize = 64;

/// Most characters of one recipient field.
pub const MAX_RECIPIENT_FIELD_CHARS: usize = 1_000;

/// `text` cut to at most `max` characters, with an ellipsis when cut.
pub fn truncated(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// A plausible email address: one `@`, something on both sides, a dot in
/// the domain, no spaces or control characters (delivery is the real test).
pub fn plausible_email(text: &str) -> bool {
    let mut parts = text.split('@');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(local), Some(domain), None) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !text.chars().any(|c| c.is_whitespace() || c.is_control())
                && text.len() <= 254
        }
        _ => false,
    }
}

impl NewBatchForm {
    /// Checks every field and every recipient row.
    pub fn validate(&self) -> Result<ValidNewBatch, String> {
        let organization_id = match self.organization_id.trim() {
            "" => None,
            text => Some(Uuid::parse_str(text).map_err(|_| "Choose an organization.".to_string())?),
        };
        let batch_name = self.batch_name.trim().to_string();
        if batch_name.is_empty() || batch_name.chars().count() > 255 {
            return Err("Give the batch a name (at most 255 characters).".into());
        }
        if batch_name.chars().any(char::is_control) {
            return Err("The batch name must not contain control characters.".into());
        }
        let subject = self.subject.trim().to_string();
        if subject.is_empty() || subject.chars().count() > 255 {
            return Err("Give the email a subject (at most 255 characters).".into());
        }
        let template = self.template.trim().to_string();
        if template.is_empty()
            || !template
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err("The template name uses letters, digits, '-' and '_'.".into());
        }
        let priority = match self.priority.trim() {
            "" => Priority::Normal,
            text => Priority::parse(text).ok_or_else(|| "Choose a priority.".to_string())?,
        };
        // bounded as it is read: a list past any limit is refused before it
        // is built (the header row counts as a line)
        let rows = super::csv::parse_within(
            &self.recipients,
            super::csv::Limits {
                rows: MAX_BATCH_RECIPIENTS + 1,
                columns: MAX_RECIPIENT_COLUMNS,
                field_chars: MAX_RECIPIENT_FIELD_CHARS,
            },
        )
        .map_err(|problem| {
            format!(
                "{problem} A batch takes at most {MAX_BATCH_RECIPIENTS} recipients, \
                 {MAX_RECIPIENT_COLUMNS} columns and {MAX_RECIPIENT_FIELD_CHARS} characters per field."
            )
        })?;
        let mut rows = rows.into_iter();
        let header: Vec<String> = rows
            .next()
            .ok_or_else(|| {
                "Paste the recipients: a header row, then one row per recipient.".to_string()
            })?
            .into_iter()
            .map(|h| h.trim().to_ascii_lowercase())
            .collect();
        if let Some(long) = header
            .iter()
            .find(|h| h.chars().count() > MAX_COLUMN_NAME_CHARS)
        {
            return Err(format!(
                "Column names are at most {MAX_COLUMN_NAME_CHARS} characters; {:?}… is longer.",
                truncated(long, 20)
            ));
        }
        let email_column = header
            .iter()
            .position(|h| h == "email")
            .ok_or_else(|| "The header row needs an \"email\" column.".to_string())?;
        let mut recipients = Vec::new();
        for (index, row) in rows.enumerate() {
            let line = index + 2;
            if row.len() != header.len() {
                return Err(format!(
                    "Row {line} has {} fields; the header has {}.",
                    row.len(),
                    header.len()
                ));
            }
            let email = row[email_column].trim().to_string();
            if !plausible_email(&email) {
                return Err(format!("Row {line}: {email:?} is not an email address."));
            }
            let variables = header
                .iter()
                .zip(row)
                .map(|(name, value)| {
                    (
                        name.clone(),
                        serde_json::Value::String(value.trim().to_string()),
                    )
                })
                .collect();
            recipients.push(Recipient { email, variables });
        }
        if recipients.is_empty() {
            return Err("The list has a header but no recipients.".into());
        }
        if recipients.len() > MAX_BATCH_RECIPIENTS {
            return Err(format!(
                "A batch takes at most {MAX_BATCH_RECIPIENTS} recipients; this list has {}.",
                recipients.len()
            ));
        }
        Ok(ValidNewBatch {
            organization_id,
            batch_name,
            subject,
            template,
            priority,
            recipients,
        })
    }
}

#[cfg(test)]
mod batch_tests {
    use super::*;

    fn form(recipients: &str) -> NewBatchForm {
        NewBatchForm {
            batch_name: "December statements".into(),
            subject: "Your statement".into(),
            template: "statement_ready".into(),
            recipients: recipients.into(),
            ..Default::default()
        }
    }

    #[test]
    fn oversized_lists_are_refused_while_they_are_read() {
        let long_name = format!("email,{}\n", "x".repeat(20_000));
        let error = form(&format!("{long_name}a@b.example,1\n"))
            .validate()
            .unwrap_err();
        assert!(error.contains("longer than 1000 characters"), "{error}");

        let wide = format!("email{}\n", ",c".repeat(60));
        let error = form(&wide).validate().unwrap_err();
        assert!(error.contains("more than 50 fields"), "{error}");

        let mut many = String::from("email\n");
        for i in 0..=MAX_BATCH_RECIPIENTS {
            many.push_str(&format!("r{i}@bank.example\n"));
        }
        let error = form(&many).validate().unwrap_err();
        assert!(error.starts_with("More than 10001 lines."), "{error}");

        let error = form(&format!("email,{}\na@b.example,1\n", "n".repeat(65)))
            .validate()
            .unwrap_err();
        assert!(
            error.starts_with("Column names are at most 64 characters"),
            "{error}"
        );
    }

    #[test]
    fn long_derived_names_are_cut_with_an_ellipsis() {
        assert_eq!(truncated("short", 10), "short");
        let cut = truncated(&"x".repeat(300), 255);
        assert_eq!(cut.chars().count(), 255);
        assert!(cut.ends_with('…'));
    }

    #[test]
    fn one_recipient_per_row_with_every_column_as_a_variable() {
        let batch =
            form("Email,Name,Account\nada@bank.example,Ada,123\nbo@bank.example,\"Bo, Jr\",456\n")
                .validate()
                .unwrap();
        assert_eq!(batch.recipients.len(), 2);
        assert_eq!(batch.recipients[1].email, "bo@bank.example");
        assert_eq!(batch.recipients[1].variables["name"], "Bo, Jr");
        assert_eq!(batch.recipients[0].variables["account"], "123");
    }

    #[test]
    fn problems_name_the_row() {
        for (csv, expected) in [
            ("name\nAda", "\"email\" column"),
            ("email,name\nada@bank.example", "Row 2 has 1 fields"),
            ("email\nada@bank.example\nnot-an-address", "Row 3"),
            ("email\n", "no recipients"),
            ("", "Paste the recipients"),
        ] {
            let error = form(csv).validate().unwrap_err();
            assert!(error.contains(expected), "{csv:?}: {error}");
        }
        let mut bad = form("email\na@b.example");
        bad.template = "../etc".into();
        assert!(bad.validate().unwrap_err().contains("template"));
    }

    #[test]
    fn plausible_emails() {
        assert!(plausible_email("a.b@bank.example"));
        for bad in [
            "",
            "a",
            "a@b",
            "@b.example",
            "a@@b.example",
            "a b@c.example",
            "a@.example",
        ] {
            assert!(!plausible_email(bad), "{bad}");
        }
    }
}
