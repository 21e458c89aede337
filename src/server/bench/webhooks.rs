//! Webhook delivery: `n` events delivered to a receiver on loopback
//! (allowlisted) by a worker at `concurrency`, each signed and each attempt
//! logged as in production; and the latency from raising an event (as the
//! events API does: one transaction that records it and enqueues its
//! delivery) to the receiver reading it, at `rate` events per second.
//! The drain benchmark's `--subscribers` uses [`subscribe`] to price the
//! engine's own events.

use super::{
    bench_worker_config, epoch_micros, load, percentile, unfinished, BenchArgs, ResultLine,
};
use crate::domain::webhooks::ValidWebhook;
use crate::domain::{JobType, WebhookEvent};
use crate::server::db::{Database, Scope};
use crate::server::outbound::{Allowlist, Outbound};
use crate::server::providers::Providers;
use crate::server::repo::webhooks::{self as repo, sealed_context, SavedWebhook};
use crate::server::secrets::{masked, Keyring};
use crate::server::webhooks::{raise, signing, EventSource};
use crate::server::worker::{Registry, Worker};
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// Events raised per statement when preparing the throughput run.
const CHUNK: usize = 1_000;

/// Stores a webhook of `organization` posting `event` to `url`, with a
/// fresh secret sealed by `keyring`; its id.
pub(super) async fn subscribe(
    db: &Database,
    keyring: &Keyring,
    organization: Uuid,
    url: &str,
    event: WebhookEvent,
) -> Result<Uuid, sqlx::Error> {
    let id = Uuid::new_v4();
    let secret = signing::new_secret();
    let sealed = keyring.seal(&secret, &sealed_context(id, "secret"));
    let form = ValidWebhook {
        organization_id: None,
        name: "Benchmark receiver".into(),
        url: url.into(),
        event_type: event,
        timeout: 10,
        max_retries: 3,
        disable_after_failures: 1000,
        headers: None,
    };
    let mut tx = db.begin(Scope::organization(organization)).await?;
    let saved = SavedWebhook {
        form: &form,
        headers: None,
    };
    repo::insert(&mut tx, organization, id, &saved, &sealed, &masked(&secret)).await?;
    tx.commit().await?;
    Ok(id)
}

/// What the receiver saw: requests, and each event's raise-to-read
/// latency (ms) when its data carries `t0` (epoch micros).
#[derive(Default)]
struct Receipts {
    requests: AtomicUsize,
    latencies: Mutex<Vec<f64>>,
}

