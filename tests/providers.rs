//! SMS, WhatsApp and data-sync jobs through a real worker against provider
//! stand-ins on loopback (allowlisted) and the sandbox: the request each
//! provider receives, the job's outcome, the API log row, and that
//! credentials and card numbers stay out of every stored row.

mod common;

use common::stand_ins::{keyring, providers, save, sms_form, stand_in, TOKEN};
use common::{fresh_database, TestDb};
use serde_json::{json, Value};
use std::sync::Arc;
use uuid::Uuid;
use veriphy_jobs::domain::integrations::IntegrationForm;
use veriphy_jobs::domain::JobType;
use veriphy_jobs::server::db::Scope;
use veriphy_jobs::server::providers::Providers;
use veriphy_jobs::server::repo::integrations;
use veriphy_jobs::server::secrets::{Keyring, SecretKey};
use veriphy_jobs::server::worker::Registry;

fn registry(providers: Arc<Providers>) -> Registry {
    Registry::empty().with_providers(providers)
}

/// Every stored text of `organization`'s API log and integrations.
async fn stored_text(test: &TestDb) -> String {
    let mut owner = test.owner_connection().await;
    let rows: Vec<String> = sqlx::query_scalar(
        "select coalesce(request_payload::text, '') || coalesce(response_payload::text, '')
                || coalesce(error_message, '') || endpoint || coalesce(metadata::text, '')
         from third_party_api_log
         union all
         select coalesce(encode(credentials_encrypted, 'escape'), '') || config::text || metadata::text
         from system_integrations",
    )
    .fetch_all(&mut owner)
    .await
    .unwrap();
    rows.join("\n")
}

