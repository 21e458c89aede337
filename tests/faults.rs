//! Faults of the database under load: the embedded PostgreSQL killed while
//! workers drain thousands of jobs and a person uses the console, and every
//! engine and console connection terminated, a backend that stops answering
//! in the middle of a completion statement. Every job still completes
//! within its attempts, and the console answers again within seconds.
//!
//! The tests of this binary share one cluster and kill it, so they take
//! turns (`FAULTS`).

mod common;

use common::{fresh_database, signed_in, spawn_app, TestApp, TestDb};
use std::sync::Arc;
use std::time::{Duration, Instant};
use uuid::Uuid;
use veriphy_jobs::domain::JobType;
use veriphy_jobs::server::queue::{self, NewJob, Outcome, RetryPolicy};
use veriphy_jobs::server::worker::{FnHandler, JobContext, Registry, Worker, WorkerConfig};

/// One fault at a time: they all hit the binary's one cluster.
static FAULTS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const JOBS: usize = 3000;

/// Short leases and quick polls, so work held by a lost connection comes
/// back within seconds.
fn quick_worker() -> WorkerConfig {
    WorkerConfig {
        lease: Duration::from_secs(2),
        heartbeat_every: Duration::from_millis(300),
        poll_interval: Duration::from_millis(100),
        rescue_every: Duration::from_millis(500),
        retry: RetryPolicy {
            base: Duration::from_millis(20),
            cap: Duration::from_millis(200),
        },
        ..WorkerConfig::default()
    }
}

/// Handlers that take a couple of milliseconds and succeed.
fn registry() -> Registry {
    Registry::empty().with(
        JobType::Other,
        FnHandler(|_: Arc<JobContext>| async {
            tokio::time::sleep(Duration::from_millis(2)).await;
            Outcome::Completed(None)
        }),
    )
}

/// An organization with `JOBS` jobs waiting, and two workers draining them.
async fn draining(test: &TestDb) -> Vec<Worker> {
    let mut owner = test.owner_connection().await;
    let org: Uuid = sqlx::query_scalar(
        "insert into organizations (name, slug) values ('Faults', 'faults') returning id",
    )
    .fetch_one(&mut owner)
    .await
    .unwrap();
    let jobs: Vec<NewJob> = (0..JOBS)
        .map(|i| {
            NewJob::new(
                org,
                JobType::Other,
                "fault job",
                serde_json::json!({ "i": i }),
            )
        })
        .collect();
    let mut conn = test.db.worker.acquire().await.unwrap();
    queue::enqueue_many(&mut conn, &jobs).await.unwrap();
    let mut workers = Vec::new();
    for _ in 0..2 {
        workers.push(
            Worker::start(test.db.clone(), registry(), quick_worker())
                .await
                .unwrap(),
        );
    }
    workers
}

/// (completed, failed, most attempts) of the test's jobs; `None` while the
/// database does not answer.
async fn progress(test: &TestDb) -> Option<(i64, i64, i32)> {
    let mut owner: sqlx::PgConnection = sqlx::Connection::connect_with(&test.owner).await.ok()?;
    sqlx::query_as(
        "select count(*) filter (where status = 'completed'),
                count(*) filter (where status = 'failed'),
                coalesce(max(attempts), 0)
         from jobs",
    )
    .fetch_one(&mut owner)
    .await
    .ok()
}

