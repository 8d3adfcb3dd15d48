//! Parsers for the flags' values.
//!
//! Each returns only the *reason* a value is refused ("must not be
//! negative"), never the value: [`message`](super::message) puts the flag
//! and the value in front, shortened and made printable, so a parser
//! cannot turn a 100 kB argument into a 100 kB line.
//!
//! The numeric flags accept values starting with `-` (clap would otherwise
//! take `-5` for an unknown flag and never say which flag it was for), so
//! each parser refuses negative numbers itself.

use std::net::{IpAddr, Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::time::Duration;

use crate::config::{
    ListenAddr, MAX_MAX_BUFFER, MAX_THREADS, MAX_TIMEOUT, MAX_TIMEOUT_TEXT, MIN_MAX_BUFFER,
};

const NEGATIVE: &str = "must not be negative";

/// `-5`, `-1s`, `-.5`: a number with a minus sign, as opposed to some
/// other word that happens to start with `-`.
fn is_negative(s: &str) -> bool {
    s.strip_prefix('-')
        .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit() || c == '.'))
}

/// A whole non-negative number; `too_large` says why an overflow fails.
fn parse_whole(s: &str, too_large: impl FnOnce() -> String) -> Result<u64, String> {
    if is_negative(s) {
        return Err(NEGATIVE.into());
    }
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err("not a whole number".into());
    }
    // All digits: the only way left to fail is being too large.
    s.parse().map_err(|_| too_large())
}

/// `--max-conns`: any non-negative count (0 means no limit).
pub fn parse_count(s: &str) -> Result<usize, String> {
    let too_large = || format!("must be at most {}", usize::MAX);
    let n = parse_whole(s.trim(), too_large)?;
    usize::try_from(n).map_err(|_| too_large())
}

/// `--backlog`: 1 to `i32::MAX` (the kernel caps it at somaxconn anyway).
pub fn parse_backlog(s: &str) -> Result<i32, String> {
    let too_large = || format!("must be at most {}", i32::MAX);
    match parse_whole(s.trim(), too_large)? {
        0 => Err("must be at least 1".into()),
        n => i32::try_from(n).map_err(|_| too_large()),
    }
}

/// `--threads`: 1 to [`MAX_THREADS`] reactors.
pub fn parse_threads(s: &str) -> Result<usize, String> {
    let too_large = || format!("must be at most {MAX_THREADS}");
    match parse_whole(s.trim(), too_large)? {
        0 => Err("must be at least 1".into()),
        n => usize::try_from(n)
            .ok()
            .filter(|&n| n <= MAX_THREADS)
            .ok_or_else(too_large),
    }
}

/// `--uring-buffers`: a power of two from 1 to 32768, the most entries a
/// provided-buffer ring may have.
pub fn parse_uring_buffers(s: &str) -> Result<u16, String> {
    let n = parse_whole(s.trim(), || "must be at most 32768".into())?;
    match u16::try_from(n) {
        Ok(n) if n.is_power_of_two() && n <= 1 << 15 => Ok(n),
        _ if n > 1 << 15 => Err("must be at most 32768".into()),
        _ => Err("must be a power of two (1, 2, 4, ... 32768)".into()),
    }
}

