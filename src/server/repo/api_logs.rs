//! SQL for the third-party API call log.

use crate::domain::{ApiCallStatus, ApiLogRow, Cursor};
use crate::server::db::{list, Tx};
use uuid::Uuid;

/// One page of API calls, newest first.
pub async fn list(
    tx: &mut Tx,
    organization_id: Option<Uuid>,
    status: Option<ApiCallStatus>,
    cursor: Option<Cursor>,
) -> Result<Vec<ApiLogRow>, sqlx::Error> {
    let mut query = list::select(
        "a.id, a.organization_id, o.name as organization_name, a.api_name, a.endpoint, a.method,
         a.status_code, a.response_time, a.status, a.retry_count, a.error_message, a.created_at",
        "third_party_api_log a join organizations o on o.id = a.organization_id",
    );
    list::organization(&mut query, "a", organization_id);
    list::equals(
        &mut query,
        "a.status",
        status.map(|s| s.as_str().to_string()),
    );
    list::page(&mut query, "a", cursor);
    query.build_query_as().fetch_all(&mut **tx).await
}
