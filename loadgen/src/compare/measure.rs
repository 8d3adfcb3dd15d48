//! One round of one point: a fresh server (an echod model or a `--server`
//! command; a `--target` is only connected to), one `run` against it, and
//! the figures of both sides: the generator's result, the server's CPU
//! over exactly the window, its memory at the window's end.

use std::time::Duration;

use crate::cli::compare::Entry;
use crate::cli::CompareConfig;
use crate::interrupt::Interrupt;
use crate::limit;
use crate::procstat::{Memory, Reading};
use crate::report::summary::GENERATOR_LAG_LIMIT;
use crate::run::result::RunResult;
use crate::run::series;
use crate::run::{self, Load, Moment, RunConfig, RunError};
use crate::serve::ServerProcess;
use crate::stats::{self, Percentiles};
use crate::sweep::{self, FloodMetrics, Metrics, RateMetrics, NOT_STARTED};
use crate::target::Target;
use crate::usage::{Meter, MeterError, ServerUsage};

use super::FLOOD_SIZE;

/// Grace period for a server to drain and exit after SIGTERM.
pub(super) const STOP_GRACE: Duration = Duration::from_secs(5);

/// What one round against a fresh server gave, before it is turned into a
/// point's figures.
struct Driven {
    result: RunResult,
    /// The server's CPU over the window; None for a `--target`.
    server: Option<ServerUsage>,
    /// The generator's own, as a fraction of one CPU.
    generator_cpu: f64,
    memory: Memory,
    server_exit: String,
}

/// Starts a fresh `model` server, drives `load` over `conns` connections
/// at it and samples its CPU and memory around the window. `Ok(None)`:
/// interrupted before anything was measured.
fn drive(
    cfg: &CompareConfig,
    model: &str,
    conns: u32,
    size: usize,
    load: Load,
    cpus: Option<Vec<usize>>,
    stop: &Interrupt,
) -> anyhow::Result<Option<Driven>> {
    // Its error names the model; the sweep tells a model that cannot
    // start here (SpawnError::NotStarted) from a failed round by it.
    let (server, target, label) = match cfg.entry(model) {
        Entry::Model => {
            let server = ServerProcess::spawn(model, cpus)?;
            let addr = Target::Tcp(server.addr);
            (Some(server), addr, format!("echod --model {model}"))
        }
        Entry::Server(spec) => {
            let server = ServerProcess::spawn_command(spec, cpus, cfg.server_wait)?;
            let addr = Target::Tcp(server.addr);
            (Some(server), addr, format!("--server {model}"))
        }
        Entry::Target(t) => (None, t.target.clone(), format!("--target {model}")),
    };
    let pid = server.as_ref().map(ServerProcess::pid);
    let run_cfg = RunConfig {
        target,
        connections: conns,
        size,
        load,
        duration: cfg.duration,
        warmup: cfg.warmup,
        threads: cfg.threads.min(conns),
        drain_timeout: cfg.drain_timeout,
        loss_timeout: None,
        // The timeline's seconds (see `run::series`).
        interval: Some(Duration::from_secs(1)),
        progress: cfg.progress,
        server_pid: pid,
    };
    let mut meter = Meter::new(pid);
    let mut memory = None;
    let result = run::run(
        &run_cfg,
        &mut |moment| {
            meter.on_moment(moment);
            if moment == Moment::WindowEnd {
                memory = server.as_ref().map(ServerProcess::memory);
            }
        },
        stop,
    );
    let stderr = server.as_ref().map(ServerProcess::stderr_text);
    let stderr = stderr.unwrap_or_default();
    let stopped = server.map(|s| s.stop(STOP_GRACE));
    let result = match result {
        Ok(r) => r,
        Err(RunError::Interrupted) => return Ok(None),
        Err(e) => return Err(anyhow::anyhow!("{label}: {e}")),
    };
    if result.interrupted && result.window.is_zero() {
        return Ok(None);
    }
    // A zero here would pass for an idle server or generator and hide a
    // generator-bound round, so a failed reading fails the round.
    let usage = match meter.finish() {
        Ok(u) => u,
        Err(MeterError::NoWindow) => {
            anyhow::bail!("{label} exited during the run: {}", stderr.trim())
        }
        Err(e) => anyhow::bail!(
            "{label}: {e}; did it exit during the run? {}",
            stderr.trim()
        ),
    };
    let server_exit = match stopped {
        None => NOT_STARTED.to_string(),
        Some(Ok(s)) if s.killed => format!("killed after ignoring SIGTERM for {STOP_GRACE:?}"),
        Some(Ok(s)) => s.status.to_string(),
        Some(Err(e)) => format!("could not be stopped: {e}"),
    };
    Ok(Some(Driven {
        result,
        server: usage.server,
        generator_cpu: usage.generator_cpu_utilisation,
        memory: match memory {
            _ if pid.is_none() => Memory::unavailable(NOT_STARTED),
            Some(Ok(m)) => m,
            Some(Err(e)) => Memory::unavailable(&e.to_string()),
            None => Memory::unavailable("the window never ended"),
        },
        server_exit,
    }))
}

