//! The command line as a user meets it: `--help` documents every flag and
//! its default, bad input fails with status 2 and exactly one line that
//! names the flag, a busy port names the address, and several `--listen`
//! flags each announce a real port.

use crate::util;

use std::net::SocketAddr;

use util::{assert_one_error_line, assert_usage_error, ipv6_or_skip, ping, run, Server};

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
        ("--splice", "[default: auto]"),
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

/// `--trace` says what it logs in each model: its help listed only the
/// reactor's steps, so a user of `--model threads --trace`, who sees only
/// accepts and closes, could not tell whether the rest was missing.
#[test]
fn trace_help_says_what_each_model_logs() {
    let help = run(&["--help"]).stdout;
    let text = section(&help, "--trace")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    for needle in [
        "accept, read, partial write",
        "the threads, iterative and tokio models log only accepts and closes",
    ] {
        assert!(text.contains(needle), "{needle:?} not in: {text}");
    }
}

/// Where behaviour differs by platform, `--help` says so in the flag's own
/// section (--pin, the close at shutdown, SO_REUSEPORT spreading,
/// the process_* metrics).
#[test]
fn help_says_where_a_flag_behaves_differently_by_platform() {
    let help = run(&["--help"]).stdout;
    for (flag, needle) in [
        ("--pin", "refused on macOS"),
        ("--shutdown-timeout", "macOS and FreeBSD"),
        ("--threads", "SO_REUSEPORT_LB"),
        ("--metrics", "CPU time and the descriptor limit only"),
    ] {
        let text = section(&help, flag);
        assert!(
            text.contains(needle),
            "{flag} should say {needle:?}:\n{text}"
        );
    }
}

/// Where the OS has no affinity (macOS), `--pin` is refused with one line
/// that names the flag, as its help says.
#[cfg(not(any(target_os = "linux", target_os = "freebsd")))]
#[test]
fn pin_is_refused_where_there_is_no_affinity() {
    assert_usage_error(&["--pin"], "--pin: this OS cannot pin threads to CPUs");
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
        (&["--idle-timeout", "366d"], "--idle-timeout"),
        (&["--shutdown-timeout", "366d"], "--shutdown-timeout"),
        (&["--backlog", "2147483648"], "--backlog"),
        (&["--max-conns", "99999999999999999999999"], "--max-conns"),
        (&["--max-buffer", "-64K"], "--max-buffer"),
        // A flag where a value belongs is that flag's bad value.
        (&["--max-conns", "--listen"], "--max-conns"),
    ];
    for (args, needle) in cases {
        assert_usage_error(args, needle);
    }
}

#[test]
fn largest_timeouts_are_accepted_and_serve() {
    let server = Server::start(&["--idle-timeout", "365d", "--shutdown-timeout", "365d"]);
    let mut c = util::connect(server.addr());
    ping(&mut c, b"a year is fine");
}

/// Newlines, escape sequences and bidi overrides in arguments come back
/// escaped: the message stays one line and cannot repaint a terminal.
#[test]
fn unprintable_arguments_are_escaped_in_the_one_line() {
    for (args, needle) in [
        (&["--listen", "1.2.3.4:5\nfake: line"][..], "--listen"),
        (&["--model", "\u{1b}[2Jthreads"], "--model"),
        (&["--max-conns", "1\u{202e}0"], "--max-conns"),
        (&["--bo\ngus"], "unexpected argument"),
    ] {
        assert_usage_error(args, needle);
        let r = run(args);
        let line = r.stderr.trim_end_matches('\n');
        assert!(
            !line.chars().any(|c| c.is_control() || c == '\u{202e}'),
            "{args:?}: {line:?}"
        );
    }
}

#[test]
fn busy_port_exits_2_naming_the_address_in_use() {
    let first = Server::start(&[]);
    let addr = first.addr().to_string();
    assert_one_error_line(&["--listen", &addr], &[&addr, "in use"]);
}

