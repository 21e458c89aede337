//! How the live hub reads the list pages it pushes: through the same page
//! functions the list server functions answer with, in the audience's scope.

use super::listing::Reader;
use crate::domain::live::{ListView, ViewRequest};
use crate::error::AppError;
use crate::server::db::{Database, Scope};
use crate::server::live::views::ViewSource;
use std::sync::Arc;

/// The hub's reader of pushed views, on `db`.
pub fn source(db: Database) -> ViewSource {
    Arc::new(move |scope, view| Box::pin(read(db.clone(), scope, view)))
}

/// One view's page in `scope`, as JSON of the list's `Page<T>`.
async fn read(
    db: Database,
    scope: Scope,
    view: ViewRequest,
) -> Result<serde_json::Value, AppError> {
    let reader = Reader { db, scope };
    let query = view.query;
    match view.list {
        ListView::Jobs => json(super::jobs::page(&reader, query).await?),
        ListView::FailedJobs => json(super::failed_jobs::page(&reader, query).await?),
        ListView::Batches => json(super::batches::page(&reader, query).await?),
        ListView::ApiLogs => json(super::api_logs::page(&reader, query).await?),
        ListView::Webhooks => json(super::webhooks::page(&reader, query).await?),
    }
}

fn json(page: impl serde::Serialize) -> Result<serde_json::Value, AppError> {
    serde_json::to_value(page).map_err(|error| {
        tracing::error!(%error, "a pushed page did not serialize");
        AppError::Internal
    })
}
