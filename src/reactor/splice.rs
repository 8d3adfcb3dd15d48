//! Zero-copy echo for bulk flows: `splice(2)` from the socket into a pipe
//! and from the pipe back into the socket (Linux, TCP, `--splice`).
//!
//! A read/write echo copies every byte twice, kernel to user and back,
//! and under a flood those two copies are most of what the server does.
//! `splice` moves references to the pages the kernel already holds: the
//! socket's received pages go into a pipe and from the pipe into the
//! socket's send queue, and no byte is copied by the CPU.
//!
//! # When a connection splices
//!
//! Only bulk flows pay for it. A pipe costs two descriptors and a splice
//! costs about what a read does, so for a 512-byte ping-pong it only adds
//! work. With `--splice auto` (the default) a connection starts splicing
//! after one read filled the whole read area, the sign of a bulk sender,
//! and goes back to reading once a splice moves less than [`SMALL`]. With
//! `--splice always` every read is a splice (for tests and measurements);
//! `--splice off` never splices. A connection holds a pipe only while echo
//! is pending in it, exactly like a buffer: pipes come from a [`Pipes`]
//! pool and go back to it the moment they are empty. Unlike buffers, free
//! pipes are not kept for long: each holds two descriptors, so the pool
//! closes them after a turn of the loop in which no connection spliced
//! ([`Pipes::trim`]); a daemon whose bulk clients have gone holds none.
//!
//! # Only into an empty pipe
//!
//! A splice into a pipe stops when the pipe runs out of slots (16 by
//! default), whatever the bytes: sixteen 512-byte segments fill it at
//! 8 KiB. And a full pipe answers `EAGAIN`, just like an empty socket. So
//! the connection splices in only while its pipe is empty, and then
//! `EAGAIN` can only mean the socket is empty; for the same reason a short
//! splice says nothing, and "a short read means drained" does not apply
//! (see [`super::connection`]). The pipe is the connection's pending echo,
//! bounded by `--max-buffer` (the pipe is sized to it, in whole pages).
//! Where the kernel will not make a pipe that large (above
//! `/proc/sys/fs/pipe-max-size`, 1 MiB by default) nothing splices: a
//! pipe would buffer less than `--max-buffer` promises.
//!
//! # Urgent data
//!
//! A TCP splice never crosses the urgent mark: it stops before it and, at
//! it, answers `EAGAIN` with bytes still queued. A connection told of
//! urgent data (see [`super::connection`]) therefore waits for its pipe to
//! empty and reads the rest with plain reads.
//!
//! # Descriptors
//!
//! Pipes in use are capped at an eighth of the descriptor limit (two
//! descriptors each), so splicing can never be what makes `accept` fail
//! with EMFILE; past the cap, or when a pipe cannot be made, the
//! connection simply echoes by copying.

use std::io;

/// A splice that moves less than this ends a connection's bulk mode: its
/// next reads copy, which is cheaper for small messages.
pub const SMALL: usize = 16 << 10;

/// How long free pipes outlive the last splice: the loop does not sleep
/// longer than this while it keeps any (see [`Pipes::trim`]).
pub const LINGER: std::time::Duration = std::time::Duration::from_millis(500);

/// Whether this platform can splice a socket through a pipe.
pub const SUPPORTED: bool = Mode::SUPPORTED;

/// `--splice`, as the configuration holds it.
pub use crate::config::Splice as Mode;

/// Whether a connection may be echoed through a pipe: TCP only, where
/// splice is measured and urgent data understood, and only where
/// [`SUPPORTED`].
pub fn applies(sock: &crate::net::Stream) -> bool {
    SUPPORTED && matches!(sock, crate::net::Stream::Tcp(_))
}

#[cfg(target_os = "linux")]
pub use linux::{Pipe, Pipes};

#[cfg(not(target_os = "linux"))]
pub use portable::{Pipe, Pipes};

#[cfg(target_os = "linux")]
mod linux {
    use super::*;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

    /// A pipe holding one connection's pending echo.
    #[derive(Debug)]
    pub struct Pipe {
        read: OwnedFd,
        write: OwnedFd,
        /// Bytes in the pipe (spliced in, not yet spliced out).
        len: usize,
        /// Most bytes it may hold: `--max-buffer`, or the pipe's size if
        /// the kernel would not make it that large.
        cap: usize,
    }

