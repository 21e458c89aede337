//! Webhook delivery: events are recorded in the outbox (`webhook_events`)
//! and fanned out as `webhook` jobs, one per subscribed webhook of the
//! event's organization; each job posts the event, signed, through the
//! logged outbound client — never following redirects — and keeps the
//! webhook's counters. 2xx delivers; 410 Gone switches the webhook off;
//! 429 and 503 wait as asked; anything else is retried with the engine's
//! backoff up to the webhook's `max_retries`, after which the delivery has
//! failed and, at the webhook's limit of failures in a row, the webhook
//! goes to `error` and stops receiving until someone switches it on.
//!
//! Each delivery reads its webhook afresh (one statement, with the event):
//! a rotation's second signature, a switch-off or a new address applies to
//! the very next delivery. A webhook to the sandbox receiver is answered
//! in the process ([`sandbox`]), its attempt logged like any other.

pub mod sandbox;
pub mod signing;

use crate::domain::webhooks::SandboxReceiver;
use crate::domain::{JobErrorKind, WebhookEvent};
use crate::server::db::Tx;
use crate::server::outbound::logged::record_call;
use crate::server::outbound::{CallBody, CallError, CallRecord, CallRequest, Redirects, SendError};
use crate::server::providers::Providers;
use crate::server::queue::{JobError, Outcome};
use crate::server::repo::webhooks::{self as repo, AttemptEnd, Delivering, DeliveryTarget};
use crate::server::secrets::{Keyring, Sealed};
use crate::server::worker::handlers::{database_error, Handler, HandlerFuture, JobContext};
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

/// A `webhook` job's payload: which event goes to which webhook.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Delivery {
    /// The webhook to post to.
    pub webhook_id: Uuid,
    /// The event to post.
    pub event_id: Uuid,
}

/// A new signing secret for webhook `id`: the secret (shown once), sealed
/// for its row, and the hint the console shows of it.
pub fn new_sealed_secret(keyring: &Keyring, id: Uuid) -> (String, Sealed, String) {
    let secret = signing::new_secret();
    let sealed = keyring.seal(&secret, &repo::sealed_context(id, "secret"));
    let hint = crate::server::secrets::masked(&secret);
    (secret, sealed, hint)
}

/// Webhook `id`'s custom headers sealed for its row, with what the console
/// shows of them: their names, no part of their values (a short value's
/// tail would be most of it).
pub fn sealed_headers(
    keyring: &Keyring,
    id: Uuid,
    headers: &[(String, String)],
) -> (Sealed, Value) {
    let text = serde_json::to_string(headers).unwrap_or_default();
    let hints: serde_json::Map<String, Value> = headers
        .iter()
        .map(|(name, _)| (name.clone(), Value::String("••••".into())))
        .collect();
    (
        keyring.seal(&text, &repo::sealed_context(id, "headers")),
        Value::Object(hints),
    )
}

/// Records event `event_type` with `data` for `organization_id` (in the
/// caller's transaction: it exists exactly when the change that raised it
/// does) and enqueues one delivery per active webhook of that organization
/// subscribed to it. Returns the event's id and the deliveries' job ids.
pub async fn raise(
    tx: &mut Tx,
    organization_id: Uuid,
    event_type: WebhookEvent,
    data: &Value,
    source: EventSource<'_>,
) -> Result<(Uuid, Vec<Uuid>), sqlx::Error> {
    let event_id = record_event(tx, organization_id, event_type, data, source).await?;
    let jobs = enqueue_deliveries(tx, &[event_id], None).await?;
    Ok((event_id, jobs))
}

/// Enqueues the deliveries of events `event_ids` — to their subscribers,
/// or to `to_webhook` only — with the database's fan-out (the one the
/// engine's own events use); their job ids. A webhook of another
/// organization than the event's is never a destination.
async fn enqueue_deliveries(
    tx: &mut Tx,
    event_ids: &[Uuid],
    to_webhook: Option<Uuid>,
) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar("select webhook_enqueue_deliveries($1, $2)")
        .bind(event_ids)
        .bind(to_webhook)
        .fetch_all(&mut **tx)
        .await
}

