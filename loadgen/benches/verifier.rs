//! How many bytes per second the generator can verify and produce, on one
//! core, with no socket in the way.
//!
//!     cargo bench -p loadgen --bench verifier
//!
//! Every byte `loadgen` receives goes through [`StreamVerifier::feed`] and
//! every byte it sends through [`payload::fill_stream`]; if either were
//! slower than the server under test, the generator would be measuring
//! itself. Each iteration handles one [`STREAM`]-byte stream, cut as the
//! generator cuts it: reads of at most its 64 KiB scratch buffer,
//! generation in [`CHUNK`]-byte pieces.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use loadgen::payload;
use loadgen::verify::{StreamVerifier, Verdict};

/// Bytes handled per iteration: enough 512 B requests (2048) that per-call
/// overhead is averaged, and 16 of the 64 KiB ones.
const STREAM: usize = 1 << 20;
/// The generator's read buffer (`run/engine.rs`) and send chunk
/// (`run/conn.rs`, `CHUNK`): the largest piece either handles at once.
const CHUNK: usize = 64 << 10;
const CONN: u32 = 3;

/// Feeds `stream` in `read`-byte pieces to a fresh verifier; returns the
/// number of intact replies.
fn verify(stream: &[u8], size: usize, read: usize) -> usize {
    let mut verifier = StreamVerifier::new(CONN, CONN + 1, size);
    let mut intact = 0;
    for piece in stream.chunks(read) {
        verifier.feed(piece, |_, verdict| {
            intact += usize::from(verdict == Verdict::Intact);
        });
    }
    intact
}

fn feed(c: &mut Criterion) {
    let mut group = c.benchmark_group("verifier/feed");
    group.throughput(Throughput::Bytes(STREAM as u64));
    // (request size, read size): 512 B one reply per read, as in
    // ping-pong, and many per read, as with `--depth`; 64 KiB one per read.
    for (size, read) in [(512, 512), (512, CHUNK), (CHUNK, CHUNK)] {
        let mut stream = vec![0; STREAM];
        payload::fill_stream(CONN, size, 0, &mut stream);
        // Checked once, outside the measurement: a verifier that found
        // a mismatch would skip the rest of each reply and look fast.
        assert_eq!(verify(&stream, size, read), STREAM / size);
        let name = format!("{size}B_requests/{read}B_reads");
        group.bench_function(name, |b| b.iter(|| verify(black_box(&stream), size, read)));
    }
    group.finish();
}

fn fill_stream(c: &mut Criterion) {
    let mut group = c.benchmark_group("verifier/fill_stream");
    group.throughput(Throughput::Bytes(STREAM as u64));
    for size in [512, CHUNK] {
        let mut out = vec![0; CHUNK];
        group.bench_function(format!("{size}B_requests"), |b| {
            b.iter(|| {
                // As `Conn::flush` does: generate the next chunk in place.
                let mut pos = 0;
                while pos < STREAM {
                    payload::fill_stream(CONN, size, pos as u64, &mut out);
                    black_box(&out);
                    pos += CHUNK;
                }
            })
        });
    }
    group.finish();
}

criterion_group!(benches, feed, fill_stream);
criterion_main!(benches);
