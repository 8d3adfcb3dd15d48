//! `loadgen run`: drive one server, measure it, and merge what every engine
//! saw.
//!
//! The coordinator (this file) spreads the connections over `threads`
//! engines ([`engine`]), waits until every connection is established, gives
//! all engines one common start instant, shows progress while they run, and
//! merges their [`result::Measurements`]. Engines never talk to each other;
//! the only data flowing back during the run is two progress counters.
//!
//! Each engine is compiled once per kind of connection ([`link::Link`]):
//! byte streams ([`conn`], TCP and `unix:`) and datagrams ([`datagram`],
//! `udp:`), so neither pays for the other's work.

pub mod conn;
pub mod datagram;
pub mod engine;
pub mod intervals;
pub mod link;
pub mod result;
pub mod schedule;
pub mod series;
pub mod timer;

use std::io;
use std::sync::atomic::Ordering;
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant, SystemTime};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

use conn::Conn;
use datagram::DatagramConn;
use engine::{Engine, EngineSpec, Live, Timeline};
use link::{Dial, Link};
use result::{Measurements, RunResult};

use crate::interrupt::Interrupt;
use crate::target::Target;

/// How requests are paced.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum Load {
    /// Each connection keeps `depth` requests in flight.
    Closed {
        /// Requests in flight per connection (1 = ping-pong).
        depth: u32,
    },
    /// Requests go out on a fixed schedule at `rate` per second in total.
    Open {
        /// Total requests per second over all connections.
        rate: f64,
    },
    /// Saturation: each connection writes as fast as its socket takes
    /// bytes, with at most `window` bytes sent and not yet echoed. It is
    /// the closed loop with `window / size` requests in flight, refilled
    /// on every reply, and counted in echoed bytes, not latency (a reply
    /// waits behind the whole window sent before it).
    Flood {
        /// Most unechoed bytes per connection (whole requests of `size`).
        window: u64,
    },
}

impl Load {
    /// Requests a connection keeps in flight, for the loads that keep a
    /// fixed number (closed loop and flood); `None` in open loop.
    pub fn in_flight(&self, size: usize) -> Option<u32> {
        match *self {
            Load::Closed { depth } => Some(depth),
            Load::Open { .. } => None,
            Load::Flood { window } => Some(
                u32::try_from(window / size as u64)
                    .unwrap_or(u32::MAX)
                    .max(1),
            ),
        }
    }
}

/// A validated `loadgen run` configuration.
#[derive(Clone, Debug, Serialize)]
pub struct RunConfig {
    /// The server.
    pub target: Target,
    /// Connections in total.
    pub connections: u32,
    /// Bytes per request.
    pub size: usize,
    /// Pacing.
    pub load: Load,
    /// Length of the measurement window.
    #[serde(serialize_with = "secs")]
    pub duration: Duration,
    /// Traffic before the window that is not counted.
    #[serde(serialize_with = "secs")]
    pub warmup: Duration,
    /// Event loops (threads) the connections are spread over.
    pub threads: u32,
    /// After the window, give up on outstanding replies once no byte has
    /// moved for this long (see [`drain_cap`]).
    #[serde(serialize_with = "secs")]
    pub drain_timeout: Duration,
    /// udp: a request with no reply after this long is counted lost
    /// (`--loss-timeout`); `None` for stream targets.
    #[serde(serialize_with = "opt_secs", skip_serializing_if = "Option::is_none")]
    pub loss_timeout: Option<Duration>,
    /// Interval length of the timeline and `--hdr-log` (`--hdr-interval`),
    /// when intervals are wanted.
    #[serde(skip)]
    pub interval: Option<Duration>,
    /// Show a live progress bar (only drawn on a terminal).
    #[serde(skip)]
    pub progress: bool,
    /// `--server-pid`: the server process whose CPU is sampled around the
    /// window.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_pid: Option<u32>,
}

fn secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

fn opt_secs<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_f64(d.as_secs_f64()),
        None => s.serialize_none(),
    }
}

/// A warm-up as the reports print it: "+1s warm-up", or "no warm-up"
/// rather than "+0ns warm-up".
pub fn warmup_text(warmup: Duration) -> String {
    if warmup.is_zero() {
        "no warm-up".to_string()
    } else {
        format!("+{warmup:?} warm-up")
    }
}

