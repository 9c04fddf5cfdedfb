//! Flow-key extraction: `extract` reads a packet's headers once, zero copy and bounds checked,
//! into a `FlowKey` and returns the `Layers` (header offsets) that rewrites use afterwards.
//!
//! Conventions, after Open vSwitch's `miniflow_extract`:
//! - Frames shorter than an Ethernet header yield only `in_port`.
//! - Up to two VLAN tags (TPID 0x8100 or 0x88a8, in any order): the outer TCI goes to `vlan_tci`,
//!   the inner to `vlan_tci2`, both with the "present" bit 0x1000 set. A tag is parsed only if the
//!   ethertype after it is in the frame too; otherwise its TPID is the `dl_type` and parsing stops.
//!   After two tags the next ethertype is the `dl_type`, even a third TPID.
//! - An 802.3 length field is followed by LLC/SNAP with an ethertype, or `dl_type` is 0x05ff.
//! - IPv4 is taken only if the header length is at least 20 and the total length covers the
//!   header and fits in the frame; bytes after the total length (Ethernet padding) are ignored.
//!   The version nibble is not checked. `nw_tos` is the whole TOS byte (DSCP and ECN).
//! - IPv6 is taken only if its payload length fits in the frame and the extension headers
//!   (hop-by-hop, routing, destination options, AH, fragment) are complete; `nw_proto` is the
//!   upper-layer protocol, or 44 (fragment) for a non-first fragment. `nw_tos` is the traffic
//!   class. `ipv6_exthdr` has the OpenFlow 1.3 flags of the headers walked (an ESP or a "no next
//!   header" ends the walk, as does a non-first fragment's fragment header), of repeats and of
//!   headers out of RFC 2460's recommended order.
//! - `nw_frag`: bit 0 a fragment, bit 1 a non-first fragment; L4 is parsed for first fragments.
//! - L4: TCP (ports, 12-bit flags; data offset at least 5 and the header in the IP payload), UDP,
//!   SCTP (ports), ICMP in IPv4 and ICMPv6 in IPv6 (type and code in the low bytes of `tp_src` and
//!   `tp_dst`, which are `icmp_type` and `icmp_code`). ICMPv6 neighbour solicitation and
//!   advertisement (code 0): `nd_target` and the first source/target link-layer address options
//!   of 8 bytes (`nd_sll`, `nd_tll`), in whichever message they appear; an option of length 0 or
//!   running past the message ends the option walk, keeping what was found; a repeated source or
//!   target option makes the message invalid: `nd_target`, `nd_sll` and `nd_tll` are then 0.
//! - ARP and RARP, Ethernet/IPv4 only (hardware type 1, protocol 0x0800, lengths 6 and 4):
//!   `arp_op` (0 if the opcode does not fit in a byte), `arp_spa`, `arp_tpa`, `arp_sha`,
//!   `arp_tha`.
//! - A layer that is truncated or malformed leaves all its fields 0 and ends the parse; the fields
//!   of the layers before it stay.

use std::num::NonZeroU16;

use crate::flow::key::{mpls, words, FlowKey, KEY_BYTES};
use crate::packet::proto::{ethertype, ip_proto, ipv6_exthdr, len, nd, nw_frag, tcp, vlan};

/// Where the headers of a packet start, as found by `extract`; valid for the packet as it was
/// parsed (the VLAN rewrites keep it up to date, see `crate::packet::rewrite`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Layers {
    /// The `FlowKey` words (bit i = word i, see `crate::flow::key::words`) that `extract` cleared
    /// and may have written; the other words are untouched.
    pub present: u32,
    /// Offset of the outermost VLAN tag (its TPID), if `extract` parsed a tag.
    pub l2_5: Option<NonZeroU16>,
    /// Offset of the L3 header, if `extract` parsed one: IPv4, IPv6 (with all its extension
    /// headers) or Ethernet/IPv4 ARP, as `dl_type` tells.
    pub l3: Option<NonZeroU16>,
    /// Offset of the L4 header, if `extract` parsed one completely: TCP, UDP, SCTP, ICMP (IPv4) or
    /// ICMPv6 (IPv6), as `l4_proto` tells. Never set for non-first fragments.
    pub l4: Option<NonZeroU16>,
    /// The ethertype after the VLAN tags (the key's `dl_type`), host order; 0 for a runt frame.
    pub dl_type: u16,
    /// IP protocol number of the header at `l4`; 0 when `l4` is `None`.
    pub l4_proto: u8,
}

/// The offset of a header found at byte `offset` of a frame (`None` for 0, which no header but
/// Ethernet's has, and for offsets past 65535). With offsets in this form `Layers` is 16 bytes
/// instead of 20: the PMD copies one from slot to slot for every repeated packet.
#[inline(always)]
pub fn header_at(offset: usize) -> Option<NonZeroU16> {
    u16::try_from(offset).ok().and_then(NonZeroU16::new)
}

