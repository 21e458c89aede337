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
pub const TABS: [(&str, &str); 8] = [
    ("/", "Overview"),
    ("/jobs", "Jobs"),
    ("/batches", "Batches"),
    ("/failed-jobs", "Failed jobs"),
    ("/queues", "Queues"),
    ("/api-logs", "API logs"),
    ("/integrations", "Integrations"),
    ("/webhooks", "Webhooks"),
];

/// Frame of every signed-in page.
///
/// The signed-in user is known synchronously wherever the page was rendered
/// by the server: the server reads what the auth gate stored on the request
/// and the browser reads the copy the server wrote into the page. The pages
/// below therefore render once on the server. (Inside a `Suspend` they would
/// run several times, each fetching its data again, and the browser could
/// hydrate the markup of one fetch with the data of another.) Only after a
/// navigation in the browser that no server render preceded (signing in) is
/// the user fetched.
#[component]
pub fn ConsoleLayout() -> impl IntoView {
    match SharedValue::new(user_known_to_the_server).into_inner() {
        Some(Some(user)) => signed_in(user).into_any(),
        Some(None) => signed_out(None).into_any(),
        None => {
            let user = Resource::new(|| (), |_| fetch_current_user());
            view! {
                <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                    {move || Suspend::new(async move {
                        match user.await {
                            Ok(user) => signed_in(user).into_any(),
                            Err(error) => signed_out(Some(error.to_string())).into_any(),
                        }
                    })}
                </Transition>
            }
            .into_any()
        }
    }
}

/// On the server: `Some(user or None)` from the request. In the browser
/// (outside hydration): `None`, meaning "ask".
fn user_known_to_the_server() -> Option<Option<CurrentUser>> {
    #[cfg(feature = "ssr")]
    {
        let parts = use_context::<http::request::Parts>()?;
        let info = parts.extensions.get::<crate::server::auth::RequestInfo>()?;
        Some(info.user.clone())
    }
    #[cfg(not(feature = "ssr"))]
    {
        None
    }
}

fn signed_in(user: CurrentUser) -> impl IntoView {
    provide_context(user.clone());
    crate::app::live::provide_live_feed();
    view! {
        <Header user/>
        <TabBar/>
        <main class="content">
            <Outlet/>
        </main>
        <crate::app::live::FailureAlerts/>
    }
}

fn signed_out(problem: Option<String>) -> impl IntoView {
    view! {
        <main class="content">
            <p class="error" role="alert">
                {problem.unwrap_or_else(|| "You are not signed in.".to_string())}
            </p>
            <a href="/login">"Sign in"</a>
        </main>
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
            <crate::app::live::LiveIndicator/>
            <a class="account-link" href="/account" data-testid="account-link">"Account"</a>
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

/// The tab only bank admins see: organizations and users.
pub const ACCESS_TAB: (&str, &str) = ("/access", "Access");

#[component]
fn TabBar() -> impl IntoView {
    let location = use_location();
    let query = use_query_map();
    let bank_admin = use_context::<CurrentUser>().is_some_and(|u| u.is_bank_admin());
    view! {
        <nav class="tabs" aria-label="Console sections">
            {TABS
                .into_iter()
                .chain(bank_admin.then_some(ACCESS_TAB))
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
