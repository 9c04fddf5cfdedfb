//! Extraction of every protocol, the `present` words contract, and every truncation of the sample
//! packets.

use super::builder::*;
use super::samples::{self, MAC_SLL, MAC_TLL, ND_TARGET, TAG_INNER, TAG_OUTER};
use crate::flow::key::{words, Field, FlowKey, KEY_WORDS};
use crate::packet::extract::at;
use crate::packet::proto::{ethertype, ip_proto, ipv6_exthdr, nd};
use crate::packet::{extract, header_at, Layers};

const IN_PORT: u32 = 7;

fn parse(frame: &[u8]) -> (FlowKey, Layers) {
    let mut key = FlowKey::default();
    let layers = extract(frame, IN_PORT, &mut key);
    (key, layers)
}

/// A key with `in_port` and `fields`.
fn key_with(fields: &[(Field, &[u8])]) -> FlowKey {
    let mut key = FlowKey::default();
    key.set_u64(Field::InPort, u64::from(IN_PORT));
    for (field, value) in fields {
        assert_eq!(value.len(), field.def().bytes, "test value of {field}");
        key.set(*field, value);
    }
    key
}

fn be16(value: u16) -> [u8; 2] {
    value.to_be_bytes()
}

/// The fields of an Ethernet frame from the builder with `dl_type`.
fn l2(dl_type: u16) -> Vec<(Field, Vec<u8>)> {
    vec![(Field::DlDst, MAC_DST.to_vec()), (Field::DlSrc, MAC_SRC.to_vec()), (Field::DlType, be16(dl_type).to_vec())]
}

fn assert_key(frame: &[u8], fields: &[(Field, Vec<u8>)], what: &str) -> Layers {
    let (key, layers) = parse(frame);
    let fields: Vec<(Field, &[u8])> = fields.iter().map(|(f, v)| (*f, v.as_slice())).collect();
    assert_eq!(key, key_with(&fields), "{what}");
    layers
}

fn with(mut base: Vec<(Field, Vec<u8>)>, more: &[(Field, &[u8])]) -> Vec<(Field, Vec<u8>)> {
    base.extend(more.iter().map(|(f, v)| (*f, v.to_vec())));
    base
}

#[test]
fn field_offsets_match_the_registry() {
    let pairs = [
        (at::IN_PORT, Field::InPort),
        (at::DL_TYPE, Field::DlType),
        (at::VLAN_TCI, Field::VlanTci),
        (at::DL_DST, Field::DlDst),
        (at::NW_PROTO, Field::NwProto),
        (at::NW_PROTO, Field::ArpOp),
        (at::NW_FRAG, Field::NwFrag),
        (at::DL_SRC, Field::DlSrc),
        (at::NW_TOS, Field::NwTos),
        (at::NW_TTL, Field::NwTtl),
        (at::NW_SRC, Field::NwSrc),
        (at::NW_SRC, Field::ArpSpa),
        (at::NW_DST, Field::NwDst),
        (at::NW_DST, Field::ArpTpa),
        (at::TP_SRC, Field::TpSrc),
        (at::TP_SRC + 1, Field::IcmpType),
        (at::TP_DST, Field::TpDst),
        (at::TP_DST + 1, Field::IcmpCode),
        (at::TCP_FLAGS, Field::TcpFlags),
        (at::VLAN_TCI2, Field::VlanTci2),
        (at::IPV6_SRC, Field::Ipv6Src),
        (at::IPV6_DST, Field::Ipv6Dst),
        (at::IPV6_LABEL, Field::Ipv6Label),
        (at::IPV6_EXTHDR, Field::Ipv6Exthdr),
        (at::ND_TARGET, Field::NdTarget),
        (at::ARP_SHA, Field::ArpSha),
        (at::ARP_SHA, Field::NdSll),
        (at::ARP_THA, Field::ArpTha),
        (at::ARP_THA, Field::NdTll),
    ];
    for (offset, field) in pairs {
        assert_eq!(offset, field.def().offset, "{field}");
    }
    // Word membership the parser relies on.
    assert_eq!(words::TP_PORTS, 1 << (at::VLAN_TCI2 / 8));
    assert_eq!(words::ND_TARGET | words::ARP_HA, (0b1111 << (at::ND_TARGET / 8)));
}

