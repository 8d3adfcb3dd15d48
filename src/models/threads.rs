//! Thread-per-client: the tutorial's multi-task server.
//!
//! The accepting thread hands every connection to a new thread that runs a
//! blocking read/write loop. Simple and fast at low connection counts; each
//! client costs a thread (stack, scheduling), which is what the comparison
//! with the reactor is about.

use super::blocking::{configure, echo, Server};
use crate::config::Config;
use crate::error::{Error, Stopped};
use crate::listen::Bound;

/// Stack per client thread: the echo loop needs little, and thousands of
/// threads should not reserve 2 MiB each.
const STACK: usize = 128 << 10;

/// Serves until SIGINT/SIGTERM, then waits up to `--shutdown-timeout` for
/// the clients to finish their echoes.
pub fn run(config: &Config, listeners: Vec<Bound>) -> Result<Stopped, Error> {
    let mut server = Server::start(config, listeners)?;
    let mut spawn_failed = false;
    while let Some(mut stream) = server.next_client()? {
        // Over --max-conns (or shutting down): dropped, so closed at once.
        let Some(member) = server.clients.join(config.max_conns) else {
            continue;
        };
        if configure(&stream, config).is_err() {
            continue;
        }
        let size = config.max_buffer;
        let idle = config.idle_timeout;
        let spawned = std::thread::Builder::new()
            .name("echod-client".into())
            .stack_size(STACK)
            .spawn(move || {
                let mut buf = vec![0u8; size];
                // Errors are the peer's: this connection ends, no other.
                crate::log::accepted(member.id(), || stream.peer());
                member.tally().accepted();
                let served = echo(&mut stream, &mut buf, &member, idle);
                member.tally().closed(&served);
                crate::log::closed(member.id(), &served);
                drop(member); // leave the registry before the fd closes
                drop(stream);
            });
        match spawned {
            Ok(_) => spawn_failed = false,
            Err(e) => {
                // Out of threads or memory: this client is refused (its
                // closure, with the stream, is dropped) and the others go on.
                if !spawn_failed {
                    crate::log::line(format_args!(
                        "cannot start a client thread: {e}; closing new connections at once \
                         until a thread can be started (limits: ulimit -u, TasksMax= under systemd, memory)"
                    ));
                }
                spawn_failed = true;
            }
        }
    }
    Ok(server.finish())
}
