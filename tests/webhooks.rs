//! Webhooks end to end: made in the console's server functions, delivered
//! by a worker to receivers on loopback (allowlisted), each request's
//! signature checked here by a verifier of the test's own, the attempt on
//! record, and the webhook's state following the receivers' answers.

mod common;

use common::stand_ins::{stand_in, Received};
use common::webhooks::{create, run_until_idle, verifies};
use common::{call, signed_in, spawn_app};
use serde_json::Value;
use std::sync::{Arc, Mutex};

const NORTHWIND_ADMIN: &str = "admin@northwind.example";
const NORTHWIND_VIEWER: &str = "viewer@northwind.example";
const HARBOR_ADMIN: &str = "admin@harbor.example";

/// A webhook of `cookie`'s organization for `event` (with `extra` form
/// fields) posting to a new stand-in that answers (status line, extra
/// header lines); its id and what the stand-in receives.
async fn webhook_answering(
    app: &common::TestApp,
    cookie: &str,
    (status, headers): (&'static str, &'static str),
    event: &str,
    extra: &[(&str, &str)],
) -> (String, Arc<Mutex<Vec<Received>>>) {
    let (port, received) = stand_in(status, headers, "").await;
    let (saved_status, saved) = create(
        app,
        cookie,
        &format!("http://127.0.0.1:{port}/"),
        event,
        extra,
    )
    .await;
    assert_eq!(saved_status, 200, "{saved}");
    (saved["id"].as_str().unwrap().to_string(), received)
}

fn only(received: &Arc<Mutex<Vec<Received>>>) -> Received {
    let received = received.lock().unwrap();
    assert_eq!(received.len(), 1, "one request");
    received[0].clone()
}

#[tokio::test]
async fn a_test_event_is_delivered_signed_with_the_secret_shown_at_creation() {
    let app = spawn_app().await;
    let (port, received) = stand_in("200 OK", "", "{}").await;
    let admin = signed_in(&app, NORTHWIND_ADMIN).await;
    let (status, saved) = create(
        &app,
        &admin,
        &format!("http://127.0.0.1:{port}/hooks"),
        "case_created",
        &[("form[headers]", "X-Tenant: north")],
    )
    .await;
    assert_eq!(status, 200, "{saved}");
    let (id, secret) = (
        saved["id"].as_str().unwrap().to_string(),
        saved["secret"].as_str().unwrap().to_string(),
    );

    let (sent, message) = call(&app, &admin, "send_test_webhook", &[("id", &id)]).await;
    run_until_idle(&app).await;

    assert_eq!(sent, 200, "{message}");
    let request = only(&received);
    assert_eq!(request.request_line.trim(), "POST /hooks HTTP/1.1");
    assert_eq!(request.header("x-tenant"), Some("north"));
    assert_eq!(request.header("content-type"), Some("application/json"));
    let body: Value = serde_json::from_str(&request.body).unwrap();
    assert_eq!(body["type"], "webhook.test");
    let message_id = request.header("webhook-id").unwrap();
    assert_eq!(
        message_id,
        format!("msg_{}", body["id"].as_str().unwrap().replace('-', ""))
    );
    assert!(verifies(
        &secret,
        message_id,
        request.header("webhook-timestamp").unwrap(),
        &request.body,
        request.header("webhook-signature").unwrap()
    ));
    let (_, attempts) = call(&app, &admin, "webhook_deliveries", &[("id", &id)]).await;
    assert_eq!(attempts.as_array().unwrap().len(), 1);
    assert_eq!(attempts[0]["status"], "success");
    assert_eq!(attempts[0]["status_code"], 200);
    let (_, detail) = call(&app, &admin, "webhook_detail", &[("id", &id)]).await;
    assert_eq!(detail["failure_count"], 0);
    assert!(detail["last_success_at"].is_string());
    assert_eq!(detail["headers"]["X-Tenant"], "••••");
}

