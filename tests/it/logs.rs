//! Logs on stderr: by default a start line, a line when the drain begins
//! and a stop line, plus a line when `--max-conns` starts turning clients
//! away; with `--trace` a line for each step of a connection's life.

use crate::util;

use std::io::{Read, Write};
use std::net::Shutdown;

use util::{connect, sigterm_stop_line, stop_line, Server, IO_TIMEOUT};

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
    server.stop()
}

#[test]
fn default_run_prints_a_start_line_a_drain_line_and_a_stop_line_with_totals() {
    let stderr = one_echo_then_stop(&[]);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 3, "{stderr:?}");
    assert!(
        lines[0].starts_with("echod: started: model reactor, 1 reactor(s), listeners tcp://"),
        "{stderr:?}"
    );
    assert!(
        lines[1].starts_with("echod: SIGTERM: draining 0 open connections, for at most 5.0 s"),
        "{stderr:?}"
    );
    assert!(lines[2].starts_with("echod: stopped after "), "{stderr:?}");
    assert!(
        lines[2].contains("1 connection, 5 B echoed, 0 reset, drained in"),
        "{stderr:?}"
    );
}

/// The first SIGINT/SIGTERM is logged at once, in every model, with the
/// connections still open: an operator is not left with silence for up
/// to `--shutdown-timeout`. With `--threads 2`, one line for the process.
#[test]
fn every_model_logs_the_start_of_the_drain_with_the_connections_open() {
    for args in MODELS {
        // The iterative model serves one client at a time: the second
        // would wait in the backlog, not be open.
        let (open, s) = if args.contains(&"iterative") {
            (1, "")
        } else {
            (2, "s")
        };
        let mut all = args.to_vec();
        all.extend(["--shutdown-timeout", "30s"]);
        let mut server = Server::start(&all);
        let mut clients: Vec<_> = (0..open).map(|_| connect(server.addr())).collect();
        for c in &mut clients {
            util::ping(c, b"open");
        }
        let lines = server.stderr_every_line();
        server.signal(libc::SIGINT);
        let started = lines.recv_timeout(IO_TIMEOUT).expect("the start line");
        assert!(started.starts_with("echod: started: "), "{started:?}");
        let line = lines
            .recv_timeout(IO_TIMEOUT)
            .expect("a line at the signal");
        assert!(
            line.starts_with(&format!(
                "echod: SIGINT: draining {open} open connection{s}, for at most 30.0 s \
                 (--shutdown-timeout)"
            )),
            "{args:?}: {line:?}"
        );
        let status = server.wait_exit(IO_TIMEOUT).expect("exit after SIGINT");
        assert_eq!(status.code(), Some(0), "{args:?}");
        let more: Vec<String> = lines.try_iter().collect();
        assert!(
            !more.iter().any(|l| l.contains("draining")),
            "{args:?}: a second drain line: {more:?}"
        );
    }
}

/// The models (and `--threads 2`) that serve UDP as well as TCP.
const SERVING_UDP_TOO: &[&[&str]] = &[
    &[],
    &["--threads", "2"],
    &["--model", "threads"],
    &["--model", "tokio"],
    #[cfg(target_os = "linux")]
    &["--model", "uring"],
];

