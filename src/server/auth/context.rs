//! How a server function learns who is calling and opens their transaction.

use super::throttle::SignInGuard;
use crate::domain::CurrentUser;
use crate::error::AppError;
use crate::server::db::{Database, Scope, Tx};
use crate::server::repo::audit::AuditEntry;
use axum::Extension;
use std::sync::Arc;
use uuid::Uuid;

/// What the gate learned about the request; stored in request extensions.
#[derive(Debug, Clone, Default)]
pub struct RequestInfo {
    /// The signed-in user, if any.
    pub user: Option<CurrentUser>,
    /// Client address.
    pub ip: Option<String>,
    /// Client user agent.
    pub user_agent: Option<String>,
    /// The signed-in session's key (its row in `user_sessions`).
    pub session_key: Option<Uuid>,
}

/// A signed-in caller of a server function, with the database.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Who is calling.
    pub user: CurrentUser,
    /// Their request.
    pub info: RequestInfo,
    /// The pools.
    pub db: Database,
}

/// The request's info and the database, signed in or not.
pub async fn caller() -> Result<(RequestInfo, Database), AppError> {
    Ok((extension().await?, extension().await?))
}

/// The process's sign-in guard (throttling and bounded hashing).
pub async fn sign_in_guard() -> Result<Arc<SignInGuard>, AppError> {
    extension().await
}

/// How long sessions live (for listing the open ones).
pub async fn session_policy() -> Result<super::session::SessionPolicy, AppError> {
    extension().await
}

/// A value the router put in every request's extensions; its absence is a
/// wiring mistake, logged and answered as an internal error.
async fn extension<T: Clone + Send + Sync + 'static>() -> Result<T, AppError> {
    let Extension(value) = leptos_axum::extract::<Extension<T>>()
        .await
        .map_err(|error| {
            tracing::error!(
                %error,
                what = std::any::type_name::<T>(),
                "missing from request extensions: is the router fully built?"
            );
            AppError::Internal
        })?;
    Ok(value)
}

/// The signed-in caller, or `Unauthorized`.
pub async fn require_caller() -> Result<Caller, AppError> {
    let (info, db) = caller().await?;
    let user = info.user.clone().ok_or(AppError::Unauthorized)?;
    Ok(Caller { user, info, db })
}

impl Caller {
    /// The row-level-security scope of this caller.
    pub fn scope(&self) -> Scope {
        Scope::for_user(&self.user)
    }

    /// The organization condition for a list: bank admins may narrow to
    /// `requested`; everyone else always gets their own organization.
    pub fn organization_filter(&self, requested: Option<Uuid>) -> Option<Uuid> {
        self.scope().organization_filter(requested)
    }

    /// Opens a transaction bound to this caller's scope.
    pub async fn begin(&self) -> Result<Tx, AppError> {
        Ok(self.db.begin(self.scope()).await?)
    }

    /// The organization a new record belongs to: the caller's own, or for
    /// bank admins the one they chose (which they must). An organization user
    /// naming another organization is refused, not silently redirected.
    pub fn target_organization(&self, requested: Option<Uuid>) -> Result<Uuid, AppError> {
        match self.user.organization_id {
            Some(own) if requested.is_some_and(|other| other != own) => Err(AppError::Forbidden),
            Some(own) => Ok(own),
            None => requested.ok_or_else(|| AppError::invalid("Choose an organization.")),
        }
    }

    /// Refuses read-only callers.
    pub fn require_write(&self) -> Result<(), AppError> {
        if self.user.can_write() {
            Ok(())
        } else {
            Err(AppError::Forbidden)
        }
    }

    /// Appends an audit row for `action` by this caller inside `tx`, so the
    /// record commits (or not) with the action itself.
    pub async fn audit(
        &self,
        tx: &mut Tx,
        organization_id: Option<Uuid>,
        action: &str,
        target_type: &str,
        target_id: String,
        summary: serde_json::Value,
    ) -> Result<(), AppError> {
        let entry = AuditEntry {
            organization_id,
            actor_user_id: Some(self.user.id),
            actor_email: Some(self.user.email.clone()),
            action: action.to_string(),
            target_type: Some(target_type.to_string()),
            target_id: Some(target_id),
            summary,
            ip_address: self.info.ip.clone(),
            user_agent: self.info.user_agent.clone(),
        };
        crate::server::repo::audit::record(tx, &entry).await?;
        Ok(())
    }
}
