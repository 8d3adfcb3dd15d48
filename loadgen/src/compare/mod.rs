//! `loadgen compare`: each echod model in its own child process, swept over
//! connection counts, measured from both sides.
//!
//! Every point gets a fresh server process, so its CPU time (user + system,
//! sampled exactly at the window's start and end) and its memory (resident
//! at the window's end, and the peak where the OS keeps one) belong to that
//! point alone; `procstat.rs` says where each OS keeps them. When the
//! machine has two or more CPUs and the OS can pin (Linux, FreeBSD; not
//! macOS) the server and the generator are pinned to disjoint ones, so
//! neither steals the other's core.
//!
//! # Rounds
//! `--rounds R` measures every point R times. Inside a round the models take
//! turns at each connection count (and the order of the models rotates from
//! round to round), so whatever drifts on the machine during the sweep
//! falls on all of them alike. The data types and the statistics over the
//! rounds are in `sweep.rs`.
//!
//! # Saturation points
//! After the closed-loop points, each round floods every model at each of
//! `--flood` connection counts (`run --flood`, with `--window` and
//! [`FLOOD_SIZE`] requests). They are measured in echoed MB/s and MB per
//! server CPU-second, and each says whether the server was out of CPU
//! ([`crate::limit`]): only then do its figures describe the server.
//!
//! # Open-loop points
//! Last in each round, each model is offered each of `--rates` requests
//! per second over `--rate-connections` connections (`run --rate`),
//! alternated like the other points. Latency is from each request's
//! intended send time; a model that cannot keep up is measured behind,
//! not dropped, and the generator's own dispatch lag is kept beside it.
//! What they are judged by (`--slo`) is in `sweep/rates.rs`.
//!
//! # Interruptions
//! On the first SIGINT or SIGTERM the point being measured closes its
//! window at once, and the sweep stops there: every round measured so far
//! is kept, the report is written, and the points not reached say "not
//! run". The server child is stopped as usual; if loadgen itself dies, the
//! kernel kills the server (see `serve.rs`).
//!
//! # The iterative model
//! It serves one client at a time: with N > 1 connections, N − 1 of them
//! wait forever and a run would only measure a timeout. It is therefore run
//! at 1 connection only and reported as "n/a" at every other count.
//!
//! # A model that cannot run here
//! echod refuses a model the machine cannot run (uring where io_uring is
//! missing or blocked, or not Linux) with one line on stderr, before it
//! listens. When a model's server exits like that at its first start, the
//! model is unavailable for the whole sweep: one progress line says so,
//! every point of it is reported "n/a" with echod's reason
//! ([`Outcome::Unavailable`]), it is not started again, and the other
//! models are measured as usual. It does not fail the comparison unless no
//! other model was measured. A server that started before and fails later
//! is a failed round like any other.
//!
//! # Servers of your own
//! `--server NAME='CMD {port}'` entries are started, pinned, measured and
//! stopped for every point exactly as the models are (`serve/external.rs`);
//! `--target NAME=ADDR` entries are already running and only connected to,
//! so their server CPU and memory are n/a. They take turns with the models
//! inside each round. Each passes a short echo check (`check::quick`) once
//! per sweep, before its first point: a `--server` is started for it and
//! stopped again, so every measured point still gets a fresh process. One
//! that does not listen or fails the check is refused for the whole sweep
//! ([`Outcome::Refused`], one progress line naming it), the others are
//! measured, and the sweep is not clean. Once per sweep, not per point: a
//! server that echoes correctly at its first start is not expected to stop
//! echoing, and the runs verify every reply anyway.

use std::collections::HashSet;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;

use crate::check;
use crate::cli::compare::Entry;
use crate::cli::CompareConfig;
use crate::env::{self, Env};
use crate::interrupt::Interrupt;
use crate::limit::{self, Limit};
use crate::machine::{self, MachineLoad};
use crate::run::{self};
use crate::serve::{ServerProcess, SpawnError};
use crate::sweep::rates::{self};
use crate::sweep::{
    self, CompareReport, EntryKind, Finished, FloodMetrics, FloodPoint, FloodSummary, Kind,
    Metrics, OpenLoop, Outcome, Point, RateMetrics, RatePoint, RateRow, RateSummary, Round,
    RoundFigures, Summary, SweepConfig,
};
use crate::target::Target;

