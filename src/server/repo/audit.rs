//! SQL for the append-only audit log.

use crate::server::db::Tx;
use uuid::Uuid;

/// One audited action.
#[derive(Debug, Clone, Default)]
pub struct AuditEntry {
    /// The organization the action concerned (`None`: bank level).
    pub organization_id: Option<Uuid>,
    /// Who did it, when known.
    pub actor_user_id: Option<Uuid>,
    /// Their email (kept even if the user is later removed).
    pub actor_email: Option<String>,
    /// Verb, e.g. `login`, `job.cancel`.
    pub action: String,
    /// Kind of thing acted on.
    pub target_type: Option<String>,
    /// Its id.
    pub target_id: Option<String>,
    /// Before/after summary.
    pub summary: serde_json::Value,
    /// Client address.
    pub ip_address: Option<String>,
    /// Client user agent.
    pub user_agent: Option<String>,
}

/// Appends one audit row.
pub async fn record(tx: &mut Tx, entry: &AuditEntry) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into audit_log (organization_id, actor_user_id, actor_email, action, target_type,
                                target_id, summary, ip_address, user_agent)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(entry.organization_id)
    .bind(entry.actor_user_id)
    .bind(entry.actor_email.as_deref())
    .bind(&entry.action)
    .bind(entry.target_type.as_deref())
    .bind(entry.target_id.as_deref())
    .bind(&entry.summary)
    .bind(entry.ip_address.as_deref())
    .bind(entry.user_agent.as_deref())
    .execute(&mut **tx)
    .await?;
    Ok(())
}
