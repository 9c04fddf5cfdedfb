//! OpenFlow 1.3 groups against the real `ovs-ofctl` over the bridge's management socket:
//! add-group, mod-group, del-groups, dump-groups, dump-group-stats, dump-group-features, the
//! refusals with their OpenFlow error codes, and rules using `group:N` forwarding real frames
//! (pcap in, pcap out): an `all` group copies every frame to three ports (one bucket rewrites
//! its copy, the others are untouched), a `select` group spreads flows by weight, a
//! fast-failover group skips the bucket whose watched port is down and takes a bucket that
//! chains to an indirect group. Deleting a group deletes the rules that use it.
#![forbid(unsafe_code)]
use std::io::Write;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use vswitch_e2e::frames::{self, assert_same_frames};
use vswitch_e2e::ofctl::{flow_lines, ofctl, ofctl_ok, unix_target};
use vswitch_e2e::openflow_raw::read_message;
use vswitch_e2e::pcap;
use vswitch_e2e::wait::poll;
use vswitch_e2e::{PortSpec, SwitchConfig, TestDir, Vswitchd};

const OF13: &str = "OpenFlow13";
const REPLAY_LIMIT: Duration = Duration::from_secs(20);
/// How long group counters may take to arrive (they are credited in arrears, every 10 ms).
const COUNTERS_LIMIT: Duration = Duration::from_secs(5);
const ALL_FRAMES: u32 = 300;
const SELECT_FRAMES: u32 = 400;
const FAILOVER_FRAMES: u32 = 200;
/// The destination MAC the second bucket of the `all` group writes.
const REWRITTEN_DST: [u8; 6] = [0x02, 0, 0, 0, 0, 0x99];

/// Runs ovs-ofctl, which must fail with `error` (an OpenFlow error name) in its output.
fn ofctl_refused(args: &[&str], error: &str) {
    let output = ofctl(OF13, args);
    assert!(!output.success() && output.stderr.contains(error), "expected {error}: {output}");
}

/// The group lines of a dump-groups or dump-group-stats output.
fn group_lines(dump: &str) -> Vec<String> {
    dump.lines().filter(|l| l.trim_start().starts_with("group_id=")).map(|l| l.trim().to_owned()).collect()
}

/// A group's packet count and its buckets' packet counts from a dump-group-stats output:
/// `group_id=1,duration=...,ref_count=1,packet_count=300,byte_count=...,bucket0:packet_count=...`.
fn group_packets(dump: &str, group: u32) -> Option<(u64, Vec<u64>)> {
    let line = group_lines(dump).into_iter().find(|l| l.starts_with(&format!("group_id={group},")))?;
    let mut parts = line.split(",bucket");
    let packets = |part: &str| -> Option<u64> {
        part.split([',', ':']).find_map(|f| f.strip_prefix("packet_count="))?.parse().ok()
    };
    let total = packets(parts.next()?)?;
    let buckets = parts.map(packets).collect::<Option<Vec<u64>>>()?;
    Some((total, buckets))
}

/// Waits until group `group` counted `packets` packets; returns its bucket counts.
fn wait_for_group(target: &str, group: u32, packets: u64) -> Vec<u64> {
    let mut last = String::new();
    poll(COUNTERS_LIMIT, || {
        last = ofctl_ok(OF13, &["dump-group-stats", target]);
        group_packets(&last, group).filter(|(total, _)| *total == packets).map(|(_, buckets)| buckets)
    })
    .unwrap_or_else(|| panic!("group {group} did not count {packets} packets: {last}"))
}

fn rx_port(switch: &Vswitchd, name: &str, ofport: u32, file: &Path, frames: &[Vec<u8>]) {
    pcap::write(file, frames);
    let devargs = format!("devargs=net_pcap1{ofport},rx_pcap={}", file.display());
    switch.add_port(name, &["type=dpdk", &devargs, &format!("ofport={ofport}")]);
}

/// A connection to `socket` after the HELLO exchange (OpenFlow 1.3).
fn raw_client(socket: &Path) -> UnixStream {
    let mut stream = UnixStream::connect(socket).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    stream.write_all(&[4, 0, 0, 8, 0, 0, 0, 1]).expect("hello");
    let hello = read_message(&mut stream).expect("the switch's hello");
    assert_eq!(hello[1], 0, "first message is a HELLO: {hello:?}");
    stream
}

