//! The integrations tab: an organization's providers. Org admins and bank
//! admins create, edit, disable, test and delete them; viewers read.
//! Secrets are sealed before they are stored and never come back except
//! masked; audit rows name what changed, never a secret.

use crate::domain::integrations::{IntegrationForm, IntegrationRow};
use crate::domain::{ListQuery, Page};
use crate::error::AppError;
use leptos::prelude::*;
use uuid::Uuid;

/// The Integrations tab's filter names.
pub const INTEGRATION_FILTERS: [&str; 1] = ["channel"];

/// Integrations, newest first, in the caller's scope; filter `channel`.
#[server(endpoint = "list_integrations")]
pub async fn list_integrations(
    #[server(default)] query: ListQuery,
) -> Result<Page<IntegrationRow>, AppError> {
    use crate::domain::integrations::Channel;
    use crate::server::repo::integrations;
    let reader = super::listing::Reader::caller().await?;
    let mut request =
        super::listing::begin(&reader, query, |_| None::<()>, &INTEGRATION_FILTERS).await?;
    let channel = match request.filters.get("channel").map(|c| c.trim()) {
        None | Some("") => None,
        Some(text) => Some(
            Channel::parse(text)
                .ok_or_else(|| AppError::invalid(format!("Unknown channel {text:?}.")))?,
        ),
    };
    let rows = integrations::list(
        &mut request.tx,
        request.organization_id,
        channel,
        request.cursor,
    )
    .await?;
    super::listing::finish(request.tx, rows).await
}

/// One integration.
#[server(endpoint = "integration_detail")]
pub async fn integration_detail(id: Uuid) -> Result<IntegrationRow, AppError> {
    use crate::server::auth::require_caller;
    use crate::server::repo::integrations;
    let caller = require_caller().await?;
    let mut tx = caller.begin().await?;
    let row = integrations::get(&mut tx, caller.organization_filter(None), id)
        .await?
        .ok_or(AppError::NotFound)?;
    tx.commit().await?;
    Ok(row)
}

/// Creates an integration (`id` empty) or changes one. An empty secret on
/// a change keeps the stored one. Refused: an invalid form, a destination
/// inside the bank's network, another organization's integration.
#[server(endpoint = "save_integration")]
pub async fn save_integration(
    #[server(default)] id: Option<Uuid>,
    form: IntegrationForm,
) -> Result<Uuid, AppError> {
    use crate::domain::integrations::IntegrationKind;
    use crate::server::auth::require_caller;
    use crate::server::providers::Credentials;
    use crate::server::repo::integrations;
    let caller = require_caller().await?;
    caller.require_write()?;
    let valid = form.validate().map_err(AppError::Invalid)?;
    let providers = providers().await?;
    if let Some(destination) = &valid.base_url {
        let smtp = (valid.kind == IntegrationKind::Smtp).then(|| {
            (
                valid.port.unwrap_or(465),
                valid.tls_mode == crate::domain::integrations::TlsMode::None,
            )
        });
        providers
            .outbound
            .check_destination(destination, smtp)
            .await
            .map_err(|refusal| AppError::invalid(refusal.to_string()))?;
    }
    let mut tx = caller.begin().await?;
    let (id, organization_id, created) = match id {
        Some(id) => {
            let existing = integrations::get(&mut tx, caller.organization_filter(None), id)
                .await?
                .ok_or(AppError::NotFound)?;
            (id, existing.organization_id, false)
        }
        None => (
            Uuid::new_v4(),
            caller.target_organization(valid.organization_id)?,
            true,
        ),
    };
    let sealed = valid.secret.as_ref().map(|secret| {
        let text = serde_json::to_string(&Credentials {
            secret: secret.clone(),
        })
        .unwrap_or_default();
        providers
            .keyring
            .seal(&text, &integrations::credentials_context(id))
    });
    let hint = valid.secret.as_deref().map(crate::server::secrets::masked);
    if created {
        integrations::insert(
            &mut tx,
            organization_id,
            id,
            &valid,
            sealed.as_ref(),
            hint.as_deref(),
        )
        .await?;
    } else if !integrations::update(
        &mut tx,
        organization_id,
        id,
        &valid,
        sealed.as_ref(),
        hint.as_deref(),
    )
    .await?
    {
        return Err(AppError::NotFound);
    }
    caller
        .audit(
            &mut tx,
            Some(organization_id),
            if created {
                "integration.create"
            } else {
                "integration.update"
            },
            "integration",
            id.to_string(),
            serde_json::json!({
                "name": valid.name,
                "channel": valid.channel.as_str(),
                "kind": valid.kind.as_str(),
                "base_url": valid.base_url,
                "active": valid.is_active,
                "default": valid.is_default,
                "secret_changed": valid.secret.is_some(),
            }),
        )
        .await?;
    tx.commit().await?;
    Ok(id)
}

