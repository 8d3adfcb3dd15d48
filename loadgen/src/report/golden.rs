//! The fixture's reports pinned byte for byte: the terminal table with the
//! progress lines and `report.md` of the plain fixture, of a troubled one
//! (failed rounds, a cut-short point, an unreadable RSS, a busy machine, an
//! interruption, a stall), of one with a model that could not start and of
//! one with open-loop points (`--rates`), and the plots by a digest of each
//! file, so
//! that a change to how the reports are built cannot change what they say.
//! To accept an intended change, run the tests with `BLESS=1` and review
//! the diff of `golden/`.

use std::path::{Path, PathBuf};

use super::{fixture, markdown, table};
use crate::procstat::Reading;
use crate::run::series::Slowest;
use crate::sweep::{CompareReport, Outcome, Point, Round, RoundSlowest};

/// The fixture with one of everything that qualifies a figure.
fn troubled() -> CompareReport {
    let mut r = fixture::report();
    fn failed<M>() -> Round<M> {
        Round::Failed {
            error: "reactor: connect to 127.0.0.1:7000 failed: connection refused".into(),
        }
    }
    r.points[3].rounds = vec![failed(), failed()];
    r.saturation[0].rounds = vec![failed()];
    if let Outcome::Ok(s) = &mut r.points[6].outcome {
        s.interrupted = true;
        s.server_memory.rss_kib = Reading::Unavailable {
            reason: "the server exited before it was read".into(),
        };
    }
    if let Outcome::Ok(s) = &mut r.saturation[1].outcome {
        s.interrupted = true;
        s.busiest_thread_utilisation = Reading::Unavailable {
            reason: "no per-thread times | here".into(),
        };
    }
    if let Outcome::Ok(s) = &mut r.points[7].outcome {
        s.slowest_second = Some(RoundSlowest {
            round: 3,
            slowest: Slowest {
                index: 2,
                start_s: 2.0,
                value: 120.0,
                median: 128e3,
                share: 120.0 / 128e3,
            },
        });
    }
    r.points[9].outcome = Outcome::NotRun;
    r.machine_load.warnings = vec!["load average 1.70 on 4 CPUs before the sweep".into()];
    r.interrupted = true;
    r
}

/// The fixture with uring after reactor, unavailable: its server exited
/// before listening, as echod does where io_uring is blocked.
fn unavailable() -> CompareReport {
    let mut r = fixture::report();
    let reason = "--model uring: io_uring is blocked (io_uring_setup: Operation not permitted): \
                  kernel.io_uring_disabled is 2, or a seccomp filter (Docker's default profile) \
                  denies it";
    fn after_reactor<S, M>(points: Vec<Point<S, M>>, reason: &str) -> Vec<Point<S, M>> {
        let mut out = Vec::new();
        for p in points {
            let uring = (p.model == "reactor").then(|| Point {
                model: "uring".into(),
                connections: p.connections,
                kind: p.kind,
                outcome: Outcome::Unavailable {
                    reason: reason.into(),
                },
                rounds: Vec::new(),
            });
            out.push(p);
            out.extend(uring);
        }
        out
    }
    r.config.models.insert(1, "uring".into());
    r.points = after_reactor(r.points, reason);
    r.saturation = after_reactor(r.saturation, reason);
    r
}

/// Compares `got` with the file `golden/<name>`, or rewrites the file
/// when `BLESS` is set.
fn pinned(name: &str, got: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src/report/golden")
        .join(name);
    if std::env::var_os("BLESS").is_some() {
        std::fs::write(&path, got).unwrap();
    }
    let want = std::fs::read_to_string(&path).unwrap();
    assert!(got == want, "{name} differs from {}", path.display());
}

fn plots() -> Vec<PathBuf> {
    [
        "throughput.svg",
        "latency_c1.svg",
        markdown::SATURATION_PLOT,
    ]
    .map(PathBuf::from)
    .to_vec()
}

#[test]
fn the_fixtures_report_md_is_unchanged() {
    pinned("report.md", &markdown::render(&fixture::report(), &plots()));
    pinned("troubled.md", &markdown::render(&troubled(), &plots()));
    pinned(
        "unavailable.md",
        &markdown::render(&unavailable(), &plots()),
    );
    let mut with_load = plots();
    with_load.push(PathBuf::from(markdown::LATENCY_LOAD_PLOT));
    pinned(
        "rates.md",
        &markdown::render(&fixture::with_rates(), &with_load),
    );
}

/// The table, then every point's progress line.
fn terminal(r: &CompareReport) -> String {
    let lines = r.points.iter().map(table::one_line);
    let floods = r.saturation.iter().map(table::flood_line);
    let rates = (r.open_loop.rates.iter()).map(|p| table::rate_line(p.offered_per_sec, &p.point));
    let mut s = table::render(r);
    for line in lines.chain(floods).chain(rates) {
        s += &line;
        s.push('\n');
    }
    s
}

#[test]
fn the_fixtures_terminal_table_is_unchanged() {
    pinned("table.txt", &terminal(&fixture::report()));
    pinned("troubled.txt", &terminal(&troubled()));
    pinned("unavailable.txt", &terminal(&unavailable()));
    pinned("rates.txt", &terminal(&fixture::with_rates()));
}

/// 64-bit FNV-1a: a digest that is the same on every platform and Rust
/// version, so that the plots can be pinned without storing them.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[test]
fn the_fixtures_plots_are_unchanged() {
    let dir = std::env::temp_dir().join(format!("loadgen-golden-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut digests = String::new();
    let reports = [
        ("fixture", fixture::report()),
        ("troubled", troubled()),
        ("unavailable", unavailable()),
        ("rates", fixture::with_rates()),
    ];
    for (name, r) in reports {
        for file in super::plot::write_all(&dir, &r).unwrap() {
            let svg = std::fs::read(dir.join(&file)).unwrap();
            digests += &format!("{name} {} {:016x}\n", file.display(), fnv1a(&svg));
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
    pinned("plots.txt", &digests);
}
