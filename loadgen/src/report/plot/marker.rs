//! A point of the throughput and saturation plots: the median with a bar
//! from the slowest to the fastest round, filled when the server was the
//! limit and hollow when the generator was, or a cross on the x axis where
//! the point failed; and the legend entries that explain those marks.

use std::io;

use plotters::coord::ranged1d::Ranged;
use plotters::prelude::*;

use super::axes::Linear;
use super::legend::{Entry, Glyph};
use super::{err, Chart, GREY};
use crate::report::figures::Marks;
use crate::sweep::{Outcome, Spread};

/// Which marks a plot has drawn, so that its legend explains those and
/// no others.
#[derive(Default)]
pub(super) struct Marked {
    generator_bound: bool,
    failed: bool,
}

impl Marked {
    /// Draws `outcome` at `x` in `colour`: `figure` of a measured point
    /// as a dot of `radius` (hollow and one pixel larger when generator-bound)
    /// over its bar, a failed one as a cross at 0; nothing for the rest.
    pub(super) fn draw<X: Ranged<ValueType = f64>, S: Marks>(
        &mut self,
        chart: &mut Chart<'_, '_, X, Linear>,
        x: f64,
        outcome: &Outcome<S>,
        figure: impl FnOnce(&S) -> &Spread,
        colour: RGBColor,
        radius: u32,
    ) -> io::Result<()> {
        let s = match outcome {
            Outcome::Ok(s) => s,
            Outcome::Failed { .. } => {
                self.failed = true;
                let cross = Cross::new((x, 0.0), 7, colour.stroke_width(3));
                return chart.draw_series([cross]).map(drop).map_err(err);
            }
            Outcome::NotApplicable { .. }
            | Outcome::Unavailable { .. }
            | Outcome::Refused { .. }
            | Outcome::NotRun => return Ok(()),
        };
        let r = figure(s);
        if r.max > r.min {
            let bar = colour.stroke_width(1);
            chart
                .draw_series([PathElement::new(vec![(x, r.min), (x, r.max)], bar)])
                .map_err(err)?;
            let cap = |y| EmptyElement::at((x, y)) + PathElement::new(vec![(-5, 0), (5, 0)], bar);
            chart.draw_series([cap(r.min), cap(r.max)]).map_err(err)?;
        }
        let at = (x, r.median);
        if s.generator_bound() {
            self.generator_bound = true;
            chart
                .draw_series([
                    Circle::new(at, radius + 1, WHITE.filled()),
                    Circle::new(at, radius + 1, colour.stroke_width(2)),
                ])
                .map_err(err)?;
        } else {
            chart
                .draw_series([Circle::new(at, radius, colour.filled())])
                .map_err(err)?;
        }
        Ok(())
    }

    /// The legend entries for the marks drawn: the bar when there were
    /// several rounds, then `hollow` (what a generator-bound point means
    /// in this plot) and the cross when they were drawn.
    pub(super) fn legend(&self, entries: &mut Vec<Entry>, rounds: u32, hollow: &[&str]) {
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
        if self.generator_bound {
            entries.push(Entry::new(Glyph::Hollow, GREY, hollow));
        }
        if self.failed {
            entries.push(Entry::new(
                Glyph::Cross,
                GREY,
                &["cross on the axis: failed,", "nothing measured (not zero)"],
            ));
        }
    }
}
