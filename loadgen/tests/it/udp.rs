//! `run` and `check` with `udp:` targets: every echod model that serves
//! datagrams is measured with every reply verified, and servers that drop,
//! damage or repeat datagrams are told apart. Loss is counted, not failed;
//! damage fails.

use crate::util;

use std::time::Duration;

use util::{
    fails_the_check, loadgen, number, read_json, run_exits, run_json, scratch, stderr, stdout,
    words, UdpBehaviour, UdpEchod, UdpTestServer,
};

const LIMIT: Duration = Duration::from_secs(30);

/// A short run, quiet so only the result counts.
const MODEST: &str = "--quiet --connections 4 --depth 2 --duration 500ms --warmup 100ms";

#[test]
fn every_udp_model_of_echod_is_measured_verified_and_loses_nothing() {
    for model in ["reactor", "threads", "tokio"] {
        let server = UdpEchod::start(&["--model", model]);
        let (out, v) = run_json(&server.target(), &format!("udp-{model}"), &words(MODEST));
        assert!(out.status.success(), "{model}: {}", stderr(&out));
        assert!(number(&v, "requests") > 50.0, "{model}: {v}");
        assert_eq!(number(&v, "corrupt"), 0.0, "{model}: {v}");
        assert_eq!(number(&v, "errors"), 0.0, "{model}: {v}");
        assert_eq!(v["clean"], true, "{model}");
        assert_eq!(v["config"]["target"], server.target().as_str());
        assert_eq!(number(&v, "config.loss_timeout"), 1.0);
        let d = &v["datagrams"];
        assert_eq!(
            number(d, "lost"),
            0.0,
            "{model}: loopback at modest load: {d}"
        );
        assert_eq!(number(d, "loss_rate"), 0.0, "{model}: {d}");
        assert_eq!(
            number(d, "delivered"),
            number(&v, "requests"),
            "{model}: {d}"
        );
        for k in ["late", "duplicate", "loss_timeout_s"] {
            assert!(d[k].is_number(), "{model}: {k} missing in {d}");
        }
        assert_eq!(d["percentiles_cover_delivered_only"], true);
        assert!(number(&v, "latency_us.p50") > 0.0, "{model}: {v}");
    }
}

#[test]
fn open_loop_over_udp_keeps_the_rate_and_the_logs_state_the_loss() {
    let server = UdpEchod::start(&[]);
    let dir = scratch("udp-open");
    let hlog = dir.join("run.hlog");
    let json = dir.join("run.json");
    let out = loadgen(
        &words(&format!(
            "run --target {} --rate 1000 --connections 2 --duration 1s --warmup 100ms \
             --hdr-log {} --json {}",
            server.target(),
            hlog.display(),
            json.display(),
        )),
        LIMIT,
    );
    let text = stdout(&out);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        text.contains("datagrams  lost 0 ")
            && text.contains("latency percentiles cover delivered replies only"),
        "{text}"
    );
    let v = read_json(&json);
    // 1000 scheduled in the window, each either sent or counted unsent: a
    // loaded machine may leave a few unsent at the window's end (one, under
    // 12% steal and another build on the other CPU); more than 5% would be
    // the generator failing its schedule.
    let (requests, unsent) = (number(&v, "requests"), number(&v, "counters.unsent"));
    assert_eq!(requests + unsent, 1000.0, "{v}");
    assert!(unsent < 50.0, "{unsent} of 1000 unsent");
    assert!(v["latency_us_uncorrected"].is_object(), "{v}");
    let log = std::fs::read_to_string(&hlog).unwrap();
    let note = format!("#[Datagrams: lost 0 (0.000% of {requests} requests");
    assert!(log.lines().any(|l| l.starts_with(&note)), "{note}\n{log}");
    // The log still reads as an interval log, the note skipped.
    let merged = loadgen(&["merge", hlog.to_str().unwrap()], LIMIT);
    assert!(merged.status.success(), "{}", stderr(&merged));
}

