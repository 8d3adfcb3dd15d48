//! Helpers shared by the integration tests: start echod as a child process
//! on port 0, talk to it over real loopback sockets, look at its process.
//!
//! What reads `/proc` (RSS, CPU ticks, descriptor counts) is Linux only,
//! and so are the tests that use it; `/proc/net/tcp` readers answer
//! `None` elsewhere.
//!
//! Everything here is bounded in time: sockets get timeouts, waits take a
//! limit, and a `Server` is killed when dropped.
#![allow(dead_code)] // each test binary uses a different subset

pub mod non_reader;
mod per_model;
#[cfg(target_os = "linux")]
mod seccomp;
mod unix;

pub(crate) use per_model::per_model;
#[cfg(target_os = "linux")]
pub use seccomp::deny_io_uring;
pub use unix::{socket_path, unix_connect, unix_ping, SocketPath};

use std::io::{BufRead, BufReader, ErrorKind, Lines, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use echod::{listen::parse_announced, ListenAddr};
use socket2::{Domain, Socket, Type};

/// Generous: the CI machine is shared and has 2 cores.
pub const IO_TIMEOUT: Duration = Duration::from_secs(20);

/// Every model of the default build, the reactor first; `uring` on Linux.
pub const MODELS: &[&str] = &[
    "reactor",
    "threads",
    "iterative",
    "tokio",
    #[cfg(target_os = "linux")]
    "uring",
];

/// [`MODELS`] but the reactor: the ones that refuse its own flags.
pub fn other_models() -> impl Iterator<Item = &'static str> {
    MODELS.iter().copied().filter(|&m| m != "reactor")
}

/// A running echod child. Killed (SIGKILL) on drop if still alive.
pub struct Server {
    child: Child,
    addrs: Vec<SocketAddr>,
    paths: Vec<PathBuf>,
}

impl Server {
    /// Starts echod with `args`, adding `--listen 127.0.0.1:0` unless the
    /// args name a listener, and waits for its `listening on` lines
    /// (`tcp://` or `udp://`: [`addrs`](Self::addrs) keeps only the address,
    /// in `--listen` order; `unix://`: [`paths`](Self::paths)).
    pub fn start(args: &[&str]) -> Server {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_echod"));
        cmd.args(args);
        if !args.contains(&"--listen") {
            cmd.args(["--listen", "127.0.0.1:0"]);
        }
        let listeners = args.iter().filter(|a| **a == "--listen").count().max(1);
        Server::spawn(cmd, listeners)
    }

    /// Starts `spec`: a model name, optionally followed by flags
    /// (`"reactor --splice always"`), as `--model` and those flags.
    pub fn model(spec: &str) -> Server {
        let mut args = vec!["--model"];
        args.extend(spec.split_whitespace());
        Server::start(&args)
    }

    /// Starts a prepared command (e.g. with `pre_exec` limits) that prints
    /// `listeners` listening lines.
    pub fn spawn(cmd: Command, listeners: usize) -> Server {
        Server::spawn_with_stderr(cmd, listeners, Stdio::piped())
    }

