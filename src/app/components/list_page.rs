//! The frame every list tab shares: title, status filter, table, empty state,
//! error, and keyset "Older" / "Newest" links — all driven by the URL.

use super::query::{encode, list_query, next_page_href};
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
    /// Column headings (without the organization column).
    columns: &'static [&'static str],
    /// Loads a page.
    fetch: F,
    /// Renders one row.
    row: R,
    /// Shown when nothing matches.
    empty: &'static str,
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
    let page = Resource::new(
        move || (query.get(), refresh.0.get()),
        move |(query, _)| fetch(query),
    );
    let show_org = use_context::<CurrentUser>().is_some_and(|u| u.is_bank_admin());

    view! {
        <section class="list-page" aria-labelledby="page-title">
            <div class="page-header">
                <h1 id="page-title">{title}</h1>
                {actions.map(|a| a.run())}
                <StatusFilter path statuses query/>
            </div>
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match page.await {
                        Ok(page) if page.items.is_empty() => {
                            view! { <div class="empty-state" data-testid="empty-state">{empty}</div> }.into_any()
                        }
                        Ok(page) => {
                            let current = query.get_untracked();
                            let first_href = first_page_href(path, &current);
                            let on_later_page = current.cursor.is_some();
                            let next_href = page.next_cursor.as_deref().map(|c| next_page_href(path, &current, c));
                            view! {
                                <div class="table-wrap">
                                    <table class="list">
                                        <thead>
                                            <tr>
                                                {show_org.then(|| view! { <th scope="col">"Organization"</th> })}
                                                {columns.iter().map(|c| view! { <th scope="col">{*c}</th> }).collect_view()}
                                            </tr>
                                        </thead>
                                        <tbody>
                                            {page.items.into_iter().map(|item| row(item, show_org)).collect_view()}
                                        </tbody>
                                    </table>
                                </div>
                                <nav class="pager" aria-label="Pages">
                                    {on_later_page.then(|| view! { <a href=first_href.clone()>"« Newest"</a> })}
                                    {next_href.map(|href| view! { <a href=href rel="next" data-testid="next-page">"Older »"</a> })}
                                </nav>
                            }
                                .into_any()
                        }
                        Err(error) => view! { <p class="error" role="alert">{error.to_string()}</p> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

fn first_page_href(path: &str, query: &ListQuery) -> String {
    let mut parts = Vec::new();
    if let Some(org) = query.organization_id {
        parts.push(format!("org={org}"));
    }
    if let Some(status) = &query.status {
        parts.push(format!("status={}", encode(status)));
    }
    if parts.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{}", parts.join("&"))
    }
}

/// The status dropdown; changing it starts again from the newest page.
#[component]
fn StatusFilter(
    path: &'static str,
    statuses: &'static [&'static str],
    query: Memo<ListQuery>,
) -> impl IntoView {
    let navigate = use_navigate();
    let on_change = move |event: leptos::ev::Event| {
        let status = event_target_value(&event);
        let mut next = query.get_untracked();
        next.status = (!status.is_empty()).then_some(status);
        next.cursor = None;
        navigate(&first_page_href(path, &next), Default::default());
    };
    view! {
        <form method="get" action=path class="filters">
            {move || {
                query
                    .get()
                    .organization_id
                    .map(|org| view! { <input type="hidden" name="org" value=org.to_string()/> })
            }}
            <label>
                "Status "
                <select name="status" data-testid="status-filter" on:change=on_change>
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
            <noscript>
                <button type="submit">"Filter"</button>
            </noscript>
        </form>
    }
}
