//! The models the reactor is measured against.
//!
//! The two classic ones use blocking sockets for clients, as the socket
//! tutorial does, and share the plumbing in [`blocking`]: an acceptor that
//! can be woken for shutdown, a registry of live clients, and the signal
//! thread. The [`tokio`] model (cargo feature `tokio`, on by default) is
//! the async way: a task per connection on a `current_thread` runtime.
//! All three count what the stop line reports in a [`tally::Tally`].

pub mod blocking;
pub mod iterative;
pub mod tally;
pub mod threads;
#[cfg(feature = "tokio")]
pub mod tokio;
