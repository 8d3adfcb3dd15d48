//! One function per subcommand: validate, act, report, choose the exit
//! status. `main` parses the command line and hands the subcommand to
//! [`dispatch`]; everything below this module is reached from here.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;

use crate::cli::{CheckArgs, Command, CompareArgs, DiffArgs, MergeArgs, RunArgs, TalkArgs};
use crate::env::Env;
use crate::interrupt::Interrupt;
use crate::machine::{MachineLoad, Sample, Span};
use crate::outputs::print;
use crate::report::summary::RunSummary;
use crate::report::{self, table};
use crate::run::{self, Load, Moment, RunError};
use crate::sweep::CompareReport;
use crate::usage::{Meter, MeterError};

/// Exit status of a run that found a fault or failed at run time.
pub const EXIT_FAULT: u8 = 1;
/// Exit status of a command line that cannot be acted on (a
/// [`crate::usage_error::UsageError`]).
pub const EXIT_USAGE: u8 = 2;

/// Runs one subcommand to its exit status.
pub fn dispatch(command: Command) -> anyhow::Result<ExitCode> {
    // `serve` is echod, which sets up its own process. The others may
    // open thousands of connections, and a default soft limit of 1024
    // would fail a sweep halfway; children (a server `loadgen` starts)
    // inherit the limit.
    if !matches!(command, Command::Serve(_)) {
        echod::net::raise_fd_limit();
    }
    match command {
        Command::Run(args) => run(args),
        Command::Compare(args) => compare(args),
        Command::Check(args) => check(args),
        Command::Merge(args) => merge(args),
        Command::Diff(args) => diff(args),
        Command::Talk(args) => talk(args),
        Command::Serve(args) => Ok(crate::serve::serve(args.args)),
    }
}

/// `loadgen run`.
pub fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let (cfg, out) = args.validate()?;
    if cfg.target.is_datagram() {
        // UDP has no handshake to fail: ask once, as TCP's connect
        // would, rather than report every socket's refusal as a fault.
        crate::check::datagram::probe(&cfg.target, std::time::Duration::from_secs(1))
            .map_err(|e| anyhow::anyhow!("cannot connect to {}: {e}", cfg.target))?;
    }
    let stop = Interrupt::install().context("installing signal handlers")?;
    let mut meter = Meter::new(cfg.server_pid);
    // The machine around the window, as compare samples it around a
    // sweep: the report names a busy machine as the cause it likely is.
    let mut machine_samples: (Option<Sample>, Option<Sample>) = (None, None);
    let on_moment = &mut |m| {
        meter.on_moment(m);
        match m {
            Moment::WindowStart => machine_samples.0 = Some(Sample::now()),
            Moment::WindowEnd => machine_samples.1 = Some(Sample::now()),
        }
    };
    let result = match run::run(&cfg, on_moment, &stop) {
        Ok(r) => r,
        Err(RunError::Interrupted) => {
            eprintln!(
                "{} before the measurement began: nothing measured, nothing written",
                stop.signal_name()
            );
            return Ok(ExitCode::from(stop.exit_status()));
        }
        Err(e) => return Err(e.into()),
    };
    let c = &result.m.counters;
    if c.requests == 0 && c.connection_errors >= u64::from(cfg.connections) && !result.interrupted {
        // Every connection died before a single reply: a table of zeros
        // would bury the one fact that matters.
        anyhow::bail!(
            "{}: all {} connection(s) failed before any reply was counted; first: {}",
            cfg.target,
            cfg.connections,
            result
                .m
                .errors
                .first()
                .map_or("(no detail)", String::as_str)
        );
    }
    let usage = match meter.finish() {
        Ok(u) => Some(u),
        // The window never opened: nothing was measured to set the CPU
        // against (the report says so).
        Err(MeterError::NoWindow) => None,
        Err(e @ MeterError::Server(_)) => {
            let pid = cfg.server_pid.unwrap_or_default();
            anyhow::bail!("--server-pid {pid}: {e}; did the server exit during the run?")
        }
    };
    let env = Env::capture(None);
    let machine_load = match machine_samples {
        (Some(before), Some(after)) => {
            let server = usage.as_ref().and_then(|u| u.server.as_ref());
            let span = Span {
                name: "the window",
                ours_too: Duration::from_secs_f64(server.map_or(0.0, |s| s.cpu_seconds)),
                others_note: if server.is_some() {
                    ""
                } else {
                    " (the server among them if it runs here: --server-pid counts it apart)"
                },
            };
            Some(MachineLoad::over(before, after, env.cpu_count, span))
        }
        _ => None,
    };
    let summary = RunSummary::new(&cfg, &result, env, usage.as_ref(), machine_load);
    if !out.quiet {
        print(&summary.render())?;
    }
    for w in summary.warnings() {
        eprintln!("{w}");
    }
    if let Some(path) = &out.json {
        crate::report::json::write(path, &summary)?;
    }
    if let Some(path) = &out.hdr_log {
        let open = matches!(cfg.load, Load::Open { .. });
        // udp: the log's percentiles miss the lost requests; say so.
        let notes: Vec<String> = summary
            .datagrams
            .iter()
            .map(|d| format!("Datagrams: {}", d.line()))
            .collect();
        crate::hdrlog::write_noted(path, result.window_start, result.intervals(), open, &notes)
            .with_context(|| "--hdr-log")?;
    }
    if let Some(path) = &out.plot {
        write_run_plot(path, &summary).with_context(|| format!("--plot {}", path.display()))?;
    }
    if !summary.clean && out.quiet {
        for e in &summary.error_messages {
            eprintln!("fault: {e}");
        }
    }
    Ok(if result.interrupted {
        ExitCode::from(stop.exit_status())
    } else if summary.nothing_measured() {
        // As when every connection fails before a reply: a run that
        // measured nothing did not succeed.
        ExitCode::from(EXIT_FAULT)
    } else if summary.clean {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_FAULT)
    })
}

