//! `loadgen check`: is this really an echo server? Run it before trusting a
//! server's numbers.
//!
//! Each check runs in its own thread against a deadline: every socket
//! operation gets the time that is left as its timeout, and the coordinator
//! stops waiting for the check when the deadline passes. A server that
//! hangs therefore fails a check; it cannot hang `check`.
//!
//! The data sent is the same verifiable payload `run` uses, so a failure can
//! say which byte differed, and whether it came from another connection.
//!
//! # Datagrams
//! A `udp:` target gets its own checks ([`datagram`]): one datagram, an
//! empty one, the largest one, boundaries kept, many sockets at once, and a
//! burst in which loss is counted, not failed. The stream-only checks
//! (chunked writes, pipelining, slow reader, half-close) have no meaning
//! for datagrams; they are listed as not applicable, not silently dropped.
//!
//! # Unix stream sockets
//! Every check runs unchanged over `unix:PATH`, with one difference: the
//! slow-reader check cannot shrink our receive buffer, because an AF_UNIX
//! stream socket queues bytes against the *sender's* buffer and ignores
//! `SO_RCVBUF`. Reading nothing at first still fills that buffer, so the
//! server's writes still come up short; only the buffer size differs.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::unix::net::UnixStream;
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use echod::net::Stream;

use crate::cli::CheckConfig;
use crate::outputs::print;
use crate::payload;
use crate::run::datagram::set_receive_buffer;
use crate::target::Target;
use crate::verify::{StreamVerifier, Verdict};

pub(crate) mod datagram;

type CheckResult = Result<String, String>;

/// A check's name and body. The body gets the target and its deadline and
/// returns a short detail on success or the reason for failure.
struct Check {
    name: &'static str,
    run: fn(&Target, Instant, u32) -> CheckResult,
}

const CHECKS: [Check; 7] = [
    Check {
        name: "byte-exact echo, 1 B .. 1 MiB",
        run: sizes,
    },
    Check {
        name: "chunked writes (1 B, 7 B, 1000 B, mixed)",
        run: chunkings,
    },
    Check {
        name: "pipelined requests",
        run: pipelined,
    },
    Check {
        name: "partial writes against a slow reader",
        run: slow_reader,
    },
    Check {
        name: "half-close: everything echoed, then EOF",
        run: half_close,
    },
    Check {
        name: "many concurrent connections",
        run: concurrent,
    },
    Check {
        name: "no bytes mixed between connections",
        run: isolation,
    },
];

/// The stream checks that mean nothing for datagrams: no byte stream to
/// chunk or pipeline, no flow control to push back, no half-close.
const STREAM_ONLY: [&str; 4] = [
    "chunked writes (1 B, 7 B, 1000 B, mixed)",
    "pipelined requests",
    "partial writes against a slow reader",
    "half-close: everything echoed, then EOF",
];

