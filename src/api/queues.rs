//! The queues view.

use crate::domain::QueueRow;
use crate::error::AppError;
use leptos::prelude::*;

/// Every queue with the caller's backlog in it.
#[server(endpoint = "list_queues")]
pub async fn list_queues() -> Result<Vec<QueueRow>, AppError> {
    use crate::server::auth::require_caller;
    use crate::server::repo::queues;
    let caller = require_caller().await?;
    let mut tx = caller.begin().await?;
    let rows = queues::list(&mut tx, caller.organization_filter(None)).await?;
    tx.commit().await?;
    Ok(rows)
}

/// The names of every queue, for choosing one when creating a job.
#[server(endpoint = "queue_names")]
pub async fn queue_names() -> Result<Vec<String>, AppError> {
    use crate::server::queue::control;
    let caller = crate::server::auth::require_caller().await?;
    let mut tx = caller.begin().await?;
    let names = control::names(&mut tx).await?;
    tx.commit().await?;
    Ok(names)
}

/// Creates a queue. Queues serve every organization, so only bank admins
/// create them; workers start claiming from it at once.
#[server(endpoint = "create_queue")]
pub async fn create_queue(
    name: String,
    concurrency: crate::domain::Concurrency,
) -> Result<String, AppError> {
    use crate::server::queue::control;
    let (caller, name) = queue_admin(name).await?;
    let mut tx = caller.begin().await?;
    if !control::create(&mut tx, &name, concurrency.get(), Some(caller.user.id)).await? {
        return Err(AppError::invalid(format!(
            "A queue named {name} already exists."
        )));
    }
    caller
        .audit(
            &mut tx,
            None,
            "queue.create",
            "queue",
            name.clone(),
            serde_json::json!({ "concurrency": concurrency.get() }),
        )
        .await?;
    tx.commit().await?;
    Ok(format!("Queue {name} created."))
}

/// Pauses or resumes a queue. Queues serve every organization, so only bank
/// admins may do this.
#[server(endpoint = "set_queue_paused")]
pub async fn set_queue_paused(name: String, paused: bool) -> Result<String, AppError> {
    use crate::server::queue::control;
    let (caller, name) = queue_admin(name).await?;
    let mut tx = caller.begin().await?;
    if !control::set_paused(&mut tx, &name, paused, Some(caller.user.id)).await? {
        return Err(AppError::NotFound);
    }
    let action = if paused {
        "queue.pause"
    } else {
        "queue.resume"
    };
    caller
        .audit(
            &mut tx,
            None,
            action,
            "queue",
            name.clone(),
            serde_json::json!({}),
        )
        .await?;
    tx.commit().await?;
    Ok(if paused {
        format!("Queue {name} paused.")
    } else {
        format!("Queue {name} resumed.")
    })
}

/// Sets how many jobs of a queue each worker process runs at once (bank
/// admins only; workers pick it up at once through NOTIFY).
#[server(endpoint = "set_queue_concurrency")]
pub async fn set_queue_concurrency(
    name: String,
    concurrency: crate::domain::Concurrency,
) -> Result<String, AppError> {
    use crate::server::queue::control;
    let (caller, name) = queue_admin(name).await?;
    let concurrency = concurrency.get();
    let mut tx = caller.begin().await?;
    if !control::set_concurrency(&mut tx, &name, concurrency, Some(caller.user.id)).await? {
        return Err(AppError::NotFound);
    }
    caller
        .audit(
            &mut tx,
            None,
            "queue.concurrency",
            "queue",
            name.clone(),
            serde_json::json!({ "concurrency": concurrency }),
        )
        .await?;
    tx.commit().await?;
    Ok(format!(
        "Queue {name} now runs {concurrency} jobs at once per worker."
    ))
}

/// The caller, who must be a bank admin (queues serve every organization),
/// and the queue name, checked.
#[cfg(feature = "ssr")]
async fn queue_admin(name: String) -> Result<(crate::server::auth::Caller, String), AppError> {
    let caller = crate::server::auth::require_caller().await?;
    if !caller.user.is_bank_admin() {
        return Err(AppError::Forbidden);
    }
    let name = name.trim().to_string();
    if !crate::domain::valid_queue_name(&name) {
        return Err(AppError::invalid(crate::domain::QUEUE_NAME_RULE));
    }
    Ok((caller, name))
}
