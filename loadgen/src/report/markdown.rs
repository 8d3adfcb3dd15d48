//! The `compare` report as Markdown (`report.md`): the setup, the machine
//! and how busy it was, the table of medians and spreads, the rankings, the
//! plots, and what a reader needs to interpret them.
//!
//! Warnings come before the numbers they qualify: an interrupted sweep says
//! so in its first lines, and a busy machine is described before the table.

use std::fmt::Write as _;
use std::path::PathBuf;

use super::figures::failed_rounds;
use super::figures::{
    closed_caveat, closed_figures, failed_rounds_of, flood_caveat, not_run, rss_mib, Marks,
};
use super::format::{compact, measured, spread};
use super::rates;
use super::summary::bytes_text;
use super::summary::GENERATOR_LAG_LIMIT;
use crate::limit::{percent, SATURATED};
use crate::machine::Sample;
use crate::procstat::Reading;
use crate::stats;
use crate::sweep::{self, CompareReport, FloodPoint, Outcome, Point, Ranking, RatePoint, Spread};

/// The saturation plot's file name: linked from its own section, not the
/// list of plots.
pub const SATURATION_PLOT: &str = "saturation.svg";

/// The latency-against-load plot's file name: linked from its own
/// section, not the list of plots.
pub const LATENCY_LOAD_PLOT: &str = "latency_load.svg";

/// Columns of the open-loop table.
const RATE_COLUMNS: [&str; 16] = [
    "model",
    "offered req/s",
    "connections",
    "rounds",
    "status",
    "achieved req/s median (min–max)",
    "p50 µs median (min–max)",
    "p99 µs median (min–max)",
    "p99.9 µs median (min–max)",
    "max µs median (min–max)",
    "generator dispatch lag µs p99 / max",
    "server CPU % median (min–max)",
    "server CPU µs/echo median (min–max)",
    "server RSS MiB",
    "unsent",
    "faults",
];

/// Columns of the results table; every row has exactly this many cells.
const COLUMNS: [&str; 15] = [
    "model",
    "connections",
    "rounds",
    "req/s median (min–max)",
    "server CPU µs/echo median (min–max)",
    "p99 µs median (min–max)",
    "p50 µs",
    "p99.9 µs",
    "max µs",
    "MB/s",
    "server CPU %",
    "server RSS MiB",
    "generator CPU %",
    "fairness",
    "faults",
];

/// Columns of the saturation table.
const FLOOD_COLUMNS: [&str; 11] = [
    "model",
    "connections",
    "rounds",
    "MB/s median (min–max)",
    "MB per server CPU-second median (min–max)",
    "server CPU %",
    "busiest server thread %",
    "generator CPU %",
    "limit",
    "server RSS MiB",
    "faults",
];

/// Text safe inside a table cell: a `|` would end the cell, a newline the row.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn table_row(cells: &[String]) -> String {
    format!("| {} |", cells.join(" | "))
}

/// A row of a table with `columns` columns: the model, the connections,
/// the rounds, then `figures` of a measured point, the first marked when
/// the point was generator-bound or cut short. A point that ran no round,
/// or none that could be measured, says what happened instead.
fn row<S: Marks, M>(
    p: &Point<S, M>,
    rounds: u32,
    columns: usize,
    figures: impl FnOnce(&S) -> Vec<String>,
) -> String {
    let mut cells = vec![cell(&p.model), p.connections.to_string()];
    let Outcome::Ok(s) = &p.outcome else {
        return unmeasured_row(p, cells, columns);
    };
    let measured = s.rounds_measured();
    cells.push(if measured as u32 == rounds {
        measured.to_string()
    } else {
        format!("{} of {}", measured, p.rounds.len().max(rounds as usize))
    });
    let mut figures = figures(s);
    if s.generator_bound() {
        figures[0].push_str(" **generator-bound**");
    }
    if s.interrupted() {
        figures[0].push_str(" (cut short)");
    }
    cells.extend(figures);
    table_row(&cells)
}

