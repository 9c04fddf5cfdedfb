//! Output to a tunnel port: the remote endpoint, key, TOS and TTL worked out from the port's
//! options and the packet, routed through the underlay (`Underlay`: route, source address,
//! next-hop MAC), the outer header built once for the megaflow, and the encapsulated packet
//! continued through the underlay bridge's pipeline as if it came in on that bridge's LOCAL port
//! (as Open vSwitch's native tunnelling does): the megaflow carries the whole path, one lookup.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use super::{translate, Bridge, BridgePort, DpAction, PacketInMeta, PacketInOrigin, Xlate};
use crate::flow::key::{Field, FlowKey, TUN_METADATA_OFFSET};
use crate::flow::numbers::{ETH_TYPE_IP, ETH_TYPE_IPV6};
use crate::flow::tun_metadata;
use crate::flow::Action;
use crate::flow::PacketInReason;
use crate::packet::proto::{ethertype, ip_proto, len};
use crate::pipeline::keepalive::LastSeen;
use crate::pipeline::table::RuleEntry;
use crate::tunnel::header::{GeneveOptions, OuterHeader, OuterSpec, TUN_FLAG_OAM};
use crate::tunnel::port::{Inheritable, TunnelAddress, TunnelConfig, TunnelKey, DEFAULT_TTL};
use crate::tunnel::vtep::VtepEntry;
use crate::tunnel::TunnelKind;

/// UDP source ports of tunnel packets (Open vSwitch's default range): the inner flow's hash
/// picks one, so the underlay can spread the flows of one tunnel.
pub const SOURCE_PORTS: (u16, u16) = (32768, 61000);

/// The bridges beyond a translation's own: the underlay a tunnel output goes through and the
/// peers of patch ports. Implemented by the datapath version, which knows every bridge, the
/// route table and the neighbour caches.
pub trait Underlay {
    /// The way to `remote` (from `local`, when the port fixes it).
    fn resolve(&self, remote: IpAddr, local: Option<IpAddr>) -> Result<UnderlayPath<'_>, TunnelMiss>;

    /// The bridges a route can lead out of (bit = bridge index % 64, as
    /// `Dependencies::bridges`): those with an address to send from.
    fn routable_bridges(&self) -> u64;

    /// What a translation reads of bridge `index` (which may tunnel and patch on in turn).
    fn bridge_view(&self, index: usize) -> Option<Bridge<'_>>;

    /// The entry of flood-and-learn port `dp_port` for `mac`: the remote VTEP it was learned
    /// behind (`tunnel::vtep`).
    fn learned_vtep(&self, _dp_port: u16, _mac: [u8; 6]) -> Option<&VtepEntry> {
        None
    }
}

/// Where a tunnel packet to a remote endpoint leaves.
pub struct UnderlayPath<'a> {
    /// The underlay bridge (index of the datapath's bridges) and what its pipeline reads.
    pub bridge: usize,
    pub view: Bridge<'a>,
    /// The datapath port of the underlay bridge's LOCAL port (where the outer packet enters).
    pub local_dp: u16,
    /// The underlay bridge's MAC (the outer source).
    pub mac: [u8; 6],
    /// The outer source address.
    pub source: IpAddr,
    /// The gateway, or the remote endpoint itself when it is on the link.
    pub nexthop: IpAddr,
    /// The next hop's MAC; `None` while it is unresolved.
    pub nexthop_mac: Option<[u8; 6]>,
    /// When flows last sent through the (unicast) next hop: the megaflow keeps it alive.
    pub nexthop_used: Option<&'a Arc<LastSeen>>,
}

/// Why a tunnel output sent nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TunnelMiss {
    /// No route to the remote endpoint (or `remote_ip=flow` and tun_dst is 0).
    NoRoute,
    /// The route's bridge has no address of the remote's family to send from.
    NoSourceAddress,
    /// The next hop's MAC is not known yet; the switch asks for it.
    NeighbourUnresolved { bridge: usize, nexthop: IpAddr },
    /// The outer header cannot be built (key too large for the protocol, ...).
    BadHeader,
    /// The underlay bridge's pipeline does more than output the outer packet.
    UnderlayRewrite,
}

