//! One generator event loop: a `mio::Poll`, a timer, and a share of the
//! connections. `--threads T` runs T of these, each on its own thread, with
//! nothing shared between them but the start instant and two progress
//! counters.
//!
//! # The loop
//! Each turn: move the phase on if its deadline passed, take every due
//! open-loop slot off the schedule (in deadline order, from a heap), arm the
//! timer for the next deadline, poll, then serve socket events. Readiness is
//! edge-triggered, so every read drains to `WouldBlock` and every write goes
//! until the buffer is empty or `WouldBlock`.
//!
//! # What is counted
//! A reply counts when its request was *intended* inside the measurement
//! window `[warmup_end, end)`. In closed loop the intended time is simply
//! the moment the previous reply freed the slot; in open loop it is the
//! schedule's. Faults (damaged, reordered, missing replies, failed
//! connections) are counted whenever they happen, warm-up included: a
//! corrupt byte is never acceptable.
//!
//! # Flood
//! A flood is the closed loop with `window / size` requests in flight per
//! connection, so it shares every step above; it differs in what it
//! records. Echoed bytes are counted by the time they arrive, inside the
//! window, which is also when the server's CPU is sampled; no latency is
//! recorded, since a reply waits behind the whole window sent before it
//! and its latency would measure `--window`, not the server.
//!
//! # Streams and datagrams
//! The engine is generic over its connections' [`Link`]: the stream link
//! (TCP, Unix) and the datagram link (UDP) each get their own compiled
//! loop. Only a lossy link gives requests up: each turn, once the earliest
//! loss deadline has passed, the expired requests are counted lost
//! (without a latency sample) and, in closed loop, their slots are issued
//! again at once so a lost datagram does not stall its connection. In
//! open loop the schedule never waits for replies, so a loss delays
//! nothing and no coordinated omission comes of it; the lost requests are
//! simply missing from the percentiles, which the report says.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Token};

use super::link::{Dial, Found, Inflight, Link, ReadEnd, STRAY};
use super::result::Measurements;
use super::schedule::Schedule;
use super::timer::Timer;
use super::Load;
use crate::stats;
use crate::verify::Verdict;

const TIMER: Token = Token(usize::MAX);

/// Phase deadlines, in ns since the run's base instant.
#[derive(Clone, Copy, Debug)]
pub struct Timeline {
    /// End of warm-up and start of the measurement window.
    pub warmup_end: u64,
    /// End of the measurement window: no new requests after this.
    pub end: u64,
    /// During the drain, give up once no byte has moved for this long.
    pub drain_stall: u64,
    /// The drain never lasts longer than this after `end`.
    pub drain_cap: u64,
}

/// What one engine is asked to do.
#[derive(Clone, Debug)]
pub struct EngineSpec {
    /// The server, and what every connection is opened with.
    pub dial: Dial,
    /// Global indices of this engine's connections.
    pub conn_ids: Vec<u32>,
    /// Closed or open loop.
    pub load: Load,
    /// Phase deadlines.
    pub timeline: Timeline,
    /// Interval length of the timeline and `--hdr-log`, when intervals
    /// are wanted.
    pub interval: Option<Duration>,
}

/// What engines and the coordinator share while a run is going: three
/// progress counters up, one cut instant down.
#[derive(Debug)]
pub struct Live {
    /// Replies counted in the window so far.
    pub completed: AtomicU64,
    /// Bytes echoed in the window so far.
    pub echoed: AtomicU64,
    /// Faults so far.
    pub faults: AtomicU64,
    /// When the coordinator was interrupted: the instant (ns since the
    /// base) at which every engine closes its window. `u64::MAX` = never.
    pub cut: AtomicU64,
}

