//! Differential tests against Open vSwitch: the same flow tables are loaded
//! into vswitchd (`vsctl add-flows`; ports on `net_null` vdevs without
//! traffic, with the same OpenFlow port numbers and VLAN modes) and into the
//! OVS oracle (dummy ports), and the same packets, written as flows, are
//! traced through both (`vsctl trace`, `ofproto/trace`). For every packet
//! the two must agree on what leaves the switch - the output ports as a
//! multiset, each with its 802.1Q tags and every header field changed (the
//! common form of `vswitch_e2e::trace_diff`) - and on the tables looked up,
//! in order. Every mismatch is collected and printed with both traces. For
//! each case the test also states what OVS delivers (the ports), so that
//! the comparison is anchored: both dropping everything cannot pass.
//!
//! Rule sets: Neutron's tunnel bridge (resubmit, VLAN push/pop, set_tunnel,
//! `learn`), `NORMAL` on trunks of every VLAN and on access/trunk ports
//! (`tag`, `trunks`), a multi-table ACL of OpenFlow 1.3 instructions
//! (goto_table, write_actions, clear_actions, write_metadata, masked and
//! prefix matches, tcp_flags, set_field/load/move rewrites, copy before
//! modify, IN_PORT) and Nicira extensions in OpenFlow 1.0 (registers,
//! resubmit with another in_port, VLAN rewrites, FLOOD, ALL).
//!
//! Side effects are made equal explicitly, since the switch's trace applies
//! none: after OVS learned (a packet traced with side effects), the switch
//! gets the same state through its management interface - the rule its own
//! trace says `learn` would add, which must be exactly the flow OVS learned
//! (compared as `ovs-ofctl dump-flows` prints it), loaded with `vsctl
//! add-flow`; the MAC OVS learned, with `vsctl fdb-add`. Learning from real
//! packets in the datapath is covered by `pipeline_datapath`.
//!
//! The switch has no bridge-internal port, so OVS's outputs to LOCAL are
//! left out for the `NORMAL` bridges (the only rules here that reach it).
//!
//! Known disagreements with OVS are not here but in `ovs_mismatch`, whose
//! tests fail until the switch is fixed, so that this file stays green and
//! keeps guarding what agrees.
#![forbid(unsafe_code)]
use vswitch_e2e::differential::{compare_cases, ports, DiffPair, VLAN_PORTS};
use vswitch_e2e::switch_config::BRIDGE as BR;
use vswitch_e2e::trace_diff::Delivery;
use vswitch_e2e::{OfVersion, TestDir, NEUTRON_TUNNEL_BRIDGE};

/// A multi-table ACL in OpenFlow 1.3: table 0 splits IP from ARP and drops
/// a quarantined port, table 1 is an allow-list of TCP/UDP/ICMP services
/// with priorities and a default drop, table 2 rewrites and forwards.
const ACL: [&str; 24] = [
    "table=0,priority=200,in_port=4,actions=drop",
    "table=0,priority=100,ip,actions=goto_table:1",
    "table=0,priority=100,arp,actions=output:1,output:2,output:3",
    "table=0,priority=0,actions=drop",
    "table=1,priority=300,tcp,nw_src=10.0.0.0/8,tp_dst=22,actions=goto_table:2",
    "table=1,priority=250,tcp,tp_dst=0x1f00/0xff00,actions=goto_table:2",
    "table=1,priority=200,tcp,tp_dst=80,actions=goto_table:2",
    "table=1,priority=200,tcp,tp_dst=443,actions=write_actions(set_field:10.2.2.2->ip_src,output:1),goto_table:2",
    "table=1,priority=150,udp,tp_dst=53,actions=write_metadata:0x35/0xff,goto_table:2",
    "table=1,priority=120,tcp,tcp_flags=+ack,actions=goto_table:2",
    "table=1,priority=100,icmp,icmp_type=8,actions=goto_table:2",
    "table=1,priority=0,actions=drop",
    "table=2,priority=40,tcp,nw_dst=172.16.0.0/12,tp_dst=443,actions=output:2,clear_actions",
    "table=2,priority=30,tcp,tp_dst=80,actions=set_field:10.1.1.1->ip_dst,set_field:8080->tcp_dst,output:2",
    "table=2,priority=25,ip,dl_vlan=7,actions=pop_vlan,output:1",
    "table=2,priority=20,ip,nw_dst=192.168.0.0/16,\
     actions=output:2,mod_dl_src:02:00:00:00:00:aa,mod_dl_dst:02:00:00:00:00:bb,dec_ttl,output:3",
    "table=2,priority=15,udp,metadata=0x35/0xff,actions=mod_nw_tos:0xb8,mod_tp_src:5353,output:3",
    "table=2,priority=12,icmp,actions=move:NXM_OF_IP_SRC[]->NXM_OF_IP_DST[],\
     load:0x0a000001->NXM_OF_IP_SRC[],move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],output:in_port",
    "table=2,priority=10,tcp,tp_dst=22,actions=mod_vlan_vid:100,mod_vlan_pcp:5,output:3",
    "table=2,priority=5,ip,actions=mod_vlan_vid:100,output:3",
    "table=2,priority=0,actions=drop",
    "table=3,priority=10,udp,actions=output:3",
    "table=3,priority=10,tcp,actions=output:2",
    "table=3,priority=0,actions=drop",
];