/// Runs every check that applies to `args.target` and prints a pass/fail
/// table; checks that do not apply (stream-only ones over `udp:`) are
/// listed as such. Exit status 0 only when all that apply pass.
///
/// # Errors
/// A target nothing accepts connections on: one "cannot connect" instead
/// of seven failed checks that would all say the same.
pub fn check(args: &CheckConfig) -> anyhow::Result<ExitCode> {
    let target = &args.target;
    let (checks, not_applicable): (&[Check], &[&str]) = if target.is_datagram() {
        datagram::probe(target, args.timeout)
            .map_err(|e| anyhow::anyhow!("cannot connect to {target}: {e}"))?;
        (&datagram::CHECKS, &STREAM_ONLY)
    } else {
        open(target, args.timeout)
            .map_err(|e| anyhow::anyhow!("cannot connect to {target}: {e}"))?;
        (&CHECKS, &[])
    };
    let mut out = format!(
        "checking the echo server at {target} (each check limited to {:?})\n",
        args.timeout
    );
    out.push_str(&format!(
        "{:<44}{:<8}{:>9}  detail\n",
        "check", "result", "time"
    ));
    print(&out)?;
    let mut passed = 0;
    for check in checks {
        let start = Instant::now();
        let result = run_one(check, target, args.timeout, args.connections);
        let elapsed = start.elapsed();
        let (verdict, detail) = match result {
            Ok(d) => {
                passed += 1;
                ("pass", d)
            }
            Err(e) => ("FAIL", e),
        };
        print(&format!(
            "{:<44}{:<8}{:>7}ms  {detail}\n",
            check.name,
            verdict,
            elapsed.as_millis()
        ))?;
    }
    for name in not_applicable {
        print(&format!(
            "{name:<44}{:<8}{:>9}  stream only: {target} is datagrams\n",
            "n/a", "-"
        ))?;
    }
    let skipped = if not_applicable.is_empty() {
        String::new()
    } else {
        format!(
            " ({} stream-only checks not applicable)",
            not_applicable.len()
        )
    };
    print(&format!(
        "{passed}/{} checks passed{skipped}\n",
        checks.len()
    ))?;
    Ok(if passed == checks.len() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Runs `check` against `target` in a thread of its own, given `timeout`
/// and `conns` connections where it opens several.
fn run_one(check: &Check, target: &Target, timeout: Duration, conns: u32) -> CheckResult {
    let deadline = Instant::now() + timeout;
    let (tx, rx) = mpsc::channel();
    let (run, conns, target) = (check.run, conns.max(1), target.clone());
    std::thread::spawn(move || {
        let _ = tx.send(run(&target, deadline, conns));
    });
    // A little beyond the deadline: the check's own socket timeouts
    // should end it first, with a more useful message.
    rx.recv_timeout(timeout + Duration::from_millis(500))
        .unwrap_or_else(|_| Err(format!("timed out after {timeout:?}")))
}

/// The stream checks a server passes before `compare` measures it, without
/// printing anything: all but the slow reader, whose 16 MiB would take an
/// interpreted server long, each limited to `timeout`, `conns` connections
/// at once. Stops at the first failure.
///
/// # Errors
/// `cannot connect: …`, or `failed check: NAME: why` for the first check
/// that failed.
pub fn quick(target: &Target, timeout: Duration, conns: u32) -> Result<(), String> {
    open(target, timeout).map_err(|e| format!("cannot connect to {target}: {e}"))?;
    for check in CHECKS.iter().filter(|c| !c.name.contains("slow reader")) {
        run_one(check, target, timeout, conns)
            .map_err(|e| format!("failed check: {}: {e}", check.name))?;
    }
    Ok(())
}

fn remaining(deadline: Instant) -> Result<Duration, String> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err("the check's time limit (--timeout) ran out".into());
    }
    Ok(left)
}

/// Connects within `timeout` (TCP; a Unix connect does not wait for a
/// handshake), with Nagle off so small requests are not held back: the
/// blocking socket every check talks through.
fn open(target: &Target, timeout: Duration) -> io::Result<Stream> {
    match target {
        Target::Tcp(addr) => {
            let s = TcpStream::connect_timeout(addr, timeout)?;
            s.set_nodelay(true)?;
            Ok(Stream::Tcp(s))
        }
        Target::Unix(path) => UnixStream::connect(path).map(Stream::Unix),
        // `check` runs the datagram checks for these.
        Target::Udp(_) => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "a udp: target has no stream",
        )),
    }
}

fn connect(target: &Target, deadline: Instant) -> Result<Stream, String> {
    open(target, remaining(deadline)?).map_err(|e| format!("cannot connect to {target}: {e}"))
}

/// Deterministic, checkable bytes of any length (`seed` makes streams differ).
fn pattern(seed: u32, len: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(len.max(payload::MIN_SIZE));
    payload::append(&mut v, seed, len as u64, len.max(payload::MIN_SIZE));
    v.truncate(len);
    v
}

/// Judges a piece of an echo received from the given offset: `Err` names
/// what is wrong with it.
type Judge<'a> = dyn FnMut(usize, &[u8]) -> Result<(), String> + 'a;

