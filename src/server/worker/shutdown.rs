//! Graceful shutdown: stop claiming, let running jobs finish within the
//! grace period, then hand every job still held back to its queue without
//! spending its attempt, and drop the lease rows that may go.

use super::runtime::Worker;
use crate::server::queue;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

impl Worker {
    /// Stops the worker gracefully (see the module's documentation).
    pub async fn shutdown(self) {
        let shared = self.shared;
        shared.stop.cancel();
        shared.claimers.close();
        shared.claimers.wait().await;
        if !finish_within(shared.config.shutdown_grace, &shared.jobs, &shared.abandon).await {
            tracing::warn!("grace period over: unfinished jobs go back to their queues");
        }
        for task in &self.background {
            task.abort();
        }
        let held = shared.held.snapshot();
        let db = shared.db.clone();
        let leases = shared.leases.clone();
        // Every job task and claimer has ended; dropping `shared` drops the
        // last sender of the completer's and the announcer's channels, so
        // each drains its own and ends.
        drop(shared);
        for task in self.background {
            let _ = task.await;
        }
        let _ = self.completer.await;
        let _ = self.announcer.await;
        // The completer has ended: every write that will happen has happened.
        let droppable = leases.lock().expect("lease book lock").drain_droppable();
        if held.is_empty() && droppable.is_empty() {
            tracing::info!("worker stopped");
            return;
        }
        let released = async {
            let mut conn = db.worker.acquire().await?;
            queue::release(&mut conn, &held, &droppable).await
        }
        .await;
        match released {
            Ok(count) => tracing::info!(count, "returned held jobs to their queues"),
            Err(error) => {
                tracing::error!(error = %crate::server::db::loggable(&error), "could not return held jobs")
            }
        }
        tracing::info!("worker stopped");
    }
}

/// Lets the job tasks of `jobs` end within `grace`; past it, fires `abandon`
/// (every job's stop signal) and waits for them to wind down. True when they
/// all ended in time.
async fn finish_within(grace: Duration, jobs: &TaskTracker, abandon: &CancellationToken) -> bool {
    jobs.close();
    if tokio::time::timeout(grace, jobs.wait()).await.is_ok() {
        return true;
    }
    abandon.cancel();
    jobs.wait().await;
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn short_jobs_finish_and_nothing_is_abandoned() {
        let (jobs, abandon) = (TaskTracker::new(), CancellationToken::new());
        jobs.spawn(tokio::time::sleep(Duration::from_millis(10)));
        assert!(finish_within(Duration::from_secs(5), &jobs, &abandon).await);
        assert!(!abandon.is_cancelled());
    }

    #[tokio::test]
    async fn jobs_still_running_after_the_grace_period_are_abandoned() {
        let (jobs, abandon) = (TaskTracker::new(), CancellationToken::new());
        let stop = abandon.child_token();
        jobs.spawn(async move { stop.cancelled().await });
        assert!(!finish_within(Duration::from_millis(20), &jobs, &abandon).await);
        assert!(abandon.is_cancelled());
        assert!(jobs.is_empty(), "every job task has ended");
    }
}
