//! The worker's tasks: fetchers, job tasks, completer, listener, heartbeat,
//! rescuer, and the graceful shutdown that ties them together.

use super::handlers::{JobContext, Registry};
use super::lease_book::LeaseBook;
use crate::domain::JobType;
use crate::server::db::Database;
use crate::server::queue::{
    self, control, lease, Attempt, ClaimRequest, ClaimedJob, Completion, JobError, Outcome,
    RetryPolicy, Transition,
};
use chrono::Utc;
use rand::Rng;
use sqlx::postgres::PgListener;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, Notify, Semaphore};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use uuid::Uuid;

/// Worker settings.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Names this process in `jobs.locked_by`.
    pub worker_id: String,
    /// Jobs claimed ahead of free capacity, per queue.
    pub prefetch: usize,
    /// Most jobs one claim statement takes.
    pub max_claim: usize,
    /// Claim statements a queue may have in flight at once: a second one
    /// keeps the database busy while the first one's jobs are handed out.
    pub claimers: usize,
    /// Lease length; heartbeats renew it.
    pub lease: Duration,
    /// How often held leases are renewed.
    pub heartbeat_every: Duration,
    /// Claim attempt without a NOTIFY (scheduled jobs, missed wake-ups).
    pub poll_interval: Duration,
    /// How often expired leases are looked for.
    pub rescue_every: Duration,
    /// How long running jobs may finish after shutdown starts.
    pub shutdown_grace: Duration,
    /// Retry backoff.
    pub retry: RetryPolicy,
    /// Fixed per-queue concurrency instead of the queues table's (benchmarks).
    pub concurrency_override: Option<usize>,
    /// Most completions written by one statement.
    pub completion_batch: usize,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            worker_id: default_worker_id(),
            prefetch: 10,
            max_claim: 500,
            claimers: 2,
            lease: Duration::from_secs(30),
            heartbeat_every: Duration::from_secs(10),
            poll_interval: Duration::from_secs(1),
            rescue_every: Duration::from_secs(15),
            shutdown_grace: Duration::from_secs(10),
            retry: RetryPolicy::default(),
            concurrency_override: None,
            completion_batch: 1000,
        }
    }
}

impl WorkerConfig {
    /// Defaults, overridden by `VERIPHY_WORKER_LEASE_SECONDS`,
    /// `VERIPHY_WORKER_POLL_MS`, `VERIPHY_WORKER_RESCUE_SECONDS`,
    /// `VERIPHY_WORKER_SHUTDOWN_GRACE_SECONDS`, `VERIPHY_WORKER_PREFETCH` and
    /// `VERIPHY_WORKER_CLAIMERS`.
    /// The heartbeat runs three times per lease. Unparsable values are
    /// reported and ignored.
    pub fn from_env() -> Self {
        let mut config = WorkerConfig::default();
        let read = |name: &str| -> Option<f64> {
            let value = std::env::var(name).ok()?;
            match value.trim().parse::<f64>() {
                Ok(v) if v > 0.0 && v.is_finite() => Some(v),
                _ => {
                    tracing::warn!(%name, %value, "ignoring: expected a positive number");
                    None
                }
            }
        };
        if let Some(v) = read("VERIPHY_WORKER_LEASE_SECONDS") {
            config.lease = Duration::from_secs_f64(v);
        }
        if let Some(v) = read("VERIPHY_WORKER_POLL_MS") {
            config.poll_interval = Duration::from_secs_f64(v / 1000.0);
        }
        if let Some(v) = read("VERIPHY_WORKER_RESCUE_SECONDS") {
            config.rescue_every = Duration::from_secs_f64(v);
        }
        if let Some(v) = read("VERIPHY_WORKER_SHUTDOWN_GRACE_SECONDS") {
            config.shutdown_grace = Duration::from_secs_f64(v);
        }
        if let Some(v) = read("VERIPHY_WORKER_PREFETCH") {
            config.prefetch = v as usize;
        }
        if let Some(v) = read("VERIPHY_WORKER_CLAIMERS") {
            config.claimers = (v as usize).clamp(1, 8);
        }
        config.heartbeat_every = config.lease / 3;
        config
    }
}

/// `host:pid:random`, unique per process start.
fn default_worker_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "localhost".into());
    let tag: u32 = rand::thread_rng().gen();
    format!("{host}:{}:{tag:08x}", std::process::id())
}

