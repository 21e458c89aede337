//! The Batches tab.

use crate::api::batches::{list_batches, CancelBatch};
use crate::app::components::action_result::ActionResult;
use crate::app::components::badge::StatusBadge;
use crate::app::components::list_page::refresh_on_success;
use crate::app::components::list_page::ListPage;
use crate::app::components::time::format_time;
use crate::domain::{BatchRow, CurrentUser, JobStatus};
use leptos::prelude::*;

/// Batches in scope, newest first, with progress.
#[component]
pub fn BatchesPage() -> impl IntoView {
    view! {
        <ListPage
            title="Batches"
            path="/batches"
            statuses=&["pending", "running", "completed", "failed", "cancelled"]
            columns=&["Name", "Status", "Progress", "Done", "Failed", "Unfinished", "Created", "Actions"]
            fetch=list_batches
            row=batch_row
            empty="No batches match. A batch groups related jobs, such as one email per customer."
        />
    }
}

fn batch_row(batch: BatchRow, show_org: bool) -> AnyView {
    let label = format!("{:.0}%", batch.progress);
    view! {
        <tr data-testid="batch-row">
            {show_org.then(|| view! { <td class="org">{batch.organization_name.clone()}</td> })}
            <td class="name">{batch.batch_name.clone()}</td>
            <td><StatusBadge status=batch.status.as_str()/></td>
            <td>
                <progress max="100" value=batch.progress aria-label=format!("{} progress", batch.batch_name)></progress>
                " "{label}
            </td>
            <td class="num">{format!("{}/{}", batch.processed_jobs, batch.total_jobs)}</td>
            <td class="num">{batch.failed_jobs}</td>
            <td class="num">{batch.pending_jobs}</td>
            <td class="time">{format_time(&batch.created_at)}</td>
            <td class="actions">
                {matches!(batch.status, JobStatus::Pending | JobStatus::Running)
                    .then(|| view! { <CancelBatchButton id=batch.id/> })}
            </td>
        </tr>
    }
    .into_any()
}

/// Cancels one unfinished batch (writers only).
#[component]
fn CancelBatchButton(id: uuid::Uuid) -> impl IntoView {
    let can_write = use_context::<CurrentUser>().is_some_and(|u| u.can_write());
    let cancel = ServerAction::<CancelBatch>::new();
    refresh_on_success(cancel);
    can_write.then(|| {
        view! {
            <ActionForm action=cancel attr:class="inline-form">
                <input type="hidden" name="id" value=id.to_string()/>
                <button type="submit" data-testid="cancel-batch">"Cancel"</button>
            </ActionForm>
            <ActionResult action=cancel/>
        }
    })
}
