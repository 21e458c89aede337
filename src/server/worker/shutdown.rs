//! Graceful shutdown: stop claiming, let running jobs finish within the
//! grace period, then hand every job still held back to its queue without
//! spending its attempt, and drop the lease rows that may go.

use super::runtime::Worker;
use crate::server::queue;

impl Worker {
    /// Stops the worker gracefully (see the module's documentation).
    pub async fn shutdown(self) {
        let shared = self.shared;
        shared.stop.cancel();
        shared.claimers.close();
        shared.claimers.wait().await;
        shared.jobs.close();
        if tokio::time::timeout(shared.config.shutdown_grace, shared.jobs.wait())
            .await
            .is_err()
        {
            tracing::warn!("grace period over: returning unfinished jobs to their queues");
            shared.abandon.cancel();
            shared.jobs.wait().await;
        }
        for task in &self.background {
            task.abort();
        }
        let held = shared.held.snapshot();
        let db = shared.db.clone();
        let leases = shared.leases.clone();
        // Every job task has ended; dropping `shared` drops the last sender
        // of the completer's channel, so the completer drains it and ends.
        drop(shared);
        for task in self.background {
            let _ = task.await;
        }
        let _ = self.completer.await;
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
            Err(error) => tracing::error!(%error, "could not return held jobs"),
        }
        tracing::info!("worker stopped");
    }
}
