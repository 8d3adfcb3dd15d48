//! Where the plots put their ticks and what the labels say. The ticks are
//! chosen here rather than by plotters so that values can be read off every
//! axis: 1-2-5 steps per decade on a log axis, round steps from zero on a
//! linear one, and whole nines on the percentile axis, labelled as the
//! percentiles a reader knows (`99.9%`, not `3`). Labels drop repeated zeros
//! and take the unit that keeps them short (`2.5k`, `2 ms`).

use std::ops::Range;

use plotters::coord::combinators::{BindKeyPoints, IntoLogRange, LogCoord, WithKeyPoints};
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};

/// `x` with at most three decimals and no trailing zeros: `2.5`, `20`, `0.25`.
fn trim(x: f64) -> String {
    let s = format!("{x:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".into()
    } else {
        s.into()
    }
}

/// Multiples of `mantissas` times powers of ten within `lo..=hi`.
fn decade_ticks(lo: f64, hi: f64, mantissas: &[f64]) -> Vec<f64> {
    let (e0, e1) = (lo.log10().floor() as i32, hi.log10().ceil() as i32);
    let mut out = Vec::new();
    for e in e0..=e1 {
        for &m in mantissas {
            let v = m * 10f64.powi(e);
            if v >= lo * (1.0 - 1e-9) && v <= hi * (1.0 + 1e-9) {
                out.push(v);
            }
        }
    }
    out
}

/// The nearest value of the 1-2-5 series at or above `x` (`up`) or at or
/// below it; `x` > 0.
pub(super) fn nice(x: f64, up: bool) -> f64 {
    let p = 10f64.powf(x.log10().floor());
    let steps = [0.5, 1.0, 2.0, 5.0, 10.0, 20.0].map(|m| m * p);
    if up {
        steps
            .into_iter()
            .find(|&v| v >= x * (1.0 - 1e-9))
            .unwrap_or(x)
    } else {
        steps
            .into_iter()
            .rev()
            .find(|&v| v <= x * (1.0 + 1e-9))
            .unwrap_or(x)
    }
}

/// Ticks for a log axis over `lo..hi` (both > 0): labelled ("bold") ticks
/// at 1, 2 and 5 per decade, falling back to every integer mantissa when
/// the range is too narrow to hold three, and to powers of ten alone when
/// it spans more than six decades; unlabelled grid lines at 1..9 per
/// decade.
pub(super) fn log_ticks(lo: f64, hi: f64) -> (Vec<f64>, Vec<f64>) {
    const ALL: [f64; 9] = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0];
    let wide = (hi / lo).log10() > 6.0;
    let mut bold = decade_ticks(lo, hi, if wide { &[1.0] } else { &[1.0, 2.0, 5.0] });
    if bold.len() < 3 {
        bold = decade_ticks(lo, hi, &ALL);
    }
    let light = decade_ticks(lo, hi, if wide { &[1.0] } else { &ALL });
    (bold, light)
}

/// A log axis of latencies (µs) from `lo / pad` to `hi * pad`, its ends
/// rounded out to 1-2-5 values ([`nice`]) so that they are labelled, and
/// ticked by [`log_ticks`]: its bottom (where a value of none is drawn),
/// then the axis. `0 < lo <= hi`.
pub(super) fn log_latency(lo: f64, hi: f64, pad: f64) -> (f64, WithKeyPoints<LogCoord<f64>>) {
    let (y_lo, y_hi) = (nice(lo / pad, false), nice(hi * pad, true));
    let (bold, light) = log_ticks(y_lo, y_hi);
    let axis = (y_lo..y_hi)
        .log_scale()
        .with_key_points(bold)
        .with_light_points(light);
    (y_lo, axis)
}

/// Ticks at exactly the measured `values`, ascending, each once: for an
/// x axis of what was measured (connection counts, offered rates), so that
/// every point stands on a labelled tick and no tick names a value that
/// was not measured. Non-finite values are left out.
pub(super) fn measured_ticks(values: impl IntoIterator<Item = f64>) -> Vec<f64> {
    let mut v: Vec<f64> = values.into_iter().filter(|x| x.is_finite()).collect();
    v.sort_by(f64::total_cmp);
    v.dedup();
    v
}

/// Ticks from 0 to at most `hi` in steps of 1, 2, 2.5 or 5 times a power of
/// ten, about six of them.
pub(super) fn linear_ticks(hi: f64) -> Vec<f64> {
    if hi <= 0.0 || !hi.is_finite() {
        return vec![0.0];
    }
    let raw = hi / 6.0;
    let p = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * p)
        .find(|&s| s >= raw)
        .unwrap_or(10.0 * p);
    (0..)
        .map(|i| i as f64 * step)
        .take_while(|&v| v <= hi * (1.0 + 1e-9))
        .collect()
}

/// A linear axis with the ticks given here. (plotters' own `f64` axis
/// picks its ticks itself, and wrapped in `with_key_points` it loses its
/// label formatting.)
pub(super) struct Linear {
    pub(super) range: Range<f64>,
    pub(super) ticks: Vec<f64>,
}

impl Linear {
    /// The axis from 0 to `hi`, ticked by [`linear_ticks`].
    pub(super) fn from_zero(hi: f64) -> Linear {
        Linear {
            range: 0.0..hi,
            ticks: linear_ticks(hi),
        }
    }
}

