//! The queue engine against a real PostgreSQL: enqueue, claim, outcomes,
//! leases, cancellation, shutdown and concurrent workers.

mod common;

use common::{fresh_database, TestDb};
use serde_json::json;
use sqlx::{Connection, PgConnection};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use uuid::Uuid;
use veriphy_jobs::domain::{AttemptOutcome, AttemptRecord, JobErrorKind, JobType, Priority};
use veriphy_jobs::server::queue::{
    self, actions, control, lease, ClaimRequest, Completion, JobError, NewJob, Outcome, RetryPolicy,
};
use veriphy_jobs::server::worker::{FnHandler, JobContext, Registry, Worker, WorkerConfig};

fn job(organization: Uuid, payload: serde_json::Value) -> NewJob {
    NewJob::new(organization, JobType::Other, "test job", payload)
}

/// Worker settings that make tests quick: short leases, fast polls and retries.
fn fast_config() -> WorkerConfig {
    WorkerConfig {
        prefetch: 20,
        lease: Duration::from_secs(2),
        heartbeat_every: Duration::from_millis(300),
        poll_interval: Duration::from_millis(100),
        rescue_every: Duration::from_millis(500),
        shutdown_grace: Duration::from_secs(3),
        retry: RetryPolicy {
            base: Duration::from_millis(20),
            cap: Duration::from_millis(200),
        },
        ..WorkerConfig::default()
    }
}

async fn enqueue(test: &TestDb, jobs: &[NewJob]) -> Vec<Uuid> {
    let mut conn = test.db.worker.acquire().await.unwrap();
    queue::enqueue_many(&mut conn, jobs).await.unwrap()
}

#[derive(Debug, sqlx::FromRow)]
struct JobState {
    status: String,
    attempts: i32,
    error_message: Option<String>,
    error_details: Option<serde_json::Value>,
    attempt_log: serde_json::Value,
    result: Option<serde_json::Value>,
    lease_token: Option<Uuid>,
}

async fn state(conn: &mut PgConnection, id: Uuid) -> JobState {
    sqlx::query_as(
        "select status, attempts, error_message, error_details, attempt_log, result, lease_token
         from jobs where id = $1",
    )
    .bind(id)
    .fetch_one(conn)
    .await
    .unwrap()
}

/// Polls `check` until it holds or `seconds` pass.
async fn eventually<F, Fut>(seconds: u64, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(seconds);
    while tokio::time::Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for: {what}");
}

/// How many job ids the queue entries list (an entry lists up to a hundred).
const QUEUED_IDS: &str = "select count(*) from job_queue cross join unnest(job_ids)";

async fn count(conn: &mut PgConnection, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(conn).await.unwrap()
}

/// How often each job ran, and a registry whose `other` handler counts runs
/// and fails the jobs whose payload says `"fail": true`.
fn counting_registry() -> (Registry, Arc<Mutex<HashMap<Uuid, usize>>>) {
    let runs: Arc<Mutex<HashMap<Uuid, usize>>> = Arc::default();
    let counter = runs.clone();
    let registry = Registry::empty().with(
        JobType::Other,
        FnHandler(move |ctx: Arc<JobContext>| {
            *counter.lock().unwrap().entry(ctx.job.id).or_insert(0) += 1;
            let fail = ctx.job.payload["fail"].as_bool().unwrap_or(false);
            async move {
                if fail {
                    Outcome::Fail(JobError::new(JobErrorKind::Handler, "planned failure"))
                } else {
                    Outcome::Completed(Some(json!({"ok": true})))
                }
            }
        }),
    );
    (registry, runs)
}

/// `count` worker processes' worth of workers on the test database.
async fn start_workers(test: &TestDb, registry: &Registry, count: usize) -> Vec<Worker> {
    let mut workers = Vec::new();
    for _ in 0..count {
        workers.push(
            Worker::start(test.db.clone(), registry.clone(), fast_config())
                .await
                .unwrap(),
        );
    }
    workers
}

/// Waits up to `seconds` until no job matches `condition`.
async fn until_no_job_matches(test: &TestDb, seconds: u64, condition: &'static str) {
    eventually(seconds, condition, || {
        let pool = test.db.worker.clone();
        async move {
            let mut conn = pool.acquire().await.unwrap();
            let sql = format!("select count(*) from jobs where {condition}");
            count(&mut conn, &sql).await == 0
        }
    })
    .await;
}

/// Batches whose counters differ from what their jobs' statuses add up to.
async fn batches_disagreeing_with_their_jobs(owner: &mut PgConnection) -> i64 {
    count(
        owner,
        "select count(*) from job_batches b
         left join (
           select batch_id,
                  count(*)::int as total,
                  (count(*) filter (where status = 'completed'))::int as completed,
                  (count(*) filter (where status = 'failed'))::int as failed,
                  (count(*) filter (where status in ('pending', 'running')))::int as unfinished,
                  (count(*) filter (where status = 'running'))::int as running
           from jobs where batch_id is not null group by batch_id
         ) c on c.batch_id = b.id
         where (b.total_jobs, b.processed_jobs, b.failed_jobs, b.pending_jobs, b.running_jobs)
            is distinct from (coalesce(c.total, 0), coalesce(c.completed, 0),
                              coalesce(c.failed, 0), coalesce(c.unfinished, 0),
                              coalesce(c.running, 0))",
    )
    .await
}

/// Batches for `org` named `batch 0`, `batch 1`, …
async fn new_batches(owner: &mut PgConnection, org: Uuid, how_many: usize) -> Vec<Uuid> {
    let mut batches = Vec::new();
    for i in 0..how_many {
        let id: Uuid = sqlx::query_scalar(
            "insert into job_batches (organization_id, batch_name) values ($1, $2) returning id",
        )
        .bind(org)
        .bind(format!("batch {i}"))
        .fetch_one(&mut *owner)
        .await
        .unwrap();
        batches.push(id);
    }
    batches
}