async fn until_completed_at_least(test: &TestDb, count: i64, within: Duration) {
    let deadline = Instant::now() + within;
    while progress(test).await.is_none_or(|(done, _, _)| done < count) {
        assert!(
            Instant::now() < deadline,
            "fewer than {count} jobs completed in time"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// How long until the signed-in console page answers 200 again.
async fn console_back_within(app: &TestApp, cookie: &str, limit: Duration) -> Duration {
    let started = Instant::now();
    loop {
        let answered = app
            .client()
            .get(format!("{}/jobs", app.base))
            .header("cookie", cookie)
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .map(|r| r.status().as_u16());
        if matches!(answered, Ok(200)) {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < limit,
            "the console did not answer within {limit:?} (last: {answered:?})"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Every job completed, none failed, none past its three attempts.
async fn assert_all_completed_within_attempts(test: &TestDb, workers: Vec<Worker>) {
    until_completed_at_least(test, JOBS as i64, Duration::from_secs(120)).await;
    for worker in workers {
        worker.shutdown().await;
    }
    let (completed, failed, most_attempts) = progress(test).await.unwrap();
    assert_eq!((completed, failed), (JOBS as i64, 0));
    assert!(most_attempts <= 3, "a job took {most_attempts} attempts");
}

/// A viewer signed in to the console, and two workers a tenth of the way
/// through draining `JOBS` jobs.
async fn console_and_workers_under_way() -> (TestApp, String, TestDb, Vec<Worker>) {
    let app = spawn_app().await;
    let cookie = signed_in(&app, "viewer@northwind.example").await;
    let test = fresh_database().await;
    let workers = draining(&test).await;
    until_completed_at_least(&test, JOBS as i64 / 10, Duration::from_secs(60)).await;
    (app, cookie, test, workers)
}

fn kill_postmaster(signal: i32) -> i32 {
    let pid = common::cluster().server_pid();
    // SAFETY: kill only sends a signal; the pid is the embedded postmaster,
    // a child of this process that its supervisor has not reaped.
    assert_eq!(unsafe { libc::kill(pid, signal) }, 0);
    pid
}

#[tokio::test]
async fn the_embedded_postgres_is_restarted_after_it_dies() {
    let _turn = FAULTS.lock().await;
    let test = fresh_database().await;
    let killed = kill_postmaster(libc::SIGKILL);

    let deadline = Instant::now() + Duration::from_secs(60);
    while common::cluster().server_pid() == killed || progress(&test).await.is_none() {
        assert!(Instant::now() < deadline, "PostgreSQL was not restarted");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn jobs_drained_across_a_postgres_crash_complete_within_their_attempts() {
    let _turn = FAULTS.lock().await;
    let (app, cookie, test, workers) = console_and_workers_under_way().await;

    kill_postmaster(libc::SIGKILL);

    let back = console_back_within(&app, &cookie, Duration::from_secs(30)).await;
    eprintln!("the console answered again {back:?} after PostgreSQL was killed");
    assert_all_completed_within_attempts(&test, workers).await;
}

#[tokio::test]
async fn jobs_drained_across_terminated_connections_complete_within_their_attempts() {
    let _turn = FAULTS.lock().await;
    let (app, cookie, test, workers) = console_and_workers_under_way().await;

    let mut owner = test.owner_connection().await;
    let others: Vec<i32> = sqlx::query_scalar(
        "select pid from pg_stat_activity
         where pid <> pg_backend_pid() and backend_type = 'client backend'",
    )
    .fetch_all(&mut owner)
    .await
    .unwrap();
    let terminated: i64 = sqlx::query_scalar(
        "select count(*) from unnest($1::int[]) as p (pid) where pg_terminate_backend(p.pid)",
    )
    .bind(&others)
    .fetch_one(&mut owner)
    .await
    .unwrap();
    assert!(terminated >= 4, "terminated only {terminated} connections");

    console_back_within(&app, &cookie, Duration::from_secs(10)).await;
    assert_all_completed_within_attempts(&test, workers).await;
}

/// A backend stopped by SIGSTOP: it neither answers nor lets its own
/// statement timeout fire. Dropping it ends the backend (SIGTERM, the
/// signal `pg_terminate_backend` sends) and lets it run to see that.
struct StoppedBackend(i32);

impl StoppedBackend {
    fn stop(pid: i32) -> Self {
        // SAFETY: kill only sends a signal; the pid was read from
        // pg_stat_activity of the embedded cluster a moment ago, and the
        // backend cannot exit before it is continued.
        assert_eq!(unsafe { libc::kill(pid, libc::SIGSTOP) }, 0);
        StoppedBackend(pid)
    }
}

impl Drop for StoppedBackend {
    fn drop(&mut self) {
        // SAFETY: as in `stop`: a signal to the backend this value stopped,
        // which is still there (stopped processes do not exit).
        unsafe {
            libc::kill(self.0, libc::SIGTERM);
            libc::kill(self.0, libc::SIGCONT);
        }
    }
}

#[tokio::test]
async fn a_completion_statement_that_never_gets_an_answer_is_written_again_on_another_connection() {
    use veriphy_jobs::server::db::{Database, PoolSizes, SessionLimits};
    let _turn = FAULTS.lock().await;
    let test = fresh_database().await;
    let limits = SessionLimits {
        statement_timeout: Duration::from_secs(3),
        ..SessionLimits::default()
    };
    let db = Database::connect_with(test.owner.clone(), PoolSizes::all(5), limits)
        .await
        .unwrap();
    let organization = test.new_organization().await;
    let job = {
        let mut conn = db.worker.acquire().await.unwrap();
        let job = NewJob::new(
            organization,
            JobType::Other,
            "stalled write",
            serde_json::json!({}),
        );
        queue::enqueue(&mut conn, &job).await.unwrap()
    };
    // The completion statement names failed_jobs: holding that table makes
    // the statement wait for its lock before it touches any row, so the
    // backend stopped there holds nothing a second write needs.
    let mut holder = test.owner_connection().await;
    sqlx::query("begin").execute(&mut holder).await.unwrap();
    sqlx::query("lock table failed_jobs in share mode")
        .execute(&mut holder)
        .await
        .unwrap();
    let worker = Worker::start(db.clone(), registry(), quick_worker())
        .await
        .unwrap();
    let mut watcher = test.owner_connection().await;
    let deadline = Instant::now() + Duration::from_secs(10);
    let writer: i32 = loop {
        let waiting: Option<i32> = sqlx::query_scalar(
            "select pid from pg_stat_activity
             where datname = current_database() and wait_event_type = 'Lock'
               and query like 'with done as%'",
        )
        .fetch_optional(&mut watcher)
        .await
        .unwrap();
        if let Some(pid) = waiting {
            break pid;
        }
        assert!(Instant::now() < deadline, "no completion statement waited");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let _stopped = StoppedBackend::stop(writer);
    sqlx::query("rollback").execute(&mut holder).await.unwrap();

    // Given up after the statement timeout and a margin (8 s), the write is
    // made again on another connection by the same attempt: the job's
    // lease was renewed meanwhile, so it was neither rescued nor run again.
    let started = Instant::now();
    let deadline = started + Duration::from_secs(30);
    let (status, attempts) = loop {
        let (status, attempts): (String, i32) =
            sqlx::query_as("select status::text, attempts from jobs where id = $1")
                .bind(job)
                .fetch_one(&mut watcher)
                .await
                .unwrap();
        if status != "running" || Instant::now() > deadline {
            break (status, attempts);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    eprintln!(
        "written again {:?} after the writer stopped",
        started.elapsed()
    );
    assert_eq!((status.as_str(), attempts), ("completed", 1));
    worker.shutdown().await;
}
