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
use crate::pipeline::xlate::{BridgePort, MacTable, PortFlags, VlanMode};

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
    let ports = (1..=bridge_ports)
        .map(|port| BridgePort {
            ofport: u32::from(port),
            dp_port: port,
            vlan_mode: VlanMode::Trunk(Vec::new()),
            live: true,
            flags: PortFlags::default(),
        })
        .collect();
    let bridge = BridgeDp {
        name: "br0".into(),
        tables: tables.snapshot(),
        ports,
        macs: MacTable::new(),
        packet_in_limit: PacketInLimit::default(),
        meters: Vec::new(),
        miss_to_controller: false,
    };
    let datapath = Datapath { version: 1, pmd_rxqs: Vec::new(), bridges: vec![Arc::new(bridge)] };
    let (packet_ins_tx, packet_ins) = channel::bounded(64);
    let mut queue = PacketInQueue::new(packet_ins_tx, 1_000_000);
    queue.follow(&datapath, 0);
    let mut meters = PmdMeters::new(1_000_000);
    meters.follow(&datapath, 0);
    let exec = Execution {
        ports: TestPorts { ports: pmd_ports.to_vec(), ..TestPorts::default() },
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
        self.forwarder.forward_burst(&self.datapath, 0, IN_PORT, &mut burst, self.now_ms);
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
    assert_eq!(burst.left(), 4, "the dropped packets (but the runts) are freed with the burst");
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
