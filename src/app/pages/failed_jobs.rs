//! The Failed jobs tab.

use crate::api::failed_jobs::{list_failed_jobs, ResolveFailedJobs, RetryFailedJob};
use crate::app::components::action_result::ActionResult;
use crate::app::components::badge::Badge;
use crate::app::components::list_page::{refresh_on_success, report_row_action, ListPage};
use crate::app::components::optimistic::expected_effect;
use crate::app::components::selection::Selection;
use crate::app::components::time::Time;
use crate::domain::{CurrentUser, FailedJobRow};
use leptos::prelude::*;

/// Failed-job records in scope, newest first.
#[component]
pub fn FailedJobsPage() -> impl IntoView {
    let can_write = use_context::<CurrentUser>().is_some_and(|u| u.can_write());
    let selection = can_write.then(Selection::provide);
    // shared by the bulk bar and the rows, which show its effect at once
    let bulk_resolve = ServerAction::<ResolveFailedJobs>::new();
    let actions =
        ViewFn::from(move || can_write.then(|| view! { <BulkResolve resolve=bulk_resolve/> }));
    view! {
        <ListPage
            title="Failed jobs"
            path="/failed-jobs"
            actions
            statuses=&["open", "resolved"]
            columns=&["Select", "Job", "Type", "Error", "State", "Retries", "Failed", "Actions"]
            fetch=list_failed_jobs
            row=move |failure, show_org| failed_row(failure, show_org, selection, can_write, bulk_resolve)
            empty="No failed jobs. When a job runs out of attempts it lands here for resolution."
            live=crate::domain::live::ListView::FailedJobs
        />
    }
}

fn failed_row(
    failure: FailedJobRow,
    show_org: bool,
    selection: Option<Selection>,
    can_write: bool,
    bulk_resolve: ServerAction<ResolveFailedJobs>,
) -> AnyView {
    let retry = ServerAction::<RetryFailedJob>::new();
    let resolve = ServerAction::<ResolveFailedJobs>::new();
    report_row_action(retry);
    report_row_action(resolve);
    // a retry or resolution shows at once; a refusal puts the record back
    let (retrying, resolving, resolving_in_bulk) = (
        expected_effect(retry),
        expected_effect(resolve),
        expected_effect(bulk_resolve),
    );
    let (id, resolved) = (failure.id, failure.is_resolved);
    let state = move || {
        let in_bulk =
            resolving_in_bulk.with(|input| input.as_ref().is_some_and(|r| r.ids.contains(&id)));
        if resolved || in_bulk || resolving.with(Option::is_some) {
            "resolved"
        } else if retrying.with(Option::is_some) {
            "retrying"
        } else {
            "open"
        }
    };
    view! {
        <tr data-testid="failed-row">
            {show_org.then(|| view! { <td class="org">{failure.organization_name.clone()}</td> })}
            <td class="select">{selection.filter(|_| !failure.is_resolved).map(|s| s.checkbox(failure.id, failure.job_name.clone()))}</td>
            <td><a class="name" href=format!("/jobs/{}", failure.job_id)>{failure.job_name.clone()}</a></td>
            <td><code>{failure.job_type.as_str()}</code></td>
            <td>
                <span class="error-text">{failure.error_message.clone()}</span>
                {failure.resolution.clone().map(|r| view! { <span class="detail">"Resolution: "{r}</span> })}
            </td>
            <td data-testid="failure-state">{move || view! { <Badge word=state()/> }}</td>
            <td class="num">{format!("{}/{}", failure.retry_count, failure.max_retries)}</td>
            <td class="time"><Time at=failure.failed_at/></td>
            <td class="actions">{(can_write && !failure.is_resolved).then(|| view! {
                <FailureActions id=failure.id retry resolve busy=Signal::derive(move || state() != "open")/>
            })}</td>
        </tr>
    }
    .into_any()
}

/// Retry and resolve-with-a-note for one open failure, disabled while one
/// of them is on its way.
#[component]
fn FailureActions(
    id: uuid::Uuid,
    retry: ServerAction<RetryFailedJob>,
    resolve: ServerAction<ResolveFailedJobs>,
    busy: Signal<bool>,
) -> impl IntoView {
    view! {
        <ActionForm action=retry attr:class="inline-form">
            <input type="hidden" name="id" value=id.to_string()/>
            <button type="submit" data-testid="retry-failed" disabled=busy>"Retry"</button>
        </ActionForm>
        <ActionForm action=resolve attr:class="inline-form">
            <input type="hidden" name="ids[0]" value=id.to_string()/>
            <input name="resolution" placeholder="Resolution note" required=true
                aria-label="Resolution note" data-testid="resolution-note"/>
            <button type="submit" data-testid="resolve-failed" disabled=busy>"Resolve"</button>
        </ActionForm>
    }
}

/// Resolves every ticked failure with one note.
#[component]
fn BulkResolve(resolve: ServerAction<ResolveFailedJobs>) -> impl IntoView {
    let selection = expect_context::<Selection>();
    refresh_on_success(resolve);
    let note = RwSignal::new(String::new());
    Effect::new(move |_| {
        if resolve.value().with(|v| matches!(v, Some(Ok(_)))) {
            selection.0.set(Vec::new());
            note.set(String::new());
        }
    });
    let submit = move |_| {
        resolve.dispatch(ResolveFailedJobs {
            ids: selection.0.get_untracked(),
            resolution: note.get_untracked(),
        });
    };
    view! {
        <div class="bulk-bar" data-testid="bulk-resolve">
            <input placeholder="Resolution note for the selected" aria-label="Resolution note for the selected"
                data-testid="bulk-resolution-note"
                prop:value=move || note.get() on:input=move |ev| note.set(event_target_value(&ev))/>
            <button type="button" data-testid="bulk-resolve-button"
                disabled=move || selection.0.with(|ids| ids.is_empty()) || note.with(|n| n.trim().is_empty())
                on:click=submit>
                {move || format!("Resolve selected ({})", selection.0.with(|ids| ids.len()))}
            </button>
            <ActionResult action=resolve/>
        </div>
    }
}