mod measure;
mod summarise;

use measure::{measure, measure_flood, measure_rate, STOP_GRACE};
use summarise::{summarise, summarise_flood, summarise_rate};

/// Splits the CPUs we may use between server and generator: the generator
/// gets `gen_threads` of them (the last ones), the server the rest, as long as
/// the server is left at least one. `None` means "do not pin".
pub fn plan_pinning(available: &[usize], gen_threads: usize) -> Option<(Vec<usize>, Vec<usize>)> {
    if available.len() < 2 {
        return None;
    }
    let gen = gen_threads.clamp(1, available.len() - 1);
    let (server, generator) = available.split_at(available.len() - gen);
    Some((server.to_vec(), generator.to_vec()))
}

/// Runs the sweep in `cfg` and returns what it measured. Progress goes to
/// stderr, one line per round of each point; `on_point` is called once per
/// point when its last round is done (the caller prints it).
///
/// Each round measures the closed-loop points (`cfg.connections`), then the
/// saturation points (`cfg.flood`), then the open-loop points (`cfg.rates`),
/// the models taking turns at each count and each rate.
///
/// # Errors
/// Only failures to pin the generator. A point that cannot be measured is
/// recorded as failed; an interruption ends the sweep early and is recorded
/// in the report.
pub fn compare(
    cfg: &CompareConfig,
    stop: &Interrupt,
    on_point: &mut dyn FnMut(Finished<'_>),
) -> anyhow::Result<CompareReport> {
    let available = env::affinity().unwrap_or_default();
    let plan = match env::NO_PINNING {
        _ if !cfg.pin => Err("--no-pin".to_string()),
        Some(why) => Err(why.to_string()),
        None => plan_pinning(&available, cfg.threads as usize)
            .ok_or_else(|| "fewer than 2 CPUs".to_string()),
    };
    let server_cpus = match &plan {
        Ok((server, generator)) => {
            // Threads spawned from here on (the engines) inherit this mask.
            env::pin(generator).context("pinning the generator")?;
            Some(server.clone())
        }
        Err(_) => None,
    };
    let mut env = Env::capture(server_cpus.clone());
    env.not_pinned = plan.as_ref().err().cloned();
    // What the generator can use decides when it counts as maxed out.
    let gen_cpus = env.generator_cpus.len();
    eprintln!(
        "compare: models {} x connections {:?} ({} B, depth {}) and flood {:?} ({} B, window {} B), \
         {:?} per point ({}), {} round(s); {}",
        cfg.names().join(","),
        cfg.connections,
        cfg.size,
        cfg.depth,
        cfg.flood,
        FLOOD_SIZE,
        cfg.window,
        cfg.duration,
        run::warmup_text(cfg.warmup),
        cfg.rounds,
        match &plan {
            Ok((s, g)) => format!("server pinned to CPUs {s:?}, generator to {g:?}"),
            Err(why) => format!("not pinned ({why})"),
        }
    );
    if !cfg.rates.is_empty() {
        eprintln!(
            "compare: and open loop at {:?} req/s over {} connections ({} B), judged by {}",
            cfg.rates, cfg.rate_connections, cfg.size, cfg.slo
        );
    }
    let before = machine::Sample::now();
    let mut points: Vec<Point> = new_points(cfg, &cfg.connections, Kind::Closed);
    let mut saturation: Vec<FloodPoint> = new_points(cfg, &cfg.flood, Kind::Flood);
    // One group of points per rate: the sweep's rounds find a point by its
    // connections, which all rate points share.
    let conns = [cfg.rate_connections];
    let mut by_rate: Vec<(f64, Vec<RateRow>)> = (cfg.rates.iter())
        .map(|&r| (r, new_points(cfg, &conns, Kind::Rate)))
        .collect();
    let mut sweep = Sweep {
        cfg,
        stop,
        cpus: server_cpus,
        gen_cpus,
        tried: HashSet::new(),
        unavailable: Vec::new(),
        refused: Vec::new(),
        rate: 0.0,
    };
    let interrupted = (0..cfg.rounds).any(|round| {
        !sweep.round(&mut points, round, on_point)
            || !sweep.round(&mut saturation, round, on_point)
            || !by_rate.iter_mut().all(|(rate, group)| {
                sweep.rate = *rate;
                sweep.round(group, round, on_point)
            })
    });
    sweep.summarise_unfinished(&mut points);
    sweep.summarise_unfinished(&mut saturation);
    for (rate, group) in &mut by_rate {
        sweep.rate = *rate;
        sweep.summarise_unfinished(group);
    }
    let rates: Vec<RatePoint> = by_rate
        .into_iter()
        .flat_map(|(rate, group)| group.into_iter().map(move |p| rates::rate_point(rate, p)))
        .collect();
    let open_loop = if cfg.rates.is_empty() {
        OpenLoop::default()
    } else {
        OpenLoop::judge(cfg.rate_connections, Some(cfg.slo), rates, &cfg.models)
    };
    let machine_load = MachineLoad::between(before, machine::Sample::now(), env.cpu_count);
    let rankings = sweep::rank(&points, &cfg.connections);
    let saturation_rankings = sweep::rank_saturation(&saturation, &cfg.flood);
    Ok(CompareReport {
        tool: format!("loadgen {}", env!("CARGO_PKG_VERSION")),
        config: SweepConfig {
            models: cfg.names().into_iter().map(String::from).collect(),
            entries: entries(cfg),
            connections: cfg.connections.clone(),
            size: cfg.size,
            depth: cfg.depth,
            flood_connections: cfg.flood.clone(),
            window: cfg.window,
            flood_size: FLOOD_SIZE,
            duration_s: cfg.duration.as_secs_f64(),
            warmup_s: cfg.warmup.as_secs_f64(),
            threads: cfg.threads,
            rounds: cfg.rounds,
        },
        env,
        machine_load,
        interrupted,
        points,
        rankings,
        saturation,
        saturation_rankings,
        open_loop,
    })
}

/// The request size of saturation points: `run --flood`'s default. The
/// server sees one byte stream whatever it is.
pub const FLOOD_SIZE: usize = run::DEFAULT_FLOOD_SIZE;

/// What each name compared is, for `results.json`.
fn entries(cfg: &CompareConfig) -> Vec<sweep::Entry> {
    let entry = |name: &str| {
        let (kind, detail) = match cfg.entry(name) {
            Entry::Model => (EntryKind::Model, None),
            Entry::Server(s) => (EntryKind::Server, Some(s.command.clone())),
            Entry::Target(t) => (EntryKind::Target, Some(t.target.to_string())),
        };
        sweep::Entry {
            name: name.to_string(),
            kind,
            detail,
        }
    };
    cfg.names().into_iter().map(entry).collect()
}

/// One point per (count, name) of `counts`, not yet run; the iterative
/// model is not applicable above one connection.
fn new_points<S, M>(cfg: &CompareConfig, counts: &[u32], kind: Kind) -> Vec<Point<S, M>> {
    let names = cfg.names();
    counts
        .iter()
        .flat_map(|&c| {
            names.iter().map(move |&m| Point {
                model: m.to_string(),
                connections: c,
                kind,
                outcome: if m == "iterative" && c > 1 {
                    Outcome::NotApplicable {
                        reason: "serves one client at a time".into(),
                    }
                } else {
                    Outcome::NotRun
                },
                rounds: Vec::new(),
            })
        })
        .collect()
}

/// What a round of the sweep needs besides the points.
struct Sweep<'a> {
    cfg: &'a CompareConfig,
    stop: &'a Interrupt,
    /// The server's CPUs, when pinned.
    cpus: Option<Vec<usize>>,
    /// CPUs the generator may use.
    gen_cpus: usize,
    /// Models whose server the sweep has tried to start.
    tried: HashSet<String>,
    /// Models whose server could not start at the first try, and why.
    unavailable: Vec<(String, String)>,
    /// `--server`s and `--target`s refused at their first try, and why.
    refused: Vec<(String, String)>,
    /// The offered rate of the open-loop points being measured.
    rate: f64,
}

