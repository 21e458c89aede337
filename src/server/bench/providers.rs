//! Provider throughput: `n` email jobs through an SMTP sink, or `n` SMS jobs
//! through an HTTP stand-in of the SMS API, both in-process on loopback
//! (allowlisted), run by a worker at `concurrency`; every call is logged as
//! in production. Also measures what the log costs per call: the same
//! logging around an exchange that answers at once.

use super::{bench_worker_config, load, round, unfinished, BenchArgs, ResultLine};
use crate::domain::integrations::IntegrationForm;
use crate::domain::{HttpMethod, JobType};
use crate::server::db::{Database, Scope};
use crate::server::outbound::logged::record_call;
use crate::server::outbound::{Allowlist, CallRecord, CallRequest, Outbound, SendError};
use crate::server::providers::{Credentials, Providers};
use crate::server::queue::{self, NewJob};
use crate::server::repo::integrations;
use crate::server::secrets::Keyring;
use crate::server::worker::{Registry, Worker};
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// Which provider is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Channel {
    /// Email over SMTP.
    Email,
    /// SMS over the HTTP API.
    Sms,
}

/// Calls logged around an instant exchange to price the log.
const LOG_SAMPLES: usize = 300;

/// Runs the workload in `db` (a fresh database) for `organization`.
pub(super) async fn providers(
    db: &Database,
    organization: Uuid,
    channel: Channel,
    args: &BenchArgs,
) -> Result<ResultLine, sqlx::Error> {
    let failed = |what: &str, error: &dyn std::fmt::Display| super::serve::failed(what, error);
    let port = match channel {
        Channel::Email => smtp_sink().await,
        Channel::Sms => sms_stand_in().await,
    }
    .map_err(|e| failed("stand-in", &e))?;
    let keyring = Arc::new(Keyring::ephemeral());
    let outbox = std::env::temp_dir().join(format!("veriphy-bench-outbox-{}", Uuid::new_v4()));
    let providers = Arc::new(Providers::new(
        keyring.clone(),
        Outbound::new(Allowlist::new(["127.0.0.1"])).map_err(|e| failed("client", &e))?,
        outbox.clone(),
    ));
    let form = match channel {
        Channel::Email => IntegrationForm {
            channel: "email".into(),
            kind: "smtp".into(),
            base_url: "127.0.0.1".into(),
            port: port.to_string(),
            tls_mode: "none".into(),
            username: "bench".into(),
            sender: "bench@bank.example".into(),
            ..IntegrationForm::default()
        },
        Channel::Sms => IntegrationForm {
            channel: "sms".into(),
            kind: "sms_http".into(),
            base_url: format!("http://127.0.0.1:{port}/v1"),
            username: "ACbench".into(),
            sender: "+15550001111".into(),
            ..IntegrationForm::default()
        },
    };
    let valid = IntegrationForm {
        name: "Benchmark provider".into(),
        secret: "bench-secret-value".into(),
        is_default: "on".into(),
        is_active: "on".into(),
        ..form
    }
    .validate()
    .map_err(|e| failed("integration", &e))?;
    let id = Uuid::new_v4();
    let sealed = keyring.seal(
        &serde_json::to_string(&Credentials {
            secret: "bench-secret-value".into(),
        })
        .unwrap_or_default(),
        &integrations::credentials_context(id),
    );
    let mut tx = db.begin(Scope::organization(organization)).await?;
    integrations::insert(&mut tx, organization, id, &valid, Some(&sealed), None).await?;
    tx.commit().await?;

    let (job_type, payload) = match channel {
        Channel::Email => (
            JobType::Email,
            json!({ "to": "customer@bank.example", "subject": "Statement", "text": "Your statement is ready." }),
        ),
        Channel::Sms => (
            JobType::Sms,
            json!({ "to": "+447700900123", "body": "Your code is 482913" }),
        ),
    };
    let jobs: Vec<NewJob> = (0..args.n)
        .map(|i| {
            NewJob::new(
                organization,
                job_type,
                format!("bench {i}"),
                payload.clone(),
            )
        })
        .collect();
    {
        let mut conn = db.worker.acquire().await?;
        for part in jobs.chunks(5_000) {
            queue::enqueue_many(&mut conn, part).await?;
        }
    }
    let owner = &db.worker;
    let wall = run_all(db, providers, job_type, args).await?;
    let (completed, logged): (i64, i64) = sqlx::query_as(
        "select (select count(*) from jobs where status = 'completed'),
                (select count(*) from third_party_api_log where is_success)",
    )
    .fetch_one(owner)
    .await?;
    let log_costs = log_cost(db, organization).await?;
    let _ = std::fs::remove_dir_all(&outbox);
    let (mode, through) = match channel {
        Channel::Email => (
            "email",
            "an SMTP sink on loopback (plain, AUTH PLAIN), pooled connections".to_string(),
        ),
        Channel::Sms => (
            "sms",
            "an HTTP stand-in of the SMS API on loopback (form POST, basic auth)".to_string(),
        ),
    };
    Ok(ResultLine::throughput(
        mode,
        args.n,
        Some(args.concurrency),
        args.n as f64 / wall,
        format!(
            "{} {mode} jobs through {through}, every call logged (pending row committed before, closed after); verified {completed} completed, {logged} successful log rows; wall {wall:.2}s incl. worker start-up; logging an instant call: p50 {} ms, p95 {} ms (p50..max below = that cost); {}",
            args.n,
            super::percentile(&log_costs, 0.50).unwrap_or_default(),
            super::percentile(&log_costs, 0.95).unwrap_or_default(),
            load()
        ),
    )
    .with_times(&log_costs))
}