/// A tunnel output as the datapath runs it: push `header` onto (a copy of) the packet, then send
/// it to `outputs` (the underlay bridge's decision for the outer packet).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TunnelPush {
    pub header: OuterHeader,
    pub outputs: Box<[u16]>,
    /// The tunnel port (OpenFlow number, for display; datapath port, for its counters) and the
    /// underlay bridge.
    pub ofport: u32,
    pub dp_port: u16,
    pub underlay_bridge: usize,
    /// The smallest MTU of the underlay ports in `outputs` (0: none has one, no limit).
    pub mtu: u16,
    /// The longest inner frame whose outer IP packet fits `mtu`.
    pub max_inner_len: usize,
}

impl TunnelPush {
    /// The push of `header` to the underlay ports `outputs` of `underlay` (their MTU limits
    /// the inner frames) for tunnel port `port`.
    fn new(header: OuterHeader, outputs: Box<[u16]>, port: &BridgePort, underlay: &UnderlayPath<'_>) -> TunnelPush {
        let mtu = outputs
            .iter()
            .filter_map(|&dp_port| underlay.view.ports.iter().find(|p| p.dp_port == dp_port))
            .map(|p| p.mtu)
            .filter(|&mtu| mtu != 0)
            .min()
            .unwrap_or(0);
        // The outer IP packet is the header but its Ethernet part, then the inner frame.
        let max_inner_len = match mtu {
            0 => usize::MAX,
            mtu => (usize::from(mtu) + len::ETHERNET).saturating_sub(header.len()),
        };
        TunnelPush {
            header,
            outputs,
            ofport: port.ofport,
            dp_port: port.dp_port,
            underlay_bridge: underlay.bridge,
            mtu,
            max_inner_len,
        }
    }

    /// Whether an inner frame of `inner_len` bytes, encapsulated, fits the underlay's MTU (a
    /// length compare per packet; nothing is fragmented).
    #[inline]
    pub fn fits(&self, inner_len: usize) -> bool {
        inner_len <= self.max_inner_len
    }
}

impl Xlate<'_, '_> {
    /// Output to tunnel port `port`.
    pub(super) fn tunnel_output(&mut self, port: &BridgePort, tunnel: &TunnelConfig) {
        if let Some(flood) = &tunnel.flood {
            return self.vtep_output(port, tunnel, flood);
        }
        self.tunnel_output_to(port, tunnel, None);
    }

    /// Output to tunnel port `port`, to `remote` instead of the port's remote_ip if given.
    pub(super) fn tunnel_output_to(&mut self, port: &BridgePort, tunnel: &TunnelConfig, remote: Option<IpAddr>) {
        match self.tunnel_push(port, tunnel, remote) {
            Ok(push) => {
                let mtu = match push.mtu {
                    0 => String::new(),
                    mtu => format!(", mtu {mtu}: inner frames up to {} bytes", push.max_inner_len),
                };
                self.note(format!(
                    "output:{} -> {} then underlay bridge {} ports {:?}{mtu}",
                    port.ofport, push.header, push.underlay_bridge, push.outputs
                ));
                self.commit();
                self.emit(DpAction::Tunnel(Arc::new(push)));
            }
            Err(miss) => {
                self.out.tunnel_miss.get_or_insert(miss);
                match miss {
                    TunnelMiss::NeighbourUnresolved { bridge, nexthop } => {
                        self.note(format!("output:{}: next hop {nexthop} unresolved -> held", port.ofport));
                        self.hold_for_neighbour(port, bridge, nexthop, remote);
                    }
                    _ => self.note(format!("output:{}: tunnel not sent: {miss:?}", port.ofport)),
                }
            }
        }
    }

    /// The packet, as the actions so far leave it, goes to the management thread to wait for
    /// next hop `nexthop` of underlay bridge `underlay`, with what sends it through `port` once
    /// resolved. The tunnel fields it carries are those `tunnel_push` read (and so un-wildcarded)
    /// when the port takes them from the flow; the others are carried but unused.
    /// A flood-and-learn port's copy for one `remote` VTEP carries it as tun_dst: released, it
    /// goes to that VTEP only (`vtep_output`).
    fn hold_for_neighbour(&mut self, port: &BridgePort, underlay: usize, nexthop: IpAddr, remote: Option<IpAddr>) {
        self.commit();
        let key = &self.key;
        let tunnel = HeldTunnelFields {
            src: key_tunnel_address(key, Field::TunSrc, Field::TunIpv6Src),
            dst: remote.unwrap_or_else(|| key_tunnel_address(key, Field::TunDst, Field::TunIpv6Dst)),
            flags: u16::try_from(key.get_u64(Field::TunFlags)).unwrap_or(0),
            gbp: (
                u16::try_from(key.get_u64(Field::TunGbpId)).unwrap_or(0),
                u8::try_from(key.get_u64(Field::TunGbpFlags)).unwrap_or(0),
            ),
            metadata: key.bytes[TUN_METADATA_OFFSET..].try_into().unwrap_or_default(),
        };
        let origin = PacketInOrigin::TunnelHold { port: port.dp_port, underlay, nexthop, tunnel };
        let meta = PacketInMeta {
            reason: PacketInReason::Action,
            origin,
            max_len: u16::MAX,
            table_id: self.current_table,
            cookie: 0,
            in_port: self.in_port.ofport,
            metadata: 0,
            tun_id: self.key.get_u64(Field::TunId),
            regs: [0; 8],
        };
        self.emit(DpAction::HoldForNeighbour(Arc::new(meta)));
    }