#[tokio::test]
async fn a_tampered_body_does_not_verify() {
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let header = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
    let id = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    assert!(verifies(
        secret,
        id,
        "1614265330",
        r#"{"test": 2432232314}"#,
        header
    ));
    assert!(!verifies(
        secret,
        id,
        "1614265330",
        r#"{"test": 2432232315}"#,
        header
    ));
}

#[tokio::test]
async fn after_a_rotation_both_secrets_sign_and_the_new_one_is_revealed() {
    let app = spawn_app().await;
    let (port, received) = stand_in("204 No Content", "", "").await;
    let admin = signed_in(&app, NORTHWIND_ADMIN).await;
    let (_, saved) = create(
        &app,
        &admin,
        &format!("http://127.0.0.1:{port}/"),
        "case_updated",
        &[],
    )
    .await;
    let id = saved["id"].as_str().unwrap().to_string();
    let old = saved["secret"].as_str().unwrap().to_string();

    let (_, new) = call(&app, &admin, "rotate_webhook_secret", &[("id", &id)]).await;
    let (_, revealed) = call(&app, &admin, "reveal_webhook_secret", &[("id", &id)]).await;
    call(&app, &admin, "send_test_webhook", &[("id", &id)]).await;
    run_until_idle(&app).await;

    let new = new.as_str().unwrap();
    assert_ne!(new, old);
    assert_eq!(revealed, new);
    let request = only(&received);
    let header = request.header("webhook-signature").unwrap();
    assert_eq!(header.split(' ').count(), 2, "{header}");
    let (id_header, at) = (
        request.header("webhook-id").unwrap(),
        request.header("webhook-timestamp").unwrap(),
    );
    let first = header.split(' ').next().unwrap();
    assert!(
        verifies(new, id_header, at, &request.body, first),
        "the new secret signs first"
    );
    assert!(
        verifies(&old, id_header, at, &request.body, header),
        "the old one still signs"
    );
    let mut owner = app.test_db.owner_connection().await;
    let audited: i64 = sqlx::query_scalar(
        "select count(*) from audit_log where target_id = $1 and action = 'webhook.reveal_secret'",
    )
    .bind(&id)
    .fetch_one(&mut owner)
    .await
    .unwrap();
    assert_eq!(audited, 1);
}

#[tokio::test]
async fn a_receiver_answering_410_gone_switches_the_webhook_off() {
    let app = spawn_app().await;
    let admin = signed_in(&app, NORTHWIND_ADMIN).await;
    let (id, _) = webhook_answering(&app, &admin, ("410 Gone", ""), "case_created", &[]).await;

    call(&app, &admin, "send_test_webhook", &[("id", &id)]).await;
    run_until_idle(&app).await;

    let (_, detail) = call(&app, &admin, "webhook_detail", &[("id", &id)]).await;
    assert_eq!(
        (detail["status"].as_str(), detail["is_active"].as_bool()),
        (Some("inactive"), Some(false))
    );
    let (status, body) = call(&app, &admin, "send_test_webhook", &[("id", &id)]).await;
    assert_eq!(status, 422);
    assert_eq!(
        body["message"],
        "The webhook is switched off or in error: switch it on first."
    );
}

#[tokio::test]
async fn failed_deliveries_in_a_row_put_the_webhook_in_error_until_it_is_switched_on() {
    let app = spawn_app().await;
    let admin = signed_in(&app, NORTHWIND_ADMIN).await;
    let (id, received) = webhook_answering(
        &app,
        &admin,
        ("500 Internal Server Error", ""),
        "case_created",
        &[
            ("form[max_retries]", "0"),
            ("form[disable_after_failures]", "2"),
        ],
    )
    .await;

    call(&app, &admin, "send_test_webhook", &[("id", &id)]).await;
    run_until_idle(&app).await;
    let (_, after_one) = call(&app, &admin, "webhook_detail", &[("id", &id)]).await;
    call(&app, &admin, "send_test_webhook", &[("id", &id)]).await;
    run_until_idle(&app).await;
    let (_, after_two) = call(&app, &admin, "webhook_detail", &[("id", &id)]).await;
    call(
        &app,
        &admin,
        "set_webhook_enabled",
        &[("id", &id), ("enabled", "true")],
    )
    .await;
    let (_, switched_on) = call(&app, &admin, "webhook_detail", &[("id", &id)]).await;

    assert_eq!(
        (
            after_one["status"].as_str(),
            after_one["failure_count"].as_i64()
        ),
        (Some("active"), Some(1))
    );
    assert_eq!(
        (
            after_two["status"].as_str(),
            after_two["failure_count"].as_i64()
        ),
        (Some("error"), Some(2))
    );
    assert_eq!(
        (
            switched_on["status"].as_str(),
            switched_on["failure_count"].as_i64()
        ),
        (Some("active"), Some(0))
    );
    assert_eq!(
        received.lock().unwrap().len(),
        2,
        "no retry with max_retries 0"
    );
}

