//! The listening sockets of a blocking model, shared by the accepting
//! thread and the signal thread, and how the signal thread stops them.
//!
//! # Stopping a listener from another thread
//!
//! At the first SIGINT/SIGTERM the listeners must refuse new connects at
//! once, even while the iterative model is busy with a client and nobody
//! accepts. The accepting thread is not the one to do it (it may be inside
//! a client's echo loop), and no thread may `close` a descriptor another
//! still uses: the number could be reused by the next `accept` or `open`
//! and the other thread would then act on a stranger. So the signal thread
//! makes the socket stop listening while its descriptor stays allocated:
//!
//! - [`Stop::ShutRead`], Linux TCP: `shutdown(SHUT_RD)` on a listening
//!   TCP socket disconnects it: it stops listening (connects are refused)
//!   and resets what is queued, as a close would, with no second socket.
//!   This is what the blocking models have always done on Linux.
//! - [`Stop::Replace`], everywhere else: `dup2` a fresh, unbound socket
//!   over the listener's descriptor. The listener's last reference goes,
//!   so the kernel closes it (connects refused; queued connections reset)
//!   while the number keeps naming an open, harmless socket until the
//!   accepting thread closes it. POSIX makes `dup2` atomic, so no other
//!   descriptor can take the number in between. `shutdown` cannot be
//!   used there: on macOS and the BSDs it does not stop a listener (it
//!   fails with ENOTCONN), and on Linux a Unix listener shut for reading
//!   refuses new connects but keeps its queue, whose clients would wait
//!   for the process to exit.
//!
//! Neither is what wakes the acceptor: it sleeps in a poll with a `Waker`
//! (see `acceptor.rs`), never in a blocked `accept`, and the signal thread
//! wakes it after stopping the listeners. (A replaced listener also drops
//! out of that poll: epoll and kqueue forget a closed file.) The socket
//! files of `unix:` listeners are removed at the same moment, as the
//! reactor removes them when it closes its listeners.

use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use socket2::{Domain, Socket, Type};

use crate::config::ListenAddr;
use crate::listen::SocketFile;
use crate::net::Listening;

/// How a listener is stopped (see "Stopping a listener").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// `shutdown(SHUT_RD)`: Linux TCP.
    ShutRead,
    /// `dup2` an unbound socket over the descriptor: anywhere.
    Replace,
}

impl Stop {
    /// The method for a listener of `addr`'s kind on this platform.
    pub fn for_listener(addr: &ListenAddr) -> Stop {
        match addr {
            ListenAddr::Tcp(_) if cfg!(target_os = "linux") => Stop::ShutRead,
            _ => Stop::Replace,
        }
    }
}

/// One listener of a blocking model.
pub struct Listener {
    /// The non-blocking socket the acceptor polls.
    pub sock: Listening,
    /// Where it listens, for log messages.
    pub addr: ListenAddr,
    stop: Stop,
}

/// The listeners, shared (behind an `Arc`) by the acceptor and the signal
/// thread: their descriptors stay allocated as long as either may use
/// them.
pub struct Listeners {
    /// In `--listen` order.
    pub list: Vec<Listener>,
    /// Socket files of the `unix:` listeners we bound; removed by
    /// [`stop`](Self::stop), or at the latest when this is dropped
    /// (declared after `list`: the sockets close first).
    files: Mutex<Vec<SocketFile>>,
    stopped: AtomicBool,
}

impl Listeners {
    /// Wraps registered listeners and the socket files to remove.
    pub fn new(socks: Vec<(Listening, ListenAddr)>, files: Vec<SocketFile>) -> Listeners {
        let list = socks
            .into_iter()
            .map(|(sock, addr)| Listener {
                stop: Stop::for_listener(&addr),
                sock,
                addr,
            })
            .collect();
        Listeners {
            list,
            files: Mutex::new(files),
            stopped: AtomicBool::new(false),
        }
    }

    /// Makes every listener refuse connects at once, and removes the
    /// socket files. Safe from any thread; later calls do nothing.
    pub fn stop(&self) {
        if self.stopped.swap(true, Ordering::SeqCst) {
            return;
        }
        for l in &self.list {
            if let Err(e) = stop_listening(l.sock.as_raw_fd(), l.stop) {
                crate::log::line(format_args!("cannot stop listening on {}: {e}", l.addr));
            }
        }
        self.files.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }
}

