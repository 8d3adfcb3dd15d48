//! What both the terminal table and `report.md` say about the open-loop
//! points (`compare --rates`): a point's status against its offered load
//! and the objective, the generator's lag, and the verdicts (each model's
//! highest held rate, the knee). Derived in one place so that the two
//! reports cannot disagree about them.

use super::figures::Marks;
use super::format::{compact, measured};
use crate::sweep::rates::{OpenLoop, KEPT_UP, UNSENT_SHARE};
use crate::sweep::RateSummary;

/// Rate points report their generator's lag in a column of its own rather
/// than as "generator-bound": an open-loop generator that falls behind
/// adds its lag to the latency, it does not cap the server's throughput.
impl Marks for RateSummary {
    fn faults(&self) -> u64 {
        self.errors + self.corrupt
    }
    fn rounds_measured(&self) -> usize {
        self.rounds_measured
    }
    fn generator_bound(&self) -> bool {
        false
    }
    fn interrupted(&self) -> bool {
        self.interrupted
    }
}

/// A measured point against its load and the objective: `held`, `over
/// SLO` (kept up, but the percentile was over the limit), `behind 82%`
/// (achieved / offered, on the medians), `behind, 11 unsent` (achieved
/// enough, but left more than its share of requests unsent) or `faults`, then `, rounds
/// disagree` when they did.
pub(crate) fn status(s: &RateSummary) -> String {
    let mut t = if s.held {
        "held".to_string()
    } else if s.kept_up {
        "over SLO".to_string()
    } else if s.achieved_ratio < KEPT_UP {
        format!("behind {:.0}%", (s.achieved_ratio * 100.0).floor())
    } else if s.unsent > 0 {
        format!("behind, {} unsent", s.unsent)
    } else {
        "faults".to_string()
    };
    if s.rounds_disagree() {
        t.push_str(", rounds disagree");
    }
    t
}

/// `figure` of `s`, or `–` when the point had no reply at all and so no
/// latency (nor CPU per echo).
pub(crate) fn per_reply(s: &RateSummary, figure: impl FnOnce() -> String) -> String {
    if s.requests == 0 {
        "–".to_string()
    } else {
        figure()
    }
}

/// The generator's dispatch lag, `p99/max` in µs (medians of the rounds).
pub(crate) fn lag(s: &RateSummary) -> String {
    format!(
        "{}/{}",
        compact(s.dispatch_lag_p99_us.median),
        compact(s.dispatch_lag_max_us.median)
    )
}

/// A rate as the reports write it: `50k req/s`.
pub(crate) fn rate(r: f64) -> String {
    format!("{} req/s", offered(r))
}

/// An offered rate as `--rates` takes it, exactly: `200`, `2.5k`, `50k`,
/// `1.5M`.
pub(crate) fn offered(r: f64) -> String {
    let trim = |x: f64| {
        let s = format!("{x:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    };
    if r >= 1e6 {
        trim(r / 1e6) + "M"
    } else if r >= 1e3 {
        trim(r / 1e3) + "k"
    } else {
        trim(r)
    }
}

/// What "kept up" and "held" mean for `o`, in one sentence.
pub(crate) fn rule(o: &OpenLoop) -> String {
    let slo = o.slo.map_or_else(|| "?".to_string(), |s| s.to_string());
    format!(
        "A point held the objective ({slo}) when, on the medians of its rounds, it kept up (achieved at least \
         {:.0}% of the offered rate, left at most {:.0}% of its requests unsent, no faults) and its {} was \
         within the limit.",
        KEPT_UP * 100.0,
        UNSENT_SHARE * 100.0,
        o.slo.map_or("percentile", |s| s.percentile.name()),
    )
}

/// One line per measured model: `reactor: held up to 60k req/s`, or held
/// at none of the rates, and where its rounds disagreed.
pub(crate) fn held_lines(o: &OpenLoop) -> Vec<String> {
    o.held
        .iter()
        .map(|h| {
            let mut line = match h.highest_per_sec {
                Some(r) => format!("{}: held up to {}", h.model, rate(r)),
                None => format!("{}: held at none of the rates measured", h.model),
            };
            if !h.rounds_disagree_at.is_empty() {
                let at: Vec<String> = h.rounds_disagree_at.iter().map(|&r| rate(r)).collect();
                line += &format!(
                    " (its rounds disagreed at {}: the median decided)",
                    at.join(", ")
                );
            }
            line
        })
        .collect()
}

/// The knee in one sentence: the highest rate every measured model held
/// and the server CPU each needed there, or that there is none.
pub(crate) fn knee_line(o: &OpenLoop) -> String {
    let Some(k) = &o.knee else {
        return "No offered rate was held by every measured model, so there is no common rate to compare \
                their CPU at."
            .to_string();
    };
    let cpu: Vec<String> = k
        .models
        .iter()
        .map(|m| {
            format!(
                "{} {} of a CPU ({} µs per echo)",
                m.model,
                measured(m.server_cpu_utilisation, |x| format!("{:.0}%", x * 100.0)),
                compact(m.server_cpu_us_per_request)
            )
        })
        .collect();
    format!(
        "At {}, the highest rate every measured model held, the servers needed: {}.",
        rate(k.offered_per_sec),
        cpu.join("; ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture;

    #[test]
    fn statuses_say_held_over_or_behind() {
        let r = fixture::with_rates();
        let statuses: Vec<String> = r
            .open_loop
            .rows()
            .filter_map(|p| p.summary())
            .map(status)
            .collect();
        assert!(statuses.contains(&"held".to_string()), "{statuses:?}");
        assert!(
            statuses.iter().any(|s| s.starts_with("behind ")),
            "{statuses:?}"
        );
        let lines = held_lines(&r.open_loop);
        assert!(lines[0].starts_with("reactor: held up to"), "{lines:?}");
        assert!(knee_line(&r.open_loop).starts_with("At "));
    }
}