/// The CPU figures of a server loadgen did not start: NaN, never 0.
fn unmeasured() -> ServerUsage {
    ServerUsage {
        pid: 0,
        cpu_utilisation: f64::NAN,
        busiest_thread_utilisation: Reading::unavailable(NOT_STARTED),
        cpus: 0,
        cpu_seconds: f64::NAN,
    }
}

/// One closed-loop round: `conns` connections at `--depth` each, the
/// generator on `gen_cpus` CPUs (0 = unknown).
pub(super) fn measure(
    cfg: &CompareConfig,
    model: &str,
    conns: u32,
    cpus: Option<Vec<usize>>,
    gen_cpus: usize,
    stop: &Interrupt,
) -> anyhow::Result<Option<Metrics>> {
    let load = Load::Closed { depth: cfg.depth };
    let Some(d) = drive(cfg, model, conns, cfg.size, load, cpus, stop)? else {
        return Ok(None);
    };
    // A --target's CPU is not measured: NaN, shown as n/a (see sweep.rs).
    let server = d.server.unwrap_or_else(unmeasured);
    let m = &d.result.m;
    let requests = m.counters.requests;
    let rps = d.result.requests_per_sec();
    let generator_cpu = d.generator_cpu;
    let per_conn: Vec<f64> = m.per_conn.iter().map(|&n| n as f64).collect();
    Ok(Some(Metrics {
        requests_per_sec: rps,
        mb_per_sec: rps * cfg.size as f64 / 1e6,
        latency_us: Percentiles::of(&m.corrected),
        jain_fairness: stats::jain_index(&per_conn),
        requests,
        errors: m.counters.errors_total(),
        corrupt: m.counters.corrupt_total(),
        server_cpu_us_per_request: server.cpu_seconds * 1e6 / requests.max(1) as f64,
        server_cpu_utilisation: server.cpu_utilisation,
        server_memory: d.memory,
        generator_cpu_utilisation: generator_cpu,
        generator_bound: sweep::generator_bound(
            generator_cpu,
            server.cpu_utilisation,
            cfg.threads.min(conns),
            gen_cpus,
        ),
        server_exit: d.server_exit,
        interrupted: d.result.interrupted,
        histogram: m.corrected.clone(),
        timeline: series::series(&d.result, cfg.size, false),
    }))
}

/// One saturation round: `conns` connections flooding with `--window`.
pub(super) fn measure_flood(
    cfg: &CompareConfig,
    model: &str,
    conns: u32,
    cpus: Option<Vec<usize>>,
    stop: &Interrupt,
) -> anyhow::Result<Option<FloodMetrics>> {
    let load = Load::Flood { window: cfg.window };
    let Some(d) = drive(cfg, model, conns, FLOOD_SIZE, load, cpus, stop)? else {
        return Ok(None);
    };
    let limit = limit::limit(d.server.as_ref());
    let server = d.server.unwrap_or_else(unmeasured);
    let m = &d.result.m;
    let echoed = m.echoed_bytes;
    Ok(Some(FloodMetrics {
        echoed_bytes: echoed,
        mb_per_sec: d.result.echoed_bytes_per_sec() / 1e6,
        // NaN stays NaN (f64::max would make it 1e-9).
        mb_per_server_cpu_second: echoed as f64 / 1e6 / server.cpu_seconds.clamp(1e-9, f64::MAX),
        server_cpu_utilisation: server.cpu_utilisation,
        limit,
        busiest_thread_utilisation: server.busiest_thread_utilisation,
        server_cpus: server.cpus,
        generator_cpu_utilisation: d.generator_cpu,
        errors: m.counters.errors_total(),
        corrupt: m.counters.corrupt_total(),
        server_memory: d.memory,
        server_exit: d.server_exit,
        interrupted: d.result.interrupted,
    }))
}

/// One open-loop round: `rate` requests per second over `conns`
/// connections, latency from intended send time.
pub(super) fn measure_rate(
    cfg: &CompareConfig,
    model: &str,
    conns: u32,
    rate: f64,
    cpus: Option<Vec<usize>>,
    stop: &Interrupt,
) -> anyhow::Result<Option<RateMetrics>> {
    let load = Load::Open { rate };
    let Some(d) = drive(cfg, model, conns, cfg.size, load, cpus, stop)? else {
        return Ok(None);
    };
    let server = d.server.unwrap_or_else(unmeasured);
    let m = &d.result.m;
    let requests = m.counters.requests;
    let lag = Percentiles::of(&m.dispatch_lag);
    Ok(Some(RateMetrics {
        offered_per_sec: rate,
        requests_per_sec: d.result.requests_per_sec(),
        latency_us: Percentiles::of(&m.corrected),
        generator_behind: lag.p99 > GENERATOR_LAG_LIMIT.as_secs_f64() * 1e6,
        dispatch_lag_us: lag,
        requests,
        unsent: m.counters.unsent,
        errors: m.counters.errors_total(),
        corrupt: m.counters.corrupt_total(),
        server_cpu_utilisation: server.cpu_utilisation,
        server_cpu_us_per_request: server.cpu_seconds * 1e6 / requests.max(1) as f64,
        server_memory: d.memory,
        generator_cpu_utilisation: d.generator_cpu,
        server_exit: d.server_exit,
        interrupted: d.result.interrupted,
        histogram: m.corrected.clone(),
    }))
}
