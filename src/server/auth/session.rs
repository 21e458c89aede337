//! What the session stores about a signed-in user, and the session layer.

use serde::{Deserialize, Serialize};
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};
use tower_sessions_sqlx_store::PostgresStore;
use uuid::Uuid;

/// Session key under which [`SessionUser`] is stored.
pub const USER_KEY: &str = "user";
/// Idle timeout: a session unused this long is gone.
pub const IDLE_TIMEOUT_MINUTES: i64 = 30;
/// Absolute timeout: sign in again after this long, however active.
pub const ABSOLUTE_TIMEOUT_HOURS: i64 = 12;

/// The signed-in user as the session remembers them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionUser {
    /// User id.
    pub user_id: Uuid,
    /// Unix time of sign-in, for the absolute timeout.
    pub signed_in_at: i64,
}

impl SessionUser {
    /// Whether the absolute session lifetime is over.
    pub fn expired(&self, now: i64) -> bool {
        now - self.signed_in_at > ABSOLUTE_TIMEOUT_HOURS * 3600
    }
}

/// Cookie name: the `__Host-` prefix (which needs Secure) over https.
pub fn cookie_name(secure: bool) -> &'static str {
    if secure {
        "__Host-veriphy_session"
    } else {
        "veriphy_session"
    }
}

/// The session layer: sessions in PostgreSQL, HttpOnly, SameSite=Strict.
pub fn layer(store: PostgresStore, secure: bool) -> SessionManagerLayer<PostgresStore> {
    SessionManagerLayer::new(store)
        .with_name(cookie_name(secure))
        .with_secure(secure)
        .with_http_only(true)
        .with_same_site(SameSite::Strict)
        .with_path("/")
        .with_expiry(Expiry::OnInactivity(
            tower_sessions::cookie::time::Duration::minutes(IDLE_TIMEOUT_MINUTES),
        ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_timeout_applies_after_twelve_hours() {
        let user = SessionUser {
            user_id: Uuid::nil(),
            signed_in_at: 1_000,
        };
        assert!(!user.expired(1_000 + 3600));
        assert!(user.expired(1_000 + ABSOLUTE_TIMEOUT_HOURS * 3600 + 1));
    }

    #[test]
    fn secure_cookies_use_the_host_prefix() {
        assert_eq!(cookie_name(true), "__Host-veriphy_session");
        assert_eq!(cookie_name(false), "veriphy_session");
    }
}
