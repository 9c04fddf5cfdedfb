//! Sample packets of every shape the parser knows, shared by the truncation, rewrite and random
//! tests.

use super::builder::*;
use crate::packet::proto::{ethertype, ip_proto, nd};

pub const TAG_OUTER: (u16, u16) = (ethertype::QINQ, 0x600a);
pub const TAG_INNER: (u16, u16) = (ethertype::VLAN, 0x2014);
pub const ND_TARGET: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xab, 0xcd];
pub const MAC_SLL: [u8; 6] = [0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0x01];
pub const MAC_TLL: [u8; 6] = [0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0x02];

pub fn ipv4_tcp() -> Vec<u8> {
    let mut ip = Ipv4::new(ip_proto::TCP);
    ip.options = vec![1, 1, 1, 0, 0x44, 4, 5, 0];
    ethernet(&[], ethertype::IPV4, &ip.build(&tcp(40000, 80, 0x0c12, 1, b"hello, world")))
}

/// IPv4 without options, untagged: the datapath's common frame.
pub fn plain_ipv4_tcp() -> Vec<u8> {
    ethernet(&[], ethertype::IPV4, &Ipv4::new(ip_proto::TCP).build(&tcp(40001, 443, 0x0018, 0, b"GET / HTTP/1.1")))
}

pub fn vlan_ipv4_udp() -> Vec<u8> {
    ethernet(&[TAG_INNER], ethertype::IPV4, &Ipv4::new(ip_proto::UDP).build(&udp(5353, 4789, b"payload!")))
}

pub fn ipv4_udp_padded() -> Vec<u8> {
    let mut frame = ethernet(&[], ethertype::IPV4, &Ipv4::new(ip_proto::UDP).build(&udp(1000, 2000, b"x")));
    frame.resize(60, 0);
    frame
}

pub fn ipv4_sctp() -> Vec<u8> {
    ethernet(&[], ethertype::IPV4, &Ipv4::new(ip_proto::SCTP).build(&sctp(3868, 2905, b"diameter")))
}

pub fn ipv4_icmp() -> Vec<u8> {
    ethernet(&[TAG_INNER], ethertype::IPV4, &Ipv4::new(ip_proto::ICMP).build(&icmp(8, 0, b"ping ping")))
}

pub fn ipv4_first_fragment() -> Vec<u8> {
    let mut ip = Ipv4::new(ip_proto::UDP);
    ip.fragment = 0x2000;
    ethernet(&[], ethertype::IPV4, &ip.build(&udp(1111, 2222, &[7; 24])))
}

pub fn ipv4_later_fragment() -> Vec<u8> {
    let mut ip = Ipv4::new(ip_proto::UDP);
    ip.fragment = 0x0003;
    ethernet(&[], ethertype::IPV4, &ip.build(&[9; 24]))
}

pub fn qinq_ipv6_tcp() -> Vec<u8> {
    ethernet(
        &[TAG_OUTER, TAG_INNER],
        ethertype::IPV6,
        &Ipv6::new(ip_proto::TCP).build(&tcp(443, 51000, 0x018, 0, b"tls")),
    )
}

pub fn ipv6_extensions_udp() -> Vec<u8> {
    let mut ip = Ipv6::new(ip_proto::UDP);
    ip.extensions = vec![
        options_header(ip_proto::HOP_BY_HOP, 0),
        options_header(ip_proto::DESTINATION_OPTIONS, 1),
        routing_header(0, &[ND_TARGET]),
        auth_header(4),
        fragment_header(0, true),
    ];
    ethernet(&[], ethertype::IPV6, &ip.build(&udp(546, 547, b"dhcpv6")))
}

pub fn ipv6_routing_udp() -> Vec<u8> {
    let mut ip = Ipv6::new(ip_proto::UDP);
    ip.extensions = vec![routing_header(1, &[ND_TARGET])];
    ip.final_dst = Some(ND_TARGET);
    ethernet(&[], ethertype::IPV6, &ip.build(&udp(7, 7, b"echo")))
}

