//! Tests of the flow syntax as a whole: the Neutron pipeline and other real rules, every match
//! field, canonical text and round trips, the ovs-ofctl commands, flows files, error messages
//! that name the token, and random input (never a panic; whatever parses round-trips).

use std::net::Ipv4Addr;

use super::key::{Field, FlowKey, Prereq, FIELDS};
use super::match_::numbers::*;
use super::test_random::XorShift;
use super::*;

fn rule(text: &str) -> FlowRule {
    match parse_add_flow(text) {
        Ok(rule) => rule,
        Err(error) => panic!("{text:?}: {error}"),
    }
}

fn error(text: &str) -> String {
    match parse_add_flow(text) {
        Ok(rule) => panic!("{text:?} parsed as {rule}, expected an error"),
        Err(e) => e.to_string(),
    }
}

/// The canonical text of `text`, after checking that it parses back to the same rule.
fn canonical(text: &str) -> String {
    let parsed = rule(text);
    let printed = parsed.to_string();
    assert_eq!(parse_add_flow(&printed), Ok(parsed), "{text:?} printed as {printed:?}");
    printed
}

const NEUTRON: [&str; 5] = [
    "hard_timeout=0 idle_timeout=0 priority=1 in_port=1 actions=resubmit(,1)",
    "hard_timeout=0 idle_timeout=0 priority=1 table=1 dl_dst=00:00:00:00:00:00/01:00:00:00:00:00 actions=resubmit(,20)",
    "hard_timeout=0 idle_timeout=0 priority=1 table=3 tun_id=0x1 actions=mod_vlan_vid:1,resubmit(,10)",
    "hard_timeout=0 idle_timeout=0 priority=1 table=10 actions=learn(table=20,priority=1,hard_timeout=300,\
     NXM_OF_VLAN_TCI[0..11],NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],load:0->NXM_OF_VLAN_TCI[],\
     load:NXM_NX_TUN_ID[]->NXM_NX_TUN_ID[],output:NXM_OF_IN_PORT[]),output:1",
    "hard_timeout=0 idle_timeout=0 priority=1 table=21 dl_vlan=1 actions=strip_vlan,set_tunnel:0x1,output:2,output:3",
];

#[test]
fn tun_metadata_fields_parse_print_and_need_a_mapping() {
    super::tun_metadata::tests::publish_test_map();
    let rule = parse_add_flow(
        "tun_metadata1=0x10/0xf0,tun_metadata0=0x1234,actions=set_field:0xab->tun_metadata63,\
         move:tun_metadata0[0..15]->NXM_NX_REG0[0..15],learn(table=1,NXM_NX_TUN_METADATA0[],output:NXM_OF_IN_PORT[])",
    )
    .unwrap();
    assert_eq!(
        rule.to_string(),
        "tun_metadata0=0x1234,tun_metadata1=0x10/0xf0 actions=set_field:0xab->tun_metadata63,\
         move:NXM_NX_TUN_METADATA0[0..15]->NXM_NX_REG0[0..15],\
         learn(table=1,NXM_NX_TUN_METADATA0[],output:NXM_OF_IN_PORT[])"
    );
    let error = parse_add_flow("tun_metadata5=1,actions=drop").unwrap_err().to_string();
    assert!(error.contains("tun_metadata5 is not mapped"), "{error}");
    assert!(parse_add_flow("tun_metadata0=0x100000000,actions=drop").is_err(), "wider than the 4-byte option");
}

#[test]
fn the_neutron_pipeline_parses_and_prints_as_open_vswitch_does() {
    let printed: Vec<String> = NEUTRON.iter().map(|text| canonical(text)).collect();
    assert_eq!(
        printed,
        [
            "priority=1,in_port=1 actions=resubmit(,1)",
            "table=1, priority=1,dl_dst=00:00:00:00:00:00/01:00:00:00:00:00 actions=resubmit(,20)",
            "table=3, priority=1,tun_id=0x1 actions=mod_vlan_vid:1,resubmit(,10)",
            "table=10, priority=1 actions=learn(table=20,hard_timeout=300,priority=1,NXM_OF_VLAN_TCI[0..11],\
             NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],load:0->NXM_OF_VLAN_TCI[],load:NXM_NX_TUN_ID[]->NXM_NX_TUN_ID[],\
             output:NXM_OF_IN_PORT[]),output:1",
            "table=21, priority=1,dl_vlan=1 actions=strip_vlan,set_tunnel:0x1,output:2,output:3",
        ]
    );
    let file = NEUTRON.join("\n");
    assert_eq!(parse_flows_file(&file).unwrap().len(), 5);
}

/// Lines exactly as Open vSwitch 3.1 dumps them (the OVS oracle of the end-to-end tests): they
/// parse and print back unchanged.
#[test]
fn open_vswitch_dump_flows_output_is_a_fixed_point() {
    for dumped in [
        "table=20, hard_timeout=300, priority=1,vlan_tci=0x0001/0x0fff,dl_dst=fa:16:3e:00:00:02 \
         actions=load:0->NXM_OF_VLAN_TCI[],load:0x1->NXM_NX_TUN_ID[],output:2",
        "in_port=1 actions=output:2",
        "in_port=2 actions=goto_table:1",
        "table=1, actions=output:1,output:3",
        "actions=NORMAL",
        "cookie=0x5, table=3, idle_timeout=10, priority=0 actions=drop",
    ] {
        assert_eq!(canonical(dumped), dumped);
    }
}

#[test]
fn the_neutron_rules_have_the_expected_model() {
    let tunnel = rule(NEUTRON[2]);
    assert_eq!((tunnel.table, tunnel.priority, tunnel.idle_timeout, tunnel.hard_timeout), (3, 1, 0, 0));
    assert_eq!(tunnel.matches.exact_value(Field::TunId), Some(1));
    assert_eq!(
        tunnel.instructions.apply_actions,
        vec![
            Action::SetVlanVid { vid: 1, push_if_needed: true },
            Action::Resubmit { port: OfPort::IN_PORT, table: Some(10) }
        ]
    );
    let vlan = rule(NEUTRON[4]);
    assert_eq!(vlan.matches.value_and_mask(Field::VlanTci), (0x1001, 0x1fff));
    assert_eq!(
        vlan.instructions.apply_actions,
        vec![Action::PopVlan, Action::SetTunnel(1), Action::output(OfPort(2)), Action::output(OfPort(3))]
    );
    let multicast = rule(NEUTRON[1]);
    assert_eq!(multicast.matches.value_and_mask(Field::DlDst), (0, 0x0100_0000_0000));
    let learn = rule(NEUTRON[3]);
    match learn.instructions.apply_actions.as_slice() {
        [Action::Learn(learn), Action::Output { port: OfPort(1), max_len: 0 }] => {
            assert_eq!((learn.table, learn.priority, learn.hard_timeout, learn.specs.len()), (20, 1, 300, 5));
        }
        other => panic!("unexpected actions {other:?}"),
    }
}

