//! The command line: parsed by clap into raw arguments, then validated once
//! into the configurations the rest of the program uses. Nothing past this
//! module sees a raw string.
//!
//! One file per subcommand's flags ([`run`], [`compare`], [`check`],
//! [`merge`], [`diff`], [`talk`]); [`values`] holds the parsers and checks they
//! share. This file only assembles them.
//!
//! Every validation failure is a [`crate::usage_error::UsageError`] whose
//! message names the flag and the offending value; `main` prints it on one
//! line and exits 2.

pub mod check;
pub mod compare;
pub mod diff;
pub mod merge;
pub mod run;
pub mod talk;
pub mod values;

use std::ffi::OsString;

use clap::{Args, Parser, Subcommand};

pub use check::{CheckArgs, CheckConfig};
pub use compare::{CompareArgs, CompareConfig};
pub use diff::DiffArgs;
pub use merge::MergeArgs;
pub use run::RunArgs;
pub use talk::{TalkArgs, TalkConfig, TalkTarget};

/// A verifying, coordinated-omission-free load generator for echo servers over TCP, Unix
/// stream sockets and UDP.
#[derive(Parser, Debug)]
#[command(name = "loadgen", version, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Drive load against one echo server (closed loop, open loop or --flood) and report
    /// latency or echoed MB/s, throughput and faults.
    Run(RunArgs),
    /// Run each echod model in a child process over a sweep of connection counts (closed loop
    /// and saturation) and write a report.
    Compare(CompareArgs),
    /// Check that a server is a correct echo server before trusting its numbers.
    Check(CheckArgs),
    /// Combine --hdr-log files from several generator processes or machines.
    Merge(MergeArgs),
    /// Did a change help? Compare two results (compare's results.json, or run --json), or two
    /// entries of one compare, point by point: faster, slower or no clear difference, judged
    /// from the rounds' spread (two entries: their paired rounds).
    #[command(after_long_help = diff::RULE)]
    Diff(DiffArgs),
    /// Talk to a server: send standard input, print what comes back, exit at the end of input.
    Talk(TalkArgs),
    /// Run the echod daemon in this process (used by `compare` and the tests).
    #[command(hide = true)]
    Serve(ServeArgs),
}

/// `loadgen serve` as typed: everything after it goes to echod untouched.
#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// Arguments for echod, e.g. `-- --model reactor --listen 127.0.0.1:0`.
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "ECHOD_ARGS"
    )]
    pub args: Vec<OsString>,
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::outputs::Outputs;
    use crate::run::{Load, RunConfig, DEFAULT_LOSS_TIMEOUT};
    use crate::target::Target;

    fn run_args(extra: &[&str]) -> Result<(RunConfig, Outputs), String> {
        let mut argv = vec!["loadgen", "run", "--target", "127.0.0.1:7"];
        argv.extend_from_slice(extra);
        let cli = Cli::try_parse_from(argv).map_err(|e| e.to_string())?;
        match cli.command {
            Command::Run(r) => r.validate().map_err(|e| e.0),
            _ => unreachable!(),
        }
    }

    #[test]
    fn defaults_are_a_closed_loop_ping_pong() {
        let (cfg, out) = run_args(&[]).unwrap();
        assert_eq!(cfg.load, Load::Closed { depth: 1 });
        assert_eq!((cfg.connections, cfg.size, cfg.threads), (1, 512, 1));
        assert_eq!(cfg.duration, Duration::from_secs(5));
        assert!(out.json.is_none() && !out.quiet);
    }

    #[test]
    fn rate_selects_the_open_loop() {
        let (cfg, _) = run_args(&["--rate", "2500", "--duration", "500ms"]).unwrap();
        assert_eq!(cfg.load, Load::Open { rate: 2500.0 });
        assert_eq!(cfg.duration, Duration::from_millis(500));
    }

    fn run_target(target: &str, extra: &[&str]) -> Result<RunConfig, String> {
        let mut argv = vec!["loadgen", "run", "--target", target];
        argv.extend_from_slice(extra);
        let cli = Cli::try_parse_from(argv).map_err(|e| e.to_string())?;
        match cli.command {
            Command::Run(r) => r.validate().map(|(c, _)| c).map_err(|e| e.0),
            _ => unreachable!(),
        }
    }

    #[test]
    fn udp_targets_resolve_and_carry_a_loss_timeout() {
        let cfg = run_target("udp:localhost:7", &[]).unwrap();
        assert!(matches!(cfg.target, Target::Udp(a) if a.port() == 7 && a.ip().is_loopback()));
        assert_eq!(
            cfg.target.to_string(),
            format!(
                "udp:{}",
                match cfg.target {
                    Target::Udp(a) => a,
                    _ => unreachable!(),
                }
            )
        );
        assert_eq!(cfg.loss_timeout, Some(DEFAULT_LOSS_TIMEOUT));
        let cfg = run_target("udp:127.0.0.1:7", &["--loss-timeout", "20ms"]).unwrap();
        assert_eq!(cfg.loss_timeout, Some(Duration::from_millis(20)));
        // The largest datagram is allowed, one byte more is not.
        assert!(run_target("udp:127.0.0.1:7", &["--size", "65507"]).is_ok());
        let err = run_target("udp:127.0.0.1:7", &["--size", "65508"]).unwrap_err();
        assert!(
            err.contains("--size 65508") && err.contains("65507"),
            "{err}"
        );
        assert!(run_target("udp:[::1]:7", &["--size", "65527"]).is_ok());
        // Stream targets take no loss timeout, and keep their full range.
        let err = run_target("127.0.0.1:7", &["--loss-timeout", "1s"]).unwrap_err();
        assert!(err.contains("--loss-timeout"), "{err}");
        assert_eq!(run_target("127.0.0.1:7", &[]).unwrap().loss_timeout, None);
        assert!(run_target("127.0.0.1:7", &["--size", "1M"]).is_ok());
        let err = run_target("udp:127.0.0.1", &[]).unwrap_err();
        assert!(
            err.contains("missing :PORT") && err.contains("udp:HOST:PORT"),
            "{err}"
        );
    }

    #[test]
    fn compare_keeps_its_own_defaults_for_the_shared_flags() {
        let out = std::env::temp_dir();
        let argv = ["loadgen", "compare", "--out", out.to_str().unwrap()];
        let Command::Compare(args) = Cli::try_parse_from(argv).unwrap().command else {
            unreachable!()
        };
        let cfg = args.validate().unwrap();
        assert_eq!((cfg.size, cfg.depth, cfg.threads), (512, 1, 1));
        assert_eq!(
            (cfg.window, cfg.duration),
            (1 << 20, Duration::from_secs(2))
        );
        assert_eq!(cfg.warmup, Duration::from_secs(1));
        assert_eq!(cfg.drain_timeout, Duration::from_secs(3));
    }

    #[test]
    fn bad_values_name_their_flag() {
        for (args, flag) in [
            (&["--size", "8"][..], "--size 8"),
            (&["--rate", "0"][..], "--rate 0"),
            (&["--connections", "0"][..], "--connections 0"),
            (&["--threads", "3"][..], "--threads 3"),
            (&["--duration", "5x"][..], "--duration"),
        ] {
            let err = run_args(args).unwrap_err();
            assert!(err.contains(flag), "{args:?}: {err}");
        }
    }
}
