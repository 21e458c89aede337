//! The completer: writes successful outcomes in batches, whatever is waiting
//! (up to the batch size) in one statement, then tells the lease book.

use super::lease_book::LeaseBook;
use crate::server::db::Database;
use crate::server::queue::{self, Completion};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

/// Runs until every sender of `rx` is gone and the channel is drained.
pub(super) async fn run_completer(
    db: Database,
    leases: Arc<Mutex<LeaseBook>>,
    batch_size: usize,
    mut rx: mpsc::UnboundedReceiver<Completion>,
) {
    let batch_size = batch_size.max(1);
    let mut batch = Vec::with_capacity(batch_size);
    while let Some(first) = rx.recv().await {
        batch.push(first);
        fill_batch(&mut rx, &mut batch, batch_size);
        let written = write_completions(&db, &batch).await;
        let mut book = leases.lock().expect("lease book lock");
        for completion in &batch {
            book.end(completion.lease_token, written);
        }
        drop(book);
        batch.clear();
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

/// Writes one batch of completions, retrying briefly on connection trouble;
/// false when it gave up (the leases then expire and the jobs run again).
async fn write_completions(db: &Database, batch: &[Completion]) -> bool {
    for attempt in 0..5u32 {
        let result = async {
            let mut conn = db.worker.acquire().await?;
            queue::complete_many(&mut conn, batch).await
        }
        .await;
        match result {
            Ok(written) => {
                if written.len() < batch.len() {
                    tracing::warn!(
                        lost = batch.len() - written.len(),
                        "completions skipped: their leases had expired"
                    );
                }
                return true;
            }
            Err(error) => {
                tracing::warn!(%error, "could not write completions; retrying");
                tokio::time::sleep(Duration::from_millis(200 << attempt)).await;
            }
        }
    }
    tracing::error!(
        count = batch.len(),
        "completions not written; their leases will expire and the jobs run again"
    );
    false
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
}
