//! Socket activation (systemd's `LISTEN_FDS` protocol): the test opens the
//! sockets itself, as a service manager would, and hands them to echod as
//! descriptors 3, 4, ... with `LISTEN_PID` set to echod's own pid (through
//! `sh -c 'LISTEN_PID=$$ exec echod ...'`: the pid is not known before the
//! fork, and `exec` keeps it). echod serves them, whatever their kind,
//! instead of `--listen`; bad variables or descriptors are a one-line
//! usage error. Last, systemd's own `systemd-socket-activate` starts echod
//! on a TCP connection and on a UDP datagram, as an operator would try a
//! socket unit.

use crate::util;

use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixListener;
use std::os::unix::process::CommandExt;
use std::process::Command;

use util::{connect, per_model, ping, run_command, unix_connect, unix_ping, Server, IO_TIMEOUT};

/// echod started the way a service manager starts it, with `fds` as
/// descriptors 3, 4, ..., `LISTEN_FDS` set to `listen_fds` (normally their
/// number) and `args` on its command line.
fn activated(fds: &[&dyn AsFd], listen_fds: &str, args: &[&str]) -> Command {
    // Above any descriptor the child's setup uses, close-on-exec: only
    // the dup2'd copies at 3, 4, ... survive the exec.
    let high: Vec<OwnedFd> = fds
        .iter()
        .map(|fd| {
            // SAFETY: F_DUPFD_CLOEXEC returns a new descriptor we own.
            let new = unsafe { libc::fcntl(fd.as_fd().as_raw_fd(), libc::F_DUPFD_CLOEXEC, 64) };
            assert!(new >= 0, "dup");
            unsafe { OwnedFd::from_raw_fd(new) }
        })
        .collect();
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(r#"LISTEN_PID=$$ exec "$0" "$@""#)
        .arg(env!("CARGO_BIN_EXE_echod"))
        .args(args)
        .env("LISTEN_FDS", listen_fds)
        .env_remove("LISTEN_FDNAMES");
    // SAFETY: only dup2, which is async-signal-safe, between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            for (i, fd) in high.iter().enumerate() {
                if libc::dup2(fd.as_raw_fd(), 3 + i as RawFd) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    cmd
}

fn udp_echo(server: SocketAddr, msg: &[u8]) {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    s.send_to(msg, server).unwrap();
    let mut buf = vec![0; msg.len() + 1];
    let (n, from) = s.recv_from(&mut buf).expect("UDP reply");
    assert_eq!((from, &buf[..n]), (server, msg));
}

per_model!(tcp_and_udp_sockets_passed_by_the_manager_are_served: reactor, #[cfg(target_os = "linux")] uring);

fn tcp_and_udp_sockets_passed_by_the_manager_are_served(model: &str) {
    let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    let (tcp_addr, udp_addr) = (tcp.local_addr().unwrap(), udp.local_addr().unwrap());
    // `--listen` is ignored: the manager's sockets are all that is served.
    let cmd = activated(
        &[&tcp, &udp],
        "2",
        &["--model", model, "--listen", "127.0.0.1:0"],
    );
    let mut server = Server::spawn(cmd, 2);
    drop((tcp, udp)); // only echod holds them now
    assert_eq!(
        server.addrs(),
        [tcp_addr, udp_addr],
        "announced in fd order"
    );
    ping(&mut connect(tcp_addr), b"activated tcp");
    udp_echo(udp_addr, b"activated udp");
    server.stop();
}

per_model!(a_unix_socket_passed_by_the_manager_is_served_and_left_in_place: reactor, #[cfg(target_os = "linux")] uring);

fn a_unix_socket_passed_by_the_manager_is_served_and_left_in_place(model: &str) {
    // One directory per model: the tests run in parallel.
    let sock = util::socket_path(&format!("activated-unix-{model}"));
    let path = sock.path.clone();
    let unix = UnixListener::bind(&path).unwrap();
    let mut server = Server::spawn(activated(&[&unix], "1", &["--model", model]), 1);
    drop(unix);
    assert_eq!(server.paths(), std::slice::from_ref(&path));
    unix_ping(&mut unix_connect(&path), b"activated unix");
    server.stop();
    assert!(path.exists(), "removed the manager's socket file");
}

#[test]
fn variables_for_another_process_are_ignored() {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_echod"));
    cmd.args(["--listen", "127.0.0.1:0"])
        .env("LISTEN_PID", "1")
        .env("LISTEN_FDS", "1");
    let server = Server::spawn(cmd, 1);
    ping(&mut connect(server.addr()), b"bound by --listen");
}

/// The usage-error contract (see `util::assert_usage_error`) for a
/// prepared command.
fn assert_refused(cmd: Command, needles: &[&str]) {
    let r = run_command(cmd);
    assert_eq!(r.status.code(), Some(2), "stderr {:?}", r.stderr);
    assert_eq!(r.stdout, "");
    let lines: Vec<&str> = r.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{:?}", r.stderr);
    assert!(lines[0].starts_with("echod: "), "{:?}", lines[0]);
    for needle in needles {
        assert!(
            lines[0].contains(needle),
            "{needle:?} not in {:?}",
            lines[0]
        );
    }
}

#[test]
fn bad_variables_and_descriptors_are_usage_errors() {
    let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
    for bad in ["abc", "-1", "0", ""] {
        assert_refused(activated(&[&tcp], bad, &[]), &["LISTEN_FDS"]);
    }
    // More sockets announced than passed: fd 4 is not open.
    assert_refused(
        activated(&[&tcp], "2", &[]),
        &["fd 4", "not an open descriptor"],
    );
    let file = std::fs::File::open("/dev/null").unwrap();
    assert_refused(activated(&[&file], "1", &[]), &["fd 3", "not a socket"]);
    // A stream socket bound but not listening.
    let idle = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    idle.bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into())
        .unwrap();
    assert_refused(activated(&[&idle], "1", &[]), &["fd 3", "not listening"]);
}

// The line said "has 1 names", and not what LISTEN_FDNAMES should hold.
#[test]
fn too_few_fd_names_say_what_the_variable_needs() {
    let (a, b) = (
        TcpListener::bind("127.0.0.1:0").unwrap(),
        TcpListener::bind("127.0.0.1:0").unwrap(),
    );
    let mut cmd = activated(&[&a, &b], "2", &[]);
    cmd.env("LISTEN_FDNAMES", "echo");
    let r = run_command(cmd);
    assert_eq!(r.status.code(), Some(2), "stderr {:?}", r.stderr);
    assert_eq!(
        r.stderr,
        "echod: socket activation: LISTEN_FDNAMES has 1 name for LISTEN_FDS=2 sockets \
         (it needs one per socket, separated by ':')\n"
    );
}

#[test]
fn models_and_flags_are_checked_against_the_passed_sockets() {
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    assert_refused(
        activated(&[&udp], "1", &["--model", "iterative"]),
        &["socket activation", "--model iterative", "UDP"],
    );
    let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
    assert_refused(
        activated(&[&tcp], "1", &["--unix-mode", "600"]),
        &["--unix-mode 600", "SocketMode="],
    );
}

/// `--threads 2` under socket activation: each passed socket, whatever
/// its kind, is shared by both reactors (there is nothing of ours to join
/// with SO_REUSEPORT). Both reactors' polls watch all three sockets; TCP
/// connections land on both; UDP and Unix echo; SIGTERM drains and exits
/// 0, leaving the manager's socket file in place.
#[cfg(target_os = "linux")]
#[test]
fn threads_2_share_every_passed_socket() {
    let sock = util::socket_path("activated-threads");
    let path = sock.path.clone();
    let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    let unix = UnixListener::bind(&path).unwrap();
    let (tcp_addr, udp_addr) = (tcp.local_addr().unwrap(), udp.local_addr().unwrap());
    let cmd = activated(&[&tcp, &udp, &unix], "3", &["--threads", "2"]);
    let mut server = Server::spawn(cmd, 3);
    drop((tcp, udp, unix));
    assert_eq!(server.addrs(), [tcp_addr, udp_addr], "announced once each");
    assert_eq!(server.paths(), std::slice::from_ref(&path));
    let pid = server.pid();
    let before = util::epoll_loads(pid);
    assert_eq!(before.len(), 2, "one poll per reactor");
    assert_eq!(before[0], before[1], "both watch the same sockets");
    // Rounds of clients from several threads at once, so that both
    // reactors find work queued, until each has taken some (which one
    // wins a connection is a race: see `reactor::multi`).
    let mut taken = vec![0; 2];
    for _ in 0..20 {
        let base = util::epoll_loads(pid);
        let round: Vec<_> = (0..4)
            .map(|t| {
                std::thread::spawn(move || {
                    (0..10)
                        .map(|i| {
                            let mut c = connect(tcp_addr);
                            ping(&mut c, format!("client {t}.{i}").as_bytes());
                            c
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect::<Vec<_>>()
            .into_iter()
            .flat_map(|h| h.join().expect("client thread"))
            .collect();
        let now = util::epoll_loads(pid);
        let got: Vec<usize> = now.iter().zip(&base).map(|(a, b)| a - b).collect();
        assert_eq!(got.iter().sum::<usize>(), round.len(), "{got:?}");
        taken.iter_mut().zip(&got).for_each(|(t, g)| *t += g);
        drop(round);
        let settled = util::wait_until(IO_TIMEOUT, || util::epoll_loads(pid) == before);
        assert!(settled, "closed connections still registered");
        if taken.iter().all(|&n| n > 0) {
            break;
        }
    }
    assert!(
        taken.iter().all(|&n| n > 0),
        "a reactor took none: {taken:?}"
    );
    for i in 0..20 {
        udp_echo(udp_addr, format!("datagram {i}").as_bytes());
    }
    unix_ping(&mut unix_connect(&path), b"activated unix, shared");
    server.stop();
    assert!(path.exists(), "removed the manager's socket file");
}

/// Under socket activation a `--listen` typed on the command line is
/// ignored, and one line says so; the start line says the listeners were
/// passed by systemd, with their `FileDescriptorName=` (LISTEN_FDNAMES).
#[test]
fn an_ignored_listen_is_warned_about_and_the_start_line_names_the_sockets() {
    let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    let (tcp_addr, udp_addr) = (tcp.local_addr().unwrap(), udp.local_addr().unwrap());
    let mut cmd = activated(&[&tcp, &udp], "2", &["--listen", "127.0.0.1:0"]);
    cmd.env("LISTEN_FDNAMES", "echo:echo-udp");
    let mut server = Server::spawn(cmd, 2);
    drop((tcp, udp));
    let stderr = server.stop();
    // A default-sized UDP buffer may get its own warning (tested below):
    // not the subject here.
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| !l.contains("SO_RCVBUF"))
        .collect();
    assert_eq!(
        lines[0],
        "echod: --listen ignored: serving the 2 socket(s) systemd passed instead \
         (socket activation, LISTEN_FDS)",
        "{stderr}"
    );
    assert!(
        lines[1].contains(&format!(
            ", listeners tcp://{tcp_addr} (echo) udp://{udp_addr} (echo-udp) passed by systemd, "
        )),
        "{stderr}"
    );
}

/// Without `--listen` there is nothing to warn about; unnamed sockets are
/// listed bare.
#[test]
fn without_listen_no_warning_and_unnamed_sockets_are_listed_bare() {
    let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = tcp.local_addr().unwrap();
    let mut server = Server::spawn(activated(&[&tcp], "1", &[]), 1);
    drop(tcp);
    let stderr = server.stop();
    assert!(!stderr.contains("ignored"), "{stderr}");
    assert!(
        stderr
            .lines()
            .next()
            .unwrap()
            .contains(&format!(", listeners tcp://{addr} passed by systemd, ")),
        "{stderr}"
    );
}

/// The stderr of echod serving `udp` under socket activation, from start
/// to a SIGTERM's exit, once a datagram has been echoed.
fn stderr_serving(udp: UdpSocket) -> String {
    let addr = udp.local_addr().unwrap();
    let mut server = Server::spawn(activated(&[&udp], "1", &[]), 1);
    drop(udp);
    udp_echo(addr, b"served");
    server.stop()
}

/// SO_RCVBUF of a fresh UDP socket given `bytes`, as the kernel reports it
/// (capped at `net.core.rmem_max`; doubled on Linux).
fn rcvbuf_given(udp: &UdpSocket, bytes: usize) -> usize {
    let sock = socket2::SockRef::from(udp);
    sock.set_recv_buffer_size(bytes).unwrap();
    sock.recv_buffer_size().unwrap()
}

// Bug: under `systemd-socket-activate --datagram`, the inherited socket
// kept the system's small default buffer and dropped most of a burst of
// 1000 datagrams, where echod's own sockets, with 4 MiB asked, lost none;
// nothing said why.
#[test]
fn an_inherited_udp_socket_with_a_small_receive_buffer_is_warned_about() {
    let ours = rcvbuf_given(&UdpSocket::bind("127.0.0.1:0").unwrap(), 4 << 20);
    let small = UdpSocket::bind("127.0.0.1:0").unwrap();
    let has = rcvbuf_given(&small, 4096);
    assert!(has < ours, "this kernel gives {has} B even to a 4 KiB ask");
    let addr = small.local_addr().unwrap();
    let warnings: Vec<String> = stderr_serving(small)
        .lines()
        .filter(|l| l.contains("SO_RCVBUF"))
        .map(String::from)
        .collect();
    assert_eq!(
        warnings,
        [format!(
            "echod: socket activation: fd 3: udp://{addr}: SO_RCVBUF is {} KiB where echod's \
             own UDP sockets get {} KiB, so bursts that overflow it are dropped unseen \
             (set ReceiveBuffer=4M in the .socket unit)",
            has >> 10,
            ours >> 10
        )]
    );
    // Given what echod would ask for itself, the socket is fine.
    let big = UdpSocket::bind("127.0.0.1:0").unwrap();
    rcvbuf_given(&big, 4 << 20);
    let stderr = stderr_serving(big);
    assert!(!stderr.contains("SO_RCVBUF"), "{stderr}");
}

/// The tool an operator tries a socket unit with: systemd's own
/// `systemd-socket-activate` (Debian package `systemd`; `.ci/run` installs
/// it). Missing, it fails the test: a check that can be skipped is one
/// nobody can rely on.
#[cfg(target_os = "linux")]
const SOCKET_ACTIVATE: &str = "systemd-socket-activate";

/// A child killed (SIGKILL) on drop if still alive, so a failed
/// assertion leaves nothing running.
#[cfg(target_os = "linux")]
struct Reaped(std::process::Child);

#[cfg(target_os = "linux")]
impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// echod under `systemd-socket-activate -l 127.0.0.1:PORT` (with
/// `--datagram` for UDP), once the tool has bound the socket and said so;
/// it execs echod in its own process at the first connection or datagram.
/// The port is one found free a moment before: should another process
/// take it meanwhile, the tool fails to bind and another port is tried.
#[cfg(target_os = "linux")]
fn socket_activated(datagram: bool) -> (Reaped, SocketAddr, std::process::ChildStdout) {
    use std::process::Stdio;
    for _ in 0..5 {
        let addr = match datagram {
            true => UdpSocket::bind("127.0.0.1:0").unwrap().local_addr(),
            false => TcpListener::bind("127.0.0.1:0").unwrap().local_addr(),
        }
        .unwrap();
        let mut cmd = Command::new(SOCKET_ACTIVATE);
        if datagram {
            cmd.arg("--datagram");
        }
        cmd.args(["-l", &addr.to_string(), env!("CARGO_BIN_EXE_echod")])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .env_remove("LISTEN_PID")
            .env_remove("LISTEN_FDS")
            .env_remove("LISTEN_FDNAMES");
        let mut child = match cmd.spawn() {
            Ok(child) => Reaped(child),
            Err(e) => panic!(
                "cannot run {SOCKET_ACTIVATE} ({e}): install the Debian package `systemd` \
                 (apt-get install --no-install-recommends systemd), as .ci/run does"
            ),
        };
        let stdout = child.0.stdout.take().unwrap();
        let stderr = child.0.stderr.take().unwrap();
        // The tool's "Listening on ADDR as 3." is its ready line; every
        // stderr line, the tool's and then echod's, goes to the channel.
        let rx = util::lines_of(stderr, &[]);
        let mut said = Vec::new();
        loop {
            match rx.recv_timeout(IO_TIMEOUT) {
                Ok(line) if line.starts_with("Listening on ") => {
                    std::thread::spawn(move || for _ in rx {});
                    return (child, addr, stdout);
                }
                Ok(line) => said.push(line),
                Err(_) => break,
            }
        }
        if !said.iter().any(|l| l.contains("in use")) {
            panic!("{SOCKET_ACTIVATE} did not get ready: {said:?}");
        }
    }
    panic!("{SOCKET_ACTIVATE}: no free port in 5 tries");
}

/// echod's first stdout line: its `listening on` line for the socket the
/// tool passed.
#[cfg(target_os = "linux")]
fn first_line(stdout: std::process::ChildStdout) -> String {
    use std::io::BufRead;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = std::io::BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    rx.recv_timeout(IO_TIMEOUT).expect("a listening line")
}

/// SIGTERM to echod (the tool exec'd it in its own process) and its exit
/// status, once it has exited.
#[cfg(target_os = "linux")]
fn stop(child: &mut Reaped) -> Option<i32> {
    // SAFETY: plain kill(2) on our own child.
    assert_eq!(unsafe { libc::kill(child.0.id() as i32, libc::SIGTERM) }, 0);
    util::wait_child(&mut child.0, IO_TIMEOUT)
        .unwrap_or_else(|| panic!("echod did not exit within {IO_TIMEOUT:?} of SIGTERM"))
        .code()
}

#[cfg(target_os = "linux")]
#[test]
fn systemd_socket_activate_starts_echod_on_a_tcp_connection() {
    let (mut child, addr, stdout) = socket_activated(false);
    // The connection is what makes the tool exec echod, which then
    // accepts it from the inherited socket.
    ping(&mut connect(addr), b"activated by systemd over TCP");
    assert_eq!(first_line(stdout), format!("listening on tcp://{addr}\n"));
    assert_eq!(stop(&mut child), Some(0));
}

#[cfg(target_os = "linux")]
#[test]
fn systemd_socket_activate_starts_echod_on_a_udp_datagram() {
    let (mut child, addr, stdout) = socket_activated(true);
    // The datagram waits in the socket's queue while echod starts.
    udp_echo(addr, b"activated by systemd over UDP");
    assert_eq!(first_line(stdout), format!("listening on udp://{addr}\n"));
    udp_echo(addr, b"and served after that");
    assert_eq!(stop(&mut child), Some(0));
}
