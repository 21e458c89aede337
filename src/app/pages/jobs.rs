//! The Jobs tab: the list, the new-job form and the job detail view.

use crate::api::jobs::{
    job_detail, list_jobs, BulkJobs, CreateJob, JobAction as JobActionFn, PreviewBulkJobs,
};
use crate::app::components::action_result::load_error;
use crate::app::components::action_result::ActionResult;
use crate::app::components::badge::Badge;
use crate::app::components::list_page::{refresh_on_success, FilterField, FilterKind, ListPage};
use crate::app::components::optimistic::expected_effect;
use crate::app::components::organization_picker::OrganizationPicker;
use crate::app::components::query::list_query;
use crate::app::components::selection::Selection;
use crate::app::components::time::{OptionalTime, Time};
use crate::domain::{
    CurrentUser, JobAction, JobDetail, JobRow, JobType, ListQuery, NewJobForm, Priority,
};
use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_params_map, use_query_map};
use uuid::Uuid;

const TYPE_CHOICES: &[(&str, &str)] = &[
    ("email", "email"),
    ("sms", "sms"),
    ("whatsapp", "whatsapp"),
    ("document_processing", "document processing"),
    ("report_generation", "report generation"),
    ("data_sync", "data sync"),
    ("webhook", "webhook"),
    ("cleanup", "cleanup"),
    ("other", "other"),
];

const PRIORITY_CHOICES: &[(&str, &str)] = &[
    ("urgent", "urgent"),
    ("high", "high"),
    ("normal", "normal"),
    ("low", "low"),
];

/// The Jobs tab's filters besides status (names as in [`crate::domain::JOB_FILTER_NAMES`]).
const JOB_FILTERS: &[FilterField] = &[
    FilterField {
        name: "type",
        label: "Type",
        kind: FilterKind::Choice(TYPE_CHOICES),
    },
    FilterField {
        name: "priority",
        label: "Priority",
        kind: FilterKind::Choice(PRIORITY_CHOICES),
    },
    FilterField {
        name: "queue",
        label: "Queue",
        kind: FilterKind::Text,
    },
    FilterField {
        name: "batch",
        label: "Batch id",
        kind: FilterKind::Text,
    },
    FilterField {
        name: "from",
        label: "Created from",
        kind: FilterKind::DateTime,
    },
    FilterField {
        name: "to",
        label: "to",
        kind: FilterKind::DateTime,
    },
    FilterField {
        name: "q",
        label: "Name contains",
        kind: FilterKind::Text,
    },
];

/// Jobs in scope, newest first.
#[component]
pub fn JobsPage() -> impl IntoView {
    let can_write = use_context::<CurrentUser>().is_some_and(|u| u.can_write());
    // Rows render after an await, where context lookups do not reach; they
    // get the selection through the row closure instead.
    let selection = can_write.then(Selection::provide);
    // shared by the bulk bar and the rows, which show its effect at once
    let bulk = ServerAction::<BulkJobs>::new();
    let actions = ViewFn::from(move || {
        can_write.then(|| {
            view! {
                <a class="button" href="/jobs/new" data-testid="new-job">"New job"</a>
                <a class="button" href="/documents/new" data-testid="upload-document">"Process a document"</a>
                <BulkBar apply=bulk/>
            }
        })
    });
    view! {
        <ListPage
            title="Jobs"
            path="/jobs"
            actions
            statuses=&["pending", "running", "completed", "failed", "cancelled"]
            filters=JOB_FILTERS
            columns=&["Select", "Name", "Type", "Status", "Priority", "Queue", "Attempts", "Created"]
            fetch=list_jobs
            row=move |job, show_org| job_row(job, show_org, selection, Some(bulk))
            empty="No jobs match. Jobs appear here as soon as they are enqueued."
            live=crate::domain::live::ListView::Jobs
        />
    }
}