#[test]
fn runt_frames_give_only_in_port() {
    let frame = samples::ipv4_tcp();
    for cut in 0..14 {
        let (key, layers) = parse(&frame[..cut]);
        assert_eq!(key, key_with(&[]), "cut {cut}");
        assert_eq!(layers, Layers { present: words::PORT_L2_TYPE, ..Layers::default() });
    }
}

#[test]
fn unknown_ethertype_gives_l2_only() {
    let frame = ethernet(&[], 0x88cc, &[0; 40]);
    let layers = assert_key(&frame, &l2(0x88cc), "lldp");
    assert_eq!(layers, Layers { present: words::L2, dl_type: 0x88cc, ..Layers::default() });
}

#[test]
fn single_vlan_tag() {
    let frame = samples::vlan_ipv4_udp();
    let fields = with(
        l2(ethertype::IPV4),
        &[
            (Field::VlanTci, &be16(0x3014)),
            (Field::NwProto, &[ip_proto::UDP]),
            (Field::NwTos, &[0xb9]),
            (Field::NwTtl, &[64]),
            (Field::NwSrc, &IP4_SRC),
            (Field::NwDst, &IP4_DST),
            (Field::TpSrc, &be16(5353)),
            (Field::TpDst, &be16(4789)),
        ],
    );
    let layers = assert_key(&frame, &fields, "vlan");
    assert_eq!(
        layers,
        Layers {
            present: words::L2 | words::NW_ADDRS | words::TP_PORTS,
            l2_5: header_at(12),
            l3: header_at(18),
            l4: header_at(38),
            dl_type: ethertype::IPV4,
            l4_proto: ip_proto::UDP,
        }
    );
}

#[test]
fn qinq_outer_and_inner_tags() {
    let frame = samples::qinq_ipv6_tcp();
    let fields = with(
        l2(ethertype::IPV6),
        &[
            (Field::VlanTci, &be16(0x700a)),
            (Field::VlanTci2, &be16(0x3014)),
            (Field::NwProto, &[ip_proto::TCP]),
            (Field::NwTos, &[0xb9]),
            (Field::NwTtl, &[64]),
            (Field::Ipv6Src, &IP6_SRC),
            (Field::Ipv6Dst, &IP6_DST),
            (Field::Ipv6Label, &[0, 0x0a, 0xbc, 0xde]),
            (Field::TpSrc, &be16(443)),
            (Field::TpDst, &be16(51000)),
            (Field::TcpFlags, &be16(0x018)),
        ],
    );
    let layers = assert_key(&frame, &fields, "qinq");
    assert_eq!(
        layers,
        Layers {
            present: words::L2 | words::TP_PORTS | words::IPV6_ADDRS | words::IPV6_LABEL,
            l2_5: header_at(12),
            l3: header_at(22),
            l4: header_at(62),
            dl_type: ethertype::IPV6,
            l4_proto: ip_proto::TCP,
        }
    );
}

#[test]
fn two_customer_tags_and_a_third_tag() {
    let frame = ethernet(&[(ethertype::VLAN, 1), (ethertype::VLAN, 2)], ethertype::ARP, &[0; 28]);
    let fields = with(l2(ethertype::ARP), &[(Field::VlanTci, &be16(0x1001)), (Field::VlanTci2, &be16(0x1002))]);
    assert_key(&frame, &fields, "two 802.1Q tags, bad ARP");

    let frame = ethernet(&[(ethertype::QINQ, 1), (ethertype::VLAN, 2), (ethertype::VLAN, 3)], ethertype::IPV4, &[]);
    let fields = with(l2(ethertype::VLAN), &[(Field::VlanTci, &be16(0x1001)), (Field::VlanTci2, &be16(0x1002))]);
    let layers = assert_key(&frame, &fields, "three tags");
    assert_eq!(layers.l3, None);
}

#[test]
fn truncated_tag_is_the_dl_type() {
    let frame = ethernet(&[(ethertype::QINQ, 0x0005)], ethertype::IPV4, &[]);
    // The outer tag is there, but not the ethertype after it.
    let layers = assert_key(&frame[..17], &l2(ethertype::QINQ), "tag without ethertype");
    assert_eq!(layers.l2_5, None);
    let frame = ethernet(&[TAG_OUTER, TAG_INNER], ethertype::IPV4, &[]);
    let fields = with(l2(ethertype::VLAN), &[(Field::VlanTci, &be16(0x700a))]);
    assert_key(&frame[..21], &fields, "inner tag without ethertype");
}

