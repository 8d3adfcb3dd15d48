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

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;

use crate::cli::CompareConfig;
use crate::env::{self, Env};
use crate::interrupt::Interrupt;
use crate::machine::{self, MachineLoad};
use crate::procstat::{self, Memory, Reading};
use crate::run::{self, Load, Moment, RunConfig, RunError};
use crate::serve::ServerProcess;
use crate::stats::{self, Percentiles};
use crate::sweep::{
    self, CompareReport, Metrics, Outcome, Point, Round, Spread, Summary, SweepConfig,
};
use crate::target::Target;

/// Grace period for a server to drain and exit after SIGTERM.
const STOP_GRACE: Duration = Duration::from_secs(5);

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
/// # Errors
/// Only failures to pin the generator. A point that cannot be measured is
/// recorded as failed; an interruption ends the sweep early and is recorded
/// in the report.
pub fn compare(
    cfg: &CompareConfig,
    stop: &Interrupt,
    on_point: &mut dyn FnMut(&Point),
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
    eprintln!(
        "compare: models {} x connections {:?}, {} B, depth {}, {:?} per point (+{:?} warm-up), {} round(s); {}",
        cfg.models.join(","),
        cfg.connections,
        cfg.size,
        cfg.depth,
        cfg.duration,
        cfg.warmup,
        cfg.rounds,
        match &plan {
            Ok((s, g)) => format!("server pinned to CPUs {s:?}, generator to {g:?}"),
            Err(why) => format!("not pinned ({why})"),
        }
    );
    let before = machine::Sample::now();
    let mut points: Vec<Point> = cfg
        .connections
        .iter()
        .flat_map(|&c| {
            cfg.models.iter().map(move |m| Point {
                model: m.clone(),
                connections: c,
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
        .collect();
    let mut interrupted = false;
    'sweep: for round in 0..cfg.rounds {
        for &conns in &cfg.connections {
            // Rotate the models' order each round: no model always runs
            // first (on a cold machine) or last (after the others heated it).
            let n = cfg.models.len();
            for k in 0..n {
                let model = &cfg.models[(k + round as usize) % n];
                let Some(point) = points
                    .iter_mut()
                    .find(|p| &p.model == model && p.connections == conns)
                else {
                    continue;
                };
                if matches!(point.outcome, Outcome::NotApplicable { .. }) {
                    continue;
                }
                if stop.raised() {
                    interrupted = true;
                    break 'sweep;
                }
                let r = match measure(cfg, model, conns, server_cpus.clone(), stop) {
                    Ok(Some(m)) => Round::Ok(Box::new(m)),
                    Ok(None) => {
                        interrupted = true;
                        break 'sweep;
                    }
                    Err(e) => Round::Failed {
                        error: format!("{e:#}"),
                    },
                };
                eprintln!(
                    "round {}/{} {model} x {conns}: {}",
                    round + 1,
                    cfg.rounds,
                    round_line(&r)
                );
                let cut_short = matches!(&r, Round::Ok(m) if m.interrupted);
                point.rounds.push(r);
                if round + 1 == cfg.rounds || cut_short {
                    point.outcome = summarise(&point.rounds, cfg.threads.min(conns));
                    on_point(point);
                }
                if cut_short {
                    interrupted = true;
                    break 'sweep;
                }
            }
        }
    }
    for p in &mut points {
        if matches!(p.outcome, Outcome::NotRun) && !p.rounds.is_empty() {
            p.outcome = summarise(&p.rounds, cfg.threads.min(p.connections));
        }
    }
    let machine_load = MachineLoad::between(before, machine::Sample::now(), env.cpu_count);
    let rankings = sweep::rank(&points, &cfg.connections);
    Ok(CompareReport {
        tool: format!("loadgen {}", env!("CARGO_PKG_VERSION")),
        config: SweepConfig {
            models: cfg.models.clone(),
            connections: cfg.connections.clone(),
            size: cfg.size,
            depth: cfg.depth,
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
    })
}

/// The exit status of a finished sweep: 0 clean, 1 a failed or faulty
/// point, 128 + signal when interrupted.
pub fn exit_status(report: &CompareReport, stop: &Interrupt) -> ExitCode {
    if report.interrupted {
        ExitCode::from(stop.exit_status())
    } else if report.clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn round_line(r: &Round) -> String {
    match r {
        Round::Ok(m) => format!(
            "{:.0} req/s, p99 {:.1} µs, server {:.2} µs CPU/req, {} faults{}{}",
            m.requests_per_sec,
            m.latency_us.p99,
            m.server_cpu_us_per_request,
            m.errors + m.corrupt,
            if m.generator_bound {
                " (generator-bound)"
            } else {
                ""
            },
            if m.interrupted { " (interrupted)" } else { "" }
        ),
        Round::Failed { error } => format!("FAILED: {error}"),
    }
}

/// Medians, spreads and pooled latency of a point's measured rounds.
fn summarise(rounds: &[Round], threads: u32) -> Outcome {
    let ok: Vec<&Metrics> = rounds
        .iter()
        .filter_map(|r| match r {
            Round::Ok(m) => Some(m.as_ref()),
            Round::Failed { .. } => None,
        })
        .collect();
    if ok.is_empty() {
        return match rounds.first() {
            Some(Round::Failed { error }) => Outcome::Failed {
                error: error.clone(),
            },
            _ => Outcome::NotRun,
        };
    }
    let spread = |f: fn(&Metrics) -> f64| Spread::of(&ok.iter().map(|m| f(m)).collect::<Vec<_>>());
    let mut pooled = stats::new_hist();
    for m in &ok {
        stats::merge(&mut pooled, &m.histogram);
    }
    let gen_cpu = spread(|m| m.generator_cpu_utilisation).median;
    let srv_cpu = spread(|m| m.server_cpu_utilisation).median;
    Outcome::Ok(Box::new(Summary {
        rounds_measured: ok.len(),
        requests_per_sec: spread(|m| m.requests_per_sec),
        server_cpu_us_per_request: spread(|m| m.server_cpu_us_per_request),
        p99_us: spread(|m| m.latency_us.p99),
        mb_per_sec: spread(|m| m.mb_per_sec).median,
        latency_us: Percentiles::of(&pooled),
        spectrum: stats::spectrum(&pooled),
        jain_fairness: spread(|m| m.jain_fairness).median,
        requests: ok.iter().map(|m| m.requests).sum(),
        errors: ok.iter().map(|m| m.errors).sum(),
        corrupt: ok.iter().map(|m| m.corrupt).sum(),
        server_cpu_utilisation: srv_cpu,
        server_memory: largest_memory(&ok),
        generator_cpu_utilisation: gen_cpu,
        generator_bound: 2 * ok.iter().filter(|m| m.generator_bound).count() > ok.len()
            || sweep::generator_bound(gen_cpu, srv_cpu, threads),
        interrupted: ok.iter().any(|m| m.interrupted),
    }))
}

/// The largest resident and peak memory over `rounds`; a figure no round
/// could read keeps the reason.
fn largest_memory(rounds: &[&Metrics]) -> Memory {
    let none = || Reading::unavailable("no round measured");
    Memory {
        rss_kib: Reading::largest(rounds.iter().map(|m| &m.server_memory.rss_kib))
            .unwrap_or_else(none),
        hwm_kib: Reading::largest(rounds.iter().map(|m| &m.server_memory.hwm_kib))
            .unwrap_or_else(none),
    }
}

/// Starts a fresh `model` server, drives `conns` connections at it and
/// samples its CPU and memory around the window. `Ok(None)`: interrupted
/// before anything was measured.
fn measure(
    cfg: &CompareConfig,
    model: &str,
    conns: u32,
    cpus: Option<Vec<usize>>,
    stop: &Interrupt,
) -> anyhow::Result<Option<Metrics>> {
    let server = ServerProcess::spawn(model, cpus)
        .with_context(|| format!("starting echod --model {model}"))?;
    let threads = cfg.threads.min(conns);
    let run_cfg = RunConfig {
        target: Target::Tcp(server.addr),
        connections: conns,
        size: cfg.size,
        load: Load::Closed { depth: cfg.depth },
        duration: cfg.duration,
        warmup: cfg.warmup,
        threads,
        drain_timeout: cfg.drain_timeout,
        loss_timeout: None,
        interval: None,
        progress: cfg.progress,
        server_pid: Some(server.pid()),
    };
    let mut cpu_start = None;
    let mut cpu_end = None;
    let mut gen_start = None;
    let mut gen_end = None;
    let mut memory = None;
    let me = std::process::id();
    let result = run::run(
        &run_cfg,
        &mut |moment| match moment {
            Moment::WindowStart => {
                cpu_start = Some(server.cpu_time());
                gen_start = Some(procstat::cpu_time(me));
            }
            Moment::WindowEnd => {
                cpu_end = Some(server.cpu_time());
                gen_end = Some(procstat::cpu_time(me));
                memory = Some(server.memory());
            }
        },
        stop,
    );
    let stderr = server.stderr_text();
    let stopped = server.stop(STOP_GRACE);
    let result = match result {
        Ok(r) => r,
        Err(RunError::Interrupted) => return Ok(None),
        Err(e) => return Err(anyhow::anyhow!("echod --model {model}: {e}")),
    };
    if result.interrupted && result.window.is_zero() {
        return Ok(None);
    }
    let cpu = match (cpu_start, cpu_end) {
        (Some(Ok(a)), Some(Ok(b))) => b.saturating_sub(a),
        (Some(Err(e)), _) | (_, Some(Err(e))) => anyhow::bail!(
            "echod --model {model}: cannot read its CPU time ({e}); did it exit during the run? {}",
            stderr.trim()
        ),
        _ => anyhow::bail!(
            "echod --model {model} exited during the run: {}",
            stderr.trim()
        ),
    };
    let server_exit = match stopped {
        Ok(s) if s.killed => format!("killed after ignoring SIGTERM for {STOP_GRACE:?}"),
        Ok(s) => s.status.to_string(),
        Err(e) => format!("could not be stopped: {e}"),
    };
    let m = &result.m;
    let window = result.window.as_secs_f64();
    let requests = m.counters.requests;
    let rps = result.requests_per_sec();
    // A zero here would pass for an idle generator and hide a
    // generator-bound round, so a failed reading fails the round.
    let generator_cpu = match (gen_start, gen_end) {
        (Some(Ok(a)), Some(Ok(b))) => b.saturating_sub(a).as_secs_f64() / window,
        (Some(Err(e)), _) | (_, Some(Err(e))) => {
            anyhow::bail!("cannot read loadgen's own CPU time: {e}")
        }
        _ => anyhow::bail!("echod --model {model}: the measurement window never opened"),
    };
    let server_cpu = cpu.as_secs_f64() / window;
    let per_conn: Vec<f64> = m.per_conn.iter().map(|&n| n as f64).collect();
    Ok(Some(Metrics {
        requests_per_sec: rps,
        mb_per_sec: rps * cfg.size as f64 / 1e6,
        latency_us: Percentiles::of(&m.corrected),
        jain_fairness: stats::jain_index(&per_conn),
        requests,
        errors: m.counters.errors_total(),
        corrupt: m.counters.corrupt_total(),
        server_cpu_us_per_request: cpu.as_secs_f64() * 1e6 / requests.max(1) as f64,
        server_cpu_utilisation: server_cpu,
        server_memory: match memory {
            Some(Ok(m)) => m,
            Some(Err(e)) => Memory::unavailable(&e.to_string()),
            None => Memory::unavailable("the window never ended"),
        },
        generator_cpu_utilisation: generator_cpu,
        generator_bound: sweep::generator_bound(generator_cpu, server_cpu, threads),
        server_exit,
        interrupted: result.interrupted,
        histogram: m.corrected.clone(),
    }))
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
