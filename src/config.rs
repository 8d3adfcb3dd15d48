//! The validated, high-level configuration every model runs from.
//!
//! The CLI (`cli.rs`) parses raw strings once and builds a [`Config`];
//! [`Config::check`], run once by [`crate::daemon::run`], refuses combinations that
//! cannot work: nothing downstream ever sees an unvalidated value.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Which concurrency model serves the connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Model {
    /// One thread, one `mio::Poll`, non-blocking sockets (the default).
    Reactor,
    /// Thread-per-client with blocking sockets.
    Threads,
    /// One client at a time, blocking; for teaching only.
    Iterative,
    /// A tokio `current_thread` runtime, one task per connection. Needs the
    /// `tokio` cargo feature (on by default); without it, refused at startup.
    Tokio,
    /// One thread, one io_uring: completions instead of readiness (Linux
    /// 6.0 or later; the `uring` cargo feature, on by default). Where
    /// io_uring is missing or blocked, refused at startup with the cause.
    Uring,
}

impl Model {
    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Model::Reactor => "reactor",
            Model::Threads => "threads",
            Model::Iterative => "iterative",
            Model::Tokio => "tokio",
            Model::Uring => "uring",
        }
    }
}

/// How `--splice` chooses between splicing and copying.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Splice {
    /// Splice bulk flows (a read that filled the read area), copy the rest.
    Auto,
    /// Splice every read (TCP connections).
    Always,
    /// Never splice.
    Off,
}

impl Splice {
    /// Whether this platform can splice a socket through a pipe.
    pub const SUPPORTED: bool = cfg!(target_os = "linux");

    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Splice::Auto => "auto",
            Splice::Always => "always",
            Splice::Off => "off",
        }
    }
}

/// One `--listen` value: what kind of socket, on which address.
///
/// The kind is the scheme of the announced address (`tcp://`, `udp://`,
/// `unix://`); a new kind is one more variant here, one more arm in the
/// parser (`cli/values.rs`), in [`crate::listen`]'s `bind`, and in each
/// model that serves it: models refuse at startup the kinds they do not
/// serve (see [`ListenAddr::served_by`]).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ListenAddr {
    /// A TCP listener: `IP:PORT` or `tcp:IP:PORT`.
    Tcp(SocketAddr),
    /// A UDP socket, RFC 862's datagram half: `udp:IP:PORT`.
    Udp(SocketAddr),
    /// A Unix stream socket at an absolute path: `unix:/PATH` (see
    /// [`crate::listen`], "Unix socket files").
    Unix(PathBuf),
}

impl ListenAddr {
    /// The IP address and port; `None` for a Unix socket.
    pub fn ip_addr(&self) -> Option<SocketAddr> {
        match self {
            ListenAddr::Tcp(a) | ListenAddr::Udp(a) => Some(*a),
            ListenAddr::Unix(_) => None,
        }
    }

    /// The scheme it is announced with: `tcp`, `udp` or `unix`.
    pub fn scheme(&self) -> &'static str {
        match self {
            ListenAddr::Tcp(_) => "tcp",
            ListenAddr::Udp(_) => "udp",
            ListenAddr::Unix(_) => "unix",
        }
    }

    /// Whether `model` serves this kind of listener. Every model serves
    /// the stream kinds, TCP and Unix; UDP is served by all but the
    /// iterative one, whose single blocking client would starve it.
    pub fn served_by(&self, model: Model) -> bool {
        match self {
            ListenAddr::Tcp(_) | ListenAddr::Unix(_) => true,
            ListenAddr::Udp(_) => model != Model::Iterative,
        }
    }
}

/// `tcp://127.0.0.1:7007`, `udp://[::1]:7`, `unix:///run/echod.sock` (an
/// absolute path after `unix://`, as in a `file://` URL): as announced and
/// logged.
impl fmt::Display for ListenAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ListenAddr::Tcp(a) | ListenAddr::Udp(a) => write!(f, "{}://{a}", self.scheme()),
            ListenAddr::Unix(p) => write!(f, "unix://{}", p.display()),
        }
    }
}

