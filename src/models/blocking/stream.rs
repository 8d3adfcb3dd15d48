//! A client of a blocking model: a TCP or Unix stream socket in blocking
//! mode, with the few calls the echo loop needs from either.
//!
//! An enum, as the reactor's [`crate::reactor::stream::Stream`]: one
//! `match` per read or write, no vtable in the echo path.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use crate::reactor::stream::Stream;

/// An accepted connection, blocking.
#[derive(Debug)]
pub enum Client {
    /// From a TCP listener.
    Tcp(TcpStream),
    /// From a Unix stream listener.
    Unix(UnixStream),
}

impl Client {
    /// Takes over a connection accepted by the (non-blocking) acceptor and
    /// makes it blocking: accepted sockets inherit O_NONBLOCK from the
    /// listener on BSD/macOS (not on Linux), and these models block.
    pub fn from_accepted(s: Stream) -> io::Result<Client> {
        // SAFETY: each descriptor comes straight from the mio socket that
        // owned it; ownership moves to the std socket.
        let client = match s {
            Stream::Tcp(s) => Client::Tcp(unsafe { TcpStream::from_raw_fd(s.into_raw_fd()) }),
            Stream::Unix(s) => Client::Unix(unsafe { UnixStream::from_raw_fd(s.into_raw_fd()) }),
        };
        match &client {
            Client::Tcp(s) => s.set_nonblocking(false)?,
            Client::Unix(s) => s.set_nonblocking(false)?,
        }
        Ok(client)
    }

    /// Sets TCP_NODELAY on a TCP connection; a Unix one has no Nagle.
    pub fn set_nodelay(&self) -> io::Result<()> {
        match self {
            Client::Tcp(s) => s.set_nodelay(true),
            Client::Unix(_) => Ok(()),
        }
    }

    /// SO_RCVTIMEO: how long a `read` may block.
    pub fn set_read_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        match self {
            Client::Tcp(s) => s.set_read_timeout(t),
            Client::Unix(s) => s.set_read_timeout(t),
        }
    }

    /// SO_SNDTIMEO: how long a `write` may block.
    pub fn set_write_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        match self {
            Client::Tcp(s) => s.set_write_timeout(t),
            Client::Unix(s) => s.set_write_timeout(t),
        }
    }

    /// Shuts down one or both halves.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        match self {
            Client::Tcp(s) => s.shutdown(how),
            Client::Unix(s) => s.shutdown(how),
        }
    }

    /// Closing now loses nothing: the reactor's rule for each kind (see
    /// "Closing without loss" in [`crate::reactor::stream`]).
    pub fn close_is_lossless(&self) -> bool {
        match self {
            Client::Tcp(s) => crate::net::close_is_lossless(s.as_raw_fd()),
            Client::Unix(s) => crate::net::unread_bytes(s.as_raw_fd()) == Some(0),
        }
    }

    /// The peer, for `--trace`: an IP address and port, or a Unix
    /// socket's address (usually unnamed).
    pub fn peer(&self) -> io::Result<Box<dyn fmt::Debug>> {
        Ok(match self {
            Client::Tcp(s) => Box::new(s.peer_addr()?),
            Client::Unix(s) => Box::new(s.peer_addr()?),
        })
    }
}

impl Read for Client {
    #[inline]
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Client::Tcp(s) => s.read(buf),
            Client::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Client {
    #[inline]
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Client::Tcp(s) => s.write(buf),
            Client::Unix(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl AsRawFd for Client {
    fn as_raw_fd(&self) -> RawFd {
        match self {
            Client::Tcp(s) => s.as_raw_fd(),
            Client::Unix(s) => s.as_raw_fd(),
        }
    }
}
