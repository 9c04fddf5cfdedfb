//! `vsctl trace`: a packet run through a bridge's pipeline without being sent, as Open vSwitch's
//! `ofproto/trace`. The packet is an ovs-ofctl flow, or a whole frame in hex (the flow then
//! only gives its input port). A frame that arrives on an underlay bridge's device port goes
//! through the decap stage first, as in the datapath (`Decap::classify`): a tunnel packet for
//! the bridge's endpoint shows the tunnel pop (the tunnel port, tun_id, tun_src, tun_dst) and
//! then the inner frame's pipeline in the tunnel port's bridge; a refused one, its drop reason.
//! A flow that describes such a packet says it is decapsulated before the bridge's pipeline.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::control::protocol::TraceReply;
use crate::datapath::{Datapath, Decap, DecapVerdict};
use crate::flow::key::{mpls, Field, FlowKey};
use crate::flow::{parse_dump_flows, Match};
use crate::packet::extract;
use crate::packet::proto::{ethertype, ip_proto, vlan};
use crate::pipeline::xlate::{translate, DpAction, PacketInOrigin};
use crate::pmd::burst::set_tunnel_fields;
use crate::pmd::stats::DropReason;
use crate::tunnel::header::TunnelMetadata;

use super::Switch;

/// What the trace of a frame on an underlay port found before any pipeline.
enum Arrival {
    /// The frame goes through the bridge's pipeline as it is.
    Plain,
    /// Decapsulated: the inner frame goes on as a packet of tunnel port `port` (an index of
    /// `Switch::ports`) with `meta`.
    Popped { port: usize, meta: TunnelMetadata, inner: Vec<u8> },
    /// Dropped by the decap stage, for this reason; what it found.
    Dropped(DropReason, String),
}

impl Switch {
    /// Runs a packet through the pipeline: described as an ovs-ofctl flow, or, with `packet`,
    /// the frame itself (hex) arriving on the flow's in_port.
    pub(super) fn trace(&mut self, bridge: &str, flow: &str, packet: Option<&str>) -> Result<TraceReply, String> {
        let b = self.bridge_named(bridge)?;
        let selector = parse_dump_flows(flow).map_err(|e| e.to_string())?;
        let in_ofport = selector.matches.in_port().ok_or("the packet needs an in_port")?.0;
        let in_port = self
            .ports
            .iter()
            .position(|p| p.bridge == b && p.ofport == in_ofport)
            .ok_or_else(|| format!("bridge {bridge} has no port {in_ofport}"))?;
        let datapath = self.current.clone();
        let decap = self.port_decap(&datapath, in_port);
        let mut steps = Vec::new();
        let (b, in_port, key) = match packet {
            None => {
                let mut key = *selector.matches.value();
                key.set_u64(Field::InPort, u64::from(self.ports[in_port].dp_port));
                if let Some(note) = decap.as_ref().and_then(|decap| tunnel_flow_note(decap, &key)) {
                    return Ok(TraceReply {
                        steps: vec![note],
                        datapath_actions: "tnl_pop".into(),
                        megaflow: String::new(),
                    });
                }
                (b, in_port, key)
            }
            Some(hex) => {
                let frame = parse_hex(hex)?;
                let arrival = match &decap {
                    Some(decap) => self.trace_decap(decap, &frame, in_port),
                    None => Arrival::Plain,
                };
                match arrival {
                    Arrival::Plain => (b, in_port, self.frame_key(&frame, in_port)),
                    Arrival::Dropped(reason, why) => {
                        steps.push(format!("tunnel pop: dropped as {}: {why}", reason.name()));
                        return Ok(TraceReply { steps, datapath_actions: "drop".into(), megaflow: String::new() });
                    }
                    Arrival::Popped { port, meta, inner } => {
                        let tunnel = &self.ports[port];
                        steps.push(format!(
                            "tunnel pop: {} packet from {} to {} (udp src {} dst {}), tun_id={}: port {} (ofport {}) of bridge {}",
                            meta.kind,
                            meta.src,
                            meta.dst,
                            meta.tp_src,
                            meta.tp_dst,
                            meta.tun_id,
                            tunnel.config.name,
                            tunnel.ofport,
                            self.bridges[tunnel.bridge].name,
                        ));
                        let mut key = self.frame_key(&inner, port);
                        set_tunnel_fields(&mut key, &meta);
                        (tunnel.bridge, port, key)
                    }
                }
            }
        };
        let bridge_dp = datapath.bridges.get(b).ok_or("bridge not in the datapath")?;
        let translation = translate(&bridge_dp.view_in(&datapath), &key, true);
        let megaflow = megaflow_match(&key, &translation.wildcards, self.ports[in_port].ofport);
        steps.extend(translation.trace.unwrap_or_default());
        if let Some(stop) = translation.stop {
            steps.push(format!("stopped: {stop:?}"));
        }
        for rule in &translation.learned_rules {
            steps.push(format!("learn (not applied by trace): {rule}"));
        }
        Ok(TraceReply { steps, datapath_actions: self.dp_actions_text(&translation.actions), megaflow })
    }

