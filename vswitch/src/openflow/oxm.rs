//! Matches on the wire: the OpenFlow 1.3 `ofp_match` (OXM TLVs of class OPENFLOW_BASIC, plus
//! the Nicira NXM0/NXM1 classes and ONF's experimenter tcp_flags that ovs-ofctl puts inside it for
//! fields without a basic OXM), the fixed 40-byte OpenFlow 1.0 `ofp_match`, and Nicira's
//! header-less `nx_match` (the same TLVs, for NXT_FLOW_MOD, NXST_FLOW and NXT_PACKET_IN).
//!
//! Owns the table of wire fields ([`WireField`]): which OXM/NXM header carries which bits of
//! which flow key [`Field`], so the action codec maps set_field, load, move and learn subfields
//! through the same table. Encoding follows Open vSwitch's field order and header choices byte
//! for byte; decoding rejects what Open vSwitch rejects, with its OFPBMC codes.

use crate::flow::key::{Field, FlowKey, Prereq, FIELDS};
use crate::flow::numbers::{
    ETH_TYPE_ARP, ETH_TYPE_IP, ETH_TYPE_IPV6, ETH_TYPE_MPLS, ETH_TYPE_MPLS_MCAST, ETH_TYPE_RARP, IP_PROTO_ICMP,
    VLAN_PCP_MASK, VLAN_PRESENT, VLAN_VID_MASK,
};
use crate::flow::tun_metadata;
use crate::flow::{Match, OfPort, Subfield};
use crate::packet::proto::{ip_proto, vlan};

use super::wire::{ErrorType, OfError, Reader, Version, Writer};

/// OFPBMC_* codes (OpenFlow 1.3 `ofp_bad_match_code`).
pub(crate) mod bad_match {
    pub const BAD_TYPE: u16 = 0;
    pub const BAD_LEN: u16 = 1;
    pub const BAD_WILDCARDS: u16 = 5;
    pub const BAD_FIELD: u16 = 6;
    pub const BAD_VALUE: u16 = 7;
    pub const BAD_MASK: u16 = 8;
    pub const BAD_PREREQ: u16 = 9;
    pub const DUP_FIELD: u16 = 10;
}

fn match_error(code: u16, reason: impl Into<String>) -> OfError {
    OfError::new(ErrorType::BadMatch, code, reason)
}

const NXM_0: u16 = 0x0000;
const NXM_1: u16 = 0x0001;
const OPENFLOW_BASIC: u16 = 0x8000;
const EXPERIMENTER_CLASS: u16 = 0xffff;
/// ONF's experimenter id, which OpenFlow 1.3 uses for tcp_flags (standard only from 1.5).
const ONF_EXPERIMENTER: u32 = 0x4f4e_4600;
/// `ofp_match.type` of an OXM match.
const OFPMT_OXM: u16 = 1;

/// How a wire field's value lies in its flow key field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Layout {
    /// The wire value's `valid` bits are the field's bits from `shift` up.
    Bits { shift: u32, valid: u128 },
    /// A 16-bit OpenFlow 1.0 port number that is all of in_port.
    Port16,
    /// A 32-bit OpenFlow 1.1+ port number (reserved ports 0xfffffff8..) that is all of in_port.
    Port32,
}

/// One OXM or NXM field: its header and the flow key bits it carries.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct WireField {
    pub name: &'static str,
    pub class: u16,
    pub code: u8,
    /// The experimenter id that follows the header of an experimenter OXM.
    pub experimenter: Option<u32>,
    /// Bytes of the value (a mask has as many).
    pub bytes: usize,
    pub field: Field,
    pub layout: Layout,
    pub maskable: bool,
    /// What the name implies beyond the field's own prerequisite (udp_src needs udp).
    pub prereq: Prereq,
    /// Width as an NXM subfield (`NXM_OF_IN_PORT[]` is 16 bits).
    pub bits: u32,
    /// A tun_metadataN: its length is its TLV mapping's (`bytes` and `bits` unused); a value
    /// shorter than that is accepted (its leading bytes zero), as Open vSwitch does.
    pub variable: bool,
}

const fn bits(shift: u32, valid: u128) -> Layout {
    Layout::Bits { shift, valid }
}

macro_rules! wire {
    ($id:ident, $name:literal, $class:expr, $code:literal, $bytes:literal, $field:expr, $layout:expr, $maskable:literal, $prereq:expr, $bits:literal) => {
        pub(crate) const $id: WireField = WireField {
            name: $name,
            class: $class,
            code: $code,
            experimenter: None,
            bytes: $bytes,
            field: $field,
            layout: $layout,
            maskable: $maskable,
            prereq: $prereq,
            bits: $bits,
            variable: false,
        };
    };
}

/// NXM_NX_TUN_METADATA0..63 (Nicira class 1, codes 40..103).
static TUN_METADATA_WIRE: [WireField; tun_metadata::FIELDS] = tun_metadata_wire();

#[expect(clippy::cast_possible_truncation, reason = "indexes below 64")]
const fn tun_metadata_wire() -> [WireField; tun_metadata::FIELDS] {
    const TEMPLATE: WireField = WireField {
        name: "",
        class: NXM_1,
        code: 40,
        experimenter: None,
        bytes: 0,
        field: Field::TunMetadata(0),
        layout: Layout::Bits { shift: 0, valid: u128::MAX },
        maskable: true,
        prereq: Prereq::None,
        bits: 0,
        variable: true,
    };
    let mut fields = [TEMPLATE; tun_metadata::FIELDS];
    let mut i = 0;
    while i < tun_metadata::FIELDS {
        fields[i].name = tun_metadata::NXM_NAMES[i];
        fields[i].code = 40 + i as u8;
        fields[i].field = Field::TunMetadata(i as u8);
        i += 1;
    }
    fields
}

/// Every wire field: the fixed ones, then NXM_NX_TUN_METADATA0..63.
pub(crate) fn all_wire_fields() -> impl DoubleEndedIterator<Item = &'static WireField> {
    WIRE_FIELDS.iter().copied().chain(TUN_METADATA_WIRE.iter())
}

const ALL16: u128 = 0xffff;
const ALL32: u128 = 0xffff_ffff;
const ALL48: u128 = 0xffff_ffff_ffff;
const ALL64: u128 = u64::MAX as u128;
const ALL128: u128 = u128::MAX;

