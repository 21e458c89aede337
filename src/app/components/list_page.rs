//! The frame every list tab shares: title, status filter, table, empty state,
//! error, and keyset "Older" / "Newest" links — all driven by the URL.

use super::action_result::load_error;
use super::action_result::{last_outcome, outcome_view, MessageAction};
use super::query::{list_query, next_page_href, query_href};
use super::time::Time;
use crate::app::live::{on_live_change, LiveFeed};
use crate::domain::live::{ListView, LiveUpdate, ViewRequest};
use crate::domain::{CurrentUser, ListQuery, Page};
use crate::error::AppError;
use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_query_map};
use serde::{de::DeserializeOwned, Serialize};
use std::future::Future;

/// Bumped by row actions so the list reloads with their effect.
#[derive(Debug, Clone, Copy)]
pub struct ListRefresh(pub RwSignal<u32>);

/// Reloads the surrounding list (if any) each time `action` succeeds.
pub fn refresh_on_success<S>(action: ServerAction<S>)
where
    S: leptos::server_fn::ServerFn + Clone + Send + Sync + 'static,
    S::Output: Send + Sync + 'static,
    S::Error: Send + Sync + 'static,
{
    let Some(refresh) = use_context::<ListRefresh>() else {
        return;
    };
    Effect::new(move |_| {
        if action.value().with(|v| matches!(v, Some(Ok(_)))) {
            refresh.0.update(|n| *n += 1);
        }
    });
}

/// The outcome of the last row action, shown above the table: rows are
/// rebuilt whenever the list reloads, so a message kept inside a row would
/// vanish with it.
#[derive(Debug, Clone, Copy)]
pub struct ListNotice(pub RwSignal<Option<Result<String, String>>>);

/// For an action inside a list row: reports its outcome above the list and
/// reloads the list when it succeeds. Outside a list it does nothing.
pub fn report_row_action<S: MessageAction>(action: ServerAction<S>) {
    let (Some(refresh), Some(notice)) = (use_context::<ListRefresh>(), use_context::<ListNotice>())
    else {
        return;
    };
    Effect::new(move |_| {
        if let Some(outcome) = last_outcome(action) {
            let succeeded = outcome.is_ok();
            notice.0.set(Some(outcome));
            if succeeded {
                refresh.0.update(|n| *n += 1);
            }
        }
    });
}