/// A claim of up to `limit` diagnostic jobs from the default queue under `token`.
fn claim_of_other_jobs(token: Uuid, limit: i64) -> ClaimRequest<'static> {
    ClaimRequest {
        queue: "default",
        job_types: &[JobType::Other],
        limit,
        worker_id: "test-worker",
        lease_token: token,
        lease: Duration::from_secs(30),
    }
}

#[tokio::test]
async fn enqueue_inside_a_transaction_follows_its_fate() {
    let test = fresh_database().await;
    let org = test.new_organization().await;
    let mut conn = test.db.worker.acquire().await.unwrap();

    let mut tx = conn.begin().await.unwrap();
    queue::enqueue(&mut tx, &job(org, json!({}))).await.unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(count(&mut conn, "select count(*) from jobs").await, 0);

    let mut tx = conn.begin().await.unwrap();
    let id = queue::enqueue(&mut tx, &job(org, json!({"n": 1})))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let (priority, max_attempts, queue_name, due): (String, i32, String, bool) = sqlx::query_as(
        "select priority, max_attempts, queue, available_at <= now() from jobs where id = $1",
    )
    .bind(id)
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    assert_eq!(
        (priority.as_str(), max_attempts, queue_name.as_str(), due),
        ("normal", 3, "default", true)
    );
}

#[tokio::test]
async fn bulk_enqueue_takes_thousands_in_one_call_and_registers_queues() {
    let test = fresh_database().await;
    let org = test.new_organization().await;
    let mut jobs: Vec<NewJob> = (0..5000).map(|i| job(org, json!({ "i": i }))).collect();
    jobs[0].queue = "reports".into();
    let ids = enqueue(&test, &jobs).await;
    assert_eq!(ids.len(), 5000);
    let mut conn = test.owner_connection().await;
    assert_eq!(count(&mut conn, "select count(*) from jobs").await, 5000);
    assert_eq!(
        count(
            &mut conn,
            "select count(*) from queues where name = 'reports'"
        )
        .await,
        1
    );
}

#[tokio::test]
async fn claims_follow_priority_then_age_and_skip_unhandled_types() {
    let test = fresh_database().await;
    let org = test.new_organization().await;
    let mut jobs = Vec::new();
    for priority in [
        Priority::Low,
        Priority::Normal,
        Priority::Urgent,
        Priority::High,
    ] {
        let mut j = job(org, json!({}));
        j.priority = priority;
        jobs.push(j);
    }
    let mut email = job(org, json!({}));
    email.job_type = JobType::Email;
    email.priority = Priority::Urgent;
    jobs.push(email);
    let mut later = job(org, json!({}));
    later.available_at = Some(chrono::Utc::now() + chrono::Duration::hours(1));
    later.priority = Priority::Urgent;
    jobs.push(later);
    enqueue(&test, &jobs).await;

    let mut conn = test.db.worker.acquire().await.unwrap();
    let claimed = queue::claim(
        &mut conn,
        &ClaimRequest {
            queue: "default",
            job_types: &[JobType::Other],
            limit: 10,
            worker_id: "test",
            lease_token: Uuid::new_v4(),
            lease: Duration::from_secs(30),
        },
    )
    .await
    .unwrap();
    let order: Vec<Priority> = claimed.iter().map(|j| j.priority).collect();
    assert_eq!(
        order,
        [
            Priority::Urgent,
            Priority::High,
            Priority::Normal,
            Priority::Low
        ]
    );
    assert!(claimed.iter().all(|j| j.attempts == 1));
}

#[tokio::test]
async fn concurrent_claims_never_share_a_job() {
    let test = fresh_database().await;
    let org = test.new_organization().await;
    let jobs: Vec<NewJob> = (0..2000).map(|i| job(org, json!({ "i": i }))).collect();
    enqueue(&test, &jobs).await;
    let mut tasks = Vec::new();
    for worker in 0..8 {
        let pool = test.db.worker.clone();
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let mut conn = pool.acquire().await.unwrap();
                let batch = queue::claim(
                    &mut conn,
                    &ClaimRequest {
                        queue: "default",
                        job_types: &[JobType::Other],
                        limit: 37,
                        worker_id: &format!("w{worker}"),
                        lease_token: Uuid::new_v4(),
                        lease: Duration::from_secs(30),
                    },
                )
                .await
                .unwrap();
                if batch.is_empty() {
                    return mine;
                }
                mine.extend(batch.into_iter().map(|j| j.id));
            }
        }));
    }
    let mut seen = HashMap::new();
    for task in tasks {
        for id in task.await.unwrap() {
            *seen.entry(id).or_insert(0) += 1;
        }
    }
    assert_eq!(seen.len(), 2000);
    assert!(seen.values().all(|&n| n == 1), "a job was claimed twice");
}

#[tokio::test]
async fn several_workers_run_every_job_exactly_once_and_batches_add_up() {
    let test = fresh_database().await;
    let org = test.new_organization().await;
    let mut owner = test.owner_connection().await;
    let batches = new_batches(&mut owner, org, 4).await;
    let (registry, runs) = counting_registry();
    let workers = start_workers(&test, &registry, 3).await;
    let jobs: Vec<NewJob> = (0..3000)
        .map(|i| {
            let mut j = job(org, json!({ "i": i, "fail": i % 50 == 0 }));
            j.batch_id = (i % 3 != 0).then(|| batches[i % 4]);
            j
        })
        .collect();
    for part in jobs.chunks(500) {
        enqueue(&test, part).await;
    }
    until_no_job_matches(&test, 60, "status in ('pending', 'running')").await;
    for worker in workers {
        worker.shutdown().await;
    }
    let runs = runs.lock().unwrap().clone();
    assert_eq!(runs.len(), 3000);
    assert!(runs.values().all(|&n| n == 1), "a job ran twice");
    assert_eq!(
        count(&mut owner, "select count(*) from jobs where attempts <> 1").await,
        0
    );
    assert_eq!(
        count(
            &mut owner,
            "select count(*) from jobs where status = 'failed'"
        )
        .await,
        60
    );
    assert_eq!(
        count(&mut owner, "select count(*) from failed_jobs").await,
        60
    );
    let mismatched = batches_disagreeing_with_their_jobs(&mut owner).await;
    assert_eq!(mismatched, 0, "batch counters disagree with their jobs");
    assert_eq!(
        count(
            &mut owner,
            "select count(*) from job_batches where status not in ('completed', 'failed') or progress <> 100"
        )
        .await,
        0
    );
}

