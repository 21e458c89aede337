//! The worker: claims jobs from every unpaused queue, runs their handlers,
//! writes their outcomes, renews leases and rescues jobs of dead workers.
//!
//! The same code runs inside the web server and as the standalone `worker`
//! command; any number of either can share one database.
//!
//! Per queue, claimers take up to `concurrency + prefetch` jobs (in batches
//! of at most `max_claim`, one statement each) and a semaphore runs
//! `concurrency` of them at once. Successes go to one completer task that
//! writes everything waiting with one statement. Wake-ups come by
//! LISTEN/NOTIFY with a poll as the fallback.
//!
//! One module per service: `claimer`, `job_task`, `completer`, `announcer`,
//! `listener`, `listening` (who receives job.completed), `heartbeat`,
//! `rescuer`, `stats_folder`, `shutdown`; their
//! shared state is in `runtime` (held jobs in `held`, queues in `queues`,
//! lease rows in `lease_book`).

mod announcer;
mod claimer;
mod completer;
mod config;
pub mod handlers;
mod heartbeat;
mod held;
mod job_task;
mod lease_book;
mod listener;
mod listening;
mod queues;
mod rescuer;
mod retention;
mod runtime;
mod shutdown;
mod stats_folder;

pub use config::WorkerConfig;
pub use handlers::{FnHandler, Handler, JobContext, Registry};
pub use runtime::{Worker, WorkerProbe};
