//! Bounded memory and fairness: clients that send and never read cost the
//! server at most `--max-buffer` each (the reactor stops reading them; a
//! thread blocks in its write), every byte they got in is echoed once they
//! read, and a client streaming flat out does not starve a ping-pong.

use crate::util;

use std::io::{Read, Write};
use std::net::Shutdown;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use util::{connect, pattern, per_model, Server, IO_TIMEOUT};

/// Memory bounds, Linux only: the server's RSS and its peak come from
/// /proc.
#[cfg(target_os = "linux")]
mod memory {
    use super::*;
    use std::io::ErrorKind;
    use std::net::TcpStream;
    use std::sync::Barrier;
    use util::{connect_small, read_n, read_to_eof};

    const CLIENTS: usize = 50;
    /// Each client tries to push this much: ~400 MiB in all if the server
    /// buffered without bound.
    const PUSH: usize = 8 << 20;
    /// Client `i` sends `shared[i * SHIFT..][..PUSH]`: distinct streams from
    /// one allocation, so a stream crossed with another's shows.
    const SHIFT: usize = 4099;
    /// No progress for this long means the client's writes have stalled: the
    /// server stopped reading it. Generous for a loaded machine.
    const STALL: Duration = Duration::from_secs(1);

    /// Writes `data` until done or until a write makes no progress for
    /// [`STALL`]. Returns how many bytes the kernel accepted.
    fn push_until_stalled(s: &mut TcpStream, data: &[u8]) -> usize {
        s.set_write_timeout(Some(STALL)).unwrap();
        let mut sent = 0;
        while sent < data.len() {
            match s.write(&data[sent..]) {
                Ok(n) => sent += n,
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => panic!("write after {sent} bytes: {e}"),
            }
        }
        s.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
        sent
    }

    /// [`CLIENTS`] clients push up to [`PUSH`] bytes each without reading.
    /// Server RSS growth must stay near `CLIENTS * max_buffer` (plus slack for
    /// allocator and thread overhead), far from the ~400 MiB unbounded
    /// buffering would take. Then every client reads: each gets back exactly
    /// the bytes it managed to send, and EOF after them.
    fn never_reading_clients_keep_memory_bounded(model: &str) {
        const MAX_BUFFER: u64 = 64 << 10;
        const SLACK_KIB: u64 = 16 << 10;
        let server = Server::start(&["--model", model]);
        let addr = server.addr();
        let shared = Arc::new(pattern(7, PUSH + CLIENTS * SHIFT));
        let before = server.rss_kib();

        // Connect and push concurrently; wait for every push to stall before
        // measuring, then read back concurrently.
        let stalled = Arc::new(Barrier::new(CLIENTS + 1));
        let measured = Arc::new(Barrier::new(CLIENTS + 1));
        let clients: Vec<_> = (0..CLIENTS)
            .map(|i| {
                let (shared, stalled, measured) =
                    (shared.clone(), stalled.clone(), measured.clone());
                thread::spawn(move || {
                    let data = &shared[i * SHIFT..][..PUSH];
                    // Small client buffers: the bytes in flight sit mostly on
                    // the server's side, where the test can see them.
                    let mut s = connect_small(addr, 64 << 10, 64 << 10);
                    let sent = push_until_stalled(&mut s, data);
                    stalled.wait();
                    measured.wait();
                    let got = read_n(&mut s, sent).expect("read back the echo");
                    s.shutdown(Shutdown::Write).unwrap();
                    let extra = read_to_eof(&mut s).expect("read to EOF");
                    (i, sent, got == data[..sent], extra.len())
                })
            })
            .collect();
        stalled.wait();
        let peak = server.peak_rss_kib();
        let now = server.rss_kib();
        measured.wait();

        let mut total = 0;
        for c in clients {
            let (i, sent, same, extra) = c.join().expect("client thread");
            assert!(sent > 0, "{model}: client {i} could not send at all");
            assert!(same, "{model}: client {i}: echo of {sent} bytes differs");
            assert_eq!(
                extra, 0,
                "{model}: client {i}: {extra} bytes after its echo"
            );
            total += sent;
        }
        let growth = peak.saturating_sub(before);
        let bound = CLIENTS as u64 * MAX_BUFFER / 1024 + SLACK_KIB;
        assert!(
            growth < bound,
            "{model}: RSS grew {growth} KiB (peak {peak}, now {now}, before {before}) \
             with {total} bytes sent; bound {bound} KiB"
        );
        // The pressure was real: far more went in than the server may hold.
        // (How much each client gets in depends on the kernel's autotuned
        // socket buffers, which may absorb all of it; the server's own share
        // is what the RSS bound pins.)
        assert!(
            total as u64 > 4 * CLIENTS as u64 * MAX_BUFFER,
            "{model}: only {total} bytes sent in all: no real pressure"
        );
    }

