//! Open-loop points (`compare --rates`): latency against offered load, and
//! the objective (`--slo`) each model is judged by.
//!
//! A rate point offers a fixed number of requests per second over
//! `--rate-connections` connections (`run --rate`), whether or not the
//! server keeps up, and measures latency from each request's intended send
//! time. So a point past what a model can serve is not dropped or cut
//! short: it is measured "behind" (achieved below offered, or requests left
//! unsent), and shown as such.
//!
//! # Kept up, held, the knee
//! - A round **kept up** when it achieved at least [`KEPT_UP`] of the
//!   offered rate, left at most [`UNSENT_SHARE`] of its requests unsent
//!   and saw no fault.
//! - A point **held** the objective when, on the medians of its rounds, it
//!   kept up and the objective's percentile was within the limit. Rounds
//!   that disagree (some held, some did not) are counted, and the reports
//!   say so.
//! - A model's **highest held** rate is the highest offered rate at which
//!   its point held. The **knee** is the highest rate that every measured
//!   model held, with the server CPU each needed there.
//!
//! The generator's own dispatch lag is kept beside the latency: a
//! generator that fell behind its schedule adds its lag to every latency,
//! and must not be mistaken for a slow server.

use std::fmt;

use serde::Serialize;

use super::{Kind, Point, RoundFigures, Spread};
use crate::procstat::Memory;
use crate::stats::{Hist, Percentiles};

/// The share of the offered rate a round must achieve to count as keeping
/// up: a little under 1, since the replies to the last requests of the
/// window may still be on their way when it closes.
pub const KEPT_UP: f64 = 0.97;

/// The share of a round's requests it may leave unsent and still count as
/// keeping up. Not 0: a generator that is a millisecond behind its
/// schedule when the window closes leaves that millisecond's requests
/// unsent, which says nothing about the server (the dispatch lag column
/// says it about the generator). A server that cannot keep up leaves far
/// more: every request its backlog holds back.
pub const UNSENT_SHARE: f64 = 0.01;

/// True when `unsent` requests are few enough beside the `requests`
/// answered to count as keeping up ([`UNSENT_SHARE`]).
pub fn few_unsent(unsent: f64, requests: f64) -> bool {
    unsent <= UNSENT_SHARE * (requests + unsent)
}

/// The figures of one round of one rate point.
#[derive(Clone, Debug, Serialize)]
pub struct RateMetrics {
    /// Requests per second offered (`--rates`).
    pub offered_per_sec: f64,
    /// Replies counted per second of the window.
    pub requests_per_sec: f64,
    /// Latency from intended send time (µs).
    pub latency_us: Percentiles,
    /// The generator's dispatch lag (µs): how late it took due requests off
    /// its schedule. p99 and max are the figures kept.
    pub dispatch_lag_us: Percentiles,
    /// True when the dispatch lag's p99 passed the limit at which `run`
    /// warns that the generator could not keep its own schedule.
    pub generator_behind: bool,
    /// Replies counted.
    pub requests: u64,
    /// Requests due in the window that were never sent.
    pub unsent: u64,
    /// Reordered/truncated replies and failed connections.
    pub errors: u64,
    /// Damaged replies.
    pub corrupt: u64,
    /// Server CPU time over the window, as a fraction of one CPU.
    #[serde(serialize_with = "super::cpu_figure")]
    pub server_cpu_utilisation: f64,
    /// Server CPU (user + system) per reply, in µs.
    #[serde(serialize_with = "super::cpu_figure")]
    pub server_cpu_us_per_request: f64,
    /// Server memory at the end of the window.
    pub server_memory: Memory,
    /// The generator's own CPU over the window, as a fraction of one CPU.
    pub generator_cpu_utilisation: f64,
    /// How the server exited when stopped.
    pub server_exit: String,
    /// True when Ctrl-C (or SIGTERM) cut this round's window short.
    pub interrupted: bool,
    /// Latency from intended send time, kept to pool the rounds.
    #[serde(skip)]
    pub histogram: Hist,
}

impl RateMetrics {
    /// True when the round kept up (see the module's contract).
    pub fn kept_up(&self) -> bool {
        self.requests_per_sec >= KEPT_UP * self.offered_per_sec
            && few_unsent(self.unsent as f64, self.requests as f64)
            && self.faults() == 0
    }
}

