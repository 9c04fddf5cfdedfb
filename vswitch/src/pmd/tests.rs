//! The burst stages on `TestBurst` without DPDK: a bridge's tables, a `Forwarder` whose outputs
//! are recorded, and bursts of real frames; every packet must leave or be counted as a drop.
use std::ops::Range;
use std::sync::Arc;

use crossbeam::channel::{self, Receiver};

use super::burst::Forwarder;
use super::execute::Execution;
use super::meters::PmdMeters;
use super::output::PortOutputs;
use super::packet_in::{PacketInEvent, PacketInQueue};
use super::stats::{DropReason, PmdCounter, PmdCounters};
use super::upcall::SideEffect;
use crate::config::PacketInLimit;
use crate::datapath::{BridgeDp, Datapath};
use crate::flow::parse_add_flow;
use crate::packet::proto::{ethertype, ip_proto};
use crate::packet::tests::builder::{arp, ethernet, udp, Ipv4};
use crate::packet::{PacketBuf, PacketBurst, TestBuf, TestBurst};
use crate::pipeline::table::{FlowModFlags, FlowTables};
use crate::pipeline::xlate::{BridgePort, MacPort, MacTable, PacketInOrigin};
use crate::revalidate::VersionChanges;
use crate::tunnel::ResolvedNeighbour;

/// The origin of a packet held for `nexthop` of underlay bridge 1 by tunnel port 40 (datapath
/// port), with no tunnel fields taken from the flow.
fn held_by_port_40(nexthop: std::net::IpAddr) -> PacketInOrigin {
    let unspecified = std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED);
    let tunnel = crate::pipeline::xlate::tunnel::HeldTunnelFields {
        src: unspecified,
        dst: unspecified,
        flags: 0,
        gbp: (0, 0),
        metadata: [0; crate::flow::tun_metadata::AREA_BYTES],
    };
    PacketInOrigin::TunnelHold { port: 40, underlay: 1, nexthop, tunnel }
}

/// The DPDK port packets come in on (ofport 1 is DPDK port 1, and so on).
const IN_PORT: u16 = 1;

/// Records what the stages send, by port; knows the ports in `ports` only.
#[derive(Default)]
struct TestPorts {
    ports: Vec<u16>,
    sent: Vec<(u16, TestBuf)>,
    /// The ranges `output_run` was called with.
    runs: Vec<(u16, Range<usize>)>,
}

impl PortOutputs for TestPorts {
    type Burst = TestBurst;

    fn has_port(&self, port: u16) -> bool {
        self.ports.contains(&port)
    }

    fn output(&mut self, counters: &mut PmdCounters, port: u16, packet: TestBuf) {
        counters.port_tx(port, 1);
        self.sent.push((port, packet));
    }

    fn output_run(&mut self, counters: &mut PmdCounters, port: u16, burst: &mut TestBurst, range: Range<usize>) {
        self.runs.push((port, range.clone()));
        for i in range {
            if let Some(packet) = burst.take(i) {
                self.output(counters, port, packet);
            }
        }
    }
}

struct Harness {
    forwarder: Forwarder<TestPorts>,
    datapath: Datapath,
    side_effects: Receiver<SideEffect>,
    packet_ins: Receiver<PacketInEvent>,
    now_ms: u64,
}

/// A bridge with ports 1..=`bridge_ports` and `flows`; the PMD can transmit on `pmd_ports`.
fn harness(flows: &[&str], bridge_ports: u16, pmd_ports: &[u16]) -> Harness {
    let mut tables = FlowTables::new();
    for flow in flows {
        tables.add(parse_add_flow(flow).unwrap(), FlowModFlags::default(), 0).unwrap();
    }
    let ports = (1..=bridge_ports).map(|port| BridgePort::trunk(u32::from(port), port)).collect();
    let bridge = BridgeDp {
        name: "br0".into(),
        tables: tables.snapshot(),
        ports,
        macs: Arc::new(MacTable::new()),
        packet_in_limit: PacketInLimit::default(),
        meters: Vec::new(),
        miss_to_controller: false,
        ..BridgeDp::default()
    };
    let datapath = Datapath {
        version: 1,
        pmd_rxqs: Vec::new(),
        bridges: vec![Arc::new(bridge)],
        changes: VersionChanges::default(),
        routes: Arc::default(),
        vteps: Arc::default(),
    };
    let (packet_ins_tx, packet_ins) = channel::bounded(64);
    let mut queue = PacketInQueue::new(packet_ins_tx, 1_000_000);
    queue.follow(&datapath, 0);
    let mut meters = PmdMeters::new(1_000_000);
    meters.follow(&datapath, 0);
    let exec = Execution {
        ports: TestPorts { ports: pmd_ports.to_vec(), ..TestPorts::default() },
        local_meta: Arc::new(crate::pipeline::xlate::PacketInMeta::local_port()),
        counters: PmdCounters::default(),
        packet_ins: queue,
        meters,
        pmd: 0,
    };
    let (side_effects_tx, side_effects) = channel::bounded(64);
    Harness { forwarder: Forwarder::new(exec, side_effects_tx), datapath, side_effects, packet_ins, now_ms: 1 }
}

impl Harness {
    /// Forwards `frames` as one burst from `IN_PORT`; returns the burst (what stayed in it).
    fn forward(&mut self, frames: &[Vec<u8>]) -> TestBurst {
        let frames: Vec<&[u8]> = frames.iter().map(Vec::as_slice).collect();
        let mut burst = TestBurst::of(&frames);
        self.now_ms += 1;
        self.forwarder.forward_burst(&self.datapath, 0, IN_PORT, None, &mut burst, self.now_ms);
        burst
    }

    fn counter(&self, counter: PmdCounter) -> u64 {
        self.forwarder.exec.counters.get(counter)
    }

    fn drops(&self, reason: DropReason) -> u64 {
        self.forwarder.exec.counters.port_drops(IN_PORT, reason)
    }

    fn total_drops(&self) -> u64 {
        DropReason::ALL.iter().map(|&reason| self.drops(reason)).sum()
    }

    /// The UDP source ports of what went to `port`, in order.
    fn sent_to(&self, port: u16) -> Vec<u16> {
        self.forwarder.exec.ports.sent.iter().filter(|(p, _)| *p == port).map(|(_, packet)| udp_src(packet)).collect()
    }

    fn take_sent(&mut self) -> Vec<(u16, TestBuf)> {
        std::mem::take(&mut self.forwarder.exec.ports.sent)
    }
}

/// A UDP frame with source port `src` (its flow), TTL `ttl`.
fn udp_ttl(src: u16, ttl: u8) -> Vec<u8> {
    let ip = Ipv4 { ttl, ..Ipv4::new(ip_proto::UDP) };
    ethernet(&[], ethertype::IPV4, &ip.build(&udp(src, 53, b"payload")))
}

fn udp_frame(src: u16) -> Vec<u8> {
    udp_ttl(src, 64)
}

fn udp_src(packet: &TestBuf) -> u16 {
    let data = packet.data();
    u16::from_be_bytes([data[34], data[35]])
}

