//! The Overview's metrics: periods, the figures per job type and per API,
//! and percentiles read from the logarithmic buckets the server keeps
//! (migrations/0016_overview_statistics.sql, `timing_bucket`).

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// The span of time the Overview's metrics cover.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Period {
    /// The last hour, by minute.
    Hour,
    /// The last 24 hours, by hour.
    #[default]
    Day,
    /// The last 7 days, by six hours.
    Week,
    /// The last 30 days, by day (UTC).
    Month,
}

impl Period {
    /// Every period, shortest first.
    pub const ALL: [Period; 4] = [Period::Hour, Period::Day, Period::Week, Period::Month];

    /// The form in URLs (`?period=24h`).
    pub fn as_str(self) -> &'static str {
        match self {
            Period::Hour => "1h",
            Period::Day => "24h",
            Period::Week => "7d",
            Period::Month => "30d",
        }
    }

    /// Reads the URL form; `None` for anything else.
    pub fn parse(text: &str) -> Option<Period> {
        Period::ALL.into_iter().find(|p| p.as_str() == text)
    }

    /// How a person names it.
    pub fn label(self) -> &'static str {
        match self {
            Period::Hour => "Last hour",
            Period::Day => "Last 24 hours",
            Period::Week => "Last 7 days",
            Period::Month => "Last 30 days",
        }
    }

    /// How far back it reaches.
    pub fn span(self) -> Duration {
        match self {
            Period::Hour => Duration::hours(1),
            Period::Day => Duration::hours(24),
            Period::Week => Duration::days(7),
            Period::Month => Duration::days(30),
        }
    }

    /// The width of one point of its throughput chart.
    pub fn step(self) -> Duration {
        match self {
            Period::Hour => Duration::minutes(1),
            Period::Day => Duration::hours(1),
            Period::Week => Duration::hours(6),
            Period::Month => Duration::days(1),
        }
    }

    /// The statistics rows it reads: minutes, hours or days (their
    /// `period_seconds`), so every period reads a few thousand rows.
    pub fn granularity_seconds(self) -> i32 {
        match self {
            Period::Hour => 60,
            Period::Day | Period::Week => 3600,
            Period::Month => 86_400,
        }
    }

    /// The first instant it covers when it ends at `now`: the start of the
    /// step that holds `now - span`, so every point covers a whole step.
    pub fn start(self, now: DateTime<Utc>) -> DateTime<Utc> {
        let step = self.step().num_seconds();
        let from = (now - self.span()).timestamp();
        DateTime::from_timestamp(from - from.rem_euclid(step), 0).unwrap_or(now)
    }
}

/// Jobs that ended in one step of the throughput chart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThroughputPoint {
    /// Start of the step.
    pub at: DateTime<Utc>,
    pub completed: i64,
    pub failed: i64,
}

/// One job type's figures over the period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TypeMetrics {
    pub job_type: crate::domain::JobType,
    /// Jobs that ended completed / failed / cancelled.
    pub completed: i64,
    pub failed: i64,
    pub cancelled: i64,
    /// Failed attempts after which the job ran again.
    pub retried: i64,
    /// Queue wait (available → started) and run time (started →
    /// finished), p50 and p95, in milliseconds.
    pub wait_p50_ms: Option<f64>,
    pub wait_p95_ms: Option<f64>,
    pub run_p50_ms: Option<f64>,
    pub run_p95_ms: Option<f64>,
}

impl TypeMetrics {
    /// A type with nothing counted yet.
    pub fn new(job_type: crate::domain::JobType) -> Self {
        TypeMetrics {
            job_type,
            completed: 0,
            failed: 0,
            cancelled: 0,
            retried: 0,
            wait_p50_ms: None,
            wait_p95_ms: None,
            run_p50_ms: None,
            run_p95_ms: None,
        }
    }

    /// Jobs that ended.
    pub fn ended(&self) -> i64 {
        self.completed + self.failed + self.cancelled
    }

    /// Share of ended jobs that completed, 0–1.
    pub fn completion_rate(&self) -> Option<f64> {
        share(self.completed, self.ended())
    }

    /// Share of ended jobs that failed, 0–1.
    pub fn failure_rate(&self) -> Option<f64> {
        share(self.failed, self.ended())
    }
}

/// One API's calls over the period.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ApiMetrics {
    pub api_name: String,
    pub succeeded: i64,
    pub failed: i64,
    pub timed_out: i64,
    pub response_p50_ms: Option<f64>,
    pub response_p95_ms: Option<f64>,
}

impl ApiMetrics {
    /// Calls that ended.
    pub fn calls(&self) -> i64 {
        self.succeeded + self.failed + self.timed_out
    }

    /// Share that succeeded, 0–1.
    pub fn success_rate(&self) -> Option<f64> {
        share(self.succeeded, self.calls())
    }
}

/// Unresolved failures by how long they have waited for someone.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FailureAges {
    pub under_an_hour: i64,
    pub under_a_day: i64,
    pub under_a_week: i64,
    pub older: i64,
}

