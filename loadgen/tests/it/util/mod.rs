//! Shared helpers for the integration tests: the `loadgen` binary with a time
//! limit, echod started through the hidden `serve` subcommand, and small echo
//! servers that misbehave on purpose.
//!
//! Every server here listens on 127.0.0.1 port 0 (or, for [`UnixEchod`], a
//! socket in a scratch directory) and is torn down on drop. UDP has its
//! own pair: [`UdpEchod`] and the misbehaving [`UdpTestServer`].
//! `deny_io_uring` (Linux) stages a machine where io_uring is blocked.

#![allow(dead_code)] // each test file uses a different subset

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use echod::{listen::parse_announced, ListenAddr};

// The filter names the syscall ABI: the architectures it knows.
#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
// echod's own, not a copy: one BPF program to get right.
#[path = "../../../../tests/it/util/seccomp.rs"]
mod seccomp;
#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
pub use seccomp::deny_io_uring;

pub const LOADGEN: &str = env!("CARGO_BIN_EXE_loadgen");

/// Runs `loadgen ARGS`, killing it if it has not finished within `limit`.
pub fn loadgen(args: &[&str], limit: Duration) -> Output {
    let child = loadgen_cmd(args).spawn().expect("spawn loadgen");
    wait_output(child, args, limit)
}

/// Runs `loadgen compare FLAGS --quiet --out DIR` within `limit` and
/// returns its stdout; fails, with its stdout and stderr, unless it exits 0.
pub fn compare_ok(dir: &std::path::Path, flags: &str, limit: Duration) -> String {
    let line = format!("compare {flags} --quiet --out {}", dir.display());
    let out = loadgen(&words(&line), limit);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}\n{}", stderr(&out));
    text
}

/// `loadgen ARGS` ready to spawn, with piped output, SIGINT at its default
/// disposition (a test harness started in the background may have it
/// ignored, which children inherit).
pub fn loadgen_cmd(args: &[&str]) -> Command {
    use std::os::unix::process::CommandExt;
    let mut cmd = Command::new(LOADGEN);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // SAFETY: signal(2) is async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            libc::signal(libc::SIGINT, libc::SIG_DFL);
            Ok(())
        });
    }
    cmd
}

