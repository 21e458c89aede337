//! `cleanup` jobs: retention. Deletes the organization's finished jobs,
//! resolved failure records, API log rows and stored files older than its
//! retention settings, in bounded chunks so no statement holds locks for
//! long; every pruned job and file is named in an audit row. The built-in
//! schedule enqueues one a day per organization, and removes expired
//! sessions itself (`queue::retention`: sessions belong to no single
//! organization's cleanup).

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
        // Finished jobs past retention whose failure records (if any) are
        // resolved and past their own retention too: deleting a job takes
        // its failure records with it. What is deleted is recorded in the
        // audit log by the same statement.
        sql: "with deleted as (
                delete from jobs where id in (
                  select j.id from jobs j join organizations o on o.id = j.organization_id
                  where j.organization_id = $1
                    and j.status in ('completed', 'cancelled', 'failed')
                    and coalesce(j.completed_at, j.failed_at, j.updated_at)
                        < now() - make_interval(days => o.job_retention_days)
                    and not exists (
                      select 1 from failed_jobs f
                      where f.job_id = j.id
                        and (not f.is_resolved
                             or f.resolved_at >= now() - make_interval(days => o.failed_job_retention_days)))
                  limit $2)
                returning id, job_name, job_type, status
              ),
              audited as (
                insert into audit_log (organization_id, action, target_type, target_id, summary)
                select $1, 'job.prune', 'jobs', count(*)::text,
                       jsonb_build_object('reason', 'retention', 'deleted', jsonb_agg(jsonb_build_object(
                         'id', id, 'name', job_name, 'type', job_type, 'status', status)))
                from deleted
                having count(*) > 0
              )
              select count(*) from deleted",
    },
    Step {
        name: "failed_jobs",
        sql: "with deleted as (
                delete from failed_jobs where id in (
                  select f.id from failed_jobs f join organizations o on o.id = f.organization_id
                  where f.organization_id = $1
                    and f.is_resolved
                    and f.resolved_at < now() - make_interval(days => o.failed_job_retention_days)
                  limit $2)
                returning 1
              )
              select count(*) from deleted",
    },
    Step {
        name: "api_logs",
        sql: "with deleted as (
                delete from third_party_api_log where id in (
                  select l.id from third_party_api_log l
                  join organizations o on o.id = l.organization_id
                  where l.organization_id = $1
                    and l.created_at < now() - make_interval(days => o.api_log_retention_days)
                  limit $2)
                returning 1
              )
              select count(*) from deleted",
    },
    Step {
        name: "stored_files",
        // Documents and reports past the organization's file retention,
        // except those a document job still waiting or running will read.
        // Those jobs are found through the queue's entries and the leases
        // (pending and running jobs have no index of their own on jobs).
        sql: "with needed as (
                select j.payload ->> 'file_id' as file_id
                from jobs j
                where j.id in (
                    select unnest(e.job_ids) from job_queue e
                    where e.organization_id = $1 and e.job_type = 'document_processing'
                    union all
                    select unnest(l.job_ids) from job_leases l where l.organization_id = $1)
                  and j.organization_id = $1
                  and j.job_type = 'document_processing'
                  and j.status in ('pending', 'running')
              ),
              deleted as (
                delete from stored_files where id in (
                  select f.id from stored_files f join organizations o on o.id = f.organization_id
                  where f.organization_id = $1
                    and f.created_at < now() - make_interval(days => o.file_retention_days)
                    and f.id::text not in (select file_id from needed where file_id is not null)
                  limit $2)
                returning id, file_name, kind, size_bytes
              ),
              audited as (
                insert into audit_log (organization_id, action, target_type, target_id, summary)
                select $1, 'file.prune', 'stored_files', count(*)::text,
                       jsonb_build_object('reason', 'retention', 'deleted', jsonb_agg(jsonb_build_object(
                         'id', id, 'name', file_name, 'kind', kind, 'size_bytes', size_bytes)))
                from deleted
                having count(*) > 0
              )
              select count(*) from deleted",
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
                        let done: i64 = sqlx::query_scalar(step.sql)
                            .bind(ctx.job.organization_id)
                            .bind(chunk)
                            .fetch_one(&mut *tx)
                            .await?;
                        tx.commit().await?;
                        Ok::<u64, sqlx::Error>(done as u64)
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
