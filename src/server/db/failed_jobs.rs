//! SQL for failed-job records.

use super::{list, Tx};
use crate::domain::{Cursor, FailedJobRow};
use uuid::Uuid;

/// One page of failed jobs, newest first; `resolved` narrows to resolved
/// (`Some(true)`) or open (`Some(false)`) records.
pub async fn list(
    tx: &mut Tx,
    organization_id: Option<Uuid>,
    resolved: Option<bool>,
    cursor: Option<Cursor>,
) -> Result<Vec<FailedJobRow>, sqlx::Error> {
    let mut query = list::select(
        "f.id, f.job_id, f.organization_id, o.name as organization_name, f.job_type, f.job_name,
         f.error_message, f.failed_at, f.retry_count, f.max_retries, f.is_resolved,
         f.resolution, f.created_at",
        "failed_jobs f join organizations o on o.id = f.organization_id",
    );
    list::organization(&mut query, "f", organization_id);
    if let Some(resolved) = resolved {
        query.push("\n  and f.is_resolved = ").push_bind(resolved);
    }
    list::page(&mut query, "f", cursor);
    query.build_query_as().fetch_all(&mut **tx).await
}