/// One `<tr>` of a jobs table (the Jobs tab, a batch's page); with `bulk`,
/// a bulk action on its way shows on the rows it is expected to change.
pub(crate) fn job_row(
    job: JobRow,
    show_org: bool,
    selection: Option<Selection>,
    bulk: Option<ServerAction<BulkJobs>>,
) -> AnyView {
    let expected = bulk.map(expected_effect);
    let (id, status) = (job.id, job.status);
    let state = move || {
        expected
            .and_then(|expected| expected.get())
            // no ticked ids: the action is on everything the filters match,
            // which this row does
            .filter(|input| input.ids.is_empty() || input.ids.contains(&id))
            .filter(|input| input.action.allowed(status))
            .map(|input| input.action.expected_state(status))
            .unwrap_or(status.as_str())
    };
    let waiting = (job.status == crate::domain::JobStatus::Pending)
        .then(|| job.job_type.waiting_reason())
        .flatten();
    let checkbox = selection.map(|s| s.checkbox(job.id, job.job_name.clone()));
    view! {
        <tr data-testid="job-row">
            {show_org.then(|| view! { <td class="org">{job.organization_name.clone()}</td> })}
            <td class="select">{checkbox}</td>
            <td>
                <a class="name" href=format!("/jobs/{}", job.id)>{job.job_name.clone()}</a>
                {job.error_message.clone().map(|e| view! { <span class="detail error-text">{e}</span> })}
                {waiting.map(|w| view! { <span class="detail muted">{w}</span> })}
            </td>
            <td><code>{job.job_type.as_str()}</code></td>
            <td data-testid="job-row-status">{move || view! { <Badge word=state()/> }}</td>
            <td><Badge word=job.priority.as_str()/></td>
            <td>{job.queue.clone()}</td>
            <td class="num">{format!("{}/{}", job.attempts, job.max_attempts)}</td>
            <td class="time"><Time at=job.created_at/></td>
        </tr>
    }
    .into_any()
}

/// Bulk cancel / retry / delete, on the ticked jobs or on everything the
/// filters match (all pages), always after a preview and a confirmation.
#[component]
fn BulkBar(apply: ServerAction<BulkJobs>) -> impl IntoView {
    let selection = expect_context::<Selection>();
    let params = use_query_map();
    let action = RwSignal::new(JobAction::Retry);
    // what the preview was asked about, so the confirmation acts on the same
    let asked = RwSignal::new(None::<(ListQuery, Vec<Uuid>)>);
    let preview = ServerAction::<PreviewBulkJobs>::new();
    refresh_on_success(apply);
    Effect::new(move |_| {
        if apply.value().with(|v| matches!(v, Some(Ok(_)))) {
            selection.0.set(Vec::new());
            asked.set(None);
        }
    });
    let ask = move |ids: Vec<Uuid>| {
        let query = list_query(&params.read_untracked()).first_page();
        asked.set(Some((query.clone(), ids.clone())));
        apply.value().set(None);
        preview.dispatch(PreviewBulkJobs {
            query,
            action: action.get_untracked(),
            ids,
        });
    };
    let confirm = move |expected: i64| {
        if let Some((query, ids)) = asked.get_untracked() {
            apply.dispatch(BulkJobs {
                query,
                action: action.get_untracked(),
                ids,
                expected,
            });
        }
    };
    let prompt = move || {
        asked.get()?;
        let result = preview.value().get()?;
        Some(match result {
            Ok(p) if p.eligible == 0 => view! {
                <span class="error" role="alert">{format!("None of the {} jobs can be {}.", p.matching, p.action.past_tense())}</span>
            }.into_any(),
            Ok(p) if p.eligible > p.limit => view! {
                <span class="error" role="alert">{format!("{} jobs match; narrow the filter to at most {}.", p.eligible, p.limit)}</span>
            }.into_any(),
            Ok(p) => {
                let verb = match p.action {
                    JobAction::Cancel => "Cancel",
                    JobAction::Retry => "Retry",
                    JobAction::Delete => "Delete",
                };
                let text = format!("{verb} {} of {} jobs?", p.eligible, p.matching);
                let expected = p.eligible;
                view! {
                    <span class="confirm" data-testid="bulk-prompt">{text}</span>
                    <button type="button" data-testid="bulk-confirm" on:click=move |_| confirm(expected)>"Confirm"</button>
                    <button type="button" on:click=move |_| asked.set(None)>"Back"</button>
                }.into_any()
            }
            Err(error) => view! { <span class="error" role="alert">{error.to_string()}</span> }.into_any(),
        })
    };
    view! {
        <div class="bulk-bar" data-testid="bulk-bar">
            <label>
                "Bulk "
                <select data-testid="bulk-action" on:change=move |ev| {
                    if let Some(chosen) = JobAction::parse(&event_target_value(&ev)) {
                        action.set(chosen);
                    }
                    asked.set(None);
                }>
                    {[JobAction::Retry, JobAction::Cancel, JobAction::Delete]
                        .into_iter()
                        .map(|choice| view! {
                            <option value=choice.as_str() selected=choice == JobAction::Retry>{choice.as_str()}</option>
                        })
                        .collect_view()}
                </select>
            </label>
            <button type="button" data-testid="bulk-selected"
                disabled=move || selection.0.with(|ids| ids.is_empty())
                on:click=move |_| ask(selection.0.get_untracked())>
                {move || format!("Selected ({})…", selection.0.with(|ids| ids.len()))}
            </button>
            <button type="button" data-testid="bulk-matching" on:click=move |_| ask(Vec::new())>
                "All matching…"
            </button>
            {prompt}
            <ActionResult action=apply/>
        </div>
    }
}