/// Traces `flow` through OVS with side effects (`learn` runs), then through
/// the switch; the switch's trace must name exactly the rule OVS learned
/// (as `ovs-ofctl dump-flows` prints it), which is then added to the switch
/// with `vsctl add-flow`, so both hold the same tables again. Returns what
/// OVS delivered.
fn learn_in_both(pair: &mut DiffPair, what: &str, flow: &str) -> Vec<Delivery> {
    let before = pair.ovs.dump_flows(OfVersion::Of10);
    let learning = pair.ovs.trace_generate(flow);
    let (ours, delivered) = pair.compare_with(what, flow, &learning);
    let after = pair.ovs.dump_flows(OfVersion::Of10);
    let learned_by_ovs: Vec<&String> = after.iter().filter(|flow| !before.contains(flow)).collect();
    let replaced_by_ovs: Vec<&String> = before.iter().filter(|flow| !after.contains(flow)).collect();
    assert!(
        learned_by_ovs.len() == 1 && replaced_by_ovs.len() <= 1,
        "{what}: OVS must have learned (or replaced) one flow: new {learned_by_ovs:#?}, gone {replaced_by_ovs:#?}"
    );
    let learned_by_us = ours.learned();
    assert_eq!(
        learned_by_us.len(),
        1,
        "{what}: the switch's trace must report one learned rule; OVS learned {learned_by_ovs:#?}:\n{}",
        ours.text()
    );
    assert_eq!(
        &learned_by_us[0], learned_by_ovs[0],
        "{what}: the rule `learn` builds (vsctl trace) differs from the one OVS learned (ovs-ofctl dump-flows)"
    );
    pair.switch.vsctl_ok(&["add-flow", BR, &learned_by_us[0]]);
    delivered
}

