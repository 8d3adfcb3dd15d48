//! `--listen unix:PATH`: a Unix stream socket served by every model. The
//! echo is byte-exact (64 MiB streamed, half-close); a stale socket file
//! is replaced, a live one and anything that is not a socket are refused
//! and left alone; the file is removed when the daemon stops; `--unix-mode`
//! sets its permission bits. The threads, iterative, tokio and uring
//! models serve it as they serve TCP: echo through a half-close, `--idle-timeout`,
//! `--max-conns`, the drain on SIGTERM (the listener stops at once, even
//! while the iterative model is busy with a client) and the file removed.

use crate::util;

use std::fs;
use std::io::{ErrorKind, Read, Write};
use std::net::Shutdown;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use util::{
    assert_exits, assert_usage_error, connect, pattern, per_model, ping, socket_path, unix_connect,
    unix_ping, wait_until, Server, SocketPath, IO_TIMEOUT,
};

fn listen_arg(path: &Path) -> String {
    format!("unix:{}", path.display())
}

fn start(path: &Path, extra: &[&str]) -> Server {
    let listen = listen_arg(path);
    let mut args = vec!["--listen", listen.as_str()];
    args.extend_from_slice(extra);
    let server = Server::start(&args);
    assert_eq!(
        server.paths(),
        [path.to_path_buf()],
        "announced as unix://PATH"
    );
    server
}

/// `--model MODEL EXTRA` on a socket of its own, in a directory named
/// after `test` and the model.
fn start_model(test: &str, model: &str, extra: &[&str]) -> (SocketPath, Server) {
    let path = socket_path(&format!("{test}-{model}"));
    let mut args = vec!["--model", model];
    args.extend_from_slice(extra);
    let server = start(&path, &args);
    (path, server)
}

/// Sends `size` bytes of pattern `seed` from a second thread (more than
/// the socket buffers hold, so writing and reading must overlap) and
/// expects them back exactly; `what` names the server in messages.
fn echo_exact(s: &mut UnixStream, seed: u64, size: usize, what: &str) {
    let data = pattern(seed, size);
    let writer = {
        let mut w = s.try_clone().unwrap();
        let data = data.clone();
        thread::spawn(move || w.write_all(&data))
    };
    let mut got = vec![0; size];
    s.read_exact(&mut got)
        .unwrap_or_else(|e| panic!("{what}: {size} bytes: {e}"));
    writer.join().unwrap().unwrap();
    assert!(got == data, "{what}: {size} bytes differ");
}

#[test]
fn unix_echo_is_byte_exact_through_a_half_close() {
    let path = socket_path("exact");
    let server = start(&path, &[]);
    let mut s = unix_connect(&path);
    for (i, size) in [1, 2, 100, 4096, 65_537, 300_000].into_iter().enumerate() {
        echo_exact(&mut s, i as u64, size, "reactor");
    }
    // Half-close: the last bytes still come back, then EOF.
    s.write_all(b"last words").unwrap();
    s.shutdown(Shutdown::Write).unwrap();
    let mut rest = Vec::new();
    s.read_to_end(&mut rest).unwrap();
    assert_eq!(rest, b"last words");
    drop(server);
}

#[test]
fn sixty_four_mib_stream_over_a_unix_socket() {
    const TOTAL: usize = 64 << 20;
    const CHUNK: usize = 1 << 20;
    let path = socket_path("stream");
    let _server = start(&path, &[]);
    let mut r = unix_connect(&path);
    let mut w = r.try_clone().unwrap();
    let writer = thread::spawn(move || -> std::io::Result<()> {
        for i in 0..TOTAL / CHUNK {
            w.write_all(&pattern(i as u64, CHUNK))?;
        }
        w.shutdown(Shutdown::Write)
    });
    let mut got = vec![0; CHUNK];
    for i in 0..TOTAL / CHUNK {
        r.read_exact(&mut got)
            .unwrap_or_else(|e| panic!("after {} MiB: {e}", i));
        assert!(got == pattern(i as u64, CHUNK), "MiB {i} differs");
    }
    let mut tail = Vec::new();
    r.read_to_end(&mut tail).unwrap();
    assert!(tail.is_empty(), "{} bytes past the end", tail.len());
    writer.join().unwrap().unwrap();
}

#[test]
fn unix_and_tcp_listeners_share_one_reactor() {
    let path = socket_path("both");
    let listen = listen_arg(&path);
    let server = Server::start(&["--listen", "127.0.0.1:0", "--listen", &listen]);
    ping(&mut connect(server.addr()), b"over tcp");
    unix_ping(&mut unix_connect(&path), b"over unix");
}

#[test]
fn a_stale_socket_file_is_replaced() {
    let path = socket_path("stale");
    // What a killed daemon leaves: a socket file nobody accepts on.
    drop(UnixListener::bind(&path).unwrap());
    assert!(fs::symlink_metadata(&path).unwrap().file_type().is_socket());
    let _server = start(&path, &[]);
    unix_ping(&mut unix_connect(&path), b"fresh");
}

