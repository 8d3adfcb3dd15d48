//! `--threads N`: N reactors, each with its own SO_REUSEPORT listener per
//! address. Connections spread over all of them and echo byte-exact; one
//! SIGTERM drains every reactor; connections queued in the listeners'
//! accept queues at the signal get a clean EOF, not a reset; SIGHUP is
//! logged once; `--pin` places reactor i on the i-th allowed CPU; and the
//! flags are refused where they mean nothing. A `unix:` listener is one
//! socket shared by the reactors: connections land on each, and clients
//! queued in it at SIGTERM are not reset.
//!
//! Which reactor serves a connection is read from /proc, with no debug
//! output in the daemon: reactor threads are named `reactor-I`, and an
//! idle reactor sleeps in `epoll_wait` with no timer armed, so the only
//! one whose count of voluntary context switches moves while a new
//! connection is accepted and pinged is the one serving it. For a shared
//! socket, which wakes every reactor, the polls' registrations tell
//! instead (`util::epoll_loads`). The tests that read /proc run on Linux
//! only.

use crate::util;

use std::io::Read;
use std::time::Duration;

use libc::{SIGHUP, SIGINT, SIGTERM};
use util::non_reader::NonReader;
use util::{
    assert_exits, assert_usage_error, connect, connect_small, per_model, ping, probe, Outcome,
    Server, IO_TIMEOUT,
};

// What the tests that read /proc (Linux only) use besides.
#[cfg(target_os = "linux")]
use {
    echod::{listen::parse_announced, ListenAddr},
    libc::SIGCONT,
    std::collections::BTreeSet,
    std::io::{ErrorKind, Write},
    std::net::{SocketAddr, TcpStream},
    std::os::unix::fs::PermissionsExt,
    std::os::unix::net::UnixStream,
    std::thread,
    util::{echo_all, epoll_loads, pattern, raise_fd_limit, wait_until},
    util::{socket_path, stdout_lines, unix_connect, unix_ping},
};

/// The reactor's accept budget per turn (`reactor::ACCEPT_BUDGET`).
#[cfg(target_os = "linux")]
const ACCEPT_BUDGET: u64 = 128;

// ---- which reactor, from /proc ----

/// The reactor threads of `pid`, by index: `reactor-0`, `reactor-1`, ...
#[cfg(target_os = "linux")]
fn reactor_tids(pid: i32) -> Vec<i32> {
    let mut found: Vec<(usize, i32)> = std::fs::read_dir(format!("/proc/{pid}/task"))
        .expect("task dir")
        .filter_map(|e| {
            let tid: i32 = e.ok()?.file_name().to_str()?.parse().ok()?;
            let comm = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/comm")).ok()?;
            let i = comm.trim().strip_prefix("reactor-")?.parse().ok()?;
            Some((i, tid))
        })
        .collect();
    found.sort();
    found.into_iter().map(|(_, tid)| tid).collect()
}

/// A field of /proc/PID/task/TID/status.
#[cfg(target_os = "linux")]
fn task_status(pid: i32, tid: i32, key: &str) -> String {
    let s = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/status")).expect("status");
    s.lines()
        .find_map(|l| l.strip_prefix(key))
        .unwrap_or_else(|| panic!("{key} not in the status of task {tid}"))
        .trim()
        .to_string()
}

#[cfg(target_os = "linux")]
fn voluntary_switches(pid: i32, tid: i32) -> u64 {
    task_status(pid, tid, "voluntary_ctxt_switches:")
        .parse()
        .unwrap()
}

