//! The stop line's totals in the threads, iterative and tokio models:
//! the reactor's [`Counters`], kept here as relaxed atomics shared by
//! every client thread or task (only the fields these models count).
//!
//! Each counter is touched once per connection or once per read (never
//! per byte), and nothing reads them until the stop line, so `Relaxed`
//! is enough: no other memory is published through them.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::counters::{AtomicCounters, Counters};

/// Running totals for the stop line.
#[derive(Debug, Default)]
pub struct Tally {
    counters: AtomicCounters,
    /// Connections that ended (`closed`), to tell how many are open.
    ended: AtomicU64,
}

impl Tally {
    /// A connection was accepted and is being served.
    pub fn accepted(&self) {
        self.counters.accepted.fetch_add(1, Relaxed);
    }

    /// `n` more bytes were written back to a client.
    pub fn echoed(&self, n: usize) {
        self.counters.bytes_echoed.fetch_add(n as u64, Relaxed);
    }

    /// A datagram of `n` bytes was sent back.
    pub fn datagram(&self, n: usize) {
        self.counters.datagrams_echoed.fetch_add(1, Relaxed);
        let bytes = &self.counters.datagram_bytes_echoed;
        bytes.fetch_add(n as u64, Relaxed);
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
                self.counters.peer_errors.fetch_add(1, Relaxed);
            }
        }
    }

    /// Connections [`accepted`](Self::accepted) and not yet
    /// [`closed`](Self::closed).
    pub fn open(&self) -> u64 {
        let ended = self.ended.load(Relaxed);
        let accepted = self.counters.accepted.load(Relaxed);
        accepted.saturating_sub(ended)
    }

    /// The totals so far.
    pub fn totals(&self) -> Counters {
        self.counters.load()
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
        let want = Counters {
            accepted: 2,
            bytes_echoed: 12,
            datagram_bytes_echoed: 3,
            peer_errors: 2,
            datagrams_echoed: 1,
            ..Counters::default()
        };
        assert_eq!(t.totals(), want);
    }
}