#[test]
fn a_live_socket_is_refused_and_keeps_serving() {
    let path = socket_path("live");
    let _first = start(&path, &[]);
    assert_usage_error(&["--listen", &listen_arg(&path)], "already in use");
    assert_usage_error(
        &["--listen", &listen_arg(&path)],
        &path.display().to_string(),
    );
    unix_ping(&mut unix_connect(&path), b"still mine");
}

#[test]
fn a_regular_file_at_the_path_is_refused_and_left_untouched() {
    let path = socket_path("regular");
    fs::write(&path, "precious data").unwrap();
    assert_usage_error(
        &["--listen", &listen_arg(&path)],
        &path.display().to_string(),
    );
    assert_usage_error(&["--listen", &listen_arg(&path)], "not a socket");
    assert_eq!(fs::read_to_string(&path).unwrap(), "precious data");
}

#[test]
fn the_socket_file_is_removed_after_sigterm() {
    let path = socket_path("sigterm");
    let mut server = start(&path, &[]);
    let mut c = unix_connect(&path);
    unix_ping(&mut c, b"before");
    server.signal(libc::SIGTERM);
    // A quiet client is closed at once: EOF, not a reset.
    let mut rest = Vec::new();
    c.read_to_end(&mut rest).expect("a clean EOF");
    assert!(rest.is_empty());
    let status = server.wait_exit(IO_TIMEOUT).expect("exited");
    assert_eq!(status.code(), Some(0), "{}", server.stderr());
    assert!(!path.exists(), "socket file left behind");
}

// The second-signal exit cuts the drain short; the file is gone already,
// removed when the listener closed at the first signal.
/// Whether `s` becomes writable within `limit` (poll(2) for POLLOUT).
fn writable_within(s: &UnixStream, limit: Duration) -> bool {
    use std::os::fd::AsRawFd;
    let mut fd = libc::pollfd {
        fd: s.as_raw_fd(),
        events: libc::POLLOUT,
        revents: 0,
    };
    let ms = libc::c_int::try_from(limit.as_millis()).unwrap_or(libc::c_int::MAX);
    // SAFETY: one valid pollfd, for the duration of the call.
    let n = unsafe { libc::poll(&mut fd, 1, ms) };
    assert!(n >= 0, "poll: {}", std::io::Error::last_os_error());
    n == 1
}

#[test]
fn the_socket_file_is_removed_when_a_second_signal_cuts_the_drain() {
    let path = socket_path("forced");
    let mut server = start(&path, &["--shutdown-timeout", "60s"]);
    // A client that sends and never reads: its echo stays pending, so the
    // drain cannot finish on its own.
    let mut c = unix_connect(&path);
    // Accepted first: a connection still in the listener's backlog is
    // dropped with the listener at the first signal, and the drain would
    // rightly end at once with nothing to wait for.
    unix_ping(&mut c, b"accepted");
    c.set_nonblocking(true).unwrap();
    // The first WouldBlock is not yet backpressure: the server may still
    // read all of it and echo it into our receive queue, which leaves it
    // nothing pending (and a drain that may end at once). Keep writing
    // until the socket stays unwritable: the server has stopped reading
    // because its echo cannot go anywhere.
    let chunk = vec![7u8; 64 << 10];
    let mut sent = 0;
    loop {
        match (&c).write(&chunk) {
            Ok(n) => sent += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                if !writable_within(&c, Duration::from_millis(500)) {
                    break;
                }
            }
            Err(e) => panic!("write: {e}"),
        }
        assert!(sent < 1 << 30, "the server never pushed back");
    }
    server.signal(libc::SIGTERM);
    assert!(
        wait_until(IO_TIMEOUT, || !path.exists()),
        "file kept during the drain"
    );
    assert!(server.alive(), "the drain ended with echo pending");
    server.signal(libc::SIGTERM);
    let status = server.wait_exit(IO_TIMEOUT).expect("exited");
    assert_eq!(status.code(), Some(128 + libc::SIGTERM));
    assert!(!path.exists());
}

#[test]
fn unix_mode_sets_the_permission_bits() {
    for (mode, want) in [("600", 0o600), ("0666", 0o666)] {
        let path = socket_path(&format!("mode{mode}"));
        let _server = start(&path, &["--unix-mode", mode]);
        let got = fs::metadata(&path).unwrap().permissions().mode() & 0o7777;
        assert_eq!(got, want, "--unix-mode {mode}: {got:o}");
        unix_ping(&mut unix_connect(&path), b"allowed");
    }
}

#[test]
fn bad_unix_modes_and_paths_name_the_flag() {
    let path = socket_path("badmode");
    let listen = listen_arg(&path);
    for bad in ["999", "rw", "-1", "4755", ""] {
        assert_usage_error(&["--listen", &listen, "--unix-mode", bad], "--unix-mode");
    }
    // Nothing to apply it to.
    assert_usage_error(
        &["--listen", "127.0.0.1:0", "--unix-mode", "600"],
        "--unix-mode 600",
    );
    assert_usage_error(&["--listen", "unix:"], "--listen");
    let long = format!("unix:/tmp/{}", "x".repeat(200));
    assert_usage_error(&["--listen", &long], "cannot listen on unix:///tmp/xxx");
    assert!(!path.exists());
}

