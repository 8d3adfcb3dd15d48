//! Accepting: each listener's multishot accept, and what the model does
//! with what it gives (admit, refuse at `--max-conns`, shed and retry on
//! EMFILE), as the reactor does.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, RawFd};

use io_uring::types::Fd;
use io_uring::{cqueue, opcode};

use super::op::{self, Op};
use super::{Conn, Entry, Uring};
use crate::log::TARGET;
use crate::net::{accept_transient, fd_exhausted, interrupted, Listening, Stream};
use crate::reactor::timers::Timer;
use crate::time::deadline;

impl Uring {
    pub(super) fn arm_accept(&mut self, key: usize) {
        let Some(Entry::Listener(l, armed)) = self.entries.get_mut(key) else {
            return;
        };
        if *armed || l.paused {
            return;
        }
        *armed = true;
        let sqe = opcode::AcceptMulti::new(Fd(l.sock.as_raw_fd()))
            .flags(libc::SOCK_CLOEXEC)
            .build()
            .user_data(op::pack(Op::Accept, key, l.id));
        self.push(sqe);
    }

    pub(super) fn on_accept(&mut self, key: usize, id: u64, res: i32, flags: u32) {
        let more = cqueue::more(flags);
        let (accepted, unix) = match self.entries.get_mut(key) {
            Some(Entry::Listener(l, armed)) if op::id_bits(l.id) == id => {
                if !more {
                    *armed = false;
                }
                (res >= 0, matches!(l.sock, Listening::Unix(_)))
            }
            Some(Entry::Gone) => {
                if !more {
                    self.entries.remove(key);
                }
                if res >= 0 {
                    // Accepted as the listener closed: refused like any
                    // connection during the drain.
                    // SAFETY: the kernel just gave us this descriptor.
                    drop(unsafe { std::os::fd::OwnedFd::from_raw_fd(res) });
                    self.counters.refused_max_conns += 1;
                }
                return;
            }
            _ => return,
        };
        if accepted {
            // SAFETY: the kernel just gave us this descriptor, a connected
            // stream socket of the listener's kind.
            let sock = unsafe { stream_from(res, unix) };
            if let Some(Entry::Listener(l, _)) = self.entries.get_mut(key) {
                l.backoff.reset();
            }
            self.admit(sock);
            if !more {
                self.arm_accept(key);
            }
            return;
        }
        let err = io::Error::from_raw_os_error(-res);
        if res == -libc::ECANCELED {
            return;
        }
        if interrupted(&err) || accept_transient(&err) || err.kind() == io::ErrorKind::WouldBlock {
            if accept_transient(&err) {
                self.counters.accept_errors += 1;
            }
            if !more {
                self.arm_accept(key);
            }
            return;
        }
        self.counters.accept_errors += 1;
        if more {
            // Should not happen (an error ends a multishot), but never
            // leave a failing accept running.
            self.cancel(Op::Accept, key, id);
        }
        if fd_exhausted(&err) {
            return self.out_of_fds(key);
        }
        if let Some(Entry::Listener(l, _)) = self.entries.get(key) {
            crate::log::line(format_args!("accept on {} failed: {err}; retrying", l.addr));
        }
        self.pause(key);
    }

    /// Takes an accepted connection, or closes it at once when
    /// `--max-conns` is reached or shutdown is under way.
    pub(super) fn admit(&mut self, sock: Stream) {
        if self.draining || self.limit.as_ref().is_some_and(|l| !l.take()) {
            self.counters.refused_max_conns += 1;
            return;
        }
        if self.config.nodelay {
            // Echo replies are small and latency-bound; failure only costs
            // latency, not correctness.
            let _ = sock.set_nodelay();
        }
        let id = self.fresh_id();
        let key = self
            .entries
            .insert(Entry::Conn(Conn::new(sock, id, self.now)));
        self.conns += 1;
        self.counters.accepted += 1;
        tracing::debug!(target: TARGET, conn = id, key, "accept");
        if let Some(idle) = self.config.idle_timeout {
            self.timers
                .add(deadline(self.now, idle), Timer::Idle { key, id });
        }
        self.settle(key);
    }

    /// EMFILE/ENFILE: shed what is queued using the reserve descriptor,
    /// then retry on a timer, as the reactor does.
    pub(super) fn out_of_fds(&mut self, key: usize) {
        let Some(Entry::Listener(l, _)) = self.entries.get(key) else {
            return;
        };
        let budget = crate::reactor::ACCEPT_BUDGET;
        l.shed(&mut self.reserve, budget, &mut self.counters);
        self.pause(key);
    }

    pub(super) fn pause(&mut self, key: usize) {
        if let Some(Entry::Listener(l, _)) = self.entries.get_mut(key) {
            l.paused = true;
            let wait = l.backoff.fail();
            let id = l.id;
            self.timers
                .add(deadline(self.now, wait), Timer::AcceptRetry { key, id });
        }
    }
}

/// Wraps an accepted descriptor as a [`Stream`] of the listener's kind.
///
/// # Safety
/// `fd` must be an open, connected stream socket that nothing else owns.
unsafe fn stream_from(fd: RawFd, unix: bool) -> Stream {
    if unix {
        let s = std::os::unix::net::UnixStream::from_raw_fd(fd);
        // Not inherited from a Unix listener: see `crate::net::urgent_inline`.
        let _ = crate::net::urgent_inline(&s);
        Stream::Unix(s)
    } else {
        Stream::Tcp(std::net::TcpStream::from_raw_fd(fd))
    }
}
