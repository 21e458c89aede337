//! The live console's server side: one hub per process that gathers changes
//! and hands each connected viewer, every coalescing interval, only what it
//! may see of what its tab shows.

pub mod hub;
pub mod socket;

pub use hub::{Audience, Change, Hub, Interest, Subscription};
pub use socket::Live;

/// How often the hub sends what changed: often enough to feel live, rarely
/// enough that a burst of changes is one message.
pub const FLUSH_EVERY: std::time::Duration = std::time::Duration::from_millis(250);

/// What a change to job `id` of `organization` touches: the job, and its
/// batch's counters when it has one.
pub fn job_changes(
    organization_id: uuid::Uuid,
    id: uuid::Uuid,
    batch_id: Option<uuid::Uuid>,
) -> Vec<Change> {
    use crate::domain::live::Topic;
    let mut changes = vec![Change {
        organization_id,
        topic: Topic::Jobs,
        id,
    }];
    if let Some(batch) = batch_id {
        changes.push(Change {
            organization_id,
            topic: Topic::Batches,
            id: batch,
        });
    }
    changes
}

/// Tells this process's hub of changes a server function made, after its
/// transaction committed (viewers on this node see console actions at once).
pub async fn publish_from_request(changes: Vec<Change>) {
    match leptos_axum::extract::<axum::Extension<Live>>().await {
        Ok(axum::Extension(live)) => live.hub.publish(changes),
        Err(error) => tracing::warn!(%error, "no live hub on this request"),
    }
}
