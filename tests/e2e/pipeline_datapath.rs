//! Real packets through rules that need classification, in the datapath
//! (parse, EMC, megaflows, upcalls through the OpenFlow pipeline): frames
//! replayed from pcap files (net_pcap `rx_pcap`) leave through the ports the
//! rules choose (`tx_pcap`), checked byte for byte against frames the test
//! builds itself, with every checksum recomputed from scratch; drops are
//! counted by reason. Also: rules changed while traffic flows (add-flow,
//! mod-flows, del-flows take effect at once, dump-flows counts), and
//! `NORMAL` with a static MAC entry (`vsctl fdb-add`) and with MACs learned
//! from real frames. And trains of one flow, which the PMD classifies once
//! per train (header repeats), rewritten packet by packet all the same.
#![forbid(unsafe_code)]
use std::time::Duration;

use serde::Deserialize;
use vswitch_e2e::frames::{self, assert_same_frames, Ipv4, Mac};
use vswitch_e2e::pcap;
use vswitch_e2e::status::PortStatsReply;
use vswitch_e2e::wait;
use vswitch_e2e::{PortSpec, SwitchConfig, TestDir, Vswitchd};

/// How long the replay of a pcap file may take.
const REPLAY_LIMIT: Duration = Duration::from_secs(10);
/// How long after a replay nothing more may happen.
const QUIET: Duration = Duration::from_millis(200);

/// Waits until p1 received `n` frames and `settled` holds, then lets the
/// switch run a little longer and returns the counters (which must not
/// have moved meanwhile).
fn wait_replayed(switch: &Vswitchd, n: u64, settled: impl Fn(&PortStatsReply) -> bool) -> PortStatsReply {
    switch.wait_for_counters(REPLAY_LIMIT, "p1 to receive every frame and the outputs to settle", |s| {
        s.port("p1").rx_packets >= n && settled(s)
    });
    std::thread::sleep(QUIET);
    switch.port_stats()
}

fn mac(last: u8) -> Mac {
    [0x02, 0, 0, 0, 0, last]
}

// ---------------------------------------------------------------------------
// (a) VLAN push, nw_src rewrite and dec_ttl on UDP only
// ---------------------------------------------------------------------------

/// The address the rule writes into nw_src.
const NEW_SRC: [u8; 4] = [10, 9, 9, 9];

/// What the rule `mod_vlan_vid:5,mod_nw_src:10.9.9.9,dec_ttl,output:2` must
/// make of an IPv4/UDP `frame` (tagged or not), built from scratch: the
/// header checksum recomputed, the UDP checksum recomputed over the whole
/// datagram (left 0 when it was 0), or for a first fragment updated for the
/// new address (RFC 1624), and nothing touched in a later fragment's
/// payload; then the tag: VID 5 pushed (PCP 0) or written into the existing
/// tag (its PCP kept).
fn expected_rewrite(frame: &[u8]) -> Vec<u8> {
    let layout = frames::ipv4_layout(frame).expect("an IPv4 frame");
    let mut out = frame.to_vec();
    let l3 = layout.l3;
    let old_src = [out[l3 + 12], out[l3 + 13], out[l3 + 14], out[l3 + 15]];
    out[l3 + 12..l3 + 16].copy_from_slice(&NEW_SRC);
    out[l3 + 8] -= 1;
    out[l3 + 10..l3 + 12].copy_from_slice(&[0, 0]);
    let ip_sum = frames::checksum(&out[l3..layout.l4()]);
    out[l3 + 10..l3 + 12].copy_from_slice(&ip_sum.to_be_bytes());
    let at = layout.l4() + 6;
    let carried = u16::from_be_bytes([out[at], out[at + 1]]);
    if layout.proto == frames::IPPROTO_UDP && layout.first_fragment && carried != 0 {
        let udp_sum = if layout.whole {
            out[at..at + 2].copy_from_slice(&[0, 0]);
            let dst = [out[l3 + 16], out[l3 + 17], out[l3 + 18], out[l3 + 19]];
            frames::l4_checksum(NEW_SRC, dst, frames::IPPROTO_UDP, &out[layout.l4()..layout.end()])
        } else {
            // HC' = ~(~HC + ~m + m') over the changed words (RFC 1624, eq. 3).
            let old_inverted: Vec<u8> = old_src.iter().map(|b| !b).collect();
            let sum = frames::ones_sum(frames::ones_sum(!carried, &old_inverted), &NEW_SRC);
            match !sum {
                0 => 0xffff,
                other => other,
            }
        };
        out[at..at + 2].copy_from_slice(&udp_sum.to_be_bytes());
    }
    if layout.l3 == frames::ETH_HEADER {
        frames::push_vlan(&out, 5)
    } else {
        let pcp = u16::from(out[14] >> 5);
        out[14..16].copy_from_slice(&((pcp << 13) | 5).to_be_bytes());
        out
    }
}

