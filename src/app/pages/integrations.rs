//! The Integrations tab: the providers an organization's messaging and
//! data-sync jobs call. Writers create, edit, test and delete them; a
//! stored secret shows only as its last four characters.

use crate::api::integrations::{
    integration_detail, list_integrations, DeleteIntegration, SaveIntegration, TestIntegration,
};
use crate::app::components::action_result::load_error;
use crate::app::components::badge::Badge;
use crate::app::components::list_page::{FilterField, FilterKind, ListPage};
use crate::app::components::organization_picker::OrganizationPicker;
use crate::app::components::time::Time;
use crate::domain::integrations::{
    Channel, IntegrationKind, IntegrationRow, TlsMode, MAX_REDIRECTS,
};
use crate::domain::CurrentUser;
use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_params_map};

const CHANNELS: &[(&str, &str)] = &[
    ("email", "Email"),
    ("sms", "SMS"),
    ("whatsapp", "WhatsApp"),
    ("data_sync", "Data sync"),
];

const FILTERS: &[FilterField] = &[FilterField {
    name: "channel",
    label: "Channel",
    kind: FilterKind::Choice(CHANNELS),
}];

/// The organization's integrations, newest first.
#[component]
pub fn IntegrationsPage() -> impl IntoView {
    let can_write = use_context::<CurrentUser>().is_some_and(|u| u.can_write());
    let actions = ViewFn::from(move || {
        view! {
            <a class="button secondary" href="/integrations/templates" data-testid="templates-link">"Email templates"</a>
            {can_write.then(|| view! {
                <a class="button" href="/integrations/new" data-testid="new-integration">"New integration"</a>
            })}
        }
    });
    view! {
        <ListPage
            title="Integrations"
            actions=actions
            path="/integrations"
            statuses=&[]
            filters=FILTERS
            columns=&["Name", "Channel", "Provider", "Endpoint", "State", "Last 24 hours", "Last test"]
            fetch=list_integrations
            row=integration_row
            empty="No integrations yet. Email, SMS, WhatsApp and data-sync jobs call the providers configured here."
        />
    }
}

fn integration_row(row: IntegrationRow, show_org: bool) -> AnyView {
    let href = format!("/integrations/{}", row.id);
    view! {
        <tr data-testid="integration-row">
            {show_org.then(|| view! { <td class="org">{row.organization_name.clone()}</td> })}
            <td class="name">
                <a href=href>{row.name.clone()}</a>
                {row.is_default.then(|| view! { <span class="detail">"default"</span> })}
            </td>
            <td>{row.channel.label()}</td>
            <td>{row.kind.label()}</td>
            <td class="endpoint">{endpoint(&row)}</td>
            <td><Badge word=if row.is_active { "active" } else { "inactive" }/></td>
            <td data-testid="integration-health">{row.health()}</td>
            <td class="time">{test_state(&row)}</td>
        </tr>
    }
    .into_any()
}

/// Where an integration points, as shown.
fn endpoint(row: &IntegrationRow) -> String {
    match (row.kind, &row.base_url, row.port) {
        (IntegrationKind::Sandbox, _, _) => "(sandbox: no real calls)".into(),
        (IntegrationKind::Smtp, Some(host), Some(port)) => {
            format!("{host}:{port} ({})", row.tls_mode)
        }
        (_, Some(url), _) => url.clone(),
        _ => String::new(),
    }
}

fn test_state(row: &IntegrationRow) -> AnyView {
    match (row.last_tested_at, row.last_test_ok) {
        (Some(at), Some(ok)) => view! {
            <Badge word=if ok { "success" } else { "failed" }/>" "<Time at=at/>
        }
        .into_any(),
        _ => view! { <span class="muted">"never tested"</span> }.into_any(),
    }
}

/// A new integration.
#[component]
pub fn NewIntegrationPage() -> impl IntoView {
    view! {
        <section class="form-page" aria-labelledby="page-title">
            <p><a href="/integrations">"« Integrations"</a></p>
            <h1 id="page-title">"New integration"</h1>
            <IntegrationFormView existing=None/>
        </section>
    }
}

