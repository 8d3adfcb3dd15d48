//! `loadgen compare --server` and `--target`: servers that are not echod
//! models, measured beside them, refused with one line when they do not
//! listen or do not echo. And the teaching guide's two example servers
//! (`examples/`), which must pass every check.

use crate::util;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use util::{loadgen, read_json, refused, scratch, stderr, stdout, words, Echod};

/// The example server, wherever the tests run from.
const SELECTORS_ECHO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/selectors_echo.py");

/// A python one-liner that accepts, writes the wrong bytes and closes.
const GARBAGE: &str = "python3 -c \"import socket,sys
s = socket.create_server(('127.0.0.1', int(sys.argv[1])))
while True:
    c, _ = s.accept(); c.sendall(b'garbage'); c.close()\" {port}";

/// A short sweep: one round of 300 ms at 1 and 4 connections.
fn compare(dir: &std::path::Path, extra: &[&str], flood: &str) -> std::process::Output {
    let line = format!(
        "compare --connections 1,4 --flood {flood} --rounds 1 --duration 300ms \
         --warmup 100ms --quiet --out {}",
        dir.display()
    );
    let mut args = words(&line);
    args.extend_from_slice(extra);
    loadgen(&args, Duration::from_secs(120))
}

/// The points of `name` in the report's closed-loop and saturation lists.
fn points_of<'a>(v: &'a serde_json::Value, name: &str) -> Vec<&'a serde_json::Value> {
    let all = v["points"].as_array().unwrap().iter();
    all.chain(v["saturation"].as_array().unwrap())
        .filter(|p| p["model"] == name)
        .collect()
}

#[test]
fn a_server_command_is_measured_beside_a_model_with_its_cpu_and_rss() {
    let dir = scratch("external-server");
    let server = format!("py=python3 {SELECTORS_ECHO} {{port}}");
    let out = compare(&dir, &["--models", "reactor", "--server", &server], "2");
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let v = read_json(&dir.join("results.json"));
    let entries = &v["config"]["entries"];
    assert_eq!(entries[0]["kind"], "model", "{entries}");
    assert_eq!(entries[1]["kind"], "server", "{entries}");
    for name in ["reactor", "py"] {
        let points = points_of(&v, name);
        assert_eq!(points.len(), 3, "{name}: two closed-loop points, one flood");
        let mut cpu = 0.0;
        for p in points {
            assert_eq!(p["status"], "ok", "{p}");
            // Measured, if maybe 0 over a short window in clock ticks.
            cpu += p["server_cpu_utilisation"].as_f64().unwrap();
            assert!(p["server_memory"]["rss_kib"].as_u64().unwrap() > 0, "{p}");
            let exit = p["rounds"][0]["server_exit"].as_str().unwrap();
            // SIGTERM at its default disposition, or exit 0 for echod.
            assert!(
                exit.contains("signal: 15") || exit.contains("status: 0"),
                "{p}"
            );
        }
        // Python at thousands of requests a second does use CPU.
        assert!(
            name == "reactor" || cpu > 0.0,
            "{name}: no CPU over its points"
        );
    }
    assert!(stdout(&out).contains("py "), "{}", stdout(&out));
}

#[test]
fn a_target_is_measured_with_cpu_and_rss_na() {
    let dir = scratch("external-target");
    let echod = Echod::start(&["--model", "reactor"]);
    let target = format!("ext={}", echod.target());
    let out = compare(&dir, &["--models", "none", "--target", &target], "2");
    let text = stdout(&out);
    assert!(out.status.success(), "{text}\n{}", stderr(&out));
    assert!(text.contains("RSS n/a: not started by loadgen"), "{text}");
    assert!(!text.contains("NaN"), "{text}");
    let v = read_json(&dir.join("results.json"));
    assert_eq!(v["config"]["entries"][0]["kind"], "target");
    let points = points_of(&v, "ext");
    assert_eq!(points.len(), 3);
    let na = serde_json::json!({ "n/a": "not started by loadgen" });
    for p in points {
        assert_eq!(p["status"], "ok", "{p}");
        assert_eq!(p["server_cpu_utilisation"], na, "{p}");
        assert_eq!(p["server_memory"]["rss_kib"], na, "{p}");
    }
    assert_eq!(v["points"][0]["server_cpu_us_per_request"], na);
    assert_eq!(v["saturation"][0]["mb_per_server_cpu_second"], na);
    assert_eq!(v["saturation"][0]["limit"], "unknown");
    // Not ranked by a CPU figure it does not have.
    assert_eq!(v["saturation_rankings"].as_array().unwrap().len(), 0);
    assert_eq!(v["rankings"][0]["leader"], "ext");
    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(!md.contains("NaN"), "{md}");
}

