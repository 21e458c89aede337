//! API monitoring: how the third-party calls of one API, one integration or
//! all of them went over a period — counts, success rate, response-time
//! percentiles, the most frequent errors and answers — per step of time.

use super::metrics::{share, Period};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// What the monitoring view is narrowed to (all calls in scope when empty).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MonitoringScope {
    /// A bank admin's chosen organization.
    pub organization_id: Option<Uuid>,
    /// One API name (`sms_api`, `smtp`, …).
    pub api_name: Option<String>,
    /// One integration.
    pub integration_id: Option<Uuid>,
    /// One webhook's delivery attempts.
    pub webhook_id: Option<Uuid>,
}

impl MonitoringScope {
    /// Checks the narrowing as a person typed it into the URL.
    pub fn validate(&self) -> Result<(), String> {
        if let Some(api) = &self.api_name {
            if api.chars().count() > 255 || api.chars().any(char::is_control) {
                return Err(
                    "The API name is at most 255 characters, without control characters.".into(),
                );
            }
        }
        Ok(())
    }
}

/// How the calls of a group ended, and how long the finished ones took.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CallFigures {
    /// Calls that succeeded.
    pub succeeded: i64,
    /// Calls the provider refused or that failed to connect.
    pub failed: i64,
    /// Calls that got no answer in time.
    pub timed_out: i64,
    /// Calls still waiting for their answer (or cut short by a crash).
    pub pending: i64,
    /// Response time percentiles of the calls that ended, in milliseconds.
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub p99_ms: Option<f64>,
}

impl CallFigures {
    /// Calls that ended (pending ones are not counted in rates).
    pub fn ended(&self) -> i64 {
        self.succeeded + self.failed + self.timed_out
    }

    /// Every call made, ended or not.
    pub fn made(&self) -> i64 {
        self.ended() + self.pending
    }

    /// Share of the ended calls that succeeded, 0–1.
    pub fn success_rate(&self) -> Option<f64> {
        share(self.succeeded, self.ended())
    }
}

/// One step of the period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallPoint {
    /// Start of the step.
    pub at: DateTime<Utc>,
    /// Its calls.
    pub figures: CallFigures,
}

/// One API's or one integration's share of the calls.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallGroup {
    /// The API name, or the integration's name (with its organization's
    /// when every organization's calls are counted; "No integration" for
    /// calls made without one or through one deleted since).
    pub label: String,
    /// The integration, when the group is one.
    pub integration_id: Option<Uuid>,
    /// Its calls.
    pub figures: CallFigures,
}

/// How often one thing (an error message, an answer code) occurred.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Occurrence<T> {
    /// What occurred.
    pub value: T,
    /// How many calls.
    pub count: i64,
}

/// The monitoring view's figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiMonitoring {
    /// The span covered.
    pub period: Period,
    /// Its first instant (the first point's start).
    pub since: DateTime<Utc>,
    /// What it is narrowed to.
    pub scope: MonitoringScope,
    /// The narrowed integration's name, when there is one.
    pub integration_name: Option<String>,
    /// The narrowed webhook's name, when there is one.
    pub webhook_name: Option<String>,
    /// Every call of the period together.
    pub totals: CallFigures,
    /// One point per step, steps without calls included.
    pub points: Vec<CallPoint>,
    /// Per API name, most calls first.
    pub by_api: Vec<CallGroup>,
    /// Per integration, most calls first.
    pub by_integration: Vec<CallGroup>,
    /// The most frequent error messages.
    pub top_errors: Vec<Occurrence<String>>,
    /// The most frequent answers (`None`: no answer at all).
    pub top_codes: Vec<Occurrence<Option<i32>>>,
}

/// How many error messages and answer codes the view lists.
pub const TOP_ERRORS: i64 = 5;
/// See [`TOP_ERRORS`].
pub const TOP_CODES: i64 = 8;

/// Puts each step's figures in place, one point per step from `since`
/// (steps without calls get empty figures), so a chart shows gaps as zero
/// rather than joining distant points.
pub fn fill_steps(
    period: Period,
    since: DateTime<Utc>,
    now: DateTime<Utc>,
    steps: Vec<CallPoint>,
) -> Vec<CallPoint> {
    let step = period.step();
    let mut by_start: std::collections::HashMap<DateTime<Utc>, CallFigures> =
        steps.into_iter().map(|p| (p.at, p.figures)).collect();
    let mut points = Vec::new();
    let mut at = since;
    while at <= now {
        points.push(CallPoint {
            at,
            figures: by_start.remove(&at).unwrap_or_default(),
        });
        at += step;
    }
    points
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn figures(succeeded: i64) -> CallFigures {
        CallFigures {
            succeeded,
            ..CallFigures::default()
        }
    }

    #[test]
    fn steps_without_calls_are_filled_with_empty_figures() {
        let now = Utc.with_ymd_and_hms(2026, 12, 2, 10, 30, 0).unwrap();
        let since = Period::Hour.start(now);
        let busy = since + Period::Hour.step() * 3;
        let points = fill_steps(
            Period::Hour,
            since,
            now,
            vec![CallPoint {
                at: busy,
                figures: figures(4),
            }],
        );
        assert_eq!(points.len(), 61);
        assert_eq!(points[0].at, since);
        assert_eq!(points[3].figures.succeeded, 4);
        assert_eq!(points.iter().map(|p| p.figures.succeeded).sum::<i64>(), 4);
    }

    #[test]
    fn the_success_rate_leaves_pending_calls_out() {
        let f = CallFigures {
            succeeded: 3,
            failed: 1,
            pending: 6,
            ..CallFigures::default()
        };
        assert_eq!(f.success_rate(), Some(0.75));
        assert_eq!(f.made(), 10);
        assert_eq!(CallFigures::default().success_rate(), None);
    }

    #[test]
    fn an_api_name_with_control_characters_is_refused() {
        let scope = MonitoringScope {
            api_name: Some("sms\u{0}".into()),
            ..MonitoringScope::default()
        };
        assert_eq!(
            scope.validate(),
            Err("The API name is at most 255 characters, without control characters.".into())
        );
    }
}
