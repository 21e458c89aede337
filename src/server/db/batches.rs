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
