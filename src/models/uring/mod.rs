//! `--model uring`: one thread, one io_uring; completions instead of
//! readiness.
//!
//! The reactor asks the kernel "which sockets are ready?" and then makes
//! the syscalls itself: `epoll_wait`, then `read` and `write` per socket.
//! This model hands the kernel the operations instead, in a shared ring,
//! and later reads their results from a second ring: "this accept gave
//! fd 9", "this recv put 512 bytes in buffer 3", "this send took 512
//! bytes". One `io_uring_enter` per turn submits everything queued and
//! waits for completions; the sockets' own syscalls disappear.
//!
//! It follows the design of liburing's example echo server:
//!
//! - **Multishot accept**: one request per listener posts a completion
//!   per connection, until cancelled or failed.
//! - **Multishot recv with a provided buffer ring**: one request per
//!   connection posts a completion per arrival, each naming a buffer the
//!   kernel took from a ring shared by all connections ([`bufs`]).
//! - **One send in flight per connection** ([`conn`]): two could complete
//!   out of order.
//! - **`io_uring_submit_and_wait` once per turn**, with the earliest
//!   timer as its timeout.
//! - **`SINGLE_ISSUER | DEFER_TASKRUN`** where the kernel has them, with
//!   fallbacks ([`ring`]). No SQPOLL: a kernel thread spinning on the
//!   submission ring would burn a core and add variance.
//!
//! # The loop
//!
//! Each turn: submit and wait (at once if work is left from the last
//! turn); handle every completion; give the turn's receive buffers back
//! to the kernel in one store; re-arm the recvs the ring ran dry for;
//! echo UDP; fire due timers (idle timeouts, accept retries, the shutdown
//! deadline).
//!
//! # Signals and UDP: a readiness corner
//!
//! Signals (signal-hook's self-pipe) and UDP sockets stay on a
//! `mio::Poll`, whose epoll descriptor is itself watched by a multishot
//! poll request in the ring: one completion says "something there is
//! ready", and a zero-timeout `epoll_wait` says what. UDP is therefore
//! echoed exactly as by the reactor (its batched `recvmmsg`/`sendmmsg`,
//! [`crate::reactor::udp`]); the completion path is for streams, TCP and
//! Unix.
//!
//! # Bounded memory and backpressure
//!
//! Receive memory is the ring's, shared ([`bufs`]): each filled buffer is
//! either sent as it is, without waiting (`MSG_DONTWAIT`), or copied into
//! the connection's pending echo, and goes back to the ring within the
//! turn or the next one (see "Straight from the ring" in [`conn`]). A
//! client that never reads its echo holds no ring buffer.
//!
//! A multishot recv, left alone, posts completions for as long as data
//! comes, many per turn: cancelling it when the pending echo reaches
//! `--max-buffer` comes too late for what the kernel delivered in the
//! meantime, which must be kept (an echo server may not drop bytes). With
//! 50 clients that never read, that was about 900 KiB per client at the
//! default 64 KiB. So each recv is armed with a cap on its total bytes
//! (`optlen`): the room left under `--max-buffer` in the connection's own
//! buffers (a send straight from a ring buffer does not count). The
//! kernel ends the recv there, and it is re-armed, with the new room, once
//! sends have made some. A connection's pending echo is then at most `--max-buffer`
//! plus one ring buffer (the last recv may fill a whole buffer). Kernels
//! before 6.17 do not know the cap (probed at startup, see
//! `probe_recv_cap`): there the recv is cancelled at `--max-buffer`, and
//! the pending echo may pass it by what arrived in that turn.
//!
//! # Buffer-ring exhaustion
//!
//! When every buffer of the ring is in use, a recv completes with
//! `ENOBUFS` and stops. That is normal under load, and loses nothing:
//! the bytes stay in the socket. The connection is marked *starved* and
//! its recv re-armed at the end of the turn, after the turn's buffers have
//! gone back to the ring: at most one re-arm per turn, never a spin.
//!
//! # Fairness
//!
//! A multishot recv of a flooding connection could take the whole ring,
//! and the others would see `ENOBUFS`. Two things keep it from starving
//! them: the kernel posts at most a bounded batch per request before
//! giving the others a go (`MULTISHOT_MAX_RETRY`), and every buffer comes
//! back each turn, so a starved connection is re-armed with a full ring
//! in front of it.
//!
//! # Closing
//!
//! A request in the kernel holds its socket open: closing the descriptor
//! alone would not send a FIN while a multishot recv is armed. So a
//! connection is closed by cancelling its requests and closing its
//! descriptor; its slab entry (with the bytes of a send in flight, which
//! the kernel may still read) stays until the last request has completed.
//!
//! # Shutdown
//!
//! As in the reactor ("Shutdown" in [`crate::reactor`]): listeners are
//! emptied and closed, quiet connections close, the others flush their
//! echo, shut their write side and discard input until the client closes
//! or `--shutdown-timeout` passes; a second signal stops at once.

