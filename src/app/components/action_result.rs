//! The message under an action button: what happened, or why not.

use crate::error::AppError;
use leptos::prelude::*;

/// A server action that answers with a message for the person who ran it.
pub trait MessageAction:
    leptos::server_fn::ServerFn<Output = String, Error = AppError> + Clone + Send + Sync + 'static
{
}

impl<S> MessageAction for S where
    S: leptos::server_fn::ServerFn<Output = String, Error = AppError>
        + Clone
        + Send
        + Sync
        + 'static
{
}

/// The last outcome of `action`, if it ran: its message, or its error text.
pub fn last_outcome<S: MessageAction>(action: ServerAction<S>) -> Option<Result<String, String>> {
    action.value().with(|value| {
        value
            .as_ref()
            .map(|result| result.clone().map_err(|error| error.to_string()))
    })
}

/// Shows an outcome: a success message as a status, an error as an alert.
pub fn outcome_view(outcome: Result<String, String>) -> AnyView {
    match outcome {
        Ok(message) => view! { <span class="action-ok" role="status">{message}</span> }.into_any(),
        Err(message) => view! { <span class="error" role="alert">{message}</span> }.into_any(),
    }
}

/// Shows the last result of `action`: its success text or its error.
#[component]
pub fn ActionResult<S: MessageAction>(action: ServerAction<S>) -> impl IntoView {
    move || last_outcome(action).map(outcome_view)
}

/// Why something could not be loaded, announced to screen readers.
pub fn load_error(error: AppError) -> AnyView {
    view! { <p class="error" role="alert">{error.to_string()}</p> }.into_any()
}
