//! Message templates: an organization's own email templates, which replace
//! the built-in ones of the same name. Org admins and bank admins create,
//! edit and delete them; viewers read.

use crate::domain::templates::{TemplateForm, TemplateRow};
use crate::domain::{ListQuery, Page};
use crate::error::AppError;
use leptos::prelude::*;
use uuid::Uuid;

/// The caller's email templates, newest first.
#[server(endpoint = "list_templates")]
pub async fn list_templates(
    #[server(default)] query: ListQuery,
) -> Result<Page<TemplateRow>, AppError> {
    use crate::server::repo::templates;
    let reader = super::listing::Reader::caller().await?;
    let mut request = super::listing::begin(&reader, query, |_| None::<()>, &[]).await?;
    let rows = templates::list(&mut request.tx, request.organization_id, request.cursor).await?;
    super::listing::finish(request.tx, rows).await
}

/// One template.
#[server(endpoint = "template_detail")]
pub async fn template_detail(id: Uuid) -> Result<TemplateRow, AppError> {
    use crate::server::auth::require_caller;
    use crate::server::repo::templates;
    let caller = require_caller().await?;
    let mut tx = caller.begin().await?;
    let row = templates::get(&mut tx, caller.organization_filter(None), id)
        .await?
        .ok_or(AppError::NotFound)?;
    tx.commit().await?;
    Ok(row)
}

/// Creates a template (`id` empty) or changes one. Refused: an invalid
/// form, a name the organization already uses, another organization's
/// template.
#[server(endpoint = "save_template")]
pub async fn save_template(
    #[server(default)] id: Option<Uuid>,
    form: TemplateForm,
) -> Result<Uuid, AppError> {
    use crate::server::auth::require_caller;
    use crate::server::repo::templates;
    let caller = require_caller().await?;
    caller.require_write()?;
    let valid = form.validate().map_err(AppError::Invalid)?;
    let mut tx = caller.begin().await?;
    let organization_id = match id {
        Some(id) => {
            templates::get(&mut tx, caller.organization_filter(None), id)
                .await?
                .ok_or(AppError::NotFound)?
                .organization_id
        }
        None => caller.target_organization(valid.organization_id)?,
    };
    let saved = templates::save(&mut tx, organization_id, id, &valid)
        .await?
        .ok_or(AppError::NotFound)?;
    caller
        .audit(
            &mut tx,
            Some(organization_id),
            if id.is_none() {
                "template.create"
            } else {
                "template.update"
            },
            "message_template",
            saved.to_string(),
            serde_json::json!({ "name": valid.name, "places": valid.places }),
        )
        .await?;
    tx.commit().await?;
    Ok(saved)
}

/// Deletes a template; jobs naming it use the built-in one of that name
/// from now on, or fail if there is none.
#[server(endpoint = "delete_template")]
pub async fn delete_template(id: Uuid) -> Result<String, AppError> {
    use crate::server::auth::require_caller;
    use crate::server::repo::templates;
    let caller = require_caller().await?;
    caller.require_write()?;
    let mut tx = caller.begin().await?;
    let existing = templates::get(&mut tx, caller.organization_filter(None), id)
        .await?
        .ok_or(AppError::NotFound)?;
    templates::delete(&mut tx, existing.organization_id, id).await?;
    caller
        .audit(
            &mut tx,
            Some(existing.organization_id),
            "template.delete",
            "message_template",
            id.to_string(),
            serde_json::json!({ "name": existing.name }),
        )
        .await?;
    tx.commit().await?;
    Ok(format!("Deleted template \"{}\".", existing.name))
}