#[tokio::test]
async fn an_sms_job_posts_the_provider_s_form_with_basic_auth_and_is_logged_without_secrets() {
    let test = fresh_database().await;
    let organization = test.new_organization().await;
    let (port, received) = stand_in("201 Created", "", r#"{"sid":"SM42","status":"queued"}"#).await;
    let keyring = keyring();
    let integration = save(&test, &keyring, organization, sms_form(port)).await;

    let (status, result) = test
        .run_one_job(
            registry(providers(keyring, true)),
            organization,
            JobType::Sms,
            json!({ "to": "+447700900123", "body": "Card 4111 1111 1111 1111 is due" }),
        )
        .await;

    assert_eq!(status, "completed", "{result}");
    assert_eq!(result["message_id"], "SM42");
    let request = received.lock().unwrap()[0].clone();
    assert_eq!(
        request.request_line.trim(),
        "POST /2010-04-01/Accounts/AC123/Messages.json HTTP/1.1"
    );
    use base64::Engine;
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("AC123:{TOKEN}"));
    assert_eq!(
        request.header("authorization"),
        Some(format!("Basic {basic}").as_str())
    );
    assert_eq!(
        request.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(
        request.body,
        "To=%2B447700900123&From=%2B15550001111&Body=Card+4111+1111+1111+1111+is+due"
    );
    let mut owner = test.owner_connection().await;
    let (api_name, log_status, code, success, logged_integration, retry_count, body): (
        String,
        String,
        Option<i32>,
        bool,
        Option<Uuid>,
        i32,
        Value,
    ) = sqlx::query_as(
        "select api_name, status, status_code, is_success, integration_id, retry_count,
                request_payload -> 'body'
         from third_party_api_log",
    )
    .fetch_one(&mut owner)
    .await
    .unwrap();
    assert_eq!(
        (
            api_name.as_str(),
            log_status.as_str(),
            code,
            success,
            logged_integration,
            retry_count
        ),
        ("sms_api", "success", Some(201), true, Some(integration), 1)
    );
    assert_eq!(body["To"], "+447700900123");
    let stored = stored_text(&test).await;
    assert!(!stored.contains(TOKEN), "the token is stored somewhere");
    assert!(
        !stored.contains(&basic),
        "the basic credentials are stored somewhere"
    );
    assert!(
        !stored.contains("4111 1111 1111 1111"),
        "the card number is stored"
    );
}

#[tokio::test]
async fn a_busy_provider_s_retry_after_postpones_the_job() {
    let test = fresh_database().await;
    let organization = test.new_organization().await;
    let (port, _) = stand_in("429 Too Many Requests", "retry-after: 40\r\n", "{}").await;
    let keyring = keyring();
    save(&test, &keyring, organization, sms_form(port)).await;
    let worker = veriphy_jobs::server::worker::Worker::start(
        test.db.clone(),
        registry(providers(keyring, true)),
        veriphy_jobs::server::worker::WorkerConfig {
            poll_interval: std::time::Duration::from_millis(100),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let id = {
        let mut conn = test.db.worker.acquire().await.unwrap();
        veriphy_jobs::server::queue::enqueue(
            &mut conn,
            &veriphy_jobs::server::queue::NewJob::new(
                organization,
                JobType::Sms,
                "busy",
                json!({ "to": "+447700900123", "body": "hi" }),
            ),
        )
        .await
        .unwrap()
    };
    let mut owner = test.owner_connection().await;
    let mut waited: Option<(String, f64)> = None;
    for _ in 0..100 {
        let row: (String, f64, i64) = sqlx::query_as(
            "select j.status, extract(epoch from j.available_at - now())::float8,
                    (select count(*) from third_party_api_log)
             from jobs j where j.id = $1",
        )
        .bind(id)
        .fetch_one(&mut owner)
        .await
        .unwrap();
        if row.2 == 1 && row.0 == "pending" {
            waited = Some((row.0, row.1));
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    worker.shutdown().await;
    let (status, seconds) = waited.expect("the job went back to pending after one call");
    assert_eq!(status, "pending");
    assert!((30.0..=40.5).contains(&seconds), "available in {seconds} s");
}

#[tokio::test]
async fn a_job_whose_organization_has_no_integration_fails_and_says_so() {
    let test = fresh_database().await;
    let organization = test.new_organization().await;

    let (status, result) = test
        .run_one_job(
            registry(providers(keyring(), true)),
            organization,
            JobType::Whatsapp,
            json!({ "to": "+447700900123", "body": "hi" }),
        )
        .await;

    assert_eq!(status, "failed");
    assert_eq!(
        result["error"],
        "The organization has no default WhatsApp integration: add one under Integrations, or name one in the payload (\"integration_id\")."
    );
}

#[tokio::test]
async fn an_integration_pointed_at_the_machine_itself_is_refused_at_call_time() {
    let test = fresh_database().await;
    let organization = test.new_organization().await;
    let (port, received) = stand_in("201 Created", "", "{}").await;
    let keyring = keyring();
    save(&test, &keyring, organization, sms_form(port)).await;

    let (status, result) = test
        .run_one_job(
            registry(providers(keyring, false)),
            organization,
            JobType::Sms,
            json!({ "to": "+447700900123", "body": "hi" }),
        )
        .await;

    assert_eq!(status, "failed");
    assert!(
        result["error"]
            .as_str()
            .unwrap()
            .starts_with("sms_api cannot be called:"),
        "{result}"
    );
    assert!(
        received.lock().unwrap().is_empty(),
        "nothing reached the stand-in"
    );
}

#[tokio::test]
async fn credentials_sealed_with_another_key_fail_the_job_clearly() {
    let test = fresh_database().await;
    let organization = test.new_organization().await;
    let (port, received) = stand_in("201 Created", "", "{}").await;
    save(&test, &keyring(), organization, sms_form(port)).await;

    let (status, result) = test
        .run_one_job(
            registry(providers(keyring(), true)),
            organization,
            JobType::Sms,
            json!({ "to": "+447700900123", "body": "hi" }),
        )
        .await;

    assert_eq!(status, "failed");
    let error = result["error"].as_str().unwrap();
    assert!(
        error.starts_with("The credentials of integration \"SMS provider\" cannot be opened:"),
        "{error}"
    );
    assert!(received.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_whatsapp_template_message_is_posted_as_cloud_api_json_with_a_bearer_token() {
    let test = fresh_database().await;
    let organization = test.new_organization().await;
    let (port, received) = stand_in(
        "200 OK",
        "",
        r#"{"messaging_product":"whatsapp","messages":[{"id":"wamid.7"}]}"#,
    )
    .await;
    let keyring = keyring();
    save(
        &test,
        &keyring,
        organization,
        IntegrationForm {
            name: "WhatsApp".into(),
            channel: "whatsapp".into(),
            kind: "whatsapp_http".into(),
            base_url: format!("http://127.0.0.1:{port}/v19.0"),
            secret: TOKEN.into(),
            sender: "1234567890".into(),
            is_default: "on".into(),
            is_active: "on".into(),
            ..IntegrationForm::default()
        },
    )
    .await;

    let (status, result) = test
        .run_one_job(
            registry(providers(keyring, true)),
            organization,
            JobType::Whatsapp,
            json!({ "to": "+447700900123", "template": "kyc_reminder", "language": "en_GB" }),
        )
        .await;

    assert_eq!(status, "completed", "{result}");
    assert_eq!(result["message_id"], "wamid.7");
    let request = received.lock().unwrap()[0].clone();
    assert_eq!(
        request.request_line.trim(),
        "POST /v19.0/1234567890/messages HTTP/1.1"
    );
    assert_eq!(
        request.header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    assert_eq!(
        serde_json::from_str::<Value>(&request.body).unwrap(),
        json!({
            "messaging_product": "whatsapp",
            "to": "447700900123",
            "type": "template",
            "template": { "name": "kyc_reminder", "language": { "code": "en_GB" } }
        })
    );
}

#[tokio::test]
async fn a_data_sync_fetches_every_page_and_running_it_again_updates_without_duplicates() {
    let test = fresh_database().await;
    let organization = test.new_organization().await;
    let keyring = keyring();
    save(
        &test,
        &keyring,
        organization,
        IntegrationForm {
            name: "Bureau sandbox".into(),
            channel: "data_sync".into(),
            kind: "sandbox".into(),
            is_default: "on".into(),
            is_active: "on".into(),
            ..IntegrationForm::default()
        },
    )
    .await;
    let providers = providers(keyring, false);

    let (first_status, first) = test
        .run_one_job(
            registry(providers.clone()),
            organization,
            JobType::DataSync,
            json!({ "path": "/records" }),
        )
        .await;
    let (_, second) = test
        .run_one_job(
            registry(providers),
            organization,
            JobType::DataSync,
            json!({ "path": "/records" }),
        )
        .await;

    assert_eq!(first_status, "completed", "{first}");
    assert_eq!(
        (&first["pages"], &first["added"], &first["updated"]),
        (&json!(3), &json!(15), &json!(0))
    );
    assert_eq!(
        (&second["added"], &second["updated"]),
        (&json!(0), &json!(15))
    );
    let mut owner = test.owner_connection().await;
    let (records, calls): (i64, i64) = sqlx::query_as(
        "select (select count(*) from synced_records where organization_id = $1),
                (select count(*) from third_party_api_log
                 where organization_id = $1 and api_name = 'sandbox_data_sync' and is_success)",
    )
    .bind(organization)
    .fetch_one(&mut owner)
    .await
    .unwrap();
    assert_eq!((records, calls), (15, 6));
}

#[tokio::test]
async fn rotation_re_encrypts_every_credential_under_the_new_key() {
    use veriphy_jobs::server::providers::reseal_all;
    let test = fresh_database().await;
    let (first, second) = (test.new_organization().await, test.new_organization().await);
    let old_key = SecretKey::generate().1;
    let old = Keyring::new(SecretKey::from_base64(&old_key).unwrap(), Vec::new());
    let ids = [
        save(&test, &old, first, sms_form(1)).await,
        save(&test, &old, second, sms_form(2)).await,
    ];
    let (new_key, _) = SecretKey::generate();
    let new_id = new_key.id().to_string();
    let rotated = Keyring::new(new_key, vec![SecretKey::from_base64(&old_key).unwrap()]);

    assert_eq!(reseal_all(&test.db, &rotated).await.unwrap(), (2, 2));
    assert_eq!(reseal_all(&test.db, &rotated).await.unwrap(), (0, 2));

    let mut tx = test.db.begin(Scope::bank()).await.unwrap();
    let stored = integrations::all_sealed(&mut tx).await.unwrap();
    for (id, _, sealed) in stored {
        assert!(ids.contains(&id));
        assert_eq!(sealed.key_id, new_id);
        let opened = rotated
            .open(&sealed, &integrations::credentials_context(id))
            .unwrap();
        assert!(opened.contains(TOKEN));
        assert!(
            old.open(&sealed, &integrations::credentials_context(id))
                .is_err(),
            "the old key alone no longer opens it"
        );
    }
}

#[tokio::test]
async fn a_disabled_integration_stops_jobs_once_a_worker_s_reuse_window_has_passed() {
    let test = fresh_database().await;
    let organization = test.new_organization().await;
    let (port, received) = stand_in("201 Created", "", r#"{"sid":"SM1"}"#).await;
    let keyring = keyring();
    let integration = save(&test, &keyring, organization, sms_form(port)).await;
    let shared = providers(keyring, true);
    let sms = json!({ "to": "+447700900123", "body": "Your code is 1234" });
    let (first, _) = test
        .run_one_job(
            registry(shared.clone()),
            organization,
            JobType::Sms,
            sms.clone(),
        )
        .await;
    let mut owner = test.owner_connection().await;
    sqlx::query("update system_integrations set is_active = false where id = $1")
        .bind(integration)
        .execute(&mut owner)
        .await
        .unwrap();

    tokio::time::sleep(veriphy_jobs::server::providers::TARGET_REUSE).await;
    let (second, failure) = test
        .run_one_job(registry(shared), organization, JobType::Sms, sms)
        .await;

    assert_eq!(first, "completed");
    assert_eq!(second, "failed", "{failure}");
    assert_eq!(received.lock().unwrap().len(), 1, "only the first was sent");
    let error: String =
        sqlx::query_scalar("select error_message from jobs where status = 'failed'")
            .fetch_one(&mut owner)
            .await
            .unwrap();
    assert_eq!(error, "Integration \"SMS provider\" is disabled.");
}

#[tokio::test]
async fn rotation_re_encrypts_webhook_secrets_and_headers_too() {
    use veriphy_jobs::server::providers::reseal_all;
    use veriphy_jobs::server::repo::webhooks::{all_sealed, sealed_context};
    let test = fresh_database().await;
    let organization = test.new_organization().await;
    let old_key = SecretKey::generate().1;
    let old = Keyring::new(SecretKey::from_base64(&old_key).unwrap(), Vec::new());
    let webhook = Uuid::new_v4();
    let secret = old.seal(
        "whsec_c2VjcmV0LWJ5dGVzLWZvci10aGUtdGVzdA==",
        &sealed_context(webhook, "secret"),
    );
    let headers = old.seal(r#"[["X-Key","k-42"]]"#, &sealed_context(webhook, "headers"));
    let mut owner = test.owner_connection().await;
    sqlx::query(
        "insert into webhooks (id, organization_id, webhook_name, webhook_url, event_type,
           secret_encrypted, secret_key_id, headers_encrypted, headers_key_id)
         values ($1, $2, 'Hook', 'https://hooks.example.com/', 'case_created', $3, $4, $5, $6)",
    )
    .bind(webhook)
    .bind(organization)
    .bind(&secret.data)
    .bind(&secret.key_id)
    .bind(&headers.data)
    .bind(&headers.key_id)
    .execute(&mut owner)
    .await
    .unwrap();
    let (new_key, _) = SecretKey::generate();
    let rotated = Keyring::new(new_key, vec![SecretKey::from_base64(&old_key).unwrap()]);

    assert_eq!(reseal_all(&test.db, &rotated).await.unwrap(), (2, 2));

    let mut tx = test.db.begin(Scope::bank()).await.unwrap();
    let parts = all_sealed(&mut tx).await.unwrap();
    assert_eq!(parts.len(), 2);
    for (id, part, sealed) in parts {
        assert_eq!(sealed.key_id, rotated.current_id());
        assert!(
            rotated.open(&sealed, &sealed_context(id, part)).is_ok(),
            "{part}"
        );
        assert!(
            old.open(&sealed, &sealed_context(id, part)).is_err(),
            "{part}"
        );
    }
}
