//! The `compare` results for the terminal: a progress line per point while
//! the sweep runs, then one table of model x connections, the rankings, and
//! whatever makes the figures less trustworthy (a generator at its limit, a
//! busy machine, an interruption).
//!
//! Numbers are compact (`174.3k`, `2.31`) so that a median with its min–max
//! range fits in a column; `results.json` has them in full.

use std::fmt::Write as _;

use super::figures::{
    closed_caveat, closed_figures, failed_rounds, failed_rounds_of, flood_caveat, not_run, rss_mib,
    rss_missing, Marks,
};
use super::format::{compact, measured, range, spread};
use super::rates;
use super::summary::bytes_text;
use super::summary::GENERATOR_LAG_LIMIT;
use crate::limit::{percent, SATURATED};
use crate::sweep::{
    self, CompareReport, Finished, FloodPoint, Outcome, Point, Ranking, RatePoint, RateRow,
    RoundFigures,
};

/// Marks a generator-bound point in the table; explained under it.
const GENERATOR_BOUND: &str = "*";
/// Marks a point whose window an interruption cut short.
const CUT_SHORT: &str = "!";
/// In the RSS column when it could not be read; the reason is under the
/// table.
const NO_RSS: &str = "n/a";

/// A point as a progress line: `<model> x <conns> conns<kind>: ` then
/// `figures` of its summary, the failed rounds and its marks; or
/// `n/a (reason)`, `FAILED: error`, `not run`.
fn progress<S: Marks, M>(
    p: &Point<S, M>,
    kind: &str,
    figures: impl FnOnce(&S) -> String,
) -> String {
    let what = match summary_or_note(&p.outcome) {
        Ok(s) => {
            let mut line = figures(s);
            let failed = failed_rounds(p).count();
            if failed > 0 {
                let _ = write!(line, " (+{failed} FAILED)");
            }
            if s.generator_bound() {
                line.push_str(" [generator-bound]");
            }
            if s.interrupted() {
                line.push_str(" [cut short]");
            }
            line
        }
        Err(note) => note,
    };
    format!("{} x {} conns{kind}: {what}", p.model, p.connections)
}

/// One point as a progress line, printed as the sweep goes:
/// `reactor x 100 conns: 174.3k req/s (170.0k–176.0k), p99 1270 µs,
/// 2.29 µs CPU/req, RSS 5.9 MiB, 0 faults, 3 rounds`, or `n/a (reason)`,
/// `FAILED: error`, `not run`. Only req/s shows its range, to keep the line
/// short; the final table has the others'.
///
/// A generator-bound point, and one an interruption cut short, say so at
/// the end of the line.
pub fn one_line(p: &Point) -> String {
    progress(p, "", |s| {
        format!(
            "{} req/s{}, p99 {} µs, {} µs CPU/req, RSS {}, {} faults, {} round(s)",
            compact(s.requests_per_sec.median),
            range(&s.requests_per_sec),
            compact(s.p99_us.median),
            compact(s.server_cpu_us_per_request.median),
            rss_mib(s).show(|m| format!("{m:.1} MiB")),
            s.faults(),
            s.rounds_measured,
        )
    })
}

/// A finished point's progress line: [`one_line`] or [`flood_line`].
pub fn progress_line(p: Finished<'_>) -> String {
    match p {
        Finished::Closed(p) => one_line(p),
        Finished::Flood(p) => flood_line(p),
        Finished::Rate(rate, p) => rate_line(rate, p),
    }
}