/// A UDP frame whose checksum after the rewrite computes to 0, so the
/// switch must send 0xffff (RFC 768: 0 means "no checksum"): the last two
/// payload bytes are chosen to make it so.
fn udp_rewriting_to_zero_checksum(index: u8) -> Vec<u8> {
    let ip = Ipv4 { ttl: 33, id: 0x4000 | u16::from(index), ..Ipv4::new([192, 0, 2, index], [198, 51, 100, 7]) };
    // The last two bytes are 0 while the sum is taken, then the filler.
    let mut payload = vec![index; 30];
    payload[28..].copy_from_slice(&[0, 0]);
    let after = Ipv4 { src: NEW_SRC, ttl: 32, ..ip.clone() };
    let segment = frames::udp_segment(&after, 4000, 53, &payload, false);
    let sum = frames::l4_sum(after.src, after.dst, frames::IPPROTO_UDP, &segment);
    // Make the sum 0xffff, whose complement is 0: add 0xffff - sum.
    let fill = 0xffff - sum;
    payload[28..].copy_from_slice(&fill.to_be_bytes());
    let frame = frames::udp_frame(mac(1), mac(2), &ip, (4000, 53), &payload, true);
    let rewritten = expected_rewrite(&frame);
    let udp_checksum = frames::ETH_HEADER + 4 + 20 + 6;
    assert_eq!(rewritten[udp_checksum..udp_checksum + 2], [0xff, 0xff], "the edge case is not one");
    frame
}

/// The input of (a): UDP frames of every size class (with and without a
/// checksum, some tagged, with IP options, fragments, the checksum edge
/// cases), TCP and ARP frames in between, and one UDP frame with TTL 1.
/// Returns (frames, how many UDP frames must come out, TCP+ARP count).
fn rewrite_input() -> (Vec<Vec<u8>>, usize, usize) {
    let mut input = Vec::new();
    let (mut forwarded, mut non_udp) = (0, 0);
    for i in 0..240u16 {
        let low = u8::try_from(i).unwrap();
        let ip = Ipv4 {
            ttl: 2 + (i % 250) as u8,
            tos: (low % 4) << 2,
            id: i,
            ..Ipv4::new([172, 16, (i >> 8) as u8, low], [10, 0, (i % 7) as u8, low])
        };
        let payload: Vec<u8> =
            (0..(i * 13) % 1400).map(|b| ((b & 0xff) as u8).wrapping_mul(7).wrapping_add(low)).collect();
        let udp = frames::udp_frame(mac(low), mac(200), &ip, (1024 + i, 5000 + i % 3), &payload, i % 4 != 0);
        input.push(if i % 10 == 3 { frames::push_vlan(&udp, (3 << 13) | 7) } else { udp });
        forwarded += 1;
        if i % 5 == 0 {
            input.push(frames::tcp_frame(mac(low), mac(200), &ip, (2000 + i, 80), &payload[..payload.len().min(200)]));
            non_udp += 1;
        }
        if i % 12 == 0 {
            input.push(frames::arp_request(mac(low), [172, 16, 0, low], [172, 16, 0, 1]));
            non_udp += 1;
        }
    }
    // Checksum edge cases: the rewritten checksum computes to zero.
    for index in 1..=2 {
        input.push(udp_rewriting_to_zero_checksum(index));
        forwarded += 1;
    }
    // IP options (IHL 6 and 8): the UDP header starts later.
    for (index, options) in [vec![1, 1, 1, 0], vec![0x94, 4, 0, 0, 1, 1, 1, 0, 1, 1, 1, 0]].into_iter().enumerate() {
        let ip = Ipv4 { options, ttl: 9, ..Ipv4::new([192, 0, 2, 50 + u8::try_from(index).unwrap()], [192, 0, 2, 1]) };
        input.push(frames::udp_frame(mac(50), mac(51), &ip, (7, 7), &[0x5a; 77], true));
        forwarded += 1;
    }
    // A datagram in two fragments: the first holds the UDP header (and a
    // checksum over the whole datagram), the second only payload bytes.
    let whole = frames::udp_segment(&Ipv4::new([192, 0, 2, 60], [192, 0, 2, 1]), 1111, 2222, &[0xa5; 200], true);
    let first = Ipv4 { more_fragments: true, id: 77, ..Ipv4::new([192, 0, 2, 60], [192, 0, 2, 1]) };
    let later = Ipv4 { frag_offset: 13, id: 77, ..first.clone() };
    let later = Ipv4 { more_fragments: false, ..later };
    input.push(frames::ethernet(
        mac(60),
        mac(61),
        frames::ETH_TYPE_IPV4,
        &frames::ipv4_packet(&first, frames::IPPROTO_UDP, &whole[..104]),
    ));
    input.push(frames::ethernet(
        mac(60),
        mac(61),
        frames::ETH_TYPE_IPV4,
        &frames::ipv4_packet(&later, frames::IPPROTO_UDP, &whole[104..]),
    ));
    forwarded += 2;
    (input, forwarded, non_udp)
}

