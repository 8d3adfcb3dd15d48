//! Graceful shutdown: the first SIGTERM/SIGINT closes the listener, closes
//! quiet connections, flushes pending echo (a byte-exact prefix of what was
//! sent, then EOF) and exits 0; `--shutdown-timeout` bounds the flush; a
//! second signal exits at once with 128 + its number; SIGHUP changes none
//! of that.
//!
//! The drains of a client holding echo pending ([`NonReader`]) and the
//! late-input checks watch the server's socket queues in /proc/net/tcp,
//! so they are Linux only; the quiet and streaming cases run everywhere.

use crate::util;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::thread;
use std::time::Duration;

use libc::{SIGINT, SIGTERM};
use util::non_reader::PERIOD;
use util::{assert_exits, connect, pattern, per_model, ping, Server, IO_TIMEOUT};
#[cfg(target_os = "linux")]
use {
    libc::SIGHUP,
    util::non_reader::NonReader,
    util::{read_to_eof, seed_of, stop_line, tcp_queues, tcp_socket, wait_until},
};

/// TCP_ESTABLISHED in /proc/net/tcp's `st` column.
#[cfg(target_os = "linux")]
const ESTABLISHED: u8 = 1;

/// True once a new connection to `addr` fails: the listener is closed.
#[cfg(target_os = "linux")]
fn refuses(addr: std::net::SocketAddr) -> bool {
    TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_err()
}

/// True when the server has closed `s`: EOF or reset, no data.
fn closed_by_server(s: &mut TcpStream, within: Duration) -> bool {
    s.set_read_timeout(Some(within)).unwrap();
    let mut buf = [0u8; 64];
    match s.read(&mut buf) {
        Ok(0) => true,
        Ok(n) => panic!("unexpected data: {:?}", &buf[..n]),
        Err(e) => matches!(
            e.kind(),
            ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted
        ),
    }
}

/// Which lossless-close check the server runs (see `close_is_lossless` in
/// src/net.rs): Linux's exact one, or the portable one macOS and FreeBSD
/// use, forced on Linux by `ECHOD_PORTABLE_CLOSE=1`.
#[derive(Clone, Copy)]
enum Close {
    Exact,
    Portable,
}

impl Close {
    fn start(self, args: &[&str]) -> Server {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_echod"));
        cmd.args(args).args(["--listen", "127.0.0.1:0"]);
        if let Close::Portable = self {
            cmd.env("ECHOD_PORTABLE_CLOSE", "1");
        }
        Server::spawn(cmd, 1)
    }

    /// After the exit: the portable check did run (it says so once).
    fn assert_used(self, server: &mut Server, model: &str) {
        if let Close::Portable = self {
            let stderr = server.stderr();
            assert!(
                stderr.contains("ECHOD_PORTABLE_CLOSE=1: the lossless-close check"),
                "{model}: the portable close check never ran: {stderr:?}"
            );
        }
    }
}

/// Starts `spec` with a 30 s flush deadline and a client holding echo
/// pending ([`NonReader`]), sends SIGTERM, and returns once the listener
/// is closed, with the server still up to flush that echo.
#[cfg(target_os = "linux")]
fn draining(spec: &str) -> (Server, NonReader) {
    let mut server = Server::model(&format!("{spec} --shutdown-timeout 30s"));
    let addr = server.addr();
    let client = NonReader::start(&server, seed_of(spec));
    server.signal(SIGTERM);
    assert!(
        wait_until(IO_TIMEOUT, || refuses(addr)),
        "{spec}: listener still accepting after SIGTERM"
    );
    assert!(server.alive(), "{spec}: exited with echo still pending");
    (server, client)
}

/// SIGTERM with echo pending for a client that does not read: the
/// listener closes, the server stays up until that echo is flushed
/// (through a pipe when splicing, see src/reactor/splice.rs), then exits 0.
/// `lingers`: see [`NonReader::read_drained_echo`].
#[cfg(target_os = "linux")]
fn sigterm_flushes_pending_echo((spec, lingers): (&str, bool)) {
    let (mut server, client) = draining(spec);
    client.read_drained_echo(spec, lingers);
    assert_exits(&mut server, IO_TIMEOUT, 0, spec);
}

