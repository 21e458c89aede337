//! The announcer: tells live viewers which jobs this worker's claims started
//! and its completer wrote, gathered over a short window into one NOTIFY
//! transaction.
//!
//! A claim's own statement cannot carry the announcement (its jobs are still
//! being handed to their tasks), and a transaction per claim cost a round
//! trip and a commit for each one-job claim of a lightly loaded queue: on the
//! path of the next claim. A completion statement could carry its own, but
//! each NOTIFY transaction queues for PostgreSQL's notification lock with
//! the enqueues (see `queue::CompletionNotice`). Viewers' hubs coalesce for
//! longer than this window, so gathering costs them nothing they would see.

use crate::server::db::{loggable, Database};
use crate::server::live::{feed, Change};
use std::time::Duration;
use tokio::sync::mpsc;

/// How long the announcer gathers after the first change of a round.
pub(super) const GATHER_WINDOW: Duration = Duration::from_millis(100);

/// Runs until every sender of `rx` is gone and what they sent is announced.
pub(super) async fn run_announcer(db: Database, mut rx: mpsc::UnboundedReceiver<Vec<Change>>) {
    while let Some(first) = rx.recv().await {
        let mut changes = first;
        let deadline = tokio::time::Instant::now() + GATHER_WINDOW;
        // gather until the window closes or every sender is gone
        while let Ok(Some(more)) = tokio::time::timeout_at(deadline, rx.recv()).await {
            changes.extend(more);
        }
        let announced = async {
            let mut conn = db.worker.acquire().await?;
            feed::announce_committed(&mut conn, changes).await
        }
        .await;
        if let Err(error) = announced {
            // viewers miss a change until the job's next one
            tracing::warn!(error = %loggable(&error), "could not announce claimed and completed jobs");
        }
    }
}