/// (a) `priority=10,udp,in_port=1,actions=mod_vlan_vid:5,mod_nw_src:10.9.9.9,dec_ttl,output:2`
/// and `priority=0,actions=drop`: every UDP frame comes out with VID 5 (a
/// tag pushed, or the VID of its tag replaced), nw_src 10.9.9.9, the TTL
/// decremented, valid IP and UDP checksums and the payload unchanged, byte
/// for byte as the test computes it; TCP and ARP frames are dropped and
/// counted as `action_drop`; a UDP frame with TTL 1 is dropped too.
#[test]
fn udp_frames_are_tagged_rewritten_and_decremented() {
    let dir = TestDir::new("pipeline_rewrite");
    let (input, out2) = (dir.join("in.pcap"), dir.join("out2.pcap"));
    let (mut frames_in, n_udp, n_other) = rewrite_input();
    let expected: Vec<Vec<u8>> = frames_in.iter().filter(|f| is_udp(f)).map(|f| expected_rewrite(f)).collect();
    assert_eq!(expected.len(), n_udp);
    let ttl_one = Ipv4 { ttl: 1, ..Ipv4::new([192, 0, 2, 99], [192, 0, 2, 1]) };
    frames_in.push(frames::udp_frame(mac(99), mac(98), &ttl_one, (9, 9), &[1; 20], true));
    pcap::write(&input, &frames_in);
    let config = SwitchConfig::new(&dir)
        .port(PortSpec::pcap_rx("p1", 1, 0, &input))
        .port(PortSpec::pcap_tx("p2", 2, 1, &out2))
        .flow("priority=10,udp,in_port=1,actions=mod_vlan_vid:5,mod_nw_src:10.9.9.9,dec_ttl,output:2")
        .flow("priority=0,actions=drop");
    let switch = Vswitchd::start(&dir, &config);

    let n_in = frames_in.len() as u64;
    let stats = wait_replayed(&switch, n_in, |s| s.port("p2").tx_packets >= n_udp as u64);
    let (p1, p2) = (stats.port("p1"), stats.port("p2"));
    assert_eq!(p1.rx_packets, n_in, "p1 rx_packets: {p1:?}");
    assert_eq!(p2.tx_packets, n_udp as u64, "p2 tx_packets: {p2:?}");
    assert_eq!(p1.dropped("action_drop"), n_other as u64, "TCP and ARP frames are action drops: {p1:?}");
    assert_eq!(p1.dropped("ttl_expired"), 1, "the TTL-1 frame: {p1:?}");
    assert_eq!(p1.all_drops(), n_other as u64 + 1, "nothing else is dropped: {p1:?}");
    assert_eq!(p2.all_drops(), 0, "p2: {p2:?}");
    switch.stop();

    let out = pcap::read(&out2);
    for (index, frame) in out.iter().enumerate() {
        frames::verify_checksums(frame).unwrap_or_else(|e| panic!("out2.pcap frame {index}: {e}"));
    }
    assert_same_frames(&expected, &out, "out2.pcap (p2)");
}

fn is_udp(frame: &[u8]) -> bool {
    frames::ipv4_layout(frame).is_some_and(|ip| ip.proto == frames::IPPROTO_UDP)
}

