//! Groups in the translation: `group:N` runs the buckets of group N of the table version on
//! copies of the packet - every bucket (`all`), the one bucket (`indirect`), one live bucket
//! chosen by a hash of the flow and the weights (`select`), or the first live bucket
//! (`fast_failover`). A bucket is live when the port it watches has its link up (and is not
//! administratively down) and the group it watches has a live bucket; port liveness is part of
//! the datapath version, so megaflows never keep a choice made on stale liveness.
//!
//! A bucket works on its own copy of the packet: after it, the working key is what it was
//! before the group, and the header fields the bucket's datapath actions rewrote are written
//! back at the next commit (and un-wildcarded, since the values written back are the
//! packet's). The fields the select hash reads are un-wildcarded, so every packet of a
//! megaflow takes the same bucket.

use super::{DpAction, Xlate, XlateStop, MAX_RESUBMIT_DEPTH};
use crate::classifier::hash::hash_words;
use crate::flow::key::{Field, FlowKey};
use crate::flow::numbers::{ETH_TYPE_ARP, ETH_TYPE_IP, ETH_TYPE_IPV6, IP_PROTO_SCTP, IP_PROTO_TCP, IP_PROTO_UDP};
use crate::flow::{Action, OfPort};
use crate::pipeline::group::{Bucket, Group, GroupHit, GroupType, HitBuckets, GROUP_ANY, MAX_CHAIN_DEPTH};

/// TCP, UDP and SCTP: the protocols whose ports the select hash reads.
const PORT_PROTOCOLS: [u128; 3] = [IP_PROTO_TCP, IP_PROTO_UDP, IP_PROTO_SCTP];

/// OpenFlow 1.3 (5.10): when the action set holds a group, its output is not executed.
pub(super) fn group_replaces_output(action_set: &mut Vec<Action>) {
    if action_set.iter().any(|action| matches!(action, Action::Group(_))) {
        action_set.retain(|action| !matches!(action, Action::Output { .. } | Action::Controller { .. }));
    }
}

impl Xlate<'_, '_> {
    /// A port is live when its link is up and no controller took it down (PORT_MOD).
    fn port_live(&self, port: OfPort) -> bool {
        self.port(port.0).is_some_and(|p| p.live && !p.flags.down)
    }

    /// Whether `bucket` may be used: what it watches is live (a bucket watching nothing is).
    fn bucket_live(&self, bucket: &Bucket, depth: usize) -> bool {
        (bucket.watch_port == OfPort::NONE || self.port_live(bucket.watch_port))
            && (bucket.watch_group == GROUP_ANY || self.group_live(bucket.watch_group, depth + 1))
    }

    /// A group is live when one of its buckets is.
    fn group_live(&self, id: u32, depth: usize) -> bool {
        depth <= MAX_CHAIN_DEPTH
            && self
                .group_entry(id)
                .is_some_and(|entry| entry.group().buckets.iter().any(|b| self.bucket_live(b, depth)))
    }
}

impl Xlate<'_, '_> {
    /// `group:id`.
    pub(super) fn group(&mut self, id: u32) {
        let Some(entry) = self.group_entry(id).cloned() else {
            // Not expected: a table version holds every group its rules and buckets send to.
            self.note(format!("group:{id}: no such group -> drop"));
            return;
        };
        if self.depth > MAX_RESUBMIT_DEPTH {
            self.note("group: too deep -> drop".into());
            self.out.stop = Some(XlateStop::ResubmitDepth);
            self.out.actions.clear();
            return;
        }
        let group = entry.group();
        let chosen = match group.group_type {
            GroupType::All => HitBuckets::Every,
            GroupType::Indirect if group.buckets.is_empty() => HitBuckets::Nothing,
            GroupType::Indirect => HitBuckets::One(0),
            GroupType::Select => self.select(group).map_or(HitBuckets::Nothing, HitBuckets::One),
            GroupType::FastFailover => group
                .buckets
                .iter()
                .position(|bucket| self.bucket_live(bucket, 0))
                .map_or(HitBuckets::Nothing, HitBuckets::One),
        };
        self.out.groups.push(GroupHit::new(entry.clone(), chosen));
        let buckets: Vec<usize> = match chosen {
            HitBuckets::Nothing => Vec::new(),
            HitBuckets::One(index) => vec![index],
            HitBuckets::Every => (0..group.buckets.len()).collect(),
        };
        if buckets.is_empty() {
            self.note(format!("group:{id} ({}): no live bucket -> drop", group.group_type.name()));
        }
        let before = self.key;
        self.depth += 1;
        for index in buckets {
            let Some(bucket) = group.buckets.get(index) else { continue };
            self.note(format!("group:{id} ({}): bucket {index}", group.group_type.name()));
            let (pending, first_action) = (self.dirty.clone(), self.out.actions.len());
            self.execute(&bucket.actions);
            // A bucket's dec_ttl failure ends that bucket only.
            self.list_ended = false;
            self.restore(&before, pending, first_action);
            if self.stopped() {
                break;
            }
        }
        self.depth -= 1;
    }

