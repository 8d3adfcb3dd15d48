//! Reading the two files: a `compare` results.json or a `run --json`
//! result, into the points [`super::pair`] matches up.
//!
//! The structs here are diff's own and lenient on purpose: every field is
//! optional and unknown ones are ignored, so a file from an older or newer
//! loadgen (open-loop `rates`, external servers, a run's `timeline`) reads
//! as long as its points carry a model, a load and a status. What a file
//! lacks gives fewer figures, never an error.

use serde::Deserialize;

use crate::sweep::Spread;
use crate::usage_error::{shorten, usage, UsageError};

/// Which producer wrote a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// `loadgen compare`'s results.json.
    Compare,
    /// `loadgen run --json`.
    Run,
}

impl Source {
    /// How a message names it.
    pub fn name(self) -> &'static str {
        match self {
            Source::Compare => "a compare results.json",
            Source::Run => "a run --json result",
        }
    }
}

/// The load a point was measured under; each has its own figures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Section {
    /// Closed loop: req/s, CPU per echo, p99.
    Closed,
    /// Open loop at an offered rate: the same figures.
    Rate,
    /// Saturation (flood): MB/s and MB per server CPU-second.
    Flood,
}

/// What identifies a point in both files.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Key {
    /// Its section.
    pub section: Section,
    /// Model or server name (`run` for a run result).
    pub model: String,
    /// The entry's `kind` when it is not just its section's name (an
    /// external server's, say).
    pub kind: Option<String>,
    /// Connections, or the offered rate, as written.
    pub at: String,
}

impl Key {
    /// `reactor x 100 conns`, `reactor at 5000/s`, `nginx (external) x 50
    /// conns`.
    pub fn label(&self) -> String {
        let kind = self
            .kind
            .as_ref()
            .map_or(String::new(), |k| format!(" ({k})"));
        match self.section {
            Section::Rate => format!("{}{kind} at {}/s", self.model, self.at),
            Section::Closed | Section::Flood => format!("{}{kind} x {} conns", self.model, self.at),
        }
    }
}

/// One point of one file.
#[derive(Clone, Debug)]
pub struct Entry {
    /// Where it belongs.
    pub key: Key,
    /// What was measured, or why nothing was.
    pub state: State,
    /// Per round, in the order run (a failed round too, all `None`): one
    /// figure per metric of its section, `None` where the round has none.
    /// What [`super::paired`] pairs up; empty for a run result.
    pub rounds: Vec<Vec<Option<f64>>>,
}

/// A point's figures, or what happened instead.
#[derive(Clone, Debug)]
pub enum State {
    /// Measured: one figure per metric of its section (see
    /// [`super::rule::metrics`]), `None` where the file has none.
    Measured {
        /// Over the rounds (compare), or the whole run as one sample.
        whole: Vec<Option<Spread>>,
        /// A run's per-second figures, when its file has a timeline.
        seconds: Option<Vec<Option<Spread>>>,
    },
    /// Not measured: `n/a (reason)`, `FAILED: error`, `not run`.
    Not(String),
}

/// A file read: what wrote it, and its points in file order.
#[derive(Clone, Debug)]
pub struct Results {
    /// Its producer.
    pub source: Source,
    /// Its points.
    pub entries: Vec<Entry>,
    /// The producer's warnings that the machine was busy while it
    /// measured (load, steal, other processes); empty when it was quiet
    /// or the file does not say.
    pub busy: Vec<String>,
}

/// The part of `machine_load` (compare and run alike) diff reads.
#[derive(Deserialize, Debug, Default)]
struct MachineLoad {
    #[serde(default)]
    warnings: Vec<String>,
}

/// The top of either file, for its machine's warnings.
#[derive(Deserialize, Debug)]
struct Top {
    #[serde(default)]
    machine_load: Option<MachineLoad>,
}

/// A figure as a file holds it: a spread over rounds, a bare number, or
/// anything else (`{"n/a": …}`), which counts as missing.
#[derive(Deserialize, Debug)]
#[serde(untagged)]
enum Fig {
    Spread {
        median: f64,
        min: f64,
        max: f64,
        n: usize,
    },
    Bare(f64),
    Other(serde::de::IgnoredAny),
}

impl Fig {
    fn spread(f: &Option<Fig>) -> Option<Spread> {
        match f {
            Some(Fig::Spread {
                median,
                min,
                max,
                n,
            }) => Some(Spread {
                median: *median,
                min: *min,
                max: *max,
                n: *n,
            }),
            Some(Fig::Bare(x)) => Some(Spread::of(&[*x])),
            _ => None,
        }
    }
}