// The loop's work, by subject: accepting, a connection's echo, the drain.
mod accept;
pub mod bufs;
pub mod conn;
mod drain;
mod echo;
pub mod op;
pub mod ring;

use std::io;
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

use io_uring::types::{CancelBuilder, Fd, SubmitArgs, Timespec};
use io_uring::{cqueue, opcode, squeue, IoUring};
use mio::{Events, Interest, Poll, Token};
use signal_hook_mio::v1_0::Signals;
use slab::Slab;

use crate::config::{Config, ListenAddr};
use crate::counters::Counters;
use crate::error::{Error, Stopped};
use crate::listen::{Bound, Socket};
use crate::log::{Drain, TARGET};
use crate::net::{interrupted, Listening};
use crate::reactor::limit::ConnLimit;
use crate::reactor::listener::{Listener, Reserve};
use crate::reactor::timers::{Timer, Timers};
use crate::reactor::udp::{self, Datagrams, Turn};
use crate::time::deadline;
use bufs::BufRing;
use conn::Conn;
use op::Op;

/// Submission slots; the completion ring has four times as many.
const ENTRIES: u32 = 1024;

/// Receive buffers in the ring unless `--uring-buffers` says otherwise:
/// 8 MiB of address space at 64 KiB each (the reactor's read size),
/// touched only as used. Larger buffers mean fewer receives per byte: a
/// flood echoed 966 MB per server CPU-second with 64 KiB buffers against
/// 752 with 16 KiB (`bash benches/flood.sh 3 50 2`, both builds
/// alternated).
pub const DEFAULT_BUFFERS: u16 = 128;

/// Emptied pending-echo buffers kept for the next connection that needs
/// one, instead of freeing and allocating again.
const POOL_KEEP: usize = 64;

/// Signals arrive as events on this token of the inner poll; UDP sockets
/// have their index in [`Uring::udp`].
const SIGNAL_TOKEN: Token = Token(usize::MAX);

/// What lives in a slab slot.
enum Entry {
    /// A listening socket, TCP or Unix, and whether its multishot accept
    /// is in the kernel.
    Listener(Listener, bool),
    /// A listener closed at shutdown whose accept has not completed yet.
    Gone,
    /// A client connection.
    Conn(Conn),
}

/// Runs the uring model on this thread, on already bound listeners, until
/// a signal stops it. Fails at startup, with the cause, where io_uring is
/// missing or blocked.
pub fn run(config: &Config, listeners: Vec<Bound>) -> Result<Stopped, Error> {
    let addrs: Vec<ListenAddr> = listeners.iter().map(Bound::listen_addr).collect();
    let mut uring =
        Uring::new(config, listeners).map_err(|e| Error::Startup(format!("--model uring: {e}")))?;
    crate::listen::announce(&addrs);
    crate::log::started(config, &addrs);
    tracing::debug!(target: TARGET, setup = uring.setup, recv_cap = uring.recv_cap, "io_uring");
    let stopped = uring
        .run()
        .map_err(|e| Error::Runtime(format!("io_uring loop failed: {e}")))?;
    let drain = uring.drain(stopped);
    let counters = uring.counters;
    uring.cancel_all();
    crate::log::stopped_with(Some(counters), drain);
    Ok(stopped)
}