    fn tunnel_push(
        &mut self,
        port: &BridgePort,
        tunnel: &TunnelConfig,
        remote: Option<IpAddr>,
    ) -> Result<TunnelPush, TunnelMiss> {
        let underlay = self.bridge.underlay.ok_or(TunnelMiss::NoRoute)?;
        let remote = match (remote, tunnel.remote_ip) {
            (Some(addr), _) | (None, TunnelAddress::Fixed(addr)) => addr,
            (None, TunnelAddress::Flow) => {
                self.flow_tunnel_address(Field::TunDst, Field::TunIpv6Dst).ok_or(TunnelMiss::NoRoute)?
            }
        };
        let local = match tunnel.local_ip {
            Some(TunnelAddress::Fixed(addr)) => Some(addr),
            Some(TunnelAddress::Flow) => self.flow_tunnel_address(Field::TunSrc, Field::TunIpv6Src),
            None => None,
        };
        let key = match tunnel.out_key {
            TunnelKey::Fixed(key) => key,
            TunnelKey::Flow => u64::try_from(self.read(Field::TunId)).unwrap_or(0),
        };
        let (tos, ttl) = self.outer_tos_ttl(tunnel);
        let path = underlay.resolve(remote, local).inspect_err(|_| {
            // No way out now: a route added through any underlay bridge may give one, and a
            // route change marks them all changed - so this drop is revalidated then.
            self.read_state(|r| r.bridges |= underlay.routable_bridges());
        })?;
        // Whatever the underlay decides depends on its state: its changes revalidate this megaflow.
        self.read_state(|r| r.crosses_bridge(path.bridge));
        // Read before the next hop is known: a packet held for it carries them (the megaflow
        // that holds must match what it carries).
        let geneve = tunnel.kind == TunnelKind::Geneve;
        let oam = geneve && self.read_tunnel_field(Field::TunFlags) & u128::from(TUN_FLAG_OAM) != 0;
        let options = if geneve { self.geneve_options()? } else { GeneveOptions::default() };
        let gbp = if tunnel.gbp {
            let id = u16::try_from(self.read_tunnel_field(Field::TunGbpId)).unwrap_or(0);
            (id, u8::try_from(self.read_tunnel_field(Field::TunGbpFlags)).unwrap_or(0))
        } else {
            (0, 0)
        };
        let eth_dst =
            path.nexthop_mac.ok_or(TunnelMiss::NeighbourUnresolved { bridge: path.bridge, nexthop: path.nexthop })?;
        // Its use has the next hop probed before it ages out (`NeighbourCache::probes_due`).
        if let Some(used) = path.nexthop_used {
            self.out.keep_alive.push(Arc::clone(used));
        }
        let gre_key = tunnel.kind == TunnelKind::Gre && tunnel.out_key != TunnelKey::Fixed(0);
        let spec = OuterSpec {
            kind: tunnel.kind,
            eth_src: path.mac,
            eth_dst,
            ip_src: path.source,
            ip_dst: remote,
            key: match tunnel.kind {
                TunnelKind::Gre if !gre_key => None,
                _ => Some(u32::try_from(key).map_err(|_| TunnelMiss::BadHeader)?),
            },
            tos,
            ttl,
            df: tunnel.df_default,
            csum: tunnel.sends_checksum(&remote),
            dst_port: tunnel.dst_port,
            src_port_range: SOURCE_PORTS,
            oam,
            options,
            gbp,
        };
        let header = OuterHeader::build(&spec).map_err(|_| TunnelMiss::BadHeader)?;
        let (outputs, rules) = underlay_outputs(&path, &spec)?;
        // The underlay's rules count the outer packets, as Open vSwitch's do.
        self.out.rules.extend(rules);
        Ok(TunnelPush::new(header, outputs, port, &path))
    }

