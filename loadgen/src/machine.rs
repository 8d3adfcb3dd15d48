//! How busy the machine was around a sweep: load average, CPU frequency
//! governor, steal time, and CPU used by processes other than ours.
//!
//! A comparison on a shared 2-CPU machine can be flipped by a build running
//! next to it, so `compare` samples these before and after and says so when
//! the machine was not quiet. "Other CPU" is the machine's busy time from
//! `/proc/stat` minus the CPU time of this process and its (waited-for)
//! children: what someone else spent while we measured.
//!
//! `run` takes the same readings over its measurement window
//! ([`MachineLoad::over`]), so that a generator that falls behind its
//! schedule on a busy machine is not told to change its load.
//!
//! # Other platforms
//! The load average comes from `getloadavg`, which every Unix has. The
//! governor (`/sys/.../cpufreq`), steal time and other processes' CPU
//! (`/proc/stat`) are Linux's; elsewhere they are [`Reading::Unavailable`]
//! with the reason, and only the load average can warn of a busy machine.

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::procstat::Reading;

/// Load average above this fraction of the CPU count before the sweep
/// means something else was running.
const BUSY_LOADAVG_PER_CPU: f64 = 0.5;
/// Steal above this share of the machine's CPU time means the hypervisor
/// gave our CPUs to someone else.
const BUSY_STEAL_PERCENT: f64 = 2.0;
/// Other processes' CPU above this share of one CPU disturbed the sweep.
const BUSY_OTHER_PERCENT: f64 = 10.0;

/// Why steal and other processes' CPU are missing when `/proc/stat` was not
/// read.
const NO_CPU_TICKS: &str = if cfg!(target_os = "linux") {
    "/proc/stat could not be read"
} else {
    "read from /proc/stat, which only Linux has"
};

/// The CPU frequency governor of CPU 0 (Linux's cpufreq).
const GOVERNOR: &str = "/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor";

/// One reading of the machine.
#[derive(Clone, Debug, Serialize)]
pub struct Sample {
    /// 1, 5 and 15 minute load averages (`getloadavg`, which on Linux
    /// reads `/proc/loadavg`).
    pub loadavg: [f64; 3],
    /// `scaling_governor` of CPU 0 (Linux only).
    pub governor: Reading<String>,
    #[serde(skip)]
    ticks: Option<CpuTicks>,
    #[serde(skip)]
    own: Duration,
    #[serde(skip)]
    at: Option<Instant>,
}

/// Aggregate CPU time of the machine, in clock ticks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CpuTicks {
    /// Every state, idle included.
    pub total: u64,
    /// Idle and waiting for I/O.
    pub idle: u64,
    /// Stolen by the hypervisor.
    pub steal: u64,
}

/// What the sweep saw of the machine.
#[derive(Clone, Debug, Serialize)]
pub struct MachineLoad {
    /// Before the first point.
    pub before: Sample,
    /// After the last point.
    pub after: Sample,
    /// Steal time over the sweep, % of the machine's CPU time.
    pub steal_percent: Reading<f64>,
    /// CPU used by processes other than loadgen and its servers over the
    /// sweep, in % of one CPU.
    pub other_cpu_percent: Reading<f64>,
    /// Why the figures may be disturbed; empty on a quiet machine.
    pub warnings: Vec<String>,
}

impl Sample {
    /// Reads the machine now.
    pub fn now() -> Sample {
        Sample {
            loadavg: loadavg().unwrap_or_default(),
            governor: governor(),
            ticks: cpu_ticks(),
            own: own_cpu(),
            at: Some(Instant::now()),
        }
    }
}

/// Nothing read: zero load, no governor, no CPU ticks.
impl Default for Sample {
    fn default() -> Sample {
        Sample {
            loadavg: [0.0; 3],
            governor: Reading::unavailable("not sampled"),
            ticks: None,
            own: Duration::ZERO,
            at: None,
        }
    }
}

#[cfg(target_os = "linux")]
fn governor() -> Reading<String> {
    match std::fs::read_to_string(GOVERNOR) {
        Ok(s) => Reading::Value(s.trim().to_owned()),
        Err(e) => Reading::unavailable(format!("{GOVERNOR}: {e}")),
    }
}

