//! The command line: raw arguments in, a validated [`Config`] out, then run.
//!
//! Errors here are the user's: each is one line that names the flag or the
//! address involved, and the process exits with status 2.

use std::ffi::OsString;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

use crate::config::{Config, Model, MAX_MAX_BUFFER, MIN_MAX_BUFFER};

/// Exit status for bad arguments and startup failures (busy port, ...).
pub const EXIT_USAGE: u8 = 2;

/// echod: an RFC 862 echo daemon. Every byte a client sends comes back, in
/// order, on the same connection.
#[derive(Parser, Debug)]
#[command(name = "echod", version, about, long_about = None)]
struct Args {
    /// Concurrency model serving the connections.
    #[arg(long, value_enum, default_value = "reactor")]
    model: Model,

    /// Address to listen on (IP:PORT; port 0 picks a free one). Repeat for
    /// several listeners.
    #[arg(long = "listen", value_name = "ADDR", default_value = "127.0.0.1:7007")]
    listen: Vec<SocketAddr>,

    /// listen(2) backlog: connections the kernel queues before accept.
    #[arg(long, value_name = "N", default_value_t = 1024, value_parser = clap::value_parser!(i32).range(1..))]
    backlog: i32,

    /// Leave Nagle's algorithm on (TCP_NODELAY is set by default).
    #[arg(long)]
    no_nodelay: bool,

    /// Serve at most N connections at once; new ones beyond it are closed at
    /// once. 0 means no limit beyond the file-descriptor limit.
    #[arg(long, value_name = "N", default_value_t = 0)]
    max_conns: usize,

    /// Most bytes of echo pending per connection before the server stops
    /// reading from it (backpressure). Suffixes K, M (powers of 1024).
    #[arg(long, value_name = "BYTES", default_value = "64K", value_parser = parse_size)]
    max_buffer: usize,

    /// Close connections that see no traffic for DUR (e.g. 30s, 5m). Off by
    /// default.
    #[arg(long, value_name = "DUR", value_parser = parse_duration)]
    idle_timeout: Option<Duration>,

    /// After SIGINT/SIGTERM, keep flushing pending echoes for up to DUR,
    /// then exit 0. A second signal exits at once.
    #[arg(long, value_name = "DUR", default_value = "5s", value_parser = parse_duration)]
    shutdown_timeout: Duration,
}

/// clap's first error line, without its `error: ` prefix: one line that
/// names the flag and the problem.
fn one_line(e: &clap::Error) -> String {
    let text = e.render().to_string();
    let first = text.lines().next().unwrap_or("invalid arguments");
    format!("{} (see --help)", first.trim_start_matches("error: "))
}

/// Parses a byte size such as `65536`, `64K`, `64KiB` or `1M`.
fn parse_size(s: &str) -> Result<usize, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let n: usize = digits
        .parse()
        .map_err(|_| format!("'{s}' is not a size (try 65536, 64K or 1M)"))?;
    let mult = match unit.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 1,
        "K" | "KB" | "KIB" => 1 << 10,
        "M" | "MB" | "MIB" => 1 << 20,
        _ => return Err(format!("'{s}' has an unknown unit (use K or M)")),
    };
    let bytes = n
        .checked_mul(mult)
        .ok_or_else(|| format!("'{s}' is too large"))?;
    if !(MIN_MAX_BUFFER..=MAX_MAX_BUFFER).contains(&bytes) {
        return Err(format!(
            "{bytes} bytes is outside {MIN_MAX_BUFFER}..={MAX_MAX_BUFFER}"
        ));
    }
    Ok(bytes)
}

/// Parses a duration such as `500ms`, `5s` or `2m`; zero is refused because
/// it would close every connection (or skip every flush) at once.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s.trim())
        .map_err(|e| format!("'{s}' is not a duration ({e}; try 500ms, 5s or 2m)"))?;
    if d.is_zero() {
        return Err(format!("'{s}' must be greater than zero"));
    }
    Ok(d)
}

impl Args {
    fn into_config(self) -> Config {
        Config {
            model: self.model,
            listen: self.listen,
            backlog: self.backlog,
            nodelay: !self.no_nodelay,
            max_conns: (self.max_conns > 0).then_some(self.max_conns),
            max_buffer: self.max_buffer,
            idle_timeout: self.idle_timeout,
            shutdown_timeout: self.shutdown_timeout,
        }
    }
}

/// Parses `args` (the first item is the program name) and runs the daemon
/// until it is told to stop.
///
/// Returns the process exit status: 0 after a clean shutdown, 2 for bad
/// arguments or a listener that cannot be opened (the message names the
/// flag or address), 1 if the event loop itself fails.
pub fn run<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let args = match Args::try_parse_from(args) {
        Ok(args) => args,
        Err(e) => {
            // --help and --version are "errors" to clap but succeed for us.
            if !e.use_stderr() {
                let _ = e.print();
                return ExitCode::SUCCESS;
            }
            eprintln!("echod: {}", one_line(&e));
            return ExitCode::from(EXIT_USAGE);
        }
    };
    match crate::run(args.into_config()) {
        Ok(crate::Stopped::Drained) => ExitCode::SUCCESS,
        Ok(crate::Stopped::Forced(sig)) => ExitCode::from((128 + sig).clamp(0, 255) as u8),
        Err(e) => {
            eprintln!("echod: {e}");
            ExitCode::from(match e {
                crate::Error::Startup(_) => EXIT_USAGE,
                crate::Error::Runtime(_) => 1,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_units_and_bounds() {
        assert_eq!(parse_size("65536"), Ok(65536));
        assert_eq!(parse_size("64K"), Ok(65536));
        assert_eq!(parse_size("64kib"), Ok(65536));
        assert_eq!(parse_size("1M"), Ok(1 << 20));
        assert!(parse_size("1").is_err());
        assert!(parse_size("65G").is_err());
        assert!(parse_size("abc").is_err());
        assert!(parse_size("999999999999999999999M").is_err());
    }

    #[test]
    fn durations_refuse_zero_and_garbage() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("soon").is_err());
    }

    #[test]
    fn defaults_match_the_documented_ones() {
        let c = Args::try_parse_from(["echod"]).unwrap().into_config();
        let d = Config::default();
        assert_eq!(c.listen, d.listen);
        assert_eq!(c.max_buffer, 64 << 10);
        assert_eq!(c.shutdown_timeout, Duration::from_secs(5));
        assert!(c.nodelay && c.max_conns.is_none() && c.idle_timeout.is_none());
    }
}
