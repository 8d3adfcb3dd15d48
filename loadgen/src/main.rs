//! `loadgen`: a verifying, coordinated-omission-free load generator for
//! echo servers over TCP, Unix stream sockets and UDP.
//!
//! This file is the binary's edge: it parses the command line, dispatches to
//! one subcommand, and turns the outcome into an exit status. Exit codes:
//! 0 clean, 1 the server misbehaved or something failed at run time, 2 the
//! command line was wrong. Errors are printed on one line, naming the flag,
//! address or file involved.

#![deny(missing_docs)]

use std::io;
use std::process::ExitCode;

use clap::Parser;

use loadgen::cli::Cli;
use loadgen::commands::{dispatch, EXIT_FAULT, EXIT_USAGE};
use loadgen::usage_error::UsageError;

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
    let outcome = dispatch(cli.command);
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