#[tokio::test]
async fn completions_written_by_several_statements_at_once_each_land_once() {
    let test = fresh_database().await;
    let org = test.new_organization().await;
    let mut owner = test.owner_connection().await;
    let batches = new_batches(&mut owner, org, 3).await;
    let (registry, runs) = counting_registry();
    // Small statements and four writers: completions of the same batches are
    // written by concurrent statements, which lock batch rows in id order.
    let config = WorkerConfig {
        completion_batch: 7,
        completion_writers: 4,
        prefetch: 200,
        concurrency_override: Some(50),
        ..fast_config()
    };
    let worker = Worker::start(test.db.clone(), registry, config)
        .await
        .unwrap();
    let jobs: Vec<NewJob> = (0..2000)
        .map(|i| {
            let mut j = job(org, json!({ "i": i }));
            j.batch_id = Some(batches[i % 3]);
            j
        })
        .collect();
    enqueue(&test, &jobs).await;
    until_no_job_matches(&test, 60, "status in ('pending', 'running')").await;
    worker.shutdown().await;
    let runs = runs.lock().unwrap().clone();
    assert_eq!(runs.len(), 2000);
    assert!(runs.values().all(|&n| n == 1), "a job ran twice");
    assert_eq!(
        count(
            &mut owner,
            "select count(*) from jobs where status <> 'completed' or attempts <> 1"
        )
        .await,
        0
    );
    assert_eq!(batches_disagreeing_with_their_jobs(&mut owner).await, 0);
    assert_eq!(
        count(
            &mut owner,
            "select count(*) from job_batches where status <> 'completed'"
        )
        .await,
        0
    );
}

#[tokio::test]
async fn live_viewers_hear_of_a_job_when_it_is_enqueued_claimed_and_completed() {
    let test = fresh_database().await;
    let org = test.new_organization().await;
    let mut feed = sqlx::postgres::PgListener::connect_with(&test.db.worker)
        .await
        .unwrap();
    feed.listen("veriphy_live").await.unwrap();
    // long enough that the claim's announcement (gathered for 100 ms) and
    // the completion's cannot share one NOTIFY
    let registry = Registry::empty().with(
        JobType::Other,
        FnHandler(|_ctx: Arc<JobContext>| async {
            tokio::time::sleep(Duration::from_millis(600)).await;
            Outcome::Completed(None)
        }),
    );
    let worker = Worker::start(test.db.clone(), registry, fast_config())
        .await
        .unwrap();
    let id = enqueue(&test, &[job(org, json!({}))]).await[0];
    let mut heard = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while heard < 3 {
        let notification = tokio::time::timeout_at(deadline, feed.recv())
            .await
            .expect("three announcements of the job within 5 s")
            .unwrap();
        if notification.payload().contains(&id.to_string()) {
            heard += 1;
        }
    }
    let mut conn = test.db.worker.acquire().await.unwrap();
    assert_eq!(state(&mut conn, id).await.status, "completed");
    worker.shutdown().await;
}

#[tokio::test]
async fn jobs_enqueued_one_at_a_time_while_workers_claim_all_run_once() {
    // Claims race enqueues that commit while the claim runs: a job whose
    // queue entry a claim sees but whose row it cannot must stay queued.
    let test = fresh_database().await;
    let org = test.new_organization().await;
    let (registry, runs) = counting_registry();
    let workers = start_workers(&test, &registry, 2).await;
    let mut producers = tokio::task::JoinSet::new();
    for p in 0..4 {
        let pool = test.db.worker.clone();
        producers.spawn(async move {
            let mut conn = pool.acquire().await.unwrap();
            for i in 0..400 {
                queue::enqueue(&mut conn, &job(org, json!({ "p": p, "i": i })))
                    .await
                    .unwrap();
            }
        });
    }
    while let Some(done) = producers.join_next().await {
        done.unwrap();
    }
    until_no_job_matches(&test, 30, "status <> 'completed'").await;
    for worker in workers {
        worker.shutdown().await;
    }
    let runs = runs.lock().unwrap().clone();
    assert_eq!(runs.len(), 1600);
    assert!(runs.values().all(|&n| n == 1), "a job ran twice");
}

/// A handler driven by the payload's `script`: one step per attempt
/// (`retry`, `fail`, `snooze`, `ok`, `sleep`), the last step repeating.
fn scripted() -> (Registry, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let registry = Registry::empty().with(
        JobType::Other,
        FnHandler(move |ctx: Arc<JobContext>| {
            let call = counter.fetch_add(1, Ordering::SeqCst);
            let script: Vec<String> =
                serde_json::from_value(ctx.job.payload["script"].clone()).unwrap_or_default();
            let step = script
                .get(call)
                .or(script.last())
                .cloned()
                .unwrap_or_else(|| "ok".into());
            async move {
                match step.as_str() {
                    "retry" => Outcome::Retry(
                        JobError::new(JobErrorKind::Handler, "temporary trouble")
                            .caused_by(&std::io::Error::other("connection reset by peer")),
                    ),
                    "fail" => {
                        Outcome::Fail(JobError::new(JobErrorKind::Handler, "cannot ever work"))
                    }
                    "snooze" => Outcome::Snooze(Duration::from_millis(100)),
                    "cancel" => Outcome::Cancel("handler gave up".into()),
                    "sleep" => {
                        tokio::time::sleep(Duration::from_secs(30)).await;
                        Outcome::Completed(None)
                    }
                    "panic" => panic!("handler bug"),
                    _ => Outcome::Completed(Some(json!({ "call": call }))),
                }
            }
        }),
    );
    (registry, calls)
}