// ---------------------------------------------------------------------------
// (b) two tables
// ---------------------------------------------------------------------------

/// (b) Table 0 `in_port=1,actions=resubmit(,1)`, table 1
/// `ip,nw_dst=10.0.0.0/24,actions=output:2` and `ip,actions=output:3`: the
/// IP frames split exactly by destination, in order and unchanged; ARP
/// frames match nothing in table 1 and are dropped (and counted).
#[test]
fn two_tables_split_frames_by_destination() {
    let dir = TestDir::new("pipeline_tables");
    let (input, out2, out3) = (dir.join("in.pcap"), dir.join("out2.pcap"), dir.join("out3.pcap"));
    let mut frames_in = Vec::new();
    let (mut to2, mut to3) = (Vec::new(), Vec::new());
    let mut n_arp = 0u64;
    let destinations =
        [[10, 0, 0, 1], [10, 0, 1, 1], [10, 0, 0, 255], [192, 168, 0, 1], [10, 0, 0, 77], [9, 255, 255, 255]];
    for i in 0..600u16 {
        let dst = destinations[usize::from(i) % destinations.len()];
        let ip = Ipv4 { id: i, ..Ipv4::new([172, 16, 1, (i % 251) as u8], dst) };
        let payload = vec![(i & 0xff) as u8; usize::from(i % 500)];
        let frame = if i % 3 == 0 {
            frames::tcp_frame(mac(1), mac(2), &ip, (i, 443), &payload)
        } else {
            frames::udp_frame(mac(1), mac(2), &ip, (i, 53), &payload, i % 2 == 0)
        };
        if dst[..3] == [10, 0, 0] {
            to2.push(frame.clone());
        } else {
            to3.push(frame.clone());
        }
        frames_in.push(frame);
        if i % 50 == 0 {
            frames_in.push(frames::arp_request(mac(1), [172, 16, 1, 1], dst));
            n_arp += 1;
        }
    }
    pcap::write(&input, &frames_in);
    let config = SwitchConfig::new(&dir)
        .port(PortSpec::pcap_rx("p1", 1, 0, &input))
        .port(PortSpec::pcap_tx("p2", 2, 1, &out2))
        .port(PortSpec::pcap_tx("p3", 3, 2, &out3))
        .flow("in_port=1,actions=resubmit(,1)")
        .flow("table=1,priority=20,ip,nw_dst=10.0.0.0/24,actions=output:2")
        .flow("table=1,priority=10,ip,actions=output:3");
    let switch = Vswitchd::start(&dir, &config);

    let (n2, n3) = (to2.len() as u64, to3.len() as u64);
    let stats = wait_replayed(&switch, frames_in.len() as u64, |s| {
        s.port("p2").tx_packets >= n2 && s.port("p3").tx_packets >= n3
    });
    assert_eq!(stats.port("p2").tx_packets, n2, "p2 tx_packets");
    assert_eq!(stats.port("p3").tx_packets, n3, "p3 tx_packets");
    let p1 = stats.port("p1");
    assert_eq!(p1.all_drops(), n_arp, "only the ARP frames are dropped: {p1:?}");
    assert_eq!(p1.dropped("table_miss"), 0, "table 0 matched every frame: {p1:?}");
    switch.stop();

    assert_same_frames(&to2, &pcap::read(&out2), "out2.pcap (p2, 10.0.0.0/24)");
    assert_same_frames(&to3, &pcap::read(&out3), "out3.pcap (p3, other IP)");
}

// ---------------------------------------------------------------------------
// (c) output, then modify, then output
// ---------------------------------------------------------------------------

