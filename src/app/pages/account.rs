//! The account pages: one's signed-in sessions (sign any of them out), and
//! changing one's password (required at the first sign-in of the
//! first-start bank admin).

use crate::api::account::{my_sessions, SignOutOtherSessions, SignOutSession};
use crate::api::auth::ChangePassword;
use crate::app::components::action_result::load_error;
use crate::app::components::action_result::ActionResult;
use crate::app::components::list_table::ListTable;
use crate::app::components::time::{format_time, Time};
use crate::domain::{CurrentUser, SessionRow};
use leptos::prelude::*;

/// The caller's open sessions, each with a sign-out button (the current one
/// is marked and signs out with the header's button).
#[component]
pub fn AccountPage() -> impl IntoView {
    let sign_out = ServerAction::<SignOutSession>::new();
    let sign_out_others = ServerAction::<SignOutOtherSessions>::new();
    let sessions = Resource::new(
        move || (sign_out.version().get(), sign_out_others.version().get()),
        |_| my_sessions(),
    );
    view! {
        <section class="list-page" aria-labelledby="page-title">
            <div class="page-header">
                <h1 id="page-title">"Account"</h1>
                <a href="/account/password" data-testid="change-password-link">"Change password"</a>
            </div>
            <h2>"Signed-in sessions"</h2>
            <p class="hint">
                "Every browser signed in as you. Sign out any you do not recognise, and change your password."
            </p>
            <div class="page-header">
                <ActionForm action=sign_out_others attr:class="inline-form">
                    <button type="submit" class="secondary" data-testid="sign-out-others">
                        "Sign out all other sessions"
                    </button>
                </ActionForm>
                <ActionResult action=sign_out/>
                <ActionResult action=sign_out_others/>
            </div>
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match sessions.await {
                        Ok(rows) => view! {
                            <ListTable heads={vec!["Signed in", "Last active", "Address", "Browser", "Actions"]}>
                                {rows.into_iter().map(|row| session_row(row, sign_out)).collect_view()}
                            </ListTable>
                        }.into_any(),
                        Err(error) => load_error(error),
                    }
                })}
            </Transition>
        </section>
    }
}

fn session_row(row: SessionRow, sign_out: ServerAction<SignOutSession>) -> impl IntoView {
    let signed_in = format_time(&row.created_at);
    let label = format!("Sign out the session signed in at {signed_in}");
    view! {
        <tr data-testid="session-row">
            <td><Time at=row.created_at/></td>
            <td><Time at=row.last_seen_at/></td>
            <td>{row.ip_address.unwrap_or_else(|| "—".into())}</td>
            <td class="user-agent">{row.user_agent.unwrap_or_else(|| "—".into())}</td>
            <td>
                {if row.current {
                    view! { <span class="badge badge-active" data-testid="current-session">"This browser"</span> }.into_any()
                } else {
                    view! {
                        <ActionForm action=sign_out attr:class="inline-form">
                            <input type="hidden" name="id" value=row.id.to_string()/>
                            <button type="submit" aria-label=label data-testid="sign-out-session">"Sign out"</button>
                        </ActionForm>
                    }.into_any()
                }}
            </td>
        </tr>
    }
}

/// Current and new password; the new one is typed twice and checked here
/// before it is sent.
#[component]
pub fn ChangePasswordPage() -> impl IntoView {
    let change = ServerAction::<ChangePassword>::new();
    let required = use_context::<CurrentUser>().is_some_and(|u| u.must_change_password);
    let new_password = RwSignal::new(String::new());
    let repeated = RwSignal::new(String::new());
    let mismatch = move || {
        let (new, again) = (new_password.get(), repeated.get());
        (!again.is_empty() && new != again).then_some("The two new passwords differ.")
    };
    let changed = move || change.value().with(|v| matches!(v, Some(Ok(_))));
    view! {
        <section class="form-page" aria-labelledby="page-title">
            <h1 id="page-title">"Change password"</h1>
            {required.then(|| view! {
                <p class="notice" data-testid="password-required">
                    "Choose a new password before using the console: the one you signed in with was given to you, not chosen by you."
                </p>
            })}
            <ActionForm action=change attr:class="stacked-form" attr:data-testid="password-form">
                <label>"Current password"
                    <input type="password" name="current_password" autocomplete="current-password" required=true/>
                </label>
                <label>"New password (at least 12 characters)"
                    <input type="password" name="new_password" autocomplete="new-password" minlength="12"
                        required=true data-testid="new-password"
                        on:input=move |ev| new_password.set(event_target_value(&ev))/>
                </label>
                <label>"New password again"
                    <input type="password" autocomplete="new-password" required=true data-testid="new-password-again"
                        on:input=move |ev| repeated.set(event_target_value(&ev))/>
                </label>
                <p class="error" role="alert">{mismatch}</p>
                <button type="submit" disabled=move || change.pending().get() || mismatch().is_some()>
                    "Change password"
                </button>
                <ActionResult action=change/>
            </ActionForm>
            {move || changed().then(|| view! { <p><a href="/">"Continue to the console"</a></p> })}
        </section>
    }
}