impl Ranged for Linear {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        let f = (v - self.range.start) / (self.range.end - self.range.start);
        limit.0 + (f * (limit.1 - limit.0) as f64).round() as i32
    }

    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> Range<f64> {
        self.range.clone()
    }
}

/// A count with a `k` or `M` suffix: `5`, `20`, `1k`, `2.5k`, `1.2M`.
pub(super) fn count_label(x: f64) -> String {
    if x.abs() >= 1e6 {
        format!("{}M", trim(x / 1e6))
    } else if x.abs() >= 1e3 {
        format!("{}k", trim(x / 1e3))
    } else {
        trim(x)
    }
}

/// A latency in µs with the unit that keeps it short: `0.5 µs`, `200 µs`,
/// `2 ms`, `1.5 s`.
pub(super) fn latency_label(us: f64) -> String {
    if us >= 1e6 {
        format!("{} s", trim(us / 1e6))
    } else if us >= 1e3 {
        format!("{} ms", trim(us / 1e3))
    } else {
        format!("{} µs", trim(us))
    }
}

/// The "nines" of quantile `q`: -log10(1 - q), so 90% → 1, 99% → 2,
/// 99.9% → 3. Infinite at `q = 1`.
pub(super) fn nines(q: f64) -> f64 {
    -(1.0 - q).log10()
}

/// "0%", "90%", "99%", "99.9%", … for `n` whole nines.
fn nines_label(n: u32) -> String {
    match n {
        0 => "0%".into(),
        1 => "90%".into(),
        _ => format!("99.{}%", "9".repeat(n as usize - 2)).replace(".%", "%"),
    }
}

/// Labelled ticks of a nines axis reaching `hi`: 0%, the median (50%),
/// then every whole number of nines.
pub(super) fn nines_ticks(hi: f64) -> Vec<(f64, String)> {
    let mut out = vec![(0.0, nines_label(0)), (nines(0.5), "50%".into())];
    out.extend((1..=hi.floor().max(0.0) as u32).map(|n| (n as f64, nines_label(n))));
    out.retain(|&(x, _)| x <= hi);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nines_are_labelled_as_percentiles() {
        let labels: Vec<String> = (0..=5).map(nines_label).collect();
        assert_eq!(labels, ["0%", "90%", "99%", "99.9%", "99.99%", "99.999%"]);
        let ticks: Vec<String> = nines_ticks(3.4).into_iter().map(|t| t.1).collect();
        assert_eq!(ticks, ["0%", "50%", "90%", "99%", "99.9%"]);
        assert!((nines(0.999) - 3.0).abs() < 1e-9);
    }

    #[test]
    fn log_axes_get_ticks_between_the_powers_of_ten() {
        let (bold, light) = log_ticks(0.6, 1600.0);
        let labels: Vec<String> = bold.iter().map(|&x| count_label(x)).collect();
        assert_eq!(
            labels,
            ["1", "2", "5", "10", "20", "50", "100", "200", "500", "1k"]
        );
        assert_eq!(light.len(), 4 + 9 * 3 + 1);
        // Too narrow for 1-2-5: every integer mantissa.
        let (bold, _) = log_ticks(60.0, 150.0);
        assert_eq!(bold, [60.0, 70.0, 80.0, 90.0, 100.0]);
        assert_eq!(
            (nice(3.6, true), nice(3.6, false), nice(20.0, true)),
            (5.0, 2.0, 20.0)
        );
        assert_eq!((nice(0.73, true), nice(170.0, false)), (1.0, 100.0));
        let (bold, _) = log_ticks(20.0, 3000.0);
        let labels: Vec<String> = bold.iter().map(|&x| latency_label(x)).collect();
        assert_eq!(
            labels,
            ["20 µs", "50 µs", "100 µs", "200 µs", "500 µs", "1 ms", "2 ms"]
        );
    }

    #[test]
    fn counts_and_latencies_are_labelled_without_repeated_zeros() {
        assert_eq!(
            [0.0, 0.25, 2.5, 50.0, 25_000.0, 150_000.0, 1.2e6].map(count_label),
            ["0", "0.25", "2.5", "50", "25k", "150k", "1.2M"]
        );
        assert_eq!(
            [0.5, 200.0, 2500.0, 1.5e6].map(latency_label),
            ["0.5 µs", "200 µs", "2.5 ms", "1.5 s"]
        );
    }

    #[test]
    fn measured_ticks_are_exactly_the_measured_values() {
        assert_eq!(measured_ticks([64.0, 4.0, 64.0]), [4.0, 64.0]);
        let labels: Vec<String> = measured_ticks([1000.0, 1.0, 50.0, f64::NAN])
            .into_iter()
            .map(count_label)
            .collect();
        assert_eq!(labels, ["1", "50", "1k"]);
        assert!(measured_ticks([]).is_empty());
    }

    #[test]
    fn linear_ticks_are_round() {
        let labels = |hi: f64, label: fn(f64) -> String| -> Vec<String> {
            linear_ticks(hi).into_iter().map(label).collect()
        };
        assert_eq!(labels(193_000.0, count_label), ["0", "50k", "100k", "150k"]);
        assert_eq!(labels(1.3, trim), ["0", "0.25", "0.5", "0.75", "1", "1.25"]);
    }
}
