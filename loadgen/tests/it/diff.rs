//! `loadgen diff`: hand-built results files (today's shapes, and with the
//! open-loop `rates`, an external server's `kind` and a run's `timeline`)
//! judged point by point, the refusals, and one real pair of compares;
//! then two entries of one compare, judged from their paired rounds.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Value};

use crate::util::{loadgen, refused, scratch, stderr, stdout};

/// A figure over 3 rounds: `median` with rounds 2% either side.
fn fig(median: f64) -> Value {
    json!({"median": median, "min": median * 0.98, "max": median * 1.02, "n": 3})
}

fn closed(model: &str, conns: u32, rps: f64, cpu: f64, p99: f64) -> Value {
    json!({
        "model": model, "connections": conns, "kind": "closed", "status": "ok",
        "rounds_measured": 3, "requests_per_sec": fig(rps),
        "server_cpu_us_per_request": fig(cpu), "p99_us": fig(p99), "mb_per_sec": 1.0,
        "rounds": [], "some_field_from_the_future": {"x": 1}
    })
}

fn flood(model: &str, conns: u32, mbs: f64, per_cpu: f64) -> Value {
    json!({
        "model": model, "connections": conns, "kind": "flood", "status": "ok",
        "mb_per_sec": fig(mbs), "mb_per_server_cpu_second": fig(per_cpu), "rounds": []
    })
}

/// A compare result: reactor and threads at 1 and 100 connections, an
/// n/a iterative point, one flood point, and `slow` times the req/s of
/// reactor x 100 (its CPU per echo divided alike).
fn compare_file(slow: f64) -> Value {
    json!({
        "tool": "loadgen 0.1.0",
        "points": [
            closed("reactor", 1, 20e3, 30.0, 200.0),
            closed("threads", 1, 19e3, 32.0, 210.0),
            closed("reactor", 100, 150e3 * slow, 4.0 / slow, 1500.0),
            closed("threads", 100, 120e3, 6.0, 2500.0),
            {"model": "iterative", "connections": 100, "kind": "closed",
             "status": "not_applicable", "reason": "serves one client at a time", "rounds": []},
        ],
        "rankings": [],
        "saturation": [flood("reactor", 50, 900.0, 1500.0)],
        "saturation_rankings": []
    })
}

fn write(dir: &Path, name: &str, v: &Value) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_string_pretty(v).unwrap()).unwrap();
    path
}

/// `loadgen diff OLD NEW EXTRA…`: its exit code, stdout and stderr.
fn diff(old: &Path, new: &Path, extra: &[&str]) -> (Option<i32>, String, String) {
    let mut args = vec!["diff", old.to_str().unwrap(), new.to_str().unwrap()];
    args.extend_from_slice(extra);
    let out = loadgen(&args, Duration::from_secs(30));
    (out.status.code(), stdout(&out), stderr(&out))
}

/// The verdict on `point`'s row of the table.
fn verdict_of<'a>(table: &'a str, point: &str) -> &'a str {
    let row = table
        .lines()
        .find(|l| l.starts_with(&format!("{point} ")))
        .unwrap_or_else(|| panic!("no row for {point}:\n{table}"));
    ["faster", "slower", "mixed", "no clear difference", "n/a"]
        .into_iter()
        .find(|v| row.contains(v))
        .unwrap_or_else(|| panic!("no verdict on {row}"))
}

#[test]
fn a_file_against_itself_is_no_clear_difference_everywhere() {
    let dir = scratch("diff-self");
    let a = write(&dir, "a.json", &compare_file(1.0));
    let json_out = dir.join("diff.json");
    let md = dir.join("diff.md");
    let (code, out, err) = diff(
        &a,
        &a,
        &[
            "--json",
            json_out.to_str().unwrap(),
            "--markdown",
            md.to_str().unwrap(),
            "--fail-on-slower",
        ],
    );
    assert_eq!(code, Some(0), "{out}{err}");
    for p in [
        "reactor x 1 conns",
        "threads x 1 conns",
        "reactor x 100 conns",
        "threads x 100 conns",
        "reactor x 50 conns",
    ] {
        assert_eq!(verdict_of(&out, p), "no clear difference", "{out}");
    }
    assert!(
        out.contains("iterative x 100 conns") && out.contains("n/a (serves one client"),
        "{out}"
    );
    assert!(!out.contains("only in"), "{out}");
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&json_out).unwrap()).unwrap();
    assert_eq!(v["points"].as_array().unwrap().len(), 6, "{v}");
    assert_eq!(v["points"][0]["figures"][0]["change"], "overlap", "{v}");
    let md = std::fs::read_to_string(&md).unwrap();
    assert!(
        md.contains("| point | figure | OLD | NEW | change | verdict |"),
        "{md}"
    );
}

