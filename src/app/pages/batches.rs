//! The Batches tab.

use crate::api::batches::{
    batch_detail, list_batches, CancelBatch, CreateBatch, RetryBatchFailures,
};
use crate::api::jobs::list_jobs;
use crate::app::components::action_result::load_error;
use crate::app::components::badge::Badge;
use crate::app::components::list_page::{report_row_action, ListPage};
use crate::app::components::organization_picker::OrganizationPicker;
use crate::app::components::time::Time;
use crate::domain::live::Topic;
use crate::domain::{BatchDetail, BatchRow, CurrentUser, JobStatus, ListQuery, Priority};
use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_params_map, use_query_map};

/// Batches in scope, newest first, with progress.
#[component]
pub fn BatchesPage() -> impl IntoView {
    let can_write = use_context::<CurrentUser>().is_some_and(|u| u.can_write());
    let actions = ViewFn::from(move || {
        can_write.then(|| view! { <a class="button" href="/batches/new" data-testid="new-batch">"New batch"</a> })
    });
    view! {
        <ListPage
            title="Batches"
            path="/batches"
            actions
            statuses=&["pending", "running", "completed", "failed", "cancelled"]
            columns=&["Name", "Status", "Progress", "Done", "Failed", "Unfinished", "Created", "Actions"]
            fetch=list_batches
            row=batch_row
            empty="No batches match. A batch groups related jobs, such as one email per customer."
            live=crate::domain::live::ListView::Batches
        />
    }
}

fn batch_row(batch: BatchRow, show_org: bool) -> AnyView {
    let label = format!("{:.0}%", batch.progress);
    view! {
        <tr data-testid="batch-row">
            {show_org.then(|| view! { <td class="org">{batch.organization_name.clone()}</td> })}
            <td>
                <a class="name" href=format!("/batches/{}", batch.id) title="This batch's progress and jobs">
                    {batch.batch_name.clone()}
                </a>
            </td>
            <td><Badge word=batch.status.as_str()/></td>
            <td>
                <progress max="100" value=batch.progress aria-label=format!("{} progress", batch.batch_name)></progress>
                " "{label}
            </td>
            <td class="num">{format!("{}/{}", batch.processed_jobs, batch.total_jobs)}</td>
            <td class="num">{batch.failed_jobs}</td>
            <td class="num">{batch.pending_jobs}</td>
            <td class="time"><Time at=batch.created_at/></td>
            <td class="actions">
                {matches!(batch.status, JobStatus::Pending | JobStatus::Running)
                    .then(|| view! { <CancelBatchButton id=batch.id/> })}
                {(batch.failed_jobs > 0).then(|| view! { <RetryFailuresButton id=batch.id/> })}
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
    report_row_action(cancel);
    can_write.then(|| {
        view! {
            <ActionForm action=cancel attr:class="inline-form">
                <input type="hidden" name="id" value=id.to_string()/>
                <button type="submit" data-testid="cancel-batch">"Cancel"</button>
            </ActionForm>
        }
    })
}

/// Re-runs the failed jobs of one batch (writers only).
#[component]
fn RetryFailuresButton(id: uuid::Uuid) -> impl IntoView {
    let can_write = use_context::<CurrentUser>().is_some_and(|u| u.can_write());
    let retry = ServerAction::<RetryBatchFailures>::new();
    report_row_action(retry);
    can_write.then(|| {
        view! {
            <ActionForm action=retry attr:class="inline-form">
                <input type="hidden" name="id" value=id.to_string()/>
                <button type="submit" data-testid="retry-batch-failures">"Retry failed"</button>
            </ActionForm>
        }
    })
}

/// Largest CSV file the form loads (10,000 recipients fit well within it).
const MAX_CSV_FILE_BYTES: f64 = 2.0 * 1024.0 * 1024.0;

/// Reads the chosen CSV file into the recipients box, where the same check
/// as for pasted text runs; the file never leaves the browser on its own.
fn load_csv_file(
    ev: leptos::ev::Event,
    recipients: RwSignal<String>,
    problem: RwSignal<Option<String>>,
) {
    #[cfg(feature = "hydrate")]
    {
        let input: web_sys::HtmlInputElement = event_target(&ev);
        let Some(file) = input.files().and_then(|files| files.get(0)) else {
            return;
        };
        if file.size() > MAX_CSV_FILE_BYTES {
            problem.set(Some(format!(
                "{} is larger than 2 MB; split the recipients into several batches.",
                file.name()
            )));
            return;
        }
        leptos::task::spawn_local(async move {
            match wasm_bindgen_futures::JsFuture::from(file.text()).await {
                Ok(text) => {
                    recipients.set(text.as_string().unwrap_or_default());
                    problem.set(None);
                }
                Err(_) => problem.set(Some(format!(
                    "{} could not be read; choose a CSV text file.",
                    file.name()
                ))),
            }
        });
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (ev, recipients, problem, MAX_CSV_FILE_BYTES);
}

/// The new-batch form: a CSV of recipients, pasted or loaded from a file,
/// becomes one email job per row.
#[component]
pub fn NewBatchPage() -> impl IntoView {
    let create = ServerAction::<CreateBatch>::new();
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(id)) = create.value().get() {
            navigate(&format!("/batches/{id}"), Default::default());
        }
    });
    let recipients = RwSignal::new(String::from("email,name\n"));
    let file_problem = RwSignal::new(None::<String>);
    // the same check the server makes, while the person types
    let summary = move || {
        let form = crate::domain::NewBatchForm {
            batch_name: "check".into(),
            subject: "check".into(),
            template: "check".into(),
            recipients: recipients.get(),
            ..Default::default()
        };
        match form.validate() {
            Ok(batch) => (format!("{} recipients", batch.recipients.len()), false),
            Err(problem) => (problem, true),
        }
    };
    let server_error = move || {
        create
            .value()
            .get()
            .and_then(|r| r.err())
            .map(|e| e.to_string())
    };
    view! {
        <section class="form-page" aria-labelledby="page-title">
            <h1 id="page-title">"New batch"</h1>
            <ActionForm action=create attr:class="stacked-form" attr:data-testid="new-batch-form">
                <OrganizationPicker name="form[organization_id]"/>
                <label>"Batch name"<input name="form[batch_name]" required=true maxlength="255" data-testid="batch-name"/></label>
                <label>"Email subject"<input name="form[subject]" required=true maxlength="255" data-testid="batch-subject"/></label>
                <label>"Template"<input name="form[template]" required=true value="welcome" list="email-templates" data-testid="batch-template"/>
                    <datalist id="email-templates">
                        {crate::domain::templates::BUILTIN_TEMPLATES.iter().map(|name| view! { <option value=*name></option> }).collect_view()}
                    </datalist></label>
                <label>
                    "Priority"
                    <select name="form[priority]">
                        {Priority::ALL.iter().map(|p| view! {
                            <option value=p.as_str() selected=*p == Priority::Normal>{p.as_str()}</option>
                        }).collect_view()}
                    </select>
                </label>
                <label>
                    "Load recipients from a CSV file"
                    <input type="file" accept=".csv,text/csv,text/plain" data-testid="batch-csv-file"
                        on:change=move |ev| load_csv_file(ev, recipients, file_problem)/>
                </label>
                <p class="error" role="alert" data-testid="batch-file-error">{move || file_problem.get()}</p>
                <label>
                    "Recipients (CSV with a header row and an email column; other columns become template variables)"
                    <textarea name="form[recipients]" rows="10" data-testid="batch-recipients"
                        prop:value=move || recipients.get()
                        on:input=move |ev| recipients.set(event_target_value(&ev))></textarea>
                </label>
                <p data-testid="batch-summary" class=move || if summary().1 { "error" } else { "muted" }>{move || summary().0}</p>
                <p class="error" role="alert" data-testid="form-error">{server_error}</p>
                <button type="submit" disabled=move || create.pending().get() || summary().1>"Create batch"</button>
            </ActionForm>
        </section>
    }
}

