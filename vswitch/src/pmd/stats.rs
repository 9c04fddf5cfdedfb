//! Per-PMD counters: kept in plain integers by the PMD that owns them and
//! published to the management thread with relaxed stores into the PMD's
//! own cache lines, so no line is written by two cores per packet.
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use crate::datapath::MAX_PORTS;

/// Why the switch dropped a packet.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DropReason {
    /// No rule matched in table 0 (counted on the input port).
    TableMiss,
    /// The pipeline ran and sent the packet nowhere: a drop action, or no
    /// output (input port).
    #[default]
    ActionDrop,
    /// Output to a port that is gone, or that this PMD has no transmit queue on (input port).
    NoSuchPort,
    /// The device did not take the packet: tx queue full, or a vhost-user
    /// guest not connected (counted on the output port).
    TxFailed,
    /// dec_ttl found a TTL of 0 or 1 and nothing else forwarded the packet
    /// (input port).
    TtlExpired,
    /// The pipeline stopped: resubmit loop, too many actions, unknown input
    /// port (input port).
    PipelineError,
    /// A packet-in not handed on: over the PMD's packet-in limit for the bridge, or the
    /// queue to the management thread full (input port). The packet's other outputs stand.
    PacketInLimit,
    /// A header rewrite did not apply to a malformed packet (input port).
    RewriteFailed,
    /// No packet buffer for a copy to a second output (input port).
    NoBuffer,
    /// The input port is configured down or no-recv by a controller (input port).
    PortConfig,
    /// A meter's drop band (input port).
    MeterDrop,
    /// A frame shorter than an Ethernet header (input port), as Open vSwitch's
    /// `datapath_drop_rx_invalid_packet`.
    RxInvalidPacket,
}

impl DropReason {
    pub const ALL: [DropReason; 12] = [
        DropReason::TableMiss,
        DropReason::ActionDrop,
        DropReason::NoSuchPort,
        DropReason::TxFailed,
        DropReason::TtlExpired,
        DropReason::PipelineError,
        DropReason::PacketInLimit,
        DropReason::RewriteFailed,
        DropReason::NoBuffer,
        DropReason::PortConfig,
        DropReason::MeterDrop,
        DropReason::RxInvalidPacket,
    ];

    pub fn name(self) -> &'static str {
        match self {
            DropReason::TableMiss => "table_miss",
            DropReason::ActionDrop => "action_drop",
            DropReason::NoSuchPort => "no_such_port",
            DropReason::TxFailed => "tx_failed",
            DropReason::TtlExpired => "ttl_expired",
            DropReason::PipelineError => "pipeline_error",
            DropReason::PacketInLimit => "packet_in_limit",
            DropReason::RewriteFailed => "rewrite_failed",
            DropReason::NoBuffer => "no_buffer",
            DropReason::PortConfig => "port_config",
            DropReason::MeterDrop => "meter_drop",
            DropReason::RxInvalidPacket => "rx_invalid_packet",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Per-PMD counters, by index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PmdCounter {
    Iterations,
    Packets,
    Bursts,
    BusyCycles,
    IdleCycles,
    Sleeps,
    /// Packets whose headers repeat the packet before them: they take its
    /// result without a lookup (or upcall).
    RepeatHits,
    EmcHits,
    MegaflowHits,
    Upcalls,
    UpcallCycles,
    CacheFlushes,
    /// Datapath versions taken without a flush: the caches were revalidated against what
    /// changed.
    Revalidations,
    /// Megaflows checked by revalidations.
    MegaflowsRevalidated,
    /// Megaflows revalidations removed (the others were kept).
    MegaflowsInvalidated,
    /// A gauge (until cleared): the most cycles one version switch took (flush or
    /// revalidation, queue hand-over included).
    VersionSwitchMaxCycles,
    /// A gauge: megaflows installed now.
    Megaflows,
    /// A gauge: 1 while the EMC is bypassed (the gate: too few hits; or a megaflow table small
    /// enough to scan).
    EmcBypass,
    /// Subtables probed by megaflow lookups.
    SubtableLookups,
    /// Packets queued for the controllers.
    PacketIns,
    /// Packet-outs run.
    PacketOuts,
}
const PMD_COUNTERS: usize = 21;

/// Per-port counters a PMD keeps: rx, tx, then one per drop reason.
const PORT_RX: usize = 0;
const PORT_TX: usize = 1;
const PORT_COUNTERS: usize = 2 + DropReason::ALL.len();

/// A PMD's counters as plain numbers (the PMD's working copy, and what the
/// management thread reads back).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PmdCounters {
    pmd: [u64; PMD_COUNTERS],
    ports: [[u64; PORT_COUNTERS]; MAX_PORTS],
}

impl Default for PmdCounters {
    fn default() -> Self {
        PmdCounters { pmd: [0; PMD_COUNTERS], ports: [[0; PORT_COUNTERS]; MAX_PORTS] }
    }
}

impl PmdCounters {
    #[inline]
    pub fn add(&mut self, counter: PmdCounter, n: u64) {
        self.pmd[counter as usize] += n;
    }

