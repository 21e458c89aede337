//! The Queues view: backlog, running jobs and pause state per queue.

use crate::api::queues::{list_queues, CreateQueue, SetQueueConcurrency, SetQueuePaused};
use crate::app::components::action_result::ActionResult;
use crate::domain::{CurrentUser, QueueRow};
use leptos::prelude::*;

/// Queues (organization users see those they use); bank admins create,
/// pause, resume and size them.
#[component]
pub fn QueuesPage() -> impl IntoView {
    let toggle = ServerAction::<SetQueuePaused>::new();
    let resize = ServerAction::<SetQueueConcurrency>::new();
    let create = ServerAction::<CreateQueue>::new();
    let queues = Resource::new(
        move || {
            (
                toggle.version().get(),
                resize.version().get(),
                create.version().get(),
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
                            <div class="table-wrap">
                                <table class="list">
                                    <thead>
                                        <tr>
                                            <th scope="col">"Queue"</th>
                                            <th scope="col">"State"</th>
                                            <th scope="col">"Due now"</th>
                                            <th scope="col">"Scheduled"</th>
                                            <th scope="col">"Running"</th>
                                            <th scope="col">"Concurrency per worker"</th>
                                            {bank_admin.then(|| view! { <th scope="col">"Actions"</th> })}
                                        </tr>
                                    </thead>
                                    <tbody>
                                        {rows.into_iter().map(|q| queue_row(q, bank_admin, toggle, resize)).collect_view()}
                                    </tbody>
                                </table>
                            </div>
                        }.into_any(),
                        Err(error) => view! { <p class="error" role="alert">{error.to_string()}</p> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

fn queue_row(
    queue: QueueRow,
    bank_admin: bool,
    toggle: ServerAction<SetQueuePaused>,
    resize: ServerAction<SetQueueConcurrency>,
) -> impl IntoView {
    let state = if queue.paused { "paused" } else { "active" };
    let (value, label) = if queue.paused {
        ("false", "Resume")
    } else {
        ("true", "Pause")
    };
    view! {
        <tr data-testid="queue-row">
            <td class="name">{queue.name.clone()}</td>
            <td><span class=format!("badge badge-{state}")>{state}</span></td>
            <td class="num">{queue.backlog}</td>
            <td class="num">{queue.scheduled}</td>
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
                        <input type="hidden" name="paused" value=value/>
                        <button type="submit" data-testid="toggle-queue">{label}</button>
                    </ActionForm>
                </td>
            })}
        </tr>
    }
}