async fn run_script(script: &[&str], max_attempts: i32, timeout: i32) -> (TestDb, JobState, usize) {
    let test = fresh_database().await;
    let org = test.new_organization().await;
    let (registry, calls) = scripted();
    let worker = Worker::start(test.db.clone(), registry, fast_config())
        .await
        .unwrap();
    let mut j = job(org, json!({ "script": script }));
    j.max_attempts = max_attempts;
    j.timeout_seconds = timeout;
    let id = enqueue(&test, &[j]).await[0];
    let mut owner = test.owner_connection().await;
    eventually(20, "the job to finish", || {
        let options = test.owner.clone();
        async move {
            let mut conn = PgConnection::connect_with(&options).await.unwrap();
            let s = state(&mut conn, id).await;
            !matches!(s.status.as_str(), "pending" | "running")
        }
    })
    .await;
    worker.shutdown().await;
    let s = state(&mut owner, id).await;
    (test, s, calls.load(Ordering::SeqCst))
}

#[tokio::test]
async fn retries_back_off_and_then_succeed() {
    let (_test, s, calls) = run_script(&["retry", "retry", "ok"], 3, 60).await;
    assert_eq!(s.status, "completed");
    assert_eq!((s.attempts, calls), (3, 3));
    let log = s.attempt_log.as_array().unwrap();
    assert_eq!(log.len(), 2);
    assert!(log.iter().all(|e| e["outcome"] == "retry"));
    assert!(s.error_message.is_none());
    assert_eq!(s.result.unwrap()["call"], 2);
    assert!(s.lease_token.is_none());
}

#[tokio::test]
async fn exhausted_retries_fail_with_a_failure_record() {
    let (test, s, calls) = run_script(&["retry"], 2, 60).await;
    assert_eq!(s.status, "failed");
    assert_eq!((s.attempts, calls), (2, 2));
    assert_eq!(s.error_message.as_deref(), Some("temporary trouble"));
    let details = s.error_details.unwrap();
    assert_eq!(details["causes"][0], "connection reset by peer");
    let mut owner = test.owner_connection().await;
    let (message, trace, max_retries): (String, Option<String>, i32) =
        sqlx::query_as("select error_message, stack_trace, max_retries from failed_jobs")
            .fetch_one(&mut owner)
            .await
            .unwrap();
    assert_eq!(message, "temporary trouble");
    assert!(trace
        .unwrap()
        .contains("caused by: connection reset by peer"));
    assert_eq!(max_retries, 2);
}

#[tokio::test]
async fn permanent_failure_spends_no_further_attempts() {
    let (_test, s, calls) = run_script(&["fail"], 5, 60).await;
    assert_eq!((s.status.as_str(), s.attempts, calls), ("failed", 1, 1));
}

#[tokio::test]
async fn snooze_runs_again_later_without_spending_an_attempt() {
    let (_test, s, calls) = run_script(&["snooze", "snooze", "ok"], 1, 60).await;
    assert_eq!((s.status.as_str(), s.attempts, calls), ("completed", 1, 3));
    let log = s.attempt_log.as_array().unwrap();
    assert!(log.iter().all(|e| e["outcome"] == "snoozed"));
}

#[tokio::test]
async fn a_handler_may_cancel_its_job() {
    let (_test, s, _) = run_script(&["cancel"], 3, 60).await;
    assert_eq!(s.status, "cancelled");
    assert_eq!(s.error_message.as_deref(), Some("handler gave up"));
}

#[tokio::test]
async fn attempts_that_exceed_their_timeout_fail() {
    let (_test, s, _) = run_script(&["sleep"], 1, 1).await;
    assert_eq!(s.status, "failed");
    assert_eq!(s.error_details.unwrap()["kind"], "timeout");
}

#[tokio::test]
async fn a_panicking_handler_is_a_failed_attempt_not_a_dead_worker() {
    let (_test, s, calls) = run_script(&["panic", "ok"], 2, 60).await;
    assert_eq!((s.status.as_str(), calls), ("completed", 2));
    assert_eq!(s.attempt_log[0]["kind"], "panic");
}

#[tokio::test]
async fn cancelling_a_running_job_stops_its_handler() {
    let test = fresh_database().await;
    let org = test.new_organization().await;
    let (registry, _) = scripted();
    let worker = Worker::start(test.db.clone(), registry, fast_config())
        .await
        .unwrap();
    let id = enqueue(&test, &[job(org, json!({ "script": ["sleep"] }))]).await[0];
    let mut owner = test.owner_connection().await;
    eventually(10, "the job to start", || {
        let options = test.owner.clone();
        async move {
            let mut conn = PgConnection::connect_with(&options).await.unwrap();
            state(&mut conn, id).await.status == "running"
        }
    })
    .await;
    // Cancel from another connection, as the console would.
    let mut conn = test.db.worker.acquire().await.unwrap();
    let result = actions::cancel_job(&mut conn, id, Some(org), "Cancelled by a test")
        .await
        .unwrap();
    assert_eq!(result, actions::CancelResult::Requested);
    eventually(5, "the job to be cancelled", || {
        let options = test.owner.clone();
        async move {
            let mut conn = PgConnection::connect_with(&options).await.unwrap();
            state(&mut conn, id).await.status == "cancelled"
        }
    })
    .await;
    assert_eq!(state(&mut owner, id).await.attempts, 1);
    // A pending job is cancelled at once; a finished one cannot be.
    let pending = enqueue(
        &test,
        &[{
            let mut j = job(org, json!({}));
            j.available_at = Some(chrono::Utc::now() + chrono::Duration::hours(1));
            j
        }],
    )
    .await[0];
    assert_eq!(
        actions::cancel_job(&mut conn, pending, Some(org), "not needed")
            .await
            .unwrap(),
        actions::CancelResult::Cancelled
    );
    assert_eq!(
        actions::cancel_job(&mut conn, pending, Some(org), "again")
            .await
            .unwrap(),
        actions::CancelResult::AlreadyFinished
    );
    assert_eq!(
        actions::cancel_job(&mut conn, pending, Some(Uuid::new_v4()), "x")
            .await
            .unwrap(),
        actions::CancelResult::NotFound
    );
    worker.shutdown().await;
}

