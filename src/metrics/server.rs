//! The `--metrics` endpoint: a thread of its own, blocking sockets.
//!
//! # The endpoint
//!
//! `GET /metrics` answers the text format 0.0.4 ([`super::exposition`]),
//! and `HEAD` the same head without the body (its `Content-Length` is the
//! body's a `GET` would get); any other path is 404, any other method
//! 405, a request httparse cannot read 400, one larger than
//! [`MAX_REQUEST`] 431. Every answer carries `Connection: close` and the
//! connection closes after it: one request per connection, which is all a
//! Prometheus scrape needs. Each scrape sums every reactor's slot of the
//! board once each has published after the scrape asked (see "What a
//! scrape may see" in [`super::board`]).
//!
//! # A scraper cannot stall the echo, nor another scrape
//!
//! One thread accepts; each scrape connection gets a thread of its own,
//! with blocking reads and writes, bounded four ways:
//! - size: the request is read into at most [`MAX_REQUEST`] bytes; a
//!   longer one is answered 431 without reading further;
//! - time: [`SCRAPE_DEADLINE`] after its accept the connection is closed,
//!   finished or not: every read and write waits at most the time left
//!   (`SO_RCVTIMEO`, `SO_SNDTIMEO`), so a scraper that sends nothing, or
//!   one byte at a time, or never reads, holds its thread that long at
//!   most;
//! - number: at most [`MAX_SCRAPES`] at once; one more is accepted and
//!   closed at once;
//! - the reactors never wait for any of it: a scrape costs each a
//!   wake-up and a turn that only publishes.
//!
//! A scraper that connects and sends nothing so holds one of the
//! [`MAX_SCRAPES`] threads, not the endpoint: the next scrape is answered
//! at once, beside it.
//!
//! After the answer the connection shuts its write side and closes at
//! once if nothing is left unread (the usual case). Otherwise closing
//! would reset the connection and could destroy the answer in flight, so
//! it reads and discards up to [`LINGER_BYTES`] more, then closes; the
//! deadline still applies.
//!
//! # What it does not do
//!
//! - Keep-alive: one request per connection.
//! - Compete for descriptors: an `accept` that fails for lack of them is
//!   retried after [`ACCEPT_PAUSE`]; the scraper waits in the queue, and
//!   Prometheus retries anyway. The echo listeners have the reserve
//!   descriptor; the endpoint does not take it.
//! - Hear signals: its threads block the ones the reactors catch, so a
//!   signal always reaches a reactor (see "Signals" in
//!   [`crate::supervisor`]).
//! - Outlive the reactors: it stays open while connections drain, so the
//!   drain can be watched, and stops when its [`Server`] is dropped, after
//!   the last reactor stopped. It never delays the exit: scrapes under
//!   way are not waited for.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use super::board::Board;
use super::{exposition, process};
use crate::net::{accept_transient, close_is_lossless, interrupted};
use crate::time::deadline;

/// Largest request read, request line and headers together.
pub const MAX_REQUEST: usize = 8 << 10;
/// How long a scrape connection may stay open, from its accept.
pub const SCRAPE_DEADLINE: Duration = Duration::from_secs(5);
/// Scrape connections open at once; more are closed at accept.
pub const MAX_SCRAPES: usize = 16;
/// Bytes discarded after the answer before closing anyway.
pub const LINGER_BYTES: usize = 64 << 10;
/// How long the accepting thread waits after an `accept` that failed for
/// a reason that does not clear at once (out of descriptors).
pub const ACCEPT_PAUSE: Duration = Duration::from_millis(100);
/// Stack of a scrape's thread: a request buffer, httparse's headers and
/// formatting; the exposition itself is on the heap.
const SCRAPE_STACK: usize = 128 << 10;

/// The running endpoint; dropping it stops the accepting thread.
#[derive(Debug)]
pub struct Server {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    accepting: Option<thread::JoinHandle<()>>,
}

impl Server {
    /// Serves scrapes of `board` on `listener` from a new thread.
    pub fn start(listener: TcpListener, board: Arc<Board>) -> io::Result<Server> {
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let accepting = without_signals(|| {
            thread::Builder::new()
                .name("echod-metrics".into())
                .spawn(move || accept_loop(&listener, &board, &stopped))
        })?;
        Ok(Server {
            addr,
            stop,
            accepting: Some(accepting),
        })
    }

