//! Match codec: every field through OXM and NXM, OpenFlow 1.0 ofp_match both ways, the
//! rejections with their OFPBMC codes, and the subfield names actions use.

use super::*;
use crate::flow::parse_add_flow;

fn hex(text: &str) -> Vec<u8> {
    let digits: Vec<u8> = text.bytes().filter(u8::is_ascii_hexdigit).collect();
    digits.chunks(2).map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap()).collect()
}

fn matches(flow: &str) -> Match {
    let rule = if flow.is_empty() { "actions=drop".to_string() } else { format!("{flow},actions=drop") };
    parse_add_flow(&rule).unwrap().matches
}

fn through_oxm(m: &Match) -> Match {
    let mut w = Writer::new();
    encode_match(Version::V1_3, m, &mut w);
    assert_eq!(w.len() % 8, 0);
    let mut r = Reader::new(w.as_slice());
    let decoded = decode_match(Version::V1_3, &mut r).unwrap();
    assert!(r.is_empty(), "padding consumed");
    decoded
}

fn through_nxm(m: &Match) -> Match {
    let mut w = Writer::new();
    let len = encode_nx_match(m, &mut w);
    assert_eq!(len, w.len());
    decode_nx_match(&mut Reader::new(w.as_slice()), len).unwrap()
}

fn through_v1_0(m: &Match) -> Match {
    let mut w = Writer::new();
    encode_match(Version::V1_0, m, &mut w);
    assert_eq!(w.len(), 40);
    decode_match(Version::V1_0, &mut Reader::new(w.as_slice())).unwrap()
}

#[test]
fn every_field_crosses_oxm_and_nxm_exact_and_masked() {
    let flows = [
        "in_port=7,dl_src=00:00:00:00:00:01,dl_dst=01:00:00:00:00:00/01:00:00:00:00:00,dl_type=0x88cc",
        "in_port=LOCAL,metadata=0x5/0xff,reg0=1,reg1=2/0xf,reg2=3,reg3=4,reg4=5,reg5=6,reg6=7,reg7=0x8/0x8",
        "tun_id=0x5/0xff,tun_src=1.1.1.0/24,tun_dst=2.2.2.2",
        "tun_ipv6_src=2001:db8::/32,tun_ipv6_dst=fd00::2,tun_flags=+oam",
        "tun_flags=-oam",
        "tun_gbp_id=0x10/0xf0,tun_gbp_flags=0x48",
        "dl_vlan=10,dl_vlan_pcp=3",
        "vlan_tci=0x1000/0x1000",
        "vlan_tci=0x0000/0x1fff",
        "vlan_tci=0x0005/0x0fff",
        "vlan_tci=0x1000/0x1000,dl_vlan_pcp=7",
        "ip,nw_src=10.0.0.0/8,nw_dst=1.2.3.4,nw_tos=184,nw_ecn=1,nw_ttl=64,ip_frag=later",
        "ip,NXM_OF_IP_TOS=0x10/0x10",
        "ip,nw_ecn=1,ip_frag=first",
        "tcp,tp_src=80,tp_dst=0x100/0xff00,tcp_flags=+syn-ack",
        "udp,tp_src=53,tp_dst=5001",
        "sctp,tp_src=1,tp_dst=2",
        "icmp,icmp_type=8,icmp_code=0",
        "arp,arp_op=2,arp_spa=10.0.0.1,arp_tpa=10.0.0.0/8,arp_sha=00:00:00:00:00:01,arp_tha=00:00:00:00:00:02/ff:ff:ff:00:00:00",
        "rarp,arp_op=3",
        "ipv6,ipv6_src=2001:db8::/32,ipv6_dst=::1,ipv6_label=0x12345,nw_tos=8",
        "tcp6,tp_dst=22",
        "ipv6,ipv6_exthdr=0x44",
        "tcp6,ipv6_exthdr=0x40/0x1f0,tp_dst=22",
        "icmp6,icmp_type=135,icmp_code=0,nd_target=fe80::1,nd_sll=00:11:22:33:44:55",
        "icmp6,icmp_type=136,nd_target=fe80::/64,nd_tll=00:00:00:00:00:02",
        "mpls,mpls_label=1048575,mpls_tc=7,mpls_bos=1,mpls_ttl=255",
        "mplsm,mpls_label=0,mpls_bos=0",
    ];
    for flow in flows {
        let m = matches(flow);
        assert_eq!(through_oxm(&m), m, "OXM {flow}");
        assert_eq!(through_nxm(&m), m, "NXM {flow}");
    }
    // "No tag" matched on the whole TCI, PCP bits included, has no exact OXM form (Open vSwitch
    // sends vlan_vid=0, which comes back as 0x0000/0x1fff): it crosses OXM under the NXM header.
    for flow in ["vlan_tci=0", "vlan_tci=0x0000/0xf000", "vlan_tci=0x0000/0x1000"] {
        let m = matches(flow);
        assert_eq!(through_oxm(&m), m, "OXM {flow}");
        assert_eq!(through_nxm(&m), m, "NXM {flow}");
    }
    let mut w = Writer::new();
    encode_match(Version::V1_3, &matches("vlan_tci=0"), &mut w);
    assert_eq!(&w.as_slice()[4..8], &[0x00, 0x00, 0x08, 0x02], "NXM_OF_VLAN_TCI, exact");
}

