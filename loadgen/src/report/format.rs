//! Figures written for a reader rather than a parser: about four
//! significant digits, a `k` or `M` suffix, and a min–max range only when
//! the rounds measured one. The terminal table, `report.md` and the plots'
//! legends all write their numbers through here, so one point reads the
//! same wherever it appears; `results.json` keeps them in full.

use crate::sweep::Spread;

/// `x` in at most about four significant digits, with a `k` or `M` suffix
/// from ten thousand up: `0.42`, `3.14`, `85.3`, `950`, `9500`, `174.3k`,
/// `1.25M`. Meant for figures that are read, not parsed.
pub(crate) fn compact(x: f64) -> String {
    let a = x.abs();
    if x.is_nan() {
        NOT_MEASURED.into()
    } else if !x.is_finite() {
        format!("{x}")
    } else if a >= 1e6 {
        format!("{:.2}M", x / 1e6)
    } else if a >= 1e4 {
        format!("{:.1}k", x / 1e3)
    } else if a >= 100.0 {
        format!("{x:.0}")
    } else if a >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}

/// What a figure that was not measured (NaN: a `--target`'s server CPU)
/// reads as; the reason is in `results.json`.
pub(crate) const NOT_MEASURED: &str = "n/a";

/// `show(x)`, or [`NOT_MEASURED`] when `x` is NaN.
pub(crate) fn measured(x: f64, show: impl FnOnce(f64) -> String) -> String {
    if x.is_nan() {
        NOT_MEASURED.into()
    } else {
        show(x)
    }
}

/// The median, then the min–max range when the rounds differed:
/// `174.3k (170.0k–176.0k)`. A single round, or rounds that agree exactly,
/// give the bare median: a range of one value would suggest a precision
/// that was never measured.
pub(crate) fn spread(s: &Spread) -> String {
    compact(s.median) + &range(s)
}

/// ` (min–max)` of `s`, or nothing for a single round or identical rounds.
pub(crate) fn range(s: &Spread) -> String {
    let (lo, hi) = (compact(s.min), compact(s.max));
    if s.n < 2 || lo == hi {
        String::new()
    } else {
        format!(" ({lo}–{hi})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_numbers_keep_about_four_digits() {
        assert_eq!(
            [0.421, 3.25159, 85.34, 950.2, 9500.0, 174_321.0, 1_250_000.0].map(compact),
            ["0.42", "3.25", "85.3", "950", "9500", "174.3k", "1.25M"]
        );
        assert_eq!(spread(&Spread::of(&[f64::NAN])), "n/a");
        assert_eq!(measured(f64::NAN, |x| format!("{x}%")), "n/a");
    }

    #[test]
    fn spread_shows_the_range_only_when_there_is_one() {
        assert_eq!(
            spread(&Spread::of(&[170e3, 174.3e3, 176e3])),
            "174.3k (170.0k–176.0k)"
        );
        assert_eq!(spread(&Spread::of(&[174.3e3])), "174.3k");
    }
}
