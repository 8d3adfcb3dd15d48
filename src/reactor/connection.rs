//! One client connection (TCP or Unix stream: see [`crate::net::Stream`]): its
//! socket, its pending echo, and what the reactor knows of its readiness.
//!
//! Data flows one way: socket → [`Buffer`] → socket. The connection owns
//! its buffer; the reactor lends it the pool and the registry for the
//! duration of one [`Connection::drive`] call.
//!
//! # Readiness is remembered, not re-asked
//!
//! mio is edge-triggered: an event says "this became readable", once. So
//! the connection keeps `readable`/`writable` flags, set by events and
//! cleared only when a syscall answers `WouldBlock`. That is what lets the
//! reactor stop early (fairness budget, full buffer) and resume later
//! without a new event: a connection that stopped with `readable` still
//! set is put on the reactor's ready queue, and one that stopped because
//! its buffer was full resumes reading as soon as a write makes room.
//!
//! # A short read means drained
//!
//! `readable` is also cleared by a read that returns fewer bytes than it
//! asked for: the receive queue is empty, and the `read` that would only
//! answer `WouldBlock` is skipped. That is one syscall of three in a
//! ping-pong echo. It is safe because readiness is edge-triggered (epoll
//! `EPOLLET`, kqueue `EV_CLEAR`): every segment that arrives after the
//! read took the queue raises a new event, so no later data goes
//! unannounced. What *can* hide behind a short read is a FIN or an error
//! that arrived before the event was delivered; such an event says so
//! (`is_read_closed`/`is_error`), and from then on the connection reads
//! until `read` returns 0 or `WouldBlock`, as without the shortcut.
//!
//! The other thing is TCP urgent data (`MSG_OOB`, telnet's Synch): a read
//! stops at the urgent mark, so it comes back short although the bytes
//! after the mark are already queued, and no new event will announce
//! them. On Linux connections are registered for `EPOLLPRI` as well
//! ([`READ_INTEREST`]), which the kernel raises while urgent data is
//! pending; an event that carries it makes the connection read on to
//! `WouldBlock`, like a hang-up does, until one read says the queue is
//! empty. The common case keeps its saving. kqueue reports no such flag
//! through mio, so elsewhere a short read is not trusted at all
//! ([`SHORT_READ_MEANS_DRAINED`]).
//!
//! # Urgent data is echoed inline
//!
//! RFC 862 asks for every byte received to be sent back, and says nothing
//! of urgency. Every listener (TCP) or accepted connection (Unix) has
//! `SO_OOBINLINE` set ([`crate::net::urgent_inline`]), so the urgent byte
//! stays in the stream where the client put it and is echoed there, as an
//! ordinary byte: `abc`, urgent `!`, `def` comes back as `abc!def`. Without
//! it the kernel would take the byte out of the stream and the echo would
//! silently lose it.
//!
//! # Echo straight through
//!
//! A connection with nothing pending reads into the reactor's scratch area
//! and writes those bytes straight back; only what the socket refuses is
//! copied into a buffer of the connection's own. The common echo thus
//! touches no per-connection memory at all.
//!
//! # Bulk flows splice
//!
//! A connection that reads a whole read area at once is streaming, and
//! from then on (`--splice auto`, Linux, TCP) it echoes through a pipe
//! with `splice(2)` instead, copying nothing (see [`super::splice`]). Its
//! pending echo is then the pipe's contents instead of a buffer's: at any
//! moment a connection has at most one of the two, and none when nothing
//! is pending.

use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::os::fd::AsRawFd;
use std::time::Instant;

use mio::event::Event;
use mio::{Interest, Registry, Token};

use super::buffer::{Buffer, Pool};
use super::splice::{self, Pipe, Pipes};
use crate::counters::Counters;
use crate::log::TARGET;
use crate::net::{interrupted, would_block, Stream};
use tracing::trace;

