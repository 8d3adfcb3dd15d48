//! Latency histograms, percentile summaries and fairness.
//!
//! Latencies are recorded in **nanoseconds** in HdrHistograms with three
//! significant digits (so any value is within 0.1% of the truth, far finer
//! than the microsecond the reports print), between 1 ns and one hour; longer
//! values saturate at one hour rather than being dropped. Nanoseconds are also
//! the unit HdrHistogram's own log tools assume, so `--hdr-log` files need no
//! unit flags.

use hdrhistogram::serialization::{Deserializer, Serializer as _, V2Serializer};
use hdrhistogram::Histogram;
use serde::Serialize;

/// Largest value a latency histogram tracks: one hour, in nanoseconds.
pub const MAX_NS: u64 = 3_600_000_000_000;

/// The histogram type used for every latency and lag.
pub type Hist = Histogram<u64>;

/// An empty latency histogram (1 ns .. 1 h, 3 significant digits).
pub fn new_hist() -> Hist {
    Histogram::new_with_bounds(1, MAX_NS, 3).expect("constant histogram bounds are valid")
}

/// Records `ns`, clamped to the histogram's range so nothing is ever lost.
pub fn record(h: &mut Hist, ns: u64) {
    h.saturating_record(ns.clamp(1, MAX_NS));
}

/// Adds `from` into `into`. Both come from [`new_hist`], so this cannot fail.
pub fn merge(into: &mut Hist, from: &Hist) {
    into.add(from).expect("histograms share bounds");
}

/// `h` in HdrHistogram's V2 encoding: run-length coded counts, a few
/// hundred bytes to a few KiB for a latency interval, where the decoded
/// histogram is a quarter of a megabyte. Exact: [`unpack`] gives back the
/// same bounds and counts.
pub fn pack(h: &Hist) -> Box<[u8]> {
    let mut out = Vec::new();
    V2Serializer::new()
        .serialize(h, &mut out)
        .expect("serialising into memory cannot fail");
    out.into_boxed_slice()
}

/// Decodes what [`pack`] encoded, or an interval log's V2-deflate
/// histogram, with the bounds it was encoded with (which, from another
/// tool, may not be [`new_hist`]'s).
///
/// # Panics
/// When `bytes` do not decode: callers pass only bytes this process encoded
/// or has already decoded once (`hdrlog` refuses a log whose histograms do
/// not), so a failure is a bug, not bad input.
pub fn unpack(bytes: &[u8]) -> Hist {
    Deserializer::new()
        .deserialize(&mut &bytes[..])
        .expect("a packed histogram decodes")
}

/// The summary every report prints, in microseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct Percentiles {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// 99.99th percentile.
    pub p9999: f64,
    /// Largest recorded value.
    pub max: f64,
    /// Arithmetic mean.
    pub mean: f64,
    /// Number of recorded values.
    pub count: u64,
}

fn us(ns: u64) -> f64 {
    ns as f64 / 1000.0
}

impl Percentiles {
    /// Summarises `h` (values in ns). An empty histogram gives all zeros.
    pub fn of(h: &Hist) -> Percentiles {
        if h.is_empty() {
            return Percentiles::default();
        }
        // `value_at_quantile` returns the highest value equivalent to the
        // bucket, so a percentile never understates the latency.
        let q = |q: f64| us(h.value_at_quantile(q));
        Percentiles {
            p50: q(0.50),
            p90: q(0.90),
            p99: q(0.99),
            p999: q(0.999),
            p9999: q(0.9999),
            max: us(h.max()),
            mean: h.mean() / 1000.0,
            count: h.len(),
        }
    }
}

/// One point of a latency percentile spectrum.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct SpectrumPoint {
    /// Fraction of requests at or below `latency_us`.
    pub quantile: f64,
    /// Latency at that quantile, µs.
    pub latency_us: f64,
    /// Requests slower than `latency_us`: how many samples the curve beyond
    /// this point rests on. Below [`THIN`], the tail is anecdote, not
    /// distribution, and the plots say so.
    pub beyond: u64,
}

/// Fewer samples than this beyond a spectrum point make the curve "thin".
pub const THIN: u64 = 10;

/// Points per halving of the distance to 100%: HdrHistogram's percentile
/// plot convention (`outputPercentileDistribution` uses 5).
const TICKS_PER_HALF_DISTANCE: u32 = 5;

/// The full percentile spectrum of `h`, HdrHistogram style: quantiles
/// that step ever closer to 100% (5 steps per halving of the distance),
/// ending with the maximum at quantile 1. Empty for an empty histogram.
pub fn spectrum(h: &Hist) -> Vec<SpectrumPoint> {
    let total = h.len();
    if total == 0 {
        return Vec::new();
    }
    let mut out: Vec<SpectrumPoint> = Vec::new();
    for v in h.iter_quantiles(TICKS_PER_HALF_DISTANCE) {
        let quantile = v.quantile_iterated_to();
        let below = (v.quantile() * total as f64).round() as u64;
        let p = SpectrumPoint {
            quantile,
            latency_us: us(h.highest_equivalent(v.value_iterated_to())),
            beyond: total.saturating_sub(below),
        };
        // The iterator repeats the last value while it walks to 100%.
        if out.last().is_some_and(|l| l.quantile >= p.quantile) {
            continue;
        }
        out.push(p);
    }
    if !matches!(out.last(), Some(l) if l.quantile >= 1.0) {
        out.push(SpectrumPoint {
            quantile: 1.0,
            latency_us: us(h.max()),
            beyond: 0,
        });
    }
    out
}

