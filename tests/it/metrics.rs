//! `--metrics ADDR`: the Prometheus endpoint. Counters move with the
//! traffic the test makes (accepted, active, bytes, datagrams, closes by
//! reason, the loop turn histogram), every scrape parses as the text
//! format with the unit last in names, HEAD gets the head, other paths
//! and methods and garbage get their status, hostile scrapers (silent,
//! slow, huge, never reading, too many) neither stall the echo nor
//! outlive the deadline nor hold up another scrape,
//! `--threads 2` sums both reactors, and other models refuse the flag.

use crate::util;

use std::collections::{BTreeMap, HashSet};
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use echod::{listen::parse_announced, ListenAddr};
use util::{
    assert_usage_error, connect, ping, set_linger_zero, stdout_lines, wait_until, IO_TIMEOUT,
};

/// The server's `SCRAPE_DEADLINE` and `MAX_SCRAPES`.
const DEADLINE: Duration = Duration::from_secs(5);
const MAX_SCRAPES: usize = 16;

/// echod with `--metrics 127.0.0.1:0`; killed on drop.
struct Daemon {
    child: Child,
    echo: SocketAddr,
    /// The first `--listen udp:` socket, if asked for.
    udp: Option<SocketAddr>,
    metrics: SocketAddr,
}

impl Daemon {
    fn start(args: &[&str]) -> Daemon {
        let mut all = vec!["--listen", "127.0.0.1:0", "--metrics", "127.0.0.1:0"];
        all.extend_from_slice(args);
        let (child, mut lines) = stdout_lines(&all);
        // Every `listening on` line, then the endpoint's.
        let (mut echo, mut udp) = (None, None);
        let metrics = loop {
            let line = lines.next().expect("a line").expect("stdout");
            let addr = |rest: &str| -> SocketAddr {
                rest.trim_end_matches("/metrics").parse().expect("address")
            };
            match parse_announced(&line) {
                Some(ListenAddr::Tcp(a)) => _ = echo.get_or_insert(a),
                Some(ListenAddr::Udp(a)) => _ = udp.get_or_insert(a),
                _ => match line.strip_prefix("metrics on http://") {
                    Some(rest) => break addr(rest),
                    None => panic!("unexpected line {line:?}"),
                },
            }
        };
        Daemon {
            child,
            echo: echo.expect("a TCP listener"),
            udp,
            metrics,
        }
    }

    /// One scrape: the samples by series (`name{labels}`), after checking
    /// the status, the content type and the format.
    fn scrape(&self) -> BTreeMap<String, f64> {
        let (head, body) = request(self.metrics, b"GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n");
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
        assert!(
            head.contains("\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"),
            "{head}"
        );
        assert!(head.contains("\r\nConnection: close\r\n"), "{head}");
        parse_exposition(&body)
    }

