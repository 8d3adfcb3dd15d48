//! The Prometheus text format, version 0.0.4: what a scrape returns.
//!
//! Renders what it is handed, a summed [`Snapshot`] and a process
//! [`Sample`], and knows nothing of reactors or sockets. Every metric gets
//! its `# HELP` and `# TYPE` lines; names follow Prometheus's naming
//! practices (`echod_` prefix, base units: bytes and seconds, the unit
//! last, then `_total` on counters: `echod_received_bytes_total`);
//! label values are a fixed set of words, never a peer's address, so the
//! number of series stays what this file and the counters' table list.

use std::fmt::Write;

use super::board::Snapshot;
use super::histogram::{TurnTimes, BOUNDS_NS};
use super::process::Sample;
use crate::counters::ROWS;

/// The `Content-Type` of the text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The body of a `GET /metrics` answer: the counters in the order of
/// their table ([`ROWS`]), then the turns, the reactors, the build and
/// the process.
pub fn render(s: &Snapshot, process: &Sample) -> String {
    let mut out = Text(String::with_capacity(4096));
    for (row, value) in ROWS.iter().zip(s.counters.values()) {
        let Some(name) = row.metric else {
            continue; // the stop line's only
        };
        if let Some(help) = row.help {
            out.head(name, row.kind.name(), help);
        }
        match row.label {
            Some((label, v)) => out.line(format_args!("{name}{{{label}=\"{v}\"}} {value}")),
            None => out.line(format_args!("{name} {value}")),
        }
    }
    out.turns(
        "echod_loop_turn_seconds",
        "How long the reactor loop's turns took: from poll returning to the \
         next poll call, the work and not the wait (summed over --threads).",
        &s.turns,
    );
    out.one(
        "echod_reactors",
        "gauge",
        "Reactors serving (--threads), all counted here.",
        s.reactors as u64,
    );
    out.head(
        "echod_build_info",
        "gauge",
        "Always 1; the labels say which echod this is.",
    );
    out.line(format_args!(
        "echod_build_info{{version=\"{}\",model=\"reactor\"}} 1",
        env!("CARGO_PKG_VERSION")
    ));
    // `Display` for f64 never uses an exponent: `0.00001`, `1718000000.5`.
    let float = |v: Option<f64>| v.map(|v| v.to_string());
    let whole = |v: Option<u64>| v.map(|v| v.to_string());
    for (name, kind, help, value) in [
        (
            "process_cpu_seconds_total",
            "counter",
            "Total user and system CPU time spent in seconds.",
            float(process.cpu_seconds),
        ),
        (
            "process_resident_memory_bytes",
            "gauge",
            "Resident memory size in bytes.",
            whole(process.resident_bytes),
        ),
        (
            "process_open_fds",
            "gauge",
            "Number of open file descriptors.",
            whole(process.open_fds),
        ),
        (
            "process_max_fds",
            "gauge",
            "Maximum number of open file descriptors.",
            whole(process.max_fds),
        ),
        (
            "process_start_time_seconds",
            "gauge",
            "Start time of the process since unix epoch in seconds.",
            float(process.start_time_seconds),
        ),
    ] {
        if let Some(v) = value {
            out.one(name, kind, help, v);
        }
    }
    out.0
}

/// The exposition being written.
struct Text(String);

impl Text {
    fn head(&mut self, name: &str, kind: &str, help: &str) {
        self.line(format_args!("# HELP {name} {help}"));
        self.line(format_args!("# TYPE {name} {kind}"));
    }

    fn line(&mut self, args: std::fmt::Arguments<'_>) {
        // Writing to a String cannot fail.
        let _ = self.0.write_fmt(args);
        self.0.push('\n');
    }

    fn one(&mut self, name: &str, kind: &str, help: &str, value: impl std::fmt::Display) {
        self.head(name, kind, help);
        self.line(format_args!("{name} {value}"));
    }

    /// A histogram: cumulative `le` buckets added up from the per-bucket
    /// counts, so `+Inf` and `_count` are the same number.
    fn turns(&mut self, name: &str, help: &str, t: &TurnTimes) {
        self.head(name, "histogram", help);
        let mut below = 0u64;
        for (bound, n) in BOUNDS_NS.iter().zip(&t.buckets) {
            below += n;
            let le = *bound as f64 / 1e9;
            self.line(format_args!("{name}_bucket{{le=\"{le}\"}} {below}"));
        }
        let count = t.count();
        self.line(format_args!("{name}_bucket{{le=\"+Inf\"}} {count}"));
        self.line(format_args!("{name}_sum {}", t.sum_ns as f64 / 1e9));
        self.line(format_args!("{name}_count {count}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_sample_has_help_and_type_and_a_number() {
        let mut s = Snapshot::default();
        s.counters.closed_eof = 3;
        s.counters.active = 2;
        let p = Sample {
            cpu_seconds: Some(0.25),
            resident_bytes: Some(4096),
            open_fds: Some(7),
            max_fds: Some(1024),
            start_time_seconds: Some(1_700_000_000.5),
        };
        let text = render(&s, &p);
        assert!(text.ends_with('\n'));
        let mut typed = std::collections::HashSet::new();
        let mut helped = std::collections::HashSet::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# HELP ") {
                helped.insert(rest.split(' ').next().unwrap().to_string());
            } else if let Some(rest) = line.strip_prefix("# TYPE ") {
                typed.insert(rest.split(' ').next().unwrap().to_string());
            } else {
                let (series, value) = line.rsplit_once(' ').unwrap();
                value.parse::<f64>().unwrap();
                let name = series.split('{').next().unwrap();
                let name = ["_bucket", "_sum", "_count"]
                    .iter()
                    .find_map(|s| name.strip_suffix(s))
                    .filter(|base| typed.contains(*base))
                    .unwrap_or(name);
                assert!(typed.contains(name) && helped.contains(name), "{line}");
            }
        }
        assert!(text.contains("echod_connections_closed_total{reason=\"eof\"} 3\n"));
        assert!(text.contains("echod_connections_active 2\n"));
        assert!(text.contains("process_start_time_seconds 1700000000.5\n"));
        assert!(text.contains("process_cpu_seconds_total 0.25\n"));
        assert!(text.contains("process_max_fds 1024\n"));
    }

    #[test]
    fn turn_buckets_are_cumulative_in_seconds() {
        let mut s = Snapshot::default();
        for ns in [500, 3_000, 3_500, 2_000_000_000] {
            s.turns.record(std::time::Duration::from_nanos(ns));
        }
        let text = render(&s, &Sample::default());
        for want in [
            "# TYPE echod_loop_turn_seconds histogram\n",
            "echod_loop_turn_seconds_bucket{le=\"0.000001\"} 1\n",
            "echod_loop_turn_seconds_bucket{le=\"0.000004\"} 3\n",
            "echod_loop_turn_seconds_bucket{le=\"0.000016\"} 3\n",
            "echod_loop_turn_seconds_bucket{le=\"1.048576\"} 3\n",
            "echod_loop_turn_seconds_bucket{le=\"+Inf\"} 4\n",
            "echod_loop_turn_seconds_sum 2.000007\n",
            "echod_loop_turn_seconds_count 4\n",
        ] {
            assert!(text.contains(want), "{want} in\n{text}");
        }
    }

    #[test]
    fn missing_process_values_are_left_out() {
        let text = render(&Snapshot::default(), &Sample::default());
        assert!(!text.contains("process_"), "{text}");
    }
}
