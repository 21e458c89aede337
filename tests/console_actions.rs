//! Console actions over HTTP: validation answers 422 with a sentence, roles
//! and tenants are enforced on the server, every action leaves an audit row.

mod common;

use common::{call, signed_in, spawn_app, TestApp};
use sqlx::Connection;
use uuid::Uuid;

const NORTHWIND_ADMIN: &str = "admin@northwind.example";
const NORTHWIND_VIEWER: &str = "viewer@northwind.example";
const HARBOR_ADMIN: &str = "admin@harbor.example";

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
        "resolve_failed_jobs",
        &[("ids[0]", &failure), ("resolution", " ")],
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
        "resolve_failed_jobs",
        &[("ids[0]", &failure), ("resolution", "Sent by post instead")],
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
        "resolve_failed_jobs",
        &[("ids[0]", &failure), ("resolution", "again")],
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
    let set = |cookie: String, value: &'static str| {
        let app = &app;
        async move {
            call(
                app,
                &cookie,
                "set_queue_concurrency",
                &[("name", "default"), ("concurrency", value)],
            )
            .await
        }
    };
    assert_eq!(set(admin.clone(), "25").await.0, 403);
    let (status, body) = set(bank.clone(), "0").await;
    assert_eq!(
        (status, body["message"].as_str()),
        (422, Some("Concurrency is a whole number from 1 to 1000."))
    );
    assert_eq!(set(bank.clone(), "many").await.0, 422);
    assert_eq!(set(bank.clone(), "25").await.0, 200);
    let (_, queues) = call(&app, &bank, "list_queues", &[]).await;
    let default = queues
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["name"] == "default")
        .unwrap();
    assert_eq!(default["concurrency"], 25);
    assert_eq!(
        audit_actions(&app).await,
        ["batch.cancel", "queue.pause", "queue.concurrency"]
    );
}

async fn northwind_count(app: &TestApp, condition: &str) -> i64 {
    let mut conn = sqlx::PgConnection::connect_with(&app.test_db.owner)
        .await
        .unwrap();
    sqlx::query_scalar(&format!(
        "select count(*) from jobs j join organizations o on o.id = j.organization_id
         where o.slug = 'northwind-lending' and {condition}"
    ))
    .fetch_one(&mut conn)
    .await
    .unwrap()
}

