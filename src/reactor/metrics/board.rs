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
//! is over (see `tests/it/metrics.rs`).
//!
//! Each slot is aligned to a cache line pair (128 bytes) and fills whole
//! pairs, so reactors publishing at once do not share lines with each
//! other.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use super::super::{udp, Counters};
use super::histogram::{TurnTimes, BUCKETS};

/// Single values in a slot: every counter of [`Counters`], the open
/// connections and the turns' total length.
const SCALARS: usize = 20;
/// Values in a slot: the single values, then the turn buckets.
const FIELDS: usize = SCALARS + BUCKETS;

/// What one reactor counted, or all of them summed.
#[derive(Debug, Default, Clone)]
pub struct Snapshot {
    /// The totals.
    pub counters: Counters,
    /// Connections open (a gauge).
    pub active: u64,
    /// Reactors whose slots were summed.
    pub reactors: usize,
}

/// One reactor's published values.
#[derive(Debug, Default)]
#[repr(align(128))]
struct Slot([AtomicU64; FIELDS]);

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

    /// Stores reactor `slot`'s totals and open connections.
    pub fn publish(&self, slot: usize, counters: &Counters, active: usize) {
        let values = to_values(counters, active as u64);
        for (cell, v) in self.slots[slot].0.iter().zip(values) {
            cell.store(v, Relaxed);
        }
    }

    /// Every reactor's last published values, added up.
    pub fn sum(&self) -> Snapshot {
        let mut total = [0u64; FIELDS];
        for slot in self.slots.iter() {
            for (t, cell) in total.iter_mut().zip(&slot.0) {
                *t = t.wrapping_add(cell.load(Relaxed));
            }
        }
        from_values(total, self.slots.len())
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
    pub fn publish(&self, counters: &Counters, active: usize) {
        self.board.publish(self.slot, counters, active);
    }
}

fn to_values(c: &Counters, active: u64) -> [u64; FIELDS] {
    let d = &c.datagrams;
    let scalars = [
        c.accepted,
        c.refused_max_conns,
        c.shed_no_fds,
        c.idle_closed,
        c.peer_errors,
        c.closed_eof,
        c.closed_shutdown,
        c.bytes_received,
        c.bytes_echoed,
        c.partial_writes,
        c.backpressure_pauses,
        c.accept_errors,
        d.echoed,
        d.bytes_echoed,
        d.dropped_loop_port,
        d.dropped_would_block,
        d.dropped_send_error,
        d.recv_errors,
        active,
        c.turns.sum_ns,
    ];
    let mut v = [0u64; FIELDS];
    v[..SCALARS].copy_from_slice(&scalars);
    v[SCALARS..].copy_from_slice(&c.turns.buckets);
    v
}

fn from_values(v: [u64; FIELDS], reactors: usize) -> Snapshot {
    let scalars: [u64; SCALARS] = v[..SCALARS].try_into().expect("SCALARS values");
    let [accepted, refused_max_conns, shed_no_fds, idle_closed, peer_errors, closed_eof, closed_shutdown, bytes_received, bytes_echoed, partial_writes, backpressure_pauses, accept_errors, echoed, d_bytes_echoed, dropped_loop_port, dropped_would_block, dropped_send_error, recv_errors, active, sum_ns] =
        scalars;
    Snapshot {
        counters: Counters {
            accepted,
            refused_max_conns,
            shed_no_fds,
            idle_closed,
            peer_errors,
            closed_eof,
            closed_shutdown,
            bytes_received,
            bytes_echoed,
            partial_writes,
            backpressure_pauses,
            accept_errors,
            datagrams: udp::Counters {
                echoed,
                bytes_echoed: d_bytes_echoed,
                dropped_loop_port,
                dropped_would_block,
                dropped_send_error,
                recv_errors,
            },
            turns: TurnTimes {
                buckets: v[SCALARS..].try_into().expect("BUCKETS values"),
                sum_ns,
            },
        },
        active,
        reactors,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The two field lists must agree: distinct values in, the same out.
    #[test]
    fn every_field_round_trips_and_slots_add_up() {
        let values: [u64; FIELDS] = std::array::from_fn(|i| 1 + i as u64);
        let one = from_values(values, 1);
        assert_eq!(to_values(&one.counters, one.active), values);
        let board = Board::new(3);
        board.publish(0, &one.counters, one.active as usize);
        board.publish(2, &one.counters, one.active as usize);
        let sum = board.sum();
        assert_eq!(sum.reactors, 3);
        let doubled: [u64; FIELDS] = std::array::from_fn(|i| 2 * values[i]);
        assert_eq!(to_values(&sum.counters, sum.active), doubled);
    }
}