/// Reads exactly `buf.len()` bytes before `deadline`, handing each piece
/// to `judge(offset, piece)` as it arrives; the first error `judge` returns
/// ends the read with that error.
///
/// Judging on arrival is the point: a server that answers with a short
/// wrong reply (an error banner) and then waits or closes must be reported
/// as sending wrong bytes, not as timing out or closing early.
fn read_judged(
    s: &mut Stream,
    buf: &mut [u8],
    deadline: Instant,
    judge: &mut Judge,
) -> Result<(), String> {
    let mut got = 0;
    while got < buf.len() {
        s.set_read_timeout(Some(
            remaining(deadline).map_err(|_| timed_out(got, buf.len()))?,
        ))
        .map_err(|e| e.to_string())?;
        match s.read(&mut buf[got..]) {
            Ok(0) => {
                return Err(format!(
                    "server closed the connection after {got} of {} bytes",
                    buf.len()
                ))
            }
            Ok(n) => {
                judge(got, &buf[got..got + n])?;
                got += n;
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Err(timed_out(got, buf.len()))
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                return Err(format!(
                    "read failed after {got} of {} bytes: {e}",
                    buf.len()
                ))
            }
        }
    }
    Ok(())
}

/// Reads the echo of `sent` into `buf` (of the same length) before
/// `deadline`, failing at the first byte that differs.
fn read_exact_by(
    s: &mut Stream,
    buf: &mut [u8],
    sent: &[u8],
    deadline: Instant,
) -> Result<(), String> {
    read_judged(s, buf, deadline, &mut |at, piece| {
        compare_at(sent, at, piece)
    })
}

fn timed_out(got: usize, want: usize) -> String {
    format!("timed out with {got} of {want} bytes echoed")
}

fn write_all_by(s: &mut Stream, data: &[u8], deadline: Instant) -> Result<(), String> {
    s.set_write_timeout(Some(remaining(deadline)?))
        .map_err(|e| e.to_string())?;
    s.write_all(data).map_err(|e| format!("write failed: {e}"))
}

/// Compares `got`, received from byte `at` of the echo, with `sent`.
fn compare_at(sent: &[u8], at: usize, got: &[u8]) -> Result<(), String> {
    match sent[at..].iter().zip(got).position(|(a, b)| a != b) {
        None => Ok(()),
        Some(i) => Err(format!(
            "byte {} of {} differs: sent {:#04x}, got {:#04x}",
            at + i,
            sent.len(),
            sent[at + i],
            got[i]
        )),
    }
}

fn compare(sent: &[u8], got: &[u8]) -> Result<(), String> {
    compare_at(sent, 0, got)
}

/// Sends `data` in pieces of the sizes `chunks` yields (cycling) from a
/// writer thread while this thread reads the echo, so that large transfers
/// cannot deadlock on full buffers; then checks the echo byte for byte.
fn exchange(
    s: &mut Stream,
    data: &[u8],
    chunks: &[usize],
    deadline: Instant,
) -> Result<(), String> {
    let owned = data.to_vec();
    let plan = chunks.to_vec();
    echo_while_writing(s, data, deadline, move |mut w| {
        let mut at = 0;
        for size in plan.iter().cycle() {
            if at == owned.len() {
                break;
            }
            let end = (at + size).min(owned.len());
            write_all_by(&mut w, &owned[at..end], deadline)?;
            at = end;
        }
        Ok(())
    })
}

/// Runs `write` on a second handle of `s` in its own thread while this
/// thread reads back the echo of `data` and checks it, so that large
/// transfers cannot deadlock on full buffers.
fn echo_while_writing(
    s: &mut Stream,
    data: &[u8],
    deadline: Instant,
    write: impl FnOnce(Stream) -> Result<(), String> + Send + 'static,
) -> Result<(), String> {
    let w = s.try_clone().map_err(|e| e.to_string())?;
    let writer = std::thread::spawn(move || write(w));
    let mut got = vec![0u8; data.len()];
    let read = read_exact_by(s, &mut got, data, deadline);
    if read.is_err() {
        // Do not wait out the deadline in a writer the server has stopped
        // reading from: the read already has the answer.
        let _ = s.shutdown(Shutdown::Both);
    }
    let wrote = writer
        .join()
        .unwrap_or_else(|_| Err("writer thread panicked".into()));
    read?;
    wrote
}

fn sizes(target: &Target, deadline: Instant, _: u32) -> CheckResult {
    let mut s = connect(target, deadline)?;
    let sizes = [1, 2, 23, 24, 100, 1000, 1460, 4096, 65_536, 1 << 20];
    for (i, &n) in sizes.iter().enumerate() {
        let data = pattern(i as u32, n);
        exchange(&mut s, &data, &[n], deadline).map_err(|e| format!("{n}-byte message: {e}"))?;
    }
    Ok(format!("{} sizes on one connection", sizes.len()))
}

