//! Every rewrite, checked by extracting the result (only the rewritten field changed) and by
//! recomputing its checksums from scratch; VLAN push/pop round trips; the error cases.

use super::builder::*;
use super::samples::{self, ND_TARGET};
use crate::flow::key::{Field, FlowKey};
use crate::packet::proto::{ethertype, ip_proto};
use crate::packet::rewrite::{self, RewriteError};
use crate::packet::{extract, header_at, Layers, PacketBuf, TestBuf};

type Rewrite = fn(&mut TestBuf, &Layers) -> Result<(), RewriteError>;

const MAC_NEW: [u8; 6] = [0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f];
const IP4_NEW: [u8; 4] = [172, 16, 254, 1];
const IP6_NEW: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x99];

fn parse(frame: &[u8]) -> (FlowKey, Layers) {
    let mut key = FlowKey::default();
    let layers = extract(frame, 1, &mut key);
    (key, layers)
}

/// Applies `rewrite` to `frame` and checks that the result extracts to the same key except
/// `field`, now `value`, with the same layers and length, and right checksums.
fn check(name: &str, frame: &[u8], final_dst: Option<[u8; 16]>, field: Field, value: &[u8], rewrite: Rewrite) {
    let what = format!("{name}: {field}");
    let (before, layers) = parse(frame);
    let mut buf = TestBuf::from_bytes(frame);
    rewrite(&mut buf, &layers).unwrap_or_else(|e| panic!("{what}: {e}"));
    assert_eq!(buf.data().len(), frame.len(), "{what}");
    let (after, layers_after) = parse(buf.data());
    assert_eq!(layers_after, layers, "{what}");
    assert_eq!(after.get(field), value, "{what}");
    let mut expected = before;
    expected.set(field, value);
    assert_eq!(after, expected, "{what}");
    assert_checksums(buf.data(), final_dst, &what);
}

#[test]
fn ethernet_addresses() {
    for (name, frame) in samples::all() {
        let final_dst = samples::final_dst(name);
        check(name, &frame, final_dst, Field::DlSrc, &MAC_NEW, |b, _| rewrite::set_eth_src(b, MAC_NEW));
        check(name, &frame, final_dst, Field::DlDst, &MAC_NEW, |b, _| rewrite::set_eth_dst(b, MAC_NEW));
    }
    let mut runt = TestBuf::from_bytes(&[0; 13]);
    assert_eq!(rewrite::set_eth_src(&mut runt, MAC_NEW), Err(RewriteError::MissingHeader));
}

/// The IPv4 rewrites on a sample whose TOS is 0xb9.
fn ipv4_rewrites(name: &str, frame: &[u8]) {
    check(name, frame, None, Field::NwSrc, &IP4_NEW, |b, l| rewrite::set_ipv4_src(b, l, IP4_NEW));
    check(name, frame, None, Field::NwDst, &IP4_NEW, |b, l| rewrite::set_ipv4_dst(b, l, IP4_NEW));
    check(name, frame, None, Field::NwTos, &[0x10], |b, l| rewrite::set_ipv4_tos(b, l, 0x10));
    check(name, frame, None, Field::NwTos, &[0x29], |b, l| rewrite::set_ipv4_dscp(b, l, 10));
    check(name, frame, None, Field::NwTos, &[0xba], |b, l| rewrite::set_ipv4_ecn(b, l, 2));
    check(name, frame, None, Field::NwTtl, &[9], |b, l| rewrite::set_ipv4_ttl(b, l, 9));
    check(name, frame, None, Field::NwTtl, &[63], |b, l| rewrite::dec_ttl(b, l).map(|forward| assert!(forward)));
}

fn port_rewrites(name: &str, frame: &[u8], final_dst: Option<[u8; 16]>) {
    check(name, frame, final_dst, Field::TpSrc, &[0xbe, 0xef], |b, l| rewrite::set_tp_src(b, l, 0xbeef));
    check(name, frame, final_dst, Field::TpDst, &[0x00, 0x16], |b, l| rewrite::set_tp_dst(b, l, 22));
}

#[test]
fn ipv4_tcp_udp_sctp_icmp() {
    for (name, frame) in [
        ("ipv4_tcp", samples::ipv4_tcp()),
        ("vlan_ipv4_udp", samples::vlan_ipv4_udp()),
        ("ipv4_udp_padded", samples::ipv4_udp_padded()),
        ("ipv4_sctp", samples::ipv4_sctp()),
        ("ipv4_first_fragment", samples::ipv4_first_fragment()),
    ] {
        ipv4_rewrites(name, &frame);
        port_rewrites(name, &frame, None);
    }
    let frame = samples::ipv4_icmp();
    ipv4_rewrites("ipv4_icmp", &frame);
    check("ipv4_icmp", &frame, None, Field::IcmpType, &[0], |b, l| rewrite::set_icmp_type(b, l, 0));
    check("ipv4_icmp", &frame, None, Field::IcmpCode, &[3], |b, l| rewrite::set_icmp_code(b, l, 3));
}

