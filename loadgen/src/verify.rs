//! Verification of an echoed byte stream, one connection at a time.
//!
//! An echo server may split or merge replies however TCP pleases, so replies
//! are not messages: they are positions in a byte stream. Byte `p` of the
//! stream received on connection `c` must equal byte `p % size` of request
//! `p / size` sent on `c`. The verifier walks the stream by position and
//! recomputes the expected bytes with [`payload::matches`], so it holds no copy of
//! what was sent.
//!
//! # Verdicts
//! Each completed reply gets exactly one [`Verdict`]. When a reply differs
//! from what was sent, its header says why: a valid header for another
//! sequence on this connection means the server reordered (or dropped, or
//! duplicated) data; a valid header for another connection means it mixed
//! connections; anything else is corruption. After a damaged reply the
//! verifier keeps walking by position, so one lost byte makes every later
//! reply on that connection bad too: that is deliberate, a stream that has
//! slipped is not trustworthy.
//!
//! # Damage is reported as it arrives
//! A server that answers with something else (an error banner, an HTTP
//! reply) usually sends fewer bytes than a request and then waits or
//! closes. Waiting for the reply to complete would turn that into "timed
//! out" or "truncated", which hides what happened. So a reply is judged as
//! soon as its first wrong byte is seen and its header (which says whether
//! the bytes are another request's) is in: [`StreamVerifier::feed`] reports
//! it then, once, and not again when its last byte arrives.
//!
//! A wrong reply shorter than a header (a few bytes of a banner) must not
//! wait for a header that never comes either. Header bytes are compared as
//! they arrive, and a wrong one is corruption as soon as the bytes so far
//! cannot begin the header of any request of this run: a connection field
//! no connection of the run has, or a size field other than the run's.
//! Until then they might still be another request's header (reordered or
//! mixed up), so the verdict waits; a damaged reply still undecided when
//! the caller gives up on the stream (EOF, the drain's deadline) is handed
//! out by [`StreamVerifier::take_damage`].

use crate::payload::{self, Header, HEADER_LEN};

/// What one completed reply turned out to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Byte-for-byte the request that was sent.
    Intact,
    /// The bytes of another request from this connection (`got` is its
    /// sequence number): reordered, duplicated or lost data.
    Reordered {
        /// Sequence number found in the reply's header.
        got: u64,
    },
    /// The bytes of a request sent on another connection.
    Foreign {
        /// Connection index found in the reply's header.
        got: u32,
    },
    /// Damaged bytes.
    Corrupt,
}

/// What a reader is told: "reply 3 was corrupt (...)" reads on from here.
impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Verdict::Intact => write!(f, "intact"),
            Verdict::Reordered { got } => write!(
                f,
                "out of order (it carried request {got} of the same connection)"
            ),
            Verdict::Foreign { got } => {
                write!(f, "mixed up (it carried bytes sent on connection {got})")
            }
            Verdict::Corrupt => write!(f, "corrupt (its bytes differ from the request)"),
        }
    }
}

impl Verdict {
    /// True for every verdict but [`Verdict::Intact`].
    pub fn is_bad(self) -> bool {
        self != Verdict::Intact
    }
}

/// Incremental verifier for the replies of one connection.
#[derive(Debug)]
pub struct StreamVerifier {
    conn: u32,
    /// Connections in the run: every valid header's connection field is
    /// below this.
    peers: u32,
    size: usize,
    /// Sequence number of the reply being received.
    seq: u64,
    /// Bytes of that reply received so far.
    offset: usize,
    /// The reply's header bytes as received, kept only to explain a mismatch.
    header: [u8; HEADER_LEN],
    mismatch: bool,
    /// The current reply's verdict has already been handed out (early,
    /// because it was damaged).
    reported: bool,
}

impl StreamVerifier {
    /// A verifier for connection `conn` of a run of `peers` connections
    /// (numbered from 0) whose requests are `size` bytes.
    pub fn new(conn: u32, peers: u32, size: usize) -> StreamVerifier {
        debug_assert!(conn < peers, "connection {conn} of {peers}");
        StreamVerifier {
            conn,
            peers,
            size,
            seq: 0,
            offset: 0,
            header: [0; HEADER_LEN],
            mismatch: false,
            reported: false,
        }
    }

    /// Bytes of the current reply received so far (0 between replies).
    pub fn partial(&self) -> usize {
        self.offset
    }

