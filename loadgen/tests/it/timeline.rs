//! The per-interval timeline of `loadgen run`: the `timeline` of `--json`,
//! the report's per-second lines, `--plot`, and a stall that must show.

use crate::util;

use std::time::Duration;

use util::{number, refused, run_exits, scratch, stderr, stdout, Behaviour, Echod, TestServer};

/// The `timeline` array of a run's JSON.
fn timeline(v: &serde_json::Value) -> &Vec<serde_json::Value> {
    v["timeline"].as_array().expect("a timeline array")
}

/// Fails unless the intervals tile the window and their rates add back up
/// to the requests counted (within one interval's worth).
fn adds_up(v: &serde_json::Value, interval: f64) {
    let t = timeline(v);
    let window = number(v, "window_s");
    assert_eq!(t.len(), (window / interval).ceil() as usize, "{v}");
    let mut sum = 0.0;
    for (k, p) in t.iter().enumerate() {
        assert!(
            (number(p, "start_s") - k as f64 * interval).abs() < 1e-9,
            "{p}"
        );
        sum += number(p, "requests_per_sec") * number(p, "length_s");
    }
    let requests = number(v, "requests");
    let one = requests / t.len() as f64;
    assert!((sum - requests).abs() <= one, "{sum} vs {requests}");
}

#[test]
fn a_run_has_a_timeline_in_its_json_its_report_and_its_plot() {
    let server = Echod::start(&[]);
    let plot = scratch("timeline-plot").join("t.svg");
    let flags = format!(
        "--connections 2 --duration 2s --warmup 0s --hdr-interval 500ms --plot {}",
        plot.display()
    );
    let (out, v) = run_exits(&server.target(), &flags, 0);
    adds_up(&v, 0.5);
    for p in timeline(&v) {
        assert!(number(p, "requests_per_sec") > 0.0, "{p}");
        assert!(number(p, "p99_us") > 0.0, "{p}");
        assert!(number(p, "mb_per_sec") > 0.0, "{p}");
    }
    let text = stdout(&out);
    assert!(text.contains("per 500ms  req/s "), "{text}");
    assert!(
        text.lines().any(|l| l.starts_with("           p99   ")),
        "{text}"
    );
    let svg = std::fs::read_to_string(&plot).unwrap();
    assert!(
        svg.starts_with("<svg") && svg.contains("p99 latency"),
        "{svg:.200}"
    );
    assert!(!stderr(&out).contains("STALL"), "{}", stderr(&out));
}

#[test]
fn a_flood_timeline_has_megabytes_and_no_latency() {
    let server = Echod::start(&[]);
    let (out, v) = run_exits(
        &server.target(),
        "--connections 2 --flood --duration 1s --warmup 0s --hdr-interval 250ms",
        0,
    );
    let t = timeline(&v);
    assert_eq!(t.len(), 4, "{v}");
    assert!(t.iter().all(|p| p["p99_us"].is_null()), "{v}");
    let mb: f64 = t.iter().map(|p| number(p, "mb_per_sec") * 0.25).sum();
    let total = number(&v, "flood.echoed_bytes") / 1e6;
    assert!(
        (mb - total).abs() < 1e-6 * total.max(1.0),
        "{mb} vs {total}"
    );
    assert!(
        stdout(&out).contains("per 250ms  MB/s "),
        "{}",
        stdout(&out)
    );
}

// A server that stops for two seconds in the middle of a five-second run:
// the run's average hides it, its timeline must not. (The pause is the
// server's behaviour under test, not synchronisation.)
#[test]
fn a_stall_shows_in_the_timeline_and_is_named() {
    let server = TestServer::start(Behaviour::Freezing {
        period: Duration::from_secs(4),
        freeze: Duration::from_secs(2),
    });
    let (out, v) = run_exits(
        &server.target(),
        "--connections 2 --duration 5s --warmup 0s",
        0,
    );
    adds_up(&v, 1.0);
    let rates: Vec<f64> = timeline(&v)
        .iter()
        .map(|p| number(p, "requests_per_sec"))
        .collect();
    let best = rates.iter().copied().fold(0.0, f64::max);
    // Window second 2 lies wholly inside the server's frozen seconds 2-4
    // (the window opens a little after the server started).
    assert!(rates[2] < best * 0.05, "{rates:?}");
    let err = stderr(&out);
    assert!(
        err.contains("STALL: ") && err.contains("s of the window ("),
        "{err}"
    );
    let text = stdout(&out);
    assert!(text.contains("per second req/s "), "{text}");
}

// The same kind of server in an open loop: every request of the frozen second is
// still sent on schedule and answered late, so the rate holds and only
// the latency of those seconds shows the stall, which must be named.
#[test]
fn an_open_loop_stall_holds_the_rate_and_is_named_by_its_latency() {
    let server = TestServer::start(Behaviour::Freezing {
        period: Duration::from_secs(4),
        freeze: Duration::from_secs(1),
    });
    let (out, v) = run_exits(
        &server.target(),
        "--connections 2 --rate 200 --duration 6s --warmup 0s",
        0,
    );
    let t = timeline(&v);
    let rates: Vec<f64> = t.iter().map(|p| number(p, "requests_per_sec")).collect();
    let p99: Vec<f64> = t.iter().map(|p| number(p, "p99_us")).collect();
    // The server is frozen in its seconds 3-4 (and again at 7-8, after the
    // window): one window second's replies wait up to a second.
    assert!(p99.iter().any(|&p| p > 300_000.0), "{p99:?}");
    assert!(rates.iter().all(|&r| r > 150.0), "{rates:?}");
    let err = stderr(&out);
    assert!(
        err.contains("STALL: p99 ") && err.contains("x the median p99"),
        "{err} {p99:?}"
    );
}

#[test]
fn a_plot_path_that_cannot_be_written_is_refused_before_the_run() {
    let server = Echod::start(&[]);
    let dir = scratch("timeline-refused");
    let bad = dir.join("missing/t.svg");
    let target = server.target();
    let args = ["run", "--target", &target, "--plot", bad.to_str().unwrap()];
    refused(&args, "--plot ");
}
