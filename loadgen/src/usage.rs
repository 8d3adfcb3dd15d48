//! CPU used over a measurement window: the server's (all its threads, and
//! its busiest thread) and the generator's own.
//!
//! [`Meter`] is fed the run's [`Moment`]s and samples at each edge of the
//! window, so its figures cover the window the throughput covers and
//! nothing of the warm-up or the drain. `run --server-pid` and `compare`
//! both measure through it.
//!
//! # Where the figures come from
//! - The server's total: [`procstat::cpu_time`] (per OS; see there).
//! - Its threads: `/proc/PID/task/*/stat` on Linux. Elsewhere the busiest
//!   thread is `n/a`, and the verdict ([`crate::limit`]) judges by the
//!   total alone.
//! - The CPUs it may run on: its `Cpus_allowed_list` on Linux; elsewhere
//!   every CPU online.
//! - The generator: `getrusage(RUSAGE_SELF)`, every thread of this process.
//!
//! Utilisation is CPU time over the wall time between the two samples, as
//! a fraction of one CPU (2.0 = two CPUs busy). Linux counts CPU time in
//! clock ticks (usually 10 ms), so over a 1 s window a figure is good to
//! about ±1%.

use std::io;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::procstat::{self, Reading};
use crate::run::Moment;

/// The server's CPU over the window.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ServerUsage {
    /// Its process id.
    pub pid: u32,
    /// User + system time of all its threads, as a fraction of one CPU.
    pub cpu_utilisation: f64,
    /// The same for its busiest thread (Linux only).
    pub busiest_thread_utilisation: Reading<f64>,
    /// CPUs it may run on.
    pub cpus: usize,
    /// Its CPU time over the window, in seconds.
    pub cpu_seconds: f64,
}

/// What a [`Meter`] measured over one window.
#[derive(Clone, Debug, PartialEq)]
pub struct WindowUsage {
    /// The server's, when a pid was given.
    pub server: Option<ServerUsage>,
    /// The generator's own CPU time over the window, as a fraction of one
    /// CPU (all its threads together).
    pub generator_cpu_utilisation: f64,
    /// Wall time between the two samples.
    pub elapsed: Duration,
}

/// One look at the CPU time used so far.
#[derive(Debug)]
struct Sample {
    at: Instant,
    generator: Duration,
    server: Option<io::Result<ServerSample>>,
}

/// The server's CPU time so far: all of it, and per thread where the OS
/// says; and the CPUs it may run on, read while it is surely alive (the
/// caller may stop it before [`Meter::finish`]).
#[derive(Debug)]
struct ServerSample {
    total: Duration,
    threads: Option<Vec<(u32, Duration)>>,
    cpus: Option<usize>,
}

/// Samples CPU time at the window's start and end (see the module docs).
#[derive(Debug)]
pub struct Meter {
    pid: Option<u32>,
    start: Option<Sample>,
    end: Option<Sample>,
}

/// Why a [`Meter`] has no figures.
#[derive(Debug)]
pub enum MeterError {
    /// The window never opened (or never closed).
    NoWindow,
    /// The server's CPU time could not be read at an edge of the window:
    /// it exited, most likely.
    Server(io::Error),
}

impl std::fmt::Display for MeterError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MeterError::NoWindow => f.write_str("the measurement window never opened"),
            MeterError::Server(e) => write!(f, "cannot read the server's CPU time ({e})"),
        }
    }
}

impl std::error::Error for MeterError {}

impl Meter {
    /// A meter for the generator and, when given, server process `pid`.
    pub fn new(pid: Option<u32>) -> Meter {
        Meter {
            pid,
            start: None,
            end: None,
        }
    }

    /// Samples at [`Moment::WindowStart`] and [`Moment::WindowEnd`]; pass
    /// every moment of the run. Everything is read here, so the server
    /// may be gone by [`Meter::finish`].
    pub fn on_moment(&mut self, moment: Moment) {
        let sample = Sample {
            at: Instant::now(),
            generator: own_cpu_time(),
            server: self.pid.map(|pid| {
                Ok(ServerSample {
                    total: procstat::cpu_time(pid)?,
                    threads: procstat::thread_cpu_times(pid).ok(),
                    cpus: procstat::allowed_cpus(pid).ok(),
                })
            }),
        };
        match moment {
            Moment::WindowStart => self.start = Some(sample),
            Moment::WindowEnd => self.end = Some(sample),
        }
    }

