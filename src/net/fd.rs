//! The process's descriptor limit (RLIMIT_NOFILE): every connection costs
//! a descriptor, on the daemon's side and on a load generator's.

/// Raises the soft RLIMIT_NOFILE to the hard limit, as most daemons do: the
/// soft default (often 1024) is far below what the hard limit allows.
/// Returns the soft limit now in force, so a caller that needs a number
/// of descriptors can check it got them. Failure is harmless: the limit
/// stays as it was (and is returned), and EMFILE is handled when it comes.
pub fn raise_fd_limit() -> u64 {
    let Some(mut lim) = get() else {
        return 0;
    };
    #[allow(unused_mut)]
    let mut want = lim.rlim_max;
    // macOS refuses values above OPEN_MAX (10240) even when the hard
    // limit is "unlimited".
    #[cfg(target_os = "macos")]
    {
        want = want.min(10240);
    }
    if want > lim.rlim_cur {
        lim.rlim_cur = want;
        // SAFETY: setrlimit only reads the struct we pass.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) } != 0 {
            return fd_limit();
        }
    }
    #[allow(clippy::unnecessary_cast)] // rlim_t is not u64 everywhere
    let cur = lim.rlim_cur as u64;
    cur
}

/// The current soft RLIMIT_NOFILE, for log messages; 0 if unknown.
pub fn fd_limit() -> u64 {
    #[allow(clippy::unnecessary_cast)] // rlim_t is not u64 everywhere
    get().map_or(0, |lim| lim.rlim_cur as u64)
}

fn get() -> Option<libc::rlimit> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit only writes the struct we pass.
    (unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } == 0).then_some(lim)
}