#[cfg(not(target_os = "linux"))]
fn governor() -> Reading<String> {
    Reading::unavailable(format!("read from {GOVERNOR}, which only Linux has"))
}

#[cfg(target_os = "linux")]
fn cpu_ticks() -> Option<CpuTicks> {
    std::fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|s| parse_cpu_line(&s))
}

#[cfg(not(target_os = "linux"))]
fn cpu_ticks() -> Option<CpuTicks> {
    None
}

/// What [`MachineLoad::over`] is told about the span it judges.
#[derive(Clone, Copy, Debug)]
pub struct Span<'a> {
    /// The span in words, for the warnings: "the sweep", "the window".
    pub name: &'a str,
    /// CPU time of processes that are part of the measurement but not
    /// loadgen's children (a server given to `run --server-pid`): not
    /// counted as other processes'.
    pub ours_too: Duration,
    /// Appended to the other-processes warning, e.g. to say that a server
    /// that could not be told apart is among them.
    pub others_note: &'a str,
}

impl MachineLoad {
    /// Compares `before` and `after` (around a `compare` sweep) on a
    /// machine of `cpus` CPUs.
    pub fn between(before: Sample, after: Sample, cpus: usize) -> MachineLoad {
        let span = Span {
            name: "the sweep",
            ours_too: Duration::ZERO,
            others_note: "",
        };
        MachineLoad::over(before, after, cpus, span)
    }

    /// Compares `before` and `after` on a machine of `cpus` CPUs, for the
    /// `span` between them.
    pub fn over(before: Sample, after: Sample, cpus: usize, span: Span<'_>) -> MachineLoad {
        let name = span.name;
        let mut m = MachineLoad {
            steal_percent: Reading::unavailable(NO_CPU_TICKS),
            other_cpu_percent: Reading::unavailable(NO_CPU_TICKS),
            warnings: Vec::new(),
            before,
            after,
        };
        let (b, a) = (&m.before, &m.after);
        if b.loadavg[0] > BUSY_LOADAVG_PER_CPU * cpus as f64 {
            m.warnings.push(format!(
                "the machine was busy before {name}: load average {:.2} on {cpus} CPU(s)",
                b.loadavg[0]
            ));
        }
        if let Some(g) = b.governor.value().filter(|g| *g != "performance") {
            m.warnings.push(format!(
                "CPU frequency governor is '{g}', not 'performance': clock speed may vary between points"
            ));
        }
        if let (Some(tb), Some(ta), Some(t0), Some(t1)) = (b.ticks, a.ticks, b.at, a.at) {
            let total = ta.total.saturating_sub(tb.total);
            let idle = "no CPU time passed between the samples";
            m.steal_percent = Reading::unavailable(idle);
            m.other_cpu_percent = Reading::unavailable(idle);
            if total > 0 {
                let steal = 100.0 * ta.steal.saturating_sub(tb.steal) as f64 / total as f64;
                m.steal_percent = Reading::Value(steal);
                if steal > BUSY_STEAL_PERCENT {
                    m.warnings.push(format!(
                        "the hypervisor stole {steal:.1}% of the CPU time during {name}"
                    ));
                }
            }
            let busy = total.saturating_sub(ta.idle.saturating_sub(tb.idle));
            let busy = Duration::from_secs_f64(busy as f64 / clock_ticks_per_sec());
            let ours = a.own.saturating_sub(b.own) + span.ours_too;
            let wall = t1.duration_since(t0).as_secs_f64();
            if wall > 0.0 {
                let other = 100.0 * busy.saturating_sub(ours).as_secs_f64() / wall;
                m.other_cpu_percent = Reading::Value(other);
                if other > BUSY_OTHER_PERCENT {
                    m.warnings.push(format!(
                        "other processes used {other:.0}% of a CPU during {name}{}",
                        span.others_note
                    ));
                }
            }
        }
        m
    }

    /// True when any warning was raised.
    pub fn busy(&self) -> bool {
        !self.warnings.is_empty()
    }
}