/// The form for a new integration (`existing` none) or an edit.
#[component]
fn IntegrationFormView(existing: Option<IntegrationRow>) -> impl IntoView {
    let save = ServerAction::<SaveIntegration>::new();
    let navigate = use_navigate();
    let editing = existing.as_ref().map(|row| row.id);
    Effect::new(move |_| {
        if let Some(Ok(id)) = save.value().get() {
            if editing.is_none() {
                navigate(&format!("/integrations/{id}"), Default::default());
            }
        }
    });
    let row = existing.clone();
    let initial_kind = row
        .as_ref()
        .map(|r| r.kind)
        .unwrap_or(IntegrationKind::Sandbox);
    let kind = RwSignal::new(initial_kind);
    let is_smtp = move || kind.get() == IntegrationKind::Smtp;
    let is_sandbox = move || kind.get() == IntegrationKind::Sandbox;
    let value =
        move |pick: fn(&IntegrationRow) -> String| row.as_ref().map(pick).unwrap_or_default();
    let outcome = move || {
        save.value().get().map(|result| match result {
            Ok(_) if editing.is_some() => view! { <p class="ok" role="status">"Saved."</p> }.into_any(),
            Ok(_) => ().into_any(),
            Err(error) => view! { <p class="error" role="alert" data-testid="form-error">{error.to_string()}</p> }.into_any(),
        })
    };
    let secret_hint = existing
        .as_ref()
        .and_then(|r| r.secret_hint.clone())
        .map(|hint| format!("Stored: {hint}. Leave empty to keep it."))
        .unwrap_or_else(|| {
            "Stored encrypted; shown afterwards only as its last four characters.".into()
        });
    let checked_default = existing.as_ref().is_some_and(|r| r.is_default);
    let checked_active = existing.as_ref().is_none_or(|r| r.is_active);
    let checked_redirects = existing
        .as_ref()
        .is_some_and(|r| r.settings.follow_redirects);
    let channel_now = existing.as_ref().map(|r| r.channel);
    let tls_now = existing
        .as_ref()
        .map(|r| r.tls_mode)
        .unwrap_or(TlsMode::Tls);
    view! {
        <ActionForm action=save attr:class="stacked-form" attr:data-testid="integration-form">
            {editing.map(|id| view! { <input type="hidden" name="id" value=id.to_string()/> })}
            {editing.is_none().then(|| view! { <OrganizationPicker name="form[organization_id]"/> })}
            <label>"Name"<input name="form[name]" required=true maxlength="255" data-testid="integration-name"
                value=value(|r| r.name.clone())/></label>
            <div class="row">
                <label>
                    "For"
                    <select name="form[channel]" data-testid="integration-channel">
                        {Channel::ALL.iter().map(|c| view! {
                            <option value=c.as_str() selected=channel_now == Some(*c)>{c.label()}</option>
                        }).collect_view()}
                    </select>
                </label>
                <label>
                    "Provider"
                    <select name="form[kind]" data-testid="integration-kind"
                        on:change=move |ev| {
                            if let Some(k) = IntegrationKind::parse(&event_target_value(&ev)) {
                                kind.set(k);
                            }
                        }>
                        {IntegrationKind::ALL.iter().map(|k| view! {
                            <option value=k.as_str() selected=*k == initial_kind>{k.label()}</option>
                        }).collect_view()}
                    </select>
                </label>
            </div>
            <label class:hidden=is_sandbox>
                {move || if is_smtp() { "SMTP server (host name)" } else { "Base URL (https://…)" }}
                <input name="form[base_url]" maxlength="500" data-testid="integration-base-url"
                    value=value(|r| r.base_url.clone().unwrap_or_default())/>
            </label>
            <div class="row" class:hidden=move || !is_smtp()>
                <label>"Port"<input name="form[port]" type="number" min="1" max="65535"
                    value=value(|r| r.port.map(|p| p.to_string()).unwrap_or_default())/></label>
                <label>
                    "Security"
                    <select name="form[tls_mode]">
                        {TlsMode::ALL.iter().map(|t| view! {
                            <option value=t.as_str() selected=*t == tls_now>{t.as_str()}</option>
                        }).collect_view()}
                    </select>
                </label>
            </div>
            <div class="row" class:hidden=is_sandbox>
                <label>"User name or account id"<input name="form[username]" maxlength="255" autocomplete="off"
                    value=value(|r| r.settings.username.clone())/></label>
                <label>
                    "Password or token"
                    <input name="form[secret]" type="password" autocomplete="new-password" maxlength="4096"
                        data-testid="integration-secret"/>
                    <span class="hint">{secret_hint}</span>
                </label>
            </div>
            <div class="row">
                <label>"Sender (address, number or phone-number id)"<input name="form[sender]" maxlength="255"
                    data-testid="integration-sender" value=value(|r| r.settings.sender.clone())/></label>
                <label class:hidden=move || is_smtp() || is_sandbox()>"Test path"<input name="form[test_path]" maxlength="255"
                    placeholder="/" value=value(|r| r.settings.test_path.clone())/></label>
                <label>"Timeout (seconds)"<input name="form[timeout_seconds]" type="number" min="1" max="120"
                    value=value(|r| r.timeout_seconds.to_string())/></label>
                <label class:hidden=move || !is_sandbox()>"Failing share (%)"<input name="form[failure_percent]"
                    type="number" min="0" max="100" data-testid="integration-failure-percent"
                    value=value(|r| r.settings.failure_percent.to_string())/></label>
            </div>
            <div class="row">
                <label class="check"><input type="checkbox" name="form[is_default]" checked=checked_default
                    data-testid="integration-default"/>"Default for its channel"</label>
                <label class="check"><input type="checkbox" name="form[is_active]" checked=checked_active/>"Enabled"</label>
                <label class="check" class:hidden=move || is_smtp() || is_sandbox()>
                    <input type="checkbox" name="form[follow_redirects]" checked=checked_redirects
                        data-testid="integration-follow-redirects"/>
                    {format!("Follow redirects (at most {MAX_REDIRECTS}, each destination checked)")}
                </label>
            </div>
            {outcome}
            <button type="submit" disabled=move || save.pending().get() data-testid="save-integration">
                {if editing.is_some() { "Save changes" } else { "Create integration" }}
            </button>
        </ActionForm>
    }
}

