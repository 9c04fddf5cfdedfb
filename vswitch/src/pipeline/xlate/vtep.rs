//! Flood-and-learn VTEP ports (RFC 7348 section 4; `tunnel::vtep`) in the translation: an
//! output to one sends a known unicast inner destination to the VTEP the port learned it behind
//! (a unicast outer header, routed and resolved as any tunnel output), and a broadcast,
//! multicast or unknown unicast one to the port's group (the group's multicast MAC, no
//! neighbour) or, with head-end replication, one copy to each listed VTEP. Learning happens at
//! upcall time (`vtep_learning`), as NORMAL's: the megaflow of a decapsulated packet matches
//! its inner source MAC and outer source address, so a new (MAC, VTEP) pair upcalls once; the
//! pair goes to the management thread, whose new version revalidates the megaflows that read
//! that entry (its Bloom bits in `Dependencies::macs`).
//! Actions that set tun_dst (tun_ipv6_dst on a port of IPv6 VTEPs) before the output steer it to
//! that VTEP alone: so a packet held for one VTEP's next hop is released to that VTEP only
//! (`switch::underlay`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use super::{mac, Bridge, BridgePort, Translation, Xlate};
use crate::flow::key::{Field, FlowKey};
use crate::tunnel::port::{Flood, FloodTo, TunnelConfig};
use crate::tunnel::vtep::learned_bits;

/// What a flood-and-learn port learned from a decapsulated packet: `mac` is behind `remote`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VtepLearning {
    /// The tunnel port's datapath port.
    pub port: u16,
    pub mac: [u8; 6],
    pub remote: IpAddr,
}

impl Xlate<'_, '_> {
    /// Output to flood-and-learn port `port`.
    pub(super) fn vtep_output(&mut self, port: &BridgePort, tunnel: &TunnelConfig, flood: &Flood) {
        let (field, _) = vtep_fields(flood);
        let tun_dst = self.read(field);
        if tun_dst != self.start_key.get_u128(field) {
            if let Some(remote) = vtep_address(flood, tun_dst) {
                self.note(format!("output:{}: {field} set: to VTEP {remote}", port.ofport));
                return self.tunnel_output_to(port, tunnel, Some(remote));
            }
        }
        let dst = mac(self.read(Field::DlDst));
        let learned = if dst[0] & 1 == 0 {
            self.read_state(|r| r.macs |= learned_bits(port.dp_port, dst));
            self.bridge.underlay.and_then(|underlay| underlay.learned_vtep(port.dp_port, dst)).map(|e| e.remote)
        } else {
            None
        };
        match (learned, &flood.to) {
            (Some(remote), _) => {
                self.note(format!("output:{}: learned VTEP {remote}", port.ofport));
                self.tunnel_output_to(port, tunnel, Some(remote));
            }
            (None, FloodTo::Group(group)) => {
                self.note(format!("output:{}: flood to group {group}", port.ofport));
                self.tunnel_output_to(port, tunnel, Some(*group));
            }
            (None, FloodTo::Replicate(remotes)) => {
                self.note(format!("output:{}: flood to {} VTEPs", port.ofport, remotes.len()));
                for &remote in remotes {
                    self.tunnel_output_to(port, tunnel, Some(remote));
                }
            }
        }
    }
}

/// The tunnel fields (destination, source) of a flood-and-learn port's VTEPs: IPv4 or IPv6, by
/// the family of its group or replication list.
fn vtep_fields(flood: &Flood) -> (Field, Field) {
    let ipv6 = match &flood.to {
        FloodTo::Group(group) => group.is_ipv6(),
        FloodTo::Replicate(remotes) => remotes.first().is_some_and(IpAddr::is_ipv6),
    };
    if ipv6 {
        (Field::TunIpv6Dst, Field::TunIpv6Src)
    } else {
        (Field::TunDst, Field::TunSrc)
    }
}

/// A value of one of `vtep_fields` as a VTEP address; `None` for 0.
fn vtep_address(flood: &Flood, value: u128) -> Option<IpAddr> {
    if value == 0 {
        return None;
    }
    Some(match vtep_fields(flood).0 {
        Field::TunIpv6Dst => IpAddr::V6(Ipv6Addr::from(value)),
        _ => IpAddr::V4(Ipv4Addr::from(u32::try_from(value).ok()?)),
    })
}

