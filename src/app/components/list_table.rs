//! A list table in its own scrolling box, so a wide table never makes the
//! page scroll sideways.

use leptos::prelude::*;

/// Column heads, then the rows given as children.
#[component]
pub fn ListTable(
    /// Column heads, in order.
    heads: Vec<&'static str>,
    /// The id of the heading that names the table, if any.
    #[prop(optional)]
    labelled_by: Option<&'static str>,
    /// The rows.
    children: Children,
) -> impl IntoView {
    view! {
        <div class="table-wrap">
            <table class="list" aria-labelledby=labelled_by>
                <thead>
                    <tr>
                        {heads.into_iter().map(|head| view! { <th scope="col">{head}</th> }).collect_view()}
                    </tr>
                </thead>
                <tbody>{children()}</tbody>
            </table>
        </div>
    }
}