// Nicira NXM_OF_* (class 0).
wire!(NXM_OF_IN_PORT, "NXM_OF_IN_PORT", NXM_0, 0, 2, Field::InPort, Layout::Port16, false, Prereq::None, 16);
wire!(NXM_OF_ETH_DST, "NXM_OF_ETH_DST", NXM_0, 1, 6, Field::DlDst, bits(0, ALL48), true, Prereq::None, 48);
wire!(NXM_OF_ETH_SRC, "NXM_OF_ETH_SRC", NXM_0, 2, 6, Field::DlSrc, bits(0, ALL48), true, Prereq::None, 48);
wire!(NXM_OF_ETH_TYPE, "NXM_OF_ETH_TYPE", NXM_0, 3, 2, Field::DlType, bits(0, ALL16), false, Prereq::None, 16);
wire!(NXM_OF_VLAN_TCI, "NXM_OF_VLAN_TCI", NXM_0, 4, 2, Field::VlanTci, bits(0, ALL16), true, Prereq::None, 16);
// The DSCP bits in place; masks are an extension of ours for partial TOS matches.
wire!(NXM_OF_IP_TOS, "NXM_OF_IP_TOS", NXM_0, 5, 1, Field::NwTos, bits(0, 0xfc), true, Prereq::Ip, 8);
wire!(NXM_OF_IP_PROTO, "NXM_OF_IP_PROTO", NXM_0, 6, 1, Field::NwProto, bits(0, 0xff), false, Prereq::Ip, 8);
wire!(NXM_OF_IP_SRC, "NXM_OF_IP_SRC", NXM_0, 7, 4, Field::NwSrc, bits(0, ALL32), true, Prereq::Ipv4, 32);
wire!(NXM_OF_IP_DST, "NXM_OF_IP_DST", NXM_0, 8, 4, Field::NwDst, bits(0, ALL32), true, Prereq::Ipv4, 32);
wire!(NXM_OF_TCP_SRC, "NXM_OF_TCP_SRC", NXM_0, 9, 2, Field::TpSrc, bits(0, ALL16), true, Prereq::Tcp, 16);
wire!(NXM_OF_TCP_DST, "NXM_OF_TCP_DST", NXM_0, 10, 2, Field::TpDst, bits(0, ALL16), true, Prereq::Tcp, 16);
wire!(NXM_OF_UDP_SRC, "NXM_OF_UDP_SRC", NXM_0, 11, 2, Field::TpSrc, bits(0, ALL16), true, Prereq::Udp, 16);
wire!(NXM_OF_UDP_DST, "NXM_OF_UDP_DST", NXM_0, 12, 2, Field::TpDst, bits(0, ALL16), true, Prereq::Udp, 16);
wire!(NXM_OF_ICMP_TYPE, "NXM_OF_ICMP_TYPE", NXM_0, 13, 1, Field::IcmpType, bits(0, 0xff), false, Prereq::Icmpv4, 8);
wire!(NXM_OF_ICMP_CODE, "NXM_OF_ICMP_CODE", NXM_0, 14, 1, Field::IcmpCode, bits(0, 0xff), false, Prereq::Icmpv4, 8);
wire!(NXM_OF_ARP_OP, "NXM_OF_ARP_OP", NXM_0, 15, 2, Field::ArpOp, bits(0, 0xff), false, Prereq::Arp, 16);
wire!(NXM_OF_ARP_SPA, "NXM_OF_ARP_SPA", NXM_0, 16, 4, Field::ArpSpa, bits(0, ALL32), true, Prereq::Arp, 32);
wire!(NXM_OF_ARP_TPA, "NXM_OF_ARP_TPA", NXM_0, 17, 4, Field::ArpTpa, bits(0, ALL32), true, Prereq::Arp, 32);
// Nicira NXM_NX_* (class 1).
wire!(NXM_NX_REG0, "NXM_NX_REG0", NXM_1, 0, 4, Field::Reg(0), bits(0, ALL32), true, Prereq::None, 32);
wire!(NXM_NX_REG1, "NXM_NX_REG1", NXM_1, 1, 4, Field::Reg(1), bits(0, ALL32), true, Prereq::None, 32);
wire!(NXM_NX_REG2, "NXM_NX_REG2", NXM_1, 2, 4, Field::Reg(2), bits(0, ALL32), true, Prereq::None, 32);
wire!(NXM_NX_REG3, "NXM_NX_REG3", NXM_1, 3, 4, Field::Reg(3), bits(0, ALL32), true, Prereq::None, 32);
wire!(NXM_NX_REG4, "NXM_NX_REG4", NXM_1, 4, 4, Field::Reg(4), bits(0, ALL32), true, Prereq::None, 32);
wire!(NXM_NX_REG5, "NXM_NX_REG5", NXM_1, 5, 4, Field::Reg(5), bits(0, ALL32), true, Prereq::None, 32);
wire!(NXM_NX_REG6, "NXM_NX_REG6", NXM_1, 6, 4, Field::Reg(6), bits(0, ALL32), true, Prereq::None, 32);
wire!(NXM_NX_REG7, "NXM_NX_REG7", NXM_1, 7, 4, Field::Reg(7), bits(0, ALL32), true, Prereq::None, 32);
wire!(NXM_NX_TUN_ID, "NXM_NX_TUN_ID", NXM_1, 16, 8, Field::TunId, bits(0, ALL64), true, Prereq::None, 64);
wire!(NXM_NX_ARP_SHA, "NXM_NX_ARP_SHA", NXM_1, 17, 6, Field::ArpSha, bits(0, ALL48), true, Prereq::Arp, 48);
wire!(NXM_NX_ARP_THA, "NXM_NX_ARP_THA", NXM_1, 18, 6, Field::ArpTha, bits(0, ALL48), true, Prereq::Arp, 48);
wire!(NXM_NX_IPV6_SRC, "NXM_NX_IPV6_SRC", NXM_1, 19, 16, Field::Ipv6Src, bits(0, ALL128), true, Prereq::Ipv6, 128);
wire!(NXM_NX_IPV6_DST, "NXM_NX_IPV6_DST", NXM_1, 20, 16, Field::Ipv6Dst, bits(0, ALL128), true, Prereq::Ipv6, 128);
wire!(
    NXM_NX_ICMPV6_TYPE,
    "NXM_NX_ICMPV6_TYPE",
    NXM_1,
    21,
    1,
    Field::Icmpv6Type,
    bits(0, 0xff),
    false,
    Prereq::Icmpv6,
    8
);
wire!(
    NXM_NX_ICMPV6_CODE,
    "NXM_NX_ICMPV6_CODE",
    NXM_1,
    22,
    1,
    Field::Icmpv6Code,
    bits(0, 0xff),
    false,
    Prereq::Icmpv6,
    8
);
wire!(NXM_NX_ND_TARGET, "NXM_NX_ND_TARGET", NXM_1, 23, 16, Field::NdTarget, bits(0, ALL128), true, Prereq::Nd, 128);
wire!(NXM_NX_ND_SLL, "NXM_NX_ND_SLL", NXM_1, 24, 6, Field::NdSll, bits(0, ALL48), true, Prereq::NdSll, 48);
wire!(NXM_NX_ND_TLL, "NXM_NX_ND_TLL", NXM_1, 25, 6, Field::NdTll, bits(0, ALL48), true, Prereq::NdTll, 48);
wire!(NXM_NX_IP_FRAG, "NXM_NX_IP_FRAG", NXM_1, 26, 1, Field::NwFrag, bits(0, 0x03), true, Prereq::Ip, 2);
wire!(
    NXM_NX_IPV6_LABEL,
    "NXM_NX_IPV6_LABEL",
    NXM_1,
    27,
    4,
    Field::Ipv6Label,
    bits(0, 0xf_ffff),
    true,
    Prereq::Ipv6,
    20
);
// Masks are an extension of ours for partial ECN matches.
wire!(NXM_NX_IP_ECN, "NXM_NX_IP_ECN", NXM_1, 28, 1, Field::NwTos, bits(0, 0x03), true, Prereq::Ip, 2);
wire!(NXM_NX_IP_TTL, "NXM_NX_IP_TTL", NXM_1, 29, 1, Field::NwTtl, bits(0, 0xff), false, Prereq::Ip, 8);
wire!(NXM_NX_TUN_IPV4_SRC, "NXM_NX_TUN_IPV4_SRC", NXM_1, 31, 4, Field::TunSrc, bits(0, ALL32), true, Prereq::None, 32);
wire!(NXM_NX_TUN_IPV4_DST, "NXM_NX_TUN_IPV4_DST", NXM_1, 32, 4, Field::TunDst, bits(0, ALL32), true, Prereq::None, 32);
wire!(NXM_NX_TCP_FLAGS, "NXM_NX_TCP_FLAGS", NXM_1, 34, 2, Field::TcpFlags, bits(0, 0x0fff), true, Prereq::Tcp, 12);
wire!(NXM_NX_TUN_FLAGS, "NXM_NX_TUN_FLAGS", NXM_1, 104, 2, Field::TunFlags, bits(0, 0x1), true, Prereq::None, 1);
wire!(NXM_NX_TUN_GBP_ID, "NXM_NX_TUN_GBP_ID", NXM_1, 38, 2, Field::TunGbpId, bits(0, ALL16), true, Prereq::None, 16);
wire!(
    NXM_NX_TUN_GBP_FLAGS,
    "NXM_NX_TUN_GBP_FLAGS",
    NXM_1,
    39,
    1,
    Field::TunGbpFlags,
    bits(0, 0xff),
    true,
    Prereq::None,
    8
);
wire!(
    NXM_NX_TUN_IPV6_SRC,
    "NXM_NX_TUN_IPV6_SRC",
    NXM_1,
    109,
    16,
    Field::TunIpv6Src,
    bits(0, ALL128),
    true,
    Prereq::None,
    128
);
wire!(
    NXM_NX_TUN_IPV6_DST,
    "NXM_NX_TUN_IPV6_DST",
    NXM_1,
    110,
    16,
    Field::TunIpv6Dst,
    bits(0, ALL128),
    true,
    Prereq::None,
    128
);
// OpenFlow basic OXM (class 0x8000).
wire!(OXM_OF_IN_PORT, "OXM_OF_IN_PORT", OPENFLOW_BASIC, 0, 4, Field::InPort, Layout::Port32, false, Prereq::None, 32);
wire!(
    OXM_OF_METADATA,
    "OXM_OF_METADATA",
    OPENFLOW_BASIC,
    2,
    8,
    Field::Metadata,
    bits(0, ALL64),
    true,
    Prereq::None,
    64
);
wire!(OXM_OF_ETH_DST, "OXM_OF_ETH_DST", OPENFLOW_BASIC, 3, 6, Field::DlDst, bits(0, ALL48), true, Prereq::None, 48);
wire!(OXM_OF_ETH_SRC, "OXM_OF_ETH_SRC", OPENFLOW_BASIC, 4, 6, Field::DlSrc, bits(0, ALL48), true, Prereq::None, 48);
wire!(OXM_OF_ETH_TYPE, "OXM_OF_ETH_TYPE", OPENFLOW_BASIC, 5, 2, Field::DlType, bits(0, ALL16), false, Prereq::None, 16);
wire!(
    OXM_OF_VLAN_VID,
    "OXM_OF_VLAN_VID",
    OPENFLOW_BASIC,
    6,
    2,
    Field::VlanTci,
    bits(0, VLAN_PRESENT | VLAN_VID_MASK),
    true,
    Prereq::None,
    12
);
wire!(OXM_OF_VLAN_PCP, "OXM_OF_VLAN_PCP", OPENFLOW_BASIC, 7, 1, Field::VlanTci, bits(13, 0x07), false, Prereq::Vlan, 3);
wire!(OXM_OF_IP_DSCP, "OXM_OF_IP_DSCP", OPENFLOW_BASIC, 8, 1, Field::NwTos, bits(2, 0x3f), false, Prereq::Ip, 6);
wire!(OXM_OF_IP_ECN, "OXM_OF_IP_ECN", OPENFLOW_BASIC, 9, 1, Field::NwTos, bits(0, 0x03), false, Prereq::Ip, 2);
wire!(OXM_OF_IP_PROTO, "OXM_OF_IP_PROTO", OPENFLOW_BASIC, 10, 1, Field::NwProto, bits(0, 0xff), false, Prereq::Ip, 8);
wire!(OXM_OF_IPV4_SRC, "OXM_OF_IPV4_SRC", OPENFLOW_BASIC, 11, 4, Field::NwSrc, bits(0, ALL32), true, Prereq::Ipv4, 32);
wire!(OXM_OF_IPV4_DST, "OXM_OF_IPV4_DST", OPENFLOW_BASIC, 12, 4, Field::NwDst, bits(0, ALL32), true, Prereq::Ipv4, 32);
wire!(OXM_OF_TCP_SRC, "OXM_OF_TCP_SRC", OPENFLOW_BASIC, 13, 2, Field::TpSrc, bits(0, ALL16), true, Prereq::Tcp, 16);
wire!(OXM_OF_TCP_DST, "OXM_OF_TCP_DST", OPENFLOW_BASIC, 14, 2, Field::TpDst, bits(0, ALL16), true, Prereq::Tcp, 16);
wire!(OXM_OF_UDP_SRC, "OXM_OF_UDP_SRC", OPENFLOW_BASIC, 15, 2, Field::TpSrc, bits(0, ALL16), true, Prereq::Udp, 16);
wire!(OXM_OF_UDP_DST, "OXM_OF_UDP_DST", OPENFLOW_BASIC, 16, 2, Field::TpDst, bits(0, ALL16), true, Prereq::Udp, 16);
wire!(OXM_OF_SCTP_SRC, "OXM_OF_SCTP_SRC", OPENFLOW_BASIC, 17, 2, Field::TpSrc, bits(0, ALL16), true, Prereq::Sctp, 16);
wire!(OXM_OF_SCTP_DST, "OXM_OF_SCTP_DST", OPENFLOW_BASIC, 18, 2, Field::TpDst, bits(0, ALL16), true, Prereq::Sctp, 16);
wire!(
    OXM_OF_ICMPV4_TYPE,
    "OXM_OF_ICMPV4_TYPE",
    OPENFLOW_BASIC,
    19,
    1,
    Field::IcmpType,
    bits(0, 0xff),
    false,
    Prereq::Icmpv4,
    8
);
wire!(
    OXM_OF_ICMPV4_CODE,
    "OXM_OF_ICMPV4_CODE",
    OPENFLOW_BASIC,
    20,
    1,
    Field::IcmpCode,
    bits(0, 0xff),
    false,
    Prereq::Icmpv4,
    8
);
wire!(OXM_OF_ARP_OP, "OXM_OF_ARP_OP", OPENFLOW_BASIC, 21, 2, Field::ArpOp, bits(0, 0xff), false, Prereq::Arp, 16);
wire!(OXM_OF_ARP_SPA, "OXM_OF_ARP_SPA", OPENFLOW_BASIC, 22, 4, Field::ArpSpa, bits(0, ALL32), true, Prereq::Arp, 32);
wire!(OXM_OF_ARP_TPA, "OXM_OF_ARP_TPA", OPENFLOW_BASIC, 23, 4, Field::ArpTpa, bits(0, ALL32), true, Prereq::Arp, 32);
wire!(OXM_OF_ARP_SHA, "OXM_OF_ARP_SHA", OPENFLOW_BASIC, 24, 6, Field::ArpSha, bits(0, ALL48), true, Prereq::Arp, 48);
wire!(OXM_OF_ARP_THA, "OXM_OF_ARP_THA", OPENFLOW_BASIC, 25, 6, Field::ArpTha, bits(0, ALL48), true, Prereq::Arp, 48);
wire!(
    OXM_OF_IPV6_SRC,
    "OXM_OF_IPV6_SRC",
    OPENFLOW_BASIC,
    26,
    16,
    Field::Ipv6Src,
    bits(0, ALL128),
    true,
    Prereq::Ipv6,
    128
);
wire!(
    OXM_OF_IPV6_DST,
    "OXM_OF_IPV6_DST",
    OPENFLOW_BASIC,
    27,
    16,
    Field::Ipv6Dst,
    bits(0, ALL128),
    true,
    Prereq::Ipv6,
    128
);
wire!(
    OXM_OF_IPV6_FLABEL,
    "OXM_OF_IPV6_FLABEL",
    OPENFLOW_BASIC,
    28,
    4,
    Field::Ipv6Label,
    bits(0, 0xf_ffff),
    true,
    Prereq::Ipv6,
    20
);
// Not in Open vSwitch; as OpenFlow 1.3 defines it (in a Nicira match too, as the other OXMs).
wire!(
    OXM_OF_IPV6_EXTHDR,
    "OXM_OF_IPV6_EXTHDR",
    OPENFLOW_BASIC,
    39,
    2,
    Field::Ipv6Exthdr,
    bits(0, 0x1ff),
    true,
    Prereq::Ipv6,
    9
);
wire!(
    OXM_OF_ICMPV6_TYPE,
    "OXM_OF_ICMPV6_TYPE",
    OPENFLOW_BASIC,
    29,
    1,
    Field::Icmpv6Type,
    bits(0, 0xff),
    false,
    Prereq::Icmpv6,
    8
);
wire!(
    OXM_OF_ICMPV6_CODE,
    "OXM_OF_ICMPV6_CODE",
    OPENFLOW_BASIC,
    30,
    1,
    Field::Icmpv6Code,
    bits(0, 0xff),
    false,
    Prereq::Icmpv6,
    8
);
wire!(
    OXM_OF_IPV6_ND_TARGET,
    "OXM_OF_IPV6_ND_TARGET",
    OPENFLOW_BASIC,
    31,
    16,
    Field::NdTarget,
    bits(0, ALL128),
    true,
    Prereq::Nd,
    128
);
wire!(
    OXM_OF_IPV6_ND_SLL,
    "OXM_OF_IPV6_ND_SLL",
    OPENFLOW_BASIC,
    32,
    6,
    Field::NdSll,
    bits(0, ALL48),
    true,
    Prereq::NdSll,
    48
);
wire!(
    OXM_OF_IPV6_ND_TLL,
    "OXM_OF_IPV6_ND_TLL",
    OPENFLOW_BASIC,
    33,
    6,
    Field::NdTll,
    bits(0, ALL48),
    true,
    Prereq::NdTll,
    48
);
wire!(
    OXM_OF_TUNNEL_ID,
    "OXM_OF_TUNNEL_ID",
    OPENFLOW_BASIC,
    38,
    8,
    Field::TunId,
    bits(0, ALL64),
    true,
    Prereq::None,
    64
);