    /// The figures between the two samples.
    ///
    /// # Errors
    /// See [`MeterError`].
    pub fn finish(self) -> Result<WindowUsage, MeterError> {
        let (Some(a), Some(b)) = (self.start, self.end) else {
            return Err(MeterError::NoWindow);
        };
        let elapsed = b.at.saturating_duration_since(a.at);
        let secs = elapsed.as_secs_f64().max(1e-9);
        let server = match (self.pid, a.server, b.server) {
            (Some(pid), Some(a), Some(b)) => {
                let (a, b) = (
                    a.map_err(MeterError::Server)?,
                    b.map_err(MeterError::Server)?,
                );
                let cpu = b.total.saturating_sub(a.total).as_secs_f64();
                let busiest = match (a.threads, b.threads) {
                    (Some(a), Some(b)) => Reading::Value(busiest_thread(&a, &b) / secs),
                    _ => Reading::unavailable("per-thread CPU time is read on Linux only"),
                };
                Some(ServerUsage {
                    pid,
                    cpu_utilisation: cpu / secs,
                    busiest_thread_utilisation: busiest,
                    cpus: b.cpus.or(a.cpus).unwrap_or_else(online_cpus),
                    cpu_seconds: cpu,
                })
            }
            _ => None,
        };
        Ok(WindowUsage {
            server,
            generator_cpu_utilisation: b.generator.saturating_sub(a.generator).as_secs_f64() / secs,
            elapsed,
        })
    }
}

/// CPU seconds the busiest thread used between two per-thread samples. A
/// thread seen only at the end started during the window, so all its time
/// is the window's; one seen only at the start has exited, and its time
/// since is lost with it.
fn busiest_thread(start: &[(u32, Duration)], end: &[(u32, Duration)]) -> f64 {
    end.iter()
        .map(|&(tid, t)| {
            let before = start
                .iter()
                .find(|&&(s, _)| s == tid)
                .map_or(Duration::ZERO, |&(_, t)| t);
            t.saturating_sub(before).as_secs_f64()
        })
        .fold(0.0, f64::max)
}

/// User + system CPU time of this process, every thread included.
fn own_cpu_time() -> Duration {
    // SAFETY: rusage is plain data; getrusage fills it in.
    let mut r: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `r` is a valid rusage.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut r) } != 0 {
        return Duration::ZERO;
    }
    let tv = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    tv(r.ru_utime) + tv(r.ru_stime)
}

fn online_cpus() -> usize {
    // SAFETY: sysconf has no preconditions.
    unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) }.max(1) as usize
}

/// Checks that the CPU time of `pid` can be read, as `--server-pid`
/// promises before any connection is made.
///
/// # Errors
/// What the OS said: the process does not exist, or is not ours to read.
pub fn check_pid(pid: u32) -> io::Result<()> {
    procstat::cpu_time(pid).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn the_busiest_thread_is_the_largest_difference() {
        let start = [(1, ms(500)), (2, ms(100)), (3, ms(900))];
        // Thread 3 exited; thread 4 started during the window.
        let end = [(1, ms(700)), (2, ms(950)), (4, ms(300))];
        assert!((busiest_thread(&start, &end) - 0.85).abs() < 1e-9);
        assert_eq!(busiest_thread(&start, &[]), 0.0);
    }

    /// Against this very process: the generator's own figure is there,
    /// and a meter that never saw the window says so.
    #[test]
    fn a_meter_measures_between_the_two_moments() {
        let mut m = Meter::new(Some(std::process::id()));
        m.on_moment(Moment::WindowStart);
        let start = Instant::now();
        let mut x = 0u64;
        while start.elapsed() < ms(60) {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
        }
        m.on_moment(Moment::WindowEnd);
        let u = m.finish().unwrap();
        assert!(u.elapsed >= ms(60));
        assert!(u.generator_cpu_utilisation > 0.3, "{u:?}");
        let s = u.server.unwrap();
        assert_eq!(s.pid, std::process::id());
        assert!(s.cpus >= 1);
        if cfg!(target_os = "linux") {
            assert!(s.busiest_thread_utilisation.value().is_some(), "{s:?}");
        }
        assert!(matches!(
            Meter::new(None).finish(),
            Err(MeterError::NoWindow)
        ));
    }

    /// Regression: the CPUs a server may use were read in `finish`, after
    /// `compare` had stopped it, so every pinned server counted every CPU
    /// online and a saturated one-CPU server read as generator-bound.
    #[cfg(target_os = "linux")]
    #[test]
    fn the_cpus_of_a_server_are_read_while_it_runs() {
        use std::os::unix::process::CommandExt;
        let cpu = *crate::env::affinity().unwrap().last().unwrap();
        let mut cmd = std::process::Command::new("sleep");
        cmd.arg("10");
        // SAFETY: one sched_setaffinity call, as compare's server children do.
        unsafe {
            cmd.pre_exec(move || crate::env::pin(&[cpu]));
        }
        let mut child = cmd.spawn().unwrap();
        let mut m = Meter::new(Some(child.id()));
        m.on_moment(Moment::WindowStart);
        m.on_moment(Moment::WindowEnd);
        child.kill().unwrap();
        child.wait().unwrap();
        assert_eq!(m.finish().unwrap().server.unwrap().cpus, 1);
    }

    #[test]
    fn a_missing_pid_is_an_error() {
        let pid = procstat::reaped_pid();
        assert!(check_pid(pid).is_err());
        let mut m = Meter::new(Some(pid));
        m.on_moment(Moment::WindowStart);
        m.on_moment(Moment::WindowEnd);
        assert!(matches!(m.finish(), Err(MeterError::Server(_))));
    }
}
