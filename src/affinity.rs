//! CPU affinity: the CPUs the calling thread may run on, and pinning it to
//! some of them. echod's `--pin` uses it for its reactors, and loadgen for
//! the server and generator of `compare`.
//!
//! Linux (`sched_getaffinity`/`sched_setaffinity`) and FreeBSD
//! (`cpuset_getaffinity`/`cpuset_setaffinity` on the calling thread).
//! macOS has only affinity *tags*, hints the scheduler may ignore: there
//! (and on any other OS) both answer `Unsupported`, [`SUPPORTED`] is
//! false, and `--pin` is refused before anything is bound (see
//! [`crate::config::Config::check`]).

use std::io;

/// Whether this OS can pin a thread to CPUs.
pub const SUPPORTED: bool = cfg!(any(target_os = "linux", target_os = "freebsd"));

#[cfg(target_os = "linux")]
mod os {
    use std::io;

    pub type Set = libc::cpu_set_t;
    pub const SETSIZE: usize = libc::CPU_SETSIZE as usize;
    const SIZE: usize = std::mem::size_of::<Set>();

    pub fn get(set: &mut Set) -> io::Result<()> {
        // SAFETY: `set` is a valid cpu_set_t of the size passed; pid 0 is
        // the calling thread.
        super::checked(unsafe { libc::sched_getaffinity(0, SIZE, set) })
    }

    pub fn set(set: &Set) -> io::Result<()> {
        // SAFETY: as above.
        super::checked(unsafe { libc::sched_setaffinity(0, SIZE, set) })
    }
}

#[cfg(target_os = "freebsd")]
mod os {
    use std::io;

    pub type Set = libc::cpuset_t;
    pub const SETSIZE: usize = libc::CPU_SETSIZE as usize;
    const SIZE: usize = std::mem::size_of::<Set>();
    // The calling thread: id -1 at CPU_WHICH_TID.
    const LEVEL: libc::cpulevel_t = libc::CPU_LEVEL_WHICH;
    const WHICH: libc::cpuwhich_t = libc::CPU_WHICH_TID;

    pub fn get(set: &mut Set) -> io::Result<()> {
        // SAFETY: `set` is a valid cpuset_t of the size passed.
        super::checked(unsafe { libc::cpuset_getaffinity(LEVEL, WHICH, -1, SIZE, set) })
    }

    pub fn set(set: &Set) -> io::Result<()> {
        // SAFETY: as above.
        super::checked(unsafe { libc::cpuset_setaffinity(LEVEL, WHICH, -1, SIZE, set) })
    }
}

/// A syscall's 0-or-−1 result as an `io::Result`.
#[cfg(any(target_os = "linux", target_os = "freebsd"))]
fn checked(rc: libc::c_int) -> io::Result<()> {
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The CPUs the calling thread may run on, in increasing order: all of
/// them, or the set `taskset`/`cpuset`, a container or an earlier pin
/// narrowed it to.
///
/// # Errors
/// `Unsupported` where this OS has no affinity ([`SUPPORTED`]), or what
/// the kernel said.
pub fn allowed() -> io::Result<Vec<usize>> {
    #[cfg(any(target_os = "linux", target_os = "freebsd"))]
    {
        // SAFETY: the set is plain bits; all-zero is empty.
        let mut set: os::Set = unsafe { std::mem::zeroed() };
        os::get(&mut set)?;
        // SAFETY: CPU_ISSET reads within the set for cpu < SETSIZE.
        let cpus: Vec<usize> = (0..os::SETSIZE)
            .filter(|&cpu| unsafe { libc::CPU_ISSET(cpu, &set) })
            .collect();
        if cpus.is_empty() {
            return Err(io::Error::other("no CPU in the affinity mask"));
        }
        Ok(cpus)
    }
    #[cfg(not(any(target_os = "linux", target_os = "freebsd")))]
    {
        Err(io::ErrorKind::Unsupported.into())
    }
}

/// Pins the calling thread (not the process) to `cpu`.
///
/// # Errors
/// As [`pin_current_to`].
pub fn pin_current(cpu: usize) -> io::Result<()> {
    pin_current_to(&[cpu])
}

/// Restricts the calling thread (not the process) to `cpus`; threads and
/// children it creates afterwards inherit the restriction.
///
/// Makes one syscall and allocates nothing, so it is safe between `fork`
/// and `exec` (loadgen pins its server children there).
///
/// # Errors
/// `InvalidInput` for a CPU number beyond the kernel's set, `Unsupported`
/// where this OS has no affinity ([`SUPPORTED`]), or what the kernel said.
pub fn pin_current_to(cpus: &[usize]) -> io::Result<()> {
    #[cfg(any(target_os = "linux", target_os = "freebsd"))]
    {
        // SAFETY: the set is plain bits; all-zero is empty.
        let mut set: os::Set = unsafe { std::mem::zeroed() };
        for &cpu in cpus {
            if cpu >= os::SETSIZE {
                return Err(io::ErrorKind::InvalidInput.into());
            }
            // SAFETY: CPU_SET writes within the set for cpu < SETSIZE.
            unsafe { libc::CPU_SET(cpu, &mut set) };
        }
        os::set(&set)
    }
    #[cfg(not(any(target_os = "linux", target_os = "freebsd")))]
    {
        let _ = cpus;
        Err(io::ErrorKind::Unsupported.into())
    }
}

#[cfg(all(test, any(target_os = "linux", target_os = "freebsd")))]
mod tests {
    use super::*;

    #[test]
    fn a_pinned_thread_runs_on_that_cpu_only() {
        let cpus = allowed().unwrap();
        let last = *cpus.last().unwrap();
        std::thread::spawn(move || {
            pin_current(last).unwrap();
            assert_eq!(allowed().unwrap(), vec![last]);
        })
        .join()
        .unwrap();
        // The pin was the thread's own, not the process's.
        assert_eq!(allowed().unwrap(), cpus);
    }

    #[test]
    fn a_thread_can_be_pinned_to_several_cpus_and_out_of_range_is_refused() {
        let cpus = allowed().unwrap();
        let mine = cpus.clone();
        std::thread::spawn(move || {
            pin_current_to(&mine).unwrap();
            assert_eq!(allowed().unwrap(), mine);
            let err = pin_current_to(&[usize::MAX]).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
            assert_eq!(allowed().unwrap(), mine, "a refused pin changes nothing");
        })
        .join()
        .unwrap();
    }
}
