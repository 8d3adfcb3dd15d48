//! Unix stream sockets for the tests: a socket path in a scratch
//! directory of its own, and a client with timeouts.

use std::fs;
use std::io::{Read, Write};
use std::ops::Deref;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use super::IO_TIMEOUT;

/// A socket's path in a fresh, empty directory of its own, removed with
/// everything in it when this is dropped.
pub struct SocketPath {
    /// The directory, removed with the guard.
    pub dir: PathBuf,
    /// `echo.sock` in it.
    pub path: PathBuf,
}

impl Deref for SocketPath {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.path
    }
}

impl AsRef<Path> for SocketPath {
    fn as_ref(&self) -> &Path {
        &self.path
    }
}

impl Drop for SocketPath {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// A fresh, empty directory for one test's socket, and the path in it:
/// `test` must differ between the tests of this binary, which share a pid.
pub fn socket_path(test: &str) -> SocketPath {
    let dir = std::env::temp_dir().join(format!("echod-t-{}-{test}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    let path = dir.join("echo.sock");
    SocketPath { dir, path }
}

/// A connected client with read and write timeouts, so no test hangs.
pub fn unix_connect(path: &Path) -> UnixStream {
    let s = UnixStream::connect(path).unwrap_or_else(|e| panic!("connect {path:?}: {e}"));
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    s.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
    s
}

/// One request, one full reply, on an open connection.
pub fn unix_ping(s: &mut UnixStream, msg: &[u8]) {
    s.write_all(msg).unwrap();
    let mut got = vec![0; msg.len()];
    s.read_exact(&mut got).unwrap();
    assert_eq!(got, msg);
}