#[test]
fn misses_are_upcalled_once_per_megaflow_then_hit() {
    let mut h = harness(&["in_port=1,udp,tp_src=100,actions=output:2", "in_port=1,actions=output:3"], 3, &[2, 3]);
    h.forward(&[udp_frame(100), udp_frame(200), udp_frame(100), udp_frame(200)]);
    assert_eq!(h.sent_to(2), [100, 100]);
    assert_eq!(h.sent_to(3), [200, 200]);
    assert_eq!(h.counter(PmdCounter::Upcalls), 2, "the third and fourth packet find the megaflows just installed");
    assert_eq!(h.counter(PmdCounter::MegaflowHits), 2);
    h.take_sent();
    h.forward(&[udp_frame(200), udp_frame(100), udp_frame(200)]);
    assert_eq!(h.counter(PmdCounter::Upcalls), 2, "no upcall for known megaflows");
    assert_eq!(h.counter(PmdCounter::MegaflowHits), 5);
    assert_eq!(h.sent_to(2), [100]);
    assert_eq!(h.sent_to(3), [200, 200]);
    assert_eq!(h.total_drops(), 0);
}

/// `frame` (an Ethernet frame) with the label stack entries `stack` pushed after its addresses
/// (ethertype 0x8847).
fn labelled(frame: &[u8], stack: &[u32]) -> Vec<u8> {
    let mut out = frame[..12].to_vec();
    out.extend_from_slice(&ethertype::MPLS.to_be_bytes());
    out.extend(stack.iter().flat_map(|lse| lse.to_be_bytes()));
    out.extend_from_slice(&frame[14..]);
    out
}

#[test]
fn mpls_frames_are_cached_pushed_popped_and_matched_under_the_stack_in_one_pass() {
    use crate::flow::key::mpls;
    let mut h = harness(
        &[
            "in_port=1,udp,tp_src=100,actions=push_mpls:0x8847,set_field:77->mpls_label,output:2",
            "in_port=1,mpls,mpls_label=5,actions=pop_mpls:0x0800,goto_table:1",
            "in_port=1,mpls,mpls_label=6,actions=dec_mpls_ttl,output:2",
            "table=1,udp,tp_src=200,actions=output:3",
            "table=1,priority=0,actions=output:2",
        ],
        3,
        &[2, 3],
    );
    // A push: the entry after the addresses, TTL from the IP header.
    h.forward(&[udp_frame(100), udp_frame(100)]);
    let sent = h.take_sent();
    // TC 6: the low bits of the DSCP (46), as Open vSwitch takes them.
    let expected = labelled(&udp_frame(100), &[mpls::lse(77, 6, true, 64)]);
    assert!(sent.iter().all(|(port, packet)| *port == 2 && packet.data() == expected.as_slice()), "{sent:?}");
    assert_eq!(h.counter(PmdCounter::Upcalls), 1, "the second packet hits the megaflow");
    // A pop and a match on the UDP header under the stack: one megaflow per inner flow, no
    // second pass.
    let popped = |src| labelled(&udp_frame(src), &[mpls::lse(5, 0, true, 9)]);
    h.forward(&[popped(200), popped(300), popped(200), popped(300)]);
    assert_eq!(h.counter(PmdCounter::Upcalls), 3, "one upcall per inner flow that decides");
    assert_eq!(h.sent_to(3), [200, 200]);
    assert_eq!(h.sent_to(2), [300, 300]);
    let sent = h.take_sent();
    assert!(sent.iter().all(|(_, packet)| packet.data()[12..14] == [0x08, 0x00]), "popped to IPv4");
    // (Padded with zeros to the length it had, short of the Ethernet minimum.)
    let mut expected = udp_frame(200);
    expected.resize(popped(200).len(), 0);
    assert_eq!(sent[0].1.data(), expected.as_slice());
    // dec_mpls_ttl: decremented, or expired and counted (no controller asks for invalid_ttl).
    let ttl = |ttl| labelled(&udp_frame(1), &[mpls::lse(6, 0, true, ttl)]);
    h.forward(&[ttl(9), ttl(1)]);
    let sent = h.take_sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].1.data(), ttl(8).as_slice(), "a rewrite in place keeps the length");
    assert_eq!(h.drops(DropReason::TtlExpired), 1);
    // A stack deeper than the key: dropped on pop, with its own reason.
    let deep =
        labelled(&udp_frame(1), &[mpls::lse(5, 0, false, 9), mpls::lse(1, 0, false, 9), mpls::lse(2, 0, false, 9)]);
    h.forward(&[deep]);
    assert_eq!(h.drops(DropReason::MplsTooDeep), 1);
}

#[test]
fn a_megaflow_installed_in_a_burst_serves_the_burst_s_later_misses() {
    // One rule for every UDP packet: one megaflow for all of them, however many flows.
    let mut h = harness(&["in_port=1,udp,actions=output:2"], 2, &[2]);
    let frames: Vec<Vec<u8>> = (0..8).map(|i| udp_frame(1000 + i)).collect();
    h.forward(&frames);
    assert_eq!(h.counter(PmdCounter::Upcalls), 1);
    assert_eq!(h.counter(PmdCounter::MegaflowHits), 7);
    assert_eq!(h.sent_to(2), (1000..1008).collect::<Vec<_>>());
}

#[test]
fn a_train_of_one_flow_is_one_run() {
    let mut h = harness(&["in_port=1,actions=output:2"], 2, &[2]);
    let frames: Vec<Vec<u8>> = (0..32).map(|_| udp_frame(7)).collect();
    h.forward(&frames);
    assert_eq!(h.counter(PmdCounter::Upcalls), 1);
    assert_eq!(h.counter(PmdCounter::RepeatHits), 31, "the train's packets repeat its first one");
    h.forward(&frames);
    assert_eq!(h.counter(PmdCounter::Upcalls), 1);
    assert_eq!(h.forwarder.exec.ports.runs, [(2, 0..32), (2, 0..32)], "one output of the whole burst, each time");
    assert_eq!(h.sent_to(2).len(), 64);
    let megaflow = h.forwarder.caches.megaflows.iter().next().unwrap();
    assert_eq!(megaflow.stats.packets, 64);
}

#[test]
fn every_drop_is_counted_on_the_input_port_by_reason() {
    let mut h = harness(
        &[
            "in_port=1,udp,tp_src=1,actions=drop",
            "in_port=1,udp,tp_src=2,actions=output:9",
            "in_port=1,udp,tp_src=3,actions=dec_ttl,output:2",
            "in_port=1,udp,tp_src=4,actions=output:2",
        ],
        9,
        &[2],
    );
    let runt = vec![0u8; 13];
    let frames = vec![
        udp_frame(4),
        udp_frame(1),
        runt.clone(),
        udp_frame(2),
        udp_ttl(3, 1),
        udp_frame(5),
        udp_frame(4),
        runt,
        udp_frame(4),
    ];
    let burst = h.forward(&frames);
    assert_eq!(h.drops(DropReason::ActionDrop), 1);
    assert_eq!(h.drops(DropReason::NoSuchPort), 1, "port 9 is in the bridge but this PMD cannot send on it");
    assert_eq!(h.drops(DropReason::TtlExpired), 1);
    assert_eq!(h.drops(DropReason::TableMiss), 1);
    assert_eq!(h.drops(DropReason::RxInvalidPacket), 2, "frames shorter than an Ethernet header");
    assert_eq!(h.sent_to(2), [4, 4, 4]);
    assert_eq!(h.forwarder.exec.ports.runs, [(2, 0..1), (2, 6..7), (2, 8..9)], "a runt splits a run");
    assert_eq!(h.total_drops() + 3, frames.len() as u64);
    assert_eq!(
        burst.left(),
        3,
        "the dropped packets are freed with the burst, but the runts and the expired TTL's (its actions, a packet-in \
         nobody asked for, took it)"
    );
}