    /// Number of replies completed so far.
    #[cfg(test)]
    pub fn completed(&self) -> u64 {
        self.seq
    }

    /// Consumes the next `data` bytes of the echoed stream and calls
    /// `on_reply(seq, verdict)` once for every reply that `data` completes,
    /// in stream order, and once for a reply that `data` shows to be
    /// damaged before it is complete (see "Damage is reported as it
    /// arrives" in the module docs). Either way each reply gets exactly one
    /// call, in sequence order.
    ///
    /// The caller must not feed more bytes than it has sent; bytes beyond
    /// that are not an echo and are the caller's to report.
    pub fn feed(&mut self, mut data: &[u8], mut on_reply: impl FnMut(u64, Verdict)) {
        while !data.is_empty() {
            let n = (self.size - self.offset).min(data.len());
            if self.offset < HEADER_LEN {
                let h = (HEADER_LEN - self.offset).min(n);
                self.header[self.offset..self.offset + h].copy_from_slice(&data[..h]);
            }
            // Once a reply is known bad, its remaining bytes need no checking.
            if !self.mismatch
                && !payload::matches(self.conn, self.seq, self.size, self.offset, &data[..n])
            {
                self.mismatch = true;
            }
            self.offset += n;
            data = &data[n..];
            if self.offset == self.size {
                if !self.reported {
                    on_reply(self.seq, self.verdict());
                }
                self.seq += 1;
                self.offset = 0;
                self.mismatch = false;
                self.reported = false;
            } else if self.mismatch
                && !self.reported
                && (self.offset >= HEADER_LEN || !self.may_be_a_header())
            {
                self.reported = true;
                on_reply(self.seq, self.verdict());
            }
        }
    }

    /// The sequence number and verdict of the reply in progress when it is
    /// already known to be damaged but has not been reported (its header
    /// never arrived whole), marking it reported. For a caller giving up on
    /// the stream (EOF, timeout), so that a short wrong reply is counted as
    /// damage, not as missing.
    pub fn take_damage(&mut self) -> Option<(u64, Verdict)> {
        if !self.mismatch || self.reported {
            return None;
        }
        self.reported = true;
        Some((self.seq, self.verdict()))
    }

    /// True while the header bytes received so far (fewer than
    /// [`HEADER_LEN`]) could still begin the header of some request of this
    /// run. Little-endian: the connection field's bytes received so far are
    /// its low bytes, so the smallest value it can still take is theirs.
    fn may_be_a_header(&self) -> bool {
        let got = &self.header[..self.offset.min(HEADER_LEN)];
        let conn_low = got
            .iter()
            .take(4)
            .rev()
            .fold(0u64, |v, &b| (v << 8) | u64::from(b));
        let size = (self.size as u32).to_le_bytes();
        conn_low < u64::from(self.peers)
            && got
                .iter()
                .skip(12)
                .take(4)
                .zip(size)
                .all(|(&b, want)| b == want)
    }

