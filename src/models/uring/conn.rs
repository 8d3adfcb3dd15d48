//! One client connection of the uring model: its socket, its pending
//! echo, and which of its requests are in the kernel.
//!
//! # Two buffers, one send in flight
//!
//! Received bytes are copied out of the ring's buffer into `out`; the
//! send in flight owns `sending`, whose memory the kernel reads until the
//! send completes, so nothing may move it meanwhile. When that send has
//! taken every byte, the two swap and the next send starts. There is never
//! more than one send in flight: two on one socket may complete in either
//! order, and so could put the echo out of order.
//!
//! An idle connection holds no buffer: both go back to the model's pool
//! when the echo is flushed.
//!
//! # Straight from the ring
//!
//! A connection with nothing pending sends the ring buffer the kernel
//! just filled, without copying it ([`Conn::direct`]), and without
//! waiting (`MSG_DONTWAIT`): the send completes within the same
//! `io_uring_enter`, whatever the client does. What it could not take is
//! copied into `sending` and the buffer goes back to the ring, so a
//! client that stops reading holds no ring buffer for longer than that.

use std::time::Instant;

use crate::net::Stream;

/// Where a connection's multishot recv stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recv {
    /// Not in the kernel.
    Off,
    /// In the kernel, posting a completion per arrival.
    Armed,
    /// A cancel is on its way; its last completion has not come yet.
    Cancelling,
}

/// A client connection.
#[derive(Debug)]
pub struct Conn {
    /// The socket; `None` once closed, while requests still in the kernel
    /// hold it (their completions free the entry).
    pub sock: Option<Stream>,
    /// Unique for the daemon's lifetime; slab keys are reused, ids are not.
    pub id: u64,
    /// Received bytes not yet handed to a send.
    pub out: Vec<u8>,
    /// The bytes of the send in flight (and of the sends before it that
    /// came back short): the kernel may read them until it completes.
    pub sending: Vec<u8>,
    /// How much of `sending` the kernel has taken.
    pub sent: usize,
    /// The send in flight is straight from ring buffer `.0`, `.1` bytes
    /// (see "Straight from the ring"); `sending` and `out` are empty then.
    pub direct: Option<(u16, usize)>,
    /// The multishot recv.
    pub recv: Recv,
    /// A send is in the kernel.
    pub send_inflight: bool,
    /// The ring ran dry for this connection's recv (`ENOBUFS`): re-armed
    /// once the turn has given buffers back, not at once.
    pub starved: bool,
    /// Reading stopped because the pending echo reached `--max-buffer`.
    pub paused: bool,
    /// The peer shut down its write side (recv returned 0).
    pub eof: bool,
    /// Shutdown only: our write side is shut and input is discarded while
    /// we wait for the peer to close.
    pub lingering: bool,
    /// Last time bytes moved, for the idle timeout.
    pub last_active: Instant,
}

impl Conn {
    /// A connection just accepted, with nothing in the kernel yet.
    pub fn new(sock: Stream, id: u64, now: Instant) -> Conn {
        Conn {
            sock: Some(sock),
            id,
            out: Vec::new(),
            sending: Vec::new(),
            sent: 0,
            direct: None,
            recv: Recv::Off,
            send_inflight: false,
            starved: false,
            paused: false,
            eof: false,
            lingering: false,
            last_active: now,
        }
    }

    /// Bytes of echo not yet sent, wherever they are.
    pub fn pending(&self) -> usize {
        self.held() + self.direct.map_or(0, |(_, n)| n)
    }

    /// Bytes of echo in this connection's own buffers: what `--max-buffer`
    /// bounds. A send straight from the ring does not count: its bytes are
    /// the ring's, and what it does not take is copied here at once (see
    /// "Straight from the ring"), so reading may go on while it is in
    /// flight.
    pub fn held(&self) -> usize {
        self.out.len() + self.sending.len() - self.sent
    }

    /// Requests of this connection still in the kernel: its entry must
    /// stay until they have completed.
    pub fn in_kernel(&self) -> bool {
        self.recv != Recv::Off || self.send_inflight
    }

    /// Nothing pending here or in the kernel's send queue, and no input
    /// waiting: closing now loses nothing (see `crate::net::close`).
    pub fn is_quiet(&self) -> bool {
        self.pending() == 0
            && !self.send_inflight
            && self.sock.as_ref().is_some_and(Stream::close_is_lossless)
    }

    /// The bytes the next send should take, moving `out` into `sending`
    /// when the last send finished; `None` when a send is in flight or
    /// nothing is pending.
    pub fn next_send(&mut self) -> Option<&[u8]> {
        if self.send_inflight {
            return None;
        }
        if self.sent == self.sending.len() {
            self.sending.clear();
            self.sent = 0;
            std::mem::swap(&mut self.out, &mut self.sending);
        }
        (self.sent < self.sending.len()).then(|| &self.sending[self.sent..])
    }

    /// Takes the buffers' memory back when nothing is pending, for the
    /// pool: an idle connection holds none.
    pub fn take_idle_buffers(&mut self) -> [Vec<u8>; 2] {
        if self.pending() > 0 || self.send_inflight {
            return [Vec::new(), Vec::new()];
        }
        self.sent = 0;
        [
            std::mem::take(&mut self.out),
            std::mem::take(&mut self.sending),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn() -> Conn {
        let (a, _b) = crate::net::loopback_pair().unwrap();
        Conn::new(Stream::Tcp(a), 1, Instant::now())
    }

    // One send in flight, and what arrives meanwhile waits in `out`
    // without moving the bytes the kernel is reading.
    #[test]
    fn sends_one_at_a_time_in_order() {
        let mut c = conn();
        c.out.extend_from_slice(b"abc");
        assert_eq!(c.next_send(), Some(&b"abc"[..]));
        c.send_inflight = true;
        let at = c.sending.as_ptr();
        c.out.extend_from_slice(b"def");
        assert_eq!(c.next_send(), None, "a second send while one is in flight");
        assert_eq!(c.sending.as_ptr(), at, "the bytes in flight moved");
        assert_eq!(c.pending(), 6);
        // A short send: the rest goes next, before `out`.
        c.send_inflight = false;
        c.sent = 1;
        assert_eq!(c.next_send(), Some(&b"bc"[..]));
        c.sent = 3;
        assert_eq!(c.next_send(), Some(&b"def"[..]));
        c.sent = 3;
        assert_eq!(c.pending(), 0);
        assert_eq!(c.next_send(), None);
        // A send straight from the ring is pending but not held: its bytes
        // are the ring's, and --max-buffer bounds only our own.
        c.direct = Some((0, 100));
        assert_eq!((c.pending(), c.held()), (100, 0));
        c.direct = None;
        let [a, b] = c.take_idle_buffers();
        assert!(a.capacity() + b.capacity() > 0, "buffers given back");
        assert_eq!(c.out.capacity() + c.sending.capacity(), 0);
    }
}
