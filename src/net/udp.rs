//! What every model's UDP echo shares: the slot size and the rule against
//! echo loops.

use std::net::SocketAddr;

/// Size of one datagram slot: more than the largest UDP payload (65,507
/// bytes over IPv4, 65,527 over IPv6), so a receive never truncates.
pub const MAX_DATAGRAM: usize = 65_536;

/// Source ports of the classic UDP services that answer whatever reaches
/// them: echo (7), discard (9), daytime (13), chargen (19), time (37).
/// Discard answers nothing, but a datagram "from" it is as surely spoofed.
pub const LOOP_PORTS: [u16; 5] = [7, 9, 13, 19, 37];

/// A datagram from `peer` to our UDP socket on `local_port` must not be
/// answered: it comes from a service that answers back ([`LOOP_PORTS`]),
/// or from a socket on our own port (another echo server like us, on
/// another host, or a spoofed copy of our own address). Answering would
/// start a loop that a single spoofed datagram keeps going forever.
pub fn loops_back(peer: SocketAddr, local_port: u16) -> bool {
    LOOP_PORTS.contains(&peer.port()) || peer.port() == local_port
}
