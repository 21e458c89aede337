//! Webhooks: the event catalogue (each event type's meaning and JSON
//! shape) and the webhook form with its rules.

use super::WebhookEvent;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use uuid::Uuid;

/// What an event type means and an example of its `data`.
pub fn describe(event: WebhookEvent) -> (&'static str, Value) {
    let case = |status: &str| {
        json!({ "case_id": "CASE-41007", "status": status, "applicant": "Amara Okafor",
                "updated_by": "caseworker@bank.example" })
    };
    match event {
        WebhookEvent::CaseCreated => ("A case was opened in the case system.", case("open")),
        WebhookEvent::CaseUpdated => ("A case's details or status changed.", case("in_review")),
        WebhookEvent::CaseApproved => ("A case was approved.", case("approved")),
        WebhookEvent::CaseRejected => ("A case was rejected.", case("rejected")),
        WebhookEvent::CaseClosed => ("A case was closed.", case("closed")),
        WebhookEvent::DocumentUploaded => (
            "A document was added to a case.",
            json!({ "case_id": "CASE-41007", "document_id": "DOC-88", "file_name": "statement.pdf" }),
        ),
        WebhookEvent::DocumentVerified => (
            "A case's document was verified.",
            json!({ "case_id": "CASE-41007", "document_id": "DOC-88", "verified_by": "kyc-bot" }),
        ),
        WebhookEvent::JobCompleted => (
            "A job finished successfully.",
            json!({ "job_id": "0190f5c2-7a1e-7d33-9c1a-2f6f0b1d9e10", "job_type": "email",
                    "job_name": "Loan offer email", "attempts": 1, "batch_id": null }),
        ),
        WebhookEvent::JobFailed => (
            "A job failed for good (no attempt left, or a permanent error).",
            json!({ "job_id": "0190f5c2-7a1e-7d33-9c1a-2f6f0b1d9e10", "job_type": "sms",
                    "job_name": "OTP SMS", "attempts": 3, "batch_id": null,
                    "error": "sms_api answered HTTP 400: invalid number" }),
        ),
        WebhookEvent::BatchCompleted => (
            "Every job of a batch ended and none failed (raised again if it ends again after a retry).",
            json!({ "batch_id": "0190f5c2-7a1e-7d33-9c1a-2f6f0b1d9e11", "batch_name": "November newsletter",
                    "total_jobs": 1000, "processed_jobs": 1000, "failed_jobs": 0, "cancelled_jobs": 0 }),
        ),
        WebhookEvent::BatchFailed => (
            "Every job of a batch ended and some failed.",
            json!({ "batch_id": "0190f5c2-7a1e-7d33-9c1a-2f6f0b1d9e11", "batch_name": "November newsletter",
                    "total_jobs": 1000, "processed_jobs": 990, "failed_jobs": 10, "cancelled_jobs": 0 }),
        ),
        WebhookEvent::FailedJobResolved => (
            "Someone resolved a failed job with a note (`resolved_by`: their user id).",
            json!({ "job_id": "0190f5c2-7a1e-7d33-9c1a-2f6f0b1d9e10", "resolution": "Customer called back",
                    "resolved_by": "0190f5c2-7a1e-7d33-9c1a-2f6f0b1d9e12" }),
        ),
        WebhookEvent::WebhookTest => (
            "A test sent from the console to check the endpoint.",
            json!({ "message": "This is a test event from Veriphy Jobs." }),
        ),
    }
}

/// The host of the sandbox receiver. A webhook to
/// `https://webhook-sandbox.invalid/…` is delivered to a receiver inside
/// Veriphy Jobs that answers as a real one would — it checks the signature
/// and answers 200, or 500 for the share of deliveries the URL's
/// `?fail=N` asks (0–100) — and is logged like any delivery: for trying
/// webhooks, test environments and the demo. `.invalid` names nothing on
/// any network (RFC 2606), so no real receiver can be meant.
pub const SANDBOX_HOST: &str = "webhook-sandbox.invalid";

/// The sandbox receiver a webhook's URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SandboxReceiver {
    /// The share of deliveries it fails, in percent.
    pub failure_percent: u8,
}