#[test]
fn an_upcall_that_evicts_a_megaflow_of_the_burst_loses_no_packet() {
    let mut h = harness(&["in_port=1,udp,tp_src=1,actions=output:2", "in_port=1,actions=output:3"], 3, &[2, 3]);
    h.forward(&[udp_frame(1)]);
    assert_eq!(h.forwarder.caches.megaflows.set_limit(1), 0);
    // Packet 1 hits the installed megaflow; the upcall of packet 2 installs a second one, over
    // the limit of 1: the first must stay until packet 1 ran.
    h.forward(&[udp_frame(1), udp_frame(2)]);
    assert_eq!(h.sent_to(2), [1, 1]);
    assert_eq!(h.sent_to(3), [2]);
    assert_eq!(h.total_drops(), 0);
    assert_eq!(h.forwarder.caches.megaflows.len(), 1, "evicted down to the limit after the burst");
    assert_eq!(h.forwarder.caches.megaflows.stats().evictions, 1);
}

#[test]
fn an_output_before_a_rewrite_keeps_the_packet_as_it_was() {
    let mut h = harness(&["in_port=1,actions=output:2,mod_tp_src:99,output:3,output:2"], 3, &[2, 3]);
    h.forward(&[udp_frame(5)]);
    let sent = h.take_sent();
    let ports_and_sources: Vec<(u16, u16)> = sent.iter().map(|(port, packet)| (*port, udp_src(packet))).collect();
    assert_eq!(ports_and_sources, [(2, 5), (3, 99), (2, 99)]);
    // The last two outputs share one buffer (nothing changes it after the first of them); the
    // first has a copy of its own.
    assert!(!sent[0].1.is_shared() && sent[1].1.is_shared() && sent[2].1.is_shared());
    assert_eq!(h.total_drops(), 0);
}

#[test]
fn a_packet_in_after_an_output_still_goes_to_the_controller() {
    let mut h = harness(&["in_port=1,actions=output:2,controller"], 2, &[2]);
    h.forward(&[udp_frame(5)]);
    assert_eq!(h.sent_to(2), [5]);
    let event = h.packet_ins.try_recv().expect("a packet-in");
    assert_eq!(event.data, udp_frame(5));
    assert_eq!(h.counter(PmdCounter::PacketIns), 1);
    assert_eq!(h.total_drops(), 0);
}

#[test]
fn a_packet_in_carries_the_whole_packet_whatever_its_max_len() {
    // Each connection cuts it to what its version sends (1.0: nothing, 1.3: max_len).
    let mut h = harness(&["in_port=1,actions=controller:20"], 2, &[2]);
    h.forward(&[udp_frame(5)]);
    let event = h.packet_ins.try_recv().expect("a packet-in");
    assert_eq!((event.data, event.meta.max_len), (udp_frame(5), 20));
}

/// `h`'s bridge with port 2 made a VXLAN port to 172.31.1.2 over a second bridge, "br-phy"
/// (address 172.31.1.1/24, LOCAL datapath port 41, NORMAL, port 3 its uplink), whose neighbour
/// cache has `neighbours`; the packet-in limit of the first bridge is `limit`.
fn with_tunnel(h: &mut Harness, neighbours: &[(&str, [u8; 6])], limit: PacketInLimit) {
    use crate::tunnel::port::TunnelConfig;
    use crate::tunnel::route::{Prefix, Route, RouteOrigin, RouteTable};
    use crate::tunnel::TunnelKind;
    let options = [("remote_ip".to_string(), "172.31.1.2".to_string()), ("key".to_string(), "1000".to_string())];
    let tunnel = TunnelConfig::from_options(TunnelKind::Vxlan, &options.into_iter().collect()).unwrap();
    let mut overlay = BridgeDp { name: "br-int".into(), ..BridgeDp::default() };
    let first = &h.datapath.bridges[0];
    overlay.tables = first.tables.clone();
    overlay.ports = first.ports.clone();
    overlay.ports[1].dp_port = 40;
    overlay.ports[1].tunnel = Some(Arc::new(tunnel));
    overlay.packet_in_limit = limit;
    let mut tables = FlowTables::new();
    tables.add(parse_add_flow("actions=NORMAL").unwrap(), FlowModFlags::default(), 0).unwrap();
    let port = BridgePort::trunk;
    let underlay = BridgeDp {
        name: "br-phy".into(),
        tables: tables.snapshot(),
        ports: vec![port(3, 3), port(crate::flow::OfPort::LOCAL.0, 41)],
        mac: [2, 0, 0, 0, 0xaa, 1],
        addresses: vec!["172.31.1.1".parse().unwrap()],
        local_dp: Some(41),
        neighbours: Arc::new(
            neighbours.iter().map(|(ip, mac)| (ip.parse().unwrap(), ResolvedNeighbour::new(*mac))).collect(),
        ),
        ..BridgeDp::default()
    };
    let mut routes = RouteTable::new();
    routes
        .insert(Route {
            prefix: Prefix::parse("172.31.1.0/24").unwrap(),
            bridge: "br-phy".into(),
            gateway: None,
            source: Some("172.31.1.1".parse().unwrap()),
            origin: RouteOrigin::Connected,
        })
        .unwrap();
    h.datapath.bridges = vec![Arc::new(overlay), Arc::new(underlay)];
    h.datapath.routes = Arc::new(routes);
    h.forwarder.exec.packet_ins.follow(&h.datapath, 0);
}

#[test]
fn packets_for_an_unresolved_tunnel_next_hop_go_to_the_management_thread_to_wait() {
    let mut h = harness(&["in_port=1,ip,actions=set_field:10.9.9.9->nw_dst,output:2"], 2, &[3]);
    with_tunnel(&mut h, &[], PacketInLimit::default());
    h.forward(&[udp_frame(5), udp_frame(6), udp_frame(7)]);
    assert_eq!(h.counter(PmdCounter::TunnelHeld), 3);
    assert_eq!(h.total_drops(), 0, "held, not dropped");
    assert!(h.sent_to(3).is_empty());
    let nexthop = "172.31.1.2".parse().unwrap();
    for src in [5, 6, 7] {
        let event = h.packet_ins.try_recv().expect("a held packet");
        assert_eq!(event.bridge, 0);
        assert_eq!(event.meta.origin, held_by_port_40(nexthop));
        assert_eq!(event.meta.in_port, 1);
        // As the actions before the tunnel output left it (checksum updated).
        let expected = udp_frame(src);
        assert_eq!((&event.data[..24], &event.data[26..30]), (&expected[..24], &expected[26..30]));
        assert_eq!(&event.data[30..34], &[10, 9, 9, 9]);
        assert_ne!(&event.data[24..26], &expected[24..26]);
    }
    // The upcall asked for the next hop too (a backstop: the held packet asks as well).
    assert!(h
        .side_effects
        .try_iter()
        .any(|e| matches!(e, SideEffect::ResolveNeighbour { bridge: 1, nexthop: n } if n == nexthop)));

    // Once resolved (a new version), the tunnel sends.
    let mut h = harness(&["in_port=1,actions=output:2"], 2, &[3]);
    with_tunnel(&mut h, &[("172.31.1.2", [2, 0, 0, 0, 0, 0xfe])], PacketInLimit::default());
    h.forward(&[udp_frame(5)]);
    let sent = h.take_sent();
    assert_eq!((sent.len(), h.counter(PmdCounter::TunnelHeld)), (1, 0));
    assert_eq!(sent[0].0, 3);
    assert_eq!(&sent[0].1.data()[..6], &[2, 0, 0, 0, 0, 0xfe], "to the next hop's MAC");
}

