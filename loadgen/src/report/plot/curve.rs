//! A model's latency spectrum turned into what the spectrum plot draws: the
//! solid body, the thin tail, and the maximum. Kept apart from the drawing
//! because this is where the plot could mislead (a maximum placed too far
//! out, a tail of a handful of requests drawn as firmly as the body), and
//! here it can be tested without reading an SVG.

use super::axes::nines;
use crate::stats::{self, SpectrumPoint};
use crate::sweep::Summary;

/// One model's spectrum, ready to draw on a nines axis.
///
/// # Where the maximum goes
/// A spectrum point is the latency at the quantile q the histogram was
/// walked to, so the curve is a staircase whose last step, the maximum,
/// holds for every q above 1 - 1/count. The maximum is drawn at
/// x = log10(count), where that step starts: the slowest request of a
/// 10 000-request run sits at 4 nines and that of a 10 000 000-request run
/// at 7. (Putting every maximum in one fixed "max" column made a single
/// slow request look as far out as the worst in ten million.) Spectrum
/// points past that x only repeat the maximum and are dropped.
#[derive(Debug, PartialEq)]
pub(super) struct Curve {
    /// Where at least [`stats::THIN`] requests lie beyond each point.
    pub(super) solid: Vec<(f64, f64)>,
    /// The thin tail: from the last solid point to the maximum.
    pub(super) thin: Vec<(f64, f64)>,
    /// (log10(count), max µs).
    pub(super) max: (f64, f64),
}

pub(super) fn curve(s: &Summary) -> Option<Curve> {
    let spectrum: &[SpectrumPoint] = &s.spectrum;
    let last = spectrum.last()?;
    let count = s.latency_us.count.max(1) as f64;
    let x_max = count.log10();
    let max = (x_max, last.latency_us.max(s.latency_us.max));
    let body = spectrum
        .iter()
        .filter(|p| p.quantile < 1.0 && p.beyond > 0 && nines(p.quantile) <= x_max)
        .map(|p| (nines(p.quantile), p.latency_us, p.beyond));
    let (mut solid, mut thin) = (Vec::new(), Vec::new());
    for (x, y, beyond) in body {
        if beyond >= stats::THIN && thin.is_empty() {
            solid.push((x, y));
        } else {
            if thin.is_empty() {
                thin.extend(solid.last().copied());
            }
            thin.push((x, y));
        }
    }
    if thin.is_empty() {
        thin.extend(solid.last().copied());
    }
    thin.push(max);
    Some(Curve { solid, thin, max })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture;

    #[test]
    fn the_maximum_sits_where_the_last_sample_is_and_the_tail_turns_thin() {
        let r = fixture::report();
        let s = r.points[6].summary().unwrap();
        let c = curve(s).unwrap();
        assert!((c.max.0 - (s.latency_us.count as f64).log10()).abs() < 1e-9);
        assert_eq!(c.max.1, s.latency_us.max);
        assert_eq!(c.thin.first(), c.solid.last());
        assert_eq!(c.thin.last(), Some(&c.max));
        assert!(c.thin.iter().all(|p| p.0 <= c.max.0));
        let thin_from = s.spectrum.iter().find(|p| p.beyond < stats::THIN).unwrap();
        assert!(c.solid.last().unwrap().0 < nines(thin_from.quantile));
    }
}
