//! Sign-in, sign-out and "who am I".

use crate::domain::CurrentUser;
use crate::error::AppError;
use leptos::prelude::*;

/// Signs in with email and password, then redirects to `next` (a local path)
/// or the overview. Wrong password and unknown email answer identically.
/// Repeated failures of an account (counted across every node) or from an
/// address lock them out for a growing while (429); the password is hashed outside any transaction, a
/// few at a time (503 when every slot stays busy).
#[server(endpoint = "login")]
pub async fn login(email: String, password: String, next: Option<String>) -> Result<(), AppError> {
    use crate::server::auth::password as passwords;
    use crate::server::auth::session::{SessionUser, USER_KEY};
    use crate::server::auth::throttle::Refusal;
    use crate::server::db::Scope;
    use crate::server::repo::{audit, sign_in_failures, user_sessions, users};
    use std::time::Instant;

    let (info, db) = crate::server::auth::caller().await?;
    let guard = crate::server::auth::context::sign_in_guard().await?;
    let email = email.trim().to_lowercase();
    if email.is_empty() || password.is_empty() {
        return Err(AppError::invalid("Enter your email and password."));
    }
    if email.len() > 320 || password.len() > 1024 || email.contains('\0') || password.contains('\0')
    {
        return Err(AppError::BadCredentials);
    }
    let address = info.ip.as_deref();
    guard
        .check(&email, address, Instant::now())
        .map_err(refused_sign_in)?;

    let verified = {
        let _slot = guard.hashing_slot().await.map_err(refused_sign_in)?;
        // a short read, committed before the slow hash
        let mut tx = db.begin(Scope::no_tenant(None)).await?;
        // an account locked out through another node is locked here too
        if let Some(wait) = sign_in_failures::locked_for(&mut tx, &email).await? {
            tx.commit().await?;
            return Err(refused_sign_in(Refusal::LockedOut(wait)));
        }
        let mut candidate = users::find_for_login(&mut tx, &email).await?;
        // a deactivated organization's users cannot sign in (and learn
        // nothing from trying: the answer is the usual one)
        if let Some(org) = candidate.as_ref().and_then(|c| c.organization_id) {
            if users::active_organization_name(&mut tx, org)
                .await?
                .is_none()
            {
                candidate = None;
            }
        }
        tx.commit().await?;
        let stored = candidate
            .as_ref()
            .filter(|c| c.is_active)
            .map(|c| c.password_hash.clone());
        let verified =
            tokio::task::spawn_blocking(move || passwords::verify(&password, stored.as_deref()))
                .await
                .map_err(|_| AppError::Internal)?;
        candidate.filter(|_| verified)
    };

    // What was typed into the email field is kept only when it is an
    // address: people type passwords there by mistake.
    let well_formed = crate::domain::plausible_email(&email);
    let mut entry = audit::AuditEntry {
        actor_email: well_formed.then(|| email.clone()),
        target_type: Some("user".into()),
        ip_address: info.ip.clone(),
        user_agent: info.user_agent.clone(),
        summary: serde_json::json!({}),
        ..Default::default()
    };
    let mut tx = db.begin(Scope::no_tenant(None)).await?;
    let Some(user) = verified else {
        let here = guard.failed(&email, address, Instant::now());
        let failures =
            sign_in_failures::record_failure(&mut tx, &email, guard.forget_after()).await?;
        let shared = guard.account_lockout_after(failures);
        if let Some(lockout) = shared {
            sign_in_failures::lock(&mut tx, &email, lockout).await?;
        }
        let lockout = here.max(shared);
        entry.action = "login.failed".into();
        if let Some(lockout) = lockout {
            entry.summary = serde_json::json!({ "locked_out_seconds": lockout.as_secs() });
        }
        if !well_formed {
            entry.summary["email"] = "not an address".into();
        }
        audit::record(&mut tx, &entry).await?;
        tx.commit().await?;
        tracing::info!(locked_out = lockout.is_some(), "sign-in refused");
        return Err(AppError::BadCredentials);
    };
    guard.succeeded(&email);
    sign_in_failures::clear(&mut tx, &email).await?;
    users::touch_last_login(&mut tx, &user).await?;
    let key = uuid::Uuid::new_v4();
    let policy = crate::server::auth::context::session_policy().await?;
    user_sessions::open(
        &mut tx,
        key,
        user.id,
        &policy,
        info.ip.as_deref(),
        info.user_agent.as_deref(),
    )
    .await?;
    entry.action = "login".into();
    entry.organization_id = user.organization_id;
    entry.actor_user_id = Some(user.id);
    entry.target_id = Some(user.id.to_string());
    audit::record(&mut tx, &entry).await?;
    tx.commit().await?;

    let session: tower_sessions::Session = leptos_axum::extract().await.map_err(|error| {
        tracing::error!(%error, "session layer missing");
        AppError::Internal
    })?;
    // a new id at sign-in: a session id planted before sign-in is worthless
    session.cycle_id().await.map_err(session_error)?;
    session
        .insert(
            USER_KEY,
            SessionUser::new(user.id, key, chrono::Utc::now().timestamp_millis()),
        )
        .await
        .map_err(session_error)?;
    leptos_axum::redirect(&safe_next(next.as_deref()));
    Ok(())
}

