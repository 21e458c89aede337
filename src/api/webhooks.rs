//! The webhooks tab.

use crate::domain::{ListQuery, Page, WebhookRow};
use crate::error::AppError;
use leptos::prelude::*;

/// Webhook configurations, newest first, in the caller's scope; `status` filters by [`crate::domain::WebhookStatus`].
#[server(endpoint = "list_webhooks")]
pub async fn list_webhooks(
    #[server(default)] query: ListQuery,
) -> Result<Page<WebhookRow>, AppError> {
    use crate::domain::{Cursor, WebhookStatus};
    use crate::server::repo::webhooks;
    let mut request = super::listing::begin(query, WebhookStatus::parse, &[]).await?;
    let rows = webhooks::list(
        &mut request.tx,
        request.organization_id,
        request.status,
        request.cursor,
    )
    .await?;
    super::listing::finish(request.tx, rows, |row| Cursor {
        created_at: row.created_at,
        id: row.id,
    })
    .await
}
