//! SQL for job batches.

use crate::domain::{BatchDetail, BatchRow, Cursor, JobStatus};
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

/// One batch with its times, if visible in `organization` (any, for `None`).
pub async fn detail(
    tx: &mut Tx,
    organization: Option<Uuid>,
    id: Uuid,
) -> Result<Option<BatchDetail>, sqlx::Error> {
    sqlx::query_as(&format!(
        "select {DETAIL_COLUMNS}
         from job_batches b join organizations o on o.id = b.organization_id
         where b.id = $1 and ($2::uuid is null or b.organization_id = $2)"
    ))
    .bind(id)
    .bind(organization)
    .fetch_optional(&mut **tx)
    .await
}

/// What a [`BatchDetail`] reads from `job_batches b` and `organizations o`.
const DETAIL_COLUMNS: &str = "b.id, b.organization_id, o.name as organization_name, b.batch_name,
    b.total_jobs, b.pending_jobs, b.running_jobs, b.processed_jobs, b.failed_jobs,
    b.cancelled_jobs, b.status, b.progress::float8 as progress, b.created_at,
    b.started_at, b.completed_at, b.cancelled_at, now() as read_at";

/// The `limit` newest batches that ran since `since` (or still run), newest
/// first: the Overview's batch efficiency.
pub async fn recent(
    tx: &mut Tx,
    organization: Option<Uuid>,
    since: chrono::DateTime<chrono::Utc>,
    limit: i64,
) -> Result<Vec<BatchDetail>, sqlx::Error> {
    sqlx::query_as(&format!(
        "select {DETAIL_COLUMNS}
         from job_batches b join organizations o on o.id = b.organization_id
         where ($1::uuid is null or b.organization_id = $1)
           and b.started_at is not null
           and (b.completed_at is null or b.completed_at >= $2)
         order by b.created_at desc, b.id desc
         limit $3"
    ))
    .bind(organization)
    .bind(since)
    .bind(limit)
    .fetch_all(&mut **tx)
    .await
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
