//! Signals as tokio streams: the ones every model handles
//! ([`crate::signals::HANDLED`]), with SIGHUP logged and ignored.

use std::future::poll_fn;
use std::io;
use std::task::Poll;

use tokio::signal::unix::{signal, Signal, SignalKind};

/// The installed signal streams. From [`install`](Self::install) on, the
/// default actions are replaced: a signal is only ever a stream item.
pub struct Signals {
    streams: Vec<(libc::c_int, Signal)>,
}

impl Signals {
    /// Installs a handler for every signal in [`crate::signals::HANDLED`].
    /// Must run inside the runtime; call it before announcing the
    /// listeners, so that a SIGTERM sent on seeing them drains.
    pub fn install() -> io::Result<Signals> {
        let streams = crate::signals::HANDLED
            .iter()
            .map(|&sig| Ok((sig, signal(SignalKind::from_raw(sig))?)))
            .collect::<io::Result<_>>()?;
        Ok(Signals { streams })
    }

    /// The next SIGINT or SIGTERM. SIGHUPs that come meanwhile are logged
    /// and ignored. Cancel-safe: a signal is consumed only when returned.
    pub async fn next_stop(&mut self) -> libc::c_int {
        loop {
            let sig = self.next().await;
            if crate::signals::stops(sig) {
                return sig;
            }
            crate::signals::ignore_hangup();
        }
    }

    /// The next signal of any handled kind.
    async fn next(&mut self) -> libc::c_int {
        poll_fn(|cx| {
            for (sig, stream) in &mut self.streams {
                // `Ready(None)` means the stream has ended (the runtime is
                // shutting down): no signal came, and none will on it.
                if let Poll::Ready(Some(())) = stream.poll_recv(cx) {
                    return Poll::Ready(*sig);
                }
            }
            Poll::Pending
        })
        .await
    }
}