/// Records `action` of the caller on their own account.
#[cfg(feature = "ssr")]
async fn audit_own_account(
    caller: &crate::server::auth::Caller,
    tx: &mut crate::server::db::Tx,
    action: &str,
) -> Result<(), AppError> {
    caller
        .audit(
            tx,
            caller.user.organization_id,
            action,
            "user",
            caller.user.id.to_string(),
            serde_json::json!({}),
        )
        .await
}

/// The answer to a sign-in the guard turned away.
#[cfg(feature = "ssr")]
fn refused_sign_in(refusal: crate::server::auth::throttle::Refusal) -> AppError {
    use crate::server::auth::throttle::Refusal;
    match refusal {
        Refusal::LockedOut(wait) => {
            let seconds = wait.as_secs().max(1);
            if let Some(response) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>() {
                if let Ok(value) = http::HeaderValue::from_str(&seconds.to_string()) {
                    response.insert_header(http::header::RETRY_AFTER, value);
                }
            }
            let when = if seconds == 1 {
                "1 second".to_string()
            } else {
                format!("{seconds} seconds")
            };
            AppError::Throttled(format!("Too many failed sign-ins. Try again in {when}."))
        }
        Refusal::Busy => AppError::Busy,
    }
}

/// Changes the caller's password: the current one must be given (failures
/// count towards the sign-in lockout), the new one has at least 12
/// characters and differs from it. Clears a demand to change it, and signs
/// out the caller's other sessions.
#[server(endpoint = "change_password")]
pub async fn change_password(
    current_password: String,
    new_password: String,
) -> Result<String, AppError> {
    use crate::server::auth::password as passwords;
    use crate::server::repo::users;
    use std::time::Instant;

    let caller = crate::server::auth::require_caller().await?;
    let guard = crate::server::auth::context::sign_in_guard().await?;
    if new_password.chars().count() < 12 {
        return Err(AppError::invalid(
            "The new password needs at least 12 characters.",
        ));
    }
    if new_password.len() > 1024 || new_password.contains('\0') {
        return Err(AppError::invalid(
            "The new password is too long or holds a NUL character.",
        ));
    }
    if new_password == current_password {
        return Err(AppError::invalid(
            "The new password must differ from the current one.",
        ));
    }
    let email = caller.user.email.clone();
    let address = caller.info.ip.clone();
    guard
        .check(&email, address.as_deref(), Instant::now())
        .map_err(refused_sign_in)?;
    let new_hash = {
        let _slot = guard.hashing_slot().await.map_err(refused_sign_in)?;
        let mut tx = caller.begin().await?;
        let stored = users::password_hash(&mut tx, caller.user.id).await?;
        tx.commit().await?;
        tokio::task::spawn_blocking(move || {
            passwords::verify(&current_password, stored.as_deref())
                .then(|| passwords::hash(&new_password))
        })
        .await
        .map_err(|_| AppError::Internal)?
    };
    let mut tx = caller.begin().await?;
    let Some(new_hash) = new_hash else {
        guard.failed(&email, address.as_deref(), Instant::now());
        audit_own_account(&caller, &mut tx, "user.password_change_refused").await?;
        tx.commit().await?;
        return Err(AppError::invalid("The current password is not right."));
    };
    users::set_password(&mut tx, caller.user.id, &new_hash).await?;
    // whoever knew the old password is signed out everywhere else
    let closed = crate::server::repo::user_sessions::close_all(
        &mut tx,
        caller.user.id,
        caller.info.session_key,
    )
    .await?;
    audit_own_account(&caller, &mut tx, "user.password_change").await?;
    tx.commit().await?;
    Ok(match closed {
        0 => "Your password was changed.".to_string(),
        1 => "Your password was changed, and your 1 other session signed out.".to_string(),
        n => format!("Your password was changed, and your {n} other sessions signed out."),
    })
}

