//! The live console's server side: one hub per process that gathers changes
//! and hands each connected viewer, every coalescing interval, only what it
//! may see of what its tab shows.

pub mod feed;
pub mod hub;
pub mod socket;
pub mod views;

pub use feed::{announce, Announcement};
pub use hub::{Audience, Change, Hub, Interest, Outgoing, Subscription, WeakHub, BANK_WIDE};
pub use socket::Live;

/// How often the hub sends what changed: often enough to feel live, rarely
/// enough that a burst of changes is one message.
pub const FLUSH_EVERY: std::time::Duration = std::time::Duration::from_millis(250);

/// What a change to job `id` of `organization` touches: the job, and its
/// batch's counters when it has one. (A job that failed also opened a failure
/// record: see [`failure_changes`].)
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

/// What a job that just reached `failed` touches besides itself: its
/// failure record, and the alert every tab of its organization raises.
pub fn failure_changes(organization_id: uuid::Uuid, job_id: uuid::Uuid) -> [Change; 2] {
    [
        resolution_change(organization_id, job_id),
        Change {
            organization_id,
            topic: crate::domain::live::Topic::Failures,
            id: job_id,
        },
    ]
}

/// What resolving the failure record of job `job_id` changes.
pub fn resolution_change(organization_id: uuid::Uuid, job_id: uuid::Uuid) -> Change {
    Change {
        organization_id,
        topic: crate::domain::live::Topic::FailedJobs,
        id: job_id,
    }
}

/// What a change of queue settings touches: a cap, the queues view of its
/// organization (and of bank admins); anything else about a queue, every
/// viewer's.
pub fn queue_settings_changed(capped_organization: Option<uuid::Uuid>) -> Announcement {
    Announcement {
        changes: Vec::new(),
        overflow: vec![(
            capped_organization.unwrap_or(BANK_WIDE),
            crate::domain::live::Topic::Queues,
        )],
    }
}
