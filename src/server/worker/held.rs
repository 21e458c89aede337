//! The jobs this process holds (claimed, running or waiting for a slot) and
//! how each one's handler is told to stop.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// Why a held job's handler was told to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// Someone cancelled the job: its attempt ends as cancelled.
    Requested,
    /// The lease was lost (the rescuer took the job): leave it alone.
    LeaseLost,
}

impl StopReason {
    fn code(self) -> u8 {
        match self {
            StopReason::Requested => 1,
            StopReason::LeaseLost => 2,
        }
    }

    fn from_code(code: u8) -> Option<Self> {
        match code {
            1 => Some(StopReason::Requested),
            2 => Some(StopReason::LeaseLost),
            _ => None,
        }
    }
}

/// One job's stop signal: its handler's cancellation token and why it fired
/// (the latest reason wins: a lost lease overrides a cancel request). The
/// token also fires, without a reason, when the worker abandons its jobs.
#[derive(Debug, Clone)]
pub struct StopSignal {
    token: CancellationToken,
    reason: Arc<AtomicU8>,
}

impl StopSignal {
    /// A signal that also fires when `abandon` does.
    pub fn new(abandon: &CancellationToken) -> Self {
        StopSignal {
            token: abandon.child_token(),
            reason: Arc::new(AtomicU8::new(0)),
        }
    }

    /// Stops the handler for `reason`.
    pub fn stop(&self, reason: StopReason) {
        self.reason.store(reason.code(), Ordering::SeqCst);
        self.token.cancel();
    }

    /// Why it fired; `None` if it has not, or fired because the worker is
    /// abandoning its jobs.
    pub fn reason(&self) -> Option<StopReason> {
        StopReason::from_code(self.reason.load(Ordering::SeqCst))
    }

    /// The token handed to the handler.
    pub fn token(&self) -> &CancellationToken {
        &self.token
    }
}

/// A held job: its claim and its stop signal.
#[derive(Debug)]
struct Held {
    lease_token: Uuid,
    signal: StopSignal,
}

/// Every job this process holds, by id.
#[derive(Debug, Default)]
pub struct HeldJobs {
    jobs: Mutex<HashMap<Uuid, Held>>,
}

impl HeldJobs {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, Held>> {
        self.jobs.lock().expect("held jobs lock")
    }

    /// Records a job claimed under `lease_token`.
    pub fn hold(&self, id: Uuid, lease_token: Uuid, signal: StopSignal) {
        self.lock().insert(
            id,
            Held {
                lease_token,
                signal,
            },
        );
    }

    /// Forgets a job whose outcome is decided.
    pub fn release(&self, id: Uuid) {
        self.lock().remove(&id);
    }

    /// (job id, lease token) of every held job.
    pub fn snapshot(&self) -> Vec<(Uuid, Uuid)> {
        self.lock()
            .iter()
            .map(|(id, held)| (*id, held.lease_token))
            .collect()
    }

    /// Stops a held job's handler for `reason`; nothing if it is not held.
    pub fn stop(&self, id: Uuid, reason: StopReason) {
        if let Some(held) = self.lock().get(&id) {
            held.signal.stop(reason);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signal_fires_with_its_latest_reason() {
        let abandon = CancellationToken::new();
        let signal = StopSignal::new(&abandon);
        assert_eq!(signal.reason(), None);
        signal.stop(StopReason::Requested);
        assert!(signal.token().is_cancelled());
        assert_eq!(signal.reason(), Some(StopReason::Requested));
        signal.stop(StopReason::LeaseLost);
        assert_eq!(signal.reason(), Some(StopReason::LeaseLost));
    }

    #[test]
    fn abandoning_fires_every_signal_without_a_reason() {
        let abandon = CancellationToken::new();
        let signal = StopSignal::new(&abandon);
        abandon.cancel();
        assert!(signal.token().is_cancelled());
        assert_eq!(signal.reason(), None);
    }

    #[test]
    fn only_held_jobs_are_stopped_and_listed() {
        let held = HeldJobs::default();
        let abandon = CancellationToken::new();
        let (job, token) = (Uuid::new_v4(), Uuid::new_v4());
        let signal = StopSignal::new(&abandon);
        held.hold(job, token, signal.clone());
        held.stop(Uuid::new_v4(), StopReason::Requested);
        assert!(!signal.token().is_cancelled());
        assert_eq!(held.snapshot(), vec![(job, token)]);
        held.stop(job, StopReason::Requested);
        assert!(signal.token().is_cancelled());
        held.release(job);
        assert!(held.snapshot().is_empty());
    }
}
