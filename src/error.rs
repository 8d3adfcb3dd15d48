//! How the daemon ends: on purpose ([`Stopped`]) or by failure ([`Error`]).
//!
//! A module of its own, below every model, so that the models return these
//! without importing from the crate root.

use std::fmt;

/// Why the daemon stopped, when it stopped on purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// A first SIGINT/SIGTERM: pending echoes were flushed (or the
    /// shutdown timeout ran out). The process should exit 0.
    Drained,
    /// A second signal arrived while draining; the process should exit at
    /// once with status 128 + the signal number, as a shell would report.
    Forced(i32),
}

/// A failure that stops the daemon.
#[derive(Debug)]
pub enum Error {
    /// The configuration cannot work: flags that are fine alone but not
    /// together (see [`crate::config::Config::check`]). The message names the flag.
    Usage(String),
    /// Could not start: a listener could not be opened, and so on. The
    /// message names the address or flag involved.
    Startup(String),
    /// The event loop itself failed after startup.
    Runtime(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Usage(m) | Error::Startup(m) | Error::Runtime(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for Error {}
