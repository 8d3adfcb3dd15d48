//! A point's rounds turned into its summary: medians and min–max spreads
//! over the measured rounds, latency pooled from all of them, the verdicts
//! that need every round (kept up, held, the slowest second). A point
//! with no measured round keeps the reason (failed, not run, n/a).

use crate::limit::{self, Limit};
use crate::procstat::{Memory, Reading};
use crate::run::series;
use crate::stats::{self, Percentiles};
use crate::sweep::rates::{self, Slo};
use crate::sweep::{
    self, FloodMetrics, FloodSummary, Metrics, Outcome, RateMetrics, RateSummary, Round,
    RoundSlowest, Spread, Summary,
};
use crate::usage::ServerUsage;

/// The measured rounds of a point, or its outcome when there are none.
fn measured<M>(rounds: &[Round<M>]) -> Result<Vec<&M>, Outcome<()>> {
    let ok: Vec<&M> = rounds
        .iter()
        .filter_map(|r| match r {
            Round::Ok(m) => Some(m.as_ref()),
            Round::Failed { .. } => None,
        })
        .collect();
    if !ok.is_empty() {
        return Ok(ok);
    }
    Err(match rounds.first() {
        Some(Round::Failed { error }) => Outcome::Failed {
            error: error.clone(),
        },
        _ => Outcome::NotRun,
    })
}

/// The same outcome for another kind of summary (never `Ok`).
fn retype<S>(o: Outcome<()>) -> Outcome<S> {
    match o {
        Outcome::Failed { error } => Outcome::Failed { error },
        Outcome::NotApplicable { reason } => Outcome::NotApplicable { reason },
        Outcome::Unavailable { reason } => Outcome::Unavailable { reason },
        Outcome::Refused { reason } => Outcome::Refused { reason },
        Outcome::Ok(_) | Outcome::NotRun => Outcome::NotRun,
    }
}

/// Medians, spreads and pooled latency of a point's measured rounds, run
/// with `threads` generator threads on `gen_cpus` CPUs (0 = unknown).
pub(super) fn summarise(rounds: &[Round], threads: u32, gen_cpus: usize) -> Outcome {
    let ok = match measured(rounds) {
        Ok(ok) => ok,
        Err(o) => return retype(o),
    };
    let spread = |f: fn(&Metrics) -> f64| Spread::of(&ok.iter().map(|m| f(m)).collect::<Vec<_>>());
    let mut pooled = stats::new_hist();
    for m in &ok {
        stats::merge(&mut pooled, &m.histogram);
    }
    let gen_cpu = spread(|m| m.generator_cpu_utilisation).median;
    let srv_cpu = spread(|m| m.server_cpu_utilisation).median;
    Outcome::Ok(Box::new(Summary {
        rounds_measured: ok.len(),
        requests_per_sec: spread(|m| m.requests_per_sec),
        server_cpu_us_per_request: spread(|m| m.server_cpu_us_per_request),
        p99_us: spread(|m| m.latency_us.p99),
        mb_per_sec: spread(|m| m.mb_per_sec).median,
        latency_us: Percentiles::of(&pooled),
        spectrum: stats::spectrum(&pooled),
        jain_fairness: spread(|m| m.jain_fairness).median,
        requests: ok.iter().map(|m| m.requests).sum(),
        errors: ok.iter().map(|m| m.errors).sum(),
        corrupt: ok.iter().map(|m| m.corrupt).sum(),
        server_cpu_utilisation: srv_cpu,
        server_memory: largest_memory(ok.iter().map(|m| &m.server_memory)),
        generator_cpu_utilisation: gen_cpu,
        generator_bound: 2 * ok.iter().filter(|m| m.generator_bound).count() > ok.len()
            || sweep::generator_bound(gen_cpu, srv_cpu, threads, gen_cpus),
        interrupted: ok.iter().any(|m| m.interrupted),
        timeline: median_round(&ok).map_or_else(Vec::new, |m| m.timeline.clone()),
        slowest_second: slowest_second(rounds),
    }))
}

/// The round whose req/s is the median of `ok` (the lower middle one of
/// an even count).
fn median_round<'a>(ok: &[&'a Metrics]) -> Option<&'a Metrics> {
    let mut sorted = ok.to_vec();
    sorted.sort_by(|a, b| a.requests_per_sec.total_cmp(&b.requests_per_sec));
    sorted.get(sorted.len().saturating_sub(1) / 2).copied()
}

/// The second of any measured round that fell furthest below its round's
/// median req/s.
fn slowest_second(rounds: &[Round]) -> Option<RoundSlowest> {
    rounds
        .iter()
        .enumerate()
        .filter_map(|(i, r)| match r {
            Round::Ok(m) => Some(RoundSlowest {
                round: i + 1,
                slowest: series::slowest(&m.timeline, |p| p.requests_per_sec)?,
            }),
            Round::Failed { .. } => None,
        })
        .min_by(|a, b| a.slowest.share.total_cmp(&b.slowest.share))
}

