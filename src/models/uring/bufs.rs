//! The provided-buffer ring: receive buffers shared by every connection.
//!
//! A multishot recv does not name a buffer of its own: each time data
//! arrives, the kernel takes the next buffer from this ring, fills it,
//! and says which one in the completion (`IORING_CQE_F_BUFFER`). Memory
//! for receiving is therefore the ring's, however many connections are
//! open; an idle connection holds none.
//!
//! The ring is two mappings of our own: the entries (16 bytes each: the
//! address, length and id of a free buffer; the kernel reads them from
//! the head, we add at the tail) and the buffers themselves. A buffer is
//! given back ([`BufRing::recycle`]) once its bytes have been copied out
//! or sent (a send that does not wait, so within the same
//! `io_uring_enter`), and the tail is published once per turn
//! ([`BufRing::publish`]): a connection that never reads its echo holds
//! no buffer, and cannot drain the ring for the others.
//!
//! The buffers are mapped, not allocated: pages are touched only when the
//! kernel first fills them, so an idle daemon's resident memory does not
//! grow by the ring's size.

use std::io;
use std::sync::atomic::{AtomicU16, Ordering};

use io_uring::types::BufRingEntry;
use io_uring::IoUring;

/// The buffer group id the ring is registered under (there is one).
pub const GROUP: u16 = 0;

/// Each buffer's size, unless `--max-buffer` is smaller: one receive
/// completion carries at most this many bytes. The reactor's read size.
pub const BUFFER: usize = 64 << 10;

/// Anonymous private memory, unmapped on drop.
struct Mapping {
    ptr: *mut u8,
    len: usize,
}

impl Mapping {
    fn new(len: usize) -> io::Result<Mapping> {
        // SAFETY: an anonymous private mapping with no address hint; the
        // result is checked before use.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(Mapping {
            ptr: ptr.cast(),
            len,
        })
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: `ptr` and `len` are exactly what mmap returned and took.
        unsafe { libc::munmap(self.ptr.cast(), self.len) };
    }
}

/// A registered provided-buffer ring and its buffers.
///
/// It must be dropped after the ring it is registered with (the kernel
/// pins the entries' pages while registered, and no request may still
/// be filling a buffer): the model declares the ring first.
pub struct BufRing {
    entries: Mapping,
    buffers: Mapping,
    count: u16,
    size: usize,
    /// Our tail: entries added but maybe not yet published.
    tail: u16,
}

impl BufRing {
    /// Maps `count` buffers of `size` bytes (`count` a power of two, at
    /// most 32768), fills the ring with all of them and registers it with
    /// `ring` as [`GROUP`].
    pub fn register(ring: &IoUring, count: u16, size: usize) -> io::Result<BufRing> {
        debug_assert!(count.is_power_of_two() && count <= 1 << 15);
        let page = 4096;
        let entries_len = (usize::from(count) * std::mem::size_of::<BufRingEntry>()).max(page);
        let mut ring_bufs = BufRing {
            entries: Mapping::new(entries_len)?,
            buffers: Mapping::new(usize::from(count) * size)?,
            count,
            size,
            tail: 0,
        };
        for bid in 0..count {
            ring_bufs.recycle(bid);
        }
        ring_bufs.publish();
        // SAFETY: the entries stay mapped, at this address, until `self`
        // is dropped, which the model does after dropping the ring.
        unsafe {
            ring.submitter().register_buf_ring_with_flags(
                ring_bufs.entries.ptr as u64,
                count,
                GROUP,
                0,
            )?;
        }
        Ok(ring_bufs)
    }

    /// The first `len` bytes of buffer `bid`, as the kernel filled them.
    pub fn get(&self, bid: u16, len: usize) -> &[u8] {
        assert!(
            bid < self.count && len <= self.size,
            "buffer {bid}, {len} bytes"
        );
        // SAFETY: in bounds (checked above); the kernel wrote these bytes
        // before posting the completion that named `bid`, and does not
        // touch the buffer again until it is recycled.
        unsafe {
            std::slice::from_raw_parts(self.buffers.ptr.add(usize::from(bid) * self.size), len)
        }
    }

    /// Puts buffer `bid` back at the tail. The kernel sees it after the
    /// next [`publish`](Self::publish).
    pub fn recycle(&mut self, bid: u16) {
        let slot = usize::from(self.tail & (self.count - 1));
        // SAFETY: `slot` < `count`, inside the entries mapping; the kernel
        // reads only entries between its head and the published tail, and
        // this one is past the published tail.
        unsafe {
            let entry = &mut *self.entries.ptr.cast::<BufRingEntry>().add(slot);
            entry.set_addr(self.buffers.ptr.add(usize::from(bid) * self.size) as u64);
            entry.set_len(self.size as u32);
            entry.set_bid(bid);
        }
        self.tail = self.tail.wrapping_add(1);
    }

    /// Makes the recycled buffers visible to the kernel: one release
    /// store of the tail, once per turn.
    pub fn publish(&mut self) {
        // SAFETY: the tail field overlays the first entry's reserved field
        // (the ring's layout); the kernel reads it with an acquire load, so
        // the entries written before this store are seen whole.
        unsafe {
            let tail = BufRingEntry::tail(self.entries.ptr.cast()) as *mut u16;
            AtomicU16::from_ptr(tail).store(self.tail, Ordering::Release);
        }
    }
}
