//! The OVS oracle itself: a private Open vSwitch (dummy datapath, own
//! directory and network namespace) loads flows, dumps them back and traces
//! packets, with the results in OpenFlow port numbers. The expectations
//! here are Open vSwitch 3.1's own answers; they are what the switch's
//! OpenFlow pipeline has to reproduce: (a) plain `in_port` rules, (b) the
//! Neutron tunnel bridge with `learn`, (c) a `NORMAL` bridge with VLANs; and
//! the oracle stops by pid and leaves nothing behind, also when a test
//! panics.
#![forbid(unsafe_code)]
use std::path::Path;

use vswitch_e2e::frames;
use vswitch_e2e::ovs_oracle::{Trace, OFPP_LOCAL};
use vswitch_e2e::{OfAction, OfVersion, OvsOracle, OvsPort, TestDir, NEUTRON_TUNNEL_BRIDGE};

/// The flow table 20 gets when the tunnel bridge learns that
/// fa:16:3e:00:00:02 is behind port 2 in VLAN 1 (tunnel 0x1).
const LEARNED_FLOW: &str = "table=20, hard_timeout=300, priority=1,vlan_tci=0x0001/0x0fff,dl_dst=fa:16:3e:00:00:02 \
     actions=load:0->NXM_OF_VLAN_TCI[],load:0x1->NXM_NX_TUN_ID[],output:2";

fn other(action: &str) -> OfAction {
    OfAction::Other(action.to_owned())
}

/// Asserts the trace's datapath actions in OpenFlow terms and its megaflow.
fn assert_trace(trace: &Trace, of_actions: &[OfAction], megaflow: &str) {
    assert_eq!(trace.of_actions, of_actions, "datapath actions in OpenFlow ports; trace:\n{}", trace.text);
    assert_eq!(trace.megaflow, megaflow, "megaflow; trace:\n{}", trace.text);
}

/// Whether a process with this pid runs a program whose name starts with
/// `ovs` (an Open vSwitch daemon).
fn ovs_process_alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|comm| comm.starts_with("ovs"))
}

fn netns_exists(name: &str) -> bool {
    Path::new("/run/netns").join(name).exists()
}

/// (a) `in_port` rules, loaded as OpenFlow 1.3 (`goto_table`): OVS prints
/// datapath ports, the oracle maps them back to OpenFlow ports.
#[test]
fn simple_rules_trace_in_openflow_ports() {
    let dir = TestDir::new("ovs_oracle_simple");
    // Names without a number at the end: the dummy datapath numbers such
    // ports in an order of its own (`p7` would get datapath port 7).
    let ports = [OvsPort::new("vm", 1), OvsPort::new("uplink", 2), OvsPort::new("spare", 3)];
    let mut ovs = OvsOracle::start(&dir, "br0", &ports);
    ovs.add_flows(
        OfVersion::Of13,
        &["in_port=1,actions=output:2", "in_port=2,actions=goto_table:1", "table=1,actions=output:1,output:3"],
    );
    assert_eq!(
        ovs.dump_flows(OfVersion::Of13),
        ["in_port=1 actions=output:2", "in_port=2 actions=goto_table:1", "table=1, actions=output:1,output:3"]
    );

    let one_to_two = ovs.trace("in_port=1,dl_src=02:00:00:00:00:01,dl_dst=02:00:00:00:00:02");
    assert_trace(&one_to_two, &[OfAction::Output(2)], "recirc_id=0,eth,in_port=1,dl_type=0x0000");
    assert_eq!(one_to_two.datapath_actions, ovs.dp_port(2).to_string(), "OVS prints the datapath port");
    assert_eq!(one_to_two.actions, [ovs.dp_port(2).to_string()]);
    assert_eq!(one_to_two.tables(), [0]);
    assert_eq!(one_to_two.steps[0].rule, "in_port=1, priority 32768");
    assert_eq!(one_to_two.steps[0].lines, ["output:2"]);
    assert_eq!(one_to_two.steps[0].bridge, "br0");
    assert_eq!(one_to_two.final_flow, "unchanged");

    let two_to_all = ovs.trace("in_port=2,dl_src=02:00:00:00:00:02,dl_dst=02:00:00:00:00:01");
    assert_trace(&two_to_all, &[OfAction::Output(1), OfAction::Output(3)], "recirc_id=0,eth,in_port=2,dl_type=0x0000");
    assert_eq!(two_to_all.datapath_actions, format!("{},{}", ovs.dp_port(1), ovs.dp_port(3)));
    assert_eq!(two_to_all.tables(), [0, 1]);

    let no_rule = ovs.trace("in_port=3,dl_src=02:00:00:00:00:03,dl_dst=02:00:00:00:00:01");
    assert_trace(&no_rule, &[other("drop")], "recirc_id=0,eth,in_port=3,dl_type=0x0000");
    assert_eq!(no_rule.steps[0].rule, "No match.");
    assert!(no_rule.output_ports().is_empty());
    ovs.stop();
}

