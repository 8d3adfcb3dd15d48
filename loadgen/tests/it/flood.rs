//! `loadgen run --flood` end to end: saturation against echod, every byte
//! still verified, and the server's CPU read through `--server-pid`.

use crate::util;

use std::time::Duration;

use util::{
    loadgen, read_json, run_json, scratch, stderr, stdout, words, Behaviour, Echod, TestServer,
};

const LIMIT: Duration = Duration::from_secs(30);

/// A 1 s flood of `target` over `conns` connections, with `extra` flags;
/// returns the output and the `--json` document.
fn flood(
    target: &str,
    name: &str,
    conns: &str,
    extra: &[&str],
) -> (std::process::Output, serde_json::Value) {
    let json = scratch(name).join("result.json");
    let mut args = vec![
        "run",
        "--target",
        target,
        "--flood",
        "--connections",
        conns,
        "--duration",
        "1s",
        "--warmup",
        "200ms",
        "--json",
        json.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let out = loadgen(&args, LIMIT);
    let value = read_json(&json);
    (out, value)
}

#[test]
fn a_flood_against_echod_echoes_verified_bytes_and_reports_no_latency() {
    let server = Echod::start(&[]);
    let (out, v) = flood(&server.target(), "flood-echod", "4", &[]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}\n{}", stderr(&out));
    assert_eq!(v["clean"], true, "{v}");
    assert_eq!(v["corrupt"], 0);
    assert_eq!(v["errors"], 0);
    let f = &v["flood"];
    let echoed = f["echoed_bytes"].as_u64().unwrap();
    assert!(echoed > 0, "{f}");
    assert_eq!(f["window_bytes"], 1 << 20);
    assert!(f["mb_per_sec"].as_f64().unwrap() > 0.0, "{f}");
    assert_eq!(v["config"]["load"]["mode"], "flood");
    assert_eq!(
        v["config"]["size"],
        16 * 1024,
        "16K is a flood's default size"
    );
    // No --server-pid: the limit is unknown, and the report says how to
    // learn it.
    assert_eq!(f["limit"], "unknown", "{f}");
    assert!(f["server"]["n/a"].is_string(), "{f}");
    assert!(
        text.contains("limit      unknown: pass --server-pid PID"),
        "{text}"
    );
    // Latency would measure the window: none is printed or written.
    assert!(
        v.get("latency_us").is_none() && v.get("spectrum").is_none(),
        "{v}"
    );
    assert!(!text.contains("p99"), "{text}");
    assert!(
        text.contains("latency    not reported under --flood"),
        "{text}"
    );
    assert!(
        text.contains("faults     none: every echoed byte verified"),
        "{text}"
    );
}

#[test]
fn with_server_pid_the_flood_names_its_limit_and_the_servers_cpu() {
    let server = Echod::start(&[]);
    let pid = server.pid().to_string();
    let (out, v) = flood(&server.target(), "flood-pid", "2", &["--server-pid", &pid]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}\n{}", stderr(&out));
    let f = &v["flood"];
    let limit = f["limit"].as_str().unwrap();
    assert!(limit == "server" || limit == "generator", "{f}");
    let s = &f["server"];
    assert_eq!(s["pid"].as_u64(), Some(u64::from(server.pid())), "{f}");
    for k in ["cpu_utilisation", "mb_per_cpu_second"] {
        assert!(s[k].as_f64().unwrap() > 0.0, "{k}: {f}");
    }
    // Linux reads every thread; echod's reactor is one busy thread.
    let busiest = s["busiest_thread_utilisation"].as_f64().unwrap();
    // Counted in clock ticks (10 ms), per thread and for the process.
    assert!(busiest >= 0.0 && busiest <= s["cpu_utilisation"].as_f64().unwrap() + 0.05);
    assert!(
        f["generator_cpu_utilisation"].as_f64().unwrap() > 0.0,
        "{f}"
    );
    let verdict = f["verdict"].as_str().unwrap();
    match limit {
        "server" => assert!(verdict.starts_with("server-bound (busiest server thread at")),
        _ => assert!(
            verdict.starts_with("the generator was the limit: the server used only")
                && verdict.contains("these MB/s are the generator's, not the server's"),
            "{verdict}"
        ),
    }
    assert!(text.contains(&format!("limit      {verdict}")), "{text}");
    assert!(text.contains("MB echoed per server CPU-second"), "{text}");
}

#[test]
fn closed_loop_with_server_pid_reports_cpu_per_request() {
    let server = Echod::start(&[]);
    let pid = server.pid().to_string();
    let flags = format!("--duration 1s --warmup 200ms --server-pid {pid}");
    let (out, v) = run_json(&server.target(), "closed-pid", &words(&flags));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(v["server"]["pid"].as_u64(), Some(u64::from(server.pid())));
    assert!(
        v["server"]["cpu_us_per_request"].as_f64().unwrap() > 0.0,
        "{v}"
    );
    assert!(v.get("flood").is_none());
    assert!(stdout(&out).contains("µs CPU per request"));
}

#[test]
fn a_server_that_corrupts_one_byte_in_a_flood_fails_the_run() {
    // One flipped bit, 1 MiB into each connection's echo.
    let server = TestServer::start(Behaviour::CorruptingOnce { at: 1 << 20 });
    let (out, v) = flood(&server.target(), "flood-corrupt", "2", &[]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}\n{}", stderr(&out));
    assert!(server.echoed() > 1 << 20, "the flood never got that far");
    // Each connection's one damaged reply, and nothing else.
    assert_eq!(v["counters"]["corrupt"], 2, "{v}");
    assert_eq!(v["counters"]["reordered"], 0, "{v}");
    assert_eq!(v["clean"], false);
    assert!(text.contains("FAULTS     corrupt 2"), "{text}");
    assert!(
        text.contains("corrupt reply (bytes differ from the request)"),
        "{text}"
    );
}
