//! Timestamps render the same on server and browser (UTC), so hydration matches.

use chrono::{DateTime, Utc};

/// `2026-11-29 14:05 UTC`.
pub fn format_time(at: &DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// Like [`format_time`], or a dash.
pub fn format_optional(at: &Option<DateTime<Utc>>) -> String {
    at.as_ref()
        .map(format_time)
        .unwrap_or_else(|| "—".to_string())
}
