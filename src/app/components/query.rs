//! The URL is the state of a list: `?org=` (bank admins), `?status=`,
//! tab-specific filters, `?cursor=`.

use crate::domain::{percent_encode as encode, ListQuery};
use leptos_router::params::ParamsMap;
use uuid::Uuid;

/// The organization a bank admin narrowed the console to.
pub fn selected_org(params: &ParamsMap) -> Option<Uuid> {
    params.get("org").and_then(|org| Uuid::parse_str(&org).ok())
}

/// The record a detail page's `:id` names, if it is an id at all.
pub fn id_param(params: &ParamsMap) -> Option<Uuid> {
    params.get("id").and_then(|id| Uuid::parse_str(&id).ok())
}

/// Parameters with a meaning of their own; every other one is a filter.
const RESERVED: [&str; 3] = ["org", "status", "cursor"];

/// The list query the URL describes.
pub fn list_query(params: &ParamsMap) -> ListQuery {
    let filters = params
        .into_iter()
        .filter(|(name, value)| !RESERVED.contains(&name.as_ref()) && !value.trim().is_empty())
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect();
    ListQuery {
        organization_id: selected_org(params),
        status: params.get("status").filter(|s| !s.is_empty()),
        cursor: params.get("cursor").filter(|c| !c.is_empty()),
        filters,
    }
}

/// `path` with `query` as its URL parameters.
pub fn query_href(path: &str, query: &ListQuery) -> String {
    let params = query.url_params();
    if params.is_empty() {
        return path.to_string();
    }
    let joined: Vec<String> = params
        .iter()
        .map(|(name, value)| format!("{}={}", encode(name), encode(value)))
        .collect();
    format!("{path}?{}", joined.join("&"))
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
    let next = ListQuery {
        cursor: Some(cursor.to_string()),
        ..query.clone()
    };
    query_href(path, &next)
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
            filters: [("q".to_string(), "loan offer".to_string())].into(),
        };
        assert_eq!(
            next_page_href("/jobs", &query, "123~abc"),
            format!("/jobs?org={org}&status=failed&q=loan%20offer&cursor=123~abc")
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
