//! MPLS end to end with real frames: the same MPLS pipeline (push, pop to MPLS and to IP then
//! goto_table and a match on the UDP header under the stack, set_field and set_mpls_ttl,
//! dec_mpls_ttl, a push onto a stack, a stack deeper than the flow key keeps, a truncated one)
//! runs in vswitchd, the frames replayed from a pcap file (net_pcap `rx_pcap`, outputs to
//! `tx_pcap` files), and in Open vSwitch's userspace datapath (the OVS oracle: the frames
//! received on a dummy port with `netdev-dummy/receive`, outputs written by the dummy ports'
//! `tx_pcap`). What leaves each port must be the same frames byte for byte, and what the test
//! expects: the counts per port, and a pushed frame built by the test itself. Drops are counted
//! by reason, and `vsctl trace` shows the MPLS steps. (An expired dec_mpls_ttl's packet-in:
//! tests/e2e/openflow_async.rs.)
#![forbid(unsafe_code)]
use std::time::Duration;

use vswitch_e2e::frames::{self, assert_same_frames, Ipv4, Mac};
use vswitch_e2e::ovs_oracle::{OfVersion, OvsOracle, OvsPort};
use vswitch_e2e::pcap;
use vswitch_e2e::trace_diff::OurTrace;
use vswitch_e2e::{PortSpec, SwitchConfig, TestDir};

/// How long the replay of the pcap file may take.
const REPLAY_LIMIT: Duration = Duration::from_secs(10);
/// How long after the replay nothing more may happen.
const QUIET: Duration = Duration::from_millis(300);

const ETH_MPLS: u16 = 0x8847;
const SRC: Mac = [0x02, 0, 0, 0, 0, 0x01];
const DST: Mac = [0x02, 0, 0, 0, 0, 0x02];

/// The pipeline, in OpenFlow 1.3 (as ovs-ofctl sends it to Open vSwitch).
const RULES: [&str; 15] = [
    "table=0,priority=10,in_port=1,udp,tp_dst=5000,actions=push_mpls:0x8847,set_field:100->mpls_label,output:2",
    "table=0,priority=10,in_port=1,mpls,mpls_label=10,mpls_bos=1,actions=pop_mpls:0x0800,goto_table:1",
    "table=0,priority=10,in_port=1,mpls,mpls_label=20,actions=set_field:30->mpls_label,set_mpls_ttl:9,output:3",
    "table=0,priority=10,in_port=1,mpls,mpls_label=40,actions=dec_mpls_ttl,output:3",
    "table=0,priority=10,in_port=1,mpls,mpls_label=50,mpls_bos=0,actions=pop_mpls:0x8847,output:2",
    "table=0,priority=10,in_port=1,mpls,mpls_label=60,actions=push_mpls:0x8847,set_field:61->mpls_label,output:3",
    "table=0,priority=10,in_port=1,mpls,mpls_label=70,actions=set_field:5->mpls_tc,output:2",
    "table=0,priority=10,in_port=1,ipv6,actions=push_mpls:0x8847,output:3",
    "table=0,priority=10,in_port=1,arp,actions=push_mpls:0x8848,output:3",
    "table=0,priority=10,in_port=1,mpls,mpls_label=80,actions=pop_mpls:0x0806,goto_table:1",
    "table=0,priority=0,actions=drop",
    "table=1,priority=10,udp,tp_dst=2000,actions=output:2",
    "table=1,priority=10,icmp,icmp_type=8,actions=output:2",
    "table=1,priority=10,arp,arp_spa=10.0.0.7,arp_sha=02:00:00:00:00:01,actions=output:2",
    "table=1,priority=0,actions=output:3",
];

/// A label stack entry.
fn lse(label: u32, tc: u8, bos: bool, ttl: u8) -> u32 {
    label << 12 | u32::from(tc & 7) << 9 | u32::from(bos) << 8 | u32::from(ttl)
}