/// The model's whole state. Owned by one thread.
///
/// Field order matters: the ring is dropped before the buffer ring and
/// the connections, whose memory its requests may name.
pub struct Uring {
    ring: IoUring,
    bufs: BufRing,
    entries: Slab<Entry>,
    /// Signals and UDP sockets (see "Signals and UDP").
    poll: Poll,
    events: Events,
    signals: Signals,
    udp: Vec<Datagrams>,
    /// Indexes into `udp` with datagrams left over from their budget.
    udp_ready: Vec<usize>,
    datagram: Box<[u8]>,
    /// Submissions that found the ring full; pushed first next turn.
    backlog: std::collections::VecDeque<squeue::Entry>,
    /// `(key, id)` of connections whose recv ran out of buffers.
    starved: Vec<(usize, u64)>,
    pool: Vec<Vec<u8>>,
    timers: Timers,
    reserve: Reserve,
    conns: usize,
    limit: Option<Arc<ConnLimit>>,
    next_id: u64,
    now: Instant,
    draining: bool,
    drain_began: Option<Instant>,
    timed_out: bool,
    config: Config,
    /// Which ring setup the kernel accepted (see [`ring::open`]).
    setup: &'static str,
    /// A failure found while handling a completion, returned by the loop.
    failed: Option<io::Error>,
    /// The kernel caps a multishot recv's total bytes (see "Bounded
    /// memory and backpressure").
    recv_cap: bool,
    /// Totals since startup.
    pub counters: Counters,
}

impl Uring {
    /// Opens the ring and its buffers, and arms an accept per listener
    /// and the poll that carries signals and UDP. SIGINT, SIGTERM and
    /// SIGHUP are caught from here on. The error is one line: the cause.
    pub fn new(config: &Config, listeners: Vec<Bound>) -> Result<Uring, String> {
        let (ring, setup) = ring::open(ENTRIES)?;
        let count = config.uring_buffers.unwrap_or(DEFAULT_BUFFERS);
        let size = bufs::BUFFER.min(config.max_buffer);
        let bufs = BufRing::register(&ring, count, size).map_err(|e| {
            if e.raw_os_error() == Some(libc::ENOMEM) {
                ring::why_not(&e)
            } else {
                format!("cannot register {count} receive buffers of {size} bytes: {e}")
            }
        })?;
        let no_signals = |e: io::Error| format!("cannot catch signals: {e}");
        let poll = Poll::new().map_err(|e| format!("cannot create the epoll instance: {e}"))?;
        let mut signals = Signals::new(crate::signals::HANDLED).map_err(no_signals)?;
        poll.registry()
            .register(&mut signals, SIGNAL_TOKEN, Interest::READABLE)
            .map_err(no_signals)?;
        let mut uring = Uring {
            ring,
            bufs,
            entries: Slab::with_capacity(1024),
            poll,
            events: Events::with_capacity(64),
            signals,
            udp: Vec::new(),
            udp_ready: Vec::new(),
            datagram: Box::default(),
            backlog: Default::default(),
            starved: Vec::new(),
            pool: Vec::new(),
            timers: Timers::default(),
            reserve: Reserve::new(),
            conns: 0,
            limit: config.max_conns.map(|max| Arc::new(ConnLimit::new(max))),
            next_id: 1,
            now: Instant::now(),
            draining: false,
            drain_began: None,
            timed_out: false,
            config: config.clone(),
            setup,
            failed: None,
            recv_cap: false,
            counters: Counters::default(),
        };
        for bound in listeners {
            let id = uring.fresh_id();
            let sock = match bound.socket {
                Socket::Tcp(s) => Listening::Tcp(mio::net::TcpListener::from_std(s)),
                Socket::Unix(s) => Listening::Unix(mio::net::UnixListener::from_std(s)),
                Socket::Udp(s) => {
                    let mut sock = mio::net::UdpSocket::from_std(s);
                    let token = Token(uring.udp.len());
                    uring
                        .poll
                        .registry()
                        .register(&mut sock, token, Interest::READABLE)
                        .map_err(|e| format!("cannot watch {}: {e}", bound.addr))?;
                    if uring.datagram.is_empty() {
                        uring.datagram = vec![0; udp::BUFFER].into_boxed_slice();
                    }
                    let addr = bound
                        .addr
                        .ip_addr()
                        .expect("a UDP socket has an IP address");
                    uring.udp.push(Datagrams::new(sock, addr, id));
                    continue;
                }
            };
            let listener = Listener::new(sock, bound.addr, bound.file, id);
            let key = uring.entries.insert(Entry::Listener(listener, false));
            uring.arm_accept(key);
        }
        uring.recv_cap = uring.probe_recv_cap().unwrap_or(false);
        uring.arm_poll();
        Ok(uring)
    }