fn chunkings(target: &Target, deadline: Instant, _: u32) -> CheckResult {
    let plans: [(&str, &[usize]); 4] = [
        ("1 B", &[1]),
        ("7 B", &[7]),
        ("1000 B", &[1000]),
        ("mixed", &[1, 3000, 17, 512, 2, 9000, 64]),
    ];
    for (name, plan) in plans {
        let mut s = connect(target, deadline)?;
        let data = pattern(100 + plan.len() as u32, 16 * 1024);
        exchange(&mut s, &data, plan, deadline).map_err(|e| format!("{name} chunks: {e}"))?;
    }
    Ok("16 KiB in each chunking".into())
}

/// Sends requests back to back without waiting, then verifies the replies
/// in order with the same verifier `run` uses.
fn pipelined(target: &Target, deadline: Instant, _: u32) -> CheckResult {
    const N: u64 = 1000;
    const SIZE: usize = 64;
    let mut s = connect(target, deadline)?;
    let mut data = Vec::with_capacity(N as usize * SIZE);
    for seq in 0..N {
        payload::append(&mut data, 7, seq, SIZE);
    }
    let mut w = s.try_clone().map_err(|e| e.to_string())?;
    let writer = std::thread::spawn(move || write_all_by(&mut w, &data, deadline));
    let mut got = vec![0u8; N as usize * SIZE];
    // Replies are judged as they arrive, so bad ones are known even when
    // the stream then stops.
    let mut v = StreamVerifier::new(7, 8, SIZE);
    let mut bad = Vec::new();
    let read = read_judged(&mut s, &mut got, deadline, &mut |_, piece| {
        v.feed(piece, |seq, verdict| {
            if verdict.is_bad() {
                bad.push((seq, verdict));
            }
        });
        Ok(())
    });
    if read.is_err() {
        bad.extend(v.take_damage());
        let _ = s.shutdown(Shutdown::Both);
    }
    let wrote = writer
        .join()
        .unwrap_or_else(|_| Err("writer thread panicked".into()));
    if let Some((seq, verdict)) = bad.first() {
        let first = format!("reply {seq} of {N} was {verdict}");
        return Err(match bad.len() {
            1 => first,
            n => format!("{n} bad replies; the first, {first}"),
        });
    }
    read?;
    wrote?;
    Ok(format!("{N} x {SIZE} B in one burst, replies in order"))
}

