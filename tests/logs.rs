//! Logs on stderr: one start line and one stop line by default, and with
//! `--trace` a line for each step of a connection's life.

mod util;

use std::io::{Read, Write};
use std::net::Shutdown;

use util::{connect, Server, IO_TIMEOUT};

/// One echo, then the client closes; SIGTERM; everything stderr got.
fn one_echo_then_stop(args: &[&str]) -> String {
    let mut server = Server::start(args);
    let mut client = connect(server.addr());
    client.write_all(b"hello").unwrap();
    let mut got = [0u8; 5];
    client.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"hello");
    client.shutdown(Shutdown::Write).unwrap();
    assert_eq!(client.read(&mut got).unwrap(), 0, "EOF after the echo");
    drop(client);
    server.signal(libc::SIGTERM);
    let status = server.wait_exit(IO_TIMEOUT).expect("exit after SIGTERM");
    assert_eq!(status.code(), Some(0));
    server.stderr()
}

#[test]
fn default_run_prints_one_start_line_and_one_stop_line_with_totals() {
    let stderr = one_echo_then_stop(&[]);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{stderr:?}");
    assert!(
        lines[0].starts_with("echod: started: model reactor, 1 reactor(s), listeners tcp://"),
        "{stderr:?}"
    );
    assert!(lines[1].starts_with("echod: stopped after "), "{stderr:?}");
    assert!(
        lines[1].contains("1 connection, 5 B echoed, 0 reset, drained in"),
        "{stderr:?}"
    );
}

#[test]
fn trace_shows_accept_read_and_close_for_one_echo() {
    let stderr = one_echo_then_stop(&["--trace"]);
    for want in [
        "echod: accept conn=",
        "echod: event conn=",
        "echod: read conn=",
        "bytes=5",
        "echod: close: client EOF",
    ] {
        assert!(stderr.contains(want), "no {want:?} in {stderr:?}");
    }
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// Every model, and `--threads 2`, as the command line asks for it.
const MODELS: [&[&str]; 5] = [
    &[],
    &["--threads", "2"],
    &["--model", "threads"],
    &["--model", "iterative"],
    &["--model", "tokio"],
];

/// The stop line in `stderr`, which must hold exactly one.
fn stop_line(stderr: &str, what: &str) -> String {
    let stops: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("echod: stopped after "))
        .collect();
    assert_eq!(stops.len(), 1, "{what}: {stderr:?}");
    stops[0].to_string()
}

#[test]
fn other_models_print_the_start_and_stop_lines_too() {
    for model in ["threads", "iterative", "tokio"] {
        let stderr = one_echo_then_stop(&["--model", model]);
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(lines.len(), 2, "{model}: {stderr:?}");
        assert!(lines[0].starts_with(&format!("echod: started: model {model}, listeners")));
        assert!(lines[1].starts_with("echod: stopped after "), "{stderr:?}");
    }
}

/// The stop line's totals in every model: with `--threads 2` the
/// reactors' counters summed (the one connection is on one of them), in
/// the other models their own tally.
#[test]
fn every_model_totals_the_stop_line() {
    for args in MODELS {
        let stderr = one_echo_then_stop(args);
        let line = stop_line(&stderr, &format!("{args:?}"));
        assert!(
            line.contains(": 1 connection, 5 B echoed, 0 reset, drained in "),
            "{args:?}: {line:?}"
        );
    }
}

/// Datagrams echoed are on the stop line of every model that serves UDP,
/// their bytes in the bytes echoed.
#[test]
fn every_udp_model_counts_datagrams_on_the_stop_line() {
    let models: [&[&str]; 4] = [
        &[],
        &["--threads", "2"],
        &["--model", "threads"],
        &["--model", "tokio"],
    ];
    for args in models {
        let mut all = vec!["--listen", "udp:127.0.0.1:0"];
        all.extend_from_slice(args);
        let mut server = Server::start(&all);
        let addr = server.addr();
        let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        let mut got = [0u8; 8];
        for msg in [&b"one"[..], b"two", b"three"] {
            s.send_to(msg, addr).unwrap();
            let (n, _) = s.recv_from(&mut got).expect("echo");
            assert_eq!(&got[..n], msg, "{args:?}");
        }
        server.signal(libc::SIGTERM);
        let status = server.wait_exit(IO_TIMEOUT).expect("exit after SIGTERM");
        assert_eq!(status.code(), Some(0), "{args:?}");
        let line = stop_line(&server.stderr(), &format!("{args:?}"));
        assert!(
            line.contains(": 0 connections, 11 B echoed, 0 reset, 3 datagrams"),
            "{args:?}: {line:?}"
        );
    }
}

/// A client that resets its connection is counted as a reset in every
/// model. Linux: the server's descriptor count (from /proc) says when it
/// has closed the connection, so the signal cannot overtake the reset.
#[cfg(target_os = "linux")]
#[test]
fn every_model_counts_a_reset_on_the_stop_line() {
    for args in MODELS {
        let mut server = Server::start(args);
        let idle = server.fd_count();
        let mut client = connect(server.addr());
        client.write_all(b"hello").unwrap();
        let mut got = [0u8; 5];
        client.read_exact(&mut got).unwrap();
        assert_eq!(server.fd_count(), idle + 1, "{args:?}: one connection");
        util::set_linger_zero(&client);
        drop(client); // RST
        assert!(
            util::wait_until(IO_TIMEOUT, || server.fd_count() == idle),
            "{args:?}: the reset connection was never closed"
        );
        server.signal(libc::SIGTERM);
        let status = server.wait_exit(IO_TIMEOUT).expect("exit after SIGTERM");
        assert_eq!(status.code(), Some(0), "{args:?}");
        let line = stop_line(&server.stderr(), &format!("{args:?}"));
        assert!(
            line.contains(": 1 connection, 5 B echoed, 1 reset"),
            "{args:?}: {line:?}"
        );
    }
}

#[test]
fn trace_shows_accept_and_close_in_the_other_models() {
    for model in ["threads", "iterative", "tokio"] {
        let stderr = one_echo_then_stop(&["--model", model, "--trace"]);
        for want in [
            "echod: accept peer=Some(127.0.0.1:",
            "echod: close: client EOF",
        ] {
            assert!(stderr.contains(want), "{model}: no {want:?} in {stderr:?}");
        }
    }
}
