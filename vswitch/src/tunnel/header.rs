//! The outer headers of VXLAN (RFC 7348), Geneve (RFC 8926) and GRE (RFC 2784, with the key and
//! sequence number of RFC 2890) over IPv4 and IPv6: built once per cached flow
//! (`OuterHeader::build`), pushed per packet (`OuterHeader::push`), and parsed and validated on
//! receipt (`classify_outer`).
//!
//! Conventions of the pushed headers:
//! - The IPv4 identification is 0 and the IPv6 flow label is 0: `push` keeps no per-packet state.
//! - The IPv4 header checksum is derived per packet from one computed at build time with a total
//!   length of 0 (RFC 1624), never summed again.
//! - A UDP checksum, when on, is computed in full per packet (pseudo header, UDP header, tunnel
//!   header, inner frame), the constant words summed once at build time; 0 is sent as 0xffff.
//!   Off, the field is 0 (over IPv6 too: RFC 6935 and RFC 6936 allow it for tunnels).
//! - No Geneve options are sent; no GRE sequence numbers are sent.
//!
//! On receipt (`classify_outer`):
//! - A UDP checksum of 0 means none, over IPv4 (RFC 768) and over IPv6 alike: RFC 8200 forbids it
//!   in general, but RFC 6935/6936 allow it for tunnel protocols and Linux (`udp6zerocsumrx`) and
//!   Open vSwitch accept it for VXLAN and Geneve, so the switch accepts it too.
//! - The VXLAN reserved bits are ignored (RFC 7348 section 5); the I flag is required.
//! - Geneve options are skipped, not interpreted: the critical (C) bit drops the packet
//!   (RFC 8926 section 3.5: a critical option this switch cannot understand).
//! - GRE: checksum (verified), key and sequence number (skipped) are accepted; version != 0, the
//!   routing bit and the strict source route bit are refused; the other reserved bits ignored.
//! - The switch does not reassemble: an outer fragment (IPv4 MF or offset, IPv6 fragment header)
//!   of UDP or GRE for a local endpoint is dropped (RFC 7348 section 4.3 allows it); UDP ports
//!   cannot be read in a fragment, so every UDP fragment for a local endpoint counts.
//! - The inner frame ends where the UDP length (UDP tunnels) or the IP length (GRE) says; bytes
//!   after it (Ethernet padding) are not part of it.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::flow::tun_metadata::{self, TlvMapping};
use crate::packet::proto::{ethertype, ip_proto, len};
use crate::packet::{PacketBuf, PacketBurst};

/// IP protocol number of GRE.
const IP_PROTO_GRE: u8 = 47;
/// The protocol type of Transparent Ethernet Bridging (an Ethernet frame), in Geneve and GRE.
const ETH_P_TEB: u16 = 0x6558;
/// The VXLAN and Geneve headers (Geneve without options).
const VXLAN_LEN: usize = 8;
const GENEVE_LEN: usize = 8;
/// The GRE header without its optional fields; each optional field is 4 bytes.
const GRE_BASE_LEN: usize = 4;
const GRE_FIELD_LEN: usize = 4;
/// The VXLAN I flag: the VNI is valid.
const VXLAN_FLAG_I: u8 = 0x08;
/// VXLAN Group Based Policy (draft-smith-vxlan-group-policy): the G flag in the first byte, the
/// D (don't learn) and A (policy applied) flags in the second, the policy ID in bytes 2-3.
const VXLAN_FLAG_G: u8 = 0x80;
/// The GBP flags defined in the second byte (D and A): tun_gbp_flags.
pub const VXLAN_GBP_FLAGS: u8 = 0x48;
/// GRE flag bits and version (first 16-bit word).
const GRE_CSUM: u16 = 0x8000;
const GRE_ROUTING: u16 = 0x4000;
const GRE_KEY: u16 = 0x2000;
const GRE_SEQ: u16 = 0x1000;
const GRE_STRICT_ROUTE: u16 = 0x0800;
const GRE_VERSION: u16 = 0x0007;
/// Geneve: version bits of the first byte, option length (4-byte units) bits, O and C bits.
const GENEVE_VERSION: u8 = 0xc0;
const GENEVE_OPT_LEN: u8 = 0x3f;
const GENEVE_OAM: u8 = 0x80;
const GENEVE_CRITICAL: u8 = 0x40;
/// In a Geneve option's type: the critical bit.
const GENEVE_OPTION_CRITICAL: u8 = 0x80;
/// In a Geneve option's fourth byte: its data length in 4-byte words (the top 3 bits are flags).
const GENEVE_OPTION_LEN: u8 = 0x1f;
/// IPv4 flags and fragment offset word.
const IPV4_DF: u16 = 0x4000;
const IPV4_MF: u16 = 0x2000;
const IPV4_OFFSET: u16 = 0x1fff;

/// Tunnel protocols.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TunnelKind {
    /// VXLAN (RFC 7348): Ethernet in UDP, 24-bit VNI.
    Vxlan,
    /// Geneve (RFC 8926): Ethernet in UDP, 24-bit VNI, options.
    Geneve,
    /// GRE (RFC 2784/2890) carrying Ethernet (Transparent Ethernet Bridging), optional 32-bit key.
    Gre,
}

impl TunnelKind {
    /// Every kind.
    pub const ALL: [TunnelKind; 3] = [TunnelKind::Vxlan, TunnelKind::Geneve, TunnelKind::Gre];

    /// The lower-case name, as configuration and flow dumps spell it.
    pub fn name(self) -> &'static str {
        match self {
            TunnelKind::Vxlan => "vxlan",
            TunnelKind::Geneve => "geneve",
            TunnelKind::Gre => "gre",
        }
    }

    /// The IANA UDP destination port (0 for GRE, which has none).
    pub fn default_dst_port(self) -> u16 {
        match self {
            TunnelKind::Vxlan => 4789,
            TunnelKind::Geneve => 6081,
            TunnelKind::Gre => 0,
        }
    }

    /// The largest key: the 24-bit VNI of VXLAN and Geneve, the 32-bit GRE key.
    pub fn max_key(self) -> u64 {
        match self {
            TunnelKind::Vxlan | TunnelKind::Geneve => 0xff_ffff,
            TunnelKind::Gre => 0xffff_ffff,
        }
    }

    /// Does the protocol run over UDP?
    fn is_udp(self) -> bool {
        self != TunnelKind::Gre
    }
}

impl fmt::Display for TunnelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Everything the outer header of one tunnel output is built from (resolved at translation time).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OuterSpec {
    /// The tunnel protocol.
    pub kind: TunnelKind,
    /// Outer Ethernet source: the underlay port's address.
    pub eth_src: [u8; 6],
    /// Outer Ethernet destination: the next hop's address.
    pub eth_dst: [u8; 6],
    /// Local tunnel endpoint.
    pub ip_src: IpAddr,
    /// Remote tunnel endpoint; same family as `ip_src`, else `BuildError::MixedFamilies`.
    pub ip_dst: IpAddr,
    /// VNI (VXLAN/Geneve, <= 0xffffff) or GRE key; for GRE None = no key field; for VXLAN/Geneve None = 0.
    pub key: Option<u32>,
    /// The whole TOS / traffic class byte (DSCP and ECN), already decided by the caller.
    pub tos: u8,
    /// IPv4 TTL or IPv6 hop limit.
    pub ttl: u8,
    /// IPv4 don't-fragment bit (ignored for IPv6).
    pub df: bool,
    /// UDP checksum (VXLAN/Geneve) or the GRE checksum field (GRE).
    pub csum: bool,
    /// UDP destination port (VXLAN/Geneve; ignored for GRE).
    pub dst_port: u16,
    /// Inclusive range the UDP source port is drawn from (from the flow hash), e.g. (32768, 61000).
    /// Ignored for GRE.
    pub src_port_range: (u16, u16),
    /// The Geneve O (OAM) bit (the flow's `tun_flags=oam`; ignored for VXLAN and GRE).
    pub oam: bool,
    /// Geneve options (ignored for VXLAN and GRE).
    pub options: GeneveOptions,
    /// VXLAN-GBP (a port with exts=gbp): the policy ID and flags; sent with the G flag when
    /// either is not 0 (as Linux does). Ignored for Geneve and GRE.
    pub gbp: (u16, u8),
}

/// Geneve options as sent: option TLVs (class, type, length in 4-byte words, data), in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GeneveOptions {
    bytes: [u8; MAX_OPTIONS_LEN],
    len: usize,
    /// An option has the critical bit (the header's C bit says so).
    critical: bool,
}

impl Default for GeneveOptions {
    fn default() -> Self {
        GeneveOptions { bytes: [0; MAX_OPTIONS_LEN], len: 0, critical: false }
    }
}

impl GeneveOptions {
    /// Appends option `{class, kind}` with `data` (a multiple of 4 bytes, at most 124); false,
    /// and nothing appended, when it does not fit or its length is not one.
    pub fn push(&mut self, class: u16, kind: u8, data: &[u8]) -> bool {
        let words =
            u8::try_from(data.len() / 4).ok().filter(|&w| w <= GENEVE_OPTION_LEN && data.len().is_multiple_of(4));
        let end = self.len + 4 + data.len();
        let (Some(words), Some(place)) = (words, self.bytes.get_mut(self.len..end)) else { return false };
        let [class_hi, class_lo] = class.to_be_bytes();
        place[..4].copy_from_slice(&[class_hi, class_lo, kind, words]);
        place[4..].copy_from_slice(data);
        self.len = end;
        self.critical |= kind & GENEVE_OPTION_CRITICAL != 0;
        true
    }

    /// The option TLVs.
    pub fn as_slice(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or_default()
    }
}

impl fmt::Display for GeneveOptions {
    /// `{class=0xffff,type=0x1,len=4}0x00001234` per option, comma separated.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.as_slice();
        let mut first = true;
        while let Some((&[class_hi, class_lo, kind, words], after)) = rest.split_first_chunk::<4>() {
            let len = usize::from(words & GENEVE_OPTION_LEN) * 4;
            let (data, after) = after.split_at(len.min(after.len()));
            let class = u16::from_be_bytes([class_hi, class_lo]);
            write!(f, "{}{{class={class:#x},type={kind:#x},len={len}}}0x", if first { "" } else { "," })?;
            for byte in data {
                write!(f, "{byte:02x}")?;
            }
            first = false;
            rest = after;
        }
        Ok(())
    }
}

/// Why an outer header cannot be built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuildError {
    /// The local and remote addresses are of different IP versions.
    MixedFamilies,
    /// The key does not fit the protocol's key field.
    KeyTooLarge {
        /// The key asked for.
        key: u32,
        /// The largest key of the protocol (`TunnelKind::max_key`).
        max: u64,
    },
    /// The UDP source port range is empty (its low end above its high end).
    EmptyPortRange,
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::MixedFamilies => {
                f.write_str("the tunnel's local and remote addresses are not of the same IP version")
            }
            BuildError::KeyTooLarge { key, max } => {
                write!(f, "tunnel key {key} is larger than the protocol's largest key {max}")
            }
            BuildError::EmptyPortRange => {
                f.write_str("the UDP source port range is empty: its low end is above its high end")
            }
        }
    }
}

impl std::error::Error for BuildError {}

/// Longest outer header without Geneve options: Ethernet 14 + IPv6 40 + UDP 8 + Geneve 8 = 70;
/// GRE over IPv6 with csum and key = 14+40+4+4+4 = 66.
const MAX_PLAIN_LEN: usize = 72;
/// Longest Geneve options: the key's option area (`tun_metadata::AREA_BYTES`) holds at most one
/// option per 4 bytes, each with a 4-byte option header.
pub const MAX_OPTIONS_LEN: usize = 2 * tun_metadata::AREA_BYTES;
/// Longest outer header.
pub const MAX_OUTER_LEN: usize = MAX_PLAIN_LEN + MAX_OPTIONS_LEN;
/// The outer header of VXLAN (or Geneve without options) over IPv4 and over IPv6.
const VXLAN_IPV4_LEN: usize = 50;
const VXLAN_IPV6_LEN: usize = 70;

/// The outer header of one tunnel output, built once per cached flow: bytes ready to copy, with the
/// offsets of what is written per packet. Stores a fixed array, no heap.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OuterHeader {
    spec: OuterSpec,
    /// The header with the per-packet fields (lengths, checksums, UDP source port) zero.
    bytes: [u8; MAX_OUTER_LEN],
    len: usize,
    /// Where the UDP or GRE header starts (the end of the IP header).
    l4: usize,
    ipv4: bool,
    /// IPv4: the header checksum of `bytes`' IP header, whose total length is 0.
    ip_checksum: u16,
    /// The one's complement sum (folded) of the constant words the L4 checksum covers: for UDP the
    /// pseudo header's addresses and protocol, the UDP destination port and the tunnel header; for
    /// GRE the GRE header. 0 when the checksum is off.
    l4_sum: u16,
}

/// Why a push failed (the packet is left unchanged).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushError {
    /// The buffer has less headroom than the outer header's length.
    NoHeadroom,
    /// The buffer is shared with another output: it must be copied before it can change.
    Shared,
    /// The outer IP length would exceed 65535.
    TooLong,
    /// A checksum is on and the packet spans several buffer segments: the checksum needs bytes
    /// `PacketBuf::data` does not show. The caller linearizes the packet or drops it.
    Segmented,
}

impl fmt::Display for PushError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PushError::NoHeadroom => "no headroom for the tunnel header in the packet buffer",
            PushError::Shared => "the packet buffer is shared with another output",
            PushError::TooLong => "the encapsulated packet would be longer than IP allows",
            PushError::Segmented => "a tunnel checksum over a packet of several segments",
        })
    }
}

impl std::error::Error for PushError {}

/// The bytes of an outer header being built.
struct Template {
    bytes: [u8; MAX_OUTER_LEN],
    len: usize,
}

