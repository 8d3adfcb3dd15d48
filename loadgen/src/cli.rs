//! The command line: parsed by clap into raw arguments, then validated once
//! into the configurations the rest of the program uses. Nothing past this
//! file sees a raw string.
//!
//! Every validation failure is a [`UsageError`] whose message names the flag
//! and the offending value; `main` prints it on one line and exits 2.

use std::ffi::OsString;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::outputs::{check_dir, check_file, Outputs};
use crate::payload::{MAX_SIZE, MIN_SIZE};
use crate::run::datagram::max_datagram;
use crate::run::{Load, RunConfig, DEFAULT_FLOOD_SIZE, DEFAULT_FLOOD_WINDOW, DEFAULT_LOSS_TIMEOUT};
use crate::target::Target;
use crate::usage_error::{shorten, usage, UsageError};

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
    /// Talk to a server: send standard input, print what comes back, exit at the end of input.
    Talk(TalkArgs),
    /// Run the echod daemon in this process (used by `compare` and the tests).
    #[command(hide = true)]
    Serve(ServeArgs),
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s.trim()).map_err(|e| match e {
        humantime::DurationError::NumberOverflow => "longer than the most allowed, 7d".to_string(),
        // humantime's other messages may quote the input; ours must not.
        _ => "not a duration (try e.g. 5s or 500ms)".to_string(),
    })?;
    // Anything longer is a typo, and would overflow `Instant + Duration`.
    if d > MAX_DURATION {
        return Err("longer than the most allowed, 7d".into());
    }
    Ok(d)
}

/// A count for `--connections`, `--depth`, `--threads`, `--rounds`.
fn parse_count(s: &str) -> Result<u32, String> {
    let n = echod::cli::values::parse_count(s)?;
    u32::try_from(n).map_err(|_| format!("must be at most {}", u32::MAX))
}

/// A process id for `--server-pid`: a whole number from 1.
fn parse_pid(s: &str) -> Result<u32, String> {
    match parse_count(s)? {
        0 => Err("not a process id (they start at 1)".into()),
        n => Ok(n),
    }
}

/// The longest duration any flag takes.
const MAX_DURATION: Duration = Duration::from_secs(7 * 24 * 3600);

/// A byte count such as `512`, `1K`, `64KiB` or `16M` (powers of 1024),
/// read exactly as echod reads `--max-buffer`.
fn parse_size(s: &str) -> Result<u64, String> {
    echod::cli::values::parse_bytes(s)
}

/// How each measurement is taken: the flags `run` and `compare` share.
/// The help and defaults here are `run`'s; `compare` words its own
/// (`mut_arg` on [`CompareArgs`]) and fills in its defaults in validation.
///
/// `display_order` keeps `--help` listing the flags where each command
/// always has, among its own: here `run`'s places (its `--rate`, `--flood`
/// and `--server-pid` say theirs), `compare`'s set in its `mut_arg`s.
#[derive(Args, Debug, Clone)]
pub struct MeasureArgs {
    /// Bytes per request (at least 24: the header carrying connection and sequence; with
    /// udp: at most 65507 over IPv4, 65527 over IPv6, one datagram); suffixes K, M
    /// [default: 512; 16K with --flood].
    #[arg(long, display_order = 2, value_name = "BYTES", value_parser = parse_size, allow_hyphen_values = true)]
    pub size: Option<u64>,
    /// Length of the measurement window, e.g. 10s.
    #[arg(long, display_order = 3, value_name = "DUR", default_value = "5s", value_parser = parse_duration, allow_hyphen_values = true)]
    pub duration: Duration,
    /// Closed loop: requests in flight per connection (1 = ping-pong). Ignored with --rate
    /// [default: 1].
    #[arg(long, display_order = 4, value_name = "D", value_parser = parse_count, allow_hyphen_values = true)]
    pub depth: Option<u32>,
    /// --flood only: the most bytes a connection has sent and not yet had echoed, in whole
    /// requests of --size; suffixes K, M [default: 1M].
    #[arg(long, display_order = 7, value_name = "BYTES", value_parser = parse_size, allow_hyphen_values = true)]
    pub window: Option<u64>,
    /// Traffic before measuring that is not counted.
    #[arg(long, display_order = 9, value_name = "DUR", default_value = "1s", value_parser = parse_duration, allow_hyphen_values = true)]
    pub warmup: Duration,
    /// Event loops (threads) to spread the connections over.
    #[arg(
        long,
        display_order = 10,
        value_name = "T",
        default_value_t = 1,
        value_parser = parse_count,
        allow_hyphen_values = true
    )]
    pub threads: u32,
    /// After the window, wait for outstanding replies as long as bytes keep arriving;
    /// count them as truncated (udp: lost) once none has for DUR (the drain never exceeds
    /// 30 s or four windows).
    #[arg(long, display_order = 11, value_name = "DUR", default_value = "3s", value_parser = parse_duration, allow_hyphen_values = true)]
    pub drain_timeout: Duration,
}