    /// [`spawn`](Self::spawn) with stderr going to `stderr` (a terminal,
    /// say) instead of a pipe: [`stderr`](Self::stderr) then reads
    /// nothing.
    pub fn spawn_with_stderr(mut cmd: Command, listeners: usize, stderr: Stdio) -> Server {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr);
        let mut child = cmd.spawn().expect("spawn echod");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            let (mut addrs, mut paths) = (Vec::new(), Vec::new());
            while addrs.len() + paths.len() < listeners {
                match lines.next() {
                    Some(Ok(line)) => match parse_announced(&line) {
                        Some(ListenAddr::Tcp(addr) | ListenAddr::Udp(addr)) => addrs.push(addr),
                        Some(ListenAddr::Unix(path)) => paths.push(path),
                        None => panic!("unexpected stdout line: {line:?}"),
                    },
                    _ => break,
                }
            }
            let _ = tx.send((addrs, paths));
            // Keep draining so the child never blocks on a full pipe.
            for _ in lines {}
        });
        let (addrs, paths) = rx.recv_timeout(IO_TIMEOUT).unwrap_or_default();
        if addrs.len() + paths.len() < listeners {
            let _ = child.kill();
            let out = child.wait_with_output().expect("wait");
            panic!(
                "echod did not start: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Server {
            child,
            addrs,
            paths,
        }
    }

    /// The first listener's address.
    pub fn addr(&self) -> SocketAddr {
        self.addrs[0]
    }

    /// Every listener's address, in `--listen` order.
    pub fn addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    /// Every `unix:` listener's path, in `--listen` order.
    pub fn paths(&self) -> &[PathBuf] {
        &self.paths
    }

    /// The child's pid.
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Sends `sig` to the child.
    pub fn signal(&self, sig: i32) {
        // SAFETY: plain kill(2) on our own child.
        let rc = unsafe { libc::kill(self.pid(), sig) };
        assert_eq!(rc, 0, "kill({}, {sig})", self.pid());
    }

    /// Waits up to `limit` for the child to exit.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        wait_child(&mut self.child, limit)
    }

    /// Stops the child with SIGTERM, fails unless it exits 0 within
    /// [`IO_TIMEOUT`], and returns everything it wrote to stderr.
    pub fn stop(&mut self) -> String {
        self.signal(libc::SIGTERM);
        let status = self.wait_exit(IO_TIMEOUT);
        let stderr = self.stderr();
        assert_eq!(status.and_then(|s| s.code()), Some(0), "{stderr}");
        stderr
    }

    /// True while the child has not exited.
    pub fn alive(&mut self) -> bool {
        self.child.try_wait().expect("try_wait").is_none()
    }

    /// The child's stderr, line by line as it is written, from a reader
    /// thread: for a test that must see a log line before it goes on. After
    /// this, [`stderr`](Self::stderr) returns nothing. The start, drain
    /// and stop lines every run prints are left out (tests/it/logs.rs checks
    /// them).
    pub fn stderr_lines(&mut self) -> mpsc::Receiver<String> {
        self.stderr_lines_but(&[
            "echod: started: ",
            "echod: stopped after ",
            "echod: SIGTERM: draining ",
            "echod: SIGINT: draining ",
        ])
    }

    /// [`stderr_lines`](Self::stderr_lines), every one of them.
    pub fn stderr_every_line(&mut self) -> mpsc::Receiver<String> {
        self.stderr_lines_but(&[])
    }

    fn stderr_lines_but(&mut self, skipped: &'static [&'static str]) -> mpsc::Receiver<String> {
        let stderr = self.child.stderr.take().expect("stderr not taken yet");
        lines_of(stderr, skipped)
    }

    /// Everything the child wrote to stderr (call after it exited).
    pub fn stderr(&mut self) -> String {
        let mut s = String::new();
        if let Some(mut e) = self.child.stderr.take() {
            let _ = e.read_to_string(&mut s);
        }
        s
    }

    /// Resident set size in KiB, from /proc.
    #[cfg(target_os = "linux")] // reads /proc
    pub fn rss_kib(&self) -> u64 {
        proc_status_kib(self.pid(), "VmRSS:")
    }

    /// Peak resident set size in KiB, from /proc.
    #[cfg(target_os = "linux")] // reads /proc
    pub fn peak_rss_kib(&self) -> u64 {
        proc_status_kib(self.pid(), "VmHWM:")
    }

    /// Stops the child (SIGSTOP) and waits until every one of its threads
    /// is stopped: `kill` returns before they are, and a thread woken by
    /// the signal may still take input that arrives meanwhile.
    #[cfg(target_os = "linux")] // reads /proc
    pub fn freeze(&self) {
        self.signal(libc::SIGSTOP);
        let stopped = || {
            std::fs::read_dir(format!("/proc/{}/task", self.pid()))
                .expect("task list")
                .flatten()
                .all(|t| {
                    std::fs::read_to_string(t.path().join("stat")).is_ok_and(|stat| {
                        stat[stat.rfind(')').expect("comm") + 2..].starts_with('T')
                    })
                })
        };
        assert!(
            wait_until(IO_TIMEOUT, stopped),
            "echod's threads did not all stop"
        );
    }

    /// User + system CPU time consumed so far, in clock ticks.
    #[cfg(target_os = "linux")] // reads /proc
    pub fn cpu_ticks(&self) -> u64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).expect("stat");
        // Fields after the parenthesised command name; utime and stime are
        // fields 14 and 15 of the whole line.
        let rest = &stat[stat.rfind(')').expect("comm") + 2..];
        let f: Vec<&str> = rest.split_whitespace().collect();
        f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
    }

    /// Open descriptors of the child. Linux only: `/dev/fd` elsewhere
    /// lists the caller's own descriptors, not another process's.
    #[cfg(target_os = "linux")] // reads /proc
    pub fn fd_count(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid()))
            .map(|d| d.count())
            .unwrap_or(0)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts echod with `args` exactly as given (no listener added), stderr