impl Template {
    fn put(&mut self, data: &[u8]) {
        let end = self.len + data.len();
        let fits = self.bytes.get_mut(self.len..end).map(|to| to.copy_from_slice(data)).is_some();
        debug_assert!(fits, "outer headers are at most MAX_OUTER_LEN bytes");
        if fits {
            self.len = end;
        }
    }

    fn put16(&mut self, value: u16) {
        self.put(&value.to_be_bytes());
    }
}

impl OuterHeader {
    /// Builds the header of `spec`: checks it, lays out the constant bytes and sums what the
    /// checksums of `push` take from them.
    pub fn build(spec: &OuterSpec) -> Result<OuterHeader, BuildError> {
        if let Some(key) = spec.key {
            if u64::from(key) > spec.kind.max_key() {
                return Err(BuildError::KeyTooLarge { key, max: spec.kind.max_key() });
            }
        }
        if spec.kind.is_udp() && spec.src_port_range.0 > spec.src_port_range.1 {
            return Err(BuildError::EmptyPortRange);
        }
        let proto = if spec.kind.is_udp() { ip_proto::UDP } else { IP_PROTO_GRE };
        let mut header = Template { bytes: [0; MAX_OUTER_LEN], len: 0 };
        header.put(&spec.eth_dst);
        header.put(&spec.eth_src);
        let ipv4 = match (spec.ip_src, spec.ip_dst) {
            (IpAddr::V4(src), IpAddr::V4(dst)) => {
                header.put16(ethertype::IPV4);
                header.put(&[0x45, spec.tos]);
                header.put16(0); // total length, per packet
                header.put16(0); // identification
                header.put16(if spec.df { IPV4_DF } else { 0 });
                header.put(&[spec.ttl, proto]);
                header.put16(0); // header checksum, per packet
                header.put(&src.octets());
                header.put(&dst.octets());
                true
            }
            (IpAddr::V6(src), IpAddr::V6(dst)) => {
                header.put16(ethertype::IPV6);
                header.put(&((6u32 << 28) | (u32::from(spec.tos) << 20)).to_be_bytes());
                header.put16(0); // payload length, per packet
                header.put(&[proto, spec.ttl]);
                header.put(&src.octets());
                header.put(&dst.octets());
                false
            }
            _ => return Err(BuildError::MixedFamilies),
        };
        let l4 = header.len;
        let vni = spec.key.unwrap_or(0) << 8;
        match spec.kind {
            TunnelKind::Vxlan => {
                header.put(&[0, 0]); // source port, per packet
                header.put16(spec.dst_port);
                header.put(&[0, 0, 0, 0]); // length and checksum, per packet
                let (gbp_id, gbp_flags) = spec.gbp;
                if (gbp_id, gbp_flags) == (0, 0) {
                    header.put(&[VXLAN_FLAG_I, 0, 0, 0]);
                } else {
                    header.put(&[VXLAN_FLAG_I | VXLAN_FLAG_G, gbp_flags]);
                    header.put16(gbp_id);
                }
                header.put(&vni.to_be_bytes());
            }
            TunnelKind::Geneve => {
                header.put(&[0, 0]);
                header.put16(spec.dst_port);
                header.put(&[0, 0, 0, 0]);
                let options = spec.options.as_slice();
                // Version 0, the options' length in 4-byte words; O and C as the flags and the
                // options say.
                let words = u8::try_from(options.len() / 4).unwrap_or(0) & GENEVE_OPT_LEN;
                let oam = if spec.oam { GENEVE_OAM } else { 0 };
                let critical = if spec.options.critical { GENEVE_CRITICAL } else { 0 };
                header.put(&[words, oam | critical]);
                header.put16(ETH_P_TEB);
                header.put(&vni.to_be_bytes());
                header.put(options);
            }
            TunnelKind::Gre => {
                let csum = if spec.csum { GRE_CSUM } else { 0 };
                let key = if spec.key.is_some() { GRE_KEY } else { 0 };
                header.put16(csum | key);
                header.put16(ETH_P_TEB);
                if spec.csum {
                    header.put(&[0, 0, 0, 0]); // checksum, per packet, and reserved
                }
                if let Some(key) = spec.key {
                    header.put(&key.to_be_bytes());
                }
            }
        }
        let bytes = header.bytes;
        let ip_checksum = if ipv4 { !fold(bytes.get(len::ETHERNET..l4).map_or(0, ones_sum)) } else { 0 };
        let l4_sum = match spec.kind {
            _ if !spec.csum => 0,
            TunnelKind::Gre => fold(bytes.get(l4..header.len).map_or(0, ones_sum)),
            TunnelKind::Vxlan | TunnelKind::Geneve => {
                // The addresses end where the IP header does.
                let addresses = if ipv4 { l4 - 8..l4 } else { l4 - 32..l4 };
                fold(
                    bytes.get(addresses).map_or(0, ones_sum)
                        + u64::from(proto)
                        + bytes.get(l4..header.len).map_or(0, ones_sum),
                )
            }
        };
        Ok(OuterHeader { spec: spec.clone(), bytes, len: header.len, l4, ipv4, ip_checksum, l4_sum })
    }

    /// The spec the header was built from.
    pub fn spec(&self) -> &OuterSpec {
        &self.spec
    }

    /// The header's length in bytes: what `push` prepends.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Never: an outer header has at least Ethernet, IP and GRE headers.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The header's bytes with the per-packet fields (lengths, checksums, UDP source port) 0.
    pub fn bytes(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or_default()
    }

    /// The UDP source port of a packet whose flow hashes to `flow_hash`: the hash scaled into
    /// `src_port_range` (the high bits of the hash pick the port).
    pub fn src_port(&self, flow_hash: u32) -> u16 {
        let (low, high) = self.spec.src_port_range;
        let span = u64::from(high.saturating_sub(low)) + 1;
        let offset = (u64::from(flow_hash) * span) >> 32; // < span
        u16::try_from(u64::from(low) + offset).unwrap_or(high)
    }

    /// Per packet: prepends the header to `packet` (an Ethernet frame) and fills in what depends on
    /// the packet: IPv4 total length and header checksum (derived incrementally from a checksum
    /// precomputed at build time over the constant fields - no full recompute per packet), IPv6
    /// payload length, UDP length, UDP source port (`flow_hash` scaled into src_port_range), UDP
    /// checksum when csum is on (full checksum over pseudo-header + UDP header + payload; written as
    /// 0xffff if it computes to 0), zero when off; GRE checksum when on. No allocation.
    pub fn push<B: PacketBuf>(&self, packet: &mut B, flow_hash: u32) -> Result<(), PushError> {
        let inner_len = usize::try_from(packet.pkt_len()).map_err(|_| PushError::TooLong)?;
        let lengths = self.lengths(inner_len)?;
        if packet.data_mut().is_none() {
            return Err(PushError::Shared);
        }
        if self.spec.csum && packet.data().len() != inner_len {
            return Err(PushError::Segmented);
        }
        if !packet.prepend(self.len) {
            return Err(PushError::NoHeadroom);
        }
        // `prepend` succeeded, so the buffer is not shared and has the header's bytes.
        let data = packet.data_mut().ok_or(PushError::Shared)?;
        self.fill(data, lengths, flow_hash);
        Ok(())
    }

    /// The whole outer header for inner frames of `inner_len` bytes with flow hash `flow_hash`,
    /// when nothing in it depends on the payload (no UDP/GRE checksum): the packets of a train
    /// (one flow, one length) then each get a copy of it and nothing else.
    /// A header with Geneve options is longer than a ready header holds: `None` then too.
    pub fn ready(&self, inner_len: usize, flow_hash: u32) -> Option<ReadyHeader> {
        if self.spec.csum || self.len > MAX_PLAIN_LEN {
            return None;
        }
        let lengths = self.lengths(inner_len).ok()?;
        let mut block = [0u8; MAX_PLAIN_LEN];
        self.fill(block.get_mut(MAX_PLAIN_LEN - self.len..)?, lengths, flow_hash);
        Some(ReadyHeader { block, len: self.len, inner_len, flow_hash })
    }

    /// `push` on packet `i` of a burst, which stays in the burst (a run of packets of one
    /// megaflow is then sent on as one batch).
    pub fn push_in_burst<B: PacketBurst>(&self, burst: &mut B, i: usize, flow_hash: u32) -> Result<(), PushError> {
        let inner_len = usize::try_from(burst.pkt_len(i)).map_err(|_| PushError::TooLong)?;
        let lengths = self.lengths(inner_len)?;
        if self.spec.csum && burst.data(i).len() != inner_len {
            return Err(PushError::Segmented);
        }
        let data = burst.prepend(i, self.len).ok_or(PushError::NoHeadroom)?;
        self.fill(data, lengths, flow_hash);
        Ok(())
    }

    /// The outer lengths for an inner frame of `inner_len` bytes: (UDP/GRE length, IP length).
    #[inline]
    fn lengths(&self, inner_len: usize) -> Result<(u16, u16), PushError> {
        // The UDP datagram or GRE packet; the IPv6 payload.
        let l4_len = (self.len - self.l4).checked_add(inner_len).ok_or(PushError::TooLong)?;
        let l4_len = u16::try_from(l4_len).map_err(|_| PushError::TooLong)?;
        let ip_len = if self.ipv4 {
            let ipv4_len = usize::from(l4_len) + (self.l4 - len::ETHERNET);
            u16::try_from(ipv4_len).map_err(|_| PushError::TooLong)?
        } else {
            l4_len
        };
        Ok((l4_len, ip_len))
    }

    /// Writes the header into the first `len` bytes of `data` (the packet after the prepend:
    /// header room, then the inner frame) with what depends on the packet.
    #[inline]
    fn fill(&self, data: &mut [u8], (l4_len, ip_len): (u16, u16), flow_hash: u32) {
        let inner_sum = if self.spec.csum { data.get(self.len..).map_or(0, ones_sum) } else { 0 };
        let Some(header) = data.get_mut(..self.len) else { return };
        // The common lengths copied as fixed-size blocks (moves, not a call).
        match (header.len(), self.bytes.first_chunk::<VXLAN_IPV6_LEN>()) {
            (VXLAN_IPV4_LEN, Some(bytes)) => header.copy_from_slice(&bytes[..VXLAN_IPV4_LEN]),
            (VXLAN_IPV6_LEN, Some(bytes)) => header.copy_from_slice(&bytes[..VXLAN_IPV6_LEN]),
            _ => header.copy_from_slice(self.bytes()),
        }
        let l3 = len::ETHERNET;
        if self.ipv4 {
            put16(header, l3 + 2, ip_len);
            // RFC 1624 eqn. 3 for the total length going from 0 (in the template) to ip_len.
            let ip_checksum = !fold(u64::from(!self.ip_checksum) + 0xffff + u64::from(ip_len));
            put16(header, l3 + 10, ip_checksum);
        } else {
            put16(header, l3 + 4, ip_len);
        }
        let l4 = self.l4;
        match self.spec.kind {
            TunnelKind::Vxlan | TunnelKind::Geneve => {
                let src_port = self.src_port(flow_hash);
                put16(header, l4, src_port);
                put16(header, l4 + 4, l4_len);
                if self.spec.csum {
                    // The UDP length is in the pseudo header and in the UDP header.
                    let sum = u64::from(self.l4_sum) + 2 * u64::from(l4_len) + u64::from(src_port) + inner_sum;
                    let udp_checksum = match !fold(sum) {
                        0 => 0xffff,
                        udp_checksum => udp_checksum,
                    };
                    put16(header, l4 + 6, udp_checksum);
                }
            }
            TunnelKind::Gre => {
                if self.spec.csum {
                    put16(header, l4 + GRE_BASE_LEN, !fold(u64::from(self.l4_sum) + inner_sum));
                }
            }
        }
    }
}

/// An outer header filled in for one inner length and flow hash (`OuterHeader::ready`),
/// right-aligned in a block that is copied whole (`PacketBurst::prepend_block`).
#[derive(Debug, Clone)]
pub struct ReadyHeader {
    block: [u8; MAX_PLAIN_LEN],
    len: usize,
    inner_len: usize,
    flow_hash: u32,
}

/// The block copied for the headers that fit one cache line (every IPv4 header without Geneve
/// options): the headroom's last line, which the copy then writes whole.
const CACHE_LINE_BLOCK: usize = 64;

impl ReadyHeader {
    /// Whether this is the header of an inner frame of `inner_len` bytes with `flow_hash`.
    #[inline]
    pub fn fits(&self, inner_len: usize, flow_hash: u32) -> bool {
        self.inner_len == inner_len && self.flow_hash == flow_hash
    }

    /// Prepends the header to packet `i` of `burst` (whose length `fits` it).
    #[inline(always)]
    pub fn push_in_burst<B: PacketBurst>(&self, burst: &mut B, i: usize) -> Result<(), PushError> {
        let pushed = match self.block.last_chunk::<CACHE_LINE_BLOCK>() {
            Some(line) if self.len <= CACHE_LINE_BLOCK => burst.prepend_block(i, line, self.len),
            _ => burst.prepend_block(i, &self.block, self.len),
        };
        if pushed {
            Ok(())
        } else {
            Err(PushError::NoHeadroom)
        }
    }
}

/// Writes `value` big endian at `at` of `data` (nothing if it does not fit).
fn put16(data: &mut [u8], at: usize, value: u16) {
    if let Some(field) = data.get_mut(at..).and_then(|rest| rest.first_chunk_mut::<2>()) {
        *field = value.to_be_bytes();
    }
}

