//! Pushed views: a tab that shows a list tells its socket which page it
//! shows ([`ViewRequest`]); when a flush tells it that the list's topic
//! changed, the hub marks the view (per audience) as due, and this module
//! reads the page once for every tab of that audience showing it — at most
//! once per [`VIEW_INTERVAL`] — and pushes the same message to each. The
//! database's work therefore follows the number of distinct pages shown,
//! not the number of viewers.

use crate::domain::live::{PushedPage, ViewRequest};
use crate::error::AppError;
use crate::server::db::{Reach, Scope};
use futures_util::future::BoxFuture;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The least time between two reads of one view for one audience.
pub const VIEW_INTERVAL: Duration = Duration::from_secs(1);

/// Views read at the same time, whatever the number of distinct views due:
/// the reads share the console's pool with every page and server function.
pub const CONCURRENT_READS: usize = 4;

/// Reads a view's page in a scope, as the list's server function answers
/// it (JSON of its `Page<T>`).
pub type ViewSource = Arc<
    dyn Fn(Scope, ViewRequest) -> BoxFuture<'static, Result<serde_json::Value, AppError>>
        + Send
        + Sync,
>;

/// One view for one audience: whose rows (the scope's reach) and which page.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ViewKey {
    /// Whose rows the page is read for: an organization, or the bank.
    pub reach: Reach,
    /// The page.
    pub view: ViewRequest,
}

impl ViewKey {
    /// The row-level-security scope the page is read in (no user: lists
    /// read no user-scoped rows).
    pub fn scope(&self) -> Scope {
        Scope {
            reach: self.reach,
            user_id: None,
        }
    }
}

#[derive(Debug, Default)]
struct ViewState {
    /// subscribers told of a change since the last read began
    waiting: BTreeSet<u64>,
    running: bool,
    last_started: Option<Instant>,
}

impl ViewState {
    fn cooling(&self, now: Instant) -> bool {
        self.last_started
            .is_some_and(|started| now.duration_since(started) < VIEW_INTERVAL)
    }
}

/// The views due or being read, and how to read them.
pub(super) struct Views {
    source: ViewSource,
    reads: Arc<tokio::sync::Semaphore>,
    states: HashMap<ViewKey, ViewState>,
}

/// A read to start: the view, who waits for it, and the read itself.
pub(super) struct DueRead {
    pub key: ViewKey,
    pub waiting: BTreeSet<u64>,
    pub read: BoxFuture<'static, Result<serde_json::Value, AppError>>,
    pub permits: Arc<tokio::sync::Semaphore>,
}

impl Views {
    pub(super) fn new(source: ViewSource) -> Self {
        Views {
            source,
            reads: Arc::new(tokio::sync::Semaphore::new(CONCURRENT_READS)),
            states: HashMap::new(),
        }
    }

    /// Subscriber `id`, showing `key`, was told that its list changed.
    pub(super) fn mark_due(&mut self, key: ViewKey, id: u64) {
        self.states.entry(key).or_default().waiting.insert(id);
    }

    /// The reads to start now: views with waiting subscribers, not being
    /// read, and not read within the interval. Forgets views nobody waits
    /// for once their interval has passed.
    pub(super) fn take_due(&mut self, now: Instant) -> Vec<DueRead> {
        self.states
            .retain(|_, state| state.running || !state.waiting.is_empty() || state.cooling(now));
        let mut due = Vec::new();
        for (key, state) in &mut self.states {
            if state.running || state.waiting.is_empty() || state.cooling(now) {
                continue;
            }
            state.running = true;
            state.last_started = Some(now);
            due.push(DueRead {
                key: key.clone(),
                waiting: std::mem::take(&mut state.waiting),
                read: (self.source)(key.scope(), key.view.clone()),
                permits: self.reads.clone(),
            });
        }
        due
    }

    /// A read of `key` ended.
    pub(super) fn finished(&mut self, key: &ViewKey) {
        if let Some(state) = self.states.get_mut(key) {
            state.running = false;
        }
    }
}

/// The message every waiting viewer of `view` receives: the page, or null
/// when it could not be read (the cause is logged, never sent).
pub fn page_message(view: ViewRequest, read: Result<serde_json::Value, AppError>) -> String {
    let page = match read {
        Ok(page) => Some(page),
        Err(error) => {
            if matches!(error, AppError::Internal) {
                tracing::warn!(list = ?view.list, "a pushed view could not be read");
            }
            None
        }
    };
    serde_json::to_string(&PushedPage { view, page }).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::live::ListView;
    use crate::domain::ListQuery;
    use uuid::Uuid;

    fn key(organization: u128) -> ViewKey {
        ViewKey {
            reach: Reach::Organization(Uuid::from_u128(organization)),
            view: ViewRequest {
                list: ListView::Jobs,
                query: ListQuery::default(),
            },
        }
    }

    fn views() -> Views {
        Views::new(Arc::new(|_, _| {
            Box::pin(async { Ok(serde_json::json!({})) })
        }))
    }

    #[test]
    fn one_read_serves_every_waiting_viewer_of_a_view() {
        let mut views = views();
        views.mark_due(key(1), 10);
        views.mark_due(key(1), 11);
        views.mark_due(key(2), 12);

        let mut due = views.take_due(Instant::now());
        due.sort_by_key(|read| read.waiting.first().copied());

        assert_eq!(due.len(), 2);
        assert_eq!(due[0].waiting, BTreeSet::from([10, 11]));
        assert_eq!(due[1].waiting, BTreeSet::from([12]));
        assert_eq!(due[1].key.scope().reach, key(2).reach);
    }

    #[test]
    fn a_view_is_read_at_most_once_per_interval() {
        let mut views = views();
        let start = Instant::now();
        views.mark_due(key(1), 10);
        assert_eq!(views.take_due(start).len(), 1);
        views.finished(&key(1));

        views.mark_due(key(1), 10);
        assert!(views.take_due(start + VIEW_INTERVAL / 2).is_empty());
        assert_eq!(views.take_due(start + VIEW_INTERVAL).len(), 1);
    }

    #[test]
    fn a_view_being_read_is_not_read_again_until_it_ends() {
        let mut views = views();
        let start = Instant::now();
        views.mark_due(key(1), 10);
        views.take_due(start);
        views.mark_due(key(1), 11);

        assert!(views.take_due(start + 2 * VIEW_INTERVAL).is_empty());
        views.finished(&key(1));
        let due = views.take_due(start + 2 * VIEW_INTERVAL);
        assert_eq!(due[0].waiting, BTreeSet::from([11]));
    }

    #[test]
    fn a_failed_read_pushes_no_page_and_no_cause() {
        let view = key(1).view;
        let message = page_message(view.clone(), Err(AppError::Internal));
        let pushed: PushedPage = serde_json::from_str(&message).unwrap();
        assert_eq!(pushed, PushedPage { view, page: None });
    }
}