impl MeasureArgs {
    /// Refuses a window or a drain of no time at all.
    fn check_times(&self) -> Result<(), UsageError> {
        if self.duration.is_zero() {
            return Err(usage("--duration 0s: must be longer than zero"));
        }
        if self.drain_timeout.is_zero() {
            return Err(usage("--drain-timeout 0s: must be longer than zero"));
        }
        Ok(())
    }
}

/// `loadgen run` as typed.
#[derive(Args, Debug, Clone)]
#[command(after_help = RUN_AFTER_HELP)]
pub struct RunArgs {
    /// The echo server: HOST:PORT (TCP, e.g. 127.0.0.1:7007), unix:PATH (a Unix stream
    /// socket) or udp:HOST:PORT (each request one datagram; see below) (required).
    #[arg(long, value_name = "ADDR")]
    pub target: String,
    /// Connections in total.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 1,
        value_parser = parse_count,
        allow_hyphen_values = true
    )]
    pub connections: u32,
    #[command(flatten)]
    measure: MeasureArgs,
    /// Open loop: total requests per second, sent on schedule whether or not replies arrive;
    /// fractions are honoured (0.5 = one request every 2 s) [default: none, i.e. closed loop].
    #[arg(
        long,
        display_order = 5,
        value_name = "R",
        allow_negative_numbers = true
    )]
    pub rate: Option<f64>,
    /// Saturation: every connection writes as fast as the server takes bytes, keeping at most
    /// --window bytes unechoed, and every echoed byte is verified. Reports echoed MB/s, not
    /// latency (see below). Not with --rate, --depth, --hdr-log or a udp: target.
    #[arg(long, display_order = 6)]
    pub flood: bool,
    /// The server's process id: report its CPU over the window (all threads, and the busiest
    /// thread on Linux), CPU per request, or with --flood MB echoed per server CPU-second and
    /// whether the server or the generator was the limit [default: none].
    #[arg(long, display_order = 8, value_name = "PID", value_parser = parse_pid, allow_hyphen_values = true)]
    pub server_pid: Option<u32>,
    /// udp: only. A request with no reply after DUR is counted lost (no latency sample);
    /// in closed loop its slot is reused at once. A reply that comes later is counted late
    /// [default: 1s].
    #[arg(long, value_name = "DUR", value_parser = parse_duration, allow_hyphen_values = true)]
    pub loss_timeout: Option<Duration>,
    /// Write the result as JSON to PATH (checked before the run starts) [default: none].
    #[arg(long, value_name = "PATH")]
    pub json: Option<PathBuf>,
    /// Write an HdrHistogram interval log (HistogramLogAnalyzer format) to PATH (checked
    /// before the run starts) [default: none].
    #[arg(long, value_name = "PATH")]
    pub hdr_log: Option<PathBuf>,
    /// Length of one --hdr-log interval.
    #[arg(long, value_name = "DUR", default_value = "1s", value_parser = parse_duration, allow_hyphen_values = true)]
    pub hdr_interval: Duration,
    /// No progress display and no report on stdout (only warnings and errors).
    #[arg(long)]
    pub quiet: bool,
}

