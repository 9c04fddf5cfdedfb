//! Test packets: Ethernet, VLAN, IPv4, IPv6 (with extension headers), TCP, UDP, SCTP, ICMP,
//! ICMPv6, neighbour discovery and ARP, with checksums computed from scratch by plain full sums
//! (independent of `packet::checksum`), and the from-scratch checks of a packet's checksums.

use crate::packet::proto::{ethertype, ip_proto, nd};
use crate::packet::{extract, Layers};

use crate::flow::key::FlowKey;

pub const MAC_DST: [u8; 6] = [0x02, 0x11, 0x22, 0x33, 0x44, 0x55];
pub const MAC_SRC: [u8; 6] = [0x02, 0x66, 0x77, 0x88, 0x99, 0xaa];
pub const IP4_SRC: [u8; 4] = [10, 1, 2, 3];
pub const IP4_DST: [u8; 4] = [192, 168, 40, 50];
pub const IP6_SRC: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0x12, 0x34];
pub const IP6_DST: [u8; 16] = [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0x02, 0x11, 0x22, 0xff, 0xfe, 0x33, 0x44, 0x55];

/// The Internet checksum of `data` (odd length padded with a zero byte): the complement of the
/// one's complement sum of its 16-bit words. 0 over data that includes a right checksum.
pub fn internet_checksum(data: &[u8]) -> u16 {
    let mut sum: u64 = 0;
    for pair in data.chunks(2) {
        let word = if pair.len() == 2 { u16::from_be_bytes([pair[0], pair[1]]) } else { u16::from(pair[0]) << 8 };
        sum += u64::from(word);
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !u16::try_from(sum).expect("folded to 16 bits")
}

/// CRC32c bit by bit (independent of the table in `packet::checksum`).
pub fn crc32c_bitwise(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0x82f6_3b78 } else { crc >> 1 };
        }
    }
    !crc
}

/// An Ethernet frame from `MAC_SRC` to `MAC_DST` with VLAN tags `(tpid, tci)`, outermost first.
pub fn ethernet(tags: &[(u16, u16)], ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut frame = Vec::new();
    frame.extend_from_slice(&MAC_DST);
    frame.extend_from_slice(&MAC_SRC);
    for &(tpid, tci) in tags {
        frame.extend_from_slice(&tpid.to_be_bytes());
        frame.extend_from_slice(&tci.to_be_bytes());
    }
    frame.extend_from_slice(&ethertype.to_be_bytes());
    frame.extend_from_slice(payload);
    frame
}

/// An IPv4 header to build packets with.
#[derive(Clone)]
pub struct Ipv4 {
    pub src: [u8; 4],
    pub dst: [u8; 4],
    pub tos: u8,
    pub ttl: u8,
    pub proto: u8,
    /// Flags and fragment offset (0x2000 more fragments, low 13 bits offset in 8-byte units).
    pub fragment: u16,
    /// Options, a multiple of 4 bytes.
    pub options: Vec<u8>,
}

impl Ipv4 {
    pub fn new(proto: u8) -> Self {
        Ipv4 { src: IP4_SRC, dst: IP4_DST, tos: 0xb9, ttl: 64, proto, fragment: 0, options: Vec::new() }
    }

    /// The IPv4 packet with payload `l4`, header checksum set; a TCP or UDP checksum in `l4` is
    /// filled in over the pseudo header unless this is a non-first fragment.
    pub fn build(&self, l4: &[u8]) -> Vec<u8> {
        let header_len = 20 + self.options.len();
        let total = header_len + l4.len();
        let mut packet = vec![0x40 | u8::try_from(header_len / 4).unwrap(), self.tos];
        packet.extend_from_slice(&u16::try_from(total).unwrap().to_be_bytes());
        packet.extend_from_slice(&[0x12, 0x34]);
        packet.extend_from_slice(&self.fragment.to_be_bytes());
        packet.extend_from_slice(&[self.ttl, self.proto, 0, 0]);
        packet.extend_from_slice(&self.src);
        packet.extend_from_slice(&self.dst);
        packet.extend_from_slice(&self.options);
        let checksum = internet_checksum(&packet);
        packet[10..12].copy_from_slice(&checksum.to_be_bytes());
        let mut l4 = l4.to_vec();
        if self.fragment & 0x1fff == 0 {
            let mut pseudo = Vec::new();
            pseudo.extend_from_slice(&self.src);
            pseudo.extend_from_slice(&self.dst);
            pseudo.extend_from_slice(&[0, self.proto]);
            pseudo.extend_from_slice(&u16::try_from(l4.len()).unwrap().to_be_bytes());
            fill_l4_checksum(&mut l4, self.proto, &pseudo);
        }
        packet.extend_from_slice(&l4);
        packet
    }
}

