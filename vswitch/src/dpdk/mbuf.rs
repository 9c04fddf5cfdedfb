//! Owned mbufs: single packets (`Mbuf`, the `PacketBuf` of the pipeline), the receive burst
//! (`RxBurst`, the `PacketBurst` of the PMD's stages) and per-port transmit batches (`TxBatch`).
//! Each owns every mbuf in it: what is neither transmitted nor moved out is freed on drop, so an
//! mbuf can be neither leaked nor freed twice. A receive burst may have holes where an action took
//! a packet out; a transmit batch never has: what a device is handed is valid mbufs only, by the
//! types' own bookkeeping, whatever their callers do.
use std::ptr::{self, NonNull};
use std::sync::atomic::{AtomicU16, Ordering};

use super::mempool::PktMbufPool;
use crate::packet::{PacketBuf, PacketBurst};

/// Packets asked from a receive queue at once.
pub const BURST_SIZE: usize = BURST_SIZE_U16 as usize;
/// `BURST_SIZE` as DPDK's burst calls take it.
pub const BURST_SIZE_U16: u16 = 32;

/// Room of a per-port transmit batch: two bursts (it is sent when it holds one).
pub const TX_BATCH_SIZE: usize = 2 * BURST_SIZE;

/// One owned reference to a packet. Freed on drop.
pub struct Mbuf(NonNull<dpdk_sys::rte_mbuf>);

// SAFETY: an Mbuf is the only owner of its reference to the packet; handing it to another
// thread (a packet-out from the management thread to a PMD) moves that ownership, and the
// mempool it goes back to is thread-safe.
unsafe impl Send for Mbuf {}

/// The first segment's data of `m`, readable for `'a`. Headers are never split across
/// segments by the drivers the switch uses; a header beyond it reads as truncated.
///
/// # Safety
/// `m` is a valid mbuf that the caller holds a reference to for `'a`, and nobody writes its
/// data during `'a`.
#[inline(always)]
unsafe fn segment<'a>(m: *const dpdk_sys::rte_mbuf) -> &'a [u8] {
    // SAFETY: by the contract, m is valid for 'a; buf_addr + data_off is the start of data_len
    // initialised bytes of its buffer, which nobody writes during 'a.
    unsafe {
        let m = &*m;
        std::slice::from_raw_parts(m.buf_addr.cast::<u8>().add(usize::from(m.data_off)), usize::from(m.data_len))
    }
}

/// Whether the packet data of `m` is referenced by nothing but the caller's one reference: a
/// direct mbuf (not pointing into another mbuf's buffer) with a reference count of 1, whose
/// external buffer, if it has one, is not shared either.
///
/// # Safety
/// `m` is a valid mbuf the caller holds a reference to.
#[inline]
unsafe fn is_exclusive(m: *mut dpdk_sys::rte_mbuf) -> bool {
    // SAFETY: by the contract m is valid; the reference counts may be changed by other threads
    // that hold references (atomically, as DPDK does), so they are read atomically; ol_flags
    // and shinfo are not written while the caller holds its reference.
    unsafe {
        if AtomicU16::from_ptr(ptr::addr_of_mut!((*m).refcnt)).load(Ordering::Acquire) != 1 {
            return false;
        }
        let flags = (*m).ol_flags;
        if flags & dpdk_sys::RTE_MBUF_F_INDIRECT != 0 {
            return false;
        }
        flags & dpdk_sys::RTE_MBUF_F_EXTERNAL == 0 || dpdk_sys::rte_mbuf_ext_refcnt_read((*m).shinfo) == 1
    }
}