#[test]
fn llc_snap_and_plain_802_3() {
    let frame = samples::llc_snap_ipv4_udp();
    let (key, layers) = parse(&frame);
    assert_eq!(key.get_u64(Field::DlType), u64::from(ethertype::IPV4));
    assert_eq!(key.get_u64(Field::TpDst), 53);
    assert_eq!((layers.l3, layers.l4), (header_at(22), header_at(42)));

    let frame = ethernet(&[], 40, &[0x42, 0x42, 0x03, 0, 0, 0, 0x08, 0x00]);
    assert_key(&frame, &l2(ethertype::NONE), "802.3 spanning tree");
    let frame = ethernet(&[], 40, &[0xaa, 0xaa, 0x03, 0, 0, 0, 0x05, 0x00]);
    assert_key(&frame, &l2(ethertype::NONE), "SNAP with a length");
    assert_key(&frame[..20], &l2(ethertype::NONE), "short LLC");
}

#[test]
fn arp_fields() {
    let frame = ethernet(&[], ethertype::ARP, &arp(2, MAC_SRC, IP4_SRC, MAC_DST, IP4_DST));
    let fields = with(
        l2(ethertype::ARP),
        &[
            (Field::ArpOp, &[2]),
            (Field::ArpSpa, &IP4_SRC),
            (Field::ArpTpa, &IP4_DST),
            (Field::ArpSha, &MAC_SRC),
            (Field::ArpTha, &MAC_DST),
        ],
    );
    let layers = assert_key(&frame, &fields, "arp reply");
    assert_eq!(layers.present, words::L2 | words::NW_ADDRS | words::ARP_HA);
    assert_eq!((layers.l3, layers.l4), (header_at(14), None));

    let frame = ethernet(&[], ethertype::RARP, &arp(0x0103, MAC_SRC, IP4_SRC, MAC_DST, IP4_DST));
    let fields = with(
        l2(ethertype::RARP),
        &[(Field::ArpSpa, &IP4_SRC), (Field::ArpTpa, &IP4_DST), (Field::ArpSha, &MAC_SRC), (Field::ArpTha, &MAC_DST)],
    );
    assert_key(&frame, &fields, "rarp with an opcode above 255");

    let mut body = arp(1, MAC_SRC, IP4_SRC, MAC_DST, IP4_DST);
    body[1] = 6;
    assert_key(&ethernet(&[], ethertype::ARP, &body), &l2(ethertype::ARP), "IEEE 802 hardware type");
    let body = arp(1, MAC_SRC, IP4_SRC, MAC_DST, IP4_DST);
    assert_key(&ethernet(&[], ethertype::ARP, &body[..27]), &l2(ethertype::ARP), "short ARP");
}

fn ipv4_fields(proto: u8) -> Vec<(Field, Vec<u8>)> {
    with(
        l2(ethertype::IPV4),
        &[
            (Field::NwProto, &[proto]),
            (Field::NwTos, &[0xb9]),
            (Field::NwTtl, &[64]),
            (Field::NwSrc, &IP4_SRC),
            (Field::NwDst, &IP4_DST),
        ],
    )
}

#[test]
fn ipv4_tcp_with_options() {
    let fields = with(
        ipv4_fields(ip_proto::TCP),
        &[(Field::TpSrc, &be16(40000)), (Field::TpDst, &be16(80)), (Field::TcpFlags, &be16(0xc12))],
    );
    let layers = assert_key(&samples::ipv4_tcp(), &fields, "tcp");
    assert_eq!((layers.l3, layers.l4, layers.l4_proto), (header_at(14), header_at(42), ip_proto::TCP));

    let frame = ethernet(&[], ethertype::IPV4, &Ipv4::new(ip_proto::TCP).build(&tcp(1, 2, 0xfff, 0, &[])));
    let (key, _) = parse(&frame);
    assert_eq!(key.get_u64(Field::TcpFlags), 0xfff);

    // A data offset below 5 or past the segment: no L4 fields.
    let mut segment = tcp(1, 2, 0x002, 0, &[]);
    segment[12] = 0x40;
    let frame = ethernet(&[], ethertype::IPV4, &Ipv4::new(ip_proto::TCP).build(&segment));
    assert_eq!(assert_key(&frame, &ipv4_fields(ip_proto::TCP), "data offset 4").l4, None);
    segment[12] = 0x60;
    let frame = ethernet(&[], ethertype::IPV4, &Ipv4::new(ip_proto::TCP).build(&segment));
    assert_eq!(assert_key(&frame, &ipv4_fields(ip_proto::TCP), "data offset 6 in 20 bytes").l4, None);
}

