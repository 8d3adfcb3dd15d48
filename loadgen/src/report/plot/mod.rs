//! SVG plots of a comparison: throughput against connections, and the
//! latency percentile spectrum of each model at each connection count.
//!
//! # What the plots promise
//! - A model keeps its colour in every plot (its place in `--models`).
//! - Throughput is the median over rounds with a bar from the slowest to
//!   the fastest round; a hollow marker is a generator-bound point (it
//!   measures the generator), a cross on the x axis a point that failed.
//!   Lines join measured points only, and break where a point failed or
//!   was not run, rather than bridging the gap with an invented value.
//! - Saturation is MB echoed per server CPU-second from 0, one group per
//!   flood connection count, the models side by side, with the same bars
//!   and hollow markers (hollow: the server was not saturated, so the
//!   figure is the generator's).
//! - Spectra follow HdrHistogram's percentile plot: x is the number of
//!   nines, -log10(1 - q). The curve turns dashed where fewer than
//!   [`stats::THIN`](crate::stats::THIN) requests lie beyond it, and ends at
//!   the maximum, placed where the slowest request actually sits (see
//!   [`Curve`](curve::Curve)).
//! - Latency against offered load ([`latency_load`]) is p50, p99 and p99.9
//!   against the offered rate, a tick at each rate measured; a point where
//!   the model fell behind is hollow, and the objective is a grey line.
//! - A sweep that measured nothing writes no file at all.
//!
//! # Text
//! Only plotters' SVG backend is used, with its built-in text layout: SVG
//! text is drawn by the viewer, so no font files or fontconfig are needed to
//! build or run this. The backend cannot measure text, so the legends are
//! drawn beside the chart (never over data) with hand-wrapped lines.
//!
//! # Layout
//! Each plot has its own file ([`throughput`], [`saturation`], [`spectrum`])
//! and draws on the canvas, chart and axes made here, in the colours chosen
//! here, so the plots cannot drift apart. [`axes`] picks ticks and labels,
//! [`marker`] draws a median with its spread (throughput and saturation
//! alike), [`curve`] decides what of a spectrum is drawn and how firmly, and
//! [`legend`] draws the column beside each chart.

mod axes;
mod curve;
mod latency_load;
mod legend;
mod marker;
mod saturation;
mod spectrum;
mod throughput;
mod timeline;

use std::io;
use std::path::{Path, PathBuf};

use plotters::coord::ranged1d::{AsRangedCoord, Ranged, ValueFormatter};
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::run::series::SeriesPoint;
use crate::sweep::{CompareReport, Outcome, Point};
use legend::{wrap, Entry, Glyph};

const SIZE: (u32, u32) = (1000, 600);
/// Width of the legend column to the right of each chart.
const LEGEND_WIDTH: u32 = 250;
const GREY: RGBColor = RGBColor(120, 120, 120);
const FONT: &str = "sans-serif";

type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;
/// A chart drawn on an [`Area`] of the canvas.
type Chart<'a, 'b, X, Y> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<X, Y>>;

/// A chart on `area` with axes `x` and `y`, its labels given room on
/// the left (`margins.1`) and room on the right (`margins.0`) for the
/// last tick label.
fn chart<'a, 'b, X: AsRangedCoord, Y: AsRangedCoord>(
    area: &'a Area<'b>,
    margins: (u32, u32),
    x: X,
    y: Y,
) -> io::Result<Chart<'a, 'b, X::CoordDescType, Y::CoordDescType>> {
    ChartBuilder::on(area)
        .margin(10)
        .margin_right(margins.0)
        .x_label_area_size(45)
        .y_label_area_size(margins.1)
        .build_cartesian_2d(x, y)
        .map_err(err)
}

/// Draws the grid and the axes every plot shares, the axes described by
/// `desc` (x, y) and labelled by `x_label` and `y_label`; no vertical
/// grid lines unless `x_grid`.
fn draw_axes<X, Y>(
    chart: &mut Chart<'_, '_, X, Y>,
    desc: [&str; 2],
    x_label: &dyn Fn(&X::ValueType) -> String,
    y_label: &dyn Fn(&Y::ValueType) -> String,
    x_grid: bool,
) -> io::Result<()>
where
    X: Ranged + ValueFormatter<X::ValueType>,
    Y: Ranged + ValueFormatter<Y::ValueType>,
{
    let mut mesh = chart.configure_mesh();
    if !x_grid {
        mesh.disable_x_mesh();
    }
    mesh.light_line_style(BLACK.mix(0.05))
        .bold_line_style(BLACK.mix(0.15))
        .label_style((FONT, 14))
        .axis_desc_style((FONT, 15))
        .x_desc(desc[0])
        .y_desc(desc[1])
        .x_label_formatter(x_label)
        .y_label_formatter(y_label)
        .draw()
        .map_err(err)
}

