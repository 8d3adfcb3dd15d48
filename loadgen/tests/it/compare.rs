//! `loadgen compare` on a small sweep: every model in its own process, over
//! rounds, a table with spreads, and the report files.

use crate::util;

use std::time::Duration;

use util::{compare_ok, loadgen, read_json, scratch, stderr};

/// The texts of an SVG, trimmed: its labels.
fn texts(svg: &str) -> Vec<&str> {
    svg.split("</text>")
        .filter_map(|t| Some(t.rsplit_once('>')?.1.trim()))
        .collect()
}

#[test]
fn small_sweep_writes_table_json_markdown_and_plots() {
    let dir = scratch("compare");
    // Left by an earlier run: must not survive into this report.
    std::fs::write(dir.join("latency_c99.svg"), "<svg/>").unwrap();
    std::fs::write(dir.join("timeline_c99.svg"), "<svg/>").unwrap();
    std::fs::write(dir.join("saturation.svg"), "<svg/>").unwrap();
    std::fs::write(dir.join("notes.txt"), "mine").unwrap();
    let text = compare_ok(
        &dir,
        "--models reactor,threads,iterative --connections 1,3 --flood none \
         --rounds 2 --duration 300ms --warmup 100ms",
        Duration::from_secs(90),
    );
    assert!(text.contains("req/s") && text.contains("n/a"), "{text}");

    let v = read_json(&dir.join("results.json"));
    assert_eq!(v["config"]["rounds"], 2);
    assert_eq!(v["interrupted"], false);
    assert!(v["machine_load"]["before"]["loadavg"].is_array(), "{v}");
    // Pinned, or it says why not (e.g. macOS has no CPU affinity).
    let env = &v["env"];
    assert!(
        (env["pinned"] == true) != env["not_pinned"].is_string(),
        "{env}"
    );
    // A figure is a number or n/a with its reason, never silently absent.
    for f in ["steal_percent", "other_cpu_percent"] {
        let x = &v["machine_load"][f];
        assert!(x.is_f64() || x["n/a"].is_string(), "{f}: {x}");
    }
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
        assert_eq!(p["rounds_measured"], 2, "{p}");
        let rps = &p["requests_per_sec"];
        let (lo, mid, hi) = (
            rps["min"].as_f64().unwrap(),
            rps["median"].as_f64().unwrap(),
            rps["max"].as_f64().unwrap(),
        );
        assert!(0.0 < lo && lo <= mid && mid <= hi, "{p}");
        assert!(p["server_cpu_us_per_request"]["median"].as_f64().unwrap() >= 0.0);
        assert!(p["p99_us"]["median"].as_f64().unwrap() > 0.0, "{p}");
        assert!(p["spectrum"].as_array().unwrap().len() > 20, "{p}");
        assert!(p["server_memory"]["rss_kib"].as_u64().unwrap() > 0, "{p}");
        assert_eq!(p["errors"].as_u64(), Some(0), "{p}");
        assert_eq!(p["corrupt"].as_u64(), Some(0), "{p}");
        // A 300 ms window is one interval of the timeline, shorter than
        // a second.
        let t = p["timeline"].as_array().unwrap();
        assert_eq!(t.len(), 1, "{p}");
        assert_eq!(t[0]["start_s"], 0.0, "{p}");
        assert!(t[0]["requests_per_sec"].as_f64().unwrap() > 0.0, "{p}");
        assert!(t[0]["p99_us"].as_f64().unwrap() > 0.0, "{p}");
        let rounds = p["rounds"].as_array().unwrap();
        assert_eq!(rounds.len(), 2, "{p}");
        for r in rounds {
            // SIGTERM made the server drain and exit 0.
            assert!(
                r["server_exit"]
                    .as_str()
                    .unwrap()
                    .contains("exit status: 0"),
                "{r}"
            );
        }
    }
    let rankings = v["rankings"].as_array().unwrap();
    assert_eq!(rankings.len(), 2, "{v}");
    assert!(rankings[0]["verdict"].as_str().unwrap().len() > 10);

    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(
        md.contains("reactor") && md.contains("throughput.svg"),
        "{md}"
    );
    assert!(
        md.contains("## Over time") && md.contains("No round was two seconds long"),
        "{md}"
    );
    let svg = std::fs::read_to_string(dir.join("throughput.svg")).unwrap();
    let labels = texts(&svg);
    assert!(
        labels.contains(&"1") && labels.contains(&"3") && !labels.contains(&"2"),
        "the x axis is not labelled at the measured counts alone: {labels:?}"
    );
    assert!(
        !dir.join("throughput_mb.svg").exists(),
        "MB/s plot for 512 B"
    );
    for svg in [
        "throughput.svg",
        "latency_c1.svg",
        "latency_c3.svg",
        "timeline_c1.svg",
        "timeline_c3.svg",
    ] {
        let text = std::fs::read_to_string(dir.join(svg)).unwrap();
        assert!(
            text.starts_with("<svg") && text.trim_end().ends_with("</svg>"),
            "{svg}"
        );
        assert!(text.contains("reactor"), "{svg} has no legend");
    }
    assert!(
        !dir.join("latency_c99.svg").exists() && !dir.join("timeline_c99.svg").exists(),
        "a stale plot survived"
    );
    assert!(
        !dir.join("saturation.svg").exists(),
        "a stale saturation plot survived a sweep without saturation points"
    );
    assert_eq!(v["saturation"].as_array().map(Vec::len), Some(0), "{v}");
    assert!(!md.contains("## Saturation"), "{md}");
    assert!(
        dir.join("notes.txt").exists(),
        "a file not ours was removed"
    );
}