/// Bytes read from one connection per turn before the others get theirs.
/// Small enough that one flooding client cannot hold the loop for long.
///
/// Not smaller, though: Linux grows a TCP socket's receive buffer only
/// when the application reads more in one round trip than the window it
/// started with (64 KiB; `tcp_rcv_space_adjust`). With a budget of exactly
/// 64 KiB a saturated reactor never did, and its sockets kept their
/// initial 128 KiB buffers: smaller reads, more ACKs and window updates
/// per byte, and runs that settled at two different speeds depending on
/// whether a buffer happened to grow early. Four read areas per turn let
/// it grow (docs/performance.md, "Saturation").
pub const READ_BUDGET: usize = 256 << 10;

/// Most bytes one read asks for: the size of the shared scratch area (or
/// `--max-buffer`, if smaller). Large enough that a bulk transfer moves in
/// big syscalls.
pub const READ_AREA: usize = 64 << 10;

/// What a connection is registered for on the read side: readable, and on
/// Linux urgent data too (see "A short read means drained").
#[cfg(any(target_os = "linux", target_os = "android"))]
pub const READ_INTEREST: Interest = Interest::READABLE.add(Interest::PRIORITY);
/// What a connection is registered for on the read side: readable, and on
/// Linux urgent data too (see "A short read means drained").
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub const READ_INTEREST: Interest = Interest::READABLE;

/// Whether a short read may be taken for an empty receive queue: only where
/// urgent data raises an event of its own (see "A short read means
/// drained").
pub const SHORT_READ_MEANS_DRAINED: bool = cfg!(any(target_os = "linux", target_os = "android"));

/// What the reactor should do with a connection after driving it.
#[derive(Debug, PartialEq, Eq)]
pub enum Drive {
    /// Keep it. `more` means it stopped only because its budget ran out
    /// and must be driven again without waiting for an event.
    Open {
        /// Work is left that no event will announce.
        more: bool,
    },
    /// Close it: the peer finished, failed, or shutdown is complete.
    Close,
}

/// What one drive may use that the reactor owns.
pub struct Ctx<'a> {
    /// The buffer pool.
    pub pool: &'a mut Pool,
    /// The pipe pool, for connections that splice.
    pub pipes: &'a mut Pipes,
    /// `--splice`.
    pub splice: splice::Mode,
    /// For switching WRITABLE interest on and off.
    pub registry: &'a Registry,
    /// This connection's token.
    pub token: Token,
    /// The loop's cached clock.
    pub now: Instant,
    /// Shutdown in progress: flush, take no new input.
    pub draining: bool,
    /// Counters to bump.
    pub counters: &'a mut Counters,
}

/// A client connection.
#[derive(Debug)]
pub struct Connection {
    sock: Stream,
    /// Unique for the daemon's lifetime; slab keys are reused, ids are not.
    pub id: u64,
    /// The pending echo when it was copied; `None` whenever nothing is
    /// pending or it is in `pipe`.
    buf: Option<Buffer>,
    /// The pending echo when it was spliced; `None` whenever nothing is
    /// pending or it is in `buf`.
    pipe: Option<Pipe>,
    /// The flow is bulk: read by splicing (see "Bulk flows splice").
    bulk: bool,
    readable: bool,
    writable: bool,
    /// The peer shut down its write side (read returned 0).
    eof: bool,
    /// An event reported a hang-up or error: read to EOF or `WouldBlock`,
    /// never stop at a short read (see the module docs).
    closing: bool,
    /// An event reported urgent data: a short read may have stopped at its
    /// mark, so read on until `WouldBlock` says the queue is empty.
    urgent: bool,
    /// WRITABLE is part of the registered interest.
    write_interest: bool,
    /// Shutdown only: our write side is shut and input is discarded while
    /// we wait for the peer to close (closing with unread input would send
    /// a reset that can destroy echoes still in flight).
    lingering: bool,
    /// Last time bytes moved, for the idle timeout.
    pub last_active: Instant,
    /// On the reactor's ready queue already.
    pub queued: bool,
}

impl Connection {
    /// Wraps an accepted socket that is registered for READABLE only.
    pub fn new(sock: Stream, id: u64, now: Instant) -> Connection {
        Connection {
            sock,
            id,
            buf: None,
            pipe: None,
            bulk: false,
            // An accepted socket is writable; whether data is already
            // waiting, the registration's first event will tell.
            readable: false,
            writable: true,
            eof: false,
            closing: false,
            urgent: false,
            write_interest: false,
            lingering: false,
            last_active: now,
            queued: false,
        }
    }