/// A list tab. `row` renders one item as `<tr>`; its bool says whether to
/// include the organization cell (bank admins only).
#[component]
pub fn ListPage<T, F, Fut, R>(
    /// Heading.
    title: &'static str,
    /// Extra controls beside the heading (e.g. a "New job" link).
    #[prop(optional)]
    actions: Option<ViewFn>,
    /// The tab's path, for links.
    path: &'static str,
    /// Values offered in the status filter.
    statuses: &'static [&'static str],
    /// The tab's other filters.
    #[prop(optional)]
    filters: &'static [FilterField],
    /// Column headings (without the organization column).
    columns: &'static [&'static str],
    /// Loads a page.
    fetch: F,
    /// Renders one row.
    row: R,
    /// Shown when nothing matches.
    empty: &'static str,
    /// Which list this is, for the live console: the server pushes its page
    /// when it changes (none: it does not follow changes).
    #[prop(optional)]
    live: Option<ListView>,
) -> impl IntoView
where
    T: Clone + Serialize + DeserializeOwned + Send + Sync + 'static,
    F: Fn(ListQuery) -> Fut + Copy + Send + Sync + 'static,
    Fut: Future<Output = Result<Page<T>, AppError>> + Send + 'static,
    R: Fn(T, bool) -> AnyView + Copy + Send + Sync + 'static,
{
    let params = use_query_map();
    let query = Memo::new(move |_| list_query(&params.read()));
    let refresh = ListRefresh(RwSignal::new(0));
    provide_context(refresh);
    let notice = ListNotice(RwSignal::new(None));
    provide_context(notice);
    let page = Resource::new(
        move || (query.get(), refresh.0.get()),
        move |(query, _)| fetch(query),
    );
    let show_org = use_context::<CurrentUser>().is_some_and(|u| u.is_bank_admin());
    // Changes seen while the user reads an older page: that page reloads in
    // place (a keyset page keeps its rows), and a marker offers the newest.
    let unseen = RwSignal::new(None::<UnseenChanges>);
    Effect::new(move |_| {
        query.track();
        unseen.set(None);
    });
    if let (Some(list), Some(feed)) = (live, use_context::<LiveFeed>()) {
        follow_pushed_pages(feed, list, query, page, refresh);
        on_live_change(list.topic(), move |update| {
            if query.get_untracked().cursor.is_some() {
                unseen.update(|seen| {
                    *seen = Some(seen.take().unwrap_or_default().including(update));
                });
            }
        });
    }

    view! {
        <section class="list-page" aria-labelledby="page-title">
            <div class="page-header">
                <h1 id="page-title">{title}</h1>
                {actions.map(|a| view! { <div class="page-actions">{a.run()}</div> })}
                <Filters path statuses filters query/>
            </div>
            <div class="list-notice" data-testid="list-notice">
                {move || notice.0.get().map(outcome_view)}
            </div>
            <div class="live-marker" aria-live="polite">
                {move || {
                    unseen
                        .get()
                        .map(|changes| {
                            let newest = query_href(path, &query.get().first_page());
                            view! {
                                <a class="button secondary" href=newest data-testid="unseen-changes">
                                    {changes.label()}" — show the newest"
                                </a>
                            }
                        })
                }}
            </div>
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match page.await {
                        Ok(page) if page.items.is_empty() && page.next_cursor.is_none() => {
                            view! { <div class="empty-state" data-testid="empty-state">{empty}</div> }.into_any()
                        }
                        Ok(page) => {
                            let current = query.get_untracked();
                            let first_href = query_href(path, &current.first_page());
                            let on_later_page = current.cursor.is_some();
                            let next_href = page.next_cursor.as_deref().map(|c| next_page_href(path, &current, c));
                            let searched = page.searched_to.map(|to| {
                                let found = if page.items.is_empty() { "No matches yet" } else { "That is all so far" };
                                view! {
                                    <p class="search-window" data-testid="search-window" role="status">
                                        {found}" — searched back to records created "<Time at=to/>
                                        ". “Older »” searches further."
                                    </p>
                                }
                            });
                            let has_rows = !page.items.is_empty();
                            let items = page.items;
                            let table = has_rows.then(move || view! {
                                <div class="table-wrap">
                                    <table class="list">
                                        <thead>
                                            <tr>
                                                {show_org.then(|| view! { <th scope="col">"Organization"</th> })}
                                                {columns.iter().map(|c| view! { <th scope="col">{*c}</th> }).collect_view()}
                                            </tr>
                                        </thead>
                                        <tbody>
                                            {items.into_iter().map(|item| row(item, show_org)).collect_view()}
                                        </tbody>
                                    </table>
                                </div>
                            });
                            view! {
                                {searched}
                                {table}
                                <nav class="pager" aria-label="Pages">
                                    {on_later_page.then(|| view! { <a href=first_href.clone()>"« Newest"</a> })}
                                    {next_href.map(|href| view! { <a href=href rel="next" data-testid="next-page">"Older »"</a> })}
                                </nav>
                            }
                                .into_any()
                        }
                        Err(error) => load_error(error),
                    }
                })}
            </Transition>
        </section>
    }
}

/// Keeps the tab's socket told which page of `list` it shows, and shows
/// each page the server pushes for it in place of the one loaded. A page
/// the server could not read, and every reopening of the connection, make
/// the list read its page itself.
fn follow_pushed_pages<T>(
    feed: LiveFeed,
    list: ListView,
    query: Memo<ListQuery>,
    page: Resource<Result<Page<T>, AppError>>,
    refresh: ListRefresh,
) where
    T: Clone + Serialize + DeserializeOwned + Send + Sync + 'static,
{
    Effect::new(move |_| {
        feed.view.set(Some(ViewRequest {
            list,
            query: query.get(),
        }));
    });
    // leaving the list: unless the next list already said what it shows
    on_cleanup(move || {
        feed.view.try_update(|shown| {
            if shown.as_ref().is_some_and(|view| view.list == list) {
                *shown = None;
            }
        });
    });
    Effect::new(move |_| {
        let Some(pushed) = feed.pushed.get() else {
            return;
        };
        if pushed.view.list != list || pushed.view.query != query.get_untracked() {
            return;
        }
        match pushed
            .page
            .and_then(|value| serde_json::from_value::<Page<T>>(value).ok())
        {
            Some(fresh) => page.set(Some(Ok(fresh))),
            None => refresh.0.update(|n| *n += 1),
        }
    });
    Effect::new(move |seen: Option<u64>| {
        let reopened = feed.reopened.get();
        if seen.is_some_and(|seen| seen != reopened) {
            refresh.0.update(|n| *n += 1);
        }
        reopened
    });
}

/// How much changed since an older page was opened: the distinct records
/// the updates named (a job enqueued, claimed and completed is one), up to
/// [`UnseenChanges::MOST_NAMED`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UnseenChanges {
    /// Records named by the updates.
    named: std::collections::BTreeSet<uuid::Uuid>,
    /// Some update said more changed than it named, or more were named than
    /// are kept.
    more: bool,
}

impl UnseenChanges {
    /// Most records remembered; beyond it the marker says "100+".
    pub const MOST_NAMED: usize = 100;

    /// These and `update`'s.
    pub fn including(mut self, update: &LiveUpdate) -> Self {
        for id in &update.ids {
            if self.named.len() == Self::MOST_NAMED && !self.named.contains(id) {
                self.more = true;
                break;
            }
            self.named.insert(*id);
        }
        self.more |= update.more;
        self
    }