/// Why a job's cancellation token fired.
const STOP_NONE: u8 = 0;
const STOP_REQUESTED: u8 = 1;
const STOP_LEASE_LOST: u8 = 2;

/// A job this process holds (claimed, running or waiting for a slot).
struct Held {
    lease_token: Uuid,
    cancel: CancellationToken,
    reason: Arc<AtomicU8>,
}

/// One queue's fetcher state.
struct QueueRunner {
    name: String,
    slots: Arc<Semaphore>,
    concurrency: AtomicUsize,
    paused: AtomicBool,
    in_flight: AtomicUsize,
    wake: Notify,
    slot_freed: Notify,
}

struct Shared {
    db: Database,
    config: WorkerConfig,
    registry: Registry,
    job_types: Vec<JobType>,
    held: Mutex<HashMap<Uuid, Held>>,
    /// Lease rows of this process's claims.
    leases: Arc<Mutex<LeaseBook>>,
    queues: Mutex<HashMap<String, Arc<QueueRunner>>>,
    completions: mpsc::UnboundedSender<Completion>,
    /// Stop claiming (graceful shutdown has begun).
    stop: CancellationToken,
    /// Abandon running jobs (the grace period is over).
    abandon: CancellationToken,
    jobs: TaskTracker,
    fetchers: TaskTracker,
}

impl Shared {
    fn lease_book(&self) -> std::sync::MutexGuard<'_, LeaseBook> {
        self.leases.lock().expect("lease book lock")
    }
}

/// A running worker; [`Worker::shutdown`] stops it gracefully.
pub struct Worker {
    shared: Arc<Shared>,
    background: Vec<JoinHandle<()>>,
    completer: JoinHandle<()>,
}

impl Worker {
    /// Starts a worker on `db` with `registry`'s handlers.
    pub async fn start(
        db: Database,
        registry: Registry,
        config: WorkerConfig,
    ) -> Result<Worker, sqlx::Error> {
        let (completions, completion_rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            job_types: registry.job_types(),
            db,
            config,
            registry,
            held: Mutex::new(HashMap::new()),
            leases: Arc::new(Mutex::new(LeaseBook::default())),
            queues: Mutex::new(HashMap::new()),
            completions,
            stop: CancellationToken::new(),
            abandon: CancellationToken::new(),
            jobs: TaskTracker::new(),
            fetchers: TaskTracker::new(),
        });
        // Listen before the first claim so no NOTIFY falls between them.
        let mut listener = PgListener::connect_with(&shared.db.worker).await?;
        listener
            .listen_all([
                queue::JOBS_CHANNEL,
                queue::CANCEL_CHANNEL,
                queue::QUEUES_CHANNEL,
            ])
            .await?;
        reload_queues(&shared).await?;
        let completer = tokio::spawn(run_completer(shared.clone(), completion_rx));
        let background = vec![
            tokio::spawn(run_listener(shared.clone(), listener)),
            tokio::spawn(run_heartbeat(shared.clone())),
            tokio::spawn(run_rescuer(shared.clone())),
        ];
        tracing::info!(
            worker = %shared.config.worker_id,
            job_types = ?shared.job_types,
            "worker started"
        );
        Ok(Worker {
            shared,
            background,
            completer,
        })
    }

    /// This worker's id (`jobs.locked_by`).
    pub fn id(&self) -> &str {
        &self.shared.config.worker_id
    }

    /// Graceful shutdown: stop claiming, let running jobs finish within the
    /// grace period, then return every job still held to its queue without
    /// spending its attempt.
    pub async fn shutdown(self) {
        let shared = self.shared;
        shared.stop.cancel();
        shared.fetchers.close();
        shared.fetchers.wait().await;
        shared.jobs.close();
        if tokio::time::timeout(shared.config.shutdown_grace, shared.jobs.wait())
            .await
            .is_err()
        {
            tracing::warn!("grace period over: returning unfinished jobs to their queues");
            shared.abandon.cancel();
            shared.jobs.wait().await;
        }
        for task in &self.background {
            task.abort();
        }
        // Every job task has ended, so the completer's channel only needs
        // draining: drop our sender by dropping `shared` after the wait.
        let held: Vec<(Uuid, Uuid)> = {
            let held = shared.held.lock().expect("held jobs lock");
            held.iter().map(|(id, h)| (*id, h.lease_token)).collect()
        };
        let db = shared.db.clone();
        let leases = shared.leases.clone();
        drop(shared);
        for task in self.background {
            let _ = task.await;
        }
        let _ = self.completer.await;
        // The completer has ended: every write that will happen has happened.
        let droppable = leases.lock().expect("lease book lock").drain_droppable();
        if !held.is_empty() || !droppable.is_empty() {
            match db.worker.acquire().await {
                Ok(mut conn) => match queue::release(&mut conn, &held, &droppable).await {
                    Ok(count) => tracing::info!(count, "returned held jobs to their queues"),
                    Err(error) => tracing::error!(%error, "could not return held jobs"),
                },
                Err(error) => tracing::error!(%error, "could not return held jobs"),
            }
        }
        tracing::info!("worker stopped");
    }
}

