//! The single-threaded reactor: one `mio::Poll`, one slab, no locks.
//!
//! # The loop
//!
//! Each turn:
//! 1. `poll`, sleeping until an event or the earliest timer; not at all if
//!    connections are left with work from the previous turn.
//! 2. Drive the *ready queue*: connections (and listeners, and UDP
//!    sockets) that stopped last turn only because their budget ran out. This runs before new
//!    events so no accept can reuse a slab key they still name.
//! 3. Dispatch this turn's events by token.
//! 4. Fire due timers: idle timeouts, accept retries, the shutdown deadline.
//! 5. Reap: remove the entries closed during this turn from the slab, and
//!    close the free pipes if no connection spliced this turn (the poll of
//!    step 1 waits at most [`splice::LINGER`] while some are kept).
//! 6. With `--metrics`, record how long steps 2 to 5 took (the turn,
//!    [`crate::metrics::histogram`]) and publish the counters for scrapes
//!    (see [`crate::metrics`]).
//!
//! # Stale events
//!
//! Closing a connection frees its descriptor at once but leaves an
//! [`Entry::Closed`] in its slab slot until step 5. A later event of the
//! same batch for that token finds `Closed` and is dropped, instead of
//! reaching a new connection that reused the key. Timers and ready-queue
//! entries carry the entry's unique id as well as its key for the same
//! reason.
//!
//! # Fairness and backpressure
//!
//! A connection reads at most [`connection::READ_BUDGET`] bytes per turn,
//! a listener accepts at most [`ACCEPT_BUDGET`] connections per turn, a
//! UDP socket echoes at most [`udp::DATAGRAM_BUDGET`] datagrams per turn
//! (and drops the replies it cannot send at once: see [`udp`]), and
//! a connection whose pending echo reaches `--max-buffer` stops reading
//! until the client reads some of it: memory per connection is bounded by
//! one buffer, and a client that never reads only stalls itself.
//!
//! # Shutdown
//!
//! On the first SIGINT/SIGTERM every listener is emptied and then closed;
//! UDP sockets close (nothing to drain); quiet connections close; the others flush their pending echo (reading
//! no new input), shut their write side and discard input until the client
//! closes, or until `--shutdown-timeout`.
//!
//! *Emptied* because closing a listener resets every connection still in
//! its accept queue: clients whose handshake the kernel completed, that
//! may have sent a request already. So before the close the listener is
//! accepted from until `WouldBlock` (no fairness budget, at most
//! `--backlog` connections), and those connections drain like the others:
//! a clean EOF, never a reset. Still reset are the handshakes that
//! complete between that last `accept` and the close (microseconds), and
//! those whose final ACK has not reached the server by then (the client's
//! connect already succeeded at the SYN-ACK): any server that closes a
//! listener has that window. With `--threads` this is what makes closing
//! one listener of a SO_REUSEPORT group harmless (see [`crate::supervisor`]).

pub mod buffer;
pub mod connection;
pub mod limit;
pub mod listener;
pub mod splice;
pub mod timers;
pub mod udp;

use std::io;
use std::sync::Arc;
use std::time::Instant;

use mio::event::Event;
use mio::{Events, Interest, Poll, Token};
use signal_hook_mio::v1_0::Signals;
use slab::Slab;

use crate::config::Config;
use crate::counters::Counters;
use crate::error::{Error, Stopped};
use crate::listen::{Bound, Socket};
use crate::log::Drain;
use crate::metrics::board::Publisher;
use crate::metrics::histogram::TurnTimes;
use crate::net::{accept_transient, fd_exhausted, interrupted, would_block, Listening, Stream};
use crate::time::deadline;
use buffer::Pool;
use connection::{Connection, Ctx, Drive};
use limit::ConnLimit;
use listener::{Listener, Reserve};
use splice::Pipes;
use timers::{Timer, Timers};
use udp::{Datagrams, Turn};

/// Connections accepted from one listener per turn before others get a go.
pub const ACCEPT_BUDGET: usize = 128;

/// Free buffers the pool keeps after a burst.
const POOL_KEEP: usize = 64;

/// Most pipes lent out at once: an eighth of the descriptor limit, two
/// descriptors each, so splicing never starves `accept` (see [`splice`]).
fn max_pipes() -> usize {
    (crate::net::fd_limit() / 8).clamp(1, 1 << 16) as usize
}

