//! Keyset pagination: lists are ordered newest first by (created_at, id) and a
//! page boundary is the last row's pair, carried in the URL as an opaque token.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Rows per page in every console list.
pub const PAGE_SIZE: i64 = 25;

/// One page of a list plus the token that fetches the next one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page<T> {
    /// The rows of this page, newest first.
    pub items: Vec<T>,
    /// Present when older rows exist.
    pub next_cursor: Option<String>,
    /// Set when a search stopped before the oldest row with less than a
    /// page: rows created at or after this time have been searched, and
    /// `next_cursor` searches further back.
    #[serde(default)]
    pub searched_to: Option<DateTime<Utc>>,
}

/// Position after which the next page starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    /// `created_at` of the last row shown.
    pub created_at: DateTime<Utc>,
    /// `id` of the last row shown (tie-breaker).
    pub id: Uuid,
}

impl Cursor {
    /// The URL-safe token form: microsecond timestamp and id.
    pub fn encode(&self) -> String {
        format!("{}~{}", self.created_at.timestamp_micros(), self.id)
    }

    /// Parses a token made by [`Cursor::encode`].
    pub fn decode(token: &str) -> Result<Self, String> {
        let invalid = || "The page link is invalid; start again from the first page.".to_string();
        let (micros, id) = token.split_once('~').ok_or_else(invalid)?;
        let micros: i64 = micros.parse().map_err(|_| invalid())?;
        let created_at = DateTime::<Utc>::from_timestamp_micros(micros)
            .filter(|at| super::forms::storable_time(*at))
            .ok_or_else(invalid)?;
        let id = Uuid::parse_str(id).map_err(|_| invalid())?;
        Ok(Cursor { created_at, id })
    }
}

/// A row of a list paged by (created_at, id): where a page ending with it
/// continues.
pub trait Listed {
    /// The position after this row.
    fn cursor(&self) -> Cursor;
}

/// Rows ordered by their own `created_at` and `id` fields.
macro_rules! listed_by_creation {
    ($($row:ty),+ $(,)?) => {
        $(impl Listed for $row {
            fn cursor(&self) -> Cursor {
                Cursor {
                    created_at: self.created_at,
                    id: self.id,
                }
            }
        })+
    };
}

listed_by_creation!(
    super::models::JobRow,
    super::models::BatchRow,
    super::models::FailedJobRow,
    super::models::ApiLogRow,
    super::models::WebhookRow,
    super::templates::TemplateRow,
    super::integrations::IntegrationRow,
    super::api_keys::ApiKeyRow,
);

impl<T> Page<T> {
    /// Builds a page from up to `PAGE_SIZE + 1` rows: the extra row only says
    /// that another page exists.
    pub fn from_rows(mut rows: Vec<T>, key: impl Fn(&T) -> Cursor) -> Self {
        let has_more = rows.len() as i64 > PAGE_SIZE;
        rows.truncate(PAGE_SIZE as usize);
        let next_cursor = if has_more {
            rows.last().map(|row| key(row).encode())
        } else {
            None
        };
        Page {
            items: rows,
            next_cursor,
            searched_to: None,
        }
    }

    /// [`Page::from_rows`] for a search that may have stopped at
    /// `searched_to` before the oldest row: a short page then continues
    /// from there.
    pub fn from_search(
        rows: Vec<T>,
        key: impl Fn(&T) -> Cursor,
        searched_to: Option<Cursor>,
    ) -> Self {
        let page = Page::from_rows(rows, key);
        match searched_to {
            Some(end) if page.next_cursor.is_none() => Page {
                next_cursor: Some(end.encode()),
                searched_to: Some(end.created_at),
                ..page
            },
            _ => page,
        }
    }
}

/// `value` percent-encoded for a URL (query values, user info): every byte
/// but unreserved ASCII becomes `%XX`.
pub fn percent_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips() {
        let cursor = Cursor {
            created_at: DateTime::<Utc>::from_timestamp_micros(1_764_000_000_123_456).unwrap(),
            id: Uuid::nil(),
        };
        assert_eq!(Cursor::decode(&cursor.encode()).unwrap(), cursor);
    }

    #[test]
    fn garbage_cursor_is_a_readable_error() {
        for token in [
            "",
            "abc",
            "12~not-a-uuid",
            "x~00000000-0000-0000-0000-000000000000",
            // a valid timestamp PostgreSQL cannot hold
            "-9000000000000000000~00000000-0000-0000-0000-000000000000",
        ] {
            let err = Cursor::decode(token).unwrap_err();
            assert!(err.contains("page link"), "{token}: {err}");
        }
    }

    #[test]
    fn a_short_search_page_continues_from_where_the_search_stopped() {
        let stopped = Cursor {
            created_at: DateTime::<Utc>::from_timestamp_micros(1_764_000_000_000_000).unwrap(),
            id: Uuid::from_u128(9),
        };
        let key = |n: &i64| Cursor {
            created_at: DateTime::<Utc>::from_timestamp_micros(1_764_000_000_000_000 + n).unwrap(),
            id: Uuid::nil(),
        };
        let short = Page::from_search(vec![3, 2], key, Some(stopped));
        assert_eq!(short.next_cursor, Some(stopped.encode()));
        assert_eq!(short.searched_to, Some(stopped.created_at));

        let full = Page::from_search((0..=PAGE_SIZE).rev().collect(), key, Some(stopped));
        assert_eq!(full.searched_to, None, "a full page is an ordinary page");
        assert_eq!(full.next_cursor, Some(key(&1).encode()));

        let last = Page::from_search(vec![1], key, None);
        assert_eq!((last.next_cursor, last.searched_to), (None, None));
    }

    #[test]
    fn extra_row_means_another_page() {
        let key = |n: &i64| Cursor {
            created_at: DateTime::<Utc>::from_timestamp_micros(*n).unwrap(),
            id: Uuid::nil(),
        };
        let full: Vec<i64> = (0..=PAGE_SIZE).collect();
        let page = Page::from_rows(full, key);
        assert_eq!(page.items.len() as i64, PAGE_SIZE);
        assert_eq!(page.next_cursor, Some(key(&(PAGE_SIZE - 1)).encode()));
        let last = Page::from_rows(vec![1, 2], key);
        assert_eq!(last.next_cursor, None);
    }
}
