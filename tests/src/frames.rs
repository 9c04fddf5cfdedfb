//! Frames of several protocols for the datapath tests, and checks of what
//! comes out: Ethernet (optionally 802.1Q-tagged) with IPv4 (options and
//! fragments too) carrying UDP or TCP with correct checksums, and ARP;
//! numbered UDP frames of any length, each one distinct, for traffic runs;
//! the Internet checksum, computed from scratch, to verify the headers a
//! switch rewrote; the byte-for-byte comparison of what came out. Frames are
//! padded to the Ethernet minimum (60 bytes without FCS), so short ones carry
//! padding after the IP packet, as on the wire. (`pcap` writes and reads them
//! as files.)

pub const ETH_HEADER: usize = 14;
/// Smallest frame generated: the Ethernet minimum without FCS.
pub const MIN_FRAME: usize = 60;
/// Largest frame generated: a 1500-byte IP packet in Ethernet, without FCS.
pub const MAX_FRAME: usize = 1514;
const IPV4_HEADER: usize = 20;
const UDP_HEADER: usize = 8;
pub const ETH_TYPE_IPV4: u16 = 0x0800;
pub const ETH_TYPE_ARP: u16 = 0x0806;
pub const ETH_TYPE_VLAN: u16 = 0x8100;
pub const IPPROTO_TCP: u8 = 6;
pub const IPPROTO_UDP: u8 = 17;

/// A MAC address.
pub type Mac = [u8; 6];

/// What goes into an IPv4 packet.
#[derive(Debug, Clone)]
pub struct Ipv4 {
    pub src: [u8; 4],
    pub dst: [u8; 4],
    pub ttl: u8,
    pub tos: u8,
    pub id: u16,
    /// Fragment offset in 8-byte units, and the more-fragments and
    /// don't-fragment flags.
    pub frag_offset: u16,
    pub more_fragments: bool,
    pub dont_fragment: bool,
    /// IP options (a multiple of 4 bytes).
    pub options: Vec<u8>,
}

impl Ipv4 {
    /// An unfragmented packet without options, TTL 64.
    pub fn new(src: [u8; 4], dst: [u8; 4]) -> Ipv4 {
        Ipv4 {
            src,
            dst,
            ttl: 64,
            tos: 0,
            id: 0,
            frag_offset: 0,
            more_fragments: false,
            dont_fragment: false,
            options: Vec::new(),
        }
    }

    fn header(&self, proto: u8, payload_len: usize) -> Vec<u8> {
        assert_eq!(self.options.len() % 4, 0, "IP options must fill 32-bit words");
        let header_len = IPV4_HEADER + self.options.len();
        let total = u16::try_from(header_len + payload_len).expect("IP packet too long");
        let ihl = u8::try_from(header_len / 4).expect("too many options");
        let flags = (u16::from(self.dont_fragment) << 14) | (u16::from(self.more_fragments) << 13) | self.frag_offset;
        let mut header = vec![0x40 | ihl, self.tos];
        header.extend_from_slice(&total.to_be_bytes());
        header.extend_from_slice(&self.id.to_be_bytes());
        header.extend_from_slice(&flags.to_be_bytes());
        header.extend_from_slice(&[self.ttl, proto, 0, 0]);
        header.extend_from_slice(&self.src);
        header.extend_from_slice(&self.dst);
        header.extend_from_slice(&self.options);
        let checksum = checksum(&header);
        header[10..12].copy_from_slice(&checksum.to_be_bytes());
        header
    }
}

/// The Internet checksum (RFC 1071) of `data`: the one's complement of the
/// one's complement sum of its 16-bit words.
pub fn checksum(data: &[u8]) -> u16 {
    !ones_sum(0, data)
}

/// Adds the 16-bit words of `data` (an odd last byte padded with zero) to
/// `sum`, folded to 16 bits.
pub fn ones_sum(sum: u16, data: &[u8]) -> u16 {
    let mut total = u32::from(sum);
    for chunk in data.chunks(2) {
        let word = u16::from_be_bytes([chunk[0], *chunk.get(1).unwrap_or(&0)]);
        total += u32::from(word);
    }
    while total > 0xffff {
        total = (total & 0xffff) + (total >> 16);
    }
    u16::try_from(total).expect("folded to 16 bits")
}

