//! The batches tab.

use crate::domain::{BatchRow, ListQuery, Page};
use crate::error::AppError;
use leptos::prelude::*;

/// Job batches, newest first, in the caller's scope; `status` filters by [`crate::domain::JobStatus`].
#[server(endpoint = "list_batches")]
pub async fn list_batches(#[server(default)] query: ListQuery) -> Result<Page<BatchRow>, AppError> {
    page(&super::listing::Reader::caller().await?, query).await
}

/// One page of the list for `reader` (the server function's, or a pushed
/// view's).
#[cfg(feature = "ssr")]
pub(crate) async fn page(
    reader: &super::listing::Reader,
    query: ListQuery,
) -> Result<Page<BatchRow>, AppError> {
    use crate::domain::JobStatus;
    use crate::server::repo::batches;
    let mut request = super::listing::begin(reader, query, JobStatus::parse, &[]).await?;
    let rows = batches::list(
        &mut request.tx,
        request.organization_id,
        request.status,
        request.cursor,
    )
    .await?;
    super::listing::finish(request.tx, rows).await
}

/// One batch's counters and times.
#[server(endpoint = "batch_detail")]
pub async fn batch_detail(id: uuid::Uuid) -> Result<crate::domain::BatchDetail, AppError> {
    use crate::server::auth::require_caller;
    use crate::server::repo::batches;
    let caller = require_caller().await?;
    let mut tx = caller.begin().await?;
    let detail = batches::detail(&mut tx, caller.organization_filter(None), id)
        .await?
        .ok_or(AppError::NotFound)?;
    tx.commit().await?;
    Ok(detail)
}

/// Cancels a batch: its pending jobs are cancelled, running ones finish.
#[server(endpoint = "cancel_batch")]
pub async fn cancel_batch(id: uuid::Uuid) -> Result<String, AppError> {
    use crate::domain::JobStatus;
    use crate::server::auth::require_caller;
    use crate::server::repo::batches;
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
    let cancelled =
        crate::server::queue::actions::cancel_batch(&mut tx, organization_id, id).await?;
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

/// Refuses a batch whose template does not exist for the organization, or
/// needs a value its recipient list has no column for (every row has the
/// same columns, so the first row tells).
#[cfg(feature = "ssr")]
async fn check_template_fits(
    tx: &mut crate::server::db::Tx,
    organization_id: uuid::Uuid,
    batch: &crate::domain::ValidNewBatch,
) -> Result<(), AppError> {
    use crate::domain::integrations::Channel;
    use crate::domain::templates::render;
    let template =
        crate::server::repo::templates::find(tx, organization_id, Channel::Email, &batch.template)
            .await?
            .ok_or_else(|| {
                AppError::invalid(format!(
                    "There is no email template named \"{}\"; the built-in ones are {}.",
                    batch.template,
                    crate::domain::templates::BUILTIN_TEMPLATES.join(" and ")
                ))
            })?;
    let Some(first) = batch.recipients.first() else {
        return Ok(());
    };
    let mut variables = first.variables.clone();
    variables
        .entry("subject")
        .or_insert_with(|| serde_json::Value::String(batch.subject.clone()));
    for text in [Some(&template.text_body), template.html_body.as_ref()]
        .into_iter()
        .flatten()
    {
        render(text, &variables, false).map_err(|problem| {
            AppError::invalid(format!(
                "{problem} Add it as a column of the recipient list."
            ))
        })?;
    }
    Ok(())
}

/// Creates a batch with one email job per recipient row; returns its id.
#[server(endpoint = "create_batch")]
pub async fn create_batch(form: crate::domain::NewBatchForm) -> Result<uuid::Uuid, AppError> {
    use crate::domain::JobType;
    use crate::server::auth::require_caller;
    use crate::server::queue::{self, NewJob};
    use crate::server::repo::batches;
    let caller = require_caller().await?;
    caller.require_write()?;
    let valid = form.validate().map_err(AppError::Invalid)?;
    let organization_id = caller.target_organization(valid.organization_id)?;
    let mut tx = caller.begin().await?;
    check_template_fits(&mut tx, organization_id, &valid).await?;
    let metadata = serde_json::json!({
        "source": "console",
        "template": valid.template,
        "subject": valid.subject,
    });
    let batch_id = batches::create(
        &mut tx,
        organization_id,
        &valid.batch_name,
        Some(caller.user.id),
        &metadata,
    )
    .await?;
    let jobs: Vec<NewJob> = valid
        .recipients
        .iter()
        .map(|recipient| NewJob {
            priority: valid.priority,
            queue: "notifications".to_string(),
            batch_id: Some(batch_id),
            created_by: Some(caller.user.id),
            ..NewJob::new(
                organization_id,
                JobType::Email,
                crate::domain::truncated(
                    &format!("{}: {}", valid.batch_name, recipient.email),
                    255,
                ),
                serde_json::json!({
                    "to": recipient.email,
                    "subject": valid.subject,
                    "template": valid.template,
                    "variables": recipient.variables,
                }),
            )
        })
        .collect();
    queue::enqueue_many(&mut tx, &jobs).await?;
    caller
        .audit(
            &mut tx,
            Some(organization_id),
            "batch.create",
            "batch",
            batch_id.to_string(),
            serde_json::json!({ "jobs": jobs.len(), "template": valid.template }),
        )
        .await?;
    tx.commit().await?;
    Ok(batch_id)
}

/// Puts a batch's failed jobs back on their queue with fresh attempts.
#[server(endpoint = "retry_batch_failures")]
pub async fn retry_batch_failures(id: uuid::Uuid) -> Result<String, AppError> {
    use crate::domain::{JobAction, JobListFilters, JobStatus};
    use crate::server::auth::require_caller;
    use crate::server::repo::batches;
    let caller = require_caller().await?;
    caller.require_write()?;
    let mut tx = caller.begin().await?;
    let (organization_id, _) = batches::lock(&mut tx, caller.organization_filter(None), id)
        .await?
        .ok_or(AppError::NotFound)?;
    let filter = crate::server::db::JobFilter {
        organization_id: Some(organization_id),
        status: Some(JobStatus::Failed),
        more: JobListFilters {
            batch_id: Some(id),
            ..JobListFilters::default()
        },
        ids: Vec::new(),
    };
    let retried = crate::server::queue::actions::apply(&mut tx, &filter, JobAction::Retry, "")
        .await?
        .changed;
    if retried == 0 {
        return Err(AppError::invalid("This batch has no failed jobs."));
    }
    caller
        .audit(
            &mut tx,
            Some(organization_id),
            "batch.retry_failed",
            "batch",
            id.to_string(),
            serde_json::json!({ "retried": retried }),
        )
        .await?;
    tx.commit().await?;
    Ok(format!("{retried} failed jobs queued to run again."))
}
