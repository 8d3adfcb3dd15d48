//! A connection's echo: what each recv and send completion does to it,
//! and how its requests are kept in line with its state ("settle").

use std::io;
use std::os::fd::AsRawFd;

use io_uring::types::Fd;
use io_uring::{cqueue, opcode};

use super::conn::Recv;
use super::op::{self, Op};
use super::{bufs, cap_total, give_back, Entry, Uring};
use crate::log::TARGET;
use crate::net::interrupted;

impl Uring {
    pub(super) fn on_recv(&mut self, key: usize, id: u64, res: i32, flags: u32) {
        let bid = cqueue::buffer_select(flags);
        let Some(Entry::Conn(c)) = self.entries.get_mut(key) else {
            if let Some(bid) = bid {
                self.bufs.recycle(bid);
            }
            return;
        };
        if op::id_bits(c.id) != id {
            if let Some(bid) = bid {
                self.bufs.recycle(bid);
            }
            return;
        }
        if !cqueue::more(flags) {
            c.recv = Recv::Off;
        }
        if res > 0 {
            let bid = bid.expect("a recv with data names its buffer");
            let n = res as usize;
            let mut kept = false;
            if let Some(fd) = c.sock.as_ref().map(AsRawFd::as_raw_fd) {
                self.counters.bytes_received += n as u64;
                c.last_active = self.now;
                tracing::trace!(target: TARGET, conn = c.id, bytes = n, "recv");
                if c.lingering {
                    // Shutdown: input is discarded.
                } else if c.pending() == 0 && !c.send_inflight {
                    // Straight from the ring (see conn.rs).
                    let bytes = self.bufs.get(bid, n);
                    let sqe = opcode::Send::new(Fd(fd), bytes.as_ptr(), n as u32)
                        .flags(libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT)
                        .build()
                        .user_data(op::pack(Op::Send, key, c.id));
                    c.direct = Some((bid, n));
                    c.send_inflight = true;
                    kept = true;
                    self.push(sqe);
                } else {
                    if c.out.capacity() == 0 {
                        c.out = self.pool.pop().unwrap_or_default();
                    }
                    c.out.extend_from_slice(self.bufs.get(bid, n));
                }
            }
            if !kept {
                self.bufs.recycle(bid);
            }
        } else if res == 0 {
            tracing::trace!(target: TARGET, conn = c.id, "recv: EOF");
            c.eof = true;
        } else if res == -libc::ENOBUFS {
            // The ring ran dry: nothing is lost (the bytes stay in the
            // socket); re-armed once this turn's buffers are back.
            if !c.starved {
                c.starved = true;
                self.starved.push((key, c.id));
            }
        } else if res != -libc::ECANCELED && c.sock.is_some() {
            let err = io::Error::from_raw_os_error(-res);
            if !interrupted(&err) && err.kind() != io::ErrorKind::WouldBlock {
                tracing::trace!(target: TARGET, conn = c.id, "close: peer error: {err}");
                self.counters.peer_errors += 1;
                self.close(key);
            }
        }
        self.settle(key);
    }

    pub(super) fn on_send(&mut self, key: usize, id: u64, res: i32) {
        let Some(Entry::Conn(c)) = self.entries.get_mut(key) else {
            return;
        };
        if op::id_bits(c.id) != id {
            return;
        }
        c.send_inflight = false;
        if let Some((bid, n)) = c.direct.take() {
            // Whatever the send did not take waits in `sending`; the ring
            // gets its buffer back either way.
            let took = res.max(0) as usize;
            if c.sock.is_some() && (res > 0 || res == -libc::EAGAIN) {
                self.counters.bytes_echoed += took as u64;
                c.last_active = self.now;
                if took < n {
                    tracing::trace!(target: TARGET, conn = c.id, sent = took, kept = n - took, "partial write");
                    self.counters.partial_writes += 1;
                    if c.sending.capacity() == 0 {
                        c.sending = self.pool.pop().unwrap_or_default();
                    }
                    if c.sent == c.sending.len() {
                        // Only bytes already sent are there: drop them.
                        c.sending.clear();
                        c.sent = 0;
                    }
                    c.sending.extend_from_slice(&self.bufs.get(bid, n)[took..]);
                }
                self.bufs.recycle(bid);
                return self.settle(key);
            }
            self.bufs.recycle(bid);
        }
        if c.sock.is_some() {
            if res > 0 {
                let n = res as usize;
                c.sent += n;
                c.last_active = self.now;
                self.counters.bytes_echoed += n as u64;
                if c.sent < c.sending.len() {
                    // A short send: the rest goes next, before anything
                    // received since.
                    tracing::trace!(target: TARGET, conn = c.id, sent = n, kept = c.sending.len() - c.sent, "partial write");
                    self.counters.partial_writes += 1;
                }
            } else {
                let err = if res == 0 {
                    io::Error::from(io::ErrorKind::WriteZero)
                } else {
                    io::Error::from_raw_os_error(-res)
                };
                tracing::trace!(target: TARGET, conn = c.id, "close: peer error: {err}");
                self.counters.peer_errors += 1;
                self.close(key);
            }
        }
        self.settle(key);
    }

