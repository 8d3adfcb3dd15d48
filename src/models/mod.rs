//! The classic models the reactor is measured against.
//!
//! Both use blocking sockets for clients, as the socket tutorial does, and
//! share the plumbing in [`blocking`]: an acceptor that can be woken for
//! shutdown, a registry of live clients, and the signal thread.

pub mod blocking;
pub mod iterative;
pub mod threads;
