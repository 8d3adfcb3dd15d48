//! Whether closing a stream socket now loses nothing, per kind and per
//! platform. Every model asks before it closes a connection at shutdown.

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

/// Bytes in `fd`'s whole send queue, the sent but unacknowledged ones
/// included (Linux SIOCOUTQ, macOS `SO_NWRITE`, FreeBSD FIONWRITE), or
/// `None` where the platform cannot tell. Coarser than [`unsent_bytes`]
/// but never smaller: zero here means nothing at all is left to send.
pub fn queued_bytes(fd: std::os::fd::RawFd) -> Option<usize> {
    let mut n: libc::c_int = 0;
    #[cfg(target_os = "linux")]
    // SAFETY: SIOCOUTQ (the same request as TIOCOUTQ) writes one int.
    let rc = unsafe { libc::ioctl(fd, libc::TIOCOUTQ as _, &mut n) };
    #[cfg(target_os = "freebsd")]
    // SAFETY: FIONWRITE writes one int through the pointer.
    let rc = unsafe { libc::ioctl(fd, libc::FIONWRITE as _, &mut n) };
    #[cfg(target_vendor = "apple")]
    // SAFETY: SO_NWRITE writes at most `len` bytes into `n`, an int.
    let rc = unsafe {
        let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_NWRITE,
            (&mut n as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    #[cfg(not(any(target_os = "linux", target_os = "freebsd", target_vendor = "apple")))]
    let rc = {
        let _ = (fd, &mut n);
        -1
    };
    (rc == 0).then_some(n.max(0) as usize)
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
/// which discards output still in flight). When this says no, callers
/// take the careful path: shut the write side (the client sees EOF after
/// its last echoed byte), discard input until the client closes, bounded
/// by `--shutdown-timeout`. That path never loses echo; it only waits.
///
/// # Per platform
///
/// - **Linux**: exact. Nothing unsent ([`unsent_bytes`]) and nothing
///   unread.
/// - **macOS, FreeBSD**: the whole send queue must be empty
///   ([`queued_bytes`]), bytes awaiting their ACK included. Never a loss;
///   a connection whose last echo still awaits a (delayed) ACK takes the
///   careful path instead of closing at once.
/// - **Elsewhere** (no count at all): always no, so always the careful
///   path.
///
/// # Testing the portable path on Linux
///
/// With `ECHOD_PORTABLE_CLOSE=1` in its environment (read once, at the
/// first check; logged then), echod on Linux answers as on macOS and
/// FreeBSD, from SIOCOUTQ, the Linux twin of their counts. It is a hidden
/// switch for the test suite (tests/it/shutdown.rs runs the shutdown drain
/// under it), not an operator setting: nothing is gained by it.
pub fn close_is_lossless(fd: std::os::fd::RawFd) -> bool {
    nothing_to_send(fd, portable_close()) && unread_bytes(fd) == Some(0)
}

/// [`close_is_lossless`] for a Unix stream socket. A write lands straight
/// in the peer's receive queue, where our close cannot destroy it, so only
/// unread input matters: closing with input unread makes the peer's next
/// read fail with ECONNRESET once it has read what was queued, instead of
/// seeing a clean EOF. FIONREAD answers for `AF_UNIX` stream sockets on
/// Linux; where it does not, the answer is no (the careful path).
pub fn unix_close_is_lossless(fd: std::os::fd::RawFd) -> bool {
    unread_bytes(fd) == Some(0)
}

/// Nothing left to send on `fd`: exactly where the kernel can tell
/// (Linux, unless `portable`), else from the whole send queue.
fn nothing_to_send(fd: std::os::fd::RawFd, portable: bool) -> bool {
    let exact = if portable { None } else { unsent_bytes(fd) };
    match exact {
        Some(n) => n == 0,
        None => queued_bytes(fd) == Some(0),
    }
}

/// The variable that forces the portable close check on Linux (see
/// "Testing the portable path on Linux" at [`close_is_lossless`]).
pub const PORTABLE_CLOSE_VAR: &str = "ECHOD_PORTABLE_CLOSE";

/// Whether [`PORTABLE_CLOSE_VAR`] is `1`, read once; the first reading
/// that finds it set says so on stderr, so a test can see it took.
fn portable_close() -> bool {
    static FORCED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *FORCED.get_or_init(|| {
        let forced = std::env::var_os(PORTABLE_CLOSE_VAR).is_some_and(|v| v == "1");
        if forced {
            crate::stderr::line(format_args!(
                "{PORTABLE_CLOSE_VAR}=1: the lossless-close check counts the whole send queue, as on macOS and FreeBSD"
            ));
        }
        forced
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::os::fd::AsRawFd;
    use std::time::{Duration, Instant};

    /// Polls `cond` every millisecond for at most 10 s.
    fn eventually(mut cond: impl FnMut() -> bool) -> bool {
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(10) {
            if cond() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        false
    }

    // Both checks, the exact one and the portable one (the only one on
    // macOS and FreeBSD), on real loopback sockets: idle is lossless;
    // output the peer has not taken, or input we have not read, is not.
    #[test]
    fn both_checks_see_unsent_output_and_unread_input() {
        for portable in [false, true] {
            let (mut client, mut server) = super::super::loopback_pair().unwrap();
            let fd = server.as_raw_fd();
            server.write_all(b"echo").unwrap();
            let mut got = [0u8; 4];
            client.read_exact(&mut got).unwrap();
            // The ACK of those 4 bytes may lag a little: wait for it.
            assert!(eventually(|| nothing_to_send(fd, portable)), "{portable}");
            assert_eq!(unread_bytes(fd), Some(0));

            // A client that never reads: output piles up in our queue.
            server.set_nonblocking(true).unwrap();
            let chunk = vec![7u8; 64 << 10];
            while server.write(&chunk).is_ok() {}
            assert!(!nothing_to_send(fd, portable), "{portable}: queue full");
            assert!(queued_bytes(fd).unwrap() > 0);

            let (mut client, server) = super::super::loopback_pair().unwrap();
            let fd = server.as_raw_fd();
            client.write_all(b"unread").unwrap();
            assert!(eventually(|| unread_bytes(fd) == Some(6)));
            assert!(nothing_to_send(fd, portable), "{portable}");
        }
    }

    // The exact count ignores sent bytes awaiting their ACK; the portable
    // one never counts less than it.
    #[cfg(target_os = "linux")]
    #[test]
    fn the_portable_count_is_never_below_the_exact_one() {
        let (_client, mut server) = super::super::loopback_pair().unwrap();
        server.set_nonblocking(true).unwrap();
        let chunk = vec![1u8; 64 << 10];
        while server.write(&chunk).is_ok() {}
        let fd = server.as_raw_fd();
        let (exact, all) = (unsent_bytes(fd).unwrap(), queued_bytes(fd).unwrap());
        assert!(all >= exact && all > 0, "unsent {exact}, queued {all}");
    }
}