/// `part / whole`, or `None` when there is no whole.
pub fn share(part: i64, whole: i64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

/// Buckets of the server's timing scale.
pub const TIMING_BUCKETS: usize = 64;

/// Lower and upper bound (ms) of bucket `bucket`: bucket 0 is [0, 1), bucket
/// i ≥ 1 is [2^((i-1)/2), 2^(i/2)).
pub fn bucket_bounds(bucket: usize) -> (f64, f64) {
    if bucket == 0 {
        return (0.0, 1.0);
    }
    let i = bucket as f64;
    (2f64.powf((i - 1.0) / 2.0), 2f64.powf(i / 2.0))
}

/// The bucket of `ms` milliseconds, as the server's `timing_bucket`
/// computes it (migrations/0016_overview_statistics.sql).
pub fn timing_bucket(ms: f64) -> i16 {
    if ms.is_nan() || ms < 1.0 {
        return 0;
    }
    (1.0 + (2.0 * ms.log2()).floor()).min(63.0) as i16
}

/// The `quantile` (0–1) of the samples counted in `counts` (per bucket),
/// estimated as the geometric middle of the bucket it falls in (within
/// ±19 % of the true value); `None` without samples.
pub fn percentile(counts: &[i64], quantile: f64) -> Option<f64> {
    let total: i64 = counts.iter().sum();
    if total <= 0 {
        return None;
    }
    // the rank of the sample sought, 1-based
    let rank = ((quantile.clamp(0.0, 1.0) * total as f64).ceil() as i64).max(1);
    let mut seen = 0;
    for (bucket, count) in counts.iter().enumerate() {
        seen += count;
        if seen >= rank {
            let (low, high) = bucket_bounds(bucket);
            return Some(if bucket == 0 {
                0.5
            } else {
                (low * high).sqrt()
            });
        }
    }
    None
}

/// A count as people read it: "1200", or "about 1200" when it was estimated
/// (a long backlog counted from its queue entries).
pub fn format_count(count: i64, estimated: bool) -> String {
    if estimated {
        format!("about {count}")
    } else {
        count.to_string()
    }
}

/// Formats milliseconds for people: "840 ms", "2.4 s", "3.1 min", "2.0 h".
pub fn format_ms(ms: f64) -> String {
    if ms < 1.0 {
        "< 1 ms".to_string()
    } else if ms < 1_000.0 {
        format!("{ms:.0} ms")
    } else if ms < 60_000.0 {
        format!("{:.1} s", ms / 1_000.0)
    } else if ms < 3_600_000.0 {
        format!("{:.1} min", ms / 60_000.0)
    } else {
        format!("{:.1} h", ms / 3_600_000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_read_back_from_their_url_form() {
        for period in Period::ALL {
            assert_eq!(Period::parse(period.as_str()), Some(period));
        }
        assert_eq!(Period::parse("2d"), None);
    }

    #[test]
    fn a_period_starts_on_a_whole_step() {
        let now = DateTime::parse_from_rfc3339("2026-12-02T10:07:31Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            Period::Day.start(now).to_rfc3339(),
            "2026-12-01T10:00:00+00:00"
        );
        assert_eq!(
            Period::Month.start(now).to_rfc3339(),
            "2026-11-02T00:00:00+00:00"
        );
        assert_eq!(
            Period::Hour.start(now).to_rfc3339(),
            "2026-12-02T09:07:00+00:00"
        );
    }

    #[test]
    fn percentiles_land_in_the_bucket_of_the_ranked_sample() {
        let mut counts = vec![0i64; TIMING_BUCKETS];
        // 90 samples around 300 ms (bucket 17: [256, 362)), 10 around 3 s
        // (bucket 24: [2896, 4096))
        counts[17] = 90;
        counts[24] = 10;
        let p50 = percentile(&counts, 0.5).unwrap();
        assert!((256.0..362.0).contains(&p50), "{p50}");
        let p95 = percentile(&counts, 0.95).unwrap();
        assert!((2896.0..4096.0).contains(&p95), "{p95}");
        assert_eq!(percentile(&[0; 4], 0.5), None);
    }

    #[test]
    fn a_duration_falls_in_the_bucket_whose_bounds_hold_it() {
        for ms in [0.2, 1.0, 1.5, 7.0, 300.0, 12_345.0, 86_400_000.0] {
            let bucket = timing_bucket(ms) as usize;
            let (low, high) = bucket_bounds(bucket);
            assert!(
                low <= ms && ms < high,
                "{ms} ms in bucket {bucket} [{low}, {high})"
            );
        }
        assert_eq!(timing_bucket(1e15), 63);
    }

    #[test]
    fn rates_need_something_that_ended() {
        let none = TypeMetrics::new(crate::domain::JobType::Email);
        assert_eq!(none.completion_rate(), None);
        let some = TypeMetrics {
            completed: 3,
            failed: 1,
            ..none
        };
        assert_eq!(some.completion_rate(), Some(0.75));
        assert_eq!(some.failure_rate(), Some(0.25));
    }

    #[test]
    fn estimated_counts_say_so() {
        assert_eq!(format_count(1200, false), "1200");
        assert_eq!(format_count(1200, true), "about 1200");
    }

    #[test]
    fn durations_read_in_the_unit_that_fits() {
        assert_eq!(format_ms(0.4), "< 1 ms");
        assert_eq!(format_ms(840.0), "840 ms");
        assert_eq!(format_ms(2_400.0), "2.4 s");
        assert_eq!(format_ms(186_000.0), "3.1 min");
    }
}