    /// The socket, for registration.
    pub fn socket(&mut self) -> &mut Stream {
        &mut self.sock
    }

    /// Folds an event into the remembered readiness. Errors and hang-ups
    /// count as both: the next syscall reports what really happened.
    pub fn on_event(&mut self, event: &Event) {
        trace!(target: TARGET, conn = self.id, readable = event.is_readable(),
            writable = event.is_writable(), hup = event.is_read_closed(),
            error = event.is_error(), urgent = event.is_priority(), "event");
        if event.is_readable() || event.is_read_closed() || event.is_error() {
            self.readable = true;
        }
        if event.is_read_closed() || event.is_error() {
            self.closing = true;
        }
        if event.is_priority() {
            self.urgent = true;
        }
        if event.is_writable() || event.is_write_closed() || event.is_error() {
            self.writable = true;
        }
    }

    /// Bytes of echo held for this connection.
    pub fn pending(&self) -> usize {
        self.buf.as_ref().map_or(0, Buffer::len) + self.pipe.as_ref().map_or(0, Pipe::len)
    }

    /// Nothing pending here or in the kernel's send queue, and no input
    /// waiting: closing now loses nothing and sends a clean FIN.
    /// Where the kernel cannot say, the answer is no and shutdown takes the
    /// careful path (flush, shut the write side, wait for the client).
    pub fn is_quiet(&self) -> bool {
        self.pending() == 0 && !self.readable && self.sock.close_is_lossless()
    }

    /// Moves as many bytes as readiness, budget and `--max-buffer` allow,
    /// then sets the interest to match what is left.
    pub fn drive(&mut self, cx: &mut Ctx<'_>) -> Drive {
        let more = match self.pump(cx) {
            Ok(more) => more,
            // Resets, broken pipes, timeouts: this peer is gone, and only
            // this connection pays for it.
            Err(e) => {
                trace!(target: TARGET, conn = self.id, "close: peer error: {e}");
                cx.counters.peer_errors += 1;
                return Drive::Close;
            }
        };
        if self.buf.as_ref().is_some_and(Buffer::is_empty) {
            cx.pool.put(self.buf.take().expect("checked above"));
        }
        let pending = self.buf.is_some() || self.pipe.is_some();
        if self.eof && !pending {
            if self.lingering {
                // The client closed after the EOF our shutdown sent.
                trace!(target: TARGET, conn = self.id, "close: client closed after our shutdown EOF");
                cx.counters.closed_shutdown += 1;
            } else {
                trace!(target: TARGET, conn = self.id, "close: client EOF, echo flushed");
                cx.counters.closed_eof += 1;
            }
            return Drive::Close;
        }
        if pending != self.write_interest {
            let interest = if pending {
                READ_INTEREST | Interest::WRITABLE
            } else {
                READ_INTEREST
            };
            if cx
                .registry
                .reregister(&mut self.sock, cx.token, interest)
                .is_err()
            {
                // The socket failed under us: counted as a peer failure.
                cx.counters.peer_errors += 1;
                return Drive::Close;
            }
            self.write_interest = pending;
        }
        Drive::Open { more }
    }

    /// Gives the buffer or pipe back before the connection is dropped.
    pub fn release(&mut self, pool: &mut Pool, pipes: &mut Pipes) {
        if let Some(buf) = self.buf.take() {
            pool.put(buf);
        }
        if let Some(pipe) = self.pipe.take() {
            pipes.put(pipe);
        }
    }

