//! The heartbeat: renews this process's leases, drops the rows of finished
//! claims, and stops jobs whose lease was lost or whose cancellation was
//! requested (the fallback for a missed NOTIFY).

use super::held::StopReason;
use super::runtime::Shared;
use crate::server::queue::lease;
use std::collections::HashMap;
use std::sync::Arc;
use uuid::Uuid;

/// Runs until the task is aborted.
pub(super) async fn run_heartbeat(shared: Arc<Shared>) {
    let mut ticker = tokio::time::interval(shared.config.heartbeat_every);
    ticker.tick().await;
    loop {
        ticker.tick().await;
        let held = shared.held.snapshot();
        let (renew, finished) = {
            let mut book = shared.lease_book();
            if held.is_empty() && book.is_idle() {
                continue;
            }
            (book.to_renew(), book.take_finished())
        };
        let renewed = async {
            let mut conn = shared.db.worker.acquire().await?;
            lease::heartbeat(&mut conn, &held, &renew, &finished, shared.config.lease).await
        }
        .await;
        match renewed {
            Ok(renewed) => {
                let answers: HashMap<Uuid, bool> =
                    renewed.iter().map(|r| (r.id, r.cancel_requested)).collect();
                for (id, reason) in stops(&held, &answers) {
                    shared.held.stop(id, reason);
                }
            }
            Err(error) => {
                tracing::warn!(error = %crate::server::db::loggable(&error), "heartbeat failed");
                // Try the deletions again next time.
                let mut book = shared.lease_book();
                for token in finished {
                    book.requeue_finished(token);
                }
            }
        }
    }
}

/// Which held jobs to stop, given the heartbeat's answer (job id → whether
/// its cancellation was requested) for the jobs whose lease it renewed: a job
/// missing from the answer lost its lease.
pub(super) fn stops(
    held: &[(Uuid, Uuid)],
    answers: &HashMap<Uuid, bool>,
) -> Vec<(Uuid, StopReason)> {
    held.iter()
        .filter_map(|(id, _)| match answers.get(id) {
            Some(true) => Some((*id, StopReason::Requested)),
            Some(false) => None,
            None => Some((*id, StopReason::LeaseLost)),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_jobs_lost_their_lease_and_flagged_ones_are_cancelled() {
        let token = Uuid::new_v4();
        let (fine, cancelled, lost) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        let held = [(fine, token), (cancelled, token), (lost, token)];
        let answers = HashMap::from([(fine, false), (cancelled, true)]);
        assert_eq!(
            stops(&held, &answers),
            vec![
                (cancelled, StopReason::Requested),
                (lost, StopReason::LeaseLost)
            ]
        );
    }
}