#[tokio::test]
async fn a_url_inside_the_bank_s_network_is_refused_at_save() {
    let app = spawn_app().await;
    let admin = signed_in(&app, NORTHWIND_ADMIN).await;
    for (url, message) in [
        (
            "https://169.254.169.254/latest/meta-data",
            "169.254.169.254 is an internal address; only public hosts can be called.",
        ),
        (
            "https://10.0.0.7/hook",
            "10.0.0.7 is an internal address; only public hosts can be called.",
        ),
        (
            "https://[::ffff:127.0.0.2]/hook",
            "[::ffff:7f00:2] is an internal address; only public hosts can be called.",
        ),
        (
            "http://hooks.example.com/",
            "Only https addresses can be called (plain http only to allowlisted hosts).",
        ),
        // the same private address written as one decimal, hex or octal number
        (
            "https://167772167/hook",
            "10.0.0.7 is an internal address; only public hosts can be called.",
        ),
        (
            "https://0x0a000007/hook",
            "10.0.0.7 is an internal address; only public hosts can be called.",
        ),
        (
            "https://012.0.0.7/hook",
            "10.0.0.7 is an internal address; only public hosts can be called.",
        ),
        (
            "https://[fd00::1]/hook",
            "[fd00::1] is an internal address; only public hosts can be called.",
        ),
        (
            "https://224.0.0.1/hook",
            "224.0.0.1 is an internal address; only public hosts can be called.",
        ),
    ] {
        let (status, body) = create(&app, &admin, url, "case_created", &[]).await;
        assert_eq!(status, 422, "{url}: {body}");
        assert_eq!(body["message"], message, "{url}");
    }
}

#[tokio::test]
async fn a_reserved_header_is_refused_at_save() {
    let app = spawn_app().await;
    let admin = signed_in(&app, NORTHWIND_ADMIN).await;

    let (status, body) = create(
        &app,
        &admin,
        "https://hooks.example.com/",
        "case_created",
        &[("form[headers]", "Webhook-Signature: v1,forged")],
    )
    .await;

    assert_eq!(status, 422);
    assert_eq!(
        body["message"],
        "Webhook-Signature is set by Veriphy Jobs itself and cannot be a custom header."
    );
}

#[tokio::test]
async fn a_viewer_reads_a_webhook_but_changes_nothing_and_sees_no_secret() {
    let app = spawn_app().await;
    let (port, _) = stand_in("200 OK", "", "{}").await;
    let admin = signed_in(&app, NORTHWIND_ADMIN).await;
    let (_, saved) = create(
        &app,
        &admin,
        &format!("http://127.0.0.1:{port}/"),
        "case_created",
        &[("form[headers]", "Authorization: Bearer sekret-token-1")],
    )
    .await;
    let id = saved["id"].as_str().unwrap().to_string();
    let viewer = signed_in(&app, NORTHWIND_VIEWER).await;

    let (read, detail) = call(&app, &viewer, "webhook_detail", &[("id", &id)]).await;
    let (revealed, _) = call(&app, &viewer, "reveal_webhook_secret", &[("id", &id)]).await;
    let (tested, _) = call(&app, &viewer, "send_test_webhook", &[("id", &id)]).await;
    let (rotated, _) = call(&app, &viewer, "rotate_webhook_secret", &[("id", &id)]).await;
    let (replayed, _) = call(
        &app,
        &viewer,
        "replay_failed_deliveries",
        &[("id", id.as_str()), ("period", "24h")],
    )
    .await;

    assert_eq!(read, 200);
    let text = detail.to_string();
    assert!(!text.contains("sekret-token-1"), "{text}");
    assert!(!text.contains(saved["secret"].as_str().unwrap()), "{text}");
    assert_eq!((revealed, tested, rotated, replayed), (403, 403, 403, 403));
}

