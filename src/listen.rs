//! Opening listeners: socket2 for the options std does not expose.

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
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.bind(&addr.into())?;
    socket.listen(backlog)?;
    socket.set_nonblocking(true)?;
    let socket: TcpListener = socket.into();
    let addr = socket.local_addr()?;
    Ok(Bound { socket, addr })
}

/// Binds every `--listen` address. Either all succeed or the error names
/// the address that failed.
pub fn bind_all(config: &Config) -> Result<Vec<Bound>, Error> {
    config
        .listen
        .iter()
        .map(|&addr| {
            bind(addr, config.backlog)
                .map_err(|e| Error::Startup(format!("cannot listen on {addr}: {e}")))
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