/// `rte_pktmbuf_prepend`, inline: grows the first segment of `m` by `n` bytes at the front;
/// its bytes then, or None (nothing changed) without the headroom.
///
/// # Safety
/// `m` is a valid mbuf and the caller holds its only reference (`is_exclusive`): nothing else
/// reads or writes its header fields or data meanwhile; the slice lives no longer than that.
#[inline]
unsafe fn grow_front<'a>(m: *mut dpdk_sys::rte_mbuf, n: usize) -> Option<&'a mut [u8]> {
    let n = u16::try_from(n).ok()?;
    // SAFETY: by the contract, the fields and data are the caller's alone.
    unsafe {
        let mbuf = &mut *m;
        // The headroom of a direct (or external, exclusively held) mbuf is data_off.
        let data_len = mbuf.data_len.checked_add(n).filter(|_| n <= mbuf.data_off)?;
        mbuf.data_off -= n;
        mbuf.data_len = data_len;
        mbuf.pkt_len += u32::from(n);
        Some(std::slice::from_raw_parts_mut(
            mbuf.buf_addr.cast::<u8>().add(usize::from(mbuf.data_off)),
            usize::from(data_len),
        ))
    }
}

/// `grow_front` by `len` bytes that are the last `len` bytes of `block`: with headroom for the
/// whole block, the whole block is copied, ending where the packet started (one fixed-size copy,
/// moves rather than a call); otherwise only its last `len` bytes. False (nothing changed)
/// without the headroom for `len` bytes or when `len` exceeds `N`.
///
/// # Safety
/// As `grow_front`.
#[inline(always)]
unsafe fn grow_front_block<const N: usize>(m: *mut dpdk_sys::rte_mbuf, block: &[u8; N], len: usize) -> bool {
    let Some(n) = u16::try_from(len).ok().filter(|_| len <= N) else { return false };
    // SAFETY: by the contract, the fields and data are the caller's alone; every write lies in
    // the buffer between its start and the packet's old first byte (data_off >= the bytes
    // written before it).
    unsafe {
        let mbuf = &mut *m;
        let Some(data_len) = mbuf.data_len.checked_add(n).filter(|_| n <= mbuf.data_off) else { return false };
        let start = mbuf.buf_addr.cast::<u8>().add(usize::from(mbuf.data_off));
        if usize::from(mbuf.data_off) >= N {
            ptr::copy_nonoverlapping(block.as_ptr(), start.sub(N), N);
        } else {
            ptr::copy_nonoverlapping(block.as_ptr().add(N - len), start.sub(len), len);
        }
        mbuf.data_off -= n;
        mbuf.data_len = data_len;
        mbuf.pkt_len += u32::from(n);
        true
    }
}

/// Cuts a one-segment `m` to its first `len` bytes; false (nothing changed) for a longer
/// `len` or more segments.
///
/// # Safety
/// As `grow_front`.
#[inline]
unsafe fn cut_single_segment(m: *mut dpdk_sys::rte_mbuf, len: usize) -> bool {
    // SAFETY: by the contract, the fields are the caller's alone.
    unsafe {
        let mbuf = &mut *m;
        match u16::try_from(len) {
            Ok(len) if mbuf.nb_segs == 1 && len <= mbuf.data_len => {
                mbuf.data_len = len;
                mbuf.pkt_len = u32::from(len);
                true
            }
            _ => false,
        }
    }
}

/// `rte_pktmbuf_adj`, inline: drops the first `n` bytes of the first segment of `m`; false
/// (nothing changed) when it is shorter.
///
/// # Safety
/// As `grow_front`.
#[inline]
unsafe fn shrink_front(m: *mut dpdk_sys::rte_mbuf, n: usize) -> bool {
    let Ok(n) = u16::try_from(n) else { return false };
    // SAFETY: by the contract, the fields are the caller's alone.
    unsafe {
        let mbuf = &mut *m;
        let Some(data_len) = mbuf.data_len.checked_sub(n) else { return false };
        mbuf.data_off += n;
        mbuf.data_len = data_len;
        mbuf.pkt_len -= u32::from(n);
    }
    true
}

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

    /// Whether this is the packet's only reference (see `is_exclusive`).
    #[inline]
    fn exclusive(&self) -> bool {
        // SAFETY: self owns a reference to a valid mbuf.
        unsafe { is_exclusive(self.0.as_ptr()) }
    }
}

impl Drop for Mbuf {
    fn drop(&mut self) {
        // SAFETY: self owns one reference to a valid mbuf, released once here.
        unsafe { dpdk_sys::rte_pktmbuf_free(self.0.as_ptr()) };
    }
}

