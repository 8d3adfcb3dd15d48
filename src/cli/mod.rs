//! The command line: raw arguments in, a validated [`Config`] out, then run.
//!
//! Errors here are the user's: each is one line that names the flag or the
//! address involved, and the process exits with status 2. The flags' value
//! parsers live in `values.rs`; `message.rs` turns any clap error, ours or
//! clap's own, into that one line, whatever the user typed.

use std::ffi::OsString;
use std::process::ExitCode;
use std::time::Duration;

use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches, Parser};

pub mod message;
pub mod values;

use crate::config::{Config, Model};
use values::{
    parse_backlog, parse_count, parse_duration, parse_listen, parse_metrics, parse_size,
    parse_threads, parse_unix_mode, parse_uring_buffers, Listeners,
};

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

    /// Address to listen on: IP:PORT (or tcp:IP:PORT) for TCP, udp:IP:PORT
    /// for UDP (not with --model iterative), unix:PATH for a Unix stream
    /// socket; IPv6 as [::1]:PORT; port 0 picks a free one. A host name
    /// (localhost:7, udp:localhost:7) listens on every address it resolves
    /// to. Repeat for several
    /// listeners. Ignored under socket activation (LISTEN_FDS).
    #[arg(long = "listen", value_name = "ADDR", default_value = "127.0.0.1:7007", value_parser = parse_listen)]
    listen: Vec<Listeners>,

    /// listen(2) backlog: connections the kernel queues before accept.
    // allow_hyphen_values here and below: so `-1` reaches the parser, which
    // names the flag, instead of clap calling it an unknown argument.
    #[arg(long, value_name = "N", default_value_t = 1024, value_parser = parse_backlog, allow_hyphen_values = true)]
    backlog: i32,

    /// Leave Nagle's algorithm on (TCP_NODELAY is set by default).
    #[arg(long)]
    no_nodelay: bool,

    /// Serve at most N connections at once; new ones beyond it are closed at
    /// once. 0 means no limit beyond the file-descriptor limit.
    #[arg(long, value_name = "N", default_value_t = 0, value_parser = parse_count, allow_hyphen_values = true)]
    max_conns: usize,

    /// Most bytes of echo pending per connection before the server stops
    /// reading from it (backpressure). Suffixes K, M (powers of 1024).
    #[arg(long, value_name = "BYTES", default_value = "64K", value_parser = parse_size, allow_hyphen_values = true)]
    max_buffer: usize,

    /// Close connections that see no traffic for DUR (e.g. 30s, 5m; at most
    /// 365d). Off by default.
    #[arg(long, value_name = "DUR", value_parser = parse_duration, allow_hyphen_values = true)]
    idle_timeout: Option<Duration>,

    /// After SIGINT/SIGTERM, keep flushing pending echoes for up to DUR,
    /// then exit 0 (at most 365d). A second signal exits at once. A
    /// connection with nothing left to send or read closes at once; the
    /// others get EOF after their last echoed byte and close when the
    /// client does. Linux tells "nothing left" exactly; macOS and FreeBSD
    /// only once the client has acknowledged every byte, so more clients
    /// wait for their EOF there (never losing echo).
    #[arg(long, value_name = "DUR", default_value = "5s", value_parser = parse_duration, allow_hyphen_values = true)]
    shutdown_timeout: Duration,

    /// Reactors, each on its own thread with its own listener per TCP or
    /// UDP address (SO_REUSEPORT: the kernel spreads new connections over
    /// them); a Unix socket, and every socket passed by socket activation,
    /// is shared by all the reactors. Reactor model only; 1 to 1024. Linux
    /// and FreeBSD (SO_REUSEPORT_LB) spread connections; macOS accepts the
    /// group but does not balance it, so one reactor may take most there.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = parse_threads, allow_hyphen_values = true)]
    threads: usize,

    /// Pin reactor i to the i-th CPU this process may run on, modulo their
    /// number (more reactors than CPUs share them). Reactor model only.
    /// Linux and FreeBSD: refused on macOS, which has no CPU affinity.
    #[arg(long)]
    pin: bool,

    /// Permission bits of the socket files of --listen unix: listeners, in
    /// octal (e.g. 660). Default: what the umask leaves.
    #[arg(long, value_name = "MODE", value_parser = parse_unix_mode, allow_hyphen_values = true)]
    unix_mode: Option<u32>,

    /// Serve Prometheus metrics at http://ADDR/metrics (IP:PORT; port 0
    /// picks a free one). Reactor model only. Off by default. Of the
    /// process_* metrics, macOS and FreeBSD give CPU time and the
    /// descriptor limit only; Linux also gives memory, open descriptors
    /// and start time.
    #[arg(long, value_name = "ADDR", value_parser = parse_metrics)]
    metrics: Option<std::net::SocketAddr>,

    /// When to echo a TCP connection through a pipe with splice(2), which
    /// copies no byte, instead of reading and writing: auto splices bulk
    /// flows (a read that filled the whole read area, 64 KiB by default)
    /// and copies small messages, always splices every read, off never
    /// splices. Reactor model, Linux only (elsewhere auto never splices).
    #[arg(long, value_enum, value_name = "WHEN", default_value = "auto")]
    splice: crate::config::Splice,

    /// Buffers in the uring model's receive ring, 64 KiB each (or
    /// --max-buffer, if smaller), shared by every connection: a power of
    /// two, 1 to 32768; default 128. Uring model only.
    #[arg(long, value_name = "COUNT", value_parser = parse_uring_buffers, allow_hyphen_values = true)]
    uring_buffers: Option<u16>,

    /// Log each readiness event, accept, read, partial write, backpressure
    /// pause and resume, and close with its reason (on stderr); the
    /// threads, iterative and tokio models log only accepts and closes.
    /// Same as RUST_LOG=echod=trace.
    #[arg(long)]
    trace: bool,
}

