//! `loadgen diff`'s arguments, and the verdict rule as `--help` tells it.

use std::path::PathBuf;

use clap::Args;

use crate::diff::{Against, DiffConfig};
use crate::outputs::check_file;
use crate::usage_error::{shorten, usage, UsageError};

/// The rule in plain words, under `loadgen diff --help`. It restates
/// `diff::rule`: change one, change both.
pub const RULE: &str = "\
Two forms:
  loadgen diff RESULTS.json --old A --new B   two entries of one compare (recommended)
  loadgen diff OLD.json NEW.json              two results files
  For an A/B of two builds, measure both in ONE compare, as two --server entries (the same \
command with {port}, each binary's path) and diff them with --old/--new: inside a compare the \
entries take turns in every round, so whatever the machine does falls on both, and each \
round's pair is judged (see \"Two entries of one compare\" below). Two results files measured \
at different times cannot separate the change from the machine's drift between them: two \
runs of one build on a shared VM came out 20-65% \"faster\" at every point. Use the two-file \
form when two results files are all there is.

How a verdict is reached (two files):
  Every point in both files (same model, load and connection count or offered rate) shows \
each figure's median, OLD -> NEW, with its min-max range over the rounds and the relative \
change. A figure changed clearly only when the two ranges do not overlap (every round of one \
file is better than every round of the other) AND the medians differ by more than \
--threshold. One or two rounds a side are never enough: with two builds that are really the \
same, two rounds a side fall apart by chance one time in three; three rounds one time in \
ten, and the threshold cuts that further. So a verdict needs 3 rounds or more a side; fewer \
gives \"no clear difference (one round: no spread)\" or \"(2 rounds: too few to tell)\".
  A point is \"faster\" when at least one counted figure is clearly better and none clearly \
worse, \"slower\" the reverse, \"mixed\" when both, else \"no clear difference\". Counted: \
req/s (higher is better) and server CPU per echo (lower is better); at saturation points \
MB/s and MB per server CPU-second (both higher is better). p99 latency (lower is better) is \
shown and marked, but not counted: on a shared machine it moves more between identical runs \
than anything else.
  A point that was n/a, unavailable, failed or not run in either file is shown as such, with \
no verdict. Points only one file has are listed at the end.
  Rounds measure the noise within one measurement, not the drift between two: a machine \
busier while one file was measured slows all its points alike, and its rounds cannot show \
it (one build against itself was once \"faster\" by 3x at three points, other processes \
having used 147% of a CPU during one compare and 67% during the other). So when either file \
says its machine was busy (compare's and run's own warnings: load average, steal, other \
processes), every verdict reads \"(busy machine)\" and the warnings are listed: rerun both \
on a quiet machine before trusting it.

Two entries of one compare (paired):
  `--old A --new B` diff the points both entries of the one results.json have (same load and \
connection count or offered rate). Round i of A and round i of B ran back to back (the entries \
alternate inside a round, in an order that rotates from round to round), so each round gives \
a pair and its relative change B/A - 1, per figure. A figure changed clearly only when EVERY \
round's paired change goes the same way AND is beyond --threshold AND the two entries' \
ranges over the rounds do not overlap, with 3 or more rounds measured by both; the change \
shown is the median of the paired changes. (Pairs alone were too weak here: one build \
against itself went the same way in all 5 rounds of a point, by +28.6%. Inside one compare \
drift widens both ranges alike, so requiring them apart costs only changes smaller than the \
drift, which nothing could tell from it.) With two entries \
that are really the same, each pair goes up or down by chance: all of 3 one way one time in \
4, of 5 one time in 16, of 7 one time in 64, before the threshold cuts that further; so use \
--rounds 5 or more. Counted figures, p99 and the verdicts are as above. There is no \"(busy \
machine)\": a busy machine hits both halves of a pair alike, which is the point of pairing; \
its warnings are still listed, since a machine that busy also makes every figure noisier.

A run's seconds:
  Two `run --json` results are one point each. When both have a per-second timeline, its \
seconds are the samples (their full range, or their middle half, the interquartile range, \
from 8 seconds on, so that one hiccup does not hide a change in a long run). The seconds of \
one run are not independent rounds: the machine's state is shared by all of them, so rerun \
before trusting a run verdict. Without a timeline a run is one sample: no verdict.

Exit status: 0 whatever the verdicts (it is a report); with --fail-on-slower, 1 when any \
point is \"slower\" (for CI: `loadgen diff base.json new.json --fail-on-slower`); 2 when a \
file cannot be read, is not valid JSON, the two are not of one kind, or an --old/--new \
entry is not in the file.";

/// `loadgen diff` as typed.
#[derive(Args, Debug, Clone)]
pub struct DiffArgs {
    /// The baseline: a compare results.json, or a run --json result. With --old and --new,
    /// the one compare results.json holding both entries.
    #[arg(value_name = "OLD.json")]
    pub old: PathBuf,
    /// The candidate, of the same kind as OLD. Not with --old and --new.
    #[arg(value_name = "NEW.json")]
    pub new: Option<PathBuf>,
    /// The baseline entry (a model, --server or --target name) of the one compare given:
    /// with --new, the paired form, judged round by round [recommended: see below].
    #[arg(long = "old", id = "old_entry", value_name = "NAME")]
    pub old_entry: Option<String>,
    /// The candidate entry of the same compare, measured in the same rounds as --old.
    #[arg(long = "new", id = "new_entry", value_name = "NAME")]
    pub new_entry: Option<String>,
    /// Smallest change of the medians, in percent, that can count as a clear change (and
    /// only when the rounds' ranges do not overlap); with --old/--new, that every round's
    /// paired change must pass.
    #[arg(long, value_name = "PERCENT", default_value = "5%")]
    pub threshold: String,
    /// Also write the diff as JSON to PATH [default: none].
    #[arg(long, value_name = "PATH")]
    pub json: Option<PathBuf>,
    /// Also write the diff as a Markdown table to PATH [default: none].
    #[arg(long, value_name = "PATH")]
    pub markdown: Option<PathBuf>,
    /// Exit 1 when any point is "slower" (for CI); without it, exit 0 whatever the verdicts.
    #[arg(long)]
    pub fail_on_slower: bool,
}

/// `5%`, `5` or `2.5` as a fraction; above 0 and at most 100%.
fn parse_threshold(s: &str) -> Result<f64, UsageError> {
    let refuse = |why: &str| usage(format!("--threshold {}: {why}", shorten(s)));
    let number = s.trim().strip_suffix('%').unwrap_or(s.trim());
    let pct: f64 = number
        .trim()
        .parse()
        .map_err(|_| refuse("not a percentage (try e.g. 5%)"))?;
    if !(pct > 0.0 && pct <= 100.0) {
        return Err(refuse("must be above 0% and at most 100%"));
    }
    Ok(pct / 100.0)
}

impl DiffArgs {
    /// Checks the threshold and the output paths before any file is read.
    pub fn validate(self) -> Result<DiffConfig, UsageError> {
        let threshold = parse_threshold(&self.threshold)?;
        for (flag, path) in [("--json", &self.json), ("--markdown", &self.markdown)] {
            if let Some(p) = path {
                check_file(flag, p)?;
            }
        }
        let new = match (self.new, self.old_entry, self.new_entry) {
            (Some(file), None, None) => Against::File(file),
            (None, Some(old), Some(new)) => Against::Entries { old, new },
            (Some(_), _, _) => {
                return Err(usage(
                    "--old/--new name two entries of one results file: give one file with \
                     them, or two files without them",
                ))
            }
            (None, _, _) => {
                return Err(usage(
                    "diff needs NEW.json, or --old NAME --new NAME for two entries of the one \
                     compare given",
                ))
            }
        };
        Ok(DiffConfig {
            old: self.old,
            new,
            threshold,
            json: self.json,
            markdown: self.markdown,
            fail_on_slower: self.fail_on_slower,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diff::rule::{DEFAULT_THRESHOLD, MIN_SAMPLES};

    #[test]
    fn thresholds_are_percentages() {
        assert_eq!(parse_threshold("5%").unwrap(), 0.05);
        assert_eq!(parse_threshold("2.5").unwrap(), 0.025);
        for bad in ["0", "-1%", "101%", "five", "%"] {
            let e = parse_threshold(bad).unwrap_err().0;
            assert!(e.starts_with("--threshold "), "{bad}: {e}");
        }
    }

    #[test]
    fn the_help_states_the_rule_in_force() {
        assert_eq!(parse_threshold("5%").unwrap(), DEFAULT_THRESHOLD);
        assert!(RULE.contains(&format!("needs {MIN_SAMPLES} rounds")));
        assert!(RULE.contains(&format!(
            "with {MIN_SAMPLES} or more rounds measured by both"
        )));
        assert!(RULE.contains(&format!(
            "from {} seconds",
            crate::diff::input::QUARTILES_FROM
        )));
    }
}