    fn value(&self, series: &str) -> f64 {
        *self
            .scrape()
            .get(series)
            .unwrap_or_else(|| panic!("no {series}"))
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends `req`, reads the answer to EOF; returns its head and body.
fn request(addr: SocketAddr, req: &[u8]) -> (String, String) {
    let mut s = connect(addr);
    s.write_all(req).expect("write request");
    let mut got = Vec::new();
    s.read_to_end(&mut got).expect("read answer");
    let text = String::from_utf8(got).expect("utf-8");
    let (head, body) = text.split_once("\r\n\r\n").expect("a head");
    (format!("{head}\r\n"), body.to_string())
}

/// Checks the text format, version 0.0.4, as far as echod uses it: each
/// sample line is `name{labels} value` or `name value`, with a number for
/// value, and each name has `# HELP` and `# TYPE` lines before its
/// samples. Returns the samples by series.
fn parse_exposition(body: &str) -> BTreeMap<String, f64> {
    let mut helped = HashSet::new();
    let mut typed = HashSet::new();
    let mut samples = BTreeMap::new();
    assert!(body.ends_with('\n'), "last line unterminated");
    for line in body.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').expect("HELP name text");
            assert!(!help.is_empty(), "{line}");
            helped.insert(name.to_string());
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("TYPE name kind");
            assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
            if kind == "counter" {
                assert!(name.ends_with("_total"), "counter without _total: {name}");
            }
            typed.insert(name.to_string());
        } else {
            let (series, value) = line.rsplit_once(' ').expect("series value");
            let value: f64 = value.parse().unwrap_or_else(|_| panic!("{line}"));
            let name = match series.split_once('{') {
                Some((name, labels)) => {
                    let labels = labels.strip_suffix('}').expect("closing brace");
                    for pair in labels.split(',') {
                        let (k, v) = pair.split_once('=').expect("label=value");
                        assert!(k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
                        assert!(v.len() >= 2 && v.starts_with('"') && v.ends_with('"'));
                    }
                    name
                }
                None => series,
            };
            // A histogram's series: NAME_bucket, NAME_sum, NAME_count.
            let name = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| name.strip_suffix(s))
                .filter(|base| typed.contains(*base))
                .unwrap_or(name);
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
                "{name}"
            );
            assert!(
                name.starts_with("echod_") || name.starts_with("process_"),
                "{name}"
            );
            // Prometheus's naming rule: the unit comes last, before
            // `_total` on a counter (`echod_received_bytes_total`).
            for unit in ["_bytes", "_seconds"] {
                if let Some(at) = name.find(unit) {
                    let rest = &name[at + unit.len()..];
                    assert!(
                        ["", "_total"].contains(&rest),
                        "{name}: the unit {unit} is not last"
                    );
                }
            }
            assert!(helped.contains(name), "no HELP before {line}");
            assert!(typed.contains(name), "no TYPE before {line}");
            assert!(
                samples.insert(series.to_string(), value).is_none(),
                "{line}"
            );
        }
    }
    samples
}

/// The `echod_loop_turn_seconds` histogram of a scrape, after checking
/// its shape: buckets by rising bound, cumulative (never decreasing),
/// ending with `+Inf`, which equals `_count`. Returns the count.
fn turn_count(m: &BTreeMap<String, f64>) -> f64 {
    let name = "echod_loop_turn_seconds";
    let mut buckets: Vec<(f64, f64)> = m
        .iter()
        .filter_map(|(series, n)| {
            let le = series
                .strip_prefix(&format!("{name}_bucket{{le=\""))?
                .strip_suffix("\"}")?;
            let le = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().unwrap()
            };
            Some((le, *n))
        })
        .collect();
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    assert!(buckets.len() >= 10, "{buckets:?}");
    assert!(buckets[0].0 <= 1e-5, "a first bound of {}", buckets[0].0);
    assert!(
        buckets.windows(2).all(|w| w[0].1 <= w[1].1),
        "not cumulative: {buckets:?}"
    );
    let (last, all) = *buckets.last().unwrap();
    assert!(last.is_infinite(), "{buckets:?}");
    assert_eq!(all, m[&format!("{name}_count")]);
    assert!(m[&format!("{name}_sum")] >= 0.0);
    all
}

fn closed(reason: &str) -> String {
    format!("echod_connections_closed_total{{reason=\"{reason}\"}}")
}