impl Default for Live {
    fn default() -> Live {
        Live {
            completed: AtomicU64::new(0),
            echoed: AtomicU64::new(0),
            faults: AtomicU64::new(0),
            cut: AtomicU64::new(u64::MAX),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Warmup,
    Measure,
    Drain,
}

/// An engine with its connections established, ready to run.
pub struct Engine<C: Link> {
    spec: EngineSpec,
    poll: Poll,
    timer: Timer,
    conns: Vec<C>,
    schedules: Vec<Schedule>,
    heap: BinaryHeap<Reverse<(u64, usize)>>,
    m: Measurements,
    phase: Phase,
    /// The run's time zero; all times are ns since this instant.
    base: Instant,
    scratch: Vec<u8>,
    done: Vec<(Inflight, Verdict)>,
    /// During the drain: the last time a byte moved on any connection.
    last_progress: u64,
    /// Lossy links: the earliest loss deadline of any connection (ns), or
    /// `u64::MAX`; recomputed whenever it passes.
    next_expiry: u64,
    lost: Vec<Inflight>,
    /// Closed loop and flood: requests each connection keeps in flight,
    /// one issued for every reply ([`Load::in_flight`]).
    in_flight: Option<u32>,
}

fn interrupted(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::Interrupted
}

impl<C: Link> Engine<C> {
    /// Opens every connection of `spec`, waiting at most `timeout` for all
    /// of them.
    ///
    /// # Errors
    /// The first connection that fails, or `TimedOut`. The caller adds the
    /// address to the message.
    pub fn connect(spec: EngineSpec, timeout: Duration) -> io::Result<Engine<C>> {
        let mut poll = Poll::new()?;
        let mut conns = Vec::with_capacity(spec.conn_ids.len());
        for (i, &id) in spec.conn_ids.iter().enumerate() {
            let mut conn = C::open(&spec.dial, id)?;
            poll.registry().register(
                conn.socket(),
                Token(i),
                Interest::READABLE | Interest::WRITABLE,
            )?;
            conns.push(conn);
        }
        wait_connected(&mut poll, &mut conns, timeout)?;
        let timer = Timer::new()?;
        timer.register(poll.registry(), TIMER)?;
        let mut m = Measurements::new(spec.dial.peers as usize);
        m.open_until = u64::MAX;
        let in_flight = spec.load.in_flight(spec.dial.size);
        Ok(Engine {
            spec,
            poll,
            timer,
            conns,
            schedules: Vec::new(),
            heap: BinaryHeap::new(),
            m,
            phase: Phase::Warmup,
            base: Instant::now(),
            scratch: vec![0; 64 * 1024],
            done: Vec::new(),
            last_progress: 0,
            next_expiry: u64::MAX,
            lost: Vec::new(),
            in_flight,
        })
    }

    /// Runs the timeline from `base` to the end of the drain and returns
    /// what was measured. Progress is published to `live` as it happens.
    ///
    /// # Errors
    /// Only failures of the poller or timer; connection failures are
    /// measurements, not errors.
    pub fn run(mut self, base: Instant, live: &Live) -> io::Result<Measurements> {
        self.base = base;
        // Wait for the common start so all engines share one timeline.
        while Instant::now() < base {
            std::thread::sleep(base.saturating_duration_since(Instant::now()));
        }
        self.start();
        if self.spec.timeline.warmup_end == 0 {
            self.phase = Phase::Measure;
        }
        let mut events = Events::with_capacity(1024);
        let mut armed: Option<u64> = None;
        let mut published = (0, 0, 0);
        loop {
            let cut = live.cut.load(Ordering::Relaxed);
            if cut < self.spec.timeline.end {
                // Interrupted: the window closes at the common cut instant.
                // Requests issued since then were intended after it and so
                // are not counted; they are drained like any other.
                let t = &mut self.spec.timeline;
                t.end = cut.max(1);
                t.warmup_end = t.warmup_end.min(t.end);
            }
            let t = self.spec.timeline;
            let now = self.clock();
            if self.phase == Phase::Warmup && now >= t.warmup_end {
                self.dispatch_due(t.warmup_end - 1);
                self.phase = Phase::Measure;
                self.restart_schedules(t.warmup_end);
            }
            if self.phase != Phase::Drain {
                self.dispatch_due(now.min(t.end - 1));
                if now >= t.end {
                    self.phase = Phase::Drain;
                    self.last_progress = now;
                }
            }
            // `u64::MAX`: nothing was waiting at the last look, but a
            // request may have been sent since.
            if C::LOSSY && (now >= self.next_expiry || self.next_expiry == u64::MAX) {
                self.expire(now);
            }
            if self.phase == Phase::Drain
                && (now >= self.drain_deadline()
                    || self.conns.iter().all(|c| !c.is_open() || c.drained()))
            {
                break;
            }
            let faults = self.m.counters.corrupt_total() + self.m.counters.errors_total();
            let counts = (self.m.counters.requests, self.m.echoed_bytes, faults);
            if counts != published {
                live.completed
                    .fetch_add(counts.0 - published.0, Ordering::Relaxed);
                live.echoed
                    .fetch_add(counts.1 - published.1, Ordering::Relaxed);
                live.faults
                    .fetch_add(counts.2 - published.2, Ordering::Relaxed);
                published = counts;
            }
            let next = self.next_deadline();
            if armed != Some(next) {
                self.timer
                    .arm(Duration::from_nanos(next.saturating_sub(now)))?;
                armed = Some(next);
            }
            // With a timerfd the timeout is only a safety net; on kqueue
            // platforms the timer is a deadline and sets it (see timer.rs).
            let timeout = self.timer.poll_timeout(Duration::from_millis(250));
            match self.poll.poll(&mut events, Some(timeout)) {
                Ok(()) => {}
                Err(e) if interrupted(&e) => continue,
                Err(e) => return Err(e),
            }
            if self.timer.expired() {
                armed = None;
            }
            for event in events.iter() {
                if event.token() == TIMER {
                    self.timer.ack();
                    armed = None;
                    continue;
                }
                let i = event.token().0;
                if !self.conns[i].is_open() {
                    continue;
                }
                let moved = self.conns[i].moved();
                let closing = event.is_read_closed() || event.is_error();
                if event.is_readable() || closing {
                    self.on_readable(i, closing);
                }
                if self.conns[i].is_open() {
                    self.send(i);
                }
                if self.phase == Phase::Drain && self.conns[i].moved() != moved {
                    self.last_progress = self.clock();
                }
            }
        }
        self.finish();
        live.completed
            .fetch_add(self.m.counters.requests - published.0, Ordering::Relaxed);
        live.echoed
            .fetch_add(self.m.echoed_bytes - published.1, Ordering::Relaxed);
        Ok(self.m)
    }

    /// Now, in ns since the base instant. Read afresh wherever a time is
    /// recorded: one turn of the loop can take long under heavy load, and a
    /// stale time would hide exactly that.
    fn clock(&self) -> u64 {
        self.base.elapsed().as_nanos() as u64
    }

    /// The interval holding instant `t` (inside the window), when
    /// intervals are kept.
    fn interval_of(&self, t: u64) -> Option<usize> {
        let len = self.spec.interval?.as_nanos() as u64;
        let since = t.checked_sub(self.spec.timeline.warmup_end)?;
        Some((since / len.max(1)) as usize)
    }

    fn in_window(&self, intended: u64) -> bool {
        let t = self.spec.timeline;
        intended >= t.warmup_end && intended < t.end
    }

    fn start(&mut self) {
        let now = self.clock();
        match self.spec.load {
            Load::Closed { .. } | Load::Flood { .. } => {
                let depth = self.in_flight.unwrap_or(1);
                for i in 0..self.conns.len() {
                    for _ in 0..depth {
                        self.conns[i].issue(now, now);
                    }
                    self.send(i);
                }
            }
            Load::Open { rate } => {
                for (i, c) in self.conns.iter().enumerate() {
                    let s = Schedule::new(0, c.id(), self.spec.dial.peers, rate);
                    self.heap.push(Reverse((s.next_due(), i)));
                    self.schedules.push(s);
                }
            }
        }
    }

    fn restart_schedules(&mut self, origin: u64) {
        if self.schedules.is_empty() {
            return;
        }
        self.heap.clear();
        for (i, s) in self.schedules.iter_mut().enumerate() {
            s.restart(origin);
            if self.conns[i].is_open() {
                self.heap.push(Reverse((s.next_due(), i)));
            }
        }
    }

    /// Moves every schedule slot due by `limit` into its connection's backlog.
    fn dispatch_due(&mut self, limit: u64) {
        while let Some(&Reverse((due, i))) = self.heap.peek() {
            if due > limit {
                break;
            }
            let now = self.clock();
            self.heap.pop();
            if !self.conns[i].is_open() {
                continue;
            }
            let t = self.spec.timeline;
            let (conn, lag) = (&mut self.conns[i], &mut self.m.dispatch_lag);
            self.schedules[i].take_due(limit, |intended| {
                if intended >= t.warmup_end && intended < t.end {
                    stats::record(lag, now.saturating_sub(intended));
                }
                conn.backlog().push_back(intended);
            });
            self.heap.push(Reverse((self.schedules[i].next_due(), i)));
            self.send(i);
        }
    }

    fn next_deadline(&self) -> u64 {
        let t = self.spec.timeline;
        let phase_end = match self.phase {
            Phase::Warmup => t.warmup_end,
            Phase::Measure => t.end,
            Phase::Drain => self.drain_deadline(),
        };
        let next = match self.heap.peek() {
            Some(&Reverse((due, _))) if self.phase != Phase::Drain => due.min(phase_end),
            _ => phase_end,
        };
        if C::LOSSY {
            next.min(self.next_expiry)
        } else {
            next
        }
    }

    /// Lossy links: counts every request whose loss deadline has passed as
    /// lost and, in closed loop (before the window ends), issues a new
    /// request in each freed slot. Then finds the next deadline.
    fn expire(&mut self, now: u64) {
        let mut lost = std::mem::take(&mut self.lost);
        let mut next = u64::MAX;
        for i in 0..self.conns.len() {
            if !self.conns[i].is_open() {
                continue;
            }
            self.conns[i].expire(now, &mut lost);
            let freed = lost.len();
            for timing in lost.drain(..) {
                if self.in_window(timing.intended) {
                    self.m.counters.lost += 1;
                }
            }
            if freed > 0 && self.in_flight.is_some() && now < self.spec.timeline.end {
                for _ in 0..freed {
                    self.conns[i].issue(now, now);
                }
                self.send(i);
            }
            if let Some(at) = self.conns[i].next_expiry() {
                next = next.min(at);
            }
        }
        self.lost = lost;
        self.next_expiry = next;
    }

    /// When the drain gives up: `drain_stall` after the last byte moved,
    /// and never later than `drain_cap` after the window. A slow server that
    /// is still echoing is waited for; one that stopped is not.
    fn drain_deadline(&self) -> u64 {
        let t = self.spec.timeline;
        (self.last_progress + t.drain_stall).min(t.end + t.drain_cap)
    }

    /// Issues backlogged requests while there is room, then writes.
    ///
    /// Once the window has ended nothing more is issued: the drain only
    /// collects replies to what is already sent. A backlog left then means
    /// the server could not keep up; it is counted as unsent, not fed to an
    /// overloaded server for another few seconds.
    fn send(&mut self, i: usize) {
        let end = self.spec.timeline.end;
        loop {
            // The clock is read only when there is something to issue: in
            // closed loop the backlog is always empty and this is hot.
            let mut issuing = false;
            if !self.conns[i].backlog().is_empty() {
                let now = self.clock();
                issuing = now < end;
                while issuing && self.conns[i].has_room() {
                    let Some(intended) = self.conns[i].backlog().pop_front() else {
                        break;
                    };
                    if self.in_window(intended) {
                        stats::record(&mut self.m.send_lag, now.saturating_sub(intended));
                    }
                    self.conns[i].issue(intended, now);
                }
            }
            if let Err(e) = self.conns[i].flush() {
                self.fail(i, &e.to_string());
                return;
            }
            if let Err(e) = self.watch_writable(i) {
                self.fail(i, &e.to_string());
                return;
            }
            // Stop when the socket is full or there is nothing left to issue.
            if self.conns[i].unsent() > 0 || self.conns[i].backlog().is_empty() || !issuing {
                return;
            }
        }
    }

    /// Asks for writable events only while connection `i` has bytes the
    /// socket would not take. Registered for them all the time, every ACK
    /// that frees send-buffer space would wake the loop for nothing, and in
    /// ping-pong, where writes never block, that is most of the events.
    /// Re-registering makes epoll check readiness again at once, so a socket
    /// that drained in between is not missed.
    fn watch_writable(&mut self, i: usize) -> io::Result<()> {
        let c = &mut self.conns[i];
        let want = c.unsent() > 0;
        if want != c.write_interest() {
            let interest = if want {
                Interest::READABLE | Interest::WRITABLE
            } else {
                Interest::READABLE
            };
            self.poll
                .registry()
                .reregister(c.socket(), Token(i), interest)?;
            c.set_write_interest(want);
        }
        Ok(())
    }

    fn on_readable(&mut self, i: usize, closing: bool) {
        let mut done = std::mem::take(&mut self.done);
        let before = self.conns[i].received();
        let to = Found {
            replies: &mut done,
            counters: &mut self.m.counters,
        };
        let end = self.conns[i].read(&mut self.scratch, closing, to);
        let now = self.clock();
        if now >= self.spec.timeline.warmup_end && now < self.spec.timeline.end {
            let n = self.conns[i].received() - before;
            self.m.echoed_bytes += n;
            if let Some(idx) = self.interval_of(now) {
                self.m.intervals.add_bytes(idx, n);
            }
        }
        // Damage that answers no request frees no slot.
        let completed = if C::LOSSY {
            done.iter().filter(|(t, _)| *t != STRAY).count()
        } else {
            done.len()
        };
        for (timing, verdict) in done.drain(..) {
            self.on_reply(i, timing, verdict, now);
        }
        self.done = done;
        match end {
            Ok(ReadEnd::Drained) => {}
            Ok(ReadEnd::Eof) => {
                self.fail(i, "server closed the connection");
                return;
            }
            Err(e) => {
                self.fail(i, &e.to_string());
                return;
            }
        }
        if self.in_flight.is_some() && now < self.spec.timeline.end {
            for _ in 0..completed {
                self.conns[i].issue(now, now);
            }
        }
    }

    fn on_reply(&mut self, i: usize, timing: Inflight, verdict: Verdict, now: u64) {
        let id = self.conns[i].id();
        if self.in_window(timing.intended) {
            let corrected = now.saturating_sub(timing.intended);
            let uncorrected = now.saturating_sub(timing.sent);
            self.m.counters.requests += 1;
            self.m.per_conn[id as usize] += 1;
            match self.spec.load {
                // In closed loop a request is sent when it is due: the two
                // latencies are one, and the second record would be wasted
                // work.
                Load::Closed { .. } => stats::record(&mut self.m.corrected, corrected),
                Load::Open { .. } => {
                    stats::record(&mut self.m.corrected, corrected);
                    stats::record(&mut self.m.uncorrected, uncorrected);
                }
                // The latency of a flood is the window's (see the module
                // docs): not recorded.
                Load::Flood { .. } => {}
            }
            // By intended time, like the window itself: the intervals then
            // tile the window exactly, and a reply that completes during
            // the drain still belongs to the interval it was meant for.
            if let Some(idx) = self.interval_of(timing.intended) {
                match self.spec.load {
                    Load::Flood { .. } => self.m.intervals.count(idx),
                    _ => self.m.intervals.record(idx, corrected, uncorrected),
                }
            }
        }
        let what = match verdict {
            Verdict::Intact => return,
            Verdict::Corrupt => {
                self.m.counters.corrupt += 1;
                if C::LOSSY {
                    "corrupt datagram (its bytes differ from every request sent)".to_string()
                } else {
                    "corrupt reply (bytes differ from the request)".to_string()
                }
            }
            Verdict::Reordered { got } => {
                self.m.counters.reordered += 1;
                format!("reordered reply (carried request #{got} of this connection)")
            }
            Verdict::Foreign { got } => {
                self.m.counters.foreign += 1;
                format!("reply carried bytes sent on connection {got}")
            }
        };
        let msg = format!("{} connection {id}: {what}", self.spec.dial.target);
        self.m.note_error(msg);
    }

    /// Closes connection `i` after a failure, charging everything it still
    /// owed as truncated or unsent.
    fn fail(&mut self, i: usize, why: &str) {
        let t = self.spec.timeline;
        let c = &mut self.conns[i];
        let _ = self.poll.registry().deregister(c.socket());
        let unsent = c.unsent_in(t.warmup_end, t.end);
        let owed = c.close();
        let id = c.id();
        self.m.counters.connection_errors += 1;
        self.m.counters.truncated += owed;
        self.m.counters.unsent += unsent;
        let msg = format!(
            "{} connection {id}: {why} ({} outstanding)",
            self.spec.dial.target,
            replies(owed)
        );
        self.m.note_error(msg);
        if self.conns.iter().all(|c| !c.is_open()) {
            self.m.open_until = self.clock();
        }
    }

    /// Charges what is still missing when the drain ends.
    fn finish(&mut self) {
        let t = self.spec.timeline;
        if C::LOSSY {
            // The drain is over: a datagram still unanswered is lost, not a
            // fault (and after the window nothing new is issued).
            self.expire(u64::MAX);
        }
        // Wrong bytes too few to be judged on arrival are damage, not a
        // missing reply.
        let now = self.clock();
        for i in 0..self.conns.len() {
            if self.conns[i].is_open() {
                if let Some((timing, verdict)) = self.conns[i].take_damage() {
                    self.on_reply(i, timing, verdict, now);
                }
            }
        }
        for c in self.conns.iter_mut().filter(|c| c.is_open()) {
            let owed = c.outstanding();
            self.m.counters.unsent += c.unsent_in(t.warmup_end, t.end);
            if owed > 0 {
                self.m.counters.truncated += owed;
                let msg = format!(
                    "{} connection {}: {} still missing when the drain gave up, after {:?} \
                     without a byte moving or {:?} after the window ({})",
                    self.spec.dial.target,
                    c.id(),
                    replies(owed),
                    Duration::from_nanos(t.drain_stall),
                    Duration::from_nanos(t.drain_cap),
                    c.missing_detail()
                );
                if self.m.errors.len() < super::result::MAX_ERROR_MESSAGES {
                    self.m.errors.push(msg);
                }
            }
        }
    }
}

/// "1 reply", "2 replies": a count a person reads.
fn replies(n: u64) -> String {
    if n == 1 {
        "1 reply".to_string()
    } else {
        format!("{n} replies")
    }
}

/// Waits until every connection has completed its handshake.
fn wait_connected<C: Link>(poll: &mut Poll, conns: &mut [C], timeout: Duration) -> io::Result<()> {
    let deadline = Instant::now() + timeout;
    let mut connected = vec![false; conns.len()];
    let mut left = conns.len();
    let mut events = Events::with_capacity(1024);
    while left > 0 {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "{left} of {} connections not established after {timeout:?}",
                    conns.len()
                ),
            ));
        }
        match poll.poll(&mut events, Some(remaining)) {
            Ok(()) => {}
            Err(e) if interrupted(&e) => continue,
            Err(e) => return Err(e),
        }
        for event in events.iter() {
            let i = event.token().0;
            if connected[i] {
                continue;
            }
            let c = &mut conns[i];
            // Not yet (or a spurious event): wait for the next one.
            if !c.established()? {
                continue;
            }
            c.tune()?;
            // From now on writable events are wanted only while a write is
            // blocked (see `Engine::watch_writable`).
            poll.registry()
                .reregister(c.socket(), Token(i), Interest::READABLE)?;
            c.set_write_interest(false);
            connected[i] = true;
            left -= 1;
        }
    }
    Ok(())
}