#[derive(Deserialize, Debug)]
struct CompareFile {
    #[serde(default)]
    points: Vec<RawPoint>,
    #[serde(default)]
    rates: Vec<RawPoint>,
    #[serde(default)]
    saturation: Vec<RawPoint>,
}

#[derive(Deserialize, Debug)]
struct RawPoint {
    model: Option<String>,
    name: Option<String>,
    kind: Option<String>,
    connections: Option<u64>,
    #[serde(alias = "offered_per_sec")]
    offered: Option<f64>,
    status: Option<String>,
    reason: Option<String>,
    error: Option<String>,
    requests_per_sec: Option<Fig>,
    server_cpu_us_per_request: Option<Fig>,
    p99_us: Option<Fig>,
    mb_per_sec: Option<Fig>,
    mb_per_server_cpu_second: Option<Fig>,
    #[serde(default)]
    rounds: Vec<RawRound>,
}

/// One of a compare point's `rounds`: its figures are bare numbers, or
/// `{"n/a": …}` where the server's CPU was not measured.
#[derive(Deserialize, Debug)]
struct RawRound {
    status: Option<String>,
    requests_per_sec: Option<Fig>,
    server_cpu_us_per_request: Option<Fig>,
    latency_us: Option<RoundLatency>,
    mb_per_sec: Option<Fig>,
    mb_per_server_cpu_second: Option<Fig>,
}

#[derive(Deserialize, Debug)]
struct RoundLatency {
    p99: Option<Fig>,
}

impl RawRound {
    /// Its figures in [`super::rule::metrics`]'s order for `section`.
    fn figures(&self, section: Section) -> Vec<Option<f64>> {
        let bare = |f: &Option<Fig>| match f {
            Some(Fig::Bare(x)) => Some(*x),
            _ => None,
        };
        let ok = self.status.as_deref().unwrap_or("ok") == "ok";
        let figures = match section {
            Section::Flood => vec![bare(&self.mb_per_sec), bare(&self.mb_per_server_cpu_second)],
            _ => vec![
                bare(&self.requests_per_sec),
                bare(&self.server_cpu_us_per_request),
                self.latency_us.as_ref().and_then(|l| bare(&l.p99)),
            ],
        };
        figures.into_iter().map(|f| f.filter(|_| ok)).collect()
    }
}

impl RawPoint {
    fn entry(self, section: Section) -> Entry {
        let at = match section {
            Section::Rate => self.offered.map(rate_text),
            _ => self.connections.map(|c| c.to_string()),
        };
        let key = Key {
            section,
            model: self.model.or(self.name).unwrap_or_else(|| "?".into()),
            // A load's name repeats the section; anything else (an
            // external server's kind) tells points apart.
            kind: self
                .kind
                .filter(|k| !["closed", "open", "rate", "flood"].contains(&k.as_str())),
            at: at.unwrap_or_else(|| "?".into()),
        };
        let why = |s: Option<String>| s.map_or(String::new(), |r| format!(" ({r})"));
        let state = match self.status.as_deref().unwrap_or("ok") {
            "ok" => State::Measured {
                whole: match section {
                    Section::Flood => vec![
                        Fig::spread(&self.mb_per_sec),
                        Fig::spread(&self.mb_per_server_cpu_second),
                    ],
                    _ => vec![
                        Fig::spread(&self.requests_per_sec),
                        Fig::spread(&self.server_cpu_us_per_request),
                        Fig::spread(&self.p99_us),
                    ],
                },
                seconds: None,
            },
            "not_applicable" | "unavailable" => State::Not(format!("n/a{}", why(self.reason))),
            "failed" => State::Not(format!(
                "FAILED{}",
                self.error.map_or(String::new(), |e| format!(": {e}"))
            )),
            "not_run" => State::Not("not run".into()),
            other => State::Not(other.replace('_', " ")),
        };
        let rounds = self.rounds.iter().map(|r| r.figures(section)).collect();
        Entry { key, state, rounds }
    }
}

#[derive(Deserialize, Debug)]
struct RunFile {
    #[serde(default)]
    config: RunConfig,
    requests: Option<u64>,
    throughput: Option<Throughput>,
    latency_us: Option<Latency>,
    server: Option<RunServer>,
    flood: Option<RunFlood>,
    timeline: Option<Vec<Tick>>,
}

