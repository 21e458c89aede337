//! Taking runnable jobs: one call of `claim_jobs` (migrations/0004) takes a
//! batch of job ids from the head of `job_queue` (entries locked with
//! `FOR UPDATE SKIP LOCKED`, so concurrent workers never take the same job),
//! marks their jobs running under one lease token, and records the lease for
//! the heartbeat and the rescuer.

use crate::domain::{JobType, Priority};
use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};
use std::time::Duration;
use uuid::Uuid;

/// What one claim asks for.
#[derive(Debug, Clone)]
pub struct ClaimRequest<'a> {
    /// The queue to take from.
    pub queue: &'a str,
    /// Only job types this worker has handlers for; others stay pending.
    pub job_types: &'a [JobType],
    /// At most this many jobs.
    pub limit: i64,
    /// Identifies the worker process in `locked_by`.
    pub worker_id: &'a str,
    /// The claim's fencing token; every job of the claim carries it.
    pub lease_token: Uuid,
    /// How long the lease lasts without a heartbeat.
    pub lease: Duration,
}

/// A job this worker now holds.
#[derive(Debug, Clone)]
pub struct ClaimedJob {
    /// Job id.
    pub id: Uuid,
    /// Owner.
    pub organization_id: Uuid,
    /// Handler to run.
    pub job_type: JobType,
    /// Human name.
    pub job_name: String,
    /// Handler input.
    pub payload: serde_json::Value,
    /// Claim order.
    pub priority: Priority,
    /// Queue it came from.
    pub queue: String,
    /// This attempt's number (1-based).
    pub attempts: i32,
    /// Attempts allowed.
    pub max_attempts: i32,
    /// Seconds this attempt may run.
    pub timeout_seconds: i32,
    /// Its batch.
    pub batch_id: Option<Uuid>,
    /// When it became runnable (for claim order and latency).
    pub available_at: DateTime<Utc>,
    /// When it was enqueued.
    pub created_at: DateTime<Utc>,
    /// The claim's fencing token.
    pub lease_token: Uuid,
}

/// Decodes a row of `claim_jobs` by position, in the function's declared
/// column order: a claim returns up to a thousand rows, and looking each
/// column up by name cost more than decoding it.
impl<'r> sqlx::FromRow<'r, PgRow> for ClaimedJob {
    fn from_row(row: &'r PgRow) -> Result<Self, sqlx::Error> {
        fn vocabulary<T>(
            row: &PgRow,
            index: usize,
            parse: fn(&str) -> Option<T>,
        ) -> Result<T, sqlx::Error> {
            let text: &str = row.try_get(index)?;
            parse(text).ok_or_else(|| sqlx::Error::ColumnDecode {
                index: index.to_string(),
                source: format!("unknown value {text:?}").into(),
            })
        }
        Ok(ClaimedJob {
            id: row.try_get(0)?,
            organization_id: row.try_get(1)?,
            job_type: vocabulary(row, 2, JobType::parse)?,
            job_name: row.try_get(3)?,
            payload: row.try_get(4)?,
            priority: vocabulary(row, 5, Priority::parse)?,
            queue: row.try_get(6)?,
            attempts: row.try_get(7)?,
            max_attempts: row.try_get(8)?,
            timeout_seconds: row.try_get(9)?,
            batch_id: row.try_get(10)?,
            available_at: row.try_get(11)?,
            created_at: row.try_get(12)?,
            lease_token: row.try_get(13)?,
        })
    }
}

impl ClaimedJob {
    /// Sort key matching the claim order: urgent first, then oldest.
    pub fn claim_order(&self) -> (u8, DateTime<Utc>, Uuid) {
        let rank = match self.priority {
            Priority::Urgent => 0,
            Priority::High => 1,
            Priority::Normal => 2,
            Priority::Low => 3,
        };
        (rank, self.available_at, self.id)
    }
}

/// Claims up to `request.limit` runnable jobs, in claim order.
pub async fn claim(
    conn: &mut PgConnection,
    request: &ClaimRequest<'_>,
) -> Result<Vec<ClaimedJob>, sqlx::Error> {
    let job_types: Vec<&str> = request.job_types.iter().map(|t| t.as_str()).collect();
    let mut jobs: Vec<ClaimedJob> =
        sqlx::query_as("select * from claim_jobs($1, $2, $3, $4, $5, $6)")
            .bind(request.queue)
            .bind(&job_types)
            .bind(request.limit)
            .bind(request.lease_token)
            .bind(request.worker_id)
            .bind(request.lease.as_secs_f64())
            .fetch_all(conn)
            .await?;
    jobs.sort_by_key(ClaimedJob::claim_order);
    Ok(jobs)
}
