//! The reactor stops reading at a short read instead of paying for the
//! `read` that would only say `WouldBlock` (src/reactor/connection.rs, "A
//! short read means drained"). These tests try to make it miss data: if
//! the shortcut ever skipped input that no later event announces, a
//! client below would wait for an echo that never comes and fail on its
//! read timeout. The uring model runs them too: its multishot recv must
//! likewise report data and a FIN that arrive just after a completion.

use crate::util;

use std::io::{Read, Write};
use std::net::Shutdown;
use std::time::Duration;

use util::{connect, pattern, per_model, read_to_eof, Server};

/// Small deterministic generator, so a failure can be replayed.
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

/// Many clients, each sending requests in one to three writes with no
/// pause between them, so the later pieces land just after the server's
/// read of the earlier ones: exactly the moment a short read is taken for
/// "drained".
fn data_arriving_just_after_a_short_read_is_still_echoed(model: &str) {
    let server = Server::model(model);
    let addr = server.addr();
    let clients: Vec<_> = (0..32u64)
        .map(|c| {
            std::thread::spawn(move || {
                let mut s = connect(addr);
                s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                let mut rng = 0x9E37_79B9_7F4A_7C15 ^ (c + 1);
                for round in 0..300 {
                    // Mostly small; one round in ten larger than a read
                    // budget, so full reads (which must go on) occur too.
                    let cap = if round % 10 == 9 { 200_000 } else { 6000 };
                    let len = 1 + (next(&mut rng) % cap) as usize;
                    let data = pattern(c * 1000 + round, len);
                    let pieces = 1 + (next(&mut rng) % 3) as usize;
                    let mut at = 0;
                    for p in 0..pieces {
                        let end = if p + 1 == pieces {
                            len
                        } else {
                            at + (len - at) / 2
                        };
                        s.write_all(&data[at..end]).unwrap();
                        at = end;
                    }
                    let mut back = vec![0; len];
                    s.read_exact(&mut back).unwrap_or_else(|e| {
                        panic!("client {c} round {round}: echo of {len} bytes never came: {e}")
                    });
                    assert!(back == data, "client {c} round {round}: echo differs");
                }
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
}

per_model!(data_arriving_just_after_a_short_read_is_still_echoed: reactor, #[cfg(target_os = "linux")] uring);

/// Data and the FIN right behind it: the event that reports the hang-up
/// must make the reactor read on to EOF, not stop at the short read of
/// the data, or the connection would never close.
fn a_fin_right_behind_the_data_is_not_hidden_by_a_short_read(model: &str) {
    let server = Server::model(model);
    for i in 0..200u64 {
        let mut s = connect(server.addr());
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let data = pattern(i, 1 + (i as usize * 37) % 3000);
        s.write_all(&data).unwrap();
        s.shutdown(Shutdown::Write).unwrap();
        let back = read_to_eof(&mut s)
            .unwrap_or_else(|e| panic!("connection {i}: no EOF after the echo: {e}"));
        assert!(back == data, "connection {i}: echo differs");
    }
}

per_model!(a_fin_right_behind_the_data_is_not_hidden_by_a_short_read: reactor, #[cfg(target_os = "linux")] uring);
