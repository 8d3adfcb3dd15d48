//! The stop line's totals in the threads, iterative and tokio models:
//! what the reactor keeps in its `Counters`, kept here with relaxed
//! atomics shared by every client thread or task.
//!
//! Each counter is touched once per connection or once per read (never
//! per byte), and nothing reads them until the stop line, so `Relaxed`
//! is enough: no other memory is published through them.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::log::Totals;

/// Running totals for the stop line.
#[derive(Debug, Default)]
pub struct Tally {
    connections: AtomicU64,
    bytes_echoed: AtomicU64,
    resets: AtomicU64,
    datagrams: AtomicU64,
    /// Connections that ended (`closed`), to tell how many are open.
    ended: AtomicU64,
}

impl Tally {
    /// A connection was accepted and is being served.
    pub fn accepted(&self) {
        self.connections.fetch_add(1, Relaxed);
    }

    /// `n` more bytes were written back to a client.
    pub fn echoed(&self, n: usize) {
        self.bytes_echoed.fetch_add(n as u64, Relaxed);
    }

    /// A datagram of `n` bytes was sent back.
    pub fn datagram(&self, n: usize) {
        self.datagrams.fetch_add(1, Relaxed);
        self.bytes_echoed.fetch_add(n as u64, Relaxed);
    }

    /// A connection ended as `served` says: an error other than a timeout
    /// (`--idle-timeout`, or the blocking models' read poll) means the
    /// peer failed, which the stop line counts as a reset.
    pub fn closed<T>(&self, served: &io::Result<T>) {
        self.ended.fetch_add(1, Relaxed);
        if let Err(e) = served {
            if !matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ) {
                self.resets.fetch_add(1, Relaxed);
            }
        }
    }

    /// Connections [`accepted`](Self::accepted) and not yet
    /// [`closed`](Self::closed).
    pub fn open(&self) -> u64 {
        let ended = self.ended.load(Relaxed);
        self.connections.load(Relaxed).saturating_sub(ended)
    }

    /// The totals so far.
    pub fn totals(&self) -> Totals {
        Totals {
            connections: self.connections.load(Relaxed),
            bytes_echoed: self.bytes_echoed.load(Relaxed),
            resets: self.resets.load(Relaxed),
            datagrams: self.datagrams.load(Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_are_not_resets() {
        let t = Tally::default();
        t.accepted();
        t.accepted();
        t.echoed(5);
        t.echoed(7);
        t.closed(&Ok(()));
        t.closed::<()>(&Err(io::ErrorKind::TimedOut.into()));
        t.closed::<()>(&Err(io::ErrorKind::WouldBlock.into()));
        t.closed::<()>(&Err(io::ErrorKind::ConnectionReset.into()));
        t.closed::<()>(&Err(io::ErrorKind::BrokenPipe.into()));
        t.datagram(3);
        let want = Totals {
            connections: 2,
            bytes_echoed: 15,
            resets: 2,
            datagrams: 1,
        };
        assert_eq!(t.totals(), want);
    }
}