/// Reads the queues table: starts fetchers for new queues, applies pause and
/// concurrency changes.
async fn reload_queues(shared: &Arc<Shared>) -> Result<(), sqlx::Error> {
    let settings = {
        let mut conn = shared.db.worker.acquire().await?;
        control::settings(&mut conn).await?
    };
    let mut queues = shared.queues.lock().expect("queues lock");
    for setting in settings {
        let concurrency = shared
            .config
            .concurrency_override
            .unwrap_or(setting.concurrency.max(1) as usize);
        match queues.get(&setting.name) {
            Some(runner) => {
                runner.paused.store(setting.paused, Ordering::SeqCst);
                resize(runner, concurrency);
                runner.wake.notify_one();
            }
            None => {
                let runner = Arc::new(QueueRunner {
                    name: setting.name.clone(),
                    slots: Arc::new(Semaphore::new(concurrency)),
                    concurrency: AtomicUsize::new(concurrency),
                    paused: AtomicBool::new(setting.paused),
                    in_flight: AtomicUsize::new(0),
                    wake: Notify::new(),
                    slot_freed: Notify::new(),
                });
                queues.insert(setting.name, runner.clone());
                if !shared.stop.is_cancelled() {
                    for _ in 0..shared.config.claimers.max(1) {
                        shared
                            .fetchers
                            .spawn(run_fetcher(shared.clone(), runner.clone()));
                    }
                }
            }
        }
    }
    Ok(())
}

/// Changes a queue's number of slots.
fn resize(runner: &QueueRunner, concurrency: usize) {
    let old = runner.concurrency.swap(concurrency, Ordering::SeqCst);
    if concurrency > old {
        runner.slots.add_permits(concurrency - old);
    } else if concurrency < old {
        let debt = old - concurrency;
        let forgotten = runner.slots.forget_permits(debt);
        if forgotten < debt {
            // Slots in use now: take the rest as they come back.
            let slots = runner.slots.clone();
            let rest = (debt - forgotten) as u32;
            tokio::spawn(async move {
                if let Ok(permits) = slots.acquire_many(rest).await {
                    permits.forget();
                }
            });
        }
    }
}

/// Claims jobs of one queue while there is room, then waits for a wake-up.
async fn run_fetcher(shared: Arc<Shared>, runner: Arc<QueueRunner>) {
    let config = &shared.config;
    let mut failures = 0u32;
    loop {
        if shared.stop.is_cancelled() {
            return;
        }
        if runner.paused.load(Ordering::SeqCst) || shared.job_types.is_empty() {
            if !wait(&shared, &runner.wake, config.poll_interval).await {
                return;
            }
            continue;
        }
        let capacity = runner.concurrency.load(Ordering::SeqCst) + config.prefetch;
        let room = capacity.saturating_sub(runner.in_flight.load(Ordering::SeqCst));
        if room == 0 {
            tokio::select! {
                _ = runner.slot_freed.notified() => continue,
                _ = shared.stop.cancelled() => return,
            }
        }
        let limit = room.min(config.max_claim);
        match claim_batch(&shared, &runner, limit).await {
            Ok(count) => {
                failures = 0;
                if count == limit {
                    continue;
                }
            }
            Err(error) => {
                failures += 1;
                tracing::warn!(queue = %runner.name, %error, "claim failed");
                let pause = Duration::from_millis(100 * 2u64.pow(failures.min(6)));
                tokio::select! {
                    _ = tokio::time::sleep(pause) => {},
                    _ = shared.stop.cancelled() => return,
                }
                continue;
            }
        }
        if !wait(&shared, &runner.wake, config.poll_interval).await {
            return;
        }
    }
}

