//! `loadgen`: a verifying, coordinated-omission-free load generator for
//! echo servers over TCP, Unix stream sockets and UDP, as a library; the
//! `loadgen` binary (`main.rs`) only parses the command line, calls
//! [`commands::dispatch`] and turns the outcome into an exit status.
//!
//! # Layout, top down
//! Arrows point down only: a module uses the ones below it, never one
//! above.
//! - [`commands`]: one function per subcommand.
//! - [`cli`]: the command line, validated into each subcommand's
//!   configuration.
//! - The subcommands: [`run`], [`compare`] (with [`sweep`], [`machine`]),
//!   [`check`], [`merge`], [`diff`], [`talk`], [`serve`]; [`report`] renders what
//!   they measured.
//! - What they share: [`target`], [`payload`] and [`verify`] (what is sent
//!   and how an echo is judged), [`stats`] and [`hdrlog`] (latencies),
//!   [`usage`], [`procstat`] and [`limit`] (CPU time and who was the
//!   limit), [`env`](mod@env), [`interrupt`], [`outputs`] (stdout and output
//!   paths) and [`usage_error`] (the refusal every validation returns).

#![deny(missing_docs)]

pub mod check;
pub mod cli;
pub mod commands;
pub mod compare;
pub mod diff;
pub mod env;
pub mod hdrlog;
pub mod interrupt;
pub mod limit;
pub mod machine;
pub mod merge;
pub mod outputs;
pub mod payload;
pub mod procstat;
pub mod report;
pub mod run;
pub mod serve;
pub mod stats;
pub mod sweep;
pub mod talk;
pub mod target;
pub mod usage;
pub mod usage_error;
pub mod verify;
