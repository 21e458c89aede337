//! Server functions, one module per console tab. Each resolves the caller
//! first; the browser calls them over HTTP, server rendering calls them directly.

pub mod access;
pub mod account;
pub mod api_keys;
pub mod api_logs;
pub mod auth;
pub mod batches;
pub mod failed_jobs;
pub mod integrations;
pub mod jobs;
pub mod overview;
#[cfg(feature = "ssr")]
pub mod pushed_views;
pub mod queues;
pub mod templates;
pub mod webhooks;

#[cfg(feature = "ssr")]
pub(crate) mod listing {
    //! The shared shape of every list server function.

    use crate::domain::{Cursor, ListQuery, Listed, Page};
    use crate::error::AppError;
    use crate::server::auth::{require_caller, Caller};
    use crate::server::db::{Database, Scope, Tx};
    use uuid::Uuid;

    /// Whom a list is read for: a signed-in caller, or the audience of a
    /// pushed view (`server::live::views`), which reads once for all its
    /// viewers.
    #[derive(Debug, Clone)]
    pub struct Reader {
        /// The pools.
        pub db: Database,
        /// The row-level-security scope the list is read in.
        pub scope: Scope,
    }

    impl Reader {
        /// The signed-in caller of this server function.
        pub async fn caller() -> Result<Self, AppError> {
            Ok(Reader::of(&require_caller().await?))
        }

        /// A caller already resolved.
        pub fn of(caller: &Caller) -> Self {
            Reader {
                scope: caller.scope(),
                db: caller.db.clone(),
            }
        }
    }

    /// A list request, validated, with its transaction open.
    pub struct ListRequest<S> {
        /// Their scoped transaction.
        pub tx: Tx,
        /// Organization condition.
        pub organization_id: Option<Uuid>,
        /// Parsed status filter.
        pub status: Option<S>,
        /// Page position.
        pub cursor: Option<Cursor>,
        /// The tab's own filters (names already checked).
        pub filters: std::collections::BTreeMap<String, String>,
    }

    /// Checks the query and opens `reader`'s transaction. Filters other
    /// than `known_filters` are refused.
    pub async fn begin<S>(
        reader: &Reader,
        query: ListQuery,
        parse_status: fn(&str) -> Option<S>,
        known_filters: &[&str],
    ) -> Result<ListRequest<S>, AppError> {
        if let Some(unknown) = query
            .filters
            .keys()
            .find(|name| !known_filters.contains(&name.as_str()))
        {
            return Err(AppError::invalid(format!("Unknown filter {unknown:?}.")));
        }
        let status = match query
            .status
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            Some(text) => Some(
                parse_status(text)
                    .ok_or_else(|| AppError::invalid(format!("Unknown status filter {text:?}.")))?,
            ),
            None => None,
        };
        let cursor = match query.cursor.as_deref().filter(|c| !c.is_empty()) {
            Some(token) => Some(Cursor::decode(token).map_err(AppError::Invalid)?),
            None => None,
        };
        let organization_id = reader.scope.organization_filter(query.organization_id);
        let tx = reader.db.begin(reader.scope).await?;
        Ok(ListRequest {
            tx,
            organization_id,
            status,
            cursor,
            filters: query.filters,
        })
    }

    /// Commits and turns rows into a page.
    pub async fn finish<T: Listed>(tx: Tx, rows: Vec<T>) -> Result<Page<T>, AppError> {
        tx.commit().await?;
        Ok(Page::from_rows(rows, T::cursor))
    }

    /// Commits and turns a search's rows into a page that continues from
    /// where the search stopped.
    pub async fn finish_search<T: Listed>(
        tx: Tx,
        rows: Vec<T>,
        searched_to: Option<Cursor>,
    ) -> Result<Page<T>, AppError> {
        tx.commit().await?;
        Ok(Page::from_search(rows, T::cursor, searched_to))
    }
}
