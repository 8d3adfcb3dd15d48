//! The error of a command line that cannot be acted on, and how a message
//! shows a value the user typed. Every module that validates input builds
//! its refusals from here, so they all read alike and all exit 2.

use std::fmt;

/// A command line that cannot be acted on: the message names the flag and
/// the offending value. `main` prints it on one line and exits 2.
#[derive(Debug)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// A [`UsageError`] saying `msg`.
pub fn usage(msg: impl Into<String>) -> UsageError {
    UsageError(msg.into())
}

/// `s` as a message shows it: escaped and shortened, as echod does, so a
/// 100 kB argument stays a short line.
pub fn shorten(s: &str) -> String {
    echod::cli::message::shown(s)
}