#[test]
fn later_fragment_keeps_its_payload() {
    let frame = samples::ipv4_later_fragment();
    ipv4_rewrites("ipv4_later_fragment", &frame);
    let (_, layers) = parse(&frame);
    let mut buf = TestBuf::from_bytes(&frame);
    rewrite::set_ipv4_src(&mut buf, &layers, IP4_NEW).unwrap();
    assert_eq!(buf.data()[34..], frame[34..], "payload of a later fragment changed");
    assert_eq!(rewrite::set_tp_src(&mut buf, &layers, 1), Err(RewriteError::MissingHeader));
}

#[test]
fn udp_without_checksum_stays_without() {
    let mut frame = samples::vlan_ipv4_udp();
    frame[38 + 6..38 + 8].fill(0);
    let (_, layers) = parse(&frame);
    let mut buf = TestBuf::from_bytes(&frame);
    rewrite::set_ipv4_src(&mut buf, &layers, IP4_NEW).unwrap();
    rewrite::set_ipv4_dst(&mut buf, &layers, IP4_NEW).unwrap();
    rewrite::set_tp_src(&mut buf, &layers, 7).unwrap();
    assert_eq!(buf.data()[38 + 6..38 + 8], [0, 0]);
    assert_checksums(buf.data(), None, "udp without checksum");
}

#[test]
fn udp_checksum_that_comes_out_zero_is_sent_as_ffff() {
    let frame = samples::vlan_ipv4_udp();
    let (_, layers) = parse(&frame);
    let checksum = u16::from_be_bytes([frame[44], frame[45]]);
    let old_port = [frame[38], frame[39]];
    let port = (0..=u16::MAX)
        .find(|p| crate::packet::checksum::update(checksum, &old_port, &p.to_be_bytes()) == 0)
        .expect("a port that zeroes the checksum");
    let mut buf = TestBuf::from_bytes(&frame);
    rewrite::set_tp_src(&mut buf, &layers, port).unwrap();
    assert_eq!(buf.data()[44..46], [0xff, 0xff]);
    assert_checksums(buf.data(), None, "udp checksum 0xffff");
}

#[test]
fn sctp_keeps_a_wrong_crc_wrong() {
    let mut frame = samples::ipv4_sctp();
    let l4 = 34;
    frame[l4 + 8] ^= 0x5a;
    let (_, layers) = parse(&frame);
    let mut buf = TestBuf::from_bytes(&frame);
    rewrite::set_tp_dst(&mut buf, &layers, 9).unwrap();
    let sctp = &buf.data()[l4..];
    let mut zeroed = sctp.to_vec();
    zeroed[8..12].fill(0);
    let stored = u32::from_le_bytes(sctp[8..12].try_into().unwrap());
    assert_eq!(stored ^ crc32c_bitwise(&zeroed), 0x5a);
}

/// The IPv6 rewrites on a sample with traffic class 0xb9.
fn ipv6_rewrites(name: &str, frame: &[u8], final_dst: Option<[u8; 16]>) {
    check(name, frame, final_dst, Field::Ipv6Src, &IP6_NEW, |b, l| rewrite::set_ipv6_src(b, l, IP6_NEW));
    check(name, frame, final_dst, Field::Ipv6Dst, &IP6_NEW, |b, l| rewrite::set_ipv6_dst(b, l, IP6_NEW));
    check(name, frame, final_dst, Field::Ipv6Label, &[0, 1, 0x23, 0x45], |b, l| {
        rewrite::set_ipv6_label(b, l, 0x1_2345)
    });
    check(name, frame, final_dst, Field::NwTos, &[0x10], |b, l| rewrite::set_ipv6_tc(b, l, 0x10));
    check(name, frame, final_dst, Field::NwTos, &[0x29], |b, l| rewrite::set_ipv6_dscp(b, l, 10));
    check(name, frame, final_dst, Field::NwTos, &[0xba], |b, l| rewrite::set_ipv6_ecn(b, l, 2));
    check(name, frame, final_dst, Field::NwTtl, &[1], |b, l| rewrite::set_ipv6_hop_limit(b, l, 1));
    check(name, frame, final_dst, Field::NwTtl, &[63], |b, l| rewrite::dec_ttl(b, l).map(|forward| assert!(forward)));
}

