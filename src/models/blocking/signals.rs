//! The signal thread of the blocking models.
//!
//! Blocking code cannot wait on a signal and a socket at once, so signals
//! get a thread of their own.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use mio::Waker;
use signal_hook::iterator::Signals;

use super::clients::Clients;
use super::listeners::Listeners;
use crate::error::Error;
use crate::log::DrainEnd;

/// Starts the signal thread and returns the flag the first signal sets.
///
/// SIGHUP is logged and ignored (see [`crate::signals`]). On the first
/// SIGINT/SIGTERM it starts every client draining, stops the listeners
/// (new connects are refused at once, even while the iterative model is
/// busy with a client; socket files removed: see `listeners.rs`) and
/// wakes the acceptor. After `grace` the process exits 0 even if a client
/// is stuck (say, writing to a peer that never reads). A second signal
/// exits at once with 128 + its number. Either way the stop line is
/// logged first, saying how many clients the drain cut short.
pub fn watch(
    grace: Duration,
    listeners: Arc<Listeners>,
    waker: Arc<Waker>,
    clients: Arc<Clients>,
) -> Result<Arc<AtomicBool>, Error> {
    let mut signals = Signals::new(crate::signals::HANDLED)
        .map_err(|e| Error::Startup(format!("cannot install signal handlers: {e}")))?;
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    std::thread::Builder::new()
        .name("echod-signals".into())
        .spawn(move || {
            for sig in signals.forever() {
                if !crate::signals::stops(sig) {
                    crate::signals::ignore_hangup();
                    continue;
                }
                // First: once the flag is up the accepting thread may go
                // straight to `finish`, which reads when the drain began.
                // (Again at a second signal: it does nothing then.)
                clients.drain_all();
                // Only this thread raises the flag.
                if s.load(Ordering::SeqCst) {
                    stop_line(&clients, DrainEnd::Signal(sig));
                    std::process::exit(128 + sig);
                }
                // Before the flag: once it is up, the accepting thread
                // may log the stop line and exit before this line is out.
                crate::log::draining(sig, clients.live() as u64, grace);
                s.store(true, Ordering::SeqCst);
                listeners.stop();
                let _ = waker.wake();
                let clients = clients.clone();
                std::thread::Builder::new()
                    .name("echod-deadline".into())
                    .spawn(move || {
                        // This sleep *is* the deadline, not a synchronisation.
                        // No instant is computed, so no grace can overflow:
                        // `sleep` splits even `Duration::MAX` into naps.
                        std::thread::sleep(grace);
                        stop_line(&clients, DrainEnd::TimedOut);
                        std::process::exit(0);
                    })
                    .ok();
            }
        })
        .map_err(|e| Error::Startup(format!("cannot start the signal thread: {e}")))?;
    Ok(stop)
}

/// Logs the stop line of a drain that `end` cut short, before the process
/// exits under the feet of the threads still serving.
fn stop_line(clients: &Clients, end: DrainEnd) {
    crate::log::stopped_with(Some(clients.tally.totals()), clients.drain(end));
}