/// discarded, and returns it with its stdout line by line: for a test that
/// must see every line itself. [`Server`] is the usual way to start one.
pub fn stdout_lines(args: &[&str]) -> (Child, Lines<BufReader<ChildStdout>>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_echod"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn echod");
    let stdout = child.stdout.take().expect("piped stdout");
    (child, BufReader::new(stdout).lines())
}

/// The lines of `pipe` as they are written, from a reader thread, but
/// those that start with one of `skipped`.
pub fn lines_of(
    pipe: impl Read + Send + 'static,
    skipped: &'static [&'static str],
) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { break };
            if skipped.iter().any(|s| line.starts_with(s)) {
                continue;
            }
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Does `n` ping-pongs on a fresh connection to `addr`; returns the
/// slowest round trip.
pub fn slowest_of_pings(addr: SocketAddr, n: usize) -> Duration {
    let mut pinger = connect(addr);
    let mut worst = Duration::ZERO;
    for i in 0..n {
        let t = Instant::now();
        ping(&mut pinger, format!("ping {i:03}").as_bytes());
        worst = worst.max(t.elapsed());
    }
    worst
}

/// Raises this process's soft RLIMIT_NOFILE as far as it goes and fails
/// unless `need` descriptors fit: thousands of client sockets do not fit
/// in the usual 1024.
pub fn raise_fd_limit(need: u64) {
    let cur = echod::net::raise_fd_limit();
    assert!(
        cur >= need,
        "RLIMIT_NOFILE limit {cur} is below the {need} descriptors this test needs"
    );
}

/// True when this machine can bind IPv6 loopback; otherwise says that
/// `part` (a test, or the IPv6 part of one) is [`skipped`].
pub fn ipv6_or_skip(part: &str) -> bool {
    let ok = std::net::TcpListener::bind("[::1]:0").is_ok();
    if !ok {
        skipped(part, "this machine cannot bind IPv6 loopback");
    }
    ok
}

/// Says on stderr that `test` (or the part of it named) did not run here
/// and why, in one line CI logs and `--nocapture` show: a skip that says
/// nothing looks like a pass.
pub fn skipped(test: &str, why: &str) {
    eprintln!("SKIPPED {test}: {why}");
}

/// What one finished run of the binary left behind.
pub struct Run {
    /// How it exited.
    pub status: ExitStatus,
    /// Everything it wrote to stdout.
    pub stdout: String,
    /// Everything it wrote to stderr.
    pub stderr: String,
}

