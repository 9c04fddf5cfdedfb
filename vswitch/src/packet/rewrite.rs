//! Header rewrites on a `PacketBuf`: Ethernet addresses, VLAN tags, IPv4, IPv6, TCP/UDP/SCTP
//! ports, ICMP, ARP and neighbour discovery fields, with their checksums kept right.
//!
//! Conventions:
//! - The `Layers` are those `extract` returned for the packet; the functions trust its offsets only
//!   as far as reading within bounds goes, so a `Layers` of another packet gives an error, never a
//!   panic. `push_vlan` and `pop_vlan` shift the offsets of the `Layers` they are given, so one
//!   `extract` serves a whole action list. Rewrites change the packet, never the `FlowKey`: the
//!   caller that sets a field knows its new value.
//! - A rewrite either completes or returns an error and leaves the packet as it was.
//! - Checksums are updated incrementally (RFC 1624): an IPv4 header checksum for the fields it
//!   covers, and the TCP, UDP and (in IPv6) ICMPv6 checksums for the addresses of the pseudo
//!   header, the ports and the ICMP type and code; a checksum that was wrong stays wrong. A UDP
//!   checksum of 0 (none) stays 0, and an updated one that comes out 0 is sent as 0xffff.
//! - L4 checksums are only touched when `extract` parsed the L4 header (`Layers::l4`): never in a
//!   non-first fragment, whose L4 header is in another packet.
//! - The IPv6 destination is not part of the L4 pseudo header while a routing header has segments
//!   left (the pseudo header holds the final destination): rewriting it then leaves the L4
//!   checksum alone, as Open vSwitch does.
//! - SCTP uses CRC32c over the whole SCTP packet: setting an SCTP port recomputes it twice over
//!   the packet (before and after the change) and stores `old ^ crc_before ^ crc_after`, so a
//!   right checksum stays right and a wrong one stays wrong.
//! - MPLS: `push_mpls` puts a label stack entry after the VLAN tags (the frame's ethertype
//!   becomes the MPLS one), `pop_mpls` takes the top one off (the ethertype becomes the one given)
//!   and, when the frame is no longer MPLS, parses the packet again for the `Layers` of what
//!   came out; a frame that would be shorter than 60 bytes is padded to 60 with zeros; the label stack entry fields are rewritten in the top entry (`Layers::l3` of an
//!   MPLS frame).
//! - VLAN tags: `push_vlan` clears the 0x1000 bit of the TCI on the wire (in the flow key it means
//!   "tag present"; on the wire it is DEI), as Open vSwitch does.

use std::fmt;
use std::num::NonZeroU16;

use crate::flow::key::{mpls, FlowKey};
use crate::packet::checksum;
use crate::packet::extract::{extract, header_at, Layers};
use crate::packet::proto::{ethertype, ip_proto, len, nd, vlan};
use crate::packet::PacketBuf;

/// Why a rewrite did not happen (the packet is unchanged).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RewriteError {
    /// The packet has no complete header of that kind: according to its `Layers` (an IPv4 address
    /// of an IPv6 packet, a port of a non-first fragment, an ND target of a message too short for
    /// one, ...) or, for Ethernet and VLAN rewrites, to its bytes (a runt frame, pop of an
    /// untagged frame). A VLAN tag counts as complete with the ethertype after it, as in `extract`.
    MissingHeader,
    /// The `Layers` point past the end of the packet: they do not belong to it. Never returned
    /// with the `Layers` that `extract` returned for the packet (and the VLAN rewrites updated).
    Truncated,
    /// No headroom for the bytes `push_vlan` adds.
    NoHeadroom,
    /// The packet buffer is shared with an earlier output (`PacketBuf::share`): it must be copied
    /// before it can change.
    Shared,
    /// The value does not fit the field (a VID above 4095, a PCP above 7, a DSCP above 63, an ECN
    /// above 3, a flow label above 0xfffff) or is not a VLAN TPID.
    InvalidValue,
}

impl fmt::Display for RewriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RewriteError::MissingHeader => "the packet has no such header",
            RewriteError::Truncated => "the packet ends inside the header",
            RewriteError::NoHeadroom => "no headroom left in the packet buffer",
            RewriteError::Shared => "the packet buffer is shared with another output",
            RewriteError::InvalidValue => "value out of the field's range",
        })
    }
}

impl std::error::Error for RewriteError {}

/// Where the outermost VLAN tag starts: after the MAC addresses.
const OUTER_TAG: usize = 12;

/// The packet's bytes, writable; `Shared` while another handle holds the buffer.
#[inline]
fn writable<B: PacketBuf + ?Sized>(buf: &mut B) -> Result<&mut [u8], RewriteError> {
    buf.data_mut().ok_or(RewriteError::Shared)
}

/// `N` bytes of `data` at `offset`.
#[inline]
fn bytes<const N: usize>(data: &[u8], offset: usize) -> Result<&[u8; N], RewriteError> {
    data.get(offset..).and_then(|rest| rest.first_chunk::<N>()).ok_or(RewriteError::Truncated)
}

/// The first `N` bytes of an Ethernet frame, which must have them.
#[inline]
fn frame_head<const N: usize>(data: &mut [u8]) -> Result<&mut [u8; N], RewriteError> {
    data.first_chunk_mut::<N>().ok_or(RewriteError::MissingHeader)
}

