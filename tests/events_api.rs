//! The events API over HTTP: a key made in the console publishes for its
//! organization only; repeats with the same Idempotency-Key answer as the
//! first and deliver nothing twice; every refusal says which, in JSON.

mod common;

use common::{call, signed_in, spawn_app, TestApp};
use serde_json::{json, Value};

const NORTHWIND_ADMIN: &str = "admin@northwind.example";
const NORTHWIND_VIEWER: &str = "viewer@northwind.example";
const HARBOR_ADMIN: &str = "admin@harbor.example";

/// `admin` makes a key; the key.
async fn key_of(app: &TestApp, admin: &str) -> String {
    let cookie = signed_in(app, admin).await;
    let (status, key) = call(app, &cookie, "create_api_key", &[("name", "Case system")]).await;
    assert_eq!(status, 200, "{key}");
    key.as_str().unwrap().to_string()
}

/// POSTs `body` to the events API; (status, JSON answer).
async fn publish(
    app: &TestApp,
    key: Option<&str>,
    idempotency: Option<&str>,
    body: &str,
) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .post(format!("{}/api/v1/events", app.base))
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(key) = key {
        request = request.header("authorization", format!("Bearer {key}"));
    }
    if let Some(idempotency) = idempotency {
        request = request.header("idempotency-key", idempotency);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The deliveries to `organization`'s webhooks of the events these tests
/// publish (Idempotency-Key `evt-…`; the demo publishes its own).
async fn deliveries(app: &TestApp, slug: &str) -> i64 {
    let organization = app.test_db.organization_id(slug).await;
    let mut owner = app.test_db.owner_connection().await;
    sqlx::query_scalar(
        "select count(*) from jobs j
         join webhook_events e on e.id = (j.payload ->> 'event_id')::uuid
         where j.job_type = 'webhook' and j.organization_id = $1
           and e.idempotency_key like 'evt-%'",
    )
    .bind(organization)
    .fetch_one(&mut owner)
    .await
    .unwrap()
}

/// `organization`'s active webhooks subscribed to case_created (the demo
/// has one of its own).
async fn subscribed(app: &TestApp, slug: &str) -> i64 {
    let organization = app.test_db.organization_id(slug).await;
    let mut owner = app.test_db.owner_connection().await;
    sqlx::query_scalar(
        "select count(*) from webhooks where organization_id = $1 and event_type = 'case_created'
           and is_active and status = 'active'",
    )
    .bind(organization)
    .fetch_one(&mut owner)
    .await
    .unwrap()
}

/// `admin`'s organization subscribes a webhook to case_created.
async fn subscribe(app: &TestApp, admin: &str) {
    let cookie = signed_in(app, admin).await;
    let (status, body) = call(
        app,
        &cookie,
        "save_webhook",
        &[
            ("form[name]", "Case intake"),
            ("form[url]", "https://hooks.example.com/veriphy"),
            ("form[event_type]", "case_created"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

const CASE: &str = r#"{"type": "case_created", "data": {"case_id": "CASE-1", "status": "open"}}"#;

#[tokio::test]
async fn an_event_reaches_the_organization_s_subscribed_webhooks_only() {
    let app = spawn_app().await;
    subscribe(&app, NORTHWIND_ADMIN).await;
    subscribe(&app, HARBOR_ADMIN).await;
    let key = key_of(&app, NORTHWIND_ADMIN).await;

    let (status, answer) = publish(&app, Some(&key), Some("evt-1"), CASE).await;

    assert_eq!(status, 202, "{answer}");
    assert!(answer["id"].is_string());
    assert_eq!(
        deliveries(&app, "northwind-lending").await,
        subscribed(&app, "northwind-lending").await
    );
    assert!(subscribed(&app, "harbor-credit").await > 0);
    assert_eq!(deliveries(&app, "harbor-credit").await, 0);
}

#[tokio::test]
async fn a_repeat_with_the_same_key_and_body_answers_as_the_first_and_delivers_once() {
    let app = spawn_app().await;
    subscribe(&app, NORTHWIND_ADMIN).await;
    let key = key_of(&app, NORTHWIND_ADMIN).await;

    let first = publish(&app, Some(&key), Some("evt-2"), CASE).await;
    let again = publish(&app, Some(&key), Some("evt-2"), CASE).await;

    assert_eq!(first.0, 202);
    assert_eq!(again, first);
    assert_eq!(
        deliveries(&app, "northwind-lending").await,
        subscribed(&app, "northwind-lending").await,
        "one per webhook, once"
    );
}

#[tokio::test]
async fn the_same_idempotency_key_with_another_body_is_a_conflict() {
    let app = spawn_app().await;
    let key = key_of(&app, NORTHWIND_ADMIN).await;
    publish(&app, Some(&key), Some("evt-3"), CASE).await;

    let (status, answer) = publish(
        &app,
        Some(&key),
        Some("evt-3"),
        r#"{"type": "case_created", "data": {"case_id": "CASE-2"}}"#,
    )
    .await;

    assert_eq!(status, 409);
    assert_eq!(
        answer,
        json!({"error": "idempotency_key_reused", "message": "This Idempotency-Key was used with another body."})
    );
}

#[tokio::test]
async fn a_missing_unknown_or_revoked_key_is_refused_with_401() {
    let app = spawn_app().await;
    let key = key_of(&app, NORTHWIND_ADMIN).await;
    let cookie = signed_in(&app, NORTHWIND_ADMIN).await;
    let (_, page) = call(&app, &cookie, "list_api_keys", &[]).await;
    let id = page["items"][0]["id"].as_str().unwrap().to_string();
    let (revoked, _) = call(&app, &cookie, "revoke_api_key", &[("id", &id)]).await;

    let missing = publish(&app, None, Some("evt-4"), CASE).await;
    let unknown = publish(&app, Some("vjk_not-a-key"), Some("evt-4"), CASE).await;
    let after_revoke = publish(&app, Some(&key), Some("evt-4"), CASE).await;

    assert_eq!(revoked, 200);
    assert_eq!(missing.0, 401);
    assert_eq!(
        missing.1["message"],
        "Send your organization's API key as `Authorization: Bearer vjk_…`."
    );
    assert_eq!(
        unknown,
        (
            401,
            json!({"error": "unauthorized", "message": "Unknown or revoked API key."})
        )
    );
    assert_eq!(after_revoke, unknown);
}

#[tokio::test]
async fn bad_bodies_are_refused_with_422_saying_why() {
    let app = spawn_app().await;
    let key = key_of(&app, NORTHWIND_ADMIN).await;
    for (body, message) in [
        (
            "not json",
            "The body is not JSON: send {\"type\": \"case_created\", \"data\": {…}}.",
        ),
        (
            r#"{"data": {}}"#,
            "The event needs a \"type\", such as \"case_created\".",
        ),
        (
            r#"{"type": "case_exploded", "data": {}}"#,
            "Unknown event type \"case_exploded\": see the event catalogue.",
        ),
        (
            r#"{"type": "job.failed", "data": {}}"#,
            "job.failed is raised by Veriphy Jobs itself; publish case and document events.",
        ),
    ] {
        let (status, answer) = publish(&app, Some(&key), Some("evt-5"), body).await;
        assert_eq!(status, 422, "{body}");
        assert_eq!(answer["message"], message, "{body}");
    }
    let (status, answer) = publish(&app, Some(&key), None, CASE).await;
    assert_eq!(status, 422);
    assert_eq!(answer["error"], "invalid_request");
}

#[tokio::test]
async fn a_viewer_cannot_make_a_key_and_nobody_sees_a_key_again() {
    let app = spawn_app().await;
    let key = key_of(&app, NORTHWIND_ADMIN).await;
    let viewer = signed_in(&app, NORTHWIND_VIEWER).await;

    let (status, _) = call(&app, &viewer, "create_api_key", &[("name", "Mine")]).await;
    let (_, listed) = call(&app, &viewer, "list_api_keys", &[]).await;

    assert_eq!(status, 403);
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    assert!(!listed.to_string().contains(&key));
    assert_eq!(listed["items"][0]["prefix"], key[..12]);
}