/// Runs echod with `args` to completion, bounded in time: a run that does
/// not exit (say, because bad input was accepted and it started serving)
/// is killed and fails the test. `Server` is for a daemon that starts;
/// these runs are expected to end.
pub fn run(args: &[&str]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_echod"));
    cmd.args(args);
    run_command(cmd)
}

/// [`run`] for a prepared command (environment, inherited descriptors).
pub fn run_command(mut cmd: Command) -> Run {
    let args = cmd
        .get_args()
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn echod");
    // Drain both pipes on threads so a chatty child can never block.
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out = thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let err = thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let status = wait_child(&mut child, IO_TIMEOUT).unwrap_or_else(|| {
        let _ = child.kill();
        let _ = child.wait();
        panic!("echod {args:?} did not exit within {IO_TIMEOUT:?}");
    });
    Run {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

/// The usage-error contract: status 2, silence on stdout, one stderr line
/// starting `echod: ` that contains `needle` (the flag or address), and no
/// panic.
pub fn assert_usage_error(args: &[&str], needle: &str) {
    assert_one_error_line(args, &[needle]);
}

/// [`assert_usage_error`] for a line that must contain every one of
/// `needles` (an address and what went wrong with it, say).
pub fn assert_one_error_line(args: &[&str], needles: &[&str]) {
    let r = run(args);
    assert_eq!(
        r.status.code(),
        Some(2),
        "{args:?}: status, stderr {:?}",
        r.stderr
    );
    assert_eq!(r.stdout, "", "{args:?}: stdout must stay empty");
    let lines: Vec<&str> = r.stderr.lines().collect();
    assert_eq!(
        lines.len(),
        1,
        "{args:?}: want one stderr line, got {:?}",
        r.stderr
    );
    assert!(
        lines[0].starts_with("echod: "),
        "{args:?}: line lacks the `echod: ` prefix: {:?}",
        lines[0]
    );
    for needle in needles {
        assert!(
            lines[0].contains(needle),
            "{args:?}: line does not name {needle:?}: {:?}",
            lines[0]
        );
    }
    assert!(
        !r.stderr.contains("panicked"),
        "{args:?}: panicked: {:?}",
        r.stderr
    );
}

#[cfg(target_os = "linux")] // reads /proc
fn proc_status_kib(pid: i32, key: &str) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    s.lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{key} not in /proc/{pid}/status"))
}

/// Waits for `server` to exit within `within` and checks its status
/// code; returns how long it took. `what` names the case in messages.
pub fn assert_exits(server: &mut Server, within: Duration, code: i32, what: &str) -> Duration {
    let t = Instant::now();
    let status = server
        .wait_exit(within)
        .unwrap_or_else(|| panic!("{what}: still running after {within:?}"));
    assert_eq!(status.code(), Some(code), "{what}: exit status {status:?}");
    t.elapsed()
}

/// The stop line in `stderr` (`echod: stopped after ...`), which must
/// hold exactly one; `what` names the case in messages.
pub fn stop_line(stderr: &str, what: &str) -> String {
    let stops: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("echod: stopped after "))
        .collect();
    assert_eq!(stops.len(), 1, "{what}: want one stop line: {stderr:?}");
    stops[0].to_string()
}

/// Stops `server` with SIGTERM, expects exit 0, and returns its stop line.
pub fn sigterm_stop_line(server: &mut Server, what: &str) -> String {
    server.signal(libc::SIGTERM);
    assert_exits(server, IO_TIMEOUT, 0, what);
    stop_line(&server.stderr(), what)
}

/// Polls `cond` every 10 ms until it holds or `limit` passes; for process
/// state (exit, RSS, fd count) that no socket event announces.
pub fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// Waits up to `limit` for `child` to exit, polled as [`wait_until`] does:
/// no event announces a child's exit here.
pub fn wait_child(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let mut status = None;
    wait_until(limit, || {
        status = child.try_wait().expect("try_wait");
        status.is_some()
    });
    status
}

/// A connected client with read and write timeouts, so no test hangs.
pub fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect_timeout(&addr, IO_TIMEOUT)
        .unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    s.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
    s
}