    /// The Geneve options of the mapped tun_metadata fields whose value is not zero, by field
    /// index (`flow::tun_metadata`: a zero value sends no option).
    fn geneve_options(&mut self) -> Result<GeneveOptions, TunnelMiss> {
        let mut options = GeneveOptions::default();
        for mapping in tun_metadata::published_map().mappings() {
            let value = self.read_tunnel_field(Field::TunMetadata(mapping.index));
            if value != 0 {
                let bytes = value.to_be_bytes();
                let data = bytes.get(16 - usize::from(mapping.len)..).ok_or(TunnelMiss::BadHeader)?;
                if !options.push(mapping.class, mapping.kind, data) {
                    return Err(TunnelMiss::BadHeader);
                }
            }
        }
        Ok(options)
    }

    /// The address a `remote_ip=flow` / `local_ip=flow` port takes from the flow: the IPv4 field
    /// if set, else the IPv6 one (Open vSwitch's order); `None` when both are zero.
    fn flow_tunnel_address(&mut self, ipv4: Field, ipv6: Field) -> Option<IpAddr> {
        let v4 = u32::try_from(self.read(ipv4)).unwrap_or(0);
        if v4 != 0 {
            return Some(IpAddr::V4(Ipv4Addr::from(v4)));
        }
        let v6 = self.read(ipv6);
        (v6 != 0).then(|| IpAddr::V6(Ipv6Addr::from(v6)))
    }

    /// The outer TOS (DSCP from the port or the packet, ECN always the packet's) and TTL.
    fn outer_tos_ttl(&mut self, tunnel: &TunnelConfig) -> (u8, u8) {
        let dl_type = self.read(Field::DlType);
        let ip = dl_type == ETH_TYPE_IP || dl_type == ETH_TYPE_IPV6;
        let inner_tos = if ip { u8::try_from(self.read(Field::NwTos)).unwrap_or(0) } else { 0 };
        let tos = match tunnel.tos {
            Inheritable::Fixed(dscp) => dscp | (inner_tos & 0x03),
            Inheritable::Inherit => inner_tos,
        };
        let ttl = match tunnel.ttl {
            Inheritable::Fixed(ttl) => ttl,
            Inheritable::Inherit if ip => u8::try_from(self.read(Field::NwTtl)).unwrap_or(DEFAULT_TTL),
            Inheritable::Inherit => DEFAULT_TTL,
        };
        (tos, ttl)
    }
}

/// The underlay bridge's ports for the outer packet, and the rules that decided.
type UnderlayResult = (Box<[u16]>, Vec<Arc<RuleEntry>>);

/// Runs the underlay bridge's pipeline on the outer packet as it enters from LOCAL; its result
/// may only be outputs (a rewrite of the outer headers is not supported: the datapath writes
/// headers through the inner packet's offsets).
fn underlay_outputs(path: &UnderlayPath<'_>, spec: &OuterSpec) -> Result<UnderlayResult, TunnelMiss> {
    let mut key = FlowKey::default();
    key.set_u64(Field::InPort, u64::from(path.local_dp));
    key.set_u128(Field::DlSrc, mac_value(spec.eth_src));
    key.set_u128(Field::DlDst, mac_value(spec.eth_dst));
    match (spec.ip_src, spec.ip_dst) {
        (IpAddr::V4(src), IpAddr::V4(dst)) => {
            key.set_u64(Field::DlType, u64::from(ethertype::IPV4));
            key.set_u64(Field::NwSrc, u64::from(u32::from(src)));
            key.set_u64(Field::NwDst, u64::from(u32::from(dst)));
        }
        (src, dst) => {
            key.set_u64(Field::DlType, u64::from(ethertype::IPV6));
            key.set_u128(Field::Ipv6Src, ip_value(src));
            key.set_u128(Field::Ipv6Dst, ip_value(dst));
        }
    }
    let udp = spec.kind != TunnelKind::Gre;
    key.set_u64(Field::NwProto, u64::from(if udp { ip_proto::UDP } else { ip_proto::GRE }));
    key.set_u64(Field::NwTos, u64::from(spec.tos));
    key.set_u64(Field::NwTtl, u64::from(spec.ttl));
    if udp {
        key.set_u64(Field::TpDst, u64::from(spec.dst_port));
    }
    let translation = translate(&path.view, &key, false);
    let outputs = translation
        .actions
        .iter()
        .map(|action| match action {
            DpAction::Output(port) => Ok(*port),
            _ => Err(TunnelMiss::UnderlayRewrite),
        })
        .collect::<Result<_, _>>()?;
    Ok((outputs, translation.rules))
}

