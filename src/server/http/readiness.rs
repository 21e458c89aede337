//! `/healthz` says the process answers; `/readyz` says whether it can do its
//! work: the database answers, its schema is this build's, and the
//! in-process worker (if this process runs one) is running.

use super::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use std::time::Duration;

/// How long the database may take to answer a readiness check.
const DATABASE_WAIT: Duration = Duration::from_secs(2);

/// `GET /readyz`: 200 with each check's state when every check passes, 503
/// with the same body otherwise.
pub async fn readyz(State(state): State<AppState>) -> Response {
    let expected = crate::server::db::MIGRATOR
        .iter()
        .map(|migration| migration.version)
        .max()
        .unwrap_or(0);
    let version = tokio::time::timeout(
        DATABASE_WAIT,
        sqlx::query_scalar::<_, i64>("select app_schema_version()").fetch_one(&state.db.app),
    )
    .await;
    let (database, schema) = match version {
        Ok(Ok(version)) if version >= expected => ("ok", "ok"),
        Ok(Ok(_)) => ("ok", "behind"),
        Ok(Err(error)) => {
            tracing::warn!(error = %crate::server::db::loggable(&error), "readiness: the database did not answer");
            ("unreachable", "unknown")
        }
        Err(_) => ("timed out", "unknown"),
    };
    let worker = match &state.worker {
        None => "not in this process",
        Some(probe) if probe.is_running() => "ok",
        Some(_) => "stopped",
    };
    let ready = database == "ok" && schema == "ok" && worker != "stopped";
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(json!({ "database": database, "schema": schema, "worker": worker })),
    )
        .into_response()
}
