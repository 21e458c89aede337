//! Job handlers: one per job type that needs no outside provider.
//!
//! A handler gets the claimed job and returns an [`Outcome`]. Tenant work runs
//! in a transaction of the console role scoped to the job's organization
//! ([`JobContext::begin`]), so row-level security bounds a handler exactly as
//! it bounds that organization's users.

pub mod cleanup;
pub mod diagnostic;
pub mod document;
pub mod report;

use crate::domain::{JobErrorKind, JobType};
use crate::server::db::{Database, Scope, Tx};
use crate::server::queue::{ClaimedJob, JobError, Outcome};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// A boxed handler future.
pub type HandlerFuture = Pin<Box<dyn Future<Output = Outcome> + Send + 'static>>;

/// What a handler may use.
#[derive(Debug, Clone)]
pub struct JobContext {
    /// The job and its attempt.
    pub job: ClaimedJob,
    /// The pools.
    pub db: Database,
    /// Fires when the job is cancelled, its lease is lost or the worker stops;
    /// long handlers check it between steps.
    pub cancel: CancellationToken,
}

impl JobContext {
    /// A transaction limited to the job's organization, on the handlers'
    /// own pool. Report jobs get the longer statement timeout.
    pub async fn begin(&self) -> Result<Tx, sqlx::Error> {
        let mut tx = self
            .db
            .begin_for_handler(Scope::organization(self.job.organization_id))
            .await?;
        if self.job.job_type == JobType::ReportGeneration {
            let timeout = self.db.limits.report_statement_timeout.as_millis().max(1);
            sqlx::query("select set_config('statement_timeout', $1, true)")
                .bind(timeout.to_string())
                .execute(&mut *tx)
                .await?;
        }
        Ok(tx)
    }

    /// Parses the payload into `T`, or a permanent failure naming the problem.
    pub fn payload<T: serde::de::DeserializeOwned>(&self) -> Result<T, Outcome> {
        serde_json::from_value(self.job.payload.clone()).map_err(|error| {
            Outcome::Fail(JobError::new(
                JobErrorKind::InvalidPayload,
                format!(
                    "The payload does not fit a {} job: {error}",
                    self.job.job_type
                ),
            ))
        })
    }
}

/// Runs jobs of one type.
pub trait Handler: Send + Sync + 'static {
    /// Runs one attempt.
    fn run(&self, ctx: Arc<JobContext>) -> HandlerFuture;
}

/// A handler made from an async closure (tests, the benchmark).
pub struct FnHandler<F>(pub F);

impl<F, Fut> Handler for FnHandler<F>
where
    F: Fn(Arc<JobContext>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Outcome> + Send + 'static,
{
    fn run(&self, ctx: Arc<JobContext>) -> HandlerFuture {
        Box::pin((self.0)(ctx))
    }
}

/// Which handler runs which job type.
#[derive(Clone, Default)]
pub struct Registry {
    handlers: HashMap<JobType, Arc<dyn Handler>>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.job_types()).finish()
    }
}

impl Registry {
    /// No handlers.
    pub fn empty() -> Self {
        Registry::default()
    }

    /// The product's handlers: report_generation, document_processing,
    /// cleanup and the diagnostic `other` job. Jobs of the remaining types wait
    /// (pending, with a visible reason) until their integration exists.
    /// Documents are analysed by this binary run as a child process.
    pub fn standard() -> Self {
        Registry::standard_with(crate::server::sandbox::Analyser::this_binary())
    }

    /// The product's handlers, with documents analysed by `analyser` (tests
    /// name the built binary: theirs is the test harness).
    pub fn standard_with(analyser: crate::server::sandbox::Analyser) -> Self {
        Registry::empty()
            .with(JobType::ReportGeneration, report::ReportHandler)
            .with(
                JobType::DocumentProcessing,
                document::DocumentHandler { analyser },
            )
            .with(JobType::Cleanup, cleanup::CleanupHandler)
            .with(JobType::Other, diagnostic::DiagnosticHandler)
    }

    /// Adds the handlers that call an organization's providers: email,
    /// SMS, WhatsApp and data sync.
    pub fn with_providers(self, providers: Arc<crate::server::providers::Providers>) -> Self {
        use crate::domain::integrations::Channel;
        use crate::server::providers::{
            data_sync::SyncHandler, email::EmailHandler, messaging::MessageHandler,
        };
        self.with(
            JobType::Email,
            EmailHandler {
                providers: providers.clone(),
            },
        )
        .with(
            JobType::Sms,
            MessageHandler {
                channel: Channel::Sms,
                providers: providers.clone(),
            },
        )
        .with(
            JobType::Whatsapp,
            MessageHandler {
                channel: Channel::Whatsapp,
                providers: providers.clone(),
            },
        )
        .with(
            JobType::DataSync,
            SyncHandler {
                providers: providers.clone(),
            },
        )
        .with(
            JobType::Webhook,
            crate::server::webhooks::WebhookHandler { providers },
        )
    }

    /// Adds (or replaces) the handler of `job_type`.
    pub fn with(mut self, job_type: JobType, handler: impl Handler) -> Self {
        self.handlers.insert(job_type, Arc::new(handler));
        self
    }

    /// The handler of `job_type`.
    pub fn get(&self, job_type: JobType) -> Option<Arc<dyn Handler>> {
        self.handlers.get(&job_type).cloned()
    }

    /// Job types with a handler, in a stable order.
    pub fn job_types(&self) -> Vec<JobType> {
        JobType::ALL
            .iter()
            .copied()
            .filter(|t| self.handlers.contains_key(t))
            .collect()
    }
}

/// Turns a database error inside a handler into a retryable outcome.
pub fn database_error(step: &str, error: sqlx::Error) -> Outcome {
    Outcome::Retry(
        JobError::new(
            JobErrorKind::Database,
            format!("Database error while {step}."),
        )
        .caused_by(&error),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_standard_registry_matches_what_the_console_says() {
        let providers = crate::server::providers::Providers::new(
            Arc::new(crate::server::secrets::Keyring::ephemeral()),
            crate::server::outbound::Outbound::new(Default::default()).unwrap(),
            std::env::temp_dir().join("veriphy-outbox-unused"),
        );
        let handled = Registry::standard()
            .with_providers(Arc::new(providers))
            .job_types();
        for job_type in JobType::ALL {
            assert_eq!(
                handled.contains(job_type),
                job_type.has_builtin_handler(),
                "{job_type}"
            );
        }
    }
}
