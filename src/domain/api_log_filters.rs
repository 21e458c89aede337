//! The API logs tab's filters, as the URL carries them.

use super::forms::{check_time_range, parse_filter_time};
use super::HttpMethod;
use chrono::{DateTime, Utc};
use uuid::Uuid;

/// URL names of the API logs tab's filters.
pub const API_LOG_FILTER_NAMES: [&str; 8] = [
    "api",
    "integration",
    "method",
    "code",
    "from",
    "to",
    "job",
    "webhook",
];

/// The classes of answers the `code` filter offers, as (value, label).
pub const CODE_CLASSES: &[(&str, &str)] = &[
    ("2xx", "2xx success"),
    ("3xx", "3xx redirect"),
    ("4xx", "4xx refused"),
    ("5xx", "5xx provider error"),
    ("none", "no answer"),
];

/// The API logs tab's filters, parsed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ApiLogFilters {
    /// `api`: one API name (`sms_api`, `smtp`, …).
    pub api_name: Option<String>,
    /// `integration`: calls through one integration.
    pub integration_id: Option<Uuid>,
    /// `method`.
    pub method: Option<HttpMethod>,
    /// `code`: the answer's class — its first digit (2 to 5), or 0 for no
    /// answer at all.
    pub code_class: Option<u16>,
    /// `from`: made at or after.
    pub created_from: Option<DateTime<Utc>>,
    /// `to`: made before.
    pub created_to: Option<DateTime<Utc>>,
    /// `job`: the calls of one job.
    pub job_id: Option<Uuid>,
    /// `webhook`: the delivery attempts to one webhook.
    pub webhook_id: Option<Uuid>,
}

impl ApiLogFilters {
    /// Parses the URL filters; the error names the bad one.
    pub fn parse(filters: &std::collections::BTreeMap<String, String>) -> Result<Self, String> {
        let mut parsed = ApiLogFilters::default();
        let id = |value: &str, what: &str| {
            Uuid::parse_str(value).map_err(|_| format!("The {what} filter must be an id."))
        };
        for (name, value) in filters {
            let value = value.trim();
            if value.is_empty() {
                continue;
            }
            match name.as_str() {
                "api" if value.chars().count() <= 255 && !value.chars().any(char::is_control) => {
                    parsed.api_name = Some(value.to_string())
                }
                "api" => return Err("The API name is at most 255 characters.".into()),
                "integration" => parsed.integration_id = Some(id(value, "integration")?),
                "job" => parsed.job_id = Some(id(value, "job")?),
                "webhook" => parsed.webhook_id = Some(id(value, "webhook")?),
                "method" => {
                    parsed.method = Some(
                        HttpMethod::parse(value)
                            .ok_or_else(|| format!("Unknown method {value:?}."))?,
                    )
                }
                "code" => {
                    parsed.code_class = Some(match value {
                        "2xx" => 2,
                        "3xx" => 3,
                        "4xx" => 4,
                        "5xx" => 5,
                        "none" => 0,
                        _ => return Err(format!("Unknown answer class {value:?}.")),
                    })
                }
                "from" => parsed.created_from = Some(parse_filter_time(value)?),
                "to" => parsed.created_to = Some(parse_filter_time(value)?),
                other => return Err(format!("Unknown filter {other:?}.")),
            }
        }
        check_time_range(parsed.created_from, parsed.created_to)?;
        Ok(parsed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filters(pairs: &[(&str, &str)]) -> std::collections::BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn every_api_log_filter_parses() {
        let parsed = ApiLogFilters::parse(&filters(&[
            ("api", "sms_api"),
            ("integration", "00000000-0000-0000-0000-000000000001"),
            ("method", "POST"),
            ("code", "4xx"),
            ("from", "2026-11-01T00:00"),
            ("job", "00000000-0000-0000-0000-000000000002"),
        ]))
        .unwrap();
        assert_eq!(parsed.api_name.as_deref(), Some("sms_api"));
        assert_eq!(parsed.method, Some(HttpMethod::Post));
        assert_eq!(parsed.code_class, Some(4));
        assert_eq!(parsed.job_id, Some(Uuid::from_u128(2)));
    }

    #[test]
    fn bad_api_log_filters_are_named() {
        for (pair, expected) in [
            (("code", "6xx"), "Unknown answer class \"6xx\"."),
            (("method", "FETCH"), "Unknown method \"FETCH\"."),
            (("job", "12"), "The job filter must be an id."),
            (("status_code", "200"), "Unknown filter \"status_code\"."),
        ] {
            assert_eq!(
                ApiLogFilters::parse(&filters(&[pair])).unwrap_err(),
                expected
            );
        }
    }
}
