//! The sign-in page.

use crate::api::auth::Login;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

/// Email and password form; errors are shown in place.
#[component]
pub fn LoginPage() -> impl IntoView {
    let login = ServerAction::<Login>::new();
    let params = use_query_map();
    let next = move || params.read().get("next").unwrap_or_default();
    let error = move || {
        login
            .value()
            .get()
            .and_then(|result| result.err())
            .map(|e| e.to_string())
    };
    view! {
        <main class="login-page">
            <div class="login-card">
                <h1>"Veriphy Jobs"</h1>
                <p class="muted">"Sign in to the background-processing console."</p>
                <ActionForm action=login attr:class="login-form">
                    <label>
                        "Email"
                        <input type="email" name="email" autocomplete="username" required=true autofocus=true/>
                    </label>
                    <label>
                        "Password"
                        <input type="password" name="password" autocomplete="current-password" required=true/>
                    </label>
                    <input type="hidden" name="next" value=next/>
                    <p class="error" role="alert" data-testid="login-error">{error}</p>
                    <button type="submit" disabled=move || login.pending().get()>"Sign in"</button>
                </ActionForm>
            </div>
        </main>
    }
}