/// OFPT_GROUP_MOD adding indirect group `id` with two buckets (output:2, output:3).
fn two_bucket_indirect_group(id: u32) -> Vec<u8> {
    let mut message = vec![4, 15, 0, 0, 0, 0, 0, 9, 0, 0, 2, 0];
    message.extend_from_slice(&id.to_be_bytes());
    for port in [2u32, 3] {
        // Bucket: length 32, weight 0, no watch port or group; output:port, max_len 0xffe5.
        message.extend_from_slice(&[0, 32, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]);
        message.extend_from_slice(&[0, 0, 0, 16]);
        message.extend_from_slice(&port.to_be_bytes());
        message.extend_from_slice(&[0xff, 0xe5, 0, 0, 0, 0, 0, 0]);
    }
    let length = u16::try_from(message.len()).expect("short").to_be_bytes();
    message[2..4].copy_from_slice(&length);
    message
}

fn with_destination(frame: &[u8], dst: [u8; 6]) -> Vec<u8> {
    let mut frame = frame.to_vec();
    frame[..6].copy_from_slice(&dst);
    frame
}

#[test]
fn ovs_ofctl_groups_program_and_forward() {
    let dir = TestDir::new("openflow_groups");
    let out = |port: u32| dir.join(&format!("p{port}.pcap"));
    let config = SwitchConfig::new(&dir)
        .port(PortSpec::pcap_tx("p2", 2, 2, &out(2)))
        .port(PortSpec::pcap_tx("p3", 3, 3, &out(3)))
        .port(PortSpec::pcap_tx("p4", 4, 4, &out(4)));
    let switch = Vswitchd::start(&dir, &config);
    let target = unix_target(&config.mgmt_socket());
    let target = target.as_str();

    let features = ofctl_ok(OF13, &["dump-group-features", target]);
    // Every type; weights, liveness, chaining and its checks; group actions in every type.
    assert!(features.contains("Types:  0xf") && features.contains("Capabilities:  0xf"), "{features}");
    assert_eq!(features.matches("actions: output group set_field").count(), 4, "{features}");

    // Add, refuse, modify.
    ofctl_ok(OF13, &["add-group", target, "group_id=1,type=all,bucket=output:2,bucket=output:3"]);
    ofctl_ok(
        OF13,
        &[
            "add-group",
            target,
            "group_id=2,type=select,bucket=weight=1,actions=output:2,bucket=weight=3,actions=output:3",
        ],
    );
    ofctl_ok(OF13, &["add-group", target, "group_id=3,type=indirect,bucket=output:4"]);
    // Port 9 does not exist: its bucket is not live.
    ofctl_ok(
        OF13,
        &[
            "add-group",
            target,
            "group_id=4,type=ff,bucket=watch_port=9,actions=output:2,bucket=watch_port=4,actions=group:3",
        ],
    );
    ofctl_refused(&["add-group", target, "group_id=1,type=all,bucket=output:4"], "OFPGMFC_GROUP_EXISTS");
    ofctl_refused(&["mod-group", target, "group_id=9,type=all,bucket=output:4"], "OFPGMFC_UNKNOWN_GROUP");
    // ovs-ofctl refuses an indirect group of two buckets itself: sent raw, the switch does.
    let mut raw = raw_client(&config.mgmt_socket());
    raw.write_all(&two_bucket_indirect_group(5)).expect("group_mod");
    let error = read_message(&mut raw).expect("an error");
    let error_of = |m: &[u8]| (m[1], u16::from_be_bytes([m[8], m[9]]), u16::from_be_bytes([m[10], m[11]]));
    assert_eq!(error_of(&error), (1, 6, 1), "OFPT_ERROR OFPET_GROUP_MOD_FAILED OFPGMFC_INVALID_GROUP");
    ofctl_refused(
        &["add-group", target, "group_id=5,type=ff,bucket=watch_group=8,actions=output:2"],
        "OFPGMFC_BAD_WATCH",
    );
    ofctl_refused(&["add-group", target, "group_id=5,type=all,bucket=group:8"], "OFPBAC_BAD_OUT_GROUP");
    ofctl_refused(&["add-flow", target, "in_port=1,actions=group:99"], "OFPBAC_BAD_OUT_GROUP");
    ofctl_ok(OF13, &[
        "mod-group",
        target,
        "group_id=1,type=all,bucket=output:2,bucket=actions=set_field:02:00:00:00:00:99->eth_dst,output:3,bucket=output:4",
    ]);
    let groups = group_lines(&ofctl_ok(OF13, &["dump-groups", target]));
    assert_eq!(groups.len(), 4, "{groups:#?}");
    assert!(groups[0].starts_with("group_id=1,type=all,") && groups[0].contains("output:4"), "{groups:#?}");
    assert!(groups[0].contains("set_field:02:00:00:00:00:99->eth_dst"), "{groups:#?}");
    assert!(groups[1].starts_with("group_id=2,type=select,") && groups[1].contains("weight:3"), "{groups:#?}");
    assert!(groups[2].starts_with("group_id=3,type=indirect,"), "{groups:#?}");
    assert!(groups[3].starts_with("group_id=4,type=ff,") && groups[3].contains("watch_port:9"), "{groups:#?}");

    ofctl_ok(OF13, &["add-flow", target, "in_port=1,actions=group:1"]);
    ofctl_ok(OF13, &["add-flow", target, "in_port=5,actions=group:2"]);
    ofctl_ok(OF13, &["add-flow", target, "in_port=6,actions=write_actions(output:2,group:4)"]);
    let by_group = flow_lines(&ofctl_ok(OF13, &["dump-flows", target, "out_group=4"]));
    assert!(by_group.len() == 1 && by_group[0].contains("in_port=6"), "{by_group:#?}");

    // all: every frame to ports 2, 3 and 4; the rewrite of bucket 2 stays in its copy.
    let all_frames = frames::varied_frames(1, ALL_FRAMES);
    rx_port(&switch, "p1", 1, &dir.join("p1.pcap"), &all_frames);
    let n = u64::from(ALL_FRAMES);
    let buckets = wait_for_group(target, 1, n);
    assert_eq!(buckets, [n, n, n]);
    switch.wait_for_counters(REPLAY_LIMIT, "ports 2-4 to send every frame", |s| {
        ["p2", "p3", "p4"].iter().all(|p| s.port(p).tx_packets >= n)
    });

    // select: the flows split between ports 2 and 3 by weight (1:3), each counted by its bucket.
    let select_frames = frames::varied_frames(5, SELECT_FRAMES);
    rx_port(&switch, "p5", 5, &dir.join("p5.pcap"), &select_frames);
    let m = u64::from(SELECT_FRAMES);
    let buckets = wait_for_group(target, 2, m);
    assert_eq!(buckets.iter().sum::<u64>(), m, "{buckets:?}");
    assert!((50..150).contains(&buckets[0]) && (250..350).contains(&buckets[1]), "weights 1:3: {buckets:?}");
    let stats = switch.wait_for_counters(REPLAY_LIMIT, "ports 2 and 3 to send the selected frames", |s| {
        s.port("p2").tx_packets + s.port("p3").tx_packets >= 2 * n + m
    });
    assert_eq!(stats.port("p2").tx_packets, n + buckets[0]);
    assert_eq!(stats.port("p3").tx_packets, n + buckets[1]);

    // fast failover (in the action set, where the group replaces the output): the watched
    // port 9 is down, so the second bucket's chain to indirect group 3 sends to port 4.
    let failover_frames = frames::varied_frames(6, FAILOVER_FRAMES);
    rx_port(&switch, "p6", 6, &dir.join("p6.pcap"), &failover_frames);
    let k = u64::from(FAILOVER_FRAMES);
    assert_eq!(wait_for_group(target, 4, k), [0, k]);
    assert_eq!(wait_for_group(target, 3, k), [k]);
    switch
        .wait_for_counters(REPLAY_LIMIT, "port 4 to send the failed-over frames", |s| s.port("p4").tx_packets >= n + k);
    let stats_text = ofctl_ok(OF13, &["dump-group-stats", target]);
    let group_3 = group_lines(&stats_text).into_iter().find(|l| l.starts_with("group_id=3,")).expect("group 3");
    assert!(group_3.contains("ref_count=1"), "group 4 sends to it: {group_3}");

    // Delete: a group another one chains to is refused; deleting a group deletes its rules.
    ofctl_refused(&["del-groups", target, "group_id=3"], "OFPGMFC_CHAINED_GROUP");
    ofctl_ok(OF13, &["del-groups", target, "group_id=4"]);
    let flows = flow_lines(&ofctl_ok(OF13, &["dump-flows", target]));
    assert_eq!(flows.len(), 2, "the rule of group 4 went with it: {flows:#?}");
    ofctl_ok(OF13, &["del-groups", target]);
    assert!(group_lines(&ofctl_ok(OF13, &["dump-groups", target])).is_empty());
    assert!(flow_lines(&ofctl_ok(OF13, &["dump-flows", target])).is_empty(), "every rule used a group");

    switch.stop();
    let (p2, p3, p4) = (pcap::read(&out(2)), pcap::read(&out(3)), pcap::read(&out(4)));
    let all_count = all_frames.len();
    assert_same_frames(&all_frames, &p2[..all_count], "p2: bucket 1 of the all group");
    let rewritten: Vec<Vec<u8>> = all_frames.iter().map(|f| with_destination(f, REWRITTEN_DST)).collect();
    assert_same_frames(&rewritten, &p3[..all_count], "p3: bucket 2 rewrites its copy");
    assert_same_frames(&all_frames, &p4[..all_count], "p4: bucket 3 gets the frame as it came");
    assert_same_frames(&failover_frames, &p4[all_count..], "p4: the failed-over frames");
}

