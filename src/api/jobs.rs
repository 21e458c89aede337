//! The jobs tab.

use crate::domain::{JobRow, ListQuery, Page};
use crate::error::AppError;
use leptos::prelude::*;

/// Jobs, newest first, in the caller's scope; `status` filters by [`crate::domain::JobStatus`].
#[server(endpoint = "list_jobs")]
pub async fn list_jobs(#[server(default)] query: ListQuery) -> Result<Page<JobRow>, AppError> {
    page(&super::listing::Reader::caller().await?, query).await
}

/// One page of the Jobs tab for `reader` (the server function's, or a
/// pushed view's).
#[cfg(feature = "ssr")]
pub(crate) async fn page(
    reader: &super::listing::Reader,
    query: ListQuery,
) -> Result<Page<JobRow>, AppError> {
    use crate::server::repo::jobs;
    let (mut request, filter) = begin_filtered(reader, query, Vec::new()).await?;
    let found = jobs::list(&mut request.tx, &filter, request.cursor).await?;
    super::listing::finish_search(request.tx, found.rows, found.searched_to).await
}

/// Validates a Jobs-tab query (plus an optional selection) and opens
/// `reader`'s transaction.
#[cfg(feature = "ssr")]
async fn begin_filtered(
    reader: &super::listing::Reader,
    query: ListQuery,
    ids: Vec<uuid::Uuid>,
) -> Result<
    (
        super::listing::ListRequest<crate::domain::JobStatus>,
        crate::server::db::JobFilter,
    ),
    AppError,
> {
    use crate::domain::{JobListFilters, JobStatus, JOB_FILTER_NAMES};
    let request = super::listing::begin(reader, query, JobStatus::parse, &JOB_FILTER_NAMES).await?;
    let more = JobListFilters::parse(&request.filters).map_err(AppError::Invalid)?;
    let filter = crate::server::db::JobFilter {
        organization_id: request.organization_id,
        status: request.status,
        more,
        ids,
    };
    Ok((request, filter))
}

/// Most jobs one selection may name.
pub const MAX_SELECTION: usize = 1000;

/// How many jobs a bulk action would touch: the selection if `ids` is not
/// empty, otherwise everything matching `query`'s filters (all pages).
#[server(endpoint = "preview_bulk_jobs")]
pub async fn preview_bulk_jobs(
    #[server(default)] query: ListQuery,
    action: crate::domain::JobAction,
    #[server(default)] ids: Vec<uuid::Uuid>,
) -> Result<crate::domain::BulkPreview, AppError> {
    use crate::server::auth::require_caller;
    use crate::server::repo::jobs;
    let caller = require_caller().await?;
    caller.require_write()?;
    check_selection(&ids)?;
    let reader = super::listing::Reader::of(&caller);
    let (mut request, filter) = begin_filtered(&reader, query, ids).await?;
    let (matching, eligible) = jobs::count_for(&mut request.tx, &filter, action).await?;
    request.tx.commit().await?;
    Ok(crate::domain::BulkPreview {
        action,
        matching,
        eligible,
        limit: jobs::BULK_LIMIT,
    })
}

/// Applies a bulk action after its preview: `expected` is the number the
/// person confirmed; if the jobs changed since, nothing happens and the
/// answer says so.
#[server(endpoint = "bulk_jobs")]
pub async fn bulk_jobs(
    #[server(default)] query: ListQuery,
    action: crate::domain::JobAction,
    #[server(default)] ids: Vec<uuid::Uuid>,
    expected: i64,
) -> Result<String, AppError> {
    use crate::server::auth::require_caller;
    use crate::server::repo::jobs;
    let caller = require_caller().await?;
    caller.require_write()?;
    check_selection(&ids)?;
    let selection = ids.len();
    let reader = super::listing::Reader::of(&caller);
    let (mut request, filter) = begin_filtered(&reader, query.clone(), ids).await?;
    let (_, eligible) = jobs::count_for(&mut request.tx, &filter, action).await?;
    if eligible == 0 {
        return Err(AppError::invalid(format!(
            "None of these jobs can be {}.",
            action.past_tense()
        )));
    }
    if eligible > jobs::BULK_LIMIT {
        return Err(AppError::invalid(format!(
            "{eligible} jobs match; narrow the filter to at most {} at a time.",
            jobs::BULK_LIMIT
        )));
    }
    if eligible != expected {
        return Err(AppError::invalid(format!(
            "The jobs changed since the preview: {eligible} would now be {}. Check and confirm again.",
            action.past_tense()
        )));
    }
    let reason = format!("Cancelled by {}.", caller.user.email);
    let applied =
        crate::server::queue::actions::apply(&mut request.tx, &filter, action, &reason).await?;
    let changed = applied.changed;
    caller
        .audit(
            &mut request.tx,
            filter.organization_id,
            &format!("job.bulk_{action}"),
            "jobs",
            if selection > 0 {
                format!("{selection} selected")
            } else {
                "filter".to_string()
            },
            serde_json::json!({
                "changed": changed,
                "filters": query.first_page().url_params(),
                "selected": selection,
                "deleted": applied.deleted,
            }),
        )
        .await?;
    request.tx.commit().await?;
    Ok(format!("{changed} jobs {}.", action.past_tense()))
}