/// `--listen`: `IP:PORT` or `tcp:IP:PORT` for TCP, `udp:IP:PORT` for UDP;
/// IPv6 in brackets (`udp:[::1]:7`); `unix:PATH` for a Unix stream socket
/// (made absolute here, against the working directory, so it is announced
/// and removed under the name it was bound with). A word before the first
/// colon is the kind; an IPv6 address never starts that way, since it is
/// bracketed.
pub fn parse_listen(s: &str) -> Result<Listeners, String> {
    let t = s.trim();
    let (kind, prefix, rest): (fn(SocketAddr) -> ListenAddr, &str, &str) = match t.split_once(':') {
        Some((word, rest)) if is_kind(word) => match word.to_ascii_lowercase().as_str() {
            "tcp" => (ListenAddr::Tcp, "tcp:", rest),
            "udp" => (ListenAddr::Udp, "udp:", rest),
            "unix" => return parse_unix_path(rest).map(|a| Listeners(vec![a])),
            // `localhost:7`: a host name and a port, over TCP.
            _ if !rest.contains([':', '/']) => (ListenAddr::Tcp, "", t),
            _ => return Err(UNKNOWN_KIND.into()),
        },
        _ => (ListenAddr::Tcp, "", t),
    };
    if let Ok(addr) = rest.parse::<SocketAddr>() {
        return Ok(Listeners(vec![kind(addr)]));
    }
    if let Some(why) = address_problem(rest, true, prefix) {
        return Err(why);
    }
    let not_an_address = || "not an address (try 127.0.0.1:7007, udp:0.0.0.0:7 or udp:[::1]:7)";
    let (host, port) = rest.rsplit_once(':').ok_or_else(not_an_address)?;
    let port: u16 = port.parse().map_err(|_| not_an_address())?;
    // A bracket or colon left in the host is a mistyped IP address, not a
    // name to look up.
    if host.is_empty() || host.contains([':', '[', ']']) {
        return Err(not_an_address().into());
    }
    // The host's value is in clap's line already: the reason never repeats it.
    let found = (host, port).to_socket_addrs().map_err(|e| {
        let why = e.to_string();
        // std's prefix says nothing the first words here do not.
        let why = why
            .strip_prefix("failed to lookup address information: ")
            .unwrap_or(&why);
        format!("cannot resolve the host name: {why}")
    })?;
    let mut addrs: Vec<ListenAddr> = Vec::new();
    for addr in found.map(kind) {
        if !addrs.contains(&addr) {
            addrs.push(addr);
        }
    }
    if addrs.is_empty() {
        return Err("the host name resolves to no address".into());
    }
    Ok(Listeners(addrs))
}

/// Why `s`, which is not an `IP:PORT`, is refused, when the mistake is one
/// a user makes often enough to be named: no port (`127.0.0.1`, `[::1]`,
/// or a host name when `names` are accepted), no address (`7007`), an
/// IPv6 address without brackets (`::1:7`), or a port past 65535. A
/// suggestion starts with `kind` (`udp:`, or nothing), as the user wrote
/// it, and is built from the parsed values, so it stays short whatever the
/// input. `None` for anything else, which "not an address" describes
/// well enough.
fn address_problem(s: &str, names: bool, kind: &str) -> Option<String> {
    let host = |h: &str| {
        h.parse::<IpAddr>().is_ok()
            || h.strip_prefix('[')
                .and_then(|h| h.strip_suffix(']'))
                .is_some_and(|h| h.parse::<Ipv6Addr>().is_ok())
            || (names && is_host_name(h))
    };
    let digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    // An unbracketed IPv6 address (`::1`) is not missing its port: its
    // last group may be the port the user meant (below).
    if host(s) && s.parse::<Ipv6Addr>().is_err() {
        return Some("missing :PORT".into());
    }
    // `7007` or `:7007`: a port with no address in front. Which address
    // is a choice echod will not make (loopback only, or every interface),
    // so both are offered.
    let port = s.strip_prefix(':').unwrap_or(s);
    if digits(port) {
        return Some(match port.parse::<u16>() {
            Ok(p) => {
                format!("missing address: did you mean {kind}127.0.0.1:{p} or {kind}0.0.0.0:{p}?")
            }
            Err(_) => "missing address, and port out of range (0-65535)".into(),
        });
    }
    // `::1:7`: std reads a socket address's IPv6 part only in brackets.
    if !s.contains(['[', ']']) {
        if let Some((h, p)) = s.rsplit_once(':') {
            if let (Ok(ip), true) = (h.parse::<Ipv6Addr>(), digits(p)) {
                if let Ok(p) = p.parse::<u16>() {
                    let addr = SocketAddr::from((ip, p));
                    return Some(format!("IPv6 addresses need brackets: {kind}{addr}"));
                }
            }
        }
        if let Ok(ip) = s.parse::<Ipv6Addr>() {
            return Some(format!(
                "IPv6 addresses need brackets and a port: {kind}[{ip}]:PORT"
            ));
        }
    }
    let (h, port) = s.rsplit_once(':')?;
    (digits(port) && port.parse::<u16>().is_err() && host(h))
        .then(|| "port out of range (0-65535)".into())
}

