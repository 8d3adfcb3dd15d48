//! What only `--model uring` has: a receive ring of `--uring-buffers`
//! buffers shared by every connection, and a startup that can fail where
//! io_uring is blocked. The ring running dry must lose and stall nothing;
//! a client that never reads must not hold the ring or grow the server;
//! and the flags it has, and those it refuses, are one line each.
//! (Fairness against a flooding connection is the every-model test in
//! backpressure.rs, run here also with a 4-buffer ring.)
#![cfg(target_os = "linux")] // io_uring; /proc for RSS

use crate::util;

use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use util::non_reader::NonReader;
use util::{
    assert_exits, assert_one_error_line, assert_usage_error, connect, deny_io_uring, echo_all,
    pattern, per_model, ping, run_command, Server, IO_TIMEOUT,
};

/// `clients` connections at once, each pushing `each` bytes of its own
/// pattern in 64 KiB writes while reading its echo back: every byte must
/// come back, in order, with no read waiting longer than the helpers'
/// 20 s timeout (a stalled recv fails it).
fn all_echo_exactly_through_a_small_ring(spec: &str) {
    const CLIENTS: usize = 20;
    const EACH: usize = 1 << 20;
    let server = Server::model(spec);
    let addr = server.addr();
    let t = Instant::now();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|i| {
            thread::spawn(move || {
                let data = pattern(i as u64 + 1, EACH);
                let got = echo_all(connect(addr), data.clone(), 64 << 10);
                let at = got.iter().zip(&data).position(|(a, b)| a != b);
                (i, got.len(), at)
            })
        })
        .collect();
    for c in clients {
        let (i, len, at) = c.join().expect("client thread");
        assert_eq!(len, EACH, "{spec}: client {i}: echo length");
        assert_eq!(at, None, "{spec}: client {i}: first differing byte");
    }
    // Bounded in time as a whole too, not just read by read.
    let took = t.elapsed();
    assert!(took < Duration::from_secs(60), "{spec}: took {took:?}");
}

per_model!(all_echo_exactly_through_a_small_ring:
    one_buffer = "uring --uring-buffers 1",
    two_512_byte_buffers = "uring --uring-buffers 2 --max-buffer 512");

/// With a 4-buffer ring and `--max-buffer 64K`, one client sends 16 MiB
/// and reads nothing, until the server holds echo it cannot deliver;
/// meanwhile 10 others each do 100 ping-pongs of 64 B, all within 10 s,
/// and the server's RSS grows by far less than the megabytes a server
/// buffering without limit would have taken from the non-reader. Then
/// SIGTERM: the echo held for the non-reader comes back whole.
#[test]
fn a_client_that_never_reads_does_not_hold_the_ring() {
    const PINGERS: usize = 10;
    const ROUNDS: usize = 100;
    const BOUND: Duration = Duration::from_secs(10);
    /// The ring (4 x 64 KiB), one --max-buffer of pending echo, what one
    /// turn may add past it, and allocator slack: well under the ~11 MiB
    /// of the non-reader's 16 MiB that its socket buffers cannot hold.
    const GROWTH_KIB: u64 = 4 << 10;
    let mut server = Server::model("uring --uring-buffers 4 --max-buffer 64K");
    let addr = server.addr();
    let before = server.rss_kib();
    // Returns once the server has unsent echo and unread input for it.
    let non_reader = NonReader::start(&server, 17);
    let t = Instant::now();
    let pingers: Vec<_> = (0..PINGERS)
        .map(|i| {
            thread::spawn(move || {
                let mut s = connect(addr);
                for round in 0..ROUNDS {
                    let msg = pattern((i * ROUNDS + round) as u64, 64);
                    ping(&mut s, &msg);
                }
            })
        })
        .collect();
    for p in pingers {
        p.join().expect("a ping-pong client failed");
    }
    let took = t.elapsed();
    assert!(
        took < BOUND,
        "{PINGERS} x {ROUNDS} ping-pongs took {took:?} beside a non-reader"
    );
    let growth = server.peak_rss_kib().saturating_sub(before);
    assert!(
        growth < GROWTH_KIB,
        "RSS grew {growth} KiB with a non-reader; bound {GROWTH_KIB} KiB"
    );
    // The echo held for the non-reader is flushed by the drain, whole.
    server.signal(libc::SIGTERM);
    non_reader.read_drained_echo("uring --uring-buffers 4", true);
    assert_exits(&mut server, IO_TIMEOUT, 0, "uring --uring-buffers 4");
}

/// Where a seccomp filter denies `io_uring_setup` (Docker's default
/// profile does), `--model uring` exits 2 before listening, with one line
/// that names the model and says what blocked it.
#[test]
fn startup_fails_in_one_line_where_seccomp_blocks_io_uring() {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_echod"));
    cmd.args(["--model", "uring", "--listen", "127.0.0.1:0"]);
    deny_io_uring(&mut cmd);
    let r = run_command(cmd);
    assert_eq!(r.status.code(), Some(2), "status; stderr {:?}", r.stderr);
    assert!(
        !r.stdout.contains("listening on"),
        "listened anyway: {:?}",
        r.stdout
    );
    let lines: Vec<&str> = r.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "want one stderr line: {:?}", r.stderr);
    for needle in ["echod: --model uring: ", "blocked", "seccomp"] {
        assert!(lines[0].contains(needle), "no {needle:?} in {:?}", lines[0]);
    }
    assert!(!r.stderr.contains("panicked"), "{:?}", r.stderr);
}

/// The filter denies io_uring only: another model starts under it.
#[test]
fn the_seccomp_filter_leaves_the_reactor_alone() {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_echod"));
    cmd.args(["--model", "reactor", "--listen", "127.0.0.1:0"]);
    deny_io_uring(&mut cmd);
    let server = Server::spawn(cmd, 1);
    ping(&mut connect(server.addr()), b"no io_uring needed");
}

/// `--uring-buffers` must be a power of two from 1 to 32768.
#[test]
fn bad_uring_buffers_are_one_line_naming_the_flag() {
    for (value, why) in [
        ("3", "must be a power of two"),
        ("0", "must be a power of two"),
        ("65536", "must be at most 32768"),
        ("-1", "must not be negative"),
    ] {
        assert_one_error_line(
            &["--model", "uring", "--uring-buffers", value],
            &[&format!("--uring-buffers {value}: "), why],
        );
    }
}

/// The ring's flag with another model, and the other models' flags with
/// this one, are refused in one line naming both.
#[test]
fn flags_of_other_models_are_refused() {
    assert_one_error_line(
        &["--uring-buffers", "8", "--model", "reactor"],
        &["--uring-buffers 8", "--model reactor"],
    );
    for (flags, flag) in [
        (&["--threads", "2"][..], "--threads 2"),
        (&["--metrics", "127.0.0.1:0"], "--metrics 127.0.0.1:0"),
        (&["--pin"], "--pin"),
        (&["--splice", "always"], "--splice always"),
    ] {
        let mut args = vec!["--model", "uring", "--listen", "127.0.0.1:0"];
        args.extend_from_slice(flags);
        assert_one_error_line(&args, &[flag, "not --model uring"]);
    }
    // The largest ring is accepted, and serves.
    let server = Server::model("uring --uring-buffers 32768 --max-buffer 512");
    ping(&mut connect(server.addr()), b"a big ring");
    assert_usage_error(&["--uring-buffers", "x"], "--uring-buffers");
}
