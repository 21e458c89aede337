//! Writes that many tasks make at once, gathered into one statement: each
//! caller hands its item over and waits for its own result, while a writer
//! task takes whatever is waiting (up to a batch size) and writes it in one
//! round trip and one commit. Under light load a batch is one item written
//! at once; under heavy load the statements, commits and notifications are
//! shared.
//!
//! Writers are spawned when items wait and none is free, and end when
//! nothing is left, so a `Batched` needs no task of its own and belongs to
//! no runtime. A writer is its own task: a caller that gives up waiting
//! (its job cancelled, say) does not take the other callers' writes with
//! it.

use futures_util::future::BoxFuture;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

/// Writes one batch: one result per item, in the items' order.
pub type WriteBatch<T, R> = Arc<dyn Fn(Vec<T>) -> BoxFuture<'static, Vec<R>> + Send + Sync>;

/// Gathers items of type `T` into batches written by a [`WriteBatch`].
pub struct Batched<T, R> {
    shared: Arc<Shared<T, R>>,
}

impl<T, R> Clone for Batched<T, R> {
    fn clone(&self) -> Self {
        Batched {
            shared: self.shared.clone(),
        }
    }
}

impl<T, R> std::fmt::Debug for Batched<T, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batched")
            .field("max_batch", &self.shared.max_batch)
            .field("max_writers", &self.shared.max_writers)
            .finish_non_exhaustive()
    }
}

struct Shared<T, R> {
    waiting: Mutex<Waiting<T, R>>,
    max_batch: usize,
    max_writers: usize,
    write: WriteBatch<T, R>,
}

struct Waiting<T, R> {
    items: VecDeque<(T, oneshot::Sender<R>)>,
    writers: usize,
}

/// The batch's writer stopped before answering (it panicked, or its
/// runtime shut down).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the batched write was abandoned")]
pub struct Abandoned;

impl<T: Send + 'static, R: Send + 'static> Batched<T, R> {
    /// Batches of at most `max_batch` items, at most `max_writers` of them
    /// being written at a time.
    pub fn new(max_batch: usize, max_writers: usize, write: WriteBatch<T, R>) -> Self {
        Batched {
            shared: Arc::new(Shared {
                waiting: Mutex::new(Waiting {
                    items: VecDeque::new(),
                    writers: 0,
                }),
                max_batch: max_batch.max(1),
                max_writers: max_writers.max(1),
                write,
            }),
        }
    }

    /// Writes `item` with whatever else waits, and answers its result.
    pub async fn write(&self, item: T) -> Result<R, Abandoned> {
        let (answer, answered) = oneshot::channel();
        let start_writer = {
            let mut waiting = self.shared.waiting.lock().expect("batch lock");
            waiting.items.push_back((item, answer));
            let start = waiting.writers < self.shared.max_writers;
            if start {
                waiting.writers += 1;
            }
            start
        };
        if start_writer {
            tokio::spawn(write_while_waiting(self.shared.clone()));
        }
        answered.await.map_err(|_| Abandoned)
    }
}

/// A writer: writes batches while items wait.
async fn write_while_waiting<T, R>(shared: Arc<Shared<T, R>>) {
    let mut leaving = Leaving {
        shared: &shared,
        counted_out: false,
    };
    loop {
        let batch: Vec<(T, oneshot::Sender<R>)> = {
            let mut waiting = shared.waiting.lock().expect("batch lock");
            if waiting.items.is_empty() {
                // under the lock that found nothing: an item added after it
                // sees one writer fewer and starts its own
                waiting.writers -= 1;
                leaving.counted_out = true;
                return;
            }
            let take = waiting.items.len().min(shared.max_batch);
            waiting.items.drain(..take).collect()
        };
        let (items, answers): (Vec<T>, Vec<oneshot::Sender<R>>) = batch.into_iter().unzip();
        let results = (shared.write)(items).await;
        for (answer, result) in answers.into_iter().zip(results) {
            // the caller may have stopped waiting
            let _ = answer.send(result);
        }
    }
}

/// Counts out a writer that stopped in the middle of a batch (it panicked,
/// or was dropped with its runtime). When it was the last, the items still
/// waiting are dropped, so their callers hear [`Abandoned`] rather than
/// wait for good.
struct Leaving<'a, T, R> {
    shared: &'a Shared<T, R>,
    counted_out: bool,
}

