//! A generator connection's socket: TCP or a Unix stream socket.
//!
//! An enum rather than a trait object so the hot path (`read`, `write`)
//! costs one predictable match, not an indirect call. Everything else the
//! engine asks of a socket (registration, the handshake check, shutdown)
//! is forwarded the same way.

use std::io::{self, Read, Write};
use std::net::Shutdown;

use mio::event::Source;
use mio::net::{TcpStream, UnixStream};
use mio::{Interest, Registry, Token};

use crate::target::Target;

/// A non-blocking stream socket.
#[derive(Debug)]
pub enum Stream {
    /// TCP.
    Tcp(TcpStream),
    /// A Unix domain stream socket.
    Unix(UnixStream),
}

impl Stream {
    /// Starts connecting to `target`. A TCP connect completes later (see
    /// [`Stream::established`]); a Unix connect completes or fails at once.
    pub fn connect(target: &Target) -> io::Result<Stream> {
        match target {
            Target::Tcp(addr) => TcpStream::connect(*addr).map(Stream::Tcp),
            Target::Unix(path) => UnixStream::connect(path).map(Stream::Unix),
            // The coordinator picks the datagram link for these.
            Target::Udp(_) => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a udp: target has no stream",
            )),
        }
    }

    /// True once the handshake is complete; false while it is in progress.
    ///
    /// # Errors
    /// The connect failed.
    pub fn established(&self) -> io::Result<bool> {
        if let Some(e) = self.take_error()? {
            return Err(e);
        }
        let peer = match self {
            Stream::Tcp(s) => s.peer_addr().map(drop),
            Stream::Unix(s) => s.peer_addr().map(drop),
        };
        match peer {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Disables Nagle's algorithm on TCP, so a request is never held back
    /// waiting for an ACK. Unix sockets have no such delay: a no-op there.
    pub fn set_nodelay(&self) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_nodelay(true),
            Stream::Unix(_) => Ok(()),
        }
    }

    fn take_error(&self) -> io::Result<Option<io::Error>> {
        match self {
            Stream::Tcp(s) => s.take_error(),
            Stream::Unix(s) => s.take_error(),
        }
    }

    /// Shuts down the read, write or both halves.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.shutdown(how),
            Stream::Unix(s) => s.shutdown(how),
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            Stream::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(buf),
            Stream::Unix(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.flush(),
            Stream::Unix(s) => s.flush(),
        }
    }
}

impl Source for Stream {
    fn register(&mut self, r: &Registry, t: Token, i: Interest) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.register(r, t, i),
            Stream::Unix(s) => s.register(r, t, i),
        }
    }

    fn reregister(&mut self, r: &Registry, t: Token, i: Interest) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.reregister(r, t, i),
            Stream::Unix(s) => s.reregister(r, t, i),
        }
    }

    fn deregister(&mut self, r: &Registry) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.deregister(r),
            Stream::Unix(s) => s.deregister(r),
        }
    }
}