wire!(NXM_NX_MPLS_TTL, "NXM_NX_MPLS_TTL", NXM_1, 30, 1, Field::MplsTtl, bits(0, 0xff), false, Prereq::Mpls, 8);
wire!(
    OXM_OF_MPLS_LABEL,
    "OXM_OF_MPLS_LABEL",
    OPENFLOW_BASIC,
    34,
    4,
    Field::MplsLabel,
    bits(0, 0xf_ffff),
    false,
    Prereq::Mpls,
    20
);
wire!(OXM_OF_MPLS_TC, "OXM_OF_MPLS_TC", OPENFLOW_BASIC, 35, 1, Field::MplsTc, bits(0, 0x07), false, Prereq::Mpls, 3);
wire!(OXM_OF_MPLS_BOS, "OXM_OF_MPLS_BOS", OPENFLOW_BASIC, 36, 1, Field::MplsBos, bits(0, 0x01), false, Prereq::Mpls, 1);

/// tcp_flags in OpenFlow 1.3: ONF's experimenter OXM, as Open vSwitch sends it.
pub(crate) const ONFOXM_ET_TCP_FLAGS: WireField = WireField {
    name: "ONFOXM_ET_TCP_FLAGS",
    class: EXPERIMENTER_CLASS,
    code: 42,
    experimenter: Some(ONF_EXPERIMENTER),
    bytes: 2,
    field: Field::TcpFlags,
    layout: bits(0, 0x0fff),
    maskable: true,
    prereq: Prereq::Tcp,
    bits: 12,
    variable: false,
};