/// The one's complement sum of a UDP or TCP segment under the IPv4
/// pseudo-header, before the final complement.
pub fn l4_sum(src: [u8; 4], dst: [u8; 4], proto: u8, segment: &[u8]) -> u16 {
    let len = u16::try_from(segment.len()).expect("segment too long");
    let mut pseudo = Vec::with_capacity(12);
    pseudo.extend_from_slice(&src);
    pseudo.extend_from_slice(&dst);
    pseudo.extend_from_slice(&[0, proto]);
    pseudo.extend_from_slice(&len.to_be_bytes());
    ones_sum(ones_sum(0, &pseudo), segment)
}

/// The checksum of a UDP or TCP segment (`segment` with its checksum field
/// zeroed) under the IPv4 pseudo-header; a UDP result of 0 is sent as 0xffff
/// (RFC 768).
pub fn l4_checksum(src: [u8; 4], dst: [u8; 4], proto: u8, segment: &[u8]) -> u16 {
    let sum = !l4_sum(src, dst, proto, segment);
    if sum == 0 && proto == IPPROTO_UDP {
        0xffff
    } else {
        sum
    }
}

/// An Ethernet frame: the MACs, the EtherType, `payload`, padded to 60 bytes.
pub fn ethernet(src: Mac, dst: Mac, eth_type: u16, payload: &[u8]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(ETH_HEADER + payload.len());
    frame.extend_from_slice(&dst);
    frame.extend_from_slice(&src);
    frame.extend_from_slice(&eth_type.to_be_bytes());
    frame.extend_from_slice(payload);
    if frame.len() < MIN_FRAME {
        frame.resize(MIN_FRAME, 0);
    }
    frame
}

/// An IPv4 packet of protocol `proto` carrying `payload` (already the L4
/// segment, checksums and all).
pub fn ipv4_packet(ip: &Ipv4, proto: u8, payload: &[u8]) -> Vec<u8> {
    let mut packet = ip.header(proto, payload.len());
    packet.extend_from_slice(payload);
    packet
}

/// A UDP datagram's bytes under `ip`; `with_checksum` false leaves the
/// checksum 0 ("none").
pub fn udp_segment(ip: &Ipv4, src_port: u16, dst_port: u16, payload: &[u8], with_checksum: bool) -> Vec<u8> {
    let len = u16::try_from(UDP_HEADER + payload.len()).expect("UDP datagram too long");
    let mut segment = Vec::with_capacity(usize::from(len));
    segment.extend_from_slice(&src_port.to_be_bytes());
    segment.extend_from_slice(&dst_port.to_be_bytes());
    segment.extend_from_slice(&len.to_be_bytes());
    segment.extend_from_slice(&[0, 0]);
    segment.extend_from_slice(payload);
    if with_checksum {
        let sum = l4_checksum(ip.src, ip.dst, IPPROTO_UDP, &segment);
        segment[6..8].copy_from_slice(&sum.to_be_bytes());
    }
    segment
}

/// A TCP segment (20-byte header, ACK|PSH) under `ip`, with its checksum.
pub fn tcp_segment(ip: &Ipv4, src_port: u16, dst_port: u16, seq: u32, payload: &[u8]) -> Vec<u8> {
    let mut segment = Vec::with_capacity(20 + payload.len());
    segment.extend_from_slice(&src_port.to_be_bytes());
    segment.extend_from_slice(&dst_port.to_be_bytes());
    segment.extend_from_slice(&seq.to_be_bytes());
    segment.extend_from_slice(&1u32.to_be_bytes()); // ack
    segment.extend_from_slice(&[0x50, 0x18]); // data offset 5, ACK|PSH
    segment.extend_from_slice(&0xffffu16.to_be_bytes()); // window
    segment.extend_from_slice(&[0, 0, 0, 0]); // checksum, urgent pointer
    segment.extend_from_slice(payload);
    let sum = l4_checksum(ip.src, ip.dst, IPPROTO_TCP, &segment);
    segment[16..18].copy_from_slice(&sum.to_be_bytes());
    segment
}

