//! HdrHistogram interval logs: written by `run --hdr-log` and `merge --out`,
//! read by `merge`.
//!
//! The format is the one Java's `HistogramLogWriter` produces and
//! HistogramLogAnalyzer / `HistogramLogProcessor` read: comment headers,
//! `StartTime` and `BaseTime`, the CSV legend, then one line per interval
//! (`start,length,max,histogram`) with a base64, deflate-compressed V2
//! histogram. Values are nanoseconds (the unit those tools assume by
//! default); `Interval_Max` is printed in milliseconds, as jHiccup does.
//!
//! Untagged intervals hold latency from the intended send time. In open
//! loop, intervals tagged `uncorrected` hold latency from the actual send
//! time.
//!
//! # Times are exact
//! Java (and the `hdrhistogram` crate's writer) print times with three
//! decimals. We print `BaseTime`, starts and lengths to the nanosecond,
//! trimming trailing zeros down to three decimals, so millisecond-aligned
//! logs look as usual while a 1500 µs interval is not logged as 2 ms. The
//! readers parse the numbers as decimals, so nothing else changes for them,
//! and a reader's requests / span equals the writer's rate exactly.
//!
//! # Reading
//! [`read_each`] accepts what those tools accept, plus blank lines and a last
//! line without its newline (hand-edited logs). Anything else stops it with
//! a [`ReadError`] naming the line.

use std::borrow::Borrow;
use std::fmt;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry, LogIteratorError};
use hdrhistogram::serialization::{
    DeserializeError, Deserializer, Serializer as _, V2DeflateSerializer,
};

use crate::run::result::Interval;
use crate::stats::Hist;

/// Tag of the uncorrected (actual-send-time) intervals.
pub const UNCORRECTED_TAG: &str = "uncorrected";

fn named(path: &Path, e: impl fmt::Display) -> io::Error {
    io::Error::other(format!("{}: {e}", path.display()))
}

/// Writes `intervals` measured from `start` as an interval log at `path`.
/// `with_uncorrected` adds the `uncorrected`-tagged intervals.
///
/// Each interval's start and length are written exactly as given, so the
/// caller decides what span the log claims: gaps and overlaps are written
/// as they are.
///
/// # Errors
/// I/O or serialisation failures, naming `path`.
pub fn write<I: Borrow<Interval>>(
    path: &Path,
    start: SystemTime,
    intervals: impl IntoIterator<Item = I>,
    with_uncorrected: bool,
) -> io::Result<()> {
    write_noted(path, start, intervals, with_uncorrected, &[])
}

/// [`write`], with `notes` as extra `#[...]` header lines after
/// `BaseTime` (`run` over `udp:` states its loss there). Readers skip
/// comment lines they do not know, ours included.
///
/// # Errors
/// I/O or serialisation failures, naming `path`.
pub fn write_noted<I: Borrow<Interval>>(
    path: &Path,
    start: SystemTime,
    intervals: impl IntoIterator<Item = I>,
    with_uncorrected: bool,
    notes: &[String],
) -> io::Result<()> {
    let file = std::fs::File::create(path).map_err(|e| named(path, e))?;
    let mut w = BufWriter::new(file);
    write_to_noted(&mut w, start, intervals, with_uncorrected, notes)
        .map_err(|e| named(path, e))?;
    w.flush().map_err(|e| named(path, e))
}

/// [`write`] to any writer (the tests' way in).
#[cfg(test)]
pub fn write_to<W: Write, I: Borrow<Interval>>(
    w: &mut W,
    start: SystemTime,
    intervals: impl IntoIterator<Item = I>,
    with_uncorrected: bool,
) -> io::Result<()> {
    write_to_noted(w, start, intervals, with_uncorrected, &[])
}

