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
        let payload_text = if self.payload.trim().is_empty() {
            "{}"
        } else {
            self.payload.trim()
        };
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
        if payload_text.len() > 256 * 1024 {
            return Err("The payload is larger than 256 KiB.".into());
        }
        let priority = match self.priority.trim() {
            "" => Priority::Normal,
            text => Priority::parse(text).ok_or_else(|| "Choose a priority.".to_string())?,
        };
        let queue = match self.queue.trim() {
            "" => "default".to_string(),
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

/// Parses `YYYY-MM-DDTHH:MM[:SS]` (UTC, as `datetime-local` sends) or RFC 3339.
fn parse_run_at(text: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Ok(at.with_timezone(&Utc));
    }
    for format in ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"] {
        if let Ok(at) = NaiveDateTime::parse_from_str(text, format) {
            return Ok(at.and_utc());
        }
    }
    Err("Run at must be a date and time like 2026-12-01T09:30 (UTC).".into())
}

#[cfg(test)]
mod tests {
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
        let cases: [(Spoil, &str); 8] = [
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
