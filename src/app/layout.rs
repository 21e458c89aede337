//! The console frame: header with the signed-in user, the organization filter
//! (bank admins), the tab bar, and the active tab below.

use crate::api::auth::{fetch_current_user, Logout};
use crate::api::overview::organizations;
use crate::app::components::query::{href_with_org, selected_org};
use crate::domain::CurrentUser;
use leptos::prelude::*;
use leptos_router::components::Outlet;
use leptos_router::hooks::{use_location, use_query_map};

/// The console tabs: (path, label).
pub const TABS: [(&str, &str); 7] = [
    ("/", "Overview"),
    ("/jobs", "Jobs"),
    ("/batches", "Batches"),
    ("/failed-jobs", "Failed jobs"),
    ("/queues", "Queues"),
    ("/api-logs", "API logs"),
    ("/webhooks", "Webhooks"),
];

/// Frame of every signed-in page.
#[component]
pub fn ConsoleLayout() -> impl IntoView {
    let user = Resource::new(|| (), |_| fetch_current_user());
    view! {
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match user.await {
                    Ok(user) => {
                        provide_context(user.clone());
                        view! {
                            <Header user/>
                            <TabBar/>
                            <main class="content">
                                <Outlet/>
                            </main>
                        }
                            .into_any()
                    }
                    Err(error) => view! {
                        <main class="content">
                            <p class="error" role="alert">{error.to_string()}</p>
                            <a href="/login">"Sign in"</a>
                        </main>
                    }
                        .into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn Header(user: CurrentUser) -> impl IntoView {
    let logout = ServerAction::<Logout>::new();
    let scope = user
        .organization_name
        .clone()
        .unwrap_or_else(|| "All organizations".to_string());
    let is_bank_admin = user.is_bank_admin();
    view! {
        <header class="topbar">
            <a class="brand" href="/">"Veriphy Jobs"</a>
            {is_bank_admin.then(|| view! { <OrganizationFilter/> })}
            {(!is_bank_admin).then(|| view! { <span class="org-name" data-testid="org-name">{scope}</span> })}
            <span class="user" data-testid="user">
                <span class="user-name">{user.full_name.clone()}</span>
                <span class="role">{user.role.label()}</span>
            </span>
            <ActionForm action=logout attr:class="logout">
                <button type="submit" class="secondary">"Sign out"</button>
            </ActionForm>
        </header>
    }
}

/// Bank admins narrow every tab to one organization with `?org=`.
#[component]
fn OrganizationFilter() -> impl IntoView {
    let list = Resource::new(|| (), |_| organizations());
    let query = use_query_map();
    let location = use_location();
    let navigate = leptos_router::hooks::use_navigate();
    view! {
        <form method="get" class="org-filter" action=move || location.pathname.get()>
            <label>
                "Organization "
                <Transition fallback=|| view! { <select name="org" disabled=true></select> }>
                    {move || {
                        let navigate = navigate.clone();
                        Suspend::new(async move {
                        let orgs = list.await.unwrap_or_default();
                        let selected = selected_org(&query.read());
                        let on_change = move |event: leptos::ev::Event| {
                            let org = uuid::Uuid::parse_str(&event_target_value(&event)).ok();
                            navigate(&href_with_org(&location.pathname.get_untracked(), org), Default::default());
                        };
                        view! {
                            <select name="org" data-testid="org-filter" on:change=on_change>
                                <option value="" selected=selected.is_none()>"All organizations"</option>
                                {orgs
                                    .into_iter()
                                    .map(|org| {
                                        let is_selected = selected == Some(org.id);
                                        view! {
                                            <option value=org.id.to_string() selected=is_selected>{org.name}</option>
                                        }
                                    })
                                    .collect_view()}
                            </select>
                        }
                    })
                    }}
                </Transition>
            </label>
            <noscript>
                <button type="submit">"Apply"</button>
            </noscript>
        </form>
    }
}

#[component]
fn TabBar() -> impl IntoView {
    let location = use_location();
    let query = use_query_map();
    view! {
        <nav class="tabs" aria-label="Console sections">
            {TABS
                .into_iter()
                .map(|(path, label)| {
                    let href = move || href_with_org(path, selected_org(&query.read()));
                    let current = move || {
                        let here = location.pathname.get();
                        let inside = path != "/" && here.starts_with(&format!("{path}/"));
                        (here == path || inside).then_some("page")
                    };
                    view! { <a href=href aria-current=current>{label}</a> }
                })
                .collect_view()}
        </nav>
    }
}
