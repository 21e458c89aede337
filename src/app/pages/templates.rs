//! Email templates (under the Integrations tab): an organization's own,
//! each replacing the built-in one of its name. Writers create, edit and
//! delete them; the form shows the template's places as it is typed.

use crate::api::templates::{list_templates, template_detail, DeleteTemplate, SaveTemplate};
use crate::app::components::action_result::load_error;
use crate::app::components::list_page::ListPage;
use crate::app::components::organization_picker::OrganizationPicker;
use crate::app::components::time::Time;
use crate::domain::templates::{builtin, TemplateForm, TemplateRow, BUILTIN_TEMPLATES};
use crate::domain::CurrentUser;
use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_params_map};

/// The organization's email templates, and the built-in ones.
#[component]
pub fn TemplatesPage() -> impl IntoView {
    let can_write = use_context::<CurrentUser>().is_some_and(|u| u.can_write());
    let actions = can_write.then(|| {
        ViewFn::from(|| {
            view! { <a class="button" href="/integrations/templates/new" data-testid="new-template">"New template"</a> }
        })
    });
    view! {
        <p><a href="/integrations">"« Integrations"</a></p>
        <ListPage
            title="Email templates"
            actions=actions.unwrap_or_else(|| ViewFn::from(|| ()))
            path="/integrations/templates"
            statuses=&[]
            columns=&["Name", "Subject", "Places", "Changed"]
            fetch=list_templates
            row=template_row
            empty="No templates of your own yet: email jobs and batches use the built-in ones below."
        />
        <section class="panel" aria-labelledby="builtin-title">
            <h2 id="builtin-title">"Built-in templates"</h2>
            <p class="muted">"Every organization has these. A template of your own with the same name replaces one."</p>
            {BUILTIN_TEMPLATES.iter().filter_map(|name| builtin(name)).map(|t| view! {
                <details>
                    <summary><code>{t.name.clone()}</code>" — "{t.subject.clone()}</summary>
                    <pre class="json">{t.text_body.clone()}</pre>
                </details>
            }).collect_view()}
        </section>
    }
}

/// A template's places, as the list and the form show them.
fn places_text(subject: &str, text_body: &str, html_body: &str) -> Result<String, String> {
    let form = TemplateForm {
        name: "x".into(),
        subject: subject.into(),
        text_body: text_body.into(),
        html_body: html_body.into(),
        ..TemplateForm::default()
    };
    let valid = form.validate()?;
    Ok(if valid.places.is_empty() {
        "none".to_string()
    } else {
        valid.places.join(", ")
    })
}

fn template_row(row: TemplateRow, show_org: bool) -> AnyView {
    let places = places_text(
        row.subject.as_deref().unwrap_or_default(),
        &row.text_body,
        row.html_body.as_deref().unwrap_or_default(),
    )
    .unwrap_or_else(|e| e);
    view! {
        <tr data-testid="template-row">
            {show_org.then(|| view! { <td class="org">{row.organization_name.clone()}</td> })}
            <td class="name"><a href=format!("/integrations/templates/{}", row.id)>{row.name.clone()}</a></td>
            <td>{row.subject.clone().unwrap_or_default()}</td>
            <td>{places}</td>
            <td class="time"><Time at=row.updated_at/></td>
        </tr>
    }
    .into_any()
}

/// A new template.
#[component]
pub fn NewTemplatePage() -> impl IntoView {
    view! {
        <section class="form-page" aria-labelledby="page-title">
            <p><a href="/integrations/templates">"« Email templates"</a></p>
            <h1 id="page-title">"New email template"</h1>
            <TemplateFormView existing=None/>
        </section>
    }
}

/// One template: its form and delete for writers, its text for viewers.
#[component]
pub fn TemplateDetailPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || crate::app::components::query::id_param(&params.read());
    let delete = ServerAction::<DeleteTemplate>::new();
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(_)) = delete.value().get() {
            navigate("/integrations/templates", Default::default());
        }
    });
    let detail = Resource::new(id, |id| async move {
        match id {
            Some(id) => template_detail(id).await,
            None => Err(crate::error::AppError::NotFound),
        }
    });
    let can_write = use_context::<CurrentUser>().is_some_and(|u| u.can_write());
    view! {
        <section class="form-page" aria-labelledby="page-title">
            <p><a href="/integrations/templates">"« Email templates"</a></p>
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match detail.await {
                        Ok(row) => template_view(row, can_write, delete).into_any(),
                        Err(error) => load_error(error),
                    }
                })}
            </Transition>
        </section>
    }
}

