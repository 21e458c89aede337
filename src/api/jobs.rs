//! The jobs tab.

use crate::domain::{JobRow, ListQuery, Page};
use crate::error::AppError;
use leptos::prelude::*;

/// Jobs, newest first, in the caller's scope; `status` filters by [`crate::domain::JobStatus`].
#[server(endpoint = "list_jobs")]
pub async fn list_jobs(#[server(default)] query: ListQuery) -> Result<Page<JobRow>, AppError> {
    use crate::domain::{Cursor, JobStatus};
    use crate::server::db::jobs;
    let mut request = super::listing::begin(query, JobStatus::parse).await?;
    let rows = jobs::list(
        &mut request.tx,
        &jobs::JobFilter {
            organization_id: request.organization_id,
            status: request.status,
        },
        request.cursor,
    )
    .await?;
    super::listing::finish(request.tx, rows, |row| Cursor {
        created_at: row.created_at,
        id: row.id,
    })
    .await
}
