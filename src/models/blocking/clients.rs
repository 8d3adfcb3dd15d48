//! Live clients of a blocking model, and the echo loop that serves one.
//!
//! # Draining without losing echoes
//!
//! A blocked `read` cannot be woken portably, and `shutdown(SHUT_RD)` is no
//! way to do it: afterwards `read` returns 0 whenever the receive queue is
//! momentarily empty, so the thread can no longer wait for the client's
//! EOF, and closing while the client still sends answers its data with a
//! reset that destroys echo still queued in our send buffer.
//!
//! So each client thread publishes where it is in a [`Phase`], and the
//! signal thread acts only where that is safe:
//! - a client in `READING` has nothing pending in user space: the signal
//!   thread shuts its *write* side (FIN after every queued echo byte), or
//!   both sides when the kernel holds nothing unsent or unread, which also
//!   wakes the blocked `read` so a quiet client is closed at once;
//! - a client in `WRITING` is echoing bytes it read before the signal: it
//!   finishes, then shuts its write side itself.
//!
//! Either way the client ends in `DRAINING`: input is read and discarded
//! until the client closes (or the shutdown deadline ends the process), so
//! the socket is never closed under the client's feet.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Instant;

use crate::net::interrupted;

/// Where a client thread is, as seen by the signal thread.
pub struct Phase(AtomicU8);

const READING: u8 = 0;
const WRITING: u8 = 1;
const DRAINING: u8 = 2;

impl Phase {
    /// Shutdown for this client: shut its write side now if it is waiting
    /// for input, or ask it to do so after its current write.
    fn drain(&self, fd: RawFd) {
        if self
            .0
            .compare_exchange(READING, DRAINING, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            // Nothing of ours in flight: shutting both sides is lossless
            // and wakes the blocked read (it returns 0), so the thread ends
            // now. Otherwise shut only the write side and let the read
            // block until the client closes.
            let how = if crate::net::close_is_lossless(fd) {
                libc::SHUT_RDWR
            } else {
                libc::SHUT_WR
            };
            // SAFETY: fd is open while the client is registered (see
            // Membership).
            unsafe { libc::shutdown(fd, how) };
        } else {
            // WRITING: the thread sees DRAINING when its write is done.
            let _ = self
                .0
                .compare_exchange(WRITING, DRAINING, Ordering::AcqRel, Ordering::Acquire);
        }
    }

    /// Got input; echo it unless shutdown got here first.
    fn start_write(&self) -> bool {
        self.0
            .compare_exchange(READING, WRITING, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// Echo written; back to reading unless shutdown arrived meanwhile.
    fn end_write(&self) -> bool {
        self.0
            .compare_exchange(WRITING, READING, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }
}

/// The registry of live clients, so shutdown can reach them.
#[derive(Default)]
pub struct Clients {
    inner: Mutex<Registry>,
    gone: Condvar,
}

#[derive(Default)]
struct Registry {
    next: u64,
    live: HashMap<u64, (RawFd, Arc<Phase>)>,
    closing: bool,
}

/// Membership of one client in [`Clients`]; dropping it leaves. Drop it
/// *before* the stream: the registry must forget a descriptor before it is
/// closed and possibly reused.
pub struct Membership {
    clients: Arc<Clients>,
    id: u64,
    phase: Arc<Phase>,
}

impl Clients {
    /// Registers `stream`, unless shutdown has begun or `max` clients are
    /// live already.
    pub fn join(self: &Arc<Self>, stream: &TcpStream, max: Option<usize>) -> Option<Membership> {
        let mut reg = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if reg.closing || max.is_some_and(|m| reg.live.len() >= m) {
            return None;
        }
        reg.next += 1;
        let id = reg.next;
        let phase = Arc::new(Phase(AtomicU8::new(READING)));
        reg.live.insert(id, (stream.as_raw_fd(), phase.clone()));
        Some(Membership {
            clients: self.clone(),
            id,
            phase,
        })
    }

    /// Refuses new clients and starts every live one draining (see the
    /// module docs).
    pub fn drain_all(&self) {
        let mut reg = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        reg.closing = true;
        for (fd, phase) in reg.live.values() {
            phase.drain(*fd);
        }
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
/// which is the backpressure. After shutdown begins, input is discarded
/// until the client closes.
pub fn echo(stream: &mut TcpStream, buf: &mut [u8], member: &Membership) -> io::Result<()> {
    let phase = &member.phase;
    loop {
        let n = match stream.read(buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if interrupted(&e) => continue,
            Err(e) => return Err(e),
        };
        if !phase.start_write() {
            continue; // draining: input that arrived after the signal
        }
        stream.write_all(&buf[..n])?;
        if !phase.end_write() {
            // The signal came while we wrote: that echo is out, so now
            // the client sees EOF after it. If the kernel has sent it all
            // and no input waits, closing at once loses nothing, as for a
            // quiet client.
            let quiet = crate::net::close_is_lossless(stream.as_raw_fd());
            stream.shutdown(Shutdown::Write)?;
            if quiet {
                return Ok(());
            }
        }
    }
}