    /// Brings connection `key`'s requests in line with its state: frees
    /// the entry of a closed connection whose requests have all completed;
    /// starts the next send; closes after the peer's EOF once the echo is
    /// flushed; shuts the write side when a drain has flushed it; arms or
    /// cancels the recv as backpressure, EOF and shutdown want.
    pub(super) fn settle(&mut self, key: usize) {
        let Some(Entry::Conn(c)) = self.entries.get_mut(key) else {
            return;
        };
        let Some(fd) = c.sock.as_ref().map(AsRawFd::as_raw_fd) else {
            if !c.in_kernel() {
                if let Entry::Conn(mut c) = self.entries.remove(key) {
                    give_back(&mut self.pool, c.take_idle_buffers());
                }
            }
            return;
        };
        let id = c.id;
        if let Some(bytes) = c.next_send() {
            let sqe = opcode::Send::new(Fd(fd), bytes.as_ptr(), bytes.len() as u32)
                .flags(libc::MSG_NOSIGNAL)
                .build()
                .user_data(op::pack(Op::Send, key, id));
            c.send_inflight = true;
            self.push(sqe);
            return self.settle_recv(key, id);
        }
        if c.pending() == 0 {
            give_back(&mut self.pool, c.take_idle_buffers());
            if c.eof {
                if c.lingering {
                    tracing::trace!(target: TARGET, conn = c.id, "close: client closed after our shutdown EOF");
                    self.counters.closed_shutdown += 1;
                } else {
                    tracing::trace!(target: TARGET, conn = c.id, "close: client EOF, echo flushed");
                    self.counters.closed_eof += 1;
                }
                return self.close(key);
            }
            let sock = c.sock.as_ref().expect("checked above");
            if self.draining && !c.lingering {
                // Everything echoed: the client sees EOF after its last byte.
                if sock.shutdown(std::net::Shutdown::Write).is_err() {
                    self.counters.peer_errors += 1;
                    return self.close(key);
                }
                c.lingering = true;
            }
        }
        self.settle_recv(key, id)
    }

    /// Arms connection `key`'s recv when it should read and it is not in
    /// the kernel, and cancels it when it should not.
    pub(super) fn settle_recv(&mut self, key: usize, id: u64) {
        let max = self.config.max_buffer;
        let draining = self.draining;
        let Some(Entry::Conn(c)) = self.entries.get_mut(key) else {
            return;
        };
        let Some(sock) = c.sock.as_ref() else {
            return;
        };
        let full = !c.lingering && c.held() >= max;
        let wanted = !c.eof && !full && (c.lingering || !draining);
        if full && !c.paused {
            tracing::trace!(target: TARGET, conn = c.id, pending = c.held(), "backpressure: pause reading");
            self.counters.backpressure_pauses += 1;
            c.paused = true;
        } else if !full && c.paused {
            tracing::trace!(target: TARGET, conn = c.id, pending = c.held(), "backpressure: resume reading");
            c.paused = false;
        }
        match c.recv {
            Recv::Off if wanted && !c.starved => {
                c.recv = Recv::Armed;
                let mut sqe = opcode::RecvMulti::new(Fd(sock.as_raw_fd()), bufs::GROUP).build();
                if self.recv_cap && !c.lingering {
                    // At most the room left: the kernel ends the recv there,
                    // and it is re-armed once sends have made room again.
                    cap_total(&mut sqe, (max - c.held()) as u32);
                }
                self.push(sqe.user_data(op::pack(Op::Recv, key, id)));
            }
            Recv::Armed if !wanted => {
                c.recv = Recv::Cancelling;
                self.cancel(Op::Recv, key, id);
            }
            _ => {}
        }
    }

    /// Re-arms the recvs that found the ring empty, now that this turn's
    /// buffers are back in it.
    pub(super) fn rearm_starved(&mut self) {
        for (key, id) in std::mem::take(&mut self.starved) {
            if let Some(Entry::Conn(c)) = self.entries.get_mut(key) {
                if c.id == id {
                    c.starved = false;
                    self.settle_recv(key, id);
                }
            }
        }
    }

    /// Closes connection `key`'s descriptor now and cancels its requests;
    /// the entry goes once they have completed (see "Closing").
    pub(super) fn close(&mut self, key: usize) {
        let Some(Entry::Conn(c)) = self.entries.get_mut(key) else {
            return;
        };
        if c.sock.take().is_none() {
            return;
        }
        let (id, recv, send) = (c.id, c.recv == Recv::Armed, c.send_inflight);
        if recv {
            c.recv = Recv::Cancelling;
        }
        c.out.clear();
        self.conns -= 1;
        if let Some(limit) = &self.limit {
            limit.give_back();
        }
        if recv {
            self.cancel(Op::Recv, key, id);
        }
        if send {
            self.cancel(Op::Send, key, id);
        }
        self.settle(key);
    }
}
