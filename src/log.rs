//! The daemon's one-line messages on stderr.
//!
//! `eprintln!` panics when stderr fails, and stderr fails exactly when the
//! daemon is most likely to be left running: its terminal went away (EIO,
//! and the SIGHUP that comes with it), or it writes into a pipe whose
//! reader exited (EPIPE). A log line is never worth a client's service, so
//! these writes ignore errors.

use std::fmt;
use std::io::Write;

/// Writes `echod: MESSAGE` and a newline to stderr, ignoring failure.
/// Use with `format_args!`.
pub fn line(message: fmt::Arguments<'_>) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "echod: {message}");
}