#[test]
fn a_packet_held_behind_a_patch_port_names_the_tunnel_port_and_its_bridge_s_in_port() {
    use crate::pipeline::xlate::PatchPeer;
    let mut h = harness(&["in_port=1,actions=output:2"], 2, &[3]);
    with_tunnel(&mut h, &[], PacketInLimit::default());
    // A third bridge whose port 2 is patched to port 1 of the tunnel's bridge.
    let overlay = &h.datapath.bridges[0];
    let mut front = BridgeDp {
        name: "br-front".into(),
        tables: overlay.tables.clone(),
        ports: overlay.ports.clone(),
        ..BridgeDp::default()
    };
    front.ports[0].dp_port = 5;
    front.ports[1].tunnel = None;
    front.ports[1].dp_port = 6;
    front.ports[1].patch = Some(PatchPeer { bridge: 0, dp_port: 1 });
    h.datapath.bridges.push(Arc::new(front));
    h.forwarder.exec.packet_ins.follow(&h.datapath, 0);
    let mut burst = TestBurst::of(&[udp_frame(5).as_slice()]);
    h.forwarder.forward_burst(&h.datapath, 2, 5, None, &mut burst, 2);
    let event = h.packet_ins.try_recv().expect("a held packet");
    let nexthop = "172.31.1.2".parse().unwrap();
    assert_eq!(event.bridge, 2, "the packet-in limit of the bridge it came in on");
    assert_eq!(event.meta.origin, held_by_port_40(nexthop));
    assert_eq!(event.meta.in_port, 1, "where it came into the tunnel port's bridge");
}

#[test]
fn held_packets_are_bounded_by_the_packet_in_limit() {
    let mut h = harness(&["in_port=1,actions=output:2"], 2, &[3]);
    with_tunnel(&mut h, &[], PacketInLimit { rate: 1, burst: 2 });
    let frames: Vec<Vec<u8>> = (0..10).map(udp_frame).collect();
    h.forward(&frames);
    // (The bucket refills with the TSC, which runs fast against the harness's 1 MHz: a few
    // more than the burst may pass.)
    let held = h.counter(PmdCounter::TunnelHeld);
    assert!((2..10).contains(&held), "{held} held");
    assert_eq!(h.drops(DropReason::TunnelNeighbourUnresolved), 10 - held, "each packet held or counted");
    assert_eq!(h.total_drops(), 10 - held);
    assert_eq!(h.packet_ins.try_iter().count() as u64, held);
}

#[test]
fn held_packets_leave_the_controllers_packet_ins_alone() {
    let flows = ["priority=20,in_port=1,udp,tp_src=100,actions=controller", "priority=10,in_port=1,actions=output:2"];
    let mut h = harness(&flows, 2, &[3]);
    with_tunnel(&mut h, &[], PacketInLimit { rate: 1, burst: 2 });
    let mut frames: Vec<Vec<u8>> = (0..10).map(udp_frame).collect();
    frames.push(udp_frame(100));
    h.forward(&frames);
    assert!(h.counter(PmdCounter::TunnelHeld) < 10);
    assert_eq!(h.counter(PmdCounter::PacketIns), 1, "its own bucket still had a token");
    assert_eq!(h.drops(DropReason::PacketInLimit), 0);
}

#[test]
fn rarp_addresses_are_rewritten_like_arp_s() {
    let mut h = harness(&["in_port=1,dl_type=0x8035,actions=set_field:10.0.0.9->arp_spa,output:2"], 2, &[2]);
    let rarp = ethernet(&[], ethertype::RARP, &arp(3, [2; 6], [10, 0, 0, 1], [4; 6], [10, 0, 0, 2]));
    h.forward(&[rarp]);
    assert_eq!(h.total_drops(), 0, "no rewrite_failed");
    let sent = h.take_sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(&sent[0].1.data()[28..32], &[10, 0, 0, 9]);
}

#[test]
fn what_nothing_decides_is_a_table_miss_and_learning_goes_to_the_management_thread() {
    let mut h = harness(
        &["in_port=1,udp,actions=learn(table=1,eth_type=0x800,nw_proto=17,NXM_OF_UDP_SRC[]),output:2"],
        2,
        &[2],
    );
    h.forward(&[udp_frame(5)]);
    assert_eq!(h.sent_to(2), [5]);
    match h.side_effects.try_recv() {
        Ok(SideEffect::LearnedRule { bridge: 0, .. }) => {}
        other => panic!("expected a learned rule, got {other:?}"),
    }
    let mut empty = harness(&[], 2, &[2]);
    empty.forward(&[udp_frame(5), udp_frame(6)]);
    assert_eq!(empty.drops(DropReason::TableMiss), 2);
    assert_eq!(empty.counter(PmdCounter::Upcalls), 1, "one megaflow for every miss");
}

#[test]
fn the_background_report_refreshes_what_a_cached_megaflow_keeps_alive() {
    let mut h = harness(
        &["in_port=1,udp,actions=learn(table=1,hard_timeout=5,eth_type=0x800,nw_proto=17,NXM_OF_UDP_SRC[]),NORMAL"],
        2,
        &[2],
    );
    // NORMAL knows the frames' source on the input port (the version's MAC entry and its cell).
    let frame = udp_frame(5);
    let src: [u8; 6] = frame[6..12].try_into().unwrap();
    let source = MacPort::new(u32::from(IN_PORT), 0);
    let mut bridge =
        BridgeDp { macs: Arc::new([((0, src), source.clone())].into_iter().collect()), ..BridgeDp::default() };
    let first = &h.datapath.bridges[0];
    (bridge.name, bridge.tables, bridge.ports) = (first.name.clone(), first.tables.clone(), first.ports.clone());
    h.datapath.bridges[0] = Arc::new(bridge);
    h.forward(std::slice::from_ref(&frame));
    let learned_rule = match h.side_effects.try_recv() {
        Ok(SideEffect::LearnedRule { refreshed_by: Some(cell), .. }) => cell,
        other => panic!("expected a learned rule with its cell, got {other:?}"),
    };
    assert!(h.side_effects.try_recv().is_err(), "a known source is not learned again");
    // Cached: more packets, no upcall, and the packet path leaves the cells alone.
    for _ in 0..3 {
        h.forward(std::slice::from_ref(&frame));
    }
    assert_eq!(h.counter(PmdCounter::Upcalls), 1);
    assert_eq!((learned_rule.get(), source.last_seen.get()), (0, 0));
    // The report hands the megaflow's last use to both.
    let last_used = h.now_ms;
    h.forwarder.caches.megaflows.report_some(64);
    assert_eq!((learned_rule.get(), source.last_seen.get()), (last_used, last_used));
    // No packets since: a report refreshes nothing.
    h.now_ms += 1000;
    h.forwarder.caches.megaflows.report_some(64);
    assert_eq!((learned_rule.get(), source.last_seen.get()), (last_used, last_used));
    h.forward(std::slice::from_ref(&frame));
    h.forwarder.caches.megaflows.report_some(64);
    assert_eq!((learned_rule.get(), source.last_seen.get()), (h.now_ms, h.now_ms));
}