/// Waits for `child`'s output, killing it if it has not finished in `limit`.
pub fn wait_output(child: Child, args: &[&str], limit: Duration) -> Output {
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(limit) {
        Ok(out) => out.expect("wait for loadgen"),
        Err(_) => {
            // SAFETY: kill(2) on our own child's pid.
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
            panic!("loadgen {args:?} did not finish within {limit:?}");
        }
    }
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Runs `loadgen check` against a stream `target` and expects all seven
/// checks to pass, none to fail, and exit 0.
pub fn passes_every_check(target: &str) {
    let out = loadgen(&["check", "--target", target], Duration::from_secs(90));
    let text = stdout(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("7/7 checks passed"), "{text}");
    assert!(!text.contains("FAIL"), "{text}");
}

/// Exit 2, one line on stderr containing `needle`, no panic, and quickly:
/// nothing was measured first.
pub fn refused(args: &[&str], needle: &str) {
    let start = Instant::now();
    let out = loadgen(args, Duration::from_secs(30));
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
    assert!(err.contains(needle), "{args:?}: {err}");
    assert!(!err.contains("panicked"), "{args:?}: {err}");
    took_under(
        start,
        Duration::from_secs(5),
        &format!("{args:?}: it measured before refusing"),
    );
}

/// Runs `loadgen check` against `target` with `--timeout TIMEOUT` and
/// expects it to fail (exit 1); returns its report.
pub fn fails_the_check(target: &str, timeout: &str) -> String {
    let out = loadgen(
        &["check", "--target", target, "--timeout", timeout],
        Duration::from_secs(60),
    );
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    text
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A fresh scratch directory for one test.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("loadgen-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub fn read_json(path: &std::path::Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// `loadgen run --target TARGET --json DIR/result.json EXTRA`, `DIR` the
/// scratch directory `name`, bounded by 30 s; returns its output and JSON
/// result, or fails naming its exit status and stderr if it wrote none.
pub fn run_json(target: &str, name: &str, extra: &[&str]) -> (Output, serde_json::Value) {
    let json = scratch(name).join("result.json");
    let mut args = vec!["run", "--target", target, "--json", json.to_str().unwrap()];
    args.extend_from_slice(extra);
    let out = loadgen(&args, Duration::from_secs(30));
    assert!(
        json.exists(),
        "no JSON written; exit {:?}: {}",
        out.status.code(),
        stderr(&out)
    );
    (out, read_json(&json))
}

/// [`run_json`] with `extra` as one line of flags and a scratch directory
/// of its own, failing unless the run exits with `code` (0 clean, 1 a
/// fault found).
pub fn run_exits(target: &str, extra: &str, code: i32) -> (Output, serde_json::Value) {
    static RUNS: AtomicU64 = AtomicU64::new(0);
    let name = format!("run-{}", RUNS.fetch_add(1, Ordering::Relaxed));
    let (out, v) = run_json(target, &name, &words(extra));
    assert_eq!(out.status.code(), Some(code), "{}", stderr(&out));
    (out, v)
}

/// `loadgen run --target TARGET EXTRA` (one line of flags), bounded by
/// 30 s: for a test that reads what the run prints.
pub fn run_text(target: &str, extra: &str) -> Output {
    let mut args = vec!["run", "--target", target];
    args.extend(words(extra));
    loadgen(&args, Duration::from_secs(30))
}

/// The number at `path` (keys joined by dots) in `v`; fails if missing.
pub fn number(v: &serde_json::Value, path: &str) -> f64 {
    path.split('.')
        .fold(v, |v, k| &v[k])
        .as_f64()
        .unwrap_or_else(|| panic!("{path} missing in {v}"))
}

/// `"--a 1 --b 2"` as the arguments `["--a", "1", "--b", "2"]`: a test's
/// flags read as one line, as they would be typed. Split on whitespace, so
/// only for values without spaces (scratch paths have none unless the
/// temporary directory's path does).
pub fn words(s: &str) -> Vec<&str> {
    s.split_whitespace().collect()
}

/// Fails unless less than `limit` has passed since `start`; `what` names
/// what took that long.
pub fn took_under(start: Instant, limit: Duration, what: &str) {
    let took = start.elapsed();
    assert!(
        took < limit,
        "{what}: took {took:?}, the limit is {limit:?}"
    );
}

/// echod, started as `loadgen serve -- --listen 127.0.0.1:0 ...`.
pub struct Echod {
    child: Served,
    pub addr: SocketAddr,
}

impl Echod {
    pub fn start(extra: &[&str]) -> Echod {
        let (child, addr) = spawn_serve("127.0.0.1:0", extra);
        let addr = addr.ip_addr().expect("a TCP listener");
        Echod { child, addr }
    }

    pub fn target(&self) -> String {
        self.addr.to_string()
    }

    /// The server's process id, for `--server-pid`.
    pub fn pid(&self) -> u32 {
        self.child.0.id()
    }
}

/// A `loadgen serve` child, killed on drop.
struct Served(Child);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `loadgen serve -- --listen LISTEN EXTRA` and returns it with the
/// listener its listening line names.
fn spawn_serve(listen: &str, extra: &[&str]) -> (Served, ListenAddr) {
    // stderr is inherited: what echod says shows in a failing test's output.
    let mut child = Command::new(LOADGEN)
        .args(["serve", "--", "--listen", listen])
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn loadgen serve");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    // Blocks until echod prints its address (or exits, ending stdout).
    let line = lines.next().expect("echod printed nothing").unwrap();
    let addr = parse_announced(&line).unwrap_or_else(|| panic!("unexpected: {line}"));
    // Keep draining stdout so echod never blocks on it.
    std::thread::spawn(move || for _ in lines {});
    (Served(child), addr)
}

/// echod on a Unix stream socket, started as
/// `loadgen serve -- --listen unix:PATH ...`.
pub struct UnixEchod {
    _child: Served,
    pub path: PathBuf,
}

impl UnixEchod {
    /// Listens on `echod.sock` in a fresh scratch directory named `name`.
    pub fn start(name: &str, extra: &[&str]) -> UnixEchod {
        let path = scratch(name).join("echod.sock");
        let (child, shown) = spawn_serve(&format!("unix:{}", path.display()), extra);
        assert_eq!(
            shown,
            ListenAddr::Unix(path.clone()),
            "echod listens elsewhere"
        );
        UnixEchod {
            _child: child,
            path,
        }
    }

    /// `unix:PATH`, as `--target` takes it.
    pub fn target(&self) -> String {
        format!("unix:{}", self.path.display())
    }
}

/// echod serving datagrams, started as
/// `loadgen serve -- --listen udp:127.0.0.1:0 ...`.
pub struct UdpEchod {
    _child: Served,
    pub addr: SocketAddr,
}

impl UdpEchod {
    pub fn start(extra: &[&str]) -> UdpEchod {
        let (child, addr) = spawn_serve("udp:127.0.0.1:0", extra);
        UdpEchod {
            _child: child,
            addr: addr.ip_addr().expect("a UDP listener"),
        }
    }

    /// `udp:ADDR`, as `--target` takes it.
    pub fn target(&self) -> String {
        format!("udp:{}", self.addr)
    }
}

/// How a [`UdpTestServer`] treats the datagrams it echoes. Counts run over
/// every datagram the server receives, from 1.
#[derive(Clone, Copy, Debug)]
pub enum UdpBehaviour {
    /// Drops every `every`-th datagram unanswered.
    Dropping { every: u64 },
    /// Flips one bit of every `every`-th datagram it echoes.
    Corrupting { every: u64 },
    /// Sends every reply twice.
    Duplicating,
}

/// A one-thread UDP echo server with a [`UdpBehaviour`].
pub struct UdpTestServer {
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
    received: Arc<AtomicU64>,
}

impl UdpTestServer {
    pub fn start(behaviour: UdpBehaviour) -> UdpTestServer {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        let server = UdpTestServer {
            addr: sock.local_addr().unwrap(),
            stop: Arc::default(),
            received: Arc::default(),
        };
        let (flag, count) = (Arc::clone(&server.stop), Arc::clone(&server.received));
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let Ok((n, from)) = sock.recv_from(&mut buf) else {
                    continue;
                };
                if flag.load(Ordering::SeqCst) {
                    return;
                }
                let k = count.fetch_add(1, Ordering::SeqCst) + 1;
                let d = &mut buf[..n];
                match behaviour {
                    UdpBehaviour::Dropping { every } if k % every == 0 => continue,
                    UdpBehaviour::Corrupting { every } if k % every == 0 && n > 0 => {
                        d[n / 2] ^= 0x01;
                    }
                    UdpBehaviour::Duplicating => {
                        let _ = sock.send_to(d, from);
                    }
                    _ => {}
                }
                let _ = sock.send_to(d, from);
            }
        });
        server
    }

    /// `udp:ADDR`, as `--target` takes it.
    pub fn target(&self) -> String {
        format!("udp:{}", self.addr)
    }

    /// Datagrams received so far.
    pub fn received(&self) -> u64 {
        self.received.load(Ordering::SeqCst)
    }
}