/// The one's complement sum of `data`'s 16-bit big-endian words (an odd last byte padded with
/// zero), unfolded: summed 32 bits at a time, which is the same sum modulo 0xffff.
fn ones_sum(data: &[u8]) -> u64 {
    let mut words = data.chunks_exact(4);
    let mut sum: u64 =
        words.by_ref().map(|word| u64::from(u32::from_be_bytes(word.try_into().unwrap_or_default()))).sum();
    let rest = words.remainder();
    let mut tail = [0u8; 4];
    if let Some(to) = tail.get_mut(..rest.len()) {
        to.copy_from_slice(rest);
    }
    sum += u64::from(u32::from_be_bytes(tail));
    sum
}

/// Folds a one's complement sum to 16 bits (end-around carry).
fn fold(mut sum: u64) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    u16::try_from(sum).unwrap_or(0xffff)
}

/// Formats a MAC address as `02:00:00:00:00:01`.
struct Mac<'a>(&'a [u8; 6]);

impl fmt::Display for Mac<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}

/// One line as the datapath flow dump shows it, e.g.
/// `tnl_push(vxlan,eth(src=..,dst=..),ipv4(src=172.31.1.1,dst=172.31.1.2,tos=0x0,ttl=64,df),udp(dst=4789,csum=false),vni=100)`
/// (IPv6: `ipv6(src=..,dst=..,tclass=..,hlimit=..)`; GRE: `gre(key=..,csum=..)`, no `key=` without a
/// key; Geneve: `vni=`).
impl fmt::Display for OuterHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let spec = &self.spec;
        write!(f, "tnl_push({},eth(src={},dst={}),", spec.kind, Mac(&spec.eth_src), Mac(&spec.eth_dst))?;
        if self.ipv4 {
            write!(f, "ipv4(src={},dst={},tos={:#x},ttl={}", spec.ip_src, spec.ip_dst, spec.tos, spec.ttl)?;
            f.write_str(if spec.df { ",df)," } else { ")," })?;
        } else {
            write!(f, "ipv6(src={},dst={},tclass={:#x},hlimit={}),", spec.ip_src, spec.ip_dst, spec.tos, spec.ttl)?;
        }
        match spec.kind {
            TunnelKind::Vxlan | TunnelKind::Geneve => {
                write!(f, "udp(dst={},csum={}),vni={}", spec.dst_port, spec.csum, spec.key.unwrap_or(0))?;
                if spec.kind == TunnelKind::Vxlan && spec.gbp != (0, 0) {
                    write!(f, ",gbp(id={},flags={:#x})", spec.gbp.0, spec.gbp.1)?;
                }
                if spec.kind == TunnelKind::Geneve && spec.options.len > 0 {
                    write!(f, ",options({})", spec.options)?;
                }
                f.write_str(if spec.oam && spec.kind == TunnelKind::Geneve { ",oam)" } else { ")" })
            }
            TunnelKind::Gre => match spec.key {
                Some(key) => write!(f, "gre(key={key},csum={}))", spec.csum),
                None => write!(f, "gre(csum={}))", spec.csum),
            },
        }
    }
}

/// A hash of the inner frame's flow (Ethernet addresses, ethertype, IPv4/IPv6 addresses, IP protocol,
/// TCP/UDP/SCTP ports when present) - what spreads tunnel flows over the underlay via the UDP
/// source port. CRC-32C over a few words (the datapath caches' hash, `classifier::hash`) and a final
/// avalanche, so that the high bits `OuterHeader::src_port` uses depend on every word. VLAN tags
/// (up to two) count; IP fragments hash without ports, so that all fragments of a packet take the
/// same path; IPv6 extension headers are not walked (the first next-header value counts). Never
/// panics on any bytes: fields past the end of the frame hash as 0.
pub fn inner_flow_hash(frame: &[u8]) -> u32 {
    use crate::classifier::hash;

    let mut state = hash::start(0x7475_6e6c);
    state = hash::add(state, load::<8>(frame, 0));
    let mut at = len::ETHERNET - 2;
    let mut ether_type = be16(frame, at).unwrap_or(0);
    let mut tags = 0u64;
    for _ in 0..2 {
        if !ethertype::is_vlan(ether_type) {
            break;
        }
        tags = (tags << 16) | u64::from(be16(frame, at + 2).unwrap_or(0));
        at += len::VLAN_TAG;
        ether_type = be16(frame, at).unwrap_or(0);
    }
    let l3 = at + 2;
    state = hash::add(state, (load::<4>(frame, 8) << 32) | (tags << 16) | u64::from(ether_type));
    let l4 = match ether_type {
        ethertype::IPV4 => {
            state = hash::add(state, load::<8>(frame, l3 + 12));
            let proto = byte(frame, l3 + 9);
            let fragment = be16(frame, l3 + 6).unwrap_or(0) & (IPV4_MF | IPV4_OFFSET) != 0;
            let header_len = usize::from(byte(frame, l3) & 0x0f) * 4;
            (!fragment).then_some((proto, l3 + header_len))
        }
        ethertype::IPV6 => {
            for word in 0..4 {
                state = hash::add(state, load::<8>(frame, l3 + 8 + 8 * word));
            }
            Some((byte(frame, l3 + 6), l3 + len::IPV6))
        }
        _ => None,
    };
    if let Some((proto, l4)) = l4 {
        let ports = match proto {
            ip_proto::TCP | ip_proto::UDP | ip_proto::SCTP => load::<4>(frame, l4),
            _ => 0,
        };
        state = hash::add(state, (u64::from(proto) << 32) | ports);
    }
    avalanche(hash::finish(state))
}

/// Mixes every bit of `hash` into every other (the 32-bit finalizer of MurmurHash3).
fn avalanche(mut hash: u32) -> u32 {
    hash ^= hash >> 16;
    hash = hash.wrapping_mul(0x85eb_ca6b);
    hash ^= hash >> 13;
    hash = hash.wrapping_mul(0xc2b2_ae35);
    hash ^ (hash >> 16)
}

/// The `N` (at most 8) bytes of `data` at `at` as a big-endian number; 0 if they are not all there.
fn load<const N: usize>(data: &[u8], at: usize) -> u64 {
    array::<N>(data, at).map_or(0, |bytes| bytes.iter().fold(0, |word, &byte| (word << 8) | u64::from(byte)))
}

/// `N` bytes of `data` at `at`.
fn array<const N: usize>(data: &[u8], at: usize) -> Option<[u8; N]> {
    data.get(at..).and_then(|rest| rest.first_chunk::<N>()).copied()
}

/// The big-endian 16-bit word of `data` at `at`.
fn be16(data: &[u8], at: usize) -> Option<u16> {
    array::<2>(data, at).map(u16::from_be_bytes)
}

/// The byte of `data` at `at`; 0 past the end.
fn byte(data: &[u8], at: usize) -> u8 {
    data.get(at).copied().unwrap_or(0)
}

/// What a received tunnel packet's outer headers said: the tunnel fields of the inner packet's key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TunnelMetadata {
    /// The tunnel protocol.
    pub kind: TunnelKind,
    /// VNI or GRE key (0 when the GRE header has none).
    pub tun_id: u64,
    /// Outer IP source: the remote endpoint.
    pub src: IpAddr,
    /// Outer IP destination: the local endpoint (or multicast group).
    pub dst: IpAddr,
    /// Outer TOS / traffic class byte.
    pub tos: u8,
    /// Outer TTL / hop limit.
    pub ttl: u8,
    /// `TUN_FLAG_*` bits.
    pub flags: u16,
    /// Outer UDP source port (0 for GRE).
    pub tp_src: u16,
    /// Outer UDP destination port (0 for GRE).
    pub tp_dst: u16,
    /// The outer source MAC (the sender's next hop: refreshes the neighbour cache).
    pub eth_src: [u8; 6],
    /// VXLAN-GBP: the Group Policy ID and flags (D, A), 0 without the G flag.
    pub gbp_id: u16,
    pub gbp_flags: u8,
    /// Whether `options` holds the packet's mapped Geneve options (else it is stale).
    pub has_options: bool,
    /// The key's tun_metadata option area: the mapped Geneve options, where the TLV map puts
    /// them (zero where an option is missing).
    pub options: [u8; tun_metadata::AREA_BYTES],
}

impl TunnelMetadata {
    /// A slot's value before a packet's metadata is written into it.
    pub const EMPTY: TunnelMetadata = TunnelMetadata {
        kind: TunnelKind::Vxlan,
        tun_id: 0,
        src: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        dst: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        tos: 0,
        ttl: 0,
        flags: 0,
        tp_src: 0,
        tp_dst: 0,
        eth_src: [0; 6],
        gbp_id: 0,
        gbp_flags: 0,
        has_options: false,
        options: [0; tun_metadata::AREA_BYTES],
    };
}

impl TunnelMetadata {
    /// The flow key's `tun_flags`: Open vSwitch's public tunnel flags, only `oam` (bit 0).
    #[inline]
    pub fn tun_flags(&self) -> u16 {
        self.flags & TUN_FLAG_OAM
    }
}

/// `TunnelMetadata::flags`: the Geneve O (OAM) bit was set. The same bit as the flow key's
/// `tun_flags` oam.
pub const TUN_FLAG_OAM: u16 = 1;
/// `TunnelMetadata::flags`: a checksum was present (and verified).
pub const TUN_FLAG_CSUM: u16 = 2;
/// `TunnelMetadata::flags`: GRE key present / VNI valid.
pub const TUN_FLAG_KEY: u16 = 4;
/// `TunnelMetadata::flags`: the outer IPv4 DF bit was set.
pub const TUN_FLAG_DF: u16 = 8;

/// A received packet addressed to a tunnel endpoint, validated: the inner Ethernet frame starts at
/// `outer_len` and is `inner_len` bytes long (bytes after it, such as Ethernet padding of the
/// outer frame, are not part of it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decapsulation {
    /// Bytes of outer headers: what the caller trims from the front.
    pub outer_len: usize,
    /// The inner frame's length (at least an Ethernet header).
    pub inner_len: usize,
    /// The tunnel fields of the inner packet's flow key.
    pub meta: TunnelMetadata,
}

/// UDP destination ports the receiver decapsulates, per kind (several VXLAN ports may listen on different dst_port),
/// and the Geneve options it copies into keys (the TLV map's mappings).
/// Built on the management thread; a linear search per packet (a handful of ports).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UdpTunnelPorts {
    ports: Vec<(u16, TunnelKind)>,
    geneve_options: Vec<TlvMapping>,
}

impl UdpTunnelPorts {
    /// No ports: nothing is decapsulated but GRE.
    pub fn new() -> Self {
        Self::default()
    }

    /// Decapsulates `kind` arriving on UDP destination `port`; replaces the kind an earlier `add`
    /// gave the port. GRE, which has no port, is ignored.
    pub fn add(&mut self, port: u16, kind: TunnelKind) {
        if !kind.is_udp() {
            return;
        }
        match self.ports.iter_mut().find(|(known, _)| *known == port) {
            Some(entry) => entry.1 = kind,
            None => self.ports.push((port, kind)),
        }
    }

    /// The kind of tunnel UDP destination `port` carries.
    pub fn kind_of(&self, port: u16) -> Option<TunnelKind> {
        self.ports.iter().find(|(known, _)| *known == port).map(|&(_, kind)| kind)
    }

    /// Whether no port is listened on.
    pub fn is_empty(&self) -> bool {
        self.ports.is_empty()
    }

    /// Copies the Geneve options of `mappings` into the keys of received packets.
    pub fn map_geneve_options(&mut self, mappings: &[TlvMapping]) {
        self.geneve_options = mappings.to_vec();
    }
}

/// What `classify_outer` made of a received frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outer {
    /// Not for a local tunnel endpoint: the frame goes through the normal pipeline.
    NotTunnel,
    /// A valid tunnel packet; the caller trims `outer_len` bytes (and cuts it to `inner_len`).
    Tunnel(Decapsulation),
    /// For a local tunnel endpoint with a tunnel protocol/port, but invalid: dropped and counted.
    Bad(DecapError),
}

/// Why a packet for a local tunnel endpoint was dropped; each is its own drop counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DecapError {
    /// Shorter than its outer headers, or IP/UDP length fields beyond the frame.
    Truncated,
    /// IPv4 version/IHL (options are accepted and skipped), total length < header; IPv6 version,
    /// payload length 0 (a jumbogram).
    BadIpHeader,
    /// The IPv4 header checksum is wrong.
    BadIpChecksum,
    /// Outer IPv4 MF or offset != 0, or an IPv6 fragment header (RFC 7348 4.3: receivers may discard).
    Fragment,
    /// UDP length below 8 or beyond the IP payload, or an IP payload too short for a UDP header.
    BadUdpLength,
    /// UDP checksum present and wrong (0 is none, over IPv6 too, as Linux's udp6zerocsumrx and
    /// Open vSwitch take it), or GRE checksum wrong.
    BadChecksum,
    /// VXLAN without the I flag (reserved bits are ignored on receipt as RFC 7348 says), Geneve
    /// version != 0, GRE version != 0 or routing bit / strict source route.
    BadFlags,
    /// Geneve/GRE protocol type is not Transparent Ethernet Bridging 0x6558.
    UnknownPayload,
    /// Geneve C bit set: a critical option this switch does not understand (RFC 8926: must drop).
    CriticalOption,
    /// The inner frame is shorter than an Ethernet header.
    InnerTruncated,
}

impl DecapError {
    /// Every error, in counter order.
    pub const ALL: [DecapError; 10] = [
        DecapError::Truncated,
        DecapError::BadIpHeader,
        DecapError::BadIpChecksum,
        DecapError::Fragment,
        DecapError::BadUdpLength,
        DecapError::BadChecksum,
        DecapError::BadFlags,
        DecapError::UnknownPayload,
        DecapError::CriticalOption,
        DecapError::InnerTruncated,
    ];