fn slow_reader(target: &Target, deadline: Instant, _: u32) -> CheckResult {
    const TOTAL: usize = 16 << 20;
    let mut s = connect(target, deadline)?;
    // A small receive buffer makes the server's writes come up short sooner.
    // Not smaller than 64 KiB: below the loopback MSS the kernel's
    // silly-window avoidance stalls the connection for seconds, whatever the
    // server does. A Unix socket ignores SO_RCVBUF (see the module docs).
    let shrunk = matches!(s, Stream::Tcp(_));
    if shrunk {
        set_receive_buffer(&s, 64 * 1024);
    }
    let data = pattern(42, TOTAL);
    let mut w = s.try_clone().map_err(|e| e.to_string())?;
    let sent = data.clone();
    let writer = std::thread::spawn(move || write_all_by(&mut w, &sent, deadline));
    // The load pattern under test, not synchronisation: read nothing at
    // first so the server's socket buffer fills, then read in small sips.
    std::thread::sleep(Duration::from_millis(300));
    let mut got = vec![0u8; TOTAL];
    let mut at = 0;
    while at < TOTAL {
        let end = (at + 16 * 1024).min(TOTAL);
        // A wrong byte names its own position; anything else gets one.
        let mut wrong = false;
        let read = read_judged(&mut s, &mut got[at..end], deadline, &mut |off, piece| {
            compare_at(&data, at + off, piece).inspect_err(|_| wrong = true)
        });
        if let Err(e) = read {
            let _ = s.shutdown(Shutdown::Both);
            let _ = writer.join();
            return Err(if wrong {
                e
            } else {
                format!("at byte {at}: {e}")
            });
        }
        at = end;
        if at < TOTAL / 4 {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    writer
        .join()
        .unwrap_or_else(|_| Err("writer thread panicked".into()))?;
    Ok(if shrunk {
        "16 MiB through a 64 KiB receive buffer, read slowly at first"
    } else {
        "16 MiB through the socket's buffer, read slowly at first"
    }
    .into())
}

fn half_close(target: &Target, deadline: Instant, _: u32) -> CheckResult {
    const TOTAL: usize = 256 * 1024;
    let mut s = connect(target, deadline)?;
    let data = pattern(9, TOTAL);
    let sent = data.clone();
    echo_while_writing(&mut s, &data, deadline, move |mut w| {
        write_all_by(&mut w, &sent, deadline)?;
        w.shutdown(Shutdown::Write)
            .map_err(|e| format!("shutdown: {e}"))
    })?;
    // Now the server must close its side: read must return 0, not hang and
    // not produce more bytes.
    let mut extra = [0u8; 1];
    s.set_read_timeout(Some(remaining(deadline)?))
        .map_err(|e| e.to_string())?;
    match s.read(&mut extra) {
        Ok(0) => Ok("256 KiB echoed, then EOF".into()),
        Ok(_) => Err("extra bytes after the echo".into()),
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ) =>
        {
            Err("all bytes echoed but the server never closed its side after our half-close".into())
        }
        Err(e) => Err(format!("error instead of EOF after half-close: {e}")),
    }
}

fn concurrent(target: &Target, deadline: Instant, conns: u32) -> CheckResult {
    const ROUNDS: u64 = 5;
    const SIZE: usize = 128;
    // All connections are open at once before any is served.
    let mut socks = Vec::new();
    for _ in 0..conns {
        socks.push(connect(target, deadline)?);
    }
    let mut buf = vec![0u8; SIZE];
    for round in 0..ROUNDS {
        for (i, s) in socks.iter_mut().enumerate() {
            let mut req = Vec::with_capacity(SIZE);
            payload::append(&mut req, i as u32, round, SIZE);
            write_all_by(s, &req, deadline).map_err(|e| format!("connection {i}: {e}"))?;
            read_exact_by(s, &mut buf, &req, deadline)
                .map_err(|e| format!("connection {i}, round {round}: {e}"))?;
        }
    }
    Ok(format!(
        "{conns} connections open at once, {ROUNDS} round trips each"
    ))
}

/// Interleaves distinct streams over many connections, writing to all of
/// them before reading any, and checks each got only its own bytes back.
fn isolation(target: &Target, deadline: Instant, _: u32) -> CheckResult {
    const CONNS: u32 = 20;
    const ROUNDS: u64 = 20;
    const SIZE: usize = 512;
    let mut socks = Vec::new();
    for id in 0..CONNS {
        socks.push((
            connect(target, deadline)?,
            StreamVerifier::new(id, CONNS, SIZE),
        ));
    }
    let mut buf = vec![0u8; SIZE];
    for round in 0..ROUNDS {
        for (id, (s, _)) in socks.iter_mut().enumerate() {
            let mut req = Vec::with_capacity(SIZE);
            payload::append(&mut req, id as u32, round, SIZE);
            write_all_by(s, &req, deadline).map_err(|e| format!("connection {id}: {e}"))?;
        }
        for (id, (s, v)) in socks.iter_mut().enumerate() {
            // Judged as the bytes arrive (see `read_judged`).
            let mut verdict = Verdict::Intact;
            let read = read_judged(s, &mut buf, deadline, &mut |_, piece| {
                v.feed(piece, |_, d| verdict = d);
                Ok(())
            });
            if let Err(e) = read {
                match v.take_damage() {
                    Some((_, d)) => verdict = d,
                    None if verdict.is_bad() => {}
                    None => return Err(format!("connection {id}: {e}")),
                }
            }
            match verdict {
                Verdict::Intact => {}
                Verdict::Foreign { got } => {
                    return Err(format!(
                        "connection {id} received bytes sent on connection {got}"
                    ))
                }
                other => {
                    return Err(format!(
                        "connection {id}, round {round}: the reply was {other}"
                    ))
                }
            }
        }
    }
    Ok(format!(
        "{CONNS} interleaved streams, each got only its own bytes"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Regression: a check that ran out of time between two steps said only
    // "deadline passed", naming neither the limit nor the flag that sets it.
    #[test]
    fn a_spent_time_limit_names_its_flag() {
        let err = remaining(Instant::now()).unwrap_err();
        assert_eq!(err, "the check's time limit (--timeout) ran out");
    }
}
