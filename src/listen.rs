//! Opening listeners: socket2 for the options std does not expose.
//!
//! A listener is a TCP listening socket, a bound UDP socket or a
//! listening Unix stream socket, as the `--listen` value's kind says
//! ([`ListenAddr`]); [`Bound`] carries it as a [`Socket`] of that kind,
//! and each model takes the kinds it serves. Under socket activation the
//! sockets come from the service manager instead ([`activation`]), and
//! `--listen` is ignored.
//!
//! # Shared listeners (`--threads N`)
//!
//! With several reactors every `--listen` TCP or UDP address gets one
//! listener per reactor, all bound with SO_REUSEPORT: the kernel hashes
//! each new connection (or, for UDP, each datagram, by its source and
//! destination) to one of them (see [`crate::supervisor`]). The first
//! of each address is bound as the `--listen` flag says (port 0 resolved
//! there); the others join it on the resolved address, so every reactor
//! listens on the same port and the address is announced once.
//!
//! A Unix socket has no SO_REUSEPORT group to join (a second bind on the
//! path fails, or would replace the file), and an inherited socket is the
//! service manager's: binding more sockets beside it would bypass the
//! unit's settings, and may not even be allowed. So those are *shared*
//! instead ([`another`]): every reactor gets a copy of the same
//! descriptor (`try_clone`, a `dup`) and registers it in its own poll.
//! There is then one accept queue (or one receive queue) for all: each new
//! connection wakes every reactor, one accepts it, the others find the
//! queue empty (`WouldBlock`), and the spread is whoever is free first
//! rather than a hash. The socket closes with the last copy, and the socket
//! file goes with the first set's copy (reactor 0's).
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
//!
//! # UDP receive buffer
//!
//! UDP has no flow control: a datagram that finds the socket's receive
//! buffer full is dropped by the kernel before echod ever sees it (Linux
//! counts it in `RcvbufErrors`, `netstat -su`). The default buffer
//! (`net.core.rmem_default`, 208 KiB on many systems) holds a few hundred
//! small datagrams, so a client with several hundred in flight loses some
//! at each burst. Listeners we bind ask for [`UDP_RECV_BUFFER`]; the
//! kernel caps the request at `net.core.rmem_max`. Sockets passed by
//! socket activation keep what the service manager set
//! (`ReceiveBuffer=` in the .socket unit); echod warns at start when that
//! is less (see [`activation`], "Warned").
//!
//! # Unix socket files
//!
//! See [`unix`]: a stale socket file is replaced, a live one or anything
//! that is not a socket is refused, and the file we created is removed
//! when its listener closes.

pub mod activation;
pub mod unix;

/// SO_RCVBUF asked for on the UDP sockets we bind (see "UDP receive
/// buffer"): room for thousands of small datagrams in a burst. Kernel
/// memory, used only while datagrams wait.
pub const UDP_RECV_BUFFER: usize = 4 << 20;

use std::io::{self, Write};
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::os::unix::net::UnixListener;
use std::path::PathBuf;

use socket2::{Domain, Protocol, Socket as RawSocket, Type};

use crate::config::Config;
use crate::config::{ListenAddr, Model};
use crate::error::Error;
pub use unix::SocketFile;

/// A bound socket of one of the kinds `--listen` names.
#[derive(Debug)]
pub enum Socket {
    /// A listening TCP socket.
    Tcp(TcpListener),
    /// A bound UDP socket.
    Udp(UdpSocket),
    /// A listening Unix stream socket.
    Unix(UnixListener),
}

/// A bound, non-blocking socket (listening, for TCP and Unix) and the
/// address it really got (port 0 resolved).
#[derive(Debug)]
pub struct Bound {
    /// The socket, already non-blocking.
    pub socket: Socket,
    /// The local address with its kind: the port the kernel chose, or the
    /// socket's path.
    pub addr: ListenAddr,
    /// The socket file to remove once the socket is closed: set for the
    /// `unix:` paths we bound, never for inherited sockets (see [`unix`]).
    /// Whoever takes the socket keeps this beside it.
    pub file: Option<SocketFile>,
}

