//! The caller's own account: their signed-in sessions, and signing them out.

use crate::domain::SessionRow;
use crate::error::AppError;
use leptos::prelude::*;
use uuid::Uuid;

/// The caller's open sessions (within both timeouts), most recently active
/// first, the current one marked.
#[server(endpoint = "my_sessions")]
pub async fn my_sessions() -> Result<Vec<SessionRow>, AppError> {
    use crate::server::repo::user_sessions;
    let caller = crate::server::auth::require_caller().await?;
    let current = caller.info.session_key.ok_or(AppError::Unauthorized)?;
    let mut tx = caller.begin().await?;
    let rows = user_sessions::list_open(&mut tx, caller.user.id, current).await?;
    tx.commit().await?;
    Ok(rows)
}

/// Signs out one of the caller's sessions (another browser's at once: its
/// next request finds itself signed out). Signing out the current one is
/// what "Sign out" is for.
#[server(endpoint = "sign_out_session")]
pub async fn sign_out_session(id: Uuid) -> Result<String, AppError> {
    use crate::server::repo::user_sessions;
    let caller = crate::server::auth::require_caller().await?;
    if caller.info.session_key == Some(id) {
        return Err(AppError::invalid(
            "That is this browser's session: use Sign out instead.",
        ));
    }
    let mut tx = caller.begin().await?;
    if !user_sessions::close(&mut tx, caller.user.id, id).await? {
        return Err(AppError::NotFound);
    }
    caller
        .audit(
            &mut tx,
            caller.user.organization_id,
            "session.sign_out",
            "user",
            caller.user.id.to_string(),
            serde_json::json!({ "session": id }),
        )
        .await?;
    tx.commit().await?;
    Ok("That session is signed out.".into())
}

/// Signs out every session of the caller except the current one.
#[server(endpoint = "sign_out_other_sessions")]
pub async fn sign_out_other_sessions() -> Result<String, AppError> {
    use crate::server::repo::user_sessions;
    let caller = crate::server::auth::require_caller().await?;
    let current = caller.info.session_key.ok_or(AppError::Unauthorized)?;
    let mut tx = caller.begin().await?;
    let closed = user_sessions::close_all(&mut tx, caller.user.id, Some(current)).await?;
    caller
        .audit(
            &mut tx,
            caller.user.organization_id,
            "session.sign_out_others",
            "user",
            caller.user.id.to_string(),
            serde_json::json!({ "sessions": closed }),
        )
        .await?;
    tx.commit().await?;
    Ok(match closed {
        0 => "No other session was open.".into(),
        1 => "1 other session is signed out.".into(),
        n => format!("{n} other sessions are signed out."),
    })
}