/// Whether `data` parses to the same key and layers as `previous`, whose layers are
/// `layers` (so a packet of a train of one flow can take the previous packet's classification).
/// True when both frames have the same length and the same bytes in every place `extract` read
/// for `previous`: the L2 header and tags, the IPv4 header but for its identification and checksum
/// (and options, which are skipped), or the whole IPv6 header chain, the L4 ports (ICMP type and
/// code) and the TCP data offset and flags. Sequence numbers, checksums, IP IDs and payloads may
/// differ. Only frames with a parsed TCP, UDP, SCTP, ICMP or non-ND ICMPv6 header qualify (the
/// parse of others, e.g. ND with its option walk, reads more).
#[inline]
pub fn same_headers(previous: &[u8], layers: &Layers, data: &[u8]) -> bool {
    RepeatCheck::of(layers).repeats(previous, layers, data)
}

/// How frames are compared with one whose layers are known, for `same_headers`: decided once
/// per parsed frame, so that each repeat of a train pays only for the compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RepeatCheck {
    /// Nothing repeats the frame (no L4 header parsed, or one whose parse reads more).
    Never,
    /// The common frame (untagged, IPv4 without options): one masked compare of 48 bytes.
    PlainIpv4 { tcp: bool },
    /// Any other frame that qualifies: compared header by header.
    Headers { tcp: bool },
}

impl RepeatCheck {
    /// The check for frames following one with `layers`.
    #[inline]
    pub fn of(layers: &Layers) -> RepeatCheck {
        let (Some(l3), Some(l4)) = (layers.l3, layers.l4) else { return RepeatCheck::Never };
        let tcp = match layers.l4_proto {
            ip_proto::TCP => true,
            ip_proto::UDP | ip_proto::SCTP | ip_proto::ICMP => false,
            ip_proto::ICMPV6 if layers.present & words::ND_TARGET == 0 => false,
            _ => return RepeatCheck::Never,
        };
        let (l3, l4) = (usize::from(l3.get()), usize::from(l4.get()));
        if layers.dl_type == ethertype::IPV4 && l3 == len::ETHERNET && l4 == len::ETHERNET + len::IPV4 {
            RepeatCheck::PlainIpv4 { tcp }
        } else {
            RepeatCheck::Headers { tcp }
        }
    }

    /// Whether `data` repeats `previous` (whose layers are `layers`, of which this is the check).
    #[inline(always)]
    pub fn repeats(self, previous: &[u8], layers: &Layers, data: &[u8]) -> bool {
        if self == RepeatCheck::Never || previous.len() != data.len() {
            return false;
        }
        match self {
            RepeatCheck::Never => false,
            RepeatCheck::PlainIpv4 { tcp } => match (previous.first_chunk::<48>(), data.first_chunk::<48>()) {
                (Some(a), Some(b)) => same_masked(a, b, if tcp { &PLAIN_IPV4_TCP } else { &PLAIN_IPV4 }),
                // A frame of 42 to 47 bytes (no padding to the Ethernet minimum).
                _ => same_layered(previous, layers, data, tcp),
            },
            RepeatCheck::Headers { tcp } => same_layered(previous, layers, data, tcp),
        }
    }
}

/// `same_headers` for frames other than the plain IPv4 one, whose L3 and L4 offsets `layers` has.
#[inline(never)]
fn same_layered(previous: &[u8], layers: &Layers, data: &[u8], tcp: bool) -> bool {
    let (Some(l3), Some(l4)) = (layers.l3, layers.l4) else { return false };
    let (l3, l4) = (usize::from(l3.get()), usize::from(l4.get()));
    let same_l3 = if layers.dl_type == ethertype::IPV4 {
        // Version/IHL, TOS, total length; flags/fragment offset, TTL, protocol; addresses.
        same_span(previous, data, 0..l3 + 4)
            && same_chunk::<4>(previous, data, l3 + 6)
            && same_chunk::<8>(previous, data, l3 + 12)
    } else {
        same_span(previous, data, 0..l4)
    };
    same_l3 && same_chunk::<4>(previous, data, l4) && (!tcp || same_chunk::<2>(previous, data, l4 + 12))
}

/// The bytes `extract` reads in an untagged IPv4 frame without options (L3 at 14, L4 at 34): the
/// Ethernet header, IPv4 bytes 0-3, 6-9 and 12-19 (not the ID or the checksum), the L4 ports;
/// for TCP also its data offset and flags (L4 bytes 12-13). As 8-byte little-endian masks.
const PLAIN_IPV4: [u64; 6] = compare_mask(&[0..18, 20..24, 26..38]);
const PLAIN_IPV4_TCP: [u64; 6] = compare_mask(&[0..18, 20..24, 26..38, 46..48]);

/// Masks with all-ones bytes in `ranges` of the first 48 bytes.
const fn compare_mask(ranges: &[std::ops::Range<usize>]) -> [u64; 6] {
    let mut mask = [0u64; 6];
    let mut r = 0;
    while r < ranges.len() {
        let mut byte = ranges[r].start;
        while byte < ranges[r].end {
            mask[byte / 8] |= 0xff << (8 * (byte % 8));
            byte += 1;
        }
        r += 1;
    }
    mask
}

/// `a` and `b` agree on the bytes `mask` selects.
#[inline(always)]
fn same_masked(a: &[u8; 48], b: &[u8; 48], mask: &[u64; 6]) -> bool {
    let word = |bytes: &[u8; 48], i: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&bytes[8 * i..8 * i + 8]);
        u64::from_le_bytes(w)
    };
    (0..6).fold(0, |diff, i| diff | ((word(a, i) ^ word(b, i)) & mask[i])) == 0
}

