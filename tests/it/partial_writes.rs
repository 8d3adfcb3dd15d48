//! Partial writes and backpressure: a client with tiny kernel buffers that
//! reads slowly makes every server write come up short or would-block. The
//! echo must still be byte-exact, and the server must stop reading from
//! that client rather than buffer without bound or stall others.
//!
//! Linux only: every case first waits to see the server backpressured in
//! its socket queues, which only /proc/net/tcp shows.
#![cfg(target_os = "linux")]

use crate::util;

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::thread;
use std::time::Duration;

use util::{
    connect, connect_small, echo_all, overflowing_size, pattern, per_model, ping, seed_of,
    tcp_queues, wait_until, Server, IO_TIMEOUT,
};

/// A transfer larger than the server's send buffer can ever grow to (Linux
/// autotunes it up to the third `tcp_wmem` value): only then must a server
/// facing a stalled reader see its writes come up short and stop reading.
fn transfer_size() -> usize {
    overflowing_size(64 << 20, 4 << 20)
}

/// Waits until the server's end of `client` has unsent output and unread
/// input, the latter unchanged since the previous look: the server stopped
/// reading because it cannot write, i.e. its writes are coming up short and
/// backpressure has taken over.
fn server_backpressured(server: SocketAddr, client: &TcpStream) -> bool {
    let peer = client.local_addr().unwrap();
    let mut last_rx = 0;
    wait_until(IO_TIMEOUT, || {
        let Some((tx, rx)) = tcp_queues(server, peer) else {
            return false;
        };
        let stuck = tx > 0 && rx > 0 && rx == last_rx;
        last_rx = rx;
        stuck
    })
}

/// Sends [`transfer_size`] bytes from a writer thread through a client
/// whose kernel buffers are 4 KiB, reading the echo back in small, uneven
/// reads. Early on the reader stops altogether until the server is seen
/// backpressured, so the server really does hit a full socket mid-echo.
/// `spec` is the `--model` spec; the bytes sent depend on it too, so no two
/// servers see the same stream.
fn slow_reader_echo(spec: &str) {
    let server = Server::model(spec);
    let addr = server.addr();
    let total = transfer_size();
    let data = pattern(seed_of(spec), total);
    let mut r = connect_small(addr, 4096, 4096);
    let mut w = r.try_clone().unwrap();
    let got = thread::scope(|sc| {
        let writer = sc.spawn(|| {
            for c in data.chunks(100_003) {
                w.write_all(c)?;
            }
            w.shutdown(Shutdown::Write)
        });
        const READS: [usize; 8] = [4096, 1, 4096, 333, 4096, 2048, 7, 4096];
        let stall_at = 256 << 10;
        let mut got = Vec::with_capacity(total);
        let mut buf = [0u8; 4096];
        let mut stalled = false;
        for (i, &n) in READS.iter().cycle().enumerate() {
            if !stalled && got.len() >= stall_at {
                stalled = true;
                assert!(
                    server_backpressured(addr, &r),
                    "server kept reading from a stalled client ({} of {total} echoed)",
                    got.len()
                );
            }
            match r.read(&mut buf[..n]) {
                Ok(0) => break,
                Ok(k) => got.extend_from_slice(&buf[..k]),
                Err(e) => panic!("read after {} of {total} bytes: {e}", got.len()),
            }
            if i % 16 == 15 {
                // A slow reader, not synchronisation: the server keeps
                // meeting a nearly full socket.
                thread::sleep(Duration::from_millis(1));
            }
        }
        writer.join().unwrap().expect("writer");
        got
    });
    assert_eq!(got.len(), total, "echo length");
    let at = got.iter().zip(&data).position(|(a, b)| a != b);
    assert_eq!(at, None, "echo differs (first differing offset shown)");
}

// `--max-buffer 512`: the buffer fills and slides its window on almost
// every read, and odd read sizes leave it at every offset.
per_model!(slow_reader_echo:
    reactor, reactor_max_buffer_4k = "reactor --max-buffer 4K",
    reactor_max_buffer_512 = "reactor --max-buffer 512", threads, tokio,
    tokio_max_buffer_512 = "tokio --max-buffer 512", #[cfg(target_os = "linux")] uring,
    #[cfg(target_os = "linux")] uring_max_buffer_512 = "uring --max-buffer 512",
    #[cfg(target_os = "linux")] uring_buffers_1 = "uring --uring-buffers 1");

/// The pipe is the pending echo when splicing: a full socket leaves bytes
/// in it, and reading stops until they are out (see src/reactor/splice.rs).
#[cfg(target_os = "linux")]
#[test]
fn reactor_splicing_echoes_byte_exact_to_a_slow_reader_with_tiny_buffers() {
    for max in ["64K", "4K"] {
        slow_reader_echo(&format!("reactor --splice always --max-buffer {max}"));
    }
}

#[test]
fn reactor_client_that_stops_reading_stalls_only_itself() {
    let server = Server::start(&["--model", "reactor"]);
    let addr = server.addr();
    let total = transfer_size();
    let data = pattern(5, total);
    let mut stuck = connect_small(addr, 4096, 4096);
    let mut w = stuck.try_clone().unwrap();
    thread::scope(|sc| {
        let writer = sc.spawn(|| {
            for c in data.chunks(65536) {
                w.write_all(c)?;
            }
            w.shutdown(Shutdown::Write)
        });
        // The stuck client reads nothing until the server has stopped
        // reading from it.
        assert!(
            server_backpressured(addr, &stuck),
            "server kept reading from a client that does not read"
        );
        // Meanwhile others are served in full, new and bulk alike.
        let other = pattern(6, 1 << 20);
        assert!(echo_all(connect(addr), other.clone(), 65536) == other);
        let mut p = connect(addr);
        for i in 0..100 {
            ping(&mut p, format!("still here {i}").as_bytes());
        }
        // Now the stuck client reads: everything, in order.
        let mut got = Vec::with_capacity(total);
        stuck.read_to_end(&mut got).expect("read the stuck echo");
        writer.join().unwrap().expect("writer");
        assert_eq!(got.len(), total, "echo length");
        assert!(got == data, "stuck client's echo differs");
    });
}
