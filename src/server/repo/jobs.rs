//! SQL for jobs.

use crate::domain::{Cursor, JobAction, JobRow, JobStatus, PAGE_SIZE};
use crate::server::db::{list, JobFilter, Tx};
use crate::server::queue::actions::push_eligible;
use sqlx::{Postgres, QueryBuilder};
use uuid::Uuid;

/// The columns a Jobs-tab row reads from `jobs j`.
const JOB_COLUMNS: &str = "j.id, j.organization_id, j.job_type, j.job_name, j.status,
     j.priority, j.queue, j.attempts, j.max_attempts, j.batch_id, j.available_at,
     j.error_message, j.created_at";

/// Jobs one page of a search examines per organization (see [`list`]).
pub const SEARCH_WINDOW: i64 = 10_000;

/// One page of jobs, newest first, and — when the page was searched through
/// a window and ended short — the position the search reached.
#[derive(Debug)]
pub struct JobPage {
    /// Up to a page and one row.
    pub rows: Vec<JobRow>,
    /// Where the search stopped before reaching the oldest job; the next
    /// page continues from here.
    pub searched_to: Option<Cursor>,
}

/// One page of jobs, newest first.
///
/// A filter that has no index of its own — a job type, a text in the name —
/// would walk an organization's jobs newest first until a page matched,
/// which for a type the organization has few of means all of them. Such a
/// filter examines at most [`SEARCH_WINDOW`] jobs per organization and
/// page: a page that fills stays a page; one that does not ends where the
/// search stopped, and the next continues from there
/// ([`JobPage::searched_to`]). Every other filter reaches its rows through
/// an index and pages as usual.
pub async fn list(
    tx: &mut Tx,
    filter: &JobFilter,
    cursor: Option<Cursor>,
) -> Result<JobPage, sqlx::Error> {
    if filter.walks_the_organization_index() {
        return search(tx, filter, cursor).await;
    }
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
    Ok(JobPage {
        rows: query.build_query_as().fetch_all(&mut **tx).await?,
        searched_to: None,
    })
}

/// [`list`] for filters without an index: each organization's newest
/// [`SEARCH_WINDOW`] jobs after the cursor, filtered, merged newest first.
async fn search(
    tx: &mut Tx,
    filter: &JobFilter,
    cursor: Option<Cursor>,
) -> Result<JobPage, sqlx::Error> {
    let mut query = QueryBuilder::new(format!(
        "select j.*, o.name as organization_name
         from organizations o
         cross join lateral (
         select j.* from (
         select {JOB_COLUMNS}
         from jobs j
         where j.organization_id = o.id"
    ));
    push_window(&mut query, filter, cursor);
    query.push(" limit ").push_bind(SEARCH_WINDOW);
    query.push(") j\nwhere true");
    filter.push_conditions(&mut query);
    query
        .push("\norder by j.created_at desc, j.id desc\nlimit ")
        .push_bind(PAGE_SIZE + 1)
        .push("\n) j\nwhere true");
    only_organization(&mut query, filter.organization_id);
    query
        .push("\norder by j.created_at desc, j.id desc\nlimit ")
        .push_bind(PAGE_SIZE + 1);
    let mut rows: Vec<JobRow> = query.build_query_as().fetch_all(&mut **tx).await?;
    if rows.len() as i64 > PAGE_SIZE {
        return Ok(JobPage {
            rows,
            searched_to: None,
        });
    }
    // Short: the search reached the end of every organization's jobs, or
    // stopped at some organization's window. Everything at or after the
    // newest window end has been examined in every organization; rows
    // beyond it are left for the next page, which starts there.
    let searched_to = window_end(tx, filter, cursor).await?;
    if let Some(end) = searched_to {
        rows.retain(|row| (row.created_at, row.id) >= (end.created_at, end.id));
    }
    Ok(JobPage { rows, searched_to })
}

/// The newest of the organizations' window ends: the last job each
/// organization's window examined, for those with more jobs beyond it.
async fn window_end(
    tx: &mut Tx,
    filter: &JobFilter,
    cursor: Option<Cursor>,
) -> Result<Option<Cursor>, sqlx::Error> {
    let mut query = QueryBuilder::new(
        "select e.created_at, e.id
         from organizations o
         cross join lateral (
         select j.created_at, j.id
         from jobs j
         where j.organization_id = o.id",
    );
    push_window(&mut query, filter, cursor);
    query.push(" offset ").push_bind(SEARCH_WINDOW - 1);
    query.push(" limit 1) e\nwhere true");
    only_organization(&mut query, filter.organization_id);
    query.push("\norder by e.created_at desc, e.id desc\nlimit 1");
    let end: Option<(chrono::DateTime<chrono::Utc>, Uuid)> =
        query.build_query_as().fetch_optional(&mut **tx).await?;
    Ok(end.map(|(created_at, id)| Cursor { created_at, id }))
}

/// Narrows `organizations o` to `organization`, when given.
fn only_organization(query: &mut QueryBuilder<'_, Postgres>, organization: Option<Uuid>) {
    if let Some(organization) = organization {
        query.push("\n  and o.id = ").push_bind(organization);
    }
}

/// An organization's jobs (`j`, already narrowed to it) that a search
/// window walks: in the time range, after the cursor, newest first, at most
/// [`SEARCH_WINDOW`] once the caller adds its `limit` (or `offset`).
fn push_window(query: &mut QueryBuilder<'_, Postgres>, filter: &JobFilter, cursor: Option<Cursor>) {
    let range = JobFilter {
        organization_id: None,
        status: None,
        more: crate::domain::JobListFilters {
            created_from: filter.more.created_from,
            created_to: filter.more.created_to,
            ..Default::default()
        },
        ids: Vec::new(),
    };
    range.push_conditions(query);
    if let Some(cursor) = cursor {
        query
            .push("\n  and (j.created_at, j.id) < (")
            .push_bind(cursor.created_at)
            .push(", ")
            .push_bind(cursor.id)
            .push(")");
    }
    query.push("\norder by j.created_at desc, j.id desc");
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
