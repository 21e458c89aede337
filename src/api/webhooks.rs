//! The webhooks tab.

use crate::domain::{ListQuery, Page, WebhookRow};
use crate::error::AppError;
use leptos::prelude::*;

/// Webhook configurations, newest first, in the caller's scope; `status` filters by [`crate::domain::WebhookStatus`].
#[server(endpoint = "list_webhooks")]
pub async fn list_webhooks(
    #[server(default)] query: ListQuery,
) -> Result<Page<WebhookRow>, AppError> {
    page(&super::listing::Reader::caller().await?, query).await
}

/// One page of the list for `reader` (the server function's, or a pushed
/// view's).
#[cfg(feature = "ssr")]
pub(crate) async fn page(
    reader: &super::listing::Reader,
    query: ListQuery,
) -> Result<Page<WebhookRow>, AppError> {
    use crate::domain::WebhookStatus;
    use crate::server::repo::webhooks;
    let mut request = super::listing::begin(reader, query, WebhookStatus::parse, &[]).await?;
    let rows = webhooks::list(
        &mut request.tx,
        request.organization_id,
        request.status,
        request.cursor,
    )
    .await?;
    super::listing::finish(request.tx, rows).await
}

/// One webhook: never its secret or header values.
#[server(endpoint = "webhook_detail")]
pub async fn webhook_detail(
    id: uuid::Uuid,
) -> Result<crate::domain::webhooks::WebhookDetail, AppError> {
    use crate::server::auth::require_caller;
    use crate::server::repo::webhooks;
    let caller = require_caller().await?;
    let mut tx = caller.begin().await?;
    let webhook = webhooks::get(&mut tx, caller.organization_filter(None), id)
        .await?
        .ok_or(AppError::NotFound)?;
    tx.commit().await?;
    Ok(webhook)
}

/// The webhook `id` of the caller's scope, for writers; its organization.
#[cfg(feature = "ssr")]
async fn writable(
    caller: &crate::server::auth::Caller,
    tx: &mut crate::server::db::Tx,
    id: uuid::Uuid,
) -> Result<crate::domain::webhooks::WebhookDetail, AppError> {
    caller.require_write()?;
    crate::server::repo::webhooks::get(tx, caller.organization_filter(None), id)
        .await?
        .ok_or(AppError::NotFound)
}

/// Refuses a delivery to a webhook that is switched off or in error.
#[cfg(feature = "ssr")]
fn receiving(webhook: &crate::domain::webhooks::WebhookDetail) -> Result<(), AppError> {
    if webhook.is_active && webhook.status == crate::domain::WebhookStatus::Active {
        Ok(())
    } else {
        Err(AppError::invalid(
            "The webhook is switched off or in error: switch it on first.",
        ))
    }
}

/// Creates a webhook (`id` empty: with a new signing secret, shown once in
/// the answer) or changes one. Refused: an invalid form, a reserved
/// header, a URL inside the bank's network or not https (unless
/// allowlisted), another organization's webhook.
#[server(endpoint = "save_webhook")]
pub async fn save_webhook(
    #[server(default)] id: Option<uuid::Uuid>,
    form: crate::domain::webhooks::WebhookForm,
) -> Result<SavedWebhookAnswer, AppError> {
    use crate::domain::webhooks::SandboxReceiver;
    use crate::server::auth::require_caller;
    use crate::server::repo::webhooks::{self, SavedWebhook};
    use crate::server::webhooks::{new_sealed_secret, sealed_headers};
    let caller = require_caller().await?;
    caller.require_write()?;
    let valid = form.validate().map_err(AppError::Invalid)?;
    let providers = super::integrations::providers().await?;
    if matches!(SandboxReceiver::of_url(&valid.url), Ok(None)) {
        providers
            .outbound
            .check_destination(&valid.url, None)
            .await
            .map_err(|refusal| AppError::invalid(refusal.to_string()))?;
    }
    let mut tx = caller.begin().await?;
    let (webhook_id, organization_id) = match id {
        Some(id) => (id, writable(&caller, &mut tx, id).await?.organization_id),
        None => (
            uuid::Uuid::new_v4(),
            caller.target_organization(valid.organization_id)?,
        ),
    };
    let headers = valid
        .headers
        .as_ref()
        .map(|headers| sealed_headers(&providers.keyring, webhook_id, headers));
    let saved = SavedWebhook {
        form: &valid,
        headers,
    };
    let secret = match id {
        Some(_) => {
            if !webhooks::update(&mut tx, organization_id, webhook_id, &saved).await? {
                return Err(AppError::NotFound);
            }
            None
        }
        None => {
            let (secret, sealed, hint) = new_sealed_secret(&providers.keyring, webhook_id);
            webhooks::insert(&mut tx, organization_id, webhook_id, &saved, &sealed, &hint).await?;
            Some(secret)
        }
    };
    caller
        .audit(
            &mut tx,
            Some(organization_id),
            if id.is_none() {
                "webhook.create"
            } else {
                "webhook.update"
            },
            "webhook",
            webhook_id.to_string(),
            serde_json::json!({
                "name": valid.name,
                "url": valid.url,
                "event_type": valid.event_type.as_str(),
                "headers_changed": valid.headers.is_some(),
            }),
        )
        .await?;
    tx.commit().await?;
    Ok(SavedWebhookAnswer {
        id: webhook_id,
        secret,
    })
}