/// One integration: what it is, its last test, and (for writers) its form,
/// test and delete.
#[component]
pub fn IntegrationDetailPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || crate::app::components::query::id_param(&params.read());
    let test = ServerAction::<TestIntegration>::new();
    let delete = ServerAction::<DeleteIntegration>::new();
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(_)) = delete.value().get() {
            navigate("/integrations", Default::default());
        }
    });
    let detail = Resource::new(
        move || (id(), test.version().get()),
        |(id, _)| async move {
            match id {
                Some(id) => integration_detail(id).await,
                None => Err(crate::error::AppError::NotFound),
            }
        },
    );
    let can_write = use_context::<CurrentUser>().is_some_and(|u| u.can_write());
    view! {
        <section class="detail-page" aria-labelledby="page-title">
            <p><a href="/integrations">"« Integrations"</a></p>
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match detail.await {
                        Ok(row) => integration_view(row, can_write, test, delete).into_any(),
                        Err(error) => load_error(error),
                    }
                })}
            </Transition>
        </section>
    }
}

fn integration_view(
    row: IntegrationRow,
    can_write: bool,
    test: ServerAction<TestIntegration>,
    delete: ServerAction<DeleteIntegration>,
) -> impl IntoView {
    let id = row.id.to_string();
    let tested = move || {
        test.value().get().map(|result| match result {
            Ok(outcome) => view! {
                <p class=if outcome.ok { "ok" } else { "error" } role="status" data-testid="test-outcome">
                    {if outcome.ok { "Connection works: " } else { "Connection failed: " }}{outcome.message}
                </p>
            }
            .into_any(),
            Err(error) => view! { <p class="error" role="alert" data-testid="test-outcome">{error.to_string()}</p> }.into_any(),
        })
    };
    let refused = move || {
        delete
            .value()
            .get()
            .and_then(|r| r.err())
            .map(|error| view! { <p class="error" role="alert" data-testid="delete-error">{error.to_string()}</p> })
    };
    view! {
        <h1 id="page-title">{row.name.clone()}</h1>
        <dl class="facts">
            <dt>"Organization"</dt><dd>{row.organization_name.clone()}</dd>
            <dt>"For"</dt><dd>{row.channel.label()}{row.is_default.then_some(" (default)")}</dd>
            <dt>"Provider"</dt><dd>{row.kind.label()}</dd>
            <dt>"Endpoint"</dt><dd class="endpoint">{endpoint(&row)}</dd>
            <dt>"State"</dt><dd><Badge word=if row.is_active { "active" } else { "inactive" }/></dd>
            <dt>"Secret"</dt><dd>{row.secret_hint.clone().unwrap_or_else(|| "none stored".into())}</dd>
            <dt>"Last 24 hours"</dt>
            <dd data-testid="integration-health">{row.health()}" · "
                <a href=format!("/api-logs/monitoring?integration={}", row.id)>"Monitoring"</a>" · "
                <a href=format!("/api-logs?integration={}", row.id)>"Calls"</a>
            </dd>
            <dt>"Last test"</dt><dd data-testid="last-test">{test_state(&row)}</dd>
            <dt>"Created"</dt><dd><Time at=row.created_at/></dd>
        </dl>
        {can_write.then(|| {
            let (test_id, delete_id) = (id.clone(), id.clone());
            view! {
                <div class="actions">
                    <ActionForm action=test attr:class="inline-form">
                        <input type="hidden" name="id" value=test_id/>
                        <button type="submit" disabled=move || test.pending().get() data-testid="test-integration">
                            {move || if test.pending().get() { "Testing…" } else { "Test connection" }}
                        </button>
                    </ActionForm>
                    <ActionForm action=delete attr:class="inline-form">
                        <input type="hidden" name="id" value=delete_id/>
                        <button type="submit" class="danger" data-testid="delete-integration">"Delete"</button>
                    </ActionForm>
                </div>
                {tested}
                {refused}
                <h2>"Edit"</h2>
                <IntegrationFormView existing=Some(row.clone())/>
            }
        })}
    }
}
