//! When a failed attempt runs again: exponential backoff with full jitter,
//! capped, so retries of many jobs failing together spread out.

use std::time::Duration;

/// Backoff settings.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Delay ceiling before the first retry.
    pub base: Duration,
    /// No retry waits longer than this.
    pub cap: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            base: Duration::from_secs(2),
            cap: Duration::from_secs(15 * 60),
        }
    }
}

impl RetryPolicy {
    /// The ceiling for the retry after attempt number `attempt` (1-based):
    /// `base * 2^(attempt-1)`, at most `cap`.
    pub fn ceiling(&self, attempt: i32) -> Duration {
        let exponent = attempt.clamp(1, 31) as u32 - 1;
        let factor = 1u64 << exponent.min(30);
        let millis = (self.base.as_millis() as u64).saturating_mul(factor);
        Duration::from_millis(millis).min(self.cap)
    }

    /// The delay after attempt `attempt`: half the ceiling plus a random part
    /// of the other half (`unit` in 0..1), so retries never bunch at zero.
    pub fn delay(&self, attempt: i32, unit: f64) -> Duration {
        let ceiling = self.ceiling(attempt).as_secs_f64();
        let unit = unit.clamp(0.0, 1.0);
        Duration::from_secs_f64(ceiling * (0.5 + 0.5 * unit))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceiling_doubles_per_attempt_until_the_cap() {
        let policy = RetryPolicy {
            base: Duration::from_secs(1),
            cap: Duration::from_secs(60),
        };
        assert_eq!(policy.ceiling(1), Duration::from_secs(1));
        assert_eq!(policy.ceiling(2), Duration::from_secs(2));
        assert_eq!(policy.ceiling(5), Duration::from_secs(16));
        assert_eq!(policy.ceiling(7), Duration::from_secs(60));
        assert_eq!(policy.ceiling(100), Duration::from_secs(60));
    }

    #[test]
    fn delay_stays_between_half_and_the_whole_ceiling() {
        let policy = RetryPolicy::default();
        for attempt in 1..12 {
            let ceiling = policy.ceiling(attempt);
            assert_eq!(policy.delay(attempt, 0.0), ceiling / 2);
            assert_eq!(policy.delay(attempt, 1.0), ceiling);
            let middle = policy.delay(attempt, 0.5);
            assert!(middle > ceiling / 2 && middle < ceiling);
        }
    }

    #[test]
    fn odd_attempt_numbers_do_not_panic() {
        let policy = RetryPolicy::default();
        assert_eq!(policy.ceiling(0), policy.base);
        assert_eq!(policy.ceiling(-3), policy.base);
        assert_eq!(policy.delay(3, 7.0), policy.ceiling(3));
    }
}
