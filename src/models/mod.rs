//! The models the reactor is measured against.
//!
//! The two classic ones use blocking sockets for clients, as the socket
//! tutorial does, and share the plumbing in [`blocking`]: an acceptor that
//! can be woken for shutdown, a registry of live clients, and the signal
//! thread. The [`tokio`] model (cargo feature `tokio`, on by default) is
//! the async way: a task per connection on a `current_thread` runtime.
//! All three count what the stop line reports in a [`tally::Tally`].
//!
//! The `uring` model (cargo feature `uring`, on by default; Linux) is the
//! completion-based twin of the reactor: one thread, one io_uring, and
//! the reactor's counters, timers and limits.

pub mod blocking;
pub mod iterative;
pub mod tally;
pub mod threads;
#[cfg(feature = "tokio")]
pub mod tokio;
#[cfg(all(feature = "uring", target_os = "linux"))]
pub mod uring;
