//! `loadgen`: a verifying, coordinated-omission-free load generator for
//! echo servers over TCP, Unix stream sockets and UDP.
//!
//! This file is the binary's edge: it parses the command line, dispatches to
//! one subcommand, and turns the outcome into an exit status. Exit codes:
//! 0 clean, 1 the server misbehaved or something failed at run time, 2 the
//! command line was wrong. Errors are printed on one line, naming the flag,
//! address or file involved.

#![deny(missing_docs)]

mod check;
mod cli;
mod compare;
mod env;
mod hdrlog;
mod interrupt;
mod limit;
mod machine;
mod merge;
mod outputs;
mod payload;
mod procstat;
mod report;
mod run;
mod serve;
mod stats;
mod sweep;
mod talk;
mod target;
mod usage;
mod verify;

use std::io::{self, Write};
use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, Command, UsageError};

const EXIT_FAULT: u8 = 1;
const EXIT_USAGE: u8 = 2;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            // --help and --version: print and succeed.
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            // echod's rendering: `FLAG VALUE: REASON`, values shortened and
            // escaped, so a 100 kB argument stays a short line.
            let argv: Vec<String> = std::env::args_os()
                .map(|a| a.to_string_lossy().into_owned())
                .collect();
            if talk_with_target_flag(&argv) {
                // Every other command takes --target; clap's own tip here
                // ("use -- --target") would send the flag as the address.
                eprintln!(
                    "error: talk --target: talk takes the address without --target: \
                     loadgen talk ADDR (e.g. loadgen talk 127.0.0.1:7007)"
                );
                return ExitCode::from(EXIT_USAGE);
            }
            eprintln!("error: {}", echod::cli::message::one_line(&e, &argv));
            return ExitCode::from(EXIT_USAGE);
        }
    };
    if let Command::Serve(args) = cli.command {
        return serve::serve(args.args);
    }
    // Thousands of connections need thousands of descriptors, and a default
    // soft limit of 1024 would otherwise fail a sweep halfway. Children
    // (a server `loadgen` starts) inherit the limit.
    echod::net::raise_fd_limit();
    let outcome = match cli.command {
        Command::Run(args) => commands::run(args),
        Command::Compare(args) => commands::compare(args),
        Command::Check(args) => commands::check(args),
        Command::Merge(args) => commands::merge(args),
        Command::Talk(args) => commands::talk(args),
        Command::Serve(_) => unreachable!("handled above"),
    };
    match outcome {
        Ok(code) => code,
        Err(e) if is_broken_pipe(&e) => {
            // Piped into `head` or similar: the reader left, nothing to report.
            ExitCode::from(EXIT_FAULT)
        }
        Err(e) => {
            eprintln!("error: {}", one_line(&format!("{e:#}")));
            let usage = e.downcast_ref::<UsageError>().is_some();
            ExitCode::from(if usage { EXIT_USAGE } else { EXIT_FAULT })
        }
    }
}

/// `loadgen talk --target ADDR` (or `--target=ADDR`): the address given
/// the way `run` and `check` take it.
fn talk_with_target_flag(argv: &[String]) -> bool {
    argv.get(1).is_some_and(|c| c == "talk")
        && argv[2..]
            .iter()
            .take_while(|a| *a != "--")
            .any(|a| a == "--target" || a.starts_with("--target="))
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.downcast_ref::<io::Error>()
        .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
}

/// Folds clap's multi-line messages ("error: …\n\n  --flag\n\nUsage: …") into
/// the one line a script can log, dropping the usage hint.
fn one_line(msg: &str) -> String {
    msg.lines()
        .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Writes `text` to stdout, reporting a closed pipe as an error the caller
/// can recognise.
fn print(text: &str) -> io::Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()
}

mod commands {
    //! One function per subcommand: validate, act, report, choose the exit
    //! status.

    use std::path::Path;
    use std::process::ExitCode;
    use std::time::Duration;

    use anyhow::Context;

    use super::{print, EXIT_FAULT};
    use crate::cli::{CheckArgs, CompareArgs, MergeArgs, RunArgs, TalkArgs};
    use crate::env::Env;
    use crate::interrupt::Interrupt;
    use crate::machine::{MachineLoad, Sample, Span};
    use crate::report::summary::RunSummary;
    use crate::report::{self, table};
    use crate::run::{self, Load, Moment, RunError};
    use crate::sweep::CompareReport;
    use crate::usage::{Meter, MeterError};

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
        if c.requests == 0
            && c.connection_errors >= u64::from(cfg.connections)
            && !result.interrupted
        {
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

    pub fn check(args: CheckArgs) -> anyhow::Result<ExitCode> {
        crate::check::check(&args.validate()?)
    }

    pub fn merge(args: MergeArgs) -> anyhow::Result<ExitCode> {
        crate::merge::merge(args.validate()?)
    }

    pub fn talk(args: TalkArgs) -> anyhow::Result<ExitCode> {
        crate::talk::talk(&args.validate()?)
    }
}
