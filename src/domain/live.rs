//! What the live console's websocket carries: the browser decodes these, the
//! server's hub (`server::live`) builds them.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// What part of the console a change concerns (a tab subscribes to some).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Topic {
    /// Jobs: status, attempts, new jobs.
    Jobs,
    /// Batch counters and status.
    Batches,
    /// Failure records opened or resolved.
    FailedJobs,
    /// Queue settings and backlog.
    Queues,
    /// Third-party API calls.
    ApiLogs,
    /// Webhook deliveries and settings.
    Webhooks,
}

/// Most ids one update names; past it the update says `more` and the
/// browser reloads what it shows instead of patching it.
pub const MAX_IDS_PER_UPDATE: usize = 100;

/// One coalesced message to a viewer: the records of `topic` that changed
/// since the last one, among those the viewer may see.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveUpdate {
    /// What changed.
    pub topic: Topic,
    /// Which records, in id order (at most [`MAX_IDS_PER_UPDATE`]).
    pub ids: Vec<Uuid>,
    /// More records changed than `ids` names.
    pub more: bool,
}
