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
//! - Spectra follow HdrHistogram's percentile plot: x is the number of
//!   nines, -log10(1 - q). The curve turns dashed where fewer than
//!   [`stats::THIN`] requests lie beyond it, and ends at the maximum, placed
//!   where the slowest request actually sits (see [`Curve`]).
//! - A sweep that measured nothing writes no file at all.
//!
//! # Text
//! Only plotters' SVG backend is used, with its built-in text layout: SVG
//! text is drawn by the viewer, so no font files or fontconfig are needed to
//! build or run this. The backend cannot measure text, so the legends are
//! drawn beside the chart (never over data) with hand-wrapped lines.

use std::io;
use std::ops::Range;
use std::path::{Path, PathBuf};

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::coord::Shift;
use plotters::prelude::*;

use super::table::compact;
use crate::stats::{self, SpectrumPoint};
use crate::sweep::{CompareReport, Outcome, Point, Summary};

const SIZE: (u32, u32) = (1000, 600);
/// Width of the legend column to the right of each chart.
const LEGEND_WIDTH: u32 = 250;
const GREY: RGBColor = RGBColor(120, 120, 120);
const FONT: &str = "sans-serif";

type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;

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
/// relative to `dir`: `throughput.svg`, then `latency_c<N>.svg` for each
/// connection count (in sweep order) at which some model was measured.
///
/// A sweep with no measured point (all failed, n/a or not run) writes
/// nothing and returns an empty list: an empty chart would only suggest
/// that something was measured. Other files in `dir`, such as an earlier
/// sweep's plots, are neither read nor removed: clearing them is the
/// caller's job.
///
/// # Errors
/// Drawing or file failures.
pub fn write_all(dir: &Path, report: &CompareReport) -> io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    if !report.points.iter().any(|p| p.summary().is_some()) {
        return Ok(files);
    }
    throughput_plot(&dir.join("throughput.svg"), report)?;
    files.push(PathBuf::from("throughput.svg"));
    let mut seen = Vec::new();
    for &c in &report.config.connections {
        if seen.contains(&c) || !report.at(c).any(|p| p.summary().is_some()) {
            continue;
        }
        seen.push(c);
        let name = format!("latency_c{c}.svg");
        spectrum_plot(&dir.join(&name), report, c)?;
        files.push(PathBuf::from(name));
    }
    Ok(files)
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

// ---------------------------------------------------------------- axes ----

/// `x` with at most three decimals and no trailing zeros: `2.5`, `20`, `0.25`.
fn trim(x: f64) -> String {
    let s = format!("{x:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".into()
    } else {
        s.into()
    }
}

/// Multiples of `mantissas` times powers of ten within `lo..=hi`.
fn decade_ticks(lo: f64, hi: f64, mantissas: &[f64]) -> Vec<f64> {
    let (e0, e1) = (lo.log10().floor() as i32, hi.log10().ceil() as i32);
    let mut out = Vec::new();
    for e in e0..=e1 {
        for &m in mantissas {
            let v = m * 10f64.powi(e);
            if v >= lo * (1.0 - 1e-9) && v <= hi * (1.0 + 1e-9) {
                out.push(v);
            }
        }
    }
    out
}

/// The nearest value of the 1-2-5 series at or above `x` (`up`) or at or
/// below it; `x` > 0.
fn nice(x: f64, up: bool) -> f64 {
    let p = 10f64.powf(x.log10().floor());
    let steps = [0.5, 1.0, 2.0, 5.0, 10.0, 20.0].map(|m| m * p);
    if up {
        steps
            .into_iter()
            .find(|&v| v >= x * (1.0 - 1e-9))
            .unwrap_or(x)
    } else {
        steps
            .into_iter()
            .rev()
            .find(|&v| v <= x * (1.0 + 1e-9))
            .unwrap_or(x)
    }
}

