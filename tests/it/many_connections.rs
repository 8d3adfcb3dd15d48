//! Thousands of clients at once: each gets its own echo, whole and
//! unmixed, while all of them are connected; afterwards the server is back
//! to the descriptors it started with.

use crate::util;

use std::io::Write;
use std::net::TcpStream;

use util::{
    connect, pattern, per_model, ping, raise_fd_limit, read_n, read_to_eof, wait_until, Server,
    IO_TIMEOUT,
};

/// Client `i`'s message: its number, then bytes no other client sends, of
/// a length that differs from its neighbours' so a reply cut short or
/// running into another's shows.
fn message(i: usize) -> Vec<u8> {
    let mut m = format!("client {i:05}|").into_bytes();
    m.extend(pattern(i as u64 + 1, 16 + (i * 7919) % 241));
    m
}

/// The server's open descriptors, where they can be counted (Linux, from
/// /proc); elsewhere the descriptor checks are skipped.
fn fd_count(server: &Server) -> Option<usize> {
    #[cfg(target_os = "linux")]
    return Some(server.fd_count());
    #[cfg(not(target_os = "linux"))]
    {
        let _ = server;
        None
    }
}

/// Opens `n` connections, all before any of them sends; each sends its own
/// message, and only then are the replies read, in reverse order, each
/// checked against its own message. With every connection still open the
/// server must hold one descriptor per client; once all close, none.
fn serve_all_at_once((model, n): (&str, usize)) {
    raise_fd_limit(n as u64 + 256);
    let server = Server::start(&["--model", model]);
    // Count with one client connected and served, so every descriptor of
    // startup exists; it stays open, and counted, throughout.
    let mut probe = connect(server.addr());
    ping(&mut probe, b"up?");
    let base = fd_count(&server);

    let mut clients: Vec<TcpStream> = (0..n).map(|_| connect(server.addr())).collect();
    for (i, c) in clients.iter_mut().enumerate() {
        c.write_all(&message(i))
            .unwrap_or_else(|e| panic!("client {i}: write: {e}"));
    }
    for (i, c) in clients.iter_mut().enumerate().rev() {
        let want = message(i);
        let got = read_n(c, want.len()).unwrap_or_else(|e| panic!("client {i}: read: {e}"));
        assert!(
            got == want,
            "client {i} got someone else's bytes (or a mangled echo)"
        );
    }
    // Every reply came back while all were open: all were served at once.
    if let Some(base) = base {
        assert_eq!(
            fd_count(&server),
            Some(base + n),
            "{model}: expected one server descriptor per open client"
        );
    }

    // Close cleanly; each client then sees EOF with nothing extra.
    for c in &clients {
        c.shutdown(std::net::Shutdown::Write).expect("shutdown");
    }
    for (i, c) in clients.iter_mut().enumerate() {
        let rest = read_to_eof(c).unwrap_or_else(|e| panic!("client {i}: EOF: {e}"));
        assert!(rest.is_empty(), "client {i}: {} stray bytes", rest.len());
    }
    drop(clients);
    ping(&mut probe, b"still up?");
    if let Some(base) = base {
        let back = wait_until(IO_TIMEOUT, || fd_count(&server) <= Some(base));
        assert!(
            back,
            "{model}: {:?} descriptors open after all clients left, baseline {base}",
            fd_count(&server)
        );
    }
}

per_model!(serve_all_at_once:
    reactor = ("reactor", 3000), threads = ("threads", 1000), tokio = ("tokio", 3000),
    #[cfg(target_os = "linux")] uring = ("uring", 3000));
