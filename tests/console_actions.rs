//! Console actions over HTTP: validation answers 422 with a sentence, roles
//! and tenants are enforced on the server, every action leaves an audit row.

mod common;

use common::{session_cookie, spawn_app, TestApp};
use sqlx::Connection;
use uuid::Uuid;

const PASSWORD: &str = "veriphy-demo-2026";
const NORTHWIND_ADMIN: &str = "admin@northwind.example";
const NORTHWIND_VIEWER: &str = "viewer@northwind.example";
const HARBOR_ADMIN: &str = "admin@harbor.example";

async fn signed_in(app: &TestApp, email: &str) -> String {
    session_cookie(&app.login(email, PASSWORD, None).await).expect("signed in")
}

async fn call(
    app: &TestApp,
    cookie: &str,
    function: &str,
    form: &[(&str, &str)],
) -> (u16, serde_json::Value) {
    let response = app
        .client()
        .post(format!("{}/api/{function}", app.base))
        .header("cookie", cookie)
        .header("accept", "application/json")
        .form(form)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&body).unwrap_or(serde_json::Value::String(body)),
    )
}

async fn audit_actions(app: &TestApp) -> Vec<String> {
    let mut conn = sqlx::PgConnection::connect_with(&app.test_db.owner)
        .await
        .unwrap();
    sqlx::query_scalar("select action from audit_log where action not like 'login%' and action <> 'logout' order by created_at")
        .fetch_all(&mut conn)
        .await
        .unwrap()
}

fn job_form<'a>(payload: &'a str, name: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("form[job_type]", "other"),
        ("form[job_name]", name),
        ("form[payload]", payload),
        ("form[priority]", "high"),
        ("form[queue]", "default"),
        ("form[max_attempts]", "2"),
        ("form[run_at]", "2099-01-01T09:30"),
    ]
}

#[tokio::test]
async fn creating_a_job_validates_checks_the_role_and_is_audited() {
    let app = spawn_app().await;
    let admin = signed_in(&app, NORTHWIND_ADMIN).await;

    let (status, body) = call(&app, &admin, "create_job", &job_form("{oops", "Check")).await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("not valid JSON"),
        "{body}"
    );
    let (status, body) = call(&app, &admin, "create_job", &job_form("{}", "  ")).await;
    assert_eq!(
        (status, body["message"].as_str()),
        (422, Some("Give the job a name."))
    );

    let (status, body) = call(&app, &admin, "create_job", &job_form("{\"a\":1}", "Later")).await;
    assert_eq!(status, 200, "{body}");
    let id: Uuid = serde_json::from_value(body).unwrap();
    let (status, detail) = call(&app, &admin, "job_detail", &[("id", &id.to_string())]).await;
    assert_eq!(status, 200);
    assert_eq!(detail["organization_name"], "Northwind Lending");
    assert_eq!(detail["priority"], "high");
    assert_eq!(detail["max_attempts"], 2);
    assert!(detail["available_at"]
        .as_str()
        .unwrap()
        .starts_with("2099-01-01T09:30"));

    let viewer = signed_in(&app, NORTHWIND_VIEWER).await;
    let (status, _) = call(&app, &viewer, "create_job", &job_form("{}", "Nope")).await;
    assert_eq!(status, 403);
    assert_eq!(audit_actions(&app).await, ["job.create"]);
}

#[tokio::test]
async fn job_actions_follow_the_status_and_stay_inside_the_organization() {
    let app = spawn_app().await;
    let admin = signed_in(&app, NORTHWIND_ADMIN).await;
    let (_, body) = call(&app, &admin, "create_job", &job_form("{}", "Scheduled")).await;
    let id = body.as_str().unwrap().to_string();

    // Another organization's admin cannot see or touch it.
    let harbor = signed_in(&app, HARBOR_ADMIN).await;
    let (status, _) = call(&app, &harbor, "job_detail", &[("id", &id)]).await;
    assert_eq!(status, 404);
    let (status, _) = call(
        &app,
        &harbor,
        "job_action",
        &[("id", &id), ("action", "cancel")],
    )
    .await;
    assert_eq!(status, 404);

    let act = |action: &'static str| {
        let (app, admin, id) = (&app, admin.clone(), id.clone());
        async move {
            call(
                app,
                &admin,
                "job_action",
                &[("id", &id), ("action", action)],
            )
            .await
        }
    };
    let (status, body) = act("delete").await;
    assert_eq!(
        (status, body["message"].as_str()),
        (422, Some("Only finished jobs can be deleted."))
    );
    let (status, body) = act("launch").await;
    assert_eq!(status, 422, "{body}");
    let (status, body) = act("cancel").await;
    assert_eq!((status, body.as_str()), (200, Some("Job cancelled.")));
    let (status, body) = act("cancel").await;
    assert_eq!(
        (status, body["message"].as_str()),
        (422, Some("A cancelled job cannot be cancelled."))
    );
    let (status, _) = act("retry").await;
    assert_eq!(status, 200);
    let (_, detail) = call(&app, &admin, "job_detail", &[("id", &id)]).await;
    assert_eq!(detail["status"], "pending");
    act("cancel").await;
    let (status, body) = act("delete").await;
    assert_eq!((status, body.as_str()), (200, Some("Job deleted.")));
    let (status, _) = call(&app, &admin, "job_detail", &[("id", &id)]).await;
    assert_eq!(status, 404);
    assert_eq!(
        audit_actions(&app).await,
        [
            "job.create",
            "job.cancel",
            "job.retry",
            "job.cancel",
            "job.delete"
        ]
    );
}

