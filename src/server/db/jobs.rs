//! SQL for jobs.

use super::{list, Tx};
use crate::domain::{Cursor, JobAction, JobListFilters, JobRow, JobStatus, PAGE_SIZE};
use crate::server::queue::{CANCEL_CHANNEL, JOBS_CHANNEL};
use sqlx::{PgConnection, Postgres, QueryBuilder};
use uuid::Uuid;

/// Filters of the Jobs tab.
#[derive(Debug, Clone, Default)]
pub struct JobFilter {
    /// Organization condition (see [`super::Scope::organization_filter`]).
    pub organization_id: Option<Uuid>,
    /// Only jobs in this status.
    pub status: Option<JobStatus>,
    /// Type, priority, queue, batch, time range and name text.
    pub more: JobListFilters,
    /// Only these jobs (a selection); empty means no such condition.
    pub ids: Vec<Uuid>,
}

impl JobFilter {
    /// Exactly one job of `organization` (any visible one when `None`).
    pub fn one(organization: Option<Uuid>, id: Uuid) -> Self {
        JobFilter {
            organization_id: organization,
            ids: vec![id],
            ..JobFilter::default()
        }
    }
}

impl JobFilter {
    /// Adds this filter's conditions on jobs aliased `j` (lists, counts and
    /// bulk actions use the same conditions, so a preview counts what the
    /// action then touches).
    pub fn push_conditions(&self, query: &mut QueryBuilder<'_, Postgres>) {
        list::organization(query, "j", self.organization_id);
        list::equals(
            query,
            "j.status",
            self.status.map(|s| s.as_str().to_string()),
        );
        if !self.ids.is_empty() {
            query
                .push("\n  and j.id = any(")
                .push_bind(self.ids.clone())
                .push(")");
        }
        let more = &self.more;
        list::equals(
            query,
            "j.job_type",
            more.job_type.map(|t| t.as_str().to_string()),
        );
        list::equals(
            query,
            "j.priority",
            more.priority.map(|p| p.as_str().to_string()),
        );
        list::equals(query, "j.queue", more.queue.clone());
        if let Some(batch) = more.batch_id {
            query.push("\n  and j.batch_id = ").push_bind(batch);
        }
        if let Some(from) = more.created_from {
            query.push("\n  and j.created_at >= ").push_bind(from);
        }
        if let Some(to) = more.created_to {
            query.push("\n  and j.created_at < ").push_bind(to);
        }
        if let Some(text) = &more.name_contains {
            query
                .push("\n  and j.job_name ilike ")
                .push_bind(format!("%{}%", escape_like(text)));
        }
    }
}

/// Escapes `%`, `_` and `\\` so user text matches literally in LIKE.
fn escape_like(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

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
    super::lock_status(tx, "jobs", organization, id).await
}

/// Most jobs one bulk action may touch.
pub const BULK_LIMIT: i64 = 10_000;

/// How many jobs match `filter`, and how many of those `action` applies to.
pub async fn count_for(
    tx: &mut Tx,
    filter: &JobFilter,
    action: JobAction,
) -> Result<(i64, i64), sqlx::Error> {
    let mut query = QueryBuilder::new("select count(*), count(*) filter (where j.status = any(");
    query
        .push_bind(eligible_statuses(action))
        .push("))\nfrom jobs j\nwhere true");
    filter.push_conditions(&mut query);
    query.build_query_as().fetch_one(&mut **tx).await
}

/// Applies `action` to every job matching `filter` that it applies to, with
/// one statement; returns how many jobs changed.
///
/// - cancel: pending jobs are cancelled (`reason` is their error message);
///   running ones get a cancellation request their worker hears by NOTIFY;
/// - retry: failed and cancelled jobs go back to pending with fresh attempts
///   (an open failure record counts the retry); pending ones become due now;
/// - delete: finished jobs are removed (their failure records go with them).
pub async fn apply(
    conn: &mut PgConnection,
    filter: &JobFilter,
    action: JobAction,
    reason: &str,
) -> Result<i64, sqlx::Error> {
    let mut query = QueryBuilder::new(
        "with target as materialized (\n  select j.id from jobs j\n  where j.status = any(",
    );
    query.push_bind(eligible_statuses(action)).push(")");
    filter.push_conditions(&mut query);
    query.push("\n  order by j.id\n  for update of j\n),\n");
    match action {
        JobAction::Cancel => {
            query
                .push(
                    "cancelled as (
  update jobs j set status = 'cancelled', completed_at = now(), error_message = ",
                )
                .push_bind(reason.to_string())
                .push(format!(
                    ", updated_at = now()
  from target t where j.id = t.id and j.status = 'pending'
  returning j.id
),
requested as (
  update jobs j set cancel_requested_at = now(), updated_at = now()
  from target t where j.id = t.id and j.status = 'running'
  returning j.id
)
select (select count(*) from cancelled) + (select count(*) from requested),
       (select count(pg_notify('{CANCEL_CHANNEL}', id::text)) from requested)"
                ));
        }
        JobAction::Retry => {
            query.push(format!(
                "changed as (
  update jobs j set
    status = 'pending',
    available_at = now(),
    attempts = case when j.status = 'pending' then j.attempts else 0 end,
    failed_at = null,
    completed_at = null,
    cancel_requested_at = null,
    updated_at = now()
  from target t where j.id = t.id
  returning j.id, j.queue
),
counted as (
  update failed_jobs f set retry_count = f.retry_count + 1
  from changed where f.job_id = changed.id and not f.is_resolved
)
select (select count(*) from changed),
       (select count(pg_notify('{JOBS_CHANNEL}', queue))
        from (select distinct queue from changed) q)"
            ));
        }
        JobAction::Delete => {
            query.push(
                "deleted as (delete from jobs j using target t where j.id = t.id returning j.id)
select count(*), 0::bigint from deleted",
            );
        }
    }
    // The second column counts wake-ups sent; selecting it makes them happen.
    let (changed, _notified): (i64, i64) = query.build_query_as().fetch_one(conn).await?;
    Ok(changed)
}

/// The statuses `action` applies to.
fn eligible_statuses(action: JobAction) -> Vec<String> {
    JobStatus::ALL
        .iter()
        .filter(|status| action.allowed(**status))
        .map(|status| status.as_str().to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn like_wildcards_in_search_text_match_literally() {
        assert_eq!(super::escape_like("50%_off\\"), "50\\%\\_off\\\\");
        assert_eq!(super::escape_like("plain"), "plain");
    }
}
