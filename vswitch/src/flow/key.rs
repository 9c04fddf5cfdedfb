//! The flow key: every header field the switch can match on, set or learn,
//! at a fixed place in a 240-byte block, in network byte order. The same
//! shape serves as a mask. Fields are grouped by protocol layer into 8-byte
//! words so that a packet touches few words: an IPv4/UDP packet only words
//! 0-4. The parser reports which words it may have set (`packet::Layers`),
//! so hashing and comparing skip the rest (the idea of Open vSwitch's
//! miniflow, with a dense layout).
//!
//! `FIELDS` is the registry of named fields (ovs-ofctl and NXM/OXM names,
//! place, width, maskability, prerequisites, writability); matching,
//! set_field, load/move and learn all go through it (`Field::def`). The
//! `tun_metadataN` fields are not in it: their place in the option area
//! (words 26-29) and width come from the TLV map (`tun_metadata`).

use std::fmt;

use super::tun_metadata;

/// 8-byte words in a key.
pub const KEY_WORDS: usize = 30;
/// Bytes in a key.
pub const KEY_BYTES: usize = KEY_WORDS * 8;

/// Header values of one packet (or a mask of them), network byte order.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
#[repr(C, align(8))]
pub struct FlowKey {
    pub bytes: [u8; KEY_BYTES],
}

impl Default for FlowKey {
    fn default() -> Self {
        FlowKey { bytes: [0; KEY_BYTES] }
    }
}

impl fmt::Debug for FlowKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut list = f.debug_map();
        for field in Field::all_mapped() {
            let value = self.get(field);
            if value.iter().any(|&b| b != 0) {
                list.entry(&field.def().name, &FieldValue(value));
            }
        }
        list.finish()
    }
}

/// A field's bytes, printed as hex.
struct FieldValue<'a>(&'a [u8]);

impl fmt::Debug for FieldValue<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("0x")?;
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// Word bit masks of the protocol layers (bit i = word i).
pub mod words {
    /// in_port, dl_type, vlan_tci.
    pub const PORT_L2_TYPE: u32 = 1 << 0;
    /// dl_dst, nw_proto, nw_frag.
    pub const DL_DST_PROTO: u32 = 1 << 1;
    /// dl_src, nw_tos, nw_ttl.
    pub const DL_SRC_TOS: u32 = 1 << 2;
    /// nw_src, nw_dst (IPv4, ARP spa/tpa).
    pub const NW_ADDRS: u32 = 1 << 3;
    /// tp_src, tp_dst, tcp_flags, vlan_tci2.
    pub const TP_PORTS: u32 = 1 << 4;
    pub const METADATA: u32 = 1 << 5;
    pub const REGS: u32 = 0b1111 << 6;
    /// tun_id.
    pub const TUN_ID: u32 = 1 << 10;
    /// tun_src, tun_dst (an IPv4 underlay).
    pub const TUN_IPV4: u32 = 1 << 11;
    pub const IPV6_ADDRS: u32 = 0b1111 << 12;
    pub const IPV6_LABEL: u32 = 1 << 16;
    pub const ND_TARGET: u32 = 0b11 << 17;
    /// arp_sha, arp_tha (nd_sll, nd_tll); in an MPLS frame the label stack (`mpls`).
    pub const ARP_HA: u32 = 0b11 << 19;
    /// The MPLS label stack (shares ARP_HA's storage: a frame is never both).
    pub const MPLS: u32 = ARP_HA;
    /// tun_ipv6_src, tun_ipv6_dst (an IPv6 underlay).
    pub const TUN_IPV6: u32 = 0b1111 << 21;
    /// tun_flags, tun_gbp_id, tun_gbp_flags; a decapsulated packet sets it only when one of
    /// them is not zero.
    pub const TUN_FLAGS: u32 = 1 << 25;
    /// tun_metadata0..63 (the option area, `tun_metadata`); set only when an option is mapped.
    pub const TUN_METADATA: u32 = 0b1111 << 26;
    pub const ALL: u32 = (1 << super::KEY_WORDS) - 1;
    /// An IPv4 packet with ports: in_port, L2, L3 and L4 (words 0-4), the
    /// most common key shape; hashing and comparing it is unrolled.
    pub const IPV4_L4: u32 = PORT_L2_TYPE | DL_DST_PROTO | DL_SRC_TOS | NW_ADDRS | TP_PORTS;
    /// Every Ethernet frame: in_port and the L2 words.
    pub const L2: u32 = PORT_L2_TYPE | DL_DST_PROTO | DL_SRC_TOS;
}