/// Writes the checksum of a TCP, UDP or ICMPv6 segment over `pseudo` and the segment.
fn fill_l4_checksum(l4: &mut [u8], proto: u8, pseudo: &[u8]) {
    let at = match proto {
        ip_proto::TCP if l4.len() >= 20 => 16,
        ip_proto::UDP if l4.len() >= 8 => 6,
        ip_proto::ICMPV6 if l4.len() >= 4 => 2,
        _ => return,
    };
    l4[at..at + 2].fill(0);
    let mut covered = pseudo.to_vec();
    covered.extend_from_slice(l4);
    let mut checksum = internet_checksum(&covered);
    if proto == ip_proto::UDP && checksum == 0 {
        checksum = 0xffff;
    }
    l4[at..at + 2].copy_from_slice(&checksum.to_be_bytes());
}

/// An IPv6 extension header: its type and its bytes (next header and length set by `Ipv6::build`
/// and the helpers).
#[derive(Clone)]
pub struct Extension {
    pub kind: u8,
    pub bytes: Vec<u8>,
}

/// Hop-by-hop or destination options of `(units + 1) * 8` bytes (PadN).
pub fn options_header(kind: u8, units: u8) -> Extension {
    let mut bytes = vec![0, units, 1, 8 * (units + 1) - 4];
    bytes.resize(8 * (usize::from(units) + 1), 0);
    Extension { kind, bytes }
}

/// A routing header (type 3 layout) with `segments_left` and `addresses`.
pub fn routing_header(segments_left: u8, addresses: &[[u8; 16]]) -> Extension {
    let mut bytes = vec![0, u8::try_from(addresses.len() * 2).unwrap(), 3, segments_left, 0, 0, 0, 0];
    for address in addresses {
        bytes.extend_from_slice(address);
    }
    Extension { kind: ip_proto::ROUTING, bytes }
}

/// An authentication header with `units` (length in 4-byte units minus 2, so 12 + 4 * (units - 1)
/// bytes of ICV for units >= 1).
pub fn auth_header(units: u8) -> Extension {
    let mut bytes = vec![0, units, 0, 0, 0, 0, 0x10, 0x01];
    bytes.resize((usize::from(units) + 2) * 4, 0xcc);
    Extension { kind: ip_proto::AH, bytes }
}

/// A fragment header with `offset` (8-byte units) and the more-fragments flag.
pub fn fragment_header(offset: u16, more: bool) -> Extension {
    let offset_flags = (offset << 3) | u16::from(more);
    let [hi, lo] = offset_flags.to_be_bytes();
    Extension { kind: ip_proto::FRAGMENT, bytes: vec![0, 0, hi, lo, 0xde, 0xad, 0xbe, 0xef] }
}

/// An IPv6 header to build packets with.
#[derive(Clone)]
pub struct Ipv6 {
    pub src: [u8; 16],
    pub dst: [u8; 16],
    pub class: u8,
    pub label: u32,
    pub hop_limit: u8,
    /// The upper-layer protocol, after the extension headers.
    pub proto: u8,
    pub extensions: Vec<Extension>,
    /// The destination of the pseudo header when it is not `dst` (routing header).
    pub final_dst: Option<[u8; 16]>,
}

impl Ipv6 {
    pub fn new(proto: u8) -> Self {
        Ipv6 {
            src: IP6_SRC,
            dst: IP6_DST,
            class: 0xb9,
            label: 0xa_bcde,
            hop_limit: 64,
            proto,
            extensions: Vec::new(),
            final_dst: None,
        }
    }

