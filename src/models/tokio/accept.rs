//! Accepting: one task per listener, until the drain flag goes up.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};

use super::{conn, drained, Ctx};
use crate::net::{accept_transient, interrupted};

/// First pause after `accept` fails for want of descriptors; it doubles
/// on each failure in a row, up to [`MAX_BACKOFF`], as in the other models.
const MIN_BACKOFF: Duration = Duration::from_millis(20);
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// Hands a listener from [`crate::listen::bind_all`] (bound with the
/// configured backlog) to the runtime. Must run inside the runtime.
pub fn into_tokio(socket: std::net::TcpListener) -> io::Result<TcpListener> {
    // `from_std` requires it, and does not check: a blocking listener
    // would stall the whole runtime in `accept`.
    socket.set_nonblocking(true)?;
    TcpListener::from_std(socket)
}

/// Accepts from `listener` and spawns a task per connection until the
/// drain begins; then returns, and dropping the listener closes it, so
/// new connects are refused at once.
pub async fn run(listener: TcpListener, addr: SocketAddr, ctx: Ctx) {
    let mut drain = ctx.drain.clone();
    let mut backoff = MIN_BACKOFF;
    loop {
        let accepted = tokio::select! {
            biased;
            () = drained(&mut drain) => return,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, _)) => {
                backoff = MIN_BACKOFF;
                admit(stream, &ctx);
            }
            Err(e) if interrupted(&e) || accept_transient(&e) => {}
            Err(e) => {
                // EMFILE and friends: the connection stays queued and the
                // listener stays "ready", so an immediate retry would spin.
                if backoff == MIN_BACKOFF {
                    crate::net::log_accept_failure(addr, &e);
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
fn admit(stream: TcpStream, ctx: &Ctx) {
    let permit = match &ctx.limit {
        Some(limit) => match limit.clone().try_acquire_owned() {
            Ok(permit) => Some(permit),
            Err(_) => return,
        },
        None => None,
    };
    tokio::spawn(conn::run(stream, ctx.clone(), permit));
}
