//! API monitoring (`/api-logs/monitoring`): how the third-party calls of
//! one API, one integration or all of them went over a chosen period, as
//! charts with tables beside them, following live changes. Every figure
//! links to the calls it counts.

use crate::api::api_logs::api_monitoring;
use crate::app::components::action_result::load_error;
use crate::app::components::charts::{Column, Line, Lines, ShareBar, ShareBars, StackedColumns};
use crate::app::components::query::{query_href, selected_org};
use crate::app::pages::overview::{
    figures_table, filter_time, millis, percent, period_nav, step_label, step_words,
};
use crate::domain::api_monitoring::{ApiMonitoring, CallFigures, CallGroup, MonitoringScope};
use crate::domain::live::Topic;
use crate::domain::metrics::{format_ms, Period};
use crate::domain::ListQuery;
use chrono::{DateTime, Utc};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use uuid::Uuid;

/// Where the view stands: its narrowing and period, as the URL holds them.
#[derive(Debug, Clone, PartialEq)]
struct Place {
    scope: MonitoringScope,
    period: Period,
}

impl Place {
    /// The narrowing as list filters (`api`, `integration`, `webhook`,
    /// `org`).
    fn narrowed(&self) -> ListQuery {
        let mut query = ListQuery {
            organization_id: self.scope.organization_id,
            ..ListQuery::default()
        };
        if let Some(api) = &self.scope.api_name {
            query.filters.insert("api".into(), api.clone());
        }
        if let Some(integration) = self.scope.integration_id {
            query
                .filters
                .insert("integration".into(), integration.to_string());
        }
        if let Some(webhook) = self.scope.webhook_id {
            query.filters.insert("webhook".into(), webhook.to_string());
        }
        query
    }

    /// This view (with its narrowing and period).
    fn href(&self) -> String {
        let mut query = self.narrowed();
        query
            .filters
            .insert("period".into(), self.period.as_str().into());
        query_href("/api-logs/monitoring", &query)
    }

    /// The API logs tab listing the calls this view counts, in `status`
    /// (any when `None`), from `from` to `to`, with `extra` filters.
    fn calls_href(
        &self,
        status: Option<&str>,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
        extra: &[(&str, String)],
    ) -> String {
        let mut query = self.narrowed();
        query.status = status.map(str::to_string);
        for (name, at) in [("from", from), ("to", to)] {
            if let Some(at) = at {
                query.filters.insert(name.into(), filter_time(at));
            }
        }
        for (name, value) in extra {
            query.filters.insert(name.to_string(), value.clone());
        }
        query_href("/api-logs", &query)
    }

    /// This place with `scope` narrowed or widened by `change`.
    fn with(&self, change: impl FnOnce(&mut MonitoringScope)) -> Place {
        let mut place = self.clone();
        change(&mut place.scope);
        place
    }
}

/// The monitoring view for `?period=` (24 hours by default), narrowed by
/// `?api=`, `?integration=` and `?webhook=`.
#[component]
pub fn ApiMonitoringPage() -> impl IntoView {
    let params = use_query_map();
    let place = Memo::new(move |_| {
        let params = params.read();
        let text = |name: &str| params.get(name).filter(|v| !v.trim().is_empty());
        Place {
            scope: MonitoringScope {
                organization_id: selected_org(&params),
                api_name: text("api"),
                integration_id: text("integration").and_then(|i| Uuid::parse_str(&i).ok()),
                webhook_id: text("webhook").and_then(|i| Uuid::parse_str(&i).ok()),
            },
            period: text("period")
                .and_then(|p| Period::parse(&p))
                .unwrap_or_default(),
        }
    });
    let changed = crate::app::live::live_version(&[Topic::ApiLogs], |_| true);
    let data = Resource::new(
        move || (place.get(), changed.get()),
        |(place, _)| api_monitoring(place.scope, place.period),
    );
    view! {
        <section aria-labelledby="page-title" class="overview">
            <p><a href=move || place.get().calls_href(None, None, None, &[])>"« API logs"</a></p>
            <div class="page-header">
                <h1 id="page-title">"API monitoring"</h1>
                {move || {
                    let current = place.get();
                    period_nav(current.period, move |period| Place { period, ..current.clone() }.href())
                }}
            </div>
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Ok(figures) => monitoring_view(figures, place.get_untracked()).into_any(),
                        Err(error) => load_error(error),
                    }
                })}
            </Transition>
        </section>
    }
}

fn rate_text(figures: &CallFigures) -> String {
    format!(
        "{} ({} of {})",
        percent(figures.success_rate()),
        figures.succeeded,
        figures.ended()
    )
}