#[test]
fn a_server_that_does_not_echo_is_refused_and_the_model_measured() {
    let dir = scratch("external-garbage");
    let server = format!("cat={GARBAGE}");
    let out = compare(&dir, &["--models", "reactor", "--server", &server], "none");
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let line = err.lines().find(|l| l.contains("cat is refused")).unwrap();
    assert!(line.contains("failed check: byte-exact echo"), "{line}");
    let v = read_json(&dir.join("results.json"));
    for p in points_of(&v, "reactor") {
        assert_eq!(p["status"], "ok", "{p}");
    }
    for p in points_of(&v, "cat") {
        assert_eq!(p["status"], "refused", "{p}");
        assert!(
            p["reason"].as_str().unwrap().contains("failed check"),
            "{p}"
        );
    }
    assert!(
        stdout(&out).contains("n/a (failed check: "),
        "{}",
        stdout(&out)
    );
}

#[test]
fn a_command_that_never_listens_is_refused_in_one_line_without_hanging() {
    let dir = scratch("external-silent");
    let start = Instant::now();
    let out = compare(
        &dir,
        &[
            "--models",
            "none",
            "--server-wait",
            "1s",
            "--server",
            "sleeper=sleep 30 {port}",
            "--server",
            "quitter=false {port}",
        ],
        "none",
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(start.elapsed() < Duration::from_secs(20), "{err}");
    let sleeper = err.lines().filter(|l| l.contains("sleeper is refused"));
    assert_eq!(sleeper.count(), 1, "{err}");
    assert!(err.contains("nothing listening on 127.0.0.1:"), "{err}");
    assert!(err.contains("the command is still running"), "{err}");
    assert!(
        err.contains("the command exited with exit status: 1"),
        "{err}"
    );
    let v = read_json(&dir.join("results.json"));
    assert_eq!(points_of(&v, "sleeper")[0]["status"], "refused");
}

#[test]
fn bad_server_and_target_flags_are_refused_in_one_line() {
    let dir = scratch("external-flags");
    let out = dir.display().to_string();
    let base = ["compare", "--out", &out, "--models", "reactor"];
    let with = |extra: &[&'static str]| {
        let mut args = base.to_vec();
        args.extend_from_slice(extra);
        args
    };
    refused(
        &with(&["--server", "python3 x.py {port}"]),
        "expected NAME='COMMAND",
    );
    refused(&with(&["--server", "=x {port}"]), "the name must be");
    refused(&with(&["--server", "a b=x {port}"]), "the name must be");
    refused(
        &with(&["--server", "py=python3 x.py"]),
        "--server py: the command has no {port}",
    );
    refused(
        &with(&["--server", "py=x 'y {port}"]),
        "--server py: cannot split the command",
    );
    refused(
        &with(&["--server", "py="]),
        "--server py: the command is empty",
    );
    refused(
        &with(&["--server", "reactor=x {port}"]),
        "--server reactor: that is an echod model's name",
    );
    refused(
        &with(&["--server", "a=x {port}", "--target", "a=127.0.0.1:1"]),
        "--target a: the name is taken",
    );
    refused(&with(&["--target", "b=nowhere"]), "--target b:");
    refused(
        &with(&["--target", "b=udp:127.0.0.1:7"]),
        "compare measures stream servers",
    );
    refused(
        &["compare", "--out", &out, "--models", "none"],
        "--models: needs at least one model",
    );
}

/// Starts `examples/selectors_echo.py` on a free port and waits (bounded)
/// until it accepts: it has no way to say it listens.
fn start_selectors_echo() -> (Child, String) {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new("python3")
        .args([SELECTORS_ECHO, &port.to_string()])
        .stdin(Stdio::null())
        .spawn()
        .expect("python3");
    let addr = format!("127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(&addr).is_err() {
        assert!(Instant::now() < deadline, "{addr}: nothing listening");
        std::thread::sleep(Duration::from_millis(20));
    }
    (child, addr)
}

#[test]
fn the_selectors_example_passes_every_check() {
    let (mut child, addr) = start_selectors_echo();
    util::passes_every_check(&addr);
    let _ = child.kill();
    let _ = child.wait();
}

/// `examples/mini_reactor.rs`'s binary. `cargo test --workspace` builds it
/// beside this test binary (`target/<profile>/examples/`); when it is
/// missing (`cargo test -p loadgen` alone) it is built here, once, into
/// the same place. Cargo releases its build lock before it runs the tests,
/// so the nested build does not wait on the `cargo test` that started us.
fn mini_reactor() -> &'static PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        // target/<profile>/deps/it-HASH -> target/<profile>
        let exe = std::env::current_exe().unwrap();
        let profile_dir = exe.parent().unwrap().parent().unwrap();
        let path = profile_dir.join("examples/mini_reactor");
        if path.exists() {
            return path;
        }
        let profile = profile_dir.file_name().unwrap().to_str().unwrap();
        let profile = if profile == "debug" { "dev" } else { profile };
        let build = "cargo build -p echod --example mini_reactor";
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let target_dir = profile_dir.parent().unwrap();
        let child = Command::new(cargo)
            .args(words(build).into_iter().skip(1))
            .args(["--profile", profile, "--target-dir"])
            .arg(target_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{build}: {e}"));
        let out = util::wait_output(child, &[build], Duration::from_secs(600));
        assert!(
            out.status.success() && path.exists(),
            "{build} (needed for the mini_reactor tests) failed: {}",
            stderr(&out)
        );
        path
    })
}

