//! The queue engine's SQL: enqueue, claim, finish, leases and controls.
//!
//! PostgreSQL is the only coordinator. Every statement here is one round trip
//! that handles many jobs at once where the hot path needs it (bulk enqueue,
//! batched claims, batched completions); writes by a job's holder are fenced
//! on the claim's lease token so a worker that lost its lease cannot overwrite
//! a newer attempt.

pub mod actions;
pub mod claim;
pub mod control;
pub mod enqueue;
pub mod finish;
pub mod import;
pub mod lease;
pub mod outcome;
pub mod retention;
pub mod retry;
pub mod stats;

pub use claim::{claim, ClaimRequest, ClaimedJob};
pub use enqueue::{enqueue, enqueue_many, NewJob};
pub use finish::{
    complete_many, complete_many_with, finish, release, Completion, CompletionNotice, HeldJob,
    JobEvents,
};
pub use outcome::{Attempt, JobError, Outcome, Transition};
pub use retry::RetryPolicy;

/// NOTIFY channel: a queue (the payload) has new runnable jobs. The insert
/// trigger of `jobs` (`jobs_after_insert`, migrations/0004) names it too.
pub const JOBS_CHANNEL: &str = "veriphy_jobs";
/// NOTIFY channel: a running job (the payload is its id) should be cancelled.
pub const CANCEL_CHANNEL: &str = "veriphy_cancel";
/// NOTIFY channel: queue settings changed (pause, concurrency, a new queue).
/// The insert trigger of `jobs` (`jobs_after_insert`) names it too.
pub const QUEUES_CHANNEL: &str = "veriphy_queues";
/// NOTIFY channel: a webhook appeared, went, or changed what or whether it
/// receives (`webhooks_announce_subscriptions`, migrations/0029).
pub const WEBHOOKS_CHANNEL: &str = "veriphy_webhooks";
