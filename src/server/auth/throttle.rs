//! Sign-in under abuse: password hashing is bounded (a few at a time, so a
//! flood of sign-ins cannot take every core or database connection), and
//! repeated failures slow down an account and a client address with growing
//! lockouts. Counts live in this process's memory: a flood is turned away
//! before it costs a database round trip.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::sync::{Semaphore, SemaphorePermit};

/// When failures start to cost time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottlePolicy {
    /// Failures of one account allowed before lockouts begin.
    pub free_per_account: u32,
    /// Failures from one client address allowed before lockouts begin (an
    /// office behind one address has many people).
    pub free_per_address: u32,
    /// The first lockout; each further failure doubles it.
    pub first_lockout: Duration,
    /// The longest lockout.
    pub longest_lockout: Duration,
    /// A record with no failure for this long is forgotten.
    pub forget_after: Duration,
    /// Hashes computed at once.
    pub hashing_slots: usize,
    /// How long a sign-in waits for a hashing slot before "busy".
    pub hashing_wait: Duration,
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        ThrottlePolicy {
            free_per_account: 5,
            free_per_address: 20,
            first_lockout: Duration::from_secs(2),
            longest_lockout: Duration::from_secs(15 * 60),
            forget_after: Duration::from_secs(30 * 60),
            hashing_slots: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2)
                .max(2),
            hashing_wait: Duration::from_secs(5),
        }
    }
}

/// Most records kept: beyond it the oldest are dropped (a flood of made-up
/// emails cannot grow memory without bound).
const MAX_RECORDS: usize = 100_000;

/// Whose failures are counted.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Subject {
    Account(String),
    Address(String),
}

#[derive(Debug, Clone, Copy)]
struct Record {
    failures: u32,
    last_failure: Instant,
    locked_until: Option<Instant>,
}

/// Why a sign-in may not go ahead now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Too many failures: try again after this long.
    LockedOut(Duration),
    /// Every hashing slot stayed busy.
    Busy,
}

/// The sign-in guard of one server process.
#[derive(Debug)]
pub struct SignInGuard {
    policy: ThrottlePolicy,
    records: Mutex<HashMap<Subject, Record>>,
    hashing: Semaphore,
}

impl Default for SignInGuard {
    fn default() -> Self {
        SignInGuard::new(ThrottlePolicy::default())
    }
}

impl SignInGuard {
    /// A guard with `policy`.
    pub fn new(policy: ThrottlePolicy) -> Self {
        SignInGuard {
            hashing: Semaphore::new(policy.hashing_slots.max(1)),
            policy,
            records: Mutex::new(HashMap::new()),
        }
    }

    fn subjects(email: &str, address: Option<&str>) -> Vec<Subject> {
        let mut subjects = vec![Subject::Account(email.to_string())];
        if let Some(address) = address {
            subjects.push(Subject::Address(address.to_string()));
        }
        subjects
    }

    /// Whether `email` from `address` may try now; the wait otherwise.
    pub fn check(&self, email: &str, address: Option<&str>, now: Instant) -> Result<(), Refusal> {
        let records = self.records.lock().expect("throttle lock");
        let wait = Self::subjects(email, address)
            .iter()
            .filter_map(|subject| records.get(subject)?.locked_until)
            .filter(|until| *until > now)
            .map(|until| until - now)
            .max();
        match wait {
            Some(wait) => Err(Refusal::LockedOut(wait)),
            None => Ok(()),
        }
    }

    /// Counts a failed sign-in; returns the lockout it starts, if any.
    pub fn failed(&self, email: &str, address: Option<&str>, now: Instant) -> Option<Duration> {
        let mut records = self.records.lock().expect("throttle lock");
        if records.len() >= MAX_RECORDS {
            let forget_after = self.policy.forget_after;
            records.retain(|_, r| now.duration_since(r.last_failure) < forget_after);
            if records.len() >= MAX_RECORDS {
                records.clear();
            }
        }
        let mut longest = None;
        for subject in Self::subjects(email, address) {
            let free = match subject {
                Subject::Account(_) => self.policy.free_per_account,
                Subject::Address(_) => self.policy.free_per_address,
            };
            let record = records.entry(subject).or_insert(Record {
                failures: 0,
                last_failure: now,
                locked_until: None,
            });
            if now.duration_since(record.last_failure) >= self.policy.forget_after {
                record.failures = 0;
            }
            record.failures += 1;
            record.last_failure = now;
            if let Some(lockout) = self.lockout_after(record.failures, free) {
                record.locked_until = Some(now + lockout);
                longest = longest.max(Some(lockout));
            }
        }
        longest
    }

