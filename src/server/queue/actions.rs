//! The console's actions on jobs: cancel, retry and delete (one job, a
//! selection, or everything a filter matches) and cancelling a batch. Like
//! every other write of a job's state, they live in the engine, which keeps
//! its queue entries and wake-ups consistent with them.

use super::stats;
use super::{CANCEL_CHANNEL, JOBS_CHANNEL};
use crate::domain::live::{Topic, MAX_IDS_PER_UPDATE};
use crate::domain::{JobAction, JobStatus};
use crate::server::db::JobFilter;
use crate::server::live::{self, Announcement, Change};
use sqlx::{PgConnection, Postgres, QueryBuilder};
use uuid::Uuid;

/// What one application of an action did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Applied {
    /// Jobs changed (or removed).
    pub changed: i64,
    /// For deletions, what was deleted (id, name, type, status of each), for
    /// the audit log: the rows themselves are gone.
    pub deleted: serde_json::Value,
}

/// Adds the condition "`action` applies to job `j`": its status allows it,
/// and a deletion never takes a job whose failure is still open.
pub fn push_eligible(query: &mut QueryBuilder<'_, Postgres>, action: JobAction) {
    query
        .push("j.status = any(")
        .push_bind(eligible_statuses(action))
        .push(")");
    if action == JobAction::Delete {
        query.push(
            " and not exists (select 1 from failed_jobs f where f.job_id = j.id and not f.is_resolved)",
        );
    }
}

/// Applies `action` to every job matching `filter` that it applies to, with
/// one statement.
///
/// - cancel: pending jobs are cancelled (`reason` is their error message);
///   running ones get a cancellation request their worker hears by NOTIFY;
/// - retry: failed and cancelled jobs go back to pending with fresh attempts
///   (an open failure record counts the retry); pending ones become due now;
/// - delete: finished jobs without an open failure are removed (their
///   resolved failure records go with them).
pub async fn apply(
    conn: &mut PgConnection,
    filter: &JobFilter,
    action: JobAction,
    reason: &str,
) -> Result<Applied, sqlx::Error> {
    let mut query = QueryBuilder::new(
        "with target as materialized (\n  select j.id, j.organization_id from jobs j\n  where ",
    );
    push_eligible(&mut query, action);
    filter.push_conditions(&mut query);
    query.push("\n  order by j.id\n  for update of j\n),\n");
    match action {
        JobAction::Cancel => {
            query
                .push(
                    "cancelled as (
  update jobs j set status = 'cancelled', completed_at = now(), cancelled_at = now(),
                    error_message = ",
                )
                .push_bind(reason.to_string())
                .push(format!(
                    ", updated_at = now()
  from target t where j.id = t.id and j.status = 'pending'
  returning j.id, j.organization_id, j.job_type
),
ended as (
  select organization_id, job_type, 'cancelled' as outcome, {now_minute} as minute,
         null::float8 as wait_ms, null::float8 as run_ms
  from cancelled
),
{stats},
requested as (
  update jobs j set cancel_requested_at = now(), updated_at = now()
  from target t where j.id = t.id and j.status = 'running'
  returning j.id
)
select (select count(*) from cancelled) + (select count(*) from requested),
       (select count(pg_notify('{CANCEL_CHANNEL}', id::text)) from requested),
       '[]'::jsonb,
       {TOUCHED}",
                    stats = stats::recorded_cte("ended"),
                    now_minute = stats::minute_of("now()")
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
    cancelled_at = null,
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
        from (select distinct queue from changed) q),
       '[]'::jsonb,
       {TOUCHED}"
            ));
        }
        JobAction::Delete => {
            query.push(format!(
                "deleted as (
  delete from jobs j using target t where j.id = t.id
  returning j.id, j.job_name, j.job_type, j.status
)
select count(*), 0::bigint,
       coalesce(jsonb_agg(jsonb_build_object(
         'id', id, 'name', job_name, 'type', job_type, 'status', status)), '[]'::jsonb),
       {TOUCHED}
from deleted"
            ));
        }
    }
    // The second column counts wake-ups sent; selecting it makes them happen.
    let (changed, _notified, deleted, organizations, named): (
        i64,
        i64,
        serde_json::Value,
        Vec<Uuid>,
        Vec<(Uuid, Uuid)>,
    ) = query.build_query_as().fetch_one(&mut *conn).await?;
    live::announce(conn, touched(&organizations, &named)).await?;
    Ok(Applied { changed, deleted })
}