    /// The live bucket with a positive weight that the hash of the flow falls on, each taking
    /// a share of the hash range in proportion to its weight.
    fn select(&mut self, group: &Group) -> Option<usize> {
        let candidates: Vec<(usize, u64)> = group
            .buckets
            .iter()
            .enumerate()
            .filter(|(_, bucket)| bucket.weight > 0 && self.bucket_live(bucket, 0))
            .map(|(index, bucket)| (index, u64::from(bucket.weight)))
            .collect();
        let total: u64 = candidates.iter().map(|(_, weight)| weight).sum();
        if total == 0 {
            return None;
        }
        let mut point = (u64::from(self.selection_hash()) * total) >> 32;
        for (index, weight) in candidates {
            if point < weight {
                return Some(index);
            }
            point -= weight;
        }
        None
    }

    /// The hash of the flow's Ethernet addresses, type and VLAN, its IP addresses and protocol
    /// and its L4 ports where the packet has them, or its ARP sender and target protocol
    /// addresses (every field it reads is un-wildcarded).
    fn selection_hash(&mut self) -> u32 {
        let mut selected = FlowKey::default();
        let mut take = |xlate: &mut Self, field: Field| {
            let value = xlate.read(field);
            selected.set_u128(field, value);
            value
        };
        for field in [Field::DlSrc, Field::DlDst, Field::VlanTci] {
            take(self, field);
        }
        let (addresses, transport) = match take(self, Field::DlType) {
            ETH_TYPE_IP => (Some([Field::NwSrc, Field::NwDst]), true),
            ETH_TYPE_IPV6 => (Some([Field::Ipv6Src, Field::Ipv6Dst]), true),
            // ARP's sender and target addresses, so ARP flows spread over buckets as IP ones do.
            ETH_TYPE_ARP => (Some([Field::ArpSpa, Field::ArpTpa]), false),
            _ => (None, false),
        };
        if let Some(addresses) = addresses {
            for field in addresses {
                take(self, field);
            }
            if transport && PORT_PROTOCOLS.contains(&take(self, Field::NwProto)) {
                take(self, Field::TpSrc);
                take(self, Field::TpDst);
            }
        }
        hash_words(&selected, u32::MAX)
    }