fn point_row(p: &Point, rounds: u32) -> String {
    row(p, rounds, COLUMNS.len(), |s| {
        let mut figures = closed_figures(s);
        figures.extend([
            compact(s.latency_us.max),
            format!("{:.2}", s.mb_per_sec),
            measured(s.server_cpu_utilisation, |x| format!("{:.0}", x * 100.0)),
            cell(&rss_mib(s).show(|m| format!("{m:.1}"))),
            format!("{:.0}", s.generator_cpu_utilisation * 100.0),
            format!("{:.3}", s.jain_fairness),
            s.faults().to_string(),
        ]);
        figures
    })
}

/// A header row, its alignment row, then `rows`.
fn table(s: &mut String, columns: &[&str], rows: impl Iterator<Item = String>) {
    let head: Vec<String> = columns.iter().map(|c| c.to_string()).collect();
    let _ = writeln!(s, "{}", table_row(&head));
    let align: Vec<String> = (0..columns.len())
        .map(|i| if i == 0 { "---" } else { "---:" }.to_string())
        .collect();
    let _ = writeln!(s, "{}", table_row(&align));
    for r in rows {
        let _ = writeln!(s, "{r}");
    }
    let _ = writeln!(s);
}

/// The rest of a row that ran no round, or none that could be measured:
/// what happened, in the first cell after the count of rounds tried.
fn unmeasured_row<S, M>(p: &Point<S, M>, mut cells: Vec<String>, columns: usize) -> String {
    let what = match &p.outcome {
        Outcome::NotApplicable { reason }
        | Outcome::Unavailable { reason }
        | Outcome::Refused { reason } => {
            format!("n/a: {}", cell(reason))
        }
        Outcome::Failed { error } => format!("**FAILED**: {}", cell(error)),
        _ => "not run".to_string(),
    };
    // n/a and not-run points ran no round; a failed one shows how many it
    // tried.
    let tried = if p.rounds.is_empty() {
        "–".into()
    } else {
        p.rounds.len().to_string()
    };
    cells.push(tried);
    cells.push(what);
    cells.resize(columns, String::new());
    table_row(&cells)
}

fn flood_row(p: &FloodPoint, rounds: u32) -> String {
    let pct = |x: f64| measured(x, |x| percent(x).to_string());
    row(p, rounds, FLOOD_COLUMNS.len(), |s| {
        vec![
            spread(&s.mb_per_sec),
            spread(&s.mb_per_server_cpu_second),
            pct(s.server_cpu_utilisation),
            cell(&s.busiest_thread_utilisation.show(|&t| pct(t))),
            pct(s.generator_cpu_utilisation),
            s.limit.name().to_string(),
            cell(
                &s.server_memory
                    .rss_kib
                    .show(|&kib| format!("{:.1}", kib as f64 / 1024.0)),
            ),
            s.faults().to_string(),
        ]
    })
}

fn rate_row(r: &RatePoint, rounds: u32) -> String {
    let p = &r.point;
    let mut cells = vec![
        cell(&p.model),
        rates::offered(r.offered_per_sec),
        p.connections.to_string(),
    ];
    let Outcome::Ok(s) = &p.outcome else {
        return unmeasured_row(p, cells, RATE_COLUMNS.len());
    };
    cells.push(if s.rounds_measured as u32 == rounds {
        s.rounds_measured.to_string()
    } else {
        format!(
            "{} of {}",
            s.rounds_measured,
            p.rounds.len().max(rounds as usize)
        )
    });
    let mut status = rates::status(s);
    if !s.kept_up {
        status = format!("**{status}**");
    }
    if s.interrupted {
        status.push_str(" (cut short)");
    }
    let mut lag = format!(
        "{} / {}",
        compact(s.dispatch_lag_p99_us.median),
        compact(s.dispatch_lag_max_us.median)
    );
    if s.generator_behind {
        lag.push_str(" **generator behind schedule**");
    }
    let pct = |x: &Spread| {
        let scaled = |v: f64| v * 100.0;
        spread(&Spread {
            median: scaled(x.median),
            min: scaled(x.min),
            max: scaled(x.max),
            n: x.n,
        })
    };
    cells.extend([
        status,
        spread(&s.requests_per_sec),
        rates::per_reply(s, || spread(&s.p50_us)),
        rates::per_reply(s, || spread(&s.p99_us)),
        rates::per_reply(s, || spread(&s.p999_us)),
        rates::per_reply(s, || spread(&s.max_us)),
        lag,
        pct(&s.server_cpu_utilisation),
        rates::per_reply(s, || spread(&s.server_cpu_us_per_request)),
        cell(
            &s.server_memory
                .rss_kib
                .show(|&kib| format!("{:.1}", kib as f64 / 1024.0)),
        ),
        s.unsent.to_string(),
        s.faults().to_string(),
    ]);
    table_row(&cells)
}

