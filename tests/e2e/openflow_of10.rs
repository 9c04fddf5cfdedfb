//! OpenFlow 1.0 semantics on 1.0 connections, observed with 1.0 clients (a raw one on a
//! `ptcp` listener and `ovs-ofctl -O OpenFlow10` on the management socket) next to 1.3 ones:
//! a table miss is a packet-in (no_match) for 1.0 controllers while 1.3 ones keep dropping it;
//! the table-miss rule is an ordinary rule (action) for them; an unbuffered packet-in carries
//! the whole packet in 1.0; an exact 1.0 match gets the highest priority; an identical add
//! resets the counters in 1.0 and keeps them in 1.3; deletes ignore the buffer id; packet-outs
//! from port 0, NONE or a port the bridge does not have are accepted; errors carry 1.0 codes;
//! Nicira roles; table stats count lookups and matches; the dl_type of a double-tagged frame.
#![forbid(unsafe_code)]
use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

use vswitch_e2e::frames::{self, Ipv4};
use vswitch_e2e::ofctl::{self, field, flow_lines};
use vswitch_e2e::openflow_raw::{self, error_of, read_message};
use vswitch_e2e::{pcap, wait, PortSpec, SwitchConfig, TestDir, Vswitchd};

const SEEN_LIMIT: Duration = Duration::from_secs(10);
const VM_A: frames::Mac = [0x02, 0, 0, 0, 0, 0x0a];
const VM_B: frames::Mac = [0x02, 0, 0, 0, 0, 0x0b];
/// Wire numbers of the versions.
const V1_0: u8 = 1;
const V1_3: u8 = 4;
/// OFPR_NO_MATCH and OFPR_ACTION.
const NO_MATCH: u8 = 0;
const ACTION: u8 = 1;
/// The exact 1.0 match of `udp_frame(_, 2000)` from port 1.
const EXACT: &str = "in_port=1,dl_src=02:00:00:00:00:0a,dl_dst=02:00:00:00:00:0b,dl_vlan=0xffff,\
                     udp,nw_tos=0,nw_src=10.0.0.1,nw_dst=10.0.0.2,tp_src=1000,tp_dst=2000";

fn udp_frame(len: usize, dst_port: u16) -> Vec<u8> {
    let payload = vec![0x5a; len - 42];
    frames::udp_frame(VM_A, VM_B, &Ipv4::new([10, 0, 0, 1], [10, 0, 0, 2]), (1000, dst_port), &payload, true)
}

/// A switch with a passive listener (its port) and `ports` (pcap tx ports, ofport = vdev);
/// secure, so that it never fails open while no controller is connected.
fn start(dir: &TestDir, ports: &[(&str, u32)]) -> (Vswitchd, SwitchConfig, u16) {
    let port = ofctl::free_port();
    let mut config =
        SwitchConfig::new(dir).openflow(&format!("ptcp:{port}:127.0.0.1")).bridge_setting("fail_mode", "\"secure\"");
    for &(name, ofport) in ports {
        config = config.port(PortSpec::pcap_tx(name, ofport, ofport, &dir.join(&format!("{name}.pcap"))));
    }
    let switch = Vswitchd::start(dir, &config);
    (switch, config, port)
}

/// Adds port `name` (ofport 1) replaying `frames` once, on vdev `vdev` (a new one each time).
fn add_rx_port(switch: &Vswitchd, dir: &TestDir, name: &str, vdev: u32, frames: &[Vec<u8>]) {
    let file = dir.join(&format!("{name}-{vdev}.pcap"));
    pcap::write(&file, frames);
    let devargs = format!("devargs=net_pcap{vdev},rx_pcap={}", file.display());
    switch.add_port(name, &["type=dpdk", &devargs, "ofport=1"]);
}

fn ofctl_ok(version: &str, args: &[&str]) -> String {
    ofctl::ofctl_ok(version, args)
}

/// A message of `version` with type `kind`, xid `xid` and `body`.
fn message(version: u8, kind: u8, xid: u32, body: &[u8]) -> Vec<u8> {
    let length = u16::try_from(8 + body.len()).expect("a short message");
    let mut bytes = vec![version, kind];
    bytes.extend_from_slice(&length.to_be_bytes());
    bytes.extend_from_slice(&xid.to_be_bytes());
    bytes.extend_from_slice(body);
    bytes
}

