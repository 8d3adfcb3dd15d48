//! A seccomp filter that denies `io_uring_setup`, as Docker's default
//! profile does: how the uring model's startup failure is tested on a
//! machine where io_uring works.

use std::os::unix::process::CommandExt;
use std::process::Command;

/// `AUDIT_ARCH_*` of this build (linux/audit.h; not in the libc crate):
/// the filter judges only system calls of this architecture, whose
/// numbers it knows.
#[cfg(target_arch = "x86_64")]
const AUDIT_ARCH: u32 = 0xC000_003E;
#[cfg(target_arch = "aarch64")]
const AUDIT_ARCH: u32 = 0xC000_00B7;

/// Offsets in `struct seccomp_data`: the system call number, then the
/// architecture.
const NR: u32 = 0;
const ARCH: u32 = 4;

/// One classic BPF instruction.
const fn insn(code: u32, jt: u8, jf: u8, k: u32) -> libc::sock_filter {
    libc::sock_filter {
        code: code as u16,
        jt,
        jf,
        k,
    }
}

/// Makes `cmd`'s child install, just before it execs, a seccomp filter
/// under which `io_uring_setup` fails with EPERM and every other system
/// call is allowed. Needs no privilege (`PR_SET_NO_NEW_PRIVS` first);
/// the spawn fails if the kernel refuses the filter.
pub fn deny_io_uring(cmd: &mut Command) {
    use libc::{BPF_ABS, BPF_JEQ, BPF_JMP, BPF_K, BPF_LD, BPF_RET, BPF_W};
    let filter = [
        insn(BPF_LD | BPF_W | BPF_ABS, 0, 0, ARCH),
        // Another architecture: not ours to judge (jump to ALLOW).
        insn(BPF_JMP | BPF_JEQ | BPF_K, 0, 3, AUDIT_ARCH),
        insn(BPF_LD | BPF_W | BPF_ABS, 0, 0, NR),
        insn(
            BPF_JMP | BPF_JEQ | BPF_K,
            0,
            1,
            libc::SYS_io_uring_setup as u32,
        ),
        insn(
            BPF_RET | BPF_K,
            0,
            0,
            libc::SECCOMP_RET_ERRNO | libc::EPERM as u32,
        ),
        insn(BPF_RET | BPF_K, 0, 0, libc::SECCOMP_RET_ALLOW),
    ];
    // SAFETY: between fork and exec the closure makes only prctl(2)
    // calls, which are async-signal-safe; `prog` points into the
    // closure's own copy of `filter`, alive for the calls.
    unsafe {
        cmd.pre_exec(move || {
            let prog = libc::sock_fprog {
                len: filter.len() as libc::c_ushort,
                filter: filter.as_ptr().cast_mut(),
            };
            if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0
                || libc::prctl(
                    libc::PR_SET_SECCOMP,
                    libc::SECCOMP_MODE_FILTER,
                    &prog as *const libc::sock_fprog,
                ) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}
