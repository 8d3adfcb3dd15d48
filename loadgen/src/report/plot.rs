//! SVG plots of a comparison: throughput against connections, and the
//! latency percentile spectrum of each model at each connection count.
//!
//! Only plotters' SVG backend is used, with its built-in text layout: SVG
//! text is drawn by the viewer, so no font files or fontconfig are needed to
//! build or run this.

use std::io;
use std::path::{Path, PathBuf};

use plotters::prelude::*;

use crate::compare::CompareReport;

const SIZE: (u32, u32) = (900, 560);

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

/// Writes every plot for `report` into `dir` and returns the file names.
///
/// # Errors
/// Drawing or file failures.
pub fn write_all(dir: &Path, report: &CompareReport) -> io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let throughput = dir.join("throughput.svg");
    throughput_plot(&throughput, report)?;
    files.push(PathBuf::from("throughput.svg"));
    for &c in &report.config.connections {
        let name = format!("latency_c{c}.svg");
        if spectrum_plot(&dir.join(&name), report, c)? {
            files.push(PathBuf::from(name));
        }
    }
    Ok(files)
}

/// Requests/s against connections (log x), one line per model.
fn throughput_plot(path: &Path, report: &CompareReport) -> io::Result<()> {
    let series: Vec<(String, Vec<(f64, f64)>)> = report
        .config
        .models
        .iter()
        .map(|model| {
            let pts = report
                .points
                .iter()
                .filter(|p| &p.model == model)
                .filter_map(|p| Some((p.connections as f64, p.metrics()?.requests_per_sec)))
                .collect();
            (model.clone(), pts)
        })
        .collect();
    let max_y = series
        .iter()
        .flat_map(|(_, v)| v.iter().map(|p| p.1))
        .fold(1.0, f64::max)
        * 1.1;
    let max_x = report
        .config
        .connections
        .iter()
        .copied()
        .max()
        .unwrap_or(1)
        .max(2) as f64
        * 1.5;
    let root = SVGBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let title = format!(
        "Throughput vs connections ({} B, depth {})",
        report.config.size, report.config.depth
    );
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(80)
        .build_cartesian_2d((0.7f64..max_x).log_scale(), 0f64..max_y)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("connections")
        .y_desc("requests/s")
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| format!("{y:.0}"))
        .draw()
        .map_err(err)?;
    for (i, (model, pts)) in series.iter().enumerate() {
        let c = colour(i);
        chart
            .draw_series(LineSeries::new(pts.iter().copied(), c.stroke_width(2)))
            .map_err(err)?
            .label(model.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2)));
        chart
            .draw_series(pts.iter().map(|&p| Circle::new(p, 4, c.filled())))
            .map_err(err)?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(err)?;
    root.present().map_err(err)
}

/// The percentile spectrum at `conns` connections: x is "nines" (the
/// quantile q plotted at -log10(1-q), so 90% → 1, 99% → 2, 99.9% → 3, the
/// maximum at 6), y is
/// latency in µs on a log scale. Returns false when no model was measured
/// at that count (nothing is written).
fn spectrum_plot(path: &Path, report: &CompareReport, conns: u32) -> io::Result<bool> {
    // 99.999% sits at 5; the maximum gets its own column at 6.
    const MAX_NINES: f64 = 6.0;
    let nines = |q: f64| {
        if q >= 1.0 {
            MAX_NINES
        } else {
            (-(1.0 - q).log10()).min(MAX_NINES - 1.0)
        }
    };
    let series: Vec<(String, Vec<(f64, f64)>)> = report
        .points
        .iter()
        .filter(|p| p.connections == conns)
        .filter_map(|p| {
            let m = p.metrics()?;
            let pts: Vec<(f64, f64)> = m
                .spectrum_us
                .iter()
                .map(|&(q, us)| (nines(q), us.max(0.1)))
                .collect();
            (!pts.is_empty()).then(|| (p.model.clone(), pts))
        })
        .collect();
    if series.is_empty() {
        return Ok(false);
    }
    let all = series.iter().flat_map(|(_, v)| v.iter().map(|p| p.1));
    let (lo, hi) = all.fold((f64::MAX, 0.0f64), |(lo, hi), y| (lo.min(y), hi.max(y)));
    let root = SVGBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let title = format!("Latency percentile spectrum, {conns} connection(s)");
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(80)
        .build_cartesian_2d(0f64..MAX_NINES, (lo * 0.8..hi * 1.25).log_scale())
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("percentile")
        .y_desc("latency (µs)")
        .x_labels(7)
        .x_label_formatter(&|x| nines_label(*x, MAX_NINES))
        .y_label_formatter(&|y| format!("{y:.0}"))
        .draw()
        .map_err(err)?;
    for (i, (model, pts)) in series.iter().enumerate() {
        let c = colour(i);
        chart
            .draw_series(LineSeries::new(pts.iter().copied(), c.stroke_width(2)))
            .map_err(err)?
            .label(model.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(err)?;
    root.present().map_err(err)?;
    Ok(true)
}

/// "0%", "90%", "99%", "99.9%", … for whole numbers of nines; "max" at `max`.
fn nines_label(x: f64, max: f64) -> String {
    let n = x.round() as usize;
    if x >= max {
        "max".into()
    } else if (x - n as f64).abs() > 1e-9 {
        String::new()
    } else {
        match n {
            0 => "0%".into(),
            1 => "90%".into(),
            _ => format!("99.{}%", "9".repeat(n - 2)).replace(".%", "%"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::nines_label;

    #[test]
    fn nines_are_labelled_as_percentiles() {
        let labels: Vec<String> = (0..=6).map(|n| nines_label(n as f64, 6.0)).collect();
        assert_eq!(
            labels,
            ["0%", "90%", "99%", "99.9%", "99.99%", "99.999%", "max"]
        );
    }
}