/// At an upcall of a packet decapsulated by a flood-and-learn port (`key`'s in_port): the
/// megaflow matches the inner source MAC and the outer source address (tun_src, or tun_ipv6_src
/// on a port whose VTEPs are IPv6) and depends on the port's entry for that MAC; returns the
/// pair when the version does not have it yet, else the megaflow keeps the entry alive
/// (`keepalive`: its packets refresh it, as a source refreshes a MAC entry; sending to a VTEP
/// does not, as in Linux, whose VXLAN entries age from what they last received).
pub fn vtep_learning(bridge: &Bridge<'_>, key: &FlowKey, translation: &mut Translation) -> Option<VtepLearning> {
    let dp_port = u16::try_from(key.get_u64(Field::InPort)).ok()?;
    let flood = bridge.port_by_dp(dp_port)?.tunnel.as_ref()?.flood.as_ref()?;
    let underlay = bridge.underlay?;
    let mac = mac(key.get_u128(Field::DlSrc));
    translation.wildcards.set_all_ones(Field::DlSrc);
    translation.dependencies.macs |= learned_bits(dp_port, mac);
    let (_, source) = vtep_fields(flood);
    translation.wildcards.set_all_ones(source);
    let remote = vtep_address(flood, key.get_u128(source))?;
    if mac[0] & 1 != 0 || mac == [0; 6] {
        return None;
    }
    match underlay.learned_vtep(dp_port, mac) {
        Some(entry) if entry.remote == remote => {
            translation.keep_alive.push(Arc::clone(&entry.last_seen));
            None
        }
        _ => Some(VtepLearning { port: dp_port, mac, remote }),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Arc;

    use super::*;
    use crate::datapath::{BridgeDp, Datapath};
    use crate::flow::{parse_add_flow, OfPort};
    use crate::pipeline::table::{FlowModFlags, FlowTables};
    use crate::pipeline::xlate::{translate, DpAction};
    use crate::revalidate::BridgeChanges;
    use crate::tunnel::route::{Prefix, Route, RouteOrigin, RouteTable};
    use crate::tunnel::vtep::{LearnedVteps, VtepEntry};
    use crate::tunnel::ResolvedNeighbour;
    use crate::tunnel::TunnelKind;

    const PEER_MAC: [u8; 6] = [2, 0, 0, 0, 0xbb, 3];
    const OTHER_PEER_MAC: [u8; 6] = [2, 0, 0, 0, 0xbb, 4];
    const INNER: [u8; 6] = [0xfa, 0x16, 0x3e, 0, 0, 9];
    const VXLAN_DP: u16 = 41;

    fn port(ofport: u32, dp_port: u16, tunnel: Option<TunnelConfig>) -> BridgePort {
        BridgePort { tunnel: tunnel.map(Arc::new), ..BridgePort::trunk(ofport, dp_port) }
    }

    fn bridge(name: &str, flow: &str, ports: Vec<BridgePort>) -> BridgeDp {
        let mut tables = FlowTables::new();
        tables.add(parse_add_flow(flow).unwrap(), FlowModFlags::default(), 0).unwrap();
        BridgeDp { name: name.into(), tables: tables.snapshot(), ports, ..BridgeDp::default() }
    }

    /// br0, the underlay (172.31.1.1/24 on LOCAL, dp 40; peers .3 and .4 resolved), and br-int
    /// whose port 1 outputs to flood-and-learn VXLAN port 2 (`remote_ip`, VNI 42).
    fn datapath(remote_ip: &str, vteps: LearnedVteps) -> Datapath {
        let underlay = BridgeDp {
            addresses: vec!["172.31.1.1".parse().unwrap()],
            local_dp: Some(40),
            neighbours: Arc::new(
                [("172.31.1.3".parse().unwrap(), PEER_MAC), ("172.31.1.4".parse().unwrap(), OTHER_PEER_MAC)]
                    .into_iter()
                    .map(|(ip, mac)| (ip, ResolvedNeighbour::new(mac)))
                    .collect(),
            ),
            ..bridge("br0", "in_port=LOCAL,actions=output:1", vec![port(1, 0, None), port(OfPort::LOCAL.0, 40, None)])
        };
        let options: BTreeMap<String, String> = [("remote_ip", remote_ip), ("key", "42"), ("ttl", "5")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let vxlan = TunnelConfig::from_options(TunnelKind::Vxlan, &options).unwrap();
        let overlay =
            bridge("br-int", "in_port=1,actions=output:2", vec![port(1, 1, None), port(2, VXLAN_DP, Some(vxlan))]);
        let mut routes = RouteTable::new();
        routes
            .insert(Route {
                prefix: Prefix::parse("172.31.1.0/24").unwrap(),
                bridge: "br0".into(),
                gateway: None,
                source: Some("172.31.1.1".parse().unwrap()),
                origin: RouteOrigin::Connected,
            })
            .unwrap();
        Datapath {
            bridges: vec![Arc::new(underlay), Arc::new(overlay)],
            routes: Arc::new(routes),
            vteps: Arc::new(vteps),
            ..Datapath::default()
        }
    }

    fn mac_value(mac: [u8; 6]) -> u128 {
        mac.iter().fold(0u128, |value, &byte| (value << 8) | u128::from(byte))
    }

    fn from_the_vm(datapath: &Datapath, dst: [u8; 6]) -> Translation {
        let mut key = FlowKey::default();
        key.set_u64(Field::InPort, 1);
        key.set_u128(Field::DlSrc, mac_value([2, 0, 0, 0, 0, 1]));
        key.set_u128(Field::DlDst, mac_value(dst));
        translate(&datapath.bridges[1].view_in(datapath), &key, false)
    }

    fn headers(translation: &Translation) -> Vec<String> {
        translation
            .actions
            .iter()
            .map(|action| match action {
                DpAction::Tunnel(push) => {
                    assert_eq!(push.outputs.as_ref(), &[0], "out of br0's port 1");
                    push.header.to_string()
                }
                other => panic!("not a tunnel output: {other:?}"),
            })
            .collect()
    }

    #[test]
    fn bum_goes_to_the_group_and_learned_unicast_to_its_vtep() {
        let datapath = datapath("239.1.1.1", LearnedVteps::new());
        for dst in [[0xff; 6], [1, 0, 0x5e, 0, 0, 1], INNER] {
            let translation = from_the_vm(&datapath, dst);
            let [header] = headers(&translation).try_into().unwrap();
            assert!(header.contains("eth(src=00:00:00:00:00:00,dst=01:00:5e:01:01:01)"), "{header}");
            assert!(header.contains("ipv4(src=172.31.1.1,dst=239.1.1.1"), "{header}");
            assert!(header.contains("ttl=5"), "{header}");
            assert!(header.contains("vni=42"), "{header}");
            assert_eq!(translation.wildcards.get_u128(Field::DlDst), mac_value([0xff; 6]));
        }
        // An unknown unicast destination depends on its (missing) entry: learning it revalidates.
        let unknown = from_the_vm(&datapath, INNER);
        assert_ne!(unknown.dependencies.macs & learned_bits(VXLAN_DP, INNER), 0);
        let mut changes = BridgeChanges::default();
        changes.learned_vtep_changed(learned_bits(VXLAN_DP, INNER), INNER);
        assert!(changes.affects(&FlowKey::default(), &unknown.wildcards, &unknown.dependencies));
        assert_eq!(changes.probes.len(), 2, "found by probes of the MAC as dl_src and dl_dst");

        let learned: LearnedVteps =
            [((VXLAN_DP, INNER), VtepEntry::new("172.31.1.3".parse().unwrap(), 0))].into_iter().collect();
        let datapath = self::datapath("239.1.1.1", learned);
        let [header] = headers(&from_the_vm(&datapath, INNER)).try_into().unwrap();
        assert!(header.contains("dst=02:00:00:00:bb:03)"), "the peer's MAC: {header}");
        assert!(header.contains("ipv4(src=172.31.1.1,dst=172.31.1.3"), "{header}");
        let [header] = headers(&from_the_vm(&datapath, [0xff; 6])).try_into().unwrap();
        assert!(header.contains("dst=239.1.1.1"), "broadcast still floods: {header}");
    }

    #[test]
    fn an_ipv6_group_floods_to_its_multicast_mac() {
        let mut datapath = datapath("ff0e::42", LearnedVteps::new());
        let mut underlay = BridgeDp { name: "br0".into(), ..BridgeDp::default() };
        underlay.tables = datapath.bridges[0].tables.clone();
        underlay.ports = datapath.bridges[0].ports.clone();
        underlay.addresses = vec!["fd00::1".parse().unwrap()];
        underlay.local_dp = Some(40);
        underlay.mac = [2, 0, 0, 0, 0xaa, 1];
        datapath.bridges[0] = Arc::new(underlay);
        assert_eq!(datapath.group_bridge("ff0e::42".parse().unwrap(), None), Some((0, "fd00::1".parse().unwrap())));
        assert_eq!(datapath.group_bridge("239.1.1.1".parse().unwrap(), None), None, "no IPv4 address to send from");
        let [header] = headers(&from_the_vm(&datapath, [0xff; 6])).try_into().unwrap();
        assert!(header.contains("eth(src=02:00:00:00:aa:01,dst=33:33:00:00:00:42)"), "{header}");
        assert!(header.contains("ipv6(src=fd00::1,dst=ff0e::42,"), "{header}");
        assert!(header.contains("udp(dst=4789,csum=true),vni=42"), "{header}");
    }

    #[test]
    fn decap_takes_group_packets_for_the_ports_of_that_group_only() {
        use crate::datapath::{Decap, TunnelReceiver};
        use crate::tunnel::header::TunnelMetadata;
        let receiver = |group: Option<&str>, remote: Option<&str>, dp_port| TunnelReceiver {
            kind: TunnelKind::Vxlan,
            dst_port: 4789,
            remote: remote.map(|r| r.parse().unwrap()),
            local: None,
            group: group.map(|g| g.parse().unwrap()),
            in_key: Some(42),
            gbp: false,
            bridge: 1,
            dp_port,
        };
        let decap = Decap {
            locals: vec!["172.31.1.1".parse().unwrap()],
            groups: vec!["239.1.1.1".parse().unwrap()],
            receivers: vec![receiver(None, Some("172.31.1.9"), 7), receiver(Some("239.1.1.1"), None, VXLAN_DP)],
            ..Decap::default()
        };
        for (addr, local) in [("172.31.1.1", true), ("239.1.1.1", true), ("239.1.1.2", false), ("172.31.1.2", false)] {
            assert_eq!(decap.is_local(&addr.parse().unwrap()), local, "{addr}");
        }
        let meta = |src: &str, dst: &str| TunnelMetadata {
            kind: TunnelKind::Vxlan,
            tp_dst: 4789,
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
            tun_id: 42,
            tos: 0,
            ttl: 5,
            flags: 0,
            tp_src: 50000,
            eth_src: [2, 0, 0, 0, 0, 3],
            ..TunnelMetadata::EMPTY
        };
        let port = |src, dst| decap.receiver(&meta(src, dst)).map(|r| r.dp_port);
        assert_eq!(port("172.31.1.3", "239.1.1.1"), Some(VXLAN_DP), "to the group");
        assert_eq!(port("172.31.1.3", "172.31.1.1"), Some(VXLAN_DP), "unicast from a VTEP that learned us");
        assert_eq!(port("172.31.1.9", "172.31.1.1"), Some(7), "the point-to-point port of that remote");
        assert_eq!(port("172.31.1.9", "239.1.1.1"), Some(VXLAN_DP), "a group packet is not the point-to-point port's");
        assert_eq!(port("172.31.1.3", "239.1.1.2"), None, "another group");
    }

    #[test]
    fn head_end_replication_sends_one_copy_per_vtep() {
        let datapath = datapath("flood:172.31.1.3,172.31.1.4", LearnedVteps::new());
        let headers = headers(&from_the_vm(&datapath, [0xff; 6]));
        assert_eq!(headers.len(), 2, "{headers:?}");
        assert!(headers[0].contains("dst=02:00:00:00:bb:03)") && headers[0].contains("dst=172.31.1.3"));
        assert!(headers[1].contains("dst=02:00:00:00:bb:04)") && headers[1].contains("dst=172.31.1.4"));
        let learned: LearnedVteps =
            [((VXLAN_DP, INNER), VtepEntry::new("172.31.1.4".parse().unwrap(), 0))].into_iter().collect();
        let datapath = self::datapath("flood:172.31.1.3,172.31.1.4", learned);
        let [header] = self::headers(&from_the_vm(&datapath, INNER)).try_into().unwrap();
        assert!(header.contains("dst=172.31.1.4"), "{header}");
    }

    #[test]
    fn a_copy_held_for_one_vtep_is_released_to_it_alone() {
        use crate::flow::Action;
        use crate::pipeline::xlate::{translate_packet_out, PacketInOrigin};
        // 172.31.1.5 has no neighbour entry: its copy is held, the other sent.
        let datapath = datapath("flood:172.31.1.3,172.31.1.5", LearnedVteps::new());
        let translation = from_the_vm(&datapath, [0xff; 6]);
        let [DpAction::Tunnel(push), DpAction::HoldForNeighbour(meta)] = translation.actions.as_slice() else {
            panic!("not a copy and a hold: {:?}", translation.actions)
        };
        assert!(push.header.to_string().contains("dst=172.31.1.3"));
        let PacketInOrigin::TunnelHold { tunnel, nexthop, .. } = meta.origin else { panic!("{meta:?}") };
        assert_eq!((tunnel.dst, nexthop), ("172.31.1.5".parse().unwrap(), "172.31.1.5".parse().unwrap()));
        // The release: a packet-out that sets tun_dst and outputs to the port.
        let mut key = FlowKey::default();
        key.set_u128(Field::DlDst, mac_value([0xff; 6]));
        let mut actions = tunnel.set_fields();
        actions.push(Action::output(OfPort(2)));
        let resolved = self::datapath("flood:172.31.1.3,172.31.1.4", LearnedVteps::new());
        let released = translate_packet_out(&resolved.bridges[1].view_in(&resolved), &key, OfPort(1), &actions);
        assert_eq!(released.actions.len(), 1, "{:?}", released.actions);
        let actions = [
            Action::SetField {
                field: Field::TunDst,
                value: u128::from(u32::from(std::net::Ipv4Addr::new(172, 31, 1, 4))),
                mask: Field::TunDst.bits_mask(),
            },
            Action::output(OfPort(2)),
        ];
        let released = translate_packet_out(&resolved.bridges[1].view_in(&resolved), &key, OfPort(1), &actions);
        let [header] = headers(&released).try_into().unwrap();
        assert!(header.contains("dst=172.31.1.4"), "to the one VTEP: {header}");
    }

    #[test]
    fn decapsulated_packets_learn_once() {
        let mut key = FlowKey::default();
        key.set_u64(Field::InPort, u64::from(VXLAN_DP));
        key.set_u64(Field::TunId, 42);
        key.set_u64(Field::TunSrc, u64::from(u32::from(std::net::Ipv4Addr::new(172, 31, 1, 3))));
        key.set_u128(Field::DlSrc, mac_value(INNER));
        key.set_u128(Field::DlDst, mac_value([0xff; 6]));
        let learn = |datapath: &Datapath, key: &FlowKey| {
            let view = datapath.bridges[1].view_in(datapath);
            let mut translation = translate(&view, key, false);
            let learned = vtep_learning(&view, key, &mut translation);
            (learned, translation)
        };
        let datapath = datapath("239.1.1.1", LearnedVteps::new());
        let (learned, translation) = learn(&datapath, &key);
        let remote: IpAddr = "172.31.1.3".parse().unwrap();
        assert_eq!(learned, Some(VtepLearning { port: VXLAN_DP, mac: INNER, remote }));
        assert_eq!(translation.wildcards.get_u128(Field::DlSrc), mac_value([0xff; 6]));
        assert_eq!(translation.wildcards.get_u64(Field::TunSrc), u64::from(u32::MAX));
        assert_ne!(translation.dependencies.macs & learned_bits(VXLAN_DP, INNER), 0);
        assert!(translation.keep_alive.is_empty());
        // Known: nothing to learn, the megaflow keeps the entry alive; moved: learned again.
        let entry = VtepEntry::new(remote, 0);
        let known: LearnedVteps = [((VXLAN_DP, INNER), entry.clone())].into_iter().collect();
        let (learned, translation) = learn(&self::datapath("239.1.1.1", known.clone()), &key);
        assert_eq!(learned, None);
        assert!(matches!(&translation.keep_alive[..], [cell] if Arc::ptr_eq(cell, &entry.last_seen)));
        key.set_u64(Field::TunSrc, u64::from(u32::from(std::net::Ipv4Addr::new(172, 31, 1, 4))));
        let (learned, translation) = learn(&self::datapath("239.1.1.1", known), &key);
        assert!(learned.is_some());
        assert!(translation.keep_alive.is_empty(), "behind another VTEP: learned, not refreshed");
        // Not from a flood-and-learn port: no learning.
        key.set_u64(Field::InPort, 1);
        assert_eq!(learn(&datapath, &key).0, None);
    }

    #[test]
    fn a_port_of_ipv6_vteps_learns_the_ipv6_tunnel_source() {
        let mut key = FlowKey::default();
        key.set_u64(Field::InPort, u64::from(VXLAN_DP));
        key.set_u128(Field::DlSrc, mac_value(INNER));
        let remote: IpAddr = "fd00:31::3".parse().unwrap();
        let IpAddr::V6(v6) = remote else { unreachable!() };
        key.set_u128(Field::TunIpv6Src, u128::from(v6));
        let datapath = datapath("ff0e::1:1", LearnedVteps::new());
        let view = datapath.bridges[1].view_in(&datapath);
        let mut translation = translate(&view, &key, false);
        let learned = vtep_learning(&view, &key, &mut translation);
        assert_eq!(learned, Some(VtepLearning { port: VXLAN_DP, mac: INNER, remote }));
        assert_eq!(translation.wildcards.get_u128(Field::TunIpv6Src), u128::MAX);
        assert_eq!(translation.wildcards.get_u64(Field::TunSrc), 0, "the IPv4 source is not read");
    }
}
