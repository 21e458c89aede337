//! The Overview tab: what waits and runs now, and over a chosen period the
//! seed's metrics — throughput, completion and failure rates, wait and run
//! times by job type, batch efficiency, unresolved failures by age and API
//! health — as charts with tables beside them, following live changes.
//! Every figure links to the list it counts.

use crate::api::overview::load_overview;
use crate::app::components::action_result::load_error;
use crate::app::components::badge::Badge;
use crate::app::components::charts::{Column, ShareBar, ShareBars, StackedColumns};
use crate::app::components::query::{href_with_org, query_href, selected_org};
use crate::app::components::time::OptionalTime;
use crate::app::pages::batches::format_duration;
use crate::domain::live::Topic;
use crate::domain::metrics::{
    format_count, format_ms, share, Period, ThroughputPoint, TypeMetrics,
};
use crate::domain::{ListQuery, Overview};
use chrono::{DateTime, Utc};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use uuid::Uuid;

/// The Overview, for the period in `?period=` (24 hours by default).
#[component]
pub fn OverviewPage() -> impl IntoView {
    let params = use_query_map();
    let org = Memo::new(move |_| selected_org(&params.read()));
    let period = Memo::new(move |_| {
        params
            .read()
            .get("period")
            .and_then(|p| Period::parse(&p))
            .unwrap_or_default()
    });
    let changed = crate::app::live::live_version(
        &[
            Topic::Jobs,
            Topic::Batches,
            Topic::FailedJobs,
            Topic::ApiLogs,
            Topic::Webhooks,
        ],
        |_| true,
    );
    let data = Resource::new(
        move || (org.get(), period.get(), changed.get()),
        |(org, period, _)| load_overview(org, period),
    );
    view! {
        <section aria-labelledby="page-title" class="overview">
            <div class="page-header">
                <h1 id="page-title">"Overview"</h1>
                {move || {
                    let org = org.get();
                    period_nav(period.get(), move |p| period_href(org, p))
                }}
            </div>
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Ok(overview) => overview_view(overview, org.get_untracked()).into_any(),
                        Err(error) => load_error(error),
                    }
                })}
            </Transition>
        </section>
    }
}

/// The choice of period, each a link to `href(period)`, the current one
/// marked.
pub(crate) fn period_nav(current: Period, href: impl Fn(Period) -> String) -> impl IntoView {
    view! {
        <nav class="segmented" aria-label="Period">
            {Period::ALL.into_iter().map(|p| view! {
                <a href=href(p) aria-current=(p == current).then_some("page")>{p.label()}</a>
            }).collect_view()}
        </nav>
    }
}

fn period_href(org: Option<Uuid>, period: Period) -> String {
    let mut query = ListQuery {
        organization_id: org,
        ..ListQuery::default()
    };
    query
        .filters
        .insert("period".into(), period.as_str().into());
    query_href("/", &query)
}

/// The Jobs tab narrowed to `status` and `filters`.
fn jobs_href(org: Option<Uuid>, status: Option<&str>, filters: &[(&str, String)]) -> String {
    let query = ListQuery {
        organization_id: org,
        status: status.map(str::to_string),
        cursor: None,
        filters: filters
            .iter()
            .map(|(name, value)| (name.to_string(), value.clone()))
            .collect(),
    };
    query_href("/jobs", &query)
}

/// A time as the Jobs and API logs tabs' `from`/`to` filters read it (UTC).
pub(crate) fn filter_time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M").to_string()
}

/// A share (0–1) as a percentage, "—" when there is none.
pub(crate) fn percent(value: Option<f64>) -> String {
    value.map_or("—".to_string(), |v| format!("{:.1} %", v * 100.0))
}

/// Milliseconds as a person reads them, "—" when there are none.
pub(crate) fn millis(value: Option<f64>) -> String {
    value.map_or("—".to_string(), format_ms)
}

