//! TCP urgent data (`send(MSG_OOB)`, as telnet's Synch sends it) in the
//! middle of a stream.
//!
//! Linux stops a `read` at the urgent mark, so the server's read comes back
//! short while the bytes after the mark are already queued. A server that
//! takes a short read for "drained" and waits for the next readiness edge
//! then sits on those bytes until the client happens to send more: the
//! reactor did, after it learned to skip the `read` that only says
//! `WouldBlock`. Every byte, the urgent one included, must come back in
//! order (echod sets `SO_OOBINLINE`: see `src/net.rs`, `urgent_inline`).
//!
//! The deterministic case stops the server (SIGSTOP) while the client
//! sends, waits until the server's receive queue holds every byte, and
//! lets it go: its first read then stops at the mark for certain.
#![cfg(target_os = "linux")] // /proc/net/tcp, /proc/PID/stat, MSG_OOB semantics

use crate::util;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use util::{connect, pattern, tcp_queues, wait_until, Server};

/// The models that echo every byte after urgent data. tokio is not among
/// them: see [`tokio_model_stalls_after_urgent_data`].
/// The reactor also with every read a splice: a splice stops before the
/// urgent mark and cannot cross it (see src/reactor/splice.rs).
const MODELS: [&str; 5] = [
    "reactor",
    "reactor --splice always",
    "threads",
    "iterative",
    "uring",
];

/// "Promptly": the whole echo within this, once the server runs.
const PROMPT: Duration = Duration::from_secs(1);

/// Sends `byte` as TCP urgent data.
fn send_urgent(s: &impl AsRawFd, byte: u8) {
    // SAFETY: send(2) reads one byte from a live local.
    let n = unsafe { libc::send(s.as_raw_fd(), [byte].as_ptr().cast(), 1, libc::MSG_OOB) };
    assert_eq!(n, 1, "send(MSG_OOB): {}", std::io::Error::last_os_error());
}

/// A stream whose reads can time out: TCP or Unix.
trait Timed: Read {
    fn read_timeout(&self, t: Duration);
}

impl Timed for TcpStream {
    fn read_timeout(&self, t: Duration) {
        self.set_read_timeout(Some(t)).unwrap();
    }
}

impl Timed for std::os::unix::net::UnixStream {
    fn read_timeout(&self, t: Duration) {
        self.set_read_timeout(Some(t)).unwrap();
    }
}

/// Reads until `want` bytes came or `limit` passed; returns what came.
fn read_for(s: &mut impl Timed, want: usize, limit: Duration) -> Vec<u8> {
    let end = Instant::now() + limit;
    let mut got = Vec::new();
    let mut buf = [0u8; 65536];
    while got.len() < want {
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        s.read_timeout(left);
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => break,
            Err(e) => panic!("read: {e}"),
        }
    }
    got
}

/// Server CPU ticks (1/100 s) used over `span` while nothing is sent: a
/// connection left spinning on its socket would use about all of them.
fn idle_ticks(server: &Server, span: Duration) -> u64 {
    let before = server.cpu_ticks();
    std::thread::sleep(span); // measuring an interval, not waiting for an event
    server.cpu_ticks() - before
}

/// `abc`, urgent `!`, `def`, all queued at a server started as `model`
/// before it reads; returns the server, the client and what came back
/// within [`PROMPT`], as text.
fn urgent_while_stopped(model: &str) -> (Server, TcpStream, String) {
    let server = Server::model(model);
    let mut stream = connect(server.addr());
    stream.set_nodelay(true).unwrap();
    let client = &mut stream;
    let (local, remote) = (client.local_addr().unwrap(), server.addr());
    // Accepted and served first: the reads below are a connection's
    // ordinary reads, not its first one after accept.
    util::ping(client, b"ready");
    server.freeze();
    client.write_all(b"abc").unwrap();
    send_urgent(client, b'!');
    client.write_all(b"def").unwrap();
    // Every byte in the server's receive queue (urgent one included), so
    // its first read after SIGCONT meets the mark.
    let queued = wait_until(Duration::from_secs(10), || {
        tcp_queues(remote, local).is_some_and(|(_, rx)| rx == 7)
    });
    server.signal(libc::SIGCONT);
    assert!(
        queued,
        "the 7 bytes never reached the server's receive queue"
    );
    let got = read_for(client, 7, PROMPT);
    (server, stream, String::from_utf8_lossy(&got).into_owned())
}

