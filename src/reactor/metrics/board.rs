//! The counters every reactor publishes and the metrics endpoint sums.
//!
//! A reactor counts in the plain `u64`s of its own [`Counters`]: the echo
//! path never touches shared memory. At the end of each turn it copies
//! them into its [`Slot`] of the [`Board`] with relaxed stores (a plain
//! `mov` on x86-64 and AArch64, no lock prefix, no fence), and only then
//! can another thread see them. The reactor serving a scrape loads every
//! slot and adds them up.
//!
//! # What a scrape may see
//!
//! Each value is exact as some turn of its reactor left it: counters never
//! go backwards, and none is torn. Values of one scrape are not a single
//! instant, though: one may come from a reactor's turn `t` and its
//! neighbour from turn `t + 1` (a store in between). Prometheus asks no
//! more; a test that wants exact numbers waits until the traffic it made
//! is over (see `tests/metrics.rs`).
//!
//! Each slot is aligned to a cache line pair (128 bytes) and fills whole
//! pairs, so reactors publishing at once do not share lines with each
//! other.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use super::histogram::{TurnTimes, BUCKETS};
use crate::counters::{AtomicCounters, Counters};

/// What one reactor counted, or all of them summed.
#[derive(Debug, Default, Clone)]
pub struct Snapshot {
    /// The totals, open connections among them.
    pub counters: Counters,
    /// The turns' lengths.
    pub turns: TurnTimes,
    /// Reactors whose slots were summed.
    pub reactors: usize,
}

/// One reactor's published values: every counter, then the turns.
#[derive(Debug, Default)]
#[repr(align(128))]
struct Slot {
    counters: AtomicCounters,
    buckets: [AtomicU64; BUCKETS],
    sum_ns: AtomicU64,
}

/// One [`Slot`] per reactor.
#[derive(Debug)]
pub struct Board {
    slots: Box<[Slot]>,
}

impl Board {
    /// A board for `reactors` reactors, all zero.
    pub fn new(reactors: usize) -> Board {
        Board {
            slots: (0..reactors).map(|_| Slot::default()).collect(),
        }
    }

    /// Stores reactor `slot`'s totals and turns.
    pub fn publish(&self, slot: usize, counters: &Counters, turns: &TurnTimes) {
        let slot = &self.slots[slot];
        slot.counters.store(counters);
        for (cell, &n) in slot.buckets.iter().zip(&turns.buckets) {
            cell.store(n, Relaxed);
        }
        slot.sum_ns.store(turns.sum_ns, Relaxed);
    }

    /// Every reactor's last published values, added up.
    pub fn sum(&self) -> Snapshot {
        let mut sum = Snapshot {
            reactors: self.slots.len(),
            ..Snapshot::default()
        };
        for slot in self.slots.iter() {
            sum.counters += slot.counters.load();
            for (t, cell) in sum.turns.buckets.iter_mut().zip(&slot.buckets) {
                *t = t.wrapping_add(cell.load(Relaxed));
            }
            sum.turns.sum_ns = sum.turns.sum_ns.wrapping_add(slot.sum_ns.load(Relaxed));
        }
        sum
    }
}

/// Where one reactor publishes: the shared board and its own slot.
#[derive(Debug, Clone)]
pub struct Publisher {
    /// The board every reactor of the process publishes to.
    pub board: Arc<Board>,
    /// This reactor's slot.
    pub slot: usize,
}

impl Publisher {
    /// See [`Board::publish`].
    pub fn publish(&self, counters: &Counters, turns: &TurnTimes) {
        self.board.publish(self.slot, counters, turns);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_add_up() {
        let mut one = Counters {
            accepted: 3,
            datagrams_echoed: 5,
            ..Counters::default()
        };
        one.active = 2;
        let mut turns = TurnTimes::default();
        turns.record(std::time::Duration::from_micros(2));
        let board = Board::new(3);
        board.publish(0, &one, &turns);
        board.publish(2, &one, &turns);
        let sum = board.sum();
        assert_eq!(sum.reactors, 3);
        let mut doubled = one;
        doubled += one;
        assert_eq!(sum.counters, doubled);
        assert_eq!(sum.turns.count(), 2);
        assert_eq!(sum.turns.sum_ns, 4_000);
    }
}
