//! Which organizations have a webhook receiving `job.completed`. The
//! completer asks before each batch, so the completions of organizations
//! nobody listens to run no event code at all: even a probe per completion
//! statement cost the drain benchmark 8–15 % with ten handlers, whose
//! batches are small. Loaded at start; reloaded when a webhook's
//! subscription changes (a NOTIFY on [`WEBHOOKS_CHANNEL`]), after the
//! notification connection comes back, and every [`REFRESH_EVERY`] in
//! case a notification was lost. A webhook made just now receives the
//! completions written after the worker hears of it (milliseconds).
//!
//! [`WEBHOOKS_CHANNEL`]: crate::server::queue::WEBHOOKS_CHANNEL

use crate::server::db::{loggable, Database};
use crate::server::queue::JobEvents;
use std::collections::HashSet;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use uuid::Uuid;

/// How often the set is read again without a notification.
pub(super) const REFRESH_EVERY: Duration = Duration::from_secs(10);

/// The organizations whose job completions raise `job.completed`.
#[derive(Debug, Default)]
pub(super) struct CompletionListeners {
    organizations: RwLock<Arc<HashSet<Uuid>>>,
}

impl CompletionListeners {
    /// Reads the set from the database.
    pub(super) async fn reload(&self, db: &Database) -> Result<(), sqlx::Error> {
        let organizations: Vec<Uuid> = sqlx::query_scalar(
            "select distinct organization_id from webhooks
             where event_type = 'job.completed' and is_active and status = 'active'",
        )
        .fetch_all(&db.worker)
        .await?;
        *self.organizations.write().expect("listeners lock") =
            Arc::new(organizations.into_iter().collect());
        Ok(())
    }

    /// Reads the set again, logging (not failing) when it cannot.
    pub(super) async fn reload_quietly(&self, db: &Database) {
        if let Err(error) = self.reload(db).await {
            tracing::warn!(error = %loggable(&error), "could not read which organizations receive job.completed");
        }
    }

    /// Whether completions of `organizations` must raise events.
    pub(super) fn events_for(&self, mut organizations: impl Iterator<Item = Uuid>) -> JobEvents {
        let listening = self.organizations.read().expect("listeners lock").clone();
        if !listening.is_empty() && organizations.any(|id| listening.contains(&id)) {
            JobEvents::Raise
        } else {
            JobEvents::NobodyListens
        }
    }
}

/// Reads the set every [`REFRESH_EVERY`] until the task is aborted.
pub(super) async fn run_refresh(listeners: Arc<CompletionListeners>, db: Database) {
    loop {
        tokio::time::sleep(REFRESH_EVERY).await;
        listeners.reload_quietly(&db).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_batch_with_a_listening_organization_raises_events() {
        let (listening, quiet) = (Uuid::new_v4(), Uuid::new_v4());
        let listeners = CompletionListeners::default();
        assert_eq!(
            listeners.events_for([listening].into_iter()),
            JobEvents::NobodyListens
        );
        *listeners.organizations.write().unwrap() = Arc::new([listening].into_iter().collect());
        assert_eq!(
            listeners.events_for([quiet].into_iter()),
            JobEvents::NobodyListens
        );
        assert_eq!(
            listeners.events_for([quiet, listening].into_iter()),
            JobEvents::Raise
        );
    }
}
