//! The `echod` binary: everything lives in the library; see `echod --help`.

use std::process::ExitCode;

fn main() -> ExitCode {
    echod::cli::run(std::env::args_os())
}
