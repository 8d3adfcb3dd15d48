//! Servers that are not echod: `compare --server NAME='CMD {port}'`, a
//! command loadgen starts, and `compare --target NAME=ADDR`, a server
//! already running that loadgen only connects to.
//!
//! A `--server` command is split into words like a shell would split it
//! (quotes and backslashes, no expansion: there is no shell), `{port}` and
//! `{addr}` in each word replaced by a free loopback port, and run as a
//! [`ServerProcess`] like echod: in its own process group, pinned, killed
//! by the kernel if loadgen dies (Linux, FreeBSD), its CPU and memory read
//! from its own pid. It cannot announce its address, so loadgen waits
//! until something accepts a connection there.

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{arm, drain_stderr, Keep, ServerProcess, SpawnError};
use crate::target::Target;

/// A `--server NAME=COMMAND`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerSpec {
    /// Its name in the reports.
    pub name: String,
    /// The command as typed, `{port}`/`{addr}` not yet replaced.
    pub command: String,
    /// The command split into words ([`split_command`]).
    pub words: Vec<String>,
}

/// A `--target NAME=ADDR`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TargetSpec {
    /// Its name in the reports.
    pub name: String,
    /// Where it listens (TCP or a Unix stream socket).
    pub target: Target,
}

/// `command` split into words as `sh` would split it, without expanding
/// anything: whitespace separates words; inside '…' every character is
/// literal; inside "…" a backslash escapes `"` and `\` only; elsewhere a
/// backslash makes the next character literal.
///
/// # Errors
/// An unclosed quote or a trailing backslash, in a few words.
pub fn split_command(command: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = command.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => words.extend(word.take()),
            '\'' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => w.push(c),
                        None => return Err("a ' is not closed".into()),
                    }
                }
            }
            '"' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\')) => w.push(c),
                            Some(c) => {
                                w.push('\\');
                                w.push(c);
                            }
                            None => return Err("a \" is not closed".into()),
                        },
                        Some(c) => w.push(c),
                        None => return Err("a \" is not closed".into()),
                    }
                }
            }
            '\\' => match chars.next() {
                Some(c) => word.get_or_insert_with(String::new).push(c),
                None => return Err("it ends in a backslash".into()),
            },
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    Ok(words)
}

/// A loopback port nothing listens on right now.
///
/// The port is free only until we close the socket: another process may
/// take it before the server binds it. The window is a few milliseconds
/// and the kernel hands out ephemeral ports in turn, so losing the race is
/// rare; when it happens the server fails to bind and exits (reported as
/// not listening, with its own error), or, worse, something else answers
/// there and the echo check before the first measurement refuses it.
fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// How often to try connecting while a command starts: nothing tells us
/// when it listens, so we ask.
const POLL: Duration = Duration::from_millis(20);

impl ServerProcess {
    /// Starts `spec`'s command on a free loopback port, pinned to `cpus`
    /// when given, and waits up to `wait` for it to accept a connection.
    ///
    /// # Errors
    /// [`SpawnError::External`] when it cannot be run, exits, or accepts
    /// nothing within `wait`: the reason names the address and ends with
    /// its exit status and its last stderr line.
    pub fn spawn_command(
        spec: &ServerSpec,
        cpus: Option<Vec<usize>>,
        wait: Duration,
    ) -> Result<ServerProcess, SpawnError> {
        let fail = |reason: String| SpawnError::External {
            name: spec.name.clone(),
            reason,
        };
        let port = free_port().map_err(|e| fail(format!("no free loopback port: {e}")))?;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let words: Vec<String> = spec
            .words
            .iter()
            .map(|w| {
                w.replace("{port}", &port.to_string())
                    .replace("{addr}", &addr.to_string())
            })
            .collect();
        let mut cmd = Command::new(&words[0]);
        cmd.args(&words[1..])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        arm(&mut cmd, cpus);
        let mut child = cmd
            .spawn()
            .map_err(|e| fail(format!("cannot run {}: {e}", words[0])))?;
        let stderr = Arc::new(Mutex::new(String::new()));
        let pipe = child.stderr.take().expect("stderr is piped");
        let sink = Arc::clone(&stderr);
        std::thread::spawn(move || drain_stderr(pipe, &sink, Keep::End));
        let mut server = ServerProcess {
            child,
            addr,
            stderr,
            _lifeline: None,
            group: true,
        };
        let start = Instant::now();
        loop {
            if TcpStream::connect_timeout(&addr, POLL).is_ok() {
                return Ok(server);
            }
            let exited = server.child.try_wait().ok().flatten();
            if exited.is_some() || start.elapsed() >= wait {
                let how = match exited {
                    Some(status) => format!("the command exited with {status}"),
                    None => "the command is still running".to_string(),
                };
                let how = match last_line(&server.stderr_text()) {
                    Some(line) => format!("{how}: {line}"),
                    None => how,
                };
                return Err(fail(format!(
                    "nothing listening on {addr} after {:.1}s ({how})",
                    start.elapsed().as_secs_f64()
                )));
            }
            // Nothing to wait on but the clock: a refused connect returns at
            // once, so pause between tries rather than spin.
            std::thread::sleep(POLL);
        }
    }
}

/// The last line of `text` that is not blank.
fn last_line(text: &str) -> Option<&str> {
    text.lines().map(str::trim).rfind(|l| !l.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_split_like_a_shell_without_expanding() {
        let words = split_command(r#"python3 -c "print('a b')" 'x  y' a\ b {port} $HOME"#);
        assert_eq!(
            words.unwrap(),
            [
                "python3",
                "-c",
                "print('a b')",
                "x  y",
                "a b",
                "{port}",
                "$HOME"
            ]
        );
        assert_eq!(
            split_command(r#"a "x\"y\\z\n""#).unwrap(),
            ["a", r#"x"y\z\n"#]
        );
        assert_eq!(split_command("  ''  ").unwrap(), [""]);
        assert!(split_command("a 'b").is_err());
        assert!(split_command("a \"b").is_err());
        assert!(split_command("a \\").is_err());
    }

    #[test]
    fn the_last_line_is_the_last_non_blank_one() {
        assert_eq!(last_line("a\nOSError: in use\n\n"), Some("OSError: in use"));
        assert_eq!(last_line(" \n"), None);
    }
}
