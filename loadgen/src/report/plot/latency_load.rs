//! Latency against offered load (`compare --rates`), one colour per model:
//! p50 dashed, p99 solid, p99.9 dotted, each the median over the rounds.
//! A point where the model did not keep up is drawn hollow (it is still
//! drawn: how far behind it fell is the point), a failed one as a cross on
//! the x axis, and the objective (`--slo`) as a grey line, so the knee of
//! each model can be read off where its curve crosses that line.

use std::io;
use std::path::Path;

use plotters::prelude::*;

use super::axes::{count_label, latency_label, log_latency, measured_ticks, Linear};
use super::legend::{draw_legend, Entry, Glyph};
use super::{
    canvas, chart, colour, draw_axes, err, interrupted, model_index, not_applicable_notes,
    unavailable_notes,
};
use super::{Chart, GREY};
use crate::sweep::{CompareReport, Outcome, RateSummary};

/// Above this ratio of the highest to the lowest rate the x axis is
/// logarithmic, so that low rates do not crowd into one corner.
const LOG_X_ABOVE: f64 = 8.0;

/// The objective's line: darker and thinner than the grey of the
/// percentiles' legend lines, so the two cannot be taken for each other.
const OBJECTIVE: RGBColor = RGBColor(60, 60, 60);

/// A percentile of a point's summary, in µs.
type Figure = fn(&RateSummary) -> f64;

/// The percentiles drawn: what of a summary, and in what line style.
const LINES: [(Figure, Style); 3] = [
    (|s| s.p50_us.median, Style::Dashed),
    (|s| s.p99_us.median, Style::Solid),
    (|s| s.p999_us.median, Style::Dotted),
];

#[derive(Clone, Copy)]
enum Style {
    Solid,
    Dashed,
    Dotted,
}

/// The x axis: offered rate, linear or log, with a tick at each rate.
struct XAxis {
    log: bool,
}

impl XAxis {
    fn at(&self, rate: f64) -> f64 {
        if self.log {
            rate.log10()
        } else {
            rate
        }
    }

    fn rate(&self, x: f64) -> f64 {
        if self.log {
            10f64.powf(x)
        } else {
            x
        }
    }
}