fn monitoring_view(m: ApiMonitoring, place: Place) -> impl IntoView {
    let period_words = m.period.label().to_lowercase();
    let since = m.since;
    let narrowed = narrowing_view(&m, &place);
    let labels: Vec<String> = m
        .points
        .iter()
        .map(|p| step_label(m.period, p.at))
        .collect();
    let columns: Vec<Column> = m
        .points
        .iter()
        .zip(&labels)
        .map(|(point, label)| {
            let end = point.at + m.period.step();
            let href = |status| place.calls_href(Some(status), Some(point.at), Some(end), &[]);
            Column {
                label: label.clone(),
                segments: vec![
                    (point.figures.succeeded, "bar-completed", href("success")),
                    (point.figures.failed, "bar-failed", href("failed")),
                    (point.figures.timed_out, "bar-warn", href("timeout")),
                ],
            }
        })
        .collect();
    let latency = vec![
        Line {
            name: "p50",
            class: "series-p50",
            values: m.points.iter().map(|p| p.figures.p50_ms).collect(),
        },
        Line {
            name: "p95",
            class: "series-p95",
            values: m.points.iter().map(|p| p.figures.p95_ms).collect(),
        },
        Line {
            name: "p99",
            class: "series-p99",
            values: m.points.iter().map(|p| p.figures.p99_ms).collect(),
        },
    ];
    let success = vec![Line {
        name: "Success rate",
        class: "series-rate",
        values: m
            .points
            .iter()
            .map(|p| p.figures.success_rate().map(|r| r * 100.0))
            .collect(),
    }];
    let totals = m.totals.clone();
    view! {
        {narrowed}
        <div class="cards" data-testid="monitoring-totals">
            <a class="card" href=place.calls_href(None, Some(since), None, &[])>
                <h2>"Calls"</h2>
                <p class="big" data-testid="monitoring-calls">{totals.made()}</p>
                <p class="muted">{period_words.clone()}{(totals.pending > 0).then(|| format!(", {} pending", totals.pending))}</p>
            </a>
            <a class="card" href=place.calls_href(Some("success"), Some(since), None, &[])>
                <h2>"Success rate"</h2>
                <p class="big" data-testid="monitoring-success-rate">{percent(totals.success_rate())}</p>
                <p class="muted">{totals.succeeded}" of "{totals.ended()}" ended"</p>
            </a>
            <a class="card" href=place.calls_href(Some("failed"), Some(since), None, &[])>
                <h2>"Failed / timed out"</h2>
                <p class="big">{totals.failed}" / "{totals.timed_out}</p>
            </a>
            <div class="card">
                <h2>"Response time p95"</h2>
                <p class="big" data-testid="monitoring-p95">{millis(totals.p95_ms)}</p>
                <p class="muted">"p50 "{millis(totals.p50_ms)}", p99 "{millis(totals.p99_ms)}</p>
            </div>
        </div>

        <section class="panel" aria-labelledby="calls-title">
            <h2 id="calls-title">"Calls by outcome"</h2>
            <StackedColumns
                title=format!("Calls per {} by outcome, {period_words}", step_words(m.period))
                columns=columns
                legend=vec![("bar-completed", "Succeeded"), ("bar-failed", "Failed"), ("bar-warn", "Timed out")]
            />
        </section>

        <div class="panel-row">
            <section class="panel" aria-labelledby="latency-title">
                <h2 id="latency-title">"Response time"</h2>
                <Lines
                    title=format!("Response time per {}, {period_words}", step_words(m.period))
                    labels=labels.clone()
                    lines=latency
                    format=format_ms
                />
            </section>
            <section class="panel" aria-labelledby="rate-title">
                <h2 id="rate-title">"Success rate"</h2>
                <Lines
                    title=format!("Success rate per {}, {period_words}", step_words(m.period))
                    labels=labels
                    lines=success
                    ceiling=100.0
                    format=|v| format!("{v:.1} %")
                />
            </section>
        </div>

        <div class="panel-row">
            <section class="panel" aria-labelledby="errors-title">
                <h2 id="errors-title">"Most frequent errors"</h2>
                {errors_panel(&m, &place)}
            </section>
            <section class="panel" aria-labelledby="codes-title">
                <h2 id="codes-title">"Answers"</h2>
                {codes_panel(&m, &place)}
            </section>
        </div>

        <section class="panel" aria-labelledby="by-api-title">
            <h2 id="by-api-title">"By API"</h2>
            {groups_table(&m.by_api, "API", |group| {
                place.with(|s| s.api_name = Some(group.label.clone())).href()
            })}
        </section>
        <section class="panel" aria-labelledby="by-integration-title">
            <h2 id="by-integration-title">"By integration"</h2>
            {groups_table(&m.by_integration, "Integration", |group| match group.integration_id {
                Some(id) => place.with(|s| s.integration_id = Some(id)).href(),
                None => place.href(),
            })}
        </section>
    }
}

