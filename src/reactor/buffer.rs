//! The pending echo of one connection, and the pool its storage comes from.
//!
//! For an echo the receive buffer and the send buffer are the same bytes:
//! what was read from the socket and not yet written back. A [`Buffer`]
//! holds them as a window `start..end` of a fixed block, filled at the end
//! by `read` and drained at the front by `write`, so nothing is copied
//! between a receive and a send buffer.
//!
//! A connection takes a block from the [`Pool`] only while it has bytes in
//! flight and gives it back the moment they drain, so an idle connection
//! holds no buffer at all.
//!
//! Most echoes need no block at all: the pool also holds one *scratch*
//! area, shared by every connection of the reactor (one runs at a time).
//! A connection with nothing pending reads into it and writes straight
//! back from it; only the bytes the socket refuses are copied into a block
//! of their own ([`Pool::keep`]).

/// A fixed-capacity byte window: `data[start..end]` is pending.
#[derive(Debug)]
pub struct Buffer {
    data: Box<[u8]>,
    start: usize,
    end: usize,
}

impl Buffer {
    /// Bytes received and not yet echoed.
    pub fn pending(&self) -> &[u8] {
        &self.data[self.start..self.end]
    }

    /// Number of pending bytes.
    pub fn len(&self) -> usize {
        self.end - self.start
    }

    /// True when nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// Room left before the connection reaches `--max-buffer`.
    pub fn room(&self) -> usize {
        self.data.len() - self.len()
    }

    /// Writable space at the end, at most `limit` bytes. Slides the pending
    /// bytes to the front first when the tail has become small, so reads
    /// stay large without copying on every call.
    pub fn spare(&mut self, limit: usize) -> &mut [u8] {
        let cap = self.data.len();
        if self.start > 0 && cap - self.end < cap / 4 {
            self.data.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        let stop = cap.min(self.end.saturating_add(limit));
        &mut self.data[self.end..stop]
    }

    /// Marks `n` bytes of [`spare`](Self::spare) as received.
    pub fn filled(&mut self, n: usize) {
        debug_assert!(self.end + n <= self.data.len());
        self.end += n;
    }

    /// Marks `n` pending bytes as echoed.
    pub fn consumed(&mut self, n: usize) {
        debug_assert!(n <= self.len());
        self.start += n;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }
}

/// Free blocks of one size, reused so that a busy connection does not cost
/// an allocation per readiness event.
///
/// The pool keeps at most `keep` free blocks: after a burst, memory beyond
/// that goes back to the allocator instead of staying with the daemon.
#[derive(Debug)]
pub struct Pool {
    free: Vec<Box<[u8]>>,
    block: usize,
    keep: usize,
    /// Blocks currently lent out, for metrics and tests.
    lent: usize,
    /// Where a connection with nothing pending reads and echoes from.
    scratch: Box<[u8]>,
}

impl Pool {
    /// A pool of `block`-byte buffers that keeps up to `keep` free ones,
    /// with a scratch area of `scratch` bytes (at most `block`, so that
    /// whatever one read puts there fits in one block).
    pub fn new(block: usize, keep: usize, scratch: usize) -> Pool {
        Pool {
            free: Vec::new(),
            block,
            keep,
            lent: 0,
            scratch: vec![0; scratch.min(block)].into_boxed_slice(),
        }
    }

    /// The shared scratch area. Its contents are gone at the next call.
    pub fn scratch(&mut self) -> &mut [u8] {
        &mut self.scratch
    }

    /// A buffer holding `scratch[range]`: the part of an echo the socket
    /// would not take.
    pub fn keep(&mut self, range: std::ops::Range<usize>) -> Buffer {
        let mut buf = self.take();
        let n = range.len();
        buf.data[..n].copy_from_slice(&self.scratch[range]);
        buf.end = n;
        buf
    }

    /// An empty buffer of the pool's block size.
    pub fn take(&mut self) -> Buffer {
        self.lent += 1;
        let data = self
            .free
            .pop()
            .unwrap_or_else(|| vec![0; self.block].into_boxed_slice());
        Buffer {
            data,
            start: 0,
            end: 0,
        }
    }

    /// Returns a buffer; its pending bytes, if any, are discarded.
    pub fn put(&mut self, buf: Buffer) {
        self.lent -= 1;
        if self.free.len() < self.keep {
            self.free.push(buf.data);
        }
    }

    /// Buffers currently held by connections.
    pub fn lent(&self) -> usize {
        self.lent
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_fills_drains_and_resets() {
        let mut pool = Pool::new(8, 1, 8);
        let mut b = pool.take();
        assert_eq!(b.room(), 8);
        b.spare(5).copy_from_slice(b"hello");
        b.filled(5);
        assert_eq!(b.pending(), b"hello");
        b.consumed(2);
        assert_eq!(b.pending(), b"llo");
        assert_eq!(b.room(), 5);
        // tail has 3 bytes (< cap/4 is false for 3 vs 2), so no slide yet
        assert_eq!(b.spare(usize::MAX).len(), 3);
        b.spare(3).copy_from_slice(b"abc");
        b.filled(3);
        // tail is now 0 < 2: the next spare slides "lloabc" to the front
        assert_eq!(b.spare(usize::MAX).len(), 2);
        assert_eq!(b.pending(), b"lloabc");
        b.consumed(6);
        assert!(b.is_empty());
        assert_eq!(b.spare(usize::MAX).len(), 8);
        pool.put(b);
        assert_eq!(pool.lent(), 0);
    }

    #[test]
    fn what_the_socket_refused_is_kept_from_the_scratch_area() {
        let mut pool = Pool::new(8, 1, 100);
        assert_eq!(pool.scratch().len(), 8, "scratch is capped at a block");
        pool.scratch()[..6].copy_from_slice(b"echo!!");
        let b = pool.keep(2..6);
        assert_eq!(b.pending(), b"ho!!");
        assert_eq!((b.room(), pool.lent()), (4, 1));
        pool.put(b);
    }

    #[test]
    fn spare_respects_limit_and_pool_keeps_at_most_keep() {
        let mut pool = Pool::new(16, 1, 16);
        let mut a = pool.take();
        assert_eq!(a.spare(4).len(), 4);
        let b = pool.take();
        assert_eq!(pool.lent(), 2);
        pool.put(b);
        pool.put(a);
        assert_eq!(pool.free.len(), 1);
    }
}
