//! CPU affinity for `--pin`: the CPUs this process may run on, and pinning
//! the calling thread to one of them.
//!
//! Linux only (`sched_getaffinity`/`sched_setaffinity`); elsewhere both
//! answer `Unsupported` and `--pin` is refused before anything is bound
//! (see [`crate::reactor::multi::check`]).

use std::io;

/// The CPUs the calling thread may run on, in increasing order: all of
/// them, or the set `taskset`, a cpuset or a container narrowed it to.
pub fn allowed() -> io::Result<Vec<usize>> {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: cpu_set_t is plain bits; sched_getaffinity writes at most
        // the size we pass, and CPU_ISSET reads within it.
        unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
                return Err(io::Error::last_os_error());
            }
            let cpus: Vec<usize> = (0..libc::CPU_SETSIZE as usize)
                .filter(|&cpu| libc::CPU_ISSET(cpu, &set))
                .collect();
            if cpus.is_empty() {
                return Err(io::Error::other("no CPU in the affinity mask"));
            }
            Ok(cpus)
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        Err(io::ErrorKind::Unsupported.into())
    }
}

/// Pins the calling thread (not the process) to `cpu`.
pub fn pin_current(cpu: usize) -> io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        if cpu >= libc::CPU_SETSIZE as usize {
            return Err(io::ErrorKind::InvalidInput.into());
        }
        // SAFETY: as above; pid 0 is the calling thread.
        unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            libc::CPU_SET(cpu, &mut set);
            if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(())
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = cpu;
        Err(io::ErrorKind::Unsupported.into())
    }
}

#[cfg(all(test, target_os = "linux"))]
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
}
