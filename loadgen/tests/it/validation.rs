//! Everything a command line can get wrong is refused before the first
//! connection, in one line that names the flag, with exit status 2; and the
//! errors that do happen at run time blame the right party.
//!
//! Regression tests for two bugs: a typo in an output path used to cost
//! the whole run, and a generator out of descriptors blamed the server.

use crate::util;

use std::os::unix::process::CommandExt;
use std::time::{Duration, Instant};

use util::{
    loadgen, loadgen_cmd, read_json, refused, run_text, scratch, stderr, stdout, took_under,
    wait_output, words, Echod,
};

const LIMIT: Duration = Duration::from_secs(30);

#[test]
fn output_paths_are_checked_before_the_run_in_one_format() {
    // A live server and a long window: if the check came after the run,
    // these would take 60 s each instead of failing at once.
    let server = Echod::start(&[]);
    let t = server.target();
    let dir = scratch("outputs");
    let missing = dir.join("missing-dir/x.json");
    let missing = missing.to_str().unwrap();
    for flag in ["--json", "--hdr-log"] {
        let args = ["run", "--target", &t, "--duration", "60s", flag, missing];
        refused(&args, &format!("{flag} "));
    }
    // A pseudo file system refuses even root, who passes every permission
    // test; only Linux is sure to have /proc mounted.
    #[cfg(target_os = "linux")]
    refused(
        &["compare", "--duration", "60s", "--out", "/proc/nope"],
        "--out /proc/nope: cannot write here",
    );
    refused(&["merge", "x.hlog", "--json", missing], "--json ");
    for flag in ["--json", "--hdr-log"] {
        let out = loadgen(
            &["run", "--target", &t, "--duration", "60s", flag, missing],
            LIMIT,
        );
        assert!(
            stderr(&out).contains(": cannot write here: "),
            "{}",
            stderr(&out)
        );
    }
    // Nothing was left behind by the checks.
    assert!(!dir.join("missing-dir").exists());
}

#[test]
fn connections_beyond_the_generators_own_fd_limit_are_refused_naming_both_numbers() {
    let server = Echod::start(&[]);
    let mut cmd = loadgen_cmd(&words(&format!(
        "run --target {} --connections 30000",
        server.target()
    )));
    // SAFETY: setrlimit is async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            let r = libc::rlimit {
                rlim_cur: 512,
                rlim_max: 512,
            };
            libc::setrlimit(libc::RLIMIT_NOFILE, &r);
            Ok(())
        });
    }
    let start = Instant::now();
    let out = wait_output(cmd.spawn().unwrap(), &[], LIMIT);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    took_under(
        start,
        Duration::from_secs(5),
        "the refusal when out of descriptors",
    );
    assert!(
        err.contains("--connections 30000") && err.contains("generator"),
        "{err}"
    );
    assert!(err.contains("512"), "the limit is not named: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
}

// Bug: folding clap's message into one line dropped its tip, so a
// misspelt flag no longer said which one was meant.
#[test]
fn a_misspelt_flag_keeps_clap_suggestion() {
    let out = loadgen(&["run", "--conections", "3"], LIMIT);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out),
        "error: unexpected argument '--conections' found; a similar argument exists: \
         '--connections' (see --help)\n"
    );
}

#[test]
fn bad_numbers_are_refused_naming_their_flag() {
    let t = "127.0.0.1:1";
    refused(
        &["run", "--target", t, "--connections", "-1"],
        "--connections",
    );
    refused(&["run", "--target", t, "--depth", "-3"], "--depth");
    refused(&["run", "--target", t, "--size", "-5"], "--size");
    refused(&["run", "--target", t, "--size", "65M"], "--size");
    refused(
        &["run", "--target", t, "--duration", "500000000000y"],
        "--duration",
    );
    refused(
        &["run", "--target", t, "--rate", "0.5", "--duration", "1s"],
        "--rate 0.5",
    );
    refused(&["check", "--target", t, "--timeout", "0s"], "--timeout");
    refused(
        &["check", "--target", t, "--connections", "0"],
        "--connections 0",
    );
    refused(&["compare", "--rounds", "0"], "--rounds 0");
    refused(
        &["compare", "--models", "reactor,reactor"],
        "--models reactor",
    );
    let long = "x".repeat(100_000);
    let out = loadgen(&["run", "--target", &long], LIMIT);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{}", &err[..err.len().min(300)]);
    assert!(err.len() < 300, "{} bytes of stderr", err.len());
}

#[test]
fn flood_refuses_what_contradicts_it_naming_the_flags() {
    // A live server: a refusal that came after connecting would still pass
    // the exit status, but not the time limit in `refused`.
    let server = Echod::start(&[]);
    let t = server.target();
    let udp = "udp:127.0.0.1:9";
    refused(
        &["run", "--target", udp, "--flood"],
        "--flood: needs a stream target",
    );
    refused(
        &["run", "--target", &t, "--flood", "--rate", "100"],
        "--flood and --rate contradict each other",
    );
    refused(
        &["run", "--target", &t, "--flood", "--depth", "4"],
        "--flood and --depth contradict each other",
    );
    let hlog = scratch("flood-hdr").join("x.hlog");
    refused(
        &words(&format!(
            "run --target {t} --flood --hdr-log {}",
            hlog.display()
        )),
        "--hdr-log: not with --flood",
    );
    assert!(!hlog.exists());
    refused(
        &["run", "--target", &t, "--window", "1M"],
        "--window 1048576: applies to --flood only",
    );
    refused(
        &["run", "--target", &t, "--flood", "--window", "8K"],
        "--window 8192: smaller than one request (--size 16384)",
    );
    refused(
        &["compare", "--connections", "none", "--flood", "none"],
        "nothing left to measure",
    );
    refused(&["compare", "--flood", "0"], "--flood");
}

