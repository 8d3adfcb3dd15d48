//! `--metrics ADDR`: Prometheus metrics, served beside the reactors.
//!
//! # Counting costs the echo path nothing shared
//!
//! Each reactor counts in plain `u64`s ([`crate::counters::Counters`])
//! and publishes them to its slot of a shared [`Board`] once per turn,
//! after the reap (see [`board`]), with the length of that turn
//! ([`histogram`]): a clock read and a few dozen relaxed stores per turn,
//! against at least one `epoll_wait` and a read and a write per echo.
//! Without `--metrics` there is no board and nothing is published.
//!
//! # Serving is not the reactors' work
//!
//! The endpoint is a thread of its own ([`server`]), with blocking
//! sockets: it reads the board, sums the slots of every reactor of
//! `--threads N`, and renders the sum ([`exposition`]). No reactor holds a
//! scrape connection, a scrape timer or anything that knows HTTP, so a
//! scraper, however hostile, can cost the echo only CPU time the kernel
//! shares out, never a turn.
//!
//! The layers, lowest first: [`crate::counters`] (the table), [`board`]
//! and [`histogram`] (what a reactor imports to publish), then
//! [`process`], [`exposition`] and [`server`], which only this module
//! uses; the reactors' supervisor ([`crate::supervisor`]) starts them
//! through [`Metrics`].
//!
//! `--metrics` with `--model` other than `reactor` is refused at startup
//! (see [`Config::check`]).

pub mod board;
pub mod exposition;
pub mod histogram;
pub mod process;
pub mod server;

use std::io::{self, Write};
use std::sync::Arc;

use crate::config::Config;
use crate::error::Error;
pub use board::{Board, Publisher, Snapshot};

/// What `--metrics` gives a process of reactors: where each publishes,
/// and the endpoint serving them, which stops when this is dropped.
#[derive(Debug)]
pub struct Metrics {
    publishers: Vec<Option<Publisher>>,
    server: Option<server::Server>,
}

impl Metrics {
    /// With `--metrics`: binds the endpoint, makes a board for `reactors`
    /// reactors and starts serving it. Without, nothing: every publisher
    /// is `None`. The error names the flag and the address.
    pub fn serve(config: &Config, reactors: usize) -> Result<Metrics, Error> {
        let Some(addr) = config.metrics else {
            return Ok(Metrics {
                publishers: (0..reactors).map(|_| None).collect(),
                server: None,
            });
        };
        let cannot = |e: io::Error| {
            let hint = crate::listen::bind_hint(&crate::config::ListenAddr::Tcp(addr), &e);
            Error::Startup(format!("--metrics {addr}: cannot listen: {e}{hint}"))
        };
        // std sets SO_REUSEADDR, as the echo listeners have.
        let listener = std::net::TcpListener::bind(addr).map_err(cannot)?;
        let board = Arc::new(Board::new(reactors));
        let server = server::Server::start(listener, Arc::clone(&board)).map_err(cannot)?;
        let publishers = (0..reactors)
            .map(|slot| {
                Some(Publisher {
                    board: Arc::clone(&board),
                    slot,
                })
            })
            .collect();
        Ok(Metrics {
            publishers,
            server: Some(server),
        })
    }

    /// Where each reactor publishes, by reactor; taken once.
    pub fn publishers(&mut self) -> Vec<Option<Publisher>> {
        std::mem::take(&mut self.publishers)
    }

    /// Prints `metrics on http://ADDR/metrics` on stdout, after the
    /// `listening on` lines, when there is an endpoint.
    pub fn announce(&self) {
        if let Some(server) = &self.server {
            let mut out = io::stdout().lock();
            // A closed stdout must not stop a daemon that is otherwise fine.
            let _ = writeln!(out, "metrics on http://{}/metrics", server.addr());
            let _ = out.flush();
        }
    }
}