/// `run --plot`: the timeline, titled with what ran, a stall named beside it.
fn write_run_plot(path: &Path, summary: &RunSummary) -> std::io::Result<()> {
    let c = &summary.config;
    let title = format!(
        "Timeline: {} connection(s) x {} B to {}",
        c.connections, c.size, c.target
    );
    let stall = report::timeline::slowest_of(&summary.timeline)
        .filter(|s| s.stalled())
        .map(|s| {
            let p = &summary.timeline[s.index];
            format!("stall: {}", report::timeline::span_text(p))
        });
    let notes: Vec<&str> = stall.iter().map(String::as_str).collect();
    report::plot::write_run_timeline(
        path,
        &title,
        &c.target.to_string(),
        &summary.timeline,
        &notes,
    )
}

/// `loadgen compare`.
pub fn compare(args: CompareArgs) -> anyhow::Result<ExitCode> {
    let cfg = args.validate()?;
    let stop = Interrupt::install().context("installing signal handlers")?;
    let report = crate::compare::compare(&cfg, &stop, &mut |p| {
        eprintln!("{}", table::progress_line(p));
    })?;
    print(&table::render(&report))?;
    write_compare(&cfg.out, &report)?;
    println!(
        "report written to {}/ (results.json, report.md{})",
        cfg.out.display(),
        if report.points.iter().any(|p| p.summary().is_some())
            || report.saturation.iter().any(|p| p.summary().is_some())
            || report.open_loop.rows().any(|p| p.summary().is_some())
        {
            ", *.svg"
        } else {
            "; no plots: nothing was measured"
        }
    );
    Ok(crate::compare::exit_status(&report, &stop))
}

/// Replaces an earlier compare's files in `dir` with this one's.
fn write_compare(dir: &Path, r: &CompareReport) -> anyhow::Result<()> {
    crate::outputs::clear_ours(dir).with_context(|| format!("--out {}", dir.display()))?;
    report::json::write(&dir.join("results.json"), r)?;
    let plots = report::plot::write_all(dir, r)
        .with_context(|| format!("plotting into {}", dir.display()))?;
    let md = report::markdown::render(r, &plots);
    let path = dir.join("report.md");
    std::fs::write(&path, md).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// `loadgen check`.
pub fn check(args: CheckArgs) -> anyhow::Result<ExitCode> {
    crate::check::check(&args.validate()?)
}

/// `loadgen merge`.
pub fn merge(args: MergeArgs) -> anyhow::Result<ExitCode> {
    crate::merge::merge(args.validate()?)
}

/// `loadgen diff`.
pub fn diff(args: DiffArgs) -> anyhow::Result<ExitCode> {
    crate::diff::diff(&args.validate()?)
}

/// `loadgen talk`.
pub fn talk(args: TalkArgs) -> anyhow::Result<ExitCode> {
    crate::talk::talk(&args.validate()?)
}