#[test]
fn the_scratch_directory_goes_with_its_guard() {
    let path = socket_path("guard");
    let dir = path.dir.clone();
    let _server = start(&path, &[]);
    assert!(dir.exists());
    drop(path);
    assert!(!dir.exists(), "{dir:?} left behind");
}

// ---- the other models ----

/// Byte-exact echo in each model, then the half-close: the last bytes
/// still come back, then EOF.
fn other_models_echo_through_a_half_close(model: &str) {
    let (path, mut server) = start_model("echo", model, &[]);
    let mut s = unix_connect(&path);
    for (i, size) in [1, 4096, 300_000].into_iter().enumerate() {
        echo_exact(&mut s, i as u64, size, model);
    }
    s.write_all(b"last words").unwrap();
    s.shutdown(Shutdown::Write).unwrap();
    let mut rest = Vec::new();
    s.read_to_end(&mut rest)
        .unwrap_or_else(|e| panic!("{model}: {e}"));
    assert_eq!(rest, b"last words", "{model}");
    assert!(server.alive(), "{model}: {}", server.stderr());
}

per_model!(other_models_echo_through_a_half_close: threads, iterative, tokio, #[cfg(target_os = "linux")] uring);

/// After SIGTERM the listener refuses at once, even in the iterative
/// model while it is busy with a client (the signal thread stops it, see
/// `models/blocking/listeners.rs`); the client being served keeps its
/// echo and gets EOF after it; the file is removed; exit 0.
fn other_models_stop_listening_and_drain_on_sigterm(model: &str) {
    let (path, mut server) = start_model("drain", model, &[]);
    let mut busy = unix_connect(&path);
    unix_ping(&mut busy, b"before");
    server.signal(libc::SIGTERM);
    let refused = wait_until(IO_TIMEOUT, || UnixStream::connect(&*path).is_err());
    assert!(refused, "{model}: still accepting after SIGTERM");
    assert!(
        wait_until(IO_TIMEOUT, || !path.exists()),
        "{model}: socket file kept during the drain"
    );
    // Nothing in hand: the server closes the quiet client cleanly.
    let mut rest = Vec::new();
    busy.read_to_end(&mut rest)
        .unwrap_or_else(|e| panic!("{model}: not a clean EOF: {e}"));
    assert!(rest.is_empty(), "{model}: {rest:?}");
    assert_exits(&mut server, IO_TIMEOUT, 0, model);
}

per_model!(other_models_stop_listening_and_drain_on_sigterm: threads, iterative, tokio,
    #[cfg(target_os = "linux")] uring);

/// `--idle-timeout` closes a silent Unix client, as a TCP one.
fn other_models_close_idle_unix_clients(model: &str) {
    let (path, _server) = start_model("idle", model, &["--idle-timeout", "300ms"]);
    let mut s = unix_connect(&path);
    unix_ping(&mut s, b"then silence");
    let t = Instant::now();
    let mut buf = [0u8; 8];
    let ended = s.read(&mut buf);
    assert!(closed(&ended), "{model}: idle client not closed: {ended:?}");
    let waited = t.elapsed();
    assert!(
        waited >= Duration::from_millis(250) && waited < IO_TIMEOUT,
        "{model}: closed after {waited:?}"
    );
}

per_model!(other_models_close_idle_unix_clients: threads, iterative, tokio, #[cfg(target_os = "linux")] uring);

/// The server closed the connection: EOF, or an error other than a
/// timeout.
fn closed(read: &std::io::Result<usize>) -> bool {
    matches!(read, Ok(0))
        || read
            .as_ref()
            .is_err_and(|e| e.kind() != ErrorKind::WouldBlock)
}

/// `--max-conns 1`: a second Unix client is closed at once while the
/// first is served (threads, tokio and uring; the iterative model serves one
/// at a time anyway).
fn other_models_apply_max_conns_to_unix_clients(model: &str) {
    let (path, _server) = start_model("max", model, &["--max-conns", "1"]);
    let mut first = unix_connect(&path);
    unix_ping(&mut first, b"served");
    let mut second = unix_connect(&path);
    let mut buf = [0u8; 8];
    let _ = second.write_all(b"refused?");
    let got = second.read(&mut buf);
    assert!(
        closed(&got),
        "{model}: a client over --max-conns was served: {got:?}"
    );
    unix_ping(&mut first, b"still served");
}

per_model!(other_models_apply_max_conns_to_unix_clients: threads, tokio, #[cfg(target_os = "linux")] uring);

#[test]
fn every_model_serves_unix() {
    let path = socket_path("models");
    let listen = listen_arg(&path);
    for &model in util::MODELS {
        let server = Server::start(&["--model", model, "--listen", &listen]);
        unix_ping(&mut unix_connect(&path), model.as_bytes());
        drop(server);
    }
}