/// Who raised an event.
#[derive(Debug, Clone, Copy)]
pub enum EventSource<'a> {
    /// The engine or the console's own actions.
    System,
    /// A person in the console (a test event).
    Console,
    /// The events API, with the request's Idempotency-Key and body hash.
    Api {
        /// The Idempotency-Key header.
        idempotency_key: &'a str,
        /// The SHA-256 (hex) of the body.
        request_hash: &'a str,
    },
}

/// Writes an event to the outbox; its id.
async fn record_event(
    tx: &mut Tx,
    organization_id: Uuid,
    event_type: WebhookEvent,
    data: &Value,
    source: EventSource<'_>,
) -> Result<Uuid, sqlx::Error> {
    let (name, idempotency_key, request_hash) = match source {
        EventSource::System => ("system", None, None),
        EventSource::Console => ("console", None, None),
        EventSource::Api {
            idempotency_key,
            request_hash,
        } => ("api", Some(idempotency_key), Some(request_hash)),
    };
    sqlx::query_scalar(
        "insert into webhook_events
           (organization_id, event_type, payload, source, idempotency_key, request_hash)
         values ($1, $2, $3, $4, $5, $6) returning id",
    )
    .bind(organization_id)
    .bind(event_type.as_str())
    .bind(data)
    .bind(name)
    .bind(idempotency_key)
    .bind(request_hash)
    .fetch_one(&mut **tx)
    .await
}

/// Sends webhook `webhook_id` of `organization_id` a `webhook.test` event,
/// whatever it subscribes to; the delivery's job id (`None` when the
/// organization has no such webhook).
pub async fn send_test(
    tx: &mut Tx,
    organization_id: Uuid,
    webhook_id: Uuid,
) -> Result<Option<Uuid>, sqlx::Error> {
    let (_, example) = crate::domain::webhooks::describe(WebhookEvent::WebhookTest);
    let event_id = record_event(
        tx,
        organization_id,
        WebhookEvent::WebhookTest,
        &example,
        EventSource::Console,
    )
    .await?;
    Ok(enqueue_deliveries(tx, &[event_id], Some(webhook_id))
        .await?
        .pop())
}

/// Sends webhook `webhook_id` of `organization_id` again, each as a new
/// delivery, the oldest [`crate::domain::webhooks::REPLAY_LIMIT`] events whose delivery to it
/// failed since `since` and that are not on their way again; how many
/// were sent of how many there were.
pub async fn replay_failed(
    tx: &mut Tx,
    organization_id: Uuid,
    webhook_id: Uuid,
    since: chrono::DateTime<chrono::Utc>,
) -> Result<(usize, i64), sqlx::Error> {
    let waiting = repo::failed_events_count(tx, organization_id, webhook_id, since).await?;
    let events = repo::failed_events(
        tx,
        organization_id,
        webhook_id,
        since,
        crate::domain::webhooks::REPLAY_LIMIT,
    )
    .await?;
    let sent = enqueue_deliveries(tx, &events, Some(webhook_id)).await?;
    Ok((sent.len(), waiting))
}

/// Enqueues a new delivery of event `event_id` to webhook `webhook_id`;
/// its job id, or `None` when they are not of one organization
/// (`organization_id`'s).
pub async fn resend(
    tx: &mut Tx,
    organization_id: Uuid,
    webhook_id: Uuid,
    event_id: Uuid,
) -> Result<Option<Uuid>, sqlx::Error> {
    let owned: bool = sqlx::query_scalar(
        "select exists (select 1 from webhook_events where organization_id = $1 and id = $2)",
    )
    .bind(organization_id)
    .bind(event_id)
    .fetch_one(&mut **tx)
    .await?;
    if !owned {
        return Ok(None);
    }
    Ok(enqueue_deliveries(tx, &[event_id], Some(webhook_id))
        .await?
        .pop())
}

/// Runs `webhook` jobs.
pub struct WebhookHandler {
    /// The keyring and the outbound client.
    pub providers: Arc<Providers>,
}