/// A client whose kernel buffers are set *before* connecting (the receive
/// window is fixed at the handshake); small ones force partial writes.
pub fn connect_small(addr: SocketAddr, sndbuf: usize, rcvbuf: usize) -> TcpStream {
    let sock = Socket::new(Domain::for_address(addr), Type::STREAM, None).unwrap();
    sock.set_send_buffer_size(sndbuf).unwrap();
    sock.set_recv_buffer_size(rcvbuf).unwrap();
    sock.connect_timeout(&addr.into(), IO_TIMEOUT)
        .unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    let s: TcpStream = sock.into();
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    s.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
    s
}

/// Makes `close` send RST instead of FIN.
pub fn set_linger_zero(s: &TcpStream) {
    socket2::SockRef::from(s)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
}

/// Deterministic, non-repeating test bytes.
pub fn pattern(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            // xorshift64*
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 56) as u8
        })
        .collect()
}

/// A seed for [`pattern`] that differs from one `--model` spec to another,
/// so tests run per model do not all send the same bytes.
pub fn seed_of(spec: &str) -> u64 {
    spec.bytes()
        .fold(1, |h: u64, b| h.wrapping_mul(31) ^ u64::from(b))
}

/// Reads exactly `n` bytes (or fails on timeout/EOF).
pub fn read_n(s: &mut TcpStream, n: usize) -> std::io::Result<Vec<u8>> {
    let mut buf = vec![0; n];
    s.read_exact(&mut buf)?;
    Ok(buf)
}

/// Reads until EOF; errors (timeout, reset) are returned.
pub fn read_to_eof(s: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    s.read_to_end(&mut out)?;
    Ok(out)
}

/// Sends `data` from a writer thread in `chunk`-sized writes, then shuts
/// the write side; reads everything back until EOF on this thread.
/// Returns what came back.
pub fn echo_all(s: TcpStream, data: Vec<u8>, chunk: usize) -> Vec<u8> {
    let mut w = s.try_clone().unwrap();
    let writer = thread::spawn(move || {
        for c in data.chunks(chunk.max(1)) {
            w.write_all(c).expect("write");
        }
        w.shutdown(Shutdown::Write).expect("shutdown");
    });
    let mut r = s;
    let got = read_to_eof(&mut r).expect("read echo");
    writer.join().expect("writer");
    got
}

/// One request, one full reply, on an open connection.
pub fn ping(s: &mut TcpStream, msg: &[u8]) {
    s.write_all(msg).expect("write");
    let got = read_n(s, msg.len()).expect("read reply");
    assert_eq!(got, msg, "echo differs");
}

/// State, send and receive queue of IPv4 TCP socket `local -> remote` in /proc/net/tcp, if any.
/// Always `None` off Linux (no /proc/net/tcp): a test that must see the
/// queues is `#[cfg(target_os = "linux")]`.
pub fn tcp_socket(local: SocketAddr, remote: SocketAddr) -> Option<(u8, u64, u64)> {
    let hex = |a: SocketAddr| match a {
        SocketAddr::V4(v4) => format!(
            "{:08X}:{:04X}",
            u32::from_ne_bytes(v4.ip().octets()),
            v4.port()
        ),
        SocketAddr::V6(_) => unreachable!("IPv4 only"),
    };
    let (local, remote) = (hex(local), hex(remote));
    let table = std::fs::read_to_string("/proc/net/tcp").ok()?;
    table.lines().skip(1).find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 5 || f[1] != local || f[2] != remote {
            return None;
        }
        let (tx, rx) = f[4].split_once(':')?;
        Some((
            u8::from_str_radix(f[3], 16).ok()?,
            u64::from_str_radix(tx, 16).ok()?,
            u64::from_str_radix(rx, 16).ok()?,
        ))
    })
}

