//! `loadgen merge`: interval logs from two generator processes that loaded
//! the same server at the same time add up to one report.

mod util;

use std::time::Duration;

use util::{loadgen, read_json, scratch, stderr, stdout, Echod, LOADGEN};

#[test]
fn two_generators_merge_into_one_report() {
    let server = Echod::start(&[]);
    let dir = scratch("merge");
    let target = server.target();
    // Two generator processes at once, as two machines would be.
    let children: Vec<_> = ["a", "b"]
        .iter()
        .map(|name| {
            let log = dir.join(format!("{name}.hlog"));
            let json = dir.join(format!("{name}.json"));
            std::process::Command::new(LOADGEN)
                .args([
                    "run",
                    "--target",
                    &target,
                    "--rate",
                    "500",
                    "--duration",
                    "1s",
                    "--warmup",
                    "0s",
                    "--quiet",
                    "--hdr-interval",
                    "100ms",
                ])
                .arg("--hdr-log")
                .arg(&log)
                .arg("--json")
                .arg(&json)
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in children {
        // Each run is bounded by its own --duration plus the drain timeout.
        assert!(c.wait().unwrap().success());
    }
    let requests: f64 = ["a", "b"]
        .iter()
        .map(|n| {
            read_json(&dir.join(format!("{n}.json")))["requests"]
                .as_f64()
                .unwrap()
        })
        .sum();
    assert_eq!(requests, 1000.0);

    let merged_json = dir.join("merged.json");
    let merged_log = dir.join("merged.hlog");
    let out = loadgen(
        &[
            "merge",
            dir.join("a.hlog").to_str().unwrap(),
            dir.join("b.hlog").to_str().unwrap(),
            "--json",
            merged_json.to_str().unwrap(),
            "--out",
            merged_log.to_str().unwrap(),
        ],
        Duration::from_secs(30),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("merged 2 log(s)"), "{}", stdout(&out));
    let v = read_json(&merged_json);
    assert_eq!(v["requests"].as_f64().unwrap(), requests);
    assert!(v["latency_us"]["p99"].as_f64().unwrap() > 0.0);
    assert!(v["latency_us_uncorrected"]["count"].as_f64().unwrap() == requests);
    // Both ran for one second at about the same time, so their union spans a
    // little over one second: the last interval takes the replies that came
    // in after the window, and on a busy machine one process may start late.
    let span = v["span_s"].as_f64().unwrap();
    assert!((0.9..3.0).contains(&span), "span {span}");
    let rate = v["requests_per_sec"].as_f64().unwrap();
    assert!(
        (rate - requests / span).abs() < 1e-6 * rate,
        "rate {rate} span {span}"
    );

    // The merged log is itself a log that merges to the same total.
    let again = loadgen(
        &["merge", merged_log.to_str().unwrap()],
        Duration::from_secs(30),
    );
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(
        stdout(&again).contains(&format!(": {} requests", requests as u64)),
        "{}",
        stdout(&again)
    );
}

#[test]
fn merge_rejects_a_file_that_is_not_a_log() {
    let dir = scratch("merge-bad");
    let bogus = dir.join("bogus.hlog");
    std::fs::write(&bogus, "this is not an interval log\n").unwrap();
    let out = loadgen(&["merge", bogus.to_str().unwrap()], Duration::from_secs(30));
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("bogus.hlog"), "{err}");
}