/// An IPv4/UDP frame to UDP port `dst_port`, TOS 0xb8 (DSCP 46), TTL 33.
fn udp(dst_port: u16) -> Vec<u8> {
    let ip = Ipv4 { tos: 0xb8, ttl: 33, ..Ipv4::new([10, 0, 0, 1], [10, 0, 0, 2]) };
    frames::udp_frame(SRC, DST, &ip, (1234, dst_port), b"mpls e2e payload", true)
}

/// An IPv6/UDP packet (hop limit 40, traffic class 0xb8), checksum left 0.
fn ipv6_udp() -> Vec<u8> {
    let mut packet = vec![0x6b, 0x80, 0, 0, 0, 12, 17, 40];
    packet.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    packet.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
    packet.extend_from_slice(&[0x04, 0xd2, 0x07, 0xd0, 0, 12, 0, 0, 1, 2, 3, 4]);
    packet
}

/// An ICMP echo request of 8 data bytes in an Ethernet frame: short enough that the frame with a
/// label stack entry is under 60 bytes.
fn icmp_echo() -> Vec<u8> {
    let mut icmp = vec![8, 0, 0, 0, 0, 1, 0, 1, 1, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef];
    let sum = frames::checksum(&icmp);
    icmp[2..4].copy_from_slice(&sum.to_be_bytes());
    let ip = Ipv4 { tos: 0x20, ..Ipv4::new([192, 168, 10, 10], [192, 168, 20, 20]) };
    frames::ethernet(SRC, DST, 0x0800, &frames::ipv4_packet(&ip, 1, &icmp))
}

/// `frame` (untagged) with the label stack `stack` after its addresses.
fn labelled(frame: &[u8], stack: &[u32]) -> Vec<u8> {
    let mut body: Vec<u8> = stack.iter().flat_map(|entry| entry.to_be_bytes()).collect();
    body.extend_from_slice(&frame[14..]);
    frames::ethernet(SRC, DST, ETH_MPLS, &body)
}

/// The frames of the test, named.
fn input() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("push onto UDP", udp(5000)),
        ("pop to IPv4, UDP 2000 under the stack", labelled(&udp(2000), &[lse(10, 1, true, 64)])),
        ("pop to IPv4, another UDP port", labelled(&udp(3000), &[lse(10, 1, true, 64)])),
        ("set label and TTL", labelled(&udp(1), &[lse(20, 2, true, 64)])),
        ("dec_mpls_ttl", labelled(&udp(1), &[lse(40, 0, true, 5)])),
        ("dec_mpls_ttl of TTL 1", labelled(&udp(1), &[lse(40, 0, true, 1)])),
        ("pop of two entries", labelled(&udp(1), &[lse(50, 0, false, 64), lse(51, 3, true, 63)])),
        ("push onto MPLS", labelled(&udp(1), &[lse(60, 4, true, 17)])),
        ("set TC under a VLAN tag", frames::push_vlan(&labelled(&udp(1), &[lse(70, 0, true, 8)]), 0x2007)),
        (
            "pop of a stack deeper than three",
            labelled(&udp(1), &[lse(50, 0, false, 9), lse(1, 0, false, 9), lse(2, 0, false, 9), lse(3, 0, true, 9)]),
        ),
        ("truncated stack", frames::ethernet(SRC, DST, ETH_MPLS, &[0, 0x0a])),
        ("push onto IPv6", frames::ethernet(SRC, DST, 0x86dd, &ipv6_udp())),
        ("push onto ARP", frames::arp_request(SRC, [10, 0, 0, 7], [10, 0, 0, 9])),
        ("pop to IPv4, a short ICMP echo under the stack", labelled(&icmp_echo(), &[lse(10, 3, true, 64)])),
        ("pop to ARP", labelled(&frames::arp_request(SRC, [10, 0, 0, 7], [10, 0, 0, 9]), &[lse(80, 0, true, 64)])),
        (
            "pop to ARP, another sender",
            labelled(&frames::arp_request(SRC, [10, 0, 0, 8], [10, 0, 0, 9]), &[lse(80, 0, true, 64)]),
        ),
    ]
}