/// What must hold for a field to be meaningful (OpenFlow prerequisites).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prereq {
    None,
    /// A VLAN tag is present (vlan_tci & 0x1000).
    Vlan,
    /// dl_type is 0x0800 or 0x86dd.
    Ip,
    Ipv4,
    Ipv6,
    Arp,
    /// Ip and nw_proto = 6.
    Tcp,
    Udp,
    Sctp,
    /// ip and nw_proto 6, 17 or 132 (tp_src/tp_dst without a protocol).
    L4Ports,
    Icmpv4,
    Icmpv6,
    /// Icmpv6 with type 135 or 136.
    Nd,
    /// Icmpv6 with type 135 (neighbor solicitation).
    NdSll,
    /// Icmpv6 with type 136 (neighbor advertisement).
    NdTll,
    /// dl_type is 0x8847 or 0x8848 (MPLS unicast or multicast).
    Mpls,
}

/// Every named field. Several names may share storage (ICMP and ICMPv6 type
/// live in tp_src, ARP op in nw_proto, ND link addresses in arp_sha/arp_tha,
/// as in Open vSwitch); their prerequisites tell them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    InPort,
    Metadata,
    Reg(u8),
    TunId,
    TunSrc,
    TunDst,
    TunIpv6Src,
    TunIpv6Dst,
    TunFlags,
    TunGbpId,
    TunGbpFlags,
    /// `tun_metadata0..63`: a Geneve option, where the TLV map puts it (`tun_metadata`).
    TunMetadata(u8),
    DlSrc,
    DlDst,
    DlType,
    VlanTci,
    VlanTci2,
    NwSrc,
    NwDst,
    NwProto,
    NwTos,
    NwTtl,
    NwFrag,
    Ipv6Src,
    Ipv6Dst,
    Ipv6Label,
    /// The IPv6 extension header pseudo-field (OpenFlow 1.3 `OXM_OF_IPV6_EXTHDR`, `ipv6_exthdr`).
    Ipv6Exthdr,
    TpSrc,
    TpDst,
    TcpFlags,
    IcmpType,
    IcmpCode,
    Icmpv6Type,
    Icmpv6Code,
    ArpOp,
    ArpSpa,
    ArpTpa,
    ArpSha,
    ArpTha,
    NdTarget,
    NdSll,
    NdTll,
    /// The top label stack entry's label, traffic class, bottom-of-stack bit and TTL (`mpls`).
    MplsLabel,
    MplsTc,
    MplsBos,
    MplsTtl,
}

/// Where a field lives and what may be done with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldDef {
    pub field: Field,
    /// ovs-ofctl name.
    pub name: &'static str,
    /// NXM/OXM name used by load/move/learn (`NXM_OF_ETH_DST`), if any.
    pub nxm: &'static str,
    /// Byte offset in the key.
    pub offset: usize,
    /// Bytes of storage.
    pub bytes: usize,
    /// Meaningful bits (the low bits of the storage), e.g. 20 for ipv6_label.
    pub bits: u32,
    pub maskable: bool,
    /// May set_field / load / move write it?
    pub writable: bool,
    pub prereq: Prereq,
}

macro_rules! field {
    ($field:expr, $name:literal, $nxm:literal, $offset:expr, $bytes:expr, $bits:expr, $maskable:expr, $writable:expr, $prereq:expr) => {
        FieldDef {
            field: $field,
            name: $name,
            nxm: $nxm,
            offset: $offset,
            bytes: $bytes,
            bits: $bits,
            maskable: $maskable,
            writable: $writable,
            prereq: $prereq,
        }
    };
}

