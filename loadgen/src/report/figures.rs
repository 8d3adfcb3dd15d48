//! What both the terminal table and `report.md` read off a point beyond its
//! summary: its faults, its RSS (or why it is missing), the rounds that
//! failed, and which models a ranking names were generator-bound. Derived
//! in one place so that the two reports cannot disagree about them.

use super::format::{compact, spread};
use crate::procstat::Reading;
use crate::sweep::{
    CompareReport, FloodSummary, Outcome, Point, Ranking, Round, RoundFigures, Summary,
};

/// What the reports read off a point's summary, whatever kind of point
/// it is, so that one renderer serves both kinds.
pub(crate) trait Marks {
    /// Errors and damaged replies over all its rounds.
    fn faults(&self) -> u64;
    /// Rounds that were measured.
    fn rounds_measured(&self) -> usize;
    /// True when the generator, not the server, was the limit.
    fn generator_bound(&self) -> bool;
    /// True when an interruption cut a round's window short.
    fn interrupted(&self) -> bool;
}

macro_rules! marks {
    ($($summary:ty),*) => {$(
        impl Marks for $summary {
            fn faults(&self) -> u64 {
                self.errors + self.corrupt
            }
            fn rounds_measured(&self) -> usize {
                self.rounds_measured
            }
            fn generator_bound(&self) -> bool {
                self.generator_bound
            }
            fn interrupted(&self) -> bool {
                self.interrupted
            }
        }
    )*};
}
marks!(Summary, FloodSummary);

/// The figures a closed-loop row of either report starts with: req/s,
/// server CPU per echo and p99 as median (min–max), then the pooled p50
/// and p99.9.
pub(crate) fn closed_figures(s: &Summary) -> Vec<String> {
    vec![
        spread(&s.requests_per_sec),
        spread(&s.server_cpu_us_per_request),
        spread(&s.p99_us),
        compact(s.latency_us.p50),
        compact(s.latency_us.p999),
    ]
}

/// Server RSS in MiB, or why it could not be read.
pub(crate) fn rss_mib(s: &Summary) -> Reading<f64> {
    s.server_memory.rss_kib.map(|&kib| kib as f64 / 1024.0)
}

/// The distinct reasons why points in `r` have no RSS, in the order met.
pub(crate) fn rss_missing(r: &CompareReport) -> Vec<&str> {
    let mut reasons: Vec<&str> = Vec::new();
    for s in r.points.iter().filter_map(Point::summary) {
        if let Reading::Unavailable { reason } = &s.server_memory.rss_kib {
            if !reasons.contains(&reason.as_str()) {
                reasons.push(reason);
            }
        }
    }
    reasons
}

/// The rounds of `p` that failed, as `(1-based round, error)`.
pub(crate) fn failed_rounds<S, M>(p: &Point<S, M>) -> impl Iterator<Item = (usize, &str)> {
    p.rounds.iter().enumerate().filter_map(|(i, r)| match r {
        Round::Failed { error } => Some((i + 1, error.as_str())),
        Round::Ok(_) => None,
    })
}

/// The failed rounds of the measured points among `points`, as `(point,
/// 1-based round, error)`: the figures of those points are over their
/// other rounds, which a report says under its table. (A point with no
/// measured round says why in its own row.)
pub(crate) fn failed_rounds_of<S, M>(
    points: &[Point<S, M>],
) -> impl Iterator<Item = (&Point<S, M>, usize, &str)> {
    let measured = points
        .iter()
        .filter(|p| matches!(p.outcome, Outcome::Ok(_)));
    measured.flat_map(|p| failed_rounds(p).map(move |(i, e)| (p, i, e)))
}

/// The models a ranking names whose point among `points` was
/// generator-bound: a ranking between generators says nothing about the
/// servers (for saturation points: it was taken at part load).
pub(crate) fn generator_bound_in<'a, S: Marks, M: RoundFigures>(
    points: &'a [Point<S, M>],
    k: &'a Ranking,
) -> Vec<&'a str> {
    let named = std::iter::once(k.leader.as_str()).chain(k.runner_up.as_deref());
    named
        .filter(|m| {
            points.iter().any(|p| {
                p.connections == k.connections
                    && p.model == *m
                    && p.summary().is_some_and(S::generator_bound)
            })
        })
        .collect()
}

/// `"reactor was generator-bound there"` when a closed-loop ranking names
/// generator-bound models, or None; each report says in its own words
/// what that does to the ranking.
pub(crate) fn closed_caveat(r: &CompareReport, k: &Ranking) -> Option<String> {
    let bound = generator_bound_in(&r.points, k);
    (!bound.is_empty()).then(|| format!("{} generator-bound there", were(&bound)))
}

/// What a saturation ranking naming generator-bound models can and cannot
/// say, or None when every model it names was server-bound. MB per server
/// CPU-second taken at part load is not the generator's figure (unlike
/// req/s): it is the server's cost per byte with fewer bytes per wake-up,
/// which saturation only lowers. So a clear lead taken at part load by the
/// leader alone stands, as a lower bound; any other case may not hold.
pub(crate) fn flood_caveat(r: &CompareReport, k: &Ranking) -> Option<String> {
    let bound = generator_bound_in(&r.saturation, k);
    if bound.is_empty() {
        return None;
    }
    let measured = format!(
        "{} generator-bound there, so measured at part load, not saturated",
        were(&bound)
    );
    Some(if k.clear && bound == [k.leader.as_str()] {
        format!("{measured}: saturated it would spend no more CPU per byte, so its lead is a lower bound")
    } else {
        format!("{measured}: the ranking may not hold at saturation")
    })
}

/// `"reactor was"`, `"reactor and threads were"`: the subject of a
/// sentence about the models in `names`.
pub(crate) fn were(names: &[&str]) -> String {
    names.join(" and ") + if names.len() == 1 { " was" } else { " were" }
}

/// Points of either kind the sweep did not reach, and all points.
pub(crate) fn not_run(r: &CompareReport) -> (usize, usize) {
    fn unrun<S, M>(points: &[Point<S, M>]) -> usize {
        points
            .iter()
            .filter(|p| matches!(p.outcome, Outcome::NotRun))
            .count()
    }
    let rates = r.open_loop.rows();
    let unrun_rates = rates
        .filter(|p| matches!(p.outcome, Outcome::NotRun))
        .count();
    let all = r.points.len() + r.saturation.len() + r.open_loop.rates.len();
    (unrun(&r.points) + unrun(&r.saturation) + unrun_rates, all)
}
