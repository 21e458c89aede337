//! SQL for the Queues view: settings plus the caller's backlog per queue.

use super::Tx;
use crate::domain::QueueRow;
use uuid::Uuid;

/// Every queue with its backlog, scheduled and running counts for
/// `organization` (all visible organizations when `None`).
pub async fn list(tx: &mut Tx, organization: Option<Uuid>) -> Result<Vec<QueueRow>, sqlx::Error> {
    sqlx::query_as(
        "select q.name, q.paused, q.concurrency,
                coalesce(c.backlog, 0) as backlog,
                coalesce(c.scheduled, 0) as scheduled,
                coalesce(c.running, 0) as running
         from queues q
         left join (
           select queue,
                  count(*) filter (where status = 'pending' and available_at <= now()) as backlog,
                  count(*) filter (where status = 'pending' and available_at > now()) as scheduled,
                  count(*) filter (where status = 'running') as running
           from jobs
           where status in ('pending', 'running')
             and ($1::uuid is null or organization_id = $1)
           group by queue
         ) c on c.queue = q.name
         order by q.name",
    )
    .bind(organization)
    .fetch_all(&mut **tx)
    .await
}