#[test]
fn ipv4_udp_sctp_icmp() {
    let fields = with(ipv4_fields(ip_proto::UDP), &[(Field::TpSrc, &be16(1000)), (Field::TpDst, &be16(2000))]);
    assert_key(&samples::ipv4_udp_padded(), &fields, "udp with Ethernet padding");

    let fields = with(ipv4_fields(ip_proto::SCTP), &[(Field::TpSrc, &be16(3868)), (Field::TpDst, &be16(2905))]);
    assert_key(&samples::ipv4_sctp(), &fields, "sctp");

    let frame = ethernet(&[], ethertype::IPV4, &Ipv4::new(ip_proto::ICMP).build(&icmp(3, 4, b"unreachable")));
    let fields = with(ipv4_fields(ip_proto::ICMP), &[(Field::IcmpType, &[3]), (Field::IcmpCode, &[4])]);
    let layers = assert_key(&frame, &fields, "icmp");
    assert_eq!(layers.l4_proto, ip_proto::ICMP);

    // ICMPv6 is not parsed in IPv4.
    let frame = ethernet(&[], ethertype::IPV4, &Ipv4::new(ip_proto::ICMPV6).build(&icmpv6(135, 0, &[0; 20])));
    assert_eq!(assert_key(&frame, &ipv4_fields(ip_proto::ICMPV6), "icmpv6 in ipv4").l4, None);
    // Unknown protocols have no L4.
    let frame = ethernet(&[], ethertype::IPV4, &Ipv4::new(47).build(&[0; 8]));
    assert_eq!(assert_key(&frame, &ipv4_fields(47), "gre").l4, None);
}

#[test]
fn ipv4_fragments() {
    let fields = with(
        ipv4_fields(ip_proto::UDP),
        &[(Field::NwFrag, &[1]), (Field::TpSrc, &be16(1111)), (Field::TpDst, &be16(2222))],
    );
    assert_eq!(assert_key(&samples::ipv4_first_fragment(), &fields, "first fragment").l4, header_at(34));

    let fields = with(ipv4_fields(ip_proto::UDP), &[(Field::NwFrag, &[3])]);
    assert_eq!(assert_key(&samples::ipv4_later_fragment(), &fields, "later fragment").l4, None);

    let mut ip = Ipv4::new(ip_proto::UDP);
    ip.fragment = 0x4000;
    let frame = ethernet(&[], ethertype::IPV4, &ip.build(&udp(1, 2, &[])));
    let fields = with(ipv4_fields(ip_proto::UDP), &[(Field::TpSrc, &be16(1)), (Field::TpDst, &be16(2))]);
    assert_key(&frame, &fields, "don't fragment");

    // The last fragment: offset set, more-fragments clear.
    ip.fragment = 0x0010;
    let frame = ethernet(&[], ethertype::IPV4, &ip.build(&[0; 8]));
    assert_key(&frame, &with(ipv4_fields(ip_proto::UDP), &[(Field::NwFrag, &[3])]), "last fragment");
}

#[test]
fn malformed_ipv4_gives_l2_only() {
    let good = Ipv4::new(ip_proto::UDP).build(&udp(1, 2, b"abc"));
    let mut short_ihl = good.clone();
    short_ihl[0] = 0x44;
    let mut long_total = good.clone();
    long_total[3] += 1;
    let mut total_below_header = good.clone();
    total_below_header[2..4].copy_from_slice(&be16(19));
    let mut ihl_past_total = good.clone();
    ihl_past_total[0] = 0x4f;
    for (what, packet) in [
        ("ihl 4", short_ihl),
        ("total length past the frame", long_total),
        ("total length below 20", total_below_header),
        ("ihl past total length", ihl_past_total),
    ] {
        let layers = assert_key(&ethernet(&[], ethertype::IPV4, &packet), &l2(ethertype::IPV4), what);
        assert_eq!(layers.present, words::L2, "{what}");
        assert_eq!(layers.l3, None, "{what}");
    }
    // A UDP header cut by the total length (the rest is padding).
    let mut cut = good.clone();
    cut[2..4].copy_from_slice(&be16(20 + 7));
    let layers = assert_key(&ethernet(&[], ethertype::IPV4, &cut), &ipv4_fields(ip_proto::UDP), "udp cut by length");
    assert_eq!((layers.l3, layers.l4), (header_at(14), None));
}

