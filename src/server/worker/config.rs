//! The worker's settings, from the operator's configuration or set by tests
//! and benchmarks.

use crate::server::config::WorkerSettings;
use crate::server::queue::RetryPolicy;
use rand::Rng;
use std::time::Duration;

/// Worker settings.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Names this process in `jobs.locked_by`.
    pub worker_id: String,
    /// Jobs claimed ahead of free capacity, per queue.
    pub prefetch: usize,
    /// Most jobs one claim statement takes.
    pub max_claim: usize,
    /// Claim statements a queue may have in flight at once: a second one
    /// keeps the database busy while the first one's jobs are handed out.
    pub claimers: usize,
    /// Lease length; heartbeats renew it.
    pub lease: Duration,
    /// How often held leases are renewed.
    pub heartbeat_every: Duration,
    /// Claim attempt without a NOTIFY (scheduled jobs, missed wake-ups).
    pub poll_interval: Duration,
    /// How often expired leases are looked for.
    pub rescue_every: Duration,
    /// How long running jobs may finish after shutdown starts.
    pub shutdown_grace: Duration,
    /// Retry backoff.
    pub retry: RetryPolicy,
    /// Fixed per-queue concurrency instead of the queues table's (benchmarks).
    pub concurrency_override: Option<usize>,
    /// Most completions written by one statement.
    pub completion_batch: usize,
    /// Completion statements in flight at once.
    pub completion_writers: usize,
    /// How often the daily retention schedule is offered (`None`: this
    /// worker does not schedule retention; tests and benchmarks).
    pub retention_check_every: Option<Duration>,
}

/// How often a worker offers the day's retention runs: often enough that a
/// new day's cleanup starts within minutes, rare enough to cost nothing.
pub const RETENTION_CHECK_EVERY: Duration = Duration::from_secs(300);

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            worker_id: default_worker_id(),
            prefetch: 10,
            max_claim: 500,
            claimers: 2,
            lease: Duration::from_secs(30),
            heartbeat_every: Duration::from_secs(10),
            poll_interval: Duration::from_secs(1),
            rescue_every: Duration::from_secs(15),
            shutdown_grace: Duration::from_secs(10),
            retry: RetryPolicy::default(),
            concurrency_override: None,
            completion_batch: 1000,
            completion_writers: 2,
            retention_check_every: None,
        }
    }
}

impl WorkerConfig {
    /// The defaults with the operator's settings applied. The heartbeat runs
    /// three times per lease.
    pub fn from_settings(settings: &WorkerSettings) -> Self {
        WorkerConfig {
            lease: settings.lease,
            heartbeat_every: settings.lease / 3,
            poll_interval: settings.poll_interval,
            rescue_every: settings.rescue_every,
            shutdown_grace: settings.shutdown_grace,
            prefetch: usize::from(settings.prefetch),
            claimers: usize::from(settings.claimers),
            retention_check_every: settings.daily_retention.then_some(RETENTION_CHECK_EVERY),
            ..WorkerConfig::default()
        }
    }
}

/// `host:pid:random`, unique per process start.
fn default_worker_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "localhost".into());
    let tag: u32 = rand::thread_rng().gen();
    format!("{host}:{}:{tag:08x}", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::config::Config;

    #[test]
    fn settings_apply_and_the_heartbeat_runs_three_times_per_lease() {
        let mut settings = Config::defaults().worker;
        settings.lease = Duration::from_secs(9);
        settings.claimers = 4;
        let config = WorkerConfig::from_settings(&settings);
        assert_eq!(config.heartbeat_every, Duration::from_secs(3));
        assert_eq!(config.claimers, 4);
        assert_eq!(config.max_claim, WorkerConfig::default().max_claim);
    }

    #[test]
    fn worker_ids_differ_per_start() {
        let (a, b) = (default_worker_id(), default_worker_id());
        assert_ne!(a, b);
        assert!(a.contains(&format!(":{}:", std::process::id())), "{a}");
    }
}