#[test]
fn a_slowed_point_is_slower_and_only_it() {
    let dir = scratch("diff-slow");
    let old = write(&dir, "old.json", &compare_file(1.0));
    let new = write(&dir, "new.json", &compare_file(0.7));
    let (code, out, err) = diff(&old, &new, &[]);
    assert_eq!(
        code,
        Some(0),
        "a report exits 0 whatever it found: {out}{err}"
    );
    assert_eq!(verdict_of(&out, "reactor x 100 conns"), "slower", "{out}");
    for p in [
        "reactor x 1 conns",
        "threads x 1 conns",
        "threads x 100 conns",
    ] {
        assert_eq!(verdict_of(&out, p), "no clear difference", "{out}");
    }
    assert!(out.contains("-30.0% worse"), "{out}");
    // The other way round it is faster; and CI can fail on slower.
    let (_, back, _) = diff(&new, &old, &[]);
    assert_eq!(verdict_of(&back, "reactor x 100 conns"), "faster", "{back}");
    let (code, _, _) = diff(&old, &new, &["--fail-on-slower"]);
    assert_eq!(code, Some(1));
    // A busy machine qualifies every verdict, and is named.
    let mut busy = compare_file(0.7);
    busy["machine_load"] =
        json!({"warnings": ["other processes used 147% of a CPU during the sweep"]});
    let busy = write(&dir, "busy.json", &busy);
    let (_, out, _) = diff(&old, &busy, &[]);
    assert!(out.contains("slower (busy machine)"), "{out}");
    assert!(
        out.contains("NEW's machine was busy: other processes used 147% of a CPU"),
        "{out}"
    );
    // A threshold above the change calls nothing.
    let (_, out, _) = diff(&old, &new, &["--threshold", "50%"]);
    assert_eq!(
        verdict_of(&out, "reactor x 100 conns"),
        "no clear difference",
        "{out}"
    );
}

#[test]
fn points_one_file_lacks_are_listed_and_new_sections_read() {
    let dir = scratch("diff-extra");
    let old = write(&dir, "old.json", &compare_file(1.0));
    // NEW as a newer compare writes it: open-loop rates, an external
    // server with its own kind, and reactor x 1 gone.
    let mut new = compare_file(1.0);
    new["points"].as_array_mut().unwrap().remove(0);
    new["points"].as_array_mut().unwrap().push(
        json!({"model": "nginx", "kind": "external", "connections": 1, "status": "ok",
                     "requests_per_sec": fig(1e4)}),
    );
    new["rates"] = json!([{"model": "reactor", "offered": 5000.0, "status": "ok",
                           "requests_per_sec": fig(5000.0), "p99_us": fig(90.0),
                           "server_cpu_us_per_request": fig(20.0)}]);
    let new = write(&dir, "new.json", &new);
    let (code, out, err) = diff(&old, &new, &[]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("only in OLD: reactor x 1 conns"), "{out}");
    assert!(
        out.contains("only in NEW: nginx (external) x 1 conns, reactor at 5000/s"),
        "{out}"
    );
    // Both sides with rates: a row under the open loop.
    let (_, out, _) = diff(&new, &new, &[]);
    assert!(out.contains("open loop"), "{out}");
    assert_eq!(
        verdict_of(&out, "reactor at 5000/s"),
        "no clear difference",
        "{out}"
    );
}

/// A `run --json` result of a closed loop at 4 connections; with
/// per-second figures around `rps` when `timeline`.
fn run_file(rps: f64, timeline: bool) -> Value {
    let mut v = json!({
        "tool": "loadgen 0.1.0",
        "config": {"target": "127.0.0.1:7", "connections": 4, "size": 512,
                   "load": {"mode": "closed", "depth": 1}},
        "requests": (rps * 5.0) as u64,
        "throughput": {"requests_per_sec": rps, "mb_per_sec": rps * 512e-6},
        "latency_us": {"p50": 30.0, "p99": 300.0},
        "server": {"pid": 1, "cpu_us_per_request": 10.0},
        "clean": true
    });
    if timeline {
        v["timeline"] = (0..5)
            .map(|i| {
                json!({"start_s": i as f64, "requests_per_sec": rps * (0.99 + 0.005 * i as f64),
                            "p99_us": 300.0})
            })
            .collect();
    }
    v
}

