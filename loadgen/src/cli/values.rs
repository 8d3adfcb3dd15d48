//! Flag values: clap's parsers for durations, counts and sizes, and the
//! checks every subcommand's validation shares (addresses, targets, the
//! open-file budget, request sizes). Each refusal names its flag.

use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

use crate::payload::{MAX_SIZE, MIN_SIZE};
use crate::target::Target;
use crate::usage_error::{shorten, usage, UsageError};

/// A duration such as `5s` or `500ms`, at most 7 days; the message never
/// quotes the input.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s.trim()).map_err(|e| match e {
        humantime::DurationError::NumberOverflow => "longer than the most allowed, 7d".to_string(),
        // humantime's other messages may quote the input; ours must not.
        _ => "not a duration (try e.g. 5s or 500ms)".to_string(),
    })?;
    // Anything longer is a typo, and would overflow `Instant + Duration`.
    if d > MAX_DURATION {
        return Err("longer than the most allowed, 7d".into());
    }
    Ok(d)
}

/// A count for `--connections`, `--depth`, `--threads`, `--rounds`.
pub fn parse_count(s: &str) -> Result<u32, String> {
    let n = echod::cli::values::parse_count(s)?;
    u32::try_from(n).map_err(|_| format!("must be at most {}", u32::MAX))
}

/// A process id for `--server-pid`: a whole number from 1.
pub fn parse_pid(s: &str) -> Result<u32, String> {
    match parse_count(s)? {
        0 => Err("not a process id (they start at 1)".into()),
        n => Ok(n),
    }
}

/// The longest duration any flag takes.
const MAX_DURATION: Duration = Duration::from_secs(7 * 24 * 3600);

/// A byte count such as `512`, `1K`, `64KiB` or `16M` (powers of 1024),
/// read exactly as echod reads `--max-buffer`.
pub fn parse_size(s: &str) -> Result<u64, String> {
    echod::cli::values::parse_bytes(s)
}

/// Resolves `value` of `flag` to one socket address (a host name's first),
/// saying which part is wrong when it cannot (see [`resolve_all`]).
pub fn resolve(flag: &str, value: &str) -> Result<SocketAddr, UsageError> {
    resolve_all(value).map(|addrs| addrs[0]).map_err(|why| {
        usage(format!(
            "{flag} {}: {why}; expected HOST:PORT",
            shorten(value)
        ))
    })
}

/// Validates `value` of `flag` as a target: `unix:PATH`, `udp:HOST:PORT`,
/// or a `HOST:PORT` resolved to one address (a host name resolves to its
/// first address, for TCP and UDP alike).
pub fn target(flag: &str, value: &str) -> Result<Target, UsageError> {
    if let Some(path) = value.strip_prefix("unix:") {
        if path.is_empty() {
            return Err(usage(format!(
                "{flag} {}: the path is empty; expected unix:PATH",
                shorten(value)
            )));
        }
        return Ok(Target::Unix(path.into()));
    }
    if let Some(rest) = value.strip_prefix("udp:") {
        let addrs = resolve_all(rest).map_err(|why| {
            usage(format!(
                "{flag} {}: {why}; expected udp:HOST:PORT",
                shorten(value)
            ))
        })?;
        return Ok(Target::Udp(addrs[0]));
    }
    resolve(flag, value).map(Target::Tcp)
}

/// Descriptors the generator needs besides one per connection: stdio, one
/// poller and one timer per engine thread, a server child's pipes, slack.
const FD_RESERVE: u64 = 64;

/// Refuses `connections` that the generator's own open-file limit cannot
/// hold, *before* anything is measured. The soft limit has already been
/// raised to the hard one (`echod::net::raise_fd_limit`), so this is the real
/// ceiling; without the check a run waits for connects that fail with
/// EMFILE, which reads like the server's fault.
pub fn check_fd_budget(flag: &str, connections: u32) -> Result<(), UsageError> {
    let limit = crate::env::fd_limit();
    let need = u64::from(connections) + FD_RESERVE;
    if need > limit.soft {
        return Err(usage(format!(
            "{flag} {connections}: the generator needs about {need} open files but its own limit is {} \
             (hard limit {}); raise it (ulimit -n) or use fewer connections",
            limit.soft, limit.hard
        )));
    }
    Ok(())
}

/// Checks a request size.
pub fn check_size(size: u64) -> Result<usize, UsageError> {
    if size < MIN_SIZE as u64 || size > MAX_SIZE as u64 {
        return Err(usage(format!(
            "--size {size}: must be between {MIN_SIZE} (the request header) and {MAX_SIZE} bytes"
        )));
    }
    Ok(size as usize)
}

/// `v` of `flag`, refused when it is 0.
pub fn positive(flag: &str, v: u32) -> Result<u32, UsageError> {
    if v == 0 {
        return Err(usage(format!("{flag} 0: must be at least 1")));
    }
    Ok(v)
}

/// Every address `HOST:PORT` resolves to, or why there is none.
pub fn resolve_all(host_port: &str) -> Result<Vec<SocketAddr>, String> {
    // `[::1]` has colons but no port.
    let Some((host, port)) = host_port
        .rsplit_once(':')
        .filter(|_| !host_port.ends_with(']'))
    else {
        return Err("missing :PORT".into());
    };
    if host.is_empty() {
        return Err("no host".into());
    }
    if !matches!(port.parse::<u16>(), Ok(p) if p > 0) {
        return Err(format!(
            "port {}: not a number from 1 to 65535",
            shorten(port)
        ));
    }
    let addrs: Vec<SocketAddr> = host_port
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {} ({e})", shorten(host)))?
        .collect();
    if addrs.is_empty() {
        return Err(format!("{} resolves to no address", shorten(host)));
    }
    Ok(addrs)
}