/// Ethernet + IPv4 + UDP.
pub fn udp_frame(src: Mac, dst: Mac, ip: &Ipv4, ports: (u16, u16), payload: &[u8], with_checksum: bool) -> Vec<u8> {
    let segment = udp_segment(ip, ports.0, ports.1, payload, with_checksum);
    ethernet(src, dst, ETH_TYPE_IPV4, &ipv4_packet(ip, IPPROTO_UDP, &segment))
}

/// Ethernet + IPv4 + TCP.
pub fn tcp_frame(src: Mac, dst: Mac, ip: &Ipv4, ports: (u16, u16), payload: &[u8]) -> Vec<u8> {
    let segment = tcp_segment(ip, ports.0, ports.1, 1000, payload);
    ethernet(src, dst, ETH_TYPE_IPV4, &ipv4_packet(ip, IPPROTO_TCP, &segment))
}

/// An Ethernet/IPv4/UDP frame of exactly `len` bytes (60..=1514) whose
/// addresses, ports, IP id and payload all depend on `index`, so no two
/// frames of a test are alike. `flow` tells sources apart (it goes into the
/// source MAC and IP). Don't-fragment set, no UDP checksum.
pub fn numbered_udp_frame(flow: u8, index: u32, len: usize) -> Vec<u8> {
    assert!((MIN_FRAME..=MAX_FRAME).contains(&len), "frame length {len} outside {MIN_FRAME}..={MAX_FRAME}");
    let id = index.to_be_bytes();
    // Locally administered unicast MACs.
    let src = [0x02, 0x01, flow, id[1], id[2], id[3]];
    let dst = [0x02, 0x00, 0x00, id[1], id[2], id[3]];
    let ip = Ipv4 {
        id: (index & 0xffff) as u16,
        dont_fragment: true,
        ..Ipv4::new([10, flow, id[2], id[3]], [10, 200, id[2], id[3]])
    };
    // Payload: the index, then a byte pattern that shifts with it.
    let payload_len = len - ETH_HEADER - IPV4_HEADER - UDP_HEADER;
    let mut payload: Vec<u8> = index.to_be_bytes().into_iter().chain(std::iter::once(flow)).collect();
    payload.extend((0..).map(|i: u32| (i.wrapping_mul(31).wrapping_add(index) & 0xff) as u8).take(payload_len));
    payload.truncate(payload_len);
    let ports = (1024 + (index % 50_000) as u16, 5000 + u16::from(flow));
    let frame = udp_frame(src, dst, &ip, ports, &payload, false);
    debug_assert_eq!(frame.len(), len);
    frame
}

/// `count` distinct frames of `flow` whose lengths sweep 60..=1514 (every
/// length class, small to jumbo-less maximum, in a scattered order).
pub fn varied_frames(flow: u8, count: u32) -> Vec<Vec<u8>> {
    let span = u32::try_from(MAX_FRAME - MIN_FRAME + 1).unwrap();
    (0..count).map(|i| numbered_udp_frame(flow, i, MIN_FRAME + (i.wrapping_mul(389) % span) as usize)).collect()
}

/// Panics unless `actual` holds exactly the frames of `expected`, in order,
/// byte for byte; the message names the first difference.
pub fn assert_same_frames(expected: &[Vec<u8>], actual: &[Vec<u8>], what: &str) {
    for (index, (want, got)) in expected.iter().zip(actual).enumerate() {
        if want != got {
            let first_byte = want.iter().zip(got.iter()).position(|(a, b)| a != b).unwrap_or(want.len().min(got.len()));
            panic!(
                "{what}: frame {index} differs (expected {} bytes, got {}; first difference at byte {first_byte})",
                want.len(),
                got.len()
            );
        }
    }
    assert_eq!(
        actual.len(),
        expected.len(),
        "{what}: {} frames instead of {} (the first {} are equal)",
        actual.len(),
        expected.len(),
        expected.len().min(actual.len())
    );
}

