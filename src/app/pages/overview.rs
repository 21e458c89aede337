//! The Overview tab: where things stand, in counts.

use crate::api::overview::load_overview;
use crate::app::components::action_result::load_error;
use crate::app::components::badge::Badge;
use crate::app::components::query::{href_with_org, selected_org};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

/// Counts of jobs by status, open batches, unresolved failures, API health and webhooks.
#[component]
pub fn OverviewPage() -> impl IntoView {
    let params = use_query_map();
    let org = Memo::new(move |_| selected_org(&params.read()));
    let changed = crate::app::live::live_version(
        &[
            crate::domain::live::Topic::Jobs,
            crate::domain::live::Topic::Batches,
            crate::domain::live::Topic::FailedJobs,
        ],
        |_| true,
    );
    let data = Resource::new(
        move || (org.get(), changed.get()),
        |(org, _)| load_overview(org),
    );
    view! {
        <section aria-labelledby="page-title">
            <h1 id="page-title">"Overview"</h1>
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Ok(o) => {
                            let org = org.get_untracked();
                            let api_rate = if o.api_calls_24h == 0 {
                                "no calls".to_string()
                            } else {
                                format!("{:.1}% failed", 100.0 * o.api_failures_24h as f64 / o.api_calls_24h as f64)
                            };
                            view! {
                                <div class="cards">
                                    <a class="card" href=href_with_org("/jobs", org)>
                                        <h2>"Jobs"</h2>
                                        <ul class="status-counts">
                                            {o.jobs_by_status.iter().map(|(status, count)| view! {
                                                <li><Badge word=status.as_str()/>" "<strong>{*count}</strong></li>
                                            }).collect_view()}
                                        </ul>
                                    </a>
                                    <a class="card" href=href_with_org("/batches", org)>
                                        <h2>"Open batches"</h2>
                                        <p class="big" data-testid="open-batches">{o.open_batches}</p>
                                    </a>
                                    <a class="card" href=href_with_org("/failed-jobs", org)>
                                        <h2>"Unresolved failures"</h2>
                                        <p class="big" data-testid="unresolved-failures">{o.unresolved_failures}</p>
                                    </a>
                                    <a class="card" href=href_with_org("/api-logs", org)>
                                        <h2>"API calls, last 24 h"</h2>
                                        <p class="big">{o.api_calls_24h}</p>
                                        <p class="muted">{api_rate}</p>
                                    </a>
                                    <a class="card" href=href_with_org("/webhooks", org)>
                                        <h2>"Webhooks"</h2>
                                        <p class="big">{o.active_webhooks}" active"</p>
                                        <p class="muted">{o.erroring_webhooks}" in error"</p>
                                    </a>
                                </div>
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
