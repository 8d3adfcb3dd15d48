//! A hand-built comparison for the reports' tests: reactor, threads and
//! iterative at 1, 10, 100 and 1000 connections, three rounds each, with
//! realistic latency spectra. reactor at 1 connection is generator-bound;
//! threads at 1000 failed; iterative is n/a above one connection; at 10
//! connections reactor and threads overlap ("no clear difference").
//!
//! Saturation points at 50 connections: reactor server-bound, threads
//! generator-bound (its server had CPU to spare) and ahead in MB per
//! server CPU-second, iterative n/a.
//!
//! [`with_rates`] adds open-loop points at 1000 connections: reactor holds
//! p99 ≤ 1 ms up to 100k req/s (its rounds disagreeing there), threads up
//! to 50k and falls behind at 100k (where its generator fell behind its
//! schedule too), iterative is n/a.
//!
//! One fixture shared by every report's tests, so that the terminal table,
//! `report.md` and the plots are checked against the same comparison.

use crate::env::{Env, FdLimit};
use crate::limit::Limit;
use crate::machine::{MachineLoad, Sample};
use crate::procstat::{Memory, Reading};
use crate::run::series::{self, SeriesPoint};
use crate::stats::{self, Percentiles};
use crate::sweep::rates::{self, OpenLoop, RatePoint, RateSummary, Slo};
use crate::sweep::{
    self, CompareReport, FloodPoint, FloodSummary, Kind, Outcome, Point, Spread, Summary,
    SweepConfig,
};

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
    let rate = Spread::of(rps).median;
    // Five seconds that wander a few per cent around the median.
    let timeline: Vec<SeriesPoint> = (0..5)
        .map(|k| {
            let wobble = 1.0 + 0.06 * (rng.unit() - 0.5);
            SeriesPoint {
                start_s: k as f64,
                requests_per_sec: rate * wobble,
                p99_us: Some(p.p99 / wobble),
                requests: (rate * wobble) as u64,
                mb_per_sec: rate * wobble * 64.0 / 1e6,
                length_s: 1.0,
            }
        })
        .collect();
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
            rss_kib: Reading::Value(5 * 1024 + connections as u64 * 9),
            hwm_kib: Reading::Value(6 * 1024 + connections as u64 * 9),
        },
        generator_cpu_utilisation: 0.6,
        generator_bound: false,
        interrupted: false,
        slowest_second: series::slowest(&timeline, |p| p.requests_per_sec)
            .map(|slowest| sweep::RoundSlowest { round: 2, slowest }),
        timeline,
    };
    Point {
        model: model.into(),
        connections,
        kind: Kind::Closed,
        outcome: Outcome::Ok(Box::new(summary)),
        rounds: Vec::new(),
    }
}

fn other<S, M>(model: &str, connections: u32, kind: Kind, outcome: Outcome<S>) -> Point<S, M> {
    Point {
        model: model.into(),
        connections,
        kind,
        outcome,
        rounds: Vec::new(),
    }
}

/// A measured saturation point: MB per server CPU-second per round, and
/// the server's busiest thread at `busiest` of a CPU.
pub(crate) fn flooded(model: &str, per_cpu_s: &[f64], busiest: f64) -> FloodPoint {
    let limit = if busiest >= crate::limit::SATURATED {
        Limit::Server
    } else {
        Limit::Generator
    };
    let mbs: Vec<f64> = per_cpu_s.iter().map(|x| x * busiest).collect();
    let summary = FloodSummary {
        rounds_measured: per_cpu_s.len(),
        mb_per_sec: Spread::of(&mbs),
        mb_per_server_cpu_second: Spread::of(per_cpu_s),
        server_cpu_utilisation: busiest,
        busiest_thread_utilisation: Reading::Value(busiest),
        server_cpus: 1,
        generator_cpu_utilisation: if limit == Limit::Server { 0.7 } else { 1.0 },
        echoed_bytes: 9_000_000_000,
        errors: 0,
        corrupt: 0,
        server_memory: Memory {
            rss_kib: Reading::Value(12 * 1024),
            hwm_kib: Reading::Value(13 * 1024),
        },
        limit,
        generator_bound: limit == Limit::Generator,
        interrupted: false,
    };
    Point {
        model: model.into(),
        connections: 50,
        kind: Kind::Flood,
        outcome: Outcome::Ok(Box::new(summary)),
        rounds: Vec::new(),
    }
}

