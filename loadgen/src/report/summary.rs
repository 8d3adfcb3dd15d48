//! The figures a run is judged by, derived once from its raw measurements:
//! throughput, fairness, percentiles, schedule lag, and whether the
//! generator itself kept up. Both the text report and `--json` print this.

use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;

use super::timeline;
use crate::env::Env;
use crate::limit::{self, Limit};
use crate::machine::MachineLoad;
use crate::procstat::Reading;
use crate::run::result::{Counters, RunResult};
use crate::run::series::{self, SeriesPoint};
use crate::run::{warmup_text, Load, RunConfig};
use crate::stats::{self, Percentiles};
use crate::sweep;
use crate::usage::{ServerUsage, WindowUsage};

/// p99 of the generator's own dispatch lag above which it is reported as
/// not keeping up with its schedule.
pub const GENERATOR_LAG_LIMIT: Duration = Duration::from_millis(1);

/// How much the p99 send lag may exceed the p99 dispatch lag before the
/// report notes server backpressure.
pub const BACKPRESSURE_NOTE: Duration = Duration::from_millis(10);

/// Requests and bytes per second.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Throughput {
    /// Replies counted per second of the window.
    pub requests_per_sec: f64,
    /// Echoed payload bytes per second (one direction).
    pub bytes_per_sec: f64,
    /// `bytes_per_sec / 10^6`.
    pub mb_per_sec: f64,
    /// Jain's index over the per-connection reply counts (1 = perfectly fair).
    pub jain_fairness: f64,
}

/// Lag figures in microseconds.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Lag {
    /// 99th percentile.
    pub p99: f64,
    /// Largest.
    pub max: f64,
}

/// How well the open-loop schedule was kept.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct ScheduleReport {
    /// `--rate`.
    pub target_rate: f64,
    /// Replies counted per second.
    pub achieved_rate: f64,
    /// How late the generator took due requests off its schedule (its own
    /// timer and loop delay).
    pub dispatch_lag_us: Lag,
    /// How late requests were handed to their sockets (adds waiting for a
    /// server that stopped reading).
    pub send_lag_us: Lag,
    /// False when the generator's own lag was large enough to distort the run.
    pub generator_kept_up: bool,
}

/// udp: what became of the datagrams. Lost requests have no latency
/// sample, so every percentile of a lossy run describes the delivered
/// replies only; this is what they leave out.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct DatagramReport {
    /// Replies delivered for requests intended in the window (= `requests`).
    pub delivered: u64,
    /// Requests intended in the window with no reply within the loss
    /// timeout.
    pub lost: u64,
    /// `lost / (delivered + lost)`.
    pub loss_rate: f64,
    /// Replies to requests already declared lost.
    pub late: u64,
    /// Extra copies of replies.
    pub duplicate: u64,
    /// `--loss-timeout`, seconds.
    pub loss_timeout_s: f64,
    /// Always true: said in the document so a reader of the percentiles
    /// cannot miss it.
    pub percentiles_cover_delivered_only: bool,
}

impl DatagramReport {
    /// One line for the interval log's header and the text report.
    pub fn line(&self) -> String {
        format!(
            "lost {} ({:.3}% of {} requests in the window)  late {}  duplicate {}  \
             loss timeout {:?}; latency percentiles cover delivered replies only",
            self.lost,
            self.loss_rate * 100.0,
            self.delivered + self.lost,
            self.late,
            self.duplicate,
            Duration::from_secs_f64(self.loss_timeout_s)
        )
    }
}

/// `--server-pid` in closed and open loop: the server's CPU over the
/// window.
#[derive(Clone, Debug, Serialize)]
pub struct ServerReport {
    /// What was sampled.
    #[serde(flatten)]
    pub usage: ServerUsage,
    /// Server CPU (user + system) per reply counted, in µs.
    pub cpu_us_per_request: f64,
}

