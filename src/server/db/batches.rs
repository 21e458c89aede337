//! SQL for job batches.

use super::{list, Tx};
use crate::domain::{BatchRow, Cursor, JobStatus};
use uuid::Uuid;

/// One page of batches, newest first.
pub async fn list(
    tx: &mut Tx,
    organization_id: Option<Uuid>,
    status: Option<JobStatus>,
    cursor: Option<Cursor>,
) -> Result<Vec<BatchRow>, sqlx::Error> {
    let mut query = list::select(
        "b.id, b.organization_id, o.name as organization_name, b.batch_name, b.total_jobs,
         b.pending_jobs, b.processed_jobs, b.failed_jobs, b.cancelled_jobs, b.status,
         b.progress::float8 as progress, b.created_at",
        "job_batches b join organizations o on o.id = b.organization_id",
    );
    list::organization(&mut query, "b", organization_id);
    list::equals(
        &mut query,
        "b.status",
        status.map(|s| s.as_str().to_string()),
    );
    list::page(&mut query, "b", cursor);
    query.build_query_as().fetch_all(&mut **tx).await
}

/// The batch's organization and status, locked for an action.
pub async fn lock(
    tx: &mut Tx,
    organization: Option<Uuid>,
    id: Uuid,
) -> Result<Option<(Uuid, JobStatus)>, sqlx::Error> {
    super::lock_status(tx, "job_batches", organization, id).await
}

/// Cancels a batch and its pending jobs (running ones finish); returns how
/// many jobs were cancelled.
pub async fn cancel(tx: &mut Tx, id: Uuid) -> Result<u64, sqlx::Error> {
    sqlx::query("update job_batches set cancelled_at = now() where id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    let cancelled = sqlx::query(
        "update jobs set status = 'cancelled', completed_at = now(),
                         error_message = 'The batch was cancelled.', updated_at = now()
         where batch_id = $1 and status = 'pending'",
    )
    .bind(id)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    sqlx::query("select job_batches_refresh_status(array[$1]::uuid[])")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(cancelled)
}

/// Creates an empty batch; its jobs are enqueued with its id in the same
/// transaction and the counters follow by trigger.
pub async fn create(
    tx: &mut Tx,
    organization_id: Uuid,
    batch_name: &str,
    created_by: Option<Uuid>,
    metadata: &serde_json::Value,
) -> Result<Uuid, sqlx::Error> {
    sqlx::query_scalar(
        "insert into job_batches (organization_id, batch_name, created_by, metadata)
         values ($1, $2, $3, $4)
         returning id",
    )
    .bind(organization_id)
    .bind(batch_name)
    .bind(created_by)
    .bind(metadata)
    .fetch_one(&mut **tx)
    .await
}