impl SandboxReceiver {
    /// The sandbox receiver `url` names; `Ok(None)` for any other host; an
    /// error when its `fail` is not a whole number from 0 to 100.
    pub fn of_url(url: &str) -> Result<Option<SandboxReceiver>, String> {
        let Some(rest) = url.trim().strip_prefix("https://") else {
            return Ok(None);
        };
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        if !rest[..end].eq_ignore_ascii_case(SANDBOX_HOST) {
            return Ok(None);
        }
        let query = rest[end..]
            .split_once('?')
            .map(|(_, query)| query.split('#').next().unwrap_or(""))
            .unwrap_or("");
        let fail = query
            .split('&')
            .find_map(|pair| pair.strip_prefix("fail="))
            .unwrap_or("0");
        match fail.parse::<u8>() {
            Ok(percent) if percent <= 100 => Ok(Some(SandboxReceiver {
                failure_percent: percent,
            })),
            _ => Err("The sandbox receiver's fail= is a whole number from 0 to 100.".into()),
        }
    }
}

/// Most failed deliveries one replay sends again (the oldest first).
pub const REPLAY_LIMIT: i64 = 1_000;

/// The body every delivery posts: the event's id, type, time and data.
pub fn envelope(
    id: Uuid,
    event: WebhookEvent,
    at: chrono::DateTime<chrono::Utc>,
    data: &Value,
) -> Value {
    json!({
        "id": id,
        "type": event.as_str(),
        "timestamp": at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "data": data,
    })
}

/// One webhook as its page shows it: never its secret or header values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct WebhookDetail {
    /// Its id.
    pub id: Uuid,
    /// Whose.
    pub organization_id: Uuid,
    /// That organization's name.
    pub organization_name: String,
    /// Its name.
    pub webhook_name: String,
    /// Where it posts.
    pub webhook_url: String,
    /// What it receives.
    #[cfg_attr(feature = "ssr", sqlx(try_from = "String"))]
    pub event_type: WebhookEvent,
    /// Active, inactive or error.
    #[cfg_attr(feature = "ssr", sqlx(try_from = "String"))]
    pub status: super::WebhookStatus,
    /// Switched on.
    pub is_active: bool,
    /// The secret's last characters (`••••abcd`), for admins to tell
    /// secrets apart.
    pub secret_hint: Option<String>,
    /// Until when a rotated-out secret still signs beside the new one.
    pub previous_secret_until: Option<chrono::DateTime<chrono::Utc>>,
    /// Custom header names (their values never leave the server).
    #[cfg_attr(feature = "ssr", sqlx(json))]
    pub headers: std::collections::BTreeMap<String, String>,
    /// Seconds per attempt.
    pub timeout: i32,
    /// Attempts after the first.
    pub max_retries: i32,
    /// Failed deliveries in a row before it stops.
    pub disable_after_failures: i32,
    /// Attempts of the current (latest) delivery.
    pub retry_count: i32,
    /// Failed deliveries in a row.
    pub failure_count: i32,
    /// Latest delivery started.
    pub last_triggered_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Latest delivery that succeeded.
    pub last_success_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Latest delivery that failed.
    pub last_failure_at: Option<chrono::DateTime<chrono::Utc>>,
    /// When it was made.
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// Headers a webhook cannot set itself: the transport's and the signature's.
pub const RESERVED_HEADERS: [&str; 7] = [
    "host",
    "content-length",
    "content-type",
    "transfer-encoding",
    "connection",
    "user-agent",
    "webhook-",
];

/// The webhook form, as typed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct WebhookForm {
    /// A bank admin's organization for a new webhook.
    pub organization_id: String,
    /// Its name.
    pub name: String,
    /// Where it posts.
    pub url: String,
    /// The event it receives.
    pub event_type: String,
    /// Seconds per attempt (1–120, empty: 30).
    pub timeout: String,
    /// Attempts after the first (0–20, empty: 3).
    pub max_retries: String,
    /// Failed deliveries in a row before it stops (1–1000, empty: 10).
    pub disable_after_failures: String,
    /// Custom headers, one `Name: value` per line; on an edit, empty keeps
    /// the stored ones.
    pub headers: String,
}

