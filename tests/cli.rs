//! The command line as a user meets it: `--help` documents every flag and
//! its default, bad input fails with status 2 and exactly one line that
//! names the flag, a busy port names the address, and several `--listen`
//! flags each announce a real port.

mod util;

use std::io::Read;
use std::net::{SocketAddr, TcpListener};
use std::process::{Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use util::{ping, Server, IO_TIMEOUT};

/// What one finished run of the binary left behind.
struct Run {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

/// Runs echod with `args` to completion, bounded in time: a run that does
/// not exit (say, because bad input was accepted and it started serving)
/// is killed and fails the test. Local helper: `Server` expects a daemon
/// that starts, these runs are expected to end.
fn run(args: &[&str]) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_echod"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn echod");
    // Drain both pipes on threads so a chatty child can never block.
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out = thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let err = thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let end = Instant::now() + IO_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if Instant::now() >= end {
            let _ = child.kill();
            let _ = child.wait();
            panic!("echod {args:?} did not exit within {IO_TIMEOUT:?}");
        }
        thread::sleep(Duration::from_millis(10));
    };
    Run {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

/// The usage-error contract: status 2, silence on stdout, one stderr line
/// starting `echod: ` that contains `needle` (the flag or address), and no
/// panic.
fn assert_usage_error(args: &[&str], needle: &str) {
    let r = run(args);
    assert_eq!(
        r.status.code(),
        Some(2),
        "{args:?}: status, stderr {:?}",
        r.stderr
    );
    assert_eq!(r.stdout, "", "{args:?}: stdout must stay empty");
    let lines: Vec<&str> = r.stderr.lines().collect();
    assert_eq!(
        lines.len(),
        1,
        "{args:?}: want one stderr line, got {:?}",
        r.stderr
    );
    assert!(
        lines[0].starts_with("echod: "),
        "{args:?}: line lacks the `echod: ` prefix: {:?}",
        lines[0]
    );
    assert!(
        lines[0].contains(needle),
        "{args:?}: line does not name {needle:?}: {:?}",
        lines[0]
    );
    assert!(
        !r.stderr.contains("panicked"),
        "{args:?}: panicked: {:?}",
        r.stderr
    );
}

/// The part of `--help` that documents `flag`: from its line up to the
/// next flag's line.
fn section<'a>(help: &'a str, flag: &str) -> &'a str {
    let at = help
        .find(&format!("      {flag}"))
        .unwrap_or_else(|| panic!("{flag} not in --help:\n{help}"));
    let rest = &help[at..];
    let end = rest[1..].find("\n      -").map_or(rest.len(), |i| i + 1);
    &rest[..end]
}

#[test]
fn help_lists_every_flag_with_its_default_and_exits_zero() {
    let r = run(&["--help"]);
    assert_eq!(r.status.code(), Some(0), "stderr: {:?}", r.stderr);
    assert_eq!(r.stderr, "", "help goes to stdout only");
    let help = &r.stdout;
    for flag in [
        "--model",
        "--listen",
        "--backlog",
        "--no-nodelay",
        "--max-conns",
        "--max-buffer",
        "--idle-timeout",
        "--shutdown-timeout",
    ] {
        assert!(
            help.contains(flag),
            "--help does not mention {flag}:\n{help}"
        );
    }
    // Each default must sit in its own flag's section, not merely
    // somewhere in the text.
    for (flag, default) in [
        ("--model", "[default: reactor]"),
        ("--listen", "[default: 127.0.0.1:7007]"),
        ("--backlog", "[default: 1024]"),
        ("--max-conns", "[default: 0]"),
        ("--max-buffer", "[default: 64K]"),
        ("--shutdown-timeout", "[default: 5s]"),
    ] {
        let text = section(help, flag);
        assert!(
            text.contains(default),
            "{flag} should show {default}:\n{text}"
        );
    }
    // Flags without a default must not claim one.
    for flag in ["--no-nodelay", "--idle-timeout"] {
        let text = section(help, flag);
        assert!(
            !text.contains("[default:"),
            "{flag} claims a default:\n{text}"
        );
    }
    assert!(!help.contains("panicked"));
}

