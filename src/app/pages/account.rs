//! The account page: change one's password (required at the first sign-in of
//! the first-start bank admin).

use crate::api::auth::ChangePassword;
use crate::app::components::action_result::ActionResult;
use crate::domain::CurrentUser;
use leptos::prelude::*;

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
