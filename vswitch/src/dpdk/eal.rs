//! EAL life cycle (one per process), thread registration for PMD threads
//! and the time-stamp counter.
use std::ffi::{c_char, CString};
use std::sync::atomic::{AtomicBool, Ordering};

use super::DpdkError;

static EAL_STARTED: AtomicBool = AtomicBool::new(false);

/// The initialised Environment Abstraction Layer. Dropping it runs
/// `rte_eal_cleanup`, so it must outlive every port, pool and PMD thread.
pub struct Eal {
    tsc_hz: u64,
}

impl Eal {
    /// Runs `rte_eal_init` with `args` (args[0] is the program name). The
    /// calling thread becomes the main lcore and is pinned to its core.
    pub fn init(args: &[String]) -> Result<Eal, DpdkError> {
        if EAL_STARTED.swap(true, Ordering::SeqCst) {
            return Err(DpdkError::from_code("rte_eal_init: EAL already initialised", libc::EALREADY));
        }
        let owned: Vec<CString> = args
            .iter()
            .map(|a| CString::new(a.as_str()))
            .collect::<Result<_, _>>()
            .map_err(|_| DpdkError::from_code("rte_eal_init: argument contains NUL", libc::EINVAL))?;
        // rte_eal_init may permute argv and keeps pointers into it: leak it.
        let argv: &'static mut [*mut c_char] = Vec::leak(owned.into_iter().map(CString::into_raw).collect::<Vec<_>>());
        let argc = i32::try_from(argv.len()).unwrap_or(i32::MAX);
        // SAFETY: argv holds argc valid, NUL-terminated strings that live for
        // the rest of the process; EAL is initialised at most once (checked above).
        let rc = unsafe { dpdk_sys::rte_eal_init(argc, argv.as_mut_ptr()) };
        if rc < 0 {
            return Err(DpdkError::from_rte_errno("rte_eal_init"));
        }
        // SAFETY: EAL is initialised.
        let tsc_hz = unsafe { dpdk_sys::rte_get_tsc_hz() };
        Ok(Eal { tsc_hz })
    }

    /// Time-stamp counter ticks per second.
    pub fn tsc_hz(&self) -> u64 {
        self.tsc_hz
    }
}

impl Drop for Eal {
    fn drop(&mut self) {
        // SAFETY: every DPDK object is released by its owner before the
        // Eal is dropped (the switch drops ports and pools first).
        unsafe { dpdk_sys::rte_eal_cleanup() };
    }
}

/// Registers the calling (non-EAL) thread as an lcore so that it gets a
/// lcore id and with it a mempool cache; without it a PMD runs at half speed.
/// Unregistered again when the guard is dropped.
pub struct ThreadRegistration {
    lcore: u32,
    /// Registration is per OS thread: the guard must stay on it.
    _not_send: std::marker::PhantomData<*const ()>,
}

impl ThreadRegistration {
    pub fn register(_eal: &Eal) -> Result<ThreadRegistration, DpdkError> {
        // SAFETY: EAL is initialised (we hold a reference to it).
        let rc = unsafe { dpdk_sys::rte_thread_register() };
        if rc < 0 {
            return Err(DpdkError::from_rte_errno("rte_thread_register"));
        }
        // SAFETY: reads this thread's lcore id; no preconditions.
        let lcore = unsafe { dpdk_sys::rte_lcore_id() };
        Ok(ThreadRegistration { lcore, _not_send: std::marker::PhantomData })
    }

    pub fn lcore(&self) -> u32 {
        self.lcore
    }
}

impl Drop for ThreadRegistration {
    fn drop(&mut self) {
        // SAFETY: this thread was registered by `register` (the guard is !Send).
        unsafe { dpdk_sys::rte_thread_unregister() };
    }
}

/// Reads the time-stamp counter.
#[inline(always)]
pub fn rdtsc() -> u64 {
    // SAFETY: RDTSC has no preconditions on x86_64.
    unsafe { core::arch::x86_64::_rdtsc() }
}
