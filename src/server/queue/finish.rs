//! Writing an attempt's end. Every statement is fenced on the lease token:
//! a worker whose lease expired (and whose job was rescued and claimed again)
//! changes nothing.
//!
//! A token is set only while a job runs and is cleared by every transition,
//! so matching it implies `status = 'running'`; the statements do not repeat
//! that condition.

use super::outcome::Transition;
use super::stats;
use crate::domain::{JobStatus, JobType};
use crate::server::live::{self, Change};
use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

/// A successful attempt waiting to be written.
#[derive(Debug, Clone)]
pub struct Completion {
    /// Job id.
    pub id: Uuid,
    /// The holder's lease token.
    pub lease_token: Uuid,
    /// When the handler started.
    pub started_at: DateTime<Utc>,
    /// When it returned.
    pub finished_at: DateTime<Utc>,
    /// The handler's result.
    pub result: Option<serde_json::Value>,
    /// The attempt's number (for the record, should its result not fit).
    pub attempt: i32,
    /// Whose job it is (for the live console, once written).
    pub organization_id: Uuid,
    /// Its batch (whose counters the write moves).
    pub batch_id: Option<Uuid>,
    /// Its type (for the statistics).
    pub job_type: JobType,
    /// When it became runnable (its queue wait, for the statistics).
    pub available_at: DateTime<Utc>,
}

impl Completion {
    /// The successful attempt of `job` that ran from `started_at` to
    /// `finished_at`.
    pub fn of(
        job: &super::ClaimedJob,
        started_at: DateTime<Utc>,
        finished_at: DateTime<Utc>,
        result: Option<serde_json::Value>,
    ) -> Completion {
        Completion {
            id: job.id,
            lease_token: job.lease_token,
            started_at,
            finished_at,
            result,
            attempt: job.attempts,
            organization_id: job.organization_id,
            batch_id: job.batch_id,
            job_type: job.job_type,
            available_at: job.available_at,
        }
    }

    /// What live viewers learn once this completion is written.
    pub fn live_changes(&self) -> Vec<Change> {
        live::job_changes(self.organization_id, self.id, self.batch_id)
    }
}

/// Who tells live viewers of the jobs a completion statement wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompletionNotice {
    /// The statement, with a NOTIFY delivered at its commit.
    AtCommit,
    /// The caller, once the statement has returned: the worker's announcer
    /// gathers them with its claims. A NOTIFY holds PostgreSQL's one
    /// notification lock from its transaction's commit to its end, which
    /// every enqueue (whose NOTIFY wakes the workers) waits for in turn; a
    /// completion statement that announced itself stood in that line once
    /// per statement, several hundred times a second under a steady load.
    Caller,
}

/// Whether a completion statement raises `job.completed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobEvents {
    /// For the jobs whose organization has a webhook receiving it (the
    /// database decides, in the same statement).
    Raise,
    /// Not at all: the caller knows no organization of the batch listens.
    NobodyListens,
}

/// Marks many jobs completed with one statement, raising `job.completed`
/// for organizations that receive it and announcing the jobs at its
/// commit; see [`complete_many_with`].
pub async fn complete_many(
    conn: &mut PgConnection,
    completions: &[Completion],
) -> Result<Vec<Uuid>, sqlx::Error> {
    complete_many_with(
        conn,
        completions,
        JobEvents::Raise,
        CompletionNotice::AtCommit,
    )
    .await
}

/// Marks many jobs completed with one statement; returns the ids written
/// (a missing id had lost its lease). A failure record of a job that now
/// succeeded is resolved in the same statement, and with
/// [`JobEvents::Raise`] the `job.completed` events are recorded and their
/// deliveries enqueued in it too. Live viewers are told of the written
/// ones as `notice` says.
pub async fn complete_many_with(
    conn: &mut PgConnection,
    completions: &[Completion],
    events: JobEvents,
    notice: CompletionNotice,
) -> Result<Vec<Uuid>, sqlx::Error> {
    if completions.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<Uuid> = completions.iter().map(|c| c.id).collect();
    let tokens: Vec<Uuid> = completions.iter().map(|c| c.lease_token).collect();
    let started: Vec<DateTime<Utc>> = completions.iter().map(|c| c.started_at).collect();
    let finished: Vec<DateTime<Utc>> = completions.iter().map(|c| c.finished_at).collect();
    let results: Vec<Option<&serde_json::Value>> =
        completions.iter().map(|c| c.result.as_ref()).collect();
    // Announced as a whole once any was written (a job whose lease was lost
    // meanwhile is announced too: its viewers reload and see where it is).
    // Left to the caller, the statement announces nothing (no payloads) and
    // so takes no notification lock.
    let payloads = match notice {
        CompletionNotice::AtCommit => {
            let announcement: Vec<Change> = completions
                .iter()
                .flat_map(Completion::live_changes)
                .collect();
            live::feed::encode(&announcement.into())
        }
        CompletionNotice::Caller => Vec::new(),
    };
    let mut tally = stats::CompletedTally::default();
    for c in completions {
        tally.add(
            c.organization_id,
            c.job_type,
            c.available_at,
            c.started_at,
            c.finished_at,
        );
    }
    // a SELECT in WITH runs only when the query reads it: joined below
    let (raised, raised_joined) = match events {
        JobEvents::Raise => (COMPLETED_EVENTS_CTE, " cross join raised"),
        JobEvents::NobodyListens => ("", ""),
    };
    let sql = format!(
        "with done as (
           update jobs j set
             status = 'completed',
             started_at = c.started_at,
             completed_at = c.finished_at,
             result = c.result,
             error_message = null,
             error_details = null,
             failed_at = null,
             lease_token = null,
             locked_by = null,
             updated_at = now()
           from unnest($1::uuid[], $2::uuid[], $3::timestamptz[], $4::timestamptz[], $5::jsonb[])
             as c (id, lease_token, started_at, finished_at, result)
           where j.id = c.id
             and j.lease_token = c.lease_token
           returning j.id, j.organization_id
         ),
         resolved as (
           update failed_jobs f set
             is_resolved = true,
             resolved_at = now(),
             resolution = 'Completed on a later attempt.'
           from done
           where f.job_id = done.id and not f.is_resolved
         ),
         {},
         {}{raised}
         select done.id from done cross join announced{raised_joined}",
        stats::CompletedTally::cte("done", 7),
        live::feed::announced_cte("done", 6),
    );
    let query = sqlx::query_scalar(&sql)
        .bind(&ids)
        .bind(&tokens)
        .bind(&started)
        .bind(&finished)
        .bind(&results)
        .bind(&payloads);
    tally.bind(query).fetch_all(conn).await
}

