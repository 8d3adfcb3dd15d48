//! Accepting: one task per listener, TCP or Unix, until the drain flag
//! goes up.

use std::future::Future;
use std::io;
use std::time::Duration;

use tokio::net::{TcpListener, UnixListener};

use super::conn::{self, Socket};
use super::{drained, Ctx};
use crate::config::ListenAddr;
use crate::listen::SocketFile;
use crate::net::{accept_transient, interrupted};

/// First pause after `accept` fails for want of descriptors; it doubles
/// on each failure in a row, up to [`MAX_BACKOFF`], as in the other models.
const MIN_BACKOFF: Duration = Duration::from_millis(20);
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// A listener of either stream kind, as the accept task sees it.
pub trait Listener: Send + 'static {
    /// What it accepts.
    type Stream: Socket;
    /// Accepts one connection. Cancel-safe, as tokio's `accept` is.
    fn accept_one(&self) -> impl Future<Output = io::Result<Self::Stream>> + Send;
}

impl Listener for TcpListener {
    type Stream = tokio::net::TcpStream;
    async fn accept_one(&self) -> io::Result<Self::Stream> {
        self.accept().await.map(|(s, _)| s)
    }
}

impl Listener for UnixListener {
    type Stream = tokio::net::UnixStream;
    async fn accept_one(&self) -> io::Result<Self::Stream> {
        let (s, _) = self.accept().await?;
        // Not inherited from a Unix listener (see
        // `crate::net::urgent_inline`); failing only risks the urgent byte.
        let _ = crate::net::urgent_inline(&s);
        Ok(s)
    }
}

/// Hands a TCP listener from [`crate::listen::bind_all`] (bound with the
/// configured backlog) to the runtime. Must run inside the runtime.
pub fn into_tokio(socket: std::net::TcpListener) -> io::Result<TcpListener> {
    // `from_std` requires it, and does not check: a blocking listener
    // would stall the whole runtime in `accept`.
    socket.set_nonblocking(true)?;
    TcpListener::from_std(socket)
}

/// [`into_tokio`] for a Unix listener.
pub fn unix_into_tokio(socket: std::os::unix::net::UnixListener) -> io::Result<UnixListener> {
    socket.set_nonblocking(true)?;
    UnixListener::from_std(socket)
}

/// Accepts from `listener` and spawns a task per connection until the
/// drain begins; then returns, and closes the listener, so new connects
/// are refused at once, then removes its socket `file`, if any.
pub async fn run<L: Listener>(listener: L, addr: ListenAddr, file: Option<SocketFile>, ctx: Ctx) {
    accept_until_drained(&listener, &addr, ctx).await;
    drop(listener);
    drop(file);
}

async fn accept_until_drained<L: Listener>(listener: &L, addr: &ListenAddr, ctx: Ctx) {
    let mut drain = ctx.drain.clone();
    let mut backoff = MIN_BACKOFF;
    loop {
        let accepted = tokio::select! {
            biased;
            () = drained(&mut drain) => return,
            accepted = listener.accept_one() => accepted,
        };
        match accepted {
            Ok(stream) => {
                backoff = MIN_BACKOFF;
                admit(stream, &ctx);
            }
            Err(e) if interrupted(&e) || accept_transient(&e) => {}
            Err(e) => {
                // EMFILE and friends: the connection stays queued and the
                // listener stays "ready", so an immediate retry would spin.
                if backoff == MIN_BACKOFF {
                    crate::log::accept_failure(addr, &e);
                }
                tokio::select! {
                    biased;
                    () = drained(&mut drain) => return,
                    () = tokio::time::sleep(backoff) => {}
                }
                backoff = backoff.saturating_mul(2).min(MAX_BACKOFF);
            }
        }
    }
}

/// Starts serving `stream`, or drops it (closing it at once) when
/// `--max-conns` connections are already served.
fn admit<S: Socket>(stream: S, ctx: &Ctx) {
    let permit = match &ctx.limit {
        Some(limit) => match limit.clone().try_acquire_owned() {
            Ok(permit) => {
                ctx.refusing.ends();
                Some(permit)
            }
            Err(_) => {
                // Once per episode, as for EMFILE.
                if ctx.refusing.begins() {
                    crate::log::max_conns_reached(ctx.max_conns);
                }
                return;
            }
        },
        None => None,
    };
    tokio::spawn(conn::run(stream, ctx.clone(), permit));
}
