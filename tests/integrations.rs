//! The integrations server functions over real HTTP: who may change them,
//! what a save refuses, that secrets go in sealed and come back masked,
//! tenant isolation, deletion rules and "test connection".

mod common;

use common::{call, signed_in, spawn_app, TestApp};
use serde_json::Value;
use uuid::Uuid;

const NORTHWIND_ADMIN: &str = "admin@northwind.example";
const NORTHWIND_VIEWER: &str = "viewer@northwind.example";
const HARBOR_ADMIN: &str = "admin@harbor.example";
const TOKEN: &str = "sk_live_secret_value_9931";

/// Saves an SMS integration of the caller's organization against `base_url`.
async fn save_sms(app: &TestApp, cookie: &str, base_url: &str) -> (u16, Value) {
    call(
        app,
        cookie,
        "save_integration",
        &[
            ("form[name]", "Gateway"),
            ("form[channel]", "sms"),
            ("form[kind]", "sms_http"),
            ("form[base_url]", base_url),
            ("form[username]", "AC9"),
            ("form[secret]", TOKEN),
            ("form[sender]", "+15550001111"),
            ("form[is_active]", "on"),
        ],
    )
    .await
}

fn id_of(body: &Value) -> Uuid {
    Uuid::parse_str(body.as_str().expect("an id")).unwrap()
}