/// Medians and spreads of a saturation point's measured rounds, and the
/// verdict on the medians: a point whose median server was below
/// [`limit::SATURATED`] of its CPU measured the generator.
pub(super) fn summarise_flood(rounds: &[Round<FloodMetrics>]) -> Outcome<FloodSummary> {
    let ok = match measured(rounds) {
        Ok(ok) => ok,
        Err(o) => return retype(o),
    };
    let spread =
        |f: fn(&FloodMetrics) -> f64| Spread::of(&ok.iter().map(|m| f(m)).collect::<Vec<_>>());
    let busiest: Vec<f64> = ok
        .iter()
        .filter_map(|m| m.busiest_thread_utilisation.value().copied())
        .collect();
    let busiest = if busiest.len() == ok.len() {
        Reading::Value(Spread::of(&busiest).median)
    } else {
        ok[0].busiest_thread_utilisation.clone()
    };
    let server_cpus = ok.iter().map(|m| m.server_cpus).max().unwrap_or(1);
    let median_server = ServerUsage {
        pid: 0,
        cpu_utilisation: spread(|m| m.server_cpu_utilisation).median,
        busiest_thread_utilisation: busiest.clone(),
        cpus: server_cpus,
        cpu_seconds: 0.0,
    };
    let limit = if ok.iter().any(|m| m.limit == Limit::Unknown) {
        Limit::Unknown
    } else {
        limit::limit(Some(&median_server))
    };
    Outcome::Ok(Box::new(FloodSummary {
        rounds_measured: ok.len(),
        mb_per_sec: spread(|m| m.mb_per_sec),
        mb_per_server_cpu_second: spread(|m| m.mb_per_server_cpu_second),
        server_cpu_utilisation: median_server.cpu_utilisation,
        busiest_thread_utilisation: busiest,
        server_cpus,
        generator_cpu_utilisation: spread(|m| m.generator_cpu_utilisation).median,
        echoed_bytes: ok.iter().map(|m| m.echoed_bytes).sum(),
        errors: ok.iter().map(|m| m.errors).sum(),
        corrupt: ok.iter().map(|m| m.corrupt).sum(),
        server_memory: largest_memory(ok.iter().map(|m| &m.server_memory)),
        limit,
        generator_bound: limit == Limit::Generator,
        interrupted: ok.iter().any(|m| m.interrupted),
    }))
}

/// Medians and spreads of a rate point's measured rounds at `offered`
/// requests per second, pooled latency, and the verdicts on keeping up
/// and on `slo` (see `sweep/rates.rs`).
pub(super) fn summarise_rate(
    rounds: &[Round<RateMetrics>],
    offered: f64,
    slo: &Slo,
) -> Outcome<RateSummary> {
    let ok = match measured(rounds) {
        Ok(ok) => ok,
        Err(o) => return retype(o),
    };
    let spread =
        |f: &dyn Fn(&RateMetrics) -> f64| Spread::of(&ok.iter().map(|m| f(m)).collect::<Vec<_>>());
    let mut pooled = stats::new_hist();
    for m in &ok {
        stats::merge(&mut pooled, &m.histogram);
    }
    let achieved = spread(&|m| m.requests_per_sec);
    let slo_us = spread(&|m| slo.percentile.of(&m.latency_us));
    let unsent_share = spread(&|m| m.unsent as f64 / (m.requests + m.unsent).max(1) as f64);
    let (errors, corrupt) = (
        ok.iter().map(|m| m.errors).sum::<u64>(),
        ok.iter().map(|m| m.corrupt).sum::<u64>(),
    );
    let achieved_ratio = achieved.median / offered.max(f64::MIN_POSITIVE);
    let kept_up = achieved_ratio >= rates::KEPT_UP
        && unsent_share.median <= rates::UNSENT_SHARE
        && errors + corrupt == 0;
    Outcome::Ok(Box::new(RateSummary {
        rounds_measured: ok.len(),
        requests_per_sec: achieved,
        achieved_ratio,
        p50_us: spread(&|m| m.latency_us.p50),
        p99_us: spread(&|m| m.latency_us.p99),
        p999_us: spread(&|m| m.latency_us.p999),
        max_us: spread(&|m| m.latency_us.max),
        slo_us,
        latency_us: Percentiles::of(&pooled),
        dispatch_lag_p99_us: spread(&|m| m.dispatch_lag_us.p99),
        dispatch_lag_max_us: spread(&|m| m.dispatch_lag_us.max),
        generator_behind: ok.iter().any(|m| m.generator_behind),
        server_cpu_utilisation: spread(&|m| m.server_cpu_utilisation),
        server_cpu_us_per_request: spread(&|m| m.server_cpu_us_per_request),
        server_memory: largest_memory(ok.iter().map(|m| &m.server_memory)),
        generator_cpu_utilisation: spread(&|m| m.generator_cpu_utilisation).median,
        requests: ok.iter().map(|m| m.requests).sum(),
        unsent: ok.iter().map(|m| m.unsent).sum(),
        errors,
        corrupt,
        kept_up,
        held: kept_up && slo_us.median <= slo.limit_us,
        rounds_held: ok
            .iter()
            .filter(|m| m.kept_up() && slo.percentile.of(&m.latency_us) <= slo.limit_us)
            .count(),
        interrupted: ok.iter().any(|m| m.interrupted),
    }))
}

/// The largest resident and peak memory over `rounds`; a figure no round
/// could read keeps the reason.
fn largest_memory<'a>(rounds: impl Iterator<Item = &'a Memory> + Clone) -> Memory {
    let none = || Reading::unavailable("no round measured");
    Memory {
        rss_kib: Reading::largest(rounds.clone().map(|m| &m.rss_kib)).unwrap_or_else(none),
        hwm_kib: Reading::largest(rounds.map(|m| &m.hwm_kib)).unwrap_or_else(none),
    }
}