#[test]
fn busy_second_listener_announces_nothing() {
    // All or nothing: the first address binds fine, the second is taken,
    // and no `listening on` line may have gone out for the first.
    let first = Server::start(&[]);
    let addr = first.addr().to_string();
    assert_one_error_line(
        &["--listen", "127.0.0.1:0", "--listen", &addr],
        &[&addr, "in use"],
    );
}

#[test]
fn every_listen_flag_announces_its_own_real_port_and_serves() {
    let mut args = vec!["--listen", "127.0.0.1:0", "--listen", "127.0.0.1:0"];
    if ipv6_or_skip("cli::every_listen_flag_announces_its_own_real_port_and_serves, [::1]") {
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

/// `--splice` is the reactor's: another model is refused when asked for
/// anything but the default, and a value it does not know names the flag.
#[test]
fn splice_choices_are_checked() {
    for model in util::other_models() {
        for when in ["always", "off"] {
            assert_usage_error(
                &["--model", model, "--splice", when],
                &format!("--splice {when}: only the reactor model splices, not --model {model}"),
            );
        }
    }
    assert_usage_error(&["--splice", "sometimes"], "--splice");
    #[cfg(not(target_os = "linux"))]
    assert_usage_error(&["--splice", "always"], "splice(2) is Linux only");
}

#[test]
fn default_listen_address_is_loopback_7007() {
    // From the help text: binding 7007 for real could collide with a
    // daemon someone is running on this machine.
    let r = run(&["--help"]);
    let text = section(&r.stdout, "--listen");
    assert!(text.contains("[default: 127.0.0.1:7007]"), "{text}");
}

// A build without the `tokio` cargo feature still knows the name (so the
// message can say why), but refuses it before binding anything, naming the
// flag. Runs under `cargo test -p echod --no-default-features`.
#[cfg(not(feature = "tokio"))]
#[test]
fn model_tokio_is_refused_in_a_build_without_the_feature() {
    assert_usage_error(&["--model", "tokio"], "--model tokio");
    assert_usage_error(&["--model", "tokio"], "feature `tokio`");
}

/// `--listen localhost:0` listens on every address the name resolves to
/// (127.0.0.1 and, where /etc/hosts has it, ::1), each announced with its
/// real port and each echoing; over UDP too. A name that does not resolve
/// is one line naming the flag and the value.
#[test]
fn a_host_name_listens_on_every_address_it_resolves_to() {
    use std::net::{IpAddr, ToSocketAddrs, UdpSocket};
    let mut want: Vec<IpAddr> = Vec::new();
    for a in ("localhost", 0).to_socket_addrs().unwrap() {
        if !want.contains(&a.ip()) {
            want.push(a.ip());
        }
    }
    let server = Server::start(&["--listen", "localhost:0", "--listen", "udp:localhost:0"]);
    let ips: Vec<IpAddr> = server.addrs().iter().map(SocketAddr::ip).collect();
    let both: Vec<IpAddr> = want.iter().chain(&want).copied().collect();
    assert_eq!(ips, both, "TCP then UDP, every address of localhost");
    let (tcp, udp) = server.addrs().split_at(want.len());
    for &addr in tcp {
        assert_ne!(addr.port(), 0);
        ping(&mut util::connect(addr), b"by name");
    }
    for &addr in udp {
        let local: SocketAddr = (addr.ip(), 0).into();
        let s = UdpSocket::bind(local).unwrap();
        s.set_read_timeout(Some(util::IO_TIMEOUT)).unwrap();
        s.send_to(b"by name", addr).unwrap();
        let mut buf = [0u8; 16];
        let (n, from) = s.recv_from(&mut buf).unwrap();
        assert_eq!((&buf[..n], from), (&b"by name"[..], addr));
    }
    assert_usage_error(
        &["--listen", "nosuch.invalid:7"],
        "--listen nosuch.invalid:7: cannot resolve the host name",
    );
}