// Large requests: MB/s beside req/s in the table and a plot of its own;
// a window of over two seconds gives every point a timeline to judge.
#[test]
fn large_requests_get_megabytes_and_the_seconds_are_judged() {
    let dir = scratch("compare-mb");
    let text = compare_ok(
        &dir,
        "--models reactor --connections 2 --flood none --size 4K --rounds 1 \
         --duration 2100ms --warmup 0s",
        Duration::from_secs(60),
    );
    let head = text.lines().find(|l| l.starts_with("model")).unwrap();
    assert!(head.contains("req/s") && head.contains("MB/s"), "{text}");
    let svg = std::fs::read_to_string(dir.join("throughput_mb.svg")).unwrap();
    assert!(svg.contains("MB/s (requests/s x 4096 B)"), "{svg:.300}");
    let v = read_json(&dir.join("results.json"));
    let p = &v["points"][0];
    let t = p["timeline"].as_array().unwrap();
    assert_eq!(t.len(), 3, "{p}");
    assert!(
        (t[2]["length_s"].as_f64().unwrap() - 0.1).abs() < 1e-9,
        "{p}"
    );
    let slowest = &p["slowest_second"];
    assert_eq!(slowest["round"], 1, "{p}");
    assert!(slowest["share"].as_f64().unwrap() > 0.0, "{p}");
    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(md.contains("## Over time"), "{md}");
}

