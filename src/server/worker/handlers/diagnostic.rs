//! `other` jobs: a diagnostic job that proves the pipeline end to end. It
//! waits the payload's optional `delay_ms` (at most one minute, cancellable)
//! and completes with the payload echoed, so operators can check that workers
//! claim and finish jobs of a queue without touching any data. With
//! `fail_with` it fails for good with that message instead, so they can check
//! that failures are recorded and alerted.

use super::{Handler, HandlerFuture, JobContext};
use crate::domain::{truncated, JobErrorKind};
use crate::server::queue::{JobError, Outcome};
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

/// Most a diagnostic job waits.
pub const MAX_DELAY_MS: u64 = 60_000;

/// The diagnostic handler.
pub struct DiagnosticHandler;

#[derive(Debug, Default, Deserialize)]
struct DiagnosticPayload {
    #[serde(default)]
    delay_ms: Option<u64>,
    #[serde(default)]
    fail_with: Option<String>,
}

impl Handler for DiagnosticHandler {
    fn run(&self, ctx: Arc<JobContext>) -> HandlerFuture {
        Box::pin(async move {
            // Any JSON is a valid diagnostic payload; only delay_ms is read.
            let payload: DiagnosticPayload =
                serde_json::from_value(ctx.job.payload.clone()).unwrap_or_default();
            let delay = payload.delay_ms.unwrap_or(0).min(MAX_DELAY_MS);
            if delay > 0 {
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(delay)) => {},
                    _ = ctx.cancel.cancelled() => {
                        return Outcome::Cancel("Cancelled while waiting.".into());
                    }
                }
            }
            if let Some(message) = payload.fail_with {
                return Outcome::Fail(JobError::new(
                    JobErrorKind::Handler,
                    format!("Diagnostic failure: {}", truncated(&message, 500)),
                ));
            }
            Outcome::Completed(Some(json!({
                "echo": ctx.job.payload,
                "waited_ms": delay,
                "attempt": ctx.job.attempts,
            })))
        })
    }
}
