//! Owned batches of mbufs. A batch owns every mbuf in it: what is neither
//! transmitted nor moved to another batch is freed in bulk on drop, so an
//! mbuf can be neither leaked nor freed twice.
use std::ptr;

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

    /// Frees every mbuf in the batch at once; returns how many.
    #[inline]
    pub fn free_all(&mut self) -> usize {
        let n = self.len;
        if n > 0 {
            // SAFETY: the first n pointers are valid mbufs owned by this
            // batch; after the call the batch is empty, so none is freed twice.
            unsafe { dpdk_sys::rte_pktmbuf_free_bulk(self.mbufs.as_mut_ptr(), n as u32) };
            self.len = 0;
        }
        n
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
