//! Owned mbufs: single packets (`Mbuf`, the `PacketBuf` of the pipeline)
//! and batches. A batch owns every mbuf in it: what is neither transmitted
//! nor moved out is freed in bulk on drop, so an mbuf can be neither leaked
//! nor freed twice. A batch may have holes where a packet was taken out.
use std::ptr::{self, NonNull};

use super::mempool::PktMbufPool;
use crate::packet::PacketBuf;

/// One owned packet. Freed on drop.
pub struct Mbuf(NonNull<dpdk_sys::rte_mbuf>);

// SAFETY: an Mbuf is the only owner of its reference to the packet; handing it to another
// thread (a packet-out from the management thread to a PMD) moves that ownership, and the
// mempool it goes back to is thread-safe.
unsafe impl Send for Mbuf {}

impl Mbuf {
    /// A new single-segment packet from `pool` holding a copy of `frame`; None when the pool
    /// is empty or the frame does not fit one buffer.
    pub fn copy_from(pool: &PktMbufPool, frame: &[u8]) -> Option<Mbuf> {
        let len = u16::try_from(frame.len()).ok()?;
        // SAFETY: the pool is valid for the call; a non-NULL result is a new mbuf we own.
        let mbuf = Mbuf(NonNull::new(unsafe { dpdk_sys::rte_pktmbuf_alloc(pool.as_ptr()) })?);
        // SAFETY: mbuf owns a valid, empty mbuf; append returns NULL when the room is too small.
        let start = unsafe { dpdk_sys::rte_pktmbuf_append(mbuf.0.as_ptr(), len) };
        if start.is_null() {
            return None;
        }
        // SAFETY: append made `len` bytes at `start` part of the packet; they do not overlap `frame`.
        unsafe { ptr::copy_nonoverlapping(frame.as_ptr(), start.cast::<u8>(), frame.len()) };
        Some(mbuf)
    }

    /// Another reference to the same packet data (refcount + 1). Only for
    /// outputs after which the packet is not modified any more.
    pub fn share(&self) -> Mbuf {
        // SAFETY: self owns a valid mbuf; the new Mbuf owns the added reference.
        unsafe { dpdk_sys::rte_mbuf_refcnt_update(self.0.as_ptr(), 1) };
        Mbuf(self.0)
    }

    /// A copy of the packet in new buffers from the same pool; None when the
    /// pool is empty.
    pub fn deep_copy(&self) -> Option<Mbuf> {
        // SAFETY: self owns a valid mbuf; its pool pointer is the pool it came from.
        let copy = unsafe { dpdk_sys::rte_pktmbuf_copy(self.0.as_ptr(), (*self.0.as_ptr()).pool, 0, u32::MAX) };
        NonNull::new(copy).map(Mbuf)
    }

    /// Bytes of the whole packet (all segments).
    pub fn pkt_len(&self) -> u32 {
        // SAFETY: self owns a valid mbuf.
        unsafe { (*self.0.as_ptr()).pkt_len }
    }
}

impl Drop for Mbuf {
    fn drop(&mut self) {
        // SAFETY: self owns one reference to a valid mbuf, released once here.
        unsafe { dpdk_sys::rte_pktmbuf_free(self.0.as_ptr()) };
    }
}

/// The first segment's data (headers are never split across segments by
/// the drivers the switch uses; a header beyond it reads as truncated).
fn first_segment<'a>(m: *mut dpdk_sys::rte_mbuf) -> &'a mut [u8] {
    // SAFETY: m is a valid mbuf owned by the caller for 'a; buf_addr +
    // data_off is the start of data_len initialised bytes of its buffer.
    unsafe {
        let m = &*m;
        let start = (m.buf_addr as *mut u8).add(usize::from(m.data_off));
        std::slice::from_raw_parts_mut(start, usize::from(m.data_len))
    }
}

impl PacketBuf for Mbuf {
    fn data(&self) -> &[u8] {
        first_segment(self.0.as_ptr())
    }

    fn data_mut(&mut self) -> &mut [u8] {
        first_segment(self.0.as_ptr())
    }

    fn prepend(&mut self, n: usize) -> bool {
        let Ok(n) = u16::try_from(n) else { return false };
        // SAFETY: self owns a valid mbuf; prepend fails (NULL) without headroom.
        !unsafe { dpdk_sys::rte_pktmbuf_prepend(self.0.as_ptr(), n) }.is_null()
    }

    fn trim_front(&mut self, n: usize) -> bool {
        let Ok(n) = u16::try_from(n) else { return false };
        // SAFETY: self owns a valid mbuf; adj fails (NULL) when n > data_len.
        !unsafe { dpdk_sys::rte_pktmbuf_adj(self.0.as_ptr(), n) }.is_null()
    }
}

/// Packets asked from a receive queue at once.
pub const BURST_SIZE: usize = 32;

/// Up to `CAP` owned mbufs, in arrival order.
pub struct MbufBatch<const CAP: usize> {
    mbufs: [*mut dpdk_sys::rte_mbuf; CAP],
    len: usize,
}

/// What one rx_burst fills.
pub type RxBurst = MbufBatch<BURST_SIZE>;
/// A per-port output buffer: room for two bursts, flushed when it holds one.
pub type TxBatch = MbufBatch<{ 2 * BURST_SIZE }>;

impl<const CAP: usize> Default for MbufBatch<CAP> {
    fn default() -> Self {
        MbufBatch { mbufs: [ptr::null_mut(); CAP], len: 0 }
    }
}

