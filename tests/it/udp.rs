//! `--listen udp:ADDR`: RFC 862's datagram half. Every datagram goes back
//! to its sender byte-exact, whatever its size; datagrams from ports that
//! answer back are dropped; a flood of datagrams does not starve TCP
//! clients of the same reactor; SIGTERM closes the socket and exits 0.
//!
//! Datagrams on loopback are not lost while the receiver keeps up, so the
//! request/reply tests expect every reply; each client socket has a read
//! timeout, so a lost one fails the test instead of hanging it.

use crate::util;

use std::io::ErrorKind;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use util::{
    assert_usage_error, connect, ipv6_or_skip, pattern, per_model, ping, Server, IO_TIMEOUT,
};

/// The models that serve UDP.
const MODELS: &[&str] = &[
    "reactor",
    "threads",
    "tokio",
    #[cfg(target_os = "linux")]
    "uring",
];

/// The largest UDP payload over IPv4 (65,535 − 20 − 8).
const MAX_V4: usize = 65_507;
/// The largest UDP payload over IPv6, without jumbograms (65,535 − 8).
const MAX_V6: usize = 65_527;

/// A client socket on loopback next to `server`, with a read timeout.
fn client(server: SocketAddr) -> UdpSocket {
    let local: SocketAddr = if server.is_ipv6() {
        "[::1]:0".parse().unwrap()
    } else {
        "127.0.0.1:0".parse().unwrap()
    };
    let s = UdpSocket::bind(local).unwrap();
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    s
}

/// Sends `msg` and expects it back, from `server`, exactly.
fn echo(s: &UdpSocket, server: SocketAddr, msg: &[u8]) {
    s.send_to(msg, server)
        .unwrap_or_else(|e| panic!("send {} bytes: {e}", msg.len()));
    let mut buf = vec![0u8; msg.len() + 1];
    let (n, from) = s
        .recv_from(&mut buf)
        .unwrap_or_else(|e| panic!("reply to {} bytes: {e}", msg.len()));
    assert_eq!(from, server, "reply from the wrong address");
    assert_eq!(n, msg.len(), "reply size");
    assert!(buf[..n] == *msg, "{} byte echo differs", msg.len());
}

fn sizes(max: usize) -> Vec<usize> {
    vec![1, 2, 64, 512, 1472, 1473, 4096, 9000, 32_768, 65_000, max]
}

#[test]
fn datagrams_from_one_byte_to_the_largest_come_back_byte_exact() {
    for model in MODELS {
        let mut args = vec!["--model", model, "--listen", "udp:127.0.0.1:0"];
        let part = "udp::datagrams_from_one_byte_to_the_largest_come_back_byte_exact, [::1]";
        if ipv6_or_skip(part) {
            args.extend(["--listen", "udp:[::1]:0"]);
        }
        let server = Server::start(&args);
        for &addr in server.addrs() {
            assert_ne!(addr.port(), 0, "announced with the real port");
            let max = if addr.is_ipv6() { MAX_V6 } else { MAX_V4 };
            let s = client(addr);
            for (i, size) in sizes(max).into_iter().enumerate() {
                echo(&s, addr, &pattern(i as u64, size));
            }
            // And the empty datagram: RFC 862 sends back what came.
            echo(&s, addr, b"");
        }
    }
}

#[test]
fn many_clients_at_once_each_get_only_their_own_datagrams() {
    const CLIENTS: usize = 32;
    const ROUNDS: usize = 50;
    for model in MODELS {
        let server = Server::start(&["--model", model, "--listen", "udp:127.0.0.1:0"]);
        let addr = server.addr();
        let clients: Vec<_> = (0..CLIENTS)
            .map(|c| {
                thread::spawn(move || {
                    let s = client(addr);
                    for r in 0..ROUNDS {
                        let msg = format!("client {c} round {r} ").into_bytes();
                        let mut msg = msg.repeat(1 + (c * r) % 40);
                        msg.extend(pattern((c * ROUNDS + r) as u64, c * 31));
                        echo(&s, addr, &msg);
                    }
                })
            })
            .collect();
        for c in clients {
            c.join().expect("client");
        }
    }
}

