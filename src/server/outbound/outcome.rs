//! What a provider's answer means for the job that called it: a success
//! lets the handler go on; "busy" answers (429, 503) postpone the job for
//! as long as the provider asked, within bounds, without spending an
//! attempt; other server errors, timeouts and broken connections are worth
//! another attempt; a refusal of the request itself (other 4xx) or of the
//! destination fails the job for good, with the provider's words.

use super::client::SendError;
use super::logged::{CallAnswer, CallError};
use crate::domain::JobErrorKind;
use crate::server::queue::{JobError, Outcome};
use std::time::Duration;

/// The wait when a busy provider names none.
pub const DEFAULT_BUSY_WAIT: Duration = Duration::from_secs(60);
/// The shortest and longest wait a provider may ask for.
pub const BUSY_WAIT_BOUNDS: (Duration, Duration) =
    (Duration::from_secs(1), Duration::from_secs(3600));

/// Most characters of a provider's answer quoted in a failure.
const QUOTED: usize = 300;

/// `None` when the call succeeded (2xx); otherwise how the job ends this
/// attempt.
pub fn of_call(result: &Result<CallAnswer, CallError>, api_name: &str) -> Option<Outcome> {
    match result {
        Ok(answer) if (200..300).contains(&answer.status) => None,
        Ok(answer) if matches!(answer.status, 429 | 503) => {
            let (shortest, longest) = BUSY_WAIT_BOUNDS;
            let wait = answer
                .retry_after
                .unwrap_or(DEFAULT_BUSY_WAIT)
                .clamp(shortest, longest);
            Some(Outcome::Snooze(wait))
        }
        Ok(answer) => {
            let error = JobError::new(
                JobErrorKind::Handler,
                format!(
                    "{api_name} answered HTTP {}: {}",
                    answer.status,
                    quoted(&provider_words(&answer.quotable_body))
                ),
            );
            Some(if answer.status >= 500 {
                Outcome::Retry(error)
            } else {
                Outcome::Fail(error)
            })
        }
        Err(CallError::Send { error, .. }) => Some(match error {
            SendError::Refused(refusal) => Outcome::Fail(JobError::new(
                JobErrorKind::Handler,
                format!("{api_name} cannot be called: {refusal}"),
            )),
            SendError::Timeout(_) => Outcome::Retry(JobError::new(
                JobErrorKind::Timeout,
                format!("{api_name} did not answer in time."),
            )),
            SendError::Failed(cause) => Outcome::Retry(JobError::new(
                JobErrorKind::Handler,
                format!("{api_name} could not be reached: {cause}"),
            )),
        }),
        Err(CallError::Log(_)) => Some(Outcome::Retry(JobError::new(
            JobErrorKind::Database,
            "The call could not be recorded; it will be tried again.",
        ))),
    }
}

/// A provider's answer that is not a success, in words for a person: its
/// status and, when it said anything, what it said (from `quotable_body`,
/// the answer with credentials and card numbers already removed).
pub fn answer_in_words(status: u16, quotable_body: &str) -> String {
    let words = quoted(&provider_words(quotable_body));
    if words.is_empty() || words == "{}" {
        format!("The provider answered HTTP {status}.")
    } else {
        format!("The provider answered HTTP {status}: {words}")
    }
}

/// What a provider said in its answer: the message of a JSON error
/// document (`message`, `error.message`, `error_description`, `detail`,
/// or `error` as text), or the body as it is.
fn provider_words(body: &str) -> String {
    let Ok(document) = serde_json::from_str::<serde_json::Value>(body) else {
        return if body.trim_start().starts_with('<') {
            text_of_markup(body)
        } else {
            body.to_string()
        };
    };
    [
        "/message",
        "/error/message",
        "/error_description",
        "/detail",
        "/error",
    ]
    .iter()
    .find_map(|pointer| document.pointer(pointer).and_then(|v| v.as_str()))
    .map(str::to_string)
    .unwrap_or_else(|| body.to_string())
}