#[tokio::test]
async fn graceful_shutdown_finishes_short_jobs_and_returns_the_rest() {
    let test = fresh_database().await;
    let org = test.new_organization().await;
    let registry = Registry::empty().with(
        JobType::Other,
        FnHandler(|ctx: Arc<JobContext>| {
            let ms = ctx.job.payload["ms"].as_u64().unwrap_or(0);
            async move {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                Outcome::Completed(None)
            }
        }),
    );
    let mut owner = test.owner_connection().await;
    sqlx::query("update queues set concurrency = 2 where name = 'default'")
        .execute(&mut owner)
        .await
        .unwrap();
    let config = WorkerConfig {
        shutdown_grace: Duration::from_millis(800),
        ..fast_config()
    };
    let worker = Worker::start(test.db.clone(), registry, config)
        .await
        .unwrap();
    // Two slots: one short job and one that outlives the grace period run;
    // the rest wait in the prefetch buffer.
    let mut jobs = vec![
        job(org, json!({ "ms": 300 })),
        job(org, json!({ "ms": 20_000 })),
    ];
    jobs.extend((0..5).map(|_| job(org, json!({ "ms": 0 }))));
    jobs[0].priority = Priority::Urgent;
    jobs[1].priority = Priority::Urgent;
    let ids = enqueue(&test, &jobs).await;
    eventually(10, "both slots busy", || {
        let options = test.owner.clone();
        async move {
            let mut conn = PgConnection::connect_with(&options).await.unwrap();
            count(
                &mut conn,
                "select count(*) from jobs where status = 'running'",
            )
            .await
                == 7
        }
    })
    .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = std::time::Instant::now();
    worker.shutdown().await;
    assert!(started.elapsed() < Duration::from_secs(5));
    let short = state(&mut owner, ids[0]).await;
    assert_eq!(short.status, "completed");
    let long = state(&mut owner, ids[1]).await;
    assert_eq!((long.status.as_str(), long.attempts), ("pending", 0));
    assert!(long.lease_token.is_none());
    // Buffered jobs either ran in the short job's freed slot before the stop,
    // or went back untouched.
    let unfair = count(
        &mut owner,
        "select count(*) from jobs where status not in ('completed', 'pending')
            or (status = 'pending' and attempts <> 0)",
    )
    .await;
    assert_eq!(unfair, 0);
}

#[tokio::test]
async fn a_stale_holder_cannot_overwrite_a_newer_attempt() {
    let test = fresh_database().await;
    let org = test.new_organization().await;
    let id = enqueue(&test, &[job(org, json!({}))]).await[0];
    let mut conn = test.db.worker.acquire().await.unwrap();
    let request = |token| claim_of_other_jobs(token, 1);
    let first = Uuid::new_v4();
    let claimed = queue::claim(&mut conn, &request(first)).await.unwrap();
    let started_at = chrono::Utc::now();
    assert_eq!(claimed.len(), 1);
    // The first holder goes silent; its lease runs out and the job is rescued.
    sqlx::query(
        "update job_leases set locked_until = now() - interval '1 second' where lease_token = $1",
    )
    .bind(first)
    .execute(&mut *conn)
    .await
    .unwrap();
    let rescued = lease::rescue(&mut conn, 10).await.unwrap();
    assert_eq!((rescued.retried, rescued.leases), (1, 1));
    let second = Uuid::new_v4();
    let again = queue::claim(&mut conn, &request(second)).await.unwrap();
    assert_eq!(again[0].attempts, 2);
    // The stale holder wakes up and reports success: nothing changes.
    let written = queue::complete_many(
        &mut conn,
        &[Completion {
            id,
            lease_token: first,
            started_at,
            finished_at: chrono::Utc::now(),
            result: None,
            attempt: 1,
            organization_id: Uuid::nil(),
            batch_id: None,
            job_type: JobType::Other,
            available_at: chrono::Utc::now(),
        }],
    )
    .await
    .unwrap();
    assert!(written.is_empty());
    let heartbeat = lease::heartbeat(
        &mut conn,
        &[(id, first)],
        &[first],
        &[],
        Duration::from_secs(30),
    )
    .await
    .unwrap();
    assert!(
        heartbeat.is_empty(),
        "the stale holder must learn it lost the lease"
    );
    let s = state(&mut conn, id).await;
    assert_eq!(
        (s.status.as_str(), s.lease_token),
        ("running", Some(second))
    );
    assert_eq!(s.attempt_log[0]["outcome"], "lost");
    // the rescuer's SQL writes the engine's one attempt-log shape
    let log: Vec<AttemptRecord> = serde_json::from_value(s.attempt_log.clone()).unwrap();
    assert_eq!(
        (log[0].outcome, log[0].kind),
        (AttemptOutcome::Lost, Some(JobErrorKind::LeaseExpired))
    );
    let leases: Vec<Uuid> = sqlx::query_scalar("select lease_token from job_leases")
        .fetch_all(&mut *conn)
        .await
        .unwrap();
    assert_eq!(
        leases,
        vec![second],
        "the rescued claim's lease row is gone"
    );
}

