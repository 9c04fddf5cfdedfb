//! Regression tests for the disagreements with Open vSwitch that the
//! differential tests found (see `ovs_differential`, whose harness this
//! uses) and that are fixed: each traces packets through both switches with
//! the same rules. Each test's name says what the switch did wrong, its
//! comment what OVS does and how to reproduce it by hand with vsctl.
#![forbid(unsafe_code)]
use vswitch_e2e::differential::{compare_cases, ports, DiffPair, VLAN_PORTS};
use vswitch_e2e::{OfVersion, TestDir};

/// Was: the action set runs in the order its actions were written, so
/// a `set_field` written after the output (by a later table) is executed
/// after the packet left: the packet goes out without the rewrite. OpenFlow
/// 1.3 (5.10) and OVS run an action set in a fixed order, every set-field
/// before the output.
///
/// By hand: `vsctl add-flow br0 'table=0,in_port=1,udp,actions=write_actions(output:3),goto_table:8'`,
/// `vsctl add-flow br0 'table=8,actions=write_actions(set_field:02:00:00:00:00:77->eth_dst)'`,
/// `vsctl trace br0 in_port=1,udp`: `action set: output:3,set_field:...`,
/// `Datapath actions: 3` (OVS: `set(eth(dst=02:00:00:00:00:77)),3`).
#[test]
fn ovs_parity_action_set_rewrites_after_its_output() {
    let dir = TestDir::new("diff_bug_action_set");
    let ports = ports(&[("north", 1), ("south", 2), ("east", 3)]);
    let flows = [
        "table=0,priority=10,in_port=1,udp,actions=write_actions(output:2,set_field:7->udp_dst),goto_table:7",
        "table=7,priority=10,actions=write_actions(output:3),goto_table:8",
        "table=8,priority=10,actions=write_actions(set_field:02:00:00:00:00:77->eth_dst)",
    ];
    let mut pair = DiffPair::start(&dir, &ports, OfVersion::Of13, &flows);
    let flow = "in_port=1,dl_src=00:00:00:00:00:0a,dl_dst=00:00:00:00:00:0b,udp,udp_src=1234,udp_dst=80";
    compare_cases(&mut pair, &[("output replaced, then a set-field written", flow.to_owned(), &[3])]);
    pair.finish();
}

/// Was: `NORMAL` floods frames to the IEEE 802.1D reserved addresses
/// 01:80:c2:00:00:00..0f (STP BPDUs, LACP, LLDP, 802.1X), which a bridge
/// must not forward; OVS drops them (`packet has reserved destination MAC,
/// dropping`, unless other_config:forward-bpdu=true).
///
/// By hand: with `actions=NORMAL`, `vsctl trace br0
/// in_port=1,dl_src=00:00:00:00:00:0a,dl_dst=01:80:c2:00:00:00` floods
/// (OVS: `drop`).
#[test]
fn ovs_parity_normal_floods_reserved_multicast() {
    let dir = TestDir::new("diff_bug_bpdu");
    let ports = ports(&[("north", 1), ("south", 2), ("east", 3)]);
    let mut pair = DiffPair::start(&dir, &ports, OfVersion::Of10, &["actions=NORMAL"]);
    pair.skip_local = true;
    let a = "dl_src=00:00:00:00:00:0a";
    compare_cases(
        &mut pair,
        &[
            ("STP BPDU", format!("in_port=1,{a},dl_dst=01:80:c2:00:00:00"), &[]),
            ("LACP", format!("in_port=1,{a},dl_dst=01:80:c2:00:00:02,dl_type=0x8809"), &[]),
            ("LLDP", format!("in_port=2,{a},dl_dst=01:80:c2:00:00:0e,dl_type=0x88cc"), &[]),
        ],
    );
    pair.finish();
}

