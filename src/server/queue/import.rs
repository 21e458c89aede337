//! Loading jobs as they already are, with their history: the demo data, and
//! later imports from another system. The one way to write a job in any
//! state other than by enqueueing and running it.

use crate::domain::{JobStatus, JobType, Priority};
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

/// A job in the state another system (or the demo) had it in.
#[derive(Debug, Clone)]
pub struct ImportedJob {
    /// Whose job it is.
    pub organization_id: Uuid,
    /// What it does.
    pub job_type: JobType,
    /// Its name.
    pub job_name: String,
    /// Its input.
    pub payload: Value,
    /// Where it stands.
    pub status: JobStatus,
    /// Claim order.
    pub priority: Priority,
    /// Its queue (registered if new).
    pub queue: String,
    /// Attempts spent.
    pub attempts: i32,
    /// Attempts it may use.
    pub max_attempts: i32,
    /// When it was created (and became due).
    pub created_at: DateTime<Utc>,
    /// When a waiting job is due (its creation when not given).
    pub available_at: Option<DateTime<Utc>>,
    /// When its last attempt started.
    pub started_at: Option<DateTime<Utc>>,
    /// When it finished, if it did.
    pub finished_at: Option<DateTime<Utc>>,
    /// Its last error.
    pub error_message: Option<String>,
    /// The last error's details (see `JobError::details`).
    pub error_details: Option<Value>,
    /// A completed job's result.
    pub result: Option<Value>,
    /// Its batch (of the same organization).
    pub batch_id: Option<Uuid>,
    /// Who created it.
    pub created_by: Option<Uuid>,
}

/// Inserts `job` as it is; returns its id. The usual triggers follow: a
/// pending job gets its queue entry and wake-up, a failed one its failure
/// record, a batch its counters. A running job is held by a worker that is
/// gone: it gets a lease that has already expired, so the rescuer returns it
/// to its queue, as after a crash.
pub async fn import_job(conn: &mut PgConnection, job: &ImportedJob) -> Result<Uuid, sqlx::Error> {
    let finished = job.finished_at;
    sqlx::query_scalar(
        "with job as (
           insert into jobs (organization_id, job_type, job_name, payload, status, priority, queue,
                             attempts, max_attempts, available_at, started_at, completed_at,
                             failed_at, error_message, error_details, result, batch_id, created_by,
                             created_at, updated_at, lease_token, locked_by, cancelled_at)
           values ($1, $2, $3, $4, $5, $6, $7, $8, $9, coalesce($19, $10), $11, $12, $13, $14, $15,
                   $16, $17, $18, $10, $10,
                   case when $5 = 'running' then gen_random_uuid() end,
                   case when $5 = 'running' then 'imported' end,
                   case when $5 = 'cancelled' then $12 end)
           returning id, organization_id, lease_token
         ),
         lease as (
           insert into job_leases (lease_token, organization_id, worker_id, locked_until, job_ids)
           select lease_token, organization_id, 'imported', now(), array[id]
           from job
           where lease_token is not null
         )
         select id from job",
    )
    .bind(job.organization_id)
    .bind(job.job_type.as_str())
    .bind(&job.job_name)
    .bind(&job.payload)
    .bind(job.status.as_str())
    .bind(job.priority.as_str())
    .bind(&job.queue)
    .bind(job.attempts)
    .bind(job.max_attempts)
    .bind(job.created_at)
    .bind(job.started_at)
    .bind(finished.filter(|_| matches!(job.status, JobStatus::Completed | JobStatus::Cancelled)))
    .bind(finished.filter(|_| job.status == JobStatus::Failed))
    .bind(job.error_message.as_deref())
    .bind(job.error_details.as_ref())
    .bind(job.result.as_ref())
    .bind(job.batch_id)
    .bind(job.created_by)
    .bind(job.available_at)
    .fetch_one(conn)
    .await
}
