//! The Queues view: backlog, running jobs and pause state per queue.

use crate::api::queues::{
    list_queue_caps, list_queues, ClearQueueCap, CreateQueue, SetQueueCap, SetQueueConcurrency,
    SetQueuePaused,
};
use crate::app::components::action_result::load_error;
use crate::app::components::action_result::ActionResult;
use crate::app::components::list_table::ListTable;
use crate::app::components::optimistic::expected_effect;
use crate::app::components::organization_picker::OrganizationPicker;
use crate::domain::live::Topic;
use crate::domain::metrics::format_count;
use crate::domain::{CurrentUser, QueueCapRow, QueueRow};
use leptos::prelude::*;

/// Queues (organization users see those they use); bank admins create,
/// pause, resume and size them, and cap organizations within them.
#[component]
pub fn QueuesPage() -> impl IntoView {
    let toggle = ServerAction::<SetQueuePaused>::new();
    let resize = ServerAction::<SetQueueConcurrency>::new();
    let create = ServerAction::<CreateQueue>::new();
    // settings change with anyone's action; backlogs and running counts
    // with the jobs in scope
    let changed = crate::app::live::live_version(&[Topic::Queues, Topic::Jobs], |_| true);
    let queues = Resource::new(
        move || {
            (
                toggle.version().get(),
                resize.version().get(),
                create.version().get(),
                changed.get(),
            )
        },
        |_| list_queues(),
    );
    let bank_admin = use_context::<CurrentUser>().is_some_and(|u| u.is_bank_admin());
    view! {
        <section class="list-page" aria-labelledby="page-title">
            <div class="page-header">
                <h1 id="page-title">"Queues"</h1>
                <ActionResult action=toggle/>
                <ActionResult action=resize/>
            </div>
            {bank_admin.then(|| view! {
                <ActionForm action=create attr:class="inline-form new-queue" attr:data-testid="new-queue-form">
                    <label>"New queue"
                        <input name="name" required=true maxlength="100" pattern="[a-z0-9_\\-]{1,100}"
                            placeholder="e.g. statements" data-testid="new-queue-name"/>
                    </label>
                    <label>"Concurrency"
                        <input name="concurrency" type="number" min="1" max="1000" value="10" required=true/>
                    </label>
                    <button type="submit" data-testid="create-queue">"Create queue"</button>
                    <ActionResult action=create/>
                </ActionForm>
            })}
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match queues.await {
                        Ok(rows) => view! {
                            <ListTable heads={vec!["Queue", "State", "Due now", "Scheduled", "Running", "Concurrency per worker"].into_iter().chain(bank_admin.then_some("Actions")).collect::<Vec<_>>()}>
                                {rows.into_iter().map(|q| queue_row(q, bank_admin, toggle, resize)).collect_view()}
                            </ListTable>
                        }.into_any(),
                        Err(error) => load_error(error),
                    }
                })}
            </Transition>
            <OrganizationCaps bank_admin=bank_admin queues=queues/>
        </section>
    }
}

/// The per-organization caps: bank admins set and lift them, organization
/// users see their own.
#[component]
fn OrganizationCaps(
    bank_admin: bool,
    queues: Resource<Result<Vec<QueueRow>, crate::error::AppError>>,
) -> impl IntoView {
    let set_cap = ServerAction::<SetQueueCap>::new();
    let clear_cap = ServerAction::<ClearQueueCap>::new();
    let changed = crate::app::live::live_version(&[Topic::Queues], |_| true);
    let caps = Resource::new(
        move || {
            (
                set_cap.version().get(),
                clear_cap.version().get(),
                changed.get(),
            )
        },
        |_| list_queue_caps(),
    );
    let queue_options = move || {
        queues
            .get()
            .and_then(Result::ok)
            .unwrap_or_default()
            .into_iter()
            .map(|q| {
                let label = q.name.clone();
                view! { <option value=q.name>{label}</option> }
            })
            .collect_view()
    };
    view! {
        <section class="caps" aria-labelledby="caps-title">
            <h2 id="caps-title">"Organization caps"</h2>
            <p class="hint">
                "Organizations waiting in a queue take turns; a cap also limits how many of one
                organization's jobs run from a queue at once, across every worker."
            </p>
            {bank_admin.then(|| view! {
                <ActionForm action=set_cap attr:class="inline-form" attr:data-testid="queue-cap-form">
                    <label>"Queue"
                        <Transition fallback=|| view! { <select name="name" disabled=true></select> }>
                            <select name="name" required=true data-testid="queue-cap-queue">
                                {queue_options}
                            </select>
                        </Transition>
                    </label>
                    <OrganizationPicker name="organization_id"/>
                    <label>"Most running at once"
                        <input name="max_running" type="number" min="1" max="1000" value="5" required=true
                            data-testid="queue-cap-max"/>
                    </label>
                    <button type="submit" data-testid="set-queue-cap">"Set cap"</button>
                </ActionForm>
            })}
            <div class="page-header">
                <ActionResult action=set_cap/>
                <ActionResult action=clear_cap/>
            </div>
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match caps.await {
                        Ok(rows) if rows.is_empty() => view! {
                            <p class="empty" data-testid="no-queue-caps">"No organization is capped."</p>
                        }.into_any(),
                        Ok(rows) => view! {
                            <ListTable heads={vec!["Queue", "Organization", "Most at once", "Running"].into_iter().chain(bank_admin.then_some("Actions")).collect::<Vec<_>>()}>
                                {rows.into_iter().map(|cap| cap_row(cap, bank_admin, clear_cap)).collect_view()}
                            </ListTable>
                        }.into_any(),
                        Err(error) => load_error(error),
                    }
                })}
            </Transition>
        </section>
    }
}

