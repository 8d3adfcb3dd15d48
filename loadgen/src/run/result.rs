//! What a run measured: produced by the engines, merged by the coordinator,
//! read by the reports. Plain data, no behaviour beyond merging.

use std::time::{Duration, SystemTime};

use serde::Serialize;

use super::intervals::Intervals;
use crate::stats::{self, Hist};

/// Event counts of a run. Everything but `requests`, `unsent` and the
/// datagram counts (`lost`, `late`, `duplicate`: what UDP may do to any
/// datagram) is a fault of the server (or the network) and makes
/// `loadgen run` exit 1.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Counters {
    /// Replies completed for requests intended inside the measurement window.
    pub requests: u64,
    /// Replies whose bytes were damaged.
    pub corrupt: u64,
    /// Replies carrying another request of the same connection.
    pub reordered: u64,
    /// Replies carrying bytes sent on another connection.
    pub foreign: u64,
    /// Requests whose reply was cut short or never came: the connection
    /// failed or closed, or the drain deadline passed.
    pub truncated: u64,
    /// Connections that failed (reset, unexpected EOF, extra bytes, …).
    pub connection_errors: u64,
    /// Open loop: requests due inside the window that were never sent.
    pub unsent: u64,
    /// udp: requests intended inside the window that had no reply within
    /// the loss timeout (or by the end of the drain). No latency sample.
    #[serde(skip_serializing_if = "is_zero")]
    pub lost: u64,
    /// udp: replies to requests already declared lost (any time, warm-up
    /// included).
    #[serde(skip_serializing_if = "is_zero")]
    pub late: u64,
    /// udp: second and later copies of a reply (any time).
    #[serde(skip_serializing_if = "is_zero")]
    pub duplicate: u64,
}

/// Keeps the datagram counts out of a stream run's JSON, where they are
/// always 0 (a udp: run states them under `datagrams` either way).
fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Counters {
    /// Adds `o` into `self`.
    pub fn add(&mut self, o: &Counters) {
        self.requests += o.requests;
        self.corrupt += o.corrupt;
        self.reordered += o.reordered;
        self.foreign += o.foreign;
        self.truncated += o.truncated;
        self.connection_errors += o.connection_errors;
        self.unsent += o.unsent;
        self.lost += o.lost;
        self.late += o.late;
        self.duplicate += o.duplicate;
    }

    /// udp: the share of requests intended in the window that were lost,
    /// `lost / (requests + lost)` (0 when nothing was sent).
    pub fn loss_rate(&self) -> f64 {
        let all = self.requests + self.lost;
        if all == 0 {
            0.0
        } else {
            self.lost as f64 / all as f64
        }
    }

    /// Damaged replies of any kind: corrupt, foreign (mixed connections).
    pub fn corrupt_total(&self) -> u64 {
        self.corrupt + self.foreign
    }

    /// Faults other than damaged bytes: reordering, truncation, failed
    /// connections.
    pub fn errors_total(&self) -> u64 {
        self.reordered + self.truncated + self.connection_errors
    }

    /// True when the server did nothing wrong.
    pub fn clean(&self) -> bool {
        self.corrupt_total() == 0 && self.errors_total() == 0
    }
}

/// Latency recorded during one `--hdr-log` interval.
#[derive(Clone, Debug)]
pub struct Interval {
    /// Start, relative to the start of the measurement window.
    pub start: Duration,
    /// Length of the interval.
    pub length: Duration,
    /// Latency from intended send time.
    pub corrected: Hist,
    /// Latency from actual send time.
    pub uncorrected: Hist,
}

/// Everything one engine (or, merged, the whole run) measured.
#[derive(Clone, Debug)]
pub struct Measurements {
    /// Event counts.
    pub counters: Counters,
    /// Latency from each request's intended send time to its complete reply.
    pub corrected: Hist,
    /// Latency from each request's actual send time to its complete reply.
    pub uncorrected: Hist,
    /// Open loop: how late the generator took each due slot off the schedule
    /// (its own timer and loop delay, independent of the server).
    pub dispatch_lag: Hist,
    /// Open loop: how late each request was handed to its socket (includes
    /// waiting behind a server that stopped reading).
    pub send_lag: Hist,
    /// Replies counted per connection, indexed by global connection index.
    pub per_conn: Vec<u64>,
    /// Bytes received back inside the window, by the time they arrived
    /// (what a flood measures).
    pub echoed_bytes: u64,
    /// The intervals (timeline and `--hdr-log`), by index from the window
    /// start.
    pub intervals: Intervals,
    /// The first few failure messages, each naming its connection.
    pub errors: Vec<String>,
    /// When the last connection closed (ns since the run's base instant),
    /// or `u64::MAX` when one was still open at the end. An engine sets it;
    /// merging keeps the latest, so a merged run has the instant its last
    /// connection closed. After that nothing more can be measured.
    pub open_until: u64,
}

