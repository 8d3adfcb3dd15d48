//! `--listen unix:PATH`: a Unix stream socket, and the file it lives at.
//!
//! # Binding
//!
//! A socket file outlives the socket: a daemon killed with SIGKILL (or a
//! crash, or a power cut) leaves it behind, and a later `bind` on the path
//! fails with "Address in use" although nobody listens. So before binding,
//! whatever is at the path is looked at, without following a symlink:
//!
//! - nothing: bind;
//! - a socket nobody accepts on (a non-blocking `connect` is refused):
//!   stale, removed, then bind;
//! - a socket something accepts on (the connect succeeds, or would block
//!   on a full backlog): refused, "already in use"; we never steal a live
//!   daemon's path;
//! - anything else (a regular file, a directory, a symlink, even one to a
//!   socket): refused and left untouched, since removing it could destroy
//!   data that is not ours;
//! - a path we cannot examine or connect to (permissions): refused with
//!   the reason.
//!
//! The look and the removal are two steps, so a second daemon started at
//! the same instant on the same path could race us; one of the two binds
//! then fails. Do not start two daemons on one path at once.
//!
//! # Mode
//!
//! `--unix-mode MODE` is applied through the umask while the socket is
//! bound, so the file never exists with other bits (a `chmod` after the
//! bind would leave a window, and could follow a symlink swapped in
//! meanwhile). Without it the file gets what the umask leaves of 0777.
//! Connecting needs write permission on the file.
//!
//! # Removal
//!
//! The file we bound is removed when its listener is closed and
//! [`SocketFile`] dropped: at the start of the drain on SIGINT/SIGTERM,
//! so at the latest by the exit, whether the drain completes or a second
//! signal cuts it short, and on a startup failure. It is removed only if
//! the path still names the file we created (same device and inode, the
//! inode held by a descriptor so it cannot be reused): a daemon that
//! replaced it in the meantime keeps its own. After SIGKILL
//! nothing runs and the file stays; the next start finds it stale and
//! replaces it, as above. Sockets inherited by socket activation belong to
//! the service manager and are never removed.

use std::fs;
use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};

use socket2::{Domain, SockAddr, Socket, Type};

/// A socket file this process created; removed on drop if the path still
/// names it (see "Removal").
#[derive(Debug)]
pub struct SocketFile {
    path: PathBuf,
    /// Device and inode of the file we created.
    id: (u64, u64),
    /// An `O_PATH` descriptor on that file (Linux): while it is open the
    /// inode stays allocated even if the file is removed, so no other file
    /// can get its number and pass for ours.
    _pin: Option<fs::File>,
}

fn identity(meta: &fs::Metadata) -> (u64, u64) {
    (meta.dev(), meta.ino())
}

/// Opens `path` itself (not a symlink's target) for fstat only.
fn pin(path: &Path) -> io::Result<Option<fs::File>> {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::OpenOptionsExt;
        fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_PATH | libc::O_NOFOLLOW)
            .open(path)
            .map(Some)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = path;
        Ok(None)
    }
}

impl SocketFile {
    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for SocketFile {
    fn drop(&mut self) {
        if let Ok(meta) = fs::symlink_metadata(&self.path) {
            if identity(&meta) == self.id {
                let _ = fs::remove_file(&self.path);
            }
        }
    }
}

/// Binds and listens on `path` (absolute), replacing a stale socket file
/// and refusing anything else (see "Binding"), with `mode` if given.
/// Non-blocking and close-on-exec.
pub fn bind(
    path: &Path,
    backlog: i32,
    mode: Option<u32>,
) -> io::Result<(UnixListener, SocketFile)> {
    clear_stale(path)?;
    let sock = Socket::new(Domain::UNIX, Type::STREAM, None)?;
    let addr = SockAddr::unix(path)?;
    match mode {
        Some(mode) => with_umask(!mode & 0o777, || sock.bind(&addr))?,
        None => sock.bind(&addr)?,
    }
    let pin = pin(path)?;
    let meta = match &pin {
        Some(f) => f.metadata()?,
        None => fs::symlink_metadata(path)?,
    };
    // From here on an error removes the file again.
    let file = SocketFile {
        path: path.to_path_buf(),
        id: identity(&meta),
        _pin: pin,
    };
    sock.listen(backlog)?;
    sock.set_nonblocking(true)?;
    Ok((sock.into(), file))
}

/// Makes way for a bind on `path`, or says why not (see "Binding").
fn clear_stale(path: &Path) -> io::Result<()> {
    let meta = match fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
        Ok(meta) => meta,
    };
    if !meta.file_type().is_socket() {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            "the path exists and is not a socket; refusing to replace it",
        ));
    }
    let probe = Socket::new(Domain::UNIX, Type::STREAM, None)?;
    // Non-blocking: a live daemon with a full backlog must not hang us.
    probe.set_nonblocking(true)?;
    match probe.connect(&SockAddr::unix(path)?) {
        Err(e) if e.raw_os_error() == Some(libc::ECONNREFUSED) => {}
        Ok(()) => return Err(in_use()),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Err(in_use()),
        Err(e) => {
            return Err(io::Error::new(
                e.kind(),
                format!("cannot tell whether the socket there is in use: {e}"),
            ))
        }
    }
    match fs::remove_file(path) {
        // Someone else removed it meanwhile: as good.
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(io::Error::new(
            e.kind(),
            format!("cannot remove the stale socket file: {e}"),
        )),
        _ => Ok(()),
    }
}

fn in_use() -> io::Error {
    io::Error::new(
        io::ErrorKind::AddrInUse,
        "already in use: something accepts connections on it",
    )
}

/// Runs `f` with the process umask set to `mask`, then restores it. The
/// umask is process-wide: this runs at startup, before any thread of ours
/// that creates files.
fn with_umask<T>(mask: u32, f: impl FnOnce() -> T) -> T {
    // SAFETY: umask only swaps an integer in the process.
    let old = unsafe { libc::umask(mask as libc::mode_t) };
    let out = f();
    // SAFETY: as above.
    unsafe { libc::umask(old) };
    out
}

/// `sock` in a fresh, empty directory for one unit test: `name` must
/// differ between the tests of the crate, which share a pid.
#[cfg(test)]
pub(crate) fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("echod-unix-{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir.join("sock")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixStream;

    #[test]
    fn a_stale_file_is_replaced_and_removed_on_drop() {
        let path = scratch("stale");
        drop(UnixListener::bind(&path).unwrap()); // leaves the file behind
        let (listener, file) = bind(&path, 16, None).expect("stale file replaced");
        UnixStream::connect(&path).expect("listening");
        drop(listener);
        drop(file);
        assert!(!path.exists(), "removed with the listener");
    }

    #[test]
    fn a_live_socket_and_other_files_are_refused() {
        let path = scratch("live");
        let (_live, _file) = bind(&path, 16, None).unwrap();
        let err = bind(&path, 16, None).expect_err("took a live path");
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse, "{err}");
        let path = scratch("regular");
        fs::write(&path, "precious").unwrap();
        let err = bind(&path, 16, None).expect_err("replaced a regular file");
        assert!(err.to_string().contains("not a socket"), "{err}");
        assert_eq!(fs::read_to_string(&path).unwrap(), "precious");
    }

    #[test]
    fn a_file_replaced_by_another_is_left_alone() {
        let path = scratch("replaced");
        let (first, file) = bind(&path, 16, None).unwrap();
        drop(first);
        fs::remove_file(&path).unwrap();
        let (_second, _theirs) = bind(&path, 16, None).unwrap();
        drop(file); // the first one's guard: not its file any more
        assert!(path.exists(), "removed another socket's file");
    }
}