#[test]
fn runs_are_judged_on_their_seconds_or_not_at_all() {
    let dir = scratch("diff-run");
    let old = write(&dir, "old.json", &run_file(30e3, true));
    let slow = write(&dir, "slow.json", &run_file(20e3, true));
    let (code, out, err) = diff(&old, &slow, &[]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert_eq!(verdict_of(&out, "run x 4 conns"), "slower", "{out}");
    assert!(out.contains("req/s (per s)"), "{out}");
    let (_, out, _) = diff(&old, &old, &[]);
    assert_eq!(
        verdict_of(&out, "run x 4 conns"),
        "no clear difference",
        "{out}"
    );
    // Without a timeline a run is one sample: never a verdict.
    let bare = write(&dir, "bare.json", &run_file(20e3, false));
    let (_, out, _) = diff(&old, &bare, &[]);
    assert!(
        out.contains("no clear difference (one round: no spread)"),
        "{out}"
    );
}

#[test]
fn files_of_two_kinds_or_not_json_are_refused_in_one_line() {
    let dir = scratch("diff-refused");
    let compare = write(&dir, "results.json", &compare_file(1.0));
    let run = write(&dir, "run.json", &run_file(1e3, false));
    let (c, r) = (compare.to_str().unwrap(), run.to_str().unwrap());
    refused(&["diff", c, r], "is a compare results.json but");
    let broken = dir.join("broken.json");
    std::fs::write(&broken, "{\"points\": [\n  {\"model\": }").unwrap();
    refused(
        &["diff", broken.to_str().unwrap(), c],
        "broken.json: not a valid results file: expected value at line 2 column",
    );
    let other = write(&dir, "other.json", &json!({"hello": 1}));
    refused(
        &["diff", c, other.to_str().unwrap()],
        "other.json: neither a compare",
    );
    refused(
        &["diff", c, "/nonexistent/x.json"],
        "NEW /nonexistent/x.json: cannot read",
    );
    refused(&["diff", c, c, "--threshold", "0"], "--threshold 0");
}

#[test]
fn two_real_compares_diff_to_a_row_per_point() {
    let dir = scratch("diff-real");
    for out in ["a", "b"] {
        let path = dir.join(out);
        let o = loadgen(
            &[
                "compare",
                "--models",
                "reactor",
                "--connections",
                "2",
                "--flood",
                "none",
                "--rounds",
                "2",
                "--duration",
                "200ms",
                "--warmup",
                "50ms",
                "--quiet",
                "--out",
                path.to_str().unwrap(),
            ],
            Duration::from_secs(60),
        );
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let (code, out, err) = diff(
        &dir.join("a/results.json"),
        &dir.join("b/results.json"),
        &[],
    );
    assert_eq!(code, Some(0), "{out}{err}");
    // Two rounds are too few for any verdict, whatever the figures did.
    assert_eq!(
        verdict_of(&out, "reactor x 2 conns"),
        "no clear difference",
        "{out}"
    );
    assert!(out.contains("2 rounds: too few to tell"), "{out}");
    for figure in ["req/s", "CPU µs/echo", "p99 µs"] {
        assert!(out.contains(figure), "{out}");
    }
}

/// A figure's spread over `xs`, as compare writes it.
fn spread_of(xs: &[f64]) -> Value {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    json!({"median": v[v.len() / 2], "min": v[0], "max": v[v.len() - 1], "n": v.len()})
}

/// A closed-loop point of `model` with one round per `rps` (CPU per echo
/// its inverse), as compare writes it: the spreads and the `rounds`.
fn closed_rounds(model: &str, conns: u32, rps: &[f64]) -> Value {
    let cpu: Vec<f64> = rps.iter().map(|r| 1e5 / r).collect();
    let rounds: Vec<Value> = (rps.iter().zip(&cpu))
        .map(|(r, c)| {
            json!({"status": "ok", "requests_per_sec": r, "server_cpu_us_per_request": c,
                   "latency_us": {"p50": 50.0, "p99": 200.0}, "mb_per_sec": r * 512e-6})
        })
        .collect();
    json!({
        "model": model, "connections": conns, "kind": "closed", "status": "ok",
        "rounds_measured": rps.len(), "requests_per_sec": spread_of(rps),
        "server_cpu_us_per_request": spread_of(&cpu), "p99_us": spread_of(&[200.0; 3]),
        "mb_per_sec": 1.0, "rounds": rounds
    })
}

/// One compare of entries `base`, `same` (figures equal to base's) and
/// `slow` (base's req/s times 0.7 at 100 connections), over 3 rounds
/// through which the machine drifted by 10%: less than the slowdown, so
/// the entries' ranges are apart where it bites.
fn paired_file() -> Value {
    let drift = [1.0, 0.9, 0.95];
    let at = |rps: f64, factor: f64| drift.iter().map(|d| rps * d * factor).collect::<Vec<_>>();
    let mut points = Vec::new();
    for conns in [1, 100] {
        for (model, factor) in [("base", 1.0), ("same", 1.0), ("slow", 0.7)] {
            let factor = if conns == 100 { factor } else { 1.0 };
            points.push(closed_rounds(model, conns, &at(20e3, factor)));
        }
    }
    json!({"tool": "loadgen 0.1.0", "points": points, "rankings": [],
           "machine_load": {"warnings": ["the hypervisor stole 11% of the CPU time"]}})
}

/// `loadgen diff FILE --old OLD --new NEW EXTRA…`.
fn diff_entries(file: &Path, old: &str, new: &str, extra: &[&str]) -> (Option<i32>, String) {
    let mut args = vec!["diff", file.to_str().unwrap(), "--old", old, "--new", new];
    args.extend_from_slice(extra);
    let out = loadgen(&args, Duration::from_secs(30));
    (
        out.status.code(),
        format!("{}{}", stdout(&out), stderr(&out)),
    )
}

#[test]
fn two_entries_of_one_compare_are_judged_round_by_round() {
    let dir = scratch("diff-paired");
    let file = write(&dir, "results.json", &paired_file());
    for (old, new) in [("base", "base"), ("base", "same")] {
        let (code, out) = diff_entries(&file, old, new, &["--fail-on-slower"]);
        assert_eq!(code, Some(0), "{out}");
        for conns in [1, 100] {
            let point = format!("{old}/{new} x {conns} conns");
            assert_eq!(verdict_of(&out, &point), "no clear difference", "{out}");
        }
        assert!(!out.contains("busy machine"), "{out}");
    }
    let json_out = dir.join("paired.json");
    let (code, out) = diff_entries(
        &file,
        "base",
        "slow",
        &["--json", json_out.to_str().unwrap()],
    );
    assert_eq!(code, Some(0), "{out}");
    // The machine's drift is in every entry's range, smaller than the
    // slowdown; the busy machine qualifies nothing.
    assert_eq!(verdict_of(&out, "base/slow x 100 conns"), "slower", "{out}");
    assert_eq!(
        verdict_of(&out, "base/slow x 1 conns"),
        "no clear difference",
        "{out}"
    );
    assert!(out.contains("-30.0% worse"), "{out}");
    assert!(
        out.contains("results.json: base") && out.contains("results.json: slow"),
        "{out}"
    );
    assert!(
        out.contains("the machine was busy: the hypervisor stole 11%")
            && !out.contains("(busy machine)"),
        "{out}"
    );
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&json_out).unwrap()).unwrap();
    assert_eq!(v["paired"], true, "{v}");
    let (code, _) = diff_entries(&file, "base", "slow", &["--fail-on-slower"]);
    assert_eq!(code, Some(1));
    // Two rounds are too few, paired or not.
    let mut two = paired_file();
    for p in two["points"].as_array_mut().unwrap() {
        p["rounds"].as_array_mut().unwrap().pop();
    }
    let two = write(&dir, "two.json", &two);
    let (_, out) = diff_entries(&two, "base", "slow", &[]);
    assert!(
        out.contains("no clear difference (2 rounds: too few to tell)"),
        "{out}"
    );
}