/// The randomized proof of targeted revalidation: rules (several tables, goto_table, resubmit,
/// metadata and registers, overlapping masks, priorities), MAC entries, groups and ports change
/// between bursts, each change published as a datapath version that the forwarder takes
/// (`Forwarder::take_version`, as a PMD does); after every version each packet must leave on
/// exactly the ports a fresh translation of that version gives it.
mod revalidation {
    use super::*;
    use crate::flow::key::FlowKey;
    use crate::flow::test_random::XorShift;
    use crate::flow::{parse_mod_flows, FlowSelector, OfPort};
    use crate::packet::extract;
    use crate::pipeline::group::{Bucket, Group, GroupOp, GroupType, GROUP_ANY};
    use crate::pipeline::table::FlowOp;
    use crate::pipeline::xlate::{translate, DpAction};
    use crate::revalidate::BridgeChanges;

    const MACS: [[u8; 6]; 3] = [[2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2], [2, 0, 0, 0, 0, 3]];
    const BROADCAST: [u8; 6] = [0xff; 6];
    const PORTS: u16 = 4;
    /// The OpenFlow number of the input port (DPDK port `IN_PORT`): not the same number, so
    /// that a mix-up of the two shows.
    const IN_OFPORT: u32 = 5;

    /// The management side: what a `Switch` keeps of a bridge.
    struct World {
        tables: FlowTables,
        ports: Vec<BridgePort>,
        macs: MacTable,
        rules: Vec<crate::flow::FlowRule>,
        rng: XorShift,
    }

    impl World {
        fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
            &items[self.rng.below(items.len())]
        }

        fn random_match(&mut self, table: u8) -> String {
            let mut parts: Vec<String> = Vec::new();
            let l3 = self.rng.below(3);
            match l3 {
                0 => {}
                1 => parts.push("ip".into()),
                _ => parts.push("udp".into()),
            }
            if self.rng.below(3) == 0 {
                parts.push(format!("in_port={}", *self.pick(&[IN_OFPORT, 2])));
            }
            if self.rng.below(3) == 0 {
                let mac = *self.pick(&MACS);
                parts.push(format!("dl_src={}", mac_text(mac)));
            }
            if self.rng.below(3) == 0 {
                let mac = *self.pick(&[MACS[0], MACS[1], MACS[2], BROADCAST]);
                parts.push(format!("dl_dst={}", mac_text(mac)));
            }
            if l3 > 0 {
                match self.rng.below(3) {
                    0 => parts.push(format!("nw_src=10.0.0.{}", self.rng.below(4))),
                    1 => parts.push(format!("nw_src=10.0.0.{}/31", 2 * self.rng.below(2))),
                    _ => {}
                }
            }
            if l3 == 2 && self.rng.below(2) == 0 {
                parts.push(format!("tp_dst={}", 53 + self.rng.below(2)));
            }
            if table > 0 && self.rng.below(2) == 0 {
                parts.push(format!("metadata={}", self.rng.below(3)));
            }
            if table > 0 && self.rng.below(3) == 0 {
                parts.push(format!("reg0={}", self.rng.below(3)));
            }
            parts.join(",")
        }

        fn random_actions(&mut self, table: u8) -> String {
            let choices = if table < 2 { 12 } else { 7 };
            match self.rng.below(choices) {
                0 => format!("output:{}", 2 + self.rng.below(3)),
                1 => "drop".into(),
                2 => "NORMAL".into(),
                3 => format!("group:{}", 1 + self.rng.below(2)),
                4 => "FLOOD".into(),
                5 => "output:2,output:3".into(),
                6 => format!("output:{},output:4", 2 + self.rng.below(2)),
                7 => format!("write_metadata:{},goto_table:{}", self.rng.below(3), table + 1),
                8 => format!("load:{}->NXM_NX_REG0[],resubmit(,2)", self.rng.below(3)),
                // Header rewrites and another in_port before a later lookup.
                9 => format!("mod_nw_src:10.0.0.{},goto_table:{}", self.rng.below(4), table + 1),
                10 => format!("resubmit(2,{})", table + 1),
                _ => format!("goto_table:{}", table + 1),
            }
        }

        fn random_rule_text(&mut self) -> String {
            let table = u8::try_from(self.rng.below(3)).unwrap();
            let matches = self.random_match(table);
            let actions = self.random_actions(table);
            let priority = 1 + self.rng.below(4);
            let sep = if matches.is_empty() { "" } else { "," };
            format!("table={table},priority={priority}{sep}{matches},actions={actions}")
        }

        /// One random change of rules, MAC entries, ports or groups; returns what it was.
        fn change(&mut self) -> String {
            match self.rng.below(10) {
                0..=2 => {
                    let text = self.random_rule_text();
                    let rule = parse_add_flow(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
                    self.tables.add(rule.clone(), FlowModFlags::default(), 0).unwrap();
                    self.rules.push(rule);
                    format!("add {text}")
                }
                3 if !self.rules.is_empty() => {
                    let rule = self.rules.swap_remove(self.rng.below(self.rules.len()));
                    self.tables.apply(vec![FlowOp::Delete(FlowSelector::exactly(&rule))], 0).unwrap();
                    format!("delete {rule}")
                }
                4 if !self.rules.is_empty() => {
                    let rule = self.rules[self.rng.below(self.rules.len())].clone();
                    let actions = self.random_actions(rule.table);
                    let mut modification = parse_mod_flows(&format!("table={},actions={actions}", rule.table), true)
                        .unwrap_or_else(|e| panic!("{actions}: {e}"));
                    modification.selector.priority = rule.priority;
                    modification.selector.matches = rule.matches.clone();
                    self.tables.apply(vec![FlowOp::Modify(modification)], 0).unwrap();
                    format!("modify {rule} -> {actions}")
                }
                5 => {
                    let mac = *self.pick(&MACS);
                    let port = *self.pick(&[IN_OFPORT, 2, 3, 4]);
                    self.macs.insert((0, mac), MacPort::new(port, 0));
                    format!("learn {} on {port}", mac_text(mac))
                }
                6 => {
                    let mac = *self.pick(&MACS);
                    self.macs.remove(&(0, mac));
                    format!("age {}", mac_text(mac))
                }
                7 => {
                    let port = 2 + self.rng.below(3);
                    let live = self.rng.below(2) == 0;
                    self.ports[port - 1].live = live;
                    format!("port {port} live={live}")
                }
                8 => {
                    let port = 2 + self.rng.below(3);
                    let flags = &mut self.ports[port - 1].flags;
                    flags.no_flood = !flags.no_flood;
                    format!("port {port} no_flood={}", flags.no_flood)
                }
                _ => {
                    let id = 1 + u32::try_from(self.rng.below(2)).unwrap();
                    let group = self.random_group(id);
                    let text = format!("{group:?}");
                    self.tables.apply_group_mod(GroupOp::Modify(group), 0).unwrap();
                    format!("group {text}")
                }
            }
        }

        fn random_group(&mut self, id: u32) -> Group {
            let group_type = *self.pick(&[GroupType::All, GroupType::Select, GroupType::FastFailover]);
            let buckets = (0..1 + self.rng.below(2))
                .map(|id| {
                    let port = 2 + u32::try_from(self.rng.below(3)).unwrap();
                    Bucket {
                        id: u32::try_from(id).unwrap(),
                        weight: if group_type == GroupType::Select { 1 } else { 0 },
                        watch_port: if group_type == GroupType::FastFailover { OfPort(port) } else { OfPort::NONE },
                        watch_group: GROUP_ANY,
                        actions: vec![crate::flow::Action::output(OfPort(port))],
                    }
                })
                .collect();
            Group { id, group_type, buckets }
        }

        fn bridge(&mut self) -> Arc<BridgeDp> {
            Arc::new(BridgeDp {
                name: "br0".into(),
                tables: self.tables.snapshot(),
                ports: self.ports.clone(),
                macs: Arc::new(self.macs.clone()),
                packet_in_limit: PacketInLimit::default(),
                meters: Vec::new(),
                miss_to_controller: false,
                ..BridgeDp::default()
            })
        }
    }