fn overview_view(o: Overview, org: Option<Uuid>) -> impl IntoView {
    let since = filter_time(o.since);
    let completed: i64 = o.by_type.iter().map(|t| t.completed).sum();
    let failed: i64 = o.by_type.iter().map(|t| t.failed).sum();
    let calls: i64 = o.apis.iter().map(|a| a.calls()).sum();
    let succeeded: i64 = o.apis.iter().map(|a| a.succeeded).sum();
    let unresolved = o.failure_ages.under_an_hour
        + o.failure_ages.under_a_day
        + o.failure_ages.under_a_week
        + o.failure_ages.older;
    let pending = format_count(o.pending_now, o.pending_is_estimate);
    let period_words = o.period.label().to_lowercase();
    view! {
        <div class="cards">
            <a class="card" href=jobs_href(org, Some("pending"), &[])>
                <h2>"Pending now"</h2>
                <p class="big" data-testid="pending-now">{pending}</p>
            </a>
            <a class="card" href=jobs_href(org, Some("running"), &[])>
                <h2>"Running now"</h2>
                <p class="big" data-testid="running-now">{o.running_now}</p>
            </a>
            <a class="card" href=jobs_href(org, Some("completed"), &[("from", since.clone())])>
                <h2>"Completed"</h2>
                <p class="big" data-testid="completed-in-period">{completed}</p>
                <p class="muted">{period_words.clone()}</p>
            </a>
            <a class="card" href=jobs_href(org, Some("failed"), &[("from", since.clone())])>
                <h2>"Failed"</h2>
                <p class="big" data-testid="failed-in-period">{failed}</p>
                <p class="muted">{percent(share(failed, completed + failed))}" of finished"</p>
            </a>
            <a class="card" href=href_with_org("/batches", org)>
                <h2>"Open batches"</h2>
                <p class="big" data-testid="open-batches">{o.open_batches}</p>
            </a>
            <a class="card" href=href_with_org("/failed-jobs", org)>
                <h2>"Unresolved failures"</h2>
                <p class="big" data-testid="unresolved-failures">{unresolved}</p>
                <p class="muted">{o.failure_ages.under_an_hour}" in the last hour"</p>
            </a>
            <a class="card" href=href_with_org("/api-logs", org)>
                <h2>"API calls"</h2>
                <p class="big">{calls}</p>
                <p class="muted">{percent(share(succeeded, calls))}" succeeded, "{period_words.clone()}</p>
            </a>
            <a class="card" href=href_with_org("/webhooks", org)>
                <h2>"Webhooks"</h2>
                <p class="big">{o.active_webhooks}" active"</p>
                <p class="muted">{o.erroring_webhooks}" in error"</p>
            </a>
        </div>

        <section class="panel" aria-labelledby="throughput-title">
            <h2 id="throughput-title">"Throughput"</h2>
            <StackedColumns
                title=format!("Jobs finished per {}, {period_words}", step_words(o.period))
                columns=throughput_columns(&o.throughput, o.period, org)
                legend=vec![("bar-completed", "Completed"), ("bar-failed", "Failed")]
            />
        </section>

        <section class="panel" aria-labelledby="types-title">
            <h2 id="types-title">"By job type"</h2>
            {type_panel(&o.by_type, org, &since)}
        </section>

        <section class="panel" aria-labelledby="batches-title">
            <h2 id="batches-title">"Batch efficiency"</h2>
            {batch_panel(&o)}
        </section>

        <div class="panel-row">
            <section class="panel" aria-labelledby="ages-title">
                <h2 id="ages-title">"Unresolved failures by age"</h2>
                {failure_age_panel(&o, org, unresolved)}
            </section>
            <section class="panel" aria-labelledby="apis-title">
                <h2 id="apis-title">"Third-party APIs"</h2>
                {api_panel(&o, org)}
            </section>
        </div>

        <section class="panel" aria-labelledby="webhooks-title">
            <h2 id="webhooks-title">"Webhook deliveries"</h2>
            {webhook_panel(&o, org)}
        </section>
    }
}

