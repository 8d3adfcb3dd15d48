//! `loadgen compare`'s flags and its validated configuration.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use super::run::MeasureArgs;
use super::values::{check_fd_budget, check_size, parse_count, parse_duration, positive, target};
use crate::outputs::check_dir;
use crate::run::{DEFAULT_FLOOD_SIZE, DEFAULT_FLOOD_WINDOW};
use crate::serve::external::{split_command, ServerSpec, TargetSpec};
use crate::sweep::rates::DEFAULT_SLO;
use crate::sweep::Slo;
use crate::target::Target;
use crate::usage_error::{shorten, usage, UsageError};

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
    /// echod models to compare, comma-separated (reactor, uring, tokio, threads, iterative;
    /// uring is Linux only, and in the default only there), or none (with --server or
    /// --target). A model whose server cannot start here (uring where io_uring is blocked)
    /// is reported "n/a" with echod's reason.
    #[arg(
        long,
        value_name = "LIST",
        value_delimiter = ',',
        default_value = DEFAULT_MODELS
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
    /// Offered loads of the open-loop points (run --rate), in requests per second,
    /// comma-separated (suffix k = 1000, M = 10^6, e.g. 10k,50k,100k), or none. Each model
    /// is measured at each rate, latency from each request's intended send time; a model
    /// that falls behind a rate is reported "behind" there, never dropped.
    #[arg(
        long,
        value_name = "LIST",
        default_value = "none",
        allow_hyphen_values = true
    )]
    pub rates: Rates,
    /// Connections of every open-loop point, the offered rate spread over them. The
    /// default is the target: an echo server at 1000 connections.
    #[arg(
        long,
        value_name = "N",
        value_parser = parse_count,
        allow_hyphen_values = true,
        default_value_t = 1000
    )]
    pub rate_connections: u32,
    /// The latency objective the open-loop points are judged by: PERCENTILE=LIMIT with
    /// p50, p90, p99 or p999 and a limit in us, ms or s. The report names, per model, the
    /// highest rate it kept up with inside it, and the server CPU every model needed at the
    /// highest rate they all held.
    #[arg(
        long,
        value_name = "SLO",
        value_parser = Slo::parse,
        default_value = DEFAULT_SLO,
        allow_hyphen_values = true
    )]
    pub slo: Slo,
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
    /// A server of your own beside the models (repeatable): NAME='COMMAND ARGS… {port}'.
    /// loadgen picks a free loopback port, puts it for {port} (and 127.0.0.1:PORT for
    /// {addr}), splits the command like a shell (quotes, backslashes; nothing expanded, no
    /// shell run), and starts it fresh for every point as it does the models: pinned, its
    /// CPU and RSS measured, SIGTERM then SIGKILL after each point (its whole process
    /// group). Only the process it starts is measured: the children of a wrapper script
    /// are not counted, so exec the server (`sh -c 'exec …'`). It must pass a short echo
    /// check at its first start or it is refused for the whole sweep.
    #[arg(long = "server", value_name = "NAME=CMD", display_order = 1)]
    pub servers: Vec<String>,
    /// A server already running beside the models (repeatable): NAME=HOST:PORT or
    /// NAME=unix:PATH. Never started or stopped by loadgen, so its CPU and RSS are "n/a"
    /// and it is left out of the CPU-second ranking; it must pass a short echo check first.
    #[arg(long = "target", value_name = "NAME=ADDR", display_order = 1)]
    pub targets: Vec<String>,
    /// How long a --server command may take to accept a connection on its port.
    #[arg(
        long,
        value_name = "DUR",
        display_order = 1,
        value_parser = parse_duration,
        default_value = "10s",
        allow_hyphen_values = true
    )]
    pub server_wait: Duration,
    #[command(flatten)]
    measure: MeasureArgs,
    /// Directory for results.json, report.md and the SVG plots. Created if missing and
    /// checked before the first point; files an earlier compare wrote there
    /// (results.json, report.md, throughput.svg, throughput_mb.svg, saturation.svg,
    /// latency_load.svg, latency_c*.svg, timeline_c*.svg) are replaced or removed, anything
    /// else is left alone.
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

/// Clap parses every `Counts` flag with `parse_counts`.
impl clap::builder::ValueParserFactory for Counts {
    type Parser = fn(&str) -> Result<Counts, String>;
    fn value_parser() -> Self::Parser {
        parse_counts
    }
}

