//! SQL for webhook configurations. Secrets and header values are read
//! only sealed, and only for a delivery or an admin's reveal.

use crate::domain::webhooks::{ValidWebhook, WebhookDetail};
use crate::domain::{Cursor, WebhookRow, WebhookStatus};
use crate::server::db::{list, Tx};
use crate::server::secrets::Sealed;
use uuid::Uuid;

/// One page of webhooks, newest first.
pub async fn list(
    tx: &mut Tx,
    organization_id: Option<Uuid>,
    status: Option<WebhookStatus>,
    cursor: Option<Cursor>,
) -> Result<Vec<WebhookRow>, sqlx::Error> {
    let mut query = list::select(
        "w.id, w.organization_id, o.name as organization_name, w.webhook_name, w.webhook_url,
         w.event_type, w.status, w.is_active, (w.secret_encrypted is not null) as has_secret,
         w.failure_count, w.last_triggered_at, w.last_success_at, w.last_failure_at, w.created_at",
        "webhooks w join organizations o on o.id = w.organization_id",
    );
    list::organization(&mut query, "w", organization_id);
    list::equals(
        &mut query,
        "w.status",
        status.map(|s| s.as_str().to_string()),
    );
    list::page(&mut query, "w", cursor);
    query.build_query_as().fetch_all(&mut **tx).await
}

/// Where a webhook's secret, rotated-out secret and custom headers are
/// sealed: bound to the row, so a sealed value copied to another row does
/// not open.
pub fn sealed_context(id: Uuid, what: &str) -> String {
    format!("webhooks/{id}/{what}")
}

/// Columns of a [`WebhookDetail`] from `webhooks w` and `organizations o`.
const DETAIL_COLUMNS: &str = "w.id, w.organization_id, o.name as organization_name, w.webhook_name,
     w.webhook_url, w.event_type, w.status, w.is_active, w.secret_hint, w.previous_secret_until,
     coalesce(w.headers, '{}') as headers, w.timeout, w.max_retries, w.disable_after_failures,
     w.retry_count, w.failure_count, w.last_triggered_at, w.last_success_at, w.last_failure_at,
     w.created_at";

/// One webhook, if `organization_id` (any when `None`) has it.
pub async fn get(
    tx: &mut Tx,
    organization_id: Option<Uuid>,
    id: Uuid,
) -> Result<Option<WebhookDetail>, sqlx::Error> {
    sqlx::query_as(&format!(
        "select {DETAIL_COLUMNS}
         from webhooks w join organizations o on o.id = w.organization_id
         where w.id = $1 and ($2::uuid is null or w.organization_id = $2)"
    ))
    .bind(id)
    .bind(organization_id)
    .fetch_optional(&mut **tx)
    .await
}

/// A webhook's fields as saved from the form, beside what is sealed.
pub struct SavedWebhook<'a> {
    /// The checked form.
    pub form: &'a ValidWebhook,
    /// The custom headers, sealed, and their names with masked values
    /// (`None`: keep the stored ones).
    pub headers: Option<(Sealed, serde_json::Value)>,
}