/// The period's delivery attempts and success rate (the API log's
/// `webhook` calls), and the webhooks that stopped or are failing.
fn webhook_panel(o: &Overview, org: Option<Uuid>) -> AnyView {
    let attempts = o.apis.iter().find(|api| api.api_name == "webhook");
    let mut monitoring = ListQuery {
        organization_id: org,
        ..ListQuery::default()
    };
    monitoring.filters.insert("api".into(), "webhook".into());
    monitoring
        .filters
        .insert("period".into(), o.period.as_str().into());
    let summary = match attempts {
        Some(api) => view! {
            <p data-testid="webhook-deliveries">
                <a href=query_href("/api-logs/monitoring", &monitoring)>{api.calls()}" delivery attempts"</a>
                ", "{percent(api.success_rate())}" succeeded, "{o.period.label().to_lowercase()}"."
            </p>
        }
        .into_any(),
        None => view! { <p class="muted" data-testid="webhook-deliveries">"No webhook delivery ended in this period."</p> }
            .into_any(),
    };
    let troubled = if o.webhooks_needing_attention.is_empty() {
        view! { <p class="muted">"No webhook is failing or stopped."</p> }.into_any()
    } else {
        let rows = o
            .webhooks_needing_attention
            .iter()
            .map(|hook| {
                view! {
                    <tr data-testid="webhook-attention">
                        <th scope="row"><a href=format!("/webhooks/{}", hook.id)>{hook.webhook_name.clone()}</a>
                            <span class="detail">" · "{hook.organization_name.clone()}</span></th>
                        <td><Badge word=hook.status.as_str()/></td>
                        <td class="num">{hook.failure_count}</td>
                        <td><OptionalTime at=hook.last_failure_at/></td>
                        <td><OptionalTime at=hook.last_success_at/></td>
                    </tr>
                }
            })
            .collect_view();
        figures_table(
            &[
                ("Webhook", false),
                ("Status", false),
                ("Failed in a row", true),
                ("Last failure", false),
                ("Last success", false),
            ],
            rows,
        )
    };
    view! { {summary}{troubled} }.into_any()
}

/// What one step of a chart over `period` is called ("hour").
pub(crate) fn step_words(period: Period) -> &'static str {
    match period {
        Period::Hour => "minute",
        Period::Day => "hour",
        Period::Week => "six hours",
        Period::Month => "day",
    }
}

/// How a chart over `period` names the step that starts `at`.
pub(crate) fn step_label(period: Period, at: DateTime<Utc>) -> String {
    let end = at + period.step();
    match period {
        Period::Hour => format!("{}–{} UTC", at.format("%H:%M"), end.format("%H:%M")),
        Period::Day | Period::Week => {
            format!("{}–{} UTC", at.format("%b %d, %H:%M"), end.format("%H:%M"))
        }
        Period::Month => format!("{} UTC", at.format("%b %d")),
    }
}

fn throughput_columns(
    points: &[ThroughputPoint],
    period: Period,
    org: Option<Uuid>,
) -> Vec<Column> {
    points
        .iter()
        .map(|point| {
            let end = point.at + period.step();
            let window = [("from", filter_time(point.at)), ("to", filter_time(end))];
            Column {
                label: step_label(period, point.at),
                segments: vec![
                    (
                        point.completed,
                        "bar-completed",
                        jobs_href(org, Some("completed"), &window),
                    ),
                    (
                        point.failed,
                        "bar-failed",
                        jobs_href(org, Some("failed"), &window),
                    ),
                ],
            }
        })
        .collect()
}

