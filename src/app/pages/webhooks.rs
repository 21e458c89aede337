//! The Webhooks tab.

use crate::api::webhooks::list_webhooks;
use crate::app::components::badge::Badge;
use crate::app::components::list_page::ListPage;
use crate::app::components::time::OptionalTime;
use crate::domain::WebhookRow;
use leptos::prelude::*;

/// Webhook configurations in scope, newest first. Secrets are never shown.
#[component]
pub fn WebhooksPage() -> impl IntoView {
    view! {
        <ListPage
            title="Webhooks"
            path="/webhooks"
            statuses=&["active", "inactive", "error"]
            columns=&["Name", "Event", "Status", "URL", "Failures", "Last success", "Last failure"]
            fetch=list_webhooks
            row=webhook_row
            empty="No webhooks match. Webhooks tell other systems when something happens here."
            live=crate::domain::live::ListView::Webhooks
        />
    }
}

fn webhook_row(hook: WebhookRow, show_org: bool) -> AnyView {
    view! {
        <tr data-testid="webhook-row">
            {show_org.then(|| view! { <td class="org">{hook.organization_name.clone()}</td> })}
            <td class="name">
                {hook.webhook_name.clone()}
                {hook.has_secret.then(|| view! { <span class="detail">"signed"</span> })}
            </td>
            <td><code>{hook.event_type.as_str()}</code></td>
            <td><Badge word=hook.status.as_str()/></td>
            <td class="endpoint">{hook.webhook_url.clone()}</td>
            <td class="num">{hook.failure_count}</td>
            <td class="time"><OptionalTime at=hook.last_success_at/></td>
            <td class="time"><OptionalTime at=hook.last_failure_at/></td>
        </tr>
    }
    .into_any()
}
