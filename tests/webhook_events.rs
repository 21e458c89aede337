//! The engine's own events: a job that completes or fails for good and a
//! batch whose last job ends reach the organization's subscribed webhooks,
//! signed, in the transaction of the write that caused them — and nothing
//! is recorded for organizations nobody listens to.

mod common;

use common::stand_ins::{stand_in, Received};
use common::webhooks::{create, delivering_worker, run_until_idle, verifies};
use common::{signed_in, spawn_app, TestApp};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use uuid::Uuid;
use veriphy_jobs::domain::JobType;
use veriphy_jobs::server::queue::{self, NewJob};

const NORTHWIND_ADMIN: &str = "admin@northwind.example";

/// A diagnostic (`other`) job of organization `slug` with `payload`.
async fn enqueue_other(app: &TestApp, slug: &str, payload: Value, batch: Option<Uuid>) -> Uuid {
    let organization = app.test_db.organization_id(slug).await;
    let mut job = NewJob::new(organization, JobType::Other, "Diagnostic", payload);
    job.max_attempts = 1;
    job.batch_id = batch;
    let mut conn = app.test_db.db.worker.acquire().await.unwrap();
    queue::enqueue(&mut conn, &job).await.unwrap()
}

/// Northwind's admin subscribes a webhook to `event` at a stand-in
/// answering `status`; the stand-in's requests and the webhook's secret.
async fn subscribe(
    app: &TestApp,
    event: &str,
    status: &'static str,
) -> (Arc<Mutex<Vec<Received>>>, String) {
    let (port, received) = stand_in(status, "", "").await;
    let admin = signed_in(app, NORTHWIND_ADMIN).await;
    let (code, saved) = create(
        app,
        &admin,
        &format!("http://127.0.0.1:{port}/events"),
        event,
        &[("form[max_retries]", "0")],
    )
    .await;
    assert_eq!(code, 200, "{saved}");
    (received, saved["secret"].as_str().unwrap().to_string())
}

/// The bodies the stand-in received, as JSON.
fn bodies(received: &Arc<Mutex<Vec<Received>>>) -> Vec<Value> {
    received
        .lock()
        .unwrap()
        .iter()
        .map(|request| serde_json::from_str(&request.body).unwrap())
        .collect()
}

/// The bodies whose `data.field` is `value` (the demo's own jobs run too).
fn about(received: &Arc<Mutex<Vec<Received>>>, field: &str, value: Uuid) -> Vec<Value> {
    bodies(received)
        .into_iter()
        .filter(|body| body["data"][field] == json!(value))
        .collect()
}

/// A new batch "Nightly" of Northwind; its id.
async fn nightly_batch(app: &TestApp) -> Uuid {
    let organization = app.test_db.organization_id("northwind-lending").await;
    let mut owner = app.test_db.owner_connection().await;
    sqlx::query_scalar(
        "insert into job_batches (organization_id, batch_name) values ($1, 'Nightly') returning id",
    )
    .bind(organization)
    .fetch_one(&mut owner)
    .await
    .unwrap()
}

/// Events of type `event` in the outbox of `organization`.
async fn recorded_events(app: &TestApp, organization: Uuid, event: &str) -> i64 {
    let mut owner = app.test_db.owner_connection().await;
    sqlx::query_scalar(
        "select count(*) from webhook_events where organization_id = $1 and event_type = $2",
    )
    .bind(organization)
    .bind(event)
    .fetch_one(&mut owner)
    .await
    .unwrap()
}

#[tokio::test]
async fn a_completed_job_reaches_the_subscriber_as_job_completed_signed() {
    let app = spawn_app().await;
    let (received, secret) = subscribe(&app, "job.completed", "200 OK").await;

    let job = enqueue_other(&app, "northwind-lending", json!({"n": 1}), None).await;
    run_until_idle(&app).await;

    let requests: Vec<Received> = received
        .lock()
        .unwrap()
        .iter()
        .filter(|request| request.body.contains(&job.to_string()))
        .cloned()
        .collect();
    assert_eq!(requests.len(), 1, "one delivery");
    let body: Value = serde_json::from_str(&requests[0].body).unwrap();
    assert_eq!(body["type"], "job.completed");
    assert_eq!(
        body["data"],
        json!({"job_id": job, "job_type": "other", "job_name": "Diagnostic",
               "attempts": 1, "batch_id": null})
    );
    assert!(verifies(
        &secret,
        requests[0].header("webhook-id").unwrap(),
        requests[0].header("webhook-timestamp").unwrap(),
        &requests[0].body,
        requests[0].header("webhook-signature").unwrap()
    ));
}

#[tokio::test]
async fn another_organization_s_completed_jobs_reach_no_webhook_of_this_one() {
    let app = spawn_app().await;
    let (received, _) = subscribe(&app, "job.completed", "200 OK").await;

    let job = enqueue_other(&app, "harbor-credit", json!({}), None).await;
    run_until_idle(&app).await;

    assert!(about(&received, "job_id", job).is_empty());
    let harbor = app.test_db.organization_id("harbor-credit").await;
    assert_eq!(recorded_events(&app, harbor, "job.completed").await, 0);
}

