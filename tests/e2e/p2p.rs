//! Port to port through net_pcap: frames read from a pcap file on port p1
//! leave, unchanged and in order, through the ports the flow rules name and
//! nowhere else; the counters agree with the files; dropped frames are
//! counted by reason (`action_drop`, `table_miss`, `rx_invalid_packet`).
#![forbid(unsafe_code)]
use std::time::Duration;

use vswitch_e2e::frames::{self, assert_same_frames};
use vswitch_e2e::pcap;
use vswitch_e2e::status::PortStatsReply;
use vswitch_e2e::{PortSpec, SwitchConfig, TestDir, Vswitchd};

/// Frames replayed into p1.
const FRAMES: u32 = 1000;
/// How long the replay of a pcap file may take.
const REPLAY_LIMIT: Duration = Duration::from_secs(10);

fn assert_no_drops(stats: &PortStatsReply) {
    for port in &stats.ports {
        assert_eq!(port.all_drops(), 0, "port {} dropped or lost packets: {port:?}", port.name);
    }
}

/// Three ports, `in_port=1` to one output: p2 gets every frame, p3 none.
#[test]
fn single_output_forwards_every_frame_unchanged() {
    let dir = TestDir::new("p2p_single");
    let (input, out2, out3) = (dir.join("in.pcap"), dir.join("out2.pcap"), dir.join("out3.pcap"));
    let frames = frames::varied_frames(1, FRAMES);
    pcap::write(&input, &frames);
    let config = SwitchConfig::new(&dir)
        .port(PortSpec::pcap_rx("p1", 1, 0, &input))
        .port(PortSpec::pcap_tx("p2", 2, 1, &out2))
        .port(PortSpec::pcap_tx("p3", 3, 2, &out3))
        .flow("in_port=1,actions=output:2");
    let switch = Vswitchd::start(&dir, &config);

    let n = u64::from(FRAMES);
    let stats = switch.wait_for_counters(REPLAY_LIMIT, "p1 rx and p2 tx to reach every frame", |s| {
        s.port("p1").rx_packets >= n && s.port("p2").tx_packets >= n
    });
    // Nothing more may come after the file is done.
    std::thread::sleep(Duration::from_millis(200));
    let stats_later = switch.port_stats();
    let bytes: u64 = frames.iter().map(|f| f.len() as u64).sum();
    for s in [&stats, &stats_later] {
        assert_eq!(s.port("p1").rx_packets, n, "p1 rx_packets");
        assert_eq!(s.port("p1").rx_bytes, bytes, "p1 rx_bytes");
        assert_eq!(s.port("p1").tx_packets, 0, "p1 tx_packets");
        assert_eq!(s.port("p2").tx_packets, n, "p2 tx_packets");
        assert_eq!(s.port("p2").tx_bytes, bytes, "p2 tx_bytes");
        assert_eq!(s.port("p3").tx_packets, 0, "p3 tx_packets");
        assert_no_drops(s);
    }
    switch.stop();

    assert_same_frames(&frames, &pcap::read(&out2), "out2.pcap (p2)");
    assert!(pcap::read(&out3).is_empty(), "out3.pcap (p3) must hold no frames");
}

/// `output:2,output:3`: both ports get every frame (one buffer shared by
/// reference count, never corrupted or freed early).
#[test]
fn multi_output_copies_every_frame_to_each_port() {
    let dir = TestDir::new("p2p_multi");
    let (input, out2, out3) = (dir.join("in.pcap"), dir.join("out2.pcap"), dir.join("out3.pcap"));
    let frames = frames::varied_frames(2, FRAMES);
    pcap::write(&input, &frames);
    let config = SwitchConfig::new(&dir)
        .port(PortSpec::pcap_rx("p1", 1, 0, &input))
        .port(PortSpec::pcap_tx("p2", 2, 1, &out2))
        .port(PortSpec::pcap_tx("p3", 3, 2, &out3))
        .flow("in_port=1,actions=output:2,output:3");
    let switch = Vswitchd::start(&dir, &config);

    let n = u64::from(FRAMES);
    switch.wait_for_counters(REPLAY_LIMIT, "p2 and p3 tx to reach every frame", |s| {
        s.port("p2").tx_packets >= n && s.port("p3").tx_packets >= n
    });
    std::thread::sleep(Duration::from_millis(200));
    let stats = switch.port_stats();
    assert_eq!(stats.port("p1").rx_packets, n, "p1 rx_packets");
    assert_eq!(stats.port("p2").tx_packets, n, "p2 tx_packets");
    assert_eq!(stats.port("p3").tx_packets, n, "p3 tx_packets");
    assert_no_drops(&stats);
    switch.stop();

    assert_same_frames(&frames, &pcap::read(&out2), "out2.pcap (p2)");
    assert_same_frames(&frames, &pcap::read(&out3), "out3.pcap (p3)");
}

