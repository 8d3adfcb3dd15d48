//! One client at a time: the tutorial's single-task server.
//!
//! While one client is served, the next ones wait in the listen backlog:
//! their connects succeed (the kernel completes the handshake) but nothing
//! is echoed until every client before them has closed. This model exists
//! to show exactly that.

use super::blocking::{configure, echo, Server};
use crate::config::Config;
use crate::error::{Error, Stopped};
use crate::listen::Bound;

/// Serves clients one after another until SIGINT/SIGTERM.
pub fn run(config: &Config, listeners: Vec<Bound>) -> Result<Stopped, Error> {
    let mut server = Server::start(config, listeners)?;
    let mut buf = vec![0u8; config.max_buffer];
    while let Some(mut stream) = server.next_client()? {
        let Some(member) = server.clients.join(None) else {
            continue;
        };
        if configure(&stream, config).is_ok() {
            crate::log::accepted(member.id(), || stream.peer());
            member.tally().accepted();
            let served = echo(&mut stream, &mut buf, &member, config.idle_timeout);
            member.tally().closed(&served);
            crate::log::closed(member.id(), &served);
        }
        drop(member);
    }
    Ok(server.finish())
}
