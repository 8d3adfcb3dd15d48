//! A UDP socket in the reactor: RFC 862's datagram half (`--listen
//! udp:ADDR`).
//!
//! # The loop
//!
//! On a readiness event, or a turn on the ready queue, the socket:
//! 1. `recv_from`s one datagram into the reactor's datagram buffer
//!    ([`MAX_DATAGRAM`] bytes: no UDP payload is larger, so none is cut);
//! 2. drops it if its source could answer back (see "Loops");
//! 3. `send_to`s it back to its source, once;
//! 4. repeats until `recv_from` says `WouldBlock`, or until
//!    [`DATAGRAM_BUDGET`] datagrams, whichever comes first.
//!
//! Readiness is edge-triggered: a socket that stopped on its budget may
//! still hold datagrams and will get no new event for them, so it goes on
//! the reactor's ready queue, by `(key, id)`, like a TCP connection out of
//! budget. That budget is what keeps a flood of datagrams on one socket
//! from starving the TCP connections of the same reactor.
//!
//! # Loops
//!
//! A datagram whose source port is echo, discard, daytime, chargen or time
//! (7, 9, 13, 19, 37), or our own port, is dropped and counted
//! ([`Counters::datagrams_dropped_loop_port`]): two echo services, or one
//! and a chargen, would otherwise bounce a single spoofed datagram between them
//! forever (see [`crate::net::loops_back`]).
//!
//! # No backpressure: replies are dropped, never queued
//!
//! UDP has no flow control to push back with. When `send_to` would block
//! (the socket's send buffer is full) the reply is dropped and counted
//! ([`Counters::datagrams_dropped_would_block`]), and so is one that fails
//! outright ([`Counters::datagrams_dropped_send_error`]: no route, a refused
//! destination port 0...). Nothing is kept for later, so memory stays one buffer per
//! reactor whatever the load, and the socket never asks for writable
//! events. A client that must get every echo retransmits, as over any UDP
//! path.
//!
//! # Shutdown
//!
//! At the first SIGINT/SIGTERM the socket is closed with the listeners:
//! there is no connection to drain, and datagrams still queued in the
//! kernel are dropped with it, as a network might have dropped them.
//!
//! # Batches
//!
//! On Linux a turn moves datagrams [`batch::BATCH`] at a time with
//! `recvmmsg`/`sendmmsg` ([`batch`]); elsewhere one `recv_from` and one
//! `send_to` each. Same drops, same counters, same budget.

#[cfg(target_os = "linux")]
pub mod batch;

use std::net::SocketAddr;

use mio::net::UdpSocket;

use crate::counters::Counters;
use crate::net::MAX_DATAGRAM;

#[cfg(any(not(target_os = "linux"), test))]
use crate::net::{interrupted, loops_back, would_block};

/// Datagrams one socket echoes per turn before other entries get a go.
pub const DATAGRAM_BUDGET: usize = 64;

/// Size of the buffer [`Datagrams::echo`] needs: one slot per datagram of
/// a batch.
#[cfg(target_os = "linux")]
pub const BUFFER: usize = batch::BATCH * MAX_DATAGRAM;
/// Size of the buffer [`Datagrams::echo`] needs: one slot.
#[cfg(not(target_os = "linux"))]
pub const BUFFER: usize = MAX_DATAGRAM;

/// What a turn left behind.
#[derive(Debug, PartialEq, Eq)]
pub enum Turn {
    /// The kernel's queue is empty: wait for the next event.
    Drained,
    /// Stopped on the budget: may hold more, come back next turn.
    More,
}

/// A UDP socket registered with the reactor.
#[derive(Debug)]
pub struct Datagrams {
    /// The non-blocking socket.
    pub sock: UdpSocket,
    /// Where it is bound (its port is one of the "Loops" ports).
    pub addr: SocketAddr,
    /// Unique id (slab keys are reused, ids are not).
    pub id: u64,
    /// On the ready queue already.
    pub queued: bool,
}

impl Datagrams {
    /// Wraps a registered socket.
    pub fn new(sock: UdpSocket, addr: SocketAddr, id: u64) -> Datagrams {
        Datagrams {
            sock,
            addr,
            id,
            queued: false,
        }
    }