/// `N` bytes of `data` at `offset`, writable.
#[inline]
fn bytes_mut<const N: usize>(data: &mut [u8], offset: usize) -> Result<&mut [u8; N], RewriteError> {
    data.get_mut(offset..).and_then(|rest| rest.first_chunk_mut::<N>()).ok_or(RewriteError::Truncated)
}

/// A header offset from the `Layers`; `MissingHeader` where `extract` found no such header.
#[inline]
fn offset(layer: Option<NonZeroU16>) -> Result<usize, RewriteError> {
    layer.map(|at| usize::from(at.get())).ok_or(RewriteError::MissingHeader)
}

/// Recomputes the big-endian Internet checksum at `field` for `old` bytes becoming `new`.
#[inline]
fn update_checksum(field: &mut [u8; 2], old: &[u8], new: &[u8]) {
    *field = checksum::update(u16::from_be_bytes(*field), old, new).to_be_bytes();
}

/// The checksum field of an L4 header that covers the IP pseudo header.
struct L4Checksum<'a> {
    field: &'a mut [u8; 2],
    /// UDP: 0 means "no checksum" and must stay 0.
    zero_means_none: bool,
}

impl L4Checksum<'_> {
    fn update(&mut self, old: &[u8], new: &[u8]) {
        let current = u16::from_be_bytes(*self.field);
        if self.zero_means_none && current == 0 {
            return;
        }
        let updated = checksum::update(current, old, new);
        *self.field = if self.zero_means_none && updated == 0 { 0xffff } else { updated }.to_be_bytes();
    }
}

/// Offset of the L4 checksum that covers the IP pseudo header, and whether 0 means none: TCP,
/// UDP, and ICMPv6 in IPv6 (ICMPv4 has no pseudo header).
fn pseudo_header_checksum_at(layers: &Layers, ipv6: bool) -> Option<(usize, bool)> {
    let l4 = offset(layers.l4).ok()?;
    match layers.l4_proto {
        ip_proto::TCP => Some((l4 + 16, false)),
        ip_proto::UDP => Some((l4 + 6, true)),
        ip_proto::ICMPV6 if ipv6 => Some((l4 + 2, false)),
        _ => None,
    }
}

/// The `N`-byte L3 header at `l3` and the pseudo-header L4 checksum at `checksum_at` (after the
/// header), borrowed together.
fn l3_header_and_l4_checksum<const N: usize>(
    data: &mut [u8],
    l3: usize,
    checksum_at: Option<(usize, bool)>,
) -> Result<(&mut [u8; N], Option<L4Checksum<'_>>), RewriteError> {
    let Some((at, zero_means_none)) = checksum_at else { return Ok((bytes_mut::<N>(data, l3)?, None)) };
    let (front, back) = data.split_at_mut_checked(at).ok_or(RewriteError::Truncated)?;
    let header = bytes_mut::<N>(front, l3)?;
    let field = back.first_chunk_mut::<2>().ok_or(RewriteError::Truncated)?;
    Ok((header, Some(L4Checksum { field, zero_means_none })))
}

// ---------------------------------------------------------------------------------------------
// Ethernet and VLAN

/// Sets the Ethernet source address.
pub fn set_eth_src<B: PacketBuf + ?Sized>(buf: &mut B, mac: [u8; 6]) -> Result<(), RewriteError> {
    frame_head::<{ len::ETHERNET }>(writable(buf)?)?[6..12].copy_from_slice(&mac);
    Ok(())
}

/// Sets the Ethernet destination address.
pub fn set_eth_dst<B: PacketBuf + ?Sized>(buf: &mut B, mac: [u8; 6]) -> Result<(), RewriteError> {
    frame_head::<{ len::ETHERNET }>(writable(buf)?)?[..6].copy_from_slice(&mac);
    Ok(())
}

/// Inserts a VLAN tag with `tpid` (0x8100 or 0x88a8) and `tci` (the 0x1000 bit cleared) as the
/// new outermost tag, and shifts the offsets in `layers` to match.
pub fn push_vlan<B: PacketBuf + ?Sized>(
    buf: &mut B,
    layers: &mut Layers,
    tpid: u16,
    tci: u16,
) -> Result<(), RewriteError> {
    if !ethertype::is_vlan(tpid) {
        return Err(RewriteError::InvalidValue);
    }
    if writable(buf)?.len() < len::ETHERNET {
        return Err(RewriteError::MissingHeader);
    }
    if !buf.prepend(len::VLAN_TAG) {
        return Err(RewriteError::NoHeadroom);
    }
    let head = frame_head::<{ OUTER_TAG + len::VLAN_TAG }>(writable(buf)?)?;
    // The MAC addresses move to the new front; the ethertype stays, now after the tag.
    head.copy_within(len::VLAN_TAG.., 0);
    let [tpid_hi, tpid_lo] = tpid.to_be_bytes();
    let [tci_hi, tci_lo] = (tci & !vlan::CFI).to_be_bytes();
    head[OUTER_TAG..].copy_from_slice(&[tpid_hi, tpid_lo, tci_hi, tci_lo]);
    #[expect(clippy::cast_possible_truncation, reason = "4")]
    const SHIFT: u16 = len::VLAN_TAG as u16;
    layers.l2_5 = header_at(OUTER_TAG);
    layers.l3 = layers.l3.and_then(|l3| l3.checked_add(SHIFT));
    layers.l4 = layers.l4.and_then(|l4| l4.checked_add(SHIFT));
    Ok(())
}