impl<const CAP: usize> MbufBatch<CAP> {
    pub fn new() -> Self {
        Self::default()
    }

    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    #[inline]
    pub fn room(&self) -> usize {
        CAP - self.len
    }

    /// Moves as many mbufs as fit from `src` into `self`, oldest first.
    /// Returns how many moved; the rest stay in `src`.
    #[inline]
    pub fn take_from<const SRC: usize>(&mut self, src: &mut MbufBatch<SRC>) -> usize {
        let n = src.len.min(self.room());
        self.mbufs[self.len..self.len + n].copy_from_slice(&src.mbufs[..n]);
        self.len += n;
        src.mbufs.copy_within(n..src.len, 0);
        src.len -= n;
        n
    }

    /// Moves the packets in slots `range` of `src` (holes skipped) to the
    /// end of `self`, leaving holes in `src`, as far as they fit. Returns
    /// how many did not fit (they stay in `src`).
    #[inline]
    pub fn take_range<const SRC: usize>(&mut self, src: &mut MbufBatch<SRC>, range: std::ops::Range<usize>) -> usize {
        let end = range.end.min(src.len);
        let mut left = 0;
        for slot in src.mbufs.get_mut(range.start..end).unwrap_or_default() {
            if slot.is_null() {
                continue;
            }
            if self.len == CAP {
                left += 1;
                continue;
            }
            self.mbufs[self.len] = std::mem::replace(slot, ptr::null_mut());
            self.len += 1;
        }
        left
    }

    /// Adds a reference to every mbuf of `src` and appends them to `self`
    /// (for output to several ports): each copy is freed independently.
    /// Returns how many were shared; mbufs that did not fit are not touched.
    #[inline]
    pub fn share_from<const SRC: usize>(&mut self, src: &MbufBatch<SRC>) -> usize {
        let n = src.len.min(self.room());
        for &m in &src.mbufs[..n] {
            // SAFETY: m is a valid mbuf owned by `src`; bumping its refcount
            // makes `self` an owner of one more reference.
            unsafe { dpdk_sys::rte_mbuf_refcnt_update(m, 1) };
        }
        self.mbufs[self.len..self.len + n].copy_from_slice(&src.mbufs[..n]);
        self.len += n;
        n
    }

    /// Frees every mbuf in the batch at once; returns how many slots it
    /// had (holes included).
    #[inline]
    pub fn free_all(&mut self) -> usize {
        let n = self.len;
        if n > 0 {
            // SAFETY: the first n slots are valid mbufs owned by this batch or
            // NULL holes (which free_bulk skips); after the call the batch is
            // empty, so none is freed twice.
            unsafe { dpdk_sys::rte_pktmbuf_free_bulk(self.mbufs.as_mut_ptr(), n as u32) };
            self.len = 0;
        }
        n
    }

    /// Packet `i`'s first-segment data; empty for a hole.
    #[inline]
    pub fn data(&self, i: usize) -> &[u8] {
        match self.mbufs.get(i).copied().filter(|m| i < self.len && !m.is_null()) {
            Some(m) => first_segment(m),
            None => &[],
        }
    }

    /// Packet `i`'s length in bytes (all segments); 0 for a hole.
    #[inline]
    pub fn pkt_len(&self, i: usize) -> u32 {
        match self.mbufs.get(i).copied().filter(|m| i < self.len && !m.is_null()) {
            // SAFETY: a non-null slot below len is a valid mbuf owned by the batch.
            Some(m) => unsafe { (*m).pkt_len },
            None => 0,
        }
    }

    /// Starts loading packet `i`'s headers into the cache.
    #[inline]
    pub fn prefetch(&self, i: usize) {
        if let Some(m) = self.mbufs.get(i).copied().filter(|m| i < self.len && !m.is_null()) {
            // SAFETY: a valid mbuf owned by the batch; only its fields are read.
            let data = unsafe { (*m).buf_addr.cast::<u8>().wrapping_add(usize::from((*m).data_off)) };
            super::prefetch(data);
        }
    }

    /// Takes packet `i` out, leaving a hole.
    #[inline]
    pub fn take(&mut self, i: usize) -> Option<Mbuf> {
        if i >= self.len {
            return None;
        }
        let m = std::mem::replace(&mut self.mbufs[i], ptr::null_mut());
        NonNull::new(m).map(Mbuf)
    }

    /// Appends a packet; gives it back when the batch is full.
    #[inline]
    pub fn push(&mut self, m: Mbuf) -> Result<(), Mbuf> {
        if self.len == CAP {
            return Err(m);
        }
        self.mbufs[self.len] = m.0.as_ptr();
        self.len += 1;
        std::mem::forget(m);
        Ok(())
    }

    /// The raw slots, for rx_burst to fill (crate-internal: ethdev only).
    pub(super) fn raw_slots(&mut self) -> (*mut *mut dpdk_sys::rte_mbuf, usize) {
        (self.mbufs.as_mut_ptr(), self.len)
    }

    /// Records that rx_burst filled `n` slots after the current length.
    pub(super) fn filled(&mut self, n: usize) {
        debug_assert!(self.len + n <= CAP);
        self.len += n;
    }

    /// Forgets the first `n` mbufs, whose ownership passed to a tx queue.
    pub(super) fn consumed(&mut self, n: usize) {
        debug_assert!(n <= self.len);
        self.mbufs.copy_within(n..self.len, 0);
        self.len -= n;
    }
}

impl<const CAP: usize> Drop for MbufBatch<CAP> {
    fn drop(&mut self) {
        self.free_all();
    }
}