#[test]
fn other_real_rules() {
    assert_eq!(
        canonical("priority=100,udp,in_port=1,nw_dst=10.128.0.0/9,tp_dst=5001,actions=output:2"),
        "priority=100,udp,in_port=1,nw_dst=10.128.0.0/9,tp_dst=5001 actions=output:2"
    );
    assert_eq!(
        canonical("table=0,priority=10,ip,nw_src=192.168.0.0/16,actions=drop"),
        "priority=10,ip,nw_src=192.168.0.0/16 actions=drop"
    );
    let udp = rule("priority=100,udp,in_port=1,nw_dst=10.128.0.0/9,tp_dst=5001,actions=output:2");
    let mut packet = FlowKey::default();
    for (field, value) in [
        (Field::InPort, 1),
        (Field::DlType, ETH_TYPE_IP),
        (Field::NwProto, IP_PROTO_UDP),
        (Field::NwDst, u128::from(u32::from(Ipv4Addr::new(10, 200, 1, 2)))),
        (Field::TpDst, 5001),
    ] {
        packet.set_u128(field, value);
    }
    assert!(udp.matches.matches(&packet));
    packet.set_u128(Field::NwDst, u128::from(u32::from(Ipv4Addr::new(10, 127, 1, 2))));
    assert!(!udp.matches.matches(&packet));
}

#[test]
fn defaults_and_the_contract_example() {
    let parsed = rule("priority=10,in_port=1,actions=output:2,output:3");
    assert_eq!(parsed.priority, 10);
    assert_eq!(parsed.matches.in_port(), Some(OfPort(1)));
    assert_eq!(parsed.instructions.apply_actions, vec![Action::output(OfPort(2)), Action::output(OfPort(3))]);
    let defaults = rule("actions=drop");
    assert_eq!(defaults, FlowRule::default());
    assert_eq!((defaults.table, defaults.priority, defaults.cookie), (0, 32768, 0));
    assert!(defaults.matches.is_catch_all());
    assert_eq!(rule("table=0,idle_timeout=0,hard_timeout=0,actions=drop"), FlowRule::default());
    assert_eq!(rule("in_port=1,actions=").instructions, Instructions::default());
    assert_eq!(rule("in_port=1,actions=  ").instructions, Instructions::default());
}

#[test]
fn header_fields() {
    let parsed = rule("cookie=0x1f,table=254,priority=0,idle_timeout=10,hard_timeout=65535,actions=drop");
    assert_eq!((parsed.cookie, parsed.table, parsed.priority), (0x1f, 254, 0));
    assert_eq!((parsed.idle_timeout, parsed.hard_timeout), (10, 65535));
    assert_eq!(
        parsed.to_string(),
        "cookie=0x1f, table=254, idle_timeout=10, hard_timeout=65535, priority=0 actions=drop"
    );
    assert_eq!(rule("cookie=0XfF,actions=drop").cookie, 0xff);
    assert_eq!(rule("cookie=31,actions=drop").cookie, 31);
    assert_eq!(rule("cookie=0xffffffffffffffff,actions=drop").cookie, u64::MAX);
    assert_eq!(rule("duration=1.5s,n_packets=3,n_bytes=180,idle_age=1,hard_age=2,actions=drop"), FlowRule::default());
}

#[test]
fn whitespace_and_separators() {
    let parsed = rule("  priority = 10 ,  in_port= 1, actions = output : 2 , 3 ");
    assert_eq!(parsed.to_string(), "priority=10,in_port=1 actions=output:2,output:3");
    assert_eq!(rule("\tin_port=4,actions=drop\n").matches.in_port(), Some(OfPort(4)));
    assert_eq!(rule("priority=10 in_port=1 actions=drop").to_string(), "priority=10,in_port=1 actions=drop");
    assert_eq!(rule("in_port:3,actions=drop").matches.in_port(), Some(OfPort(3)));
}

#[test]
fn protocol_shorthands() {
    for (text, dl_type, proto, printed) in [
        ("ip", ETH_TYPE_IP, None, "ip"),
        ("ipv6", ETH_TYPE_IPV6, None, "ipv6"),
        ("icmp", ETH_TYPE_IP, Some(IP_PROTO_ICMP), "icmp"),
        ("icmp6", ETH_TYPE_IPV6, Some(IP_PROTO_ICMPV6), "icmp6"),
        ("tcp", ETH_TYPE_IP, Some(IP_PROTO_TCP), "tcp"),
        ("tcp6", ETH_TYPE_IPV6, Some(IP_PROTO_TCP), "tcp6"),
        ("udp", ETH_TYPE_IP, Some(IP_PROTO_UDP), "udp"),
        ("udp6", ETH_TYPE_IPV6, Some(IP_PROTO_UDP), "udp6"),
        ("sctp", ETH_TYPE_IP, Some(IP_PROTO_SCTP), "sctp"),
        ("sctp6", ETH_TYPE_IPV6, Some(IP_PROTO_SCTP), "sctp6"),
        ("arp", ETH_TYPE_ARP, None, "arp"),
        ("rarp", ETH_TYPE_RARP, None, "rarp"),
        ("mpls", ETH_TYPE_MPLS, None, "mpls"),
        ("mplsm", ETH_TYPE_MPLS_MCAST, None, "mplsm"),
        ("dl_type=0x8847", ETH_TYPE_MPLS, None, "mpls"),
        ("dl_type=0x0800,nw_proto=6", ETH_TYPE_IP, Some(IP_PROTO_TCP), "tcp"),
        ("eth_type=0x86dd,ip_proto=58", ETH_TYPE_IPV6, Some(IP_PROTO_ICMPV6), "icmp6"),
        ("ip,nw_proto=47", ETH_TYPE_IP, Some(47), "ip,nw_proto=47"),
        ("dl_type=2048", ETH_TYPE_IP, None, "ip"),
    ] {
        let parsed = rule(&format!("{text},actions=drop"));
        assert_eq!(parsed.matches.exact_value(Field::DlType), Some(dl_type), "{text}");
        assert_eq!(parsed.matches.exact_value(Field::NwProto), proto, "{text}");
        assert_eq!(canonical(&format!("{text},actions=drop")), format!("{printed} actions=drop"));
    }
    assert_eq!(canonical("dl_type=0x88cc,actions=drop"), "dl_type=0x88cc actions=drop");
    assert_eq!(canonical("tcp,ip,actions=drop"), "tcp actions=drop");
    assert_eq!(error("ip,ipv6,actions=drop"), "ipv6: contradicts an earlier field of the match");
    assert_eq!(error("tcp,udp,actions=drop"), "udp: contradicts an earlier field of the match");
    assert_eq!(error("tcp=1,actions=drop"), "tcp=1: tcp takes no value");
}