    /// The IPv6 packet with payload `l4`; a TCP, UDP or ICMPv6 checksum in `l4` is filled in over
    /// the pseudo header unless a fragment header says this is a non-first fragment.
    pub fn build(&self, l4: &[u8]) -> Vec<u8> {
        let mut chain = Vec::new();
        let mut later_fragment = false;
        for (i, extension) in self.extensions.iter().enumerate() {
            let mut bytes = extension.bytes.clone();
            bytes[0] = self.extensions.get(i + 1).map_or(self.proto, |next| next.kind);
            if extension.kind == ip_proto::FRAGMENT && u16::from_be_bytes([bytes[2], bytes[3]]) & 0xfff8 != 0 {
                later_fragment = true;
            }
            chain.extend_from_slice(&bytes);
        }
        let first = self.extensions.first().map_or(self.proto, |e| e.kind);
        let mut l4 = l4.to_vec();
        if !later_fragment {
            let mut pseudo = Vec::new();
            pseudo.extend_from_slice(&self.src);
            pseudo.extend_from_slice(&self.final_dst.unwrap_or(self.dst));
            pseudo.extend_from_slice(&u32::try_from(l4.len()).unwrap().to_be_bytes());
            pseudo.extend_from_slice(&[0, 0, 0, self.proto]);
            fill_l4_checksum(&mut l4, self.proto, &pseudo);
        }
        let payload_len = chain.len() + l4.len();
        let first_word = (6u32 << 28) | (u32::from(self.class) << 20) | self.label;
        let mut packet = first_word.to_be_bytes().to_vec();
        packet.extend_from_slice(&u16::try_from(payload_len).unwrap().to_be_bytes());
        packet.extend_from_slice(&[first, self.hop_limit]);
        packet.extend_from_slice(&self.src);
        packet.extend_from_slice(&self.dst);
        packet.extend_from_slice(&chain);
        packet.extend_from_slice(&l4);
        packet
    }
}

/// A TCP header (data offset 5 plus `options` 4-byte words) with `flags` (12 bits) and payload.
pub fn tcp(src: u16, dst: u16, flags: u16, options: usize, payload: &[u8]) -> Vec<u8> {
    let mut segment = Vec::new();
    segment.extend_from_slice(&src.to_be_bytes());
    segment.extend_from_slice(&dst.to_be_bytes());
    segment.extend_from_slice(&[0, 0, 0x10, 0x01, 0, 0, 0x20, 0x02]);
    segment.extend_from_slice(&((u16::try_from(5 + options).unwrap() << 12) | flags).to_be_bytes());
    segment.extend_from_slice(&[0xff, 0xff, 0, 0, 0, 0]);
    segment.resize(segment.len() + 4 * options, 1);
    segment.extend_from_slice(payload);
    segment
}

/// A UDP header and payload (checksum filled in by the IP builder).
pub fn udp(src: u16, dst: u16, payload: &[u8]) -> Vec<u8> {
    let mut datagram = Vec::new();
    datagram.extend_from_slice(&src.to_be_bytes());
    datagram.extend_from_slice(&dst.to_be_bytes());
    datagram.extend_from_slice(&u16::try_from(8 + payload.len()).unwrap().to_be_bytes());
    datagram.extend_from_slice(&[0, 0]);
    datagram.extend_from_slice(payload);
    datagram
}

/// An SCTP common header and one DATA-like chunk, CRC32c set.
pub fn sctp(src: u16, dst: u16, payload: &[u8]) -> Vec<u8> {
    let mut packet = Vec::new();
    packet.extend_from_slice(&src.to_be_bytes());
    packet.extend_from_slice(&dst.to_be_bytes());
    packet.extend_from_slice(&[0xc0, 0xff, 0xee, 0x01, 0, 0, 0, 0]);
    packet.extend_from_slice(&[0, 3, 0, u8::try_from(4 + payload.len()).unwrap()]);
    packet.extend_from_slice(payload);
    let crc = crc32c_bitwise(&packet);
    packet[8..12].copy_from_slice(&crc.to_le_bytes());
    packet
}

/// An ICMP message, checksum set.
pub fn icmp(icmp_type: u8, code: u8, payload: &[u8]) -> Vec<u8> {
    let mut message = vec![icmp_type, code, 0, 0, 0x12, 0x34, 0x00, 0x01];
    message.extend_from_slice(payload);
    let checksum = internet_checksum(&message);
    message[2..4].copy_from_slice(&checksum.to_be_bytes());
    message
}

/// An ICMPv6 message (checksum filled in by the IPv6 builder); `body` follows the 4-byte header.
pub fn icmpv6(icmp_type: u8, code: u8, body: &[u8]) -> Vec<u8> {
    let mut message = vec![icmp_type, code, 0, 0];
    message.extend_from_slice(body);
    message
}

/// A link-layer address option of neighbour discovery.
pub fn nd_option(kind: u8, mac: [u8; 6]) -> Vec<u8> {
    let mut option = vec![kind, 1];
    option.extend_from_slice(&mac);
    option
}