    /// Where it listens, with the port resolved.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // The accepting thread sleeps in `accept`: a connection of our own
        // wakes it to see `stop`. If even that fails (out of descriptors),
        // it is left to end with the process.
        let mut wake = self.addr;
        if wake.ip().is_unspecified() {
            wake.set_ip(match wake {
                SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
                SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
            });
        }
        if TcpStream::connect_timeout(&wake, Duration::from_secs(1)).is_ok() {
            if let Some(accepting) = self.accepting.take() {
                let _ = accepting.join();
            }
        }
    }
}

/// Runs `spawn` with the signals echod catches blocked on this thread, so
/// that the thread it starts (and every thread that one starts) inherits
/// them blocked.
fn without_signals<T>(spawn: impl FnOnce() -> T) -> T {
    // SAFETY: the sets are initialised by sigemptyset before use;
    // pthread_sigmask reads `set` and writes `old`, both live.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for sig in crate::signals::HANDLED {
            libc::sigaddset(&mut set, sig);
        }
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, &mut old);
        let spawned = spawn();
        libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
        spawned
    }
}

/// Accepts until `stop`, handing each connection to a thread of its own,
/// or closing it at once when [`MAX_SCRAPES`] are open.
fn accept_loop(listener: &TcpListener, board: &Arc<Board>, stop: &AtomicBool) {
    let open = Arc::new(AtomicUsize::new(0));
    loop {
        let accepted = listener.accept();
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let until = deadline(Instant::now(), SCRAPE_DEADLINE);
        let sock = match accepted {
            Ok((sock, _peer)) => sock,
            Err(e) if interrupted(&e) || accept_transient(&e) => continue,
            // Out of descriptors, or trouble with the listener itself:
            // see "What it does not do".
            Err(_) => {
                thread::sleep(ACCEPT_PAUSE);
                continue;
            }
        };
        if open.fetch_add(1, Ordering::Relaxed) >= MAX_SCRAPES {
            open.fetch_sub(1, Ordering::Relaxed);
            continue; // dropped: closed at once
        }
        let held = Held(Arc::clone(&open));
        let board = Arc::clone(board);
        // A thread that cannot start drops its closure: the connection
        // closes and its place is given back.
        let _ = thread::Builder::new()
            .name("echod-scrape".into())
            .stack_size(SCRAPE_STACK)
            .spawn(move || {
                let _held = held;
                let _ = serve(sock, until, &board);
            });
    }
}

/// One of the [`MAX_SCRAPES`] places, given back when dropped.
struct Held(Arc<AtomicUsize>);