/// How many failure messages are kept verbatim.
pub const MAX_ERROR_MESSAGES: usize = 5;

impl Measurements {
    /// Empty measurements for `conns` connections.
    pub fn new(conns: usize) -> Measurements {
        Measurements {
            counters: Counters::default(),
            corrected: stats::new_hist(),
            uncorrected: stats::new_hist(),
            dispatch_lag: stats::new_hist(),
            send_lag: stats::new_hist(),
            per_conn: vec![0; conns],
            echoed_bytes: 0,
            intervals: Intervals::default(),
            errors: Vec::new(),
            // The identity of the merge (a maximum): engines set their own.
            open_until: 0,
        }
    }

    /// Adds `o` into `self`.
    pub fn merge(&mut self, o: &Measurements) {
        self.counters.add(&o.counters);
        stats::merge(&mut self.corrected, &o.corrected);
        stats::merge(&mut self.uncorrected, &o.uncorrected);
        stats::merge(&mut self.dispatch_lag, &o.dispatch_lag);
        stats::merge(&mut self.send_lag, &o.send_lag);
        self.echoed_bytes += o.echoed_bytes;
        for (a, b) in self.per_conn.iter_mut().zip(&o.per_conn) {
            *a += b;
        }
        self.intervals.merge(&o.intervals);
        self.open_until = self.open_until.max(o.open_until);
        for e in &o.errors {
            if self.errors.len() < MAX_ERROR_MESSAGES {
                self.errors.push(e.clone());
            }
        }
    }

    /// Records a failure message if fewer than [`MAX_ERROR_MESSAGES`] are kept.
    pub fn note_error(&mut self, msg: String) {
        if self.errors.len() < MAX_ERROR_MESSAGES {
            self.errors.push(msg);
        }
    }
}

/// The merged result of a run, with the wall-clock time its window began.
#[derive(Clone, Debug)]
pub struct RunResult {
    /// Merged measurements of all engines.
    pub m: Measurements,
    /// Length of the measurement window.
    pub window: Duration,
    /// Wall-clock time the measurement window began.
    pub window_start: SystemTime,
    /// Length of one interval (timeline and `--hdr-log`), if intervals
    /// were recorded.
    pub interval: Option<Duration>,
    /// True when a signal closed the window before `--duration` was up;
    /// `window` is then the part really measured.
    pub interrupted: bool,
    /// When every connection had closed before the window's end: how far
    /// into the window that was. `window` then ends there, so the rates
    /// cover the time connections were alive, not time in which nothing
    /// could be measured.
    pub all_closed: Option<Duration>,
}

impl RunResult {
    /// Replies counted per second of the window (0 for an empty window).
    pub fn requests_per_sec(&self) -> f64 {
        self.per_sec(self.m.counters.requests)
    }

    /// Bytes echoed per second of the window, by arrival time (0 for an
    /// empty window).
    pub fn echoed_bytes_per_sec(&self) -> f64 {
        self.per_sec(self.m.echoed_bytes)
    }

    fn per_sec(&self, n: u64) -> f64 {
        let secs = self.window.as_secs_f64();
        if secs > 0.0 {
            n as f64 / secs
        } else {
            0.0
        }
    }
}

impl RunResult {
    /// The `--hdr-log` intervals, tiling the measurement window exactly.
    ///
    /// Interval *k* starts at `k × interval` from the window start. Every
    /// interval is `interval` long except the last, which ends with the
    /// window: a window that is not a whole number of intervals (2.5 s of
    /// 1 s intervals, or a run cut short) ends with a shorter one, never
    /// one that runs past the window. Intervals in which no reply was
    /// counted are returned too, with empty histograms: that time passed,
    /// and leaving it out would shorten the span a reader computes. So the
    /// intervals' lengths add up to `window`, their counts to the requests
    /// counted, and a reader's requests / span is `run`'s own req/s.
    ///
    /// Replies are filed by intended send time, which lies inside the
    /// window, so nothing is recorded past it; anything that were would be
    /// left out rather than given time outside the window. Empty when no
    /// intervals were asked for.
    pub fn intervals(&self) -> impl Iterator<Item = Interval> + '_ {
        let len = self.interval.filter(|l| !l.is_zero());
        let count = len.map_or(0, |len| {
            (self.window.as_nanos().div_ceil(len.as_nanos())) as usize
        });
        (0..count).map(move |k| {
            let len = len.expect("count is 0 without a length");
            let start = len * k as u32;
            let (corrected, uncorrected) = self
                .m
                .intervals
                .get(k)
                .unwrap_or_else(|| (stats::new_hist(), stats::new_hist()));
            Interval {
                start,
                length: len.min(self.window - start),
                corrected,
                uncorrected,
            }
        })
    }
}
