//! A one-shot, nanosecond-resolution timer that an event loop can poll.
//!
//! `mio::Poll::poll` takes a timeout, but epoll rounds it up to whole
//! milliseconds. At 10 000 requests/s that would send requests in bursts of
//! ten, each up to a millisecond late, and that lateness would be charged to
//! the server as latency. A Linux `timerfd` registered with the poller wakes
//! the loop within microseconds of the deadline instead.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

use mio::event::Source;
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
        // Timer slack would let the kernel defer our wake-ups by 50 µs to batch
        // them with others; a load generator's schedule is the thing being
        // measured, so ask for none. Failure only costs precision.
        // SAFETY: PR_SET_TIMERSLACK takes an integer argument.
        unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong) };
        Ok(Timer { fd })
    }

    /// Arms the timer to fire once, `after` from now (replacing any earlier
    /// deadline). A zero duration fires immediately.
    pub fn arm(&self, after: Duration) -> io::Result<()> {
        // An all-zero it_value would disarm the timer, so fire in 1 ns instead.
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
        let rc =
            unsafe { libc::timerfd_settime(self.fd.as_raw_fd(), 0, &spec, std::ptr::null_mut()) };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Consumes an expiry so the next one is reported again.
    pub fn ack(&self) {
        let mut buf = [0u8; 8];
        // SAFETY: reads at most 8 bytes into an 8-byte buffer. WouldBlock
        // (no expiry pending, e.g. a spurious wake-up) is fine to ignore.
        unsafe { libc::read(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
    }
}

impl Source for Timer {
    fn register(
        &mut self,
        registry: &Registry,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        SourceFd(&self.fd.as_raw_fd()).register(registry, token, interests)
    }

    fn reregister(
        &mut self,
        registry: &Registry,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        SourceFd(&self.fd.as_raw_fd()).reregister(registry, token, interests)
    }

    fn deregister(&mut self, registry: &Registry) -> io::Result<()> {
        SourceFd(&self.fd.as_raw_fd()).deregister(registry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mio::{Events, Poll};
    use std::time::Instant;

    #[test]
    fn fires_after_a_sub_millisecond_deadline() {
        let mut poll = Poll::new().unwrap();
        let mut timer = Timer::new().unwrap();
        poll.registry()
            .register(&mut timer, Token(0), Interest::READABLE)
            .unwrap();
        let mut events = Events::with_capacity(4);
        let start = Instant::now();
        timer.arm(Duration::from_micros(300)).unwrap();
        // Bounded: if the timer never fired, the 5 s poll timeout ends the wait.
        poll.poll(&mut events, Some(Duration::from_secs(5)))
            .unwrap();
        let waited = start.elapsed();
        assert!(events.iter().any(|e| e.token() == Token(0)));
        assert!(waited >= Duration::from_micros(300), "{waited:?}");
        assert!(waited < Duration::from_secs(1), "{waited:?}");
        timer.ack();
    }
}
