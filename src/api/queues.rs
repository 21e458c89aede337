//! The queues view.

use crate::domain::{QueueCapRow, QueueRow};
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

/// The organizations' caps per queue: every cap for bank admins, the
/// caller's organization's own otherwise.
#[server(endpoint = "list_queue_caps")]
pub async fn list_queue_caps() -> Result<Vec<QueueCapRow>, AppError> {
    use crate::server::repo::queues;
    let caller = crate::server::auth::require_caller().await?;
    let mut tx = caller.begin().await?;
    let rows = queues::caps(&mut tx, caller.organization_filter(None)).await?;
    tx.commit().await?;
    Ok(rows)
}

/// Caps how many jobs of one organization run from a queue at once, across
/// every worker (bank admins only): the fairness lever when one tenant's
/// load would crowd the others.
#[server(endpoint = "set_queue_cap")]
pub async fn set_queue_cap(
    name: String,
    organization_id: String,
    max_running: crate::domain::Concurrency,
) -> Result<String, AppError> {
    use crate::server::queue::control;
    let (caller, name) = queue_admin(name).await?;
    let organization = chosen_organization(&organization_id)?;
    let max_running = max_running.get();
    let mut tx = caller.begin().await?;
    if !control::set_organization_cap(
        &mut tx,
        &name,
        organization,
        max_running,
        Some(caller.user.id),
    )
    .await?
    {
        return Err(AppError::NotFound);
    }
    caller
        .audit(
            &mut tx,
            Some(organization),
            "queue.cap",
            "queue",
            name.clone(),
            serde_json::json!({ "max_running": max_running }),
        )
        .await?;
    tx.commit().await?;
    Ok(format!(
        "At most {max_running} of that organization's jobs now run from {name} at once."
    ))
}

/// Lifts an organization's cap in a queue (bank admins only).
#[server(endpoint = "clear_queue_cap")]
pub async fn clear_queue_cap(name: String, organization_id: String) -> Result<String, AppError> {
    use crate::server::queue::control;
    let (caller, name) = queue_admin(name).await?;
    let organization = chosen_organization(&organization_id)?;
    let mut tx = caller.begin().await?;
    if !control::clear_organization_cap(&mut tx, &name, organization).await? {
        return Err(AppError::NotFound);
    }
    caller
        .audit(
            &mut tx,
            Some(organization),
            "queue.cap_cleared",
            "queue",
            name.clone(),
            serde_json::json!({}),
        )
        .await?;
    tx.commit().await?;
    Ok(format!("That organization's cap in {name} is lifted."))
}

/// The organization a form chose, or a message asking for one.
#[cfg(feature = "ssr")]
fn chosen_organization(text: &str) -> Result<uuid::Uuid, AppError> {
    uuid::Uuid::parse_str(text.trim()).map_err(|_| AppError::invalid("Choose an organization."))
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