/// Removes the outermost VLAN tag and shifts the offsets in `layers` to match (`l2_5` stays set
/// if another tag follows).
pub fn pop_vlan<B: PacketBuf + ?Sized>(buf: &mut B, layers: &mut Layers) -> Result<(), RewriteError> {
    let frame = tagged_frame(writable(buf)?)?;
    frame.copy_within(..OUTER_TAG, len::VLAN_TAG);
    if !buf.trim_front(len::VLAN_TAG) {
        // Unreachable for a buffer that honours its contract: the frame has 18 bytes.
        return Err(RewriteError::Truncated);
    }
    let next_tag = buf
        .data()
        .first_chunk::<{ len::ETHERNET + len::VLAN_TAG }>()
        .is_some_and(|frame| ethertype::is_vlan(u16::from_be_bytes([frame[12], frame[13]])));
    layers.l2_5 = if next_tag { header_at(OUTER_TAG) } else { None };
    layers.l3 = layers.l3.and_then(|l3| header_at(usize::from(l3.get()).checked_sub(len::VLAN_TAG)?));
    layers.l4 = layers.l4.and_then(|l4| header_at(usize::from(l4.get()).checked_sub(len::VLAN_TAG)?));
    Ok(())
}

/// The offset of the ethertype after the VLAN tags (at most two, as `extract` parses) of a frame
/// of at least an Ethernet header.
fn ethertype_after_tags(data: &[u8]) -> Result<usize, RewriteError> {
    let mut at = OUTER_TAG;
    for _ in 0..2 {
        let tpid = u16::from_be_bytes(*bytes::<2>(data, at).map_err(|_| RewriteError::MissingHeader)?);
        if !ethertype::is_vlan(tpid) || data.len() < at + len::VLAN_TAG + 2 {
            break;
        }
        at += len::VLAN_TAG;
    }
    Ok(at)
}

/// Pushes the label stack entry `lse` after the VLAN tags and makes the frame's ethertype
/// `ethertype_mpls` (0x8847 or 0x8848); `layers` become those of an MPLS frame.
pub fn push_mpls<B: PacketBuf + ?Sized>(
    buf: &mut B,
    layers: &mut Layers,
    ethertype_mpls: u16,
    lse: u32,
) -> Result<(), RewriteError> {
    if !ethertype::is_mpls(ethertype_mpls) {
        return Err(RewriteError::InvalidValue);
    }
    let data = writable(buf)?;
    if data.len() < len::ETHERNET {
        return Err(RewriteError::MissingHeader);
    }
    let at = ethertype_after_tags(data)?;
    if u16::from_be_bytes(*bytes::<2>(data, at)?) < ethertype::MIN {
        // An 802.3 frame: no ethertype to put the stack after.
        return Err(RewriteError::MissingHeader);
    }
    if !buf.prepend(mpls::LSE_LEN) {
        return Err(RewriteError::NoHeadroom);
    }
    let data = writable(buf)?;
    // The addresses and tags move to the new front; the new entry goes after the ethertype.
    data.copy_within(mpls::LSE_LEN..mpls::LSE_LEN + at, 0);
    bytes_mut::<2>(data, at)?.copy_from_slice(&ethertype_mpls.to_be_bytes());
    bytes_mut::<4>(data, at + 2)?.copy_from_slice(&lse.to_be_bytes());
    layers.dl_type = ethertype_mpls;
    layers.l3 = header_at(at + 2);
    layers.l4 = None;
    layers.l4_proto = 0;
    Ok(())
}

/// Pops the top label stack entry of an MPLS frame and makes its ethertype `next`; `layers`
/// follow (parsed again when the frame is no longer MPLS).
pub fn pop_mpls<B: PacketBuf + ?Sized>(buf: &mut B, layers: &mut Layers, next: u16) -> Result<(), RewriteError> {
    let data = writable(buf)?;
    let stack = mpls_stack(data, layers)?;
    bytes::<{ mpls::LSE_LEN }>(data, stack)?;
    let at = stack - 2;
    // A frame that would come out shorter than the Ethernet minimum keeps 60 bytes, its payload
    // moved up and the end zeroed, as Open vSwitch pads it; the rest lose 4 bytes at the front.
    let len = data.len();
    let trim = len.saturating_sub(len::ETHERNET_MIN).min(mpls::LSE_LEN);
    if trim < mpls::LSE_LEN {
        let shift = mpls::LSE_LEN - trim;
        data.copy_within(stack + mpls::LSE_LEN.., stack + trim);
        data.copy_within(..stack, trim);
        data[len - shift..].fill(0);
    } else {
        data.copy_within(..at, mpls::LSE_LEN);
    }
    if !buf.trim_front(trim) {
        // Unreachable for a buffer that honours its contract: the frame has the entry.
        return Err(RewriteError::Truncated);
    }
    bytes_mut::<2>(writable(buf)?, at)?.copy_from_slice(&next.to_be_bytes());
    if ethertype::is_mpls(next) {
        layers.dl_type = next;
    } else {
        *layers = extract(buf.data(), 0, &mut FlowKey::default());
    }
    Ok(())
}

/// The offset of the top label stack entry of an MPLS frame (`MissingHeader` for another).
fn mpls_stack(data: &[u8], layers: &Layers) -> Result<usize, RewriteError> {
    let stack = offset(layers.l3)?;
    if !ethertype::is_mpls(layers.dl_type) || stack < len::ETHERNET {
        return Err(RewriteError::MissingHeader);
    }
    if u16::from_be_bytes(*bytes::<2>(data, stack - 2)?) != layers.dl_type {
        return Err(RewriteError::Truncated);
    }
    Ok(stack)
}

