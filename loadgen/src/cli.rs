//! The command line: parsed by clap into raw arguments, then validated once
//! into the configurations the rest of the program uses. Nothing past this
//! file sees a raw string.
//!
//! Every validation failure is a [`UsageError`] whose message names the flag
//! and the offending value; `main` prints it on one line and exits 2.

use std::ffi::OsString;
use std::fmt;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::payload::{MAX_SIZE, MIN_SIZE};
use crate::run::{Load, RunConfig};

/// A command line that cannot be acted on. `main` exits 2 for these.
#[derive(Debug)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

fn usage(msg: impl Into<String>) -> UsageError {
    UsageError(msg.into())
}

/// A verifying, coordinated-omission-free load generator for TCP echo servers.
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
    /// Drive load against one echo server and report latency, throughput and faults.
    Run(RunArgs),
    /// Run each echod model in a child process over a sweep of connection counts and write a report.
    Compare(CompareArgs),
    /// Check that a server is a correct echo server before trusting its numbers.
    Check(CheckArgs),
    /// Combine --hdr-log files from several generator processes or machines.
    Merge(MergeArgs),
    /// Run the echod daemon in this process (used by `compare` and the tests).
    #[command(hide = true)]
    Serve(ServeArgs),
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s).map_err(|e| format!("{e} (try e.g. 5s or 500ms)"))
}

/// `loadgen run` as typed.
#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    /// Address of the echo server, e.g. 127.0.0.1:7007 (required).
    #[arg(long, value_name = "ADDR")]
    pub target: String,
    /// Connections in total.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub connections: u32,
    /// Bytes per request (at least 24: the header carrying connection and sequence).
    #[arg(long, value_name = "BYTES", default_value_t = 512)]
    pub size: u64,
    /// Length of the measurement window, e.g. 10s.
    #[arg(long, value_name = "DUR", default_value = "5s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Closed loop: requests in flight per connection (1 = ping-pong). Ignored with --rate.
    #[arg(long, value_name = "D", default_value_t = 1)]
    pub depth: u32,
    /// Open loop: total requests per second, sent on schedule whether or not replies arrive
    /// [default: none, i.e. closed loop].
    #[arg(long, value_name = "R", allow_negative_numbers = true)]
    pub rate: Option<f64>,
    /// Traffic before measuring that is not counted.
    #[arg(long, value_name = "DUR", default_value = "1s", value_parser = parse_duration)]
    pub warmup: Duration,
    /// Event loops (threads) to spread the connections over.
    #[arg(long, value_name = "T", default_value_t = 1)]
    pub threads: u32,
    /// Write the result as JSON to PATH [default: none].
    #[arg(long, value_name = "PATH")]
    pub json: Option<PathBuf>,
    /// Write an HdrHistogram interval log (HistogramLogAnalyzer format) to PATH [default: none].
    #[arg(long, value_name = "PATH")]
    pub hdr_log: Option<PathBuf>,
    /// Length of one --hdr-log interval.
    #[arg(long, value_name = "DUR", default_value = "1s", value_parser = parse_duration)]
    pub hdr_interval: Duration,
    /// No progress display and no report on stdout (only warnings and errors).
    #[arg(long)]
    pub quiet: bool,
}

/// Where a run's results go besides stdout.
#[derive(Clone, Debug, Default)]
pub struct Outputs {
    /// `--json`.
    pub json: Option<PathBuf>,
    /// `--hdr-log`.
    pub hdr_log: Option<PathBuf>,
    /// `--quiet`.
    pub quiet: bool,
}

/// Resolves `value` of `flag` to one socket address.
pub fn resolve(flag: &str, value: &str) -> Result<SocketAddr, UsageError> {
    let mut addrs = value.to_socket_addrs().map_err(|e| {
        usage(format!(
            "{flag} {value}: not a reachable address ({e}); expected HOST:PORT"
        ))
    })?;
    addrs
        .next()
        .ok_or_else(|| usage(format!("{flag} {value}: resolves to no address")))
}

/// Checks a request size.
pub fn check_size(size: u64) -> Result<usize, UsageError> {
    if size < MIN_SIZE as u64 || size > MAX_SIZE as u64 {
        return Err(usage(format!(
            "--size {size}: must be between {MIN_SIZE} (the request header) and {MAX_SIZE} bytes"
        )));
    }
    Ok(size as usize)
}

fn positive(flag: &str, v: u32) -> Result<u32, UsageError> {
    if v == 0 {
        return Err(usage(format!("{flag} 0: must be at least 1")));
    }
    Ok(v)
}

impl RunArgs {
    /// Validates the arguments into a run configuration and its outputs.
    pub fn validate(self) -> Result<(RunConfig, Outputs), UsageError> {
        let target = resolve("--target", &self.target)?;
        let connections = positive("--connections", self.connections)?;
        let threads = positive("--threads", self.threads)?;
        if threads > connections {
            return Err(usage(format!(
                "--threads {threads}: more threads than --connections {connections}"
            )));
        }
        let size = check_size(self.size)?;
        if self.duration.is_zero() {
            return Err(usage("--duration 0s: must be longer than zero"));
        }
        if self.hdr_interval < Duration::from_millis(1) {
            return Err(usage("--hdr-interval: must be at least 1ms"));
        }
        let load = match self.rate {
            Some(r) if !(r.is_finite() && r > 0.0) => {
                return Err(usage(format!(
                    "--rate {r}: must be a positive number of requests per second"
                )))
            }
            Some(rate) => Load::Open { rate },
            None => Load::Closed {
                depth: positive("--depth", self.depth)?,
            },
        };
        let cfg = RunConfig {
            target,
            connections,
            size,
            load,
            duration: self.duration,
            warmup: self.warmup,
            threads,
            interval: self.hdr_log.is_some().then_some(self.hdr_interval),
            progress: !self.quiet,
        };
        Ok((
            cfg,
            Outputs {
                json: self.json,
                hdr_log: self.hdr_log,
                quiet: self.quiet,
            },
        ))
    }
}