/// The `N` bytes at `at` are in both frames and equal.
#[inline(always)]
fn same_chunk<const N: usize>(a: &[u8], b: &[u8], at: usize) -> bool {
    let chunk = |bytes: &[u8]| bytes.get(at..).and_then(|rest| rest.first_chunk::<N>()).copied();
    matches!((chunk(a), chunk(b)), (Some(x), Some(y)) if x == y)
}

/// Bytes `span` (at least 16 long) are in both frames and equal; compared 16 at a time, the last
/// chunk overlapping the one before it.
#[inline(always)]
fn same_span(a: &[u8], b: &[u8], span: std::ops::Range<usize>) -> bool {
    const CHUNK: usize = 16;
    let Some(last) = span.end.checked_sub(CHUNK).filter(|&last| last >= span.start) else {
        return false;
    };
    let mut at = span.start;
    loop {
        let start = at.min(last);
        if !same_chunk::<CHUNK>(a, b, start) {
            return false;
        }
        if start == last {
            return true;
        }
        at += CHUNK;
    }
}

/// Byte offsets of the fields in `FlowKey::bytes` (checked against the field registry by a test).
/// The hot path needs them as constants; `Field::def` is a search.
pub(super) mod at {
    pub const IN_PORT: usize = 0;
    pub const DL_TYPE: usize = 4;
    pub const VLAN_TCI: usize = 6;
    pub const DL_DST: usize = 8;
    pub const NW_PROTO: usize = 14;
    pub const NW_FRAG: usize = 15;
    pub const DL_SRC: usize = 16;
    pub const NW_TOS: usize = 22;
    pub const NW_TTL: usize = 23;
    pub const NW_SRC: usize = 24;
    pub const NW_DST: usize = 28;
    pub const TP_SRC: usize = 32;
    pub const TP_DST: usize = 34;
    pub const TCP_FLAGS: usize = 36;
    pub const VLAN_TCI2: usize = 38;
    pub const IPV6_SRC: usize = 96;
    pub const IPV6_DST: usize = 112;
    pub const IPV6_LABEL: usize = 128;
    pub const IPV6_EXTHDR: usize = 132;
    pub const ND_TARGET: usize = 136;
    pub const ARP_SHA: usize = 152;
    pub const ARP_THA: usize = 160;
}

/// The key's bytes, written at constant offsets.
type KeyBytes = [u8; KEY_BYTES];

/// Parses `data`, a whole Ethernet frame received on `in_port`, into `key`: clears the words of
/// `key` that the returned `Layers::present` names and writes the fields found. Never panics, never
/// allocates; the other words of `key` (metadata, registers, tunnel) are left as they were.
pub fn extract(data: &[u8], in_port: u32, key: &mut FlowKey) -> Layers {
    let mut layers = Layers::default();
    extract_into(data, in_port, key, &mut layers);
    layers
}

/// `extract`, with the `Layers` written to `layers`: what the PMD's burst loop calls, so that the
/// layers go straight to their place in the burst (a `Layers` returned from two paths is merged
/// in a stack temporary, written field by field and copied out whole: the copy stalled on store
/// forwarding, measured at most of the parse time).
///
/// The common frame (untagged IPv4 without options, not a fragment, with a complete UDP, TCP or
/// ICMP header) takes `plain_ipv4`, which gives exactly what the general parse gives (a test
/// compares the two on mutated frames) with a few whole-word loads and stores. Always inlined: in
/// the PMD's burst loop the call itself costs ~3 % of exact-1k (measured), and with callers
/// outside the datapath (packet-out, trace) the compiler stops inlining it.
#[inline(always)]
pub fn extract_into(data: &[u8], in_port: u32, key: &mut FlowKey, layers: &mut Layers) {
    if !plain_ipv4(data, in_port, key, layers) {
        extract_general(data, in_port, key, layers);
    }
}

/// Ethernet and IPv4 headers of the frames `plain_ipv4` takes, and the longest L4 header it reads.
const PLAIN_L4: usize = len::ETHERNET + len::IPV4;
const PLAIN_HEAD: usize = PLAIN_L4 + len::TCP;

/// The 8 bytes of `head` at `at`, little-endian (0 past the end; `at` is a constant, so this is
/// one load).
#[inline(always)]
fn load_le(head: &[u8; PLAIN_HEAD], at: usize) -> u64 {
    head.get(at..).and_then(|rest| rest.first_chunk::<8>()).map_or(0, |w| u64::from_le_bytes(*w))
}