impl<T, R> Drop for Leaving<'_, T, R> {
    fn drop(&mut self) {
        if self.counted_out {
            return;
        }
        let Ok(mut waiting) = self.shared.waiting.lock() else {
            return;
        };
        waiting.writers -= 1;
        if waiting.writers == 0 {
            waiting.items.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    fn doubling(sizes: Arc<Mutex<Vec<usize>>>, pause: Duration) -> WriteBatch<u32, u32> {
        Arc::new(move |items: Vec<u32>| {
            let sizes = sizes.clone();
            Box::pin(async move {
                sizes.lock().unwrap().push(items.len());
                tokio::time::sleep(pause).await;
                items.into_iter().map(|i| i * 2).collect()
            })
        })
    }

    #[tokio::test]
    async fn a_lone_item_is_written_at_once_and_gets_its_own_result() {
        let sizes = Arc::new(Mutex::new(Vec::new()));
        let batched = Batched::new(10, 1, doubling(sizes.clone(), Duration::ZERO));
        assert_eq!(batched.write(21).await, Ok(42));
        assert_eq!(*sizes.lock().unwrap(), vec![1]);
    }

    #[tokio::test]
    async fn items_arriving_during_a_write_share_the_next_batch_up_to_its_size() {
        let sizes = Arc::new(Mutex::new(Vec::new()));
        let batched = Batched::new(3, 1, doubling(sizes.clone(), Duration::from_millis(50)));
        let first = tokio::spawn({
            let batched = batched.clone();
            async move { batched.write(0).await }
        });
        tokio::time::sleep(Duration::from_millis(10)).await;
        let rest: Vec<_> = (1..=4)
            .map(|i| {
                let batched = batched.clone();
                tokio::spawn(async move { batched.write(i).await })
            })
            .collect();
        assert_eq!(first.await.unwrap(), Ok(0));
        for (i, handle) in rest.into_iter().enumerate() {
            assert_eq!(handle.await.unwrap(), Ok(2 * (i as u32 + 1)));
        }
        assert_eq!(*sizes.lock().unwrap(), vec![1, 3, 1]);
    }

    #[tokio::test]
    async fn no_more_than_max_writers_write_at_once() {
        let active = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let write: WriteBatch<u32, u32> = {
            let (active, most) = (active.clone(), most.clone());
            Arc::new(move |items: Vec<u32>| {
                let (active, most) = (active.clone(), most.clone());
                Box::pin(async move {
                    let now = active.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    active.fetch_sub(1, Ordering::SeqCst);
                    items
                })
            })
        };
        let batched = Batched::new(1, 2, write);
        let handles: Vec<_> = (0..20)
            .map(|i| {
                let batched = batched.clone();
                tokio::spawn(async move { batched.write(i).await })
            })
            .collect();
        for (i, handle) in handles.into_iter().enumerate() {
            assert_eq!(handle.await.unwrap(), Ok(i as u32));
        }
        assert_eq!(most.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_caller_that_stops_waiting_does_not_stop_the_write() {
        let sizes = Arc::new(Mutex::new(Vec::new()));
        let batched = Batched::new(10, 1, doubling(sizes.clone(), Duration::from_millis(30)));
        let gave_up = tokio::time::timeout(Duration::from_millis(5), batched.write(1)).await;
        assert!(gave_up.is_err(), "the caller stopped waiting");
        assert_eq!(batched.write(2).await, Ok(4));
        assert_eq!(*sizes.lock().unwrap(), vec![1, 1], "both were written");
    }

    #[tokio::test]
    async fn a_writer_that_panics_abandons_its_batch_and_the_next_write_works() {
        let calls = Arc::new(AtomicUsize::new(0));
        let write: WriteBatch<u32, u32> = {
            let calls = calls.clone();
            Arc::new(move |items: Vec<u32>| {
                let first = calls.fetch_add(1, Ordering::SeqCst) == 0;
                Box::pin(async move {
                    assert!(!first, "the first batch fails");
                    items
                })
            })
        };
        let batched = Batched::new(10, 1, write);
        assert_eq!(batched.write(1).await, Err(Abandoned));
        assert_eq!(batched.write(2).await, Ok(2));
    }
}