/// `localhost`, `db-1.example`: letters, digits, `-` and `.`, with at least
/// one letter (`7007` alone is a port without its address, not a name).
fn is_host_name(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
        && s.bytes().any(|b| b.is_ascii_alphabetic())
}

/// What one `--listen` value names: one listener for an IP address or a
/// Unix path; one per address for a host name (`localhost:7` may be both
/// `127.0.0.1:7` and `[::1]:7`), in the resolver's order, without repeats.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listeners(pub Vec<ListenAddr>);

const UNKNOWN_KIND: &str =
    "unknown kind of listener (use IP:PORT, tcp:IP:PORT, udp:IP:PORT or unix:PATH)";

/// The `PATH` of `unix:PATH`, made absolute.
fn parse_unix_path(path: &str) -> Result<ListenAddr, String> {
    if path.is_empty() {
        return Err("no path (try unix:/run/echod.sock)".into());
    }
    if path.contains('\0') {
        return Err("a path cannot contain a NUL byte".into());
    }
    std::path::absolute(path)
        .map(ListenAddr::Unix)
        .map_err(|e| format!("cannot make the path absolute: {e}"))
}

/// `--unix-mode`: permission bits in octal, `000` to `777` (`660`, `0600`).
pub fn parse_unix_mode(s: &str) -> Result<u32, String> {
    let t = s.trim();
    if is_negative(t) {
        return Err(NEGATIVE.into());
    }
    let digits = t.strip_prefix("0o").unwrap_or(t);
    if digits.is_empty() || digits.len() > 4 || !digits.bytes().all(|b| (b'0'..=b'7').contains(&b))
    {
        return Err("not an octal mode (try 660 or 600)".into());
    }
    match u32::from_str_radix(digits, 8) {
        Ok(mode) if mode <= 0o777 => Ok(mode),
        _ => Err("must be permission bits, 000 to 777 (no setuid, setgid or sticky bit)".into()),
    }
}

/// `udp`, `unix`: a word naming a kind, as opposed to the start of an
/// IPv4 address (digits and dots) or a bracketed IPv6 one.
fn is_kind(word: &str) -> bool {
    word.starts_with(|c: char| c.is_ascii_alphabetic())
        && word.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// A byte count such as `65536`, `64K`, `64KiB` or `1M` (powers of 1024),
/// with no range of its own: `--max-buffer` here, `loadgen --size` there.
pub fn parse_bytes(s: &str) -> Result<u64, String> {
    let t = s.trim();
    if is_negative(t) {
        return Err(NEGATIVE.into());
    }
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    if digits.is_empty() {
        return Err("not a size (try 65536, 64K or 1M)".into());
    }
    let mult: u64 = match unit.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 1,
        "K" | "KB" | "KIB" => 1 << 10,
        "M" | "MB" | "MIB" => 1 << 20,
        _ => return Err("unknown unit (use K or M)".into()),
    };
    // Digits only, so parse fails only on overflow.
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .ok_or_else(|| "too large".into())
}

/// `--max-buffer`: a size as [`parse_bytes`] reads it, from
/// [`MIN_MAX_BUFFER`] to [`MAX_MAX_BUFFER`].
pub fn parse_size(s: &str) -> Result<usize, String> {
    let range = || {
        format!(
            "must be between {MIN_MAX_BUFFER} and {}M bytes",
            MAX_MAX_BUFFER >> 20
        )
    };
    let bytes = match parse_bytes(s) {
        Ok(b) => usize::try_from(b).map_err(|_| range())?,
        Err(e) if e == "too large" => return Err(range()),
        Err(e) => return Err(e),
    };
    if !(MIN_MAX_BUFFER..=MAX_MAX_BUFFER).contains(&bytes) {
        return Err(range());
    }
    Ok(bytes)
}