/// The field registry. Offsets follow the word layout in `words`.
pub const FIELDS: &[FieldDef] = &[
    field!(Field::InPort, "in_port", "NXM_OF_IN_PORT", 0, 4, 32, false, true, Prereq::None),
    field!(Field::DlType, "dl_type", "NXM_OF_ETH_TYPE", 4, 2, 16, false, false, Prereq::None),
    field!(Field::VlanTci, "vlan_tci", "NXM_OF_VLAN_TCI", 6, 2, 16, true, true, Prereq::None),
    field!(Field::DlDst, "dl_dst", "NXM_OF_ETH_DST", 8, 6, 48, true, true, Prereq::None),
    field!(Field::NwProto, "nw_proto", "NXM_OF_IP_PROTO", 14, 1, 8, false, false, Prereq::Ip),
    field!(Field::ArpOp, "arp_op", "NXM_OF_ARP_OP", 14, 1, 8, false, true, Prereq::Arp),
    field!(Field::NwFrag, "nw_frag", "NXM_NX_IP_FRAG", 15, 1, 2, true, false, Prereq::Ip),
    field!(Field::DlSrc, "dl_src", "NXM_OF_ETH_SRC", 16, 6, 48, true, true, Prereq::None),
    field!(Field::NwTos, "nw_tos", "NXM_OF_IP_TOS", 22, 1, 8, true, true, Prereq::Ip),
    field!(Field::NwTtl, "nw_ttl", "NXM_NX_IP_TTL", 23, 1, 8, false, true, Prereq::Ip),
    field!(Field::NwSrc, "nw_src", "NXM_OF_IP_SRC", 24, 4, 32, true, true, Prereq::Ipv4),
    field!(Field::ArpSpa, "arp_spa", "NXM_OF_ARP_SPA", 24, 4, 32, true, true, Prereq::Arp),
    field!(Field::NwDst, "nw_dst", "NXM_OF_IP_DST", 28, 4, 32, true, true, Prereq::Ipv4),
    field!(Field::ArpTpa, "arp_tpa", "NXM_OF_ARP_TPA", 28, 4, 32, true, true, Prereq::Arp),
    field!(Field::TpSrc, "tp_src", "NXM_OF_TCP_SRC", 32, 2, 16, true, true, Prereq::L4Ports),
    field!(Field::IcmpType, "icmp_type", "NXM_OF_ICMP_TYPE", 33, 1, 8, false, true, Prereq::Icmpv4),
    field!(Field::TpDst, "tp_dst", "NXM_OF_TCP_DST", 34, 2, 16, true, true, Prereq::L4Ports),
    field!(Field::IcmpCode, "icmp_code", "NXM_OF_ICMP_CODE", 35, 1, 8, false, true, Prereq::Icmpv4),
    field!(Field::Icmpv6Type, "icmpv6_type", "NXM_NX_ICMPV6_TYPE", 33, 1, 8, false, true, Prereq::Icmpv6),
    field!(Field::Icmpv6Code, "icmpv6_code", "NXM_NX_ICMPV6_CODE", 35, 1, 8, false, true, Prereq::Icmpv6),
    field!(Field::TcpFlags, "tcp_flags", "NXM_NX_TCP_FLAGS", 36, 2, 12, true, false, Prereq::Tcp),
    field!(Field::VlanTci2, "vlan_tci2", "", 38, 2, 16, true, false, Prereq::Vlan),
    field!(Field::Metadata, "metadata", "OXM_OF_METADATA", 40, 8, 64, true, true, Prereq::None),
    field!(Field::Reg(0), "reg0", "NXM_NX_REG0", 48, 4, 32, true, true, Prereq::None),
    field!(Field::Reg(1), "reg1", "NXM_NX_REG1", 52, 4, 32, true, true, Prereq::None),
    field!(Field::Reg(2), "reg2", "NXM_NX_REG2", 56, 4, 32, true, true, Prereq::None),
    field!(Field::Reg(3), "reg3", "NXM_NX_REG3", 60, 4, 32, true, true, Prereq::None),
    field!(Field::Reg(4), "reg4", "NXM_NX_REG4", 64, 4, 32, true, true, Prereq::None),
    field!(Field::Reg(5), "reg5", "NXM_NX_REG5", 68, 4, 32, true, true, Prereq::None),
    field!(Field::Reg(6), "reg6", "NXM_NX_REG6", 72, 4, 32, true, true, Prereq::None),
    field!(Field::Reg(7), "reg7", "NXM_NX_REG7", 76, 4, 32, true, true, Prereq::None),
    field!(Field::TunId, "tun_id", "NXM_NX_TUN_ID", 80, 8, 64, true, true, Prereq::None),
    field!(Field::TunSrc, "tun_src", "NXM_NX_TUN_IPV4_SRC", 88, 4, 32, true, true, Prereq::None),
    field!(Field::TunDst, "tun_dst", "NXM_NX_TUN_IPV4_DST", 92, 4, 32, true, true, Prereq::None),
    field!(Field::Ipv6Src, "ipv6_src", "NXM_NX_IPV6_SRC", 96, 16, 128, true, true, Prereq::Ipv6),
    field!(Field::Ipv6Dst, "ipv6_dst", "NXM_NX_IPV6_DST", 112, 16, 128, true, true, Prereq::Ipv6),
    field!(Field::Ipv6Label, "ipv6_label", "NXM_NX_IPV6_LABEL", 128, 4, 20, true, true, Prereq::Ipv6),
    // The parser's summary of the extension header chain (`exthdr`), in the label's word.
    field!(Field::Ipv6Exthdr, "ipv6_exthdr", "OXM_OF_IPV6_EXTHDR", 132, 2, 9, true, false, Prereq::Ipv6),
    field!(Field::NdTarget, "nd_target", "NXM_NX_ND_TARGET", 136, 16, 128, true, true, Prereq::Nd),
    field!(Field::ArpSha, "arp_sha", "NXM_NX_ARP_SHA", 152, 6, 48, true, true, Prereq::Arp),
    field!(Field::NdSll, "nd_sll", "NXM_NX_ND_SLL", 152, 6, 48, true, true, Prereq::NdSll),
    field!(Field::ArpTha, "arp_tha", "NXM_NX_ARP_THA", 160, 6, 48, true, true, Prereq::Arp),
    field!(Field::NdTll, "nd_tll", "NXM_NX_ND_TLL", 160, 6, 48, true, true, Prereq::NdTll),
    // The top LSE, split into its fields (the deeper ones are whole LSEs: `mpls`).
    field!(Field::MplsLabel, "mpls_label", "OXM_OF_MPLS_LABEL", 152, 4, 20, false, true, Prereq::Mpls),
    field!(Field::MplsTc, "mpls_tc", "OXM_OF_MPLS_TC", 156, 1, 3, false, true, Prereq::Mpls),
    // Read-only, as in Open vSwitch: push_mpls and pop_mpls decide it.
    field!(Field::MplsBos, "mpls_bos", "OXM_OF_MPLS_BOS", 157, 1, 1, false, false, Prereq::Mpls),
    field!(Field::MplsTtl, "mpls_ttl", "NXM_NX_MPLS_TTL", 158, 1, 8, false, true, Prereq::Mpls),
    field!(Field::TunIpv6Src, "tun_ipv6_src", "NXM_NX_TUN_IPV6_SRC", 168, 16, 128, true, true, Prereq::None),
    field!(Field::TunIpv6Dst, "tun_ipv6_dst", "NXM_NX_TUN_IPV6_DST", 184, 16, 128, true, true, Prereq::None),
    // Open vSwitch's public tunnel flags: only `oam` (bit 0, the Geneve O bit).
    field!(Field::TunFlags, "tun_flags", "NXM_NX_TUN_FLAGS", 200, 2, 1, true, true, Prereq::None),
    // VXLAN Group Based Policy: the policy ID and the D (0x40) and A (0x08) flags.
    field!(Field::TunGbpId, "tun_gbp_id", "NXM_NX_TUN_GBP_ID", 202, 2, 16, true, true, Prereq::None),
    field!(Field::TunGbpFlags, "tun_gbp_flags", "NXM_NX_TUN_GBP_FLAGS", 204, 1, 8, true, true, Prereq::None),
];