pub fn ipv6_later_fragment() -> Vec<u8> {
    let mut ip = Ipv6::new(ip_proto::TCP);
    ip.extensions = vec![fragment_header(185, true)];
    ethernet(&[], ethertype::IPV6, &ip.build(&[3; 16]))
}

pub fn ipv6_icmpv6_echo() -> Vec<u8> {
    ethernet(&[], ethertype::IPV6, &Ipv6::new(ip_proto::ICMPV6).build(&icmpv6(128, 0, &[0, 1, 0, 2, 0xaa])))
}

pub fn ipv6_nd_solicitation() -> Vec<u8> {
    let message = nd(nd::NEIGHBOR_SOLICITATION, ND_TARGET, &[nd_option(nd::OPTION_SOURCE_LL, MAC_SLL)]);
    ethernet(&[], ethertype::IPV6, &Ipv6::new(ip_proto::ICMPV6).build(&message))
}

pub fn ipv6_nd_advertisement() -> Vec<u8> {
    let options = [vec![14, 1, 0, 0, 0, 0, 0, 0], nd_option(nd::OPTION_TARGET_LL, MAC_TLL)];
    let message = nd(nd::NEIGHBOR_ADVERTISEMENT, ND_TARGET, &options);
    ethernet(&[TAG_INNER], ethertype::IPV6, &Ipv6::new(ip_proto::ICMPV6).build(&message))
}

pub fn arp_request() -> Vec<u8> {
    ethernet(&[], ethertype::ARP, &arp(1, MAC_SRC, IP4_SRC, [0; 6], IP4_DST))
}

pub fn llc_snap_ipv4_udp() -> Vec<u8> {
    let ip = Ipv4::new(ip_proto::UDP).build(&udp(53, 53, b"dns"));
    let mut payload = vec![0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x00];
    payload.extend_from_slice(&ip);
    ethernet(&[], u16::try_from(payload.len()).unwrap(), &payload)
}

/// Two MPLS label stack entries over IPv4/UDP (not in `all`: the truncation test's layer
/// groups do not fit a label stack; `tests::mpls` cuts it its own way).
pub fn mpls_ipv4_udp() -> Vec<u8> {
    let mut payload = [0x0006_4140_u32, 0x000c_813f].iter().flat_map(|lse| lse.to_be_bytes()).collect::<Vec<u8>>();
    payload.extend_from_slice(&Ipv4::new(ip_proto::UDP).build(&udp(1000, 2000, b"inner")));
    ethernet(&[], ethertype::MPLS, &payload)
}

/// The destination of the L4 pseudo header of a sample, when it is not the IPv6 destination.
pub fn final_dst(name: &str) -> Option<[u8; 16]> {
    (name == "ipv6_routing_udp").then_some(ND_TARGET)
}

/// Every sample with its name.
pub fn all() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("ipv4_tcp", ipv4_tcp()),
        ("plain_ipv4_tcp", plain_ipv4_tcp()),
        ("vlan_ipv4_udp", vlan_ipv4_udp()),
        ("ipv4_udp_padded", ipv4_udp_padded()),
        ("ipv4_sctp", ipv4_sctp()),
        ("ipv4_icmp", ipv4_icmp()),
        ("ipv4_first_fragment", ipv4_first_fragment()),
        ("ipv4_later_fragment", ipv4_later_fragment()),
        ("qinq_ipv6_tcp", qinq_ipv6_tcp()),
        ("ipv6_extensions_udp", ipv6_extensions_udp()),
        ("ipv6_routing_udp", ipv6_routing_udp()),
        ("ipv6_later_fragment", ipv6_later_fragment()),
        ("ipv6_icmpv6_echo", ipv6_icmpv6_echo()),
        ("ipv6_nd_solicitation", ipv6_nd_solicitation()),
        ("ipv6_nd_advertisement", ipv6_nd_advertisement()),
        ("arp_request", arp_request()),
        ("llc_snap_ipv4_udp", llc_snap_ipv4_udp()),
    ]
}
