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
