//! MPLS in the translation: push_mpls, pop_mpls, dec_mpls_ttl, copy_ttl_in/out on the working
//! key, with the datapath actions and the un-wildcarding they need, as Open vSwitch's
//! `flow_push_mpls`/`flow_pop_mpls` do with its three label stack entries
//! (`flow::key::mpls`).
//!
//! A pop to IP does not need a second pass (Open vSwitch recirculates there): the parser already
//! put the IP header under the bottom entry into the key (`mpls::INNER` says which), so the
//! pipeline goes on matching the inner header at once; the megaflow matches the inner-header
//! byte and whatever inner fields the later lookups read. A push keeps the IP fields in the key
//! (hidden by the prerequisites while the packet is MPLS) for a later pop to find them.

use super::{DpAction, PacketInOrigin, Xlate, XlateStop};
use crate::flow::key::{mpls, Field, FlowKey};
use crate::flow::numbers::{ETH_TYPE_ARP, ETH_TYPE_IP, ETH_TYPE_IPV6, ETH_TYPE_RARP};
use crate::flow::PacketInReason;
use crate::packet::proto::ethertype;

/// The IP and L4 fields, which hold the header under an MPLS stack (`mpls::INNER`).
const INNER_FIELDS: [Field; 14] = [
    Field::NwProto,
    Field::NwFrag,
    Field::NwTos,
    Field::NwTtl,
    Field::NwSrc,
    Field::NwDst,
    Field::TpSrc,
    Field::TpDst,
    Field::TcpFlags,
    Field::Ipv6Src,
    Field::Ipv6Dst,
    Field::Ipv6Label,
    Field::Ipv6Exthdr,
    Field::NdTarget,
];

/// The inner-header byte of a key.
fn inner(key: &FlowKey) -> u8 {
    key.bytes[mpls::INNER]
}

fn set_inner(key: &mut FlowKey, inner: u8) {
    key.bytes[mpls::INNER] = inner;
}

/// Shifts the label stack of `key` down for a push of `lse` (the third entry falls off).
fn push_stack(key: &mut FlowKey, lse: u32, ethertype_mpls: u16) {
    for i in (1..mpls::DEPTH).rev() {
        let above = key.mpls_lse(i - 1);
        key.set_mpls_lse(i, above);
    }
    key.set_mpls_lse(0, lse);
    key.set_u64(Field::DlType, u64::from(ethertype_mpls));
}

/// Shifts the `depth` entries of the label stack of `key` up for a pop, the frame's ethertype
/// becoming `next`; a pop to a type other than MPLS leaves the IP fields only when the parser
/// found that header under the stack (`inner_matches`), otherwise clears them.
fn pop_stack(key: &mut FlowKey, depth: usize, next: u16, inner_matches: bool) {
    for i in 1..depth {
        let below = key.mpls_lse(i);
        key.set_mpls_lse(i - 1, below);
    }
    key.set_mpls_lse(depth.saturating_sub(1), 0);
    key.set_u64(Field::DlType, u64::from(next));
    if !ethertype::is_mpls(next) {
        let inner = inner(key);
        key.set_mpls_lse(0, 0);
        set_inner(key, mpls::inner::NONE);
        if inner_matches && inner == mpls::inner::ARP {
            // The hardware addresses go where an ARP frame has them: the stack's words.
            let (from, to) = (mpls::inner::ARP_HA_AT, mpls::TOP);
            key.bytes.copy_within(from..from + ARP_HA_BYTES, to);
            key.bytes[from..from + ARP_HA_BYTES].fill(0);
        } else if !inner_matches {
            for field in INNER_FIELDS {
                key.set_u128(field, 0);
            }
        }
    }
}

/// The bytes of the hardware addresses of an ARP header under the stack (`arp_sha`, `arp_tha`
/// in two words).
const ARP_HA_BYTES: usize = 16;

/// The inner-header byte a pop to `next` needs for the IP fields to be that header's.
fn inner_of(next: u16) -> Option<u8> {
    match next {
        ethertype::IPV4 => Some(mpls::inner::IPV4),
        ethertype::IPV6 => Some(mpls::inner::IPV6),
        ethertype::ARP | ethertype::RARP => Some(mpls::inner::ARP),
        _ => None,
    }
}