/// Signals arrive as events on this token; slab keys never reach it.
const SIGNAL_TOKEN: Token = Token(usize::MAX);

/// A scrape wakes the reactor on this token (`--metrics`), so that it
/// ends a turn and publishes (see [`crate::metrics::board`]); the event
/// itself needs no handling, and no slab key reaches it.
const WAKE_TOKEN: Token = Token(usize::MAX - 1);

/// What lives in a slab slot.
#[derive(Debug)]
pub enum Entry {
    /// A listening socket, TCP or Unix.
    Listener(Listener),
    /// A client connection.
    Conn(Connection),
    /// A UDP socket (`--listen udp:ADDR`).
    Udp(Datagrams),
    /// Closed during this turn; removed at the end of it.
    Closed,
}

/// The reactor's whole state. Owned by one thread; nothing is shared.
pub struct Reactor {
    poll: Poll,
    entries: Slab<Entry>,
    signals: Signals,
    pool: Pool,
    /// Pipes for the connections that splice (see [`splice`]).
    pipes: Pipes,
    /// Where datagrams are received and echoed from: [`udp::BUFFER`]
    /// bytes (a batch of slots on Linux) with a UDP socket, none without. Apart from the pool's
    /// scratch area, which `--max-buffer` may make smaller than a datagram.
    datagram: Box<[u8]>,
    timers: Timers,
    /// `(key, id)` of entries with work left over from their budget.
    ready: Vec<(usize, u64)>,
    /// Keys closed this turn, removed from the slab at the end of it.
    closed: Vec<usize>,
    reserve: Reserve,
    conns: usize,
    /// `--max-conns`: the process's count, shared with the other reactors
    /// of `--threads N` (see [`limit`]).
    limit: Option<Arc<ConnLimit>>,
    next_id: u64,
    now: Instant,
    draining: bool,
    /// When the first SIGINT/SIGTERM began the drain, for the stop line.
    pub drain_began: Option<Instant>,
    /// The drain ended because `--shutdown-timeout` ran out.
    timed_out: bool,
    /// Told how many connections are open when the drain begins, instead
    /// of this reactor logging it (see [`report_drain`](Self::report_drain)).
    on_drain: Option<Box<dyn FnMut(u64) + Send>>,
    config: Config,
    /// Totals since startup.
    pub counters: Counters,
    /// Lengths of the loop's turns (with `--metrics` only).
    turns: TurnTimes,
    /// Where the counters are published each turn (`--metrics`).
    publisher: Option<Publisher>,
}

/// Runs one reactor on this thread, on already bound listeners, until a
/// signal stops it. With `publisher` it publishes its counters there
/// each turn (`--metrics`); `announce` prints what else the process
/// serves, after the `listening on` lines and before the start line.
pub fn run(
    config: &Config,
    listeners: Vec<Bound>,
    publisher: Option<Publisher>,
    announce: impl FnOnce(),
) -> Result<Stopped, Error> {
    let addrs: Vec<_> = listeners.iter().map(Bound::listen_addr).collect();
    let mut reactor = Reactor::new(config, listeners)
        .map_err(|e| Error::Startup(format!("cannot start the reactor: {e}")))?;
    if let Some(publisher) = publisher {
        reactor
            .publish_to(publisher)
            .map_err(|e| Error::Startup(format!("cannot serve --metrics: {e}")))?;
    }
    crate::listen::announce(&addrs);
    announce();
    crate::log::started(config, &addrs);
    let stopped = reactor
        .run()
        .map_err(|e| Error::Runtime(format!("event loop failed: {e}")))?;
    crate::log::stopped_with(Some(reactor.counters), reactor.drain(stopped));
    Ok(stopped)
}

impl Reactor {
    /// Registers the listeners and the signal handlers. SIGINT, SIGTERM and
    /// SIGHUP are caught from here on.
    pub fn new(config: &Config, listeners: Vec<Bound>) -> io::Result<Reactor> {
        Reactor::catching(config, listeners, &crate::signals::HANDLED)
    }

