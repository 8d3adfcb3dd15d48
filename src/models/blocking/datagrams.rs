//! `--listen udp:ADDR` for the blocking models: one thread per UDP
//! socket, in a blocking `recv_from` / `send_to` loop.
//!
//! # The loop
//!
//! 1. `recv_from` one datagram, waiting at most [`POLL`] so the thread
//!    sees the stop flag of the first SIGINT/SIGTERM.
//! 2. Drop it if its source could answer back (the reactor's rule: see
//!    [`crate::net::loops_back`]).
//! 3. `send_to` it back to its source, blocking while the socket's send
//!    buffer is full: the thread then reads nothing, so the kernel drops
//!    datagrams at the receive side instead, and memory stays one buffer.
//!    A failed send drops that reply only.
//!
//! # Shutdown
//!
//! Once the stop flag is up the thread ends within [`POLL`] and its socket
//! closes: there is no connection to drain. A drain that completes joins
//! the thread before the stop line, so a datagram echoed just before the
//! signal is counted on it (a drain cut short exits without waiting).

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use super::clients::{Clients, POLL};
use crate::error::Error;
use crate::models::tally::Tally;
use crate::net::{loops_back, MAX_DATAGRAM};

/// Starts the echo thread for `sock` (bound to `addr`), which runs until
/// `stop` is set and ends within [`POLL`] of it: join the handle to know
/// its last datagram is counted.
pub fn spawn(
    sock: UdpSocket,
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    clients: Arc<Clients>,
) -> Result<JoinHandle<()>, Error> {
    let failed = |e: std::io::Error| Error::Startup(format!("cannot serve udp://{addr}: {e}"));
    // Bound non-blocking for the reactor; this loop blocks, with timeouts
    // both ways, so it sees the stop flag even while a reply waits for
    // room in the send buffer.
    sock.set_nonblocking(false).map_err(failed)?;
    sock.set_read_timeout(Some(POLL)).map_err(failed)?;
    sock.set_write_timeout(Some(POLL)).map_err(failed)?;
    std::thread::Builder::new()
        .name("echod-udp".into())
        .spawn(move || serve(&sock, addr.port(), &stop, &clients.tally))
        .map_err(failed)
}

fn serve(sock: &UdpSocket, port: u16, stop: &AtomicBool, tally: &Tally) {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    while !stop.load(Ordering::Acquire) {
        // Timeouts, interruptions and per-datagram errors (a pending ICMP
        // error) all mean: look at the flag, then wait again.
        let Ok((n, peer)) = sock.recv_from(&mut buf) else {
            continue;
        };
        if !loops_back(peer, port) && sock.send_to(&buf[..n], peer).is_ok() {
            tally.datagram(n);
        }
    }
}
