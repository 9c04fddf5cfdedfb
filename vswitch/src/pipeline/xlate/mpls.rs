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
use crate::flow::numbers::{ETH_TYPE_IP, ETH_TYPE_IPV6};
use crate::flow::PacketInReason;
use crate::packet::proto::ethertype;

/// The IP and L4 fields, which hold the header under an MPLS stack (`mpls::INNER`).
const INNER_FIELDS: [Field; 13] = [
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
        key.set_mpls_lse(0, 0);
        set_inner(key, mpls::inner::NONE);
        if !inner_matches {
            for field in INNER_FIELDS {
                key.set_u128(field, 0);
            }
        }
    }
}

/// The inner-header byte a pop to `next` needs for the IP fields to be that header's.
fn inner_of(next: u16) -> Option<u8> {
    match next {
        ethertype::IPV4 => Some(mpls::inner::IPV4),
        ethertype::IPV6 => Some(mpls::inner::IPV6),
        _ => None,
    }
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
            // IPv6 explicit null for IPv6, IPv4 explicit null for the rest.
            let label = if dl_type == ETH_TYPE_IPV6 { 2 } else { 0 };
            let inner = match dl_type {
                ETH_TYPE_IP => mpls::inner::IPV4,
                ETH_TYPE_IPV6 => mpls::inner::IPV6,
                _ => mpls::inner::NONE,
            };
            set_inner(&mut self.key, inner);
            set_inner(&mut self.committed, inner);
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
            if inner(&self.key) == mpls::inner::NONE {
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
            if inner(&self.key) != mpls::inner::NONE {
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