/// Neutron's tunnel bridge: floods from the VMs to the tunnels of the VLAN's
/// network (tag popped), traffic from the tunnels to the VMs (tag pushed),
/// drops for unknown networks; then `learn`: the rule the switch would
/// learn from a tunnel packet is the one OVS learns, and with it unicast to
/// the learned MAC goes to that tunnel only, in that network only; a MAC
/// that moves to the other tunnel replaces the learned rule.
#[test]
fn neutron_tunnel_bridge_matches_ovs() {
    let dir = TestDir::new("diff_neutron");
    let ports = ports(&[("patch-int", 1), ("vxlan-a", 2), ("vxlan-b", 3)]);
    let mut pair = DiffPair::start(&dir, &ports, OfVersion::Of10, &NEUTRON_TUNNEL_BRIDGE);
    let vm = "dl_src=fa:16:3e:00:00:01";
    let tcp = "tcp,nw_src=10.0.0.1,nw_dst=10.0.0.9,tp_dst=80";
    compare_cases(
        &mut pair,
        &[
            ("broadcast from VLAN 1", format!("in_port=1,dl_vlan=1,{vm},dl_dst=ff:ff:ff:ff:ff:ff"), &[2, 3]),
            (
                "multicast from VLAN 2, PCP 3",
                format!("in_port=1,dl_vlan=2,dl_vlan_pcp=3,{vm},dl_dst=01:00:5e:00:00:01"),
                &[2, 3],
            ),
            ("broadcast from VLAN 3 (no network)", format!("in_port=1,dl_vlan=3,{vm},dl_dst=ff:ff:ff:ff:ff:ff"), &[]),
            ("untagged broadcast", format!("in_port=1,{vm},dl_dst=ff:ff:ff:ff:ff:ff"), &[]),
            ("unknown unicast from VLAN 1", format!("in_port=1,dl_vlan=1,{vm},dl_dst=fa:16:3e:00:00:02"), &[2, 3]),
            (
                "TCP to an unknown MAC in VLAN 2",
                format!("in_port=1,dl_vlan=2,{vm},dl_dst=fa:16:3e:00:00:09,{tcp}"),
                &[2, 3],
            ),
            (
                "tunnel 0x1 on port 2",
                "in_port=2,tun_id=0x1,dl_src=fa:16:3e:00:00:02,dl_dst=fa:16:3e:00:00:01".into(),
                &[1],
            ),
            (
                "tunnel 0x2 on port 3",
                "in_port=3,tun_id=0x2,dl_src=fa:16:3e:00:00:03,dl_dst=ff:ff:ff:ff:ff:ff".into(),
                &[1],
            ),
            (
                "tunnel 0x3 (no network)",
                "in_port=2,tun_id=0x3,dl_src=fa:16:3e:00:00:04,dl_dst=fa:16:3e:00:00:01".into(),
                &[],
            ),
        ],
    );

    let from_tunnel = "in_port=2,tun_id=0x1,dl_src=fa:16:3e:00:00:02,dl_dst=fa:16:3e:00:00:01";
    let delivered = learn_in_both(&mut pair, "learning from tunnel 0x1", from_tunnel);
    assert_eq!(delivered.iter().map(|d| (d.port, d.vlan())).collect::<Vec<_>>(), [(1, Some((1, 0)))]);
    let to_learned = format!("in_port=1,dl_vlan=1,{vm},dl_dst=fa:16:3e:00:00:02");
    let other_network = format!("in_port=1,dl_vlan=2,{vm},dl_dst=fa:16:3e:00:00:02");
    compare_cases(
        &mut pair,
        &[
            ("unicast to the learned MAC", to_learned.clone(), &[2]),
            ("the learned MAC in another network", other_network, &[2, 3]),
        ],
    );
    let moved = "in_port=3,tun_id=0x1,dl_src=fa:16:3e:00:00:02,dl_dst=fa:16:3e:00:00:01";
    learn_in_both(&mut pair, "the MAC moves behind port 3", moved);
    compare_cases(&mut pair, &[("unicast to the moved MAC", to_learned, &[3])]);
    pair.finish();
}

