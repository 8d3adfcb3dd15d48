//! `--threads N`: N reactors, one per thread, sharing nothing.
//!
//! # The setup
//!
//! 1. Every `--listen` TCP or UDP address gets N listeners with
//!    SO_REUSEPORT: the set `lib.rs` bound (port 0 resolved there) and
//!    N − 1 more joined to the resolved addresses. A Unix socket, and
//!    every socket passed by socket activation, is shared instead: N
//!    copies of one descriptor (see "Shared listeners" in
//!    [`crate::listen`]). Reactor *i* gets set *i*.
//! 2. SIGINT and SIGTERM are blocked on the calling thread, and so on the
//!    reactor threads, which inherit its mask. SIGHUP gets a thread of its
//!    own.
//! 3. Each thread pins itself (`--pin`) and builds its [`Reactor`]: its own
//!    `Poll`, slab, buffer pool and signal-hook `Signals`.
//! 4. Once all are built, each unblocks the signals and runs the loop of
//!    [`crate::reactor`], unchanged; this thread announces each address once and
//!    waits for the reactors to stop.
//!
//! # How connections are spread
//!
//! For each new connection the kernel picks one listener of the group by
//! a hash of the connection's addresses and ports; for each datagram to a
//! `--listen udp:` address, one UDP socket by the same hash, so one
//! client's datagrams all go to the same reactor. The connection stays
//! with the reactor that accepted it for its whole life: nothing is handed
//! between threads and nothing is locked. The spread is only as even as
//! the hash and the clients: a reactor that drew the heavy clients stays
//! busier than its neighbours, and no other reactor takes work from it.
//!
//! A shared socket (Unix, or inherited) has one queue for all: each new
//! connection (or datagram) wakes every reactor, the first to get there
//! takes it and the others find the queue empty. The spread is then "who
//! is free first", usually fairer than the hash, at the cost of N − 1
//! wasted wake-ups per connection.
//!
//! `--max-conns` is the process's limit, whatever the spread: the
//! reactors share one count of open connections ([`crate::reactor::limit`]), one
//! atomic update when a connection is admitted and one when it closes. A
//! reactor that drew more clients than the others serves them as long as
//! the process is under the limit.
//!
//! # Signals
//!
//! signal-hook delivers a signal to every `Signals` instance registered
//! for it (checked: four threads, each with its own `Signals` on its own
//! `Poll`, each saw SIGTERM and then SIGINT). So every reactor sees the
//! first SIGINT/SIGTERM itself and runs the drain of a single reactor
//! ("Shutdown" in [`crate::reactor`]). The process exits 0 once every reactor has
//! drained. Three things keep this true:
//!
//! - The signals stay blocked until every reactor's `Signals` exists. A
//!   signal delivered earlier would reach only the reactors built so far;
//!   the others would never drain, and the process would never exit.
//! - The *second* signal is named once, in the signal handler, not by N
//!   reactors: a reactor that had not yet read the first signal when the
//!   second came reads both at once, in signal-number order (SIGINT before
//!   SIGTERM), and would report the wrong one. A handler registered before
//!   any reactor's `Signals` sees deliveries in the order they arrive and
//!   records the second one's number (an atomic store, async-signal-safe)
//!   before any reactor hears of it. Every reactor still draining then
//!   stops at once; this thread waits for all of them, so that the stop
//!   line counts every connection the second signal cut short, and exits
//!   with 128 + the recorded number.
//! - The start of the drain is logged once, here, not by N reactors: each
//!   reports its open connections as its drain begins, and the line, with
//!   their sum, goes out once all have.
//! - SIGHUP is caught once, here, not by each reactor, which would log N
//!   lines for one signal.
//!
//! A reactor whose loop fails or panics ends the process with status 1, as
//! a lone reactor's failure would: carrying on with N − 1 would hide it.
//!
//! # Closing one listener of a group
//!
//! Closing a listener resets the connections queued in its accept queue;
//! the kernel does not hand them to the other listeners of the group
//! (unless `net.ipv4.tcp_migrate_req` is set). Each reactor empties its
//! listeners before it closes them ("Shutdown" in [`crate::reactor`]), so the N
//! closes, at N slightly different moments, reset nobody that had been
//! queued. New connections go to the listeners still open, and are drained
//! by their reactors in turn.
//!
//! A shared socket's queue cannot be left to a reactor that closed its
//! copy: a reactor deregisters its copy before closing it (so its poll
//! stops hearing of the socket), and the socket itself closes only with
//! the last copy, that is, right after the last reactor to drain has
//! emptied the queue. Until then every reactor that still holds a copy
//! is woken by each new connection, as before the signal. The window in
//! which a queued connection can be reset is that of a single reactor
//! (see "Shutdown" in [`crate::reactor`]).
//!
//! # Pinning
//!
//! With `--pin`, reactor *i* runs on CPU `allowed[i mod k]`, where
//! `allowed` is the *k* CPUs this process may run on at startup (`taskset
//! -c 2,3 echod --threads 2 --pin` puts reactor 0 on CPU 2 and reactor 1 on
//! CPU 3). With more reactors than CPUs, reactors share CPUs round robin,
//! and a line on stderr says so: a pinned thread cannot move away from a
//! busy neighbour, so such a setup is usually better left unpinned. Each
//! reactor pins itself before building its state, so that its memory is
//! first touched from, and allocated near, its own CPU.