    fn mac_text(mac: [u8; 6]) -> String {
        mac.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":")
    }

    /// A UDP frame of the small key space the rules match on; `id` in its payload.
    fn frame(rng: &mut XorShift, id: u16) -> Vec<u8> {
        let ip = Ipv4 { src: [10, 0, 0, u8::try_from(rng.below(4)).unwrap()], ..Ipv4::new(ip_proto::UDP) };
        let dst_port = 53 + u16::try_from(rng.below(2)).unwrap();
        let mut frame = ethernet(&[], ethertype::IPV4, &ip.build(&udp(1000, dst_port, &id.to_be_bytes())));
        let dst = [MACS[0], MACS[1], MACS[2], BROADCAST][rng.below(4)];
        let src = MACS[rng.below(3)];
        frame[..6].copy_from_slice(&dst);
        frame[6..12].copy_from_slice(&src);
        frame
    }

    fn payload_id(packet: &TestBuf) -> u16 {
        let data = packet.data();
        u16::from_be_bytes([data[data.len() - 2], data[data.len() - 1]])
    }

    /// The ports a fresh translation sends the frame to, in order.
    fn expected_ports(bridge: &BridgeDp, frame: &[u8]) -> Vec<u16> {
        let mut key = FlowKey::default();
        extract(frame, u32::from(IN_PORT), &mut key);
        translate(&bridge.view(), &key, false)
            .actions
            .iter()
            .filter_map(|a| match a {
                DpAction::Output(port) => Some(*port),
                _ => None,
            })
            .collect()
    }

    /// Runs `steps` versions of random changes; returns the megaflows kept across versions
    /// (so a run that kept none proves nothing).
    fn run(seed: u64, steps: usize, invalidate: impl Fn(&mut BridgeChanges)) -> u64 {
        let mut h = harness(&[], PORTS, &[1, 2, 3, 4]);
        let mut ports = h.datapath.bridges[0].ports.clone();
        ports[usize::from(IN_PORT) - 1].ofport = IN_OFPORT;
        let mut world =
            World { tables: FlowTables::new(), ports, macs: MacTable::new(), rules: Vec::new(), rng: XorShift(seed) };
        for id in 1..=2 {
            let group = world.random_group(id);
            world.tables.apply_group_mod(GroupOp::Add(group), 0).unwrap();
        }
        world.tables.take_changes();
        let mut current = world.bridge();
        let mut history = Vec::new();
        let mut kept = 0;
        for step in 0..steps {
            let changes: Vec<String> = (0..1 + world.rng.below(3)).map(|_| world.change()).collect();
            let next = world.bridge();
            let mut bridge_changes = BridgeChanges::between(&current.view(), &next.view(), world.tables.take_changes());
            invalidate(&mut bridge_changes);
            let version = h.datapath.version + 1;
            let datapath = Datapath {
                version,
                pmd_rxqs: Vec::new(),
                bridges: vec![Arc::clone(&next)],
                changes: VersionChanges { from_version: h.datapath.version, bridges: vec![bridge_changes] },
                routes: Arc::default(),
                vteps: Arc::default(),
            };
            let before = h.forwarder.caches.megaflows.len() as u64;
            h.forwarder.take_version(h.datapath.version, &datapath);
            kept += (h.forwarder.caches.megaflows.len() as u64).min(before);
            h.datapath = datapath;
            current = next;
            history.push(changes.join("; "));
            while h.side_effects.try_recv().is_ok() {}
            for _ in 0..2 {
                let frames: Vec<Vec<u8>> = (0..32).map(|id| frame(&mut world.rng, id)).collect();
                h.forward(&frames);
                let mut sent: Vec<Vec<u16>> = vec![Vec::new(); frames.len()];
                for (port, packet) in h.take_sent() {
                    sent[usize::from(payload_id(&packet))].push(port);
                }
                for (id, frame) in frames.iter().enumerate() {
                    let expected = expected_ports(&h.datapath.bridges[0], frame);
                    assert_eq!(
                        sent[id],
                        expected,
                        "seed {seed}, step {step}, packet {id}: cached result differs from a fresh \
                         translation; the changes so far:\n{}",
                        history.join("\n")
                    );
                }
            }
        }
        kept
    }

    #[test]
    fn cached_results_always_equal_a_fresh_translation() {
        for seed in 1..=8 {
            let kept = run(seed, 150, |_| {});
            assert!(kept > 0, "seed {seed}: no megaflow survived a version: the test would prove nothing");
        }
    }

    #[test]
    fn skipping_an_affected_entry_is_caught() {
        // Invalidation that forgets rule changes, MAC entries, ports, groups or the probes that
        // find the megaflows to check must fail the comparison.
        let forget_rules = |c: &mut BridgeChanges| c.rules.clear();
        let forget_macs = |c: &mut BridgeChanges| c.macs = 0;
        let forget_ports = |c: &mut BridgeChanges| c.ports = 0;
        let forget_groups = |c: &mut BridgeChanges| c.groups = 0;
        let forget_probes = |c: &mut BridgeChanges| c.probes.clear();
        type Breakage<'a> = (&'a str, &'a dyn Fn(&mut BridgeChanges));
        let broken: [Breakage<'_>; 5] = [
            ("rules", &forget_rules),
            ("macs", &forget_macs),
            ("ports", &forget_ports),
            ("groups", &forget_groups),
            ("probes", &forget_probes),
        ];
        for (what, broken) in broken {
            let caught = (1..=8)
                .any(|seed| std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(seed, 150, broken))).is_err());
            assert!(caught, "forgetting {what} went unnoticed");
        }
    }
}

/// Tunnel outputs and decapsulation on the burst stages: br-int (index 0: port 1 a device,
/// port 2 = datapath port 40 a VXLAN port to 172.31.1.2 with key `flow`) over br-phy (index 1:
/// port 1 = DPDK port 5, LOCAL = datapath port 41, addresses 172.31.1.1/24, the neighbour
/// resolved).
mod tunnels {
    use std::net::IpAddr;

    use super::*;
    use crate::datapath::{Decap, TunnelReceiver};
    use crate::flow::OfPort;
    use crate::tunnel::header::{classify_outer, DecapError, Outer, UdpTunnelPorts};
    use crate::tunnel::port::TunnelConfig;
    use crate::tunnel::route::{Prefix, Route, RouteOrigin, RouteTable};
    use crate::tunnel::TunnelKind;

    const PHY: u16 = 5;
    const VXLAN: u16 = 40;
    const LOCAL: u16 = 41;
    const PEER_MAC: [u8; 6] = [2, 0, 0, 0, 0xaa, 2];

    fn port(ofport: u32, dp_port: u16) -> BridgePort {
        BridgePort::trunk(ofport, dp_port)
    }

    fn tables(flows: &[&str]) -> FlowTables {
        let mut tables = FlowTables::new();
        for flow in flows {
            tables.add(parse_add_flow(flow).unwrap(), FlowModFlags::default(), 0).unwrap();
        }
        tables
    }