/// What saving a webhook answers: its id and, for a new one, its secret
/// (shown once; admins can reveal it later).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SavedWebhookAnswer {
    /// The webhook.
    pub id: uuid::Uuid,
    /// A new webhook's signing secret.
    pub secret: Option<String>,
}

/// Switches a webhook on (active, its run of failures forgotten) or off.
#[server(endpoint = "set_webhook_enabled")]
pub async fn set_webhook_enabled(id: uuid::Uuid, enabled: bool) -> Result<String, AppError> {
    use crate::server::auth::require_caller;
    use crate::server::repo::webhooks;
    let caller = require_caller().await?;
    let mut tx = caller.begin().await?;
    let webhook = writable(&caller, &mut tx, id).await?;
    webhooks::set_enabled(&mut tx, webhook.organization_id, id, enabled).await?;
    caller
        .audit(
            &mut tx,
            Some(webhook.organization_id),
            if enabled {
                "webhook.enable"
            } else {
                "webhook.disable"
            },
            "webhook",
            id.to_string(),
            serde_json::json!({ "name": webhook.webhook_name }),
        )
        .await?;
    tx.commit().await?;
    Ok(if enabled {
        format!("Webhook \"{}\" is on.", webhook.webhook_name)
    } else {
        format!("Webhook \"{}\" is off.", webhook.webhook_name)
    })
}

/// How long a rotated-out secret keeps signing beside the new one.
pub const ROTATION_GRACE_HOURS: i64 = 24;

/// Gives a webhook a new signing secret (returned once); the old one keeps
/// signing beside it for [`ROTATION_GRACE_HOURS`].
#[server(endpoint = "rotate_webhook_secret")]
pub async fn rotate_webhook_secret(id: uuid::Uuid) -> Result<String, AppError> {
    use crate::server::auth::require_caller;
    use crate::server::repo::webhooks::{self, sealed_context};
    let caller = require_caller().await?;
    let providers = super::integrations::providers().await?;
    let mut tx = caller.begin().await?;
    let webhook = writable(&caller, &mut tx, id).await?;
    let current = webhooks::current_secret(&mut tx, webhook.organization_id, id).await?;
    // the old secret, sealed again for its new place (the seal is bound to it)
    let previous = current.and_then(|sealed| {
        providers
            .keyring
            .open(&sealed, &sealed_context(id, "secret"))
            .ok()
            .map(|old| {
                providers
                    .keyring
                    .seal(&old, &sealed_context(id, "previous_secret"))
            })
    });
    let (secret, sealed, hint) = crate::server::webhooks::new_sealed_secret(&providers.keyring, id);
    webhooks::rotate_secret(
        &mut tx,
        webhook.organization_id,
        id,
        &sealed,
        previous.as_ref(),
        &hint,
        chrono::Utc::now() + chrono::Duration::hours(ROTATION_GRACE_HOURS),
    )
    .await?;
    caller
        .audit(
            &mut tx,
            Some(webhook.organization_id),
            "webhook.rotate_secret",
            "webhook",
            id.to_string(),
            serde_json::json!({ "name": webhook.webhook_name, "grace_hours": ROTATION_GRACE_HOURS }),
        )
        .await?;
    tx.commit().await?;
    Ok(secret)
}

