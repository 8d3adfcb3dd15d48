//! `udp:` targets: each input line one datagram, replies printed as they
//! come, and a bounded wait for the last ones.

use std::io::{self, BufRead, Write};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail};

/// The largest UDP payload an IPv4 datagram carries (65 535 less the IP and
/// UDP headers); one byte more and `send` fails with `EMSGSIZE`.
const MAX_DATAGRAM: usize = 65_507;

/// What the two datagram threads tell the coordinating one.
enum Event {
    Reply,
    InputEnded { sent: u64 },
    Failed(anyhow::Error),
}

/// A whole datagram conversation.
pub(super) fn converse(target: SocketAddr, wait: Duration, shown: &str) -> anyhow::Result<()> {
    let local: SocketAddr = if target.is_ipv4() {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let sock = UdpSocket::bind(local)
        .and_then(|s| s.connect(target).map(|()| s))
        .map_err(|e| anyhow!("cannot connect to {shown}: {e}"))?;
    let (tx, rx) = mpsc::channel();
    let (sender, to_main, peer) = (sock.try_clone()?, tx.clone(), shown.to_string());
    std::thread::spawn(move || {
        let ev = send_lines(&sender, &peer).unwrap_or_else(Event::Failed);
        let _ = to_main.send(ev);
    });
    let peer = shown.to_string();
    std::thread::spawn(move || {
        let e = print_datagrams(&sock, &tx, &peer);
        let _ = tx.send(Event::Failed(e));
    });
    let mut received = 0u64;
    let mut end: Option<(u64, Instant)> = None;
    loop {
        let ev = match end {
            None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
            Some((sent, _)) if received >= sent => return Ok(()),
            Some((_, deadline)) => {
                rx.recv_timeout(deadline.saturating_duration_since(Instant::now()))
            }
        };
        match ev {
            Ok(Event::Reply) => received += 1,
            Ok(Event::InputEnded { sent }) => end = Some((sent, Instant::now() + wait)),
            Ok(Event::Failed(e)) => return Err(e),
            Err(_) => {
                let sent = end.map_or(0, |(sent, _)| sent);
                bail!(
                    "{shown}: {} of {sent} datagrams had no reply within --wait {} \
                     (UDP may lose datagrams)",
                    sent.saturating_sub(received),
                    humantime::format_duration(wait)
                )
            }
        }
    }
}

/// Sends stdin as datagrams, one per line; returns how many were sent.
fn send_lines(sock: &UdpSocket, shown: &str) -> anyhow::Result<Event> {
    let mut stdin = io::stdin().lock();
    let mut datagram = Vec::with_capacity(MAX_DATAGRAM);
    let mut sent = 0u64;
    loop {
        let buf = match stdin.fill_buf() {
            Ok(buf) => buf,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => bail!("reading standard input: {e}"),
        };
        let at_end = buf.is_empty();
        let room = &buf[..buf.len().min(MAX_DATAGRAM - datagram.len())];
        let take = room
            .iter()
            .position(|&b| b == b'\n')
            .map_or(room.len(), |i| i + 1);
        datagram.extend_from_slice(&room[..take]);
        stdin.consume(take);
        let complete = datagram.last() == Some(&b'\n') || datagram.len() == MAX_DATAGRAM;
        if complete || (at_end && !datagram.is_empty()) {
            sock.send(&datagram)
                .map_err(|e| udp_error(shown, "sending to", e))?;
            datagram.clear();
            sent += 1;
        }
        if at_end {
            return Ok(Event::InputEnded { sent });
        }
    }
}

/// Prints each reply as it arrives until something fails; returns why.
fn print_datagrams(sock: &UdpSocket, tx: &Sender<Event>, shown: &str) -> anyhow::Error {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match sock.recv(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return udp_error(shown, "receiving from", e),
        };
        let mut out = io::stdout().lock();
        if let Err(e) = out.write_all(&buf[..n]).and_then(|()| out.flush()) {
            return e.into();
        }
        if tx.send(Event::Reply).is_err() {
            return anyhow!("finished");
        }
    }
}

/// A refused datagram means nothing listens there; say so.
fn udp_error(shown: &str, doing: &str, e: io::Error) -> anyhow::Error {
    if e.kind() == io::ErrorKind::ConnectionRefused {
        anyhow!("{shown}: nothing listens there ({e})")
    } else {
        anyhow!("{doing} {shown}: {e}")
    }
}
