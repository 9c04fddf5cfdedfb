//! `Match`: the fields a rule matches on, as a value and a mask over the flow key (the value is
//! always pre-masked, so two matches are equal exactly when they match the same packets the same
//! way). Field-level setters and getters, packet matching (in tests; the pipeline matches through
//! `pipeline::table`), the subsumption test that OpenFlow's non-strict delete and modify need,
//! and the OpenFlow / Open vSwitch prerequisite rules (tp_dst needs tcp, udp or sctp; arp_* needs
//! arp; nd_* needs ICMPv6 neighbour discovery; ...).

use std::fmt;

use super::key::{Field, FlowKey, Prereq, FIELDS, KEY_WORDS};
use super::port::OfPort;

/// The wire constants of `packet::proto` that matches and actions name, as the flow key's `u128`
/// values and masks (patterns and bit operations on match values need constants of that type).
/// The values live in `packet::proto`; this is only their `u128` form.
pub(crate) mod numbers {
    use crate::packet::proto::{ethertype, ip_proto, nd, nw_frag, tcp, vlan};

    pub const ETH_TYPE_IP: u128 = ethertype::IPV4 as u128;
    pub const ETH_TYPE_ARP: u128 = ethertype::ARP as u128;
    pub const ETH_TYPE_RARP: u128 = ethertype::RARP as u128;
    pub const ETH_TYPE_IPV6: u128 = ethertype::IPV6 as u128;
    pub const ETH_TYPE_MPLS: u128 = ethertype::MPLS as u128;
    pub const ETH_TYPE_MPLS_MCAST: u128 = ethertype::MPLS_MCAST as u128;
    pub const IP_PROTO_ICMP: u128 = ip_proto::ICMP as u128;
    pub const IP_PROTO_TCP: u128 = ip_proto::TCP as u128;
    pub const IP_PROTO_UDP: u128 = ip_proto::UDP as u128;
    pub const IP_PROTO_ICMPV6: u128 = ip_proto::ICMPV6 as u128;
    pub const IP_PROTO_SCTP: u128 = ip_proto::SCTP as u128;
    /// The "present" bit of vlan_tci (also OpenFlow 1.3's OFPVID_PRESENT of vlan_vid).
    pub const VLAN_PRESENT: u128 = vlan::PRESENT as u128;
    /// The VLAN id bits of vlan_tci.
    pub const VLAN_VID_MASK: u128 = vlan::VID_MASK as u128;
    /// The VLAN priority bits of vlan_tci (shifted by `vlan::PCP_SHIFT`).
    pub const VLAN_PCP_MASK: u128 = vlan::PCP_MASK as u128;
    /// All the bits of tcp_flags.
    pub const TCP_FLAGS_MASK: u128 = tcp::FLAGS_MASK as u128;
    /// nw_frag: the packet is a fragment / a fragment other than the first.
    pub const FRAG_ANY: u128 = nw_frag::ANY as u128;
    pub const FRAG_LATER: u128 = nw_frag::LATER as u128;
    pub const ND_NEIGHBOR_SOLICIT: u128 = nd::NEIGHBOR_SOLICITATION as u128;
    pub const ND_NEIGHBOR_ADVERT: u128 = nd::NEIGHBOR_ADVERTISEMENT as u128;
}

use numbers::*;

/// Which packets a rule applies to: those whose key, masked, equals the value.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Match {
    value: FlowKey,
    mask: FlowKey,
}

/// A field is matched without what makes it meaningful (e.g. tp_dst without tcp/udp/sctp).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrerequisiteError {
    pub field: Field,
    pub prereq: Prereq,
}

impl fmt::Display for PrerequisiteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (what, example) = requirement(self.prereq);
        write!(f, "{} requires {what} (add e.g. '{example}')", self.field)
    }
}

impl std::error::Error for PrerequisiteError {}

