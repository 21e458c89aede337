//! The worker: claims jobs from every unpaused queue, runs their handlers,
//! writes their outcomes, renews leases and rescues jobs of dead workers.
//!
//! The same code runs inside the web server and as the standalone `worker`
//! command; any number of either can share one database.
//!
//! Per queue, one fetcher claims up to `concurrency + prefetch` jobs (in
//! batches of at most `max_claim`, one statement each) and a semaphore runs
//! `concurrency` of them at once. Successes go to one completer task that
//! writes everything waiting with one statement. Wake-ups come by LISTEN/NOTIFY
//! with a poll as the fallback.

pub mod handlers;
mod lease_book;
mod runtime;

pub use handlers::{FnHandler, Handler, JobContext, Registry};
pub use runtime::{Worker, WorkerConfig};