#[tokio::test]
async fn an_org_admin_saves_an_integration_whose_secret_is_stored_sealed_and_shown_masked() {
    let app = spawn_app().await;
    let cookie = signed_in(&app, NORTHWIND_ADMIN).await;

    let (status, body) = save_sms(&app, &cookie, "http://127.0.0.1:9/api").await;

    assert_eq!(status, 200, "{body}");
    let id = id_of(&body);
    let (status, detail) = call(
        &app,
        &cookie,
        "integration_detail",
        &[("id", &id.to_string())],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(detail["secret_hint"], "••••9931");
    assert!(!detail.to_string().contains(TOKEN));
    let mut owner = app.test_db.owner_connection().await;
    let (sealed, key_id, audit): (Vec<u8>, String, String) = sqlx::query_as(
        "select i.credentials_encrypted, i.credentials_key_id,
                (select string_agg(summary::text, ' ') from audit_log where target_id = i.id::text)
         from system_integrations i where i.id = $1",
    )
    .bind(id)
    .fetch_one(&mut owner)
    .await
    .unwrap();
    assert!(!String::from_utf8_lossy(&sealed).contains(TOKEN));
    assert_eq!(key_id.len(), 16);
    assert!(
        audit.contains("\"secret_changed\": true") && !audit.contains(TOKEN),
        "{audit}"
    );
}

#[tokio::test]
async fn a_viewer_cannot_save_an_integration() {
    let app = spawn_app().await;
    let cookie = signed_in(&app, NORTHWIND_VIEWER).await;

    let (status, body) = save_sms(&app, &cookie, "https://sms.provider.example").await;

    assert_eq!(status, 403, "{body}");
    assert!(body.to_string().contains("Forbidden"), "{body}");
}

#[tokio::test]
async fn a_destination_inside_the_bank_is_refused_at_save() {
    let app = spawn_app().await;
    let cookie = signed_in(&app, NORTHWIND_ADMIN).await;

    for (url, expected) in [
        (
            "https://169.254.169.254/latest",
            "169.254.169.254 is an internal address; only public hosts can be called.",
        ),
        (
            "https://10.0.0.7",
            "10.0.0.7 is an internal address; only public hosts can be called.",
        ),
        (
            "http://sms.provider.example",
            "Only https addresses can be called (plain http only to allowlisted hosts).",
        ),
        (
            "https://localhost:8443",
            "localhost is an internal address; only public hosts can be called.",
        ),
    ] {
        let (status, body) = save_sms(&app, &cookie, url).await;
        assert_eq!(status, 422, "{url}: {body}");
        assert!(body.to_string().contains(expected), "{url}: {body}");
    }
}

#[tokio::test]
async fn another_organization_s_integration_is_not_found() {
    let app = spawn_app().await;
    let northwind = signed_in(&app, NORTHWIND_ADMIN).await;
    let harbor = signed_in(&app, HARBOR_ADMIN).await;
    let (_, body) = save_sms(&app, &northwind, "http://127.0.0.1:9/api").await;
    let id = id_of(&body).to_string();

    let (detail, _) = call(&app, &harbor, "integration_detail", &[("id", &id)]).await;
    let (deleted, _) = call(&app, &harbor, "delete_integration", &[("id", &id)]).await;
    let (tested, _) = call(&app, &harbor, "test_integration", &[("id", &id)]).await;
    let (listed, list) = call(&app, &harbor, "list_integrations", &[]).await;

    assert_eq!((detail, deleted, tested, listed), (404, 404, 404, 200));
    assert!(!list.to_string().contains(&id));
}

#[tokio::test]
async fn an_integration_named_by_a_waiting_job_cannot_be_deleted() {
    let app = spawn_app().await;
    let cookie = signed_in(&app, NORTHWIND_ADMIN).await;
    let (_, body) = save_sms(&app, &cookie, "http://127.0.0.1:9/api").await;
    let id = id_of(&body).to_string();
    let payload = format!(r#"{{"to": "+447700900123", "body": "hi", "integration_id": "{id}"}}"#);
    let (status, job) = call(
        &app,
        &cookie,
        "create_job",
        &[
            ("form[job_type]", "sms"),
            ("form[job_name]", "Reminder"),
            ("form[payload]", &payload),
            ("form[queue]", "default"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{job}");

    let (status, body) = call(&app, &cookie, "delete_integration", &[("id", &id)]).await;

    assert_eq!(status, 422);
    assert!(
        body.to_string()
            .contains("1 waiting or running job names this integration"),
        "{body}"
    );
}

#[tokio::test]
async fn an_sms_job_to_a_number_not_in_e164_form_is_refused_at_enqueue() {
    let app = spawn_app().await;
    let cookie = signed_in(&app, NORTHWIND_ADMIN).await;

    let (status, body) = call(
        &app,
        &cookie,
        "create_job",
        &[
            ("form[job_type]", "sms"),
            ("form[job_name]", "Reminder"),
            ("form[payload]", r#"{"to": "07700 900123", "body": "hi"}"#),
            ("form[queue]", "default"),
        ],
    )
    .await;

    assert_eq!(status, 422);
    assert!(
        body.to_string()
            .contains("must be a phone number in E.164 form"),
        "{body}"
    );
}

#[tokio::test]
async fn a_connection_test_calls_the_provider_and_records_the_outcome() {
    let app = spawn_app().await;
    let cookie = signed_in(&app, NORTHWIND_ADMIN).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut request = [0u8; 4096];
            let _ = socket.read(&mut request).await;
            let _ = socket
                .write_all(b"HTTP/1.1 401 Unauthorized\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}")
                .await;
        }
    });
    let (_, body) = save_sms(&app, &cookie, &format!("http://127.0.0.1:{port}/api")).await;
    let id = id_of(&body).to_string();

    let (status, outcome) = call(&app, &cookie, "test_integration", &[("id", &id)]).await;

    assert_eq!(status, 200, "{outcome}");
    assert_eq!(outcome["ok"], false);
    assert_eq!(outcome["message"], "The provider answered HTTP 401.");
    let (_, detail) = call(&app, &cookie, "integration_detail", &[("id", &id)]).await;
    assert_eq!(detail["last_test_ok"], false);
    assert!(detail["last_tested_at"].is_string());
    assert_eq!(
        (&detail["calls_24h"], &detail["success_rate_24h"]),
        (&serde_json::json!(1), &serde_json::json!(0.0))
    );
}

#[tokio::test]
async fn a_plain_text_mail_server_outside_the_allowlist_is_refused_at_save() {
    let app = spawn_app().await;
    let cookie = signed_in(&app, NORTHWIND_ADMIN).await;

    let (status, body) = call(
        &app,
        &cookie,
        "save_integration",
        &[
            ("form[name]", "Relay"),
            ("form[channel]", "email"),
            ("form[kind]", "smtp"),
            ("form[base_url]", "smtp.mail.example"),
            ("form[tls_mode]", "none"),
        ],
    )
    .await;

    assert_eq!(status, 422, "{body}");
    assert_eq!(
        body["message"],
        "A mail server is reached over STARTTLS or TLS (plain text only to allowlisted hosts)."
    );
}