/// A common table expression `raised` (one row, after a comma) that
/// raises `job.completed` for the jobs of `done` whose organization has a
/// webhook receiving it (migration 0029).
const COMPLETED_EVENTS_CTE: &str = ",
         raised as (
           select jobs_raise_completed_events(array_agg(id), array_agg(organization_id))
           from done
         )";

/// The job an outcome is written for.
#[derive(Debug, Clone, Copy)]
pub struct HeldJob {
    /// Job id.
    pub id: Uuid,
    /// The holder's lease token.
    pub lease_token: Uuid,
    /// Whose job it is.
    pub organization_id: Uuid,
    /// Its batch.
    pub batch_id: Option<Uuid>,
}

/// Applies one non-success transition; `false` if the lease was lost. Live
/// viewers are told of the change (and of a failure record it opened) in
/// the same statement.
pub async fn finish(
    conn: &mut PgConnection,
    job: HeldJob,
    started_at: DateTime<Utc>,
    transition: &Transition,
) -> Result<bool, sqlx::Error> {
    let mut changes = live::job_changes(job.organization_id, job.id, job.batch_id);
    if transition.status == JobStatus::Failed {
        changes.extend(live::failure_changes(job.organization_id, job.id));
    }
    let payloads = live::feed::encode(&changes.into());
    let written: i64 = sqlx::query_scalar(&format!(
        "with before as (
           select available_at from jobs where id = $1 and lease_token = $2
         ),
         updated as (
         update jobs set
           status = $3,
           started_at = $4,
           available_at = coalesce($5, available_at),
           attempts = attempts - $6,
           error_message = $7,
           error_details = $8,
           failed_at = case when $3 = 'failed' then now() end,
           completed_at = case when $3 = 'cancelled' then now() end,
           cancelled_at = case when $3 = 'cancelled' then now() end,
           attempt_log = attempt_log || jsonb_build_array($9::jsonb),
           cancel_requested_at = null,
           lease_token = null,
           locked_by = null,
           updated_at = now()
         where id = $1 and lease_token = $2
         returning id, organization_id, job_type
         ),
         ended as (
           select u.organization_id, u.job_type, $11::text as outcome, {} as minute,
                  {} as wait_ms, {} as run_ms
           from updated u cross join before b
           where $11 is not null
         ),
         {},
         {}
         select count(*) from updated cross join announced",
        stats::minute_of("now()"),
        stats::millis_between("b.available_at", "$4"),
        stats::millis_between("$4", "now()"),
        stats::recorded_cte("ended"),
        live::feed::announced_cte("updated", 10)
    ))
    .bind(job.id)
    .bind(job.lease_token)
    .bind(transition.status.as_str())
    .bind(started_at)
    .bind(transition.available_at)
    .bind(i32::from(transition.refund_attempt))
    .bind(transition.error_message.as_deref())
    .bind(transition.error_details.as_ref())
    .bind(sqlx::types::Json(&transition.log_entry))
    .bind(&payloads)
    .bind(transition.counted_outcome())
    .fetch_one(conn)
    .await?;
    Ok(written == 1)
}

/// Hands held jobs back without spending their attempt (graceful shutdown,
/// jobs claimed but never started) and drops the lease rows in `leases`,
/// whose jobs are now all written or returned. Returns how many jobs went
/// back.
pub async fn release(
    conn: &mut PgConnection,
    held: &[(Uuid, Uuid)],
    leases: &[Uuid],
) -> Result<u64, sqlx::Error> {
    let ids: Vec<Uuid> = held.iter().map(|(id, _)| *id).collect();
    let tokens: Vec<Uuid> = held.iter().map(|(_, token)| *token).collect();
    let released: i64 = sqlx::query_scalar(
        "with released as (
           update jobs j set
             status = 'pending',
             attempts = j.attempts - 1,
             started_at = case when j.attempts = 1 then null else j.started_at end,
             lease_token = null,
             locked_by = null,
             updated_at = now()
           from unnest($1::uuid[], $2::uuid[]) as h (id, lease_token)
           where j.id = h.id and j.lease_token = h.lease_token
           returning j.id
         ),
         dropped as (
           delete from job_leases where lease_token = any ($3)
         )
         select count(*) from released",
    )
    .bind(&ids)
    .bind(&tokens)
    .bind(leases)
    .fetch_one(&mut *conn)
    .await?;
    if released > 0 {
        super::control::notify_queues_with_work(conn).await?;
    }
    Ok(released as u64)
}