/// Whether the header under the stack is IP (its TTL is the key's `nw_ttl`).
fn inner_is_ip(key: &FlowKey) -> bool {
    matches!(inner(key), mpls::inner::IPV4 | mpls::inner::IPV6)
}

impl Xlate<'_, '_> {
    /// Bits `mask` of a field, un-wildcarding only those.
    fn read_bits(&mut self, field: Field, mask: u128) -> u128 {
        let old = self.out.wildcards.get_u128(field);
        self.out.wildcards.set_u128(field, old | mask);
        self.key.get_u128(field) & mask
    }

    /// Un-wildcards bits `mask` of label stack entry `index`.
    fn read_lse_bits(&mut self, index: usize, mask: u32) {
        let old = self.out.wildcards.mpls_lse(index);
        self.out.wildcards.set_mpls_lse(index, old | mask);
    }

    /// How many label stack entries the key holds for the packet (0: not MPLS), reading the
    /// bottom-of-stack bits up to the bottom (Open vSwitch's `flow_count_mpls_labels`).
    fn mpls_depth(&mut self) -> usize {
        let dl_type = u16::try_from(self.read(Field::DlType)).unwrap_or(0);
        if !ethertype::is_mpls(dl_type) {
            return 0;
        }
        for index in 0..mpls::DEPTH {
            self.read_lse_bits(index, mpls::BOS_BIT);
            if self.key.mpls_lse(index) & mpls::BOS_BIT != 0 {
                return index + 1;
            }
        }
        mpls::DEPTH
    }

    /// The packet has more label stack entries than the key holds for an action: dropped, as
    /// Open vSwitch does.
    fn too_many_labels(&mut self, action: &str) {
        self.note(format!("{action}: the label stack would be deeper than the {} entries kept -> drop", mpls::DEPTH));
        self.out.stop = Some(XlateStop::TooManyMplsLabels);
        self.out.actions.clear();
    }

    pub(super) fn push_mpls(&mut self, ethertype_mpls: u16) {
        let depth = self.mpls_depth();
        if depth >= mpls::DEPTH {
            self.too_many_labels("push_mpls");
            return;
        }
        self.commit();
        let lse = if depth > 0 {
            // A copy of the top entry's label, TC and TTL; not the bottom.
            self.read_lse_bits(0, !mpls::BOS_BIT);
            self.key.mpls_lse(0) & !mpls::BOS_BIT
        } else {
            let dl_type = self.key.get_u128(Field::DlType);
            let ip = dl_type == ETH_TYPE_IP || dl_type == ETH_TYPE_IPV6;
            let (tc, ttl) = if ip {
                let dscp = self.read_bits(Field::NwTos, 0xfc) >> 2;
                let ttl = self.read(Field::NwTtl);
                (dscp & 7, if ttl == 0 { 64 } else { ttl })
            } else {
                (0, 64)
            };
            let inner = match dl_type {
                ETH_TYPE_IP => mpls::inner::IPV4,
                ETH_TYPE_IPV6 => mpls::inner::IPV6,
                ETH_TYPE_ARP | ETH_TYPE_RARP => {
                    // The entry takes the hardware addresses' words: they wait aside for a pop,
                    // and the megaflow matches them whole (a later read would be elsewhere).
                    self.out.wildcards.bytes[mpls::TOP..mpls::TOP + ARP_HA_BYTES].fill(0xff);
                    for key in [&mut self.key, &mut self.committed] {
                        key.bytes.copy_within(mpls::TOP..mpls::TOP + ARP_HA_BYTES, mpls::inner::ARP_HA_AT);
                    }
                    mpls::inner::ARP
                }
                _ => mpls::inner::NONE,
            };
            set_inner(&mut self.key, inner);
            set_inner(&mut self.committed, inner);
            // IPv6 explicit null for IPv6, IPv4 explicit null for the rest, as Open vSwitch.
            let label = if dl_type == ETH_TYPE_IPV6 { 2 } else { 0 };
            #[expect(clippy::cast_possible_truncation, reason = "3 and 8 bits")]
            mpls::lse(label, tc as u8, true, ttl as u8)
        };
        self.emit(DpAction::PushMpls { ethertype: ethertype_mpls, lse });
        push_stack(&mut self.key, lse, ethertype_mpls);
        push_stack(&mut self.committed, lse, ethertype_mpls);
    }