impl Sweep<'_> {
    /// Measures round `round` of every point in `points`, summarising each
    /// point after its last round and handing it to `on_point`. Returns
    /// false when the sweep must stop: it was interrupted.
    fn round<M: PointKind>(
        &mut self,
        points: &mut [Point<M::Summary, M>],
        round: u32,
        on_point: &mut dyn FnMut(Finished<'_>),
    ) -> bool {
        let (cfg, stop) = (self.cfg, self.stop);
        // Rotate the models' order each round: no model always runs first (on
        // a cold machine) or last (after the others heated it).
        let names = cfg.names();
        let n = names.len();
        for &conns in M::counts(cfg) {
            for k in 0..n {
                let model = &names[(k + round as usize) % n].to_string();
                let Some(point) = points
                    .iter_mut()
                    .find(|p| &p.model == model && p.connections == conns)
                else {
                    continue;
                };
                if point.outcome.na_reason().is_some() {
                    continue;
                }
                if let Some(left_out) = self.left_out(model) {
                    point.outcome = left_out;
                    continue;
                }
                if stop.raised() {
                    return false;
                }
                let first_try = self.tried.insert(model.clone());
                if first_try {
                    if let Err(reason) = self.preflight(model) {
                        eprintln!(
                            "compare: {model} is refused, left out of the whole sweep: {reason}"
                        );
                        self.refused.push((model.clone(), reason.clone()));
                        point.outcome = Outcome::Refused { reason };
                        continue;
                    }
                }
                let r = match M::measure(self, model, conns) {
                    Ok(Some(m)) => Round::Ok(Box::new(m)),
                    Ok(None) => return false,
                    Err(e) => match e.downcast_ref::<SpawnError>() {
                        Some(SpawnError::NotStarted { reason, .. }) if first_try => {
                            eprintln!(
                                "compare: {model} is unavailable here, left out of the whole \
                                 sweep: {reason}"
                            );
                            self.unavailable.push((model.clone(), reason.clone()));
                            point.outcome = Outcome::Unavailable {
                                reason: reason.clone(),
                            };
                            continue;
                        }
                        _ => Round::Failed {
                            error: format!("{e:#}"),
                        },
                    },
                };
                let what = match point.kind {
                    Kind::Closed => String::new(),
                    Kind::Flood => " flood".into(),
                    Kind::Rate => format!(" at {:.0} req/s", self.rate),
                };
                let line = match &r {
                    Round::Ok(m) => m.describe(),
                    Round::Failed { error } => format!("FAILED: {error}"),
                };
                eprintln!(
                    "round {}/{} {model} x {conns}{what}: {line}",
                    round + 1,
                    cfg.rounds,
                );
                let cut_short = matches!(&r, Round::Ok(m) if m.interrupted());
                point.rounds.push(r);
                if round + 1 == cfg.rounds || cut_short {
                    point.outcome = M::summarise(self, point);
                    on_point(M::finished(self, point));
                }
                if cut_short {
                    return false;
                }
            }
        }
        true
    }

    /// Gives the points the interruption left with rounds but no outcome
    /// the outcome of those rounds, and every point of an unavailable
    /// model that outcome, reached or not.
    fn summarise_unfinished<M: PointKind>(&self, points: &mut [Point<M::Summary, M>]) {
        for p in points {
            if let Some(left_out) = self.left_out(&p.model) {
                p.outcome = left_out;
            } else if matches!(p.outcome, Outcome::NotRun) && !p.rounds.is_empty() {
                p.outcome = M::summarise(self, p);
            }
        }
    }

    /// Why `model` could not start, when it could not at its first try:
    /// it is then not tried again in this sweep.
    fn unavailable_reason(&self, model: &str) -> Option<String> {
        let found = self.unavailable.iter().find(|(m, _)| m == model);
        found.map(|(_, reason)| reason.clone())
    }

    /// The outcome of every point of `name` when it is left out of the
    /// sweep: unavailable, or refused.
    fn left_out<S>(&self, name: &str) -> Option<Outcome<S>> {
        if let Some(reason) = self.unavailable_reason(name) {
            return Some(Outcome::Unavailable { reason });
        }
        let found = self.refused.iter().find(|(m, _)| m == name);
        found.map(|(_, reason)| Outcome::Refused {
            reason: reason.clone(),
        })
    }

    /// The check a `--server` or `--target` passes before its first point
    /// (see the module docs); nothing for a model. A `--server` is started
    /// for it on the server's CPUs and stopped again.
    fn preflight(&self, name: &str) -> Result<(), String> {
        let (target, server) = match self.cfg.entry(name) {
            Entry::Model => return Ok(()),
            Entry::Target(t) => (t.target.clone(), None),
            Entry::Server(spec) => {
                let server =
                    ServerProcess::spawn_command(spec, self.cpus.clone(), self.cfg.server_wait)
                        .map_err(|e| match e {
                            SpawnError::External { reason, .. } => reason,
                            e => e.to_string(),
                        })?;
                (Target::Tcp(server.addr), Some(server))
            }
        };
        let checked = check::quick(&target, CHECK_TIMEOUT, CHECK_CONNECTIONS);
        if let Some(server) = server {
            let _ = server.stop(STOP_GRACE);
        }
        checked
    }
}

