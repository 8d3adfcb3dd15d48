//! An RFC 862 echo server on one mio loop: `src/reactor/` cut down to what
//! correctness needs, for a learner to copy (docs/teaching.md, step 6).
//! `cargo run --release --example mini_reactor -- 7007` (0: any free port).

use std::io::{self, ErrorKind, Read, Write};
use std::net::SocketAddr;

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Registry, Token};
use slab::Slab;

/// The listener's token; connection `key` in the slab has token `key + 1`.
const LISTENER: Token = Token(0);
/// Most echo held for one client. At the cap we stop reading from it
/// (backpressure): a client that never reads stalls only itself.
const CAP: usize = 64 << 10;

struct Conn {
    sock: TcpStream,
    /// Received, not yet echoed: what a partial write left over.
    out: Vec<u8>,
    /// mio is edge-triggered: an event says "became ready" once. So readiness
    /// is remembered, set by events and cleared only by `WouldBlock`.
    readable: bool,
    writable: bool,
    /// The client shut its write side (read returned 0): read no more.
    eof: bool,
}

impl Conn {
    /// Flushes, then reads, until the socket or the cap says stop.
    fn pump(&mut self, area: &mut [u8]) -> io::Result<()> {
        loop {
            while self.writable && !self.out.is_empty() {
                match self.sock.write(&self.out) {
                    // A partial write keeps the rest for WRITABLE.
                    Ok(n) => drop(self.out.drain(..n)),
                    Err(e) if e.kind() == ErrorKind::WouldBlock => self.writable = false,
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            let room = CAP - self.out.len();
            // At the cap `readable` stays set: the flush above that makes
            // room resumes reading, as no new edge would announce the bytes
            // already queued. (No fairness budget here: echod's READ_BUDGET.)
            if self.eof || !self.readable || room == 0 {
                return Ok(());
            }
            let n = room.min(area.len());
            match self.sock.read(&mut area[..n]) {
                Ok(0) => self.eof = true,
                Ok(n) => self.out.extend_from_slice(&area[..n]),
                Err(e) if e.kind() == ErrorKind::WouldBlock => self.readable = false,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Moves what it can and sets the interest to match; `false`: close it.
    fn drive(&mut self, registry: &Registry, token: Token, area: &mut [u8]) -> bool {
        // The interest matches `out` as the last drive left it.
        let write_interest = !self.out.is_empty();
        // A reset or broken pipe closes this connection, no other.
        if self.pump(area).is_err() {
            return false;
        }
        // Half-close: the client sent EOF and has all its echo back.
        if self.eof && self.out.is_empty() {
            return false;
        }
        // WRITABLE only while bytes wait, or every send-buffer drain wakes us.
        let pending = !self.out.is_empty();
        if pending != write_interest {
            let interest = if pending {
                Interest::READABLE | Interest::WRITABLE
            } else {
                Interest::READABLE
            };
            return registry.reregister(&mut self.sock, token, interest).is_ok();
        }
        true
    }
}

/// Accepts until `WouldBlock`: one edge may stand for many connections.
fn accept_all(listener: &TcpListener, conns: &mut Slab<Conn>, registry: &Registry) {
    loop {
        let mut sock = match listener.accept() {
            Ok((sock, _)) => sock,
            Err(e) if e.kind() == ErrorKind::WouldBlock => return,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            // EMFILE and the like: give up until the next connection's edge
            // (echod sheds the queue and retries on a timer instead).
            Err(e) => return eprintln!("mini_reactor: accept: {e}"),
        };
        let entry = conns.vacant_entry();
        let token = Token(entry.key() + 1);
        let registered = registry.register(&mut sock, token, Interest::READABLE);
        if registered.is_ok() {
            // Bytes already waiting raise an event on registration.
            entry.insert(Conn {
                sock,
                out: Vec::new(),
                readable: false,
                writable: true,
                eof: false,
            });
        }
    }
}

fn run(addr: SocketAddr) -> io::Result<()> {
    let mut listener = TcpListener::bind(addr)?;
    let mut poll = Poll::new()?;
    let registry = poll.registry();
    registry.register(&mut listener, LISTENER, Interest::READABLE)?;
    println!("listening on {}", listener.local_addr()?);
    let mut conns: Slab<Conn> = Slab::new();
    let mut events = Events::with_capacity(1024);
    let mut area = vec![0; 64 << 10]; // one read area for every connection
    loop {
        match poll.poll(&mut events, None) {
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            result => result?,
        }
        let mut accept = false;
        for event in events.iter() {
            if event.token() == LISTENER {
                accept = true;
                continue;
            }
            let key = event.token().0 - 1;
            // Vacant: closed by an earlier event of this batch.
            let Some(conn) = conns.get_mut(key) else {
                continue;
            };
            conn.readable |= event.is_readable() || event.is_read_closed() || event.is_error();
            conn.writable |= event.is_writable() || event.is_write_closed() || event.is_error();
            if !conn.drive(poll.registry(), event.token(), &mut area) {
                conns.remove(key); // dropping the socket closes and deregisters it
            }
        }
        // Accept only after the batch: a key freed above and reused at once
        // would hand a later event of this batch, meant for the closed
        // connection, to the new one.
        if accept {
            accept_all(&listener, &mut conns, poll.registry());
        }
    }
}

fn main() {
    let arg = std::env::args().nth(1).unwrap_or_default();
    let Ok(port) = arg.parse::<u16>() else {
        eprintln!("mini_reactor: PORT {arg:?}: expected a port number (0: any free port)");
        std::process::exit(2);
    };
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    if let Err(e) = run(addr) {
        eprintln!("mini_reactor: cannot serve on {addr}: {e}");
        std::process::exit(1);
    }
}