/// An open-loop point as a progress line: `reactor x 1000 conns at 50k
/// req/s: held, achieved 50.0k, p99 95.0 µs (90.0–110), generator lag
/// p99/max 15.0/450 µs, server 15%, 3.00 µs CPU/req, 0 unsent, 0 faults,
/// 3 round(s)`.
pub fn rate_line(offered: f64, p: &RateRow) -> String {
    progress(p, &format!(" at {}", rates::rate(offered)), |s| {
        format!(
            "{}, achieved {}, p99 {} µs{}, generator lag p99/max {} µs{}, server {}%, {} µs CPU/req, \
             {} unsent, {} faults, {} round(s)",
            rates::status(s),
            compact(s.requests_per_sec.median),
            compact(s.p99_us.median),
            range(&s.p99_us),
            rates::lag(s),
            if s.generator_behind { " (generator behind schedule)" } else { "" },
            percent(s.server_cpu_utilisation.median),
            compact(s.server_cpu_us_per_request.median),
            s.unsent,
            s.faults(),
            s.rounds_measured,
        )
    })
}

/// A saturation point as a progress line: `reactor x 50 conns flood: 1503
/// MB/s (1480–1520), 1550 MB per server CPU-second, server 97% (busiest
/// thread 97%), generator 88%, 0 faults, 3 round(s)`, with
/// `[generator-bound]` and `[cut short]` at the end when they apply.
pub fn flood_line(p: &FloodPoint) -> String {
    progress(p, " flood", |s| {
        format!(
            "{} MB/s{}, {} MB per server CPU-second, server {} (busiest thread {}), \
             generator {}%, {} faults, {} round(s)",
            compact(s.mb_per_sec.median),
            range(&s.mb_per_sec),
            compact(s.mb_per_server_cpu_second.median),
            measured(s.server_cpu_utilisation, |x| format!("{}%", percent(x))),
            s.busiest_thread_utilisation
                .show(|&t| format!("{}%", percent(t))),
            percent(s.generator_cpu_utilisation),
            s.faults(),
            s.rounds_measured,
        )
    })
}

