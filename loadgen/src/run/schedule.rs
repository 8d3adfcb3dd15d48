//! The open-loop schedule: when each request is *meant* to be sent.
//!
//! A total rate of `R` requests/s is shared by `N` connections: each sends at
//! `R/N` per second, and connection `i` is offset by `i/R` seconds so the
//! aggregate is evenly spaced rather than `N` requests landing at once. Slot
//! `k` of connection `i` is due at
//!
//! ```text
//! origin + (i + k·N) / R
//! ```
//!
//! computed from the slot number each time, never by adding periods, so the
//! schedule does not drift however long it runs. The schedule never looks at
//! replies or at the socket: that is what makes the load open-loop, and it is
//! why latency measured from these intended times has no coordinated omission.

/// One connection's share of a global open-loop schedule.
#[derive(Clone, Debug)]
pub struct Schedule {
    origin_ns: u64,
    index: u64,
    conns: u64,
    rate: f64,
    slot: u64,
}

impl Schedule {
    /// The schedule of connection `index` of `conns`, at `rate` requests/s in
    /// total, starting at `origin_ns`.
    ///
    /// # Panics
    /// If `index >= conns` or `rate` is not a positive finite number: both
    /// are validated at the command line.
    pub fn new(origin_ns: u64, index: u32, conns: u32, rate: f64) -> Schedule {
        assert!(index < conns && rate.is_finite() && rate > 0.0);
        Schedule {
            origin_ns,
            index: index.into(),
            conns: conns.into(),
            rate,
            slot: 0,
        }
    }

    /// Intended send time (ns) of the next slot not yet taken.
    pub fn next_due(&self) -> u64 {
        let units = (self.index + self.slot * self.conns) as f64;
        self.origin_ns + (units * 1e9 / self.rate) as u64
    }

    /// Takes every slot due at or before `now_ns`, calling `take(intended)`
    /// for each in order, and returns how many were taken.
    pub fn take_due(&mut self, now_ns: u64, mut take: impl FnMut(u64)) -> u64 {
        let mut n = 0;
        loop {
            let due = self.next_due();
            if due > now_ns {
                return n;
            }
            take(due);
            self.slot += 1;
            n += 1;
        }
    }

    /// Starts the schedule again from slot 0 at `origin_ns`: used when the
    /// warm-up ends so that a backlog built up during warm-up does not shift
    /// the measured schedule.
    pub fn restart(&mut self, origin_ns: u64) {
        self.origin_ns = origin_ns;
        self.slot = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_interleave_evenly_at_the_total_rate() {
        // 4 connections at 1000/s in total: one request every 1 ms overall,
        // each connection every 4 ms, offset by 1 ms from its neighbour.
        let mut all: Vec<(u64, u32)> = Vec::new();
        for i in 0..4 {
            let mut s = Schedule::new(0, i, 4, 1000.0);
            s.take_due(19_999_999, |t| all.push((t, i)));
        }
        all.sort();
        assert_eq!(all.len(), 20);
        for (n, (t, i)) in all.iter().enumerate() {
            assert_eq!(*t, n as u64 * 1_000_000);
            assert_eq!(*i, (n % 4) as u32);
        }
    }

    #[test]
    fn no_drift_over_a_long_schedule() {
        let mut s = Schedule::new(5, 0, 1, 3.0);
        let mut last = 0;
        // 3 per second for 10 000 s: slot 30 000 is exactly 10 000 s after origin.
        let n = s.take_due(5 + 10_000_000_000_000, |t| last = t);
        assert_eq!(n, 30_001);
        assert_eq!(last, 5 + 10_000_000_000_000);
    }

    #[test]
    fn late_caller_gets_the_whole_backlog_with_original_times() {
        let mut s = Schedule::new(1_000, 0, 1, 1000.0);
        let mut times = Vec::new();
        assert_eq!(s.take_due(999, |t| times.push(t)), 0);
        assert_eq!(s.take_due(1_000 + 3_500_000, |t| times.push(t)), 4);
        assert_eq!(times, [1_000, 1_001_000, 2_001_000, 3_001_000]);
        assert_eq!(s.next_due(), 4_001_000);
    }

    #[test]
    fn restart_begins_again_at_slot_zero() {
        let mut s = Schedule::new(0, 1, 2, 10.0);
        s.take_due(1_000_000_000, |_| {});
        s.restart(7_000_000_000);
        assert_eq!(s.next_due(), 7_100_000_000);
    }
}