#[test]
fn ipv6_exthdr_is_openflow_1_3_s_field_39() {
    // eth_type=0x86dd then OXM_OF_IPV6_EXTHDR (39, 2 bytes), exact and masked, as os-ken's
    // switch tests send them; they come back the same and print in hex.
    for (flow, golden) in [
        ("ipv6,ipv6_exthdr=0x44", "0001 0010 80000a02 86dd 80004e02 0044"),
        ("ipv6,ipv6_exthdr=0x40/0x1f0", "0001 0012 80000a02 86dd 80004f04 0040 01f0 000000000000"),
    ] {
        let m = matches(flow);
        let mut w = Writer::new();
        encode_match(Version::V1_3, &m, &mut w);
        assert_eq!(w.as_slice(), hex(golden).as_slice(), "{flow}");
        let decoded = decode_match(Version::V1_3, &mut Reader::new(&hex(golden))).unwrap();
        assert_eq!(decoded, m, "{flow}");
        assert_eq!(decoded.to_string(), flow);
    }
    // Only with IPv6, only its 9 flags, and not writable.
    use bad_match::*;
    assert_eq!(oxm_error("80004e02 0044"), BAD_PREREQ);
    assert_eq!(oxm_error("80000a02 0800 80004e02 0044"), BAD_PREREQ);
    assert_eq!(oxm_error("80000a02 86dd 80004e02 0200"), BAD_VALUE);
    assert!(!Field::Ipv6Exthdr.def().writable);
}

#[test]
fn tunnel_fields_have_open_vswitch_s_nxm_headers() {
    // `ovs-ofctl parse-nx-match` (Open vSwitch 3.1) of NXM_NX_TUN_IPV6_SRC(2001:db8::1) and
    // NXM_NX_TUN_IPV6_DST_W(2001:db8::/32), after our tun_flags: exact, all 16 bits (which
    // parse-nx-match reads as tun_flags=+oam, writing it back as NXM_NX_TUN_FLAGS_W(0001/0001)).
    // Then NXM_NX_TUN_GBP_ID(0005) and NXM_NX_TUN_GBP_FLAGS(48).
    let golden = hex("0001d002 0001  0001da10 20010db8000000000000000000000001 \
         0001dd20 20010db8000000000000000000000000 ffffffff000000000000000000000000 \
         00014c02 0005  00014e01 48");
    let m =
        matches("tun_flags=+oam,tun_ipv6_src=2001:db8::1,tun_ipv6_dst=2001:db8::/32,tun_gbp_id=5,tun_gbp_flags=0x48");
    let mut w = Writer::new();
    let len = encode_nx_match(&m, &mut w);
    assert_eq!(&w.as_slice()[..len], golden.as_slice());
    // Open vSwitch's masked form of the flags decodes to the same match.
    let masked = hex("0001d104 0001 0001");
    let decoded = decode_nx_match(&mut Reader::new(&masked), masked.len()).unwrap();
    assert_eq!(decoded, matches("tun_flags=+oam"));
    assert_eq!(decoded.to_string(), "tun_flags=+oam");
}

