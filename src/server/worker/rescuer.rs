//! The rescuer: every `rescue_every` (with jitter, so workers started
//! together do not rescue in step) returns the jobs of expired leases, whose
//! holders died, in rounds of 100 leases until none is left.

use crate::server::db::Database;
use crate::server::queue::lease;
use rand::Rng;
use std::time::Duration;

/// Runs until the task is aborted.
pub(super) async fn run_rescuer(db: Database, every: Duration) {
    loop {
        let unit: f64 = rand::thread_rng().gen();
        tokio::time::sleep(jittered(every, unit)).await;
        loop {
            let rescued = async {
                let mut conn = db.worker.acquire().await?;
                lease::rescue(&mut conn, 100).await
            }
            .await;
            match rescued {
                Ok(r) if r.leases == 0 => break,
                Ok(r) if r.retried + r.failed + r.cancelled == 0 => {}
                Ok(r) => tracing::warn!(
                    retried = r.retried,
                    failed = r.failed,
                    cancelled = r.cancelled,
                    "rescued jobs of workers that stopped responding"
                ),
                Err(error) => {
                    tracing::warn!(error = %crate::server::db::loggable(&error), "rescue failed");
                    break;
                }
            }
        }
    }
}

/// `every`, stretched or shrunk by up to a fifth: `unit` (0..1) picks where.
pub(super) fn jittered(every: Duration, unit: f64) -> Duration {
    every.mul_f64(0.8 + 0.4 * unit.clamp(0.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_within_a_fifth_of_the_interval() {
        let every = Duration::from_secs(10);
        assert_eq!(jittered(every, 0.0), Duration::from_secs(8));
        assert_eq!(jittered(every, 0.5), Duration::from_secs(10));
        assert_eq!(jittered(every, 1.0), Duration::from_secs(12));
    }
}