/// `extract` of an untagged IPv4 frame without options that is not a fragment and has a complete
/// UDP, TCP or ICMP header in its IP payload (and at least `PLAIN_HEAD` bytes); false for any
/// other frame, with `key` and `layers` untouched. Builds key words 0-4 in registers from whole-word loads of
/// the frame and stores each once (the general parse writes fields byte by byte, and the hash
/// that reads the words back whole waits for those narrow stores).
#[inline(always)]
pub(super) fn plain_ipv4(data: &[u8], in_port: u32, key: &mut FlowKey, layers: &mut Layers) -> bool {
    const LOW_48: u64 = (1 << 48) - 1;
    #[expect(clippy::cast_possible_truncation, reason = "5")]
    const IHL: u8 = (len::IPV4 / 4) as u8;
    let Some(head) = data.first_chunk::<PLAIN_HEAD>() else { return false };
    let ip_len = usize::from(u16::from_be_bytes([head[16], head[17]]));
    let fragment = u16::from_be_bytes([head[20], head[21]]);
    if u16::from_be_bytes([head[12], head[13]]) != ethertype::IPV4
        || head[14] & 0x0f != IHL
        || fragment & 0x3fff != 0
        || ip_len < len::IPV4
        || ip_len > data.len() - len::ETHERNET
    {
        return false;
    }
    let segment = ip_len - len::IPV4;
    let proto = head[23];
    // Key bytes 32-39: tp_src, tp_dst, tcp_flags, vlan_tci2 (0: no tags).
    let ports = load_le(head, PLAIN_L4) & 0xffff_ffff;
    let transport = match proto {
        ip_proto::UDP if segment >= len::UDP => ports,
        ip_proto::TCP if segment >= len::TCP => {
            let data_offset = usize::from(head[PLAIN_L4 + 12] >> 4) * 4;
            if data_offset < len::TCP || data_offset > segment {
                return false;
            }
            let flags = u16::from_be_bytes([head[PLAIN_L4 + 12], head[PLAIN_L4 + 13]]) & tcp::FLAGS_MASK;
            ports | u64::from(u16::from_le_bytes(flags.to_be_bytes())) << 32
        }
        // icmp_type and icmp_code in the low bytes of tp_src and tp_dst.
        ip_proto::ICMP if segment >= len::ICMP => u64::from(head[PLAIN_L4]) << 8 | u64::from(head[PLAIN_L4 + 1]) << 24,
        _ => return false,
    };
    // Byte order of the key: in_port and dl_type big-endian, vlan_tci 0.
    let [p0, p1, p2, p3] = in_port.to_be_bytes();
    let [t0, t1] = ethertype::IPV4.to_be_bytes();
    let port_l2_type = u64::from_le_bytes([p0, p1, p2, p3, t0, t1, 0, 0]);
    // dl_dst, nw_proto, nw_frag (0).
    let dl_dst_proto = load_le(head, 0) & LOW_48 | u64::from(proto) << 48;
    // dl_src, nw_tos, nw_ttl.
    let dl_src_tos = load_le(head, 6) & LOW_48 | u64::from(head[15]) << 48 | u64::from(head[22]) << 56;
    // nw_src, nw_dst as they are in the header.
    let nw_addrs = load_le(head, len::ETHERNET + 12);
    key.bytes[at::IN_PORT..at::IN_PORT + 8].copy_from_slice(&port_l2_type.to_le_bytes());
    key.bytes[at::DL_DST..at::DL_DST + 8].copy_from_slice(&dl_dst_proto.to_le_bytes());
    key.bytes[at::DL_SRC..at::DL_SRC + 8].copy_from_slice(&dl_src_tos.to_le_bytes());
    key.bytes[at::NW_SRC..at::NW_SRC + 8].copy_from_slice(&nw_addrs.to_le_bytes());
    key.bytes[at::TP_SRC..at::TP_SRC + 8].copy_from_slice(&transport.to_le_bytes());
    *layers = Layers {
        present: words::IPV4_L4,
        l2_5: None,
        l3: header_at(len::ETHERNET),
        l4: header_at(PLAIN_L4),
        dl_type: ethertype::IPV4,
        l4_proto: proto,
    };
    true
}

/// `extract_into` of any frame.
pub(super) fn extract_general(data: &[u8], in_port: u32, key: &mut FlowKey, layers: &mut Layers) {
    let key = &mut key.bytes;
    let port = in_port.to_be_bytes();
    let Some(eth) = data.first_chunk::<{ len::ETHERNET }>() else {
        key[at::IN_PORT..at::IN_PORT + 4].copy_from_slice(&port);
        key[at::DL_TYPE..at::VLAN_TCI + 2].fill(0);
        *layers = Layers { present: words::PORT_L2_TYPE, ..Layers::default() };
        return;
    };
    *layers = Layers { present: words::L2, ..Layers::default() };

    let mut dl_type = u16::from_be_bytes([eth[12], eth[13]]);
    let mut l3 = len::ETHERNET;
    let mut tci = 0;
    if ethertype::is_vlan(dl_type) {
        (tci, dl_type, l3) = vlan_tags(data, dl_type, key, layers);
    }
    if dl_type < ethertype::MIN {
        (dl_type, l3) = llc_snap(data, l3);
    }
    key[at::IN_PORT..at::IN_PORT + 4].copy_from_slice(&port);
    key[at::DL_TYPE..at::DL_TYPE + 2].copy_from_slice(&dl_type.to_be_bytes());
    key[at::VLAN_TCI..at::VLAN_TCI + 2].copy_from_slice(&tci.to_be_bytes());
    // The L3 bytes of words 1 and 2 (nw_proto, nw_frag, nw_tos, nw_ttl) are cleared here.
    key[at::DL_DST..at::DL_DST + 8].copy_from_slice(&[eth[0], eth[1], eth[2], eth[3], eth[4], eth[5], 0, 0]);
    key[at::DL_SRC..at::DL_SRC + 8].copy_from_slice(&[eth[6], eth[7], eth[8], eth[9], eth[10], eth[11], 0, 0]);
    layers.dl_type = dl_type;

    // IPv4 first: the common case gets the first branch.
    if dl_type == ethertype::IPV4 {
        ipv4(data, l3, key, layers);
    } else if dl_type == ethertype::IPV6 {
        ipv6(data, l3, key, layers);
    } else if (dl_type == ethertype::ARP || dl_type == ethertype::RARP) && arp(data, l3, key, at::ARP_SHA) {
        layers.present |= words::NW_ADDRS | words::ARP_HA;
        // l3 is at most 30 (two tags and LLC/SNAP).
        layers.l3 = header_at(l3);
    } else if ethertype::is_mpls(dl_type) {
        label_stack(data, l3, key, layers);
    }
}