/// Sends `bytes` then a barrier; returns the errors (xid, type, code) that came before its reply.
fn send_and_barrier(stream: &mut TcpStream, version: u8, bytes: &[u8]) -> Vec<(u32, u16, u16)> {
    stream.write_all(bytes).expect("send");
    let barrier_request = if version == V1_0 { 18 } else { 20 };
    stream.write_all(&message(version, barrier_request, 0xbabe, &[])).expect("barrier");
    let mut errors = Vec::new();
    loop {
        let reply = read_message(stream).expect("an answer before the barrier reply");
        match reply[1] {
            1 => errors.push(error_of(&reply)),
            19 | 21 if reply[4..8] == 0xbabe_u32.to_be_bytes() => return errors,
            _ => {}
        }
    }
}

/// A packet-in as a client of `version` reads it.
#[derive(Debug, PartialEq, Eq)]
struct PacketIn {
    reason: u8,
    total_len: u16,
    data: Vec<u8>,
}

/// The next packet-in on `stream` (other messages skipped), within the stream's read timeout.
fn next_packet_in(stream: &mut TcpStream) -> Option<PacketIn> {
    loop {
        let bytes = read_message(stream)?;
        if bytes[1] != 10 {
            continue;
        }
        let total_len = u16::from_be_bytes([bytes[12], bytes[13]]);
        let (reason, data_at) = if bytes[0] == V1_0 {
            (bytes[16], 18)
        } else {
            let match_len = usize::from(u16::from_be_bytes([bytes[26], bytes[27]]));
            (bytes[14], 24 + match_len.div_ceil(8) * 8 + 2)
        };
        return Some(PacketIn { reason, total_len, data: bytes[data_at..].to_vec() });
    }
}

/// None when no packet-in comes within a second.
fn no_packet_in(stream: &mut TcpStream) -> Option<PacketIn> {
    stream.set_read_timeout(Some(Duration::from_secs(1))).expect("timeout");
    let packet_in = next_packet_in(stream);
    stream.set_read_timeout(Some(SEEN_LIMIT)).expect("timeout");
    packet_in
}

fn drops(switch: &Vswitchd, port: &str, reason: &str) -> u64 {
    switch.port_stats().get(port).map_or(0, |p| p.dropped(reason))
}

fn tx(switch: &Vswitchd, port: &str) -> u64 {
    switch.port_stats().get(port).map_or(0, |p| p.tx_packets)
}

#[test]
fn a_table_miss_is_a_packet_in_for_1_0_controllers_only() {
    let dir = TestDir::new("of10_table_miss");
    let (switch, config, port) = start(&dir, &[("p2", 2)]);
    let mgmt = ofctl::unix_target(&config.mgmt_socket());
    let mut v13 = openflow_raw::client_of_version(port, V1_3);
    let mut v10 = openflow_raw::client_of_version(port, V1_0);
    // Answered once the datapath follows the new 1.0 connection.
    assert_eq!(send_and_barrier(&mut v10, V1_0, &[]), []);
    let frame = udp_frame(200, 2000);

    // No rule: the 1.0 controller gets the whole packet (more than miss_send_len's 128).
    add_rx_port(&switch, &dir, "p1", 1, std::slice::from_ref(&frame));
    let miss = next_packet_in(&mut v10).expect("a packet-in for the miss");
    assert_eq!(miss, PacketIn { reason: NO_MATCH, total_len: 200, data: frame.clone() });
    assert_eq!(no_packet_in(&mut v13), None, "a miss is no packet-in for 1.3");

    // The table-miss rule is a rule to 1.0 (reason action, the whole packet) and a miss to
    // 1.3 (cut to its max_len).
    ofctl_ok("OpenFlow13", &["add-flow", &mgmt, "priority=0,actions=CONTROLLER:64"]);
    switch.del_port("p1");
    add_rx_port(&switch, &dir, "p1", 11, std::slice::from_ref(&frame));
    let rule = next_packet_in(&mut v10).expect("the table-miss rule's packet-in (1.0)");
    assert_eq!(rule, PacketIn { reason: ACTION, total_len: 200, data: frame.clone() });
    let rule = next_packet_in(&mut v13).expect("the table-miss rule's packet-in (1.3)");
    assert_eq!(rule, PacketIn { reason: NO_MATCH, total_len: 200, data: frame[..64].to_vec() });

    // max_len 0: nothing of the packet in 1.3, the whole unbuffered packet in 1.0.
    ofctl_ok("OpenFlow10", &["add-flow", &mgmt, "priority=5,udp,actions=CONTROLLER:0"]);
    switch.del_port("p1");
    add_rx_port(&switch, &dir, "p1", 12, std::slice::from_ref(&frame));
    assert_eq!(next_packet_in(&mut v10).expect("1.0").data, frame);
    assert_eq!(next_packet_in(&mut v13).expect("1.3").data, Vec::<u8>::new());

    // The 1.0 controller leaves: misses drop again.
    drop(v10);
    std::thread::sleep(Duration::from_millis(500));
    ofctl_ok("OpenFlow13", &["del-flows", &mgmt]);
    switch.del_port("p1");
    add_rx_port(&switch, &dir, "p1", 13, &[frame]);
    switch.wait_for_counters(SEEN_LIMIT, "a table-miss drop", |_| drops(&switch, "p1", "table_miss") == 1);
    assert_eq!(no_packet_in(&mut v13), None);
    switch.stop();
}

