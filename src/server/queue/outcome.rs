//! What a handler reports, and what that means for the job's row.

use super::retry::RetryPolicy;
use crate::domain::{AttemptOutcome, AttemptRecord, JobErrorKind, JobStatus};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use std::time::Duration;

/// How one attempt ended.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Done; the optional result is stored on the job.
    Completed(Option<Value>),
    /// Failed, worth another attempt (if any are left).
    Retry(JobError),
    /// Failed for good: no further attempts.
    Fail(JobError),
    /// Not now: run again after the delay without spending an attempt.
    Snooze(Duration),
    /// Stop: the job is cancelled (by the handler, or on request).
    Cancel(String),
}

/// An attempt's error: a message for people, the cause chain and, where the
/// handler has one, a trace.
#[derive(Debug, Clone, PartialEq)]
pub struct JobError {
    /// What kind of trouble it was.
    pub kind: JobErrorKind,
    /// What went wrong, in a sentence.
    pub message: String,
    /// Underlying causes, outermost first.
    pub causes: Vec<String>,
    /// Stack or step trace, when the handler knows one.
    pub stack_trace: Option<String>,
}

impl JobError {
    /// An error of `kind` with `message` and no causes.
    pub fn new(kind: JobErrorKind, message: impl Into<String>) -> Self {
        JobError {
            kind,
            message: message.into(),
            causes: Vec::new(),
            stack_trace: None,
        }
    }

    /// The error with the source chain of `error` as its causes.
    pub fn caused_by(mut self, error: &(dyn std::error::Error + 'static)) -> Self {
        let mut current = Some(error);
        while let Some(cause) = current {
            self.causes.push(cause.to_string());
            current = cause.source();
        }
        self
    }

    /// The `error_details` object stored on the job (and copied to
    /// `failed_jobs`, whose `stack_trace` comes from its `stack_trace` key).
    pub fn details(&self, attempt: i32) -> Value {
        let trace = self.stack_trace.clone().unwrap_or_else(|| {
            std::iter::once(format!("{}: {}", self.kind, self.message))
                .chain(self.causes.iter().map(|c| format!("caused by: {c}")))
                .collect::<Vec<_>>()
                .join("\n")
        });
        json!({
            "kind": self.kind,
            "attempt": attempt,
            "causes": self.causes,
            "stack_trace": trace,
        })
    }
}

/// The row change one non-success outcome makes.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    /// New status: pending (retry/snooze), failed or cancelled.
    pub status: JobStatus,
    /// When a pending job may run again.
    pub available_at: Option<DateTime<Utc>>,
    /// Give the attempt back (snooze, shutdown).
    pub refund_attempt: bool,
    /// `error_message` (None clears it).
    pub error_message: Option<String>,
    /// `error_details`.
    pub error_details: Option<Value>,
    /// Appended to `attempt_log`.
    pub log_entry: AttemptRecord,
}

/// The attempt being finished.
#[derive(Debug, Clone, Copy)]
pub struct Attempt {
    /// Its number (1-based).
    pub number: i32,
    /// Attempts the job may use.
    pub max_attempts: i32,
    /// When the handler started.
    pub started_at: DateTime<Utc>,
    /// When it ended.
    pub finished_at: DateTime<Utc>,
}

impl Transition {
    /// Decides the row change for a non-success outcome; `None` for
    /// `Completed`, which takes the batched path. `unit` (0..1) is the jitter.
    pub fn decide(
        outcome: &Outcome,
        attempt: Attempt,
        policy: &RetryPolicy,
        unit: f64,
    ) -> Option<Transition> {
        let log = |outcome: AttemptOutcome, error: Option<&JobError>| AttemptRecord {
            attempt: attempt.number,
            started_at: Some(attempt.started_at),
            finished_at: attempt.finished_at,
            outcome,
            error: error.map(|e| e.message.clone()),
            kind: error.map(|e| e.kind),
        };
        let failed = |error: &JobError, outcome: AttemptOutcome| Transition {
            status: JobStatus::Failed,
            available_at: None,
            refund_attempt: false,
            error_message: Some(error.message.clone()),
            error_details: Some(error.details(attempt.number)),
            log_entry: log(outcome, Some(error)),
        };
        match outcome {
            Outcome::Completed(_) => None,
            Outcome::Retry(error) if attempt.number >= attempt.max_attempts => {
                Some(failed(error, AttemptOutcome::Failed))
            }
            Outcome::Retry(error) => {
                let delay = policy.delay(attempt.number, unit);
                Some(Transition {
                    status: JobStatus::Pending,
                    available_at: Some(attempt.finished_at + to_chrono(delay)),
                    refund_attempt: false,
                    error_message: Some(error.message.clone()),
                    error_details: Some(error.details(attempt.number)),
                    log_entry: log(AttemptOutcome::Retry, Some(error)),
                })
            }
            Outcome::Fail(error) => Some(failed(error, AttemptOutcome::Failed)),
            Outcome::Snooze(delay) => Some(Transition {
                status: JobStatus::Pending,
                available_at: Some(attempt.finished_at + to_chrono(*delay)),
                refund_attempt: true,
                error_message: None,
                error_details: None,
                log_entry: log(AttemptOutcome::Snoozed, None),
            }),
            Outcome::Cancel(reason) => Some(Transition {
                status: JobStatus::Cancelled,
                available_at: None,
                refund_attempt: false,
                error_message: Some(reason.clone()),
                error_details: None,
                log_entry: log(AttemptOutcome::Cancelled, None),
            }),
        }
    }
}