    /// Makes the working key what it was before a bucket ran (`before`, with the header
    /// changes `pending` then not yet committed) after the bucket emitted the datapath actions
    /// from `first_action` on. A header field those actions rewrote is un-wildcarded (what is
    /// written back is the packet's own value, and whether anything is depends on it) and
    /// written back at the next commit when it differs; a VLAN tag the bucket pushed is popped
    /// at once.
    fn restore(&mut self, before: &FlowKey, pending: Vec<Field>, first_action: usize) {
        self.key = *before;
        let mut rewritten = Vec::new();
        for action in self.out.actions.get(first_action..).unwrap_or_default() {
            let field = match action {
                DpAction::SetField { field, .. } => *field,
                DpAction::SetVlanTci(_) | DpAction::PushVlan { .. } | DpAction::PopVlan => Field::VlanTci,
                _ => continue,
            };
            if !rewritten.contains(&field) {
                rewritten.push(field);
            }
        }
        let restacked =
            self.out.actions.get(first_action..).unwrap_or_default().iter().any(|action| {
                matches!(action, DpAction::PushMpls { .. } | DpAction::PopMpls { .. } | DpAction::CopyTtlIn)
            });
        if restacked {
            self.restore_label_stack(before);
        }
        if rewritten.contains(&Field::VlanTci) {
            self.out.wildcards.set_all_ones(Field::VlanTci2);
            let inner = self.committed.get_u128(Field::VlanTci2);
            if inner != before.get_u128(Field::VlanTci2) && inner == before.get_u128(Field::VlanTci) {
                self.emit(DpAction::PopVlan);
                self.committed.set_u128(Field::VlanTci, inner);
                self.committed.set_u128(Field::VlanTci2, before.get_u128(Field::VlanTci2));
            }
        }
        // Changes from before the bucket that it did not commit are still to be committed.
        let mut dirty: Vec<Field> = pending.into_iter().filter(|field| !rewritten.contains(field)).collect();
        for field in rewritten {
            self.out.wildcards.set_all_ones(field);
            if self.committed.get_u128(field) != before.get_u128(field) {
                dirty.push(field);
            }
        }
        self.dirty = dirty;
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{dp, packet, trunk_ports, REMOTE_MAC, VM_MAC};
    use super::super::{translate, Bridge, BridgePort, MacTable, Translation};
    use super::*;
    use crate::flow::parse_add_flow;
    use crate::pipeline::group::{GroupOp, GROUP_ANY};
    use crate::pipeline::table::{FlowModFlags, FlowTables, TablesSnapshot};

    fn bucket(weight: u16, watch_port: u32, actions: &[Action]) -> Bucket {
        let watch_port = if watch_port == 0 { OfPort::NONE } else { OfPort(watch_port) };
        Bucket { id: 0, weight, watch_port, watch_group: GROUP_ANY, actions: actions.to_vec() }
    }

    fn output(port: u32) -> Action {
        Action::output(OfPort(port))
    }

    fn tables(groups: &[Group], rules: &[&str]) -> TablesSnapshot {
        let mut tables = FlowTables::new();
        for group in groups {
            // Bucket ids are the buckets' positions, as a 1.3 GROUP_MOD gives them.
            let buckets = group.buckets.iter().zip(0..).map(|(b, id)| Bucket { id, ..b.clone() }).collect();
            tables.apply_group_mod(GroupOp::Add(Group { buckets, ..group.clone() }), 0).unwrap();
        }
        for text in rules {
            tables.add(parse_add_flow(text).unwrap(), FlowModFlags::default(), 0).unwrap();
        }
        tables.snapshot()
    }

    fn run(snapshot: &TablesSnapshot, ports: &[BridgePort], key: &FlowKey) -> Translation {
        translate(
            &Bridge { tables: snapshot, ports, macs: &MacTable::new(), miss_to_controller: false, underlay: None },
            key,
            true,
        )
    }

    fn udp(src_port: u16) -> FlowKey {
        let mut key = packet(1, VM_MAC, REMOTE_MAC, None);
        key.set_u64(Field::DlType, 0x0800);
        key.set_u64(Field::NwProto, 17);
        key.set_u64(Field::NwSrc, 0x0a00_0001);
        key.set_u64(Field::TpSrc, u64::from(src_port));
        key
    }

    #[test]
    fn an_all_group_bucket_that_pushes_or_pops_mpls_leaves_the_next_bucket_the_packet_as_it_was() {
        use crate::flow::key::mpls;
        let push = Action::PushMpls { ethertype: 0x8847 };
        let all = Group {
            id: 1,
            group_type: GroupType::All,
            buckets: vec![bucket(0, 0, &[push.clone(), output(2)]), bucket(0, 0, &[output(3)])],
        };
        let snapshot = tables(&[all], &["ip,actions=group:1"]);
        let mut key = udp(5);
        key.set_u64(Field::NwTtl, 64);
        let t = run(&snapshot, &trunk_ports(&[1, 2, 3]), &key);
        assert_eq!(
            t.actions,
            [
                DpAction::PushMpls { ethertype: 0x8847, lse: mpls::lse(0, 0, true, 64) },
                DpAction::Output(dp(2)),
                DpAction::PopMpls { ethertype: 0x0800 },
                DpAction::Output(dp(3))
            ]
        );
        // A bucket that pops: the next gets the entry back.
        let all = Group {
            id: 1,
            group_type: GroupType::All,
            buckets: vec![
                bucket(0, 0, &[Action::PopMpls { ethertype: 0x0800 }, output(2)]),
                bucket(0, 0, &[output(3)]),
            ],
        };
        let snapshot = tables(&[all], &["mpls,actions=group:1"]);
        let mut key = packet(1, VM_MAC, REMOTE_MAC, None);
        key.set_u64(Field::DlType, 0x8847);
        let lse = mpls::lse(30, 1, true, 7);
        key.set_mpls_lse(0, lse);
        let t = run(&snapshot, &trunk_ports(&[1, 2, 3]), &key);
        assert_eq!(
            t.actions,
            [
                DpAction::PopMpls { ethertype: 0x0800 },
                DpAction::Output(dp(2)),
                DpAction::PushMpls { ethertype: 0x8847, lse },
                DpAction::Output(dp(3))
            ]
        );
    }

    #[test]
    fn all_runs_every_bucket_on_its_own_copy() {
        let all = Group {
            id: 1,
            group_type: GroupType::All,
            buckets: vec![
                bucket(0, 0, &[Action::SetEthDst(0x0200_0000_0009), output(2)]),
                bucket(0, 0, &[output(3)]),
                bucket(0, 0, &[Action::PushVlan { tpid: 0x8100 }, output(4)]),
            ],
        };
        let snapshot = tables(&[all], &["in_port=1,actions=group:1,output:5"]);
        let t = run(&snapshot, &trunk_ports(&[1, 2, 3, 4, 5]), &packet(1, VM_MAC, REMOTE_MAC, None));
        let original_dst = u128::from_be_bytes([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xfa, 0x16, 0x3e, 0, 0, 2]);
        assert_eq!(
            t.actions,
            [
                DpAction::SetField { field: Field::DlDst, value: 0x0200_0000_0009 },
                DpAction::Output(dp(2)),
                DpAction::SetField { field: Field::DlDst, value: original_dst },
                DpAction::Output(dp(3)),
                DpAction::PushVlan { tpid: 0x8100, tci: 0 },
                DpAction::Output(dp(4)),
                DpAction::PopVlan,
                DpAction::Output(dp(5)),
            ]
        );
        assert_eq!(t.wildcards.get_u128(Field::DlDst), 0xffff_ffff_ffff, "the megaflow restores each packet's own");
        assert_eq!(t.groups.len(), 1);
        assert_eq!((t.groups[0].group_id(), t.groups[0].buckets()), (1, HitBuckets::Every));
    }

    #[test]
    fn a_bucket_s_rewrite_pins_the_field_even_when_it_wrote_the_packet_s_own_value() {
        let all = Group {
            id: 1,
            group_type: GroupType::All,
            buckets: vec![bucket(0, 0, &[Action::SetEthDst(0x0200_0000_0009), output(2)]), bucket(0, 0, &[])],
        };
        let snapshot = tables(&[all], &["in_port=1,actions=mod_dl_src:02:00:00:00:00:01,group:1,output:3"]);
        let ports = trunk_ports(&[1, 2, 3]);
        let own_value = run(&snapshot, &ports, &packet(1, VM_MAC, [2, 0, 0, 0, 0, 9], None));
        assert_eq!(
            own_value.actions,
            [
                DpAction::SetField { field: Field::DlSrc, value: 0x0200_0000_0001 },
                DpAction::SetField { field: Field::DlDst, value: 0x0200_0000_0009 },
                DpAction::Output(dp(2)),
                DpAction::Output(dp(3)),
            ]
        );
        assert_eq!(own_value.wildcards.get_u128(Field::DlDst), 0xffff_ffff_ffff, "other packets need a write-back");
        let other = run(&snapshot, &ports, &packet(1, VM_MAC, REMOTE_MAC, None));
        assert_eq!(other.actions[3], DpAction::SetField { field: Field::DlDst, value: 0xfa16_3e00_0002 });
    }

    #[test]
    fn indirect_and_the_action_set() {
        let indirect = Group { id: 7, group_type: GroupType::Indirect, buckets: vec![bucket(0, 0, &[output(3)])] };
        let snapshot = tables(&[indirect], &["in_port=1,actions=write_actions(output:2,group:7)"]);
        let t = run(&snapshot, &trunk_ports(&[1, 2, 3]), &packet(1, VM_MAC, REMOTE_MAC, None));
        assert_eq!(t.actions, [DpAction::Output(dp(3))], "the group replaces the action set's output");
        assert_eq!(t.groups[0].buckets(), HitBuckets::One(0));
    }

    #[test]
    fn select_spreads_flows_by_weight_and_keeps_each_flow_on_one_bucket() {
        let select = Group {
            id: 1,
            group_type: GroupType::Select,
            buckets: vec![bucket(1, 0, &[output(2)]), bucket(3, 0, &[output(3)]), bucket(0, 0, &[output(4)])],
        };
        let snapshot = tables(&[select], &["in_port=1,actions=group:1"]);
        let ports = trunk_ports(&[1, 2, 3, 4]);
        let mut per_port = [0u32; 3];
        for flow in 0..4000 {
            let t = run(&snapshot, &ports, &udp(flow));
            let [DpAction::Output(port)] = t.actions[..] else { panic!("{:?}", t.actions) };
            per_port[usize::from(port - dp(2))] += 1;
            assert_eq!(t.wildcards.get_u128(Field::TpSrc), 0xffff, "the hash reads the ports");
            assert_eq!(run(&snapshot, &ports, &udp(flow)).actions, t.actions, "the same flow, the same bucket");
        }
        assert_eq!(per_port[2], 0, "weight 0 is never chosen");
        assert!((850..1150).contains(&per_port[0]), "weight 1 of 4: {per_port:?}");
        assert!((2850..3150).contains(&per_port[1]), "weight 3 of 4: {per_port:?}");
    }

    #[test]
    fn select_spreads_arp_flows_by_their_addresses() {
        let select = Group {
            id: 1,
            group_type: GroupType::Select,
            buckets: vec![bucket(1, 0, &[output(2)]), bucket(1, 0, &[output(3)])],
        };
        let snapshot = tables(&[select], &["in_port=1,actions=group:1"]);
        let ports = trunk_ports(&[1, 2, 3]);
        let arp = |spa: u64, tpa: u64| {
            let mut key = packet(1, VM_MAC, REMOTE_MAC, None);
            key.set_u64(Field::DlType, 0x0806);
            key.set_u64(Field::ArpSpa, spa);
            key.set_u64(Field::ArpTpa, tpa);
            key
        };
        let mut per_port = [0u32; 2];
        for host in 0..1000 {
            let t = run(&snapshot, &ports, &arp(0x0a00_0000 + host, 0x0a00_ffff - host));
            let [DpAction::Output(port)] = t.actions[..] else { panic!("{:?}", t.actions) };
            per_port[usize::from(port - dp(2))] += 1;
            assert_eq!(t.wildcards.get_u128(Field::ArpSpa), 0xffff_ffff, "the hash reads the sender address");
            assert_eq!(t.wildcards.get_u128(Field::ArpTpa), 0xffff_ffff, "the hash reads the target address");
        }
        assert!(per_port.iter().all(|&n| (400..600).contains(&n)), "ARP flows of one MAC pair spread: {per_port:?}");
    }

    #[test]
    fn select_avoids_buckets_whose_port_is_down() {
        let select = Group {
            id: 1,
            group_type: GroupType::Select,
            buckets: vec![bucket(1, 2, &[output(2)]), bucket(1, 3, &[output(3)])],
        };
        let snapshot = tables(&[select], &["in_port=1,actions=group:1"]);
        let mut ports = trunk_ports(&[1, 2, 3]);
        ports[1].live = false;
        for flow in 0..200 {
            assert_eq!(run(&snapshot, &ports, &udp(flow)).actions, [DpAction::Output(dp(3))]);
        }
        ports[2].live = false;
        let t = run(&snapshot, &ports, &udp(1));
        assert!(t.actions.is_empty());
        assert_eq!(t.groups[0].buckets(), HitBuckets::Nothing);
    }

    #[test]
    fn fast_failover_takes_the_first_live_bucket() {
        let watched = Group { id: 2, group_type: GroupType::Indirect, buckets: vec![bucket(0, 3, &[output(3)])] };
        let failover = Group {
            id: 1,
            group_type: GroupType::FastFailover,
            buckets: vec![
                bucket(0, 2, &[output(2)]),
                Bucket { watch_group: 2, ..bucket(0, 0, &[Action::Group(2)]) },
                bucket(0, 4, &[output(4)]),
            ],
        };
        let snapshot = tables(&[watched, failover], &["in_port=1,actions=group:1"]);
        let mut ports = trunk_ports(&[1, 2, 3, 4]);
        let key = packet(1, VM_MAC, REMOTE_MAC, None);
        assert_eq!(run(&snapshot, &ports, &key).actions, [DpAction::Output(dp(2))]);
        ports[1].live = false;
        let t = run(&snapshot, &ports, &key);
        assert_eq!(t.actions, [DpAction::Output(dp(3))], "port 2 down: the bucket watching group 2");
        assert_eq!(t.groups.iter().map(|hit| hit.group_id()).collect::<Vec<_>>(), [1, 2]);
        ports[2].live = false;
        assert_eq!(run(&snapshot, &ports, &key).actions, [DpAction::Output(dp(4))], "group 2 is dead too");
        ports[3].live = false;
        assert!(run(&snapshot, &ports, &key).actions.is_empty());
        ports[1].live = true;
        assert_eq!(run(&snapshot, &ports, &key).actions, [DpAction::Output(dp(2))], "back to the first");
    }
}
