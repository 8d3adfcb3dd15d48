//! Two entries of one compare (`loadgen diff RESULTS.json --old A --new
//! B`): the entries' points as two sides to match, and each figure's
//! paired rounds, judged by [`super::rule::paired`].
//!
//! Why a form of its own: inside one compare the entries take turns in
//! every round, so round i of A and round i of B ran back to back and
//! whatever the machine did then fell on both. Two files cannot have that:
//! their rounds show the noise within each, not the drift between them.

use super::input::{Entry, Key, Results};
use crate::usage_error::{shorten, usage, UsageError};

/// `file`'s entries named `old` and `new` as two sides, each point keyed
/// by its load alone (`A/B` as its model) so that the two sides match.
///
/// # Errors
/// A [`UsageError`] when `file` is a run result, or names no entry `old`
/// or `new` (listing those it has).
pub fn sides(
    file: &str,
    results: &Results,
    old: &str,
    new: &str,
) -> Result<(Results, Results), UsageError> {
    let shown = shorten(file);
    if results.source != super::input::Source::Compare {
        return Err(usage(format!(
            "{shown} is {}: --old/--new name entries of a compare results.json",
            results.source.name()
        )));
    }
    let label = format!("{old}/{new}");
    let side = |name: &str| Results {
        source: results.source,
        entries: (results.entries.iter())
            .filter(|e| e.key.model == name)
            .map(|e| Entry {
                key: Key {
                    model: label.clone(),
                    kind: None,
                    ..e.key.clone()
                },
                ..e.clone()
            })
            .collect(),
        busy: results.busy.clone(),
    };
    let (a, b) = (side(old), side(new));
    for (flag, name, s) in [("--old", old, &a), ("--new", new, &b)] {
        if s.entries.is_empty() {
            let mut names: Vec<&str> = Vec::new();
            for e in &results.entries {
                if !names.contains(&&*e.key.model) {
                    names.push(&e.key.model);
                }
            }
            return Err(usage(format!(
                "{flag} {}: no such entry in {shown} (it has: {})",
                shorten(name),
                names.join(", ")
            )));
        }
    }
    Ok((a, b))
}

/// Figure `i` of the rounds both entries measured, round by round.
pub fn rounds(old: &Entry, new: &Entry, i: usize) -> Vec<(f64, f64)> {
    let at = |r: &Vec<Option<f64>>| r.get(i).copied().flatten();
    (old.rounds.iter().zip(&new.rounds))
        .filter_map(|(o, n)| at(o).zip(at(n)))
        .collect()
}
