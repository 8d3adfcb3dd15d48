//! CPU time and memory of another process, from the OS's per-process
//! accounting.
//!
//! `compare` samples its server child with these before and after each
//! measurement window, so "server CPU per request" is the server's own
//! user + system time and nothing of the generator's.
//!
//! # Where the figures come from
//! - **Linux**: `/proc/PID/stat` (utime + stime, clock-tick resolution) and
//!   `/proc/PID/status` (`VmRSS`, `VmHWM`).
//! - **macOS**: `proc_pid_rusage` (user + system time; `ri_resident_size`).
//!   macOS keeps no peak RSS of another process, so the peak is
//!   [`Reading::Unavailable`].
//! - **FreeBSD**: `sysctl kern.proc.pid.PID`, a `kinfo_proc` (`ki_rusage`
//!   user + system time and `ru_maxrss`; `ki_rssize` pages). The kernel
//!   brings a running thread's time up to date only when it is switched
//!   out, so a busy server's figure can trail by a scheduling quantum.
//!
//! A figure that cannot be read is a [`Reading::Unavailable`] with the
//! reason, which the reports print as `n/a`: never a zero.

use std::io;
use std::time::Duration;

use serde::Serialize;

/// A figure read from the OS, or why it could not be.
///
/// Serialised as the bare value, or as `{"n/a": "REASON"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Reading<T> {
    /// The figure.
    Value(T),
    /// Not available here.
    Unavailable {
        /// Why, in a few words (e.g. "macOS keeps no peak RSS of another
        /// process").
        #[serde(rename = "n/a")]
        reason: String,
    },
}

impl<T> Reading<T> {
    /// Not available, because of `reason`.
    pub fn unavailable(reason: impl Into<String>) -> Reading<T> {
        Reading::Unavailable {
            reason: reason.into(),
        }
    }

    /// The figure, if it was read.
    pub fn value(&self) -> Option<&T> {
        match self {
            Reading::Value(v) => Some(v),
            Reading::Unavailable { .. } => None,
        }
    }

    /// The figure passed through `f`, or the same reason.
    pub fn map<U>(&self, f: impl FnOnce(&T) -> U) -> Reading<U> {
        match self {
            Reading::Value(v) => Reading::Value(f(v)),
            Reading::Unavailable { reason } => Reading::unavailable(reason.clone()),
        }
    }

    /// The figure written by `show`, or `n/a (REASON)`.
    pub fn show(&self, show: impl FnOnce(&T) -> String) -> String {
        match self {
            Reading::Value(v) => show(v),
            Reading::Unavailable { reason } => format!("n/a ({reason})"),
        }
    }
}

impl<T: Ord + Clone> Reading<T> {
    /// The largest value in `readings`; when none was read, the first
    /// reason; `None` for no readings at all.
    pub fn largest<'a>(readings: impl IntoIterator<Item = &'a Reading<T>>) -> Option<Reading<T>>
    where
        T: 'a,
    {
        let mut first = None;
        let mut best: Option<&T> = None;
        for r in readings {
            first.get_or_insert(r);
            if let Reading::Value(v) = r {
                best = best.max(Some(v));
            }
        }
        match best {
            Some(v) => Some(Reading::Value(v.clone())),
            None => first.cloned(),
        }
    }
}

/// Resident memory of a process, in KiB.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Memory {
    /// Resident set size now (`VmRSS` on Linux).
    pub rss_kib: Reading<u64>,
    /// Peak resident set size since the process started (`VmHWM` on Linux).
    pub hwm_kib: Reading<u64>,
}

impl Memory {
    /// Neither figure, both for `reason`.
    pub fn unavailable(reason: &str) -> Memory {
        Memory {
            rss_kib: Reading::unavailable(reason),
            hwm_kib: Reading::unavailable(reason),
        }
    }
}

/// User + system CPU time of process `pid` and all its threads.
///
/// # Errors
/// When the OS has no record of `pid` (e.g. it exited), or, on Linux, when
/// `/proc/PID/stat` cannot be parsed; on an OS other than Linux, macOS and
/// FreeBSD, always ([`io::ErrorKind::Unsupported`]).
#[cfg(target_os = "linux")]
pub fn cpu_time(pid: u32) -> io::Result<Duration> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    parse_cpu_ticks(&text)
        .map(ticks_to_duration)
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
#[cfg(any(target_os = "linux", test))]
pub fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state is field 3, so utime (14) and stime (15) are at 11 and 12.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// Resident memory of process `pid` now, and its peak where the OS keeps
/// one.
///
/// # Errors
/// As [`cpu_time`]; on Linux also when `/proc/PID/status` lacks `VmRSS` or
/// `VmHWM`.
#[cfg(target_os = "linux")]
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
#[cfg(any(target_os = "linux", test))]
pub fn parse_memory(status: &str) -> Option<Memory> {
    let field = |name: &str| -> Option<u64> {
        let line = status.lines().find(|l| l.starts_with(name))?;
        line[name.len()..].split_whitespace().next()?.parse().ok()
    };
    Some(Memory {
        rss_kib: Reading::Value(field("VmRSS:")?),
        hwm_kib: Reading::Value(field("VmHWM:")?),
    })
}

