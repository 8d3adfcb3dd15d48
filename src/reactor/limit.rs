//! `--max-conns` for the reactor model: one count of open connections for
//! the whole process, shared by every reactor of `--threads N`.
//!
//! The limit is the process's, not a reactor's: the kernel spreads new
//! connections over the reactors by a hash, so a per-reactor share would
//! refuse a client on a reactor that drew more than its part while
//! another had room (`--threads 2 --max-conns 50` refused one of 50
//! clients that way). So each reactor takes a slot from this count when it
//! admits a connection and gives it back when the connection closes.
//!
//! # Contract
//!
//! - [`take`](ConnLimit::take) never lets the count pass the limit, even
//!   with every reactor taking at once: it is a compare-and-swap, not an
//!   add that is undone when it overshoots (which could refuse a client
//!   while the true count was below the limit).
//! - Every slot taken is given back exactly once, by the reactor that took
//!   it, when that connection closes.

use std::sync::atomic::{AtomicUsize, Ordering};

/// Connections open in the process, against `--max-conns`.
#[derive(Debug)]
pub struct ConnLimit {
    max: usize,
    open: AtomicUsize,
    /// Refusing since the count last went below the limit: logged once.
    refusing: crate::log::Episode,
}

impl ConnLimit {
    /// A count of zero against a limit of `max` connections.
    pub fn new(max: usize) -> ConnLimit {
        ConnLimit {
            max,
            open: AtomicUsize::new(0),
            refusing: crate::log::Episode::default(),
        }
    }

    /// Takes a slot for a new connection: false, and nothing taken, when
    /// `max` are open already. The first refusal of an episode (since the
    /// last slot taken) is logged, once for the process.
    pub fn take(&self) -> bool {
        // Relaxed: the count orders nothing else; only its value matters.
        let taken = self
            .open
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                (n < self.max).then_some(n + 1)
            })
            .is_ok();
        if taken {
            self.refusing.ends();
        } else if self.refusing.begins() {
            crate::log::max_conns_reached(self.max);
        }
        taken
    }

    /// Gives back the slot of a connection that closed.
    pub fn give_back(&self) {
        self.open.fetch_sub(1, Ordering::Relaxed);
    }

    /// The limit, `--max-conns`.
    pub fn max(&self) -> usize {
        self.max
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_passes_the_limit_and_frees_on_give_back() {
        let l = ConnLimit::new(2);
        assert!(l.take() && l.take());
        assert!(!l.take(), "a third slot out of two");
        l.give_back();
        assert!(l.take());
        assert!(!l.take());
    }
}