/// The columns that say which jobs an action touched: the organizations,
/// and (organization, job) pairs for the first few jobs (enough to name them
/// all when the action touched few).
const TOUCHED: &str = "array(select distinct t.organization_id from target t),
       array(select (t.organization_id, t.id) from target t order by t.id limit 101)";

/// What viewers are told of an action: the jobs by id when few, otherwise
/// a reload of each organization's jobs; batch counters and failure records
/// may have moved with them, so those views of each organization reload.
fn touched(organizations: &[Uuid], named: &[(Uuid, Uuid)]) -> Announcement {
    let mut announcement = Announcement::default();
    if named.len() > MAX_IDS_PER_UPDATE {
        announcement
            .overflow
            .extend(organizations.iter().map(|org| (*org, Topic::Jobs)));
    } else {
        announcement
            .changes
            .extend(named.iter().map(|(organization_id, id)| Change {
                organization_id: *organization_id,
                topic: Topic::Jobs,
                id: *id,
            }));
    }
    for organization in organizations {
        announcement.overflow.push((*organization, Topic::Batches));
        announcement
            .overflow
            .push((*organization, Topic::FailedJobs));
    }
    announcement
}

/// The statuses `action` applies to.
pub fn eligible_statuses(action: JobAction) -> Vec<String> {
    JobStatus::ALL
        .iter()
        .filter(|status| action.allowed(**status))
        .map(|status| status.as_str().to_string())
        .collect()
}

/// What a cancel request did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelResult {
    /// The job was pending and is now cancelled.
    Cancelled,
    /// The job is running; its worker was asked to stop it.
    Requested,
    /// The job already finished (completed, failed or cancelled).
    AlreadyFinished,
    /// No such job (or not visible to the caller).
    NotFound,
}

/// Cancels a pending job at once, or asks the worker holding a running job
/// to stop it (NOTIFY now; its heartbeat notices too, should the NOTIFY be
/// missed). `organization` limits the job to one organization.
pub async fn cancel_job(
    conn: &mut PgConnection,
    id: Uuid,
    organization: Option<Uuid>,
    reason: &str,
) -> Result<CancelResult, sqlx::Error> {
    let status: Option<String> = sqlx::query_scalar(
        "select status from jobs where id = $1 and ($2::uuid is null or organization_id = $2)
         for update",
    )
    .bind(id)
    .bind(organization)
    .fetch_optional(&mut *conn)
    .await?;
    let result = match status.as_deref().and_then(JobStatus::parse) {
        None => return Ok(CancelResult::NotFound),
        Some(JobStatus::Pending) => CancelResult::Cancelled,
        Some(JobStatus::Running) => CancelResult::Requested,
        Some(_) => return Ok(CancelResult::AlreadyFinished),
    };
    apply(
        conn,
        &JobFilter::one(organization, id),
        JobAction::Cancel,
        reason,
    )
    .await?;
    Ok(result)
}

/// Cancels batch `id` of `organization_id` and its pending jobs (running
/// ones finish); returns how many jobs were cancelled.
pub async fn cancel_batch(
    conn: &mut PgConnection,
    organization_id: Uuid,
    id: Uuid,
) -> Result<u64, sqlx::Error> {
    sqlx::query(
        "update job_batches set cancelled_at = now() where id = $1 and organization_id = $2",
    )
    .bind(id)
    .bind(organization_id)
    .execute(&mut *conn)
    .await?;
    let cancelled: i64 = sqlx::query_scalar(&format!(
        "with cancelled as (
           update jobs set status = 'cancelled', completed_at = now(), cancelled_at = now(),
                           error_message = 'The batch was cancelled.', updated_at = now()
           where batch_id = $1 and status = 'pending'
           returning organization_id, job_type
         ),
         ended as (
           select organization_id, job_type, 'cancelled' as outcome, {} as minute,
                  null::float8 as wait_ms, null::float8 as run_ms
           from cancelled
         ),
         {}
         select count(*) from cancelled",
        stats::minute_of("now()"),
        stats::recorded_cte("ended")
    ))
    .bind(id)
    .fetch_one(&mut *conn)
    .await?;
    sqlx::query("select job_batches_refresh_status(array[$1]::uuid[])")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    live::announce(
        conn,
        Announcement {
            changes: vec![Change {
                organization_id,
                topic: Topic::Batches,
                id,
            }],
            overflow: vec![(organization_id, Topic::Jobs)],
        },
    )
    .await?;
    Ok(cancelled as u64)
}
