//! Putting jobs on the queue: one, or thousands in one statement, on any
//! connection, so a caller's open transaction decides whether they exist.

use crate::domain::{JobType, Priority, DEFAULT_QUEUE};
use crate::server::live;
use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use std::sync::LazyLock;
use uuid::Uuid;

/// A job to enqueue. Defaults follow the seed: priority normal, three
/// attempts, runnable now, queue `default`.
#[derive(Debug, Clone)]
pub struct NewJob {
    /// Owner of the job.
    pub organization_id: Uuid,
    /// What runs it.
    pub job_type: JobType,
    /// Human name shown in the console.
    pub job_name: String,
    /// Handler input.
    pub payload: serde_json::Value,
    /// Claim order.
    pub priority: Priority,
    /// Named queue.
    pub queue: String,
    /// Attempts before the job fails for good.
    pub max_attempts: i32,
    /// Earliest start; `None` means now.
    pub available_at: Option<DateTime<Utc>>,
    /// Seconds one attempt may run.
    pub timeout_seconds: i32,
    /// Batch the job belongs to.
    pub batch_id: Option<Uuid>,
    /// Who asked for it.
    pub created_by: Option<Uuid>,
}

impl NewJob {
    /// A job with the seed's defaults.
    pub fn new(
        organization_id: Uuid,
        job_type: JobType,
        job_name: impl Into<String>,
        payload: serde_json::Value,
    ) -> Self {
        NewJob {
            organization_id,
            job_type,
            job_name: job_name.into(),
            payload,
            priority: Priority::Normal,
            queue: DEFAULT_QUEUE.to_string(),
            max_attempts: 3,
            available_at: None,
            timeout_seconds: 300,
            batch_id: None,
            created_by: None,
        }
    }
}

/// The columns an enqueue writes, in the order both statements give them.
const ENQUEUED_COLUMNS: &str = "id, organization_id, job_type, job_name, payload, priority, \
                                queue, max_attempts, available_at, timeout_seconds, batch_id, \
                                created_by";

/// The statement of [`enqueue`], made once: a lone enqueue is on the path
/// from a caller's commit to its job's start.
static ENQUEUE_ONE: LazyLock<String> = LazyLock::new(|| {
    format!(
        "with inserted as (
           insert into jobs ({ENQUEUED_COLUMNS})
           values ($1, $2, $3, $4, $5, $6, $7, $8, coalesce($9, now()), $10, $11, $12)
           returning id
         ),
         {}
         select n from announced",
        live::feed::announced_cte("inserted", 13)
    )
});

/// The statement of [`enqueue_many`], made once.
static ENQUEUE_MANY: LazyLock<String> = LazyLock::new(|| {
    format!(
        "with inserted as (
         insert into jobs ({ENQUEUED_COLUMNS})
         select id, organization_id, job_type, job_name, payload, priority, queue,
                max_attempts, coalesce(available_at, now()), timeout_seconds, batch_id, created_by
         from unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::jsonb[], $6::text[],
                     $7::text[], $8::int[], $9::timestamptz[], $10::int[], $11::uuid[], $12::uuid[])
           as n (id, organization_id, job_type, job_name, payload, priority, queue,
                 max_attempts, available_at, timeout_seconds, batch_id, created_by)
         returning id
         ),
         {}
         select n from announced",
        live::feed::announced_cte("inserted", 13)
    )
});

/// Enqueues one job and returns its id.
///
/// The same insert as [`enqueue_many`]'s with one row, its values bound one
/// by one rather than as twelve one-element arrays: PostgreSQL decodes
/// every bound array (a type lookup each) before the statement starts, and
/// a lone enqueue is on the path from a caller's commit to its job's start.
pub async fn enqueue(conn: &mut PgConnection, job: &NewJob) -> Result<Uuid, sqlx::Error> {
    let id = Uuid::now_v7();
    let notices =
        live::feed::encode(&live::job_changes(job.organization_id, id, job.batch_id).into());
    sqlx::query(&ENQUEUE_ONE)
        .bind(id)
        .bind(job.organization_id)
        .bind(job.job_type.as_str())
        .bind(&job.job_name)
        .bind(&job.payload)
        .bind(job.priority.as_str())
        .bind(&job.queue)
        .bind(job.max_attempts)
        .bind(job.available_at)
        .bind(job.timeout_seconds)
        .bind(job.batch_id)
        .bind(job.created_by)
        .bind(&notices)
        .execute(conn)
        .await?;
    Ok(id)
}

/// Enqueues `jobs` with one statement and returns their ids in input order.
///
/// Ids are time-ordered (UUIDv7) so bulk inserts append to the primary key
/// instead of touching pages all over it. The insert trigger of `jobs`
/// registers new queue names, lists the jobs in `job_queue` and sends one
/// NOTIFY per queue with runnable jobs; PostgreSQL delivers it at commit, so a
/// rolled-back enqueue wakes nobody (and, likewise, announces nothing to live
/// viewers).
pub async fn enqueue_many(
    conn: &mut PgConnection,
    jobs: &[NewJob],
) -> Result<Vec<Uuid>, sqlx::Error> {
    if jobs.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<Uuid> = jobs.iter().map(|_| Uuid::now_v7()).collect();
    let column = |f: fn(&NewJob) -> &str| jobs.iter().map(f).collect::<Vec<&str>>();
    let organizations: Vec<Uuid> = jobs.iter().map(|j| j.organization_id).collect();
    let payloads: Vec<&serde_json::Value> = jobs.iter().map(|j| &j.payload).collect();
    let max_attempts: Vec<i32> = jobs.iter().map(|j| j.max_attempts).collect();
    let available: Vec<Option<DateTime<Utc>>> = jobs.iter().map(|j| j.available_at).collect();
    let timeouts: Vec<i32> = jobs.iter().map(|j| j.timeout_seconds).collect();
    let batches: Vec<Option<Uuid>> = jobs.iter().map(|j| j.batch_id).collect();
    let creators: Vec<Option<Uuid>> = jobs.iter().map(|j| j.created_by).collect();
    let changes: Vec<live::Change> = jobs
        .iter()
        .zip(&ids)
        .flat_map(|(job, id)| live::job_changes(job.organization_id, *id, job.batch_id))
        .collect();
    let notices = live::feed::encode(&changes.into());
    sqlx::query(&ENQUEUE_MANY)
        .bind(&ids)
        .bind(&organizations)
        .bind(column(|j| j.job_type.as_str()))
        .bind(column(|j| j.job_name.as_str()))
        .bind(&payloads)
        .bind(column(|j| j.priority.as_str()))
        .bind(column(|j| j.queue.as_str()))
        .bind(&max_attempts)
        .bind(&available)
        .bind(&timeouts)
        .bind(&batches)
        .bind(&creators)
        .bind(&notices)
        .execute(conn)
        .await?;
    Ok(ids)
}
