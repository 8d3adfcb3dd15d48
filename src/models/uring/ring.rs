//! Opening the ring, and saying in one line why it cannot be opened.
//!
//! io_uring can be missing in more ways than most syscalls: a kernel too
//! old for what the model uses, a kernel built without it, a sysctl that
//! turns it off (`kernel.io_uring_disabled`), a seccomp filter that denies
//! `io_uring_setup` (Docker's default profile does, with EPERM), or, on
//! kernels before 5.12 that charged rings to it, the locked-memory limit.
//! Each of those gets its own reason here, so that `--model uring` fails
//! at startup with the cause and not with a bare errno.

use std::io;

use io_uring::IoUring;

/// The oldest kernel with everything the model uses: multishot accept
/// and provided-buffer rings came in 5.19, multishot recv in 6.0.
pub const OLDEST: (u32, u32) = (6, 0);

/// Sets a builder's flags for one way of setting up the ring.
type Setup = fn(&mut io_uring::Builder);

/// Opens a ring with `entries` submission slots (and four times as many
/// completion slots: multishot requests post several completions each).
///
/// Asks for `SINGLE_ISSUER | DEFER_TASKRUN` (6.1: completions are made
/// only when this thread enters the kernel to wait for them, never by
/// interrupting it), then for `COOP_TASKRUN` (5.19), then for nothing, and
/// takes the first the kernel accepts. Returns the ring and the name of
/// the setup it got, or the reason there is none.
pub fn open(entries: u32) -> Result<(IoUring, &'static str), String> {
    if let Some((release, major, minor)) = kernel_release() {
        if (major, minor) < OLDEST {
            return Err(format!(
                "Linux {}.{} or later is needed (multishot recv and provided-buffer rings); \
                 this kernel is {release}",
                OLDEST.0, OLDEST.1
            ));
        }
    }
    let setups: [(&str, Setup); 3] = [
        ("single issuer, deferred task work", |b| {
            b.setup_single_issuer().setup_defer_taskrun();
        }),
        ("cooperative task work", |b| {
            b.setup_coop_taskrun();
        }),
        ("plain", |_| {}),
    ];
    let mut last = None;
    for (name, flags) in setups {
        let mut builder = IoUring::builder();
        flags(&mut builder);
        builder.setup_cqsize(entries * 4);
        match builder.build(entries) {
            Ok(ring) => return Ok((ring, name)),
            // A flag this kernel does not know: try with fewer.
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => last = Some(e),
            Err(e) => return Err(why_not(&e)),
        }
    }
    Err(why_not(&last.unwrap_or_else(|| {
        io::Error::from_raw_os_error(libc::EINVAL)
    })))
}

/// The reason `io_uring_setup` (or registering the buffer ring) failed
/// with `err`, in the operator's terms.
pub fn why_not(err: &io::Error) -> String {
    let code = err.raw_os_error().unwrap_or(0);
    let errno = errno_name(code);
    match code {
        libc::ENOSYS => format!(
            "io_uring is not in this kernel (io_uring_setup: {errno}): \
             it was built without CONFIG_IO_URING"
        ),
        libc::EPERM | libc::EACCES => match disabled_sysctl() {
            Some(2) => format!(
                "io_uring is disabled (io_uring_setup: {errno}): kernel.io_uring_disabled is 2"
            ),
            Some(1) => format!(
                "io_uring is restricted (io_uring_setup: {errno}): kernel.io_uring_disabled \
                 is 1 and this user is not in kernel.io_uring_group"
            ),
            _ => format!(
                "io_uring is blocked (io_uring_setup: {errno}): a seccomp filter denies it, \
                 as Docker's default profile does; allow io_uring_setup, or use another --model"
            ),
        },
        libc::ENOMEM => format!(
            "cannot set up io_uring ({errno}): the locked-memory limit (ulimit -l: {}) is \
             too small for the ring on this kernel",
            memlock_limit()
        ),
        libc::EINVAL => format!(
            "this kernel's io_uring lacks what the model needs ({errno}): Linux {}.{} or later",
            OLDEST.0, OLDEST.1
        ),
        _ => format!("cannot set up io_uring: {err}"),
    }
}

/// The symbolic name of the errors [`why_not`] explains, for an
/// operator who will search for it; the message for any other.
fn errno_name(code: i32) -> String {
    match code {
        libc::ENOSYS => "ENOSYS".into(),
        libc::EPERM => "EPERM".into(),
        libc::EACCES => "EACCES".into(),
        libc::ENOMEM => "ENOMEM".into(),
        libc::EINVAL => "EINVAL".into(),
        _ => io::Error::from_raw_os_error(code).to_string(),
    }
}

/// `kernel.io_uring_disabled` (Linux 6.6+): 0 allowed, 1 only for
/// `kernel.io_uring_group`, 2 for nobody; `None` where there is no such
/// setting.
fn disabled_sysctl() -> Option<u32> {
    std::fs::read_to_string("/proc/sys/kernel/io_uring_disabled")
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// RLIMIT_MEMLOCK's soft limit, for the message.
fn memlock_limit() -> String {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit through the pointer.
    if unsafe { libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut lim) } != 0 {
        return "unknown".into();
    }
    if lim.rlim_cur == libc::RLIM_INFINITY {
        "unlimited".into()
    } else {
        format!("{} KiB", lim.rlim_cur / 1024)
    }
}

/// The kernel's release string and its major and minor numbers.
fn kernel_release() -> Option<(String, u32, u32)> {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").ok()?;
    let release = release.trim().to_string();
    let mut parts = release.split(|c: char| !c.is_ascii_digit());
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((release, major, minor))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_cause_is_named() {
        let e = |n| why_not(&io::Error::from_raw_os_error(n));
        assert!(e(libc::ENOSYS).contains("CONFIG_IO_URING"));
        assert!(e(libc::ENOMEM).contains("ulimit -l"));
        assert!(e(libc::EINVAL).contains("Linux 6.0"));
        // EPERM names the sysctl or seccomp, whichever this machine has.
        let eperm = e(libc::EPERM);
        assert!(
            eperm.contains("io_uring_disabled") || eperm.contains("seccomp"),
            "{eperm}"
        );
    }

    #[test]
    fn this_kernel_has_a_release() {
        let (release, major, _) = kernel_release().expect("/proc/sys/kernel/osrelease");
        assert!(release.starts_with(&major.to_string()));
    }
}
