//! Request payloads: what every request carries and how its bytes are derived.
//!
//! A request is exactly `size` bytes. The first [`HEADER_LEN`] bytes are a
//! header (connection id, sequence number, request size and a check word over
//! those three); the rest is a pseudo-random body seeded by (connection,
//! sequence). Every byte of a request is therefore a pure function of
//! `(conn, seq, size, offset)`: the verifier recomputes the expected bytes of
//! any slice of the echoed stream instead of keeping a copy of what was sent,
//! so memory does not grow with depth, size or connection count.
//!
//! The same holds one level up: a connection sends requests 0, 1, 2, … back to
//! back, all of one size, so byte `p` of its outgoing stream is byte
//! `p % size` of request `p / size`. [`fill_stream`] generates any range of
//! that stream, which lets the sender produce it a bounded chunk at a time
//! instead of holding whole requests.
//!
//! # Contract
//! - [`append`], [`fill`], [`fill_stream`], [`append_stream`] and
//!   [`matches`] are deterministic across runs, threads and machines (no
//!   randomness beyond the arguments), and agree with each other byte for
//!   byte.
//! - Two requests that differ in connection or sequence differ in their
//!   header and, with overwhelming probability, in every 8-byte body word, so
//!   a reply echoed on the wrong connection or out of order is caught.

/// Bytes of header at the start of every request.
pub const HEADER_LEN: usize = 24;

/// Smallest request `loadgen` will send: a header and nothing else.
pub const MIN_SIZE: usize = HEADER_LEN;

/// Largest request `loadgen` will send (the header stores the size as `u32`,
/// and bigger requests say more about memory than about echo latency).
pub const MAX_SIZE: usize = 64 << 20;

/// The identity of one request, as carried in its first [`HEADER_LEN`] bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// Global connection index (unique across generator threads).
    pub conn: u32,
    /// Sequence number of the request on its connection, from 0.
    pub seq: u64,
    /// Total request size in bytes, header included.
    pub size: u32,
}

/// The splitmix64 finaliser: cheap, and every input bit affects every output bit.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn check_word(conn: u32, seq: u64, size: u32) -> u64 {
    mix(mix((u64::from(conn) << 32) | u64::from(size)) ^ seq)
}

fn body_seed(conn: u32, seq: u64) -> u64 {
    mix(mix(u64::from(conn) ^ 0x5EED_0000_0000_0000) ^ mix(seq))
}

/// Odd, so `w -> w × WORD_STEP` is a bijection (see [`body_word`]).
const WORD_STEP: u64 = 0x9E37_79B9_7F4A_7C15;

/// Body word `w` of the request whose seed is `seed`.
///
/// No mixing per word: the seed is already well mixed per (connection,
/// sequence), so this only has to make the words of one request differ from
/// each other (multiplying by an odd constant is a bijection of `w`) and
/// differ between requests (xor is a bijection of the seed). Verification
/// compares by position, so nothing more is needed.
///
/// This runs twice per byte on the generator's hot path (send and verify),
/// so the loops over whole words below do not call it: they step
/// `w × WORD_STEP` by adding `WORD_STEP`, which gives the same words with
/// an add and an xor per 8 bytes and lets the compiler vectorise the loop
/// even on baseline x86-64 (SSE2 has no 64-bit multiply).
#[inline]
fn body_word(seed: u64, w: usize) -> u64 {
    seed ^ (w as u64).wrapping_mul(WORD_STEP)
}

/// Writes body words `w, w + 1, …` of `seed` into `out`, whose length is a
/// multiple of 8.
#[inline]
fn fill_words(seed: u64, w: usize, out: &mut [u8]) {
    let mut step = (w as u64).wrapping_mul(WORD_STEP);
    for chunk in out.chunks_exact_mut(8) {
        chunk.copy_from_slice(&(seed ^ step).to_le_bytes());
        step = step.wrapping_add(WORD_STEP);
    }
}

