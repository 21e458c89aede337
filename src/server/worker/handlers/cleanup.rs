//! `cleanup` jobs: retention. Deletes the organization's finished jobs,
//! resolved failure records and API log rows older than its retention
//! settings, in bounded chunks so no statement holds locks for long.

use super::{database_error, Handler, HandlerFuture, JobContext};
use crate::server::queue::{JobError, Outcome};
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

/// Rows deleted per statement.
pub const CHUNK: i64 = 1000;

/// The retention handler.
pub struct CleanupHandler;

/// Optional payload: a smaller chunk (for tests and cautious operators).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct CleanupPayload {
    #[serde(default)]
    chunk_size: Option<i64>,
}

/// One pruning step: what it deletes and the statement that deletes one chunk.
struct Step {
    name: &'static str,
    sql: &'static str,
}

const STEPS: &[Step] = &[
    Step {
        name: "jobs",
        // Finished jobs past retention; failed jobs only once their failure
        // record is resolved (an open failure is still someone's work).
        sql: "delete from jobs where id in (
                select j.id from jobs j join organizations o on o.id = j.organization_id
                where j.organization_id = $1
                  and j.status in ('completed', 'cancelled', 'failed')
                  and coalesce(j.completed_at, j.failed_at, j.updated_at)
                      < now() - make_interval(days => o.job_retention_days)
                  and not exists (select 1 from failed_jobs f
                                  where f.job_id = j.id and not f.is_resolved)
                limit $2)",
    },
    Step {
        name: "failed_jobs",
        sql: "delete from failed_jobs where id in (
                select f.id from failed_jobs f join organizations o on o.id = f.organization_id
                where f.organization_id = $1
                  and f.is_resolved
                  and f.resolved_at < now() - make_interval(days => o.failed_job_retention_days)
                limit $2)",
    },
    Step {
        name: "api_logs",
        sql: "delete from third_party_api_log where id in (
                select l.id from third_party_api_log l
                join organizations o on o.id = l.organization_id
                where l.organization_id = $1
                  and l.created_at < now() - make_interval(days => o.api_log_retention_days)
                limit $2)",
    },
];

impl Handler for CleanupHandler {
    fn run(&self, ctx: Arc<JobContext>) -> HandlerFuture {
        Box::pin(async move {
            let payload: CleanupPayload = match ctx.payload() {
                Ok(p) => p,
                Err(outcome) => return outcome,
            };
            let chunk = payload.chunk_size.unwrap_or(CHUNK);
            if !(1..=10_000).contains(&chunk) {
                return Outcome::Fail(JobError::new(
                    crate::domain::JobErrorKind::InvalidPayload,
                    "chunk_size must be between 1 and 10000.",
                ));
            }
            let mut deleted = serde_json::Map::new();
            let mut chunks = 0u64;
            for step in STEPS {
                let mut total = 0u64;
                loop {
                    if ctx.cancel.is_cancelled() {
                        return Outcome::Cancel("Cancelled between cleanup chunks.".into());
                    }
                    let rows = async {
                        let mut tx = ctx.begin().await?;
                        let done = sqlx::query(step.sql)
                            .bind(ctx.job.organization_id)
                            .bind(chunk)
                            .execute(&mut *tx)
                            .await?
                            .rows_affected();
                        tx.commit().await?;
                        Ok::<u64, sqlx::Error>(done)
                    }
                    .await;
                    let rows = match rows {
                        Ok(rows) => rows,
                        Err(error) => return database_error("pruning old rows", error),
                    };
                    total += rows;
                    chunks += 1;
                    if rows < chunk as u64 {
                        break;
                    }
                }
                deleted.insert(step.name.to_string(), json!(total));
            }
            Outcome::Completed(Some(json!({ "deleted": deleted, "chunks": chunks })))
        })
    }
}
