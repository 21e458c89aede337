//! SQL for the Overview tab's counts.

use crate::domain::{JobStatus, Overview};
use crate::server::db::Tx;
use uuid::Uuid;

/// Counts for the overview, within the organization condition.
pub async fn load(tx: &mut Tx, organization_id: Option<Uuid>) -> Result<Overview, sqlx::Error> {
    let by_status: Vec<(String, i64)> = sqlx::query_as(
        "select status, count(*) from jobs
         where ($1::uuid is null or organization_id = $1)
         group by status",
    )
    .bind(organization_id)
    .fetch_all(&mut **tx)
    .await?;
    let jobs_by_status = JobStatus::ALL
        .iter()
        .map(|status| {
            let count = by_status
                .iter()
                .find(|(s, _)| s == status.as_str())
                .map_or(0, |(_, n)| *n);
            (*status, count)
        })
        .collect();

    let (
        open_batches,
        unresolved_failures,
        api_calls_24h,
        api_failures_24h,
        active_webhooks,
        erroring_webhooks,
    ): (i64, i64, i64, i64, i64, i64) = sqlx::query_as(
        "select
           (select count(*) from job_batches
             where ($1::uuid is null or organization_id = $1)
               and status in ('pending', 'running')),
           (select count(*) from failed_jobs
             where ($1::uuid is null or organization_id = $1) and not is_resolved),
           (select count(*) from third_party_api_log
             where ($1::uuid is null or organization_id = $1)
               and created_at > now() - interval '24 hours'),
           (select count(*) from third_party_api_log
             where ($1::uuid is null or organization_id = $1)
               and created_at > now() - interval '24 hours'
               and status in ('failed', 'timeout')),
           (select count(*) from webhooks
             where ($1::uuid is null or organization_id = $1) and is_active),
           (select count(*) from webhooks
             where ($1::uuid is null or organization_id = $1) and status = 'error')",
    )
    .bind(organization_id)
    .fetch_one(&mut **tx)
    .await?;

    Ok(Overview {
        jobs_by_status,
        open_batches,
        unresolved_failures,
        api_calls_24h,
        api_failures_24h,
        active_webhooks,
        erroring_webhooks,
    })
}
