//! `loadgen compare --rates`: open-loop points against real echod
//! processes, latency against offered load, and the objective they are
//! judged by.

use crate::util;

use std::time::Duration;

use util::{compare_ok, loadgen, read_json, refused, scratch, stderr, stdout, words};

#[test]
fn rate_points_write_a_table_json_and_a_plot() {
    let dir = scratch("compare-rates");
    // Left by an earlier run: replaced, not kept.
    std::fs::write(dir.join("latency_load.svg"), "stale").unwrap();
    let text = compare_ok(
        &dir,
        "--models reactor,threads,iterative --connections none --flood none \
         --rates 200,2000 --rate-connections 10 --rounds 1 --duration 300ms --warmup 100ms",
        Duration::from_secs(60),
    );
    assert!(
        text.contains("Latency against offered load (open loop, 10 connections"),
        "{text}"
    );
    assert!(text.contains("objective (p99 ≤ 1 ms)"), "{text}");

    let v = read_json(&dir.join("results.json"));
    assert_eq!(v["rate_connections"], 10, "{v}");
    assert_eq!(v["slo"]["percentile"], "p99", "{v}");
    assert_eq!(v["slo"]["limit_us"], 1000.0, "{v}");
    let rates = v["rates"].as_array().unwrap();
    assert_eq!(rates.len(), 6, "{v}");
    for p in rates {
        assert_eq!(p["kind"], "rate", "{p}");
        assert_eq!(p["connections"], 10, "{p}");
        let offered = p["offered_per_sec"].as_f64().unwrap();
        assert!(offered == 200.0 || offered == 2000.0, "{p}");
        if p["model"] == "iterative" {
            assert_eq!(p["status"], "not_applicable", "{p}");
            continue;
        }
        assert_eq!(p["status"], "ok", "{p}");
        let achieved = p["requests_per_sec"]["median"].as_f64().unwrap();
        assert!(achieved > 0.0, "{p}");
        let ratio = p["achieved_ratio"].as_f64().unwrap();
        assert!((ratio - achieved / offered).abs() < 1e-9, "{p}");
        for k in [
            "p50_us",
            "p99_us",
            "p999_us",
            "max_us",
            "dispatch_lag_p99_us",
        ] {
            let s = &p[k];
            assert_eq!(s["n"], 1, "{k}: {p}");
            assert!(s["median"].as_f64().unwrap() >= 0.0, "{k}: {p}");
        }
        assert!(p["kept_up"].is_boolean() && p["held"].is_boolean(), "{p}");
        assert!(p["generator_behind"].is_boolean(), "{p}");
        assert!(p["unsent"].is_u64(), "{p}");
        assert!(p["server_cpu_us_per_request"]["median"].as_f64().unwrap() >= 0.0);
        assert!(p["server_memory"]["rss_kib"].as_u64().unwrap() > 0, "{p}");
        assert_eq!(p["errors"], 0, "{p}");
        assert_eq!(p["rounds"].as_array().map(Vec::len), Some(1), "{p}");
    }
    // Each measured model is judged, whatever it held on this machine.
    let held = v["held"].as_array().unwrap();
    let models: Vec<&str> = held.iter().map(|h| h["model"].as_str().unwrap()).collect();
    assert_eq!(models, ["reactor", "threads"], "{v}");
    assert!(v.get("knee").is_some(), "{v}");

    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(md.contains("## Latency against offered load"), "{md}");
    assert!(md.contains("![latency_load.svg](latency_load.svg)"), "{md}");
    let svg = std::fs::read_to_string(dir.join("latency_load.svg")).unwrap();
    assert!(
        svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"),
        "{svg}"
    );
    assert!(
        svg.contains("reactor") && svg.contains("objective: p99"),
        "{svg}"
    );
    assert!(!dir.join("throughput.svg").exists());
}

/// A rate no generator thread can keep up with over a few connections: the
/// point is measured and shown behind, not dropped.
#[test]
fn an_unreachable_rate_is_shown_behind() {
    let dir = scratch("compare-rates-behind");
    let out = loadgen(
        &words(&format!(
            "compare --models threads --connections none --flood none --rates 2M \
             --rate-connections 2 --rounds 1 --duration 300ms --warmup 0s --quiet --out {}",
            dir.display(),
        )),
        Duration::from_secs(60),
    );
    let text = stdout(&out);
    // Replies still owed when the drain gives up count as faults (exit 1);
    // either way the point is reported.
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{text}\n{}",
        stderr(&out)
    );
    let row = first_line(&text, "threads ");
    assert!(row.contains("behind "), "{text}");
    let v = read_json(&dir.join("results.json"));
    let p = &v["rates"][0];
    assert_eq!(p["status"], "ok", "{p}");
    assert_eq!(p["kept_up"], false, "{p}");
    assert_eq!(p["held"], false, "{p}");
    assert!(p["achieved_ratio"].as_f64().unwrap() < 0.97, "{p}");
    assert_eq!(
        v["held"][0]["highest_per_sec"],
        serde_json::Value::Null,
        "{v}"
    );
    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(md.contains("| threads | 2M | 2 | 1 | **behind "), "{md}");
    assert!(dir.join("latency_load.svg").exists());
}

/// The first line of `text` starting with `start`.
fn first_line<'a>(text: &'a str, start: &str) -> &'a str {
    text.lines()
        .find(|l| l.starts_with(start))
        .unwrap_or_else(|| panic!("no line starts with {start:?} in:\n{text}"))
}

#[test]
fn bad_rates_and_objectives_are_usage_errors() {
    for (args, needle) in [
        ("compare --rates 1k --slo p98=1ms", "--slo"),
        ("compare --rates 1k --slo p99=1", "--slo"),
        ("compare --rates 1k --slo p99", "--slo"),
        ("compare --rates 1k --slo p99=-2ms", "--slo"),
        ("compare --rates 0", "--rates"),
        ("compare --rates 5x", "--rates"),
        (
            "compare --rates 1 --duration 300ms",
            "--rates 1: schedules no request",
        ),
        (
            "compare --rates 1k --rate-connections 0",
            "--rate-connections 0",
        ),
        (
            "compare --connections none --flood none --rates none",
            "nothing left to measure",
        ),
    ] {
        refused(&words(args), needle);
    }
}