/// The first line of a rendered `text` that starts with `start`.
pub(crate) fn line<'a>(text: &'a str, start: &str) -> &'a str {
    let found = text.lines().find(|l| l.starts_with(start));
    found.unwrap_or_else(|| panic!("no line starts with {start:?} in:\n{text}"))
}

/// Asserts that the line of `text` starting with `start` holds `part`.
pub(crate) fn assert_line(text: &str, start: &str, part: &str) {
    let l = line(text, start);
    assert!(l.contains(part), "{l}");
}

/// The report described at the top of this module.
pub(crate) fn report() -> CompareReport {
    fn na<S>() -> Outcome<S> {
        Outcome::NotApplicable {
            reason: "serves one connection at a time".into(),
        }
    }
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
        other("iterative", 10, Kind::Closed, na()),
        measured("reactor", 100, &[170e3, 174.3e3, 176e3], 560.0, 500_000),
        measured("threads", 100, &[120e3, 128e3, 131e3], 780.0, 380_000),
        other("iterative", 100, Kind::Closed, na()),
        measured("reactor", 1000, &[160e3, 166e3, 169e3], 6000.0, 480_000),
        other(
            "threads",
            1000,
            Kind::Closed,
            Outcome::Failed {
                error: "threads: connect to 127.0.0.1:7000 failed: too many open files".into(),
            },
        ),
        other("iterative", 1000, Kind::Closed, na()),
    ];
    let saturation = vec![
        flooded("reactor", &[1500.0, 1550.0, 1580.0], 0.98),
        flooded("threads", &[1700.0, 1800.0, 1900.0], 0.84),
        other("iterative", 50, Kind::Flood, na()),
    ];
    let config = SweepConfig {
        models: vec!["reactor".into(), "threads".into(), "iterative".into()],
        entries: Vec::new(),
        connections: vec![1, 10, 100, 1000],
        flood_connections: vec![50],
        window: 1 << 20,
        flood_size: 16 << 10,
        size: 64,
        depth: 1,
        duration_s: 10.0,
        warmup_s: 2.0,
        threads: 1,
        rounds: 3,
    };
    let rankings = sweep::rank(&points, &config.connections);
    let saturation_rankings = sweep::rank_saturation(&saturation, &config.flood_connections);
    let mut before = Sample::default();
    before.loadavg = [0.12, 0.30, 0.25];
    before.governor = Reading::Value("performance".into());
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
            not_pinned: None,
            fd_limit: FdLimit {
                soft: 1_048_576,
                hard: 1_048_576,
            },
        },
        machine_load: MachineLoad {
            before,
            after,
            steal_percent: Reading::Value(0.3),
            other_cpu_percent: Reading::Value(4.0),
            warnings: Vec::new(),
        },
        interrupted: false,
        points,
        rankings,
        saturation,
        saturation_rankings,
        open_loop: OpenLoop::default(),
    }
}