/// Bytes compared between looks at the running difference in
/// [`words_match`]: long enough that the loop vectorises, short enough that
/// a mismatch early in a large reply stops the work soon.
const COMPARE_BLOCK: usize = 512;

/// True when `data` (a multiple of 8 bytes) holds body words `w, w + 1, …`
/// of `seed`. Differences are or-ed together over a block and looked at
/// once per block: an exit per word would keep the loop scalar.
#[inline]
fn words_match(seed: u64, w: usize, data: &[u8]) -> bool {
    let mut step = (w as u64).wrapping_mul(WORD_STEP);
    for block in data.chunks(COMPARE_BLOCK) {
        let mut diff = 0;
        for chunk in block.chunks_exact(8) {
            let got = u64::from_le_bytes(chunk.try_into().expect("chunks of 8"));
            diff |= got ^ seed ^ step;
            step = step.wrapping_add(WORD_STEP);
        }
        if diff != 0 {
            return false;
        }
    }
    true
}

impl Header {
    /// The header as it appears on the wire (little-endian fields).
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        out[0..4].copy_from_slice(&self.conn.to_le_bytes());
        out[4..12].copy_from_slice(&self.seq.to_le_bytes());
        out[12..16].copy_from_slice(&self.size.to_le_bytes());
        out[16..24].copy_from_slice(&check_word(self.conn, self.seq, self.size).to_le_bytes());
        out
    }

    /// Decodes a header, or `None` when its check word does not match (the
    /// bytes are not a header `loadgen` wrote, or were damaged).
    pub fn decode(bytes: &[u8; HEADER_LEN]) -> Option<Header> {
        let word = |r: std::ops::Range<usize>| {
            let mut b = [0u8; 8];
            b[..r.len()].copy_from_slice(&bytes[r]);
            u64::from_le_bytes(b)
        };
        let header = Header {
            conn: word(0..4) as u32,
            seq: word(4..12),
            size: word(12..16) as u32,
        };
        (word(16..24) == check_word(header.conn, header.seq, header.size)).then_some(header)
    }
}

/// A run of bytes of a request, as [`pieces`] hands it out.
enum Piece<'a> {
    /// These bytes: part of the header, or of a body word.
    Bytes(&'a [u8]),
    /// `len` bytes of whole body words `w, w + 1, …` of `seed`.
    Words { seed: u64, w: usize, len: usize },
}

