//! Half-close: a client that shuts down its write side (sends FIN) has
//! said everything, but is still listening. The server must echo every
//! byte it received, including bytes still pending when the FIN arrived,
//! and only then close (the client reads EOF).

use crate::util;

use std::io::Write;
use std::net::Shutdown;

use util::{connect, pattern, per_model, ping, read_n, read_to_eof, Server};
// Seeing echo pending at the FIN takes the socket's queues and state, from
// /proc/net/tcp: those cases are Linux only.
#[cfg(target_os = "linux")]
use {
    socket2::SockRef,
    std::net::{SocketAddr, TcpStream},
    util::{connect_non_reader, overflowing_size, tcp_socket, wait_until, IO_TIMEOUT},
};

/// TCP state code of CLOSE_WAIT in /proc/net/tcp: FIN received, socket not
/// yet closed by its owner.
#[cfg(target_os = "linux")]
const CLOSE_WAIT: u8 = 0x08;
/// TCP state code of LAST_ACK: the owner closed after its peer's FIN; what
/// it wrote is still in the kernel's send queue, on its way.
#[cfg(target_os = "linux")]
const LAST_ACK: u8 = 0x09;

/// More than the server's kernel send buffer can ever hold (Linux autotunes
/// it up to the third `tcp_wmem` value): past that, with the client not
/// reading, echo has to wait in the server itself.
#[cfg(target_os = "linux")]
fn transfer_size() -> usize {
    overflowing_size(32 << 20, 1 << 20)
}

/// A client with a large send buffer and a 4 KiB receive buffer (both set
/// before connecting): it can queue megabytes without reading, while the
/// server can hand it almost nothing. Returns the socket and how much it
/// can queue without reading.
#[cfg(target_os = "linux")]
fn connect_big_send_small_receive(addr: SocketAddr) -> (TcpStream, usize) {
    let want = transfer_size();
    let s = connect_non_reader(addr, want);
    // The kernel doubles the request (for overhead) but caps it at
    // net.core.wmem_max; half of what we got is data we can surely queue,
    // on top of what the server takes in.
    let sndbuf = SockRef::from(&s).send_buffer_size().unwrap();
    (s, want.min(sndbuf / 2 + (1 << 20)))
}

fn assert_echo(got: &[u8], want: &[u8], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: echo length");
    let at = got.iter().zip(want).position(|(a, b)| a != b);
    assert_eq!(at, None, "{what}: first differing offset");
}

fn echoes_all_bytes_then_eof_after_client_half_close(model: &str) {
    let server = Server::model(model);
    // Small enough to sit in socket buffers while nothing is read.
    for (i, n) in [1, 1000, 65537, 100_000].into_iter().enumerate() {
        let data = pattern(i as u64, n);
        let mut s = connect(server.addr());
        s.write_all(&data).expect("write");
        s.shutdown(Shutdown::Write).expect("shutdown");
        let got = read_to_eof(&mut s).expect("read echo then EOF");
        assert_echo(&got, &data, &format!("{model}, {n} bytes"));
    }
}

per_model!(echoes_all_bytes_then_eof_after_client_half_close: reactor, threads, iterative, tokio,
    #[cfg(target_os = "linux")] uring);

fn closes_at_once_after_an_immediate_half_close(model: &str) {
    let server = Server::model(model);
    let mut s = connect(server.addr());
    s.shutdown(Shutdown::Write).expect("shutdown");
    let got = read_to_eof(&mut s).expect("EOF, not an error");
    assert!(
        got.is_empty(),
        "{model}: {} bytes for nothing sent",
        got.len()
    );
}

per_model!(closes_at_once_after_an_immediate_half_close: reactor, threads, iterative, tokio,
    #[cfg(target_os = "linux")] uring);

/// Queues megabytes without reading and half-closes, so the FIN reaches the
/// server while its echo is far from delivered (the client has read
/// nothing and can hold 4 KiB); then reads everything and expects EOF
/// right after the last byte.
#[cfg(target_os = "linux")]
fn pending_echo_survives_fin(spec: &str, fully_read: bool) {
    let (server, what) = (Server::model(spec), spec);
    let addr = server.addr();
    let (mut s, n) = connect_big_send_small_receive(addr);
    let data = pattern(n as u64, n);
    s.write_all(&data)
        .expect("queue the payload without reading");
    s.shutdown(Shutdown::Write).expect("shutdown");
    let me = s.local_addr().unwrap();
    // With `fully_read`: CLOSE_WAIT (the FIN has arrived) with every byte
    // before it consumed (receive queue empty) and echo still unsent (send
    // queue not empty), so the server read EOF with its echo pending.
    // Otherwise the server is too full to take the FIN yet: it holds echo
    // it cannot send (both queues non-empty) with the FIN queued behind
    // input it has not read. (Only if this machine could not queue enough
    // may the server have handed everything to its kernel and closed.)
    let small = n < transfer_size();
    if small {
        eprintln!("note: {what}: only {n} bytes queue; echo may all fit in the kernel");
    }
    let pending_at_fin = wait_until(IO_TIMEOUT, || {
        tcp_socket(addr, me).is_some_and(|(state, tx, rx)| {
            if fully_read {
                state == CLOSE_WAIT && rx == 0 && tx > 0
            } else {
                (rx > 0 && tx > 0) || (small && matches!(state, CLOSE_WAIT | LAST_ACK))
            }
        })
    });
    assert!(
        pending_at_fin,
        "{what}: server socket never showed echo pending at the FIN: {:?}",
        tcp_socket(addr, me)
    );
    let got = read_to_eof(&mut s).expect("read echo then EOF");
    assert_echo(&got, &data, &format!("{what}, {n} bytes queued before FIN"));
}

per_model!(#[cfg(target_os = "linux")] pending_echo_survives_fin(false):
    reactor, reactor_splicing = "reactor --splice always",
    reactor_max_buffer_512 = "reactor --max-buffer 512", threads, tokio,
    tokio_max_buffer_512 = "tokio --max-buffer 512", iterative, uring,
    uring_max_buffer_512 = "uring --max-buffer 512");

#[cfg(target_os = "linux")]
#[test]
fn reactor_reads_eof_with_a_full_buffer_pending_and_still_flushes_it() {
    // A buffer larger than the payload: the reactor takes in every byte and
    // the FIN while the client reads nothing, so it meets EOF with
    // megabytes of echo in its own buffer.
    pending_echo_survives_fin("reactor --max-buffer 64M", true);
}

#[test]
fn iterative_serves_the_next_client_once_the_first_half_closes() {
    // One client at a time: the second waits in the backlog, and the first
    // one's half-close is what ends its session.
    let server = Server::start(&["--model", "iterative"]);
    let mut first = connect(server.addr());
    ping(&mut first, b"first");
    let mut second = connect(server.addr());
    second.write_all(b"second").expect("write");
    first.shutdown(Shutdown::Write).expect("shutdown");
    assert!(read_to_eof(&mut first).expect("EOF").is_empty());
    assert_eq!(read_n(&mut second, 6).expect("served next"), b"second");
    second.shutdown(Shutdown::Write).expect("shutdown");
    assert!(read_to_eof(&mut second).expect("EOF").is_empty());
}