/// (c) `in_port=1,actions=output:2,mod_dl_dst:02:00:00:00:00:99,output:3`:
/// p2 sends the frames as they came (the rewrite for p3 must not reach the
/// buffer p2 already holds), p3 the rewritten ones.
#[test]
fn output_before_a_rewrite_sends_the_original() {
    let dir = TestDir::new("pipeline_copy");
    let (input, out2, out3) = (dir.join("in.pcap"), dir.join("out2.pcap"), dir.join("out3.pcap"));
    let mut frames_in = frames::varied_frames(4, 800);
    let ip = Ipv4::new([10, 1, 1, 1], [10, 2, 2, 2]);
    for i in 0..100u16 {
        frames_in.insert(
            usize::from(i) * 8,
            frames::tcp_frame(mac(7), mac(8), &ip, (i, 22), &[u8::try_from(i).unwrap(); 100]),
        );
    }
    pcap::write(&input, &frames_in);
    let rewritten: Vec<Vec<u8>> = frames_in
        .iter()
        .map(|f| {
            let mut f = f.clone();
            f[..6].copy_from_slice(&[0x02, 0, 0, 0, 0, 0x99]);
            f
        })
        .collect();
    let config = SwitchConfig::new(&dir)
        .port(PortSpec::pcap_rx("p1", 1, 0, &input))
        .port(PortSpec::pcap_tx("p2", 2, 1, &out2))
        .port(PortSpec::pcap_tx("p3", 3, 2, &out3))
        .flow("in_port=1,actions=output:2,mod_dl_dst:02:00:00:00:00:99,output:3");
    let switch = Vswitchd::start(&dir, &config);

    let n = frames_in.len() as u64;
    let stats = wait_replayed(&switch, n, |s| s.port("p2").tx_packets >= n && s.port("p3").tx_packets >= n);
    for port in ["p2", "p3"] {
        assert_eq!(stats.port(port).tx_packets, n, "{port} tx_packets");
    }
    assert_eq!(stats.port("p1").all_drops(), 0, "{:?}", stats.port("p1"));
    switch.stop();

    assert_same_frames(&frames_in, &pcap::read(&out2), "out2.pcap (p2, before the rewrite)");
    assert_same_frames(&rewritten, &pcap::read(&out3), "out3.pcap (p3, after the rewrite)");
}

// ---------------------------------------------------------------------------
// (d) rules changed while traffic flows
// ---------------------------------------------------------------------------

/// How long a sample of a counter covers.
const SAMPLE: Duration = Duration::from_millis(150);
/// More than the PMD needs to publish its counters while busy.
const PUBLISH: Duration = Duration::from_millis(50);

/// p2's and p3's tx and p1's drops by reason, now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Counts {
    p2_tx: u64,
    p3_tx: u64,
    action_drop: u64,
    table_miss: u64,
}

fn counts(switch: &Vswitchd) -> Counts {
    let stats = switch.port_stats();
    let p1 = stats.port("p1");
    Counts {
        p2_tx: stats.port("p2").tx_packets,
        p3_tx: stats.port("p3").tx_packets,
        action_drop: p1.dropped("action_drop"),
        table_miss: p1.dropped("table_miss"),
    }
}

/// Two samples `SAMPLE` apart, the first right away.
fn two_samples(switch: &Vswitchd) -> (Counts, Counts) {
    let first = counts(switch);
    std::thread::sleep(SAMPLE);
    (first, counts(switch))
}

/// The n_packets of every rule `vsctl dump-flows br0` prints.
fn rule_packets(switch: &Vswitchd) -> Vec<u64> {
    let text = switch.vsctl_ok(&["dump-flows", "br0"]);
    text.lines()
        .map(|line| {
            line.split(", ")
                .find_map(|item| item.strip_prefix("n_packets="))
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("no n_packets in `{line}`"))
        })
        .collect()
}

