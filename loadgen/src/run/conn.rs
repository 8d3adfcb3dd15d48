//! One generator connection: its socket, its outgoing bytes, and the FIFO of
//! requests whose replies it is waiting for.
//!
//! Data flows one way: a request is appended to `out` (and its timing to
//! `inflight`) by [`Conn::issue`]; [`Conn::flush`] moves `out` to the socket;
//! [`Conn::read`] takes echoed bytes from the socket through the verifier and
//! pops one `inflight` entry per completed reply. Nothing else touches these
//! fields, so `inflight` is always in send order, which is the order an echo
//! server must reply in.

use std::collections::VecDeque;
use std::io::{self, Read, Write};

use mio::net::TcpStream;

use crate::payload;
use crate::verify::{StreamVerifier, Verdict};

/// Unsent bytes a connection buffers before it stops taking new requests.
///
/// Keeping this small keeps the recorded "sent" time close to the moment the
/// kernel really took the bytes; requests beyond it wait in the open-loop
/// backlog as intended times only, which cost 8 bytes each.
pub const OUT_HIGH_WATER: usize = 64 * 1024;

/// Timing of one request whose reply has not fully arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Inflight {
    /// When the schedule meant to send it (ns since the run's base instant).
    pub intended: u64,
    /// When it was handed to the connection's send path.
    pub sent: u64,
}

/// A generator connection. See the module docs for how data moves.
#[derive(Debug)]
pub struct Conn {
    /// The socket (registered with the engine's poller under this
    /// connection's index).
    pub stream: TcpStream,
    /// Global connection index, carried in every request header.
    pub id: u32,
    size: usize,
    next_seq: u64,
    out: Vec<u8>,
    out_pos: usize,
    /// Requests sent, oldest first, awaiting their replies.
    pub inflight: VecDeque<Inflight>,
    /// Open loop only: intended times of requests that are due but not yet
    /// issued because `out` is full.
    pub backlog: VecDeque<u64>,
    verifier: StreamVerifier,
    /// Bytes the kernel has accepted for sending.
    pub written: u64,
    /// Bytes received back.
    pub received: u64,
    /// False once the connection has failed or been closed.
    pub open: bool,
    /// Whether the socket is registered for writable events.
    pub write_interest: bool,
}

fn would_block(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::WouldBlock
}

fn interrupted(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::Interrupted
}

/// What a [`Conn::read`] found besides replies.
#[derive(Debug, PartialEq, Eq)]
pub enum ReadEnd {
    /// The socket has no more bytes for now.
    Drained,
    /// The server closed its side.
    Eof,
}

impl Conn {
    /// Wraps a connected socket.
    pub fn new(stream: TcpStream, id: u32, size: usize) -> Conn {
        Conn {
            stream,
            id,
            size,
            next_seq: 0,
            out: Vec::with_capacity(OUT_HIGH_WATER.max(size)),
            out_pos: 0,
            inflight: VecDeque::new(),
            backlog: VecDeque::new(),
            verifier: StreamVerifier::new(id, size),
            written: 0,
            received: 0,
            open: true,
            write_interest: true,
        }
    }

    /// Unsent bytes buffered in the connection.
    pub fn unsent(&self) -> usize {
        self.out.len() - self.out_pos
    }

    /// True when another request may be appended without passing
    /// [`OUT_HIGH_WATER`] (an empty buffer always takes one, whatever its size).
    pub fn has_room(&self) -> bool {
        self.unsent() == 0 || self.unsent() + self.size <= OUT_HIGH_WATER
    }

    /// True when every request handed to the connection has its reply
    /// (backlogged requests, never issued, do not count).
    pub fn drained(&self) -> bool {
        self.inflight.is_empty()
    }

    /// Appends the next request, recording its intended and actual send
    /// times. Call [`Conn::flush`] to put it on the wire.
    pub fn issue(&mut self, intended: u64, now: u64) {
        if self.out_pos == self.out.len() {
            self.out.clear();
            self.out_pos = 0;
        }
        payload::append(&mut self.out, self.id, self.next_seq, self.size);
        self.next_seq += 1;
        self.inflight.push_back(Inflight {
            intended,
            sent: now,
        });
    }

    /// Writes buffered bytes until the socket would block or none are left.
    pub fn flush(&mut self) -> io::Result<()> {
        while self.out_pos < self.out.len() {
            match self.stream.write(&self.out[self.out_pos..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    self.out_pos += n;
                    self.written += n as u64;
                }
                Err(e) if would_block(&e) => return Ok(()),
                Err(e) if interrupted(&e) => {}
                Err(e) => return Err(e),
            }
        }
        self.out.clear();
        self.out_pos = 0;
        Ok(())
    }

    /// Reads until the socket is drained or reaches EOF, verifying every
    /// byte and pushing `(timing, verdict)` for each completed reply to
    /// `done`.
    ///
    /// # Draining readiness
    /// A read that returns less than the buffer holds has emptied the
    /// socket's receive queue, so this stops there instead of paying one
    /// more `recv` just to see `WouldBlock`. That is safe with Linux epoll in
    /// edge-triggered mode, which mio uses: every segment that arrives after
    /// the poll returned raises a new readiness event. The one thing that can
    /// hide behind a short read is a FIN or error that arrived *before* the
    /// poll returned, and that event says so: pass `closing` =
    /// `event.is_read_closed() || event.is_error()`, and the read then goes
    /// on to EOF or `WouldBlock` as usual. The shortcut saves a third of the
    /// generator's syscalls in ping-pong, which is what keeps the generator
    /// from being the bottleneck (see `benches/generator_overhead.sh`).
    ///
    /// # Errors
    /// Socket errors, and `InvalidData` when the server sends more bytes
    /// than it was sent (no echo can do that).
    pub fn read(
        &mut self,
        scratch: &mut [u8],
        closing: bool,
        done: &mut Vec<(Inflight, Verdict)>,
    ) -> io::Result<ReadEnd> {
        loop {
            let n = match self.stream.read(scratch) {
                Ok(0) => return Ok(ReadEnd::Eof),
                Ok(n) => n,
                Err(e) if would_block(&e) => return Ok(ReadEnd::Drained),
                Err(e) if interrupted(&e) => continue,
                Err(e) => return Err(e),
            };
            if self.received + n as u64 > self.written {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "server sent {} bytes more than it was sent",
                        self.received + n as u64 - self.written
                    ),
                ));
            }
            self.received += n as u64;
            let inflight = &mut self.inflight;
            self.verifier.feed(&scratch[..n], |_, verdict| {
                // Cannot be empty: received <= written, and every written
                // byte belongs to a request in `inflight`.
                let timing = inflight.pop_front().expect("reply without request");
                done.push((timing, verdict));
            });
            if n < scratch.len() && !closing {
                return Ok(ReadEnd::Drained);
            }
        }
    }

    /// Backlogged requests (never sent) whose intended time falls in the
    /// measurement window `[from, to)`: owed to the report as unsent.
    pub fn unsent_in(&self, from: u64, to: u64) -> u64 {
        self.backlog
            .iter()
            .filter(|&&x| x >= from && x < to)
            .count() as u64
    }

    /// Requests sent whose replies are missing or incomplete.
    pub fn outstanding(&self) -> u64 {
        self.inflight.len() as u64
    }

    /// Bytes of the reply currently being received.
    pub fn partial_reply(&self) -> usize {
        self.verifier.partial()
    }
}