/// Opens a connection with `open`, pings it, and says which reactor woke
/// up to serve it (see the module docs). Earlier connections must stay
/// quiet meanwhile: a close would wake their reactor too.
#[cfg(target_os = "linux")]
fn open_on_reactor(server: &Server, open: impl FnOnce() -> TcpStream) -> (TcpStream, usize) {
    let pid = server.pid();
    let tids = reactor_tids(pid);
    let before: Vec<u64> = tids.iter().map(|&t| voluntary_switches(pid, t)).collect();
    let mut s = open();
    ping(&mut s, b"which reactor?");
    let mut rose = Vec::new();
    let woke = wait_until(IO_TIMEOUT, || {
        rose = tids
            .iter()
            .zip(&before)
            .map(|(&t, b)| voluntary_switches(pid, t) - b)
            .collect();
        rose.iter().any(|&d| d > 0)
    });
    assert!(woke, "no reactor thread woke up for a new connection");
    let i = (0..rose.len()).max_by_key(|&i| rose[i]).unwrap();
    (s, i)
}

/// Accept-queue length of each listener on `addr` (IPv4), from the LISTEN
/// rows of /proc/net/tcp, where `rx_queue` counts connections the kernel
/// completed and nobody accepted yet.
#[cfg(target_os = "linux")]
fn listen_queues(addr: SocketAddr) -> Vec<u64> {
    let SocketAddr::V4(v4) = addr else {
        panic!("IPv4 only")
    };
    let local = format!(
        "{:08X}:{:04X}",
        u32::from_ne_bytes(v4.ip().octets()),
        v4.port()
    );
    let table = std::fs::read_to_string("/proc/net/tcp").expect("/proc/net/tcp");
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 5 || f[1] != local || f[3] != "0A" {
                return None;
            }
            u64::from_str_radix(f[4].split_once(':')?.1, 16).ok()
        })
        .collect()
}

/// `0-2,5` -> {0, 1, 2, 5}, as /proc prints CPU lists.
#[cfg(target_os = "linux")]
fn cpu_list(s: &str) -> Vec<usize> {
    let mut cpus = BTreeSet::new();
    for part in s.split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => cpus.extend(a.parse::<usize>().unwrap()..=b.parse().unwrap()),
            None => {
                cpus.insert(part.parse().unwrap());
            }
        }
    }
    cpus.into_iter().collect()
}

// ---- serving ----

/// Many connections land on every reactor and each gets its own bytes
/// back, byte-exact, under odd chunkings, all at once.
#[cfg(target_os = "linux")]
fn spread_and_echo(threads: usize) {
    let server = Server::start(&["--threads", &threads.to_string()]);
    assert_eq!(reactor_tids(server.pid()).len(), threads, "reactor threads");
    let mut served = vec![0; threads];
    let conns: Vec<TcpStream> = (0..48)
        .map(|_| {
            let (s, i) = open_on_reactor(&server, || connect(server.addr()));
            served[i] += 1;
            s
        })
        .collect();
    assert!(
        served.iter().all(|&n| n > 0),
        "--threads {threads}: connections per reactor {served:?}"
    );
    let echoes: Vec<_> = conns
        .into_iter()
        .enumerate()
        .map(|(i, s)| {
            thread::spawn(move || {
                let data = pattern(i as u64, 100_000 + i * 4_099);
                let got = echo_all(s, data.clone(), 1 + (i * 997) % 9_000);
                assert!(got == data, "connection {i}: echo differs");
            })
        })
        .collect();
    for e in echoes {
        e.join().expect("echo thread");
    }
}

