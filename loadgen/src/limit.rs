//! Which side of a flood was the limit: the server, or the generator.
//!
//! A flood moves bytes as fast as the slower end can. Its MB/s say
//! something about the server only when the server was the slower end,
//! i.e. out of CPU. So the verdict reads the server's CPU over the window
//! ([`crate::usage`]) and nothing else:
//!
//! - **server**: its busiest thread used at least [`SATURATED`] of a CPU
//!   (a single-threaded server saturates one thread however many CPUs the
//!   machine has), or all its threads together used at least
//!   [`SATURATED`] of every CPU it may run on.
//! - **generator**: neither. The server had CPU to spare and was waiting
//!   for bytes: the figure is the generator's (or the loopback's), not
//!   the server's.
//! - **unknown**: the server's CPU was not measured (`run` without
//!   `--server-pid`).

use serde::Serialize;

use crate::usage::ServerUsage;

/// The share of a CPU (or of all the CPUs it may use) from which a server
/// counts as saturated.
pub const SATURATED: f64 = 0.95;

/// The verdict; see the module docs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Limit {
    /// The server was out of CPU: the figures are the server's.
    Server,
    /// The server had CPU to spare: the figures are the generator's.
    Generator,
    /// The server's CPU was not measured.
    Unknown,
}

impl Limit {
    /// The verdict in one word, as `results.json` writes it: `server`,
    /// `generator` or `unknown`.
    pub fn name(self) -> &'static str {
        match self {
            Limit::Server => "server",
            Limit::Generator => "generator",
            Limit::Unknown => "unknown",
        }
    }
}

/// The verdict for a server that used `server` over the window, or
/// [`Limit::Unknown`] when that was not measured.
pub fn limit(server: Option<&ServerUsage>) -> Limit {
    match server {
        None => Limit::Unknown,
        Some(s) if saturated(s) => Limit::Server,
        Some(_) => Limit::Generator,
    }
}

fn saturated(s: &ServerUsage) -> bool {
    s.busiest_thread_utilisation
        .value()
        .is_some_and(|&t| t >= SATURATED)
        || s.cpu_utilisation >= SATURATED * s.cpus.max(1) as f64
}

/// The verdict in one line, for the reports: which side was the limit and
/// the figure that shows it, with the generator's own CPU beside it.
pub fn line(limit: Limit, server: Option<&ServerUsage>, generator_cpu: f64) -> String {
    let gen = format!("the generator used {}", pct_of_cpu(generator_cpu));
    match (limit, server) {
        (Limit::Server, Some(s)) => format!("server-bound ({}); {gen}", saturated_by(s)),
        (Limit::Generator, Some(s)) => format!(
            "the generator was the limit: the server used only {}; these MB/s are the \
             generator's, not the server's ({gen})",
            used(s)
        ),
        _ => format!(
            "unknown: pass --server-pid PID (the server's process id) to learn whether the server \
             or the generator was the limit ({gen})"
        ),
    }
}

/// A share of a CPU in whole percent, rounded down: a server at 94.9%
/// is not at the 95% threshold, and must not read as if it were. Every
/// report prints flood CPU figures through this, so they agree with the
/// verdict.
pub fn percent(x: f64) -> f64 {
    (x * 100.0).floor()
}

fn pct_of_cpu(x: f64) -> String {
    format!("{}% of a CPU", percent(x))
}

/// What made a saturated server count as such.
fn saturated_by(s: &ServerUsage) -> String {
    match s.busiest_thread_utilisation.value() {
        Some(&t) if t >= SATURATED => format!("busiest server thread at {}", pct_of_cpu(t)),
        _ if s.cpus == 1 => format!("server at {}", pct_of_cpu(s.cpu_utilisation)),
        _ => format!(
            "server at {}% of the {} CPUs it may run on",
            percent(s.cpu_utilisation / s.cpus as f64),
            s.cpus
        ),
    }
}

/// How much of its CPU a server that was not saturated used: the busiest
/// thread where it is known, and the total when it may use several CPUs.
fn used(s: &ServerUsage) -> String {
    let total = pct_of_cpu(s.cpu_utilisation);
    match (s.busiest_thread_utilisation.value(), s.cpus) {
        (_, 1) => total,
        (Some(&t), n) => format!(
            "{} in its busiest thread and {total} in all, of the {n} CPUs it may run on",
            pct_of_cpu(t)
        ),
        (None, n) => format!("{total} of the {n} CPUs it may run on"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::procstat::Reading;

    /// The line on a server that used `total` of a CPU (`busiest` in its
    /// busiest thread) and may run on `cpus`, beside a generator at
    /// `generator`, once its verdict is found to be `want`.
    fn judged(
        total: f64,
        busiest: Option<f64>,
        cpus: usize,
        generator: f64,
        want: Limit,
    ) -> String {
        let s = ServerUsage {
            pid: 42,
            cpu_utilisation: total,
            busiest_thread_utilisation: match busiest {
                Some(b) => Reading::Value(b),
                None => Reading::unavailable("per-thread CPU time is read on Linux only"),
            },
            cpus,
            cpu_seconds: total,
        };
        assert_eq!(
            limit(Some(&s)),
            want,
            "{total} of {cpus} CPU(s), busiest {busiest:?}"
        );
        line(want, Some(&s), generator)
    }

    #[test]
    fn a_saturated_thread_makes_the_server_the_limit() {
        // One thread of a many-CPU machine at 97%: the server is done.
        let l = judged(0.99, Some(0.97), 8, 0.7, Limit::Server);
        assert!(
            l.starts_with("server-bound (busiest server thread at 97% of a CPU")
                && l.ends_with("the generator used 70% of a CPU"),
            "{l}"
        );
    }

    #[test]
    fn all_its_cpus_busy_makes_the_server_the_limit() {
        // Many threads, none saturated, but both CPUs it may use are full.
        let l = judged(1.92, Some(0.04), 2, 0.5, Limit::Server);
        assert!(
            l.starts_with("server-bound (server at 96% of the 2 CPUs it may run on)"),
            "{l}"
        );
        // Off Linux, by the total alone.
        judged(0.96, None, 1, 0.5, Limit::Server);
    }

    #[test]
    fn below_the_threshold_the_generator_was_the_limit() {
        let l = judged(0.84, Some(0.84), 1, 1.0, Limit::Generator);
        assert!(
            l.starts_with("the generator was the limit: the server used only 84% of a CPU;")
                && l.contains("these MB/s are the generator's, not the server's")
                && l.contains("the generator used 100% of a CPU"),
            "{l}"
        );
        // Just under on both counts.
        let l = judged(1.89, Some(0.949), 2, 1.0, Limit::Generator);
        assert!(
            l.contains(
                "only 94% of a CPU in its busiest thread and 189% of a CPU in all, of the 2 CPUs"
            ),
            "{l}"
        );
        judged(0.949, None, 1, 1.0, Limit::Generator);
    }

    #[test]
    fn without_a_pid_the_limit_is_unknown_and_says_how_to_learn_it() {
        assert_eq!(limit(None), Limit::Unknown);
        let l = line(Limit::Unknown, None, 0.5);
        assert!(l.starts_with("unknown: pass --server-pid PID"), "{l}");
        for l in [Limit::Server, Limit::Generator, Limit::Unknown] {
            assert_eq!(
                serde_json::to_string(&l).unwrap(),
                format!("\"{}\"", l.name())
            );
        }
    }
}