/// Each case: the match as written, and as Open vSwitch prints it.
const FIELD_CASES: &[(&str, &str)] = &[
    ("in_port=LOCAL", "in_port=LOCAL"),
    ("in_port=CONTROLLER", "in_port=CONTROLLER"),
    ("dl_src=00:11:22:33:44:55", "dl_src=00:11:22:33:44:55"),
    ("eth_src=0:1:2:3:4:5/ff:ff:ff:00:00:00", "dl_src=00:01:02:00:00:00/ff:ff:ff:00:00:00"),
    ("dl_dst=01:00:00:00:00:00/01:00:00:00:00:00", "dl_dst=01:00:00:00:00:00/01:00:00:00:00:00"),
    ("dl_vlan=100", "dl_vlan=100"),
    ("dl_vlan=0xffff", "vlan_tci=0x0000"),
    ("dl_vlan_pcp=5", "dl_vlan_pcp=5"),
    ("dl_vlan=10,dl_vlan_pcp=3", "dl_vlan=10,dl_vlan_pcp=3"),
    ("vlan_tci=0x1005/0x1fff", "dl_vlan=5"),
    ("vlan_tci=0x1000/0x1000", "vlan_tci=0x1000/0x1000"),
    ("vlan_tci=0", "vlan_tci=0x0000"),
    ("vlan_tci=0x0005/0x0fff", "vlan_tci=0x0005/0x0fff"),
    ("vlan_vid=0x1064", "dl_vlan=100"),
    ("vlan_vid=0x1000/0x1000", "vlan_tci=0x1000/0x1000"),
    ("dl_vlan=7,vlan_pcp=2", "dl_vlan=7,dl_vlan_pcp=2"),
    ("ip,nw_src=10.0.0.1", "ip,nw_src=10.0.0.1"),
    ("ip,nw_dst=10.0.0.0/255.0.255.0", "ip,nw_dst=10.0.0.0/255.0.255.0"),
    ("ip,ip_src=10.1.2.3/8", "ip,nw_src=10.0.0.0/8"),
    ("ip,nw_tos=184", "ip,nw_tos=184"),
    ("ip,ip_dscp=46", "ip,nw_tos=184"),
    ("ip,nw_ecn=3", "ip,nw_ecn=3"),
    ("ip,ip_ecn=1,nw_tos=4", "ip,nw_tos=4,nw_ecn=1"),
    ("ip,NXM_OF_IP_TOS=0x20/0xe0", "ip,NXM_OF_IP_TOS=32/0xe0"),
    ("ip,NXM_OF_IP_TOS=0x5/0xff", "ip,nw_tos=4,nw_ecn=1"),
    ("ip,NXM_OF_IP_TOS=0x21/0xe1", "ip,NXM_OF_IP_TOS=33/0xe1"),
    ("ip,NXM_OF_IP_TOS=0xfd/0xfd", "ip,nw_tos=252,NXM_OF_IP_TOS=1/0x1"),
    ("ip,nw_ttl=64", "ip,nw_ttl=64"),
    ("ip,nw_frag=no", "ip,nw_frag=no"),
    ("ip,nw_frag=yes", "ip,nw_frag=yes"),
    ("ip,nw_frag=first", "ip,nw_frag=first"),
    ("ip,ip_frag=later", "ip,nw_frag=later"),
    ("ip,nw_frag=not_later", "ip,nw_frag=not_later"),
    ("tcp,tp_src=1024", "tcp,tp_src=1024"),
    ("tcp,tcp_dst=0x50/0xfff0", "tcp,tp_dst=0x50/0xfff0"),
    ("udp6,udp_src=53", "udp6,tp_src=53"),
    ("sctp,sctp_dst=9", "sctp,tp_dst=9"),
    ("tcp,tcp_flags=syn", "tcp,tcp_flags=syn"),
    ("tcp,tcp_flags=+syn-ack", "tcp,tcp_flags=+syn-ack"),
    ("tcp,tcp_flags=0x012/0x012", "tcp,tcp_flags=+syn+ack"),
    ("tcp6,tcp_flags=syn|ack", "tcp6,tcp_flags=syn|ack"),
    ("icmp,icmp_type=8,icmp_code=0", "icmp,icmp_type=8,icmp_code=0"),
    ("icmp,NXM_OF_ICMP_TYPE=3", "icmp,icmp_type=3"),
    ("icmp6,icmpv6_type=128,icmpv6_code=0", "icmp6,icmp_type=128,icmp_code=0"),
    ("icmp6,icmp_type=135,nd_target=fe80::1", "icmp6,icmp_type=135,nd_target=fe80::1"),
    ("icmp6,icmp_type=135,nd_sll=00:00:00:00:00:01", "icmp6,icmp_type=135,nd_sll=00:00:00:00:00:01"),
    (
        "icmp6,icmp_type=136,icmp_code=0,nd_tll=00:00:00:00:00:02",
        "icmp6,icmp_type=136,icmp_code=0,nd_tll=00:00:00:00:00:02",
    ),
    ("icmp6,icmp_type=136,nd_target=2001:db8::/64", "icmp6,icmp_type=136,nd_target=2001:db8::/64"),
    ("arp,arp_op=1", "arp,arp_op=1"),
    ("arp,arp_spa=10.0.0.1,arp_tpa=10.0.0.0/24", "arp,arp_spa=10.0.0.1,arp_tpa=10.0.0.0/24"),
    (
        "arp,arp_sha=00:00:00:00:00:01,arp_tha=00:00:00:00:00:02",
        "arp,arp_sha=00:00:00:00:00:01,arp_tha=00:00:00:00:00:02",
    ),
    ("rarp,arp_op=3", "rarp,arp_op=3"),
    ("ipv6,ipv6_src=2001:db8::1", "ipv6,ipv6_src=2001:db8::1"),
    ("ipv6,ipv6_dst=2001:db8::/32", "ipv6,ipv6_dst=2001:db8::/32"),
    ("ipv6,ipv6_dst=2001:db8::1/ffff::ffff", "ipv6,ipv6_dst=2001::1/ffff::ffff"),
    ("ipv6,ipv6_label=0x12345", "ipv6,ipv6_label=0x12345"),
    ("ipv6,ipv6_label=5/0xf", "ipv6,ipv6_label=0x00005/0x0000f"),
    ("metadata=0x5", "metadata=0x5"),
    ("metadata=0/0xff", "metadata=0/0xff"),
    ("reg0=5", "reg0=0x5"),
    ("reg7=0x10/0xf0", "reg7=0x10/0xf0"),
    ("NXM_NX_REG3=0", "reg3=0"),
    ("reg0[0..3]=5", "reg0=0x5/0xf"),
    ("reg1[4]=1", "reg1=0x10/0x10"),
    ("tun_id=0x1", "tun_id=0x1"),
    ("tunnel_id=0x10/0xf0", "tun_id=0x10/0xf0"),
    ("tun_src=192.0.2.1,tun_dst=192.0.2.0/24", "tun_src=192.0.2.1,tun_dst=192.0.2.0/24"),
    // ovs-ofctl parse-flow (Open vSwitch 3.1) prints these.
    (
        "tun_flags=oam,tun_ipv6_dst=2001:db8::/32,tun_ipv6_src=fd00::1",
        "tun_ipv6_src=fd00::1,tun_ipv6_dst=2001:db8::/32,tun_flags=+oam",
    ),
    ("tun_flags=0,tun_id=5", "tun_id=0x5,tun_flags=-oam"),
    (
        "tun_flags=+oam,tun_gbp_flags=8,tun_gbp_id=5,tun_ipv6_src=::1",
        "tun_ipv6_src=::1,tun_gbp_id=5,tun_gbp_flags=0x8,tun_flags=+oam",
    ),
    ("tun_gbp_id=0x10/0xf0", "tun_gbp_id=0x10/0xf0"),
    ("NXM_OF_ETH_DST=00:00:00:00:00:09", "dl_dst=00:00:00:00:00:09"),
    ("NXM_OF_IN_PORT=3", "in_port=3"),
    ("dl_vlan=5,vlan_tci2=0x1007", "dl_vlan=5,vlan_tci2=0x1007"),
    (
        "mpls_bos=1,dl_dst=00:00:00:00:00:02,mpls_ttl=5,mpls_tc=3,mpls_label=0x10,mpls,in_port=1",
        "mpls,in_port=1,dl_dst=00:00:00:00:00:02,mpls_label=16,mpls_tc=3,mpls_ttl=5,mpls_bos=1",
    ),
    ("mplsm,mpls_label=1048575,mpls_bos=0", "mplsm,mpls_label=1048575,mpls_bos=0"),
];

