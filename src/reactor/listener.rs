//! Listening sockets, and the spare descriptor that lets us refuse
//! connections cleanly when the process runs out of descriptors.

use std::fs::File;

use crate::config::ListenAddr;
use crate::counters::Counters;
use crate::listen::SocketFile;
use crate::net::accept::Backoff;
use crate::net::{accept_transient, fd_limit, interrupted, Listening};

/// A listener registered with the reactor.
#[derive(Debug)]
pub struct Listener {
    /// The non-blocking socket.
    pub sock: Listening,
    /// Where it listens (for log messages).
    pub addr: ListenAddr,
    /// The socket file of a `unix:` listener we bound, removed when the
    /// listener is dropped (declared after `sock`, so dropped after it).
    pub file: Option<SocketFile>,
    /// Unique id (slab keys are reused, ids are not).
    pub id: u64,
    /// Out of descriptors: accepting waits for the retry timer.
    pub paused: bool,
    /// Wait before the next retry while paused.
    pub backoff: Backoff,
    /// On the ready queue already (spent its accept budget this turn).
    pub queued: bool,
}

impl Listener {
    /// Wraps a registered listener.
    pub fn new(sock: Listening, addr: ListenAddr, file: Option<SocketFile>, id: u64) -> Listener {
        Listener {
            sock,
            addr,
            file,
            id,
            paused: false,
            backoff: Backoff::new(),
            queued: false,
        }
    }

    /// Out of descriptors (EMFILE/ENFILE) on `accept`: says so, once per
    /// episode, then accepts what is queued (up to `budget`) with the
    /// descriptor `reserve` frees, closing each at once, so those clients
    /// see a close instead of a hang. No event will announce the
    /// connections that arrive meanwhile, nor descriptors freed elsewhere:
    /// the caller retries on a timer.
    pub fn shed(&self, reserve: &mut Reserve, budget: usize, counters: &mut Counters) {
        if self.backoff.first() {
            // Once per episode, not once per connection.
            crate::log::line(format_args!(
                "out of file descriptors (limit {}) on {}: \
                 closing new connections until some free up",
                fd_limit(),
                self.addr
            ));
        }
        if reserve.release() {
            for _ in 0..budget {
                match self.sock.accept() {
                    // Closed at once with the descriptor the reserve freed.
                    Ok(_) => counters.shed_no_fds += 1,
                    Err(e) if interrupted(&e) || accept_transient(&e) => {}
                    Err(_) => break,
                }
            }
            reserve.refill();
        }
    }
}

/// One descriptor held in reserve (on `/dev/null`).
///
/// When `accept` fails with EMFILE the pending connection stays in the
/// kernel's queue, and under edge-triggered readiness nothing will tell us
/// about it again. Closing the reserve frees exactly one descriptor, which
/// is enough to accept the waiting connections one by one and close them:
/// the clients get a prompt, clean close instead of hanging in the backlog.
/// (libuv and nginx use the same trick.)
#[derive(Debug)]
pub struct Reserve(Option<File>);

impl Reserve {
    /// Opens the reserve; if even that fails we run without one.
    pub fn new() -> Reserve {
        Reserve(File::open("/dev/null").ok())
    }

    /// Frees the reserved descriptor. Returns false if there was none.
    pub fn release(&mut self) -> bool {
        self.0.take().is_some()
    }

    /// Takes a descriptor back into reserve, if one is free.
    pub fn refill(&mut self) {
        if self.0.is_none() {
            self.0 = File::open("/dev/null").ok();
        }
    }
}

impl Default for Reserve {
    fn default() -> Self {
        Reserve::new()
    }
}