    /// [`new`](Self::new), catching only `signals`: with several reactors
    /// in one process, [`crate::supervisor`] catches SIGHUP once for all of them.
    pub fn catching(
        config: &Config,
        listeners: Vec<Bound>,
        signals: &[libc::c_int],
    ) -> io::Result<Reactor> {
        let poll = Poll::new()?;
        let mut signals = Signals::new(signals)?;
        poll.registry()
            .register(&mut signals, SIGNAL_TOKEN, Interest::READABLE)?;
        let mut reactor = Reactor {
            poll,
            entries: Slab::with_capacity(1024),
            signals,
            pool: Pool::new(config.max_buffer, POOL_KEEP, connection::READ_AREA),
            pipes: Pipes::new(config.max_buffer, POOL_KEEP, max_pipes()),
            datagram: Box::default(),
            timers: Timers::default(),
            ready: Vec::new(),
            closed: Vec::new(),
            reserve: Reserve::new(),
            conns: 0,
            limit: config.max_conns.map(|max| Arc::new(ConnLimit::new(max))),
            next_id: 1,
            now: Instant::now(),
            draining: false,
            drain_began: None,
            timed_out: false,
            on_drain: None,
            config: config.clone(),
            counters: Counters::default(),
            turns: Default::default(),
            publisher: None,
        };
        for bound in listeners {
            let key = reactor.entries.vacant_key();
            let id = reactor.fresh_id();
            let registry = reactor.poll.registry();
            let stream_listener = |mut sock: Listening| -> io::Result<Entry> {
                registry.register(&mut sock, Token(key), Interest::READABLE)?;
                Ok(Entry::Listener(Listener::new(
                    sock,
                    bound.addr.clone(),
                    bound.file,
                    id,
                )))
            };
            let entry = match bound.socket {
                Socket::Tcp(sock) => {
                    stream_listener(Listening::Tcp(mio::net::TcpListener::from_std(sock)))?
                }
                Socket::Unix(sock) => {
                    stream_listener(Listening::Unix(mio::net::UnixListener::from_std(sock)))?
                }
                Socket::Udp(sock) => {
                    let mut sock = mio::net::UdpSocket::from_std(sock);
                    registry.register(&mut sock, Token(key), Interest::READABLE)?;
                    if reactor.datagram.is_empty() {
                        reactor.datagram = vec![0; udp::BUFFER].into_boxed_slice();
                    }
                    let addr = bound
                        .addr
                        .ip_addr()
                        .expect("a UDP socket has an IP address");
                    Entry::Udp(Datagrams::new(sock, addr, id))
                }
            };
            reactor.entries.insert(entry);
        }
        Ok(reactor)
    }