/// (d) A net_null source on p1: `in_port=1,actions=drop` counts action
/// drops and sends nothing; `add-flow` of the same match with `output:2`
/// replaces it and p2 forwards (the rule's n_packets grows, no more action
/// drops); `mod-flows` to `output:3` moves the traffic to p3 (p2 stops);
/// `del-flows br0 in_port=1` stops all forwarding from the moment vsctl
/// returns, and p1's frames become table misses.
#[test]
fn rule_changes_take_effect_while_traffic_flows() {
    let dir = TestDir::new("pipeline_changes");
    let config = SwitchConfig::new(&dir)
        .port(PortSpec::dpdk("p1", 1, "net_null0"))
        .port(PortSpec::dpdk("p2", 2, "net_null1,no-rx=1"))
        .port(PortSpec::dpdk("p3", 3, "net_null2,no-rx=1"))
        .flow("in_port=1,actions=drop");
    let switch = Vswitchd::start(&dir, &config);

    let (before, after) = two_samples(&switch);
    assert!(after.action_drop > before.action_drop, "the drop rule counts action drops: {before:?} -> {after:?}");
    assert_eq!((after.p2_tx, after.p3_tx, after.table_miss), (0, 0, 0), "{after:?}");

    switch.vsctl_ok(&["add-flow", "br0", "in_port=1,actions=output:2"]);
    let flows = switch.vsctl_ok(&["dump-flows", "br0"]);
    assert_eq!(flows.lines().count(), 1, "add-flow replaced the rule of the same match:\n{flows}");
    assert!(flows.contains("in_port=1 actions=output:2"), "{flows}");
    let (before, after) = two_samples(&switch);
    assert!(after.p2_tx > before.p2_tx, "p2 forwards after add-flow: {before:?} -> {after:?}");
    // Drop counters are the PMD's, published every few hundred iterations:
    // the last ones of the drop rule may show up a moment after the change.
    std::thread::sleep(PUBLISH);
    let (before, after) = two_samples(&switch);
    assert_eq!(after.action_drop, before.action_drop, "no action drops after add-flow: {before:?} -> {after:?}");
    let first = rule_packets(&switch);
    std::thread::sleep(SAMPLE);
    let second = rule_packets(&switch);
    assert!(first.len() == 1 && second[0] > first[0] && first[0] > 0, "n_packets grows: {first:?} -> {second:?}");

    switch.vsctl_ok(&["mod-flows", "br0", "in_port=1,actions=output:3"]);
    let (before, after) = two_samples(&switch);
    assert!(after.p3_tx > before.p3_tx, "p3 forwards after mod-flows: {before:?} -> {after:?}");
    assert_eq!(after.p2_tx, before.p2_tx, "p2 stopped at once after mod-flows: {before:?} -> {after:?}");

    switch.vsctl_ok(&["del-flows", "br0", "in_port=1"]);
    let (before, after) = two_samples(&switch);
    assert_eq!((after.p2_tx, after.p3_tx), (before.p2_tx, before.p3_tx), "nothing forwarded after del-flows");
    assert!(after.table_miss > before.table_miss, "p1's frames are table misses: {before:?} -> {after:?}");
    let flows = switch.vsctl_ok(&["dump-flows", "br0"]);
    assert!(flows.trim().is_empty(), "del-flows removed the rule:\n{flows}");
    switch.stop();
}

// ---------------------------------------------------------------------------
// (e) NORMAL: a static MAC entry, then MACs learned from real frames
// ---------------------------------------------------------------------------

