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
    /// A dotted line.
    Dotted,
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

    /// An entry of lines already wrapped (see [`wrap`]).
    pub(super) fn lines(glyph: Glyph, colour: impl Color, text: Vec<String>) -> Entry {
        Entry {
            glyph,
            colour: colour.to_rgba(),
            text,
        }
    }
}

/// Characters of legend text that fit on one line of the column.
const LINE_CHARS: usize = 28;

/// `text` broken at spaces into lines that fit the legend column, at most
/// `max_lines` of them: the last one ends in "…" when text was left out. A
/// word longer than a line gets a line of its own.
pub(super) fn wrap(text: &str, max_lines: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for word in text.split_whitespace() {
        match lines.last_mut() {
            Some(l) if l.chars().count() + 1 + word.chars().count() <= LINE_CHARS => {
                l.push(' ');
                l.push_str(word);
            }
            _ => lines.push(word.to_string()),
        }
    }
    if lines.len() > max_lines {
        lines.truncate(max_lines);
        if let Some(last) = lines.last_mut() {
            last.push('…');
        }
    }
    lines
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
            Glyph::Dotted => {
                for x in (x0..x1).step_by(6) {
                    let seg = vec![(x, cy), ((x + 2).min(x1), cy)];
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_fills_lines_and_marks_what_it_cuts() {
        let lines = wrap(
            "uring: n/a (io_uring is blocked by a seccomp filter here)",
            9,
        );
        assert_eq!(
            lines,
            [
                "uring: n/a (io_uring is",
                "blocked by a seccomp filter",
                "here)"
            ]
        );
        assert!(lines.iter().all(|l| l.chars().count() <= LINE_CHARS));
        let cut = wrap("one two three four five six seven eight nine ten", 1);
        assert_eq!(cut, ["one two three four five six…"]);
    }
}