/// One batch: its counters, progress and pace, live; its jobs by status.
#[component]
pub fn BatchDetailPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let id = move || crate::app::components::query::id_param(&params.read());
    let status = move || {
        query
            .read()
            .get("status")
            .filter(|s| JobStatus::parse(s).is_some())
    };
    let changed = crate::app::live::live_version(&[Topic::Batches], move |update| {
        update.more || id().is_some_and(|id| update.ids.contains(&id))
    });
    let detail = Resource::new(
        move || (id(), changed.get()),
        |(id, _)| async move {
            match id {
                Some(id) => batch_detail(id).await,
                None => Err(crate::error::AppError::NotFound),
            }
        },
    );
    let jobs = Resource::new(
        move || (id(), status(), changed.get()),
        |(id, status, _)| async move {
            let Some(id) = id else {
                return Err(crate::error::AppError::NotFound);
            };
            let mut query = ListQuery {
                status,
                ..Default::default()
            };
            query.filters.insert("batch".into(), id.to_string());
            list_jobs(query).await
        },
    );
    view! {
        <section class="detail-page" aria-labelledby="page-title">
            <p><a href="/batches">"« Batches"</a></p>
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match detail.await {
                        Ok(batch) => batch_summary(batch, status()).into_any(),
                        Err(error) => load_error(error),
                    }
                })}
            </Transition>
            <h2>"Jobs"</h2>
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match jobs.await {
                        Ok(page) if page.items.is_empty() => view! {
                            <div class="empty-state" data-testid="empty-state">"No jobs of this batch match."</div>
                        }
                        .into_any(),
                        Ok(page) => {
                            let more = page.next_cursor.is_some();
                            view! {
                                <div class="table-wrap">
                                    <table class="list">
                                        <thead>
                                            <tr>
                                                {["Select", "Name", "Type", "Status", "Priority", "Queue", "Attempts", "Created"]
                                                    .iter()
                                                    .map(|c| view! { <th scope="col">{*c}</th> })
                                                    .collect_view()}
                                            </tr>
                                        </thead>
                                        <tbody>
                                            {page
                                                .items
                                                .into_iter()
                                                .map(|job| crate::app::pages::jobs::job_row(job, false, None, None))
                                                .collect_view()}
                                        </tbody>
                                    </table>
                                </div>
                                {more.then(|| view! {
                                    <p>
                                        <a href=move || jobs_tab_href(id(), status())>"All of this batch's jobs in the Jobs tab »"</a>
                                    </p>
                                })}
                            }
                            .into_any()
                        }
                        Err(error) => load_error(error),
                    }
                })}
            </Transition>
        </section>
    }
}

