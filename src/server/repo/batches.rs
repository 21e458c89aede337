//! SQL for job batches.

use crate::domain::{BatchRow, Cursor, JobStatus};
use crate::server::db::{list, Tx};
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
    crate::server::db::lock_status(tx, "job_batches", organization, id).await
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