per_model!(#[cfg(target_os = "linux")] sigterm_flushes_pending_echo:
    reactor = ("reactor", true), reactor_splicing = ("reactor --splice always", true),
    threads = ("threads", false), tokio = ("tokio", true), iterative = ("iterative", false),
    uring = ("uring", true));

/// New connections must be refused as soon as shutdown begins, even while
/// an earlier client is still draining: otherwise the kernel completes
/// their handshakes into a backlog nobody will ever accept from, and they
/// hang until the process exits.
#[cfg(target_os = "linux")]
fn listener_closes_while_a_client_drains(model: &str) {
    let server = Server::start(&["--model", model, "--shutdown-timeout", "30s"]);
    let addr = server.addr();
    let _client = NonReader::start(&server, 4);
    server.signal(SIGTERM);
    assert!(
        wait_until(Duration::from_secs(3), || refuses(addr)),
        "{model}: listener still accepting 3 s after SIGTERM while a client drains"
    );
}

per_model!(#[cfg(target_os = "linux")] listener_closes_while_a_client_drains:
    reactor, threads, iterative, tokio, uring);

/// Quiet connections at the signal get EOF at once and, with nothing
/// pending, the server exits 0 long before its 30 s flush deadline.
/// `close`: which lossless-close check the server runs.
fn quiet_connections_close_and_exit_is_prompt(model: &str, sig: i32, close: Close) {
    // Iterative serves one client; a second would only wait in the backlog.
    let clients = if model == "iterative" { 1 } else { 3 };
    let mut server = close.start(&["--model", model, "--shutdown-timeout", "30s"]);
    let mut quiet: Vec<TcpStream> = (0..clients)
        .map(|i| {
            let mut c = connect(server.addr());
            ping(&mut c, format!("quiet {i}").as_bytes());
            c
        })
        .collect();
    server.signal(sig);
    for (i, c) in quiet.iter_mut().enumerate() {
        assert!(
            closed_by_server(c, Duration::from_secs(10)),
            "{model}: quiet connection {i} not closed after signal {sig}"
        );
    }
    if let Close::Portable = close {
        // The portable check counts the whole send queue, acknowledged or
        // not: the server exits once the clients have closed.
        quiet.clear();
    }
    assert_exits(&mut server, Duration::from_secs(10), 0, model);
    close.assert_used(&mut server, model);
}

