//! Byte-exact echo, the whole contract of RFC 862: every byte a client
//! sends comes back, in order, on the same connection, for every model,
//! every size and every way of chunking it.

use crate::util;

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::thread;

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, TestCaseError, TestRunner};

use util::{connect, echo_all, ipv6_or_skip, pattern, per_model, ping, Server, MODELS};

/// Sizes around the interesting edges: one byte, less than a segment, one
/// page, each side of the default 64 KiB `--max-buffer` and read budget,
/// and a few MiB (odd, so nothing lines up with a buffer).
const SIZES: [usize; 9] = [1, 2, 100, 4096, 65535, 65536, 65537, 200_003, (3 << 20) + 7];

/// The reactor with every read a splice through a pipe (Linux; see
/// src/reactor/splice.rs). `--splice auto`, the default, splices only bulk
/// flows, which the large sizes here are.
#[cfg(target_os = "linux")]
const SPLICING: &str = "reactor --splice always";

fn start(model: &str) -> Server {
    Server::model(model)
}

/// Index of the first byte where `got` and `want` differ, for messages
/// that name an offset instead of dumping megabytes.
fn first_difference(got: &[u8], want: &[u8]) -> Option<usize> {
    got.iter()
        .zip(want)
        .position(|(a, b)| a != b)
        .or((got.len() != want.len()).then(|| got.len().min(want.len())))
}

fn assert_echo(got: &[u8], want: &[u8], what: &str) {
    if let Some(at) = first_difference(got, want) {
        panic!(
            "{what}: echo of {} bytes came back as {} bytes, first difference at offset {at}",
            want.len(),
            got.len()
        );
    }
}

/// Echoes every size in [`SIZES`] on a connection of its own; writes are
/// 64 KiB + 1 so they straddle the server's buffer boundaries.
fn echoes_every_size(model: &str) {
    let server = start(model);
    for (i, &size) in SIZES.iter().enumerate() {
        let data = pattern(i as u64 + 1, size);
        let got = echo_all(connect(server.addr()), data.clone(), 65537);
        assert_echo(&got, &data, &format!("{model}, {size} bytes"));
    }
}

