//! The OpenFlow controller channel against the real `ovs-ofctl` (Open vSwitch's, Debian
//! openvswitch-common): over a passive TCP listener (`openflow = ["ptcp:PORT"]`) and over the
//! bridge's unix management socket (`br0.mgmt` next to the control socket), with OpenFlow
//! 1.3 and 1.0.
//!
//! 1.3: show, dump-desc, dump-tables, dump-table-features, dump-ports, dump-ports-desc,
//! add-flow, add-flows FILE, mod-flows, del-flows (--strict), dump-flows, dump-aggregate, a
//! check_overlap refusal; a rule added by ovs-ofctl forwards real frames (pcap in, pcap out,
//! byte for byte) and dump-flows and dump-ports count them. A client that sends garbage gets
//! errors and, on a framing error, loses its connection, while the switch keeps forwarding
//! and serving other clients. 1.0: add-flow, dump-flows, del-flows (the Nicira flow formats).
//! Bundles (`--bundle add-flows`, all or nothing), replace-flows and diff-flows, and roles
//! (master, slave, stale generation ids) with raw messages.
#![forbid(unsafe_code)]
use std::io::Write;
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

use vswitch_e2e::frames::{self, assert_same_frames};
use vswitch_e2e::ofctl::{field, flow_lines, free_port, ofctl, ofctl_ok, unix_target};
use vswitch_e2e::openflow_raw::{self, error_of, read_message};
use vswitch_e2e::pcap;
use vswitch_e2e::{PortSpec, SwitchConfig, TestDir, Vswitchd, NEUTRON_TUNNEL_BRIDGE};

const FRAMES: u32 = 500;
const REPLAY_LIMIT: Duration = Duration::from_secs(20);

fn switch_with_listener(dir: &TestDir, port: u16, out_pcap: &Path) -> (SwitchConfig, Vswitchd) {
    let config = SwitchConfig::new(dir)
        .openflow(&format!("ptcp:{port}:127.0.0.1"))
        .port(PortSpec::pcap_tx("p2", 2, 2, out_pcap))
        .port(PortSpec::pcap_tx("p3", 3, 3, &dir.join("p3.pcap")));
    let switch = Vswitchd::start(dir, &config);
    (config, switch)
}

