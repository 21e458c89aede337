//! The api logs tab.

use crate::domain::{ApiLogRow, ListQuery, Page};
use crate::error::AppError;
use leptos::prelude::*;

/// Third-party API calls, newest first, in the caller's scope; `status` filters by [`crate::domain::ApiCallStatus`].
#[server(endpoint = "list_api_logs")]
pub async fn list_api_logs(
    #[server(default)] query: ListQuery,
) -> Result<Page<ApiLogRow>, AppError> {
    page(&super::listing::Reader::caller().await?, query).await
}

/// One page of the list for `reader` (the server function's, or a pushed
/// view's).
#[cfg(feature = "ssr")]
pub(crate) async fn page(
    reader: &super::listing::Reader,
    query: ListQuery,
) -> Result<Page<ApiLogRow>, AppError> {
    use crate::domain::{ApiCallStatus, Cursor};
    use crate::server::repo::api_logs;
    let mut request = super::listing::begin(reader, query, ApiCallStatus::parse, &[]).await?;
    let rows = api_logs::list(
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
