//! The failed jobs tab.

use crate::domain::{FailedJobRow, ListQuery, Page};
use crate::error::AppError;
use leptos::prelude::*;

/// Failed-job records, newest first; `status` is `open` or `resolved`.
#[server(endpoint = "list_failed_jobs")]
pub async fn list_failed_jobs(
    #[server(default)] query: ListQuery,
) -> Result<Page<FailedJobRow>, AppError> {
    use crate::domain::Cursor;
    use crate::server::db::failed_jobs;
    let mut request = super::listing::begin(query, resolution_filter).await?;
    let rows = failed_jobs::list(
        &mut request.tx,
        request.organization_id,
        request.status,
        request.cursor,
    )
    .await?;
    super::listing::finish(request.tx, rows, |row| Cursor {
        created_at: row.created_at,
        id: row.id,
    })
    .await
}

/// `open` → unresolved only, `resolved` → resolved only.
pub fn resolution_filter(text: &str) -> Option<bool> {
    match text {
        "open" => Some(false),
        "resolved" => Some(true),
        _ => None,
    }
}