/// Signs out: the session is deleted on the server, so its cookie is useless.
#[server(endpoint = "logout")]
pub async fn logout() -> Result<(), AppError> {
    let caller = crate::server::auth::require_caller().await?;
    let session: tower_sessions::Session = leptos_axum::extract()
        .await
        .map_err(|_| AppError::Internal)?;
    session.flush().await.map_err(session_error)?;
    let mut tx = caller.begin().await?;
    if let Some(key) = caller.info.session_key {
        crate::server::repo::user_sessions::close(&mut tx, caller.user.id, key).await?;
    }
    caller
        .audit(
            &mut tx,
            caller.user.organization_id,
            "logout",
            "user",
            caller.user.id.to_string(),
            serde_json::json!({}),
        )
        .await?;
    tx.commit().await?;
    leptos_axum::redirect("/login");
    Ok(())
}

/// The signed-in user.
#[server(endpoint = "current_user")]
pub async fn fetch_current_user() -> Result<CurrentUser, AppError> {
    Ok(crate::server::auth::require_caller().await?.user)
}

#[cfg(feature = "ssr")]
fn session_error(error: tower_sessions::session::Error) -> AppError {
    tracing::error!(%error, "session store error");
    AppError::Internal
}

/// Only a path of this application is followed after sign-in (no open
/// redirects): it starts with one `/`, and has no backslash, control
/// character or whitespace (browsers drop tabs and newlines from URLs, so
/// `/\t/evil.example` would become `//evil.example`).
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(path)
            if path.starts_with('/')
                && !path.starts_with("//")
                && !path.contains('\\')
                && !path.chars().any(|c| c.is_control() || c.is_whitespace())
                && path != "/login" =>
        {
            path.to_string()
        }
        _ => "/".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn only_local_paths_are_followed() {
        assert_eq!(
            safe_next(Some("/jobs?status=failed")),
            "/jobs?status=failed"
        );
        assert_eq!(safe_next(Some("https://evil.example/")), "/");
        assert_eq!(safe_next(Some("//evil.example")), "/");
        assert_eq!(safe_next(Some("/\\evil.example")), "/");
        assert_eq!(safe_next(None), "/");
    }

    #[test]
    fn control_characters_and_whitespace_are_refused() {
        for sneaky in [
            "/\t/evil.example",
            "/\n/evil.example",
            "/ /x",
            "/jobs\r\nSet-Cookie: a=b",
        ] {
            assert_eq!(safe_next(Some(sneaky)), "/", "{sneaky:?}");
        }
    }
}
