//! Interruptions lose nothing: the first SIGINT/SIGTERM closes the window
//! and reports what was measured, the second exits at once, and no server
//! child outlives its `compare`.
//!
//! The `compare` tests find the server child and its CPU time in `/proc`,
//! so they are Linux-only. The pipe that stands in for a parent-death
//! signal on macOS is tested here on any OS.

use crate::util;

use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

use util::{
    loadgen_cmd, read_json, scratch, stderr, stdout, took_under, wait_output, words, Behaviour,
    TestServer,
};

const LIMIT: Duration = Duration::from_secs(60);

fn signal(child: &Child, sig: libc::c_int) {
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(child.id() as libc::pid_t, sig) };
}

#[cfg(target_os = "linux")]
fn alive(pid: u32) -> bool {
    // A zombie still answers kill(0); look at its state instead.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            !s.rsplit(')')
                .next()
                .unwrap_or("")
                .trim_start()
                .starts_with('Z')
        })
        .unwrap_or(false)
}

#[cfg(target_os = "linux")]
/// The pids of `pid`'s children, once it has some (bounded wait).
fn children(pid: u32, limit: Duration) -> Vec<u32> {
    let deadline = Instant::now() + limit;
    loop {
        let mut kids = Vec::new();
        if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
            for t in tasks.flatten() {
                if let Ok(s) = std::fs::read_to_string(t.path().join("children")) {
                    kids.extend(s.split_whitespace().filter_map(|p| p.parse::<u32>().ok()));
                }
            }
        }
        if !kids.is_empty() {
            return kids;
        }
        assert!(
            Instant::now() < deadline,
            "no child process within {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[cfg(target_os = "linux")]
fn wait_gone(pid: u32, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while alive(pid) {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    true
}

fn run_against(server: &TestServer, json: &Path, extra: &[&str]) -> Child {
    let mut args = vec![
        "run",
        "--target",
        &server.addr.to_string(),
        "--warmup",
        "0s",
        "--duration",
        "60s",
        "--json",
        json.to_str().unwrap(),
    ]
    .into_iter()
    .map(String::from)
    .collect::<Vec<_>>();
    args.extend(extra.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    loadgen_cmd(&args).spawn().unwrap()
}

#[test]
fn first_ctrl_c_ends_the_window_and_writes_everything_measured() {
    let server = TestServer::start(Behaviour::Healthy);
    let dir = scratch("interrupted-run");
    let json = dir.join("r.json");
    let child = run_against(&server, &json, &["--connections", "4"]);
    server.wait_echoed(1 << 20, Duration::from_secs(20));
    let sent = Instant::now();
    signal(&child, libc::SIGINT);
    let out = wait_output(child, &["run"], LIMIT);
    took_under(sent, Duration::from_secs(10), "the exit after Ctrl-C");
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    assert!(stdout(&out).contains("INTERRUPTED"), "{}", stdout(&out));
    let v = read_json(&json);
    assert_eq!(v["interrupted"], true, "{v}");
    assert!(v["requests"].as_u64().unwrap() > 0, "{v}");
    let window = v["window_s"].as_f64().unwrap();
    assert!(window > 0.0 && window < 30.0, "{v}");
    // req/s is over the window really measured, not the 60 s asked for.
    let rps = v["throughput"]["requests_per_sec"].as_f64().unwrap();
    let expect = v["requests"].as_f64().unwrap() / window;
    assert!((rps - expect).abs() <= expect * 1e-6, "{rps} vs {expect}");
    assert_eq!(v["errors"], 0, "{v}");
}

#[test]
fn second_ctrl_c_exits_at_once() {
    // A server that never replies keeps the drain waiting for a minute.
    let server = TestServer::start(Behaviour::BlackHole);
    let dir = scratch("second-ctrl-c");
    let json = dir.join("r.json");
    let mut child = run_against(&server, &json, &["--drain-timeout", "60s", "--quiet"]);
    let lines = stderr_lines(&mut child);
    // The first request has arrived: the window (no warm-up) is open.
    let deadline = Instant::now() + Duration::from_secs(20);
    while server.received() == 0 {
        assert!(Instant::now() < deadline, "loadgen sent nothing");
        std::thread::sleep(Duration::from_millis(5));
    }
    signal(&child, libc::SIGINT);
    // The first signal has been handled once loadgen says so.
    let said = lines
        .recv_timeout(Duration::from_secs(10))
        .expect("no word after the first SIGINT");
    assert!(said.contains("received"), "{said}");
    let sent = Instant::now();
    signal(&child, libc::SIGINT);
    let out = wait_output(child, &["run"], LIMIT);
    took_under(
        sent,
        Duration::from_secs(3),
        "the exit after a second Ctrl-C",
    );
    assert_eq!(out.status.code(), Some(130));
}

/// `child`'s stderr, line by line.
fn stderr_lines(child: &mut Child) -> std::sync::mpsc::Receiver<String> {
    use std::io::BufRead;
    let pipe = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(pipe).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

#[cfg(target_os = "linux")]
/// CPU clock ticks `pid` has used (utime + stime of `/proc/PID/stat`).
fn cpu_ticks(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            let f: Vec<u64> = s
                .rsplit(')')
                .next()?
                .split_whitespace()
                .skip(11)
                .take(2)
                .filter_map(|x| x.parse().ok())
                .collect();
            Some(f.iter().sum())
        })
        .unwrap_or(0)
}

#[cfg(target_os = "linux")]
fn compare_child(dir: &Path) -> Child {
    loadgen_cmd(&words(&format!(
        "compare --models reactor --connections 1 --rounds 1 --duration 60s --warmup 0s \
         --quiet --out {}",
        dir.display(),
    )))
    .spawn()
    .unwrap()
}

#[cfg(target_os = "linux")]
#[test]
fn sigterm_to_compare_alone_stops_its_server_and_writes_the_report() {
    let dir = scratch("compare-sigterm");
    let child = compare_child(&dir);
    let server = children(child.id(), Duration::from_secs(20))[0];
    // Wait for the server to carry traffic, so the window is open.
    let deadline = Instant::now() + Duration::from_secs(20);
    // 100 ms of server CPU: requests are flowing.
    while cpu_ticks(server) < 10 {
        assert!(Instant::now() < deadline, "server carried no traffic");
        std::thread::sleep(Duration::from_millis(10));
    }
    signal(&child, libc::SIGTERM);
    let out = wait_output(child, &["compare"], LIMIT);
    assert_eq!(out.status.code(), Some(143), "{}", stderr(&out));
    assert!(
        wait_gone(server, Duration::from_secs(10)),
        "server {server} outlived compare"
    );
    let v = read_json(&dir.join("results.json"));
    assert_eq!(v["interrupted"], true, "{v}");
    assert_eq!(v["points"][0]["status"], "ok", "{v}");
    assert_eq!(v["points"][0]["interrupted"], true, "{v}");
    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(md.contains("INTERRUPTED"), "{md}");
}

/// SIGKILLs `compare` once its server child is up, and fails unless the
/// server dies with it.
#[cfg(target_os = "linux")]
fn killing_takes_the_server(mut compare: Child) {
    let server = children(compare.id(), Duration::from_secs(20))[0];
    signal(&compare, libc::SIGKILL);
    let _ = compare.wait();
    assert!(
        wait_gone(server, Duration::from_secs(10)),
        "server {server} outlived compare"
    );
}

#[cfg(target_os = "linux")]
#[test]
fn a_killed_compare_takes_its_server_with_it() {
    let dir = scratch("compare-sigkill");
    killing_takes_the_server(compare_child(&dir));
}

/// A `--server` command cannot cooperate as echod does; the kernel's
/// parent-death signal, armed between fork and exec, kills it all the same.
#[cfg(target_os = "linux")]
#[test]
fn a_killed_compare_takes_its_server_command_with_it() {
    let dir = scratch("compare-sigkill-server");
    let child = loadgen_cmd(&[
        "compare",
        "--models",
        "none",
        "--server",
        "sleeper=sleep 60 {port}",
        "--server-wait",
        "60s",
        "--quiet",
        "--out",
        dir.to_str().unwrap(),
    ])
    .spawn()
    .unwrap();
    killing_takes_the_server(child);
}

/// macOS has no parent-death signal, so there a server child watches its
/// stdin, a pipe whose only writer is loadgen: when loadgen dies, however
/// it dies, the kernel closes it. Closing it here must kill the server as
/// the kernel's signal would.
#[test]
fn a_server_child_dies_when_the_pipe_from_its_parent_closes() {
    use std::io::BufRead;
    use std::os::unix::process::ExitStatusExt;
    let mut child = loadgen_cmd(&words("serve -- --model reactor --listen 127.0.0.1:0"))
        .env("LOADGEN_SERVE_DIES_WITH_STDIN", "1")
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Listening: it is up and serving, with the pipe open. (Bounded: a
    // server that fails to start exits and so ends its stdout.)
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.starts_with("listening on"), "{line:?}");
    assert!(
        child.try_wait().unwrap().is_none(),
        "died with the pipe open"
    );
    drop(child.stdin.take());
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the server outlived its closed pipe by 10 s");
        }
        // Waiting on a child's exit: there is no readiness to await here.
        std::thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(status.signal(), Some(libc::SIGKILL), "{status}");
}
