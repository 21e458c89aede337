//! The failed jobs tab.

use crate::domain::{FailedJobRow, ListQuery, Page};
use crate::error::AppError;
use leptos::prelude::*;

/// Failed-job records, newest first; `status` is `open` or `resolved`.
#[server(endpoint = "list_failed_jobs")]
pub async fn list_failed_jobs(
    #[server(default)] query: ListQuery,
) -> Result<Page<FailedJobRow>, AppError> {
    page(&super::listing::Reader::caller().await?, query).await
}

/// One page of the list for `reader` (the server function's, or a pushed
/// view's).
#[cfg(feature = "ssr")]
pub(crate) async fn page(
    reader: &super::listing::Reader,
    query: ListQuery,
) -> Result<Page<FailedJobRow>, AppError> {
    use crate::server::repo::failed_jobs;
    let mut request = super::listing::begin(reader, query, resolution_filter, &[]).await?;
    let rows = failed_jobs::list(
        &mut request.tx,
        request.organization_id,
        request.status,
        request.cursor,
    )
    .await?;
    super::listing::finish(request.tx, rows).await
}

/// `open` → unresolved only, `resolved` → resolved only.
pub fn resolution_filter(text: &str) -> Option<bool> {
    match text {
        "open" => Some(false),
        "resolved" => Some(true),
        _ => None,
    }
}

/// Re-enqueues a failed job with fresh attempts; its record counts the retry.
#[server(endpoint = "retry_failed_job")]
pub async fn retry_failed_job(id: uuid::Uuid) -> Result<String, AppError> {
    use crate::server::auth::require_caller;
    use crate::server::repo::{failed_jobs, jobs};
    let caller = require_caller().await?;
    caller.require_write()?;
    let mut tx = caller.begin().await?;
    let (job_id, organization_id, _) =
        failed_jobs::lock(&mut tx, caller.organization_filter(None), id)
            .await?
            .ok_or(AppError::NotFound)?;
    match jobs::lock(&mut tx, Some(organization_id), job_id).await? {
        Some((_, crate::domain::JobStatus::Failed)) => {}
        Some((_, status)) => {
            return Err(AppError::invalid(format!(
                "The job is {status} now; only a failed job can be retried."
            )))
        }
        None => return Err(AppError::NotFound),
    }
    crate::server::queue::actions::apply(
        &mut tx,
        &crate::server::db::JobFilter::one(Some(organization_id), job_id),
        crate::domain::JobAction::Retry,
        "",
    )
    .await?;
    caller
        .audit(
            &mut tx,
            Some(organization_id),
            "failed_job.retry",
            "failed_job",
            id.to_string(),
            serde_json::json!({ "job_id": job_id }),
        )
        .await?;
    tx.commit().await?;
    Ok("Job queued to run again.".into())
}

/// Marks failures handled, with one note saying how: one record, or a
/// selection of up to 1000.
#[server(endpoint = "resolve_failed_jobs")]
pub async fn resolve_failed_jobs(
    ids: Vec<uuid::Uuid>,
    resolution: String,
) -> Result<String, AppError> {
    use crate::server::auth::require_caller;
    use crate::server::repo::failed_jobs;
    let caller = require_caller().await?;
    caller.require_write()?;
    let resolution = resolution.trim().to_string();
    if resolution.is_empty() {
        return Err(AppError::invalid("Say how the failure was resolved."));
    }
    if resolution.chars().count() > 2000 {
        return Err(AppError::invalid(
            "The resolution note is longer than 2000 characters.",
        ));
    }
    if ids.is_empty() {
        return Err(AppError::invalid("Select the failures to resolve."));
    }
    if ids.len() > 1000 {
        return Err(AppError::invalid(
            "Resolve at most 1000 failures at a time.",
        ));
    }
    let mut tx = caller.begin().await?;
    let organization = caller.organization_filter(None);
    let resolved =
        failed_jobs::resolve(&mut tx, organization, &ids, caller.user.id, &resolution).await?;
    if resolved == 0 {
        return Err(AppError::invalid(if ids.len() == 1 {
            "This failure is already resolved (or does not exist)."
        } else {
            "None of the selected failures is open."
        }));
    }
    caller
        .audit(
            &mut tx,
            organization,
            "failed_job.resolve",
            "failed_job",
            if ids.len() == 1 {
                ids[0].to_string()
            } else {
                format!("{} selected", ids.len())
            },
            serde_json::json!({ "resolution": resolution, "resolved": resolved, "ids": ids }),
        )
        .await?;
    tx.commit().await?;
    Ok(if resolved == 1 {
        "Failure resolved.".to_string()
    } else {
        format!("{resolved} failures resolved.")
    })
}