/// `examples/mini_reactor.rs` on a port the kernel picks, killed on drop.
struct MiniReactor {
    child: Child,
    addr: String,
}

impl MiniReactor {
    fn start() -> MiniReactor {
        let mut child = Command::new(mini_reactor())
            .arg("0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn mini_reactor");
        // Blocks until it prints its address (or exits, ending stdout).
        let mut line = String::new();
        let stdout = child.stdout.take().unwrap();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        let addr = line.trim().strip_prefix("listening on ").map(str::to_owned);
        let addr = addr.unwrap_or_else(|| panic!("mini_reactor printed {line:?}"));
        MiniReactor { child, addr }
    }
}

impl Drop for MiniReactor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn the_mini_reactor_example_passes_every_check() {
    let server = MiniReactor::start();
    util::passes_every_check(&server.addr);
}

/// A client that sends 1 MiB and shuts its write side gets all of it back,
/// then EOF: a server that never closes after the EOF fails on the read
/// timeout, one that drops or mixes bytes fails the comparison.
#[test]
fn the_mini_reactor_echoes_everything_then_closes_after_a_half_close() {
    let server = MiniReactor::start();
    let sent: Vec<u8> = (0..1 << 20).map(|i: u32| (i % 251) as u8).collect();
    let mut conn = TcpStream::connect(&server.addr).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    conn.set_write_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut writer = conn.try_clone().unwrap();
    let data = sent.clone();
    // Written while we read, so that nothing depends on the kernel's
    // buffers holding the whole megabyte.
    let write = std::thread::spawn(move || {
        writer.write_all(&data)?;
        writer.shutdown(Shutdown::Write)
    });
    let mut echoed = Vec::new();
    // Ends at the server's EOF, after every byte: or fails on the timeout.
    conn.read_to_end(&mut echoed).expect("the echo, then EOF");
    let wrote = write.join().unwrap();
    wrote.expect("1 MiB written, then the write side shut");
    assert!(
        echoed == sent,
        "{} of {} bytes, or other bytes",
        echoed.len(),
        sent.len()
    );
}

/// The server's resident memory, from /proc.
#[cfg(target_os = "linux")]
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[cfg(target_os = "linux")]
#[test]
fn the_mini_reactor_stops_reading_from_clients_that_never_read() {
    let server = MiniReactor::start();
    let before = rss_kib(server.child.id());
    let chunk = vec![b'x'; 64 << 10];
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut clients = Vec::new();
    let mut sent = 0;
    for _ in 0..4 {
        let mut conn = TcpStream::connect(&server.addr).unwrap();
        // Stalled for a second: every buffer on the way is full, ours too.
        conn.set_write_timeout(Some(Duration::from_secs(1)))
            .unwrap();
        while let Ok(n) = conn.write(&chunk) {
            sent += n;
            let bounded = sent < 256 << 20 && Instant::now() < deadline;
            assert!(bounded, "{sent} bytes taken and still reading: no cap?");
        }
        clients.push(conn);
    }
    let grown = rss_kib(server.child.id()).saturating_sub(before);
    // The kernel holds megabytes per connection; the server one cap each.
    assert!(sent > 4 << 20, "only {sent} bytes sent");
    assert!(grown < 4 << 10, "RSS grew by {grown} KiB for {sent} bytes");
}