/// Time limit of each check before an external server's first point.
const CHECK_TIMEOUT: Duration = Duration::from_secs(5);

/// Connections of that check's concurrency test: enough to show a server
/// that serves one client at a time, few enough for any real server.
const CHECK_CONNECTIONS: u32 = 8;

/// The exit status of a finished sweep: 0 clean (a model that could not
/// start here is reported, not a failure, as long as another model was
/// measured), 1 a failed or faulty point, a refused `--server` or
/// `--target`, or nothing measured beside unavailable models, 128 + signal
/// when interrupted.
pub fn exit_status(report: &CompareReport, stop: &Interrupt) -> ExitCode {
    if report.interrupted {
        ExitCode::from(stop.exit_status())
    } else if report.clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// What the sweep does differently for each kind of point, by what one
/// of its rounds measures.
trait PointKind: RoundFigures + Sized {
    /// What a point's rounds summarise to.
    type Summary;
    /// The connection counts of points of this kind.
    fn counts(cfg: &CompareConfig) -> &[u32];
    /// Measures one round of `model` at `conns` connections; None when
    /// interrupted before its window.
    fn measure(s: &Sweep, model: &str, conns: u32) -> anyhow::Result<Option<Self>>;
    /// The outcome of `p`'s rounds.
    fn summarise(s: &Sweep, p: &Point<Self::Summary, Self>) -> Outcome<Self::Summary>;
    /// `p` as the caller of [`compare`] is handed it.
    fn finished<'a>(s: &Sweep, p: &'a Point<Self::Summary, Self>) -> Finished<'a>;
    /// A measured round as its progress line shows it.
    fn describe(&self) -> String;
}