/// Everything a model needs to run; built once at startup.
#[derive(Clone, Debug)]
pub struct Config {
    /// Concurrency model.
    pub model: Model,
    /// Addresses to listen on (at least one), each with its kind.
    pub listen: Vec<ListenAddr>,
    /// `listen(2)` backlog.
    pub backlog: i32,
    /// Set TCP_NODELAY on accepted connections.
    pub nodelay: bool,
    /// Most connections served at once; `None` means no limit of our own
    /// (the file-descriptor limit still applies).
    pub max_conns: Option<usize>,
    /// Most bytes of echo one connection may have pending before the server
    /// stops reading from it. Also the size of each pooled buffer.
    pub max_buffer: usize,
    /// Close connections with no traffic for this long; `None` disables.
    /// Any value is safe, even `Duration::MAX`: deadlines saturate (see
    /// [`crate::time`]) rather than overflow.
    pub idle_timeout: Option<Duration>,
    /// How long to keep flushing pending echoes after SIGINT/SIGTERM. Any
    /// value is safe, as for `idle_timeout`.
    pub shutdown_timeout: Duration,
    /// Reactors, each on its own thread with its own listeners
    /// (SO_REUSEPORT; Unix and inherited sockets are shared instead), 1 to
    /// [`MAX_THREADS`]; reactor model only. See [`crate::supervisor`].
    pub threads: usize,
    /// Pin reactor *i* to the *i*-th allowed CPU (modulo their number);
    /// reactor model only.
    pub pin: bool,
    /// `--unix-mode`: permission bits set on the socket files of `--listen
    /// unix:` listeners; `None` leaves what the umask gave.
    pub unix_mode: Option<u32>,
    /// `--metrics`: serve Prometheus metrics over HTTP here (`GET
    /// /metrics`); reactor model only. See [`crate::metrics`].
    pub metrics: Option<SocketAddr>,
    /// `--splice`: when the reactor echoes a TCP connection through a pipe
    /// with `splice(2)` instead of copying (Linux; see
    /// [`crate::reactor::splice`]).
    pub splice: Splice,
    /// `--uring-buffers`: buffers in the uring model's provided-buffer
    /// ring, shared by every connection; `None` for the default
    /// (see `crate::models::uring`). A power of two, 1 to 32768.
    pub uring_buffers: Option<u16>,
    /// `--listen` was given on the command line, not defaulted: under
    /// socket activation, where it is ignored, that is worth a warning.
    pub listen_given: bool,
}

/// Smallest `--max-buffer` accepted: below this the per-event syscall cost
/// dominates and nothing is gained.
pub const MIN_MAX_BUFFER: usize = 512;
/// Largest `--max-buffer` accepted: one buffer of this size per busy
/// connection is already a lot of memory.
pub const MAX_MAX_BUFFER: usize = 64 << 20;
/// Longest `--idle-timeout` and `--shutdown-timeout` the command line
/// accepts. A year is "never" for a connection or a drain, and a value
/// far beyond it is a typo (`500000000000y`), not a wish; the engine would
/// cope (deadlines saturate), but the user is told at once instead.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(365 * 24 * 60 * 60);
/// [`MAX_TIMEOUT`] as the command line spells it.
pub const MAX_TIMEOUT_TEXT: &str = "365d";
/// Most `--threads`: far more reactors than any machine has cores is a
/// typo, and each one costs a thread, an epoll instance and a listener
/// per address.
pub const MAX_THREADS: usize = 1024;

impl Config {
    /// Refuses flags that are fine alone but not together, or not here,
    /// before anything is bound: `--threads` out of range or with a model
    /// that has no reactors, `--pin` likewise or where the OS cannot pin,
    /// `--metrics` or a `--splice` choice with a model that does not serve
    /// it, `--uring-buffers` with another model than uring, `--splice
    /// always` where there is no splice. The one check
    /// [`crate::daemon::run`] makes (the command line adds "see --help"); the
    /// reason names the flag.
    pub fn check(&self) -> Result<(), String> {
        let (n, model) = (self.threads, self.model);
        if n == 0 || n > MAX_THREADS {
            return Err(format!(
                "--threads {n}: must be between 1 and {MAX_THREADS}"
            ));
        }
        if model != Model::Reactor {
            // The first given of the flags only reactors serve.
            let given = [
                (n != 1).then(|| (format!("--threads {n}"), "runs several reactors")),
                self.pin.then(|| ("--pin".to_string(), "pins its threads")),
                self.metrics
                    .map(|a| (format!("--metrics {a}"), "serves metrics")),
                (self.splice != Splice::Auto)
                    .then(|| (format!("--splice {}", self.splice.name()), "splices")),
            ];
            if let Some((flag, what)) = given.into_iter().flatten().next() {
                let model = model.name();
                return Err(format!(
                    "{flag}: only the reactor model {what}, not --model {model}"
                ));
            }
        }
        if let (Some(n), true) = (self.uring_buffers, model != Model::Uring) {
            return Err(format!(
                "--uring-buffers {n}: only the uring model has a buffer ring, not --model {}",
                model.name()
            ));
        }
        if self.pin && !crate::affinity::SUPPORTED {
            return Err("--pin: this OS cannot pin threads to CPUs (Linux and FreeBSD can)".into());
        }
        if self.splice == Splice::Always && !Splice::SUPPORTED {
            return Err("--splice always: splice(2) is Linux only".to_string());
        }
        Ok(())
    }
}

impl Default for Config {
    fn default() -> Config {
        Config {
            model: Model::Reactor,
            listen: vec![ListenAddr::Tcp(SocketAddr::from(([127, 0, 0, 1], 7007)))],
            backlog: 1024,
            nodelay: true,
            max_conns: None,
            max_buffer: 64 << 10,
            idle_timeout: None,
            shutdown_timeout: Duration::from_secs(5),
            threads: 1,
            pin: false,
            unix_mode: None,
            metrics: None,
            splice: Splice::Auto,
            uring_buffers: None,
            listen_given: false,
        }
    }
}