/// The default `--loss-timeout`: long enough that a loopback or LAN echo
/// (tens of µs to a few ms, a scheduling hiccup included) is never taken
/// for lost, short enough that a closed-loop slot is not idle for long.
pub const DEFAULT_LOSS_TIMEOUT: Duration = Duration::from_secs(1);

/// The default `--window` of a flood: unechoed bytes per connection.
///
/// Chosen by measurement (loadgen/README.md, "Flood", has the runs): with
/// 50 connections on the 2-CPU development VM a 256 KiB window left
/// echod's reactor at a median 86% of its CPU and the generator at 97%
/// (the generator was the limit in 4 of 5 runs); at 1 MiB the reactor was
/// at 98-100% in every run and the generator at a median 66%.
pub const DEFAULT_FLOOD_WINDOW: u64 = 1 << 20;

/// The default `--size` of a flood. The server sees one byte stream
/// whatever the size; to the generator each request is bookkeeping (a
/// timing record, a verdict, a refill), so a flood uses few large ones.
pub const DEFAULT_FLOOD_SIZE: usize = 16 << 10;

/// How long to wait for every connection's handshake.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The longest drain, however steadily bytes still trickle in: 30 s or four
/// windows, whichever is longer. A slow but correct server (64 MiB requests,
/// a deep pipeline) keeps moving bytes and is waited for; a server that
/// stops moving them is charged after `--drain-timeout`; and a server that
/// dribbles a byte a second cannot hold the run hostage.
pub fn drain_cap(duration: Duration) -> Duration {
    (duration * 4).max(Duration::from_secs(30))
}

/// Moments in a run the caller may want to act on (e.g. sample a server's
/// CPU time exactly around the measurement window).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Moment {
    /// The measurement window begins (warm-up is over).
    WindowStart,
    /// The measurement window ends (the drain begins).
    WindowEnd,
}

/// Why a run produced no measurements.
#[derive(Debug)]
pub enum RunError {
    /// The connections could not be set up; the message names the address
    /// and, for the generator's own limits, says they are the generator's.
    Connect(io::Error),
    /// Interrupted before the measurement window began.
    Interrupted,
    /// The generator itself failed (poller, timer, thread).
    Generator(io::Error),
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunError::Connect(e) | RunError::Generator(e) => write!(f, "{e}"),
            RunError::Interrupted => f.write_str("interrupted before the measurement began"),
        }
    }
}

impl std::error::Error for RunError {}

