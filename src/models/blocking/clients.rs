//! Live clients of a blocking model, and the echo loop that serves one.
//!
//! # Draining without losing echoes
//!
//! A blocked `read` cannot be woken portably, and no other thread may
//! safely do it with `shutdown`:
//! - `shutdown(SHUT_RD)` makes `read` return 0 whenever the receive queue is
//!   momentarily empty, so the thread can no longer wait for the client's
//!   EOF, and input arriving afterwards is answered with a reset that
//!   destroys echo still queued in our send buffer;
//! - `shutdown(SHUT_WR)` (or both sides) from the signal thread races with
//!   a `read` that has just returned: the bytes it took are in the client
//!   thread's hands, the kernel's queues look empty, and once the write side
//!   is shut they can never be echoed. (An earlier version did this and lost
//!   up to one buffer of echo in about one shutdown in six.)
//!
//! So only a client's own thread ever shuts its socket. The signal thread
//! raises one shared flag ([`Clients::drain_all`]); every client thread
//! reads with a short receive timeout ([`POLL`]) and looks at the flag
//! whenever its `read` returns, with data or without:
//! - with data, it echoes that data (it was read, so it is pending echo),
//!   then shuts its write side: the client sees EOF after its last byte;
//! - without (the timeout), it shuts both sides at once if the kernel holds
//!   nothing unsent or unread, which closes a quiet client within [`POLL`],
//!   or else only the write side.
//!
//! Either way the thread then lingers: input is read and discarded until
//! the client closes (or the shutdown deadline ends the process), so the
//! socket is never closed under the client's feet. The price of the
//! timeout is one wake-up per [`POLL`] of an *idle* client; a busy one
//! never times out, so the echo path is the plain read-then-write.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::log::Ended;
use crate::models::tally::Tally;
use crate::net::{interrupted, Stream};

/// How often an idle client thread looks at the drain flag: also how long
/// a quiet client waits to be closed after SIGTERM, and the granularity of
/// `--idle-timeout` in the blocking models.
pub const POLL: Duration = Duration::from_millis(50);

/// The registry of live clients, so shutdown can reach them.
#[derive(Default)]
pub struct Clients {
    inner: Mutex<Registry>,
    gone: Condvar,
    draining: AtomicBool,
    /// When [`drain_all`](Self::drain_all) was called.
    drain_began: OnceLock<Instant>,
    /// The stop line's totals, kept by every client.
    pub tally: Tally,
    /// Refusing clients over `--max-conns` since one last joined.
    refusing: crate::log::Episode,
}

#[derive(Default)]
struct Registry {
    next: u64,
    live: HashMap<u64, ()>,
    closing: bool,
}

/// Membership of one client in [`Clients`]; dropping it leaves. Drop it
/// *before* the stream: the registry must forget a descriptor before it is
/// closed and possibly reused.
pub struct Membership {
    clients: Arc<Clients>,
    id: u64,
}

impl Membership {
    /// True once shutdown has begun.
    fn draining(&self) -> bool {
        self.clients.draining.load(Ordering::Acquire)
    }

    /// This client's id, unique in the process (for `--trace`).
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The totals this client adds to.
    pub fn tally(&self) -> &Tally {
        &self.clients.tally
    }
}

impl Clients {
    /// Registers `stream`, unless shutdown has begun or `max` clients are
    /// live already (the first such refusal of an episode is logged, as
    /// for EMFILE).
    pub fn join(self: &Arc<Self>, max: Option<usize>) -> Option<Membership> {
        let mut reg = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if reg.closing {
            return None;
        }
        if let Some(m) = max.filter(|&m| reg.live.len() >= m) {
            if self.refusing.begins() {
                crate::log::max_conns_reached(m);
            }
            return None;
        }
        self.refusing.ends();
        reg.next += 1;
        let id = reg.next;
        reg.live.insert(id, ());
        Some(Membership {
            clients: self.clone(),
            id,
        })
    }

