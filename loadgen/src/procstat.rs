//! CPU time and memory of another process, from `/proc`.
//!
//! `compare` samples its server child with these before and after each
//! measurement window, so "server CPU per request" is the server's own
//! user + system time and nothing of the generator's.

use std::io;
use std::time::Duration;

/// User + system CPU time of process `pid` and all its threads.
///
/// # Errors
/// When `/proc/PID/stat` cannot be read or parsed (e.g. the process exited).
pub fn cpu_time(pid: u32) -> io::Result<Duration> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    parse_cpu_ticks(&text)
        .map(|ticks| {
            // SAFETY: sysconf has no preconditions.
            let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
            Duration::from_nanos(ticks * 1_000_000_000 / hz)
        })
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("/proc/{pid}/stat: unexpected format"),
            )
        })
}

/// utime + stime, in clock ticks, from the text of a `/proc/PID/stat` file.
///
/// The command name (field 2) may contain spaces and parentheses, so fields
/// are counted from the *last* `)`.
pub fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state is field 3, so utime (14) and stime (15) are at 11 and 12.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// Resident memory of a process, in KiB.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Memory {
    /// Resident set size now (`VmRSS`).
    pub rss_kib: u64,
    /// Peak resident set size since the process started (`VmHWM`).
    pub hwm_kib: u64,
}

/// `VmRSS` and `VmHWM` of process `pid`.
///
/// # Errors
/// When `/proc/PID/status` cannot be read or lacks those fields.
pub fn memory(pid: u32) -> io::Result<Memory> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    parse_memory(&text).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("/proc/{pid}/status: no VmRSS/VmHWM"),
        )
    })
}

/// `VmRSS` and `VmHWM` from the text of a `/proc/PID/status` file.
pub fn parse_memory(status: &str) -> Option<Memory> {
    let field = |name: &str| -> Option<u64> {
        let line = status.lines().find(|l| l.starts_with(name))?;
        line[name.len()..].split_whitespace().next()?.parse().ok()
    };
    Some(Memory {
        rss_kib: field("VmRSS:")?,
        hwm_kib: field("VmHWM:")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_ticks_survive_a_name_with_spaces_and_parens() {
        let stat =
            "1234 (my (odd) name) S 1 1234 1234 0 -1 4194560 100 0 0 0 17 5 0 0 20 0 3 0 99 0 0";
        assert_eq!(parse_cpu_ticks(stat), Some(22));
    }

    #[test]
    fn memory_fields_are_read_in_kib() {
        let status = "Name:\techod\nVmHWM:\t    5120 kB\nVmRSS:\t    4096 kB\nThreads:\t3\n";
        assert_eq!(
            parse_memory(status),
            Some(Memory {
                rss_kib: 4096,
                hwm_kib: 5120
            })
        );
    }

    #[test]
    fn this_process_has_cpu_time_and_memory() {
        let pid = std::process::id();
        let m = memory(pid).unwrap();
        assert!(m.rss_kib > 0 && m.hwm_kib >= m.rss_kib);
        cpu_time(pid).unwrap();
    }
}
