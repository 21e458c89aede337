//! Talking to an organization's providers: what the messaging and
//! data-sync handlers and the console's "test connection" share — the
//! keyring that opens credentials, the one logged outbound client, and the
//! sandbox that answers like a provider without leaving the machine.

pub mod data_sync;
pub mod email;
pub mod messaging;
pub mod recent;
pub mod sandbox;

use crate::domain::integrations::{Channel, IntegrationKind};
use crate::domain::{HttpMethod, JobErrorKind};
use crate::server::db::{Database, Scope};
use crate::server::outbound::{CallAnswer, CallError, CallRecord, CallRequest, Outbound};
use crate::server::queue::{ClaimedJob, JobError, Outcome};
use crate::server::repo::integrations::{self, IntegrationTarget};
use crate::server::secrets::Keyring;
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

pub use recent::{Recent, TARGET_REUSE};

/// The services every provider call uses; one per process.
pub struct Providers {
    /// Opens integration credentials.
    pub keyring: Arc<Keyring>,
    /// The one outbound HTTP client (destination-guarded, logged).
    pub outbound: Outbound,
    /// Where email goes when an organization has no email integration.
    pub outbox: std::path::PathBuf,
    /// Pooled SMTP transports per integration, with the settings they were
    /// made for.
    smtp: std::sync::Mutex<
        std::collections::HashMap<
            Uuid,
            (String, lettre::AsyncSmtpTransport<lettre::Tokio1Executor>),
        >,
    >,
    /// Integrations looked up for jobs lately, by (organization, channel,
    /// integration named), with when: see [`TARGET_REUSE`].
    targets: Recent<TargetKey, IntegrationTarget>,
}

/// Whose integration of which channel a job asked for, and which it named.
type TargetKey = (Uuid, Channel, Option<Uuid>);

impl Providers {
    /// The services of `keyring`, `outbound` and an outbox directory.
    pub fn new(keyring: Arc<Keyring>, outbound: Outbound, outbox: std::path::PathBuf) -> Self {
        Providers {
            keyring,
            outbound,
            outbox,
            smtp: Default::default(),
            targets: Default::default(),
        }
    }

    /// The services as configured: the credentials keyring and the outbound
    /// client with the configured allowlist.
    pub fn from_config(
        config: &crate::server::config::Config,
    ) -> Result<Providers, ProvidersError> {
        Ok(Providers::new(
            Arc::new(config.keyring()?),
            Outbound::new(config.outbound_allowlist())?,
            config.outbox_dir(),
        ))
    }
}

impl std::fmt::Debug for Providers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Providers").finish_non_exhaustive()
    }
}