impl PacketBuf for Mbuf {
    #[inline]
    fn data(&self) -> &[u8] {
        // SAFETY: self holds a reference for the borrow; the data is written only through
        // data_mut, which needs &mut self and an exclusive reference.
        unsafe { segment(self.0.as_ptr()) }
    }

    #[inline]
    fn data_mut(&mut self) -> Option<&mut [u8]> {
        if !self.exclusive() {
            return None;
        }
        // SAFETY: this is the only reference to the packet data (checked above; another one can
        // only be made with `share`, which the &mut borrow excludes until the slice is gone), so
        // the slice is the only access to those data_len initialised bytes.
        Some(unsafe {
            let m = &*self.0.as_ptr();
            std::slice::from_raw_parts_mut(
                m.buf_addr.cast::<u8>().add(usize::from(m.data_off)),
                usize::from(m.data_len),
            )
        })
    }

    #[inline]
    fn prepend(&mut self, n: usize) -> bool {
        // SAFETY: self owns a reference to a valid mbuf.
        self.exclusive() && unsafe { grow_front(self.0.as_ptr(), n) }.is_some()
    }

    #[inline]
    fn trim_front(&mut self, n: usize) -> bool {
        // SAFETY: self owns the only reference (checked first).
        self.exclusive() && unsafe { shrink_front(self.0.as_ptr(), n) }
    }

    #[inline]
    fn pkt_len(&self) -> u32 {
        // SAFETY: self owns a reference to a valid mbuf.
        unsafe { (*self.0.as_ptr()).pkt_len }
    }

    /// Another reference to the same packet (reference count + 1); neither can change the packet
    /// while both live.
    #[inline]
    fn share(&self) -> Mbuf {
        // SAFETY: self owns a valid mbuf; the new Mbuf owns the added reference.
        unsafe { dpdk_sys::rte_mbuf_refcnt_update(self.0.as_ptr(), 1) };
        Mbuf(self.0)
    }

    /// A copy of the packet in new buffers from the same pool; None when the pool is empty.
    fn deep_copy(&self) -> Option<Mbuf> {
        // SAFETY: self owns a valid mbuf; its pool pointer is the pool it came from.
        let copy = unsafe { dpdk_sys::rte_pktmbuf_copy(self.0.as_ptr(), (*self.0.as_ptr()).pool, 0, u32::MAX) };
        NonNull::new(copy).map(Mbuf)
    }
}

/// Frees the first `len` entries of `mbufs` (NULL entries are skipped).
///
/// # Safety
/// Every non-NULL entry among the first `len` is a valid mbuf the caller owns a reference to,
/// which it gives up.
#[inline]
unsafe fn free_bulk(mbufs: &mut [*mut dpdk_sys::rte_mbuf], len: usize) {
    let len = len.min(mbufs.len());
    if len > 0 {
        // SAFETY: by the contract; rte_pktmbuf_free_bulk skips NULL entries.
        unsafe { dpdk_sys::rte_pktmbuf_free_bulk(mbufs.as_mut_ptr(), u32::try_from(len).unwrap_or(u32::MAX)) };
    }
}

/// What one `rx_burst` fills: up to `BURST_SIZE` packets in arrival order. Taking a packet out
/// leaves a hole (a NULL slot, recorded in `holes`), so the other packets keep their positions.
pub struct RxBurst {
    mbufs: [*mut dpdk_sys::rte_mbuf; BURST_SIZE],
    len: usize,
    /// Bit i: slot i is a hole.
    holes: u64,
}

const _: () = assert!(BURST_SIZE <= u64::BITS as usize, "RxBurst tracks its holes in a u64");

impl Default for RxBurst {
    fn default() -> Self {
        RxBurst { mbufs: [ptr::null_mut(); BURST_SIZE], len: 0, holes: 0 }
    }
}

impl RxBurst {
    pub fn new() -> Self {
        Self::default()
    }

    /// The mbuf in slot `i`, if `i` is a slot and not a hole.
    #[inline(always)]
    fn slot(&self, i: usize) -> Option<*mut dpdk_sys::rte_mbuf> {
        self.mbufs.get(i).copied().filter(|m| i < self.len && !m.is_null())
    }

