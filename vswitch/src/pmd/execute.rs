//! Applying datapath actions to one packet: header rewrites through
//! `packet::rewrite` (checksums kept right), VLAN push/pop, and outputs -
//! the packet itself for the last output, a shared reference when nothing
//! changes it afterwards, a copy otherwise; packet-ins as copies of the packet
//! as it is at the controller action; meters (drop, DSCP remark).
use std::sync::Arc;

use crate::dpdk::mbuf::Mbuf;
use crate::flow::key::Field;
use crate::packet::rewrite::{self, RewriteError};
use crate::packet::{Layers, PacketBuf};
use crate::pipeline::meter::MeterVerdict;
use crate::pipeline::xlate::{DpAction, PacketInMeta};
use crate::pmd::stats::DropReason;

const ETH_TYPE_ARP: u16 = 0x0806;
const ETH_TYPE_IPV6: u16 = 0x86dd;

/// Where the executed packet goes: implemented by the PMD's output buffers.
pub trait Outputs {
    fn output(&mut self, port: u16, packet: Mbuf);
    /// Counts a drop of one packet arriving on `in_port`.
    fn drop_packet(&mut self, in_port: u16, reason: DropReason);
    /// Hands a copy of `packet` to the controllers; false when it was not queued.
    fn packet_in(&mut self, packet: &Mbuf, meta: &Arc<PacketInMeta>) -> bool;
    /// Runs `packet` through meter `id` of the bridge.
    fn meter(&mut self, id: u32, packet: &Mbuf) -> MeterVerdict;
}

fn is_output(action: &DpAction) -> bool {
    matches!(action, DpAction::Output(_))
}

fn is_rewrite(action: &DpAction) -> bool {
    !matches!(action, DpAction::Output(_) | DpAction::Controller(_))
}

/// Runs `actions` on `packet` (parsed into `layers`). A packet that ends
/// in no output is counted with `no_output` and freed.
pub fn execute<O: Outputs>(
    out: &mut O,
    in_port: u16,
    mut packet: Mbuf,
    mut layers: Layers,
    actions: &[DpAction],
    no_output: DropReason,
) {
    let mut sent = false;
    for (k, action) in actions.iter().enumerate() {
        let rest = &actions[k + 1..];
        let result = match action {
            DpAction::Output(port) => {
                if !rest.iter().any(is_output) {
                    out.output(*port, packet);
                    return;
                }
                let copy = if rest.iter().any(is_rewrite) { packet.deep_copy() } else { Some(packet.share()) };
                match copy {
                    Some(copy) => {
                        out.output(*port, copy);
                        sent = true;
                    }
                    None => out.drop_packet(in_port, DropReason::NoBuffer),
                }
                Ok(())
            }
            DpAction::Controller(meta) => {
                if out.packet_in(&packet, meta) {
                    sent = true;
                } else {
                    out.drop_packet(in_port, DropReason::PacketInLimit);
                }
                Ok(())
            }
            DpAction::SetField { field, value } => set_field(&mut packet, &layers, *field, *value),
            DpAction::SetVlanTci(tci) => rewrite::set_vlan_vid(&mut packet, tci & 0x0fff)
                .and_then(|()| rewrite::set_vlan_pcp(&mut packet, (tci >> 13) as u8)),
            DpAction::PushVlan { tpid, tci } => rewrite::push_vlan(&mut packet, &mut layers, *tpid, *tci),
            DpAction::PopVlan => rewrite::pop_vlan(&mut packet, &mut layers),
            DpAction::Meter(id) => match out.meter(*id, &packet) {
                MeterVerdict::Pass => Ok(()),
                MeterVerdict::Remark(levels) => rewrite::remark_dscp(&mut packet, &layers, levels),
                MeterVerdict::Drop => {
                    out.drop_packet(in_port, DropReason::MeterDrop);
                    return;
                }
            },
        };
        if result.is_err() {
            out.drop_packet(in_port, DropReason::RewriteFailed);
            return;
        }
    }
    if !sent {
        out.drop_packet(in_port, no_output);
    }
}

fn bytes<const N: usize>(value: u128) -> [u8; N] {
    let be = value.to_be_bytes();
    let mut out = [0u8; N];
    out.copy_from_slice(&be[16 - N..]);
    out
}

/// Writes one header field; metadata fields (tunnel, registers) have no
/// bytes in the packet and are skipped.
fn set_field<B: PacketBuf>(packet: &mut B, layers: &Layers, field: Field, value: u128) -> Result<(), RewriteError> {
    let ipv6 = layers.dl_type == ETH_TYPE_IPV6;
    let arp = layers.dl_type == ETH_TYPE_ARP;
    match field {
        Field::DlSrc => rewrite::set_eth_src(packet, bytes(value)),
        Field::DlDst => rewrite::set_eth_dst(packet, bytes(value)),
        Field::NwSrc | Field::ArpSpa if arp => rewrite::set_arp_spa(packet, layers, bytes(value)),
        Field::NwDst | Field::ArpTpa if arp => rewrite::set_arp_tpa(packet, layers, bytes(value)),
        Field::NwSrc | Field::ArpSpa => rewrite::set_ipv4_src(packet, layers, bytes(value)),
        Field::NwDst | Field::ArpTpa => rewrite::set_ipv4_dst(packet, layers, bytes(value)),
        Field::NwTos if ipv6 => rewrite::set_ipv6_tc(packet, layers, value as u8),
        Field::NwTos => rewrite::set_ipv4_tos(packet, layers, value as u8),
        Field::NwTtl if ipv6 => rewrite::set_ipv6_hop_limit(packet, layers, value as u8),
        Field::NwTtl => rewrite::set_ipv4_ttl(packet, layers, value as u8),
        Field::Ipv6Src => rewrite::set_ipv6_src(packet, layers, bytes(value)),
        Field::Ipv6Dst => rewrite::set_ipv6_dst(packet, layers, bytes(value)),
        Field::Ipv6Label => rewrite::set_ipv6_label(packet, layers, value as u32),
        Field::TpSrc => rewrite::set_tp_src(packet, layers, value as u16),
        Field::TpDst => rewrite::set_tp_dst(packet, layers, value as u16),
        Field::IcmpType | Field::Icmpv6Type => rewrite::set_icmp_type(packet, layers, value as u8),
        Field::IcmpCode | Field::Icmpv6Code => rewrite::set_icmp_code(packet, layers, value as u8),
        Field::ArpOp => rewrite::set_arp_op(packet, layers, value as u16),
        Field::ArpSha => rewrite::set_arp_sha(packet, layers, bytes(value)),
        Field::ArpTha => rewrite::set_arp_tha(packet, layers, bytes(value)),
        Field::NdSll => rewrite::set_nd_sll(packet, layers, bytes(value)),
        Field::NdTll => rewrite::set_nd_tll(packet, layers, bytes(value)),
        Field::NdTarget => rewrite::set_nd_target(packet, layers, bytes(value)),
        _ => Ok(()),
    }
}
