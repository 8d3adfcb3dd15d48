//! A listening stream socket, TCP or Unix, in non-blocking mode.
//!
//! mio's listeners, because their `accept` makes the accepted socket
//! non-blocking in the same call (`accept4` with `SOCK_NONBLOCK` on
//! Linux): the reactor needs no `fcntl` per connection. The accepted
//! socket becomes a [`Stream`] without a system call.

use std::io;
use std::os::fd::{AsRawFd, RawFd};

use mio::event::Source;
use mio::net::{TcpListener, UnixListener};
use mio::{Interest, Registry, Token};

use super::Stream;

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
            Listening::Tcp(l) => l.accept().map(|(s, _)| s.into()),
            Listening::Unix(l) => {
                let (s, _) = l.accept()?;
                // Not inherited from a Unix listener: see
                // `super::urgent_inline`. Failing only risks the urgent
                // byte, so it is no reason to drop the client.
                let _ = super::urgent_inline(&s);
                Ok(s.into())
            }
        }
    }
}

impl AsRawFd for Listening {
    fn as_raw_fd(&self) -> RawFd {
        match self {
            Listening::Tcp(l) => l.as_raw_fd(),
            Listening::Unix(l) => l.as_raw_fd(),
        }
    }
}

/// Registration forwards to the socket inside.
impl Source for Listening {
    fn register(&mut self, r: &Registry, t: Token, i: Interest) -> io::Result<()> {
        match self {
            Listening::Tcp(l) => l.register(r, t, i),
            Listening::Unix(l) => l.register(r, t, i),
        }
    }

    fn reregister(&mut self, r: &Registry, t: Token, i: Interest) -> io::Result<()> {
        match self {
            Listening::Tcp(l) => l.reregister(r, t, i),
            Listening::Unix(l) => l.reregister(r, t, i),
        }
    }

    fn deregister(&mut self, r: &Registry) -> io::Result<()> {
        match self {
            Listening::Tcp(l) => l.deregister(r),
            Listening::Unix(l) => l.deregister(r),
        }
    }
}
