//! The Webhooks tab: webhooks and their deliveries, the event catalogue.
//! Writers create, edit, switch on and off, test, rotate and delete;
//! admins reveal a secret (audited). Viewers see neither secrets nor
//! header values.

use crate::api::webhooks::{
    failed_deliveries_to_replay, list_webhooks, webhook_deliveries, webhook_detail, DeleteWebhook,
    ReplayFailedDeliveries, ResendWebhookDelivery, RevealWebhookSecret, RotateWebhookSecret,
    SaveWebhook, SendTestWebhook, SetWebhookEnabled,
};
use crate::app::components::action_result::load_error;
use crate::app::components::badge::Badge;
use crate::app::components::list_page::ListPage;
use crate::app::components::organization_picker::OrganizationPicker;
use crate::app::components::time::{OptionalTime, Time};
use crate::domain::live::Topic;
use crate::domain::metrics::Period;
use crate::domain::webhooks::{describe, envelope, SandboxReceiver, WebhookDetail, SANDBOX_HOST};
use crate::domain::{ApiLogDetail, CurrentUser, WebhookEvent, WebhookRow, WebhookStatus};
use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_params_map};

/// Webhook configurations in scope, newest first. Secrets are never shown.
#[component]
pub fn WebhooksPage() -> impl IntoView {
    let can_write = use_context::<CurrentUser>().is_some_and(|u| u.can_write());
    let actions = ViewFn::from(move || {
        view! {
            <a class="button secondary" href="/webhooks/events" data-testid="event-catalogue-link">"Event catalogue"</a>
            <a class="button secondary" href="/webhooks/api-keys" data-testid="api-keys-link">"API keys"</a>
            {can_write.then(|| view! {
                <a class="button" href="/webhooks/new" data-testid="new-webhook">"New webhook"</a>
            })}
        }
    });
    view! {
        <ListPage
            title="Webhooks"
            actions=actions
            path="/webhooks"
            statuses=&["active", "inactive", "error"]
            columns=&["Name", "Event", "Status", "URL", "Failures", "Last success", "Last failure"]
            fetch=list_webhooks
            row=webhook_row
            empty="No webhooks match. Webhooks tell other systems when something happens here."
            live=crate::domain::live::ListView::Webhooks
        />
    }
}

fn webhook_row(hook: WebhookRow, show_org: bool) -> AnyView {
    view! {
        <tr data-testid="webhook-row">
            {show_org.then(|| view! { <td class="org">{hook.organization_name.clone()}</td> })}
            <td class="name">
                <a href=format!("/webhooks/{}", hook.id)>{hook.webhook_name.clone()}</a>
                {hook.has_secret.then(|| view! { <span class="detail">"signed"</span> })}
            </td>
            <td><code>{hook.event_type.as_str()}</code></td>
            <td><Badge word=hook.status.as_str()/></td>
            <td class="endpoint">{hook.webhook_url.clone()}</td>
            <td class="num">{hook.failure_count}</td>
            <td class="time"><OptionalTime at=hook.last_success_at/></td>
            <td class="time"><OptionalTime at=hook.last_failure_at/></td>
        </tr>
    }
    .into_any()
}

/// Every event a webhook can receive: what it means and what it posts.
#[component]
pub fn WebhookEventsPage() -> impl IntoView {
    let example_id = uuid::Uuid::nil();
    let at = chrono::DateTime::from_timestamp(1_764_633_600, 0).unwrap_or_default();
    view! {
        <section class="detail-page" aria-labelledby="page-title">
            <p><a href="/webhooks">"« Webhooks"</a></p>
            <h1 id="page-title">"Event catalogue"</h1>
            <p class="muted">
                "Every delivery is a POST of this JSON with the headers webhook-id (the same on every retry), "
                "webhook-timestamp and webhook-signature (Standard Webhooks: v1, then the base64 HMAC-SHA256 of "
                "id.timestamp.body keyed with the secret after whsec_)."
            </p>
            {WebhookEvent::ALL.iter().map(|event| {
                let (meaning, data) = describe(*event);
                let example = serde_json::to_string_pretty(&envelope(example_id, *event, at, &data)).unwrap_or_default();
                view! {
                    <section class="panel" data-testid="catalogue-event">
                        <h2><code>{event.as_str()}</code></h2>
                        <p>{meaning}</p>
                        <pre class="json">{example}</pre>
                    </section>
                }
            }).collect_view()}
        </section>
    }
}

