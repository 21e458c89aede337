//! What the session stores about a signed-in user, and the session layer.

use serde::{Deserialize, Serialize};
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};
use tower_sessions_sqlx_store::PostgresStore;
use uuid::Uuid;

use std::time::Duration;

/// Session key under which [`SessionUser`] is stored.
pub const USER_KEY: &str = "user";

/// How long sessions live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionPolicy {
    /// A session unused this long is gone; every use extends it.
    pub idle: Duration,
    /// Sign in again after this long, however active.
    pub absolute: Duration,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        SessionPolicy {
            idle: Duration::from_secs(30 * 60),
            absolute: Duration::from_secs(12 * 3600),
        }
    }
}

impl SessionPolicy {
    /// How often an active session is saved to extend its idle expiry: a
    /// thirtieth of the idle timeout, at most a minute (so a session is not
    /// written on every request, and never loses more than that of its idle
    /// time).
    pub fn touch_every(&self) -> Duration {
        (self.idle / 30).min(Duration::from_secs(60))
    }
}

/// The signed-in user as the session remembers them. Times are Unix
/// milliseconds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionUser {
    /// User id.
    pub user_id: Uuid,
    /// When they signed in, for the absolute timeout.
    pub signed_in_at: i64,
    /// When the session was last saved because of activity.
    #[serde(default)]
    pub seen_at: i64,
    /// The session's row in `user_sessions`; a record without one (written
    /// before sessions were listed) is signed out.
    #[serde(default)]
    pub key: Option<Uuid>,
}

impl SessionUser {
    /// Session `key` of `user_id`, signed in at `now`.
    pub fn new(user_id: Uuid, key: Uuid, now: i64) -> Self {
        SessionUser {
            user_id,
            signed_in_at: now,
            seen_at: now,
            key: Some(key),
        }
    }

    /// Whether the absolute session lifetime is over at `now`.
    pub fn expired(&self, now: i64, policy: &SessionPolicy) -> bool {
        now - self.signed_in_at > policy.absolute.as_millis() as i64
    }

    /// Whether activity at `now` should be saved to extend the idle expiry.
    pub fn needs_touch(&self, now: i64, policy: &SessionPolicy) -> bool {
        now - self.seen_at >= policy.touch_every().as_millis() as i64
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

/// The session layer: sessions in PostgreSQL, HttpOnly, SameSite=Strict,
/// expiring after `policy.idle` without a save.
pub fn layer(
    store: PostgresStore,
    secure: bool,
    policy: &SessionPolicy,
) -> SessionManagerLayer<PostgresStore> {
    let idle = tower_sessions::cookie::time::Duration::milliseconds(
        policy.idle.as_millis().min(i64::MAX as u128) as i64,
    );
    SessionManagerLayer::new(store)
        .with_name(cookie_name(secure))
        .with_secure(secure)
        .with_http_only(true)
        .with_same_site(SameSite::Strict)
        .with_path("/")
        .with_expiry(Expiry::OnInactivity(idle))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_timeout_applies_after_twelve_hours() {
        let policy = SessionPolicy::default();
        let user = SessionUser::new(Uuid::nil(), Uuid::nil(), 1_000);
        assert!(!user.expired(1_000 + 3_600_000, &policy));
        assert!(user.expired(1_000 + 12 * 3_600_000 + 1, &policy));
    }

    #[test]
    fn activity_is_saved_at_most_once_a_minute() {
        let policy = SessionPolicy::default();
        assert_eq!(policy.touch_every(), Duration::from_secs(60));
        let user = SessionUser::new(Uuid::nil(), Uuid::nil(), 0);
        assert!(!user.needs_touch(59_999, &policy));
        assert!(user.needs_touch(60_000, &policy));
        let short = SessionPolicy {
            idle: Duration::from_secs(3),
            ..policy
        };
        assert_eq!(short.touch_every(), Duration::from_millis(100));
    }

    #[test]
    fn records_from_before_seen_at_still_decode() {
        let old: SessionUser = serde_json::from_str(&format!(
            r#"{{"user_id":"{}","signed_in_at":5}}"#,
            Uuid::nil()
        ))
        .unwrap();
        assert_eq!((old.signed_in_at, old.seen_at, old.key), (5, 0, None));
    }

    #[test]
    fn secure_cookies_use_the_host_prefix() {
        assert_eq!(cookie_name(true), "__Host-veriphy_session");
        assert_eq!(cookie_name(false), "veriphy_session");
    }
}