/// A drop rule counts `action_drop` on the input port; a port no rule
/// matches counts `table_miss`; nothing reaches the output.
#[test]
fn drops_are_counted_by_reason() {
    let dir = TestDir::new("p2p_drops");
    let (input1, input3, out2) = (dir.join("in1.pcap"), dir.join("in3.pcap"), dir.join("out2.pcap"));
    let frames1 = frames::varied_frames(1, FRAMES);
    let frames3 = frames::varied_frames(3, 300);
    pcap::write(&input1, &frames1);
    pcap::write(&input3, &frames3);
    let config = SwitchConfig::new(&dir)
        .port(PortSpec::pcap_rx("p1", 1, 0, &input1))
        .port(PortSpec::pcap_tx("p2", 2, 1, &out2))
        .port(PortSpec::pcap_rx("p3", 3, 2, &input3))
        .flow("in_port=1,actions=drop");
    let switch = Vswitchd::start(&dir, &config);

    let (n1, n3) = (frames1.len() as u64, frames3.len() as u64);
    switch.wait_for_counters(REPLAY_LIMIT, "action_drop on p1 and table_miss on p3", |s| {
        s.port("p1").dropped("action_drop") >= n1 && s.port("p3").dropped("table_miss") >= n3
    });
    std::thread::sleep(Duration::from_millis(200));
    let stats = switch.port_stats();
    let (p1, p2, p3) = (stats.port("p1"), stats.port("p2"), stats.port("p3"));
    assert_eq!(p1.rx_packets, n1, "p1 rx_packets");
    assert_eq!(p1.dropped("action_drop"), n1, "p1 action_drop: {p1:?}");
    assert_eq!(p1.dropped("table_miss"), 0, "p1 table_miss: {p1:?}");
    assert_eq!(p3.rx_packets, n3, "p3 rx_packets");
    assert_eq!(p3.dropped("table_miss"), n3, "p3 table_miss: {p3:?}");
    assert_eq!(p3.dropped("action_drop"), 0, "p3 action_drop: {p3:?}");
    assert_eq!(p2.tx_packets, 0, "p2 tx_packets");
    assert_eq!(p2.all_drops(), 0, "p2 drops: {p2:?}");
    for port in [p1, p3] {
        assert_eq!(port.dropped("no_such_port") + port.dropped("tx_failed"), 0, "{port:?}");
    }
    switch.stop();

    assert!(pcap::read(&out2).is_empty(), "out2.pcap (p2) must hold no frames");
}

/// Frames shorter than an Ethernet header never leave: they are counted as `rx_invalid_packet`
/// on the input port (Open vSwitch's reason) whether the port's rules decide for every packet
/// alike (p1: no parsing) or the packets are classified (p3); the frames around them pass in
/// order.
#[test]
fn runts_are_dropped_as_invalid_on_both_paths() {
    let dir = TestDir::new("p2p_runts");
    let (input1, input3) = (dir.join("in1.pcap"), dir.join("in3.pcap"));
    let (out2, out4) = (dir.join("out2.pcap"), dir.join("out4.pcap"));
    let with_runts = |flow: u8| -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
        let valid = frames::varied_frames(flow, 200);
        let mut all = Vec::new();
        for (i, frame) in valid.iter().enumerate() {
            all.push(frame.clone());
            if i % 3 == 0 {
                // 1 to 13 bytes: a MAC address or part of the header, never a whole one.
                all.push(frame[..1 + i % 13].to_vec());
            }
        }
        (all, valid)
    };
    let (all1, valid1) = with_runts(1);
    let (all3, valid3) = with_runts(3);
    pcap::write(&input1, &all1);
    pcap::write(&input3, &all3);
    let config = SwitchConfig::new(&dir)
        .port(PortSpec::pcap_rx("p1", 1, 0, &input1))
        .port(PortSpec::pcap_tx("p2", 2, 1, &out2))
        .port(PortSpec::pcap_rx("p3", 3, 2, &input3))
        .port(PortSpec::pcap_tx("p4", 4, 3, &out4))
        .flow("in_port=1,actions=output:2")
        .flow("in_port=3,udp,actions=output:4");
    let switch = Vswitchd::start(&dir, &config);

    let runts1 = (all1.len() - valid1.len()) as u64;
    let runts3 = (all3.len() - valid3.len()) as u64;
    switch.wait_for_counters(REPLAY_LIMIT, "every frame received and every runt counted", |s| {
        s.port("p1").dropped("rx_invalid_packet") >= runts1 && s.port("p3").dropped("rx_invalid_packet") >= runts3
    });
    std::thread::sleep(Duration::from_millis(200));
    let stats = switch.port_stats();
    for (input, output, all, valid, runts) in
        [("p1", "p2", &all1, &valid1, runts1), ("p3", "p4", &all3, &valid3, runts3)]
    {
        let (rx, tx) = (stats.port(input), stats.port(output));
        assert_eq!(rx.rx_packets, all.len() as u64, "{input} rx_packets");
        assert_eq!(rx.dropped("rx_invalid_packet"), runts, "{input}: {rx:?}");
        assert_eq!(rx.all_drops(), runts, "{input} drops nothing else: {rx:?}");
        assert_eq!(tx.tx_packets, valid.len() as u64, "{output} tx_packets");
    }
    switch.stop();

    assert_same_frames(&valid1, &pcap::read(&out2), "out2.pcap (p2)");
    assert_same_frames(&valid3, &pcap::read(&out4), "out4.pcap (p4)");
}