/// Deletes an integration; refused while waiting or running jobs name it.
/// Its logged calls stay, no longer linked.
#[server(endpoint = "delete_integration")]
pub async fn delete_integration(id: Uuid) -> Result<String, AppError> {
    use crate::server::auth::require_caller;
    use crate::server::repo::integrations;
    let caller = require_caller().await?;
    caller.require_write()?;
    let mut tx = caller.begin().await?;
    let existing = integrations::get(&mut tx, caller.organization_filter(None), id)
        .await?
        .ok_or(AppError::NotFound)?;
    let naming = integrations::jobs_naming(&mut tx, existing.organization_id, id).await?;
    if naming > 0 {
        return Err(AppError::invalid(format!(
            "{naming} waiting or running job{} name{} this integration; disable it instead, or let them finish.",
            if naming == 1 { "" } else { "s" },
            if naming == 1 { "s" } else { "" },
        )));
    }
    integrations::delete(&mut tx, existing.organization_id, id).await?;
    caller
        .audit(
            &mut tx,
            Some(existing.organization_id),
            "integration.delete",
            "integration",
            id.to_string(),
            serde_json::json!({ "name": existing.name }),
        )
        .await?;
    tx.commit().await?;
    Ok(format!("Deleted integration \"{}\".", existing.name))
}

/// The outcome of "test connection".
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ConnectionTest {
    /// Whether the provider answered as it should.
    pub ok: bool,
    /// What happened, in words.
    pub message: String,
}

/// Makes one harmless real call through an integration (SMTP: connect,
/// secure and authenticate, no mail; an HTTP kind: GET its test path; the
/// sandbox: a logged sandbox call) and records the outcome as its last
/// test.
#[server(endpoint = "test_integration")]
pub async fn test_integration(id: Uuid) -> Result<ConnectionTest, AppError> {
    use crate::domain::integrations::IntegrationKind;
    use crate::server::auth::require_caller;
    use crate::server::outbound::CallRecord;
    use crate::server::repo::integrations;
    let caller = require_caller().await?;
    caller.require_write()?;
    let providers = providers().await?;
    let mut tx = caller.begin().await?;
    let row = integrations::get(&mut tx, caller.organization_filter(None), id)
        .await?
        .ok_or(AppError::NotFound)?;
    let target = integrations::target(&mut tx, row.organization_id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    tx.commit().await?;
    let credentials = providers.credentials(&target).map_err(|_| {
        AppError::invalid(
            "The stored credentials cannot be opened with this server's key; save them again.",
        )
    })?;
    let record = CallRecord {
        organization_id: target.organization_id,
        integration_id: Some(target.id),
        api_name: "connection_test".into(),
        retry_count: 0,
        metadata: serde_json::json!({ "test_by": caller.user.email }),
    };
    let mut request = crate::server::providers::test_request(&target, &credentials);
    if target.kind == IntegrationKind::Sandbox {
        request.url = format!(
            "https://sandbox.veriphy.invalid/{}/test",
            target.channel.as_str()
        );
    }
    let answer = providers.call(&caller.db, &target, &record, &request).await;
    let outcome = match &answer {
        Ok(answer) if (200..300).contains(&answer.status) => ConnectionTest {
            ok: true,
            message: match target.kind {
                IntegrationKind::Smtp => format!("The mail server {}.", answer.body),
                _ => format!("The provider answered HTTP {}.", answer.status),
            },
        },
        Ok(answer) if target.kind == IntegrationKind::Smtp => ConnectionTest {
            ok: false,
            message: format!("The mail server refused: {}", answer.body),
        },
        Ok(answer) => ConnectionTest {
            ok: false,
            message: crate::server::outbound::outcome::answer_in_words(
                answer.status,
                &answer.quotable_body,
            ),
        },
        Err(error) => ConnectionTest {
            ok: false,
            message: error.to_string(),
        },
    };
    let mut tx = caller.begin().await?;
    integrations::record_test(&mut tx, target.organization_id, id, outcome.ok).await?;
    tx.commit().await?;
    Ok(outcome)
}

/// The process's provider services.
#[cfg(feature = "ssr")]
pub(crate) async fn providers(
) -> Result<std::sync::Arc<crate::server::providers::Providers>, AppError> {
    let axum::Extension(providers) = leptos_axum::extract::<
        axum::Extension<std::sync::Arc<crate::server::providers::Providers>>,
    >()
    .await
    .map_err(|error| {
        tracing::error!(%error, "the provider services are missing from the router");
        AppError::Internal
    })?;
    Ok(providers)
}
