//! A diff for the terminal (an aligned table, in report/table.rs's
//! columns) and as Markdown: one row per figure of a point, its verdict on
//! the point's first row, then the points only one file has.
//!
//! Figures read as everywhere else in the reports (`174.3k (170.0k–176.0k)`,
//! median then min–max): the ranges are what the verdict is decided from,
//! so they are shown, not just the medians.

use std::fmt::Write as _;

use super::input::{Section, QUARTILES_FROM};
use super::rule::{Change, MIN_SAMPLES};
use super::{DiffReport, FigureDiff, PointDiff};
use crate::report::format::spread;
use crate::report::table::{line, Column};

/// Column titles, in order.
const TITLES: [&str; 6] = ["point", "figure", "OLD", "NEW", "change", "verdict"];

fn section_title(s: Section) -> &'static str {
    match s {
        Section::Closed => "closed loop",
        Section::Rate => "open loop (offered rate)",
        Section::Flood => "saturation (flood)",
    }
}

/// `+2.5%`, then `better` or `worse` when the rule called it clearly.
fn change_cell(f: &FigureDiff) -> String {
    let mut out = f
        .relative_change
        .map_or_else(|| "?".into(), |r| format!("{:+.1}%", r * 100.0));
    match f.change {
        Some(Change::Better) => out.push_str(" better"),
        Some(Change::Worse) => out.push_str(" worse"),
        _ => {}
    }
    if f.old.is_none() || f.new.is_none() {
        out = "n/a".into();
    }
    out
}

/// The rows of one point: six cells each.
fn rows(p: &PointDiff) -> Vec<[String; 6]> {
    if p.figures.is_empty() {
        return vec![[
            p.point.clone(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            p.verdict.clone(),
        ]];
    }
    let shown = |s: &Option<crate::sweep::Spread>| s.as_ref().map_or("none".into(), spread);
    p.figures
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let first = i == 0;
            let name = if f.per_second {
                format!("{} (per s)", f.name)
            } else {
                f.name.to_string()
            };
            [
                if first {
                    p.point.clone()
                } else {
                    String::new()
                },
                name,
                shown(&f.old),
                shown(&f.new),
                change_cell(f),
                if first {
                    p.verdict.clone()
                } else {
                    String::new()
                },
            ]
        })
        .collect()
}

/// The points of `r` by section, in the order sections are listed.
fn sections(r: &DiffReport) -> Vec<(Section, Vec<&PointDiff>)> {
    let mut out: Vec<(Section, Vec<&PointDiff>)> = Vec::new();
    for s in [Section::Closed, Section::Rate, Section::Flood] {
        let points: Vec<&PointDiff> = r.points.iter().filter(|p| p.section == s).collect();
        if !points.is_empty() {
            out.push((s, points));
        }
    }
    out
}

/// What is under the table: the points one file lacks, and the rule in
/// one sentence.
fn footer(r: &DiffReport) -> Vec<String> {
    let mut out = Vec::new();
    if !r.only_in_old.is_empty() {
        out.push(format!("only in OLD: {}", r.only_in_old.join(", ")));
    }
    if !r.only_in_new.is_empty() {
        out.push(format!("only in NEW: {}", r.only_in_new.join(", ")));
    }
    if r.paired && !r.busy_old.is_empty() {
        out.push(format!(
            "the machine was busy: {}; paired rounds share it, so no verdict is qualified",
            r.busy_old.join("; ")
        ));
    }
    for (which, warnings) in [("OLD", &r.busy_old), ("NEW", &r.busy_new)] {
        if !r.paired && !warnings.is_empty() {
            out.push(format!(
                "{which}'s machine was busy: {}",
                warnings.join("; ")
            ));
        }
    }
    let busy = !(r.busy_old.is_empty() && r.busy_new.is_empty());
    if busy && !r.paired {
        out.push(
            "(busy machine): a machine busier during one file's measurement moves all its \
             points alike, which its rounds cannot show; rerun both on a quiet machine"
                .into(),
        );
    }
    if r.points
        .iter()
        .any(|p| p.figures.iter().any(|f| f.per_second))
    {
        out.push(format!(
            "(per s): the run's per-second figures, their middle half as the range from \
             {QUARTILES_FROM} seconds on"
        ));
    }
    if r.paired {
        out.push(format!(
            "better/worse: every round's paired change goes the same way by more than {}% \
             and the ranges are apart ({MIN_SAMPLES} or more rounds paired); the change is \
             their median; p99 is shown, \
             not counted in the verdict. The rule: loadgen diff --help",
            r.threshold * 100.0
        ));
        return out;
    }
    out.push(format!(
        "better/worse: the ranges do not overlap and the medians differ by more than {}% \
         ({MIN_SAMPLES} or more rounds a side); p99 is shown, not counted in the verdict. \
         The rule: loadgen diff --help",
        r.threshold * 100.0
    ));
    out
}

/// The diff as an aligned table for the terminal.
pub fn table(r: &DiffReport) -> String {
    let mut out = format!("OLD {}\nNEW {}\n", r.old, r.new);
    let sections = sections(r);
    let all: Vec<[String; 6]> = sections
        .iter()
        .flat_map(|(_, ps)| ps.iter().flat_map(|p| rows(p)))
        .collect();
    // One set of widths for every section, so they line up.
    let width = |i: usize| {
        all.iter()
            .map(|r| r[i].chars().count())
            .chain([TITLES[i].chars().count()])
            .max()
            .unwrap_or(0)
    };
    let mut columns = Vec::new();
    for (i, title) in TITLES.iter().enumerate() {
        if i > 0 {
            columns.push(Column::Gap);
        }
        columns.push(Column::Left(title, width(i)));
    }
    for (s, points) in &sections {
        let _ = writeln!(out, "\n{}", section_title(*s));
        let _ = writeln!(out, "{}", line(&columns, &TITLES).trim_end());
        for p in points {
            for row in rows(p) {
                let _ = writeln!(out, "{}", line(&columns, &row).trim_end());
            }
        }
    }
    if sections.is_empty() {
        out.push_str("\nno point is in both files\n");
    }
    out.push('\n');
    for l in footer(r) {
        let _ = writeln!(out, "{l}");
    }
    out
}

/// Text safe inside a Markdown table cell.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// The diff as Markdown: a table per section, then the footer.
pub fn markdown(r: &DiffReport) -> String {
    let mut out = format!(
        "# loadgen diff\n\nOLD `{}`, NEW `{}`\n",
        cell(&r.old),
        cell(&r.new)
    );
    for (s, points) in sections(r) {
        let _ = writeln!(out, "\n## {}\n", section_title(s));
        let _ = writeln!(out, "| {} |", TITLES.join(" | "));
        let _ = writeln!(out, "|---|---|---:|---:|---:|---|");
        for p in points {
            for row in rows(p) {
                let cells: Vec<String> = row.iter().map(|c| cell(c)).collect();
                let _ = writeln!(out, "| {} |", cells.join(" | "));
            }
        }
    }
    out.push('\n');
    for l in footer(r) {
        let _ = writeln!(out, "{l}\n");
    }
    out
}
