//! The tokio model: a `current_thread` runtime and one task per connection,
//! written the way a tokio user would write an echo server.
//!
//! It is here to be measured against the hand-written [`reactor`]: the same
//! epoll underneath, but readiness, wake-ups and timers belong to the
//! runtime, and each connection is a future holding its own buffer.
//!
//! # The loop
//!
//! 1. [`run`] builds the runtime, turns the pre-bound std listeners into
//!    tokio ones (`from_std`), installs the signal streams, spawns one
//!    accept task per TCP or Unix listener (a `unix:` one removes its
//!    socket file when it closes at the drain) and one echo task per `--listen udp:`
//!    socket ([`datagrams`]), and only then announces the listeners.
//! 2. An accept task ([`accept`]) awaits `accept` or the drain flag. A
//!    connection over `--max-conns` finds no permit and is dropped, so
//!    closed, at once; the others get TCP_NODELAY (TCP) and a task of
//!    their own, generic over tokio's `AsyncRead + AsyncWrite`.
//! 3. A connection task ([`conn`]) owns one `--max-buffer` buffer and
//!    loops: `read` (bounded by `--idle-timeout`), then `write_all`, until
//!    the client's EOF.
//! 4. The supervisor (the future `run` blocks on) waits for the first
//!    SIGINT/SIGTERM, raises the drain flag, then waits for every task to
//!    finish, for `--shutdown-timeout`, or for a second signal. SIGHUP is
//!    logged and ignored throughout (see [`crate::signals`]).
//!
//! # Draining: what cancellation may cut
//!
//! The drain flag is a `watch` channel, and every task holds a receiver:
//! the supervisor learns that all tasks are gone when the sender reports
//! it has none left (`closed`), with no registry of its own. Only a
//! connection's `read` is raced against the flag. That is safe because a
//! cancelled tokio `read` has taken nothing; a `write_all` is never
//! raced, because the bytes it holds were read and are owed to the client.
//! Once the flag is up and nothing is in hand, a connection closes at once
//! if the kernel holds nothing unsent or unread, and otherwise shuts its
//! write side (the client sees EOF after its last byte) and discards input
//! until the client closes: closing with input unread would send a reset
//! that destroys echo still queued (see `models/blocking/clients.rs`).
//!
//! # Memory and backpressure
//!
//! A connection holds its buffer for its whole life, idle or not (the
//! reactor lends one from a pool only while echo is pending): that is the
//! price of the task model, and what `compare` measures. While `write_all`
//! awaits a client that does not read, the task reads nothing, so memory
//! per connection stays at one buffer. Fairness comes from tokio's
//! cooperative budget: a task whose socket is always ready is made to
//! yield after a bounded number of operations.
//!
//! # Out of descriptors
//!
//! An `accept` error other than would-block leaves the listener's
//! readiness set, so retrying at once would spin. The accept task logs one
//! line per episode and retries on a backoff (20 ms doubling to 1 s);
//! queued clients wait in the backlog meanwhile, as in the blocking models.
//!
//! [`reactor`]: crate::reactor

pub mod accept;
pub mod conn;
pub mod datagrams;
pub mod signals;

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{watch, Semaphore};

use crate::config::Config;
use crate::config::ListenAddr;
use crate::error::{Error, Stopped};
use crate::listen::{self, Bound};
use crate::log::{Drain, DrainEnd};
use crate::models::tally::Tally;
use signals::Signals;

/// What every task gets a copy of.
#[derive(Clone)]
pub struct Ctx {
    /// Size of each connection's buffer (`--max-buffer`).
    pub max_buffer: usize,
    /// `--idle-timeout`: longest wait for a read or a write to move bytes.
    pub idle: Option<Duration>,
    /// Set TCP_NODELAY on accepted connections (`--nodelay`, and only
    /// on a TCP listener's).
    pub nodelay: bool,
    /// Closing a connection now loses nothing: the rule for the
    /// listener's kind, [`crate::net::close_is_lossless`] (TCP) or
    /// [`crate::net::unix_close_is_lossless`].
    pub lossless: fn(std::os::fd::RawFd) -> bool,
    /// `--max-conns` as permits; `None` without a limit.
    pub limit: Option<Arc<Semaphore>>,
    /// `--max-conns`, for the line that says it was reached.
    pub max_conns: usize,
    /// Refusing connections over `--max-conns` since one last got a
    /// permit: logged once per episode.
    pub refusing: Arc<crate::log::Episode>,
    /// The stop line's totals, kept by every connection task.
    pub tally: Arc<Tally>,
    /// The last connection id handed out (ids name connections in
    /// `--trace` lines).
    pub ids: Arc<std::sync::atomic::AtomicU64>,
    /// Becomes true once, at the first SIGINT/SIGTERM. Holding it is also
    /// what keeps the supervisor waiting (see "Draining" in the module docs).
    pub drain: watch::Receiver<bool>,
}

/// Runs the tokio model on already bound listeners until a signal stops
/// it.
pub fn run(config: &Config, listeners: Vec<Bound>) -> Result<Stopped, Error> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .map_err(|e| Error::Startup(format!("cannot start the tokio runtime: {e}")))?;
    rt.block_on(serve(config, listeners))
    // Dropping the runtime here drops whatever tasks are left (a drain cut
    // short by the deadline or a second signal): their sockets close.
}