#[test]
fn tun_metadata_fields_cross_nxm_and_oxm_at_their_mapped_length() {
    crate::flow::tun_metadata::tests::publish_test_map();
    for flow in ["tun_metadata0=0x1234", "tun_metadata1=0x5/0xff,tun_metadata63=0x1", "tun_id=1,tun_metadata0=0"] {
        let m = matches(flow);
        assert_eq!(through_oxm(&m), m, "OXM {flow}");
        assert_eq!(through_nxm(&m), m, "NXM {flow}");
    }
    // tun_metadata0 is mapped to a 4-byte option: NXM code 40, 4 bytes.
    let mut w = Writer::new();
    let len = encode_nx_match(&matches("tun_metadata0=0x1234"), &mut w);
    assert_eq!(&w.as_slice()[..len], hex("00015004 00001234").as_slice());
    // A shorter value (ovs-ofctl sends the bytes the value needs) is zero-extended; a longer one
    // and an unmapped field are refused.
    let short = hex("00015002 1234");
    assert_eq!(decode_nx_match(&mut Reader::new(&short), short.len()).unwrap(), matches("tun_metadata0=0x1234"));
    let long = hex("00015008 0000000000001234");
    assert_eq!(decode_nx_match(&mut Reader::new(&long), long.len()).unwrap_err().code, bad_match::BAD_LEN);
    let unmapped = hex("00015404 00000001");
    assert_eq!(decode_nx_match(&mut Reader::new(&unmapped), unmapped.len()).unwrap_err().code, bad_match::BAD_FIELD);
}

#[test]
fn openflow_1_0_matches_both_ways() {
    for flow in [
        "",
        "in_port=3,dl_src=00:00:00:00:00:01,dl_dst=00:00:00:00:00:02",
        "dl_vlan=10",
        "dl_vlan_pcp=3",
        "dl_vlan=10,dl_vlan_pcp=3",
        "vlan_tci=0",
        "tcp,nw_src=10.0.0.0/8,nw_dst=192.168.1.1,nw_tos=184,tp_src=1,tp_dst=2",
        "icmp,icmp_type=3,icmp_code=1",
        "arp,arp_op=1,arp_spa=10.0.0.1,arp_tpa=10.0.0.0/16",
        "ipv6",
    ] {
        let m = matches(flow);
        assert!(fits_v1_0_match(&m), "{flow}");
        assert_eq!(through_v1_0(&m), m, "{flow}");
    }
    for flow in [
        "dl_dst=01:00:00:00:00:00/01:00:00:00:00:00",
        "vlan_tci=0x1000/0x1000",
        "ip,nw_src=10.0.0.1/255.0.255.0",
        "ip,nw_ecn=1",
        "ip,nw_ttl=1",
        "tcp,tp_dst=0x100/0xff00",
        "tcp,tcp_flags=+syn",
        "reg0=1",
        "tun_id=1",
        "metadata=1",
        "ipv6,ipv6_src=::1",
        "arp,arp_sha=00:00:00:00:00:01",
    ] {
        assert!(!fits_v1_0_match(&matches(flow)), "{flow}");
    }
    // The ACL rule of the flow issue, as ovs-ofctl -O OpenFlow10 sends its ofp_match.
    let golden = hex("0035e04e 0001 000000000000 000000000000 0000 00 00 0800 00 11 0000 00000000 0a800000 0000 1389");
    let decoded = decode_match(Version::V1_0, &mut Reader::new(&golden)).unwrap();
    assert_eq!(decoded.to_string(), "udp,in_port=1,nw_dst=10.128.0.0/9,tp_dst=5001");
    let mut w = Writer::new();
    encode_match(Version::V1_0, &decoded, &mut w);
    assert_eq!(w.as_slice(), &golden[..]);
    // Fields without their prerequisites are ignored, as Open vSwitch normalises 1.0 matches:
    // here tp_dst=80 and nw_src with dl_type and nw_proto wildcarded.
    let stale = hex("003fc07f 0000 000000000000 000000000000 0000 00 00 0000 00 00 0000 0a000001 00000000 0000 0050");
    assert_eq!(decode_match(Version::V1_0, &mut Reader::new(&stale)).unwrap(), Match::catch_all());
    assert!(decode_match(Version::V1_0, &mut Reader::new(&stale[..39])).is_err());
}

fn oxm_error(tlvs: &str) -> u16 {
    let tlvs = hex(tlvs);
    let mut w = Writer::new();
    w.u16(1);
    w.u16(u16::try_from(4 + tlvs.len()).unwrap());
    w.bytes(&tlvs);
    w.pad_to_8(0);
    let error = decode_match(Version::V1_3, &mut Reader::new(w.as_slice())).unwrap_err();
    assert_eq!(error.kind, ErrorType::BadMatch, "{error}");
    error.code
}

