//! `loadgen merge`: interval logs from generator processes that loaded the
//! same server at the same time add up to one report whose req/s is the sum
//! of the runs' own.

use crate::util;

use std::path::Path;
use std::process::Child;
use std::time::Duration;

use util::{loadgen, read_json, scratch, stderr, stdout, words, Echod, LOADGEN};

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

/// A bug: a 3 s run got a 4th, 1 s interval of late replies, so merging
/// its one log said 52,395 req/s where `run` said 69,860.
#[test]
fn one_runs_log_merges_to_the_runs_own_rate() {
    let server = Echod::start(&[]);
    let dir = scratch("merge-one");
    let child = spawn_run(
        &server.target(),
        &dir,
        "a",
        &words("--connections 4 --duration 2500ms --hdr-interval 1s"),
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
        &words("--rate 500 --duration 2s --hdr-interval 100ms"),
    );
    let b = spawn_run(
        &target,
        &dir,
        "b",
        &words("--rate 1000 --duration 2s --hdr-interval 250ms"),
    );
    wait(a);
    wait(b);
    let (req_a, rate_a) = run_rate(&dir, "a");
    let (req_b, rate_b) = run_rate(&dir, "b");
    // Their exact counts are `run`'s business (tests/it/run.rs); here only that
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
    // A usage error: the command line named the wrong file.
    assert_eq!(out.status.code(), Some(2), "{err}");
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

/// A decoded latency histogram (1 ns .. 1 h, 3 digits) is a quarter of a
/// megabyte; merge used to hold one per interval read and two per slot, so
/// a log of 2,000 intervals and their `uncorrected` twins took about 2 GB
/// of address space. Held encoded, it fits in a few MB, and the run must
/// pass under a 300 MB cap. 700 intervals (about 700 MB the old way) are
/// enough to break the cap and keep a debug build well inside the test's
/// time bound on a loaded machine. Linux only: the cap is `RLIMIT_AS`, which macOS
/// does not enforce, so elsewhere the test would prove nothing.
#[cfg(target_os = "linux")]
#[test]
fn a_long_log_merges_in_bounded_memory() {
    use std::fmt::Write as _;
    use std::os::unix::process::CommandExt;

    use base64::Engine as _;
    use hdrhistogram::serialization::{Serializer as _, V2DeflateSerializer};

    const INTERVALS: u64 = 700;
    const CAP: libc::rlim_t = 300 << 20;

    // As `run --hdr-log --hdr-interval 10ms` writes it, each interval
    // holding a different number of requests so a lost or doubled one
    // shows in the total.
    let dir = scratch("merge-long");
    let mut log = String::from(
        "#[BaseTime: 1700000000.000 (seconds since epoch)]\n\
         \"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"\n",
    );
    let mut ser = V2DeflateSerializer::new();
    let mut expected = 0;
    for k in 0..INTERVALS {
        let mut h =
            hdrhistogram::Histogram::<u64>::new_with_bounds(1, 3_600_000_000_000, 3).unwrap();
        let n = 1 + k % 7;
        for v in 0..n {
            h.record(50_000 + (k * 7 + v) * 1_000).unwrap();
        }
        expected += n;
        let mut raw = Vec::new();
        ser.serialize(&h, &mut raw).unwrap();
        let b64 = base64::engine::general_purpose::STANDARD.encode(&raw);
        let (start, max) = (k as f64 / 100.0, h.max() as f64 / 1e6);
        writeln!(log, "{start:.3},0.010,{max:.3},{b64}").unwrap();
        writeln!(log, "Tag=uncorrected,{start:.3},0.010,{max:.3},{b64}").unwrap();
    }
    let input = dir.join("long.hlog");
    std::fs::write(&input, log).unwrap();

    let (json, out) = (dir.join("long.json"), dir.join("merged.hlog"));
    let args = [
        "merge",
        path(&input),
        "--json",
        path(&json),
        "--out",
        path(&out),
    ];
    let mut cmd = util::loadgen_cmd(&args);
    // SAFETY: setrlimit(2) is async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            let cap = libc::rlimit {
                rlim_cur: CAP,
                rlim_max: CAP,
            };
            if libc::setrlimit(libc::RLIMIT_AS, &cap) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let result = util::wait_output(cmd.spawn().unwrap(), &args, LIMIT);
    assert!(result.status.success(), "{result:?}");
    let v = read_json(&json);
    assert_eq!(v["requests"].as_u64(), Some(expected), "{v}");
    assert_eq!(v["intervals"].as_u64(), Some(2 * INTERVALS), "{v}");
    assert_eq!(
        v["latency_us_uncorrected"]["count"].as_u64(),
        Some(expected)
    );
    // The merged log has every slot, each with the counts it was given.
    assert_eq!(lengths(&out).len() as u64, INTERVALS);
    let again = merge(&[path(&out)]);
    assert!(
        stdout(&again).contains(&format!(
            ": {expected} requests over {:.3} s",
            INTERVALS as f64 / 100.0
        )),
        "{}",
        stdout(&again)
    );
}

// Regression: a log that does not exist exited 1, as if the run had found
// a fault, though the command line named a wrong file, as with a file
// that is not a log (exit 2).
#[test]
fn a_missing_log_is_a_bad_command_line() {
    let missing = scratch("merge-missing").join("absent.hlog");
    let out = loadgen(&["merge", path(&missing)], LIMIT);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("cannot read ") && err.contains("absent.hlog: No such file"),
        "{err}"
    );
}
