//! Queue controls (pause, concurrency) and wake-ups. Queues are shared by all
//! organizations, so only bank admins change them; every worker reads them,
//! and every change is announced to live viewers in the caller's transaction.

use super::{JOBS_CHANNEL, QUEUES_CHANNEL};
use crate::server::live;
use sqlx::PgConnection;
use uuid::Uuid;

/// One queue's settings.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct QueueSettings {
    /// Queue name.
    pub name: String,
    /// Paused queues are not claimed from.
    pub paused: bool,
    /// Jobs of this queue one worker process runs at once.
    pub concurrency: i32,
}

/// Every queue's settings, by name.
pub async fn settings(conn: &mut PgConnection) -> Result<Vec<QueueSettings>, sqlx::Error> {
    sqlx::query_as("select name, paused, concurrency from queues order by name")
        .fetch_all(conn)
        .await
}

/// Every queue's name, in order (what a job may be enqueued into).
pub async fn names(conn: &mut PgConnection) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar("select name from queues order by name")
        .fetch_all(conn)
        .await
}

/// Whether a queue named `name` exists.
pub async fn exists(conn: &mut PgConnection, name: &str) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("select exists (select 1 from queues where name = $1)")
        .bind(name)
        .fetch_one(conn)
        .await
}

/// Creates a queue and tells every worker (they start claiming from it).
/// Returns false if a queue of that name already exists.
pub async fn create(
    conn: &mut PgConnection,
    name: &str,
    concurrency: i32,
    by: Option<Uuid>,
) -> Result<bool, sqlx::Error> {
    let created = sqlx::query(&format!(
        "with created as (
           insert into queues (name, concurrency, updated_by) values ($1, $2, $3)
           on conflict (name) do nothing
           returning name
         )
         select pg_notify('{QUEUES_CHANNEL}', name) from created"
    ))
    .bind(name)
    .bind(concurrency)
    .bind(by)
    .fetch_optional(&mut *conn)
    .await?;
    if created.is_some() {
        live::announce(conn, live::queue_settings_changed(None)).await?;
    }
    Ok(created.is_some())
}

/// Pauses or resumes `queue` and tells every worker. Returns false if there
/// is no such queue.
pub async fn set_paused(
    conn: &mut PgConnection,
    queue: &str,
    paused: bool,
    by: Option<Uuid>,
) -> Result<bool, sqlx::Error> {
    let changed = sqlx::query(&format!(
        "with changed as (
           update queues set paused = $2, updated_by = $3 where name = $1 returning name
         )
         select pg_notify('{QUEUES_CHANNEL}', name), pg_notify('{JOBS_CHANNEL}', name) from changed"
    ))
    .bind(queue)
    .bind(paused)
    .bind(by)
    .fetch_optional(&mut *conn)
    .await?;
    if changed.is_some() {
        live::announce(conn, live::queue_settings_changed(None)).await?;
    }
    Ok(changed.is_some())
}

/// Sets how many jobs of `queue` one worker runs at once. Returns false if
/// there is no such queue.
pub async fn set_concurrency(
    conn: &mut PgConnection,
    queue: &str,
    concurrency: i32,
    by: Option<Uuid>,
) -> Result<bool, sqlx::Error> {
    let changed = sqlx::query(&format!(
        "with changed as (
           update queues set concurrency = $2, updated_by = $3 where name = $1 returning name
         )
         select pg_notify('{QUEUES_CHANNEL}', name) from changed"
    ))
    .bind(queue)
    .bind(concurrency)
    .bind(by)
    .fetch_optional(&mut *conn)
    .await?;
    if changed.is_some() {
        live::announce(conn, live::queue_settings_changed(None)).await?;
    }
    Ok(changed.is_some())
}

/// Caps how many jobs of `organization` run from `queue` at once, across
/// every worker (claims read the cap each time, so no worker is told).
/// Returns false if there is no such queue or organization.
pub async fn set_organization_cap(
    conn: &mut PgConnection,
    queue: &str,
    organization: Uuid,
    max_running: i32,
    by: Option<Uuid>,
) -> Result<bool, sqlx::Error> {
    let written = sqlx::query(
        "insert into queue_organization_limits (queue, organization_id, max_running, updated_by)
         select q.name, o.id, $3, $4
         from queues q, organizations o
         where q.name = $1 and o.id = $2
         on conflict (queue, organization_id)
           do update set max_running = excluded.max_running, updated_by = excluded.updated_by",
    )
    .bind(queue)
    .bind(organization)
    .bind(max_running)
    .bind(by)
    .execute(&mut *conn)
    .await?;
    if written.rows_affected() == 1 {
        live::announce(conn, live::queue_settings_changed(Some(organization))).await?;
    }
    Ok(written.rows_affected() == 1)
}

/// Lifts `organization`'s cap in `queue`; false if it had none.
pub async fn clear_organization_cap(
    conn: &mut PgConnection,
    queue: &str,
    organization: Uuid,
) -> Result<bool, sqlx::Error> {
    let cleared = sqlx::query(
        "delete from queue_organization_limits where queue = $1 and organization_id = $2",
    )
    .bind(queue)
    .bind(organization)
    .execute(&mut *conn)
    .await?;
    if cleared.rows_affected() == 1 {
        live::announce(conn, live::queue_settings_changed(Some(organization))).await?;
    }
    Ok(cleared.rows_affected() == 1)
}

/// Wakes the workers of every queue that has runnable jobs (one NOTIFY per
/// queue, after bulk changes such as retries or released jobs).
pub async fn notify_queues_with_work(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    sqlx::query(&format!(
        "select pg_notify('{JOBS_CHANNEL}', name)
         from queues q
         where exists (select 1 from job_queue e
                       where e.queue = q.name and e.available_at <= now())"
    ))
    .execute(conn)
    .await?;
    Ok(())
}