/// Stores a new webhook of `organization_id` with its first secret.
pub async fn insert(
    tx: &mut Tx,
    organization_id: Uuid,
    id: Uuid,
    saved: &SavedWebhook<'_>,
    secret: &Sealed,
    secret_hint: &str,
) -> Result<(), sqlx::Error> {
    let (headers_sealed, header_hints) = match &saved.headers {
        Some((sealed, hints)) => (Some(sealed), hints.clone()),
        None => (None, serde_json::json!({})),
    };
    sqlx::query(
        "insert into webhooks
           (id, organization_id, webhook_name, webhook_url, event_type, timeout, max_retries,
            disable_after_failures, headers, headers_encrypted, headers_key_id,
            secret_encrypted, secret_key_id, secret_hint)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
    )
    .bind(id)
    .bind(organization_id)
    .bind(&saved.form.name)
    .bind(&saved.form.url)
    .bind(saved.form.event_type.as_str())
    .bind(saved.form.timeout)
    .bind(saved.form.max_retries)
    .bind(saved.form.disable_after_failures)
    .bind(header_hints)
    .bind(headers_sealed.map(|s| s.data.clone()))
    .bind(headers_sealed.map(|s| s.key_id.clone()))
    .bind(&secret.data)
    .bind(&secret.key_id)
    .bind(secret_hint)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Changes webhook `id` of `organization_id`; whether there was one.
pub async fn update(
    tx: &mut Tx,
    organization_id: Uuid,
    id: Uuid,
    saved: &SavedWebhook<'_>,
) -> Result<bool, sqlx::Error> {
    let updated = sqlx::query(
        "update webhooks set
           webhook_name = $3, webhook_url = $4, event_type = $5, timeout = $6, max_retries = $7,
           disable_after_failures = $8,
           headers = coalesce($9, headers),
           headers_encrypted = case when $9 is null then headers_encrypted else $10 end,
           headers_key_id = case when $9 is null then headers_key_id else $11 end
         where organization_id = $1 and id = $2",
    )
    .bind(organization_id)
    .bind(id)
    .bind(&saved.form.name)
    .bind(&saved.form.url)
    .bind(saved.form.event_type.as_str())
    .bind(saved.form.timeout)
    .bind(saved.form.max_retries)
    .bind(saved.form.disable_after_failures)
    .bind(saved.headers.as_ref().map(|(_, hints)| hints.clone()))
    .bind(
        saved
            .headers
            .as_ref()
            .map(|(sealed, _)| sealed.data.clone()),
    )
    .bind(
        saved
            .headers
            .as_ref()
            .map(|(sealed, _)| sealed.key_id.clone()),
    )
    .execute(&mut **tx)
    .await?;
    Ok(updated.rows_affected() == 1)
}

/// Switches webhook `id` on (active again, its run of failures forgotten)
/// or off; whether there was one.
pub async fn set_enabled(
    tx: &mut Tx,
    organization_id: Uuid,
    id: Uuid,
    enabled: bool,
) -> Result<bool, sqlx::Error> {
    let updated = sqlx::query(
        "update webhooks set
           is_active = $3,
           status = case when $3 then 'active' else 'inactive' end,
           failure_count = case when $3 then 0 else failure_count end
         where organization_id = $1 and id = $2",
    )
    .bind(organization_id)
    .bind(id)
    .bind(enabled)
    .execute(&mut **tx)
    .await?;
    Ok(updated.rows_affected() == 1)
}

/// Makes `secret` webhook `id`'s signing secret; the one it replaces keeps
/// signing beside it until `previous_until`.
pub async fn rotate_secret(
    tx: &mut Tx,
    organization_id: Uuid,
    id: Uuid,
    secret: &Sealed,
    previous: Option<&Sealed>,
    secret_hint: &str,
    previous_until: chrono::DateTime<chrono::Utc>,
) -> Result<bool, sqlx::Error> {
    let updated = sqlx::query(
        "update webhooks set
           previous_secret_encrypted = $6, previous_secret_key_id = $7,
           previous_secret_until = case when $6 is null then null else $8 end,
           secret_encrypted = $3, secret_key_id = $4, secret_hint = $5
         where organization_id = $1 and id = $2",
    )
    .bind(organization_id)
    .bind(id)
    .bind(&secret.data)
    .bind(&secret.key_id)
    .bind(secret_hint)
    .bind(previous.map(|p| p.data.clone()))
    .bind(previous.map(|p| p.key_id.clone()))
    .bind(previous_until)
    .execute(&mut **tx)
    .await?;
    Ok(updated.rows_affected() == 1)
}

/// Deletes webhook `id` of `organization_id`; whether there was one.
pub async fn delete(tx: &mut Tx, organization_id: Uuid, id: Uuid) -> Result<bool, sqlx::Error> {
    let deleted = sqlx::query("delete from webhooks where organization_id = $1 and id = $2")
        .bind(organization_id)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(deleted.rows_affected() == 1)
}

/// Webhook `id`'s current signing secret, sealed; `None` when it has none.
pub async fn current_secret(
    tx: &mut Tx,
    organization_id: Uuid,
    id: Uuid,
) -> Result<Option<Sealed>, sqlx::Error> {
    let sealed: Option<(Option<Vec<u8>>, Option<String>)> = sqlx::query_as(
        "select secret_encrypted, secret_key_id from webhooks where organization_id = $1 and id = $2",
    )
    .bind(organization_id)
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(match sealed {
        Some((Some(data), Some(key_id))) => Some(Sealed { key_id, data }),
        _ => None,
    })
}

/// Everything a delivery needs of a webhook, sealed parts included.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DeliveryTarget {
    /// Its id.
    pub id: Uuid,
    /// Whose.
    pub organization_id: Uuid,
    /// Its name.
    pub webhook_name: String,
    /// Where it posts.
    pub webhook_url: String,
    /// Switched on and not in error.
    pub receiving: bool,
    /// Seconds per attempt.
    pub timeout: i32,
    /// Failed deliveries in a row before it stops.
    pub disable_after_failures: i32,
    /// The current secret, sealed, and its key id.
    pub secret_encrypted: Option<Vec<u8>>,
    pub secret_key_id: Option<String>,
    /// The rotated-out secret while it still signs.
    pub previous_secret_encrypted: Option<Vec<u8>>,
    pub previous_secret_key_id: Option<String>,
    /// The custom headers, sealed.
    pub headers_encrypted: Option<Vec<u8>>,
    pub headers_key_id: Option<String>,
}

