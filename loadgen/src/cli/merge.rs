//! `loadgen merge`'s arguments.

use std::path::PathBuf;

use clap::Args;

use crate::outputs::check_file;
use crate::usage_error::UsageError;

/// `loadgen merge` as typed.
#[derive(Args, Debug, Clone)]
pub struct MergeArgs {
    /// Interval logs written by `loadgen run --hdr-log` (or any HdrHistogram tool).
    #[arg(value_name = "HLOG", required = true)]
    pub logs: Vec<PathBuf>,
    /// Also write the combined interval log to PATH [default: none].
    #[arg(long, value_name = "PATH")]
    pub out: Option<PathBuf>,
    /// Write the combined summary as JSON to PATH [default: none].
    #[arg(long, value_name = "PATH")]
    pub json: Option<PathBuf>,
}

impl MergeArgs {
    /// Checks the output paths before any log is read.
    pub fn validate(self) -> Result<MergeArgs, UsageError> {
        for (flag, path) in [("--out", &self.out), ("--json", &self.json)] {
            if let Some(p) = path {
                check_file(flag, p)?;
            }
        }
        Ok(self)
    }
}