/// `loadgen run --help`'s closing section: what `udp:` measures.
const RUN_AFTER_HELP: &str = "udp: targets: each connection is one UDP socket connected to the \
target, each request one datagram of --size bytes. A reply must be byte-identical to a \
request still waiting on that socket (in any order). A request with no reply within \
--loss-timeout is counted lost and has no latency sample: the percentiles cover delivered \
replies only, and the report gives the loss rate beside them. A reply to a lost request is \
counted late, a second copy duplicate; loss, lateness and duplicates do not fail the run, \
damaged or unknown bytes (corruption) do (exit 1). In open loop (--rate) the schedule never \
waits for replies, so a loss delays no later request and causes no coordinated omission; \
the lost requests are simply absent from the percentiles (a p99 with 2% loss is the p99 of \
the 98% that came back).\n\n--flood: closed loop with --window / --size requests in flight per \
connection, one sent for every reply, as fast as the sockets take them. It measures echoed \
bytes per second; latency is not reported, since a reply waits behind the whole window sent \
before it and would measure --window, not the server. With --server-pid the report gives MB \
echoed per server CPU-second and says which side was the limit: the server when its busiest \
thread used at least 95% of a CPU (or all its threads 95% of the CPUs it may run on), else the \
generator, whose MB/s are then not the server's.\n\nExit status: 0 clean, 1 a fault (corruption, reordering or \
truncation on a stream, failed connections) or nothing measured, 2 a bad command line, 130 \
(SIGINT) or 143 (SIGTERM) when a signal stopped the run early (whatever part of the window \
ran is reported).";

/// Resolves `value` of `flag` to one socket address (a host name's first),
/// saying which part is wrong when it cannot (see [`resolve_all`]).
pub fn resolve(flag: &str, value: &str) -> Result<SocketAddr, UsageError> {
    resolve_all(value).map(|addrs| addrs[0]).map_err(|why| {
        usage(format!(
            "{flag} {}: {why}; expected HOST:PORT",
            shorten(value)
        ))
    })
}

/// Validates `value` of `flag` as a target: `unix:PATH`, `udp:HOST:PORT`,
/// or a `HOST:PORT` resolved to one address (a host name resolves to its
/// first address, for TCP and UDP alike).
pub fn target(flag: &str, value: &str) -> Result<Target, UsageError> {
    if let Some(path) = value.strip_prefix("unix:") {
        if path.is_empty() {
            return Err(usage(format!(
                "{flag} {}: the path is empty; expected unix:PATH",
                shorten(value)
            )));
        }
        return Ok(Target::Unix(path.into()));
    }
    if let Some(rest) = value.strip_prefix("udp:") {
        let addrs = resolve_all(rest).map_err(|why| {
            usage(format!(
                "{flag} {}: {why}; expected udp:HOST:PORT",
                shorten(value)
            ))
        })?;
        return Ok(Target::Udp(addrs[0]));
    }
    resolve(flag, value).map(Target::Tcp)
}

/// Descriptors the generator needs besides one per connection: stdio, one
/// poller and one timer per engine thread, a server child's pipes, slack.
const FD_RESERVE: u64 = 64;