/// Sets the bits `mask` of the top label stack entry to `bits`.
pub fn set_mpls_lse_bits<B: PacketBuf + ?Sized>(
    buf: &mut B,
    layers: &Layers,
    mask: u32,
    bits: u32,
) -> Result<(), RewriteError> {
    let data = writable(buf)?;
    let stack = mpls_stack(data, layers)?;
    let entry = bytes_mut::<4>(data, stack)?;
    let lse = (u32::from_be_bytes(*entry) & !mask) | (bits & mask);
    *entry = lse.to_be_bytes();
    Ok(())
}

/// OpenFlow's copy_ttl_in: the top label stack entry's TTL into the header under it, the next
/// entry or, under the bottom one, an IPv4 header (its checksum updated) or an IPv6 header.
/// Nothing happens when the header under it is neither.
pub fn copy_mpls_ttl_in<B: PacketBuf + ?Sized>(buf: &mut B, layers: &Layers) -> Result<(), RewriteError> {
    let data = writable(buf)?;
    let stack = mpls_stack(data, layers)?;
    let top = u32::from_be_bytes(*bytes::<4>(data, stack)?);
    let ttl = top.to_be_bytes()[3];
    let under = stack + mpls::LSE_LEN;
    // The header under it is not in `layers`: one cut short is missing, not a wrong `Layers`.
    let missing = |_| RewriteError::MissingHeader;
    if top & mpls::BOS_BIT == 0 {
        bytes_mut::<4>(data, under).map_err(missing)?[3] = ttl;
        return Ok(());
    }
    match data.get(under).map(|first| first >> 4) {
        Some(4) => {
            let header = bytes_mut::<{ len::IPV4 }>(data, under).map_err(missing)?;
            set_ipv4_word(header, 8, [ttl, header[9]])
        }
        Some(6) => {
            bytes_mut::<{ len::IPV6 }>(data, under).map_err(missing)?[7] = ttl;
            Ok(())
        }
        _ => Ok(()),
    }
}

/// The MAC addresses, outermost VLAN tag and the ethertype after it of a tagged frame.
fn tagged_frame(data: &mut [u8]) -> Result<&mut [u8; len::ETHERNET + len::VLAN_TAG], RewriteError> {
    let frame = frame_head::<{ len::ETHERNET + len::VLAN_TAG }>(data)?;
    if !ethertype::is_vlan(u16::from_be_bytes([frame[12], frame[13]])) {
        return Err(RewriteError::MissingHeader);
    }
    Ok(frame)
}

/// The TCI of the outermost VLAN tag.
fn outer_tci(data: &mut [u8]) -> Result<&mut [u8; 2], RewriteError> {
    bytes_mut::<2>(tagged_frame(data)?, OUTER_TAG + 2)
}

/// Sets the VLAN ID (0..=4095) of the outermost tag.
pub fn set_vlan_vid<B: PacketBuf + ?Sized>(buf: &mut B, vid: u16) -> Result<(), RewriteError> {
    if vid > vlan::VID_MASK {
        return Err(RewriteError::InvalidValue);
    }
    let tci = outer_tci(writable(buf)?)?;
    *tci = ((u16::from_be_bytes(*tci) & !vlan::VID_MASK) | vid).to_be_bytes();
    Ok(())
}

/// Sets the priority code point (0..=7) of the outermost tag.
pub fn set_vlan_pcp<B: PacketBuf + ?Sized>(buf: &mut B, pcp: u8) -> Result<(), RewriteError> {
    if pcp > 7 {
        return Err(RewriteError::InvalidValue);
    }
    let tci = outer_tci(writable(buf)?)?;
    *tci = ((u16::from_be_bytes(*tci) & !vlan::PCP_MASK) | (u16::from(pcp) << vlan::PCP_SHIFT)).to_be_bytes();
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// IPv4

/// The IPv4 header (fixed part) of the packet.
fn ipv4_header<'a>(data: &'a mut [u8], layers: &Layers) -> Result<&'a mut [u8; len::IPV4], RewriteError> {
    if layers.dl_type != ethertype::IPV4 {
        return Err(RewriteError::MissingHeader);
    }
    bytes_mut(data, offset(layers.l3)?)
}

/// Replaces the 16-bit word at `at` (even) of an IPv4 header, updating the header checksum.
fn set_ipv4_word(header: &mut [u8; len::IPV4], at: usize, new: [u8; 2]) -> Result<(), RewriteError> {
    let old = *bytes::<2>(header, at)?;
    if old != new {
        update_checksum(bytes_mut::<2>(header, 10)?, &old, &new);
        *bytes_mut::<2>(header, at)? = new;
    }
    Ok(())
}

/// Replaces the IPv4 address at `at` (12 source, 16 destination) of the header, updating the
/// header checksum and the L4 checksum of the pseudo header.
fn set_ipv4_address(data: &mut [u8], layers: &Layers, at: usize, address: [u8; 4]) -> Result<(), RewriteError> {
    if layers.dl_type != ethertype::IPV4 {
        return Err(RewriteError::MissingHeader);
    }
    let (header, l4_checksum) =
        l3_header_and_l4_checksum::<{ len::IPV4 }>(data, offset(layers.l3)?, pseudo_header_checksum_at(layers, false))?;
    let old = *bytes::<4>(header, at)?;
    if old == address {
        return Ok(());
    }
    if let Some(mut l4_checksum) = l4_checksum {
        l4_checksum.update(&old, &address);
    }
    update_checksum(bytes_mut::<2>(header, 10)?, &old, &address);
    *bytes_mut::<4>(header, at)? = address;
    Ok(())
}