/// A measured rate point: per round, achieved over offered and p99 (µs);
/// the other percentiles follow p99.
fn rated(model: &str, offered: f64, rounds: &[(f64, f64)], slo: Slo) -> RatePoint {
    let of = |f: &dyn Fn(&(f64, f64)) -> f64| Spread::of(&rounds.iter().map(f).collect::<Vec<_>>());
    let ratio = of(&|r| r.0);
    let p99 = of(&|r| r.1);
    let kept_up = ratio.median >= rates::KEPT_UP;
    let mut latency = Percentiles::default();
    (latency.p50, latency.p90, latency.p99) = (p99.median / 4.0, p99.median / 2.0, p99.median);
    (latency.p999, latency.max) = (p99.median * 2.0, p99.median * 5.0);
    let s = RateSummary {
        rounds_measured: rounds.len(),
        requests_per_sec: of(&|r| r.0 * offered),
        achieved_ratio: ratio.median,
        p50_us: of(&|r| r.1 / 4.0),
        p99_us: p99,
        p999_us: of(&|r| r.1 * 2.0),
        max_us: of(&|r| r.1 * 5.0),
        slo_us: p99,
        latency_us: latency,
        dispatch_lag_p99_us: Spread::of(&[12.0, 15.0, 20.0]),
        dispatch_lag_max_us: Spread::of(&[300.0, 450.0, 900.0]),
        generator_behind: false,
        server_cpu_utilisation: of(&|r| r.0 * offered * 3e-6),
        server_cpu_us_per_request: Spread::of(&[2.9, 3.0, 3.2]),
        server_memory: Memory {
            rss_kib: Reading::Value(14 * 1024),
            hwm_kib: Reading::Value(15 * 1024),
        },
        generator_cpu_utilisation: 0.3,
        requests: (offered * 30.0) as u64,
        unsent: if kept_up { 0 } else { 1200 },
        errors: 0,
        corrupt: 0,
        kept_up,
        held: kept_up && p99.median <= slo.limit_us,
        rounds_held: (rounds.iter())
            .filter(|r| r.0 >= rates::KEPT_UP && r.1 <= slo.limit_us)
            .count(),
        interrupted: false,
    };
    rates::rate_point(
        offered,
        other(model, 1000, Kind::Rate, Outcome::Ok(Box::new(s))),
    )
}

/// [`report`] with the open-loop points described at the top of this
/// module.
pub(crate) fn with_rates() -> CompareReport {
    let mut r = report();
    let slo = Slo::parse(rates::DEFAULT_SLO).unwrap();
    let na = || {
        other(
            "iterative",
            1000,
            Kind::Rate,
            Outcome::NotApplicable {
                reason: "serves one client at a time".into(),
            },
        )
    };
    // Per offered rate: reactor's rounds, threads' rounds, and iterative n/a.
    let table = [
        (
            10e3,
            [(1.0, 40.0), (1.0, 42.0), (1.0, 45.0)],
            [(1.0, 60.0), (1.0, 65.0), (1.0, 70.0)],
        ),
        (
            50e3,
            [(1.0, 90.0), (1.0, 95.0), (1.0, 110.0)],
            [(1.0, 400.0), (1.0, 650.0), (0.99, 900.0)],
        ),
        (
            100e3,
            [(0.99, 700.0), (0.9, 5000.0), (1.0, 800.0)],
            [(0.62, 80e3), (0.6, 95e3), (0.65, 70e3)],
        ),
    ];
    let mut points: Vec<_> = table
        .iter()
        .flat_map(|(rate, reactor, threads)| {
            [
                rated("reactor", *rate, reactor, slo),
                rated("threads", *rate, threads, slo),
                rates::rate_point(*rate, na()),
            ]
        })
        .collect();
    // Its generator fell behind too: flagged beside the model's own delay.
    if let Outcome::Ok(s) = &mut points[7].point.outcome {
        s.generator_behind = true;
        s.dispatch_lag_p99_us = Spread::of(&[1800.0, 2500.0, 4000.0]);
        s.dispatch_lag_max_us = Spread::of(&[9000.0, 12e3, 15e3]);
    }
    r.open_loop = OpenLoop::judge(1000, Some(slo), points, &r.config.models);
    r
}

/// `report()` with nothing measured: interrupted before the first point.
pub(crate) fn nothing_measured() -> CompareReport {
    let mut r = report();
    for p in &mut r.points {
        p.outcome = Outcome::NotRun;
    }
    for p in &mut r.saturation {
        p.outcome = Outcome::NotRun;
    }
    r.rankings.clear();
    r.saturation_rankings.clear();
    r.interrupted = true;
    r
}