/// A new webhook: its secret is shown once, after it is made.
#[component]
pub fn NewWebhookPage() -> impl IntoView {
    view! {
        <section class="form-page" aria-labelledby="page-title">
            <p><a href="/webhooks">"« Webhooks"</a></p>
            <h1 id="page-title">"New webhook"</h1>
            <WebhookFormView existing=None/>
        </section>
    }
}

/// The form for a new webhook (`existing` none) or an edit.
#[component]
fn WebhookFormView(existing: Option<WebhookDetail>) -> impl IntoView {
    let save = ServerAction::<SaveWebhook>::new();
    let editing = existing.as_ref().map(|w| w.id);
    let value = {
        let existing = existing.clone();
        move |pick: fn(&WebhookDetail) -> String| existing.as_ref().map(pick).unwrap_or_default()
    };
    let event_now = existing.as_ref().map(|w| w.event_type);
    let header_names = existing
        .as_ref()
        .map(|w| w.headers.keys().cloned().collect::<Vec<_>>().join(", "))
        .unwrap_or_default();
    let outcome = move || {
        save.value().get().map(|result| match result {
            Ok(answer) => match answer.secret {
                Some(secret) => view! {
                    <div class="ok" role="status" data-testid="new-webhook-secret">
                        <p>"Webhook created. Its signing secret, shown this once (admins can reveal it later):"</p>
                        <p><code data-testid="webhook-secret">{secret}</code></p>
                        <p><a href=format!("/webhooks/{}", answer.id) data-testid="open-webhook">"Open the webhook »"</a></p>
                    </div>
                }.into_any(),
                None => view! { <p class="ok" role="status">"Saved."</p> }.into_any(),
            },
            Err(error) => view! { <p class="error" role="alert" data-testid="form-error">{error.to_string()}</p> }.into_any(),
        })
    };
    view! {
        <ActionForm action=save attr:class="stacked-form" attr:data-testid="webhook-form">
            {editing.map(|id| view! { <input type="hidden" name="id" value=id.to_string()/> })}
            {editing.is_none().then(|| view! { <OrganizationPicker name="form[organization_id]"/> })}
            <label>"Name"<input name="form[name]" required=true maxlength="255" data-testid="webhook-name"
                value=value(|w| w.webhook_name.clone())/></label>
            <label>
                "URL (https://…)"
                <input name="form[url]" required=true maxlength="500" data-testid="webhook-url"
                    value=value(|w| w.webhook_url.clone())/>
                <span class="hint">
                    "No receiver yet? "<code>{format!("https://{SANDBOX_HOST}/")}</code>
                    " is answered inside Veriphy Jobs: it checks each signature and answers 200 (add "
                    <code>"?fail=20"</code>" to fail a fifth of deliveries)."
                </span>
            </label>
            <label>
                "Event"
                <select name="form[event_type]" data-testid="webhook-event">
                    {WebhookEvent::ALL.iter().map(|e| view! {
                        <option value=e.as_str() selected=event_now == Some(*e)>{e.as_str()}</option>
                    }).collect_view()}
                </select>
            </label>
            <div class="row">
                <label>"Timeout (seconds)"<input name="form[timeout]" type="number" min="1" max="120"
                    value=value(|w| w.timeout.to_string())/></label>
                <label>"Retries"<input name="form[max_retries]" type="number" min="0" max="20" data-testid="webhook-retries"
                    value=value(|w| w.max_retries.to_string())/></label>
                <label>"Stop after failed deliveries in a row"<input name="form[disable_after_failures]" type="number"
                    min="1" max="1000" value=value(|w| w.disable_after_failures.to_string())/></label>
            </div>
            <label>
                "Custom headers (one \"Name: value\" per line)"
                <textarea name="form[headers]" rows="3" autocomplete="off" data-testid="webhook-headers"></textarea>
                <span class="hint">{if header_names.is_empty() {
                    "Values are encrypted and never shown again.".to_string()
                } else {
                    format!("Stored: {header_names}. Leave empty to keep them; values are never shown.")
                }}</span>
            </label>
            {outcome}
            <button type="submit" disabled=move || save.pending().get() data-testid="save-webhook">
                {if editing.is_some() { "Save changes" } else { "Create webhook" }}
            </button>
        </ActionForm>
    }
}