impl Args {
    fn into_config(self, listen_given: bool) -> Config {
        Config {
            listen_given,
            model: self.model,
            listen: self.listen.into_iter().flat_map(|l| l.0).collect(),
            backlog: self.backlog,
            nodelay: !self.no_nodelay,
            max_conns: (self.max_conns > 0).then_some(self.max_conns),
            max_buffer: self.max_buffer,
            idle_timeout: self.idle_timeout,
            shutdown_timeout: self.shutdown_timeout,
            threads: self.threads,
            pin: self.pin,
            unix_mode: self.unix_mode,
            metrics: self.metrics,
            splice: self.splice,
            uring_buffers: self.uring_buffers,
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
    let argv: Vec<OsString> = args.into_iter().map(Into::into).collect();
    // Through `ArgMatches`, which tell a `--listen` typed from its default.
    let parsed = Args::command().try_get_matches_from(&argv).and_then(|m| {
        let given = m.value_source("listen") == Some(ValueSource::CommandLine);
        Ok((Args::from_arg_matches(&m)?, given))
    });
    let (args, listen_given) = match parsed {
        Ok(parsed) => parsed,
        Err(e) => {
            // --help and --version are "errors" to clap but succeed for us.
            if !e.use_stderr() {
                let _ = e.print();
                return ExitCode::SUCCESS;
            }
            let argv: Vec<String> = argv
                .iter()
                .map(|a| a.to_string_lossy().into_owned())
                .collect();
            crate::log::line(format_args!("{}", message::one_line(&e, &argv)));
            return ExitCode::from(EXIT_USAGE);
        }
    };
    // After the usage errors, which are plain `crate::log::line`s.
    crate::log::init(args.trace);
    let config = args.into_config(listen_given);
    match crate::daemon::run(config) {
        Ok(crate::error::Stopped::Drained) => ExitCode::SUCCESS,
        Ok(crate::error::Stopped::Forced(sig)) => ExitCode::from((128 + sig).clamp(0, 255) as u8),
        // Flags that are fine alone but not together (--threads with a
        // model that has no reactors): a usage error like a bad value.
        Err(crate::error::Error::Usage(reason)) => {
            crate::log::line(format_args!("{reason} (see --help)"));
            ExitCode::from(EXIT_USAGE)
        }
        Err(e) => {
            crate::log::line(format_args!("{e}"));
            ExitCode::from(match e {
                crate::error::Error::Runtime(_) => 1,
                _ => EXIT_USAGE,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_documented_ones() {
        let c = Args::try_parse_from(["echod"]).unwrap().into_config(false);
        let d = Config::default();
        assert_eq!(c.listen, d.listen);
        assert_eq!(c.backlog, 1024);
        assert_eq!(c.max_buffer, 64 << 10);
        assert_eq!(c.shutdown_timeout, Duration::from_secs(5));
        assert!(c.nodelay && c.max_conns.is_none() && c.idle_timeout.is_none());
        assert_eq!((c.threads, c.pin), (d.threads, d.pin));
        assert_eq!((c.threads, c.pin), (1, false));
    }

    /// The line `run` would print for `args`, without the `echod: ` prefix.
    fn error_line(args: &[String]) -> String {
        let e = Args::try_parse_from(args).expect_err("should be refused");
        message::one_line(&e, args)
    }

    fn argv(args: &[&str]) -> Vec<String> {
        args.iter().map(|a| a.to_string()).collect()
    }

    #[test]
    fn flags_still_parse_around_values_that_start_with_a_hyphen() {
        let args = Args::try_parse_from([
            "echod",
            "--max-conns",
            "3",
            "--listen",
            "127.0.0.1:0",
            "--idle-timeout",
            "5s",
        ])
        .unwrap();
        assert_eq!(args.max_conns, 3);
        assert_eq!(args.idle_timeout, Some(Duration::from_secs(5)));
        assert_eq!(args.listen.len(), 1);
    }

    #[test]
    fn huge_values_in_clap_errors_are_shortened() {
        let huge = "x".repeat(100_000);
        for args in [
            vec!["echod".to_string(), format!("--{huge}")],
            vec!["echod".into(), "--listen".into(), huge.clone()],
            vec!["echod".into(), "--model".into(), huge.clone()],
            vec!["echod".into(), format!("--listen={huge}")],
            vec!["echod".into(), "--idle-timeout".into(), format!("5{huge}")],
        ] {
            let line = error_line(&args);
            assert!(line.len() < 300, "{} bytes: {line}", line.len());
            assert!(line.contains("characters)"), "length not noted: {line}");
        }
    }

    #[test]
    fn newlines_in_arguments_do_not_split_the_line() {
        for args in [
            argv(&["echod", "--bo\ngus"]),
            argv(&["echod", "--listen", "a\nb"]),
            argv(&["echod", "--model", "\u{1b}[2Jx"]),
        ] {
            let line = error_line(&args);
            assert!(!line.chars().any(char::is_control), "{line:?}");
        }
    }
}