/// What the view is narrowed to, each with a link that widens it again.
fn narrowing_view(m: &ApiMonitoring, place: &Place) -> AnyView {
    let api = m.scope.api_name.clone().map(|api| {
        let wider = place.with(|s| s.api_name = None);
        view! {
            <span class="chip">"API "<code>{api}</code>" "
                <a href=wider.href() aria-label="Show every API">"×"</a></span>
        }
    });
    let integration = m.scope.integration_id.map(|id| {
        let wider = place.with(|s| s.integration_id = None);
        let name = m
            .integration_name
            .clone()
            .unwrap_or_else(|| "an integration you cannot see".into());
        view! {
            <span class="chip">"Integration "<a href=format!("/integrations/{id}")>{name}</a>" "
                <a href=wider.href() aria-label="Show every integration">"×"</a></span>
        }
    });
    let webhook = m.scope.webhook_id.map(|id| {
        let wider = place.with(|s| s.webhook_id = None);
        let name = m
            .webhook_name
            .clone()
            .unwrap_or_else(|| "a webhook you cannot see".into());
        view! {
            <span class="chip">"Webhook "<a href=format!("/webhooks/{id}")>{name}</a>" "
                <a href=wider.href() aria-label="Show every webhook">"×"</a></span>
        }
    });
    if api.is_none() && integration.is_none() && webhook.is_none() {
        return view! { <p class="muted">"Every third-party call in your scope. Pick an API or integration below to narrow the view."</p> }.into_any();
    }
    view! { <p class="chips" data-testid="monitoring-narrowed">"Narrowed to "{api}{integration}{webhook}</p> }.into_any()
}

fn errors_panel(m: &ApiMonitoring, place: &Place) -> AnyView {
    if m.top_errors.is_empty() {
        return view! { <p class="muted">"No call failed in this period."</p> }.into_any();
    }
    let failed = m.totals.failed + m.totals.timed_out;
    let bars = m
        .top_errors
        .iter()
        .map(|error| ShareBar {
            label: error.value.clone(),
            share: crate::domain::metrics::share(error.count, failed),
            text: format!("{} calls", error.count),
            href: place.calls_href(Some("failed"), Some(m.since), None, &[]),
            class: "bar-failed",
        })
        .collect();
    view! { <ShareBars title="Most frequent error messages".to_string() bars=bars/> }.into_any()
}

fn codes_panel(m: &ApiMonitoring, place: &Place) -> AnyView {
    if m.top_codes.is_empty() {
        return view! { <p class="muted">"No call ended in this period."</p> }.into_any();
    }
    let ended = m.totals.ended();
    let bars = m
        .top_codes
        .iter()
        .map(|code| {
            let (label, class, filter) = match code.value {
                Some(c) => (
                    c.to_string(),
                    if (200..300).contains(&c) {
                        "bar-completed"
                    } else {
                        "bar-failed"
                    },
                    format!("{}xx", c / 100),
                ),
                None => ("no answer".to_string(), "bar-warn", "none".to_string()),
            };
            ShareBar {
                label,
                share: crate::domain::metrics::share(code.count, ended),
                text: format!(
                    "{} ({} calls)",
                    percent(crate::domain::metrics::share(code.count, ended)),
                    code.count
                ),
                href: place.calls_href(None, Some(m.since), None, &[("code", filter)]),
                class,
            }
        })
        .collect();
    view! { <ShareBars title="Most frequent answers".to_string() bars=bars/> }.into_any()
}

fn groups_table(
    groups: &[CallGroup],
    what: &'static str,
    href: impl Fn(&CallGroup) -> String,
) -> AnyView {
    if groups.is_empty() {
        return view! { <p class="muted">"No call in this period."</p> }.into_any();
    }
    let rows = groups
        .iter()
        .map(|group| {
            let f = &group.figures;
            view! {
                <tr>
                    <th scope="row"><a href=href(group)>{group.label.clone()}</a></th>
                    <td class="num">{f.made()}</td>
                    <td class="num">{rate_text(f)}</td>
                    <td class="num">{f.failed}</td>
                    <td class="num">{f.timed_out}</td>
                    <td class="num">{millis(f.p50_ms)}" / "{millis(f.p95_ms)}" / "{millis(f.p99_ms)}</td>
                </tr>
            }
        })
        .collect_view();
    figures_table(
        &[
            (what, false),
            ("Calls", true),
            ("Success rate", true),
            ("Failed", true),
            ("Timed out", true),
            ("Response p50 / p95 / p99", true),
        ],
        rows,
    )
}
