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

use crate::packet::checksum;
use crate::packet::proto::{ethertype, ip_proto, len};
use crate::packet::PacketBuf;

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

/// Longest outer header: Ethernet 14 + IPv6 40 + UDP 8 + Geneve 8 (no options) = 70; GRE over IPv6 with csum and key = 14+40+4+4+4 = 66.
pub const MAX_OUTER_LEN: usize = 72;

/// The outer header of one tunnel output, built once per cached flow: bytes ready to copy, with the
/// offsets of what is written per packet. Stores a fixed array, no heap (but the spec's copy).
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
                header.put(&[VXLAN_FLAG_I, 0, 0, 0]);
                header.put(&vni.to_be_bytes());
            }
            TunnelKind::Geneve => {
                header.put(&[0, 0]);
                header.put16(spec.dst_port);
                header.put(&[0, 0, 0, 0]);
                header.put(&[0, 0]); // version 0, no options, O and C clear
                header.put16(ETH_P_TEB);
                header.put(&vni.to_be_bytes());
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
        // The UDP datagram or GRE packet; the IPv6 payload.
        let l4_len = (self.len - self.l4).checked_add(inner_len).ok_or(PushError::TooLong)?;
        let l4_len = u16::try_from(l4_len).map_err(|_| PushError::TooLong)?;
        let ip_len = if self.ipv4 {
            let ipv4_len = usize::from(l4_len) + (self.l4 - len::ETHERNET);
            u16::try_from(ipv4_len).map_err(|_| PushError::TooLong)?
        } else {
            l4_len
        };
        if packet.data_mut().is_none() {
            return Err(PushError::Shared);
        }
        let inner_sum = if self.spec.csum {
            let inner = packet.data();
            if inner.len() != inner_len {
                return Err(PushError::Segmented);
            }
            ones_sum(inner)
        } else {
            0
        };
        if !packet.prepend(self.len) {
            return Err(PushError::NoHeadroom);
        }
        // `prepend` succeeded, so the buffer is not shared and has the header's bytes.
        let Some(header) = packet.data_mut().and_then(|data| data.get_mut(..self.len)) else {
            return Err(PushError::Shared);
        };
        header.copy_from_slice(self.bytes());
        let l3 = len::ETHERNET;
        if self.ipv4 {
            put16(header, l3 + 2, ip_len);
            let ip_checksum = checksum::update(self.ip_checksum, &[0, 0], &ip_len.to_be_bytes());
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
        Ok(())
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
                write!(f, "udp(dst={},csum={}),vni={})", spec.dst_port, spec.csum, spec.key.unwrap_or(0))
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
}

/// `TunnelMetadata::flags`: the Geneve O (OAM) bit was set.
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

/// UDP destination ports the receiver decapsulates, per kind (several VXLAN ports may listen on different dst_port).
/// Built on the management thread; a linear search per packet (a handful of ports).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UdpTunnelPorts {
    ports: Vec<(u16, TunnelKind)>,
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
    meta: TunnelMetadata,
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
    let eth_src = array::<6>(frame, 6).unwrap_or_default();
    let parsed = match be16(frame, len::ETHERNET - 2) {
        Some(ethertype::IPV4) => outer_ipv4(frame, ports, &is_local, eth_src),
        Some(ethertype::IPV6) => outer_ipv6(frame, ports, &is_local, eth_src),
        _ => return Outer::NotTunnel,
    };
    match parsed {
        None => Outer::NotTunnel,
        Some(Err(error)) => Outer::Bad(error),
        Some(Ok((Transport::Fragment, _))) => Outer::Bad(DecapError::Fragment),
        Some(Ok((Transport::Udp(kind), ip))) => match decap_udp(frame, kind, ip) {
            Ok(decap) => Outer::Tunnel(decap),
            Err(error) => Outer::Bad(error),
        },
        Some(Ok((Transport::Gre, ip))) => match decap_gre(frame, ip) {
            Ok(decap) => Outer::Tunnel(decap),
            Err(error) => Outer::Bad(error),
        },
    }
}