/// A column of a table: its title and width, its text kept to the left or
/// to the right; a `Gap` is the two spaces that set groups of columns
/// apart.
#[derive(Clone, Copy)]
pub(crate) enum Column {
    Left(&'static str, usize),
    Right(&'static str, usize),
    Gap,
}

use Column::{Gap, Left, Right};

/// Every table starts with these: what is in the row, and where.
const HEAD: [Column; 2] = [Left("model", 10), Right("conns", 6)];

/// The closed-loop table.
const CLOSED: [Column; 11] = [
    HEAD[0],
    HEAD[1],
    Gap,
    Left("req/s", 25),
    Left("CPU µs/echo", 18),
    Left("p99 µs", 20),
    Right("p50 µs", 6),
    Right("p99.9 µs", 9),
    Right("RSS MiB", 8),
    Right("gen CPU", 8),
    Right("faults", 7),
];

/// The closed-loop table for large requests (at least
/// [`MB_PLOT_SIZE`](super::plot::MB_PLOT_SIZE) bytes): MB/s beside req/s,
/// since there the bytes are the work.
const CLOSED_MB: [Column; 13] = [
    HEAD[0],
    HEAD[1],
    Gap,
    Left("req/s", 25),
    Right("MB/s", 8),
    Gap,
    Left("CPU µs/echo", 18),
    Left("p99 µs", 20),
    Right("p50 µs", 6),
    Right("p99.9 µs", 9),
    Right("RSS MiB", 8),
    Right("gen CPU", 8),
    Right("faults", 7),
];

/// The saturation table.
const FLOOD: [Column; 11] = [
    HEAD[0],
    HEAD[1],
    Gap,
    Left("MB/s", 22),
    Left("MB/server CPU-s", 22),
    Right("srv CPU", 8),
    Right("busiest", 9),
    Right("gen CPU", 9),
    Gap,
    Left("limit", 10),
    Right("faults", 6),
];

/// The open-loop table: the offered rate where the others have
/// connections (all rate points share theirs).
const RATE: [Column; 15] = [
    HEAD[0],
    Right("offered", 8),
    Gap,
    Right("achieved", 9),
    Gap,
    Left("status", 20),
    Left("p99 µs", 18),
    Right("p50 µs", 7),
    Right("p99.9 µs", 9),
    Right("max µs", 8),
    Gap,
    Left("gen lag p99/max", 16),
    Right("srv CPU", 7),
    Right("CPU µs/echo", 12),
    Right("unsent", 7),
];

/// Marks a rate point whose generator fell behind its own schedule.
const GENERATOR_BEHIND: &str = "^";

/// `cells` laid out in `columns`, one cell per column that is not a gap.
pub(crate) fn line<S: AsRef<str>>(columns: &[Column], cells: &[S]) -> String {
    let mut cells = cells.iter().map(AsRef::as_ref);
    let mut out = String::new();
    for c in columns {
        let _ = match *c {
            Gap => write!(out, "  "),
            Left(_, width) => write!(out, "{:<width$}", cells.next().unwrap_or_default()),
            Right(_, width) => write!(out, "{:>width$}", cells.next().unwrap_or_default()),
        };
    }
    out
}

/// The summary of a measured `outcome`, or else what happened instead, as
/// the reports say it: `n/a (reason)`, `FAILED: error`, `not run`.
fn summary_or_note<S>(outcome: &Outcome<S>) -> Result<&S, String> {
    match outcome {
        Outcome::Ok(s) => Ok(s),
        Outcome::NotApplicable { reason }
        | Outcome::Unavailable { reason }
        | Outcome::Refused { reason } => Err(format!("n/a ({reason})")),
        Outcome::Failed { error } => Err(format!("FAILED: {error}")),
        Outcome::NotRun => Err("not run".into()),
    }
}

/// A point's row in `columns`: its model and connections, then `figures`
/// of its summary, the first marked when it was generator-bound or cut
/// short; or what happened instead.
fn row<S: Marks, M>(
    p: &Point<S, M>,
    columns: &[Column],
    figures: impl FnOnce(&S) -> Vec<String>,
) -> String {
    let mut cells = vec![p.model.clone(), p.connections.to_string()];
    let s = match summary_or_note(&p.outcome) {
        Ok(s) => s,
        Err(note) => return format!("{}  {note}", line(&HEAD, &cells)),
    };
    let mut figures = figures(s);
    if s.generator_bound() {
        figures[0].push_str(GENERATOR_BOUND);
    }
    if s.interrupted() {
        figures[0].push_str(CUT_SHORT);
    }
    cells.extend(figures);
    line(columns, &cells)
}

fn closed_row(p: &Point) -> String {
    row(p, &CLOSED, |s| closed_cells(s, false))
}

/// [`closed_row`] with the median MB/s beside req/s, for [`CLOSED_MB`].
fn closed_mb_row(p: &Point) -> String {
    row(p, &CLOSED_MB, |s| closed_cells(s, true))
}

/// A measured closed-loop point's cells, with MB/s after req/s when `mb`.
fn closed_cells(s: &sweep::Summary, mb: bool) -> Vec<String> {
    let mut figures = closed_figures(s);
    if mb {
        figures.insert(1, compact(s.mb_per_sec));
    }
    figures.extend([
        rss_mib(s)
            .value()
            .map_or(NO_RSS.into(), |m| format!("{m:.1}")),
        format!("{:.0}%", s.generator_cpu_utilisation * 100.0),
        s.faults().to_string(),
    ]);
    figures
}

fn flood_row(p: &FloodPoint) -> String {
    let pct = |x: f64| measured(x, |x| format!("{}%", percent(x)));
    row(p, &FLOOD, |s| {
        vec![
            spread(&s.mb_per_sec),
            spread(&s.mb_per_server_cpu_second),
            pct(s.server_cpu_utilisation),
            s.busiest_thread_utilisation
                .value()
                .map_or("n/a".into(), |&t| pct(t)),
            pct(s.generator_cpu_utilisation),
            s.limit.name().into(),
            s.faults().to_string(),
        ]
    })
}

fn rate_row(r: &RatePoint) -> String {
    let p = &r.point;
    let mut cells = vec![p.model.clone(), rates::offered(r.offered_per_sec)];
    let s = match summary_or_note(&p.outcome) {
        Ok(s) => s,
        Err(note) => return format!("{}  {note}", line(&RATE[..2], &cells)),
    };
    let mut status = rates::status(s).replace(", rounds disagree", "~");
    if s.faults() > 0 {
        status += &format!(" {}F", s.faults());
    }
    if s.interrupted {
        status.push_str(CUT_SHORT);
    }
    let mut lag = rates::lag(s);
    if s.generator_behind {
        lag.push_str(GENERATOR_BEHIND);
    }
    cells.extend([
        compact(s.requests_per_sec.median),
        status,
        rates::per_reply(s, || spread(&s.p99_us)),
        rates::per_reply(s, || compact(s.p50_us.median)),
        rates::per_reply(s, || compact(s.p999_us.median)),
        rates::per_reply(s, || compact(s.max_us.median)),
        lag,
        measured(s.server_cpu_utilisation.median, |x| {
            format!("{}%", percent(x))
        }),
        rates::per_reply(s, || compact(s.server_cpu_us_per_request.median)),
        s.unsent.to_string(),
    ]);
    line(&RATE, &cells)
}

/// The open-loop points: their table, what its marks mean, each model's
/// highest held rate and the knee. Nothing without rate points.
fn render_rates(out: &mut String, r: &CompareReport) {
    let o = &r.open_loop;
    if o.rates.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "\nLatency against offered load (open loop, {} connections, {} B requests): latency from each \
         request's\nintended send time, median (min–max) over the rounds; achieved req/s and the rest are medians.",
        o.rate_connections, r.config.size
    );
    let _ = writeln!(out, "{}", titles(&RATE));
    for p in &o.rates {
        let _ = writeln!(out, "{}", rate_row(p));
    }
    let measured = || o.rows().filter_map(|p| p.summary());
    if measured().any(|s| !s.kept_up) {
        let _ = writeln!(
            out,
            "behind N%: achieved only N% of the offered rate; behind, N unsent: left N requests unsent. Either way\n  \
             the model did not keep up, unless the generator fell behind its own schedule there (^)."
        );
    }
    if measured().any(|s| s.rounds_disagree()) {
        let _ = writeln!(
            out,
            "~ the rounds disagree: some held the objective and some did not; the median decided."
        );
    }
    if measured().any(|s| s.generator_behind) {
        let _ = writeln!(
            out,
            "{GENERATOR_BEHIND} the generator fell behind its own schedule (dispatch lag p99 over {} µs): its lag is in\n  \
             those latencies, so they overstate the server's.",
            GENERATOR_LAG_LIMIT.as_micros()
        );
    }
    for r in o.rates.iter().filter(|r| r.point.summary().is_some()) {
        for (i, error) in failed_rounds(&r.point) {
            let _ = writeln!(
                out,
                "{} at {}: round {i} of {} FAILED ({error}); the figures are over the other rounds.",
                r.point.model,
                rates::rate(r.offered_per_sec),
                r.point.rounds.len()
            );
        }
    }
    let _ = writeln!(out, "{}", rates::rule(o));
    for l in rates::held_lines(o) {
        let _ = writeln!(out, "  {l}");
    }
    let _ = writeln!(out, "{}", rates::knee_line(o));
}

/// The title line of a table in `columns`.
fn titles(columns: &[Column]) -> String {
    let titles: Vec<&str> = columns
        .iter()
        .filter_map(|c| match *c {
            Left(title, _) | Right(title, _) => Some(title),
            Gap => None,
        })
        .collect();
    line(columns, &titles)
}

/// `points` as a table in `columns`, a row each by `row`; nothing at all
/// without points.
fn table<S, M>(
    out: &mut String,
    columns: &[Column],
    points: &[Point<S, M>],
    row: fn(&Point<S, M>) -> String,
) {
    if !points.is_empty() {
        let _ = writeln!(out, "{}", titles(columns));
    }
    for p in points {
        let _ = writeln!(out, "{}", row(p));
    }
}

/// True when a measured point among `points` bears `mark`, which the
/// table's footnotes then explain.
fn any<S: Marks, M: RoundFigures>(points: &[Point<S, M>], mark: fn(&S) -> bool) -> bool {
    points.iter().filter_map(Point::summary).any(mark)
}

/// A line for each failed round of a measured point among `points`;
/// `kind` follows the connections (` flood`).
fn failed_rounds_lines<S, M>(out: &mut String, points: &[Point<S, M>], kind: &str) {
    for (p, i, error) in failed_rounds_of(points) {
        let _ = writeln!(
            out,
            "{} x {}{kind}: round {i} of {} FAILED ({error}); the figures are over the other rounds.",
            p.model,
            p.connections,
            p.rounds.len()
        );
    }
}

/// The `rankings` under `title`, each followed by what `caveat` says
/// qualifies it.
fn rankings(
    out: &mut String,
    title: &str,
    rankings: &[Ranking],
    caveat: impl Fn(&Ranking) -> Option<String>,
) {
    if !rankings.is_empty() {
        let _ = writeln!(out, "\n{title}");
    }
    for k in rankings {
        let but = caveat(k).map_or(String::new(), |c| format!("\n{:16}but {c}", ""));
        let _ = writeln!(out, "  {:>6} conns: {}{but}", k.connections, k.verdict);
    }
}

/// The saturation points: their table, what a mark in it means, and the
/// rankings by MB per server CPU-second.
fn render_saturation(out: &mut String, r: &CompareReport) {
    if r.saturation.is_empty() {
        return;
    }
    let c = &r.config;
    let _ = writeln!(
        out,
        "\nSaturation (flood, {} unechoed per connection, {} B requests): median (min–max) over the rounds.",
        bytes_text(c.window),
        c.flood_size
    );
    table(out, &FLOOD, &r.saturation, flood_row);
    if any(&r.saturation, Marks::generator_bound) {
        let _ = writeln!(
            out,
            "{GENERATOR_BOUND} generator-bound: the server's busiest thread stayed below {:.0}% of a CPU (and all\n  \
             its threads below {:.0}% of its CPUs), so it was waiting for the generator: these MB/s are\n  \
             the generator's, not the server's.",
            SATURATED * 100.0,
            SATURATED * 100.0
        );
    }
    failed_rounds_lines(out, &r.saturation, " flood");
    rankings(
        out,
        "Ranking by median MB per server CPU-second:",
        &r.saturation_rankings,
        |k| flood_caveat(r, k),
    );
}

/// The whole terminal report for `r`: a line on how the figures were taken,
/// the table (one row per point, in the sweep's order), footnotes for the
/// marks used in it, failed rounds, the rankings, then the same for the
/// saturation points, the open-loop points with their verdicts,
/// machine-load warnings, and an `INTERRUPTED:` line
/// when the sweep was cut short.
///
/// Every line ends with a newline; rows stay within about 120 columns
/// unless a model name, reason or error message is long.
pub fn render(r: &CompareReport) -> String {
    let mut out = String::new();
    let rounds = r.config.rounds;
    let _ = writeln!(
        out,
        "{rounds} round(s) per point: median (min–max) over the rounds; p50 and p99.9 of all rounds' requests pooled."
    );
    if r.config.size >= super::plot::MB_PLOT_SIZE {
        table(&mut out, &CLOSED_MB, &r.points, closed_mb_row);
    } else {
        table(&mut out, &CLOSED, &r.points, closed_row);
    }
    if any(&r.points, Marks::generator_bound) {
        let _ = writeln!(
            out,
            "{GENERATOR_BOUND} generator-bound: the generator used all the CPU its {} thread(s) could use and the\n  \
             server did not, so the figure measures the generator. To fix:\n  {}.",
            r.config.threads,
            sweep::generator_bound_advice(r.config.threads, r.env.generator_cpus.len())
        );
    }
    if any(&r.points, Marks::interrupted) {
        let _ = writeln!(
            out,
            "{CUT_SHORT} cut short: an interruption ended a round's window early."
        );
    }
    for reason in rss_missing(r) {
        let _ = writeln!(out, "RSS {NO_RSS}: {reason}.");
    }
    failed_rounds_lines(&mut out, &r.points, "");
    rankings(&mut out, "Ranking by median req/s:", &r.rankings, |k| {
        closed_caveat(r, k).map(|c| c + ": this compares the generator, not the server")
    });
    render_saturation(&mut out, r);
    render_rates(&mut out, r);
    if r.machine_load.busy() {
        let _ = writeln!(out, "\nThe machine was not quiet; compare with care:");
        for w in &r.machine_load.warnings {
            let _ = writeln!(out, "  warning: {w}");
        }
    }
    if r.interrupted {
        let (not_run, all) = not_run(r);
        let _ = writeln!(
            out,
            "\nINTERRUPTED: the sweep was stopped before it finished; {not_run} of {all} points were not run, \
             and the figures above are partial."
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture;

    // Regression: the advice was "more --threads" even when the generator
    // already had a thread on every CPU it could use.
    #[test]
    fn more_threads_are_advised_only_when_the_generator_has_cpus_to_spare() {
        for (cpus, advice) in [
            (vec![3], "more --threads cannot help"),
            (vec![2, 3], "rerun with more --threads or a larger --depth"),
        ] {
            let mut r = fixture::report();
            r.config.threads = 1;
            r.env.generator_cpus = cpus;
            let t = render(&r);
            assert!(t.contains(advice), "{t}");
        }
    }

    /// An RSS the OS could not give is "n/a" in its column, with the reason
    /// once under the table and in the progress line.
    #[test]
    fn an_unreadable_rss_is_n_a_with_its_reason_below() {
        let mut r = fixture::report();
        let why = "proc_pid_rusage(42): No such process";
        for i in [3, 6] {
            if let Outcome::Ok(s) = &mut r.points[i].outcome {
                s.server_memory.rss_kib = crate::procstat::Reading::unavailable(why);
            }
        }
        let t = render(&r);
        fixture::assert_line(&t, "reactor      100", " n/a ");
        assert_eq!(t.matches(&format!("RSS n/a: {why}.\n")).count(), 1, "{t}");
        let line = one_line(&r.points[6]);
        assert!(line.contains(&format!("RSS n/a ({why}),")), "{line}");
        assert!(!render(&fixture::report()).contains("n/a:"));
    }

    #[test]
    fn a_saturation_ranking_whose_runner_up_was_at_part_load_may_not_hold() {
        let mut r = fixture::report();
        for p in r.saturation.iter_mut().filter(|p| p.model == "reactor") {
            if let Outcome::Ok(s) = &mut p.outcome {
                s.generator_bound = true;
            }
        }
        let t = render(&r);
        assert!(
            t.contains(
                "but threads and reactor were generator-bound there, so measured at part load, \
                 not saturated: the ranking may not hold at saturation"
            ),
            "{t}"
        );
        assert!(!t.contains("lower bound"), "{t}");
    }

    #[test]
    fn a_sweep_of_saturation_points_only_has_no_closed_loop_table() {
        let mut r = fixture::report();
        r.points.clear();
        r.rankings.clear();
        r.config.connections.clear();
        let t = render(&r);
        assert!(!t.contains("req/s"), "{t}");
        assert!(t.contains("Saturation (flood"), "{t}");
    }
}