    /// The name of the drop counter.
    pub fn counter_name(self) -> &'static str {
        match self {
            DecapError::Truncated => "tunnel_truncated",
            DecapError::BadIpHeader => "tunnel_bad_ip_header",
            DecapError::BadIpChecksum => "tunnel_bad_ip_checksum",
            DecapError::Fragment => "tunnel_fragment",
            DecapError::BadUdpLength => "tunnel_bad_udp_length",
            DecapError::BadChecksum => "tunnel_bad_checksum",
            DecapError::BadFlags => "tunnel_bad_flags",
            DecapError::UnknownPayload => "tunnel_unknown_payload",
            DecapError::CriticalOption => "tunnel_critical_option",
            DecapError::InnerTruncated => "tunnel_inner_truncated",
        }
    }
}

impl fmt::Display for DecapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DecapError::Truncated => "tunnel packet shorter than its outer headers or length fields",
            DecapError::BadIpHeader => "tunnel packet with an invalid outer IP header",
            DecapError::BadIpChecksum => "tunnel packet with a wrong outer IPv4 header checksum",
            DecapError::Fragment => "fragment of a tunnel packet (not reassembled)",
            DecapError::BadUdpLength => "tunnel packet with an invalid UDP length",
            DecapError::BadChecksum => "tunnel packet with a wrong UDP or GRE checksum",
            DecapError::BadFlags => "tunnel header with invalid flags or version",
            DecapError::UnknownPayload => "tunnel payload other than Ethernet",
            DecapError::CriticalOption => "Geneve packet with a critical option",
            DecapError::InnerTruncated => "inner frame shorter than an Ethernet header",
        })
    }
}

impl std::error::Error for DecapError {}

/// The transport of a packet for a local endpoint, as far as classification can tell.
#[derive(Clone, Copy)]
enum Transport {
    /// UDP to a tunnel port.
    Udp(TunnelKind),
    /// GRE.
    Gre,
    /// A fragment of UDP or GRE: its ports, if any, cannot be read.
    Fragment,
}

/// What the outer IP header said, validated, for the L4 part.
struct OuterIp {
    /// Where the UDP or GRE header starts.
    l4: usize,
    /// Where the IP packet ends (frame padding excluded).
    end: usize,
    /// The one's complement sum of the UDP pseudo header's addresses and protocol.
    pseudo_sum: u64,
}

/// Classifies a received frame. `is_local(dst)` says whether the outer destination address is one
/// of this switch's tunnel endpoints (unicast address, or a multicast group it joined).
/// - NotTunnel: not IPv4/IPv6 (untagged Ethernet only), or not addressed to a local endpoint, or not
///   UDP to a port in `ports` and not GRE (IP protocol 47): the frame goes through the normal pipeline.
/// - Tunnel: a valid tunnel packet; the caller trims `outer_len` bytes.
/// - Bad(reason): addressed to a local endpoint with a tunnel protocol/port, but invalid.
///
/// A frame too short to show the outer destination, protocol and (UDP) destination port is
/// NotTunnel; an IPv6 extension header other than a fragment header makes it NotTunnel too. The
/// UDP port of an IPv4 header with a bad IHL is read as if the header had no options, so that
/// such a packet counts as `BadIpHeader`.
pub fn classify_outer(frame: &[u8], ports: &UdpTunnelPorts, is_local: impl Fn(&IpAddr) -> bool) -> Outer {
    let mut meta = TunnelMetadata::EMPTY;
    match classify_outer_into(frame, ports, is_local, &mut meta) {
        Classified::NotTunnel => Outer::NotTunnel,
        Classified::Bad(error) => Outer::Bad(error),
        Classified::Tunnel { outer_len, inner_len } => Outer::Tunnel(Decapsulation { outer_len, inner_len, meta }),
    }
}

/// What `classify_outer_into` found (the metadata went where the caller keeps it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Classified {
    NotTunnel,
    /// A valid tunnel packet: the inner frame is `inner_len` bytes after `outer_len`.
    Tunnel {
        outer_len: usize,
        inner_len: usize,
    },
    Bad(DecapError),
}

/// `classify_outer`, writing a tunnel packet's metadata into `meta` (the datapath's per-packet
/// slot) instead of returning it: no copy of it on the way out. `meta` is unspecified unless
/// the result is `Tunnel`.
#[inline]
pub fn classify_outer_into(
    frame: &[u8],
    ports: &UdpTunnelPorts,
    is_local: impl Fn(&IpAddr) -> bool,
    meta: &mut TunnelMetadata,
) -> Classified {
    let eth_src = array::<6>(frame, 6).unwrap_or_default();
    let parsed = match be16(frame, len::ETHERNET - 2) {
        Some(ethertype::IPV4) => outer_ipv4(frame, ports, &is_local, eth_src, meta),
        Some(ethertype::IPV6) => outer_ipv6(frame, ports, &is_local, eth_src, meta),
        _ => return Classified::NotTunnel,
    };
    let found = match parsed {
        None => return Classified::NotTunnel,
        Some(Err(error)) => Err(error),
        Some(Ok((Transport::Fragment, _))) => Err(DecapError::Fragment),
        Some(Ok((Transport::Udp(kind), ip))) => decap_udp(frame, kind, ip, ports, meta),
        Some(Ok((Transport::Gre, ip))) => decap_gre(frame, ip, meta),
    };
    match found {
        Ok((outer_len, inner_len)) => Classified::Tunnel { outer_len, inner_len },
        Err(error) => Classified::Bad(error),
    }
}

/// Starts a packet's metadata from its outer IP header: addresses, TOS and TTL, flags; the L4
/// part fills in the rest. Field by field: the option area is left as it is (it is read only
/// with `has_options`), not rewritten per packet.
fn begin_metadata(
    meta: &mut TunnelMetadata,
    (src, dst): (IpAddr, IpAddr),
    (tos, ttl): (u8, u8),
    flags: u16,
    eth_src: [u8; 6],
) {
    meta.kind = TunnelKind::Gre; // set by the L4 part
    meta.tun_id = 0;
    meta.src = src;
    meta.dst = dst;
    meta.tos = tos;
    meta.ttl = ttl;
    meta.flags = flags;
    meta.tp_src = 0;
    meta.tp_dst = 0;
    meta.eth_src = eth_src;
    meta.gbp_id = 0;
    meta.gbp_flags = 0;
    meta.has_options = false;
}

/// The outer IPv4 header: None when the packet is not for a local tunnel endpoint.
fn outer_ipv4(
    frame: &[u8],
    ports: &UdpTunnelPorts,
    is_local: &impl Fn(&IpAddr) -> bool,
    eth_src: [u8; 6],
    meta: &mut TunnelMetadata,
) -> Option<Result<(Transport, OuterIp), DecapError>> {
    let l3 = len::ETHERNET;
    let header = array::<{ len::IPV4 }>(frame, l3)?;
    let [version_ihl, _, _, _, _, _, frag_hi, frag_lo, _, proto, _, _, _, _, _, _, d0, d1, d2, d3] = header;
    let is_fragment = u16::from_be_bytes([frag_hi, frag_lo]) & (IPV4_MF | IPV4_OFFSET) != 0;
    let transport = match proto {
        IP_PROTO_GRE | ip_proto::UDP if is_fragment => Transport::Fragment,
        IP_PROTO_GRE => Transport::Gre,
        ip_proto::UDP => {
            // With a bad IHL (validated below) the port is looked for after a header without options.
            let udp = l3 + (usize::from(version_ihl & 0x0f) * 4).max(len::IPV4);
            Transport::Udp(ports.kind_of(be16(frame, udp + 2)?)?)
        }
        _ => return None,
    };
    if !is_local(&IpAddr::V4(Ipv4Addr::new(d0, d1, d2, d3))) {
        return None;
    }
    Some(validate_ipv4(frame, header, eth_src, meta).map(|ip| (transport, ip)))
}

/// Validates the outer IPv4 `header` of `frame` (for a local endpoint, with a tunnel transport).
fn validate_ipv4(
    frame: &[u8],
    header: [u8; len::IPV4],
    eth_src: [u8; 6],
    meta: &mut TunnelMetadata,
) -> Result<OuterIp, DecapError> {
    let l3 = len::ETHERNET;
    let [version_ihl, tos, total_hi, total_lo, _, _, frag_hi, frag_lo, ttl, proto, _, _, s0, s1, s2, s3, d0, d1, d2, d3] =
        header;
    let header_len = usize::from(version_ihl & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([total_hi, total_lo]));
    if version_ihl >> 4 != 4 || header_len < len::IPV4 || total < header_len {
        return Err(DecapError::BadIpHeader);
    }
    let end = l3 + total;
    let header_bytes = frame.get(l3..l3 + header_len).ok_or(DecapError::Truncated)?;
    if end > frame.len() {
        return Err(DecapError::Truncated);
    }
    if fold(ones_sum(header_bytes)) != 0xffff {
        return Err(DecapError::BadIpChecksum);
    }
    let fragment = u16::from_be_bytes([frag_hi, frag_lo]);
    if fragment & (IPV4_MF | IPV4_OFFSET) != 0 {
        return Err(DecapError::Fragment);
    }
    let (src, dst) = (IpAddr::V4(Ipv4Addr::new(s0, s1, s2, s3)), IpAddr::V4(Ipv4Addr::new(d0, d1, d2, d3)));
    begin_metadata(meta, (src, dst), (tos, ttl), if fragment & IPV4_DF != 0 { TUN_FLAG_DF } else { 0 }, eth_src);
    let pseudo_sum = ones_sum(&[s0, s1, s2, s3, d0, d1, d2, d3]) + u64::from(proto);
    Ok(OuterIp { l4: l3 + header_len, end, pseudo_sum })
}

/// The outer IPv6 header: None when the packet is not for a local tunnel endpoint.
fn outer_ipv6(
    frame: &[u8],
    ports: &UdpTunnelPorts,
    is_local: &impl Fn(&IpAddr) -> bool,
    eth_src: [u8; 6],
    meta: &mut TunnelMetadata,
) -> Option<Result<(Transport, OuterIp), DecapError>> {
    let l3 = len::ETHERNET;
    let header = array::<{ len::IPV6 }>(frame, l3)?;
    let l4 = l3 + len::IPV6;
    let next_header = header.get(6).copied()?;
    let transport = match next_header {
        IP_PROTO_GRE => Transport::Gre,
        ip_proto::UDP => Transport::Udp(ports.kind_of(be16(frame, l4 + 2)?)?),
        ip_proto::FRAGMENT => match frame.get(l4).copied()? {
            IP_PROTO_GRE | ip_proto::UDP => Transport::Fragment,
            _ => return None,
        },
        _ => return None,
    };
    let dst = Ipv6Addr::from(array::<16>(&header, 24)?);
    if !is_local(&IpAddr::V6(dst)) {
        return None;
    }
    Some(validate_ipv6(frame, header, eth_src, meta).and_then(|ip| match transport {
        Transport::Fragment => Err(DecapError::Fragment),
        _ => Ok((transport, ip)),
    }))
}

/// Validates the outer IPv6 `header` of `frame` (for a local endpoint, with a tunnel transport).
fn validate_ipv6(
    frame: &[u8],
    header: [u8; len::IPV6],
    eth_src: [u8; 6],
    meta: &mut TunnelMetadata,
) -> Result<OuterIp, DecapError> {
    let l4 = len::ETHERNET + len::IPV6;
    let [first, second, _, _, payload_hi, payload_lo, next_header, hop_limit, ..] = header;
    let payload = usize::from(u16::from_be_bytes([payload_hi, payload_lo]));
    if first >> 4 != 6 || payload == 0 {
        return Err(DecapError::BadIpHeader);
    }
    let end = l4 + payload;
    if end > frame.len() {
        return Err(DecapError::Truncated);
    }
    let (src, dst) = (
        IpAddr::V6(Ipv6Addr::from(array::<16>(&header, 8).unwrap_or_default())),
        IpAddr::V6(Ipv6Addr::from(array::<16>(&header, 24).unwrap_or_default())),
    );
    begin_metadata(meta, (src, dst), ((first << 4) | (second >> 4), hop_limit), 0, eth_src);
    let pseudo_sum = header.get(8..).map_or(0, ones_sum) + u64::from(next_header);
    Ok(OuterIp { l4, end, pseudo_sum })
}

/// The inner frame after `outer_len` bytes of outer headers, up to `end`: (outer_len, inner_len).
fn decapsulation(outer_len: usize, end: usize) -> Result<(usize, usize), DecapError> {
    let inner_len = end.checked_sub(outer_len).ok_or(DecapError::Truncated)?;
    if inner_len < len::ETHERNET {
        return Err(DecapError::InnerTruncated);
    }
    Ok((outer_len, inner_len))
}