/// (b) Neutron's tunnel bridge: broadcast from the VMs floods to the
/// tunnels of the VLAN's network; a packet from a tunnel (traced with
/// `--generate`, so `learn` runs) teaches table 20 where its source MAC is,
/// and unicast to that MAC then goes to that tunnel only.
#[test]
fn neutron_tunnel_bridge_learns_from_tunnel_traffic() {
    let dir = TestDir::new("ovs_oracle_neutron");
    let ports = [OvsPort::new("patch-int", 1), OvsPort::new("vxlan-a", 2), OvsPort::new("vxlan-b", 3)];
    let mut ovs = OvsOracle::start(&dir, "br-tun", &ports);
    ovs.add_flows(OfVersion::Of10, &NEUTRON_TUNNEL_BRIDGE);
    let flows = ovs.dump_flows(OfVersion::Of10);
    assert_eq!(flows.len(), NEUTRON_TUNNEL_BRIDGE.len(), "flows: {flows:#?}");
    assert!(!flows.iter().any(|flow| flow.starts_with("table=20, hard_timeout=")), "nothing learned yet: {flows:#?}");

    let broadcast = ovs.trace("in_port=1,dl_vlan=1,dl_src=fa:16:3e:00:00:01,dl_dst=ff:ff:ff:ff:ff:ff");
    assert_trace(
        &broadcast,
        &[other("pop_vlan"), OfAction::Output(2), OfAction::Output(3)],
        "recirc_id=0,eth,in_port=1,dl_vlan=1,dl_vlan_pcp=0,dl_dst=01:00:00:00:00:00/01:00:00:00:00:00,dl_type=0x0000",
    );
    assert_eq!(broadcast.tables(), [0, 1, 21]);
    assert_eq!(broadcast.deliveries(), [(2, None), (3, None)], "untagged to both tunnels");
    assert_eq!(broadcast.steps[2].lines, ["strip_vlan", "set_tunnel:0x1", "output:2", "output:3"]);
    assert_eq!(
        broadcast.final_flow,
        "tun_id=0x1,in_port=1,vlan_tci=0x0000,dl_src=fa:16:3e:00:00:01,dl_dst=ff:ff:ff:ff:ff:ff,dl_type=0x0000"
    );

    let to_unknown = ovs.trace("in_port=1,dl_vlan=1,dl_src=fa:16:3e:00:00:01,dl_dst=fa:16:3e:00:00:02");
    assert_trace(
        &to_unknown,
        &[other("pop_vlan"), OfAction::Output(2), OfAction::Output(3)],
        // Table 20 holds only its default yet: the megaflow needs only the
        // multicast bit of dl_dst.
        "recirc_id=0,eth,in_port=1,dl_vlan=1,dl_vlan_pcp=0,dl_dst=00:00:00:00:00:00/01:00:00:00:00:00,dl_type=0x0000",
    );
    assert_eq!(to_unknown.tables(), [0, 1, 20, 21], "unknown unicast floods through table 20's default");

    let from_tunnel = "in_port=2,tun_id=0x1,dl_src=fa:16:3e:00:00:02,dl_dst=fa:16:3e:00:00:01";
    let tunnel_megaflow = "recirc_id=0,eth,in_port=2,dl_src=fa:16:3e:00:00:02,dl_type=0x0000";
    let dry = ovs.trace(from_tunnel);
    assert_trace(&dry, &[other("push_vlan(vid=1,pcp=0)"), OfAction::Output(1)], tunnel_megaflow);
    assert!(dry.steps[2].lines.iter().any(|line| line.contains("suppressing side effects")), "{}", dry.text);
    assert!(!ovs.dump_flows(OfVersion::Of10).iter().any(|flow| flow.starts_with("table=20, hard_timeout=")));

    let learning = ovs.trace_generate(from_tunnel);
    assert_trace(&learning, &[other("push_vlan(vid=1,pcp=0)"), OfAction::Output(1)], tunnel_megaflow);
    assert_eq!(learning.tables(), [0, 3, 10]);
    assert_eq!(learning.deliveries(), [(1, Some(1))], "to the VMs, tagged with the network's VLAN");
    assert!(learning.steps[2].lines.iter().any(|line| line.starts_with("-> table=20 ")), "{}", learning.text);
    let flows = ovs.dump_flows(OfVersion::Of10);
    assert!(flows.iter().any(|flow| flow == LEARNED_FLOW), "learned flow missing: {flows:#?}");

    let to_learned = ovs.trace("in_port=1,dl_vlan=1,dl_src=fa:16:3e:00:00:01,dl_dst=fa:16:3e:00:00:02");
    assert_trace(
        &to_learned,
        &[other("pop_vlan"), OfAction::Output(2)],
        "recirc_id=0,eth,in_port=1,dl_vlan=1,dl_vlan_pcp=0,dl_dst=fa:16:3e:00:00:02,dl_type=0x0000",
    );
    assert_eq!(to_learned.tables(), [0, 1, 20]);
    assert_eq!(to_learned.steps[2].rule, "vlan_tci=0x0001/0x0fff,dl_dst=fa:16:3e:00:00:02, priority 1");
    assert_eq!(to_learned.output_ports(), [2], "unicast to the learned MAC goes to port 2 only");

    // Learned in VLAN 1 only: the same MAC in VLAN 2 still floods (tunnel 0x2).
    let other_network = ovs.trace("in_port=1,dl_vlan=2,dl_src=fa:16:3e:00:00:01,dl_dst=fa:16:3e:00:00:02");
    assert_eq!(other_network.output_ports(), [2, 3], "{}", other_network.text);
    assert_eq!(other_network.tables(), [0, 1, 20, 21]);
    ovs.stop();
}

