//! Opening listeners: socket2 for the options std does not expose.
//!
//! A listener is a TCP listening socket or a bound UDP socket, as the
//! `--listen` value's kind says ([`ListenAddr`]); [`Bound`] carries it as a
//! [`Socket`] of that kind, and each model takes the kinds it serves.
//!
//! # Shared listeners (`--threads N`)
//!
//! With several reactors every address gets one listener per reactor, all
//! bound with SO_REUSEPORT: the kernel hashes each new connection (or, for
//! UDP, each datagram, by its source and destination) to one of them (see
//! [`crate::reactor::multi`]). The first of each address is bound as the
//! `--listen` flag says (port 0 resolved there); the others join it on the
//! resolved address, so every reactor listens on the same port and the
//! address is announced once.
//!
//! SO_REUSEPORT would also let the first bind *join* a group some other
//! process of ours already listens in (a second `echod --threads` on the
//! same port), silently splitting its clients. So before the first shared
//! bind on a given port, a plain bind of a throwaway socket checks that
//! nobody listens there: the same "Address already in use" as without
//! `--threads`.
//!
//! # UDP and SO_REUSEADDR
//!
//! TCP listeners get SO_REUSEADDR so a restart does not wait out
//! TIME_WAIT. UDP sockets do not: UDP has no TIME_WAIT, and on Linux two
//! UDP sockets that both set SO_REUSEADDR may bind the same port, so a
//! second daemon would silently take the first one's datagrams.

use std::io::{self, Write};
use std::net::{SocketAddr, TcpListener, UdpSocket};

use socket2::{Domain, Protocol, Socket as RawSocket, Type};

use crate::config::ListenAddr;
use crate::{Config, Error};

/// A bound socket of one of the kinds `--listen` names.
#[derive(Debug)]
pub enum Socket {
    /// A listening TCP socket.
    Tcp(TcpListener),
    /// A bound UDP socket.
    Udp(UdpSocket),
}

/// A bound, non-blocking socket (listening, for TCP) and the address it
/// really got (port 0 resolved).
#[derive(Debug)]
pub struct Bound {
    /// The socket, already non-blocking.
    pub socket: Socket,
    /// The local address, with the port the kernel chose.
    pub addr: SocketAddr,
}

impl Bound {
    /// The resolved address with its kind, as announced.
    pub fn listen_addr(&self) -> ListenAddr {
        match self.socket {
            Socket::Tcp(_) => ListenAddr::Tcp(self.addr),
            Socket::Udp(_) => ListenAddr::Udp(self.addr),
        }
    }
}

/// Bound sockets sorted by kind, each with its address: what [`split`]
/// hands the models that serve the kinds apart.
#[derive(Debug, Default)]
pub struct ByKind {
    /// The TCP listeners.
    pub tcp: Vec<(TcpListener, SocketAddr)>,
    /// The UDP sockets.
    pub udp: Vec<(UdpSocket, SocketAddr)>,
}

/// Sorts `bound` by kind, keeping `--listen` order within each kind.
pub fn split(bound: Vec<Bound>) -> ByKind {
    let mut by = ByKind::default();
    for b in bound {
        match b.socket {
            Socket::Tcp(s) => by.tcp.push((s, b.addr)),
            Socket::Udp(s) => by.udp.push((s, b.addr)),
        }
    }
    by
}

/// Opens one listener: for TCP, SO_REUSEADDR (so a restart does not wait
/// out TIME_WAIT) and the given backlog; IPV6_V6ONLY on IPv6 (so `[::]`
/// and `0.0.0.0` on one port can both be listed); non-blocking.
pub fn bind(addr: ListenAddr, backlog: i32) -> io::Result<Bound> {
    open(addr, backlog, false)
}

/// [`bind`] with SO_REUSEPORT, for a listener others will join with
/// [`join`]. Refused, as [`bind`] would be, when something already
/// listens on `addr` (see "Shared listeners").
pub fn bind_shared(addr: ListenAddr, backlog: i32) -> io::Result<Bound> {
    if addr.addr().port() != 0 {
        // Bound but never listening: it conflicts with any listener on the
        // port, shared or not, and is closed before ours are bound.
        plain(addr)?.bind(&addr.addr().into())?;
    }
    open(addr, backlog, true)
}

/// Another SO_REUSEPORT listener on the resolved address of one opened by
/// [`bind_shared`]: the kernel spreads new connections (or datagrams) over
/// all of them.
pub fn join(addr: ListenAddr, backlog: i32) -> io::Result<Bound> {
    open(addr, backlog, true)
}

