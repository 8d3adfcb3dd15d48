//! Regression tests, each named after the bug it pins down.

use crate::util;

use std::time::Duration;
use util::*;

// Bug: the `listening on` line was printed before the signal handlers were
// installed, so a SIGTERM sent as soon as a supervisor (or test) saw the
// line could kill the daemon with the default action instead of draining.
// Found while writing the thread-count checks in tests/it/faults.rs.
#[test]
fn sigterm_right_after_the_listening_line_drains_instead_of_killing() {
    for model in MODELS {
        for _ in 0..5 {
            let mut server = Server::start(&["--model", model]);
            server.signal(libc::SIGTERM);
            let status = server
                .wait_exit(Duration::from_secs(20))
                .unwrap_or_else(|| panic!("{model}: no exit after SIGTERM"));
            assert_eq!(
                status.code(),
                Some(0),
                "{model}: killed by the signal instead of draining: {status:?}"
            );
        }
    }
}

/// The line every model logs for a SIGHUP it ignores.
const SIGHUP_LINE: &str = "echod: SIGHUP ignored (no configuration to reload)";

// Bug: `--idle-timeout 500000000000y` (or `18446744073709551615s`)
// was accepted, and the first connection panicked with "overflow when
// adding duration to instant": exit 101, a backtrace, every other client
// gone. Now refused at parse time, naming the flag and the limit.
#[test]
fn huge_idle_timeout_panicked_on_the_first_connection() {
    for model in MODELS {
        for value in ["500000000000y", "18446744073709551615s"] {
            let args = ["--model", model, "--idle-timeout", value];
            assert_usage_error(&args, "--idle-timeout");
            assert_usage_error(&args, "must be at most 365d");
        }
    }
}

// Bug: `--shutdown-timeout 500000000000y` then SIGTERM panicked
// (reactor and both blocking models) instead of exiting 0.
#[test]
fn huge_shutdown_timeout_panicked_at_sigterm() {
    for model in MODELS {
        let args = ["--model", model, "--shutdown-timeout", "500000000000y"];
        assert_usage_error(&args, "--shutdown-timeout");
        assert_usage_error(&args, "must be at most 365d");
    }
}

// The other half of the timeout overflow fix: the largest timeouts the CLI
// accepts arm real deadlines on connect and at SIGTERM, and every model
// serves, then drains an idle client and exits 0 without a panic. (Values
// beyond what an Instant holds are covered in-process: see the
// `duration_max` unit tests in src/reactor and src/models/blocking.)
#[test]
fn largest_accepted_timeouts_serve_and_exit_0_on_sigterm() {
    for model in MODELS {
        let mut server = Server::model(&format!(
            "{model} --idle-timeout 365d --shutdown-timeout 365d"
        ));
        let mut client = connect(server.addr());
        ping(&mut client, b"deadline a year away");
        server.signal(libc::SIGTERM);
        let status = server
            .wait_exit(IO_TIMEOUT)
            .unwrap_or_else(|| panic!("{model}: no exit after SIGTERM"));
        let stderr = server.stderr();
        assert_eq!(status.code(), Some(0), "{model}: {status:?}, {stderr:?}");
        assert!(!stderr.contains("panicked"), "{model}: {stderr:?}");
    }
}

// Bug: `--max-buffer -5`, `--max-conns -1`, `--backlog -1`,
// `--idle-timeout -1s` printed "unexpected argument '-5' found", which does
// not say which flag the value was for.
#[test]
fn negative_numbers_were_called_unexpected_arguments() {
    for (flag, value) in [
        ("--max-buffer", "-5"),
        ("--max-conns", "-1"),
        ("--backlog", "-1"),
        ("--idle-timeout", "-1s"),
        ("--shutdown-timeout", "-1s"),
        ("--threads", "-2"),
    ] {
        let r = run(&[flag, value]);
        assert_eq!(r.status.code(), Some(2), "{flag} {value}: {:?}", r.stderr);
        assert_eq!(
            r.stderr,
            format!("echod: {flag} {value}: must not be negative (see --help)\n")
        );
    }
}