/// A frame from the trunk: `numbered_udp_frame` with the given MACs and an
/// 802.1Q tag of `vlan` after them.
fn tagged_frame(src: [u8; 6], dst: [u8; 6], vlan: u16) -> Vec<u8> {
    let mut plain = frames::numbered_udp_frame(1, 0, frames::MIN_FRAME);
    plain[..6].copy_from_slice(&dst);
    plain[6..12].copy_from_slice(&src);
    frames::push_vlan(&plain, vlan)
}

/// (c) `NORMAL` with access ports of VLANs 10 and 20 and a trunk of both:
/// floods stay in the VLAN (tagged on the trunk and the bridge port), a MAC
/// learned from a real frame on the trunk (traced as bytes, so MAC learning
/// happens) is then reached by unicast from its VLAN only.
#[test]
fn normal_bridge_learns_macs_per_vlan() {
    let dir = TestDir::new("ovs_oracle_normal");
    let ports = [
        OvsPort::new("access-a", 1).tag(10),
        OvsPort::new("trunk", 2).trunks(&[10, 20]),
        OvsPort::new("access-b", 3).tag(20),
        OvsPort::new("access-c", 4).tag(10),
    ];
    let mut ovs = OvsOracle::start(&dir, "br-normal", &ports);
    ovs.add_flows(OfVersion::Of10, &["actions=NORMAL"]);
    assert_eq!(ovs.dump_flows(OfVersion::Of10), ["actions=NORMAL"]);

    // Floods: compared as deliveries (port, VLAN tag), since OVS walks the
    // ports of a flood in an order of its own.
    let broadcast = ovs.trace("in_port=1,dl_src=00:00:00:00:10:01,dl_dst=ff:ff:ff:ff:ff:ff");
    assert_eq!(
        broadcast.deliveries(),
        [(2, Some(10)), (4, None), (OFPP_LOCAL, Some(10))],
        "VLAN 10 only: access port untagged, trunk and bridge port tagged; trace:\n{}",
        broadcast.text
    );
    assert_eq!(
        broadcast.megaflow,
        "recirc_id=0,eth,in_port=1,dl_src=00:00:00:00:10:01,dl_dst=ff:ff:ff:ff:ff:ff,dl_type=0x0000"
    );

    let remote = [0, 0, 0, 0, 0x10, 0x02];
    let learning = ovs.trace_packet(2, &tagged_frame(remote, [0, 0, 0, 0, 0x10, 0x01], 10));
    assert!(learning.flow.contains("dl_vlan=10"), "the frame's tag: {}", learning.flow);
    assert!(
        learning.steps[0]
            .lines
            .iter()
            .any(|line| line == "-> learned that 00:00:00:00:10:02 is on port trunk in VLAN 10"),
        "{}",
        learning.text
    );
    assert_eq!(learning.deliveries(), [(1, None), (4, None), (OFPP_LOCAL, Some(10))], "{}", learning.text);
    assert_eq!(
        learning.megaflow,
        "recirc_id=0,eth,ip,in_port=2,dl_vlan=10,dl_vlan_pcp=0,dl_src=00:00:00:00:10:02,dl_dst=00:00:00:00:10:01,nw_frag=no"
    );

    let from_vlan_10 = "dl_src=00:00:00:00:10:01,dl_dst=00:00:00:00:10:02";
    let unicast = ovs.trace(&format!("in_port=1,{from_vlan_10}"));
    assert_trace(
        &unicast,
        &[other("push_vlan(vid=10,pcp=0)"), OfAction::Output(2)],
        "recirc_id=0,eth,in_port=1,dl_src=00:00:00:00:10:01,dl_dst=00:00:00:00:10:02,dl_type=0x0000",
    );
    assert!(unicast.steps[0].lines.iter().any(|line| line == "-> forwarding to learned port"), "{}", unicast.text);
    assert_eq!(ovs.trace(&format!("in_port=4,{from_vlan_10}")).deliveries(), [(2, Some(10))]);

    // VLAN 20 has not learned it: flooded to the trunk (tagged 20) and the
    // bridge port, never to VLAN 10's access ports.
    let from_vlan_20 = ovs.trace("in_port=3,dl_src=00:00:00:00:20:01,dl_dst=00:00:00:00:10:02");
    assert_eq!(from_vlan_20.deliveries(), [(2, Some(20)), (OFPP_LOCAL, Some(20))], "{}", from_vlan_20.text);
    ovs.stop();
}