/// Was: a `dec_ttl` that finds TTL 1 (or 0) ends the whole
/// translation in the switch: nothing after it runs, neither the actions
/// of the rules that resubmitted to the failing rule nor the action set.
/// OVS ends only the action list of the rule with the `dec_ttl` (its
/// invalid-TTL packet-in goes nowhere without a controller): the
/// resubmitting rule goes on, and the action set is executed.
///
/// By hand: `vsctl add-flow br0 'priority=10,tcp,in_port=3,actions=resubmit(,4),output:1'`,
/// `vsctl add-flow br0 'table=4,tcp,actions=dec_ttl,output:2'`, `vsctl trace br0
/// in_port=3,tcp,nw_ttl=1`: `stopped: TtlExpired`, `Datapath actions: drop`
/// (OVS: the packet leaves through port 1, TTL unchanged).
#[test]
fn ovs_parity_dec_ttl_failure_ends_the_whole_pipeline() {
    let dir = TestDir::new("diff_bug_dec_ttl");
    let ports = ports(&[("north", 1), ("south", 2), ("east", 3)]);
    let resubmitting =
        ["priority=10,tcp,in_port=3,actions=resubmit(,4),output:1", "table=4,tcp,actions=dec_ttl,output:2"];
    let action_set = [
        "priority=10,udp,in_port=2,actions=write_actions(output:1),goto_table:5",
        "table=5,udp,actions=mod_dl_dst:02:00:00:00:00:bb,dec_ttl,output:3",
    ];
    let mut pair = DiffPair::start(&dir, &ports, OfVersion::Of10, &resubmitting);
    pair.load(OfVersion::Of13, &action_set);
    let eth = "dl_src=00:00:00:00:00:0a,dl_dst=00:00:00:00:00:0b";
    compare_cases(
        &mut pair,
        &[
            ("TTL 5: both outputs", format!("in_port=3,{eth},tcp,nw_ttl=5"), &[1, 2]),
            ("TTL 1 after a resubmit: the caller goes on", format!("in_port=3,{eth},tcp,nw_ttl=1"), &[1]),
            ("TTL 1: the action set still runs", format!("in_port=2,{eth},udp,nw_ttl=1"), &[1]),
        ],
    );
    pair.finish();
}

/// Was: a resubmit loop (deeper than the limit) keeps what the
/// translation produced before it gave up: the packet is still sent to the
/// ports output before the loop. OVS drops the packet entirely when a
/// translation fails (`Translation failed (Recursion too deep), packet is
/// dropped`). The depth also differs by one: OVS looks the looping table up
/// 65 times, the switch 64.
///
/// By hand: `vsctl add-flow br0 'in_port=2,actions=output:1,resubmit(,5)'`,
/// `vsctl add-flow br0 'table=5,actions=resubmit(,5)'`, `vsctl trace br0 in_port=2`:
/// `stopped: ResubmitDepth`, `Datapath actions: 1` (OVS: `drop`).
#[test]
fn ovs_parity_resubmit_loop_still_forwards() {
    let dir = TestDir::new("diff_bug_loop");
    let ports = ports(&[("north", 1), ("south", 2)]);
    let flows = ["priority=10,in_port=2,actions=output:1,resubmit(,5)", "table=5,actions=resubmit(,5)"];
    let mut pair = DiffPair::start(&dir, &ports, OfVersion::Of10, &flows);
    compare_cases(&mut pair, &[("a resubmit loop", "in_port=2,dl_dst=00:00:00:00:00:0b".to_owned(), &[])]);
    pair.finish();
}

/// Was: `NORMAL` removes a
/// priority tag (VID 0) with a non-zero PCP on output to a trunk, so the
/// frame loses its 802.1p priority. OVS keeps VID 0 and the PCP (its
/// `xvlan_put` drops a tag only when VID and PCP are both 0); with PCP 0
/// both remove the tag.
///
/// By hand: with `actions=NORMAL`, `vsctl trace br0
/// in_port=1,dl_vlan=0,dl_vlan_pcp=5,dl_dst=ff:ff:ff:ff:ff:ff`:
/// `Datapath actions: pop_vlan,2,3` (OVS: `2,3`, the tag untouched).
#[test]
fn ovs_parity_normal_strips_priority_tags() {
    let dir = TestDir::new("diff_bug_prio_tag");
    let ports = ports(&[("north", 1), ("south", 2), ("east", 3)]);
    let mut pair = DiffPair::start(&dir, &ports, OfVersion::Of10, &["actions=NORMAL"]);
    pair.skip_local = true;
    let a = "dl_src=00:00:00:00:00:0a";
    compare_cases(
        &mut pair,
        &[
            ("priority tag, PCP 5", format!("in_port=1,dl_vlan=0,dl_vlan_pcp=5,{a},dl_dst=ff:ff:ff:ff:ff:ff"), &[2, 3]),
            (
                "priority tag, PCP 7, unicast",
                format!("in_port=2,dl_vlan=0,dl_vlan_pcp=7,{a},dl_dst=00:00:00:00:00:0b"),
                &[1, 3],
            ),
        ],
    );
    pair.finish();
}

