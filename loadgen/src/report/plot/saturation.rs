//! MB echoed per server CPU-second at each flood connection count, one
//! marker per model: the plot that ranks the models where the server, not
//! the generator, is the limit. Each median is drawn with the spread of its
//! rounds, and a point where the server was not saturated is hollow: its
//! figure describes the generator.

use std::io;
use std::path::Path;

use super::axes::{count_label, Linear};
use super::legend::{draw_legend, Entry, Glyph};
use super::marker::Marked;
use super::{
    canvas, chart, colour, draw_axes, err, interrupted, model_index, not_applicable_notes,
    unavailable_notes,
};
use crate::limit::SATURATED;
use crate::report::summary::bytes_text;
use crate::sweep::{CompareReport, CpuFigure, FloodPoint, Outcome};

/// True for a point measured without the server's CPU (a `--target`):
/// it has no MB per server CPU-second to plot.
fn unmeasured(p: &FloodPoint) -> bool {
    p.summary()
        .is_some_and(|s| !s.mb_per_server_cpu_second.measured())
}

/// Half the width of a connection count's group on the x axis, in groups.
const GROUP_HALF_WIDTH: f64 = 0.3;

/// One group per flood connection count (in sweep order) on the x axis,
/// the models side by side in their colours within it; y is MB per server
/// CPU-second from 0, the median with a bar from the slowest to the
/// fastest round. The caller makes sure some saturation point was
/// measured.
pub(super) fn write(path: &Path, report: &CompareReport) -> io::Result<()> {
    let counts = &report.config.flood_connections;
    let models = &report.config.models;
    let top = report
        .saturation
        .iter()
        .filter_map(|p| p.summary())
        .map(|s| s.mb_per_server_cpu_second.max)
        .fold(0.0, f64::max)
        .max(1.0)
        * 1.1;
    let group = |conns: u32| counts.iter().position(|&c| c == conns).unwrap_or(0) as f64;
    // Within a group the models keep the order (and colour) they have in
    // --models, evenly spaced; a model that is n/a everywhere (iterative,
    // or one that could not start) takes no place, so the group stays
    // centred on its label.
    let placed: Vec<&str> = models
        .iter()
        .map(String::as_str)
        .filter(|m| {
            report
                .saturation
                .iter()
                .any(|p| p.model == *m && p.outcome.na_reason().is_none() && !unmeasured(p))
        })
        .collect();
    let offset = |model: &str| {
        let n = placed.len() as f64;
        let i = placed.iter().position(|m| *m == model).unwrap_or(0) as f64;
        if n < 2.0 {
            0.0
        } else {
            (i / (n - 1.0) - 0.5) * 2.0 * GROUP_HALF_WIDTH
        }
    };
    let c = &report.config;
    let title = format!(
        "Saturation: MB echoed per server CPU-second ({} window, median of {} round(s)){}",
        bytes_text(c.window),
        c.rounds,
        interrupted(report)
    );
    let (root, area, legend) = canvas(path, &title)?;
    let x_ticks: Vec<f64> = (0..counts.len()).map(|i| i as f64).collect();
    let mut chart = chart(
        &area,
        (25, 70),
        Linear {
            range: -0.5..counts.len() as f64 - 0.5,
            ticks: x_ticks,
        },
        Linear::from_zero(top),
    )?;
    let label = |x: &f64| {
        let i = x.round();
        if (x - i).abs() < 1e-9 && i >= 0.0 && (i as usize) < counts.len() {
            format!("{} connections", counts[i as usize])
        } else {
            String::new()
        }
    };
    draw_axes(
        &mut chart,
        ["flood connections", "MB echoed per server CPU-second"],
        &label,
        &|y| count_label(*y),
        false,
    )?;

    let mut entries = Vec::new();
    let (mut marked, mut not_applicable) = (Marked::default(), Vec::new());
    let mut not_measured = Vec::new();
    for model in models {
        let col = colour(model_index(report, model));
        let points: Vec<_> = report
            .saturation
            .iter()
            .filter(|p| &p.model == model)
            .collect();
        if points.iter().all(|p| {
            p.outcome.na_reason().is_some() || matches!(p.outcome, Outcome::NotRun) || unmeasured(p)
        }) {
            if points
                .iter()
                .any(|p| matches!(p.outcome, Outcome::NotApplicable { .. }))
            {
                not_applicable.push(model.as_str());
            }
            if points.iter().any(|p| unmeasured(p)) {
                not_measured.push(model.as_str());
            }
            continue;
        }
        entries.push(Entry::new(Glyph::Dot, col, &[model]));
        for p in points.into_iter().filter(|p| !unmeasured(p)) {
            let x = group(p.connections) + offset(model);
            marked.draw(
                &mut chart,
                x,
                &p.outcome,
                |s| &s.mb_per_server_cpu_second,
                col,
                6,
            )?;
        }
    }
    let threshold = format!("server used under {:.0}% of", SATURATED * 100.0);
    marked.legend(
        &mut entries,
        report.config.rounds,
        &[
            "hollow: generator-bound; the",
            &threshold,
            "its CPU: its cost per byte",
            "at part load, not saturated",
        ],
    );
    let one_client = ["one client", "at a time)"];
    not_applicable_notes(report, &not_applicable, one_client, &mut entries);
    let no_cpu = ["not started", "by loadgen: no server CPU)"];
    not_applicable_notes(report, &not_measured, no_cpu, &mut entries);
    unavailable_notes(report, &mut entries);
    draw_legend(&legend, &entries)?;
    root.present().map_err(err)
}
