//! `loadgen run`'s flags, and the measurement flags it shares with
//! `compare` ([`MeasureArgs`]).

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use super::values::{
    check_fd_budget, check_size, parse_count, parse_duration, parse_pid, parse_size, positive,
    target,
};
use crate::outputs::{check_file, Outputs};
use crate::run::datagram::max_datagram;
use crate::run::{Load, RunConfig, DEFAULT_FLOOD_SIZE, DEFAULT_FLOOD_WINDOW, DEFAULT_LOSS_TIMEOUT};
use crate::target::Target;
use crate::usage_error::{usage, UsageError};

/// How each measurement is taken: the flags `run` and `compare` share.
/// The help and defaults here are `run`'s; `compare` words its own
/// (`mut_arg` on [`super::compare::CompareArgs`]) and fills in its defaults in validation.
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
    pub fn check_times(&self) -> Result<(), UsageError> {
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
    /// Length of one interval of the timeline (the report's per-second line, --json's
    /// `timeline`, --plot) and of --hdr-log.
    #[arg(long, value_name = "DUR", default_value = "1s", value_parser = parse_duration, allow_hyphen_values = true)]
    pub hdr_interval: Duration,
    /// Plot the timeline to PATH as SVG: req/s and p99 per interval (with --flood: MB/s)
    /// (checked before the run starts) [default: none].
    #[arg(long, value_name = "PATH")]
    pub plot: Option<PathBuf>,
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
        for (flag, path) in [
            ("--json", &self.json),
            ("--hdr-log", &self.hdr_log),
            ("--plot", &self.plot),
        ] {
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
            // Always kept: the timeline needs them, and packing keeps them
            // small (see `run::intervals`).
            interval: Some(self.hdr_interval),
            progress: !self.quiet,
            server_pid: self.server_pid,
        };
        Ok((
            cfg,
            Outputs {
                json: self.json,
                hdr_log: self.hdr_log,
                plot: self.plot,
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