/// Sets the IPv4 source address.
pub fn set_ipv4_src<B: PacketBuf + ?Sized>(buf: &mut B, layers: &Layers, address: [u8; 4]) -> Result<(), RewriteError> {
    set_ipv4_address(writable(buf)?, layers, 12, address)
}

/// Sets the IPv4 destination address.
pub fn set_ipv4_dst<B: PacketBuf + ?Sized>(buf: &mut B, layers: &Layers, address: [u8; 4]) -> Result<(), RewriteError> {
    set_ipv4_address(writable(buf)?, layers, 16, address)
}

/// Replaces the bits `mask` of the IPv4 TOS byte with `bits`.
fn set_ipv4_tos_bits(data: &mut [u8], layers: &Layers, mask: u8, bits: u8) -> Result<(), RewriteError> {
    let header = ipv4_header(data, layers)?;
    let new = [header[0], (header[1] & !mask) | bits];
    set_ipv4_word(header, 0, new)
}

/// Sets the whole IPv4 TOS byte (DSCP and ECN).
pub fn set_ipv4_tos<B: PacketBuf + ?Sized>(buf: &mut B, layers: &Layers, tos: u8) -> Result<(), RewriteError> {
    set_ipv4_tos_bits(writable(buf)?, layers, 0xff, tos)
}

/// Sets the IPv4 DSCP (0..=63, the upper 6 bits of the TOS byte).
pub fn set_ipv4_dscp<B: PacketBuf + ?Sized>(buf: &mut B, layers: &Layers, dscp: u8) -> Result<(), RewriteError> {
    if dscp > 63 {
        return Err(RewriteError::InvalidValue);
    }
    set_ipv4_tos_bits(writable(buf)?, layers, 0xfc, dscp << 2)
}

/// Sets the IPv4 ECN (0..=3, the lower 2 bits of the TOS byte).
#[cfg(test)]
pub fn set_ipv4_ecn<B: PacketBuf + ?Sized>(buf: &mut B, layers: &Layers, ecn: u8) -> Result<(), RewriteError> {
    if ecn > 3 {
        return Err(RewriteError::InvalidValue);
    }
    set_ipv4_tos_bits(writable(buf)?, layers, 0x03, ecn)
}

/// Sets the IPv4 TTL.
pub fn set_ipv4_ttl<B: PacketBuf + ?Sized>(buf: &mut B, layers: &Layers, ttl: u8) -> Result<(), RewriteError> {
    let header = ipv4_header(writable(buf)?, layers)?;
    let new = [ttl, header[9]];
    set_ipv4_word(header, 8, new)
}

/// Decrements the IPv4 TTL or IPv6 hop limit if it is above 1 and returns true: the packet may be
/// forwarded. Returns false, leaving the packet unchanged, if it is 0 or 1 (the packet must not be
/// forwarded; the caller drops it or sends it to the controller).
pub fn dec_ttl<B: PacketBuf + ?Sized>(buf: &mut B, layers: &Layers) -> Result<bool, RewriteError> {
    let data = writable(buf)?;
    match layers.dl_type {
        ethertype::IPV4 => {
            let header = ipv4_header(data, layers)?;
            let ttl = header[8];
            if ttl <= 1 {
                return Ok(false);
            }
            let new = [ttl - 1, header[9]];
            set_ipv4_word(header, 8, new)?;
            Ok(true)
        }
        ethertype::IPV6 => {
            let header = ipv6_header(data, layers)?;
            let hop_limit = header[7];
            if hop_limit <= 1 {
                return Ok(false);
            }
            header[7] = hop_limit - 1;
            Ok(true)
        }
        _ => Err(RewriteError::MissingHeader),
    }
}

// ---------------------------------------------------------------------------------------------
// IPv6

/// The IPv6 header (fixed part) of the packet.
fn ipv6_header<'a>(data: &'a mut [u8], layers: &Layers) -> Result<&'a mut [u8; len::IPV6], RewriteError> {
    if layers.dl_type != ethertype::IPV6 {
        return Err(RewriteError::MissingHeader);
    }
    bytes_mut(data, offset(layers.l3)?)
}

/// Does a routing header with segments left come between the IPv6 header at `l3` and the L4
/// header at `l4`? Then the L4 pseudo header holds the final destination, not the IPv6 one.
fn routing_header_with_segments_left(data: &[u8], l3: usize, l4: usize) -> bool {
    let Ok(header) = bytes::<{ len::IPV6 }>(data, l3) else { return false };
    let mut next = header[6];
    let mut at = l3 + len::IPV6;
    while at < l4 {
        let Ok(extension) = bytes::<8>(data, at) else { return false };
        let units = usize::from(extension[1]);
        at += match next {
            ip_proto::ROUTING if extension[3] > 0 => return true,
            ip_proto::HOP_BY_HOP | ip_proto::ROUTING | ip_proto::DESTINATION_OPTIONS => (units + 1) * 8,
            ip_proto::AH => (units + 2) * 4,
            ip_proto::FRAGMENT => 8,
            _ => return false,
        };
        next = extension[0];
    }
    false
}

