//! `--metrics ADDR`: Prometheus metrics, served by the reactor itself.
//!
//! # The endpoint
//!
//! `GET /metrics` answers the text format 0.0.4 ([`exposition`]), and
//! `HEAD` the same head without the body (its `Content-Length` is the
//! body's a `GET` would get); any other path is 404, any other method
//! 405, a request httparse cannot read 400, one larger than
//! [`MAX_REQUEST`] 431. Every answer carries
//! `Connection: close` and the connection closes after it: one request per
//! connection, which is all a Prometheus scrape needs.
//!
//! # Counting costs the echo path nothing shared
//!
//! Each reactor counts in plain `u64`s ([`super::Counters`]) and publishes
//! them to its slot of a shared [`Board`] once per turn, after the reap
//! (see [`board`]), with the length of that turn ([`histogram`]): a
//! clock read and a few dozen relaxed stores per turn, against at least
//! one `epoll_wait` and a read and a write per echo. Without `--metrics`
//! there is no board and nothing is published.
//!
//! With `--threads N` reactor 0 alone serves the endpoint: it publishes
//! its own slot, then sums all N. A busy reactor 0 delays a scrape by at
//! most a turn; the others are never asked anything.
//!
//! # A scraper cannot stall the echo
//!
//! Scrape connections are entries of the reactor's slab like any client
//! (`Entry::Scrape`), non-blocking, and bounded four ways:
//! - size: the request is read into at most [`MAX_REQUEST`] bytes; a
//!   longer one is answered 431 without reading further;
//! - time: [`SCRAPE_DEADLINE`] after its accept the connection is closed,
//!   finished or not (a timer by `(key, id)`, as for idle connections), so
//!   a scraper that sends nothing, or one byte at a time, holds a slot for
//!   that long at most;
//! - number: at most [`MAX_SCRAPES`] at once; one more is accepted and
//!   closed at once, and at most [`ACCEPT_SCRAPES`] are accepted per turn
//!   (the listener then waits on the ready queue);
//! - the answer is written as the socket takes it, the rest kept for
//!   WRITABLE, like a pending echo; never a blocking write.
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
//! - Retry an `accept` that failed for lack of descriptors: the scraper
//!   waits in the queue until the next one arrives (edge-triggered, the
//!   next connection brings a new event), and Prometheus retries anyway.
//!   The echo listeners have the reserve descriptor for that; the
//!   endpoint does not compete for it.
//! - Close at shutdown: the endpoint stays open while connections drain,
//!   so the drain can be watched, and goes with the reactor.
//! - Serve other models: `--metrics` with `--model` other than `reactor`
//!   is refused at startup (see [`check`]).

pub mod board;
pub mod exposition;
pub mod histogram;
pub mod process;

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::Duration;

use mio::net::{TcpListener, TcpStream};
use mio::{Interest, Token};

use super::timers::Timer;
use super::{Entry, Reactor};
use crate::config::{Config, Model};
use crate::net::{close_is_lossless, interrupted, would_block};
use crate::time::deadline;
use crate::Error;
pub use board::{Board, Publisher, Snapshot};

/// Largest request read, request line and headers together.
pub const MAX_REQUEST: usize = 8 << 10;
/// How long a scrape connection may stay open, from its accept.
pub const SCRAPE_DEADLINE: Duration = Duration::from_secs(5);
/// Scrape connections open at once; more are closed at accept.
pub const MAX_SCRAPES: usize = 16;
/// Scrape connections accepted per turn before other entries get a go.
pub const ACCEPT_SCRAPES: usize = 32;
/// Bytes discarded after the answer before closing anyway.
pub const LINGER_BYTES: usize = 64 << 10;

/// Refuses `--metrics` with a model that does not serve it. The reason
/// names the flag and the model.
pub fn check(config: &Config) -> Result<(), String> {
    match config.metrics {
        Some(addr) if config.model != Model::Reactor => Err(format!(
            "--metrics {addr}: only the reactor model serves metrics, not --model {}",
            config.model.name()
        )),
        _ => Ok(()),
    }
}

/// What one reactor gets of `--metrics`: where to publish, and, for
/// reactor 0, the endpoint's listening socket.
#[derive(Debug)]
pub struct Share {
    publisher: Publisher,
    endpoint: Option<std::net::TcpListener>,
}