/// The outer IPv4 header: None when the packet is not for a local tunnel endpoint.
fn outer_ipv4(
    frame: &[u8],
    ports: &UdpTunnelPorts,
    is_local: &impl Fn(&IpAddr) -> bool,
    eth_src: [u8; 6],
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
    Some(validate_ipv4(frame, header, eth_src).map(|ip| (transport, ip)))
}

/// Validates the outer IPv4 `header` of `frame` (for a local endpoint, with a tunnel transport).
fn validate_ipv4(frame: &[u8], header: [u8; len::IPV4], eth_src: [u8; 6]) -> Result<OuterIp, DecapError> {
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
    let meta = TunnelMetadata {
        kind: TunnelKind::Gre, // set by the L4 part
        tun_id: 0,
        src: IpAddr::V4(Ipv4Addr::new(s0, s1, s2, s3)),
        dst: IpAddr::V4(Ipv4Addr::new(d0, d1, d2, d3)),
        tos,
        ttl,
        flags: if fragment & IPV4_DF != 0 { TUN_FLAG_DF } else { 0 },
        tp_src: 0,
        tp_dst: 0,
        eth_src,
    };
    let pseudo_sum = ones_sum(&[s0, s1, s2, s3, d0, d1, d2, d3]) + u64::from(proto);
    Ok(OuterIp { l4: l3 + header_len, end, pseudo_sum, meta })
}

/// The outer IPv6 header: None when the packet is not for a local tunnel endpoint.
fn outer_ipv6(
    frame: &[u8],
    ports: &UdpTunnelPorts,
    is_local: &impl Fn(&IpAddr) -> bool,
    eth_src: [u8; 6],
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
    Some(validate_ipv6(frame, header, eth_src).and_then(|ip| match transport {
        Transport::Fragment => Err(DecapError::Fragment),
        _ => Ok((transport, ip)),
    }))
}

/// Validates the outer IPv6 `header` of `frame` (for a local endpoint, with a tunnel transport).
fn validate_ipv6(frame: &[u8], header: [u8; len::IPV6], eth_src: [u8; 6]) -> Result<OuterIp, DecapError> {
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
    let meta = TunnelMetadata {
        kind: TunnelKind::Gre, // set by the L4 part
        tun_id: 0,
        src: IpAddr::V6(Ipv6Addr::from(array::<16>(&header, 8).unwrap_or_default())),
        dst: IpAddr::V6(Ipv6Addr::from(array::<16>(&header, 24).unwrap_or_default())),
        tos: (first << 4) | (second >> 4),
        ttl: hop_limit,
        flags: 0,
        tp_src: 0,
        tp_dst: 0,
        eth_src,
    };
    let pseudo_sum = header.get(8..).map_or(0, ones_sum) + u64::from(next_header);
    Ok(OuterIp { l4, end, pseudo_sum, meta })
}

/// The inner frame after `outer_len` bytes of outer headers, up to `end`.
fn decapsulation(outer_len: usize, end: usize, meta: TunnelMetadata) -> Result<Decapsulation, DecapError> {
    let inner_len = end.checked_sub(outer_len).ok_or(DecapError::Truncated)?;
    if inner_len < len::ETHERNET {
        return Err(DecapError::InnerTruncated);
    }
    Ok(Decapsulation { outer_len, inner_len, meta })
}

/// The UDP and VXLAN or Geneve headers after a validated outer IP header.
fn decap_udp(frame: &[u8], kind: TunnelKind, ip: OuterIp) -> Result<Decapsulation, DecapError> {
    let OuterIp { l4, end, pseudo_sum, mut meta } = ip;
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
            if b1 & GENEVE_CRITICAL != 0 {
                return Err(DecapError::CriticalOption);
            }
            if b1 & GENEVE_OAM != 0 {
                meta.flags |= TUN_FLAG_OAM;
            }
            outer_len
        }
    };
    decapsulation(outer_len, udp_end, meta)
}

/// The GRE header after a validated outer IP header.
fn decap_gre(frame: &[u8], ip: OuterIp) -> Result<Decapsulation, DecapError> {
    let OuterIp { l4, end, mut meta, .. } = ip;
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
    decapsulation(outer_len, end, meta)
}
