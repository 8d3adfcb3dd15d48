//! The `compare` results for the terminal: a progress line per point while
//! the sweep runs, then one table of model x connections, the rankings, and
//! whatever makes the figures less trustworthy (a generator at its limit, a
//! busy machine, an interruption).
//!
//! Numbers are compact (`174.3k`, `2.31`) so that a median with its min–max
//! range fits in a column; `results.json` has them in full.

use std::fmt::Write as _;

use crate::sweep::{CompareReport, Outcome, Point, Ranking, Round, Spread, Summary};

/// Marks a generator-bound point in the table; explained under it.
const GENERATOR_BOUND: &str = "*";
/// Marks a point whose window an interruption cut short.
const CUT_SHORT: &str = "!";

/// `x` in at most about four significant digits, with a `k` or `M` suffix
/// from ten thousand up: `0.42`, `3.14`, `85.3`, `950`, `9500`, `174.3k`,
/// `1.25M`. Meant for figures that are read, not parsed.
pub(crate) fn compact(x: f64) -> String {
    let a = x.abs();
    if !x.is_finite() {
        format!("{x}")
    } else if a >= 1e6 {
        format!("{:.2}M", x / 1e6)
    } else if a >= 1e4 {
        format!("{:.1}k", x / 1e3)
    } else if a >= 100.0 {
        format!("{x:.0}")
    } else if a >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}

/// The median, then the min–max range when the rounds differed:
/// `174.3k (170.0k–176.0k)`. A single round, or rounds that agree exactly,
/// give the bare median: a range of one value would suggest a precision
/// that was never measured.
pub(crate) fn spread(s: &Spread) -> String {
    compact(s.median) + &range(s)
}

/// ` (min–max)` of `s`, or nothing for a single round or identical rounds.
fn range(s: &Spread) -> String {
    let (lo, hi) = (compact(s.min), compact(s.max));
    if s.n < 2 || lo == hi {
        String::new()
    } else {
        format!(" ({lo}–{hi})")
    }
}

/// Faults of a point: errors and damaged replies over all its rounds.
pub(crate) fn faults(s: &Summary) -> u64 {
    s.errors + s.corrupt
}

/// Server RSS in MiB.
pub(crate) fn rss_mib(s: &Summary) -> f64 {
    s.server_memory.rss_kib as f64 / 1024.0
}

/// The rounds of `p` that failed, as `(1-based round, error)`.
pub(crate) fn failed_rounds(p: &Point) -> impl Iterator<Item = (usize, &str)> {
    p.rounds.iter().enumerate().filter_map(|(i, r)| match r {
        Round::Failed { error } => Some((i + 1, error.as_str())),
        Round::Ok(_) => None,
    })
}

/// One point as a progress line, printed as the sweep goes:
/// `reactor x 100 conns: 174.3k req/s (170.0k–176.0k), p99 1270 µs,
/// 2.29 µs CPU/req, RSS 5.9 MiB, 0 faults, 3 rounds`, or `n/a (reason)`,
/// `FAILED: error`, `not run`. Only req/s shows its range, to keep the line
/// short; the final table has the others'.
///
/// A generator-bound point, and one an interruption cut short, say so at
/// the end of the line.
pub fn one_line(p: &Point) -> String {
    let what = match &p.outcome {
        Outcome::Ok(s) => {
            let mut line = format!(
                "{} req/s{}, p99 {} µs, {} µs CPU/req, RSS {:.1} MiB, {} faults, {} round(s)",
                compact(s.requests_per_sec.median),
                range(&s.requests_per_sec),
                compact(s.p99_us.median),
                compact(s.server_cpu_us_per_request.median),
                rss_mib(s),
                faults(s),
                s.rounds_measured,
            );
            let failed = failed_rounds(p).count();
            if failed > 0 {
                let _ = write!(line, " (+{failed} FAILED)");
            }
            if s.generator_bound {
                line.push_str(" [generator-bound]");
            }
            if s.interrupted {
                line.push_str(" [cut short]");
            }
            line
        }
        Outcome::NotApplicable { reason } => format!("n/a ({reason})"),
        Outcome::Failed { error } => format!("FAILED: {error}"),
        Outcome::NotRun => "not run".into(),
    };
    format!("{} x {} conns: {what}", p.model, p.connections)
}

/// Formats the columns of a measured row (and of the header, so the two
/// cannot drift apart).
#[allow(clippy::too_many_arguments)]
fn columns(
    head: &str,
    rps: &str,
    cpu: &str,
    p99: &str,
    p50: &str,
    p999: &str,
    rss: &str,
    gen: &str,
    faults: &str,
) -> String {
    format!("{head}  {rps:<25}{cpu:<18}{p99:<20}{p50:>6}{p999:>9}{rss:>8}{gen:>8}{faults:>7}")
}

