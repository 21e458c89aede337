//! `POST /api/v1/events`: the bank's case system publishes an event for
//! the organization its API key belongs to. `Authorization: Bearer vjk_…`
//! (401 without a known, unrevoked key), `Idempotency-Key` (a repeat with
//! the same body answers as the first and delivers nothing twice; the same
//! key with another body is a 409), a JSON body `{"type", "data"}` (422
//! otherwise, in JSON). Accepted events go to the outbox and on to every
//! subscribed webhook of that organization — of no other.

use crate::domain::api_keys::KEY_PREFIX;
use crate::domain::WebhookEvent;
use crate::server::db::{Database, Scope};
use axum::body::Bytes;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use base64::Engine;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// Longest body accepted.
pub const MAX_EVENT_BYTES: usize = 256 * 1024;

/// A new key: `vjk_` and 32 random bytes, base64url.
pub fn new_key() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!(
        "{KEY_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// The characters of `key` the console shows to tell keys apart.
pub fn prefix_of(key: &str) -> String {
    key.chars().take(KEY_PREFIX.len() + 8).collect()
}

/// What is stored of a key.
pub fn hash_of(key: &str) -> Vec<u8> {
    Sha256::digest(key.as_bytes()).to_vec()
}

fn refused(status: StatusCode, error: &str, message: impl Into<String>) -> Response {
    (
        status,
        Json(json!({ "error": error, "message": message.into() })),
    )
        .into_response()
}

/// Whether `event` may be published from outside (the system's own
/// events are raised by the system).
fn publishable(event: WebhookEvent) -> bool {
    !event.as_str().contains('.')
}

/// The endpoint.
pub async fn publish(
    Extension(db): Extension<Database>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(key) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|k| k.starts_with(KEY_PREFIX))
    else {
        return refused(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Send your organization's API key as `Authorization: Bearer vjk_…`.",
        );
    };
    let Some(idempotency_key) = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|k| (1..=255).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic()))
    else {
        return refused(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
            "Send an Idempotency-Key header: 1 to 255 visible characters, the same for a retry of the same event.",
        );
    };
    if body.len() > MAX_EVENT_BYTES {
        return refused(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("An event is at most {} KiB.", MAX_EVENT_BYTES / 1024),
        );
    }
    let event = match parse(&body) {
        Ok(event) => event,
        Err(message) => return refused(StatusCode::UNPROCESSABLE_ENTITY, "invalid_event", message),
    };
    let owner = async {
        let mut tx = db.begin(Scope::bank()).await?;
        let owner = crate::server::repo::api_keys::owner_of(&mut tx, &hash_of(key)).await?;
        tx.commit().await?;
        Ok::<_, sqlx::Error>(owner)
    }
    .await;
    let organization = match owner {
        Ok(Some(organization)) => organization,
        Ok(None) => {
            return refused(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "Unknown or revoked API key.",
            )
        }
        Err(error) => return unavailable(&error),
    };
    let request_hash = hex(&Sha256::digest(&body));
    // a concurrent twin may insert first: then this one answers as the repeat
    for _ in 0..2 {
        match accept(&db, organization, &event, idempotency_key, &request_hash).await {
            Ok(answer) => return answer,
            Err(error)
                if error
                    .as_database_error()
                    .is_some_and(|e| e.is_unique_violation()) =>
            {
                continue
            }
            Err(error) => return unavailable(&error),
        }
    }
    refused(
        StatusCode::CONFLICT,
        "conflict",
        "Another request with this Idempotency-Key is being handled; retry.",
    )
}

fn unavailable(error: &sqlx::Error) -> Response {
    tracing::error!(error = %crate::server::db::loggable(error), "an event could not be recorded");
    refused(
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
        "The event could not be recorded; retry with the same Idempotency-Key.",
    )
}

/// A published event: its type and data.
struct Published {
    event_type: WebhookEvent,
    data: Value,
}

fn parse(body: &[u8]) -> Result<Published, String> {
    let document: Value = serde_json::from_slice(body).map_err(|_| {
        "The body is not JSON: send {\"type\": \"case_created\", \"data\": {…}}.".to_string()
    })?;
    let Some(kind) = document.get("type").and_then(Value::as_str) else {
        return Err("The event needs a \"type\", such as \"case_created\".".into());
    };
    let event_type = WebhookEvent::parse(kind)
        .ok_or_else(|| format!("Unknown event type {kind:?}: see the event catalogue."))?;
    if !publishable(event_type) {
        return Err(format!(
            "{kind} is raised by Veriphy Jobs itself; publish case and document events."
        ));
    }
    let data = document.get("data").cloned().unwrap_or(Value::Null);
    if !data.is_object() {
        return Err("The event needs \"data\": a JSON object.".into());
    }
    Ok(Published { event_type, data })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Records the event for `organization` unless its Idempotency-Key was
/// seen: the first answer again for the same body, a 409 for another.
async fn accept(
    db: &Database,
    organization: Uuid,
    event: &Published,
    idempotency_key: &str,
    request_hash: &str,
) -> Result<Response, sqlx::Error> {
    let mut tx = db.begin(Scope::organization(organization)).await?;
    let seen: Option<(Uuid, Option<String>)> = sqlx::query_as(
        "select id, request_hash from webhook_events
         where organization_id = $1 and idempotency_key = $2",
    )
    .bind(organization)
    .bind(idempotency_key)
    .fetch_optional(&mut *tx)
    .await?;
    let answer = match seen {
        Some((id, hash)) if hash.as_deref() == Some(request_hash) => {
            (StatusCode::ACCEPTED, Json(json!({ "id": id }))).into_response()
        }
        Some(_) => refused(
            StatusCode::CONFLICT,
            "idempotency_key_reused",
            "This Idempotency-Key was used with another body.",
        ),
        None => {
            let (id, _) = crate::server::webhooks::raise(
                &mut tx,
                organization,
                event.event_type,
                &event.data,
                crate::server::webhooks::EventSource::Api {
                    idempotency_key,
                    request_hash,
                },
            )
            .await?;
            (StatusCode::ACCEPTED, Json(json!({ "id": id }))).into_response()
        }
    };
    tx.commit().await?;
    Ok(answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_long_random_and_told_apart_by_their_prefix() {
        let (a, b) = (new_key(), new_key());
        assert_ne!(a, b);
        assert!(a.starts_with("vjk_") && a.len() == 4 + 43, "{a}");
        assert_eq!(prefix_of(&a).len(), 12);
        assert_eq!(hash_of(&a).len(), 32);
    }

    #[test]
    fn only_case_and_document_events_are_published_from_outside() {
        assert!(parse(br#"{"type": "case_created", "data": {"case_id": "C-1"}}"#).is_ok());
        assert_eq!(
            parse(br#"{"type": "job.completed", "data": {}}"#)
                .err()
                .unwrap(),
            "job.completed is raised by Veriphy Jobs itself; publish case and document events."
        );
        assert_eq!(
            parse(br#"{"type": "case_created", "data": 3}"#)
                .err()
                .unwrap(),
            "The event needs \"data\": a JSON object."
        );
    }
}