impl Handler for WebhookHandler {
    fn run(&self, ctx: Arc<JobContext>) -> HandlerFuture {
        let providers = self.providers.clone();
        Box::pin(async move { deliver(&ctx, &providers).await })
    }
}

fn fail(message: impl Into<String>) -> Outcome {
    Outcome::Fail(JobError::new(JobErrorKind::Handler, message))
}

/// A webhook's sealed parts, opened for one delivery.
struct Opened {
    /// The secrets that sign, the current one first.
    secrets: Vec<String>,
    /// The custom headers.
    headers: Vec<(String, String)>,
}

/// Opens the sealed parts of `target`.
fn opened(providers: &Providers, target: &DeliveryTarget) -> Result<Opened, Outcome> {
    let open = |data: &Option<Vec<u8>>, key_id: &Option<String>, what: &str| {
        match (data, key_id) {
            (Some(data), Some(key_id)) => providers
                .keyring
                .open(
                    &Sealed {
                        key_id: key_id.clone(),
                        data: data.clone(),
                    },
                    &repo::sealed_context(target.id, what),
                )
                .map(Some)
                .map_err(|_| {
                    fail("The webhook's sealed secrets cannot be opened with this server's key; rotate its secret.")
                }),
            _ => Ok(None),
        }
    };
    let current = open(&target.secret_encrypted, &target.secret_key_id, "secret")?
        .ok_or_else(|| fail("The webhook has no signing secret: rotate it to make one."))?;
    let mut secrets = vec![current];
    if let Some(previous) = open(
        &target.previous_secret_encrypted,
        &target.previous_secret_key_id,
        "previous_secret",
    )? {
        secrets.push(previous);
    }
    let headers = match open(&target.headers_encrypted, &target.headers_key_id, "headers")? {
        Some(text) => serde_json::from_str(&text).unwrap_or_default(),
        None => Vec::new(),
    };
    Ok(Opened { secrets, headers })
}

/// An event as a delivery posts it: type, data, when it was raised.
type EventParts = (String, Value, chrono::DateTime<chrono::Utc>);

/// Reads the webhook of `delivery` with its event; whether a success of
/// this attempt would change nothing on the webhook's row.
async fn load(
    ctx: &JobContext,
    delivery: &Delivery,
) -> Result<(DeliveryTarget, Option<EventParts>, bool), Outcome> {
    let loaded = async {
        let mut tx = ctx.begin().await?;
        let found = repo::delivering(
            &mut tx,
            ctx.job.organization_id,
            delivery.webhook_id,
            delivery.event_id,
            ctx.job.attempts,
        )
        .await?;
        tx.commit().await?;
        Ok::<_, sqlx::Error>(found)
    }
    .await;
    match loaded {
        Err(error) => Err(database_error("reading the webhook", error)),
        Ok(None) => Err(fail("The webhook no longer exists.")),
        Ok(Some(Delivering {
            target,
            event_type,
            event_payload,
            event_raised_at,
            success_already_recorded,
        })) => {
            let event = match (event_type, event_payload, event_raised_at) {
                (Some(event_type), Some(data), Some(raised_at)) => {
                    Some((event_type, data, raised_at))
                }
                _ => None,
            };
            Ok((target, event, success_already_recorded))
        }
    }
}