/// Every wire field, the Nicira ones first: the order in which a subfield of an action or a
/// leftover match bit picks its header (Open vSwitch prefers NXM headers there).
pub(crate) const WIRE_FIELDS: &[&WireField] = &[
    &NXM_OF_IN_PORT,
    &NXM_OF_ETH_DST,
    &NXM_OF_ETH_SRC,
    &NXM_OF_ETH_TYPE,
    &NXM_OF_VLAN_TCI,
    &NXM_OF_IP_TOS,
    &NXM_OF_IP_PROTO,
    &NXM_OF_IP_SRC,
    &NXM_OF_IP_DST,
    &NXM_OF_TCP_SRC,
    &NXM_OF_TCP_DST,
    &NXM_OF_UDP_SRC,
    &NXM_OF_UDP_DST,
    &NXM_OF_ICMP_TYPE,
    &NXM_OF_ICMP_CODE,
    &NXM_OF_ARP_OP,
    &NXM_OF_ARP_SPA,
    &NXM_OF_ARP_TPA,
    &NXM_NX_REG0,
    &NXM_NX_REG1,
    &NXM_NX_REG2,
    &NXM_NX_REG3,
    &NXM_NX_REG4,
    &NXM_NX_REG5,
    &NXM_NX_REG6,
    &NXM_NX_REG7,
    &NXM_NX_TUN_ID,
    &NXM_NX_ARP_SHA,
    &NXM_NX_ARP_THA,
    &NXM_NX_IPV6_SRC,
    &NXM_NX_IPV6_DST,
    &NXM_NX_ICMPV6_TYPE,
    &NXM_NX_ICMPV6_CODE,
    &NXM_NX_ND_TARGET,
    &NXM_NX_ND_SLL,
    &NXM_NX_ND_TLL,
    &NXM_NX_IP_FRAG,
    &NXM_NX_IPV6_LABEL,
    &NXM_NX_IP_ECN,
    &NXM_NX_IP_TTL,
    &NXM_NX_TUN_IPV4_SRC,
    &NXM_NX_TUN_IPV4_DST,
    &NXM_NX_TCP_FLAGS,
    &NXM_NX_TUN_FLAGS,
    &NXM_NX_TUN_GBP_ID,
    &NXM_NX_TUN_GBP_FLAGS,
    &NXM_NX_TUN_IPV6_SRC,
    &NXM_NX_TUN_IPV6_DST,
    &NXM_NX_MPLS_TTL,
    &OXM_OF_IN_PORT,
    &OXM_OF_METADATA,
    &OXM_OF_ETH_DST,
    &OXM_OF_ETH_SRC,
    &OXM_OF_ETH_TYPE,
    &OXM_OF_VLAN_VID,
    &OXM_OF_VLAN_PCP,
    &OXM_OF_IP_DSCP,
    &OXM_OF_IP_ECN,
    &OXM_OF_IP_PROTO,
    &OXM_OF_IPV4_SRC,
    &OXM_OF_IPV4_DST,
    &OXM_OF_TCP_SRC,
    &OXM_OF_TCP_DST,
    &OXM_OF_UDP_SRC,
    &OXM_OF_UDP_DST,
    &OXM_OF_SCTP_SRC,
    &OXM_OF_SCTP_DST,
    &OXM_OF_ICMPV4_TYPE,
    &OXM_OF_ICMPV4_CODE,
    &OXM_OF_ARP_OP,
    &OXM_OF_ARP_SPA,
    &OXM_OF_ARP_TPA,
    &OXM_OF_ARP_SHA,
    &OXM_OF_ARP_THA,
    &OXM_OF_IPV6_SRC,
    &OXM_OF_IPV6_DST,
    &OXM_OF_IPV6_FLABEL,
    &OXM_OF_ICMPV6_TYPE,
    &OXM_OF_ICMPV6_CODE,
    &OXM_OF_IPV6_ND_TARGET,
    &OXM_OF_IPV6_ND_SLL,
    &OXM_OF_IPV6_ND_TLL,
    &OXM_OF_TUNNEL_ID,
    &OXM_OF_MPLS_LABEL,
    &OXM_OF_MPLS_TC,
    &OXM_OF_MPLS_BOS,
    &OXM_OF_IPV6_EXTHDR,
    &ONFOXM_ET_TCP_FLAGS,
];

impl WireField {
    /// Bytes of the value (a tun_metadataN: its mapped length, 0 while unmapped).
    pub(crate) fn value_bytes(&self) -> usize {
        if self.variable {
            self.field.def().bytes
        } else {
            self.bytes
        }
    }

    /// Width as an NXM subfield.
    pub(crate) fn subfield_bits(&self) -> u32 {
        if self.variable {
            self.field.def().bits
        } else {
            self.bits
        }
    }

    /// Checks a received value's length: the field's, or for a tun_metadataN at most its
    /// mapped length (which must exist: `unmapped` is the error then).
    pub(crate) fn check_value_len(
        &self,
        len: usize,
        bad_len: impl Fn(String) -> OfError,
        unmapped: impl Fn(String) -> OfError,
    ) -> Result<(), OfError> {
        let expected = self.value_bytes();
        if self.variable && expected == 0 {
            return Err(unmapped(format!("{} is not mapped to a Geneve option", self.name)));
        }
        let fits = if self.variable { len <= expected } else { len == expected };
        if fits {
            Ok(())
        } else {
            Err(bad_len(format!("{} with a {len}-byte value (expected {expected})", self.name)))
        }
    }

    /// The wire value's meaningful bits.
    pub(crate) fn valid(&self) -> u128 {
        if self.variable {
            return all_ones(self.value_bytes());
        }
        match self.layout {
            Layout::Bits { valid, .. } => valid,
            Layout::Port16 => ALL16,
            Layout::Port32 => ALL32,
        }
    }

    /// The field bits this wire field stands for.
    pub(crate) fn owned(&self) -> u128 {
        if self.variable {
            return self.valid();
        }
        match self.layout {
            Layout::Bits { shift, valid } => valid << shift,
            Layout::Port16 | Layout::Port32 => ALL32,
        }
    }

    fn shift(&self) -> u32 {
        match self.layout {
            Layout::Bits { shift, .. } => shift,
            Layout::Port16 | Layout::Port32 => 0,
        }
    }

    /// The value and mask this wire field carries for `field` bits `value`/`mask`.
    pub(crate) fn wire_value(&self, value: u128, mask: u128) -> (u128, u128) {
        match self.layout {
            Layout::Bits { shift, valid } => ((value >> shift) & valid, (mask >> shift) & valid),
            Layout::Port16 => (value & ALL16, if mask == ALL32 { ALL16 } else { mask & ALL16 }),
            Layout::Port32 => {
                let port = if value > u128::from(*OfPort::RANGE.end()) { value | 0xffff_0000 } else { value };
                (port, mask)
            }
        }
    }

    /// The field value and mask for a wire value and mask; `None` when the value has bits the
    /// wire field does not have (or names no port).
    pub(crate) fn field_value(&self, value: u128, mask: u128) -> Option<(u128, u128)> {
        match self.layout {
            Layout::Bits { shift, valid } => {
                if value & !valid != 0 {
                    return None;
                }
                Some((value << shift, (mask & valid) << shift))
            }
            // 0xff00..0xfff7 name no port (in 1.3 numbering they would be no port either).
            Layout::Port16 if value > u128::from(*OfPort::RANGE.end()) && value < 0xfff8 => None,
            Layout::Port16 => Some((value, if mask == ALL16 { ALL32 } else { mask })),
            Layout::Port32 => {
                let port = if value >= 0xffff_fff8 {
                    value - 0xffff_0000
                } else if value <= u128::from(*OfPort::RANGE.end()) {
                    value
                } else {
                    return None;
                };
                Some((port, mask))
            }
        }
    }

    /// Bytes of the TLV header (8 for an experimenter OXM).
    fn header_len(&self) -> usize {
        if self.experimenter.is_some() {
            8
        } else {
            4
        }
    }

    /// Writes the TLV header for a value with or without a mask.
    #[expect(clippy::cast_possible_truncation, reason = "a payload is at most 2 * 16 + 4 bytes")]
    pub(crate) fn write_header(&self, masked: bool, w: &mut Writer) {
        let payload = self.value_bytes() * if masked { 2 } else { 1 } + self.header_len() - 4;
        w.u16(self.class);
        w.u8((self.code << 1) | u8::from(masked));
        w.u8(payload as u8);
        if let Some(experimenter) = self.experimenter {
            w.u32(experimenter);
        }
    }

    /// The 32-bit header Nicira actions (reg_load, reg_move, learn) name the field with.
    #[expect(clippy::cast_possible_truncation, reason = "a field is at most 16 bytes")]
    pub(crate) fn header32(&self) -> u32 {
        (u32::from(self.class) << 16) | (u32::from(self.code) << 9) | self.value_bytes() as u32
    }