/// `show(x)`, or `n/a` for a server CPU figure that was not measured
/// (NaN: a `--target`'s).
fn shown(x: f64, show: impl FnOnce(f64) -> String) -> String {
    if x.is_nan() {
        "n/a".into()
    } else {
        show(x)
    }
}

/// The end of a round's progress line: `generator_bound` and `interrupted`
/// when they hold.
fn marks(generator_bound: bool, interrupted: bool) -> String {
    let mut s = String::new();
    if generator_bound {
        s += " (generator-bound)";
    }
    if interrupted {
        s += " (interrupted)";
    }
    s
}

impl PointKind for Metrics {
    type Summary = Summary;
    fn counts(cfg: &CompareConfig) -> &[u32] {
        &cfg.connections
    }
    fn measure(s: &Sweep, model: &str, conns: u32) -> anyhow::Result<Option<Metrics>> {
        measure(s.cfg, model, conns, s.cpus.clone(), s.gen_cpus, s.stop)
    }
    fn summarise(s: &Sweep, p: &Point) -> Outcome {
        summarise(&p.rounds, s.cfg.threads.min(p.connections), s.gen_cpus)
    }
    fn finished<'a>(_: &Sweep, p: &'a Point) -> Finished<'a> {
        Finished::Closed(p)
    }
    fn describe(&self) -> String {
        format!(
            "{:.0} req/s, p99 {:.1} µs, server {} µs CPU/req, {} faults{}",
            self.requests_per_sec,
            self.latency_us.p99,
            shown(self.server_cpu_us_per_request, |x| format!("{x:.2}")),
            self.faults(),
            marks(self.generator_bound, self.interrupted)
        )
    }
}

