//! `loadgen talk`'s arguments and its validated configuration.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use super::values::{parse_duration, resolve_all};
use crate::usage_error::{shorten, usage, UsageError};

/// `loadgen talk` as typed.
#[derive(Args, Debug, Clone)]
#[command(
    after_help = "Exit status: 0 when everything sent came back (TCP and unix: the \
    server closed after our end of input; udp: every datagram had a reply), 1 otherwise, \
    2 for a bad command line.\n\nExamples:\n  echo hi | loadgen talk 127.0.0.1:7007\n  \
    loadgen talk udp:localhost:7007 < lines.txt\n  loadgen talk unix:/run/echod.sock"
)]
pub struct TalkArgs {
    /// HOST:PORT (TCP; host names resolve), udp:HOST:PORT (each line one datagram; UDP may
    /// lose datagrams) or unix:PATH (a Unix stream socket).
    #[arg(value_name = "ADDR")]
    pub target: String,
    /// Time limit of a TCP connect [default: 10s].
    #[arg(long, value_name = "DUR", value_parser = parse_duration, allow_hyphen_values = true)]
    pub timeout: Option<Duration>,
    /// udp: only. At the end of input, wait this long for the replies still missing, then
    /// exit (1 if some never came: UDP may lose datagrams) [default: 1s].
    #[arg(long, value_name = "DUR", value_parser = parse_duration, allow_hyphen_values = true)]
    pub wait: Option<Duration>,
}

/// Where `loadgen talk` connects.
#[derive(Clone, Debug)]
pub enum TalkTarget {
    /// Every address the host resolves to, tried in turn.
    Tcp(Vec<SocketAddr>),
    /// The first address the host resolves to.
    Udp(SocketAddr),
    /// A Unix stream socket.
    Unix(PathBuf),
}

/// A validated `loadgen talk` configuration.
#[derive(Clone, Debug)]
pub struct TalkConfig {
    /// The server.
    pub target: TalkTarget,
    /// The target as typed, shortened for messages.
    pub shown: String,
    /// TCP connect time limit.
    pub timeout: Duration,
    /// udp: how long to wait for missing replies after the end of input.
    pub wait: Duration,
}

impl TalkArgs {
    /// Validates the arguments.
    pub fn validate(self) -> Result<TalkConfig, UsageError> {
        let shown = shorten(&self.target);
        let bad = |why: String| usage(format!("talk {shown}: {why}"));
        let target = if let Some(path) = self.target.strip_prefix("unix:") {
            if path.is_empty() {
                return Err(bad("the path is empty; expected unix:PATH".into()));
            }
            TalkTarget::Unix(path.into())
        } else if let Some(rest) = self.target.strip_prefix("udp:") {
            let addrs =
                resolve_all(rest).map_err(|why| bad(format!("{why}; expected udp:HOST:PORT")))?;
            TalkTarget::Udp(addrs[0])
        } else {
            let rest = self.target.strip_prefix("tcp:").unwrap_or(&self.target);
            let addrs = resolve_all(rest).map_err(|why| {
                bad(format!(
                    "{why}; expected HOST:PORT, udp:HOST:PORT or unix:PATH"
                ))
            })?;
            TalkTarget::Tcp(addrs)
        };
        // A flag that cannot apply is more likely a mistake than a wish.
        let tcp = matches!(target, TalkTarget::Tcp(_));
        let udp = matches!(target, TalkTarget::Udp(_));
        if self.timeout.is_some() && !tcp {
            return Err(usage(format!(
                "--timeout: applies to TCP targets only, not {shown}"
            )));
        }
        if self.wait.is_some() && !udp {
            return Err(usage(format!(
                "--wait: applies to udp: targets only, not {shown}"
            )));
        }
        let timeout = self.timeout.unwrap_or(Duration::from_secs(10));
        let wait = self.wait.unwrap_or(Duration::from_secs(1));
        if timeout.is_zero() {
            return Err(usage("--timeout 0s: must be longer than zero"));
        }
        if wait.is_zero() {
            return Err(usage("--wait 0s: must be longer than zero"));
        }
        Ok(TalkConfig {
            target,
            shown,
            timeout,
            wait,
        })
    }
}