#[tokio::test]
async fn another_organization_s_webhook_is_not_found_for_any_action() {
    let app = spawn_app().await;
    let harbor = signed_in(&app, HARBOR_ADMIN).await;
    let (id, received) =
        webhook_answering(&app, &harbor, ("200 OK", ""), "case_created", &[]).await;
    let northwind = signed_in(&app, NORTHWIND_ADMIN).await;

    let mut statuses = Vec::new();
    for function in [
        "webhook_detail",
        "reveal_webhook_secret",
        "send_test_webhook",
        "rotate_webhook_secret",
        "delete_webhook",
        "webhook_deliveries",
    ] {
        statuses.push(call(&app, &northwind, function, &[("id", &id)]).await.0);
    }
    run_until_idle(&app).await;

    assert_eq!(statuses, vec![404; 6]);
    assert_eq!(received.lock().unwrap().len(), 0);
}

#[tokio::test]
async fn resolving_a_failure_raises_failed_job_resolved_for_the_organization_s_webhook() {
    let app = spawn_app().await;
    let (port, received) = stand_in("200 OK", "", "{}").await;
    let admin = signed_in(&app, HARBOR_ADMIN).await;
    create(
        &app,
        &admin,
        &format!("http://127.0.0.1:{port}/"),
        "failed_job.resolved",
        &[],
    )
    .await;
    let (_, open) = call(
        &app,
        &admin,
        "list_failed_jobs",
        &[("query[status]", "open")],
    )
    .await;
    let failure = open["items"][0]["id"].as_str().unwrap().to_string();

    let (status, answer) = call(
        &app,
        &admin,
        "resolve_failed_jobs",
        &[
            ("ids[0]", failure.as_str()),
            ("resolution", "Customer called back"),
        ],
    )
    .await;
    run_until_idle(&app).await;

    assert_eq!(status, 200, "{answer}");
    let request = only(&received);
    let body: Value = serde_json::from_str(&request.body).unwrap();
    assert_eq!(body["type"], "failed_job.resolved");
    assert_eq!(body["data"]["resolution"], "Customer called back");
}

#[tokio::test]
async fn a_redirect_is_a_failed_attempt_and_is_not_followed() {
    let app = spawn_app().await;
    let (elsewhere, followed) = stand_in("200 OK", "", "{}").await;
    let location: &'static str =
        Box::leak(format!("location: http://127.0.0.1:{elsewhere}/\r\n").into_boxed_str());
    let admin = signed_in(&app, NORTHWIND_ADMIN).await;
    let (id, _) = webhook_answering(
        &app,
        &admin,
        ("302 Found", location),
        "case_created",
        &[("form[max_retries]", "0")],
    )
    .await;

    call(&app, &admin, "send_test_webhook", &[("id", &id)]).await;
    run_until_idle(&app).await;

    let (_, attempts) = call(&app, &admin, "webhook_deliveries", &[("id", &id)]).await;
    assert_eq!(attempts[0]["status"], "failed");
    assert_eq!(attempts[0]["status_code"], 302);
    assert_eq!(
        followed.lock().unwrap().len(),
        0,
        "the redirect was not followed"
    );
    let (_, detail) = call(&app, &admin, "webhook_detail", &[("id", &id)]).await;
    assert_eq!(detail["failure_count"], 1);
}