    /// Refuses new clients and tells every live one to drain; each client
    /// thread acts on it within [`POLL`] (see the module docs).
    pub fn drain_all(&self) {
        let mut reg = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        reg.closing = true;
        self.draining.store(true, Ordering::Release);
        self.drain_began.get_or_init(Instant::now);
    }

    /// How long ago [`drain_all`](Self::drain_all) was called, if it was.
    pub fn draining_for(&self) -> Option<Duration> {
        self.drain_began.get().map(Instant::elapsed)
    }

    /// Clients live now: during a drain, the ones still draining.
    pub fn live(&self) -> usize {
        let reg = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        reg.live.len()
    }

    /// The drain as it stands now, ended by `end`, for the stop line:
    /// `None` if no drain began.
    pub fn drain(&self, end: crate::log::DrainEnd) -> Option<crate::log::Drain> {
        let took = self.draining_for()?;
        let cut = match end {
            crate::log::DrainEnd::Complete => 0,
            _ => self.live() as u64,
        };
        Some(crate::log::Drain { took, end, cut })
    }

    /// Waits until no client is live, or until `deadline`.
    pub fn wait_empty(&self, deadline: Instant) {
        let mut reg = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        while !reg.live.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            reg = self
                .gone
                .wait_timeout(reg, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }
}

impl Drop for Membership {
    fn drop(&mut self) {
        let mut reg = self.clients.inner.lock().unwrap_or_else(|p| p.into_inner());
        reg.live.remove(&self.id);
        self.clients.gone.notify_all();
    }
}

/// Serves one client: read, write it all back, repeat, until the client
/// shuts its write side (`Ok`, everything echoed) or fails. Memory is
/// bounded by `buf`: a client that stops reading blocks us in `write`,
/// which is the backpressure. `idle` closes a client that sends nothing
/// for that long. After shutdown begins, whatever was read is echoed, the
/// write side is shut, and input is discarded until the client closes.
///
/// The stream must have a read timeout of [`POLL`] (see `configure`).
pub fn echo(
    stream: &mut Stream,
    buf: &mut [u8],
    member: &Membership,
    idle: Option<Duration>,
) -> io::Result<Ended> {
    let mut last_input = Instant::now();
    loop {
        let n = match stream.read(buf) {
            Ok(0) => return Ok(Ended::ClientEof),
            Ok(n) => n,
            Err(e) if interrupted(&e) => continue,
            Err(e) if timed_out(&e) => {
                if member.draining() {
                    return stop(stream, buf);
                }
                if idle.is_some_and(|d| last_input.elapsed() >= d) {
                    return Err(e);
                }
                continue;
            }
            Err(e) => return Err(e),
        };
        last_input = Instant::now();
        stream.write_all(&buf[..n])?;
        member.tally().echoed(n);
        if member.draining() {
            return stop(stream, buf);
        }
    }
}

/// A read timed out (SO_RCVTIMEO reports EAGAIN, or ETIMEDOUT elsewhere).
fn timed_out(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// Shutdown for this client, from its own thread with nothing in hand: the
/// client sees EOF after every echoed byte; the socket closes when the
/// client does.
fn stop(stream: &mut Stream, buf: &mut [u8]) -> io::Result<Ended> {
    // Nothing unsent or unread in the kernel: closing now loses nothing,
    // so a quiet client is not kept waiting for its own EOF.
    if stream.close_is_lossless() {
        let _ = stream.shutdown(Shutdown::Both);
        return Ok(Ended::QuietAtShutdown);
    }
    stream.shutdown(Shutdown::Write)?;
    loop {
        match stream.read(buf) {
            Ok(0) => return Ok(Ended::AfterShutdownEof),
            Ok(_) => {}
            Err(e) if interrupted(&e) || timed_out(&e) => {}
            Err(e) => return Err(e),
        }
    }
}
