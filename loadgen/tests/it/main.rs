//! loadgen's integration tests, one binary (one build and link for all
//! of them): each module is one subject, driving the real `loadgen` binary
//! against echod and misbehaving servers over loopback; `util` is the one
//! helper module they share.

mod util;

mod check;
mod compare;
mod diff;
mod external;
mod flood;
mod interrupt;
mod merge;
// The script it drives is Linux's: network namespaces.
#[cfg(target_os = "linux")]
mod multihost;
mod rates;
mod run;
mod talk;
mod timeline;
mod udp;
mod unix;
mod validation;