/// Runs the load described by `cfg` and returns the merged measurements.
///
/// `on_moment` is called from the calling thread within a few milliseconds
/// of each [`Moment`]. When `stop` is raised during the run, the window
/// closes at that instant (both moments still fire, in order), what is in
/// flight is drained, and the result is marked interrupted.
///
/// # Errors
/// See [`RunError`]. Server misbehaviour is not an error: it is counted in
/// the result.
pub fn run(
    cfg: &RunConfig,
    on_moment: &mut dyn FnMut(Moment),
    stop: &Interrupt,
) -> Result<RunResult, RunError> {
    let threads = cfg.threads.clamp(1, cfg.connections);
    let warmup = cfg.warmup.as_nanos() as u64;
    let timeline = Timeline {
        warmup_end: warmup,
        end: warmup + cfg.duration.as_nanos() as u64,
        drain_stall: cfg.drain_timeout.as_nanos() as u64,
        drain_cap: drain_cap(cfg.duration).as_nanos() as u64,
    };
    let live = Arc::new(Live::default());
    let (ready_tx, ready_rx) = mpsc::channel::<io::Result<()>>();
    let mut go = Vec::new();
    let mut handles = Vec::new();
    for t in 0..threads {
        let spec = EngineSpec {
            dial: Dial {
                target: cfg.target.clone(),
                peers: cfg.connections,
                size: cfg.size,
                loss_timeout: cfg.loss_timeout.unwrap_or(DEFAULT_LOSS_TIMEOUT).as_nanos() as u64,
            },
            conn_ids: (t..cfg.connections).step_by(threads as usize).collect(),
            load: cfg.load,
            timeline,
            interval: cfg.interval,
        };
        let (go_tx, go_rx) = mpsc::channel::<Option<Instant>>();
        go.push(go_tx);
        let ready = ready_tx.clone();
        let live = Arc::clone(&live);
        let datagram = cfg.target.is_datagram();
        let handle = std::thread::Builder::new()
            .name(format!("loadgen-engine-{t}"))
            .spawn(move || -> io::Result<Option<Measurements>> {
                // One compiled engine per kind of link (see `link`).
                if datagram {
                    engine_thread::<DatagramConn>(spec, &ready, &go_rx, &live)
                } else {
                    engine_thread::<Conn>(spec, &ready, &go_rx, &live)
                }
            })
            .map_err(RunError::Generator)?;
        handles.push(handle);
    }
    drop(ready_tx);

    let mut failure = None;
    for _ in 0..threads {
        match ready_rx.recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                failure.get_or_insert(e);
            }
            Err(_) => {
                failure.get_or_insert(io::Error::other("a generator thread died while connecting"));
            }
        }
    }
    if failure.is_some() || stop.raised() {
        for g in &go {
            let _ = g.send(None);
        }
        for h in handles {
            let _ = h.join();
        }
        return Err(match failure {
            Some(e) => RunError::Connect(connect_error(&cfg.target, cfg.connections, e)),
            None => RunError::Interrupted,
        });
    }

    // A short lead so every engine is parked before the start.
    let base = Instant::now() + Duration::from_millis(2);
    let wall_base = SystemTime::now() + Duration::from_millis(2);
    for g in &go {
        let _ = g.send(Some(base));
    }
    let cut = watch(cfg, base, &timeline, &live, &handles, on_moment, stop);

    let mut merged = Measurements::new(cfg.connections as usize);
    for h in handles {
        match h.join() {
            Ok(Ok(Some(m))) => merged.merge(&m),
            Ok(Ok(None)) => {}
            Ok(Err(e)) => return Err(RunError::Generator(e)),
            Err(_) => {
                return Err(RunError::Generator(io::Error::other(
                    "a generator thread panicked",
                )))
            }
        }
    }
    // An interruption closes the window early; the result covers what was
    // really measured, so req/s and the interval log stay exact.
    let (window_from, mut window_to) = match cut {
        Some(c) => (timeline.warmup_end.min(c), timeline.end.min(c)),
        None => (timeline.warmup_end, timeline.end),
    };
    // Likewise when every connection closed inside the window: the rest of
    // it measured nothing, and dividing by it would understate the rates
    // of the time that was measured.
    let mut all_closed = None;
    if merged.open_until < window_to {
        window_to = merged.open_until.max(window_from);
        all_closed = Some(Duration::from_nanos(window_to - window_from));
    }
    Ok(RunResult {
        m: merged,
        window: Duration::from_nanos(window_to - window_from),
        window_start: wall_base + Duration::from_nanos(window_from),
        interval: cfg.interval,
        interrupted: cut.is_some(),
        all_closed,
    })
}

/// One engine thread: connect, report readiness, wait for the start, run.
fn engine_thread<C: Link>(
    spec: EngineSpec,
    ready: &mpsc::Sender<io::Result<()>>,
    go: &mpsc::Receiver<Option<Instant>>,
    live: &Live,
) -> io::Result<Option<Measurements>> {
    let engine = match Engine::<C>::connect(spec, CONNECT_TIMEOUT) {
        Ok(e) => {
            let _ = ready.send(Ok(()));
            e
        }
        Err(e) => {
            let _ = ready.send(Err(e));
            return Ok(None);
        }
    };
    match go.recv() {
        Ok(Some(base)) => engine.run(base, live).map(Some),
        _ => Ok(None),
    }
}

/// Words a failed setup of `connections` connections to `target` so that
/// it blames the right party.
fn connect_error(target: &Target, connections: u32, e: io::Error) -> io::Error {
    let msg = match e.raw_os_error() {
        Some(libc::EMFILE) => {
            let l = crate::env::fd_limit();
            format!(
                "the generator ran out of file descriptors opening {connections} connections to \
                 {target} (its open-file limit is {}, hard limit {}): {e}",
                l.soft, l.hard
            )
        }
        // The system's table, not the process's limit: raising ulimit -n
        // would not help.
        Some(libc::ENFILE) => format!(
            "the machine ran out of open files (the system-wide limit, fs.file-max) opening \
             {connections} connections to {target}: {e}"
        ),
        Some(libc::EADDRNOTAVAIL) => format!(
            "cannot connect to {target}: the generator ran out of local ports \
             (net.ipv4.ip_local_port_range) for {connections} connections: {e}"
        ),
        _ => format!("cannot connect to {target}: {e}"),
    };
    io::Error::new(e.kind(), msg)
}

