//! The daemon's one-line messages on stderr, written by [`line()`] (see
//! [`crate::stderr`]: such writes never panic).

use std::fmt;

pub use crate::stderr::line;
use crate::stderr::Stamp;

// ---- tracing: the start and stop lines, and `--trace` ----
//
// Every event uses the target [`TARGET`] and the subscriber prints the
// target and the message only, so these lines read `echod: …` like the
// ones above. When an event's level is off, `tracing`'s macros cost one
// relaxed atomic load and a compare: `--trace` events are free unless
// asked for.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::config::{Config, ListenAddr, Model};
use crate::counters::Counters;

/// The target of every event echod logs through `tracing`.
pub const TARGET: &str = "echod";

/// When [`started`] was logged: the origin of the stop line's uptime.
static START: OnceLock<Instant> = OnceLock::new();

/// Sets up logging to stderr: the level comes from `RUST_LOG` (default
/// `info`; a value that is not a valid filter is named in one line and
/// `info` is used); `trace` adds `echod=trace`. Compact; timestamps and
/// colours only when stderr is a terminal (see "timestamps" above). A
/// second call does nothing.
pub fn init(trace: bool) {
    use std::io::IsTerminal;
    use tracing_subscriber::EnvFilter;
    let terminal = std::io::stderr().is_terminal();
    crate::stderr::stamp_lines(terminal);
    let (mut filter, invalid) = match EnvFilter::try_from_default_env() {
        Ok(filter) => (filter, None),
        Err(e) => {
            // Unset or empty is the default, not a mistake.
            let value = std::env::var_os("RUST_LOG").filter(|v| !v.is_empty());
            (EnvFilter::new("info"), value.map(|v| (v, e)))
        }
    };
    if trace {
        filter = filter.add_directive("echod=trace".parse().expect("a valid directive"));
    }
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(terminal)
        .compact()
        .with_level(false)
        .with_target(true)
        // Its default reports a failed write with `eprintln!`, which
        // panics when stderr is gone (see the top of this file).
        .log_internal_errors(false);
    let _ = if terminal {
        builder.with_timer(Stamp(Duration::ZERO)).try_init()
    } else {
        builder.without_time().try_init()
    };
    if let Some((value, e)) = invalid {
        let value = value.to_string_lossy();
        let shown: String = value
            .chars()
            .take(60)
            .flat_map(char::escape_debug)
            .collect();
        line(format_args!(
            "RUST_LOG={shown}: not a valid filter ({e}); logging at the default level, info"
        ));
    }
}

/// The `LISTEN_FDNAMES` name of each socket socket activation passed, in
/// order; unset when echod bound its own.
static SYSTEMD: OnceLock<Vec<Option<String>>> = OnceLock::new();

/// Tells the start line that the listeners are the sockets systemd passed
/// (socket activation), with their names. Call before [`started`].
pub fn passed_by_systemd(names: Vec<Option<String>>) {
    let _ = SYSTEMD.set(names);
}

/// Logs the start line. Call after the `listening on` lines.
pub fn started(config: &Config, addrs: &[ListenAddr]) {
    START.get_or_init(Instant::now);
    let model = match config.model {
        Model::Reactor => "reactor",
        Model::Threads => "threads",
        Model::Iterative => "iterative",
        Model::Tokio => "tokio",
        Model::Uring => "uring",
    };
    let reactors = if config.model == Model::Reactor {
        format!(", {} reactor(s)", config.threads)
    } else {
        String::new()
    };
    let names = SYSTEMD.get();
    let listeners: Vec<String> = addrs
        .iter()
        .enumerate()
        .map(
            |(i, addr)| match names.and_then(|n| n.get(i)).cloned().flatten() {
                Some(name) => format!("{addr} ({name})"),
                None => addr.to_string(),
            },
        )
        .collect();
    let from = if names.is_some() {
        " passed by systemd"
    } else {
        ""
    };
    tracing::info!(
        target: TARGET,
        "started: model {model}{reactors}, listeners {}{from}, max-buffer {}, pid {}",
        listeners.join(" "),
        config.max_buffer,
        std::process::id()
    );
}