#[derive(Deserialize, Debug, Default)]
struct RunConfig {
    connections: Option<u64>,
    size: Option<f64>,
    load: Option<RunLoad>,
}

#[derive(Deserialize, Debug)]
struct RunLoad {
    mode: Option<String>,
    rate: Option<f64>,
}

#[derive(Deserialize, Debug)]
struct Throughput {
    requests_per_sec: Option<f64>,
}

#[derive(Deserialize, Debug)]
struct Latency {
    p99: Option<f64>,
}

#[derive(Deserialize, Debug)]
struct RunServer {
    cpu_us_per_request: Option<f64>,
    mb_per_cpu_second: Option<f64>,
}

#[derive(Deserialize, Debug)]
struct RunFlood {
    mb_per_sec: Option<f64>,
    server: Option<RunServer>,
}

#[derive(Deserialize, Debug)]
struct Tick {
    requests_per_sec: Option<f64>,
    p99_us: Option<f64>,
}

/// From this many seconds on, a run's per-second figures are summarised by
/// their middle half (interquartile range) rather than their full range:
/// see "A run's seconds" in the long help.
pub const QUARTILES_FROM: usize = 8;

/// The median and range of a run's per-second values: the full range
/// below [`QUARTILES_FROM`] values, the interquartile range from there;
/// `None` without values.
pub fn seconds_spread(xs: &[f64]) -> Option<Spread> {
    if xs.is_empty() {
        return None;
    }
    let mut s = Spread::of(xs);
    if xs.len() >= QUARTILES_FROM {
        let mut v = xs.to_vec();
        v.sort_by(f64::total_cmp);
        let q = |p: f64| {
            // Linear interpolation between the closest ranks.
            let at = p * (v.len() - 1) as f64;
            let (lo, hi) = (at.floor() as usize, at.ceil() as usize);
            v[lo] + (v[hi] - v[lo]) * (at - lo as f64)
        };
        (s.min, s.max) = (q(0.25), q(0.75));
    }
    Some(s)
}

impl RunFile {
    fn entry(self) -> Entry {
        let load = self.config.load.as_ref();
        let mode = load.and_then(|l| l.mode.as_deref()).unwrap_or("closed");
        let conns = self
            .config
            .connections
            .map_or_else(|| "?".into(), |c| c.to_string());
        let (section, at) = match (mode, load.and_then(|l| l.rate)) {
            ("flood", _) => (Section::Flood, conns),
            ("open", Some(rate)) => (Section::Rate, rate_text(rate)),
            _ => (Section::Closed, conns),
        };
        let key = Key {
            section,
            model: "run".into(),
            kind: None,
            at,
        };
        if self.requests == Some(0) {
            return Entry {
                key,
                state: State::Not("nothing measured".into()),
                rounds: Vec::new(),
            };
        }
        let one = |x: Option<f64>| x.map(|x| Spread::of(&[x]));
        let ticks = self.timeline.unwrap_or_default();
        let per_second = |f: &dyn Fn(&Tick) -> Option<f64>| {
            seconds_spread(&ticks.iter().filter_map(f).collect::<Vec<_>>())
        };
        let (whole, seconds) = if section == Section::Flood {
            let flood = self.flood.as_ref();
            let mb = self.config.size.unwrap_or(0.0) / 1e6;
            (
                vec![
                    one(flood.and_then(|f| f.mb_per_sec)),
                    one(flood
                        .and_then(|f| f.server.as_ref())
                        .and_then(|s| s.mb_per_cpu_second)),
                ],
                // Flood requests are `size` bytes each.
                vec![per_second(&|t| t.requests_per_sec.map(|r| r * mb)), None],
            )
        } else {
            (
                vec![
                    one(self.throughput.and_then(|t| t.requests_per_sec)),
                    one(self.server.and_then(|s| s.cpu_us_per_request)),
                    one(self.latency_us.and_then(|l| l.p99)),
                ],
                vec![
                    per_second(&|t| t.requests_per_sec),
                    None,
                    per_second(&|t| t.p99_us),
                ],
            )
        };
        let seconds = (!ticks.is_empty()).then_some(seconds);
        Entry {
            key,
            state: State::Measured { whole, seconds },
            rounds: Vec::new(),
        }
    }
}

/// An offered rate as a key and a label show it: `5000`, `2500.5`.
fn rate_text(r: f64) -> String {
    format!("{r}")
}

