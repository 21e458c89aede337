//! The API logs tab.

use crate::api::api_logs::list_api_logs;
use crate::app::components::badge::Badge;
use crate::app::components::list_page::ListPage;
use crate::app::components::time::Time;
use crate::domain::ApiLogRow;
use leptos::prelude::*;

/// Third-party API calls in scope, newest first.
#[component]
pub fn ApiLogsPage() -> impl IntoView {
    view! {
        <ListPage
            title="API logs"
            path="/api-logs"
            statuses=&["pending", "success", "failed", "timeout"]
            columns=&["API", "Call", "Status", "HTTP", "Time", "Retries", "When"]
            fetch=list_api_logs
            row=api_log_row
            empty="No API calls match. Every call to a third-party service is recorded here."
            live=crate::domain::live::ListView::ApiLogs
        />
    }
}

fn api_log_row(call: ApiLogRow, show_org: bool) -> AnyView {
    view! {
        <tr data-testid="api-log-row">
            {show_org.then(|| view! { <td class="org">{call.organization_name.clone()}</td> })}
            <td class="name">{call.api_name.clone()}</td>
            <td>
                <code>{call.method.as_str()}</code>" "<span class="endpoint">{call.endpoint.clone()}</span>
                {call.error_message.clone().map(|e| view! { <span class="detail error-text">{e}</span> })}
            </td>
            <td><Badge word=call.status.as_str()/></td>
            <td class="num">{call.status_code.map(|c| c.to_string()).unwrap_or_else(|| "—".into())}</td>
            <td class="num">{call.response_time.map(|ms| format!("{ms} ms")).unwrap_or_else(|| "—".into())}</td>
            <td class="num">{call.retry_count}</td>
            <td class="time"><Time at=call.created_at/></td>
        </tr>
    }
    .into_any()
}
