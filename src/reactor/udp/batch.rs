//! Linux's `recvmmsg`/`sendmmsg`: a turn of [`super::Datagrams::echo`] in
//! two syscalls per batch instead of two per datagram.
//!
//! # One batch
//! 1. `recvmmsg` takes up to [`BATCH`] datagrams, each into its own
//!    [`MAX_DATAGRAM`]-byte slot of the reactor's
//!    datagram buffer, with its source address beside it.
//! 2. Datagrams from ports that could answer back are dropped and counted
//!    (as in the one-at-a-time loop), the others keep their slot.
//! 3. `sendmmsg` sends each kept slot back to the address it came from:
//!    the source is never parsed into a `SocketAddr`, only its port is read.
//!
//! Fewer than [`BATCH`] datagrams means the queue was empty when the
//! kernel looked, so the turn is over without the extra `recv` that
//! returns `EAGAIN`: a datagram arriving afterwards is a new edge, and
//! edge-triggered readiness reports it (the same rule as a short TCP read,
//! see the reactor's module docs).
//!
//! # Replies that cannot go
//! `sendmmsg` stops at the first message that fails and returns how many
//! went before it. The failing one is then retried alone to learn its
//! error: `EAGAIN` drops it and every reply after it (the send buffer is
//! full; see "No backpressure" in the parent module); any other error
//! drops that one reply and the rest are sent.

use std::io;
use std::os::fd::RawFd;

use super::MAX_DATAGRAM;
use crate::counters::Counters;
use crate::net::loops_back;

/// Datagrams moved per `recvmmsg`/`sendmmsg`. The buffer holds one
/// [`MAX_DATAGRAM`] slot for each: 16 slots are 1 MiB per reactor that
/// serves UDP, allocated only then.
pub const BATCH: usize = 16;

/// What one batch did.
#[derive(Debug)]
pub enum Got {
    /// This many datagrams were received (and echoed or dropped).
    Some(usize),
    /// The queue was empty.
    Empty,
    /// `recvmmsg` failed for a reason other than an empty queue.
    Failed(io::Error),
}

/// Receives up to [`BATCH`] datagrams on `fd` into `buf` (at least
/// `BATCH * MAX_DATAGRAM` bytes) and echoes each to its source, dropping
/// loop-port datagrams. `local_port` is the socket's own port.
pub fn echo(fd: RawFd, local_port: u16, buf: &mut [u8], counters: &mut Counters) -> Got {
    assert!(buf.len() >= BATCH * MAX_DATAGRAM);
    // SAFETY: all-zero is a valid value for these plain C structs.
    let mut names: [libc::sockaddr_storage; BATCH] = unsafe { std::mem::zeroed() };
    let mut iovs: [libc::iovec; BATCH] = unsafe { std::mem::zeroed() };
    let mut hdrs: [libc::mmsghdr; BATCH] = unsafe { std::mem::zeroed() };
    for (i, slot) in buf.chunks_exact_mut(MAX_DATAGRAM).take(BATCH).enumerate() {
        iovs[i].iov_base = slot.as_mut_ptr().cast();
        iovs[i].iov_len = MAX_DATAGRAM;
        let hdr = &mut hdrs[i].msg_hdr;
        hdr.msg_name = (&mut names[i] as *mut libc::sockaddr_storage).cast();
        hdr.msg_namelen = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        hdr.msg_iov = &mut iovs[i];
        hdr.msg_iovlen = 1;
    }
    let got = loop {
        // SAFETY: every header points at a live slot, iovec and name of
        // the sizes it states; no timeout, so no timespec.
        let n = unsafe {
            libc::recvmmsg(
                fd,
                hdrs.as_mut_ptr(),
                BATCH as _,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        if n >= 0 {
            break n as usize;
        }
        let err = io::Error::last_os_error();
        match err.kind() {
            io::ErrorKind::Interrupted => continue,
            io::ErrorKind::WouldBlock => return Got::Empty,
            _ => return Got::Failed(err),
        }
    };

    counters.datagrams_received += got as u64;
    // Keep the replies to send at the front of `hdrs`, pointing their
    // iovec at just the bytes received. The headers move, their targets
    // (names, slots) do not.
    let mut kept = 0;
    for i in 0..got {
        let len = hdrs[i].msg_len as usize;
        if loops_back_raw(&names[i], local_port) {
            counters.datagrams_dropped_loop_port += 1;
            continue;
        }
        iovs[i].iov_len = len;
        let mut hdr = hdrs[i];
        hdr.msg_hdr.msg_iov = &mut iovs[i];
        hdrs[kept] = hdr;
        kept += 1;
    }
    send(fd, &mut hdrs[..kept], counters);
    Got::Some(got)
}

/// Sends every reply in `hdrs`, dropping the ones that cannot go (see
/// "Replies that cannot go").
fn send(fd: RawFd, hdrs: &mut [libc::mmsghdr], counters: &mut Counters) {
    let mut next = 0;
    while next < hdrs.len() {
        let rest = &mut hdrs[next..];
        // SAFETY: the headers point at live names, iovecs and slots.
        let n = unsafe { libc::sendmmsg(fd, rest.as_mut_ptr(), rest.len() as _, 0) };
        if n > 0 {
            for hdr in &rest[..n as usize] {
                counters.datagrams_echoed += 1;
                counters.datagram_bytes_echoed += u64::from(hdr.msg_len);
            }
            next += n as usize;
            continue;
        }
        let err = io::Error::last_os_error();
        match err.kind() {
            io::ErrorKind::Interrupted => {}
            io::ErrorKind::WouldBlock => {
                counters.datagrams_dropped_would_block += rest.len() as u64;
                return;
            }
            _ => {
                counters.datagrams_dropped_send_error += 1;
                next += 1;
            }
        }
    }
}

/// [`loops_back`] on a raw source address: only its port matters, and it
/// sits at the same place in `sockaddr_in` and `sockaddr_in6`.
fn loops_back_raw(name: &libc::sockaddr_storage, local_port: u16) -> bool {
    let port = match i32::from(name.ss_family) {
        // SAFETY: the family says which struct the storage holds.
        libc::AF_INET => unsafe {
            let sin = &*(name as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>();
            u16::from_be(sin.sin_port)
        },
        libc::AF_INET6 => unsafe {
            let sin6 = &*(name as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>();
            u16::from_be(sin6.sin6_port)
        },
        // Not an IP source: nothing to loop with.
        _ => return false,
    };
    let any = std::net::SocketAddr::from(([0, 0, 0, 0], port));
    loops_back(any, local_port)
}
