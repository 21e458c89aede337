//! The completer: writes successful outcomes in batches, whatever is waiting
//! (up to the batch size) in one statement, then tells the lease book. Up to
//! `writers` statements are in flight at once, so a backlog is written on
//! as many of PostgreSQL's cores (a lone writer left a drain's last tens of
//! thousands of completions to one backend while the other cores idled). A
//! batch the database refuses is written one completion at a time, so one
//! bad result costs only its own job.

use super::lease_book::LeaseBook;
use super::listening::CompletionListeners;
use crate::domain::JobErrorKind;
use crate::server::db::{loggable, Database};
use crate::server::live::Change;
use crate::server::queue::{
    self, Attempt, Completion, CompletionNotice, HeldJob, JobError, JobEvents, Outcome,
    RetryPolicy, Transition,
};
use futures_util::FutureExt;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

/// Runs until every sender of `rx` is gone, the channel is drained and every
/// write has ended.
pub(super) async fn run_completer(
    db: Database,
    leases: Arc<Mutex<LeaseBook>>,
    listeners: Arc<CompletionListeners>,
    batch_size: usize,
    writers: usize,
    announcements: mpsc::UnboundedSender<Vec<Change>>,
    mut rx: mpsc::UnboundedReceiver<Completion>,
) {
    let batch_size = batch_size.max(1);
    let writers = writers.max(1);
    let mut writing = JoinSet::new();
    loop {
        // A batch is gathered only once a writer is free, so it holds
        // everything that arrived meanwhile.
        while writing.len() >= writers {
            writing.join_next().await;
        }
        let Some(first) = rx.recv().await else {
            break;
        };
        let mut batch = Vec::with_capacity(batch_size);
        batch.push(first);
        fill_batch(&mut rx, &mut batch, batch_size);
        gather(&mut rx, &mut batch, batch_size, GATHER_WINDOW).await;
        writing.spawn(write_batch(
            db.clone(),
            leases.clone(),
            listeners.clone(),
            announcements.clone(),
            batch,
        ));
        while writing.try_join_next().is_some() {}
    }
    while writing.join_next().await.is_some() {}
}

/// Writes one batch, tells the lease book which jobs were written and the
/// announcer what viewers should learn of them. A write that panicked
/// counts as not written: its claims' leases are no longer renewed, so they
/// expire and the rescuer returns those jobs.
async fn write_batch(
    db: Database,
    leases: Arc<Mutex<LeaseBook>>,
    listeners: Arc<CompletionListeners>,
    announcements: mpsc::UnboundedSender<Vec<Change>>,
    batch: Vec<Completion>,
) {
    let events = listeners.events_for(batch.iter().map(|c| c.organization_id));
    let written = AssertUnwindSafe(write_completions(&db, &batch, events))
        .catch_unwind()
        .await
        .unwrap_or_else(|_| {
            tracing::error!(count = batch.len(), "a completion write panicked");
            vec![false; batch.len()]
        });
    let changes: Vec<Change> = batch
        .iter()
        .zip(&written)
        .filter(|(_, &written)| written)
        .flat_map(|(c, _)| c.live_changes())
        .collect();
    {
        let mut book = leases.lock().expect("lease book lock");
        for (completion, written) in batch.iter().zip(written) {
            book.end(completion.lease_token, written);
        }
    }
    if !changes.is_empty() {
        let _ = announcements.send(changes);
    }
}

/// How long a batch smaller than the batch size waits for more completions.
/// Under a light load each completion was a statement of its own, with its
/// statistics rows and its commit: at a few hundred jobs a second, more of
/// PostgreSQL's time than the claims that start jobs. Nothing waits for a
/// completion's write but viewers and the statistics.
const GATHER_WINDOW: Duration = Duration::from_millis(5);

/// Adds completions arriving within `window` to `batch`, up to
/// `batch_size`; returns early once the batch is full or every sender is
/// gone.
async fn gather<T>(
    rx: &mut mpsc::UnboundedReceiver<T>,
    batch: &mut Vec<T>,
    batch_size: usize,
    window: Duration,
) {
    let deadline = tokio::time::Instant::now() + window;
    while batch.len() < batch_size {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(next)) => {
                batch.push(next);
                fill_batch(rx, batch, batch_size);
            }
            Ok(None) | Err(_) => return,
        }
    }
}

/// Adds what is already waiting to `batch`, up to `batch_size`, without
/// waiting for more.
fn fill_batch<T>(rx: &mut mpsc::UnboundedReceiver<T>, batch: &mut Vec<T>, batch_size: usize) {
    while batch.len() < batch_size {
        match rx.try_recv() {
            Ok(next) => batch.push(next),
            Err(_) => break,
        }
    }
}