impl Drop for UdpTestServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the receive loop so it sees the flag.
        if let Ok(s) = UdpSocket::bind("127.0.0.1:0") {
            let _ = s.send_to(&[], self.addr);
        }
    }
}

/// How a test server treats the bytes it echoes.
#[derive(Clone, Copy, Debug)]
pub enum Behaviour {
    /// A correct echo server.
    Healthy,
    /// Flips one bit in every `every`-th byte it echoes.
    Corrupting { every: u64 },
    /// Flips one bit of byte `at` (from 0) of each connection's echo, and
    /// of no other.
    CorruptingOnce { at: u64 },
    /// Stops serving for `freeze` at the end of every `period`.
    Freezing { period: Duration, freeze: Duration },
    /// Echoes the first `limit` bytes of each connection, then closes it.
    Truncating { limit: u64 },
    /// Reads and discards everything; never replies, never closes.
    BlackHole,
    /// A correct echo server until `at` after it started; from then on it
    /// closes every connection at its next read, as a server that is
    /// stopped does.
    HangsUpAt { at: Duration },
    /// Answers the first bytes it reads with `reply` (not an echo, and
    /// shorter than a request), then reads and discards everything, never
    /// closing: a server of another protocol, like an HTTP server's error
    /// page.
    FixedReply { reply: &'static [u8] },
    /// A correct echo server that echoes at most `bytes_per_sec` per
    /// connection: slow, but never wrong and never stuck.
    Throttled { bytes_per_sec: u64 },
}

/// A thread-per-connection echo server with a [`Behaviour`].
pub struct TestServer {
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
    echoed: Arc<AtomicU64>,
    received: Arc<AtomicU64>,
}

impl TestServer {
    pub fn start(behaviour: Behaviour) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let echoed = Arc::new(AtomicU64::new(0));
        let count = Arc::clone(&echoed);
        let received = Arc::new(AtomicU64::new(0));
        let got = Arc::clone(&received);
        let epoch = Instant::now();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if flag.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let (count, got) = (Arc::clone(&count), Arc::clone(&got));
                std::thread::spawn(move || serve(conn, behaviour, epoch, &count, &got));
            }
        });
        TestServer {
            addr,
            stop,
            echoed,
            received,
        }
    }

    pub fn target(&self) -> String {
        self.addr.to_string()
    }

    /// Bytes echoed so far, over all connections.
    pub fn echoed(&self) -> u64 {
        self.echoed.load(Ordering::SeqCst)
    }

    /// Bytes received so far, over all connections.
    pub fn received(&self) -> u64 {
        self.received.load(Ordering::SeqCst)
    }

    /// Waits (bounded by `limit`) until the server has echoed at least
    /// `bytes`: proof that a client's traffic is flowing.
    pub fn wait_echoed(&self, bytes: u64, limit: Duration) {
        let deadline = Instant::now() + limit;
        while self.echoed() < bytes {
            assert!(Instant::now() < deadline, "no traffic within {limit:?}");
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.addr);
    }
}