/// `--max-conns` turning clients away is logged once per episode, as
/// EMFILE is: three refused in a row make one line; once a slot frees and
/// a client is served again, the next refusal is a new episode.
#[test]
fn every_model_logs_max_conns_reached_once_per_episode() {
    for args in SERVING_UDP_TOO {
        let mut all = args.to_vec();
        all.extend(["--max-conns", "1"]);
        let mut server = Server::start(&all);
        let addr = server.addr();
        let mut served = connect(addr);
        util::ping(&mut served, b"served");
        for i in 0..3 {
            let mut c = connect(addr);
            assert_eq!(
                util::probe(&mut c, b"refused", IO_TIMEOUT),
                util::Outcome::Closed,
                "{args:?}: client {i}"
            );
        }
        drop(served);
        // Served again once the server has seen the close.
        let mut again = None;
        assert!(util::wait_until(IO_TIMEOUT, || {
            let mut c = connect(addr);
            let ok = util::probe(&mut c, b"again", IO_TIMEOUT) == util::Outcome::Echoed;
            again = ok.then_some(c);
            ok
        }));
        let mut c = connect(addr);
        assert_eq!(
            util::probe(&mut c, b"refused", IO_TIMEOUT),
            util::Outcome::Closed
        );
        server.signal(libc::SIGTERM);
        server.wait_exit(IO_TIMEOUT).expect("exit after SIGTERM");
        let stderr = server.stderr();
        let reached: Vec<&str> = stderr
            .lines()
            .filter(|l| l.contains("--max-conns 1 reached"))
            .collect();
        assert_eq!(
            reached,
            ["echod: --max-conns 1 reached: closing new connections at once \
                 until a served one closes"; 2],
            "{args:?}: {stderr:?}"
        );
    }
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
const MODELS: &[&[&str]] = &[
    &[],
    &["--threads", "2"],
    &["--model", "threads"],
    &["--model", "iterative"],
    &["--model", "tokio"],
    #[cfg(target_os = "linux")]
    &["--model", "uring"],
];

#[test]
fn other_models_print_the_start_and_stop_lines_too() {
    for model in util::other_models() {
        let stderr = one_echo_then_stop(&["--model", model]);
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(lines.len(), 3, "{model}: {stderr:?}");
        assert!(lines[0].starts_with(&format!("echod: started: model {model}, listeners")));
        assert!(
            lines[1].starts_with("echod: SIGTERM: draining "),
            "{stderr:?}"
        );
        assert!(lines[2].starts_with("echod: stopped after "), "{stderr:?}");
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
    for args in SERVING_UDP_TOO {
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
        let line = sigterm_stop_line(&mut server, &format!("{args:?}"));
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
        let line = sigterm_stop_line(&mut server, &format!("{args:?}"));
        assert!(
            line.contains(": 1 connection, 5 B echoed, 1 reset"),
            "{args:?}: {line:?}"
        );
    }
}

/// The other models' trace names each connection by an id, as the
/// reactor's does, on its accept line (with the peer's address, not a
/// debug dump of an `Option`) and on its close line.
#[test]
fn trace_shows_accept_and_close_in_the_other_models() {
    for model in ["threads", "iterative", "tokio"] {
        let stderr = one_echo_then_stop(&["--model", model, "--trace"]);
        for want in [
            "echod: accept conn=1 peer=127.0.0.1:",
            "echod: close: client EOF, echo flushed conn=1\n",
        ] {
            assert!(stderr.contains(want), "{model}: no {want:?} in {stderr:?}");
        }
        assert!(!stderr.contains("Some("), "{model}: {stderr:?}");
    }
}

/// A connection the drain closed is traced as such, not as the client's
/// EOF: a quiet one is closed at once by the server.
#[test]
fn trace_says_the_drain_closed_a_quiet_connection_in_the_other_models() {
    for model in ["threads", "iterative", "tokio"] {
        let mut server = Server::start(&["--model", model, "--trace"]);
        let mut client = connect(server.addr());
        util::ping(&mut client, b"then quiet");
        server.signal(libc::SIGTERM);
        let mut rest = Vec::new();
        client.read_to_end(&mut rest).expect("EOF from the drain");
        assert_eq!(server.wait_exit(IO_TIMEOUT).and_then(|s| s.code()), Some(0));
        let stderr = server.stderr();
        assert!(
            stderr.contains("echod: close: quiet at shutdown conn=1\n"),
            "{model}: {stderr:?}"
        );
        assert!(!stderr.contains("client EOF"), "{model}: {stderr:?}");
    }
}

/// A connection closed by `--idle-timeout` is traced as such, in the
/// reactor's words: the threads and iterative models printed the raw read
/// error ("Resource temporarily unavailable (os error 11)") and tokio
/// "timed out", neither of which says that echod's own flag closed it.
#[test]
fn trace_says_idle_timeout_in_the_other_models() {
    for model in ["threads", "iterative", "tokio"] {
        let mut server = Server::start(&["--model", model, "--trace", "--idle-timeout", "200ms"]);
        let mut client = connect(server.addr());
        util::ping(&mut client, b"then quiet");
        let mut rest = Vec::new();
        client
            .read_to_end(&mut rest)
            .expect("EOF from the idle timeout");
        let stderr = server.stop();
        assert!(
            stderr.contains("echod: close: idle timeout conn=1\n"),
            "{model}: {stderr:?}"
        );
    }
}

/// An invalid `RUST_LOG` is not silently replaced: one line names the
/// value and says `info` is used, and echod goes on at that level.
#[test]
fn an_invalid_rust_log_is_named_in_one_line_and_info_is_used() {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_echod"));
    cmd.args(["--listen", "127.0.0.1:0"])
        .env("RUST_LOG", "echod=loud");
    let mut server = Server::spawn(cmd, 1);
    let stderr = server.stop();
    let lines: Vec<&str> = stderr.lines().collect();
    assert!(
        lines[0].starts_with("echod: RUST_LOG=echod=loud: not a valid filter (")
            && lines[0].ends_with("); logging at the default level, info"),
        "{stderr}"
    );
    assert!(
        lines[1].starts_with("echod: started: "),
        "info is on: {stderr}"
    );
    // A valid one, and none at all, say nothing of the kind.
    for value in ["warn,echod=info", ""] {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_echod"));
        cmd.args(["--listen", "127.0.0.1:0"]).env("RUST_LOG", value);
        let mut server = Server::spawn(cmd, 1);
        server.signal(libc::SIGTERM);
        server.wait_exit(IO_TIMEOUT).expect("exit");
        let stderr = server.stderr();
        assert!(!stderr.contains("RUST_LOG"), "{value:?}: {stderr}");
    }
}

/// Timestamps only when stderr is a terminal (a person has no other
/// clock); none into a pipe (the journal, a supervisor or a collector
/// adds its own, and scripts match lines from their start). The terminal
/// is a pseudo-terminal from openpty(3).
#[cfg(target_os = "linux")]
#[test]
fn lines_carry_a_utc_timestamp_only_on_a_terminal() {
    use std::io::{BufRead, BufReader};
    use std::os::fd::{FromRawFd, OwnedFd};
    let (mut master, mut slave) = (-1, -1);
    // SAFETY: openpty writes two new descriptors, which we then own.
    let rc = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(rc, 0, "openpty");
    let (master, slave) = unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_echod"));
    cmd.args(["--listen", "127.0.0.1:0"]);
    let mut server = Server::spawn_with_stderr(cmd, 1, slave.into());
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::fs::File::from(master);
    std::thread::spawn(move || {
        for line in BufReader::new(reader).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let line = rx.recv_timeout(IO_TIMEOUT).expect("the start line");
    server.signal(libc::SIGTERM);
    server.wait_exit(IO_TIMEOUT).expect("exit");
    // A terminal gets colours too: `ESC[2m` ... `ESC[0m` around each part.
    let mut line = line.as_str();
    let mut plain = String::new();
    while let Some(at) = line.find('\x1b') {
        plain.push_str(&line[..at]);
        let end = line[at..].find('m').expect("an escape ends in m");
        line = &line[at + end + 1..];
    }
    plain.push_str(line);
    // `2026-12-03T03:41:15.123Z `, then the line.
    let (stamp, rest) = plain.split_at(25);
    let shape: String = stamp
        .chars()
        .map(|c| if c.is_ascii_digit() { '9' } else { c })
        .collect();
    assert_eq!(shape, "9999-99-99T99:99:99.999Z ", "{line:?}");
    assert!(rest.contains("started: model reactor"), "{line:?}");
    // Into a pipe: the line starts with `echod: `.
    let stderr = one_echo_then_stop(&[]);
    assert!(stderr.starts_with("echod: started: "), "{stderr:?}");
}