per_model!(echoes_every_size:
    reactor, #[cfg(target_os = "linux")] reactor_splicing = SPLICING, threads, iterative, tokio,
    #[cfg(target_os = "linux")] uring,
    #[cfg(target_os = "linux")] uring_buffers_1 = "uring --uring-buffers 1");

fn utf8_text_comes_back_unchanged(model: &str) {
    // Multi-byte characters of every length (2, 3 and 4 bytes); the long
    // text crosses 64 KiB so some characters straddle a buffer boundary.
    let line = "héllo wörld — 你好, мир! 🦀 ∑ ok\n";
    let short = line.to_string();
    let long = line.repeat(65536 / line.len() + 3);
    let server = start(model);
    for text in [&short, &long] {
        // An odd write size splits characters across writes.
        let got = echo_all(connect(server.addr()), text.as_bytes().to_vec(), 4093);
        let got =
            String::from_utf8(got).unwrap_or_else(|e| panic!("{model}: echo is not UTF-8: {e}"));
        assert!(
            got == *text,
            "{model}: UTF-8 text of {} bytes differs",
            text.len()
        );
    }
}

per_model!(utf8_text_comes_back_unchanged: reactor, threads, iterative, tokio,
    #[cfg(target_os = "linux")] uring);

/// An endless, cheap, position-dependent byte stream for transfers too big
/// to hold: laps of one base pattern, each lap's first 8 bytes replaced by
/// its number, so bytes misplaced by a whole lap are caught too. The lap
/// length is odd so laps never line up with buffer sizes.
struct Stream {
    base: Vec<u8>,
}

impl Stream {
    const LAP: usize = (1 << 20) + 13;

    fn new(seed: u64) -> Stream {
        Stream {
            base: pattern(seed, Stream::LAP),
        }
    }

    /// Fills `out` with the stream's bytes at offsets `at..at + out.len()`.
    fn fill(&self, mut at: u64, out: &mut [u8]) {
        let lap_len = self.base.len() as u64;
        let mut done = 0;
        while done < out.len() {
            let stamp = (at / lap_len).to_le_bytes();
            let off = (at % lap_len) as usize;
            let n = (out.len() - done).min(self.base.len() - off);
            let dst = &mut out[done..done + n];
            dst.copy_from_slice(&self.base[off..off + n]);
            for (i, b) in stamp.iter().enumerate().skip(off).take(n) {
                dst[i - off] = *b;
            }
            done += n;
            at += n as u64;
        }
    }
}

/// Streams `total` bytes through `addr` from a writer thread while this
/// thread reads and verifies incrementally: memory stays at a few buffers
/// however large the transfer.
fn stream_echo(addr: SocketAddr, total: u64, seed: u64) {
    const WRITE: usize = 131_071;
    const READ: usize = 256 << 10;
    let stream = Stream::new(seed);
    let mut r = connect(addr);
    let mut w = r.try_clone().unwrap();
    let outcome = thread::scope(|sc| {
        let writer = sc.spawn(|| {
            let mut buf = vec![0; WRITE];
            let mut at = 0u64;
            while at < total {
                let n = (total - at).min(WRITE as u64) as usize;
                stream.fill(at, &mut buf[..n]);
                w.write_all(&buf[..n])?;
                at += n as u64;
            }
            w.shutdown(Shutdown::Write)
        });
        let (mut got, mut want) = (vec![0; READ], vec![0; READ]);
        let mut at = 0u64;
        let verdict = loop {
            let n = match r.read(&mut got) {
                Ok(0) => break Ok(()),
                Ok(n) => n,
                Err(e) => break Err(format!("read failed after {at} bytes: {e}")),
            };
            if at + n as u64 > total {
                break Err(format!("{} bytes echoed for {total} sent", at + n as u64));
            }
            stream.fill(at, &mut want[..n]);
            if let Some(i) = first_difference(&got[..n], &want[..n]) {
                break Err(format!("echo differs at offset {}", at + i as u64));
            }
            at += n as u64;
        };
        let verdict = verdict.and_then(|()| {
            (at == total)
                .then_some(())
                .ok_or(format!("EOF after {at} of {total} bytes"))
        });
        if verdict.is_err() {
            // Unblock the writer so the scope can end and the test report.
            let _ = r.shutdown(Shutdown::Both);
        }
        let written = writer.join().expect("writer panicked");
        verdict.and_then(|()| written.map_err(|e| format!("write failed: {e}")))
    });
    if let Err(e) = outcome {
        panic!("streaming {total} bytes through {addr}: {e}");
    }
}

/// `mib` MiB streamed through one connection (the seed is the size, so
/// each model gets its own bytes).
fn streams_byte_exact((model, mib): (&str, u64)) {
    let server = start(model);
    stream_echo(server.addr(), mib << 20, mib);
}

per_model!(streams_byte_exact:
    reactor = ("reactor", 256), threads = ("threads", 32), tokio = ("tokio", 64),
    #[cfg(target_os = "linux")] uring = ("uring", 256));

/// A chunk size for the property test: mostly tiny or around a segment,
/// sometimes larger than the server's 64 KiB buffer.
fn chunk() -> impl Strategy<Value = usize> {
    prop_oneof![1usize..=16, 17usize..=1500, 1501usize..=80_000]
}

/// Sends `data` in writes cycling through `writes` and reads it back in
/// reads cycling through `reads`, concurrently, on a fresh connection.
fn echo_chunked(
    addr: SocketAddr,
    data: &[u8],
    writes: &[usize],
    reads: &[usize],
) -> std::io::Result<Vec<u8>> {
    let mut r = connect(addr);
    let mut w = r.try_clone()?;
    thread::scope(|sc| {
        let writer = sc.spawn(move || {
            let mut rest = data;
            for &n in writes.iter().cycle() {
                if rest.is_empty() {
                    break;
                }
                let (now, later) = rest.split_at(n.min(rest.len()));
                w.write_all(now)?;
                rest = later;
            }
            w.shutdown(Shutdown::Write)
        });
        let mut got = Vec::with_capacity(data.len());
        let mut buf = vec![0; 80_000];
        let read = (|| {
            for &n in reads.iter().cycle() {
                match r.read(&mut buf[..n])? {
                    0 => return Ok(()),
                    k => got.extend_from_slice(&buf[..k]),
                }
                if got.len() > data.len() {
                    return Ok(()); // too much: the caller's comparison fails
                }
            }
            Ok(())
        })();
        if read.is_err() {
            let _ = r.shutdown(Shutdown::Both);
        }
        writer.join().expect("writer panicked")?;
        read.map(|()| got)
    })
}

per_model!(random_chunkings_echo_byte_exact: reactor = ("reactor", 64),
    #[cfg(target_os = "linux")] reactor_splicing = (SPLICING, 64), tokio = ("tokio", 32),
    #[cfg(target_os = "linux")] uring = ("uring", 64));

/// `cases` random payloads, each written and read back in random chunks.
fn random_chunkings_echo_byte_exact((model, cases): (&str, u32)) {
    // One server for the whole run; each case gets its own connection.
    let server = start(model);
    let mut runner = TestRunner::new(ProptestConfig {
        cases,
        // Never write a regressions file into the tree.
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    let strategy = (
        0usize..=256 << 10,
        any::<u64>(),
        vec(chunk(), 1..24),
        vec(chunk(), 1..24),
    );
    let result = runner.run(&strategy, |(len, seed, writes, reads)| {
        let data = pattern(seed, len);
        let got = echo_chunked(server.addr(), &data, &writes, &reads)
            .map_err(|e| TestCaseError::fail(format!("i/o: {e}")))?;
        prop_assert!(
            first_difference(&got, &data).is_none(),
            "{} bytes came back as {}, first difference at {:?}",
            data.len(),
            got.len(),
            first_difference(&got, &data)
        );
        Ok(())
    });
    if let Err(e) = result {
        panic!("{model}: {e}");
    }
}

fn many_sequential_ping_pongs_share_one_connection(model: &str) {
    let server = start(model);
    let mut s = connect(server.addr());
    for i in 0..1000u64 {
        // Distinct and of varying length, so a reply left over from
        // an earlier round (or a short one) cannot pass.
        let mut msg = format!("{model} #{i}:").into_bytes();
        msg.extend(pattern(i, 1 + (i as usize * 37) % 700));
        ping(&mut s, &msg);
    }
}

per_model!(many_sequential_ping_pongs_share_one_connection: reactor, threads, iterative, tokio,
    #[cfg(target_os = "linux")] uring);

#[test]
fn ipv6_loopback_listener_echoes() {
    if !ipv6_or_skip("echo::ipv6_loopback_listener_echoes") {
        return;
    }
    for model in MODELS {
        let server = Server::start(&["--model", model, "--listen", "[::1]:0"]);
        assert!(server.addr().is_ipv6(), "{model}: got {}", server.addr());
        let data = pattern(6, 100_000);
        let got = echo_all(connect(server.addr()), data.clone(), 8192);
        assert_echo(&got, &data, &format!("{model} over ::1"));
    }
}

fn two_listen_addresses_both_serve(model: &str) {
    let server = Server::model(&format!(
        "{model} --listen 127.0.0.1:0 --listen 127.0.0.1:0"
    ));
    let addrs = server.addrs().to_vec();
    assert_eq!(addrs.len(), 2, "{model}: {addrs:?}");
    assert_ne!(addrs[0], addrs[1], "{model}: one port for two listeners");
    for (i, &addr) in addrs.iter().enumerate() {
        let mut s = connect(addr);
        ping(&mut s, format!("{model} via listener {i}").as_bytes());
    }
    if model != "iterative" {
        // Both at once, interleaved: neither listener waits on the other.
        let mut a: TcpStream = connect(addrs[0]);
        let mut b: TcpStream = connect(addrs[1]);
        for i in 0..50 {
            ping(&mut a, format!("a{i}").as_bytes());
            ping(&mut b, format!("b{i}").as_bytes());
        }
    }
}

per_model!(two_listen_addresses_both_serve: reactor, threads, iterative, tokio,
    #[cfg(target_os = "linux")] uring);