fn ipv6_fields(proto: u8) -> Vec<(Field, Vec<u8>)> {
    with(
        l2(ethertype::IPV6),
        &[
            (Field::NwProto, &[proto]),
            (Field::NwTos, &[0xb9]),
            (Field::NwTtl, &[64]),
            (Field::Ipv6Src, &IP6_SRC),
            (Field::Ipv6Dst, &IP6_DST),
            (Field::Ipv6Label, &[0, 0x0a, 0xbc, 0xde]),
        ],
    )
}

#[test]
fn ipv6_extension_headers_lead_to_the_upper_layer() {
    let fields = with(
        ipv6_fields(ip_proto::UDP),
        &[
            (Field::NwFrag, &[1]),
            (Field::TpSrc, &be16(546)),
            (Field::TpDst, &be16(547)),
            (Field::Ipv6Exthdr, &be16(0x17c)),
        ],
    );
    let layers = assert_key(&samples::ipv6_extensions_udp(), &fields, "hbh, dst, routing, ah, fragment");
    // 8 + 16 + 24 + 24 + 8 bytes of extension headers after the 40-byte header at 14.
    assert_eq!((layers.l3, layers.l4, layers.l4_proto), (header_at(14), header_at(14 + 40 + 80), ip_proto::UDP));

    let fields =
        with(ipv6_fields(ip_proto::FRAGMENT), &[(Field::NwFrag, &[3]), (Field::Ipv6Exthdr, &be16(ipv6_exthdr::FRAG))]);
    let layers = assert_key(&samples::ipv6_later_fragment(), &fields, "later fragment");
    assert_eq!((layers.l3, layers.l4), (header_at(14), None));

    // An atomic fragment (offset 0, no more fragments) is not a fragment, as in Open vSwitch.
    let mut ip = Ipv6::new(ip_proto::UDP);
    ip.extensions = vec![fragment_header(0, false)];
    let frame = ethernet(&[], ethertype::IPV6, &ip.build(&udp(9, 10, &[])));
    let fields = with(
        ipv6_fields(ip_proto::UDP),
        &[(Field::TpSrc, &be16(9)), (Field::TpDst, &be16(10)), (Field::Ipv6Exthdr, &be16(ipv6_exthdr::FRAG))],
    );
    assert_key(&frame, &fields, "atomic fragment");

    // An unknown next header ends the walk.
    let frame = ethernet(&[], ethertype::IPV6, &Ipv6::new(253).build(&[1; 16]));
    assert_eq!(assert_key(&frame, &ipv6_fields(253), "experimental protocol").l4, None);
}

/// The `ipv6_exthdr` of an IPv6 packet with `extensions` before `proto` (and 16 bytes of it),
/// with its `nw_proto`; `None` if the parser did not take the IPv6 header.
fn exthdr_of(extensions: Vec<Extension>, proto: u8) -> Option<(u16, u8)> {
    let mut ip = Ipv6::new(proto);
    ip.extensions = extensions;
    let (key, layers) = parse(&ethernet(&[], ethertype::IPV6, &ip.build(&[0; 16])));
    layers.l3?;
    let exthdr = key.get(Field::Ipv6Exthdr);
    Some((u16::from_be_bytes([exthdr[0], exthdr[1]]), key.get(Field::NwProto)[0]))
}

