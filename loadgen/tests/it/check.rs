//! `loadgen check` against a correct server and against broken ones. A broken
//! server must make it fail, never hang.

use crate::util;

use std::time::{Duration, Instant};

use util::{
    fails_the_check, passes_every_check, took_under, Behaviour, Echod, TestServer, HTTP_400,
};

#[test]
fn echod_passes_every_check() {
    let server = Echod::start(&[]);
    passes_every_check(&server.target());
}

#[test]
fn echod_tokio_model_passes_every_check() {
    let server = Echod::start(&["--model", "tokio"]);
    passes_every_check(&server.target());
}

#[test]
fn corrupting_server_fails_the_check() {
    let server = TestServer::start(Behaviour::Corrupting { every: 5000 });
    let text = fails_the_check(&server.target(), "5s");
    assert!(text.contains("FAIL") && text.contains("differs"), "{text}");
}

#[test]
fn silent_server_fails_every_check_within_its_time_limit() {
    let server = TestServer::start(Behaviour::BlackHole);
    let start = Instant::now();
    let text = fails_the_check(&server.target(), "1s");
    assert!(text.contains("0/7 checks passed"), "{text}");
    took_under(
        start,
        Duration::from_secs(12),
        "seven checks of at most ~1.5 s each",
    );
}

// Regression: wrong bytes in a reply shorter than the request were only
// compared once the whole echo was in, which never happened, so the checks
// said "timed out with 33 of 16384 bytes echoed" instead of naming the
// wrong bytes.
#[test]
fn short_wrong_reply_is_reported_as_wrong_bytes_in_every_check() {
    let server = TestServer::start(Behaviour::FixedReply { reply: HTTP_400 });
    let text = fails_the_check(&server.target(), "2s");
    assert!(text.contains("0/7 checks passed"), "{text}");
    let fails: Vec<&str> = text.lines().filter(|l| l.contains("FAIL")).collect();
    assert_eq!(fails.len(), 7, "{text}");
    for line in fails {
        assert!(
            line.contains("differs") || line.contains("corrupt"),
            "not called wrong bytes: {line}"
        );
        assert!(!line.contains("timed out"), "{line}");
    }
}
