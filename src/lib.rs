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
//!   threads, see [`supervisor`].
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
pub mod daemon;
pub mod error;
pub mod listen;
pub mod log;
pub mod metrics;
pub mod models;
pub mod net;
pub mod reactor;
pub mod signals;
pub mod stderr;
pub mod supervisor;
pub mod time;

pub use config::{Config, ListenAddr, Model};
pub use daemon::run;
pub use error::{Error, Stopped};