#[test]
fn saturation_points_rank_by_mb_per_server_cpu_second() {
    let dir = scratch("compare-flood");
    std::fs::write(dir.join("throughput.svg"), "<svg/>").unwrap();
    let text = compare_ok(
        &dir,
        "--models reactor,threads,iterative --connections none --flood 2 \
         --rounds 1 --duration 1s --warmup 100ms",
        Duration::from_secs(60),
    );
    assert!(
        text.contains("Saturation (flood, 1 MiB unechoed per connection"),
        "{text}"
    );
    assert!(
        text.contains("Ranking by median MB per server CPU-second:"),
        "{text}"
    );

    let v = read_json(&dir.join("results.json"));
    assert_eq!(v["config"]["flood_connections"][0], 2, "{v}");
    assert_eq!(v["config"]["window"], 1 << 20);
    assert_eq!(v["points"].as_array().map(Vec::len), Some(0));
    let points = v["saturation"].as_array().unwrap();
    assert_eq!(points.len(), 3);
    for p in points {
        assert_eq!(p["kind"], "flood", "{p}");
        if p["model"] == "iterative" {
            assert_eq!(p["status"], "not_applicable", "{p}");
            continue;
        }
        assert_eq!(p["status"], "ok", "{p}");
        for k in ["mb_per_sec", "mb_per_server_cpu_second"] {
            assert!(p[k]["median"].as_f64().unwrap() > 0.0, "{k}: {p}");
        }
        assert!(p["server_cpu_utilisation"].as_f64().unwrap() > 0.0, "{p}");
        // A thread's CPU is counted in clock ticks (10 ms): a lightly
        // loaded server's may round to none.
        assert!(
            p["busiest_thread_utilisation"].as_f64().unwrap() >= 0.0,
            "{p}"
        );
        assert!(
            p["generator_cpu_utilisation"].as_f64().unwrap() > 0.0,
            "{p}"
        );
        let limit = p["limit"].as_str().unwrap();
        assert!(limit == "server" || limit == "generator", "{p}");
        assert_eq!(p["generator_bound"], limit == "generator", "{p}");
        assert_eq!(p["errors"], 0, "{p}");
        assert_eq!(p["corrupt"], 0, "{p}");
        let r = &p["rounds"][0];
        assert!(r["echoed_bytes"].as_u64().unwrap() > 0, "{r}");
        assert!(r["limit"].is_string(), "{r}");
    }
    let rankings = v["saturation_rankings"].as_array().unwrap();
    assert_eq!(rankings.len(), 1, "{v}");
    assert!(rankings[0]["verdict"]
        .as_str()
        .unwrap()
        .contains("MB per server CPU-second"));

    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(md.contains("## Saturation (flood)"), "{md}");
    assert!(md.contains("![saturation.svg](saturation.svg)"), "{md}");
    assert!(!md.contains("## Results"), "{md}");
    let svg = std::fs::read_to_string(dir.join("saturation.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("reactor"), "{svg}");
    assert!(
        !dir.join("throughput.svg").exists(),
        "a stale throughput plot survived a sweep without closed-loop points"
    );
}

#[test]
fn a_sweep_that_measures_nothing_draws_no_plot() {
    let dir = scratch("compare-empty");
    compare_ok(
        &dir,
        "--models iterative --connections 3",
        Duration::from_secs(30),
    );
    assert!(dir.join("results.json").exists());
    let svgs = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".svg"))
        .count();
    assert_eq!(svgs, 0);
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

/// Runs `loadgen compare ARGS` with io_uring denied to it and its servers.
#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
fn compare_without_io_uring(args: &str) -> std::process::Output {
    let args = util::words(args);
    let mut cmd = util::loadgen_cmd(&args);
    util::deny_io_uring(&mut cmd);
    let child = cmd.spawn().expect("spawn loadgen");
    util::wait_output(child, &args, Duration::from_secs(60))
}

#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
#[test]
fn a_model_that_cannot_start_is_na_with_its_reason_and_the_others_are_measured() {
    let dir = scratch("compare-no-uring");
    let out = compare_without_io_uring(&format!(
        "compare --models reactor,uring --connections 1 --flood 1 --rounds 2 \
         --duration 200ms --warmup 0s --out {}",
        dir.display(),
    ));
    let (text, err) = (util::stdout(&out), stderr(&out));
    assert!(out.status.success(), "{text}\n{err}");
    // Said once, with the reason, and never started again.
    let said: Vec<&str> = err.lines().filter(|l| l.contains("unavailable")).collect();
    assert_eq!(said.len(), 1, "{err}");
    assert!(said[0].contains("uring"), "{err}");
    assert!(!err.contains("round 1/2 uring") && !err.contains("round 2/2 uring"));
    // n/a in both tables, with echod's reason (whatever its words).
    let na: Vec<&str> = text.lines().filter(|l| l.starts_with("uring ")).collect();
    assert_eq!(na.len(), 2, "{text}");
    for l in na {
        assert!(l.contains("n/a (") && l[5..].contains("uring"), "{l}");
    }

    let v = read_json(&dir.join("results.json"));
    for kind in ["points", "saturation"] {
        let points = v[kind].as_array().unwrap();
        assert_eq!(points.len(), 2, "{kind}: {v}");
        for p in points {
            if p["model"] == "reactor" {
                assert_eq!(p["status"], "ok", "{p}");
                assert_eq!(p["rounds_measured"], 2, "{p}");
            } else {
                assert_eq!(p["status"], "unavailable", "{p}");
                assert!(p["reason"].as_str().unwrap().contains("uring"), "{p}");
                assert_eq!(p["rounds"].as_array().map(Vec::len), Some(0), "{p}");
            }
        }
    }
    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(md.contains("| uring | 1 | – | n/a: "), "{md}");
    for svg in ["throughput.svg", "saturation.svg", "latency_c1.svg"] {
        let svg = std::fs::read_to_string(dir.join(svg)).unwrap();
        assert!(svg.contains("uring: n/a ("), "{svg}");
    }

    // With no other model, nothing was measured: not a success.
    let only = compare_without_io_uring(&format!(
        "compare --models uring --connections 1 --flood none --rounds 3 --quiet --out {}",
        dir.display(),
    ));
    assert_eq!(only.status.code(), Some(1), "{}", stderr(&only));
    assert_eq!(stderr(&only).matches("unavailable").count(), 1);
}