impl Bound {
    /// The resolved address with its kind, as announced.
    pub fn listen_addr(&self) -> ListenAddr {
        self.addr.clone()
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
    /// The Unix stream listeners, each with its path and the file to
    /// remove once it is closed.
    pub unix: Vec<(UnixListener, PathBuf, Option<SocketFile>)>,
}

/// Sorts `bound` by kind, keeping `--listen` order within each kind.
pub fn split(bound: Vec<Bound>) -> ByKind {
    let mut by = ByKind::default();
    for b in bound {
        match (b.socket, b.addr) {
            (Socket::Tcp(s), ListenAddr::Tcp(a)) => by.tcp.push((s, a)),
            (Socket::Udp(s), ListenAddr::Udp(a)) => by.udp.push((s, a)),
            (Socket::Unix(s), ListenAddr::Unix(p)) => by.unix.push((s, p, b.file)),
            (s, a) => unreachable!("{s:?} is not a {} socket", a.scheme()),
        }
    }
    by
}

/// Opens one listener: for TCP, SO_REUSEADDR (so a restart does not wait
/// out TIME_WAIT) and the given backlog; IPV6_V6ONLY on IPv6 (so `[::]`
/// and `0.0.0.0` on one port can both be listed); for Unix, see [`unix`];
/// non-blocking.
pub fn bind(addr: &ListenAddr, backlog: i32) -> io::Result<Bound> {
    bind_with_mode(addr, backlog, None)
}

/// [`bind`], with `--unix-mode` for a Unix socket's file.
fn bind_with_mode(addr: &ListenAddr, backlog: i32, mode: Option<u32>) -> io::Result<Bound> {
    match addr {
        ListenAddr::Unix(path) => {
            let (sock, file) = unix::bind(path, backlog, mode)?;
            Ok(Bound {
                socket: Socket::Unix(sock),
                addr: addr.clone(),
                file: Some(file),
            })
        }
        _ => open(addr, backlog, false),
    }
}

/// [`bind`] with SO_REUSEPORT, for a listener others will join with
/// [`join`]. Refused, as [`bind`] would be, when something already
/// listens on `addr` (see "Shared listeners").
pub fn bind_shared(addr: &ListenAddr, backlog: i32) -> io::Result<Bound> {
    if addr.ip_addr().is_some_and(|a| a.port() != 0) {
        // Bound but never listening: it conflicts with any listener on the
        // port, shared or not, and is closed before ours are bound.
        plain(addr)?.bind(&ip(addr)?.into())?;
    }
    open(addr, backlog, true)
}

/// Another SO_REUSEPORT listener on the resolved address of one opened by
/// [`bind_shared`]: the kernel spreads new connections (or datagrams) over
/// all of them.
pub fn join(addr: &ListenAddr, backlog: i32) -> io::Result<Bound> {
    open(addr, backlog, true)
}

/// One more listener like `bound` (one of the first set) for one more
/// reactor: a SO_REUSEPORT listener joined on its address when we bound
/// it from `--listen` (TCP or UDP), else a copy of its descriptor, the
/// same socket (a Unix socket, or any inherited socket when `activated`;
/// see "Shared listeners").
pub fn another(bound: &Bound, activated: bool, backlog: i32) -> io::Result<Bound> {
    if !activated && bound.addr.ip_addr().is_some() {
        return join(&bound.addr, backlog);
    }
    let socket = match &bound.socket {
        Socket::Tcp(s) => Socket::Tcp(s.try_clone()?),
        Socket::Udp(s) => Socket::Udp(s.try_clone()?),
        Socket::Unix(s) => Socket::Unix(s.try_clone()?),
    };
    Ok(Bound {
        socket,
        addr: bound.listen_addr(),
        // Removed once, by the first set's owner.
        file: None,
    })
}

/// The IP address of a TCP or UDP listener; a Unix socket has none (and
/// no SO_REUSEPORT group to join: see "Shared listeners").
fn ip(addr: &ListenAddr) -> io::Result<SocketAddr> {
    addr.ip_addr().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::Unsupported,
            "a Unix socket has no address to bind with SO_REUSEPORT",
        )
    })
}

