//! Ticking rows of a list for a bulk action.

use leptos::prelude::*;
use uuid::Uuid;

/// The rows a writer ticked; provided by a page that offers bulk actions.
#[derive(Debug, Clone, Copy)]
pub struct Selection(pub RwSignal<Vec<Uuid>>);

impl Selection {
    /// Provides an empty selection to the page's rows.
    pub fn provide() -> Self {
        let selection = Selection(RwSignal::new(Vec::new()));
        provide_context(selection);
        selection
    }
}

impl Selection {
    /// The checkbox that ticks row `id` (labelled for screen readers).
    pub fn checkbox(self, id: Uuid, label: String) -> impl IntoView {
        let selection = self;
        view! {
            <input type="checkbox" data-testid="select-row"
                aria-label=format!("Select {label}")
                prop:checked=move || selection.0.with(|ids| ids.contains(&id))
                on:change=move |ev| {
                    let checked = event_target_checked(&ev);
                    selection.0.update(|ids| {
                        ids.retain(|other| *other != id);
                        if checked {
                            ids.push(id);
                        }
                    });
                }/>
        }
    }
}
