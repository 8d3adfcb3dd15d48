//! Thread-per-client: the tutorial's multi-task server.
//!
//! The accepting thread hands every connection to a new thread that runs a
//! blocking read/write loop. Simple and fast at low connection counts; each
//! client costs a thread (stack, scheduling), which is what the comparison
//! with the reactor is about.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;

use super::blocking::{configure, echo, watch_signals, Acceptor, Clients};
use crate::listen::Bound;
use crate::{Config, Error, Stopped};

/// Stack per client thread: the echo loop needs little, and thousands of
/// threads should not reserve 2 MiB each.
const STACK: usize = 128 << 10;

/// Serves until SIGINT/SIGTERM, then waits up to `--shutdown-timeout` for
/// the clients to finish their echoes.
pub fn run(config: &Config, listeners: Vec<Bound>) -> Result<Stopped, Error> {
    let addrs: Vec<_> = listeners.iter().map(|b| b.addr).collect();
    let mut acceptor = Acceptor::new(listeners)
        .map_err(|e| Error::Startup(format!("cannot start the acceptor: {e}")))?;
    let clients = Arc::new(Clients::default());
    let stop = watch_signals(config, acceptor.waker(), clients.clone())?;
    crate::listen::announce(&addrs);
    serve(config, &mut acceptor, &clients, &stop)?;
    clients.wait_empty(Instant::now() + config.shutdown_timeout);
    Ok(Stopped::Drained)
}

fn serve(
    config: &Config,
    acceptor: &mut Acceptor,
    clients: &Arc<Clients>,
    stop: &AtomicBool,
) -> Result<(), Error> {
    let mut spawn_failed = false;
    while let Some(mut stream) = acceptor
        .next(stop)
        .map_err(|e| Error::Runtime(format!("accept loop failed: {e}")))?
    {
        // Over --max-conns (or shutting down): dropped, so closed at once.
        let Some(member) = clients.join(&stream, config.max_conns) else {
            continue;
        };
        if configure(&stream, config).is_err() {
            continue;
        }
        let size = config.max_buffer;
        let spawned = std::thread::Builder::new()
            .name("echod-client".into())
            .stack_size(STACK)
            .spawn(move || {
                let mut buf = vec![0u8; size];
                // Errors are the peer's: this connection ends, no other.
                let _ = echo(&mut stream, &mut buf);
                drop(member); // leave the registry before the fd closes
                drop(stream);
            });
        match spawned {
            Ok(_) => spawn_failed = false,
            Err(e) => {
                // Out of threads or memory: this client is refused (its
                // closure, with the stream, is dropped) and the others go on.
                if !spawn_failed {
                    eprintln!("echod: cannot start a client thread: {e}; refusing connections");
                }
                spawn_failed = true;
            }
        }
    }
    Ok(())
}
