//! Where `run` and `check` connect: a TCP address or a Unix stream socket.
//!
//! Validated once by the CLI; everything past it matches on the variant and
//! never sees the string again. Shown (in messages, reports and JSON) as
//! `HOST:PORT` for TCP, exactly as before, and `unix:PATH` for a socket.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Serialize, Serializer};

/// A stream server's address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// A TCP server.
    Tcp(SocketAddr),
    /// A Unix domain stream socket.
    Unix(PathBuf),
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Tcp(addr) => write!(f, "{addr}"),
            Target::Unix(path) => write!(f, "unix:{}", path.display()),
        }
    }
}

impl Serialize for Target {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}