impl RoundFigures for RateMetrics {
    fn faults(&self) -> u64 {
        self.errors + self.corrupt
    }

    fn interrupted(&self) -> bool {
        self.interrupted
    }
}

/// A rate point's rounds summarised: medians and spreads over the rounds,
/// pooled latency, and the verdict on the objective.
#[derive(Clone, Debug, Serialize)]
pub struct RateSummary {
    /// Rounds that were measured.
    pub rounds_measured: usize,
    /// Replies per second achieved over the rounds.
    pub requests_per_sec: Spread,
    /// Median achieved over offered.
    pub achieved_ratio: f64,
    /// p50 latency (µs) over the rounds.
    pub p50_us: Spread,
    /// p99 latency (µs) over the rounds.
    pub p99_us: Spread,
    /// p99.9 latency (µs) over the rounds.
    pub p999_us: Spread,
    /// Largest latency (µs) over the rounds.
    pub max_us: Spread,
    /// The objective's percentile (µs) over the rounds.
    pub slo_us: Spread,
    /// Latency percentiles of all rounds' requests together (µs).
    pub latency_us: Percentiles,
    /// The generator's dispatch lag p99 (µs) over the rounds.
    pub dispatch_lag_p99_us: Spread,
    /// The generator's largest dispatch lag (µs) over the rounds.
    pub dispatch_lag_max_us: Spread,
    /// True when the generator fell behind its schedule in any round: its
    /// lag is in every latency of that round.
    pub generator_behind: bool,
    /// Server CPU utilisation (fraction of one CPU) over the rounds.
    #[serde(serialize_with = "super::cpu_figure")]
    pub server_cpu_utilisation: Spread,
    /// Server CPU per reply (µs) over the rounds.
    #[serde(serialize_with = "super::cpu_figure")]
    pub server_cpu_us_per_request: Spread,
    /// Largest server memory seen over the rounds.
    pub server_memory: Memory,
    /// Median generator CPU utilisation (fraction of one CPU).
    pub generator_cpu_utilisation: f64,
    /// Replies counted, all rounds.
    pub requests: u64,
    /// Requests left unsent, all rounds.
    pub unsent: u64,
    /// Errors, all rounds.
    pub errors: u64,
    /// Damaged replies, all rounds.
    pub corrupt: u64,
    /// On the medians: achieved at least [`KEPT_UP`] of offered, with few
    /// enough unsent ([`few_unsent`], median round) and no fault.
    pub kept_up: bool,
    /// On the medians: kept up and the objective's percentile within its
    /// limit.
    pub held: bool,
    /// Rounds that held the objective on their own figures; between 0 and
    /// `rounds_measured` exclusive, the rounds disagree.
    pub rounds_held: usize,
    /// True when a round was cut short by an interruption.
    pub interrupted: bool,
}

impl RateSummary {
    /// True when some rounds held the objective and others did not.
    pub fn rounds_disagree(&self) -> bool {
        self.rounds_held > 0 && self.rounds_held < self.rounds_measured
    }
}

/// A rate point as the sweep measures it: its connections are
/// `--rate-connections`, its offered rate is kept beside it
/// ([`RatePoint`]).
pub type RateRow = Point<RateSummary, RateMetrics>;

/// One open-loop point: a model at one offered rate.
#[derive(Clone, Debug, Serialize)]
pub struct RatePoint {
    /// Requests per second offered.
    pub offered_per_sec: f64,
    /// The model, connections, outcome and rounds.
    #[serde(flatten)]
    pub point: RateRow,
}

/// The percentiles an objective may name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Quantile {
    /// The median.
    P50,
    /// The 90th percentile.
    P90,
    /// The 99th percentile.
    P99,
    /// The 99.9th percentile.
    P999,
}

impl Quantile {
    /// This percentile of `p`.
    pub fn of(self, p: &Percentiles) -> f64 {
        match self {
            Quantile::P50 => p.p50,
            Quantile::P90 => p.p90,
            Quantile::P99 => p.p99,
            Quantile::P999 => p.p999,
        }
    }

