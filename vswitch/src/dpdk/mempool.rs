//! The packet-buffer (mbuf) pool every port receives into.
use std::ffi::CString;
use std::ptr::NonNull;

use super::DpdkError;

/// A DPDK pktmbuf mempool. Freed on drop: every port using it must be
/// closed first.
pub struct PktMbufPool {
    pool: NonNull<dpdk_sys::rte_mempool>,
    name: String,
}

// SAFETY: a DPDK mempool is designed to be used from many threads at once;
// the counters read here are thread-safe.
unsafe impl Send for PktMbufPool {}
// SAFETY: as above.
unsafe impl Sync for PktMbufPool {}

/// DPDK's default buffer: a 1500-byte MTU frame plus headroom.
#[expect(clippy::cast_possible_truncation, reason = "2176 in DPDK; the assertion below holds it to a u16")]
pub const DEFAULT_DATA_ROOM: u16 = dpdk_sys::RTE_MBUF_DEFAULT_BUF_SIZE as u16;
const _: () = assert!(dpdk_sys::RTE_MBUF_DEFAULT_BUF_SIZE <= u16::MAX as u32);

/// The data room a single-segment mbuf needs for a frame of `mtu` bytes of
/// payload (Ethernet header, two VLAN tags, CRC and the mbuf headroom).
pub fn data_room_for_mtu(mtu: u16) -> u16 {
    let frame = u32::from(mtu) + dpdk_sys::RTE_ETHER_HDR_LEN + 2 * 4 + dpdk_sys::RTE_ETHER_CRC_LEN;
    let needed = frame + dpdk_sys::RTE_PKTMBUF_HEADROOM;
    u16::try_from(needed).unwrap_or(u16::MAX).max(DEFAULT_DATA_ROOM)
}

impl PktMbufPool {
    pub fn create(name: &str, mbufs: u32, cache: u32, data_room: u16) -> Result<PktMbufPool, DpdkError> {
        let c_name = CString::new(name)
            .map_err(|_| DpdkError::from_code("rte_pktmbuf_pool_create: name contains NUL", libc::EINVAL))?;
        // SAFETY: c_name is a valid C string; the EAL is initialised by the
        // caller (a pool can only be created after Eal::init).
        let ptr = unsafe {
            dpdk_sys::rte_pktmbuf_pool_create(c_name.as_ptr(), mbufs, cache, 0, data_room, dpdk_sys::SOCKET_ID_ANY)
        };
        let pool =
            NonNull::new(ptr).ok_or_else(|| DpdkError::from_rte_errno(format!("rte_pktmbuf_pool_create({name})")))?;
        Ok(PktMbufPool { pool, name: name.to_owned() })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Total number of mbufs.
    pub fn size(&self) -> u32 {
        // SAFETY: the pool pointer is valid for self's lifetime.
        unsafe { self.pool.as_ref().size }
    }

    /// Mbufs not in the pool or in any lcore cache: held by rings, PMDs or leaked.
    pub fn in_use(&self) -> u32 {
        // SAFETY: the pool pointer is valid for self's lifetime.
        unsafe { dpdk_sys::rte_mempool_in_use_count(self.pool.as_ptr()) }
    }

    /// Bytes one mbuf holds, headroom included.
    pub fn data_room(&self) -> u16 {
        // SAFETY: the pool pointer is valid and was made by rte_pktmbuf_pool_create.
        unsafe { dpdk_sys::rte_pktmbuf_data_room_size(self.pool.as_ptr()) }
    }

    /// Whether a frame of this MTU fits one mbuf.
    pub fn fits_mtu(&self, mtu: u16) -> bool {
        data_room_for_mtu(mtu) <= self.data_room()
    }

    pub fn available(&self) -> u32 {
        // SAFETY: the pool pointer is valid for self's lifetime.
        unsafe { dpdk_sys::rte_mempool_avail_count(self.pool.as_ptr()) }
    }

    pub(crate) fn as_ptr(&self) -> *mut dpdk_sys::rte_mempool {
        self.pool.as_ptr()
    }
}

impl Drop for PktMbufPool {
    fn drop(&mut self) {
        // SAFETY: the pool was created by rte_pktmbuf_pool_create and its
        // users (ports) are closed before the pool is dropped.
        unsafe { dpdk_sys::rte_mempool_free(self.pool.as_ptr()) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_mtu_uses_the_default_buffer() {
        assert_eq!(data_room_for_mtu(1500), DEFAULT_DATA_ROOM);
        assert_eq!(data_room_for_mtu(68), DEFAULT_DATA_ROOM);
    }

    #[test]
    fn jumbo_mtu_gets_a_buffer_that_holds_the_frame() {
        let room = data_room_for_mtu(9000);
        assert!(u32::from(room) >= 9000 + 14 + 8 + 4 + dpdk_sys::RTE_PKTMBUF_HEADROOM);
    }
}