/// [`write_noted`] to any writer. Intervals are taken one at a time, so a
/// long run's log is never all in memory at once.
pub fn write_to_noted<W: Write, I: Borrow<Interval>>(
    w: &mut W,
    start: SystemTime,
    intervals: impl IntoIterator<Item = I>,
    with_uncorrected: bool,
    notes: &[String],
) -> io::Result<()> {
    let epoch = secs(start.duration_since(UNIX_EPOCH).unwrap_or_default());
    writeln!(
        w,
        "#[Logged with loadgen {}; values in nanoseconds, Interval_Max in milliseconds]",
        env!("CARGO_PKG_VERSION")
    )?;
    writeln!(w, "#[Histogram log format version 1.3]")?;
    writeln!(
        w,
        "#[StartTime: {epoch} (seconds since epoch), {}]",
        humantime::format_rfc3339_millis(start)
    )?;
    writeln!(w, "#[BaseTime: {epoch} (seconds since epoch)]")?;
    for note in notes {
        writeln!(w, "#[{note}]")?;
    }
    writeln!(
        w,
        "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\""
    )?;
    let mut ser = V2DeflateSerializer::new();
    let mut buf = Vec::new();
    for i in intervals {
        let i = i.borrow();
        write_interval(w, &mut ser, &mut buf, None, i, &i.corrected)?;
        if with_uncorrected {
            write_interval(
                w,
                &mut ser,
                &mut buf,
                Some(UNCORRECTED_TAG),
                i,
                &i.uncorrected,
            )?;
        }
    }
    Ok(())
}

/// One interval line, with exact times (see the module doc for why this is
/// not the crate's writer).
fn write_interval<W: Write>(
    w: &mut W,
    ser: &mut V2DeflateSerializer,
    buf: &mut Vec<u8>,
    tag: Option<&str>,
    i: &Interval,
    hist: &Hist,
) -> io::Result<()> {
    buf.clear();
    ser.serialize(hist, buf).map_err(io::Error::other)?;
    if let Some(tag) = tag {
        write!(w, "Tag={tag},")?;
    }
    writeln!(
        w,
        "{},{},{:.3},{}",
        secs(i.start),
        secs(i.length),
        hist.max() as f64 / 1e6,
        base64::engine::general_purpose::STANDARD.encode(&buf[..])
    )
}

/// `d` in seconds, exact to the nanosecond, with at least three decimals.
fn secs(d: Duration) -> String {
    let mut s = format!("{}.{:09}", d.as_secs(), d.subsec_nanos());
    while s.ends_with('0') && s.len() - s.find('.').unwrap_or(0) > 4 {
        s.pop();
    }
    s
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

/// Why a log could not be read: the 1-based line and what is wrong with it.
/// Its `Display` is a plain-English phrase without the file name, for the
/// caller to prefix.
#[derive(Debug)]
pub struct ReadError {
    /// 1-based line number.
    pub line: usize,
    /// What went wrong there.
    pub kind: ReadErrorKind,
}

/// The kinds of [`ReadError`].
#[derive(Debug)]
pub enum ReadErrorKind {
    /// The line is not a comment, header, legend or interval: the file is
    /// not an interval log at all. Holds the start of the line.
    NotALog(String),
    /// The interval's histogram is not base64.
    NotBase64,
    /// The interval's histogram does not decode; holds the reason.
    BadHistogram(&'static str),
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let line = self.line;
        match &self.kind {
            ReadErrorKind::NotALog(text) => write!(
                f,
                "not an HdrHistogram interval log (line {line}: \"{}\")",
                text.escape_debug()
            ),
            ReadErrorKind::NotBase64 => write!(
                f,
                "line {line}: the interval's histogram is not valid base64"
            ),
            ReadErrorKind::BadHistogram(why) => {
                write!(
                    f,
                    "line {line}: the interval's histogram is damaged ({why})"
                )
            }
        }
    }
}

impl std::error::Error for ReadError {}

/// The crate's reasons, reworded: its own `Display` speaks of cookies and
/// pointer widths.
fn histogram_problem(e: &DeserializeError) -> &'static str {
    match e {
        DeserializeError::IoError(_) => "it ends too early",
        DeserializeError::InvalidCookie => "not a V2 or V2-deflate histogram",
        DeserializeError::UnsupportedFeature => "it uses an unsupported encoding",
        DeserializeError::UnsuitableCounterType => "a count is too large",
        DeserializeError::InvalidParameters => "its value range is invalid",
        DeserializeError::UsizeTypeTooSmall => "it is too large for this machine",
        DeserializeError::EncodedArrayTooLong => "it has more counts than its range allows",
    }
}

/// Longest piece of a foreign line quoted in an error.
const QUOTE_CHARS: usize = 40;

/// Seconds in a year: the Java reader's threshold for telling relative
/// timestamps from absolute ones when only `StartTime` is present.
const YEAR: Duration = Duration::from_secs(365 * 24 * 3600);

/// [`read_each`], collected (the tests' way in).
///
/// # Errors
/// As [`read_each`].
#[cfg(test)]
pub fn read(bytes: &[u8]) -> Result<Vec<LoggedInterval>, ReadError> {
    let mut out = Vec::new();
    read_each(bytes, |interval, _| out.push(interval))?;
    Ok(out)
}

