//! A running worker: the state its services share, and how it starts.
//!
//! The services, each in its own module: claimers (one or more per queue,
//! `claimer`), job tasks (`job_task`), the completer, the notification
//! listener, the heartbeat, the rescuer, and the graceful shutdown.

use super::announcer::run_announcer;
use super::claimer::reload_queues;
use super::completer::run_completer;
use super::config::WorkerConfig;
use super::handlers::Registry;
use super::heartbeat::run_heartbeat;
use super::held::HeldJobs;
use super::lease_book::LeaseBook;
use super::listener::{run_listener, CHANNELS};
use super::listening::{run_refresh, CompletionListeners};
use super::queues::QueueRunners;
use super::rescuer::run_rescuer;
use super::retention::run_retention_schedule;
use super::stats_folder::run_stats_folder;
use crate::domain::JobType;
use crate::server::db::Database;
use crate::server::live::Change;
use crate::server::queue::Completion;
use sqlx::postgres::PgListener;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// What the worker's services share. Each piece guards itself; no service
/// holds two locks at once.
pub(super) struct Shared {
    pub db: Database,
    pub config: WorkerConfig,
    pub registry: Registry,
    /// The job types this worker has handlers for (what it claims).
    pub job_types: Vec<JobType>,
    /// Jobs this process holds.
    pub held: HeldJobs,
    /// Lease rows of this process's claims (shared with the completer and
    /// the shutdown, which outlive `Shared`).
    pub leases: Arc<Mutex<LeaseBook>>,
    /// Queues this process runs.
    pub queues: QueueRunners,
    /// Successful outcomes, written in batches by the completer.
    pub completions: mpsc::UnboundedSender<Completion>,
    /// Organizations whose completions raise `job.completed`.
    pub listeners: Arc<CompletionListeners>,
    /// What claims started and completions wrote, announced to live viewers
    /// by the announcer (the completer holds a clone).
    pub announcements: mpsc::UnboundedSender<Vec<Change>>,
    /// Stop claiming (graceful shutdown has begun).
    pub stop: CancellationToken,
    /// Abandon running jobs (the grace period is over).
    pub abandon: CancellationToken,
    /// Job tasks.
    pub jobs: TaskTracker,
    /// Claimer tasks.
    pub claimers: TaskTracker,
}

impl Shared {
    /// The lease book, locked.
    pub fn lease_book(&self) -> std::sync::MutexGuard<'_, LeaseBook> {
        self.leases.lock().expect("lease book lock")
    }
}

/// A running worker; [`Worker::shutdown`] stops it gracefully.
pub struct Worker {
    pub(super) shared: Arc<Shared>,
    pub(super) background: Vec<JoinHandle<()>>,
    pub(super) completer: JoinHandle<()>,
    pub(super) announcer: JoinHandle<()>,
}

impl Worker {
    /// Starts a worker on `db` with `registry`'s handlers.
    pub async fn start(
        db: Database,
        registry: Registry,
        config: WorkerConfig,
    ) -> Result<Worker, sqlx::Error> {
        let (completions, completion_rx) = mpsc::unbounded_channel();
        let (announcements, announcement_rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            job_types: registry.job_types(),
            db,
            config,
            registry,
            held: HeldJobs::default(),
            leases: Arc::new(Mutex::new(LeaseBook::default())),
            queues: QueueRunners::default(),
            completions,
            listeners: Arc::new(CompletionListeners::default()),
            announcements,
            stop: CancellationToken::new(),
            abandon: CancellationToken::new(),
            jobs: TaskTracker::new(),
            claimers: TaskTracker::new(),
        });
        // Listen before the first claim so no NOTIFY falls between them.
        let mut listener = PgListener::connect_with(&shared.db.worker).await?;
        listener.listen_all(CHANNELS).await?;
        reload_queues(&shared).await?;
        shared.listeners.reload(&shared.db).await?;
        let completer = tokio::spawn(run_completer(
            shared.db.clone(),
            shared.leases.clone(),
            shared.listeners.clone(),
            shared.config.completion_batch,
            shared.config.completion_writers,
            shared.announcements.clone(),
            completion_rx,
        ));
        let announcer = tokio::spawn(run_announcer(shared.db.clone(), announcement_rx));
        let mut background = vec![
            tokio::spawn(run_listener(shared.clone(), listener)),
            tokio::spawn(run_heartbeat(shared.clone())),
            tokio::spawn(run_rescuer(shared.db.clone(), shared.config.rescue_every)),
            tokio::spawn(run_stats_folder(shared.db.clone())),
            tokio::spawn(run_refresh(shared.listeners.clone(), shared.db.clone())),
        ];
        if let Some(every) = shared.config.retention_check_every {
            background.push(tokio::spawn(run_retention_schedule(
                shared.db.clone(),
                every,
            )));
        }
        tracing::info!(
            worker = %shared.config.worker_id,
            job_types = ?shared.job_types,
            "worker started"
        );
        Ok(Worker {
            shared,
            background,
            completer,
            announcer,
        })
    }

    /// This worker's id (`jobs.locked_by`).
    pub fn id(&self) -> &str {
        &self.shared.config.worker_id
    }

    /// A probe that says whether this worker still runs: its completer and
    /// background services have not ended, and it has not been told to stop.
    pub fn probe(&self) -> WorkerProbe {
        WorkerProbe {
            stop: self.shared.stop.clone(),
            tasks: self
                .background
                .iter()
                .map(|task| task.abort_handle())
                .chain([self.completer.abort_handle(), self.announcer.abort_handle()])
                .collect(),
        }
    }
}

/// Whether a worker runs, for readiness checks; cheap to clone.
#[derive(Debug, Clone)]
pub struct WorkerProbe {
    stop: CancellationToken,
    tasks: Vec<tokio::task::AbortHandle>,
}

impl WorkerProbe {
    /// True while the worker claims and runs jobs.
    pub fn is_running(&self) -> bool {
        !self.stop.is_cancelled() && self.tasks.iter().all(|task| !task.is_finished())
    }
}