/// A checked webhook form.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidWebhook {
    /// The organization a bank admin chose.
    pub organization_id: Option<Uuid>,
    /// Name, trimmed.
    pub name: String,
    /// URL, trimmed.
    pub url: String,
    /// The event.
    pub event_type: WebhookEvent,
    /// Seconds per attempt.
    pub timeout: i32,
    /// Attempts after the first.
    pub max_retries: i32,
    /// Failed deliveries in a row before it stops.
    pub disable_after_failures: i32,
    /// The custom headers, when typed (`None`: keep the stored ones).
    pub headers: Option<Vec<(String, String)>>,
}

fn bounded(
    text: &str,
    default: i32,
    range: std::ops::RangeInclusive<i32>,
    what: &str,
) -> Result<i32, String> {
    match text.trim() {
        "" => Ok(default),
        text => text
            .parse::<i32>()
            .ok()
            .filter(|n| range.contains(n))
            .ok_or_else(|| {
                format!(
                    "{what} is a whole number from {} to {}.",
                    range.start(),
                    range.end()
                )
            }),
    }
}

impl WebhookForm {
    /// Checks the form; the error says what to change. Whether the URL's
    /// host may be reached is the server's check.
    pub fn validate(&self) -> Result<ValidWebhook, String> {
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > 255 || name.chars().any(char::is_control) {
            return Err("A webhook needs a name of at most 255 characters.".into());
        }
        let url = self.url.trim();
        if url.chars().count() > 500 {
            return Err("The URL is at most 500 characters.".into());
        }
        let rest = url
            .strip_prefix("https://")
            .or_else(|| url.strip_prefix("http://"))
            .ok_or_else(|| "The URL starts with https:// and names a host.".to_string())?;
        let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
        if authority.is_empty() {
            return Err("The URL starts with https:// and names a host.".into());
        }
        if authority.contains('@') {
            return Err(
                "The URL cannot carry a user name or password: use a custom header.".into(),
            );
        }
        if url.contains('#') || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("The URL has no spaces and no #fragment.".into());
        }
        SandboxReceiver::of_url(url)?;
        let event_type = WebhookEvent::parse(self.event_type.trim())
            .ok_or_else(|| format!("Unknown event {:?}.", self.event_type.trim()))?;
        let organization_id = match self.organization_id.trim() {
            "" => None,
            text => Some(Uuid::parse_str(text).map_err(|_| "Unknown organization.".to_string())?),
        };
        let headers = match self.headers.trim() {
            "" => None,
            text => Some(parse_headers(text)?),
        };
        Ok(ValidWebhook {
            organization_id,
            name: name.to_string(),
            url: url.to_string(),
            event_type,
            timeout: bounded(&self.timeout, 30, 1..=120, "The timeout (seconds)")?,
            max_retries: bounded(&self.max_retries, 3, 0..=20, "The number of retries")?,
            disable_after_failures: bounded(
                &self.disable_after_failures,
                10,
                1..=1000,
                "The failed deliveries before it stops",
            )?,
            headers,
        })
    }
}

/// Most custom headers a webhook has.
pub const MAX_HEADERS: usize = 20;