#[test]
fn ovs_ofctl_openflow13_over_tcp_and_unix() {
    let dir = TestDir::new("openflow_ofctl_13");
    let out_pcap = dir.join("p2.pcap");
    let port = free_port();
    let (config, switch) = switch_with_listener(&dir, port, &out_pcap);
    let tcp = format!("tcp:127.0.0.1:{port}");
    let mgmt = config.mgmt_socket();
    assert!(mgmt.exists(), "management socket {} missing", mgmt.display());
    let unix = unix_target(&mgmt);
    let of13 = "OpenFlow13";

    for target in [&tcp, &unix] {
        let show = ofctl_ok(of13, &["show", target]);
        assert!(show.contains("OFPT_FEATURES_REPLY (OF1.3)") && show.contains("dpid:"), "{show}");
        assert!(show.contains("n_tables:254"), "{show}");
        assert!(show.contains(" 2(p2): addr:") && show.contains(" 3(p3): addr:"), "{show}");
        let desc = ofctl_ok(of13, &["dump-desc", target]);
        assert!(desc.contains("Manufacturer: vswitch") && desc.contains("DP Description: bridge br0"), "{desc}");
        let tables = ofctl_ok(of13, &["dump-tables", target]);
        assert!(tables.contains("table 0") && tables.contains("active=0"), "{tables}");
        let features = ofctl_ok(of13, &["dump-table-features", target]);
        assert!(features.contains("table 0") && features.contains("table 253"), "{features}");
        let ports = ofctl_ok(of13, &["dump-ports", target]);
        assert!(ports.contains("port  2:") && ports.contains("port  3:"), "{ports}");
        let ports_desc = ofctl_ok(of13, &["dump-ports-desc", target]);
        assert!(ports_desc.contains(" 2(p2): addr:"), "{ports_desc}");
    }
    // The same datapath id on every connection.
    let dpid = |text: &str| text.lines().find_map(|l| l.split("dpid:").nth(1).map(str::to_owned));
    assert_eq!(dpid(&ofctl_ok(of13, &["show", &tcp])), dpid(&ofctl_ok(of13, &["show", &unix])));

    // Rules: add-flow over TCP, add-flows over unix, then modify, delete, dump, aggregate.
    ofctl_ok(of13, &["add-flow", &tcp, "in_port=1,actions=output:2"]);
    let flows_file = dir.join("flows.txt");
    std::fs::write(
        &flows_file,
        "priority=10,ip,nw_dst=10.0.0.0/8,actions=output:3\n\
         table=1,priority=5,cookie=0x5,in_port=3,actions=output:2\n\
         table=1,priority=6,cookie=0x6,in_port=2,actions=output:3\n",
    )
    .expect("flows file");
    ofctl_ok(of13, &["add-flows", &unix, &flows_file.to_string_lossy()]);
    let dump = flow_lines(&ofctl_ok(of13, &["dump-flows", &tcp]));
    assert_eq!(dump.len(), 4, "{dump:#?}");
    assert!(dump.iter().any(|l| l.contains("in_port=1") && l.ends_with("actions=output:2")), "{dump:#?}");
    assert!(dump.iter().any(|l| l.contains("nw_dst=10.0.0.0/8") && l.ends_with("actions=output:3")), "{dump:#?}");

    // mod-flows by cookie (1.3: cookie/mask selects, the cookie stays).
    ofctl_ok(of13, &["mod-flows", &unix, "table=1,cookie=0x5/-1,actions=output:3"]);
    let table1 = flow_lines(&ofctl_ok(of13, &["dump-flows", &unix, "table=1"]));
    assert_eq!(table1.len(), 2, "{table1:#?}");
    let five = table1.iter().find(|l| l.contains("cookie=0x5")).expect("the cookie-5 rule");
    assert!(five.ends_with("actions=output:3"), "{five}");
    let six = table1.iter().find(|l| l.contains("cookie=0x6")).expect("the cookie-6 rule");
    assert!(six.ends_with("actions=output:3"), "untouched: {six}");

    // check_overlap: same priority, overlapping match.
    let overlap = ofctl(of13, &["add-flow", &tcp, "check_overlap,in_port=1,ip,actions=drop"]);
    assert!(!overlap.success() && overlap.stderr.contains("OFPFMFC_OVERLAP"), "{overlap}");

    // del-flows --strict needs the exact match and priority.
    ofctl_ok(of13, &["--strict", "del-flows", &tcp, "ip,nw_dst=10.0.0.0/8"]);
    assert_eq!(flow_lines(&ofctl_ok(of13, &["dump-flows", &tcp])).len(), 4, "default priority: nothing deleted");
    ofctl_ok(of13, &["--strict", "del-flows", &tcp, "priority=10,ip,nw_dst=10.0.0.0/8"]);
    // Non-strict del-flows with an out_port filter.
    ofctl_ok(of13, &["del-flows", &unix, "table=1,out_port=3,in_port=2"]);
    let dump = flow_lines(&ofctl_ok(of13, &["dump-flows", &tcp]));
    assert_eq!(dump.len(), 2, "{dump:#?}");
    let aggregate = ofctl_ok(of13, &["dump-aggregate", &unix]);
    assert!(aggregate.contains("flow_count=2"), "{aggregate}");

    // A raw client sends garbage: errors, then a framing error costs it its connection.
    let mut raw = openflow_raw::client(port);
    raw.write_all(&[4, 0xee, 0, 8, 0, 0, 0, 7]).expect("unknown type");
    let (xid, error_type, code) = error_of(&read_message(&mut raw).expect("an error"));
    assert_eq!((xid, error_type, code), (7, 1, 1), "OFPBRC_BAD_TYPE");
    raw.write_all(&[1, 2, 0, 8, 0, 0, 0, 8]).expect("wrong version");
    let (xid, error_type, code) = error_of(&read_message(&mut raw).expect("an error"));
    assert_eq!((xid, error_type, code), (8, 1, 0), "OFPBRC_BAD_VERSION");
    // A flow_mod cut short.
    raw.write_all(&[4, 14, 0, 16, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0]).expect("short flow_mod");
    let (xid, error_type, code) = error_of(&read_message(&mut raw).expect("an error"));
    assert_eq!((xid, error_type, code), (9, 1, 6), "OFPBRC_BAD_LEN");
    raw.write_all(&[4, 2, 0, 12, 0, 0, 0, 10, 1, 2, 3, 4]).expect("echo");
    let echo = read_message(&mut raw).expect("echo reply");
    assert_eq!((echo[1], &echo[8..]), (3, &[1u8, 2, 3, 4][..]), "ECHO_REPLY with the data");
    raw.write_all(&[4, 2, 0, 4, 0, 0, 0, 11]).expect("framing error");
    let (_, error_type, code) = error_of(&read_message(&mut raw).expect("an error"));
    assert_eq!((error_type, code), (1, 6), "OFPBRC_BAD_LEN");
    assert!(read_message(&mut raw).is_none(), "the connection is closed after a framing error");
    // A client that never says HELLO properly.
    let mut rude = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    rude.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    rude.write_all(&[0xff, 0xff, 0, 16, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4, 5, 6, 7, 8]).expect("garbage");
    let mut seen = Vec::new();
    while let Some(message) = read_message(&mut rude) {
        seen.push(message[1]);
        assert!(seen.len() < 5, "the connection stays open: {seen:?}");
    }
    assert!(seen.contains(&1), "an error before the close: {seen:?}");

    // Real frames through the rule ovs-ofctl added: p1 joins and replays its file.
    let frames: Vec<Vec<u8>> = frames::varied_frames(1, FRAMES);
    let in_pcap = dir.join("p1.pcap");
    pcap::write(&in_pcap, &frames);
    switch.add_port("p1", &["type=dpdk", &format!("devargs=net_pcap1,rx_pcap={}", in_pcap.display()), "ofport=1"]);
    switch.wait_for_counters(REPLAY_LIMIT, "p2 to send every frame", |s| s.port("p2").tx_packets >= u64::from(FRAMES));
    let dump = flow_lines(&ofctl_ok(of13, &["dump-flows", &tcp, "in_port=1"]));
    assert_eq!(dump.len(), 1, "{dump:#?}");
    assert_eq!(field(&dump[0], "n_packets"), Some(FRAMES.to_string().as_str()), "{}", dump[0]);
    let bytes: usize = frames.iter().map(Vec::len).sum();
    assert_eq!(field(&dump[0], "n_bytes"), Some(bytes.to_string().as_str()), "{}", dump[0]);
    let ports = ofctl_ok(of13, &["dump-ports", &unix, "2"]);
    assert!(ports.contains(&format!("tx pkts={FRAMES}")), "{ports}");
    let ports = ofctl_ok(of13, &["dump-ports", &unix]);
    assert!(ports.contains(&format!("rx pkts={FRAMES}")), "{ports}");

    let stats = switch.stop();
    drop(stats);
    assert_same_frames(&frames, &pcap::read(&out_pcap), "p2 output");
    assert!(!mgmt.exists(), "the management socket is removed on shutdown");
}

