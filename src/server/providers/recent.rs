//! What a worker read lately and may use again for a short while instead of
//! reading it for every job: an integration. A change made in the console
//! reaches every job that starts [`TARGET_REUSE`] after it. (Webhooks are
//! read for each delivery: a rotated secret must sign the very next one.)

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// How long a worker reuses what it read for the jobs that follow (a
/// transaction per message was a fifth of an SMS's database work).
pub const TARGET_REUSE: Duration = Duration::from_secs(2);

/// Most entries remembered (beyond it the stale ones are dropped).
const REMEMBERED: usize = 10_000;

/// Values read less than [`TARGET_REUSE`] ago, by key.
#[derive(Debug)]
pub struct Recent<K, V> {
    entries: Mutex<HashMap<K, (Instant, V)>>,
}

impl<K, V> Default for Recent<K, V> {
    fn default() -> Self {
        Recent {
            entries: Mutex::new(HashMap::new()),
        }
    }
}

impl<K: Eq + Hash, V: Clone> Recent<K, V> {
    /// The value of `key` if it was read less than [`TARGET_REUSE`] ago.
    pub fn get(&self, key: &K) -> Option<V> {
        self.locked()
            .get(key)
            .filter(|(at, _)| at.elapsed() < TARGET_REUSE)
            .map(|(_, value)| value.clone())
    }

    /// Remembers `value`, read now, for `key`.
    pub fn put(&self, key: K, value: V) {
        let mut entries = self.locked();
        if entries.len() >= REMEMBERED {
            entries.retain(|_, (at, _)| at.elapsed() < TARGET_REUSE);
        }
        entries.insert(key, (Instant::now(), value));
    }

    fn locked(&self) -> MutexGuard<'_, HashMap<K, (Instant, V)>> {
        // a panic elsewhere cannot leave the map half-written: use it as is
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_is_used_again_only_while_fresh() {
        let recent = Recent::default();
        recent.put(1, "one");
        assert_eq!(recent.get(&1), Some("one"));
        assert_eq!(recent.get(&2), None);
        recent
            .locked()
            .insert(1, (Instant::now() - TARGET_REUSE, "one"));
        assert_eq!(recent.get(&1), None);
    }
}
