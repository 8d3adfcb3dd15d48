//! A connected stream socket, TCP or Unix (`--listen unix:PATH`): the one
//! type for the reactor's connections, the blocking models' clients and
//! loadgen's connections.
//!
//! An enum, not a trait object: each read and write is one `match` on a
//! two-variant tag the branch predictor learns at once, with no vtable
//! call in the echo path. It holds the standard library's sockets, and
//! serves blocking and non-blocking users alike: the mode is the
//! descriptor's, and registration with a `mio::Poll` goes through the
//! descriptor ([`SourceFd`]), the same `epoll_ctl`/`kevent` calls mio's
//! own socket types make, so the reactor path costs what it did with them.
//!
//! # Closing without loss
//!
//! [`Stream::close_is_lossless`] differs by kind: see
//! [`super::close::close_is_lossless`] (TCP) and
//! [`super::close::unix_close_is_lossless`].

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use mio::event::Source;
use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};

use super::close;

/// A connected stream socket, blocking or not.
#[derive(Debug)]
pub enum Stream {
    /// TCP.
    Tcp(TcpStream),
    /// A Unix domain stream socket.
    Unix(UnixStream),
}

/// Runs `$e` on the socket inside, whichever kind it is.
macro_rules! each {
    ($self:expr, $s:ident => $e:expr) => {
        match $self {
            Stream::Tcp($s) => $e,
            Stream::Unix($s) => $e,
        }
    };
}

impl Stream {
    /// Sets TCP_NODELAY on a TCP connection; a Unix one has no Nagle.
    pub fn set_nodelay(&self) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_nodelay(true),
            Stream::Unix(_) => Ok(()),
        }
    }

    /// Closing now loses nothing (see "Closing without loss").
    pub fn close_is_lossless(&self) -> bool {
        match self {
            Stream::Tcp(s) => close::close_is_lossless(s.as_raw_fd()),
            Stream::Unix(s) => close::unix_close_is_lossless(s.as_raw_fd()),
        }
    }

    /// Shuts down one or both halves.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        each!(self, s => s.shutdown(how))
    }

    /// O_NONBLOCK on or off.
    pub fn set_nonblocking(&self, on: bool) -> io::Result<()> {
        each!(self, s => s.set_nonblocking(on))
    }

    /// SO_RCVTIMEO: how long a blocking `read` may block.
    pub fn set_read_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        each!(self, s => s.set_read_timeout(t))
    }

    /// SO_SNDTIMEO: how long a blocking `write` may block.
    pub fn set_write_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        each!(self, s => s.set_write_timeout(t))
    }

    /// A second handle on the same socket (`dup`), for another thread.
    pub fn try_clone(&self) -> io::Result<Stream> {
        match self {
            Stream::Tcp(s) => s.try_clone().map(Stream::Tcp),
            Stream::Unix(s) => s.try_clone().map(Stream::Unix),
        }
    }

    /// True once a non-blocking connect's handshake is complete; false
    /// while it is in progress.
    ///
    /// # Errors
    /// The connect failed (SO_ERROR), or the peer cannot be asked for.
    pub fn established(&self) -> io::Result<bool> {
        if let Some(e) = each!(self, s => s.take_error())? {
            return Err(e);
        }
        match each!(self, s => s.peer_addr().map(drop)) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The peer, for `--trace`: an IP address and port, or a Unix
    /// socket's address (usually unnamed).
    pub fn peer(&self) -> io::Result<Box<dyn fmt::Debug>> {
        Ok(match self {
            Stream::Tcp(s) => Box::new(s.peer_addr()?),
            Stream::Unix(s) => Box::new(s.peer_addr()?),
        })
    }
}

impl From<mio::net::TcpStream> for Stream {
    /// Takes over a socket mio accepted or connected; no system call.
    fn from(s: mio::net::TcpStream) -> Stream {
        Stream::Tcp(s.into())
    }
}

impl From<mio::net::UnixStream> for Stream {
    /// Takes over a socket mio accepted or connected; no system call.
    fn from(s: mio::net::UnixStream) -> Stream {
        Stream::Unix(s.into())
    }
}

impl Read for Stream {
    #[inline]
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }
}

impl Read for &Stream {
    #[inline]
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        each!(*self, s => (&*s).read(buf))
    }
}

impl Write for Stream {
    #[inline]
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Write for &Stream {
    #[inline]
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        each!(*self, s => (&*s).write(buf))
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl AsRawFd for Stream {
    fn as_raw_fd(&self) -> RawFd {
        each!(self, s => s.as_raw_fd())
    }
}

impl AsFd for Stream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        each!(self, s => s.as_fd())
    }
}

/// Registration goes through the descriptor: the calls mio's own sockets
/// make.
impl Source for Stream {
    fn register(&mut self, r: &Registry, t: Token, i: Interest) -> io::Result<()> {
        SourceFd(&self.as_raw_fd()).register(r, t, i)
    }

    fn reregister(&mut self, r: &Registry, t: Token, i: Interest) -> io::Result<()> {
        SourceFd(&self.as_raw_fd()).reregister(r, t, i)
    }

    fn deregister(&mut self, r: &Registry) -> io::Result<()> {
        SourceFd(&self.as_raw_fd()).deregister(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The claim in "Closing without loss": FIONREAD answers on a Unix
    // stream socket, and only unread input makes a close lossy.
    #[test]
    fn unix_close_is_lossless_until_input_is_unread() {
        let (ours, mut theirs) = UnixStream::pair().unwrap();
        let mut ours = Stream::Unix(ours);
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
