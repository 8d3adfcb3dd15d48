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
//! `p % size` of request `p / size`. [`append_stream`] generates any range of
//! that stream, which lets the sender produce it a bounded chunk at a time
//! instead of holding whole requests.
//!
//! # Contract
//! - [`append`], [`fill`], [`append_stream`] and [`matches`] are deterministic
//!   across runs, threads and machines (no randomness beyond the arguments),
//!   and agree with each other byte for byte.
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

/// Body word `w` of the request whose seed is `seed`.
///
/// No mixing per word: the seed is already well mixed per (connection,
/// sequence), so this only has to make the words of one request differ from
/// each other (multiplying by an odd constant is a bijection of `w`) and
/// differ between requests (xor is a bijection of the seed). Verification
/// compares by position, so nothing more is needed, and this runs twice per
/// byte on the generator's hot path (send and verify), where a loop of it
/// compiles to an add and an xor per 8 bytes.
#[inline]
fn body_word(seed: u64, w: usize) -> u64 {
    seed ^ (w as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
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

/// Writes bytes `start .. start + out.len()` of request `(conn, seq)` of
/// `size` bytes into `out`.
///
/// Slower per byte than [`append`] (it handles a header cut anywhere and a
/// body starting mid-word); [`append_stream`] uses it only for the cut ends
/// of a range.
///
/// # Panics
/// If the range runs past `size`, or `size < MIN_SIZE` (both are caller bugs:
/// sizes are validated once, at the command line).
pub fn fill(conn: u32, seq: u64, size: usize, start: usize, out: &mut [u8]) {
    assert!(
        size >= MIN_SIZE && start + out.len() <= size,
        "payload range out of bounds"
    );
    let mut pos = start;
    let mut out = out;
    if pos < HEADER_LEN {
        let header = Header {
            conn,
            seq,
            size: size as u32,
        }
        .encode();
        let n = (HEADER_LEN - pos).min(out.len());
        out[..n].copy_from_slice(&header[pos..pos + n]);
        out = &mut out[n..];
        pos += n;
    }
    if out.is_empty() {
        return;
    }
    let seed = body_seed(conn, seq);
    let body = pos - HEADER_LEN;
    // A leading partial word, then whole words, then a trailing partial word.
    let within = body % 8;
    let mut w = body / 8;
    if within != 0 {
        let word = body_word(seed, w).to_le_bytes();
        let n = (8 - within).min(out.len());
        out[..n].copy_from_slice(&word[within..within + n]);
        out = &mut out[n..];
        w += 1;
    }
    let mut chunks = out.chunks_exact_mut(8);
    for chunk in &mut chunks {
        chunk.copy_from_slice(&body_word(seed, w).to_le_bytes());
        w += 1;
    }
    let tail = chunks.into_remainder();
    if !tail.is_empty() {
        let n = tail.len();
        tail.copy_from_slice(&body_word(seed, w).to_le_bytes()[..n]);
    }
}

/// True when `data` equals bytes `start .. start + data.len()` of request
/// `(conn, seq)` of `size` bytes. Same result as filling a buffer with
/// the request and comparing, without the buffer: this runs for every byte the
/// generator receives.
///
/// # Panics
/// If the range runs past `size`, or `size < MIN_SIZE`.
pub fn matches(conn: u32, seq: u64, size: usize, start: usize, data: &[u8]) -> bool {
    assert!(
        size >= MIN_SIZE && start + data.len() <= size,
        "payload range out of bounds"
    );
    let mut pos = start;
    let mut data = data;
    if pos < HEADER_LEN {
        let header = Header {
            conn,
            seq,
            size: size as u32,
        }
        .encode();
        let n = (HEADER_LEN - pos).min(data.len());
        if data[..n] != header[pos..pos + n] {
            return false;
        }
        data = &data[n..];
        pos += n;
    }
    if data.is_empty() {
        return true;
    }
    let seed = body_seed(conn, seq);
    let body = pos - HEADER_LEN;
    let within = body % 8;
    let mut w = body / 8;
    if within != 0 {
        let word = body_word(seed, w).to_le_bytes();
        let n = (8 - within).min(data.len());
        if data[..n] != word[within..within + n] {
            return false;
        }
        data = &data[n..];
        w += 1;
    }
    let mut chunks = data.chunks_exact(8);
    for chunk in &mut chunks {
        let got = u64::from_le_bytes(chunk.try_into().expect("chunks of 8"));
        if got != body_word(seed, w) {
            return false;
        }
        w += 1;
    }
    let tail = chunks.remainder();
    tail.is_empty() || *tail == body_word(seed, w).to_le_bytes()[..tail.len()]
}

/// Appends the whole of request `(conn, seq)` of `size` bytes to `buf`.
///
/// The bytes [`matches`] expects, written straight onto the end of `buf`
/// (not zeroed first and then overwritten: this runs once per request sent).
///
/// # Panics
/// If `size < MIN_SIZE`.
pub fn append(buf: &mut Vec<u8>, conn: u32, seq: u64, size: usize) {
    assert!(size >= MIN_SIZE, "request smaller than its header");
    buf.reserve(size);
    buf.extend_from_slice(
        &Header {
            conn,
            seq,
            size: size as u32,
        }
        .encode(),
    );
    let seed = body_seed(conn, seq);
    let body = size - HEADER_LEN;
    for w in 0..body / 8 {
        buf.extend_from_slice(&body_word(seed, w).to_le_bytes());
    }
    let tail = body % 8;
    if tail != 0 {
        buf.extend_from_slice(&body_word(seed, body / 8).to_le_bytes()[..tail]);
    }
}

/// Appends bytes `pos .. pos + len` of connection `conn`'s outgoing stream
/// to `buf`: requests 0, 1, 2, … of `size` bytes each, back to back, so the
/// range may start and end inside a request and span any number of them.
///
/// Whole requests inside the range are written by [`append`], the fast path
/// (in ping-pong every call is exactly one whole request); only a request cut
/// by either end of the range goes through [`fill`].
///
/// # Panics
/// If `size < MIN_SIZE`.
pub fn append_stream(buf: &mut Vec<u8>, conn: u32, size: usize, pos: u64, len: usize) {
    assert!(size >= MIN_SIZE, "request smaller than its header");
    buf.reserve(len);
    let size64 = size as u64;
    let (mut seq, mut offset) = (pos / size64, (pos % size64) as usize);
    let mut left = len;
    while left > 0 {
        let n = (size - offset).min(left);
        if n == size {
            append(buf, conn, seq, size);
        } else {
            let at = buf.len();
            buf.resize(at + n, 0);
            fill(conn, seq, size, offset, &mut buf[at..]);
        }
        left -= n;
        seq += 1;
        offset = 0;
    }
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
