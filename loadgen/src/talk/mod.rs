//! `loadgen talk ADDR`: the socket tutorial's client, made to work from a
//! terminal and from a pipe alike.
//!
//! # The conversation
//!
//! Stream targets (`HOST:PORT`, `unix:PATH`):
//! 1. Connect: over TCP to each address the host resolves to in turn, each
//!    within `--timeout`.
//! 2. A thread copies standard input to the socket as it arrives, bytes and
//!    not lines (a terminal hands over a line per read, a pipe what it holds).
//!    At the end of input it shuts the socket's write side: that FIN is how
//!    the server learns we are done, and what `echo hi | nc` (OpenBSD, no
//!    `-N`) never sends, so it waits forever.
//! 3. This thread copies the socket to standard output until the server
//!    closes; each chunk is flushed at once.
//!
//! Datagram targets (`udp:HOST:PORT`):
//! 1. Bind an ephemeral port and `connect` it to the target, so only the
//!    target's replies are read and an ICMP "port unreachable" surfaces as
//!    `ECONNREFUSED`.
//! 2. A thread sends each input line (newline included) as one datagram; a
//!    longer line, or input without newlines, is cut every 65 507 bytes
//!    (the largest IPv4 UDP payload). Another prints each reply as it
//!    arrives.
//! 3. At the end of input we wait until every datagram has had a reply, or
//!    `--wait` has passed.
//!
//! # Exit status
//!
//! 0 when everything came back: the stream server closed after our end of
//! input having sent back at least as many bytes as it got, or every
//! datagram had a reply. Anything else (a connection closed before our end
//! of input or reset, replies missing after `--wait`) is one line on stderr
//! and exit 1: an echo server that drops bytes is not talking correctly.
//!
//! # What it does not do
//!
//! It does not time out a stream server that keeps the connection open
//! after our end of input (Ctrl-C stops it), and it cannot tell a lost
//! datagram from a late one: UDP may lose datagrams, so an unanswered one
//! fails the run only once `--wait` is over.

mod datagram;
mod stream;

use std::os::unix::net::UnixStream;
use std::process::ExitCode;

use anyhow::anyhow;
use echod::net::Stream;

use crate::cli::{TalkConfig, TalkTarget};

/// Runs one conversation with `cfg.target`.
pub fn talk(cfg: &TalkConfig) -> anyhow::Result<ExitCode> {
    let shown = cfg.shown.as_str();
    match &cfg.target {
        TalkTarget::Tcp(addrs) => {
            let sock = stream::connect_tcp(addrs, cfg.timeout, shown)?;
            // A typed line should not wait behind an unacknowledged one.
            let _ = sock.set_nodelay(true);
            stream::converse(Stream::Tcp(sock), shown)?;
        }
        TalkTarget::Unix(path) => {
            let sock =
                UnixStream::connect(path).map_err(|e| anyhow!("cannot connect to {shown}: {e}"))?;
            stream::converse(Stream::Unix(sock), shown)?;
        }
        TalkTarget::Udp(addr) => datagram::converse(*addr, cfg.wait, shown)?,
    }
    Ok(ExitCode::SUCCESS)
}