/// What a prerequisite asks for in words, and an example of match fields that give it.
pub(crate) fn requirement(prereq: Prereq) -> (&'static str, &'static str) {
    match prereq {
        Prereq::None => ("nothing", ""),
        Prereq::Vlan => ("a VLAN tag", "dl_vlan=10,"),
        Prereq::Ip => ("ip or ipv6", "ip,"),
        Prereq::Ipv4 => ("ip", "ip,"),
        Prereq::Ipv6 => ("ipv6", "ipv6,"),
        Prereq::Arp => ("arp or rarp", "arp,"),
        Prereq::Tcp => ("tcp", "tcp,"),
        Prereq::Udp => ("udp", "udp,"),
        Prereq::Sctp => ("sctp", "sctp,"),
        Prereq::L4Ports => ("tcp, udp or sctp", "tcp,"),
        Prereq::Icmpv4 => ("icmp", "icmp,"),
        Prereq::Icmpv6 => ("icmp6", "icmp6,"),
        Prereq::Nd => ("icmp6 with icmp_type 135 or 136 and icmp_code 0", "icmp6,icmp_type=135,"),
        Prereq::NdSll => ("icmp6 with icmp_type 135 and icmp_code 0", "icmp6,icmp_type=135,"),
        Prereq::NdTll => ("icmp6 with icmp_type 136 and icmp_code 0", "icmp6,icmp_type=136,"),
        Prereq::Mpls => ("mpls or mplsm", "mpls,"),
    }
}

/// Every bit that belongs to some registry field or mapped tun_metadata field.
fn meaningful_bits() -> FlowKey {
    let mut bits = FlowKey::default();
    for field in Field::all_mapped() {
        let field_bits = bits.get_u128(field) | field.bits_mask();
        bits.set_u128(field, field_bits);
    }
    bits
}

/// A key with all ones in `field`'s meaningful bits.
fn bits_of(field: Field) -> FlowKey {
    let mut bits = FlowKey::default();
    bits.set_u128(field, field.bits_mask());
    bits
}

impl Match {
    /// Matches every packet.
    pub fn catch_all() -> Match {
        Match::default()
    }

    /// A match from a value and a mask key; mask bits outside every field are dropped and the
    /// value is masked.
    pub fn new(value: &FlowKey, mask: &FlowKey) -> Match {
        let mask = mask.masked(&meaningful_bits());
        Match { value: value.masked(&mask), mask }
    }

    /// The pre-masked value.
    pub fn value(&self) -> &FlowKey {
        &self.value
    }

    pub fn mask(&self) -> &FlowKey {
        &self.mask
    }

    /// Matches `field` against `value` under `mask` (both in the field's bits; bits beyond them
    /// are ignored), replacing what was matched on it before.
    pub fn set_masked(&mut self, field: Field, value: u128, mask: u128) {
        let mask = mask & field.bits_mask();
        self.mask.set_u128(field, mask);
        self.value.set_u128(field, value & mask);
    }

    /// Matches `field` exactly.
    pub fn set_exact(&mut self, field: Field, value: u128) {
        self.set_masked(field, value, u128::MAX);
    }

    /// Stops matching on `field`.
    pub fn wildcard(&mut self, field: Field) {
        self.set_masked(field, 0, 0);
    }

    /// Adds `value`/`mask` to what is matched on `field`; false (and nothing changed) when it
    /// contradicts a bit already matched.
    pub(crate) fn constrain(&mut self, field: Field, value: u128, mask: u128) -> bool {
        let (old_value, old_mask) = self.value_and_mask(field);
        let mask = mask & field.bits_mask();
        if (old_value ^ value) & old_mask & mask != 0 {
            return false;
        }
        self.set_masked(field, old_value | (value & mask), old_mask | mask);
        true
    }

    /// The value and the mask of `field`, in the field's bits.
    pub fn value_and_mask(&self, field: Field) -> (u128, u128) {
        let bits = field.bits_mask();
        (self.value.get_u128(field) & bits, self.mask.get_u128(field) & bits)
    }

    /// The value of `field` if it is matched exactly.
    pub fn exact_value(&self, field: Field) -> Option<u128> {
        let (value, mask) = self.value_and_mask(field);
        (mask == field.bits_mask()).then_some(value)
    }

    /// Whether any bit of `field` is matched.
    #[cfg(test)]
    pub fn is_matched(&self, field: Field) -> bool {
        self.value_and_mask(field).1 != 0
    }

    /// The input port, if it is matched exactly.
    pub fn in_port(&self) -> Option<OfPort> {
        self.exact_value(Field::InPort).and_then(|port| u32::try_from(port).ok()).map(OfPort)
    }

    pub fn set_in_port(&mut self, port: OfPort) {
        self.set_exact(Field::InPort, u128::from(port.0));
    }

    /// Whether the packet with flow key `key` matches.
    #[cfg(test)]
    pub fn matches(&self, key: &FlowKey) -> bool {
        (0..KEY_WORDS).all(|i| key.word(i) & self.mask.word(i) == self.value.word(i))
    }

    /// Whether every packet matches.
    pub fn is_catch_all(&self) -> bool {
        self.mask == FlowKey::default()
    }