/// One webhook: its state, actions for writers, and its deliveries live.
#[component]
pub fn WebhookDetailPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || crate::app::components::query::id_param(&params.read());
    let toggle = ServerAction::<SetWebhookEnabled>::new();
    let test = ServerAction::<SendTestWebhook>::new();
    let rotate = ServerAction::<RotateWebhookSecret>::new();
    let reveal = ServerAction::<RevealWebhookSecret>::new();
    let delete = ServerAction::<DeleteWebhook>::new();
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(_)) = delete.value().get() {
            navigate("/webhooks", Default::default());
        }
    });
    let changed = crate::app::live::live_version(&[Topic::ApiLogs, Topic::Webhooks], |_| true);
    let detail = Resource::new(
        move || {
            (
                id(),
                toggle.version().get(),
                rotate.version().get(),
                changed.get(),
            )
        },
        |(id, ..)| async move {
            match id {
                Some(id) => webhook_detail(id).await,
                None => Err(crate::error::AppError::NotFound),
            }
        },
    );
    let resend = ServerAction::<ResendWebhookDelivery>::new();
    let deliveries = Resource::new(
        move || {
            (
                id(),
                test.version().get(),
                resend.version().get(),
                changed.get(),
            )
        },
        |(id, ..)| async move {
            match id {
                Some(id) => webhook_deliveries(id).await,
                None => Err(crate::error::AppError::NotFound),
            }
        },
    );
    let can_write = use_context::<CurrentUser>().is_some_and(|u| u.can_write());
    view! {
        <section class="detail-page" aria-labelledby="page-title">
            <p><a href="/webhooks">"« Webhooks"</a></p>
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match detail.await {
                        Ok(webhook) => webhook_view(webhook, can_write, Actions { toggle, test, rotate, reveal, delete }).into_any(),
                        Err(error) => load_error(error),
                    }
                })}
            </Transition>
            <h2>"Deliveries"</h2>
            <p>{move || id().map(|id| view! {
                <a href=format!("/api-logs/monitoring?webhook={id}") data-testid="webhook-monitoring">
                    "Success rate and failures over time"</a>
            })}</p>
            {outcome_of(resend.value(), |m| view! { <p class="ok" role="status" data-testid="resent">{m}</p> }.into_any())}
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match deliveries.await {
                        Ok(attempts) => deliveries_view(attempts, can_write.then_some(resend)),
                        Err(error) => load_error(error),
                    }
                })}
            </Transition>
            {move || can_write.then(|| id().map(|id| view! { <ReplayFailed id=id changed=changed/> }))}
        </section>
    }
}

/// Replays a webhook's failed deliveries of a chosen period, the count of
/// what would be sent shown before anything is.
#[component]
fn ReplayFailed(id: uuid::Uuid, changed: RwSignal<u32>) -> impl IntoView {
    let replay = ServerAction::<ReplayFailedDeliveries>::new();
    let period = RwSignal::new(Period::Day.as_str().to_string());
    let waiting = Resource::new(
        move || (period.get(), replay.version().get(), changed.get()),
        move |(period, ..)| failed_deliveries_to_replay(id, period),
    );
    let options = Period::ALL
        .iter()
        .map(|p| view! { <option value=p.as_str() selected=*p == Period::Day>{p.label().to_lowercase()}</option> })
        .collect_view();
    view! {
        <section class="panel" aria-labelledby="replay-title">
            <h2 id="replay-title">"Replay failed deliveries"</h2>
            <ActionForm action=replay attr:class="inline-form">
                <input type="hidden" name="id" value=id.to_string()/>
                <label>"Failed deliveries of "
                    <select name="period" data-testid="replay-period"
                        on:change=move |ev| period.set(event_target_value(&ev))>{options}</select>
                </label>
                <Transition fallback=|| view! { <span class="loading">"Counting…"</span> }>
                    {move || Suspend::new(async move {
                        match waiting.await {
                            Ok(count) => view! {
                                <span data-testid="replay-count">{replay_words(count)}</span>
                                <button type="submit" disabled=count == 0 data-testid="replay">"Replay"</button>
                            }.into_any(),
                            Err(error) => load_error(error),
                        }
                    })}
                </Transition>
            </ActionForm>
            {outcome_of(replay.value(), |m| view! { <p class="ok" role="status" data-testid="replayed">{m}</p> }.into_any())}
        </section>
    }
}

