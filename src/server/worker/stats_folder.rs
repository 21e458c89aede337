//! The statistics folder: about once a minute (with jitter), folds the
//! statistics rows that statements appended during minutes that have ended
//! (see `queue::stats`). Any number of workers may run it; one folds at a
//! time.

use super::rescuer::jittered;
use crate::server::db::{loggable, Database};
use crate::server::queue::stats;
use rand::Rng;
use std::time::Duration;

/// How often statistics are folded.
pub(super) const FOLD_EVERY: Duration = Duration::from_secs(60);

/// Runs until the task is aborted.
pub(super) async fn run_stats_folder(db: Database) {
    loop {
        let unit: f64 = rand::thread_rng().gen();
        tokio::time::sleep(jittered(FOLD_EVERY, unit)).await;
        let folded = async {
            let mut conn = db.worker.acquire().await?;
            stats::fold(&mut conn).await
        }
        .await;
        if let Err(error) = folded {
            tracing::warn!(error = %loggable(&error), "could not fold job statistics");
        }
    }
}
