//! Which of this process's lease rows (one per claim) the heartbeat must
//! renew, and which it may drop.
//!
//! A lease row may go only when every job of its claim has had its final
//! write committed (or was handed back): a row dropped earlier would leave a
//! running job that no rescuer can find if this process then dies. A claim
//! one of whose final writes failed keeps its row but stops being renewed,
//! so the row expires and the rescuer returns that job.

use std::collections::{HashMap, HashSet};
use uuid::Uuid;

/// Lease tokens of this process's claims and their unwritten jobs.
#[derive(Debug, Default)]
pub struct LeaseBook {
    /// Jobs not yet written per claim, plus one while the claim statement is
    /// in flight (so a heartbeat cannot drop a row it has not heard of).
    open: HashMap<Uuid, usize>,
    /// Claims with a final write that failed: left to expire.
    unwritten: HashSet<Uuid>,
    /// Claims whose jobs are all written: their rows can be deleted.
    finished: Vec<Uuid>,
}

impl LeaseBook {
    /// Registers a claim before its statement is sent.
    pub fn begin(&mut self, token: Uuid) {
        self.open.insert(token, 1);
    }

    /// The claim statement returned `jobs` jobs under `token`.
    pub fn claimed(&mut self, token: Uuid, jobs: usize) {
        if let Some(count) = self.open.get_mut(&token) {
            *count += jobs;
        }
        self.end(token, true);
    }

    /// The claim statement failed: whether it committed is unknown, so its
    /// row is neither renewed nor deleted (it expires if it exists).
    pub fn abandon_claim(&mut self, token: Uuid) {
        self.end(token, false);
    }

    /// One job of `token`'s claim is done with: its final write committed
    /// (`written`), or failed for good (`!written`).
    pub fn end(&mut self, token: Uuid, written: bool) {
        let Some(count) = self.open.get_mut(&token) else {
            return;
        };
        if !written {
            self.unwritten.insert(token);
        }
        *count = count.saturating_sub(1);
        if *count == 0 {
            self.open.remove(&token);
            if !self.unwritten.remove(&token) {
                self.finished.push(token);
            }
        }
    }

    /// Leases to renew now: open claims without a failed write.
    pub fn to_renew(&self) -> Vec<Uuid> {
        self.open
            .keys()
            .filter(|token| !self.unwritten.contains(token))
            .copied()
            .collect()
    }

    /// Takes the finished claims whose rows can be deleted.
    pub fn take_finished(&mut self) -> Vec<Uuid> {
        std::mem::take(&mut self.finished)
    }

    /// Puts back a finished claim whose row could not be deleted.
    pub fn requeue_finished(&mut self, token: Uuid) {
        self.finished.push(token);
    }

    /// At shutdown, after held jobs were handed back: every row that may go
    /// (finished claims and open ones without a failed write).
    pub fn drain_droppable(&mut self) -> Vec<Uuid> {
        let mut tokens = self.take_finished();
        tokens.extend(self.to_renew());
        self.open.clear();
        tokens
    }

    /// Nothing to renew or drop.
    pub fn is_idle(&self) -> bool {
        self.open.is_empty() && self.finished.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_claim_is_renewed_until_its_last_job_is_written() {
        let mut book = LeaseBook::default();
        let token = Uuid::new_v4();
        book.begin(token);
        assert_eq!(
            book.to_renew(),
            vec![token],
            "in flight: renewed, not dropped"
        );
        assert!(book.take_finished().is_empty());
        book.claimed(token, 2);
        book.end(token, true);
        assert_eq!(book.to_renew(), vec![token]);
        book.end(token, true);
        assert!(book.to_renew().is_empty());
        assert_eq!(book.take_finished(), vec![token]);
        assert!(book.is_idle());
    }

    #[test]
    fn a_claim_whose_statement_failed_is_left_to_expire() {
        let mut book = LeaseBook::default();
        let token = Uuid::new_v4();
        book.begin(token);
        book.abandon_claim(token);
        assert!(book.to_renew().is_empty());
        assert!(book.take_finished().is_empty());
        assert!(book.is_idle());
    }

    #[test]
    fn an_empty_claim_is_dropped_at_once() {
        let mut book = LeaseBook::default();
        let token = Uuid::new_v4();
        book.begin(token);
        book.claimed(token, 0);
        assert_eq!(book.take_finished(), vec![token]);
    }

    #[test]
    fn a_failed_write_stops_renewal_but_keeps_the_row() {
        let mut book = LeaseBook::default();
        let token = Uuid::new_v4();
        book.begin(token);
        book.claimed(token, 2);
        book.end(token, false);
        assert!(book.to_renew().is_empty(), "left to expire for the rescuer");
        book.end(token, true);
        assert!(
            book.take_finished().is_empty(),
            "its row must not be deleted"
        );
        assert!(book.is_idle());
    }

    #[test]
    fn shutdown_drops_every_row_without_a_failed_write() {
        let mut book = LeaseBook::default();
        let (done, open, failed) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        for token in [done, open, failed] {
            book.begin(token);
            book.claimed(token, 2);
        }
        book.end(done, true);
        book.end(done, true);
        book.end(failed, false);
        let mut dropped = book.drain_droppable();
        dropped.sort();
        let mut expected = vec![done, open];
        expected.sort();
        assert_eq!(dropped, expected);
    }
}
