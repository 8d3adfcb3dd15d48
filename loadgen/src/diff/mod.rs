//! `loadgen diff OLD.json NEW.json`: did a change help? Two compare
//! results (or two run results) matched point by point, each figure's
//! median old -> new with its relative change, and a verdict per point
//! decided from the rounds' spread by [`rule`]. Or two entries of one
//! compare, `loadgen diff RESULTS.json --old A --new B`, judged from their
//! paired rounds ([`paired`]).
//!
//! - [`input`] reads either kind of file, leniently.
//! - [`paired`] makes two sides of one compare's entries.
//! - [`rule`] says when a figure changed clearly, and what a point's
//!   changes add up to.
//! - [`render`] writes the result for the terminal and as Markdown;
//!   `--json` is [`DiffReport`] serialised.

pub mod input;
pub mod paired;
pub mod render;
pub mod rule;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use serde::Serialize;

use crate::outputs::print;
use crate::sweep::Spread;
use crate::usage_error::{shorten, usage, UsageError};
use input::{Entry, Key, Results, Section, State};
use rule::{Better, Change, Verdict};

/// What `loadgen diff` was asked to do, validated.
#[derive(Clone, Debug)]
pub struct DiffConfig {
    /// The baseline file; with [`Against::Entries`] the one file.
    pub old: PathBuf,
    /// The candidate.
    pub new: Against,
    /// Smallest relative change of the medians that can count, as a
    /// fraction (0.05 = 5%).
    pub threshold: f64,
    /// Where to write the result as JSON.
    pub json: Option<PathBuf>,
    /// Where to write the result as Markdown.
    pub markdown: Option<PathBuf>,
    /// Exit 1 when a point is "slower".
    pub fail_on_slower: bool,
}

/// What OLD is diffed against.
#[derive(Clone, Debug)]
pub enum Against {
    /// A second file, matched point by point.
    File(PathBuf),
    /// Two entries of OLD's compare, judged from their paired rounds.
    Entries {
        /// The baseline entry's name.
        old: String,
        /// The candidate's.
        new: String,
    },
}

/// One figure of one point, OLD against NEW.
#[derive(Clone, Debug, Serialize)]
pub struct FigureDiff {
    /// Which figure (`requests_per_sec`, `p99_us`, …).
    pub figure: &'static str,
    /// Its column title.
    #[serde(skip)]
    pub name: &'static str,
    /// Which way is better.
    pub better: Better,
    /// Whether it counts toward the verdict.
    pub counted: bool,
    /// OLD's median and range, when the file has the figure.
    pub old: Option<Spread>,
    /// NEW's.
    pub new: Option<Spread>,
    /// NEW's median over OLD's, minus 1; `null` when either is missing
    /// (or OLD's median is 0).
    pub relative_change: Option<f64>,
    /// What the rule made of it; `null` when either is missing.
    pub change: Option<Change>,
    /// True when the samples are a run's seconds (its `timeline`), not
    /// rounds.
    pub per_second: bool,
}

/// One point present in both files.
#[derive(Clone, Debug, Serialize)]
pub struct PointDiff {
    /// `reactor x 100 conns`, `reactor at 5000/s`, `run x 4 conns`.
    pub point: String,
    /// Closed loop, open loop or saturation.
    pub section: Section,
    /// Its figures; empty when it was not measured in either file.
    pub figures: Vec<FigureDiff>,
    /// The verdict in words.
    pub verdict: String,
    /// The verdict.
    #[serde(skip)]
    pub judged: Verdict,
}

/// The whole diff, as `--json` writes it.
#[derive(Clone, Debug, Serialize)]
pub struct DiffReport {
    /// The baseline file, as named.
    pub old: String,
    /// The candidate file, as named.
    pub new: String,
    /// `compare` or `run`.
    pub results: &'static str,
    /// True when OLD and NEW are two entries of one compare, judged from
    /// their paired rounds.
    pub paired: bool,
    /// The `--threshold`, as a fraction.
    pub threshold: f64,
    /// Points in both files, in OLD's order.
    pub points: Vec<PointDiff>,
    /// Points only OLD has.
    pub only_in_old: Vec<String>,
    /// Points only NEW has.
    pub only_in_new: Vec<String>,
    /// OLD's warnings that its machine was busy.
    pub busy_old: Vec<String>,
    /// NEW's.
    pub busy_new: Vec<String>,
}