/// A webhook's current signing secret, for org admins and bank admins;
/// each reveal is audited.
#[server(endpoint = "reveal_webhook_secret")]
pub async fn reveal_webhook_secret(id: uuid::Uuid) -> Result<String, AppError> {
    use crate::server::auth::require_caller;
    use crate::server::repo::webhooks::sealed_context;
    let caller = require_caller().await?;
    let providers = super::integrations::providers().await?;
    let mut tx = caller.begin().await?;
    let webhook = writable(&caller, &mut tx, id).await?;
    let sealed =
        crate::server::repo::webhooks::current_secret(&mut tx, webhook.organization_id, id)
            .await?
            .ok_or_else(|| {
                AppError::invalid("This webhook has no signing secret yet: rotate it to make one.")
            })?;
    let secret = providers
        .keyring
        .open(&sealed, &sealed_context(id, "secret"))
        .map_err(|_| {
            AppError::invalid(
                "The secret cannot be opened with this server's key: rotate it to make a new one.",
            )
        })?;
    caller
        .audit(
            &mut tx,
            Some(webhook.organization_id),
            "webhook.reveal_secret",
            "webhook",
            id.to_string(),
            serde_json::json!({ "name": webhook.webhook_name }),
        )
        .await?;
    tx.commit().await?;
    Ok(secret)
}

