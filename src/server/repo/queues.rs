//! SQL for the Queues view: settings plus the caller's backlog per queue.

use crate::domain::{QueueCapRow, QueueRow};
use crate::server::db::Tx;
use uuid::Uuid;

/// Queues with their backlog, scheduled and running counts for
/// `organization`: every queue for the bank (`None`), only the queues the
/// organization has waiting or running jobs in otherwise (queues are the
/// bank's; an organization sees what it uses).
pub async fn list(tx: &mut Tx, organization: Option<Uuid>) -> Result<Vec<QueueRow>, sqlx::Error> {
    sqlx::query_as(
        "with waiting as (
           -- queue entries are hints: count each pending job once, as it is now
           select distinct j.id, j.queue, j.available_at <= now() as due
           from job_queue e
           cross join unnest(e.job_ids) as w (id)
           join jobs j on j.id = w.id
           where j.status = 'pending'
             and ($1::uuid is null or e.organization_id = $1)
             and ($1::uuid is null or j.organization_id = $1)
         ),
         held as (
           select j.queue, count(*) as running
           from job_leases l
           cross join unnest(l.job_ids) as h (id)
           join jobs j on j.id = h.id and j.lease_token = l.lease_token
           where ($1::uuid is null or l.organization_id = $1)
             and ($1::uuid is null or j.organization_id = $1)
           group by j.queue
         ),
         counts as (
           select queue,
                  count(*) filter (where due) as backlog,
                  count(*) filter (where not due) as scheduled
           from waiting
           group by queue
         )
         select q.name, q.paused, q.concurrency,
                coalesce(c.backlog, 0) as backlog,
                coalesce(c.scheduled, 0) as scheduled,
                coalesce(h.running, 0) as running
         from queues q
         left join counts c on c.queue = q.name
         left join held h on h.queue = q.name
         where $1::uuid is null or c.queue is not null or h.queue is not null
         order by q.name",
    )
    .bind(organization)
    .fetch_all(&mut **tx)
    .await
}

/// The organizations' caps per queue with how many of their jobs run there
/// now: every cap for the bank (`None`), the organization's own otherwise.
pub async fn caps(
    tx: &mut Tx,
    organization: Option<Uuid>,
) -> Result<Vec<QueueCapRow>, sqlx::Error> {
    sqlx::query_as(
        "select l.queue, l.organization_id, o.name as organization_name, l.max_running,
                (select count(*)
                 from job_leases h
                 cross join unnest(h.job_ids) as held (id)
                 join jobs j on j.id = held.id and j.lease_token = h.lease_token
                 where h.organization_id = l.organization_id
                   and j.organization_id = l.organization_id
                   and j.queue = l.queue) as running
         from queue_organization_limits l
         join organizations o on o.id = l.organization_id
         where $1::uuid is null or l.organization_id = $1
         order by l.queue, o.name",
    )
    .bind(organization)
    .fetch_all(&mut **tx)
    .await
}