#[test]
fn counters_follow_the_traffic() {
    let d = Daemon::start(&[]);
    let mut c = connect(d.echo);
    let mut sent = 0;
    for msg in [&b"hello"[..], &[7u8; 1000], b"x"] {
        ping(&mut c, msg);
        sent += msg.len();
    }
    let m = d.scrape();
    assert_eq!(m["echod_connections_accepted_total"], 1.0);
    assert_eq!(m["echod_connections_active"], 1.0);
    assert_eq!(m["echod_received_bytes_total"], sent as f64);
    assert_eq!(m["echod_sent_bytes_total"], sent as f64);
    assert_eq!(m[&closed("eof")], 0.0);
    assert_eq!(m["echod_reactors"], 1.0);
    assert_eq!(
        m["echod_build_info{version=\"0.1.0\",model=\"reactor\"}"],
        1.0
    );
    // CPU time and the descriptor limit everywhere (getrusage,
    // getrlimit); the rest from /proc, Linux only.
    assert!(m["process_cpu_seconds_total"] >= 0.0);
    assert!(m["process_max_fds"] >= m.get("process_open_fds").copied().unwrap_or(1.0));
    #[cfg(target_os = "linux")]
    {
        assert!(m["process_resident_memory_bytes"] > 0.0);
        assert!(
            m["process_open_fds"] >= 5.0,
            "listeners, a client, a scrape"
        );
        // The soft limit the kernel holds for the daemon, which the
        // docs tell operators to compare process_open_fds with.
        let limits = std::fs::read_to_string(format!("/proc/{}/limits", d.child.id())).unwrap();
        let soft: f64 = limits
            .lines()
            .find_map(|l| l.strip_prefix("Max open files"))
            .and_then(|l| l.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no soft limit in {limits}"));
        assert_eq!(m["process_max_fds"], soft);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        let started = m["process_start_time_seconds"];
        assert!(
            started <= now + 1.0 && started > now - 600.0,
            "{started} vs {now}"
        );
    }
    #[cfg(not(target_os = "linux"))]
    for absent in [
        "process_resident_memory_bytes",
        "process_open_fds",
        "process_start_time_seconds",
    ] {
        assert!(!m.contains_key(absent), "{absent} off Linux");
    }

    // The client closes: eof, nothing active.
    c.shutdown(Shutdown::Write).unwrap();
    assert_eq!(c.read(&mut [0u8; 8]).unwrap(), 0);
    let m = d.scrape();
    assert_eq!(m[&closed("eof")], 1.0);
    assert_eq!(m["echod_connections_active"], 0.0);

    // A reset: closed as such.
    let mut r = connect(d.echo);
    ping(&mut r, b"bye");
    set_linger_zero(&r);
    drop(r);
    assert!(wait_until(IO_TIMEOUT, || d.value(&closed("reset")) == 1.0));
    let m = d.scrape();
    assert_eq!(m["echod_connections_accepted_total"], 2.0);
    assert_eq!(m["echod_sent_bytes_total"], (sent + 3) as f64);
    assert_eq!(m["echod_connections_active"], 0.0);
}

#[test]
fn datagrams_received_echoed_and_dropped_are_counted() {
    let d = Daemon::start(&["--listen", "udp:127.0.0.1:0"]);
    let server = d.udp.expect("a UDP listener");
    let client = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    client.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    let mut buf = [0u8; 64];
    for msg in [&b"one"[..], b"three"] {
        client.send_to(msg, server).unwrap();
        let (n, from) = client.recv_from(&mut buf).expect("an echo");
        assert_eq!((&buf[..n], from), (msg, server));
    }
    let m = d.scrape();
    assert_eq!(m["echod_datagrams_received_total"], 2.0);
    assert_eq!(m["echod_datagram_sent_bytes_total"], 8.0);
    assert_eq!(
        m["echod_datagrams_dropped_total{reason=\"would_block\"}"],
        0.0
    );
    // Stream counters are for streams only.
    assert_eq!(m["echod_received_bytes_total"], 0.0);
}

// The length of the reactor's turns, the latency every ready client
// shares: each echo below needs a turn of its own (the client waits for
// it before sending the next), so the count grows by at least that many.
#[test]
fn loop_turns_are_a_histogram_that_counts_every_turn() {
    let d = Daemon::start(&[]);
    let before = turn_count(&d.scrape());
    let mut c = connect(d.echo);
    for i in 0..20 {
        ping(&mut c, format!("turn {i:02}").as_bytes());
    }
    let after = turn_count(&d.scrape());
    assert!(after >= before + 20.0, "{before} -> {after} turns");
}

// `promtool check metrics`, the checker that ships with Prometheus, over
// a real scrape that has every family: stream and datagram traffic, the
// turn histogram, two reactors. It reads the format as Prometheus does and
// lints the names (help text, `_total` on counters, base units).
#[test]
fn promtool_accepts_a_real_scrape() {
    let d = Daemon::start(&["--threads", "2", "--listen", "udp:127.0.0.1:0"]);
    let mut c = connect(d.echo);
    ping(&mut c, b"for promtool");
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    udp.send_to(b"datagram", d.udp.unwrap()).unwrap();
    udp.recv_from(&mut [0u8; 16]).expect("an echo");
    let (head, body) = request(d.metrics, b"GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n");
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(body.contains("echod_loop_turn_seconds_bucket"), "{body}");

    // promtool reads the exposition on stdin.
    let path = std::env::temp_dir().join(format!("echod-scrape-{}.txt", std::process::id()));
    std::fs::write(&path, &body).unwrap();
    let input = std::fs::File::open(&path).unwrap();
    let spawned = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(input)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let _ = std::fs::remove_file(&path);
    let mut child = match spawned {
        Ok(child) => child,
        Err(e) if e.kind() == ErrorKind::NotFound => panic!(
            "promtool is not on PATH: install it to run this test \
             (Debian: apt-get install --no-install-recommends prometheus)"
        ),
        Err(e) => panic!("cannot run promtool: {e}"),
    };
    let status = util::wait_child(&mut child, IO_TIMEOUT).unwrap_or_else(|| {
        let _ = child.kill();
        let _ = child.wait();
        panic!("promtool check metrics did not finish within {IO_TIMEOUT:?}");
    });
    // Its output is a few lines at most: the pipes cannot fill.
    let mut said = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut said)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut said)
        .unwrap();
    assert!(
        status.success() && said.is_empty(),
        "promtool check metrics: {status}\n{said}\nover:\n{body}"
    );
}

