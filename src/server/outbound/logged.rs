//! An outbound call with its record in the API call log: the row is written
//! as pending and committed before the request leaves (a call cut short by
//! a crash is still on record), then closed with the outcome. What is
//! stored is redacted and capped ([`redact`](super::redact)).

use super::client::{Outbound, SendError};
use super::redact;
use crate::domain::{ApiCallStatus, HttpMethod};
use crate::server::db::Database;
use crate::server::repo::api_logs::{CallOutcome, Closing, NewCall};
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// Most bytes of an answer read; a larger one fails the call.
pub const MAX_ANSWER_BYTES: usize = 1024 * 1024;

/// Whose call it is and what to note beside it.
#[derive(Debug, Clone)]
pub struct CallRecord {
    /// The organization calling.
    pub organization_id: Uuid,
    /// The integration called through, if any.
    pub integration_id: Option<Uuid>,
    /// What is called, for the log (`twilio_sms`, `whatsapp_cloud`, …).
    pub api_name: String,
    /// The job's attempt (0 outside jobs).
    pub retry_count: i32,
    /// Links to the job and attempt.
    pub metadata: Value,
}

/// One HTTP request to make.
#[derive(Debug, Clone)]
pub struct CallRequest {
    /// How.
    pub method: HttpMethod,
    /// Where.
    pub url: String,
    /// Headers to send (credentials among them are never stored).
    pub headers: Vec<(String, String)>,
    /// The body, if any.
    pub body: Option<CallBody>,
}

/// What a request carries.
#[derive(Debug, Clone, PartialEq)]
pub enum CallBody {
    /// A JSON document.
    Json(Value),
    /// Form fields (`application/x-www-form-urlencoded`), in order.
    Form(Vec<(String, String)>),
}

impl CallBody {
    /// The body as the log shows it: JSON as it is, form fields as an object.
    fn as_logged(&self) -> Value {
        match self {
            CallBody::Json(value) => value.clone(),
            CallBody::Form(fields) => Value::Object(
                fields
                    .iter()
                    .map(|(name, value)| (name.clone(), Value::String(value.clone())))
                    .collect(),
            ),
        }
    }
}

/// A provider's answer.
#[derive(Debug, Clone)]
pub struct CallAnswer {
    /// Its log row.
    pub log_id: Uuid,
    /// HTTP status.
    pub status: u16,
    /// The body as text.
    pub body: String,
    /// The body as it may be quoted (in a job's failure, a log line): any
    /// credential of the request it echoes removed, card numbers masked.
    pub quotable_body: String,
    /// How long the provider asked to wait (`Retry-After` in seconds).
    pub retry_after: Option<Duration>,
}

/// Why a logged call has no usable answer; the row says so too.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The request failed or was refused (its row is closed as failed or
    /// timed out).
    #[error("{error}")]
    Send {
        /// Its log row.
        log_id: Uuid,
        /// What went wrong.
        error: SendError,
    },
    /// The log could not be written: the call was not made, or its outcome
    /// is not on record.
    #[error("The call could not be recorded.")]
    Log(#[from] sqlx::Error),
}

/// What a request looks like in the log: headers and body, redacted and
/// capped.
fn logged_request(request: &CallRequest) -> Value {
    let headers: serde_json::Map<String, Value> = redact::headers(&request.headers)
        .into_iter()
        .map(|(name, value)| (name.to_lowercase(), Value::String(value)))
        .collect();
    let body = request
        .body
        .as_ref()
        .map(|body| redact::json(&body.as_logged()));
    kept(json!({ "headers": headers, "body": body }))
}

/// A stored payload at most [`redact::MAX_KEPT_BODY`] long: the value, or
/// its text cut and marked `truncated`.
fn kept(value: Value) -> Value {
    let text = value.to_string();
    match redact::capped(&text) {
        (_, false) => value,
        (cut, true) => json!({ "truncated": true, "text": cut }),
    }
}

/// An answer's body as stored: JSON redacted, anything else as redacted
/// text; capped either way.
fn logged_answer(status: u16, body: &str) -> Value {
    let body = match serde_json::from_str::<Value>(body) {
        Ok(parsed) => redact::json(&parsed),
        Err(_) => Value::String(redact::card_numbers(body)),
    };
    kept(json!({ "status": status, "body": body }))
}

impl Outbound {
    /// Makes `request` for `record`'s organization within `timeout`, with
    /// its row in the API call log: success for a 2xx answer, failed for
    /// any other answer or error, timeout when none came in time.
    pub async fn call_logged(
        &self,
        db: &Database,
        record: &CallRecord,
        request: &CallRequest,
        timeout: Duration,
        redirects: super::Redirects,
    ) -> Result<CallAnswer, CallError> {
        record_call(
            db,
            record,
            request,
            self.exchange(request, timeout, redirects),
        )
        .await
    }