/// Logs the start of a drain, at the first SIGINT/SIGTERM (`sig`): how
/// many connections are open (each will be flushed, or closed at once if
/// idle) and how long the drain may take, so that an operator is not left
/// with silence for up to `--shutdown-timeout`.
pub fn draining(sig: i32, open: u64, timeout: Duration) {
    let s = if open == 1 { "" } else { "s" };
    tracing::info!(
        target: TARGET,
        "{}: draining {} open connection{s}, for at most {:.1} s (--shutdown-timeout); \
         listeners closed; a second signal stops at once",
        signal_name(sig),
        thousands(open),
        timeout.as_secs_f64()
    );
}

/// Logs that `--max-conns max` turned a client away: call only at the
/// first refusal of an episode (see [`Episode`]).
pub fn max_conns_reached(max: usize) {
    line(format_args!(
        "--max-conns {max} reached: closing new connections at once until a served one closes"
    ));
}

/// A condition logged once per episode, not once per event: the first
/// event after the condition began is logged; the episode ends when the
/// condition clears. Shared by threads with relaxed atomics.
#[derive(Debug, Default)]
pub struct Episode(std::sync::atomic::AtomicBool);

impl Episode {
    /// The condition happened (again): true the first time in this
    /// episode, when the caller should log it.
    pub fn begins(&self) -> bool {
        use std::sync::atomic::Ordering::Relaxed;
        // A load first: the common case, an episode under way, writes
        // nothing to the shared line.
        !self.0.load(Relaxed) && !self.0.swap(true, Relaxed)
    }

    /// The condition cleared: the next [`begins`](Self::begins) logs.
    pub fn ends(&self) {
        use std::sync::atomic::Ordering::Relaxed;
        if self.0.load(Relaxed) {
            self.0.store(false, Relaxed);
        }
    }
}

/// How a drain ended, for the stop line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DrainEnd {
    /// Every connection finished: its echo flushed and its client closed.
    Complete,
    /// `--shutdown-timeout` ran out first.
    TimedOut,
    /// A second SIGINT/SIGTERM (this number) came first.
    Signal(i32),
}

/// A drain that ran: how long it took, how it ended, and how many
/// connections were still draining (echo not yet flushed, or flushed but
/// the client not yet closed) and so were closed without waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Drain {
    /// From the first SIGINT/SIGTERM to the end of the drain.
    pub took: Duration,
    /// Why the drain ended.
    pub end: DrainEnd,
    /// Connections still draining at the end, closed without waiting.
    pub cut: u64,
}

impl Drain {
    /// The drain of a loop that returned `stopped`: `None` if none began;
    /// it ended by `--shutdown-timeout` if `timed_out`, and `cut` is the
    /// connections still open then (they close with the loop).
    pub fn ended(
        began: Option<std::time::Instant>,
        stopped: crate::error::Stopped,
        timed_out: bool,
        cut: usize,
    ) -> Option<Drain> {
        use crate::error::Stopped;
        let began = began?;
        let end = match stopped {
            Stopped::Forced(sig) => DrainEnd::Signal(sig),
            Stopped::Drained if timed_out => DrainEnd::TimedOut,
            Stopped::Drained => DrainEnd::Complete,
        };
        Some(Drain {
            took: began.elapsed(),
            end,
            cut: cut as u64,
        })
    }

    /// Folds the drain of another reactor of the same process into this
    /// one: the process drained when its slowest reactor did, a second
    /// signal outranks a timeout, and every reactor's cut connections
    /// count.
    pub fn merge(self, other: Drain) -> Drain {
        let rank = |e: DrainEnd| match e {
            DrainEnd::Complete => 0,
            DrainEnd::TimedOut => 1,
            DrainEnd::Signal(_) => 2,
        };
        Drain {
            took: self.took.max(other.took),
            end: if rank(other.end) > rank(self.end) {
                other.end
            } else {
                self.end
            },
            cut: self.cut + other.cut,
        }
    }
}

