//! SQL for jobs.

use super::{list, Tx};
use crate::domain::{Cursor, JobRow, JobStatus};
use uuid::Uuid;

/// Filters of the Jobs tab.
#[derive(Debug, Clone, Default)]
pub struct JobFilter {
    /// Organization condition (see [`super::Scope::organization_filter`]).
    pub organization_id: Option<Uuid>,
    /// Only jobs in this status.
    pub status: Option<JobStatus>,
}

/// One page of jobs, newest first.
pub async fn list(
    tx: &mut Tx,
    filter: &JobFilter,
    cursor: Option<Cursor>,
) -> Result<Vec<JobRow>, sqlx::Error> {
    let mut query = list::select(
        "j.id, j.organization_id, o.name as organization_name, j.job_type, j.job_name,
         j.status, j.priority, j.queue, j.attempts, j.max_attempts, j.batch_id,
         j.available_at, j.error_message, j.created_at",
        "jobs j join organizations o on o.id = j.organization_id",
    );
    list::organization(&mut query, "j", filter.organization_id);
    list::equals(
        &mut query,
        "j.status",
        filter.status.map(|s| s.as_str().to_string()),
    );
    list::page(&mut query, "j", cursor);
    query.build_query_as().fetch_all(&mut **tx).await
}

/// One job with everything the detail view shows.
pub async fn detail(
    tx: &mut Tx,
    organization: Option<Uuid>,
    id: Uuid,
) -> Result<Option<crate::domain::JobDetail>, sqlx::Error> {
    sqlx::query_as(
        "select j.id, j.organization_id, o.name as organization_name, j.job_type, j.job_name,
                j.payload, j.status, j.priority, j.queue, j.attempts, j.max_attempts,
                j.timeout_seconds, j.available_at, j.started_at, j.completed_at, j.failed_at,
                j.error_message, j.error_details, j.result, j.attempt_log, j.batch_id,
                b.batch_name, j.locked_by, j.cancel_requested_at, j.created_at, j.updated_at
         from jobs j
         join organizations o on o.id = j.organization_id
         left join job_batches b on b.id = j.batch_id
         where j.id = $1 and ($2::uuid is null or j.organization_id = $2)",
    )
    .bind(id)
    .bind(organization)
    .fetch_optional(&mut **tx)
    .await
}

/// The job's organization and status, locked for an action.
pub async fn lock(
    tx: &mut Tx,
    organization: Option<Uuid>,
    id: Uuid,
) -> Result<Option<(Uuid, JobStatus)>, sqlx::Error> {
    super::lock_status(tx, "jobs", organization, id).await
}

/// Puts a failed or cancelled job back on its queue with fresh attempts (a
/// failure record counts the retry), or makes a waiting job due now.
pub async fn retry(tx: &mut Tx, id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query(&format!(
        "with changed as (
           update jobs j set
             status = 'pending',
             available_at = now(),
             attempts = case when j.status = 'pending' then j.attempts else 0 end,
             failed_at = null,
             completed_at = null,
             cancel_requested_at = null,
             updated_at = now()
           where j.id = $1 and j.status in ('pending', 'failed', 'cancelled')
           returning j.id, j.queue
         ),
         counted as (
           update failed_jobs f set retry_count = f.retry_count + 1
           from changed where f.job_id = changed.id and not f.is_resolved
         )
         select count(pg_notify('{}', queue)) from changed",
        crate::server::queue::JOBS_CHANNEL
    ))
    .bind(id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Deletes a finished job (its failure record goes with it).
pub async fn delete(tx: &mut Tx, id: Uuid) -> Result<bool, sqlx::Error> {
    let result = sqlx::query(
        "delete from jobs where id = $1 and status in ('completed', 'failed', 'cancelled')",
    )
    .bind(id)
    .execute(&mut **tx)
    .await?;
    Ok(result.rows_affected() == 1)
}
