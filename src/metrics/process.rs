//! The `process_*` metrics every Prometheus client library exports, read
//! at each scrape.
//!
//! # Per platform
//!
//! | metric                          | Linux             | macOS, FreeBSD |
//! |---------------------------------|-------------------|----------------|
//! | `process_cpu_seconds_total`     | `getrusage`       | `getrusage`    |
//! | `process_resident_memory_bytes` | `/proc/self/stat` | left out       |
//! | `process_open_fds`              | `/proc/self/fd`   | left out       |
//! | `process_max_fds`               | `getrlimit`       | `getrlimit`    |
//! | `process_start_time_seconds`    | `/proc/self/stat` | left out       |
//!
//! A value that cannot be read is `None` and its metric is left out of the
//! exposition, never shown as 0: a scraper then sees "absent", not "idle".
//! So is an unlimited `RLIMIT_NOFILE`: no number would say "no limit".
//!
//! The `/proc` reads are blocking reads, on the scrape's own thread (see
//! [`super::server`]), of kernel-made files that never wait on a device:
//! `stat` and the `fd` directory cost microseconds (the directory listing
//! grows with open descriptors, some hundred microseconds at ten thousand
//! connections), once per scrape.

/// One reading. `None`: the platform or `/proc` would not say.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Sample {
    /// User and system CPU time, in seconds.
    pub cpu_seconds: Option<f64>,
    /// Resident set size, in bytes.
    pub resident_bytes: Option<u64>,
    /// Open file descriptors.
    pub open_fds: Option<u64>,
    /// The soft limit on open file descriptors (`RLIMIT_NOFILE`), which
    /// `open_fds` runs into.
    pub max_fds: Option<u64>,
    /// When the process started, in seconds since the Unix epoch.
    pub start_time_seconds: Option<f64>,
}

/// Reads the process's CPU time, memory, descriptors, descriptor limit
/// and start time now.
#[cfg(target_os = "linux")]
pub fn sample() -> Sample {
    let stat = std::fs::read_to_string("/proc/self/stat").ok();
    let stat = stat.as_deref().and_then(StatFields::parse);
    let ticks = sysconf(libc::_SC_CLK_TCK);
    Sample {
        cpu_seconds: cpu_seconds(),
        resident_bytes: stat
            .as_ref()
            .zip(sysconf(libc::_SC_PAGESIZE))
            .map(|(s, page)| s.rss_pages * page),
        // The listing's own descriptor is among those counted, as in
        // other client libraries.
        open_fds: std::fs::read_dir("/proc/self/fd")
            .ok()
            .map(|d| d.count() as u64),
        max_fds: max_fds(),
        start_time_seconds: stat
            .zip(ticks)
            .zip(boot_time())
            .map(|((s, hz), boot)| boot as f64 + s.start_ticks as f64 / hz as f64),
    }
}

/// Elsewhere: CPU time and the descriptor limit only (see "Per
/// platform").
#[cfg(not(target_os = "linux"))]
pub fn sample() -> Sample {
    Sample {
        cpu_seconds: cpu_seconds(),
        max_fds: max_fds(),
        ..Sample::default()
    }
}

/// User plus system CPU time of the whole process (all threads), from
/// `getrusage(RUSAGE_SELF)`: POSIX, so the same on every platform, and
/// finer than the clock ticks of `/proc/self/stat`.
fn cpu_seconds() -> Option<f64> {
    // SAFETY: getrusage only writes the struct we pass.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) } != 0 {
        return None;
    }
    // Added in whole microseconds, divided once: adding two f64 seconds
    // prints as 0.08411099999999999 where getrusage said 84111 µs.
    #[allow(clippy::unnecessary_cast)] // time_t, suseconds_t: not i64 everywhere
    let micros = |tv: libc::timeval| tv.tv_sec as i64 * 1_000_000 + tv.tv_usec as i64;
    Some((micros(ru.ru_utime) + micros(ru.ru_stime)) as f64 / 1e6)
}

/// The soft `RLIMIT_NOFILE`, as the process collectors of Prometheus's
/// client libraries report it: the limit `accept` meets (EMFILE), after
/// echod raised it to the hard limit at start. `None` when unlimited or
/// unreadable.
fn max_fds() -> Option<u64> {
    #[allow(clippy::unnecessary_cast)] // rlim_t is not u64 everywhere
    let unlimited = libc::RLIM_INFINITY as u64;
    Some(crate::net::fd_limit()).filter(|&n| n > 0 && n != unlimited)
}

/// The fields of `/proc/self/stat` used here (proc(5) numbers them).
/// Linux only; its parser is tested everywhere.
#[cfg(any(target_os = "linux", test))]
#[derive(Debug, PartialEq, Eq)]
struct StatFields {
    /// Field 22, clock ticks after boot.
    start_ticks: u64,
    /// Field 24, in pages.
    rss_pages: u64,
}

#[cfg(any(target_os = "linux", test))]
impl StatFields {
    /// Parses the line after the command name, which is in parentheses
    /// and may itself hold spaces and parentheses: so from the last `)`.
    fn parse(line: &str) -> Option<StatFields> {
        let rest = &line[line.rfind(')')? + 1..];
        // `rest` starts at field 3 (the state).
        let f: Vec<&str> = rest.split_whitespace().collect();
        let field = |n: usize| f.get(n - 3)?.parse::<u64>().ok();
        Some(StatFields {
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
                start_ticks: 12345,
                rss_pages: 250
            })
        );
        assert_eq!(StatFields::parse("42 (cut short) S 1"), None);
    }

    // On every platform: CPU time is read, and grows while we burn it
    // (bounded: a loaded machine may give us little of the wall clock).
    #[test]
    fn cpu_seconds_are_read_and_grow() {
        let before = sample().cpu_seconds.expect("getrusage answers everywhere");
        let t = std::time::Instant::now();
        let mut x = 0u64;
        let mut now = before;
        while now < before + 0.01 && t.elapsed() < std::time::Duration::from_secs(10) {
            for _ in 0..100_000 {
                x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
            }
            now = sample().cpu_seconds.unwrap();
        }
        assert!(now >= before + 0.01, "{before} -> {now}");
    }

    #[cfg(not(target_os = "linux"))]
    #[test]
    fn elsewhere_only_cpu_is_given() {
        let s = sample();
        assert!(s.cpu_seconds.is_some());
        assert!(s.max_fds.is_some());
        assert_eq!((s.resident_bytes, s.open_fds), (None, None));
        assert_eq!(s.start_time_seconds, None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_process_has_plausible_values() {
        let s = sample();
        assert!(s.resident_bytes.unwrap() > 0);
        assert!(s.open_fds.unwrap() >= 3);
        assert!(s.max_fds.unwrap() >= s.open_fds.unwrap());
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