/// A plain `NORMAL` bridge (every port a trunk of every VLAN, as the switch
/// treats ports until they get VLAN modes): floods keep the VLAN tag (a
/// priority tag of PCP 0 is removed), and unicast goes to MACs learned per
/// VLAN. OVS learns from frames traced with side effects; the switch gets
/// the same entries with `vsctl fdb-add`.
#[test]
fn normal_bridge_matches_ovs() {
    let dir = TestDir::new("diff_normal");
    let ports = ports(&[("north", 1), ("south", 2), ("east", 3), ("west", 4)]);
    let mut pair = DiffPair::start(&dir, &ports, OfVersion::Of10, &["actions=NORMAL"]);
    pair.skip_local = true;
    let a = "dl_src=00:00:00:00:00:0a";
    let (mac_b, mac_c) = ("00:00:00:00:00:0b", "00:00:00:00:00:0c");
    let mdns = "udp,nw_dst=224.0.0.251,udp_dst=5353";
    compare_cases(
        &mut pair,
        &[
            ("broadcast", format!("in_port=1,{a},dl_dst=ff:ff:ff:ff:ff:ff"), &[2, 3, 4]),
            (
                "broadcast in VLAN 10",
                format!("in_port=1,dl_vlan=10,dl_vlan_pcp=2,{a},dl_dst=ff:ff:ff:ff:ff:ff"),
                &[2, 3, 4],
            ),
            (
                "broadcast, priority tag of PCP 0",
                format!("in_port=1,dl_vlan=0,{a},dl_dst=ff:ff:ff:ff:ff:ff"),
                &[2, 3, 4],
            ),
            ("broadcast in VLAN 4095", format!("in_port=1,dl_vlan=4095,{a},dl_dst=ff:ff:ff:ff:ff:ff"), &[2, 3, 4]),
            ("IPv4 multicast", format!("in_port=2,{a},dl_dst=01:00:5e:00:00:fb,{mdns}"), &[1, 3, 4]),
            ("01:80:c2:00:00:10 (not reserved)", format!("in_port=2,{a},dl_dst=01:80:c2:00:00:10"), &[1, 3, 4]),
            ("multicast source", "in_port=2,dl_src=01:00:00:00:00:0a,dl_dst=ff:ff:ff:ff:ff:ff".into(), &[1, 3, 4]),
            ("unknown unicast", format!("in_port=3,{a},dl_dst={mac_b}"), &[1, 2, 4]),
            ("unknown unicast in VLAN 10", format!("in_port=4,dl_vlan=10,{a},dl_dst={mac_c}"), &[1, 2, 3]),
        ],
    );

    // B behind port 2 untagged (VLAN 0), C behind port 3 in VLAN 10.
    let learned_b = pair.ovs.trace_packet(2, &frame_from(mac_b, None));
    let learned_c = pair.ovs.trace_packet(3, &frame_from(mac_c, Some(10)));
    for (trace, line) in [
        (&learned_b, format!("-> learned that {mac_b} is on port south in VLAN 0")),
        (&learned_c, format!("-> learned that {mac_c} is on port east in VLAN 10")),
    ] {
        assert!(trace.steps.iter().flat_map(|step| &step.lines).any(|l| *l == line), "{}", trace.text);
    }
    pair.switch.vsctl_ok(&["fdb-add", BR, "south", "0", mac_b]);
    pair.switch.vsctl_ok(&["fdb-add", BR, "east", "10", mac_c]);

    compare_cases(
        &mut pair,
        &[
            ("unicast to B", format!("in_port=1,{a},dl_dst={mac_b}"), &[2]),
            ("TCP to B from port 4", format!("in_port=4,{a},dl_dst={mac_b},tcp,tp_dst=80"), &[2]),
            (
                "unicast to B in VLAN 10 (B is in VLAN 0)",
                format!("in_port=1,dl_vlan=10,{a},dl_dst={mac_b}"),
                &[2, 3, 4],
            ),
            ("unicast to C in VLAN 10", format!("in_port=1,dl_vlan=10,{a},dl_dst={mac_c}"), &[3]),
            ("unicast to C untagged (C is in VLAN 10)", format!("in_port=2,{a},dl_dst={mac_c}"), &[1, 3, 4]),
            ("unicast to B from B's own port", format!("in_port=2,{a},dl_dst={mac_b}"), &[]),
            ("broadcast after learning", format!("in_port=2,{a},dl_dst=ff:ff:ff:ff:ff:ff"), &[1, 3, 4]),
        ],
    );
    pair.finish();
}

