//! A one-shot, nanosecond-resolution timer that an event loop can poll.
//!
//! `mio::Poll::poll` takes a timeout, but epoll rounds it up to whole
//! milliseconds. At 10 000 requests/s that would send requests in bursts of
//! ten, each up to a millisecond late, and that lateness would be charged to
//! the server as latency. So the open-loop schedule needs a finer wake-up,
//! and where it comes from depends on the platform:
//!
//! - **Linux**: a `timerfd` registered with the poller wakes the loop
//!   within microseconds of the deadline.
//! - **kqueue platforms** (macOS, FreeBSD): `kevent` takes its timeout as a
//!   `timespec`, and mio passes it through to the nanosecond (mio 1.2,
//!   `src/sys/unix/selector/kqueue.rs`, `Selector::select`: `tv_nsec` is
//!   `to.subsec_nanos()`, no rounding to milliseconds). There the timer is
//!   only a deadline, which the engine turns into the poll timeout. How
//!   late the kernel then wakes us (XNU coalesces timers; FreeBSD allows a
//!   relative slop, `kern.timecounter.alloweddeviation`) has not been
//!   measured; `run --rate` reports that lag as dispatch lag. EVFILT_TIMER
//!   is the alternative should it prove too coarse.
//!
//! # Using it
//! Both kinds have the same surface, so the engine has one code path:
//! register the timer under its own token, [`Timer::arm`] it for the next
//! deadline, poll with [`Timer::poll_timeout`], then treat the deadline as
//! reached when either [`Timer::expired`] says so or an event for the
//! timer's token arrives (acknowledged with [`Timer::ack`]). Only one of the
//! two ever happens on a given platform.

use std::io;
use std::time::Duration;

#[cfg(target_os = "linux")]
pub use self::timerfd::Timer;

#[cfg(not(target_os = "linux"))]
pub use self::deadline::Timer;

#[cfg(target_os = "linux")]
mod timerfd {
    use super::*;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

    use mio::unix::SourceFd;
    use mio::{Interest, Registry, Token};

    /// A `timerfd` armed for at most one deadline at a time.
    ///
    /// # Readiness
    /// The timer becomes readable when the deadline passes. Because mio is
    /// edge-triggered, the owner must call [`Timer::ack`] after every wake-up
    /// before arming it again, or the next expiry may not be reported.
    #[derive(Debug)]
    pub struct Timer {
        fd: OwnedFd,
    }

    impl Timer {
        /// A disarmed timer on the monotonic clock (the clock `Instant` uses).
        pub fn new() -> io::Result<Timer> {
            // SAFETY: plain syscall; the result is checked before use.
            let fd = unsafe {
                libc::timerfd_create(
                    libc::CLOCK_MONOTONIC,
                    libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
                )
            };
            if fd < 0 {
                return Err(io::Error::last_os_error());
            }
            // SAFETY: `fd` is a fresh descriptor that nothing else owns.
            let fd = unsafe { OwnedFd::from_raw_fd(fd) };
            // Timer slack would let the kernel defer our wake-ups by 50 µs to
            // batch them with others; a load generator's schedule is the thing
            // being measured, so ask for none. Failure only costs precision.
            // SAFETY: PR_SET_TIMERSLACK takes an integer argument.
            unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong) };
            Ok(Timer { fd })
        }

        /// Arms the timer to fire once, `after` from now (replacing any
        /// earlier deadline). A zero duration fires immediately.
        pub fn arm(&mut self, after: Duration) -> io::Result<()> {
            // An all-zero it_value would disarm the timer, so fire in 1 ns.
            let after = after.max(Duration::from_nanos(1));
            let spec = libc::itimerspec {
                it_interval: libc::timespec {
                    tv_sec: 0,
                    tv_nsec: 0,
                },
                it_value: libc::timespec {
                    tv_sec: after.as_secs() as libc::time_t,
                    tv_nsec: after.subsec_nanos() as libc::c_long,
                },
            };
            // SAFETY: `spec` is a valid itimerspec; the old value is not wanted.
            let rc = unsafe {
                libc::timerfd_settime(self.fd.as_raw_fd(), 0, &spec, std::ptr::null_mut())
            };
            if rc < 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        }

        /// The poll timeout to use: `safety_net` unchanged, since the
        /// timerfd's readiness is what wakes the loop.
        pub fn poll_timeout(&self, safety_net: Duration) -> Duration {
            safety_net
        }

        /// Always false: here an expiry arrives as an event for the timer's
        /// token instead. No syscall.
        pub fn expired(&mut self) -> bool {
            false
        }

        /// Registers the timer with `registry` under `token`, readable when
        /// the deadline passes. Closing it (on drop) deregisters it.
        pub fn register(&self, registry: &Registry, token: Token) -> io::Result<()> {
            registry.register(
                &mut SourceFd(&self.fd.as_raw_fd()),
                token,
                Interest::READABLE,
            )
        }

        /// Consumes an expiry so the next one is reported again.
        pub fn ack(&self) {
            let mut buf = [0u8; 8];
            // SAFETY: reads at most 8 bytes into an 8-byte buffer. WouldBlock
            // (no expiry pending, e.g. a spurious wake-up) is fine to ignore.
            unsafe { libc::read(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        }
    }
}

