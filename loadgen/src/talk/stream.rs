//! Stream targets (TCP, `unix:`): steps 2 and 3 of the conversation, one
//! thread each way.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::bail;
use echod::net::Stream;

/// Bytes moved per read on a stream.
const CHUNK: usize = 64 * 1024;

pub(super) fn connect_tcp(
    addrs: &[SocketAddr],
    timeout: Duration,
    shown: &str,
) -> anyhow::Result<TcpStream> {
    let mut last = None;
    for addr in addrs {
        match TcpStream::connect_timeout(addr, timeout) {
            Ok(s) => return Ok(s),
            Err(e) => last = Some(e),
        }
    }
    let why = last.map_or_else(|| "resolves to no address".to_string(), |e| e.to_string());
    bail!("cannot connect to {shown}: {why}")
}

/// How far the input side has got: what the output side needs to judge the
/// server's close.
enum Input {
    Running,
    Ended { sent: u64 },
    Failed(String),
}

/// Steps 2 and 3 of a stream conversation.
pub(super) fn converse(sock: Stream, shown: &str) -> anyhow::Result<()> {
    let state = Arc::new(Mutex::new(Input::Running));
    let writer = sock.try_clone()?;
    let (input, peer) = (Arc::clone(&state), shown.to_string());
    // Never joined: when the server closes first, this thread may be blocked
    // on a terminal, and returning from `main` ends it.
    std::thread::spawn(move || send_input(writer, &input, &peer));
    let received = print_replies(sock, shown)?;
    let state = state.lock().unwrap_or_else(|p| p.into_inner());
    match &*state {
        Input::Ended { sent } if received >= *sent => Ok(()),
        Input::Ended { sent } => bail!(
            "{shown}: the server closed the connection after echoing {received} of {sent} bytes"
        ),
        Input::Failed(why) => bail!("{why}"),
        Input::Running => bail!(
            "{shown}: the server closed the connection before the end of input \
             ({received} bytes came back)"
        ),
    }
}

fn send_input(mut sock: Stream, state: &Mutex<Input>, shown: &str) {
    let set = |s: Input| *state.lock().unwrap_or_else(|p| p.into_inner()) = s;
    let mut stdin = io::stdin().lock();
    let mut buf = vec![0u8; CHUNK];
    let mut sent = 0u64;
    let failure = loop {
        let n = match stdin.read(&mut buf) {
            Ok(0) => {
                // Recorded before the FIN leaves, so a server answering it
                // with its own close is never taken for an early close.
                set(Input::Ended { sent });
                let _ = sock.shutdown(Shutdown::Write);
                return;
            }
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => break format!("reading standard input: {e}"),
        };
        if let Err(e) = sock.write_all(&buf[..n]) {
            break format!("sending to {shown}: {e}");
        }
        sent += n as u64;
    };
    set(Input::Failed(failure));
    // Wakes the reading side, which reports the failure.
    let _ = sock.shutdown(Shutdown::Both);
}

/// Copies the socket to stdout until the server closes; returns the bytes
/// that came back.
fn print_replies(mut sock: Stream, shown: &str) -> anyhow::Result<u64> {
    let mut out = io::stdout().lock();
    let mut buf = vec![0u8; CHUNK];
    let mut received = 0u64;
    loop {
        let n = match sock.read(&mut buf) {
            Ok(0) => return Ok(received),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => bail!("{shown}: connection lost after {received} bytes came back: {e}"),
        };
        out.write_all(&buf[..n])?;
        out.flush()?;
        received += n as u64;
    }
}