/// `loadgen compare` as typed.
#[derive(Args, Debug, Clone)]
pub struct CompareArgs {
    /// echod models to compare, comma-separated (reactor, threads, iterative).
    #[arg(
        long,
        value_name = "LIST",
        value_delimiter = ',',
        default_value = "reactor,threads,iterative"
    )]
    pub models: Vec<String>,
    /// Connection counts to sweep, comma-separated. The iterative model serves one
    /// client at a time, so it only runs at 1 and is reported "n/a" elsewhere.
    #[arg(
        long,
        value_name = "LIST",
        value_delimiter = ',',
        default_value = "1,10,100,1000"
    )]
    pub connections: Vec<u32>,
    /// Bytes per request.
    #[arg(long, value_name = "BYTES", default_value_t = 512)]
    pub size: u64,
    /// Requests in flight per connection.
    #[arg(long, value_name = "D", default_value_t = 1)]
    pub depth: u32,
    /// Measurement window of each point.
    #[arg(long, value_name = "DUR", default_value = "5s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Uncounted warm-up before each point.
    #[arg(long, value_name = "DUR", default_value = "1s", value_parser = parse_duration)]
    pub warmup: Duration,
    /// Generator event loops.
    #[arg(long, value_name = "T", default_value_t = 1)]
    pub threads: u32,
    /// Directory for results.json, report.md and the SVG plots.
    #[arg(long, value_name = "DIR", default_value = "report")]
    pub out: PathBuf,
    /// Do not pin the server and the generator to different CPUs.
    #[arg(long)]
    pub no_pin: bool,
    /// No progress display.
    #[arg(long)]
    pub quiet: bool,
}

/// The echod models `compare` knows how to start.
pub const MODELS: [&str; 3] = ["reactor", "threads", "iterative"];

/// A validated `loadgen compare` configuration.
#[derive(Clone, Debug)]
pub struct CompareConfig {
    /// Models, in the order given.
    pub models: Vec<String>,
    /// Connection counts, in the order given.
    pub connections: Vec<u32>,
    /// Bytes per request.
    pub size: usize,
    /// Requests in flight per connection.
    pub depth: u32,
    /// Measurement window of each point.
    pub duration: Duration,
    /// Warm-up of each point.
    pub warmup: Duration,
    /// Generator threads.
    pub threads: u32,
    /// Output directory.
    pub out: PathBuf,
    /// Pin server and generator apart when there are CPUs enough.
    pub pin: bool,
    /// Show progress.
    pub progress: bool,
}

impl CompareArgs {
    /// Validates the arguments.
    pub fn validate(self) -> Result<CompareConfig, UsageError> {
        for m in &self.models {
            if !MODELS.contains(&m.as_str()) {
                return Err(usage(format!(
                    "--models {m}: unknown model; expected one of {}",
                    MODELS.join(", ")
                )));
            }
        }
        if self.models.is_empty() || self.connections.is_empty() {
            return Err(usage(
                "--models and --connections need at least one value each",
            ));
        }
        for &c in &self.connections {
            positive("--connections", c)?;
        }
        if self.duration.is_zero() {
            return Err(usage("--duration 0s: must be longer than zero"));
        }
        Ok(CompareConfig {
            models: self.models,
            connections: self.connections,
            size: check_size(self.size)?,
            depth: positive("--depth", self.depth)?,
            duration: self.duration,
            warmup: self.warmup,
            threads: positive("--threads", self.threads)?,
            out: self.out,
            pin: !self.no_pin,
            progress: !self.quiet,
        })
    }
}

/// `loadgen check` as typed.
#[derive(Args, Debug, Clone)]
pub struct CheckArgs {
    /// Address of the echo server, e.g. 127.0.0.1:7007 (required).
    #[arg(long, value_name = "ADDR")]
    pub target: String,
    /// Time limit of each check; a check still running then fails.
    #[arg(long, value_name = "DUR", default_value = "10s", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Connections opened at once by the concurrency check.
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub connections: u32,
}

/// `loadgen merge` as typed.
#[derive(Args, Debug, Clone)]
pub struct MergeArgs {
    /// Interval logs written by `loadgen run --hdr-log` (or any HdrHistogram tool).
    #[arg(value_name = "HLOG", required = true)]
    pub logs: Vec<PathBuf>,
    /// Also write the combined interval log to PATH [default: none].
    #[arg(long, value_name = "PATH")]
    pub out: Option<PathBuf>,
    /// Write the combined summary as JSON to PATH [default: none].
    #[arg(long, value_name = "PATH")]
    pub json: Option<PathBuf>,
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
    use super::*;

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