/// Hands bytes `start .. start + len` of request `(conn, seq)` of `size`
/// bytes to `visit`, in order, each piece with its offset in the range:
/// the header bytes, a leading partial body word, the whole words (one
/// piece, for one vectorised loop) and a trailing partial word. Stops, and
/// returns false, as soon as `visit` does.
///
/// # Panics
/// If the range runs past `size`, or `size < MIN_SIZE` (both are caller bugs:
/// sizes are validated once, at the command line).
#[inline]
fn pieces(
    (conn, seq, size): (u32, u64, usize),
    start: usize,
    len: usize,
    mut visit: impl FnMut(usize, Piece<'_>) -> bool,
) -> bool {
    assert!(
        size >= MIN_SIZE && start + len <= size,
        "payload range out of bounds"
    );
    let mut at = 0;
    if start < HEADER_LEN {
        let header = Header {
            conn,
            seq,
            size: size as u32,
        }
        .encode();
        at = (HEADER_LEN - start).min(len);
        if !visit(0, Piece::Bytes(&header[start..start + at])) {
            return false;
        }
    }
    if at == len {
        return true;
    }
    let seed = body_seed(conn, seq);
    let body = start + at - HEADER_LEN;
    let within = body % 8;
    let mut w = body / 8;
    if within != 0 {
        let word = body_word(seed, w).to_le_bytes();
        let n = (8 - within).min(len - at);
        if !visit(at, Piece::Bytes(&word[within..within + n])) {
            return false;
        }
        at += n;
        w += 1;
    }
    let whole = (len - at) / 8 * 8;
    if !visit(
        at,
        Piece::Words {
            seed,
            w,
            len: whole,
        },
    ) {
        return false;
    }
    at += whole;
    let tail = body_word(seed, w + whole / 8).to_le_bytes();
    at == len || visit(at, Piece::Bytes(&tail[..len - at]))
}

/// Writes bytes `start .. start + out.len()` of request `(conn, seq)` of
/// `size` bytes into `out`.
///
/// The range may cut the header anywhere and start the body mid-word;
/// whole body words go through one vectorised loop.
///
/// # Panics
/// If the range runs past `size`, or `size < MIN_SIZE` (both are caller bugs:
/// sizes are validated once, at the command line).
pub fn fill(conn: u32, seq: u64, size: usize, start: usize, out: &mut [u8]) {
    pieces((conn, seq, size), start, out.len(), |at, piece| {
        match piece {
            Piece::Bytes(b) => out[at..at + b.len()].copy_from_slice(b),
            Piece::Words { seed, w, len } => fill_words(seed, w, &mut out[at..at + len]),
        }
        true
    });
}

/// True when `data` equals bytes `start .. start + data.len()` of request
/// `(conn, seq)` of `size` bytes. Same result as filling a buffer with
/// the request and comparing, without the buffer: this runs for every byte the
/// generator receives.
///
/// # Panics
/// If the range runs past `size`, or `size < MIN_SIZE`.
pub fn matches(conn: u32, seq: u64, size: usize, start: usize, data: &[u8]) -> bool {
    pieces(
        (conn, seq, size),
        start,
        data.len(),
        |at, piece| match piece {
            Piece::Bytes(b) => data[at..at + b.len()] == *b,
            Piece::Words { seed, w, len } => words_match(seed, w, &data[at..at + len]),
        },
    )
}

/// Appends the whole of request `(conn, seq)` of `size` bytes to `buf`:
/// the bytes [`matches`] expects.
///
/// # Panics
/// If `size < MIN_SIZE`.
pub fn append(buf: &mut Vec<u8>, conn: u32, seq: u64, size: usize) {
    assert!(size >= MIN_SIZE, "request smaller than its header");
    let at = buf.len();
    // Zeroed, then overwritten: a memset costs a fraction of generating
    // the words, and it keeps this free of `unsafe`.
    buf.resize(at + size, 0);
    fill(conn, seq, size, 0, &mut buf[at..]);
}

/// Writes bytes `pos .. pos + out.len()` of connection `conn`'s outgoing
/// stream into `out`: requests 0, 1, 2, … of `size` bytes each, back to
/// back, so the range may start and end inside a request and span any
/// number of them.
///
/// The sender generates its stream with this straight into a buffer it
/// keeps, so a byte is written once, when the socket is ready for it.
///
/// # Panics
/// If `size < MIN_SIZE`.
pub fn fill_stream(conn: u32, size: usize, pos: u64, out: &mut [u8]) {
    assert!(size >= MIN_SIZE, "request smaller than its header");
    let size64 = size as u64;
    let (mut seq, mut offset) = (pos / size64, (pos % size64) as usize);
    let mut out = out;
    while !out.is_empty() {
        let n = (size - offset).min(out.len());
        let (this, rest) = out.split_at_mut(n);
        fill(conn, seq, size, offset, this);
        out = rest;
        seq += 1;
        offset = 0;
    }
}

/// Appends bytes `pos .. pos + len` of connection `conn`'s outgoing stream
/// to `buf` (see [`fill_stream`]).
///
/// # Panics
/// If `size < MIN_SIZE`.
#[cfg(test)]
pub fn append_stream(buf: &mut Vec<u8>, conn: u32, size: usize, pos: u64, len: usize) {
    let at = buf.len();
    buf.resize(at + len, 0);
    fill_stream(conn, size, pos, &mut buf[at..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trips_and_rejects_damage() {
        let h = Header {
            conn: 7,
            seq: 1 << 40,
            size: 512,
        };
        let mut bytes = h.encode();
        assert_eq!(Header::decode(&bytes), Some(h));
        bytes[5] ^= 1;
        assert_eq!(Header::decode(&bytes), None);
    }

    #[test]
    fn append_writes_what_fill_writes() {
        for size in [MIN_SIZE, 25, 31, 32, 33, 100, 512] {
            let mut appended = vec![7u8; 3];
            append(&mut appended, 5, 77, size);
            let mut filled = vec![0u8; size];
            fill(5, 77, size, 0, &mut filled);
            assert_eq!(appended[..3], [7, 7, 7]);
            assert_eq!(appended[3..], filled[..], "size {size}");
        }
    }

    #[test]
    fn fill_of_any_slice_matches_the_whole_request() {
        let size = 100;
        let mut whole = Vec::new();
        append(&mut whole, 3, 9, size);
        assert_eq!(whole.len(), size);
        for start in 0..size {
            for len in 0..=(size - start).min(17) {
                let mut part = vec![0u8; len];
                fill(3, 9, size, start, &mut part);
                assert_eq!(part, whole[start..start + len], "start {start} len {len}");
            }
        }
    }

    #[test]
    fn matches_agrees_with_fill_for_every_slice_and_any_damage() {
        let size = 61;
        let mut whole = Vec::new();
        append(&mut whole, 11, 4, size);
        for start in 0..size {
            for len in 0..=(size - start) {
                let slice = &whole[start..start + len];
                assert!(
                    matches(11, 4, size, start, slice),
                    "start {start} len {len}"
                );
                for flip in 0..len {
                    let mut bad = slice.to_vec();
                    bad[flip] ^= 0x80;
                    assert!(
                        !matches(11, 4, size, start, &bad),
                        "start {start} len {len} flip {flip}"
                    );
                }
            }
        }
        assert!(!matches(11, 5, size, 0, &whole));
        assert!(!matches(12, 4, size, 0, &whole));
    }

    /// Request `(conn, seq)` of `size` bytes built straight from the
    /// definitions, one word at a time: what the stepped, vectorised loops
    /// must reproduce.
    fn by_definition(conn: u32, seq: u64, size: usize) -> Vec<u8> {
        let mut v = Header {
            conn,
            seq,
            size: size as u32,
        }
        .encode()
        .to_vec();
        let seed = body_seed(conn, seq);
        let mut w = 0;
        while v.len() < size {
            v.extend_from_slice(&body_word(seed, w).to_le_bytes());
            w += 1;
        }
        v.truncate(size);
        v
    }

    #[test]
    fn generated_words_are_the_defined_ones() {
        for size in [MIN_SIZE, 33, 512, 4099, 16 << 10] {
            let want = by_definition(6, 1 << 33, size);
            let mut got = Vec::new();
            append(&mut got, 6, 1 << 33, size);
            assert!(got == want, "size {size}");
            for start in [0, 5, 24, 25, 31, 32, 1000]
                .into_iter()
                .filter(|&s| s < size)
            {
                let mut part = vec![0u8; size - start];
                fill(6, 1 << 33, size, start, &mut part);
                assert!(part == want[start..], "size {size} start {start}");
            }
        }
    }

    /// A damaged byte anywhere in a large reply is caught: in the first
    /// compare block, in a later one, in the last partial block, and in a
    /// range that starts mid-word.
    #[test]
    fn matches_finds_damage_in_every_block_of_a_large_reply() {
        let size = 16 << 10;
        let whole = by_definition(2, 9, size);
        for start in [0, 3, 24, 29] {
            let data = &whole[start..];
            assert!(matches(2, 9, size, start, data), "start {start}");
            let mut at = 0;
            while at < data.len() {
                let mut bad = data.to_vec();
                bad[at] ^= 0x04;
                assert!(!matches(2, 9, size, start, &bad), "start {start} at {at}");
                at += 1 + COMPARE_BLOCK / 3;
            }
            let mut bad = data.to_vec();
            *bad.last_mut().unwrap() ^= 0x80;
            assert!(!matches(2, 9, size, start, &bad), "start {start} last");
        }
    }

    /// Requests `0..count` of `(conn, size)`, concatenated: what the stream
    /// must be, built the slow obvious way.
    fn whole_stream(conn: u32, size: usize, count: u64) -> Vec<u8> {
        let mut all = Vec::new();
        for seq in 0..count {
            append(&mut all, conn, seq, size);
        }
        all
    }

    #[test]
    fn append_stream_of_every_small_range_matches_whole_requests() {
        for size in [MIN_SIZE, 25, 31, 32, 33, 40] {
            let all = whole_stream(9, size, 4);
            for pos in 0..all.len() {
                for len in 0..=(all.len() - pos) {
                    let mut got = vec![1u8, 2];
                    append_stream(&mut got, 9, size, pos as u64, len);
                    assert_eq!(got[..2], [1, 2]);
                    assert_eq!(
                        got[2..],
                        all[pos..pos + len],
                        "size {size} pos {pos} len {len}"
                    );
                }
            }
        }
    }

    proptest::proptest! {
        /// The sender's way of producing the stream (a range at a time, cut
        /// at arbitrary points, from an arbitrary starting offset) must give
        /// exactly the concatenation of whole requests.
        #[test]
        fn chunked_stream_equals_concatenated_requests(
            conn in proptest::prelude::any::<u32>(),
            size in MIN_SIZE..300usize,
            count in 1u64..12,
            start_frac in 0.0f64..1.0,
            cuts in proptest::collection::vec(0usize..700, 0..20),
        ) {
            let all = whole_stream(conn, size, count);
            let start = ((all.len() as f64 * start_frac) as usize).min(all.len());
            let mut got = Vec::new();
            let mut pos = start;
            for cut in cuts {
                let len = cut.min(all.len() - pos);
                append_stream(&mut got, conn, size, pos as u64, len);
                pos += len;
            }
            append_stream(&mut got, conn, size, pos as u64, all.len() - pos);
            proptest::prop_assert_eq!(&got[..], &all[start..]);
        }

        /// Far into the stream (large sequence numbers, positions past
        /// `u32`), a range still equals the requests it covers.
        #[test]
        fn stream_range_far_from_the_start_matches_its_requests(
            size in MIN_SIZE..5000usize,
            first_seq in 0u64..(1 << 40),
            offset_frac in 0.0f64..1.0,
            len in 0usize..12_000,
        ) {
            let offset = ((size as f64 * offset_frac) as usize).min(size - 1);
            let pos = first_seq * size as u64 + offset as u64;
            let mut want = Vec::new();
            let mut seq = first_seq;
            while want.len() < offset + len {
                append(&mut want, 4, seq, size);
                seq += 1;
            }
            let mut got = Vec::new();
            append_stream(&mut got, 4, size, pos, len);
            proptest::prop_assert_eq!(&got[..], &want[offset..offset + len]);
        }
    }

    #[test]
    fn different_connections_and_sequences_differ_in_the_body() {
        let mut a = Vec::new();
        let mut b = Vec::new();
        let mut c = Vec::new();
        append(&mut a, 1, 5, 256);
        append(&mut b, 2, 5, 256);
        append(&mut c, 1, 6, 256);
        for other in [&b, &c] {
            let same_words = a[HEADER_LEN..]
                .chunks(8)
                .zip(other[HEADER_LEN..].chunks(8))
                .filter(|(x, y)| x == y)
                .count();
            assert_eq!(same_words, 0);
        }
    }
}