/// Starts a worker with the provider handlers of `providers` and waits
/// until no job of `job_type` is left unfinished; the seconds it took,
/// start-up included.
pub(super) async fn run_all(
    db: &Database,
    providers: Arc<Providers>,
    job_type: JobType,
    args: &BenchArgs,
) -> Result<f64, sqlx::Error> {
    let started = Instant::now();
    let worker = Worker::start(
        db.clone(),
        Registry::empty().with_providers(providers),
        bench_worker_config(args),
    )
    .await?;
    while unfinished(&db.worker, job_type).await? {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let wall = started.elapsed().as_secs_f64();
    worker.shutdown().await;
    Ok(wall)
}

/// Milliseconds the log takes around calls that answer at once, ascending.
async fn log_cost(db: &Database, organization: Uuid) -> Result<Vec<f64>, sqlx::Error> {
    let record = CallRecord {
        organization_id: organization,
        integration_id: None,
        api_name: "log_cost".into(),
        retry_count: 1,
        metadata: json!({ "bench": true }),
    };
    let request = CallRequest {
        method: HttpMethod::Post,
        url: "https://api.example/messages".into(),
        headers: vec![("Authorization".into(), "Bearer x".into())],
        body: Some(crate::server::outbound::CallBody::Json(
            json!({ "to": "+447700900123", "body": "hi" }),
        )),
    };
    let mut costs = Vec::with_capacity(LOG_SAMPLES);
    for _ in 0..LOG_SAMPLES {
        let started = Instant::now();
        record_call(db, &record, &request, async {
            Ok::<_, SendError>((201, "{\"sid\":\"SM1\"}".to_string(), None))
        })
        .await
        .map_err(|e| super::serve::failed("log", &e))?;
        costs.push(round(started.elapsed().as_secs_f64() * 1000.0));
    }
    costs.sort_by(|a, b| a.total_cmp(b));
    Ok(costs)
}

/// An SMTP server on loopback that accepts every message (plain text,
/// AUTH PLAIN); its port.
async fn smtp_sink() -> std::io::Result<u16> {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (reader, mut writer) = socket.into_split();
                let mut lines = BufReader::new(reader).lines();
                let _ = writer.write_all(b"220 sink ESMTP\r\n").await;
                while let Ok(Some(line)) = lines.next_line().await {
                    let upper = line.to_ascii_uppercase();
                    let reply: &[u8] = if upper.starts_with("EHLO") {
                        b"250-sink\r\n250 AUTH PLAIN\r\n"
                    } else if upper.starts_with("AUTH") {
                        b"235 ok\r\n"
                    } else if upper == "DATA" {
                        let _ = writer.write_all(b"354 go\r\n").await;
                        while let Ok(Some(body)) = lines.next_line().await {
                            if body == "." {
                                break;
                            }
                        }
                        b"250 queued\r\n"
                    } else if upper == "QUIT" {
                        let _ = writer.write_all(b"221 bye\r\n").await;
                        break;
                    } else {
                        b"250 ok\r\n"
                    };
                    if writer.write_all(reply).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    Ok(port)
}

/// An HTTP stand-in of the SMS API on loopback answering 201 with a
/// message id; its port.
async fn sms_stand_in() -> std::io::Result<u16> {
    let app = axum::Router::new().fallback(|| async {
        (
            axum::http::StatusCode::CREATED,
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            "{\"sid\":\"SMbench\",\"status\":\"queued\"}",
        )
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(port)
}
