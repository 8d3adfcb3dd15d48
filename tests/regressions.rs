//! Regression tests, each named after the bug it pins down.

mod util;

use std::time::Duration;
use util::*;

// Bug: the `listening on` line was printed before the signal handlers were
// installed, so a SIGTERM sent as soon as a supervisor (or test) saw the
// line could kill the daemon with the default action instead of draining.
// Found while writing the thread-count checks in tests/faults.rs.
#[test]
fn sigterm_right_after_the_listening_line_drains_instead_of_killing() {
    for model in ["reactor", "threads", "iterative"] {
        for _ in 0..5 {
            let mut server = Server::start(&["--model", model]);
            server.signal(libc::SIGTERM);
            let status = server
                .wait_exit(Duration::from_secs(20))
                .unwrap_or_else(|| panic!("{model}: no exit after SIGTERM"));
            assert_eq!(
                status.code(),
                Some(0),
                "{model}: killed by the signal instead of draining: {status:?}"
            );
        }
    }
}