    /// Whether this kernel caps a multishot recv's total bytes (`optlen`,
    /// Linux 6.17 and later; older kernels ignore the field): one byte is
    /// written into a socket pair and a recv capped at one byte is armed;
    /// a kernel that knows the cap ends it after that byte, one that does
    /// not keeps it armed. Run before any other request is in the ring.
    fn probe_recv_cap(&mut self) -> io::Result<bool> {
        use std::io::Write;
        let (mut tx, rx) = std::os::unix::net::UnixStream::pair()?;
        tx.write_all(b"x")?;
        let mut sqe = opcode::RecvMulti::new(Fd(rx.as_raw_fd()), bufs::GROUP).build();
        cap_total(&mut sqe, 1);
        self.push(sqe.user_data(op::pack(Op::Recv, 0, 0)));
        self.ring.submit_and_wait(1)?;
        let mut ended = false;
        let mut capped = false;
        for _ in 0..2 {
            let done: Vec<(i32, u32)> = self
                .ring
                .completion()
                .map(|c| (c.result(), c.flags()))
                .collect();
            for (res, flags) in done {
                if let Some(bid) = cqueue::buffer_select(flags) {
                    self.bufs.recycle(bid);
                }
                if !cqueue::more(flags) {
                    ended = true;
                    capped = res == 1;
                }
            }
            if ended {
                break;
            }
            // Still armed: the cap was ignored. Cancel it and wait for
            // its last completion, so no request outlives the probe.
            self.cancel(Op::Recv, 0, 0);
            self.ring.submit_and_wait(2)?;
        }
        self.bufs.publish();
        Ok(capped)
    }