    /// Writes a whole TLV: header, value and, when `mask` is not all the wire field's bits, the
    /// mask.
    pub(crate) fn write_tlv(&self, value: u128, mask: u128, w: &mut Writer) {
        let masked = mask != self.valid();
        self.write_header(masked, w);
        write_be(value, self.value_bytes(), w);
        if masked {
            write_be(mask, self.value_bytes(), w);
        }
    }
}

/// The low `bytes` bytes of `value`, big-endian.
pub(crate) fn write_be(value: u128, bytes: usize, w: &mut Writer) {
    let all = value.to_be_bytes();
    w.bytes(all.get(16 - bytes.min(16)..).unwrap_or_default());
}

/// A big-endian integer of up to 16 bytes.
pub(crate) fn read_be(bytes: &[u8]) -> u128 {
    bytes.iter().fold(0u128, |acc, &b| (acc << 8) | u128::from(b))
}

/// All ones in `bytes` bytes.
pub(crate) fn all_ones(bytes: usize) -> u128 {
    if bytes >= 16 {
        u128::MAX
    } else {
        (1u128 << (bytes * 8)) - 1
    }
}

/// The wire field a header names, if any (`length` is checked by the caller).
pub(crate) fn lookup(class: u16, code: u8, experimenter: Option<u32>) -> Option<&'static WireField> {
    all_wire_fields().find(|f| f.class == class && f.code == code && f.experimenter == experimenter)
}

/// The wire field of a 32-bit NXM/OXM header as reg_load, reg_move and learn carry it
/// (without mask, with the field's own length).
pub(crate) fn lookup_header32(header: u32) -> Option<&'static WireField> {
    let class = (header >> 16) as u16;
    let code = ((header >> 9) & 0x7f) as u8;
    let masked = header & 0x100 != 0;
    let length = (header & 0xff) as usize;
    // (A tun_metadataN's header may carry any length: ovs-ofctl, which does not know the TLV
    // map, writes 124, the most an option holds.)
    lookup(class, code, None).filter(|f| !masked && (f.variable || f.bytes == length))
}

/// One TLV as read, before its field is known.
pub(crate) struct Tlv<'a> {
    pub class: u16,
    pub code: u8,
    pub experimenter: Option<u32>,
    pub value: &'a [u8],
    pub mask: Option<&'a [u8]>,
}

/// Reads one OXM/NXM TLV. A TLV that runs past the end, or a masked one with an odd payload,
/// is `bad_len`.
pub(crate) fn read_tlv<'a>(r: &mut Reader<'a>, bad_len: &dyn Fn(String) -> OfError) -> Result<Tlv<'a>, OfError> {
    let short = |_: OfError| bad_len("truncated OXM TLV".to_string());
    let class = r.u16().map_err(short)?;
    let code_and_mask = r.u8().map_err(short)?;
    let mut payload = usize::from(r.u8().map_err(short)?);
    let experimenter = if class == EXPERIMENTER_CLASS {
        if payload < 4 {
            return Err(bad_len(format!("experimenter OXM with length {payload}")));
        }
        payload -= 4;
        Some(r.u32().map_err(short)?)
    } else {
        None
    };
    let body = r.bytes(payload).map_err(short)?;
    let masked = code_and_mask & 1 != 0;
    let (value, mask) = if masked {
        if payload % 2 != 0 {
            return Err(bad_len(format!("masked OXM with odd payload length {payload}")));
        }
        let (value, mask) = body.split_at(payload / 2);
        (value, Some(mask))
    } else {
        (body, None)
    };
    Ok(Tlv { class, code: code_and_mask >> 1, experimenter, value, mask })
}

impl Tlv<'_> {
    /// The wire field, if this TLV names a known one.
    pub(crate) fn field(&self) -> Option<&'static WireField> {
        lookup(self.class, self.code, self.experimenter)
    }

    pub(crate) fn describe(&self) -> String {
        match self.field() {
            Some(field) => field.name.to_string(),
            None => format!("OXM class {:#06x} field {}", self.class, self.code),
        }
    }
}

/// OXM_OF_PACKET_TYPE (OpenFlow 1.5): the namespace and type of the packet's first header.
const OXM_PACKET_TYPE: u8 = 44;
/// packet_type (0, 0): an Ethernet frame.
const PACKET_TYPE_ETHERNET: [u8; 4] = [0; 4];

/// The switch forwards Ethernet frames only: a packet_type match on Ethernet holds for every
/// packet (it is accepted and not kept, as Open vSwitch leaves it out where Ethernet fields
/// imply it); any other packet type would match nothing the switch carries (OFPBMC_BAD_VALUE).
fn check_packet_type(tlv: &Tlv) -> Result<(), OfError> {
    if tlv.value.len() != 4 {
        return Err(match_error(bad_match::BAD_LEN, format!("packet_type of {} bytes", tlv.value.len())));
    }
    if tlv.mask.is_some_and(|mask| mask != [0xff; 4]) {
        return Err(match_error(bad_match::BAD_MASK, "packet_type does not take a mask"));
    }
    if tlv.value != PACKET_TYPE_ETHERNET {
        return Err(match_error(bad_match::BAD_VALUE, format!("packet_type {:02x?}: Ethernet only", tlv.value)));
    }
    Ok(())
}

/// Decodes a sequence of OXM/NXM TLVs into a match, checking lengths, masks, values,
/// duplicates and prerequisites as Open vSwitch does.
fn decode_tlvs(mut r: Reader) -> Result<Match, OfError> {
    let mut matches = Match::catch_all();
    let mut seen = FlowKey::default();
    let mut implied = Vec::new();
    while !r.is_empty() {
        let tlv = read_tlv(&mut r, &|reason| match_error(bad_match::BAD_LEN, reason))?;
        if tlv.class == OPENFLOW_BASIC && tlv.code == OXM_PACKET_TYPE {
            check_packet_type(&tlv)?;
            continue;
        }
        let wire =
            tlv.field().ok_or_else(|| match_error(bad_match::BAD_FIELD, format!("unknown {}", tlv.describe())))?;
        wire.check_value_len(
            tlv.value.len(),
            |reason| match_error(bad_match::BAD_LEN, reason),
            |reason| match_error(bad_match::BAD_FIELD, reason),
        )?;
        let value = read_be(tlv.value);
        let full = all_ones(wire.value_bytes());
        let mask = match tlv.mask {
            None => full,
            Some(mask) => {
                let mask = read_be(mask);
                if value & !mask != 0 {
                    return Err(match_error(
                        bad_match::BAD_WILDCARDS,
                        format!("{} has value bits outside its mask", wire.name),
                    ));
                }
                if !wire.maskable && mask != 0 && mask != full {
                    return Err(match_error(bad_match::BAD_MASK, format!("{} does not take a mask", wire.name)));
                }
                mask
            }
        };
        let (field_value, field_mask) = wire
            .field_value(value, mask)
            .ok_or_else(|| match_error(bad_match::BAD_VALUE, format!("{} value {value:#x} is invalid", wire.name)))?;
        let owned = wire.owned();
        if seen.get_u128(wire.field) & owned != 0 {
            return Err(match_error(bad_match::DUP_FIELD, format!("{} is matched twice", wire.name)));
        }
        let seen_bits = seen.get_u128(wire.field) | owned;
        seen.set_u128(wire.field, seen_bits);
        let (old_value, old_mask) = matches.value_and_mask(wire.field);
        matches.set_masked(wire.field, (old_value & !owned) | field_value, (old_mask & !owned) | field_mask);
        if field_mask != 0 {
            implied.push(wire);
        }
    }
    if let Some(wire) = implied.iter().find(|wire| !matches.satisfies(wire.prereq)) {
        return Err(match_error(bad_match::BAD_PREREQ, format!("{} without its prerequisites", wire.name)));
    }
    matches.check_prerequisites().map_err(|error| match_error(bad_match::BAD_PREREQ, error.to_string()))?;
    Ok(matches)
}

/// Writes a match as TLVs in Open vSwitch's order and header choices: OpenFlow 1.3 OXM when
/// `oxm`, Nicira NXM otherwise.
struct TlvWriter<'a> {
    matches: &'a Match,
    oxm: bool,
    /// The field bits written so far.
    written: FlowKey,
}