/// Reads the file `path` holds as `text`.
///
/// # Errors
/// A [`UsageError`] naming the file: not JSON (with the parse error's
/// line and column), or neither a compare nor a run result.
pub fn parse(path: &str, text: &str) -> Result<Results, UsageError> {
    let shown = shorten(path);
    let bad = |e: serde_json::Error| usage(format!("{shown}: not a valid results file: {e}"));
    let value: serde_json::Value = serde_json::from_str(text).map_err(bad)?;
    let busy = serde_json::from_value::<Top>(value.clone())
        .ok()
        .and_then(|t| t.machine_load)
        .unwrap_or_default()
        .warnings;
    let Some(top) = value.as_object() else {
        return Err(usage(format!(
            "{shown}: not a loadgen result (expected a JSON object)"
        )));
    };
    if ["points", "saturation", "rates"]
        .iter()
        .any(|k| top.contains_key(*k))
    {
        let f: CompareFile = serde_json::from_str(text).map_err(bad)?;
        let entries = (f.points.into_iter().map(|p| p.entry(Section::Closed)))
            .chain(f.rates.into_iter().map(|p| p.entry(Section::Rate)))
            .chain(f.saturation.into_iter().map(|p| p.entry(Section::Flood)))
            .collect();
        Ok(Results {
            source: Source::Compare,
            entries,
            busy,
        })
    } else if top.contains_key("throughput") {
        let f: RunFile = serde_json::from_str(text).map_err(bad)?;
        Ok(Results {
            source: Source::Run,
            entries: vec![f.entry()],
            busy,
        })
    } else {
        Err(usage(format!(
            "{shown}: neither a compare results.json (no \"points\") nor a run --json result \
             (no \"throughput\")"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_timelines_take_the_middle_half() {
        let short = seconds_spread(&[1.0, 2.0, 100.0]).unwrap();
        assert_eq!(
            (short.min, short.median, short.max, short.n),
            (1.0, 2.0, 100.0, 3)
        );
        let xs: Vec<f64> = (1..=9).map(f64::from).collect();
        let long = seconds_spread(&xs).unwrap();
        assert_eq!(
            (long.min, long.median, long.max, long.n),
            (3.0, 5.0, 7.0, 9)
        );
        assert!(seconds_spread(&[]).is_none());
    }

    #[test]
    fn a_flood_run_reads_as_mb_per_second() {
        let text = r#"{"config": {"connections": 8, "size": 16384, "load": {"mode": "flood"}},
            "requests": 100, "throughput": {"requests_per_sec": 1000.0},
            "flood": {"mb_per_sec": 16.384, "server": {"n/a": "no --server-pid"}},
            "timeline": [{"start_s": 0, "requests_per_sec": 1000.0},
                         {"start_s": 1, "requests_per_sec": 2000.0}]}"#;
        let r = parse("run.json", text).unwrap();
        assert_eq!(r.source, Source::Run);
        let e = &r.entries[0];
        assert_eq!(e.key.label(), "run x 8 conns");
        assert_eq!(e.key.section, Section::Flood);
        let State::Measured { whole, seconds } = &e.state else {
            panic!("{e:?}")
        };
        assert_eq!(whole[0].unwrap().median, 16.384);
        assert!(whole[1].is_none(), "n/a server: no MB per CPU-second");
        let per_second = seconds.as_ref().unwrap()[0].unwrap();
        assert!(
            (per_second.max - 2.0 * 16.384).abs() < 1e-9,
            "{per_second:?}"
        );
    }

    #[test]
    fn statuses_read_as_the_reports_show_them() {
        let text = r#"{"points": [
            {"model": "uring", "connections": 1, "status": "unavailable", "reason": "blocked"},
            {"model": "tokio", "connections": 1, "status": "failed", "error": "boom"},
            {"model": "threads", "connections": 1, "status": "not_run"},
            {"name": "nginx", "kind": "external", "connections": 1, "status": "ok"}]}"#;
        let r = parse("results.json", text).unwrap();
        let shown: Vec<String> = r
            .entries
            .iter()
            .map(|e| match &e.state {
                State::Not(what) => format!("{}: {what}", e.key.label()),
                State::Measured { .. } => format!("{}: measured", e.key.label()),
            })
            .collect();
        assert_eq!(
            shown,
            [
                "uring x 1 conns: n/a (blocked)",
                "tokio x 1 conns: FAILED: boom",
                "threads x 1 conns: not run",
                "nginx (external) x 1 conns: measured"
            ]
        );
    }
}