#[tokio::test]
async fn rescue_fails_jobs_out_of_attempts_and_drops_leases_of_finished_claims() {
    let test = fresh_database().await;
    let org = test.new_organization().await;
    let ids = enqueue(&test, &[job(org, json!({})), job(org, json!({}))]).await;
    let mut owner = test.owner_connection().await;
    sqlx::query("update jobs set max_attempts = 1 where id = $1")
        .bind(ids[0])
        .execute(&mut owner)
        .await
        .unwrap();
    let mut conn = test.db.worker.acquire().await.unwrap();
    let claim = |token| claim_of_other_jobs(token, 1);
    // Two claims; the second one's job is completed, then the holder dies.
    let (lost, done) = (Uuid::new_v4(), Uuid::new_v4());
    assert_eq!(
        queue::claim(&mut conn, &claim(lost)).await.unwrap()[0].id,
        ids[0]
    );
    assert_eq!(
        queue::claim(&mut conn, &claim(done)).await.unwrap()[0].id,
        ids[1]
    );
    let written = queue::complete_many(
        &mut conn,
        &[Completion {
            id: ids[1],
            lease_token: done,
            started_at: chrono::Utc::now(),
            finished_at: chrono::Utc::now(),
            result: None,
            attempt: 1,
            organization_id: Uuid::nil(),
            batch_id: None,
            job_type: JobType::Other,
            available_at: chrono::Utc::now(),
        }],
    )
    .await
    .unwrap();
    assert_eq!(written, vec![ids[1]]);
    assert_eq!(
        lease::rescue(&mut conn, 10).await.unwrap(),
        lease::Rescued::default()
    );
    sqlx::query("update job_leases set locked_until = now() - interval '1 second'")
        .execute(&mut owner)
        .await
        .unwrap();
    let rescued = lease::rescue(&mut conn, 10).await.unwrap();
    assert_eq!((rescued.failed, rescued.retried, rescued.leases), (1, 0, 2));
    let s = state(&mut conn, ids[0]).await;
    assert_eq!(s.status, "failed");
    assert_eq!(s.error_details.unwrap()["kind"], "lease_expired");
    assert_eq!(state(&mut conn, ids[1]).await.status, "completed");
    assert_eq!(
        count(&mut owner, "select count(*) from failed_jobs").await,
        1
    );
    assert_eq!(
        count(&mut owner, "select count(*) from job_leases").await,
        0
    );
}

#[tokio::test]
async fn queue_entries_are_hints_a_job_runs_only_while_pending() {
    let test = fresh_database().await;
    let org = test.new_organization().await;
    let ids = enqueue(&test, &[job(org, json!({})), job(org, json!({}))]).await;
    let mut owner = test.owner_connection().await;
    // Cancelled and deleted jobs leave their entries behind.
    sqlx::query("update jobs set status = 'cancelled', completed_at = now() where id = $1")
        .bind(ids[0])
        .execute(&mut owner)
        .await
        .unwrap();
    sqlx::query("delete from jobs where id = $1")
        .bind(ids[1])
        .execute(&mut owner)
        .await
        .unwrap();
    assert_eq!(count(&mut owner, QUEUED_IDS).await, 2);
    let mut conn = test.db.worker.acquire().await.unwrap();
    let request = claim_of_other_jobs(Uuid::new_v4(), 10);
    assert!(queue::claim(&mut conn, &request).await.unwrap().is_empty());
    assert_eq!(count(&mut owner, QUEUED_IDS).await, 0);
    assert_eq!(
        count(&mut owner, "select count(*) from job_leases").await,
        0
    );
    // Made pending again, the job is queued again and runs once.
    sqlx::query("update jobs set status = 'pending', completed_at = null where id = $1")
        .bind(ids[0])
        .execute(&mut owner)
        .await
        .unwrap();
    // A job rescheduled while pending is queued under its new time too.
    let later = enqueue(&test, &[job(org, json!({}))]).await[0];
    sqlx::query("update jobs set available_at = now() + interval '1 hour' where id = $1")
        .bind(later)
        .execute(&mut owner)
        .await
        .unwrap();
    let claimed = queue::claim(&mut conn, &request).await.unwrap();
    assert_eq!(
        claimed.iter().map(|j| j.id).collect::<Vec<_>>(),
        vec![ids[0]]
    );
    assert_eq!(state(&mut conn, later).await.status, "pending");
    assert_eq!(
        count(&mut owner, QUEUED_IDS).await,
        1,
        "only the rescheduled entry is left"
    );
    let leased: Vec<Uuid> = sqlx::query_scalar("select unnest(job_ids) from job_leases")
        .fetch_all(&mut owner)
        .await
        .unwrap();
    assert_eq!(leased, vec![ids[0]]);
}

#[tokio::test]
async fn jobs_without_a_handler_wait_and_paused_queues_are_not_claimed() {
    let test = fresh_database().await;
    let org = test.new_organization().await;
    let worker = Worker::start(test.db.clone(), Registry::standard(), fast_config())
        .await
        .unwrap();
    let mut email = job(org, json!({}));
    email.job_type = JobType::Email;
    let mut conn = test.db.worker.acquire().await.unwrap();
    assert!(control::set_paused(&mut conn, "default", true, None)
        .await
        .unwrap());
    let ids = enqueue(&test, &[email, job(org, json!({}))]).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(state(&mut conn, ids[1]).await.status, "pending");
    assert!(control::set_paused(&mut conn, "default", false, None)
        .await
        .unwrap());
    eventually(10, "the diagnostic job to complete", || {
        let options = test.owner.clone();
        let id = ids[1];
        async move {
            let mut conn = PgConnection::connect_with(&options).await.unwrap();
            state(&mut conn, id).await.status == "completed"
        }
    })
    .await;
    let email = state(&mut conn, ids[0]).await;
    assert_eq!((email.status.as_str(), email.attempts), ("pending", 0));
    assert!(!control::set_paused(&mut conn, "no-such-queue", true, None)
        .await
        .unwrap());
    worker.shutdown().await;
}

