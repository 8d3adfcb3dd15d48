//! Opening listeners: socket2 for the options std does not expose.
//!
//! # Shared listeners (`--threads N`)
//!
//! With several reactors every address gets one listener per reactor, all
//! bound with SO_REUSEPORT: the kernel hashes each new connection to one
//! of them (see [`crate::reactor::multi`]). The first of each address is
//! bound as the `--listen` flag says (port 0 resolved there); the others
//! join it on the resolved address, so every reactor listens on the same
//! port and the address is announced once.
//!
//! SO_REUSEPORT would also let the first bind *join* a group some other
//! process of ours already listens in (a second `echod --threads` on the
//! same port), silently splitting its clients. So before the first shared
//! bind on a given port, a plain bind of a throwaway socket checks that
//! nobody listens there: the same "Address already in use" as without
//! `--threads`.

use std::io::{self, Write};
use std::net::{SocketAddr, TcpListener};

use socket2::{Domain, Protocol, Socket, Type};

use crate::{Config, Error};

/// A bound, listening, non-blocking socket and the address it really got
/// (port 0 resolved).
#[derive(Debug)]
pub struct Bound {
    /// The socket, already non-blocking.
    pub socket: TcpListener,
    /// The local address, with the port the kernel chose.
    pub addr: SocketAddr,
}

/// Opens one listener: SO_REUSEADDR (so a restart does not wait out
/// TIME_WAIT), IPV6_V6ONLY on IPv6 (so `[::]` and `0.0.0.0` on one port can
/// both be listed), the given backlog, non-blocking.
pub fn bind(addr: SocketAddr, backlog: i32) -> io::Result<Bound> {
    open(addr, backlog, false)
}

/// [`bind`] with SO_REUSEPORT, for a listener others will join with
/// [`join`]. Refused, as [`bind`] would be, when something already
/// listens on `addr` (see "Shared listeners").
pub fn bind_shared(addr: SocketAddr, backlog: i32) -> io::Result<Bound> {
    if addr.port() != 0 {
        // Bound but never listening: it conflicts with any listener on the
        // port, shared or not, and is closed before ours are bound.
        plain(addr)?.bind(&addr.into())?;
    }
    open(addr, backlog, true)
}

/// Another SO_REUSEPORT listener on the resolved address of one opened by
/// [`bind_shared`]: the kernel spreads new connections over all of them.
pub fn join(addr: SocketAddr, backlog: i32) -> io::Result<Bound> {
    open(addr, backlog, true)
}

/// A TCP socket for `addr` with the options every listener has.
fn plain(addr: SocketAddr) -> io::Result<Socket> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    Ok(socket)
}

fn open(addr: SocketAddr, backlog: i32, shared: bool) -> io::Result<Bound> {
    let socket = plain(addr)?;
    if shared {
        socket.set_reuse_port(true)?;
    }
    socket.bind(&addr.into())?;
    socket.listen(backlog)?;
    socket.set_nonblocking(true)?;
    let socket: TcpListener = socket.into();
    let addr = socket.local_addr()?;
    Ok(Bound { socket, addr })
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
pub fn join_all(addrs: &[SocketAddr], backlog: i32) -> Result<Vec<Bound>, Error> {
    addrs
        .iter()
        .map(|&addr| {
            join(addr, backlog)
                .map_err(|e| Error::Startup(format!("cannot listen on {addr} again: {e}")))
        })
        .collect()
}

/// Prints one `listening on tcp://ADDR` line per listener on stdout and
/// flushes it. Scripts and tests take these lines to mean "ready": a model
/// calls this only once it is fully set up, signal handlers included, so a
/// SIGTERM sent right after the line is read drains instead of killing.
pub fn announce(addrs: &[SocketAddr]) {
    let mut out = io::stdout().lock();
    for addr in addrs {
        // A closed stdout must not stop a daemon that is otherwise fine.
        let _ = writeln!(out, "listening on tcp://{addr}");
    }
    let _ = out.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_listeners_join_on_the_resolved_port() {
        let first = bind_shared("127.0.0.1:0".parse().unwrap(), 16).unwrap();
        assert_ne!(first.addr.port(), 0);
        let second = join(first.addr, 16).unwrap();
        assert_eq!(second.addr, first.addr);
    }

    #[test]
    fn a_shared_bind_does_not_join_a_group_already_listening() {
        let theirs = bind_shared("127.0.0.1:0".parse().unwrap(), 16).unwrap();
        let err = bind_shared(theirs.addr, 16).expect_err("joined a foreign group");
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse, "{err}");
        // A plain listener is refused all the same.
        let plain = bind("127.0.0.1:0".parse().unwrap(), 16).unwrap();
        assert!(bind_shared(plain.addr, 16).is_err());
    }
}
