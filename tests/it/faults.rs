//! Peer faults: clients that reset (RST) instead of closing, at every
//! stage of a connection. A reset costs that connection only: the server
//! stays up, keeps serving everyone else, accepts new clients, and gives
//! back every descriptor (and, for `threads`, every thread) it used.

use crate::util;

use std::io::{self, Write};
use std::net::TcpStream;

use util::{connect, connect_small, echo_all, pattern, per_model, ping, set_linger_zero, Server};
#[cfg(target_os = "linux")]
use util::{wait_until, IO_TIMEOUT};

/// Threads of process `pid`, from /proc. Local helper: tests/it/util counts
/// descriptors but not threads.
#[cfg(target_os = "linux")]
fn thread_count(pid: i32) -> usize {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    s.lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("Threads: in /proc/pid/status")
}

/// Writes as much of `data` as the socket takes without blocking.
fn write_some(s: &mut TcpStream, data: &[u8]) -> io::Result<usize> {
    s.set_nonblocking(true)?;
    let mut sent = 0;
    while sent < data.len() {
        match s.write(&data[sent..]) {
            Ok(n) => sent += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) => return Err(e),
        }
    }
    s.set_nonblocking(false)?;
    Ok(sent)
}

/// Resets `s`: SO_LINGER 0 makes the close send RST instead of FIN.
fn reset(s: TcpStream) {
    set_linger_zero(&s);
    drop(s);
}

/// What the server holds with only the healthy client connected (and
/// served once, so every thread and descriptor of startup exists), so
/// leaks show as a difference after the faulty clients are gone.
/// Off Linux the counts are not to be had (they come from /proc), and
/// only the serving half of [`Baseline::assert_recovered`] is checked.
struct Baseline {
    #[cfg(target_os = "linux")]
    fds: usize,
    #[cfg(target_os = "linux")]
    threads: usize,
}

impl Baseline {
    fn of(server: &Server) -> Baseline {
        let _ = server;
        Baseline {
            #[cfg(target_os = "linux")]
            fds: server.fd_count(),
            #[cfg(target_os = "linux")]
            threads: thread_count(server.pid()),
        }
    }

    /// Asserts the server is up, still serves `healthy` (opened before the
    /// trouble), echoes for a new client, and gets back to the baseline
    /// descriptors (and, for `threads`, threads).
    fn assert_recovered(&self, server: &mut Server, healthy: &mut TcpStream, model: &str) {
        assert!(server.alive(), "{model}: server died: {}", server.stderr());
        ping(healthy, b"still there after the resets?");
        let data = pattern(99, 100_000);
        assert!(
            echo_all(connect(server.addr()), data.clone(), 8192) == data,
            "{model}: a new client's echo differs"
        );
        #[cfg(target_os = "linux")]
        self.assert_nothing_leaked(server, model);
    }

    /// The descriptors (and, for `threads`, threads) are back to the
    /// baseline.
    #[cfg(target_os = "linux")]
    fn assert_nothing_leaked(&self, server: &mut Server, model: &str) {
        let fds_back = wait_until(IO_TIMEOUT, || server.fd_count() <= self.fds);
        assert!(
            fds_back,
            "{model}: descriptors leaked: {} open, baseline {}",
            server.fd_count(),
            self.fds
        );
        if model == "threads" {
            let threads_back =
                wait_until(IO_TIMEOUT, || thread_count(server.pid()) <= self.threads);
            assert!(
                threads_back,
                "threads: client threads leaked: {} running, baseline {}",
                thread_count(server.pid()),
                self.threads
            );
        }
    }
}

