//! A timeline: req/s per interval above, p99 per interval below, on one
//! time axis, so that a dip in throughput and the latency spike that goes
//! with it line up. `run --plot` draws one run; `compare` one line per
//! model at each connection count (the median round's timeline). A flood
//! has no latency: its single panel shows MB/s.
//!
//! Each interval is drawn at its middle. p99 is on a log scale (a stall
//! is seconds above a body of microseconds); an interval with no reply has
//! no p99 and breaks the line rather than being drawn as zero.

use std::io;
use std::path::Path;

use plotters::coord::ranged1d::{AsRangedCoord, Ranged};
use plotters::prelude::*;

use super::axes::{count_label, latency_label, log_latency, Linear};
use super::legend::{draw_legend, Entry, Glyph};
use super::{canvas, chart, draw_axes, err, Area, Chart};
use crate::run::series::SeriesPoint;

/// One line of a timeline plot.
pub(super) struct Line<'a> {
    /// What the legend calls it.
    pub(super) name: String,
    pub(super) colour: RGBColor,
    pub(super) points: &'a [SeriesPoint],
}

/// Draws `lines` into `path` under `title`; `notes` go below the legend
/// entries. Nothing is drawn for lines without points.
pub(super) fn write(path: &Path, title: &str, lines: &[Line], notes: &[&str]) -> io::Result<()> {
    let flood = lines
        .iter()
        .flat_map(|l| l.points.first())
        .all(|p| p.p99_us.is_none());
    let x_hi = lines
        .iter()
        .flat_map(|l| l.points.last())
        .map(|p| p.start_s + p.length_s)
        .fold(0.0, f64::max)
        .max(1e-3);
    let (root, area, legend) = canvas(path, title)?;
    let x_label = if flood { "seconds into the window" } else { "" };
    if flood {
        rate_panel(&area, lines, x_hi, x_label, "MB/s echoed", |p| p.mb_per_sec)?;
    } else {
        let (top, bottom) = area.split_vertically(area.dim_in_pixel().1 / 2);
        rate_panel(&top, lines, x_hi, x_label, "requests/s", |p| {
            p.requests_per_sec
        })?;
        p99_panel(&bottom, lines, x_hi)?;
    }
    let mut entries: Vec<Entry> = lines
        .iter()
        .filter(|l| !l.points.is_empty())
        .map(|l| Entry::new(Glyph::Model, l.colour, &[&l.name]))
        .collect();
    if !notes.is_empty() {
        entries.push(Entry::new(Glyph::Dot, WHITE, notes));
    }
    draw_legend(&legend, &entries)?;
    root.present().map_err(err)
}

/// The middle of interval `p`, in seconds.
fn mid(p: &SeriesPoint) -> f64 {
    p.start_s + p.length_s / 2.0
}

/// A panel's chart on `area`: the window's seconds from 0 to `x_hi`
/// across, `y` up, with the same margins in every panel so that their
/// time axes line up.
fn panel<'a, 'b, Y: AsRangedCoord>(
    area: &'a Area<'b>,
    x_hi: f64,
    y: Y,
) -> io::Result<Chart<'a, 'b, Linear, Y::CoordDescType>> {
    chart(area, (25, 70), Linear::from_zero(x_hi), y)
}

/// A panel of `figure` per interval from 0, one line per model.
fn rate_panel(
    area: &Area<'_>,
    lines: &[Line],
    x_hi: f64,
    x_desc: &str,
    y_desc: &str,
    figure: fn(&SeriesPoint) -> f64,
) -> io::Result<()> {
    let top = lines
        .iter()
        .flat_map(|l| l.points.iter().map(figure))
        .fold(0.0, f64::max)
        .max(1.0)
        * 1.08;
    let mut chart = panel(area, x_hi, Linear::from_zero(top))?;
    draw_axes(
        &mut chart,
        [x_desc, y_desc],
        &|x| count_label(*x),
        &|y| count_label(*y),
        true,
    )?;
    for l in lines {
        let pts: Vec<(f64, f64)> = l.points.iter().map(|p| (mid(p), figure(p))).collect();
        dotted_line(&mut chart, pts, l.colour)?;
    }
    Ok(())
}

/// `pts` joined by a line in `colour`, a dot at each: each dot is one
/// interval.
fn dotted_line<Y: Ranged<ValueType = f64>>(
    chart: &mut Chart<'_, '_, Linear, Y>,
    pts: Vec<(f64, f64)>,
    colour: RGBColor,
) -> io::Result<()> {
    chart
        .draw_series(LineSeries::new(pts.clone(), colour.stroke_width(2)))
        .map_err(err)?;
    chart
        .draw_series(
            pts.into_iter()
                .map(|at| Circle::new(at, 3, colour.filled())),
        )
        .map_err(err)?;
    Ok(())
}

/// The p99 panel: on a log scale when the p99s span a decade or more (a
/// stall is seconds above a body of microseconds), else linear from 0;
/// an interval without replies breaks the line.
fn p99_panel(area: &Area<'_>, lines: &[Line], x_hi: f64) -> io::Result<()> {
    let ys = lines
        .iter()
        .flat_map(|l| l.points.iter().filter_map(|p| p.p99_us))
        .filter(|&y| y > 0.0);
    let (lo, hi) = ys.fold((f64::MAX, 0f64), |(lo, hi), y| (lo.min(y), hi.max(y)));
    let (lo, hi) = if hi > 0.0 { (lo, hi) } else { (1.0, 10.0) };
    let desc = ["seconds into the window", "p99 latency (log scale)"];
    if hi / lo < 10.0 {
        let top = hi * 1.08;
        let mut chart = panel(area, x_hi, Linear::from_zero(top))?;
        let desc = [desc[0], "p99 latency"];
        // 0 is 0 in any unit: "0 µs" under ticks in ms would read oddly.
        let y_label = |y: &f64| {
            if *y == 0.0 {
                "0".to_string()
            } else {
                latency_label(*y)
            }
        };
        draw_axes(&mut chart, desc, &|x| count_label(*x), &y_label, true)?;
        return p99_lines(&mut chart, lines);
    }
    let (_, y_axis) = log_latency(lo, hi, 1.05);
    let mut chart = panel(area, x_hi, y_axis)?;
    draw_axes(
        &mut chart,
        desc,
        &|x| count_label(*x),
        &|y| latency_label(*y),
        true,
    )?;
    p99_lines(&mut chart, lines)
}

/// Each line's p99s on `chart`, broken where an interval had no reply.
fn p99_lines<Y: Ranged<ValueType = f64>>(
    chart: &mut Chart<'_, '_, Linear, Y>,
    lines: &[Line],
) -> io::Result<()> {
    for l in lines {
        let mut runs: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
        for p in l.points {
            match p.p99_us.filter(|&y| y > 0.0 && p.requests > 0) {
                Some(y) => runs.last_mut().expect("never empty").push((mid(p), y)),
                None => runs.push(Vec::new()),
            }
        }
        for run in runs.into_iter().filter(|r| !r.is_empty()) {
            dotted_line(chart, run, l.colour)?;
        }
    }
    Ok(())
}