/// Sends a webhook a `webhook.test` event now; says where to watch it.
#[server(endpoint = "send_test_webhook")]
pub async fn send_test_webhook(id: uuid::Uuid) -> Result<String, AppError> {
    use crate::server::auth::require_caller;
    let caller = require_caller().await?;
    let mut tx = caller.begin().await?;
    let webhook = writable(&caller, &mut tx, id).await?;
    receiving(&webhook)?;
    crate::server::webhooks::send_test(&mut tx, webhook.organization_id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    caller
        .audit(
            &mut tx,
            Some(webhook.organization_id),
            "webhook.test",
            "webhook",
            id.to_string(),
            serde_json::json!({ "name": webhook.webhook_name }),
        )
        .await?;
    tx.commit().await?;
    Ok("Test event sent: its delivery appears below.".into())
}

/// Deletes a webhook; its deliveries' log rows stay.
#[server(endpoint = "delete_webhook")]
pub async fn delete_webhook(id: uuid::Uuid) -> Result<String, AppError> {
    use crate::server::auth::require_caller;
    use crate::server::repo::webhooks;
    let caller = require_caller().await?;
    let mut tx = caller.begin().await?;
    let webhook = writable(&caller, &mut tx, id).await?;
    webhooks::delete(&mut tx, webhook.organization_id, id).await?;
    caller
        .audit(
            &mut tx,
            Some(webhook.organization_id),
            "webhook.delete",
            "webhook",
            id.to_string(),
            serde_json::json!({ "name": webhook.webhook_name }),
        )
        .await?;
    tx.commit().await?;
    Ok(format!("Deleted webhook \"{}\".", webhook.webhook_name))
}

/// A webhook's delivery attempts, newest first: each an API log row.
#[server(endpoint = "webhook_deliveries")]
pub async fn webhook_deliveries(
    id: uuid::Uuid,
) -> Result<Vec<crate::domain::ApiLogDetail>, AppError> {
    use crate::server::auth::require_caller;
    let caller = require_caller().await?;
    let mut tx = caller.begin().await?;
    let webhook = crate::server::repo::webhooks::get(&mut tx, caller.organization_filter(None), id)
        .await?
        .ok_or(AppError::NotFound)?;
    let attempts = crate::server::repo::api_logs::of_webhook(
        &mut tx,
        webhook.organization_id,
        id,
        DELIVERIES_SHOWN,
    )
    .await?;
    tx.commit().await?;
    Ok(attempts)
}

/// Delivery attempts a webhook's page lists.
pub const DELIVERIES_SHOWN: i64 = 50;

/// Delivers an event to a webhook again (a new delivery of the same event:
/// the same `webhook-id`, so the receiver can tell it is the same event).
#[server(endpoint = "resend_webhook_delivery")]
pub async fn resend_webhook_delivery(
    id: uuid::Uuid,
    event_id: uuid::Uuid,
) -> Result<String, AppError> {
    use crate::server::auth::require_caller;
    let caller = require_caller().await?;
    let mut tx = caller.begin().await?;
    let webhook = writable(&caller, &mut tx, id).await?;
    receiving(&webhook)?;
    crate::server::webhooks::resend(&mut tx, webhook.organization_id, id, event_id)
        .await?
        .ok_or(AppError::NotFound)?;
    caller
        .audit(
            &mut tx,
            Some(webhook.organization_id),
            "webhook.resend",
            "webhook",
            id.to_string(),
            serde_json::json!({ "name": webhook.webhook_name, "event_id": event_id }),
        )
        .await?;
    tx.commit().await?;
    Ok("Sent again: the new delivery appears above.".into())
}

/// The period a replay reaches back over, as the form sends it (`1h`,
/// `24h`, `7d`, `30d`).
#[cfg(feature = "ssr")]
fn replay_period(period: &str) -> Result<crate::domain::metrics::Period, AppError> {
    crate::domain::metrics::Period::parse(period)
        .ok_or_else(|| AppError::invalid("Choose a period: 1h, 24h, 7d or 30d."))
}

/// How many failed deliveries of a webhook over `period` a replay would
/// send again (events not already on their way again).
#[server(endpoint = "failed_deliveries_to_replay")]
pub async fn failed_deliveries_to_replay(id: uuid::Uuid, period: String) -> Result<i64, AppError> {
    use crate::server::auth::require_caller;
    use crate::server::repo::webhooks;
    let period = replay_period(&period)?;
    let caller = require_caller().await?;
    let mut tx = caller.begin().await?;
    let webhook = webhooks::get(&mut tx, caller.organization_filter(None), id)
        .await?
        .ok_or(AppError::NotFound)?;
    let since = period.start(chrono::Utc::now());
    let count = webhooks::failed_events_count(&mut tx, webhook.organization_id, id, since).await?;
    tx.commit().await?;
    Ok(count)
}

/// Sends a webhook again every event whose delivery failed over `period`
/// (at most [`crate::domain::webhooks::REPLAY_LIMIT`] per replay, oldest
/// first), each as a new delivery with its original `webhook-id`.
#[server(endpoint = "replay_failed_deliveries")]
pub async fn replay_failed_deliveries(id: uuid::Uuid, period: String) -> Result<String, AppError> {
    use crate::server::auth::require_caller;
    let period = replay_period(&period)?;
    let caller = require_caller().await?;
    let mut tx = caller.begin().await?;
    let webhook = writable(&caller, &mut tx, id).await?;
    receiving(&webhook)?;
    let since = period.start(chrono::Utc::now());
    let (sent, waiting) =
        crate::server::webhooks::replay_failed(&mut tx, webhook.organization_id, id, since).await?;
    if sent == 0 {
        return Err(AppError::invalid(format!(
            "No failed delivery to replay in the {}.",
            period.label().to_lowercase()
        )));
    }
    caller
        .audit(
            &mut tx,
            Some(webhook.organization_id),
            "webhook.replay",
            "webhook",
            id.to_string(),
            serde_json::json!({ "name": webhook.webhook_name, "period": period.as_str(), "deliveries": sent }),
        )
        .await?;
    tx.commit().await?;
    Ok(if (sent as i64) < waiting {
        format!(
            "Replaying the oldest {sent} of {waiting} failed deliveries; replay again for the rest."
        )
    } else if sent == 1 {
        "Replaying 1 failed delivery: it appears above as it is made.".to_string()
    } else {
        format!("Replaying {sent} failed deliveries: they appear above as they are made.")
    })
}