#[tokio::test]
async fn concurrency_follows_the_queue_setting_while_running() {
    let test = fresh_database().await;
    let org = test.new_organization().await;
    let running = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let registry = {
        let (running, peak) = (running.clone(), peak.clone());
        Registry::empty().with(
            JobType::Other,
            FnHandler(move |_ctx: Arc<JobContext>| {
                let (running, peak) = (running.clone(), peak.clone());
                async move {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(150)).await;
                    running.fetch_sub(1, Ordering::SeqCst);
                    Outcome::Completed(None)
                }
            }),
        )
    };
    let mut conn = test.db.worker.acquire().await.unwrap();
    assert!(control::set_concurrency(&mut conn, "default", 1, None)
        .await
        .unwrap());
    let worker = Worker::start(test.db.clone(), registry, fast_config())
        .await
        .unwrap();
    let done = |n: i64| {
        let options = test.owner.clone();
        move || {
            let options = options.clone();
            async move {
                let mut conn = PgConnection::connect_with(&options).await.unwrap();
                count(
                    &mut conn,
                    "select count(*) from jobs where status = 'completed'",
                )
                .await
                    == n
            }
        }
    };
    enqueue(
        &test,
        &(0..4).map(|_| job(org, json!({}))).collect::<Vec<_>>(),
    )
    .await;
    eventually(20, "four jobs one at a time", done(4)).await;
    assert_eq!(peak.load(Ordering::SeqCst), 1);
    assert!(control::set_concurrency(&mut conn, "default", 4, None)
        .await
        .unwrap());
    tokio::time::sleep(Duration::from_millis(300)).await;
    enqueue(
        &test,
        &(0..8).map(|_| job(org, json!({}))).collect::<Vec<_>>(),
    )
    .await;
    eventually(20, "eight more, four at a time", done(12)).await;
    assert_eq!(peak.load(Ordering::SeqCst), 4);
    // and back down: the extra slots are taken away
    peak.store(0, Ordering::SeqCst);
    assert!(control::set_concurrency(&mut conn, "default", 2, None)
        .await
        .unwrap());
    tokio::time::sleep(Duration::from_millis(300)).await;
    enqueue(
        &test,
        &(0..6).map(|_| job(org, json!({}))).collect::<Vec<_>>(),
    )
    .await;
    eventually(20, "six more, two at a time", done(18)).await;
    assert_eq!(peak.load(Ordering::SeqCst), 2);
    worker.shutdown().await;
}

#[tokio::test]
async fn the_queues_view_counts_each_organizations_waiting_scheduled_and_running_jobs() {
    use veriphy_jobs::server::db::Scope;
    use veriphy_jobs::server::repo::queues;
    let test = fresh_database().await;
    let (mine, theirs) = (test.new_organization().await, test.new_organization().await);
    let mut later = job(mine, json!({}));
    later.available_at = Some(chrono::Utc::now() + chrono::Duration::hours(1));
    // of a type the claim below does not take, so it takes one of mine
    let mut their_email = job(theirs, json!({}));
    their_email.job_type = JobType::Email;
    let ids = enqueue(
        &test,
        &[
            job(mine, json!({})),
            job(mine, json!({})),
            job(mine, json!({})),
            later,
            their_email,
        ],
    )
    .await;
    // a cancelled job leaves a stale queue entry that must not count
    test.cancel_behind_the_engine(ids[2]).await;
    let mut conn = test.db.worker.acquire().await.unwrap();
    let claimed = queue::claim(&mut conn, &claim_of_other_jobs(Uuid::new_v4(), 1))
        .await
        .unwrap();
    assert_eq!(claimed[0].id, ids[0]);

    let counts = |organization: Option<Uuid>| {
        let db = test.db.clone();
        async move {
            let mut tx = db.begin(Scope::bank()).await.unwrap();
            let rows = queues::list(&mut tx, organization).await.unwrap();
            let row = rows.into_iter().find(|q| q.name == "default").unwrap();
            (row.backlog, row.scheduled, row.running, row.estimated)
        }
    };
    assert_eq!(counts(Some(mine)).await, (1, 1, 1, false));
    assert_eq!(counts(Some(theirs)).await, (1, 0, 0, false));
    assert_eq!(counts(None).await, (2, 1, 1, false));
}

#[tokio::test]
async fn the_queues_view_counts_a_long_queue_from_its_entries() {
    use veriphy_jobs::server::db::Scope;
    use veriphy_jobs::server::repo::{overview::EXACT_PENDING_LIMIT, queues};
    let test = fresh_database().await;
    let org = test.new_organization().await;
    let listed = EXACT_PENDING_LIMIT + 1;
    let jobs: Vec<NewJob> = (0..listed).map(|i| job(org, json!({ "i": i }))).collect();
    let ids = enqueue(&test, &jobs).await;
    // a job cancelled while listed is still counted: the figure is an estimate
    test.cancel_behind_the_engine(ids[0]).await;
    let mut tx = test.db.begin(Scope::bank()).await.unwrap();
    let rows = queues::list(&mut tx, Some(org)).await.unwrap();
    let row = rows.into_iter().find(|q| q.name == "default").unwrap();
    assert_eq!(
        (row.backlog, row.scheduled, row.estimated),
        (listed, 0, true)
    );
}

#[tokio::test]
async fn claims_take_a_bulk_enqueue_in_id_order() {
    let test = fresh_database().await;
    let org = test.new_organization().await;
    let jobs: Vec<NewJob> = (0..250).map(|i| job(org, json!({ "i": i }))).collect();
    let mut ids = enqueue(&test, &jobs).await;
    ids.sort();
    let mut owner = test.owner_connection().await;
    assert_eq!(
        count(&mut owner, "select count(*) from job_queue").await,
        3,
        "one queue entry per hundred jobs of a statement"
    );
    let mut conn = test.db.worker.acquire().await.unwrap();
    let mut taken = Vec::new();
    for limit in [30, 100, 100, 100] {
        let claimed = queue::claim(&mut conn, &claim_of_other_jobs(Uuid::new_v4(), limit))
            .await
            .unwrap();
        let mut batch: Vec<Uuid> = claimed.iter().map(|j| j.id).collect();
        batch.sort();
        taken.extend(batch);
    }
    assert_eq!(taken, ids, "every job once, oldest id first");
    assert_eq!(count(&mut owner, QUEUED_IDS).await, 0);
}

