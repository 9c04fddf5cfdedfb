//! Per-PMD counters: kept in plain integers by the PMD that owns them and
//! published to the management thread with relaxed stores into the PMD's
//! own cache lines, so no line is written by two cores per packet.
use std::sync::atomic::{AtomicU64, Ordering};

use crate::datapath::MAX_DP_PORTS;
use crate::pipeline::xlate::TunnelMiss;
use crate::tunnel::header::DecapError;

/// Why the switch dropped a packet.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
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
    /// A tunnel output found no route to the remote endpoint (input port).
    TunnelNoRoute,
    /// A tunnel output's next hop is not resolved yet: the switch asks for it (input port).
    TunnelNeighbourUnresolved,
    /// A tunnel output's outer header could not be built or the underlay bridge rewrites the
    /// outer packet (input port).
    TunnelBadHeader,
    /// No headroom, or a shared buffer, for a tunnel's outer header (input port).
    TunnelNoHeadroom,
    /// A packet for a local tunnel endpoint that no tunnel port receives: unknown VNI / key,
    /// remote or UDP port (the underlay port it came in on).
    TunnelUnknownPort,
    /// A packet for a local tunnel endpoint that is not valid, by reason (the underlay port).
    Decap(DecapError),
    /// Output to a bridge's LOCAL port (the switch's own stack) over its limit (input port).
    LocalLimit,
    /// A tunnel output whose outer packet would be longer than the MTU of the underlay port it
    /// leaves by (input port): nothing is fragmented.
    TunnelTooBig,
    /// A packet for a local tunnel endpoint longer than the MTU of the underlay port it came in
    /// on: its inner frame is larger than the overlay allows (the underlay port).
    TunnelOversize,
    /// A push_mpls or pop_mpls on a label stack deeper than the flow key keeps (three entries),
    /// as Open vSwitch drops it (input port).
    MplsTooDeep,
}

impl DropReason {
    pub const ALL: [DropReason; 31] = [
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
        DropReason::TunnelNoRoute,
        DropReason::TunnelNeighbourUnresolved,
        DropReason::TunnelBadHeader,
        DropReason::TunnelNoHeadroom,
        DropReason::TunnelUnknownPort,
        DropReason::Decap(DecapError::ALL[0]),
        DropReason::Decap(DecapError::ALL[1]),
        DropReason::Decap(DecapError::ALL[2]),
        DropReason::Decap(DecapError::ALL[3]),
        DropReason::Decap(DecapError::ALL[4]),
        DropReason::Decap(DecapError::ALL[5]),
        DropReason::Decap(DecapError::ALL[6]),
        DropReason::Decap(DecapError::ALL[7]),
        DropReason::Decap(DecapError::ALL[8]),
        DropReason::Decap(DecapError::ALL[9]),
        DropReason::LocalLimit,
        DropReason::TunnelTooBig,
        DropReason::TunnelOversize,
        DropReason::MplsTooDeep,
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
            DropReason::TunnelNoRoute => "tunnel_no_route",
            DropReason::TunnelNeighbourUnresolved => "tunnel_neighbour_unresolved",
            DropReason::TunnelBadHeader => "tunnel_bad_header",
            DropReason::TunnelNoHeadroom => "tunnel_no_headroom",
            DropReason::TunnelUnknownPort => "tunnel_unknown_port",
            DropReason::Decap(error) => error.counter_name(),
            DropReason::LocalLimit => "local_limit",
            DropReason::TunnelTooBig => "tunnel_too_big",
            DropReason::TunnelOversize => "tunnel_oversize",
            DropReason::MplsTooDeep => "mpls_too_deep",
        }
    }

    /// Why a translation whose only tunnel output sent nothing drops.
    pub fn of_tunnel_miss(miss: TunnelMiss) -> DropReason {
        match miss {
            TunnelMiss::NoRoute | TunnelMiss::NoSourceAddress => DropReason::TunnelNoRoute,
            TunnelMiss::NeighbourUnresolved { .. } => DropReason::TunnelNeighbourUnresolved,
            TunnelMiss::BadHeader | TunnelMiss::UnderlayRewrite => DropReason::TunnelBadHeader,
        }
    }

    #[inline]
    fn index(self) -> usize {
        match self {
            DropReason::TableMiss => 0,
            DropReason::ActionDrop => 1,
            DropReason::NoSuchPort => 2,
            DropReason::TxFailed => 3,
            DropReason::TtlExpired => 4,
            DropReason::PipelineError => 5,
            DropReason::PacketInLimit => 6,
            DropReason::RewriteFailed => 7,
            DropReason::NoBuffer => 8,
            DropReason::PortConfig => 9,
            DropReason::MeterDrop => 10,
            DropReason::RxInvalidPacket => 11,
            DropReason::TunnelNoRoute => 12,
            DropReason::TunnelNeighbourUnresolved => 13,
            DropReason::TunnelBadHeader => 14,
            DropReason::TunnelNoHeadroom => 15,
            DropReason::TunnelUnknownPort => 16,
            DropReason::Decap(error) => 17 + error as usize,
            DropReason::LocalLimit => 27,
            DropReason::TunnelTooBig => 28,
            DropReason::TunnelOversize => 29,
            DropReason::MplsTooDeep => 30,
        }
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
    /// Packets of tunnel outputs whose next hop is unresolved, copied to the management thread
    /// to wait there (those that could not be are dropped as `tunnel_neighbour_unresolved`).
    TunnelHeld,
}
const PMD_COUNTERS: usize = 22;

/// Per-port counters a PMD keeps: rx, tx, then one per drop reason.
const PORT_RX: usize = 0;
const PORT_TX: usize = 1;
const PORT_COUNTERS: usize = 2 + DropReason::ALL.len();

/// A PMD's counters as plain numbers (the PMD's working copy, and what the
/// management thread reads back).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PmdCounters {
    pmd: [u64; PMD_COUNTERS],
    ports: [[u64; PORT_COUNTERS]; MAX_DP_PORTS],
}

impl Default for PmdCounters {
    fn default() -> Self {
        PmdCounters { pmd: [0; PMD_COUNTERS], ports: [[0; PORT_COUNTERS]; MAX_DP_PORTS] }
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
        self.ports[usize::from(port) % MAX_DP_PORTS][PORT_RX] += n;
    }

    #[inline]
    pub fn port_tx(&mut self, port: u16, n: u64) {
        self.ports[usize::from(port) % MAX_DP_PORTS][PORT_TX] += n;
    }

    #[inline]
    pub fn port_drop(&mut self, port: u16, reason: DropReason, n: u64) {
        self.ports[usize::from(port) % MAX_DP_PORTS][2 + reason.index()] += n;
    }

    pub fn port_drops(&self, port: u16, reason: DropReason) -> u64 {
        self.ports[usize::from(port) % MAX_DP_PORTS][2 + reason.index()]
    }

    pub fn port_rx_packets(&self, port: u16) -> u64 {
        self.ports[usize::from(port) % MAX_DP_PORTS][PORT_RX]
    }

    pub fn port_tx_packets(&self, port: u16) -> u64 {
        self.ports[usize::from(port) % MAX_DP_PORTS][PORT_TX]
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
    ports: [[AtomicU64; PORT_COUNTERS]; MAX_DP_PORTS],
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