#[tokio::test]
async fn a_busy_receiver_s_retry_after_postpones_the_delivery_without_spending_an_attempt() {
    a_busy_answer_postpones_the_delivery("503 Service Unavailable").await;
}

#[tokio::test]
async fn a_rate_limited_receiver_s_retry_after_postpones_the_delivery_too() {
    a_busy_answer_postpones_the_delivery("429 Too Many Requests").await;
}

/// A receiver answering `status` with `Retry-After: 120`: its delivery waits
/// as asked, without an attempt spent or a failure counted.
async fn a_busy_answer_postpones_the_delivery(status: &'static str) {
    let app = spawn_app().await;
    let admin = signed_in(&app, NORTHWIND_ADMIN).await;
    let (id, received) = webhook_answering(
        &app,
        &admin,
        (status, "retry-after: 120\r\n"),
        "case_created",
        &[],
    )
    .await;

    call(&app, &admin, "send_test_webhook", &[("id", &id)]).await;
    run_until_idle(&app).await;

    assert_eq!(received.lock().unwrap().len(), 1);
    let mut owner = app.test_db.owner_connection().await;
    let (status, attempts, wait): (String, i32, f64) = sqlx::query_as(
        "select status, attempts, extract(epoch from available_at - now())::float8
         from jobs where job_type = 'webhook' and payload ->> 'webhook_id' = $1",
    )
    .bind(&id)
    .fetch_one(&mut owner)
    .await
    .unwrap();
    assert_eq!((status.as_str(), attempts), ("pending", 0));
    assert!((100.0..=121.0).contains(&wait), "waits as asked: {wait}");
    let (_, detail) = call(&app, &admin, "webhook_detail", &[("id", &id)]).await;
    assert_eq!(
        detail["failure_count"], 0,
        "a postponed delivery has not failed"
    );
}

#[tokio::test]
async fn a_delivery_sent_again_carries_the_same_webhook_id() {
    let app = spawn_app().await;
    let admin = signed_in(&app, NORTHWIND_ADMIN).await;
    let (id, received) = webhook_answering(&app, &admin, ("200 OK", ""), "case_created", &[]).await;
    call(&app, &admin, "send_test_webhook", &[("id", &id)]).await;
    run_until_idle(&app).await;
    let (_, attempts) = call(&app, &admin, "webhook_deliveries", &[("id", &id)]).await;
    let event = attempts[0]["metadata"]["event_id"]
        .as_str()
        .unwrap()
        .to_string();

    let (status, answer) = call(
        &app,
        &admin,
        "resend_webhook_delivery",
        &[("id", id.as_str()), ("event_id", event.as_str())],
    )
    .await;
    run_until_idle(&app).await;

    assert_eq!(status, 200, "{answer}");
    {
        let received = received.lock().unwrap();
        assert_eq!(received.len(), 2);
        assert_eq!(
            received[0].header("webhook-id"),
            received[1].header("webhook-id")
        );
    }
    let (unknown, _) = call(
        &app,
        &admin,
        "resend_webhook_delivery",
        &[
            ("id", id.as_str()),
            ("event_id", "00000000-0000-0000-0000-000000000000"),
        ],
    )
    .await;
    assert_eq!(unknown, 404);
}

/// A webhook of Northwind's admin to a stand-in answering 500, never
/// retried, with `failed` test deliveries made and failed; its id.
async fn failing_webhook(
    app: &common::TestApp,
    admin: &str,
    failed: usize,
) -> (String, Arc<Mutex<Vec<Received>>>) {
    let (id, received) = webhook_answering(
        app,
        admin,
        ("500 Internal Server Error", ""),
        "case_created",
        &[
            ("form[max_retries]", "0"),
            ("form[disable_after_failures]", "100"),
        ],
    )
    .await;
    for _ in 0..failed {
        call(app, admin, "send_test_webhook", &[("id", &id)]).await;
    }
    run_until_idle(app).await;
    (id, received)
}