fn type_panel(types: &[TypeMetrics], org: Option<Uuid>, since: &str) -> AnyView {
    if types.is_empty() {
        return view! { <p class="muted">"No job ended in this period."</p> }.into_any();
    }
    let bars = types
        .iter()
        .map(|t| ShareBar {
            label: t.job_type.as_str().to_string(),
            share: t.failure_rate(),
            text: format!(
                "{} ({} of {})",
                percent(t.failure_rate()),
                t.failed,
                t.ended()
            ),
            href: jobs_href(
                org,
                Some("failed"),
                &[("type", t.job_type.as_str().into()), ("from", since.into())],
            ),
            class: "bar-failed",
        })
        .collect();
    let rows = types
        .iter()
        .map(|t| {
            let of_type = |status: &str| {
                jobs_href(
                    org,
                    Some(status),
                    &[("type", t.job_type.as_str().into()), ("from", since.into())],
                )
            };
            view! {
                <tr>
                    <th scope="row"><Badge word=t.job_type.as_str()/></th>
                    <td class="num"><a href=of_type("completed")>{t.completed}</a></td>
                    <td class="num"><a href=of_type("failed")>{t.failed}</a></td>
                    <td class="num"><a href=of_type("cancelled")>{t.cancelled}</a></td>
                    <td class="num">{t.retried}</td>
                    <td class="num">{percent(t.completion_rate())}</td>
                    <td class="num">{percent(t.failure_rate())}</td>
                    <td class="num">{millis(t.wait_p50_ms)}" / "{millis(t.wait_p95_ms)}</td>
                    <td class="num">{millis(t.run_p50_ms)}" / "{millis(t.run_p95_ms)}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <h3 class="sub">"Failure rate"</h3>
        <ShareBars title="Failure rate by job type".to_string() bars=bars/>
        <div class="table-wrap">
            <table class="list">
                <caption class="sr-only">"Outcomes and times by job type"</caption>
                <thead><tr>
                    <th scope="col">"Type"</th>
                    <th scope="col" class="num">"Completed"</th>
                    <th scope="col" class="num">"Failed"</th>
                    <th scope="col" class="num">"Cancelled"</th>
                    <th scope="col" class="num" title="Failed attempts that ran again">"Retried"</th>
                    <th scope="col" class="num">"Completion rate"</th>
                    <th scope="col" class="num">"Failure rate"</th>
                    <th scope="col" class="num" title="From available to started">"Queue wait p50 / p95"</th>
                    <th scope="col" class="num" title="From started to finished">"Run time p50 / p95"</th>
                </tr></thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
        <p class="muted small">"Times are read from logarithmic buckets: within about 20 %."</p>
    }
    .into_any()
}

fn batch_panel(o: &Overview) -> AnyView {
    if o.batches.is_empty() {
        return view! { <p class="muted">"No batch ran in this period."</p> }.into_any();
    }
    let rows = o
        .batches
        .iter()
        .map(|b| {
            view! {
                <tr>
                    <th scope="row"><a href=format!("/batches/{}", b.id)>{b.batch_name.clone()}</a></th>
                    <td><Badge word=b.status.as_str()/></td>
                    <td class="num">{format!("{:.0} %", b.progress)}</td>
                    <td class="num">{b.duration().map_or("—".to_string(), |d| format_duration(d.num_seconds()))}</td>
                    <td class="num">{b.jobs_per_second().map_or("—".to_string(), |r| format!("{r:.1}"))}</td>
                    <td class="num">{percent(b.failure_share())}</td>
                </tr>
            }
        })
        .collect_view();
    figures_table(
        &[
            ("Batch", false),
            ("Status", false),
            ("Progress", true),
            ("Duration", true),
            ("Jobs/s", true),
            ("Failed", true),
        ],
        rows,
    )
}

fn failure_age_panel(o: &Overview, org: Option<Uuid>, unresolved: i64) -> AnyView {
    if unresolved == 0 {
        return view! { <p class="muted">"No unresolved failure."</p> }.into_any();
    }
    let href = href_with_org("/failed-jobs", org);
    let ages = &o.failure_ages;
    let bars = [
        ("Under an hour", ages.under_an_hour),
        ("1 hour – 1 day", ages.under_a_day),
        ("1 – 7 days", ages.under_a_week),
        ("Older", ages.older),
    ]
    .into_iter()
    .map(|(label, count)| ShareBar {
        label: label.to_string(),
        share: share(count, unresolved),
        text: count.to_string(),
        href: href.clone(),
        class: "bar-warn",
    })
    .collect();
    view! { <ShareBars title="Unresolved failures by age".to_string() bars=bars/> }.into_any()
}

fn api_panel(o: &Overview, org: Option<Uuid>) -> AnyView {
    if o.apis.is_empty() {
        return view! { <p class="muted">"No third-party call ended in this period."</p> }
            .into_any();
    }
    let rows = o
        .apis
        .iter()
        .map(|api| {
            let mut query = ListQuery {
                organization_id: org,
                ..ListQuery::default()
            };
            query.filters.insert("api".into(), api.api_name.clone());
            query
                .filters
                .insert("period".into(), o.period.as_str().into());
            view! {
                <tr>
                    <th scope="row"><a href=query_href("/api-logs/monitoring", &query)>{api.api_name.clone()}</a></th>
                    <td class="num">{api.calls()}</td>
                    <td class="num">{percent(api.success_rate())}</td>
                    <td class="num">{api.failed}</td>
                    <td class="num">{api.timed_out}</td>
                    <td class="num">{millis(api.response_p50_ms)}" / "{millis(api.response_p95_ms)}</td>
                </tr>
            }
        })
        .collect_view();
    figures_table(
        &[
            ("API", false),
            ("Calls", true),
            ("Success rate", true),
            ("Failed", true),
            ("Timed out", true),
            ("Response p50 / p95", true),
        ],
        rows,
    )
}

/// A panel's table: `headers` as (label, whether the column holds numbers).
pub(crate) fn figures_table(
    headers: &[(&'static str, bool)],
    rows: impl IntoView + 'static,
) -> AnyView {
    let headers = headers
        .iter()
        .map(|(label, numeric)| view! { <th scope="col" class:num=*numeric>{*label}</th> })
        .collect_view();
    view! {
        <div class="table-wrap">
            <table class="list">
                <thead><tr>{headers}</tr></thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
    .into_any()
}