/// A minimal frame from `src` to 00:00:00:00:00:01, tagged with `vlan`.
fn frame_from(src: &str, vlan: Option<u16>) -> Vec<u8> {
    let mut frame = vec![0, 0, 0, 0, 0, 1];
    frame.extend(src.split(':').map(|byte| u8::from_str_radix(byte, 16).expect("a MAC")));
    if let Some(vid) = vlan {
        frame.extend_from_slice(&[0x81, 0x00]);
        frame.extend_from_slice(&vid.to_be_bytes());
    }
    frame.extend_from_slice(&[0x88, 0xb5]); // local experimental EtherType
    frame.resize(60, 0);
    frame
}

/// The OpenFlow 1.3 ACL: every service of the allow-list and its misses,
/// masked and prefix matches, tcp_flags, the action set (written, replaced
/// and cleared), metadata between tables, rewrites (set_field, load/move,
/// mod_*, a masked TOS, dec_ttl), VLAN pop, copy before modify, output to
/// the input port (skipped) and IN_PORT.
#[test]
fn acl_pipeline_matches_ovs() {
    let dir = TestDir::new("diff_acl");
    let ports = ports(&[("lan", 1), ("dmz", 2), ("wan", 3), ("quarantine", 4)]);
    let mut pair = DiffPair::start(&dir, &ports, OfVersion::Of13, &ACL);
    let eth = "dl_src=02:00:00:00:00:01,dl_dst=02:00:00:00:00:02";
    let ip = |src: &str, dst: &str| format!("nw_src={src},nw_dst={dst},nw_ttl=64");
    compare_cases(
        &mut pair,
        &[
            (
                "ssh from 10/8",
                format!("in_port=1,{eth},tcp,{},tp_src=40000,tp_dst=22", ip("10.1.2.3", "8.8.8.8")),
                &[3],
            ),
            ("ssh from elsewhere", format!("in_port=1,{eth},tcp,{},tp_dst=22", ip("11.1.2.3", "8.8.8.8")), &[]),
            (
                "ssh from elsewhere, established",
                format!("in_port=1,{eth},tcp,{},tp_dst=22,tcp_flags=ack", ip("11.1.2.3", "8.8.8.8")),
                &[3],
            ),
            (
                "ssh from elsewhere, syn+ack",
                format!("in_port=1,{eth},tcp,{},tp_dst=22,tcp_flags=syn|ack", ip("11.1.2.3", "8.8.8.8")),
                &[3],
            ),
            (
                "http: rewritten",
                format!("in_port=1,{eth},tcp,{},tp_src=1234,tp_dst=80", ip("192.0.2.1", "8.8.8.8")),
                &[2],
            ),
            (
                "port 8080 (masked 0x1f00)",
                format!("in_port=1,{eth},tcp,{},tp_dst=8080", ip("192.0.2.1", "8.8.8.8")),
                &[3],
            ),
            (
                "port 7935 (outside the mask)",
                format!("in_port=1,{eth},tcp,{},tp_dst=7935", ip("192.0.2.1", "8.8.8.8")),
                &[],
            ),
            (
                "https to 192.168/16: copy, rewrite, action set",
                format!("in_port=2,{eth},tcp,{},tp_dst=443", ip("192.0.2.1", "192.168.1.1")),
                &[1, 3],
            ),
            (
                "https to 192.168/16 from port 1",
                format!("in_port=1,{eth},tcp,{},tp_dst=443", ip("192.0.2.1", "192.168.1.1")),
                &[2, 3],
            ),
            (
                "https with TTL 1 from port 1: dec_ttl fails",
                format!("in_port=1,{eth},tcp,nw_src=192.0.2.1,nw_dst=192.168.1.1,nw_ttl=1,tp_dst=443"),
                &[2],
            ),
            (
                "https to 172.16/12: action set cleared",
                format!("in_port=1,{eth},tcp,{},tp_dst=443", ip("192.0.2.1", "172.20.0.1")),
                &[2],
            ),
            (
                "https in VLAN 7: popped, then the action set",
                format!("in_port=3,dl_vlan=7,{eth},tcp,{},tp_dst=443", ip("192.0.2.1", "8.8.8.8")),
                &[1, 1],
            ),
            (
                "dns with ECN bits: masked TOS rewrite",
                format!(
                    "in_port=1,{eth},udp,{},nw_tos=0x20,nw_ecn=1,udp_src=3333,udp_dst=53",
                    ip("192.0.2.1", "8.8.8.8")
                ),
                &[3],
            ),
            ("udp not in the list", format!("in_port=1,{eth},udp,{},udp_dst=54", ip("192.0.2.1", "8.8.8.8")), &[]),
            (
                "ping: reflected to the input port",
                format!("in_port=2,{eth},icmp,{},icmp_type=8", ip("192.0.2.7", "192.0.2.1")),
                &[2],
            ),
            (
                "pong: not in the list",
                format!("in_port=2,{eth},icmp,{},icmp_type=0", ip("192.0.2.7", "192.0.2.1")),
                &[],
            ),
            (
                "arp: every port but the input",
                format!("in_port=2,{eth},arp,arp_op=1,arp_spa=192.0.2.7,arp_tpa=192.0.2.1"),
                &[1, 3],
            ),
            ("quarantined port", format!("in_port=4,{eth},tcp,{},tp_dst=22", ip("10.1.2.3", "8.8.8.8")), &[]),
            (
                "ipv6: neither ip nor arp",
                format!("in_port=1,{eth},ipv6,ipv6_src=2001:db8::1,ipv6_dst=2001:db8::2"),
                &[],
            ),
            ("no Ethernet type", format!("in_port=1,{eth}"), &[]),
        ],
    );
    pair.finish();
}

