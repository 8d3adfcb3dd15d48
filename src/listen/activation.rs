//! Socket activation: serving sockets a service manager opened for us
//! (systemd's `LISTEN_FDS` protocol; see `docs/echod.socket`).
//!
//! # The protocol
//!
//! The manager binds the sockets, then starts us with them as descriptors
//! 3, 4, ... and three variables: `LISTEN_PID` (the pid they are meant
//! for: ours, or they were inherited by mistake and are ignored),
//! `LISTEN_FDS` (how many) and, optionally, `LISTEN_FDNAMES` (their names,
//! colon-separated; used in messages only).
//!
//! # The rule
//!
//! When `LISTEN_PID` is our pid, the passed sockets are *all* we serve:
//! `--listen` is ignored (its default would otherwise open a second,
//! unintended listener beside the manager's). Each is served as its kind
//! says, found with `getsockopt(SO_TYPE)` and `getsockname`: an
//! `AF_INET`/`AF_INET6` stream socket as TCP, datagram as UDP, an
//! `AF_UNIX` stream socket with a path as `unix:`. Each is made
//! non-blocking and close-on-exec, and announced like a bound one.
//! Inherited Unix socket files belong to the manager and are never
//! removed by us.
//!
//! The three variables are removed from our environment as soon as they
//! are read, whether or not they were for us, so no child inherits them.
//!
//! # Warned
//!
//! An inherited UDP socket whose receive buffer is smaller than the one
//! echod gives its own (see "UDP receive buffer" in [`super`]) is served,
//! with one line at start naming `ReceiveBuffer=`: a manager that set
//! none leaves the system default, which drops bursts silently.
//!
//! # Refused
//!
//! With a one-line error (exit status 2): a variable that is not a number,
//! `LISTEN_FDS` of 0 or missing, names that do not match the count, a
//! descriptor that is not open or not a socket, a stream socket that is
//! not listening, and kinds we do not serve (Unix datagram or abstract
//! sockets, other families).

use std::ffi::OsString;
use std::io;
use std::net::{TcpListener, UdpSocket};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixListener;

use socket2::{Domain, Socket as RawSocket, Type};

use super::{Bound, Socket, UDP_RECV_BUFFER};
use crate::config::ListenAddr;

/// The first passed descriptor; the others follow it.
pub const FIRST_FD: RawFd = 3;

/// Most sockets accepted: more is a corrupt `LISTEN_FDS`, not a plan.
pub const MAX_FDS: usize = 1024;

const VARS: [&str; 3] = ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"];

/// A passed socket and its `LISTEN_FDNAMES` name, if it has one.
pub type Named = (Bound, Option<String>);

/// The sockets passed to us by socket activation, ready to serve, each
/// with its `LISTEN_FDNAMES` name (systemd's `FileDescriptorName=`) if it
/// has one; `None` when there are none for this process (see "The
/// rule"). The error is the one line to print.
pub fn take() -> Result<Option<Vec<Named>>, String> {
    let [pid, fds, names] = VARS.map(std::env::var_os);
    for var in VARS {
        // Single-threaded still: this runs before any thread is started.
        std::env::remove_var(var);
    }
    let Some(names) = plan(pid, fds, names, std::process::id())? else {
        return Ok(None);
    };
    let mut bound = Vec::with_capacity(names.len());
    for (i, name) in names.iter().enumerate() {
        let fd = FIRST_FD + i as RawFd;
        let what = match name {
            Some(name) => format!("socket activation: fd {fd} ({name})"),
            None => format!("socket activation: fd {fd}"),
        };
        let socket = inherit(fd).map_err(|e| format!("{what}: {e}"))?;
        bound.push((socket, name.clone()));
    }
    Ok(Some(bound))
}