/// Why the provider services could not start.
#[derive(Debug, thiserror::Error)]
pub enum ProvidersError {
    /// The credentials key is unusable.
    #[error("the credentials key: {0}")]
    Key(#[from] crate::server::secrets::SecretError),
    /// The HTTP client could not be built.
    #[error("the outbound HTTP client: {0}")]
    Client(#[from] crate::server::outbound::SendError),
    /// Credentials sealed under a key the keyring lacks, or altered.
    #[error("integration {id}: {error}")]
    Unopenable {
        /// The integration.
        id: Uuid,
        /// Why.
        error: crate::server::secrets::SecretError,
    },
    /// The database failed.
    #[error("the database: {0}")]
    Database(#[from] sqlx::Error),
}

/// Seals every stored credential — integrations' credentials, webhooks'
/// secrets and custom headers — that an older key sealed again under
/// `keyring`'s current key, in one transaction (all or none); (re-sealed,
/// sealed values in all).
pub async fn reseal_all(
    db: &Database,
    keyring: &Keyring,
) -> Result<(usize, usize), ProvidersError> {
    let mut tx = db.begin(Scope::bank()).await?;
    let sealed = integrations::all_sealed(&mut tx).await?;
    let mut resealed = 0;
    for (id, _, credential) in &sealed {
        if !keyring.is_stale(credential) {
            continue;
        }
        let context = integrations::credentials_context(*id);
        let plain = keyring
            .open(credential, &context)
            .map_err(|error| ProvidersError::Unopenable { id: *id, error })?;
        integrations::reseal(&mut tx, *id, &keyring.seal(&plain, &context)).await?;
        resealed += 1;
    }
    let webhook_parts = crate::server::repo::webhooks::all_sealed(&mut tx).await?;
    for (id, part, sealed) in &webhook_parts {
        if !keyring.is_stale(sealed) {
            continue;
        }
        let context = crate::server::repo::webhooks::sealed_context(*id, part);
        let plain = keyring
            .open(sealed, &context)
            .map_err(|error| ProvidersError::Unopenable { id: *id, error })?;
        crate::server::repo::webhooks::reseal(&mut tx, *id, part, &keyring.seal(&plain, &context))
            .await?;
        resealed += 1;
    }
    tx.commit().await?;
    Ok((resealed, sealed.len() + webhook_parts.len()))
}

/// An integration's secret as stored: the user name or account id beside
/// it lives in the clear settings.
#[derive(Debug, Clone, Default, serde::Serialize, Deserialize)]
pub struct Credentials {
    /// Password or token.
    pub secret: String,
}

impl Providers {
    /// Opens `target`'s credentials (none stored: an empty secret).
    pub fn credentials(&self, target: &IntegrationTarget) -> Result<Credentials, Outcome> {
        let Some(sealed) = target.sealed() else {
            return Ok(Credentials::default());
        };
        let text = self
            .keyring
            .open(&sealed, &integrations::credentials_context(target.id))
            .map_err(|error| {
                Outcome::Fail(JobError::new(
                    JobErrorKind::Handler,
                    format!(
                        "The credentials of integration \"{}\" cannot be opened: {error}",
                        target.name
                    ),
                ))
            })?;
        serde_json::from_str(&text).map_err(|_| {
            Outcome::Fail(JobError::new(
                JobErrorKind::Handler,
                format!(
                    "The credentials of integration \"{}\" are unreadable; save them again.",
                    target.name
                ),
            ))
        })
    }

    /// Makes `request` to `target` for `record`: through the sandbox when
    /// that is its kind, otherwise over the network; logged either way.
    pub async fn call(
        &self,
        db: &Database,
        target: &IntegrationTarget,
        record: &CallRecord,
        request: &CallRequest,
    ) -> Result<CallAnswer, CallError> {
        let timeout = Duration::from_secs(target.timeout_seconds.max(1) as u64);
        if target.kind == IntegrationKind::Sandbox {
            return sandbox::call_logged(db, target, record, request).await;
        }
        let redirects = if target.settings.follow_redirects {
            crate::server::outbound::Redirects::Followed
        } else {
            crate::server::outbound::Redirects::Refused
        };
        self.outbound
            .call_logged(db, record, request, timeout, redirects)
            .await
    }
}

/// Checks a new job's payload for the provider handlers (email addresses
/// and content, SMS and WhatsApp recipients in E.164 form, bounded data
/// syncs); other types pass.
pub fn check_payload(
    job_type: crate::domain::JobType,
    payload: &serde_json::Value,
) -> Result<(), String> {
    use crate::domain::JobType;
    match job_type {
        JobType::Email => email::check_payload(payload),
        JobType::Sms => messaging::check_payload(Channel::Sms, payload),
        JobType::Whatsapp => messaging::check_payload(Channel::Whatsapp, payload),
        JobType::DataSync => data_sync::check_payload(payload),
        JobType::Webhook => serde_json::from_value::<crate::server::webhooks::Delivery>(payload.clone())
            .map(|_| ())
            .map_err(|_| {
                "A webhook job's payload names the webhook and the event: {\"webhook_id\": …, \"event_id\": …}. Webhook deliveries are made by events; send a test from the webhook's page.".to_string()
            }),
        _ => Ok(()),
    }
}

impl Providers {
    /// The integration a job of `channel` uses — the one its payload names
    /// (`integration_id`) or its organization's default — or why it has
    /// none (a permanent failure). One looked up less than [`TARGET_REUSE`]
    /// ago is used again.
    pub async fn integration_for(
        &self,
        db: &Database,
        job: &ClaimedJob,
        channel: Channel,
        named: Option<Uuid>,
    ) -> Result<IntegrationTarget, Outcome> {
        let key = (job.organization_id, channel, named);
        if let Some(target) = self.targets.get(&key) {
            return usable(Some(target), channel, named);
        }
        let found = look_up_integration(db, job, channel, named).await?;
        if let Some(target) = &found {
            self.targets.put(key, target.clone());
        }
        usable(found, channel, named)
    }
}

/// Reads the integration `named` (or the default of `channel`) of `job`'s
/// organization.
async fn look_up_integration(
    db: &Database,
    job: &ClaimedJob,
    channel: Channel,
    named: Option<Uuid>,
) -> Result<Option<IntegrationTarget>, Outcome> {
    let failed = |e| crate::server::worker::handlers::database_error("finding the integration", e);
    let mut tx = db
        .begin_for_handler(Scope::organization(job.organization_id))
        .await
        .map_err(failed)?;
    let found = integrations::for_job(&mut tx, job.organization_id, channel, named)
        .await
        .map_err(failed)?;
    let _ = tx.commit().await;
    Ok(found)
}

/// `found` if a job may call it; otherwise the permanent failure that says
/// why not.
fn usable(
    found: Option<IntegrationTarget>,
    channel: Channel,
    named: Option<Uuid>,
) -> Result<IntegrationTarget, Outcome> {
    let fail = |message: String| Outcome::Fail(JobError::new(JobErrorKind::Handler, message));
    match found {
        None if named.is_some() => Err(fail(format!(
            "The job names integration {}, which its organization does not have for {}.",
            named.unwrap_or_default(),
            channel.label()
        ))),
        None => Err(fail(format!(
            "The organization has no default {} integration: add one under Integrations, or name one in the payload (\"integration_id\").",
            channel.label()
        ))),
        Some(target) if !target.is_active => Err(fail(format!(
            "Integration \"{}\" is disabled.",
            target.name
        ))),
        Some(target) => Ok(target),
    }
}

/// What a job's calls note beside themselves: the job and its attempt.
pub fn call_record(job: &ClaimedJob, target: &IntegrationTarget, api_name: &str) -> CallRecord {
    CallRecord {
        organization_id: job.organization_id,
        integration_id: Some(target.id),
        api_name: api_name.to_string(),
        retry_count: job.attempts,
        metadata: json!({ "job_id": job.id, "attempt": job.attempts, "integration": target.name }),
    }
}

/// The URL of `path` under `target`'s base URL.
pub fn url_of(target: &IntegrationTarget, path: &str) -> String {
    format!(
        "{}{}",
        target
            .base_url
            .as_deref()
            .unwrap_or("")
            .trim_end_matches('/'),
        path
    )
}

/// The "test connection" request of an HTTP integration: a GET of its test
/// path, with its credentials as the kind sends them.
pub fn test_request(target: &IntegrationTarget, credentials: &Credentials) -> CallRequest {
    CallRequest {
        method: HttpMethod::Get,
        url: url_of(target, &target.settings.test_path),
        headers: auth_headers(target, credentials),
        body: None,
    }
}

/// The headers that carry `credentials` for `target`'s kind: basic auth of
/// the account id and token (SMS), a bearer token (WhatsApp, HTTP).
pub fn auth_headers(
    target: &IntegrationTarget,
    credentials: &Credentials,
) -> Vec<(String, String)> {
    use base64::Engine;
    if credentials.secret.is_empty() {
        return Vec::new();
    }
    let value = match target.kind {
        IntegrationKind::SmsHttp => format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!(
                "{}:{}",
                target.settings.username, credentials.secret
            ))
        ),
        _ => format!("Bearer {}", credentials.secret),
    };
    vec![("Authorization".into(), value)]
}
