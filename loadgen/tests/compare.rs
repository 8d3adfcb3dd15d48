//! `loadgen compare` on a small sweep: every model in its own process, a
//! table, and the report files.

mod util;

use std::time::Duration;

use util::{loadgen, read_json, scratch, stderr, stdout};

#[test]
fn small_sweep_writes_table_json_markdown_and_plots() {
    let dir = scratch("compare");
    let out = loadgen(
        &[
            "compare",
            "--models",
            "reactor,threads,iterative",
            "--connections",
            "1,3",
            "--duration",
            "300ms",
            "--warmup",
            "100ms",
            "--quiet",
            "--out",
            dir.to_str().unwrap(),
        ],
        Duration::from_secs(60),
    );
    let text = stdout(&out);
    assert!(out.status.success(), "{text}\n{}", stderr(&out));
    assert!(text.contains("req/s") && text.contains("n/a"), "{text}");

    let v = read_json(&dir.join("results.json"));
    let points = v["points"].as_array().unwrap();
    assert_eq!(points.len(), 6);
    for p in points {
        let (model, conns) = (
            p["model"].as_str().unwrap(),
            p["connections"].as_u64().unwrap(),
        );
        if model == "iterative" && conns > 1 {
            assert_eq!(p["status"], "not_applicable", "{p}");
            continue;
        }
        assert_eq!(p["status"], "ok", "{p}");
        assert!(p["requests_per_sec"].as_f64().unwrap() > 0.0, "{p}");
        assert!(
            p["server_cpu_us_per_request"].as_f64().unwrap() >= 0.0,
            "{p}"
        );
        assert!(p["server_memory"]["rss_kib"].as_u64().unwrap() > 0, "{p}");
        assert!(
            p["generator_cpu_utilisation"].as_f64().unwrap() > 0.0,
            "{p}"
        );
        assert_eq!(p["errors"].as_u64(), Some(0), "{p}");
        assert_eq!(p["corrupt"].as_u64(), Some(0), "{p}");
        // SIGTERM made the server drain and exit 0.
        assert!(
            p["server_exit"]
                .as_str()
                .unwrap()
                .contains("exit status: 0"),
            "{p}"
        );
    }
    assert!(v["env"]["pinned"].is_boolean());

    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(
        md.contains("| reactor | 1 |") && md.contains("throughput.svg"),
        "{md}"
    );
    for svg in ["throughput.svg", "latency_c1.svg", "latency_c3.svg"] {
        let text = std::fs::read_to_string(dir.join(svg)).unwrap();
        assert!(
            text.starts_with("<svg") && text.trim_end().ends_with("</svg>"),
            "{svg}"
        );
        assert!(text.contains("reactor"), "{svg} has no legend");
    }
}

#[test]
fn unknown_model_is_a_usage_error() {
    let out = loadgen(
        &["compare", "--models", "reactor,fibers"],
        Duration::from_secs(30),
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("--models fibers"), "{err}");
}