/// Nicira extensions in OpenFlow 1.0: registers (load, move, matched in a
/// later table), resubmit with another in_port (an output to the original
/// input port is still skipped, one to a missing port is nothing), VLAN
/// rewrites on untagged and tagged packets (mod_vlan_pcp pushes a tag of
/// VID 0, mod_vlan_vid replaces a tag's VID, strip_vlan), FLOOD and ALL.
#[test]
fn registers_resubmit_and_vlans_match_ovs() {
    let dir = TestDir::new("diff_nx");
    let ports = ports(&[("north", 1), ("south", 2), ("east", 3), ("west", 4)]);
    let flows = [
        "priority=300,udp,in_port=3,actions=resubmit(1,3),output:9,output:3",
        "priority=200,tcp,in_port=1,actions=load:0x5->NXM_NX_REG0[0..3],move:NXM_OF_TCP_SRC[]->NXM_NX_REG1[0..15],resubmit(,6)",
        "priority=200,udp,in_port=1,actions=load:0x2->NXM_NX_REG2[],resubmit(,6)",
        "priority=100,in_port=4,actions=mod_vlan_pcp:3,output:1,mod_vlan_vid:100,output:2,strip_vlan,output:3",
        "priority=100,in_port=3,actions=mod_vlan_vid:9,output:1,mod_vlan_vid:10,output:2,FLOOD,ALL",
        "priority=100,in_port=2,actions=strip_vlan,resubmit:1",
        "table=3,priority=10,udp,actions=output:3",
        "table=6,priority=10,reg0=0x5,tcp,actions=move:NXM_NX_REG1[0..15]->NXM_OF_TCP_DST[],output:2",
        "table=6,priority=10,reg2=0x2,udp,actions=output:4,resubmit(,7)",
        "table=6,priority=0,actions=output:3",
        "table=7,priority=10,reg2=0x3,actions=output:1",
    ];
    let mut pair = DiffPair::start(&dir, &ports, OfVersion::Of10, &flows);
    pair.skip_local = true;
    let eth = "dl_src=00:00:00:00:00:0a,dl_dst=00:00:00:00:00:0b";
    compare_cases(
        &mut pair,
        &[
            ("resubmit as port 1: outputs to port 3 skipped", format!("in_port=3,{eth},udp,nw_ttl=64"), &[]),
            ("registers: tcp_src moved to tcp_dst", format!("in_port=1,{eth},tcp,tcp_src=1234,tcp_dst=80"), &[2]),
            ("registers: a miss in table 7", format!("in_port=1,{eth},udp,udp_src=1234,udp_dst=80"), &[4]),
            ("icmp from port 1: no rule", format!("in_port=1,{eth},icmp"), &[]),
            ("VLAN rewrites of an untagged packet", format!("in_port=4,{eth}"), &[1, 2, 3]),
            ("VLAN rewrites of a tagged packet", format!("in_port=4,dl_vlan=5,dl_vlan_pcp=6,{eth}"), &[1, 2, 3]),
            ("new tags, FLOOD and ALL", format!("in_port=3,{eth}"), &[1, 1, 1, 2, 2, 2, 4, 4]),
            (
                "new VIDs on a tagged packet",
                format!("in_port=3,dl_vlan=5,dl_vlan_pcp=6,{eth}"),
                &[1, 1, 1, 2, 2, 2, 4, 4],
            ),
            (
                "strip, resubmit as port 1: output to 2 skipped",
                format!("in_port=2,dl_vlan=7,{eth},tcp,tcp_src=5,tcp_dst=6"),
                &[],
            ),
            (
                "strip, resubmit as port 1, registers",
                format!("in_port=2,dl_vlan=7,{eth},udp,udp_src=5,udp_dst=6"),
                &[4],
            ),
        ],
    );
    pair.finish();
}

