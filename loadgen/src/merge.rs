//! `loadgen merge`: one report from the interval logs of several generator
//! processes or machines that loaded the same server at the same time.
//!
//! Intervals are aligned on absolute (wall-clock) time, so the logs must come
//! from machines with synchronised clocks; intervals that start within the
//! same `length` slot are added together. Throughput is the total count over
//! the union of the logs' time spans. Histograms add exactly, so the merged
//! percentiles are those of all requests together, not an average of
//! percentiles.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::{Duration, UNIX_EPOCH};

use anyhow::Context;
use serde::Serialize;

use crate::cli::MergeArgs;
use crate::hdrlog::{self, LoggedInterval, UNCORRECTED_TAG};
use crate::run::result::Interval;
use crate::stats::{self, Hist, Percentiles};

/// The combined result, as printed and written with `--json`.
#[derive(Clone, Debug, Serialize)]
pub struct MergeSummary {
    /// Input files.
    pub files: Vec<String>,
    /// Intervals read (all tags).
    pub intervals: usize,
    /// Requests in untagged intervals.
    pub requests: u64,
    /// From the earliest interval start to the latest interval end, in seconds.
    pub span_s: f64,
    /// `requests / span_s`.
    pub requests_per_sec: f64,
    /// Latency of untagged intervals (from intended send time for loadgen logs).
    pub latency_us: Percentiles,
    /// Latency of `uncorrected`-tagged intervals, when present.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_us_uncorrected: Option<Percentiles>,
}

/// Runs `loadgen merge`.
///
/// # Errors
/// Unreadable or malformed logs (naming the file), or an unwritable output.
pub fn merge(args: MergeArgs) -> anyhow::Result<ExitCode> {
    let mut all: Vec<LoggedInterval> = Vec::new();
    for path in &args.logs {
        let bytes =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        let intervals = hdrlog::read(&bytes)
            .with_context(|| format!("{}: not an interval log", path.display()))?;
        if intervals.is_empty() {
            anyhow::bail!("{}: contains no intervals", path.display());
        }
        all.extend(intervals);
    }
    let files = args.logs.iter().map(|p| p.display().to_string()).collect();
    let (summary, merged, start) = combine(files, &all);
    crate::print(&render(&summary))?;
    if let Some(path) = &args.json {
        crate::report::json::write(path, &summary)?;
    }
    if let Some(path) = &args.out {
        let tagged = summary.latency_us_uncorrected.is_some();
        hdrlog::write(path, UNIX_EPOCH + start, &merged, tagged).with_context(|| "--out")?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Adds `all` together: the summary, the time-aligned merged intervals, and
/// the earliest start (since the epoch).
pub fn combine(
    files: Vec<String>,
    all: &[LoggedInterval],
) -> (MergeSummary, Vec<Interval>, Duration) {
    let start = all.iter().map(|i| i.start).min().unwrap_or_default();
    let end = all
        .iter()
        .map(|i| i.start + i.length)
        .max()
        .unwrap_or_default();
    let slot = all
        .iter()
        .map(|i| i.length)
        .filter(|l| !l.is_zero())
        .min()
        .unwrap_or(Duration::from_secs(1));
    let mut total = stats::new_hist();
    let mut total_unc: Option<Hist> = None;
    let mut slots: BTreeMap<u64, (Hist, Hist)> = BTreeMap::new();
    for i in all {
        let k = ((i.start - start).as_nanos() / slot.as_nanos()) as u64;
        let (c, u) = slots
            .entry(k)
            .or_insert_with(|| (stats::new_hist(), stats::new_hist()));
        match i.tag.as_deref() {
            None => {
                stats::merge(&mut total, &i.hist);
                stats::merge(c, &i.hist);
            }
            Some(UNCORRECTED_TAG) => {
                stats::merge(total_unc.get_or_insert_with(stats::new_hist), &i.hist);
                stats::merge(u, &i.hist);
            }
            // Other tools' tags: not ours to interpret.
            Some(_) => {}
        }
    }
    let span = end.saturating_sub(start);
    let summary = MergeSummary {
        files,
        intervals: all.len(),
        requests: total.len(),
        span_s: span.as_secs_f64(),
        requests_per_sec: if span.is_zero() {
            0.0
        } else {
            total.len() as f64 / span.as_secs_f64()
        },
        latency_us: Percentiles::of(&total),
        latency_us_uncorrected: total_unc.as_ref().map(Percentiles::of),
    };
    let merged = slots
        .into_iter()
        .map(|(k, (c, u))| Interval {
            start: slot * k as u32,
            length: slot,
            corrected: c,
            uncorrected: u,
        })
        .collect();
    (summary, merged, start)
}

fn render(s: &MergeSummary) -> String {
    let mut out = format!(
        "merged {} log(s), {} intervals: {} requests over {:.3} s = {:.0} req/s\n",
        s.files.len(),
        s.intervals,
        s.requests,
        s.span_s,
        s.requests_per_sec
    );
    let row = |name: &str, p: &Percentiles| {
        format!(
            "{name:<10}{:>10.1}{:>10.1}{:>10.1}{:>10.1}{:>10.1}{:>10.1}{:>10.1}\n",
            p.p50, p.p90, p.p99, p.p999, p.p9999, p.max, p.mean
        )
    };
    out.push_str(&format!(
        "{:<10}{:>10}{:>10}{:>10}{:>10}{:>10}{:>10}{:>10}\n",
        "latency µs", "p50", "p90", "p99", "p99.9", "p99.99", "max", "mean"
    ));
    out.push_str(&row("", &s.latency_us));
    if let Some(u) = &s.latency_us_uncorrected {
        out.push_str(&row("uncorr.", u));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::record;

    fn interval(start_s: u64, tag: Option<&str>, values_us: &[u64]) -> LoggedInterval {
        let mut hist = stats::new_hist();
        for v in values_us {
            record(&mut hist, v * 1000);
        }
        LoggedInterval {
            tag: tag.map(str::to_owned),
            start: Duration::from_secs(start_s),
            length: Duration::from_secs(1),
            hist,
        }
    }

    #[test]
    fn overlapping_logs_add_counts_and_share_time() {
        // Two generators over the same two seconds, plus an uncorrected tag.
        let all = [
            interval(100, None, &[100; 50]),
            interval(101, None, &[100; 50]),
            interval(100, None, &[300; 50]),
            interval(101, None, &[300; 50]),
            interval(100, Some(UNCORRECTED_TAG), &[90; 10]),
        ];
        let (s, merged, start) = combine(vec!["a".into(), "b".into()], &all);
        assert_eq!(s.requests, 200);
        assert!((s.span_s - 2.0).abs() < 1e-9);
        assert!((s.requests_per_sec - 100.0).abs() < 1e-9);
        assert!(
            (s.latency_us.p50 - 100.0).abs() < 0.2,
            "{}",
            s.latency_us.p50
        );
        assert!(
            (s.latency_us.p90 - 300.0).abs() < 0.5,
            "{}",
            s.latency_us.p90
        );
        assert_eq!(s.latency_us_uncorrected.unwrap().count, 10);
        assert_eq!(start, Duration::from_secs(100));
        assert_eq!(merged.len(), 2);
        assert_eq!(merged[1].corrected.len(), 100);
    }
}