/// Warns about each of `bound` (what [`take`] returned, in its order, with
/// `names` its `LISTEN_FDNAMES` names) that is a UDP socket with a small
/// receive buffer: see `warn_if_small_receive_buffer`. Call once the
/// sockets are known to be served, so a refused start prints only its own
/// line.
pub fn warn_small_receive_buffers(bound: &[Bound], names: &[Option<String>]) {
    for (i, b) in bound.iter().enumerate() {
        let fd = FIRST_FD + i as RawFd;
        let what = match names.get(i).and_then(Option::as_deref) {
            Some(name) => format!("socket activation: fd {fd} ({name})"),
            None => format!("socket activation: fd {fd}"),
        };
        warn_if_small_receive_buffer(b, &what);
    }
}

/// Warns, in one line, when inherited UDP socket `b` has a smaller receive
/// buffer than echod would have given a UDP socket it binds itself (see
/// "UDP receive buffer" in [`super`]): bursts that overflow it are dropped
/// by the kernel, and otherwise nothing says so. The measure is a fresh
/// socket of the same family given [`UDP_RECV_BUFFER`], so the kernel's
/// cap (`net.core.rmem_max`) and its way of reporting the size (Linux
/// doubles it) apply alike to both figures.
fn warn_if_small_receive_buffer(b: &Bound, what: &str) {
    let Socket::Udp(sock) = &b.socket else {
        return;
    };
    let Some(ip) = b.addr.ip_addr() else {
        return;
    };
    let has = socket2::SockRef::from(sock).recv_buffer_size();
    let ours = RawSocket::new(Domain::for_address(ip), Type::DGRAM, None).and_then(|s| {
        s.set_recv_buffer_size(UDP_RECV_BUFFER)?;
        s.recv_buffer_size()
    });
    // Either reading failing costs only the warning.
    let (Ok(has), Ok(ours)) = (has, ours) else {
        return;
    };
    if has < ours {
        crate::log::line(format_args!(
            "{what}: {}: SO_RCVBUF is {} KiB where echod's own UDP sockets get {} KiB, \
             so bursts that overflow it are dropped unseen \
             (set ReceiveBuffer={}M in the .socket unit)",
            b.addr,
            has >> 10,
            ours >> 10,
            UDP_RECV_BUFFER >> 20,
        ));
    }
}

/// Reads the variables: `None` when they are absent or for another
/// process, else one entry per passed socket with its name, if named.
fn plan(
    pid: Option<OsString>,
    fds: Option<OsString>,
    names: Option<OsString>,
    ours: u32,
) -> Result<Option<Vec<Option<String>>>, String> {
    let Some(pid) = pid else {
        return Ok(None);
    };
    let pid: u32 = number("LISTEN_PID", &pid)?;
    if pid != ours {
        return Ok(None);
    }
    let fds = fds.ok_or("socket activation: LISTEN_PID is set but LISTEN_FDS is not")?;
    let n: usize = number("LISTEN_FDS", &fds)?;
    if n == 0 || n > MAX_FDS {
        return Err(format!(
            "socket activation: LISTEN_FDS={n}: must be between 1 and {MAX_FDS}"
        ));
    }
    let Some(names) = names else {
        return Ok(Some(vec![None; n]));
    };
    let names: Vec<Option<String>> = names
        .to_string_lossy()
        .split(':')
        .map(|s| Some(shown(s)))
        .collect();
    if names.len() != n {
        let (k, s) = (names.len(), if names.len() == 1 { "" } else { "s" });
        return Err(format!(
            "socket activation: LISTEN_FDNAMES has {k} name{s} for LISTEN_FDS={n} sockets \
             (it needs one per socket, separated by ':')"
        ));
    }
    Ok(Some(names))
}

fn number<T: std::str::FromStr>(var: &str, value: &OsString) -> Result<T, String> {
    let text = value.to_string_lossy();
    text.trim()
        .parse()
        .map_err(|_| format!("socket activation: {var}={}: not a number", shown(&text)))
}

/// A value from the environment, fit for a one-line message: printable
/// and at most 40 characters.
fn shown(s: &str) -> String {
    let mut out: String = s.chars().take(40).flat_map(char::escape_debug).collect();
    if s.chars().count() > 40 {
        out.push_str("...");
    }
    out
}