/// Shows progress and fires the moment callbacks until every engine is
/// done. Returns the instant (ns since `base`) at which `stop` cut the
/// window short, if it did.
fn watch<T>(
    cfg: &RunConfig,
    base: Instant,
    t: &Timeline,
    live: &Live,
    handles: &[std::thread::JoinHandle<T>],
    on_moment: &mut dyn FnMut(Moment),
    stop: &Interrupt,
) -> Option<u64> {
    let total = t.end;
    let flood = matches!(cfg.load, Load::Flood { .. });
    let bar = if cfg.progress {
        // indicatif hides itself when stderr is not a terminal.
        ProgressBar::with_draw_target(Some(total / 1_000_000), ProgressDrawTarget::stderr())
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{bar:30}] {elapsed_precise} {msg}")
            .expect("constant template")
            .progress_chars("=> "),
    );
    let at = |ns: u64| base + Duration::from_nanos(ns);
    let mut pending = vec![
        (at(t.warmup_end), Moment::WindowStart),
        (at(t.end), Moment::WindowEnd),
    ];
    let tick = Duration::from_millis(100);
    let mut last = (Instant::now(), 0u64);
    let mut rate = 0.0;
    let mut cut = None;
    while handles.iter().any(|h| !h.is_finished()) {
        let now = Instant::now();
        if cut.is_none() && stop.raised() {
            let at = now.saturating_duration_since(base).as_nanos() as u64;
            if at < t.end {
                // Engines read this on their next turn (at most 250 ms
                // away) and close their windows at `at`, all at the same
                // instant. The moments left fire now, in order.
                live.cut.store(at, Ordering::SeqCst);
                cut = Some(at);
                for (_, moment) in pending.drain(..) {
                    on_moment(moment);
                }
                let msg = format!(
                    "{} received: measurement window closed after {:.1} s; draining what is in flight \
                     (send it again to quit at once)",
                    stop.signal_name(),
                    Duration::from_nanos(at.saturating_sub(t.warmup_end)).as_secs_f64()
                );
                bar.suspend(|| eprintln!("{msg}"));
            }
        }
        while let Some(&(when, moment)) = pending.first() {
            if now < when {
                break;
            }
            on_moment(moment);
            pending.remove(0);
        }
        // A flood counts bytes (its replies are bookkeeping); the other
        // loads count requests.
        let done = if flood {
            live.echoed.load(Ordering::Relaxed)
        } else {
            live.completed.load(Ordering::Relaxed)
        };
        let faults = live.faults.load(Ordering::Relaxed);
        if now.duration_since(last.0) >= Duration::from_millis(500) {
            rate = (done - last.1) as f64 / now.duration_since(last.0).as_secs_f64();
            last = (now, done);
        }
        let elapsed = now.saturating_duration_since(base).as_nanos() as u64;
        let phase = if cut.is_some() {
            "interrupted, draining"
        } else if elapsed < t.warmup_end {
            "warm-up"
        } else if elapsed < t.end {
            "measuring"
        } else {
            "draining"
        };
        bar.set_position(elapsed.min(total) / 1_000_000);
        bar.set_message(if flood {
            format!(
                "{phase}  {:.0} MB echoed  {:.0} MB/s  {faults} faults",
                done as f64 / 1e6,
                rate / 1e6
            )
        } else {
            format!("{phase}  {done} requests  {rate:.0} req/s  {faults} faults")
        });
        // Sleep until the next tick or moment, whichever is first: this is a
        // display refresh, not synchronisation; `is_finished` decides the end.
        let next = pending
            .first()
            .map_or(now + tick, |&(w, _)| w.min(now + tick));
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
    }
    for (_, moment) in pending {
        on_moment(moment);
    }
    bar.finish_and_clear();
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    // Regression: the system's file table running out (ENFILE) was
    // reported with the process's open-file limit, which points at
    // ulimit -n, the one thing that cannot help.
    #[test]
    fn a_full_system_file_table_is_not_blamed_on_the_process_limit() {
        let target = Target::Tcp("127.0.0.1:7".parse().unwrap());
        let e = io::Error::from_raw_os_error(libc::ENFILE);
        let msg = connect_error(&target, 10, e).to_string();
        assert!(msg.contains("system-wide limit, fs.file-max"), "{msg}");
        assert!(!msg.contains("open-file limit is"), "{msg}");
        let e = io::Error::from_raw_os_error(libc::EMFILE);
        let msg = connect_error(&target, 10, e).to_string();
        assert!(msg.contains("its open-file limit is"), "{msg}");
    }
}