impl TlvWriter<'_> {
    /// Writes `wire`'s part of the match, if any of it is matched and not written yet.
    fn put(&mut self, wire: &WireField, w: &mut Writer) {
        let (value, mask) = self.matches.value_and_mask(wire.field);
        let unwritten = mask & wire.owned() & !self.written.get_u128(wire.field);
        let (wire_value, wire_mask) = wire.wire_value(value & unwritten, unwritten);
        if wire_mask == 0 {
            return;
        }
        wire.write_tlv(wire_value, wire_mask, w);
        self.mark(wire.field, unwritten);
    }

    /// `exact` if it can say what is matched (all its bits or none, or it takes masks),
    /// otherwise the maskable `fallback`.
    fn put_either(&mut self, exact: &WireField, fallback: &WireField, w: &mut Writer) {
        let (_, mask) = self.matches.value_and_mask(exact.field);
        let (_, wire_mask) = exact.wire_value(0, mask);
        if exact.maskable || wire_mask == 0 || wire_mask == exact.valid() {
            self.put(exact, w);
        } else {
            self.put(fallback, w);
        }
    }

    /// The OXM or the NXM field, as the flavour asks.
    fn put_flavour(&mut self, oxm: &WireField, nxm: &WireField, w: &mut Writer) {
        if self.oxm {
            self.put(oxm, w);
        } else {
            self.put(nxm, w);
        }
    }

    fn mark(&mut self, field: Field, bits: u128) {
        let written = self.written.get_u128(field) | bits;
        self.written.set_u128(field, written);
    }

    /// VLAN: OXM's vlan_vid (with OFPVID_PRESENT) and vlan_pcp where they can say it exactly;
    /// NXM_OF_VLAN_TCI otherwise. Open vSwitch writes an untagged match with PCP bits in its mask
    /// (NXM's vlan_tci=0) as vlan_vid=0, which comes back with another mask; the NXM header
    /// brings the match back as it was sent.
    fn vlan(&mut self, w: &mut Writer) {
        let (value, mask) = self.matches.value_and_mask(Field::VlanTci);
        if mask == 0 {
            return;
        }
        let pcp_mask = mask & VLAN_PCP_MASK;
        let tagged = value & mask & VLAN_PRESENT != 0;
        if !self.oxm || !(pcp_mask == 0 || (pcp_mask == VLAN_PCP_MASK && tagged)) {
            self.put(&NXM_OF_VLAN_TCI, w);
            return;
        }
        let vid_mask = mask & (VLAN_PRESENT | VLAN_VID_MASK);
        OXM_OF_VLAN_VID.write_tlv(value & vid_mask, vid_mask, w);
        if tagged && pcp_mask != 0 {
            OXM_OF_VLAN_PCP.write_tlv(value >> vlan::PCP_SHIFT, 0x07, w);
        }
        self.mark(Field::VlanTci, mask);
    }

    fn ip(&mut self, dl_type: u128, w: &mut Writer) {
        let oxm = self.oxm;
        if dl_type == ETH_TYPE_IP {
            self.put_flavour(&OXM_OF_IPV4_SRC, &NXM_OF_IP_SRC, w);
            self.put_flavour(&OXM_OF_IPV4_DST, &NXM_OF_IP_DST, w);
        } else {
            self.put_flavour(&OXM_OF_IPV6_SRC, &NXM_NX_IPV6_SRC, w);
            self.put_flavour(&OXM_OF_IPV6_DST, &NXM_NX_IPV6_DST, w);
        }
        self.put(&NXM_NX_IP_FRAG, w);
        if oxm {
            self.put_either(&OXM_OF_IP_DSCP, &NXM_OF_IP_TOS, w);
            self.put_either(&OXM_OF_IP_ECN, &NXM_NX_IP_ECN, w);
        } else {
            self.put(&NXM_OF_IP_TOS, w);
            self.put(&NXM_NX_IP_ECN, w);
        }
        self.put(&NXM_NX_IP_TTL, w);
        self.put_flavour(&OXM_OF_IPV6_FLABEL, &NXM_NX_IPV6_LABEL, w);
        self.put(&OXM_OF_IPV6_EXTHDR, w);
        let Some(proto) = self.matches.exact_value(Field::NwProto) else { return };
        self.put_flavour(&OXM_OF_IP_PROTO, &NXM_OF_IP_PROTO, w);
        match (proto & 0xff) as u8 {
            ip_proto::TCP => {
                self.put_flavour(&OXM_OF_TCP_SRC, &NXM_OF_TCP_SRC, w);
                self.put_flavour(&OXM_OF_TCP_DST, &NXM_OF_TCP_DST, w);
                self.put_flavour(&ONFOXM_ET_TCP_FLAGS, &NXM_NX_TCP_FLAGS, w);
            }
            ip_proto::UDP => {
                self.put_flavour(&OXM_OF_UDP_SRC, &NXM_OF_UDP_SRC, w);
                self.put_flavour(&OXM_OF_UDP_DST, &NXM_OF_UDP_DST, w);
            }
            ip_proto::SCTP => {
                self.put(&OXM_OF_SCTP_SRC, w);
                self.put(&OXM_OF_SCTP_DST, w);
            }
            ip_proto::ICMP if dl_type == ETH_TYPE_IP => {
                self.put_flavour(&OXM_OF_ICMPV4_TYPE, &NXM_OF_ICMP_TYPE, w);
                self.put_flavour(&OXM_OF_ICMPV4_CODE, &NXM_OF_ICMP_CODE, w);
            }
            ip_proto::ICMPV6 if dl_type == ETH_TYPE_IPV6 => {
                self.put_flavour(&OXM_OF_ICMPV6_TYPE, &NXM_NX_ICMPV6_TYPE, w);
                self.put_flavour(&OXM_OF_ICMPV6_CODE, &NXM_NX_ICMPV6_CODE, w);
                if self.matches.satisfies(Prereq::Nd) {
                    self.put_flavour(&OXM_OF_IPV6_ND_TARGET, &NXM_NX_ND_TARGET, w);
                    if self.matches.satisfies(Prereq::NdSll) {
                        self.put_flavour(&OXM_OF_IPV6_ND_SLL, &NXM_NX_ND_SLL, w);
                    }
                    if self.matches.satisfies(Prereq::NdTll) {
                        self.put_flavour(&OXM_OF_IPV6_ND_TLL, &NXM_NX_ND_TLL, w);
                    }
                }
            }
            _ => {}
        }
    }

    fn arp(&mut self, w: &mut Writer) {
        self.put_flavour(&OXM_OF_ARP_OP, &NXM_OF_ARP_OP, w);
        self.put_flavour(&OXM_OF_ARP_SPA, &NXM_OF_ARP_SPA, w);
        self.put_flavour(&OXM_OF_ARP_TPA, &NXM_OF_ARP_TPA, w);
        self.put_flavour(&OXM_OF_ARP_SHA, &NXM_NX_ARP_SHA, w);
        self.put_flavour(&OXM_OF_ARP_THA, &NXM_NX_ARP_THA, w);
    }

    fn write(mut self, w: &mut Writer) {
        self.put_flavour(&OXM_OF_IN_PORT, &NXM_OF_IN_PORT, w);
        self.put_flavour(&OXM_OF_ETH_SRC, &NXM_OF_ETH_SRC, w);
        self.put_flavour(&OXM_OF_ETH_DST, &NXM_OF_ETH_DST, w);
        self.put_flavour(&OXM_OF_ETH_TYPE, &NXM_OF_ETH_TYPE, w);
        self.vlan(w);
        match self.matches.exact_value(Field::DlType) {
            Some(dl_type @ (ETH_TYPE_IP | ETH_TYPE_IPV6)) => self.ip(dl_type, w),
            Some(ETH_TYPE_ARP | ETH_TYPE_RARP) => self.arp(w),
            // Open vSwitch's order: TC, BOS, TTL, label; the TTL only has a Nicira header.
            Some(ETH_TYPE_MPLS | ETH_TYPE_MPLS_MCAST) => {
                self.put(&OXM_OF_MPLS_TC, w);
                self.put(&OXM_OF_MPLS_BOS, w);
                self.put(&NXM_NX_MPLS_TTL, w);
                self.put(&OXM_OF_MPLS_LABEL, w);
            }
            _ => {}
        }
        // Open vSwitch's nx_put_raw order: tun_id, tun_flags, the addresses, GBP, the options.
        self.put_flavour(&OXM_OF_TUNNEL_ID, &NXM_NX_TUN_ID, w);
        self.put(&NXM_NX_TUN_FLAGS, w);
        self.put(&NXM_NX_TUN_IPV4_SRC, w);
        self.put(&NXM_NX_TUN_IPV4_DST, w);
        self.put(&NXM_NX_TUN_IPV6_SRC, w);
        self.put(&NXM_NX_TUN_IPV6_DST, w);
        self.put(&NXM_NX_TUN_GBP_ID, w);
        self.put(&NXM_NX_TUN_GBP_FLAGS, w);
        for wire in TUN_METADATA_WIRE.iter().filter(|wire| wire.field.is_mapped()) {
            self.put(wire, w);
        }
        for register in [
            &NXM_NX_REG0,
            &NXM_NX_REG1,
            &NXM_NX_REG2,
            &NXM_NX_REG3,
            &NXM_NX_REG4,
            &NXM_NX_REG5,
            &NXM_NX_REG6,
            &NXM_NX_REG7,
        ] {
            self.put(register, w);
        }
        self.put(&OXM_OF_METADATA, w);
        // Bits the usual order left out (fields without their prerequisites, which the decoder
        // then rejects): under the first header that carries them, so nothing is dropped.
        for def in FIELDS {
            for wire in WIRE_FIELDS.iter().filter(|wire| wire.field == def.field) {
                self.put(wire, w);
            }
        }
    }
}

