//! API keys (under the Webhooks tab): org admins and bank admins make,
//! list and revoke the keys another system publishes events with; a key
//! is shown once, when it is made.

use crate::domain::api_keys::ApiKeyRow;
use crate::domain::{ListQuery, Page};
use crate::error::AppError;
use leptos::prelude::*;

/// The caller's API keys, newest first (revoked ones too).
#[server(endpoint = "list_api_keys")]
pub async fn list_api_keys(
    #[server(default)] query: ListQuery,
) -> Result<Page<ApiKeyRow>, AppError> {
    let reader = super::listing::Reader::caller().await?;
    let mut request = super::listing::begin(&reader, query, |_| None::<()>, &[]).await?;
    let rows = crate::server::repo::api_keys::list(
        &mut request.tx,
        request.organization_id,
        request.cursor,
    )
    .await?;
    super::listing::finish(request.tx, rows).await
}

/// Makes a key named `name` (a bank admin names the organization); the
/// key, shown this once.
#[server(endpoint = "create_api_key")]
pub async fn create_api_key(
    name: String,
    #[server(default)] organization_id: Option<uuid::Uuid>,
) -> Result<String, AppError> {
    use crate::server::auth::require_caller;
    let caller = require_caller().await?;
    caller.require_write()?;
    let name = crate::domain::api_keys::valid_name(&name).map_err(AppError::Invalid)?;
    let organization = caller.target_organization(organization_id)?;
    let key = crate::server::http::events::new_key();
    let mut tx = caller.begin().await?;
    let id = crate::server::repo::api_keys::insert(
        &mut tx,
        organization,
        &name,
        &crate::server::http::events::prefix_of(&key),
        &crate::server::http::events::hash_of(&key),
        Some(caller.user.id),
    )
    .await?;
    caller
        .audit(
            &mut tx,
            Some(organization),
            "api_key.create",
            "api_key",
            id.to_string(),
            serde_json::json!({ "name": name }),
        )
        .await?;
    tx.commit().await?;
    Ok(key)
}

/// Revokes a key: it publishes nothing from now on.
#[server(endpoint = "revoke_api_key")]
pub async fn revoke_api_key(id: uuid::Uuid) -> Result<String, AppError> {
    use crate::server::auth::require_caller;
    let caller = require_caller().await?;
    caller.require_write()?;
    let mut tx = caller.begin().await?;
    let (organization, name) =
        crate::server::repo::api_keys::revoke(&mut tx, caller.organization_filter(None), id)
            .await?
            .ok_or(AppError::NotFound)?;
    caller
        .audit(
            &mut tx,
            Some(organization),
            "api_key.revoke",
            "api_key",
            id.to_string(),
            serde_json::json!({ "name": name }),
        )
        .await?;
    tx.commit().await?;
    Ok(format!("Key \"{name}\" revoked."))
}