per_model!(quiet_connections_close_and_exit_is_prompt(SIGTERM, Close::Exact):
    reactor, threads, tokio, #[cfg(target_os = "linux")] uring);
per_model!(sigint_behaves_like_sigterm =
    quiet_connections_close_and_exit_is_prompt(SIGINT, Close::Exact): reactor, tokio, iterative,
    #[cfg(target_os = "linux")] uring);

/// A client that never reads holds echo pending forever; the flush gives
/// up after `--shutdown-timeout` (500 ms), the server still exits 0, and
/// its stop line says the drain timed out and closed that client, not
/// that it drained. `spec` is a model and its flags.
#[cfg(target_os = "linux")]
fn shutdown_timeout_bounds_the_flush(spec: &str) {
    let mut server = Server::model(&format!("{spec} --shutdown-timeout 500ms"));
    let _client = NonReader::start(&server, 5);
    let t = std::time::Instant::now();
    server.signal(SIGTERM);
    assert_exits(&mut server, Duration::from_secs(10), 0, spec);
    let took = t.elapsed();
    assert!(
        took >= Duration::from_millis(400),
        "{spec}: exited after {took:?}, before the 500 ms flush period"
    );
    let line = stop_line(&server.stderr(), spec);
    // The line gives the time the drain really took, to 0.1 s: 0.5 s on
    // a quiet machine, a little more when the deadline's wake-up is late
    // on a busy one (0.6 s was seen there). Either is the truth.
    let after = line
        .split(", drain cut short by --shutdown-timeout after ")
        .nth(1)
        .and_then(|rest| rest.strip_suffix(" s: closed 1 connection still draining"))
        .and_then(|secs| secs.parse::<f64>().ok());
    assert!(
        after.is_some_and(|secs| (0.5..2.0).contains(&secs)),
        "{spec}: {line:?}"
    );
    assert!(!line.contains("drained in"), "{spec}: {line:?}");
}

per_model!(#[cfg(target_os = "linux")] shutdown_timeout_bounds_the_flush:
    reactor, reactors_2 = "reactor --threads 2", threads, tokio, iterative, uring);

/// With a flush that would take 30 s, SIGTERM then SIGINT exits at once
/// with 130 (128 + SIGINT), and the stop line says the second SIGINT cut
/// the drain short and closed the client still draining. The second
/// signal is sent only once the first has visibly been handled (the
/// listener refuses connects), so the two cannot be coalesced into one.
/// (Not a quiet client's EOF: a blocking model's client thread shuts its
/// socket a moment before it leaves the registry, so that client could
/// still count as draining.) `model` is a model and its flags.
#[cfg(target_os = "linux")]
fn second_signal_exits_at_once(model: &str) {
    let (mut server, _client) = draining(model);
    server.signal(SIGINT);
    let took = assert_exits(&mut server, Duration::from_secs(10), 130, model);
    assert!(took < Duration::from_secs(5), "{model}: took {took:?}");
    let line = stop_line(&server.stderr(), model);
    assert!(
        line.contains(", drain cut short by a second SIGINT after ")
            && line.ends_with(": closed 1 connection still draining"),
        "{model}: {line:?}"
    );
}

per_model!(#[cfg(target_os = "linux")] second_signal_exits_at_once:
    reactor, reactors_2 = "reactor --threads 2", threads, tokio, iterative, uring);

/// SIGHUP is not a second signal: while a client drains it is logged and
/// ignored like at any other time, and neither forces an exit (129) nor
/// ends the flush early.
#[cfg(target_os = "linux")]
fn sighup_while_draining_changes_nothing((model, lingers): (&str, bool)) {
    let (mut server, client) = draining(model);
    // Lines already written wait in the pipe: none is missed.
    let stderr = server.stderr_lines();
    server.signal(SIGHUP);
    let line = stderr
        .recv_timeout(IO_TIMEOUT)
        .unwrap_or_else(|_| panic!("{model}: no log line for SIGHUP"));
    assert!(line.contains("SIGHUP ignored"), "{model}: {line:?}");
    assert!(server.alive(), "{model}: SIGHUP ended the drain");
    client.read_drained_echo(model, lingers);
    assert_exits(&mut server, IO_TIMEOUT, 0, model);
}

per_model!(#[cfg(target_os = "linux")] sighup_while_draining_changes_nothing:
    reactor = ("reactor", true), threads = ("threads", false), tokio = ("tokio", true),
    iterative = ("iterative", false), uring = ("uring", true));

/// A client streaming full duplex (writing and reading as fast as it can)
/// when the signal comes must get a byte-exact prefix of its stream and
/// then a clean EOF: never a reset, which would destroy echo still queued
/// in the server. The server has to keep consuming (and discarding) input
/// after its EOF until the client closes; closing a socket with unread
/// input makes the kernel send RST and drop the unsent echo.
fn streaming_client_gets_eof_not_reset(model: &str) {
    let mut server = Server::start(&["--model", model, "--shutdown-timeout", "30s"]);
    let mut r = connect(server.addr());
    let period = pattern(9, PERIOD);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut w = r.try_clone().unwrap();
    let (copy, flag) = (period.clone(), stop.clone());
    let writer = thread::spawn(move || -> std::io::Result<usize> {
        let mut sent = 0;
        while !flag.load(std::sync::atomic::Ordering::SeqCst) {
            w.write_all(&copy[..64 << 10])?;
            sent += 64 << 10;
        }
        Ok(sent)
    });
    // Stream for a while before the signal, then until EOF.
    let mut got = 0usize;
    let mut buf = vec![0u8; 256 << 10];
    let mut signalled = false;
    let end = loop {
        if !signalled && got >= 4 << 20 {
            server.signal(SIGTERM);
            signalled = true;
        }
        match r.read(&mut buf) {
            Ok(0) => break Ok(()),
            Ok(n) => {
                for (i, b) in buf[..n].iter().enumerate() {
                    let at = got + i;
                    assert_eq!(*b, period[at % (64 << 10)], "{model}: byte {at} differs");
                }
                got += n;
            }
            Err(e) => break Err(e),
        }
    };
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    // The reactor keeps consuming input until the client closes, so the
    // writer is never reset.
    let sent = writer.join().unwrap();
    assert!(sent.is_ok(), "{model}: writer failed: {sent:?}");
    assert!(signalled, "{model}: EOF before the signal");
    if let Err(e) = end {
        panic!("{model}: after {got} bytes the drain ended in {e}, not EOF");
    }
    drop(r);
    assert_exits(&mut server, IO_TIMEOUT, 0, model);
}

per_model!(streaming_client_gets_eof_not_reset: reactor, tokio, #[cfg(target_os = "linux")] uring);

/// Input that arrives after the server has decided to stop (a client
/// still talking when the signal comes) must not destroy the echo the
/// server has already queued. Here the whole echo sits in the server's
/// socket when the signal arrives; the server ends its side (EOF after
/// the queued bytes), the client then sends a little more before reading.
/// Closing a socket outright and then receiving data makes the kernel
/// answer with RST and throw away the unsent echo; a server that
/// half-closes and keeps discarding input until the client closes does
/// not.
#[cfg(target_os = "linux")]
fn late_input_does_not_destroy_queued_echo(model: &str, close: Close) {
    let mut server = close.start(&["--model", model, "--shutdown-timeout", "30s"]);
    let addr = server.addr();
    let mut c = connect(addr);
    let peer = c.local_addr().unwrap();
    let data = pattern(11, 512 << 10);
    c.write_all(&data).unwrap();
    // All of it read by the server, much of it queued for us unread. Our
    // own send queue must be empty too: bytes still in it reach the server
    // after the signal, as late input, and are discarded, not echoed (a
    // flake in about one run in seven while only the server's side was
    // checked).
    let queued = wait_until(IO_TIMEOUT, || {
        tcp_queues(addr, peer).is_some_and(|(tx, rx)| rx == 0 && tx >= 64 << 10)
            && tcp_queues(peer, addr).is_some_and(|(tx, _)| tx == 0)
    });
    assert!(queued, "{model}: the echo never queued up in the server");
    server.signal(SIGTERM);
    let ended = wait_until(IO_TIMEOUT, || {
        !matches!(tcp_socket(addr, peer), Some((ESTABLISHED, _, _)))
    });
    assert!(
        ended,
        "{model}: the server never ended its side after SIGTERM"
    );
    c.write_all(b"one more thing").unwrap();
    let got = read_to_eof(&mut c).unwrap_or_else(|e| {
        panic!("{model}: the queued echo was destroyed ({e}) by input sent after the signal")
    });
    assert!(
        got.len() >= data.len(),
        "{model}: {} of {} bytes echoed",
        got.len(),
        data.len()
    );
    assert_eq!(&got[..data.len()], &data[..], "{model}: echo differs");
    drop(c);
    assert_exits(&mut server, IO_TIMEOUT, 0, model);
    close.assert_used(&mut server, model);
}

per_model!(#[cfg(target_os = "linux")] late_input_does_not_destroy_queued_echo(Close::Exact):
    reactor, threads, tokio, iterative, uring);

// ---- the portable lossless-close check, forced on Linux ----
//
// macOS and FreeBSD cannot count unsent bytes apart from unacknowledged
// ones; they count the whole send queue. ECHOD_PORTABLE_CLOSE=1 makes
// echod on Linux do the same, so the drains above run here through the
// path those platforms take, and must lose no echo there either.

// Quiet connections under the portable check: each gets EOF after the
// signal, and the server exits 0 once they close, long before the 30 s
// flush deadline.
per_model!(portable_quiet_connections_get_eof_and_exit_is_prompt =
    quiet_connections_close_and_exit_is_prompt(SIGTERM, Close::Portable): reactor, threads, tokio,
    #[cfg(target_os = "linux")] uring);

// Linux only: the check sees the queues in /proc/net/tcp.
per_model!(#[cfg(target_os = "linux")] portable_close_late_input_does_not_destroy_queued_echo =
    late_input_does_not_destroy_queued_echo(Close::Portable): reactor, threads, tokio, uring);
