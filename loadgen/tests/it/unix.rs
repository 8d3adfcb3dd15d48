//! `run` and `check` against echod on a Unix stream socket: measured and
//! checked exactly as over TCP, and failures named by path.

use crate::util;

use std::time::Duration;

use util::{loadgen, passes_every_check, run_json, scratch, stderr, stdout, words, UnixEchod};

const LIMIT: Duration = Duration::from_secs(30);

#[test]
fn run_over_a_unix_socket_is_measured_and_clean() {
    let server = UnixEchod::start("unix-run", &[]);
    let flags = words("--connections 4 --duration 500ms --warmup 100ms --quiet");
    let (out, v) = run_json(&server.target(), "unix-run-out", &flags);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(v["requests"].as_f64().unwrap() > 0.0, "{v}");
    assert_eq!(v["errors"].as_f64(), Some(0.0), "{v}");
    assert_eq!(v["corrupt"].as_f64(), Some(0.0), "{v}");
    assert_eq!(v["config"]["target"], server.target().as_str());
}

#[test]
fn echod_on_a_unix_socket_passes_every_check() {
    let server = UnixEchod::start("unix-check", &[]);
    passes_every_check(&server.target());
}

#[test]
fn a_missing_socket_is_one_cannot_connect_line_naming_the_path() {
    let path = scratch("unix-missing").join("nobody.sock");
    let target = format!("unix:{}", path.display());
    for cmd in ["run", "check"] {
        let out = loadgen(&[cmd, "--target", &target], LIMIT);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{cmd}: {err}");
        assert_eq!(err.lines().count(), 1, "{cmd}: {err}");
        assert!(
            err.contains(&format!("cannot connect to {target}")),
            "{cmd}: {err}"
        );
        assert!(stdout(&out).is_empty(), "{cmd}: {}", stdout(&out));
    }
}

#[test]
fn an_empty_unix_target_is_a_usage_error() {
    for cmd in ["run", "check"] {
        let out = loadgen(&[cmd, "--target", "unix:"], LIMIT);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{cmd}: {err}");
        assert!(
            err.contains("the path is empty") && err.contains("unix:"),
            "{err}"
        );
    }
}
