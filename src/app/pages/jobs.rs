//! The Jobs tab.

use crate::api::jobs::list_jobs;
use crate::app::components::badge::StatusBadge;
use crate::app::components::list_page::ListPage;
use crate::app::components::time::format_time;
use crate::domain::JobRow;
use leptos::prelude::*;

/// Jobs in scope, newest first.
#[component]
pub fn JobsPage() -> impl IntoView {
    view! {
        <ListPage
            title="Jobs"
            path="/jobs"
            statuses=&["pending", "running", "completed", "failed", "cancelled"]
            columns=&["Name", "Type", "Status", "Priority", "Queue", "Attempts", "Created"]
            fetch=list_jobs
            row=job_row
            empty="No jobs match. Jobs appear here as soon as they are enqueued."
        />
    }
}

fn job_row(job: JobRow, show_org: bool) -> AnyView {
    view! {
        <tr data-testid="job-row">
            {show_org.then(|| view! { <td class="org">{job.organization_name.clone()}</td> })}
            <td>
                <span class="name">{job.job_name.clone()}</span>
                {job.error_message.clone().map(|e| view! { <span class="detail error-text">{e}</span> })}
            </td>
            <td><code>{job.job_type.as_str()}</code></td>
            <td><StatusBadge status=job.status.as_str()/></td>
            <td><StatusBadge status=job.priority.as_str()/></td>
            <td>{job.queue.clone()}</td>
            <td class="num">{format!("{}/{}", job.attempts, job.max_attempts)}</td>
            <td class="time">{format_time(&job.created_at)}</td>
        </tr>
    }
    .into_any()
}
