//! The Access view (bank admins only): organizations and users, and turning
//! either off with immediate effect on their open sessions.

use crate::domain::{OrganizationAccess, UserAccessPage};
use crate::error::AppError;
use leptos::prelude::*;
use uuid::Uuid;

/// Users one page of the listing shows.
pub const USER_PAGE_SIZE: i64 = 100;

/// The longest text a user search or page position may be (an email's
/// longest form).
#[cfg(feature = "ssr")]
const MAX_LISTING_TEXT: usize = 320;

/// Every organization with its state and user count.
#[server(endpoint = "list_organization_access")]
pub async fn list_organization_access() -> Result<Vec<OrganizationAccess>, AppError> {
    use crate::server::repo::organizations;
    let caller = bank_admin().await?;
    let mut tx = caller.begin().await?;
    let rows = organizations::list_for_access(&mut tx).await?;
    tx.commit().await?;
    Ok(rows)
}

/// A page of users by email, with their open sessions: of one organization
/// (or all), whose email or name contains `search`, after the email `after`.
#[server(endpoint = "list_user_access")]
pub async fn list_user_access(
    organization_id: Option<Uuid>,
    search: Option<String>,
    after: Option<String>,
) -> Result<UserAccessPage, AppError> {
    use crate::server::repo::users;
    let caller = bank_admin().await?;
    let search = listing_text(search, "The search")?;
    let after = listing_text(after, "The page position")?;
    let mut tx = caller.begin().await?;
    let listing = users::AccessListing {
        organization: organization_id,
        search: search.as_deref(),
        after: after.as_deref(),
    };
    // one more than a page tells whether another follows
    let mut rows = users::list_for_access(&mut tx, &listing, USER_PAGE_SIZE + 1).await?;
    tx.commit().await?;
    let next_after = (rows.len() as i64 > USER_PAGE_SIZE).then(|| {
        rows.truncate(USER_PAGE_SIZE as usize);
        rows.last().map(|row| row.email.clone()).unwrap_or_default()
    });
    Ok(UserAccessPage { rows, next_after })
}

/// A listing's text as given (trimmed; empty means none), or why not.
#[cfg(feature = "ssr")]
fn listing_text(text: Option<String>, what: &str) -> Result<Option<String>, AppError> {
    let Some(text) = text.map(|t| t.trim().to_string()).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    if text.contains('\0') {
        return Err(AppError::invalid(format!(
            "{what} cannot contain a NUL character."
        )));
    }
    if text.chars().count() > MAX_LISTING_TEXT {
        return Err(AppError::invalid(format!(
            "{what} is longer than {MAX_LISTING_TEXT} characters."
        )));
    }
    Ok(Some(text))
}

/// Deactivates (its users are signed out and cannot sign in) or reactivates
/// an organization.
#[server(endpoint = "set_organization_active")]
pub async fn set_organization_active(id: Uuid, active: bool) -> Result<String, AppError> {
    use crate::server::repo::organizations;
    let caller = bank_admin().await?;
    let mut tx = caller.begin().await?;
    if !organizations::set_active(&mut tx, id, active).await? {
        return Err(AppError::NotFound);
    }
    let action = if active {
        "organization.activate"
    } else {
        "organization.deactivate"
    };
    caller
        .audit(
            &mut tx,
            Some(id),
            action,
            "organization",
            id.to_string(),
            serde_json::json!({}),
        )
        .await?;
    tx.commit().await?;
    Ok(if active {
        "The organization is active again; its users may sign in.".into()
    } else {
        "The organization is deactivated; its users are signed out.".into()
    })
}

/// Largest storage quota the console sets, in MiB (1 TiB).
pub const MAX_QUOTA_MIB: i64 = 1024 * 1024;

/// Sets an organization's document storage quota (MiB) and how many days
/// its stored files are kept.
#[server(endpoint = "set_organization_storage")]
pub async fn set_organization_storage(
    id: Uuid,
    quota_mib: String,
    file_retention_days: String,
) -> Result<String, AppError> {
    use crate::server::repo::organizations;
    let quota_mib: i64 = quota_mib
        .trim()
        .parse()
        .ok()
        .filter(|q| (1..=MAX_QUOTA_MIB).contains(q))
        .ok_or_else(|| {
            AppError::invalid(format!(
                "The quota is a whole number of MiB from 1 to {MAX_QUOTA_MIB}."
            ))
        })?;
    let days: i32 = file_retention_days
        .trim()
        .parse()
        .ok()
        .filter(|d| (1..=3650).contains(d))
        .ok_or_else(|| {
            AppError::invalid("Files are kept a whole number of days from 1 to 3650.")
        })?;
    let caller = bank_admin().await?;
    let mut tx = caller.begin().await?;
    if !organizations::set_storage(&mut tx, id, quota_mib * 1024 * 1024, days).await? {
        return Err(AppError::NotFound);
    }
    caller
        .audit(
            &mut tx,
            Some(id),
            "organization.storage",
            "organization",
            id.to_string(),
            serde_json::json!({ "quota_mib": quota_mib, "file_retention_days": days }),
        )
        .await?;
    tx.commit().await?;
    Ok(format!(
        "Storage set to {quota_mib} MiB, files kept {days} days."
    ))
}

/// Deactivates (signed out at once, cannot sign in) or reactivates a user.
/// Bank admins cannot deactivate themselves.
#[server(endpoint = "set_user_active")]
pub async fn set_user_active(id: Uuid, active: bool) -> Result<String, AppError> {
    use crate::server::repo::users;
    let caller = bank_admin().await?;
    if id == caller.user.id && !active {
        return Err(AppError::invalid(
            "You cannot deactivate yourself: ask another bank admin.",
        ));
    }
    let mut tx = caller.begin().await?;
    if !users::set_active(&mut tx, id, active).await? {
        return Err(AppError::NotFound);
    }
    let action = if active {
        "user.activate"
    } else {
        "user.deactivate"
    };
    caller
        .audit(
            &mut tx,
            None,
            action,
            "user",
            id.to_string(),
            serde_json::json!({}),
        )
        .await?;
    tx.commit().await?;
    Ok(if active {
        "The user is active again.".into()
    } else {
        "The user is deactivated and signed out.".into()
    })
}

/// The caller, who must be a bank admin.
#[cfg(feature = "ssr")]
async fn bank_admin() -> Result<crate::server::auth::Caller, AppError> {
    let caller = crate::server::auth::require_caller().await?;
    if !caller.user.is_bank_admin() {
        return Err(AppError::Forbidden);
    }
    Ok(caller)
}
