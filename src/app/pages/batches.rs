//! The Batches tab.

use crate::api::batches::list_batches;
use crate::app::components::badge::StatusBadge;
use crate::app::components::list_page::ListPage;
use crate::app::components::time::format_time;
use crate::domain::BatchRow;
use leptos::prelude::*;

/// Batches in scope, newest first, with progress.
#[component]
pub fn BatchesPage() -> impl IntoView {
    view! {
        <ListPage
            title="Batches"
            path="/batches"
            statuses=&["pending", "running", "completed", "failed", "cancelled"]
            columns=&["Name", "Status", "Progress", "Done", "Failed", "Unfinished", "Created"]
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
        </tr>
    }
    .into_any()
}
