//! The Failed jobs tab.

use crate::api::failed_jobs::{list_failed_jobs, ResolveFailedJob, RetryFailedJob};
use crate::app::components::action_result::ActionResult;
use crate::app::components::badge::StatusBadge;
use crate::app::components::list_page::refresh_on_success;
use crate::app::components::list_page::ListPage;
use crate::app::components::time::format_time;
use crate::domain::{CurrentUser, FailedJobRow};
use leptos::prelude::*;

/// Failed-job records in scope, newest first.
#[component]
pub fn FailedJobsPage() -> impl IntoView {
    view! {
        <ListPage
            title="Failed jobs"
            path="/failed-jobs"
            statuses=&["open", "resolved"]
            columns=&["Job", "Type", "Error", "State", "Retries", "Failed", "Actions"]
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
            <td><a class="name" href=format!("/jobs/{}", failure.job_id)>{failure.job_name.clone()}</a></td>
            <td><code>{failure.job_type.as_str()}</code></td>
            <td>
                <span class="error-text">{failure.error_message.clone()}</span>
                {failure.resolution.clone().map(|r| view! { <span class="detail">"Resolution: "{r}</span> })}
            </td>
            <td><StatusBadge status=state/></td>
            <td class="num">{format!("{}/{}", failure.retry_count, failure.max_retries)}</td>
            <td class="time">{format_time(&failure.failed_at)}</td>
            <td class="actions">{(!failure.is_resolved).then(|| view! { <FailureActions id=failure.id/> })}</td>
        </tr>
    }
    .into_any()
}

/// Retry and resolve-with-a-note for one open failure (writers only).
#[component]
fn FailureActions(id: uuid::Uuid) -> impl IntoView {
    let can_write = use_context::<CurrentUser>().is_some_and(|u| u.can_write());
    let retry = ServerAction::<RetryFailedJob>::new();
    let resolve = ServerAction::<ResolveFailedJob>::new();
    refresh_on_success(retry);
    refresh_on_success(resolve);
    can_write.then(|| {
        view! {
            <ActionForm action=retry attr:class="inline-form">
                <input type="hidden" name="id" value=id.to_string()/>
                <button type="submit" data-testid="retry-failed">"Retry"</button>
            </ActionForm>
            <ActionForm action=resolve attr:class="inline-form">
                <input type="hidden" name="id" value=id.to_string()/>
                <input name="resolution" placeholder="Resolution note" required=true
                    aria-label="Resolution note" data-testid="resolution-note"/>
                <button type="submit" data-testid="resolve-failed">"Resolve"</button>
            </ActionForm>
            <ActionResult action=retry/>
            <ActionResult action=resolve/>
        }
    })
}
