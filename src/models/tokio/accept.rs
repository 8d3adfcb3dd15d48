//! Accepting: one task per listener, TCP or Unix, until the drain flag
//! goes up.
//!
//! The loop is generic over the listener and what it accepts; what differs
//! by kind comes in as plain values: the listener's `poll_accept` (a Unix
//! one's also sets `SO_OOBINLINE`, see [`unix_poll_accept`]), and in the
//! [`Ctx`] whether to set TCP_NODELAY and which lossless-close rule holds.

use std::fmt;
use std::io;
use std::os::fd::AsFd;
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, UnixListener, UnixStream};

use super::{conn, drained, Ctx};
use crate::config::ListenAddr;
use crate::listen::SocketFile;
use crate::net::accept::Backoff;
use crate::net::{accept_transient, interrupted};

/// A listener's `poll_accept`: the next connection and its peer.
pub type PollAccept<L, S, P> = fn(&L, &mut Context<'_>) -> Poll<io::Result<(S, P)>>;

/// `poll_accept` for a Unix listener: an accepted Unix socket does not
/// inherit `SO_OOBINLINE` (see [`crate::net::urgent_inline`]); failing to
/// set it only risks the urgent byte, so it is no reason to drop the client.
pub fn unix_poll_accept(
    l: &UnixListener,
    cx: &mut Context<'_>,
) -> Poll<io::Result<(UnixStream, tokio::net::unix::SocketAddr)>> {
    let accepted = ready!(l.poll_accept(cx));
    if let Ok((s, _)) = &accepted {
        let _ = crate::net::urgent_inline(s);
    }
    Poll::Ready(accepted)
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
pub async fn run<L, S, P>(
    listener: L,
    poll_accept: PollAccept<L, S, P>,
    addr: ListenAddr,
    file: Option<SocketFile>,
    ctx: Ctx,
) where
    L: Send + Sync + 'static,
    S: AsyncRead + AsyncWrite + AsFd + Unpin + Send + 'static,
    P: fmt::Debug + Send + 'static,
{
    let mut drain = ctx.drain.clone();
    let mut backoff = Backoff::new();
    loop {
        // Cancel-safe, as tokio's `accept` is.
        let accepted = tokio::select! {
            biased;
            () = drained(&mut drain) => break,
            accepted = std::future::poll_fn(|cx| poll_accept(&listener, cx)) => accepted,
        };
        match accepted {
            Ok((stream, peer)) => {
                backoff.reset();
                admit(stream, peer, &ctx);
            }
            Err(e) if interrupted(&e) || accept_transient(&e) => {}
            Err(e) => {
                // EMFILE and friends: the connection stays queued and the
                // listener stays "ready", so an immediate retry would spin.
                if backoff.first() {
                    crate::log::accept_failure(&addr, &e);
                }
                tokio::select! {
                    biased;
                    () = drained(&mut drain) => break,
                    () = tokio::time::sleep(backoff.fail()) => {}
                }
            }
        }
    }
    drop(listener);
    drop(file);
}

/// Starts serving `stream`, or drops it (closing it at once) when
/// `--max-conns` connections are already served.
fn admit<S, P>(stream: S, peer: P, ctx: &Ctx)
where
    S: AsyncRead + AsyncWrite + AsFd + Unpin + Send + 'static,
    P: fmt::Debug + Send + 'static,
{
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
    tokio::spawn(conn::run(stream, peer, ctx.clone(), permit));
}