/// Waits for a wake-up or the poll interval; false when stopping.
async fn wait(shared: &Shared, wake: &Notify, poll: Duration) -> bool {
    tokio::select! {
        _ = wake.notified() => true,
        _ = tokio::time::sleep(poll) => true,
        _ = shared.stop.cancelled() => false,
    }
}

/// One claim statement; spawns a task per claimed job.
async fn claim_batch(
    shared: &Arc<Shared>,
    runner: &Arc<QueueRunner>,
    limit: usize,
) -> Result<usize, sqlx::Error> {
    let lease_token = Uuid::new_v4();
    shared.lease_book().begin(lease_token);
    let claimed = async {
        let mut conn = shared.db.worker.acquire().await?;
        queue::claim(
            &mut conn,
            &ClaimRequest {
                queue: &runner.name,
                job_types: &shared.job_types,
                limit: limit as i64,
                worker_id: &shared.config.worker_id,
                lease_token,
                lease: shared.config.lease,
            },
        )
        .await
    }
    .await;
    // The statement may have committed before the error reached us (a lost
    // connection): its lease row, if any, is left to expire, and the rescuer
    // returns its jobs.
    let jobs = claimed.inspect_err(|_| shared.lease_book().abandon_claim(lease_token))?;
    let count = jobs.len();
    shared.lease_book().claimed(lease_token, count);
    runner.in_flight.fetch_add(count, Ordering::SeqCst);
    let mut held = shared.held.lock().expect("held jobs lock");
    for job in jobs {
        let cancel = shared.abandon.child_token();
        let reason = Arc::new(AtomicU8::new(STOP_NONE));
        held.insert(
            job.id,
            Held {
                lease_token,
                cancel: cancel.clone(),
                reason: reason.clone(),
            },
        );
        shared
            .jobs
            .spawn(run_job(shared.clone(), runner.clone(), job, cancel, reason));
    }
    Ok(count)
}

/// Waits for a slot, runs the handler, records the outcome.
async fn run_job(
    shared: Arc<Shared>,
    runner: Arc<QueueRunner>,
    job: ClaimedJob,
    cancel: CancellationToken,
    reason: Arc<AtomicU8>,
) {
    let _in_flight = InFlight(&runner);
    let slot = tokio::select! {
        biased;
        _ = shared.stop.cancelled() => return, // never started: released at shutdown
        _ = cancel.cancelled() => None,
        slot = runner.slots.clone().acquire_owned() => slot.ok(),
    };
    let started_at = Utc::now();
    let outcome = if slot.is_none() {
        stopped_outcome(&reason)
    } else {
        run_handler(&shared, &job, &cancel, &reason).await
    };
    drop(slot);
    let Some(outcome) = outcome else {
        // Lease lost (the rescuer took the job and its lease row) or worker
        // abandoning (shutdown returns the job and drops the row).
        if reason.load(Ordering::SeqCst) == STOP_LEASE_LOST {
            shared.lease_book().end(job.lease_token, true);
        }
        return;
    };
    let finished_at = Utc::now();
    if let Outcome::Completed(result) = outcome {
        shared.held.lock().expect("held jobs lock").remove(&job.id);
        let _ = shared.completions.send(Completion {
            id: job.id,
            lease_token: job.lease_token,
            started_at,
            finished_at,
            result,
        });
        return;
    }
    let attempt = Attempt {
        number: job.attempts,
        max_attempts: job.max_attempts,
        started_at,
        finished_at,
    };
    let unit: f64 = rand::thread_rng().gen();
    let transition = Transition::decide(&outcome, attempt, &shared.config.retry, unit)
        .expect("non-success outcomes have a transition");
    let written = write_transition(&shared, &job, started_at, &transition).await;
    shared.held.lock().expect("held jobs lock").remove(&job.id);
    shared.lease_book().end(job.lease_token, written);
}