/// Replaces the IPv6 address at `at` (8 source, 24 destination) of the header, updating the L4
/// checksum of the pseudo header.
fn set_ipv6_address(data: &mut [u8], layers: &Layers, at: usize, address: [u8; 16]) -> Result<(), RewriteError> {
    const DESTINATION: usize = 24;
    if layers.dl_type != ethertype::IPV6 {
        return Err(RewriteError::MissingHeader);
    }
    let l3 = offset(layers.l3)?;
    let mut checksum_at = pseudo_header_checksum_at(layers, true);
    if at == DESTINATION && offset(layers.l4).is_ok_and(|l4| routing_header_with_segments_left(data, l3, l4)) {
        checksum_at = None;
    }
    let (header, l4_checksum) = l3_header_and_l4_checksum::<{ len::IPV6 }>(data, l3, checksum_at)?;
    let old = *bytes::<16>(header, at)?;
    if old == address {
        return Ok(());
    }
    if let Some(mut l4_checksum) = l4_checksum {
        l4_checksum.update(&old, &address);
    }
    *bytes_mut::<16>(header, at)? = address;
    Ok(())
}

/// Sets the IPv6 source address.
pub fn set_ipv6_src<B: PacketBuf + ?Sized>(
    buf: &mut B,
    layers: &Layers,
    address: [u8; 16],
) -> Result<(), RewriteError> {
    set_ipv6_address(writable(buf)?, layers, 8, address)
}

/// Sets the IPv6 destination address.
pub fn set_ipv6_dst<B: PacketBuf + ?Sized>(
    buf: &mut B,
    layers: &Layers,
    address: [u8; 16],
) -> Result<(), RewriteError> {
    set_ipv6_address(writable(buf)?, layers, 24, address)
}

/// Sets the IPv6 flow label (0..=0xfffff).
pub fn set_ipv6_label<B: PacketBuf + ?Sized>(buf: &mut B, layers: &Layers, label: u32) -> Result<(), RewriteError> {
    if label > 0x000f_ffff {
        return Err(RewriteError::InvalidValue);
    }
    let header = ipv6_header(writable(buf)?, layers)?;
    let [_, label_1, label_2, label_3] = label.to_be_bytes();
    header[1] = (header[1] & 0xf0) | label_1;
    header[2] = label_2;
    header[3] = label_3;
    Ok(())
}

/// Replaces the bits `mask` of the IPv6 traffic class with `bits`.
fn set_ipv6_class_bits(data: &mut [u8], layers: &Layers, mask: u8, bits: u8) -> Result<(), RewriteError> {
    let header = ipv6_header(data, layers)?;
    // Version (4 bits), traffic class (8 bits), flow label (20 bits).
    let class = (header[0] << 4) | (header[1] >> 4);
    let class = (class & !mask) | bits;
    header[0] = (header[0] & 0xf0) | (class >> 4);
    header[1] = (class << 4) | (header[1] & 0x0f);
    Ok(())
}

/// Sets the IPv6 traffic class (DSCP and ECN).
pub fn set_ipv6_tc<B: PacketBuf + ?Sized>(buf: &mut B, layers: &Layers, class: u8) -> Result<(), RewriteError> {
    set_ipv6_class_bits(writable(buf)?, layers, 0xff, class)
}

/// Sets the IPv6 DSCP (0..=63, the upper 6 bits of the traffic class).
pub fn set_ipv6_dscp<B: PacketBuf + ?Sized>(buf: &mut B, layers: &Layers, dscp: u8) -> Result<(), RewriteError> {
    if dscp > 63 {
        return Err(RewriteError::InvalidValue);
    }
    set_ipv6_class_bits(writable(buf)?, layers, 0xfc, dscp << 2)
}

/// Sets the IPv6 ECN (0..=3, the lower 2 bits of the traffic class).
#[cfg(test)]
pub fn set_ipv6_ecn<B: PacketBuf + ?Sized>(buf: &mut B, layers: &Layers, ecn: u8) -> Result<(), RewriteError> {
    if ecn > 3 {
        return Err(RewriteError::InvalidValue);
    }
    set_ipv6_class_bits(writable(buf)?, layers, 0x03, ecn)
}