    per_model!(never_reading_clients_keep_memory_bounded: reactor, threads, tokio,
        uring);
}

/// One client streams full duplex as fast as it can with big buffers;
/// meanwhile another does 200 ping-pongs, each of which must be answered
/// within 1 s. The stream must really be flowing during the pings, and
/// come back byte-exact in the end.
fn flood_does_not_starve_ping_pong(model: &str) {
    const PINGS: usize = 200;
    const BOUND: Duration = Duration::from_secs(1);
    const CHUNK: usize = 256 << 10;
    let server = Server::model(model);
    let addr = server.addr();

    let flood = connect(addr);
    let chunk = Arc::new(pattern(3, CHUNK));
    let stop = Arc::new(AtomicBool::new(false));
    let echoed = Arc::new(AtomicU64::new(0));
    let writer = {
        let (mut w, chunk, stop) = (flood.try_clone().unwrap(), chunk.clone(), stop.clone());
        thread::spawn(move || {
            let mut sent = 0u64;
            while !stop.load(Ordering::SeqCst) {
                w.write_all(&chunk).expect("flood write");
                sent += CHUNK as u64;
            }
            w.shutdown(Shutdown::Write).unwrap();
            sent
        })
    };
    let reader = {
        let (mut r, chunk, echoed) = (flood, chunk.clone(), echoed.clone());
        thread::spawn(move || {
            // The stream is the chunk repeated: check each byte against it.
            let mut buf = vec![0u8; CHUNK];
            let mut at = 0usize;
            loop {
                let n = r.read(&mut buf).expect("flood read");
                if n == 0 {
                    return at as u64;
                }
                let mut done = 0;
                while done < n {
                    let off = (at + done) % CHUNK;
                    let len = (n - done).min(CHUNK - off);
                    assert!(
                        buf[done..done + len] == chunk[off..off + len],
                        "flood echo differs near byte {}",
                        at + done
                    );
                    done += len;
                }
                at += n;
                echoed.store(at as u64, Ordering::SeqCst);
            }
        })
    };

    // Let the flood get going before measuring the pings.
    assert!(
        util::wait_until(IO_TIMEOUT, || echoed.load(Ordering::SeqCst) >= 8 << 20),
        "{model}: the flood never got going"
    );
    let worst = util::slowest_of_pings(addr, PINGS);
    // Not a quiet-time measurement: the flood is still flowing after the
    // pings (the ping-pong did not starve it either).
    let after_pings = echoed.load(Ordering::SeqCst);
    let flowing = util::wait_until(IO_TIMEOUT, || {
        echoed.load(Ordering::SeqCst) >= after_pings + (1 << 20)
    });

    stop.store(true, Ordering::SeqCst);
    let sent = writer.join().expect("flood writer");
    let got = reader.join().expect("flood reader");
    assert_eq!(got, sent, "{model}: flood echo lost or gained bytes");
    assert!(
        worst < BOUND,
        "{model}: slowest of {PINGS} pings took {worst:?} beside the flood"
    );
    assert!(flowing, "{model}: the flood stalled after the pings");
}

per_model!(flood_does_not_starve_ping_pong: reactor, threads, tokio,
    #[cfg(target_os = "linux")] uring,
    #[cfg(target_os = "linux")] uring_buffers_4 = "uring --uring-buffers 4");