    impl Pipe {
        fn new(cap: usize) -> io::Result<Pipe> {
            let mut fds = [0; 2];
            // SAFETY: pipe2 writes two descriptors into the array.
            if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) } != 0 {
                return Err(io::Error::last_os_error());
            }
            // SAFETY: both descriptors are fresh and ours alone.
            let (read, write) =
                unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
            let fd = write.as_raw_fd();
            // SAFETY: fcntl on our own descriptor, integer arguments only.
            let mut size = unsafe { libc::fcntl(fd, libc::F_GETPIPE_SZ) };
            if size > 0 && (size as usize) < cap {
                // May fail (over /proc/sys/fs/pipe-max-size, or a user over
                // pipe-user-pages-soft): the pipe keeps the size it has.
                let got = unsafe { libc::fcntl(fd, libc::F_SETPIPE_SZ, cap as libc::c_int) };
                if got > 0 {
                    size = got;
                }
            }
            if size <= 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(Pipe {
                read,
                write,
                len: 0,
                cap: cap.min(size as usize),
            })
        }

        /// Bytes pending in the pipe.
        pub fn len(&self) -> usize {
            self.len
        }

        /// True when nothing is pending.
        pub fn is_empty(&self) -> bool {
            self.len == 0
        }

        /// Most bytes one fill may take.
        pub fn cap(&self) -> usize {
            self.cap
        }

        /// Moves up to `max` bytes from socket `from` into the (empty)
        /// pipe; 0 is end of stream. `WouldBlock` means the socket is
        /// empty (see "Only into an empty pipe").
        pub fn fill(&mut self, from: RawFd, max: usize) -> io::Result<usize> {
            debug_assert!(
                self.is_empty(),
                "a fill into a non-empty pipe can see EAGAIN for a full one"
            );
            let n = splice(from, self.write.as_raw_fd(), max.min(self.cap))?;
            self.len += n;
            Ok(n)
        }

        /// Moves pending bytes from the pipe into socket `to`.
        pub fn drain(&mut self, to: RawFd) -> io::Result<usize> {
            let n = splice(self.read.as_raw_fd(), to, self.len)?;
            if n == 0 && self.len > 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            self.len -= n;
            Ok(n)
        }
    }

    fn splice(from: RawFd, to: RawFd, len: usize) -> io::Result<usize> {
        // SAFETY: splice between two descriptors we own; no user memory.
        let n = unsafe {
            libc::splice(
                from,
                std::ptr::null_mut(),
                to,
                std::ptr::null_mut(),
                len,
                libc::SPLICE_F_MOVE | libc::SPLICE_F_NONBLOCK,
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(n as usize)
    }

    /// Empty pipes for the connections that splice, reused like buffers.
    #[derive(Debug)]
    pub struct Pipes {
        free: Vec<Pipe>,
        cap: usize,
        keep: usize,
        lent: usize,
        most: usize,
        /// Pipes lent since the last [`Pipes::trim`].
        taken: usize,
    }

    impl Pipes {
        /// A pool of pipes that hold up to `cap` bytes each, keeping up to
        /// `keep` free ones and lending out at most `most` at once.
        pub fn new(cap: usize, keep: usize, most: usize) -> Pipes {
            Pipes {
                free: Vec::new(),
                cap,
                keep,
                lent: 0,
                most,
                taken: 0,
            }
        }

        /// An empty pipe, or `None` at the cap or when none can be made
        /// (out of descriptors): the caller copies instead.
        pub fn take(&mut self) -> Option<Pipe> {
            if self.lent >= self.most {
                return None;
            }
            let pipe = match self.free.pop() {
                Some(p) => p,
                None => {
                    let p = Pipe::new(self.cap).ok()?;
                    if p.cap < self.cap {
                        // A pipe cannot hold --max-buffer here (over
                        // pipe-max-size, or the user's pipe pages): splicing
                        // would buffer less than asked, so copy instead.
                        self.most = 0;
                        return None;
                    }
                    p
                }
            };
            self.lent += 1;
            self.taken += 1;
            Some(pipe)
        }

        /// Called once per turn of the loop: closes the free pipes if no
        /// connection took one since the last call. Under a flood pipes
        /// are taken every turn and stay pooled.
        pub fn trim(&mut self) {
            if self.taken == 0 {
                self.free.clear();
            }
            self.taken = 0;
        }

        /// Returns a pipe. One still holding bytes is closed instead (its
        /// connection is gone), and so is one beyond `keep`.
        pub fn put(&mut self, pipe: Pipe) {
            self.lent -= 1;
            if pipe.is_empty() && self.free.len() < self.keep {
                self.free.push(pipe);
            }
        }

        /// Pipes currently held by connections.
        pub fn lent(&self) -> usize {
            self.lent
        }

        /// True while free pipes are kept.
        pub fn holds_free(&self) -> bool {
            !self.free.is_empty()
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use std::io::{Read, Write};
        use std::os::fd::AsRawFd;

        #[test]
        fn bytes_go_through_the_pipe_unchanged_and_eagain_means_empty() {
            let (mut client, server) = crate::net::loopback_pair().unwrap();
            server.set_nonblocking(true).unwrap();
            let mut pipes = Pipes::new(64 << 10, 1, 4);
            let mut pipe = pipes.take().unwrap();
            let err = pipe.fill(server.as_raw_fd(), 1000).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::WouldBlock, "empty socket");
            client.write_all(b"hello, pipe").unwrap();
            let mut n = 0;
            for _ in 0..1000 {
                match pipe.fill(server.as_raw_fd(), 1000) {
                    Ok(k) => {
                        n = k;
                        break;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => std::thread::yield_now(),
                    Err(e) => panic!("{e}"),
                }
            }
            assert_eq!((n, pipe.len()), (11, 11));
            assert_eq!(pipe.drain(server.as_raw_fd()).unwrap(), 11);
            assert!(pipe.is_empty());
            let mut back = [0u8; 11];
            client.read_exact(&mut back).unwrap();
            assert_eq!(&back, b"hello, pipe");
            pipes.put(pipe);
            assert_eq!((pipes.lent(), pipes.free.len()), (0, 1));
        }

        #[test]
        fn the_pool_lends_at_most_its_cap_and_closes_pipes_that_hold_bytes() {
            let mut pipes = Pipes::new(4096, 8, 2);
            let a = pipes.take().unwrap();
            let mut b = pipes.take().unwrap();
            assert!(pipes.take().is_none(), "over the cap");
            b.len = 5; // as if bytes were left when its connection died
            pipes.put(b);
            pipes.put(a);
            assert_eq!(
                (pipes.lent(), pipes.free.len()),
                (0, 1),
                "the non-empty one closed"
            );
        }

        #[test]
        fn free_pipes_are_closed_after_a_turn_that_took_none() {
            let mut pipes = Pipes::new(4096, 8, 8);
            let p = pipes.take().unwrap();
            pipes.put(p);
            pipes.trim(); // a turn that took one: kept
            assert_eq!(pipes.free.len(), 1);
            pipes.trim(); // a turn that took none: closed
            assert_eq!(pipes.free.len(), 0);
        }

        #[test]
        fn a_pipe_is_sized_to_the_cap_in_whole_pages() {
            let pipe = Pipe::new(256 << 10).unwrap();
            assert_eq!(pipe.cap(), 256 << 10);
            let small = Pipe::new(1000).unwrap();
            assert_eq!(small.cap(), 1000, "never more than --max-buffer");
        }
    }
}

/// Where there is no splice: a pool that never lends a pipe, so every
/// connection copies.
#[cfg(not(target_os = "linux"))]
mod portable {
    use super::*;
    use std::os::fd::RawFd;

    /// Never made: [`Pipes::take`] lends none here.
    #[derive(Debug)]
    pub struct Pipe {
        _never: (),
    }

    impl Pipe {
        /// Empty.
        pub fn len(&self) -> usize {
            0
        }
        /// Always.
        pub fn is_empty(&self) -> bool {
            true
        }
        /// None.
        pub fn cap(&self) -> usize {
            0
        }
        /// Unsupported.
        pub fn fill(&mut self, _from: RawFd, _max: usize) -> io::Result<usize> {
            Err(io::ErrorKind::Unsupported.into())
        }
        /// Unsupported.
        pub fn drain(&mut self, _to: RawFd) -> io::Result<usize> {
            Err(io::ErrorKind::Unsupported.into())
        }
    }

    /// A pool with nothing in it.
    #[derive(Debug)]
    pub struct Pipes;

    impl Pipes {
        /// Lends nothing, ever.
        pub fn new(_cap: usize, _keep: usize, _most: usize) -> Pipes {
            Pipes
        }
        /// Always `None`: the caller copies.
        pub fn take(&mut self) -> Option<Pipe> {
            None
        }
        /// Drops it (never called: none is lent).
        pub fn put(&mut self, _pipe: Pipe) {}
        /// Always 0.
        pub fn lent(&self) -> usize {
            0
        }
        /// Nothing to close.
        pub fn trim(&mut self) {}
        /// Never.
        pub fn holds_free(&self) -> bool {
            false
        }
    }
}
