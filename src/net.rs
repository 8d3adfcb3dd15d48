//! Small predicates and socket chores shared by every model.
//!
//! Kept tiny and named so the hot loops read as prose: `if would_block(&e)`.

use std::io;
use std::net::SocketAddr;

/// The operation would block: readiness was a hint, or is used up.
pub fn would_block(err: &io::Error) -> bool {
    err.kind() == io::ErrorKind::WouldBlock
}

/// A signal interrupted the call; retry it.
pub fn interrupted(err: &io::Error) -> bool {
    err.kind() == io::ErrorKind::Interrupted
}

/// Source ports of the classic UDP services that answer whatever reaches
/// them: echo (7), discard (9), daytime (13), chargen (19), time (37).
/// Discard answers nothing, but a datagram "from" it is as surely spoofed.
pub const LOOP_PORTS: [u16; 5] = [7, 9, 13, 19, 37];

/// A datagram from `peer` to our UDP socket on `local_port` must not be
/// answered: it comes from a service that answers back ([`LOOP_PORTS`]),
/// or from a socket on our own port (another echo server like us, on
/// another host, or a spoofed copy of our own address). Answering would
/// start a loop that a single spoofed datagram keeps going forever.
pub fn loops_back(peer: SocketAddr, local_port: u16) -> bool {
    LOOP_PORTS.contains(&peer.port()) || peer.port() == local_port
}

/// Out of file descriptors, for the process (EMFILE) or the system (ENFILE).
pub fn fd_exhausted(err: &io::Error) -> bool {
    matches!(err.raw_os_error(), Some(libc::EMFILE) | Some(libc::ENFILE))
}

/// Errors `accept(2)` reports for a connection that died in the queue, or
/// for memory pressure: the listener itself is fine and accepting goes on.
pub fn accept_transient(err: &io::Error) -> bool {
    matches!(
        err.raw_os_error(),
        Some(libc::ECONNABORTED)
            | Some(libc::EPROTO)
            | Some(libc::EPERM)
            | Some(libc::ENOBUFS)
            | Some(libc::ENOMEM)
    ) || err.kind() == io::ErrorKind::ConnectionAborted
}

/// Raises the soft RLIMIT_NOFILE to the hard limit, as most daemons do: the
/// soft default (often 1024) is far below what the hard limit allows, and
/// every connection costs a descriptor. Failure is harmless: we keep the
/// limit we have and handle EMFILE when it comes.
pub fn raise_fd_limit() {
    // SAFETY: getrlimit/setrlimit only read and write the struct we pass.
    unsafe {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return;
        }
        #[allow(unused_mut)]
        let mut want = lim.rlim_max;
        // macOS refuses values above OPEN_MAX (10240) even when the hard
        // limit is "unlimited".
        #[cfg(target_os = "macos")]
        {
            want = want.min(10240);
        }
        if want > lim.rlim_cur {
            lim.rlim_cur = want;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

/// The current soft RLIMIT_NOFILE, for log messages.
pub fn fd_limit() -> u64 {
    // SAFETY: as above.
    unsafe {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return 0;
        }
        #[allow(clippy::unnecessary_cast)] // rlim_t is not u64 everywhere
        let cur = lim.rlim_cur as u64;
        cur
    }
}

/// Bytes written to `fd` that the kernel has not sent yet (Linux
/// SIOCOUTQNSD), or `None` where the platform cannot tell.
///
/// Closing a socket that still holds such bytes is not lossless: data the
/// peer sends after the close makes our kernel answer with a reset and
/// drop them. Bytes already sent but not yet acknowledged do not count:
/// the closed socket still retransmits them, and a peer's delayed ACK
/// (up to 40 ms) must not make an idle connection look busy.
pub fn unsent_bytes(fd: std::os::fd::RawFd) -> Option<usize> {
    #[cfg(target_os = "linux")]
    {
        let mut n: libc::c_int = 0;
        // SAFETY: SIOCOUTQNSD writes one int through the pointer.
        let rc = unsafe { libc::ioctl(fd, libc::SIOCOUTQNSD as _, &mut n) };
        (rc == 0).then_some(n.max(0) as usize)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = fd;
        None
    }
}

/// Bytes received on `fd` and not read yet (FIONREAD), or `None` if the
/// kernel will not say.
pub fn unread_bytes(fd: std::os::fd::RawFd) -> Option<usize> {
    let mut n: libc::c_int = 0;
    // SAFETY: FIONREAD writes one int through the pointer.
    let rc = unsafe { libc::ioctl(fd, libc::FIONREAD as _, &mut n) };
    (rc == 0).then_some(n.max(0) as usize)
}

/// Closing `fd` now loses nothing: no output is waiting to be sent and no
/// input is waiting to be read (unread input makes `close` send a reset,
/// which discards output still in flight). False where the platform cannot
/// tell, so callers take the careful path.
pub fn close_is_lossless(fd: std::os::fd::RawFd) -> bool {
    unsent_bytes(fd) == Some(0) && unread_bytes(fd) == Some(0)
}

/// Logs, once per episode, an accept on `addr` that failed for a reason
/// that will not clear by itself at once (EMFILE and friends): the caller
/// retries after a pause. Out of descriptors names the limit, since that
/// is what an operator can raise.
pub fn log_accept_failure(addr: std::net::SocketAddr, err: &io::Error) {
    if fd_exhausted(err) {
        crate::log::line(format_args!(
            "out of file descriptors (limit {}) on tcp://{addr}; retrying",
            fd_limit()
        ));
    } else {
        crate::log::line(format_args!(
            "accept on tcp://{addr} failed: {err}; retrying"
        ));
    }
}
