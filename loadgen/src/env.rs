//! The machine a measurement was taken on, and the knobs `loadgen` turns on
//! it (CPU pinning, the open-file limit). Numbers without this context are
//! hard to compare, so every JSON result carries an [`Env`].

use std::io;

use serde::Serialize;

/// Facts about the machine and process, recorded beside every result.
#[derive(Clone, Debug, Serialize)]
pub struct Env {
    /// `uname -sr`, e.g. `Linux 6.1.0`.
    pub kernel: String,
    /// CPUs online.
    pub cpu_count: usize,
    /// CPUs the generator may run on (its affinity mask).
    pub generator_cpus: Vec<usize>,
    /// CPUs the server was pinned to, when `loadgen` started it and pinned it.
    pub server_cpus: Option<Vec<usize>>,
    /// True when the generator and server were pinned to disjoint CPUs.
    pub pinned: bool,
    /// Why they were not pinned, when they were not and the reason is
    /// known: `--no-pin`, too few CPUs, or an OS without CPU affinity
    /// ([`NO_PINNING`]).
    pub not_pinned: Option<String>,
    /// Soft and hard `RLIMIT_NOFILE` after `loadgen` raised the soft one.
    pub fd_limit: FdLimit,
}

/// The open-file limit.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct FdLimit {
    /// Soft limit (what applies).
    pub soft: u64,
    /// Hard limit (the most the soft limit may be raised to).
    pub hard: u64,
}

impl Env {
    /// Describes this machine and process now.
    pub fn capture(server_cpus: Option<Vec<usize>>) -> Env {
        let generator_cpus = affinity().unwrap_or_default();
        let pinned = server_cpus
            .as_ref()
            .is_some_and(|s| !s.is_empty() && s.iter().all(|c| !generator_cpus.contains(c)));
        Env {
            kernel: kernel(),
            cpu_count: online_cpus(),
            generator_cpus,
            server_cpus,
            pinned,
            not_pinned: NO_PINNING.filter(|_| !pinned).map(String::from),
            fd_limit: fd_limit(),
        }
    }
}

fn kernel() -> String {
    // SAFETY: utsname is plain data; uname fills it in.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: `u` is a valid utsname.
    if unsafe { libc::uname(&mut u) } != 0 {
        return "unknown".into();
    }
    let field = |f: &[libc::c_char]| {
        let bytes: Vec<u8> = f
            .iter()
            .take_while(|&&c| c != 0)
            .map(|&c| c as u8)
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    };
    format!("{} {}", field(&u.sysname), field(&u.release))
}

/// The open-file limit now.
pub fn fd_limit() -> FdLimit {
    // SAFETY: rlimit is plain data; getrlimit fills it in.
    let mut r: libc::rlimit = unsafe { std::mem::zeroed() };
    // SAFETY: `r` is a valid rlimit.
    unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) };
    FdLimit {
        soft: r.rlim_cur as u64,
        hard: r.rlim_max as u64,
    }
}

/// Why this OS cannot pin a thread to CPUs, or `None` where it can (Linux
/// with `sched_setaffinity`, FreeBSD with `cpuset_setaffinity`). macOS's
/// affinity tags are only hints to the scheduler, so it is not pinned.
pub const NO_PINNING: Option<&str> = if echod::affinity::SUPPORTED {
    None
} else if cfg!(target_os = "macos") {
    Some("macOS has no CPU affinity")
} else {
    Some("loadgen cannot set CPU affinity on this OS")
};

/// CPUs the calling thread may run on: its affinity mask, or every online
/// CPU where there is no such mask ([`NO_PINNING`]).
pub fn affinity() -> io::Result<Vec<usize>> {
    if NO_PINNING.is_some() {
        return Ok((0..online_cpus()).collect());
    }
    echod::affinity::allowed()
}

/// Restricts the calling thread (and the threads and children it creates
/// afterwards) to `cpus`. Fails with [`io::ErrorKind::Unsupported`] and
/// the reason in [`NO_PINNING`] where there is one: callers check that
/// first and skip pinning.
///
/// Where pinning works it is safe between `fork` and `exec`: one syscall,
/// no allocation (see [`echod::affinity::pin_current_to`]).
pub fn pin(cpus: &[usize]) -> io::Result<()> {
    if let Some(why) = NO_PINNING {
        return Err(io::Error::new(io::ErrorKind::Unsupported, why));
    }
    echod::affinity::pin_current_to(cpus)
}

fn online_cpus() -> usize {
    // SAFETY: sysconf has no preconditions.
    unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) }.max(1) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capture_describes_this_machine() {
        let e = Env::capture(None);
        let os = if cfg!(target_os = "linux") {
            "Linux"
        } else if cfg!(target_os = "macos") {
            "Darwin"
        } else {
            "FreeBSD"
        };
        assert!(e.kernel.starts_with(os), "{}", e.kernel);
        assert!(e.cpu_count >= 1);
        assert!(!e.generator_cpus.is_empty());
        assert!(e.fd_limit.soft >= 1 && e.fd_limit.soft <= e.fd_limit.hard);
        assert!(!e.pinned);
        assert_eq!(e.not_pinned.as_deref(), NO_PINNING);
    }

    /// Pinning a thread to one of its CPUs leaves it that CPU alone; where
    /// the OS has no affinity, pinning fails and says why. In a thread of
    /// its own, so no other test is pinned.
    #[test]
    fn a_pinned_thread_runs_on_the_cpus_it_was_given() {
        std::thread::spawn(|| {
            let all = affinity().unwrap();
            let last = *all.last().unwrap();
            match NO_PINNING {
                None => {
                    pin(&[last]).unwrap();
                    assert_eq!(affinity().unwrap(), vec![last]);
                }
                Some(why) => {
                    let e = pin(&[last]).unwrap_err();
                    assert_eq!(e.to_string(), why);
                    assert_eq!(all.len(), online_cpus());
                }
            }
        })
        .join()
        .unwrap();
    }
}