#[test]
fn entries_not_in_the_compare_or_with_two_files_are_refused() {
    let dir = scratch("diff-paired-refused");
    let file = write(&dir, "results.json", &paired_file());
    let f = file.to_str().unwrap();
    refused(
        &["diff", f, "--old", "base", "--new", "nginx"],
        "--new nginx: no such entry in",
    );
    refused(
        &["diff", f, "--old", "nginx", "--new", "base"],
        "(it has: base, same, slow)",
    );
    refused(
        &["diff", f, f, "--old", "base", "--new", "slow"],
        "--old/--new name two entries of one results file",
    );
    refused(&["diff", f, "--old", "base"], "--old NAME --new NAME");
    refused(&["diff", f], "diff needs NEW.json");
    let run = write(&dir, "run.json", &run_file(1e3, false));
    refused(
        &["diff", run.to_str().unwrap(), "--old", "a", "--new", "b"],
        "is a run --json result: --old/--new name entries of a compare",
    );
}

#[test]
fn a_real_compare_of_two_entries_diffs_to_a_row() {
    let dir = scratch("diff-paired-real");
    let out_dir = dir.join("ab");
    let py = format!(
        "py=python3 {}/../examples/selectors_echo.py {{port}}",
        env!("CARGO_MANIFEST_DIR")
    );
    let o = loadgen(
        &[
            "compare",
            "--models",
            "reactor",
            "--server",
            &py,
            "--connections",
            "1",
            "--flood",
            "none",
            "--rounds",
            "3",
            "--duration",
            "300ms",
            "--warmup",
            "50ms",
            "--quiet",
            "--out",
            out_dir.to_str().unwrap(),
        ],
        Duration::from_secs(90),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let (code, out) = diff_entries(&out_dir.join("results.json"), "reactor", "py", &[]);
    assert_eq!(code, Some(0), "{out}");
    verdict_of(&out, "reactor/py x 1 conns");
    for figure in ["req/s", "CPU µs/echo", "p99 µs"] {
        assert!(out.contains(figure), "{out}");
    }
}