    /// `p99.9` and so on, as the reports print it.
    pub fn name(self) -> &'static str {
        match self {
            Quantile::P50 => "p50",
            Quantile::P90 => "p90",
            Quantile::P99 => "p99",
            Quantile::P999 => "p99.9",
        }
    }
}

/// A latency objective: `percentile` at most `limit_us`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Slo {
    /// The percentile judged.
    pub percentile: Quantile,
    /// Its limit, in µs.
    pub limit_us: f64,
}

/// `--slo` by default. On loopback an echo takes tens of µs; 1 ms at p99
/// leaves room for 1000 connections' worth of queueing while still
/// failing a server that has started to fall behind, whose queue grows
/// by milliseconds within a window.
pub const DEFAULT_SLO: &str = "p99=1ms";

impl Slo {
    /// Parses `p99=1ms`: one of p50, p90, p99, p999 (or p99.9), `=`, a
    /// positive number and a unit of us (or µs), ms or s. The error says
    /// what is wrong without quoting the input.
    pub fn parse(s: &str) -> Result<Slo, String> {
        let (q, limit) = s
            .trim()
            .split_once('=')
            .ok_or("expected PERCENTILE=LIMIT, e.g. p99=1ms")?;
        let percentile = match q.trim() {
            "p50" => Quantile::P50,
            "p90" => Quantile::P90,
            "p99" => Quantile::P99,
            "p999" | "p99.9" => Quantile::P999,
            _ => return Err("the percentile must be p50, p90, p99 or p999".into()),
        };
        let limit = limit.trim();
        let (number, scale) = [("us", 1.0), ("µs", 1.0), ("ms", 1e3), ("s", 1e6)]
            .iter()
            .find_map(|&(unit, scale)| limit.strip_suffix(unit).map(|n| (n, scale)))
            .ok_or("the limit needs a unit: us, ms or s (e.g. 500us)")?;
        let limit_us = number
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|x| x.is_finite() && *x > 0.0)
            .ok_or("the limit must be a positive number before its unit")?
            * scale;
        Ok(Slo {
            percentile,
            limit_us,
        })
    }
}

impl fmt::Display for Slo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let us = self.limit_us;
        let limit = if us >= 1e6 {
            format!("{} s", us / 1e6)
        } else if us >= 1e3 {
            format!("{} ms", us / 1e3)
        } else {
            format!("{us} µs")
        };
        write!(f, "{} ≤ {limit}", self.percentile.name())
    }
}

/// What one model held.
#[derive(Clone, Debug, Serialize)]
pub struct Held {
    /// The model.
    pub model: String,
    /// The highest offered rate at which it held the objective, or None
    /// when it held at no measured rate.
    pub highest_per_sec: Option<f64>,
    /// Offered rates at which its rounds disagreed on the objective.
    pub rounds_disagree_at: Vec<f64>,
}

/// What one model's server needed at the knee.
#[derive(Clone, Debug, Serialize)]
pub struct KneeCpu {
    /// The model.
    pub model: String,
    /// Median server CPU utilisation (fraction of one CPU).
    pub server_cpu_utilisation: f64,
    /// Median server CPU per echo, in µs.
    pub server_cpu_us_per_request: f64,
}

/// The highest rate every measured model held, and what each needed there.
#[derive(Clone, Debug, Serialize)]
pub struct Knee {
    /// Requests per second offered.
    pub offered_per_sec: f64,
    /// Each measured model's server CPU there, in `--models` order.
    pub models: Vec<KneeCpu>,
}

/// The open-loop part of a comparison, as written to `results.json`
/// beside the closed-loop and saturation points.
#[derive(Clone, Debug, Default, Serialize)]
pub struct OpenLoop {
    /// Connections of every rate point (`--rate-connections`).
    pub rate_connections: u32,
    /// The objective, when rate points were asked for.
    pub slo: Option<Slo>,
    /// One entry per (rate, model), in the order of `--rates` then
    /// `--models`.
    pub rates: Vec<RatePoint>,
    /// Per model, the highest rate that held the objective.
    pub held: Vec<Held>,
    /// The highest rate every measured model held, or None when there is
    /// none (or nothing was measured).
    pub knee: Option<Knee>,
}

