//! The built-in daily retention schedule: each active organization's
//! `cleanup` job is enqueued once per UTC day, however many worker processes
//! offer it. The day's `retention_runs` row is written before the job, in the
//! same transaction: a second process offering the same day waits on that
//! row's key and then finds it taken. The process that schedules a day also
//! removes the sessions that expired (people's sessions belong to no single
//! organization's cleanup).

use super::enqueue::{enqueue_many, NewJob};
use crate::domain::{JobType, Priority};
use sqlx::PgConnection;
use uuid::Uuid;

/// The name the scheduled cleanup jobs carry.
pub const DAILY_CLEANUP_NAME: &str = "Daily retention cleanup";

/// Enqueues today's cleanup of every active organization that has none yet;
/// returns the organizations scheduled now (empty when another process was
/// first, or today's runs are all enqueued).
pub async fn schedule_today(conn: &mut PgConnection) -> Result<Vec<Uuid>, sqlx::Error> {
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    let claimed: Vec<Uuid> = sqlx::query_scalar(
        "insert into retention_runs (organization_id, run_on)
         select o.id, (now() at time zone 'utc')::date
         from organizations o
         where o.is_active
         on conflict (organization_id, run_on) do nothing
         returning organization_id",
    )
    .fetch_all(&mut *tx)
    .await?;
    if claimed.is_empty() {
        tx.commit().await?;
        return Ok(claimed);
    }
    let jobs: Vec<NewJob> = claimed
        .iter()
        .map(|organization| NewJob {
            priority: Priority::Low,
            max_attempts: 5,
            timeout_seconds: 3600,
            ..NewJob::new(
                *organization,
                JobType::Cleanup,
                DAILY_CLEANUP_NAME,
                serde_json::json!({}),
            )
        })
        .collect();
    let ids = enqueue_many(&mut tx, &jobs).await?;
    sqlx::query(
        "update retention_runs r set job_id = s.job_id
         from unnest($1::uuid[], $2::uuid[]) as s (organization_id, job_id)
         where r.organization_id = s.organization_id
           and r.run_on = (now() at time zone 'utc')::date",
    )
    .bind(&claimed)
    .bind(&ids)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(claimed)
}

/// Sessions removed per statement.
const SESSION_CHUNK: i64 = 1000;

/// Removes sessions past their absolute or idle limit and the session
/// store's expired records, a chunk at a time; returns how many of each.
pub async fn prune_expired_sessions(conn: &mut PgConnection) -> Result<(u64, u64), sqlx::Error> {
    let mut removed = (0, 0);
    loop {
        let sessions = sqlx::query(
            "delete from user_sessions where id in (
               select id from user_sessions
               where idle_expires_at < now() or expires_at < now()
               limit $1)",
        )
        .bind(SESSION_CHUNK)
        .execute(&mut *conn)
        .await?
        .rows_affected();
        let records = sqlx::query(
            "delete from tower_sessions.session where id in (
               select id from tower_sessions.session where expiry_date < now() limit $1)",
        )
        .bind(SESSION_CHUNK)
        .execute(&mut *conn)
        .await?
        .rows_affected();
        removed = (removed.0 + sessions, removed.1 + records);
        if sessions < SESSION_CHUNK as u64 && records < SESSION_CHUNK as u64 {
            return Ok(removed);
        }
    }
}
