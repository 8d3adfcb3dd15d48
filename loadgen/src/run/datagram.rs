//! One generator "connection" to a `udp:` target: a UDP socket
//! `connect`ed to the server, so the kernel hands it only the server's
//! datagrams and reports an ICMP "port unreachable" as `ECONNREFUSED`.
//!
//! # Requests and replies
//! Request `seq` is one datagram of exactly `--size` bytes, the same
//! payload a stream connection sends (a pure function of connection and
//! sequence, see [`payload`]). A reply must be byte-identical to a request
//! of this socket that is still waiting; its header says which one, so
//! replies may come back in any order. Each request's state moves one way:
//!
//! ```text
//! Waiting --reply--> Answered --same reply again--> duplicate
//!    |
//!    +--loss deadline--> Lost --reply--> LateAnswered --again--> duplicate
//! ```
//!
//! A reply to a lost request is counted **late**; a second copy of any
//! reply is a **duplicate**; bytes that match no request sent on this
//! socket (damaged, truncated, empty, never sent) are **corruption**, or
//! **foreign** when they carry another connection's header. Lost, late and
//! duplicated datagrams are what UDP may do to any datagram; only damage
//! is the server's fault.
//!
//! # Loss deadlines
//! A request sent at `t` is declared lost at `t + loss_timeout`. Requests
//! are sent in sequence order, so deadlines come in sequence order too: a
//! cursor walks the sequence numbers once ([`DatagramConn::expire`]), and
//! the next deadline is always the cursor's (amortised O(1)).
//!
//! # Memory
//! Resolved requests are remembered (16 bytes of timing and a state) so a
//! late or repeated reply can be told apart, but only for
//! [`HISTORY_LOSS_TIMEOUTS`] loss timeouts and at most [`HISTORY`]
//! requests: a reply to a request older than that is counted late. The
//! outgoing datagram is generated into one buffer of `--size` bytes.

use std::collections::VecDeque;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::AsRawFd;

use mio::net::UdpSocket;

use super::conn::OUT_HIGH_WATER;
use super::link::{Dial, Found, Inflight, Link, LinkState, ReadEnd, STRAY};
use crate::payload::{self, Header, HEADER_LEN};
use crate::target::Target;
use crate::verify::Verdict;

/// Resolved requests remembered per socket, at most.
pub const HISTORY: usize = 4096;

/// Resolved requests are remembered for this many loss timeouts.
pub const HISTORY_LOSS_TIMEOUTS: u64 = 4;

/// The receive buffer each generator socket asks for. Replies that
/// overflow our own buffer would be counted as the server's loss, and the
/// default (208 KiB on Linux) holds only three 64 KiB datagrams. The
/// kernel caps the request (`net.core.rmem_max` on Linux); a refusal is
/// harmless, so it is ignored.
const RCVBUF: libc::c_int = 1 << 20;

/// Asks for [`RCVBUF`] on `sock` (`check` over `udp:` too, whose burst
/// would otherwise overflow the default).
pub fn enlarge_receive_buffer(sock: &impl AsRawFd) {
    set_receive_buffer(sock, RCVBUF);
}

