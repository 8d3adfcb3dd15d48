//! Accepting for the blocking models: a private `mio::Poll` over the
//! listeners plus a `Waker`, so the accepting thread can sleep until a
//! connection arrives *or* shutdown begins.

use std::io;
use std::net::{SocketAddr, TcpStream};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::net::TcpListener;
use mio::{Events, Interest, Poll, Token, Waker};

use crate::net::{accept_transient, interrupted, would_block};
use crate::time::deadline;

const WAKE_TOKEN: Token = Token(usize::MAX);
const MIN_BACKOFF: Duration = Duration::from_millis(20);
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// Waits for connections on every listener, or for shutdown.
pub struct Acceptor {
    poll: Poll,
    events: Events,
    listeners: Vec<(TcpListener, SocketAddr)>,
    /// Listeners that may have connections queued (edge-triggered).
    ready: Vec<bool>,
    waker: Arc<Waker>,
    /// Out of descriptors: no accept before this instant.
    retry_at: Option<Instant>,
    /// Wait before the next retry if accepting fails again.
    backoff: Duration,
}

impl Acceptor {
    /// Registers the listeners with a private `mio::Poll`.
    pub fn new(listeners: Vec<(std::net::TcpListener, SocketAddr)>) -> io::Result<Acceptor> {
        let poll = Poll::new()?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKE_TOKEN)?);
        let mut socks = Vec::with_capacity(listeners.len());
        for (i, (sock, addr)) in listeners.into_iter().enumerate() {
            let mut sock = TcpListener::from_std(sock);
            poll.registry()
                .register(&mut sock, Token(i), Interest::READABLE)?;
            socks.push((sock, addr));
        }
        let ready = vec![true; socks.len()];
        Ok(Acceptor {
            poll,
            events: Events::with_capacity(64),
            listeners: socks,
            ready,
            waker,
            retry_at: None,
            backoff: MIN_BACKOFF,
        })
    }

    /// A handle that makes [`next`](Self::next) return promptly.
    pub fn waker(&self) -> Arc<Waker> {
        self.waker.clone()
    }

    /// The listening descriptors, valid for as long as the acceptor lives
    /// (the signal thread stops them; see `signals.rs`).
    pub fn listener_fds(&self) -> Vec<RawFd> {
        self.listeners.iter().map(|(l, _)| l.as_raw_fd()).collect()
    }

    /// The next accepted connection, as a blocking std socket, or `None`
    /// once `stop` is set.
    pub fn next(&mut self, stop: &AtomicBool) -> io::Result<Option<TcpStream>> {
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
                for i in 0..self.listeners.len() {
                    if !self.ready[i] {
                        continue;
                    }
                    let (sock, addr) = &self.listeners[i];
                    match sock.accept() {
                        Ok((s, _)) => {
                            self.backoff = MIN_BACKOFF;
                            return into_blocking(s).map(Some);
                        }
                        Err(e) if would_block(&e) => self.ready[i] = false,
                        Err(e) if interrupted(&e) || accept_transient(&e) => {}
                        Err(_) if stop.load(Ordering::SeqCst) => return Ok(None),
                        Err(e) => {
                            // EMFILE and friends: the connection stays
                            // queued and no new edge will say so. Retry
                            // after a pause instead of spinning.
                            if self.backoff == MIN_BACKOFF {
                                crate::net::log_accept_failure(*addr, &e);
                            }
                            self.retry_at = Some(deadline(Instant::now(), self.backoff));
                            self.backoff = self.backoff.saturating_mul(2).min(MAX_BACKOFF);
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

/// Accepted sockets inherit O_NONBLOCK from the listener on BSD/macOS (not
/// on Linux); the blocking models want them blocking everywhere.
fn into_blocking(s: mio::net::TcpStream) -> io::Result<TcpStream> {
    use std::os::fd::{FromRawFd, IntoRawFd};
    // SAFETY: the descriptor comes straight from mio's TcpStream, which
    // owned it; ownership moves to the std TcpStream.
    let s = unsafe { TcpStream::from_raw_fd(s.into_raw_fd()) };
    s.set_nonblocking(false)?;
    Ok(s)
}
