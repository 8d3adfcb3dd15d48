//! The `compare` table for the terminal: model x connections.

use std::fmt::Write as _;

use crate::compare::{Outcome, Point};

const HEADER: &str =
    "model      conns      req/s    p50 µs    p99 µs  p99.9 µs  srv CPU µs/req  srv RSS MiB  gen CPU  faults";

fn row(p: &Point) -> String {
    match &p.outcome {
        Outcome::Ok(m) => format!(
            "{:<10}{:>6}{:>11.0}{:>10.1}{:>10.1}{:>10.1}{:>16.2}{:>13.1}{:>8.0}%{:>7}",
            p.model,
            p.connections,
            m.requests_per_sec,
            m.latency_us.p50,
            m.latency_us.p99,
            m.latency_us.p999,
            m.server_cpu_us_per_request,
            m.server_memory.rss_kib as f64 / 1024.0,
            m.generator_cpu_utilisation * 100.0,
            m.errors + m.corrupt
        ),
        Outcome::NotApplicable { reason } => {
            format!("{:<10}{:>6}  n/a ({reason})", p.model, p.connections)
        }
        Outcome::Failed { error } => {
            format!("{:<10}{:>6}  FAILED: {error}", p.model, p.connections)
        }
    }
}

/// One point as a progress line (printed as the sweep goes).
pub fn one_line(p: &Point) -> String {
    let what = match &p.outcome {
        Outcome::Ok(m) => format!(
            "{:.0} req/s, p50 {:.1} µs, p99 {:.1} µs, server {:.2} µs CPU/req, RSS {:.1} MiB, {} faults",
            m.requests_per_sec,
            m.latency_us.p50,
            m.latency_us.p99,
            m.server_cpu_us_per_request,
            m.server_memory.rss_kib as f64 / 1024.0,
            m.errors + m.corrupt
        ),
        Outcome::NotApplicable { reason } => format!("n/a ({reason})"),
        Outcome::Failed { error } => format!("FAILED: {error}"),
    };
    format!("{} x {} connections: {what}", p.model, p.connections)
}

/// The whole table, header included.
pub fn render(points: &[Point]) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "{HEADER}");
    for p in points {
        let _ = writeln!(s, "{}", row(p));
    }
    s
}
