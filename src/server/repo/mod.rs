//! The console's SQL, one module per entity, organization first: what the
//! tabs list and show, and the writes that are not a job's state (users,
//! organizations, audit rows, stored files). Writes of a job's status, lease
//! or queue entry go through `server::queue`. Every query runs in a
//! transaction bound to the caller's scope (`server::db`), so row-level
//! security checks the tenant a second time.

pub mod api_keys;
pub mod api_logs;
pub mod audit;
pub mod batches;
pub mod failed_jobs;
pub mod integrations;
pub mod jobs;
pub mod organizations;
pub mod overview;
pub mod queues;
pub mod sign_in_failures;
pub mod stored_files;
pub mod templates;
pub mod user_sessions;
pub mod users;
pub mod webhooks;
