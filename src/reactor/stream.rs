//! The sockets a reactor connection and listener may wrap: TCP, or a Unix
//! stream socket (`--listen unix:PATH`).
//!
//! An enum, not a trait object: each read and write is one `match` on a
//! two-variant tag the branch predictor learns at once, with no vtable
//! call in the echo path, and the TCP path compiles to what it was.
//!
//! # Closing without loss
//!
//! [`Stream::close_is_lossless`] differs by kind. TCP: nothing unsent and
//! nothing unread (see [`crate::net::close_is_lossless`]). Unix: a write
//! lands straight in the peer's receive queue, where our close cannot
//! destroy it, so only unread input matters: closing with input unread
//! makes the peer's next read fail with ECONNRESET once it has read what
//! was queued, instead of seeing a clean EOF. FIONREAD answers for
//! `AF_UNIX` stream sockets on Linux; where it does not, the answer is no
//! and the connection takes the careful path.

use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::os::fd::{AsRawFd, RawFd};

use mio::event::Source;
use mio::net::{TcpListener, TcpStream, UnixListener, UnixStream};
use mio::{Interest, Registry, Token};

use super::splice;

/// An accepted connection.
#[derive(Debug)]
pub enum Stream {
    /// From a TCP listener.
    Tcp(TcpStream),
    /// From a Unix stream listener.
    Unix(UnixStream),
}

impl Stream {
    /// Shuts down one or both halves.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.shutdown(how),
            Stream::Unix(s) => s.shutdown(how),
        }
    }

    /// Sets TCP_NODELAY on a TCP connection; a Unix one has no Nagle.
    pub fn set_nodelay(&self) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_nodelay(true),
            Stream::Unix(_) => Ok(()),
        }
    }

    /// Whether the reactor may echo it through a pipe (see
    /// [`super::splice`]): TCP only, where splice is measured and urgent
    /// data understood.
    pub fn splices(&self) -> bool {
        splice::SUPPORTED && matches!(self, Stream::Tcp(_))
    }

    /// Closing now loses nothing (see "Closing without loss").
    pub fn close_is_lossless(&self) -> bool {
        match self {
            Stream::Tcp(s) => crate::net::close_is_lossless(s.as_raw_fd()),
            Stream::Unix(s) => crate::net::unread_bytes(s.as_raw_fd()) == Some(0),
        }
    }
}

impl Read for Stream {
    #[inline]
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            Stream::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    #[inline]
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(buf),
            Stream::Unix(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl AsRawFd for Stream {
    fn as_raw_fd(&self) -> RawFd {
        match self {
            Stream::Tcp(s) => s.as_raw_fd(),
            Stream::Unix(s) => s.as_raw_fd(),
        }
    }
}

/// A listening socket of either kind.
#[derive(Debug)]
pub enum Listening {
    /// TCP.
    Tcp(TcpListener),
    /// Unix stream.
    Unix(UnixListener),
}

impl Listening {
    /// Accepts one connection, non-blocking like the listener.
    pub fn accept(&self) -> io::Result<Stream> {
        match self {
            Listening::Tcp(l) => l.accept().map(|(s, _)| Stream::Tcp(s)),
            Listening::Unix(l) => {
                let (s, _) = l.accept()?;
                // Not inherited from a Unix listener: see
                // `crate::net::urgent_inline`. Failing only risks the
                // urgent byte, so it is no reason to drop the client.
                let _ = crate::net::urgent_inline(&s);
                Ok(Stream::Unix(s))
            }
        }
    }
}

/// Registration forwards to the socket inside.
macro_rules! forward_source {
    ($ty:ident, $($variant:ident),+) => {
        impl Source for $ty {
            fn register(&mut self, r: &Registry, t: Token, i: Interest) -> io::Result<()> {
                match self { $($ty::$variant(s) => s.register(r, t, i)),+ }
            }
            fn reregister(&mut self, r: &Registry, t: Token, i: Interest) -> io::Result<()> {
                match self { $($ty::$variant(s) => s.reregister(r, t, i)),+ }
            }
            fn deregister(&mut self, r: &Registry) -> io::Result<()> {
                match self { $($ty::$variant(s) => s.deregister(r)),+ }
            }
        }
    };
}

forward_source!(Stream, Tcp, Unix);
forward_source!(Listening, Tcp, Unix);

#[cfg(test)]
mod tests {
    use super::*;

    // The claim in "Closing without loss": FIONREAD answers on a Unix
    // stream socket, and only unread input makes a close lossy.
    #[test]
    fn unix_close_is_lossless_until_input_is_unread() {
        let (ours, mut theirs) = std::os::unix::net::UnixStream::pair().unwrap();
        let mut ours = Stream::Unix(UnixStream::from_std(ours));
        assert!(ours.close_is_lossless(), "idle");
        ours.write_all(b"echo").unwrap();
        assert!(ours.close_is_lossless(), "our output is the peer's already");
        theirs.write_all(b"more").unwrap();
        assert!(!ours.close_is_lossless(), "input unread");
        let mut got = [0u8; 4];
        ours.read_exact(&mut got).unwrap();
        assert!(ours.close_is_lossless(), "read");
    }
}
