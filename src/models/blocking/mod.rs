//! Plumbing shared by the blocking models: an acceptor that can be woken
//! for shutdown ([`acceptor`]) over TCP and Unix listeners that the
//! signal thread can stop ([`listeners`]), the registry of live clients
//! (sockets of either kind, [`crate::net::Stream`]) and the echo loop
//! ([`clients`]), the signal thread ([`signals`]), and a thread per
//! `--listen udp:` socket ([`datagrams`]).

pub mod acceptor;
pub mod clients;
pub mod datagrams;
pub mod listeners;
pub mod signals;

use std::net::{SocketAddr, TcpListener};
use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use acceptor::Acceptor;
pub use clients::{echo, Clients, Membership};

use crate::config::Config;
use crate::config::ListenAddr;
use crate::error::{Error, Stopped};
use crate::listen::{self, Bound, SocketFile};
use crate::net::{Listening, Stream};

/// What a blocking model runs on: the acceptor, the registry of live
/// clients, and the stop flag the first signal sets.
pub struct Server {
    acceptor: Acceptor,
    /// Live clients; a model registers each one before serving it.
    pub clients: Arc<Clients>,
    stop: Arc<AtomicBool>,
    grace: Duration,
    /// The UDP echo threads, joined before the stop line of a full drain.
    udp: Vec<std::thread::JoinHandle<()>>,
}

impl Server {
    /// Registers the listeners, installs the signal handling, starts a
    /// thread per UDP socket, then announces the listeners (so "listening"
    /// means signals are handled).
    pub fn start(config: &Config, listeners: Vec<Bound>) -> Result<Server, Error> {
        let addrs: Vec<_> = listeners.iter().map(Bound::listen_addr).collect();
        let listen::ByKind { tcp, udp, unix } = listen::split(listeners);
        let (streams, files) = stream_listeners(tcp, unix);
        let acceptor = Acceptor::new(streams, files)
            .map_err(|e| Error::Startup(format!("cannot start the acceptor: {e}")))?;
        let clients = Arc::new(Clients::default());
        let stop = signals::watch(
            config.shutdown_timeout,
            acceptor.listeners(),
            acceptor.waker(),
            clients.clone(),
        )?;
        let udp = udp
            .into_iter()
            .map(|(sock, addr)| datagrams::spawn(sock, addr, stop.clone(), clients.clone()))
            .collect::<Result<Vec<_>, _>>()?;
        listen::announce(&addrs);
        crate::log::started(config, &addrs);
        Ok(Server {
            acceptor,
            clients,
            stop,
            grace: config.shutdown_timeout,
            udp,
        })
    }

    /// The next client, blocking; `None` once shutdown has begun.
    pub fn next_client(&mut self) -> Result<Option<Stream>, Error> {
        self.acceptor
            .next(&self.stop)
            .map_err(|e| Error::Runtime(format!("accept loop failed: {e}")))
    }

    /// Waits up to `--shutdown-timeout` for live clients to finish, then
    /// logs the stop line (unless the signal thread did: see `signals`).
    pub fn finish(self) -> Stopped {
        self.clients
            .wait_empty(crate::time::deadline(Instant::now(), self.grace));
        let end = if self.clients.live() == 0 {
            crate::log::DrainEnd::Complete
        } else {
            crate::log::DrainEnd::TimedOut
        };
        // The stop flag is up: each UDP thread ends within its poll, and
        // its last echo is counted before the totals are read.
        for thread in self.udp {
            let _ = thread.join();
        }
        let totals = self.clients.tally.totals();
        crate::log::stopped_with(Some(totals), self.clients.drain(end));
        Stopped::Drained
    }
}

/// The TCP and Unix listeners as the acceptor takes them, in that order,
/// and the socket files to remove once they stop.
fn stream_listeners(
    tcp: Vec<(TcpListener, SocketAddr)>,
    unix: Vec<(UnixListener, PathBuf, Option<SocketFile>)>,
) -> (Vec<(Listening, ListenAddr)>, Vec<SocketFile>) {
    let mut socks: Vec<(Listening, ListenAddr)> = tcp
        .into_iter()
        .map(|(s, a)| {
            let s = mio::net::TcpListener::from_std(s);
            (Listening::Tcp(s), ListenAddr::Tcp(a))
        })
        .collect();
    let mut files = Vec::new();
    for (s, path, file) in unix {
        let s = mio::net::UnixListener::from_std(s);
        socks.push((Listening::Unix(s), ListenAddr::Unix(path)));
        files.extend(file);
    }
    (socks, files)
}

/// Applies per-connection options: TCP_NODELAY; a read timeout of
/// [`clients::POLL`], so the client thread notices shutdown and
/// `--idle-timeout` by itself (see `clients`); and, with `--idle-timeout`,
/// a write timeout so a client that stops reading is dropped after that
/// long.
pub fn configure(stream: &Stream, config: &Config) -> std::io::Result<()> {
    if config.nodelay {
        stream.set_nodelay()?;
    }
    stream.set_read_timeout(Some(clients::POLL))?;
    stream.set_write_timeout(config.idle_timeout)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    // Regression guard for the timeout overflow: `--shutdown-timeout 500000000000y`
    // panicked at SIGTERM in `finish` ("overflow when adding duration to
    // instant"). A Config built in code can still carry Duration::MAX.
    #[test]
    fn finish_with_duration_max_grace_does_not_overflow() {
        let addr = crate::config::ListenAddr::Tcp("127.0.0.1:0".parse().unwrap());
        let by = listen::split(vec![listen::bind(&addr, 16).unwrap()]);
        let (socks, files) = stream_listeners(by.tcp, by.unix);
        // Built by hand: `Server::start` would install process-wide signal
        // handlers in the test process.
        let server = Server {
            acceptor: Acceptor::new(socks, files).unwrap(),
            clients: Arc::new(Clients::default()),
            stop: Arc::new(AtomicBool::new(true)),
            grace: Duration::MAX,
            udp: Vec::new(),
        };
        assert_eq!(server.finish(), Stopped::Drained);
    }

    #[test]
    fn duration_max_idle_timeout_still_serves() {
        let (mut client, server) = crate::net::loopback_pair().unwrap();
        let mut stream = Stream::Tcp(server);
        let config = Config {
            idle_timeout: Some(Duration::MAX),
            ..Config::default()
        };
        configure(&stream, &config).expect("huge socket timeouts are accepted");
        client.write_all(b"hi").unwrap();
        let mut buf = [0u8; 2];
        stream
            .read_exact(&mut buf)
            .expect("a huge timeout is not a zero one");
        assert_eq!(&buf, b"hi");
    }
}