#[test]
fn a_server_pid_that_cannot_be_read_is_refused_before_connecting() {
    let server = Echod::start(&[]);
    // Reaped, so its pid names nothing (pids come round again only after
    // the whole pid space).
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let pid = child.id().to_string();
    child.wait().unwrap();
    let target = server.target();
    for mode in [&["--flood"][..], &[][..], &["--rate", "100"][..]] {
        let mut args = vec!["run", "--target", &target, "--server-pid", &pid];
        args.extend_from_slice(mode);
        refused(
            &args,
            &format!("--server-pid {pid}: cannot read its CPU time"),
        );
    }
    refused(
        &["run", "--target", "127.0.0.1:1", "--server-pid", "0"],
        "--server-pid",
    );
}

#[test]
fn size_takes_suffixes_and_slow_rates_are_honoured() {
    let server = Echod::start(&[]);
    let dir = scratch("suffix");
    let json = dir.join("r.json");
    let out = run_text(
        &server.target(),
        &format!(
            "--size 1K --duration 300ms --warmup 0s --quiet --json {}",
            json.display()
        ),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(read_json(&json)["config"]["size"], 1024);

    // Half a request per second for 4 s: two requests, and the report says
    // 0.5, not 0.
    let out = run_text(
        &server.target(),
        &format!(
            "--rate 0.5 --duration 4s --warmup 0s --json {}",
            json.display()
        ),
    );
    let text = stdout(&out);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(text.contains("0.500 req/s"), "{text}");
    assert_eq!(read_json(&json)["requests"], 2, "{text}");
}

#[test]
fn nothing_listening_is_one_cannot_connect_line() {
    let addr = util::dead_address().to_string();
    for args in [
        vec!["run", "--target", &addr, "--duration", "1s"],
        vec!["check", "--target", &addr],
    ] {
        let out = loadgen(&args, LIMIT);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
        assert!(
            err.contains(&format!("cannot connect to {addr}")),
            "{args:?}: {err}"
        );
        assert!(!stdout(&out).contains("FAIL"), "{args:?}: {}", stdout(&out));
        assert!(
            !stdout(&out).contains("latency"),
            "{args:?}: a table of zeros"
        );
    }
}

#[test]
fn a_slow_but_correct_server_is_waited_for_not_called_a_truncator() {
    // 1 MiB requests echoed at 256 KiB/s: a reply takes 4 s, longer than the
    // default 3 s drain timeout, but bytes never stop moving.
    let server = util::TestServer::start(util::Behaviour::Throttled {
        bytes_per_sec: 256 * 1024,
    });
    let out = run_text(
        &server.target(),
        "--size 1M --duration 500ms --warmup 0s --quiet",
    );
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn a_server_that_closes_every_connection_at_once_is_one_line_not_a_table_of_zeros() {
    let server = util::TestServer::start(util::Behaviour::Truncating { limit: 0 });
    let out = run_text(
        &server.target(),
        "--connections 3 --duration 500ms --warmup 0s",
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(
        err.contains("all 3 connection(s) failed before any reply"),
        "{err}"
    );
    assert!(err.contains("server closed the connection"), "{err}");
    assert!(!stdout(&out).contains("latency"), "{}", stdout(&out));
}

// Regression: a TCP target without its port, or with one past 65535, was
// "not a reachable address (invalid socket address)", which reads as a
// network problem; udp: targets already said what was wrong.
#[test]
fn a_target_with_a_missing_or_impossible_port_says_so() {
    for (flag, value) in [("run", "127.0.0.1"), ("check", "localhost")] {
        refused(
            &[flag, "--target", value],
            &format!("--target {value}: missing :PORT"),
        );
    }
    refused(
        &["run", "--target", "127.0.0.1:99999"],
        "--target 127.0.0.1:99999: port 99999: not a number from 1 to 65535",
    );
    refused(
        &["run", "--target", "udp:[::1]"],
        "--target udp:[::1]: missing :PORT",
    );
}

// Regression: a negative duration or PID was taken for a flag, so the line
// blamed an "unexpected argument '-1'" instead of naming the flag and its
// value.
#[test]
fn a_negative_value_is_refused_naming_its_flag() {
    let t = "127.0.0.1:9";
    for flag in ["--warmup", "--drain-timeout", "--hdr-interval"] {
        refused(
            &["run", "--target", t, flag, "-1s"],
            &format!("{flag} -1s: "),
        );
    }
    refused(
        &["run", "--target", t, "--server-pid", "-5"],
        "--server-pid -5: ",
    );
    refused(
        &["check", "--target", t, "--timeout", "-1s"],
        "--timeout -1s: ",
    );
    refused(&["compare", "--duration", "-1s"], "--duration -1s: ");
    refused(&["talk", t, "--wait", "-1s"], "--wait -1s: ");
}

// Regression: `compare --out FILE` said "cannot write here: File exists
// (os error 17)", which does not say that --out names a directory.
#[test]
fn an_out_that_is_a_file_is_refused_as_not_a_directory() {
    let file = scratch("out-file").join("results");
    std::fs::write(&file, "x").unwrap();
    let file = file.to_str().unwrap();
    refused(
        &["compare", "--out", file],
        &format!("--out {file}: cannot write here: it is a file, not a directory"),
    );
}
