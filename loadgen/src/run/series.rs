//! The timeline of a run: req/s and p99 per interval (one second unless
//! `--hdr-interval` says otherwise), so that a stall, a warm-up still going
//! on or a slow drift is seen rather than averaged away.
//!
//! Serialised as the `timeline` array of `run --json` and of each point of
//! `compare`'s `results.json`; other tools read it, so the first three
//! fields and their meaning are fixed: `start_s`, `requests_per_sec`,
//! `p99_us`.

use serde::Serialize;

use super::result::RunResult;
use crate::stats;

/// One interval of the timeline.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct SeriesPoint {
    /// Start of the interval, seconds from the window start.
    pub start_s: f64,
    /// Replies counted in the interval (filed by intended send time, as
    /// the window files them) per second of it.
    pub requests_per_sec: f64,
    /// 99th percentile of the corrected latency of those replies (µs);
    /// 0 when none came. `null` under `--flood`, which records no latency.
    pub p99_us: Option<f64>,
    /// Replies counted in the interval.
    pub requests: u64,
    /// Megabytes (10^6 bytes) echoed per second of the interval: under
    /// `--flood` by arrival time, as the flood's total; otherwise the
    /// replies' payload.
    pub mb_per_sec: f64,
    /// Length of the interval in seconds: the last one ends with the
    /// window and may be shorter.
    pub length_s: f64,
}

/// The timeline of `result`, whose requests are `size` bytes; `flood`
/// when it was a flood (bytes by arrival, no latency). Empty when no
/// intervals were kept.
pub fn series(result: &RunResult, size: usize, flood: bool) -> Vec<SeriesPoint> {
    let Some(len) = result.interval.filter(|l| !l.is_zero()) else {
        return Vec::new();
    };
    let count = result.window.as_nanos().div_ceil(len.as_nanos()) as usize;
    let iv = &result.m.intervals;
    (0..count)
        .map(|k| {
            let start = len * k as u32;
            let secs = len.min(result.window - start).as_secs_f64().max(1e-9);
            let requests = iv.replies(k);
            let bytes = if flood {
                iv.bytes(k)
            } else {
                requests * size as u64
            };
            let p99_us = (!flood).then(|| {
                iv.corrected(k)
                    .filter(|h| !h.is_empty())
                    .map_or(0.0, |h| stats::Percentiles::of(&h).p99)
            });
            SeriesPoint {
                start_s: start.as_secs_f64(),
                requests_per_sec: requests as f64 / secs,
                p99_us,
                requests,
                mb_per_sec: bytes as f64 / 1e6 / secs,
                length_s: secs,
            }
        })
        .collect()
}

/// Below this share of the median rate an interval is a stall.
pub const STALL: f64 = 0.5;

/// Above this multiple of the median p99 (and [`LATENCY_STALL_FLOOR_US`])
/// an interval is a stall too. In an open loop a stalled server does not
/// lower the rate (requests are counted in the interval they were meant
/// to be sent in, and all of them are answered in the end): only their
/// latency shows it.
pub const LATENCY_STALL: f64 = 10.0;

/// A p99 under this (µs) is never called a stall, however it compares
/// with a fast median: ten times 80 µs is still a fast second.
pub const LATENCY_STALL_FLOOR_US: f64 = 1000.0;

/// The interval of `points` whose p99 was highest, when it was a stall
/// ([`LATENCY_STALL`]): its index, its p99 and the median p99 (µs).
/// Intervals without a p99 (a flood, or nothing answered) and a short
/// last one are left out, as in [`slowest`].
pub fn latency_stall(points: &[SeriesPoint]) -> Option<(usize, f64, f64)> {
    let (judged, median) = judged(points, |p| p.p99_us.filter(|_| p.requests > 0))?;
    let &(index, worst) = judged.iter().max_by(|a, b| a.1.total_cmp(&b.1))?;
    (worst >= LATENCY_STALL_FLOOR_US && worst > LATENCY_STALL * median)
        .then_some((index, worst, median))
}

/// The interval of `points` with the least of `figure`, set against the
/// median: what the reports call a stall when `share` < [`STALL`].
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Slowest {
    /// Its index in the timeline.
    pub index: usize,
    /// Its start, seconds from the window start.
    pub start_s: f64,
    /// Its figure.
    pub value: f64,
    /// The median of the figure over the timeline.
    pub median: f64,
    /// `value / median` (1 when the median is 0).
    pub share: f64,
}