#[tokio::test]
async fn a_replay_sends_each_failed_delivery_of_the_period_again_once_with_its_webhook_id() {
    let app = spawn_app().await;
    let admin = signed_in(&app, NORTHWIND_ADMIN).await;
    let (id, received) = failing_webhook(&app, &admin, 2).await;
    let period = [("id", id.as_str()), ("period", "24h")];

    let (_, before) = call(&app, &admin, "failed_deliveries_to_replay", &period).await;
    let (status, message) = call(&app, &admin, "replay_failed_deliveries", &period).await;
    let (_, after) = call(&app, &admin, "failed_deliveries_to_replay", &period).await;
    run_until_idle(&app).await;

    assert_eq!(before, 2);
    assert_eq!(status, 200, "{message}");
    assert_eq!(
        message,
        "Replaying 2 failed deliveries: they appear above as they are made."
    );
    assert_eq!(after, 0, "on their way again: not counted twice");
    let received = received.lock().unwrap();
    assert_eq!(received.len(), 4);
    let ids = |requests: &[Received]| {
        let mut ids: Vec<String> = requests
            .iter()
            .map(|r| r.header("webhook-id").unwrap().to_string())
            .collect();
        ids.sort();
        ids
    };
    assert_eq!(ids(&received[..2]), ids(&received[2..]));
}

/// What Northwind's admin is answered calling `function` for a webhook
/// with no failed delivery, over `period`: (status, message).
async fn replay_answer(function: &str, period: &str) -> (u16, Value) {
    let app = spawn_app().await;
    let admin = signed_in(&app, NORTHWIND_ADMIN).await;
    let (id, _) = failing_webhook(&app, &admin, 0).await;
    let (status, answer) = call(
        &app,
        &admin,
        function,
        &[("id", id.as_str()), ("period", period)],
    )
    .await;
    (status, answer["message"].clone())
}

#[tokio::test]
async fn a_replay_with_nothing_failed_in_the_period_is_refused_with_the_reason() {
    let answer = replay_answer("replay_failed_deliveries", "1h").await;

    assert_eq!(
        answer,
        (422, "No failed delivery to replay in the last hour.".into())
    );
}

#[tokio::test]
async fn a_replay_period_outside_the_choices_is_refused() {
    let answer = replay_answer("failed_deliveries_to_replay", "2d").await;

    assert_eq!(answer, (422, "Choose a period: 1h, 24h, 7d or 30d.".into()));
}

#[tokio::test]
async fn monitoring_narrowed_to_a_webhook_counts_its_attempts_only() {
    let app = spawn_app().await;
    let admin = signed_in(&app, NORTHWIND_ADMIN).await;
    let (failing, _) = failing_webhook(&app, &admin, 3).await;
    let (port, _) = stand_in("200 OK", "", "{}").await;
    let (_, other) = create(
        &app,
        &admin,
        &format!("http://127.0.0.1:{port}/"),
        "case_updated",
        &[],
    )
    .await;
    call(
        &app,
        &admin,
        "send_test_webhook",
        &[("id", other["id"].as_str().unwrap())],
    )
    .await;
    run_until_idle(&app).await;

    let (status, figures) = call(
        &app,
        &admin,
        "api_monitoring",
        &[("scope[webhook_id]", failing.as_str()), ("period", "Day")],
    )
    .await;

    assert_eq!(status, 200, "{figures}");
    assert_eq!(figures["webhook_name"], "Case system");
    assert_eq!(figures["totals"]["failed"], 3);
    assert_eq!(figures["totals"]["succeeded"], 0);
    assert_eq!(figures["top_codes"][0]["value"], 500);
}

