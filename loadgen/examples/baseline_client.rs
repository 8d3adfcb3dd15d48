//! The simplest fast echo client there is, as a yardstick for `loadgen`.
//!
//! One thread, one `mio::Poll`, N non-blocking connections, one request in
//! flight per connection, no verification, no histograms: it counts replies
//! and nothing else. `loadgen run` does much more per request; the claim
//! "the generator is never the bottleneck" means it must still drive at least
//! as many requests/s as this against the same server.
//! `loadgen/benches/generator_overhead.sh` runs the two alternately.
//!
//! ```text
//! cargo run --release -p loadgen --example baseline_client -- ADDR CONNS SIZE WARMUP_S DURATION_S
//! ```
//! Prints one line: `requests_per_sec N`.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

struct Conn {
    stream: TcpStream,
    /// Bytes of the current reply still to come.
    pending: usize,
    /// Bytes of the current request still to write.
    unwritten: usize,
}

fn main() -> io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 6 {
        eprintln!("usage: baseline_client ADDR CONNS SIZE WARMUP_S DURATION_S");
        std::process::exit(2);
    }
    let addr: SocketAddr = args[1].parse().expect("ADDR");
    let conns: usize = args[2].parse().expect("CONNS");
    let size: usize = args[3].parse().expect("SIZE");
    let warmup = Duration::from_secs_f64(args[4].parse().expect("WARMUP_S"));
    let duration = Duration::from_secs_f64(args[5].parse().expect("DURATION_S"));

    let mut poll = Poll::new()?;
    let mut events = Events::with_capacity(1024);
    let request = vec![0xA5u8; size];
    let mut scratch = vec![0u8; 64 * 1024];
    let mut all = Vec::with_capacity(conns);
    for i in 0..conns {
        let std_stream = std::net::TcpStream::connect(addr)?;
        std_stream.set_nodelay(true)?;
        std_stream.set_nonblocking(true)?;
        let mut stream = TcpStream::from_std(std_stream);
        poll.registry().register(
            &mut stream,
            Token(i),
            Interest::READABLE | Interest::WRITABLE,
        )?;
        all.push(Conn {
            stream,
            pending: size,
            unwritten: size,
        });
    }
    let start = Instant::now();
    let (measure_from, end) = (start + warmup, start + warmup + duration);
    let mut counted: u64 = 0;
    for c in &mut all {
        write_some(c, &request)?;
    }
    loop {
        let now = Instant::now();
        if now >= end {
            break;
        }
        poll.poll(&mut events, Some(end - now))?;
        let now = Instant::now();
        for ev in events.iter() {
            let c = &mut all[ev.token().0];
            if ev.is_readable() {
                loop {
                    match c.stream.read(&mut scratch) {
                        Ok(0) => return Err(io::Error::other("server closed a connection")),
                        Ok(n) => {
                            let mut n = n;
                            while n >= c.pending {
                                n -= c.pending;
                                c.pending = size;
                                if now >= measure_from {
                                    counted += 1;
                                }
                                c.unwritten = size;
                            }
                            c.pending -= n;
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(e) => return Err(e),
                    }
                }
            }
            write_some(c, &request)?;
        }
    }
    println!(
        "requests_per_sec {:.0}",
        counted as f64 / duration.as_secs_f64()
    );
    Ok(())
}

fn write_some(c: &mut Conn, request: &[u8]) -> io::Result<()> {
    while c.unwritten > 0 {
        let from = request.len() - c.unwritten;
        match c.stream.write(&request[from..]) {
            Ok(n) => c.unwritten -= n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