/// 500 clients in five rounds of 100, each reset at a different stage:
/// before sending, after a small message, and mid-transfer with echo still
/// pending on the server (a client with tiny buffers that never reads).
fn rst_storm(model: &str) {
    let mut server = Server::start(&["--model", model]);
    let mut healthy = connect(server.addr());
    ping(&mut healthy, b"before the storm");
    let base = Baseline::of(&server);
    let bulk = pattern(7, 256 << 10);
    for round in 0..5 {
        let mut clients = Vec::with_capacity(100);
        for i in 0..100 {
            let mut s = if i % 4 == 3 {
                connect_small(server.addr(), 4096, 4096)
            } else {
                connect(server.addr())
            };
            match i % 4 {
                0 => {}
                1 => s.write_all(b"hello, then reset").expect("write"),
                _ => {
                    write_some(&mut s, &bulk).expect("write");
                }
            }
            clients.push(s);
        }
        clients.into_iter().for_each(reset);
        ping(&mut healthy, format!("after round {round}").as_bytes());
    }
    base.assert_recovered(&mut server, &mut healthy, model);
}

per_model!(rst_storm: reactor, threads, tokio, #[cfg(target_os = "linux")] uring);

/// Clients that reset straight after the handshake, often before the
/// server has even accepted them.
fn immediate_resets(model: &str) {
    let mut server = Server::start(&["--model", model]);
    let mut healthy = connect(server.addr());
    ping(&mut healthy, b"before");
    let base = Baseline::of(&server);
    for _ in 0..300 {
        reset(connect(server.addr()));
    }
    base.assert_recovered(&mut server, &mut healthy, model);
}

per_model!(immediate_resets: reactor, threads, tokio, #[cfg(target_os = "linux")] uring);

/// Resets while the server is blocked on a full send buffer, Linux only:
/// seeing it blocked takes its socket queues, from /proc/net/tcp.
#[cfg(target_os = "linux")]
mod blocked {
    use super::*;
    use std::net::SocketAddr;
    use util::{connect_non_reader, tcp_queues};

    /// A client that never reads: a 4 KiB receive buffer, so the server can
    /// hand it almost nothing, and a 1 MiB send buffer, so it can push fast
    /// enough to fill the server quickly.
    const NON_READER_SNDBUF: usize = 1 << 20;

    /// Pushes data through a client that never reads until the server is seen
    /// stuck: the client can send nothing more, and the server's end has echo
    /// it cannot send and input it has not read, unchanged since the last look
    /// (the reactor with a full buffer, a `threads` client thread blocked in
    /// `write`).
    fn block_server_on_full_send_buffer(server: SocketAddr, s: &mut TcpStream) {
        let me = s.local_addr().unwrap();
        let chunk = pattern(3, 256 << 10);
        let mut last_rx = 0;
        let blocked = wait_until(IO_TIMEOUT, || {
            let mut sent = 0;
            loop {
                let n = write_some(s, &chunk).expect("write");
                sent += n;
                if n < chunk.len() {
                    break;
                }
            }
            let Some((tx, rx)) = tcp_queues(server, me) else {
                return false;
            };
            let stuck = sent == 0 && tx > 0 && rx > 0 && rx == last_rx;
            last_rx = rx;
            stuck
        });
        assert!(
            blocked,
            "server never blocked on a client that does not read"
        );
    }

    fn reset_while_blocked(model: &str) {
        let mut server = Server::start(&["--model", model]);
        let mut healthy = connect(server.addr());
        ping(&mut healthy, b"before");
        let base = Baseline::of(&server);
        // Several at once, so the server has many blocked peers when they go.
        let mut stuck: Vec<TcpStream> = (0..4)
            .map(|_| connect_non_reader(server.addr(), NON_READER_SNDBUF))
            .collect();
        for s in &mut stuck {
            block_server_on_full_send_buffer(server.addr(), s);
        }
        ping(
            &mut healthy,
            b"others are still served while those are stuck",
        );
        stuck.into_iter().for_each(reset);
        base.assert_recovered(&mut server, &mut healthy, model);
        // Once more on the same server: the reset path must not have left it
        // in a state where the next blocked client is handled differently.
        let mut s = connect_non_reader(server.addr(), NON_READER_SNDBUF);
        block_server_on_full_send_buffer(server.addr(), &mut s);
        reset(s);
        base.assert_recovered(&mut server, &mut healthy, model);
    }

    per_model!(reset_while_blocked: reactor, threads, tokio, uring);
}
