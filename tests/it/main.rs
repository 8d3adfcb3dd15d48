//! echod's integration tests, one binary (one build and link for all of
//! them): each module is one subject, driving the real `echod` binary over
//! loopback sockets; `util` is the one helper module they share.

mod util;

mod activation;
mod backpressure;
mod cli;
mod echo;
mod emfile;
mod faults;
mod half_close;
mod limits;
mod logs;
mod many_connections;
mod metrics;
mod multi_reactor;
mod partial_writes;
mod regressions;
mod short_reads;
mod shutdown;
mod udp;
mod unix;
mod urgent;
mod uring;
