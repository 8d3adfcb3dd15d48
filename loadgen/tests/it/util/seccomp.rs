//! io_uring denied by a seccomp filter, as Docker's default profile does,
//! so that the tests see a machine where `echod --model uring` cannot run.

use std::os::unix::process::CommandExt;
use std::process::Command;

/// `seccomp_data.arch` of the syscalls this build makes.
#[cfg(target_arch = "x86_64")]
const AUDIT_ARCH: u32 = 0xC000_003E;
#[cfg(target_arch = "aarch64")]
const AUDIT_ARCH: u32 = 0xC000_00B7;

/// Offsets into `struct seccomp_data`, which the filter reads.
const NR: u32 = 0;
const ARCH: u32 = 4;

/// A classic BPF instruction.
const fn op(code: u32, jt: u8, jf: u8, k: u32) -> libc::sock_filter {
    libc::sock_filter {
        code: code as u16,
        jt,
        jf,
        k,
    }
}

/// Makes `cmd`'s process, and every process it starts, get EPERM from
/// `io_uring_setup(2)` (as under Docker's default seccomp profile); every
/// other syscall is allowed. Installed in the child before exec
/// (`PR_SET_NO_NEW_PRIVS`, then a `SECCOMP_MODE_FILTER` program); the
/// filter is inherited across fork and exec and cannot be lifted.
/// Syscalls of another architecture (32-bit compat) pass unfiltered: this
/// stages a blocked io_uring for a test, it is no sandbox.
pub fn deny_io_uring(cmd: &mut Command) {
    use libc::{
        BPF_ABS, BPF_JEQ, BPF_JMP, BPF_K, BPF_LD, BPF_RET, BPF_W, SECCOMP_RET_ALLOW,
        SECCOMP_RET_ERRNO,
    };
    let mut program = [
        op(BPF_LD | BPF_W | BPF_ABS, 0, 0, ARCH),
        op(BPF_JMP | BPF_JEQ | BPF_K, 1, 0, AUDIT_ARCH),
        op(BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ALLOW),
        op(BPF_LD | BPF_W | BPF_ABS, 0, 0, NR),
        op(
            BPF_JMP | BPF_JEQ | BPF_K,
            0,
            1,
            libc::SYS_io_uring_setup as u32,
        ),
        op(
            BPF_RET | BPF_K,
            0,
            0,
            SECCOMP_RET_ERRNO | libc::EPERM as u32,
        ),
        op(BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ALLOW),
    ];
    // SAFETY: between fork and exec the closure only makes two prctl calls
    // on the program moved into it before the fork: no allocation, no lock.
    unsafe {
        cmd.pre_exec(move || {
            let prog = libc::sock_fprog {
                len: program.len() as u16,
                filter: program.as_mut_ptr(),
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