#[test]
fn bytes_after_urgent_data_are_echoed_promptly_in_every_model() {
    for model in MODELS {
        let (server, mut client, got) = urgent_while_stopped(model);
        assert_eq!(
            got, "abc!def",
            "{model}: every byte, the urgent one inline, within {PROMPT:?}"
        );
        // Still a working echo, and not spinning on the socket.
        util::ping(&mut client, b"after");
        let ticks = idle_ticks(&server, Duration::from_millis(500));
        assert!(
            ticks < 20,
            "{model}: {ticks} ticks of CPU in 0.5 s of silence"
        );
    }
}

/// tokio's `TcpStream` clears its read readiness after any read that fills
/// less than the buffer, as the reactor once did, and does not register
/// for `EPOLLPRI`: the bytes after the mark wait for the client's next
/// send. The tokio model is kept as a tokio user writes it, so this test
/// shows the flaw rather than hiding it. If it fails because everything
/// came back, tokio has fixed it: move the model into [`MODELS`] and
/// update docs/operations.md ("Urgent data").
#[test]
fn tokio_model_stalls_after_urgent_data() {
    let (_server, mut client, got) = urgent_while_stopped("tokio");
    assert_eq!(
        got, "abc",
        "the tokio model echoed past the urgent mark: has tokio fixed the stall?"
    );
    // Any later input announces the stuck bytes too.
    client.write_all(b"x").unwrap();
    let rest = read_for(&mut client, 5, Duration::from_secs(10));
    assert_eq!(String::from_utf8_lossy(&rest), "!defx");
}

/// Urgent bytes in the middle of bulk traffic, many times over, without
/// stopping the server: every byte back in order.
#[test]
fn urgent_bytes_inside_bulk_traffic_keep_the_stream_exact() {
    for model in MODELS {
        let server = Server::model(model);
        let mut client = connect(server.addr());
        let mut sent = Vec::new();
        let mut got = Vec::new();
        for round in 0..20u64 {
            let before = pattern(round, 1 + (round as usize * 7919) % 100_000);
            let after = pattern(round + 100, 1 + (round as usize * 104_729) % 3000);
            client.write_all(&before).unwrap();
            send_urgent(&client, round as u8);
            client.write_all(&after).unwrap();
            sent.extend_from_slice(&before);
            sent.push(round as u8);
            sent.extend_from_slice(&after);
            // Read back this round before the next: the last bytes of each
            // round are the ones a stall would hold.
            let want = sent.len() - got.len();
            got.extend(read_for(&mut client, want, Duration::from_secs(10)));
            assert_eq!(got.len(), sent.len(), "{model} round {round}: echo stalled");
        }
        assert!(got == sent, "{model}: echo differs from what was sent");
    }
}

/// Linux carries `MSG_OOB` over Unix stream sockets too (5.15 and later),
/// and a read stops at its mark there as well. An accepted Unix socket
/// does not inherit `SO_OOBINLINE` from its listener, so echod sets it on
/// each one.
#[test]
fn urgent_data_over_a_unix_socket_is_echoed_inline() {
    use std::os::unix::net::UnixStream;
    let dir = std::env::temp_dir().join(format!("echod-urgent-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("s");
    let listen = format!("unix:{}", path.display());
    for model in MODELS {
        let server = Server::start(
            &[
                &["--model"],
                model.split_whitespace().collect::<Vec<_>>().as_slice(),
                &["--listen", &listen],
            ]
            .concat(),
        );
        let mut client = UnixStream::connect(&path).unwrap();
        client.write_all(b"ready").unwrap();
        assert_eq!(read_for(&mut client, 5, Duration::from_secs(10)), b"ready");
        server.freeze();
        client.write_all(b"abc").unwrap();
        // SAFETY: as in `send_urgent`.
        let n = unsafe { libc::send(client.as_raw_fd(), b"!".as_ptr().cast(), 1, libc::MSG_OOB) };
        if n != 1 {
            server.signal(libc::SIGCONT);
            let e = std::io::Error::last_os_error();
            assert_eq!(
                e.raw_os_error(),
                Some(libc::EOPNOTSUPP),
                "send(MSG_OOB): {e}"
            );
            eprintln!("this kernel has no MSG_OOB on Unix sockets: nothing to check");
            break;
        }
        // A Unix send lands in the peer's queue before it returns.
        client.write_all(b"def").unwrap();
        server.signal(libc::SIGCONT);
        let got = read_for(&mut client, 7, PROMPT);
        assert_eq!(
            String::from_utf8_lossy(&got),
            "abc!def",
            "{model} over unix:"
        );
        drop(server);
    }
    let _ = std::fs::remove_dir_all(&dir);
}
