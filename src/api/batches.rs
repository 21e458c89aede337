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

/// Cancels a batch: its pending jobs are cancelled, running ones finish.
#[server(endpoint = "cancel_batch")]
pub async fn cancel_batch(id: uuid::Uuid) -> Result<String, AppError> {
    use crate::domain::JobStatus;
    use crate::server::auth::require_caller;
    use crate::server::db::batches;
    let caller = require_caller().await?;
    caller.require_write()?;
    let mut tx = caller.begin().await?;
    let (organization_id, status) = batches::lock(&mut tx, caller.organization_filter(None), id)
        .await?
        .ok_or(AppError::NotFound)?;
    if !matches!(status, JobStatus::Pending | JobStatus::Running) {
        return Err(AppError::invalid(format!(
            "A {status} batch cannot be cancelled."
        )));
    }
    let cancelled = batches::cancel(&mut tx, id).await?;
    caller
        .audit(
            &mut tx,
            Some(organization_id),
            "batch.cancel",
            "batch",
            id.to_string(),
            serde_json::json!({ "cancelled_jobs": cancelled }),
        )
        .await?;
    tx.commit().await?;
    Ok(format!(
        "Batch cancelled; {cancelled} waiting jobs cancelled."
    ))
}
