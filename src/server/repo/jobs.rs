//! SQL for jobs.

use crate::domain::{Cursor, JobAction, JobRow, JobStatus, PAGE_SIZE};
use crate::server::db::{list, JobFilter, Tx};
use crate::server::queue::actions::push_eligible;
use sqlx::QueryBuilder;
use uuid::Uuid;

/// One page of jobs, newest first.
pub async fn list(
    tx: &mut Tx,
    filter: &JobFilter,
    cursor: Option<Cursor>,
) -> Result<Vec<JobRow>, sqlx::Error> {
    const JOB_COLUMNS: &str = "j.id, j.organization_id, j.job_type, j.job_name, j.status,
         j.priority, j.queue, j.attempts, j.max_attempts, j.batch_id, j.available_at,
         j.error_message, j.created_at";
    let mut query = if filter.organization_id.is_some() {
        list::select(
            &format!("{JOB_COLUMNS}, o.name as organization_name"),
            "jobs j join organizations o on o.id = j.organization_id",
        )
    } else {
        // Jobs have no bank-wide index on creation order (one index entry
        // less per enqueued job): take each organization's newest page from
        // its own index, then merge those pages.
        QueryBuilder::new(format!(
            "select j.*, o.name as organization_name
             from organizations o
             cross join lateral (
             select {JOB_COLUMNS}
             from jobs j
             where j.organization_id = o.id"
        ))
    };
    filter.push_conditions(&mut query);
    list::page(&mut query, "j", cursor);
    if filter.organization_id.is_none() {
        query
            .push("\n) j\norder by j.created_at desc, j.id desc\nlimit ")
            .push_bind(PAGE_SIZE + 1);
    }
    query.build_query_as().fetch_all(&mut **tx).await
}

/// One job with everything the detail view shows.
pub async fn detail(
    tx: &mut Tx,
    organization: Option<Uuid>,
    id: Uuid,
) -> Result<Option<crate::domain::JobDetail>, sqlx::Error> {
    sqlx::query_as(
        "select j.id, j.organization_id, o.name as organization_name, j.job_type, j.job_name,
                j.payload, j.status, j.priority, j.queue, j.attempts, j.max_attempts,
                j.timeout_seconds, j.available_at, j.started_at, j.completed_at, j.failed_at,
                j.error_message, j.error_details, j.result, j.attempt_log, j.batch_id,
                b.batch_name, j.locked_by, j.cancel_requested_at, j.created_at, j.updated_at
         from jobs j
         join organizations o on o.id = j.organization_id
         left join job_batches b on b.id = j.batch_id
         where j.id = $1 and ($2::uuid is null or j.organization_id = $2)",
    )
    .bind(id)
    .bind(organization)
    .fetch_optional(&mut **tx)
    .await
}

/// The job's organization and status, locked for an action.
pub async fn lock(
    tx: &mut Tx,
    organization: Option<Uuid>,
    id: Uuid,
) -> Result<Option<(Uuid, JobStatus)>, sqlx::Error> {
    crate::server::db::lock_status(tx, "jobs", organization, id).await
}

/// Most jobs one bulk action may touch.
pub const BULK_LIMIT: i64 = 10_000;

/// How many jobs match `filter`, and how many of those `action` applies to.
pub async fn count_for(
    tx: &mut Tx,
    filter: &JobFilter,
    action: JobAction,
) -> Result<(i64, i64), sqlx::Error> {
    let mut query = QueryBuilder::new("select count(*), count(*) filter (where ");
    push_eligible(&mut query, action);
    query.push(")\nfrom jobs j\nwhere true");
    filter.push_conditions(&mut query);
    query.build_query_as().fetch_one(&mut **tx).await
}