fn colour(i: usize) -> RGBColor {
    const PALETTE: [RGBColor; 6] = [
        RGBColor(31, 119, 180),
        RGBColor(214, 39, 40),
        RGBColor(44, 160, 44),
        RGBColor(148, 103, 189),
        RGBColor(255, 127, 14),
        RGBColor(23, 190, 207),
    ];
    PALETTE[i % PALETTE.len()]
}

fn err(e: impl std::fmt::Display) -> io::Error {
    io::Error::other(e.to_string())
}

/// Writes every plot for `report` into `dir` and returns their file names,
/// relative to `dir`: `throughput.svg`, `throughput_mb.svg` (requests of
/// [`MB_PLOT_SIZE`] or more), `saturation.svg`
/// ([`crate::report::markdown::SATURATION_PLOT`]), then `latency_c<N>.svg`
/// and `timeline_c<N>.svg` for each connection count (in sweep order) at
/// which some model was measured (the timeline when some model has one).
///
/// A plot with no measured point (all failed, n/a or not run) is not
/// written: an empty chart would only suggest that something was
/// measured. Other files in `dir`, such as an earlier sweep's plots, are
/// neither read nor removed: clearing them is the caller's job.
///
/// # Errors
/// Drawing or file failures.
pub fn write_all(dir: &Path, report: &CompareReport) -> io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let closed = report.points.iter().any(|p| p.summary().is_some());
    if closed {
        throughput::write(
            &dir.join("throughput.svg"),
            report,
            throughput::Unit::Requests,
        )?;
        files.push(PathBuf::from("throughput.svg"));
        if report.config.size >= MB_PLOT_SIZE {
            throughput::write(
                &dir.join("throughput_mb.svg"),
                report,
                throughput::Unit::Megabytes,
            )?;
            files.push(PathBuf::from("throughput_mb.svg"));
        }
    }
    if report.saturation.iter().any(|p| p.summary().is_some()) {
        let name = crate::report::markdown::SATURATION_PLOT;
        saturation::write(&dir.join(name), report)?;
        files.push(PathBuf::from(name));
    }
    if report.open_loop.rows().any(|p| p.summary().is_some()) {
        let name = crate::report::markdown::LATENCY_LOAD_PLOT;
        latency_load::write(&dir.join(name), report)?;
        files.push(PathBuf::from(name));
    }
    if !closed {
        return Ok(files);
    }
    let mut seen = Vec::new();
    for &c in &report.config.connections {
        if seen.contains(&c) || !report.at(c).any(|p| p.summary().is_some()) {
            continue;
        }
        seen.push(c);
        let name = format!("latency_c{c}.svg");
        spectrum::write(&dir.join(&name), report, c)?;
        files.push(PathBuf::from(name));
        if let Some(name) = compare_timeline(dir, report, c)? {
            files.push(name);
        }
    }
    Ok(files)
}

/// Requests this large or larger get a throughput plot in MB/s besides
/// the one in req/s: there the bytes, not the requests, are the work.
pub const MB_PLOT_SIZE: usize = 4096;

/// `timeline_c<N>.svg`: each model's median round at `conns`
/// connections, second by second; `None` (nothing written) when no
/// model there has a timeline.
fn compare_timeline(dir: &Path, report: &CompareReport, conns: u32) -> io::Result<Option<PathBuf>> {
    let lines: Vec<timeline::Line> = report
        .at(conns)
        .filter_map(|p| {
            let s = p.summary().filter(|s| !s.timeline.is_empty())?;
            Some(timeline::Line {
                name: p.model.clone(),
                colour: colour(model_index(report, &p.model)),
                points: &s.timeline,
            })
        })
        .collect();
    if lines.is_empty() {
        return Ok(None);
    }
    let name = PathBuf::from(format!("timeline_c{conns}.svg"));
    let title = format!(
        "Over time at {conns} connection(s): each model's median round{}",
        interrupted(report)
    );
    timeline::write(&dir.join(&name), &title, &lines, &[])?;
    Ok(Some(name))
}

/// Writes one run's timeline (`run --plot`) to `path` under `title`:
/// req/s and p99 per interval, or MB/s for a flood; `notes` (already
/// short lines) go in the legend column.
///
/// # Errors
/// Drawing or file failures.
pub fn write_run_timeline(
    path: &Path,
    title: &str,
    name: &str,
    points: &[SeriesPoint],
    notes: &[&str],
) -> io::Result<()> {
    let line = timeline::Line {
        name: name.to_string(),
        colour: colour(0),
        points,
    };
    timeline::write(path, title, &[line], notes)
}

/// A title suffix for a sweep cut short.
fn interrupted(report: &CompareReport) -> &'static str {
    if report.interrupted {
        " — INTERRUPTED, partial"
    } else {
        ""
    }
}

/// The colour index of `model`: its place in the sweep's model list, so
/// one model looks the same in every plot.
fn model_index(report: &CompareReport, model: &str) -> usize {
    let models = &report.config.models;
    models
        .iter()
        .position(|m| m == model)
        .unwrap_or(models.len())
}