/// A socket of `addr`'s kind with the options every listener of that kind
/// has (see "UDP and SO_REUSEADDR").
fn plain(addr: ListenAddr) -> io::Result<RawSocket> {
    let domain = Domain::for_address(addr.addr());
    let socket = match addr {
        ListenAddr::Tcp(_) => {
            let s = RawSocket::new(domain, Type::STREAM, Some(Protocol::TCP))?;
            s.set_reuse_address(true)?;
            s
        }
        ListenAddr::Udp(_) => RawSocket::new(domain, Type::DGRAM, Some(Protocol::UDP))?,
    };
    if addr.addr().is_ipv6() {
        socket.set_only_v6(true)?;
    }
    Ok(socket)
}

fn open(addr: ListenAddr, backlog: i32, shared: bool) -> io::Result<Bound> {
    let socket = plain(addr)?;
    if shared {
        socket.set_reuse_port(true)?;
    }
    socket.bind(&addr.addr().into())?;
    socket.set_nonblocking(true)?;
    let socket = match addr {
        ListenAddr::Tcp(_) => {
            socket.listen(backlog)?;
            Socket::Tcp(socket.into())
        }
        ListenAddr::Udp(_) => Socket::Udp(socket.into()),
    };
    let addr = match &socket {
        Socket::Tcp(s) => s.local_addr()?,
        Socket::Udp(s) => s.local_addr()?,
    };
    Ok(Bound { socket, addr })
}

/// Refuses `--listen` kinds the configured model does not serve, before
/// anything is bound. The reason names the flag and the model.
pub fn check(config: &Config) -> Result<(), String> {
    let model = config.model;
    match config.listen.iter().find(|a| !a.served_by(model)) {
        Some(addr) => Err(format!(
            "--listen {}:{}: --model {} does not serve {} (use --model reactor, threads or tokio)",
            addr.scheme(),
            addr.addr(),
            model.name(),
            addr.scheme().to_uppercase(),
        )),
        None => Ok(()),
    }
}

/// Binds every `--listen` address, shared (SO_REUSEPORT) when `--threads`
/// asks for more than one reactor. Either all succeed or the error names
/// the address that failed.
pub fn bind_all(config: &Config) -> Result<Vec<Bound>, Error> {
    let open = if config.threads > 1 {
        bind_shared
    } else {
        bind
    };
    config
        .listen
        .iter()
        .map(|&addr| {
            open(addr, config.backlog)
                .map_err(|e| Error::Startup(format!("cannot listen on {addr}: {e}")))
        })
        .collect()
}

/// One more listener on each of `addrs` (the resolved addresses of
/// [`bind_all`]'s shared listeners), for one more reactor.
pub fn join_all(addrs: &[ListenAddr], backlog: i32) -> Result<Vec<Bound>, Error> {
    addrs
        .iter()
        .map(|&addr| {
            join(addr, backlog)
                .map_err(|e| Error::Startup(format!("cannot listen on {addr} again: {e}")))
        })
        .collect()
}

/// Prints one `listening on tcp://ADDR` (or `udp://ADDR`) line per
/// listener on stdout and flushes it. Scripts and tests take these lines
/// to mean "ready": a model calls this only once it is fully set up,
/// signal handlers included, so a SIGTERM sent right after the line is
/// read drains instead of killing.
pub fn announce(addrs: &[ListenAddr]) {
    let mut out = io::stdout().lock();
    for addr in addrs {
        // A closed stdout must not stop a daemon that is otherwise fine.
        let _ = writeln!(out, "listening on {addr}");
    }
    let _ = out.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn any(kind: fn(SocketAddr) -> ListenAddr) -> ListenAddr {
        kind("127.0.0.1:0".parse().unwrap())
    }

    #[test]
    fn shared_listeners_join_on_the_resolved_port() {
        for kind in [ListenAddr::Tcp, ListenAddr::Udp] {
            let first = bind_shared(any(kind), 16).unwrap();
            assert_ne!(first.addr.port(), 0);
            let second = join(first.listen_addr(), 16).unwrap();
            assert_eq!(second.listen_addr(), first.listen_addr());
        }
    }

    #[test]
    fn a_shared_bind_does_not_join_a_group_already_listening() {
        for kind in [ListenAddr::Tcp, ListenAddr::Udp] {
            let theirs = bind_shared(any(kind), 16).unwrap();
            let err = bind_shared(theirs.listen_addr(), 16).expect_err("joined a foreign group");
            assert_eq!(err.kind(), io::ErrorKind::AddrInUse, "{err}");
            // A plain listener is refused all the same.
            let plain = bind(any(kind), 16).unwrap();
            assert!(bind_shared(plain.listen_addr(), 16).is_err());
        }
    }

    // See "UDP and SO_REUSEADDR": a second daemon on the same UDP port
    // must fail like a TCP one, not share the port.
    #[test]
    fn a_second_udp_bind_on_a_port_is_refused() {
        let first = bind(any(ListenAddr::Udp), 16).unwrap();
        let err = bind(first.listen_addr(), 16).expect_err("bound twice");
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse, "{err}");
    }
}
