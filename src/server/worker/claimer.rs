//! Claimers: per queue, `claimers` tasks that claim jobs while there is room
//! (slots plus prefetch), hand each claimed job to its own task, and wait for
//! a wake-up (NOTIFY, a freed slot) or the poll interval otherwise.

use super::held::StopSignal;
use super::job_task::run_job;
use super::queues::QueueRunner;
use super::runtime::Shared;
use crate::server::live;
use crate::server::queue::{self, control, ClaimRequest};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use uuid::Uuid;

/// Reads the queues table: starts claimers for new queues, applies pause and
/// concurrency changes to known ones.
pub(super) async fn reload_queues(shared: &Arc<Shared>) -> Result<(), sqlx::Error> {
    let settings = {
        let mut conn = shared.db.worker.acquire().await?;
        control::settings(&mut conn).await?
    };
    for setting in settings {
        let concurrency = shared
            .config
            .concurrency_override
            .unwrap_or(setting.concurrency.max(1) as usize);
        let Some(runner) = shared
            .queues
            .apply(&setting.name, setting.paused, concurrency)
        else {
            continue;
        };
        if !shared.stop.is_cancelled() {
            for _ in 0..shared.config.claimers.max(1) {
                shared
                    .claimers
                    .spawn(run_claimer(shared.clone(), runner.clone()));
            }
        }
    }
    Ok(())
}

/// How long to pause after `failures` claims in a row failed: 200 ms,
/// doubling, at most 6.4 s.
pub(super) fn backoff_after(failures: u32) -> Duration {
    Duration::from_millis(100 * 2u64.pow(failures.clamp(1, 6)))
}

/// Claims jobs of one queue while there is room, then waits for a wake-up.
async fn run_claimer(shared: Arc<Shared>, runner: Arc<QueueRunner>) {
    let config = &shared.config;
    let mut failures = 0u32;
    loop {
        if shared.stop.is_cancelled() {
            return;
        }
        if runner.is_paused() || shared.job_types.is_empty() {
            if !wait(&shared, &runner.wake, config.poll_interval).await {
                return;
            }
            continue;
        }
        let room = runner.room(config.prefetch);
        if room == 0 {
            tokio::select! {
                _ = runner.slot_freed.notified() => continue,
                _ = shared.stop.cancelled() => return,
            }
        }
        let limit = room.min(config.max_claim);
        match claim_batch(&shared, &runner, limit).await {
            Ok(count) => {
                failures = 0;
                if count == limit {
                    continue;
                }
            }
            Err(error) => {
                failures += 1;
                tracing::warn!(queue = %runner.name, error = %crate::server::db::loggable(&error), "claim failed");
                tokio::select! {
                    _ = tokio::time::sleep(backoff_after(failures)) => {},
                    _ = shared.stop.cancelled() => return,
                }
                continue;
            }
        }
        if !wait(&shared, &runner.wake, config.poll_interval).await {
            return;
        }
    }
}

/// Waits for a wake-up or the poll interval; false when stopping.
async fn wait(shared: &Shared, wake: &Notify, poll: Duration) -> bool {
    tokio::select! {
        _ = wake.notified() => true,
        _ = tokio::time::sleep(poll) => true,
        _ = shared.stop.cancelled() => false,
    }
}

/// One claim statement; spawns a task per claimed job.
async fn claim_batch(
    shared: &Arc<Shared>,
    runner: &Arc<QueueRunner>,
    limit: usize,
) -> Result<usize, sqlx::Error> {
    let lease_token = Uuid::new_v4();
    shared.lease_book().begin(lease_token);
    let mut conn = match shared.db.worker.acquire().await {
        Ok(conn) => conn,
        Err(error) => {
            shared.lease_book().abandon_claim(lease_token);
            return Err(error);
        }
    };
    let claimed = queue::claim(
        &mut conn,
        &ClaimRequest {
            queue: &runner.name,
            job_types: &shared.job_types,
            limit: limit as i64,
            worker_id: &shared.config.worker_id,
            lease_token,
            lease: shared.config.lease,
        },
    )
    .await;
    // The statement may have committed before the error reached us (a lost
    // connection): its lease row, if any, is left to expire, and the rescuer
    // returns its jobs.
    let jobs = claimed.inspect_err(|_| shared.lease_book().abandon_claim(lease_token))?;
    let count = jobs.len();
    shared.lease_book().claimed(lease_token, count);
    runner.claimed(count);
    let changes: Vec<live::Change> = jobs
        .iter()
        .flat_map(|job| live::job_changes(job.organization_id, job.id, job.batch_id))
        .collect();
    for job in jobs {
        let signal = StopSignal::new(&shared.abandon);
        shared.held.hold(job.id, lease_token, signal.clone());
        shared
            .jobs
            .spawn(run_job(shared.clone(), runner.clone(), job, signal));
    }
    // Viewers learn of the claim once its handlers are running (the claim
    // has committed); the announcer gathers claims into one transaction.
    if !changes.is_empty() {
        let _ = shared.announcements.send(changes);
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_claims_back_off_exponentially_up_to_a_ceiling() {
        assert_eq!(backoff_after(1), Duration::from_millis(200));
        assert_eq!(backoff_after(2), Duration::from_millis(400));
        assert_eq!(backoff_after(6), Duration::from_millis(6400));
        assert_eq!(backoff_after(60), Duration::from_millis(6400));
    }
}