/// Parses the MPLS label stack at `l3` and, after a bottom entry among the first
/// `mpls::DEPTH`, the IP header it carries (see the module's conventions).
#[inline(never)]
fn label_stack(data: &[u8], l3: usize, key: &mut KeyBytes, layers: &mut Layers) {
    let mut entries = [0u32; mpls::DEPTH];
    let mut count = 0;
    let mut payload = None;
    // The entries past the third tell the key nothing: the walk stops there.
    while let (Some(slot), Some(entry)) =
        (entries.get_mut(count), data.get(l3 + 4 * count..).and_then(|rest| rest.first_chunk::<4>()))
    {
        *slot = u32::from_be_bytes(*entry);
        count += 1;
        if *slot & mpls::BOS_BIT != 0 {
            payload = Some(l3 + 4 * count);
            break;
        }
    }
    if count == 0 {
        return;
    }
    let mut inner = mpls::inner::NONE;
    if let Some(payload) = payload {
        let version = data.get(payload).map_or(0, |first| first >> 4);
        if version == 4 {
            ipv4(data, payload, key, layers);
            inner = mpls::inner::IPV4;
        } else if version == 6 {
            ipv6(data, payload, key, layers);
            // Neighbour discovery writes the stack's words: not a header the key can carry.
            inner = if layers.present & words::ND_TARGET == 0 { mpls::inner::IPV6 } else { mpls::inner::NONE };
        } else if arp(data, payload, key, mpls::inner::ARP_HA_AT) {
            layers.present |= words::NW_ADDRS | ARP_HA_UNDER_STACK;
            inner = mpls::inner::ARP;
        }
    }
    let [top, second, third] = entries;
    let [l0, l1, l2, l3_byte] = (top >> mpls::LABEL_SHIFT).to_be_bytes();
    let (tc, bos, ttl) = (((top >> mpls::TC_SHIFT) & 7) as u8, u8::from(top & mpls::BOS_BIT != 0), (top & 0xff) as u8);
    key[mpls::TOP..mpls::TOP + 8].copy_from_slice(&[l0, l1, l2, l3_byte, tc, bos, ttl, inner]);
    let [s0, s1, s2, s3] = second.to_be_bytes();
    let [t0, t1, t2, t3] = third.to_be_bytes();
    key[mpls::DEEPER[0]..mpls::DEEPER[0] + 8].copy_from_slice(&[s0, s1, s2, s3, t0, t1, t2, t3]);
    layers.present |= words::MPLS;
    layers.l3 = header_at(l3);
    layers.l4 = None;
    layers.l4_proto = 0;
}

/// Parses the VLAN tags at offset 12, the first with TPID `outer_tpid`, and returns the outer TCI
/// (present bit set, or 0 without a tag), the ethertype after the tags and the offset after it.
/// Writes `vlan_tci2`.
#[inline]
fn vlan_tags(data: &[u8], outer_tpid: u16, key: &mut KeyBytes, layers: &mut Layers) -> (u16, u16, usize) {
    const OUTER: usize = 12;
    const INNER: usize = OUTER + len::VLAN_TAG;
    // A tag counts only with the ethertype after it in the frame.
    let Some(outer) = data.get(OUTER..).and_then(|d| d.first_chunk::<{ len::VLAN_TAG + 2 }>()) else {
        return (0, outer_tpid, len::ETHERNET);
    };
    layers.l2_5 = header_at(OUTER);
    let outer_tci = u16::from_be_bytes([outer[2], outer[3]]) | vlan::PRESENT;
    let after_outer = u16::from_be_bytes([outer[4], outer[5]]);
    if !ethertype::is_vlan(after_outer) {
        return (outer_tci, after_outer, INNER + 2);
    }
    let Some(inner) = data.get(INNER..).and_then(|d| d.first_chunk::<{ len::VLAN_TAG + 2 }>()) else {
        return (outer_tci, after_outer, INNER + 2);
    };
    let tci2 = u16::from_be_bytes([inner[2], inner[3]]) | vlan::PRESENT;
    key[at::TP_SRC..at::VLAN_TCI2].fill(0);
    key[at::VLAN_TCI2..at::VLAN_TCI2 + 2].copy_from_slice(&tci2.to_be_bytes());
    layers.present |= words::TP_PORTS;
    (outer_tci, u16::from_be_bytes([inner[4], inner[5]]), INNER + len::VLAN_TAG + 2)
}