#[test]
fn ovs_ofctl_openflow10() {
    let dir = TestDir::new("openflow_ofctl_10");
    let out_pcap = dir.join("p2.pcap");
    let port = free_port();
    let (config, switch) = switch_with_listener(&dir, port, &out_pcap);
    let unix = unix_target(&config.mgmt_socket());
    let tcp = format!("tcp:127.0.0.1:{port}");
    let of10 = "OpenFlow10";
    let show = ofctl_ok(of10, &["show", &unix]);
    assert!(show.contains("OFPT_FEATURES_REPLY (xid=") && show.contains(" 2(p2): addr:"), "{show}");
    // Open vSwitch's OFPST_PORT_DESC in 1.0.
    let ports_desc = ofctl_ok(of10, &["dump-ports-desc", &unix]);
    assert!(
        ports_desc.starts_with("OFPST_PORT_DESC reply (xid=") && ports_desc.contains(" 2(p2): addr:"),
        "{ports_desc}"
    );
    ofctl_ok(of10, &["add-flow", &unix, "in_port=1,actions=output:2"]);
    ofctl_ok(of10, &["add-flow", &tcp, "priority=7,in_port=3,actions=output:2"]);
    ofctl_ok(of10, &["add-flow", &tcp, "table=2,priority=7,in_port=3,actions=output:2"]);
    let dump = flow_lines(&ofctl_ok(of10, &["dump-flows", &unix]));
    assert_eq!(dump.len(), 3, "{dump:#?}");
    assert!(dump.iter().any(|l| l.contains("table=2") && l.contains("in_port=3")), "{dump:#?}");
    ofctl_ok(of10, &["--strict", "del-flows", &tcp, "priority=7,in_port=3"]);
    let dump = flow_lines(&ofctl_ok(of10, &["dump-flows", &tcp]));
    assert_eq!(dump.len(), 1, "strict delete in every table: {dump:#?}");
    assert!(dump[0].contains("in_port=1"), "{dump:#?}");
    ofctl_ok(of10, &["del-flows", &unix]);
    assert!(flow_lines(&ofctl_ok(of10, &["dump-flows", &unix])).is_empty());
    // vsctl sees the same tables.
    ofctl_ok(of10, &["add-flow", &unix, "in_port=1,actions=output:3"]);
    let vsctl = switch.vsctl_ok(&["dump-flows", "br0"]);
    assert!(vsctl.contains("in_port=1 actions=output:3"), "{vsctl}");
    // A modify that matches nothing adds the rule in 1.0 (not in 1.3); one
    // that matches modifies only.
    ofctl_ok("OpenFlow13", &["mod-flows", &unix, "in_port=2,actions=output:3"]);
    assert_eq!(flow_lines(&ofctl_ok(of10, &["dump-flows", &unix])).len(), 1, "1.3 adds nothing");
    ofctl_ok(of10, &["mod-flows", &unix, "in_port=2,actions=output:3"]);
    ofctl_ok(of10, &["mod-flows", &unix, "in_port=1,actions=output:2"]);
    let dump = flow_lines(&ofctl_ok(of10, &["dump-flows", &unix]));
    assert_eq!(dump.len(), 2, "{dump:#?}");
    assert!(dump.iter().any(|l| l.contains("in_port=2 actions=output:3")), "{dump:#?}");
    assert!(dump.iter().any(|l| l.contains("in_port=1 actions=output:2")), "{dump:#?}");
    switch.stop();
}

