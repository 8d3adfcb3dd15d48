//! Everything `loadgen` prints or writes about results. Reports only read
//! measurements; they never feed back into a run.
//!
//! # Layout
//! - One file per way of showing a comparison: [`table`] for the terminal,
//!   [`markdown`] for `report.md`, [`plot`] for the SVGs, [`json`] for
//!   `results.json`. [`summary`] is the same for a single run, and
//!   [`timeline`] words its per-interval figures.
//! - What the renderers share lives apart from all of them, so that a figure
//!   reads the same in each: [`format`](mod@format) writes numbers,
//!   [`figures`] derives what a point's summary does not hold directly, and
//!   [`rates`] what the open-loop points' verdicts say.
//! - `fixture` (tests only) is the one hand-built comparison every report is
//!   tested against; `golden` pins what each report makes of it, byte for
//!   byte.

mod figures;
#[cfg(test)]
mod fixture;
pub(crate) mod format;
#[cfg(test)]
mod golden;
pub mod json;
pub mod markdown;
pub mod plot;
mod rates;
pub mod summary;
pub mod table;
pub mod timeline;
