//! `loadgen check` against a `udp:` target: the checks that mean something
//! for datagrams.
//!
//! UDP may lose any datagram, on loopback too when a buffer is full, so a
//! check never fails on one missing reply: it sends the datagram again
//! every [`RETRY`] until the reply comes or the check's deadline passes. It
//! fails on what no network does to a datagram: a reply that differs from
//! what was sent (damaged, cut, merged with another, or sent to the wrong
//! socket), or no reply at all by the deadline. The burst check is the one
//! place loss is measured; it is counted, not failed.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{compare, remaining, Check, CheckResult};
use crate::payload;
use crate::run::datagram::max_datagram;
use crate::target::Target;

/// How long to wait for a reply before sending the datagram again.
const RETRY: Duration = Duration::from_millis(250);

/// Larger than any datagram, so a reply is never cut by our buffer.
const BUF: usize = 64 * 1024;

/// The datagram checks, in the order they run.
pub(super) const CHECKS: [Check; 6] = [
    Check {
        name: "one datagram echoed intact (512 B)",
        run: one,
    },
    Check {
        name: "an empty datagram echoed empty",
        run: empty,
    },
    Check {
        name: "the largest datagram echoed whole",
        run: largest,
    },
    Check {
        name: "boundaries kept, 1 B .. 8 KiB",
        run: boundaries,
    },
    Check {
        name: "many sockets at once",
        run: many,
    },
    Check {
        name: "burst of 1000: loss counted, not failed",
        run: burst,
    },
];

fn addr(target: &Target) -> SocketAddr {
    match target {
        Target::Udp(a) => *a,
        _ => unreachable!("datagram checks run only for udp: targets"),
    }
}

/// A UDP socket connected to `target`: it reads only the target's replies,
/// and an ICMP "port unreachable" comes back as `ECONNREFUSED`.
fn socket(target: &Target) -> Result<UdpSocket, String> {
    let a = addr(target);
    let local: SocketAddr = if a.is_ipv4() {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let s = UdpSocket::bind(local).map_err(|e| format!("cannot bind a UDP socket: {e}"))?;
    crate::run::datagram::enlarge_receive_buffer(&s);
    s.connect(a)
        .map_err(|e| format!("cannot connect to {target}: {e}"))?;
    Ok(s)
}

fn refused(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::ConnectionRefused
}

/// Receives one datagram, waiting until `until` at most. `None` when none
/// came in time.
fn recv_until(s: &UdpSocket, buf: &mut [u8], until: Instant) -> Result<Option<usize>, String> {
    loop {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(None);
        }
        s.set_read_timeout(Some(left)).map_err(|e| e.to_string())?;
        match s.recv(buf) {
            Ok(n) => return Ok(Some(n)),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Ok(None)
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if refused(&e) => return Err(format!("nothing listens there ({e})")),
            Err(e) => return Err(format!("receive failed: {e}")),
        }
    }
}

fn send(s: &UdpSocket, data: &[u8]) -> Result<(), String> {
    match s.send(data) {
        Ok(n) if n == data.len() => Ok(()),
        Ok(n) => Err(format!("sent {n} of a {}-byte datagram", data.len())),
        Err(e) if refused(&e) => Err(format!("nothing listens there ({e})")),
        Err(e) => Err(format!(
            "sending a {}-byte datagram failed: {e}",
            data.len()
        )),
    }
}

/// Checks that `target` answers at all: `Err` only when the kernel says
/// nothing listens there. A silent server passes the probe and fails the
/// checks, each with its own reason (or, before `run`, shows as loss). The
/// probe is its own socket, so its datagram never reaches a measurement.
pub(crate) fn probe(target: &Target, timeout: Duration) -> Result<(), String> {
    let s = socket(target)?;
    let mut data = Vec::new();
    payload::append(&mut data, u32::MAX, 0, payload::MIN_SIZE);
    send(&s, &data)?;
    let mut buf = vec![0u8; BUF];
    recv_until(
        &s,
        &mut buf,
        Instant::now() + timeout.min(Duration::from_secs(1)),
    )?;
    Ok(())
}

