//! Connection limits: `--max-conns` closes connections beyond the limit at
//! once without disturbing the ones being served, and `--idle-timeout`
//! closes quiet connections but never busy ones.

use crate::util;

use std::io::{ErrorKind, Read};
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

use util::{connect, per_model, ping, probe, wait_until, Outcome, Server, IO_TIMEOUT};

/// With N connections served, the next is closed at once, the N carry on,
/// and closing one of them makes room for a new one.
fn max_conns_is_enforced_and_frees_up(model: &str) {
    const N: usize = 3;
    let server = Server::start(&["--model", model, "--max-conns", "3"]);
    let addr = server.addr();
    let mut served: Vec<TcpStream> = (0..N)
        .map(|i| {
            let mut c = connect(addr);
            ping(&mut c, format!("served {i}").as_bytes());
            c
        })
        .collect();

    let mut extra = connect(addr);
    assert_eq!(
        probe(&mut extra, b"one too many", IO_TIMEOUT),
        Outcome::Closed,
        "{model}: connection N+1 must be closed, not served or left waiting"
    );
    for (i, c) in served.iter_mut().enumerate() {
        ping(c, format!("still served {i}").as_bytes());
    }

    // The server learns of the close asynchronously, so a connection made
    // right after it may still be refused: retry until one is served.
    drop(served.pop());
    let mut fresh = None;
    let got_in = wait_until(IO_TIMEOUT, || {
        let mut c = connect(addr);
        let served = probe(&mut c, b"room again?", IO_TIMEOUT) == Outcome::Echoed;
        if served {
            fresh = Some(c);
        }
        served
    });
    assert!(
        got_in,
        "{model}: no new connection served after one of N closed"
    );
    served.push(fresh.unwrap());

    // Full again: the limit still holds for the next one.
    let mut extra = connect(addr);
    assert_eq!(
        probe(&mut extra, b"full again", IO_TIMEOUT),
        Outcome::Closed,
        "{model}: limit not enforced after a slot was reused"
    );
    for c in &mut served {
        ping(c, b"last");
    }
}

per_model!(max_conns_is_enforced_and_frees_up: reactor, threads, tokio, #[cfg(target_os = "linux")] uring);

/// With `--idle-timeout 500ms`, a silent connection is closed while one
/// that pings every 100 ms for well over twice the timeout stays open.
fn idle_timeout_closes_only_quiet_connections(model: &str) {
    const IDLE: Duration = Duration::from_millis(500);
    let server = Server::start(&["--model", model, "--idle-timeout", "500ms"]);
    let addr = server.addr();
    let mut quiet = connect(addr);
    ping(&mut quiet, b"then silence");
    let mut busy = connect(addr);

    // The pauses here are the traffic pattern under test, not a wait for
    // the server: a client that talks every 100 ms is never idle for 500.
    let start = Instant::now();
    let mut n = 0;
    while start.elapsed() < IDLE * 5 / 2 {
        ping(&mut busy, format!("tick {n}").as_bytes());
        n += 1;
        thread::sleep(Duration::from_millis(100));
    }

    // By now the quiet one has been idle for > 2.5x the timeout: it must
    // read as closed, without waiting anywhere near the I/O timeout.
    let t = Instant::now();
    assert_eq!(
        probe(&mut quiet, b"are you there?", Duration::from_secs(5)),
        Outcome::Closed,
        "{model}: idle connection not closed"
    );
    assert!(t.elapsed() < Duration::from_secs(5));
    ping(&mut busy, b"still here");
}

per_model!(idle_timeout_closes_only_quiet_connections: reactor, threads, tokio, #[cfg(target_os = "linux")] uring);

/// Without `--idle-timeout`, reads with a 1 s timeout on a connection that
/// has nothing to say: the read must time out, not see EOF or a reset.
fn stays_open_for_a_second(model: &str) {
    let server = Server::model(model);
    let mut c = connect(server.addr());
    ping(&mut c, b"hello");
    c.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
    let mut buf = [0u8; 16];
    match c.read(&mut buf) {
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
        other => panic!("{model}: idle connection ended without --idle-timeout: {other:?}"),
    }
    c.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    ping(&mut c, b"still open");
}

per_model!(stays_open_for_a_second: reactor, threads, tokio, #[cfg(target_os = "linux")] uring);
