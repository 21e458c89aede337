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
    use crate::domain::api_log_filters::{ApiLogFilters, API_LOG_FILTER_NAMES};
    use crate::domain::ApiCallStatus;
    use crate::server::repo::api_logs;
    let mut request =
        super::listing::begin(reader, query, ApiCallStatus::parse, &API_LOG_FILTER_NAMES).await?;
    let filters = ApiLogFilters::parse(&request.filters).map_err(AppError::Invalid)?;
    let rows = api_logs::list(
        &mut request.tx,
        request.organization_id,
        request.status,
        &filters,
        request.cursor,
    )
    .await?;
    super::listing::finish(request.tx, rows).await
}

/// One call with its (redacted) request and answer, timing, integration,
/// and the job and attempt it was made for.
#[server(endpoint = "api_log_detail")]
pub async fn api_log_detail(id: uuid::Uuid) -> Result<crate::domain::ApiLogDetail, AppError> {
    use crate::server::auth::require_caller;
    use crate::server::repo::api_logs;
    let caller = require_caller().await?;
    let mut tx = caller.begin().await?;
    let detail = api_logs::detail(&mut tx, caller.organization_filter(None), id)
        .await?
        .ok_or(AppError::NotFound)?;
    tx.commit().await?;
    Ok(detail)
}

/// How the calls in the caller's scope went over `period`, narrowed by
/// `scope` (a bank admin may pick an organization): counts, success rate,
/// response-time percentiles per step, per API and per integration, and the
/// most frequent errors and answers.
#[server(endpoint = "api_monitoring")]
pub async fn api_monitoring(
    #[server(default)] scope: crate::domain::api_monitoring::MonitoringScope,
    period: crate::domain::metrics::Period,
) -> Result<crate::domain::api_monitoring::ApiMonitoring, AppError> {
    use crate::server::auth::require_caller;
    use crate::server::repo::api_logs;
    scope.validate().map_err(AppError::Invalid)?;
    let caller = require_caller().await?;
    let mut tx = caller.begin().await?;
    let monitoring = api_logs::monitoring(
        &mut tx,
        caller.organization_filter(scope.organization_id),
        &scope,
        period,
    )
    .await?;
    tx.commit().await?;
    Ok(monitoring)
}