/// The server's figures under `--flood`.
#[derive(Clone, Debug, Serialize)]
pub struct FloodServer {
    /// What was sampled.
    #[serde(flatten)]
    pub usage: ServerUsage,
    /// Megabytes (10^6 bytes) echoed per second of server CPU time: what
    /// one CPU-second of this server moves.
    pub mb_per_cpu_second: f64,
}

/// What a flood measured. Serialised as the `flood` object of `--json`.
#[derive(Clone, Debug, Serialize)]
pub struct FloodReport {
    /// `--window`: most unechoed bytes per connection.
    pub window_bytes: u64,
    /// Bytes echoed inside the window (by arrival time).
    pub echoed_bytes: u64,
    /// `echoed_bytes` per second of window.
    pub echoed_bytes_per_sec: f64,
    /// `echoed_bytes_per_sec / 10^6`.
    pub mb_per_sec: f64,
    /// The server's CPU, or why it was not measured.
    pub server: Reading<FloodServer>,
    /// The generator's own CPU over the window, as a fraction of one CPU.
    pub generator_cpu_utilisation: f64,
    /// Which side was the limit ([`crate::limit`]).
    pub limit: Limit,
    /// The verdict in words, as the report prints it.
    pub verdict: String,
}

/// Why a flood has no latency figures: printed in the report, once.
pub const NO_FLOOD_LATENCY: &str = "not reported under --flood: a reply waits behind the whole \
window sent before it, so its latency would measure --window, not the server";

/// Everything a run reports. Serialised as the `--json` document.
#[derive(Clone, Debug, Serialize)]
pub struct RunSummary {
    /// `loadgen` and its version.
    pub tool: String,
    /// The configuration that ran.
    pub config: RunConfig,
    /// The machine it ran on.
    pub env: Env,
    /// Replies counted in the window.
    pub requests: u64,
    /// Reordered or truncated replies and failed connections.
    pub errors: u64,
    /// Damaged replies, including bytes from another connection.
    pub corrupt: u64,
    /// Every counter, broken down.
    pub counters: Counters,
    /// Requests and bytes per second, and fairness.
    pub throughput: Throughput,
    /// Latency from intended send time (the one to trust); not under
    /// `--flood` ([`NO_FLOOD_LATENCY`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_us: Option<Percentiles>,
    /// Open loop: latency from actual send time, for comparison.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_us_uncorrected: Option<Percentiles>,
    /// Open loop: how well the schedule was kept.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule: Option<ScheduleReport>,
    /// udp: lost, late and duplicated datagrams and the loss rate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub datagrams: Option<DatagramReport>,
    /// The latency percentile spectrum (HdrHistogram plot convention);
    /// not under `--flood`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spectrum: Option<Vec<stats::SpectrumPoint>>,
    /// `--flood`: echoed bytes, the server's CPU and the verdict.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flood: Option<FloodReport>,
    /// `--server-pid` in closed and open loop: the server's CPU.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server: Option<ServerReport>,
    /// The generator's own CPU over the window, as a fraction of one CPU
    /// (all its threads together), when it was measured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generator_cpu_utilisation: Option<f64>,
    /// How busy the machine was over the window (load average, steal,
    /// other processes' CPU), when it was sampled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub machine_load: Option<MachineLoad>,
    /// True when a signal closed the window early: the figures cover
    /// `window_s` seconds, not `config.duration`.
    pub interrupted: bool,
    /// Seconds of measurement window the figures cover.
    pub window_s: f64,
    /// When every connection had closed before the window's end: the
    /// seconds into the window at which the last one closed. The window,
    /// `window_s` and the rates end there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub all_connections_closed_s: Option<f64>,
    /// The first few fault messages.
    pub error_messages: Vec<String>,
    /// True when no faults occurred.
    pub clean: bool,
    /// req/s and p99 per `--hdr-interval` of the window, in order
    /// ([`SeriesPoint`]; under `--flood` MB/s, and `p99_us` is null).
    pub timeline: Vec<SeriesPoint>,
}

/// A rate for people: whole numbers where that loses nothing, a few
/// decimals below 10/s (`--rate 0.5` is half a request per second, not 0).
pub fn rate_text(r: f64) -> String {
    if r >= 10.0 || r == 0.0 {
        format!("{r:.0}")
    } else {
        format!("{r:.3}")
    }
}