impl Slowest {
    /// True when the interval fell below [`STALL`] of the median.
    pub fn stalled(&self) -> bool {
        self.share < STALL
    }
}

/// The slowest interval of `points` by `figure` (req/s, or MB/s for a
/// flood). A last interval shorter than half the others is left out: a
/// few milliseconds of window say little about a rate. `None` with fewer
/// than two intervals left, where "slow" has nothing to be slow against.
pub fn slowest(points: &[SeriesPoint], figure: fn(&SeriesPoint) -> f64) -> Option<Slowest> {
    let (judged, median) = judged(points, |p| Some(figure(p)))?;
    let &(index, value) = judged.iter().min_by(|a, b| a.1.total_cmp(&b.1))?;
    Some(Slowest {
        index,
        start_s: points[index].start_s,
        value,
        median,
        share: if median > 0.0 { value / median } else { 1.0 },
    })
}

/// The intervals of `points` that a stall is judged among, each with its
/// index and `figure`, and the median of those figures: a last interval
/// shorter than half the others, and one whose `figure` is `None`, are
/// left out. `None` with fewer than two left, where nothing has anything
/// to stand out against.
fn judged(
    points: &[SeriesPoint],
    figure: impl Fn(&SeriesPoint) -> Option<f64>,
) -> Option<(Vec<(usize, f64)>, f64)> {
    let full = points.first().map_or(0.0, |p| p.length_s);
    let judged: Vec<(usize, f64)> = points
        .iter()
        .enumerate()
        .filter(|(_, p)| p.length_s >= full / 2.0)
        .filter_map(|(i, p)| Some((i, figure(p)?)))
        .collect();
    if judged.len() < 2 {
        return None;
    }
    let values: Vec<f64> = judged.iter().map(|&(_, v)| v).collect();
    Some((judged, median(&values)))
}

/// The median of `xs` (the mean of the middle two for an even count; 0
/// when empty).
pub fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// A one-second interval from `start_s` of `rps` requests of 512 B with
/// p99 `p99` µs: the timeline tests' unit.
#[cfg(test)]
pub(crate) fn second(start_s: f64, rps: f64, p99: f64) -> SeriesPoint {
    SeriesPoint {
        start_s,
        requests_per_sec: rps,
        p99_us: Some(p99),
        requests: rps as u64,
        mb_per_sec: rps * 512.0 / 1e6,
        length_s: 1.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_of_waiting_replies_is_a_stall_though_the_rate_held() {
        let at = |i: usize, p99: f64| second(i as f64, 20e3, p99);
        let mut pts: Vec<SeriesPoint> = [4300.0, 831.0, 805e3, 4100.0, 1800.0]
            .iter()
            .enumerate()
            .map(|(i, &p)| at(i, p))
            .collect();
        assert_eq!(latency_stall(&pts), Some((2, 805e3, 4100.0)));
        // Ten times a fast median, but under a millisecond: no stall.
        pts = [80.0, 85.0, 900.0, 82.0]
            .iter()
            .enumerate()
            .map(|(i, &p)| at(i, p))
            .collect();
        assert_eq!(latency_stall(&pts), None);
        // An even tail: no stall.
        pts = [4300.0, 3100.0, 9000.0]
            .iter()
            .enumerate()
            .map(|(i, &p)| at(i, p))
            .collect();
        assert_eq!(latency_stall(&pts), None);
    }

    fn point(start_s: f64, rps: f64, length_s: f64) -> SeriesPoint {
        SeriesPoint {
            requests: (rps * length_s) as u64,
            length_s,
            ..second(start_s, rps, 100.0)
        }
    }

    #[test]
    fn the_slowest_interval_is_found_and_a_short_last_one_ignored() {
        let pts = [
            point(0.0, 1000.0, 1.0),
            point(1.0, 100.0, 1.0),
            point(2.0, 900.0, 1.0),
            point(3.0, 1.0, 0.05),
        ];
        let s = slowest(&pts, |p| p.requests_per_sec).unwrap();
        assert_eq!((s.index, s.value, s.median), (1, 100.0, 900.0));
        assert!(s.stalled());
        let even = [point(0.0, 1000.0, 1.0), point(1.0, 800.0, 1.0)];
        let s = slowest(&even, |p| p.requests_per_sec).unwrap();
        assert!(!s.stalled() && s.median == 900.0);
        assert!(slowest(&pts[..1], |p| p.requests_per_sec).is_none());
    }
}