/// Refuses `connections` that the generator's own open-file limit cannot
/// hold, *before* anything is measured. The soft limit has already been
/// raised to the hard one (`env::raise_fd_limit`), so this is the real
/// ceiling; without the check a run waits for connects that fail with
/// EMFILE, which reads like the server's fault.
pub fn check_fd_budget(flag: &str, connections: u32) -> Result<(), UsageError> {
    let limit = crate::env::fd_limit();
    let need = u64::from(connections) + FD_RESERVE;
    if need > limit.soft {
        return Err(usage(format!(
            "{flag} {connections}: the generator needs about {need} open files but its own limit is {} \
             (hard limit {}); raise it (ulimit -n) or use fewer connections",
            limit.soft, limit.hard
        )));
    }
    Ok(())
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
        let target = target("--target", &self.target)?;
        let connections = positive("--connections", self.connections)?;
        let threads = positive("--threads", self.measure.threads)?;
        if threads > connections {
            return Err(usage(format!(
                "--threads {threads}: more threads than --connections {connections}"
            )));
        }
        if self.flood {
            self.check_flood(&target)?;
        } else if let Some(w) = self.measure.window {
            return Err(usage(format!("--window {w}: applies to --flood only")));
        }
        let default_size = if self.flood {
            DEFAULT_FLOOD_SIZE as u64
        } else {
            512
        };
        let size = check_size(self.measure.size.unwrap_or(default_size))?;
        let loss_timeout = match (&target, self.loss_timeout) {
            (Target::Udp(addr), lt) => {
                let most = max_datagram(addr);
                if size > most {
                    return Err(usage(format!(
                        "--size {size}: a request to {target} must fit one datagram, at most {most} bytes{}",
                        if addr.is_ipv4() { " over IPv4" } else { " over IPv6" }
                    )));
                }
                let lt = lt.unwrap_or(DEFAULT_LOSS_TIMEOUT);
                if lt.is_zero() {
                    return Err(usage("--loss-timeout 0s: must be longer than zero"));
                }
                Some(lt)
            }
            (_, Some(_)) => {
                return Err(usage(format!(
                    "--loss-timeout: applies to udp: targets only, not {target}"
                )))
            }
            (_, None) => None,
        };
        self.measure.check_times()?;
        check_fd_budget("--connections", connections)?;
        for (flag, path) in [("--json", &self.json), ("--hdr-log", &self.hdr_log)] {
            if let Some(p) = path {
                check_file(flag, p)?;
            }
        }
        if self.hdr_interval < Duration::from_millis(1) {
            return Err(usage("--hdr-interval: must be at least 1ms"));
        }
        if let Some(pid) = self.server_pid {
            crate::usage::check_pid(pid).map_err(|e| {
                usage(format!(
                    "--server-pid {pid}: cannot read its CPU time ({e})"
                ))
            })?;
        }
        let load = match self.rate {
            _ if self.flood => {
                let window = self.measure.window.unwrap_or(DEFAULT_FLOOD_WINDOW);
                if window < size as u64 {
                    return Err(usage(format!(
                        "--window {window}: smaller than one request (--size {size}); a flood keeps \
                         whole requests in flight"
                    )));
                }
                Load::Flood { window }
            }
            Some(r) if !(r.is_finite() && r > 0.0) => {
                return Err(usage(format!(
                    "--rate {r}: must be a positive number of requests per second"
                )))
            }
            // Below one request per window the run would measure nothing.
            Some(r) if r * self.measure.duration.as_secs_f64() < 1.0 => {
                return Err(usage(format!(
                    "--rate {r}: schedules no request in --duration {:?}; raise either",
                    self.measure.duration
                )))
            }
            Some(rate) => Load::Open { rate },
            None => Load::Closed {
                depth: positive("--depth", self.measure.depth.unwrap_or(1))?,
            },
        };
        let cfg = RunConfig {
            target,
            connections,
            size,
            load,
            duration: self.measure.duration,
            warmup: self.measure.warmup,
            threads,
            drain_timeout: self.measure.drain_timeout,
            loss_timeout,
            interval: self.hdr_log.is_some().then_some(self.hdr_interval),
            progress: !self.quiet,
            server_pid: self.server_pid,
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

impl RunArgs {
    /// Refuses what cannot go with `--flood`, one flag at a time.
    fn check_flood(&self, target: &Target) -> Result<(), UsageError> {
        if target.is_datagram() {
            return Err(usage(format!(
                "--flood: needs a stream target (HOST:PORT or unix:PATH), not {target}: UDP has no \
                 backpressure to flood against"
            )));
        }
        if self.rate.is_some() {
            return Err(usage(
                "--flood and --rate contradict each other: a flood sends as fast as the server \
                 echoes, --rate on a schedule",
            ));
        }
        if self.measure.depth.is_some() {
            return Err(usage(
                "--flood and --depth contradict each other: a flood keeps --window bytes in flight \
                 per connection, not --depth requests",
            ));
        }
        if self.hdr_log.is_some() {
            return Err(usage(
                "--hdr-log: not with --flood, which records no latency (a reply waits behind the \
                 whole window, so its latency would measure --window, not the server)",
            ));
        }
        Ok(())
    }
}

/// `loadgen compare` as typed.
#[derive(Args, Debug, Clone)]
#[command(
    mut_arg("window", |a| a.display_order(3).help(
        "Unechoed bytes per connection at the saturation points (16 KiB requests); suffixes K, M \
         [default: 1M]"
    )),
    mut_arg("size", |a| a.display_order(4).help("Bytes per request; suffixes K, M [default: 512]")),
    mut_arg("depth", |a| a.display_order(5).help("Requests in flight per connection [default: 1]")),
    mut_arg("duration", |a| a
        .display_order(6)
        .help("Measurement window of each point in each round")
        .default_value("2s")),
    mut_arg("warmup", |a| a.display_order(7).help("Uncounted warm-up before each point")),
    mut_arg("threads", |a| a.display_order(9).help("Generator event loops")),
    mut_arg("drain_timeout", |a| a.display_order(10).help(
        "As for `run`: give up on outstanding replies once none has moved for DUR"
    )),
)]
pub struct CompareArgs {
    /// echod models to compare, comma-separated (reactor, tokio, threads, iterative).
    #[arg(
        long,
        value_name = "LIST",
        value_delimiter = ',',
        default_value = "reactor,tokio,threads,iterative"
    )]
    pub models: Vec<String>,
    /// Connection counts of the closed-loop points, comma-separated, or none. The
    /// iterative model serves one client at a time, so it only runs at 1 and is reported
    /// "n/a" elsewhere.
    #[arg(
        long,
        value_name = "LIST",
        default_value = "1,10,100,1000",
        allow_hyphen_values = true
    )]
    pub connections: Counts,
    /// Connection counts of the saturation points (run --flood), comma-separated, or none.
    /// They rank the models by MB echoed per server CPU-second and say whether the server
    /// or the generator was the limit.
    #[arg(
        long,
        value_name = "LIST",
        default_value = "50",
        allow_hyphen_values = true
    )]
    pub flood: Counts,
    /// Times every point is measured, the models taking turns within each round; the
    /// report gives the median and the min–max spread.
    #[arg(
        long,
        display_order = 8,
        value_name = "R",
        value_parser = parse_count,
        allow_hyphen_values = true,
        default_value_t = 3
    )]
    pub rounds: u32,
    #[command(flatten)]
    measure: MeasureArgs,
    /// Directory for results.json, report.md and the SVG plots. Created if missing and
    /// checked before the first point; files an earlier compare wrote there
    /// (results.json, report.md, throughput.svg, saturation.svg, latency_c*.svg) are replaced
    /// or removed, anything else is left alone.
    #[arg(long, value_name = "DIR", default_value = "report")]
    pub out: PathBuf,
    /// Do not pin the server and the generator to different CPUs.
    #[arg(long)]
    pub no_pin: bool,
    /// No progress display.
    #[arg(long)]
    pub quiet: bool,
}