/// Ticks for a log axis over `lo..hi` (both > 0): labelled ("bold") ticks
/// at 1, 2 and 5 per decade, falling back to every integer mantissa when
/// the range is too narrow to hold three, and to powers of ten alone when
/// it spans more than six decades; unlabelled grid lines at 1..9 per
/// decade.
fn log_ticks(lo: f64, hi: f64) -> (Vec<f64>, Vec<f64>) {
    const ALL: [f64; 9] = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0];
    let wide = (hi / lo).log10() > 6.0;
    let mut bold = decade_ticks(lo, hi, if wide { &[1.0] } else { &[1.0, 2.0, 5.0] });
    if bold.len() < 3 {
        bold = decade_ticks(lo, hi, &ALL);
    }
    let light = decade_ticks(lo, hi, if wide { &[1.0] } else { &ALL });
    (bold, light)
}

/// Ticks from 0 to at most `hi` in steps of 1, 2, 2.5 or 5 times a power of
/// ten, about six of them.
fn linear_ticks(hi: f64) -> Vec<f64> {
    if hi <= 0.0 || !hi.is_finite() {
        return vec![0.0];
    }
    let raw = hi / 6.0;
    let p = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * p)
        .find(|&s| s >= raw)
        .unwrap_or(10.0 * p);
    (0..)
        .map(|i| i as f64 * step)
        .take_while(|&v| v <= hi * (1.0 + 1e-9))
        .collect()
}

/// A linear axis with the ticks given here. (plotters' own `f64` axis
/// picks its ticks itself, and wrapped in `with_key_points` it loses its
/// label formatting.)
struct Linear {
    range: Range<f64>,
    ticks: Vec<f64>,
}

impl Ranged for Linear {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        let f = (v - self.range.start) / (self.range.end - self.range.start);
        limit.0 + (f * (limit.1 - limit.0) as f64).round() as i32
    }

    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> Range<f64> {
        self.range.clone()
    }
}

/// A count with a `k` or `M` suffix: `5`, `20`, `1k`, `2.5k`, `1.2M`.
fn count_label(x: f64) -> String {
    if x.abs() >= 1e6 {
        format!("{}M", trim(x / 1e6))
    } else if x.abs() >= 1e3 {
        format!("{}k", trim(x / 1e3))
    } else {
        trim(x)
    }
}

/// A latency in µs with the unit that keeps it short: `0.5 µs`, `200 µs`,
/// `2 ms`, `1.5 s`.
fn latency_label(us: f64) -> String {
    if us >= 1e6 {
        format!("{} s", trim(us / 1e6))
    } else if us >= 1e3 {
        format!("{} ms", trim(us / 1e3))
    } else {
        format!("{} µs", trim(us))
    }
}

/// The "nines" of quantile `q`: -log10(1 - q), so 90% → 1, 99% → 2,
/// 99.9% → 3. Infinite at `q = 1`.
fn nines(q: f64) -> f64 {
    -(1.0 - q).log10()
}

/// "0%", "90%", "99%", "99.9%", … for `n` whole nines.
fn nines_label(n: u32) -> String {
    match n {
        0 => "0%".into(),
        1 => "90%".into(),
        _ => format!("99.{}%", "9".repeat(n as usize - 2)).replace(".%", "%"),
    }
}

/// Labelled ticks of a nines axis reaching `hi`: 0%, the median (50%),
/// then every whole number of nines.
fn nines_ticks(hi: f64) -> Vec<(f64, String)> {
    let mut out = vec![(0.0, nines_label(0)), (nines(0.5), "50%".into())];
    out.extend((1..=hi.floor().max(0.0) as u32).map(|n| (n as f64, nines_label(n))));
    out.retain(|&(x, _)| x <= hi);
    out
}

// ---------------------------------------------------------- the legend ----

/// How a legend entry is drawn.
#[derive(Clone, Copy)]
enum Glyph {
    /// A line through a filled dot: a model.
    Model,
    /// A solid line.
    Line,
    /// A dashed line.
    Dashed,
    /// A hollow circle.
    Hollow,
    /// A cross.
    Cross,
    /// A vertical bar with caps.
    Bar,
    /// A triangle.
    Triangle,
}

