//! `loadgen compare`: each echod model in its own child process, swept over
//! connection counts, measured from both sides.
//!
//! Every point gets a fresh server process, so its CPU time (utime + stime
//! from `/proc/PID/stat`, sampled exactly at the window's start and end) and
//! its memory (`VmRSS` at the window's end, `VmHWM` for the peak) belong to
//! that point alone. When the machine has two or more CPUs the server and the
//! generator are pinned to disjoint ones, so neither steals the other's core.
//!
//! # The iterative model
//! It serves one client at a time: with N > 1 connections, N − 1 of them
//! wait forever and a run would only measure a timeout. It is therefore run
//! at 1 connection only and reported as "n/a" at every other count.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use serde::Serialize;

use crate::cli::CompareConfig;
use crate::env::{self, Env};
use crate::procstat::{self, Memory};
use crate::report::{self, summary::RunSummary};
use crate::run::{self, Load, Moment, RunConfig};
use crate::serve::ServerProcess;
use crate::stats::Percentiles;

/// What happened at one (model, connections) point.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "snake_case", tag = "status")]
pub enum Outcome {
    /// Measured.
    Ok(Box<Metrics>),
    /// Not meaningful for this model (see the module docs).
    NotApplicable {
        /// Why.
        reason: String,
    },
    /// The point could not be measured.
    Failed {
        /// Why, naming the model and address.
        error: String,
    },
}

/// The figures of one measured point.
#[derive(Clone, Debug, Serialize)]
pub struct Metrics {
    /// Replies per second.
    pub requests_per_sec: f64,
    /// Echoed megabytes per second.
    pub mb_per_sec: f64,
    /// Latency percentiles (µs).
    pub latency_us: Percentiles,
    /// `(quantile, µs)` latency spectrum.
    pub spectrum_us: Vec<(f64, f64)>,
    /// Jain's fairness index over connections.
    pub jain_fairness: f64,
    /// Replies counted.
    pub requests: u64,
    /// Reordered/truncated replies and failed connections.
    pub errors: u64,
    /// Damaged replies.
    pub corrupt: u64,
    /// Server CPU (user + system) per reply, in µs.
    pub server_cpu_us_per_request: f64,
    /// Server CPU time over the window, as a fraction of one CPU.
    pub server_cpu_utilisation: f64,
    /// Server memory at the end of the window.
    pub server_memory: Memory,
    /// The generator's own CPU time over the window, as a fraction of one
    /// CPU. Near 1.0 with a server well below it means the point measured
    /// the generator, not the server (see [`Metrics::generator_bound`]).
    pub generator_cpu_utilisation: f64,
    /// How the server exited when stopped.
    pub server_exit: String,
}

/// One row of the sweep.
#[derive(Clone, Debug, Serialize)]
pub struct Point {
    /// echod model.
    pub model: String,
    /// Connections.
    pub connections: u32,
    /// Result.
    #[serde(flatten)]
    pub outcome: Outcome,
}

impl Metrics {
    /// True when the generator used (nearly) all of a CPU per generator
    /// thread while the server did not: the point then says more about the
    /// generator than about the server, and the reports flag it.
    pub fn generator_bound(&self, threads: u32) -> bool {
        self.generator_cpu_utilisation >= 0.95 * threads as f64 && self.server_cpu_utilisation < 0.9
    }
}

impl Point {
    /// The metrics, when the point was measured.
    pub fn metrics(&self) -> Option<&Metrics> {
        match &self.outcome {
            Outcome::Ok(m) => Some(m),
            _ => None,
        }
    }
}

/// Configuration as recorded in `results.json`.
#[derive(Clone, Debug, Serialize)]
pub struct SweepConfig {
    /// Models compared.
    pub models: Vec<String>,
    /// Connection counts.
    pub connections: Vec<u32>,
    /// Request size in bytes.
    pub size: usize,
    /// Requests in flight per connection.
    pub depth: u32,
    /// Window of each point, in seconds.
    pub duration_s: f64,
    /// Warm-up of each point, in seconds.
    pub warmup_s: f64,
    /// Generator threads.
    pub threads: u32,
}

/// The whole comparison, as written to `results.json`.
#[derive(Clone, Debug, Serialize)]
pub struct CompareReport {
    /// `loadgen` and its version.
    pub tool: String,
    /// The sweep.
    pub config: SweepConfig,
    /// Machine and pinning.
    pub env: Env,
    /// One entry per (model, connections), models outermost.
    pub points: Vec<Point>,
}

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