// Bug: a 100 kB argument came back as one 100 kB stderr line,
// in our messages and in clap's alike.
#[test]
fn a_100_kb_argument_came_back_as_a_100_kb_stderr_line() {
    let huge = "x".repeat(100_000);
    let unknown = format!("--{huge}");
    let glued = format!("--listen={huge}");
    for args in [
        vec![unknown.as_str()],
        vec!["--listen", &huge],
        vec![glued.as_str()],
        vec!["--model", &huge],
        vec!["--max-buffer", &huge],
        vec!["--idle-timeout", &huge],
    ] {
        let what = format!("{:?}", args[0].get(..20).unwrap_or(args[0]));
        let r = run(&args);
        let err = &r.stderr;
        assert_eq!(r.status.code(), Some(2), "{what}: {:?}", r.status);
        assert_eq!(err.lines().count(), 1, "{what}: not one line");
        assert!(err.len() < 300, "{what}: {} bytes: {err}", err.len());
        let marked = err.contains("… (10000");
        assert!(
            marked,
            "{what}: the cut does not give the full length: {err}"
        );
    }
}

// Bug: SIGHUP killed the daemon silently (the default action),
// dropping every client. echod has no configuration to reload, so every
// model logs one line, ignores it, and goes on serving; SIGTERM still
// drains and exits 0.
#[test]
fn sighup_killed_the_daemon_silently() {
    for &model in MODELS {
        let mut server = Server::start(&["--model", model]);
        let stderr = server.stderr_lines();
        let mut client = connect(server.addr());
        ping(&mut client, b"before");
        server.signal(libc::SIGHUP);
        // The line is written once the signal is handled: from here on a
        // default-action death would already have happened.
        let line = stderr
            .recv_timeout(IO_TIMEOUT)
            .unwrap_or_else(|_| panic!("{model}: no log line after SIGHUP"));
        assert_eq!(line, SIGHUP_LINE, "{model}");
        assert!(server.alive(), "{model}: died of SIGHUP");
        ping(&mut client, b"after, same connection");
        if model != "iterative" {
            // (iterative would queue a second client behind the first)
            ping(&mut connect(server.addr()), b"after, new connection");
        }
        server.signal(libc::SIGTERM);
        let status = server
            .wait_exit(IO_TIMEOUT)
            .unwrap_or_else(|| panic!("{model}: no exit after SIGTERM"));
        assert_eq!(status.code(), Some(0), "{model}: {status:?}");
        let rest: Vec<String> = stderr.try_iter().collect();
        assert!(rest.is_empty(), "{model}: more on stderr: {rest:?}");
    }
}

/// A port on loopback that nothing listened on a moment ago.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// [`refused_with`] for one `--FLAG VALUE` (one string) refused with
/// `FLAG VALUE: WHY (see --help)`.
fn refused_because(flag: &str, why: &str) {
    let args: Vec<&str> = flag.split_whitespace().collect();
    refused_with(&args, &format!("{flag}: {why} (see --help)"));
}

/// Status 2 and exactly `line` on stderr, nothing on stdout.
fn refused_with(args: &[&str], line: &str) {
    let r = run(args);
    assert_eq!(r.status.code(), Some(2), "{args:?}: {:?}", r.stderr);
    assert_eq!(r.stdout, "", "{args:?}");
    assert_eq!(r.stderr, format!("echod: {line}\n"), "{args:?}");
}

// Bug: `--listen X --metrics X`, or one `--listen` twice, failed with
// "Address already in use", and `ss -ltnp` then showed nobody on the port:
// echod itself was the conflict, so the message sent the operator hunting
// for a process that did not exist.
#[test]
fn echod_colliding_with_itself_was_blamed_on_a_port_in_use() {
    let p = free_port();
    let same = "the same address twice, so echod would collide with itself \
                (give one of them another address)";
    let tcp = format!("127.0.0.1:{p}");
    refused_with(
        &["--listen", &tcp, "--listen", &tcp],
        &format!("--listen tcp:{tcp} and --listen tcp:{tcp}: {same}"),
    );
    refused_with(
        &["--listen", &tcp, "--metrics", &tcp],
        &format!("--listen tcp:{tcp} and --metrics {tcp}: {same}"),
    );
    // A wildcard covers every address of its family on its port.
    refused_with(
        &["--listen", &format!("0.0.0.0:{p}"), "--metrics", &tcp],
        &format!(
            "--listen tcp:0.0.0.0:{p} and --metrics {tcp}: 0.0.0.0 covers 127.0.0.1 \
             on port {p}, so echod would collide with itself (give one of them another address)"
        ),
    );
    refused_with(
        &[
            "--listen",
            &format!("udp:{tcp}"),
            "--listen",
            &format!("udp:0.0.0.0:{p}"),
        ],
        &format!(
            "--listen udp:{tcp} and --listen udp:0.0.0.0:{p}: 0.0.0.0 covers 127.0.0.1 \
             on port {p}, so echod would collide with itself (give one of them another address)"
        ),
    );
}