/// The ethertype of an 802.3 frame whose length field ends at `offset`, and the offset of its
/// payload: the SNAP ethertype after an LLC/SNAP header, or `ethertype::NONE`.
#[cold]
fn llc_snap(data: &[u8], offset: usize) -> (u16, usize) {
    const SNAP_PREFIX: [u8; 6] = [0xaa, 0xaa, 0x03, 0, 0, 0];
    if let Some(llc) = data.get(offset..).and_then(|d| d.first_chunk::<{ len::LLC_SNAP }>()) {
        let snap_type = u16::from_be_bytes([llc[6], llc[7]]);
        if llc[..6] == SNAP_PREFIX && snap_type >= ethertype::MIN {
            return (snap_type, offset + len::LLC_SNAP);
        }
    }
    (ethertype::NONE, offset)
}

/// Makes word 4 (ports, TCP flags, `vlan_tci2`) present, clearing it except a `vlan_tci2` that
/// the tags wrote.
#[inline]
fn clear_transport_word(key: &mut KeyBytes, layers: &mut Layers) {
    if layers.present & words::TP_PORTS == 0 {
        key[at::TP_SRC..at::TP_SRC + 8].fill(0);
        layers.present |= words::TP_PORTS;
    }
}

/// Parses the IPv4 header at `l3` (at most 30: two tags and LLC/SNAP) and what follows it.
#[inline]
fn ipv4(data: &[u8], l3: usize, key: &mut KeyBytes, layers: &mut Layers) {
    let Some(ip) = data.get(l3..) else { return };
    let Some(header) = ip.first_chunk::<{ len::IPV4 }>() else { return };
    let header_len = usize::from(header[0] & 0x0f) * 4;
    let total_len = usize::from(u16::from_be_bytes([header[2], header[3]]));
    if header_len < len::IPV4 || header_len > total_len || total_len > ip.len() {
        return;
    }
    let fragment = u16::from_be_bytes([header[6], header[7]]);
    let mut frag = 0;
    if fragment & 0x3fff != 0 {
        frag = nw_frag::ANY;
        if fragment & 0x1fff != 0 {
            frag |= nw_frag::LATER;
        }
    }
    let proto = header[9];
    key[at::NW_PROTO] = proto;
    key[at::NW_FRAG] = frag;
    key[at::NW_TOS] = header[1];
    key[at::NW_TTL] = header[8];
    key[at::NW_SRC..at::NW_DST + 4].copy_from_slice(&header[12..20]);
    layers.present |= words::NW_ADDRS;
    clear_transport_word(key, layers);
    layers.l3 = header_at(l3);
    if frag & nw_frag::LATER == 0 {
        if let Some(payload) = ip.get(header_len..total_len) {
            transport(payload, l3 + header_len, proto, false, key, layers);
        }
    }
}

/// Parses the IPv6 header at `l3` (at most 30), its extension headers and what follows them.
#[inline]
fn ipv6(data: &[u8], l3: usize, key: &mut KeyBytes, layers: &mut Layers) {
    let Some(ip) = data.get(l3..) else { return };
    let Some(header) = ip.first_chunk::<{ len::IPV6 }>() else { return };
    let payload_len = usize::from(u16::from_be_bytes([header[4], header[5]]));
    let Some(payload) = ip.get(len::IPV6..len::IPV6 + payload_len) else { return };
    let Some(chain) = ipv6_extensions(header[6], payload) else { return };
    let version_class_label = u32::from_be_bytes([header[0], header[1], header[2], header[3]]);
    key[at::NW_PROTO] = chain.proto;
    key[at::NW_FRAG] = chain.frag;
    key[at::NW_TOS] = ((version_class_label >> 20) & 0xff) as u8;
    key[at::NW_TTL] = header[7];
    key[at::IPV6_SRC..at::IPV6_DST + 16].copy_from_slice(&header[8..40]);
    let [_, label_1, label_2, label_3] = (version_class_label & 0x000f_ffff).to_be_bytes();
    // ipv6_exthdr follows the label in its word (one store for both).
    const _: () = assert!(at::IPV6_EXTHDR == at::IPV6_LABEL + 4);
    let [exthdr_hi, exthdr_lo] = chain.exthdr.to_be_bytes();
    key[at::IPV6_LABEL..at::IPV6_LABEL + 8]
        .copy_from_slice(&[0, label_1, label_2, label_3, exthdr_hi, exthdr_lo, 0, 0]);
    layers.present |= words::IPV6_ADDRS | words::IPV6_LABEL;
    clear_transport_word(key, layers);
    layers.l3 = header_at(l3);
    if chain.frag & nw_frag::LATER == 0 {
        if let Some(upper) = payload.get(chain.len..) {
            transport(upper, l3 + len::IPV6 + chain.len, chain.proto, true, key, layers);
        }
    }
}

/// What the walk of an IPv6 extension header chain found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Ipv6Chain {
    /// The upper-layer protocol, or `ip_proto::FRAGMENT` for a non-first fragment.
    proto: u8,
    /// The `nw_frag` bits.
    frag: u8,
    /// Bytes of extension headers before the upper layer.
    len: usize,
    /// The `ipv6_exthdr` flags.
    exthdr: u16,
}

/// The `ipv6_exthdr` flags of a chain, built header by header: the OpenFlow 1.3 flags (section
/// 7.2.3.8) of the headers seen and of their repeats and order.
#[derive(Debug, Clone, Copy, Default)]
struct ExthdrFlags {
    flags: u16,
    /// A second Destination Options header was seen (a third is a repeat).
    second_dest: bool,
    /// The lowest place in RFC 2460's recommended order the next header may take.
    next_place: u8,
}

