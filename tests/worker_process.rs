//! Standalone `worker` processes: several drain one database, a SIGKILLed
//! worker loses nothing, SIGTERM shuts down gracefully.

mod common;

use common::{cluster, fresh_database, TestDb};
use serde_json::json;
use sqlx::{Connection, PgConnection};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use uuid::Uuid;
use veriphy_jobs::domain::JobType;
use veriphy_jobs::server::queue::{self, NewJob};

/// A worker process that is killed if the test ends without stopping it
/// (a failed assertion must not leave it running).
struct WorkerProcess(Child);

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

impl std::ops::Deref for WorkerProcess {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for WorkerProcess {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

fn spawn_worker(test: &TestDb, lease_seconds: &str) -> WorkerProcess {
    WorkerProcess(
        Command::new(env!("CARGO_BIN_EXE_veriphy-jobs"))
            .arg("worker")
            .env("DATABASE_URL", cluster().url(&test.name))
            .env("VERIPHY_WORKER_LEASE_SECONDS", lease_seconds)
            .env("VERIPHY_WORKER_RESCUE_SECONDS", "0.5")
            .env("VERIPHY_WORKER_POLL_MS", "200")
            .env("VERIPHY_WORKER_SHUTDOWN_GRACE_SECONDS", "5")
            // these tests count the jobs they enqueued: no daily cleanup job
            .env("VERIPHY_WORKER_DAILY_RETENTION", "off")
            // the credentials key from the environment: no key file made in the checkout
            .env(
                "VERIPHY_SECRET_KEY",
                "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
            )
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start a worker process"),
    )
}

fn signal(child: &Child, name: &str) {
    let status = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(child.id().to_string())
        .status()
        .expect("kill");
    assert!(status.success());
}

async fn setup(jobs: usize, delay_ms: u64) -> (TestDb, Uuid) {
    let test = fresh_database().await;
    let mut owner = test.owner_connection().await;
    let org: Uuid = sqlx::query_scalar(
        "insert into organizations (name, slug) values ('Proc', 'proc') returning id",
    )
    .fetch_one(&mut owner)
    .await
    .unwrap();
    let batch: Vec<NewJob> = (0..jobs)
        .map(|i| {
            NewJob::new(
                org,
                JobType::Other,
                format!("diagnostic {i}"),
                json!({ "delay_ms": delay_ms }),
            )
        })
        .collect();
    let mut conn = test.db.worker.acquire().await.unwrap();
    queue::enqueue_many(&mut conn, &batch).await.unwrap();
    (test, org)
}

async fn count(test: &TestDb, sql: &str) -> i64 {
    let mut conn = PgConnection::connect_with(&test.owner).await.unwrap();
    sqlx::query_scalar(sql).fetch_one(&mut conn).await.unwrap()
}

async fn wait_for(test: &TestDb, sql: &str, wanted: impl Fn(i64) -> bool, seconds: u64) -> i64 {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    loop {
        let value = count(test, sql).await;
        if wanted(value) {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out on: {sql} (last {value})"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn wait_exit(child: &mut Child, seconds: u64) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "worker process did not exit");
        std::thread::sleep(Duration::from_millis(50));
    }
}

const DONE: &str = "select count(*) from jobs where status = 'completed'";

#[tokio::test]
async fn separate_worker_processes_run_each_job_once() {
    let (test, _) = setup(1500, 0).await;
    let mut workers = vec![spawn_worker(&test, "30"), spawn_worker(&test, "30")];
    wait_for(&test, DONE, |n| n == 1500, 60).await;
    assert_eq!(
        count(&test, "select count(*) from jobs where attempts <> 1").await,
        0,
        "a job was attempted twice"
    );
    for worker in &workers {
        signal(worker, "TERM");
    }
    for worker in &mut workers {
        assert!(wait_exit(worker, 15).success());
    }
}

#[tokio::test]
async fn a_killed_worker_loses_nothing() {
    let (test, _) = setup(200, 100).await;
    let mut first = spawn_worker(&test, "2");
    // Kill it mid-batch: some jobs done, others held by it.
    wait_for(&test, DONE, |n| n >= 20, 60).await;
    signal(&first, "KILL");
    first.wait().unwrap();
    let held = count(&test, "select count(*) from jobs where status = 'running'").await;
    assert!(
        held > 0,
        "the killed worker held no jobs; the test proves nothing"
    );
    let mut second = spawn_worker(&test, "2");
    wait_for(&test, DONE, |n| n == 200, 90).await;
    assert_eq!(
        count(
            &test,
            "select count(*) from jobs where attempts > max_attempts or attempts < 1"
        )
        .await,
        0
    );
    let lost = count(
        &test,
        "select count(*) from jobs where attempt_log @> '[{\"outcome\": \"lost\"}]'",
    )
    .await;
    assert_eq!(
        lost, held,
        "every job held by the dead worker was rescued once"
    );
    signal(&second, "TERM");
    assert!(wait_exit(&mut second, 15).success());
}

#[tokio::test]
async fn sigterm_lets_running_jobs_finish_and_returns_the_rest() {
    let (test, _) = setup(40, 700).await;
    let mut worker = spawn_worker(&test, "30");
    wait_for(
        &test,
        "select count(*) from jobs where status = 'running'",
        |n| n > 0,
        30,
    )
    .await;
    // A job is "running" from its claim, but its handler starts only when
    // its task first runs; one stopped before that is handed back unstarted.
    // Give the handlers a moment (well under a job's 700 ms) to start.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    signal(&worker, "TERM");
    assert!(wait_exit(&mut worker, 20).success());
    assert_eq!(
        count(&test, "select count(*) from jobs where status = 'running'").await,
        0
    );
    assert!(
        count(&test, DONE).await > 0,
        "running jobs were allowed to finish"
    );
    assert_eq!(
        count(
            &test,
            "select count(*) from jobs where status = 'pending' and attempts <> 0"
        )
        .await,
        0,
        "returned jobs kept their attempt"
    );
    assert_eq!(
        count(&test, "select count(*) from jobs where status = 'pending'").await
            + count(&test, DONE).await,
        40
    );
}

#[tokio::test]
async fn a_running_job_is_cancelled_in_another_process() {
    let (test, org) = setup(0, 0).await;
    let id = {
        let mut conn = test.db.worker.acquire().await.unwrap();
        queue::enqueue(
            &mut conn,
            &NewJob::new(
                org,
                JobType::Other,
                "long diagnostic",
                json!({ "delay_ms": 60_000 }),
            ),
        )
        .await
        .unwrap()
    };
    let mut worker = spawn_worker(&test, "30");
    wait_for(
        &test,
        "select count(*) from jobs where status = 'running'",
        |n| n == 1,
        30,
    )
    .await;
    // as the console does: in the organization's own transaction
    let mut tx = test
        .db
        .begin(veriphy_jobs::server::db::Scope::organization(org))
        .await
        .unwrap();
    let result =
        veriphy_jobs::server::queue::actions::cancel_job(&mut tx, id, Some(org), "Stop it")
            .await
            .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        result,
        veriphy_jobs::server::queue::actions::CancelResult::Requested
    );
    // well before the job's own minute is up
    wait_for(
        &test,
        "select count(*) from jobs where status = 'cancelled'",
        |n| n == 1,
        10,
    )
    .await;
    signal(&worker, "TERM");
    assert!(wait_exit(&mut worker, 15).success());
}