/// Sets the IPv6 hop limit.
pub fn set_ipv6_hop_limit<B: PacketBuf + ?Sized>(
    buf: &mut B,
    layers: &Layers,
    hop_limit: u8,
) -> Result<(), RewriteError> {
    ipv6_header(writable(buf)?, layers)?[7] = hop_limit;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// TCP, UDP, SCTP

/// Where the IP payload of the packet ends (IPv4 total length, IPv6 payload length): the end of
/// the data an SCTP or ICMPv6 message may use, without Ethernet padding.
fn ip_payload_end(data: &[u8], layers: &Layers) -> Result<usize, RewriteError> {
    let l3 = offset(layers.l3)?;
    match layers.dl_type {
        ethertype::IPV4 => {
            let header = bytes::<{ len::IPV4 }>(data, l3)?;
            Ok(l3 + usize::from(u16::from_be_bytes([header[2], header[3]])))
        }
        ethertype::IPV6 => {
            let header = bytes::<{ len::IPV6 }>(data, l3)?;
            Ok(l3 + len::IPV6 + usize::from(u16::from_be_bytes([header[4], header[5]])))
        }
        _ => Err(RewriteError::MissingHeader),
    }
}

/// Replaces the port at `at` (0 source, 2 destination) of the TCP, UDP or SCTP header.
fn set_port(data: &mut [u8], layers: &Layers, at: usize, port: u16) -> Result<(), RewriteError> {
    let l4 = offset(layers.l4)?;
    let new = port.to_be_bytes();
    match layers.l4_proto {
        ip_proto::TCP => set_port_and_checksum(bytes_mut::<{ len::TCP }>(data, l4)?, at, new, 16, false),
        ip_proto::UDP => set_port_and_checksum(bytes_mut::<{ len::UDP }>(data, l4)?, at, new, 6, true),
        ip_proto::SCTP => {
            let end = ip_payload_end(data, layers)?;
            let sctp = data.get_mut(l4..end).ok_or(RewriteError::Truncated)?;
            set_sctp_port(sctp, at, new)
        }
        _ => Err(RewriteError::MissingHeader),
    }
}

/// Replaces the port at `at` of a TCP or UDP `header`, updating the checksum at `checksum_at`.
fn set_port_and_checksum(
    header: &mut [u8],
    at: usize,
    new: [u8; 2],
    checksum_at: usize,
    zero_means_none: bool,
) -> Result<(), RewriteError> {
    let old = *bytes::<2>(header, at)?;
    if old != new {
        L4Checksum { field: bytes_mut::<2>(header, checksum_at)?, zero_means_none }.update(&old, &new);
        *bytes_mut::<2>(header, at)? = new;
    }
    Ok(())
}

/// Replaces a port of the SCTP packet `sctp` and its CRC32c (see the module doc).
fn set_sctp_port(sctp: &mut [u8], at: usize, new: [u8; 2]) -> Result<(), RewriteError> {
    const CHECKSUM: usize = 8;
    let header = bytes::<{ len::SCTP }>(sctp, 0)?;
    if *bytes::<2>(header, at)? == new {
        return Ok(());
    }
    let stored = u32::from_le_bytes(*bytes::<4>(header, CHECKSUM)?);
    *bytes_mut::<4>(sctp, CHECKSUM)? = [0; 4];
    let before = checksum::crc32c(sctp);
    *bytes_mut::<2>(sctp, at)? = new;
    let after = checksum::crc32c(sctp);
    *bytes_mut::<4>(sctp, CHECKSUM)? = (stored ^ before ^ after).to_le_bytes();
    Ok(())
}

/// Sets the TCP, UDP or SCTP source port.
pub fn set_tp_src<B: PacketBuf + ?Sized>(buf: &mut B, layers: &Layers, port: u16) -> Result<(), RewriteError> {
    set_port(writable(buf)?, layers, 0, port)
}

/// Sets the TCP, UDP or SCTP destination port.
pub fn set_tp_dst<B: PacketBuf + ?Sized>(buf: &mut B, layers: &Layers, port: u16) -> Result<(), RewriteError> {
    set_port(writable(buf)?, layers, 2, port)
}

// ---------------------------------------------------------------------------------------------
// ICMP and ICMPv6

/// Replaces byte `at` (0 type, 1 code) of the ICMP or ICMPv6 header.
fn set_icmp_byte(data: &mut [u8], layers: &Layers, at: usize, value: u8) -> Result<(), RewriteError> {
    if !matches!(layers.l4_proto, ip_proto::ICMP | ip_proto::ICMPV6) {
        return Err(RewriteError::MissingHeader);
    }
    let header = bytes_mut::<{ len::ICMP }>(data, offset(layers.l4)?)?;
    let old = [header[0], header[1]];
    let mut new = old;
    if let Some(byte) = new.get_mut(at) {
        *byte = value;
    }
    if old != new {
        update_checksum(bytes_mut::<2>(header, 2)?, &old, &new);
        header[..2].copy_from_slice(&new);
    }
    Ok(())
}

/// Sets the ICMP or ICMPv6 type.
pub fn set_icmp_type<B: PacketBuf + ?Sized>(buf: &mut B, layers: &Layers, icmp_type: u8) -> Result<(), RewriteError> {
    set_icmp_byte(writable(buf)?, layers, 0, icmp_type)
}

/// Sets the ICMP or ICMPv6 code.
pub fn set_icmp_code<B: PacketBuf + ?Sized>(buf: &mut B, layers: &Layers, code: u8) -> Result<(), RewriteError> {
    set_icmp_byte(writable(buf)?, layers, 1, code)
}

// ---------------------------------------------------------------------------------------------
// ARP

/// The Ethernet/IPv4 ARP (or RARP) header of the packet.
fn arp_header<'a>(data: &'a mut [u8], layers: &Layers) -> Result<&'a mut [u8; len::ARP_ETHERNET_IPV4], RewriteError> {
    if !matches!(layers.dl_type, ethertype::ARP | ethertype::RARP) {
        return Err(RewriteError::MissingHeader);
    }
    bytes_mut(data, offset(layers.l3)?)
}

/// Sets the ARP opcode.
pub fn set_arp_op<B: PacketBuf + ?Sized>(buf: &mut B, layers: &Layers, op: u16) -> Result<(), RewriteError> {
    *bytes_mut::<2>(arp_header(writable(buf)?, layers)?, 6)? = op.to_be_bytes();
    Ok(())
}

/// Sets the ARP sender hardware address.
pub fn set_arp_sha<B: PacketBuf + ?Sized>(buf: &mut B, layers: &Layers, mac: [u8; 6]) -> Result<(), RewriteError> {
    *bytes_mut::<6>(arp_header(writable(buf)?, layers)?, 8)? = mac;
    Ok(())
}

/// Sets the ARP sender protocol (IPv4) address.
pub fn set_arp_spa<B: PacketBuf + ?Sized>(buf: &mut B, layers: &Layers, address: [u8; 4]) -> Result<(), RewriteError> {
    *bytes_mut::<4>(arp_header(writable(buf)?, layers)?, 14)? = address;
    Ok(())
}

