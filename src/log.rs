//! The daemon's one-line messages on stderr.
//!
//! `eprintln!` panics when stderr fails, and stderr fails exactly when the
//! daemon is most likely to be left running: its terminal went away (EIO,
//! and the SIGHUP that comes with it), or it writes into a pipe whose
//! reader exited (EPIPE). A log line is never worth a client's service, so
//! these writes ignore errors.

use std::fmt;
use std::io::Write;

/// Writes `echod: MESSAGE` and a newline to stderr, ignoring failure.
/// Use with `format_args!`.
pub fn line(message: fmt::Arguments<'_>) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "echod: {message}");
}

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
use crate::reactor::Counters;

/// The target of every event echod logs through `tracing`.
pub const TARGET: &str = "echod";

/// When [`started`] was logged: the origin of the stop line's uptime.
static START: OnceLock<Instant> = OnceLock::new();

/// Sets up logging to stderr: the level comes from `RUST_LOG` (default
/// `info`); `trace` adds `echod=trace`. Compact, no timestamps, no colours
/// unless stderr is a terminal. A second call does nothing.
pub fn init(trace: bool) {
    use std::io::IsTerminal;
    use tracing_subscriber::EnvFilter;
    let mut filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    if trace {
        filter = filter.add_directive("echod=trace".parse().expect("a valid directive"));
    }
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .compact()
        .without_time()
        .with_level(false)
        .with_target(true)
        // Its default reports a failed write with `eprintln!`, which
        // panics when stderr is gone (see the top of this file).
        .log_internal_errors(false)
        .try_init();
}

/// Logs the start line. Call after the `listening on` lines.
pub fn started(config: &Config, addrs: &[ListenAddr]) {
    START.get_or_init(Instant::now);
    let model = match config.model {
        Model::Reactor => "reactor",
        Model::Threads => "threads",
        Model::Iterative => "iterative",
        Model::Tokio => "tokio",
    };
    let reactors = if config.model == Model::Reactor {
        format!(", {} reactor(s)", config.threads)
    } else {
        String::new()
    };
    let listeners: Vec<String> = addrs.iter().map(ToString::to_string).collect();
    tracing::info!(
        target: TARGET,
        "started: model {model}{reactors}, listeners {}, max-buffer {}, pid {}",
        listeners.join(" "),
        config.max_buffer,
        std::process::id()
    );
}

/// What the stop line counts, in any model.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Totals {
    /// Connections accepted and served.
    pub connections: u64,
    /// Bytes written back to clients.
    pub bytes_echoed: u64,
    /// Connections closed because the peer failed (a reset, a broken
    /// pipe), not counting `--idle-timeout` closes.
    pub resets: u64,
    /// Datagrams sent back (their bytes are in `bytes_echoed`).
    pub datagrams: u64,
}

impl From<&Counters> for Totals {
    fn from(c: &Counters) -> Totals {
        Totals {
            connections: c.accepted,
            bytes_echoed: c.bytes_echoed + c.datagrams.bytes_echoed,
            resets: c.peer_errors,
            datagrams: c.datagrams.echoed,
        }
    }
}

impl std::ops::AddAssign for Totals {
    fn add_assign(&mut self, other: Totals) {
        self.connections += other.connections;
        self.bytes_echoed += other.bytes_echoed;
        self.resets += other.resets;
        self.datagrams += other.datagrams;
    }
}

/// Logs the stop line: the uptime and, from one reactor, its totals and
/// how long the drain took.
pub fn stopped(counters: Option<&Counters>, drained: Option<Duration>) {
    stopped_with(counters.map(Totals::from), drained);
}

/// Logs the stop line: the uptime, the totals if any, and how long the
/// drain took if it ran.
pub fn stopped_with(totals: Option<Totals>, drained: Option<Duration>) {
    let uptime = START.get().map_or(Duration::ZERO, Instant::elapsed);
    let mut line = format!("stopped after {:.1} s", uptime.as_secs_f64());
    if let Some(t) = totals {
        line += &format!(
            ": {}, {} echoed, {} reset",
            count(t.connections, "connection"),
            bytes(t.bytes_echoed),
            t.resets
        );
        // Only where UDP served anything: a TCP daemon's line stays short.
        if t.datagrams > 0 {
            line += &format!(", {}", count(t.datagrams, "datagram"));
        }
    }
    if let Some(d) = drained {
        line += &format!(", drained in {:.1} s", d.as_secs_f64());
    }
    tracing::info!(target: TARGET, "{line}");
}

/// `--trace`, blocking and tokio models: a client was accepted. `peer`
/// (a syscall) runs only when the line is logged.
pub fn accepted<A: fmt::Debug>(peer: impl FnOnce() -> std::io::Result<A>) {
    tracing::debug!(target: TARGET, peer = ?peer().ok(), "accept");
}

/// `--trace`, blocking and tokio models: a client's connection closes,
/// after its EOF (`Ok`) or on an error (a peer failure, `--idle-timeout`).
pub fn closed(served: &std::io::Result<()>) {
    match served {
        Ok(()) => tracing::trace!(target: TARGET, "close: client EOF, echo flushed"),
        Err(e) => tracing::trace!(target: TARGET, "close: {e}"),
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
    fn numbers_read_like_a_person_wrote_them() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(1234), "1,234");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(bytes(999), "999 B");
        assert_eq!(bytes(5_600_000), "5.6 MB");
    }
}