/// The "Latency against offered load" section: what it measures, the
/// table, each model's highest held rate, the knee, and the plot.
fn rates_section(s: &mut String, report: &CompareReport, plot: Option<&PathBuf>) {
    let o = &report.open_loop;
    if o.rates.is_empty() {
        return;
    }
    let _ = writeln!(
        s,
        "## Latency against offered load\n\n\
         Each model was offered a fixed rate of requests over {} connections (`loadgen run --rate`), sent on \
         schedule whether or not replies came back, so a model that cannot keep up builds a queue instead of \
         slowing the generator down. Latency is from each request's **intended** send time, so that queue is \
         in it (no coordinated omission). A point where the model did not keep up is marked **behind**, with \
         the share of the offered rate it achieved, and kept in the table. The generator's own dispatch lag \
         (how late it took requests off its schedule) is given beside them: a point marked **generator behind \
         schedule** had a generator that could not keep its own schedule (p99 over {} µs), and its latencies \
         include that lag.\n\n{}\n",
        o.rate_connections,
        GENERATOR_LAG_LIMIT.as_micros(),
        rates::rule(o),
    );
    table(
        s,
        &RATE_COLUMNS,
        o.rates.iter().map(|r| rate_row(r, report.config.rounds)),
    );
    let failed: Vec<String> = o
        .rates
        .iter()
        .filter(|r| matches!(r.point.outcome, Outcome::Ok(_)))
        .flat_map(|r| {
            failed_rounds(&r.point).map(move |(i, e)| {
                format!(
                    "- {} at {}, round {i}: {e}",
                    r.point.model,
                    rates::rate(r.offered_per_sec)
                )
            })
        })
        .collect();
    if !failed.is_empty() {
        let _ = writeln!(
            s,
            "Rounds that failed (the figures above are over the other rounds of those points):

{}
",
            failed.join(
                "
"
            )
        );
    }
    let held: Vec<String> = rates::held_lines(o)
        .iter()
        .map(|l| format!("- {l}."))
        .collect();
    if !held.is_empty() {
        let _ = writeln!(
            s,
            "Highest offered rate held within the objective:

{}
",
            held.join(
                "
"
            )
        );
    }
    let _ = writeln!(
        s,
        "{}
",
        rates::knee_line(o)
    );
    if let Some(plot) = plot {
        let _ = writeln!(
            s,
            "![{0}]({0})
",
            plot.display()
        );
    }
}

/// The rounds that failed at measured points, listed under their table.
fn failed_rounds_list<S, M>(s: &mut String, points: &[Point<S, M>]) {
    let failed: Vec<String> = failed_rounds_of(points)
        .map(|(p, i, e)| format!("- {} x {}, round {i}: {e}", p.model, p.connections))
        .collect();
    if !failed.is_empty() {
        let _ = writeln!(
            s,
            "Rounds that failed (the figures above are over the other rounds of those points):\n\n{}\n",
            failed.join("\n")
        );
    }
}