#[test]
fn bad_matches_are_rejected_with_their_codes() {
    use bad_match::*;
    // Unknown field (in_phy_port, pbb_isid, an unknown NXM), known field with the wrong length.
    assert_eq!(oxm_error("80000204 00000001"), BAD_FIELD);
    assert_eq!(oxm_error("80004a03 000001"), BAD_FIELD);
    // MPLS fields without an MPLS eth_type, or with IPv4's; a label beyond 20 bits, a TC
    // beyond 3, a masked label (not maskable).
    assert_eq!(oxm_error("80004404 00000001"), BAD_PREREQ);
    assert_eq!(oxm_error("80000a02 0800 80004601 01"), BAD_PREREQ);
    assert_eq!(oxm_error("80000a02 8847 80004404 00100000"), BAD_VALUE);
    assert_eq!(oxm_error("80000a02 8847 80004601 08"), BAD_VALUE);
    assert_eq!(oxm_error("80000a02 8847 80004508 00000001 000000ff"), BAD_MASK);
    assert_eq!(oxm_error("0001fe04 00000001"), BAD_FIELD);
    assert_eq!(oxm_error("80000a04 00000800"), BAD_LEN);
    assert_eq!(oxm_error("80000a02 08"), BAD_LEN);
    assert_eq!(oxm_error("80000b05 0a000000 ff"), BAD_LEN);
    // The same field twice, also under its NXM and OXM names.
    assert_eq!(oxm_error("80000004 00000001 80000004 00000002"), DUP_FIELD);
    assert_eq!(oxm_error("80000c02 1001 00000802 1001"), DUP_FIELD);
    assert_eq!(oxm_error("80000a02 0800 80000a02 0800"), DUP_FIELD);
    // Missing prerequisites: tcp_dst without tcp, nd_target without ND, vlan_pcp without tag.
    assert_eq!(oxm_error("80000a02 0800 80001c02 0050"), BAD_PREREQ);
    assert_eq!(oxm_error("80000a02 0800 80001401 11 80001c02 0050"), BAD_PREREQ);
    assert_eq!(oxm_error("80000e01 03"), BAD_PREREQ);
    assert_eq!(oxm_error("80000a02 86dd 80001401 3a 80003e10 fe800000000000000000000000000001"), BAD_PREREQ);
    // A mask on a field that takes none (ip_proto); value bits outside the mask.
    assert_eq!(oxm_error("80000a02 0800 80001502 060e"), BAD_MASK);
    assert_eq!(oxm_error("80000a02 0800 80001708 0a000001 ff000000"), BAD_WILDCARDS);
    // Values the field cannot have: vlan_pcp 8, a flow label over 20 bits, in_port 0xff00.
    assert_eq!(oxm_error("80000c02 1001 80000e01 08"), BAD_VALUE);
    assert_eq!(oxm_error("80000a02 86dd 80003804 00100000"), BAD_VALUE);
    assert_eq!(oxm_error("80000004 0000ff00"), BAD_VALUE);
    // NXM_OF_IN_PORT of the 1.0 numbering's unnamed range: no port in 1.3 either (fuzzing).
    assert_eq!(oxm_error("00000002 ff08"), BAD_VALUE);
    assert_eq!(oxm_error("00000002 ff00"), BAD_VALUE);
    // OFPMT_STANDARD, a match length below its header, a match cut short.
    let standard = hex("00000004 00000000");
    assert_eq!(decode_match(Version::V1_3, &mut Reader::new(&standard)).unwrap_err().code, BAD_TYPE);
    let short = hex("00010002 00000000");
    assert_eq!(decode_match(Version::V1_3, &mut Reader::new(&short)).unwrap_err().code, BAD_LEN);
    let cut = hex("0001000c 80000004 00000001");
    assert_eq!(decode_match(Version::V1_3, &mut Reader::new(&cut)).unwrap_err().code, BAD_LEN);
    assert_eq!(decode_nx_match(&mut Reader::new(&hex("00000402")), 4).unwrap_err().code, BAD_LEN);
    // Open vSwitch takes a mask of all ones (or zeros) on a maskless field, as no mask (none).
    let ones = hex("0001000c 80000b04 0800ffff 00000000");
    assert_eq!(decode_match(Version::V1_3, &mut Reader::new(&ones)).unwrap().to_string(), "ip");
}