impl ExthdrFlags {
    /// Notes an extension header of type `header_type` (an `ip_proto` value); other types
    /// change nothing. The recommended order: Hop-by-Hop (first), Destination Options, Routing,
    /// Fragment, Authentication, ESP, Destination Options, upper layer.
    #[inline]
    fn note(&mut self, header_type: u8) {
        /// The place of the Destination Options header for the final destination (after ESP).
        const FINAL_DEST: u8 = 6;
        let (flag, place) = match header_type {
            ip_proto::HOP_BY_HOP => (ipv6_exthdr::HOP, 0),
            ip_proto::DESTINATION_OPTIONS if self.next_place <= 1 => (ipv6_exthdr::DEST, 1),
            ip_proto::DESTINATION_OPTIONS => (ipv6_exthdr::DEST, FINAL_DEST),
            ip_proto::ROUTING => (ipv6_exthdr::ROUTER, 2),
            ip_proto::FRAGMENT => (ipv6_exthdr::FRAG, 3),
            ip_proto::AH => (ipv6_exthdr::AUTH, 4),
            ip_proto::ESP => (ipv6_exthdr::ESP, 5),
            _ => return,
        };
        if self.flags & flag != 0 {
            if flag == ipv6_exthdr::DEST && !self.second_dest {
                self.second_dest = true;
            } else {
                self.flags |= ipv6_exthdr::UNREP;
            }
        }
        if place < self.next_place {
            self.flags |= ipv6_exthdr::UNSEQ;
        } else {
            self.next_place = place + 1;
        }
        self.flags |= flag;
    }

    /// The flags of a chain whose walk stopped at a header of type `last`: an ESP (whose payload
    /// is encrypted) or a "no next header" ends it, as the upper layer does.
    #[inline(always)]
    fn ended_at(mut self, last: u8) -> u16 {
        match last {
            ip_proto::ESP => self.note(last),
            ip_proto::NO_NEXT_HEADER => self.flags |= ipv6_exthdr::NONEXT,
            _ => {}
        }
        self.flags
    }
}

/// Walks the IPv6 extension headers at the start of `payload`, the first of type `next`; `None`
/// if one is truncated.
#[inline]
fn ipv6_extensions(mut next: u8, payload: &[u8]) -> Option<Ipv6Chain> {
    let mut offset = 0;
    let mut frag = 0;
    let mut exthdr = ExthdrFlags::default();
    loop {
        let header_len = match next {
            ip_proto::HOP_BY_HOP | ip_proto::ROUTING | ip_proto::DESTINATION_OPTIONS | ip_proto::AH => {
                // Every extension header is at least 8 bytes long, with its next header and its
                // length first; AH counts 4-byte units less 2, the others 8-byte units less 1.
                let header = payload.get(offset..)?.first_chunk::<8>()?;
                let units = usize::from(header[1]);
                let header_len = if next == ip_proto::AH { (units + 2) * 4 } else { (units + 1) * 8 };
                exthdr.note(next);
                next = header[0];
                header_len
            }
            ip_proto::FRAGMENT => {
                let header = payload.get(offset..)?.first_chunk::<8>()?;
                exthdr.note(next);
                next = header[0];
                let offset_flags = u16::from_be_bytes([header[2], header[3]]);
                if offset_flags != 0 {
                    frag = nw_frag::ANY;
                    if offset_flags & 0xfff8 != 0 {
                        // The headers after it are in the first fragment: the walk ends here.
                        return Some(Ipv6Chain {
                            proto: ip_proto::FRAGMENT,
                            frag: frag | nw_frag::LATER,
                            len: offset + 8,
                            exthdr: exthdr.flags,
                        });
                    }
                }
                8
            }
            _ => return Some(Ipv6Chain { proto: next, frag, len: offset, exthdr: exthdr.ended_at(next) }),
        };
        offset += header_len;
        if offset > payload.len() {
            return None;
        }
    }
}

/// Parses the L4 header at the start of `segment` (at `offset` in the packet), whose IP protocol
/// is `proto`; `ipv6` tells the IP version.
#[inline]
fn transport(segment: &[u8], offset: usize, proto: u8, ipv6: bool, key: &mut KeyBytes, layers: &mut Layers) {
    let Some(offset) = header_at(offset) else { return };
    let parsed = match proto {
        ip_proto::UDP => ports(segment.first_chunk::<{ len::UDP }>(), key),
        ip_proto::TCP => tcp(segment, key),
        ip_proto::SCTP => ports(segment.first_chunk::<{ len::SCTP }>(), key),
        ip_proto::ICMP if !ipv6 => icmp(segment, key).is_some(),
        ip_proto::ICMPV6 if ipv6 => icmpv6(segment, key, &mut layers.present),
        _ => false,
    };
    if parsed {
        layers.l4 = Some(offset);
        layers.l4_proto = proto;
    }
}

/// Copies the source and destination ports of a UDP or SCTP header, if complete.
#[inline]
fn ports<const N: usize>(header: Option<&[u8; N]>, key: &mut KeyBytes) -> bool {
    match header.and_then(|h| h.first_chunk::<4>()) {
        Some(ports) => {
            key[at::TP_SRC..at::TP_DST + 2].copy_from_slice(ports);
            true
        }
        None => false,
    }
}