#[test]
fn ipv6_tcp_udp_icmpv6() {
    for (name, frame) in
        [("qinq_ipv6_tcp", samples::qinq_ipv6_tcp()), ("ipv6_extensions_udp", samples::ipv6_extensions_udp())]
    {
        ipv6_rewrites(name, &frame, None);
        port_rewrites(name, &frame, None);
    }
    let frame = samples::ipv6_routing_udp();
    ipv6_rewrites("ipv6_routing_udp", &frame, Some(ND_TARGET));
    port_rewrites("ipv6_routing_udp", &frame, Some(ND_TARGET));
    ipv6_rewrites("ipv6_later_fragment", &samples::ipv6_later_fragment(), None);

    let frame = samples::ipv6_icmpv6_echo();
    ipv6_rewrites("ipv6_icmpv6_echo", &frame, None);
    check("ipv6_icmpv6_echo", &frame, None, Field::IcmpType, &[129], |b, l| rewrite::set_icmp_type(b, l, 129));
    check("ipv6_icmpv6_echo", &frame, None, Field::IcmpCode, &[5], |b, l| rewrite::set_icmp_code(b, l, 5));
}

#[test]
fn neighbour_discovery() {
    for (name, frame) in [
        ("ipv6_nd_solicitation", samples::ipv6_nd_solicitation()),
        ("ipv6_nd_advertisement", samples::ipv6_nd_advertisement()),
    ] {
        ipv6_rewrites(name, &frame, None);
        check(name, &frame, None, Field::NdTarget, &IP6_NEW, |b, l| rewrite::set_nd_target(b, l, IP6_NEW));
    }
    let solicitation = samples::ipv6_nd_solicitation();
    check("solicitation", &solicitation, None, Field::NdSll, &MAC_NEW, |b, l| rewrite::set_nd_sll(b, l, MAC_NEW));
    let advertisement = samples::ipv6_nd_advertisement();
    check("advertisement", &advertisement, None, Field::NdTll, &MAC_NEW, |b, l| rewrite::set_nd_tll(b, l, MAC_NEW));

    let (_, layers) = parse(&advertisement);
    let mut buf = TestBuf::from_bytes(&advertisement);
    assert_eq!(rewrite::set_nd_sll(&mut buf, &layers, MAC_NEW), Err(RewriteError::MissingHeader));
    let (_, layers) = parse(&samples::ipv6_icmpv6_echo());
    let mut buf = TestBuf::from_bytes(&samples::ipv6_icmpv6_echo());
    assert_eq!(rewrite::set_nd_target(&mut buf, &layers, IP6_NEW), Err(RewriteError::MissingHeader));
    assert_eq!(buf.data(), samples::ipv6_icmpv6_echo());
}

#[test]
fn routing_header_with_segments_left_keeps_the_l4_checksum() {
    let frame = samples::ipv6_routing_udp();
    let (_, layers) = parse(&frame);
    let l4 = usize::from(layers.l4.unwrap().get());
    let mut buf = TestBuf::from_bytes(&frame);
    rewrite::set_ipv6_dst(&mut buf, &layers, IP6_NEW).unwrap();
    assert_eq!(buf.data()[l4 + 6..l4 + 8], frame[l4 + 6..l4 + 8]);
}

#[test]
fn arp_fields() {
    let frame = samples::arp_request();
    check("arp", &frame, None, Field::ArpOp, &[2], |b, l| rewrite::set_arp_op(b, l, 2));
    check("arp", &frame, None, Field::ArpSha, &MAC_NEW, |b, l| rewrite::set_arp_sha(b, l, MAC_NEW));
    check("arp", &frame, None, Field::ArpTha, &MAC_NEW, |b, l| rewrite::set_arp_tha(b, l, MAC_NEW));
    check("arp", &frame, None, Field::ArpSpa, &IP4_NEW, |b, l| rewrite::set_arp_spa(b, l, IP4_NEW));
    check("arp", &frame, None, Field::ArpTpa, &IP4_NEW, |b, l| rewrite::set_arp_tpa(b, l, IP4_NEW));
}