fn header() -> String {
    columns(
        &format!("{:<10}{:>6}", "model", "conns"),
        "req/s",
        "CPU µs/echo",
        "p99 µs",
        "p50 µs",
        "p99.9 µs",
        "RSS MiB",
        "gen CPU",
        "faults",
    )
}

fn row(p: &Point) -> String {
    let head = format!("{:<10}{:>6}", p.model, p.connections);
    let s = match &p.outcome {
        Outcome::Ok(s) => s,
        Outcome::NotApplicable { reason } => return format!("{head}  n/a ({reason})"),
        Outcome::Failed { error } => return format!("{head}  FAILED: {error}"),
        Outcome::NotRun => return format!("{head}  not run"),
    };
    let mut marks = String::new();
    if s.generator_bound {
        marks.push_str(GENERATOR_BOUND);
    }
    if s.interrupted {
        marks.push_str(CUT_SHORT);
    }
    columns(
        &head,
        &(spread(&s.requests_per_sec) + &marks),
        &spread(&s.server_cpu_us_per_request),
        &spread(&s.p99_us),
        &compact(s.latency_us.p50),
        &compact(s.latency_us.p999),
        &format!("{:.1}", rss_mib(s)),
        &format!("{:.0}%", s.generator_cpu_utilisation * 100.0),
        &faults(s).to_string(),
    )
}

/// The models a ranking names whose point was generator-bound: a ranking
/// between generators says nothing about the servers.
pub(crate) fn generator_bound_in<'a>(r: &'a CompareReport, k: &'a Ranking) -> Vec<&'a str> {
    let named = std::iter::once(k.leader.as_str()).chain(k.runner_up.as_deref());
    named
        .filter(|m| {
            r.at(k.connections)
                .any(|p| p.model == *m && p.summary().is_some_and(|s| s.generator_bound))
        })
        .collect()
}

/// The whole terminal report for `r`: a line on how the figures were taken,
/// the table (one row per point, in the sweep's order), footnotes for the
/// marks used in it, failed rounds, the rankings, machine-load warnings,
/// and an `INTERRUPTED:` line when the sweep was cut short.
///
/// Every line ends with a newline; rows stay within about 120 columns
/// unless a model name, reason or error message is long.
pub fn render(r: &CompareReport) -> String {
    let mut out = String::new();
    let rounds = r.config.rounds;
    let _ = writeln!(
        out,
        "{rounds} round(s) per point: median (min–max) over the rounds; p50 and p99.9 of all rounds' requests pooled."
    );
    let _ = writeln!(out, "{}", header());
    for p in &r.points {
        let _ = writeln!(out, "{}", row(p));
    }
    let summaries = || r.points.iter().filter_map(Point::summary);
    if summaries().any(|s| s.generator_bound) {
        let _ = writeln!(
            out,
            "{GENERATOR_BOUND} generator-bound: the generator used all of its {} thread(s) and the server did not,\n  \
             so the figure measures the generator; rerun with more --threads or a larger --depth.",
            r.config.threads
        );
    }
    if summaries().any(|s| s.interrupted) {
        let _ = writeln!(
            out,
            "{CUT_SHORT} cut short: an interruption ended a round's window early."
        );
    }
    for p in &r.points {
        for (i, error) in failed_rounds(p) {
            if matches!(p.outcome, Outcome::Ok(_)) {
                let _ = writeln!(
                    out,
                    "{} x {}: round {i} of {} FAILED ({error}); the figures are over the other rounds.",
                    p.model,
                    p.connections,
                    p.rounds.len()
                );
            }
        }
    }
    if !r.rankings.is_empty() {
        let _ = writeln!(out, "\nRanking by median req/s:");
        for k in &r.rankings {
            let _ = writeln!(out, "  {:>6} conns: {}", k.connections, k.verdict);
            let bound = generator_bound_in(r, k);
            if !bound.is_empty() {
                let _ = writeln!(
                    out,
                    "{:16}but {} generator-bound there: this compares the generator, not the server",
                    "",
                    bound.join(" and ") + if bound.len() == 1 { " was" } else { " were" },
                );
            }
        }
    }
    if r.machine_load.busy() {
        let _ = writeln!(out, "\nThe machine was not quiet; compare with care:");
        for w in &r.machine_load.warnings {
            let _ = writeln!(out, "  warning: {w}");
        }
    }
    if r.interrupted {
        let not_run = r
            .points
            .iter()
            .filter(|p| matches!(p.outcome, Outcome::NotRun))
            .count();
        let _ = writeln!(
            out,
            "\nINTERRUPTED: the sweep was stopped before it finished; {not_run} of {} points were not run, \
             and the figures above are partial.",
            r.points.len()
        );
    }
    out
}