/// `NORMAL` with VLAN port modes (`tag`, `trunks`): floods stay in their
/// VLAN, untagged on access ports and tagged on trunks, frames of VLANs a
/// port does not carry are dropped, and a MAC learned in VLAN 10 is reached
/// by unicast from VLAN 10 only (tagged on the trunk).
#[test]
fn normal_vlan_access_and_trunk_ports_match_ovs() {
    let dir = TestDir::new("diff_normal_vlans");
    let mut pair = DiffPair::start(&dir, &VLAN_PORTS, OfVersion::Of10, &["actions=NORMAL"]);
    pair.skip_local = true;
    let a = "dl_src=00:00:00:00:10:01";
    let bcast = "dl_dst=ff:ff:ff:ff:ff:ff";
    compare_cases(
        &mut pair,
        &[
            ("broadcast from access VLAN 10", format!("in_port=1,{a},{bcast}"), &[2, 4, 5]),
            ("broadcast from access VLAN 20", format!("in_port=3,{a},{bcast}"), &[2, 5]),
            ("tagged frame on an access port", format!("in_port=1,dl_vlan=10,{a},{bcast}"), &[]),
            ("VLAN 10 from the trunk", format!("in_port=2,dl_vlan=10,{a},{bcast}"), &[1, 4, 5]),
            ("VLAN 30 from the trunk of 10 and 20", format!("in_port=2,dl_vlan=30,{a},{bcast}"), &[]),
            ("VLAN 30 from the all-VLAN trunk", format!("in_port=5,dl_vlan=30,{a},{bcast}"), &[]),
            ("VLAN 20 from the all-VLAN trunk", format!("in_port=5,dl_vlan=20,{a},{bcast}"), &[2, 3]),
        ],
    );

    // 00:00:00:00:10:02 behind the trunk in VLAN 10.
    let remote = "00:00:00:00:10:02";
    let learned = pair.ovs.trace_packet(2, &frame_from(remote, Some(10)));
    let line = format!("-> learned that {remote} is on port trunk in VLAN 10");
    assert!(learned.steps.iter().flat_map(|step| &step.lines).any(|l| *l == line), "{}", learned.text);
    pair.switch.vsctl_ok(&["fdb-add", BR, "trunk", "10", remote]);
    compare_cases(
        &mut pair,
        &[
            ("to the learned MAC from VLAN 10", format!("in_port=4,{a},dl_dst={remote}"), &[2]),
            ("to the learned MAC from VLAN 20", format!("in_port=3,{a},dl_dst={remote}"), &[2, 5]),
            ("to the learned MAC from the uplink, VLAN 10", format!("in_port=5,dl_vlan=10,{a},dl_dst={remote}"), &[2]),
        ],
    );
    pair.finish();
}