#[test]
fn dec_ttl_stops_at_one() {
    for (name, frame, ttl_at) in [("ipv4", samples::ipv4_tcp(), 14 + 8), ("ipv6", samples::ipv6_icmpv6_echo(), 14 + 7)]
    {
        for ttl in [0, 1] {
            let mut frame = frame.clone();
            frame[ttl_at] = ttl;
            if name == "ipv4" {
                // Keep the header checksum right for the new TTL.
                frame[24..26].fill(0);
                let checksum = internet_checksum(&frame[14..42]);
                frame[24..26].copy_from_slice(&checksum.to_be_bytes());
            }
            let (_, layers) = parse(&frame);
            let mut buf = TestBuf::from_bytes(&frame);
            assert_eq!(rewrite::dec_ttl(&mut buf, &layers), Ok(false), "{name} ttl {ttl}");
            assert_eq!(buf.data(), frame, "{name} ttl {ttl}");
        }
    }
    let (_, layers) = parse(&samples::arp_request());
    let mut buf = TestBuf::from_bytes(&samples::arp_request());
    assert_eq!(rewrite::dec_ttl(&mut buf, &layers), Err(RewriteError::MissingHeader));
}

#[test]
fn vlan_push_pop_round_trips() {
    for (name, frame) in samples::all() {
        let (key, layers) = parse(&frame);
        let mut buf = TestBuf::from_bytes(&frame);
        let mut pushed = layers;
        rewrite::push_vlan(&mut buf, &mut pushed, ethertype::QINQ, 0xf123).unwrap();
        assert_eq!(buf.data().len(), frame.len() + 4);
        assert_eq!(buf.data()[12..16], [0x88, 0xa8, 0xe1, 0x23], "{name}: the DEI bit is cleared");
        assert_eq!(buf.data()[..12], frame[..12]);
        assert_eq!(buf.data()[16..], frame[12..]);
        let (pushed_key, fresh) = parse(buf.data());
        if key.get_u64(Field::VlanTci2) == 0 {
            // (A third tag would end the parse.)
            assert_eq!((pushed.l2_5, pushed.l3, pushed.l4), (fresh.l2_5, fresh.l3, fresh.l4), "{name}");
        }
        assert_eq!(pushed_key.get_u64(Field::VlanTci), 0xf123, "{name}");
        assert_eq!(pushed_key.get(Field::VlanTci2), key.get(Field::VlanTci), "{name}: old outer tag is inner");
        // Rewrites keep working on the shifted offsets.
        if layers.l3.is_some() && layers.dl_type == ethertype::IPV4 {
            rewrite::set_ipv4_src(&mut buf, &pushed, IP4_NEW).unwrap();
            assert_checksums(buf.data(), samples::final_dst(name), name);
            rewrite::set_ipv4_src(&mut buf, &pushed, IP4_SRC).unwrap();
        }
        rewrite::pop_vlan(&mut buf, &mut pushed).unwrap();
        assert_eq!(buf.data(), frame, "{name}");
        assert_eq!(pushed, layers, "{name}");
    }
}

#[test]
fn vlan_pop_of_qinq_and_tag_fields() {
    let frame = samples::qinq_ipv6_tcp();
    let (_, mut layers) = parse(&frame);
    let mut buf = TestBuf::from_bytes(&frame);
    check("qinq", &frame, None, Field::VlanTci, &[0x7f, 0xff], |b, _| rewrite::set_vlan_vid(b, 0xfff));
    check("qinq", &frame, None, Field::VlanTci, &[0xf0, 0x0a], |b, _| rewrite::set_vlan_pcp(b, 7));
    rewrite::pop_vlan(&mut buf, &mut layers).unwrap();
    assert_eq!(layers, parse(buf.data()).1);
    assert_eq!(layers.l2_5, header_at(12));
    rewrite::pop_vlan(&mut buf, &mut layers).unwrap();
    assert_eq!(layers, parse(buf.data()).1);
    assert_eq!(layers.l2_5, None);
    assert_eq!(rewrite::pop_vlan(&mut buf, &mut layers), Err(RewriteError::MissingHeader));
    assert_eq!(rewrite::set_vlan_vid(&mut buf, 1), Err(RewriteError::MissingHeader));
    assert_eq!(rewrite::set_vlan_pcp(&mut buf, 1), Err(RewriteError::MissingHeader));
    assert_checksums(buf.data(), None, "qinq popped twice");
}