use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;

use crate::affinity;
use crate::config::{Config, ListenAddr};
use crate::counters::Counters;
use crate::error::{Error, Stopped};
use crate::listen::{self, Bound};
use crate::log::{Drain, DrainEnd};
use crate::metrics::{Metrics, Publisher};
use crate::reactor::limit::ConnLimit;
use crate::reactor::{self, Reactor};

/// What each reactor catches itself; SIGHUP is [`watch_hangups`]'s.
const STOPS: [libc::c_int; 2] = [libc::SIGINT, libc::SIGTERM];

/// Runs `config.threads` reactors until a signal stops them; `first` is
/// the set of listeners [`listen::bind_all`] opened (TCP and UDP ones with
/// SO_REUSEPORT when there is more than one reactor), or the sockets
/// socket activation passed when `activated`.
pub fn run(config: &Config, first: Vec<Bound>, activated: bool) -> Result<Stopped, Error> {
    let n = config.threads;
    let cpus = placement(config)?;
    if n == 1 {
        // `--pin` alone: the one reactor, on this thread.
        if let Some(cpu) = cpus[0] {
            affinity::pin_current(cpu).map_err(|e| pin_failed(0, cpu, e))?;
        }
        let mut metrics = Metrics::serve(config, 1)?;
        let publisher = metrics.publishers().pop().flatten();
        return reactor::run(config, first, publisher, || metrics.announce());
    }
    let addrs: Vec<ListenAddr> = first.iter().map(Bound::listen_addr).collect();
    let mut sets = Vec::with_capacity(n);
    for _ in 1..n {
        sets.push(listen::another_set(&first, activated, config.backlog)?);
    }
    // Reactor 0 gets the first set, with the socket files to remove.
    sets.insert(0, first);
    // `--metrics`: one board for all, served from a thread of its own.
    let mut metrics = Metrics::serve(config, n)?;
    // Blocked before any thread starts, the SIGHUP one included: a
    // thread with them unblocked could run the handler too early.
    let _blocked = Blocked::block(&STOPS);
    let _hangups = watch_hangups()?;
    // Before any reactor's `Signals`: handlers run in registration order.
    let second = SecondSignal::record()?;
    // `--max-conns`: one count for the process (see "How connections are
    // spread").
    let limit = config.max_conns.map(|max| Arc::new(ConnLimit::new(max)));
    let (tx, rx) = mpsc::channel();
    let mut go = Vec::with_capacity(n);
    let mut handles = Vec::with_capacity(n);
    let each = sets.into_iter().zip(cpus).zip(metrics.publishers());
    for (i, ((set, cpu), publisher)) in each.enumerate() {
        let (go_tx, go_rx) = mpsc::channel();
        let line = Line::new(i, tx.clone());
        let config = config.clone();
        let limit = limit.clone();
        let handle = thread::Builder::new()
            .name(format!("reactor-{i}"))
            .spawn(move || reactor_thread(line, config, set, cpu, publisher, limit, go_rx))
            .map_err(|e| Error::Startup(format!("cannot start reactor thread {i}: {e}")))?;
        go.push(go_tx);
        handles.push(handle);
    }
    drop(tx);
    // Every reactor built, its `Signals` registered, before any runs.
    let mut failed = None;
    for _ in 0..n {
        if let Ok((_, Report::Built(Err(e)))) = rx.recv() {
            failed.get_or_insert(e);
        }
    }
    for g in &go {
        let _ = g.send(failed.is_none());
    }
    if let Some(e) = failed {
        return Err(e);
    }
    listen::announce(&addrs);
    metrics.announce();
    crate::log::started(config, &addrs);
    let mut stopped = 0;
    let mut forced = None;
    let mut totals = Counters::default();
    let mut drain: Option<Drain> = None;
    let (mut draining, mut open) = (0, 0);
    while stopped < n {
        match rx.recv() {
            // Every reactor sees the first signal; the line waits for all,
            // so it counts every open connection (a reactor that stopped
            // before hearing of it had none).
            Ok((_, Report::Draining(o))) => {
                draining += 1;
                open += o;
                if draining == n {
                    let sig = second.first().unwrap_or(libc::SIGTERM);
                    crate::log::draining(sig, open, config.shutdown_timeout);
                }
            }
            Ok((_, Report::Totals(t, d))) => {
                totals += t;
                drain = match (drain, d) {
                    (Some(a), Some(b)) => Some(a.merge(b)),
                    (a, b) => a.or(b),
                };
            }
            Ok((_, Report::Stopped(Ok(Stopped::Drained)))) => stopped += 1,
            // A second signal: every reactor still draining stops at once
            // too (each sees every delivery), so wait for their totals.
            Ok((_, Report::Stopped(Ok(Stopped::Forced(sig))))) => {
                stopped += 1;
                forced.get_or_insert(sig);
            }
            // Failed: at once, without waiting for the others.
            Ok((_, Report::Stopped(Err(e)))) => return Err(e),
            Ok((_, Report::Built(_))) => {}
            // Every `Line` reports before it goes, so this is unreachable.
            Err(_) => return Err(Error::Runtime("the reactor threads are gone".into())),
        }
    }
    for handle in handles {
        let _ = handle.join();
    }
    // The one the handler saw second, not what a reactor read (see
    // "Signals").
    let outcome = match forced {
        Some(sig) => Stopped::Forced(second.which().unwrap_or(sig)),
        None => Stopped::Drained,
    };
    if let (Some(d), Stopped::Forced(sig)) = (drain.as_mut(), outcome) {
        d.end = DrainEnd::Signal(sig);
    }
    crate::log::stopped_with(Some(totals), drain);
    Ok(outcome)
}

