//! The `bench` command: the peer harness's three workloads (bulk enqueue,
//! drain at a concurrency, enqueue-to-start latency at a fixed rate), each in
//! a fresh database, printing the harness's JSON line; and the console's own
//! (`login_flood`, `console`), which serve the console in-process (`serve`).

mod console;
mod login_flood;
mod providers;
mod serve;
mod viewers;
mod webhooks;

use super::db::{self, Database};
use super::queue::{self, NewJob, Outcome};
use super::worker::{FnHandler, Registry, Worker, WorkerConfig};
use crate::domain::JobType;
use serde::Serialize;
use serde_json::json;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, Executor};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use uuid::Uuid;

/// What to measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// Insert `n` jobs in chunks of `chunk`, one statement per chunk.
    Enqueue,
    /// Run `n` pre-enqueued no-op jobs at `concurrency`.
    Drain,
    /// Enqueue one job at a time at `rate` per second for `duration` seconds
    /// and measure enqueue-to-start.
    Latency,
    /// `n` clients, each from its own loopback address, send wrong sign-ins
    /// for `duration` seconds while a signed-in viewer loads the Jobs page;
    /// measures that page's latency.
    LoginFlood,
    /// Every tab's pages, filters and details over `n` jobs and `n` API log
    /// rows (a database made once and reused), as a bank admin and as an
    /// organization's admin; one line per page.
    Console,
    /// `n` email jobs through an SMTP sink on loopback, every call logged;
    /// also prices the log per call.
    Email,
    /// `n` SMS jobs through an HTTP stand-in of the SMS API on loopback,
    /// every call logged; also prices the log per call.
    Sms,
    /// `n` viewers watch the Jobs tab live (websocket, its first page
    /// pushed) while jobs run at `rate` per second for `duration` seconds;
    /// measures the database's transactions and rows read per second.
    Viewers,
    /// `n` events delivered to a webhook receiver on loopback, signed and
    /// logged, at `concurrency`.
    Webhooks,
    /// Events raised one per transaction at `rate` per second for
    /// `duration` seconds; measures raise-to-receipt at a webhook receiver.
    WebhookLatency,
}

/// The workloads that run in a database of their own, made for the run and
/// dropped after it (the console benchmark keeps and reuses its data).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FreshDatabaseWorkload {
    Enqueue,
    Drain,
    Latency,
    LoginFlood,
    Viewers,
    Email,
    Sms,
    Webhooks,
    WebhookLatency,
}

impl Mode {
    /// The workload when it runs in a fresh database; `None` for the console.
    fn fresh_database_workload(self) -> Option<FreshDatabaseWorkload> {
        match self {
            Mode::Enqueue => Some(FreshDatabaseWorkload::Enqueue),
            Mode::Drain => Some(FreshDatabaseWorkload::Drain),
            Mode::Latency => Some(FreshDatabaseWorkload::Latency),
            Mode::LoginFlood => Some(FreshDatabaseWorkload::LoginFlood),
            Mode::Viewers => Some(FreshDatabaseWorkload::Viewers),
            Mode::Email => Some(FreshDatabaseWorkload::Email),
            Mode::Sms => Some(FreshDatabaseWorkload::Sms),
            Mode::Webhooks => Some(FreshDatabaseWorkload::Webhooks),
            Mode::WebhookLatency => Some(FreshDatabaseWorkload::WebhookLatency),
            Mode::Console => None,
        }
    }
}