/// With `--metrics`: binds the endpoint and makes a board for `reactors`
/// reactors. Returns one share per reactor (all `None` without
/// `--metrics`) and the resolved address to [`announce`].
pub fn plan(
    config: &Config,
    reactors: usize,
) -> Result<(Vec<Option<Share>>, Option<SocketAddr>), Error> {
    let Some(addr) = config.metrics else {
        return Ok(((0..reactors).map(|_| None).collect(), None));
    };
    let cannot = |e: io::Error| {
        let hint = crate::listen::bind_hint(&crate::config::ListenAddr::Tcp(addr), &e);
        Error::Startup(format!("--metrics {addr}: cannot listen: {e}{hint}"))
    };
    // std sets SO_REUSEADDR, as the echo listeners have.
    let listener = std::net::TcpListener::bind(addr).map_err(cannot)?;
    listener.set_nonblocking(true).map_err(cannot)?;
    let resolved = listener.local_addr().map_err(cannot)?;
    let board = Arc::new(Board::new(reactors));
    let mut endpoint = Some(listener);
    let shares = (0..reactors)
        .map(|slot| {
            Some(Share {
                publisher: Publisher {
                    board: Arc::clone(&board),
                    slot,
                },
                endpoint: endpoint.take(),
            })
        })
        .collect();
    Ok((shares, Some(resolved)))
}

/// Prints `metrics on http://ADDR/metrics` on stdout, after the
/// `listening on` lines, when there is an endpoint.
pub fn announce(addr: Option<SocketAddr>) {
    if let Some(addr) = addr {
        let mut out = io::stdout().lock();
        // A closed stdout must not stop a daemon that is otherwise fine.
        let _ = writeln!(out, "metrics on http://{addr}/metrics");
        let _ = out.flush();
    }
}

/// The endpoint's listening socket in the slab.
#[derive(Debug)]
pub struct Endpoint {
    sock: TcpListener,
    /// Unique id (slab keys are reused, ids are not).
    pub id: u64,
}

/// One scrape connection in the slab.
#[derive(Debug)]
pub struct Scrape {
    sock: TcpStream,
    /// Unique id (slab keys are reused, ids are not).
    pub id: u64,
    state: State,
}

#[derive(Debug)]
enum State {
    /// The request so far.
    Reading(Vec<u8>),
    /// The answer, and how much of it is written.
    Writing(Vec<u8>, usize),
    /// Answered, write side shut; discarding input (bytes so far).
    Lingering(usize),
}

/// What the reactor should do with a scrape connection after driving it.
#[derive(Debug, PartialEq, Eq)]
enum Step {
    Open,
    Close,
}

impl Scrape {
    /// Runs the connection as far as the socket allows: read and parse,
    /// answer, linger. Every step goes until `WouldBlock` or a bound, so
    /// nothing is left that needs a turn without an event. `metrics`
    /// renders the body of a `GET /metrics`.
    fn drive(&mut self, metrics: &mut dyn FnMut() -> String) -> io::Result<Step> {
        loop {
            match &mut self.state {
                State::Reading(req) => {
                    let mut chunk = [0u8; 2048];
                    let room = (MAX_REQUEST - req.len()).min(chunk.len());
                    match self.sock.read(&mut chunk[..room]) {
                        // Gone before asking: nothing to answer.
                        Ok(0) => return Ok(Step::Close),
                        Ok(n) => req.extend_from_slice(&chunk[..n]),
                        Err(e) if would_block(&e) => return Ok(Step::Open),
                        Err(e) if interrupted(&e) => continue,
                        Err(e) => return Err(e),
                    }
                    if let Some(answer) = answer(req, metrics) {
                        self.state = State::Writing(answer, 0);
                    }
                }
                State::Writing(answer, at) => {
                    while *at < answer.len() {
                        match self.sock.write(&answer[*at..]) {
                            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                            Ok(n) => *at += n,
                            // Partial: the rest waits for WRITABLE.
                            Err(e) if would_block(&e) => return Ok(Step::Open),
                            Err(e) if interrupted(&e) => {}
                            Err(e) => return Err(e),
                        }
                    }
                    self.sock.shutdown(Shutdown::Write)?;
                    if close_is_lossless(self.sock.as_raw_fd()) {
                        return Ok(Step::Close);
                    }
                    self.state = State::Lingering(0);
                }
                State::Lingering(discarded) => {
                    let mut sink = [0u8; 4096];
                    match self.sock.read(&mut sink) {
                        Ok(0) => return Ok(Step::Close),
                        Ok(n) => *discarded += n,
                        Err(e) if would_block(&e) => return Ok(Step::Open),
                        Err(e) if interrupted(&e) => {}
                        Err(e) => return Err(e),
                    }
                    if *discarded >= LINGER_BYTES {
                        return Ok(Step::Close);
                    }
                }
            }
        }
    }
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

impl Reactor {
    /// Takes this reactor's [`Share`]: it publishes its counters from now
    /// on, and, with the endpoint, serves scrapes.
    pub fn share_metrics(&mut self, share: Share) -> io::Result<()> {
        if let Some(listener) = share.endpoint {
            let mut sock = TcpListener::from_std(listener);
            let key = self.entries.vacant_key();
            self.poll
                .registry()
                .register(&mut sock, Token(key), Interest::READABLE)?;
            let id = self.fresh_id();
            self.entries.insert(Entry::Metrics(Endpoint { sock, id }));
        }
        self.publisher = Some(share.publisher);
        Ok(())
    }