/// Whether recording a successful attempt numbered `attempt` (a
/// placeholder) changes what a person reads of a webhook's row by more
/// than the second the console shows. At hundreds of deliveries a second
/// to one webhook, rewriting its row for each would queue them all on its
/// lock; a success changing nothing is not written. (A time never set
/// counts as a change: the condition is never NULL.)
fn success_changes_the_row(attempt: &str) -> String {
    format!(
        "(retry_count <> {attempt} or failure_count <> 0
          or coalesce(last_success_at < now() - interval '1 second', true)
          or coalesce(last_triggered_at < now() - interval '1 second', true))"
    )
}

/// A delivery's webhook and its event, read with one statement.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Delivering {
    /// The webhook.
    #[sqlx(flatten)]
    pub target: DeliveryTarget,
    /// The event's type; `None` when the organization has no such event.
    pub event_type: Option<String>,
    /// The event's data.
    pub event_payload: Option<serde_json::Value>,
    /// When the event was raised.
    pub event_raised_at: Option<chrono::DateTime<chrono::Utc>>,
    /// A success of this attempt would change nothing [`record_attempt`]
    /// writes (a success within the second, no failures, the same attempt
    /// number): the delivery need not write it.
    pub success_already_recorded: bool,
}

/// Webhook `id` of `organization_id` as a delivery needs it (the
/// rotated-out secret only while its grace period lasts), with event
/// `event_id` of the same organization, for attempt `attempt`.
pub async fn delivering(
    tx: &mut Tx,
    organization_id: Uuid,
    id: Uuid,
    event_id: Uuid,
    attempt: i32,
) -> Result<Option<Delivering>, sqlx::Error> {
    sqlx::query_as(&format!(
        "select w.id, w.organization_id, w.webhook_name, w.webhook_url,
                (w.is_active and w.status = 'active') as receiving, w.timeout,
                w.disable_after_failures, w.secret_encrypted, w.secret_key_id,
                case when w.previous_secret_until > now() then w.previous_secret_encrypted end
                  as previous_secret_encrypted,
                case when w.previous_secret_until > now() then w.previous_secret_key_id end
                  as previous_secret_key_id,
                w.headers_encrypted, w.headers_key_id,
                e.event_type, e.payload as event_payload, e.created_at as event_raised_at,
                not {} as success_already_recorded
         from webhooks w
         left join webhook_events e on e.organization_id = $1 and e.id = $3
         where w.organization_id = $1 and w.id = $2",
        success_changes_the_row("$4")
    ))
    .bind(organization_id)
    .bind(id)
    .bind(event_id)
    .bind(attempt)
    .fetch_optional(&mut **tx)
    .await
}

/// How one attempt of a delivery ended, for the webhook's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptEnd {
    /// Delivered (2xx): the run of failures ends.
    Delivered,
    /// Failed, another attempt follows.
    WillRetry,
    /// Failed for good: one more failed delivery in a row; at the
    /// webhook's limit it goes to `error` and stops receiving.
    DeliveryFailed,
    /// 410 Gone: the receiver asked never to be called again.
    Gone,
}

