//! SQL for the Queues view: settings plus the caller's backlog per queue.

use super::overview::EXACT_PENDING_LIMIT;
use crate::domain::{QueueCapRow, QueueRow};
use crate::server::db::Tx;
use uuid::Uuid;

/// Queues with their backlog, scheduled and running counts for
/// `organization`: every queue for the bank (`None`), only the queues the
/// organization has waiting or running jobs in otherwise (queues are the
/// bank's; an organization sees what it uses).
///
/// Queue entries are hints: a job cancelled while listed stays in its entry
/// until a claim passes it. A queue listing at most
/// [`EXACT_PENDING_LIMIT`] jobs is counted job by job; a longer one is
/// counted from its entries alone (`estimated`), as the Overview does, so
/// the view answers in the same time at fifty pending jobs or fifty thousand.
pub async fn list(tx: &mut Tx, organization: Option<Uuid>) -> Result<Vec<QueueRow>, sqlx::Error> {
    sqlx::query_as(
        "with listed as (
           select e.queue,
                  coalesce(sum(cardinality(e.job_ids)) filter (where e.available_at <= now()), 0)
                    as due,
                  coalesce(sum(cardinality(e.job_ids)) filter (where e.available_at > now()), 0)
                    as later
           from job_queue e
           where $1::uuid is null or e.organization_id = $1
           group by e.queue
         ),
         counted as (
           select l.queue, x.due, x.later
           from listed l
           cross join lateral (
             select count(*) filter (where j.available_at <= now()) as due,
                    count(*) filter (where j.available_at > now()) as later
             from (select distinct w.id
                   from job_queue e
                   cross join unnest(e.job_ids) as w (id)
                   where e.queue = l.queue
                     and ($1::uuid is null or e.organization_id = $1)) w
             join jobs j on j.id = w.id
             where j.status = 'pending'
               and ($1::uuid is null or j.organization_id = $1)
           ) x
           where l.due + l.later <= $2
         ),
         held as (
           select j.queue, count(*) as running
           from job_leases l
           cross join unnest(l.job_ids) as h (id)
           join jobs j on j.id = h.id and j.lease_token = l.lease_token
           where ($1::uuid is null or l.organization_id = $1)
             and ($1::uuid is null or j.organization_id = $1)
           group by j.queue
         )
         select q.name, q.paused, q.concurrency,
                coalesce(c.due, l.due, 0) as backlog,
                coalesce(c.later, l.later, 0) as scheduled,
                coalesce(h.running, 0) as running,
                (l.queue is not null and c.queue is null) as estimated
         from queues q
         left join listed l on l.queue = q.name
         left join counted c on c.queue = q.name
         left join held h on h.queue = q.name
         where $1::uuid is null
            or (c.queue is not null and c.due + c.later > 0)
            or (l.queue is not null and c.queue is null)
            or h.queue is not null
         order by q.name",
    )
    .bind(organization)
    .bind(EXACT_PENDING_LIMIT)
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
