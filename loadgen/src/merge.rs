//! `loadgen merge`: one report from the interval logs of several generator
//! processes or machines that loaded the same server at the same time.
//!
//! # What the numbers mean
//! - **A log's span** runs from its earliest interval start to its latest
//!   interval end. A `run --hdr-log` log tiles its measurement window
//!   exactly (intervals by intended send time, the last one cut to the
//!   window, empty ones kept), so its span *is* that window and its
//!   requests / span is the req/s `run` printed.
//! - **req/s** is the sum over the logs of requests / span. Merging one log
//!   gives exactly what `run` printed; merging logs of runs that ran side by
//!   side gives the sum of their req/s, the load the server carried.
//! - **The common window** is the intersection of the spans: the time every
//!   generator was measuring. When the spans differ (one process started
//!   late, ran longer, or was interrupted), each log still contributes its
//!   own average rate over its own span; the sum is the load while they all
//!   ran only if each ran steadily. A warning on stderr says so when the
//!   common window is under [`GOOD_OVERLAP`] of the union of the spans, or
//!   empty (then the logs were not simultaneous, or the clocks disagree:
//!   times are absolute, so the machines' clocks must be synchronised).
//! - **Latency** percentiles are those of all requests together:
//!   histograms add exactly, nothing averages percentiles.
//!
//! # The merged log (`--out`)
//! Intervals are re-slotted onto one grid: it starts at the earliest start,
//! its step is the coarsest interval length of the inputs, and its last
//! slot ends at the latest end, so the slots tile the union of the spans
//! with their true lengths (the last may be shorter). Slots some input
//! covered are kept even when empty; a stretch no input covers (between
//! logs that do not overlap) is written as one empty interval as long as
//! the stretch, so the log still tiles the union without a histogram per
//! missing slot.
//!
//! A histogram cannot be split, so each input interval goes whole into the
//! slot holding its midpoint: when inputs are aligned and their lengths
//! divide the coarsest one, every slot is exact; otherwise a slot may hold
//! up to one input interval of its neighbours' requests. Totals and
//! percentiles are exact either way. Read back alone, the merged log gives
//! all requests / the union span, which is the summed req/s when the inputs'
//! spans coincide. Tags other than `uncorrected` are not ours to interpret
//! and are left out.
//!
//! # Memory
//! A decoded histogram (1 ns – 1 h at 3 digits) is a quarter of a
//! megabyte, and a log has one per interval and tag: an hour of 1 s
//! intervals with their `uncorrected` twins would take about 2 GB decoded.
//! So every histogram stays encoded while merge holds it: an input
//! interval as its log encoded it ([`Logged`]), a merged slot packed by
//! [`stats::pack`] ([`Slot`]). Slots are built one at a time, in order,
//! decoding only the members of the slot at hand, and `--out` decodes one
//! slot at a time as it writes. Merge thus holds about the size of its
//! logs, twice, plus a handful of decoded histograms, however long the logs.

use std::process::ExitCode;
use std::time::{Duration, UNIX_EPOCH};

use anyhow::Context;
use serde::Serialize;

use crate::cli::MergeArgs;
use crate::hdrlog::{self, ReadError, ReadErrorKind, UNCORRECTED_TAG};
use crate::outputs::print;
use crate::run::result::Interval;
use crate::stats::{self, Hist, Percentiles};
use crate::usage_error::{shorten, UsageError};

/// Below this share of the union of the spans, the common window is
/// reported as a poor overlap.
pub const GOOD_OVERLAP: f64 = 0.9;

/// One input log, as read.
#[derive(Clone, Debug)]
pub struct Input {
    /// The file, as named on the command line.
    pub name: String,
    /// Its intervals, all tags, in file order.
    pub intervals: Vec<Logged>,
}

impl Input {
    /// Reads the interval log `bytes` of the file `name`, keeping each
    /// histogram as it was encoded there.
    ///
    /// # Errors
    /// As [`hdrlog::read`].
    pub fn read(name: String, bytes: &[u8]) -> Result<Input, ReadError> {
        let mut intervals = Vec::new();
        hdrlog::read_each(bytes, |i, encoded| {
            intervals.push(Logged {
                count: i.hist.len(),
                tag: i.tag,
                start: i.start,
                length: i.length,
                hist: encoded.into_boxed_slice(),
            });
        })?;
        Ok(Input { name, intervals })
    }
}