#[test]
fn every_match_field_parses_and_prints_as_open_vswitch_does() {
    for (written, printed) in FIELD_CASES {
        assert_eq!(canonical(&format!("{written},actions=drop")), format!("{printed} actions=drop"), "{written}");
    }
}

#[test]
fn open_vswitch_field_order() {
    assert_eq!(
        canonical(
            "tp_dst=80,nw_ttl=3,nw_dst=1.2.3.4,dl_type=0x0800,nw_proto=6,dl_src=00:00:00:00:00:01,dl_vlan=3,\
             in_port=2,metadata=0x1,tun_id=0x2,reg1=1,reg0=2,priority=7,tcp_flags=ack,nw_tos=8,nw_frag=no,\
             tun_src=1.1.1.1,dl_dst=00:00:00:00:00:02,nw_src=5.6.7.8,tp_src=9,actions=drop"
        ),
        "priority=7,tcp,reg0=0x2,reg1=0x1,tun_id=0x2,tun_src=1.1.1.1,metadata=0x1,in_port=2,dl_vlan=3,\
         dl_src=00:00:00:00:00:01,dl_dst=00:00:00:00:00:02,nw_src=5.6.7.8,nw_dst=1.2.3.4,nw_tos=8,nw_ttl=3,\
         nw_frag=no,tp_src=9,tp_dst=80,tcp_flags=ack actions=drop"
    );
}

