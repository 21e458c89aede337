//! SQL for failed-job records.

use crate::domain::{Cursor, FailedJobRow};
use crate::server::db::{list, Tx};
use uuid::Uuid;

/// One page of failed jobs, newest first; `resolved` narrows to resolved
/// (`Some(true)`) or open (`Some(false)`) records.
pub async fn list(
    tx: &mut Tx,
    organization_id: Option<Uuid>,
    resolved: Option<bool>,
    cursor: Option<Cursor>,
) -> Result<Vec<FailedJobRow>, sqlx::Error> {
    let mut query = list::select(
        "f.id, f.job_id, f.organization_id, o.name as organization_name, f.job_type, f.job_name,
         f.error_message, f.failed_at, f.retry_count, f.max_retries, f.is_resolved,
         f.resolution, f.created_at",
        "failed_jobs f join organizations o on o.id = f.organization_id",
    );
    list::organization(&mut query, "f", organization_id);
    if let Some(resolved) = resolved {
        query.push("\n  and f.is_resolved = ").push_bind(resolved);
    }
    list::page(&mut query, "f", cursor);
    query.build_query_as().fetch_all(&mut **tx).await
}

/// The record's job, organization and whether it is resolved, locked.
pub async fn lock(
    tx: &mut Tx,
    organization: Option<Uuid>,
    id: Uuid,
) -> Result<Option<(Uuid, Uuid, bool)>, sqlx::Error> {
    sqlx::query_as(
        "select job_id, organization_id, is_resolved from failed_jobs
         where id = $1 and ($2::uuid is null or organization_id = $2)
         for update",
    )
    .bind(id)
    .bind(organization)
    .fetch_optional(&mut **tx)
    .await
}

/// Marks open records among `ids` (in `organization`, when given) resolved
/// by `user` with `resolution`; returns how many were resolved.
pub async fn resolve(
    tx: &mut Tx,
    organization: Option<Uuid>,
    ids: &[Uuid],
    user: Uuid,
    resolution: &str,
) -> Result<u64, sqlx::Error> {
    let resolved: Vec<(Uuid, Uuid)> = sqlx::query_as(
        "update failed_jobs set is_resolved = true, resolved_at = now(), resolved_by = $3,
                                resolution = $4
         where id = any($1) and ($2::uuid is null or organization_id = $2) and not is_resolved
         returning organization_id, job_id",
    )
    .bind(ids)
    .bind(organization)
    .bind(user)
    .bind(resolution)
    .fetch_all(&mut **tx)
    .await?;
    let changes: Vec<crate::server::live::Change> = resolved
        .iter()
        .map(|(organization_id, job_id)| {
            crate::server::live::resolution_change(*organization_id, *job_id)
        })
        .collect();
    crate::server::live::announce(tx, changes).await?;
    raise_resolved(tx, &resolved, user, resolution).await?;
    Ok(resolved.len() as u64)
}

/// Raises `failed_job.resolved` for each of `resolved` (organization, job)
/// whose organization has a webhook that receives it, in the resolving
/// transaction.
async fn raise_resolved(
    tx: &mut Tx,
    resolved: &[(Uuid, Uuid)],
    user: Uuid,
    resolution: &str,
) -> Result<(), sqlx::Error> {
    use crate::domain::WebhookEvent;
    use crate::server::webhooks::{raise, EventSource};
    let organizations: Vec<Uuid> = resolved.iter().map(|(org, _)| *org).collect();
    let listening: Vec<Uuid> = sqlx::query_scalar(
        "select distinct organization_id from webhooks
         where organization_id = any($1) and event_type = $2 and is_active and status = 'active'",
    )
    .bind(&organizations)
    .bind(WebhookEvent::FailedJobResolved.as_str())
    .fetch_all(&mut **tx)
    .await?;
    for (organization, job) in resolved.iter().filter(|(org, _)| listening.contains(org)) {
        let data = serde_json::json!({
            "job_id": job,
            "resolution": resolution,
            "resolved_by": user,
        });
        raise(
            tx,
            *organization,
            WebhookEvent::FailedJobResolved,
            &data,
            EventSource::System,
        )
        .await?;
    }
    Ok(())
}