/// One interval of an input log, its histogram kept encoded (see "Memory"
/// in the module doc).
#[derive(Clone, Debug)]
pub struct Logged {
    /// Tag, if any.
    pub tag: Option<String>,
    /// Start, as time since the Unix epoch.
    pub start: Duration,
    /// Length.
    pub length: Duration,
    /// Values recorded in the histogram.
    pub count: u64,
    /// The histogram, encoded as in the log (base64 removed); it decoded
    /// once when read, and [`stats::unpack`] decodes it again.
    pub hist: Box<[u8]>,
}

/// One interval of the merged log, its histograms packed by
/// [`stats::pack`].
#[derive(Clone, Debug)]
pub struct Slot {
    /// Start, relative to [`Merged::start`].
    pub start: Duration,
    /// Length.
    pub length: Duration,
    /// Untagged latency.
    pub corrected: Box<[u8]>,
    /// `uncorrected`-tagged latency.
    pub uncorrected: Box<[u8]>,
}

impl Slot {
    fn new(start: Duration, length: Duration, corrected: &Hist, uncorrected: &Hist) -> Slot {
        Slot {
            start,
            length,
            corrected: stats::pack(corrected),
            uncorrected: stats::pack(uncorrected),
        }
    }

    /// The slot with its histograms decoded.
    pub fn unpack(&self) -> Interval {
        Interval {
            start: self.start,
            length: self.length,
            corrected: stats::unpack(&self.corrected),
            uncorrected: stats::unpack(&self.uncorrected),
        }
    }
}

/// What one input contributed.
#[derive(Clone, Debug, Serialize)]
pub struct InputSummary {
    /// The file.
    pub file: String,
    /// Requests in its untagged intervals.
    pub requests: u64,
    /// Start of its span, in seconds since the Unix epoch.
    pub start_s: f64,
    /// Its span (earliest interval start to latest interval end), seconds.
    pub span_s: f64,
    /// `requests / span_s` (0 for a log that spans no time).
    pub requests_per_sec: f64,
    /// Its longest interval, in seconds.
    pub interval_s: f64,
}

/// The combined result, as printed and written with `--json`.
#[derive(Clone, Debug, Serialize)]
pub struct MergeSummary {
    /// Input files.
    pub files: Vec<String>,
    /// Each input's contribution, in command-line order.
    pub inputs: Vec<InputSummary>,
    /// Intervals read (all tags).
    pub intervals: usize,
    /// Requests in untagged intervals, all inputs.
    pub requests: u64,
    /// The sum of the inputs' `requests_per_sec`.
    pub requests_per_sec: f64,
    /// Union of the inputs' spans: earliest start to latest end, seconds.
    pub span_s: f64,
    /// Length of the common window (the intersection of the spans), seconds;
    /// 0 when the spans do not overlap.
    pub common_s: f64,
    /// Step of the merged log's intervals: the coarsest input interval.
    pub interval_s: f64,
    /// Latency of untagged intervals (from intended send time for loadgen logs).
    pub latency_us: Percentiles,
    /// Latency of `uncorrected`-tagged intervals, when present.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_us_uncorrected: Option<Percentiles>,
}

/// Everything [`combine`] works out.
#[derive(Clone, Debug)]
pub struct Merged {
    /// The summary.
    pub summary: MergeSummary,
    /// The merged log's intervals, packed, in order.
    pub slots: Vec<Slot>,
    /// Earliest start, as time since the Unix epoch.
    pub start: Duration,
    /// Warnings for stderr, one line each.
    pub warnings: Vec<String>,
}

impl Merged {
    /// The merged log's intervals, relative to `start`, decoded one at a
    /// time as the iterator reaches them.
    pub fn intervals(&self) -> impl Iterator<Item = Interval> + '_ {
        self.slots.iter().map(Slot::unpack)
    }
}