/// Sets the ARP target hardware address.
pub fn set_arp_tha<B: PacketBuf + ?Sized>(buf: &mut B, layers: &Layers, mac: [u8; 6]) -> Result<(), RewriteError> {
    *bytes_mut::<6>(arp_header(writable(buf)?, layers)?, 18)? = mac;
    Ok(())
}

/// Sets the ARP target protocol (IPv4) address.
pub fn set_arp_tpa<B: PacketBuf + ?Sized>(buf: &mut B, layers: &Layers, address: [u8; 4]) -> Result<(), RewriteError> {
    *bytes_mut::<4>(arp_header(writable(buf)?, layers)?, 24)? = address;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// IPv6 neighbour discovery

/// The ICMPv6 neighbour solicitation or advertisement of the packet, up to the end of the IPv6
/// payload.
fn nd_message<'a>(data: &'a mut [u8], layers: &Layers) -> Result<&'a mut [u8], RewriteError> {
    if layers.dl_type != ethertype::IPV6 || layers.l4_proto != ip_proto::ICMPV6 {
        return Err(RewriteError::MissingHeader);
    }
    let l4 = offset(layers.l4)?;
    let end = ip_payload_end(data, layers)?;
    let message = data.get_mut(l4..end).ok_or(RewriteError::Truncated)?;
    match *bytes::<2>(message, 0)? {
        [nd::NEIGHBOR_SOLICITATION | nd::NEIGHBOR_ADVERTISEMENT, 0] => Ok(message),
        _ => Err(RewriteError::MissingHeader),
    }
}

/// Sets the target address of a neighbour solicitation or advertisement.
pub fn set_nd_target<B: PacketBuf + ?Sized>(
    buf: &mut B,
    layers: &Layers,
    address: [u8; 16],
) -> Result<(), RewriteError> {
    let message = nd_message(writable(buf)?, layers)?;
    // A message too short for its target has none (extract leaves nd_target 0).
    let old = *bytes::<16>(message, len::ICMP).map_err(|_| RewriteError::MissingHeader)?;
    if old != address {
        update_checksum(bytes_mut::<2>(message, 2)?, &old, &address);
        *bytes_mut::<16>(message, len::ICMP)? = address;
    }
    Ok(())
}

/// Replaces the address of the first link-layer address option of type `option_type` (8 bytes)
/// of a neighbour discovery message.
fn set_nd_link_address(message: &mut [u8], option_type: u8, mac: [u8; 6]) -> Result<(), RewriteError> {
    let mut at = len::ICMP + len::ND_TARGET;
    while let Ok(option) = bytes::<8>(message, at) {
        let option_len = usize::from(option[1]) * 8;
        if option_len == 0 || at + option_len > message.len() {
            break;
        }
        if option[0] == option_type && option_len == 8 {
            let old = *bytes::<6>(option, 2)?;
            if old != mac {
                update_checksum(bytes_mut::<2>(message, 2)?, &old, &mac);
                *bytes_mut::<6>(message, at + 2)? = mac;
            }
            return Ok(());
        }
        at += option_len;
    }
    Err(RewriteError::MissingHeader)
}

/// Sets the source link-layer address option of a neighbour discovery message.
pub fn set_nd_sll<B: PacketBuf + ?Sized>(buf: &mut B, layers: &Layers, mac: [u8; 6]) -> Result<(), RewriteError> {
    set_nd_link_address(nd_message(writable(buf)?, layers)?, nd::OPTION_SOURCE_LL, mac)
}

/// Sets the target link-layer address option of a neighbour discovery message.
pub fn set_nd_tll<B: PacketBuf + ?Sized>(buf: &mut B, layers: &Layers, mac: [u8; 6]) -> Result<(), RewriteError> {
    set_nd_link_address(nd_message(writable(buf)?, layers)?, nd::OPTION_TARGET_LL, mac)
}

/// The DSCP after raising its drop precedence by `levels`: only the AF code points (AFxy,
/// x = 1..4, y = 1..3 the precedence) change, to at most precedence 3; others stay.
pub fn raised_drop_precedence(dscp: u8, levels: u8) -> u8 {
    let class = dscp >> 3;
    let precedence = (dscp >> 1) & 3;
    if dscp & 1 != 0 || !(1..=4).contains(&class) || precedence == 0 {
        return dscp;
    }
    (class << 3) | (precedence.saturating_add(levels).min(3) << 1)
}

/// Raises the drop precedence of an IPv4 or IPv6 packet's DSCP by `levels` (a meter's DSCP
/// remark band); other packets, and DSCPs that are not AF code points, stay as they are.
pub fn remark_dscp<B: PacketBuf + ?Sized>(buf: &mut B, layers: &Layers, levels: u8) -> Result<(), RewriteError> {
    let Ok(l3) = offset(layers.l3) else { return Ok(()) };
    let data = buf.data();
    let dscp = match layers.dl_type {
        ethertype::IPV4 => data.get(l3 + 1).map(|tos| tos >> 2),
        ethertype::IPV6 => data.get(l3..l3 + 2).map(|v| ((v[0] & 0x0f) << 2) | (v[1] >> 6)),
        _ => None,
    };
    let Some(dscp) = dscp else { return Ok(()) };
    let raised = raised_drop_precedence(dscp, levels);
    match layers.dl_type {
        _ if raised == dscp => Ok(()),
        ethertype::IPV4 => set_ipv4_dscp(buf, layers, raised),
        _ => set_ipv6_dscp(buf, layers, raised),
    }
}
