//! Where `run` and `check` connect: a TCP address, a Unix stream socket or
//! a UDP address.
//!
//! Validated once by the CLI; everything past it matches on the variant and
//! never sees the string again. Shown (in messages, reports and JSON) as
//! `HOST:PORT` for TCP, exactly as before, `unix:PATH` for a socket and
//! `udp:ADDR` for UDP.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Serialize, Serializer};

/// An echo server's address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// A TCP server.
    Tcp(SocketAddr),
    /// A Unix domain stream socket.
    Unix(PathBuf),
    /// A UDP server (RFC 862's datagram half): each request one datagram.
    Udp(SocketAddr),
}

impl Target {
    /// True for `udp:` targets, whose requests may be lost.
    pub fn is_datagram(&self) -> bool {
        matches!(self, Target::Udp(_))
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Tcp(addr) => write!(f, "{addr}"),
            Target::Unix(path) => write!(f, "unix:{}", path.display()),
            Target::Udp(addr) => write!(f, "udp:{addr}"),
        }
    }
}

impl Serialize for Target {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}
