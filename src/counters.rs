//! Every counter echod keeps, listed once.
//!
//! The table below is the only list: one row per
//! counter, giving its field, its kind and, when the `--metrics` endpoint
//! shows it, its metric name, label and help text. Everything else is
//! derived from it:
//!
//! - [`Counters`], the plain `u64`s a reactor counts in (one thread, no
//!   sharing) and the stop line's totals in every model;
//! - [`AtomicCounters`], the same fields as relaxed atomics: the slots a
//!   reactor publishes to for scrapes, and the tally the blocking and
//!   tokio models share between their threads;
//! - [`ROWS`], what the exposition writes for each value, in order.
//!
//! Adding a counter is one row here, and the code that counts it: the
//! endpoint, the slots and the sums follow.
//!
//! A row reads `field: kind "metric" {label = "value"} "help";`. The
//! metric is left out for a counter only the stop line shows; the label
//! for a metric with a single series; the help for a row that continues
//! the labelled family of the row above it (same metric, same kind), so
//! that the family's `# HELP` and `# TYPE` lines come once.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Whether a value only grows (a counter) or goes up and down (a gauge).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Only grows, from 0 at startup.
    Counter,
    /// A level: set, not added to.
    Gauge,
}

impl Kind {
    /// The word Prometheus's `# TYPE` line uses.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
        }
    }
}

/// What the endpoint shows for one value of [`Counters`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Row {
    /// The field of [`Counters`] (its name, for tests and messages).
    pub field: &'static str,
    /// Counter or gauge.
    pub kind: Kind,
    /// The metric's name; `None` for a value only the stop line shows.
    pub metric: Option<&'static str>,
    /// The label (name and value) that tells this series from the others
    /// of its metric; `None` for a metric with one series.
    pub label: Option<(&'static str, &'static str)>,
    /// The metric's help text, on the first row of its metric only.
    pub help: Option<&'static str>,
}

