//! API keys: how another system (the bank's case system) publishes events
//! for one organization.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The prefix every key starts with.
pub const KEY_PREFIX: &str = "vjk_";

/// One key as the console lists it: never the key itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct ApiKeyRow {
    /// Its id.
    pub id: Uuid,
    /// Whose.
    pub organization_id: Uuid,
    /// That organization's name.
    pub organization_name: String,
    /// What it is for.
    pub name: String,
    /// Its first characters, to tell keys apart.
    pub prefix: String,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When it last published.
    pub last_used_at: Option<DateTime<Utc>>,
    /// When it was revoked (it publishes nothing since).
    pub revoked_at: Option<DateTime<Utc>>,
}

/// Checks a key's name as typed; the trimmed name.
pub fn valid_name(name: &str) -> Result<String, String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err("A key needs a name of at most 100 characters.".into());
    }
    Ok(name.to_string())
}
