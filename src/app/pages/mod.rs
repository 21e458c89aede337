//! One module per route.

pub mod access;
pub mod account;
pub mod api_logs;
pub mod api_monitoring;
pub mod batches;
pub mod documents;
pub mod failed_jobs;
pub mod integrations;
pub mod jobs;
pub mod login;
pub mod not_found;
pub mod overview;
pub mod queues;
pub mod templates;
pub mod webhooks;