    /// The event loop. Returns when shutdown has drained (or timed out), or
    /// at once on a second signal.
    pub fn run(&mut self) -> io::Result<Stopped> {
        let mut events = Events::with_capacity(1024);
        loop {
            let mut timeout = if self.ready.is_empty() {
                self.timers.timeout(Instant::now())
            } else {
                Some(std::time::Duration::ZERO)
            };
            if self.pipes.holds_free() {
                // Wake once more to close them if nothing splices by then.
                timeout = Some(timeout.map_or(splice::LINGER, |t| t.min(splice::LINGER)));
            }
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if interrupted(&e) {
                    continue;
                }
                return Err(e);
            }
            self.now = Instant::now();
            self.run_ready();
            for event in events.iter() {
                if event.token() == SIGNAL_TOKEN {
                    if let Some(stop) = self.on_signals() {
                        return Ok(stop);
                    }
                } else {
                    self.on_event(event);
                }
            }
            if self.fire_timers() {
                self.timed_out = true;
                return Ok(Stopped::Drained);
            }
            self.reap();
            self.pipes.trim();
            self.end_turn();
            if self.draining && self.conns == 0 {
                return Ok(Stopped::Drained);
            }
        }
    }

    /// Counts this reactor's connections against `limit`, shared with the
    /// other reactors of the process, instead of a limit of its own. Call
    /// before [`run`](Self::run).
    pub fn share_limit(&mut self, limit: Arc<ConnLimit>) {
        self.limit = Some(limit);
    }

    /// How the drain ended, for the stop line, once [`run`](Self::run)
    /// returned `stopped`; `None` if no drain began. The connections still
    /// open then are the ones cut short: they close with the reactor.
    pub fn drain(&self, stopped: Stopped) -> Option<Drain> {
        Drain::ended(self.drain_began, stopped, self.timed_out, self.conns)
    }

    /// At the first SIGINT/SIGTERM, hands `report` the count of open
    /// connections instead of logging the start of the drain: with
    /// `--threads N`, [`crate::supervisor`] logs one line for all reactors.
    pub fn report_drain(&mut self, report: impl FnMut(u64) + Send + 'static) {
        self.on_drain = Some(Box::new(report));
    }

    /// Publishes this reactor's counters to `publisher` at the end of
    /// every turn from now on (`--metrics`), and lets a scrape wake it for
    /// a fresh publication. Call before [`run`](Self::run).
    pub fn publish_to(&mut self, publisher: Publisher) -> io::Result<()> {
        let waker = mio::Waker::new(self.poll.registry(), WAKE_TOKEN)?;
        publisher.board.wake_with(publisher.slot, Some(waker));
        self.publisher = Some(publisher);
        Ok(())
    }

    /// Ends a turn: with `--metrics`, records its length, from `poll`
    /// returning (`self.now`) to here, and publishes. Without, it costs
    /// nothing, not even a clock read.
    fn end_turn(&mut self) {
        if let Some(p) = &self.publisher {
            self.turns.record(self.now.elapsed());
            self.counters.active = self.conns as u64;
            p.publish(&self.counters, &self.turns);
        }
    }

    /// Connections currently open.
    pub fn connections(&self) -> usize {
        self.conns
    }

    fn fresh_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    fn on_event(&mut self, event: &Event) {
        let key = event.token().0;
        match self.entries.get_mut(key) {
            // Queued: like a connection below, one budget per turn.
            Some(Entry::Listener(l)) if l.queued => {}
            Some(Entry::Listener(_)) => self.accept(key),
            Some(Entry::Conn(conn)) => {
                conn.on_event(event);
                // Already on the ready queue: it spent its budget this
                // turn and is driven first thing next turn. Driving it
                // again now would give it a second budget in one turn.
                if !conn.queued {
                    self.drive(key);
                }
            }
            Some(Entry::Udp(u)) if u.queued => {}
            Some(Entry::Udp(_)) => self.echo_datagrams(key),
            // Closed earlier in this batch: a stale event, not the new
            // owner's.
            Some(Entry::Closed) | None => {}
        }
    }

    /// Drives the entries that stopped on their budget last turn.
    fn run_ready(&mut self) {
        let ready = std::mem::take(&mut self.ready);
        for (key, id) in ready {
            match self.entries.get_mut(key) {
                Some(Entry::Conn(c)) if c.id == id => {
                    c.queued = false;
                    self.drive(key);
                }
                Some(Entry::Listener(l)) if l.id == id => {
                    l.queued = false;
                    self.accept(key);
                }
                Some(Entry::Udp(u)) if u.id == id => {
                    u.queued = false;
                    self.echo_datagrams(key);
                }
                _ => {}
            }
        }
    }

    /// Echoes a budget of datagrams on UDP socket `key`; queued for the
    /// next turn if it may hold more.
    fn echo_datagrams(&mut self, key: usize) {
        let Some(Entry::Udp(u)) = self.entries.get_mut(key) else {
            return;
        };
        let turn = u.echo(&mut self.datagram, &mut self.counters);
        if turn == Turn::More && !u.queued {
            u.queued = true;
            self.ready.push((key, u.id));
        }
    }

    fn drive(&mut self, key: usize) {
        let Some(Entry::Conn(conn)) = self.entries.get_mut(key) else {
            return;
        };
        let mut cx = Ctx {
            pool: &mut self.pool,
            pipes: &mut self.pipes,
            splice: self.config.splice,
            registry: self.poll.registry(),
            token: Token(key),
            now: self.now,
            draining: self.draining,
            counters: &mut self.counters,
        };
        match conn.drive(&mut cx) {
            Drive::Open { more: true } if !conn.queued => {
                conn.queued = true;
                self.ready.push((key, conn.id));
            }
            Drive::Open { .. } => {}
            Drive::Close => self.close(key),
        }
    }

    /// Frees the connection's descriptor and buffer now; the slab slot
    /// stays `Closed` until [`reap`](Self::reap) so stale events of this
    /// batch cannot reach a new owner.
    fn close(&mut self, key: usize) {
        if let Some(entry) = self.entries.get_mut(key) {
            if let Entry::Conn(mut conn) = std::mem::replace(entry, Entry::Closed) {
                conn.release(&mut self.pool, &mut self.pipes);
                // Dropping the socket closes it, which also removes it from
                // the epoll/kqueue set: no deregister syscall needed.
                drop(conn);
                self.conns -= 1;
                if let Some(limit) = &self.limit {
                    limit.give_back();
                }
                self.closed.push(key);
            }
        }
    }

    fn reap(&mut self) {
        for key in self.closed.drain(..) {
            self.entries.remove(key);
        }
    }

    /// Accepts up to [`ACCEPT_BUDGET`] connections from listener `key`.
    fn accept(&mut self, key: usize) {
        for _ in 0..ACCEPT_BUDGET {
            let Some(Entry::Listener(l)) = self.entries.get_mut(key) else {
                return;
            };
            if l.paused {
                return;
            }
            match l.sock.accept() {
                Ok(sock) => {
                    l.backoff.reset();
                    self.admit(sock);
                }
                Err(e) if would_block(&e) => return,
                Err(e) if interrupted(&e) => {}
                Err(e) if accept_transient(&e) => self.counters.accept_errors += 1,
                Err(e) if fd_exhausted(&e) => {
                    self.counters.accept_errors += 1;
                    return self.out_of_fds(key);
                }
                Err(e) => {
                    self.counters.accept_errors += 1;
                    // Unknown trouble with the listener itself: back off
                    // rather than spin on it, and say so.
                    crate::log::line(format_args!("accept on {} failed: {e}; retrying", l.addr));
                    let id = l.id;
                    return self.pause(key, id);
                }
            }
        }
        // Budget spent with the queue maybe non-empty: come back next turn.
        if let Some(Entry::Listener(l)) = self.entries.get_mut(key) {
            if !l.queued {
                l.queued = true;
                self.ready.push((key, l.id));
            }
        }
    }

    /// Takes an accepted connection into the slab, or closes it at once
    /// when `--max-conns` is reached or shutdown is under way.
    fn admit(&mut self, sock: Stream) {
        // `take` logs the first refusal of an episode, as for EMFILE.
        if self.draining || self.limit.as_ref().is_some_and(|l| !l.take()) {
            self.counters.refused_max_conns += 1;
            return; // dropped: the client sees the connection close
        }
        if self.config.nodelay {
            // Echo replies are small and latency-bound; failure only costs
            // latency, not correctness.
            let _ = sock.set_nodelay();
        }
        let key = self.entries.vacant_key();
        let mut sock = sock;
        if self
            .poll
            .registry()
            .register(&mut sock, Token(key), connection::READ_INTEREST)
            .is_err()
        {
            if let Some(limit) = &self.limit {
                limit.give_back();
            }
            return;
        }
        let id = self.fresh_id();
        self.entries
            .insert(Entry::Conn(Connection::new(sock, id, self.now)));
        self.conns += 1;
        self.counters.accepted += 1;
        tracing::debug!(target: crate::log::TARGET, conn = id, key, "accept");
        if let Some(idle) = self.config.idle_timeout {
            self.timers
                .add(deadline(self.now, idle), Timer::Idle { key, id });
        }
    }

    /// EMFILE/ENFILE on `accept`: shed what is queued using the reserve
    /// descriptor, then retry on a timer (no event will announce the
    /// connections that arrive meanwhile, nor descriptors freed elsewhere).
    fn out_of_fds(&mut self, key: usize) {
        let Some(Entry::Listener(l)) = self.entries.get(key) else {
            return;
        };
        let id = l.id;
        l.shed(&mut self.reserve, ACCEPT_BUDGET, &mut self.counters);
        self.pause(key, id);
    }

    fn pause(&mut self, key: usize, id: u64) {
        if let Some(Entry::Listener(l)) = self.entries.get_mut(key) {
            l.paused = true;
            let wait = l.backoff.fail();
            self.timers
                .add(deadline(self.now, wait), Timer::AcceptRetry { key, id });
        }
    }

    /// Handles due timers. Returns true when the shutdown deadline passed.
    fn fire_timers(&mut self) -> bool {
        while let Some(timer) = self.timers.pop_due(self.now) {
            match timer {
                Timer::Idle { key, id } => self.check_idle(key, id),
                Timer::AcceptRetry { key, id } => {
                    if let Some(Entry::Listener(l)) = self.entries.get_mut(key) {
                        if l.id == id {
                            l.paused = false;
                            self.reserve.refill();
                            self.accept(key);
                        }
                    }
                }
                Timer::ShutdownDeadline => return true,
            }
        }
        false
    }

    fn check_idle(&mut self, key: usize, id: u64) {
        let Some(idle) = self.config.idle_timeout else {
            return;
        };
        let Some(Entry::Conn(c)) = self.entries.get(key) else {
            return;
        };
        if c.id != id {
            return; // the connection this timer was for is gone
        }
        let due = deadline(c.last_active, idle);
        if due <= self.now {
            tracing::trace!(target: crate::log::TARGET, conn = id, "close: idle timeout");
            self.counters.idle_closed += 1;
            self.close(key);
        } else {
            // Activity since arming: sleep until the new deadline.
            self.timers.add(due, Timer::Idle { key, id });
        }
    }

    /// Reads pending signals. SIGHUP is logged and ignored (see
    /// [`crate::signals`]). The first SIGINT/SIGTERM starts a graceful
    /// shutdown; a second one while draining stops at once.
    fn on_signals(&mut self) -> Option<Stopped> {
        let batch: Vec<i32> = self.signals.pending().collect();
        crate::signals::sort(batch, self.draining, |sig| self.begin_shutdown(sig))
            .map(Stopped::Forced)
    }

    /// Stops accepting, closes quiet connections, and lets the others flush
    /// their pending echo until the shutdown deadline.
    fn begin_shutdown(&mut self, sig: i32) {
        // Listeners first, while `admit` still takes connections: what is
        // queued in them drains with the rest (see "Shutdown"). UDP sockets
        // have nothing to drain and just close.
        let listeners: Vec<usize> = self
            .entries
            .iter()
            .filter(|(_, e)| matches!(e, Entry::Listener(_) | Entry::Udp(_)))
            .map(|(k, _)| k)
            .collect();
        for key in listeners {
            self.accept_queued(key);
            // A socket shared by several reactors (`--threads` with a Unix
            // or inherited socket, see `crate::supervisor`) stays open while another
            // holds a copy, and epoll would keep reporting it under this
            // key: deregister it first, so closing the copy is enough.
            let registry = self.poll.registry();
            let _ = match &mut self.entries[key] {
                Entry::Listener(l) => registry.deregister(&mut l.sock),
                Entry::Udp(d) => registry.deregister(&mut d.sock),
                _ => Ok(()),
            };
            // Closing the listener makes new connects fail fast.
            self.entries[key] = Entry::Closed;
            self.closed.push(key);
        }
        self.draining = true;
        self.drain_began = Some(self.now);
        let open = self.conns as u64;
        match &mut self.on_drain {
            Some(report) => report(open),
            None => crate::log::draining(sig, open, self.config.shutdown_timeout),
        }
        self.timers.add(
            deadline(self.now, self.config.shutdown_timeout),
            Timer::ShutdownDeadline,
        );
        let keys: Vec<usize> = self.entries.iter().map(|(k, _)| k).collect();
        for key in keys {
            match &self.entries[key] {
                Entry::Conn(c) if c.is_quiet() => {
                    tracing::trace!(target: crate::log::TARGET, conn = c.id, "close: quiet at shutdown");
                    self.counters.closed_shutdown += 1;
                    self.close(key);
                }
                Entry::Conn(_) => self.drive(key),
                Entry::Listener(_) | Entry::Udp(_) | Entry::Closed => {}
            }
        }
    }

    /// Accepts what listener `key` has queued, up to `--backlog`
    /// connections and without the fairness budget: its last accepts
    /// before it closes.
    fn accept_queued(&mut self, key: usize) {
        for _ in 0..self.config.backlog.max(1) {
            let Some(Entry::Listener(l)) = self.entries.get_mut(key) else {
                return;
            };
            match l.sock.accept() {
                Ok(sock) => self.admit(sock),
                Err(e) if interrupted(&e) || accept_transient(&e) => {}
                // Empty (WouldBlock), or out of descriptors: what is still
                // queued is reset with the listener.
                Err(_) => return,
            }
        }
    }
}

