//! The message under an action button: what happened, or why not.

use crate::error::AppError;
use leptos::prelude::*;

/// Shows the last result of `action`: its success text or its error.
#[component]
pub fn ActionResult<S>(action: ServerAction<S>) -> impl IntoView
where
    S: leptos::server_fn::ServerFn<Output = String, Error = AppError>
        + Clone
        + Send
        + Sync
        + 'static,
{
    move || {
        action.value().with(|value| match value {
            Some(Ok(message)) => {
                view! { <span class="action-ok" role="status">{message.clone()}</span> }.into_any()
            }
            Some(Err(error)) => {
                view! { <span class="error" role="alert">{error.to_string()}</span> }.into_any()
            }
            None => ().into_any(),
        })
    }
}