/// Benchmark settings (the command line's).
#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// Workload.
    #[arg(long, value_enum)]
    pub mode: Mode,
    /// Jobs (enqueue, drain, email, sms); clients (login-flood); viewers (viewers).
    #[arg(long, default_value_t = 100_000)]
    pub n: usize,
    /// Handlers running at once (drain, latency, viewers, email, sms).
    #[arg(long, default_value_t = 10)]
    pub concurrency: usize,
    /// Jobs per second offered (latency, viewers).
    #[arg(long, default_value_t = 500)]
    pub rate: u32,
    /// Seconds measured (latency, login-flood, viewers), after a warm-up.
    #[arg(long, default_value_t = 20)]
    pub duration: u64,
    /// Jobs per enqueue statement (enqueue).
    #[arg(long, default_value_t = 1000)]
    pub chunk: usize,
    /// Jobs claimed ahead of free handlers (drain, latency).
    #[arg(long, default_value_t = 1000)]
    pub prefetch: usize,
    /// Claim statements in flight per queue (drain, latency).
    #[arg(long, default_value_t = 2)]
    pub claimers: usize,
    /// Keep the benchmark database afterwards.
    #[arg(long)]
    pub keep_db: bool,
    /// Live viewers watching while the workload runs (enqueue, drain,
    /// latency): the console served in-process with its hub, and this many
    /// websockets of a bank admin showing the Jobs tab's first page.
    #[arg(long, default_value_t = 0)]
    pub viewers: usize,
    /// Webhooks subscribed to `job.completed` (drain): each completion
    /// raises the event and enqueues its deliveries (not run), pricing the
    /// engine's own events; 0 prices the "does anybody listen" probe alone.
    #[arg(long, default_value_t = 0)]
    pub subscribers: usize,
}