impl DiffReport {
    /// True when some point is "slower".
    pub fn any_slower(&self) -> bool {
        self.points.iter().any(|p| p.judged == Verdict::Slower)
    }
}

/// Reads one file of the diff.
fn read(flag: &str, path: &Path) -> Result<Results, UsageError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        usage(format!(
            "{flag} {}: cannot read: {e}",
            shorten(&path.display().to_string())
        ))
    })?;
    input::parse(&path.display().to_string(), &text)
}

/// Matches `old`'s points with `new`'s and judges each pair: by their
/// rounds' spread, or when `paired` (two entries of one compare) by their
/// paired rounds.
pub fn pair(
    old: &Results,
    new: &Results,
    old_name: &str,
    new_name: &str,
    threshold: f64,
    paired: bool,
) -> DiffReport {
    let find = |r: &'_ Results, k: &Key| r.entries.iter().position(|e| &e.key == k);
    let mut points = Vec::new();
    let mut only_in_old = Vec::new();
    let mut matched = vec![false; new.entries.len()];
    for o in &old.entries {
        match find(new, &o.key) {
            Some(i) if !matched[i] => {
                matched[i] = true;
                points.push(point(o, &new.entries[i], threshold, paired));
            }
            _ => only_in_old.push(o.key.label()),
        }
    }
    let busy = !(old.busy.is_empty() && new.busy.is_empty());
    if busy && !paired {
        // Paired rounds share the machine's state, so this is for two
        // files only. Rounds measure the noise within one sweep, not the drift
        // between two: a machine busier during one of them moves all its
        // points alike. Say so on every verdict it could have made.
        for p in &mut points {
            if matches!(p.judged, Verdict::Faster | Verdict::Slower | Verdict::Mixed) {
                p.verdict.push_str(" (busy machine)");
            }
        }
    }
    let only_in_new = (new.entries.iter().zip(&matched))
        .filter(|(_, m)| !**m)
        .map(|(e, _)| e.key.label())
        .collect();
    DiffReport {
        old: old_name.into(),
        new: new_name.into(),
        results: match old.source {
            input::Source::Compare => "compare",
            input::Source::Run => "run",
        },
        paired,
        threshold,
        points,
        only_in_old,
        only_in_new,
        busy_old: old.busy.clone(),
        busy_new: new.busy.clone(),
    }
}

