//! Plumbing shared by the blocking models: an acceptor that can be woken
//! for shutdown ([`acceptor`]), the registry of live clients and the echo
//! loop ([`clients`]), and the signal thread ([`signals`]).

pub mod acceptor;
pub mod clients;
pub mod signals;

use std::net::TcpStream;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use acceptor::Acceptor;
pub use clients::{echo, Clients, Membership};

use crate::listen::Bound;
use crate::{Config, Error, Stopped};

/// What a blocking model runs on: the acceptor, the registry of live
/// clients, and the stop flag the first signal sets.
pub struct Server {
    acceptor: Acceptor,
    /// Live clients; a model registers each one before serving it.
    pub clients: Arc<Clients>,
    stop: Arc<AtomicBool>,
    grace: Duration,
}

impl Server {
    /// Registers the listeners, installs the signal handling, then
    /// announces the listeners (so "listening" means signals are handled).
    pub fn start(config: &Config, listeners: Vec<Bound>) -> Result<Server, Error> {
        let addrs: Vec<_> = listeners.iter().map(|b| b.addr).collect();
        let acceptor = Acceptor::new(listeners)
            .map_err(|e| Error::Startup(format!("cannot start the acceptor: {e}")))?;
        let clients = Arc::new(Clients::default());
        let stop = signals::watch(
            config.shutdown_timeout,
            acceptor.listener_fds(),
            acceptor.waker(),
            clients.clone(),
        )?;
        crate::listen::announce(&addrs);
        Ok(Server {
            acceptor,
            clients,
            stop,
            grace: config.shutdown_timeout,
        })
    }

    /// The next client, blocking; `None` once shutdown has begun.
    pub fn next_client(&mut self) -> Result<Option<TcpStream>, Error> {
        self.acceptor
            .next(&self.stop)
            .map_err(|e| Error::Runtime(format!("accept loop failed: {e}")))
    }

    /// Waits up to `--shutdown-timeout` for live clients to finish.
    pub fn finish(self) -> Stopped {
        self.clients.wait_empty(Instant::now() + self.grace);
        Stopped::Drained
    }
}

/// Applies per-connection options: TCP_NODELAY and, with
/// `--idle-timeout`, read and write timeouts so a silent or non-reading
/// client is dropped after that long.
pub fn configure(stream: &TcpStream, config: &Config) -> std::io::Result<()> {
    if config.nodelay {
        stream.set_nodelay(true)?;
    }
    stream.set_read_timeout(config.idle_timeout)?;
    stream.set_write_timeout(config.idle_timeout)?;
    Ok(())
}
