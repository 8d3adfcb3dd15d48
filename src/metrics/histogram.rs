//! `echod_loop_turn_seconds`: how long the reactor's turns take.
//!
//! A turn is the work between two `poll` calls: from `poll` returning to
//! the next call (see "The loop" in [`crate::reactor`]). Its length is
//! how long every ready connection waited for the others, so a slow turn
//! is latency added to each echo of that turn; the time spent waiting in
//! `poll` is not counted. A reactor records each turn into its own
//! [`TurnTimes`] (plain integers: one `Instant::now()` and a bucket
//! increment per turn) and publishes it with its other counters.
//!
//! # Buckets
//!
//! [`BOUNDS_NS`]: powers of 4 from 1 µs to about 1 s (1, 4, 16, 64, 256
//! µs, 1.024, 4.096, 16.384, 65.536, 262.144 ms, 1.048576 s), then +Inf.
//! Eleven bounds span the six decades from a turn that echoes one small
//! message to one that stalls every client; steps of 1-2-5 would need 19
//! for the same span, and a quantile between two bounds is still within
//! a factor of 4. Bounds are exact nanoseconds, so a turn lands in the
//! same bucket on every platform.

use std::time::Duration;

/// Upper bounds of the buckets, in nanoseconds (`le`, inclusive).
pub const BOUNDS_NS: [u64; 11] = [
    1_000,
    4_000,
    16_000,
    64_000,
    256_000,
    1_024_000,
    4_096_000,
    16_384_000,
    65_536_000,
    262_144_000,
    1_048_576_000,
];

/// Buckets kept: one per bound, and the last for longer turns (+Inf).
pub const BUCKETS: usize = BOUNDS_NS.len() + 1;

/// Turns recorded so far, by length.
///
/// Buckets are kept per bucket, not cumulative: a turn adds 1 to one of
/// them. The exposition adds them up into Prometheus's cumulative `le`
/// buckets, so those never decrease from one bound to the next and the
/// +Inf bucket is the count, whatever a scrape catches mid-publish.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct TurnTimes {
    /// Turns whose length was at most `BOUNDS_NS[i]` and more than the
    /// bound before; the last: longer than every bound.
    pub buckets: [u64; BUCKETS],
    /// Total length of the turns, in nanoseconds (wraps after 584 years).
    pub sum_ns: u64,
}

impl TurnTimes {
    /// Records one turn that took `took`.
    pub fn record(&mut self, took: Duration) {
        let ns = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        // Most turns are short: the scan stops within the first bounds.
        let i = BOUNDS_NS
            .iter()
            .position(|&b| ns <= b)
            .unwrap_or(BOUNDS_NS.len());
        self.buckets[i] += 1;
        self.sum_ns = self.sum_ns.wrapping_add(ns);
    }

    /// Turns recorded.
    pub fn count(&self) -> u64 {
        self.buckets.iter().sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_turn_on_a_bound_is_in_that_bucket_and_longer_ones_beyond() {
        let mut t = TurnTimes::default();
        t.record(Duration::from_nanos(1_000));
        t.record(Duration::from_nanos(1_001));
        t.record(Duration::ZERO);
        t.record(Duration::from_secs(5));
        assert_eq!(t.buckets[0], 2);
        assert_eq!(t.buckets[1], 1);
        assert_eq!(t.buckets[BUCKETS - 1], 1);
        assert_eq!(t.count(), 4);
        assert_eq!(t.sum_ns, 5_000_002_001);
    }

    #[test]
    fn bounds_are_powers_of_four_microseconds() {
        for (k, b) in BOUNDS_NS.iter().enumerate() {
            assert_eq!(*b, 1_000 << (2 * k));
        }
    }
}