#[test]
fn match_errors_name_the_token() {
    for (text, expected) in [
        ("nw_src=10.0.0.300,actions=drop", "nw_src=10.0.0.300: invalid IPv4 address"),
        ("tp_dst=80,actions=drop", "tp_dst=80: tp_dst requires tcp, udp or sctp (add e.g. 'tcp,')"),
        ("ip,tp_dst=80,actions=drop", "tp_dst=80: tp_dst requires tcp, udp or sctp (add e.g. 'tcp,')"),
        ("udp,tcp_dst=80,actions=drop", "tcp_dst=80: tcp_dst requires tcp (add e.g. 'tcp,')"),
        ("nw_src=1.2.3.4,actions=drop", "nw_src=1.2.3.4: nw_src requires ip (add e.g. 'ip,')"),
        ("ipv6,nw_src=1.2.3.4,actions=drop", "nw_src=1.2.3.4: nw_src requires ip (add e.g. 'ip,')"),
        ("arp_op=1,actions=drop", "arp_op=1: arp_op requires arp or rarp (add e.g. 'arp,')"),
        ("ip,arp_spa=1.2.3.4,actions=drop", "arp_spa=1.2.3.4: arp_spa requires arp or rarp (add e.g. 'arp,')"),
        ("icmp_type=8,actions=drop", "icmp_type=8: icmp_type requires icmp or icmp6 (add e.g. 'icmp,')"),
        ("icmp6,NXM_OF_ICMP_TYPE=8,actions=drop", "NXM_OF_ICMP_TYPE=8: NXM_OF_ICMP_TYPE requires icmp (add e.g. 'icmp,')"),
        ("icmp,icmpv6_type=8,actions=drop", "icmpv6_type=8: icmpv6_type requires icmp6 (add e.g. 'icmp6,')"),
        (
            "icmp6,nd_target=::1,actions=drop",
            "nd_target=::1: nd_target requires icmp6 with icmp_type 135 or 136 and icmp_code 0 (add e.g. 'icmp6,icmp_type=135,')",
        ),
        (
            "icmp6,icmp_type=136,nd_sll=00:00:00:00:00:01,actions=drop",
            "nd_sll=00:00:00:00:00:01: nd_sll requires icmp6 with icmp_type 135 and icmp_code 0 (add e.g. 'icmp6,icmp_type=135,')",
        ),
        ("ipv6_label=1,actions=drop", "ipv6_label=1: ipv6_label requires ipv6 (add e.g. 'ipv6,')"),
        ("nw_ttl=1,actions=drop", "nw_ttl=1: nw_ttl requires ip or ipv6 (add e.g. 'ip,')"),
        ("nw_tos=8,actions=drop", "nw_tos=8: nw_tos requires ip or ipv6 (add e.g. 'ip,')"),
        ("tcp_flags=syn,actions=drop", "tcp_flags=syn: tcp_flags requires tcp (add e.g. 'tcp,')"),
        ("vlan_pcp=1,actions=drop", "vlan_pcp=1: vlan_pcp requires a VLAN tag (add e.g. 'dl_vlan=10,')"),
        ("ip,nw_frag=later,tcp,tp_dst=1,actions=drop", "tp_dst=1: tp_dst requires tcp, udp or sctp (add e.g. 'tcp,')"),
        ("tcp,tp_dst=70000,actions=drop", "tp_dst=70000: value does not fit in the 16-bit field tp_dst"),
        ("ip,nw_proto=6/0xf,actions=drop", "nw_proto=6/0xf: nw_proto does not take a mask"),
        ("dl_vlan=4096,actions=drop", "dl_vlan=4096: not a VLAN id (0..4095, or 0xffff for no VLAN)"),
        ("dl_vlan_pcp=8,actions=drop", "dl_vlan_pcp=8: not a VLAN priority (0..7)"),
        ("dl_vlan=0xffff,dl_vlan_pcp=1,actions=drop", "dl_vlan_pcp=1: contradicts an earlier field of the match"),
        ("vlan_vid=100,actions=drop", "vlan_vid=100: a tagged VLAN id needs the present bit 0x1000 (vlan_vid=0x1064), or write dl_vlan=100"),
        ("vlan_vid=0x2000,actions=drop", "vlan_vid=0x2000: not a VLAN id (13 bits: 0x1000 for a tag plus the id)"),
        (
            "ip,nw_tos=5,actions=drop",
            "nw_tos=5: not a TOS value with the ECN bits 0 (a multiple of 4 up to 252, no mask); use nw_ecn for ECN",
        ),
        (
            "ip,nw_tos=0x20/0xe0,actions=drop",
            "nw_tos=0x20/0xe0: not a TOS value with the ECN bits 0 (a multiple of 4 up to 252, no mask); use nw_ecn for ECN",
        ),
        ("ip,nw_ecn=1/1,actions=drop", "nw_ecn=1/1: not an ECN value (0..3)"),
        ("ip,ip_dscp=64,actions=drop", "ip_dscp=64: not a DSCP value (0..63)"),
        ("ip,nw_ecn=4,actions=drop", "nw_ecn=4: not an ECN value (0..3)"),
        ("ip,nw_frag=sometimes,actions=drop", "nw_frag=sometimes: unknown fragment kind (no, yes, first, later or not_later)"),
        ("dl_dst=00:11,actions=drop", "dl_dst=00:11: invalid Ethernet address (expected xx:xx:xx:xx:xx:xx)"),
        ("ipv6,ipv6_src=::g,actions=drop", "ipv6_src=::g: invalid IPv6 address"),
        ("reg0[0..3]=16,actions=drop", "reg0[0..3]=16: value or mask does not fit in the 4 bits of NXM_NX_REG0[0..3]"),
        ("reg0[40]=1,actions=drop", "reg0[40]=1: bit 40 is beyond the 32-bit field NXM_NX_REG0"),
        ("reg9=1,actions=drop", "reg9=1: unknown field"),
        ("in_port=abc,actions=drop", "in_port=abc: not a port number"),
        ("in_port=-1,actions=drop", "in_port=-1: not a port number"),
        ("in_port=0,actions=drop", "in_port=0: port number out of range 1..=65279"),
        ("in_port=65280,actions=drop", "in_port=65280: port number out of range 1..=65279"),
        ("in_port=FLOOD,actions=drop", "in_port=FLOOD: FLOOD is not a port a packet can come from (a port number, LOCAL or CONTROLLER)"),
        ("in_port=,actions=drop", "in_port=: missing value; expected in_port=<value>"),
        ("priority=65536,actions=drop", "priority=65536: not a priority (0..65535)"),
        ("priority=+5,actions=drop", "priority=+5: not a priority (0..65535)"),
        ("priority,actions=drop", "priority: missing value; expected priority=<0..65535>"),
        ("table=255,actions=drop", "table=255: not a table number (0..254)"),
        ("table=256,actions=drop", "table=256: not a table number (0..254)"),
        ("idle_timeout=65536,actions=drop", "idle_timeout=65536: not a timeout in seconds (0..65535)"),
        ("cookie=0xg,actions=drop", "cookie=0xg: not a cookie (64-bit decimal or 0x hex)"),
        ("cookie=0x,actions=drop", "cookie=0x: not a cookie (64-bit decimal or 0x hex)"),
        ("cookie=0x10000000000000000,actions=drop", "cookie=0x10000000000000000: not a cookie (64-bit decimal or 0x hex)"),
        (
            "cookie=1/0xff,actions=drop",
            "cookie=1/0xff: cookie masks are only for selecting flows (mod-flows, del-flows, dump-flows), not for adding them",
        ),
        ("out_port=1,actions=drop", "out_port=1: out_port selects rules; it is for del-flows and dump-flows"),
        ("send_flow_rem,actions=drop", "send_flow_rem: not supported yet"),
        ("mpls_label=5,actions=drop", "mpls_label=5: mpls_label requires mpls or mplsm (add e.g. 'mpls,')"),
        ("mpls,mpls_label=0x100000,actions=drop", "mpls_label=0x100000: value does not fit in the 20-bit field mpls_label"),
        ("mpls,actions=set_field:1->mpls_bos", "set_field:1->mpls_bos: mpls_bos is read-only"),
        ("ip,actions=pop_mpls:0x0800", "pop_mpls:0x0800: pop_mpls requires mpls or mplsm, which the match does not guarantee (add e.g. 'mpls,' to the match)"),
        ("actions=push_mpls:0x0800", "push_mpls:0x0800: not an MPLS ethertype (0x8847 or 0x8848)"),
        ("ct_state=+trk,actions=drop", "ct_state=+trk: field not supported yet"),
        ("xreg1=1,actions=drop", "xreg1=1: field not supported yet"),
        ("frobnicate=1,actions=drop", "frobnicate=1: unknown field"),
        ("hello,actions=drop", "hello: unknown field"),
        ("priority=1,priority=2,actions=drop", "priority=2: priority is given twice"),
        ("in_port=1,in_port=2,actions=drop", "in_port=2: in_port is given twice"),
        ("in_port=1,actions", "actions: missing value; expected actions=<action list>"),
    ] {
        assert_eq!(error(text), expected, "{text}");
    }
    assert!(error("in_port=1").contains("no actions"));
    assert!(error("").contains("no actions"));
    assert_eq!(
        error("actions=output:2,in_port=1"),
        "in_port=1: unknown action (match fields go before actions=, which must come last)"
    );
}

