//! Server-only code: configuration, the embedded PostgreSQL launcher, the
//! database layer, authentication, HTTP wiring and the command line.

pub mod auth;
pub mod bench;
pub mod bootstrap;
pub mod cli;
pub mod config;
pub mod db;
pub mod demo_data;
pub mod embedded_pg;
pub mod http;
pub mod live;
pub mod outbound;
pub mod providers;
pub mod queue;
pub mod repo;
pub mod sandbox;
pub mod secrets;
pub mod telemetry;
pub mod webhooks;
pub mod worker;
