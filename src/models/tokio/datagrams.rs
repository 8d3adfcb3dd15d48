//! `--listen udp:ADDR` in the tokio model: one task per UDP socket.
//!
//! The task awaits `recv_from` or the drain flag, drops datagrams whose
//! source could answer back (see [`crate::net::loops_back`]), and answers
//! the others with `try_send_to`: a reply the send buffer cannot take at
//! once is dropped, as in the reactor, rather than held (UDP has no
//! backpressure to wait on). At the drain the task ends and its socket
//! closes: there is nothing to drain. tokio's cooperative budget keeps a
//! flooded socket from starving the connection tasks.

use std::io;
use std::net::SocketAddr;

use std::sync::Arc;

use tokio::net::UdpSocket;
use tokio::sync::watch;

use super::drained;
use crate::models::tally::Tally;
use crate::net::{loops_back, MAX_DATAGRAM};

/// Hands a socket from [`crate::listen::bind_all`] to the runtime. Must
/// run inside the runtime.
pub fn into_tokio(socket: std::net::UdpSocket) -> io::Result<UdpSocket> {
    // `from_std` requires it, and does not check (see `accept::into_tokio`).
    socket.set_nonblocking(true)?;
    UdpSocket::from_std(socket)
}

/// Echoes datagrams on `sock` (bound to `addr`) until the drain begins.
pub async fn run(
    sock: UdpSocket,
    addr: SocketAddr,
    mut drain: watch::Receiver<bool>,
    tally: Arc<Tally>,
) {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        let got = tokio::select! {
            got = sock.recv_from(&mut buf) => got,
            () = drained(&mut drain) => return,
        };
        // A per-datagram error (a pending ICMP error): the socket is fine.
        let Ok((n, peer)) = got else { continue };
        if !loops_back(peer, addr.port()) && sock.try_send_to(&buf[..n], peer).is_ok() {
            tally.datagram(n);
        }
    }
}