// Bug: `--listen 127.0.0.1:99999` and `--listen 127.0.0.1` both said only
// "not an address", though the address was fine and the port was the
// problem.
#[test]
fn a_bad_or_missing_port_was_called_not_an_address() {
    for (flag, why) in [
        ("--listen 127.0.0.1:99999", "port out of range (0-65535)"),
        ("--listen udp:[::1]:65536", "port out of range (0-65535)"),
        ("--listen 127.0.0.1", "missing :PORT"),
        ("--listen localhost", "missing :PORT"),
        ("--metrics 127.0.0.1", "missing :PORT"),
    ] {
        refused_because(flag, why);
    }
}

// Bug: `--listen 7007` (a port with no address) and `--listen ::1:7` (IPv6
// without brackets) said only "not an address", which names neither the
// mistake nor what to write instead.
#[test]
fn a_port_alone_or_unbracketed_ipv6_was_called_not_an_address() {
    for (flag, why) in [
        (
            "--listen 7007",
            "missing address: did you mean 127.0.0.1:7007 or 0.0.0.0:7007?",
        ),
        (
            "--listen udp::7",
            "missing address: did you mean udp:127.0.0.1:7 or udp:0.0.0.0:7?",
        ),
        ("--listen ::1:7", "IPv6 addresses need brackets: [::1]:7"),
        (
            "--listen udp:fe80::1:7007",
            "IPv6 addresses need brackets: udp:[fe80::1]:7007",
        ),
        (
            "--listen ::",
            "IPv6 addresses need brackets and a port: [::]:PORT",
        ),
        (
            "--metrics 9100",
            "missing address: did you mean 127.0.0.1:9100 or 0.0.0.0:9100?",
        ),
        (
            "--metrics ::1:9100",
            "IPv6 addresses need brackets: [::1]:9100",
        ),
    ] {
        refused_because(flag, why);
    }
}

// Bug: `--metrics localhost:9100` said "not an address", though
// `--listen localhost:9100` is accepted: the line did not say that
// `--metrics` takes an IP address only.
#[test]
fn a_host_name_for_metrics_was_called_not_an_address() {
    for value in ["localhost:9100", "localhost"] {
        refused_with(
            &["--metrics", value],
            &format!(
                "--metrics {value}: must be an IP address, not a host name \
                 (try 127.0.0.1:9100 or [::1]:9100) (see --help)"
            ),
        );
    }
}

// Bug: a listener that could not be bound printed only the OS's words
// ("Address already in use", "Cannot assign requested address"), which say
// what failed but not where to look: the line now says who holds the port
// and how to find them, or that the address is not this machine's.
#[cfg(target_os = "linux")]
#[test]
fn a_failed_bind_said_only_the_os_error() {
    let in_use = |ss: &str, port: u16| {
        format!(
            "Address already in use (os error 98); \
             another process listens there (ss {ss} 'sport = :{port}' shows which)"
        )
    };
    let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let p = tcp.local_addr().unwrap().port();
    let taken = format!("127.0.0.1:{p}");
    let why = in_use("-ltnp", p);
    refused_with(
        &["--listen", &taken],
        &format!("cannot listen on tcp://{taken}: {why}"),
    );
    refused_with(
        &["--listen", "127.0.0.1:0", "--metrics", &taken],
        &format!("--metrics {taken}: cannot listen: {why}"),
    );
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let q = udp.local_addr().unwrap().port();
    refused_with(
        &["--listen", &format!("udp:127.0.0.1:{q}")],
        &format!(
            "cannot listen on udp://127.0.0.1:{q}: {}",
            in_use("-lunp", q)
        ),
    );
    // 192.0.2.0/24 is reserved for documentation: no machine has it.
    refused_with(
        &["--listen", "192.0.2.1:0"],
        "cannot listen on tcp://192.0.2.1:0: Cannot assign requested address (os error 99); \
         no interface of this machine has that address (ip address lists them)",
    );
}

// Bug: folding clap's message into one line dropped its tip, so `--listn`
// no longer said "a similar argument exists: '--listen'".
#[test]
fn a_misspelt_flag_lost_clap_suggestion() {
    refused_with(
        &["--listn", "127.0.0.1:0"],
        "unexpected argument '--listn' found; a similar argument exists: '--listen' (see --help)",
    );
}