#[test]
fn ipv6_exthdr_has_a_flag_per_header_and_for_repeats_and_order() {
    use ipv6_exthdr::{AUTH, DEST, ESP, FRAG, HOP, NONEXT, ROUTER, UNREP, UNSEQ};
    let hop = || options_header(ip_proto::HOP_BY_HOP, 0);
    let dest = || options_header(ip_proto::DESTINATION_OPTIONS, 1);
    let routing = || routing_header(0, &[ND_TARGET]);
    let auth = || auth_header(4);
    let frag = || fragment_header(0, true);
    let tcp = ip_proto::TCP;
    assert_eq!(exthdr_of(vec![], tcp), Some((0, tcp)), "no extension header");
    assert_eq!(exthdr_of(vec![hop()], tcp), Some((HOP, tcp)));
    assert_eq!(exthdr_of(vec![dest()], tcp), Some((DEST, tcp)));
    assert_eq!(exthdr_of(vec![routing()], tcp), Some((ROUTER, tcp)));
    assert_eq!(exthdr_of(vec![frag()], tcp), Some((FRAG, tcp)));
    assert_eq!(exthdr_of(vec![auth()], tcp), Some((AUTH, tcp)));
    // The os-ken switch test's chain: 68.
    assert_eq!(exthdr_of(vec![hop(), auth()], tcp), Some((HOP | AUTH, tcp)));
    // ESP and "no next header" end the walk; what follows an ESP is not looked at.
    let esp = ip_proto::ESP;
    assert_eq!(exthdr_of(vec![], esp), Some((ESP, esp)));
    assert_eq!(exthdr_of(vec![hop(), auth()], esp), Some((HOP | AUTH | ESP, esp)));
    let none = ip_proto::NO_NEXT_HEADER;
    assert_eq!(exthdr_of(vec![], none), Some((NONEXT, none)));
    assert_eq!(exthdr_of(vec![dest()], none), Some((DEST | NONEXT, none)));

    // The whole recommended order, both Destination Options headers included.
    let all = vec![hop(), dest(), routing(), frag(), auth(), dest()];
    assert_eq!(exthdr_of(all, tcp), Some((HOP | DEST | ROUTER | FRAG | AUTH, tcp)));
    let all = vec![hop(), dest(), routing(), frag(), auth()];
    assert_eq!(exthdr_of(all, esp), Some((HOP | DEST | ROUTER | FRAG | AUTH | ESP, esp)));
    assert_eq!(exthdr_of(vec![dest(), dest()], tcp), Some((DEST, tcp)), "two Destination Options");
    assert_eq!(exthdr_of(vec![auth(), dest()], tcp), Some((AUTH | DEST, tcp)), "the final Destination Options");

    // Repeats: any header twice but Destination Options, which may come twice.
    assert_eq!(exthdr_of(vec![dest(), dest(), dest()], tcp), Some((DEST | UNREP | UNSEQ, tcp)));
    assert_eq!(exthdr_of(vec![routing(), routing()], tcp), Some((ROUTER | UNREP | UNSEQ, tcp)));
    assert_eq!(exthdr_of(vec![hop(), hop()], tcp), Some((HOP | UNREP | UNSEQ, tcp)));
    assert_eq!(exthdr_of(vec![auth(), auth()], tcp), Some((AUTH | UNREP | UNSEQ, tcp)));

    // Out of order: Hop-by-Hop not first, Routing after Fragment, ESP after the final Destination
    // Options.
    assert_eq!(exthdr_of(vec![dest(), hop()], tcp), Some((DEST | HOP | UNSEQ, tcp)));
    assert_eq!(exthdr_of(vec![frag(), routing()], tcp), Some((FRAG | ROUTER | UNSEQ, tcp)));
    assert_eq!(exthdr_of(vec![routing(), dest(), routing()], tcp), Some((ROUTER | DEST | UNREP | UNSEQ, tcp)));
    assert_eq!(exthdr_of(vec![dest(), auth(), dest()], esp), Some((DEST | AUTH | ESP | UNSEQ, esp)));
    assert_eq!(exthdr_of(vec![routing(), dest()], esp), Some((ROUTER | DEST | ESP | UNSEQ, esp)));

    // A non-first fragment ends the walk at its fragment header.
    assert_eq!(exthdr_of(vec![hop(), fragment_header(185, false)], tcp), Some((HOP | FRAG, ip_proto::FRAGMENT)));
}

#[test]
fn ipv6_exthdr_of_garbage_chains_never_panics() {
    // Every next-header value after every header type, cut anywhere: the flags stay within
    // their 9 bits, and a cut header leaves the IPv6 layer unparsed.
    let kinds =
        [ip_proto::HOP_BY_HOP, ip_proto::DESTINATION_OPTIONS, ip_proto::ROUTING, ip_proto::AH, ip_proto::FRAGMENT];
    for first in kinds {
        for next in 0..=u8::MAX {
            let mut packet = Ipv6::new(first).build(&[next, 0, 0, 0, 0, 0, 0, 0, next, 0, 0, 0, 0, 0, 0, 0]);
            for cut in (40..packet.len()).rev() {
                packet[4..6].copy_from_slice(&be16(u16::try_from(cut - 40).unwrap()));
                let (key, layers) = parse(&ethernet(&[], ethertype::IPV6, &packet[..cut]));
                let exthdr = u16::from_be_bytes([key.get(Field::Ipv6Exthdr)[0], key.get(Field::Ipv6Exthdr)[1]]);
                assert_eq!(exthdr & !ipv6_exthdr::ALL, 0, "{first} then {next}, cut at {cut}");
                if cut < 48 {
                    assert_eq!(layers.l3, None, "{first} cut at {cut}");
                }
            }
        }
    }
}