#[test]
fn subfields_map_to_nicira_headers_like_open_vswitch() {
    let name = |sub: Subfield, proto| {
        let (wire, ofs, bits) = subfield_to_wire(&sub, proto).unwrap();
        format!("{}[{ofs}+{bits}]", wire.name)
    };
    let whole = Subfield::whole;
    assert_eq!(name(whole(Field::InPort), None), "NXM_OF_IN_PORT[0+16]");
    assert_eq!(name(whole(Field::ArpOp), None), "NXM_OF_ARP_OP[0+16]");
    assert_eq!(name(whole(Field::Metadata), None), "OXM_OF_METADATA[0+64]");
    assert_eq!(name(whole(Field::TpSrc), Some(ip_proto::UDP)), "NXM_OF_UDP_SRC[0+16]");
    assert_eq!(name(whole(Field::TpSrc), Some(ip_proto::SCTP)), "OXM_OF_SCTP_SRC[0+16]");
    assert_eq!(name(whole(Field::NwTos), None), "NXM_OF_IP_TOS[0+8]");
    assert_eq!(name(Subfield { field: Field::NwTos, offset: 0, bits: 2 }, None), "NXM_NX_IP_ECN[0+2]");
    assert_eq!(name(Subfield { field: Field::VlanTci, offset: 0, bits: 12 }, None), "NXM_OF_VLAN_TCI[0+12]");
    assert_eq!(subfield_to_wire(&whole(Field::VlanTci2), None), None);
    assert_eq!(subfield_from_wire(&NXM_OF_IN_PORT, 0, 16), Some(whole(Field::InPort)));
    assert_eq!(subfield_from_wire(&NXM_OF_ARP_OP, 0, 16), Some(whole(Field::ArpOp)));
    assert_eq!(subfield_from_wire(&NXM_OF_ARP_OP, 8, 8), None);
    assert_eq!(subfield_from_wire(&NXM_NX_IP_ECN, 0, 2), Some(Subfield { field: Field::NwTos, offset: 0, bits: 2 }));
    assert_eq!(subfield_from_wire(&NXM_NX_REG0, 30, 3), None);
    assert_eq!(lookup_header32(NXM_NX_REG3.header32()), Some(&NXM_NX_REG3));
    assert_eq!(lookup_header32(NXM_NX_REG3.header32() | 0x100), None);
}

/// An OpenFlow 1.0 ofp_match of dl_type 0x0800, nw_proto and tp_src/tp_dst.
fn v1_0_transport_match(nw_proto: u8, tp_src: u16, tp_dst: u16) -> Vec<u8> {
    // Wildcards: everything but DL_TYPE (1 << 4), NW_PROTO (1 << 5), TP_SRC (1 << 6), TP_DST (1 << 7).
    let wildcards: u32 = 0x003f_ffff & !(0xf << 4);
    let mut w = Writer::new();
    w.u32(wildcards);
    w.bytes(&[0; 18]); // in_port, dl_src, dl_dst, dl_vlan, dl_vlan_pcp, pad
    w.u16(0x0800);
    w.u8(0); // nw_tos
    w.u8(nw_proto);
    w.bytes(&[0; 10]); // pad, nw_src, nw_dst
    w.u16(tp_src);
    w.u16(tp_dst);
    w.into_bytes()
}

#[test]
fn v1_0_icmp_type_and_code_keep_their_meaning_or_the_flow_is_refused() {
    let decode = |bytes: Vec<u8>| decode_match(Version::V1_0, &mut Reader::new(&bytes));
    assert_eq!(decode(v1_0_transport_match(1, 8, 0)).unwrap().to_string(), "icmp,icmp_type=8,icmp_code=0");
    // 12041 = 0x2f09: cut to 8 bits it would be type 9, another rule (Open vSwitch keeps the
    // 16 bits; a rule that can match no packet).
    for (tp_src, tp_dst) in [(12041, 0), (8, 256)] {
        let error = decode(v1_0_transport_match(1, tp_src, tp_dst)).unwrap_err();
        assert_eq!((error.kind, error.code), (ErrorType::BadMatch, bad_match::BAD_VALUE), "{error}");
    }
    // TCP ports are 16 bits.
    assert_eq!(decode(v1_0_transport_match(6, 12041, 80)).unwrap().to_string(), "tcp,tp_src=12041,tp_dst=80");
}