    /// Whether every packet that matches `self` also matches `other` (OpenFlow's non-strict
    /// delete and modify select the rules whose match is subsumed by the command's).
    pub fn is_subsumed_by(&self, other: &Match) -> bool {
        (0..KEY_WORDS).all(|i| {
            let other_mask = other.mask.word(i);
            other_mask & !self.mask.word(i) == 0 && self.value.word(i) & other_mask == other.value.word(i)
        })
    }

    /// Whether the match guarantees `prereq` for every packet it matches (as Open vSwitch
    /// decides it: from the matched values of dl_type, nw_proto, nw_frag, vlan_tci and the ICMP
    /// type and code).
    pub fn satisfies(&self, prereq: Prereq) -> bool {
        let dl_type = self.exact_value(Field::DlType);
        let proto = self.exact_value(Field::NwProto);
        let is_ip = matches!(dl_type, Some(ETH_TYPE_IP | ETH_TYPE_IPV6));
        let not_later_fragment = self.value_and_mask(Field::NwFrag).0 & FRAG_LATER == 0;
        let transport = |wanted: &[u128]| is_ip && proto.is_some_and(|p| wanted.contains(&p)) && not_later_fragment;
        let icmpv6 = dl_type == Some(ETH_TYPE_IPV6) && proto == Some(IP_PROTO_ICMPV6);
        let nd_type = if icmpv6 && self.value_and_mask(Field::Icmpv6Code).0 == 0 {
            self.exact_value(Field::Icmpv6Type)
        } else {
            None
        };
        match prereq {
            Prereq::None => true,
            Prereq::Vlan => self.value_and_mask(Field::VlanTci).0 & VLAN_PRESENT != 0,
            Prereq::Ip => is_ip,
            Prereq::Ipv4 => dl_type == Some(ETH_TYPE_IP),
            Prereq::Ipv6 => dl_type == Some(ETH_TYPE_IPV6),
            Prereq::Arp => matches!(dl_type, Some(ETH_TYPE_ARP | ETH_TYPE_RARP)),
            Prereq::Tcp => transport(&[IP_PROTO_TCP]),
            Prereq::Udp => transport(&[IP_PROTO_UDP]),
            Prereq::Sctp => transport(&[IP_PROTO_SCTP]),
            Prereq::L4Ports => transport(&[IP_PROTO_TCP, IP_PROTO_UDP, IP_PROTO_SCTP]),
            Prereq::Icmpv4 => dl_type == Some(ETH_TYPE_IP) && proto == Some(IP_PROTO_ICMP),
            Prereq::Icmpv6 => icmpv6,
            Prereq::Nd => matches!(nd_type, Some(ND_NEIGHBOR_SOLICIT | ND_NEIGHBOR_ADVERT)),
            Prereq::NdSll => nd_type == Some(ND_NEIGHBOR_SOLICIT),
            Prereq::NdTll => nd_type == Some(ND_NEIGHBOR_ADVERT),
            Prereq::Mpls => matches!(dl_type, Some(ETH_TYPE_MPLS | ETH_TYPE_MPLS_MCAST)),
        }
    }