fn lag(h: &stats::Hist) -> Lag {
    let p = Percentiles::of(h);
    Lag {
        p99: p.p99,
        max: p.max,
    }
}

/// A byte count as `--size` and `--window` take it: `256 KiB`, `1 MiB`,
/// `1000 B`.
pub fn bytes_text(n: u64) -> String {
    if n >= 1 << 20 && n % (1 << 20) == 0 {
        format!("{} MiB", n >> 20)
    } else if n >= 1 << 10 && n % (1 << 10) == 0 {
        format!("{} KiB", n >> 10)
    } else {
        format!("{n} B")
    }
}

impl FloodReport {
    fn new(window: u64, result: &RunResult, usage: Option<&WindowUsage>) -> FloodReport {
        let echoed = result.m.echoed_bytes;
        let per_sec = result.echoed_bytes_per_sec();
        let server = usage.and_then(|u| u.server.as_ref());
        let generator = usage.map_or(0.0, |u| u.generator_cpu_utilisation);
        let limit = limit::limit(server);
        FloodReport {
            window_bytes: window,
            echoed_bytes: echoed,
            echoed_bytes_per_sec: per_sec,
            mb_per_sec: per_sec / 1e6,
            server: match server {
                Some(s) => Reading::Value(FloodServer {
                    usage: s.clone(),
                    mb_per_cpu_second: echoed as f64 / 1e6 / s.cpu_seconds.max(1e-9),
                }),
                None => Reading::unavailable("not measured: no --server-pid given"),
            },
            generator_cpu_utilisation: generator,
            limit,
            verdict: limit::line(limit, server, generator),
        }
    }
}