/// Why a benchmark could not run.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// The server refused the connection.
    #[error("cannot connect to the benchmark server")]
    Connect(#[source] sqlx::Error),
    /// The login lacks CREATEDB, or the server refused.
    #[error("cannot create the benchmark database (needs CREATEDB)")]
    CreateDatabase(#[source] sqlx::Error),
    /// The fresh database could not be migrated.
    #[error(transparent)]
    Migration(#[from] db::MigrationError),
    /// A statement of the workload failed.
    #[error("benchmark failed")]
    Run(#[from] sqlx::Error),
    /// The result could not be written.
    #[error("cannot print the result")]
    Print(#[from] serde_json::Error),
}

/// One result line, in the peer harness's shape.
#[derive(Debug, Serialize)]
struct ResultLine {
    system: &'static str,
    mode: &'static str,
    n: usize,
    concurrency: Option<usize>,
    rate: Option<u32>,
    jobs_per_s: f64,
    p50_ms: Option<f64>,
    p95_ms: Option<f64>,
    p99_ms: Option<f64>,
    max_ms: Option<f64>,
    notes: String,
}

impl ResultLine {
    /// A line with a rate and no latency figures (enqueue, drain).
    fn throughput(
        mode: &'static str,
        n: usize,
        concurrency: Option<usize>,
        jobs_per_s: f64,
        notes: String,
    ) -> Self {
        ResultLine {
            system: "veriphy-jobs",
            mode,
            n,
            concurrency,
            rate: None,
            jobs_per_s: round(jobs_per_s),
            p50_ms: None,
            p95_ms: None,
            p99_ms: None,
            max_ms: None,
            notes,
        }
    }

    /// The same line for a workload offered at `rate` per second.
    fn at_rate(mut self, rate: u32) -> Self {
        self.rate = Some(rate);
        self
    }

    /// The same line with the p50, p95, p99 and max of `sorted` (ms,
    /// ascending).
    fn with_times(mut self, sorted: &[f64]) -> Self {
        self.p50_ms = percentile(sorted, 0.50);
        self.p95_ms = percentile(sorted, 0.95);
        self.p99_ms = percentile(sorted, 0.99);
        self.max_ms = sorted.last().copied().map(round);
        self
    }
}

/// Runs one benchmark against the server of `options` and prints its line
/// (the console benchmark: a line per page).
pub async fn run(options: &PgConnectOptions, args: &BenchArgs) -> Result<(), BenchError> {
    let Some(workload) = args.mode.fresh_database_workload() else {
        return console::run(options, args).await;
    };
    let name = format!(
        "bench_veriphy_{}_{}",
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs(),
        std::process::id()
    );
    let mut admin = sqlx::PgConnection::connect_with(options)
        .await
        .map_err(BenchError::Connect)?;
    admin
        .execute(format!("create database {name}").as_str())
        .await
        .map_err(BenchError::CreateDatabase)?;
    let bench_options = options.clone().database(&name);
    let outcome = run_in(&bench_options, workload, args).await;
    if !args.keep_db {
        let _ = admin
            .execute(format!("drop database if exists {name} with (force)").as_str())
            .await;
    }
    let line = outcome?;
    println!("{}", serde_json::to_string(&line)?);
    Ok(())
}

async fn run_in(
    options: &PgConnectOptions,
    workload: FreshDatabaseWorkload,
    args: &BenchArgs,
) -> Result<ResultLine, BenchError> {
    db::migrate(options).await?;
    let owner = PgPoolOptions::new()
        .max_connections(2)
        .connect_with(options.clone())
        .await?;
    let organization: Uuid = sqlx::query_scalar(
        "insert into organizations (name, slug) values ('Benchmark', 'benchmark') returning id",
    )
    .fetch_one(&owner)
    .await?;
    let pool_size = (args.concurrency as u32 + 8).clamp(12, 100);
    let db = Database::connect(options.clone(), pool_size).await?;
    let engine_workload = matches!(
        workload,
        FreshDatabaseWorkload::Enqueue
            | FreshDatabaseWorkload::Drain
            | FreshDatabaseWorkload::Latency
    );
    let watchers = if engine_workload && args.viewers > 0 {
        Some(viewers::Watchers::start(&db, args.viewers).await?)
    } else {
        None
    };
    let line = match workload {
        FreshDatabaseWorkload::Enqueue => enqueue(&db, &owner, organization, args).await,
        FreshDatabaseWorkload::Drain => drain(&db, &owner, organization, args).await,
        FreshDatabaseWorkload::Latency => latency(&db, &owner, organization, args).await,
        FreshDatabaseWorkload::LoginFlood => login_flood::login_flood(&db, args).await,
        FreshDatabaseWorkload::Viewers => viewers::viewers(&db, args).await,
        FreshDatabaseWorkload::Email => {
            providers::providers(&db, organization, providers::Channel::Email, args).await
        }
        FreshDatabaseWorkload::Sms => {
            providers::providers(&db, organization, providers::Channel::Sms, args).await
        }
        FreshDatabaseWorkload::Webhooks => webhooks::deliveries(&db, organization, args).await,
        FreshDatabaseWorkload::WebhookLatency => {
            webhooks::delivery_latency(&db, organization, args).await
        }
    };
    let line = match (line, watchers) {
        (Ok(mut line), Some(watchers)) => {
            line.notes = format!("{}; {}", line.notes, watchers.stop().await);
            Ok(line)
        }
        (line, _) => line,
    };
    db.app.close().await;
    db.worker.close().await;
    owner.close().await;
    Ok(line?)
}

fn noop_job(organization: Uuid, payload: serde_json::Value) -> NewJob {
    NewJob::new(organization, JobType::Other, "bench", payload)
}

async fn enqueue(
    db: &Database,
    owner: &sqlx::PgPool,
    organization: Uuid,
    args: &BenchArgs,
) -> Result<ResultLine, sqlx::Error> {
    let chunk = args.chunk.max(1);
    let jobs: Vec<NewJob> = (0..args.n)
        .map(|i| noop_job(organization, json!({ "i": i })))
        .collect();
    settle(owner).await;
    let mut conn = db.worker.acquire().await?;
    let started = Instant::now();
    for part in jobs.chunks(chunk) {
        queue::enqueue_many(&mut conn, part).await?;
    }
    let wall = started.elapsed().as_secs_f64();
    let rows: i64 = sqlx::query_scalar("select count(*) from jobs")
        .fetch_one(owner)
        .await?;
    Ok(ResultLine::throughput(
        "enqueue",
        args.n,
        None,
        args.n as f64 / wall,
        format!(
            "enqueue_many chunk={chunk} ({} statements, sequential, 1 connection); verified rows={rows}; {}",
            args.n.div_ceil(chunk),
            load()
        ),
    ))
}

async fn drain(
    db: &Database,
    owner: &sqlx::PgPool,
    organization: Uuid,
    args: &BenchArgs,
) -> Result<ResultLine, sqlx::Error> {
    // As the peer harness does (run-all.sh): a checkpoint before the run's
    // setup, none between the pre-enqueue and the clock. One right before
    // the clock would have the drain write a full-page image of every page
    // it touches into the WAL, which no peer run pays.
    settle(owner).await;
    let jobs: Vec<NewJob> = (0..args.n)
        .map(|i| noop_job(organization, json!({ "i": i })))
        .collect();
    {
        let mut conn = db.worker.acquire().await?;
        for part in jobs.chunks(10_000) {
            queue::enqueue_many(&mut conn, part).await?;
        }
    }
    drop(jobs);
    let keyring = super::secrets::Keyring::new(super::secrets::SecretKey::generate().0, Vec::new());
    for _ in 0..args.subscribers {
        webhooks::subscribe(
            db,
            &keyring,
            organization,
            "https://receiver.bank.example/hooks",
            crate::domain::WebhookEvent::JobCompleted,
        )
        .await?;
    }
    sqlx::query("vacuum analyze jobs, job_queue")
        .execute(owner)
        .await?;
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let registry = Registry::empty().with(
        JobType::Other,
        FnHandler(move |_ctx| {
            counter.fetch_add(1, Ordering::Relaxed);
            async { Outcome::Completed(None) }
        }),
    );
    let config = bench_worker_config(args);
    let started = Instant::now();
    let worker = Worker::start(db.clone(), registry, config).await?;
    // Count handler calls in memory until all ran, so polling does not load
    // the server; then wait for the last completions to be written.
    while calls.load(Ordering::Relaxed) < args.n {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // The clock stops when PostgreSQL has every completion committed: read
    // from the statistics the completion statements append (a few rows),
    // not by counting 100,000 job rows every few milliseconds while the
    // last completions are written (that count took 20 ms of a core each).
    while completed_attempts(owner, organization, JobType::Other).await? < args.n as i64 {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let mut wall = started.elapsed().as_secs_f64();
    // The statistics count attempts as workers finished them: the rows
    // themselves confirm it, and a job still unfinished keeps the clock
    // running.
    let mut straggled = false;
    while unfinished(owner, JobType::Other).await? {
        straggled = true;
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    if straggled {
        wall = started.elapsed().as_secs_f64();
    }
    worker.shutdown().await;
    let completed = completed(owner).await?;
    let deliveries: i64 =
        sqlx::query_scalar("select count(*) from jobs where job_type = 'webhook'")
            .fetch_one(owner)
            .await?;
    Ok(ResultLine::throughput(
        "drain",
        args.n,
        Some(args.concurrency),
        args.n as f64 / wall,
        format!(
            "prefetch={} claimers={} max_claim=1000 completion_batch=1000; webhooks subscribed to job.completed: {} (deliveries enqueued: {deliveries}); verified: {completed}/{} rows status=completed (finished jobs are kept), handler calls={}; wall {wall:.2}s incl. worker startup; {}",
            args.prefetch,
            args.claimers,
            args.subscribers,
            args.n,
            calls.load(Ordering::Relaxed),
            load()
        ),
    ))
}

async fn latency(
    db: &Database,
    owner: &sqlx::PgPool,
    organization: Uuid,
    args: &BenchArgs,
) -> Result<ResultLine, sqlx::Error> {
    // Each measured job's latency and its enqueue's round trip (micros), to
    // split the latency into the enqueue and what follows its commit.
    let latencies = Arc::new(Mutex::new(Vec::<(Uuid, i64)>::new()));
    let sink = latencies.clone();
    let enqueued = Arc::new(Mutex::new(std::collections::HashMap::<Uuid, i64>::new()));
    let registry = Registry::empty().with(
        JobType::Other,
        FnHandler(move |ctx: Arc<super::worker::JobContext>| {
            let now = epoch_micros();
            let payload = &ctx.job.payload;
            if !payload["warmup"].as_bool().unwrap_or(false) {
                if let Some(t0) = payload["t0"].as_i64() {
                    sink.lock()
                        .expect("latencies lock")
                        .push((ctx.job.id, now - t0));
                }
            }
            async { Outcome::Completed(None) }
        }),
    );
    settle(owner).await;
    let worker = Worker::start(db.clone(), registry, bench_worker_config(args)).await?;
    let rate = args.rate.max(1);
    let warmup = 2 * rate as usize;
    let measured = rate as usize * args.duration as usize;
    let max_lag = open_loop(rate, warmup + measured, |i| {
        let pool = db.worker.clone();
        let warm = i < warmup;
        let enqueued = enqueued.clone();
        async move {
            let t0 = epoch_micros();
            let job = noop_job(organization, json!({ "t0": t0, "warmup": warm }));
            let mut conn = pool.acquire().await?;
            let id = queue::enqueue(&mut conn, &job).await?;
            if !warm {
                enqueued
                    .lock()
                    .expect("enqueued lock")
                    .insert(id, epoch_micros() - t0);
            }
            Ok(())
        }
    })
    .await?;
    let deadline = Instant::now() + Duration::from_secs(30);
    while unfinished(owner, JobType::Other).await? && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    worker.shutdown().await;
    let completed = completed(owner).await?;
    let latencies = latencies.lock().expect("latencies lock").clone();
    let mut samples: Vec<f64> = latencies
        .iter()
        .map(|&(_, micros)| micros as f64 / 1000.0)
        .collect();
    samples.sort_by(|a, b| a.total_cmp(b));
    let (enqueue_p50, after_enqueue_p50) =
        latency_split(&enqueued.lock().expect("enqueued lock"), &latencies);
    let notes = format!(
        "offered {rate}/s for {}s after 2s warmup (open loop, one enqueue statement per job, LISTEN/NOTIFY wake-ups); enqueue round trip p50 {enqueue_p50:.2}ms, the rest p50 {after_enqueue_p50:.2}ms; measured {}/{measured} samples; DB verified {completed}/{} completed; producer max lag {:.1}ms; {}",
        args.duration,
        samples.len(),
        warmup + measured,
        max_lag.as_secs_f64() * 1000.0,
        load()
    );
    Ok(ResultLine::throughput(
        "latency",
        measured,
        Some(args.concurrency),
        rate as f64,
        notes,
    )
    .at_rate(rate)
    .with_times(&samples))
}

/// Runs `count` tasks made by `task` (given their number), started at
/// `rate` per second whatever the earlier ones are doing (an open loop),
/// and waits for them all; the most any start was late.
async fn open_loop<F, Fut>(rate: u32, count: usize, mut task: F) -> Result<Duration, sqlx::Error>
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = Result<(), sqlx::Error>> + Send + 'static,
{
    let interval = Duration::from_secs_f64(1.0 / rate.max(1) as f64);
    let mut producers = tokio::task::JoinSet::new();
    let started = Instant::now();
    let mut max_lag = Duration::ZERO;
    let failed = |e: tokio::task::JoinError| sqlx::Error::Protocol(e.to_string());
    for i in 0..count {
        let due = started + interval * i as u32;
        let now = Instant::now();
        if due > now {
            tokio::time::sleep_until(due.into()).await;
        } else {
            max_lag = max_lag.max(now - due);
        }
        producers.spawn(task(i));
        while let Some(done) = producers.try_join_next() {
            done.map_err(failed)??;
        }
    }
    while let Some(done) = producers.join_next().await {
        done.map_err(failed)??;
    }
    Ok(max_lag)
}

/// The medians, in milliseconds, of the enqueues' round trips (`enqueued`:
/// micros by job id) and of what follows them (each job's latency in
/// `latencies`, micros, minus its enqueue's round trip).
fn latency_split(
    enqueued: &std::collections::HashMap<Uuid, i64>,
    latencies: &[(Uuid, i64)],
) -> (f64, f64) {
    let median = |mut micros: Vec<i64>| {
        micros.sort_unstable();
        let millis: Vec<f64> = micros.iter().map(|&us| us as f64 / 1000.0).collect();
        percentile(&millis, 0.5).unwrap_or(f64::NAN)
    };
    let after: Vec<i64> = latencies
        .iter()
        .filter_map(|(id, latency)| enqueued.get(id).map(|round_trip| latency - round_trip))
        .collect();
    (median(enqueued.values().copied().collect()), median(after))
}

fn bench_worker_config(args: &BenchArgs) -> WorkerConfig {
    WorkerConfig {
        prefetch: args.prefetch,
        max_claim: 1000,
        claimers: args.claimers.max(1),
        concurrency_override: Some(args.concurrency.max(1)),
        completion_batch: 1000,
        ..WorkerConfig::default()
    }
}

/// Jobs completed (the run's verification).
async fn completed(owner: &sqlx::PgPool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("select count(*) from jobs where status = 'completed'")
        .fetch_one(owner)
        .await
}

/// Whether jobs of `job_type` are left unfinished. While any waits in the
/// queue, its entries (a small table) say so; only then are the jobs counted
/// (one pass over the table), so that polling it through a run takes little
/// of the machine from the work measured.
async fn unfinished(owner: &sqlx::PgPool, job_type: JobType) -> Result<bool, sqlx::Error> {
    let queued: bool =
        sqlx::query_scalar("select exists (select from job_queue where job_type = $1)")
            .bind(job_type.as_str())
            .fetch_one(owner)
            .await?;
    if queued {
        return Ok(true);
    }
    let left: i64 = sqlx::query_scalar(
        "select count(*) from jobs where status in ('pending', 'running') and job_type = $1",
    )
    .bind(job_type.as_str())
    .fetch_one(owner)
    .await?;
    Ok(left > 0)
}

/// Completed attempts of `job_type` in `organization` that PostgreSQL has
/// committed, from the engine's per-minute statistics (migrations/0016;
/// a fresh benchmark database has no older periods).
async fn completed_attempts(
    owner: &sqlx::PgPool,
    organization: Uuid,
    job_type: JobType,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "select coalesce(sum(completed), 0)::bigint from job_stats
         where organization_id = $1 and job_type = $2 and period_seconds = 60",
    )
    .bind(organization)
    .bind(job_type.as_str())
    .fetch_one(owner)
    .await
}

/// Checkpoint (when allowed) and pause, as the peer harness does.
async fn settle(owner: &sqlx::PgPool) {
    let _ = sqlx::query("checkpoint").execute(owner).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
}

fn epoch_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_micros() as i64
}

fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    Some(round(sorted[index.min(sorted.len() - 1)]))
}

fn round(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

fn load() -> String {
    let loadavg = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let parts: Vec<&str> = loadavg.split_whitespace().take(3).collect();
    format!("load={}", parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_workload_but_the_console_gets_a_fresh_database() {
        let fresh: Vec<Mode> = [
            Mode::Enqueue,
            Mode::Drain,
            Mode::Latency,
            Mode::LoginFlood,
            Mode::Console,
        ]
        .into_iter()
        .filter(|mode| mode.fresh_database_workload().is_some())
        .collect();
        assert_eq!(
            fresh,
            [Mode::Enqueue, Mode::Drain, Mode::Latency, Mode::LoginFlood]
        );
    }

    #[test]
    fn latency_splits_into_the_enqueue_and_the_rest() {
        let (a, b, c) = (Uuid::from_u128(1), Uuid::from_u128(2), Uuid::from_u128(3));
        let enqueued = std::collections::HashMap::from([(a, 1_000), (b, 3_000), (c, 2_000)]);
        // c's job was not seen starting; it still counts for the enqueue
        let latencies = [(a, 1_500), (b, 3_100)];
        assert_eq!(latency_split(&enqueued, &latencies), (2.0, 0.5));
    }

    #[test]
    fn percentiles_pick_the_nearest_rank() {
        let samples: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&samples, 0.5), Some(51.0));
        assert_eq!(percentile(&samples, 0.99), Some(99.0));
        assert_eq!(percentile(&[], 0.5), None);
    }
}
