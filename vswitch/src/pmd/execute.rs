//! Applying datapath actions to one packet: header rewrites through `packet::rewrite` (checksums
//! kept right), VLAN push/pop, and outputs - the packet itself for the last output, a shared
//! reference when nothing changes it afterwards, a copy otherwise; packet-ins as copies of the
//! packet as it is at the controller action; meters (drop, DSCP remark). Generic over the output
//! ports (and so over the packet buffer), with a drop counted by reason for every packet that
//! does not leave. (Where tunnels come: an encap action pushes the outer headers here, before the
//! output it precedes.)
use std::sync::Arc;

use crate::datapath::MAX_PORTS;
use crate::dpdk::eal::rdtsc;
use crate::flow::key::{mpls, Field};
use crate::flow::PacketInReason;
use crate::packet::proto::{ethertype, vlan};
use crate::packet::rewrite::{self, RewriteError};
use crate::packet::{Layers, PacketBuf};
use crate::pipeline::meter::MeterVerdict;
use crate::pipeline::xlate::{DpAction, PacketInMeta, TunnelPush, NO_DP_PORT};
use crate::pmd::meters::PmdMeters;
use crate::pmd::output::{PacketOf, PortOutputs};
use crate::pmd::packet_in::PacketInQueue;
use crate::pmd::stats::{DropReason, PmdCounter, PmdCounters};
use crate::tunnel::header::inner_flow_hash;

/// What running actions on packets touches: the PMD's output ports, counters, packet-in queue and
/// meters.
pub struct Execution<O> {
    pub ports: O,
    pub counters: PmdCounters,
    pub packet_ins: PacketInQueue,
    pub meters: PmdMeters,
    /// The PMD's index (its meter counters).
    pub pmd: usize,
    /// What goes with a packet to a LOCAL port (`PacketInOrigin::LocalPort`).
    pub local_meta: Arc<PacketInMeta>,
}

/// Where the packets being executed come from: their bridge, and the datapath port they came in
/// on (their drops are counted there), or `NO_DP_PORT` for a packet-out from a controller.
#[derive(Debug, Clone, Copy)]
pub struct Origin {
    pub bridge: usize,
    pub in_port: u16,
}

/// Does the action need the packet as it is (an output, a packet-in, or a tunnel output, which
/// encapsulates a copy unless it is the last)?
fn takes_packet(action: &DpAction) -> bool {
    matches!(
        action,
        DpAction::Output(_) | DpAction::Controller(_) | DpAction::Tunnel(_) | DpAction::HoldForNeighbour(_)
    )
}

/// Does the action change the packet (or may, as a meter's DSCP remark)?
fn changes_packet(action: &DpAction) -> bool {
    !takes_packet(action)
}

impl<O: PortOutputs> Execution<O> {
    /// Runs `actions` on `packet` (parsed into `layers`). A packet that ends in no output is
    /// counted with `no_output`. `flow_hash` spreads tunnel packets over UDP source ports (the
    /// hash of the packet's flow key when the caller has it; else the headers are hashed).
    pub fn execute(
        &mut self,
        origin: Origin,
        mut packet: PacketOf<O>,
        mut layers: Layers,
        actions: &[DpAction],
        no_output: DropReason,
        flow_hash: Option<u32>,
    ) {
        let mut sent = false;
        for (k, action) in actions.iter().enumerate() {
            let rest = &actions[k + 1..];
            let result = match action {
                DpAction::Output(port) => {
                    if !rest.iter().any(takes_packet) {
                        self.output(origin, *port, packet);
                        return;
                    }
                    let copy = if rest.iter().any(changes_packet) { packet.deep_copy() } else { Some(packet.share()) };
                    match copy {
                        Some(copy) => {
                            self.output(origin, *port, copy);
                            sent = true;
                        }
                        None => self.drop_one(origin, DropReason::NoBuffer),
                    }
                    Ok(())
                }
                DpAction::Tunnel(push) => {
                    let hash = flow_hash.unwrap_or_else(|| inner_flow_hash(packet.data()));
                    if !rest.iter().any(takes_packet) {
                        self.tunnel_output(origin, push, packet, hash);
                        return;
                    }
                    match packet.deep_copy() {
                        Some(copy) => {
                            self.tunnel_output(origin, push, copy, hash);
                            sent = true;
                        }
                        None => self.drop_one(origin, DropReason::NoBuffer),
                    }
                    Ok(())
                }
                DpAction::Controller(meta) => {
                    if self.packet_in(origin, &packet, meta) {
                        // An expired TTL's packet-in (for the controllers that asked for them)
                        // does not forward the packet: it still counts as `ttl_expired`.
                        sent |= meta.reason != PacketInReason::InvalidTtl;
                    } else {
                        self.drop_one(origin, DropReason::PacketInLimit);
                    }
                    Ok(())
                }
                DpAction::HoldForNeighbour(meta) => {
                    self.hold_for_neighbour(origin, &packet, meta);
                    // Held or counted as dropped here: either way accounted for.
                    sent = true;
                    Ok(())
                }
                DpAction::SetField { field, value } => set_field(&mut packet, &layers, *field, *value),
                DpAction::SetVlanTci(tci) => rewrite::set_vlan_vid(&mut packet, tci & vlan::VID_MASK)
                    .and_then(|()| rewrite::set_vlan_pcp(&mut packet, (tci >> vlan::PCP_SHIFT) as u8)),
                DpAction::PushVlan { tpid, tci } => rewrite::push_vlan(&mut packet, &mut layers, *tpid, *tci),
                DpAction::PopVlan => rewrite::pop_vlan(&mut packet, &mut layers),
                DpAction::PushMpls { ethertype, lse } => rewrite::push_mpls(&mut packet, &mut layers, *ethertype, *lse),
                DpAction::PopMpls { ethertype } => rewrite::pop_mpls(&mut packet, &mut layers, *ethertype),
                DpAction::CopyTtlIn => rewrite::copy_mpls_ttl_in(&mut packet, &layers),
                DpAction::Meter(id) => {
                    match self.meters.apply(origin.bridge, *id, self.pmd, packet.pkt_len(), rdtsc()) {
                        MeterVerdict::Pass => Ok(()),
                        MeterVerdict::Remark(levels) => rewrite::remark_dscp(&mut packet, &layers, levels),
                        MeterVerdict::Drop => {
                            self.drop_one(origin, DropReason::MeterDrop);
                            return;
                        }
                    }
                }
            };
            if result.is_err() {
                self.drop_one(origin, DropReason::RewriteFailed);
                return;
            }
        }
        if !sent {
            self.drop_one(origin, no_output);
        }
    }