/// Runs `loadgen merge`.
///
/// # Errors
/// Unreadable, malformed or empty logs (naming the file), or an unwritable
/// output (naming the flag and file). A file that cannot be read or is not
/// an interval log at all is a [`UsageError`] (exit 2): the command line
/// named the wrong file.
pub fn merge(args: MergeArgs) -> anyhow::Result<ExitCode> {
    let mut inputs = Vec::new();
    for path in &args.logs {
        let name = path.display().to_string();
        // Read whole (it is the encoded size) and dropped once its
        // intervals are kept.
        // A file that cannot be read was named wrongly, as one that is not
        // a log: a bad command line.
        let bytes = std::fs::read(path)
            .map_err(|e| UsageError(format!("cannot read {}: {e}", shorten(&name))))?;
        let input = Input::read(name.clone(), &bytes).map_err(|e| match e.kind {
            // Not a log at all: the command line named the wrong file.
            ReadErrorKind::NotALog(_) => anyhow::Error::new(UsageError(format!("{name}: {e}"))),
            _ => anyhow::anyhow!("{name}: {e}"),
        })?;
        if input.intervals.is_empty() {
            anyhow::bail!("{name}: contains no intervals");
        }
        inputs.push(input);
    }
    let merged = combine(&inputs);
    // The slots hold all `--out` needs.
    drop(inputs);
    print(&render(&merged.summary))?;
    for w in &merged.warnings {
        eprintln!("{w}");
    }
    if let Some(path) = &args.json {
        crate::report::json::write(path, &merged.summary)?;
    }
    if let Some(path) = &args.out {
        let tagged = merged.summary.latency_us_uncorrected.is_some();
        hdrlog::write(path, UNIX_EPOCH + merged.start, merged.intervals(), tagged)
            .with_context(|| "--out")?;
    }
    Ok(ExitCode::SUCCESS)
}

/// A log's extent: earliest start, latest end (since the epoch), longest
/// interval.
fn extent(intervals: &[Logged]) -> (Duration, Duration, Duration) {
    let start = intervals.iter().map(|i| i.start).min().unwrap_or_default();
    let end = intervals.iter().map(|i| i.start + i.length).max();
    let longest = intervals.iter().map(|i| i.length).max();
    (start, end.unwrap_or_default(), longest.unwrap_or_default())
}

/// Adds `from` into `into`. Our own logs share [`stats::new_hist`]'s range;
/// another tool's histogram may reach beyond it, and its values are then
/// clamped (as `run` clamps) rather than refused.
fn add(into: &mut Hist, from: &Hist) {
    if into.add(from).is_err() {
        for v in from.iter_recorded() {
            let value = v.value_iterated_to().clamp(1, stats::MAX_NS);
            into.saturating_record_n(value, v.count_at_value());
        }
    }
}

/// Adds `inputs` together: see the module doc for what each number means.
pub fn combine(inputs: &[Input]) -> Merged {
    let mut warnings = Vec::new();
    let mut summaries = Vec::new();
    let mut extents = Vec::new();
    for input in inputs {
        let (start, end, longest) = extent(&input.intervals);
        let span = end.saturating_sub(start);
        let requests: u64 = input
            .intervals
            .iter()
            .filter(|i| i.tag.is_none())
            .map(|i| i.count)
            .sum();
        if span.is_zero() && requests > 0 {
            warnings.push(format!(
                "WARNING: {}: its intervals cover no time, so its {requests} requests add nothing to req/s",
                input.name
            ));
        }
        summaries.push(InputSummary {
            file: input.name.clone(),
            requests,
            start_s: start.as_secs_f64(),
            span_s: span.as_secs_f64(),
            requests_per_sec: rate(requests, span),
            interval_s: longest.as_secs_f64(),
        });
        extents.push((start, end, longest));
    }
    let start = extents.iter().map(|e| e.0).min().unwrap_or_default();
    let end = extents.iter().map(|e| e.1).max().unwrap_or_default();
    let common_start = extents.iter().map(|e| e.0).max().unwrap_or_default();
    let common_end = extents.iter().map(|e| e.1).min().unwrap_or_default();
    let (span, common) = (end - start, common_end.saturating_sub(common_start));
    if inputs.len() > 1 {
        warnings.extend(overlap_warning(inputs, &extents, span, common));
    }

    let step = extents
        .iter()
        .map(|e| e.2)
        .max()
        .filter(|l| !l.is_zero())
        .unwrap_or(Duration::from_secs(1));
    let (slots, total, total_unc) = reslot(inputs, start, step, span);

    let summary = MergeSummary {
        files: inputs.iter().map(|i| i.name.clone()).collect(),
        intervals: inputs.iter().map(|i| i.intervals.len()).sum(),
        requests: summaries.iter().map(|s| s.requests).sum(),
        requests_per_sec: summaries.iter().map(|s| s.requests_per_sec).sum(),
        inputs: summaries,
        span_s: span.as_secs_f64(),
        common_s: common.as_secs_f64(),
        interval_s: step.as_secs_f64(),
        latency_us: Percentiles::of(&total),
        latency_us_uncorrected: total_unc.as_ref().map(Percentiles::of),
    };
    Merged {
        summary,
        slots,
        start,
        warnings,
    }
}