/// vsctl dump-flows lines without what changes with time (duration, ages).
fn timeless_flows(dump: &str) -> Vec<String> {
    let mut lines: Vec<String> = flow_lines(dump)
        .iter()
        .map(|line| {
            line.split(", ")
                .filter(|part| !["duration=", "idle_age=", "hard_age="].iter().any(|p| part.starts_with(p)))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .collect();
    lines.sort();
    lines
}

/// The seed pipeline loaded with `ovs-ofctl add-flows` over OpenFlow 1.3 and
/// over 1.0 (NXM, Nicira learn/resubmit/set_tunnel actions) becomes exactly
/// the rules `vsctl add-flows` makes of the same file, and ovs-ofctl reads
/// all of them back.
#[test]
fn the_seed_pipeline_goes_over_the_wire_as_through_vsctl() {
    let dir = TestDir::new("openflow_ofctl_seed");
    let (config, switch) = switch_with_listener(&dir, free_port(), &dir.join("p2.pcap"));
    let unix = unix_target(&config.mgmt_socket());
    let file = dir.join("seed.flows");
    std::fs::write(&file, NEUTRON_TUNNEL_BRIDGE.join("\n")).expect("write the flows file");
    let file = file.to_str().expect("a UTF-8 path");
    switch.vsctl_ok(&["add-flows", "br0", file]);
    let expected = timeless_flows(&switch.vsctl_ok(&["dump-flows", "br0"]));
    assert_eq!(expected.len(), 15, "{expected:#?}");
    // OpenFlow 1.3 has no mod_vlan_vid or set_tunnel: ovs-ofctl sends
    // push_vlan + set_field and set_field, which is what Open vSwitch stores
    // and prints for such a session too. 1.0 carries the Nicira forms.
    let in_openflow13 = |line: &String| {
        line.replace("mod_vlan_vid:1,", "push_vlan:0x8100,set_field:4097->vlan_vid,")
            .replace("mod_vlan_vid:2,", "push_vlan:0x8100,set_field:4098->vlan_vid,")
            .replace("set_tunnel:0x1,", "set_field:0x1->tun_id,")
            .replace("set_tunnel:0x2,", "set_field:0x2->tun_id,")
    };
    for (version, expected) in
        [("OpenFlow13", expected.iter().map(in_openflow13).collect::<Vec<_>>()), ("OpenFlow10", expected.clone())]
    {
        switch.vsctl_ok(&["del-flows", "br0"]);
        ofctl_ok(version, &["add-flows", &unix, file]);
        let rules = switch.vsctl_ok(&["dump-flows", "br0"]);
        // A 1.0 add always resets counters: its rules keep the flag, as Open vSwitch's do.
        let reset = flow_lines(&rules).iter().filter(|l| l.contains("reset_counts ")).count();
        assert_eq!(reset, if version == "OpenFlow10" { 15 } else { 0 }, "{version}: {rules}");
        assert_eq!(timeless_flows(&rules.replace("reset_counts ", "")), expected, "{version}");
        let dump = flow_lines(&ofctl_ok(version, &["dump-flows", &unix]));
        assert_eq!(dump.len(), 15, "{version}: {dump:#?}");
        assert!(dump.iter().any(|l| l.contains("learn(table=20")), "{version}: {dump:#?}");
    }
    switch.stop();
}

/// A 1.3 ROLE_REQUEST (role: 0 no change, 1 equal, 2 master, 3 slave).
fn role_request(xid: u32, role: u32, generation: u64) -> Vec<u8> {
    role_request_of_version(4, xid, role, generation)
}

/// A ROLE_REQUEST of the version of wire number `version` (the same body from 1.2 on).
fn role_request_of_version(version: u8, xid: u32, role: u32, generation: u64) -> Vec<u8> {
    let mut message = vec![version, 24, 0, 24];
    message.extend_from_slice(&xid.to_be_bytes());
    message.extend_from_slice(&role.to_be_bytes());
    message.extend_from_slice(&[0; 4]);
    message.extend_from_slice(&generation.to_be_bytes());
    message
}

/// The reply to a request: (type, role, generation) of a ROLE_REPLY, or (type, error type,
/// error code) of an OFPT_ERROR.
fn ask(stream: &mut TcpStream, request: &[u8]) -> (u8, u64, u64) {
    stream.write_all(request).expect("request");
    let reply = read_message(stream).expect("a reply");
    let word = |at: usize| u64::from(u32::from_be_bytes([reply[at], reply[at + 1], reply[at + 2], reply[at + 3]]));
    match reply[1] {
        25 => (25, word(8), u64::from_be_bytes(reply[16..24].try_into().expect("8 bytes"))),
        1 => {
            let (_, error_type, code) = error_of(&reply);
            (1, u64::from(error_type), u64::from(code))
        }
        other => panic!("unexpected message type {other}: {reply:?}"),
    }
}

/// A 1.3 FLOW_MOD that deletes every rule (a change a slave may not make).
fn delete_all_flows(xid: u32) -> Vec<u8> {
    let mut message = vec![4, 14, 0, 56];
    message.extend_from_slice(&xid.to_be_bytes());
    message.extend_from_slice(&[0; 16]); // cookie, cookie mask
    message.extend_from_slice(&[0xff, 3, 0, 0, 0, 0, 0, 0]); // all tables, delete, timeouts, priority
    message.extend_from_slice(&[0xff; 12]); // buffer id, out_port, out_group: none/any
    message.extend_from_slice(&[0; 4]); // flags, pad
    message.extend_from_slice(&[0, 1, 0, 4, 0, 0, 0, 0]); // an empty OXM match
    message
}

#[test]
fn bundles_are_all_or_nothing_and_slaves_are_read_only() {
    let dir = TestDir::new("openflow_bundles_roles");
    let port = free_port();
    let (_config, switch) = switch_with_listener(&dir, port, &dir.join("p2.pcap"));
    let tcp = format!("tcp:127.0.0.1:{port}");
    let of13 = "OpenFlow13";
    let good = dir.join("good.flows");
    std::fs::write(&good, "priority=5,udp,actions=drop\npriority=6,tcp,actions=output:2\ntable=1,actions=drop\n")
        .expect("write flows");
    ofctl_ok(of13, &["--bundle", "add-flows", &tcp, &good.to_string_lossy()]);
    assert_eq!(flow_lines(&ofctl_ok(of13, &["dump-flows", &tcp])).len(), 3);
    // The second flow overlaps one of the first bundle: the switch refuses it, and the first
    // flow of the file is not added either.
    let bad = dir.join("bad.flows");
    std::fs::write(&bad, "priority=8,icmp,actions=drop\ncheck_overlap,priority=5,ip,actions=drop\n").expect("write");
    let failed = ofctl(of13, &["--bundle", "add-flows", &tcp, &bad.to_string_lossy()]);
    assert!(!failed.success(), "{failed}");
    assert!(failed.stderr.contains("OFPFMFC_OVERLAP") && failed.stderr.contains("OFPBFC_MSG_FAILED"), "{failed}");
    let dump = ofctl_ok(of13, &["dump-flows", &tcp]);
    assert_eq!(flow_lines(&dump).len(), 3, "nothing of the failed bundle: {dump}");

    // replace-flows makes the tables what a file says (adds, modifies, deletes); diff-flows
    // then finds no difference, and finds one against the old file.
    let replacement = dir.join("replacement.flows");
    std::fs::write(
        &replacement,
        "priority=5,udp,actions=output:3\ntable=1,actions=drop\npriority=9,arp,actions=drop\n",
    )
    .expect("write");
    ofctl_ok(of13, &["replace-flows", &tcp, &replacement.to_string_lossy()]);
    let same = ofctl(of13, &["diff-flows", &tcp, &replacement.to_string_lossy()]);
    assert!(same.success() && same.stdout.trim().is_empty(), "{same}");
    let differs = ofctl(of13, &["diff-flows", &tcp, &good.to_string_lossy()]);
    assert!(!differs.success() && differs.stdout.contains("priority=6,tcp"), "{differs}");
    assert_eq!(flow_lines(&ofctl_ok(of13, &["dump-flows", &tcp])).len(), 3);

    // Roles: the second master demotes the first, which may then only look.
    let (mut first, mut second) = (openflow_raw::client(port), openflow_raw::client(port));
    assert_eq!(ask(&mut first, &role_request(1, 2, 10)), (25, 2, 10), "master");
    assert_eq!(ask(&mut second, &role_request(2, 2, 11)), (25, 2, 11), "another master");
    assert_eq!(ask(&mut first, &role_request(3, 0, 0)), (25, 3, 11), "the first is a slave now");
    assert_eq!(ask(&mut first, &delete_all_flows(4)), (1, 1, 10), "OFPBRC_IS_SLAVE");
    assert_eq!(ask(&mut first, &role_request(5, 2, 9)), (1, 11, 0), "OFPRRFC_STALE");
    assert_eq!(flow_lines(&ofctl_ok(of13, &["dump-flows", &tcp])).len(), 3, "the slave changed nothing");
    assert_eq!(ask(&mut first, &role_request(6, 1, 0)), (25, 1, 11), "equal again");
    second.write_all(&delete_all_flows(7)).expect("flow_mod");
    second.write_all(&[4, 20, 0, 8, 0, 0, 0, 8]).expect("barrier");
    assert_eq!(read_message(&mut second).map(|reply| reply[1]), Some(21), "no error, then the barrier reply");
    assert!(flow_lines(&ofctl_ok(of13, &["dump-flows", &tcp])).is_empty(), "the master may");
    switch.stop();
}

#[test]
fn a_1_4_master_that_loses_its_role_is_told_by_role_status() {
    let dir = TestDir::new("openflow_role_status");
    let port = free_port();
    let (_config, switch) = switch_with_listener(&dir, port, &dir.join("p2.pcap"));
    let (mut first, mut second) = (openflow_raw::client_of_version(port, 5), openflow_raw::client_of_version(port, 5));
    assert_eq!(ask(&mut first, &role_request_of_version(5, 1, 2, 10)), (25, 2, 10), "master");
    assert_eq!(ask(&mut second, &role_request_of_version(5, 2, 2, 11)), (25, 2, 11), "another master");
    // OFPT_ROLE_STATUS: role slave (3), reason master_request (0), the new generation id.
    let status = read_message(&mut first).expect("a ROLE_STATUS");
    assert_eq!((status[0], status[1], usize::from(u16::from_be_bytes([status[2], status[3]]))), (5, 30, 24));
    assert_eq!(&status[8..13], &[0, 0, 0, 3, 0], "{status:?}");
    assert_eq!(u64::from_be_bytes(status[16..24].try_into().expect("8 bytes")), 11);
    // A 1.3 master that loses its role gets nothing (1.3 has no role status): its next message
    // is the reply to its next request.
    let mut old13 = openflow_raw::client(port);
    assert_eq!(ask(&mut old13, &role_request(3, 2, 12)), (25, 2, 12));
    let status = read_message(&mut second).expect("a ROLE_STATUS for the 1.4 master the 1.3 one replaced");
    assert_eq!((status[1], status[11], status[23]), (30, 3, 12), "{status:?}");
    assert_eq!(ask(&mut second, &role_request_of_version(5, 4, 2, 13)), (25, 2, 13));
    assert_eq!(ask(&mut old13, &role_request(5, 0, 0)), (25, 3, 13), "demoted, told only when it asks");
    switch.stop();
}