#[tokio::test]
async fn a_webhook_switched_off_stops_its_queued_deliveries() {
    let app = spawn_app().await;
    let admin = signed_in(&app, NORTHWIND_ADMIN).await;
    let (id, received) = webhook_answering(&app, &admin, ("200 OK", ""), "case_created", &[]).await;
    // delivered once by a worker that read the webhook as switched on
    call(&app, &admin, "send_test_webhook", &[("id", &id)]).await;
    run_until_idle(&app).await;
    call(&app, &admin, "send_test_webhook", &[("id", &id)]).await;

    let (switched, _) = call(
        &app,
        &admin,
        "set_webhook_enabled",
        &[("id", id.as_str()), ("enabled", "false")],
    )
    .await;
    run_until_idle(&app).await;

    assert_eq!(switched, 200);
    assert_eq!(
        received.lock().unwrap().len(),
        1,
        "the queued one was not sent"
    );
    let mut owner = app.test_db.owner_connection().await;
    let refused: String = sqlx::query_scalar(
        "select error_message from jobs
         where job_type = 'webhook' and status = 'failed' and payload ->> 'webhook_id' = $1",
    )
    .bind(&id)
    .fetch_one(&mut owner)
    .await
    .unwrap();
    assert_eq!(
        refused,
        "Webhook \"Case system\" is switched off or in error; switch it on to deliver again."
    );
}

#[tokio::test]
async fn a_rotation_signs_the_very_next_delivery_with_both_secrets() {
    let app = spawn_app().await;
    let admin = signed_in(&app, NORTHWIND_ADMIN).await;
    let (id, received) =
        webhook_answering(&app, &admin, ("204 No Content", ""), "case_updated", &[]).await;
    call(&app, &admin, "send_test_webhook", &[("id", &id)]).await;
    run_until_idle(&app).await;

    call(&app, &admin, "rotate_webhook_secret", &[("id", &id)]).await;
    call(&app, &admin, "send_test_webhook", &[("id", &id)]).await;
    run_until_idle(&app).await;

    let received = received.lock().unwrap();
    assert_eq!(received.len(), 2);
    let signatures = received[1].header("webhook-signature").unwrap();
    assert_eq!(signatures.split(' ').count(), 2, "{signatures}");
}

#[tokio::test]
async fn a_webhook_a_failed_delivery_stops_is_announced_to_live_viewers() {
    let app = spawn_app().await;
    let admin = signed_in(&app, NORTHWIND_ADMIN).await;
    let (id, _) = webhook_answering(
        &app,
        &admin,
        ("500 Internal Server Error", ""),
        "case_created",
        &[
            ("form[max_retries]", "0"),
            ("form[disable_after_failures]", "1"),
        ],
    )
    .await;
    call(&app, &admin, "send_test_webhook", &[("id", &id)]).await;
    let mut listener = sqlx::postgres::PgListener::connect_with(&app.test_db.db.worker)
        .await
        .unwrap();
    listener.listen("veriphy_live").await.unwrap();

    run_until_idle(&app).await;

    let organization = app.test_db.organization_id("northwind-lending").await;
    let expected = format!("{organization} webhooks {id}");
    let heard = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        loop {
            let notification = listener.recv().await.unwrap();
            if notification.payload().lines().any(|line| line == expected) {
                return;
            }
        }
    })
    .await;
    let (_, detail) = call(&app, &admin, "webhook_detail", &[("id", &id)]).await;
    assert!(heard.is_ok(), "no announcement of the webhook");
    assert_eq!(detail["status"], "error");
}

#[tokio::test]
async fn a_success_on_a_webhook_never_triggered_before_is_recorded() {
    let app = spawn_app().await;
    let admin = signed_in(&app, NORTHWIND_ADMIN).await;
    let (id, received) = webhook_answering(&app, &admin, ("200 OK", ""), "case_created", &[]).await;
    // a success on record but no trigger time (as rows made before the
    // times were kept together can be)
    let mut owner = app.test_db.owner_connection().await;
    sqlx::query(
        "update webhooks set last_success_at = now(), last_triggered_at = null, retry_count = 1
         where id = $1::uuid",
    )
    .bind(&id)
    .execute(&mut owner)
    .await
    .unwrap();

    call(&app, &admin, "send_test_webhook", &[("id", &id)]).await;
    run_until_idle(&app).await;

    let (_, detail) = call(&app, &admin, "webhook_detail", &[("id", &id)]).await;
    assert_eq!(received.lock().unwrap().len(), 1);
    assert!(detail["last_triggered_at"].is_string(), "{detail}");
}