    fn harness_with(flows: &[&str]) -> Harness {
        harness_with_mtu(flows, 0)
    }

    /// `harness_with`, br-phy's port 1 with MTU `phy_mtu` (0: none).
    fn harness_with_mtu(flows: &[&str], phy_mtu: u16) -> Harness {
        harness_with_options(flows, phy_mtu, &[])
    }

    /// `harness_with_mtu`, the VXLAN port with `more` options.
    fn harness_with_options(flows: &[&str], phy_mtu: u16, more: &[(&str, &str)]) -> Harness {
        let mut h = harness(&[], 1, &[1, PHY]);
        let options = [("remote_ip", "172.31.1.2"), ("key", "flow")].iter().chain(more);
        let options = options.map(|(k, v)| (k.to_string(), v.to_string()));
        let tunnel = TunnelConfig::from_options(TunnelKind::Vxlan, &options.collect()).unwrap();
        let br_int = BridgeDp {
            name: "br-int".into(),
            tables: tables(flows).snapshot(),
            ports: vec![port(1, 1), BridgePort { tunnel: Some(Arc::new(tunnel)), ..port(2, VXLAN) }],
            ..BridgeDp::default()
        };
        let local: IpAddr = "172.31.1.1".parse().unwrap();
        let peer: IpAddr = "172.31.1.2".parse().unwrap();
        let br_phy = BridgeDp {
            name: "br-phy".into(),
            tables: tables(&["actions=NORMAL"]).snapshot(),
            ports: vec![BridgePort { mtu: phy_mtu, ..port(1, PHY) }, port(OfPort::LOCAL.0, LOCAL)],
            mac: [2, 0, 0, 0, 0xaa, 1],
            addresses: vec![local],
            local_dp: Some(LOCAL),
            neighbours: Arc::new([(peer, ResolvedNeighbour::new(PEER_MAC))].into_iter().collect()),
            ..BridgeDp::default()
        };
        let mut routes = RouteTable::new();
        let prefix = Prefix::parse("172.31.1.0/24").unwrap();
        let route = Route {
            prefix,
            bridge: "br-phy".into(),
            gateway: None,
            source: Some(local),
            origin: RouteOrigin::Connected,
        };
        routes.insert(route).unwrap();
        h.datapath.bridges = vec![Arc::new(br_int), Arc::new(br_phy)];
        h.datapath.routes = Arc::new(routes);
        h
    }

    fn decap() -> Decap {
        let mut ports = UdpTunnelPorts::new();
        ports.add(4789, TunnelKind::Vxlan);
        let receiver = TunnelReceiver {
            kind: TunnelKind::Vxlan,
            dst_port: 4789,
            remote: Some("172.31.1.2".parse().unwrap()),
            local: None,
            group: None,
            in_key: None,
            gbp: false,
            bridge: 0,
            dp_port: VXLAN,
        };
        Decap {
            ports,
            locals: vec!["172.31.1.1".parse().unwrap()],
            groups: Vec::new(),
            receivers: vec![receiver],
            mtu: 0,
        }
    }

    /// The UDP source port of an encapsulated frame.
    fn outer_src_port(frame: &[u8]) -> u16 {
        u16::from_be_bytes([frame[34], frame[35]])
    }

    #[test]
    fn encapsulated_in_the_burst_as_by_the_general_path_then_decapsulated_back() {
        // Two flows in trains (repeats), VNI from set_tunnel; a second rule sends a copy to
        // port 1 as well, which takes the general path (a copy is encapsulated).
        let mut h = harness_with(&[
            "priority=10,in_port=1,udp,tp_src=7,actions=set_tunnel:77,output:2",
            "priority=5,in_port=1,udp,actions=set_tunnel:78,output:2,output:in_port",
        ]);
        let frames: Vec<Vec<u8>> = [7, 7, 7, 8, 8, 7, 8].map(udp_frame).to_vec();
        h.forward(&frames);
        assert_eq!(h.total_drops(), 0);
        let sent = h.take_sent();
        let outer: Vec<&TestBuf> = sent.iter().filter(|(p, _)| *p == PHY).map(|(_, b)| b).collect();
        assert_eq!(outer.len(), 7, "every packet encapsulated once: {sent:?}");
        assert_eq!(sent.iter().filter(|(p, _)| *p == 1).count(), 3, "the copies of flow 8 leave unencapsulated");
        let ports: Vec<u16> = outer.iter().map(|b| outer_src_port(b.data())).collect();
        assert_eq!(ports[0], ports[1], "one flow, one UDP source port");
        assert_eq!(ports[0], ports[5]);
        assert_eq!(ports[3], ports[6]);
        assert_ne!(ports[0], ports[3], "two flows, two UDP source ports (almost surely)");
        assert!(ports.iter().all(|p| (32768..=61000).contains(p)));
        for (buf, frame) in outer.iter().zip(&frames) {
            let data = buf.data();
            assert_eq!(&data[..6], &PEER_MAC, "the outer destination is the resolved neighbour");
            assert_eq!(&data[50..], frame.as_slice(), "the inner frame is unchanged");
            let Outer::Tunnel(found) =
                classify_outer(data, &decap().ports, |ip| *ip == "172.31.1.2".parse::<IpAddr>().unwrap())
            else {
                panic!("not a valid VXLAN packet: {data:02x?}")
            };
            assert_eq!(found.meta.tun_id, if frame == &frames[0] || frame == &frames[5] { 77 } else { 78 });
        }
        // The outer frames, as the peer would send them back (addresses swapped), decapsulated
        // on br-phy's port into br-int's VXLAN port, where a flow matches the VNI.
        let mut h = harness_with(&["in_port=2,tun_id=77,actions=output:1", "in_port=2,actions=drop"]);
        let back: Vec<Vec<u8>> = outer.iter().map(|b| turned_around(b.data())).collect();
        let refs: Vec<&[u8]> = back.iter().map(Vec::as_slice).collect();
        let mut burst = TestBurst::of(&refs);
        h.forwarder.forward_burst(&h.datapath, 1, PHY, Some(&decap()), &mut burst, 2);
        let sent = h.take_sent();
        let inner: Vec<&[u8]> = sent.iter().filter(|(p, _)| *p == 1).map(|(_, b)| b.data()).collect();
        assert_eq!(inner, [frames[0].as_slice(), &frames[1], &frames[2], &frames[5]], "VNI 77 only, decapsulated");
        assert_eq!(
            h.forwarder.exec.counters.port_drops(VXLAN, DropReason::ActionDrop),
            3,
            "VNI 78 dropped by the flow"
        );
        assert_eq!(h.forwarder.exec.counters.port_rx_packets(VXLAN), 7);
    }

    /// A UDP frame of flow `src` whose length is `len` bytes (at least 42).
    fn udp_frame_of_len(src: u16, len: usize) -> Vec<u8> {
        let payload = vec![0x5a; len - 42];
        ethernet(&[], ethertype::IPV4, &Ipv4::new(ip_proto::UDP).build(&udp(src, 53, &payload)))
    }