/// Takes descriptor `fd` as a listener of the kind it is (see "The rule").
fn inherit(fd: RawFd) -> io::Result<Bound> {
    // SAFETY: fstat only writes the struct we pass; a closed fd is EBADF.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    if unsafe { libc::fstat(fd, &mut st) } != 0 {
        let e = io::Error::last_os_error();
        return Err(match e.raw_os_error() {
            Some(libc::EBADF) => invalid("not an open descriptor"),
            _ => e,
        });
    }
    if st.st_mode & libc::S_IFMT != libc::S_IFSOCK {
        return Err(invalid("not a socket"));
    }
    // SAFETY: the descriptor is open (fstat said so) and passed to us for
    // our use; nothing else in the process owns it, and each passed fd
    // is taken once.
    let sock = RawSocket::from(unsafe { OwnedFd::from_raw_fd(fd) });
    sock.set_cloexec(true)?;
    sock.set_nonblocking(true)?;
    let local = sock.local_addr()?;
    let (domain, ty) = (local.domain(), sock.r#type()?);
    let listening = || -> io::Result<()> {
        match is_listening(&sock)? {
            true => Ok(()),
            false => Err(invalid("a stream socket that is not listening")),
        }
    };
    let ip = local.as_socket();
    let (socket, addr) = match (ip, ty) {
        (Some(ip), Type::STREAM) => {
            listening()?;
            // As on a listener we bind: see `crate::net::urgent_inline`.
            crate::net::urgent_inline(&sock)?;
            (Socket::Tcp(TcpListener::from(sock)), ListenAddr::Tcp(ip))
        }
        (Some(ip), Type::DGRAM) => (Socket::Udp(UdpSocket::from(sock)), ListenAddr::Udp(ip)),
        (None, Type::STREAM) if domain == Domain::UNIX => {
            let Some(path) = local.as_pathname().map(ToOwned::to_owned) else {
                return Err(invalid(
                    "an abstract or unnamed Unix socket (only sockets with a path are served)",
                ));
            };
            listening()?;
            (
                Socket::Unix(UnixListener::from(OwnedFd::from(sock))),
                ListenAddr::Unix(path),
            )
        }
        _ => {
            return Err(invalid(
                "a kind of socket echod does not serve (TCP, UDP and Unix stream only)",
            ))
        }
    };
    Ok(Bound {
        socket,
        addr,
        file: None,
    })
}

