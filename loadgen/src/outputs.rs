//! Where results go: stdout, and output paths checked before anything is
//! measured.
//!
//! A typo in `--json missing-dir/x.json` used to surface only after a full
//! run, losing it. Every output flag is therefore checked up front, with one
//! message shape for all of them: `FLAG PATH: cannot write here: REASON`
//! (exit 2). Checking means really creating: only the kernel knows whether
//! a directory is writable (root passes every permission test, and a
//! read-only or pseudo file system only says no to an actual create).

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::usage_error::{shorten, UsageError};

/// Where a run's results go besides stdout.
#[derive(Clone, Debug, Default)]
pub struct Outputs {
    /// `--json`.
    pub json: Option<PathBuf>,
    /// `--hdr-log`.
    pub hdr_log: Option<PathBuf>,
    /// `run --plot`: the timeline as SVG.
    pub plot: Option<PathBuf>,
    /// `--quiet`.
    pub quiet: bool,
}

/// Writes `text` to stdout and flushes it; a reader that went away (say
/// `| head`) comes back as `BrokenPipe`, which `main` recognises and does
/// not report.
pub fn print(text: &str) -> io::Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()
}

fn refuse(flag: &str, path: &Path, why: impl std::fmt::Display) -> UsageError {
    UsageError(format!(
        "{flag} {}: cannot write here: {why}",
        shorten(&path.display().to_string())
    ))
}

/// Checks that `path` can be created or replaced as a file. A file that
/// did not exist is removed again, so a run that fails leaves nothing.
pub fn check_file(flag: &str, path: &Path) -> Result<(), UsageError> {
    if path.is_dir() {
        return Err(refuse(flag, path, "it is a directory"));
    }
    let existed = path.exists();
    // Append mode: opening must not truncate a file we may not replace.
    OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .map_err(|e| refuse(flag, path, e))?;
    if !existed {
        let _ = std::fs::remove_file(path);
    }
    Ok(())
}

/// Creates directory `dir` if needed and checks that files can be created
/// in it.
pub fn check_dir(flag: &str, dir: &Path) -> Result<(), UsageError> {
    if dir.exists() && !dir.is_dir() {
        return Err(refuse(flag, dir, "it is a file, not a directory"));
    }
    std::fs::create_dir_all(dir).map_err(|e| refuse(flag, dir, e))?;
    let probe = dir.join(format!(".loadgen-probe-{}", std::process::id()));
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
        .map_err(|e| refuse(flag, dir, e))?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// Files a `compare` writes into its `--out` directory.
pub fn is_ours(name: &str) -> bool {
    matches!(
        name,
        "results.json"
            | "report.md"
            | "throughput.svg"
            | "throughput_mb.svg"
            | "saturation.svg"
            | "latency_load.svg"
    ) || ((name.starts_with("latency_c") || name.starts_with("timeline_c"))
        && name.ends_with(".svg"))
}

/// Removes the files an earlier `compare` left in `dir` (see [`is_ours`]),
/// so a report never links a plot from another run. Anything else in the
/// directory is left alone. Returns what was removed.
pub fn clear_ours(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut removed = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        if entry.file_type()?.is_file() && is_ours(&name.to_string_lossy()) {
            std::fs::remove_file(entry.path())?;
            removed.push(entry.path());
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("loadgen-outputs-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn a_missing_directory_is_refused_with_the_flag_named() {
        let d = scratch("missing");
        let err = check_file("--json", &d.join("nope/x.json")).unwrap_err();
        assert!(
            err.0.starts_with("--json ") && err.0.contains("cannot write here"),
            "{}",
            err.0
        );
    }

    /// A directory that cannot be created: procfs refuses new entries
    /// (Linux only; elsewhere `/proc` may be absent, and root could
    /// create it).
    #[cfg(target_os = "linux")]
    #[test]
    fn an_uncreatable_directory_is_refused_with_the_flag_named() {
        let err = check_dir("--out", Path::new("/proc/nope")).unwrap_err();
        assert!(
            err.0.starts_with("--out /proc/nope: cannot write here"),
            "{}",
            err.0
        );
    }

    #[test]
    fn checking_leaves_no_file_behind_and_keeps_an_old_one() {
        let d = scratch("probe");
        let new = d.join("x.json");
        check_file("--json", &new).unwrap();
        assert!(!new.exists());
        let old = d.join("old.json");
        std::fs::write(&old, "keep").unwrap();
        check_file("--json", &old).unwrap();
        assert_eq!(std::fs::read_to_string(&old).unwrap(), "keep");
        assert!(check_file("--json", &d).is_err());
        check_dir("--out", &d.join("a/b")).unwrap();
        assert_eq!(std::fs::read_dir(d.join("a/b")).unwrap().count(), 0);
    }

    #[test]
    fn only_our_own_files_are_cleared() {
        let d = scratch("clear");
        for f in [
            "results.json",
            "latency_c1000.svg",
            "timeline_c4.svg",
            "saturation.svg",
            "latency_load.svg",
            "notes.txt",
            "latency.svg",
        ] {
            std::fs::write(d.join(f), "x").unwrap();
        }
        let mut removed: Vec<_> = clear_ours(&d).unwrap();
        removed.sort();
        assert_eq!(
            removed,
            [
                d.join("latency_c1000.svg"),
                d.join("latency_load.svg"),
                d.join("results.json"),
                d.join("saturation.svg"),
                d.join("timeline_c4.svg")
            ]
        );
        assert!(d.join("notes.txt").exists() && d.join("latency.svg").exists());
    }
}