    /// The loop. Returns when shutdown has drained (or timed out), or at
    /// once on a second signal.
    pub fn run(&mut self) -> io::Result<Stopped> {
        let mut done: Vec<(u64, i32, u32)> = Vec::with_capacity(ENTRIES as usize * 4);
        loop {
            self.push_backlog();
            let busy = !self.udp_ready.is_empty() || !self.backlog.is_empty();
            // With work left over, do not sleep, but still enter with
            // GETEVENTS (a zero timeout): under DEFER_TASKRUN that is when
            // the kernel completes the sockets' requests, so a plain
            // submit would leave every stream waiting behind a UDP flood.
            let timeout = if busy {
                Some(Duration::ZERO)
            } else {
                self.timers.timeout(Instant::now())
            };
            let entered = match timeout {
                Some(t) => {
                    let ts = Timespec::from(t);
                    let args = SubmitArgs::new().timespec(&ts);
                    self.ring.submitter().submit_with_args(1, &args)
                }
                None => self.ring.submit_and_wait(1),
            };
            match entered {
                Ok(_) => {}
                // The timeout passed, a signal interrupted the wait, or
                // the completion ring is full: handle what is there.
                Err(e)
                    if interrupted(&e)
                        || matches!(e.raw_os_error(), Some(libc::ETIME | libc::EBUSY)) => {}
                Err(e) => return Err(e),
            }
            self.now = Instant::now();
            done.clear();
            done.extend(
                self.ring
                    .completion()
                    .map(|c| (c.user_data(), c.result(), c.flags())),
            );
            for &(data, res, flags) in &done {
                if let Some(stop) = self.complete(data, res, flags) {
                    return Ok(stop);
                }
            }
            if let Some(err) = self.failed.take() {
                return Err(err);
            }
            self.bufs.publish();
            self.rearm_starved();
            self.run_udp_ready();
            if self.fire_timers() {
                self.timed_out = true;
                return Ok(Stopped::Drained);
            }
            if self.draining && self.conns == 0 {
                return Ok(Stopped::Drained);
            }
        }
    }

    /// How the drain ended, for the stop line, once [`run`](Self::run)
    /// returned `stopped`; `None` if no drain began.
    pub fn drain(&self, stopped: Stopped) -> Option<Drain> {
        Drain::ended(self.drain_began, stopped, self.timed_out, self.conns)
    }

    /// Cancels every request still in the kernel and waits (at most a
    /// second) until none is: after this no request names our memory, and
    /// the ring, its buffers and the connections may be dropped in any
    /// order.
    pub fn cancel_all(&mut self) {
        let _ = self.ring.submit();
        let _ = self.ring.submitter().register_sync_cancel(
            Some(Timespec::from(Duration::from_secs(1))),
            CancelBuilder::any(),
        );
    }

    fn fresh_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// Queues `sqe` for the next submit; when the submission ring is full,
    /// submits what is there first, and failing that keeps it for the
    /// next turn (in order).
    fn push(&mut self, sqe: squeue::Entry) {
        if self.backlog.is_empty() {
            // SAFETY (of every push): the memory an entry names (a send's
            // bytes, nothing else) is a connection's `sending` buffer,
            // which stays in its slab entry until the send completes.
            if unsafe { self.ring.submission().push(&sqe) }.is_ok() {
                return;
            }
            let _ = self.ring.submit();
            if unsafe { self.ring.submission().push(&sqe) }.is_ok() {
                return;
            }
        }
        self.backlog.push_back(sqe);
    }

    fn push_backlog(&mut self) {
        while let Some(sqe) = self.backlog.pop_front() {
            if unsafe { self.ring.submission().push(&sqe) }.is_err() {
                let _ = self.ring.submit();
                if unsafe { self.ring.submission().push(&sqe) }.is_err() {
                    self.backlog.push_front(sqe);
                    return;
                }
            }
        }
    }

    fn arm_poll(&mut self) {
        let fd = Fd(self.poll.as_raw_fd());
        let sqe = opcode::PollAdd::new(fd, libc::POLLIN as u32)
            .multi(true)
            .build()
            .user_data(op::pack(Op::Poll, 0, 0));
        self.push(sqe);
    }

    fn cancel(&mut self, what: Op, key: usize, id: u64) {
        let sqe = opcode::AsyncCancel::new(op::pack(what, key, id))
            .build()
            .user_data(op::pack(Op::Cancel, key, id));
        self.push(sqe);
    }