/// A hand-built comparison for the reports' tests: reactor, threads and
/// iterative at 1, 10, 100 and 1000 connections, three rounds each, with
/// realistic latency spectra. reactor at 1 connection is generator-bound;
/// threads at 1000 failed; iterative is n/a above one connection; at 10
/// connections reactor and threads overlap ("no clear difference").
#[cfg(test)]
pub(crate) mod fixture {
    use crate::env::{Env, FdLimit};
    use crate::machine::{MachineLoad, Sample};
    use crate::procstat::Memory;
    use crate::stats::{self, Percentiles};
    use crate::sweep::{self, CompareReport, Outcome, Point, Spread, Summary, SweepConfig};

    /// A deterministic xorshift generator, so the spectra are the same on
    /// every run without a `rand` dependency.
    struct Rng(u64);

    impl Rng {
        fn unit(&mut self) -> f64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            ((self.0 >> 11) as f64 + 0.5) / (1u64 << 53) as f64
        }

        /// Log-normal around `median_us`, with a rare slow tail (a
        /// scheduler hiccup once in `tail_every` requests).
        fn latency_ns(&mut self, median_us: f64, sigma: f64, tail_every: f64) -> u64 {
            let (u, v) = (self.unit(), self.unit());
            let z = (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos();
            let mut us = median_us * (sigma * z).exp();
            if self.unit() * tail_every < 1.0 {
                us *= 5.0 + 20.0 * self.unit();
            }
            (us * 1000.0) as u64
        }
    }

