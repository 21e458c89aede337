//! SQL for webhook configurations. The secret column is never selected.

use crate::domain::{Cursor, WebhookRow, WebhookStatus};
use crate::server::db::{list, Tx};
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
         w.event_type, w.status, w.is_active, (w.secret is not null) as has_secret,
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
