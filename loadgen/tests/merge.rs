//! `loadgen merge`: interval logs from generator processes that loaded the
//! same server at the same time add up to one report whose req/s is the sum
//! of the runs' own.

mod util;

use std::path::Path;
use std::process::Child;
use std::time::Duration;

use util::{loadgen, read_json, scratch, stderr, stdout, Echod, LOADGEN};

const LIMIT: Duration = Duration::from_secs(30);

/// Starts `loadgen run` against `target` writing `dir/NAME.hlog` and
/// `dir/NAME.json`; returns at once, as a second machine would.
fn spawn_run(target: &str, dir: &Path, name: &str, extra: &[&str]) -> Child {
    std::process::Command::new(LOADGEN)
        .args(["run", "--target", target, "--warmup", "0s", "--quiet"])
        .args(extra)
        .arg("--hdr-log")
        .arg(dir.join(format!("{name}.hlog")))
        .arg("--json")
        .arg(dir.join(format!("{name}.json")))
        .spawn()
        .unwrap()
}

fn wait(mut c: Child) {
    // Each run is bounded by its own --duration plus the drain timeout.
    assert!(c.wait().unwrap().success());
}

/// `(requests, requests_per_sec)` a run reported in its JSON.
fn run_rate(dir: &Path, name: &str) -> (f64, f64) {
    let v = read_json(&dir.join(format!("{name}.json")));
    (
        v["requests"].as_f64().unwrap(),
        v["throughput"]["requests_per_sec"].as_f64().unwrap(),
    )
}

/// `loadgen merge ARGS`, which must succeed.
fn merge(args: &[&str]) -> std::process::Output {
    let mut all = vec!["merge"];
    all.extend_from_slice(args);
    let out = loadgen(&all, LIMIT);
    assert!(out.status.success(), "{}", stderr(&out));
    out
}

/// The lengths of a log's untagged intervals, as written.
fn lengths(log: &Path) -> Vec<String> {
    std::fs::read_to_string(log)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with('"') && !l.starts_with("Tag="))
        .map(|l| l.split(',').nth(1).unwrap().to_owned())
        .collect()
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Issue 6: a 3 s run got a 4th, 1 s interval of late replies, so merging
/// its one log said 52,395 req/s where `run` said 69,860.
#[test]
fn one_runs_log_merges_to_the_runs_own_rate() {
    let server = Echod::start(&[]);
    let dir = scratch("merge-one");
    let child = spawn_run(
        &server.target(),
        &dir,
        "a",
        &[
            "--connections",
            "4",
            "--duration",
            "2500ms",
            "--hdr-interval",
            "1s",
        ],
    );
    wait(child);
    let (requests, rate) = run_rate(&dir, "a");
    assert!(requests > 0.0);
    // The window is 2.5 intervals: the last one is half long.
    assert_eq!(lengths(&dir.join("a.hlog")), ["1.000", "1.000", "0.500"]);

    let json = dir.join("merged.json");
    merge(&[path(&dir.join("a.hlog")), "--json", path(&json)]);
    let v = read_json(&json);
    assert_eq!(v["requests"].as_f64().unwrap(), requests);
    assert!((v["span_s"].as_f64().unwrap() - 2.5).abs() < 1e-9, "{v}");
    let merged = v["requests_per_sec"].as_f64().unwrap();
    assert!(
        (merged - rate).abs() <= 1e-3 * rate,
        "merge says {merged} req/s, run said {rate}"
    );
}

#[test]
fn two_simultaneous_runs_merge_to_the_sum_of_their_rates() {
    let server = Echod::start(&[]);
    let dir = scratch("merge-two");
    let target = server.target();
    // Two generator processes at once, as two machines would be, logging
    // with different interval lengths.
    let a = spawn_run(
        &target,
        &dir,
        "a",
        &[
            "--rate",
            "500",
            "--duration",
            "2s",
            "--hdr-interval",
            "100ms",
        ],
    );
    let b = spawn_run(
        &target,
        &dir,
        "b",
        &[
            "--rate",
            "1000",
            "--duration",
            "2s",
            "--hdr-interval",
            "250ms",
        ],
    );
    wait(a);
    wait(b);
    let (req_a, rate_a) = run_rate(&dir, "a");
    let (req_b, rate_b) = run_rate(&dir, "b");
    // Their exact counts are `run`'s business (tests/run.rs); here only that
    // merge adds them up.
    assert!(req_a > 0.0 && req_b > 0.0, "{req_a} {req_b}");

    let merged_json = dir.join("merged.json");
    let merged_log = dir.join("merged.hlog");
    let out = merge(&[
        path(&dir.join("a.hlog")),
        path(&dir.join("b.hlog")),
        "--json",
        path(&merged_json),
        "--out",
        path(&merged_log),
    ]);
    assert!(stdout(&out).contains("merged 2 log(s)"), "{}", stdout(&out));
    // Started together, so they overlap well unless the machine is very
    // busy; never not at all.
    assert!(!stderr(&out).contains("do not overlap"), "{}", stderr(&out));
    let v = read_json(&merged_json);
    assert_eq!(v["requests"].as_f64().unwrap(), req_a + req_b);
    let rate = v["requests_per_sec"].as_f64().unwrap();
    let sum = rate_a + rate_b;
    assert!(
        (rate - sum).abs() <= 1e-3 * sum,
        "merged {rate}, runs {sum}"
    );
    assert_eq!(
        v["latency_us_uncorrected"]["count"].as_f64().unwrap(),
        req_a + req_b
    );
    assert!(v["latency_us"]["p99"].as_f64().unwrap() > 0.0);

    // The merged log steps by the coarser length, 250 ms; only its last
    // slot, which ends with the later run, may be shorter.
    let slots = lengths(&merged_log);
    let (last, full) = slots.split_last().unwrap();
    assert!(full.iter().all(|l| l == "0.250"), "{slots:?}");
    assert!(last.parse::<f64>().unwrap() <= 0.25, "{slots:?}");
    // It is itself a log, and merges to the same total.
    let again = merge(&[path(&merged_log)]);
    assert!(
        stdout(&again).contains(&format!(": {} requests", req_a + req_b)),
        "{}",
        stdout(&again)
    );
}

#[test]
fn a_text_file_is_refused_in_one_line_of_english() {
    // The project README: the first thing someone mistypes.
    let readme = Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md");
    let out = loadgen(&["merge", path(&readme)], LIMIT);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("error: ")
            && err.contains("README.md: not an HdrHistogram interval log (line "),
        "{err}"
    );
    assert!(!err.contains("ParseError") && !err.contains('{'), "{err}");

    let dir = scratch("merge-bad");
    let empty = dir.join("empty.hlog");
    std::fs::write(&empty, "#[BaseTime: 0.000 (seconds since epoch)]\n").unwrap();
    let out = loadgen(&["merge", path(&empty)], LIMIT);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("empty.hlog: contains no intervals"),
        "{}",
        stderr(&out)
    );
}