/// The text of an HTML (or XML) answer: its tags and head dropped, so an
/// error page reads as its words.
fn text_of_markup(body: &str) -> String {
    let without_head = match (body.find("<head"), body.find("</head>")) {
        (Some(start), Some(end)) if start < end => {
            format!("{}{}", &body[..start], &body[end + 7..])
        }
        _ => body.to_string(),
    };
    let mut text = String::with_capacity(without_head.len());
    let mut in_tag = false;
    for c in without_head.chars() {
        match c {
            '<' => {
                in_tag = true;
                text.push(' ');
            }
            '>' => in_tag = false,
            _ if !in_tag => text.push(c),
            _ => {}
        }
    }
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The start of an answer's body, on one line.
fn quoted(body: &str) -> String {
    let line = body.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.chars().count() <= QUOTED {
        return line;
    }
    let mut cut: String = line.chars().take(QUOTED - 1).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::outbound::destination::DestinationError;
    use uuid::Uuid;

    fn answer(status: u16, body: &str, retry_after: Option<u64>) -> Result<CallAnswer, CallError> {
        Ok(CallAnswer {
            log_id: Uuid::nil(),
            status,
            body: body.into(),
            quotable_body: body.into(),
            retry_after: retry_after.map(Duration::from_secs),
        })
    }

    fn sent(error: SendError) -> Result<CallAnswer, CallError> {
        Err(CallError::Send {
            log_id: Uuid::nil(),
            error,
        })
    }

    #[test]
    fn a_success_lets_the_handler_go_on() {
        assert!(of_call(&answer(202, "{}", None), "sms").is_none());
    }

    #[test]
    fn a_busy_provider_postpones_for_its_wait_within_bounds() {
        let snooze = |result| match of_call(&result, "sms") {
            Some(Outcome::Snooze(wait)) => wait,
            other => panic!("{other:?}"),
        };
        assert_eq!(snooze(answer(429, "", Some(30))), Duration::from_secs(30));
        assert_eq!(snooze(answer(503, "", None)), DEFAULT_BUSY_WAIT);
        assert_eq!(
            snooze(answer(429, "", Some(86_400))),
            Duration::from_secs(3600)
        );
        assert_eq!(snooze(answer(429, "", Some(0))), Duration::from_secs(1));
    }

    #[test]
    fn server_errors_and_broken_connections_are_retried() {
        assert!(matches!(
            of_call(&answer(502, "gateway", None), "sms"),
            Some(Outcome::Retry(_))
        ));
        assert!(matches!(
            of_call(&sent(SendError::Timeout(Duration::from_secs(5))), "sms"),
            Some(Outcome::Retry(JobError {
                kind: JobErrorKind::Timeout,
                ..
            }))
        ));
        assert!(matches!(
            of_call(&sent(SendError::Failed("reset".into())), "sms"),
            Some(Outcome::Retry(_))
        ));
    }

    #[test]
    fn an_answer_in_words_quotes_the_provider_only_when_it_said_something() {
        assert_eq!(
            answer_in_words(401, "{}"),
            "The provider answered HTTP 401."
        );
        assert_eq!(
            answer_in_words(404, "  "),
            "The provider answered HTTP 404."
        );
        assert_eq!(
            answer_in_words(400, r#"{"message": "Bad 'To'"}"#),
            "The provider answered HTTP 400: Bad 'To'"
        );
    }

    #[test]
    fn the_provider_s_words_are_found_in_its_error_document_or_the_body() {
        assert_eq!(
            provider_words(r#"{"error": {"code": 131026, "message": "Receiver is incapable"}}"#),
            "Receiver is incapable"
        );
        assert_eq!(
            provider_words(r#"{"error": "invalid_grant"}"#),
            "invalid_grant"
        );
        assert_eq!(provider_words(r#"{"status": 9}"#), r#"{"status": 9}"#);
        assert_eq!(provider_words("Bad Request"), "Bad Request");
        assert_eq!(
            provider_words(
                "<!DOCTYPE HTML><html><head><title>Error</title></head><body><h1>Error response</h1><p>Unsupported method</p></body></html>"
            ),
            "Error response Unsupported method"
        );
    }

    #[test]
    fn a_refused_request_fails_for_good_in_the_provider_s_words() {
        let Some(Outcome::Fail(error)) = of_call(
            &answer(
                400,
                "{\"message\": \"The 'To' number\\n is not valid\"}",
                None,
            ),
            "twilio_sms",
        ) else {
            panic!("expected a permanent failure");
        };
        assert_eq!(
            error.message,
            "twilio_sms answered HTTP 400: The 'To' number is not valid"
        );
        assert!(matches!(
            of_call(
                &sent(SendError::Refused(DestinationError::NotHttps)),
                "webhook"
            ),
            Some(Outcome::Fail(_))
        ));
    }
}