impl OpenLoop {
    /// The verdicts over `rates` for `models`: each measured model's
    /// highest held rate, and the knee.
    pub fn judge(
        rate_connections: u32,
        slo: Option<Slo>,
        rates: Vec<RatePoint>,
        models: &[String],
    ) -> OpenLoop {
        let measured: Vec<&String> = models
            .iter()
            .filter(|m| {
                rates
                    .iter()
                    .any(|r| &r.point.model == *m && summary(r).is_some())
            })
            .collect();
        let held = measured
            .iter()
            .map(|m| {
                let mine = || rates.iter().filter(|r| &r.point.model == *m);
                Held {
                    model: m.to_string(),
                    highest_per_sec: mine()
                        .filter(|r| summary(r).is_some_and(|s| s.held))
                        .map(|r| r.offered_per_sec)
                        .max_by(f64::total_cmp),
                    rounds_disagree_at: mine()
                        .filter(|r| summary(r).is_some_and(RateSummary::rounds_disagree))
                        .map(|r| r.offered_per_sec)
                        .collect(),
                }
            })
            .collect();
        let at = |rate: f64, model: &str| {
            rates
                .iter()
                .find(|r| r.offered_per_sec == rate && r.point.model == model)
                .and_then(summary)
        };
        let knee = rates
            .iter()
            .map(|r| r.offered_per_sec)
            .filter(|&rate| {
                !measured.is_empty() && measured.iter().all(|m| at(rate, m).is_some_and(|s| s.held))
            })
            .max_by(f64::total_cmp)
            .map(|rate| Knee {
                offered_per_sec: rate,
                models: measured
                    .iter()
                    .filter_map(|m| {
                        let s = at(rate, m)?;
                        Some(KneeCpu {
                            model: m.to_string(),
                            server_cpu_utilisation: s.server_cpu_utilisation.median,
                            server_cpu_us_per_request: s.server_cpu_us_per_request.median,
                        })
                    })
                    .collect(),
            });
        OpenLoop {
            rate_connections,
            slo,
            rates,
            held,
            knee,
        }
    }

    /// The rate points themselves, without their offered rates.
    pub fn rows(&self) -> impl Iterator<Item = &RateRow> {
        self.rates.iter().map(|r| &r.point)
    }
}

fn summary(r: &RatePoint) -> Option<&RateSummary> {
    r.point.summary()
}