#[test]
fn mpls_frames_leave_as_open_vswitch_sends_them() {
    let dir = TestDir::new("mpls_vs_ovs");
    let frames_in: Vec<Vec<u8>> = input().into_iter().map(|(_, frame)| frame).collect();
    let n_in = frames_in.len() as u64;

    // Open vSwitch first: the reference.
    let (ovs2, ovs3) = (dir.join("ovs-out2.pcap"), dir.join("ovs-out3.pcap"));
    let mut ovs = OvsOracle::start(
        &dir,
        "br-mpls",
        &[OvsPort::new("p1", 1), OvsPort::new("p2", 2).tx_pcap(&ovs2), OvsPort::new("p3", 3).tx_pcap(&ovs3)],
    );
    ovs.add_flows(OfVersion::Of13, &RULES);
    for frame in &frames_in {
        ovs.receive("p1", frame);
    }
    ovs.stop();
    let (theirs2, theirs3) = (pcap::read(&ovs2), pcap::read(&ovs3));

    // The switch, replaying the same frames.
    let input_file = dir.join("in.pcap");
    pcap::write(&input_file, &frames_in);
    let (out2, out3) = (dir.join("out2.pcap"), dir.join("out3.pcap"));
    let mut config = SwitchConfig::new(&dir)
        .port(PortSpec::pcap_rx("p1", 1, 0, &input_file))
        .port(PortSpec::pcap_tx("p2", 2, 1, &out2))
        .port(PortSpec::pcap_tx("p3", 3, 2, &out3));
    for rule in RULES {
        config = config.flow(rule);
    }
    let switch = vswitch_e2e::Vswitchd::start(&dir, &config);
    switch.wait_for_counters(REPLAY_LIMIT, "p1 to receive every frame and p2, p3 to send theirs", |s| {
        s.port("p1").rx_packets >= n_in && s.port("p2").tx_packets >= 6 && s.port("p3").tx_packets >= 7
    });
    std::thread::sleep(QUIET);
    let stats = switch.port_stats();
    let p1 = stats.port("p1");
    assert_eq!(p1.rx_packets, n_in, "{p1:?}");
    assert_eq!(p1.dropped("ttl_expired"), 1, "dec_mpls_ttl of TTL 1: {p1:?}");
    assert_eq!(p1.dropped("mpls_too_deep"), 1, "the pop of four entries: {p1:?}");
    assert_eq!(p1.dropped("action_drop"), 1, "the truncated stack matches the drop rule: {p1:?}");
    assert_eq!(p1.all_drops(), 3, "{p1:?}");

    // vsctl trace shows the pop, that the inner header decided, and the datapath actions.
    let popped = &frames_in[1];
    let hex: String = popped.iter().map(|b| format!("{b:02x}")).collect();
    let trace: OurTrace = switch.json(&["trace", "br0", "in_port=1", &hex]);
    let text = trace.text();
    assert!(text.contains("pop_mpls:0x0800: the inner header"), "{text}");
    assert_eq!(trace.tables(), [0, 1], "{text}");
    assert_eq!(trace.datapath_actions, "pop_mpls(eth_type=0x800),2", "{text}");
    switch.stop();

    let (ours2, ours3) = (pcap::read(&out2), pcap::read(&out3));
    // Anchors: what goes where, and the pushed frame as the test builds it (TC: the low three
    // bits of DSCP 46, as Open vSwitch takes them; TTL from the IP header).
    assert_eq!((theirs2.len(), theirs3.len()), (6, 7), "Open vSwitch's outputs");
    assert_eq!(theirs2[0], labelled(&udp(5000), &[lse(100, 6, true, 33)]));
    assert_same_frames(&theirs2, &ours2, "p2: vswitchd against Open vSwitch");
    assert_same_frames(&theirs3, &ours3, "p3: vswitchd against Open vSwitch");
}
