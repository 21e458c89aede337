//! Leases: one `job_leases` row per claim (and organization), renewed by
//! the holder's heartbeat; the rescuer returns the jobs of leases whose
//! holder stopped renewing them (a crashed or partitioned worker).

use super::JOBS_CHANNEL;
use crate::domain::live::Topic;
use crate::server::live::{self, Announcement};
use sqlx::PgConnection;
use std::time::Duration;
use uuid::Uuid;

/// A held job as the heartbeat saw it.
#[derive(Debug, Clone, Copy, sqlx::FromRow)]
pub struct Renewed {
    /// Job id (still held by us).
    pub id: Uuid,
    /// Someone asked to cancel it.
    pub cancel_requested: bool,
}

/// Extends the claims' leases in `renew`, drops the lease rows of claims in
/// `finished` (every job written), and returns which of the `held` (id,
/// token) pairs are still held. A job missing from the answer was rescued:
/// its holder must stop.
pub async fn heartbeat(
    conn: &mut PgConnection,
    held: &[(Uuid, Uuid)],
    renew: &[Uuid],
    finished: &[Uuid],
    lease: Duration,
) -> Result<Vec<Renewed>, sqlx::Error> {
    let ids: Vec<Uuid> = held.iter().map(|(id, _)| *id).collect();
    let tokens: Vec<Uuid> = held.iter().map(|(_, token)| *token).collect();
    sqlx::query_as(
        "with renewed as (
           update job_leases set locked_until = now() + make_interval(secs => $3)
           where lease_token = any ($4)
         ),
         dropped as (
           delete from job_leases where lease_token = any ($5)
         )
         select j.id, j.cancel_requested_at is not null as cancel_requested
         from unnest($1::uuid[], $2::uuid[]) as h (id, lease_token)
         join jobs j on j.id = h.id and j.lease_token = h.lease_token",
    )
    .bind(&ids)
    .bind(&tokens)
    .bind(lease.as_secs_f64())
    .bind(renew)
    .bind(finished)
    .fetch_all(conn)
    .await
}

/// What one rescue pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rescued {
    /// Returned to pending for another attempt.
    pub retried: u64,
    /// Out of attempts: failed.
    pub failed: u64,
    /// Cancellation had been requested: cancelled.
    pub cancelled: u64,
    /// Expired lease rows removed (a claim whose jobs all finished counts
    /// here without returning any job).
    pub leases: u64,
}

/// Returns the jobs of up to `limit` expired leases (claims whose holder
/// stopped renewing them) that still carry the lease's token. The lost
/// attempt counts: a job out of attempts fails with a failed_jobs record,
/// and a job whose cancellation was requested is cancelled.
pub async fn rescue(conn: &mut PgConnection, limit: i64) -> Result<Rescued, sqlx::Error> {
    let rows: Vec<(String, i64)> = sqlx::query_as(&format!(
        "with expired as materialized (
           select lease_token, organization_id, job_ids
           from job_leases
           where locked_until < now()
           order by locked_until
           limit $1
           for update skip locked
         ),
         dropped as (
           delete from job_leases l using expired e
           where l.lease_token = e.lease_token and l.organization_id = e.organization_id
         ),
         held as (
           select e.lease_token, h.id
           from expired e cross join unnest(e.job_ids) as h (id)
         ),
         rescued as (
           update jobs j set
             status = case
               when j.cancel_requested_at is not null then 'cancelled'
               when j.attempts >= j.max_attempts then 'failed'
               else 'pending' end,
             available_at = now(),
             error_message = case
               when j.cancel_requested_at is not null then 'Cancelled while its worker was unreachable.'
               else 'The worker running this job stopped responding before it finished.' end,
             error_details = jsonb_build_object(
               'kind', 'lease_expired',
               'attempt', j.attempts,
               'locked_by', j.locked_by,
               'stack_trace', 'lease_expired: worker ' || coalesce(j.locked_by, 'unknown')
                 || ' stopped renewing its lease'),
             failed_at = case
               when j.cancel_requested_at is null and j.attempts >= j.max_attempts then now() end,
             completed_at = case when j.cancel_requested_at is not null then now() end,
             cancelled_at = case when j.cancel_requested_at is not null then now() end,
             attempt_log = j.attempt_log || jsonb_build_array(jsonb_build_object(
               'attempt', j.attempts,
               'started_at', j.started_at,
               'finished_at', now(),
               'outcome', 'lost',
               'kind', 'lease_expired',
               'error', 'worker ' || coalesce(j.locked_by, 'unknown') || ' stopped responding')),
             cancel_requested_at = null,
             lease_token = null,
             locked_by = null,
             updated_at = now()
           from held
           where j.id = held.id and j.lease_token = held.lease_token
           returning j.status, j.queue, j.organization_id, j.job_type
         ),
         ended as (
           select organization_id, job_type,
                  case status::text when 'pending' then 'retried' else status::text end as outcome,
                  {now_minute} as minute, null::float8 as wait_ms, null::float8 as run_ms
           from rescued
         ),
         {stats},
         woken as (
           select count(pg_notify('{JOBS_CHANNEL}', queue))
           from (select distinct queue from rescued where status = 'pending') q
         )
         select status::text, count(*) from rescued, woken group by status
         union all
         select 'lease', count(*) from expired
         union all
         select 'organization ' || organization_id::text, 0 from expired group by organization_id",
        stats = super::stats::recorded_cte("ended"),
        now_minute = super::stats::minute_of("now()")
    ))
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    let mut rescued = Rescued::default();
    let mut touched = Announcement::default();
    for (status, count) in rows {
        if let Some(organization) = status.strip_prefix("organization ") {
            if let Ok(organization) = organization.parse() {
                for topic in [Topic::Jobs, Topic::Batches, Topic::FailedJobs] {
                    touched.overflow.push((organization, topic));
                }
            }
            continue;
        }
        let count = count as u64;
        match status.as_str() {
            "lease" => rescued.leases += count,
            "pending" => rescued.retried += count,
            "failed" => rescued.failed += count,
            _ => rescued.cancelled += count,
        }
    }
    // Rare, and of few jobs: their organizations' viewers reload.
    live::feed::announce_committed(conn, touched).await?;
    Ok(rescued)
}