impl Drop for Reactor {
    /// A stopped reactor publishes no more: scrapes must not wait for it.
    fn drop(&mut self) {
        if let Some(p) = &self.publisher {
            p.board.wake_with(p.slot, None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::time::Duration;

    fn reactor() -> (Reactor, std::net::SocketAddr) {
        reactor_with(Config::default())
    }

    /// A reactor on a fresh loopback TCP port, with `config` otherwise.
    fn reactor_with(config: Config) -> (Reactor, std::net::SocketAddr) {
        reactor_on(crate::config::ListenAddr::Tcp, 16, config)
    }

    /// A reactor on a fresh loopback port of `kind`, bound with `backlog`.
    fn reactor_on(
        kind: fn(std::net::SocketAddr) -> crate::config::ListenAddr,
        backlog: i32,
        config: Config,
    ) -> (Reactor, std::net::SocketAddr) {
        let config = Config {
            listen: vec![kind("127.0.0.1:0".parse().unwrap())],
            ..config
        };
        let bound = crate::listen::bind(&config.listen[0], backlog).unwrap();
        let addr = bound.addr.ip_addr().unwrap();
        (Reactor::new(&config, vec![bound]).unwrap(), addr)
    }

    /// The id of the entry at `key`, whatever its kind.
    fn id(r: &Reactor, key: usize) -> u64 {
        match &r.entries[key] {
            Entry::Listener(l) => l.id,
            Entry::Conn(c) => c.id,
            Entry::Udp(u) => u.id,
            Entry::Closed => unreachable!("closed at {key}"),
        }
    }

    /// Accepts until one more connection is in the slab; the client's
    /// connect has completed, so the listener's queue is not empty.
    fn admit_one(r: &mut Reactor) -> usize {
        let before: Vec<usize> = r.entries.iter().map(|(k, _)| k).collect();
        for _ in 0..1000 {
            r.accept(0);
            if let Some((k, _)) = r
                .entries
                .iter()
                .find(|(k, e)| matches!(e, Entry::Conn(_)) && !before.contains(k))
            {
                return k;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        panic!("connection was never accepted");
    }

    // Regression guard: a key closed during a batch must not be handed to
    // a connection accepted later in the same batch, or the batch's stale
    // events for the old connection would drive the new one.
    #[test]
    fn closed_key_is_not_reused_before_reap() {
        let (mut r, addr) = reactor();
        let _a = std::net::TcpStream::connect(addr).unwrap();
        let a = admit_one(&mut r);
        r.close(a);
        assert!(matches!(r.entries[a], Entry::Closed));
        assert_eq!(r.connections(), 0);
        let _b = std::net::TcpStream::connect(addr).unwrap();
        let b = admit_one(&mut r);
        assert_ne!(a, b, "a closed slot was reused within the batch");
        r.reap();
        assert!(!r.entries.contains(a), "reap frees the slot");
    }

    // Timers and the ready queue name entries by (key, id): an old id on a
    // reused key must be ignored.
    #[test]
    fn stale_idle_timer_does_not_close_new_owner_of_key() {
        let (mut r, addr) = reactor();
        r.config.idle_timeout = Some(Duration::from_secs(3600));
        let _a = std::net::TcpStream::connect(addr).unwrap();
        let a = admit_one(&mut r);
        let old_id = id(&r, a);
        r.close(a);
        r.reap();
        let mut b_client = std::net::TcpStream::connect(addr).unwrap();
        let b = admit_one(&mut r);
        assert_eq!(a, b, "slab reuses the freed key");
        // Force the old timer's check as if its deadline had passed.
        r.now += Duration::from_secs(7200);
        r.check_idle(a, old_id);
        assert_eq!(r.connections(), 1, "old timer closed the new connection");
        // The new connection still echoes: run the loop's dispatch by hand.
        b_client.write_all(b"ok").unwrap();
        b_client.set_nonblocking(true).unwrap();
        let mut events = Events::with_capacity(8);
        let mut got = Vec::new();
        for _ in 0..1000 {
            r.poll
                .poll(&mut events, Some(Duration::from_millis(10)))
                .unwrap();
            for e in events.iter() {
                r.on_event(e);
            }
            let mut buf = [0u8; 8];
            if let Ok(n) = b_client.read(&mut buf) {
                got.extend_from_slice(&buf[..n]);
            }
            if got.len() >= 2 {
                assert_eq!(got, b"ok");
                return;
            }
        }
        panic!("new connection was not served");
    }

    // Fairness between kinds: a UDP socket with more datagrams queued than
    // its budget echoes one budget, then waits on the ready queue by
    // (key, id) instead of looping until the kernel's queue is empty.
    #[test]
    fn a_udp_socket_past_its_budget_waits_on_the_ready_queue() {
        let (mut r, server) = reactor_on(crate::config::ListenAddr::Udp, 16, Config::default());
        let client = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let total = 3 * udp::DATAGRAM_BUDGET;
        for i in 0..total {
            client.send_to(&(i as u32).to_be_bytes(), server).unwrap();
        }
        let key = 0;
        let id = id(&r, key);
        // Loopback queues each datagram before send_to returns; allow a
        // loaded machine a few rounds for the first.
        for _ in 0..1000 {
            r.echo_datagrams(key);
            if r.counters.datagrams_echoed > 0 {
                break;
            }
            std::thread::yield_now();
        }
        assert_eq!(r.counters.datagrams_echoed, udp::DATAGRAM_BUDGET as u64);
        assert_eq!(r.ready, vec![(key, id)], "queued once, by (key, id)");
        r.run_ready();
        r.run_ready();
        assert_eq!(r.counters.datagrams_echoed, total as u64);
        r.run_ready();
        assert!(r.ready.is_empty(), "drained: off the ready queue");
        assert_eq!(r.counters.datagram_bytes_echoed, 4 * total as u64);
    }

    // A listener with more connections queued than ACCEPT_BUDGET accepts
    // one budget, then waits on the ready queue once, by (key, id), and
    // while queued a readiness event does not buy it a second budget.
    #[test]
    fn a_listener_past_its_budget_waits_on_the_ready_queue_once() {
        let (mut r, server) = reactor_on(crate::config::ListenAddr::Tcp, 1024, Config::default());
        let extra = 10;
        // Two budgets and some: a second call can spend a whole budget too.
        let clients: Vec<_> = (0..2 * ACCEPT_BUDGET + extra)
            .map(|_| std::net::TcpStream::connect(server).unwrap())
            .collect();
        let key = 0;
        let id = id(&r, key);
        // connect() returns once the handshake is done, so every client
        // is in the accept queue now.
        r.accept(key);
        assert_eq!(r.counters.accepted, ACCEPT_BUDGET as u64);
        assert_eq!(r.ready, vec![(key, id)], "queued once, by (key, id)");
        assert!(matches!(&r.entries[key], Entry::Listener(l) if l.queued));
        r.accept(key); // as a second path in the same turn would
        assert_eq!(r.counters.accepted, 2 * ACCEPT_BUDGET as u64);
        assert_eq!(r.ready, vec![(key, id)], "not queued twice");
        r.run_ready();
        assert_eq!(r.counters.accepted, clients.len() as u64);
        assert!(r.ready.is_empty(), "drained: off the ready queue");
        assert!(matches!(&r.entries[key], Entry::Listener(l) if !l.queued));
    }

    // Regression guard for the timeout overflow: `--idle-timeout 500000000000y` made the
    // first connection panic with "overflow when adding duration to
    // instant", and `--shutdown-timeout` did the same at SIGTERM. The CLI
    // now refuses such values, but a Config built in code can still carry
    // Duration::MAX: arming, re-arming and firing timers must not panic.
    #[test]
    fn duration_max_timeouts_do_not_overflow_deadlines() {
        let (mut r, addr) = reactor_with(Config {
            idle_timeout: Some(Duration::MAX),
            shutdown_timeout: Duration::MAX,
            ..Config::default()
        });
        let _client = std::net::TcpStream::connect(addr).unwrap();
        let key = admit_one(&mut r); // arms the idle timer
        let id = id(&r, key);
        r.check_idle(key, id); // re-arms it from the last activity
        assert_eq!(r.connections(), 1, "closed as idle after no time at all");
        r.begin_shutdown(libc::SIGTERM); // arms the shutdown deadline
        assert!(!r.fire_timers(), "the shutdown deadline fired at once");
        let wait = r.timers.timeout(Instant::now()).expect("a timer is armed");
        assert!(wait > Duration::from_secs(100 * 365 * 86_400), "{wait:?}");
    }
}