/// Custom headers from `Name: value` lines; refuses reserved names and
/// names or values a request could not carry.
pub fn parse_headers(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| format!("Write each header as \"Name: value\" (not {line:?})."))?;
        let (name, value) = (name.trim(), value.trim());
        if name.is_empty()
            || name.len() > 100
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
        {
            return Err(format!("{name:?} is not a header name."));
        }
        let folded = name.to_ascii_lowercase();
        if RESERVED_HEADERS.iter().any(|reserved| {
            folded == *reserved || (reserved.ends_with('-') && folded.starts_with(reserved))
        }) {
            return Err(format!(
                "{name} is set by Veriphy Jobs itself and cannot be a custom header."
            ));
        }
        if value.is_empty() || value.len() > 1000 || value.chars().any(|c| c.is_control()) {
            return Err(format!(
                "The value of {name} must be 1 to 1000 characters on one line."
            ));
        }
        if headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name)) {
            return Err(format!("{name} is given twice."));
        }
        headers.push((name.to_string(), value.to_string()));
    }
    if headers.len() > MAX_HEADERS {
        return Err(format!("At most {MAX_HEADERS} custom headers."));
    }
    Ok(headers)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form() -> WebhookForm {
        WebhookForm {
            name: "Case system".into(),
            url: "https://hooks.bank.example/veriphy".into(),
            event_type: "case_created".into(),
            ..WebhookForm::default()
        }
    }

    #[test]
    fn defaults_fill_empty_numbers() {
        let valid = form().validate().unwrap();
        assert_eq!(
            (
                valid.timeout,
                valid.max_retries,
                valid.disable_after_failures
            ),
            (30, 3, 10)
        );
        assert_eq!(valid.headers, None);
    }

    #[test]
    fn reserved_headers_are_refused_by_name() {
        for reserved in [
            "Host: x",
            "content-type: text/plain",
            "Webhook-Signature: v1,x",
            "webhook-id: 1",
        ] {
            let mut f = form();
            f.headers = reserved.into();
            let error = f.validate().unwrap_err();
            assert!(
                error.ends_with("is set by Veriphy Jobs itself and cannot be a custom header."),
                "{error}"
            );
        }
    }

    #[test]
    fn custom_headers_are_parsed_one_per_line() {
        let mut f = form();
        f.headers = "Authorization: Bearer abc123\n\nX-Tenant: north".into();
        assert_eq!(
            f.validate().unwrap().headers.unwrap(),
            vec![
                ("Authorization".to_string(), "Bearer abc123".to_string()),
                ("X-Tenant".to_string(), "north".to_string())
            ]
        );
        f.headers = "X-Tenant: a\nx-tenant: b".into();
        assert_eq!(f.validate().unwrap_err(), "x-tenant is given twice.");
    }

    #[test]
    fn a_url_with_credentials_or_another_scheme_is_refused() {
        let mut f = form();
        f.url = "https://user:pw@hooks.bank.example/".into();
        assert_eq!(
            f.validate().unwrap_err(),
            "The URL cannot carry a user name or password: use a custom header."
        );
        f.url = "ftp://hooks.bank.example/".into();
        assert_eq!(
            f.validate().unwrap_err(),
            "The URL starts with https:// and names a host."
        );
    }

    #[test]
    fn the_sandbox_receiver_is_named_by_its_host_and_fails_the_share_its_url_asks() {
        let of = SandboxReceiver::of_url;
        assert_eq!(
            of("https://webhook-sandbox.invalid/case-system"),
            Ok(Some(SandboxReceiver { failure_percent: 0 }))
        );
        assert_eq!(
            of("https://WEBHOOK-SANDBOX.invalid?x=1&fail=25"),
            Ok(Some(SandboxReceiver {
                failure_percent: 25
            }))
        );
        assert_eq!(of("https://hooks.bank.example/?fail=25"), Ok(None));
        assert_eq!(of("https://webhook-sandbox.invalid.example/"), Ok(None));
        assert_eq!(of("http://webhook-sandbox.invalid/"), Ok(None));
    }

    #[test]
    fn a_sandbox_failure_share_outside_0_to_100_is_refused() {
        let mut f = form();
        for url in [
            "https://webhook-sandbox.invalid/?fail=101",
            "https://webhook-sandbox.invalid/?fail=-1",
            "https://webhook-sandbox.invalid/?fail=half",
        ] {
            f.url = url.into();
            assert_eq!(
                f.validate().unwrap_err(),
                "The sandbox receiver's fail= is a whole number from 0 to 100.",
                "{url}"
            );
        }
    }

    #[test]
    fn every_event_has_a_description_and_an_example() {
        for event in WebhookEvent::ALL {
            let (meaning, example) = describe(*event);
            assert!(meaning.ends_with('.'), "{event}");
            assert!(example.is_object(), "{event}");
        }
    }
}