/// The merged log's slots, on a grid of `step` from `start`, and the
/// totals (untagged, `uncorrected`) of every input interval.
///
/// Slots are built one at a time, in order: each input interval is decoded
/// only when its slot is, added into that slot and the totals, and
/// dropped; the finished slot is packed. So however long the logs, a
/// handful of histograms are decoded at once. The last slot is cut at
/// `span`, and each stretch of slots no input fell in is one empty
/// interval, so the whole tiles `[0, span)`: logs hours or years apart
/// (unsynchronised clocks) must not cost a slot each in between.
fn reslot(
    inputs: &[Input],
    start: Duration,
    step: Duration,
    span: Duration,
) -> (Vec<Slot>, Hist, Option<Hist>) {
    let at = |k: u128| Duration::from_nanos((step.as_nanos() * k).min(span.as_nanos()) as u64);
    // Each interval goes whole into the slot holding its midpoint. The sort
    // is stable, so a slot's members are added in input and file order.
    let slot_of = |i: &Logged| (i.start + i.length / 2 - start).as_nanos() / step.as_nanos();
    let mut members: Vec<(u128, &Logged)> = inputs
        .iter()
        .flat_map(|input| &input.intervals)
        .map(|i| (slot_of(i), i))
        .collect();
    members.sort_by_key(|&(k, _)| k);

    let mut out = Vec::new();
    let mut total = stats::new_hist();
    let mut total_unc: Option<Hist> = None;
    let empty = stats::new_hist();
    let mut next = 0;
    for group in members.chunk_by(|a, b| a.0 == b.0) {
        let k = group[0].0;
        if k > next {
            out.push(Slot::new(at(next), at(k) - at(next), &empty, &empty));
        }
        let (mut c, mut u) = (stats::new_hist(), stats::new_hist());
        for &(_, i) in group {
            match i.tag.as_deref() {
                None => {
                    let hist = stats::unpack(&i.hist);
                    add(&mut total, &hist);
                    add(&mut c, &hist);
                }
                Some(UNCORRECTED_TAG) => {
                    let hist = stats::unpack(&i.hist);
                    add(total_unc.get_or_insert_with(stats::new_hist), &hist);
                    add(&mut u, &hist);
                }
                // Other tools' tags: not ours to interpret (the slot is
                // still kept: the interval says the time was covered).
                Some(_) => {}
            }
        }
        out.push(Slot::new(at(k), at(k + 1) - at(k), &c, &u));
        next = k + 1;
    }
    (out, total, total_unc)
}

fn rate(requests: u64, span: Duration) -> f64 {
    if span.is_zero() {
        0.0
    } else {
        requests as f64 / span.as_secs_f64()
    }
}

