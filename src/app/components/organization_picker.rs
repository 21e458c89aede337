//! The organization a bank admin must choose on a "new …" form (everyone
//! else works in their own organization, so they see no picker).

use crate::api::overview::organizations;
use crate::domain::CurrentUser;
use leptos::prelude::*;

/// A required `<select name=name>` of the organizations, for bank admins only.
#[component]
pub fn OrganizationPicker(
    /// The form field name.
    name: &'static str,
) -> impl IntoView {
    let bank_admin = use_context::<CurrentUser>().is_some_and(|u| u.is_bank_admin());
    bank_admin.then(|| {
        let orgs = Resource::new(|| (), |_| organizations());
        view! {
            <label>
                "Organization"
                <Transition fallback=move || view! { <select name=name disabled=true></select> }>
                    <select name=name required=true data-testid="organization-picker">
                        <option value="">"Choose…"</option>
                        {move || {
                            orgs.get()
                                .and_then(Result::ok)
                                .unwrap_or_default()
                                .into_iter()
                                .map(|o| view! { <option value=o.id.to_string()>{o.name}</option> })
                                .collect_view()
                        }}
                    </select>
                </Transition>
            </label>
        }
    })
}