    /// Sends the request and reads at most [`MAX_ANSWER_BYTES`] of the
    /// answer.
    async fn exchange(
        &self,
        request: &CallRequest,
        timeout: Duration,
        redirects: super::Redirects,
    ) -> Result<(u16, String, Option<Duration>), SendError> {
        let method = reqwest::Method::from_bytes(request.method.as_str().as_bytes())
            .map_err(|_| SendError::Failed("unknown method".into()))?;
        let mut builder = self.request(method, &request.url, redirects)?;
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        builder = match &request.body {
            Some(CallBody::Json(body)) => builder.json(body),
            Some(CallBody::Form(fields)) => builder.form(fields),
            None => builder,
        };
        let mut response = self.send(builder, timeout).await?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let mut body = Vec::new();
        while let Some(chunk) = tokio::time::timeout(timeout, response.chunk())
            .await
            .map_err(|_| SendError::Timeout(timeout))?
            .map_err(|error| SendError::Failed(error.to_string()))?
        {
            if body.len() + chunk.len() > MAX_ANSWER_BYTES {
                return Err(SendError::Failed(format!(
                    "The answer is larger than {} KiB.",
                    MAX_ANSWER_BYTES / 1024
                )));
            }
            body.extend_from_slice(&chunk);
        }
        Ok((
            status,
            String::from_utf8_lossy(&body).into_owned(),
            retry_after,
        ))
    }
}

/// Records a call in the API call log around `exchange` (which makes it, or
/// answers in its place — the sandbox): the pending row committed before,
/// closed with the outcome after.
pub async fn record_call(
    db: &Database,
    record: &CallRecord,
    request: &CallRequest,
    exchange: impl std::future::Future<Output = Result<(u16, String, Option<Duration>), SendError>>,
) -> Result<CallAnswer, CallError> {
    // written with other handlers' calls, on a connection held only for
    // the write (never across the call, which may take its whole timeout)
    let log_id = Uuid::now_v7();
    db.call_log
        .open(NewCall {
            id: log_id,
            organization_id: record.organization_id,
            integration_id: record.integration_id,
            api_name: record.api_name.clone(),
            endpoint: endpoint_of(&request.url),
            method: request.method,
            request_payload: Some(logged_request(request)),
            retry_count: record.retry_count,
            metadata: record.metadata.clone(),
        })
        .await?;
    let credentials = redact::credential_values(&request.headers);
    let started = Instant::now();
    let answer = exchange.await.map(|(status, body, wait)| {
        (
            status,
            body.clone(),
            redact::scrubbed(&body, &credentials),
            wait,
        )
    });
    let elapsed = started.elapsed().as_millis().min(i32::MAX as u128) as i32;
    let outcome = match &answer {
        Ok((status, _, quotable, _)) => CallOutcome {
            status: if (200..300).contains(status) {
                ApiCallStatus::Success
            } else {
                ApiCallStatus::Failed
            },
            status_code: Some(i32::from(*status)),
            response_time_ms: elapsed,
            response_payload: Some(logged_answer(*status, quotable)),
            error_message: (!(200..300).contains(status))
                .then(|| super::outcome::answer_in_words(*status, quotable)),
        },
        Err(error) => CallOutcome {
            status: match error {
                SendError::Timeout(_) => ApiCallStatus::Timeout,
                _ => ApiCallStatus::Failed,
            },
            status_code: None,
            response_time_ms: elapsed,
            response_payload: None,
            error_message: Some(error.to_string()),
        },
    };
    db.call_log
        .close(Closing {
            organization_id: record.organization_id,
            id: log_id,
            outcome,
        })
        .await?;
    match answer {
        Ok((status, body, quotable_body, retry_after)) => Ok(CallAnswer {
            log_id,
            status,
            body,
            quotable_body,
            retry_after,
        }),
        Err(error) => Err(CallError::Send { log_id, error }),
    }
}

/// The URL as logged: without credentials or query string (which may carry
/// keys).
fn endpoint_of(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut parsed) => {
            let _ = parsed.set_username("");
            let _ = parsed.set_password(None);
            parsed.set_query(None);
            parsed.to_string()
        }
        Err(_) => "(not a URL)".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_logged_endpoint_has_no_credentials_or_query() {
        assert_eq!(
            endpoint_of("https://user:pw@api.example.com/v1/send?key=s3cret"),
            "https://api.example.com/v1/send"
        );
    }

    #[test]
    fn a_logged_request_keeps_no_credential() {
        let logged = logged_request(&CallRequest {
            method: HttpMethod::Post,
            url: "https://api.example.com/".into(),
            headers: vec![("Authorization".into(), "Bearer t0k".into())],
            body: Some(CallBody::Json(
                json!({ "to": "+4915112345678", "password": "p" }),
            )),
        });
        assert_eq!(
            logged,
            json!({
                "headers": { "authorization": redact::REDACTED },
                "body": { "to": "+4915112345678", "password": redact::REDACTED },
            })
        );
    }
}