    fn verdict(&self) -> Verdict {
        if !self.mismatch {
            return Verdict::Intact;
        }
        match Header::decode(&self.header) {
            Some(h) if h.conn != self.conn => Verdict::Foreign { got: h.conn },
            Some(h) if h.seq != self.seq => Verdict::Reordered { got: h.seq },
            _ => Verdict::Corrupt,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payload::append;

    fn stream(conn: u32, seqs: &[u64], size: usize) -> Vec<u8> {
        let mut v = Vec::new();
        for &s in seqs {
            append(&mut v, conn, s, size);
        }
        v
    }

    fn verdicts(conn: u32, size: usize, data: &[u8], chunk: usize) -> Vec<(u64, Verdict)> {
        let mut v = StreamVerifier::new(conn, 16, size);
        let mut out = Vec::new();
        for piece in data.chunks(chunk) {
            v.feed(piece, |s, d| out.push((s, d)));
        }
        out
    }

    #[test]
    fn intact_stream_passes_under_any_chunking() {
        let data = stream(4, &[0, 1, 2, 3, 4], 40);
        for chunk in [1, 3, 8, 39, 40, 41, 200] {
            let got = verdicts(4, 40, &data, chunk);
            assert_eq!(got.len(), 5);
            assert!(
                got.iter().all(|(_, v)| *v == Verdict::Intact),
                "chunk {chunk}"
            );
        }
    }

    #[test]
    fn a_flipped_body_byte_is_corrupt() {
        let mut data = stream(1, &[0, 1, 2], 64);
        data[64 + 50] ^= 0x20;
        let got = verdicts(1, 64, &data, 7);
        assert_eq!(got[0].1, Verdict::Intact);
        assert_eq!(got[1].1, Verdict::Corrupt);
        assert_eq!(got[2].1, Verdict::Intact);
    }

    #[test]
    fn swapped_replies_are_reordered() {
        let data = stream(2, &[0, 2, 1], 32);
        let got = verdicts(2, 32, &data, 5);
        assert_eq!(got[0].1, Verdict::Intact);
        assert_eq!(got[1].1, Verdict::Reordered { got: 2 });
        assert_eq!(got[2].1, Verdict::Reordered { got: 1 });
    }

    #[test]
    fn bytes_from_another_connection_are_foreign() {
        let mut data = stream(2, &[0], 32);
        data.extend(stream(9, &[1], 32));
        let got = verdicts(2, 32, &data, 32);
        assert_eq!(got[1].1, Verdict::Foreign { got: 9 });
    }

    /// The verdicts `v` reaches on being fed `data`.
    fn fed(v: &mut StreamVerifier, data: &[u8]) -> Vec<(u64, Verdict)> {
        let mut got = Vec::new();
        v.feed(data, |s, d| got.push((s, d)));
        got
    }

    // Regression: a short wrong reply (an HTTP error page) went unjudged
    // until its last byte, which never came, so it was called a timeout or
    // a truncation instead of corruption.
    #[test]
    fn a_short_wrong_reply_is_reported_before_it_completes() {
        let mut v = StreamVerifier::new(0, 1, 1000);
        let page = b"HTTP/1.0 400 Bad request\r\n\r\nnope\n";
        assert_eq!(fed(&mut v, page), [(0, Verdict::Corrupt)]);
        // The rest of that reply does not report it again.
        assert_eq!(fed(&mut v, &[0u8; 967]), []);
        assert_eq!(v.take_damage(), None);
    }

    #[test]
    fn damage_shorter_than_a_header_is_taken_when_the_caller_gives_up() {
        // 0x01 could begin connection 1's header: no verdict yet.
        let mut v = StreamVerifier::new(0, 2, 100);
        assert_eq!(fed(&mut v, b"\x01"), [], "could be another header");
        assert_eq!(v.take_damage(), Some((0, Verdict::Corrupt)));
        assert_eq!(v.take_damage(), None);
    }

    // Regression: a wrong reply shorter than a header waited for a header
    // that never came, and was called truncated when the caller gave up.
    #[test]
    fn wrong_header_bytes_are_corrupt_once_no_request_could_begin_so() {
        // "nope" is at once no connection of a 4-connection run.
        let mut v = StreamVerifier::new(0, 4, 100);
        assert_eq!(fed(&mut v, b"nope\n"), [(0, Verdict::Corrupt)]);
        assert_eq!(v.take_damage(), None);
        // 02 00 could begin connection 2's header; 02 00 00 01 cannot.
        let mut v = StreamVerifier::new(0, 4, 100);
        assert_eq!(fed(&mut v, &[2, 0]), [], "could still be connection 2");
        assert_eq!(fed(&mut v, &[0, 1]), [(0, Verdict::Corrupt)]);
        assert_eq!(v.take_damage(), None);
        // A plausible connection and sequence but another size: no request
        // of this run has that header.
        let mut h = Header {
            conn: 1,
            seq: 0,
            size: 64,
        }
        .encode();
        let mut v = StreamVerifier::new(0, 4, 100);
        assert_eq!(fed(&mut v, &h[..12]), []);
        h[13] ^= 1;
        assert_eq!(fed(&mut v, &h[12..14]), [(0, Verdict::Corrupt)]);
    }

    #[test]
    fn an_intact_partial_reply_is_no_damage() {
        let data = stream(0, &[0], 50);
        let mut v = StreamVerifier::new(0, 1, 50);
        v.feed(&data[..30], |_, _| panic!("nothing completed or damaged"));
        assert_eq!(v.take_damage(), None);
    }

    #[test]
    fn partial_reply_is_reported_as_partial() {
        let data = stream(0, &[0, 1], 50);
        let mut v = StreamVerifier::new(0, 1, 50);
        v.feed(&data[..70], |_, _| {});
        assert_eq!(v.completed(), 1);
        assert_eq!(v.partial(), 20);
    }
}
