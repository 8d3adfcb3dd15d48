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
//! # Contract
//! - [`append`] and [`matches`] are deterministic across runs, threads and machines (no
//!   randomness beyond the arguments).
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

/// The test oracle: writes bytes `start .. start + out.len()` of request `(conn, seq)` of
/// `size` bytes into `out`.
///
/// # Panics
/// If the range runs past `size`, or `size < MIN_SIZE` (both are caller bugs:
/// sizes are validated once, at the command line).
#[cfg(test)]
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