    /// Handles one completion. Returns `Some` when a signal stops the
    /// model at once.
    fn complete(&mut self, data: u64, res: i32, flags: u32) -> Option<Stopped> {
        let (what, key, id) = op::unpack(data);
        match what {
            Some(Op::Poll) => {
                if res < 0 && res != -libc::ECANCELED {
                    // Without this poll no signal is ever heard: failing
                    // beats a daemon that cannot be stopped.
                    let err = io::Error::from_raw_os_error(-res);
                    self.failed = Some(io::Error::other(format!(
                        "the poll request on the epoll descriptor (signals, UDP) failed: {err}"
                    )));
                    return None;
                }
                if !cqueue::more(flags) {
                    self.arm_poll();
                }
                return self.on_poll();
            }
            Some(Op::Accept) => self.on_accept(key, id, res, flags),
            Some(Op::Recv) => self.on_recv(key, id, res, flags),
            Some(Op::Send) => self.on_send(key, id, res),
            Some(Op::Cancel) | None => {}
        }
        None
    }

    /// The epoll descriptor is ready: signals, or UDP sockets.
    fn on_poll(&mut self) -> Option<Stopped> {
        if let Err(e) = self.poll.poll(&mut self.events, Some(Duration::ZERO)) {
            if !interrupted(&e) {
                crate::log::line(format_args!("epoll_wait failed: {e}"));
            }
            return None;
        }
        let tokens: Vec<Token> = self.events.iter().map(|e| e.token()).collect();
        for token in tokens {
            if token == SIGNAL_TOKEN {
                if let Some(stop) = self.on_signals() {
                    return Some(stop);
                }
            } else {
                self.echo_datagrams(token.0);
            }
        }
        None
    }

    fn echo_datagrams(&mut self, i: usize) {
        let Some(u) = self.udp.get_mut(i) else {
            return;
        };
        if u.queued {
            return;
        }
        if u.echo(&mut self.datagram, &mut self.counters) == Turn::More {
            u.queued = true;
            self.udp_ready.push(i);
        }
    }

    fn run_udp_ready(&mut self) {
        for i in std::mem::take(&mut self.udp_ready) {
            if let Some(u) = self.udp.get_mut(i) {
                u.queued = false;
                self.echo_datagrams(i);
            }
        }
    }

    /// Handles due timers. Returns true when the shutdown deadline passed.
    fn fire_timers(&mut self) -> bool {
        while let Some(timer) = self.timers.pop_due(self.now) {
            match timer {
                Timer::Idle { key, id } => self.check_idle(key, id),
                Timer::AcceptRetry { key, id } => {
                    if let Some(Entry::Listener(l, _)) = self.entries.get_mut(key) {
                        if l.id == id {
                            l.paused = false;
                            self.reserve.refill();
                            self.arm_accept(key);
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
        if c.id != id || c.sock.is_none() {
            return;
        }
        let due = deadline(c.last_active, idle);
        if due <= self.now {
            tracing::trace!(target: TARGET, conn = id, "close: idle timeout");
            self.counters.idle_closed += 1;
            self.close(key);
        } else {
            self.timers.add(due, Timer::Idle { key, id });
        }
    }
}

/// Caps multishot recv `sqe` at `bytes` in all (`sqe->optlen`, at byte 44
/// of the kernel's 64-byte submission entry; the binding has no setter
/// for it yet). A kernel without the cap ignores the field.
fn cap_total(sqe: &mut squeue::Entry, bytes: u32) {
    const _: () = assert!(std::mem::size_of::<squeue::Entry>() == 64);
    // SAFETY: `Entry` is `repr(C)` over the kernel's `io_uring_sqe`, whose
    // layout is ABI: `optlen` (a union with `file_index`, unused by recv)
    // is the u32 at offset 44, inside the 64 bytes asserted above.
    unsafe {
        let field = (sqe as *mut squeue::Entry)
            .cast::<u8>()
            .add(44)
            .cast::<u32>();
        field.write_unaligned(bytes);
    }
}

/// Keeps emptied buffers for reuse, up to [`POOL_KEEP`].
fn give_back(pool: &mut Vec<Vec<u8>>, bufs: [Vec<u8>; 2]) {
    for mut buf in bufs {
        if buf.capacity() > 0 && pool.len() < POOL_KEEP {
            buf.clear();
            pool.push(buf);
        }
    }
}