#[test]
fn invalid_values_and_missing_headroom() {
    let frame = samples::vlan_ipv4_udp();
    let (_, mut layers) = parse(&frame);
    let mut buf = TestBuf::from_bytes(&frame);
    assert_eq!(rewrite::set_vlan_vid(&mut buf, 4096), Err(RewriteError::InvalidValue));
    assert_eq!(rewrite::set_vlan_pcp(&mut buf, 8), Err(RewriteError::InvalidValue));
    assert_eq!(rewrite::set_ipv4_dscp(&mut buf, &layers, 64), Err(RewriteError::InvalidValue));
    assert_eq!(rewrite::set_ipv4_ecn(&mut buf, &layers, 4), Err(RewriteError::InvalidValue));
    assert_eq!(rewrite::push_vlan(&mut buf, &mut layers, ethertype::IPV4, 1), Err(RewriteError::InvalidValue));
    let (_, v6) = parse(&samples::qinq_ipv6_tcp());
    let mut buf6 = TestBuf::from_bytes(&samples::qinq_ipv6_tcp());
    assert_eq!(rewrite::set_ipv6_label(&mut buf6, &v6, 0x10_0000), Err(RewriteError::InvalidValue));
    assert_eq!(rewrite::set_ipv6_dscp(&mut buf6, &v6, 64), Err(RewriteError::InvalidValue));
    assert_eq!(rewrite::set_ipv6_ecn(&mut buf6, &v6, 4), Err(RewriteError::InvalidValue));

    let mut tight = TestBuf::with_headroom(&frame, 3);
    assert_eq!(rewrite::push_vlan(&mut tight, &mut layers, ethertype::VLAN, 1), Err(RewriteError::NoHeadroom));
    assert_eq!(tight.data(), frame);
    assert_eq!(tight.headroom(), 3);
    assert_eq!(buf.data(), frame);
}

#[test]
fn wrong_protocol_is_a_missing_header() {
    let (_, v4) = parse(&samples::ipv4_tcp());
    let (_, v6) = parse(&samples::qinq_ipv6_tcp());
    let (_, arp) = parse(&samples::arp_request());
    let mut buf = TestBuf::from_bytes(&samples::ipv4_tcp());
    assert_eq!(rewrite::set_ipv4_src(&mut buf, &v6, IP4_NEW), Err(RewriteError::MissingHeader));
    assert_eq!(rewrite::set_ipv6_src(&mut buf, &v4, IP6_NEW), Err(RewriteError::MissingHeader));
    assert_eq!(rewrite::set_arp_op(&mut buf, &v4, 1), Err(RewriteError::MissingHeader));
    assert_eq!(rewrite::set_icmp_type(&mut buf, &v4, 1), Err(RewriteError::MissingHeader));
    assert_eq!(rewrite::set_tp_src(&mut buf, &arp, 1), Err(RewriteError::MissingHeader));
    let (_, icmp) = parse(&samples::ipv4_icmp());
    assert_eq!(rewrite::set_tp_src(&mut buf, &icmp, 1), Err(RewriteError::MissingHeader));
    assert_eq!(buf.data(), samples::ipv4_tcp());
}

#[test]
fn layers_of_another_packet_are_refused_without_change() {
    let long = samples::ipv6_extensions_udp();
    let (_, layers) = parse(&long);
    let short = ethernet(&[], ethertype::IPV6, &Ipv6::new(ip_proto::UDP).build(&udp(1, 2, &[])));
    let mut buf = TestBuf::from_bytes(&short);
    assert_eq!(rewrite::set_tp_src(&mut buf, &layers, 1), Err(RewriteError::Truncated));
    assert_eq!(rewrite::set_ipv6_src(&mut buf, &layers, IP6_NEW), Err(RewriteError::Truncated));
    let (_, v4) = parse(&samples::ipv4_tcp());
    let mut tiny = TestBuf::from_bytes(&short[..30]);
    assert_eq!(rewrite::set_ipv4_ttl(&mut tiny, &v4, 1), Err(RewriteError::Truncated));
    assert_eq!(buf.data(), short);
    assert_eq!(tiny.data(), &short[..30]);
}

#[test]
fn meter_remark_raises_the_af_drop_precedence() {
    assert_eq!(rewrite::raised_drop_precedence(10, 1), 12, "AF11 -> AF12");
    assert_eq!(rewrite::raised_drop_precedence(12, 5), 14, "AF12 -> AF13 at most");
    assert_eq!(rewrite::raised_drop_precedence(38, 1), 38, "AF43 stays");
    assert_eq!(rewrite::raised_drop_precedence(46, 1), 46, "EF stays");
    assert_eq!(rewrite::raised_drop_precedence(0, 2), 0, "best effort stays");
    // The samples' TOS is 0xb9 (EF): made AF11 (ECN kept) first.
    let (_, layers) = parse(&samples::ipv4_tcp());
    let mut af11 = TestBuf::from_bytes(&samples::ipv4_tcp());
    rewrite::set_ipv4_dscp(&mut af11, &layers, 10).expect("AF11");
    check("ipv4_tcp AF11", af11.data(), None, Field::NwTos, &[0x31], |b, l| rewrite::remark_dscp(b, l, 1));
    check("ipv4_tcp EF", &samples::ipv4_tcp(), None, Field::NwTos, &[0xb9], |b, l| rewrite::remark_dscp(b, l, 1));
}