/// A comma-separated list of offered rates in requests per second, or
/// `none`.
#[derive(Clone, Debug, PartialEq)]
pub struct Rates(pub Vec<f64>);

/// Clap parses `--rates` with `parse_rates`.
impl clap::builder::ValueParserFactory for Rates {
    type Parser = fn(&str) -> Result<Rates, String>;
    fn value_parser() -> Self::Parser {
        parse_rates
    }
}

/// `10k,50k,1.5M`, `200`; `none` for no open-loop points.
fn parse_rates(s: &str) -> Result<Rates, String> {
    if s.trim() == "none" {
        return Ok(Rates(Vec::new()));
    }
    s.split(',')
        .map(|r| {
            let r = r.trim();
            let (number, scale) = match r.strip_suffix(['k', 'K']) {
                Some(n) => (n, 1e3),
                None => r.strip_suffix('M').map_or((r, 1.0), |n| (n, 1e6)),
            };
            number
                .parse::<f64>()
                .ok()
                .map(|x| x * scale)
                .filter(|x| x.is_finite() && *x > 0.0)
                .ok_or_else(|| {
                    format!(
                        "{}: not a positive number of requests per second (e.g. 50k)",
                        shorten(r)
                    )
                })
        })
        .collect::<Result<Vec<f64>, String>>()
        .map(Rates)
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

/// The echod models `compare` knows how to start. uring runs on Linux
/// only; elsewhere echod refuses it and the sweep reports it "n/a".
pub const MODELS: [&str; 5] = ["reactor", "uring", "tokio", "threads", "iterative"];

/// `--models` by default: every model this OS can run.
const DEFAULT_MODELS: &str = if cfg!(target_os = "linux") {
    "reactor,uring,tokio,threads,iterative"
} else {
    "reactor,tokio,threads,iterative"
};

/// A validated `loadgen compare` configuration.
#[derive(Clone, Debug)]
pub struct CompareConfig {
    /// Models, in the order given.
    pub models: Vec<String>,
    /// `--server` commands, in the order given.
    pub servers: Vec<ServerSpec>,
    /// `--target` servers, in the order given.
    pub targets: Vec<TargetSpec>,
    /// How long a `--server` command may take to listen.
    pub server_wait: Duration,
    /// Connection counts of the closed-loop points, in the order given.
    pub connections: Vec<u32>,
    /// Connection counts of the saturation points, in the order given.
    pub flood: Vec<u32>,
    /// Offered rates of the open-loop points, in the order given.
    pub rates: Vec<f64>,
    /// Connections of the open-loop points.
    pub rate_connections: u32,
    /// The objective the open-loop points are judged by.
    pub slo: Slo,
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

/// One of the servers a sweep compares, by what loadgen does with it.
#[derive(Clone, Copy, Debug)]
pub enum Entry<'a> {
    /// An echod model, started as `loadgen serve`.
    Model,
    /// A `--server` command, started like a model.
    Server(&'a ServerSpec),
    /// A `--target`, already running.
    Target(&'a TargetSpec),
}

impl CompareConfig {
    /// Every name compared, as the reports order them: the models, then
    /// the `--server`s, then the `--target`s.
    pub fn names(&self) -> Vec<&str> {
        let models = self.models.iter().map(String::as_str);
        let servers = self.servers.iter().map(|s| s.name.as_str());
        models
            .chain(servers)
            .chain(self.targets.iter().map(|t| t.name.as_str()))
            .collect()
    }

    /// What `name` is; a name that is no server or target is a model.
    pub fn entry(&self, name: &str) -> Entry<'_> {
        if let Some(s) = self.servers.iter().find(|s| s.name == name) {
            Entry::Server(s)
        } else if let Some(t) = self.targets.iter().find(|t| t.name == name) {
            Entry::Target(t)
        } else {
            Entry::Model
        }
    }
}

impl CompareArgs {
    /// Validates the arguments.
    pub fn validate(mut self) -> Result<CompareConfig, UsageError> {
        if self.models == ["none"] {
            self.models.clear();
        }
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
        let servers = self
            .servers
            .iter()
            .map(|s| server_spec(s))
            .collect::<Result<Vec<_>, _>>()?;
        let targets = self
            .targets
            .iter()
            .map(|t| target_spec(t))
            .collect::<Result<Vec<_>, _>>()?;
        let external = servers.iter().map(|s| ("--server", &s.name));
        let external = external.chain(targets.iter().map(|t| ("--target", &t.name)));
        for (flag, name) in external {
            if MODELS.contains(&name.as_str()) {
                return Err(usage(format!(
                    "{flag} {name}: that is an echod model's name; choose another"
                )));
            }
            if !seen.insert(name.as_str()) {
                return Err(usage(format!(
                    "{flag} {name}: the name is taken by another --server or --target"
                )));
            }
        }
        if self.models.is_empty() && servers.is_empty() && targets.is_empty() {
            return Err(usage(
                "--models: needs at least one model (or a --server or --target)",
            ));
        }
        if self.connections.0.is_empty() && self.flood.0.is_empty() && self.rates.0.is_empty() {
            return Err(usage(
                "--connections none, --flood none and --rates none: nothing left to measure",
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
        let rate_connections = positive("--rate-connections", self.rate_connections)?;
        if !self.rates.0.is_empty() {
            check_fd_budget("--rate-connections", rate_connections)?;
        }
        // Below one request per window a point would measure nothing.
        if let Some(r) = self
            .rates
            .0
            .iter()
            .find(|&&r| r * m.duration.as_secs_f64() < 1.0)
        {
            return Err(usage(format!(
                "--rates {r}: schedules no request in --duration {:?}; raise either",
                m.duration
            )));
        }
        check_dir("--out", &self.out)?;
        Ok(CompareConfig {
            models: self.models,
            servers,
            targets,
            server_wait: positive_duration("--server-wait", self.server_wait)?,
            connections: self.connections.0,
            flood: self.flood.0,
            rates: self.rates.0,
            rate_connections,
            slo: self.slo,
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

/// `NAME=VALUE` split at the first `=`, the name checked: non-empty, and
/// letters, digits, `-`, `_` and `.` only, as it becomes a label in
/// tables, plots and JSON.
fn named<'a>(flag: &str, value: &'a str, expected: &str) -> Result<(&'a str, &'a str), UsageError> {
    let Some((name, rest)) = value.split_once('=') else {
        return Err(usage(format!(
            "{flag} {}: expected {expected}",
            shorten(value)
        )));
    };
    let ok = |c: char| c.is_ascii_alphanumeric() || "-_.".contains(c);
    if name.is_empty() || !name.chars().all(ok) {
        return Err(usage(format!(
            "{flag} {}: the name must be letters, digits, '-', '_' or '.'; expected {expected}",
            shorten(value)
        )));
    }
    Ok((name, rest))
}

/// A `--server NAME=COMMAND`: the command must split, and say where to
/// listen with `{port}` or `{addr}` (loadgen cannot tell it otherwise).
fn server_spec(value: &str) -> Result<ServerSpec, UsageError> {
    let (name, command) = named("--server", value, "NAME='COMMAND ARGS… {port}'")?;
    let words = split_command(command)
        .map_err(|why| usage(format!("--server {name}: cannot split the command: {why}")))?;
    if words.first().map_or(true, |w| w.is_empty()) {
        return Err(usage(format!("--server {name}: the command is empty")));
    }
    if !words
        .iter()
        .any(|w| w.contains("{port}") || w.contains("{addr}"))
    {
        return Err(usage(format!(
            "--server {name}: the command has no {{port}} or {{addr}}, so it cannot be told \
             where to listen"
        )));
    }
    Ok(ServerSpec {
        name: name.to_string(),
        command: command.to_string(),
        words,
    })
}

/// A `--target NAME=ADDR`: an address `run --target` accepts, but a stream
/// one (compare floods byte streams).
fn target_spec(value: &str) -> Result<TargetSpec, UsageError> {
    let (name, addr) = named("--target", value, "NAME=HOST:PORT or NAME=unix:PATH")?;
    let target = target(&format!("--target {name}:"), addr)?;
    if let Target::Udp(_) = target {
        return Err(usage(format!(
            "--target {name}={}: compare measures stream servers; expected HOST:PORT or unix:PATH",
            shorten(addr)
        )));
    }
    Ok(TargetSpec {
        name: name.to_string(),
        target,
    })
}

/// `d`, refused when zero.
fn positive_duration(flag: &str, d: Duration) -> Result<Duration, UsageError> {
    if d.is_zero() {
        return Err(usage(format!("{flag} 0s: must be longer than zero")));
    }
    Ok(d)
}