/// Another name of a registry field: an ovs-ofctl or OXM/NXM spelling of the
/// same storage. `prereq` is what the name implies, which may be narrower
/// than the field's own (`tcp_dst` needs tcp where `tp_dst` takes tcp, udp
/// or sctp).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldAlias {
    pub name: &'static str,
    pub field: Field,
    pub prereq: Prereq,
}

macro_rules! alias {
    ($name:literal, $field:expr, $prereq:expr) => {
        FieldAlias { name: $name, field: $field, prereq: $prereq }
    };
}

/// The aliases `Field::resolve` accepts besides the registry names.
pub const FIELD_ALIASES: &[FieldAlias] = &[
    alias!("eth_src", Field::DlSrc, Prereq::None),
    alias!("eth_dst", Field::DlDst, Prereq::None),
    alias!("eth_type", Field::DlType, Prereq::None),
    alias!("ip_src", Field::NwSrc, Prereq::Ipv4),
    alias!("ip_dst", Field::NwDst, Prereq::Ipv4),
    alias!("ipv4_src", Field::NwSrc, Prereq::Ipv4),
    alias!("ipv4_dst", Field::NwDst, Prereq::Ipv4),
    alias!("ip_proto", Field::NwProto, Prereq::Ip),
    alias!("ip_frag", Field::NwFrag, Prereq::Ip),
    alias!("tcp_src", Field::TpSrc, Prereq::Tcp),
    alias!("tcp_dst", Field::TpDst, Prereq::Tcp),
    alias!("udp_src", Field::TpSrc, Prereq::Udp),
    alias!("udp_dst", Field::TpDst, Prereq::Udp),
    alias!("sctp_src", Field::TpSrc, Prereq::Sctp),
    alias!("sctp_dst", Field::TpDst, Prereq::Sctp),
    alias!("NXM_OF_UDP_SRC", Field::TpSrc, Prereq::Udp),
    alias!("NXM_OF_UDP_DST", Field::TpDst, Prereq::Udp),
    alias!("tunnel_id", Field::TunId, Prereq::None),
];

