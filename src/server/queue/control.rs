//! Queue controls (pause, concurrency) and wake-ups. Queues are shared by all
//! organizations, so only bank admins change them; every worker reads them.

use super::{JOBS_CHANNEL, QUEUES_CHANNEL};
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
    .fetch_optional(conn)
    .await?;
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
    .fetch_optional(conn)
    .await?;
    Ok(changed.is_some())
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

/// What a cancel request did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelResult {
    /// The job was pending and is now cancelled.
    Cancelled,
    /// The job is running; its worker was asked to stop it.
    Requested,
    /// The job already finished (completed, failed or cancelled).
    AlreadyFinished,
    /// No such job (or not visible to the caller).
    NotFound,
}

/// Cancels a pending job at once, or asks the worker holding a running job
/// to stop it (NOTIFY now; its heartbeat notices too, should the NOTIFY be
/// missed). `organization` limits the job to one organization.
pub async fn cancel_job(
    conn: &mut PgConnection,
    id: Uuid,
    organization: Option<Uuid>,
    reason: &str,
) -> Result<CancelResult, sqlx::Error> {
    use crate::domain::{JobAction, JobStatus};
    use crate::server::db::jobs::{apply, JobFilter};
    let status: Option<String> = sqlx::query_scalar(
        "select status from jobs where id = $1 and ($2::uuid is null or organization_id = $2)
         for update",
    )
    .bind(id)
    .bind(organization)
    .fetch_optional(&mut *conn)
    .await?;
    let result = match status.as_deref().and_then(JobStatus::parse) {
        None => return Ok(CancelResult::NotFound),
        Some(JobStatus::Pending) => CancelResult::Cancelled,
        Some(JobStatus::Running) => CancelResult::Requested,
        Some(_) => return Ok(CancelResult::AlreadyFinished),
    };
    apply(
        conn,
        &JobFilter::one(organization, id),
        JobAction::Cancel,
        reason,
    )
    .await?;
    Ok(result)
}