/// An ARP request from `src` (`spa`) for `tpa`, to broadcast.
pub fn arp_request(src: Mac, spa: [u8; 4], tpa: [u8; 4]) -> Vec<u8> {
    let mut arp = vec![0, 1, 0x08, 0x00, 6, 4, 0, 1];
    arp.extend_from_slice(&src);
    arp.extend_from_slice(&spa);
    arp.extend_from_slice(&[0; 6]);
    arp.extend_from_slice(&tpa);
    ethernet(src, [0xff; 6], ETH_TYPE_ARP, &arp)
}

/// `frame` with an 802.1Q tag of `tci` inserted after the MACs.
pub fn push_vlan(frame: &[u8], tci: u16) -> Vec<u8> {
    let mut tagged = Vec::with_capacity(frame.len() + 4);
    tagged.extend_from_slice(&frame[..12]);
    tagged.extend_from_slice(&ETH_TYPE_VLAN.to_be_bytes());
    tagged.extend_from_slice(&tci.to_be_bytes());
    tagged.extend_from_slice(&frame[12..]);
    tagged
}

/// Where the parts of an IPv4 frame are.
#[derive(Debug, Clone, Copy)]
pub struct Ipv4Layout {
    /// Offset of the IP header.
    pub l3: usize,
    pub header_len: usize,
    pub total_len: usize,
    pub proto: u8,
    /// Whether the packet holds the L4 header (not a later fragment).
    pub first_fragment: bool,
    /// Whether the packet is a whole datagram (not a fragment at all).
    pub whole: bool,
}

impl Ipv4Layout {
    pub fn l4(&self) -> usize {
        self.l3 + self.header_len
    }

    pub fn end(&self) -> usize {
        self.l3 + self.total_len
    }
}

/// The layout of an IPv4 frame, tagged or not; None for anything else.
pub fn ipv4_layout(frame: &[u8]) -> Option<Ipv4Layout> {
    let mut l3 = ETH_HEADER;
    let mut eth_type = u16::from_be_bytes([*frame.get(12)?, *frame.get(13)?]);
    if eth_type == ETH_TYPE_VLAN {
        eth_type = u16::from_be_bytes([*frame.get(16)?, *frame.get(17)?]);
        l3 += 4;
    }
    if eth_type != ETH_TYPE_IPV4 || frame.len() < l3 + IPV4_HEADER {
        return None;
    }
    let header_len = usize::from(frame[l3] & 0x0f) * 4;
    let total_len = usize::from(u16::from_be_bytes([frame[l3 + 2], frame[l3 + 3]]));
    let flags = u16::from_be_bytes([frame[l3 + 6], frame[l3 + 7]]);
    let offset = flags & 0x1fff;
    let more = flags & 0x2000 != 0;
    Some(Ipv4Layout {
        l3,
        header_len,
        total_len,
        proto: frame[l3 + 9],
        first_fragment: offset == 0,
        whole: offset == 0 && !more,
    })
}