/// The body of reactor thread `line.i`: pin, build, wait for the go, run.
fn reactor_thread(
    mut line: Line,
    config: Config,
    set: Vec<Bound>,
    cpu: Option<usize>,
    publisher: Option<Publisher>,
    limit: Option<Arc<ConnLimit>>,
    go: mpsc::Receiver<bool>,
) {
    let i = line.i;
    if let Some(cpu) = cpu {
        if let Err(e) = affinity::pin_current(cpu) {
            return line.report(Report::Built(Err(pin_failed(i, cpu, e))));
        }
    }
    let mut reactor = match Reactor::catching(&config, set, &STOPS) {
        Ok(reactor) => reactor,
        Err(e) => {
            let e = Error::Startup(format!("cannot start reactor {i}: {e}"));
            return line.report(Report::Built(Err(e)));
        }
    };
    if let Some(limit) = limit {
        reactor.share_limit(limit);
    }
    // The count goes to `run`, which logs one line for all reactors.
    let tx = line.tx.clone();
    reactor.report_drain(move |open| {
        let _ = tx.send((i, Report::Draining(open)));
    });
    if let Some(publisher) = publisher {
        if let Err(e) = reactor.publish_to(publisher) {
            let e = Error::Startup(format!("reactor {i} cannot serve --metrics: {e}"));
            return line.report(Report::Built(Err(e)));
        }
    }
    line.report(Report::Built(Ok(())));
    if go.recv() != Ok(true) {
        return; // another reactor failed to start
    }
    Blocked::unblock(&STOPS);
    let stopped = reactor
        .run()
        .map_err(|e| Error::Runtime(format!("reactor {i}: event loop failed: {e}")));
    let drain = stopped.as_ref().ok().and_then(|&s| reactor.drain(s));
    line.report(Report::Totals(reactor.counters, drain));
    line.report(Report::Stopped(stopped));
}