/// A receiver on loopback answering 204 to every POST; its port.
async fn receiver(receipts: Arc<Receipts>) -> std::io::Result<u16> {
    let app = axum::Router::new().fallback(move |body: axum::body::Bytes| {
        let receipts = receipts.clone();
        async move {
            let now = epoch_micros();
            receipts.requests.fetch_add(1, Ordering::Relaxed);
            if let Ok(event) = serde_json::from_slice::<serde_json::Value>(&body) {
                if let Some(t0) = event["data"]["t0"].as_i64() {
                    receipts
                        .latencies
                        .lock()
                        .expect("latencies lock")
                        .push((now - t0) as f64 / 1000.0);
                }
            }
            axum::http::StatusCode::NO_CONTENT
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(port)
}

/// The receiver, a keyring and providers that may reach it, and a webhook
/// of `organization` subscribed to `case_created` posting to it.
async fn delivery_setup(
    db: &Database,
    organization: Uuid,
) -> Result<(Arc<Receipts>, Arc<Providers>), sqlx::Error> {
    let failed = |what: &str, error: &dyn std::fmt::Display| super::serve::failed(what, error);
    let receipts = Arc::new(Receipts::default());
    let port = receiver(receipts.clone())
        .await
        .map_err(|e| failed("receiver", &e))?;
    let keyring = Arc::new(Keyring::ephemeral());
    let providers = Arc::new(Providers::new(
        keyring.clone(),
        Outbound::new(Allowlist::new(["127.0.0.1"])).map_err(|e| failed("client", &e))?,
        std::env::temp_dir(),
    ));
    subscribe(
        db,
        &keyring,
        organization,
        &format!("http://127.0.0.1:{port}/hooks"),
        WebhookEvent::CaseCreated,
    )
    .await?;
    Ok((receipts, providers))
}

/// Deliveries per second: `n` events raised beforehand, then delivered.
pub(super) async fn deliveries(
    db: &Database,
    organization: Uuid,
    args: &BenchArgs,
) -> Result<ResultLine, sqlx::Error> {
    let (receipts, providers) = delivery_setup(db, organization).await?;
    {
        let mut conn = db.worker.acquire().await?;
        let mut left = args.n;
        while left > 0 {
            let chunk = left.min(CHUNK);
            let events: Vec<Uuid> = sqlx::query_scalar(
                "insert into webhook_events (organization_id, event_type, payload, source)
                 select $1, 'case_created',
                        jsonb_build_object('case_id', 'CASE-' || i, 'status', 'open'), 'system'
                 from generate_series(1, $2) as i
                 returning id",
            )
            .bind(organization)
            .bind(chunk as i32)
            .fetch_all(&mut *conn)
            .await?;
            sqlx::query("select webhook_enqueue_deliveries($1)")
                .bind(&events)
                .execute(&mut *conn)
                .await?;
            left -= chunk;
        }
    }
    super::settle(&db.worker).await;
    let wall = super::providers::run_all(db, providers, JobType::Webhook, args).await?;
    let (delivered, logged): (i64, i64) = sqlx::query_as(
        "select (select count(*) from jobs where status = 'completed'),
                (select count(*) from third_party_api_log where is_success)",
    )
    .fetch_one(&db.worker)
    .await?;
    Ok(ResultLine::throughput(
        "webhooks",
        args.n,
        Some(args.concurrency),
        args.n as f64 / wall,
        format!(
            "{} case_created events to one webhook, delivered to a receiver on loopback (HTTP/1.1, 204), each signed (HMAC-SHA256, secret sealed with AES-256-GCM) and each attempt logged (pending row before, closed after); verified {delivered} completed deliveries, {logged} successful log rows, {} requests received; wall {wall:.2}s incl. worker start-up; {}",
            args.n,
            receipts.requests.load(Ordering::Relaxed),
            load()
        ),
    ))
}

/// Raise-to-receipt latency at `rate` events per second for `duration`
/// seconds (after a 2 s warm-up), each event raised in its own
/// transaction as the events API raises it.
pub(super) async fn delivery_latency(
    db: &Database,
    organization: Uuid,
    args: &BenchArgs,
) -> Result<ResultLine, sqlx::Error> {
    let (receipts, providers) = delivery_setup(db, organization).await?;
    super::settle(&db.worker).await;
    let worker = Worker::start(
        db.clone(),
        Registry::empty().with_providers(providers),
        bench_worker_config(args),
    )
    .await?;
    let rate = args.rate.max(1);
    let warmup = 2 * rate as usize;
    let measured = rate as usize * args.duration as usize;
    super::open_loop(rate, warmup + measured, |i| {
        let db = db.clone();
        let warm = i < warmup;
        async move {
            let t0 = epoch_micros();
            // warm-up events carry no t0: the receiver does not time them
            let data = if warm {
                json!({ "case_id": format!("CASE-{i}"), "status": "open" })
            } else {
                json!({ "case_id": format!("CASE-{i}"), "status": "open", "t0": t0 })
            };
            let mut tx = db.begin(Scope::organization(organization)).await?;
            raise(
                &mut tx,
                organization,
                WebhookEvent::CaseCreated,
                &data,
                EventSource::System,
            )
            .await?;
            tx.commit().await
        }
    })
    .await?;
    let deadline = Instant::now() + Duration::from_secs(30);
    while unfinished(&db.worker, JobType::Webhook).await? && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    worker.shutdown().await;
    let mut samples = receipts.latencies.lock().expect("latencies lock").clone();
    samples.sort_by(|a, b| a.total_cmp(b));
    let notes = format!(
        "offered {rate} events/s for {}s after 2s warm-up (open loop; each event recorded and its delivery enqueued in one transaction, as the events API does), measured from before that transaction to the receiver reading the signed POST; {}/{measured} timed; p50 {} ms; {}",
        args.duration,
        samples.len(),
        percentile(&samples, 0.5).unwrap_or_default(),
        load()
    );
    Ok(ResultLine::throughput(
        "webhook-latency",
        measured,
        Some(args.concurrency),
        rate as f64,
        notes,
    )
    .at_rate(rate)
    .with_times(&samples))
}