#[test]
fn connections_over_max_conns_are_counted_as_such() {
    let d = Daemon::start(&["--max-conns", "1"]);
    let mut a = connect(d.echo);
    ping(&mut a, b"first");
    let mut b = connect(d.echo);
    // Closed at once: EOF (or a reset) instead of an echo.
    let _ = b.write_all(b"second");
    let mut buf = [0u8; 8];
    assert!(matches!(b.read(&mut buf), Ok(0) | Err(_)));
    let m = d.scrape();
    assert_eq!(m[&closed("max_conns")], 1.0);
    assert_eq!(m["echod_connections_accepted_total"], 1.0);
    assert_eq!(m["echod_connections_active"], 1.0);
}

#[test]
fn other_paths_methods_and_garbage_get_their_status() {
    let d = Daemon::start(&[]);
    let status = |req: &[u8]| {
        let (head, _) = request(d.metrics, req);
        head.lines().next().unwrap().to_string()
    };
    assert_eq!(status(b"GET / HTTP/1.1\r\n\r\n"), "HTTP/1.1 404 Not Found");
    assert_eq!(
        status(b"GET /metricsx HTTP/1.1\r\n\r\n"),
        "HTTP/1.1 404 Not Found"
    );
    assert_eq!(
        status(b"POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n"),
        "HTTP/1.1 405 Method Not Allowed"
    );
    assert_eq!(status(b"HEAD / HTTP/1.1\r\n\r\n"), "HTTP/1.1 404 Not Found");
    assert_eq!(
        status(b"\x16\x03\x01 not http at all\r\n\r\n"),
        "HTTP/1.1 400 Bad Request"
    );
    // Over 8 KiB of headers, sent at once: answered 431, not read on.
    let mut big = b"GET /metrics HTTP/1.1\r\nX-Big: ".to_vec();
    big.resize(9 << 10, b'a');
    assert_eq!(status(&big), "HTTP/1.1 431 Request Header Fields Too Large");
    // The endpoint still answers, and scrapes were not counted as echo.
    let m = d.scrape();
    assert_eq!(m["echod_connections_accepted_total"], 0.0);
    assert_eq!(m["echod_received_bytes_total"], 0.0);
}

// A HEAD is a GET without the body: what a health check or `curl -I`
// sends. It was answered 405.
#[test]
fn head_gets_the_head_of_a_scrape_and_no_body() {
    let d = Daemon::start(&[]);
    let (head, body) = request(d.metrics, b"HEAD /metrics HTTP/1.1\r\nHost: t\r\n\r\n");
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(
        head.contains("\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"),
        "{head}"
    );
    assert!(body.is_empty(), "a body after HEAD: {body:?}");
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .unwrap_or_else(|| panic!("no Content-Length: {head}"))
        .parse()
        .unwrap();
    // The length of what a GET gets; values (CPU time, memory) may have
    // gained or lost a few digits in between.
    let (_, got) = request(d.metrics, b"GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n");
    assert!(length.abs_diff(got.len()) < 64, "{length} vs {}", got.len());
}