    #[inline]
    pub fn set(&mut self, counter: PmdCounter, n: u64) {
        self.pmd[counter as usize] = n;
    }

    /// Raises a gauge to `n` if it is lower.
    pub fn raise(&mut self, counter: PmdCounter, n: u64) {
        let gauge = &mut self.pmd[counter as usize];
        *gauge = (*gauge).max(n);
    }

    pub fn get(&self, counter: PmdCounter) -> u64 {
        self.pmd[counter as usize]
    }

    #[inline]
    pub fn port_rx(&mut self, port: u16, n: u64) {
        self.ports[usize::from(port) % MAX_PORTS][PORT_RX] += n;
    }

    #[inline]
    pub fn port_tx(&mut self, port: u16, n: u64) {
        self.ports[usize::from(port) % MAX_PORTS][PORT_TX] += n;
    }

    #[inline]
    pub fn port_drop(&mut self, port: u16, reason: DropReason, n: u64) {
        self.ports[usize::from(port) % MAX_PORTS][2 + reason.index()] += n;
    }

    pub fn port_drops(&self, port: u16, reason: DropReason) -> u64 {
        self.ports[usize::from(port) % MAX_PORTS][2 + reason.index()]
    }

    pub fn port_rx_packets(&self, port: u16) -> u64 {
        self.ports[usize::from(port) % MAX_PORTS][PORT_RX]
    }

    pub fn port_tx_packets(&self, port: u16) -> u64 {
        self.ports[usize::from(port) % MAX_PORTS][PORT_TX]
    }

    /// Zeroes the per-PMD counters; per-port counters are cumulative.
    pub fn clear_pmd(&mut self) {
        self.pmd = [0; PMD_COUNTERS];
    }
}

/// The published copy, in the PMD's own cache lines.
#[repr(align(64))]
pub struct SharedCounters {
    pmd: [AtomicU64; PMD_COUNTERS],
    ports: [[AtomicU64; PORT_COUNTERS]; MAX_PORTS],
}

impl Default for SharedCounters {
    fn default() -> Self {
        SharedCounters {
            pmd: std::array::from_fn(|_| AtomicU64::new(0)),
            ports: std::array::from_fn(|_| std::array::from_fn(|_| AtomicU64::new(0))),
        }
    }
}

impl SharedCounters {
    /// Called by the owning PMD only: plain stores, no read-modify-write.
    pub fn publish(&self, local: &PmdCounters) {
        for (shared, value) in self.pmd.iter().zip(local.pmd.iter()) {
            shared.store(*value, Ordering::Relaxed);
        }
        for (shared_port, port) in self.ports.iter().zip(local.ports.iter()) {
            for (shared, value) in shared_port.iter().zip(port.iter()) {
                shared.store(*value, Ordering::Relaxed);
            }
        }
    }

    pub fn read(&self) -> PmdCounters {
        let mut out = PmdCounters::default();
        for (value, shared) in out.pmd.iter_mut().zip(self.pmd.iter()) {
            *value = shared.load(Ordering::Relaxed);
        }
        for (port, shared_port) in out.ports.iter_mut().zip(self.ports.iter()) {
            for (value, shared) in port.iter_mut().zip(shared_port.iter()) {
                *value = shared.load(Ordering::Relaxed);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publish_and_read_back() {
        let mut local = PmdCounters::default();
        local.add(PmdCounter::Packets, 64);
        local.port_rx(3, 10);
        local.port_tx(4, 9);
        local.port_drop(4, DropReason::TxFailed, 1);
        let shared = SharedCounters::default();
        shared.publish(&local);
        let read = shared.read();
        assert_eq!(read, local);
        assert_eq!(read.port_drops(4, DropReason::TxFailed), 1);
        assert_eq!(read.port_drops(3, DropReason::TxFailed), 0);
    }

    #[test]
    fn clear_keeps_port_counters() {
        let mut local = PmdCounters::default();
        local.add(PmdCounter::Bursts, 2);
        local.port_rx(1, 5);
        local.clear_pmd();
        assert_eq!(local.get(PmdCounter::Bursts), 0);
        assert_eq!(local.port_rx_packets(1), 5);
    }
}
