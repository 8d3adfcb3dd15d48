//! The legend column beside each chart. plotters' SVG backend cannot measure
//! text, so its own legend box could not be sized to fit and would be drawn
//! over the data; this one sits in a column of its own, with lines the
//! callers have already wrapped, and a glyph per entry that matches how the
//! chart draws that thing.

use std::io;

use plotters::prelude::*;

use super::{err, Area, FONT};

/// How a legend entry is drawn.
#[derive(Clone, Copy)]
pub(super) enum Glyph {
    /// A line through a filled dot: a model.
    Model,
    /// A filled dot alone: a model whose points are not joined.
    Dot,
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

pub(super) struct Entry {
    glyph: Glyph,
    colour: RGBAColor,
    /// Lines of text, already short enough for the legend column.
    text: Vec<String>,
}

impl Entry {
    pub(super) fn new(glyph: Glyph, colour: impl Color, text: &[&str]) -> Entry {
        Entry {
            glyph,
            colour: colour.to_rgba(),
            text: text.iter().map(|s| s.to_string()).collect(),
        }
    }
}

/// Draws `entries` top-down in `area`, each glyph left of its text.
pub(super) fn draw_legend(area: &Area<'_>, entries: &[Entry]) -> io::Result<()> {
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
            Glyph::Dot => {
                area.draw(&Circle::new(((x0 + x1) / 2, cy), 5, e.colour.filled()))
                    .map_err(err)?;
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