/// An OFPT_FLOW_MOD of 1.0 deleting every rule, with buffer id `buffer_id`.
fn delete_all_v1_0(buffer_id: u32) -> Vec<u8> {
    let mut body = 0x003f_ffff_u32.to_be_bytes().to_vec();
    body.resize(40, 0);
    body.extend_from_slice(&0u64.to_be_bytes());
    body.extend_from_slice(&3u16.to_be_bytes()); // OFPFC_DELETE
    body.extend_from_slice(&[0; 6]); // idle, hard timeouts, priority
    body.extend_from_slice(&buffer_id.to_be_bytes());
    body.extend_from_slice(&0xffff_u16.to_be_bytes()); // out_port NONE
    body.extend_from_slice(&[0; 2]);
    message(V1_0, 14, 7, &body)
}

/// n_packets of the rule of `dump` whose line contains `text`.
fn packets_of(dump: &str, text: &str) -> Option<u64> {
    let lines = flow_lines(dump);
    let line = lines.iter().find(|l| l.contains(text))?;
    field(line, "n_packets")?.parse().ok()
}

#[test]
fn exact_matches_identical_adds_and_deletes_follow_1_0() {
    let dir = TestDir::new("of10_flow_mods");
    let (switch, config, port) = start(&dir, &[("p2", 2), ("p3", 3)]);
    let mgmt = ofctl::unix_target(&config.mgmt_socket());
    let dump = |version: &str| ofctl_ok(version, &["dump-flows", &mgmt]);

    // An exact 1.0 match outranks every wildcarded rule, whatever priority it was given.
    ofctl_ok("OpenFlow10", &["add-flow", &mgmt, "priority=60000,udp,actions=output:3"]);
    ofctl_ok("OpenFlow10", &["add-flow", &mgmt, &format!("priority=10,{EXACT},actions=output:2")]);
    assert!(dump("OpenFlow10").contains("priority=65535,"), "{}", dump("OpenFlow10"));
    add_rx_port(&switch, &dir, "p1", 1, &[udp_frame(100, 2000), udp_frame(100, 3000)]);
    switch.wait_for_counters(SEEN_LIMIT, "one frame each on p2 and p3", |_| {
        tx(&switch, "p2") == 1 && tx(&switch, "p3") == 1
    });
    wait::poll_or_panic(
        "the rules' counters",
        SEEN_LIMIT,
        || (packets_of(&dump("OpenFlow10"), "priority=60000") == Some(1)).then_some(()),
        || dump("OpenFlow10"),
    );
    assert_eq!(packets_of(&dump("OpenFlow10"), "priority=65535"), Some(1));

    // An identical add: 1.3 keeps the counters (no reset_counts), 1.0 starts them from zero.
    ofctl_ok("OpenFlow13", &["add-flow", &mgmt, "priority=60000,udp,actions=output:3"]);
    assert_eq!(packets_of(&dump("OpenFlow13"), "priority=60000"), Some(1));
    ofctl_ok("OpenFlow10", &["add-flow", &mgmt, &format!("priority=10,{EXACT},actions=output:2")]);
    assert_eq!(packets_of(&dump("OpenFlow10"), "priority=65535"), Some(0), "{}", dump("OpenFlow10"));
    assert_eq!(flow_lines(&dump("OpenFlow10")).len(), 2, "replaced, not added");

    // A delete's buffer id means nothing.
    let mut v10 = openflow_raw::client_of_version(port, V1_0);
    assert_eq!(send_and_barrier(&mut v10, V1_0, &delete_all_v1_0(5)), []);
    assert_eq!(flow_lines(&dump("OpenFlow10")), Vec::<String>::new());
    switch.stop();
}

/// An NXT_ROLE_REQUEST (1.0) for NX role `role` (0 other, 1 master, 2 slave).
fn nx_role_request(role: u32) -> Vec<u8> {
    let mut body = 0x0000_2320_u32.to_be_bytes().to_vec();
    body.extend_from_slice(&10u32.to_be_bytes());
    body.extend_from_slice(&role.to_be_bytes());
    message(V1_0, 4, 9, &body)
}

