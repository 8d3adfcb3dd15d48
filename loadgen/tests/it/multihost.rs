//! `benches/multihost.sh`: two generator "hosts" in network namespaces load
//! echod in a third, and `loadgen merge` adds their logs; the script's own
//! checks (merged req/s within 3% of the hosts' sum, merged p99 between the
//! hosts') pass, and it leaves no namespace behind.
//!
//! It needs root and network namespaces: without them the test says why
//! and passes, so it runs where CI runs as root and stays out of the way
//! elsewhere.

use crate::util;

use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use util::{scratch, stderr, stdout, LOADGEN};

/// Set-up, 200 ms of warm-up, 1 s of load, merge and teardown take a few
/// seconds; a busy machine gets the rest.
const LIMIT: Duration = Duration::from_secs(20);

/// Why this machine cannot run the script, if it cannot.
fn unable() -> Option<String> {
    // SAFETY: geteuid(2) has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Some("not root".into());
    }
    // A namespace of our own, made and removed: `ip` may be missing, or
    // namespaces denied (a container without CAP_SYS_ADMIN).
    let probe = format!("lgprobe{}", std::process::id());
    let ip = |args: &[&str]| Command::new("ip").args(args).output();
    match ip(&["netns", "add", &probe]) {
        Ok(o) if o.status.success() => {
            let _ = ip(&["netns", "del", &probe]);
            None
        }
        Ok(o) => Some(format!("ip netns add failed: {}", stderr(&o).trim())),
        Err(e) => Some(format!("cannot run ip: {e}")),
    }
}

/// Runs `bash benches/multihost.sh ARGS` with this build's loadgen (and
/// echod inside it, `loadgen serve`), bounded by [`LIMIT`]; past it the
/// script gets SIGTERM, on which it removes what it made.
fn multihost(args: &[&str]) -> (Output, u32) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../benches/multihost.sh");
    let child = Command::new("bash")
        .arg(script)
        .args(args)
        .env("LOADGEN", LOADGEN)
        .env("ECHOD", format!("{LOADGEN} serve --"))
        .env("WARMUP", "200ms")
        .env("OUT", scratch("multihost"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn bash");
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(LIMIT) {
        Ok(out) => (out.expect("wait for the script"), pid),
        Err(_) => {
            // SAFETY: kill(2) on our own child's pid.
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) };
            panic!("multihost.sh {args:?} did not finish within {LIMIT:?}");
        }
    }
}

#[test]
fn two_hosts_merge_and_leave_nothing_behind() {
    if let Some(why) = unable() {
        eprintln!("skipped: benches/multihost.sh needs root and network namespaces ({why})");
        return;
    }
    let (out, pid) = multihost(&["2", "10", "1s"]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}\n{}", stderr(&out));
    for line in ["gen1 ", "gen2 ", "merged ", "(within 3%)", "lies between"] {
        assert!(text.contains(line), "no {line:?} in:\n{text}");
    }
    // The script names its namespaces after its pid: none may remain.
    let list = Command::new("ip").args(["netns", "list"]).output().unwrap();
    let prefix = format!("mh{pid}-");
    assert!(
        !stdout(&list).contains(&prefix),
        "left behind:\n{}",
        stdout(&list)
    );
}