/// The UDP and VXLAN or Geneve headers after a validated outer IP header.
fn decap_udp(
    frame: &[u8],
    kind: TunnelKind,
    ip: OuterIp,
    ports: &UdpTunnelPorts,
    meta: &mut TunnelMetadata,
) -> Result<(usize, usize), DecapError> {
    let OuterIp { l4, end, pseudo_sum } = ip;
    if end - l4 < len::UDP {
        return Err(DecapError::BadUdpLength);
    }
    let [src_hi, src_lo, dst_hi, dst_lo, len_hi, len_lo, csum_hi, csum_lo] =
        array::<{ len::UDP }>(frame, l4).ok_or(DecapError::Truncated)?;
    let udp_len16 = u16::from_be_bytes([len_hi, len_lo]);
    let udp_len = usize::from(udp_len16);
    if udp_len < len::UDP || udp_len > end - l4 {
        return Err(DecapError::BadUdpLength);
    }
    let udp_end = l4 + udp_len;
    if u16::from_be_bytes([csum_hi, csum_lo]) != 0 {
        let datagram = frame.get(l4..udp_end).ok_or(DecapError::Truncated)?;
        // The UDP length of the pseudo header (the one in the UDP header is in the datagram).
        if fold(pseudo_sum + u64::from(udp_len16) + ones_sum(datagram)) != 0xffff {
            return Err(DecapError::BadChecksum);
        }
        meta.flags |= TUN_FLAG_CSUM;
    }
    meta.kind = kind;
    meta.tp_src = u16::from_be_bytes([src_hi, src_lo]);
    meta.tp_dst = u16::from_be_bytes([dst_hi, dst_lo]);
    let tunnel = l4 + len::UDP;
    // VXLAN and Geneve headers (without options) have the same length and the VNI in the same place.
    const _: () = assert!(VXLAN_LEN == GENEVE_LEN);
    let header_end = tunnel + VXLAN_LEN;
    if header_end > udp_end {
        return Err(DecapError::Truncated);
    }
    let [b0, b1, proto_hi, proto_lo, vni0, vni1, vni2, _] = array::<8>(frame, tunnel).ok_or(DecapError::Truncated)?;
    meta.tun_id = u64::from(u32::from_be_bytes([0, vni0, vni1, vni2]));
    meta.flags |= TUN_FLAG_KEY;
    let outer_len = match kind {
        TunnelKind::Vxlan => {
            if b0 & VXLAN_FLAG_I == 0 {
                return Err(DecapError::BadFlags);
            }
            // Kept only for a port with exts=gbp (the receiver decides).
            if b0 & VXLAN_FLAG_G != 0 {
                meta.gbp_id = u16::from_be_bytes([proto_hi, proto_lo]);
                meta.gbp_flags = b1 & VXLAN_GBP_FLAGS;
            }
            header_end
        }
        // `UdpTunnelPorts` holds no GRE port.
        TunnelKind::Geneve | TunnelKind::Gre => {
            if b0 & GENEVE_VERSION != 0 {
                return Err(DecapError::BadFlags);
            }
            let outer_len = header_end + usize::from(b0 & GENEVE_OPT_LEN) * 4;
            if outer_len > udp_end {
                return Err(DecapError::Truncated);
            }
            if u16::from_be_bytes([proto_hi, proto_lo]) != ETH_P_TEB {
                return Err(DecapError::UnknownPayload);
            }
            // Without a TLV map nothing is parsed: a critical option (the C bit) is not
            // understood.
            if !ports.geneve_options.is_empty() {
                let options = frame.get(header_end..outer_len).ok_or(DecapError::Truncated)?;
                geneve_options(options, &ports.geneve_options, meta)?;
            } else if b1 & GENEVE_CRITICAL != 0 {
                return Err(DecapError::CriticalOption);
            }
            if b1 & GENEVE_OAM != 0 {
                meta.flags |= TUN_FLAG_OAM;
            }
            outer_len
        }
    };
    decapsulation(outer_len, udp_end)
}

/// Copies the mapped options of a Geneve header's option bytes into `meta.options` (an option of
/// a mapped class and type but another length is not that mapping's). An option with the
/// critical bit (the type's high bit) that is not mapped drops the packet (RFC 8926 3.5: it
/// cannot be interpreted); a truncated option list is `Truncated`.
fn geneve_options(mut options: &[u8], map: &[TlvMapping], meta: &mut TunnelMetadata) -> Result<(), DecapError> {
    while let Some((&[class_hi, class_lo, kind, len_words], rest)) = options.split_first_chunk::<4>() {
        let len = usize::from(len_words & GENEVE_OPTION_LEN) * 4;
        let (data, rest) = rest.split_at_checked(len).ok_or(DecapError::Truncated)?;
        let class = u16::from_be_bytes([class_hi, class_lo]);
        match map.iter().find(|m| (m.class, m.kind, usize::from(m.len)) == (class, kind, len)) {
            Some(m) => {
                if !meta.has_options {
                    meta.options = [0; tun_metadata::AREA_BYTES];
                    meta.has_options = true;
                }
                let at = usize::from(m.offset);
                if let Some(place) = meta.options.get_mut(at..at + len) {
                    place.copy_from_slice(data);
                }
            }
            None if kind & GENEVE_OPTION_CRITICAL != 0 => return Err(DecapError::CriticalOption),
            None => {}
        }
        options = rest;
    }
    if options.is_empty() {
        Ok(())
    } else {
        Err(DecapError::Truncated)
    }
}

