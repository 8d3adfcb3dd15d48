//! `loadgen talk` over real sockets: TCP against echod, `udp:` and `unix:`
//! against the small echo servers below (echod serves neither yet).

use crate::util;

use std::io::{Read, Write};
use std::net::{SocketAddr, UdpSocket};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::process::{Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use util::{loadgen, loadgen_cmd, stderr, took_under, wait_output, Behaviour, Echod, TestServer};

const LIMIT: Duration = Duration::from_secs(30);

/// `loadgen talk ARGS` with `input` piped in (then closed).
fn talk(args: &[&str], input: &[u8]) -> Output {
    let mut full = vec!["talk"];
    full.extend_from_slice(args);
    let mut child = loadgen_cmd(&full)
        .stdin(Stdio::piped())
        .spawn()
        .expect("spawn loadgen talk");
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    // A writer of its own: talk's output is read while input still flows.
    std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    wait_output(child, &full, LIMIT)
}

/// Asserts a failure of `code` reported as exactly one line on stderr
/// containing `want`.
fn assert_one_line_error(out: &Output, code: i32, want: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(code), "stderr: {err}");
    assert_eq!(err.lines().count(), 1, "not one line: {err}");
    assert!(err.contains(want), "{err:?} lacks {want:?}");
}

/// A UDP echo server on 127.0.0.1; every datagram it got is also sent on
/// the returned channel. With `answer` false it replies to nothing.
fn udp_echo(answer: bool) -> (SocketAddr, mpsc::Receiver<Vec<u8>>) {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = sock.local_addr().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        while let Ok((n, from)) = sock.recv_from(&mut buf) {
            let _ = tx.send(buf[..n].to_vec());
            if answer {
                let _ = sock.send_to(&buf[..n], from);
            }
        }
    });
    (addr, rx)
}

/// A Unix stream echo server in a fresh directory; returns its path.
fn unix_echo(name: &str) -> PathBuf {
    let path = util::scratch(name).join("echo.sock");
    let listener = UnixListener::bind(&path).unwrap();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            std::thread::spawn(move || {
                let mut buf = vec![0u8; 64 * 1024];
                while let Ok(n @ 1..) = conn.read(&mut buf) {
                    if conn.write_all(&buf[..n]).is_err() {
                        return;
                    }
                }
                let _ = conn.shutdown(std::net::Shutdown::Write);
            });
        }
    });
    path
}

#[test]
fn piped_line_comes_back_and_talk_exits_0() {
    // The point of talk: `echo hi | nc` hangs without -N; this must not.
    let server = Echod::start(&[]);
    let out = talk(&[&server.target()], b"hi\n");
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    assert_eq!(out.stdout, b"hi\n");
    assert!(out.stderr.is_empty(), "{}", stderr(&out));
}

#[test]
fn binary_input_without_trailing_newline_comes_back_byte_exact() {
    let server = Echod::start(&[]);
    let input = b"\0\x01nul\0inside\xff\xfe\r\n\0no newline at the end\0";
    let out = talk(&[&server.target()], input);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    assert_eq!(out.stdout, input);
}

#[test]
fn one_mebibyte_comes_back_byte_exact() {
    let server = Echod::start(&[]);
    let input: Vec<u8> = (0..1u32 << 20).map(|i| (i * 7 + i / 251) as u8).collect();
    let out = talk(&[&server.target()], &input);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    assert_eq!(out.stdout.len(), input.len());
    assert!(out.stdout == input, "the echo differs from the input");
}

#[test]
fn empty_input_exits_0_with_no_output() {
    let server = Echod::start(&[]);
    let out = talk(&[&server.target()], b"");
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    assert!(out.stdout.is_empty() && out.stderr.is_empty());
}

#[test]
fn host_names_resolve() {
    // localhost may resolve to ::1 first; echod listens on 127.0.0.1 only,
    // so every address must be tried.
    let server = Echod::start(&[]);
    let target = format!("localhost:{}", server.addr.port());
    let out = talk(&[&target], b"by name\n");
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    assert_eq!(out.stdout, b"by name\n");
}

#[test]
fn nothing_listening_is_one_cannot_connect_line() {
    let target = util::dead_address().to_string();
    let out = talk(&[&target], b"hi\n");
    assert_one_line_error(&out, 1, &format!("cannot connect to {target}: "));
    assert!(out.stdout.is_empty());
}

#[test]
fn server_closing_before_the_end_of_input_fails() {
    let server = TestServer::start(Behaviour::Truncating { limit: 1000 });
    let input = vec![b'x'; 1 << 20];
    let out = talk(&[&server.target()], &input);
    assert_one_line_error(&out, 1, &server.target());
    assert!(out.stdout.len() <= 1000, "{} bytes", out.stdout.len());
}