/// Checks, from scratch, the IPv4 header checksum of an IPv4 frame and the
/// UDP/TCP checksum of a whole datagram (a UDP checksum of 0 means none).
pub fn verify_checksums(frame: &[u8]) -> Result<(), String> {
    let ip = ipv4_layout(frame).ok_or("not an IPv4 frame")?;
    if frame.len() < ip.end() || ip.total_len < ip.header_len {
        return Err(format!("IP total length {} does not fit the {}-byte frame", ip.total_len, frame.len()));
    }
    let header = &frame[ip.l3..ip.l4()];
    if checksum(header) != 0 {
        return Err(format!("bad IPv4 header checksum {:#06x}", u16::from_be_bytes([header[10], header[11]])));
    }
    if !ip.whole || !matches!(ip.proto, IPPROTO_UDP | IPPROTO_TCP) {
        return Ok(());
    }
    let src = [header[12], header[13], header[14], header[15]];
    let dst = [header[16], header[17], header[18], header[19]];
    let mut segment = frame[ip.l4()..ip.end()].to_vec();
    let at = if ip.proto == IPPROTO_UDP { 6 } else { 16 };
    let carried = u16::from_be_bytes([segment[at], segment[at + 1]]);
    if ip.proto == IPPROTO_UDP && carried == 0 {
        return Ok(());
    }
    segment[at..at + 2].copy_from_slice(&[0, 0]);
    let expected = l4_checksum(src, dst, ip.proto, &segment);
    if carried != expected {
        return Err(format!("bad L4 checksum {carried:#06x} (protocol {}), expected {expected:#06x}", ip.proto));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: Mac = [2, 0, 0, 0, 0, 1];
    const B: Mac = [2, 0, 0, 0, 0, 2];

    #[test]
    fn built_frames_verify() {
        let ip = Ipv4::new([10, 0, 0, 1], [10, 0, 0, 2]);
        let udp = udp_frame(A, B, &ip, (1000, 53), b"hello", true);
        assert_eq!(udp.len(), MIN_FRAME, "padded");
        verify_checksums(&udp).unwrap();
        verify_checksums(&tcp_frame(A, B, &ip, (1000, 80), &[7; 300])).unwrap();
        verify_checksums(&push_vlan(&udp, 5)).unwrap();
        let with_options = Ipv4 { options: vec![1, 1, 1, 0], ..ip.clone() };
        verify_checksums(&udp_frame(A, B, &with_options, (1, 2), &[9; 100], true)).unwrap();
        assert!(verify_checksums(&arp_request(A, [10, 0, 0, 1], [10, 0, 0, 2])).is_err());
    }

    #[test]
    fn corruption_is_found() {
        let ip = Ipv4::new([10, 0, 0, 1], [10, 0, 0, 2]);
        let mut udp = udp_frame(A, B, &ip, (1000, 53), &[1; 40], true);
        udp[ETH_HEADER + 12] ^= 1; // nw_src: both checksums are now wrong
        assert!(verify_checksums(&udp).unwrap_err().contains("IPv4 header"));
        // A correct IP checksum again: the UDP checksum is still wrong.
        udp[ETH_HEADER + 10..ETH_HEADER + 12].copy_from_slice(&[0, 0]);
        let sum = checksum(&udp[ETH_HEADER..ETH_HEADER + 20]);
        udp[ETH_HEADER + 10..ETH_HEADER + 12].copy_from_slice(&sum.to_be_bytes());
        assert!(verify_checksums(&udp).unwrap_err().contains("L4 checksum"));
        // No checksum is no error.
        let mut none = udp_frame(A, B, &ip, (1000, 53), &[1; 40], false);
        none[ETH_HEADER + 28 + 8] ^= 0xff;
        verify_checksums(&none).unwrap();
    }

    #[test]
    fn numbered_frames_have_their_length_and_are_distinct() {
        let frames = varied_frames(1, 1000);
        assert!(frames.iter().all(|f| (MIN_FRAME..=MAX_FRAME).contains(&f.len())));
        assert_eq!(frames.iter().map(Vec::len).min(), Some(MIN_FRAME));
        assert!(frames.iter().map(Vec::len).max() > Some(1400));
        let mut sorted = frames.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), frames.len(), "duplicate frames");
        assert_ne!(numbered_udp_frame(1, 7, 100), numbered_udp_frame(2, 7, 100));
    }

    #[test]
    fn numbered_frames_verify() {
        let frame = numbered_udp_frame(3, 12345, 200);
        verify_checksums(&frame).unwrap();
        assert_eq!(
            checksum(&frame[ETH_HEADER..ETH_HEADER + IPV4_HEADER]),
            0,
            "a header with its checksum sums to 0xffff"
        );
        assert_eq!(frame[ETH_HEADER + 6], 0x40, "don't fragment");
    }

    #[test]
    fn checksum_matches_rfc1071_example() {
        // RFC 1071 section 3: the sum of these words is 0xddf2.
        assert_eq!(ones_sum(0, &[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]), 0xddf2);
        assert_eq!(checksum(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]), !0xddf2);
    }
}
