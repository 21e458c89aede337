//! Fairness between organizations sharing a queue: claims take turns among
//! the organizations with runnable jobs, and a bank admin's per-organization
//! cap holds across concurrent claimers.

mod common;

use common::{fresh_database, TestDb};
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;
use veriphy_jobs::domain::{JobType, Priority};
use veriphy_jobs::server::db::Database;
use veriphy_jobs::server::queue::{self, ClaimRequest, NewJob, Outcome};
use veriphy_jobs::server::worker::{FnHandler, JobContext, Registry, Worker, WorkerConfig};

/// Enqueues `count` jobs of `organization` at `priority` in one statement.
async fn enqueue(test: &TestDb, organization: Uuid, count: usize, priority: Priority) {
    let jobs: Vec<NewJob> = (0..count)
        .map(|i| {
            let mut job = NewJob::new(organization, JobType::Other, "fair job", json!({ "i": i }));
            job.priority = priority;
            job
        })
        .collect();
    let mut conn = test.db.worker.acquire().await.unwrap();
    queue::enqueue_many(&mut conn, &jobs).await.unwrap();
}

async fn claim(db: &Database, limit: i64) -> Vec<queue::ClaimedJob> {
    let mut conn = db.worker.acquire().await.unwrap();
    queue::claim(
        &mut conn,
        &ClaimRequest {
            queue: "default",
            job_types: &[JobType::Other],
            limit,
            worker_id: "fairness-test",
            lease_token: Uuid::new_v4(),
            lease: Duration::from_secs(60),
        },
    )
    .await
    .unwrap()
}

fn per_organization(jobs: &[queue::ClaimedJob]) -> HashMap<Uuid, usize> {
    let mut counts = HashMap::new();
    for job in jobs {
        *counts.entry(job.organization_id).or_insert(0) += 1;
    }
    counts
}

async fn cap(test: &TestDb, organization: Uuid, max_running: i32) {
    let mut owner = test.owner_connection().await;
    sqlx::query(
        "insert into queue_organization_limits (queue, organization_id, max_running)
         values ('default', $1, $2)",
    )
    .bind(organization)
    .bind(max_running)
    .execute(&mut owner)
    .await
    .unwrap();
}

#[tokio::test]
async fn a_claim_shares_a_queue_evenly_whatever_each_organization_s_priority() {
    let test = fresh_database().await;
    let loud = test.new_organization().await;
    let quiet = test.new_organization().await;
    enqueue(&test, loud, 300, Priority::Urgent).await;
    enqueue(&test, quiet, 30, Priority::Low).await;

    let counts = per_organization(&claim(&test.db, 20).await);

    assert_eq!(counts.get(&loud), Some(&10));
    assert_eq!(counts.get(&quiet), Some(&10));
}

#[tokio::test]
async fn an_organization_with_fewer_jobs_leaves_the_rest_of_its_share_to_the_others() {
    let test = fresh_database().await;
    let loud = test.new_organization().await;
    let quiet = test.new_organization().await;
    let third = test.new_organization().await;
    enqueue(&test, loud, 300, Priority::Normal).await;
    enqueue(&test, quiet, 2, Priority::Normal).await;
    enqueue(&test, third, 300, Priority::Normal).await;

    let counts = per_organization(&claim(&test.db, 30).await);

    assert_eq!(counts.get(&quiet), Some(&2));
    assert_eq!(counts.get(&loud), Some(&14));
    assert_eq!(counts.get(&third), Some(&14));
}

#[tokio::test]
async fn priority_still_orders_each_organization_s_own_jobs() {
    let test = fresh_database().await;
    let org = test.new_organization().await;
    enqueue(&test, org, 5, Priority::Low).await;
    enqueue(&test, org, 5, Priority::Urgent).await;

    let claimed = claim(&test.db, 5).await;

    assert!(claimed.iter().all(|j| j.priority == Priority::Urgent));
}

#[tokio::test]
async fn concurrent_claims_never_run_more_of_a_capped_organization_than_its_cap() {
    let test = fresh_database().await;
    let capped = test.new_organization().await;
    enqueue(&test, capped, 200, Priority::Normal).await;
    cap(&test, capped, 7).await;

    let claims: Vec<_> = (0..10)
        .map(|_| {
            let db = test.db.clone();
            tokio::spawn(async move { claim(&db, 5).await.len() })
        })
        .collect();
    let mut claimed = 0;
    for task in claims {
        claimed += task.await.unwrap();
    }

    assert_eq!(claimed, 7);
}

#[tokio::test]
async fn a_capped_organization_claims_again_as_its_running_jobs_finish() {
    let test = fresh_database().await;
    let capped = test.new_organization().await;
    enqueue(&test, capped, 50, Priority::Normal).await;
    cap(&test, capped, 3).await;
    let first = claim(&test.db, 10).await;
    assert_eq!(first.len(), 3);
    assert!(claim(&test.db, 10).await.is_empty(), "at its cap");

    let mut owner = test.owner_connection().await;
    sqlx::query(
        "update jobs set status = 'completed', lease_token = null, completed_at = now()
         where id = any ($1)",
    )
    .bind(first.iter().take(2).map(|j| j.id).collect::<Vec<_>>())
    .execute(&mut owner)
    .await
    .unwrap();

    assert_eq!(claim(&test.db, 10).await.len(), 2);
}

#[tokio::test]
async fn a_cap_leaves_the_rest_of_the_claim_to_other_organizations() {
    let test = fresh_database().await;
    let capped = test.new_organization().await;
    let other = test.new_organization().await;
    enqueue(&test, capped, 100, Priority::Urgent).await;
    enqueue(&test, other, 100, Priority::Low).await;
    cap(&test, capped, 2).await;

    let counts = per_organization(&claim(&test.db, 20).await);

    assert_eq!(counts.get(&capped), Some(&2));
    assert_eq!(counts.get(&other), Some(&18));
}

/// The proof: organization A enqueues 20,000 urgent jobs, B then 10
/// normal ones; B's jobs all run while most of A's still wait.
#[tokio::test]
async fn a_few_jobs_of_one_organization_run_while_thousands_of_another_s_wait() {
    let test = fresh_database().await;
    let flood = test.new_organization().await;
    let few = test.new_organization().await;
    enqueue(&test, flood, 20_000, Priority::Urgent).await;
    enqueue(&test, few, 10, Priority::Normal).await;
    let registry = Registry::empty().with(
        JobType::Other,
        FnHandler(|_: Arc<JobContext>| async {
            tokio::time::sleep(Duration::from_millis(5)).await;
            Outcome::Completed(None)
        }),
    );
    let worker = Worker::start(
        test.db.clone(),
        registry,
        WorkerConfig {
            concurrency_override: Some(10),
            poll_interval: Duration::from_millis(100),
            ..WorkerConfig::default()
        },
    )
    .await
    .unwrap();

    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let mut conn = test.owner_connection().await;
    let flood_done: i64 = loop {
        let (few_done, flood_done): (i64, i64) = sqlx::query_as(
            "select count(*) filter (where organization_id = $1 and status = 'completed'),
                    count(*) filter (where organization_id = $2 and status <> 'pending')
             from jobs",
        )
        .bind(few)
        .bind(flood)
        .fetch_one(&mut conn)
        .await
        .unwrap();
        if few_done == 10 {
            break flood_done;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "B's jobs did not all run"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    worker.shutdown().await;

    assert!(
        flood_done < 10_000,
        "{flood_done} of A's jobs had started before B's 10 finished"
    );
}
