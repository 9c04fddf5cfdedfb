//! `PacketBuf`, the packet-buffer abstraction the datapath is generic over, and `TestBuf`, its
//! heap implementation for tests (the DPDK mbuf implementation lives in `crate::dpdk`).

/// One packet in a buffer with headroom: contiguous bytes starting at the first header.
pub trait PacketBuf {
    /// The packet, from its first byte to its last.
    fn data(&self) -> &[u8];

    /// The packet, writable.
    fn data_mut(&mut self) -> &mut [u8];

    /// Grows the packet by `n` bytes at the front; their content is unspecified. Returns false,
    /// leaving the packet unchanged, if the headroom is smaller than `n`.
    fn prepend(&mut self, n: usize) -> bool;

    /// Drops the first `n` bytes. Returns false, leaving the packet unchanged, if the packet is
    /// shorter than `n`.
    fn trim_front(&mut self, n: usize) -> bool;
}

/// A packet on the heap with a configurable headroom, for tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestBuf {
    /// Headroom followed by the packet.
    storage: Vec<u8>,
    /// Where the packet starts in `storage` (= the headroom left).
    start: usize,
}

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
        TestBuf { storage, start: headroom }
    }

    /// Bytes that `prepend` can still add.
    pub fn headroom(&self) -> usize {
        self.start
    }
}

impl PacketBuf for TestBuf {
    fn data(&self) -> &[u8] {
        self.storage.get(self.start..).unwrap_or_default()
    }

    fn data_mut(&mut self) -> &mut [u8] {
        self.storage.get_mut(self.start..).unwrap_or_default()
    }

    fn prepend(&mut self, n: usize) -> bool {
        match self.start.checked_sub(n) {
            Some(start) => {
                self.start = start;
                true
            }
            None => false,
        }
    }

    fn trim_front(&mut self, n: usize) -> bool {
        match self.start.checked_add(n) {
            Some(start) if start <= self.storage.len() => {
                self.start = start;
                true
            }
            _ => false,
        }
    }
}
