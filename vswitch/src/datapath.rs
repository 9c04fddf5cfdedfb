//! The immutable forwarding state the PMD threads run on. The management
//! thread builds a new `Datapath` for every change (ports, rules, rx-queue
//! placement) and hands it to each PMD, which switches at its next
//! quiescent point (the top of a poll iteration); see `pmd` and `switch`.
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::dpdk::ethdev::{RxQueue, TxQueue};
use crate::pmd::stats::DropReason;

/// Highest DPDK port id + 1 (RTE_MAX_ETHPORTS of the system DPDK).
pub const MAX_PORTS: usize = dpdk_sys::RTE_MAX_ETHPORTS as usize;

/// One version of the forwarding state.
#[derive(Debug, Default)]
pub struct Datapath {
    pub version: u64,
    /// Per PMD (by index): the rx queues it polls.
    pub pmd_rxqs: Vec<Vec<RxqWork>>,
    /// Per PMD (by index), per DPDK port id: where that PMD transmits.
    pub pmd_tx: Vec<Vec<Option<TxTarget>>>,
}

/// An rx queue and what happens to the packets that arrive on it.
#[derive(Debug, Clone)]
pub struct RxqWork {
    pub rxq: RxQueue,
    pub action: PortAction,
}

/// The bridge's decision for every packet of an input port. With rules that
/// match on in_port only it does not depend on the packet, so it is resolved
/// once per table version instead of once per packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortAction {
    /// Send to these DPDK ports (a copy each); never empty.
    Output(Box<[u16]>),
    Drop(DropReason),
}

/// A PMD's transmit queue on one port; `lock` is set when the device has
/// fewer tx queues than there are PMDs and this queue is shared.
#[derive(Debug, Clone)]
pub struct TxTarget {
    pub queue: TxQueue,
    pub lock: Option<Arc<TxLock>>,
}

/// Serialises PMDs that share a tx queue; taken once per tx burst, never
/// per packet, and only on devices with too few tx queues.
#[derive(Debug, Default)]
pub struct TxLock(AtomicBool);

impl TxLock {
    pub fn lock(&self) -> TxLockGuard<'_> {
        while self.0.compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed).is_err() {
            std::hint::spin_loop();
        }
        TxLockGuard(self)
    }
}

pub struct TxLockGuard<'a>(&'a TxLock);

impl Drop for TxLockGuard<'_> {
    fn drop(&mut self) {
        (self.0).0.store(false, Ordering::Release);
    }
}