    /// Echoes up to [`DATAGRAM_BUDGET`] datagrams, using `buf` (at least
    /// [`BUFFER`] bytes).
    #[cfg(target_os = "linux")]
    pub fn echo(&mut self, buf: &mut [u8], counters: &mut Counters) -> Turn {
        use std::os::fd::AsRawFd;
        let fd = self.sock.as_raw_fd();
        let mut handled = 0;
        while handled < DATAGRAM_BUDGET {
            match batch::echo(fd, self.addr.port(), buf, counters) {
                // A short batch: the queue was empty (see [`batch`]).
                batch::Got::Some(n) if n < batch::BATCH => return Turn::Drained,
                batch::Got::Some(n) => handled += n,
                batch::Got::Empty => return Turn::Drained,
                // Counted against the budget, so an error that repeated
                // forever could not hold the reactor.
                batch::Got::Failed(_) => {
                    counters.datagram_recv_errors += 1;
                    handled += 1;
                }
            }
        }
        Turn::More
    }

    /// Echoes up to [`DATAGRAM_BUDGET`] datagrams, using `buf` (at least
    /// [`BUFFER`] bytes) for each in turn.
    #[cfg(not(target_os = "linux"))]
    pub fn echo(&mut self, buf: &mut [u8], counters: &mut Counters) -> Turn {
        self.echo_each(buf, counters)
    }

    /// One `recv_from` and one `send_to` per datagram: the loop where
    /// there is no `recvmmsg`, and the reference the batches are tested
    /// against on Linux.
    #[cfg(any(not(target_os = "linux"), test))]
    fn echo_each(&mut self, buf: &mut [u8], counters: &mut Counters) -> Turn {
        debug_assert!(buf.len() >= MAX_DATAGRAM);
        for _ in 0..DATAGRAM_BUDGET {
            let (n, peer) = match self.sock.recv_from(buf) {
                Ok(got) => {
                    counters.datagrams_received += 1;
                    got
                }
                Err(e) if would_block(&e) => return Turn::Drained,
                // Counted against the budget, so an error that repeated
                // forever could not hold the reactor.
                Err(e) if interrupted(&e) => continue,
                Err(_) => {
                    counters.datagram_recv_errors += 1;
                    continue;
                }
            };
            if loops_back(peer, self.addr.port()) {
                counters.datagrams_dropped_loop_port += 1;
                continue;
            }
            self.reply(&buf[..n], peer, counters);
        }
        Turn::More
    }