per_model!(#[cfg(target_os = "linux")] spread_and_echo: reactors_2 = 2, reactors_4 = 4);

/// Every `--listen` address, port 0 included, gets one listener per
/// reactor on one resolved port, and is announced once.
#[cfg(target_os = "linux")]
#[test]
fn each_address_gets_a_listener_per_reactor_and_one_listening_line() {
    let args = [
        "--threads",
        "3",
        "--listen",
        "127.0.0.1:0",
        "--listen",
        "127.0.0.1:0",
    ];
    let (mut child, mut lines) = stdout_lines(&args);
    let addrs: Vec<SocketAddr> = (0..2)
        .map(|_| {
            let line = lines.next().expect("a listening line").unwrap();
            match parse_announced(&line) {
                Some(ListenAddr::Tcp(addr)) => addr,
                _ => panic!("{line:?}"),
            }
        })
        .collect();
    assert_ne!(addrs[0], addrs[1]);
    for &addr in &addrs {
        assert_ne!(addr.port(), 0);
        assert_eq!(listen_queues(addr).len(), 3, "listeners on {addr}");
        ping(&mut connect(addr), b"hello");
    }
    // SAFETY: plain kill(2) on our own child.
    assert_eq!(unsafe { libc::kill(child.id() as i32, SIGTERM) }, 0);
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert_eq!(rest, Vec::<String>::new(), "more lines on stdout");
    assert_eq!(child.wait().unwrap().code(), Some(0));
}

/// SO_REUSEPORT must not let a second daemon join the first one's group
/// and split its clients: the port is busy, as without `--threads`.
#[test]
fn a_second_daemon_cannot_join_a_running_group() {
    let first = Server::start(&["--threads", "2"]);
    let addr = first.addr().to_string();
    assert_usage_error(&["--threads", "2", "--listen", &addr], &addr);
    assert_usage_error(&["--listen", &addr], &addr);
}

/// `--max-conns N` means N clients served, whatever `--threads` is: the
/// reactors count against one process-wide limit, so N clients connected
/// one by one are all served however the kernel's hash spreads them, and
/// the N+1th is closed at once. (With the limit split into per-reactor
/// parts, a reactor that drew more than its part refused a client while
/// another had room.)
fn max_conns_serves_n_clients_whatever_the_spread(threads: usize, n: usize) {
    let server = Server::start(&[
        "--threads",
        &threads.to_string(),
        "--max-conns",
        &n.to_string(),
    ]);
    let mut served = Vec::new();
    for i in 0..n {
        let mut c = connect(server.addr());
        let msg = format!("client {i}");
        match probe(&mut c, msg.as_bytes(), IO_TIMEOUT) {
            Outcome::Echoed => served.push(c),
            other => panic!(
                "--threads {threads} --max-conns {n}: client {i} of {n} was not served: {other:?}"
            ),
        }
    }
    let mut extra = connect(server.addr());
    assert_eq!(
        probe(&mut extra, b"one too many", IO_TIMEOUT),
        Outcome::Closed,
        "--threads {threads} --max-conns {n}: client {} must be closed",
        n + 1
    );
    for c in &mut served {
        ping(c, b"still served");
    }
}

per_model!(max_conns_serves_n_clients_whatever_the_spread(50): reactors_2 = 2, reactors_4 = 4);

// ---- shutdown ----

/// Connections until every reactor has one: `(one per reactor, spares)`.
#[cfg(target_os = "linux")]
fn one_per_reactor(
    server: &Server,
    threads: usize,
    open: impl Fn() -> TcpStream,
) -> (Vec<TcpStream>, Vec<TcpStream>) {
    let mut chosen: Vec<Option<TcpStream>> = (0..threads).map(|_| None).collect();
    let mut spares = Vec::new();
    for _ in 0..200 {
        if chosen.iter().all(Option::is_some) {
            break;
        }
        let (s, i) = open_on_reactor(server, &open);
        match &chosen[i] {
            None => chosen[i] = Some(s),
            Some(_) => spares.push(s),
        }
    }
    let chosen: Option<Vec<TcpStream>> = chosen.into_iter().collect();
    (chosen.expect("200 connections missed a reactor"), spares)
}

/// True once `tries` connects in a row to `addr` fail: every listener of
/// the group is closed.
#[cfg(target_os = "linux")]
fn all_refuse(addr: SocketAddr, tries: usize) -> bool {
    (0..tries).all(|_| TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_err())
}

/// One SIGTERM drains every reactor: each holds pending echo for a client
/// that reads nothing; after the signal every listener closes, quiet
/// connections get EOF, and each client gets all its pending echo and a
/// clean EOF. Then the process exits 0.
#[cfg(target_os = "linux")]
#[test]
fn sigterm_drains_every_reactor_and_flushes_pending_echo() {
    let threads = 3;
    let mut server = Server::start(&["--threads", "3", "--shutdown-timeout", "30s"]);
    let addr = server.addr();
    let (busy, mut quiet) =
        one_per_reactor(&server, threads, || connect_small(addr, 64 << 10, 64 << 10));
    let clients: Vec<NonReader> = busy
        .into_iter()
        .enumerate()
        .map(|(i, s)| NonReader::start_on(addr, s, 20 + i as u64))
        .collect();
    server.signal(SIGTERM);
    assert!(
        wait_until(IO_TIMEOUT, || all_refuse(addr, 20)),
        "some listener still accepting after SIGTERM"
    );
    for (i, q) in quiet.iter_mut().enumerate() {
        q.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        let mut buf = [0u8; 16];
        assert_eq!(q.read(&mut buf).ok(), Some(0), "quiet connection {i}");
    }
    assert!(server.alive(), "exited with echo still pending");
    for (i, c) in clients.into_iter().enumerate() {
        c.read_drained_echo(&format!("reactor {i}"), true);
    }
    assert_exits(&mut server, IO_TIMEOUT, 0, "--threads 3");
}

/// How a connection queued at the signal ended, for the client; the
/// order indexes the tally of [`endings`].
#[cfg(target_os = "linux")]
#[derive(Debug, PartialEq, Eq)]
enum Ending {
    /// Its message came back, then EOF (it was served before the signal).
    Echoed,
    /// A clean EOF with nothing echoed (accepted during the shutdown).
    Eof,
    /// A reset: the connection was destroyed.
    Reset,
}

#[cfg(target_os = "linux")]
fn ending(s: &mut impl Read, msg: &[u8]) -> Ending {
    let mut got = Vec::new();
    match s.read_to_end(&mut got) {
        Ok(_) if got.is_empty() => Ending::Eof,
        Ok(_) if got == msg => Ending::Echoed,
        Ok(_) => panic!("got {got:?} for {msg:?}"),
        Err(e) if e.kind() == ErrorKind::ConnectionReset => Ending::Reset,
        Err(e) => panic!("reading the ending: {e}"),
    }
}

/// How many of `conns` (client `i` sent `msg(i)`) were echoed, got a
/// clean EOF, were reset.
#[cfg(target_os = "linux")]
fn endings(conns: &mut [impl Read], msg: impl Fn(usize) -> Vec<u8>) -> [usize; 3] {
    let mut endings = [0usize; 3];
    for (i, c) in conns.iter_mut().enumerate() {
        endings[ending(c, &msg(i)) as usize] += 1;
    }
    endings
}

/// Regression guard for the SO_REUSEPORT pitfall: closing a listener
/// resets every connection in its accept queue, connections whose connect
/// already succeeded and that sent a request. The daemon is stopped
/// (SIGSTOP) so the kernel queues `clients` completed connections in its
/// listeners, more than one turn's accept budget in each; then SIGTERM and
/// SIGCONT. Every client must get its echo or a clean EOF, never a reset.
#[cfg(target_os = "linux")]
fn queued_connections_get_eof_not_reset((threads, clients): (usize, usize)) {
    raise_fd_limit(clients as u64 + 100);
    let n = threads.to_string();
    let mut server = Server::start(&["--threads", &n, "--shutdown-timeout", "30s"]);
    let addr = server.addr();
    server.freeze();
    let msg = |i: usize| format!("queued {i}").into_bytes();
    let mut conns: Vec<TcpStream> = (0..clients)
        .map(|i| {
            let mut c = connect(addr);
            c.write_all(&msg(i)).unwrap();
            c
        })
        .collect();
    let mut queues = Vec::new();
    let all_queued = wait_until(IO_TIMEOUT, || {
        queues = listen_queues(addr);
        queues.iter().sum::<u64>() == clients as u64
    });
    assert!(
        all_queued,
        "accept queues {queues:?}, want {clients} in all"
    );
    assert_eq!(queues.len(), threads, "listeners");
    assert!(
        queues.iter().all(|&q| q > ACCEPT_BUDGET),
        "each listener should hold more than one turn's accepts: {queues:?}"
    );
    server.signal(SIGTERM);
    server.signal(SIGCONT);
    let endings = endings(&mut conns, msg);
    assert_eq!(
        endings[2], 0,
        "--threads {threads}: {} of {clients} queued clients were reset \
         (echoed {}, EOF {}; queues were {queues:?})",
        endings[2], endings[0], endings[1]
    );
    drop(conns);
    assert_exits(&mut server, IO_TIMEOUT, 0, &format!("--threads {threads}"));
}

per_model!(#[cfg(target_os = "linux")] queued_connections_get_eof_not_reset:
    reactors_4 = (4, 1200), reactors_1 = (1, 400));

/// A second signal while some reactor still drains exits at once with
/// 128 + its number, whichever reactor it is.
#[test]
fn threads_second_signal_exits_at_once_with_130() {
    let mut server = Server::start(&["--threads", "2", "--shutdown-timeout", "30s"]);
    let addr = server.addr();
    let mut quiet = connect(addr);
    ping(&mut quiet, b"quiet");
    let stuck = NonReader::start_on(addr, connect_small(addr, 64 << 10, 64 << 10), 30);
    server.signal(SIGTERM);
    let mut buf = [0u8; 8];
    assert_eq!(
        quiet.read(&mut buf).ok(),
        Some(0),
        "first signal not handled"
    );
    assert!(server.alive(), "exited with echo still pending");
    server.signal(SIGINT);
    let took = assert_exits(&mut server, Duration::from_secs(10), 130, "--threads 2");
    assert!(took < Duration::from_secs(5), "took {took:?}");
    drop(stuck);
}

/// One SIGHUP, one line: not one per reactor. It is ignored, and the
/// daemon still drains and exits 0 on SIGTERM.
#[test]
fn threads_sighup_is_logged_once_not_once_per_reactor() {
    let mut server = Server::start(&["--threads", "3"]);
    let stderr = server.stderr_lines();
    server.signal(SIGHUP);
    let line = stderr.recv_timeout(IO_TIMEOUT).expect("a line for SIGHUP");
    assert!(line.contains("SIGHUP ignored"), "{line:?}");
    ping(&mut connect(server.addr()), b"still serving");
    server.signal(SIGTERM);
    assert_exits(&mut server, IO_TIMEOUT, 0, "--threads 3");
    let rest: Vec<String> = stderr.iter().collect();
    assert!(rest.is_empty(), "more stderr lines: {rest:?}");
}

// ---- shared sockets: `unix:` ----

/// Connections each reactor took since `before`, from its poll's
/// registrations (see `util::epoll_loads`): with a shared socket every
/// reactor is woken for each connection, so the wake-up counts used
/// for SO_REUSEPORT cannot tell who accepted it.
#[cfg(target_os = "linux")]
fn taken_since(pid: i32, before: &[usize]) -> Vec<usize> {
    let now = epoll_loads(pid);
    assert_eq!(now.len(), before.len(), "reactors");
    now.iter().zip(before).map(|(n, b)| n - b).collect()
}

/// `--threads 2 --listen unix:PATH`: one socket, shared by both reactors
/// (no SO_REUSEPORT for a path), with the `--unix-mode` asked for;
/// connections land on both, echo byte-exact, and SIGTERM drains both and
/// removes the file once.
#[cfg(target_os = "linux")]
#[test]
fn threads_2_share_a_unix_listener_and_serve_on_both_reactors() {
    let dir = socket_path("reactors-shared");
    let path = dir.to_path_buf();
    let listen = format!("unix:{}", path.display());
    let args = ["--threads", "2", "--listen", &listen, "--unix-mode", "600"];
    let mut server = Server::start(&args);
    assert_eq!(
        server.paths(),
        std::slice::from_ref(&path),
        "announced once"
    );
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "--unix-mode with --threads 2: {mode:o}");
    let pid = server.pid();
    let before = epoll_loads(pid);
    assert_eq!(before.len(), 2, "one poll per reactor");
    // Rounds of clients from several threads at once, so that both
    // reactors find work queued, until each has taken some (which one
    // wins a connection is a race: see "How connections are spread" in
    // `reactor::multi`). Every round stays connected.
    let mut conns: Vec<UnixStream> = Vec::new();
    for _ in 0..10 {
        let round = (0..4)
            .map(|t| {
                let path = path.clone();
                thread::spawn(move || {
                    (0..10)
                        .map(|i| {
                            let mut c = unix_connect(&path);
                            unix_ping(&mut c, format!("client {t}.{i}").as_bytes());
                            c
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect::<Vec<_>>()
            .into_iter()
            .flat_map(|h| h.join().expect("client thread"));
        conns.extend(round);
        if taken_since(pid, &before).iter().all(|&n| n > 0) {
            break;
        }
    }
    let taken = taken_since(pid, &before);
    assert_eq!(taken.iter().sum::<usize>(), conns.len(), "{taken:?}");
    assert!(
        taken.iter().all(|&n| n > 0),
        "a reactor took none of {} connections: {taken:?}",
        conns.len()
    );
    for (i, c) in conns.iter().take(8).enumerate() {
        let data = pattern(i as u64, 200_000 + i * 7_919);
        let mut w = c.try_clone().unwrap();
        let sent = data.clone();
        let writer = thread::spawn(move || w.write_all(&sent));
        let mut got = vec![0; data.len()];
        (&*c).read_exact(&mut got).unwrap();
        writer.join().unwrap().unwrap();
        assert!(got == data, "connection {i}: echo differs");
    }
    server.signal(SIGTERM);
    for (i, mut c) in conns.into_iter().enumerate() {
        let mut rest = Vec::new();
        c.read_to_end(&mut rest)
            .unwrap_or_else(|e| panic!("client {i}: not a clean EOF: {e}"));
        assert!(rest.is_empty(), "client {i}: {rest:?}");
    }
    assert_exits(&mut server, IO_TIMEOUT, 0, "--threads 2 unix");
    assert!(!path.exists(), "socket file left behind");
}

/// The shutdown contract on a shared queue: the daemon is stopped
/// (SIGSTOP) while `clients` connect to its Unix socket and send a
/// message; then SIGTERM and SIGCONT. The reactors close their copies
/// one after the other, and the last one empties the queue first: every
/// client gets its echo or a clean EOF, never a reset (ECONNRESET is what
/// a Unix client of a listener closed with it queued sees).
#[cfg(target_os = "linux")]
#[test]
fn threads_2_sigterm_serves_every_client_queued_on_a_shared_unix_listener() {
    let clients = 300; // under the default --backlog: a connect never blocks
    raise_fd_limit(clients as u64 + 100);
    let dir = socket_path("reactors-queued");
    let path = dir.to_path_buf();
    let listen = format!("unix:{}", path.display());
    let mut server = Server::start(&[
        "--threads",
        "2",
        "--listen",
        &listen,
        "--shutdown-timeout",
        "30s",
    ]);
    server.freeze();
    let msg = |i: usize| format!("queued {i}").into_bytes();
    let mut conns: Vec<UnixStream> = (0..clients)
        .map(|i| {
            let mut c = unix_connect(&path);
            c.write_all(&msg(i)).unwrap();
            c
        })
        .collect();
    server.signal(SIGTERM);
    server.signal(SIGCONT);
    let endings = endings(&mut conns, msg);
    assert_eq!(
        endings[2], 0,
        "{} of {clients} queued clients were reset (echoed {}, EOF {})",
        endings[2], endings[0], endings[1]
    );
    drop(conns);
    assert_exits(&mut server, IO_TIMEOUT, 0, "--threads 2 unix");
}

// ---- pinning ----

/// `--pin`: reactor i runs on the (i mod k)-th of the k CPUs the process
/// may use, and only there; more reactors than CPUs share them and a line
/// on stderr says so.
#[cfg(target_os = "linux")]
#[test]
fn pin_puts_reactor_i_on_the_i_th_allowed_cpu() {
    let me = std::process::id() as i32;
    let allowed = cpu_list(&task_status(me, me, "Cpus_allowed_list:"));
    let k = allowed.len();
    let threads = k + 1;
    let mut server = Server::start(&["--threads", &threads.to_string(), "--pin"]);
    let stderr = server.stderr_lines();
    let pid = server.pid();
    let tids = reactor_tids(pid);
    assert_eq!(tids.len(), threads);
    for (i, &tid) in tids.iter().enumerate() {
        let on = cpu_list(&task_status(pid, tid, "Cpus_allowed_list:"));
        assert_eq!(on, vec![allowed[i % k]], "reactor {i}");
    }
    // Said in words, with the way out: the line once read "reactor i runs
    // on CPU [0, 1][i mod 2]", pseudo-code an operator had to decode.
    let line = stderr.recv_timeout(IO_TIMEOUT).expect("a line on sharing");
    let s = if k == 1 { "" } else { "s" };
    assert_eq!(
        line,
        format!(
            "echod: --pin: {threads} reactors but this process may use only {k} CPU{s}, \
             so they share: reactor {k} runs on CPU {} with reactor 0 \
             (--threads {k} gives each reactor a CPU of its own)",
            allowed[0]
        )
    );
    ping(&mut connect(server.addr()), b"pinned");
    server.signal(SIGTERM);
    assert_exits(&mut server, IO_TIMEOUT, 0, "--pin");
}

/// `--threads 1 --pin` pins the one reactor, the main thread.
#[cfg(target_os = "linux")]
#[test]
fn pin_alone_pins_the_single_reactor() {
    let me = std::process::id() as i32;
    let first = cpu_list(&task_status(me, me, "Cpus_allowed_list:"))[0];
    let mut server = Server::start(&["--pin"]);
    let pid = server.pid();
    assert_eq!(
        cpu_list(&task_status(pid, pid, "Cpus_allowed_list:")),
        vec![first]
    );
    ping(&mut connect(server.addr()), b"pinned");
    server.signal(SIGTERM);
    assert_exits(&mut server, IO_TIMEOUT, 0, "--pin");
}

// ---- the command line ----

#[test]
fn threads_zero_and_absurd_counts_are_refused_naming_the_flag() {
    for (value, reason) in [
        ("0", "must be at least 1"),
        ("1025", "must be at most 1024"),
        ("99999999999999999999999", "must be at most 1024"),
        ("-2", "must not be negative"),
        ("many", "not a whole number"),
    ] {
        assert_usage_error(
            &["--threads", value, "--listen", "127.0.0.1:0"],
            &format!("--threads {value}: {reason}"),
        );
    }
}

#[test]
fn threads_and_pin_are_refused_with_the_other_models() {
    for model in [
        "threads",
        "iterative",
        #[cfg(target_os = "linux")]
        "uring",
    ] {
        assert_usage_error(
            &[
                "--model",
                model,
                "--threads",
                "2",
                "--listen",
                "127.0.0.1:0",
            ],
            &format!(
                "--threads 2: only the reactor model runs several reactors, not --model {model}"
            ),
        );
        assert_usage_error(
            &["--model", model, "--pin", "--listen", "127.0.0.1:0"],
            &format!("--pin: only the reactor model pins its threads, not --model {model}"),
        );
    }
}
