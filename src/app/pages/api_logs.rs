//! The API logs tab.

use crate::api::api_logs::{api_log_detail, list_api_logs};
use crate::app::components::action_result::load_error;
use crate::app::components::badge::Badge;
use crate::app::components::list_page::{FilterField, FilterKind, ListPage};
use crate::app::components::time::Time;
use crate::domain::api_log_filters::CODE_CLASSES;
use crate::domain::{ApiLogDetail, ApiLogRow};
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

const METHODS: &[(&str, &str)] = &[
    ("GET", "GET"),
    ("POST", "POST"),
    ("PUT", "PUT"),
    ("PATCH", "PATCH"),
    ("DELETE", "DELETE"),
];

const FILTERS: &[FilterField] = &[
    FilterField {
        name: "api",
        label: "API",
        kind: FilterKind::Text,
    },
    FilterField {
        name: "method",
        label: "Method",
        kind: FilterKind::Choice(METHODS),
    },
    FilterField {
        name: "code",
        label: "Answer",
        kind: FilterKind::Choice(CODE_CLASSES),
    },
    FilterField {
        name: "integration",
        label: "Integration id",
        kind: FilterKind::Text,
    },
    FilterField {
        name: "job",
        label: "Job id",
        kind: FilterKind::Text,
    },
    FilterField {
        name: "webhook",
        label: "Webhook id",
        kind: FilterKind::Text,
    },
    FilterField {
        name: "from",
        label: "From",
        kind: FilterKind::DateTime,
    },
    FilterField {
        name: "to",
        label: "to",
        kind: FilterKind::DateTime,
    },
];

/// Third-party API calls in scope, newest first.
#[component]
pub fn ApiLogsPage() -> impl IntoView {
    view! {
        <ListPage
            title="API logs"
            actions=ViewFn::from(|| view! {
                <a class="button" href="/api-logs/monitoring" data-testid="api-monitoring-link">"Monitoring"</a>
            })
            path="/api-logs"
            statuses=&["pending", "success", "failed", "timeout"]
            filters=FILTERS
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
            <td class="name"><a href=format!("/api-logs/{}", call.id)>{call.api_name.clone()}</a></td>
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

/// One call: what was sent and answered (as stored: redacted), its timing,
/// integration, and the job and attempt it was made for.
#[component]
pub fn ApiLogDetailPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || crate::app::components::query::id_param(&params.read());
    let detail = Resource::new(id, |id| async move {
        match id {
            Some(id) => api_log_detail(id).await,
            None => Err(crate::error::AppError::NotFound),
        }
    });
    view! {
        <section class="detail-page" aria-labelledby="page-title">
            <p><a href="/api-logs">"« API logs"</a></p>
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match detail.await {
                        Ok(call) => call_view(call).into_any(),
                        Err(error) => load_error(error),
                    }
                })}
            </Transition>
        </section>
    }
}

fn call_view(call: ApiLogDetail) -> impl IntoView {
    let json = |v: &Option<serde_json::Value>| {
        v.as_ref()
            .map(|v| serde_json::to_string_pretty(v).unwrap_or_default())
            .unwrap_or_else(|| "(nothing)".into())
    };
    view! {
        <h1 id="page-title">{call.api_name.clone()}" — "<code>{call.method.as_str()}</code></h1>
        <dl class="facts" data-testid="api-call-facts">
            <dt>"Organization"</dt><dd>{call.organization_name.clone()}</dd>
            <dt>"Endpoint"</dt><dd class="endpoint">{call.endpoint.clone()}</dd>
            <dt>"Status"</dt><dd><Badge word=call.status.as_str()/></dd>
            <dt>"Answer"</dt><dd>{call.status_code.map(|c| c.to_string()).unwrap_or_else(|| "none".into())}</dd>
            <dt>"Response time"</dt><dd>{call.response_time.map(|ms| format!("{ms} ms")).unwrap_or_else(|| "—".into())}</dd>
            <dt>"Made"</dt><dd><Time at=call.created_at/></dd>
            <dt>"Integration"</dt>
            <dd>{match (call.integration_id, call.integration_name.clone()) {
                (Some(id), Some(name)) => view! { <a href=format!("/integrations/{id}")>{name}</a> }.into_any(),
                _ => view! { <span class="muted">"none"</span> }.into_any(),
            }}</dd>
            <dt>"Job"</dt>
            <dd>{match call.job_id {
                Some(job) => view! {
                    <a href=format!("/jobs/{job}")>{job.to_string()}</a>
                    {call.attempt.map(|a| format!(" (attempt {a})"))}
                }.into_any(),
                None => view! { <span class="muted">"none"</span> }.into_any(),
            }}</dd>
            {call.error_message.clone().map(|e| view! { <dt>"Error"</dt><dd class="error-text">{e}</dd> })}
        </dl>
        <h2>"Request (redacted)"</h2>
        <pre class="json" data-testid="api-call-request">{json(&call.request_payload)}</pre>
        <h2>"Answer (redacted)"</h2>
        <pre class="json" data-testid="api-call-response">{json(&call.response_payload)}</pre>
    }
}