impl Drop for Held {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Serves one scrape connection: read and parse, answer, linger, each
/// step bounded by the connection's deadline, `until`.
fn serve(mut sock: TcpStream, until: Instant, board: &Board) -> io::Result<()> {
    let mut metrics = || exposition::render(&board.fresh_sum(), &process::sample());
    let mut req = Vec::new();
    let answer = loop {
        let mut chunk = [0u8; 2048];
        let room = (MAX_REQUEST - req.len()).min(chunk.len());
        sock.set_read_timeout(Some(left(until)?))?;
        match sock.read(&mut chunk[..room]) {
            // Gone before asking: nothing to answer.
            Ok(0) => return Ok(()),
            Ok(n) => req.extend_from_slice(&chunk[..n]),
            Err(e) if interrupted(&e) => continue,
            Err(e) => return Err(e),
        }
        if let Some(answer) = answer(&req, &mut metrics) {
            break answer;
        }
    };
    let mut at = 0;
    while at < answer.len() {
        sock.set_write_timeout(Some(left(until)?))?;
        match sock.write(&answer[at..]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => at += n,
            Err(e) if interrupted(&e) => {}
            Err(e) => return Err(e),
        }
    }
    sock.shutdown(Shutdown::Write)?;
    if close_is_lossless(sock.as_raw_fd()) {
        return Ok(());
    }
    let mut discarded = 0;
    let mut sink = [0u8; 4096];
    while discarded < LINGER_BYTES {
        sock.set_read_timeout(Some(left(until)?))?;
        match sock.read(&mut sink) {
            Ok(0) => return Ok(()),
            Ok(n) => discarded += n,
            Err(e) if interrupted(&e) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The time left until `until`, or `TimedOut` once there is none (a
/// socket timeout of zero would mean "wait forever").
fn left(until: Instant) -> io::Result<Duration> {
    let left = until.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(io::ErrorKind::TimedOut.into());
    }
    Ok(left)
}

/// The whole answer to the request in `req`, or `None` while it may still
/// be incomplete.
fn answer(req: &[u8], metrics: &mut dyn FnMut() -> String) -> Option<Vec<u8>> {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut parsed = httparse::Request::new(&mut headers);
    let (status, body) = match parsed.parse(req) {
        Ok(httparse::Status::Complete(_)) => {
            let path = parsed.path.unwrap_or("");
            let path = path.split_once('?').map_or(path, |(p, _)| p);
            let head = parsed.method == Some("HEAD");
            let answer = match (parsed.method, path) {
                (Some("GET" | "HEAD"), "/metrics") => response(200, &metrics()),
                (Some("GET" | "HEAD"), _) => response(404, "not found: try GET /metrics\n"),
                _ => response(405, "method not allowed: try GET /metrics\n"),
            };
            return Some(if head { without_body(answer) } else { answer });
        }
        Ok(httparse::Status::Partial) if req.len() < MAX_REQUEST => return None,
        Ok(httparse::Status::Partial) | Err(httparse::Error::TooManyHeaders) => (
            431,
            format!("request too large: at most {MAX_REQUEST} bytes, 32 headers\n"),
        ),
        Err(_) => (400, "bad request\n".to_string()),
    };
    Some(response(status, &body))
}

/// A response cut after its head, for `HEAD` (RFC 9110 §9.3.2: the same
/// header fields as `GET`, `Content-Length` included, and no content).
fn without_body(mut answer: Vec<u8>) -> Vec<u8> {
    if let Some(end) = answer.windows(4).position(|w| w == b"\r\n\r\n") {
        answer.truncate(end + 4);
    }
    answer
}

/// An HTTP/1.1 response with `body`, closing the connection.
fn response(status: u16, body: &str) -> Vec<u8> {
    let (reason, content_type) = match status {
        200 => ("OK", exposition::CONTENT_TYPE),
        404 => ("Not Found", "text/plain; charset=utf-8"),
        405 => ("Method Not Allowed", "text/plain; charset=utf-8"),
        431 => (
            "Request Header Fields Too Large",
            "text/plain; charset=utf-8",
        ),
        _ => ("Bad Request", "text/plain; charset=utf-8"),
    };
    let allow = if status == 405 {
        "Allow: GET, HEAD\r\n"
    } else {
        ""
    };
    format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\n\
         Content-Length: {}\r\n{allow}Connection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(req: &[u8]) -> Option<String> {
        let out = answer(req, &mut || "m 1\n".to_string())?;
        let text = String::from_utf8(out).unwrap();
        Some(text.lines().next().unwrap().to_string())
    }

    #[test]
    fn requests_get_their_status() {
        let mut big = b"GET /metrics HTTP/1.1\r\nX: ".to_vec();
        big.resize(MAX_REQUEST, b'a');
        for (req, want) in [
            (&b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"[..], "200 OK"),
            (b"GET /metrics?x=1 HTTP/1.0\r\n\r\n", "200 OK"),
            (b"GET / HTTP/1.1\r\n\r\n", "404 Not Found"),
            (b"POST /metrics HTTP/1.1\r\n\r\n", "405 Method Not Allowed"),
            (b"\x00\x01garbage\r\n\r\n", "400 Bad Request"),
            (&big, "431 Request Header Fields Too Large"),
        ] {
            let want = format!("HTTP/1.1 {want}");
            assert_eq!(status(req), Some(want), "{}", req.escape_ascii());
        }
        assert_eq!(status(b"GET /metrics HTTP/1.1\r\nHost"), None, "partial");
    }

    #[test]
    fn head_is_get_without_the_body() {
        let get = answer(b"GET /metrics HTTP/1.1\r\n\r\n", &mut || "m 1\n".into()).unwrap();
        let head = answer(b"HEAD /metrics HTTP/1.1\r\n\r\n", &mut || "m 1\n".into()).unwrap();
        assert_eq!(get, [&head[..], b"m 1\n"].concat());
        let missing = answer(b"HEAD /x HTTP/1.1\r\n\r\n", &mut || unreachable!()).unwrap();
        let missing = String::from_utf8(missing).unwrap();
        assert!(
            missing.starts_with("HTTP/1.1 404 Not Found\r\n"),
            "{missing}"
        );
        assert!(missing.ends_with("\r\n\r\n"), "{missing}");
    }

    #[test]
    fn answers_carry_length_type_and_close() {
        let out = answer(b"GET /metrics HTTP/1.1\r\n\r\n", &mut || "m 1\n".into()).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"));
        assert!(text.contains("\r\nContent-Length: 4\r\n"));
        assert!(text.contains("\r\nConnection: close\r\n"));
        assert!(text.ends_with("\r\n\r\nm 1\n"));
    }
}