/// Copies the ports and flags of a TCP header, if complete (data offset at least 5, within the
/// segment).
#[inline]
fn tcp(segment: &[u8], key: &mut KeyBytes) -> bool {
    let Some(header) = segment.first_chunk::<{ len::TCP }>() else { return false };
    let header_len = usize::from(header[12] >> 4) * 4;
    if header_len < len::TCP || header_len > segment.len() {
        return false;
    }
    let [flags_hi, flags_lo] = (u16::from_be_bytes([header[12], header[13]]) & tcp::FLAGS_MASK).to_be_bytes();
    key[at::TP_SRC..at::TCP_FLAGS + 2]
        .copy_from_slice(&[header[0], header[1], header[2], header[3], flags_hi, flags_lo]);
    true
}

/// Writes the type and code of an ICMP or ICMPv6 header and returns them.
#[inline]
fn icmp(segment: &[u8], key: &mut KeyBytes) -> Option<(u8, u8)> {
    let header = segment.first_chunk::<{ len::ICMP }>()?;
    key[at::TP_SRC..at::TP_DST + 2].copy_from_slice(&[0, header[0], 0, header[1]]);
    Some((header[0], header[1]))
}

/// Parses an ICMPv6 header and, for neighbour discovery, its body; adds the ND words to `present`.
#[inline]
fn icmpv6(segment: &[u8], key: &mut KeyBytes, present: &mut u32) -> bool {
    match icmp(segment, key) {
        Some((nd::NEIGHBOR_SOLICITATION | nd::NEIGHBOR_ADVERTISEMENT, 0)) => {
            *present |= words::ND_TARGET | words::ARP_HA;
            neighbor_discovery(segment.get(len::ICMP..).unwrap_or_default(), key);
            true
        }
        Some(_) => true,
        None => false,
    }
}

/// Parses the body of a neighbour solicitation or advertisement (after the ICMPv6 header): the
/// target address and the link-layer address options. Writes the ND words whole.
#[inline(never)]
fn neighbor_discovery(body: &[u8], key: &mut KeyBytes) {
    key[at::ND_TARGET..at::ARP_THA + 8].fill(0);
    let Some(target) = body.first_chunk::<{ len::ND_TARGET }>() else { return };
    let mut source_ll = None;
    let mut target_ll = None;
    let mut options = body.get(len::ND_TARGET..).unwrap_or_default();
    while let Some(option) = options.first_chunk::<8>() {
        let option_len = usize::from(option[1]) * 8;
        if option_len == 0 || option_len > options.len() {
            break;
        }
        if option_len == 8 {
            let address = [option[2], option[3], option[4], option[5], option[6], option[7], 0, 0];
            let slot = match option[0] {
                nd::OPTION_SOURCE_LL => Some(&mut source_ll),
                nd::OPTION_TARGET_LL => Some(&mut target_ll),
                _ => None,
            };
            if slot.is_some_and(|slot| slot.replace(address).is_some()) {
                // The same link-layer address option twice: an invalid message.
                return;
            }
        }
        options = options.get(option_len..).unwrap_or_default();
    }
    key[at::ND_TARGET..at::ND_TARGET + 16].copy_from_slice(target);
    key[at::ARP_SHA..at::ARP_SHA + 8].copy_from_slice(&source_ll.unwrap_or_default());
    key[at::ARP_THA..at::ARP_THA + 8].copy_from_slice(&target_ll.unwrap_or_default());
}

/// The key words an ARP header under an MPLS stack puts its hardware addresses in.
const ARP_HA_UNDER_STACK: u32 = 0b11 << (mpls::inner::ARP_HA_AT / 8);

/// Parses an Ethernet/IPv4 ARP or RARP header at `l3`; returns whether there was one. Writes the
/// words of `arp_spa`/`arp_tpa` and the two words of the hardware addresses (at `ha_at`: the
/// key's `arp_sha` and `arp_tha`, or under an MPLS stack `mpls::inner::ARP_HA_AT`) whole.
#[inline(never)]
fn arp(data: &[u8], l3: usize, key: &mut KeyBytes, ha_at: usize) -> bool {
    /// Hardware type Ethernet, protocol type IPv4, address lengths 6 and 4.
    const ETHERNET_IPV4: [u8; 6] = [0, 1, 0x08, 0x00, 6, 4];
    let Some(arp) = data.get(l3..).and_then(|d| d.first_chunk::<{ len::ARP_ETHERNET_IPV4 }>()) else {
        return false;
    };
    if arp[..6] != ETHERNET_IPV4 {
        return false;
    }
    let op = u16::from_be_bytes([arp[6], arp[7]]);
    key[at::NW_PROTO] = u8::try_from(op).unwrap_or(0);
    key[at::NW_SRC..at::NW_SRC + 4].copy_from_slice(&arp[14..18]);
    key[at::NW_DST..at::NW_DST + 4].copy_from_slice(&arp[24..28]);
    key[ha_at..ha_at + 8].copy_from_slice(&[arp[8], arp[9], arp[10], arp[11], arp[12], arp[13], 0, 0]);
    key[ha_at + 8..ha_at + 16].copy_from_slice(&[arp[18], arp[19], arp[20], arp[21], arp[22], arp[23], 0, 0]);
    true
}