#[test]
fn actions_print_as_open_vswitch_does() {
    for (written, printed) in [
        ("output:1,2,in_port,IN_PORT,output:in_port", "output:1,output:2,IN_PORT,IN_PORT,IN_PORT"),
        ("normal,FLOOD,all,local,output:LOCAL", "NORMAL,FLOOD,ALL,LOCAL,LOCAL"),
        ("controller,CONTROLLER:64,output:controller", "CONTROLLER:65535,CONTROLLER:64,CONTROLLER:65535"),
        ("controller(max_len=100,reason=no_match)", "controller(reason=no_match,max_len=100)"),
        ("controller(reason=invalid_ttl)", "controller(reason=invalid_ttl)"),
        ("resubmit(,1),resubmit:2,resubmit(3,4),resubmit(5,),resubmit(in_port,6)", "resubmit(,1),resubmit:2,resubmit(3,4),resubmit:5,resubmit(,6)"),
        ("mod_vlan_vid:1,set_vlan_vid:2,mod_vlan_pcp:3,set_vlan_pcp:4", "mod_vlan_vid:1,set_vlan_vid:2,mod_vlan_pcp:3,set_vlan_pcp:4"),
        ("strip_vlan,pop_vlan,push_vlan:0x8100", "strip_vlan,strip_vlan,push_vlan:0x8100"),
        ("mod_dl_src:0:1:2:3:4:5,mod_dl_dst:AA:BB:CC:DD:EE:FF", "mod_dl_src:00:01:02:03:04:05,mod_dl_dst:aa:bb:cc:dd:ee:ff"),
        ("mod_nw_src:10.0.0.1,mod_nw_dst:10.0.0.2,mod_nw_tos:184,mod_nw_ecn:2,mod_nw_ttl:9", "mod_nw_src:10.0.0.1,mod_nw_dst:10.0.0.2,mod_nw_tos:184,mod_nw_ecn:2,mod_nw_ttl:9"),
        ("mod_tp_src:1,mod_tp_dst:2,dec_ttl", "mod_tp_src:1,mod_tp_dst:2,dec_ttl"),
        ("set_tunnel:0x1,set_tunnel64:0x2,set_tunnel:0x100000000,set_tunnel:0", "set_tunnel:0x1,set_tunnel:0x2,set_tunnel64:0x100000000,set_tunnel:0"),
        ("set_field:5->reg0,set_field:0x5/0xf->reg1", "set_field:0x5->reg0,set_field:0x5/0xf->reg1"),
        ("set_field:00:00:00:00:00:01->dl_dst,set_field:1.2.3.4->nw_src", "set_field:00:00:00:00:00:01->eth_dst,set_field:1.2.3.4->ip_src"),
        ("set_field:4196->vlan_vid,set_field:3->vlan_pcp", "set_field:4196->vlan_vid,set_field:3->vlan_pcp"),
        ("set_field:0x1005->vlan_tci", "set_field:0x1005->vlan_tci"),
        ("set_field:1->tun_id,set_field:LOCAL->in_port", "set_field:0x1->tun_id,set_field:LOCAL->in_port"),
        ("load:0->NXM_OF_VLAN_TCI[],load:5->reg0[0..3],load:1->reg1[7]", "load:0->NXM_OF_VLAN_TCI[],load:0x5->NXM_NX_REG0[0..3],load:0x1->NXM_NX_REG1[7]"),
        ("move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],move:reg0[0..15]->tun_id[16..31]", "move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],move:NXM_NX_REG0[0..15]->NXM_NX_TUN_ID[16..31]"),
        ("meter:1,output:2,clear_actions,write_actions(output:3,strip_vlan),write_metadata:0x10/0xff,goto_table:4", "meter:1,output:2,clear_actions,write_actions(output:3,strip_vlan),write_metadata:0x10/0xff,goto_table:4"),
        ("write_metadata:0,goto_table:9", "write_metadata:0,goto_table:9"),
        ("write_actions()", "drop"),
        ("write_actions(),goto_table:1", "goto_table:1"),
        ("learn(table=1)", "learn(table=1)"),
        ("learn(cookie=0x5,priority=9,table=2,idle_timeout=1,fin_hard_timeout=4,fin_idle_timeout=3,dl_type=0x800,nw_src=10.0.0.1,reg0[0..3]=5,in_port=LOCAL)", "learn(table=2,idle_timeout=1,fin_idle_timeout=3,fin_hard_timeout=4,priority=9,cookie=0x5,eth_type=0x800,ip_src=10.0.0.1,NXM_NX_REG0[0..3]=0x5,in_port=LOCAL)"),
        ("learn(NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],load:0x5->NXM_NX_REG0[0..3],output:NXM_OF_IN_PORT[])", "learn(table=1,NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],load:0x5->NXM_NX_REG0[0..3],output:NXM_OF_IN_PORT[])"),
        ("drop", "drop"),
        ("", "drop"),
    ] {
        let rule_text = format!("dl_vlan=1,ip,actions={written}");
        let printed_rule = canonical(&rule_text);
        assert_eq!(printed_rule, format!("ip,dl_vlan=1 actions={printed}"), "{written}");
    }
    assert_eq!(
        canonical("ip,actions=set_field:46->ip_dscp,set_field:1->ip_ecn"),
        "ip actions=set_field:184->nw_tos,set_field:1->nw_ecn"
    );
    // MPLS, as ovs-ofctl 3.1 prints them (its 1.0 form of set_mpls_label/tc); the MPLS
    // actions follow the ethertype push_mpls and pop_mpls leave.
    for (written, printed) in [
        ("mpls,actions=pop_mpls:0x800,output:1", "mpls actions=pop_mpls:0x0800,output:1"),
        (
            "ip,actions=push_mpls:0x8847,set_mpls_label:5,set_mpls_tc:2,set_mpls_ttl:9,dec_mpls_ttl",
            "ip actions=push_mpls:0x8847,set_mpls_label(5),set_mpls_tc(2),set_mpls_ttl(9),dec_mpls_ttl",
        ),
        (
            "mplsm,actions=set_mpls_label(7),set_field:3->mpls_tc,set_field:4->mpls_ttl,copy_ttl_in,copy_ttl_out",
            "mplsm actions=set_mpls_label(7),set_field:3->mpls_tc,set_field:4->mpls_ttl,copy_ttl_in,copy_ttl_out",
        ),
        (
            "mpls,actions=pop_mpls:0x8847,set_mpls_ttl:1,pop_mpls:0x86dd,set_field:::1->ipv6_dst",
            "mpls actions=pop_mpls:0x8847,set_mpls_ttl(1),pop_mpls:0x86dd,set_field:::1->ipv6_dst",
        ),
        (
            "mpls,actions=write_actions(pop_mpls:0x0800,output:2)",
            "mpls actions=write_actions(pop_mpls:0x0800,output:2)",
        ),
    ] {
        assert_eq!(canonical(written), printed, "{written}");
    }
    assert!(error("mpls,actions=pop_mpls:0x0800,set_mpls_ttl:3").contains("set_mpls_ttl requires mpls"));
    assert_eq!(
        canonical("mpls,actions=pop_mpls:0x0800,set_field:1.2.3.4->ip_src"),
        "mpls actions=pop_mpls:0x0800,set_field:1.2.3.4->ip_src",
        "after pop_mpls to IPv4 the IPv4 fields may be set"
    );
}

