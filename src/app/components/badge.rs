//! Badges: one word of a closed vocabulary (a status, a priority) in a
//! colored pill.

use leptos::prelude::*;

/// `word` in a pill; the color comes from the CSS class `badge-<word>`.
#[component]
pub fn Badge(#[prop(into)] word: String) -> impl IntoView {
    let class = format!("badge badge-{}", word.to_lowercase());
    view! { <span class=class>{word.replace('_', " ")}</span> }
}
