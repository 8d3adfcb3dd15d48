//! Machine-readable results: any report serialised as pretty JSON.

use std::io;
use std::path::Path;

use serde::Serialize;

/// Writes `value` as pretty-printed JSON to `path`, creating or replacing it.
///
/// # Errors
/// I/O failures, with `path` in the message.
pub fn write<T: Serialize>(path: &Path, value: &T) -> io::Result<()> {
    let text = serde_json::to_string_pretty(value).map_err(io::Error::other)?;
    std::fs::write(path, text + "\n")
        .map_err(|e| io::Error::new(e.kind(), format!("cannot write {}: {e}", path.display())))
}