/// Lines of a legend note on a model that could not start.
const UNAVAILABLE_LINES: usize = 6;

/// A legend note for each model that could not start on this machine (and
/// so is in no plot), in its colour faded, with echod's reason.
fn unavailable_notes(report: &CompareReport, entries: &mut Vec<Entry>) {
    fn reason<'a, S, M>(points: &'a [Point<S, M>], model: &str) -> Option<&'a str> {
        points.iter().find_map(|p| match &p.outcome {
            Outcome::Unavailable { reason } | Outcome::Refused { reason } if p.model == model => {
                Some(reason.as_str())
            }
            _ => None,
        })
    }
    for model in &report.config.models {
        let rates = || {
            report.open_loop.rows().find_map(|p| match &p.outcome {
                Outcome::Unavailable { reason } if &p.model == model => Some(reason.as_str()),
                _ => None,
            })
        };
        let Some(why) = reason(&report.points, model)
            .or(reason(&report.saturation, model))
            .or_else(rates)
        else {
            continue;
        };
        let text = wrap(&format!("{model}: n/a ({why})"), UNAVAILABLE_LINES);
        entries.push(Entry::lines(Glyph::Dot, faded(report, model), text));
    }
}

/// `model`'s colour faded: the colour of a note on a model that has no
/// point in the plot.
fn faded(report: &CompareReport, model: &str) -> RGBAColor {
    colour(model_index(report, model)).mix(0.3)
}

/// A legend note for each of `models`, which have no point in this plot,
/// in its colour faded: `why` is the reason on two short lines, read as
/// "MODEL: n/a (`why[0]`" then "`why[1]`", which closes the parenthesis.
fn not_applicable_notes(
    report: &CompareReport,
    models: &[&str],
    why: [&str; 2],
    entries: &mut Vec<Entry>,
) {
    for model in models {
        let first = format!("{model}: n/a ({}", why[0]);
        entries.push(Entry::new(
            Glyph::Dot,
            faded(report, model),
            &[&first, why[1]],
        ));
    }
}

/// The white canvas with a title, split into the chart area and the legend
/// column. The root must be presented once everything is drawn.
fn canvas<'a>(path: &'a Path, title: &str) -> io::Result<(Area<'a>, Area<'a>, Area<'a>)> {
    let root = SVGBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let body = root.titled(title, (FONT, 20)).map_err(err)?;
    let (chart, legend) = body.split_horizontally(SIZE.0 - LEGEND_WIDTH);
    Ok((root, chart, legend))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture;

    /// `report`'s plots, written into a scratch directory of their own
    /// that starts empty: the directory and [`write_all`]'s file names.
    fn plots(name: &str, report: &CompareReport) -> (PathBuf, Vec<PathBuf>) {
        let dir = std::env::temp_dir().join(format!("loadgen-plot-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let files = write_all(&dir, report).unwrap();
        (dir, files)
    }

    /// The text of plot `name` in `dir`, failing unless [`write_all`]
    /// listed it among `files`.
    fn svg(dir: &Path, files: &[PathBuf], name: &str) -> String {
        assert!(files.contains(&PathBuf::from(name)), "{files:?}");
        std::fs::read_to_string(dir.join(name)).unwrap()
    }

    #[test]
    fn latency_against_load_marks_points_behind_and_the_objective() {
        let (dir, files) = plots("load", &fixture::with_rates());
        let svg = svg(&dir, &files, "latency_load.svg");
        assert!(svg.contains("objective: p99 ≤ 1 ms"), "no SLO line");
        assert!(svg.contains("hollow: behind"));
        assert!(svg.contains("iterative: n/a"));
        assert!(svg.contains("fell behind its schedule;"));
        // No rate points: no such plot.
        let (dir, files) = plots("load", &fixture::report());
        assert!(!files.contains(&PathBuf::from("latency_load.svg")));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_sweep_that_measured_nothing_writes_no_plot() {
        let (dir, files) = plots("empty", &fixture::nothing_measured());
        assert!(files.is_empty());
        assert!(!dir.join("throughput.svg").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn saturation_is_plotted_from_zero_with_generator_bound_points_hollow() {
        let (dir, files) = plots("sat", &fixture::report());
        let svg = svg(&dir, &files, "saturation.svg");
        assert!(svg.contains("50 connections"), "no x label");
        assert!(svg.contains("MB echoed per server CPU-second"));
        assert!(svg.contains("hollow: generator-bound"));
        assert!(svg.contains("iterative: n/a"));
        // Only saturation points measured: only the saturation plot.
        let mut r = fixture::report();
        for p in &mut r.points {
            p.outcome = Outcome::NotRun;
        }
        let (dir, files) = plots("sat", &r);
        assert_eq!(files, [PathBuf::from("saturation.svg")]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