/// Sequential and index scans of `jobs`, as soon as the statistics show more
/// than `scans` of both kinds together (backends report after
/// `pg_stat_force_next_flush()` once idle).
async fn scans_of_jobs_beyond(owner: &mut PgConnection, scans: (i64, i64)) -> (i64, i64) {
    for _ in 0..200 {
        sqlx::query("select pg_stat_clear_snapshot()")
            .execute(&mut *owner)
            .await
            .unwrap();
        let now: (i64, i64) = sqlx::query_as(
            "select coalesce(seq_scan, 0), coalesce(idx_scan, 0)
             from pg_stat_user_tables where relname = 'jobs'",
        )
        .fetch_one(&mut *owner)
        .await
        .unwrap();
        if now.0 + now.1 > scans.0 + scans.1 {
            return now;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no statistics of the latest scans of jobs");
}

#[tokio::test]
async fn claims_planned_while_jobs_was_tiny_still_look_jobs_up_by_key() {
    // PostgreSQL caches a plan after a few runs. A claim or completion
    // planned in a fresh database must not keep scanning the whole table
    // once it has grown.
    let test = fresh_database().await;
    let org = test.new_organization().await;
    let mut conn = test.db.worker.acquire().await.unwrap();
    let claim_one = async |conn: &mut PgConnection| {
        queue::enqueue(conn, &job(org, json!({}))).await.unwrap();
        let claimed = queue::claim(conn, &claim_of_other_jobs(Uuid::new_v4(), 1))
            .await
            .unwrap();
        assert_eq!(claimed.len(), 1);
        let done = Completion {
            id: claimed[0].id,
            lease_token: claimed[0].lease_token,
            started_at: chrono::Utc::now(),
            finished_at: chrono::Utc::now(),
            result: None,
            attempt: 1,
            organization_id: Uuid::nil(),
            batch_id: None,
            job_type: JobType::Other,
            available_at: chrono::Utc::now(),
        };
        let written = queue::complete_many(conn, &[done]).await.unwrap();
        assert_eq!(written.len(), 1);
    };
    for _ in 0..8 {
        claim_one(&mut conn).await;
    }
    let mut owner = test.owner_connection().await;
    sqlx::query(
        "insert into jobs (organization_id, job_type, job_name, payload, status, completed_at)
         select $1, 'other', 'finished', '{}', 'completed', now()
         from generate_series(1, 20000)",
    )
    .bind(org)
    .execute(&mut owner)
    .await
    .unwrap();
    sqlx::query("select pg_stat_force_next_flush()")
        .execute(&mut *conn)
        .await
        .unwrap();
    let before = scans_of_jobs_beyond(&mut owner, (0, 0)).await;
    for _ in 0..5 {
        claim_one(&mut conn).await;
    }
    sqlx::query("select pg_stat_force_next_flush()")
        .execute(&mut *conn)
        .await
        .unwrap();
    let after = scans_of_jobs_beyond(&mut owner, before).await;
    assert_eq!(after.0, before.0, "a claim scanned the whole jobs table");
}

#[tokio::test]
async fn a_workers_probe_says_it_runs_until_it_is_shut_down() {
    let test = fresh_database().await;
    let worker = Worker::start(test.db.clone(), Registry::empty(), fast_config())
        .await
        .unwrap();
    let probe = worker.probe();
    assert!(probe.is_running());
    worker.shutdown().await;
    assert!(!probe.is_running());
}

#[tokio::test]
async fn a_result_the_database_refuses_fails_only_its_own_job() {
    let test = fresh_database().await;
    let org = test.new_organization().await;
    let registry = Registry::empty().with(
        JobType::Other,
        FnHandler(|ctx: Arc<JobContext>| {
            let poison = ctx.job.payload["poison"].as_bool().unwrap_or(false);
            async move {
                if poison {
                    // jsonb cannot hold a NUL character
                    Outcome::Completed(Some(json!({ "text": "a\u{0}b" })))
                } else {
                    Outcome::Completed(Some(json!({ "ok": true })))
                }
            }
        }),
    );
    let mut jobs: Vec<NewJob> = (0..20).map(|i| job(org, json!({ "i": i }))).collect();
    jobs.push(job(org, json!({ "poison": true })));
    let ids = enqueue(&test, &jobs).await;
    let workers = start_workers(&test, &registry, 1).await;
    until_no_job_matches(&test, 30, "status in ('pending', 'running')").await;
    for worker in workers {
        worker.shutdown().await;
    }
    let mut conn = test.db.worker.acquire().await.unwrap();
    assert_eq!(
        count(
            &mut conn,
            "select count(*) from jobs where status = 'completed' and attempts = 1"
        )
        .await,
        20,
        "the healthy jobs were written at their first attempt"
    );
    let poisoned = state(&mut conn, *ids.last().unwrap()).await;
    assert_eq!((poisoned.status.as_str(), poisoned.attempts), ("failed", 1));
    assert!(poisoned
        .error_message
        .unwrap()
        .starts_with("The job finished, but its result could not be stored"));
    assert_eq!(
        count(&mut conn, "select count(*) from failed_jobs").await,
        1,
        "its failure is on record"
    );
}

#[tokio::test]
async fn a_claim_commits_without_waiting_for_its_wal_flush() {
    // migrations/0018: the claim sets this for its own transaction only
    let test = fresh_database().await;
    let org = test.new_organization().await;
    enqueue(&test, &[job(org, json!({}))]).await;
    let mut conn = test.db.worker.acquire().await.unwrap();
    let mut tx = sqlx::Connection::begin(&mut *conn).await.unwrap();
    let claimed = queue::claim(&mut tx, &claim_of_other_jobs(Uuid::new_v4(), 1))
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    let within: String = sqlx::query_scalar("show synchronous_commit")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let after: String = sqlx::query_scalar("show synchronous_commit")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    assert_eq!((within.as_str(), after.as_str()), ("off", "on"));
}