    /// A measured point: `rps` per round, and a pooled latency histogram
    /// of `samples` requests around `median_us`.
    pub(crate) fn measured(
        model: &str,
        connections: u32,
        rps: &[f64],
        median_us: f64,
        samples: u64,
    ) -> Point {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (connections as u64 * 31 + model.len() as u64));
        let mut h = stats::new_hist();
        for _ in 0..samples {
            stats::record(&mut h, rng.latency_ns(median_us, 0.35, 3000.0));
        }
        let p = Percentiles::of(&h);
        let cpu: Vec<f64> = rps.iter().map(|r| 400_000.0 / r).collect();
        let summary = Summary {
            rounds_measured: rps.len(),
            requests_per_sec: Spread::of(rps),
            server_cpu_us_per_request: Spread::of(&cpu),
            p99_us: Spread::of(&[p.p99 * 0.95, p.p99, p.p99 * 1.1]),
            mb_per_sec: rps[0] * 64.0 / 1e6,
            latency_us: p,
            spectrum: stats::spectrum(&h),
            jain_fairness: 0.998,
            requests: samples,
            errors: 0,
            corrupt: 0,
            server_cpu_utilisation: 0.85,
            server_memory: Memory {
                rss_kib: 5 * 1024 + connections as u64 * 9,
                hwm_kib: 6 * 1024 + connections as u64 * 9,
            },
            generator_cpu_utilisation: 0.6,
            generator_bound: false,
            interrupted: false,
        };
        Point {
            model: model.into(),
            connections,
            outcome: Outcome::Ok(Box::new(summary)),
            rounds: Vec::new(),
        }
    }

    fn other(model: &str, connections: u32, outcome: Outcome) -> Point {
        Point {
            model: model.into(),
            connections,
            outcome,
            rounds: Vec::new(),
        }
    }

    /// The report described at the top of this module.
    pub(crate) fn report() -> CompareReport {
        let na = || Outcome::NotApplicable {
            reason: "serves one connection at a time".into(),
        };
        let mut reactor1 = measured("reactor", 1, &[21e3, 22.5e3, 23e3], 42.0, 60_000);
        if let Outcome::Ok(s) = &mut reactor1.outcome {
            s.generator_bound = true;
            s.generator_cpu_utilisation = 0.99;
            s.server_cpu_utilisation = 0.4;
        }
        let points = vec![
            reactor1,
            measured("threads", 1, &[19e3, 20e3, 20.5e3], 48.0, 55_000),
            measured("iterative", 1, &[24e3, 24.4e3, 25e3], 39.0, 70_000),
            measured("reactor", 10, &[95e3, 101e3, 104e3], 95.0, 280_000),
            measured("threads", 10, &[92e3, 99e3, 100e3], 99.0, 270_000),
            other("iterative", 10, na()),
            measured("reactor", 100, &[170e3, 174.3e3, 176e3], 560.0, 500_000),
            measured("threads", 100, &[120e3, 128e3, 131e3], 780.0, 380_000),
            other("iterative", 100, na()),
            measured("reactor", 1000, &[160e3, 166e3, 169e3], 6000.0, 480_000),
            other(
                "threads",
                1000,
                Outcome::Failed {
                    error: "threads: connect to 127.0.0.1:7000 failed: too many open files".into(),
                },
            ),
            other("iterative", 1000, na()),
        ];
        let config = SweepConfig {
            models: vec!["reactor".into(), "threads".into(), "iterative".into()],
            connections: vec![1, 10, 100, 1000],
            size: 64,
            depth: 1,
            duration_s: 10.0,
            warmup_s: 2.0,
            threads: 1,
            rounds: 3,
        };
        let rankings = sweep::rank(&points, &config.connections);
        let mut before = Sample::default();
        before.loadavg = [0.12, 0.30, 0.25];
        before.governor = Some("performance".into());
        let mut after = before.clone();
        after.loadavg = [1.45, 0.80, 0.40];
        CompareReport {
            tool: "loadgen 0.1.0".into(),
            config,
            env: Env {
                kernel: "Linux 6.1.0".into(),
                cpu_count: 4,
                generator_cpus: vec![3],
                server_cpus: Some(vec![0, 1, 2]),
                pinned: true,
                fd_limit: FdLimit {
                    soft: 1_048_576,
                    hard: 1_048_576,
                },
            },
            machine_load: MachineLoad {
                before,
                after,
                steal_percent: Some(0.3),
                other_cpu_percent: Some(4.0),
                warnings: Vec::new(),
            },
            interrupted: false,
            points,
            rankings,
        }
    }

    /// `report()` with nothing measured: interrupted before the first point.
    pub(crate) fn nothing_measured() -> CompareReport {
        let mut r = report();
        for p in &mut r.points {
            p.outcome = Outcome::NotRun;
        }
        r.rankings.clear();
        r.interrupted = true;
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_numbers_keep_about_four_digits() {
        let got: Vec<String> = [0.421, 3.25159, 85.34, 950.2, 9500.0, 174_321.0, 1_250_000.0]
            .iter()
            .map(|&x| compact(x))
            .collect();
        assert_eq!(
            got,
            ["0.42", "3.25", "85.3", "950", "9500", "174.3k", "1.25M"]
        );
    }

    #[test]
    fn spread_shows_the_range_only_when_there_is_one() {
        assert_eq!(
            spread(&Spread::of(&[170e3, 174.3e3, 176e3])),
            "174.3k (170.0k–176.0k)"
        );
        assert_eq!(spread(&Spread::of(&[174.3e3])), "174.3k");
    }

    #[test]
    fn table_shows_medians_with_their_spread() {
        let t = render(&fixture::report());
        let row = t
            .lines()
            .find(|l| l.starts_with("reactor      100"))
            .unwrap();
        assert!(row.contains("174.3k (170.0k–176.0k)"), "{row}");
        assert!(row.contains("2.29 (2.27–2.35)"), "{row}");
        let table = t.split("\n\n").next().unwrap();
        assert!(table.lines().all(|l| l.chars().count() <= 120), "{t}");
    }

    #[test]
    fn a_generator_bound_point_is_marked_and_explained() {
        let t = render(&fixture::report());
        let row = t
            .lines()
            .find(|l| l.starts_with("reactor        1"))
            .unwrap();
        assert!(row.contains("22.5k (21.0k–23.0k)*"), "{row}");
        assert!(t.contains("* generator-bound:"), "{t}");
        assert!(t.contains("but reactor was generator-bound there"), "{t}");
        let line = one_line(&fixture::report().points[0]);
        assert!(line.ends_with("[generator-bound]"), "{line}");
    }

    #[test]
    fn overlapping_spreads_read_as_no_clear_difference() {
        let t = render(&fixture::report());
        let line = t.lines().find(|l| l.contains("    10 conns:")).unwrap();
        assert!(line.contains("no clear difference between"), "{line}");
        assert!(t.contains("reactor ahead of threads"), "{t}");
    }

    #[test]
    fn every_kind_of_outcome_gets_a_line() {
        let r = fixture::report();
        let lines: Vec<String> = r.points.iter().map(one_line).collect();
        assert!(
            lines[5].starts_with("iterative x 10 conns: n/a ("),
            "{}",
            lines[5]
        );
        assert!(
            lines[10].contains("FAILED: threads: connect"),
            "{}",
            lines[10]
        );
        assert!(
            lines[6].contains("174.3k req/s (170.0k–176.0k)"),
            "{}",
            lines[6]
        );
        let empty = fixture::nothing_measured();
        assert_eq!(one_line(&empty.points[0]), "reactor x 1 conns: not run");
    }

    #[test]
    fn warnings_and_interruptions_are_reported_last() {
        let mut r = fixture::report();
        assert!(!render(&r).contains("warning:"));
        r.machine_load
            .warnings
            .push("the machine was busy before the sweep".into());
        r.interrupted = true;
        r.points[11].outcome = Outcome::NotRun;
        let t = render(&r);
        assert!(
            t.contains("  warning: the machine was busy before the sweep\n"),
            "{t}"
        );
        let last = t.lines().last().unwrap();
        assert!(
            last.starts_with("INTERRUPTED:") && last.contains("1 of 12 points"),
            "{last}"
        );
    }
}