macro_rules! counters {
    (@kind counter) => { Kind::Counter };
    (@kind gauge) => { Kind::Gauge };
    (@opt) => { None };
    (@opt $x:expr) => { Some($x) };
    ($(
        $(#[doc = $doc:literal])*
        $field:ident : $kind:ident
            $($metric:literal $({ $lname:ident = $lvalue:literal })? $($help:literal)?)? ;
    )*) => {
        /// Running totals as plain integers: one reactor's, or the sum of
        /// several (`+=`), or a snapshot of an [`AtomicCounters`].
        #[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
        pub struct Counters {
            $($(#[doc = $doc])* pub $field: u64,)*
        }

        /// [`Counters`] as relaxed atomics, for values one thread writes
        /// and another reads, or several threads add to.
        #[derive(Debug, Default)]
        pub struct AtomicCounters {
            $($(#[doc = $doc])* pub $field: AtomicU64,)*
        }

        /// Values in [`Counters`], and rows in [`ROWS`].
        pub const COUNT: usize = [$(stringify!($field)),*].len();

        /// One row per field of [`Counters`], in the table's order, which
        /// is the exposition's.
        pub const ROWS: [Row; COUNT] = [$(Row {
            field: stringify!($field),
            kind: counters!(@kind $kind),
            metric: counters!(@opt $($metric)?),
            label: counters!(@opt $($((stringify!($lname), $lvalue))?)?),
            help: counters!(@opt $($($help)?)?),
        }),*];

        impl Counters {
            /// The values in the order of [`ROWS`].
            pub fn values(&self) -> [u64; COUNT] {
                [$(self.$field),*]
            }
        }

        #[cfg(test)]
        impl Counters {
            /// The inverse of [`values`](Self::values).
            fn from_values(v: [u64; COUNT]) -> Counters {
                let mut v = v.into_iter();
                Counters { $($field: v.next().unwrap_or_default(),)* }
            }
        }

        impl std::ops::AddAssign for Counters {
            fn add_assign(&mut self, other: Counters) {
                $(self.$field = self.$field.wrapping_add(other.$field);)*
            }
        }

        impl AtomicCounters {
            /// Stores every value of `c` (relaxed: each value is whole,
            /// the set is not one instant).
            pub fn store(&self, c: &Counters) {
                $(self.$field.store(c.$field, Relaxed);)*
            }

            /// Every value, loaded (relaxed).
            pub fn load(&self) -> Counters {
                Counters { $($field: self.$field.load(Relaxed),)* }
            }
        }
    };
}

counters! {
    /// Connections accepted and served.
    accepted: counter "echod_connections_accepted_total"
        "Connections accepted and served (those closed at once are counted only \
         in echod_connections_closed_total, reasons max_conns and no_fds).";
    /// Connections open, as of the last publication (the reactor sets it
    /// before publishing; a sum of reactors' slots is the process's).
    active: gauge "echod_connections_active" "Connections open now.";
    /// Connections closed after the client closed its side.
    closed_eof: counter "echod_connections_closed_total" { reason = "eof" }
        "Connections closed, by reason: eof (the client closed), reset (the peer \
         failed: reset, broken pipe), idle (--idle-timeout), max_conns (closed at \
         accept, --max-conns reached), no_fds (closed at accept, out of file \
         descriptors), shutdown (closed by a graceful shutdown).";
    /// Connections closed because the peer failed (reset, broken pipe...),
    /// not counting `--idle-timeout` closes: the stop line's resets.
    peer_errors: counter "echod_connections_closed_total" { reason = "reset" };
    /// Connections closed by `--idle-timeout`.
    idle_closed: counter "echod_connections_closed_total" { reason = "idle" };
    /// Connections closed at once because `--max-conns` was reached.
    refused_max_conns: counter "echod_connections_closed_total" { reason = "max_conns" };
    /// Connections accepted and closed at once because descriptors ran out.
    shed_no_fds: counter "echod_connections_closed_total" { reason = "no_fds" };
    /// Connections closed by a graceful shutdown: quiet ones at once,
    /// drained ones when the client closed after our EOF.
    closed_shutdown: counter "echod_connections_closed_total" { reason = "shutdown" };
    /// Bytes read from stream clients.
    bytes_received: counter "echod_received_bytes_total"
        "Bytes read from stream connections.";
    /// Bytes written back to stream clients.
    bytes_echoed: counter "echod_sent_bytes_total"
        "Bytes echoed back on stream connections.";
    /// Echoes the socket took only part of (the rest waited for WRITABLE).
    partial_writes: counter "echod_partial_writes_total"
        "Echoes the socket took only part of; the rest waited for it to drain.";
    /// Times a connection's pending echo filled `--max-buffer`.
    backpressure_pauses: counter "echod_backpressure_pauses_total"
        "Times a connection's pending echo reached --max-buffer, so reading from \
         it stopped until the client read.";
    /// Failed `accept` calls on the listeners, except `WouldBlock`/`EINTR`.
    accept_errors: counter "echod_accept_errors_total"
        "Failed accept calls on the echo listeners (aborted handshakes, out of \
         file descriptors, ...).";
    /// Datagrams received on UDP sockets: each is then echoed or dropped.
    datagrams_received: counter "echod_datagrams_received_total"
        "Datagrams received on --listen udp: sockets, echoed or dropped.";
    /// Datagrams dropped unanswered: the source port could answer back.
    datagrams_dropped_loop_port: counter "echod_datagrams_dropped_total" { reason = "loop_port" }
        "Datagrams not echoed, by reason: loop_port (from a port that answers \
         back), would_block (the send buffer was full), send_error (the reply \
         could not be sent).";
    /// Datagram replies dropped because the send buffer was full.
    datagrams_dropped_would_block: counter "echod_datagrams_dropped_total" { reason = "would_block" };
    /// Datagram replies dropped because sending failed.
    datagrams_dropped_send_error: counter "echod_datagrams_dropped_total" { reason = "send_error" };
    /// Payload bytes of the datagrams sent back.
    datagram_bytes_echoed: counter "echod_datagram_sent_bytes_total"
        "Payload bytes of the datagrams echoed.";
    /// Receive failures on UDP sockets other than would-block (a pending
    /// ICMP error, say); the socket stays open.
    datagram_recv_errors: counter "echod_datagram_receive_errors_total"
        "Failed receives on UDP sockets (a pending ICMP error, ...).";
    /// Datagrams sent back to their source (the stop line's count; the
    /// endpoint shows those received and those dropped).
    datagrams_echoed: counter;
}

#[cfg(test)]
mod tests {
    use super::*;

    // A row without help continues the family above it, and a family's
    // rows are together: its HELP and TYPE come once, before its samples.
    #[test]
    fn families_are_contiguous_and_helped_once() {
        let mut seen = std::collections::HashSet::new();
        let mut last: Option<&Row> = None;
        for row in ROWS.iter().filter(|r| r.metric.is_some()) {
            match row.help {
                Some(_) => assert!(seen.insert(row.metric), "{} split", row.field),
                None => {
                    let above = last.expect("a row above");
                    assert_eq!((above.metric, above.kind), (row.metric, row.kind));
                    assert!(row.label.is_some(), "{}: no label", row.field);
                }
            }
            last = Some(row);
        }
    }

    #[test]
    fn atomics_round_trip_every_field_and_sums_add_them() {
        let values: [u64; COUNT] = std::array::from_fn(|i| 1 + i as u64);
        let shared = AtomicCounters::default();
        shared.store(&Counters::from_values(values));
        let mut twice = shared.load();
        assert_eq!(twice.values(), values);
        twice += Counters::from_values(values);
        assert_eq!(twice.values(), values.map(|v| 2 * v));
    }
}
