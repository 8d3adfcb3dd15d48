//! The line writer under every message of the daemon: `echod: MESSAGE` on
//! stderr. It imports nothing of the crate, so the lowest modules (the
//! sockets in [`crate::net`]) can say something without importing the log
//! that is built on them; [`crate::log`] re-exports [`line()`].
//!
//! `eprintln!` panics when stderr fails, and stderr fails exactly when the
//! daemon is most likely to be left running: its terminal went away (EIO,
//! and the SIGHUP that comes with it), or it writes into a pipe whose
//! reader exited (EPIPE). A log line is never worth a client's service, so
//! these writes ignore errors.

use std::fmt;
use std::io::Write;
use std::sync::OnceLock;
use std::time::Duration;

/// Writes `echod: MESSAGE` and a newline to stderr, ignoring failure,
/// after a timestamp when stderr is a terminal (see [`stamp_lines`]). Use with
/// `format_args!`.
pub fn line(message: fmt::Arguments<'_>) {
    let mut err = std::io::stderr().lock();
    if STAMPS.get() == Some(&true) {
        let _ = write!(err, "{} ", Stamp::now());
    }
    let _ = writeln!(err, "echod: {message}");
}

// ---- timestamps ----
//
// A line gets a timestamp only when stderr is a terminal: a person
// watching has no other clock. Under systemd stderr is the journal, which
// stamps every line itself (`journalctl -o short-precise`), and a pipe or
// a file belongs to a supervisor or a collector that does the same, or to
// a script that matches lines from their start. UTC, so that lines from
// machines in different zones sort together.

/// Whether lines carry a timestamp; set once by [`stamp_lines`].
static STAMPS: OnceLock<bool> = OnceLock::new();

/// Puts a timestamp before every later line (`on`: stderr is a
/// terminal). Only the first call counts.
pub fn stamp_lines(on: bool) {
    let _ = STAMPS.set(on);
}

/// The current time as RFC 3339 UTC with milliseconds:
/// `2026-12-03T03:41:15.123Z`.
pub(crate) struct Stamp(pub(crate) Duration);

impl Stamp {
    fn now() -> Stamp {
        let since = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Stamp(since)
    }
}

impl fmt::Display for Stamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0.as_secs();
        let (days, rest) = (secs / 86_400, secs % 86_400);
        let (y, m, d) = civil_from_days(days as i64);
        write!(
            f,
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
            rest / 3600,
            rest % 3600 / 60,
            rest % 60,
            self.0.subsec_millis()
        )
    }
}

impl tracing_subscriber::fmt::time::FormatTime for Stamp {
    fn format_time(&self, w: &mut tracing_subscriber::fmt::format::Writer<'_>) -> fmt::Result {
        write!(w, "{}", Stamp::now())
    }
}

/// Year, month, day of the proleptic Gregorian calendar, `days` after
/// 1970-01-01 (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc_3339_utc() {
        let t = Stamp(Duration::from_millis(1_796_268_075_123));
        assert_eq!(t.to_string(), "2026-12-03T03:21:15.123Z");
        assert_eq!(
            Stamp(Duration::ZERO).to_string(),
            "1970-01-01T00:00:00.000Z"
        );
        // A leap day.
        assert_eq!(
            Stamp(Duration::from_secs(951_782_400)).to_string(),
            "2000-02-29T00:00:00.000Z"
        );
    }
}