/// Writes the plot of `report`'s rate points to `path`. The caller makes
/// sure one was measured.
pub(super) fn write(path: &Path, report: &CompareReport) -> io::Result<()> {
    let o = &report.open_loop;
    let rates = measured_ticks(o.rates.iter().map(|r| r.offered_per_sec));
    let (rmin, rmax) = (rates[0], rates[rates.len() - 1]);
    let axis = XAxis {
        log: rmax / rmin > LOG_X_ABOVE,
    };
    let (a, b) = (axis.at(rmin), axis.at(rmax));
    let pad = if b > a {
        (b - a) * 0.08
    } else {
        a.abs() * 0.2 + 0.1
    };
    let (x_lo, x_hi) = (
        if axis.log {
            a - pad
        } else {
            (a - pad).max(0.0)
        },
        b + pad,
    );
    let ticks: Vec<f64> = rates.iter().map(|&r| axis.at(r)).collect();

    let measured = || o.rates.iter().filter_map(|r| Some((r, r.point.summary()?)));
    let slo = o.slo;
    let ys = measured()
        .flat_map(|(_, s)| LINES.map(|(f, _)| f(s)))
        .chain(slo.map(|s| s.limit_us))
        .filter(|y| *y > 0.0);
    let (lo, hi) = match ys.fold((f64::MAX, 0f64), |(lo, hi), y| (lo.min(y), hi.max(y))) {
        (lo, hi) if lo <= hi => (lo, hi),
        _ => (10.0, 1000.0),
    };
    let (y_lo, y_axis) = log_latency(lo.max(0.01), hi.max(lo), 1.3);

    let title = format!(
        "Latency against offered load ({} connections, median of {} round(s)){}",
        o.rate_connections,
        report.config.rounds,
        interrupted(report)
    );
    let (root, area, legend) = canvas(path, &title)?;
    let mut chart = chart(
        &area,
        (35, 80),
        Linear {
            range: x_lo..x_hi,
            ticks: ticks.clone(),
        },
        y_axis,
    )?;
    let label = |x: &f64| {
        let at_a_rate = ticks.iter().any(|t| (t - x).abs() < 1e-9);
        if at_a_rate {
            count_label(axis.rate(*x))
        } else {
            String::new()
        }
    };
    let x_desc = if axis.log {
        "offered load, requests/s (log scale; a tick at each rate measured)"
    } else {
        "offered load, requests/s (a tick at each rate measured)"
    };
    draw_axes(
        &mut chart,
        [x_desc, "latency from intended send time (log scale)"],
        &label,
        &|y| latency_label(*y),
        true,
    )?;

    if let Some(slo) = slo {
        let line = [(x_lo, slo.limit_us), (x_hi, slo.limit_us)];
        chart
            .draw_series([PathElement::new(line.to_vec(), OBJECTIVE.stroke_width(1))])
            .map_err(err)?;
        let text = format!("objective: {slo}");
        let style = (super::FONT, 14).into_font().color(&OBJECTIVE);
        chart
            .draw_series(
                [EmptyElement::at((x_lo, slo.limit_us)) + Text::new(text, (6, -18), style)],
            )
            .map_err(err)?;
    }

    let mut entries = Vec::new();
    let (mut any_behind, mut any_failed, mut not_applicable) = (false, false, Vec::new());
    let any_silent = measured().any(|(_, s)| s.requests == 0);
    let mut any_lagging = false;
    for model in &report.config.models {
        let col = colour(model_index(report, model));
        let mine: Vec<_> = o.rates.iter().filter(|r| &r.point.model == model).collect();
        let mut points: Vec<(f64, &RateSummary)> = mine
            .iter()
            .filter_map(|r| Some((axis.at(r.offered_per_sec), r.point.summary()?)))
            .collect();
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
        for r in &mine {
            if let Outcome::Failed { .. } = r.point.outcome {
                any_failed = true;
                let cross = Cross::new((axis.at(r.offered_per_sec), y_lo), 7, col.stroke_width(3));
                chart.draw_series([cross]).map_err(err)?;
            }
        }
        if points.is_empty() {
            if mine
                .iter()
                .any(|r| matches!(r.point.outcome, Outcome::NotApplicable { .. }))
            {
                not_applicable.push(model.as_str());
            }
            continue;
        }
        for (figure, style) in LINES {
            // A point with no reply at all has no latency: it sits on the
            // x axis, hollow, rather than vanish, and no line leads to it.
            let at = |x: f64, s: &RateSummary| (x, figure(s).max(y_lo));
            for run in points.split(|(_, s)| s.requests == 0) {
                if run.len() < 2 {
                    continue;
                }
                let line: Vec<(f64, f64)> = run.iter().map(|(x, s)| at(*x, s)).collect();
                draw_line(&mut chart, line, style, col)?;
            }
            let radius = if let Style::Solid = style { 5 } else { 3 };
            for (x, s) in &points {
                let at = at(*x, s);
                if s.kept_up {
                    chart
                        .draw_series([Circle::new(at, radius, col.filled())])
                        .map_err(err)?;
                } else {
                    any_behind = true;
                    chart
                        .draw_series([
                            Circle::new(at, radius + 1, WHITE.filled()),
                            Circle::new(at, radius + 1, col.stroke_width(2)),
                        ])
                        .map_err(err)?;
                }
            }
        }
        // A point whose generator fell behind its own schedule has its
        // lag in every latency: flagged above the p99, so that it is not
        // read as the server's.
        for (x, s) in points.iter().filter(|(_, s)| s.generator_behind) {
            any_lagging = true;
            let flag = EmptyElement::at((*x, s.p99_us.median.max(y_lo)))
                + TriangleMarker::new((0, -13), 5, GREY.filled());
            chart.draw_series([flag]).map_err(err)?;
        }
        entries.push(Entry::new(Glyph::Model, col, &[model]));
    }
    entries.push(Entry::new(Glyph::Line, GREY, &["p99 (solid)"]));
    entries.push(Entry::new(Glyph::Dashed, GREY, &["p50 (dashed)"]));
    entries.push(Entry::new(Glyph::Dotted, GREY, &["p99.9 (dotted)"]));
    if let Some(slo) = slo {
        let text = format!("objective {slo}");
        entries.push(Entry::new(Glyph::Line, OBJECTIVE, &[&text]));
    }
    if any_behind {
        entries.push(Entry::new(
            Glyph::Hollow,
            GREY,
            &[
                "hollow: behind; achieved",
                "under the offered rate or",
                "left requests unsent",
            ],
        ));
    }
    if any_lagging {
        entries.push(Entry::new(
            Glyph::Triangle,
            GREY,
            &[
                "above a point: the generator",
                "fell behind its schedule;",
                "its lag is in that latency",
            ],
        ));
    }
    if any_silent {
        entries.push(Entry::new(
            Glyph::Hollow,
            GREY,
            &["on the x axis: no reply", "at all, so no latency"],
        ));
    }
    if any_failed {
        entries.push(Entry::new(
            Glyph::Cross,
            GREY,
            &["cross on the axis: failed,", "nothing measured"],
        ));
    }
    let one_client = ["one client", "at a time)"];
    not_applicable_notes(report, &not_applicable, one_client, &mut entries);
    unavailable_notes(report, &mut entries);
    draw_legend(&legend, &entries)?;
    root.present().map_err(err)
}

/// `line` in `style` and `colour`.
fn draw_line<Y>(
    chart: &mut Chart<'_, '_, Linear, Y>,
    line: Vec<(f64, f64)>,
    style: Style,
    colour: RGBColor,
) -> io::Result<()>
where
    Y: plotters::coord::ranged1d::Ranged<ValueType = f64>,
{
    let stroke = colour.stroke_width(2);
    match style {
        Style::Solid => chart.draw_series(LineSeries::new(line, stroke)).map(drop),
        Style::Dashed => chart
            .draw_series(DashedLineSeries::new(line, 8, 5, stroke))
            .map(drop),
        Style::Dotted => chart
            .draw_series(DashedLineSeries::new(line, 2, 4, stroke))
            .map(drop),
    }
    .map_err(err)
}