impl PointKind for FloodMetrics {
    type Summary = FloodSummary;
    fn counts(cfg: &CompareConfig) -> &[u32] {
        &cfg.flood
    }
    fn measure(s: &Sweep, model: &str, conns: u32) -> anyhow::Result<Option<FloodMetrics>> {
        measure_flood(s.cfg, model, conns, s.cpus.clone(), s.stop)
    }
    fn summarise(_: &Sweep, p: &FloodPoint) -> Outcome<FloodSummary> {
        summarise_flood(&p.rounds)
    }
    fn finished<'a>(_: &Sweep, p: &'a FloodPoint) -> Finished<'a> {
        Finished::Flood(p)
    }
    fn describe(&self) -> String {
        format!(
            "{:.0} MB/s, {} MB per server CPU-second, server {} (busiest thread {}), \
             generator {}%, {} faults{}",
            self.mb_per_sec,
            shown(self.mb_per_server_cpu_second, |x| format!("{x:.0}")),
            shown(self.server_cpu_utilisation, |x| format!(
                "{}%",
                limit::percent(x)
            )),
            self.busiest_thread_utilisation
                .show(|&t| format!("{}%", limit::percent(t))),
            limit::percent(self.generator_cpu_utilisation),
            self.faults(),
            marks(self.limit == Limit::Generator, self.interrupted)
        )
    }
}

impl PointKind for RateMetrics {
    type Summary = RateSummary;
    fn counts(cfg: &CompareConfig) -> &[u32] {
        std::slice::from_ref(&cfg.rate_connections)
    }
    fn measure(s: &Sweep, model: &str, conns: u32) -> anyhow::Result<Option<RateMetrics>> {
        measure_rate(s.cfg, model, conns, s.rate, s.cpus.clone(), s.stop)
    }
    fn summarise(s: &Sweep, p: &RateRow) -> Outcome<RateSummary> {
        summarise_rate(&p.rounds, s.rate, &s.cfg.slo)
    }
    fn finished<'a>(s: &Sweep, p: &'a RateRow) -> Finished<'a> {
        Finished::Rate(s.rate, p)
    }
    fn describe(&self) -> String {
        format!(
            "{:.0} of {:.0} req/s{}, p99 {:.1} µs, generator lag p99 {:.0} µs, server {}%, {} unsent, \
             {} faults{}",
            self.requests_per_sec,
            self.offered_per_sec,
            if self.kept_up() { "" } else { " (behind)" },
            self.latency_us.p99,
            self.dispatch_lag_us.p99,
            limit::percent(self.server_cpu_utilisation),
            self.unsent,
            self.faults(),
            marks(false, self.interrupted)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pinning_needs_two_cpus_and_leaves_the_server_one() {
        assert_eq!(plan_pinning(&[0], 1), None);
        assert_eq!(plan_pinning(&[0, 1], 1), Some((vec![0], vec![1])));
        assert_eq!(plan_pinning(&[0, 1], 4), Some((vec![0], vec![1])));
        assert_eq!(
            plan_pinning(&[0, 1, 2, 3], 2),
            Some((vec![0, 1], vec![2, 3]))
        );
    }
}