impl Transition {
    /// How the Overview's statistics count the attempt: `None` for one that
    /// gave its attempt back (a snooze, a shutdown), which ended nothing.
    pub fn counted_outcome(&self) -> Option<&'static str> {
        match self.status {
            JobStatus::Failed => Some("failed"),
            JobStatus::Cancelled => Some("cancelled"),
            JobStatus::Pending if !self.refund_attempt => Some("retried"),
            _ => None,
        }
    }
}

fn to_chrono(duration: Duration) -> chrono::Duration {
    chrono::Duration::from_std(duration).unwrap_or(chrono::Duration::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attempt(number: i32, max_attempts: i32) -> Attempt {
        let now = Utc::now();
        Attempt {
            number,
            max_attempts,
            started_at: now,
            finished_at: now,
        }
    }

    #[test]
    fn retry_with_attempts_left_goes_back_to_pending_later() {
        let a = attempt(1, 3);
        let t = Transition::decide(
            &Outcome::Retry(JobError::new(JobErrorKind::Handler, "disk full")),
            a,
            &RetryPolicy::default(),
            0.0,
        )
        .unwrap();
        assert_eq!(t.status, JobStatus::Pending);
        assert!(t.available_at.unwrap() > a.finished_at);
        assert!(!t.refund_attempt);
        assert_eq!(t.error_message.as_deref(), Some("disk full"));
        assert_eq!(t.log_entry.outcome, AttemptOutcome::Retry);
    }

    #[test]
    fn retry_on_the_last_attempt_fails_the_job() {
        let t = Transition::decide(
            &Outcome::Retry(JobError::new(JobErrorKind::Handler, "disk full")),
            attempt(3, 3),
            &RetryPolicy::default(),
            0.5,
        )
        .unwrap();
        assert_eq!(t.status, JobStatus::Failed);
        assert_eq!(t.error_details.unwrap()["attempt"], 3);
    }

    #[test]
    fn permanent_failure_ignores_attempts_left() {
        let t = Transition::decide(
            &Outcome::Fail(JobError::new(JobErrorKind::InvalidPayload, "no file_id")),
            attempt(1, 5),
            &RetryPolicy::default(),
            0.5,
        )
        .unwrap();
        assert_eq!(t.status, JobStatus::Failed);
    }

    #[test]
    fn statistics_count_what_an_attempt_ended_and_not_a_snooze() {
        let decide = |outcome: Outcome, number: i32| {
            Transition::decide(&outcome, attempt(number, 3), &RetryPolicy::default(), 0.5)
                .unwrap()
                .counted_outcome()
        };
        let error = || JobError::new(JobErrorKind::Handler, "disk full");
        assert_eq!(decide(Outcome::Retry(error()), 1), Some("retried"));
        assert_eq!(decide(Outcome::Retry(error()), 3), Some("failed"));
        assert_eq!(decide(Outcome::Fail(error()), 1), Some("failed"));
        assert_eq!(decide(Outcome::Cancel("stop".into()), 1), Some("cancelled"));
        assert_eq!(decide(Outcome::Snooze(Duration::from_secs(5)), 1), None);
    }

    #[test]
    fn snooze_refunds_the_attempt() {
        let a = attempt(2, 3);
        let t = Transition::decide(
            &Outcome::Snooze(Duration::from_secs(30)),
            a,
            &RetryPolicy::default(),
            0.5,
        )
        .unwrap();
        assert_eq!(t.status, JobStatus::Pending);
        assert!(t.refund_attempt);
        assert_eq!(
            t.available_at.unwrap(),
            a.finished_at + chrono::Duration::seconds(30)
        );
    }

    #[test]
    fn completion_is_not_a_transition() {
        assert!(Transition::decide(
            &Outcome::Completed(None),
            attempt(1, 1),
            &RetryPolicy::default(),
            0.5
        )
        .is_none());
    }

    #[test]
    fn details_carry_the_cause_chain_as_a_trace() {
        let io = std::io::Error::other("connection reset");
        let error = JobError::new(JobErrorKind::Handler, "upload failed").caused_by(&io);
        let details = error.details(2);
        assert_eq!(details["causes"][0], "connection reset");
        let trace = details["stack_trace"].as_str().unwrap();
        assert!(
            trace.contains("handler: upload failed")
                && trace.contains("caused by: connection reset")
        );
    }
}
