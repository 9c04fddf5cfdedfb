//! The only safe wrappers around dpdk-sys: EAL, the packet-buffer pool, owned
//! mbuf bursts and ethdev ports (DPDK ports and vhost-user ports, which DPDK
//! exposes as net_vhost ethdevs), and the two CPU instructions the datapath
//! takes from DPDK's toolbox (`rte_prefetch0`, `rte_hash_crc_8byte`). Every
//! `unsafe` block of the switch outside dpdk-sys lives in this module, each
//! with a `// SAFETY:` line.
pub mod eal;
pub mod ethdev;
pub mod mbuf;
pub mod mempool;

use std::ffi::CStr;
use std::fmt;

/// A failed DPDK call: what was attempted and DPDK's error text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DpdkError {
    pub operation: String,
    pub code: i32,
}

impl DpdkError {
    /// From a negative (or positive) errno-style return code.
    pub fn from_code(operation: impl Into<String>, code: i32) -> DpdkError {
        DpdkError { operation: operation.into(), code: code.abs() }
    }

    /// From `rte_errno`, for calls that signal failure by return value only.
    pub fn from_rte_errno(operation: impl Into<String>) -> DpdkError {
        // SAFETY: reads DPDK's thread-local rte_errno; no preconditions.
        let code = unsafe { dpdk_sys::dpdk_sys_errno() };
        DpdkError::from_code(operation, code)
    }
}

impl fmt::Display for DpdkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // SAFETY: rte_strerror returns a pointer to a static or thread-local
        // NUL-terminated string for any error number.
        let text = unsafe { CStr::from_ptr(dpdk_sys::rte_strerror(self.code)) };
        write!(f, "{}: {} (error {})", self.operation, text.to_string_lossy(), self.code)
    }
}

impl std::error::Error for DpdkError {}

/// Starts loading the cache line at `address` (any address: a prefetch
/// never faults and changes no memory).
#[inline(always)]
pub fn prefetch<T>(address: *const T) {
    // SAFETY: PREFETCHT0 is a hint; it cannot fault or write, whatever the address.
    unsafe { core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(address.cast()) };
}

/// One step of CRC-32C (Castagnoli) over a 64-bit word, as DPDK's
/// `rte_hash_crc_8byte`: the SSE4.2 `crc32` instruction (3 cycles of latency,
/// one per cycle), the hash step of the datapath caches.
#[inline(always)]
pub fn crc32c_u64(crc: u64, word: u64) -> u64 {
    // SAFETY: the build enables SSE4.2 for all code (.cargo/config.toml; the
    // compile_error below guards it), as the DPDK this links against requires,
    // and vswitchd refuses to start on a CPU without it.
    unsafe { core::arch::x86_64::_mm_crc32_u64(crc, word) }
}

#[cfg(not(target_feature = "sse4.2"))]
compile_error!("build with SSE4.2 enabled (-C target-feature=+sse4.2, set by .cargo/config.toml): DPDK requires it");

/// Turns a DPDK `int` return code into a Result.
fn check(operation: impl FnOnce() -> String, rc: i32) -> Result<(), DpdkError> {
    if rc < 0 {
        Err(DpdkError::from_code(operation(), rc))
    } else {
        Ok(())
    }
}