/// Northwind's admin makes a webhook to `url` (with `extra` form fields)
/// and sends it a test event, which a worker delivers; the admin's cookie,
/// the webhook's id and its delivery attempt.
async fn tested_webhook(
    app: &common::TestApp,
    url: &str,
    extra: &[(&str, &str)],
) -> (String, String, Value) {
    let admin = signed_in(app, NORTHWIND_ADMIN).await;
    let (status, saved) = create(app, &admin, url, "case_created", extra).await;
    assert_eq!(status, 200, "{saved}");
    let id = saved["id"].as_str().unwrap().to_string();
    let (sent, message) = call(app, &admin, "send_test_webhook", &[("id", &id)]).await;
    assert_eq!(sent, 200, "{message}");
    run_until_idle(app).await;
    let (_, attempts) = call(app, &admin, "webhook_deliveries", &[("id", &id)]).await;
    assert_eq!(attempts.as_array().map(Vec::len), Some(1), "{attempts}");
    (admin, id, attempts[0].clone())
}

#[tokio::test]
async fn a_sandbox_webhook_needs_no_receiver_and_its_signed_deliveries_are_received() {
    let app = spawn_app().await;

    let (_, _, attempt) =
        tested_webhook(&app, "https://webhook-sandbox.invalid/case-system", &[]).await;

    assert_eq!(
        (attempt["status"].as_str(), attempt["status_code"].as_i64()),
        (Some("success"), Some(200))
    );
    let message_id = attempt["request_payload"]["headers"]["webhook-id"]
        .as_str()
        .unwrap();
    assert_eq!(
        attempt["response_payload"]["body"]["received"].as_str(),
        Some(message_id),
        "the sandbox checked the signature and answered with the message's id"
    );
}

#[tokio::test]
async fn a_sandbox_receiver_fails_the_deliveries_its_url_asks_it_to() {
    let app = spawn_app().await;

    let (admin, id, attempt) = tested_webhook(
        &app,
        "https://webhook-sandbox.invalid/flaky?fail=100",
        &[("form[max_retries]", "0")],
    )
    .await;

    assert_eq!(
        (attempt["status"].as_str(), attempt["status_code"].as_i64()),
        (Some("failed"), Some(500))
    );
    assert_eq!(
        attempt["response_payload"]["body"]["error"].as_str(),
        Some("The sandbox receiver failed this delivery, as its URL asks (fail=100).")
    );
    let (_, detail) = call(&app, &admin, "webhook_detail", &[("id", &id)]).await;
    assert_eq!(detail["failure_count"], 1);
}

#[tokio::test]
async fn a_sandbox_failure_share_over_100_is_refused_at_save() {
    let app = spawn_app().await;
    let admin = signed_in(&app, NORTHWIND_ADMIN).await;
    let (status, answer) = create(
        &app,
        &admin,
        "https://webhook-sandbox.invalid/?fail=150",
        "case_created",
        &[],
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(
        answer["message"],
        "The sandbox receiver's fail= is a whole number from 0 to 100."
    );
}

#[tokio::test]
async fn a_receiver_silent_past_the_webhook_s_timeout_fails_the_attempt() {
    let app = spawn_app().await;
    let port = common::stand_ins::silent().await;

    let (admin, id, attempt) = tested_webhook(
        &app,
        &format!("http://127.0.0.1:{port}/"),
        &[("form[timeout]", "1"), ("form[max_retries]", "0")],
    )
    .await;

    assert_eq!(
        (
            attempt["status"].as_str(),
            attempt["status_code"].as_i64(),
            attempt["error_message"].as_str()
        ),
        (Some("timeout"), None, Some("No answer within 1s."))
    );
    assert!(attempt["response_time"].as_i64().unwrap() >= 1000);
    let (_, detail) = call(&app, &admin, "webhook_detail", &[("id", &id)]).await;
    assert_eq!(detail["failure_count"], 1, "the delivery failed");
}