/// A comma-separated list of connection counts, or `none` for no points
/// of that kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Counts(pub Vec<u32>);

/// Clap parses every `Counts` flag with [`parse_counts`].
impl clap::builder::ValueParserFactory for Counts {
    type Parser = fn(&str) -> Result<Counts, String>;
    fn value_parser() -> Self::Parser {
        parse_counts
    }
}

fn parse_counts(s: &str) -> Result<Counts, String> {
    if s.trim() == "none" {
        return Ok(Counts(Vec::new()));
    }
    s.split(',')
        .map(|c| match parse_count(c)? {
            0 => Err("0: must be at least 1".to_string()),
            n => Ok(n),
        })
        .collect::<Result<Vec<u32>, String>>()
        .map(Counts)
}

/// The echod models `compare` knows how to start.
pub const MODELS: [&str; 4] = ["reactor", "tokio", "threads", "iterative"];

/// A validated `loadgen compare` configuration.
#[derive(Clone, Debug)]
pub struct CompareConfig {
    /// Models, in the order given.
    pub models: Vec<String>,
    /// Connection counts of the closed-loop points, in the order given.
    pub connections: Vec<u32>,
    /// Connection counts of the saturation points, in the order given.
    pub flood: Vec<u32>,
    /// Unechoed bytes per connection at the saturation points.
    pub window: u64,
    /// Bytes per request at the closed-loop points.
    pub size: usize,
    /// Requests in flight per connection.
    pub depth: u32,
    /// Measurement window of each point.
    pub duration: Duration,
    /// Warm-up of each point.
    pub warmup: Duration,
    /// Rounds per point.
    pub rounds: u32,
    /// Generator threads.
    pub threads: u32,
    /// Drain stall timeout.
    pub drain_timeout: Duration,
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
                    "--models {}: unknown model; expected one of {}",
                    shorten(m),
                    MODELS.join(", ")
                )));
            }
        }
        let mut seen = std::collections::HashSet::new();
        if let Some(m) = self.models.iter().find(|m| !seen.insert(m.as_str())) {
            return Err(usage(format!("--models {m}: listed twice")));
        }
        if self.models.is_empty() {
            return Err(usage("--models: needs at least one model"));
        }
        if self.connections.0.is_empty() && self.flood.0.is_empty() {
            return Err(usage(
                "--connections none and --flood none: nothing left to measure",
            ));
        }
        // compare's saturation points use run's default flood size.
        let flood_size = DEFAULT_FLOOD_SIZE;
        let m = self.measure;
        let window = m.window.unwrap_or(DEFAULT_FLOOD_WINDOW);
        if !self.flood.0.is_empty() && window < flood_size as u64 {
            return Err(usage(format!(
                "--window {window}: smaller than one request of a saturation point ({flood_size} B)"
            )));
        }
        m.check_times()?;
        let most = |c: &Counts| c.0.iter().copied().max().unwrap_or(1);
        check_fd_budget("--connections", most(&self.connections))?;
        check_fd_budget("--flood", most(&self.flood))?;
        check_dir("--out", &self.out)?;
        Ok(CompareConfig {
            models: self.models,
            connections: self.connections.0,
            flood: self.flood.0,
            window,
            size: check_size(m.size.unwrap_or(512))?,
            depth: positive("--depth", m.depth.unwrap_or(1))?,
            duration: m.duration,
            warmup: m.warmup,
            rounds: positive("--rounds", self.rounds)?,
            threads: positive("--threads", m.threads)?,
            drain_timeout: m.drain_timeout,
            out: self.out,
            pin: !self.no_pin,
            progress: !self.quiet,
        })
    }
}