/// What a replay of `count` failed deliveries would do, in words.
fn replay_words(count: i64) -> String {
    match count {
        0 => "— nothing to replay".into(),
        1 => "— 1 failed delivery will be sent again".into(),
        n if n > crate::domain::webhooks::REPLAY_LIMIT => format!(
            "— {n} failed deliveries: the oldest {} will be sent again",
            crate::domain::webhooks::REPLAY_LIMIT
        ),
        n => format!("— {n} failed deliveries will be sent again"),
    }
}

/// The actions of a webhook's page.
#[derive(Clone, Copy)]
struct Actions {
    toggle: ServerAction<SetWebhookEnabled>,
    test: ServerAction<SendTestWebhook>,
    rotate: ServerAction<RotateWebhookSecret>,
    reveal: ServerAction<RevealWebhookSecret>,
    delete: ServerAction<DeleteWebhook>,
}

/// What an action answered, shown by `show` (its error as an alert).
fn outcome_of(
    value: impl Get<Value = Option<Result<String, crate::error::AppError>>> + Send + Sync + 'static,
    show: fn(String) -> AnyView,
) -> impl Fn() -> Option<AnyView> + Send + Sync + 'static {
    move || {
        value.get().map(|result| match result {
            Ok(answer) => show(answer),
            Err(error) => {
                view! { <p class="error" role="alert">{error.to_string()}</p> }.into_any()
            }
        })
    }
}

fn webhook_view(webhook: WebhookDetail, can_write: bool, actions: Actions) -> impl IntoView {
    let id = webhook.id.to_string();
    let receiving = webhook.is_active && webhook.status == WebhookStatus::Active;
    let headers = if webhook.headers.is_empty() {
        "none".to_string()
    } else {
        webhook
            .headers
            .keys()
            .cloned()
            .collect::<Vec<_>>()
            .join(", ")
    };
    let Actions {
        toggle,
        test,
        rotate,
        reveal,
        delete,
    } = actions;
    view! {
        <h1 id="page-title">{webhook.webhook_name.clone()}</h1>
        <dl class="facts" data-testid="webhook-facts">
            <dt>"Organization"</dt><dd>{webhook.organization_name.clone()}</dd>
            <dt>"URL"</dt><dd class="endpoint">{webhook.webhook_url.clone()}
                {SandboxReceiver::of_url(&webhook.webhook_url).ok().flatten().map(|sandbox| view! {
                    <span class="detail" data-testid="sandbox-receiver">{match sandbox.failure_percent {
                        0 => " (the sandbox receiver, inside Veriphy Jobs)".to_string(),
                        share => format!(" (the sandbox receiver, inside Veriphy Jobs: fails {share} % of deliveries)"),
                    }}</span>
                })}</dd>
            <dt>"Event"</dt><dd><code>{webhook.event_type.as_str()}</code></dd>
            <dt>"Status"</dt><dd data-testid="webhook-status"><Badge word=webhook.status.as_str()/></dd>
            <dt>"Signing secret"</dt>
            <dd>{webhook.secret_hint.clone().unwrap_or_else(|| "none yet: rotate to make one".into())}
                {webhook.previous_secret_until.map(|until| view! {
                    <span class="detail">" (the previous one also signs until "<Time at=until/>")"</span>
                })}</dd>
            <dt>"Custom headers"</dt><dd>{headers}</dd>
            <dt>"Attempts"</dt><dd>{format!("{} s each, {} retries; stops after {} failed deliveries in a row",
                webhook.timeout, webhook.max_retries, webhook.disable_after_failures)}</dd>
            <dt>"Failed deliveries in a row"</dt><dd data-testid="webhook-failures">{webhook.failure_count}</dd>
            <dt>"Last success"</dt><dd><OptionalTime at=webhook.last_success_at/></dd>
            <dt>"Last failure"</dt><dd><OptionalTime at=webhook.last_failure_at/></dd>
        </dl>
        {can_write.then(|| {
            let ids = [id.clone(), id.clone(), id.clone(), id.clone(), id.clone()];
            let [a, b, c, d, e] = ids;
            view! {
                <div class="actions">
                    <ActionForm action=test attr:class="inline-form">
                        <input type="hidden" name="id" value=a/>
                        <button type="submit" disabled=!receiving data-testid="send-test">"Send test event"</button>
                    </ActionForm>
                    <ActionForm action=toggle attr:class="inline-form">
                        <input type="hidden" name="id" value=b/>
                        <input type="hidden" name="enabled" value=(!receiving).to_string()/>
                        <button type="submit" class="secondary" data-testid="toggle-webhook">
                            {if receiving { "Switch off" } else { "Switch on" }}
                        </button>
                    </ActionForm>
                    <ActionForm action=rotate attr:class="inline-form">
                        <input type="hidden" name="id" value=c/>
                        <button type="submit" class="secondary" data-testid="rotate-secret">"Rotate secret"</button>
                    </ActionForm>
                    <ActionForm action=reveal attr:class="inline-form">
                        <input type="hidden" name="id" value=d/>
                        <button type="submit" class="secondary" data-testid="reveal-secret">"Reveal secret"</button>
                    </ActionForm>
                    <ActionForm action=delete attr:class="inline-form">
                        <input type="hidden" name="id" value=e/>
                        <button type="submit" class="danger" data-testid="delete-webhook">"Delete"</button>
                    </ActionForm>
                </div>
                {outcome_of(test.value(), |m| view! { <p class="ok" role="status" data-testid="test-sent">{m}</p> }.into_any())}
                {outcome_of(toggle.value(), |m| view! { <p class="ok" role="status">{m}</p> }.into_any())}
                {outcome_of(rotate.value(), |s| view! {
                    <p class="ok" role="status">"New secret (the previous one signs beside it for 24 hours): "
                        <code data-testid="rotated-secret">{s}</code></p>
                }.into_any())}
                {outcome_of(reveal.value(), |s| view! {
                    <p class="ok" role="status">"Secret: "<code data-testid="revealed-secret">{s}</code></p>
                }.into_any())}
                {outcome_of(delete.value(), |_| ().into_any())}
                <h2>"Edit"</h2>
                <WebhookFormView existing=Some(webhook.clone())/>
            }
        })}
    }
}

