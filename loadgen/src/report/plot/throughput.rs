//! Requests/s against connections, one line per model: the plot that shows
//! which model serves more, and from how many connections on. Each median is
//! drawn with the spread of its rounds, so that a difference inside the
//! noise does not pass for one.

use std::io;
use std::path::Path;

use plotters::prelude::*;

use super::axes::{count_label, linear_ticks, log_ticks, measured_ticks, Linear};
use super::legend::{draw_legend, Entry, Glyph};
use super::marker::Marked;
use super::{canvas, chart, colour, draw_axes, err, interrupted, model_index, unavailable_notes};
use crate::sweep::{CompareReport, Outcome, Point};

/// What the y axis of a throughput plot reads.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Unit {
    /// Requests per second.
    Requests,
    /// Megabytes (10^6 bytes) echoed per second: requests/s times the
    /// request size, exactly, so the same points on an axis relabelled.
    Megabytes,
}

/// Requests/s (or MB/s: [`Unit`]) against connections (log x): per model
/// the median over rounds, with a bar from the slowest to the fastest
/// round. The x axis is labelled at the measured connection counts only.
///
/// Models measured at the same connection count are drawn a few pixels
/// apart ("dodged") so that overlapping bars stay visible side by side,
/// which is exactly when they matter: overlap means no clear difference.
pub(super) fn write(path: &Path, report: &CompareReport, unit: Unit) -> io::Result<()> {
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
    // Labelled ticks at the measured counts alone (`--connections 4,64`
    // is labelled 4 and 64, not 5, 10, 20, 50); the 1-9 grid stays light.
    let (_, x_light) = log_ticks(x_lo, x_hi);
    let x_bold = measured_ticks(conns.iter().copied());
    let models = &report.config.models;
    let span = (x_hi / x_lo).log10();
    let dodge = |model: &str| {
        let i = model_index(report, model) as f64;
        let mid = (models.len().max(1) - 1) as f64 / 2.0;
        10f64.powf((i - mid) * 0.012 * span)
    };
    let rounds = report.config.rounds;
    // The points stay in req/s; a MB/s axis is the same axis with its
    // ticks placed at round MB/s values and labelled in them.
    let (factor, what, y_desc) = match unit {
        Unit::Requests => (1.0, "Throughput", "requests/s".to_string()),
        Unit::Megabytes => (
            report.config.size as f64 / 1e6,
            "Echoed MB/s",
            format!("MB/s (requests/s x {} B)", report.config.size),
        ),
    };
    let title = format!(
        "{what} vs connections ({} B, depth {}; median of {rounds} round(s)){}",
        report.config.size,
        report.config.depth,
        interrupted(report)
    );
    let (root, area, legend) = canvas(path, &title)?;
    let mut chart = chart(
        &area,
        (10, 70),
        (x_lo..x_hi)
            .log_scale()
            .with_key_points(x_bold)
            .with_light_points(x_light),
        Linear {
            range: 0.0..top,
            ticks: linear_ticks(top * factor)
                .into_iter()
                .map(|t| t / factor)
                .collect(),
        },
    )?;
    draw_axes(
        &mut chart,
        ["connections (log scale)", &y_desc],
        &|x| count_label(*x),
        &|y| count_label(*y * factor),
        true,
    )?;

    let mut entries = Vec::new();
    let mut marked = Marked::default();
    for model in report.config.models.iter() {
        let c = colour(model_index(report, model));
        let points: Vec<&Point> = report.points.iter().filter(|p| &p.model == model).collect();
        if points
            .iter()
            .all(|p| p.outcome.na_reason().is_some() || matches!(p.outcome, Outcome::NotRun))
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
                Outcome::NotApplicable { .. }
                | Outcome::Unavailable { .. }
                | Outcome::Refused { .. } => {}
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
            marked.draw(&mut chart, x, &p.outcome, |s| &s.requests_per_sec, c, 5)?;
        }
    }
    marked.legend(
        &mut entries,
        rounds,
        &[
            "hollow: generator-bound; the",
            "generator was at its limit,",
            "not the server: this measures",
            "the generator",
        ],
    );
    unavailable_notes(report, &mut entries);
    draw_legend(&legend, &entries)?;
    root.present().map_err(err)
}