/// `n` with its noun: "1 request", "2 requests".
pub fn count(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// What to do about a generator that fell behind its schedule, naming the
/// likely cause. A generator at its CPU limit (`generator_cpu`, a fraction
/// of one CPU, against what `threads` threads on `cpus` CPUs can use) had
/// too much to do; one below it on a busy machine was kept off the CPU,
/// and changing the load would not help it. Otherwise its loop was too
/// slow for the load.
pub fn behind_schedule_advice(
    machine: Option<&MachineLoad>,
    generator_cpu: Option<f64>,
    threads: u32,
    cpus: usize,
) -> String {
    let busy = machine
        .filter(|m| m.busy())
        .map(|m| format!("a busy machine ({})", m.warnings.join("; ")));
    let maxed = generator_cpu.filter(|&g| sweep::generator_bound(g, 0.0, threads, cpus));
    let Some(g) = maxed else {
        return match busy {
            Some(busy) => format!(
                "Likely cause: {busy}, which kept the generator off the CPU at times (it used less than \
                 its CPUs allow); rerun on a quiet machine before changing the load."
            ),
            None => "Use more --threads, fewer --connections or a lower --rate.".to_string(),
        };
    };
    let usable = sweep::generator_cpus(threads, cpus);
    let more = if (threads as usize) < cpus {
        "use more --threads, fewer --connections or a lower --rate"
    } else {
        "use fewer --connections or a lower --rate (more --threads cannot help: each CPU it may use \
         has a thread already)"
    };
    let limit = format!(
        "the generator was at its CPU limit ({}% of the {usable} CPU(s) its threads could use)",
        limit::percent(g / usable as f64)
    );
    match busy {
        Some(busy) => {
            format!("Likely cause: {limit}, on {busy}; {more}, or rerun on a quiet machine.")
        }
        None => format!("Likely cause: {limit}; {more}."),
    }
}

/// `pid 1234: 97% of a CPU (busiest thread 97%; may run on 1 CPU)`.
fn server_text(s: &ServerUsage) -> String {
    format!(
        "pid {}: {}% of a CPU (busiest thread {}; may run on {} CPU{})",
        s.pid,
        limit::percent(s.cpu_utilisation),
        s.busiest_thread_utilisation
            .show(|&t| format!("{}%", limit::percent(t))),
        s.cpus,
        if s.cpus == 1 { "" } else { "s" }
    )
}

impl RunSummary {
    /// Derives the summary of `result`, which ran `cfg` on `env`; `usage`
    /// is the CPU sampled over its window and `machine_load` the machine
    /// over the same window, when they were.
    pub fn new(
        cfg: &RunConfig,
        result: &RunResult,
        env: Env,
        usage: Option<&WindowUsage>,
        machine_load: Option<MachineLoad>,
    ) -> RunSummary {
        let m = &result.m;
        let per_conn: Vec<f64> = m.per_conn.iter().map(|&n| n as f64).collect();
        let rps = result.requests_per_sec();
        let flood = match cfg.load {
            Load::Flood { window } => Some(FloodReport::new(window, result, usage)),
            _ => None,
        };
        // A flood's bytes are counted as they arrive; the other loads'
        // as the replies they complete.
        let bytes_per_sec = flood
            .as_ref()
            .map_or(rps * cfg.size as f64, |f| f.echoed_bytes_per_sec);
        let throughput = Throughput {
            requests_per_sec: rps,
            bytes_per_sec,
            mb_per_sec: bytes_per_sec / 1e6,
            jain_fairness: stats::jain_index(&per_conn),
        };
        let server = match (&flood, usage.and_then(|u| u.server.as_ref())) {
            (None, Some(s)) => Some(ServerReport {
                usage: s.clone(),
                cpu_us_per_request: s.cpu_seconds * 1e6 / m.counters.requests.max(1) as f64,
            }),
            _ => None,
        };
        let (uncorrected, schedule) = match cfg.load {
            Load::Closed { .. } | Load::Flood { .. } => (None, None),
            Load::Open { rate } => {
                let dispatch = lag(&m.dispatch_lag);
                let kept_up = dispatch.p99 <= GENERATOR_LAG_LIMIT.as_secs_f64() * 1e6;
                let s = ScheduleReport {
                    target_rate: rate,
                    achieved_rate: rps,
                    dispatch_lag_us: dispatch,
                    send_lag_us: lag(&m.send_lag),
                    generator_kept_up: kept_up,
                };
                (Some(Percentiles::of(&m.uncorrected)), Some(s))
            }
        };
        RunSummary {
            tool: format!("loadgen {}", env!("CARGO_PKG_VERSION")),
            config: cfg.clone(),
            env,
            requests: m.counters.requests,
            errors: m.counters.errors_total(),
            corrupt: m.counters.corrupt_total(),
            counters: m.counters,
            throughput,
            latency_us: flood.is_none().then(|| Percentiles::of(&m.corrected)),
            latency_us_uncorrected: uncorrected,
            schedule,
            datagrams: cfg.loss_timeout.map(|lt| DatagramReport {
                delivered: m.counters.requests,
                lost: m.counters.lost,
                loss_rate: m.counters.loss_rate(),
                late: m.counters.late,
                duplicate: m.counters.duplicate,
                loss_timeout_s: lt.as_secs_f64(),
                percentiles_cover_delivered_only: true,
            }),
            spectrum: flood.is_none().then(|| stats::spectrum(&m.corrected)),
            generator_cpu_utilisation: usage.map(|u| u.generator_cpu_utilisation),
            machine_load,
            flood,
            server,
            interrupted: result.interrupted,
            window_s: result.window.as_secs_f64(),
            all_connections_closed_s: result.all_closed.map(|d| d.as_secs_f64()),
            error_messages: m.errors.clone(),
            clean: m.counters.clean(),
            timeline: series::series(result, cfg.size, matches!(cfg.load, Load::Flood { .. })),
        }
    }

    /// Warnings that must be seen even with `--quiet` (one per line).
    pub fn warnings(&self) -> Vec<String> {
        let mut w = Vec::new();
        if let Some(s) = &self.schedule {
            if !s.generator_kept_up {
                w.push(format!(
                    "WARNING: THE GENERATOR COULD NOT KEEP UP WITH ITS OWN SCHEDULE: requests were taken off the \
                     schedule {:.0} µs late at p99 ({:.0} µs max). Latencies include this lag. {}",
                    s.dispatch_lag_us.p99,
                    s.dispatch_lag_us.max,
                    behind_schedule_advice(
                        self.machine_load.as_ref(),
                        self.generator_cpu_utilisation,
                        self.config.threads,
                        self.env.generator_cpus.len()
                    )
                ));
            }
            // Send lag beyond the generator's own dispatch lag is time spent
            // waiting for the server to read.
            if s.send_lag_us.p99 - s.dispatch_lag_us.p99 > BACKPRESSURE_NOTE.as_secs_f64() * 1e6 {
                w.push(format!(
                    "note: requests waited up to {:.1} ms (p99) to be sent because the server was not reading \
                     (backpressure); corrected latency counts that wait, uncorrected latency hides it.",
                    s.send_lag_us.p99 / 1000.0
                ));
            }
        }
        if self.counters.unsent > 0 {
            w.push(self.unsent_line());
        }
        if self.interrupted {
            w.push(format!(
                "INTERRUPTED: the window was closed after {:.2} s of the {:.2} s asked for; the figures cover that part only.",
                self.window_s,
                self.config.duration.as_secs_f64()
            ));
        }
        if let Some(at) = self.all_connections_closed_s {
            w.push(self.cut_short_line(at));
        }
        if let Some(d) = self.datagrams.filter(|d| d.lost > 0) {
            w.push(format!(
                "note: {} of {} datagram requests ({:.3}%) were lost (no reply within {:?}); the latency \
                 percentiles cover the delivered replies only.",
                d.lost,
                d.delivered + d.lost,
                d.loss_rate * 100.0,
                Duration::from_secs_f64(d.loss_timeout_s)
            ));
        }
        if let Some(f) = self.flood.as_ref().filter(|f| f.limit == Limit::Generator) {
            w.push(format!("WARNING: {}.", f.verdict));
        }
        if self.requests == 0 {
            w.push("WARNING: no request completed in the measurement window.".into());
        } else {
            w.extend(timeline::stall_warning(&self.timeline));
        }
        w
    }

    /// The human-readable report.
    pub fn render(&self) -> String {
        let c = &self.config;
        let mut s = String::new();
        let load = match c.load {
            Load::Closed { depth } => format!("closed loop, depth {depth}"),
            Load::Open { rate } => format!("open loop, {} req/s", rate_text(rate)),
            Load::Flood { window } => {
                format!("flood, window {} per connection", bytes_text(window))
            }
        };
        let _ = writeln!(
            s,
            "target {}  {load}  {} x {} B  {:?} ({})  {} thread(s)",
            c.target,
            count(u64::from(c.connections), "connection", "connections"),
            c.size,
            c.duration,
            warmup_text(c.warmup),
            c.threads
        );
        if self.interrupted {
            let _ = writeln!(
                s,
                "INTERRUPTED after {:.2} s of the window: figures below cover that part only",
                self.window_s
            );
        }
        if let Some(at) = self.all_connections_closed_s {
            let _ = writeln!(s, "{}", self.cut_short_line(at));
        }
        let t = &self.throughput;
        if self.nothing_measured() {
            // Fairness 1.0 and a row of zero latencies would read as
            // figures; there are none.
            let _ = writeln!(
                s,
                "{:<11}nothing was measured: no {} in the window, so no throughput, latency or fairness",
                if self.flood.is_some() { "echoed" } else { "requests" },
                if self.flood.is_some() { "byte was echoed" } else { "reply was counted" }
            );
        } else if let Some(f) = &self.flood {
            self.render_flood(&mut s, f);
        } else {
            let _ = writeln!(
                s,
                "requests   {:>12}   {} req/s   {:.2} MB/s   fairness (Jain) {:.4}",
                self.requests,
                rate_text(t.requests_per_sec),
                t.mb_per_sec,
                t.jain_fairness
            );
            self.render_latency(&mut s);
        }
        if !self.nothing_measured() {
            let interval = c.interval.unwrap_or(Duration::from_secs(1));
            for line in timeline::lines(&self.timeline, interval) {
                let _ = writeln!(s, "{line}");
            }
        }
        if let Some(sv) = &self.server {
            let _ = writeln!(
                s,
                "server     {}   {:.2} µs CPU per request   generator {:.0}% of a CPU",
                server_text(&sv.usage),
                sv.cpu_us_per_request,
                self.generator_cpu_utilisation.unwrap_or(0.0) * 100.0
            );
        }
        if let Some(m) = self.machine_load.as_ref().filter(|m| m.busy()) {
            let _ = writeln!(s, "machine    busy: {}", m.warnings.join("; "));
        }
        let k = &self.counters;
        if self.clean {
            let _ = writeln!(s, "faults     none: every echoed byte verified");
        } else {
            let _ = writeln!(
                s,
                "FAULTS     corrupt {}  foreign {}  reordered {}  truncated {}  connection errors {}",
                k.corrupt, k.foreign, k.reordered, k.truncated, k.connection_errors
            );
            for e in &self.error_messages {
                let _ = writeln!(s, "  {e}");
            }
        }
        s
    }

    /// True when the window counted nothing: no reply (no echoed byte in a
    /// flood), so there are no figures to show. `run` exits 1 then.
    pub fn nothing_measured(&self) -> bool {
        match &self.flood {
            Some(f) => f.echoed_bytes == 0,
            None => self.requests == 0,
        }
    }

    /// Requests due in the window that never reached a socket, with the
    /// causes this run saw. A request waits unsent while its connection's
    /// socket is full (the server is not reading: its send lag then runs
    /// far ahead of the generator's own dispatch lag), while the generator
    /// is late taking it off the schedule, or for ever once its connection
    /// has failed.
    fn unsent_line(&self) -> String {
        let (behind, backpressure) = self.schedule.as_ref().map_or((false, false), |s| {
            (
                !s.generator_kept_up,
                s.send_lag_us.p99 - s.dispatch_lag_us.p99 > BACKPRESSURE_NOTE.as_secs_f64() * 1e6,
            )
        });
        let mut causes = Vec::new();
        if self.counters.connection_errors > 0 {
            causes.push("connections failed with requests still to send (see the faults)");
        }
        if backpressure {
            causes.push(
                "the server stopped taking data, so the sockets stayed full (a server that stalled, \
                 or a --rate beyond what it reads: measure it at a lower --rate)",
            );
        } else if behind {
            // Without backpressure the sockets had room: the requests were
            // still waiting for the generator when the window closed.
            causes.push("the generator fell behind its schedule (see the warning about it)");
        }
        if causes.is_empty() {
            causes.push(
                "the server stopped taking data, the generator fell behind, or a connection failed",
            );
        }
        format!(
            "WARNING: {} scheduled in the window {} never sent: {}. The latency percentiles do not include \
             them, so they UNDERSTATE the latency of this run.",
            count(self.counters.unsent, "request", "requests"),
            if self.counters.unsent == 1 { "was" } else { "were" },
            causes.join("; ")
        )
    }

    /// The window ended early because the server closed every connection.
    fn cut_short_line(&self, at: f64) -> String {
        format!(
            "CUT SHORT: every connection had closed {at:.2} s into the {:.2} s window, so the window was cut \
             short there; the rates cover those {at:.2} s only.",
            self.config.duration.as_secs_f64()
        )
    }

    /// The flood's lines: echoed bytes, why there is no latency, the
    /// server's CPU and which side was the limit.
    fn render_flood(&self, s: &mut String, f: &FloodReport) {
        let _ = writeln!(
            s,
            "echoed     {:>12} B   {:.2} MB/s   {} replies of {} B   fairness (Jain) {:.4}",
            f.echoed_bytes,
            f.mb_per_sec,
            self.requests,
            self.config.size,
            self.throughput.jain_fairness
        );
        let _ = writeln!(s, "latency    {NO_FLOOD_LATENCY}");
        if let Reading::Value(sv) = &f.server {
            let _ = writeln!(
                s,
                "server     {}   {:.0} MB echoed per server CPU-second",
                server_text(&sv.usage),
                sv.mb_per_cpu_second
            );
        }
        let _ = writeln!(s, "limit      {}", f.verdict);
    }

    /// The latency table, and the open loop's schedule and the datagram
    /// counts that qualify it.
    fn render_latency(&self, s: &mut String) {
        let Some(latency) = &self.latency_us else {
            return;
        };
        let _ = writeln!(
            s,
            "{:<10}{:>10}{:>10}{:>10}{:>10}{:>10}{:>10}{:>10}",
            "latency µs", "p50", "p90", "p99", "p99.9", "p99.99", "max", "mean"
        );
        let row = |name: &str, p: &Percentiles| {
            format!(
                "{name:<10}{:>10.1}{:>10.1}{:>10.1}{:>10.1}{:>10.1}{:>10.1}{:>10.1}",
                p.p50, p.p90, p.p99, p.p999, p.p9999, p.max, p.mean
            )
        };
        match &self.latency_us_uncorrected {
            None => {
                let _ = writeln!(s, "{}", row("", latency));
            }
            Some(u) => {
                let _ = writeln!(
                    s,
                    "{}   <- from intended send time",
                    row("corrected", latency)
                );
                let _ = writeln!(s, "{}   <- from actual send time", row("uncorr.", u));
            }
        }
        if let Some(sch) = &self.schedule {
            let _ = writeln!(
                s,
                "schedule   target {} req/s, achieved {} req/s; dispatch lag p99 {:.0} µs max {:.0} µs; \
                 send lag p99 {:.0} µs max {:.0} µs",
                rate_text(sch.target_rate),
                rate_text(sch.achieved_rate),
                sch.dispatch_lag_us.p99,
                sch.dispatch_lag_us.max,
                sch.send_lag_us.p99,
                sch.send_lag_us.max
            );
        }
        if let Some(d) = &self.datagrams {
            let _ = writeln!(s, "datagrams  {}", d.line());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::Sample;
    use crate::procstat::Reading;

    fn machine(warnings: &[&str]) -> MachineLoad {
        MachineLoad {
            before: Sample::default(),
            after: Sample::default(),
            steal_percent: Reading::Value(0.0),
            other_cpu_percent: Reading::Value(100.0),
            warnings: warnings.iter().map(|w| w.to_string()).collect(),
        }
    }

    // Regression: on a machine where another process held a CPU, the
    // open-loop warning advised more --threads, fewer --connections or a
    // lower --rate, none of which was the cause.
    #[test]
    fn a_generator_behind_schedule_on_a_busy_machine_blames_the_machine() {
        let busy = machine(&["other processes used 100% of a CPU during the window"]);
        let a = behind_schedule_advice(Some(&busy), Some(0.4), 1, 2);
        assert!(
            a.contains("Likely cause: a busy machine (other processes used 100% of a CPU"),
            "{a}"
        );
        assert!(!a.contains("--threads"), "{a}");
        // At its CPU limit on a busy machine: both are named.
        let a = behind_schedule_advice(Some(&busy), Some(1.0), 1, 2);
        assert!(
            a.contains("at its CPU limit") && a.contains("busy machine"),
            "{a}"
        );
    }

    #[test]
    fn a_generator_at_its_cpu_limit_is_named_and_told_what_helps() {
        let quiet = machine(&[]);
        let a = behind_schedule_advice(Some(&quiet), Some(0.99), 1, 2);
        assert!(a.contains("at its CPU limit (99% of the 1 CPU(s)"), "{a}");
        assert!(a.contains("more --threads"), "{a}");
        let a = behind_schedule_advice(Some(&quiet), Some(0.99), 2, 1);
        assert!(a.contains("more --threads cannot help"), "{a}");
        let a = behind_schedule_advice(None, Some(0.3), 1, 2);
        assert_eq!(
            a,
            "Use more --threads, fewer --connections or a lower --rate."
        );
    }
}
