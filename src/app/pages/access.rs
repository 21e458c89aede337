//! The Access view (bank admins): organizations and users, each deactivated
//! or reactivated with one button; a deactivation signs them out at once.

use crate::api::access::{
    list_organization_access, list_user_access, SetOrganizationActive, SetOrganizationStorage,
    SetUserActive, MAX_QUOTA_MIB,
};
use crate::app::components::action_result::load_error;
use crate::app::components::action_result::ActionResult;
use crate::app::components::list_table::ListTable;
use crate::app::components::time::OptionalTime;
use crate::domain::{CurrentUser, OrganizationAccess, UserAccess};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

/// Organizations and users with their state; bank admins only (others get
/// the server's refusal).
#[component]
pub fn AccessPage() -> impl IntoView {
    let set_org = ServerAction::<SetOrganizationActive>::new();
    let set_user = ServerAction::<SetUserActive>::new();
    let set_storage = ServerAction::<SetOrganizationStorage>::new();
    let me = use_context::<CurrentUser>().map(|u| u.id);
    let organizations = Resource::new(
        move || set_org.version().get(),
        |_| list_organization_access(),
    );
    // the users' search and page live in the URL (`?user=…&after=…`)
    let query = use_query_map();
    let search = move || query.read().get("user").unwrap_or_default();
    let after = move || query.read().get("after");
    let users = Resource::new(
        move || {
            (
                set_org.version().get(),
                set_user.version().get(),
                search(),
                after(),
            )
        },
        |(_, _, search, after)| list_user_access(None, Some(search), after),
    );
    view! {
        <section class="list-page" aria-labelledby="page-title">
            <div class="page-header">
                <h1 id="page-title">"Access"</h1>
                <ActionResult action=set_org/>
                <ActionResult action=set_storage/>
                <ActionResult action=set_user/>
            </div>
            <h2 id="organizations-title">"Organizations"</h2>
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match organizations.await {
                        Ok(rows) => view! {
                            <ListTable heads={vec!["Organization", "State", "Users", "Documents stored", "Quota (MiB) and file retention (days)", "Actions"]} labelled_by="organizations-title">
                                {rows.into_iter().map(|row| organization_row(row, set_org, set_storage)).collect_view()}
                            </ListTable>
                        }.into_any(),
                        Err(error) => load_error(error),
                    }
                })}
            </Transition>
            <h2 id="users-title">"Users"</h2>
            <form method="get" action="/access" class="inline-form" role="search" data-testid="user-search-form">
                <label>"Email or name contains"
                    <input name="user" maxlength="320" prop:value=search data-testid="user-search"/>
                </label>
                <button type="submit">"Search"</button>
                {move || (!search().is_empty() || after().is_some()).then(|| view! { <a href="/access">"Clear"</a> })}
            </form>
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match users.await {
                        Ok(page) if page.rows.is_empty() => view! {
                            <p class="empty-state" data-testid="no-users">"No user matches."</p>
                        }.into_any(),
                        Ok(page) => {
                            let next = page.next_after.clone().map(|last| {
                                let href = format!(
                                    "/access?user={}&after={}",
                                    crate::domain::percent_encode(&search()),
                                    crate::domain::percent_encode(&last)
                                );
                                view! { <a href=href data-testid="next-users">"Next users »"</a> }
                            });
                            view! {
                                <ListTable heads={vec!["Email", "Name", "Role", "Organization", "State", "Last sign-in", "Open sessions", "Actions"]} labelled_by="users-title">
                                    {page.rows.into_iter().map(|row| user_row(row, me, set_user)).collect_view()}
                                </ListTable>
                                <nav class="pager" aria-label="Users pages">
                                    {after().is_some().then(|| view! { <a href=format!("/access?user={}", crate::domain::percent_encode(&search()))>"« First users"</a> })}
                                    {next}
                                </nav>
                            }.into_any()
                        }
                        Err(error) => load_error(error),
                    }
                })}
            </Transition>
        </section>
    }
}

/// A badge for an active flag.
fn state_badge(active: bool) -> impl IntoView {
    let state = if active { "active" } else { "inactive" };
    view! { <span class=format!("badge badge-{state}")>{state}</span> }
}

/// The button that flips an active flag, named for what it does to whom.
fn toggle_label(active: bool, whom: &str) -> (String, &'static str, String) {
    let (value, text) = if active {
        ("false", "Deactivate")
    } else {
        ("true", "Reactivate")
    };
    (value.to_string(), text, format!("{text} {whom}"))
}

fn organization_row(
    row: OrganizationAccess,
    set_org: ServerAction<SetOrganizationActive>,
    set_storage: ServerAction<SetOrganizationStorage>,
) -> impl IntoView {
    let (value, text, label) = toggle_label(row.is_active, &row.name);
    let used_mib = row.storage_used_bytes as f64 / (1024.0 * 1024.0);
    let quota_mib = row.storage_quota_bytes / (1024 * 1024);
    let quota_label = format!("Storage quota of {} in MiB", row.name);
    let days_label = format!("Days {} keeps stored files", row.name);
    view! {
        <tr data-testid="organization-access-row">
            <td class="name">{row.name.clone()}</td>
            <td>{state_badge(row.is_active)}</td>
            <td class="num">{row.users}</td>
            <td class="num">{format!("{used_mib:.1} of {quota_mib} MiB")}</td>
            <td>
                <ActionForm action=set_storage attr:class="inline-form">
                    <input type="hidden" name="id" value=row.id.to_string()/>
                    <input name="quota_mib" type="number" min="1" max=MAX_QUOTA_MIB.to_string() required=true
                        value=quota_mib.to_string() aria-label=quota_label data-testid="quota-mib"/>
                    <input name="file_retention_days" type="number" min="1" max="3650" required=true
                        value=row.file_retention_days.to_string() aria-label=days_label/>
                    <button type="submit" data-testid="set-storage">"Set"</button>
                </ActionForm>
            </td>
            <td>
                <ActionForm action=set_org attr:class="inline-form">
                    <input type="hidden" name="id" value=row.id.to_string()/>
                    <input type="hidden" name="active" value=value/>
                    <button type="submit" aria-label=label data-testid="toggle-organization">{text}</button>
                </ActionForm>
            </td>
        </tr>
    }
}

fn user_row(
    row: UserAccess,
    me: Option<uuid::Uuid>,
    set_user: ServerAction<SetUserActive>,
) -> impl IntoView {
    let (value, text, label) = toggle_label(row.is_active, &row.email);
    let is_me = me == Some(row.id);
    view! {
        <tr data-testid="user-access-row">
            <td class="name">{row.email.clone()}</td>
            <td>{row.full_name.clone()}</td>
            <td>{row.role.replace('_', " ")}</td>
            <td>{row.organization_name.clone().unwrap_or_else(|| "Bank".into())}</td>
            <td>{state_badge(row.is_active)}</td>
            <td><OptionalTime at=row.last_login_at/></td>
            <td class="num">{row.open_sessions}</td>
            <td>
                {if is_me {
                    view! { <span class="hint">"You"</span> }.into_any()
                } else {
                    view! {
                        <ActionForm action=set_user attr:class="inline-form">
                            <input type="hidden" name="id" value=row.id.to_string()/>
                            <input type="hidden" name="active" value=value/>
                            <button type="submit" aria-label=label data-testid="toggle-user">{text}</button>
                        </ActionForm>
                    }.into_any()
                }}
            </td>
        </tr>
    }
}