/// OpenFlow 1.0 `ofp_match` wildcard bits.
mod ofp10 {
    pub const IN_PORT: u32 = 1 << 0;
    pub const DL_VLAN: u32 = 1 << 1;
    pub const DL_SRC: u32 = 1 << 2;
    pub const DL_DST: u32 = 1 << 3;
    pub const DL_TYPE: u32 = 1 << 4;
    pub const NW_PROTO: u32 = 1 << 5;
    pub const TP_SRC: u32 = 1 << 6;
    pub const TP_DST: u32 = 1 << 7;
    pub const NW_SRC_SHIFT: u32 = 8;
    pub const NW_DST_SHIFT: u32 = 14;
    pub const DL_VLAN_PCP: u32 = 1 << 20;
    pub const NW_TOS: u32 = 1 << 21;
    /// Every wildcard bit (OFPFW_ALL).
    pub const ALL: u32 = (1 << 22) - 1;
    /// dl_vlan of packets without a VLAN tag.
    pub const VLAN_NONE: u16 = 0xffff;
    pub const MATCH_LEN: usize = 40;
}

/// Whether tp_src/tp_dst hold the ICMP type and code (OpenFlow 1.0 keeps them there).
fn is_icmpv4(m: &Match) -> bool {
    m.exact_value(Field::DlType) == Some(ETH_TYPE_IP) && m.exact_value(Field::NwProto) == Some(IP_PROTO_ICMP)
}

/// The number of wildcarded low bits of a CIDR mask, if `mask` is one.
fn cidr_wildcard_bits(mask: u128) -> Option<u32> {
    let mask = u32::try_from(mask).ok()?;
    let host_bits = mask.trailing_zeros();
    (mask.checked_shr(host_bits).unwrap_or(0).count_ones() + host_bits == 32 || mask == 0).then_some(host_bits)
}

/// Whether the ofp_match at `r` (not consumed) wildcards nothing: an exact-match entry, which
/// OpenFlow 1.0 always gives the highest priority.
pub(crate) fn v1_0_match_is_exact(r: &Reader) -> Result<bool, OfError> {
    let wildcards = r.peek(4)?;
    Ok(u32::from_be_bytes([wildcards[0], wildcards[1], wildcards[2], wildcards[3]]) & ofp10::ALL == 0)
}

fn decode_v1_0_match(r: &mut Reader) -> Result<Match, OfError> {
    let mut body = r.sub(ofp10::MATCH_LEN).map_err(|_| match_error(bad_match::BAD_LEN, "short ofp_match"))?;
    let wildcards = body.u32()?;
    let in_port = body.u16()?;
    let dl_src = read_be(body.bytes(6)?);
    let dl_dst = read_be(body.bytes(6)?);
    let dl_vlan = body.u16()?;
    let dl_vlan_pcp = body.u8()?;
    body.skip(1)?;
    let dl_type = body.u16()?;
    let nw_tos = body.u8()?;
    let nw_proto = body.u8()?;
    body.skip(2)?;
    let nw_src = body.u32()?;
    let nw_dst = body.u32()?;
    let tp_src = body.u16()?;
    let tp_dst = body.u16()?;

    let mut m = Match::catch_all();
    let matched = |bit: u32| wildcards & bit == 0;
    if matched(ofp10::IN_PORT) {
        m.set_exact(Field::InPort, in_port.into());
    }
    if matched(ofp10::DL_SRC) {
        m.set_exact(Field::DlSrc, dl_src);
    }
    if matched(ofp10::DL_DST) {
        m.set_exact(Field::DlDst, dl_dst);
    }
    if matched(ofp10::DL_TYPE) {
        m.set_exact(Field::DlType, dl_type.into());
    }
    if matched(ofp10::DL_VLAN) && dl_vlan == ofp10::VLAN_NONE {
        m.set_exact(Field::VlanTci, 0);
    } else {
        let vid_mask = if matched(ofp10::DL_VLAN) { VLAN_PRESENT | VLAN_VID_MASK } else { 0 };
        let pcp_mask = if matched(ofp10::DL_VLAN_PCP) { VLAN_PRESENT | VLAN_PCP_MASK } else { 0 };
        let tci =
            u128::from(dl_vlan & vlan::VID_MASK) | (u128::from(dl_vlan_pcp & 0x07) << vlan::PCP_SHIFT) | VLAN_PRESENT;
        m.set_masked(Field::VlanTci, tci, vid_mask | pcp_mask);
    }
    if matched(ofp10::NW_TOS) {
        m.set_masked(Field::NwTos, nw_tos.into(), 0xfc);
    }
    if matched(ofp10::NW_PROTO) {
        m.set_exact(Field::NwProto, nw_proto.into());
    }
    for (shift, field, address) in
        [(ofp10::NW_SRC_SHIFT, Field::NwSrc, nw_src), (ofp10::NW_DST_SHIFT, Field::NwDst, nw_dst)]
    {
        let wild_bits = (wildcards >> shift) & 0x3f;
        let mask = if wild_bits >= 32 { 0 } else { u32::MAX << wild_bits };
        m.set_masked(field, address.into(), mask.into());
    }
    let icmp = is_icmpv4(&m);
    for (bit, port_field, icmp_field, value) in
        [(ofp10::TP_SRC, Field::TpSrc, Field::IcmpType, tp_src), (ofp10::TP_DST, Field::TpDst, Field::IcmpCode, tp_dst)]
    {
        if matched(bit) {
            if icmp {
                // ICMP type and code are 8 bits; 1.0 carries them in 16-bit tp_src/tp_dst.
                // Open vSwitch keeps a larger value (a rule that matches no packet); cutting it
                // to 8 bits would match another type, so the flow is refused instead.
                let value = u8::try_from(value).map_err(|_| {
                    match_error(bad_match::BAD_VALUE, format!("{icmp_field} {value} does not fit 8 bits"))
                })?;
                m.set_exact(icmp_field, value.into());
            } else {
                m.set_exact(port_field, value.into());
            }
        }
    }
    // As Open vSwitch normalises a 1.0 match: fields whose prerequisites the match does not
    // give are ignored (1.0 controllers leave stale values in them).
    while let Err(error) = m.check_prerequisites() {
        m.wildcard(error.field);
    }
    Ok(m)
}

fn encode_v1_0_match(m: &Match, w: &mut Writer) {
    let mut wildcards = 0u32;
    let mut exact = |field: Field, bit: u32| match m.exact_value(field) {
        Some(value) => value,
        None => {
            wildcards |= bit;
            0
        }
    };
    let in_port = exact(Field::InPort, ofp10::IN_PORT);
    let dl_src = exact(Field::DlSrc, ofp10::DL_SRC);
    let dl_dst = exact(Field::DlDst, ofp10::DL_DST);
    let dl_type = exact(Field::DlType, ofp10::DL_TYPE);
    let nw_proto = exact(Field::NwProto, ofp10::NW_PROTO);
    let icmp = is_icmpv4(m);
    let (tp_src, tp_dst) = if icmp {
        (exact(Field::IcmpType, ofp10::TP_SRC), exact(Field::IcmpCode, ofp10::TP_DST))
    } else {
        (exact(Field::TpSrc, ofp10::TP_SRC), exact(Field::TpDst, ofp10::TP_DST))
    };
    let (tos, tos_mask) = m.value_and_mask(Field::NwTos);
    if tos_mask & 0xfc != 0xfc {
        wildcards |= ofp10::NW_TOS;
    }
    let (tci, tci_mask) = m.value_and_mask(Field::VlanTci);
    let (dl_vlan, dl_vlan_pcp) = if tci_mask == 0 {
        wildcards |= ofp10::DL_VLAN | ofp10::DL_VLAN_PCP;
        (0, 0)
    } else if tci_mask & VLAN_PRESENT != 0 && tci & VLAN_PRESENT == 0 {
        (ofp10::VLAN_NONE, 0)
    } else {
        if tci_mask & VLAN_VID_MASK == 0 {
            wildcards |= ofp10::DL_VLAN;
        }
        if tci_mask & VLAN_PCP_MASK == 0 {
            wildcards |= ofp10::DL_VLAN_PCP;
        }
        ((tci & VLAN_VID_MASK) as u16, ((tci >> vlan::PCP_SHIFT) & 0x7) as u8)
    };
    let mut address = |field: Field, shift: u32| {
        let (value, mask) = m.value_and_mask(field);
        let wild_bits = cidr_wildcard_bits(mask).unwrap_or(32);
        wildcards |= wild_bits.min(32) << shift;
        (value & 0xffff_ffff) as u32
    };
    let nw_src = address(Field::NwSrc, ofp10::NW_SRC_SHIFT);
    let nw_dst = address(Field::NwDst, ofp10::NW_DST_SHIFT);

    w.u32(wildcards);
    w.u16((in_port & 0xffff) as u16);
    write_be(dl_src, 6, w);
    write_be(dl_dst, 6, w);
    w.u16(dl_vlan);
    w.u8(dl_vlan_pcp);
    w.zeros(1);
    w.u16((dl_type & 0xffff) as u16);
    w.u8((tos & 0xfc) as u8);
    w.u8((nw_proto & 0xff) as u8);
    w.zeros(2);
    w.u32(nw_src);
    w.u32(nw_dst);
    w.u16((tp_src & 0xffff) as u16);
    w.u16((tp_dst & 0xffff) as u16);
}