/// Send and receive queues of IPv4 TCP socket `local -> remote`: [`tcp_socket`] without the state.
pub fn tcp_queues(local: SocketAddr, remote: SocketAddr) -> Option<(u64, u64)> {
    tcp_socket(local, remote).map(|(_, tx, rx)| (tx, rx))
}

/// More than a send buffer autotunes to: max `tcp_wmem` (else 4 MiB), at most `cap`, + `margin`.
/// Off Linux the 4 MiB guess stands in for `tcp_wmem`.
pub fn overflowing_size(cap: usize, margin: usize) -> usize {
    let max = std::fs::read_to_string("/proc/sys/net/ipv4/tcp_wmem")
        .ok()
        .and_then(|s| s.split_whitespace().nth(2)?.parse::<usize>().ok())
        .unwrap_or(4 << 20);
    max.min(cap) + margin
}

/// [`connect_small`] with a `sndbuf` send and a 4 KiB receive buffer: pushes fast, takes in little.
pub fn connect_non_reader(addr: SocketAddr, sndbuf: usize) -> TcpStream {
    connect_small(addr, sndbuf, 4096)
}

/// How a request on a connection ended, from the client's point of view.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The echo came back: the connection is served.
    Echoed,
    /// The server closed it (EOF or reset) without echoing anything.
    Closed,
    /// Neither within the read timeout (e.g. still queued).
    Silent,
}

/// Sends `msg`, awaits its echo up to `timeout` (then back to [`IO_TIMEOUT`]), says what came.
pub fn probe(s: &mut TcpStream, msg: &[u8], timeout: Duration) -> Outcome {
    let closed = |k: ErrorKind| {
        matches!(
            k,
            ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted | ErrorKind::BrokenPipe
        )
    };
    if let Err(e) = s.write_all(msg) {
        assert!(closed(e.kind()), "write: {e}");
        return Outcome::Closed;
    }
    s.set_read_timeout(Some(timeout)).unwrap();
    let outcome = await_echo(s, msg, closed);
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    outcome
}

/// Reads until `msg` is echoed (`Echoed`), EOF or `closed` error (`Closed`), or timeout (`Silent`).
pub fn await_echo(s: &mut TcpStream, msg: &[u8], closed: impl Fn(ErrorKind) -> bool) -> Outcome {
    let mut got = Vec::new();
    let mut buf = [0u8; 256];
    while got.len() < msg.len() {
        match s.read(&mut buf) {
            Ok(0) if got.is_empty() => return Outcome::Closed,
            Ok(0) => panic!("EOF after a partial echo {got:?}"),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if closed(e.kind()) && got.is_empty() => return Outcome::Closed,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                assert!(got.is_empty(), "partial echo {got:?}, then silence");
                return Outcome::Silent;
            }
            Err(e) => panic!("read: {e}"),
        }
    }
    assert_eq!(got, msg, "echo differs");
    Outcome::Echoed
}

/// How many descriptors each epoll instance of `pid` watches, one entry
/// per instance (a reactor's `Poll`), from the `tfd:` lines of
/// /proc/PID/fdinfo. Tells which reactor holds a connection when they
/// all share one listening socket.
#[cfg(target_os = "linux")]
pub fn epoll_loads(pid: i32) -> Vec<usize> {
    let mut loads = Vec::new();
    for entry in std::fs::read_dir(format!("/proc/{pid}/fd")).expect("fd dir") {
        let Ok(entry) = entry else { continue };
        let is_epoll = std::fs::read_link(entry.path())
            .is_ok_and(|t| t.to_string_lossy() == "anon_inode:[eventpoll]");
        if !is_epoll {
            continue;
        }
        let name = entry.file_name();
        let info =
            std::fs::read_to_string(format!("/proc/{pid}/fdinfo/{}", name.to_string_lossy()))
                .unwrap_or_default();
        loads.push(info.lines().filter(|l| l.starts_with("tfd:")).count());
    }
    loads
}