/// Records attempt `attempt` of a delivery to webhook `id`.
pub async fn record_attempt(
    tx: &mut Tx,
    organization_id: Uuid,
    id: Uuid,
    attempt: i32,
    end: AttemptEnd,
) -> Result<(), sqlx::Error> {
    let statement = match end {
        AttemptEnd::Delivered => &format!(
            "update webhooks set retry_count = $3, last_triggered_at = now(),
               last_success_at = now(), failure_count = 0
             where organization_id = $1 and id = $2 and {}",
            success_changes_the_row("$3")
        ),
        AttemptEnd::WillRetry => {
            "update webhooks set retry_count = $3, last_triggered_at = now()
             where organization_id = $1 and id = $2"
        }
        AttemptEnd::DeliveryFailed => {
            "update webhooks set retry_count = $3, last_triggered_at = now(),
               last_failure_at = now(), failure_count = failure_count + 1,
               status = case when failure_count + 1 >= disable_after_failures then 'error'
                             else status end
             where organization_id = $1 and id = $2"
        }
        AttemptEnd::Gone => {
            "update webhooks set retry_count = $3, last_triggered_at = now(),
               last_failure_at = now(), failure_count = failure_count + 1,
               is_active = false, status = 'inactive'
             where organization_id = $1 and id = $2"
        }
    };
    sqlx::query(statement)
        .bind(organization_id)
        .bind(id)
        .bind(attempt)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The sealed parts of a webhook, by the name their seal is bound to
/// ([`sealed_context`]) and the columns that hold them.
const SEALED_PARTS: [(&str, &str, &str); 3] = [
    ("secret", "secret_encrypted", "secret_key_id"),
    (
        "previous_secret",
        "previous_secret_encrypted",
        "previous_secret_key_id",
    ),
    ("headers", "headers_encrypted", "headers_key_id"),
];

/// Every sealed part of every webhook: (webhook, part, sealed), for a key
/// rotation.
pub async fn all_sealed(tx: &mut Tx) -> Result<Vec<(Uuid, &'static str, Sealed)>, sqlx::Error> {
    let mut parts = Vec::new();
    for (part, data, key_id) in SEALED_PARTS {
        let rows: Vec<(Uuid, Vec<u8>, String)> = sqlx::query_as(&format!(
            "select id, {data}, {key_id} from webhooks
             where {data} is not null and {key_id} is not null order by id"
        ))
        .fetch_all(&mut **tx)
        .await?;
        parts.extend(
            rows.into_iter()
                .map(|(id, data, key_id)| (id, part, Sealed { key_id, data })),
        );
    }
    Ok(parts)
}

/// Replaces part `part` of webhook `id` with `sealed` (after a key
/// rotation).
pub async fn reseal(tx: &mut Tx, id: Uuid, part: &str, sealed: &Sealed) -> Result<(), sqlx::Error> {
    let Some((_, data, key_id)) = SEALED_PARTS.iter().find(|(name, ..)| *name == part) else {
        return Ok(());
    };
    sqlx::query(&format!(
        "update webhooks set {data} = $2, {key_id} = $3 where id = $1"
    ))
    .bind(id)
    .bind(&sealed.data)
    .bind(&sealed.key_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The events whose delivery to webhook `webhook_id` of `organization_id`
/// failed for good since `since` and that are not on their way again (no
/// pending, running or completed delivery to it since): what a replay
/// sends. The index `jobs_webhook_deliveries_idx` serves both tests.
const FAILED_EVENTS: &str = "
  from jobs j
  where j.organization_id = $1 and j.job_type = 'webhook'
    and j.payload ->> 'webhook_id' = $2::text
    and j.status = 'failed' and j.failed_at >= $3
    and not exists (
      select 1 from jobs k
      where k.organization_id = $1 and k.job_type = 'webhook'
        and k.payload ->> 'webhook_id' = $2::text
        and k.payload ->> 'event_id' = j.payload ->> 'event_id'
        and k.status in ('pending', 'running', 'completed'))";

/// How many events a replay of webhook `webhook_id`'s failed deliveries
/// since `since` would send.
pub async fn failed_events_count(
    tx: &mut Tx,
    organization_id: Uuid,
    webhook_id: Uuid,
    since: chrono::DateTime<chrono::Utc>,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(&format!(
        "select count(distinct j.payload ->> 'event_id') {FAILED_EVENTS}"
    ))
    .bind(organization_id)
    .bind(webhook_id)
    .bind(since)
    .fetch_one(&mut **tx)
    .await
}

/// The oldest `limit` of those events, by their failure's time.
pub async fn failed_events(
    tx: &mut Tx,
    organization_id: Uuid,
    webhook_id: Uuid,
    since: chrono::DateTime<chrono::Utc>,
    limit: i64,
) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar(&format!(
        "select e.event_id from (
           select (j.payload ->> 'event_id')::uuid as event_id, min(j.failed_at) as failed_at
           {FAILED_EVENTS}
           group by 1
         ) e
         order by e.failed_at, e.event_id
         limit $4"
    ))
    .bind(organization_id)
    .bind(webhook_id)
    .bind(since)
    .bind(limit)
    .fetch_all(&mut **tx)
    .await
}