/// Whether the fixed OpenFlow 1.0 ofp_match can express `m` (else the Nicira NXM formats are
/// needed): exact in_port, Ethernet addresses, type, IP protocol and L4 ports (ICMP type and
/// code), CIDR IPv4/ARP addresses, the DSCP bits, and VLAN as "no tag" or tag with vid and/or
/// pcp.
pub fn fits_v1_0_match(m: &Match) -> bool {
    let all_or_nothing = |field: Field| {
        let (_, mask) = m.value_and_mask(field);
        mask == 0 || mask == field.bits_mask()
    };
    let icmp = is_icmpv4(m);
    let mut standard = FlowKey::default();
    for field in [Field::InPort, Field::DlSrc, Field::DlDst, Field::DlType, Field::VlanTci, Field::NwProto] {
        standard.set_all_ones(field);
    }
    standard.set_u128(Field::NwTos, 0xfc);
    standard.set_all_ones(Field::NwSrc);
    standard.set_all_ones(Field::NwDst);
    if icmp {
        standard.set_all_ones(Field::IcmpType);
        standard.set_all_ones(Field::IcmpCode);
    } else {
        standard.set_all_ones(Field::TpSrc);
        standard.set_all_ones(Field::TpDst);
    }
    let only_standard_fields = m.mask().masked(&standard) == *m.mask();
    let (tci, tci_mask) = m.value_and_mask(Field::VlanTci);
    let vlan_fits = tci_mask == 0
        || (tci == 0 && tci_mask == 0xffff)
        || (tci & VLAN_PRESENT != 0
            && [VLAN_PRESENT | VLAN_VID_MASK, VLAN_PRESENT | VLAN_PCP_MASK, 0xffff].contains(&tci_mask));
    let (_, tos_mask) = m.value_and_mask(Field::NwTos);
    let ports_fit = if icmp {
        all_or_nothing(Field::IcmpType) && all_or_nothing(Field::IcmpCode)
    } else {
        all_or_nothing(Field::TpSrc) && all_or_nothing(Field::TpDst)
    };
    only_standard_fields
        && vlan_fits
        && matches!(tos_mask, 0 | 0xfc)
        && ports_fit
        && [Field::InPort, Field::DlSrc, Field::DlDst, Field::DlType, Field::NwProto].into_iter().all(all_or_nothing)
        && m.value_and_mask(Field::InPort).0 <= 0xffff
        && [Field::NwSrc, Field::NwDst].into_iter().all(|f| cidr_wildcard_bits(m.value_and_mask(f).1).is_some())
}

/// OF1.3: one ofp_match (type OFPMT_OXM, length, OXM TLVs, padding to 8), consumed incl. padding.
/// OF1.0: the fixed 40-byte ofp_match (wildcards bits, nw_src/dst CIDR bits).
pub fn decode_match(version: Version, r: &mut Reader) -> Result<Match, OfError> {
    match version {
        Version::V1_0 => decode_v1_0_match(r),
        Version::V1_3 | Version::V1_4 | Version::V1_5 => {
            let short = |_| match_error(bad_match::BAD_LEN, "short ofp_match");
            let match_type = r.u16().map_err(short)?;
            let length = usize::from(r.u16().map_err(short)?);
            if match_type != OFPMT_OXM {
                return Err(match_error(bad_match::BAD_TYPE, format!("match type {match_type} is not OXM")));
            }
            if length < 4 {
                return Err(match_error(bad_match::BAD_LEN, format!("ofp_match length {length}")));
            }
            let body = r.sub(length - 4).map_err(short)?;
            r.skip((8 - length % 8) % 8).map_err(short)?;
            decode_tlvs(body)
        }
    }
}

/// Writes `m` as `version`'s ofp_match. In OpenFlow 1.0 what [`fits_v1_0_match`] refuses is
/// left out (wildcarded): check it first and use the Nicira formats otherwise.
pub fn encode_match(version: Version, m: &Match, w: &mut Writer) {
    match version {
        Version::V1_0 => encode_v1_0_match(m, w),
        Version::V1_3 | Version::V1_4 | Version::V1_5 => {
            let start = w.len();
            w.u16(OFPMT_OXM);
            w.u16(0);
            TlvWriter { matches: m, oxm: true, written: FlowKey::default() }.write(w);
            w.patch_len(start + 2, start);
            w.pad_to_8(start);
        }
    }
}

/// Nicira nx_match: `len` bytes of NXM/OXM TLVs, no header, no padding (NXT_FLOW_MOD, NXST_FLOW, NXT_PACKET_IN).
pub fn decode_nx_match(r: &mut Reader, len: usize) -> Result<Match, OfError> {
    let body = r.sub(len).map_err(|_| match_error(bad_match::BAD_LEN, format!("nx_match of {len} bytes is cut")))?;
    decode_tlvs(body)
}

/// Writes the TLVs and returns their length (no padding).
pub fn encode_nx_match(m: &Match, w: &mut Writer) -> usize {
    let start = w.len();
    TlvWriter { matches: m, oxm: false, written: FlowKey::default() }.write(w);
    w.len() - start
}

/// The Nicira header, bit offset and width that name `sub` in reg_load, reg_move and learn: the
/// first wire field (NXM preferred, as Open vSwitch does) that carries the bits, among those
/// whose protocol agrees with `proto` (the IP protocol the rule matches, if known). The whole of
/// a field is the whole of its wire field (`NXM_OF_IN_PORT[]` is 16 bits on the wire).
pub(crate) fn subfield_to_wire(sub: &Subfield, proto: Option<u8>) -> Option<(&'static WireField, u16, u16)> {
    subfield_to_wire_where(sub, proto, |_| true)
}

/// [`subfield_to_wire`], an OXM (OpenFlow basic) header first where the field has one.
pub(crate) fn subfield_to_oxm_wire(sub: &Subfield, proto: Option<u8>) -> Option<(&'static WireField, u16, u16)> {
    subfield_to_wire_where(sub, proto, |wire| wire.class == OPENFLOW_BASIC).or_else(|| subfield_to_wire(sub, proto))
}

fn subfield_to_wire_where(
    sub: &Subfield,
    proto: Option<u8>,
    wanted: impl Fn(&WireField) -> bool,
) -> Option<(&'static WireField, u16, u16)> {
    let fits_proto = |wire: &WireField| match wire.prereq {
        Prereq::Tcp => proto.is_none_or(|p| p == ip_proto::TCP),
        Prereq::Udp => proto == Some(ip_proto::UDP),
        Prereq::Sctp => proto == Some(ip_proto::SCTP),
        _ => true,
    };
    let field_bits = sub.field.def().bits;
    all_wire_fields()
        .filter(|wire| wire.field == sub.field && wire.experimenter.is_none() && fits_proto(wire) && wanted(wire))
        .find_map(|wire| {
            let wire_bits = wire.subfield_bits();
            if sub.is_whole() {
                let whole = wire.shift() == 0 && (wire_bits >= field_bits || wire.layout == Layout::Port16);
                return whole.then_some((wire, 0, u16::try_from(wire_bits).ok()?));
            }
            let ofs = sub.offset.checked_sub(wire.shift())?;
            let inside = ofs.checked_add(sub.bits)? <= wire_bits && sub.field_mask() & !wire.owned() == 0;
            inside.then_some((wire, u16::try_from(ofs).ok()?, u16::try_from(sub.bits).ok()?))
        })
}

/// The subfield of bits `ofs..ofs + n_bits` of wire field `wire`, if they are bits of ours
/// (the whole of a wire field is the whole of its flow key field).
pub(crate) fn subfield_from_wire(wire: &WireField, ofs: u32, n_bits: u32) -> Option<Subfield> {
    let wire_bits = wire.subfield_bits();
    if n_bits == 0 || ofs.checked_add(n_bits)? > wire_bits {
        return None;
    }
    let field_bits = wire.field.def().bits;
    let whole_field = wire.shift() == 0 && (wire_bits >= field_bits || wire.layout == Layout::Port16);
    if ofs == 0 && n_bits == wire_bits && whole_field {
        return Some(Subfield::whole(wire.field));
    }
    let sub = Subfield { field: wire.field, offset: ofs + wire.shift(), bits: n_bits };
    sub.check_bounds().is_ok().then_some(sub)
}

#[cfg(test)]
mod tests;
