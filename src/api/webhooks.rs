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
    use crate::domain::{Cursor, WebhookStatus};
    use crate::server::repo::webhooks;
    let mut request = super::listing::begin(reader, query, WebhookStatus::parse, &[]).await?;
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
