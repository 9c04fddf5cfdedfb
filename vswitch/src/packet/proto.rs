//! Wire constants of the protocols the switch parses: ethertypes, IP protocol numbers, the
//! `nw_frag` bits of the flow key, VLAN tag bits, TCP flag bits and ICMPv6 neighbour discovery
//! numbers. All values are host-order integers as the headers carry them (big endian on the
//! wire). This is their one home: the flow and OpenFlow code takes their `u128` match-value form
//! from `flow::numbers`, which is derived from here.

/// Ethertypes (the `dl_type` of the flow key).
pub mod ethertype {
    pub const IPV4: u16 = 0x0800;
    pub const ARP: u16 = 0x0806;
    /// Reverse ARP; parsed like ARP, as Open vSwitch does.
    pub const RARP: u16 = 0x8035;
    pub const IPV6: u16 = 0x86dd;
    /// 802.1Q customer VLAN tag.
    pub const VLAN: u16 = 0x8100;
    /// 802.1ad service VLAN tag (the outer tag of QinQ).
    pub const QINQ: u16 = 0x88a8;
    /// MPLS unicast and multicast (RFC 5332).
    pub const MPLS: u16 = 0x8847;
    pub const MPLS_MCAST: u16 = 0x8848;
    /// Values below this are 802.3 length fields, not ethertypes.
    pub const MIN: u16 = 0x0600;
    /// `dl_type` of an 802.3 frame without an LLC/SNAP ethertype (Open vSwitch's
    /// `FLOW_DL_TYPE_NONE`).
    pub const NONE: u16 = 0x05ff;

    /// Is `ethertype` MPLS's (unicast or multicast)?
    #[inline]
    pub const fn is_mpls(ethertype: u16) -> bool {
        ethertype == MPLS || ethertype == MPLS_MCAST
    }

    /// Is `ethertype` the TPID of a VLAN tag (802.1Q or 802.1ad)?
    #[inline]
    pub const fn is_vlan(ethertype: u16) -> bool {
        ethertype == VLAN || ethertype == QINQ
    }
}

/// IP protocol numbers (the `nw_proto` of the flow key) and IPv6 extension header types.
pub mod ip_proto {
    pub const HOP_BY_HOP: u8 = 0;
    pub const ICMP: u8 = 1;
    pub const TCP: u8 = 6;
    pub const UDP: u8 = 17;
    pub const ROUTING: u8 = 43;
    /// Generic Routing Encapsulation (RFC 2784).
    pub const GRE: u8 = 47;
    /// IPv6 fragment header; also the `nw_proto` of a non-first IPv6 fragment.
    pub const FRAGMENT: u8 = 44;
    /// Encapsulating Security Payload: what follows it is encrypted.
    pub const ESP: u8 = 50;
    pub const AH: u8 = 51;
    pub const ICMPV6: u8 = 58;
    /// IPv6 "no next header": nothing follows.
    pub const NO_NEXT_HEADER: u8 = 59;
    pub const DESTINATION_OPTIONS: u8 = 60;
    pub const SCTP: u8 = 132;
}

/// Bits of the flow key's `ipv6_exthdr` (OpenFlow 1.3 `ofp_ipv6exthdr_flags`, section 7.2.3.8).
pub mod ipv6_exthdr {
    /// A "no next header" (59) ends the chain.
    pub const NONEXT: u16 = 1 << 0;
    /// An Encapsulating Security Payload header.
    pub const ESP: u16 = 1 << 1;
    /// An Authentication header.
    pub const AUTH: u16 = 1 << 2;
    /// One or two Destination Options headers.
    pub const DEST: u16 = 1 << 3;
    pub const FRAG: u16 = 1 << 4;
    /// A Routing header.
    pub const ROUTER: u16 = 1 << 5;
    /// A Hop-by-Hop Options header.
    pub const HOP: u16 = 1 << 6;
    /// A header type other than Destination Options appears twice, or that one three times.
    pub const UNREP: u16 = 1 << 7;
    /// The headers are not in the order RFC 2460 (section 4.1) recommends.
    pub const UNSEQ: u16 = 1 << 8;
    /// Every flag.
    pub const ALL: u16 = (1 << 9) - 1;
}

/// Bits of the flow key's `nw_frag`.
pub mod nw_frag {
    /// The packet is a fragment (first or later).
    pub const ANY: u8 = 1;
    /// The packet is a fragment other than the first (its offset is not 0): no L4 header.
    pub const LATER: u8 = 2;
}

/// VLAN tag control information (TCI) bits.
pub mod vlan {
    /// The DEI (formerly CFI) bit of a tag's TCI on the wire. A pushed tag has it cleared.
    pub const CFI: u16 = 0x1000;
    /// The same bit in the flow key's `vlan_tci`/`vlan_tci2`: "a tag is present", as in Open
    /// vSwitch (and OpenFlow 1.3's OFPVID_PRESENT in a vlan_vid). The parser sets it for every
    /// tag, so a tag's own DEI bit is not in the key.
    pub const PRESENT: u16 = CFI;
    pub const VID_MASK: u16 = 0x0fff;
    pub const PCP_SHIFT: u32 = 13;
    pub const PCP_MASK: u16 = 0xe000;
}

/// TCP header bits.
pub mod tcp {
    /// The flag bits (the flow key's `tcp_flags`) of the 16-bit word that starts with the data
    /// offset.
    pub const FLAGS_MASK: u16 = 0x0fff;
}

/// ICMPv6 neighbour discovery (RFC 4861).
pub mod nd {
    pub const NEIGHBOR_SOLICITATION: u8 = 135;
    pub const NEIGHBOR_ADVERTISEMENT: u8 = 136;
    /// Option type of the source link-layer address.
    pub const OPTION_SOURCE_LL: u8 = 1;
    /// Option type of the target link-layer address.
    pub const OPTION_TARGET_LL: u8 = 2;
}

/// Header lengths in bytes (the fixed part where a header has options).
pub mod len {
    pub const ETHERNET: usize = 14;
    /// The shortest Ethernet frame without its FCS (what padding brings a short frame to).
    pub const ETHERNET_MIN: usize = 60;
    pub const VLAN_TAG: usize = 4;
    pub const LLC_SNAP: usize = 8;
    pub const ARP_ETHERNET_IPV4: usize = 28;
    pub const IPV4: usize = 20;
    pub const IPV6: usize = 40;
    pub const TCP: usize = 20;
    pub const UDP: usize = 8;
    pub const SCTP: usize = 12;
    /// ICMP and ICMPv6: type, code, checksum and the 4-byte rest of header.
    pub const ICMP: usize = 8;
    /// The ND target address after the ICMPv6 header.
    pub const ND_TARGET: usize = 16;
}