    /// What the PMDs polling port `port` (an index of `ports`) decapsulate with: a device port
    /// of an underlay bridge while tunnel ports exist.
    fn port_decap(&self, datapath: &Datapath, port: usize) -> Option<Decap> {
        let port = &self.ports[port];
        port.eth.as_ref()?;
        let decap = self.decaps(&datapath.bridges).into_iter().nth(port.bridge).flatten()?;
        Some(Decap { mtu: port.mtu(), ..decap })
    }

    /// The decap stage on `frame` arriving on port `in_port` (an index of `ports`).
    fn trace_decap(&self, decap: &Decap, frame: &[u8], in_port: usize) -> Arrival {
        let mut meta = TunnelMetadata::EMPTY;
        let (reason, why) = match decap.classify(frame, &mut meta) {
            DecapVerdict::NotTunnel => return Arrival::Plain,
            DecapVerdict::Tunnel { outer_len, inner_len, receiver } => {
                let port = self.ports.iter().position(|p| p.dp_port == receiver.dp_port && p.tunnel().is_some());
                if let (Some(port), Some(inner)) = (port, frame.get(outer_len..outer_len + inner_len)) {
                    return Arrival::Popped { port, meta, inner: inner.to_vec() };
                }
                (DropReason::TunnelUnknownPort, "its tunnel port is gone".to_owned())
            }
            DecapVerdict::Drop(DropReason::Decap(error)) => (DropReason::Decap(error), error.to_string()),
            DecapVerdict::Drop(DropReason::TunnelOversize) => (
                DropReason::TunnelOversize,
                format!(
                    "the outer packet is longer than the MTU {} of port {}, so its inner frame is larger than the overlay allows",
                    decap.mtu, self.ports[in_port].config.name
                ),
            ),
            DecapVerdict::Drop(reason) => (
                reason,
                format!(
                    "no tunnel port receives {} tun_id={} from {} to {} (udp dst {})",
                    meta.kind, meta.tun_id, meta.src, meta.dst, meta.tp_dst
                ),
            ),
        };
        Arrival::Dropped(reason, why)
    }

    /// The flow key of `frame` arriving on port `port` (an index of `ports`).
    fn frame_key(&self, frame: &[u8], port: usize) -> FlowKey {
        let mut key = FlowKey::default();
        extract(frame, u32::from(self.ports[port].dp_port), &mut key);
        key
    }

    /// A datapath port as its bridge's OpenFlow port (`BRIDGE:LOCAL` for a LOCAL port).
    fn dp_port_text(&self, dp: u16) -> String {
        if let Some(p) = self.ports.iter().find(|p| p.dp_port == dp) {
            return p.ofport.to_string();
        }
        match self.bridges.iter().find(|b| b.local_dp == Some(dp)) {
            Some(b) => format!("{}:LOCAL", b.name),
            None => format!("dp{dp}"),
        }
    }