/// Jain's fairness index of `xs`: `(Σx)² / (n·Σx²)`.
///
/// 1.0 when every value is equal, `1/n` when one value takes everything.
/// An empty slice, or all zeros, is reported as 1.0 (nothing to be unfair
/// about) so the caller need not special-case idle runs.
pub fn jain_index(xs: &[f64]) -> f64 {
    let sum: f64 = xs.iter().sum();
    let sum_sq: f64 = xs.iter().map(|x| x * x).sum();
    if xs.is_empty() || sum_sq == 0.0 {
        return 1.0;
    }
    sum * sum / (xs.len() as f64 * sum_sq)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hdrhistogram::serialization::V2DeflateSerializer;

    #[test]
    fn jain_is_one_when_equal_and_one_over_n_when_one_hogs() {
        assert!((jain_index(&[5.0, 5.0, 5.0, 5.0]) - 1.0).abs() < 1e-12);
        assert!((jain_index(&[9.0, 0.0, 0.0]) - 1.0 / 3.0).abs() < 1e-12);
        assert!((jain_index(&[1.0, 3.0]) - 16.0 / 20.0).abs() < 1e-12);
        assert_eq!(jain_index(&[]), 1.0);
    }

    #[test]
    fn percentiles_of_a_uniform_ramp() {
        let mut h = new_hist();
        for us in 1..=10_000u64 {
            record(&mut h, us * 1000);
        }
        let p = Percentiles::of(&h);
        let close = |got: f64, want: f64| (got - want).abs() <= want * 0.001 + 0.001;
        assert!(close(p.p50, 5000.0), "p50 {}", p.p50);
        assert!(close(p.p90, 9000.0), "p90 {}", p.p90);
        assert!(close(p.p99, 9900.0), "p99 {}", p.p99);
        assert!(close(p.p999, 9990.0), "p999 {}", p.p999);
        assert!(close(p.p9999, 9999.0), "p9999 {}", p.p9999);
        assert!(close(p.max, 10_000.0), "max {}", p.max);
        assert!(close(p.mean, 5000.5), "mean {}", p.mean);
        assert_eq!(p.count, 10_000);
    }

    #[test]
    fn one_slow_request_in_ten_thousand_shows_only_above_p9999() {
        let mut h = new_hist();
        for _ in 0..99_999 {
            record(&mut h, 100_000);
        }
        record(&mut h, 500_000_000);
        let p = Percentiles::of(&h);
        assert!(p.p9999 < 101.0, "p9999 {}", p.p9999);
        assert!(p.max >= 499_000.0, "max {}", p.max);
    }

    #[test]
    fn spectrum_walks_to_the_maximum_and_counts_what_lies_beyond() {
        let mut h = new_hist();
        for us in 1..=100_000u64 {
            record(&mut h, us * 1000);
        }
        let s = spectrum(&h);
        assert!(s.len() > 50, "{} points", s.len());
        assert!(s.windows(2).all(|w| w[0].quantile < w[1].quantile));
        assert!(s.windows(2).all(|w| w[0].latency_us <= w[1].latency_us));
        let last = s.last().unwrap();
        assert_eq!((last.quantile, last.beyond), (1.0, 0));
        assert!((last.latency_us - 100_000.0).abs() < 100.0);
        // Near p99 about 1000 samples lie beyond; the thin tail is marked.
        let p99 = s.iter().find(|p| p.quantile >= 0.99).unwrap();
        assert!((900..=1100).contains(&p99.beyond), "{p99:?}");
        assert!(s.iter().any(|p| p.beyond < THIN && p.quantile < 1.0));
        assert!(spectrum(&new_hist()).is_empty());
    }

    #[test]
    fn packing_is_exact_and_keeps_another_tools_bounds() {
        let mut ours = new_hist();
        for v in [1, 999, 1_000_000, MAX_NS] {
            record(&mut ours, v);
        }
        let back = unpack(&pack(&ours));
        assert_eq!(back, ours);
        assert_eq!((back.len(), back.max()), (4, ours.max()));

        // Another tool's range, in an interval log's V2-deflate encoding.
        let mut wide = Histogram::<u64>::new_with_bounds(1, u64::MAX / 4, 2).unwrap();
        wide.record(MAX_NS * 10).unwrap();
        let mut logged = Vec::new();
        V2DeflateSerializer::new()
            .serialize(&wide, &mut logged)
            .unwrap();
        let back = unpack(&logged);
        assert_eq!(back, wide);
        assert_eq!(back.high(), u64::MAX / 4);
    }

    #[test]
    fn out_of_range_values_saturate_instead_of_vanishing() {
        let mut h = new_hist();
        record(&mut h, 0);
        record(&mut h, u64::MAX);
        assert_eq!(h.len(), 2);
        assert!(h.max() >= MAX_NS - MAX_NS / 1000);
    }
}