#[test]
fn several_reactors_share_a_udp_port() {
    let server = Server::start(&["--threads", "4", "--listen", "udp:127.0.0.1:0"]);
    let addr = server.addr();
    let clients: Vec<_> = (0..16)
        .map(|c| {
            thread::spawn(move || {
                let s = client(addr);
                for r in 0..20 {
                    echo(&s, addr, format!("{c}/{r}").as_bytes());
                }
            })
        })
        .collect();
    for c in clients {
        c.join().expect("client");
    }
}

/// A socket on one of the loop ports (echo first), if one is free.
fn bind_loop_port() -> Option<UdpSocket> {
    [7, 9, 13, 19, 37]
        .into_iter()
        .find_map(|port| UdpSocket::bind(("127.0.0.1", port)).ok())
}

#[test]
fn datagrams_from_echo_and_friends_get_no_reply() {
    for model in MODELS {
        let server = Server::start(&["--model", model, "--listen", "udp:127.0.0.1:0"]);
        let addr = server.addr();
        let looping = bind_loop_port().expect("no loop port free to bind (run as root)");
        let other = client(addr);
        looping
            .send_to(b"are you an echo server too?", addr)
            .unwrap();
        // Sent after the looping one to the same socket, so handled after
        // it: once this reply is in, any reply to the first was sent.
        echo(&other, addr, b"still serving others");
        looping
            .set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        let mut buf = [0u8; 64];
        match looping.recv_from(&mut buf) {
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            got => panic!("{model}: a loop port got {got:?}"),
        }
        echo(&other, addr, b"and still");
    }
}

#[test]
fn tcp_and_udp_listeners_on_one_daemon_both_serve() {
    for model in MODELS {
        let server = Server::model(&format!(
            "{model} --listen 127.0.0.1:0 --listen udp:127.0.0.1:0"
        ));
        let (tcp, udp) = (server.addrs()[0], server.addrs()[1]);
        let mut t = connect(tcp);
        let u = client(udp);
        for i in 0..20 {
            ping(&mut t, format!("tcp {i}").as_bytes());
            echo(&u, udp, format!("udp {i}").as_bytes());
        }
    }
}

#[test]
fn tcp_prefix_names_a_tcp_listener() {
    let server = Server::start(&["--listen", "tcp:127.0.0.1:0"]);
    ping(&mut connect(server.addr()), b"explicit tcp");
}

/// One client sends small datagrams as fast as two threads can (a reader
/// thread counts the replies) while a TCP client does 200 ping-pongs on the same
/// daemon, each of which must be answered within 1 s. The flood must
/// really be flowing before and after the pings.
fn udp_flood_does_not_starve_tcp(model: &str) {
    const PINGS: usize = 200;
    const BOUND: Duration = Duration::from_secs(1);
    const FLOODERS: usize = 2;
    const SIZE: usize = 64;
    let server = Server::model(&format!(
        "{model} --listen 127.0.0.1:0 --listen udp:127.0.0.1:0"
    ));
    let (tcp, udp) = (server.addrs()[0], server.addrs()[1]);
    let flood = client(udp);
    flood
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let echoed = Arc::new(AtomicU64::new(0));
    let writers: Vec<_> = (0..FLOODERS)
        .map(|_| {
            let (w, stop) = (flood.try_clone().unwrap(), stop.clone());
            let datagram = pattern(5, SIZE);
            thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    // A full buffer somewhere (ENOBUFS) is the flood working.
                    let _ = w.send_to(&datagram, udp);
                }
            })
        })
        .collect();
    let reader = {
        let (stop, echoed) = (stop.clone(), echoed.clone());
        thread::spawn(move || {
            let mut buf = vec![0u8; 2048];
            while !stop.load(Ordering::SeqCst) {
                if let Ok((n, _)) = flood.recv_from(&mut buf) {
                    assert_eq!(n, SIZE, "flood echo size");
                    echoed.fetch_add(1, Ordering::SeqCst);
                }
            }
        })
    };
    let flowing =
        |at_least: u64| util::wait_until(IO_TIMEOUT, || echoed.load(Ordering::SeqCst) >= at_least);
    assert!(flowing(10_000), "{model}: the flood never got going");
    let worst = util::slowest_of_pings(tcp, PINGS);
    let after_pings = echoed.load(Ordering::SeqCst);
    let still = flowing(after_pings + 10_000);
    stop.store(true, Ordering::SeqCst);
    for w in writers {
        w.join().expect("flood writer");
    }
    reader.join().expect("flood reader");
    assert!(
        worst < BOUND,
        "{model}: slowest of {PINGS} pings took {worst:?} beside the UDP flood"
    );
    assert!(still, "{model}: the flood stalled after the pings");
}