    pub(super) fn pop_mpls(&mut self, next: u16) {
        let depth = self.mpls_depth();
        if depth == 0 {
            self.note("pop_mpls: not an MPLS packet -> nothing to pop".into());
            return;
        }
        if depth == mpls::DEPTH && self.key.mpls_lse(mpls::DEPTH - 1) & mpls::BOS_BIT == 0 {
            self.too_many_labels("pop_mpls");
            return;
        }
        self.commit();
        self.emit(DpAction::PopMpls { ethertype: next });
        for index in 1..depth {
            self.read_lse_bits(index, u32::MAX);
        }
        let inner_matches = match inner_of(next) {
            Some(wanted) if !ethertype::is_mpls(next) => {
                self.out.wildcards.bytes[mpls::INNER] = 0xff;
                inner(&self.key) == wanted
            }
            _ => false,
        };
        if inner_matches && inner(&self.key) == mpls::inner::ARP {
            // What later lookups read of the hardware addresses is read where the datapath key
            // has them, not where they move to: the megaflow matches them whole.
            let at = mpls::inner::ARP_HA_AT;
            self.out.wildcards.bytes[at..at + ARP_HA_BYTES].fill(0xff);
        }
        pop_stack(&mut self.key, depth, next, inner_matches);
        pop_stack(&mut self.committed, depth, next, inner_matches);
        if !ethertype::is_mpls(next) {
            let found = if inner_matches { "the inner header" } else { "no inner header of that type" };
            self.note(format!("pop_mpls:{next:#06x}: {found} (parsed with the label stack, no recirculation)"));
        }
    }

    /// dec_mpls_ttl: a TTL of 0 or 1 goes to the controllers as invalid_ttl (the connections
    /// that asked for it) and ends the action list; on a packet that is not MPLS it only ends the
    /// action list, as in Open vSwitch.
    pub(super) fn dec_mpls_ttl(&mut self) {
        let dl_type = u16::try_from(self.read(Field::DlType)).unwrap_or(0);
        if !ethertype::is_mpls(dl_type) {
            self.note("dec_mpls_ttl: not an MPLS packet -> this action list ends".into());
            self.list_ended = true;
            return;
        }
        let ttl = self.read(Field::MplsTtl);
        if ttl > 1 {
            self.write_field(Field::MplsTtl, ttl - 1, u128::MAX);
            return;
        }
        self.note("dec_mpls_ttl: TTL expired -> controller (invalid_ttl), this action list ends".into());
        self.packet_in(PacketInReason::InvalidTtl, PacketInOrigin::Rule, u16::MAX);
        self.ttl_expired = true;
        self.list_ended = true;
    }

    /// copy_ttl_out: the TTL of the next entry, or of the IP header under the bottom one, into
    /// the top entry.
    pub(super) fn copy_ttl_out(&mut self) {
        let depth = self.mpls_depth();
        if depth == 0 {
            return;
        }
        let ttl = if self.key.mpls_lse(0) & mpls::BOS_BIT == 0 {
            self.read_lse_bits(1, 0xff);
            u128::from(self.key.mpls_lse(1) & 0xff)
        } else {
            self.out.wildcards.bytes[mpls::INNER] = 0xff;
            if !inner_is_ip(&self.key) {
                return;
            }
            self.read(Field::NwTtl)
        };
        self.write_field(Field::MplsTtl, ttl, u128::MAX);
    }

