//! The intervals of a run (`--hdr-interval` long): what `--hdr-log` writes
//! and the per-second timeline reports, kept small while the run goes on.
//!
//! Besides the histograms each interval counts its replies and the bytes
//! echoed in it (by arrival, as a flood counts them): a flood records no
//! latency, so its timeline is built from those counts alone.
//!
//! A latency histogram over 1 ns – 1 h at 3 significant digits is a
//! quarter of a megabyte, and an interval needs two (corrected and
//! uncorrected): kept whole, a one-hour run with 1 s intervals would hold
//! about 2 GB per generator thread. But only the newest interval or two
//! are still being filled; older ones get a reply only when a server held
//! one back. So whenever replies reach a new interval, every interval two
//! or more behind it is packed into HdrHistogram's V2 encoding
//! ([`stats::pack`]: run-length coded counts, a few hundred bytes to a few
//! KiB), and unpacked again on
//! the rare late reply. Packing is exact: a packed interval decodes to the
//! same counts.

use crate::stats::{self, pack, unpack, Hist};

/// One interval's pair of histograms: corrected, uncorrected.
type Pair = (Hist, Hist);

#[derive(Clone, Debug, Default)]
enum Slot {
    /// Nothing recorded.
    #[default]
    Empty,
    /// Being filled.
    Live(Box<Pair>),
    /// Two V2-encoded histograms.
    Packed(Box<[u8]>, Box<[u8]>),
}

/// Per-interval latency histograms and counts, indexed from the window
/// start.
#[derive(Clone, Debug, Default)]
pub struct Intervals {
    slots: Vec<Slot>,
    /// Highest index recorded so far.
    newest: usize,
    /// Every slot below this has been packed once: a new interval packs
    /// only the slots since, so a run of many short intervals does not
    /// walk all of them again at each one.
    packed_to: usize,
    /// Slots below `packed_to` that a late reply unpacked: packed again at
    /// the next new interval.
    reopened: Vec<usize>,
    /// Replies counted per interval (with or without a latency).
    replies: Vec<u64>,
    /// Bytes echoed per interval, by arrival time.
    bytes: Vec<u64>,
}

/// Adds `n` at `idx`, growing `v` as needed.
fn bump(v: &mut Vec<u64>, idx: usize, n: u64) {
    if v.len() <= idx {
        v.resize(idx + 1, 0);
    }
    v[idx] += n;
}

impl Slot {
    /// The histograms, unpacking or creating them.
    fn live(&mut self) -> &mut Pair {
        if !matches!(self, Slot::Live(_)) {
            let pair = match self {
                Slot::Packed(c, u) => (unpack(c), unpack(u)),
                _ => (stats::new_hist(), stats::new_hist()),
            };
            *self = Slot::Live(Box::new(pair));
        }
        match self {
            Slot::Live(p) => p,
            _ => unreachable!("made live above"),
        }
    }

    fn pack(&mut self) {
        if let Slot::Live(p) = self {
            *self = Slot::Packed(pack(&p.0), pack(&p.1));
        }
    }

    fn get(&self) -> Option<Pair> {
        match self {
            Slot::Empty => None,
            Slot::Live(p) => Some((p.0.clone(), p.1.clone())),
            Slot::Packed(c, u) => Some((unpack(c), unpack(u))),
        }
    }
}

impl Intervals {
    /// Records one reply's latencies (ns) in interval `idx`.
    pub fn record(&mut self, idx: usize, corrected: u64, uncorrected: u64) {
        if self.slots.len() <= idx {
            self.slots.resize(idx + 1, Slot::Empty);
        }
        if idx > self.newest {
            // A new interval has begun: those two or more behind it are
            // (nearly always) complete.
            let upto = idx.saturating_sub(1);
            if self.packed_to < upto {
                for s in &mut self.slots[self.packed_to..upto] {
                    s.pack();
                }
                self.packed_to = upto;
            }
            for i in self.reopened.drain(..) {
                self.slots[i].pack();
            }
            self.newest = idx;
        }
        if idx < self.packed_to && !matches!(self.slots[idx], Slot::Live(_)) {
            self.reopened.push(idx);
        }
        let (c, u) = self.slots[idx].live();
        stats::record(c, corrected);
        stats::record(u, uncorrected);
        bump(&mut self.replies, idx, 1);
    }

    /// Counts one reply in interval `idx` without a latency (a flood's).
    pub fn count(&mut self, idx: usize) {
        bump(&mut self.replies, idx, 1);
    }

    /// Counts `n` bytes echoed in interval `idx` (by arrival time).
    pub fn add_bytes(&mut self, idx: usize, n: u64) {
        bump(&mut self.bytes, idx, n);
    }