/// User + system CPU time of each thread of process `pid`, by thread id,
/// from `/proc/PID/task/*/stat`.
///
/// A thread that exits between listing the directory and reading its file
/// is left out: it is gone, and its time with it.
///
/// # Errors
/// When `/proc/PID/task` cannot be listed (the process is gone).
#[cfg(target_os = "linux")]
pub fn thread_cpu_times(pid: u32) -> io::Result<Vec<(u32, Duration)>> {
    let dir = format!("/proc/{pid}/task");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir)? {
        let entry = entry?;
        let Some(tid) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
            continue;
        };
        let Ok(text) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        if let Some(ticks) = parse_cpu_ticks(&text) {
            out.push((tid, ticks_to_duration(ticks)));
        }
    }
    Ok(out)
}

/// Off Linux per-thread CPU time is not read: always `Unsupported`, with
/// the reason the reports print.
#[cfg(not(target_os = "linux"))]
pub fn thread_cpu_times(_pid: u32) -> io::Result<Vec<(u32, Duration)>> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "per-thread CPU time is read on Linux only",
    ))
}

/// How many CPUs process `pid` may run on: its `Cpus_allowed_list` in
/// `/proc/PID/status` (the affinity of its main thread).
///
/// # Errors
/// When the file cannot be read or has no such line.
#[cfg(target_os = "linux")]
pub fn allowed_cpus(pid: u32) -> io::Result<usize> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    text.lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .and_then(|list| count_cpu_list(list.trim()))
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("/proc/{pid}/status: no Cpus_allowed_list"),
            )
        })
}

/// Off Linux the CPUs another process may use are not read: always
/// `Unsupported` (callers fall back to the CPUs online).
#[cfg(not(target_os = "linux"))]
pub fn allowed_cpus(_pid: u32) -> io::Result<usize> {
    Err(io::ErrorKind::Unsupported.into())
}

/// The number of CPUs in a list such as `0-3,8,10-11`.
#[cfg(any(target_os = "linux", test))]
pub fn count_cpu_list(list: &str) -> Option<usize> {
    let mut n = 0;
    for part in list.split(',') {
        n += match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (usize, usize) = (a.parse().ok()?, b.parse().ok()?);
                b.checked_sub(a)? + 1
            }
            None => {
                part.parse::<usize>().ok()?;
                1
            }
        };
    }
    (n > 0).then_some(n)
}

#[cfg(target_os = "linux")]
fn ticks_to_duration(ticks: u64) -> Duration {
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Duration::from_nanos(ticks * 1_000_000_000 / hz)
}

#[cfg(target_os = "macos")]
pub use self::macos::{cpu_time, memory};

#[cfg(target_os = "macos")]
mod macos {
    use super::*;

    /// macOS keeps no high-water mark of another process's resident set
    /// (`ri_lifetime_max_phys_footprint` is a peak of a different figure).
    const NO_PEAK: &str = "macOS keeps no peak RSS of another process";

    fn rusage(pid: u32) -> io::Result<libc::rusage_info_v0> {
        // SAFETY: rusage_info_v0 is plain data; proc_pid_rusage fills it in.
        let mut info: libc::rusage_info_v0 = unsafe { std::mem::zeroed() };
        let buf = (&mut info as *mut libc::rusage_info_v0).cast::<libc::rusage_info_t>();
        // SAFETY: `buf` points at a rusage_info_v0, the flavour asked for.
        let rc = unsafe { libc::proc_pid_rusage(pid as libc::c_int, libc::RUSAGE_INFO_V0, buf) };
        if rc != 0 {
            let e = io::Error::last_os_error();
            return Err(io::Error::new(
                e.kind(),
                format!("proc_pid_rusage({pid}): {e}"),
            ));
        }
        Ok(info)
    }