/// Was: a `NORMAL` flood that has removed the tag for an access port
/// pushes it again for a later trunk with PCP 0: the frame's 802.1p
/// priority is lost on the trunks that come after an access port in the
/// flood order. OVS starts every output of a flood from the packet's own
/// tag.
///
/// By hand: ports as `VLAN_PORTS`, `actions=NORMAL`, `vsctl trace br0
/// in_port=2,dl_vlan=20,dl_vlan_pcp=4,dl_dst=ff:ff:ff:ff:ff:ff`:
/// `pop_vlan,3,push_vlan(tpid=0x8100,vid=20,pcp=0),5` (OVS: PCP 4 on port 5).
#[test]
fn ovs_parity_normal_flood_resets_pcp_after_an_access_port() {
    let dir = TestDir::new("diff_bug_flood_pcp");
    let mut pair = DiffPair::start(&dir, &VLAN_PORTS, OfVersion::Of10, &["actions=NORMAL"]);
    pair.skip_local = true;
    let a = "dl_src=00:00:00:00:10:01";
    compare_cases(
        &mut pair,
        &[
            (
                "VLAN 20, PCP 4, from the trunk",
                format!("in_port=2,dl_vlan=20,dl_vlan_pcp=4,{a},dl_dst=ff:ff:ff:ff:ff:ff"),
                &[3, 5],
            ),
            (
                "VLAN 10, PCP 6, from the trunk",
                format!("in_port=2,dl_vlan=10,dl_vlan_pcp=6,{a},dl_dst=ff:ff:ff:ff:ff:ff"),
                &[1, 4, 5],
            ),
        ],
    );
    pair.finish();
}

/// Was: an access port drops priority-tagged frames (an 802.1Q tag
/// with VID 0, used only to carry a PCP). IEEE 802.1Q and OVS classify them
/// like untagged frames: OVS takes them into the port's VLAN (keeping the
/// PCP on trunks).
///
/// By hand: ports as `VLAN_PORTS`, `actions=NORMAL`, `vsctl trace br0
/// in_port=1,dl_vlan=0,dl_vlan_pcp=3,dl_dst=ff:ff:ff:ff:ff:ff`: `drop`
/// (OVS: VLAN 10 to ports 2 and 5 tagged with PCP 3, to port 4 untagged).
#[test]
fn ovs_parity_normal_access_port_drops_priority_tagged_frames() {
    let dir = TestDir::new("diff_bug_access_prio");
    let mut pair = DiffPair::start(&dir, &VLAN_PORTS, OfVersion::Of10, &["actions=NORMAL"]);
    pair.skip_local = true;
    let flow = "in_port=1,dl_vlan=0,dl_vlan_pcp=3,dl_src=00:00:00:00:10:01,dl_dst=ff:ff:ff:ff:ff:ff";
    compare_cases(&mut pair, &[("priority-tagged frame on access port 1", flow.to_owned(), &[2, 4, 5])]);
    pair.finish();
}

/// Was (configuration.md said otherwise, "as Open
/// vSwitch's trunks"): a trunk with a VLAN list admits untagged frames (as
/// VLAN 0) and carries VLAN 0 out, whether or not 0 is in its list. OVS
/// admits and carries only the VLANs of the list (an empty list: all), so
/// an untagged frame on `trunks=[10,20]` is dropped, and VLAN 0 floods never
/// reach that trunk.
///
/// By hand: ports as `VLAN_PORTS`, `actions=NORMAL`, `vsctl trace br0
/// in_port=2,dl_dst=ff:ff:ff:ff:ff:ff` floods to port 5 (OVS: drop), and
/// `vsctl trace br0 in_port=5,dl_dst=ff:ff:ff:ff:ff:ff` floods to port 2
/// (OVS: to none of the switch's ports).
#[test]
fn ovs_parity_vlan_list_trunk_carries_untagged_frames() {
    let dir = TestDir::new("diff_bug_trunk_vlan0");
    let mut pair = DiffPair::start(&dir, &VLAN_PORTS, OfVersion::Of10, &["actions=NORMAL"]);
    pair.skip_local = true;
    let a = "dl_src=00:00:00:00:10:01";
    compare_cases(
        &mut pair,
        &[
            ("untagged from the trunk of 10 and 20", format!("in_port=2,{a},dl_dst=ff:ff:ff:ff:ff:ff"), &[]),
            ("untagged from the all-VLAN trunk", format!("in_port=5,{a},dl_dst=ff:ff:ff:ff:ff:ff"), &[]),
        ],
    );
    pair.finish();
}