#[tokio::test]
async fn failures_are_retried_and_resolved_by_writers_of_their_organization() {
    let app = spawn_app().await;
    let mut conn = sqlx::PgConnection::connect_with(&app.test_db.owner)
        .await
        .unwrap();
    let (failure, retries): (Uuid, i32) = sqlx::query_as(
        "select f.id, f.retry_count from failed_jobs f
         join organizations o on o.id = f.organization_id
         where o.slug = 'northwind-lending' and not f.is_resolved limit 1",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    let failure = failure.to_string();
    let viewer = signed_in(&app, NORTHWIND_VIEWER).await;
    let (status, _) = call(&app, &viewer, "retry_failed_job", &[("id", &failure)]).await;
    assert_eq!(status, 403);
    let harbor = signed_in(&app, HARBOR_ADMIN).await;
    let (status, _) = call(&app, &harbor, "retry_failed_job", &[("id", &failure)]).await;
    assert_eq!(status, 404);

    let admin = signed_in(&app, NORTHWIND_ADMIN).await;
    let (status, body) = call(
        &app,
        &admin,
        "resolve_failed_job",
        &[("id", &failure), ("resolution", " ")],
    )
    .await;
    assert_eq!(
        (status, body["message"].as_str()),
        (422, Some("Say how the failure was resolved."))
    );
    let (status, _) = call(&app, &admin, "retry_failed_job", &[("id", &failure)]).await;
    assert_eq!(status, 200);
    let (count, job_status): (i32, String) = sqlx::query_as(
        "select f.retry_count, j.status from failed_jobs f join jobs j on j.id = f.job_id where f.id = $1",
    )
    .bind(Uuid::parse_str(&failure).unwrap())
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(count, retries + 1);
    assert_ne!(job_status, "failed");
    let (status, _) = call(
        &app,
        &admin,
        "resolve_failed_job",
        &[("id", &failure), ("resolution", "Sent by post instead")],
    )
    .await;
    assert_eq!(status, 200);
    let (resolved, by, note): (bool, Option<Uuid>, Option<String>) = sqlx::query_as(
        "select is_resolved, resolved_by, resolution from failed_jobs where id = $1",
    )
    .bind(Uuid::parse_str(&failure).unwrap())
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert!(resolved && by.is_some());
    assert_eq!(note.as_deref(), Some("Sent by post instead"));
    let (status, _) = call(
        &app,
        &admin,
        "resolve_failed_job",
        &[("id", &failure), ("resolution", "again")],
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(
        audit_actions(&app).await,
        ["failed_job.retry", "failed_job.resolve"]
    );
}

#[tokio::test]
async fn batches_cancel_their_waiting_jobs_and_queues_are_paused_by_bank_admins_only() {
    let app = spawn_app().await;
    let mut conn = sqlx::PgConnection::connect_with(&app.test_db.owner)
        .await
        .unwrap();
    let batch: Uuid = sqlx::query_scalar(
        "select b.id from job_batches b join organizations o on o.id = b.organization_id
         where o.slug = 'northwind-lending' and b.status in ('pending', 'running')
           and b.pending_jobs > b.running_jobs
         limit 1",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    let admin = signed_in(&app, NORTHWIND_ADMIN).await;
    let (status, body) = call(&app, &admin, "cancel_batch", &[("id", &batch.to_string())]).await;
    assert_eq!(status, 200, "{body}");
    let (batch_status, waiting): (String, i64) = sqlx::query_as(
        "select b.status, (select count(*) from jobs j where j.batch_id = b.id and j.status = 'pending')
         from job_batches b where b.id = $1",
    )
    .bind(batch)
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!((batch_status.as_str(), waiting), ("cancelled", 0));
    let (status, _) = call(&app, &admin, "cancel_batch", &[("id", &batch.to_string())]).await;
    assert_eq!(status, 422);

    let (status, _) = call(
        &app,
        &admin,
        "set_queue_paused",
        &[("name", "default"), ("paused", "true")],
    )
    .await;
    assert_eq!(status, 403);
    let bank = signed_in(&app, "bank.admin@veriphy.example").await;
    let (status, body) = call(
        &app,
        &bank,
        "set_queue_paused",
        &[("name", "default"), ("paused", "true")],
    )
    .await;
    assert_eq!(
        (status, body.as_str()),
        (200, Some("Queue default paused."))
    );
    let (status, _) = call(
        &app,
        &bank,
        "set_queue_paused",
        &[("name", "nope"), ("paused", "true")],
    )
    .await;
    assert_eq!(status, 404);
    let (status, queues) = call(&app, &admin, "list_queues", &[]).await;
    assert_eq!(status, 200);
    let default = queues
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["name"] == "default")
        .unwrap();
    assert_eq!(default["paused"], true);
    assert_eq!(audit_actions(&app).await, ["batch.cancel", "queue.pause"]);
}
