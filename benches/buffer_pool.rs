//! The reactor's buffer pool, alone: what a connection pays to get a block
//! and to keep the part of an echo the socket refused.
//!
//!     cargo bench --bench buffer_pool
//!
//! The pool is built as the reactor builds it (`--max-buffer` default
//! blocks, a `READ_BUDGET` scratch area), so the numbers are those of a
//! default daemon. `keep_0` is the same take/put with pooling switched
//! off: the gap between the two is what the free list saves per burst.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use echod::reactor::buffer::Pool;
use echod::reactor::connection::READ_BUDGET;
use echod::Config;

/// The reactor's own `POOL_KEEP` (private to `echod::reactor`); only "more
/// than zero" matters here, since the bench returns each block before the
/// next take.
const KEEP: usize = 64;

fn block() -> usize {
    Config::default().max_buffer
}

fn take_put(c: &mut Criterion) {
    let mut group = c.benchmark_group("buffer_pool/take_put");
    for (name, keep) in [("pooled", KEEP), ("keep_0", 0)] {
        let mut pool = Pool::new(block(), keep, READ_BUDGET);
        // Warm: the steady state of a busy daemon has a free block waiting.
        let warm = pool.take();
        pool.put(warm);
        group.bench_function(name, |b| {
            b.iter(|| {
                let buf = pool.take();
                pool.put(black_box(buf));
            })
        });
    }
    group.finish();
}

/// `keep(0..n)` then `put`: copying `n` refused bytes out of the scratch
/// area into a block of their own, as a connection does on a short write.
fn keep(c: &mut Criterion) {
    let mut group = c.benchmark_group("buffer_pool/keep");
    let mut pool = Pool::new(block(), KEEP, READ_BUDGET);
    let scratch = pool.scratch();
    for (i, byte) in scratch.iter_mut().enumerate() {
        *byte = i as u8;
    }
    let cap = scratch.len();
    for n in [64, 4 << 10, 64 << 10] {
        let n = n.min(cap);
        group.throughput(Throughput::Bytes(n as u64));
        group.bench_function(format!("{n}B"), |b| {
            b.iter(|| {
                let buf = pool.keep(black_box(0..n));
                pool.put(black_box(buf));
            })
        });
    }
    group.finish();
}

criterion_group!(benches, take_put, keep);
criterion_main!(benches);
