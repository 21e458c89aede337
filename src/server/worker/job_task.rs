//! One claimed job's task: wait for a slot, run the handler under its
//! timeout and stop signal, and record the outcome (successes through the
//! completer, everything else at once). Every log line of the attempt
//! carries the job's span: id, type, organization, attempt and worker.

use super::handlers::JobContext;
use super::held::{StopReason, StopSignal};
use super::queues::{InFlight, QueueRunner};
use super::runtime::Shared;
use crate::domain::JobErrorKind;
use crate::server::queue::{self, Attempt, ClaimedJob, Completion, JobError, Outcome, Transition};
use chrono::{DateTime, Utc};
use futures_util::FutureExt;
use rand::Rng;
use std::any::Any;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;
use tracing::Instrument;

/// Runs one claimed job inside its span.
pub(super) async fn run_job(
    shared: Arc<Shared>,
    runner: Arc<QueueRunner>,
    job: ClaimedJob,
    signal: StopSignal,
) {
    let span = tracing::info_span!(
        "job",
        job_id = %job.id,
        job_type = %job.job_type,
        organization_id = %job.organization_id,
        attempt = job.attempts,
        worker = %shared.config.worker_id,
    );
    attempt(shared, runner, job, signal).instrument(span).await
}

async fn attempt(
    shared: Arc<Shared>,
    runner: Arc<QueueRunner>,
    job: ClaimedJob,
    signal: StopSignal,
) {
    let _in_flight = InFlight(&runner);
    let slot = tokio::select! {
        biased;
        _ = shared.stop.cancelled() => return, // never started: released at shutdown
        _ = signal.token().cancelled() => None,
        slot = runner.slots().acquire_owned() => slot.ok(),
    };
    // The handler's context owns the job (no copy of its payload); the
    // attempt reads it from there.
    let ctx = Arc::new(JobContext {
        job,
        db: shared.db.clone(),
        cancel: signal.token().clone(),
    });
    let job = &ctx.job;
    let started_at = Utc::now();
    let outcome = if slot.is_none() {
        stopped_outcome(signal.reason())
    } else {
        run_handler(&shared, &ctx, &signal).await
    };
    drop(slot);
    let Some(outcome) = outcome else {
        // Lease lost (the rescuer took the job and its lease row) or worker
        // abandoning (shutdown returns the job and drops the row).
        if signal.reason() == Some(StopReason::LeaseLost) {
            shared.lease_book().end(job.lease_token, true);
        }
        return;
    };
    let finished_at = Utc::now();
    if let Outcome::Completed(result) = outcome {
        shared.held.release(job.id);
        let _ = shared
            .completions
            .send(Completion::of(job, started_at, finished_at, result));
        return;
    }
    let attempt = Attempt {
        number: job.attempts,
        max_attempts: job.max_attempts,
        started_at,
        finished_at,
    };
    let unit: f64 = rand::thread_rng().gen();
    let transition = Transition::decide(&outcome, attempt, &shared.config.retry, unit)
        .expect("non-success outcomes have a transition");
    let written = write_transition(&shared, job, started_at, &transition).await;
    shared.held.release(job.id);
    shared.lease_book().end(job.lease_token, written);
}

/// Runs the handler under its timeout and stop signal; `None` means the job
/// must be left alone (lease lost, or the worker is abandoning it).
async fn run_handler(
    shared: &Shared,
    ctx: &Arc<JobContext>,
    signal: &StopSignal,
) -> Option<Outcome> {
    let job = &ctx.job;
    let Some(handler) = shared.registry.get(job.job_type) else {
        return Some(Outcome::Fail(JobError::new(
            JobErrorKind::NoHandler,
            format!("No handler is configured for {} jobs.", job.job_type),
        )));
    };
    let timeout = Duration::from_secs(job.timeout_seconds.max(1) as u64);
    // The handler runs inside this task, in the job's span, and a panic is
    // caught where it is polled so that it becomes a failed attempt. (Its own
    // task would cost a second spawn per job; dropping the future on a
    // timeout or stop ends it as an abort would.)
    let ctx = ctx.clone();
    let run = AssertUnwindSafe(async move { handler.run(ctx).await }).catch_unwind();
    tokio::select! {
        result = tokio::time::timeout(timeout, run) => match result {
            Ok(Ok(outcome)) => Some(outcome),
            Ok(Err(panic)) => Some(Outcome::Retry(JobError::new(
                JobErrorKind::Panic,
                format!("The {} handler crashed: {}", job.job_type, panic_message(panic)),
            ))),
            Err(_) => Some(Outcome::Retry(JobError::new(
                JobErrorKind::Timeout,
                format!("The attempt did not finish within {} s.", job.timeout_seconds),
            ))),
        },
        _ = signal.token().cancelled() => stopped_outcome(signal.reason()),
    }
}

/// What a fired stop signal means for the job: a requested cancel ends the
/// attempt as cancelled; anything else leaves the job alone.
pub(super) fn stopped_outcome(reason: Option<StopReason>) -> Option<Outcome> {
    match reason {
        Some(StopReason::Requested) => Some(Outcome::Cancel(
            "Cancelled on request while running.".into(),
        )),
        Some(StopReason::LeaseLost) | None => None,
    }
}

/// The text a panic was raised with.
fn panic_message(panic: Box<dyn Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".into())
}

/// Writes a non-success outcome, retrying briefly on connection trouble (the
/// lease rescues the job if we never manage to). False when it gave up.
async fn write_transition(
    shared: &Shared,
    job: &ClaimedJob,
    started_at: DateTime<Utc>,
    transition: &Transition,
) -> bool {
    for attempt in 0..5u32 {
        let result = async {
            let mut conn = shared.db.worker.acquire().await?;
            let held = queue::HeldJob {
                id: job.id,
                lease_token: job.lease_token,
                organization_id: job.organization_id,
                batch_id: job.batch_id,
            };
            queue::finish(&mut conn, held, started_at, transition).await
        }
        .await;
        match result {
            Ok(true) => return true,
            Ok(false) => {
                tracing::warn!("lease lost before the outcome was written");
                return true;
            }
            Err(error) => {
                tracing::warn!(error = %crate::server::db::loggable(&error), "could not write the outcome; retrying");
                tokio::time::sleep(Duration::from_millis(200 << attempt)).await;
            }
        }
    }
    tracing::error!("outcome not written; its lease will expire and the job run again");
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_requested_stop_cancels_the_job() {
        assert!(matches!(
            stopped_outcome(Some(StopReason::Requested)),
            Some(Outcome::Cancel(_))
        ));
        assert!(stopped_outcome(Some(StopReason::LeaseLost)).is_none());
        assert!(stopped_outcome(None).is_none(), "abandoned at shutdown");
    }

    #[tokio::test]
    async fn a_panic_is_reported_by_its_message() {
        let step = 3;
        let caught = AssertUnwindSafe(async move { panic!("boom at step {step}") })
            .catch_unwind()
            .await;
        assert_eq!(panic_message(caught.unwrap_err()), "boom at step 3");
    }
}