/// The MPLS label stack in the key (words 19-20, where an ARP frame has its hardware addresses).
/// Three label stack entries (LSEs), as Open vSwitch keeps: the top one split into the
/// registry fields `mpls_label`, `mpls_tc`, `mpls_bos` and `mpls_ttl` (bytes 152-158), the next
/// two whole, as on the wire (bytes 160-167). Byte 159 says what the parser found after the
/// bottom of the stack (`inner`), so that a pop_mpls to IP sees the inner header without a
/// second pass. A stack deeper than three keeps its first three; the key does not say more.
pub mod mpls {
    /// Entries the key holds.
    pub const DEPTH: usize = 3;
    /// Bytes of one entry on the wire.
    pub const LSE_LEN: usize = 4;
    /// Byte offset of the top LSE's label (the first byte of the stack).
    pub const TOP: usize = 152;
    /// Byte offset of the inner-header byte.
    pub const INNER: usize = 159;
    /// Byte offsets of the second and third LSEs (whole, big-endian).
    pub const DEEPER: [usize; 2] = [160, 164];

    /// What follows the bottom of the stack, as the parser saw it (byte `INNER`).
    pub mod inner {
        /// Not parsed: no bottom within three entries, or a payload that is neither.
        pub const NONE: u8 = 0;
        /// An IPv4 header (version 4), parsed into the key's IPv4 and L4 words.
        pub const IPV4: u8 = 4;
        /// An IPv6 header (version 6), parsed into the key's IPv6 and L4 words.
        pub const IPV6: u8 = 6;
        /// An Ethernet/IPv4 ARP header: `arp_op`, `arp_spa` and `arp_tpa` in their places, the
        /// hardware addresses (whose words the stack takes) in the first two IPv6 words
        /// (`ARP_HA_AT`), for a pop_mpls to move to theirs.
        pub const ARP: u8 = 1;
        /// Where the hardware addresses of an ARP header under the stack wait: `arp_sha` then
        /// `arp_tha`, 8 bytes each, as in their own words.
        pub const ARP_HA_AT: usize = 96;
    }

    /// The label stack entry's fields.
    pub const LABEL_SHIFT: u32 = 12;
    pub const TC_SHIFT: u32 = 9;
    pub const BOS_BIT: u32 = 1 << 8;

    /// An LSE from its fields.
    pub const fn lse(label: u32, tc: u8, bos: bool, ttl: u8) -> u32 {
        (label & 0xf_ffff) << LABEL_SHIFT | ((tc & 7) as u32) << TC_SHIFT | if bos { BOS_BIT } else { 0 } | ttl as u32
    }
}

/// Byte offset of the tun_metadata option area (words 26-29).
pub const TUN_METADATA_OFFSET: usize = 208;
const _: () = assert!(TUN_METADATA_OFFSET + super::tun_metadata::AREA_BYTES == KEY_BYTES);

impl Field {
    /// The registry entry of this field. A `tun_metadataN` has the place and length the
    /// published TLV map gives it; unmapped, none (0 bytes, 0 bits).
    pub fn def(self) -> FieldDef {
        if let Field::TunMetadata(index) = self {
            return tun_metadata_def(index);
        }
        // Every other Field variant has an entry (checked by a unit test); the fallback is
        // never reached.
        *FIELDS.iter().find(|d| d.field == self).unwrap_or(&FIELDS[0])
    }

    /// Whether the field has a place in the key (a tun_metadataN only while mapped).
    pub fn is_mapped(self) -> bool {
        self.def().bytes > 0
    }

    /// Every field with a place in the key: the registry, then the mapped tun_metadataN.
    pub fn all_mapped() -> impl Iterator<Item = Field> {
        let metadata = (0..tun_metadata::FIELDS).filter_map(|i| u8::try_from(i).ok()).map(Field::TunMetadata);
        FIELDS.iter().map(|d| d.field).chain(metadata.filter(|field| field.is_mapped()))
    }

    /// Looks a field up by its ovs-ofctl name, NXM/OXM name or alias.
    #[cfg(test)]
    pub fn by_name(name: &str) -> Option<Field> {
        Field::resolve(name).map(|(field, _)| field)
    }