/// The Jobs tab narrowed to a batch (and a status).
fn jobs_tab_href(id: Option<uuid::Uuid>, status: Option<String>) -> String {
    let mut query = ListQuery {
        status,
        ..Default::default()
    };
    if let Some(id) = id {
        query.filters.insert("batch".into(), id.to_string());
    }
    crate::app::components::query::query_href("/jobs", &query)
}

fn batch_summary(batch: BatchDetail, status: Option<String>) -> impl IntoView {
    let percent = format!("{:.0}%", batch.progress);
    let duration = batch
        .duration()
        .map(|d| format_duration(d.num_seconds()))
        .unwrap_or_else(|| "not started".into());
    let pace = batch
        .jobs_per_second()
        .map(|rate| format!("{rate:.1} jobs/s"))
        .unwrap_or_else(|| "—".into());
    let failures = batch
        .failure_share()
        .map(|share| format!("{:.1}%", share * 100.0))
        .unwrap_or_else(|| "—".into());
    let filter = |label: &'static str, value: Option<&'static str>, count: i32| {
        let current = status.as_deref() == value;
        let href = match value {
            Some(value) => format!("/batches/{}?status={value}", batch.id),
            None => format!("/batches/{}", batch.id),
        };
        view! {
            <a href=href class="filter-chip" aria-current=current.then_some("true")
                data-testid=format!("batch-filter-{}", value.unwrap_or("all"))>
                {label}" "<span class="count">{count}</span>
            </a>
        }
    };
    view! {
        <div class="page-header">
            <h1 id="page-title">{batch.batch_name.clone()}</h1>
            <Badge word=batch.status.as_str()/>
        </div>
        <p class="muted">{batch.organization_name.clone()}</p>
        <div class="batch-progress">
            <progress max="100" value=batch.progress aria-label="Batch progress" data-testid="batch-progress"></progress>
            <span data-testid="batch-percent">{percent}</span>
        </div>
        <dl class="facts">
            <dt>"Jobs"</dt><dd data-testid="batch-total">{batch.total_jobs}</dd>
            <dt>"Started"</dt><dd><crate::app::components::time::OptionalTime at=batch.started_at/></dd>
            <dt>"Finished"</dt><dd><crate::app::components::time::OptionalTime at=batch.completed_at/></dd>
            <dt>"Duration"</dt><dd>{duration}</dd>
            <dt>"Throughput"</dt><dd>{pace}</dd>
            <dt>"Failure share"</dt><dd>{failures}</dd>
        </dl>
        <nav class="filter-chips" aria-label="Jobs of this batch by status">
            {filter("All", None, batch.total_jobs)}
            {filter("Waiting", Some("pending"), batch.waiting_jobs())}
            {filter("Running", Some("running"), batch.running_jobs)}
            {filter("Completed", Some("completed"), batch.processed_jobs)}
            {filter("Failed", Some("failed"), batch.failed_jobs)}
            {filter("Cancelled", Some("cancelled"), batch.cancelled_jobs)}
        </nav>
    }
}

/// `1 h 5 min`, `3 min 20 s`, `12 s`.
pub fn format_duration(seconds: i64) -> String {
    let seconds = seconds.max(0);
    match seconds {
        0..60 => format!("{seconds} s"),
        60..3600 => format!("{} min {} s", seconds / 60, seconds % 60),
        _ => format!("{} h {} min", seconds / 3600, (seconds % 3600) / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_in_the_largest_sensible_units() {
        assert_eq!(format_duration(12), "12 s");
        assert_eq!(format_duration(200), "3 min 20 s");
        assert_eq!(format_duration(3900), "1 h 5 min");
    }
}
