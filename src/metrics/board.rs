//! The counters every reactor publishes and the metrics endpoint sums.
//!
//! A reactor counts in the plain `u64`s of its own [`Counters`]: the echo
//! path never touches shared memory. At the end of each turn it copies
//! them into its `Slot` of the [`Board`] with relaxed stores (a plain
//! `mov` on x86-64 and AArch64, no lock prefix, no fence), then counts the
//! publication with one store-release (still a `mov` on x86-64, an `stlr`
//! on AArch64), and only then can another thread see them. The endpoint's thread, at each scrape,
//! loads every slot and adds them up.
//!
//! # What a scrape may see
//!
//! Each value is exact as some turn of its reactor left it: counters never
//! go backwards, and none is torn. Values of one scrape are not a single
//! instant, though: one may come from a reactor's turn `t` and its
//! neighbour from turn `t + 1` (a store in between). Prometheus asks no
//! more.
//!
//! But a scrape counts everything that happened before it asked: a client
//! that has had its echo sees it counted. A reactor publishes at the end
//! of a turn, and the echo may reach its client before the turn ends, so
//! [`Board::fresh_sum`] wakes every reactor (a `mio::Waker` each: a turn
//! that does nothing but end, and publish) and waits, at most
//! [`FRESH_WAIT`], until each has published once more. A busy reactor
//! delays a scrape by at most the rest of its turn.
//!
//! Each slot is aligned to a cache line pair (128 bytes) and fills whole
//! pairs, so reactors publishing at once do not share lines with each
//! other.

use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use super::histogram::{TurnTimes, BUCKETS};
use crate::counters::{AtomicCounters, Counters};
use crate::time::deadline;

/// How long [`Board::fresh_sum`] waits for a reactor to publish again.
pub const FRESH_WAIT: Duration = Duration::from_secs(1);

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
    /// Publications so far, stored after the values with `Release`: a
    /// reader that loads `n` with `Acquire` sees publication `n` or later.
    published: AtomicU64,
    /// Wakes the reactor, while it runs. Locked only to set, take or use
    /// it, never on a turn.
    waker: Mutex<Option<mio::Waker>>,
}

/// One `Slot` per reactor.
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
        // One writer: no read-modify-write needed.
        let n = slot.published.load(Relaxed);
        slot.published.store(n.wrapping_add(1), Release);
    }

    /// Lets [`fresh_sum`](Self::fresh_sum) wake reactor `slot` with
    /// `waker`; `None` once the reactor stopped, so that no scrape waits
    /// for it.
    pub fn wake_with(&self, slot: usize, waker: Option<mio::Waker>) {
        *self.slots[slot]
            .waker
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = waker;
    }

    /// [`sum`](Self::sum), after every running reactor has published
    /// once more (see "What a scrape may see"), or after [`FRESH_WAIT`].
    pub fn fresh_sum(&self) -> Snapshot {
        let woken: Vec<Option<u64>> = self
            .slots
            .iter()
            .map(|slot| {
                let before = slot.published.load(Acquire);
                let waker = slot.waker.lock().unwrap_or_else(|p| p.into_inner());
                let woke = waker.as_ref().is_some_and(|w| w.wake().is_ok());
                woke.then_some(before)
            })
            .collect();
        let until = deadline(Instant::now(), FRESH_WAIT);
        for (slot, before) in self.slots.iter().zip(woken) {
            let Some(before) = before else { continue };
            // A turn that only publishes takes microseconds.
            while slot.published.load(Acquire) == before && Instant::now() < until {
                thread::sleep(Duration::from_micros(50));
            }
        }
        self.sum()
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
