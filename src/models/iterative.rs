//! One client at a time: the tutorial's single-task server.
//!
//! While one client is served, the next ones wait in the listen backlog:
//! their connects succeed (the kernel completes the handshake) but nothing
//! is echoed until every client before them has closed. This model exists
//! to show exactly that.

use std::sync::Arc;
use std::time::Instant;

use super::blocking::{configure, echo, watch_signals, Acceptor, Clients};
use crate::listen::Bound;
use crate::{Config, Error, Stopped};

/// Serves clients one after another until SIGINT/SIGTERM.
pub fn run(config: &Config, listeners: Vec<Bound>) -> Result<Stopped, Error> {
    let addrs: Vec<_> = listeners.iter().map(|b| b.addr).collect();
    let mut acceptor = Acceptor::new(listeners)
        .map_err(|e| Error::Startup(format!("cannot start the acceptor: {e}")))?;
    let clients = Arc::new(Clients::default());
    let stop = watch_signals(config, acceptor.waker(), clients.clone())?;
    crate::listen::announce(&addrs);
    let mut buf = vec![0u8; config.max_buffer];
    while let Some(mut stream) = acceptor
        .next(&stop)
        .map_err(|e| Error::Runtime(format!("accept loop failed: {e}")))?
    {
        let Some(member) = clients.join(&stream, None) else {
            continue;
        };
        if configure(&stream, config).is_ok() {
            let _ = echo(&mut stream, &mut buf);
        }
        drop(member);
    }
    clients.wait_empty(Instant::now() + config.shutdown_timeout);
    Ok(Stopped::Drained)
}