/// A webhook's delivery attempts; each with "Send again" when `resend` is
/// given (writers).
fn deliveries_view(
    attempts: Vec<ApiLogDetail>,
    resend: Option<ServerAction<ResendWebhookDelivery>>,
) -> AnyView {
    if attempts.is_empty() {
        return view! { <p class="muted">"No delivery yet. Send a test event to try the endpoint."</p> }.into_any();
    }
    let rows = attempts
        .into_iter()
        .map(|attempt| {
            let headers = attempt
                .request_payload
                .as_ref()
                .and_then(|r| r.get("headers"))
                .map(|h| serde_json::to_string_pretty(h).unwrap_or_default())
                .unwrap_or_default();
            view! {
                <tr data-testid="delivery-row">
                    <td class="time"><a href=format!("/api-logs/{}", attempt.id)><Time at=attempt.created_at/></a></td>
                    <td><Badge word=attempt.status.as_str()/></td>
                    <td class="num">{attempt.status_code.map(|c| c.to_string()).unwrap_or_else(|| "—".into())}</td>
                    <td class="num">{attempt.response_time.map(|ms| format!("{ms} ms")).unwrap_or_else(|| "—".into())}</td>
                    <td class="num">{attempt.attempt.map(|a| a.to_string()).unwrap_or_default()}</td>
                    <td>
                        {attempt.error_message.clone().map(|e| view! { <span class="error-text">{e}</span> })}
                        <details><summary>"Request headers"</summary><pre class="json">{headers}</pre></details>
                        {resend.zip(resend_target(&attempt)).map(|(action, (webhook, event))| view! {
                            <ActionForm action=action attr:class="inline-form">
                                <input type="hidden" name="id" value=webhook/>
                                <input type="hidden" name="event_id" value=event/>
                                <button type="submit" class="secondary" data-testid="resend-delivery">"Send again"</button>
                            </ActionForm>
                        })}
                    </td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="table-wrap">
            <table class="list" data-testid="deliveries">
                <thead><tr>
                    <th scope="col">"When"</th><th scope="col">"Status"</th><th scope="col" class="num">"HTTP"</th>
                    <th scope="col" class="num">"Time"</th><th scope="col" class="num">"Attempt"</th><th scope="col">"Details"</th>
                </tr></thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
    .into_any()
}

/// The webhook and event an attempt delivered, from its log row.
fn resend_target(attempt: &ApiLogDetail) -> Option<(String, String)> {
    let metadata = attempt.metadata.as_ref()?;
    Some((
        metadata.get("webhook_id")?.as_str()?.to_string(),
        metadata.get("event_id")?.as_str()?.to_string(),
    ))
}

/// The organization's API keys: made (shown once), listed, revoked.
#[component]
pub fn ApiKeysPage() -> impl IntoView {
    use crate::api::api_keys::{list_api_keys, CreateApiKey};
    let can_write = use_context::<CurrentUser>().is_some_and(|u| u.can_write());
    let create = ServerAction::<CreateApiKey>::new();
    let made = move || {
        create.value().get().map(|result| match result {
            Ok(key) => view! {
                <div class="ok" role="status">
                    <p>"Key made. Copy it now: it is not shown again."</p>
                    <p><code data-testid="new-api-key">{key}</code></p>
                </div>
            }
            .into_any(),
            Err(error) => view! { <p class="error" role="alert" data-testid="form-error">{error.to_string()}</p> }.into_any(),
        })
    };
    view! {
        <p><a href="/webhooks">"« Webhooks"</a></p>
        <ListPage
            title="API keys"
            path="/webhooks/api-keys"
            statuses=&[]
            columns=&["Name", "Key", "Made", "Last used", "State", ""]
            fetch=list_api_keys
            row=api_key_row
            empty="No API keys yet. The case system publishes events with one: POST /api/v1/events."
        />
        {can_write.then(|| view! {
            <section class="panel" aria-labelledby="new-key-title">
                <h2 id="new-key-title">"New key"</h2>
                <ActionForm action=create attr:class="stacked-form">
                    <OrganizationPicker name="organization_id"/>
                    <label>"Name"<input name="name" required=true maxlength="100" data-testid="api-key-name"/></label>
                    {made}
                    <button type="submit" data-testid="create-api-key">"Make key"</button>
                </ActionForm>
            </section>
        })}
    }
}

fn api_key_row(key: crate::domain::api_keys::ApiKeyRow, show_org: bool) -> AnyView {
    use crate::api::api_keys::RevokeApiKey;
    let can_write = use_context::<CurrentUser>().is_some_and(|u| u.can_write());
    let revoke = ServerAction::<RevokeApiKey>::new();
    let revoked = key.revoked_at.is_some();
    view! {
        <tr data-testid="api-key-row">
            {show_org.then(|| view! { <td class="org">{key.organization_name.clone()}</td> })}
            <td class="name">{key.name.clone()}</td>
            <td><code>{format!("{}…", key.prefix)}</code></td>
            <td class="time"><Time at=key.created_at/></td>
            <td class="time"><OptionalTime at=key.last_used_at/></td>
            <td>{move || if revoked || matches!(revoke.value().get(), Some(Ok(_))) {
                view! { <Badge word="revoked"/> }.into_any()
            } else {
                view! { <Badge word="active"/> }.into_any()
            }}</td>
            <td>{(can_write && !revoked).then(|| view! {
                <ActionForm action=revoke attr:class="inline-form">
                    <input type="hidden" name="id" value=key.id.to_string()/>
                    <button type="submit" class="danger" data-testid="revoke-api-key">"Revoke"</button>
                </ActionForm>
            })}</td>
        </tr>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::replay_words;

    #[test]
    fn a_replay_count_says_what_will_be_sent() {
        assert_eq!(replay_words(0), "— nothing to replay");
        assert_eq!(replay_words(1), "— 1 failed delivery will be sent again");
        assert_eq!(replay_words(7), "— 7 failed deliveries will be sent again");
        assert_eq!(
            replay_words(1_500),
            "— 1500 failed deliveries: the oldest 1000 will be sent again"
        );
    }
}