#[tokio::test]
async fn jobs_that_end_with_nobody_subscribed_record_no_event() {
    let app = spawn_app().await;
    // the demo organizations have webhooks; this one has none
    let organization = app.test_db.new_organization().await;
    let mut conn = app.test_db.db.worker.acquire().await.unwrap();
    for payload in [json!({}), json!({"fail_with": "no"})] {
        let mut job = NewJob::new(organization, JobType::Other, "Diagnostic", payload);
        job.max_attempts = 1;
        queue::enqueue(&mut conn, &job).await.unwrap();
    }
    run_until_idle(&app).await;

    let mut owner = app.test_db.owner_connection().await;
    let ended: Vec<String> = sqlx::query_scalar(
        "select status::text from jobs where organization_id = $1 order by status",
    )
    .bind(organization)
    .fetch_all(&mut owner)
    .await
    .unwrap();
    assert_eq!(ended, vec!["completed", "failed"]);
    let events: i64 =
        sqlx::query_scalar("select count(*) from webhook_events where organization_id = $1")
            .bind(organization)
            .fetch_one(&mut owner)
            .await
            .unwrap();
    assert_eq!(events, 0);
}

#[tokio::test]
async fn a_job_that_fails_for_good_reaches_the_subscriber_as_job_failed_with_its_error() {
    let app = spawn_app().await;
    let (received, _) = subscribe(&app, "job.failed", "204 No Content").await;

    let job = enqueue_other(
        &app,
        "northwind-lending",
        json!({"fail_with": "disk full"}),
        None,
    )
    .await;
    enqueue_other(&app, "northwind-lending", json!({}), None).await;
    run_until_idle(&app).await;

    let bodies = about(&received, "job_id", job);
    assert_eq!(bodies.len(), 1, "{bodies:?}");
    assert_eq!(bodies[0]["type"], "job.failed");
    assert_eq!(bodies[0]["data"]["error"], "Diagnostic failure: disk full");
    let types: Vec<Value> = self::bodies(&received)
        .iter()
        .map(|b| b["type"].clone())
        .collect();
    assert!(types.iter().all(|t| t == "job.failed"), "{types:?}");
}

#[tokio::test]
async fn a_delivery_that_fails_raises_no_job_failed_of_its_own() {
    let app = spawn_app().await;
    let (received, _) = subscribe(&app, "job.failed", "500 Internal Server Error").await;

    enqueue_other(
        &app,
        "northwind-lending",
        json!({"fail_with": "disk full"}),
        None,
    )
    .await;
    run_until_idle(&app).await;

    let mut owner = app.test_db.owner_connection().await;
    // deliveries to the stand-in's webhook (the demo's run too)
    let failed_deliveries: i64 = sqlx::query_scalar(
        "select count(*) from jobs j join webhooks w on w.id = (j.payload ->> 'webhook_id')::uuid
         where j.job_type = 'webhook' and j.status = 'failed'
           and w.webhook_url like 'http://127.0.0.1:%'",
    )
    .fetch_one(&mut owner)
    .await
    .unwrap();
    let bodies = bodies(&received);
    assert_eq!(
        bodies.len() as i64,
        failed_deliveries,
        "one request per failed delivery"
    );
    let about_deliveries: Vec<&Value> = bodies
        .iter()
        .filter(|b| b["data"]["job_type"] == "webhook")
        .collect();
    assert!(about_deliveries.is_empty(), "{about_deliveries:?}");
}

#[tokio::test]
async fn a_batch_whose_last_job_ends_raises_batch_failed_once_with_its_counts() {
    let app = spawn_app().await;
    let (received, _) = subscribe(&app, "batch.failed", "200 OK").await;
    let batch = nightly_batch(&app).await;

    for payload in [json!({}), json!({}), json!({"fail_with": "bad row"})] {
        enqueue_other(&app, "northwind-lending", payload, Some(batch)).await;
    }
    run_until_idle(&app).await;

    let bodies = about(&received, "batch_id", batch);
    assert_eq!(bodies.len(), 1, "{bodies:?}");
    assert_eq!(bodies[0]["type"], "batch.failed");
    assert_eq!(
        bodies[0]["data"],
        json!({"batch_id": batch, "batch_name": "Nightly", "total_jobs": 3,
               "processed_jobs": 2, "failed_jobs": 1, "cancelled_jobs": 0})
    );
}

#[tokio::test]
async fn a_batch_that_ends_without_failures_raises_batch_completed() {
    let app = spawn_app().await;
    let (received, _) = subscribe(&app, "batch.completed", "200 OK").await;
    let batch = nightly_batch(&app).await;

    for _ in 0..2 {
        enqueue_other(&app, "northwind-lending", json!({}), Some(batch)).await;
    }
    run_until_idle(&app).await;

    let bodies = about(&received, "batch_id", batch);
    assert_eq!(bodies.len(), 1, "{bodies:?}");
    assert_eq!(bodies[0]["type"], "batch.completed");
    assert_eq!(bodies[0]["data"]["processed_jobs"], 2);
}

#[tokio::test]
async fn a_webhook_made_while_a_worker_runs_receives_the_completions_after_it() {
    let app = spawn_app().await;
    let worker = delivering_worker(&app).await;

    // the worker learns of the new subscription by notification (its
    // periodic re-read is 10 s away)
    let (received, _) = subscribe(&app, "job.completed", "200 OK").await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let job = enqueue_other(&app, "northwind-lending", json!({}), None).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while about(&received, "job_id", job).is_empty() && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    worker.shutdown().await;

    assert_eq!(about(&received, "job_id", job).len(), 1);
}
