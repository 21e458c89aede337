//! The Failed jobs tab.

use crate::api::failed_jobs::list_failed_jobs;
use crate::app::components::badge::StatusBadge;
use crate::app::components::list_page::ListPage;
use crate::app::components::time::format_time;
use crate::domain::FailedJobRow;
use leptos::prelude::*;

/// Failed-job records in scope, newest first.
#[component]
pub fn FailedJobsPage() -> impl IntoView {
    view! {
        <ListPage
            title="Failed jobs"
            path="/failed-jobs"
            statuses=&["open", "resolved"]
            columns=&["Job", "Type", "Error", "State", "Retries", "Failed"]
            fetch=list_failed_jobs
            row=failed_row
            empty="No failed jobs. When a job runs out of attempts it lands here for resolution."
        />
    }
}

fn failed_row(failure: FailedJobRow, show_org: bool) -> AnyView {
    let state = if failure.is_resolved {
        "resolved"
    } else {
        "open"
    };
    view! {
        <tr data-testid="failed-row">
            {show_org.then(|| view! { <td class="org">{failure.organization_name.clone()}</td> })}
            <td class="name">{failure.job_name.clone()}</td>
            <td><code>{failure.job_type.as_str()}</code></td>
            <td>
                <span class="error-text">{failure.error_message.clone()}</span>
                {failure.resolution.clone().map(|r| view! { <span class="detail">"Resolution: "{r}</span> })}
            </td>
            <td><StatusBadge status=state/></td>
            <td class="num">{format!("{}/{}", failure.retry_count, failure.max_retries)}</td>
            <td class="time">{format_time(&failure.failed_at)}</td>
        </tr>
    }
    .into_any()
}