/// Sends `data` until its echo comes back, at most until `deadline`.
/// Fails at once on a reply that is not `data` byte for byte.
fn echo_one(s: &UdpSocket, data: &[u8], deadline: Instant) -> Result<(), String> {
    let mut buf = vec![0u8; BUF];
    let mut sends = 0;
    while remaining(deadline).is_ok() {
        send(s, data)?;
        sends += 1;
        let until = (Instant::now() + RETRY).min(deadline);
        // Every reply decides: a retransmission's echo is `data` too.
        if let Some(n) = recv_until(s, &mut buf, until)? {
            let got = &buf[..n];
            if got == data {
                return Ok(());
            }
            if n != data.len() {
                return Err(format!(
                    "a {}-byte datagram came back as {n} bytes",
                    data.len()
                ));
            }
            return compare(data, got);
        }
    }
    Err(format!(
        "no reply to a {}-byte datagram sent {sends} times",
        data.len()
    ))
}

fn one(target: &Target, deadline: Instant, _: u32) -> CheckResult {
    let s = socket(target)?;
    let mut data = Vec::new();
    payload::append(&mut data, 1, 0, 512);
    echo_one(&s, &data, deadline)?;
    Ok("512 B echoed byte for byte".into())
}

fn empty(target: &Target, deadline: Instant, _: u32) -> CheckResult {
    let s = socket(target)?;
    echo_one(&s, &[], deadline)?;
    Ok("0 B in, 0 B out".into())
}

fn largest(target: &Target, deadline: Instant, _: u32) -> CheckResult {
    let a = addr(target);
    let most = max_datagram(&a);
    let s = socket(target)?;
    let data = super::pattern(2, most);
    echo_one(&s, &data, deadline).map_err(|e| format!("{most}-byte datagram: {e}"))?;
    let family = if a.is_ipv4() { "IPv4" } else { "IPv6" };
    Ok(format!(
        "{most} B (the largest {family} UDP payload) echoed whole"
    ))
}

/// Sends datagrams of several sizes back to back; each must come back as
/// itself, never merged with or cut into another.
fn boundaries(target: &Target, deadline: Instant, _: u32) -> CheckResult {
    const SIZES: [usize; 8] = [1, 23, 24, 100, 1472, 1473, 4096, 8192];
    let s = socket(target)?;
    let sent: Vec<Vec<u8>> = SIZES
        .iter()
        .enumerate()
        .map(|(i, &n)| super::pattern(10 + i as u32, n))
        .collect();
    let mut back = [false; SIZES.len()];
    let mut buf = vec![0u8; BUF];
    while remaining(deadline).is_ok() {
        for (d, _) in sent.iter().zip(back).filter(|(_, b)| !b) {
            send(&s, d)?;
        }
        let until = (Instant::now() + RETRY).min(deadline);
        while let Some(n) = recv_until(&s, &mut buf, until)? {
            match sent.iter().position(|d| d[..] == buf[..n]) {
                Some(i) => back[i] = true,
                None => {
                    return Err(format!(
                        "a {n}-byte reply matches none of the datagrams sent \
                         ({SIZES:?} B): merged, cut or damaged"
                    ))
                }
            }
            if back.iter().all(|&b| b) {
                return Ok(format!("{} sizes, each came back as itself", SIZES.len()));
            }
        }
    }
    let missing: Vec<usize> = SIZES
        .iter()
        .zip(back)
        .filter(|(_, b)| !b)
        .map(|(&n, _)| n)
        .collect();
    Err(format!("no reply to the datagrams of {missing:?} B"))
}