/// Whether stream socket `sock` is listening, from `SO_ACCEPTCONN` where
/// the kernel answers it (Linux, FreeBSD). macOS defines the option but
/// does not answer it (ENOPROTOOPT); there, [`has_no_peer`] decides.
fn is_listening(sock: &RawSocket) -> io::Result<bool> {
    let mut on: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: getsockopt writes at most `len` bytes into `on`, an int.
    let rc = unsafe {
        libc::getsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_ACCEPTCONN,
            (&mut on as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    if rc == 0 {
        return Ok(on != 0);
    }
    let e = io::Error::last_os_error();
    match e.raw_os_error() {
        Some(libc::ENOPROTOOPT) | Some(libc::EINVAL) => has_no_peer(sock),
        _ => Err(e),
    }
}

/// The fallback for [`is_listening`]: a stream socket with a peer is a
/// connection, not a listener, and is refused. One with no peer is taken
/// as listening. That cannot tell a listener from a socket that was bound
/// but never `listen`ed; such a socket is served but never gets a
/// connection (clients are refused by the kernel), which a service
/// manager's own checks catch before we start.
fn has_no_peer(sock: &RawSocket) -> io::Result<bool> {
    match sock.peer_addr() {
        Ok(_) => Ok(false),
        Err(e) if e.raw_os_error() == Some(libc::ENOTCONN) => Ok(true),
        Err(e) => Err(e),
    }
}

fn invalid(why: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, why)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(s: &str) -> Option<OsString> {
        Some(s.into())
    }

    #[test]
    fn variables_for_another_process_or_none_are_ignored() {
        assert_eq!(plan(None, os("2"), None, 42), Ok(None));
        assert_eq!(plan(os("41"), os("2"), None, 42), Ok(None));
        assert_eq!(
            plan(os("42"), os("2"), None, 42),
            Ok(Some(vec![None, None]))
        );
        assert_eq!(
            plan(os("42"), os("2"), os("tcp:udp"), 42),
            Ok(Some(vec![Some("tcp".into()), Some("udp".into())]))
        );
    }

    #[test]
    fn bad_variables_are_refused_with_their_name() {
        for (pid, fds, names, want) in [
            ("x", "1", None, "LISTEN_PID=x: not a number"),
            ("42", "two", None, "LISTEN_FDS=two: not a number"),
            ("42", "-1", None, "LISTEN_FDS=-1: not a number"),
            ("42", "0", None, "LISTEN_FDS=0: must be between 1 and 1024"),
            ("42", "99999", None, "must be between 1 and 1024"),
            (
                "42",
                "2",
                Some("a"),
                "LISTEN_FDNAMES has 1 name for LISTEN_FDS=2",
            ),
        ] {
            let err = plan(os(pid), os(fds), names.and_then(os), 42).unwrap_err();
            assert!(err.contains(want), "{err}");
        }
        let err = plan(os("42"), None, None, 42).unwrap_err();
        assert!(err.contains("LISTEN_FDS is not"), "{err}");
        let long = "9".repeat(1000);
        let err = plan(os(&long), None, None, 42).unwrap_err();
        assert!(err.len() < 100, "{err}");
    }

    #[test]
    fn an_inherited_descriptor_must_be_a_listening_socket() {
        let file = std::fs::File::open("/dev/null").unwrap();
        let err = inherit(std::os::fd::IntoRawFd::into_raw_fd(file)).unwrap_err();
        assert!(err.to_string().contains("not a socket"), "{err}");
        let sock = RawSocket::new(Domain::IPV4, Type::STREAM, None).unwrap();
        sock.bind(
            &"127.0.0.1:0"
                .parse::<std::net::SocketAddr>()
                .unwrap()
                .into(),
        )
        .unwrap();
        // Only where SO_ACCEPTCONN answers: the macOS fallback cannot tell
        // a bound socket from a listener (see `has_no_peer`).
        if cfg!(any(target_os = "linux", target_os = "freebsd")) {
            let err =
                inherit(std::os::fd::IntoRawFd::into_raw_fd(OwnedFd::from(sock))).unwrap_err();
            assert!(err.to_string().contains("not listening"), "{err}");
        }
        let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
        let want = tcp.local_addr().unwrap();
        let b = inherit(std::os::fd::IntoRawFd::into_raw_fd(tcp)).unwrap();
        assert_eq!(b.addr, ListenAddr::Tcp(want));
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let want = udp.local_addr().unwrap();
        let b = inherit(std::os::fd::IntoRawFd::into_raw_fd(udp)).unwrap();
        assert_eq!(b.addr, ListenAddr::Udp(want));
    }

    // The macOS fallback, forced here on every platform: a connected
    // stream socket (TCP or Unix) is refused, a listener is taken.
    #[test]
    fn without_so_acceptconn_a_connected_socket_is_not_a_listener() {
        let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = std::net::TcpStream::connect(tcp.local_addr().unwrap()).unwrap();
        let (server, _) = tcp.accept().unwrap();
        let tcp = RawSocket::from(OwnedFd::from(tcp));
        assert!(has_no_peer(&tcp).unwrap());
        assert!(is_listening(&tcp).unwrap());
        for conn in [OwnedFd::from(client), OwnedFd::from(server)] {
            let conn = RawSocket::from(conn);
            assert!(!has_no_peer(&conn).unwrap());
            assert!(!is_listening(&conn).unwrap());
        }
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        assert!(!has_no_peer(&RawSocket::from(OwnedFd::from(a))).unwrap());
    }
}