/// The stderr line for logs that do not overlap, or overlap poorly.
fn overlap_warning(
    inputs: &[Input],
    extents: &[(Duration, Duration, Duration)],
    span: Duration,
    common: Duration,
) -> Option<String> {
    if common.is_zero() {
        // The pair that proves it: the log that ends first, the one that
        // starts last.
        let first_end = (0..inputs.len()).min_by_key(|&k| extents[k].1)?;
        let last_start = (0..inputs.len()).max_by_key(|&k| extents[k].0)?;
        return Some(format!(
            "WARNING: the logs do not overlap in time ({} ends before {} starts): \
             req/s adds rates that never ran at once; were the generators run together, \
             on machines with synchronised clocks?",
            inputs[first_end].name, inputs[last_start].name
        ));
    }
    let share = common.as_secs_f64() / span.as_secs_f64();
    (share < GOOD_OVERLAP).then(|| {
        format!(
            "WARNING: the logs overlap for only {:.3} s of the {:.3} s they span ({:.0}%): \
             req/s adds each log's average over its own span, which is the load at any \
             one moment only if every generator ran steadily",
            common.as_secs_f64(),
            span.as_secs_f64(),
            share * 100.0
        )
    })
}

fn render(s: &MergeSummary) -> String {
    let mut out = match &s.inputs[..] {
        [one] => format!(
            "merged 1 log(s), {} intervals: {} requests over {:.3} s = {:.0} req/s\n",
            s.intervals, s.requests, one.span_s, s.requests_per_sec
        ),
        many => {
            let mut out = format!(
                "merged {} log(s), {} intervals: {} requests, {:.0} req/s \
                 (the sum of each log's requests / its span)\n",
                many.len(),
                s.intervals,
                s.requests,
                s.requests_per_sec
            );
            for i in many {
                out.push_str(&format!(
                    "  {}: {} requests over {:.3} s = {:.0} req/s\n",
                    i.file, i.requests, i.span_s, i.requests_per_sec
                ));
            }
            out.push_str(&format!(
                "  common window {:.3} s of the {:.3} s spanned\n",
                s.common_s, s.span_s
            ));
            out
        }
    };
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
    use crate::hdrlog::LoggedInterval;
    use crate::stats::record;

    const T0: u64 = 1_700_000_000;

    /// `i` as [`Input::read`] keeps it, its histogram packed.
    fn pack(i: &LoggedInterval) -> Logged {
        Logged {
            tag: i.tag.clone(),
            start: i.start,
            length: i.length,
            count: i.hist.len(),
            hist: stats::pack(&i.hist),
        }
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// An interval at `T0 + start`, `count` requests of `us` µs each.
    fn iv(
        start: Duration,
        length: Duration,
        tag: Option<&str>,
        count: u64,
        us: u64,
    ) -> LoggedInterval {
        let mut hist = stats::new_hist();
        for _ in 0..count {
            record(&mut hist, us * 1000);
        }
        LoggedInterval {
            tag: tag.map(str::to_owned),
            start: Duration::from_secs(T0) + start,
            length,
            hist,
        }
    }

    /// A log as `run` writes it: `window` tiled by `len`, the last interval
    /// cut short, `per_sec` requests a second spread evenly.
    fn run_log(
        name: &str,
        offset: Duration,
        window: Duration,
        len: Duration,
        per_sec: u64,
        us: u64,
    ) -> Input {
        let mut intervals = Vec::new();
        let mut at = Duration::ZERO;
        while at < window {
            let length = len.min(window - at);
            let count = (per_sec as f64 * length.as_secs_f64()).round() as u64;
            intervals.push(pack(&iv(offset + at, length, None, count, us)));
            at += len;
        }
        Input {
            name: name.into(),
            intervals,
        }
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-9 * b.abs().max(1.0)
    }

    #[test]
    fn one_log_with_a_partial_last_interval_gives_runs_own_rate() {
        // A merged log once gave a partial last interval a full second: 2.5 s of 1 s intervals; the last is 0.5 s, not 1 s.
        let log = run_log("a", ms(0), ms(2500), ms(1000), 1000, 100);
        assert_eq!(log.intervals[2].length, ms(500));
        let m = combine(&[log]);
        let s = &m.summary;
        assert_eq!(s.requests, 2500);
        assert!(close(s.span_s, 2.5), "{}", s.span_s);
        assert!(
            close(s.requests_per_sec, 2500.0 / 2.5),
            "{}",
            s.requests_per_sec
        );
        assert!(close(s.common_s, 2.5));
        assert!(m.warnings.is_empty(), "{:?}", m.warnings);
        let lengths: Vec<_> = m.intervals().map(|i| i.length).collect();
        assert_eq!(lengths, [ms(1000), ms(1000), ms(500)]);
        assert!(
            render(s).contains("2500 requests over 2.500 s = 1000 req/s"),
            "{}",
            render(s)
        );
    }

    #[test]
    fn an_empty_interval_mid_run_is_time_that_passed() {
        let mut log = run_log("a", ms(0), ms(3000), ms(1000), 100, 100);
        let i = &mut log.intervals[1];
        *i = pack(&LoggedInterval {
            tag: None,
            start: i.start,
            length: i.length,
            hist: stats::new_hist(),
        });
        let s = combine(&[log]).summary;
        assert_eq!(s.requests, 200);
        assert!(
            close(s.requests_per_sec, 200.0 / 3.0),
            "{}",
            s.requests_per_sec
        );
    }

    #[test]
    fn simultaneous_logs_add_their_rates_and_latencies() {
        let a = run_log("a", ms(0), ms(2500), ms(1000), 1000, 100);
        let mut b = run_log("b", ms(3), ms(2500), ms(1000), 3000, 300);
        b.intervals
            .push(pack(&iv(ms(3), ms(1000), Some(UNCORRECTED_TAG), 10, 90)));
        let m = combine(&[a, b]);
        let s = &m.summary;
        assert_eq!(s.requests, 2500 + 7500);
        assert!(
            close(s.requests_per_sec, 1000.0 + 3000.0),
            "{}",
            s.requests_per_sec
        );
        assert!(close(s.span_s, 2.503) && close(s.common_s, 2.497), "{s:?}");
        assert!(m.warnings.is_empty(), "{:?}", m.warnings);
        // Histograms add: a quarter of the requests at 100 µs, the rest at 300.
        assert!(
            (s.latency_us.p50 - 300.0).abs() < 0.5,
            "{}",
            s.latency_us.p50
        );
        assert!((s.latency_us.p90 - 300.0).abs() < 0.5);
        assert!((Percentiles::of(&m.slots[0].unpack().corrected).p50 - 300.0).abs() < 0.5);
        assert_eq!(s.latency_us_uncorrected.unwrap().count, 10);
        assert_eq!(m.start, Duration::from_secs(T0));
        let total: u64 = m.intervals().map(|i| i.corrected.len()).sum();
        assert_eq!(total, s.requests);
    }

    #[test]
    fn different_interval_lengths_reslot_onto_the_coarsest() {
        // Same 2.5 s window, one log in 1 s intervals, one in 250 ms.
        let a = run_log("a", ms(0), ms(2500), ms(1000), 1000, 100);
        let b = run_log("b", ms(0), ms(2500), ms(250), 400, 100);
        assert_eq!(b.intervals.len(), 10);
        let m = combine(&[a, b]);
        let s = &m.summary;
        assert!(close(s.requests_per_sec, 1400.0), "{}", s.requests_per_sec);
        assert!(close(s.interval_s, 1.0));
        let slots: Vec<_> = m
            .intervals()
            .map(|i| (i.start, i.length, i.corrected.len()))
            .collect();
        assert_eq!(
            slots,
            [
                (ms(0), ms(1000), 1400),
                (ms(1000), ms(1000), 1400),
                (ms(2000), ms(500), 700)
            ]
        );
    }

    #[test]
    fn the_merged_log_reads_back_with_its_lengths_and_rate() {
        let a = run_log("a", ms(0), ms(2500), ms(1000), 1000, 100);
        let b = run_log("b", ms(0), ms(2500), ms(250), 400, 100);
        let m = combine(&[a, b]);
        let mut buf = Vec::new();
        hdrlog::write_to(&mut buf, UNIX_EPOCH + m.start, m.intervals(), false).unwrap();
        let back = Input::read("merged".into(), &buf).unwrap();
        let again = combine(&[back]).summary;
        assert_eq!(again.requests, m.summary.requests);
        assert!(close(again.span_s, 2.5));
        // The spans coincide, so one log of everything has the summed rate.
        assert!(close(again.requests_per_sec, m.summary.requests_per_sec));
    }

    #[test]
    fn logs_that_overlap_poorly_or_not_at_all_are_warned_about() {
        let a = || run_log("a.hlog", ms(0), ms(2000), ms(1000), 100, 100);
        let late = run_log("b.hlog", ms(1000), ms(2000), ms(1000), 100, 100);
        let m = combine(&[a(), late]);
        // Each log still counts at its own rate.
        assert!(close(m.summary.requests_per_sec, 200.0));
        assert!(close(m.summary.common_s, 1.0) && close(m.summary.span_s, 3.0));
        assert_eq!(m.warnings.len(), 1, "{:?}", m.warnings);
        assert!(
            m.warnings[0].contains("overlap for only 1.000 s of the 3.000 s"),
            "{:?}",
            m.warnings
        );

        let apart = run_log("b.hlog", ms(5000), ms(2000), ms(1000), 100, 100);
        let m = combine(&[a(), apart]);
        assert!(close(m.summary.common_s, 0.0));
        assert!(
            m.warnings[0].contains("do not overlap in time (a.hlog ends before b.hlog starts)"),
            "{:?}",
            m.warnings
        );
        // The merged log tiles the whole union; the stretch no log covers
        // is one empty interval.
        let lengths: Vec<_> = m.intervals().map(|i| i.length).collect();
        assert_eq!(lengths, [ms(1000), ms(1000), ms(3000), ms(1000), ms(1000)]);
        assert_eq!(m.slots[2].start, ms(2000));
    }

    #[test]
    fn logs_years_apart_cost_no_histogram_per_missing_slot() {
        // A clock set wrong by ten years, with 1 ms intervals: 3·10¹¹ slots
        // in between, which must not be built.
        let year = Duration::from_secs(365 * 24 * 3600);
        let a = run_log("a.hlog", ms(0), ms(10), ms(1), 1000, 100);
        let b = run_log("b.hlog", year * 10, ms(10), ms(1), 1000, 100);
        let m = combine(&[a, b]);
        assert_eq!(m.slots.len(), 21);
        let total: Duration = m.slots.iter().map(|i| i.length).sum();
        assert_eq!(total, year * 10 + ms(10));
        assert!(m.warnings[0].contains("do not overlap"), "{:?}", m.warnings);
    }

    #[test]
    fn a_foreign_log_beyond_our_range_merges_clamped() {
        // Read back with its own bounds, as logged, and clamped only when
        // added into ours.
        let mut wide = hdrhistogram::Histogram::<u64>::new_with_bounds(1, u64::MAX / 4, 3).unwrap();
        wide.record(stats::MAX_NS * 10).unwrap();
        wide.record(1000).unwrap();
        let interval = Interval {
            start: Duration::ZERO,
            length: ms(1000),
            corrected: wide,
            uncorrected: stats::new_hist(),
        };
        let mut buf = Vec::new();
        let t0 = UNIX_EPOCH + Duration::from_secs(T0);
        hdrlog::write_to(&mut buf, t0, [interval], false).unwrap();
        let m = combine(&[Input::read("java.hlog".into(), &buf).unwrap()]);
        assert_eq!(m.summary.requests, 2);
        assert_eq!(m.summary.latency_us.count, 2);
        let max = m.summary.latency_us.max * 1000.0;
        assert!(max <= stats::MAX_NS as f64 * 1.01, "{max}");
        let slot = m.slots[0].unpack().corrected;
        assert_eq!((slot.len(), slot.high()), (2, stats::MAX_NS));
    }

    #[test]
    fn a_foreign_histogram_beyond_our_range_is_clamped_not_refused() {
        let mut wide = hdrhistogram::Histogram::<u64>::new_with_bounds(1, u64::MAX / 4, 3).unwrap();
        wide.record(stats::MAX_NS * 10).unwrap();
        wide.record(1000).unwrap();
        let mut into = stats::new_hist();
        add(&mut into, &wide);
        assert_eq!(into.len(), 2);
        assert!(into.max() <= stats::MAX_NS * 101 / 100);
    }

    #[test]
    fn a_long_log_is_merged_holding_its_encoded_size_not_a_histogram_per_interval() {
        // 2000 intervals with their `uncorrected` twins: 4000 histograms
        // read, 2000 slots of two built. Decoded, that is over 2 GB.
        const INTERVALS: u32 = 2000;
        let len = ms(10);
        let log = (0..INTERVALS).map(|k| {
            let (mut c, mut u) = (stats::new_hist(), stats::new_hist());
            for v in 0..u64::from(1 + k % 7) {
                record(&mut c, 50_000 + (u64::from(k) * 7 + v) * 1_000);
                record(&mut u, 40_000 + v * 1_000);
            }
            Interval {
                start: len * k,
                length: len,
                corrected: c,
                uncorrected: u,
            }
        });
        let mut bytes = Vec::new();
        let t0 = UNIX_EPOCH + Duration::from_secs(T0);
        hdrlog::write_to(&mut bytes, t0, log, true).unwrap();

        let (merged, peak) = meter::peak(|| {
            let input = Input::read("long.hlog".into(), &bytes).unwrap();
            let merged = combine(&[input]);
            let at = UNIX_EPOCH + merged.start;
            hdrlog::write_to(&mut std::io::sink(), at, merged.intervals(), true).unwrap();
            merged
        });
        let expected: u64 = (0..u64::from(INTERVALS)).map(|k| 1 + k % 7).sum();
        assert_eq!(merged.summary.requests, expected);
        assert_eq!(merged.summary.intervals, 2 * INTERVALS as usize);
        assert_eq!(merged.slots.len(), INTERVALS as usize);

        // What may be held: the log's encodings and the slots' packs (each
        // about the log's size), and a few histograms at a time: the one
        // being read, a slot's pair, the two totals, the encoders' buffers.
        // (Measured: 2.7 MB for a 0.4 MB log and 0.27 MB histograms.)
        let hist = stats::new_hist().distinct_values() * 8;
        let bound = 4 * bytes.len() + 10 * hist;
        assert!(
            peak < bound,
            "peak {peak} B, log {} B, histogram {hist} B",
            bytes.len()
        );
        assert!(peak * 100 < 2 * INTERVALS as usize * hist, "{peak} B");
    }

    /// Counts the heap each thread holds, so a test can see the most one
    /// call held however the other tests run beside it.
    mod meter {
        use std::alloc::{GlobalAlloc, Layout, System};
        use std::cell::Cell;

        struct Meter;

        thread_local! {
            static HELD: Cell<isize> = const { Cell::new(0) };
            static PEAK: Cell<isize> = const { Cell::new(0) };
        }

        fn note(delta: isize) {
            // `try_with`: a thread being torn down still frees memory.
            let _ = HELD.try_with(|held| {
                let now = held.get() + delta;
                held.set(now);
                let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
            });
        }

        // SAFETY: every call is passed to `System` unchanged; the counting
        // touches only const-initialised thread-locals, which never
        // allocate.
        unsafe impl GlobalAlloc for Meter {
            unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
                let p = unsafe { System.alloc(layout) };
                if !p.is_null() {
                    note(layout.size() as isize);
                }
                p
            }

            unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
                let p = unsafe { System.alloc_zeroed(layout) };
                if !p.is_null() {
                    note(layout.size() as isize);
                }
                p
            }

            unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
                unsafe { System.dealloc(ptr, layout) };
                note(-(layout.size() as isize));
            }

            unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new: usize) -> *mut u8 {
                let p = unsafe { System.realloc(ptr, layout, new) };
                if !p.is_null() {
                    note(new as isize - layout.size() as isize);
                }
                p
            }
        }

        #[global_allocator]
        static METER: Meter = Meter;

        /// Runs `f` and returns its result with the most heap, in bytes,
        /// this thread held beyond what it held before while `f` ran.
        pub fn peak<T>(f: impl FnOnce() -> T) -> (T, usize) {
            let before = HELD.with(Cell::get);
            PEAK.with(|p| p.set(before));
            let out = f();
            let peak = PEAK.with(Cell::get);
            (out, (peak - before) as usize)
        }
    }
}