/// Opens `conns` sockets, sends a distinct datagram on each, and checks
/// every socket gets its own back (the server answers each source).
fn many(target: &Target, deadline: Instant, conns: u32) -> CheckResult {
    const SIZE: usize = 128;
    let mut socks = Vec::new();
    for _ in 0..conns {
        socks.push(socket(target)?);
    }
    let sent: Vec<Vec<u8>> = (0..conns)
        .map(|i| {
            let mut d = Vec::new();
            payload::append(&mut d, i, 0, SIZE);
            d
        })
        .collect();
    let mut back = vec![false; socks.len()];
    let mut buf = vec![0u8; BUF];
    let mut rounds = 0;
    while remaining(deadline).is_ok() {
        rounds += 1;
        for (i, s) in socks.iter().enumerate().filter(|(i, _)| !back[*i]) {
            send(s, &sent[i]).map_err(|e| format!("socket {i}: {e}"))?;
        }
        let until = (Instant::now() + RETRY).min(deadline);
        for (i, s) in socks.iter().enumerate() {
            if back[i] {
                continue;
            }
            // Every reply decides: an earlier round's echo is `sent[i]` too.
            if let Some(n) =
                recv_until(s, &mut buf, until).map_err(|e| format!("socket {i}: {e}"))?
            {
                let got = &buf[..n];
                if got == sent[i] {
                    back[i] = true;
                    continue;
                }
                if let Some(j) = sent.iter().position(|d| d[..] == *got) {
                    return Err(format!(
                        "socket {i} received the datagram sent by socket {j}"
                    ));
                }
                return Err(format!(
                    "socket {i}: {}",
                    if n == SIZE {
                        compare(&sent[i], got).err().unwrap_or_default()
                    } else {
                        format!("a {SIZE}-byte datagram came back as {n} bytes")
                    }
                ));
            }
        }
        if back.iter().all(|&b| b) {
            return Ok(format!(
                "{conns} sockets, each got its own datagram back ({rounds} round(s))"
            ));
        }
    }
    let missing = back.iter().filter(|&&b| !b).count();
    Err(format!("{missing} of {conns} sockets had no reply"))
}

/// Sends 1000 datagrams back to back while another thread reads the
/// replies; counts what came back. Loss passes (UDP may drop under a
/// burst); damage, or nothing back at all, fails.
fn burst(target: &Target, deadline: Instant, _: u32) -> CheckResult {
    const N: u64 = 1000;
    const SIZE: usize = 64;
    const ID: u32 = 7;
    /// Quiet time after which the stragglers are taken for lost.
    const SETTLE: Duration = Duration::from_millis(500);
    let s = Arc::new(socket(target)?);
    let reader = Arc::clone(&s);
    let collect = std::thread::spawn(move || -> Result<(u64, u64), String> {
        let mut seen = vec![false; N as usize];
        let (mut got, mut dup) = (0u64, 0u64);
        let mut buf = vec![0u8; BUF];
        while got < N {
            let until = (Instant::now() + SETTLE).min(deadline);
            let Some(n) = recv_until(&reader, &mut buf, until)? else {
                break;
            };
            let d = &buf[..n];
            let seq = (n == SIZE)
                .then(|| payload::Header::decode(d[..payload::HEADER_LEN].try_into().ok()?))
                .flatten()
                .filter(|h| h.conn == ID && h.seq < N && payload::matches(ID, h.seq, SIZE, 0, d))
                .map(|h| h.seq);
            let Some(seq) = seq else {
                return Err(format!(
                    "a {n}-byte reply matches none of the {N} datagrams sent"
                ));
            };
            if seen[seq as usize] {
                dup += 1;
            } else {
                seen[seq as usize] = true;
                got += 1;
            }
        }
        Ok((got, dup))
    });
    let mut data = Vec::with_capacity(SIZE);
    let mut sent = Ok(());
    for seq in 0..N {
        data.clear();
        payload::append(&mut data, ID, seq, SIZE);
        sent = send(&s, &data);
        if sent.is_err() {
            break;
        }
    }
    let (got, dup) = collect
        .join()
        .unwrap_or_else(|_| Err("reader thread panicked".into()))?;
    sent?;
    if got == 0 {
        return Err(format!("no reply to any of {N} datagrams"));
    }
    Ok(format!(
        "{N} x {SIZE} B sent, {got} back ({} lost, {dup} duplicated)",
        N - got
    ))
}