    /// Datapath actions in OpenFlow port terms, comma separated (`drop` when there are none), for
    /// trace and the datapath flow dump.
    pub(super) fn dp_actions_text(&self, actions: &[DpAction]) -> String {
        if actions.is_empty() {
            return "drop".into();
        }
        actions.iter().map(|a| self.dp_action_text(a)).collect::<Vec<_>>().join(",")
    }

    /// A datapath action in OpenFlow port terms.
    fn dp_action_text(&self, action: &DpAction) -> String {
        match action {
            DpAction::Output(dp) => self.dp_port_text(*dp),
            DpAction::SetField { field, value } => format!("set_field:{value:#x}->{field}"),
            DpAction::SetVlanTci(tci) => {
                format!("set_vlan(vid={},pcp={})", tci & vlan::VID_MASK, tci >> vlan::PCP_SHIFT)
            }
            DpAction::PushVlan { tpid, tci } => {
                format!("push_vlan(tpid={tpid:#06x},vid={},pcp={})", tci & vlan::VID_MASK, tci >> vlan::PCP_SHIFT)
            }
            DpAction::PopVlan => "pop_vlan".into(),
            DpAction::PushMpls { ethertype, lse } => format!(
                "push_mpls(label={},tc={},ttl={},bos={},eth_type={ethertype:#x})",
                lse >> mpls::LABEL_SHIFT,
                (lse >> mpls::TC_SHIFT) & 7,
                lse & 0xff,
                u8::from(lse & mpls::BOS_BIT != 0)
            ),
            DpAction::PopMpls { ethertype } => format!("pop_mpls(eth_type={ethertype:#x})"),
            DpAction::CopyTtlIn => "copy_ttl_in".into(),
            DpAction::Meter(id) => format!("meter({id})"),
            DpAction::Tunnel(push) => {
                let outputs: Vec<String> = push.outputs.iter().map(|dp| self.dp_port_text(*dp)).collect();
                format!("{}->{}", push.header, outputs.join("+"))
            }
            DpAction::HoldForNeighbour(meta) => match meta.origin {
                PacketInOrigin::TunnelHold { port, nexthop, .. } => {
                    format!("hold({},nexthop={nexthop})", self.dp_port_text(port))
                }
                _ => "hold".into(),
            },
            DpAction::Controller(meta) => format!(
                "controller(reason={},max_len={},table={},cookie={:#x})",
                meta.reason.name(),
                meta.max_len,
                meta.table_id,
                meta.cookie
            ),
        }
    }
}

/// A megaflow (a key and its mask) as an ovs-ofctl match with the wildcarded fields left out,
/// its in_port the OpenFlow port `in_ofport`.
pub(super) fn megaflow_match(key: &FlowKey, mask: &FlowKey, in_ofport: u32) -> String {
    let mut key = key.masked(mask);
    key.set_u64(Field::InPort, u64::from(in_ofport));
    Match::new(&key, mask).to_string()
}

/// A flow on an underlay port that describes a tunnel packet for one of the bridge's endpoints
/// (UDP to a tunnel port's destination port, or GRE): the note that says the datapath pops it
/// before the bridge's pipeline, and how to follow it.
fn tunnel_flow_note(decap: &Decap, key: &FlowKey) -> Option<String> {
    let dst = match u16::try_from(key.get_u64(Field::DlType)).ok()? {
        ethertype::IPV4 => IpAddr::V4(Ipv4Addr::from(u32::try_from(key.get_u64(Field::NwDst)).ok()?)),
        ethertype::IPV6 => IpAddr::V6(Ipv6Addr::from(key.get_u128(Field::Ipv6Dst))),
        _ => return None,
    };
    let protocol = match u8::try_from(key.get_u64(Field::NwProto)).ok()? {
        ip_proto::GRE => "gre".to_owned(),
        ip_proto::UDP => {
            let port = u16::try_from(key.get_u64(Field::TpDst)).ok()?;
            format!("{} (udp {port})", decap.ports.kind_of(port)?)
        }
        _ => return None,
    };
    decap.is_local(&dst).then(|| {
        format!(
            "tunnel pop: a {protocol} packet for this bridge's tunnel endpoint {dst} is decapsulated before the \
             bridge's pipeline; give trace the frame (hex) after the flow to follow its inner frame"
        )
    })
}