/// Whether the stop line was logged: at most one per process, though a
/// blocking model may reach it from two threads at once (the deadline
/// thread and the accepting one). The lock is held while the line is
/// written, so a thread that then exits the process cannot cut it short.
static STOP_LINE: std::sync::Mutex<bool> = std::sync::Mutex::new(false);

/// Logs the stop line: the uptime, the totals if any (in any model: the
/// connections accepted, the bytes echoed on streams and in datagrams,
/// the resets, the datagrams), and how the drain ended if it ran (see
/// [`Drain`]). Only the first call in a process logs.
pub fn stopped_with(totals: Option<Counters>, drain: Option<Drain>) {
    let mut logged = STOP_LINE.lock().unwrap_or_else(|p| p.into_inner());
    if *logged {
        return;
    }
    *logged = true;
    tracing::info!(target: TARGET, "{}", stop_line(totals, drain));
}

fn stop_line(totals: Option<Counters>, drain: Option<Drain>) -> String {
    let uptime = START.get().map_or(Duration::ZERO, Instant::elapsed);
    let mut line = format!("stopped after {:.1} s", uptime.as_secs_f64());
    if let Some(t) = totals {
        line += &format!(
            ": {}, {} echoed, {} reset",
            count(t.accepted, "connection"),
            bytes(t.bytes_echoed + t.datagram_bytes_echoed),
            t.peer_errors
        );
        // Only where UDP served anything: a TCP daemon's line stays short.
        if t.datagrams_echoed > 0 {
            line += &format!(", {}", count(t.datagrams_echoed, "datagram"));
        }
    }
    if let Some(d) = drain {
        let took = d.took.as_secs_f64();
        let why = match d.end {
            DrainEnd::Complete => {
                line += &format!(", drained in {took:.1} s");
                return line;
            }
            DrainEnd::TimedOut => "--shutdown-timeout".to_string(),
            DrainEnd::Signal(sig) => format!("a second {}", signal_name(sig)),
        };
        let s = if d.cut == 1 { "" } else { "s" };
        line += &format!(
            ", drain cut short by {why} after {took:.1} s: closed {} connection{s} still draining",
            thousands(d.cut)
        );
    }
    line
}

/// `SIGINT`, `SIGTERM`, or `signal N` for another.
fn signal_name(sig: i32) -> String {
    match sig {
        libc::SIGINT => "SIGINT".into(),
        libc::SIGTERM => "SIGTERM".into(),
        _ => format!("signal {sig}"),
    }
}

/// `--trace`, blocking and tokio models: client `conn` (its id, unique
/// in the process) was accepted from `peer`: its address, or `unknown`
/// when it cannot be had. `peer` (a syscall) runs only when the line is
/// logged.
pub fn accepted<A: fmt::Debug>(conn: u64, peer: impl FnOnce() -> std::io::Result<A>) {
    if tracing::enabled!(target: TARGET, tracing::Level::DEBUG) {
        let peer = match peer() {
            Ok(addr) => format!("{addr:?}"),
            Err(_) => "unknown".into(),
        };
        tracing::debug!(target: TARGET, conn, peer = %peer, "accept");
    }
}

/// How a blocking or tokio connection ended without an error, in the
/// reactor's words (see `reactor/connection.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// The client closed its side, and every byte was echoed.
    ClientEof,
    /// The drain closed it at once: nothing was left to send or read.
    QuietAtShutdown,
    /// The drain shut our side after the last echoed byte, and the client
    /// then closed.
    AfterShutdownEof,
}