/// Writes one batch of completions with one statement, retrying briefly on
/// connection trouble. When the statement is refused (one result PostgreSQL
/// cannot store, say), each completion is written on its own, so only the
/// jobs whose write failed pay for it. Returns, per completion, whether its
/// final write happened (a job whose write did not is left to its lease's
/// expiry and runs again).
async fn write_completions(db: &Database, batch: &[Completion], events: JobEvents) -> Vec<bool> {
    for attempt in 0..3u32 {
        match complete(db, batch, events).await {
            Ok(()) => return vec![true; batch.len()],
            Err(error) if is_data_error(&error) => break,
            Err(error) => {
                tracing::warn!(error = %loggable(&error), "could not write completions; retrying");
                tokio::time::sleep(Duration::from_millis(200 << attempt)).await;
            }
        }
    }
    tracing::warn!(
        count = batch.len(),
        "writing the batch of completions failed; writing them one by one"
    );
    let mut written = Vec::with_capacity(batch.len());
    for completion in batch {
        written.push(write_one(db, completion, events).await);
    }
    written
}

/// Writes one completion; a result the database refuses fails the job with a
/// clear reason instead of running it again.
async fn write_one(db: &Database, completion: &Completion, events: JobEvents) -> bool {
    match complete(db, std::slice::from_ref(completion), events).await {
        Ok(()) => true,
        Err(error) if is_data_error(&error) => {
            tracing::warn!(job = %completion.id, error = %loggable(&error), "a job's result could not be stored");
            let failure = Outcome::Fail(JobError::new(
                JobErrorKind::InvalidPayload,
                "The job finished, but its result could not be stored (it holds a value the database refuses, such as a NUL character).",
            ));
            let attempt = Attempt {
                number: completion.attempt,
                max_attempts: completion.attempt,
                started_at: completion.started_at,
                finished_at: completion.finished_at,
            };
            let transition = Transition::decide(&failure, attempt, &RetryPolicy::default(), 0.5)
                .expect("a failure is a transition");
            let written = async {
                let mut conn = db.worker.acquire().await?;
                queue::finish(
                    &mut conn,
                    HeldJob {
                        id: completion.id,
                        lease_token: completion.lease_token,
                        organization_id: completion.organization_id,
                        batch_id: completion.batch_id,
                    },
                    completion.started_at,
                    &transition,
                )
                .await
            }
            .await;
            written.is_ok()
        }
        Err(error) => {
            tracing::error!(job = %completion.id, error = %loggable(&error), "completion not written; its lease will expire and the job run again");
            false
        }
    }
}

/// One completion statement on an engine connection. An answer that never
/// comes is given up after the session's statement timeout and a margin,
/// and its connection closed: a backend left behind by a crashed
/// postmaster can wait forever without its timeout firing, and a write that
/// never ends would keep its jobs' leases renewed (and the jobs running)
/// for as long as the worker lives.
async fn complete(
    db: &Database,
    batch: &[Completion],
    events: JobEvents,
) -> Result<(), sqlx::Error> {
    let mut conn = db.worker.acquire().await?;
    let limit = db.limits.statement_timeout + ANSWER_MARGIN;
    let write = queue::complete_many_with(&mut conn, batch, events, CompletionNotice::Caller);
    let written = match tokio::time::timeout(limit, write).await {
        Ok(written) => written?,
        Err(_) => {
            conn.close_on_drop();
            return Err(sqlx::Error::Io(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("no answer to a completion statement within {limit:?}"),
            )));
        }
    };
    if written.len() < batch.len() {
        tracing::warn!(
            lost = batch.len() - written.len(),
            "completions skipped: their leases had expired"
        );
    }
    Ok(())
}

/// How long past the statement timeout a completion statement's answer is
/// waited for.
const ANSWER_MARGIN: Duration = Duration::from_secs(5);

/// Whether PostgreSQL refused the data itself (SQLSTATE class 22), which no
/// retry of the same statement can fix.
fn is_data_error(error: &sqlx::Error) -> bool {
    error
        .as_database_error()
        .and_then(|db| db.code())
        .is_some_and(|code| code.starts_with("22"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_takes_what_waits_up_to_its_size() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        for i in 0..5 {
            tx.send(i).unwrap();
        }
        let mut batch = vec![-1];
        fill_batch(&mut rx, &mut batch, 4);
        assert_eq!(batch, vec![-1, 0, 1, 2]);
        batch.clear();
        fill_batch(&mut rx, &mut batch, 4);
        assert_eq!(batch, vec![3, 4], "does not wait for more");
    }

    #[tokio::test]
    async fn a_small_batch_waits_for_what_arrives_within_the_window() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let late = tx.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            late.send(2).unwrap();
            tokio::time::sleep(Duration::from_millis(600)).await;
            let _ = late.send(3);
        });
        let mut batch = vec![1];
        let started = std::time::Instant::now();
        gather(&mut rx, &mut batch, 10, Duration::from_millis(200)).await;
        assert_eq!(batch, vec![1, 2], "the one after the window waits");
        assert!(started.elapsed() >= Duration::from_millis(200));
        drop(tx);
    }

    #[tokio::test]
    async fn a_full_batch_does_not_wait() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        for i in 0..3 {
            tx.send(i).unwrap();
        }
        let mut batch = vec![-1];
        let started = std::time::Instant::now();
        gather(&mut rx, &mut batch, 3, Duration::from_secs(5)).await;
        assert_eq!(batch, vec![-1, 0, 1]);
        assert!(started.elapsed() < Duration::from_secs(1));
    }
}