/// The CPU for each reactor: `allowed[i mod k]` with `--pin`, else none.
fn placement(config: &Config) -> Result<Vec<Option<usize>>, Error> {
    let n = config.threads;
    if !config.pin {
        return Ok(vec![None; n]);
    }
    let allowed = affinity::allowed().map_err(|e| {
        Error::Startup(format!(
            "--pin: cannot read the CPUs this process may use: {e}"
        ))
    })?;
    let k = allowed.len();
    if n > k {
        // One example of the sharing, not the whole map, which could run
        // to a thousand reactors; and the flag that avoids it.
        let s = if k == 1 { "" } else { "s" };
        crate::log::line(format_args!(
            "--pin: {n} reactors but this process may use only {k} CPU{s}, so they share: \
             reactor {k} runs on CPU {} with reactor 0 \
             (--threads {k} gives each reactor a CPU of its own)",
            allowed[0]
        ));
    }
    Ok((0..n).map(|i| Some(allowed[i % k])).collect())
}

fn pin_failed(i: usize, cpu: usize, e: std::io::Error) -> Error {
    Error::Startup(format!("--pin: cannot pin reactor {i} to CPU {cpu}: {e}"))
}

/// What a reactor thread tells [`run`].
enum Report {
    /// Built and waiting for the go, or failed to start.
    Built(Result<(), Error>),
    /// The first SIGINT/SIGTERM began this reactor's drain with this many
    /// connections open.
    Draining(u64),
    /// The loop ended with these totals for the stop line, and its drain
    /// ended so (sent just before `Stopped`).
    Totals(Counters, Option<Drain>),
    /// The loop ended.
    Stopped(Result<Stopped, Error>),
}

/// Reactor thread `i`'s line to [`run`]. If the thread unwinds before it
/// has reported both steps, dropping the line reports a panic instead, so
/// `run` never waits for a reactor that is gone.
struct Line {
    i: usize,
    tx: mpsc::Sender<(usize, Report)>,
    built: bool,
    stopped: bool,
}

impl Line {
    fn new(i: usize, tx: mpsc::Sender<(usize, Report)>) -> Line {
        Line {
            i,
            tx,
            built: false,
            stopped: false,
        }
    }

    fn report(&mut self, report: Report) {
        match report {
            Report::Built(_) => self.built = true,
            Report::Stopped(_) => self.stopped = true,
            Report::Totals(..) | Report::Draining(_) => {}
        }
        // `run` may have returned already (another reactor's outcome).
        let _ = self.tx.send((self.i, report));
    }
}