/// A neighbour solicitation (135) or advertisement (136) for `target` with `options`.
pub fn nd(icmp_type: u8, target: [u8; 16], options: &[Vec<u8>]) -> Vec<u8> {
    let flags = if icmp_type == nd::NEIGHBOR_ADVERTISEMENT { 0x60 } else { 0 };
    let mut body = vec![flags, 0, 0, 0];
    body.extend_from_slice(&target);
    for option in options {
        body.extend_from_slice(option);
    }
    icmpv6(icmp_type, 0, &body)
}

/// An Ethernet/IPv4 ARP packet.
pub fn arp(op: u16, sha: [u8; 6], spa: [u8; 4], tha: [u8; 6], tpa: [u8; 4]) -> Vec<u8> {
    let mut packet = vec![0, 1, 0x08, 0x00, 6, 4];
    packet.extend_from_slice(&op.to_be_bytes());
    packet.extend_from_slice(&sha);
    packet.extend_from_slice(&spa);
    packet.extend_from_slice(&tha);
    packet.extend_from_slice(&tpa);
    packet
}

/// Checks every checksum of `frame` from scratch: the IPv4 header checksum, the TCP, UDP
/// (unless 0), ICMPv6 checksums over their pseudo header, the ICMP checksum and the SCTP CRC32c.
/// Panics with `what` on a wrong one. The IPv6 pseudo header uses `final_dst` when given.
pub fn assert_checksums(frame: &[u8], final_dst: Option<[u8; 16]>, what: &str) {
    let mut key = FlowKey::default();
    let layers: Layers = extract(frame, 1, &mut key);
    let Some(l3) = layers.l3.map(|at| usize::from(at.get())) else { return };
    let (pseudo, end) = match layers.dl_type {
        ethertype::IPV4 => {
            let header_len = usize::from(frame[l3] & 0x0f) * 4;
            assert_eq!(internet_checksum(&frame[l3..l3 + header_len]), 0, "{what}: IPv4 header checksum");
            let end = l3 + usize::from(u16::from_be_bytes([frame[l3 + 2], frame[l3 + 3]]));
            let Some(l4) = layers.l4.map(|at| usize::from(at.get())) else { return };
            let mut pseudo = frame[l3 + 12..l3 + 20].to_vec();
            pseudo.extend_from_slice(&[0, layers.l4_proto]);
            pseudo.extend_from_slice(&u16::try_from(end - l4).unwrap().to_be_bytes());
            (pseudo, end)
        }
        ethertype::IPV6 => {
            let end = l3 + 40 + usize::from(u16::from_be_bytes([frame[l3 + 4], frame[l3 + 5]]));
            let Some(l4) = layers.l4.map(|at| usize::from(at.get())) else { return };
            let mut pseudo = frame[l3 + 8..l3 + 24].to_vec();
            pseudo.extend_from_slice(&final_dst.unwrap_or(frame[l3 + 24..l3 + 40].try_into().unwrap()));
            pseudo.extend_from_slice(&u32::try_from(end - l4).unwrap().to_be_bytes());
            pseudo.extend_from_slice(&[0, 0, 0, layers.l4_proto]);
            (pseudo, end)
        }
        _ => return,
    };
    let l4 = usize::from(layers.l4.unwrap().get());
    let segment = &frame[l4..end];
    match layers.l4_proto {
        ip_proto::TCP | ip_proto::ICMPV6 => {
            let mut covered = pseudo;
            covered.extend_from_slice(segment);
            assert_eq!(internet_checksum(&covered), 0, "{what}: L4 checksum");
        }
        // A UDP checksum of 0 means none.
        ip_proto::UDP if segment[6..8] != [0, 0] => {
            let mut covered = pseudo;
            covered.extend_from_slice(segment);
            assert_eq!(internet_checksum(&covered), 0, "{what}: UDP checksum");
        }
        ip_proto::ICMP => assert_eq!(internet_checksum(segment), 0, "{what}: ICMP checksum"),
        ip_proto::SCTP => {
            let mut zeroed = segment.to_vec();
            zeroed[8..12].fill(0);
            let stored = u32::from_le_bytes(segment[8..12].try_into().unwrap());
            assert_eq!(crc32c_bitwise(&zeroed), stored, "{what}: SCTP CRC32c");
        }
        _ => {}
    }
}