#[test]
fn malformed_ipv6_gives_l2_only() {
    let mut ip = Ipv6::new(ip_proto::UDP);
    ip.extensions = vec![options_header(ip_proto::HOP_BY_HOP, 0)];
    let mut packet = ip.build(&udp(1, 2, &[]));
    // The hop-by-hop header claims 16 bytes; the payload has 8 + 8.
    packet[41] = 2;
    let layers = assert_key(&ethernet(&[], ethertype::IPV6, &packet), &l2(ethertype::IPV6), "long extension");
    assert_eq!((layers.present, layers.l3), (words::L2, None));

    let mut packet = Ipv6::new(ip_proto::UDP).build(&udp(1, 2, &[]));
    packet[5] += 1;
    assert_key(&ethernet(&[], ethertype::IPV6, &packet), &l2(ethertype::IPV6), "payload length past the frame");

    // The extension header chain runs out of payload (a jumbogram has payload length 0).
    let mut packet = Ipv6::new(ip_proto::UDP).build(&[]);
    packet[6] = ip_proto::DESTINATION_OPTIONS;
    assert_key(&ethernet(&[], ethertype::IPV6, &packet), &l2(ethertype::IPV6), "no room for extension");
}

#[test]
fn icmpv6_and_neighbour_discovery() {
    let fields = with(ipv6_fields(ip_proto::ICMPV6), &[(Field::IcmpType, &[128]), (Field::IcmpCode, &[0])]);
    let layers = assert_key(&samples::ipv6_icmpv6_echo(), &fields, "echo request");
    assert_eq!(layers.present & (words::ND_TARGET | words::ARP_HA), 0);

    let fields = with(
        ipv6_fields(ip_proto::ICMPV6),
        &[(Field::IcmpType, &[135]), (Field::NdTarget, &ND_TARGET), (Field::NdSll, &MAC_SLL)],
    );
    let layers = assert_key(&samples::ipv6_nd_solicitation(), &fields, "solicitation");
    assert_eq!(layers.present & (words::ND_TARGET | words::ARP_HA), words::ND_TARGET | words::ARP_HA);

    let mut fields = with(
        ipv6_fields(ip_proto::ICMPV6),
        &[(Field::IcmpType, &[136]), (Field::NdTarget, &ND_TARGET), (Field::NdTll, &MAC_TLL)],
    );
    fields.push((Field::VlanTci, be16(0x3014).to_vec()));
    assert_key(&samples::ipv6_nd_advertisement(), &fields, "advertisement after an unknown option");

    let nd_frame = |icmp_type: u8, code: u8, body: &[u8]| {
        ethernet(&[], ethertype::IPV6, &Ipv6::new(ip_proto::ICMPV6).build(&icmpv6(icmp_type, code, body)))
    };
    let sll = nd_option(nd::OPTION_SOURCE_LL, MAC_SLL);
    let tll = nd_option(nd::OPTION_TARGET_LL, MAC_TLL);
    let mut body = vec![0; 4];
    body.extend_from_slice(&ND_TARGET);
    let both: Vec<u8> = [body.clone(), sll.clone(), tll.clone()].concat();
    let fields = with(
        ipv6_fields(ip_proto::ICMPV6),
        &[(Field::IcmpType, &[135]), (Field::NdTarget, &ND_TARGET), (Field::NdSll, &MAC_SLL), (Field::NdTll, &MAC_TLL)],
    );
    assert_key(&nd_frame(135, 0, &both), &fields, "both options");

    let twice: Vec<u8> = [body.clone(), sll.clone(), tll.clone(), sll.clone()].concat();
    let fields = with(ipv6_fields(ip_proto::ICMPV6), &[(Field::IcmpType, &[135])]);
    assert_key(&nd_frame(135, 0, &twice), &fields, "source option twice");

    let zero_length: Vec<u8> = [body.clone(), vec![1, 0, 0, 0, 0, 0, 0, 0], sll.clone()].concat();
    let fields = with(ipv6_fields(ip_proto::ICMPV6), &[(Field::IcmpType, &[136]), (Field::NdTarget, &ND_TARGET)]);
    assert_key(&nd_frame(136, 0, &zero_length), &fields, "option of length 0");

    let long_option: Vec<u8> = [body.clone(), vec![1, 2, 1, 2, 3, 4, 5, 6], vec![0; 8], tll.clone()].concat();
    let fields = with(
        ipv6_fields(ip_proto::ICMPV6),
        &[(Field::IcmpType, &[136]), (Field::NdTarget, &ND_TARGET), (Field::NdTll, &MAC_TLL)],
    );
    assert_key(&nd_frame(136, 0, &long_option), &fields, "16-byte source option skipped");

    let fields = with(ipv6_fields(ip_proto::ICMPV6), &[(Field::IcmpType, &[135])]);
    let layers = assert_key(&nd_frame(135, 0, &body[..12]), &fields, "target cut short");
    assert_eq!(layers.present & words::ND_TARGET, words::ND_TARGET);

    let fields = with(ipv6_fields(ip_proto::ICMPV6), &[(Field::IcmpType, &[135]), (Field::IcmpCode, &[1])]);
    assert_key(&nd_frame(135, 1, &both), &fields, "code 1 is not neighbour discovery");

    // ICMP (v4) is not parsed in IPv6.
    let frame = ethernet(&[], ethertype::IPV6, &Ipv6::new(ip_proto::ICMP).build(&icmp(8, 0, &[])));
    assert_eq!(assert_key(&frame, &ipv6_fields(ip_proto::ICMP), "icmp in ipv6").l4, None);
}