/// Stopped twice in a row and once by a panicking test: both daemons are
/// gone (by pid) and the namespace is deleted every time.
#[test]
fn oracle_stops_by_pid_and_leaves_nothing_also_on_panic() {
    let dir = TestDir::new("ovs_oracle_lifecycle");
    let ports = [OvsPort::new("p1", 1)];
    for _ in 0..2 {
        let ovs = OvsOracle::start(&dir, "br0", &ports);
        let (pids, netns) = (ovs.pids(), ovs.netns().to_owned());
        assert!(pids.iter().all(|&pid| ovs_process_alive(pid)) && netns_exists(&netns));
        ovs.stop();
        assert!(!pids.iter().any(|&pid| ovs_process_alive(pid)), "OVS daemons {pids:?} still run after stop");
        assert!(!netns_exists(&netns), "namespace {netns} still exists after stop");
    }

    let mut seen = None;
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let ovs = OvsOracle::start(&dir, "br0", &ports);
        seen = Some((ovs.pids(), ovs.netns().to_owned()));
        panic!("deliberate panic: the oracle must be cleaned up by Drop");
    }));
    assert!(outcome.is_err());
    let (pids, netns) = seen.expect("the oracle started");
    assert!(!pids.iter().any(|&pid| ovs_process_alive(pid)), "OVS daemons {pids:?} still run after a panic");
    assert!(!netns_exists(&netns), "namespace {netns} still exists after a panic");
}