async fn serve(config: &Config, listeners: Vec<Bound>) -> Result<Stopped, Error> {
    let signals = Signals::install()
        .map_err(|e| Error::Startup(format!("cannot install signal handlers: {e}")))?;
    let announced: Vec<_> = listeners.iter().map(Bound::listen_addr).collect();
    let listen::ByKind { tcp, udp, unix } = listen::split(listeners);
    let mut socks = Vec::with_capacity(tcp.len());
    for (sock, addr) in tcp {
        let sock = accept::into_tokio(sock)
            .map_err(|e| Error::Startup(format!("cannot listen on tcp://{addr}: {e}")))?;
        socks.push((sock, addr));
    }
    let mut unix_socks = Vec::with_capacity(unix.len());
    for (sock, path, file) in unix {
        let addr = ListenAddr::Unix(path);
        let sock = accept::unix_into_tokio(sock)
            .map_err(|e| Error::Startup(format!("cannot listen on {addr}: {e}")))?;
        unix_socks.push((sock, addr, file));
    }
    let mut dgrams = Vec::with_capacity(udp.len());
    for (sock, addr) in udp {
        let sock = datagrams::into_tokio(sock)
            .map_err(|e| Error::Startup(format!("cannot listen on udp://{addr}: {e}")))?;
        dgrams.push((sock, addr));
    }
    let (drain, watching) = watch::channel(false);
    let ctx = Ctx {
        max_buffer: config.max_buffer,
        idle: config.idle_timeout,
        nodelay: config.nodelay,
        lossless: crate::net::close_is_lossless,
        limit: config.max_conns.map(|n| Arc::new(Semaphore::new(n))),
        max_conns: config.max_conns.unwrap_or(0),
        refusing: Arc::default(),
        tally: Arc::default(),
        ids: Arc::default(),
        drain: watching,
    };
    let tally = ctx.tally.clone();
    for (sock, addr) in socks {
        let tcp = tokio::net::TcpListener::poll_accept;
        tokio::spawn(accept::run(
            sock,
            tcp,
            ListenAddr::Tcp(addr),
            None,
            ctx.clone(),
        ));
    }
    for (sock, addr, file) in unix_socks {
        let unix = Ctx {
            nodelay: false, // no Nagle on a Unix socket
            lossless: crate::net::unix_close_is_lossless,
            ..ctx.clone()
        };
        tokio::spawn(accept::run(
            sock,
            accept::unix_poll_accept,
            addr,
            file,
            unix,
        ));
    }
    for (sock, addr) in dgrams {
        tokio::spawn(datagrams::run(sock, addr, ctx.drain.clone(), tally.clone()));
    }
    drop(ctx); // the supervisor holds no receiver: only tasks count
    listen::announce(&announced);
    crate::log::started(config, &announced);
    let (stopped, drained) = supervise(signals, drain, &tally, config.shutdown_timeout).await;
    crate::log::stopped_with(Some(tally.totals()), Some(drained));
    Ok(stopped)
}

/// Waits for the first SIGINT/SIGTERM, starts the drain, and says how it
/// ended: every task finished or the grace ran out (`Drained`), or a
/// second signal came (`Forced`); and, for the stop line, how long the
/// drain took and how many connections it cut short.
async fn supervise(
    mut signals: Signals,
    drain: watch::Sender<bool>,
    tally: &Tally,
    grace: Duration,
) -> (Stopped, Drain) {
    let sig = signals.next_stop().await;
    let began = Instant::now();
    crate::log::draining(sig, tally.open(), grace);
    drain.send_replace(true);
    let (stopped, end) = tokio::select! {
        () = drain.closed() => (Stopped::Drained, DrainEnd::Complete),
        () = tokio::time::sleep_until(shutdown_deadline(grace)) => {
            (Stopped::Drained, DrainEnd::TimedOut)
        }
        sig = signals.next_stop() => (Stopped::Forced(sig), DrainEnd::Signal(sig)),
    };
    // Dropped with the runtime, unfinished.
    let cut = match end {
        DrainEnd::Complete => 0,
        _ => tally.open(),
    };
    let drained = Drain {
        took: began.elapsed(),
        end,
        cut,
    };
    (stopped, drained)
}

/// When a drain that starts now must end. Saturates: `--shutdown-timeout`
/// may be anything up to `Duration::MAX` in a `Config` built in code.
fn shutdown_deadline(grace: Duration) -> tokio::time::Instant {
    tokio::time::Instant::from_std(crate::time::deadline(Instant::now(), grace))
}

/// Resolves once the drain flag is up (or its sender is gone, which only
/// happens as the runtime shuts down). Cancel-safe.
pub async fn drained(drain: &mut watch::Receiver<bool>) {
    let _ = drain.wait_for(|&up| up).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A runtime like the one [`run`] builds.
    pub(super) fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()
            .unwrap()
    }

    // Regression guard for the timeout overflow (`--shutdown-timeout
    // 500000000000y` panicked at SIGTERM in the other models): a Config
    // built in code can still carry Duration::MAX.
    #[test]
    fn duration_max_grace_does_not_overflow() {
        runtime().block_on(async {
            let end = shutdown_deadline(Duration::MAX);
            let waited =
                tokio::time::timeout(Duration::from_millis(20), tokio::time::sleep_until(end))
                    .await;
            assert!(waited.is_err(), "a deadline centuries away fired at once");
        });
    }
}