/// The new-job form; validated as the person types and again on the server.
#[component]
pub fn NewJobPage() -> impl IntoView {
    let create = ServerAction::<CreateJob>::new();
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(id)) = create.value().get() {
            navigate(&format!("/jobs/{id}"), Default::default());
        }
    });
    let queue_names = Resource::new(|| (), |_| crate::api::queues::queue_names());
    let payload = RwSignal::new(String::from("{}"));
    let payload_problem = move || {
        let form = NewJobForm {
            job_type: "other".into(),
            job_name: "check".into(),
            payload: payload.get(),
            ..Default::default()
        };
        form.validate().err()
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
            <h1 id="page-title">"New job"</h1>
            <ActionForm action=create attr:class="stacked-form" attr:data-testid="new-job-form">
                <OrganizationPicker name="form[organization_id]"/>
                <label>
                    "Type"
                    <select name="form[job_type]" required=true data-testid="job-type">
                        {JobType::ALL.iter().map(|t| {
                            let label = if t.has_builtin_handler() {
                                t.as_str().replace('_', " ")
                            } else {
                                format!("{} (no handler configured yet)", t.as_str().replace('_', " "))
                            };
                            view! { <option value=t.as_str() selected=*t == JobType::Other>{label}</option> }
                        }).collect_view()}
                    </select>
                </label>
                <label>"Name"<input name="form[job_name]" required=true maxlength="255" data-testid="job-name"/></label>
                <label>
                    "Payload (JSON object)"
                    <textarea name="form[payload]" rows="6" data-testid="job-payload"
                        prop:value=move || payload.get()
                        on:input=move |ev| payload.set(event_target_value(&ev))></textarea>
                </label>
                <p class="error" role="alert" data-testid="payload-problem">{payload_problem}</p>
                <div class="row">
                    <label>
                        "Priority"
                        <select name="form[priority]">
                            {Priority::ALL.iter().map(|p| view! {
                                <option value=p.as_str() selected=*p == Priority::Normal>{p.as_str()}</option>
                            }).collect_view()}
                        </select>
                    </label>
                    <label>
                        "Queue"
                        <Transition fallback=|| view! {
                            <select name="form[queue]"><option value="default">"default"</option></select>
                        }>
                            {move || Suspend::new(async move {
                                let names = queue_names
                                    .await
                                    .unwrap_or_else(|_| vec!["default".to_string()]);
                                view! {
                                    <select name="form[queue]" data-testid="job-queue">
                                        {names.into_iter().map(|name| {
                                            let selected = name == "default";
                                            let label = name.clone();
                                            view! { <option value=name selected=selected>{label}</option> }
                                        }).collect_view()}
                                    </select>
                                }
                            })}
                        </Transition>
                    </label>
                    <label>"Max attempts"<input name="form[max_attempts]" type="number" min="1" max="100" value="3"/></label>
                    <label>"Run at (UTC, optional)"<input name="form[run_at]" type="datetime-local"/></label>
                </div>
                <p class="error" role="alert" data-testid="form-error">{server_error}</p>
                <button type="submit" disabled=move || create.pending().get() || payload_problem().is_some()>
                    "Enqueue job"
                </button>
            </ActionForm>
        </section>
    }
}