#[test]
fn action_errors_name_the_token() {
    for (text, expected) in [
        ("actions=drop,output:1", "drop: cannot be combined with other actions"),
        ("actions=output:x", "output:x: not a port number"),
        ("actions=output:0", "output:0: port number out of range 1..=65279"),
        ("actions=bounce", "bounce: unknown action"),
        ("actions=ct(commit,zone=1),output:2", "ct(commit,zone=1): action not supported yet"),
        (
            "actions=set_field:10.0.0.1->nw_dst",
            "set_field:10.0.0.1->nw_dst: nw_dst requires ip, which the match does not guarantee (add e.g. 'ip,' to the match)",
        ),
        (
            "ip,actions=set_field:80->tp_dst",
            "set_field:80->tp_dst: tp_dst requires tcp, udp or sctp, which the match does not guarantee (add e.g. 'tcp,' to the match)",
        ),
        ("actions=set_field:1->nw_proto", "set_field:1->nw_proto: nw_proto is read-only"),
        ("actions=goto_table:0", "goto_table:0: goto_table must go to a later table than the rule's own (table 0)"),
        ("table=5,actions=goto_table:5", "goto_table:5: goto_table must go to a later table than the rule's own (table 5)"),
        (
            "actions=learn(table=2,NXM_OF_TCP_DST[])",
            "learn(table=2,NXM_OF_TCP_DST[]): NXM_OF_TCP_DST[]: tp_dst requires tcp, udp or sctp, which the match does \
             not guarantee (add e.g. 'tcp,' to the match)",
        ),
        ("actions=learn(table=2", "learn(table=2: missing ')'"),
    ] {
        assert_eq!(error(text), expected, "{text}");
    }
    assert!(rule("table=5,actions=goto_table:6").instructions.goto_table == Some(6));
}

#[test]
fn mod_flows() {
    let modification = parse_mod_flows("table=1,priority=5,tcp,cookie=0x10/0xff,actions=output:2", true).unwrap();
    assert_eq!(modification.selector.table, Some(1));
    assert!(modification.selector.strict);
    assert_eq!(
        (modification.selector.priority, modification.selector.cookie, modification.selector.cookie_mask),
        (5, 0x10, 0xff)
    );
    assert_eq!(modification.new_cookie, None);
    assert_eq!(modification.instructions.apply_actions, vec![Action::output(OfPort(2))]);
    let set_cookie = parse_mod_flows("in_port=1 cookie=0x7 idle_timeout=3 actions=drop", false).unwrap();
    assert_eq!((set_cookie.new_cookie, set_cookie.selector.cookie_mask, set_cookie.idle_timeout), (Some(7), 0, 3));
    assert_eq!(set_cookie.selector.table, None);
    assert!(set_cookie.instructions.is_drop());
    assert_eq!(parse_mod_flows("table=255,actions=drop", false).unwrap().selector.table, None);
    assert!(parse_mod_flows("in_port=1", false).unwrap_err().to_string().contains("no actions"));
    assert!(parse_mod_flows("actions=set_field:1.2.3.4->nw_src", false)
        .unwrap_err()
        .to_string()
        .contains("nw_src requires ip"));
    assert_eq!(
        parse_mod_flows("actions=goto_table:0", false).unwrap().instructions.goto_table,
        Some(0),
        "without a table the goto target is checked when applied"
    );
}

#[test]
fn group_actions_round_trip() {
    let text = "priority=5,in_port=1 actions=group:1,write_actions(group:4294967040)";
    let parsed = rule(text);
    assert_eq!(parsed.instructions.apply_actions, [Action::Group(1)]);
    assert_eq!(parsed.instructions.groups().collect::<Vec<_>>(), [1, GROUP_MAX]);
    assert_eq!(parsed.to_string(), text);
    assert_eq!(rule(&parsed.to_string()), parsed);
    for bad in ["actions=group:4294967041", "actions=group:x", "actions=group", "actions=group:-1"] {
        assert!(parse_add_flow(bad).unwrap_err().to_string().contains("group"), "{bad}");
    }
}

#[test]
fn del_flows_and_dump_flows() {
    let all = parse_del_flows("", false).unwrap();
    assert_eq!(all, FlowSelector::default());
    let strict = parse_del_flows("priority=5,in_port=1,tcp", true).unwrap();
    assert!(strict.strict);
    assert_eq!(strict.priority, 5);
    assert_eq!(strict.matches, rule("in_port=1,tcp,actions=drop").matches);
    let filtered = parse_dump_flows("table=2, cookie=0x5/-1, out_port=3, ip").unwrap();
    assert_eq!(
        (filtered.table, filtered.cookie, filtered.cookie_mask, filtered.out_port),
        (Some(2), 5, u64::MAX, Some(OfPort(3)))
    );
    assert_eq!(parse_dump_flows("table=255,out_port=ANY").unwrap(), FlowSelector::default());
    assert_eq!(parse_dump_flows("out_group=ANY").unwrap(), FlowSelector::default());
    assert_eq!(parse_del_flows("out_group=7", false).unwrap().out_group, Some(7));
    assert!(parse_dump_flows("out_group=x").unwrap_err().to_string().contains("not a group id"));
    assert!(parse_add_flow("out_group=1,actions=drop").unwrap_err().to_string().contains("del-flows and dump-flows"));
    for (result, expected) in [
        (
            parse_del_flows("priority=5", false),
            "priority=5: del-flows without --strict selects rules of every priority",
        ),
        (
            parse_del_flows("cookie=5", false),
            "cookie=5: del-flows selects rules by cookie only with a mask, e.g. cookie=5/-1",
        ),
        (parse_dump_flows("cookie=5"), "cookie=5: dump-flows selects rules by cookie only with a mask"),
        (parse_dump_flows("in_port=1,actions=drop"), "actions=drop: dump-flows takes a match only"),
        (
            parse_del_flows("idle_timeout=5", true),
            "idle_timeout=5: del-flows takes a match only; timeouts are for add-flow",
        ),
        (parse_dump_flows("tp_dst=80"), "tp_dst=80: tp_dst requires tcp, udp or sctp"),
        (parse_dump_flows("cookie=x/1"), "cookie=x/1: not a cookie"),
    ] {
        let message = result.unwrap_err().to_string();
        assert!(message.starts_with(expected), "{message}");
    }
    let rules = parse_flows_file(&NEUTRON.join("\n")).unwrap();
    let table_1 = parse_dump_flows("table=1").unwrap();
    assert_eq!(rules.iter().filter(|r| table_1.selects(r)).count(), 1);
    let outputs_2 = parse_dump_flows("out_port=2").unwrap();
    assert_eq!(rules.iter().filter(|r| outputs_2.selects(r)).count(), 1);
    let vlan_1 = parse_del_flows("dl_vlan=1", false).unwrap();
    assert_eq!(rules.iter().filter(|r| vlan_1.selects(r)).count(), 1);
}

#[test]
fn flows_files() {
    let text = "# the pipeline\n\npriority=1,in_port=1,actions=output:2   # forward\n  \t\n\
                table=1, priority=2 actions=drop\n";
    let rules = parse_flows_file(text).unwrap();
    assert_eq!(rules.len(), 2);
    assert_eq!(rules[1].table, 1);
    assert_eq!(parse_flows_file("").unwrap(), vec![]);
    let failure =
        parse_flows_file("actions=drop\n# ok\nip,nw_src=10.0.0.300,actions=drop\nactions=bogus\n").unwrap_err();
    assert_eq!(failure.line, 3);
    assert_eq!(failure.to_string(), "line 3: nw_src=10.0.0.300: invalid IPv4 address");
    assert_eq!(failure.error.token(), "nw_src=10.0.0.300");
    assert_eq!(failure.error.problem(), "invalid IPv4 address");
}