/// Runs the handler under its timeout and cancellation; `None` means the job
/// must be left alone (lease lost, or the worker is abandoning it).
async fn run_handler(
    shared: &Shared,
    job: &ClaimedJob,
    cancel: &CancellationToken,
    reason: &AtomicU8,
) -> Option<Outcome> {
    let Some(handler) = shared.registry.get(job.job_type) else {
        return Some(Outcome::Fail(JobError::new(
            "no_handler",
            format!("No handler is configured for {} jobs.", job.job_type),
        )));
    };
    let ctx = Arc::new(JobContext {
        job: job.clone(),
        db: shared.db.clone(),
        cancel: cancel.clone(),
    });
    let timeout = Duration::from_secs(job.timeout_seconds.max(1) as u64);
    // The handler runs in its own task so a panic becomes a failed attempt.
    let mut task = tokio::spawn(handler.run(ctx));
    tokio::select! {
        result = tokio::time::timeout(timeout, &mut task) => match result {
            Ok(Ok(outcome)) => Some(outcome),
            Ok(Err(join_error)) => Some(Outcome::Retry(JobError::new(
                "panic",
                format!("The {} handler crashed: {}", job.job_type, panic_message(join_error)),
            ))),
            Err(_) => {
                task.abort();
                Some(Outcome::Retry(JobError::new(
                    "timeout",
                    format!("The attempt did not finish within {} s.", job.timeout_seconds),
                )))
            }
        },
        _ = cancel.cancelled() => {
            task.abort();
            stopped_outcome(reason)
        }
    }
}

/// What a fired cancellation token means for the job.
fn stopped_outcome(reason: &AtomicU8) -> Option<Outcome> {
    match reason.load(Ordering::SeqCst) {
        STOP_REQUESTED => Some(Outcome::Cancel(
            "Cancelled on request while running.".into(),
        )),
        _ => None,
    }
}

fn panic_message(error: tokio::task::JoinError) -> String {
    match error.try_into_panic() {
        Ok(panic) => panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "panic".into()),
        Err(error) => error.to_string(),
    }
}

/// Writes a non-success outcome, retrying briefly on connection trouble (the
/// lease rescues the job if we never manage to). False when it gave up.
async fn write_transition(
    shared: &Shared,
    job: &ClaimedJob,
    started_at: chrono::DateTime<Utc>,
    transition: &Transition,
) -> bool {
    for attempt in 0..5u32 {
        let result = async {
            let mut conn = shared.db.worker.acquire().await?;
            queue::finish(&mut conn, job.id, job.lease_token, started_at, transition).await
        }
        .await;
        match result {
            Ok(true) => return true,
            Ok(false) => {
                tracing::warn!(job = %job.id, "lease lost before the outcome was written");
                return true;
            }
            Err(error) => {
                tracing::warn!(job = %job.id, %error, "could not write the outcome; retrying");
                tokio::time::sleep(Duration::from_millis(200 << attempt)).await;
            }
        }
    }
    tracing::error!(job = %job.id, "outcome not written; its lease will expire and the job run again");
    false
}

/// Keeps a queue's in-flight count right however the job task ends.
struct InFlight<'a>(&'a QueueRunner);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
        self.0.slot_freed.notify_one();
    }
}