/// A ranking per connection count under `title`, each followed by what
/// `caveat` says qualifies it.
fn rankings(
    s: &mut String,
    title: &str,
    rankings: &[Ranking],
    caveat: impl Fn(&Ranking) -> Option<String>,
) {
    let lines: Vec<String> = rankings
        .iter()
        .map(|k| {
            let but = caveat(k).map_or(String::new(), |c| format!(". But {c}"));
            format!("- **{} connection(s)**: {}{but}.", k.connections, k.verdict)
        })
        .collect();
    if !lines.is_empty() {
        let _ = writeln!(s, "{title}\n\n{}\n", lines.join("\n"));
    }
}

/// The "Saturation (flood)" section: what it measures and how to read it,
/// the table, the ranking and the plot.
fn saturation(s: &mut String, report: &CompareReport, plot: Option<&PathBuf>) {
    if report.saturation.is_empty() {
        return;
    }
    let c = &report.config;
    let counts: Vec<String> = c.flood_connections.iter().map(u32::to_string).collect();
    let _ = writeln!(
        s,
        "## Saturation (flood)\n\n\
         At {} connection(s) every model was flooded (`loadgen run --flood`): each connection writes as fast as \
         the server takes bytes, with at most {} sent and not yet echoed ({} B requests), and every echoed byte \
         is verified. This is the server at its limit rather than the generator's: **MB/s** is megabytes \
         (10^6 B) echoed per second of the window, and **MB per server CPU-second** divides those bytes by the \
         server's CPU time (user + system, all threads) over the same window: what one CPU-second of the model \
         echoes. The models are ranked by that figure, a model named ahead only when its slowest round beat \
         the other's fastest. Latency is not reported: \
         a reply waits behind the whole window sent before it, so its latency would measure the window, not \
         the server.\n\n\
         A point is **server-bound** when the server's busiest thread used at least {:.0}% of a CPU over the \
         window (a single-threaded server saturates one thread however many CPUs there are), or all its \
         threads together {:.0}% of the CPUs it may run on. Otherwise the server was waiting for bytes: the \
         point is marked **generator-bound** (hollow in the plot) and its MB/s are the generator's. Its MB per \
         server CPU-second are still the server's own cost, but taken at part load, where it also pays for \
         sleeping and being woken: saturated it would spend no more per byte. So a generator-bound model that \
         leads clearly leads by at least that much, and a ranking in which one trails may not hold at \
         saturation; the ranking says which.\n",
        counts.join(", "),
        bytes_text(c.window),
        c.flood_size,
        SATURATED * 100.0,
        SATURATED * 100.0,
    );
    table(
        s,
        &FLOOD_COLUMNS,
        report.saturation.iter().map(|p| flood_row(p, c.rounds)),
    );
    failed_rounds_list(s, &report.saturation);
    rankings(
        s,
        "By median MB per server CPU-second at each connection count:",
        &report.saturation_rankings,
        |k| flood_caveat(report, k),
    );
    if let Some(plot) = plot {
        let _ = writeln!(s, "![{0}]({0})\n", plot.display());
    }
}

fn loadavg(s: &Sample) -> String {
    format!(
        "{:.2}, {:.2}, {:.2}",
        s.loadavg[0], s.loadavg[1], s.loadavg[2]
    )
}