    /// Replies counted in interval `idx`.
    pub fn replies(&self, idx: usize) -> u64 {
        self.replies.get(idx).copied().unwrap_or(0)
    }

    /// Bytes echoed in interval `idx`.
    pub fn bytes(&self, idx: usize) -> u64 {
        self.bytes.get(idx).copied().unwrap_or(0)
    }

    /// Interval `idx`'s corrected histogram alone (what the timeline's
    /// p99 needs: half the unpacking of [`Intervals::get`]).
    pub fn corrected(&self, idx: usize) -> Option<Hist> {
        match self.slots.get(idx)? {
            Slot::Empty => None,
            Slot::Live(p) => Some(p.0.clone()),
            Slot::Packed(c, _) => Some(unpack(c)),
        }
    }

    /// Adds `o` into `self`, interval by interval.
    pub fn merge(&mut self, o: &Intervals) {
        if self.slots.len() < o.slots.len() {
            self.slots.resize(o.slots.len(), Slot::Empty);
        }
        for (i, theirs) in o.slots.iter().enumerate() {
            if let Some((c, u)) = theirs.get() {
                let mine = self.slots[i].live();
                stats::merge(&mut mine.0, &c);
                stats::merge(&mut mine.1, &u);
                self.slots[i].pack();
            }
        }
        self.newest = self.newest.max(o.newest);
        for (i, &n) in o.replies.iter().enumerate() {
            bump(&mut self.replies, i, n);
        }
        for (i, &n) in o.bytes.iter().enumerate() {
            bump(&mut self.bytes, i, n);
        }
    }

    /// Interval `idx`'s histograms (corrected, uncorrected), if any reply
    /// was recorded in it.
    pub fn get(&self, idx: usize) -> Option<Pair> {
        self.slots.get(idx)?.get()
    }

    /// Bytes held by the histograms' counts: what this module bounds.
    #[cfg(test)]
    fn footprint(&self) -> usize {
        self.slots
            .iter()
            .map(|s| match s {
                Slot::Empty => 0,
                Slot::Live(p) => 2 * p.0.distinct_values() * 8,
                Slot::Packed(c, u) => c.len() + u.len(),
            })
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packing_keeps_every_count_and_late_replies_still_land() {
        let mut iv = Intervals::default();
        for idx in 0..50usize {
            for v in 0..200u64 {
                iv.record(idx, 1_000 + v * 37 + idx as u64, 900 + v);
            }
        }
        // A late reply for an interval long packed: unpacked for it, and
        // packed again when the next interval begins.
        iv.record(3, 5_000_000, 5_000_000);
        assert!(matches!(iv.slots[3], Slot::Live(_)));
        iv.record(50, 1_000, 1_000);
        assert!(matches!(iv.slots[3], Slot::Packed(..)));
        assert!(matches!(iv.slots[48], Slot::Packed(..)));
        assert!(matches!(iv.slots[49], Slot::Live(_)));
        for idx in 0..50usize {
            let (c, u) = iv.get(idx).unwrap();
            let extra = u64::from(idx == 3);
            assert_eq!(
                (c.len(), u.len()),
                (200 + extra, 200 + extra),
                "interval {idx}"
            );
        }
        assert_eq!(
            iv.get(3).unwrap().0.max(),
            stats::new_hist().highest_equivalent(5_000_000)
        );
        assert!(iv.get(51).is_none());
    }

    #[test]
    fn an_hour_of_one_second_intervals_stays_small() {
        let mut iv = Intervals::default();
        for idx in 0..3600usize {
            for v in 0..50u64 {
                iv.record(idx, 50_000 + v * 1_000, 40_000 + v * 1_000);
            }
        }
        // Whole, these would be 3600 x 2 x ~260 KB, about 1.9 GB.
        let bytes = iv.footprint();
        assert!(bytes < 8 << 20, "{bytes} bytes");
    }

    #[test]
    fn merging_adds_interval_by_interval() {
        let (mut a, mut b) = (Intervals::default(), Intervals::default());
        a.record(0, 100, 100);
        b.record(0, 200, 200);
        b.record(5, 300, 300);
        b.count(7);
        b.add_bytes(7, 100);
        a.add_bytes(7, 11);
        a.merge(&b);
        assert_eq!(a.get(0).unwrap().0.len(), 2);
        assert_eq!((a.replies(0), a.replies(5), a.replies(7)), (2, 1, 1));
        assert_eq!((a.bytes(7), a.bytes(6)), (111, 0));
        assert_eq!(a.corrected(5).unwrap().len(), 1);
        assert!(a.get(7).is_none(), "a count alone has no histogram");
        assert!(a.get(1).is_none());
        assert_eq!(a.get(5).unwrap().1.len(), 1);
    }
}
