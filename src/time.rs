//! Deadlines that cannot overflow.
//!
//! `Instant + Duration` panics when the sum does not fit the platform's
//! clock type, and the durations here come from the user (`--idle-timeout`,
//! `--shutdown-timeout`) or from a [`Config`](crate::config::Config) built in code,
//! where nothing stops `Duration::MAX`. One client must not be able to
//! crash the daemon by connecting, so every deadline is computed here.

use std::time::{Duration, Instant};

/// `from + after`, or, when that does not fit in an `Instant`, the farthest
/// instant that does (found by halving `after`): centuries away on every
/// platform, so for a timer it means "never". Never panics.
pub fn deadline(from: Instant, after: Duration) -> Instant {
    let mut after = after;
    loop {
        if let Some(at) = from.checked_add(after) {
            return at;
        }
        // Terminates: `after` reaches zero, and `from + 0` always fits.
        after /= 2;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_deadlines_are_exact() {
        let now = Instant::now();
        let d = Duration::from_millis(1500);
        assert_eq!(deadline(now, d), now + d);
        assert_eq!(deadline(now, Duration::ZERO), now);
    }

    #[test]
    fn huge_durations_saturate_far_in_the_future_instead_of_panicking() {
        let now = Instant::now();
        for huge in [Duration::MAX, Duration::from_secs(u64::MAX / 2)] {
            let at = deadline(now, huge);
            // At least a century away: a timer armed for it never fires.
            assert!(at.duration_since(now) > Duration::from_secs(100 * 365 * 86_400));
            // And a deadline computed from it again still does not panic.
            let _ = deadline(at, huge);
        }
    }
}
