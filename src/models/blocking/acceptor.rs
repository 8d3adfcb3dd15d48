//! Accepting for the blocking models: a private `mio::Poll` over the
//! listeners plus a `Waker`, so the accepting thread can sleep until a
//! connection arrives *or* shutdown begins, on any platform, without
//! relying on a signal or a `shutdown` to interrupt a blocked `accept`.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use mio::{Events, Interest, Poll, Token, Waker};

use super::listeners::Listeners;
use crate::config::ListenAddr;
use crate::listen::SocketFile;
use crate::net::accept::Backoff;
use crate::net::{accept_transient, interrupted, would_block, Listening, Stream};
use crate::time::deadline;

const WAKE_TOKEN: Token = Token(usize::MAX);

/// Waits for connections on every listener, or for shutdown.
pub struct Acceptor {
    poll: Poll,
    events: Events,
    listeners: Arc<Listeners>,
    /// Listeners that may have connections queued (edge-triggered).
    ready: Vec<bool>,
    waker: Arc<Waker>,
    /// Out of descriptors: no accept before this instant.
    retry_at: Option<Instant>,
    /// Wait before the next retry if accepting fails again.
    backoff: Backoff,
}

impl Acceptor {
    /// Registers the listeners (TCP or Unix, non-blocking) with a private
    /// `mio::Poll`; `files` are the socket files to remove when they stop.
    pub fn new(
        listeners: Vec<(Listening, ListenAddr)>,
        files: Vec<SocketFile>,
    ) -> io::Result<Acceptor> {
        let poll = Poll::new()?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKE_TOKEN)?);
        let mut socks = Vec::with_capacity(listeners.len());
        for (i, (mut sock, addr)) in listeners.into_iter().enumerate() {
            poll.registry()
                .register(&mut sock, Token(i), Interest::READABLE)?;
            socks.push((sock, addr));
        }
        let ready = vec![true; socks.len()];
        Ok(Acceptor {
            poll,
            events: Events::with_capacity(64),
            listeners: Arc::new(Listeners::new(socks, files)),
            ready,
            waker,
            retry_at: None,
            backoff: Backoff::new(),
        })
    }

    /// A handle that makes [`next`](Self::next) return promptly.
    pub fn waker(&self) -> Arc<Waker> {
        self.waker.clone()
    }

    /// The listeners, for the signal thread to stop (see `listeners.rs`).
    pub fn listeners(&self) -> Arc<Listeners> {
        self.listeners.clone()
    }

    /// The next accepted connection, as a blocking socket, or `None` once
    /// `stop` is set.
    pub fn next(&mut self, stop: &AtomicBool) -> io::Result<Option<Stream>> {
        loop {
            if stop.load(Ordering::SeqCst) {
                return Ok(None);
            }
            if self.retry_at.is_some_and(|at| Instant::now() >= at) {
                // The retry timer: any listener may have a queue again.
                self.retry_at = None;
                self.ready.iter_mut().for_each(|r| *r = true);
            }
            if self.retry_at.is_none() {
                for i in 0..self.listeners.list.len() {
                    if !self.ready[i] {
                        continue;
                    }
                    let l = &self.listeners.list[i];
                    match l.sock.accept() {
                        Ok(s) => {
                            self.backoff.reset();
                            // Accepted sockets inherit O_NONBLOCK from the
                            // listener on BSD/macOS (not on Linux), and
                            // these models block.
                            return s.set_nonblocking(false).map(|()| Some(s));
                        }
                        Err(e) if would_block(&e) => self.ready[i] = false,
                        Err(e) if interrupted(&e) || accept_transient(&e) => {}
                        Err(_) if stop.load(Ordering::SeqCst) => return Ok(None),
                        Err(e) => {
                            // EMFILE and friends: the connection stays
                            // queued and no new edge will say so. Retry
                            // after a pause instead of spinning.
                            if self.backoff.first() {
                                crate::log::accept_failure(&l.addr, &e);
                            }
                            self.retry_at = Some(deadline(Instant::now(), self.backoff.fail()));
                            break;
                        }
                    }
                }
            }
            let timeout = self
                .retry_at
                .map(|at| at.saturating_duration_since(Instant::now()));
            match self.poll.poll(&mut self.events, timeout) {
                Ok(()) => {}
                Err(e) if interrupted(&e) => continue,
                Err(e) => return Err(e),
            }
            for ev in self.events.iter() {
                if let Some(r) = self.ready.get_mut(ev.token().0) {
                    *r = true;
                }
            }
        }
    }
}

impl Drop for Acceptor {
    /// The signal thread may hold the listeners longer: stop them (and
    /// remove the socket files) now, as the process is done accepting.
    fn drop(&mut self) {
        self.listeners.stop();
    }
}