    #[test]
    fn outer_packets_longer_than_the_underlay_mtu_are_dropped_as_too_big() {
        // br-phy's port has MTU 1000: a VXLAN outer IP packet is 36 bytes more than the inner
        // frame, so inner frames of up to 964 bytes fit. Flow 7 takes the burst's encapsulation
        // (one tunnel output), flow 8 the general path (a copy is output unencapsulated too).
        let mut h = harness_with_mtu(
            &[
                "priority=10,in_port=1,udp,tp_src=7,actions=set_tunnel:77,output:2",
                "priority=5,in_port=1,udp,actions=set_tunnel:78,output:2,output:in_port",
            ],
            1000,
        );
        let frames: Vec<Vec<u8>> = [(7, 964), (7, 965), (7, 60), (8, 964), (8, 965), (8, 1400)]
            .map(|(src, len)| udp_frame_of_len(src, len))
            .to_vec();
        h.forward(&frames);
        assert_eq!(h.drops(DropReason::TunnelTooBig), 3, "965 and 1400 bytes do not fit");
        assert_eq!(h.total_drops(), 3);
        let sent = h.take_sent();
        let outer: Vec<usize> = sent.iter().filter(|(p, _)| *p == PHY).map(|(_, b)| b.data().len()).collect();
        assert_eq!(outer, [1014, 110, 1014], "the frames that fit, encapsulated: 1000 bytes of IP each at most");
        assert_eq!(sent.iter().filter(|(p, _)| *p == 1).count(), 3, "flow 8's plain copies leave, whatever their size");
        assert_eq!(h.forwarder.exec.counters.port_tx_packets(VXLAN), 3, "the tunnel port counts what it sent");

        // Without an MTU on the underlay port nothing is too big.
        let mut h = harness_with(&["in_port=1,udp,actions=set_tunnel:77,output:2"]);
        h.forward(&[udp_frame_of_len(7, 1400)]);
        assert_eq!(h.total_drops(), 0);
        assert_eq!(h.take_sent().len(), 1);
    }

    #[test]
    fn tunnel_packets_longer_than_the_underlay_port_mtu_are_dropped_as_oversize() {
        // Outer frames of inner frames of 964 and 965 bytes (outer IP 1000 and 1001 bytes),
        // received on a port of MTU 1000.
        let back = sent_back(&[udp_frame_of_len(7, 964), udp_frame_of_len(7, 965)], &[]);
        let mut h = harness_with(&["in_port=2,actions=output:1"]);
        let refs: Vec<&[u8]> = back.iter().map(Vec::as_slice).collect();
        let mut burst = TestBurst::of(&refs);
        let decap = Decap { mtu: 1000, ..decap() };
        h.forwarder.forward_burst(&h.datapath, 1, PHY, Some(&decap), &mut burst, 2);
        assert_eq!(h.forwarder.exec.counters.port_drops(PHY, DropReason::TunnelOversize), 1);
        let inner: Vec<usize> = h.take_sent().iter().filter(|(p, _)| *p == 1).map(|(_, b)| b.data().len()).collect();
        assert_eq!(inner, [964], "the inner frame that fits the overlay, decapsulated");
        assert_eq!(h.forwarder.exec.counters.port_rx_packets(VXLAN), 1);
    }

    /// Outer frames of `frames` encapsulated by a VXLAN port with `options`, turned around as
    /// the peer would send them back.
    fn sent_back(frames: &[Vec<u8>], options: &[(&str, &str)]) -> Vec<Vec<u8>> {
        let mut h = harness_with_options(&["in_port=1,udp,actions=set_tunnel:77,output:2"], 0, options);
        h.forward(frames);
        h.take_sent().iter().map(|(_, b)| turned_around(b.data())).collect()
    }

    /// An outer frame we sent to the peer, as the peer sends it back to us: MACs and IPv4
    /// addresses swapped (which keeps the IPv4 and UDP checksums right).
    fn turned_around(outer: &[u8]) -> Vec<u8> {
        let mut data = outer.to_vec();
        data[0..6].copy_from_slice(&[2, 0, 0, 0, 0xaa, 1]);
        data[6..12].copy_from_slice(&PEER_MAC);
        data[26..30].copy_from_slice(&[172, 31, 1, 2]);
        data[30..34].copy_from_slice(&[172, 31, 1, 1]);
        data
    }

    /// Decapsulates `outer` on br-phy's port into br-int, whose VXLAN port's packets go to port
    /// 1; returns the inner frames sent there.
    fn decapsulated(h: &mut Harness, outer: &[Vec<u8>]) -> Vec<Vec<u8>> {
        let refs: Vec<&[u8]> = outer.iter().map(Vec::as_slice).collect();
        let mut burst = TestBurst::of(&refs);
        h.forwarder.forward_burst(&h.datapath, 1, PHY, Some(&decap()), &mut burst, 2);
        h.take_sent().iter().filter(|(p, _)| *p == 1).map(|(_, b)| b.data().to_vec()).collect()
    }

    #[test]
    fn repeated_outer_headers_take_the_verdict_before_unless_a_payload_checksum_was_checked() {
        // Three frames of one flow and length, the second with another payload: their outer
        // headers are the same bytes (IP ID 0, one UDP source port per flow), so the second and
        // third take the first one's classification; each keeps its own inner frame.
        let mut frames = vec![udp_frame_of_len(7, 100); 3];
        frames[1][90] ^= 0xff;
        let outer = sent_back(&frames, &[]);
        assert_eq!(outer[0][..50], outer[1][..50], "one outer header: {outer:02x?}");
        let mut h = harness_with(&["in_port=2,tun_id=77,actions=output:1"]);
        assert_eq!(decapsulated(&mut h, &outer), frames, "each packet decapsulated into its own inner frame");
        assert_eq!(h.forwarder.exec.counters.port_rx_packets(VXLAN), 3);

        // The same outer header bytes, another length: classified on its own (a truncated
        // inner frame is refused).
        let mut short = outer.clone();
        short[1].truncate(50 + 10);
        let mut h = harness_with(&["in_port=2,tun_id=77,actions=output:1"]);
        assert_eq!(decapsulated(&mut h, &short), [frames[0].clone(), frames[2].clone()]);
        let refused: u64 =
            DecapError::ALL.iter().map(|&e| h.forwarder.exec.counters.port_drops(PHY, DropReason::Decap(e))).sum();
        assert_eq!(refused, 1, "the short one is refused");

        // With UDP checksums the payload is part of the verdict: a frame whose outer header
        // repeats a checked one's but whose payload was changed on the way is refused.
        let outer = sent_back(&frames[..2].iter().map(|_| frames[0].clone()).collect::<Vec<_>>(), &[("csum", "true")]);
        assert_eq!(outer[0], outer[1]);
        let mut corrupted = outer.clone();
        corrupted[1][100] ^= 0xff;
        let mut h = harness_with(&["in_port=2,tun_id=77,actions=output:1"]);
        assert_eq!(decapsulated(&mut h, &corrupted), [frames[0].clone()], "the corrupted one is dropped");
        assert_eq!(h.forwarder.exec.counters.port_drops(PHY, DropReason::Decap(DecapError::BadChecksum)), 1);
    }

    #[test]
    fn bytes_after_the_outer_ip_packet_are_not_part_of_the_inner_frame() {
        // Two padded frames of one flow and length (the second a repeat of the first) and one
        // without padding: each comes out as the inner frame that was sent.
        let frames = vec![udp_frame_of_len(7, 100); 3];
        let mut outer = sent_back(&frames, &[]);
        for padded in &mut outer[..2] {
            padded.extend_from_slice(&[0xee; 6]);
        }
        let mut h = harness_with(&["in_port=2,tun_id=77,actions=output:1"]);
        assert_eq!(decapsulated(&mut h, &outer), frames);
        assert_eq!(h.forwarder.exec.counters.port_rx_packets(VXLAN), 3);
    }
}
