//! The packet-buffer abstractions the datapath is generic over: `PacketBuf`, one packet, and
//! `PacketBurst`, the packets of one receive burst; and their heap implementations for tests,
//! `TestBuf` and `TestBurst` (the DPDK mbuf implementations live in `crate::dpdk`).

use std::sync::Arc;

/// One packet in a buffer with headroom: contiguous bytes starting at the first header. A buffer
/// can be shared (`share`): then no handle may change it, as `Arc::get_mut` - `data_mut`,
/// `prepend` and `trim_front` refuse until the other handles are gone.
pub trait PacketBuf {
    /// The packet, from its first byte to its last (of the first segment).
    fn data(&self) -> &[u8];

    /// The packet, writable; `None` while the buffer is shared.
    fn data_mut(&mut self) -> Option<&mut [u8]>;

    /// Grows the packet by `n` bytes at the front; their content is unspecified. Returns false,
    /// leaving the packet unchanged, if the headroom is smaller than `n` or the buffer is shared.
    fn prepend(&mut self, n: usize) -> bool;

    /// Drops the first `n` bytes. Returns false, leaving the packet unchanged, if the packet is
    /// shorter than `n` or the buffer is shared.
    fn trim_front(&mut self, n: usize) -> bool;

    /// The whole packet's length in bytes (all segments).
    fn pkt_len(&self) -> u32;

    /// Another handle on the same bytes, without a copy (for an output after which nothing
    /// changes the packet).
    fn share(&self) -> Self
    where
        Self: Sized;

    /// A copy of the packet in a buffer of its own; `None` when no buffer is free.
    fn deep_copy(&self) -> Option<Self>
    where
        Self: Sized;
}

/// The packets of one receive burst, in arrival order, owned by the burst until an action takes
/// one out (leaving a hole): what the PMD's burst stages are generic over.
pub trait PacketBurst {
    type Packet: PacketBuf;

    /// Slots in the burst, holes included.
    fn len(&self) -> usize;

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Packet `i`'s bytes (first segment); empty for a hole.
    fn data(&self, i: usize) -> &[u8];

    /// Packet `i`'s whole length; 0 for a hole.
    fn pkt_len(&self, i: usize) -> u32;

    /// Starts loading packet `i`'s first bytes into the cache (nothing for a hole or past the end).
    fn prefetch(&self, i: usize);

    /// Takes packet `i` out, leaving a hole.
    fn take(&mut self, i: usize) -> Option<Self::Packet>;

    /// Drops the first `n` bytes of packet `i` (a tunnel packet's outer headers); false, leaving
    /// it unchanged, for a hole, a shared buffer or a packet shorter than `n`.
    fn trim_front(&mut self, i: usize, n: usize) -> bool;

    /// Grows packet `i` by `n` bytes at the front (a tunnel's outer headers; their content is
    /// unspecified) and returns its bytes, writable; `None`, leaving it unchanged, for a hole, a
    /// shared buffer or too little headroom.
    fn prepend(&mut self, i: usize, n: usize) -> Option<&mut [u8]>;

    /// Cuts packet `i` to its first `len` bytes (a decapsulated frame's trailing padding);
    /// false, leaving it unchanged, for a hole, a shared buffer, a packet of several segments
    /// or one shorter than `len`.
    fn truncate(&mut self, i: usize, len: usize) -> bool;

    /// Grows packet `i` by `len` bytes at the front and writes the last `len` bytes of `block`
    /// there: a tunnel's ready outer header, right-aligned in a block of fixed size. Where the
    /// headroom holds the whole block, the whole block may be written (its first bytes land in
    /// the headroom before the header, which nothing reads): one copy of one size for every
    /// header length, no call. False, leaving the packet unchanged, for a hole, a shared buffer,
    /// too little headroom or `len` over `N`.
    fn prepend_block<const N: usize>(&mut self, i: usize, block: &[u8; N], len: usize) -> bool {
        let Some(header) = block.get(N.saturating_sub(len)..).filter(|_| len <= N) else { return false };
        match self.prepend(i, len).and_then(|data| data.get_mut(..len)) {
            Some(front) => {
                front.copy_from_slice(header);
                true
            }
            None => false,
        }
    }
}

/// A packet on the heap with a configurable headroom, for tests. `share` shares the bytes as an
/// mbuf's reference count does.
#[derive(Debug)]
pub struct TestBuf {
    /// Headroom followed by the packet.
    storage: Arc<Vec<u8>>,
    /// Where the packet starts in `storage` (= the headroom left).
    start: usize,
}

impl PartialEq for TestBuf {
    fn eq(&self, other: &Self) -> bool {
        self.data() == other.data()
    }
}

impl Eq for TestBuf {}

impl TestBuf {
    /// The headroom of `from_bytes`: DPDK's default mbuf headroom.
    pub const DEFAULT_HEADROOM: usize = 128;

    /// Filler of the headroom, so that a test relying on prepended bytes being zero fails.
    const HEADROOM_FILLER: u8 = 0xa5;