/// Parses an interval log, resolving each interval's absolute start the way
/// Java's `HistogramLogReader` does (`BaseTime` + timestamp; else
/// `StartTime` + timestamp when the timestamp is clearly relative; else the
/// timestamp itself).
///
/// `each` gets every interval in file order, its histogram decoded,
/// together with that histogram's encoding as logged (base64 removed), which
/// [`stats::unpack`](crate::stats::unpack) decodes again. Nothing is kept
/// between calls: a caller that keeps only the encodings holds about the
/// log's size, not a quarter-megabyte histogram per interval. When a later
/// line is bad, `each` has already had the intervals before it.
///
/// # Errors
/// A [`ReadError`] naming the first line that is not part of an interval
/// log, or whose histogram does not decode.
pub fn read_each(
    bytes: &[u8],
    mut each: impl FnMut(LoggedInterval, Vec<u8>),
) -> Result<(), ReadError> {
    // The crate's parser wants every line, the last one too, to end in '\n'.
    let owned;
    let bytes = if bytes.is_empty() || bytes.ends_with(b"\n") {
        bytes
    } else {
        owned = [bytes, b"\n"].concat();
        &owned[..]
    };
    let line_of = |offset: usize| 1 + bytes[..offset].iter().filter(|&&b| b == b'\n').count();
    let mut base: Option<Duration> = None;
    let mut start: Option<Duration> = None;
    let mut de = Deserializer::new();
    let mut from = 0;
    // The crate's iterator stops at the first line it does not know; we
    // step over blank lines and start it again after them.
    'segments: while from < bytes.len() {
        for entry in IntervalLogIterator::new(&bytes[from..]) {
            let entry = match entry {
                Ok(e) => e,
                Err(LogIteratorError::ParseError { offset }) => {
                    let at = from + offset;
                    let rest = &bytes[at..];
                    let end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
                    let text = String::from_utf8_lossy(&rest[..end]);
                    if text.trim().is_empty() {
                        from = at + end + 1;
                        continue 'segments;
                    }
                    let mut quoted: String = text.chars().take(QUOTE_CHARS).collect();
                    if text.chars().count() > QUOTE_CHARS {
                        quoted.truncate(quoted.trim_end().len());
                        quoted.push('…');
                    }
                    return Err(ReadError {
                        line: line_of(at),
                        kind: ReadErrorKind::NotALog(quoted),
                    });
                }
            };
            match entry {
                LogEntry::StartTime(t) => start = Some(t),
                LogEntry::BaseTime(t) => base = Some(t),
                LogEntry::Interval(i) => {
                    let here = || {
                        // The iterator gives no offsets for good entries, but
                        // the encoded histogram is a slice of `bytes`.
                        let offset =
                            i.encoded_histogram().as_ptr() as usize - bytes.as_ptr() as usize;
                        line_of(offset)
                    };
                    let ts = i.start_timestamp();
                    let absolute = match (base, start) {
                        (Some(b), _) => b + ts,
                        (None, Some(s)) if ts + YEAR < s => s + ts,
                        _ => ts,
                    };
                    let raw = base64::engine::general_purpose::STANDARD
                        .decode(i.encoded_histogram())
                        .map_err(|_| ReadError {
                            line: here(),
                            kind: ReadErrorKind::NotBase64,
                        })?;
                    let hist: Hist = de.deserialize(&mut &raw[..]).map_err(|e| ReadError {
                        line: here(),
                        kind: ReadErrorKind::BadHistogram(histogram_problem(&e)),
                    })?;
                    let interval = LoggedInterval {
                        tag: i.tag().map(|t| t.as_str().to_owned()),
                        start: absolute,
                        length: i.duration(),
                        hist,
                    };
                    each(interval, raw);
                }
            }
        }
        break;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::{new_hist, record};

    fn interval(start: Duration, length: Duration, values: &[u64]) -> Interval {
        let (mut c, mut u) = (new_hist(), new_hist());
        for &v in values {
            record(&mut c, v);
            record(&mut u, v / 2);
        }
        Interval {
            start,
            length,
            corrected: c,
            uncorrected: u,
        }
    }

    #[test]
    fn written_log_reads_back_with_absolute_times_and_tags() {
        let start = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let intervals: Vec<_> = (0..3u64)
            .map(|k| {
                let values: Vec<u64> = (1..=100).map(|v| v * 1000 * (k + 1)).collect();
                interval(Duration::from_secs(k), Duration::from_secs(1), &values)
            })
            .collect();
        let mut buf = Vec::new();
        write_to(&mut buf, start, &intervals, true).unwrap();
        let text = String::from_utf8(buf.clone()).unwrap();
        assert!(
            text.contains("\"StartTimestamp\",\"Interval_Length\""),
            "{text}"
        );
        assert!(text.contains("#[BaseTime: 1700000000.000 "), "{text}");
        assert!(text.contains("\n2.000,1.000,0.300,"), "{text}");

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

    #[test]
    fn notes_are_header_comments_that_readers_skip() {
        let start = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let intervals = [interval(Duration::ZERO, Duration::from_secs(1), &[5000])];
        let mut buf = Vec::new();
        let notes = ["Datagrams: lost 3, late 1".to_string()];
        write_to_noted(&mut buf, start, &intervals, false, &notes).unwrap();
        let text = String::from_utf8(buf.clone()).unwrap();
        assert!(
            text.contains("\n#[Datagrams: lost 3, late 1]\n\"StartTimestamp\""),
            "{text}"
        );
        let back = read(&buf).unwrap();
        assert_eq!(back.len(), 1);
        assert_eq!(back[0].hist.len(), 1);
    }

    #[test]
    fn times_round_trip_to_the_nanosecond() {
        // The crate's writer would log these as 0.002 and 1700000000.123.
        let start = UNIX_EPOCH + Duration::new(1_700_000_000, 123_456_789);
        let len = Duration::from_micros(1500);
        let intervals = [
            interval(Duration::ZERO, len, &[1000]),
            interval(len, Duration::from_nanos(1), &[]),
        ];
        let mut buf = Vec::new();
        write_to(&mut buf, start, &intervals, false).unwrap();
        let text = String::from_utf8(buf.clone()).unwrap();
        assert!(text.contains("#[BaseTime: 1700000000.123456789 "), "{text}");
        assert!(text.contains("\n0.0015,0.000000001,"), "{text}");
        let back = read(&buf).unwrap();
        let base = start.duration_since(UNIX_EPOCH).unwrap();
        assert_eq!(back[0].start, base);
        assert_eq!(back[0].length, len);
        assert_eq!(back[1].start, base + len);
        assert_eq!(back[1].length, Duration::from_nanos(1));
        // An empty interval is still an interval: time that passed.
        assert_eq!(back[1].hist.len(), 0);
    }

    #[test]
    fn blank_lines_and_a_missing_last_newline_are_accepted() {
        let mut buf = Vec::new();
        let intervals = [interval(Duration::ZERO, Duration::from_secs(1), &[5])];
        write_to(&mut buf, UNIX_EPOCH, &intervals, false).unwrap();
        let text = String::from_utf8(buf)
            .unwrap()
            .replace("\"StartTimestamp\"", "\n\"StartTimestamp\"");
        let text = text.trim_end().to_owned() + "\n\n  \n";
        assert_eq!(read(text.as_bytes()).unwrap().len(), 1);
        assert_eq!(read(text.trim_end().as_bytes()).unwrap().len(), 1);
        assert!(read(b"").unwrap().is_empty());
    }

    #[test]
    fn a_text_file_is_named_as_not_a_log_in_english() {
        let e =
            read(b"# echod\n\nAn RFC 862 echo daemon and a laboratory for concurrency models.\n")
                .unwrap_err();
        assert_eq!(e.line, 3);
        let msg = e.to_string();
        assert_eq!(
            msg,
            "not an HdrHistogram interval log (line 3: \"An RFC 862 echo daemon and a laboratory…\")"
        );
        assert!(!msg.contains("ParseError") && !msg.contains('{'), "{msg}");
    }

    #[test]
    fn a_damaged_histogram_is_named_by_line_in_english() {
        let log = "#[BaseTime: 0.000 (seconds since epoch)]\n0.000,1.000,0.1,!!!\n";
        let msg = read(log.as_bytes()).unwrap_err().to_string();
        assert_eq!(msg, "line 2: the interval's histogram is not valid base64");
        let log = "#[BaseTime: 0.000 (seconds since epoch)]\n\n0.000,1.000,0.1,AAAAAAAA\n";
        let msg = read(log.as_bytes()).unwrap_err().to_string();
        assert_eq!(
            msg,
            "line 3: the interval's histogram is damaged (not a V2 or V2-deflate histogram)"
        );
    }
}