/// One job: payload, result, timing, every unsuccessful attempt, actions.
#[component]
pub fn JobDetailPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || crate::app::components::query::id_param(&params.read());
    let act = ServerAction::<JobActionFn>::new();
    // its attempts and status as they happen
    let changed =
        crate::app::live::live_version(&[crate::domain::live::Topic::Jobs], move |update| {
            update.more || id().is_some_and(|id| update.ids.contains(&id))
        });
    let detail = Resource::new(
        move || (id(), act.version().get(), changed.get()),
        |(id, _, _)| async move {
            match id {
                Some(id) => job_detail(id).await,
                None => Err(crate::error::AppError::NotFound),
            }
        },
    );
    let can_write = use_context::<CurrentUser>().is_some_and(|u| u.can_write());
    view! {
        <section class="detail-page" aria-labelledby="page-title">
            <p><a href="/jobs">"« Jobs"</a></p>
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match detail.await {
                        Ok(job) => job_view(job, can_write, act).into_any(),
                        Err(error) => load_error(error),
                    }
                })}
            </Transition>
        </section>
    }
}

fn job_view(job: JobDetail, can_write: bool, act: ServerAction<JobActionFn>) -> impl IntoView {
    let json = |v: &serde_json::Value| serde_json::to_string_pretty(v).unwrap_or_default();
    let waiting = (job.status == crate::domain::JobStatus::Pending)
        .then(|| job.job_type.waiting_reason())
        .flatten();
    let attempts = job.attempt_log.clone();
    // an action shows its effect at once; a refusal puts the job back
    let expected = expected_effect(act);
    let status = job.status;
    let shown_state = move || {
        expected
            .get()
            .map(|input| input.action.expected_state(status))
            .unwrap_or(status.as_str())
    };
    let actions = JobAction::ALL
        .iter()
        .filter(|a| can_write && a.allowed(job.status))
        .map(|a| {
            let value = a.as_str();
            let label = match a {
                JobAction::Cancel => "Cancel",
                JobAction::Retry => "Retry now",
                JobAction::Delete => "Delete",
            };
            view! {
                <ActionForm action=act attr:class="inline-form">
                    <input type="hidden" name="id" value=job.id.to_string()/>
                    <input type="hidden" name="action" value=value/>
                    <button type="submit" data-testid=format!("job-{value}")
                        disabled=move || expected.with(Option::is_some)>{label}</button>
                </ActionForm>
            }
        })
        .collect_view();
    view! {
        <div class="page-header">
            <h1 id="page-title">{job.job_name.clone()}</h1>
            <span data-testid="job-status">{move || view! { <Badge word=shown_state()/> }}</span>
        </div>
        {waiting.map(|w| view! { <p class="notice" data-testid="waiting-reason">{w}</p> })}
        <div class="actions">{actions}<ActionResult action=act/></div>
        <dl class="facts">
            <dt>"Organization"</dt><dd>{job.organization_name.clone()}</dd>
            <dt>"Type"</dt><dd><code>{job.job_type.as_str()}</code></dd>
            <dt>"Priority"</dt><dd>{job.priority.as_str()}</dd>
            <dt>"Queue"</dt><dd>{job.queue.clone()}</dd>
            <dt>"Attempts"</dt><dd>{format!("{} of {}", job.attempts, job.max_attempts)}</dd>
            <dt>"Timeout"</dt><dd>{format!("{} s", job.timeout_seconds)}</dd>
            <dt>"Batch"</dt><dd>{job.batch_name.clone().unwrap_or_else(|| "—".into())}</dd>
            <dt>"Created"</dt><dd><Time at=job.created_at/></dd>
            <dt>"Runs at"</dt><dd><Time at=job.available_at/></dd>
            <dt>"Started"</dt><dd><OptionalTime at=job.started_at/></dd>
            <dt>"Completed"</dt><dd><OptionalTime at=job.completed_at/></dd>
            <dt>"Failed"</dt><dd><OptionalTime at=job.failed_at/></dd>
            {job.locked_by.clone().map(|w| view! { <dt>"Worker"</dt><dd data-testid="job-worker">{w}</dd> })}
        </dl>
        {job.error_message.clone().map(|e| view! {
            <h2>"Error"</h2>
            <p class="error-text" data-testid="job-error">{e}</p>
        })}
        {job.error_details.as_ref().and_then(|d| d["stack_trace"].as_str().map(str::to_string)).map(|t| view! {
            <pre class="trace">{t}</pre>
        })}
        <h2>"Payload"</h2>
        <pre class="json" data-testid="job-payload-view">{json(&job.payload)}</pre>
        <p><a href=format!("/api-logs?job={}", job.id) data-testid="job-api-calls">"Third-party calls of this job »"</a></p>
        {job.result.as_ref().map(|r| {
            let file = r["file_id"].as_str().map(str::to_string);
            view! {
                <h2>"Result"</h2>
                {file.map(|f| view! { <p><a href=format!("/files/{f}") data-testid="result-file">"Download file"</a></p> })}
                <pre class="json" data-testid="job-result">{json(r)}</pre>
            }
        })}
        <h2>"Unsuccessful attempts"</h2>
        {if attempts.is_empty() {
            view! { <p class="muted">"None."</p> }.into_any()
        } else {
            view! {
                <div class="table-wrap"><table class="list">
                    <thead><tr><th>"Attempt"</th><th>"Outcome"</th><th>"Kind"</th><th>"Error"</th><th>"Started"</th><th>"Finished"</th></tr></thead>
                    <tbody>
                        {attempts.into_iter().map(|a| view! {
                            <tr data-testid="attempt-row">
                                <td class="num">{a.attempt}</td>
                                <td>{a.outcome.as_str()}</td>
                                <td><code>{a.kind.map(|k| k.as_str()).unwrap_or("—")}</code></td>
                                <td class="error-text">{a.error.unwrap_or_default()}</td>
                                <td class="time"><OptionalTime at=a.started_at/></td>
                                <td class="time"><Time at=a.finished_at/></td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table></div>
            }.into_any()
        }}
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_filter_form_and_the_server_agree_on_names_and_types() {
        let names: Vec<&str> = super::JOB_FILTERS.iter().map(|f| f.name).collect();
        assert_eq!(names, crate::domain::JOB_FILTER_NAMES);
        let types: Vec<&str> = super::TYPE_CHOICES.iter().map(|(v, _)| *v).collect();
        let all: Vec<&str> = crate::domain::JobType::ALL
            .iter()
            .map(|t| t.as_str())
            .collect();
        assert_eq!(types, all);
    }
}