    /// The field a name (ovs-ofctl, NXM/OXM or alias) refers to, with the
    /// prerequisite that name implies.
    pub fn resolve(name: &str) -> Option<(Field, Prereq)> {
        let metadata = tun_metadata::index_of(name, "tun_metadata")
            .or_else(|| tun_metadata::index_of(name, "NXM_NX_TUN_METADATA"));
        if let Some(index) = metadata {
            return Some((Field::TunMetadata(index), Prereq::None));
        }
        let registry = FIELDS.iter().find(|d| d.name == name || (!d.nxm.is_empty() && d.nxm == name));
        match registry {
            Some(d) => Some((d.field, d.prereq)),
            None => FIELD_ALIASES.iter().find(|a| a.name == name).map(|a| (a.field, a.prereq)),
        }
    }

    /// The name used where a subfield is printed (`NXM_OF_ETH_DST[]`): the
    /// NXM/OXM name, or the ovs-ofctl name for fields without one.
    pub fn nxm_or_name(self) -> &'static str {
        let d = self.def();
        if d.nxm.is_empty() {
            d.name
        } else {
            d.nxm
        }
    }

    /// A tunnel field (tun_*): metadata of the outer header, not of the packet's own headers.
    pub fn is_tunnel(self) -> bool {
        matches!(
            self,
            Field::TunId | Field::TunSrc | Field::TunDst | Field::TunIpv6Src | Field::TunIpv6Dst | Field::TunFlags
        )
    }

    /// All ones in the field's meaningful bits.
    pub fn bits_mask(self) -> u128 {
        let bits = self.def().bits;
        if bits >= 128 {
            u128::MAX
        } else {
            (1u128 << bits) - 1
        }
    }
}

/// The definition of `tun_metadata{index}` under the published TLV map.
fn tun_metadata_def(index: u8) -> FieldDef {
    let slot = usize::from(index).min(tun_metadata::FIELDS - 1);
    let (offset, bytes) = tun_metadata::published(index)
        .map_or((TUN_METADATA_OFFSET, 0), |m| (TUN_METADATA_OFFSET + usize::from(m.offset), usize::from(m.len)));
    FieldDef {
        field: Field::TunMetadata(index),
        name: tun_metadata::NAMES[slot],
        nxm: tun_metadata::NXM_NAMES[slot],
        offset,
        bytes,
        #[expect(clippy::cast_possible_truncation, reason = "at most 128")]
        bits: (bytes * 8) as u32,
        maskable: true,
        writable: true,
        prereq: Prereq::None,
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.def().name)
    }
}

impl FlowKey {
    /// The bytes of a field.
    #[inline]
    pub fn get(&self, field: Field) -> &[u8] {
        let d = field.def();
        &self.bytes[d.offset..d.offset + d.bytes]
    }

    /// Overwrites a field; `value` must have the field's length (longer
    /// values are cut, shorter ones fill the leading bytes).
    #[cfg(test)]
    #[inline]
    pub fn set(&mut self, field: Field, value: &[u8]) {
        let d = field.def();
        let n = d.bytes.min(value.len());
        self.bytes[d.offset..d.offset + n].copy_from_slice(&value[..n]);
    }