/// (e) `actions=NORMAL`. p2 and p3 start as sinks; `vsctl fdb-add br0 p2 0
/// B` puts B behind p2; then port p1 is added (`vsctl add-port`) and replays
/// frames from A: broadcast and multicast go to p2 and p3, unicast to B only
/// to p2, unicast to an unknown MAC to both, unicast to B in VLAN 7 (B is
/// known in VLAN 0 only) to both, tagged; nothing goes back to p1. The
/// switch learns A on p1 from those frames (seen in `vsctl trace`); then
/// port p4 replays frames from D: unicast to A goes to p1 only, to B to p2
/// only, broadcast to p1, p2 and p3.
#[test]
fn normal_forwards_to_static_and_learned_macs() {
    let dir = TestDir::new("pipeline_normal");
    let files = |name: &str| dir.join(&format!("{name}.pcap"));
    let (in1, in4, out1, out2, out3) = (files("in1"), files("in4"), files("out1"), files("out2"), files("out3"));
    let (a, b, c, d) = (mac(0xa), mac(0xb), mac(0xc), mac(0xd));
    let ip = Ipv4::new([10, 0, 0, 10], [10, 0, 0, 11]);
    let frame = |src: Mac, dst: Mac, tag: u8| frames::udp_frame(src, dst, &ip, (1, 2), &[tag; 40], true);
    let from_a = [
        ("broadcast", frame(a, [0xff; 6], 1)),
        ("to B", frame(a, b, 2)),
        ("to unknown C", frame(a, c, 3)),
        ("multicast", frame(a, [0x01, 0x00, 0x5e, 0, 0, 1], 4)),
        ("to B again", frame(a, b, 5)),
        ("to B in VLAN 7", frames::push_vlan(&frame(a, b, 6), 7)),
    ];
    let flooded = |name: &str| !name.starts_with("to B") || name.ends_with("VLAN 7");
    let from_d = [("to A", frame(d, a, 7)), ("to B", frame(d, b, 8)), ("broadcast", frame(d, [0xff; 6], 9))];
    pcap::write(&in1, &from_a.iter().map(|(_, f)| f.clone()).collect::<Vec<_>>());
    pcap::write(&in4, &from_d.iter().map(|(_, f)| f.clone()).collect::<Vec<_>>());
    let config = SwitchConfig::new(&dir)
        .port(PortSpec::pcap_tx("p2", 2, 2, &out2))
        .port(PortSpec::pcap_tx("p3", 3, 3, &out3))
        .flow("actions=NORMAL");
    let switch = Vswitchd::start(&dir, &config);
    switch.vsctl_ok(&["fdb-add", "br0", "p2", "0", "02:00:00:00:00:0b"]);

    let devargs = format!("devargs=net_pcap1,rx_pcap={},tx_pcap={}", in1.display(), out1.display());
    switch.add_port("p1", &["type=dpdk", &devargs, "ofport=1"]);
    let n3 = from_a.iter().filter(|(name, _)| flooded(name)).count() as u64;
    switch.wait_for_counters(REPLAY_LIMIT, "p1's frames to reach p2 and p3", |s| {
        s.port("p1").rx_packets >= from_a.len() as u64
            && s.port("p2").tx_packets >= from_a.len() as u64
            && s.port("p3").tx_packets >= n3
    });

    // A is learned on p1 once the management thread applied what the PMD saw.
    let learned = wait::poll(Duration::from_secs(5), || {
        let trace = switch.vsctl_ok(&["trace", "br0", "in_port=3,dl_src=02:00:00:00:00:0d,dl_dst=02:00:00:00:00:0a"]);
        trace.contains("Datapath actions: 1\n").then_some(trace)
    });
    assert!(
        learned.is_some(),
        "A was not learned on p1: {}",
        switch.vsctl_ok(&["trace", "br0", "in_port=3,dl_dst=02:00:00:00:00:0a"])
    );

    let devargs = format!("devargs=net_pcap4,rx_pcap={}", in4.display());
    switch.add_port("p4", &["type=dpdk", &devargs, "ofport=4"]);
    let n = from_a.len() as u64 + from_d.len() as u64;
    let stats = switch.wait_for_counters(REPLAY_LIMIT, "p4's frames to be forwarded", |s| {
        s.port("p4").rx_packets >= from_d.len() as u64
            && s.port("p1").tx_packets >= 2
            && s.port("p2").tx_packets >= n - 1
    });
    std::thread::sleep(QUIET);
    let later = switch.port_stats();
    for port in ["p1", "p2", "p3"] {
        assert_eq!(later.port(port).tx_packets, stats.port(port).tx_packets, "{port} sent more after the replay");
        assert_eq!(later.port(port).all_drops(), 0, "{:?}", later.port(port));
    }
    switch.stop();

    let pick = |list: &[(&str, Vec<u8>)], keep: &dyn Fn(&str) -> bool| -> Vec<Vec<u8>> {
        list.iter().filter(|(name, _)| keep(name)).map(|(_, f)| f.clone()).collect()
    };
    let mut expected2 = pick(&from_a, &|_| true);
    expected2.extend(pick(&from_d, &|name| name != "to A"));
    let mut expected3 = pick(&from_a, &flooded);
    expected3.extend(pick(&from_d, &|name| name == "broadcast"));
    let expected1 = pick(&from_d, &|name| name != "to B");
    assert_same_frames(&expected1, &pcap::read(&out1), "out1.pcap (p1: only D's frames to A and broadcast)");
    assert_same_frames(&expected2, &pcap::read(&out2), "out2.pcap (p2)");
    assert_same_frames(&expected3, &pcap::read(&out3), "out3.pcap (p3: floods only)");
}

// ---------------------------------------------------------------------------
// (f) trains of one flow: header repeats
// ---------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
struct PmdStatsReply {
    pmds: Vec<PmdCacheStats>,
}

#[derive(Debug, Deserialize)]
struct PmdCacheStats {
    packets: u64,
    repeat_hits: u64,
    emc_hits: u64,
    megaflow_hits: u64,
    upcalls: u64,
}

