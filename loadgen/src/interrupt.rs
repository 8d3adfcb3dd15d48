//! Ctrl-C and SIGTERM: the first one ends the measurement early, the second
//! one exits at once.
//!
//! A one-minute sweep should not be lost to a Ctrl-C pressed in its last
//! second, so the first SIGINT or SIGTERM only raises a flag. `run` then
//! closes its measurement window at that instant, drains what is in flight
//! and reports everything measured so far, marked as interrupted; `compare`
//! does the same with the point it is on and writes the report for the
//! points already measured. Someone who wants out *now* presses Ctrl-C
//! again: the second signal `_exit`s with 128 + signal number, and the
//! server children die with us (they are started with a parent-death
//! signal, `PR_SET_PDEATHSIG` on Linux and `PROC_PDEATHSIG_CTL` on FreeBSD;
//! macOS has none, so there they watch a pipe from us: see `serve.rs`).

use std::io;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::flag;

/// The interruption flag shared with the signal handlers.
#[derive(Clone, Debug)]
pub struct Interrupt {
    raised: Arc<AtomicBool>,
    signal: Arc<AtomicUsize>,
}

impl Interrupt {
    /// Installs the handlers for SIGINT and SIGTERM.
    ///
    /// # Errors
    /// When a handler cannot be installed.
    pub fn install() -> io::Result<Interrupt> {
        let i = Interrupt::never();
        for sig in [SIGINT, SIGTERM] {
            // Order matters: the exit is registered first so it checks the
            // flag as the *previous* signal left it; only then is the flag
            // raised. The first signal thus arms the second.
            flag::register_conditional_shutdown(sig, 128 + sig, Arc::clone(&i.raised))?;
            flag::register_usize(sig, Arc::clone(&i.signal), sig as usize)?;
            flag::register(sig, Arc::clone(&i.raised))?;
        }
        Ok(i)
    }

    /// A flag no signal raises (for tests and library callers).
    pub fn never() -> Interrupt {
        Interrupt {
            raised: Arc::new(AtomicBool::new(false)),
            signal: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// True once a signal arrived.
    pub fn raised(&self) -> bool {
        self.raised.load(Ordering::SeqCst)
    }

    /// The name of the first signal, once one arrived.
    pub fn signal_name(&self) -> &'static str {
        match self.signal.load(Ordering::SeqCst) as i32 {
            SIGINT => "SIGINT (Ctrl-C)",
            SIGTERM => "SIGTERM",
            _ => "a signal",
        }
    }

    /// The exit status an interrupted command ends with: 128 + the signal.
    pub fn exit_status(&self) -> u8 {
        match self.signal.load(Ordering::SeqCst) as i32 {
            0 => 130,
            s => (128 + s).clamp(0, 255) as u8,
        }
    }
}