#[test]
fn groups_over_openflow_1_0_with_open_vswitch_s_extensions() {
    // NXT_GROUP_MOD, NXST_GROUP_DESC / NXST_GROUP / NXST_GROUP_FEATURES and NXAST_GROUP, as
    // `ovs-ofctl -O OpenFlow10` sends them.
    const OF10: &str = "OpenFlow10";
    let dir = TestDir::new("openflow_groups_of10");
    let out = |port: u32| dir.join(&format!("p{port}.pcap"));
    let config = SwitchConfig::new(&dir).port(PortSpec::pcap_tx("p2", 2, 2, &out(2))).port(PortSpec::pcap_tx(
        "p3",
        3,
        3,
        &out(3),
    ));
    let switch = Vswitchd::start(&dir, &config);
    let target = unix_target(&config.mgmt_socket());
    let target = target.as_str();

    let features = ofctl_ok(OF10, &["dump-group-features", target]);
    assert!(features.starts_with("NXST_GROUP_FEATURES reply") && features.contains("Types:  0xf"), "{features}");
    assert!(features.contains("actions: output set_vlan_vid"), "1.0's action names: {features}");
    ofctl_ok(
        OF10,
        &["add-group", target, "group_id=1,type=all,bucket=output:2,bucket=mod_dl_dst:02:00:00:00:00:99,output:3"],
    );
    ofctl_ok(
        OF10,
        &[
            "add-group",
            target,
            "group_id=2,type=ff,bucket=watch_port=9,actions=output:2,bucket=watch_port=3,actions=group:1",
        ],
    );
    let output = ofctl(OF10, &["add-group", target, "group_id=1,type=all,bucket=output:3"]);
    assert!(!output.success(), "a second group 1 is refused: {output}");
    let groups = group_lines(&ofctl_ok(OF10, &["dump-groups", target]));
    assert_eq!(
        groups,
        [
            "group_id=1,type=all,bucket=bucket_id:0,actions=output:2,bucket=bucket_id:1,actions=mod_dl_dst:02:00:00:00:00:99,output:3",
            "group_id=2,type=ff,bucket=bucket_id:0,watch_port:9,actions=output:2,bucket=bucket_id:1,watch_port:3,actions=group:1",
        ],
        "dump-groups (1.0) gives back what was sent"
    );
    assert_eq!(group_lines(&ofctl_ok(OF10, &["dump-groups", target, "2"])).len(), 1, "one group by id");
    // The same groups through 1.3.
    assert_eq!(group_lines(&ofctl_ok(OF13, &["dump-groups", target])).len(), 2);

    // A 1.0 rule with the group action forwards through the chain ff -> all.
    ofctl_ok(OF10, &["add-flow", target, "in_port=5,actions=group:2"]);
    let flows = flow_lines(&ofctl_ok(OF10, &["dump-flows", target]));
    assert!(flows.iter().any(|f| f.contains("in_port=5 actions=group:2")), "{flows:#?}");
    let sent = frames::varied_frames(5, 50);
    rx_port(&switch, "p5", 5, &dir.join("p5.pcap"), &sent);
    let stats = switch.wait_for_counters(REPLAY_LIMIT, "ports 2 and 3 to send the group's copies", |s| {
        s.port("p2").tx_packets >= 50 && s.port("p3").tx_packets >= 50
    });
    assert_eq!((stats.port("p2").tx_packets, stats.port("p3").tx_packets), (50, 50));
    let stats_text = ofctl_ok(OF10, &["dump-group-stats", target]);
    assert!(stats_text.starts_with("NXST_GROUP reply"), "{stats_text}");
    assert_eq!(group_packets(&stats_text, 2), Some((50, vec![0, 50])), "{stats_text}");

    ofctl_ok(OF10, &["del-groups", target]);
    assert!(group_lines(&ofctl_ok(OF10, &["dump-groups", target])).is_empty());
    assert!(flow_lines(&ofctl_ok(OF10, &["dump-flows", target])).is_empty(), "the rule went with its group");
    switch.stop();
    let rewritten: Vec<Vec<u8>> = sent.iter().map(|f| with_destination(f, [2, 0, 0, 0, 0, 0x99])).collect();
    assert_same_frames(&sent, &pcap::read(&out(2)), "p2: bucket 0 of the all group");
    assert_same_frames(&rewritten, &pcap::read(&out(3)), "p3: bucket 1 rewrites its copy");
}
