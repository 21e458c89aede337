//! Offers the day's retention runs at start and then every `every` (with
//! jitter): the first worker process to offer a day enqueues each active
//! organization's cleanup and removes expired sessions; the others find it
//! done (`queue::retention`).

use super::rescuer::jittered;
use crate::server::db::Database;
use crate::server::queue::retention;
use rand::Rng;
use std::time::Duration;

/// Runs until the task is aborted.
pub(super) async fn run_retention_schedule(db: Database, every: Duration) {
    loop {
        let scheduled = async {
            let mut conn = db.worker.acquire().await?;
            let organizations = retention::schedule_today(&mut conn).await?;
            let sessions = if organizations.is_empty() {
                (0, 0)
            } else {
                retention::prune_expired_sessions(&mut conn).await?
            };
            Ok::<_, sqlx::Error>((organizations, sessions))
        }
        .await;
        match scheduled {
            Ok((organizations, _)) if organizations.is_empty() => {}
            Ok((organizations, (sessions, records))) => tracing::info!(
                organizations = organizations.len(),
                sessions,
                session_records = records,
                "enqueued today's retention cleanup and removed expired sessions"
            ),
            Err(error) => tracing::warn!(
                error = %crate::server::db::loggable(&error),
                "could not offer today's retention runs"
            ),
        }
        let unit: f64 = rand::thread_rng().gen();
        tokio::time::sleep(jittered(every, unit)).await;
    }
}