    /// Frees every packet still in the burst at once; returns how many slots it had (holes
    /// included).
    #[inline]
    pub fn free_all(&mut self) -> usize {
        let n = self.len;
        // SAFETY: the first len slots are mbufs owned by this burst or NULL holes; the burst is
        // empty afterwards, so none is freed twice.
        unsafe { free_bulk(&mut self.mbufs, n) };
        self.len = 0;
        self.holes = 0;
        n
    }

    /// Closes the holes, keeping the packets' order.
    #[inline]
    pub fn compact(&mut self) {
        if self.holes == 0 {
            return;
        }
        let mut kept = 0;
        for i in 0..self.len {
            if !self.mbufs[i].is_null() {
                self.mbufs[kept] = self.mbufs[i];
                kept += 1;
            }
        }
        self.len = kept;
        self.holes = 0;
    }

    /// The empty slots for rx_burst to fill (ethdev only).
    pub(super) fn empty_slots(&mut self) -> *mut *mut dpdk_sys::rte_mbuf {
        self.free_all();
        self.mbufs.as_mut_ptr()
    }

    /// Records that rx_burst filled the first `n` slots with mbufs it handed over.
    pub(super) fn filled(&mut self, n: usize) {
        debug_assert!(n <= BURST_SIZE);
        self.len = n.min(BURST_SIZE);
    }
}

impl PacketBurst for RxBurst {
    type Packet = Mbuf;

    #[inline(always)]
    fn len(&self) -> usize {
        self.len
    }

    #[inline(always)]
    fn data(&self, i: usize) -> &[u8] {
        match self.slot(i) {
            // SAFETY: a packet of the burst, owned by it for the borrow; the burst hands out no
            // mutable access to a packet it holds.
            Some(m) => unsafe { segment(m) },
            None => &[],
        }
    }

    #[inline(always)]
    fn pkt_len(&self, i: usize) -> u32 {
        match self.slot(i) {
            // SAFETY: a valid mbuf owned by the burst.
            Some(m) => unsafe { (*m).pkt_len },
            None => 0,
        }
    }

    #[inline(always)]
    fn prefetch(&self, i: usize) {
        if let Some(m) = self.slot(i) {
            // SAFETY: a valid mbuf owned by the burst; only its fields are read.
            let data = unsafe { (*m).buf_addr.cast::<u8>().wrapping_add(usize::from((*m).data_off)) };
            super::prefetch(data);
        }
    }

    #[inline]
    fn prepend(&mut self, i: usize, n: usize) -> Option<&mut [u8]> {
        let m = self.slot(i)?;
        // SAFETY: a valid mbuf owned by the burst, grown only if no other reference exists; the
        // slice borrows the burst mutably, so nothing else touches the packet meanwhile.
        unsafe {
            if is_exclusive(m) {
                grow_front(m, n)
            } else {
                None
            }
        }
    }

    #[inline(always)]
    fn prepend_block<const N: usize>(&mut self, i: usize, block: &[u8; N], len: usize) -> bool {
        let Some(m) = self.slot(i) else { return false };
        // SAFETY: a valid mbuf owned by the burst, grown only if no other reference exists.
        unsafe { is_exclusive(m) && grow_front_block(m, block, len) }
    }

    #[inline]
    fn truncate(&mut self, i: usize, len: usize) -> bool {
        let Some(m) = self.slot(i) else { return false };
        // SAFETY: a valid mbuf owned by the burst, written only if no other reference exists.
        unsafe { is_exclusive(m) && cut_single_segment(m, len) }
    }

    #[inline]
    fn trim_front(&mut self, i: usize, n: usize) -> bool {
        let Some(m) = self.slot(i) else { return false };
        // SAFETY: a valid mbuf owned by the burst, written only if no other reference exists.
        unsafe { is_exclusive(m) && shrink_front(m, n) }
    }

    #[inline]
    fn take(&mut self, i: usize) -> Option<Mbuf> {
        let m = NonNull::new(std::mem::replace(self.mbufs.get_mut(i).filter(|_| i < self.len)?, ptr::null_mut()))?;
        self.holes |= 1 << i;
        Some(Mbuf(m))
    }
}