    /// The marker's words ("3 updated", "100+ updated"): the updates name
    /// new records and changed ones alike.
    pub fn label(&self) -> String {
        let plus = if self.more { "+" } else { "" };
        format!("{}{plus} updated", self.named.len())
    }
}

/// One filter input besides the status.
#[derive(Debug, Clone, Copy)]
pub struct FilterField {
    /// URL parameter name.
    pub name: &'static str,
    /// Label shown.
    pub label: &'static str,
    /// What input it is.
    pub kind: FilterKind,
}

/// The input of a filter.
#[derive(Debug, Clone, Copy)]
pub enum FilterKind {
    /// A dropdown of (value, label) with "Any" first.
    Choice(&'static [(&'static str, &'static str)]),
    /// Free text.
    Text,
    /// A date and time (UTC).
    DateTime,
}

/// The filter form: the status dropdown navigates as it changes; the other
/// filters apply with the button (a plain GET form, so it works before the
/// page hydrates too). Both start again from the newest page.
#[component]
fn Filters(
    path: &'static str,
    statuses: &'static [&'static str],
    filters: &'static [FilterField],
    query: Memo<ListQuery>,
) -> impl IntoView {
    let navigate = use_navigate();
    let on_change = move |event: leptos::ev::Event| {
        let status = event_target_value(&event);
        let mut next = query.get_untracked().first_page();
        next.status = (!status.is_empty()).then_some(status);
        navigate(&query_href(path, &next), Default::default());
    };
    let value_of =
        move |name: &'static str| query.get().filters.get(name).cloned().unwrap_or_default();
    view! {
        <form method="get" action=path class="filters" data-testid="filters">
            {move || {
                query
                    .get()
                    .organization_id
                    .map(|org| view! { <input type="hidden" name="org" value=org.to_string()/> })
            }}
            {(!statuses.is_empty()).then(|| view! {
            <label>
                "Status "
                <select name="status" data-testid="status-filter" on:change=on_change.clone()>
                    <option value="" selected=move || query.get().status.is_none()>"Any"</option>
                    {statuses
                        .iter()
                        .map(|status| {
                            let selected = move || query.get().status.as_deref() == Some(*status);
                            view! { <option value=*status selected=selected>{status.replace('_', " ")}</option> }
                        })
                        .collect_view()}
                </select>
            </label>
            })}
            {filters
                .iter()
                .map(|field| {
                    let name = field.name;
                    let input = match field.kind {
                        FilterKind::Choice(options) => view! {
                            <select name=name data-testid=format!("filter-{name}")>
                                <option value="" selected=move || value_of(name).is_empty()>"Any"</option>
                                {options
                                    .iter()
                                    .map(|(value, label)| {
                                        let selected = move || value_of(name) == *value;
                                        view! { <option value=*value selected=selected>{*label}</option> }
                                    })
                                    .collect_view()}
                            </select>
                        }
                        .into_any(),
                        FilterKind::Text => view! {
                            <input name=name type="search" prop:value=move || value_of(name)
                                data-testid=format!("filter-{name}")/>
                        }
                        .into_any(),
                        FilterKind::DateTime => view! {
                            <input name=name type="datetime-local" prop:value=move || value_of(name)
                                data-testid=format!("filter-{name}")/>
                        }
                        .into_any(),
                    };
                    view! { <label>{field.label}" "{input}</label> }
                })
                .collect_view()}
            {if filters.is_empty() {
                view! { <noscript><button type="submit">"Filter"</button></noscript> }.into_any()
            } else {
                view! {
                    <button type="submit" data-testid="apply-filters">"Apply"</button>
                    <a href=move || {
                        let kept = ListQuery { organization_id: query.get().organization_id, ..Default::default() };
                        query_href(path, &kept)
                    }>"Clear"</a>
                }
                .into_any()
            }}
        </form>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::live::Topic;

    fn update(ids: std::ops::Range<u128>, more: bool) -> LiveUpdate {
        LiveUpdate {
            topic: Topic::Jobs,
            ids: ids.map(uuid::Uuid::from_u128).collect(),
            more,
        }
    }

    #[test]
    fn unseen_changes_count_each_named_record_once() {
        let seen = UnseenChanges::default()
            .including(&update(0..2, false))
            .including(&update(1..3, false));
        assert_eq!(seen.label(), "3 updated");
    }

    #[test]
    fn unseen_changes_say_when_more_changed_than_was_named() {
        let seen = UnseenChanges::default().including(&update(0..2, true));
        assert_eq!(seen.label(), "2+ updated");
    }

    #[test]
    fn unseen_changes_stop_remembering_at_a_hundred() {
        let seen = UnseenChanges::default()
            .including(&update(0..90, false))
            .including(&update(80..130, false));
        assert_eq!(seen.label(), "100+ updated");
    }
}
