//! One echo round trip per model, over loopback, in one process.
//!
//!     cargo bench --bench echo_round_trip
//!
//! Each model serves on `127.0.0.1:0` from a background thread; one blocking
//! client (TCP_NODELAY) per model writes a message and reads it all back,
//! one at a time (ping-pong, depth 1). That is latency, not throughput: a
//! single connection never lets a model show how it scales, which is what
//! `loadgen` is for. The server's "listening on" lines go to stdout.
//!
//! # What the numbers include
//! Client and server share the machine (and, on a 2-core VM, its cores), so
//! a round trip is the client's syscalls, two loopback hops and the
//! server's wake-up, read and write. Differences between models are the
//! server's share; compare them within one run, not across machines.
//!
//! # Signals
//! Every model installs its own SIGINT/SIGTERM handling, so Ctrl-C reaches
//! the servers instead of killing the process: the first server to stop
//! ends the whole bench (see [`serve`]).

use std::hint::black_box;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use echod::{Config, Error, Model, Stopped};

/// Every model this build can serve with. Models that later join
/// `echod::Model` get a line here and an arm in [`run_model`].
const MODELS: &[Model] = &[
    Model::Reactor,
    Model::Threads,
    Model::Iterative,
    #[cfg(feature = "tokio")]
    Model::Tokio,
    #[cfg(all(feature = "uring", target_os = "linux"))]
    Model::Uring,
];

const SIZES: [usize; 2] = [64, 4 << 10];

/// The same dispatch as `echod::run`, on listeners bound here so that the
/// port is known before the server blocks.
fn run_model(config: &Config, listeners: Vec<echod::listen::Bound>) -> Result<Stopped, Error> {
    match config.model {
        Model::Reactor => echod::reactor::run(config, listeners, None, || {}),
        Model::Threads => echod::models::threads::run(config, listeners),
        Model::Iterative => echod::models::iterative::run(config, listeners),
        #[cfg(feature = "tokio")]
        Model::Tokio => echod::models::tokio::run(config, listeners),
        #[cfg(not(feature = "tokio"))]
        Model::Tokio => unreachable!("not in MODELS without the `tokio` feature"),
        #[cfg(all(feature = "uring", target_os = "linux"))]
        Model::Uring => echod::models::uring::run(config, listeners),
        #[cfg(not(all(feature = "uring", target_os = "linux")))]
        Model::Uring => unreachable!("not in MODELS without the `uring` feature, or off Linux"),
    }
}

/// Starts `model` on an ephemeral loopback port and returns the port. The
/// listener is bound before this returns, so a client may connect at once;
/// the kernel queues it until the model accepts.
///
/// The server never returns while the bench runs. If it does, a signal
/// arrived (or it failed): the process exits then, since the other servers
/// caught the same signal and the measurements would only fail on.
fn serve(model: Model) -> SocketAddr {
    let config = Config {
        model,
        listen: vec![echod::ListenAddr::Tcp(SocketAddr::from((
            [127, 0, 0, 1],
            0,
        )))],
        // Ctrl-C should end the bench promptly, not after a 5 s drain.
        shutdown_timeout: Duration::from_millis(100),
        ..Config::default()
    };
    let listeners = echod::listen::bind_all(&config).expect("bind 127.0.0.1:0");
    let addr = listeners[0].addr.ip_addr().expect("a TCP listener");
    thread::Builder::new()
        .name(model.name().into())
        .spawn(move || {
            let outcome = run_model(&config, listeners);
            eprintln!(
                "{}: server stopped ({outcome:?}); ending the bench",
                model.name()
            );
            // A bench cut short did not succeed, even when the server
            // drained cleanly.
            std::process::exit(match outcome {
                Ok(Stopped::Forced(sig)) => 128 + sig,
                Ok(Stopped::Drained) | Err(_) => 1,
            });
        })
        .expect("spawn server thread");
    addr
}

/// A blocking ping-pong client with one message of a fixed size.
struct Client {
    stream: TcpStream,
    message: Vec<u8>,
    reply: Vec<u8>,
}

impl Client {
    fn connect(addr: SocketAddr, size: usize) -> Client {
        let stream = TcpStream::connect(addr).expect("connect to the model");
        stream.set_nodelay(true).expect("TCP_NODELAY");
        // A model that stops echoing should fail the bench, not hang it.
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("read timeout");
        let message = (0..size).map(|i| (i * 7 + 1) as u8).collect();
        let mut client = Client {
            stream,
            message,
            reply: vec![0; size],
        };
        // Checked once, outside the measurement: the timed loop only
        // counts bytes, so it must be known to be timing a real echo.
        client.round_trip();
        assert_eq!(client.reply, client.message, "{addr} echoed other bytes");
        client
    }

    fn round_trip(&mut self) {
        self.stream.write_all(&self.message).expect("send");
        self.stream.read_exact(&mut self.reply).expect("echo");
    }
}

fn round_trip(c: &mut Criterion) {
    let servers: Vec<(Model, SocketAddr)> = MODELS.iter().map(|&m| (m, serve(m))).collect();
    for size in SIZES {
        // No `Throughput`: at depth 1 bytes per second is only the inverse
        // of the latency, and the latency is the number to read.
        let mut group = c.benchmark_group(format!("echo_round_trip/{size}B"));
        for &(model, addr) in &servers {
            // One connection per (size, model), closed before the next one
            // opens: the iterative model serves one client at a time.
            let mut client = Client::connect(addr, size);
            group.bench_function(model.name(), |b| {
                b.iter(|| black_box(&mut client).round_trip())
            });
        }
        group.finish();
    }
}

criterion_group!(benches, round_trip);
criterion_main!(benches);