/// The GRE header after a validated outer IP header.
fn decap_gre(frame: &[u8], ip: OuterIp, meta: &mut TunnelMetadata) -> Result<(usize, usize), DecapError> {
    let OuterIp { l4, end, .. } = ip;
    if l4 + GRE_BASE_LEN > end {
        return Err(DecapError::Truncated);
    }
    let [flags_hi, flags_lo, proto_hi, proto_lo] = array::<4>(frame, l4).ok_or(DecapError::Truncated)?;
    let flags = u16::from_be_bytes([flags_hi, flags_lo]);
    if flags & (GRE_VERSION | GRE_ROUTING | GRE_STRICT_ROUTE) != 0 {
        return Err(DecapError::BadFlags);
    }
    let fields = [GRE_CSUM, GRE_KEY, GRE_SEQ].iter().filter(|&&bit| flags & bit != 0).count();
    let outer_len = l4 + GRE_BASE_LEN + GRE_FIELD_LEN * fields;
    if outer_len > end {
        return Err(DecapError::Truncated);
    }
    let mut field = l4 + GRE_BASE_LEN;
    if flags & GRE_CSUM != 0 {
        let packet = frame.get(l4..end).ok_or(DecapError::Truncated)?;
        if fold(ones_sum(packet)) != 0xffff {
            return Err(DecapError::BadChecksum);
        }
        meta.flags |= TUN_FLAG_CSUM;
        field += GRE_FIELD_LEN;
    }
    if u16::from_be_bytes([proto_hi, proto_lo]) != ETH_P_TEB {
        return Err(DecapError::UnknownPayload);
    }
    if flags & GRE_KEY != 0 {
        meta.tun_id = load::<4>(frame, field);
        meta.flags |= TUN_FLAG_KEY;
    }
    meta.kind = TunnelKind::Gre;
    decapsulation(outer_len, end)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::packet::tests::builder::{self, internet_checksum};
    use crate::packet::TestBuf;

    const ETH_SRC: [u8; 6] = [0x02, 0xaa, 0, 0, 0, 0x01];
    const ETH_DST: [u8; 6] = [0x02, 0xbb, 0, 0, 0, 0x02];

    /// scapy: `Ether(src='02:00:00:00:00:01', dst='02:00:00:00:00:02')/IP(src='10.0.0.1',
    /// dst='10.0.0.2', ttl=64, id=1)/UDP(sport=1234, dport=5678)/Raw(b'hello, tunnels!')` (odd length).
    const GOLDEN_INNER: &str = "02000000000202000000000108004500002b00010000401166bf0a0000010a00000204d2162e0017fb0368656c6c6f2c2074756e6e656c7321";

    fn from_hex(hex: &str) -> Vec<u8> {
        (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect()
    }

    fn to_hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn spec(kind: TunnelKind, src: &str, dst: &str) -> OuterSpec {
        OuterSpec {
            kind,
            eth_src: ETH_SRC,
            eth_dst: ETH_DST,
            ip_src: src.parse().unwrap(),
            ip_dst: dst.parse().unwrap(),
            key: Some(100),
            tos: 0,
            ttl: 64,
            df: true,
            csum: false,
            dst_port: kind.default_dst_port(),
            src_port_range: (32768, 61000),
            oam: false,
            options: GeneveOptions::default(),
            gbp: (0, 0),
        }
    }

    /// A spec of `kind` over IPv4 or IPv6 with the checksum on or off.
    pub(super) fn spec_of(kind: TunnelKind, ipv6: bool, csum: bool) -> OuterSpec {
        let mut spec = if ipv6 { spec(kind, "fd00::1", "fd00::2") } else { spec(kind, "172.31.1.1", "172.31.1.2") };
        spec.csum = csum;
        spec
    }

    fn ports() -> UdpTunnelPorts {
        let mut ports = UdpTunnelPorts::new();
        ports.add(4789, TunnelKind::Vxlan);
        ports.add(4790, TunnelKind::Vxlan);
        ports.add(6081, TunnelKind::Geneve);
        ports
    }

    fn classify(frame: &[u8]) -> Outer {
        classify_outer(frame, &ports(), |_| true)
    }

    fn pushed(spec: &OuterSpec, inner: &[u8], flow_hash: u32) -> Vec<u8> {
        let header = OuterHeader::build(spec).unwrap();
        let mut buf = TestBuf::from_bytes(inner);
        header.push(&mut buf, flow_hash).unwrap();
        buf.data().to_vec()
    }

    /// An untagged IPv4/UDP frame of exactly `len` (>= 42) bytes; `flow` picks the ports.
    pub(super) fn inner_frame(len: usize, flow: u16) -> Vec<u8> {
        let payload: Vec<u8> =
            (0..len - 42).map(|i| u8::try_from((i * 7 + usize::from(flow)) % 256).unwrap()).collect();
        let ip = builder::Ipv4::new(ip_proto::UDP).build(&builder::udp(1000 + flow, 2000, &payload));
        builder::ethernet(&[], ethertype::IPV4, &ip)
    }

    /// A valid tunnel frame of `kind` with a 100-byte inner frame.
    fn valid(kind: TunnelKind, ipv6: bool, csum: bool) -> Vec<u8> {
        pushed(&spec_of(kind, ipv6, csum), &inner_frame(100, 1), 0x1234_5678)
    }

    /// Where the L4 header, the IP protocol and the IP end of a (well-formed) outer frame are.
    fn outer_layout(frame: &[u8]) -> (usize, u8, usize) {
        if frame[12..14] == [0x08, 0x00] {
            let ihl = usize::from(frame[14] & 0x0f) * 4;
            (14 + ihl, frame[23], 14 + usize::from(u16::from_be_bytes([frame[16], frame[17]])))
        } else {
            (54, frame[20], 54 + usize::from(u16::from_be_bytes([frame[18], frame[19]])))
        }
    }

    /// The UDP pseudo header of the outer frame, for `udp_len`.
    fn pseudo_header(frame: &[u8], udp_len: usize) -> Vec<u8> {
        let mut pseudo = Vec::new();
        if frame[12..14] == [0x08, 0x00] {
            pseudo.extend_from_slice(&frame[26..34]);
            pseudo.extend_from_slice(&[0, ip_proto::UDP]);
            pseudo.extend_from_slice(&u16::try_from(udp_len).unwrap().to_be_bytes());
        } else {
            pseudo.extend_from_slice(&frame[22..54]);
            pseudo.extend_from_slice(&u32::try_from(udp_len).unwrap().to_be_bytes());
            pseudo.extend_from_slice(&[0, 0, 0, ip_proto::UDP]);
        }
        pseudo
    }

    /// Checks the outer checksums of a frame from scratch (`builder::internet_checksum`).
    fn assert_outer_checksums(frame: &[u8], what: &str) {
        let (l4, proto, end) = outer_layout(frame);
        if frame[12..14] == [0x08, 0x00] {
            assert_eq!(internet_checksum(&frame[14..l4]), 0, "{what}: IPv4 header checksum");
        }
        if proto == ip_proto::UDP && frame[l4 + 6..l4 + 8] != [0, 0] {
            let udp_len = usize::from(u16::from_be_bytes([frame[l4 + 4], frame[l4 + 5]]));
            let mut covered = pseudo_header(frame, udp_len);
            covered.extend_from_slice(&frame[l4..l4 + udp_len]);
            assert_eq!(internet_checksum(&covered), 0, "{what}: UDP checksum");
        }
        if proto == IP_PROTO_GRE && frame[l4] & 0x80 != 0 {
            assert_eq!(internet_checksum(&frame[l4..end]), 0, "{what}: GRE checksum");
        }
    }

    /// Recomputes the outer checksums after a mutation (a UDP checksum only where it is not 0).
    fn refresh_checksums(frame: &mut [u8]) {
        let (l4, proto, end) = outer_layout(frame);
        if frame[12..14] == [0x08, 0x00] {
            frame[24..26].fill(0);
            let checksum = internet_checksum(&frame[14..l4]);
            frame[24..26].copy_from_slice(&checksum.to_be_bytes());
        }
        if proto == ip_proto::UDP && frame[l4 + 6..l4 + 8] != [0, 0] {
            frame[l4 + 6..l4 + 8].fill(0);
            let udp_len = usize::from(u16::from_be_bytes([frame[l4 + 4], frame[l4 + 5]]));
            let mut covered = pseudo_header(frame, udp_len);
            covered.extend_from_slice(&frame[l4..(l4 + udp_len).min(frame.len())]);
            let checksum = match internet_checksum(&covered) {
                0 => 0xffff,
                checksum => checksum,
            };
            frame[l4 + 6..l4 + 8].copy_from_slice(&checksum.to_be_bytes());
        }
        if proto == IP_PROTO_GRE && frame[l4] & 0x80 != 0 {
            frame[l4 + 4..l4 + 6].fill(0);
            let checksum = internet_checksum(&frame[l4..end.min(frame.len())]);
            frame[l4 + 4..l4 + 6].copy_from_slice(&checksum.to_be_bytes());
        }
    }

    /// Adds `delta` to the 16-bit length field at `at`.
    fn grow_field(frame: &mut [u8], at: usize, delta: u16) {
        let value = u16::from_be_bytes([frame[at], frame[at + 1]]) + delta;
        frame[at..at + 2].copy_from_slice(&value.to_be_bytes());
    }

    #[test]
    fn pushed_headers_equal_scapy_golden_frames() {
        let inner = from_hex(GOLDEN_INNER);
        let mut vxlan6 = spec(TunnelKind::Vxlan, "fd00::1", "fd00::2");
        (vxlan6.key, vxlan6.tos, vxlan6.ttl, vxlan6.csum, vxlan6.dst_port) = (Some(0xab_cdef), 0xb8, 32, true, 4790);
        let mut geneve4 = spec(TunnelKind::Geneve, "192.0.2.1", "192.0.2.2");
        (geneve4.key, geneve4.tos, geneve4.ttl, geneve4.df, geneve4.csum) = (Some(7), 0x02, 255, false, true);
        geneve4.src_port_range = (1000, 1999);
        let mut gre4 = spec(TunnelKind::Gre, "198.51.100.1", "198.51.100.2");
        (gre4.key, gre4.tos, gre4.csum) = (Some(0x1234_5678), 0x10, true);
        let mut gre6 = spec(TunnelKind::Gre, "2001:db8::1", "2001:db8::2");
        gre6.key = None;
        // scapy 2.x, `E = Ether(src='02:aa:00:00:00:01', dst='02:bb:00:00:00:02')`, `inner` the
        // frame of GOLDEN_INNER, source ports `lo + ((hash * (hi - lo + 1)) >> 32)`:
        let cases = [
            // E/IP(src='172.31.1.1', dst='172.31.1.2', tos=0, ttl=64, flags='DF', id=0)
            //  /UDP(sport=46884, dport=4789, chksum=0)/VXLAN(flags=0x08, vni=100)/inner
            ("vxlan/ipv4", spec(TunnelKind::Vxlan, "172.31.1.1", "172.31.1.2"), 0x8000_0000, "02bb0000000202aa0000000108004500005d000040004011e04eac1f0101ac1f0102b72412b500490000080000000000640002000000000202000000000108004500002b00010000401166bf0a0000010a00000204d2162e0017fb0368656c6c6f2c2074756e6e656c7321"),
            // E/IPv6(src='fd00::1', dst='fd00::2', tc=0xb8, hlim=32, fl=0)
            //  /UDP(sport=46884, dport=4790)/VXLAN(flags=0x08, vni=0xabcdef)/inner
            ("vxlan/ipv6/csum", vxlan6, 0x8000_0000, "02bb0000000202aa0000000186dd6b80000000491120fd000000000000000000000000000001fd000000000000000000000000000002b72412b60049a0d608000000abcdef0002000000000202000000000108004500002b00010000401166bf0a0000010a00000204d2162e0017fb0368656c6c6f2c2074756e6e656c7321"),
            // E/IP(src='192.0.2.1', dst='192.0.2.2', tos=2, ttl=255, flags=0, id=0)
            //  /UDP(sport=1071, dport=6081)/GENEVE(vni=7, proto=0x6558)/inner
            ("geneve/ipv4/csum", geneve4, 0x1234_5678, "02bb0000000202aa0000000108004502005d00000000ff11378ac0000201c0000202042f17c10049fb37000065580000070002000000000202000000000108004500002b00010000401166bf0a0000010a00000204d2162e0017fb0368656c6c6f2c2074756e6e656c7321"),
            // E/IP(src='198.51.100.1', dst='198.51.100.2', tos=0x10, ttl=64, flags='DF', id=0)
            //  /GRE(chksum_present=1, key_present=1, key=0x12345678, proto=0x6558)/inner
            ("gre/ipv4/key/csum", gre4, 0, "02bb0000000202aa0000000108004510005900004000402fe5fbc6336401c6336402a00065589a2200001234567802000000000202000000000108004500002b00010000401166bf0a0000010a00000204d2162e0017fb0368656c6c6f2c2074756e6e656c7321"),
            // E/IPv6(src='2001:db8::1', dst='2001:db8::2', tc=0, hlim=64, fl=0)/GRE(proto=0x6558)/inner
            ("gre/ipv6", gre6, 0, "02bb0000000202aa0000000186dd60000000003d2f4020010db800000000000000000000000120010db80000000000000000000000020000655802000000000202000000000108004500002b00010000401166bf0a0000010a00000204d2162e0017fb0368656c6c6f2c2074756e6e656c7321"),
        ];
        for (what, spec, flow_hash, expected) in cases {
            let frame = pushed(&spec, &inner, flow_hash);
            assert_eq!(to_hex(&frame), expected, "{what}");
            assert_outer_checksums(&frame, what);
            assert!(OuterHeader::build(&spec).unwrap().len() <= MAX_OUTER_LEN);
        }
    }

    #[test]
    fn outer_header_lengths_and_display() {
        let lengths = [
            (TunnelKind::Vxlan, false, false, 50),
            (TunnelKind::Geneve, true, true, 70),
            (TunnelKind::Gre, false, false, 42),
            (TunnelKind::Gre, true, true, 66),
        ];
        for (kind, ipv6, csum, expected) in lengths {
            let header = OuterHeader::build(&spec_of(kind, ipv6, csum)).unwrap();
            assert_eq!((header.len(), header.bytes().len()), (expected, expected), "{kind} ipv6={ipv6} csum={csum}");
            assert!(!header.is_empty());
        }
        let vxlan = OuterHeader::build(&spec_of(TunnelKind::Vxlan, false, false)).unwrap();
        assert_eq!(vxlan.spec(), &spec_of(TunnelKind::Vxlan, false, false));
        assert_eq!(
            vxlan.to_string(),
            "tnl_push(vxlan,eth(src=02:aa:00:00:00:01,dst=02:bb:00:00:00:02),\
             ipv4(src=172.31.1.1,dst=172.31.1.2,tos=0x0,ttl=64,df),udp(dst=4789,csum=false),vni=100)"
        );
        let mut geneve = spec_of(TunnelKind::Geneve, true, true);
        (geneve.tos, geneve.ttl) = (0xb8, 3);
        assert_eq!(
            OuterHeader::build(&geneve).unwrap().to_string(),
            "tnl_push(geneve,eth(src=02:aa:00:00:00:01,dst=02:bb:00:00:00:02),\
             ipv6(src=fd00::1,dst=fd00::2,tclass=0xb8,hlimit=3),udp(dst=6081,csum=true),vni=100)"
        );
        let mut gre = spec_of(TunnelKind::Gre, false, true);
        gre.df = false;
        let shown = OuterHeader::build(&gre).unwrap().to_string();
        assert!(shown.ends_with(",tos=0x0,ttl=64),gre(key=100,csum=true))"), "{shown}");
        gre.key = None;
        let shown = OuterHeader::build(&gre).unwrap().to_string();
        assert!(shown.starts_with("tnl_push(gre,") && shown.ends_with("gre(csum=true))"), "{shown}");
    }

    #[test]
    fn mapped_geneve_options_go_out_and_come_back_into_the_option_area() {
        let mut spec = spec_of(TunnelKind::Geneve, false, true);
        assert!(spec.options.push(0xffff, 0x01, &[0, 0, 0x12, 0x34]));
        assert!(spec.options.push(0x0102, 0x03, &[1; 8]));
        assert!(spec.options.push(0x0102, 0x84, &[2; 4]), "a critical option");
        assert!(!spec.options.push(0x0102, 0x05, &[0; 6]), "not a multiple of 4");
        let header = OuterHeader::build(&spec).unwrap();
        assert_eq!(header.len(), VXLAN_IPV4_LEN + 28);
        let geneve = len::ETHERNET + 20 + len::UDP;
        assert_eq!(header.bytes()[geneve..geneve + 2], [7, GENEVE_CRITICAL], "28 bytes of options, one critical");
        assert!(header.to_string().contains("options({class=0xffff,type=0x1,len=4}0x00001234,"), "{header}");
        let frame = pushed(&spec, &inner_frame(64, 1), 9);
        let mapping = |class, kind, len, offset| TlvMapping { class, kind, len, index: 0, offset };
        let classify_with = |map: &[TlvMapping]| {
            let mut ports = ports();
            ports.map_geneve_options(map);
            classify_outer(&frame, &ports, |_| true)
        };
        // All three mapped (the 8-byte one at offset 4): the area holds them, the checksum held.
        let all = [mapping(0xffff, 1, 4, 0), mapping(0x0102, 3, 8, 4), mapping(0x0102, 0x84, 4, 12)];
        let Outer::Tunnel(decap) = classify_with(&all) else { panic!("{:?}", classify_with(&all)) };
        assert!(decap.meta.has_options);
        assert_eq!(&decap.meta.options[..16], &[0, 0, 0x12, 0x34, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2]);
        assert_eq!(decap.outer_len, header.len());
        // The critical one unmapped: dropped; the other ones unmapped: ignored.
        assert_eq!(classify_with(&all[..2]), Outer::Bad(DecapError::CriticalOption));
        let Outer::Tunnel(decap) = classify_with(&all[2..]) else { panic!() };
        assert_eq!(&decap.meta.options[..4], &[0; 4], "the 4-byte option is not at offset 0");
        assert_eq!(&decap.meta.options[12..16], &[2; 4]);
        // Another length than the mapping's is another option.
        let Outer::Tunnel(decap) = classify_with(&[mapping(0xffff, 1, 8, 0), all[2]]) else { panic!() };
        assert_eq!(&decap.meta.options[..8], &[0; 8]);
        // No map at all: options skipped unless the C bit is set (it is here: dropped).
        assert_eq!(classify_with(&[]), Outer::Bad(DecapError::CriticalOption));
    }

    #[test]
    fn vxlan_gbp_goes_out_with_the_g_flag_and_comes_back() {
        let mut spec = spec_of(TunnelKind::Vxlan, false, false);
        spec.gbp = (0x1234, 0x48);
        let header = OuterHeader::build(&spec).unwrap();
        let vxlan = len::ETHERNET + 20 + len::UDP;
        assert_eq!(header.bytes()[vxlan..vxlan + 4], [VXLAN_FLAG_I | VXLAN_FLAG_G, 0x48, 0x12, 0x34]);
        assert!(header.to_string().contains("vni=100,gbp(id=4660,flags=0x48))"), "{header}");
        let frame = pushed(&spec, &inner_frame(64, 1), 9);
        let Outer::Tunnel(decap) = classify(&frame) else { panic!() };
        assert_eq!((decap.meta.gbp_id, decap.meta.gbp_flags, decap.meta.tun_id), (0x1234, 0x48, 100));
        // Reserved bits of the second byte are not flags; without G nothing is read.
        let mut frame = frame;
        frame[vxlan + 1] = 0xff;
        let Outer::Tunnel(decap) = classify(&frame) else { panic!() };
        assert_eq!(decap.meta.gbp_flags, VXLAN_GBP_FLAGS);
        frame[vxlan] = VXLAN_FLAG_I;
        let Outer::Tunnel(decap) = classify(&frame) else { panic!() };
        assert_eq!((decap.meta.gbp_id, decap.meta.gbp_flags), (0, 0));
        // No GBP values: a plain VXLAN header.
        spec.gbp = (0, 0);
        let header = OuterHeader::build(&spec).unwrap();
        assert_eq!(header.bytes()[vxlan..vxlan + 4], [VXLAN_FLAG_I, 0, 0, 0]);
    }

    #[test]
    fn the_oam_flag_sets_the_geneve_o_bit_only() {
        for kind in [TunnelKind::Geneve, TunnelKind::Vxlan] {
            let mut spec = spec_of(kind, false, false);
            spec.oam = true;
            let header = OuterHeader::build(&spec).unwrap();
            // Byte 1 of the Geneve / VXLAN header, after Ethernet, IPv4 and UDP.
            let flags = header.bytes()[len::ETHERNET + 20 + len::UDP + 1];
            assert_eq!(flags, if kind == TunnelKind::Geneve { GENEVE_OAM } else { 0 }, "{kind}");
            assert_eq!(header.to_string().ends_with(",oam)"), kind == TunnelKind::Geneve, "{header}");
        }
    }

    #[test]
    fn build_refuses_bad_specs() {
        let mut mixed = spec_of(TunnelKind::Vxlan, false, false);
        mixed.ip_dst = "fd00::2".parse().unwrap();
        assert_eq!(OuterHeader::build(&mixed), Err(BuildError::MixedFamilies));
        let mut big = spec_of(TunnelKind::Geneve, false, false);
        big.key = Some(0x100_0000);
        assert_eq!(OuterHeader::build(&big), Err(BuildError::KeyTooLarge { key: 0x100_0000, max: 0xff_ffff }));
        big.key = Some(0xff_ffff);
        assert!(OuterHeader::build(&big).is_ok());
        let mut gre = spec_of(TunnelKind::Gre, true, false);
        gre.key = Some(u32::MAX);
        assert!(OuterHeader::build(&gre).is_ok());
        let mut empty = spec_of(TunnelKind::Vxlan, true, false);
        empty.src_port_range = (2000, 1999);
        assert_eq!(OuterHeader::build(&empty), Err(BuildError::EmptyPortRange));
        gre.src_port_range = (2000, 1999); // no UDP: the range does not matter
        assert!(OuterHeader::build(&gre).is_ok());
        for error in [BuildError::MixedFamilies, BuildError::KeyTooLarge { key: 1, max: 0 }, BuildError::EmptyPortRange]
        {
            assert!(!error.to_string().is_empty());
        }
        assert_eq!(
            TunnelKind::ALL.map(|kind| (kind.name(), kind.default_dst_port(), kind.max_key())),
            [("vxlan", 4789, 0xff_ffff), ("geneve", 6081, 0xff_ffff), ("gre", 0, 0xffff_ffff)]
        );
    }

    #[test]
    fn push_then_classify_gives_back_the_inner_frame_and_the_tunnel_fields() {
        let lengths = [60, 61, 64, 99, 128, 511, 1001, 1500];
        let mut flow_hash = 0x9e37_79b9u32;
        for kind in TunnelKind::ALL {
            for ipv6 in [false, true] {
                for csum in [false, true] {
                    for (i, &length) in lengths.iter().enumerate() {
                        let mut spec = spec_of(kind, ipv6, csum);
                        spec.tos = 0xb9;
                        spec.ttl = 17 + u8::try_from(i).unwrap();
                        spec.df = i % 2 == 0;
                        spec.key = match (kind, i % 3) {
                            (TunnelKind::Gre, 0) => None,
                            (TunnelKind::Gre, _) => Some(0xfedc_ba98 - u32::try_from(i).unwrap()),
                            _ => Some(0xff_fff0 + u32::try_from(i).unwrap()),
                        };
                        let what = format!("{kind} ipv6={ipv6} csum={csum} len={length} key={:?}", spec.key);
                        flow_hash = flow_hash.wrapping_mul(0x0101_0101).wrapping_add(0x8765_4321);
                        let inner = inner_frame(length, u16::try_from(i).unwrap());
                        let header = OuterHeader::build(&spec).unwrap();
                        let mut buf = TestBuf::from_bytes(&inner);
                        header.push(&mut buf, flow_hash).unwrap();
                        assert_eq!(buf.data().len(), header.len() + length, "{what}");
                        assert_outer_checksums(buf.data(), &what);

                        let local = spec.ip_dst;
                        let Outer::Tunnel(decap) = classify_outer(buf.data(), &ports(), |dst| *dst == local) else {
                            panic!("{what}: {:?}", classify(buf.data()));
                        };
                        let udp = kind != TunnelKind::Gre;
                        let mut flags = if spec.key.is_some() { TUN_FLAG_KEY } else { 0 };
                        if csum {
                            flags |= TUN_FLAG_CSUM;
                        }
                        if spec.df && !ipv6 {
                            flags |= TUN_FLAG_DF;
                        }
                        let expected = TunnelMetadata {
                            kind,
                            tun_id: u64::from(spec.key.unwrap_or(0)),
                            src: spec.ip_src,
                            dst: spec.ip_dst,
                            tos: 0xb9,
                            ttl: spec.ttl,
                            flags,
                            tp_src: if udp { header.src_port(flow_hash) } else { 0 },
                            tp_dst: if udp { spec.dst_port } else { 0 },
                            eth_src: ETH_SRC,
                            ..TunnelMetadata::EMPTY
                        };
                        assert_eq!(
                            decap,
                            Decapsulation { outer_len: header.len(), inner_len: length, meta: expected },
                            "{what}"
                        );
                        // Ethernet padding after the IP packet is not part of the inner frame.
                        let mut padded = buf.data().to_vec();
                        padded.extend_from_slice(&[0; 6]);
                        assert_eq!(classify_outer(&padded, &ports(), |dst| *dst == local), Outer::Tunnel(decap));

                        assert!(buf.trim_front(decap.outer_len));
                        assert_eq!(buf.data(), inner.as_slice(), "{what}");
                    }
                }
            }
        }
    }

    #[test]
    fn a_udp_checksum_of_zero_is_sent_as_ffff() {
        let spec = spec_of(TunnelKind::Vxlan, false, true);
        let mut inner = inner_frame(100, 3);
        let frame = pushed(&spec, &inner, 7);
        let checksum = u16::from_be_bytes([frame[40], frame[41]]);
        // Adding the checksum to a word of the payload makes the sum 0xffff, the checksum 0.
        let word = u16::from_be_bytes([inner[60], inner[61]]);
        let (sum, carry) = word.overflowing_add(checksum);
        inner[60..62].copy_from_slice(&(sum + u16::from(carry)).to_be_bytes());
        let frame = pushed(&spec, &inner, 7);
        assert_eq!(frame[40..42], [0xff, 0xff]);
        assert_outer_checksums(&frame, "0xffff");
        assert!(matches!(classify(&frame), Outer::Tunnel(d) if d.meta.flags & TUN_FLAG_CSUM != 0));
    }

    #[test]
    fn push_refuses_without_headroom_shared_or_too_long_and_leaves_the_packet() {
        let header = OuterHeader::build(&spec_of(TunnelKind::Geneve, true, true)).unwrap();
        let inner = inner_frame(80, 1);
        let mut tight = TestBuf::with_headroom(&inner, header.len() - 1);
        assert_eq!(header.push(&mut tight, 1), Err(PushError::NoHeadroom));
        assert_eq!((tight.data(), tight.headroom()), (inner.as_slice(), header.len() - 1));
        let mut exact = TestBuf::with_headroom(&inner, header.len());
        assert_eq!(header.push(&mut exact, 1), Ok(()));

        let mut shared = TestBuf::from_bytes(&inner);
        let other = shared.share();
        assert_eq!(header.push(&mut shared, 1), Err(PushError::Shared));
        assert_eq!((shared.data(), shared.headroom()), (inner.as_slice(), TestBuf::DEFAULT_HEADROOM));
        drop(other);

        for (kind, ipv6) in [(TunnelKind::Vxlan, false), (TunnelKind::Gre, true)] {
            let header = OuterHeader::build(&spec_of(kind, ipv6, false)).unwrap();
            // The largest inner frame that fits the IP length field, and one byte more.
            let room = 65535 - (header.len() - 14) + if ipv6 { 40 } else { 0 };
            let mut fits = TestBuf::from_bytes(&vec![0x11; room]);
            assert_eq!(header.push(&mut fits, 1), Ok(()), "{kind}");
            let long = vec![0x11; room + 1];
            let mut too_long = TestBuf::from_bytes(&long);
            assert_eq!(header.push(&mut too_long, 1), Err(PushError::TooLong), "{kind}");
            assert_eq!(too_long.data(), long.as_slice());
        }
        for error in [PushError::NoHeadroom, PushError::Shared, PushError::TooLong, PushError::Segmented] {
            assert!(!error.to_string().is_empty());
        }
    }

    /// xorshift64: deterministic pseudo-random numbers without a dependency.
    struct XorShift(u64);

    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn word(&mut self) -> u32 {
            u32::try_from(self.next() >> 32).unwrap()
        }

        fn byte(&mut self) -> u8 {
            let [byte, ..] = self.next().to_le_bytes();
            byte
        }

        fn below(&mut self, n: usize) -> usize {
            usize::try_from(self.next() % u64::try_from(n).unwrap()).unwrap()
        }
    }

    #[test]
    fn udp_source_port_stays_in_range_and_spreads() {
        let mut spec = spec_of(TunnelKind::Vxlan, false, false);
        let header = OuterHeader::build(&spec).unwrap();
        assert_eq!((header.src_port(0), header.src_port(u32::MAX)), (32768, 61000));
        let mut random = XorShift(0x1234_5678_9abc_def1);
        let mut seen = HashSet::new();
        for _ in 0..10_000 {
            let port = header.src_port(random.word());
            assert!((32768..=61000).contains(&port));
            seen.insert(port);
        }
        // 10,000 draws from 28,233 ports: about 8,240 distinct ones if uniform.
        assert!(seen.len() > 7_800, "{} distinct ports", seen.len());
        let frame = pushed(&spec, &inner_frame(64, 1), 0xdead_beef);
        assert_eq!(u16::from_be_bytes([frame[34], frame[35]]), header.src_port(0xdead_beef));

        spec.src_port_range = (5, 5);
        let single = OuterHeader::build(&spec).unwrap();
        assert!([0, 1, u32::MAX].iter().all(|&hash| single.src_port(hash) == 5));
        spec.src_port_range = (0, u16::MAX);
        let full = OuterHeader::build(&spec).unwrap();
        assert_eq!((full.src_port(0), full.src_port(u32::MAX), full.src_port(1 << 31)), (0, u16::MAX, 0x8000));
    }

    #[test]
    fn inner_flow_hash_separates_flows_and_ignores_payloads() {
        let mut hashes = HashSet::new();
        for i in 0..1000u16 {
            let mut ip = builder::Ipv4::new(if i % 2 == 0 { ip_proto::UDP } else { ip_proto::TCP });
            ip.src = [10, 0, (i % 7) as u8, (i % 251) as u8];
            let l4 = if i % 2 == 0 {
                builder::udp(1024 + i, 53, b"query")
            } else {
                builder::tcp(40000 + i / 3, 443, 0x10, 0, b"data")
            };
            hashes.insert(inner_flow_hash(&builder::ethernet(&[], ethertype::IPV4, &ip.build(&l4))));
        }
        assert!(hashes.len() >= 998, "{} distinct hashes of 1000 flows", hashes.len());

        // One flow: other payloads, lengths, IP IDs and TTLs hash alike.
        let mut one = builder::Ipv4::new(ip_proto::UDP);
        let first = builder::ethernet(&[], ethertype::IPV4, &one.build(&builder::udp(5000, 4000, b"a")));
        one.ttl = 3;
        let second = builder::ethernet(&[], ethertype::IPV4, &one.build(&builder::udp(5000, 4000, &[9; 700])));
        assert_eq!(inner_flow_hash(&first), inner_flow_hash(&second));
        assert_eq!(inner_flow_hash(&inner_frame(60, 1)), inner_flow_hash(&inner_frame(1500, 1)));
        assert_ne!(inner_flow_hash(&inner_frame(60, 1)), inner_flow_hash(&inner_frame(60, 2)));

        // IPv6 ports and addresses count; VLAN tags count.
        let v6 = |src_port: u16| {
            let ip = builder::Ipv6::new(ip_proto::UDP).build(&builder::udp(src_port, 53, b"x"));
            builder::ethernet(&[], ethertype::IPV6, &ip)
        };
        assert_ne!(inner_flow_hash(&v6(1)), inner_flow_hash(&v6(2)));
        let ip = builder::Ipv4::new(ip_proto::UDP).build(&builder::udp(1, 2, b"x"));
        let tagged = |vid: u16| builder::ethernet(&[(ethertype::VLAN, vid)], ethertype::IPV4, &ip);
        assert_ne!(inner_flow_hash(&tagged(10)), inner_flow_hash(&tagged(11)));

        // The fragments of one datagram hash alike (no ports in any of them).
        let mut fragment = builder::Ipv4::new(ip_proto::UDP);
        fragment.fragment = 0x2000;
        let head = builder::ethernet(&[], ethertype::IPV4, &fragment.build(&builder::udp(1, 2, &[0; 16])));
        fragment.fragment = 3;
        let tail = builder::ethernet(&[], ethertype::IPV4, &fragment.build(&[0x55; 16]));
        assert_eq!(inner_flow_hash(&head), inner_flow_hash(&tail));

        // Any prefix of a frame hashes without a panic.
        let frame = tagged(5);
        for end in 0..=frame.len() {
            inner_flow_hash(&frame[..end]);
        }
    }

    #[test]
    fn every_decap_error_comes_from_its_mutation() {
        use DecapError::*;
        use TunnelKind::{Geneve, Gre, Vxlan};
        // (what, kind, ipv6, csum, mutation, recompute the checksums after it, expected)
        type Mutation = fn(&mut Vec<u8>);
        let cases: [(&str, TunnelKind, bool, bool, Mutation, bool, DecapError); 32] = [
            ("cut inside the VXLAN header", Vxlan, false, false, |f| f.truncate(46), false, Truncated),
            ("IPv6 payload length past the frame", Geneve, true, false, |f| grow_field(f, 18, 1), false, Truncated),
            ("IPv4 total length past the frame", Gre, false, true, |f| grow_field(f, 16, 1), true, Truncated),
            (
                "IP length ends in the GRE key",
                Gre,
                false,
                true,
                |f| f[16..18].copy_from_slice(&26u16.to_be_bytes()),
                true,
                Truncated,
            ),
            ("Geneve options past the UDP end", Geneve, false, false, |f| f[42] = 0x3f, true, Truncated),
            (
                "UDP length ends in the VXLAN header",
                Vxlan,
                false,
                false,
                |f| f[38..40].copy_from_slice(&12u16.to_be_bytes()),
                true,
                Truncated,
            ),
            ("IHL 4", Vxlan, false, false, |f| f[14] = 0x44, false, BadIpHeader),
            ("IPv4 version 5", Gre, false, false, |f| f[14] = 0x55, true, BadIpHeader),
            (
                "total length below the header",
                Vxlan,
                false,
                false,
                |f| f[16..18].copy_from_slice(&19u16.to_be_bytes()),
                true,
                BadIpHeader,
            ),
            ("IPv6 version 4", Vxlan, true, true, |f| f[14] = 0x40, false, BadIpHeader),
            ("IPv6 payload length 0", Gre, true, false, |f| f[18..20].fill(0), false, BadIpHeader),
            ("TTL changed", Vxlan, false, false, |f| f[22] ^= 1, false, BadIpChecksum),
            ("IPv4 MF", Vxlan, false, false, |f| f[20] |= 0x20, true, Fragment),
            ("IPv4 offset", Gre, false, false, |f| f[21] = 1, true, Fragment),
            (
                "IPv4 first fragment to another port",
                Vxlan,
                false,
                false,
                |f| {
                    f[20] |= 0x20;
                    f[36] = 0
                },
                true,
                Fragment,
            ),
            (
                "IPv6 fragment header",
                Vxlan,
                true,
                false,
                |f| {
                    f[20] = ip_proto::FRAGMENT;
                    f.splice(54..54, [ip_proto::UDP, 0, 0, 1, 0, 0, 0, 1]);
                    grow_field(f, 18, 8);
                },
                false,
                Fragment,
            ),
            (
                "UDP length 7",
                Geneve,
                false,
                false,
                |f| f[38..40].copy_from_slice(&7u16.to_be_bytes()),
                true,
                BadUdpLength,
            ),
            ("UDP length past the IP payload", Vxlan, true, false, |f| grow_field(f, 58, 1), false, BadUdpLength),
            (
                "IP payload shorter than UDP",
                Vxlan,
                false,
                false,
                |f| f[16..18].copy_from_slice(&24u16.to_be_bytes()),
                true,
                BadUdpLength,
            ),
            ("UDP/IPv4 payload changed", Vxlan, false, true, |f| *f.last_mut().unwrap() ^= 0x40, false, BadChecksum),
            ("UDP/IPv6 payload changed", Geneve, true, true, |f| f[80] ^= 1, false, BadChecksum),
            ("GRE payload changed", Gre, true, true, |f| f[70] ^= 0x80, false, BadChecksum),
            ("VXLAN without I", Vxlan, false, false, |f| f[42] = 0, true, BadFlags),
            ("Geneve version 1", Geneve, true, false, |f| f[62] = 0x40, false, BadFlags),
            ("GRE version 1", Gre, false, false, |f| f[35] |= 1, true, BadFlags),
            ("GRE routing", Gre, false, true, |f| f[34] |= 0x40, true, BadFlags),
            ("GRE strict source route", Gre, true, false, |f| f[54] |= 0x08, false, BadFlags),
            (
                "Geneve carrying IPv4",
                Geneve,
                false,
                false,
                |f| f[44..46].copy_from_slice(&[0x08, 0]),
                true,
                UnknownPayload,
            ),
            ("GRE carrying IPv4", Gre, false, false, |f| f[36..38].copy_from_slice(&[0x08, 0]), true, UnknownPayload),
            ("Geneve critical", Geneve, false, true, |f| f[43] |= 0x40, true, CriticalOption),
            (
                "inner frame of 13 bytes",
                Vxlan,
                false,
                true,
                |f| {
                    f.truncate(50 + 13);
                    f[16..18].copy_from_slice(&(20u16 + 8 + 8 + 13).to_be_bytes());
                    f[38..40].copy_from_slice(&(8u16 + 8 + 13).to_be_bytes());
                },
                true,
                InnerTruncated,
            ),
            (
                "empty GRE inner frame",
                Gre,
                true,
                false,
                |f| {
                    f.truncate(62);
                    f[18..20].copy_from_slice(&8u16.to_be_bytes());
                },
                false,
                InnerTruncated,
            ),
        ];
        let mut seen = HashSet::new();
        for (what, kind, ipv6, csum, mutate, refresh, expected) in cases {
            let mut frame = valid(kind, ipv6, csum);
            assert!(matches!(classify(&frame), Outer::Tunnel(_)), "{what}: valid before the mutation");
            mutate(&mut frame);
            if refresh {
                refresh_checksums(&mut frame);
            }
            assert_eq!(classify(&frame), Outer::Bad(expected), "{what}");
            seen.insert(expected);
        }
        assert_eq!(seen, HashSet::from(DecapError::ALL), "every error has a case");
        let names: HashSet<_> = DecapError::ALL.iter().map(|error| error.counter_name()).collect();
        assert_eq!(names.len(), DecapError::ALL.len());
        assert!(names.iter().all(|name| name.starts_with("tunnel_")));
        assert!(DecapError::ALL.iter().all(|error| !error.to_string().is_empty()));
    }

    #[test]
    fn frames_not_for_a_tunnel_endpoint_go_to_the_pipeline() {
        let vxlan = valid(TunnelKind::Vxlan, false, false);
        let mut other_port = vxlan.clone();
        other_port[36..38].copy_from_slice(&4788u16.to_be_bytes());
        assert_eq!(classify(&other_port), Outer::NotTunnel, "another UDP port");
        assert_eq!(classify_outer(&vxlan, &UdpTunnelPorts::new(), |_| true), Outer::NotTunnel, "no ports");
        for kind in TunnelKind::ALL {
            for ipv6 in [false, true] {
                let frame = valid(kind, ipv6, true);
                assert_eq!(classify_outer(&frame, &ports(), |_| false), Outer::NotTunnel, "{kind}: not local");
                // A bad frame for another address is not counted either.
                let mut bad = frame.clone();
                bad.truncate(60);
                assert_eq!(classify_outer(&bad, &ports(), |_| false), Outer::NotTunnel, "{kind}: not local");
            }
        }
        let arp = builder::arp(1, ETH_SRC, [172, 31, 1, 1], [0; 6], [172, 31, 1, 2]);
        assert_eq!(classify(&builder::ethernet(&[], ethertype::ARP, &arp)), Outer::NotTunnel, "ARP");
        let mut tagged = vxlan.clone();
        tagged.splice(12..12, [0x81, 0x00, 0x00, 0x05]);
        assert_eq!(classify(&tagged), Outer::NotTunnel, "VLAN tagged");
        let tcp = builder::Ipv4::new(ip_proto::TCP).build(&builder::tcp(1, 4789, 0x02, 0, b""));
        assert_eq!(classify(&builder::ethernet(&[], ethertype::IPV4, &tcp)), Outer::NotTunnel, "TCP");

        // IPv6 extension headers (but a fragment header) before UDP: not a tunnel packet.
        let udp = builder::udp(1, 4789, &vxlan[42..]);
        let mut ip = builder::Ipv6::new(ip_proto::UDP);
        ip.extensions = vec![builder::options_header(ip_proto::HOP_BY_HOP, 0)];
        assert_eq!(classify(&builder::ethernet(&[], ethertype::IPV6, &ip.build(&udp))), Outer::NotTunnel, "hop-by-hop");
        ip.extensions = vec![builder::options_header(ip_proto::DESTINATION_OPTIONS, 1)];
        assert_eq!(classify(&builder::ethernet(&[], ethertype::IPV6, &ip.build(&udp))), Outer::NotTunnel, "dst opts");
        // A fragment of something else than UDP or GRE.
        let mut fragmented_tcp = builder::Ipv6::new(ip_proto::TCP);
        fragmented_tcp.extensions = vec![builder::fragment_header(0, true)];
        let frame = builder::ethernet(&[], ethertype::IPV6, &fragmented_tcp.build(&[0; 40]));
        assert_eq!(classify(&frame), Outer::NotTunnel, "TCP fragment");

        // Too short to tell.
        for end in [0, 13, 14, 33, 35, 37] {
            assert_eq!(classify(&vxlan[..end]), Outer::NotTunnel, "first {end} bytes");
        }
        let vxlan6 = valid(TunnelKind::Vxlan, true, false);
        for end in [53, 57] {
            assert_eq!(classify(&vxlan6[..end]), Outer::NotTunnel, "first {end} bytes of IPv6");
        }
        // GRE needs no port: a truncated GRE packet for a local endpoint counts.
        let gre = valid(TunnelKind::Gre, false, false);
        assert_eq!(classify_outer(&gre[..34], &UdpTunnelPorts::new(), |_| true), Outer::Bad(DecapError::Truncated));
    }

    #[test]
    fn receive_accepts_what_the_rfcs_allow() {
        // VXLAN reserved bits are ignored (with the G bit among them, bytes 1-3 are read as GBP:
        // used only by a port with exts=gbp).
        let mut vxlan = valid(TunnelKind::Vxlan, false, false);
        let Outer::Tunnel(plain) = classify(&vxlan) else { panic!() };
        for at in [42, 43, 44, 45, 49] {
            vxlan[at] |= 0xf7;
        }
        let gbp = TunnelMetadata { gbp_id: 0xf7f7, gbp_flags: 0x40, ..plain.meta };
        assert_eq!(classify(&vxlan), Outer::Tunnel(Decapsulation { meta: gbp, ..plain }));

        // IPv4 options are skipped.
        let mut options = valid(TunnelKind::Vxlan, false, true);
        options.splice(34..34, [1, 1, 1, 0]);
        options[14] = 0x46;
        grow_field(&mut options, 16, 4);
        refresh_checksums(&mut options);
        let Outer::Tunnel(decap) = classify(&options) else { panic!("{:?}", classify(&options)) };
        assert_eq!((decap.outer_len, decap.inner_len), (54, 100));

        // Geneve options are skipped; the O bit is reported.
        let mut geneve = valid(TunnelKind::Geneve, true, true);
        geneve.splice(70..70, [0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08]);
        geneve[62] = 2;
        geneve[63] = 0x80;
        grow_field(&mut geneve, 18, 8);
        grow_field(&mut geneve, 58, 8);
        refresh_checksums(&mut geneve);
        let Outer::Tunnel(decap) = classify(&geneve) else { panic!("{:?}", classify(&geneve)) };
        assert_eq!((decap.outer_len, decap.inner_len), (78, 100));
        assert_eq!(decap.meta.flags, TUN_FLAG_OAM | TUN_FLAG_CSUM | TUN_FLAG_KEY);
        assert_eq!(geneve[78..], inner_frame(100, 1));

        // A GRE sequence number is skipped.
        let mut gre = valid(TunnelKind::Gre, false, true);
        gre.splice(46..46, [0, 0, 0, 9]);
        gre[34] |= 0x10;
        grow_field(&mut gre, 16, 4);
        refresh_checksums(&mut gre);
        let Outer::Tunnel(decap) = classify(&gre) else { panic!("{:?}", classify(&gre)) };
        assert_eq!(
            (decap.outer_len, decap.meta.tun_id, decap.meta.flags),
            (50, 100, TUN_FLAG_KEY | TUN_FLAG_CSUM | TUN_FLAG_DF)
        );

        // A UDP checksum of 0 over IPv6 is taken as none.
        let Outer::Tunnel(decap) = classify(&valid(TunnelKind::Vxlan, true, false)) else { panic!() };
        assert_eq!(decap.meta.flags & TUN_FLAG_CSUM, 0);

        // GRE is decapsulated with no UDP ports configured.
        let gre = valid(TunnelKind::Gre, true, false);
        assert!(matches!(classify_outer(&gre, &UdpTunnelPorts::new(), |_| true), Outer::Tunnel(_)));
    }

    #[test]
    fn udp_tunnel_ports() {
        let mut ports = UdpTunnelPorts::new();
        assert!(ports.is_empty());
        ports.add(4789, TunnelKind::Vxlan);
        ports.add(8472, TunnelKind::Vxlan);
        ports.add(6081, TunnelKind::Geneve);
        ports.add(0, TunnelKind::Gre);
        assert_eq!(
            [4789, 8472, 6081, 0, 1].map(|port| ports.kind_of(port)),
            [Some(TunnelKind::Vxlan), Some(TunnelKind::Vxlan), Some(TunnelKind::Geneve), None, None]
        );
        ports.add(8472, TunnelKind::Geneve);
        assert_eq!(ports.kind_of(8472), Some(TunnelKind::Geneve));
        assert!(!ports.is_empty());
    }

    /// Checks what a classification promises about the frame.
    fn check_invariants(frame: &[u8], outer: Outer) {
        if let Outer::Tunnel(decap) = outer {
            assert!(decap.outer_len + decap.inner_len <= frame.len(), "{decap:?} of {}", frame.len());
            assert!(decap.inner_len >= len::ETHERNET);
            assert!(decap.outer_len >= len::ETHERNET + len::IPV4 + GRE_BASE_LEN);
        }
    }

    #[test]
    fn random_and_mutated_frames_never_panic() {
        let mut random = XorShift(0x0dd_ba11_cafe_f00d);
        let valid_frames: Vec<Vec<u8>> = TunnelKind::ALL
            .iter()
            .flat_map(|&kind| [(kind, false, false), (kind, true, true), (kind, false, true)])
            .map(|(kind, ipv6, csum)| valid(kind, ipv6, csum))
            .collect();
        let mut tunnels = 0;
        for i in 0..10_000 {
            let frame = if i % 2 == 0 {
                // Random bytes, mostly with an IP ethertype and a plausible start of a header.
                let mut frame: Vec<u8> = (0..random.below(160)).map(|_| random.byte()).collect();
                if frame.len() > 40 && random.below(4) != 0 {
                    let ipv6 = random.below(2) == 0;
                    frame[12..14].copy_from_slice(if ipv6 { &[0x86, 0xdd] } else { &[0x08, 0x00] });
                    frame[14] = if ipv6 { 0x60 } else { 0x45 };
                    frame[if ipv6 { 20 } else { 23 }] =
                        [ip_proto::UDP, IP_PROTO_GRE, ip_proto::FRAGMENT][random.below(3)];
                }
                frame
            } else {
                // A valid frame with a few bytes changed, maybe cut or padded.
                let mut frame = valid_frames[random.below(valid_frames.len())].clone();
                for _ in 0..=random.below(3) {
                    let at = random.below(frame.len());
                    frame[at] ^= 1 << random.below(8);
                }
                match random.below(4) {
                    0 => frame.truncate(random.below(frame.len() + 1)),
                    1 => frame.extend((0..random.below(8)).map(|_| random.byte())),
                    _ => {}
                }
                frame
            };
            let outer = classify(&frame);
            check_invariants(&frame, outer);
            tunnels += usize::from(matches!(outer, Outer::Tunnel(_)));
            inner_flow_hash(&frame);
        }
        // Some mutations (in the inner frame, or in fields nothing checks) leave a valid packet.
        assert!(tunnels > 100, "{tunnels} tunnel packets");
    }
}