/// Stops the listening socket `fd` with `how`, keeping the descriptor
/// allocated (see "Stopping a listener"). `fd` must stay open until this
/// returns.
pub fn stop_listening(fd: RawFd, how: Stop) -> io::Result<()> {
    match how {
        Stop::ShutRead => {
            // SAFETY: plain syscall on a descriptor the caller keeps open.
            if unsafe { libc::shutdown(fd, libc::SHUT_RD) } != 0 {
                return Err(io::Error::last_os_error());
            }
        }
        Stop::Replace => {
            let placeholder = Socket::new(Domain::UNIX, Type::STREAM, None)?;
            // SAFETY: `dup2` atomically closes what `fd` named and makes it
            // name the placeholder's socket; `fd` stays valid throughout.
            if unsafe { libc::dup2(placeholder.as_raw_fd(), fd) } < 0 {
                return Err(io::Error::last_os_error());
            }
            // `dup2` does not copy close-on-exec.
            // SAFETY: as above; F_SETFD only sets a flag.
            unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
            // Dropping `placeholder` closes its own number only.
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{ErrorKind, Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::os::unix::net::{UnixListener, UnixStream};
    use std::time::Duration;

    fn is_refused(e: &io::Error) -> bool {
        e.kind() == ErrorKind::ConnectionRefused
    }

    /// A queued client of a stopped listener sees its connection end (a
    /// reset or EOF), not a hang: nothing will ever accept it.
    fn ends(mut queued: impl Read) {
        let mut buf = [0u8; 8];
        match queued.read(&mut buf) {
            Ok(0) => {}
            Ok(n) => panic!("{n} bytes from a listener nobody accepted on"),
            Err(e) => assert!(
                matches!(e.kind(), ErrorKind::ConnectionReset | ErrorKind::BrokenPipe),
                "{e}"
            ),
        }
    }

    /// A TCP listener with one client queued, stopped by `how`: new
    /// connects are refused at once and the queued client is ended.
    fn stop_a_tcp_listener(how: Stop) -> TcpListener {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let queued = TcpStream::connect(addr).unwrap();
        queued
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        stop_listening(l.as_raw_fd(), how).unwrap();
        let err = TcpStream::connect(addr).expect_err("still listening");
        assert!(is_refused(&err), "{err}");
        ends(queued);
        l
    }

    // The portable fallback, on Linux too: and the descriptor still names
    // an open socket, so nothing can reuse its number underneath.
    #[test]
    fn replace_stops_a_tcp_listener_and_keeps_the_descriptor() {
        let l = stop_a_tcp_listener(Stop::Replace);
        // SAFETY: only asks whether the descriptor is open.
        assert!(unsafe { libc::fcntl(l.as_raw_fd(), libc::F_GETFD) } >= 0);
        let err = l.accept().expect_err("accepted from the placeholder");
        assert_ne!(err.kind(), ErrorKind::WouldBlock, "{err}");
    }

    // What Unix listeners use everywhere, Linux included.
    #[test]
    fn replace_stops_a_unix_listener() {
        let path = crate::listen::unix::scratch("stop");
        let l = UnixListener::bind(&path).unwrap();
        let mut queued = UnixStream::connect(&path).unwrap();
        queued
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        queued.write_all(b"hello?").unwrap();
        stop_listening(l.as_raw_fd(), Stop::Replace).unwrap();
        let err = UnixStream::connect(&path).expect_err("still listening");
        assert!(is_refused(&err), "{err}");
        ends(queued);
        drop(l);
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }

    // Linux TCP keeps `shutdown(SHUT_RD)`; this pins what it relies on.
    #[cfg(target_os = "linux")]
    #[test]
    fn shut_read_stops_a_linux_tcp_listener() {
        stop_a_tcp_listener(Stop::ShutRead);
    }

    // Why Unix listeners are replaced on Linux too ("Stopping a
    // listener"): shut for reading, one refuses new connects but keeps
    // its queue, so a queued client would wait until the process exits.
    #[cfg(target_os = "linux")]
    #[test]
    fn shut_read_leaves_a_linux_unix_listeners_queue_waiting() {
        let path = crate::listen::unix::scratch("shut-read");
        let l = UnixListener::bind(&path).unwrap();
        let _queued = UnixStream::connect(&path).unwrap();
        stop_listening(l.as_raw_fd(), Stop::ShutRead).unwrap();
        let err = UnixStream::connect(&path).expect_err("still listening");
        assert!(is_refused(&err), "{err}");
        l.set_nonblocking(true).unwrap();
        assert!(l.accept().is_ok(), "the queue was not kept");
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }

    #[test]
    fn the_method_is_replace_but_for_linux_tcp() {
        let tcp = ListenAddr::Tcp("127.0.0.1:0".parse().unwrap());
        let unix = ListenAddr::Unix("/tmp/x".into());
        let linux = cfg!(target_os = "linux");
        assert_eq!(Stop::for_listener(&tcp) == Stop::ShutRead, linux);
        assert_eq!(Stop::for_listener(&unix), Stop::Replace);
    }
}
