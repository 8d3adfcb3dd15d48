//! Deadlines the reactor must wake up for.
//!
//! A binary heap ordered by deadline. Timers are never cancelled: each one
//! names the entry it belongs to by slab key *and* the entry's unique id,
//! and the reactor checks both when the timer fires, so a timer that
//! outlived its connection (or whose slab key was reused) is simply
//! ignored. Idle timeouts re-arm lazily: activity only stamps the
//! connection, and the timer, when it fires early, is pushed again for the
//! new deadline. That is one heap operation per idle period per
//! connection, not one per read.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

/// What a deadline is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Timer {
    /// Check whether connection `(key, id)` has been idle too long.
    Idle {
        /// Slab key.
        key: usize,
        /// The connection's unique id, guarding against key reuse.
        id: u64,
    },
    /// Try `accept` again on listener `(key, id)` after running out of
    /// file descriptors.
    AcceptRetry {
        /// Slab key.
        key: usize,
        /// The listener's unique id.
        id: u64,
    },
    /// The shutdown flush period is over.
    ShutdownDeadline,
}

/// A min-heap of `(deadline, timer)`.
#[derive(Debug, Default)]
pub struct Timers {
    heap: BinaryHeap<Reverse<(Instant, Timer)>>,
}

impl Timers {
    /// Schedules `timer` for `at`.
    pub fn add(&mut self, at: Instant, timer: Timer) {
        self.heap.push(Reverse((at, timer)));
    }

    /// How long `poll` may sleep before the earliest deadline, from `now`;
    /// `None` when no timer is armed.
    pub fn timeout(&self, now: Instant) -> Option<Duration> {
        self.heap
            .peek()
            .map(|Reverse((at, _))| at.saturating_duration_since(now))
    }

    /// Removes and returns one timer whose deadline is at or before `now`.
    pub fn pop_due(&mut self, now: Instant) -> Option<Timer> {
        match self.heap.peek() {
            Some(Reverse((at, _))) if *at <= now => self.heap.pop().map(|Reverse((_, t))| t),
            _ => None,
        }
    }

    /// Number of armed timers.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// True when no timer is armed.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pops_in_deadline_order_and_only_when_due() {
        let t0 = Instant::now();
        let mut t = Timers::default();
        t.add(t0 + Duration::from_millis(20), Timer::ShutdownDeadline);
        t.add(
            t0 + Duration::from_millis(10),
            Timer::Idle { key: 1, id: 7 },
        );
        assert_eq!(t.timeout(t0), Some(Duration::from_millis(10)));
        assert_eq!(t.pop_due(t0), None);
        let later = t0 + Duration::from_millis(25);
        assert_eq!(t.pop_due(later), Some(Timer::Idle { key: 1, id: 7 }));
        assert_eq!(t.pop_due(later), Some(Timer::ShutdownDeadline));
        assert!(t.is_empty());
        assert_eq!(t.timeout(later), None);
    }
}
