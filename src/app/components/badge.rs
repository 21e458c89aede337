//! Status badges.

use leptos::prelude::*;

/// A status word in a colored pill; the color comes from `badge-<status>`.
#[component]
pub fn StatusBadge(#[prop(into)] status: String) -> impl IntoView {
    let class = format!("badge badge-{}", status.to_lowercase());
    view! { <span class=class>{status.replace('_', " ")}</span> }
}