#[test]
fn server_echoing_less_than_it_got_fails() {
    // All input is sent before the server closes: only the count shows it.
    let server = TestServer::start(Behaviour::Truncating { limit: 10 });
    let out = talk(&[&server.target()], &[b'y'; 100]);
    assert_one_line_error(&out, 1, &server.target());
    assert_eq!(out.stdout, [b'y'; 10]);
}

#[test]
fn udp_sends_each_line_as_one_datagram_and_prints_the_replies() {
    let (addr, got) = udp_echo(true);
    let target = format!("udp:{addr}");
    let started = Instant::now();
    let out = talk(&[&target, "--wait", "5s"], b"one\ntwo\n\nno newline");
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    assert_eq!(out.stdout, b"one\ntwo\n\nno newline");
    let datagrams: Vec<Vec<u8>> = got.try_iter().collect();
    assert_eq!(
        datagrams,
        [&b"one\n"[..], b"two\n", b"\n", b"no newline"].map(<[u8]>::to_vec)
    );
    took_under(
        started,
        Duration::from_secs(4),
        "every datagram answered: no waiting out --wait",
    );
}

#[test]
fn udp_cuts_long_input_into_the_largest_datagrams() {
    let (addr, got) = udp_echo(true);
    let input = vec![b'z'; 65_507 + 10];
    let out = talk(&[&format!("udp:{addr}")], &input);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    assert_eq!(out.stdout, input);
    let sizes: Vec<usize> = got.try_iter().map(|d| d.len()).collect();
    assert_eq!(sizes, [65_507, 10]);
}

#[test]
fn udp_without_replies_gives_up_after_wait() {
    let (addr, _got) = udp_echo(false);
    let started = Instant::now();
    let out = talk(&[&format!("udp:{addr}"), "--wait", "300ms"], b"a\nb\n");
    let took = started.elapsed();
    assert_one_line_error(&out, 1, "2 of 2 datagrams had no reply within --wait 300ms");
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_secs(10),
        "{took:?}"
    );
}

#[test]
fn udp_port_nobody_listens_on_is_one_line() {
    let addr = UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let target = format!("udp:{addr}");
    let out = talk(&[&target], b"anyone?\n");
    assert_one_line_error(&out, 1, &format!("{target}: nothing listens there"));
}

#[test]
fn unix_socket_echo_is_byte_exact() {
    let path = unix_echo("talk-unix");
    let target = format!("unix:{}", path.display());
    let input: Vec<u8> = (0..300_000u32).map(|i| (i % 256) as u8).collect();
    let out = talk(&[&target], &input);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    assert!(out.stdout == input, "the echo differs from the input");
    // The test server really is a Unix echo server.
    let mut s = UnixStream::connect(&path).unwrap();
    s.write_all(b"ok").unwrap();
    let mut two = [0u8; 2];
    s.read_exact(&mut two).unwrap();
    assert_eq!(&two, b"ok");
}

#[test]
fn missing_unix_socket_is_one_cannot_connect_line() {
    let path = util::scratch("talk-nosock").join("absent.sock");
    let target = format!("unix:{}", path.display());
    let out = talk(&[&target], b"hi\n");
    assert_one_line_error(&out, 1, &format!("cannot connect to {target}: "));
}

#[test]
fn bad_targets_exit_2_naming_talk_and_the_argument() {
    for (arg, why) in [
        ("udp:", "missing :PORT"),
        ("udp:localhost", "missing :PORT"),
        ("unix:", "the path is empty"),
        ("localhost", "missing :PORT"),
        ("127.0.0.1:0", "port 0"),
        ("127.0.0.1:70000", "port 70000"),
    ] {
        let out = loadgen(&["talk", arg], LIMIT);
        assert_one_line_error(&out, 2, &format!("talk {arg}: {why}"));
    }
}

#[test]
fn flags_for_another_kind_of_target_exit_2() {
    for (args, want) in [
        (&["--wait", "2s", "127.0.0.1:7"][..], "--wait"),
        (&["--timeout", "2s", "unix:/tmp/x"][..], "--timeout"),
        (&["--wait", "0s", "udp:127.0.0.1:7"][..], "--wait 0s"),
    ] {
        let mut full = vec!["talk"];
        full.extend_from_slice(args);
        let out = loadgen(&full, LIMIT);
        assert_one_line_error(&out, 2, want);
    }
}

// Regression: `talk --target ADDR`, natural after run and check, which
// take --target, got clap's advice to write `-- --target`, which sends
// the flag as the address.
#[test]
fn talk_with_target_flag_is_told_to_give_the_address_alone() {
    for args in [
        &["talk", "--target", "127.0.0.1:7"][..],
        &["talk", "--target=127.0.0.1:7"][..],
    ] {
        let out = loadgen(args, LIMIT);
        assert_one_line_error(
            &out,
            2,
            "talk takes the address without --target: loadgen talk ADDR",
        );
        assert!(!stderr(&out).contains("-- --target"), "{}", stderr(&out));
    }
}