impl Drop for Line {
    fn drop(&mut self) {
        let panicked = Error::Runtime(format!("reactor {} panicked", self.i));
        if !self.built {
            self.report(Report::Built(Err(panicked)));
        } else if !self.stopped && thread::panicking() {
            self.report(Report::Stopped(Err(panicked)));
        }
    }
}

/// Signals blocked on the calling thread until dropped.
struct Blocked(Vec<libc::c_int>);

impl Blocked {
    fn block(signals: &[libc::c_int]) -> Blocked {
        mask(libc::SIG_BLOCK, signals);
        Blocked(signals.to_vec())
    }

    fn unblock(signals: &[libc::c_int]) {
        mask(libc::SIG_UNBLOCK, signals);
    }
}

impl Drop for Blocked {
    fn drop(&mut self) {
        Blocked::unblock(&self.0);
    }
}

fn mask(how: libc::c_int, signals: &[libc::c_int]) {
    // SAFETY: sigset_t is initialised by sigemptyset before use, and
    // pthread_sigmask only reads it (no old mask is asked for).
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for &sig in signals {
            libc::sigaddset(&mut set, sig);
        }
        libc::pthread_sigmask(how, &set, std::ptr::null_mut());
    }
}

/// Records which SIGINT/SIGTERM came first and which second, from the
/// handler, in the order the deliveries arrived (see "Signals");
/// unregistered when dropped.
struct SecondSignal {
    ids: Vec<signal_hook::SigId>,
    first: Arc<AtomicI32>,
    second: Arc<AtomicI32>,
}

impl SecondSignal {
    fn record() -> Result<SecondSignal, Error> {
        let first = Arc::new(AtomicI32::new(0));
        let second = Arc::new(AtomicI32::new(0));
        let mut ids = Vec::new();
        for sig in STOPS {
            let (first, second) = (Arc::clone(&first), Arc::clone(&second));
            // SAFETY: the action only touches atomics, which is
            // async-signal-safe; it neither allocates nor locks.
            let id = unsafe {
                signal_hook::low_level::register(sig, move || {
                    let (set, seq) = (Ordering::SeqCst, Ordering::SeqCst);
                    if first.compare_exchange(0, sig, set, seq).is_err() {
                        let _ = second.compare_exchange(0, sig, set, seq);
                    }
                })
            };
            ids.push(
                id.map_err(|e| Error::Startup(format!("cannot install signal handlers: {e}")))?,
            );
        }
        Ok(SecondSignal { ids, first, second })
    }

    /// The first SIGINT/SIGTERM's number, once one came.
    fn first(&self) -> Option<i32> {
        Some(self.first.load(Ordering::SeqCst)).filter(|&sig| sig != 0)
    }

    /// The second SIGINT/SIGTERM's number, once one came.
    fn which(&self) -> Option<i32> {
        Some(self.second.load(Ordering::SeqCst)).filter(|&sig| sig != 0)
    }
}

impl Drop for SecondSignal {
    fn drop(&mut self) {
        for &id in &self.ids {
            signal_hook::low_level::unregister(id);
        }
    }
}

/// Catches SIGHUP for every reactor at once, on a thread of its own, and
/// logs one line per delivery (see [`crate::signals`]). Stops when the
/// returned handle is dropped.
fn watch_hangups() -> Result<HangupWatch, Error> {
    let mut signals = signal_hook::iterator::Signals::new([libc::SIGHUP])
        .map_err(|e| Error::Startup(format!("cannot install signal handlers: {e}")))?;
    let handle = signals.handle();
    thread::Builder::new()
        .name("echod-sighup".into())
        .spawn(move || {
            for _ in signals.forever() {
                crate::signals::ignore_hangup();
            }
        })
        .map_err(|e| Error::Startup(format!("cannot start the signal thread: {e}")))?;
    Ok(HangupWatch(handle))
}

/// Ends [`watch_hangups`]'s thread when dropped.
struct HangupWatch(signal_hook::iterator::Handle);

impl Drop for HangupWatch {
    fn drop(&mut self) {
        self.0.close();
    }
}