/// Pings `addr` in a loop until `stop`; returns the slowest round trip.
fn ping_pong(addr: SocketAddr, stop: Arc<AtomicBool>) -> thread::JoinHandle<(Duration, u64)> {
    thread::spawn(move || {
        let mut c = connect(addr);
        let (mut worst, mut n) = (Duration::ZERO, 0);
        while !stop.load(Ordering::Relaxed) {
            let t = Instant::now();
            ping(&mut c, b"ping-pong");
            worst = worst.max(t.elapsed());
            n += 1;
            // The client's pace (a ping every 5 ms), not a wait for the
            // server.
            thread::sleep(Duration::from_millis(5));
        }
        (worst, n)
    })
}

/// Reads until EOF or a reset; returns what came and when it ended.
fn read_until_closed(s: &mut TcpStream) -> (Vec<u8>, Instant) {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return (got, Instant::now()),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return (got, Instant::now()),
            Err(e) => panic!("read: {e}"),
        }
    }
}

#[test]
fn hostile_scrapers_do_not_stall_the_echo() {
    let d = Daemon::start(&[]);
    let stop = Arc::new(AtomicBool::new(false));
    let echo = ping_pong(d.echo, Arc::clone(&stop));
    let opened = Instant::now();

    // Connects and sends nothing.
    let mut silent = connect(d.metrics);
    // Sends a request one byte per 100 ms (it would take 3 s; the
    // request is never finished in time, its headers go on).
    let slow = {
        let addr = d.metrics;
        thread::spawn(move || {
            let mut s = connect(addr);
            let req = b"GET /metrics HTTP/1.1\r\nX-Slow: "
                .iter()
                .chain([b'a'; 100].iter());
            for &b in req {
                if s.write_all(&[b]).is_err() {
                    break; // closed by the deadline
                }
                thread::sleep(Duration::from_millis(100));
            }
            read_until_closed(&mut s)
        })
    };
    // Sends 1 MB of headers.
    let huge = {
        let addr = d.metrics;
        thread::spawn(move || {
            let mut s = connect(addr);
            let mut req = b"GET /metrics HTTP/1.1\r\nX-Huge: ".to_vec();
            req.resize(1 << 20, b'h');
            let _ = s.write_all(&req); // refused part way: fine
            read_until_closed(&mut s)
        })
    };
    // Asks properly and never reads the answer.
    let mut deaf = connect(d.metrics);
    deaf.write_all(b"GET /metrics HTTP/1.1\r\n\r\n").unwrap();

    // Meanwhile a normal scrape works, and sees the echo client (once its
    // connection is accepted: polled, with a deadline).
    assert!(
        wait_until(IO_TIMEOUT, || d.value("echod_connections_active") == 1.0),
        "echod_connections_active never showed the echo client: {}",
        d.value("echod_connections_active")
    );

    // The huge one was answered 431 or cut, and closed long before the
    // deadline.
    let (answer, at) = huge.join().unwrap();
    assert!(
        at - opened < DEADLINE,
        "huge scraper held {:?}",
        at - opened
    );
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 431 "),
        "{answer}"
    );

    // The silent and the slow one are closed at the deadline, not before.
    let (got, at) = read_until_closed(&mut silent);
    assert!(got.is_empty());
    let held = at - opened;
    assert!(held >= DEADLINE - Duration::from_millis(500), "{held:?}");
    assert!(held < DEADLINE + Duration::from_secs(3), "{held:?}");
    let (got, at) = slow.join().unwrap();
    assert!(got.is_empty(), "{:?}", String::from_utf8_lossy(&got));
    assert!(at - opened < DEADLINE + Duration::from_secs(3));

    // The deaf one got its whole answer all the same, then EOF.
    let (got, _) = read_until_closed(&mut deaf);
    assert!(String::from_utf8_lossy(&got).starts_with("HTTP/1.1 200 OK"));

    stop.store(true, Ordering::Relaxed);
    let (worst, n) = echo.join().unwrap();
    assert!(n > 100, "only {n} round trips in {:?}", opened.elapsed());
    // A stall would be seconds (the deadline); a loaded 2-core machine
    // may still take a few hundred milliseconds now and then.
    assert!(worst < Duration::from_millis(500), "slowest echo {worst:?}");
    // And the endpoint answers still; the pinger's close is seen.
    assert!(wait_until(IO_TIMEOUT, || d
        .value("echod_connections_active")
        == 0.0));
}

