//! Plumbing shared by the blocking models.
//!
//! Blocking code cannot wait on a signal and a socket at once, so signals
//! get a thread of their own ([`watch_signals`]): the first SIGINT/SIGTERM
//! wakes the [`Acceptor`], shuts the read side of every live client (their
//! blocked `read` returns 0, they flush and close) and starts the shutdown
//! deadline; a second signal, or the deadline, ends the process.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use mio::net::TcpListener;
use mio::{Events, Interest, Poll, Token, Waker};
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use crate::listen::Bound;
use crate::net::{accept_transient, fd_exhausted, fd_limit, interrupted, would_block};
use crate::{Config, Error, Stopped};

const WAKE_TOKEN: Token = Token(usize::MAX);
const MIN_BACKOFF: Duration = Duration::from_millis(20);
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// What a blocking model runs on: the acceptor, the registry of live
/// clients, and the stop flag the first signal sets.
pub struct Server {
    acceptor: Acceptor,
    /// Live clients; a model registers each one before serving it.
    pub clients: Arc<Clients>,
    stop: Arc<AtomicBool>,
    grace: Duration,
}

impl Server {
    /// Registers the listeners, installs the signal handling, then
    /// announces the listeners (so "listening" means signals are handled).
    pub fn start(config: &Config, listeners: Vec<Bound>) -> Result<Server, Error> {
        let addrs: Vec<_> = listeners.iter().map(|b| b.addr).collect();
        let acceptor = Acceptor::new(listeners)
            .map_err(|e| Error::Startup(format!("cannot start the acceptor: {e}")))?;
        let clients = Arc::new(Clients::default());
        let stop = watch_signals(config, acceptor.waker(), clients.clone())?;
        crate::listen::announce(&addrs);
        Ok(Server {
            acceptor,
            clients,
            stop,
            grace: config.shutdown_timeout,
        })
    }

    /// The next client, blocking; `None` once shutdown has begun.
    pub fn next_client(&mut self) -> Result<Option<TcpStream>, Error> {
        self.acceptor
            .next(&self.stop)
            .map_err(|e| Error::Runtime(format!("accept loop failed: {e}")))
    }

    /// Waits up to `--shutdown-timeout` for live clients to finish.
    pub fn finish(self) -> Stopped {
        self.clients.wait_empty(Instant::now() + self.grace);
        Stopped::Drained
    }
}

/// Waits for connections on every listener, or for shutdown.
pub struct Acceptor {
    poll: Poll,
    events: Events,
    listeners: Vec<(TcpListener, std::net::SocketAddr)>,
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
    pub fn new(listeners: Vec<Bound>) -> io::Result<Acceptor> {
        let poll = Poll::new()?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKE_TOKEN)?);
        let mut socks = Vec::with_capacity(listeners.len());
        for (i, b) in listeners.into_iter().enumerate() {
            let mut sock = TcpListener::from_std(b.socket);
            poll.registry()
                .register(&mut sock, Token(i), Interest::READABLE)?;
            socks.push((sock, b.addr));
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
                        Err(e) => {
                            // EMFILE and friends: the connection stays
                            // queued and no new edge will say so. Retry
                            // after a pause instead of spinning.
                            if self.backoff == MIN_BACKOFF {
                                if fd_exhausted(&e) {
                                    eprintln!(
                                        "echod: out of file descriptors (limit {}) on tcp://{addr}; retrying",
                                        fd_limit()
                                    );
                                } else {
                                    eprintln!(
                                        "echod: accept on tcp://{addr} failed: {e}; retrying"
                                    );
                                }
                            }
                            self.retry_at = Some(Instant::now() + self.backoff);
                            self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
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

/// Live clients, so shutdown can reach their blocked reads.
#[derive(Default)]
pub struct Clients {
    inner: Mutex<Registry>,
    gone: Condvar,
}

#[derive(Default)]
struct Registry {
    next: u64,
    live: HashMap<u64, RawFd>,
    closing: bool,
}

/// Membership of one client in [`Clients`]; leaving drops it. Declare it
/// *after* the stream so it drops first: the registry must forget a
/// descriptor before it is closed and possibly reused.
pub struct Membership {
    clients: Arc<Clients>,
    id: u64,
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
        reg.live.insert(id, stream.as_raw_fd());
        Some(Membership {
            clients: self.clone(),
            id,
        })
    }

    /// Refuses new clients and shuts the read side of every live one, so
    /// each echoes what it has and finishes.
    pub fn shut_all(&self) {
        let mut reg = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        reg.closing = true;
        for &fd in reg.live.values() {
            // SAFETY: the fd is open: members leave (under this lock)
            // before their stream is closed.
            unsafe { libc::shutdown(fd, libc::SHUT_RD) };
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

/// Starts the signal thread: the first SIGINT/SIGTERM sets `stop`, wakes
/// the acceptor and shuts every client's read side; after
/// `--shutdown-timeout` the process exits 0 even if a client is stuck
/// (say, in a write to a peer that never reads). A second signal exits at
/// once with 128 + its number.
pub fn watch_signals(
    config: &Config,
    waker: Arc<Waker>,
    clients: Arc<Clients>,
) -> Result<Arc<AtomicBool>, Error> {
    let mut signals = Signals::new([SIGINT, SIGTERM])
        .map_err(|e| Error::Startup(format!("cannot install signal handlers: {e}")))?;
    let stop = Arc::new(AtomicBool::new(false));
    let grace = config.shutdown_timeout;
    let s = stop.clone();
    std::thread::Builder::new()
        .name("echod-signals".into())
        .spawn(move || {
            for sig in signals.forever() {
                if s.swap(true, Ordering::SeqCst) {
                    std::process::exit(128 + sig);
                }
                let _ = waker.wake();
                clients.shut_all();
                std::thread::Builder::new()
                    .name("echod-deadline".into())
                    .spawn(move || {
                        // This sleep *is* the deadline, not a synchronisation.
                        std::thread::sleep(grace);
                        std::process::exit(0);
                    })
                    .ok();
            }
        })
        .map_err(|e| Error::Startup(format!("cannot start the signal thread: {e}")))?;
    Ok(stop)
}

/// Echoes until the client shuts its write side (then returns `Ok`, with
/// everything written back) or fails. Memory is bounded by `buf`: a client
/// that stops reading blocks us in `write`, which is the backpressure.
pub fn echo(stream: &mut TcpStream, buf: &mut [u8]) -> io::Result<()> {
    loop {
        let n = match stream.read(buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if interrupted(&e) => continue,
            Err(e) => return Err(e),
        };
        stream.write_all(&buf[..n])?;
    }
}

/// Applies per-connection options: TCP_NODELAY and, with
/// `--idle-timeout`, read and write timeouts so a silent or non-reading
/// client is dropped after that long.
pub fn configure(stream: &TcpStream, config: &Config) -> io::Result<()> {
    if config.nodelay {
        stream.set_nodelay(true)?;
    }
    stream.set_read_timeout(config.idle_timeout)?;
    stream.set_write_timeout(config.idle_timeout)?;
    Ok(())
}