/// `--idle-timeout`, `--shutdown-timeout`: a duration such as `500ms`,
/// `5s` or `2m`, greater than zero (zero would close every connection, or
/// skip every flush, at once) and at most [`MAX_TIMEOUT`].
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    if is_negative(t) {
        return Err(NEGATIVE.into());
    }
    let too_large = || format!("must be at most {MAX_TIMEOUT_TEXT}");
    let d = humantime::parse_duration(t).map_err(|e| match e {
        humantime::DurationError::NumberOverflow => too_large(),
        // humantime's other messages quote the input (an unknown unit can
        // be the whole argument), so they stay out of ours.
        _ => "not a duration (try 500ms, 5s or 2m)".into(),
    })?;
    if d.is_zero() {
        return Err("must be greater than zero".into());
    }
    if d > MAX_TIMEOUT {
        return Err(too_large());
    }
    Ok(d)
}

/// `--metrics`: the `IP:PORT` the metrics endpoint listens on (TCP;
/// IPv6 in brackets; port 0 picks a free one). A host name is refused as
/// such, since `--listen` takes one and a user may expect the same here.
pub fn parse_metrics(s: &str) -> Result<SocketAddr, String> {
    let t = s.trim();
    t.parse().map_err(|_| {
        let try_ = "(try 127.0.0.1:9100 or [::1]:9100)";
        let host = t.rsplit_once(':').map_or(t, |(h, _)| h);
        address_problem(t, false, "").unwrap_or_else(|| match is_host_name(host) {
            true => format!("must be an IP address, not a host name {try_}"),
            false => format!("not an address {try_}"),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_addresses_are_ip_and_port() {
        for good in ["127.0.0.1:9100", "[::1]:0"] {
            assert_eq!(parse_metrics(good), Ok(good.parse().unwrap()));
        }
        for bad in ["", "tcp:[::1]:1", "1.2.3.4:5:6"] {
            let reason = parse_metrics(bad).unwrap_err();
            assert!(reason.contains("not an address"), "{bad}");
        }
        for name in ["localhost:9100", "localhost", "db-1.example:0"] {
            let reason = parse_metrics(name).unwrap_err();
            assert!(reason.starts_with("must be an IP address"), "{name}");
        }
        assert_eq!(parse_metrics("[::1]"), Err("missing :PORT".into()));
        assert_eq!(
            parse_metrics("9100"),
            Err("missing address: did you mean 127.0.0.1:9100 or 0.0.0.0:9100?".into())
        );
        assert_eq!(
            parse_metrics("::1:9100"),
            Err("IPv6 addresses need brackets: [::1]:9100".into())
        );
        assert_eq!(
            parse_metrics("127.0.0.1:65536"),
            Err("port out of range (0-65535)".into())
        );
    }

    #[test]
    fn sizes_parse_with_units_and_bounds() {
        assert_eq!(parse_size("65536"), Ok(65536));
        assert_eq!(parse_size("64K"), Ok(65536));
        assert_eq!(parse_size("64kib"), Ok(65536));
        assert_eq!(parse_size("1M"), Ok(1 << 20));
        assert!(parse_size("1").is_err());
        assert!(parse_size("65G").is_err());
        assert!(parse_size("abc").is_err());
        assert!(parse_size("999999999999999999999M").is_err());
        assert_eq!(parse_size("-5"), Err(NEGATIVE.into()));
        assert_eq!(parse_size("-64K"), Err(NEGATIVE.into()));
    }

    #[test]
    fn durations_refuse_zero_and_garbage() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("soon").is_err());
    }

    #[test]
    fn durations_are_capped_at_a_year() {
        assert_eq!(parse_duration("365d"), Ok(MAX_TIMEOUT));
        let capped = Err(format!("must be at most {MAX_TIMEOUT_TEXT}"));
        for huge in [
            "366d",
            "500000000000y",
            "18446744073709551615s",
            "99999999999999999999999s",
        ] {
            assert_eq!(parse_duration(huge), capped, "{huge}");
        }
    }

    #[test]
    fn negative_numbers_are_named_as_such() {
        for s in ["-1s", "-0.5s", "-.5s", "-1"] {
            assert_eq!(parse_duration(s), Err(NEGATIVE.into()), "{s}");
        }
        assert_eq!(parse_count("-1"), Err(NEGATIVE.into()));
        assert_eq!(parse_backlog("-1"), Err(NEGATIVE.into()));
        // A word after the flag is not a negative number.
        assert_eq!(parse_count("--listen"), Err("not a whole number".into()));
    }

    #[test]
    fn counts_and_backlogs_have_their_ranges() {
        assert_eq!(parse_count("0"), Ok(0));
        assert_eq!(parse_count("100"), Ok(100));
        assert!(parse_count("many").is_err());
        assert!(parse_count("99999999999999999999999").is_err());
        assert_eq!(parse_backlog("1024"), Ok(1024));
        assert_eq!(parse_backlog("0"), Err("must be at least 1".into()));
        assert!(parse_backlog("2147483648").is_err());
        assert_eq!(parse_threads("4"), Ok(4));
        assert_eq!(parse_threads("0"), Err("must be at least 1".into()));
        let too_many = Err(format!("must be at most {MAX_THREADS}"));
        assert_eq!(parse_threads("1025"), too_many);
        assert_eq!(parse_threads("99999999999999999999999"), too_many);
        assert_eq!(parse_threads("-2"), Err(NEGATIVE.into()));
    }

    #[test]
    fn listen_addresses_carry_their_kind() {
        let parse_listen = |s: &str| parse_listen(s).map(|l| one(l.0));
        let v4: SocketAddr = "127.0.0.1:7".parse().unwrap();
        let v6: SocketAddr = "[::1]:0".parse().unwrap();
        assert_eq!(parse_listen("127.0.0.1:7"), Ok(ListenAddr::Tcp(v4)));
        assert_eq!(parse_listen("tcp:127.0.0.1:7"), Ok(ListenAddr::Tcp(v4)));
        assert_eq!(parse_listen("udp:127.0.0.1:7"), Ok(ListenAddr::Udp(v4)));
        assert_eq!(parse_listen("UDP:127.0.0.1:7"), Ok(ListenAddr::Udp(v4)));
        assert_eq!(parse_listen("[::1]:0"), Ok(ListenAddr::Tcp(v6)));
        assert_eq!(parse_listen("udp:[::1]:0"), Ok(ListenAddr::Udp(v6)));
        assert_eq!(
            ListenAddr::Udp(v6).to_string(),
            "udp://[::1]:0",
            "announced with its scheme"
        );
        for bad in ["udp:", "", "1.2.3.4:7:8", "[::1:7"] {
            assert!(
                parse_listen(bad).unwrap_err().contains("not an address"),
                "{bad}"
            );
        }
        // The port alone is wrong: say which way, not "not an address".
        for no_port in ["udp:127.0.0.1", "127.0.0.1", "[::1]", "udp:nonsense"] {
            assert_eq!(
                parse_listen(no_port),
                Err("missing :PORT".into()),
                "{no_port}"
            );
        }
        for big in [
            "127.0.0.1:99999",
            "udp:[::1]:65536",
            "tcp:0.0.0.0:4294967296",
        ] {
            assert_eq!(
                parse_listen(big),
                Err("port out of range (0-65535)".into()),
                "{big}"
            );
        }
        // A port alone, or IPv6 without brackets: say what to write.
        for (bad, want) in [
            (
                "7007",
                "missing address: did you mean 127.0.0.1:7007 or 0.0.0.0:7007?",
            ),
            (
                "udp::7",
                "missing address: did you mean udp:127.0.0.1:7 or udp:0.0.0.0:7?",
            ),
            ("99999", "missing address, and port out of range (0-65535)"),
            ("::1:7", "IPv6 addresses need brackets: [::1]:7"),
            ("TCP:::1:07", "IPv6 addresses need brackets: tcp:[::1]:7"),
            (
                "udp:fe80::1",
                "IPv6 addresses need brackets and a port: udp:[fe80::1]:PORT",
            ),
        ] {
            assert_eq!(parse_listen(bad), Err(want.into()), "{bad}");
        }
        for unknown in ["sctp:127.0.0.1:7", "udp6:[::1]:7", "unixx:/run/e.sock"] {
            assert!(
                parse_listen(unknown).unwrap_err().contains("unknown kind"),
                "{unknown}"
            );
        }
    }

    /// The only listener `addrs` holds.
    fn one(addrs: Vec<ListenAddr>) -> ListenAddr {
        assert_eq!(addrs.len(), 1, "{addrs:?}");
        addrs.into_iter().next().unwrap()
    }

    #[test]
    fn host_names_resolve_to_every_address_of_the_kind_asked() {
        let ips = |s: &str| {
            let mut v: Vec<_> = s.to_socket_addrs().unwrap().collect();
            v.dedup();
            v
        };
        let want = ips("localhost:7");
        assert!(!want.is_empty() && want.iter().all(|a| a.ip().is_loopback()));
        assert_eq!(
            parse_listen("localhost:7"),
            Ok(Listeners(
                want.iter().copied().map(ListenAddr::Tcp).collect()
            ))
        );
        assert_eq!(
            parse_listen("udp:localhost:7"),
            Ok(Listeners(
                want.iter().copied().map(ListenAddr::Udp).collect()
            ))
        );
        assert_eq!(
            parse_listen("tcp:LOCALHOST:0").map(|l| l.0.len()),
            Ok(ips("localhost:0").len())
        );
        for bad in ["localhost:", "localhost:-1", "[localhost]:7"] {
            assert!(
                parse_listen(bad).unwrap_err().contains("not an address"),
                "{bad}"
            );
        }
        assert_eq!(parse_listen("localhost"), Err("missing :PORT".into()));
        assert_eq!(
            parse_listen("udp:localhost:99999"),
            Err("port out of range (0-65535)".into())
        );
        // Refused by the resolver without asking anybody: a label over 63
        // bytes is not a name.
        let long = format!("{}.example:7", "a".repeat(64));
        assert!(parse_listen(&long)
            .unwrap_err()
            .starts_with("cannot resolve"));
    }

    #[test]
    fn unix_paths_are_made_absolute() {
        let parse_listen = |s: &str| parse_listen(s).map(|l| one(l.0));
        let unix = |p: &str| Ok(ListenAddr::Unix(p.into()));
        assert_eq!(
            parse_listen("unix:/run/echod.sock"),
            unix("/run/echod.sock")
        );
        assert_eq!(parse_listen("UNIX:/tmp/a b"), unix("/tmp/a b"));
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(
            parse_listen("unix:echod.sock"),
            Ok(ListenAddr::Unix(cwd.join("echod.sock")))
        );
        assert_eq!(
            ListenAddr::Unix("/run/echod.sock".into()).to_string(),
            "unix:///run/echod.sock"
        );
        assert!(parse_listen("unix:").unwrap_err().contains("no path"));
        assert!(parse_listen("unix:/a\0b").unwrap_err().contains("NUL"));
    }

    #[test]
    fn unix_modes_are_octal_permission_bits() {
        assert_eq!(parse_unix_mode("660"), Ok(0o660));
        assert_eq!(parse_unix_mode("0600"), Ok(0o600));
        assert_eq!(parse_unix_mode("0o777"), Ok(0o777));
        assert_eq!(parse_unix_mode("0"), Ok(0));
        for bad in ["", "abc", "8", "689", "rw-rw----", "0x1ff", "77777"] {
            assert!(parse_unix_mode(bad).unwrap_err().contains("octal"), "{bad}");
        }
        assert!(parse_unix_mode("4755").unwrap_err().contains("000 to 777"));
        assert_eq!(parse_unix_mode("-660"), Err(NEGATIVE.into()));
    }

    #[test]
    fn reasons_never_repeat_the_value() {
        let long = "x".repeat(1000);
        for reason in [
            parse_size(&long).unwrap_err(),
            parse_duration(&format!("5{long}")).unwrap_err(),
            parse_count(&long).unwrap_err(),
            parse_backlog(&long).unwrap_err(),
            parse_threads(&long).unwrap_err(),
            parse_listen(&long).unwrap_err(),
            parse_listen(&format!("{long}:1")).unwrap_err(),
            parse_unix_mode(&long).unwrap_err(),
        ] {
            assert!(reason.len() < 80, "{reason}");
        }
    }
}
