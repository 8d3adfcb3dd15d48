//! Signals and the drain: what the first SIGINT/SIGTERM starts and a
//! second one cuts short ("Shutdown" in the module docs).

use crate::error::Stopped;
use crate::log::TARGET;
use crate::net::{accept_transient, interrupted};
use crate::reactor::timers::Timer;
use crate::time::deadline;

use super::op::Op;
use super::{Entry, Uring};

impl Uring {
    pub(super) fn on_signals(&mut self) -> Option<Stopped> {
        let batch: Vec<i32> = self.signals.pending().collect();
        crate::signals::sort(batch, self.draining, |sig| self.begin_shutdown(sig))
            .map(Stopped::Forced)
    }

    /// Stops accepting, closes quiet connections, and lets the others
    /// flush their pending echo until the shutdown deadline.
    pub(super) fn begin_shutdown(&mut self, sig: i32) {
        let listeners: Vec<usize> = self
            .entries
            .iter()
            .filter(|(_, e)| matches!(e, Entry::Listener(..)))
            .map(|(k, _)| k)
            .collect();
        for key in listeners {
            let Some(Entry::Listener(l, armed)) = self.entries.get(key) else {
                continue;
            };
            let (id, armed) = (l.id, *armed);
            if armed {
                self.cancel(Op::Accept, key, id);
            }
            // What the kernel queued drains with the rest (see "Shutdown"
            // in the reactor): its last accepts, without the accept ring.
            for _ in 0..self.config.backlog.max(1) {
                let Some(Entry::Listener(l, _)) = self.entries.get(key) else {
                    break;
                };
                match l.sock.accept() {
                    Ok(sock) => self.admit(sock),
                    Err(e) if interrupted(&e) || accept_transient(&e) => {}
                    Err(_) => break,
                }
            }
            // Dropping the listener closes our descriptor; the socket goes
            // when the cancelled accept lets go of it.
            if armed {
                self.entries[key] = Entry::Gone;
            } else {
                self.entries.remove(key);
            }
        }
        for mut u in std::mem::take(&mut self.udp) {
            let _ = self.poll.registry().deregister(&mut u.sock);
        }
        self.udp_ready.clear();
        self.draining = true;
        self.drain_began = Some(self.now);
        crate::log::draining(sig, self.conns as u64, self.config.shutdown_timeout);
        self.timers.add(
            deadline(self.now, self.config.shutdown_timeout),
            Timer::ShutdownDeadline,
        );
        let keys: Vec<usize> = self
            .entries
            .iter()
            .filter(|(_, e)| matches!(e, Entry::Conn(c) if c.sock.is_some()))
            .map(|(k, _)| k)
            .collect();
        for key in keys {
            let Some(Entry::Conn(c)) = self.entries.get(key) else {
                continue;
            };
            if c.is_quiet() {
                tracing::trace!(target: TARGET, conn = c.id, "close: quiet at shutdown");
                self.counters.closed_shutdown += 1;
                self.close(key);
            } else {
                self.settle(key);
            }
        }
    }
}