    /// copy_ttl_in: the top entry's TTL into the next entry or the IP header under the bottom
    /// one (the datapath action finds that header in the packet).
    pub(super) fn copy_ttl_in(&mut self) {
        let depth = self.mpls_depth();
        if depth == 0 {
            return;
        }
        self.commit();
        let ttl = u32::try_from(self.read(Field::MplsTtl)).unwrap_or(0);
        self.emit(DpAction::CopyTtlIn);
        if self.key.mpls_lse(0) & mpls::BOS_BIT == 0 {
            for key in [&mut self.key, &mut self.committed] {
                let next = key.mpls_lse(1);
                key.set_mpls_lse(1, (next & !0xff) | ttl);
            }
        } else {
            self.out.wildcards.bytes[mpls::INNER] = 0xff;
            if inner_is_ip(&self.key) {
                for key in [&mut self.key, &mut self.committed] {
                    key.set_u128(Field::NwTtl, u128::from(ttl));
                }
            }
        }
    }

    /// After a group bucket pushed or popped label stack entries (or copied a TTL into the
    /// next one): takes the packet's stack off entry by entry and pushes the stack it had
    /// before the bucket (`before`'s) back, so the next bucket gets the packet as it was.
    pub(super) fn restore_label_stack(&mut self, before: &FlowKey) {
        let count = |key: &FlowKey| {
            if !ethertype::is_mpls(u16::try_from(key.get_u64(Field::DlType)).unwrap_or(0)) {
                return 0;
            }
            (0..mpls::DEPTH).find(|&i| key.mpls_lse(i) & mpls::BOS_BIT != 0).map_or(mpls::DEPTH, |i| i + 1)
        };
        let (now, then) = (count(&self.committed), count(before));
        let before_type = u16::try_from(before.get_u64(Field::DlType)).unwrap_or(0);
        for popped in 0..now {
            let next = if popped + 1 < now || then > 0 { ethertype::MPLS } else { before_type };
            self.emit(DpAction::PopMpls { ethertype: next });
        }
        for index in (0..then).rev() {
            self.read_lse_bits(index, u32::MAX);
            self.emit(DpAction::PushMpls { ethertype: before_type, lse: before.mpls_lse(index) });
        }
        self.committed.set_u64(Field::DlType, before.get_u64(Field::DlType));
        self.committed.bytes[mpls::TOP..mpls::DEEPER[1] + mpls::LSE_LEN]
            .copy_from_slice(&before.bytes[mpls::TOP..mpls::DEEPER[1] + mpls::LSE_LEN]);
        for field in INNER_FIELDS {
            self.committed.set_u128(field, before.get_u128(field));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{dp, run, tables, trunk_ports};
    use super::super::{MacTable, Translation};
    use super::*;
    use crate::packet::extract;

    /// The datapath key of `frame` received on ofport `ofport`.
    fn key_of(ofport: u32, frame: &[u8]) -> FlowKey {
        let mut key = FlowKey::default();
        extract(frame, u32::from(dp(ofport)), &mut key);
        key
    }

    /// An Ethernet frame of type `ethertype` with `body`.
    fn frame(ethertype: u16, body: &[u8]) -> Vec<u8> {
        let mut frame = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1];
        frame.extend_from_slice(&ethertype.to_be_bytes());
        frame.extend_from_slice(body);
        frame
    }

    /// An IPv4/UDP packet (no checksums: the translation does not read them) to `dst`, TOS
    /// `tos`, TTL `ttl`.
    fn ipv4(dst: [u8; 4], tos: u8, ttl: u8) -> Vec<u8> {
        let mut ip = vec![0x45, tos, 0, 28, 0, 0, 0, 0, ttl, 17, 0, 0, 10, 0, 0, 1];
        ip.extend_from_slice(&dst);
        ip.extend_from_slice(&[0x13, 0x88, 0x13, 0x89, 0, 8, 0, 0]);
        ip
    }

    fn labelled(stack: &[u32], payload: &[u8]) -> Vec<u8> {
        let mut body: Vec<u8> = stack.iter().flat_map(|lse| lse.to_be_bytes()).collect();
        body.extend_from_slice(payload);
        frame(ethertype::MPLS, &body)
    }

    fn translate(rules: &[&str], key: &FlowKey) -> Translation {
        run(&tables(rules), &trunk_ports(&[1, 2, 3]), &MacTable::new(), key)
    }

    #[test]
    fn push_on_ip_takes_tc_and_ttl_from_the_ip_header() {
        let rules = ["in_port=1,ip,actions=push_mpls:0x8847,set_field:10->mpls_label,output:2"];
        let t = translate(&rules, &key_of(1, &frame(ethertype::IPV4, &ipv4([1, 2, 3, 4], 0xb9, 33))));
        // DSCP 46: its low 3 bits are the TC, as Open vSwitch takes them.
        let lse = mpls::lse(0, 6, true, 33);
        assert_eq!(
            t.actions,
            [
                DpAction::PushMpls { ethertype: ethertype::MPLS, lse },
                DpAction::SetField { field: Field::MplsLabel, value: 10 },
                DpAction::Output(dp(2))
            ]
        );
        assert_eq!(t.wildcards.get_u128(Field::NwTos), 0xfc, "the TC comes from the DSCP");
        assert_eq!(t.wildcards.get_u128(Field::NwTtl), 0xff);
        assert_eq!(t.wildcards.get_u128(Field::MplsLabel), 0, "written, never read");
        // On MPLS: a copy of the top entry, not the bottom; the TTL comes from the stack.
        let rules = ["in_port=1,actions=push_mpls:0x8848,output:2"];
        let t = translate(&rules, &key_of(1, &labelled(&[mpls::lse(7, 2, true, 9)], &ipv4([1; 4], 0, 64))));
        assert_eq!(
            t.actions[0],
            DpAction::PushMpls { ethertype: ethertype::MPLS_MCAST, lse: mpls::lse(7, 2, false, 9) }
        );
        assert_eq!(t.wildcards.get_u128(Field::NwTtl), 0, "not IP: its TTL is not read");
        // IPv6: label 2 (IPv6 explicit null), as Open vSwitch.
        let mut ipv6 = vec![0x6b, 0x80, 0, 0, 0, 0, 59, 40];
        ipv6.extend_from_slice(&[0; 32]);
        let t = translate(&["ipv6,actions=push_mpls:0x8847,output:2"], &key_of(1, &frame(ethertype::IPV6, &ipv6)));
        assert_eq!(t.actions[0], DpAction::PushMpls { ethertype: ethertype::MPLS, lse: mpls::lse(2, 6, true, 40) });
    }

    #[test]
    fn pop_to_arp_finds_the_arp_header_under_the_stack() {
        let rules = [
            "mpls,actions=pop_mpls:0x0806,goto_table:1",
            "table=1,arp,arp_sha=02:00:00:00:00:07,arp_spa=10.0.0.7,actions=output:2",
            "table=1,priority=0,actions=output:3",
        ];
        let arp = |sha_last: u8| {
            let mut arp = vec![0, 1, 8, 0, 6, 4, 0, 1, 2, 0, 0, 0, 0, sha_last, 10, 0, 0, 7];
            arp.extend_from_slice(&[0, 0, 0, 0, 0, 0, 10, 0, 0, 9]);
            key_of(1, &labelled(&[mpls::lse(80, 0, true, 64)], &arp))
        };
        let t = translate(&rules, &arp(7));
        assert_eq!(t.actions, [DpAction::PopMpls { ethertype: ethertype::ARP }, DpAction::Output(dp(2))]);
        let at = mpls::inner::ARP_HA_AT;
        assert_eq!(
            &t.wildcards.bytes[at..at + 16],
            &[0xff; 16],
            "the hardware addresses where the datapath key has them"
        );
        assert_eq!(translate(&rules, &arp(8)).actions[1], DpAction::Output(dp(3)));
    }

    #[test]
    fn pop_then_goto_table_matches_the_inner_header_in_one_pass() {
        let rules = [
            "in_port=1,mpls,mpls_label=100,actions=pop_mpls:0x0800,goto_table:1",
            "table=1,ip,nw_dst=192.168.40.50,actions=output:2",
            "table=1,priority=0,actions=output:3",
        ];
        let to = |dst| key_of(1, &labelled(&[mpls::lse(100, 0, true, 64)], &ipv4(dst, 0, 64)));
        let t = translate(&rules, &to([192, 168, 40, 50]));
        assert_eq!(t.actions, [DpAction::PopMpls { ethertype: ethertype::IPV4 }, DpAction::Output(dp(2))]);
        assert_eq!(t.wildcards.get_u128(Field::NwDst), 0xffff_ffff, "the inner destination decides");
        assert_eq!(t.wildcards.bytes[mpls::INNER], 0xff, "and that it is an IPv4 header");
        let other = translate(&rules, &to([10, 0, 0, 9]));
        assert_eq!(other.actions, [DpAction::PopMpls { ethertype: ethertype::IPV4 }, DpAction::Output(dp(3))]);
        // A label stack over something else: after the pop no IP field matches.
        let ethernet_payload = key_of(1, &labelled(&[mpls::lse(100, 0, true, 64)], &[0; 40]));
        assert_eq!(translate(&rules, &ethernet_payload).actions[1], DpAction::Output(dp(3)));
    }

    #[test]
    fn stacks_deeper_than_the_key_are_dropped_on_push_and_pop() {
        let three = [mpls::lse(1, 0, false, 9), mpls::lse(2, 0, false, 9), mpls::lse(3, 0, false, 9)];
        let deep = key_of(1, &labelled(&three, &[0; 20]));
        for rule in ["actions=push_mpls:0x8847,output:2", "mpls,actions=output:3,pop_mpls:0x8847,output:2"] {
            let t = translate(&[rule], &deep);
            assert_eq!((t.actions.as_slice(), t.stop), (&[][..], Some(XlateStop::TooManyMplsLabels)), "{rule}");
        }
        // Three entries with the bottom one: a pop is fine.
        let three_bottom = [three[0], three[1], mpls::lse(3, 0, true, 9)];
        let t = translate(&["mpls,actions=pop_mpls:0x8847,output:2"], &key_of(1, &labelled(&three_bottom, &[0; 20])));
        assert_eq!(t.actions, [DpAction::PopMpls { ethertype: ethertype::MPLS }, DpAction::Output(dp(2))]);
    }

    #[test]
    fn dec_mpls_ttl_decrements_or_sends_invalid_ttl_up() {
        let rules = ["mpls,actions=dec_mpls_ttl,output:2"];
        let with_ttl = |ttl| key_of(1, &labelled(&[mpls::lse(5, 0, true, ttl)], &[0; 20]));
        let t = translate(&rules, &with_ttl(9));
        assert_eq!(t.actions, [DpAction::SetField { field: Field::MplsTtl, value: 8 }, DpAction::Output(dp(2))]);
        for ttl in [0, 1] {
            let t = translate(&rules, &with_ttl(ttl));
            assert!(
                matches!(t.actions.as_slice(), [DpAction::Controller(meta)] if meta.reason == PacketInReason::InvalidTtl),
                "{:?}",
                t.actions
            );
            assert_eq!(t.wildcards.get_u128(Field::MplsTtl), 0xff);
        }
        // copy_ttl_out from the IP header under the bottom entry, copy_ttl_in into it.
        let t = translate(
            &["mpls,actions=copy_ttl_out,output:2"],
            &key_of(1, &labelled(&[mpls::lse(5, 0, true, 9)], &ipv4([1; 4], 0, 77))),
        );
        assert_eq!(t.actions, [DpAction::SetField { field: Field::MplsTtl, value: 77 }, DpAction::Output(dp(2))]);
        let t = translate(
            &["mpls,actions=copy_ttl_in,pop_mpls:0x0800,output:2"],
            &key_of(1, &labelled(&[mpls::lse(5, 0, true, 9)], &ipv4([1; 4], 0, 77))),
        );
        assert_eq!(
            t.actions,
            [DpAction::CopyTtlIn, DpAction::PopMpls { ethertype: ethertype::IPV4 }, DpAction::Output(dp(2))]
        );
        assert_eq!(t.committed.get_u128(Field::NwTtl), 9);
    }
}
