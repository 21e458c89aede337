//! The URL is the state of a list: `?org=` (bank admins), `?status=`, `?cursor=`.

use crate::domain::ListQuery;
use leptos_router::params::ParamsMap;
use uuid::Uuid;

/// The organization a bank admin narrowed the console to.
pub fn selected_org(params: &ParamsMap) -> Option<Uuid> {
    params.get("org").and_then(|org| Uuid::parse_str(&org).ok())
}

/// The list query the URL describes.
pub fn list_query(params: &ParamsMap) -> ListQuery {
    ListQuery {
        organization_id: selected_org(params),
        status: params.get("status").filter(|s| !s.is_empty()),
        cursor: params.get("cursor").filter(|c| !c.is_empty()),
    }
}

/// `path` keeping the organization filter.
pub fn href_with_org(path: &str, org: Option<Uuid>) -> String {
    match org {
        Some(org) => format!("{path}?org={org}"),
        None => path.to_string(),
    }
}

/// The link to the page after `cursor`, keeping the other filters.
pub fn next_page_href(path: &str, query: &ListQuery, cursor: &str) -> String {
    let mut parts = Vec::new();
    if let Some(org) = query.organization_id {
        parts.push(format!("org={org}"));
    }
    if let Some(status) = &query.status {
        parts.push(format!("status={}", encode(status)));
    }
    parts.push(format!("cursor={}", encode(cursor)));
    format!("{path}?{}", parts.join("&"))
}

/// Percent-encodes a query value.
pub fn encode(value: &str) -> String {
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
    fn next_page_keeps_filters() {
        let org = Uuid::nil();
        let query = ListQuery {
            organization_id: Some(org),
            status: Some("failed".into()),
            cursor: None,
        };
        assert_eq!(
            next_page_href("/jobs", &query, "123~abc"),
            format!("/jobs?org={org}&status=failed&cursor=123~abc")
        );
    }

    #[test]
    fn org_is_kept_on_tab_links() {
        assert_eq!(href_with_org("/jobs", None), "/jobs");
        assert_eq!(
            href_with_org("/", Some(Uuid::nil())),
            format!("/?org={}", Uuid::nil())
        );
    }
}