/// The bytes of a frame written in hex (whitespace, `:` and a leading `0x` allowed).
fn parse_hex(text: &str) -> Result<Vec<u8>, String> {
    let digits: Vec<u8> =
        text.trim().trim_start_matches("0x").bytes().filter(|c| !c.is_ascii_whitespace() && *c != b':').collect();
    if !digits.len().is_multiple_of(2) {
        return Err(format!("the packet has an odd number of hex digits ({})", digits.len()));
    }
    digits
        .chunks_exact(2)
        .map(|pair| {
            std::str::from_utf8(pair)
                .ok()
                .and_then(|pair| u8::from_str_radix(pair, 16).ok())
                .ok_or_else(|| format!("{:?} in the packet is not a hex byte", String::from_utf8_lossy(pair)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::parse_dump_flows;
    use crate::tunnel::header::UdpTunnelPorts;
    use crate::tunnel::TunnelKind;

    #[test]
    fn hex_frames_with_or_without_separators() {
        assert_eq!(parse_hex("0x0200 00:aa\n01"), Ok(vec![2, 0, 0, 0xaa, 1]));
        assert_eq!(parse_hex(""), Ok(vec![]));
        assert_eq!(parse_hex("020"), Err("the packet has an odd number of hex digits (3)".to_owned()));
        assert_eq!(parse_hex("02zz"), Err("\"zz\" in the packet is not a hex byte".to_owned()));
    }

    #[test]
    fn a_megaflow_is_shown_with_its_openflow_in_port_and_only_the_fields_its_mask_has() {
        // A decapsulated packet's key (in_port the tunnel port's datapath number 70) under a mask
        // of in_port, tun_id, tun_src and the IP protocol.
        let key = *parse_dump_flows("in_port=70,tun_id=4000,tun_src=172.31.1.2,tun_dst=172.31.1.1,udp,tp_dst=53")
            .unwrap()
            .matches
            .value();
        let mut mask = FlowKey::default();
        for (field, bits) in [(Field::InPort, 0xffff_ffff), (Field::TunId, u64::MAX), (Field::TunSrc, 0xffff_ffff)] {
            mask.set_u64(field, bits);
        }
        mask.set_u64(Field::DlType, 0xffff);
        mask.set_u64(Field::NwProto, 0xff);
        assert_eq!(megaflow_match(&key, &mask, 2), "udp,tun_id=0xfa0,tun_src=172.31.1.2,in_port=2");
        assert_eq!(megaflow_match(&key, &FlowKey::default(), 2), "", "a megaflow of every packet");
    }

    #[test]
    fn a_flow_of_a_tunnel_packet_for_the_bridge_says_it_is_popped() {
        let mut ports = UdpTunnelPorts::new();
        ports.add(4789, TunnelKind::Vxlan);
        let decap = Decap { ports, locals: vec!["172.31.1.1".parse().unwrap()], ..Decap::default() };
        let note = |flow: &str| {
            let key = *parse_dump_flows(flow).unwrap().matches.value();
            tunnel_flow_note(&decap, &key)
        };
        let vxlan = note("in_port=1,udp,nw_dst=172.31.1.1,tp_dst=4789").expect("a VXLAN packet for the VTEP");
        assert!(vxlan.starts_with("tunnel pop: a vxlan (udp 4789) packet for this bridge's tunnel endpoint 172.31.1.1"));
        assert!(note("in_port=1,ip,nw_proto=47,nw_dst=172.31.1.1").is_some_and(|n| n.contains("a gre packet")));
        assert_eq!(note("in_port=1,udp,nw_dst=172.31.1.1,tp_dst=4790"), None, "not a tunnel port");
        assert_eq!(note("in_port=1,udp,nw_dst=172.31.1.9,tp_dst=4789"), None, "not the bridge's address");
        assert_eq!(note("in_port=1,tcp,nw_dst=172.31.1.1,tp_dst=4789"), None);
        assert_eq!(note("in_port=1,arp"), None);
    }
}
