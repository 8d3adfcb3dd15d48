//! The latency percentile spectrum at one connection count, one curve per
//! measured model. The x axis counts nines, after HdrHistogram's percentile
//! plot, so that the tail, where event loops and thread pools part ways,
//! gets as much room as the median; the y axis is logarithmic so that a
//! microsecond body and a millisecond tail both stay legible.

use std::io;
use std::path::Path;

use plotters::prelude::*;

use super::axes::{latency_label, log_latency, nines_ticks, Linear};
use super::curve::{curve, Curve};
use super::legend::{draw_legend, Entry, Glyph};
use super::{
    canvas, chart, colour, draw_axes, err, interrupted, model_index, unavailable_notes, GREY,
};
use crate::report::format::compact;
use crate::stats;
use crate::sweep::{CompareReport, Outcome, Point, Summary};

/// The percentile spectrum at `conns` connections, one curve per measured
/// model, latency on a log scale. The caller makes sure some model was
/// measured there.
pub(super) fn write(path: &Path, report: &CompareReport, conns: u32) -> io::Result<()> {
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
    let (_, y_axis) = log_latency(lo.max(0.01), hi.max(lo), 1.05);
    let x_hi = measured.iter().map(|(_, _, c)| c.max.0).fold(1.0, f64::max) + 0.25;
    let x_ticks = nines_ticks(x_hi);
    let x_bold: Vec<f64> = x_ticks.iter().map(|t| t.0).collect();

    let title = format!(
        "Latency percentile spectrum, {conns} connection(s), all rounds pooled{}",
        interrupted(report)
    );
    let (root, area, legend) = canvas(path, &title)?;
    let mut chart = chart(
        &area,
        (25, 80),
        Linear {
            range: 0.0..x_hi,
            ticks: x_bold,
        },
        y_axis,
    )?;
    let label = |x: &f64| {
        x_ticks
            .iter()
            .find(|t| (t.0 - x).abs() < 1e-9)
            .map_or_else(String::new, |t| t.1.clone())
    };
    draw_axes(
        &mut chart,
        [
            "percentile (log scale of 1/(1 − q): one step per nine)",
            "latency (log scale)",
        ],
        &label,
        &|y| latency_label(*y),
        true,
    )?;

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
    unavailable_notes(report, &mut entries);
    draw_legend(&legend, &entries)?;
    root.present().map_err(err)
}