/// Writes completions in batches: whatever is waiting, up to the batch size,
/// in one statement.
async fn run_completer(shared: Arc<Shared>, mut rx: mpsc::UnboundedReceiver<Completion>) {
    let batch_size = shared.config.completion_batch.max(1);
    let db = shared.db.clone();
    let leases = shared.leases.clone();
    // The completer must not keep the sender alive, or it would never end.
    drop(shared);
    let mut batch = Vec::with_capacity(batch_size);
    while let Some(first) = rx.recv().await {
        batch.push(first);
        while batch.len() < batch_size {
            match rx.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        let written = write_completions(&db, &batch).await;
        let mut book = leases.lock().expect("lease book lock");
        for completion in &batch {
            book.end(completion.lease_token, written);
        }
        drop(book);
        batch.clear();
    }
}

/// Writes one batch of completions, retrying briefly on connection trouble;
/// false when it gave up (the leases then expire and the jobs run again).
async fn write_completions(db: &Database, batch: &[Completion]) -> bool {
    for attempt in 0..5u32 {
        let result = async {
            let mut conn = db.worker.acquire().await?;
            queue::complete_many(&mut conn, batch).await
        }
        .await;
        match result {
            Ok(written) => {
                if written.len() < batch.len() {
                    tracing::warn!(
                        lost = batch.len() - written.len(),
                        "completions skipped: their leases had expired"
                    );
                }
                return true;
            }
            Err(error) => {
                tracing::warn!(%error, "could not write completions; retrying");
                tokio::time::sleep(Duration::from_millis(200 << attempt)).await;
            }
        }
    }
    tracing::error!(
        count = batch.len(),
        "completions not written; their leases will expire and the jobs run again"
    );
    false
}

/// Dispatches notifications: new work, cancellations, queue changes.
async fn run_listener(shared: Arc<Shared>, mut listener: PgListener) {
    loop {
        match listener.try_recv().await {
            Ok(Some(notification)) => match notification.channel() {
                queue::JOBS_CHANNEL => {
                    let runner = shared
                        .queues
                        .lock()
                        .expect("queues lock")
                        .get(notification.payload())
                        .cloned();
                    match runner {
                        Some(runner) => runner.wake.notify_one(),
                        None => reload_quietly(&shared).await,
                    }
                }
                queue::CANCEL_CHANNEL => {
                    if let Ok(id) = notification.payload().parse::<Uuid>() {
                        request_cancel(&shared, id, STOP_REQUESTED);
                    }
                }
                _ => reload_quietly(&shared).await,
            },
            Ok(None) => {
                // Reconnected: notifications may have been missed.
                tracing::warn!("notification connection was lost and re-established");
                reload_quietly(&shared).await;
                wake_all(&shared);
            }
            Err(error) => {
                tracing::warn!(%error, "notification listener error");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

async fn reload_quietly(shared: &Arc<Shared>) {
    if let Err(error) = reload_queues(shared).await {
        tracing::warn!(%error, "could not reload queue settings");
    }
}

fn wake_all(shared: &Shared) {
    for runner in shared.queues.lock().expect("queues lock").values() {
        runner.wake.notify_one();
    }
}

/// Fires a held job's cancellation token with `why`.
fn request_cancel(shared: &Shared, id: Uuid, why: u8) {
    if let Some(held) = shared.held.lock().expect("held jobs lock").get(&id) {
        held.reason.store(why, Ordering::SeqCst);
        held.cancel.cancel();
    }
}

/// Renews this process's leases and drops those of finished claims; stops
/// jobs whose lease was lost or whose cancellation was requested (the
/// NOTIFY's fallback).
async fn run_heartbeat(shared: Arc<Shared>) {
    let mut ticker = tokio::time::interval(shared.config.heartbeat_every);
    ticker.tick().await;
    loop {
        ticker.tick().await;
        let held: Vec<(Uuid, Uuid)> = shared
            .held
            .lock()
            .expect("held jobs lock")
            .iter()
            .map(|(id, h)| (*id, h.lease_token))
            .collect();
        let (renew, finished) = {
            let mut book = shared.lease_book();
            if held.is_empty() && book.is_idle() {
                continue;
            }
            (book.to_renew(), book.take_finished())
        };
        let renewed = async {
            let mut conn = shared.db.worker.acquire().await?;
            lease::heartbeat(&mut conn, &held, &renew, &finished, shared.config.lease).await
        }
        .await;
        match renewed {
            Ok(renewed) => {
                let still: HashMap<Uuid, bool> =
                    renewed.iter().map(|r| (r.id, r.cancel_requested)).collect();
                for (id, _) in &held {
                    match still.get(id) {
                        Some(true) => request_cancel(&shared, *id, STOP_REQUESTED),
                        Some(false) => {}
                        None => request_cancel(&shared, *id, STOP_LEASE_LOST),
                    }
                }
            }
            Err(error) => {
                tracing::warn!(%error, "heartbeat failed");
                // Try the deletions again next time.
                let mut book = shared.lease_book();
                for token in finished {
                    book.requeue_finished(token);
                }
            }
        }
    }
}

/// Periodically returns jobs whose holders died.
async fn run_rescuer(shared: Arc<Shared>) {
    loop {
        let jitter = rand::thread_rng().gen_range(0.8..1.2);
        tokio::time::sleep(shared.config.rescue_every.mul_f64(jitter)).await;
        loop {
            let rescued = async {
                let mut conn = shared.db.worker.acquire().await?;
                lease::rescue(&mut conn, 100).await
            }
            .await;
            match rescued {
                Ok(r) if r.leases == 0 => break,
                Ok(r) if r.retried + r.failed + r.cancelled == 0 => {}
                Ok(r) => tracing::warn!(
                    retried = r.retried,
                    failed = r.failed,
                    cancelled = r.cancelled,
                    "rescued jobs of workers that stopped responding"
                ),
                Err(error) => {
                    tracing::warn!(%error, "rescue failed");
                    break;
                }
            }
        }
    }
}