impl Drop for RxBurst {
    fn drop(&mut self) {
        self.free_all();
    }
}

/// Packets queued for one transmit queue, in order, without holes.
pub struct TxBatch {
    mbufs: [*mut dpdk_sys::rte_mbuf; TX_BATCH_SIZE],
    len: usize,
}

impl Default for TxBatch {
    fn default() -> Self {
        TxBatch { mbufs: [ptr::null_mut(); TX_BATCH_SIZE], len: 0 }
    }
}

impl TxBatch {
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
        TX_BATCH_SIZE - self.len
    }

    /// Appends a packet; gives it back when the batch is full.
    #[inline]
    pub fn push(&mut self, m: Mbuf) -> Result<(), Mbuf> {
        if self.len == TX_BATCH_SIZE {
            return Err(m);
        }
        self.mbufs[self.len] = m.0.as_ptr();
        self.len += 1;
        std::mem::forget(m);
        Ok(())
    }

    /// Moves the packets in slots `range` of `burst` (holes skipped) to the end of `self`,
    /// leaving holes in the burst, as far as they fit. Returns how many did not fit (they stay
    /// in the burst).
    #[inline]
    pub fn take_range(&mut self, burst: &mut RxBurst, range: std::ops::Range<usize>) -> usize {
        let end = range.end.min(burst.len);
        let mut left = 0;
        for slot in burst.mbufs.get_mut(range.start..end).unwrap_or_default() {
            if slot.is_null() {
                continue;
            }
            if self.len == TX_BATCH_SIZE {
                left += 1;
                continue;
            }
            self.mbufs[self.len] = std::mem::replace(slot, ptr::null_mut());
            self.len += 1;
        }
        // (Slots that were holes already, or kept what did not fit, only cost a compact a look.)
        if range.start < end {
            burst.holes |= (u64::MAX >> (64 - (end - range.start))) << range.start;
        }
        left
    }

    /// Appends another reference to every packet of `burst` (for output to several ports: each
    /// reference is freed on its own). Returns how many did not fit (they are not shared).
    #[inline]
    pub fn share_all(&mut self, burst: &RxBurst) -> usize {
        let mut left = 0;
        for &m in &burst.mbufs[..burst.len] {
            if m.is_null() {
                continue;
            }
            if self.len == TX_BATCH_SIZE {
                left += 1;
                continue;
            }
            // SAFETY: m is a valid mbuf owned by the burst; bumping its reference count makes
            // this batch the owner of one more reference.
            unsafe { dpdk_sys::rte_mbuf_refcnt_update(m, 1) };
            self.mbufs[self.len] = m;
            self.len += 1;
        }
        left
    }

    /// Frees every packet in the batch at once; returns how many there were.
    #[inline]
    pub fn free_all(&mut self) -> usize {
        let n = self.len;
        // SAFETY: the first len slots are mbufs owned by this batch; it is empty afterwards.
        unsafe { free_bulk(&mut self.mbufs, n) };
        self.len = 0;
        n
    }
}

impl Drop for TxBatch {
    fn drop(&mut self) {
        self.free_all();
    }
}

/// A batch a transmit queue can be handed: valid mbufs only, first to last (ethdev only).
pub(super) trait TxSource {
    /// The slots and the count of the packets, without holes (closed first where there are
    /// any). The caller may forget packets it handed on: move the rest to the front and lower
    /// the count.
    fn dense(&mut self) -> (&mut [*mut dpdk_sys::rte_mbuf], &mut usize);
    /// Frees what is left; returns how many.
    fn free_rest(&mut self) -> usize;
}

impl TxSource for TxBatch {
    fn dense(&mut self) -> (&mut [*mut dpdk_sys::rte_mbuf], &mut usize) {
        (&mut self.mbufs, &mut self.len)
    }

    fn free_rest(&mut self) -> usize {
        self.free_all()
    }
}

impl TxSource for RxBurst {
    fn dense(&mut self) -> (&mut [*mut dpdk_sys::rte_mbuf], &mut usize) {
        self.compact();
        (&mut self.mbufs, &mut self.len)
    }

    fn free_rest(&mut self) -> usize {
        self.free_all()
    }
}