/// A tunnel address of `key` as `flow_tunnel_address` picks it, without reading it into the
/// megaflow; `0.0.0.0` when neither field is set.
fn key_tunnel_address(key: &FlowKey, ipv4: Field, ipv6: Field) -> IpAddr {
    match (key.get_u64(ipv4), key.get_u128(ipv6)) {
        (0, 0) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        (0, v6) => IpAddr::V6(Ipv6Addr::from(v6)),
        (v4, _) => IpAddr::V4(Ipv4Addr::from(u32::try_from(v4).unwrap_or(0))),
    }
}

/// The tunnel fields a packet held for a next hop carries out (`PacketInOrigin::TunnelHold`):
/// those `tunnel_push` read (and so un-wildcarded) when the port takes them from the flow; the
/// others are carried but unused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HeldTunnelFields {
    /// tun_src or tun_ipv6_src by family; `0.0.0.0` for none.
    pub src: IpAddr,
    /// tun_dst or tun_ipv6_dst by family (a flood-and-learn port's copy: its VTEP).
    pub dst: IpAddr,
    pub flags: u16,
    /// tun_gbp_id, tun_gbp_flags.
    pub gbp: (u16, u8),
    /// The option area (the mapped tun_metadata fields).
    pub metadata: [u8; tun_metadata::AREA_BYTES],
}

impl HeldTunnelFields {
    /// The set_field actions that give a packet these fields (the addresses by family, the
    /// others when not zero): how a held packet's release carries them.
    pub fn set_fields(&self) -> Vec<Action> {
        let set = |field: Field, value: u128| Action::SetField { field, value, mask: field.bits_mask() };
        let address = |addr: IpAddr, ipv4: Field, ipv6: Field| match addr {
            IpAddr::V4(v4) => set(ipv4, u128::from(u32::from(v4))),
            IpAddr::V6(v6) => set(ipv6, u128::from(v6)),
        };
        let mut key = FlowKey::default();
        key.bytes[TUN_METADATA_OFFSET..].copy_from_slice(&self.metadata);
        key.set_u64(Field::TunFlags, u64::from(self.flags));
        key.set_u64(Field::TunGbpId, u64::from(self.gbp.0));
        key.set_u64(Field::TunGbpFlags, u64::from(self.gbp.1));
        let metadata =
            tun_metadata::published_map().mappings().iter().map(|m| Field::TunMetadata(m.index)).collect::<Vec<_>>();
        let others = [Field::TunFlags, Field::TunGbpId, Field::TunGbpFlags]
            .into_iter()
            .chain(metadata)
            .filter(|&field| key.get_u128(field) != 0)
            .map(|field| set(field, key.get_u128(field)));
        [address(self.src, Field::TunSrc, Field::TunIpv6Src), address(self.dst, Field::TunDst, Field::TunIpv6Dst)]
            .into_iter()
            .chain(others)
            .collect()
    }
}

fn mac_value(mac: [u8; 6]) -> u128 {
    mac.iter().fold(0u128, |value, &byte| (value << 8) | u128::from(byte))
}

fn ip_value(addr: IpAddr) -> u128 {
    match addr {
        IpAddr::V4(v4) => u128::from(v4.to_ipv6_mapped()),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::tun_metadata::tests::publish_test_map;

    #[test]
    fn a_held_packet_is_released_with_the_tunnel_fields_it_carries() {
        publish_test_map();
        let mut metadata = [0; tun_metadata::AREA_BYTES];
        metadata[..4].copy_from_slice(&[0, 0, 0xca, 0xfe]);
        let held = HeldTunnelFields {
            src: "0.0.0.0".parse().unwrap(),
            dst: "fd00::2".parse().unwrap(),
            flags: 1,
            gbp: (0x1234, 0),
            metadata,
        };
        let text: Vec<String> = held.set_fields().iter().map(ToString::to_string).collect();
        assert_eq!(
            text,
            [
                "set_field:0.0.0.0->tun_src",
                "set_field:fd00::2->tun_ipv6_dst",
                "set_field:+oam->tun_flags",
                "set_field:4660->tun_gbp_id",
                "set_field:0xcafe->tun_metadata0"
            ]
        );
    }
}