per_model!(udp_flood_does_not_starve_tcp: reactor, threads, tokio,
    #[cfg(target_os = "linux")]
    uring);

#[test]
fn sigterm_with_a_udp_listener_exits_zero() {
    let runs: &[&[&str]] = &[
        &["--model", "reactor"],
        &["--model", "threads"],
        &["--model", "tokio"],
        #[cfg(target_os = "linux")]
        &["--model", "uring"],
        &["--threads", "2"],
    ];
    for args in runs {
        let mut all = args.to_vec();
        all.extend(["--listen", "udp:127.0.0.1:0", "--listen", "127.0.0.1:0"]);
        let mut server = Server::start(&all);
        let addr = server.addr();
        echo(&client(addr), addr, b"before the signal");
        server.signal(libc::SIGTERM);
        let status = server.wait_exit(IO_TIMEOUT);
        assert_eq!(
            status.and_then(|s| s.code()),
            Some(0),
            "{args:?}: {:?}",
            server.stderr()
        );
    }
}

#[test]
fn a_bad_udp_address_is_a_usage_error_naming_the_flag() {
    for bad in ["udp:nonsense", "udp:", "udp:127.0.0.1", "udp:[::1]"] {
        assert_usage_error(&["--listen", bad], "--listen");
    }
    assert_usage_error(&["--listen", "sctp:127.0.0.1:7"], "unknown kind");
}

#[test]
fn the_iterative_model_refuses_udp_naming_flag_and_model() {
    let args = ["--model", "iterative", "--listen", "udp:127.0.0.1:0"];
    assert_usage_error(&args, "--listen udp:127.0.0.1:0");
    assert_usage_error(&args, "--model iterative");
}

/// A burst far larger than the default receive buffer (208 KiB holds a few
/// hundred small datagrams) arrives while the server is stopped
/// (SIGSTOP): every datagram must still be waiting when it resumes, since
/// echod asks for a large SO_RCVBUF on the UDP sockets it binds. Without
/// that, the kernel drops most of the burst before echod reads it.
/// Linux only: the limit is read from /proc.
#[cfg(target_os = "linux")]
#[test]
fn a_burst_that_arrives_while_the_server_is_busy_is_not_dropped() {
    const BURST: usize = 2000;
    const SIZE: usize = 512;
    let rmem_max: usize = std::fs::read_to_string("/proc/sys/net/core/rmem_max")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0);
    if rmem_max < 2 << 20 {
        util::skipped(
            "udp::a_burst_that_arrives_while_the_server_is_busy_is_not_dropped",
            &format!(
                "net.core.rmem_max is {rmem_max}, under 2 MiB, so no socket may hold the burst"
            ),
        );
        return;
    }
    for model in MODELS {
        let server = Server::start(&["--model", model, "--listen", "udp:127.0.0.1:0"]);
        let addr = server.addrs()[0];
        let s = client(addr);
        // Our side must hold every reply too.
        socket2::SockRef::from(&s)
            .set_recv_buffer_size(4 << 20)
            .unwrap();
        // SAFETY: kill(2) on the server's pid.
        unsafe { libc::kill(server.pid(), libc::SIGSTOP) };
        for i in 0..BURST {
            s.send_to(&pattern(i as u64, SIZE), addr).unwrap();
        }
        unsafe { libc::kill(server.pid(), libc::SIGCONT) };
        let mut buf = [0u8; SIZE + 1];
        for i in 0..BURST {
            match s.recv_from(&mut buf) {
                Ok((n, _)) => assert!(
                    buf[..n] == pattern(i as u64, SIZE)[..],
                    "{model}: reply {i} differs"
                ),
                Err(e) => panic!("{model}: {i} of {BURST} replies, then {e}"),
            }
        }
    }
}