    /// Sends `packet` to `port`, or drops it as `no_such_port` when this PMD has no such port.
    /// A port without a device is a bridge's LOCAL port: the switch's own stack.
    #[inline]
    fn output(&mut self, origin: Origin, port: u16, packet: PacketOf<O>) {
        if self.ports.has_port(port) {
            self.ports.output(&mut self.counters, port, packet);
        } else if usize::from(port) >= MAX_PORTS {
            self.deliver_to_local_stack(origin, port, &packet);
        } else {
            drop(packet);
            self.drop_one(origin, DropReason::NoSuchPort);
        }
    }

    /// Hands a copy of `packet` to the management thread, the stack behind the bridge's LOCAL
    /// port (ARP for its addresses, neighbours), within the bridge's packet-in limit.
    #[cold]
    fn deliver_to_local_stack(&mut self, origin: Origin, port: u16, packet: &PacketOf<O>) {
        let total_len = packet.pkt_len() as usize;
        if self.packet_ins.offer(origin.bridge, &self.local_meta, packet.data(), total_len, rdtsc()) {
            self.counters.port_tx(port, 1);
        } else {
            self.drop_one(origin, DropReason::LocalLimit);
        }
    }

    /// Hands a copy of `packet` to the management thread, which holds it until its tunnel's
    /// next hop resolves, within the bridge's packet-in limit (the packet-ins' bounded queue, a
    /// token bucket of its own: a flood to an unresolved next hop costs a counter per packet,
    /// not a copy, and leaves the controllers' packet-ins alone); a packet not handed on is
    /// dropped as `tunnel_neighbour_unresolved`.
    #[cold]
    fn hold_for_neighbour(&mut self, origin: Origin, packet: &PacketOf<O>, meta: &Arc<PacketInMeta>) {
        let total_len = packet.pkt_len() as usize;
        if self.packet_ins.offer_hold(origin.bridge, meta, packet.data(), total_len, rdtsc()) {
            self.counters.add(PmdCounter::TunnelHeld, 1);
        } else {
            self.drop_one(origin, DropReason::TunnelNeighbourUnresolved);
        }
    }

    /// Encapsulates `packet` (this one is the packet's own or a copy) and sends it on.
    #[inline]
    fn tunnel_output(&mut self, origin: Origin, push: &TunnelPush, mut packet: PacketOf<O>, hash: u32) {
        if !push.fits(packet.pkt_len() as usize) {
            self.drop_one(origin, DropReason::TunnelTooBig);
            return;
        }
        if push.header.push(&mut packet, hash).is_err() {
            self.drop_one(origin, DropReason::TunnelNoHeadroom);
            return;
        }
        self.counters.port_tx(push.dp_port, 1);
        let Some((&last, others)) = push.outputs.split_last() else {
            self.drop_one(origin, DropReason::ActionDrop);
            return;
        };
        for &port in others {
            self.output(origin, port, packet.share());
        }
        self.output(origin, last, packet);
    }