// A scraper that connects and sends nothing holds its own connection
// until the deadline, not the endpoint: a scrape beside it is answered
// at once, not after it.
#[test]
fn a_silent_scraper_does_not_delay_another_scrape() {
    let d = Daemon::start(&[]);
    let mut silent = connect(d.metrics);
    let t = Instant::now();
    assert_eq!(d.value("echod_connections_active"), 0.0);
    let took = t.elapsed();
    assert!(
        took < DEADLINE / 2,
        "a scrape waited {took:?} behind a silent one"
    );
    // The silent one is still open: nothing was sent, so nothing comes
    // back until its deadline.
    silent.set_nonblocking(true).unwrap();
    let err = silent.read(&mut [0u8; 1]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::WouldBlock);
}

#[test]
fn scrapers_beyond_the_limit_are_closed_at_once() {
    let d = Daemon::start(&[]);
    let mut held: Vec<TcpStream> = (0..MAX_SCRAPES).map(|_| connect(d.metrics)).collect();
    // Accepted in the order they connected: the extra one comes after.
    let mut c = connect(d.echo);
    ping(&mut c, b"turn");
    let mut extra = connect(d.metrics);
    extra
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let t = Instant::now();
    let (got, _) = read_until_closed(&mut extra);
    assert!(got.is_empty());
    assert!(t.elapsed() < Duration::from_secs(2));
    // Those held are still open and answer once asked.
    let s = &mut held[0];
    s.write_all(b"GET /metrics HTTP/1.1\r\n\r\n").unwrap();
    let (got, _) = read_until_closed(s);
    assert!(String::from_utf8_lossy(&got).starts_with("HTTP/1.1 200 OK"));
    ping(&mut c, b"still echoing");
}

#[test]
fn threads_sum_every_reactor() {
    let d = Daemon::start(&["--threads", "2"]);
    let conns = 24;
    for i in 0..conns {
        let mut c = connect(d.echo);
        ping(&mut c, format!("conn {i:04}").as_bytes());
        c.shutdown(Shutdown::Write).unwrap();
        assert_eq!(c.read(&mut [0u8; 4]).unwrap(), 0);
    }
    // Each reactor publishes at the end of its turn: wait for the last.
    let done = wait_until(IO_TIMEOUT, || d.value(&closed("eof")) == conns as f64);
    let m = d.scrape();
    assert!(done, "{m:?}");
    assert_eq!(m["echod_reactors"], 2.0);
    // Both reactors' turns, each connection's echo among them.
    assert!(turn_count(&m) >= conns as f64, "{m:?}");
    assert_eq!(m["echod_connections_accepted_total"], conns as f64);
    assert_eq!(m["echod_sent_bytes_total"], (conns * 9) as f64);
    assert_eq!(m["echod_received_bytes_total"], (conns * 9) as f64);
    assert_eq!(m["echod_connections_active"], 0.0);
}

#[test]
fn other_models_refuse_metrics() {
    for model in util::other_models() {
        assert_usage_error(
            &[
                "--model",
                model,
                "--listen",
                "127.0.0.1:0",
                "--metrics",
                "127.0.0.1:0",
            ],
            &format!(
                "--metrics 127.0.0.1:0: only the reactor model serves metrics, not --model {model}"
            ),
        );
    }
    assert_usage_error(
        &["--metrics", "localhost"],
        "--metrics localhost: must be an IP address, not a host name",
    );
}

#[test]
fn a_busy_metrics_port_is_a_startup_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    assert_usage_error(
        &["--listen", "127.0.0.1:0", "--metrics", &addr],
        &format!("--metrics {addr}: cannot listen"),
    );
}