    /// A successful sign-in clears its account's failures (not its
    /// address's: one success does not excuse a flood from there).
    pub fn succeeded(&self, email: &str) {
        self.records
            .lock()
            .expect("throttle lock")
            .remove(&Subject::Account(email.to_string()));
    }

    /// The lockout an account has earned after `failures` failures, by
    /// this guard's policy (for counts kept elsewhere: the nodes' shared
    /// record).
    pub fn account_lockout_after(&self, failures: u32) -> Option<Duration> {
        self.lockout_after(failures, self.policy.free_per_account)
    }

    /// After how long without a failure an account's failures are forgotten.
    pub fn forget_after(&self) -> Duration {
        self.policy.forget_after
    }

    /// The lockout after `failures` failures when `free` are allowed.
    fn lockout_after(&self, failures: u32, free: u32) -> Option<Duration> {
        if failures <= free {
            return None;
        }
        let doubling = (failures - free - 1).min(20);
        Some(
            self.policy
                .first_lockout
                .saturating_mul(1u32 << doubling)
                .min(self.policy.longest_lockout),
        )
    }

    /// A hashing slot, waiting at most the policy's wait.
    pub async fn hashing_slot(&self) -> Result<SemaphorePermit<'_>, Refusal> {
        tokio::time::timeout(self.policy.hashing_wait, self.hashing.acquire())
            .await
            .ok()
            .and_then(Result::ok)
            .ok_or(Refusal::Busy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard() -> SignInGuard {
        SignInGuard::new(ThrottlePolicy {
            free_per_account: 3,
            free_per_address: 5,
            ..ThrottlePolicy::default()
        })
    }

    #[test]
    fn lockouts_begin_after_the_free_failures_and_double() {
        let guard = guard();
        let now = Instant::now();
        for _ in 0..3 {
            assert_eq!(guard.failed("a@x", None, now), None);
        }
        assert_eq!(guard.check("a@x", None, now), Ok(()));
        assert_eq!(guard.failed("a@x", None, now), Some(Duration::from_secs(2)));
        assert_eq!(
            guard.check("a@x", None, now + Duration::from_secs(1)),
            Err(Refusal::LockedOut(Duration::from_secs(1)))
        );
        assert_eq!(
            guard.check("a@x", None, now + Duration::from_secs(2)),
            Ok(())
        );
        assert_eq!(guard.failed("a@x", None, now), Some(Duration::from_secs(4)));
        assert_eq!(guard.failed("a@x", None, now), Some(Duration::from_secs(8)));
    }

    #[test]
    fn lockouts_stop_growing_at_the_longest() {
        let guard = guard();
        let now = Instant::now();
        let mut last = None;
        for _ in 0..40 {
            last = guard.failed("a@x", None, now);
        }
        assert_eq!(last, Some(Duration::from_secs(15 * 60)));
    }

    #[test]
    fn an_address_spraying_many_accounts_is_locked_out() {
        let guard = guard();
        let now = Instant::now();
        for i in 0..5 {
            guard.failed(&format!("user{i}@x"), Some("10.0.0.9"), now);
        }
        assert_eq!(guard.check("new@x", Some("10.0.0.9"), now), Ok(()));
        guard.failed("user9@x", Some("10.0.0.9"), now);
        assert!(matches!(
            guard.check("new@x", Some("10.0.0.9"), now),
            Err(Refusal::LockedOut(_))
        ));
        assert_eq!(guard.check("new@x", Some("10.0.0.10"), now), Ok(()));
    }

    #[test]
    fn success_clears_the_account_and_old_failures_are_forgotten() {
        let guard = guard();
        let now = Instant::now();
        for _ in 0..3 {
            guard.failed("a@x", None, now);
        }
        guard.succeeded("a@x");
        assert_eq!(guard.failed("a@x", None, now), None, "counting starts over");
        let later = now + Duration::from_secs(31 * 60);
        for _ in 0..3 {
            guard.failed("b@x", None, now);
        }
        assert_eq!(guard.failed("b@x", None, later), None, "forgotten");
    }

    #[tokio::test]
    async fn hashing_waits_for_a_slot_then_says_busy() {
        let guard = SignInGuard::new(ThrottlePolicy {
            hashing_slots: 1,
            hashing_wait: Duration::from_millis(20),
            ..ThrottlePolicy::default()
        });
        let held = guard.hashing_slot().await.unwrap();
        assert_eq!(guard.hashing_slot().await.err(), Some(Refusal::Busy));
        drop(held);
        assert!(guard.hashing_slot().await.is_ok());
    }
}