fn machine(s: &mut String, r: &CompareReport) {
    let e = &r.env;
    let pinning = match (&e.server_cpus, e.pinned, &e.not_pinned) {
        (Some(server), true, _) => format!(
            "server pinned to CPUs {server:?}, generator to {:?}",
            e.generator_cpus
        ),
        (_, _, Some(why)) => format!("not pinned ({why}): server and generator shared the CPUs"),
        _ => "not pinned: server and generator shared the CPUs".to_string(),
    };
    let _ = writeln!(
        s,
        "## Machine\n\n{}, {} CPUs; {pinning}; open-file limit {} (hard {}).\n",
        e.kernel, e.cpu_count, e.fd_limit.soft, e.fd_limit.hard
    );
    let m = &r.machine_load;
    let governor = |x: &Sample| cell(&x.governor.show(String::clone));
    let _ = writeln!(s, "| | before the sweep | after the sweep |\n|---|---|---|");
    let _ = writeln!(
        s,
        "| load average (1, 5, 15 min) | {} | {} |",
        loadavg(&m.before),
        loadavg(&m.after)
    );
    let _ = writeln!(
        s,
        "| CPU frequency governor | {} | {} |\n",
        governor(&m.before),
        governor(&m.after)
    );
    let pct = |x: &Reading<f64>, digits: usize| x.show(|v| format!("{v:.digits$}%"));
    let _ = writeln!(
        s,
        "Over the sweep: steal time {} of the machine's CPU time; CPU used by processes other than loadgen and \
         its servers {} of one CPU.\n",
        pct(&m.steal_percent, 1),
        pct(&m.other_cpu_percent, 0)
    );
    if m.warnings.is_empty() {
        let _ = writeln!(s, "No warnings: the machine looked quiet.\n");
    } else {
        let _ = writeln!(s, "**The machine was not quiet; compare with care:**\n");
        for w in &m.warnings {
            let _ = writeln!(s, "- {w}");
        }
        let _ = writeln!(s);
    }
}

/// "Over time": the closed-loop points that stalled, a second of some
/// round below [`STALL`](crate::run::series::STALL) of that round's median
/// req/s, or that none did. Nothing when no point was measured.
fn over_time(s: &mut String, report: &CompareReport) {
    let measured: Vec<(&Point, &sweep::Summary)> = report
        .points
        .iter()
        .filter_map(|p| Some((p, p.summary()?)))
        .collect();
    if measured.is_empty() {
        return;
    }
    let share = crate::run::series::STALL * 100.0;
    let _ = writeln!(
        s,
        "## Over time\n\nEvery round was also measured second by second (each point's median round is in \
         `results.json` as `timeline`, and plotted in `timeline_c<N>.svg`). A second below {share:.0}% of its \
         round's median req/s is a stall, which the medians above average away.\n"
    );
    let stalls: Vec<String> = measured
        .iter()
        .filter_map(|(p, sm)| {
            let w = sm.slowest_second.filter(|w| w.slowest.stalled())?;
            Some(format!(
                "- **{} at {} connection(s)**, round {}: {} req/s in {}–{} s of the window, {:.0}% of the round's \
                 median {} req/s",
                p.model,
                p.connections,
                w.round,
                compact(w.slowest.value),
                w.slowest.start_s,
                w.slowest.start_s + 1.0,
                w.slowest.share * 100.0,
                compact(w.slowest.median)
            ))
        })
        .collect();
    if stalls.is_empty() {
        let judged = measured.iter().any(|(_, sm)| sm.slowest_second.is_some());
        let _ = writeln!(
            s,
            "{}
",
            if judged {
                "None stalled: no second of any round fell below that."
            } else {
                "No round was two seconds long or more, so none could be judged."
            }
        );
    } else {
        for line in stalls {
            let _ = writeln!(s, "{line}");
        }
        let _ = writeln!(s);
    }
}