    /// Sends one reply, or drops it (see "No backpressure").
    #[cfg(any(not(target_os = "linux"), test))]
    fn reply(&self, data: &[u8], peer: SocketAddr, counters: &mut Counters) {
        loop {
            match self.sock.send_to(data, peer) {
                Ok(_) => {
                    counters.datagrams_echoed += 1;
                    counters.datagram_bytes_echoed += data.len() as u64;
                }
                Err(e) if interrupted(&e) => continue,
                Err(e) if would_block(&e) => counters.datagrams_dropped_would_block += 1,
                Err(_) => counters.datagrams_dropped_send_error += 1,
            }
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// A way to run one turn: the platform's [`Datagrams::echo`] or the
    /// one-at-a-time [`Datagrams::echo_each`]. Every test runs both, so
    /// the batches are held to the same contract as the plain loop.
    type Echo = fn(&mut Datagrams, &mut [u8], &mut Counters) -> Turn;
    const BOTH: [(&str, Echo); 2] = [
        ("echo", Datagrams::echo),
        ("echo_each", Datagrams::echo_each),
    ];

    fn pair(ip: &str) -> (Datagrams, std::net::UdpSocket) {
        let std = std::net::UdpSocket::bind((ip, 0)).unwrap();
        std.set_nonblocking(true).unwrap();
        let addr = std.local_addr().unwrap();
        let client = std::net::UdpSocket::bind((ip, 0)).unwrap();
        client
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        (Datagrams::new(UdpSocket::from_std(std), addr, 1), client)
    }

    /// Echoes until `want` datagrams were handled; the sends are on
    /// loopback, so they are queued by the time `send_to` returns, but a
    /// loaded machine may still need a few tries.
    fn serve(echo: Echo, d: &mut Datagrams, c: &mut Counters, want: u64) {
        let mut buf = vec![0; BUFFER];
        for _ in 0..10_000 {
            echo(d, &mut buf, c);
            if c.datagrams_echoed + c.datagrams_dropped_loop_port >= want {
                return;
            }
            std::thread::yield_now();
        }
        panic!("only {c:?} of {want} datagrams handled");
    }

    #[test]
    fn the_budget_bounds_one_turn_and_the_rest_waits() {
        for (name, echo) in BOTH {
            let (mut d, client) = pair("127.0.0.1");
            let extra = 5;
            for i in 0..DATAGRAM_BUDGET + extra {
                client.send_to(&[i as u8], d.addr).unwrap();
            }
            let mut c = Counters::default();
            let mut buf = vec![0; BUFFER];
            // Wait for the first datagram, then the whole burst is queued.
            serve(echo, &mut d, &mut c, 1);
            while (c.datagrams_echoed as usize) < DATAGRAM_BUDGET + extra {
                let before = c.datagrams_echoed;
                if echo(&mut d, &mut buf, &mut c) == Turn::More {
                    assert_eq!(
                        c.datagrams_echoed - before,
                        DATAGRAM_BUDGET as u64,
                        "{name}"
                    );
                }
            }
            let mut got = [0u8; 4];
            for i in 0..DATAGRAM_BUDGET + extra {
                let (n, from) = client.recv_from(&mut got).unwrap();
                assert_eq!((&got[..n], from), (&[i as u8][..], d.addr), "{name}");
            }
        }
    }

    #[test]
    fn datagrams_from_loop_ports_are_dropped_and_counted() {
        for (name, echo) in BOTH {
            // Our own port is one of them: the socket sends to itself.
            let own = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            let addr = own.local_addr().unwrap();
            let sock = own.try_clone().unwrap();
            sock.set_nonblocking(true).unwrap();
            let mut d = Datagrams::new(UdpSocket::from_std(sock), addr, 1);
            own.send_to(b"loop?", addr).unwrap();
            let mut c = Counters::default();
            serve(echo, &mut d, &mut c, 1);
            assert_eq!(
                (c.datagrams_dropped_loop_port, c.datagrams_echoed),
                (1, 0),
                "{name}"
            );
        }
        assert!(loops_back("10.0.0.1:19".parse().unwrap(), 7007));
        assert!(!loops_back("10.0.0.1:7008".parse().unwrap(), 7007));
    }

    /// A burst mixing sizes (empty, the largest, small), two senders and a
    /// loop-port datagram in the middle, over IPv4 and IPv6: every reply
    /// goes to its own sender, whole and in order, and only the loop one
    /// is dropped.
    #[test]
    fn a_mixed_burst_comes_back_whole_to_each_sender() {
        for ip in ["127.0.0.1", "::1"] {
            for (name, echo) in BOTH {
                let (mut d, a) = pair(ip);
                let b = std::net::UdpSocket::bind((ip, 0)).unwrap();
                b.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                // The largest payload this family allows on loopback.
                let largest = if ip == "::1" { 65_527 } else { 65_507 };
                let big: Vec<u8> = (0..largest).map(|i| (i % 251) as u8).collect();
                let own = d.sock.local_addr().unwrap();
                let plan: Vec<(&std::net::UdpSocket, Vec<u8>)> = vec![
                    (&a, Vec::new()),
                    (&b, b"first from b".to_vec()),
                    (&a, big.clone()),
                    (&b, vec![7; 1000]),
                    (&a, b"last".to_vec()),
                ];
                // The loop datagram: the echo socket sends to itself.
                d.sock.send_to(b"loop", own).unwrap();
                for (from, data) in &plan {
                    from.send_to(data, d.addr).unwrap();
                }
                let mut c = Counters::default();
                serve(echo, &mut d, &mut c, plan.len() as u64 + 1);
                assert_eq!(
                    (c.datagrams_echoed, c.datagrams_dropped_loop_port),
                    (5, 1),
                    "{name} {ip}"
                );
                assert_eq!(c.datagrams_received, 6, "{name} {ip}: received counts both");
                let total: usize = plan.iter().map(|(_, p)| p.len()).sum();
                assert_eq!(c.datagram_bytes_echoed, total as u64, "{name} {ip}");
                let mut got = vec![0u8; 65_536];
                for (from, data) in &plan {
                    let (n, src) = from.recv_from(&mut got).unwrap();
                    assert_eq!(src, d.addr, "{name} {ip}");
                    assert!(got[..n] == data[..], "{name} {ip}: {n} bytes back");
                }
            }
        }
    }
}