#[cfg(test)]
mod ready_tests {
    use super::tests::{inner_frame, spec_of};
    use super::*;
    use crate::packet::{TestBuf, TestBurst};

    #[test]
    fn a_ready_header_pushes_what_push_does() {
        for kind in TunnelKind::ALL {
            for ipv6 in [false, true] {
                let header = OuterHeader::build(&spec_of(kind, ipv6, false)).unwrap();
                for (len, hash) in [(60, 1), (60, 0x8000_0000), (1000, 7)] {
                    let frame = inner_frame(len, 3);
                    let mut expected = TestBuf::from_bytes(&frame);
                    header.push(&mut expected, hash).unwrap();
                    let ready = header.ready(len, hash).unwrap();
                    assert!(ready.fits(len, hash) && !ready.fits(len + 1, hash) && !ready.fits(len, hash + 1));
                    let mut burst = TestBurst::of(&[&frame]);
                    ready.push_in_burst(&mut burst, 0).unwrap();
                    assert_eq!(burst.data(0), expected.data(), "{kind:?} ipv6={ipv6} len={len}");
                }
            }
        }
        let with_checksum = OuterHeader::build(&spec_of(TunnelKind::Vxlan, true, true)).unwrap();
        assert!(with_checksum.ready(60, 1).is_none(), "a checksum depends on the payload");
    }
}