#[test]
fn a_server_dropping_every_tenth_datagram_shows_ten_percent_loss_and_exits_0() {
    let server = UdpTestServer::start(UdpBehaviour::Dropping { every: 10 });
    let (out, v) = run_json(
        &server.target(),
        "udp-drop",
        &words(
            "--quiet --connections 4 --depth 4 --duration 1s --warmup 100ms --loss-timeout 50ms",
        ),
    );
    assert!(out.status.success(), "loss is no fault: {}", stderr(&out));
    assert_eq!(v["clean"], true, "{v}");
    let d = &v["datagrams"];
    let rate = number(d, "loss_rate");
    assert!(number(d, "lost") >= 10.0, "{d}");
    // 16 slots at 10% loss would all be stuck after ~160 requests if a
    // lost request did not free its slot.
    assert!(number(&v, "requests") > 500.0, "{v}");
    assert!((0.07..=0.13).contains(&rate), "loss rate {rate}: {d}");
    assert_eq!(number(d, "late") + number(d, "duplicate"), 0.0, "{d}");
    assert_eq!(number(&v, "config.loss_timeout"), 0.05);
    // The note is a warning even with --quiet.
    assert!(stderr(&out).contains("were lost"), "{}", stderr(&out));
    assert!(server.received() > 100);
}

#[test]
fn a_server_corrupting_datagrams_fails_the_run_naming_corruption() {
    let server = UdpTestServer::start(UdpBehaviour::Corrupting { every: 50 });
    let (out, v) = run_exits(&server.target(), MODEST, 1);
    let err = stderr(&out);
    assert!(number(&v, "corrupt") > 0.0, "{v}");
    assert_eq!(v["clean"], false);
    assert!(err.contains("corrupt"), "{err}");
    assert!(err.contains(&server.target()), "{err}");
}

#[test]
fn a_duplicating_server_has_its_duplicates_counted_not_failed() {
    let server = UdpTestServer::start(UdpBehaviour::Duplicating);
    let (_, v) = run_exits(&server.target(), MODEST, 0);
    let d = &v["datagrams"];
    let requests = number(&v, "requests");
    assert!(requests > 50.0, "{v}");
    // Every reply came twice; only the copies of the last few replies may
    // arrive after the drain has ended.
    assert!(
        number(d, "duplicate") >= requests - 8.0,
        "{d} vs {requests}"
    );
    assert_eq!(number(d, "lost"), 0.0, "{d}");
    assert_eq!(number(&v, "corrupt"), 0.0, "a duplicate is not damage: {v}");
}

#[test]
fn check_passes_against_echod_udp_and_lists_stream_checks_as_not_applicable() {
    let server = UdpEchod::start(&[]);
    let out = loadgen(
        &["check", "--target", &server.target()],
        Duration::from_secs(90),
    );
    let text = stdout(&out);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("6/6 checks passed (4 stream-only checks not applicable)"),
        "{text}"
    );
    assert_eq!(text.matches(" n/a ").count(), 4, "{text}");
    assert!(text.contains("65507 B"), "{text}");
    assert!(!text.contains("FAIL"), "{text}");
}

#[test]
fn check_fails_against_a_corrupting_udp_server() {
    let server = UdpTestServer::start(UdpBehaviour::Corrupting { every: 1 });
    let text = fails_the_check(&server.target(), "3s");
    assert!(text.contains("FAIL") && text.contains("differs"), "{text}");
    // The empty datagram has no byte to damage: that check still passes.
    assert!(text.contains("1/6 checks passed"), "{text}");
}

#[test]
fn a_request_that_cannot_be_one_datagram_is_refused_with_exit_2() {
    for (target, most) in [("udp:127.0.0.1:7", "65507"), ("udp:[::1]:7", "65527")] {
        let out = loadgen(&["run", "--target", target, "--size", "70000"], LIMIT);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains("--size 70000") && err.contains(most), "{err}");
    }
}

#[test]
fn nothing_listening_on_a_udp_port_is_one_line_naming_it() {
    // Bound, then released: nothing listens there, and the kernel says so.
    let addr = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let target = format!("udp:{addr}");
    for cmd in ["run", "check"] {
        let out = loadgen(
            &[cmd, "--target", &target, "--duration", "300ms"][..if cmd == "run" { 5 } else { 3 }],
            LIMIT,
        );
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{cmd}: {err}");
        assert_eq!(err.lines().count(), 1, "{cmd}: {err}");
        // One wording for both, and for TCP: the connection is refused.
        assert!(
            err.contains(&format!(
                "cannot connect to {target}: nothing listens there"
            )),
            "{cmd}: {err}"
        );
    }
}

#[test]
fn run_and_check_help_document_udp_targets() {
    let run = stdout(&loadgen(&["run", "--help"], LIMIT));
    for says in [
        "udp:HOST:PORT",
        "--loss-timeout",
        "counted lost",
        "percentiles cover delivered replies only",
        "coordinated omission",
    ] {
        assert!(run.contains(says), "run --help lacks {says:?}:\n{run}");
    }
    let check = stdout(&loadgen(&["check", "--help"], LIMIT));
    assert!(check.contains("udp:HOST:PORT"), "{check}");
}