    /// A field of up to 8 bytes as an integer.
    #[inline]
    pub fn get_u64(&self, field: Field) -> u64 {
        self.get(field).iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b))
    }

    /// Sets a field of up to 8 bytes from an integer (low bytes kept).
    #[inline]
    pub fn set_u64(&mut self, field: Field, value: u64) {
        let d = field.def();
        let be = value.to_be_bytes();
        let n = d.bytes.min(8);
        self.bytes[d.offset..d.offset + n].copy_from_slice(&be[8 - n..]);
    }

    /// A field as an integer (its bytes big-endian), any width up to 16
    /// bytes; bits above the field's meaningful bits are kept as stored.
    #[inline]
    pub fn get_u128(&self, field: Field) -> u128 {
        self.get(field).iter().fold(0u128, |acc, &b| (acc << 8) | u128::from(b))
    }

    /// Sets a field from an integer (its low bytes, big-endian).
    #[inline]
    pub fn set_u128(&mut self, field: Field, value: u128) {
        let d = field.def();
        let be = value.to_be_bytes();
        let n = d.bytes.min(16);
        self.bytes[d.offset..d.offset + n].copy_from_slice(&be[16 - n..]);
    }

    /// The whole key as 8-byte words, for hashing and masking.
    #[inline]
    pub fn word(&self, i: usize) -> u64 {
        let start = i * 8;
        let mut w = [0u8; 8];
        w.copy_from_slice(&self.bytes[start..start + 8]);
        u64::from_ne_bytes(w)
    }

    #[inline]
    pub fn set_word(&mut self, i: usize, value: u64) {
        let start = i * 8;
        self.bytes[start..start + 8].copy_from_slice(&value.to_ne_bytes());
    }

    /// Bit mask of the words that are not all zero.
    pub fn nonzero_words(&self) -> u32 {
        (0..KEY_WORDS).filter(|&i| self.word(i) != 0).fold(0, |m, i| m | (1 << i))
    }

    /// `self & mask`, word by word.
    #[inline]
    pub fn masked(&self, mask: &FlowKey) -> FlowKey {
        let mut out = FlowKey::default();
        for i in 0..KEY_WORDS {
            out.set_word(i, self.word(i) & mask.word(i));
        }
        out
    }

    /// `self |= other`, word by word (the union of two masks).
    #[inline]
    pub fn or_with(&mut self, other: &FlowKey) {
        for i in 0..KEY_WORDS {
            self.set_word(i, self.word(i) | other.word(i));
        }
    }

    /// Label stack entry `index` (0 the top, up to `mpls::DEPTH - 1`) as on the wire.
    pub fn mpls_lse(&self, index: usize) -> u32 {
        if index == 0 {
            let label = u32::try_from(self.get_u64(Field::MplsLabel) & 0xf_ffff).unwrap_or(0);
            let [tc, bos, ttl] = [Field::MplsTc, Field::MplsBos, Field::MplsTtl].map(|f| self.get(f)[0]);
            return mpls::lse(label, tc, bos & 1 != 0, ttl);
        }
        let at = mpls::DEEPER.get(index - 1).copied().unwrap_or(mpls::DEEPER[1]);
        u32::from_be_bytes([self.bytes[at], self.bytes[at + 1], self.bytes[at + 2], self.bytes[at + 3]])
    }

    /// Sets label stack entry `index` (0 the top: its fields) from its wire form.
    pub fn set_mpls_lse(&mut self, index: usize, lse: u32) {
        if index == 0 {
            self.set_u64(Field::MplsLabel, u64::from(lse >> mpls::LABEL_SHIFT));
            self.set_u64(Field::MplsTc, u64::from((lse >> mpls::TC_SHIFT) & 7));
            self.set_u64(Field::MplsBos, u64::from(lse & mpls::BOS_BIT != 0));
            self.set_u64(Field::MplsTtl, u64::from(lse & 0xff));
            return;
        }
        let at = mpls::DEEPER.get(index - 1).copied().unwrap_or(mpls::DEEPER[1]);
        self.bytes[at..at + 4].copy_from_slice(&lse.to_be_bytes());
    }

    /// Sets every bit of a field (for building masks).
    pub fn set_all_ones(&mut self, field: Field) {
        let d = field.def();
        for b in &mut self.bytes[d.offset..d.offset + d.bytes] {
            *b = 0xff;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_has_a_registry_entry_inside_the_key() {
        let all = [
            Field::InPort,
            Field::Metadata,
            Field::TunId,
            Field::TunSrc,
            Field::TunDst,
            Field::TunIpv6Src,
            Field::TunIpv6Dst,
            Field::TunFlags,
            Field::TunGbpId,
            Field::TunGbpFlags,
            Field::DlSrc,
            Field::DlDst,
            Field::DlType,
            Field::VlanTci,
            Field::VlanTci2,
            Field::NwSrc,
            Field::NwDst,
            Field::NwProto,
            Field::NwTos,
            Field::NwTtl,
            Field::NwFrag,
            Field::Ipv6Src,
            Field::Ipv6Dst,
            Field::Ipv6Label,
            Field::Ipv6Exthdr,
            Field::TpSrc,
            Field::TpDst,
            Field::TcpFlags,
            Field::IcmpType,
            Field::IcmpCode,
            Field::Icmpv6Type,
            Field::Icmpv6Code,
            Field::ArpOp,
            Field::ArpSpa,
            Field::ArpTpa,
            Field::ArpSha,
            Field::ArpTha,
            Field::NdTarget,
            Field::NdSll,
            Field::NdTll,
            Field::MplsLabel,
            Field::MplsTc,
            Field::MplsBos,
            Field::MplsTtl,
        ];
        for field in all.into_iter().chain((0..8).map(Field::Reg)) {
            let d = field.def();
            assert_eq!(d.field, field, "{field:?} missing from FIELDS");
            assert!(d.offset + d.bytes <= KEY_BYTES);
            assert!(d.bits as usize <= d.bytes * 8);
            assert_eq!(Field::by_name(d.name), Some(field));
        }
    }

    #[test]
    fn fields_stay_within_their_layer_words() {
        let l4 = Field::TpDst.def();
        assert_eq!(l4.offset / 8, 4);
        assert_eq!(Field::NwSrc.def().offset / 8, 3);
        assert_eq!(Field::InPort.def().offset / 8, 0);
        assert_eq!(Field::Ipv6Src.def().offset / 8, 12);
        let tunnel_words = |field: Field| {
            let d = field.def();
            (d.offset / 8..(d.offset + d.bytes).div_ceil(8)).fold(0u32, |m, w| m | 1 << w)
        };
        assert_eq!(tunnel_words(Field::TunId), words::TUN_ID);
        assert_eq!(tunnel_words(Field::TunSrc) | tunnel_words(Field::TunDst), words::TUN_IPV4);
        assert_eq!(tunnel_words(Field::TunIpv6Src) | tunnel_words(Field::TunIpv6Dst), words::TUN_IPV6);
        assert_eq!(tunnel_words(Field::TunFlags), words::TUN_FLAGS);
        assert_eq!(tunnel_words(Field::TunGbpId) | tunnel_words(Field::TunGbpFlags), words::TUN_FLAGS);
    }

    #[test]
    fn get_set_round_trip() {
        let mut k = FlowKey::default();
        k.set_u64(Field::TpDst, 5001);
        k.set(Field::DlDst, &[0, 1, 2, 3, 4, 5]);
        k.set_u64(Field::Reg(3), 0xdead_beef);
        assert_eq!(k.get_u64(Field::TpDst), 5001);
        assert_eq!(k.get(Field::DlDst), &[0, 1, 2, 3, 4, 5]);
        assert_eq!(k.get_u64(Field::Reg(3)), 0xdead_beef);
        assert_eq!(k.get_u64(Field::Reg(2)), 0);
        assert_eq!(k.nonzero_words(), (1 << 1) | (1 << 4) | (1 << 7));
    }

    #[test]
    fn names_resolve_both_ways() {
        assert_eq!(Field::by_name("nw_src"), Some(Field::NwSrc));
        assert_eq!(Field::by_name("NXM_OF_ETH_DST"), Some(Field::DlDst));
        assert_eq!(Field::by_name("NXM_NX_REG5"), Some(Field::Reg(5)));
        assert_eq!(Field::by_name("bogus"), None);
        assert_eq!(Field::Reg(7).to_string(), "reg7");
    }

    #[test]
    fn aliases_resolve_with_their_own_prerequisite() {
        assert_eq!(Field::resolve("tp_dst"), Some((Field::TpDst, Prereq::L4Ports)));
        assert_eq!(Field::resolve("tcp_dst"), Some((Field::TpDst, Prereq::Tcp)));
        assert_eq!(Field::resolve("NXM_OF_UDP_SRC"), Some((Field::TpSrc, Prereq::Udp)));
        assert_eq!(Field::resolve("eth_dst"), Some((Field::DlDst, Prereq::None)));
        assert_eq!(Field::by_name("tunnel_id"), Some(Field::TunId));
        for alias in FIELD_ALIASES {
            assert!(FIELDS.iter().all(|d| d.name != alias.name && d.nxm != alias.name), "{} shadows", alias.name);
        }
    }

    #[test]
    fn subfield_names_and_bit_masks() {
        assert_eq!(Field::DlDst.nxm_or_name(), "NXM_OF_ETH_DST");
        assert_eq!(Field::VlanTci2.nxm_or_name(), "vlan_tci2");
        assert_eq!(Field::Ipv6Label.bits_mask(), 0xf_ffff);
        assert_eq!(Field::Ipv6Src.bits_mask(), u128::MAX);
        assert_eq!(Field::NwFrag.bits_mask(), 0b11);
    }

    #[test]
    fn wide_integer_access() {
        let mut k = FlowKey::default();
        k.set_u128(Field::Ipv6Dst, 0x2001_0db8_0000_0000_0000_0000_0000_0001);
        assert_eq!(k.get_u128(Field::Ipv6Dst), 0x2001_0db8_0000_0000_0000_0000_0000_0001);
        k.set_u128(Field::DlSrc, 0x0102_0304_0506);
        assert_eq!(k.get(Field::DlSrc), &[1, 2, 3, 4, 5, 6]);
        assert_eq!(k.get_u128(Field::DlSrc), 0x0102_0304_0506);
    }

    #[test]
    fn masking_clears_unmasked_bits() {
        let mut k = FlowKey::default();
        k.set_u64(Field::NwSrc, 0x0a01_0203);
        let mut m = FlowKey::default();
        m.set_u64(Field::NwSrc, 0xffff_0000);
        assert_eq!(k.masked(&m).get_u64(Field::NwSrc), 0x0a01_0000);
    }
}