fn cap_row(
    cap: QueueCapRow,
    bank_admin: bool,
    clear_cap: ServerAction<ClearQueueCap>,
) -> impl IntoView {
    let label = format!("Lift the cap of {} in {}", cap.organization_name, cap.queue);
    view! {
        <tr data-testid="queue-cap-row">
            <td class="name">{cap.queue.clone()}</td>
            <td>{cap.organization_name.clone()}</td>
            <td class="num">{cap.max_running}</td>
            <td class="num">{cap.running}</td>
            {bank_admin.then(|| view! {
                <td>
                    <ActionForm action=clear_cap attr:class="inline-form">
                        <input type="hidden" name="name" value=cap.queue.clone()/>
                        <input type="hidden" name="organization_id" value=cap.organization_id.to_string()/>
                        <button type="submit" aria-label=label data-testid="clear-queue-cap">"Lift"</button>
                    </ActionForm>
                </td>
            })}
        </tr>
    }
}

/// A backlog count, marked when it was estimated (the reason on hover).
fn about(estimated: bool, count: i64) -> impl IntoView {
    let text = format_count(count, estimated);
    if estimated {
        view! {
            <span title="Counted from the queue's entries: may include jobs cancelled since they were listed">
                {text}
            </span>
        }
        .into_any()
    } else {
        text.into_any()
    }
}

fn queue_row(
    queue: QueueRow,
    bank_admin: bool,
    toggle: ServerAction<SetQueuePaused>,
    resize: ServerAction<SetQueueConcurrency>,
) -> impl IntoView {
    // a pause or resume shows at once; a refusal puts the queue back
    let expected = expected_effect(toggle);
    let name = queue.name.clone();
    let server_paused = queue.paused;
    let paused = Memo::new(move |_| {
        expected.with(|input| match input {
            Some(input) if input.name == name => input.paused,
            _ => server_paused,
        })
    });
    let state = move || if paused.get() { "paused" } else { "active" };
    view! {
        <tr data-testid="queue-row">
            <td class="name">{queue.name.clone()}</td>
            <td><span class=move || format!("badge badge-{}", state()) data-testid="queue-state">{state}</span></td>
            <td class="num">{about(queue.estimated, queue.backlog)}</td>
            <td class="num">{about(queue.estimated, queue.scheduled)}</td>
            <td class="num">{queue.running}</td>
            <td class="num">
                {if bank_admin {
                    let name = queue.name.clone();
                    let label = format!("Concurrency of {name}");
                    view! {
                        <ActionForm action=resize attr:class="inline-form">
                            <input type="hidden" name="name" value=name/>
                            <input name="concurrency" type="number" min="1" max="1000" required=true
                                value=queue.concurrency.to_string() aria-label=label
                                data-testid="queue-concurrency"/>
                            <button type="submit" data-testid="set-concurrency">"Set"</button>
                        </ActionForm>
                    }.into_any()
                } else {
                    queue.concurrency.to_string().into_any()
                }}
            </td>
            {bank_admin.then(|| view! {
                <td>
                    <ActionForm action=toggle attr:class="inline-form">
                        <input type="hidden" name="name" value=queue.name.clone()/>
                        <input type="hidden" name="paused" value=move || (!paused.get()).to_string()/>
                        <button type="submit" data-testid="toggle-queue" disabled=move || toggle.pending().get()>
                            {move || if paused.get() { "Resume" } else { "Pause" }}
                        </button>
                    </ActionForm>
                </td>
            })}
        </tr>
    }
}