    /// Mach absolute-time units to nanoseconds. `ri_user_time` and
    /// `ri_system_time` are in those units, which are nanoseconds on Intel
    /// but 125/3 ns on Apple silicon.
    // libc points to the `mach2` crate for Mach calls; one call does not
    // justify a dependency.
    #[allow(deprecated)]
    fn mach_to_ns(t: u64) -> u64 {
        let mut tb = libc::mach_timebase_info { numer: 1, denom: 1 };
        // SAFETY: `tb` is a valid mach_timebase_info to fill in.
        let rc = unsafe { libc::mach_timebase_info(&mut tb) };
        if rc != 0 || tb.denom == 0 {
            return t;
        }
        (t as u128 * tb.numer as u128 / tb.denom as u128) as u64
    }

    /// User + system CPU time of process `pid` and all its threads.
    ///
    /// # Errors
    /// When `proc_pid_rusage` fails (e.g. the process exited).
    pub fn cpu_time(pid: u32) -> io::Result<Duration> {
        let r = rusage(pid)?;
        Ok(Duration::from_nanos(mach_to_ns(
            r.ri_user_time + r.ri_system_time,
        )))
    }

    /// Resident memory of process `pid` now; the peak is unavailable.
    ///
    /// # Errors
    /// As [`cpu_time`].
    pub fn memory(pid: u32) -> io::Result<Memory> {
        let r = rusage(pid)?;
        Ok(Memory {
            rss_kib: Reading::Value(r.ri_resident_size / 1024),
            hwm_kib: Reading::unavailable(NO_PEAK),
        })
    }
}

#[cfg(target_os = "freebsd")]
pub use self::freebsd::{cpu_time, memory};

#[cfg(target_os = "freebsd")]
mod freebsd {
    use super::*;

    /// The kernel's record of process `pid` (`sysctl kern.proc.pid.PID`).
    fn kinfo(pid: u32) -> io::Result<libc::kinfo_proc> {
        let mib = [
            libc::CTL_KERN,
            libc::KERN_PROC,
            libc::KERN_PROC_PID,
            pid as libc::c_int,
        ];
        // SAFETY: kinfo_proc is plain data; sysctl fills it in.
        let mut kp: libc::kinfo_proc = unsafe { std::mem::zeroed() };
        let mut len = std::mem::size_of::<libc::kinfo_proc>();
        // SAFETY: `mib` has the 4 entries passed; `kp` has `len` bytes.
        let rc = unsafe {
            libc::sysctl(
                mib.as_ptr(),
                mib.len() as libc::c_uint,
                (&mut kp as *mut libc::kinfo_proc).cast(),
                &mut len,
                std::ptr::null(),
                0,
            )
        };
        if rc != 0 {
            let e = io::Error::last_os_error();
            return Err(io::Error::new(
                e.kind(),
                format!("sysctl kern.proc.pid.{pid}: {e}"),
            ));
        }
        if len != std::mem::size_of::<libc::kinfo_proc>() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("sysctl kern.proc.pid.{pid}: no such process"),
            ));
        }
        Ok(kp)
    }

    /// User + system CPU time of process `pid` and all its threads.
    ///
    /// # Errors
    /// When the sysctl fails or finds no such process.
    pub fn cpu_time(pid: u32) -> io::Result<Duration> {
        let ru = kinfo(pid)?.ki_rusage;
        let tv = |t: libc::timeval| {
            Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
        };
        Ok(tv(ru.ru_utime) + tv(ru.ru_stime))
    }

    /// Resident memory of process `pid` now, and its peak (`ru_maxrss`).
    ///
    /// # Errors
    /// As [`cpu_time`].
    pub fn memory(pid: u32) -> io::Result<Memory> {
        let kp = kinfo(pid)?;
        // SAFETY: getpagesize has no preconditions.
        let page = unsafe { libc::getpagesize() }.max(1) as u64;
        Ok(Memory {
            rss_kib: Reading::Value(kp.ki_rssize.max(0) as u64 * page / 1024),
            hwm_kib: Reading::Value(kp.ki_rusage.ru_maxrss.max(0) as u64),
        })
    }
}

#[cfg(not(any(target_os = "linux", target_os = "macos", target_os = "freebsd")))]
pub use self::other::{cpu_time, memory};

#[cfg(not(any(target_os = "linux", target_os = "macos", target_os = "freebsd")))]
mod other {
    use super::*;

    fn unsupported() -> io::Error {
        io::Error::new(
            io::ErrorKind::Unsupported,
            "loadgen reads another process's CPU time and memory only on Linux, macOS and FreeBSD",
        )
    }

    /// Always [`io::ErrorKind::Unsupported`].
    pub fn cpu_time(_pid: u32) -> io::Result<Duration> {
        Err(unsupported())
    }

