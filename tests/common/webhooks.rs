//! Webhooks in tests: made through the console's server function, a
//! worker that runs until nothing is left to do, and a signature verifier
//! written from the Standard Webhooks specification, apart from the
//! server's signing code.

use super::{call, TestApp};
use serde_json::Value;
use veriphy_jobs::domain::JobType;
use veriphy_jobs::server::webhooks::WebhookHandler;
use veriphy_jobs::server::worker::handlers::diagnostic::DiagnosticHandler;
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

/// A worker that runs diagnostic (`other`) jobs and webhook deliveries
/// only (the demo's own due jobs stay pending), with a short poll.
pub async fn delivering_worker(app: &TestApp) -> Worker {
    Worker::start(
        app.test_db.db.clone(),
        Registry::empty()
            .with(JobType::Other, DiagnosticHandler)
            .with(
                JobType::Webhook,
                WebhookHandler {
                    providers: app.providers.clone(),
                },
            ),
        WorkerConfig {
            poll_interval: std::time::Duration::from_millis(50),
            ..WorkerConfig::default()
        },
    )
    .await
    .unwrap()
}

/// Runs a [`delivering_worker`] until no diagnostic job or delivery is due
/// or running on it (the demo's jobs shown as running belong to no worker),
/// at most 20 s.
pub async fn run_until_idle(app: &TestApp) {
    let worker = delivering_worker(app).await;
    let mut owner = app.test_db.owner_connection().await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let open: i64 = sqlx::query_scalar(
            "select count(*) from jobs
             where job_type in ('other', 'webhook')
               and ((status = 'pending' and available_at <= now())
                    or (status = 'running' and locked_by = $1))",
        )
        .bind(worker.id())
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
