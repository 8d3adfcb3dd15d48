//! echod: an RFC 862 echo daemon and a laboratory for concurrency models.
//!
//! Every byte a client sends comes back, in order, on the same connection
//! (TCP, or a Unix stream socket with `--listen unix:PATH`); with
//! `--listen udp:ADDR`, every datagram goes back to its sender. Under
//! socket activation the listeners come from the service manager (see
//! [`listen::activation`]).
//! Four models serve the same protocol so they can be measured against
//! each other:
//!
//! - [`Model::Reactor`] (the default): one thread, one `mio::Poll`,
//!   non-blocking sockets, per-connection buffers from a pool, explicit
//!   backpressure. See [`reactor`]; with `--threads N`, N of them on N
//!   threads, see [`reactor::multi`].
//! - [`Model::Threads`]: a blocking thread per client. See [`models::threads`].
//! - [`Model::Iterative`]: one client at a time. See [`models::iterative`].
//! - [`Model::Tokio`]: a tokio `current_thread` runtime, a task per
//!   connection. Behind the cargo feature `tokio` (on by default); see
//!   `models::tokio`.
//!
//! ```no_run
//! let config = echod::Config::default(); // 127.0.0.1:7007, reactor
//! echod::run(config).expect("echod failed");
//! ```
#![deny(missing_docs)]

pub mod affinity;
pub mod cli;
pub mod config;
pub mod counters;
pub mod listen;
pub mod log;
pub mod metrics;
pub mod models;
pub mod net;
pub mod reactor;
pub mod signals;
pub mod time;

use std::fmt;

pub use config::{Config, ListenAddr, Model};

/// Why the daemon stopped, when it stopped on purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// A first SIGINT/SIGTERM: pending echoes were flushed (or the
    /// shutdown timeout ran out). The process should exit 0.
    Drained,
    /// A second signal arrived while draining; the process should exit at
    /// once with status 128 + the signal number, as a shell would report.
    Forced(i32),
}

/// A failure that stops the daemon.
#[derive(Debug)]
pub enum Error {
    /// Could not start: a listener could not be opened, and so on. The
    /// message names the address or flag involved.
    Startup(String),
    /// The event loop itself failed after startup.
    Runtime(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Startup(m) | Error::Runtime(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for Error {}

/// Binds every listener in `config` (or takes the sockets passed by
/// socket activation instead), sets up the configured model, announces
/// the listeners on stdout (one line each: `listening on tcp://ADDR`,
/// `udp://ADDR` or `unix:///PATH`, with the real port; printed once
/// signals are handled) and serves until a signal stops it.
///
/// Either every listener is bound and announced, or none is and
/// [`Error::Startup`] names the address that failed (or `--model tokio`,
/// in a build without the `tokio` feature).
pub fn run(config: Config) -> Result<Stopped, Error> {
    // Before anything is bound or announced: a build without the model
    // must fail like any other bad argument, naming the flag.
    #[cfg(not(feature = "tokio"))]
    if config.model == Model::Tokio {
        return Err(Error::Startup(
            "--model tokio: not in this build (built without the cargo feature `tokio`)".into(),
        ));
    }
    // `--threads`/`--pin` with another model, or out of range: refused
    // before anything is bound, like a bad argument.
    reactor::multi::check(&config).map_err(Error::Startup)?;
    // `--metrics` with a model that does not serve it, likewise.
    metrics::check(&config).map_err(Error::Startup)?;
    // Sockets passed by a service manager replace `--listen`.
    let inherited = listen::activation::take().map_err(Error::Startup)?;
    // Their names, kept for the warnings below (the start line has its own).
    let mut fd_names = Vec::new();
    let inherited = inherited.map(|sockets| {
        let (bound, names): (Vec<_>, Vec<_>) = sockets.into_iter().unzip();
        if config.listen_given {
            log::line(format_args!(
                "--listen ignored: serving the {} socket(s) systemd passed instead \
                 (socket activation, LISTEN_FDS)",
                bound.len()
            ));
        }
        fd_names.clone_from(&names);
        log::passed_by_systemd(names);
        bound
    });
    let addrs: Vec<ListenAddr> = match &inherited {
        Some(bound) => bound.iter().map(listen::Bound::listen_addr).collect(),
        None => config.listen.clone(),
    };
    // A kind the model does not serve (udp: with iterative), and so on.
    listen::check(&config, &addrs, inherited.is_some()).map_err(Error::Startup)?;
    if let Some(bound) = &inherited {
        listen::activation::warn_small_receive_buffers(bound, &fd_names);
    }
    net::raise_fd_limit();
    let activated = inherited.is_some();
    let listeners = match inherited {
        Some(bound) => bound,
        None => listen::bind_all(&config)?,
    };
    // Each model logs its own stop line, with its totals.
    match config.model {
        Model::Reactor => reactor::multi::run(&config, listeners, activated),
        Model::Threads => models::threads::run(&config, listeners),
        Model::Iterative => models::iterative::run(&config, listeners),
        #[cfg(feature = "tokio")]
        Model::Tokio => models::tokio::run(&config, listeners),
        #[cfg(not(feature = "tokio"))]
        Model::Tokio => unreachable!("refused before binding"),
    }
}
