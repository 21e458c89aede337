//! Per-queue state of this process: slots (the queue's concurrency), jobs in
//! flight, pause, and the wake-ups its claimers wait for.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{Notify, Semaphore};

/// One queue as this process runs it.
#[derive(Debug)]
pub struct QueueRunner {
    /// The queue's name.
    pub name: String,
    /// One permit per job that may run at once.
    slots: Arc<Semaphore>,
    concurrency: AtomicUsize,
    paused: AtomicBool,
    /// Claimed jobs not yet finished (running or waiting for a slot).
    in_flight: AtomicUsize,
    /// New work may be there (NOTIFY, settings changed).
    pub wake: Notify,
    /// A job finished: a claimer waiting for room may claim again.
    pub slot_freed: Notify,
}

impl QueueRunner {
    /// A queue with `concurrency` slots.
    pub fn new(name: String, concurrency: usize, paused: bool) -> Self {
        QueueRunner {
            name,
            slots: Arc::new(Semaphore::new(concurrency)),
            concurrency: AtomicUsize::new(concurrency),
            paused: AtomicBool::new(paused),
            in_flight: AtomicUsize::new(0),
            wake: Notify::new(),
            slot_freed: Notify::new(),
        }
    }

    /// Whether claiming is paused.
    pub fn is_paused(&self) -> bool {
        self.paused.load(Ordering::SeqCst)
    }

    /// Applies changed settings and wakes a claimer to act on them.
    pub fn apply(&self, paused: bool, concurrency: usize) {
        self.paused.store(paused, Ordering::SeqCst);
        self.resize(concurrency);
        self.wake.notify_one();
    }

    /// How many more jobs may be claimed now: slots plus `prefetch`, less
    /// what is in flight.
    pub fn room(&self, prefetch: usize) -> usize {
        let capacity = self.concurrency.load(Ordering::SeqCst) + prefetch;
        capacity.saturating_sub(self.in_flight.load(Ordering::SeqCst))
    }

    /// Counts `count` claimed jobs in flight; each job's [`InFlight`] guard
    /// counts it out.
    pub fn claimed(&self, count: usize) {
        self.in_flight.fetch_add(count, Ordering::SeqCst);
    }

    /// The semaphore a job waits on for a slot.
    pub fn slots(&self) -> Arc<Semaphore> {
        self.slots.clone()
    }

    /// Changes the number of slots. Slots in use when shrinking are taken
    /// out of play as they come back.
    pub fn resize(&self, concurrency: usize) {
        let old = self.concurrency.swap(concurrency, Ordering::SeqCst);
        if concurrency > old {
            self.slots.add_permits(concurrency - old);
        } else if concurrency < old {
            let debt = old - concurrency;
            let forgotten = self.slots.forget_permits(debt);
            if forgotten < debt {
                let slots = self.slots.clone();
                let rest = (debt - forgotten) as u32;
                tokio::spawn(async move {
                    if let Ok(permits) = slots.acquire_many(rest).await {
                        permits.forget();
                    }
                });
            }
        }
    }
}

/// Keeps a queue's in-flight count right however a job task ends.
pub struct InFlight<'a>(pub &'a QueueRunner);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
        self.0.slot_freed.notify_one();
    }
}

/// Every queue this process knows, by name.
#[derive(Debug, Default)]
pub struct QueueRunners {
    runners: Mutex<HashMap<String, Arc<QueueRunner>>>,
}

impl QueueRunners {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<QueueRunner>>> {
        self.runners.lock().expect("queues lock")
    }

    /// The runner of `name`, if the queue is known.
    pub fn get(&self, name: &str) -> Option<Arc<QueueRunner>> {
        self.lock().get(name).cloned()
    }

    /// Applies one queue's settings; returns the runner when the queue is new
    /// (it then needs claimers).
    pub fn apply(&self, name: &str, paused: bool, concurrency: usize) -> Option<Arc<QueueRunner>> {
        let mut runners = self.lock();
        if let Some(runner) = runners.get(name) {
            runner.apply(paused, concurrency);
            return None;
        }
        let runner = Arc::new(QueueRunner::new(name.to_string(), concurrency, paused));
        runners.insert(name.to_string(), runner.clone());
        Some(runner)
    }

    /// Wakes one claimer of every queue (after a gap in notifications).
    pub fn wake_all(&self) {
        for runner in self.lock().values() {
            runner.wake.notify_one();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_is_slots_and_prefetch_less_what_is_in_flight() {
        let runner = QueueRunner::new("q".into(), 3, false);
        assert_eq!(runner.room(2), 5);
        runner.claimed(4);
        assert_eq!(runner.room(2), 1);
        drop(InFlight(&runner));
        assert_eq!(runner.room(2), 2);
        runner.claimed(9);
        assert_eq!(runner.room(2), 0, "never negative");
    }

    #[tokio::test]
    async fn resizing_adds_and_forgets_slots() {
        let runner = QueueRunner::new("q".into(), 2, false);
        runner.resize(5);
        assert_eq!(runner.slots().available_permits(), 5);
        runner.resize(1);
        assert_eq!(runner.slots().available_permits(), 1);
        assert_eq!(runner.room(0), 1);
    }

    #[tokio::test]
    async fn shrinking_takes_busy_slots_as_they_come_back() {
        let runner = QueueRunner::new("q".into(), 2, false);
        let busy = runner.slots().acquire_many_owned(2).await.unwrap();
        runner.resize(1);
        drop(busy);
        tokio::task::yield_now().await;
        for _ in 0..10 {
            if runner.slots().available_permits() == 1 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        assert_eq!(runner.slots().available_permits(), 1);
    }

    #[test]
    fn only_new_queues_are_returned_and_settings_apply_to_known_ones() {
        let runners = QueueRunners::default();
        assert!(runners.apply("mail", false, 2).is_some());
        assert!(runners.apply("mail", true, 2).is_none());
        assert!(runners.get("mail").unwrap().is_paused());
        assert!(runners.get("other").is_none());
    }
}
