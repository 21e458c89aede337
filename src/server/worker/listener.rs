//! The notification listener: new work wakes a queue's claimers, a cancel
//! request stops a held job, a queue change reloads the queue settings, a
//! webhook change reloads who receives `job.completed`.

use super::claimer::reload_queues;
use super::held::StopReason;
use super::runtime::Shared;
use crate::server::queue::{CANCEL_CHANNEL, JOBS_CHANNEL, QUEUES_CHANNEL, WEBHOOKS_CHANNEL};
use sqlx::postgres::PgListener;
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

/// The channels the worker listens on.
pub(super) const CHANNELS: [&str; 4] = [
    JOBS_CHANNEL,
    CANCEL_CHANNEL,
    QUEUES_CHANNEL,
    WEBHOOKS_CHANNEL,
];

/// What one notification asks of the worker.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Notice {
    /// A queue (by name) has runnable jobs.
    Work(String),
    /// Stop this job if it is held here.
    Cancel(Uuid),
    /// Queue settings changed, or a queue appeared.
    Reload,
    /// A webhook's subscription changed.
    Subscriptions,
    /// Nothing to do (a malformed payload).
    Ignore,
}

impl Notice {
    /// Reads a notification.
    pub(super) fn read(channel: &str, payload: &str) -> Notice {
        match channel {
            JOBS_CHANNEL => Notice::Work(payload.to_string()),
            CANCEL_CHANNEL => payload
                .parse()
                .map(Notice::Cancel)
                .unwrap_or(Notice::Ignore),
            WEBHOOKS_CHANNEL => Notice::Subscriptions,
            _ => Notice::Reload,
        }
    }
}

/// Dispatches notifications until the task is aborted.
pub(super) async fn run_listener(shared: Arc<Shared>, mut listener: PgListener) {
    loop {
        match listener.try_recv().await {
            Ok(Some(notification)) => {
                match Notice::read(notification.channel(), notification.payload()) {
                    Notice::Work(queue) => match shared.queues.get(&queue) {
                        Some(runner) => runner.wake.notify_one(),
                        None => reload_quietly(&shared).await,
                    },
                    Notice::Cancel(id) => shared.held.stop(id, StopReason::Requested),
                    Notice::Reload => reload_quietly(&shared).await,
                    Notice::Subscriptions => shared.listeners.reload_quietly(&shared.db).await,
                    Notice::Ignore => {}
                }
            }
            Ok(None) => {
                // Reconnected: notifications may have been missed.
                tracing::warn!("notification connection was lost and re-established");
                reload_quietly(&shared).await;
                shared.listeners.reload_quietly(&shared.db).await;
                shared.queues.wake_all();
            }
            Err(error) => {
                tracing::warn!(error = %crate::server::db::loggable(&error), "notification listener error");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

async fn reload_quietly(shared: &Arc<Shared>) {
    if let Err(error) = reload_queues(shared).await {
        tracing::warn!(error = %crate::server::db::loggable(&error), "could not reload queue settings");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notifications_map_to_what_the_worker_does() {
        assert_eq!(
            Notice::read(JOBS_CHANNEL, "mail"),
            Notice::Work("mail".into())
        );
        let id = Uuid::new_v4();
        assert_eq!(
            Notice::read(CANCEL_CHANNEL, &id.to_string()),
            Notice::Cancel(id)
        );
        assert_eq!(Notice::read(CANCEL_CHANNEL, "not-a-uuid"), Notice::Ignore);
        assert_eq!(Notice::read(QUEUES_CHANNEL, "mail"), Notice::Reload);
        assert_eq!(Notice::read(WEBHOOKS_CHANNEL, ""), Notice::Subscriptions);
    }
}