#[test]
fn display_never_hides_a_matched_bit() {
    let mut matches = Match::catch_all();
    matches.set_exact(Field::TpDst, 80);
    matches.set_exact(Field::NdTarget, 1);
    matches.set_masked(Field::DlType, ETH_TYPE_IP, 0xff00);
    let built = FlowRule { matches, ..FlowRule::default() };
    assert_eq!(built.to_string(), "dl_type=0x0800/0xff00,tp_dst=80,nd_target=::1 actions=drop");
}

/// Random valid matches built in code (fields set only where their prerequisites hold, masks
/// only on maskable fields): they print to text that parses back to the same rule.
#[test]
fn random_matches_round_trip() {
    let mut random = XorShift(0x0dd5_eed5_0ff1_0e11);
    let contexts: [&[(Field, u128)]; 11] = [
        &[],
        &[(Field::DlType, ETH_TYPE_IP)],
        &[(Field::DlType, ETH_TYPE_IP), (Field::NwProto, IP_PROTO_TCP)],
        &[(Field::DlType, ETH_TYPE_IPV6), (Field::NwProto, IP_PROTO_UDP)],
        &[(Field::DlType, ETH_TYPE_IP), (Field::NwProto, IP_PROTO_ICMP)],
        &[(Field::DlType, ETH_TYPE_IPV6), (Field::NwProto, IP_PROTO_ICMPV6), (Field::Icmpv6Type, 135)],
        &[(Field::DlType, ETH_TYPE_IPV6), (Field::NwProto, IP_PROTO_ICMPV6), (Field::Icmpv6Type, 136)],
        &[(Field::DlType, ETH_TYPE_ARP)],
        &[(Field::DlType, ETH_TYPE_IP), (Field::VlanTci, 0x1005)],
        &[(Field::DlType, ETH_TYPE_MPLS)],
        &[(Field::DlType, ETH_TYPE_MPLS_MCAST)],
    ];
    let mut checked = 0;
    for _ in 0..20_000 {
        let mut matches = Match::catch_all();
        for &(field, value) in contexts[random.below(contexts.len())] {
            matches.set_exact(field, value);
        }
        for _ in 0..=random.below(4) {
            let def = &FIELDS[random.below(FIELDS.len())];
            // Fields that decide the context stay as it set them; others are set only where
            // their prerequisites hold, as a parser or a controller would.
            let decides_context =
                matches!(def.field, Field::DlType | Field::NwProto | Field::Icmpv6Type | Field::IcmpType);
            if decides_context || !matches.satisfies(def.prereq) {
                continue;
            }
            let value = match def.field {
                // A port number or a reserved port, as a packet's in_port always is.
                Field::InPort => [1 + random.below(0xfeff) as u128, 0xfffd, 0xfffe][random.below(3)],
                _ => u128::from(random.next()) << 64 | u128::from(random.next()),
            };
            let mask = match random.below(3) {
                0 => u128::MAX,
                _ if !def.maskable => u128::MAX,
                1 => u128::from(random.next()),
                _ => u128::MAX << random.below(def.bits as usize),
            };
            matches.set_masked(def.field, value, mask);
        }
        if matches.check_prerequisites().is_err() {
            continue;
        }
        let built = FlowRule { matches, priority: u16::try_from(random.below(65536)).unwrap(), ..FlowRule::default() };
        let text = built.to_string();
        assert_eq!(parse_add_flow(&text), Ok(built.clone()), "{text}");
        checked += 1;
    }
    assert!(checked > 5_000, "only {checked} random matches were valid");
}

#[test]
fn parsed_matches_pass_the_prerequisite_check() {
    for (written, _) in FIELD_CASES {
        let parsed = rule(&format!("{written},actions=drop"));
        assert_eq!(parsed.matches.check_prerequisites(), Ok(()), "{written}");
        assert_eq!(parsed.check(), Ok(()), "{written}");
    }
    for text in NEUTRON {
        assert_eq!(rule(text).check(), Ok(()), "{text}");
    }
    assert!(rule("ip,actions=drop").matches.satisfies(Prereq::Ip));
}

#[test]
fn random_input_never_panics_and_what_parses_round_trips() {
    let mut random = XorShift(0x5eed_f10e_2024_0001);
    let check = |text: &str| {
        if let Ok(parsed) = parse_add_flow(text) {
            let printed = parsed.to_string();
            assert_eq!(parse_add_flow(&printed), Ok(parsed), "{text:?} -> {printed:?}");
        }
        let _ = parse_mod_flows(text, true);
        let _ = parse_del_flows(text, false);
        let _ = parse_dump_flows(text);
        let _ = parse_flows_file(text);
    };
    for _ in 0..10_000 {
        let len = random.below(64);
        let bytes: Vec<u8> = (0..len).map(|_| (random.next() & 0xff) as u8).collect();
        check(&String::from_utf8_lossy(&bytes));
    }
    let pieces = [
        "priority",
        "cookie",
        "table",
        "in_port",
        "actions",
        "output",
        "drop",
        "idle_timeout",
        "=",
        "==",
        ",",
        ":",
        " ",
        "(",
        ")",
        "[",
        "]",
        "..",
        "->",
        "/",
        "0",
        "1",
        "8",
        "65279",
        "0x",
        "ff",
        "-",
        "IN_PORT",
        "LOCAL",
        "nw_src",
        "10.0.0.1",
        "tcp",
        "ip",
        "ipv6",
        "icmp6",
        "arp",
        "tp_dst",
        "dl_vlan",
        "vlan_tci",
        "reg0",
        "NXM_OF_ETH_DST",
        "NXM_NX_REG0",
        "load",
        "move",
        "set_field",
        "learn",
        "resubmit",
        "write_actions",
        "goto_table",
        "meter",
        "nd_target",
        "::1",
        "00:00:00:00:00:01",
        "tcp_flags",
        "+syn",
        "icmp_type",
        "strip_vlan",
        "mod_vlan_vid",
        "controller",
        "reason",
        "\u{e9}",
        "\u{1F600}",
        "\0",
        "#",
    ];
    for _ in 0..30_000 {
        let count = random.below(16);
        let text: String = (0..count).map(|_| pieces[random.below(pieces.len())]).collect();
        check(&text);
    }
    for text in NEUTRON {
        for _ in 0..200 {
            let mut bytes = text.as_bytes().to_vec();
            for _ in 0..=random.below(3) {
                let at = random.below(bytes.len());
                bytes[at] = b" =,:()[]./->0123456789abcdefx_"[random.below(30)];
            }
            check(&String::from_utf8_lossy(&bytes));
        }
    }
}