/// What `mod_tp_dst:8080` makes of a TCP frame: the port, and the TCP
/// checksum recomputed from scratch.
fn expected_port_rewrite(frame: &[u8]) -> Vec<u8> {
    let layout = frames::ipv4_layout(frame).expect("an IPv4 frame");
    let mut out = frame.to_vec();
    let (l3, l4) = (layout.l3, layout.l4());
    out[l4 + 2..l4 + 4].copy_from_slice(&8080u16.to_be_bytes());
    out[l4 + 16..l4 + 18].copy_from_slice(&[0, 0]);
    let src = [out[l3 + 12], out[l3 + 13], out[l3 + 14], out[l3 + 15]];
    let dst = [out[l3 + 16], out[l3 + 17], out[l3 + 18], out[l3 + 19]];
    let sum = frames::l4_checksum(src, dst, frames::IPPROTO_TCP, &out[l4..layout.end()]);
    out[l4 + 16..l4 + 18].copy_from_slice(&sum.to_be_bytes());
    out
}

/// (f) `priority=10,tcp,in_port=1,actions=mod_tp_dst:8080,output:2`: trains
/// of TCP segments of one flow whose IP IDs, sequence numbers, checksums and
/// payloads change from packet to packet (what a real sender does), so the
/// PMD takes the train's first classification for the rest (REPEATS), and
/// between them "twins" with the same first bytes but cut 4 bytes short, so
/// their IP total length no longer fits and they must not be taken for
/// repeats: they match nothing but the drop rule. Every frame of a train is
/// rewritten on its own (port and checksum, byte for byte); the twins are
/// counted as action drops; the PMD's cache levels add up to its packets.
#[test]
fn trains_of_one_flow_are_classified_once_and_rewritten_each() {
    let dir = TestDir::new("pipeline_trains");
    let (input, out2) = (dir.join("in.pcap"), dir.join("out2.pcap"));
    let (mut frames_in, mut expected, mut twins) = (Vec::new(), Vec::new(), 0u64);
    for train in 0..24u16 {
        let length = 40 + usize::from(train % 5) * 100;
        for k in 0..12u16 {
            let ip = Ipv4 {
                id: train * 100 + k,
                ttl: 64,
                ..Ipv4::new([10, 1, 0, u8::try_from(train).unwrap()], [10, 2, 0, 1])
            };
            let payload: Vec<u8> =
                (0..u16::try_from(length).unwrap()).map(|b| ((b * 31 + k * 7 + train) & 0xff) as u8).collect();
            let segment = frames::tcp_segment(&ip, 3000 + train, 80, u32::from(k) * 1460, &payload);
            let frame = frames::ethernet(
                mac(u8::try_from(train).unwrap()),
                mac(200),
                frames::ETH_TYPE_IPV4,
                &frames::ipv4_packet(&ip, frames::IPPROTO_TCP, &segment),
            );
            expected.push(expected_port_rewrite(&frame));
            if k % 5 == 4 {
                frames_in.push(frame[..frame.len() - 4].to_vec());
                twins += 1;
            }
            frames_in.push(frame);
        }
    }
    pcap::write(&input, &frames_in);
    let config = SwitchConfig::new(&dir)
        .port(PortSpec::pcap_rx("p1", 1, 0, &input))
        .port(PortSpec::pcap_tx("p2", 2, 1, &out2))
        .flow("priority=10,tcp,in_port=1,actions=mod_tp_dst:8080,output:2")
        .flow("priority=0,actions=drop");
    let switch = Vswitchd::start(&dir, &config);
    let n_in = frames_in.len() as u64;
    let stats = wait_replayed(&switch, n_in, |s| s.port("p2").tx_packets >= expected.len() as u64);
    let pmds: PmdStatsReply = switch.json(&["pmd-stats"]);
    switch.stop();

    let (p1, p2) = (stats.port("p1"), stats.port("p2"));
    assert_eq!(p2.tx_packets, expected.len() as u64, "p2: {p2:?}");
    assert_eq!(p1.dropped("action_drop"), twins, "the short twins are dropped: {p1:?}");
    assert_eq!(p1.all_drops(), twins, "p1: {p1:?}");
    let out = pcap::read(&out2);
    for (index, frame) in out.iter().enumerate() {
        frames::verify_checksums(frame).unwrap_or_else(|e| panic!("out2.pcap frame {index}: {e}"));
    }
    assert_same_frames(&expected, &out, "out2.pcap (p2)");
    let pmd = &pmds.pmds[0];
    assert_eq!(pmd.packets, n_in, "{pmd:?}");
    assert_eq!(pmd.repeat_hits + pmd.emc_hits + pmd.megaflow_hits + pmd.upcalls, pmd.packets, "{pmd:?}");
    assert!(pmd.repeat_hits >= n_in / 2, "trains are repeats: {pmd:?}");
}