#[cfg(feature = "ssr")]
fn check_selection(ids: &[uuid::Uuid]) -> Result<(), AppError> {
    if ids.len() > MAX_SELECTION {
        return Err(AppError::invalid(format!(
            "Select at most {MAX_SELECTION} jobs, or act on everything matching the filter."
        )));
    }
    Ok(())
}

/// Enqueues a job from the console's form; returns its id.
#[server(endpoint = "create_job")]
pub async fn create_job(form: crate::domain::NewJobForm) -> Result<uuid::Uuid, AppError> {
    use crate::server::auth::require_caller;
    use crate::server::queue::{self, NewJob};
    let caller = require_caller().await?;
    caller.require_write()?;
    let valid = form.validate().map_err(AppError::Invalid)?;
    crate::server::providers::check_payload(valid.job_type, &valid.payload)
        .map_err(AppError::Invalid)?;
    let organization_id = caller.target_organization(valid.organization_id)?;
    let mut tx = caller.begin().await?;
    // queues are the bank's: a job goes into one a bank admin created
    if !queue::control::exists(&mut tx, &valid.queue).await? {
        return Err(AppError::invalid(format!(
            "There is no queue named {}. Bank admins create queues in the Queues view.",
            valid.queue
        )));
    }
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

/// One job in full (for organization users, without infrastructure details).
#[server(endpoint = "job_detail")]
pub async fn job_detail(id: uuid::Uuid) -> Result<crate::domain::JobDetail, AppError> {
    use crate::server::auth::require_caller;
    use crate::server::repo::jobs;
    let caller = require_caller().await?;
    let mut tx = caller.begin().await?;
    let detail = jobs::detail(&mut tx, caller.organization_filter(None), id)
        .await?
        .ok_or(AppError::NotFound)?;
    tx.commit().await?;
    Ok(if caller.user.is_bank_admin() {
        detail
    } else {
        detail.for_tenant()
    })
}

/// Cancels, retries or deletes one job; returns what happened, in words.
#[server(endpoint = "job_action")]
pub async fn job_action(
    id: uuid::Uuid,
    action: crate::domain::JobAction,
) -> Result<String, AppError> {
    use crate::domain::{JobAction, JobStatus};
    use crate::server::auth::require_caller;
    use crate::server::repo::jobs;
    let caller = require_caller().await?;
    caller.require_write()?;
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
    let message = match (action, status) {
        (JobAction::Cancel, JobStatus::Running) => {
            "Cancellation requested: the worker stops the job now."
        }
        (JobAction::Cancel, _) => "Job cancelled.",
        (JobAction::Retry, _) => "Job queued to run again.",
        (JobAction::Delete, _) => "Job deleted.",
    };
    let reason = format!("Cancelled by {}.", caller.user.email);
    let applied = crate::server::queue::actions::apply(
        &mut tx,
        &crate::server::db::JobFilter::one(Some(organization_id), id),
        action,
        &reason,
    )
    .await?;
    if action == JobAction::Delete && applied.changed == 0 {
        return Err(AppError::invalid(
            "This job has an unresolved failure: resolve it before deleting the job.",
        ));
    }
    caller
        .audit(
            &mut tx,
            Some(organization_id),
            &format!("job.{action}"),
            "job",
            id.to_string(),
            serde_json::json!({
                "previous_status": status.as_str(),
                "deleted": applied.deleted,
            }),
        )
        .await?;
    tx.commit().await?;
    Ok(message.to_string())
}