/// A socket of `addr`'s kind with the options every listener of that kind
/// has (see "UDP and SO_REUSEADDR").
fn plain(addr: &ListenAddr) -> io::Result<RawSocket> {
    let ip = ip(addr)?;
    let domain = Domain::for_address(ip);
    let socket = match addr {
        ListenAddr::Tcp(_) => {
            let s = RawSocket::new(domain, Type::STREAM, Some(Protocol::TCP))?;
            s.set_reuse_address(true)?;
            // Inherited by every accepted connection: urgent data stays in
            // the stream and is echoed (see `crate::net::urgent_inline`).
            crate::net::urgent_inline(&s)?;
            s
        }
        ListenAddr::Udp(_) => {
            let s = RawSocket::new(domain, Type::DGRAM, Some(Protocol::UDP))?;
            // See "UDP receive buffer". Failure only costs burst room.
            let _ = s.set_recv_buffer_size(UDP_RECV_BUFFER);
            s
        }
        ListenAddr::Unix(_) => unreachable!("refused by `ip`"),
    };
    if ip.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    Ok(socket)
}

fn open(addr: &ListenAddr, backlog: i32, shared: bool) -> io::Result<Bound> {
    let socket = plain(addr)?;
    if shared {
        // FreeBSD balances a group only with the _LB variant (12.0 and
        // later); its plain SO_REUSEPORT shares the port without spreading.
        #[cfg(target_os = "freebsd")]
        socket.set_reuse_port_lb(true)?;
        #[cfg(not(target_os = "freebsd"))]
        socket.set_reuse_port(true)?;
    }
    socket.bind(&ip(addr)?.into())?;
    socket.set_nonblocking(true)?;
    let (socket, addr) = match addr {
        ListenAddr::Udp(_) => {
            let s: UdpSocket = socket.into();
            let local = s.local_addr()?;
            (Socket::Udp(s), ListenAddr::Udp(local))
        }
        _ => {
            socket.listen(backlog)?;
            let s: TcpListener = socket.into();
            let local = s.local_addr()?;
            (Socket::Tcp(s), ListenAddr::Tcp(local))
        }
    };
    Ok(Bound {
        socket,
        addr,
        file: None,
    })
}

/// Refuses, before anything is bound, what cannot be served: a kind of
/// listener the configured model does not serve, `--unix-mode` with no
/// socket file of ours to apply it to. `addrs` are the `--listen`
/// addresses, or the inherited sockets' when `activated`. The reason
/// names the flag (or the activation) and the model.
pub fn check(config: &Config, addrs: &[ListenAddr], activated: bool) -> Result<(), String> {
    let model = config.model;
    let source = |addr: &ListenAddr| match (activated, addr) {
        (true, _) => format!("socket activation: {addr}"),
        (false, ListenAddr::Unix(p)) => format!("--listen unix:{}", p.display()),
        (false, _) => format!("--listen {}:{}", addr.scheme(), ip(addr).expect("an IP")),
    };
    if let Some(addr) = addrs.iter().find(|a| !a.served_by(model)) {
        let serving: Vec<&str> = [Model::Reactor, Model::Threads, Model::Tokio]
            .into_iter()
            .filter(|&m| addr.served_by(m))
            .map(Model::name)
            .collect();
        return Err(format!(
            "{}: --model {} does not serve {} (use --model {})",
            source(addr),
            model.name(),
            addr.scheme().to_uppercase(),
            or_list(&serving),
        ));
    }
    if let Some(mode) = config.unix_mode {
        let ours = !activated && addrs.iter().any(|a| a.ip_addr().is_none());
        if !ours {
            let hint = if activated {
                " (under socket activation, set SocketMode= in the .socket unit)"
            } else {
                ""
            };
            return Err(format!(
                "--unix-mode {mode:o}: no --listen unix:PATH to apply it to{hint}"
            ));
        }
    }
    // echod's own addresses that would collide: caught here, because the
    // bind's "Address already in use" sends the operator looking for
    // another process that holds the port, and there is none. Inherited
    // sockets are already bound, so only `--metrics` can collide with them.
    let labelled = |a: &ListenAddr| (source(a), a.clone());
    let (mut seen, mut new): (Vec<_>, Vec<_>) = match activated {
        true => (addrs.iter().map(labelled).collect(), Vec::new()),
        false => (Vec::new(), addrs.iter().map(labelled).collect()),
    };
    new.extend(
        config
            .metrics
            .map(|m| (format!("--metrics {m}"), ListenAddr::Tcp(m))),
    );
    for (label, addr) in new {
        for (first, other) in &seen {
            if let Some(why) = collision(other, &addr) {
                return Err(format!(
                    "{first} and {label}: {why}, so echod would collide with itself \
                     (give one of them another address)"
                ));
            }
        }
        seen.push((label, addr));
    }
    Ok(())
}

