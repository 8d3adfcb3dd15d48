//! Running out of file descriptors: with RLIMIT_NOFILE lowered to 64, the
//! server must neither die nor spin once `accept` fails with EMFILE, must
//! keep serving the connections it has, and must serve new ones again as
//! soon as descriptors free up. The reactor and uring models shed
//! connections they cannot take (a reserve descriptor lets them accept and
//! close them); the threads and tokio models leave them queued until they
//! can.

use crate::util;

use std::io::ErrorKind;
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use libc::SIGTERM;
use util::{await_echo, connect, per_model, ping, probe, wait_until, Outcome, Server, IO_TIMEOUT};

/// Descriptors the server gets: a few go to stdio, epoll (kqueue), the signal pipe
/// and the listener; the rest (~55) to clients.
const FD_LIMIT: libc::rlim_t = 64;

/// Starts echod with both soft and hard RLIMIT_NOFILE at [`FD_LIMIT`], so
/// its own attempt to raise the soft limit gains nothing.
fn start_with_fd_limit(model: &str) -> Server {
    // `ulimit -n` without -H or -S sets both; `exec` keeps the pid.
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(format!(r#"ulimit -n {FD_LIMIT} && exec "$0" "$@""#))
        .arg(env!("CARGO_BIN_EXE_echod"))
        .args(["--model", model, "--listen", "127.0.0.1:0"]);
    Server::spawn(cmd, 1)
}

/// Opens connections, pinging each, until one is not served. Returns the
/// served ones, the first one that was not, and what became of it.
fn exhaust(addr: SocketAddr, patience: Duration) -> (Vec<TcpStream>, TcpStream, Outcome) {
    let mut served = Vec::new();
    for i in 0..2 * FD_LIMIT {
        let mut c = connect(addr);
        match probe(&mut c, format!("conn {i}").as_bytes(), patience) {
            Outcome::Echoed => served.push(c),
            other => return (served, c, other),
        }
    }
    panic!(
        "{} connections served under a limit of {FD_LIMIT} descriptors",
        served.len()
    );
}

/// CPU the server used over about a second during which a new client
/// connects every 50 ms, as a fraction of one core. The pacing is the
/// load pattern under test, not a wait for the server. `None` off Linux,
/// where another process's CPU time is not in /proc: the clients still
/// arrive, and only the no-spinning check is skipped.
fn cpu_share_while_clients_arrive(server: &Server, extra: &mut Vec<TcpStream>) -> Option<f64> {
    #[cfg(target_os = "linux")]
    let ticks = server.cpu_ticks();
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(1) {
        extra.push(connect(server.addr()));
        thread::sleep(Duration::from_millis(50));
    }
    #[cfg(target_os = "linux")]
    {
        // SAFETY: sysconf has no preconditions.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
        let used = (server.cpu_ticks() - ticks) as f64 / hz;
        Some(used / start.elapsed().as_secs_f64())
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = server;
        None
    }
}

/// Stops the server and returns its stderr.
fn stop(mut server: Server) -> String {
    server.signal(SIGTERM);
    assert!(
        server.wait_exit(IO_TIMEOUT).is_some(),
        "did not stop on SIGTERM"
    );
    server.stderr()
}

/// Starts `model` under the low descriptor limit and uses it up: at least
/// 32 clients served, and the request of the next one, awaited for
/// `patience`, ends `want`. Then clients keep arriving for a second, and
/// the server must not spin meanwhile (no busy loop on accept). Returns the
/// server, the served clients, the one over the limit and the later ones.
fn out_of_fds(model: &str, patience: Duration, want: Outcome) -> OutOfFds {
    let mut server = start_with_fd_limit(model);
    let (served, over, outcome) = exhaust(server.addr(), patience);
    let n = served.len();
    assert!(n >= 32, "{model}: only {n} served under the limit");
    assert_eq!(
        outcome, want,
        "{model}: the first connection over the limit"
    );
    let mut extra = Vec::new();
    if let Some(share) = cpu_share_while_clients_arrive(&server, &mut extra) {
        let percent = share * 100.0;
        assert!(
            share < 0.3,
            "{model}: used {percent:.0}% of a core while out of fds"
        );
    }
    assert!(server.alive(), "{model}: died when out of file descriptors");
    (server, served, over, extra)
}

/// Once descriptors are freed, new connections to `addr` are served again
/// (retried: the close is noticed asynchronously and accepting resumes on
/// a timer).
fn assert_recovers(addr: SocketAddr, model: &str) {
    let recovered = wait_until(Duration::from_secs(15), || {
        let mut c = connect(addr);
        probe(&mut c, b"served again?", Duration::from_secs(3)) == Outcome::Echoed
    });
    assert!(
        recovered,
        "{model}: new connections not served after descriptors freed up"
    );
}

/// What [`out_of_fds`] returns.
type OutOfFds = (Server, Vec<TcpStream>, TcpStream, Vec<TcpStream>);

per_model!(sheds_without_spinning_when_out_of_fds_and_recover:
    reactor, #[cfg(target_os = "linux")] uring);

/// Out of descriptors, `model` sheds new connections (closes them unserved)
/// without spinning, keeps serving its own, and serves new ones again once
/// descriptors free up.
fn sheds_without_spinning_when_out_of_fds_and_recover(model: &str) {
    // The first connection over the limit must be shed.
    let (mut server, mut served, unserved, mut extra) =
        out_of_fds(model, IO_TIMEOUT, Outcome::Closed);
    drop(unserved);
    let addr = server.addr();

    // They are shed (closed without an echo) within the retry backoff,
    // not served and not left hanging.
    for (i, c) in extra.iter_mut().enumerate() {
        let got = probe(c, b"let me in", Duration::from_secs(10));
        assert_eq!(got, Outcome::Closed, "extra client {i} while out of fds");
    }
    drop(extra);
    for (i, c) in served.iter_mut().enumerate() {
        ping(c, format!("still served {i}").as_bytes());
    }

    // Recovery without intervention: free a few descriptors and new
    // connections are served again (the close is noticed asynchronously
    // and accepting resumes on a timer, hence the retries).
    served.truncate(served.len() - 5);
    assert_recovers(addr, model);
    for c in &mut served {
        ping(c, b"after recovery");
    }
    assert!(server.alive());

    let stderr = stop(server);
    let reports = stderr.matches("out of file descriptors").count();
    assert!(reports >= 1, "EMFILE not reported: {stderr:?}");
    // Once per episode, not once per shed connection.
    assert!(reports <= 5, "{reports} EMFILE reports: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

per_model!(wait_without_spinning_when_out_of_fds_and_recover: threads, tokio);

/// Out of descriptors, `model` leaves new connections queued, retries on
/// a backoff without spinning, and serves them once descriptors free up.
fn wait_without_spinning_when_out_of_fds_and_recover(model: &str) {
    // Connections are left queued when out of fds, not shed.
    let (mut server, mut served, mut queued, extra) =
        out_of_fds(model, Duration::from_secs(2), Outcome::Silent);
    let addr = server.addr();
    // `exhaust` numbers its requests; this one's was sent and not answered.
    let request = format!("conn {}", served.len());
    for (i, c) in served.iter_mut().enumerate() {
        ping(c, format!("still served {i}").as_bytes());
    }

    // Free descriptors: the clients queued meanwhile get in line first
    // (closed ones are accepted and finished at once), then the one that
    // was waiting gets the echo of the request it sent before.
    drop(extra);
    served.truncate(served.len() - 5);
    let closed = |k: ErrorKind| matches!(k, ErrorKind::ConnectionReset);
    queued.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    assert_eq!(
        await_echo(&mut queued, request.as_bytes(), closed),
        Outcome::Echoed,
        "{model}: the queued connection was never served after descriptors freed up"
    );
    assert_recovers(addr, model);
    assert!(server.alive());

    let stderr = stop(server);
    assert!(
        stderr.contains("out of file descriptors"),
        "{model}: EMFILE not reported: {stderr:?}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}
