//! The pause between `accept` retries while the process is out of
//! descriptors, the same in every model.
//!
//! After EMFILE/ENFILE the connection stays in the kernel's queue and the
//! listener stays ready: retrying at once would spin. Each failure in a
//! row doubles the wait, from [`Backoff::MIN`] up to [`Backoff::MAX`]; an
//! accept that succeeds starts the next episode at the minimum again.

use std::time::Duration;

/// The wait before the next `accept` retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff(Duration);

impl Backoff {
    /// First wait after a failure.
    pub const MIN: Duration = Duration::from_millis(20);
    /// Longest wait while the shortage lasts.
    pub const MAX: Duration = Duration::from_secs(1);

    /// At the start of an episode.
    pub fn new() -> Backoff {
        Backoff(Backoff::MIN)
    }

    /// An accept succeeded: the episode is over.
    pub fn reset(&mut self) {
        self.0 = Backoff::MIN;
    }

    /// No failure yet in this episode: the one about to be handled is the
    /// first, the one worth a log line.
    pub fn first(&self) -> bool {
        self.0 == Backoff::MIN
    }

    /// Another failure: how long to wait now (the next wait doubles).
    pub fn fail(&mut self) -> Duration {
        let wait = self.0;
        self.0 = wait.saturating_mul(2).min(Backoff::MAX);
        wait
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_to_the_maximum_and_starts_over() {
        let mut b = Backoff::new();
        assert!(b.first());
        let waits: Vec<_> = (0..8).map(|_| b.fail().as_millis()).collect();
        assert_eq!(waits, [20, 40, 80, 160, 320, 640, 1000, 1000]);
        assert!(!b.first());
        b.reset();
        assert!(b.first());
    }
}
