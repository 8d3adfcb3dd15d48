//! The sockets every model shares, below all of them: one stream type for
//! TCP or Unix ([`Stream`]), one for listeners ([`Listening`]), the accept
//! backoff ([`accept::Backoff`]), the descriptor limit ([`fd`]), the
//! lossless-close rule ([`close`]) and the UDP constants ([`udp`]).
//!
//! Nothing here imports from the rest of the crate but the line writer
//! ([`crate::stderr`]): the reactor, the baselines and loadgen build on it.
//! The predicates below are kept tiny and named so the hot loops read as
//! prose: `if would_block(&e)`.

use std::io;

pub mod accept;
pub mod close;
pub mod fd;
pub mod listening;
pub mod stream;
pub mod udp;

pub use close::{close_is_lossless, unix_close_is_lossless, unread_bytes, PORTABLE_CLOSE_VAR};
pub use fd::{fd_limit, raise_fd_limit};
pub use listening::Listening;
pub use stream::Stream;
pub use udp::{loops_back, LOOP_PORTS, MAX_DATAGRAM};

/// The operation would block: readiness was a hint, or is used up.
pub fn would_block(err: &io::Error) -> bool {
    err.kind() == io::ErrorKind::WouldBlock
}

/// A signal interrupted the call; retry it.
pub fn interrupted(err: &io::Error) -> bool {
    err.kind() == io::ErrorKind::Interrupted
}

/// Keeps TCP urgent data (`MSG_OOB`) in the byte stream (`SO_OOBINLINE`),
/// so it is read, and echoed, where the client put it.
///
/// Without it the kernel takes the urgent byte out of the stream into a
/// slot of its own that only `recv(MSG_OOB)` reads: an echo would lose it.
/// A TCP connection inherits the option from its listener, so TCP
/// listeners set it once; an accepted Unix stream socket does not (Linux
/// carries `MSG_OOB` over `AF_UNIX` since 5.15), so each one sets it.
pub fn urgent_inline(sock: impl std::os::fd::AsFd) -> io::Result<()> {
    socket2::SockRef::from(&sock).set_out_of_band_inline(true)
}

/// Sets TCP_NODELAY on `sock`, a TCP socket of any library's.
pub fn set_nodelay(sock: impl std::os::fd::AsFd) -> io::Result<()> {
    socket2::SockRef::from(&sock).set_tcp_nodelay(true)
}

/// A connected TCP pair on loopback, both ends blocking: the connecting
/// end, then the accepted one. For tests (here and in loadgen) that need a
/// real socket and no server.
pub fn loopback_pair() -> io::Result<(std::net::TcpStream, std::net::TcpStream)> {
    let listener = std::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0))?;
    let client = std::net::TcpStream::connect(listener.local_addr()?)?;
    Ok((client, listener.accept()?.0))
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