/// Compiled on Linux for its tests only: there epoll's millisecond timeout
/// makes it coarse, but whether it wakes at (not before, not long after)
/// the deadline can still be checked.
#[cfg(any(not(target_os = "linux"), test))]
mod deadline {
    use super::*;
    use std::time::Instant;

    use mio::{Registry, Token};

    /// A deadline that the owner turns into its poll timeout.
    ///
    /// # Readiness
    /// Nothing is registered with the poller, so the timer's token never
    /// appears in an event: after each poll, [`Timer::expired`] tells
    /// whether the deadline passed (and disarms the timer when it has).
    #[derive(Debug, Default)]
    pub struct Timer {
        deadline: Option<Instant>,
    }

    impl Timer {
        /// A disarmed timer on the monotonic clock (the clock `Instant` uses).
        pub fn new() -> io::Result<Timer> {
            Ok(Timer::default())
        }

        /// Arms the timer to fire once, `after` from now (replacing any
        /// earlier deadline). A zero duration fires immediately.
        pub fn arm(&mut self, after: Duration) -> io::Result<()> {
            self.deadline = Some(Instant::now() + after);
            Ok(())
        }

        /// The poll timeout to use: the time left until the deadline, or
        /// `safety_net` when that is sooner or the timer is disarmed.
        pub fn poll_timeout(&self, safety_net: Duration) -> Duration {
            self.deadline.map_or(safety_net, |d| {
                d.saturating_duration_since(Instant::now()).min(safety_net)
            })
        }

        /// True once the armed deadline has passed; the timer is then
        /// disarmed, so each deadline is reported once.
        pub fn expired(&mut self) -> bool {
            let due = self.deadline.is_some_and(|d| Instant::now() >= d);
            if due {
                self.deadline = None;
            }
            due
        }

        /// Nothing to register: the deadline becomes the poll timeout.
        /// Accepted, so the owner registers either kind of timer the same
        /// way.
        pub fn register(&self, _: &Registry, _: Token) -> io::Result<()> {
            Ok(())
        }

        /// Nothing to consume: no event is ever delivered for this timer.
        pub fn ack(&self) {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mio::{Events, Poll, Token};
    use std::time::Instant;

    #[test]
    fn fires_after_a_sub_millisecond_deadline() {
        let mut poll = Poll::new().unwrap();
        let mut timer = Timer::new().unwrap();
        timer.register(poll.registry(), Token(0)).unwrap();
        let mut events = Events::with_capacity(4);
        let start = Instant::now();
        timer.arm(Duration::from_micros(300)).unwrap();
        // Bounded: if the timer never fired, the 5 s safety net ends the wait.
        let timeout = timer.poll_timeout(Duration::from_secs(5));
        poll.poll(&mut events, Some(timeout)).unwrap();
        let waited = start.elapsed();
        let fired = timer.expired() || events.iter().any(|e| e.token() == Token(0));
        assert!(fired, "woke after {waited:?} without the timer firing");
        assert!(waited >= Duration::from_micros(300), "{waited:?}");
        assert!(waited < Duration::from_secs(1), "{waited:?}");
        timer.ack();
    }

    /// The kqueue platforms' timer, run on this one: the poll wakes at the
    /// deadline (not at the safety net), the expiry is reported once, and
    /// a disarmed timer leaves the safety net alone.
    #[test]
    fn a_deadline_timer_wakes_the_poll_at_its_deadline() {
        let mut poll = Poll::new().unwrap();
        let mut timer = deadline::Timer::new().unwrap();
        timer.register(poll.registry(), Token(0)).unwrap();
        let net = Duration::from_secs(5);
        assert_eq!(timer.poll_timeout(net), net);
        let mut events = Events::with_capacity(4);
        let start = Instant::now();
        timer.arm(Duration::from_micros(2500)).unwrap();
        assert!(!timer.expired());
        let timeout = timer.poll_timeout(net);
        assert!(timeout <= Duration::from_micros(2500), "{timeout:?}");
        poll.poll(&mut events, Some(timeout)).unwrap();
        let waited = start.elapsed();
        assert!(waited >= Duration::from_micros(2500), "{waited:?}");
        assert!(waited < Duration::from_secs(1), "{waited:?}");
        assert!(events.is_empty(), "a deadline timer delivers no event");
        assert!(timer.expired());
        timer.ack();
        assert!(!timer.expired(), "an expiry is reported once");
        assert_eq!(timer.poll_timeout(net), net);
        // A deadline already past: poll at once rather than sleep.
        timer.arm(Duration::ZERO).unwrap();
        assert_eq!(timer.poll_timeout(net), Duration::ZERO);
        assert!(timer.expired());
    }
}