/// Why listeners on `a` and `b` cannot both be bound, if they cannot: the
/// same address twice, or one port of one kind on a wildcard address
/// (`0.0.0.0`, `[::]`) and on another address of its family, which the
/// wildcard covers (IPV6_V6ONLY keeps `[::]` off IPv4). Port 0 picks a
/// free port each time, so it never collides.
fn collision(a: &ListenAddr, b: &ListenAddr) -> Option<String> {
    let (x, y) = match (a, b) {
        (ListenAddr::Unix(p), ListenAddr::Unix(q)) if p == q => {
            return Some("the same path twice".into())
        }
        (ListenAddr::Tcp(x), ListenAddr::Tcp(y)) | (ListenAddr::Udp(x), ListenAddr::Udp(y)) => {
            (x, y)
        }
        _ => return None,
    };
    if x.port() == 0 || x.port() != y.port() || x.is_ipv4() != y.is_ipv4() {
        return None;
    }
    if x.ip() == y.ip() {
        return Some("the same address twice".into());
    }
    let (wild, other) = match (x.ip().is_unspecified(), y.ip().is_unspecified()) {
        (true, _) => (x, y),
        (_, true) => (y, x),
        _ => return None,
    };
    // Bracketed like the addresses the user wrote: `[::] covers [::1]`.
    let ip = |a: &SocketAddr| match a {
        SocketAddr::V4(a) => a.ip().to_string(),
        SocketAddr::V6(a) => format!("[{}]", a.ip()),
    };
    Some(format!(
        "{} covers {} on port {}",
        ip(wild),
        ip(other),
        wild.port()
    ))
}

