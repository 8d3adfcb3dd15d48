//! HdrHistogram interval logs: written by `run --hdr-log`, read by `merge`.
//!
//! The format is the one Java's `HistogramLogWriter` produces and
//! HistogramLogAnalyzer / `HistogramLogProcessor` read: comment headers,
//! `StartTime` and `BaseTime`, the CSV legend, then one line per interval
//! with a base64, deflate-compressed V2 histogram. Values are nanoseconds
//! (the unit those tools assume by default); `Interval_Max` is printed in
//! milliseconds, as jHiccup does.
//!
//! Untagged intervals hold latency from the intended send time. In open
//! loop, intervals tagged `uncorrected` hold latency from the actual send
//! time.

use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use hdrhistogram::serialization::interval_log::{
    IntervalLogIterator, IntervalLogWriterBuilder, LogEntry, Tag,
};
use hdrhistogram::serialization::{Deserializer, V2DeflateSerializer};

use crate::run::result::Interval;
use crate::stats::Hist;

/// Tag of the uncorrected (actual-send-time) intervals.
pub const UNCORRECTED_TAG: &str = "uncorrected";

fn named(path: &Path, e: impl std::fmt::Display) -> io::Error {
    io::Error::other(format!("{}: {e}", path.display()))
}

/// Writes `intervals` measured from `start` as an interval log at `path`.
/// `with_uncorrected` adds the `uncorrected`-tagged intervals.
///
/// # Errors
/// I/O or serialisation failures, naming `path`.
pub fn write(
    path: &Path,
    start: SystemTime,
    intervals: &[Interval],
    with_uncorrected: bool,
) -> io::Result<()> {
    let file = std::fs::File::create(path).map_err(|e| named(path, e))?;
    let mut w = BufWriter::new(file);
    write_to(&mut w, start, intervals, with_uncorrected).map_err(|e| named(path, e))?;
    w.flush().map_err(|e| named(path, e))
}

/// [`write`] to any writer.
pub fn write_to<W: Write>(
    w: &mut W,
    start: SystemTime,
    intervals: &[Interval],
    with_uncorrected: bool,
) -> io::Result<()> {
    let epoch = start
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64();
    writeln!(
        w,
        "#[Logged with loadgen {}; values in nanoseconds]",
        env!("CARGO_PKG_VERSION")
    )?;
    writeln!(w, "#[Histogram log format version 1.3]")?;
    writeln!(
        w,
        "#[StartTime: {epoch:.3} (seconds since epoch), {}]",
        humantime::format_rfc3339_millis(start)
    )?;
    writeln!(w, "#[BaseTime: {epoch:.3} (seconds since epoch)]")?;
    writeln!(
        w,
        "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\""
    )?;
    let mut serializer = V2DeflateSerializer::new();
    let mut log = IntervalLogWriterBuilder::new()
        .with_max_value_divisor(1e6)
        .begin_log_with(w, &mut serializer)?;
    let tag = Tag::new(UNCORRECTED_TAG).expect("constant tag is valid");
    for i in intervals {
        log.write_histogram(&i.corrected, i.start, i.length, None)
            .map_err(io::Error::other)?;
        if with_uncorrected {
            log.write_histogram(&i.uncorrected, i.start, i.length, Some(tag))
                .map_err(io::Error::other)?;
        }
    }
    Ok(())
}

/// One interval read back from a log, with its absolute start time.
#[derive(Clone, Debug)]
pub struct LoggedInterval {
    /// Tag, if any.
    pub tag: Option<String>,
    /// Start, as time since the Unix epoch.
    pub start: Duration,
    /// Length.
    pub length: Duration,
    /// The histogram.
    pub hist: Hist,
}

/// Seconds in a year: the Java reader's threshold for telling relative
/// timestamps from absolute ones when only `StartTime` is present.
const YEAR: Duration = Duration::from_secs(365 * 24 * 3600);

/// Parses an interval log, resolving each interval's absolute start the way
/// Java's `HistogramLogReader` does.
///
/// # Errors
/// `InvalidData` for unparseable lines or histograms (with the byte offset).
pub fn read(bytes: &[u8]) -> io::Result<Vec<LoggedInterval>> {
    let mut base: Option<Duration> = None;
    let mut start: Option<Duration> = None;
    let mut out = Vec::new();
    let mut de = Deserializer::new();
    for entry in IntervalLogIterator::new(bytes) {
        let entry =
            entry.map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("{e:?}")))?;
        match entry {
            LogEntry::StartTime(t) => start = Some(t),
            LogEntry::BaseTime(t) => base = Some(t),
            LogEntry::Interval(i) => {
                let ts = i.start_timestamp();
                let absolute = match (base, start) {
                    (Some(b), _) => b + ts,
                    (None, Some(s)) if ts + YEAR < s => s + ts,
                    _ => ts,
                };
                let raw = base64::engine::general_purpose::STANDARD
                    .decode(i.encoded_histogram())
                    .map_err(|e| {
                        io::Error::new(io::ErrorKind::InvalidData, format!("bad base64: {e}"))
                    })?;
                let hist: Hist = de.deserialize(&mut &raw[..]).map_err(|e| {
                    io::Error::new(io::ErrorKind::InvalidData, format!("bad histogram: {e:?}"))
                })?;
                out.push(LoggedInterval {
                    tag: i.tag().map(|t| t.as_str().to_owned()),
                    start: absolute,
                    length: i.duration(),
                    hist,
                });
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::{new_hist, record};

    #[test]
    fn written_log_reads_back_with_absolute_times_and_tags() {
        let start = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let mut intervals = Vec::new();
        for k in 0..3u32 {
            let (mut c, mut u) = (new_hist(), new_hist());
            for v in 1..=100 {
                record(&mut c, v * 1000 * (k as u64 + 1));
                record(&mut u, v * 10);
            }
            intervals.push(Interval {
                start: Duration::from_secs(k.into()),
                length: Duration::from_secs(1),
                corrected: c,
                uncorrected: u,
            });
        }
        let mut buf = Vec::new();
        write_to(&mut buf, start, &intervals, true).unwrap();
        let text = String::from_utf8(buf.clone()).unwrap();
        assert!(
            text.contains("\"StartTimestamp\",\"Interval_Length\""),
            "{text}"
        );
        assert!(text.contains("#[BaseTime: 1700000000.000"), "{text}");

        let back = read(&buf).unwrap();
        assert_eq!(back.len(), 6);
        let untagged: Vec<_> = back.iter().filter(|i| i.tag.is_none()).collect();
        assert_eq!(untagged.len(), 3);
        assert_eq!(untagged[2].start, Duration::from_secs(1_700_000_002));
        assert_eq!(untagged[2].hist.len(), 100);
        assert_eq!(untagged[2].hist.max(), intervals[2].corrected.max());
        assert!(back
            .iter()
            .any(|i| i.tag.as_deref() == Some(UNCORRECTED_TAG)));
    }
}
