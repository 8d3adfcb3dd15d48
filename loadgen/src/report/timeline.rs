//! A run's timeline in words: the terminal's two lines of per-interval
//! figures, and the note that names a stall.
//!
//! A short run shows every interval. A long one would not fit a line, so it
//! shows the first few, then the minimum, median and maximum with the
//! interval each extreme fell in: a stall is the minimum of req/s (or the
//! maximum of p99), so it is named however long the run.

use std::time::Duration;

use super::format::compact;
use crate::run::series::{self, median, slowest, SeriesPoint, Slowest};

/// Intervals shown one by one; beyond this the line summarises.
const SHOWN: usize = 12;
/// Intervals shown before a summary.
const FIRST: usize = 5;

/// A latency in µs, short: `85µs`, `310µs`, `1.2ms`, `1.50s`.
pub fn latency_text(us: f64) -> String {
    if us >= 1e6 {
        format!("{:.2}s", us / 1e6)
    } else if us >= 1e4 {
        format!("{:.0}ms", us / 1e3)
    } else if us >= 1e3 {
        format!("{:.1}ms", us / 1e3)
    } else {
        format!("{us:.0}µs")
    }
}

/// `2–3 s`: where interval `p` lies in the window.
pub fn span_text(p: &SeriesPoint) -> String {
    let secs = |s: f64| {
        let t = format!("{s:.3}");
        t.trim_end_matches('0').trim_end_matches('.').to_string()
    };
    format!("{}–{} s", secs(p.start_s), secs(p.start_s + p.length_s))
}

/// A rate: [`compact`], but a plain `0` for nothing at all.
fn rate_text(x: f64) -> String {
    if x == 0.0 {
        "0".into()
    } else {
        compact(x)
    }
}

/// One row: `label` then the figures, or for a long run the first few and
/// min/median/max, each extreme with its interval. A figure of `None` (a
/// p99 where no reply came) shows as `–` and counts in no statistic.
fn row(
    points: &[SeriesPoint],
    label: &str,
    figure: fn(&SeriesPoint) -> Option<f64>,
    show: fn(f64) -> String,
) -> String {
    let values: Vec<Option<f64>> = points.iter().map(figure).collect();
    let text = |v: &Option<f64>| v.map_or("–".to_string(), show);
    if values.len() <= SHOWN {
        let all: Vec<String> = values.iter().map(text).collect();
        return format!("{label:<6}{}", all.join(" "));
    }
    let first: Vec<String> = values[..FIRST].iter().map(text).collect();
    let known: Vec<(usize, f64)> = values
        .iter()
        .enumerate()
        .filter_map(|(i, v)| Some((i, (*v)?)))
        .collect();
    let at = |pick: fn(f64, f64) -> bool| {
        known
            .iter()
            .copied()
            .reduce(|a, b| if pick(b.1, a.1) { b } else { a })
            .map_or("–".to_string(), |(i, v)| {
                format!("{} ({})", show(v), span_text(&points[i]))
            })
    };
    let all: Vec<f64> = known.iter().map(|k| k.1).collect();
    format!(
        "{label:<6}{} … ({} intervals)  min {}  median {}  max {}",
        first.join(" "),
        values.len(),
        at(|b, a| b < a),
        show(median(&all)),
        at(|b, a| b > a)
    )
}

/// An interval's p99, when a reply came in it.
fn p99(p: &SeriesPoint) -> Option<f64> {
    p.p99_us.filter(|_| p.requests > 0)
}

fn per_interval(interval: Duration) -> String {
    if interval == Duration::from_secs(1) {
        "per second".into()
    } else {
        format!("per {interval:?}")
    }
}

/// The report's timeline lines (none for an empty timeline): req/s and p99
/// per interval, or MB/s alone for a flood (`p99_us` is `None`).
pub fn lines(points: &[SeriesPoint], interval: Duration) -> Vec<String> {
    if points.is_empty() {
        return Vec::new();
    }
    let head = format!("{:<11}", per_interval(interval));
    let pad = " ".repeat(11);
    let flood = points[0].p99_us.is_none();
    if flood {
        return vec![head + &row(points, "MB/s", |p| Some(p.mb_per_sec), rate_text)];
    }
    vec![
        head + &row(points, "req/s", |p| Some(p.requests_per_sec), rate_text),
        pad + &row(points, "p99", p99, latency_text),
    ]
}

