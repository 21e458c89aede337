//! The batches tab.

use crate::domain::{BatchRow, ListQuery, Page};
use crate::error::AppError;
use leptos::prelude::*;

/// Job batches, newest first, in the caller's scope; `status` filters by [`crate::domain::JobStatus`].
#[server(endpoint = "list_batches")]
pub async fn list_batches(#[server(default)] query: ListQuery) -> Result<Page<BatchRow>, AppError> {
    use crate::domain::{Cursor, JobStatus};
    use crate::server::db::batches;
    let mut request = super::listing::begin(query, JobStatus::parse).await?;
    let rows = batches::list(
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