#[test]
fn version_prints_name_and_version_and_exits_zero() {
    let r = run(&["--version"]);
    assert_eq!(r.status.code(), Some(0), "stderr: {:?}", r.stderr);
    assert_eq!(
        r.stdout.trim(),
        format!("echod {}", env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(r.stderr, "");
}

#[test]
fn bad_arguments_exit_2_with_one_line_naming_the_flag() {
    let cases: &[(&[&str], &str)] = &[
        (&["--bogus"], "--bogus"),
        (&["--listen", "nope"], "--listen"),
        (&["--max-buffer", "1"], "--max-buffer"),
        (&["--max-buffer", "10X"], "--max-buffer"),
        (&["--max-buffer", "100M"], "--max-buffer"),
        (&["--idle-timeout", "0s"], "--idle-timeout"),
        (&["--idle-timeout", "soon"], "--idle-timeout"),
        (&["--shutdown-timeout", "0ms"], "--shutdown-timeout"),
        (&["--model", "bogus"], "--model"),
        (&["--backlog", "0"], "--backlog"),
        (&["--max-conns", "many"], "--max-conns"),
    ];
    for (args, needle) in cases {
        assert_usage_error(args, needle);
    }
}

#[test]
fn busy_port_exits_2_naming_the_address_in_use() {
    let first = Server::start(&[]);
    let addr = first.addr().to_string();
    let r = run(&["--listen", &addr]);
    assert_eq!(r.status.code(), Some(2), "stderr: {:?}", r.stderr);
    assert_eq!(r.stdout, "", "nothing may be announced when a bind fails");
    let lines: Vec<&str> = r.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "want one stderr line, got {:?}", r.stderr);
    assert!(lines[0].starts_with("echod: "), "{:?}", lines[0]);
    assert!(
        lines[0].contains(&addr),
        "does not name {addr}: {:?}",
        lines[0]
    );
    assert!(
        lines[0].contains("in use"),
        "does not say in use: {:?}",
        lines[0]
    );
    assert!(!r.stderr.contains("panicked"));
}

#[test]
fn busy_second_listener_announces_nothing() {
    // All or nothing: the first address binds fine, the second is taken,
    // and no `listening on` line may have gone out for the first.
    let first = Server::start(&[]);
    let addr = first.addr().to_string();
    let r = run(&["--listen", "127.0.0.1:0", "--listen", &addr]);
    assert_eq!(r.status.code(), Some(2), "stderr: {:?}", r.stderr);
    assert_eq!(r.stdout, "");
    assert_eq!(r.stderr.lines().count(), 1, "{:?}", r.stderr);
    assert!(
        r.stderr.contains(&addr) && r.stderr.contains("in use"),
        "{:?}",
        r.stderr
    );
}

/// True when this machine can bind IPv6 loopback.
fn ipv6_loopback() -> bool {
    TcpListener::bind("[::1]:0").is_ok()
}

#[test]
fn every_listen_flag_announces_its_own_real_port_and_serves() {
    let mut args = vec!["--listen", "127.0.0.1:0", "--listen", "127.0.0.1:0"];
    if ipv6_loopback() {
        args.extend(["--listen", "[::1]:0"]);
    }
    let server = Server::start(&args);
    let addrs: Vec<SocketAddr> = server.addrs().to_vec();
    assert_eq!(addrs.len(), args.len() / 2, "one line per listener");
    for (i, addr) in addrs.iter().enumerate() {
        assert_ne!(addr.port(), 0, "listener {i} announced port 0");
        let want: SocketAddr = args[2 * i + 1].parse().unwrap();
        assert_eq!(addr.ip(), want.ip(), "listener {i} in --listen order");
        let mut c = util::connect(*addr);
        ping(&mut c, format!("hello {i}").as_bytes());
    }
    assert_ne!(addrs[0].port(), addrs[1].port(), "two sockets, two ports");
}

#[test]
fn default_listen_address_is_loopback_7007() {
    // From the help text: binding 7007 for real could collide with a
    // daemon someone is running on this machine.
    let r = run(&["--help"]);
    let text = section(&r.stdout, "--listen");
    assert!(text.contains("[default: 127.0.0.1:7007]"), "{text}");
}
