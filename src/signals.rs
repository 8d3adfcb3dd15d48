//! The signals every model handles, and what SIGHUP means here.
//!
//! SIGINT and SIGTERM stop the daemon (gracefully the first time, at once
//! the second). SIGHUP conventionally asks a daemon to reload its
//! configuration; echod has none to reload (everything comes from the
//! command line), and the default action, a silent exit, would drop every
//! client because someone closed a terminal or a supervisor sent the usual
//! "reload". So it is caught, logged once per delivery, and ignored, even
//! while draining: it neither starts nor hurries a shutdown.

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};

/// Every signal a model must catch before it announces its listeners.
pub const HANDLED: [libc::c_int; 3] = [SIGINT, SIGTERM, SIGHUP];

/// True for a signal that asks the daemon to stop (SIGINT, SIGTERM);
/// false for SIGHUP, which [`ignore_hangup`] handles.
pub fn stops(sig: libc::c_int) -> bool {
    sig != SIGHUP
}

/// Logs the one line that says a SIGHUP was received and ignored.
pub fn ignore_hangup() {
    crate::log::line(format_args!("SIGHUP ignored (no configuration to reload)"));
}

/// Goes through one batch of delivered signals, in order, for a loop that
/// drains: SIGHUP is logged and ignored, the first SIGINT/SIGTERM is
/// handed to `begin` (unless `draining` already), and the number of a
/// SIGINT/SIGTERM after that is returned: stop at once.
pub fn sort(
    batch: impl IntoIterator<Item = libc::c_int>,
    mut draining: bool,
    mut begin: impl FnMut(libc::c_int),
) -> Option<libc::c_int> {
    for sig in batch {
        if !stops(sig) {
            ignore_hangup();
        } else if draining {
            return Some(sig);
        } else {
            begin(sig);
            draining = true;
        }
    }
    None
}