async fn deliver(ctx: &JobContext, providers: &Providers) -> Outcome {
    let delivery: Delivery = match ctx.payload() {
        Ok(delivery) => delivery,
        Err(outcome) => return outcome,
    };
    let organization = ctx.job.organization_id;
    let (target, event, success_already_recorded) = match load(ctx, &delivery).await {
        Ok(loaded) => loaded,
        Err(outcome) => return outcome,
    };
    let Some((event_type, data, raised_at)) = event else {
        return fail("The event no longer exists.");
    };
    if !target.receiving {
        return fail(format!(
            "Webhook \"{}\" is switched off or in error; switch it on to deliver again.",
            target.webhook_name
        ));
    }
    let Some(event_type) = WebhookEvent::parse(&event_type) else {
        return fail(format!("Unknown event type {event_type:?}."));
    };
    let Opened {
        secrets,
        headers: custom_headers,
    } = match opened(providers, &target) {
        Ok(opened) => opened,
        Err(outcome) => return outcome,
    };
    let body = crate::domain::webhooks::envelope(delivery.event_id, event_type, raised_at, &data);
    let Ok(text) = serde_json::to_string(&body) else {
        return fail("The event cannot be written as JSON.");
    };
    // stable across every attempt and resend of this event
    let message_id = format!("msg_{}", delivery.event_id.simple());
    let timestamp = chrono::Utc::now().timestamp();
    let secret_refs: Vec<&str> = secrets.iter().map(String::as_str).collect();
    let Some(signature) =
        signing::signature_header(&secret_refs, &message_id, timestamp, text.as_bytes())
    else {
        return fail("The webhook's secret is not a valid whsec_ secret: rotate it.");
    };
    let mut headers = custom_headers;
    headers.push(("webhook-id".into(), message_id.clone()));
    headers.push(("webhook-timestamp".into(), timestamp.to_string()));
    headers.push(("webhook-signature".into(), signature));
    let request = CallRequest {
        method: crate::domain::HttpMethod::Post,
        url: target.webhook_url.clone(),
        headers,
        body: Some(CallBody::Json(body)),
    };
    let record = CallRecord {
        organization_id: organization,
        integration_id: None,
        api_name: "webhook".into(),
        retry_count: ctx.job.attempts,
        metadata: json!({
            "job_id": ctx.job.id,
            "attempt": ctx.job.attempts,
            "webhook_id": target.id,
            "event_id": delivery.event_id,
            "event_type": event_type.as_str(),
        }),
    };
    let timeout = Duration::from_secs(target.timeout.max(1) as u64);
    let result = match SandboxReceiver::of_url(&target.webhook_url) {
        Ok(Some(receiver)) => {
            let roll = rand::thread_rng().gen_range(0..100);
            let (status, body) = sandbox::answer(receiver, &request, &secrets[0], timestamp, roll);
            record_call(&ctx.db, &record, &request, async move {
                Ok::<_, SendError>((status, body, None))
            })
            .await
        }
        _ => {
            providers
                .outbound
                .call_logged(&ctx.db, &record, &request, timeout, Redirects::Refused)
                .await
        }
    };
    let last_attempt = ctx.job.attempts >= ctx.job.max_attempts;
    let (outcome, end) = match &result {
        Ok(answer) if (200..300).contains(&answer.status) => (
            Outcome::Completed(Some(json!({
                "status": answer.status,
                "api_log_id": answer.log_id,
                "webhook_id": target.id,
                "message_id": message_id,
            }))),
            AttemptEnd::Delivered,
        ),
        Ok(answer) if answer.status == 410 => (
            fail(format!(
                "The receiver answered 410 Gone: webhook \"{}\" is switched off.",
                target.webhook_name
            )),
            AttemptEnd::Gone,
        ),
        _ => {
            let outcome = crate::server::outbound::outcome::of_call(&result, "webhook")
                .unwrap_or_else(|| fail("The receiver's answer was not a success."));
            // every failure but a refused destination is worth another
            // attempt while any are left (a receiver's 4xx may be passing)
            let refused = matches!(
                result,
                Err(CallError::Send {
                    error: SendError::Refused(_),
                    ..
                })
            );
            let outcome = match outcome {
                Outcome::Fail(error) if !refused => Outcome::Retry(error),
                other => other,
            };
            let end = match (&outcome, last_attempt) {
                (Outcome::Snooze(_), _) => AttemptEnd::WillRetry,
                (Outcome::Retry(_), false) => AttemptEnd::WillRetry,
                _ => AttemptEnd::DeliveryFailed,
            };
            (outcome, end)
        }
    };
    if end == AttemptEnd::Delivered && success_already_recorded {
        return outcome;
    }
    let recorded = async {
        let mut tx = ctx.begin().await?;
        repo::record_attempt(&mut tx, organization, target.id, ctx.job.attempts, end).await?;
        tx.commit().await
    }
    .await;
    if let Err(error) = recorded {
        tracing::warn!(webhook = %target.id, error = %crate::server::db::loggable(&error), "a delivery's outcome could not be counted");
    }
    outcome
}
