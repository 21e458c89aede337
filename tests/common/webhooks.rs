//! Webhooks in tests: made through the console's server function, a
//! worker that runs until nothing is left to do, and a signature verifier
//! written from the Standard Webhooks specification, apart from the
//! server's signing code.

use super::{call, TestApp};
use serde_json::Value;
use veriphy_jobs::server::worker::{Registry, Worker, WorkerConfig};

/// `cookie` creates a webhook to `url` for `event` with `extra` fields;
/// (status, answer).
pub async fn create(
    app: &TestApp,
    cookie: &str,
    url: &str,
    event: &str,
    extra: &[(&str, &str)],
) -> (u16, Value) {
    let mut form = vec![
        ("form[name]", "Case system"),
        ("form[url]", url),
        ("form[event_type]", event),
    ];
    form.extend_from_slice(extra);
    call(app, cookie, "save_webhook", &form).await
}

/// Runs a worker with every handler until no job is due or running, at
/// most 20 s.
pub async fn run_until_idle(app: &TestApp) {
    let worker = Worker::start(
        app.test_db.db.clone(),
        Registry::standard().with_providers(app.providers.clone()),
        WorkerConfig {
            poll_interval: std::time::Duration::from_millis(50),
            ..WorkerConfig::default()
        },
    )
    .await
    .unwrap();
    let mut owner = app.test_db.owner_connection().await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let open: i64 = sqlx::query_scalar(
            "select count(*) from jobs
             where status = 'running' or (status = 'pending' and available_at <= now())",
        )
        .fetch_one(&mut owner)
        .await
        .unwrap();
        if open == 0 || std::time::Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    worker.shutdown().await;
}

/// Whether one of the `v1,` signatures in `header` is the HMAC-SHA256 of
/// `id.timestamp.body` under `secret` — written here from the
/// specification, apart from the server's signing code.
pub fn verifies(secret: &str, id: &str, timestamp: &str, body: &str, header: &str) -> bool {
    use base64::Engine;
    use hmac::Mac;
    let engine = base64::engine::general_purpose::STANDARD;
    let key = engine
        .decode(secret.trim_start_matches("whsec_"))
        .expect("a base64 secret");
    let signed = format!("{id}.{timestamp}.{body}");
    header.split(' ').any(|candidate| {
        let Some(encoded) = candidate.strip_prefix("v1,") else {
            return false;
        };
        let Ok(signature) = engine.decode(encoded) else {
            return false;
        };
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
        mac.update(signed.as_bytes());
        mac.verify_slice(&signature).is_ok()
    })
}