/// Renders `report` as Markdown, linking the plot files in `plots` (paths
/// relative to the report, as [`super::plot::write_all`] returns them).
///
/// The report is complete for any sweep, including one that measured
/// nothing (no plots, every row "not run" or "FAILED") and one that was
/// interrupted, which opens with a banner saying so.
pub fn render(report: &CompareReport, plots: &[PathBuf]) -> String {
    let c = &report.config;
    let mut s = String::new();
    let _ = writeln!(s, "# echod concurrency models compared\n");
    if report.interrupted {
        let (not_run, all) = not_run(report);
        let _ = writeln!(
            s,
            "> **INTERRUPTED.** The sweep was stopped (Ctrl-C or SIGTERM) before it finished: {not_run} of {all} \
             points were not run, and a point marked \"cut short\" had its window ended early. Everything \
             below is partial.\n"
        );
    }
    let mut kinds = Vec::new();
    if !c.connections.is_empty() {
        kinds.push(format!(
            "closed loop at {} B requests, depth {}",
            c.size, c.depth
        ));
    }
    if !c.flood_connections.is_empty() {
        kinds.push(format!(
            "saturation (flood) with {} unechoed per connection",
            bytes_text(c.window)
        ));
    }
    if !report.open_loop.rates.is_empty() {
        kinds.push(format!(
            "open loop at {} connections, {} B requests",
            report.open_loop.rate_connections, c.size
        ));
    }
    let _ = writeln!(
        s,
        "Generated by `{}` with `loadgen compare`: {}; {} s per point after {} s of warm-up, {} generator \
         thread(s), {} round(s) per point. Every echoed byte was verified.\n",
        report.tool,
        kinds.join(", and "),
        c.duration_s,
        c.warmup_s,
        c.threads,
        c.rounds
    );
    machine(&mut s, report);

    if !report.points.is_empty() {
        let _ = writeln!(s, "## Results\n");
        let _ = writeln!(
            s,
            "Median over the rounds, with the slowest and fastest round in brackets; p50, p99.9 and max are of \
             all rounds' requests together.\n"
        );
        table(
            &mut s,
            &COLUMNS,
            report.points.iter().map(|p| point_row(p, c.rounds)),
        );
    }
    failed_rounds_list(&mut s, &report.points);
    rankings(
        &mut s,
        "## Ranking\n\nBy median req/s at each connection count:",
        &report.rankings,
        |k| {
            closed_caveat(report, k).map(|c| c + ", so this compares the generator, not the server")
        },
    );

    over_time(&mut s, report);

    let (saturation_plot, plots): (Vec<&PathBuf>, Vec<&PathBuf>) =
        plots.iter().partition(|p| p.as_os_str() == SATURATION_PLOT);
    saturation(&mut s, report, saturation_plot.first().copied());
    let (load_plot, plots): (Vec<&PathBuf>, Vec<&PathBuf>) = plots
        .into_iter()
        .partition(|p| p.as_os_str() == LATENCY_LOAD_PLOT);
    rates_section(&mut s, report, load_plot.first().copied());

    if !plots.is_empty() {
        let _ = writeln!(s, "## Plots\n");
        for plot in plots {
            let _ = writeln!(s, "![{0}]({0})\n", plot.display());
        }
    }

    let _ = writeln!(
        s,
        "## Reading this\n\n\
         - **Rounds and spread.** Every point was measured {rounds} time(s), each time against a fresh server \
           process, the models taking turns at each connection count (in an order that rotates from round to \
           round) so that a drift of the machine falls on all of them alike. A figure is the median of the \
           rounds; the brackets give the slowest and the fastest round. That range is what the rounds \
           showed, not a confidence interval: with few rounds the truth can lie outside it.\n\
         - **Rankings.** A model is named ahead only when its slowest round beat the other's fastest. When the \
           ranges overlap the ranking says \"no clear difference\", whatever the medians; a single round is \
           never a clear win (use `--rounds 3` or more).\n\
         - **Latency** is per request, from its intended send time (in closed loop, the moment the previous \
           reply freed its slot) to the last byte of its echo, measured by the generator. The p99 column is \
           the median (min–max) of the rounds' p99s; p50, p99.9, max and the spectra pool every round's \
           requests (histograms add exactly).\n\
         - **Spectra** (`latency_c<N>.svg`) follow HdrHistogram's percentile plot: x counts the nines \
           (90%, 99%, 99.9%, …). A curve turns dashed where fewer than {thin} requests lie beyond it: from \
           there on it is anecdote, not distribution. It ends at the maximum, drawn where the slowest request \
           sits (the quantile 1 − 1/count), so a larger run reaches further right.\n\
         - **Server CPU** is user + system time of the server process over the measurement window, divided \
           by the replies counted; RSS is its resident memory at the end of the window (the largest over the \
           rounds). Both come from the OS's accounting: `/proc/PID/stat` (clock-tick resolution) and `VmRSS` on \
           Linux, `proc_pid_rusage` on macOS, `kinfo_proc` on FreeBSD. A figure the OS could not give is \
           \"n/a\" with the reason.\n\
         - **Generator-bound.** Generator CPU is the generator's own CPU time over the window (one generator \
           thread can use at most 100%). A point where the generator was at its limit while the server was \
           not is marked **generator-bound** (hollow in the throughput plot, pale in the spectra): it measures \
           the generator, not the server, and so does any ranking it takes part in. The generator's limit is \
           one CPU per `--threads`, but no more than the CPUs it may run on. To fix: {advice}.\n\
         - **The machine.** Load average, steal time and other processes' CPU are read before and after the \
           sweep; a busy machine or a governor other than `performance` can move results by more than the \
           difference between two models.\n\
         - The iterative model serves one client at a time, so it is only measured with one connection.\n\
         - Fairness is Jain's index over the replies each connection got (1 = every connection served equally).\n\
         - Raw numbers, including every round of every point and the full latency spectra, are in \
           `results.json`.",
        rounds = c.rounds,
        thin = stats::THIN,
        advice = sweep::generator_bound_advice(c.threads, report.env.generator_cpus.len()),
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture;

    /// Checks that every row of the first results table in `md` has as
    /// many cells as the header, whatever its outcome.
    fn assert_rows_fill_the_header(md: &str) {
        let cells = |l: &str| l.matches(" | ").count();
        let mut table = md.lines().skip_while(|l| !l.starts_with("| model |"));
        let header = table.next().unwrap();
        for l in table.take_while(|l| !l.is_empty()) {
            assert_eq!(cells(l), cells(header), "{l}");
        }
    }

    /// What macOS or FreeBSD cannot give (pinning, steal time, the
    /// governor) and a figure that could not be read are "n/a" with the
    /// reason, and the table keeps its shape.
    #[test]
    fn unreadable_figures_are_n_a_with_their_reason() {
        let mut r = fixture::report();
        r.env.pinned = false;
        r.env.server_cpus = None;
        r.env.not_pinned = Some("macOS has no CPU affinity".into());
        let na = "read from /proc/stat, which only Linux has";
        r.machine_load.steal_percent = Reading::unavailable(na);
        r.machine_load.before.governor = Reading::unavailable("no cpufreq");
        r.machine_load.after.governor = Reading::unavailable("no cpufreq");
        if let Outcome::Ok(s) = &mut r.points[6].outcome {
            s.server_memory.rss_kib = Reading::unavailable("proc_pid_rusage(42): No such process");
        }
        let md = render(&r, &[]);
        assert!(
            md.contains(
                "; not pinned (macOS has no CPU affinity): server and generator shared the CPUs;"
            ),
            "{md}"
        );
        assert!(md.contains(&format!("steal time n/a ({na}) of")), "{md}");
        assert!(
            md.contains("| CPU frequency governor | n/a (no cpufreq) | n/a (no cpufreq) |"),
            "{md}"
        );
        fixture::assert_line(
            &md,
            "| reactor | 100 |",
            "| n/a (proc_pid_rusage(42): No such process) |",
        );
        assert_rows_fill_the_header(&md);
    }

    #[test]
    fn an_interrupted_sweep_says_so_first() {
        let mut r = fixture::nothing_measured();
        r.machine_load
            .warnings
            .push("other processes used 80% of a CPU".into());
        let md = render(&r, &[]);
        let banner = md.lines().nth(2).unwrap();
        assert!(
            banner.starts_with("> **INTERRUPTED.**") && banner.contains("15 of 15 points"),
            "{banner}"
        );
        assert!(md.contains("- other processes used 80% of a CPU\n"));
        assert!(!md.contains("## Plots") && !md.contains("## Ranking"));
    }
}