    /// Always [`io::ErrorKind::Unsupported`].
    pub fn memory(_pid: u32) -> io::Result<Memory> {
        Err(unsupported())
    }
}

/// The pid of a child that has exited and been reaped, so that it names
/// nothing: pids are handed out in turn, and this one comes round again
/// only after the whole pid space.
#[cfg(test)]
pub(crate) fn reaped_pid() -> u32 {
    let mut child = std::process::Command::new("true").spawn().unwrap();
    child.wait().unwrap();
    child.id()
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
    fn cpu_lists_are_counted() {
        assert_eq!(count_cpu_list("0"), Some(1));
        assert_eq!(count_cpu_list("0-3,8,10-11"), Some(7));
        assert_eq!(count_cpu_list(""), None);
        assert_eq!(count_cpu_list("3-1"), None);
        assert_eq!(count_cpu_list("x"), None);
    }

    /// This process's threads are listed, a busy one among them, and
    /// their times add up to no more than the process's.
    #[cfg(target_os = "linux")]
    #[test]
    fn threads_of_this_process_have_cpu_times() {
        let pid = std::process::id();
        let busy = std::thread::spawn(|| {
            let start = std::time::Instant::now();
            let mut x = 0u64;
            while start.elapsed() < Duration::from_millis(40) {
                x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
            }
            // SAFETY: gettid has no preconditions.
            unsafe { libc::gettid() as u32 }
        })
        .join()
        .unwrap();
        let threads = thread_cpu_times(pid).unwrap();
        assert!(threads.iter().any(|&(tid, _)| tid == pid), "{threads:?}");
        // The busy thread has exited; what is left cannot exceed the whole.
        assert!(threads.iter().all(|&(tid, _)| tid != busy));
        let sum: Duration = threads.iter().map(|&(_, t)| t).sum();
        assert!(sum <= cpu_time(pid).unwrap() + Duration::from_millis(20));
        assert!(allowed_cpus(pid).unwrap() >= 1);
    }

    #[test]
    fn memory_fields_are_read_in_kib() {
        let status = "Name:\techod\nVmHWM:\t    5120 kB\nVmRSS:\t    4096 kB\nThreads:\t3\n";
        assert_eq!(
            parse_memory(status),
            Some(Memory {
                rss_kib: Reading::Value(4096),
                hwm_kib: Reading::Value(5120),
            })
        );
    }

    /// Works on every supported OS; the peak only where the OS keeps one.
    #[test]
    fn this_process_has_cpu_time_and_memory() {
        let pid = std::process::id();
        // Burn a little CPU so there is some to see, whatever the clock's
        // resolution (clock ticks on Linux).
        let start = std::time::Instant::now();
        let mut x = 0u64;
        while start.elapsed() < Duration::from_millis(30) {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
        }
        assert!(cpu_time(pid).unwrap() > Duration::ZERO);
        let m = memory(pid).unwrap();
        let rss = *m.rss_kib.value().unwrap();
        assert!(rss > 0);
        if cfg!(target_os = "macos") {
            assert!(m.hwm_kib.value().is_none(), "{m:?}");
        } else {
            let hwm = *m.hwm_kib.value().expect("a peak RSS");
            assert!(hwm >= rss, "{m:?}");
        }
    }

    #[test]
    fn a_process_that_is_gone_is_an_error_not_a_zero() {
        let pid = reaped_pid();
        assert!(cpu_time(pid).is_err());
        assert!(memory(pid).is_err());
    }

    #[test]
    fn an_unreadable_figure_serialises_as_n_a_with_its_reason() {
        let m = Memory {
            rss_kib: Reading::Value(4096),
            hwm_kib: Reading::unavailable("macOS keeps no peak RSS of another process"),
        };
        assert_eq!(
            serde_json::to_string(&m).unwrap(),
            r#"{"rss_kib":4096,"hwm_kib":{"n/a":"macOS keeps no peak RSS of another process"}}"#
        );
        assert_eq!(
            m.hwm_kib.show(|v| v.to_string()),
            "n/a (macOS keeps no peak RSS of another process)"
        );
    }

    #[test]
    fn the_largest_reading_wins_and_a_reason_survives_when_none_was_read() {
        let (a, b) = (Reading::Value(3u64), Reading::Value(7u64));
        let na = Reading::<u64>::unavailable("gone");
        assert_eq!(Reading::largest([&a, &na, &b]), Some(Reading::Value(7)));
        assert_eq!(Reading::largest([&na]), Some(na.clone()));
        assert_eq!(Reading::<u64>::largest([]), None);
    }
}