    /// A copy of `packet` behind `DEFAULT_HEADROOM` bytes of headroom.
    pub fn from_bytes(packet: &[u8]) -> Self {
        Self::with_headroom(packet, Self::DEFAULT_HEADROOM)
    }

    /// A copy of `packet` behind `headroom` bytes of headroom.
    pub fn with_headroom(packet: &[u8], headroom: usize) -> Self {
        let mut storage = vec![Self::HEADROOM_FILLER; headroom];
        storage.extend_from_slice(packet);
        TestBuf { storage: Arc::new(storage), start: headroom }
    }

    /// Bytes that `prepend` can still add.
    pub fn headroom(&self) -> usize {
        self.start
    }

    /// Whether another handle shares the bytes.
    pub fn is_shared(&self) -> bool {
        Arc::strong_count(&self.storage) > 1
    }
}

impl PacketBuf for TestBuf {
    fn data(&self) -> &[u8] {
        self.storage.get(self.start..).unwrap_or_default()
    }

    fn data_mut(&mut self) -> Option<&mut [u8]> {
        Some(Arc::get_mut(&mut self.storage)?.get_mut(self.start..).unwrap_or_default())
    }

    fn prepend(&mut self, n: usize) -> bool {
        match self.start.checked_sub(n) {
            Some(start) if !self.is_shared() => {
                self.start = start;
                true
            }
            _ => false,
        }
    }

    fn trim_front(&mut self, n: usize) -> bool {
        match self.start.checked_add(n) {
            Some(start) if start <= self.storage.len() && !self.is_shared() => {
                self.start = start;
                true
            }
            _ => false,
        }
    }

    fn pkt_len(&self) -> u32 {
        u32::try_from(self.data().len()).unwrap_or(u32::MAX)
    }

    fn share(&self) -> Self {
        TestBuf { storage: Arc::clone(&self.storage), start: self.start }
    }

    fn deep_copy(&self) -> Option<Self> {
        Some(TestBuf { storage: Arc::new(self.storage.to_vec()), start: self.start })
    }
}

/// A receive burst of `TestBuf`s, for tests of the burst stages.
#[cfg(test)]
#[derive(Debug, Default)]
pub struct TestBurst {
    slots: Vec<Option<TestBuf>>,
}

#[cfg(test)]
impl TestBurst {
    /// A burst of copies of `frames`.
    pub fn of(frames: &[&[u8]]) -> TestBurst {
        TestBurst { slots: frames.iter().map(|frame| Some(TestBuf::from_bytes(frame))).collect() }
    }

    /// The packets no action took (they would be freed with the burst).
    pub fn left(&self) -> usize {
        self.slots.iter().flatten().count()
    }
}

#[cfg(test)]
impl PacketBurst for TestBurst {
    type Packet = TestBuf;

    fn len(&self) -> usize {
        self.slots.len()
    }

    fn data(&self, i: usize) -> &[u8] {
        self.slots.get(i).and_then(Option::as_ref).map(PacketBuf::data).unwrap_or_default()
    }

    fn pkt_len(&self, i: usize) -> u32 {
        self.slots.get(i).and_then(Option::as_ref).map_or(0, PacketBuf::pkt_len)
    }

    fn prefetch(&self, _i: usize) {}

    fn trim_front(&mut self, i: usize, n: usize) -> bool {
        self.slots.get_mut(i).and_then(Option::as_mut).is_some_and(|packet| packet.trim_front(n))
    }

    fn prepend(&mut self, i: usize, n: usize) -> Option<&mut [u8]> {
        let packet = self.slots.get_mut(i).and_then(Option::as_mut)?;
        if !packet.prepend(n) {
            return None;
        }
        packet.data_mut()
    }

    fn truncate(&mut self, i: usize, len: usize) -> bool {
        let Some(packet) = self.slots.get_mut(i).and_then(Option::as_mut) else { return false };
        let end = packet.start + len;
        match Arc::get_mut(&mut packet.storage) {
            Some(storage) if end <= storage.len() => {
                storage.truncate(end);
                true
            }
            _ => false,
        }
    }

    fn take(&mut self, i: usize) -> Option<TestBuf> {
        self.slots.get_mut(i)?.take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_block_prepends_its_last_bytes_or_changes_nothing() {
        let block: [u8; 8] = [1, 2, 3, 4, 5, 6, 7, 8];
        let mut burst = TestBurst { slots: vec![Some(TestBuf::with_headroom(&[9, 9], 3)), None] };
        assert!(!burst.prepend_block(0, &block, 9), "longer than the block");
        assert!(!burst.prepend_block(0, &block, 4), "more than the headroom");
        assert!(!burst.prepend_block(1, &block, 1), "a hole");
        assert_eq!(burst.data(0), [9, 9]);
        assert!(burst.prepend_block(0, &block, 3));
        assert_eq!(burst.data(0), [6, 7, 8, 9, 9]);

        let shared = TestBuf::from_bytes(&[9]);
        let _other = shared.share();
        let mut burst = TestBurst { slots: vec![Some(shared)] };
        assert!(!burst.prepend_block(0, &block, 2), "a shared buffer");
    }
}