    /// Checks that every matched field has its prerequisites. Where fields share storage (ICMP
    /// type in tp_src, ARP op in nw_proto, ...) the matched bits are fine if any field that
    /// holds them has its prerequisites; otherwise the error names the narrowest such field.
    pub fn check_prerequisites(&self) -> Result<(), PrerequisiteError> {
        for def in FIELDS {
            let matched = self.mask.masked(&bits_of(def.field));
            if matched == FlowKey::default() || self.satisfies(def.prereq) {
                continue;
            }
            let holders: Vec<_> = FIELDS
                .iter()
                .filter(|other| {
                    let outside = bits_of(other.field);
                    (0..KEY_WORDS).all(|i| matched.word(i) & !outside.word(i) == 0)
                })
                .collect();
            if holders.iter().any(|holder| self.satisfies(holder.prereq)) {
                continue;
            }
            // Bits of several smaller fields (the MPLS label, TC and bottom of stack within
            // arp_sha's bytes): fine when fields whose prerequisites hold cover them all.
            let mut covered = FlowKey::default();
            for other in FIELDS.iter().filter(|other| self.satisfies(other.prereq)) {
                covered.or_with(&bits_of(other.field));
            }
            if (0..KEY_WORDS).all(|i| matched.word(i) & !covered.word(i) == 0) {
                continue;
            }
            let narrowest = holders.iter().min_by_key(|holder| holder.bytes).copied().unwrap_or(def);
            return Err(PrerequisiteError { field: narrowest.field, prereq: narrowest.prereq });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(fields: &[(Field, u128)]) -> FlowKey {
        let mut key = FlowKey::default();
        for &(field, value) in fields {
            key.set_u128(field, value);
        }
        key
    }

    fn tcp_to(port: u128) -> Match {
        let mut m = Match::catch_all();
        m.set_exact(Field::DlType, ETH_TYPE_IP);
        m.set_exact(Field::NwProto, IP_PROTO_TCP);
        m.set_exact(Field::TpDst, port);
        m
    }

    #[test]
    fn values_are_pre_masked_and_fields_clipped_to_their_bits() {
        let mut m = Match::catch_all();
        m.set_masked(Field::NwSrc, 0x0a01_0203, 0xffff_0000);
        assert_eq!(m.value_and_mask(Field::NwSrc), (0x0a01_0000, 0xffff_0000));
        m.set_masked(Field::Ipv6Label, 0xfff_ffff, u128::MAX);
        assert_eq!(m.value_and_mask(Field::Ipv6Label), (0xf_ffff, 0xf_ffff));
        assert_eq!(m.exact_value(Field::Ipv6Label), Some(0xf_ffff));
        assert_eq!(m.exact_value(Field::NwSrc), None);
        m.wildcard(Field::NwSrc);
        assert!(!m.is_matched(Field::NwSrc));
        let built = Match::new(&key(&[(Field::TpDst, 0x1234)]), &key(&[(Field::TpDst, 0xff00)]));
        assert_eq!(built.value_and_mask(Field::TpDst), (0x1200, 0xff00));
        let everything = FlowKey { bytes: [0xff; crate::flow::key::KEY_BYTES] };
        let all = Match::new(&everything, &everything);
        assert_eq!(all.value_and_mask(Field::NwFrag), (3, 3));
        assert_eq!(all.mask().get_u128(Field::NwFrag), 3);
    }

    #[test]
    fn icmp_type_shares_tp_src_storage() {
        let mut m = Match::catch_all();
        m.set_exact(Field::IcmpType, 8);
        assert_eq!(m.value_and_mask(Field::TpSrc), (8, 0x00ff));
        assert_eq!(m.value_and_mask(Field::Icmpv6Type), (8, 0xff));
    }

    #[test]
    fn matching_packets() {
        let m = tcp_to(80);
        assert!(m.matches(&key(&[
            (Field::DlType, 0x0800),
            (Field::NwProto, 6),
            (Field::TpDst, 80),
            (Field::TpSrc, 9)
        ])));
        assert!(!m.matches(&key(&[(Field::DlType, 0x0800), (Field::NwProto, 17), (Field::TpDst, 80)])));
        assert!(Match::catch_all().matches(&key(&[(Field::InPort, 3)])));
        let mut prefix = Match::catch_all();
        prefix.set_masked(Field::NwDst, 0x0a80_0000, 0xff80_0000);
        assert!(prefix.matches(&key(&[(Field::NwDst, 0x0aff_0001)])));
        assert!(!prefix.matches(&key(&[(Field::NwDst, 0x0a7f_0001)])));
    }

    #[test]
    fn subsumption() {
        let mut wide = Match::catch_all();
        wide.set_exact(Field::DlType, ETH_TYPE_IP);
        let narrow = tcp_to(80);
        assert!(narrow.is_subsumed_by(&wide));
        assert!(!wide.is_subsumed_by(&narrow));
        assert!(narrow.is_subsumed_by(&narrow));
        assert!(narrow.is_subsumed_by(&Match::catch_all()));
        assert!(!narrow.is_subsumed_by(&tcp_to(81)));
        let mut net8 = Match::catch_all();
        net8.set_masked(Field::NwSrc, 0x0a00_0000, 0xff00_0000);
        let mut net16 = Match::catch_all();
        net16.set_masked(Field::NwSrc, 0x0a01_0000, 0xffff_0000);
        let mut other16 = Match::catch_all();
        other16.set_masked(Field::NwSrc, 0x0b01_0000, 0xffff_0000);
        assert!(net16.is_subsumed_by(&net8));
        assert!(!net8.is_subsumed_by(&net16));
        assert!(!other16.is_subsumed_by(&net8));
    }

    #[test]
    fn constrain_merges_or_reports_a_contradiction() {
        let mut m = Match::catch_all();
        assert!(m.constrain(Field::VlanTci, 0x1005, 0x1fff));
        assert!(m.constrain(Field::VlanTci, 0x1000 | (3 << 13), 0xf000));
        assert_eq!(m.value_and_mask(Field::VlanTci), (0x7005, 0xffff));
        assert!(!m.constrain(Field::VlanTci, 0, 0xffff));
        assert_eq!(m.value_and_mask(Field::VlanTci), (0x7005, 0xffff));
    }

    #[test]
    fn in_port_helpers() {
        let mut m = Match::catch_all();
        assert_eq!(m.in_port(), None);
        m.set_in_port(OfPort(4));
        assert_eq!(m.in_port(), Some(OfPort(4)));
        m.set_masked(Field::InPort, 4, 0xff);
        assert_eq!(m.in_port(), None, "a masked in_port is not one port");
        let mut more = Match::catch_all();
        more.set_in_port(OfPort(1));
        more.set_exact(Field::DlType, ETH_TYPE_ARP);
        assert!(!more.is_catch_all());
        assert!(Match::catch_all().is_catch_all());
    }

    #[test]
    fn prerequisites_follow_open_vswitch() {
        let tcp = tcp_to(80);
        assert!(tcp.satisfies(Prereq::Tcp) && tcp.satisfies(Prereq::L4Ports) && tcp.satisfies(Prereq::Ipv4));
        assert!(!tcp.satisfies(Prereq::Udp) && !tcp.satisfies(Prereq::Ipv6) && !tcp.satisfies(Prereq::Arp));
        let mut later = tcp.clone();
        later.set_masked(Field::NwFrag, FRAG_ANY | FRAG_LATER, 3);
        assert!(!later.satisfies(Prereq::Tcp) && later.satisfies(Prereq::Ip));
        let mut rarp = Match::catch_all();
        rarp.set_exact(Field::DlType, ETH_TYPE_RARP);
        assert!(rarp.satisfies(Prereq::Arp));
        let mut vlan = Match::catch_all();
        assert!(!vlan.satisfies(Prereq::Vlan));
        vlan.set_masked(Field::VlanTci, 0x1000, 0x1000);
        assert!(vlan.satisfies(Prereq::Vlan));
        let mut nd = Match::catch_all();
        nd.set_exact(Field::DlType, ETH_TYPE_IPV6);
        nd.set_exact(Field::NwProto, IP_PROTO_ICMPV6);
        assert!(nd.satisfies(Prereq::Icmpv6) && !nd.satisfies(Prereq::Nd));
        nd.set_exact(Field::Icmpv6Type, 135);
        assert!(nd.satisfies(Prereq::Nd) && nd.satisfies(Prereq::NdSll) && !nd.satisfies(Prereq::NdTll));
        nd.set_exact(Field::Icmpv6Code, 1);
        assert!(!nd.satisfies(Prereq::Nd));
        let mut partial_type = Match::catch_all();
        partial_type.set_masked(Field::DlType, ETH_TYPE_IP, 0xff00);
        assert!(!partial_type.satisfies(Prereq::Ip));
    }

    #[test]
    fn prerequisite_check_names_the_field() {
        assert_eq!(tcp_to(80).check_prerequisites(), Ok(()));
        let mut no_proto = Match::catch_all();
        no_proto.set_exact(Field::TpDst, 80);
        let error = no_proto.check_prerequisites().unwrap_err();
        assert_eq!(error, PrerequisiteError { field: Field::TpDst, prereq: Prereq::L4Ports });
        assert_eq!(error.to_string(), "tp_dst requires tcp, udp or sctp (add e.g. 'tcp,')");
        let mut icmp_type = Match::catch_all();
        icmp_type.set_exact(Field::IcmpType, 8);
        assert_eq!(icmp_type.check_prerequisites().unwrap_err().field, Field::IcmpType);
        icmp_type.set_exact(Field::DlType, ETH_TYPE_IPV6);
        icmp_type.set_exact(Field::NwProto, IP_PROTO_ICMPV6);
        assert_eq!(icmp_type.check_prerequisites(), Ok(()));
        let mut arp_op = Match::catch_all();
        arp_op.set_exact(Field::ArpOp, 1);
        assert_eq!(arp_op.check_prerequisites().unwrap_err().field, Field::NwProto);
        arp_op.set_exact(Field::DlType, ETH_TYPE_ARP);
        assert_eq!(arp_op.check_prerequisites(), Ok(()));
        let mut nd_sll = Match::catch_all();
        nd_sll.set_exact(Field::NdSll, 1);
        assert_eq!(nd_sll.check_prerequisites().unwrap_err().field, Field::ArpSha);
        assert_eq!(Match::catch_all().check_prerequisites(), Ok(()));
    }
}