fn loadavg() -> Option<[f64; 3]> {
    let mut l = [0.0f64; 3];
    // SAFETY: `l` has room for the 3 values asked for.
    let n = unsafe { libc::getloadavg(l.as_mut_ptr(), 3) };
    (n == 3).then_some(l)
}

/// The aggregate `cpu` line of `/proc/stat`: user nice system idle iowait
/// irq softirq steal (guest time is already inside user).
#[cfg(any(target_os = "linux", test))]
pub fn parse_cpu_line(stat: &str) -> Option<CpuTicks> {
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .take(8)
        .map(|x| x.parse().ok())
        .collect::<Option<_>>()?;
    if v.len() < 5 {
        return None;
    }
    Some(CpuTicks {
        total: v.iter().sum(),
        idle: v[3] + v[4],
        steal: v.get(7).copied().unwrap_or(0),
    })
}

fn clock_ticks_per_sec() -> f64 {
    // SAFETY: sysconf has no preconditions.
    unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64
}

/// CPU time of this process and of its children that have been waited for.
fn own_cpu() -> Duration {
    let usage = |who| {
        // SAFETY: rusage is plain data; getrusage fills it in.
        let mut r: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: `r` is a valid rusage.
        if unsafe { libc::getrusage(who, &mut r) } != 0 {
            return Duration::ZERO;
        }
        let tv = |t: libc::timeval| {
            Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
        };
        tv(r.ru_utime) + tv(r.ru_stime)
    };
    usage(libc::RUSAGE_SELF) + usage(libc::RUSAGE_CHILDREN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_line_gives_total_idle_and_steal() {
        let stat = "cpu  100 5 50 800 20 1 2 7 0 0\ncpu0 50 2 25 400 10 1 1 3 0 0\n";
        assert_eq!(
            parse_cpu_line(stat),
            Some(CpuTicks {
                total: 985,
                idle: 820,
                steal: 7
            })
        );
        assert_eq!(parse_cpu_line("intr 1 2 3"), None);
    }

    #[test]
    fn a_busy_machine_is_reported() {
        let quiet = Sample {
            loadavg: [0.1, 0.1, 0.1],
            governor: Reading::Value("performance".into()),
            ..Sample::default()
        };
        assert!(!MachineLoad::between(quiet.clone(), quiet.clone(), 2).busy());
        let busy = Sample {
            loadavg: [1.7, 1.0, 0.5],
            ..quiet.clone()
        };
        let m = MachineLoad::between(busy, quiet, 2);
        assert!(
            m.busy() && m.warnings[0].contains("load average 1.70"),
            "{:?}",
            m.warnings
        );
    }

    #[test]
    fn this_machine_can_be_sampled() {
        let s = Sample::now();
        assert_eq!(
            s.ticks.is_some_and(|t| t.total > 0),
            cfg!(target_os = "linux")
        );
        assert!(s.loadavg.iter().all(|&l| l >= 0.0));
        // getloadavg agrees with the file it reads on Linux (to the
        // rounding of the next kernel update, at most every 5 s).
        #[cfg(target_os = "linux")]
        {
            let text = std::fs::read_to_string("/proc/loadavg").unwrap();
            let file: f64 = text.split_whitespace().next().unwrap().parse().unwrap();
            assert!(
                (file - s.loadavg[0]).abs() < 1.0,
                "{file} vs {:?}",
                s.loadavg
            );
        }
    }

    /// Without CPU ticks (any OS but Linux), steal and other processes'
    /// CPU are n/a with the reason, and the load average still warns.
    #[test]
    fn missing_cpu_ticks_are_n_a_with_a_reason() {
        let busy = Sample {
            loadavg: [3.0, 2.0, 1.0],
            ..Sample::default()
        };
        let m = MachineLoad::between(busy.clone(), busy, 2);
        assert_eq!(m.steal_percent, Reading::unavailable(NO_CPU_TICKS));
        assert_eq!(m.other_cpu_percent, Reading::unavailable(NO_CPU_TICKS));
        assert!(m.busy(), "{:?}", m.warnings);
        let v = serde_json::to_value(&m).unwrap();
        assert_eq!(v["steal_percent"]["n/a"], NO_CPU_TICKS);
    }
}