/// `a`, `a or b`, `a, b or c`.
fn or_list(words: &[&str]) -> String {
    match words {
        [] => String::new(),
        [one] => (*one).to_string(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// Binds every `--listen` address, TCP and UDP ones with SO_REUSEPORT
/// when `--threads` asks for more than one reactor (see "Shared
/// listeners"). Either all succeed or the error names the address that
/// failed.
pub fn bind_all(config: &Config) -> Result<Vec<Bound>, Error> {
    config
        .listen
        .iter()
        .map(|addr| {
            // A Unix socket is shared, not joined: bound once, as alone.
            if config.threads > 1 && addr.ip_addr().is_some() {
                bind_shared(addr, config.backlog)
            } else {
                bind_with_mode(addr, config.backlog, config.unix_mode)
            }
            .map_err(|e| {
                Error::Startup(format!(
                    "cannot listen on {addr}: {e}{}",
                    bind_hint(addr, &e)
                ))
            })
        })
        .collect()
}

/// What to do about a bind of IP listener `addr` that failed with `e`,
/// as `; ...` to append to the OS's words, or nothing: they say what
/// failed, not where to look. A busy port names the command that finds its
/// owner; an address no interface has, and a privileged port, say so.
/// Unix sockets have their own words (see `unix.rs`).
pub fn bind_hint(addr: &ListenAddr, e: &io::Error) -> String {
    let (ss, ip) = match addr {
        ListenAddr::Tcp(ip) => ("-ltnp", ip),
        ListenAddr::Udp(ip) => ("-lunp", ip),
        ListenAddr::Unix(_) => return String::new(),
    };
    let port = ip.port();
    match e.kind() {
        io::ErrorKind::AddrInUse => {
            format!("; another process listens there (ss {ss} 'sport = :{port}' shows which)")
        }
        io::ErrorKind::AddrNotAvailable => {
            "; no interface of this machine has that address (ip address lists them)".into()
        }
        io::ErrorKind::PermissionDenied if (1..1024).contains(&port) => {
            "; ports below 1024 need root or the CAP_NET_BIND_SERVICE capability".into()
        }
        _ => String::new(),
    }
}

/// [`another`] listener for each of `first` (what [`bind_all`] bound, or
/// the inherited sockets when `activated`), for one more reactor.
pub fn another_set(first: &[Bound], activated: bool, backlog: i32) -> Result<Vec<Bound>, Error> {
    first
        .iter()
        .map(|b| {
            another(b, activated, backlog)
                .map_err(|e| Error::Startup(format!("cannot listen on {} again: {e}", b.addr)))
        })
        .collect()
}

/// Prints one `listening on tcp://ADDR` (or `udp://ADDR`, or
/// `unix:///PATH`) line per listener on stdout and flushes it. Scripts and tests take these lines
/// to mean "ready": a model calls this only once it is fully set up,
/// signal handlers included, so a SIGTERM sent right after the line is
/// read drains instead of killing.
pub fn announce(addrs: &[ListenAddr]) {
    let mut out = io::stdout().lock();
    for addr in addrs {
        // A closed stdout must not stop a daemon that is otherwise fine.
        let _ = writeln!(out, "{ANNOUNCED}{addr}");
    }
    let _ = out.flush();
}

/// What every line of [`announce`] starts with.
const ANNOUNCED: &str = "listening on ";

/// The listener one line of [`announce`] names, for programs that start
/// echod on port 0 and must learn the port: `listening on tcp://ADDR` is
/// [`ListenAddr::Tcp`], `udp://ADDR` [`ListenAddr::Udp`], `unix:///PATH`
/// [`ListenAddr::Unix`]. Trailing whitespace (a `\r`) is ignored. `None`
/// for any other line, so a caller can skip what is not an announcement.
pub fn parse_announced(line: &str) -> Option<ListenAddr> {
    let addr = line.trim_end().strip_prefix(ANNOUNCED)?;
    match addr.split_once("://")? {
        ("tcp", ip_port) => ip_port.parse().ok().map(ListenAddr::Tcp),
        ("udp", ip_port) => ip_port.parse().ok().map(ListenAddr::Udp),
        ("unix", path) => Some(ListenAddr::Unix(path.into())),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn any(kind: fn(SocketAddr) -> ListenAddr) -> ListenAddr {
        kind("127.0.0.1:0".parse().unwrap())
    }

    #[test]
    fn what_announce_prints_parses_back() {
        for addr in [
            ListenAddr::Tcp("127.0.0.1:7007".parse().unwrap()),
            ListenAddr::Tcp("[::1]:65535".parse().unwrap()),
            ListenAddr::Udp("0.0.0.0:9".parse().unwrap()),
            ListenAddr::Unix("/run/echod dir/e.sock".into()),
        ] {
            let line = format!("{ANNOUNCED}{addr}");
            assert_eq!(parse_announced(&line), Some(addr.clone()), "{line}");
            assert_eq!(parse_announced(&format!("{line}\r\n")), Some(addr));
        }
        // Not announcements: a missing scheme or port, another line.
        let others = [
            "listening on 127.0.0.1:7",
            "listening on tcp://[::1]",
            "",
            "started",
        ];
        assert!(others.iter().all(|l| parse_announced(l).is_none()));
    }

    #[test]
    fn shared_listeners_join_on_the_resolved_port() {
        for kind in [ListenAddr::Tcp, ListenAddr::Udp] {
            let first = bind_shared(&any(kind), 16).unwrap();
            assert_ne!(first.addr.ip_addr().unwrap().port(), 0);
            let second = join(&first.listen_addr(), 16).unwrap();
            assert_eq!(second.listen_addr(), first.listen_addr());
        }
    }

    #[test]
    fn a_shared_bind_does_not_join_a_group_already_listening() {
        for kind in [ListenAddr::Tcp, ListenAddr::Udp] {
            let theirs = bind_shared(&any(kind), 16).unwrap();
            let err = bind_shared(&theirs.listen_addr(), 16).expect_err("joined a foreign group");
            assert_eq!(err.kind(), io::ErrorKind::AddrInUse, "{err}");
            // A plain listener is refused all the same.
            let plain = bind(&any(kind), 16).unwrap();
            assert!(bind_shared(&plain.listen_addr(), 16).is_err());
        }
    }

    // See "Shared listeners": a Unix socket, and any inherited one, is
    // the same socket for the next reactor; a TCP one bound from
    // `--listen` is a new member of its SO_REUSEPORT group.
    #[test]
    fn another_shares_unix_and_inherited_sockets_and_joins_ours() {
        use std::os::fd::AsRawFd;
        fn ino(b: &Bound) -> u64 {
            let fd = match &b.socket {
                Socket::Tcp(s) => s.as_raw_fd(),
                Socket::Udp(s) => s.as_raw_fd(),
                Socket::Unix(s) => s.as_raw_fd(),
            };
            // SAFETY: fstat fills the struct for an open descriptor.
            let mut st: libc::stat = unsafe { std::mem::zeroed() };
            assert_eq!(unsafe { libc::fstat(fd, &mut st) }, 0);
            #[allow(clippy::unnecessary_cast)] // ino_t is not u64 everywhere
            let ino = st.st_ino as u64;
            ino
        }
        let path = unix::scratch("another");
        let unix = bind(&ListenAddr::Unix(path.clone()), 16).unwrap();
        let copy = another(&unix, false, 16).unwrap();
        assert_eq!(ino(&copy), ino(&unix), "not the same socket");
        assert!(
            copy.file.is_none(),
            "the file is removed once, by the first"
        );
        let tcp = bind_shared(&any(ListenAddr::Tcp), 16).unwrap();
        let joined = another(&tcp, false, 16).unwrap();
        assert_ne!(ino(&joined), ino(&tcp), "not a new member of the group");
        assert_eq!(joined.listen_addr(), tcp.listen_addr());
        let inherited = bind(&any(ListenAddr::Udp), 16).unwrap();
        let copy = another(&inherited, true, 16).unwrap();
        assert_eq!(ino(&copy), ino(&inherited), "inherited UDP not shared");
        drop((unix, copy));
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }

    // See "UDP and SO_REUSEADDR": a second daemon on the same UDP port
    // must fail like a TCP one, not share the port.
    #[test]
    fn a_second_udp_bind_on_a_port_is_refused() {
        let first = bind(&any(ListenAddr::Udp), 16).unwrap();
        let err = bind(&first.listen_addr(), 16).expect_err("bound twice");
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse, "{err}");
    }

    /// Only what the kernel would refuse to bind is a collision.
    #[test]
    fn collisions_are_the_same_port_of_one_kind_and_family() {
        let tcp = |s: &str| ListenAddr::Tcp(s.parse().unwrap());
        let udp = |s: &str| ListenAddr::Udp(s.parse().unwrap());
        for (a, b) in [
            (tcp("127.0.0.1:7"), tcp("127.0.0.1:7")),
            (tcp("0.0.0.0:7"), tcp("127.0.0.1:7")),
            (udp("[::1]:7"), udp("[::]:7")),
            (
                ListenAddr::Unix("/run/e.sock".into()),
                ListenAddr::Unix("/run/e.sock".into()),
            ),
        ] {
            assert!(collision(&a, &b).is_some(), "{a} {b}");
            assert!(collision(&b, &a).is_some(), "{b} {a}");
        }
        for (a, b) in [
            (tcp("127.0.0.1:0"), tcp("127.0.0.1:0")),
            (tcp("127.0.0.1:7"), udp("127.0.0.1:7")),
            (tcp("127.0.0.1:7"), tcp("127.0.0.2:7")),
            (tcp("127.0.0.1:7"), tcp("127.0.0.1:8")),
            // IPV6_V6ONLY: `[::]` leaves IPv4 alone.
            (tcp("0.0.0.0:7"), tcp("[::]:7")),
            (tcp("127.0.0.1:7"), tcp("[::]:7")),
        ] {
            assert_eq!(collision(&a, &b), None, "{a} {b}");
        }
    }
}
