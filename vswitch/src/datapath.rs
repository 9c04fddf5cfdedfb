//! The immutable forwarding state the PMD threads run on. The management
//! thread builds a new `Datapath` for every change (ports, rules, MAC table,
//! rx-queue placement) and hands it to each PMD, which switches at its next
//! quiescent point (the top of a poll iteration) and flushes its caches;
//! see `pmd` and `switch`.
#![forbid(unsafe_code)]
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::config::PacketInLimit;
use crate::dpdk::ethdev::{RxQueue, TxQueue};
use crate::pipeline::group::GroupHit;
use crate::pipeline::meter::Meter;
use crate::pipeline::table::{RuleEntry, TablesSnapshot};
use crate::pipeline::xlate::{BridgePort, DpAction, MacTable};

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
    /// The bridges' pipelines; `RxqWork::bridge` indexes this.
    pub bridges: Vec<Arc<BridgeDp>>,
}

/// What the slow path of one bridge reads.
#[derive(Debug, Default)]
pub struct BridgeDp {
    pub name: String,
    pub tables: TablesSnapshot,
    pub ports: Vec<BridgePort>,
    pub macs: MacTable,
    /// Packet-ins each PMD hands on at most.
    pub packet_in_limit: PacketInLimit,
    /// The bridge's meters, by id.
    pub meters: Vec<Arc<Meter>>,
}

/// An rx queue, its bridge, and - when the bridge's rules decide for every
/// packet of the port alike - that decision.
#[derive(Debug, Clone)]
pub struct RxqWork {
    pub rxq: RxQueue,
    pub bridge: usize,
    /// Set when the pipeline's result depends on nothing but the input port
    /// and only outputs (a megaflow whose mask is in_port alone): packets
    /// of this queue then skip parsing and the caches.
    pub fixed: Option<Arc<FlowActions>>,
}

/// The cached result of the pipeline for a megaflow, with what the PMD
/// asks of it per burst worked out once. Laid out in this order (`repr(C)`):
/// what every run of packets reads first, next to the reference count, then
/// what only some runs read, then what only the counter reports read - so a
/// run touches one cache line of it.
#[derive(Debug, Default)]
#[repr(C)]
pub struct FlowActions {
    /// The single output port when that is all the actions do.
    pub only_output: Option<u16>,
    /// Nothing leaves and nothing goes to a controller: the packets are
    /// dropped without running the actions.
    pub drops_all: bool,
    /// Why the packet is dropped when there is no output.
    pub drop_reason: crate::pmd::stats::DropReason,
    pub actions: Box<[DpAction]>,
    /// Every output port, in order.
    pub output_ports: Box<[u16]>,
    /// The rules that decided, for their counters.
    pub rules: Box<[Arc<RuleEntry>]>,
    /// The groups and buckets the packets go through, for their counters.
    pub groups: Box<[GroupHit]>,
}

impl FlowActions {
    pub fn new(
        actions: Vec<DpAction>,
        rules: Vec<Arc<RuleEntry>>,
        groups: Vec<GroupHit>,
        drop_reason: crate::pmd::stats::DropReason,
    ) -> FlowActions {
        let only_output = match actions.as_slice() {
            [DpAction::Output(port)] => Some(*port),
            _ => None,
        };
        let output_ports: Box<[u16]> = actions
            .iter()
            .filter_map(|a| match a {
                DpAction::Output(port) => Some(*port),
                _ => None,
            })
            .collect();
        let drops_all = output_ports.is_empty() && !actions.iter().any(|a| matches!(a, DpAction::Controller(_)));
        FlowActions {
            actions: actions.into(),
            rules: rules.into(),
            groups: groups.into(),
            only_output,
            output_ports,
            drops_all,
            drop_reason,
        }
    }
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