/// Asks for a receive buffer (SO_RCVBUF) of `bytes` on `sock`; the kernel
/// may round or cap it, and a refusal is ignored.
pub fn set_receive_buffer(sock: &impl AsRawFd, bytes: libc::c_int) {
    // SAFETY: setsockopt with a valid int option value on our own socket.
    unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            (&bytes as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
}

/// The largest UDP payload over IPv4 (65 535 less the IP and UDP headers);
/// Linux refuses one byte more with `EMSGSIZE`, loopback included.
pub const MAX_DATAGRAM_V4: usize = 65_507;

/// The largest UDP payload over IPv6 (65 535 less the UDP header; the IPv6
/// header is not counted in its payload length).
pub const MAX_DATAGRAM_V6: usize = 65_527;

/// The largest request a datagram to `addr` can carry.
pub fn max_datagram(addr: &SocketAddr) -> usize {
    if addr.is_ipv4() {
        MAX_DATAGRAM_V4
    } else {
        MAX_DATAGRAM_V6
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Waiting,
    Answered,
    Lost,
    LateAnswered,
}

#[derive(Clone, Copy, Debug)]
struct Slot {
    timing: Inflight,
    state: State,
}

/// A generator socket for a `udp:` target. See the module docs.
#[derive(Debug)]
pub struct DatagramConn {
    sock: UdpSocket,
    state: LinkState,
    size: usize,
    loss_timeout: u64,
    /// Requests `base ..` are in `slots`; older ones are forgotten.
    base: u64,
    slots: VecDeque<Slot>,
    /// Next sequence number to issue.
    next_seq: u64,
    /// Requests `next_send .. next_seq` are issued but not yet sent.
    next_send: u64,
    /// Every request below this one is resolved or not yet due to expire
    /// at the time it was passed; see [`DatagramConn::expire`].
    cursor: u64,
    waiting: u64,
    out: Vec<u8>,
    /// Bytes sent and received.
    bytes: u64,
    /// Bytes received.
    received: u64,
}

impl DatagramConn {
    fn slot(&mut self, seq: u64) -> Option<&mut Slot> {
        let at = seq.checked_sub(self.base)?;
        self.slots.get_mut(at as usize)
    }

    /// Moves the cursor past requests that need no deadline any more.
    fn skip_resolved(&mut self) {
        while self.cursor < self.next_send {
            let at = (self.cursor - self.base) as usize;
            if self.slots[at].state == State::Waiting {
                return;
            }
            self.cursor += 1;
        }
    }

    /// Forgets resolved requests older than the history keeps.
    fn trim(&mut self, now: u64) {
        let horizon = self.loss_timeout.saturating_mul(HISTORY_LOSS_TIMEOUTS);
        while self.base < self.cursor {
            let front = self.slots[0];
            let old = front.timing.sent.saturating_add(horizon) < now;
            if !old && self.slots.len() <= HISTORY {
                return;
            }
            self.slots.pop_front();
            self.base += 1;
        }
    }

    /// Files one received datagram.
    fn file(&mut self, data: &[u8], to: &mut Found) {
        let header = (data.len() >= HEADER_LEN)
            .then(|| Header::decode(data[..HEADER_LEN].try_into().expect("header length")))
            .flatten();
        let h = match header {
            Some(h) if h.conn != self.state.id => {
                to.replies.push((STRAY, Verdict::Foreign { got: h.conn }));
                return;
            }
            Some(h) if h.size as usize == self.size && h.seq < self.next_send => h,
            _ => {
                to.replies.push((STRAY, Verdict::Corrupt));
                return;
            }
        };
        let intact =
            data.len() == self.size && payload::matches(self.state.id, h.seq, self.size, 0, data);
        let Some(slot) = self.slot(h.seq) else {
            // Forgotten: resolved long ago (see "Memory").
            if intact {
                to.counters.late += 1;
            } else {
                to.replies.push((STRAY, Verdict::Corrupt));
            }
            return;
        };
        match (slot.state, intact) {
            (State::Waiting, _) => {
                slot.state = State::Answered;
                let timing = slot.timing;
                self.waiting -= 1;
                let verdict = if intact {
                    Verdict::Intact
                } else {
                    Verdict::Corrupt
                };
                to.replies.push((timing, verdict));
            }
            (State::Lost, true) => {
                slot.state = State::LateAnswered;
                to.counters.late += 1;
            }
            (State::Answered | State::LateAnswered, true) => to.counters.duplicate += 1,
            (_, false) => to.replies.push((STRAY, Verdict::Corrupt)),
        }
    }
}

fn refused(e: io::Error) -> io::Error {
    if e.kind() == io::ErrorKind::ConnectionRefused {
        io::Error::new(e.kind(), format!("nothing listens there ({e})"))
    } else {
        e
    }
}

impl Link for DatagramConn {
    type Socket = UdpSocket;
    const LOSSY: bool = true;

    fn open(dial: &Dial, id: u32) -> io::Result<Self> {
        let Target::Udp(addr) = &dial.target else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "only a udp: target takes datagrams",
            ));
        };
        let local: SocketAddr = if addr.is_ipv4() {
            (Ipv4Addr::UNSPECIFIED, 0).into()
        } else {
            (Ipv6Addr::UNSPECIFIED, 0).into()
        };
        let sock = UdpSocket::bind(local)?;
        enlarge_receive_buffer(&sock);
        sock.connect(*addr)?;
        Ok(DatagramConn {
            sock,
            state: LinkState::new(id),
            size: dial.size,
            loss_timeout: dial.loss_timeout,
            base: 0,
            slots: VecDeque::new(),
            next_seq: 0,
            next_send: 0,
            cursor: 0,
            waiting: 0,
            out: Vec::with_capacity(dial.size),
            bytes: 0,
            received: 0,
        })
    }

    fn socket(&mut self) -> &mut UdpSocket {
        &mut self.sock
    }

    fn established(&self) -> io::Result<bool> {
        // `connect` on UDP only sets the peer: usable at once.
        match self.sock.take_error()? {
            Some(e) => Err(refused(e)),
            None => Ok(true),
        }
    }

    fn state(&self) -> &LinkState {
        &self.state
    }

    fn state_mut(&mut self) -> &mut LinkState {
        &mut self.state
    }

    fn tune(&self) -> io::Result<()> {
        Ok(())
    }

    fn close(&mut self) -> u64 {
        self.state.open = false;
        let owed = self.waiting;
        self.waiting = 0;
        self.state.backlog.clear();
        self.slots.clear();
        self.base = self.next_seq;
        self.next_send = self.next_seq;
        self.cursor = self.next_seq;
        owed
    }

    fn unsent_in(&self, from: u64, to: u64) -> u64 {
        self.state
            .backlog
            .iter()
            .filter(|&&x| x >= from && x < to)
            .count() as u64
    }

    fn has_room(&self) -> bool {
        self.unsent() == 0 || self.unsent() + self.size <= OUT_HIGH_WATER
    }

    fn issue(&mut self, intended: u64, now: u64) {
        self.slots.push_back(Slot {
            timing: Inflight {
                intended,
                sent: now,
            },
            state: State::Waiting,
        });
        self.next_seq += 1;
        self.waiting += 1;
        self.trim(now);
    }

    fn flush(&mut self) -> io::Result<()> {
        while self.next_send < self.next_seq {
            self.out.clear();
            payload::append(&mut self.out, self.state.id, self.next_send, self.size);
            match self.sock.send(&self.out) {
                Ok(n) if n == self.size => {
                    self.next_send += 1;
                    self.bytes += n as u64;
                }
                Ok(n) => {
                    return Err(io::Error::new(
                        io::ErrorKind::WriteZero,
                        format!("sent {n} of a {}-byte datagram", self.size),
                    ))
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(refused(e)),
            }
        }
        Ok(())
    }

    fn unsent(&self) -> usize {
        (self.next_seq - self.next_send) as usize * self.size
    }

    /// Receives datagrams until `WouldBlock` (edge-triggered readiness: a
    /// datagram left behind would get no new event). `closing` means
    /// nothing for a datagram socket; an empty datagram is not an EOF.
    fn read(&mut self, scratch: &mut [u8], _closing: bool, mut to: Found) -> io::Result<ReadEnd> {
        loop {
            // `scratch` holds 64 KiB, more than any UDP payload: nothing
            // is cut.
            let n = match self.sock.recv(scratch) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(refused(e)),
            };
            self.bytes += n as u64;
            self.received += n as u64;
            self.file(&scratch[..n], &mut to);
        }
        self.skip_resolved();
        Ok(ReadEnd::Drained)
    }

    fn moved(&self) -> u64 {
        self.bytes
    }

    fn received(&self) -> u64 {
        self.received
    }

    fn drained(&self) -> bool {
        self.waiting == 0
    }

    fn outstanding(&self) -> u64 {
        self.waiting
    }

    fn missing_detail(&self) -> String {
        format!("{} of them not yet sent", self.next_seq - self.next_send)
    }

    fn take_damage(&mut self) -> Option<(Inflight, Verdict)> {
        None
    }

    fn expire(&mut self, now: u64, lost: &mut Vec<Inflight>) {
        while self.cursor < self.next_send {
            let at = (self.cursor - self.base) as usize;
            let slot = &mut self.slots[at];
            if slot.state == State::Waiting {
                if slot.timing.sent.saturating_add(self.loss_timeout) > now {
                    break;
                }
                slot.state = State::Lost;
                self.waiting -= 1;
                lost.push(slot.timing);
            }
            self.cursor += 1;
        }
        self.trim(now);
    }

    fn next_expiry(&self) -> Option<u64> {
        if self.cursor >= self.next_send {
            return None;
        }
        let slot = &self.slots[(self.cursor - self.base) as usize];
        Some(slot.timing.sent.saturating_add(self.loss_timeout))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::result::Counters;
    use std::net::UdpSocket as StdUdp;
    use std::time::Duration;

    /// A generator socket and a blocking peer standing in for the server.
    fn pair(size: usize, loss_timeout: u64) -> (DatagramConn, StdUdp) {
        let peer = StdUdp::bind("127.0.0.1:0").unwrap();
        peer.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let dial = Dial {
            target: Target::Udp(peer.local_addr().unwrap()),
            peers: 4,
            size,
            loss_timeout,
        };
        let conn = DatagramConn::open(&dial, 3).unwrap();
        (conn, peer)
    }

    fn recv_from(peer: &StdUdp) -> (Vec<u8>, SocketAddr) {
        let mut buf = vec![0u8; 70_000];
        let (n, from) = peer.recv_from(&mut buf).unwrap();
        buf.truncate(n);
        (buf, from)
    }

    /// Reads until `want` replies or faults are filed (bounded).
    fn read_until(
        conn: &mut DatagramConn,
        want: usize,
        counters: &mut Counters,
    ) -> Vec<(Inflight, Verdict)> {
        let mut scratch = vec![0u8; 64 * 1024];
        let mut done = Vec::new();
        for _ in 0..5000 {
            let to = Found {
                replies: &mut done,
                counters,
            };
            conn.read(&mut scratch, false, to).unwrap();
            if done.len() + (counters.late + counters.duplicate) as usize >= want {
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        done
    }

    #[test]
    fn replies_in_any_order_are_matched_to_their_requests() {
        let (mut conn, peer) = pair(100, 1_000_000_000);
        for seq in 0..3 {
            conn.issue(seq * 10, seq * 10);
        }
        conn.flush().unwrap();
        let mut got = Vec::new();
        for _ in 0..3 {
            got.push(recv_from(&peer));
        }
        for (data, from) in got.iter().rev() {
            assert_eq!(data.len(), 100);
            peer.send_to(data, from).unwrap();
        }
        let mut counters = Counters::default();
        let done = read_until(&mut conn, 3, &mut counters);
        let intended: Vec<u64> = done.iter().map(|(t, _)| t.intended).collect();
        assert_eq!(intended, [20, 10, 0]);
        assert!(done.iter().all(|(_, v)| *v == Verdict::Intact));
        assert!(conn.drained());
    }

    #[test]
    fn lost_then_late_then_duplicate_and_damage() {
        let (mut conn, peer) = pair(64, 1_000);
        conn.issue(0, 0);
        conn.issue(5, 5);
        conn.flush().unwrap();
        let (first, from) = recv_from(&peer);
        let (second, _) = recv_from(&peer);
        assert_eq!(conn.next_expiry(), Some(1_000));
        let mut lost = Vec::new();
        conn.expire(1_000, &mut lost);
        assert_eq!(lost.len(), 1, "only the first deadline passed");
        assert_eq!(conn.next_expiry(), Some(1_005));
        // The lost one comes back (late), twice (duplicate); the other
        // one comes back damaged.
        peer.send_to(&first, from).unwrap();
        peer.send_to(&first, from).unwrap();
        let mut bad = second.clone();
        bad[40] ^= 1;
        peer.send_to(&bad, from).unwrap();
        peer.send_to(&[], from).unwrap();
        let mut counters = Counters::default();
        let done = read_until(&mut conn, 4, &mut counters);
        assert_eq!((counters.late, counters.duplicate), (1, 1));
        assert_eq!(done.len(), 2, "{done:?}");
        assert_eq!(
            done[0],
            (
                Inflight {
                    intended: 5,
                    sent: 5
                },
                Verdict::Corrupt
            )
        );
        assert_eq!(done[1], (STRAY, Verdict::Corrupt), "the empty datagram");
        assert!(conn.drained());
        assert_eq!(conn.next_expiry(), None);
    }

    #[test]
    fn history_is_bounded() {
        let (mut conn, _peer) = pair(32, 1);
        for t in 0..(HISTORY as u64 * 3) {
            conn.issue(t, t);
            conn.flush().unwrap();
            let mut lost = Vec::new();
            conn.expire(t + 1, &mut lost);
            assert_eq!(lost.len(), 1);
        }
        assert!(conn.slots.len() <= HISTORY + 1, "{}", conn.slots.len());
    }
}