/// The role of the NXT_ROLE_REPLY that answers `request` on `stream`.
fn nx_role(stream: &mut TcpStream, role: u32) -> u32 {
    stream.write_all(&nx_role_request(role)).expect("send");
    loop {
        let reply = read_message(stream).expect("a role reply");
        if reply[1] == 4 && reply[12..16] == 11u32.to_be_bytes() {
            return u32::from_be_bytes([reply[16], reply[17], reply[18], reply[19]]);
        }
        assert_ne!(reply[1], 1, "an error: {reply:?}");
    }
}

/// An OFPT_PACKET_OUT of 1.0 from `in_port` without actions.
fn packet_out_v1_0(in_port: u16) -> Vec<u8> {
    let mut body = u32::MAX.to_be_bytes().to_vec();
    body.extend_from_slice(&in_port.to_be_bytes());
    body.extend_from_slice(&0u16.to_be_bytes());
    body.extend_from_slice(&udp_frame(60, 2000));
    message(V1_0, 13, 5, &body)
}

#[test]
fn packet_outs_errors_and_nicira_roles_of_1_0() {
    let dir = TestDir::new("of10_roles");
    let (switch, _config, port) = start(&dir, &[("p2", 2)]);
    let mut first = openflow_raw::client_of_version(port, V1_0);
    let mut second = openflow_raw::client_of_version(port, V1_0);

    // Packet-outs from port 0, NONE or a port the bridge does not have: accepted.
    for in_port in [0, 0xffff, 7] {
        assert_eq!(send_and_barrier(&mut first, V1_0, &packet_out_v1_0(in_port)), [], "in_port {in_port:#x}");
    }
    // An input port that cannot be one (NORMAL) is refused with a code 1.0 has: OFPBRC_EPERM.
    assert_eq!(send_and_barrier(&mut first, V1_0, &packet_out_v1_0(0xfffa)), [(5, 1, 5)]);

    // Roles by NXT_ROLE_REQUEST: one master at a time; a slave may not change the switch
    // (OFPBRC_IS_SLAVE, which 1.0 reports as OFPBRC_EPERM).
    assert_eq!(nx_role(&mut first, 1), 1);
    assert_eq!(nx_role(&mut second, 1), 1);
    assert_eq!(send_and_barrier(&mut first, V1_0, &delete_all_v1_0(u32::MAX)), [(7, 1, 5)]);
    assert_eq!(send_and_barrier(&mut second, V1_0, &delete_all_v1_0(u32::MAX)), []);
    assert_eq!(nx_role(&mut first, 0), 0);
    assert_eq!(send_and_barrier(&mut first, V1_0, &delete_all_v1_0(u32::MAX)), []);
    switch.stop();
}

/// (lookup, matched) of table 0 in a dump-tables output.
fn table_0_counts(dump: &str) -> Option<(u64, u64)> {
    let table_0 = dump.split("table 0").nth(1)?.split("table 1").next()?;
    let number = |name: &str| -> Option<u64> {
        let rest = table_0.split(&format!("{name}=")).nth(1)?;
        rest.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
    };
    Some((number("lookup")?, number("matched")?))
}

#[test]
fn table_stats_and_the_dl_type_of_a_double_tagged_frame() {
    let dir = TestDir::new("of10_tables");
    let (switch, config, _port) = start(&dir, &[("p2", 2), ("p3", 3)]);
    let mgmt = ofctl::unix_target(&config.mgmt_socket());
    // A double-tagged frame's dl_type is the ethertype after both tags (see openflow.md).
    ofctl_ok("OpenFlow10", &["add-flow", &mgmt, "priority=10,dl_type=0x0800,actions=output:2"]);
    ofctl_ok("OpenFlow10", &["add-flow", &mgmt, "priority=20,dl_type=0x8100,actions=output:3"]);
    let double_tagged = frames::push_vlan(&frames::push_vlan(&udp_frame(100, 2000), 0x0005), 0x0007);
    let arp = frames::arp_request(VM_A, [10, 0, 0, 1], [10, 0, 0, 2]);
    add_rx_port(&switch, &dir, "p1", 1, &[double_tagged, arp]);
    switch.wait_for_counters(SEEN_LIMIT, "the tagged frame on p2, the ARP missed", |_| {
        tx(&switch, "p2") == 1 && drops(&switch, "p1", "table_miss") == 1
    });
    assert_eq!(tx(&switch, "p3"), 0);

    // Table 0 looked up both, matched one; in every version.
    for version in ["OpenFlow10", "OpenFlow13"] {
        let counts = wait::poll(SEEN_LIMIT, || {
            table_0_counts(&ofctl_ok(version, &["dump-tables", &mgmt])).filter(|&counts| counts == (2, 1))
        });
        assert_eq!(counts, Some((2, 1)), "{}", ofctl_ok(version, &["dump-tables", &mgmt]));
    }
    switch.stop();
}