/// `loadgen check` as typed.
#[derive(Args, Debug, Clone)]
pub struct CheckArgs {
    /// The echo server: HOST:PORT (TCP, e.g. 127.0.0.1:7007), unix:PATH (a Unix stream
    /// socket) or udp:HOST:PORT (datagram checks; stream-only checks are listed as not
    /// applicable) (required).
    #[arg(long, value_name = "ADDR")]
    pub target: String,
    /// Time limit of each check; a check still running then fails.
    #[arg(long, value_name = "DUR", default_value = "10s", value_parser = parse_duration, allow_hyphen_values = true)]
    pub timeout: Duration,
    /// Connections (udp: sockets) opened at once by the concurrency check.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 100,
        value_parser = parse_count,
        allow_hyphen_values = true
    )]
    pub connections: u32,
}

/// A validated `loadgen check` configuration.
#[derive(Clone, Debug)]
pub struct CheckConfig {
    /// The server.
    pub target: Target,
    /// Time limit of each check.
    pub timeout: Duration,
    /// Connections of the concurrency check.
    pub connections: u32,
}

impl CheckArgs {
    /// Validates the arguments.
    pub fn validate(self) -> Result<CheckConfig, UsageError> {
        let target = target("--target", &self.target)?;
        if self.timeout.is_zero() {
            return Err(usage("--timeout 0s: must be longer than zero"));
        }
        let connections = positive("--connections", self.connections)?;
        check_fd_budget("--connections", connections)?;
        Ok(CheckConfig {
            target,
            timeout: self.timeout,
            connections,
        })
    }
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

impl MergeArgs {
    /// Checks the output paths before any log is read.
    pub fn validate(self) -> Result<MergeArgs, UsageError> {
        for (flag, path) in [("--out", &self.out), ("--json", &self.json)] {
            if let Some(p) = path {
                check_file(flag, p)?;
            }
        }
        Ok(self)
    }
}

/// `loadgen talk` as typed.
#[derive(Args, Debug, Clone)]
#[command(
    after_help = "Exit status: 0 when everything sent came back (TCP and unix: the \
    server closed after our end of input; udp: every datagram had a reply), 1 otherwise, \
    2 for a bad command line.\n\nExamples:\n  echo hi | loadgen talk 127.0.0.1:7007\n  \
    loadgen talk udp:localhost:7007 < lines.txt\n  loadgen talk unix:/run/echod.sock"
)]
pub struct TalkArgs {
    /// HOST:PORT (TCP; host names resolve), udp:HOST:PORT (each line one datagram; UDP may
    /// lose datagrams) or unix:PATH (a Unix stream socket).
    #[arg(value_name = "ADDR")]
    pub target: String,
    /// Time limit of a TCP connect [default: 10s].
    #[arg(long, value_name = "DUR", value_parser = parse_duration, allow_hyphen_values = true)]
    pub timeout: Option<Duration>,
    /// udp: only. At the end of input, wait this long for the replies still missing, then
    /// exit (1 if some never came: UDP may lose datagrams) [default: 1s].
    #[arg(long, value_name = "DUR", value_parser = parse_duration, allow_hyphen_values = true)]
    pub wait: Option<Duration>,
}