fn template_view(
    row: TemplateRow,
    can_write: bool,
    delete: ServerAction<DeleteTemplate>,
) -> AnyView {
    let title = view! { <h1 id="page-title">"Template "<code>{row.name.clone()}</code></h1> };
    if !can_write {
        return view! {
            {title}
            <dl class="facts">
                <dt>"Organization"</dt><dd>{row.organization_name.clone()}</dd>
                <dt>"Subject"</dt><dd>{row.subject.clone().unwrap_or_default()}</dd>
                <dt>"Changed"</dt><dd><Time at=row.updated_at/></dd>
            </dl>
            <h2>"Text"</h2>
            <pre class="json">{row.text_body.clone()}</pre>
            {row.html_body.clone().map(|html| view! { <h2>"HTML"</h2><pre class="json">{html}</pre> })}
        }
        .into_any();
    }
    let id = row.id.to_string();
    let refused = move || {
        delete
            .value()
            .get()
            .and_then(|r| r.err())
            .map(|error| view! { <p class="error" role="alert">{error.to_string()}</p> })
    };
    view! {
        {title}
        <p class="muted">{row.organization_name.clone()}" · changed "<Time at=row.updated_at/></p>
        <TemplateFormView existing=Some(row)/>
        <ActionForm action=delete attr:class="inline-form">
            <input type="hidden" name="id" value=id/>
            <button type="submit" class="danger" data-testid="delete-template">"Delete template"</button>
        </ActionForm>
        {refused}
    }
    .into_any()
}

/// The form for a new template (`existing` none) or an edit, with the
/// places it has (or what is wrong with it) as it is typed.
#[component]
fn TemplateFormView(existing: Option<TemplateRow>) -> impl IntoView {
    let save = ServerAction::<SaveTemplate>::new();
    let navigate = use_navigate();
    let editing = existing.as_ref().map(|row| row.id);
    Effect::new(move |_| {
        if let Some(Ok(id)) = save.value().get() {
            if editing.is_none() {
                navigate(&format!("/integrations/templates/{id}"), Default::default());
            }
        }
    });
    let subject = RwSignal::new(
        existing
            .as_ref()
            .and_then(|r| r.subject.clone())
            .unwrap_or_default(),
    );
    let text_body = RwSignal::new(
        existing
            .as_ref()
            .map(|r| r.text_body.clone())
            .unwrap_or_default(),
    );
    let html_body = RwSignal::new(
        existing
            .as_ref()
            .and_then(|r| r.html_body.clone())
            .unwrap_or_default(),
    );
    let name = existing
        .as_ref()
        .map(|r| r.name.clone())
        .unwrap_or_default();
    let places = move || {
        let (subject, text, html) = (subject.get(), text_body.get(), html_body.get());
        if subject.trim().is_empty() && text.trim().is_empty() {
            return view! { <span class="muted">"none yet"</span> }.into_any();
        }
        match places_text(&subject, &text, &html) {
            Ok(places) => view! { <span data-testid="template-places">{places}</span> }.into_any(),
            Err(problem) => {
                view! { <span class="error-text" data-testid="template-places">{problem}</span> }
                    .into_any()
            }
        }
    };
    let outcome = move || {
        save.value().get().map(|result| match result {
            Ok(_) if editing.is_some() => view! { <p class="ok" role="status">"Saved."</p> }.into_any(),
            Ok(_) => ().into_any(),
            Err(error) => view! { <p class="error" role="alert" data-testid="form-error">{error.to_string()}</p> }.into_any(),
        })
    };
    view! {
        <ActionForm action=save attr:class="stacked-form" attr:data-testid="template-form">
            {editing.map(|id| view! { <input type="hidden" name="id" value=id.to_string()/> })}
            {editing.is_none().then(|| view! { <OrganizationPicker name="form[organization_id]"/> })}
            <label>
                "Name"
                <input name="form[name]" required=true maxlength="100" pattern="[a-z0-9_\\-]+"
                    data-testid="template-name" value=name/>
                <span class="hint">"What jobs and batches give as \"template\": lowercase letters, digits, '-' and '_'."</span>
            </label>
            <label>
                "Subject"
                <input name="form[subject]" required=true maxlength="255" data-testid="template-subject"
                    prop:value=move || subject.get()
                    on:input=move |ev| subject.set(event_target_value(&ev))/>
            </label>
            <label>
                "Text body"
                <textarea name="form[text_body]" required=true rows="8" data-testid="template-text"
                    prop:value=move || text_body.get()
                    on:input=move |ev| text_body.set(event_target_value(&ev))>{text_body.get_untracked()}</textarea>
                <span class="hint">"Write {{name}} where a value goes; a batch fills it from the CSV column of that name."</span>
            </label>
            <label>
                "HTML body (optional)"
                <textarea name="form[html_body]" rows="6" data-testid="template-html"
                    prop:value=move || html_body.get()
                    on:input=move |ev| html_body.set(event_target_value(&ev))>{html_body.get_untracked()}</textarea>
                <span class="hint">"Values are escaped in HTML."</span>
            </label>
            <p>"Places: "{places}</p>
            {outcome}
            <button type="submit" disabled=move || save.pending().get() data-testid="save-template">
                {if editing.is_some() { "Save changes" } else { "Create template" }}
            </button>
        </ActionForm>
    }
}
