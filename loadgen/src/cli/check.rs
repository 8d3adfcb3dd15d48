//! `loadgen check`'s flags and its validated configuration.

use std::time::Duration;

use clap::Args;

use super::values::{check_fd_budget, parse_count, parse_duration, positive, target};
use crate::target::Target;
use crate::usage_error::{usage, UsageError};

/// `loadgen check` as typed.
#[derive(Args, Debug, Clone)]
pub struct CheckArgs {
    /// The echo server: HOST:PORT (TCP, e.g. 127.0.0.1:7007), unix:PATH (a Unix stream
    /// socket) or udp:HOST:PORT (datagram checks; stream-only checks are listed as not
    /// applicable) (required).
    #[arg(long, value_name = "ADDR")]
    pub target: String,
    /// Time limit of each check; a check still running then fails.
    #[arg(long, value_name = "DUR", default_value = "10s", value_parser = parse_duration, allow_hyphen_values = true)]
    pub timeout: Duration,
    /// Connections (udp: sockets) opened at once by the concurrency check.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 100,
        value_parser = parse_count,
        allow_hyphen_values = true
    )]
    pub connections: u32,
}

/// A validated `loadgen check` configuration.
#[derive(Clone, Debug)]
pub struct CheckConfig {
    /// The server.
    pub target: Target,
    /// Time limit of each check.
    pub timeout: Duration,
    /// Connections of the concurrency check.
    pub connections: u32,
}

impl CheckArgs {
    /// Validates the arguments.
    pub fn validate(self) -> Result<CheckConfig, UsageError> {
        let target = target("--target", &self.target)?;
        if self.timeout.is_zero() {
            return Err(usage("--timeout 0s: must be longer than zero"));
        }
        let connections = positive("--connections", self.connections)?;
        check_fd_budget("--connections", connections)?;
        Ok(CheckConfig {
            target,
            timeout: self.timeout,
            connections,
        })
    }
}