fn serve(
    mut conn: TcpStream,
    behaviour: Behaviour,
    epoch: Instant,
    count: &AtomicU64,
    got: &AtomicU64,
) {
    let _ = conn.set_nodelay(true);
    let mut buf = vec![0u8; 64 * 1024];
    let started = Instant::now();
    let mut echoed: u64 = 0;
    loop {
        let n = match conn.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        got.fetch_add(n as u64, Ordering::SeqCst);
        let chunk = &mut buf[..n];
        match behaviour {
            Behaviour::Healthy => {}
            Behaviour::Corrupting { every } => {
                for (i, b) in chunk.iter_mut().enumerate() {
                    if (echoed + i as u64 + 1) % every == 0 {
                        *b ^= 0x01;
                    }
                }
            }
            Behaviour::CorruptingOnce { at } => {
                if (echoed..echoed + n as u64).contains(&at) {
                    chunk[(at - echoed) as usize] ^= 0x01;
                }
            }
            Behaviour::Freezing { period, freeze } => {
                // The stall under test: hold every reply that falls in the
                // frozen part of the period until the period ends.
                let into = epoch.elapsed().as_nanos() % period.as_nanos();
                let frozen_from = (period - freeze).as_nanos();
                if into >= frozen_from {
                    std::thread::sleep(Duration::from_nanos((period.as_nanos() - into) as u64));
                }
            }
            Behaviour::Truncating { limit } => {
                let keep = limit.saturating_sub(echoed).min(n as u64) as usize;
                let _ = conn.write_all(&chunk[..keep]);
                if echoed + n as u64 >= limit {
                    return; // drops the connection
                }
                echoed += n as u64;
                continue;
            }
            Behaviour::BlackHole => continue,
            Behaviour::HangsUpAt { at } => {
                if epoch.elapsed() >= at {
                    return; // drops the connection
                }
            }
            Behaviour::FixedReply { reply } => {
                if echoed == 0 {
                    let _ = conn.write_all(reply);
                    echoed = reply.len() as u64;
                }
                continue;
            }
            Behaviour::Throttled { bytes_per_sec } => {
                // Hold each chunk until the byte budget since the start
                // allows it.
                let due =
                    Duration::from_secs_f64((echoed + n as u64) as f64 / bytes_per_sec as f64);
                if let Some(wait) = due.checked_sub(started.elapsed()) {
                    std::thread::sleep(wait);
                }
            }
        }
        if conn.write_all(chunk).is_err() {
            break;
        }
        echoed += n as u64;
        count.fetch_add(n as u64, Ordering::SeqCst);
    }
    let _ = conn.shutdown(std::net::Shutdown::Write);
}

/// The 33-byte error page of an HTTP server, for [`Behaviour::FixedReply`].
pub const HTTP_400: &[u8] = b"HTTP/1.0 400 Bad request\r\n\r\nnope\n";

/// An address nothing listens on (bound, then released).
pub fn dead_address() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}
