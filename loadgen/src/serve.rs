//! echod, in this binary and as a child process.
//!
//! `loadgen serve -- ARGS` runs `echod::cli::run` with ARGS, so `compare`
//! and the tests need no separately built echod binary: they start
//! `current_exe() serve -- --model M --listen 127.0.0.1:0` and learn the port
//! from the `listening on tcp://ADDR` line echod prints
//! (`echod::listen::parse_announced`).
//!
//! `compare --server` runs other servers the same way ([`external`]).

use std::ffi::OsString;
use std::io::{self, BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdin, Command, ExitCode, ExitStatus, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use echod::listen::parse_announced;
use echod::ListenAddr;

use crate::procstat::{self, Memory};

pub mod external;

/// In a server child's environment when it is to die with its stdin
/// ([`die_when_stdin_closes`]).
pub const DIE_WITH_STDIN: &str = "LOADGEN_SERVE_DIES_WITH_STDIN";

/// True where the OS has no parent-death signal for [`die_with_parent`]
/// to arm (macOS): server children then watch a pipe from us instead.
const WATCH_PIPE: bool = !cfg!(any(target_os = "linux", target_os = "freebsd"));

/// Runs echod in this process with `args` (not including a program name)
/// until it is signalled; returns its exit status. With [`DIE_WITH_STDIN`]
/// in the environment it also dies when its stdin closes.
pub fn serve(args: Vec<OsString>) -> ExitCode {
    if std::env::var_os(DIE_WITH_STDIN).is_some() {
        die_when_stdin_closes();
    }
    echod::cli::run(std::iter::once(OsString::from("echod")).chain(args))
}

/// A parent-death signal made of a pipe: the parent holds the only write
/// end of our stdin, and the kernel closes it when the parent dies, however
/// it dies, so a read here then sees end-of-file. We SIGKILL ourselves, as
/// the kernel would with `PR_SET_PDEATHSIG`. Costs one thread blocked in
/// `read`.
fn die_when_stdin_closes() {
    std::thread::spawn(|| {
        let mut stdin = io::stdin();
        let mut buf = [0u8; 64];
        loop {
            match stdin.read(&mut buf) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        // SAFETY: kill(2) on our own pid.
        unsafe { libc::kill(libc::getpid(), libc::SIGKILL) };
    });
}

/// Makes the kernel kill this (child) process when `parent` dies, however
/// it dies: a supervisor's `kill PID`, a second Ctrl-C, SIGKILL, a crash.
/// Without it a `compare` killed mid-sweep would leave its server
/// listening. Call between fork and exec.
///
/// Linux has `PR_SET_PDEATHSIG` and FreeBSD `PROC_PDEATHSIG_CTL`. macOS has
/// no parent-death signal: see [`die_with_parent`]'s version there.
#[cfg(any(target_os = "linux", target_os = "freebsd"))]
fn die_with_parent(parent: libc::pid_t) -> io::Result<()> {
    set_parent_death_signal(libc::SIGKILL)?;
    // The parent may have died before that: then no signal will come.
    // SAFETY: getppid and _exit have no preconditions.
    if unsafe { libc::getppid() } != parent {
        unsafe { libc::_exit(1) };
    }
    Ok(())
}

#[cfg(target_os = "linux")]
fn set_parent_death_signal(signal: libc::c_int) -> io::Result<()> {
    // SAFETY: prctl with PR_SET_PDEATHSIG takes a signal number; no memory.
    if unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, signal) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(target_os = "freebsd")]
fn set_parent_death_signal(mut signal: libc::c_int) -> io::Result<()> {
    // SAFETY: PROC_PDEATHSIG_CTL reads one int; id 0 is the calling process.
    let rc = unsafe {
        libc::procctl(
            libc::P_PID,
            0,
            libc::PROC_PDEATHSIG_CTL,
            (&mut signal as *mut libc::c_int).cast(),
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Without a parent-death signal (macOS) nothing can be armed here; the
/// child watches its stdin instead ([`die_when_stdin_closes`]), which ends
/// it just as well when loadgen is SIGKILLed, crashes, or `_exit`s on a
/// second Ctrl-C. Only if loadgen is stopped (SIGSTOP) does the server wait
/// with it, as it would on Linux.
#[cfg(not(any(target_os = "linux", target_os = "freebsd")))]
fn die_with_parent(_parent: libc::pid_t) -> io::Result<()> {
    Ok(())
}

/// How long a child gets to print its listening line.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(10);

/// A running echod child process, killed on drop if still alive.
#[derive(Debug)]
pub struct ServerProcess {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
    stderr: Arc<Mutex<String>>,
    /// The write end of the child's stdin where it watches that for our
    /// death ([`WATCH_PIPE`]): held, never written, closed by the kernel
    /// when we die.
    _lifeline: Option<ChildStdin>,
    /// True for a command that may have started processes of its own
    /// ([`external`]): signals go to its whole process group, so no
    /// grandchild outlives it holding the port.
    group: bool,
}

/// How a server child ended.
#[derive(Clone, Copy, Debug)]
pub struct Stopped {
    /// Its exit status.
    pub status: ExitStatus,
    /// True when it ignored SIGTERM and had to be killed.
    pub killed: bool,
}

/// Why a server child is not serving.
#[derive(Debug)]
pub enum SpawnError {
    /// It could not be created, or it exited before announcing an address:
    /// this model does not run here (echod refuses a model this machine
    /// cannot run with one line on stderr and exit status 2, before it
    /// listens). `reason` is that line without echod's `echod: ` prefix,
    /// or how the child ended when it wrote nothing.
    NotStarted {
        /// The model asked for.
        model: String,
        /// Why, in one line.
        reason: String,
    },
    /// A `--server` command did not start listening ([`external`]).
    External {
        /// Its `--server` name.
        name: String,
        /// Why, in one line naming the address.
        reason: String,
    },
    /// It is running but announced no address within the startup timeout.
    Silent {
        /// The model asked for.
        model: String,
        /// What it wrote to stderr.
        stderr: String,
    },
}

impl std::fmt::Display for SpawnError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SpawnError::NotStarted { model, reason } => {
                write!(f, "echod --model {model} did not start: {reason}")
            }
            SpawnError::External { name, reason } => write!(f, "--server {name}: {reason}"),
            SpawnError::Silent { model, stderr } => write!(
                f,
                "echod --model {model} did not report a listening address within {:?}: {}",
                STARTUP_TIMEOUT,
                stderr.trim()
            ),
        }
    }
}

impl std::error::Error for SpawnError {}

/// echod's reason for not starting, in one line: the first line it wrote to
/// `stderr` without the `echod: ` prefix, or else how it ended (`status`).
fn not_started_reason(stderr: &str, status: Option<ExitStatus>) -> String {
    match stderr.lines().map(str::trim).find(|l| !l.is_empty()) {
        Some(line) => line.strip_prefix("echod: ").unwrap_or(line).to_string(),
        None => match status {
            Some(s) => format!("exited ({s}) before listening, saying nothing"),
            None => "closed its output before listening, saying nothing".to_string(),
        },
    }
}

/// Arms a server child's `cmd` before it is spawned: its own process
/// group, so that a Ctrl-C typed at the terminal reaches loadgen alone,
/// which then ends the window, writes what it has and stops the server
/// itself, instead of the server starting to drain in the middle of a
/// measurement; killed when loadgen dies ([`die_with_parent`]); pinned to
/// `cpus` when given.
fn arm(cmd: &mut Command, cpus: Option<Vec<usize>>) {
    cmd.process_group(0);
    // SAFETY: the closure only makes raw syscalls (prctl or procctl,
    // getppid, sched_setaffinity or cpuset_setaffinity, _exit) on memory
    // set up before the fork: all async-signal-safe, as pre_exec requires.
    let parent = std::process::id() as libc::pid_t;
    unsafe {
        cmd.pre_exec(move || {
            die_with_parent(parent)?;
            match &cpus {
                Some(cpus) => crate::env::pin(cpus),
                None => Ok(()),
            }
        });
    }
}

/// Which 16 KiB of a server child's stderr [`drain_stderr`] keeps.
#[derive(Clone, Copy)]
enum Keep {
    /// The first: where echod says why it did not start.
    Start,
    /// The last (give or take 16 KiB more): where another server's
    /// complaint about failing to start is, after whatever it logged.
    End,
}

/// Reads `pipe` to its end, so that a chatty server never blocks on a
/// full pipe, keeping in `sink` the part of it that `keep` says.
fn drain_stderr(pipe: impl Read, sink: &Mutex<String>, keep: Keep) {
    let mut r = BufReader::new(pipe);
    let mut buf = [0u8; 4096];
    while let Ok(n) = r.read(&mut buf) {
        if n == 0 {
            break;
        }
        let mut s = sink.lock().unwrap_or_else(|p| p.into_inner());
        match keep {
            Keep::Start => {
                if s.len() < 16 * 1024 {
                    s.push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            }
            Keep::End => {
                s.push_str(&String::from_utf8_lossy(&buf[..n]));
                if s.len() > 32 * 1024 {
                    let cut = s.len() - 16 * 1024;
                    let cut = (cut..s.len()).find(|&i| s.is_char_boundary(i)).unwrap_or(0);
                    s.drain(..cut);
                }
            }
        }
    }
}

impl ServerProcess {
    /// Starts `echod --model MODEL --listen 127.0.0.1:0` as a child of this
    /// binary, pinned to `cpus` when given, and waits for its address.
    ///
    /// # Errors
    /// [`SpawnError::NotStarted`] when the child cannot be created or exits
    /// (or closes its stdout) before announcing an address;
    /// [`SpawnError::Silent`] when it prints no address within 10 s.
    pub fn spawn(model: &str, cpus: Option<Vec<usize>>) -> Result<ServerProcess, SpawnError> {
        let not_started = |e: io::Error| SpawnError::NotStarted {
            model: model.to_string(),
            reason: format!("cannot run loadgen serve: {e}"),
        };
        let exe = std::env::current_exe().map_err(not_started)?;
        let mut cmd = Command::new(exe);
        cmd.args(["serve", "--", "--model", model, "--listen", "127.0.0.1:0"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if WATCH_PIPE {
            cmd.stdin(Stdio::piped()).env(DIE_WITH_STDIN, "1");
        }
        arm(&mut cmd, cpus);
        let mut child = cmd.spawn().map_err(not_started)?;
        let lifeline = child.stdin.take();
        let stdout = child.stdout.take().expect("stdout is piped");
        let stderr_pipe = child.stderr.take().expect("stderr is piped");
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&stderr);
        // Disconnected once the whole of stderr has been read.
        let (stderr_done, stderr_read) = mpsc::channel::<()>();
        std::thread::spawn(move || {
            let _done = stderr_done;
            // echod's startup error is the start of what it writes.
            drain_stderr(stderr_pipe, &sink, Keep::Start);
        });
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if !sent {
                    if let Some(ListenAddr::Tcp(addr)) = parse_announced(&line) {
                        sent = tx.send(addr).is_ok();
                    }
                }
            }
        });
        let announced = rx.recv_timeout(STARTUP_TIMEOUT);
        let mut server = ServerProcess {
            child,
            addr: *announced
                .as_ref()
                .unwrap_or(&SocketAddr::from(([0, 0, 0, 0], 0))),
            stderr,
            _lifeline: lifeline,
            group: false,
        };
        let model = model.to_string();
        match announced {
            Ok(_) => Ok(server),
            // Its stdout closed unannounced: it exited (echod refusing the
            // model), so its stderr is complete once the reader is done.
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                let _ = server.child.kill();
                let status = server.child.wait().ok();
                let _ = stderr_read.recv_timeout(Duration::from_secs(2));
                let reason = not_started_reason(&server.stderr_text(), status);
                Err(SpawnError::NotStarted { model, reason })
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let _ = server.child.kill();
                let _ = server.child.wait();
                let stderr = server.stderr_text();
                Err(SpawnError::Silent { model, stderr })
            }
        }
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What the child has written to stderr so far (the first 16 KiB).
    pub fn stderr_text(&self) -> String {
        self.stderr
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The child's resident memory now.
    pub fn memory(&self) -> io::Result<Memory> {
        procstat::memory(self.pid())
    }

    /// Where signals go: the child, or its whole process group.
    fn signal(&self, signal: libc::c_int) {
        let pid = self.child.id() as libc::pid_t;
        // SAFETY: plain kill(2) on our own child's pid, or on the process
        // group it leads (it was started with process_group(0)).
        unsafe { libc::kill(if self.group { -pid } else { pid }, signal) };
    }

    /// Sends SIGTERM and waits up to `grace` for a clean exit, then kills.
    pub fn stop(mut self, grace: Duration) -> io::Result<Stopped> {
        self.signal(libc::SIGTERM);
        let deadline = Instant::now() + grace;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(Stopped {
                    status,
                    killed: false,
                });
            }
            if Instant::now() >= deadline {
                self.child.kill()?;
                let status = self.child.wait()?;
                return Ok(Stopped {
                    status,
                    killed: true,
                });
            }
            // Polling a child's exit: there is no readiness to wait on here
            // short of a SIGCHLD handler, and 10 ms is negligible next to `grace`.
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if self.group {
            // Whatever the command left behind in its group, alive or not.
            self.signal(libc::SIGKILL);
        }
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reason_is_echods_first_line_without_its_prefix() {
        let stderr = "\necho: ignored?\n";
        assert_eq!(not_started_reason(stderr, None), "echo: ignored?");
        let refused = "echod: --model uring: io_uring is blocked (io_uring_setup: \
                       Operation not permitted)\nmore\n";
        assert_eq!(
            not_started_reason(refused, None),
            "--model uring: io_uring is blocked (io_uring_setup: Operation not permitted)"
        );
        let silent = not_started_reason("  \n", None);
        assert!(silent.contains("saying nothing"), "{silent}");
    }
}
