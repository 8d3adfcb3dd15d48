//! A client that sends far more than it reads, so echo stays pending
//! inside the server: what the shutdown tests drain.

use std::io::{ErrorKind, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread;

use super::{connect_small, pattern, read_to_eof, tcp_queues, wait_until, Server, IO_TIMEOUT};

/// What a non-reading client sends: more than the kernel queues on both
/// ends absorb (their autotuned buffers took ~4.5 MiB on the dev machine),
/// so the server's own 64 KiB buffer fills and echo is pending inside it.
pub const SENT: usize = 16 << 20;

/// The client's bytes repeat with this (prime) period: cheap to generate
/// for [`SENT`] bytes, and any lost, duplicated or reordered stretch not a
/// multiple of ~1 MB long still shows.
pub const PERIOD: usize = 999_983;

/// Waits until the server's end of `client` has both unsent output and
/// unread input: it stopped reading because it cannot write, so echo is
/// pending inside the server. Returns the unsent bytes seen then, which
/// the client must get back whatever happens next.
pub fn wait_server_backpressured(server: SocketAddr, client: &TcpStream) -> u64 {
    let peer = client.local_addr().unwrap();
    let mut held = 0;
    let ok = wait_until(IO_TIMEOUT, || {
        match tcp_queues(server, peer) {
            Some((tx, rx)) if tx > 0 && rx > 0 => held = tx,
            _ => {}
        }
        held > 0
    });
    assert!(ok, "the server never held pending echo for the client");
    held
}

/// A client with small kernel buffers that sends [`SENT`] bytes from a
/// writer thread and reads nothing until told to.
pub struct NonReader {
    stream: TcpStream,
    period: Vec<u8>,
    /// Echo the server held (unsent) when it was seen backpressured.
    held: u64,
    writer: thread::JoinHandle<std::io::Result<()>>,
}

impl NonReader {
    /// Connects, starts sending, and returns once the server is holding
    /// echo it cannot deliver.
    pub fn start(server: &Server, seed: u64) -> NonReader {
        let stream = connect_small(server.addr(), 64 << 10, 64 << 10);
        NonReader::start_on(server.addr(), stream, seed)
    }

    /// [`NonReader::start`] on a connection the caller opened to `server`
    /// (to pick which reactor serves it, say).
    pub fn start_on(server: SocketAddr, stream: TcpStream, seed: u64) -> NonReader {
        let period = pattern(seed, PERIOD);
        let mut w = stream.try_clone().unwrap();
        let copy = period.clone();
        let writer = thread::spawn(move || {
            let mut left = SENT;
            while left > 0 {
                let n = left.min(PERIOD);
                w.write_all(&copy[..n])?;
                left -= n;
            }
            Ok(())
        });
        let held = wait_server_backpressured(server, &stream);
        NonReader {
            stream,
            period,
            held,
            writer,
        }
    }

    /// Reads to EOF and checks what came back is a byte-exact prefix of
    /// what was sent, at least as long as the echo the server was seen
    /// holding (so pending bytes were flushed, not dropped).
    ///
    /// `lingers`: the server keeps reading (and discarding) after its EOF
    /// until the client closes, so a client still sending is never reset
    /// (the reactor). The blocking models close once their read sees EOF,
    /// so the rest of the client's writes may meet a reset. That is fine
    /// only if the echo was complete: a reset that lands first throws away
    /// the echo still queued in the server, and when the writer thread is
    /// the one that collects the reset error, the reader sees a clean but
    /// early EOF. The `held` check is what catches that.
    pub fn read_drained_echo(mut self, what: &str, lingers: bool) {
        let got = read_to_eof(&mut self.stream)
            .unwrap_or_else(|e| panic!("{what}: reading the drained echo: {e}"));
        assert!(got.len() <= SENT, "{what}: more echoed than sent");
        for (i, chunk) in got.chunks(PERIOD).enumerate() {
            if chunk != &self.period[..chunk.len()] {
                let at = chunk.iter().zip(&self.period).position(|(a, b)| a != b);
                panic!(
                    "{what}: echo differs at byte {} of {}",
                    i * PERIOD + at.unwrap_or(0),
                    got.len()
                );
            }
        }
        assert!(
            got.len() as u64 >= self.held,
            "{what}: {} bytes echoed, but the server held {}: pending echo dropped",
            got.len(),
            self.held
        );
        match self.writer.join().unwrap() {
            Ok(()) => {}
            Err(e) if !lingers && reset(&e) => {}
            Err(e) => panic!("{what}: the client's writes failed during the drain: {e}"),
        }
    }
}

/// The peer reset the connection (or we wrote after its reset).
fn reset(e: &std::io::Error) -> bool {
    matches!(e.kind(), ErrorKind::ConnectionReset | ErrorKind::BrokenPipe)
}