#[tokio::test]
async fn job_filters_narrow_the_list_and_bad_ones_are_422() {
    let app = spawn_app().await;
    let viewer = signed_in(&app, NORTHWIND_VIEWER).await;
    let (status, page) = call(
        &app,
        &viewer,
        "list_jobs",
        &[
            ("query[filters][type]", "email"),
            ("query[filters][q]", "loan OFFER"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{page}");
    let items = page["items"].as_array().unwrap();
    assert!(!items.is_empty());
    for item in items {
        assert_eq!(item["job_type"], "email");
        assert!(item["job_name"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("loan offer"));
    }
    // LIKE wildcards in the search text match literally
    let (_, page) = call(&app, &viewer, "list_jobs", &[("query[filters][q]", "%")]).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 0);
    for (name, value, expected) in [
        ("type", "fax", "Unknown job type"),
        ("from", "soon", "Times in filters"),
        ("from", "-30000-01-01T00:00", "in the years 1 to 9999"),
        ("colour", "red", "Unknown filter"),
    ] {
        let key = format!("query[filters][{name}]");
        let (status, body) = call(&app, &viewer, "list_jobs", &[(key.as_str(), value)]).await;
        assert_eq!(status, 422, "{name}");
        assert!(
            body["message"].as_str().unwrap().contains(expected),
            "{body}"
        );
    }
    // other tabs take no extra filters
    let (status, _) = call(
        &app,
        &viewer,
        "list_batches",
        &[("query[filters][type]", "email")],
    )
    .await;
    assert_eq!(status, 422);
}

#[tokio::test]
async fn bulk_actions_preview_then_apply_exactly_what_was_confirmed() {
    let app = spawn_app().await;
    let admin = signed_in(&app, NORTHWIND_ADMIN).await;
    let filter = [
        ("query[status]", "pending"),
        ("query[filters][queue]", "notifications"),
        ("action", "cancel"),
    ];
    let pending = northwind_count(&app, "j.status = 'pending' and j.queue = 'notifications'").await;
    assert!(pending > 1, "the demo needs waiting notification jobs");
    let (status, preview) = call(&app, &admin, "preview_bulk_jobs", &filter).await;
    assert_eq!(status, 200, "{preview}");
    assert_eq!(
        (preview["matching"].as_i64(), preview["eligible"].as_i64()),
        (Some(pending), Some(pending))
    );

    let stale = (pending - 1).to_string();
    let mut form = filter.to_vec();
    form.push(("expected", &stale));
    let (status, body) = call(&app, &admin, "bulk_jobs", &form).await;
    assert_eq!(status, 422);
    assert!(body["message"]
        .as_str()
        .unwrap()
        .contains("changed since the preview"));
    assert_eq!(
        northwind_count(&app, "j.status = 'pending' and j.queue = 'notifications'").await,
        pending
    );

    let viewer = signed_in(&app, NORTHWIND_VIEWER).await;
    let expected = pending.to_string();
    let mut form = filter.to_vec();
    form.push(("expected", &expected));
    let (status, _) = call(&app, &viewer, "bulk_jobs", &form).await;
    assert_eq!(status, 403);
    let (status, body) = call(&app, &admin, "bulk_jobs", &form).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body.as_str().unwrap(), format!("{pending} jobs cancelled."));
    assert_eq!(
        northwind_count(&app, "j.status = 'pending' and j.queue = 'notifications'").await,
        0
    );
    // Harbor's jobs were not touched
    let mut conn = sqlx::PgConnection::connect_with(&app.test_db.owner)
        .await
        .unwrap();
    let harbor: i64 = sqlx::query_scalar(
        "select count(*) from jobs j join organizations o on o.id = j.organization_id
         where o.slug = 'harbor-credit' and j.status = 'pending' and j.queue = 'notifications'",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert!(harbor > 0);

    // a selection: two of the cancelled jobs are retried
    let ids: Vec<Uuid> = sqlx::query_scalar(
        "select j.id from jobs j join organizations o on o.id = j.organization_id
         where o.slug = 'northwind-lending' and j.status = 'cancelled' order by j.id limit 2",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    let (a, b) = (ids[0].to_string(), ids[1].to_string());
    let selection = [
        ("action", "retry"),
        ("ids[0]", a.as_str()),
        ("ids[1]", b.as_str()),
    ];
    let (status, preview) = call(&app, &admin, "preview_bulk_jobs", &selection).await;
    assert_eq!((status, preview["eligible"].as_i64()), (200, Some(2)));
    let mut form = selection.to_vec();
    form.push(("expected", "2"));
    let (status, body) = call(&app, &admin, "bulk_jobs", &form).await;
    assert_eq!((status, body.as_str()), (200, Some("2 jobs retried.")));
    let actions = audit_actions(&app).await;
    assert_eq!(actions, ["job.bulk_cancel", "job.bulk_retry"]);
}

#[tokio::test]
async fn a_batch_is_created_from_a_csv_of_recipients() {
    let app = spawn_app().await;
    let admin = signed_in(&app, NORTHWIND_ADMIN).await;
    let form = |csv: &'static str| {
        vec![
            ("form[batch_name]", "December statements"),
            ("form[subject]", "Your statement is ready"),
            ("form[template]", "welcome"),
            ("form[priority]", "high"),
            ("form[recipients]", csv),
        ]
    };
    let (status, body) = call(
        &app,
        &admin,
        "create_batch",
        &form("email,name\nada@bank.example,Ada\nnope,Bo\n"),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(body["message"], "Row 3: \"nope\" is not an email address.");
    let (status, body) = call(
        &app,
        &admin,
        "create_batch",
        &form("email,name,account\nada@bank.example,Ada,1\n\"bo@bank.example\",\"Bo, Jr\",2\ncy@bank.example,Cy,3\n"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let batch = Uuid::parse_str(body.as_str().unwrap()).unwrap();
    let mut conn = sqlx::PgConnection::connect_with(&app.test_db.owner)
        .await
        .unwrap();
    let (total, pending): (i32, i32) =
        sqlx::query_as("select total_jobs, pending_jobs from job_batches where id = $1")
            .bind(batch)
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert_eq!((total, pending), (3, 3));
    let payload: serde_json::Value = sqlx::query_scalar(
        "select payload from jobs where batch_id = $1 and payload->>'to' = 'bo@bank.example'",
    )
    .bind(batch)
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(payload["variables"]["name"], "Bo, Jr");
    assert_eq!(payload["template"], "welcome");
    // the batch's jobs are one filter away
    let batch_text = batch.to_string();
    let (_, page) = call(
        &app,
        &admin,
        "list_jobs",
        &[("query[filters][batch]", batch_text.as_str())],
    )
    .await;
    assert_eq!(page["items"].as_array().unwrap().len(), 3);

    // fail two, then retry the batch's failures
    sqlx::query(
        "update jobs set status = 'failed', failed_at = now(), error_message = 'bounced'
         where id in (select id from jobs where batch_id = $1 order by id limit 2)",
    )
    .bind(batch)
    .execute(&mut conn)
    .await
    .unwrap();
    let (status, body) = call(
        &app,
        &admin,
        "retry_batch_failures",
        &[("id", batch_text.as_str())],
    )
    .await;
    assert_eq!(
        (status, body.as_str()),
        (200, Some("2 failed jobs queued to run again."))
    );
    let (status, _) = call(
        &app,
        &admin,
        "retry_batch_failures",
        &[("id", batch_text.as_str())],
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(
        audit_actions(&app).await,
        ["batch.create", "batch.retry_failed"]
    );
}

#[tokio::test]
async fn several_failures_are_resolved_with_one_note() {
    let app = spawn_app().await;
    let mut conn = sqlx::PgConnection::connect_with(&app.test_db.owner)
        .await
        .unwrap();
    let open: Vec<Uuid> = sqlx::query_scalar(
        "select f.id from failed_jobs f join organizations o on o.id = f.organization_id
         where o.slug = 'northwind-lending' and not f.is_resolved order by f.id",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert!(open.len() >= 2);
    let theirs: Uuid = sqlx::query_scalar(
        "select f.id from failed_jobs f join organizations o on o.id = f.organization_id
         where o.slug = 'harbor-credit' and not f.is_resolved limit 1",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    let admin = signed_in(&app, NORTHWIND_ADMIN).await;
    let (a, b, c) = (open[0].to_string(), open[1].to_string(), theirs.to_string());
    let (status, body) = call(
        &app,
        &admin,
        "resolve_failed_jobs",
        &[
            ("ids[0]", a.as_str()),
            ("ids[1]", b.as_str()),
            ("ids[2]", c.as_str()),
            ("resolution", "Customers called back"),
        ],
    )
    .await;
    assert_eq!((status, body.as_str()), (200, Some("2 failures resolved.")));
    let still_open: bool =
        sqlx::query_scalar("select not is_resolved from failed_jobs where id = $1")
            .bind(theirs)
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert!(still_open, "another organization's failure was resolved");
}

#[tokio::test]
async fn documents_uploaded_through_the_console_are_analysed_by_a_job() {
    let app = spawn_app().await;
    let admin = signed_in(&app, NORTHWIND_ADMIN).await;
    let pdf = veriphy_jobs::server::worker::handlers::document::text_pdf(&["Uploaded offer"]);
    let upload = |cookie: String, bytes: Vec<u8>| {
        let form = reqwest::multipart::Form::new().part(
            "file",
            reqwest::multipart::Part::bytes(bytes).file_name("../offer.pdf"),
        );
        app.client()
            .post(format!("{}/documents", app.base))
            .header("cookie", cookie)
            .multipart(form)
            .send()
    };
    let response = upload(admin.clone(), pdf.clone()).await.unwrap();
    assert_eq!(response.status(), 201);
    let job_id = response.text().await.unwrap();
    let (status, detail) = call(&app, &admin, "job_detail", &[("id", job_id.as_str())]).await;
    assert_eq!(status, 200);
    assert_eq!(detail["job_type"], "document_processing");
    assert_eq!(detail["job_name"], "Analyse offer.pdf");
    let file_id = detail["payload"]["file_id"].as_str().unwrap().to_string();
    let download = app.get(&format!("/files/{file_id}"), &admin).await;
    assert_eq!(download.status(), 200);
    assert_eq!(download.bytes().await.unwrap().to_vec(), pdf);
    // another organization cannot download it
    let harbor = signed_in(&app, HARBOR_ADMIN).await;
    let other = app.get(&format!("/files/{file_id}"), &harbor).await;
    assert_eq!(other.status(), 404);

    let empty = upload(admin.clone(), Vec::new()).await.unwrap();
    assert_eq!(empty.status(), 422);
    assert_eq!(empty.text().await.unwrap(), "The document is empty.");
    let viewer = signed_in(&app, NORTHWIND_VIEWER).await;
    assert_eq!(upload(viewer, pdf).await.unwrap().status(), 403);
    assert_eq!(audit_actions(&app).await, ["document.upload"]);
}

#[tokio::test]
async fn an_upload_past_the_organization_s_storage_quota_is_refused_and_nothing_is_stored() {
    let app = spawn_app().await;
    let admin = signed_in(&app, NORTHWIND_ADMIN).await;
    let mut owner = app.test_db.owner_connection().await;
    let stored_before: i64 = sqlx::query_scalar("select count(*) from stored_files")
        .fetch_one(&mut owner)
        .await
        .unwrap();
    sqlx::query(
        "update organizations set storage_quota_bytes =
           coalesce((select sum(size_bytes) from stored_files f
                     where f.organization_id = organizations.id), 0) + 1024
         where slug = 'northwind-lending'",
    )
    .execute(&mut owner)
    .await
    .unwrap();
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(vec![b'x'; 2048]).file_name("big.txt"),
    );

    let response = app
        .client()
        .post(format!("{}/documents", app.base))
        .header("cookie", admin)
        .multipart(form)
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 422);
    let message = response.text().await.unwrap();
    assert!(
        message.starts_with("Your organization's document storage is full:")
            && message.contains("this document needs 2.0 KiB"),
        "{message}"
    );
    let stored_after: i64 = sqlx::query_scalar("select count(*) from stored_files")
        .fetch_one(&mut owner)
        .await
        .unwrap();
    assert_eq!(stored_after, stored_before);
}

#[tokio::test]
async fn every_answer_carries_security_headers_and_downloads_are_inert() {
    let app = spawn_app().await;
    let admin = signed_in(&app, NORTHWIND_ADMIN).await;
    let page = app.get("/jobs", &admin).await;
    assert_eq!(page.status(), 200);
    let headers = page.headers().clone();
    for (name, value) in [
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "same-origin"),
        ("x-frame-options", "DENY"),
        ("cache-control", "no-store"),
    ] {
        assert_eq!(headers[name], value, "{name}");
    }
    let policy = headers["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(!policy.contains("unsafe-inline"), "{policy}");
    let nonce = policy
        .split("'nonce-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .expect("a script nonce")
        .to_string();
    let html = page.text().await.unwrap();
    assert!(
        html.contains(&format!("nonce=\"{nonce}\"")),
        "the page's scripts carry the header's nonce"
    );

    let (status, _) = call(&app, &admin, "list_jobs", &[]).await;
    assert_eq!(status, 200);
    let answer = app
        .client()
        .post(format!("{}/api/list_jobs", app.base))
        .header("cookie", &admin)
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.headers()["cache-control"], "no-store");
    assert!(answer.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .starts_with("default-src 'none'"));

    // an uploaded "document" that is really HTML comes back inert
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(b"<script>alert(1)</script>".to_vec())
            .file_name("page.html")
            .mime_str("text/html")
            .unwrap(),
    );
    let uploaded = app
        .client()
        .post(format!("{}/documents", app.base))
        .header("cookie", &admin)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(uploaded.status(), 201);
    let job_id = uploaded.text().await.unwrap();
    let (_, detail) = call(&app, &admin, "job_detail", &[("id", job_id.as_str())]).await;
    let file_id = detail["payload"]["file_id"].as_str().unwrap().to_string();
    let download = app.get(&format!("/files/{file_id}"), &admin).await;
    assert_eq!(
        download.headers()["content-type"],
        "application/octet-stream"
    );
    assert_eq!(download.headers()["content-security-policy"], "sandbox");
    assert_eq!(download.headers()["cache-control"], "no-store");
    assert_eq!(
        download.headers()["content-disposition"],
        "attachment; filename=\"page.html\"; filename*=UTF-8''page.html"
    );
}

#[tokio::test]
async fn a_job_whose_failure_is_open_is_not_deleted_and_deletions_are_recorded() {
    let app = spawn_app().await;
    let admin = signed_in(&app, NORTHWIND_ADMIN).await;
    let mut conn = app.test_db.owner_connection().await;
    let (failure, job): (Uuid, Uuid) = sqlx::query_as(
        "select f.id, f.job_id from failed_jobs f join organizations o on o.id = f.organization_id
         where o.slug = 'northwind-lending' and not f.is_resolved limit 1",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    let delete = || {
        let (app, admin, job) = (&app, admin.clone(), job.to_string());
        async move {
            call(
                app,
                &admin,
                "job_action",
                &[("id", &job), ("action", "delete")],
            )
            .await
        }
    };
    let (status, body) = delete().await;
    assert_eq!(
        (status, body["message"].as_str()),
        (
            422,
            Some("This job has an unresolved failure: resolve it before deleting the job.")
        )
    );
    let (status, _) = call(
        &app,
        &admin,
        "resolve_failed_jobs",
        &[
            ("ids[0]", failure.to_string().as_str()),
            ("resolution", "Handled by phone"),
        ],
    )
    .await;
    assert_eq!(status, 200);
    let (status, body) = delete().await;
    assert_eq!((status, body.as_str()), (200, Some("Job deleted.")));
    let deleted: serde_json::Value = sqlx::query_scalar(
        "select summary -> 'deleted' from audit_log where action = 'job.delete'",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(deleted[0]["id"], job.to_string());
    assert_eq!(deleted[0]["status"], "failed");
}

#[tokio::test]
async fn queues_are_created_by_bank_admins_and_organizations_see_the_ones_they_use() {
    let app = spawn_app().await;
    let admin = signed_in(&app, NORTHWIND_ADMIN).await;
    let bank = signed_in(&app, "bank.admin@veriphy.example").await;
    let mut form = job_form("{}", "Statement run");
    form.retain(|(name, _)| *name != "form[queue]");
    form.push(("form[queue]", "statements"));

    let (status, body) = call(&app, &admin, "create_job", &form).await;
    assert_eq!(
        (status, body["message"].as_str()),
        (
            422,
            Some(
                "There is no queue named statements. Bank admins create queues in the Queues view."
            )
        )
    );
    let create = [("name", "statements"), ("concurrency", "4")];
    assert_eq!(call(&app, &admin, "create_queue", &create).await.0, 403);
    let (status, body) = call(&app, &bank, "create_queue", &create).await;
    assert_eq!(
        (status, body.as_str()),
        (200, Some("Queue statements created."))
    );
    let (status, body) = call(&app, &bank, "create_queue", &create).await;
    assert_eq!(
        (status, body["message"].as_str()),
        (422, Some("A queue named statements already exists."))
    );

    let listed = |cookie: String| {
        let app = &app;
        async move {
            let (_, queues) = call(app, &cookie, "list_queues", &[]).await;
            queues
                .as_array()
                .unwrap()
                .iter()
                .map(|q| q["name"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        }
    };
    assert!(listed(bank.clone())
        .await
        .contains(&"statements".to_string()));
    assert!(
        !listed(admin.clone())
            .await
            .contains(&"statements".to_string()),
        "an organization sees only the queues it uses"
    );
    let (status, _) = call(&app, &admin, "create_job", &form).await;
    assert_eq!(status, 200);
    assert!(listed(admin.clone())
        .await
        .contains(&"statements".to_string()));
    let harbor = signed_in(&app, HARBOR_ADMIN).await;
    assert!(!listed(harbor).await.contains(&"statements".to_string()));
    let (_, names) = call(&app, &admin, "queue_names", &[]).await;
    assert!(names.as_array().unwrap().iter().any(|n| n == "statements"));
}

#[tokio::test]
async fn a_long_batch_name_makes_job_names_that_fit() {
    let app = spawn_app().await;
    let admin = signed_in(&app, NORTHWIND_ADMIN).await;
    let name = "B".repeat(250);
    let (status, body) = call(
        &app,
        &admin,
        "create_batch",
        &[
            ("form[batch_name]", name.as_str()),
            ("form[subject]", "Hello"),
            ("form[template]", "welcome"),
            ("form[recipients]", "email,name\nada@bank.example,Ada\n"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let mut conn = app.test_db.owner_connection().await;
    let job_name: String = sqlx::query_scalar("select job_name from jobs where batch_id = $1")
        .bind(Uuid::parse_str(body.as_str().unwrap()).unwrap())
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(job_name.chars().count(), 255);
    assert!(job_name.ends_with('…'), "{job_name}");
}

#[tokio::test]
async fn a_batch_is_refused_when_its_template_is_unknown_or_lacks_a_column() {
    let app = spawn_app().await;
    let admin = signed_in(&app, NORTHWIND_ADMIN).await;
    let batch = |template: &'static str| {
        vec![
            ("form[batch_name]", "Notices"),
            ("form[subject]", "Notice"),
            ("form[template]", template),
            ("form[recipients]", "email,name\nada@bank.example,Ada\n"),
        ]
    };

    let (unknown, unknown_body) =
        call(&app, &admin, "create_batch", &batch("statement_ready")).await;
    let (lacking, lacking_body) = call(&app, &admin, "create_batch", &batch("notification")).await;

    assert_eq!((unknown, lacking), (422, 422));
    assert_eq!(
        unknown_body["message"],
        "There is no email template named \"statement_ready\"; the built-in ones are welcome and notification."
    );
    assert_eq!(
        lacking_body["message"],
        "The template needs a value for \"message\". Add it as a column of the recipient list."
    );
}