/// One point, judged: by [`rule::judge`], or [`rule::paired`] when
/// `paired`.
fn point(old: &Entry, new: &Entry, threshold: f64, paired: bool) -> PointDiff {
    let section = old.key.section;
    let done = |figures, judged: Verdict| PointDiff {
        point: old.key.label(),
        section,
        figures,
        verdict: judged.text(),
        judged,
    };
    let (o, n) = match (&old.state, &new.state) {
        (
            State::Measured {
                whole: ow,
                seconds: os,
            },
            State::Measured {
                whole: nw,
                seconds: ns,
            },
        ) => ((ow, os.as_ref()), (nw, ns.as_ref())),
        (State::Not(a), State::Not(b)) if a == b => {
            return done(Vec::new(), Verdict::NotCompared(a.clone()))
        }
        (State::Not(a), State::Not(b)) => {
            return done(
                Vec::new(),
                Verdict::NotCompared(format!("OLD {a}; NEW {b}")),
            )
        }
        (State::Not(a), _) => return done(Vec::new(), Verdict::NotCompared(format!("OLD {a}"))),
        (_, State::Not(b)) => return done(Vec::new(), Verdict::NotCompared(format!("NEW {b}"))),
    };
    let at = |v: &[Option<Spread>], i: usize| v.get(i).copied().flatten();
    let mut figures = Vec::new();
    let mut counted = Vec::new();
    // The most samples any counted figure had on both sides: what the
    // verdict's note says when nothing could be called.
    let mut most: Option<usize> = None;
    for (i, m) in rule::metrics(section).iter().enumerate() {
        // A run's seconds only when both files have them for this figure:
        // a median over seconds and a whole-run figure are not the same
        // quantity.
        let seconds = o.1.zip(n.1).map(|(os, ns)| (at(os, i), at(ns, i)));
        let (a, b, per_second) = match seconds {
            Some((Some(a), Some(b))) => (Some(a), Some(b), true),
            _ => (at(o.0, i), at(n.0, i), false),
        };
        let mut relative_change = a.zip(b).map(|(a, b)| rule::relative(&a, &b));
        let mut change = a
            .zip(b)
            .map(|(a, b)| rule::judge(&a, &b, m.better, threshold));
        // The samples the verdict had: rounds a side, or rounds paired.
        let mut samples = a.zip(b).map(|(a, b)| a.n.min(b.n));
        if paired {
            let rounds = paired::rounds(old, new, i);
            let (c, median) = rule::paired(&rounds, m.better, threshold);
            change = change.map(|_| c);
            relative_change = median.or(relative_change);
            samples = samples.map(|_| rounds.len());
        }
        if let (Some(c), Some(least)) = (change, samples) {
            if m.counts {
                counted.push(c);
                most = Some(most.map_or(least, |f| f.max(least)));
            }
        }
        figures.push(FigureDiff {
            figure: m.id,
            name: m.name,
            better: m.better,
            counted: m.counts,
            old: a,
            new: b,
            relative_change: relative_change.filter(|r| r.is_finite()),
            change,
            per_second,
        });
    }
    done(figures, rule::verdict(&counted, most))
}

/// Two files, read and matched point by point.
fn two_files(old: &Path, new: &Path, threshold: f64) -> Result<DiffReport, UsageError> {
    let (old_name, new_name) = (old.display().to_string(), new.display().to_string());
    let old = read("OLD", old)?;
    let new = read("NEW", new)?;
    if old.source != new.source {
        return Err(usage(format!(
            "{} is {} but {} is {}: diff compares two of one kind",
            shorten(&old_name),
            old.source.name(),
            shorten(&new_name),
            new.source.name()
        )));
    }
    Ok(pair(&old, &new, &old_name, &new_name, threshold, false))
}

/// `loadgen diff`: reads the file(s), prints the table, writes what was
/// asked for; exit 0 whatever the verdicts, or 1 under `--fail-on-slower`
/// when a point is slower.
///
/// # Errors
/// A [`UsageError`] (exit 2) when a file cannot be read, is not valid
/// JSON, the two are not of one kind, or the one file lacks an entry
/// named; I/O errors writing the outputs.
pub fn diff(cfg: &DiffConfig) -> anyhow::Result<ExitCode> {
    let report = match &cfg.new {
        Against::File(new) => two_files(&cfg.old, new, cfg.threshold)?,
        Against::Entries { old, new } => {
            let file = cfg.old.display().to_string();
            let (a, b) = paired::sides(&file, &read("RESULTS", &cfg.old)?, old, new)?;
            let name = |n: &str| format!("{file}: {n}");
            pair(&a, &b, &name(old), &name(new), cfg.threshold, true)
        }
    };
    print(&render::table(&report))?;
    if let Some(path) = &cfg.json {
        crate::report::json::write(path, &report).context("--json")?;
    }
    if let Some(path) = &cfg.markdown {
        std::fs::write(path, render::markdown(&report))
            .with_context(|| format!("--markdown: cannot write {}", path.display()))?;
    }
    Ok(if cfg.fail_on_slower && report.any_slower() {
        // As a run that found a fault: 1.
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
