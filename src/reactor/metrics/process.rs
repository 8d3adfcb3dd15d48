//! The `process_*` metrics every Prometheus client library exports, read
//! from `/proc/self` at each scrape.
//!
//! These are blocking reads on the reactor's thread, but of kernel-made
//! files that never wait on a device: `stat` and the `fd` directory cost
//! microseconds (the directory listing grows with open descriptors, some
//! hundred microseconds at ten thousand connections), once per scrape.
//! Elsewhere than Linux every value is `None` and the metric is left out.

/// One reading. `None`: the platform or `/proc` would not say.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Sample {
    /// User and system CPU time, in seconds.
    pub cpu_seconds: Option<f64>,
    /// Resident set size, in bytes.
    pub resident_bytes: Option<u64>,
    /// Open file descriptors.
    pub open_fds: Option<u64>,
    /// When the process started, in seconds since the Unix epoch.
    pub start_time_seconds: Option<f64>,
}

/// Reads the process's CPU time, memory, descriptors and start time now.
#[cfg(target_os = "linux")]
pub fn sample() -> Sample {
    let stat = std::fs::read_to_string("/proc/self/stat").ok();
    let stat = stat.as_deref().and_then(StatFields::parse);
    let ticks = sysconf(libc::_SC_CLK_TCK);
    Sample {
        cpu_seconds: stat
            .as_ref()
            .zip(ticks)
            .map(|(s, hz)| (s.utime + s.stime) as f64 / hz as f64),
        resident_bytes: stat
            .as_ref()
            .zip(sysconf(libc::_SC_PAGESIZE))
            .map(|(s, page)| s.rss_pages * page),
        // The listing's own descriptor is among those counted, as in
        // other client libraries.
        open_fds: std::fs::read_dir("/proc/self/fd")
            .ok()
            .map(|d| d.count() as u64),
        start_time_seconds: stat
            .zip(ticks)
            .zip(boot_time())
            .map(|((s, hz), boot)| boot as f64 + s.start_ticks as f64 / hz as f64),
    }
}

/// Elsewhere: nothing (see the module docs).
#[cfg(not(target_os = "linux"))]
pub fn sample() -> Sample {
    Sample::default()
}

/// The fields of `/proc/self/stat` used here (proc(5) numbers them).
#[derive(Debug, PartialEq, Eq)]
struct StatFields {
    /// Field 14, in clock ticks.
    utime: u64,
    /// Field 15, in clock ticks.
    stime: u64,
    /// Field 22, clock ticks after boot.
    start_ticks: u64,
    /// Field 24, in pages.
    rss_pages: u64,
}

impl StatFields {
    /// Parses the line after the command name, which is in parentheses
    /// and may itself hold spaces and parentheses: so from the last `)`.
    fn parse(line: &str) -> Option<StatFields> {
        let rest = &line[line.rfind(')')? + 1..];
        // `rest` starts at field 3 (the state).
        let f: Vec<&str> = rest.split_whitespace().collect();
        let field = |n: usize| f.get(n - 3)?.parse::<u64>().ok();
        Some(StatFields {
            utime: field(14)?,
            stime: field(15)?,
            start_ticks: field(22)?,
            rss_pages: field(24)?,
        })
    }
}

#[cfg(target_os = "linux")]
fn sysconf(name: libc::c_int) -> Option<u64> {
    // SAFETY: sysconf only reads its argument.
    let v = unsafe { libc::sysconf(name) };
    u64::try_from(v).ok().filter(|&v| v > 0)
}

/// Boot time in seconds since the epoch (`btime` in `/proc/stat`), read
/// once: it does not change while we run.
#[cfg(target_os = "linux")]
fn boot_time() -> Option<u64> {
    static BOOT: std::sync::OnceLock<Option<u64>> = std::sync::OnceLock::new();
    *BOOT.get_or_init(|| {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        stat.lines()
            .find_map(|l| l.strip_prefix("btime "))?
            .trim()
            .parse()
            .ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_from_the_last_parenthesis() {
        // A command name with spaces and a `)` of its own.
        let line = "42 (echo d) x) S 1 42 42 0 -1 4194560 100 0 0 0 \
                    7 3 0 0 20 0 1 0 12345 1000000 250 18446744073709551615";
        assert_eq!(
            StatFields::parse(line),
            Some(StatFields {
                utime: 7,
                stime: 3,
                start_ticks: 12345,
                rss_pages: 250
            })
        );
        assert_eq!(StatFields::parse("42 (cut short) S 1"), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_process_has_plausible_values() {
        let s = sample();
        assert!(s.resident_bytes.unwrap() > 0);
        assert!(s.open_fds.unwrap() >= 3);
        assert!(s.cpu_seconds.unwrap() >= 0.0);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        let start = s.start_time_seconds.unwrap();
        assert!(
            start <= now + 1.0 && start > now - 86_400.0 * 365.0,
            "{start}"
        );
    }
}