/// A rate point not yet run, as the sweep starts it.
pub fn rate_point(offered_per_sec: f64, point: RateRow) -> RatePoint {
    debug_assert_eq!(point.kind, Kind::Rate);
    RatePoint {
        offered_per_sec,
        point,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sweep::Outcome;

    #[test]
    fn a_few_requests_left_at_the_windows_end_still_keep_up_a_backlog_does_not() {
        // 20,000 answered: 42 unsent is the generator's last millisecond,
        // 2,758 is a server that fell behind.
        assert!(few_unsent(0.0, 20_000.0));
        assert!(few_unsent(42.0, 20_000.0));
        assert!(few_unsent(200.0, 19_800.0));
        assert!(!few_unsent(202.0, 19_798.0));
        assert!(!few_unsent(2_758.0, 180_000.0));
        assert!(!few_unsent(1.0, 0.0));
    }

    #[test]
    fn objectives_parse_with_their_units_and_refuse_the_rest() {
        let slo = Slo::parse("p99=1ms").unwrap();
        assert_eq!((slo.percentile, slo.limit_us), (Quantile::P99, 1000.0));
        assert_eq!(Slo::parse("p999=250us").unwrap().percentile, Quantile::P999);
        assert_eq!(Slo::parse("p99.9=2s").unwrap().limit_us, 2e6);
        assert_eq!(Slo::parse(" p50 = 0.5ms ").unwrap().limit_us, 500.0);
        assert_eq!(Slo::parse("p90=80µs").unwrap().limit_us, 80.0);
        assert_eq!(Slo::parse(DEFAULT_SLO).unwrap().to_string(), "p99 ≤ 1 ms");
        for bad in [
            "p99", "p98=1ms", "p99=1", "p99=-1ms", "p99=0ms", "p99=xms", "=1ms",
        ] {
            assert!(Slo::parse(bad).is_err(), "{bad}");
        }
    }

    /// A measured point of `model` at `rate` whose rounds achieved
    /// `achieved` of offered and had `p99` (µs).
    fn point(model: &str, rate: f64, rounds: &[(f64, f64)], slo: Slo) -> RatePoint {
        let held = |&(a, p): &(f64, f64)| a >= KEPT_UP && p <= slo.limit_us;
        let ratio = Spread::of(&rounds.iter().map(|r| r.0).collect::<Vec<_>>());
        let p99 = Spread::of(&rounds.iter().map(|r| r.1).collect::<Vec<_>>());
        let cpu = Spread::of(&[rate / 1e5]);
        let s = RateSummary {
            rounds_measured: rounds.len(),
            requests_per_sec: Spread::of(&[rate * ratio.median]),
            achieved_ratio: ratio.median,
            p50_us: p99,
            p99_us: p99,
            p999_us: p99,
            max_us: p99,
            slo_us: p99,
            latency_us: Percentiles::default(),
            dispatch_lag_p99_us: Spread::default(),
            dispatch_lag_max_us: Spread::default(),
            generator_behind: false,
            server_cpu_utilisation: cpu,
            server_cpu_us_per_request: Spread::of(&[model.len() as f64]),
            server_memory: Memory::unavailable("not measured in this test"),
            generator_cpu_utilisation: 0.0,
            requests: 0,
            unsent: 0,
            errors: 0,
            corrupt: 0,
            kept_up: ratio.median >= KEPT_UP,
            held: ratio.median >= KEPT_UP && p99.median <= slo.limit_us,
            rounds_held: rounds.iter().filter(|r| held(r)).count(),
            interrupted: false,
        };
        rate_point(
            rate,
            Point {
                model: model.into(),
                connections: 1000,
                kind: Kind::Rate,
                outcome: Outcome::Ok(Box::new(s)),
                rounds: Vec::new(),
            },
        )
    }

    #[test]
    fn each_model_holds_up_to_its_highest_rate_and_the_knee_is_what_all_held() {
        let slo = Slo::parse("p99=1ms").unwrap();
        let models = ["reactor".to_string(), "threads".into(), "iterative".into()];
        let rates = vec![
            point("reactor", 10e3, &[(1.0, 50.0)], slo),
            point("threads", 10e3, &[(1.0, 80.0)], slo),
            point("reactor", 50e3, &[(1.0, 300.0)], slo),
            // Kept up, but its p99 is over the limit.
            point("threads", 50e3, &[(0.99, 4000.0)], slo),
            point(
                "reactor",
                100e3,
                &[(0.99, 900.0), (0.8, 9000.0), (1.0, 800.0)],
                slo,
            ),
            // Fast replies to the requests it served, but it fell behind.
            point("threads", 100e3, &[(0.6, 200.0)], slo),
        ];
        let o = OpenLoop::judge(1000, Some(slo), rates, &models);
        // iterative had no measured point: neither held nor in the knee.
        assert_eq!(o.held.len(), 2);
        assert_eq!(o.held[0].highest_per_sec, Some(100e3));
        assert_eq!(o.held[0].rounds_disagree_at, [100e3]);
        assert_eq!(o.held[1].highest_per_sec, Some(10e3));
        let knee = o.knee.unwrap();
        assert_eq!(knee.offered_per_sec, 10e3);
        let cpu: Vec<(&str, f64)> = knee
            .models
            .iter()
            .map(|k| (k.model.as_str(), k.server_cpu_us_per_request))
            .collect();
        assert_eq!(cpu, [("reactor", 7.0), ("threads", 7.0)]);
    }

    #[test]
    fn no_knee_when_some_model_held_nowhere() {
        let slo = Slo::parse("p50=10us").unwrap();
        let models = ["reactor".to_string(), "threads".into()];
        let rates = vec![
            point("reactor", 10e3, &[(1.0, 5.0)], slo),
            point("threads", 10e3, &[(1.0, 50.0)], slo),
        ];
        let o = OpenLoop::judge(10, Some(slo), rates, &models);
        assert_eq!(o.held[1].highest_per_sec, None);
        assert!(o.knee.is_none());
        assert!(OpenLoop::judge(10, Some(slo), Vec::new(), &models)
            .knee
            .is_none());
    }
}