struct Entry {
    glyph: Glyph,
    colour: RGBAColor,
    /// Lines of text, already short enough for the legend column.
    text: Vec<String>,
}

impl Entry {
    fn new(glyph: Glyph, colour: impl Color, text: &[&str]) -> Entry {
        Entry {
            glyph,
            colour: colour.to_rgba(),
            text: text.iter().map(|s| s.to_string()).collect(),
        }
    }
}

/// Draws `entries` top-down in `area`, each glyph left of its text.
fn draw_legend(area: &Area<'_>, entries: &[Entry]) -> io::Result<()> {
    const LINE: i32 = 17;
    let text = (FONT, 14).into_font().color(&BLACK);
    let mut y = 40;
    for e in entries {
        let (x0, x1, cy) = (8, 38, y);
        let style = e.colour.stroke_width(2);
        match e.glyph {
            Glyph::Model | Glyph::Line => {
                area.draw(&PathElement::new(vec![(x0, cy), (x1, cy)], style))
                    .map_err(err)?;
                if let Glyph::Model = e.glyph {
                    area.draw(&Circle::new(((x0 + x1) / 2, cy), 5, e.colour.filled()))
                        .map_err(err)?;
                }
            }
            Glyph::Dashed => {
                for x in (x0..x1).step_by(10) {
                    let seg = vec![(x, cy), ((x + 6).min(x1), cy)];
                    area.draw(&PathElement::new(seg, style)).map_err(err)?;
                }
            }
            Glyph::Hollow => {
                area.draw(&Circle::new(((x0 + x1) / 2, cy), 5, style))
                    .map_err(err)?;
            }
            Glyph::Cross => {
                area.draw(&Cross::new(((x0 + x1) / 2, cy), 5, style))
                    .map_err(err)?;
            }
            Glyph::Bar => {
                let x = (x0 + x1) / 2;
                for seg in [
                    vec![(x, cy - 8), (x, cy + 8)],
                    vec![(x - 5, cy - 8), (x + 5, cy - 8)],
                    vec![(x - 5, cy + 8), (x + 5, cy + 8)],
                ] {
                    area.draw(&PathElement::new(seg, e.colour.stroke_width(1)))
                        .map_err(err)?;
                }
            }
            Glyph::Triangle => {
                area.draw(&TriangleMarker::new(
                    ((x0 + x1) / 2, cy),
                    6,
                    e.colour.filled(),
                ))
                .map_err(err)?;
            }
        }
        for (i, line) in e.text.iter().enumerate() {
            area.draw(&Text::new(
                line.clone(),
                (x1 + 10, y - 6 + i as i32 * LINE),
                text.clone(),
            ))
            .map_err(err)?;
        }
        y += LINE * e.text.len().max(1) as i32 + 10;
    }
    Ok(())
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

// ---------------------------------------------------------- throughput ----

/// Requests/s against connections (log x): per model the median over
/// rounds, with a bar from the slowest to the fastest round.
///
/// Models measured at the same connection count are drawn a few pixels
/// apart ("dodged") so that overlapping bars stay visible side by side,
/// which is exactly when they matter: overlap means no clear difference.
fn throughput_plot(path: &Path, report: &CompareReport) -> io::Result<()> {
    let conns: Vec<f64> = report
        .points
        .iter()
        .map(|p| p.connections.max(1) as f64)
        .collect();
    let (cmin, cmax) = conns
        .iter()
        .fold((f64::MAX, 0f64), |(lo, hi), &c| (lo.min(c), hi.max(c)));
    // At least a decade wide, so that a sweep of one or two nearby
    // connection counts still gets labelled ticks either side.
    let widen = (10.0 / (cmax / cmin * 1.6 * 1.6)).max(1.0).sqrt();
    let (x_lo, x_hi) = (cmin / 1.6 / widen, cmax * 1.6 * widen);
    let top = report
        .points
        .iter()
        .filter_map(Point::summary)
        .map(|s| s.requests_per_sec.max)
        .fold(0.0, f64::max)
        .max(1.0)
        * 1.08;
    let (x_bold, x_light) = log_ticks(x_lo, x_hi);
    let models = &report.config.models;
    let span = (x_hi / x_lo).log10();
    let dodge = |model: &str| {
        let i = model_index(report, model) as f64;
        let mid = (models.len().max(1) - 1) as f64 / 2.0;
        10f64.powf((i - mid) * 0.012 * span)
    };
    let rounds = report.config.rounds;
    let title = format!(
        "Throughput vs connections ({} B, depth {}; median of {rounds} round(s)){}",
        report.config.size,
        report.config.depth,
        interrupted(report)
    );
    let (root, area, legend) = canvas(path, &title)?;
    let mut chart = ChartBuilder::on(&area)
        .margin(10)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d(
            (x_lo..x_hi)
                .log_scale()
                .with_key_points(x_bold)
                .with_light_points(x_light),
            Linear {
                range: 0.0..top,
                ticks: linear_ticks(top),
            },
        )
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("connections (log scale)")
        .y_desc("requests/s")
        .x_label_formatter(&|x| count_label(*x))
        .y_label_formatter(&|y| count_label(*y))
        .light_line_style(BLACK.mix(0.05))
        .bold_line_style(BLACK.mix(0.15))
        .label_style((FONT, 14))
        .axis_desc_style((FONT, 15))
        .draw()
        .map_err(err)?;

    let mut entries = Vec::new();
    let (mut any_bound, mut any_failed) = (false, false);
    for model in report.config.models.iter() {
        let c = colour(model_index(report, model));
        let points: Vec<&Point> = report.points.iter().filter(|p| &p.model == model).collect();
        if points
            .iter()
            .all(|p| matches!(p.outcome, Outcome::NotApplicable { .. } | Outcome::NotRun))
        {
            continue;
        }
        entries.push(Entry::new(Glyph::Model, c, &[model]));
        // Runs of consecutive measured points: a failed or unrun point
        // breaks the line instead of being bridged.
        let mut runs: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
        for p in &points {
            let x = p.connections.max(1) as f64 * dodge(model);
            match &p.outcome {
                Outcome::Ok(s) => runs
                    .last_mut()
                    .unwrap()
                    .push((x, s.requests_per_sec.median)),
                Outcome::NotApplicable { .. } => {}
                Outcome::Failed { .. } | Outcome::NotRun => runs.push(Vec::new()),
            }
        }
        for run in runs.into_iter().filter(|r| r.len() > 1) {
            chart
                .draw_series(LineSeries::new(run, c.stroke_width(2)))
                .map_err(err)?;
        }
        for p in &points {
            let x = p.connections.max(1) as f64 * dodge(model);
            match &p.outcome {
                Outcome::Ok(s) => {
                    let r = &s.requests_per_sec;
                    if r.max > r.min {
                        let bar = c.stroke_width(1);
                        chart
                            .draw_series([PathElement::new(vec![(x, r.min), (x, r.max)], bar)])
                            .map_err(err)?;
                        let cap = |y| {
                            EmptyElement::at((x, y)) + PathElement::new(vec![(-5, 0), (5, 0)], bar)
                        };
                        chart.draw_series([cap(r.min), cap(r.max)]).map_err(err)?;
                    }
                    let at = (x, r.median);
                    if s.generator_bound {
                        any_bound = true;
                        chart
                            .draw_series([
                                Circle::new(at, 6, WHITE.filled()),
                                Circle::new(at, 6, c.stroke_width(2)),
                            ])
                            .map_err(err)?;
                    } else {
                        chart
                            .draw_series([Circle::new(at, 5, c.filled())])
                            .map_err(err)?;
                    }
                }
                Outcome::Failed { .. } => {
                    any_failed = true;
                    chart
                        .draw_series([Cross::new((x, 0.0), 7, c.stroke_width(3))])
                        .map_err(err)?;
                }
                Outcome::NotApplicable { .. } | Outcome::NotRun => {}
            }
        }
    }
    if rounds > 1 {
        entries.push(Entry::new(
            Glyph::Bar,
            GREY,
            &[
                "bar: slowest to fastest round",
                "(overlapping bars: no clear",
                "difference)",
            ],
        ));
    }
    if any_bound {
        entries.push(Entry::new(
            Glyph::Hollow,
            GREY,
            &[
                "hollow: generator-bound; the",
                "generator was at its limit,",
                "not the server: this measures",
                "the generator",
            ],
        ));
    }
    if any_failed {
        entries.push(Entry::new(
            Glyph::Cross,
            GREY,
            &["cross on the axis: failed,", "nothing measured (not zero)"],
        ));
    }
    draw_legend(&legend, &entries)?;
    root.present().map_err(err)
}

// ------------------------------------------------------------ spectrum ----

/// One model's spectrum, ready to draw on a nines axis.
///
/// # Where the maximum goes
/// A spectrum point is the latency at the quantile q the histogram was
/// walked to, so the curve is a staircase whose last step, the maximum,
/// holds for every q above 1 - 1/count. The maximum is drawn at
/// x = log10(count), where that step starts: the slowest request of a
/// 10 000-request run sits at 4 nines and that of a 10 000 000-request run
/// at 7. (Putting every maximum in one fixed "max" column made a single
/// slow request look as far out as the worst in ten million.) Spectrum
/// points past that x only repeat the maximum and are dropped.
#[derive(Debug, PartialEq)]
struct Curve {
    /// Where at least [`stats::THIN`] requests lie beyond each point.
    solid: Vec<(f64, f64)>,
    /// The thin tail: from the last solid point to the maximum.
    thin: Vec<(f64, f64)>,
    /// (log10(count), max µs).
    max: (f64, f64),
}

fn curve(s: &Summary) -> Option<Curve> {
    let spectrum: &[SpectrumPoint] = &s.spectrum;
    let last = spectrum.last()?;
    let count = s.latency_us.count.max(1) as f64;
    let x_max = count.log10();
    let max = (x_max, last.latency_us.max(s.latency_us.max));
    let body = spectrum
        .iter()
        .filter(|p| p.quantile < 1.0 && p.beyond > 0 && nines(p.quantile) <= x_max)
        .map(|p| (nines(p.quantile), p.latency_us, p.beyond));
    let (mut solid, mut thin) = (Vec::new(), Vec::new());
    for (x, y, beyond) in body {
        if beyond >= stats::THIN && thin.is_empty() {
            solid.push((x, y));
        } else {
            if thin.is_empty() {
                thin.extend(solid.last().copied());
            }
            thin.push((x, y));
        }
    }
    if thin.is_empty() {
        thin.extend(solid.last().copied());
    }
    thin.push(max);
    Some(Curve { solid, thin, max })
}

/// The percentile spectrum at `conns` connections, one curve per measured
/// model, latency on a log scale. The caller makes sure some model was
/// measured there.
fn spectrum_plot(path: &Path, report: &CompareReport, conns: u32) -> io::Result<()> {
    let measured: Vec<(&Point, &Summary, Curve)> = report
        .at(conns)
        .filter_map(|p| {
            let s = p.summary()?;
            Some((p, s, curve(s)?))
        })
        .collect();
    let ys = measured
        .iter()
        .flat_map(|(_, _, c)| c.solid.iter().chain(&c.thin).map(|p| p.1));
    let (lo, hi) = ys.fold((f64::MAX, 0f64), |(lo, hi), y| (lo.min(y), hi.max(y)));
    // Ends on labelled 1-2-5 values, so the top and bottom of every
    // curve can be read off the axis.
    let (y_lo, y_hi) = (
        nice(lo.max(0.01) / 1.05, false),
        nice(hi.max(lo) * 1.05, true),
    );
    let x_hi = measured.iter().map(|(_, _, c)| c.max.0).fold(1.0, f64::max) + 0.25;
    let x_ticks = nines_ticks(x_hi);
    let x_bold: Vec<f64> = x_ticks.iter().map(|t| t.0).collect();
    let (y_bold, y_light) = log_ticks(y_lo, y_hi);

    let title = format!(
        "Latency percentile spectrum, {conns} connection(s), all rounds pooled{}",
        interrupted(report)
    );
    let (root, area, legend) = canvas(path, &title)?;
    let mut chart = ChartBuilder::on(&area)
        .margin(10)
        .margin_right(25)
        .x_label_area_size(45)
        .y_label_area_size(80)
        .build_cartesian_2d(
            Linear {
                range: 0.0..x_hi,
                ticks: x_bold,
            },
            (y_lo..y_hi)
                .log_scale()
                .with_key_points(y_bold)
                .with_light_points(y_light),
        )
        .map_err(err)?;
    let label = |x: &f64| {
        x_ticks
            .iter()
            .find(|t| (t.0 - x).abs() < 1e-9)
            .map_or_else(String::new, |t| t.1.clone())
    };
    chart
        .configure_mesh()
        .x_desc("percentile (log scale of 1/(1 − q): one step per nine)")
        .y_desc("latency (log scale)")
        .x_label_formatter(&label)
        .y_label_formatter(&|y| latency_label(*y))
        .light_line_style(BLACK.mix(0.05))
        .bold_line_style(BLACK.mix(0.15))
        .label_style((FONT, 14))
        .axis_desc_style((FONT, 15))
        .draw()
        .map_err(err)?;

    let mut entries = Vec::new();
    let mut any_bound = false;
    for (p, s, c) in &measured {
        let base = colour(model_index(report, &p.model));
        // A generator-bound curve is drawn pale: it is the generator's
        // latency as much as the server's.
        let col = if s.generator_bound {
            any_bound = true;
            base.mix(0.45)
        } else {
            base.mix(1.0)
        };
        chart
            .draw_series(LineSeries::new(
                c.solid.iter().copied(),
                col.stroke_width(2),
            ))
            .map_err(err)?;
        chart
            .draw_series(DashedLineSeries::new(
                c.thin.iter().copied(),
                6,
                4,
                col.stroke_width(2),
            ))
            .map_err(err)?;
        chart
            .draw_series([TriangleMarker::new(c.max, 6, col.filled())])
            .map_err(err)?;
        let requests = format!("{} requests", compact(s.latency_us.count as f64));
        let name = if s.generator_bound {
            format!("{} (generator-bound)", p.model)
        } else {
            p.model.clone()
        };
        entries.push(Entry::new(Glyph::Line, col, &[&name, &requests]));
    }
    for p in report.at(conns) {
        if let Outcome::Failed { .. } = p.outcome {
            let c = colour(model_index(report, &p.model));
            let text = format!("{}: FAILED, no data", p.model);
            entries.push(Entry::new(Glyph::Cross, c, &[&text]));
        }
    }
    let thin = format!("fewer than {} requests beyond", stats::THIN);
    entries.push(Entry::new(
        Glyph::Dashed,
        GREY,
        &["dashed: thin tail,", &thin],
    ));
    entries.push(Entry::new(
        Glyph::Triangle,
        GREY,
        &[
            "max: the slowest request,",
            "at 1 − 1/count (where the",
            "last sample sits)",
        ],
    ));
    if any_bound {
        entries.push(Entry::new(
            Glyph::Line,
            GREY.mix(0.45),
            &[
                "pale: generator-bound; the",
                "generator's own delays are",
                "in these latencies",
            ],
        ));
    }
    draw_legend(&legend, &entries)?;
    root.present().map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::table::fixture;

    #[test]
    fn nines_are_labelled_as_percentiles() {
        let labels: Vec<String> = (0..=5).map(nines_label).collect();
        assert_eq!(labels, ["0%", "90%", "99%", "99.9%", "99.99%", "99.999%"]);
        let ticks: Vec<String> = nines_ticks(3.4).into_iter().map(|t| t.1).collect();
        assert_eq!(ticks, ["0%", "50%", "90%", "99%", "99.9%"]);
        assert!((nines(0.999) - 3.0).abs() < 1e-9);
    }

    #[test]
    fn log_axes_get_ticks_between_the_powers_of_ten() {
        let (bold, light) = log_ticks(0.6, 1600.0);
        let labels: Vec<String> = bold.iter().map(|&x| count_label(x)).collect();
        assert_eq!(
            labels,
            ["1", "2", "5", "10", "20", "50", "100", "200", "500", "1k"]
        );
        assert_eq!(light.len(), 4 + 9 * 3 + 1);
        // Too narrow for 1-2-5: every integer mantissa.
        let (bold, _) = log_ticks(60.0, 150.0);
        assert_eq!(bold, [60.0, 70.0, 80.0, 90.0, 100.0]);
        assert_eq!(
            (nice(3.6, true), nice(3.6, false), nice(20.0, true)),
            (5.0, 2.0, 20.0)
        );
        assert_eq!((nice(0.73, true), nice(170.0, false)), (1.0, 100.0));
        let (bold, _) = log_ticks(20.0, 3000.0);
        let labels: Vec<String> = bold.iter().map(|&x| latency_label(x)).collect();
        assert_eq!(
            labels,
            ["20 µs", "50 µs", "100 µs", "200 µs", "500 µs", "1 ms", "2 ms"]
        );
    }

    #[test]
    fn counts_and_latencies_are_labelled_without_repeated_zeros() {
        let labels: Vec<String> = [0.0, 0.25, 2.5, 50.0, 25_000.0, 150_000.0, 1.2e6]
            .iter()
            .map(|&y| count_label(y))
            .collect();
        assert_eq!(labels, ["0", "0.25", "2.5", "50", "25k", "150k", "1.2M"]);
        let labels: Vec<String> = [0.5, 200.0, 2500.0, 1.5e6]
            .iter()
            .map(|&y| latency_label(y))
            .collect();
        assert_eq!(labels, ["0.5 µs", "200 µs", "2.5 ms", "1.5 s"]);
    }

    #[test]
    fn linear_ticks_are_round() {
        let labels: Vec<String> = linear_ticks(193_000.0)
            .iter()
            .map(|&y| count_label(y))
            .collect();
        assert_eq!(labels, ["0", "50k", "100k", "150k"]);
        let labels: Vec<String> = linear_ticks(1.3).iter().map(|&y| trim(y)).collect();
        assert_eq!(labels, ["0", "0.25", "0.5", "0.75", "1", "1.25"]);
    }

    #[test]
    fn the_maximum_sits_where_the_last_sample_is_and_the_tail_turns_thin() {
        let r = fixture::report();
        let s = r.points[6].summary().unwrap();
        let c = curve(s).unwrap();
        assert!((c.max.0 - (s.latency_us.count as f64).log10()).abs() < 1e-9);
        assert_eq!(c.max.1, s.latency_us.max);
        assert_eq!(c.thin.first(), c.solid.last());
        assert_eq!(c.thin.last(), Some(&c.max));
        assert!(c.thin.iter().all(|p| p.0 <= c.max.0));
        let thin_from = s.spectrum.iter().find(|p| p.beyond < stats::THIN).unwrap();
        assert!(c.solid.last().unwrap().0 < nines(thin_from.quantile));
    }

    #[test]
    fn a_sweep_that_measured_nothing_writes_no_plot() {
        let dir = std::env::temp_dir().join(format!("loadgen-plot-empty-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let files = write_all(&dir, &fixture::nothing_measured()).unwrap();
        assert!(files.is_empty());
        assert!(!dir.join("throughput.svg").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