/// Where `loadgen talk` connects.
#[derive(Clone, Debug)]
pub enum TalkTarget {
    /// Every address the host resolves to, tried in turn.
    Tcp(Vec<SocketAddr>),
    /// The first address the host resolves to.
    Udp(SocketAddr),
    /// A Unix stream socket.
    Unix(PathBuf),
}

/// A validated `loadgen talk` configuration.
#[derive(Clone, Debug)]
pub struct TalkConfig {
    /// The server.
    pub target: TalkTarget,
    /// The target as typed, shortened for messages.
    pub shown: String,
    /// TCP connect time limit.
    pub timeout: Duration,
    /// udp: how long to wait for missing replies after the end of input.
    pub wait: Duration,
}

impl TalkArgs {
    /// Validates the arguments.
    pub fn validate(self) -> Result<TalkConfig, UsageError> {
        let shown = shorten(&self.target);
        let bad = |why: String| usage(format!("talk {shown}: {why}"));
        let target = if let Some(path) = self.target.strip_prefix("unix:") {
            if path.is_empty() {
                return Err(bad("the path is empty; expected unix:PATH".into()));
            }
            TalkTarget::Unix(path.into())
        } else if let Some(rest) = self.target.strip_prefix("udp:") {
            let addrs =
                resolve_all(rest).map_err(|why| bad(format!("{why}; expected udp:HOST:PORT")))?;
            TalkTarget::Udp(addrs[0])
        } else {
            let rest = self.target.strip_prefix("tcp:").unwrap_or(&self.target);
            let addrs = resolve_all(rest).map_err(|why| {
                bad(format!(
                    "{why}; expected HOST:PORT, udp:HOST:PORT or unix:PATH"
                ))
            })?;
            TalkTarget::Tcp(addrs)
        };
        // A flag that cannot apply is more likely a mistake than a wish.
        let tcp = matches!(target, TalkTarget::Tcp(_));
        let udp = matches!(target, TalkTarget::Udp(_));
        if self.timeout.is_some() && !tcp {
            return Err(usage(format!(
                "--timeout: applies to TCP targets only, not {shown}"
            )));
        }
        if self.wait.is_some() && !udp {
            return Err(usage(format!(
                "--wait: applies to udp: targets only, not {shown}"
            )));
        }
        let timeout = self.timeout.unwrap_or(Duration::from_secs(10));
        let wait = self.wait.unwrap_or(Duration::from_secs(1));
        if timeout.is_zero() {
            return Err(usage("--timeout 0s: must be longer than zero"));
        }
        if wait.is_zero() {
            return Err(usage("--wait 0s: must be longer than zero"));
        }
        Ok(TalkConfig {
            target,
            shown,
            timeout,
            wait,
        })
    }
}

/// Every address `HOST:PORT` resolves to, or why there is none.
fn resolve_all(host_port: &str) -> Result<Vec<SocketAddr>, String> {
    // `[::1]` has colons but no port.
    let Some((host, port)) = host_port
        .rsplit_once(':')
        .filter(|_| !host_port.ends_with(']'))
    else {
        return Err("missing :PORT".into());
    };
    if host.is_empty() {
        return Err("no host".into());
    }
    if !matches!(port.parse::<u16>(), Ok(p) if p > 0) {
        return Err(format!(
            "port {}: not a number from 1 to 65535",
            shorten(port)
        ));
    }
    let addrs: Vec<SocketAddr> = host_port
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {} ({e})", shorten(host)))?
        .collect();
    if addrs.is_empty() {
        return Err(format!("{} resolves to no address", shorten(host)));
    }
    Ok(addrs)
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