#[test]
fn only_present_words_are_touched() {
    for (name, frame) in samples::all() {
        let (clean, layers) = parse(&frame);
        let mut reused = FlowKey { bytes: [0xee; crate::flow::key::KEY_BYTES] };
        assert_eq!(extract(&frame, IN_PORT, &mut reused), layers, "{name}");
        for word in 0..KEY_WORDS {
            if layers.present & (1 << word) != 0 {
                assert_eq!(reused.word(word), clean.word(word), "{name}: word {word}");
            } else {
                assert_eq!(reused.word(word), u64::from_ne_bytes([0xee; 8]), "{name}: word {word} touched");
                assert_eq!(clean.word(word), 0, "{name}: word {word} written but not present");
            }
        }
    }
}

/// Groups of key bytes by layer, in parse order: Ethernet addresses, outer tag, inner tag, L3, L4.
fn layer_groups(key: &FlowKey, arp: bool) -> [Vec<u8>; 5] {
    let b = &key.bytes;
    let mut l3: Vec<u8> = [&b[14..16], &b[22..32], &b[96..136]].concat();
    let mut l4: Vec<u8> = [&b[32..38], &b[136..152]].concat();
    if arp {
        l3.extend_from_slice(&b[152..168]);
    } else {
        l4.extend_from_slice(&b[152..168]);
    }
    [[&b[8..14], &b[16..22]].concat(), b[6..8].to_vec(), b[38..40].to_vec(), l3, l4]
}

#[test]
fn every_truncation_keeps_the_layers_before_it() {
    for (name, frame) in samples::all() {
        let (full, full_layers) = parse(&frame);
        let arp = full_layers.dl_type == ethertype::ARP;
        let full_groups = layer_groups(&full, arp);
        for cut in 0..=frame.len() {
            let (key, layers) = parse(&frame[..cut]);
            assert_eq!(key.get_u64(Field::InPort), u64::from(IN_PORT));
            let groups = layer_groups(&key, arp);
            let mut lost = false;
            for (i, (group, full_group)) in groups.iter().zip(&full_groups).enumerate() {
                let zero = group.iter().all(|&b| b == 0);
                if lost {
                    assert!(zero, "{name} cut at {cut}: group {i} set after a lost layer");
                } else if group != full_group {
                    assert!(zero, "{name} cut at {cut}: group {i} partly parsed");
                    lost = true;
                }
            }
            let dl_type = u16::try_from(key.get_u64(Field::DlType)).unwrap();
            assert!(
                dl_type == full_layers.dl_type
                    || ethertype::is_vlan(dl_type)
                    || dl_type == ethertype::NONE
                    || (cut < 14 && dl_type == 0),
                "{name} cut at {cut}: dl_type {dl_type:#x}"
            );
            // Offsets only ever point inside the cut frame.
            for offset in [layers.l2_5, layers.l3, layers.l4].into_iter().flatten() {
                assert!(usize::from(offset.get()) < cut, "{name} cut at {cut}");
            }
            if cut == frame.len() {
                assert_eq!(key, full);
            }
        }
    }
}

#[test]
fn samples_have_right_checksums() {
    for (name, frame) in samples::all() {
        assert_checksums(&frame, samples::final_dst(name), name);
    }
}