    /// Ends a turn: with `--metrics`, records its length, from `poll`
    /// returning (`self.now`) to here, and publishes. Without, it costs
    /// nothing, not even a clock read.
    pub(super) fn end_turn(&mut self) {
        if self.publisher.is_some() {
            self.turns.record(self.now.elapsed());
            self.publish();
        }
    }

    /// Publishes this reactor's counters, if anyone reads them.
    pub(super) fn publish(&mut self) {
        if let Some(p) = &self.publisher {
            self.counters.active = self.conns as u64;
            p.publish(&self.counters, &self.turns);
        }
    }

    /// Accepts up to [`ACCEPT_SCRAPES`] scrape connections from endpoint
    /// `key`, closing at once those beyond [`MAX_SCRAPES`].
    pub(super) fn accept_scrapes(&mut self, key: usize) {
        for _ in 0..ACCEPT_SCRAPES {
            let Some(Entry::Metrics(endpoint)) = self.entries.get_mut(key) else {
                return;
            };
            let sock = match endpoint.sock.accept() {
                Ok((sock, _peer)) => sock,
                Err(e) if would_block(&e) => return,
                Err(e) if interrupted(&e) => continue,
                // Aborted handshakes, or out of descriptors: see "What it
                // does not do".
                Err(_) => return,
            };
            if self.scrapes >= MAX_SCRAPES {
                continue; // dropped: closed at once
            }
            let mut sock = sock;
            let at = self.entries.vacant_key();
            // Both at once: the answer's partial writes need WRITABLE, and
            // a spurious wake-up of a scrape costs nothing that matters.
            let interest = Interest::READABLE | Interest::WRITABLE;
            if self
                .poll
                .registry()
                .register(&mut sock, Token(at), interest)
                .is_err()
            {
                continue;
            }
            let id = self.fresh_id();
            self.entries.insert(Entry::Scrape(Scrape {
                sock,
                id,
                state: State::Reading(Vec::new()),
            }));
            self.scrapes += 1;
            self.timers.add(
                deadline(self.now, SCRAPE_DEADLINE),
                Timer::ScrapeDeadline { key: at, id },
            );
        }
        if let Some(Entry::Metrics(endpoint)) = self.entries.get(key) {
            self.ready.push((key, endpoint.id));
        }
    }

    /// Drives scrape connection `key` after an event (readable or
    /// writable: each step tries its syscall until `WouldBlock`).
    pub(super) fn drive_scrape(&mut self, key: usize) {
        self.publish();
        let publisher = self.publisher.clone();
        let Some(Entry::Scrape(scrape)) = self.entries.get_mut(key) else {
            return;
        };
        let mut metrics = || {
            let sum = publisher
                .as_ref()
                .map(|p| p.board.sum())
                .unwrap_or_default();
            exposition::render(&sum, &process::sample())
        };
        match scrape.drive(&mut metrics) {
            Ok(Step::Open) => {}
            Ok(Step::Close) | Err(_) => self.close_scrape(key),
        }
    }

    /// The deadline of scrape connection `(key, id)`: closed if still open.
    pub(super) fn scrape_deadline(&mut self, key: usize, id: u64) {
        if matches!(self.entries.get(key), Some(Entry::Scrape(s)) if s.id == id) {
            self.close_scrape(key);
        }
    }

    /// Closes scrape connection `key` now; the slot is reaped at the end
    /// of the turn, as for a client (see "Stale events").
    fn close_scrape(&mut self, key: usize) {
        if let Some(entry) = self.entries.get_mut(key) {
            if matches!(entry, Entry::Scrape(_)) {
                *entry = Entry::Closed;
                self.scrapes -= 1;
                self.closed.push(key);
            }
        }
    }
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
        assert_eq!(
            status(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").as_deref(),
            Some("HTTP/1.1 200 OK")
        );
        assert_eq!(
            status(b"GET /metrics?x=1 HTTP/1.0\r\n\r\n").as_deref(),
            Some("HTTP/1.1 200 OK")
        );
        assert_eq!(
            status(b"GET / HTTP/1.1\r\n\r\n").as_deref(),
            Some("HTTP/1.1 404 Not Found")
        );
        assert_eq!(
            status(b"POST /metrics HTTP/1.1\r\n\r\n").as_deref(),
            Some("HTTP/1.1 405 Method Not Allowed")
        );
        assert_eq!(
            status(b"\x00\x01garbage\r\n\r\n").as_deref(),
            Some("HTTP/1.1 400 Bad Request")
        );
        assert_eq!(status(b"GET /metrics HTTP/1.1\r\nHost"), None, "partial");
        let mut big = b"GET /metrics HTTP/1.1\r\nX: ".to_vec();
        big.resize(MAX_REQUEST, b'a');
        assert_eq!(
            status(&big).as_deref(),
            Some("HTTP/1.1 431 Request Header Fields Too Large")
        );
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