    /// The loop behind [`drive`](Self::drive): flush, read, repeat. Returns
    /// whether it stopped on the budget with input still waiting.
    fn pump(&mut self, cx: &mut Ctx<'_>) -> io::Result<bool> {
        let mut budget = READ_BUDGET;
        if cx.splice == splice::Mode::Always && splice::applies(&self.sock) {
            self.bulk = true;
        }
        loop {
            if self.pipe.is_some() {
                self.flush_pipe(cx)?;
            }
            if let Some(buf) = self.buf.as_mut() {
                if self.writable && !buf.is_empty() {
                    let was_full = buf.room() == 0;
                    self.writable = flush(&mut self.sock, buf, cx.counters)?;
                    self.last_active = cx.now;
                    if was_full && buf.room() > 0 {
                        trace!(target: TARGET, conn = self.id, pending = buf.len(), "backpressure: resume reading");
                    }
                }
            }
            if cx.draining && !self.lingering && !self.eof && self.pending() == 0 {
                // Everything echoed: the client sees EOF after its last byte.
                self.sock.shutdown(Shutdown::Write)?;
                self.lingering = true;
            }
            if self.eof || !self.readable {
                return Ok(false);
            }
            if budget == 0 {
                return Ok(true);
            }
            if cx.draining && !self.lingering {
                // Still flushing; take no new input. WRITABLE brings us back.
                return Ok(false);
            }
            if self.pipe.is_some() {
                // Only into an empty pipe (see `splice`): WRITABLE brings
                // us back once it has drained.
                return Ok(false);
            }
            if self.bulk && !self.lingering && self.buf.is_none() && !self.urgent {
                if let Some(n) = self.splice_in(cx, budget)? {
                    budget -= n;
                    continue;
                }
                // No pipe to be had: copy this time.
            }
            let (asked, got) = if self.lingering {
                let mut sink = [0u8; 4096];
                let n = budget.min(sink.len());
                (n, self.sock.read(&mut sink[..n]))
            } else if self.buf.is_none() {
                let area = cx.pool.scratch().len();
                let n = budget.min(area);
                let got = self.echo_through(cx, n);
                if matches!(got, Ok(k) if k == area && k >= splice::SMALL)
                    && cx.splice != splice::Mode::Off
                    && splice::applies(&self.sock)
                {
                    // A full read area: a bulk sender (see `splice`).
                    self.bulk = true;
                }
                (n, got)
            } else {
                let buf = self.buf.as_mut().expect("checked above");
                if buf.room() == 0 {
                    // Backpressure: no reads until a write makes room.
                    // `readable` stays set, so that write resumes reading.
                    return Ok(false);
                }
                let spare = buf.spare(budget);
                let n = spare.len();
                match self.sock.read(spare) {
                    Ok(got) => {
                        buf.filled(got);
                        note_if_full(self.id, buf, cx.counters);
                        (n, Ok(got))
                    }
                    Err(e) => (n, Err(e)),
                }
            };
            match got {
                Ok(0) => {
                    trace!(target: TARGET, conn = self.id, "read: EOF");
                    self.eof = true;
                }
                Ok(n) => {
                    trace!(target: TARGET, conn = self.id, bytes = n, "read");
                    budget -= n;
                    cx.counters.bytes_received += n as u64;
                    self.last_active = cx.now;
                    if n < asked && SHORT_READ_MEANS_DRAINED && !self.closing && !self.urgent {
                        // Drained (see "A short read means drained").
                        self.readable = false;
                    }
                }
                Err(e) if would_block(&e) => {
                    self.readable = false;
                    self.urgent = false;
                }
                Err(e) if interrupted(&e) => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Splices up to `budget` bytes from the socket into an empty pipe.
    /// Returns the bytes moved, or `None` when no pipe could be had (the
    /// caller copies instead). End of stream and an empty socket are
    /// handled here, and return `Some(0)`.
    fn splice_in(&mut self, cx: &mut Ctx<'_>, budget: usize) -> io::Result<Option<usize>> {
        let Some(mut pipe) = cx.pipes.take() else {
            self.bulk = false;
            return Ok(None);
        };
        let got = pipe.fill(self.sock.as_raw_fd(), budget);
        let n = match got {
            Ok(0) => {
                trace!(target: TARGET, conn = self.id, "splice: EOF");
                self.eof = true;
                0
            }
            Ok(n) => {
                trace!(target: TARGET, conn = self.id, bytes = n, "splice");
                cx.counters.bytes_received += n as u64;
                self.last_active = cx.now;
                if n < splice::SMALL && cx.splice == splice::Mode::Auto {
                    // Small messages are cheaper to copy.
                    self.bulk = false;
                }
                n
            }
            // Not the short-read rule: an empty pipe answers EAGAIN only
            // for an empty socket, but a short splice proves nothing.
            Err(e) if would_block(&e) => {
                self.readable = false;
                0
            }
            Err(e) if interrupted(&e) => 0,
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                // This socket cannot splice after all: copy from now on.
                self.bulk = false;
                cx.pipes.put(pipe);
                return Ok(None);
            }
            Err(e) => {
                cx.pipes.put(pipe);
                return Err(e);
            }
        };
        if pipe.is_empty() {
            cx.pipes.put(pipe);
        } else {
            self.pipe = Some(pipe);
        }
        Ok(Some(n))
    }

    /// Splices the pipe's pending bytes back into the socket while it takes
    /// them; gives the pipe back once it is empty.
    fn flush_pipe(&mut self, cx: &mut Ctx<'_>) -> io::Result<()> {
        let Some(pipe) = self.pipe.as_mut() else {
            return Ok(());
        };
        while self.writable && !pipe.is_empty() {
            match pipe.drain(self.sock.as_raw_fd()) {
                Ok(n) => {
                    cx.counters.bytes_echoed += n as u64;
                    self.last_active = cx.now;
                }
                Err(e) if would_block(&e) => {
                    trace!(target: TARGET, conn = self.id, pending = pipe.len(), "partial write (pipe)");
                    cx.counters.partial_writes += 1;
                    self.writable = false;
                }
                Err(e) if interrupted(&e) => {}
                Err(e) => return Err(e),
            }
        }
        if pipe.is_empty() {
            cx.pipes.put(self.pipe.take().expect("checked above"));
        }
        Ok(())
    }

    /// Reads at most `limit` bytes into the scratch area and writes them
    /// straight back; keeps in a buffer of its own only what the socket
    /// would not take. Returns what `read` returned.
    fn echo_through(&mut self, cx: &mut Ctx<'_>, limit: usize) -> io::Result<usize> {
        let scratch = &mut cx.pool.scratch()[..limit];
        let n = self.sock.read(scratch)?;
        let mut sent = 0;
        while sent < n && self.writable {
            match self.sock.write(&scratch[sent..n]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(k) => sent += k,
                Err(e) if would_block(&e) => self.writable = false,
                Err(e) if interrupted(&e) => {}
                Err(e) => return Err(e),
            }
        }
        cx.counters.bytes_echoed += sent as u64;
        if sent < n {
            // A partial write is normal: the rest waits for WRITABLE.
            trace!(target: TARGET, conn = self.id, sent, kept = n - sent, "partial write");
            cx.counters.partial_writes += 1;
            let buf = cx.pool.keep(sent..n);
            note_if_full(self.id, &buf, cx.counters);
            self.buf = Some(buf);
        }
        Ok(n)
    }
}

/// Counts (and traces) a backpressure pause when `buf` has just reached
/// `--max-buffer`: reading stops until a write makes room.
fn note_if_full(conn: u64, buf: &Buffer, counters: &mut Counters) {
    if buf.room() == 0 {
        trace!(target: TARGET, conn, pending = buf.len(), "backpressure: pause reading");
        counters.backpressure_pauses += 1;
    }
}

/// Writes pending bytes until none are left or the socket is full.
/// Returns whether the socket may still be writable.
fn flush(sock: &mut Stream, buf: &mut Buffer, counters: &mut Counters) -> io::Result<bool> {
    while !buf.is_empty() {
        match sock.write(buf.pending()) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => {
                // A partial write is normal: keep the rest for WRITABLE.
                buf.consumed(n);
                counters.bytes_echoed += n as u64;
            }
            Err(e) if would_block(&e) => {
                trace!(target: TARGET, pending = buf.len(), "partial write");
                counters.partial_writes += 1;
                return Ok(false);
            }
            Err(e) if interrupted(&e) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}