/// `--trace`, blocking and tokio models: connection `conn` closes, as
/// `served` says: [`Ended`], or an error: a timeout (`WouldBlock` or
/// `TimedOut`, which these models return only for `--idle-timeout`, as
/// the stop line's tally also assumes) or a peer failure.
pub fn closed(conn: u64, served: &std::io::Result<Ended>) {
    use std::io::ErrorKind;
    match served {
        Ok(Ended::ClientEof) => {
            tracing::trace!(target: TARGET, conn, "close: client EOF, echo flushed")
        }
        Ok(Ended::QuietAtShutdown) => {
            tracing::trace!(target: TARGET, conn, "close: quiet at shutdown")
        }
        Ok(Ended::AfterShutdownEof) => {
            tracing::trace!(target: TARGET, conn, "close: client closed after our shutdown EOF")
        }
        // The models end an idle connection with their timeout error
        // (EAGAIN from SO_RCVTIMEO, tokio's TimedOut): said as the reactor
        // says it, since the raw error hides that --idle-timeout closed it.
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
            tracing::trace!(target: TARGET, conn, "close: idle timeout")
        }
        Err(e) => tracing::trace!(target: TARGET, conn, "close: {e}"),
    }
}

/// Logs, once per episode, an accept on `addr` that failed for a reason
/// that will not clear by itself at once (EMFILE and friends): the caller
/// retries after a pause. Out of descriptors names the limit, since that
/// is what an operator can raise. Any kind of listener.
pub fn accept_failure(addr: &ListenAddr, err: &std::io::Error) {
    if crate::net::fd_exhausted(err) {
        line(format_args!(
            "out of file descriptors (limit {}) on {addr}; retrying",
            crate::net::fd_limit()
        ));
    } else {
        line(format_args!("accept on {addr} failed: {err}; retrying"));
    }
}

/// `1 connection`, `1,204 connections`.
fn count(n: u64, noun: &str) -> String {
    let s = if n == 1 { "" } else { "s" };
    format!("{} {noun}{s}", thousands(n))
}

/// `1234567` as `1,234,567`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(d);
    }
    out
}

/// Bytes in decimal units, one decimal: `5.6 MB`.
fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["kB", "MB", "GB", "TB"];
    if n < 1000 {
        return format!("{n} B");
    }
    let mut v = n as f64 / 1000.0;
    let mut unit = 0;
    while v >= 1000.0 && unit + 1 < UNITS.len() {
        v /= 1000.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stop_line_says_how_the_drain_ended() {
        let drain = |end, cut| {
            Some(Drain {
                took: Duration::from_millis(500),
                end,
                cut,
            })
        };
        let line = stop_line(None, drain(DrainEnd::Complete, 0));
        assert!(line.ends_with(", drained in 0.5 s"), "{line}");
        let line = stop_line(None, drain(DrainEnd::TimedOut, 2));
        assert!(
            line.ends_with(
                ", drain cut short by --shutdown-timeout after 0.5 s: \
                 closed 2 connections still draining"
            ),
            "{line}"
        );
        let line = stop_line(None, drain(DrainEnd::Signal(libc::SIGINT), 1));
        assert!(
            line.ends_with(
                ", drain cut short by a second SIGINT after 0.5 s: \
                 closed 1 connection still draining"
            ),
            "{line}"
        );
    }

    #[test]
    fn drains_of_several_reactors_fold_into_the_worst() {
        let d = |ms, end, cut| Drain {
            took: Duration::from_millis(ms),
            end,
            cut,
        };
        let all = d(100, DrainEnd::Complete, 0)
            .merge(d(900, DrainEnd::TimedOut, 2))
            .merge(d(300, DrainEnd::Complete, 0));
        assert_eq!(all, d(900, DrainEnd::TimedOut, 2));
    }

    #[test]
    fn numbers_read_like_a_person_wrote_them() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(1234), "1,234");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(bytes(999), "999 B");
        assert_eq!(bytes(5_600_000), "5.6 MB");
    }
}