/// The slowest interval of a timeline by its rate (req/s; MB/s for a
/// flood).
pub fn slowest_of(points: &[SeriesPoint]) -> Option<Slowest> {
    let flood = points.first()?.p99_us.is_none();
    if flood {
        slowest(points, |p| p.mb_per_sec)
    } else {
        slowest(points, |p| p.requests_per_sec)
    }
}

/// A warning naming the interval that stalled (below half the median
/// rate, or, where the rate held, a p99 far above the median one: see
/// [`series::latency_stall`]), or `None` when none did.
pub fn stall_warning(points: &[SeriesPoint]) -> Option<String> {
    let Some(s) = slowest_of(points).filter(Slowest::stalled) else {
        let (index, worst, median) = series::latency_stall(points)?;
        return Some(format!(
            "STALL: p99 {} in {} of the window ({:.0}x the median p99 {}): replies waited while the \
             rate held (an open loop keeps sending); the server, the network or the generator stopped \
             for a while; the run's averages hide it.",
            latency_text(worst),
            span_text(&points[index]),
            worst / median.max(f64::MIN_POSITIVE),
            latency_text(median)
        ));
    };
    let unit = if points[0].p99_us.is_none() {
        "MB/s"
    } else {
        "req/s"
    };
    let p99 = p99(&points[s.index]).map_or(String::new(), |p| format!(", p99 {}", latency_text(p)));
    Some(format!(
        "STALL: {} {unit} in {} of the window ({:.0}% of the median {} {unit}{p99}): the server, the \
         network or the generator stopped for a while; the run's averages hide it.",
        rate_text(s.value),
        span_text(&points[s.index]),
        s.share * 100.0,
        compact(s.median)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::series::second as point;

    #[test]
    fn a_short_run_shows_every_interval_and_a_stall_is_named() {
        let pts = [
            point(0.0, 41_200.0, 310.0),
            point(1.0, 43_000.0, 290.0),
            point(2.0, 3.0, 1.2e6),
            point(3.0, 42_900.0, 1200.0),
        ];
        let l = lines(&pts, Duration::from_secs(1));
        assert_eq!(l[0], "per second req/s 41.2k 43.0k 3.00 42.9k");
        assert_eq!(l[1], "           p99   310µs 290µs 1.20s 1.2ms");
        let w = stall_warning(&pts).unwrap();
        assert!(w.starts_with("STALL: 3.00 req/s in 2–3 s of the window (0% of the median 42.0k req/s, p99 1.20s)"), "{w}");
        assert!(stall_warning(&[pts[0], pts[1]]).is_none());
    }

    #[test]
    fn a_long_run_is_summarised_with_its_extremes_named() {
        let mut pts: Vec<SeriesPoint> = (0..60).map(|i| point(i as f64, 40e3, 300.0)).collect();
        pts[33] = point(33.0, 10.0, 2e6);
        pts[34] = SeriesPoint {
            requests: 0,
            requests_per_sec: 0.0,
            ..pts[34]
        };
        let l = lines(&pts, Duration::from_secs(1));
        assert!(
            l[0].contains("… (60 intervals)  min 0 (34–35 s)  median 40.0k  max 40.0k (0–1 s)"),
            "{}",
            l[0]
        );
        assert!(l[1].contains("max 2.00s (33–34 s)"), "{}", l[1]);
        assert!(l[1].contains("min 300µs (0–1 s)  median 300µs"), "{}", l[1]);
        assert!(stall_warning(&pts).unwrap().starts_with(
            "STALL: 0 req/s in 34–35 s of the window (0% of the median 40.0k req/s):"
        ));
        assert_eq!(l.len(), 2);
        let flood: Vec<SeriesPoint> = pts
            .iter()
            .map(|p| SeriesPoint { p99_us: None, ..*p })
            .collect();
        let l = lines(&flood, Duration::from_millis(500));
        assert!(
            l.len() == 1 && l[0].starts_with("per 500ms  MB/s  20.5"),
            "{l:?}"
        );
    }
}