/// Runs the sweep in `cfg`, prints the table and writes the report files.
///
/// # Errors
/// Only failures to write the output directory; a point that cannot be
/// measured is reported in the table and makes the exit status 1.
pub fn compare(cfg: &CompareConfig) -> anyhow::Result<ExitCode> {
    let available = env::affinity().unwrap_or_default();
    let plan = if cfg.pin {
        plan_pinning(&available, cfg.threads as usize)
    } else {
        None
    };
    let server_cpus = match &plan {
        Some((server, generator)) => {
            // Threads spawned from here on (the engines) inherit this mask.
            env::pin(generator).context("pinning the generator")?;
            Some(server.clone())
        }
        None => None,
    };
    let env = Env::capture(server_cpus.clone());
    eprintln!(
        "compare: models {} x connections {:?}, {} B, depth {}, {:?} per point (+{:?} warm-up); {}",
        cfg.models.join(","),
        cfg.connections,
        cfg.size,
        cfg.depth,
        cfg.duration,
        cfg.warmup,
        match &plan {
            Some((s, g)) => format!("server pinned to CPUs {s:?}, generator to {g:?}"),
            None => "not pinned (fewer than 2 CPUs, or --no-pin)".into(),
        }
    );
    let mut points = Vec::new();
    for model in &cfg.models {
        for &conns in &cfg.connections {
            let outcome = if model == "iterative" && conns > 1 {
                Outcome::NotApplicable {
                    reason: "serves one client at a time".into(),
                }
            } else {
                match measure(cfg, model, conns, server_cpus.clone()) {
                    Ok(m) => Outcome::Ok(Box::new(m)),
                    Err(e) => Outcome::Failed {
                        error: format!("{e:#}"),
                    },
                }
            };
            let point = Point {
                model: model.clone(),
                connections: conns,
                outcome,
            };
            eprintln!("{}", report::table::one_line(&point));
            if point
                .metrics()
                .is_some_and(|m| m.generator_bound(cfg.threads.min(conns)))
            {
                eprintln!(
                    "WARNING: {model} x {conns}: the generator used all of its CPU while the server did not; \
                     this point measures the generator. Try --threads or --depth."
                );
            }
            points.push(point);
        }
    }
    let report = CompareReport {
        tool: format!("loadgen {}", env!("CARGO_PKG_VERSION")),
        config: SweepConfig {
            models: cfg.models.clone(),
            connections: cfg.connections.clone(),
            size: cfg.size,
            depth: cfg.depth,
            duration_s: cfg.duration.as_secs_f64(),
            warmup_s: cfg.warmup.as_secs_f64(),
            threads: cfg.threads,
        },
        env,
        points,
    };
    crate::print(&report::table::render(&report.points))?;
    write_outputs(&cfg.out, &report)?;
    println!(
        "report written to {}/ (results.json, report.md, *.svg)",
        cfg.out.display()
    );
    let clean = report.points.iter().all(|p| match &p.outcome {
        Outcome::Ok(m) => m.errors == 0 && m.corrupt == 0,
        Outcome::NotApplicable { .. } => true,
        Outcome::Failed { .. } => false,
    });
    Ok(if clean {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn write_outputs(dir: &Path, report: &CompareReport) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("--out {}", dir.display()))?;
    report::json::write(&dir.join("results.json"), report)?;
    let plots = report::plot::write_all(dir, report)
        .with_context(|| format!("plotting into {}", dir.display()))?;
    let md = report::markdown::render(report, &plots);
    let path = dir.join("report.md");
    std::fs::write(&path, md).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// Starts a fresh `model` server, drives `conns` connections at it and
/// samples its CPU and memory around the window.
fn measure(
    cfg: &CompareConfig,
    model: &str,
    conns: u32,
    cpus: Option<Vec<usize>>,
) -> anyhow::Result<Metrics> {
    let server = ServerProcess::spawn(model, cpus)
        .with_context(|| format!("starting echod --model {model}"))?;
    let run_cfg = RunConfig {
        target: server.addr,
        connections: conns,
        size: cfg.size,
        load: Load::Closed { depth: cfg.depth },
        duration: cfg.duration,
        warmup: cfg.warmup,
        threads: cfg.threads.min(conns),
        interval: None,
        progress: cfg.progress,
    };
    let mut cpu_start = None;
    let mut cpu_end = None;
    let mut gen_start = None;
    let mut gen_end = None;
    let mut memory = None;
    let me = std::process::id();
    let result = run::run(&run_cfg, &mut |moment| match moment {
        Moment::WindowStart => {
            cpu_start = server.cpu_time().ok();
            gen_start = procstat::cpu_time(me).ok();
        }
        Moment::WindowEnd => {
            cpu_end = server.cpu_time().ok();
            gen_end = procstat::cpu_time(me).ok();
            memory = server.memory().ok();
        }
    });
    let stderr = server.stderr_text();
    let stopped = server.stop(STOP_GRACE);
    let result = result.with_context(|| format!("echod --model {model}"))?;
    let summary = RunSummary::new(&run_cfg, &result, Env::capture(None));
    let cpu = match (cpu_start, cpu_end) {
        (Some(a), Some(b)) => b.saturating_sub(a),
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
    let requests = summary.requests.max(1) as f64;
    let window = cfg.duration.as_secs_f64();
    let generator_cpu = match (gen_start, gen_end) {
        (Some(a), Some(b)) => b.saturating_sub(a).as_secs_f64() / window,
        _ => 0.0,
    };
    Ok(Metrics {
        requests_per_sec: summary.throughput.requests_per_sec,
        mb_per_sec: summary.throughput.mb_per_sec,
        latency_us: summary.latency_us,
        spectrum_us: summary.spectrum_us,
        jain_fairness: summary.throughput.jain_fairness,
        requests: summary.requests,
        errors: summary.errors,
        corrupt: summary.corrupt,
        server_cpu_us_per_request: cpu.as_secs_f64() * 1e6 / requests,
        server_cpu_utilisation: cpu.as_secs_f64() / window,
        server_memory: memory.unwrap_or_default(),
        generator_cpu_utilisation: generator_cpu,
        server_exit,
    })
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