    /// Counts drops of packets from `origin`.
    #[inline]
    pub fn count_drops(&mut self, origin: Origin, reason: DropReason, n: u64) {
        // A packet-out from the controller has no input port to count it on.
        if origin.in_port != NO_DP_PORT {
            self.counters.port_drop(origin.in_port, reason, n);
        }
    }

    #[inline]
    fn drop_one(&mut self, origin: Origin, reason: DropReason) {
        self.count_drops(origin, reason, 1);
    }

    /// Hands a copy of `packet` to the controllers; false when it was not queued.
    fn packet_in(&mut self, origin: Origin, packet: &PacketOf<O>, meta: &Arc<PacketInMeta>) -> bool {
        let total_len = packet.pkt_len() as usize;
        let queued = self.packet_ins.offer(origin.bridge, meta, packet.data(), total_len, rdtsc());
        if queued {
            self.counters.add(PmdCounter::PacketIns, 1);
        }
        queued
    }
}

/// The low byte of a field value.
fn u8_of(value: u128) -> u8 {
    value.to_be_bytes()[15]
}

/// The low `N` bytes of a field value, in network order. (A value is as wide as its field: flow
/// parsing and OpenFlow decoding check it.)
fn bytes<const N: usize>(value: u128) -> [u8; N] {
    let be = value.to_be_bytes();
    let mut out = [0u8; N];
    out.copy_from_slice(&be[16 - N..]);
    out
}

/// Writes one header field; metadata fields (tunnel, registers) have no bytes in the packet and
/// are skipped. ARP's fields are RARP's too (the parser reads both alike).
fn set_field<B: PacketBuf>(packet: &mut B, layers: &Layers, field: Field, value: u128) -> Result<(), RewriteError> {
    let ipv6 = layers.dl_type == ethertype::IPV6;
    let arp = matches!(layers.dl_type, ethertype::ARP | ethertype::RARP);
    match field {
        Field::DlSrc => rewrite::set_eth_src(packet, bytes(value)),
        Field::DlDst => rewrite::set_eth_dst(packet, bytes(value)),
        Field::NwSrc | Field::ArpSpa if arp => rewrite::set_arp_spa(packet, layers, bytes(value)),
        Field::NwDst | Field::ArpTpa if arp => rewrite::set_arp_tpa(packet, layers, bytes(value)),
        Field::NwSrc | Field::ArpSpa => rewrite::set_ipv4_src(packet, layers, bytes(value)),
        Field::NwDst | Field::ArpTpa => rewrite::set_ipv4_dst(packet, layers, bytes(value)),
        Field::NwTos if ipv6 => rewrite::set_ipv6_tc(packet, layers, u8_of(value)),
        Field::NwTos => rewrite::set_ipv4_tos(packet, layers, u8_of(value)),
        Field::NwTtl if ipv6 => rewrite::set_ipv6_hop_limit(packet, layers, u8_of(value)),
        Field::NwTtl => rewrite::set_ipv4_ttl(packet, layers, u8_of(value)),
        Field::Ipv6Src => rewrite::set_ipv6_src(packet, layers, bytes(value)),
        Field::Ipv6Dst => rewrite::set_ipv6_dst(packet, layers, bytes(value)),
        Field::Ipv6Label => rewrite::set_ipv6_label(packet, layers, u32::from_be_bytes(bytes(value))),
        Field::TpSrc => rewrite::set_tp_src(packet, layers, u16::from_be_bytes(bytes(value))),
        Field::TpDst => rewrite::set_tp_dst(packet, layers, u16::from_be_bytes(bytes(value))),
        Field::IcmpType | Field::Icmpv6Type => rewrite::set_icmp_type(packet, layers, u8_of(value)),
        Field::IcmpCode | Field::Icmpv6Code => rewrite::set_icmp_code(packet, layers, u8_of(value)),
        Field::ArpOp => rewrite::set_arp_op(packet, layers, u16::from_be_bytes(bytes(value))),
        Field::ArpSha => rewrite::set_arp_sha(packet, layers, bytes(value)),
        Field::ArpTha => rewrite::set_arp_tha(packet, layers, bytes(value)),
        Field::NdSll => rewrite::set_nd_sll(packet, layers, bytes(value)),
        Field::NdTll => rewrite::set_nd_tll(packet, layers, bytes(value)),
        Field::NdTarget => rewrite::set_nd_target(packet, layers, bytes(value)),
        Field::MplsLabel => {
            let label = u32::from_be_bytes(bytes(value));
            rewrite::set_mpls_lse_bits(packet, layers, 0xf_ffff << mpls::LABEL_SHIFT, label << mpls::LABEL_SHIFT)
        }
        Field::MplsTc => {
            rewrite::set_mpls_lse_bits(packet, layers, 7 << mpls::TC_SHIFT, u32::from(u8_of(value)) << mpls::TC_SHIFT)
        }
        Field::MplsTtl => rewrite::set_mpls_lse_bits(packet, layers, 0xff, u32::from(u8_of(value))),
        _ => Ok(()),
    }
}
