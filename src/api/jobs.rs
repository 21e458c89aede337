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

/// Enqueues a job from the console's form; returns its id.
#[server(endpoint = "create_job")]
pub async fn create_job(form: crate::domain::NewJobForm) -> Result<uuid::Uuid, AppError> {
    use crate::server::auth::require_caller;
    use crate::server::queue::{self, NewJob};
    let caller = require_caller().await?;
    caller.require_write()?;
    let valid = form.validate().map_err(AppError::Invalid)?;
    let organization_id = match caller.user.organization_id {
        Some(own) => own,
        None => valid
            .organization_id
            .ok_or_else(|| AppError::invalid("Choose an organization."))?,
    };
    let mut tx = caller.begin().await?;
    let job = NewJob {
        organization_id,
        job_type: valid.job_type,
        job_name: valid.job_name.clone(),
        payload: valid.payload,
        priority: valid.priority,
        queue: valid.queue.clone(),
        max_attempts: valid.max_attempts,
        available_at: valid.run_at,
        timeout_seconds: 300,
        batch_id: None,
        created_by: Some(caller.user.id),
    };
    let id = queue::enqueue(&mut tx, &job).await?;
    caller
        .audit(
            &mut tx,
            Some(organization_id),
            "job.create",
            "job",
            id.to_string(),
            serde_json::json!({
                "job_type": valid.job_type.as_str(),
                "job_name": valid.job_name,
                "queue": valid.queue,
            }),
        )
        .await?;
    tx.commit().await?;
    Ok(id)
}

/// One job in full.
#[server(endpoint = "job_detail")]
pub async fn job_detail(id: uuid::Uuid) -> Result<crate::domain::JobDetail, AppError> {
    use crate::server::auth::require_caller;
    use crate::server::db::jobs;
    let caller = require_caller().await?;
    let mut tx = caller.begin().await?;
    let detail = jobs::detail(&mut tx, caller.organization_filter(None), id)
        .await?
        .ok_or(AppError::NotFound)?;
    tx.commit().await?;
    Ok(detail)
}

/// Cancels, retries or deletes one job; returns what happened, in words.
#[server(endpoint = "job_action")]
pub async fn job_action(id: uuid::Uuid, action: String) -> Result<String, AppError> {
    use crate::domain::JobAction;
    use crate::server::auth::require_caller;
    use crate::server::db::jobs;
    use crate::server::queue::control::{self, CancelResult};
    let caller = require_caller().await?;
    caller.require_write()?;
    let action = JobAction::parse(action.trim())
        .ok_or_else(|| AppError::invalid("Unknown action: use cancel, retry or delete."))?;
    let mut tx = caller.begin().await?;
    let (organization_id, status) = jobs::lock(&mut tx, caller.organization_filter(None), id)
        .await?
        .ok_or(AppError::NotFound)?;
    if !action.allowed(status) {
        return Err(AppError::invalid(match action {
            JobAction::Cancel => format!("A {status} job cannot be cancelled."),
            JobAction::Retry => format!("A {status} job cannot be retried."),
            JobAction::Delete => "Only finished jobs can be deleted.".to_string(),
        }));
    }
    let (verb, message) = match action {
        JobAction::Cancel => {
            let reason = format!("Cancelled by {}.", caller.user.email);
            match control::cancel_job(&mut tx, id, Some(organization_id), &reason).await? {
                CancelResult::Cancelled => ("job.cancel", "Job cancelled."),
                CancelResult::Requested => (
                    "job.cancel",
                    "Cancellation requested: the worker stops the job now.",
                ),
                CancelResult::AlreadyFinished => {
                    return Err(AppError::invalid("The job has already finished."))
                }
                CancelResult::NotFound => return Err(AppError::NotFound),
            }
        }
        JobAction::Retry => {
            jobs::retry(&mut tx, id).await?;
            ("job.retry", "Job queued to run again.")
        }
        JobAction::Delete => {
            jobs::delete(&mut tx, id).await?;
            ("job.delete", "Job deleted.")
        }
    };
    caller
        .audit(
            &mut tx,
            Some(organization_id),
            verb,
            "job",
            id.to_string(),
            serde_json::json!({ "previous_status": status.as_str() }),
        )
        .await?;
    tx.commit().await?;
    Ok(message.to_string())
}
