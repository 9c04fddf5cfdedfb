//! The management side of the switch: owns EAL, the mbuf pool, the ports,
//! the bridges with their flow tables and the PMD threads; applies the
//! configuration and run-time changes by building a new `Datapath` version,
//! handing it to every PMD and retiring the old one once all PMDs have
//! passed a quiescent point. Answers the control-socket requests.
#![forbid(unsafe_code)]
pub mod bridge;
mod dp_flows;
mod groups;
mod monitors;
mod openflow;
pub mod port;
mod routes;
mod tlv_map;
mod trace;
mod underlay;
mod vtep;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::{
    parse_datapath_id, Config, FailMode, OpenFlowTarget, PortConfig, PortErrorPolicy, PortKind, TunnelAddress,
    TunnelConfig, TunnelKey,
};
use crate::control::protocol::{
    BridgeInfo, ControllerReply, ControllerStatusReply, DumpFlowsReply, FailModeReply, FdbEntryInfo, FdbShowReply,
    FlowModReply, MempoolReply, PmdRxqs, PmdStats, PmdStatsReply, PortInfo, PortStats, PortStatsReply, Reply, Request,
    RxqInfo, RxqReply, ShowReply,
};
use crate::datapath::{
    BridgeDp, Datapath, Decap, FlowActions, QueueHandover, RxqWork, TunnelReceiver, TxTarget, MAX_DP_PORTS, MAX_PORTS,
};
use crate::dpdk::eal::{rdtsc, Eal};
use crate::dpdk::ethdev::{EthPort, EthStats, Link, PortSetup, SharedTxQueue, TxQueue};
use crate::dpdk::mempool::{data_room_for_mtu, PktMbufPool};
use crate::flow::key::{Field, FlowKey};
use crate::flow::tun_metadata::TlvMap;
use crate::flow::{parse_add_flow, parse_del_flows, parse_dump_flows, parse_mod_flows, FlowSelector, OfPort};
use crate::openflow::message::{FlowRemovedReason, PortReason};
use crate::openflow::monitor::{ChangeSet, Requester};
use crate::openflow::targets::OpenFlowServer;
use crate::packet::proto::vlan;
use crate::pipeline::table::{ApplyError, ApplyOutcome, FlowModFlags, FlowOp, RuleChange, RuleEntry, Timeout};
use crate::pipeline::xlate::{translate, BridgePort, DpAction, PatchPeer, PortFlags, VlanMode, NO_DP_PORT};
use crate::pmd::packet_in::{PacketInEvent, PACKET_IN_QUEUE};
use crate::pmd::stats::{DropReason, PmdCounter, PmdCounters};
use crate::pmd::{PmdCommand, PmdHandle, SideEffect};
use crate::revalidate::{BridgeChanges, VersionChanges};
use crate::tunnel::header::UdpTunnelPorts;
use crate::tunnel::port::FloodTo;
use crate::tunnel::route::{Route, RouteOrigin, RouteTable};
use crate::tunnel::{NeighbourCache, NeighbourLimits, TunnelKind};
use bridge::{check_meters, Bridge};
use crossbeam::channel::{self, Receiver, Sender};
use std::net::IpAddr;

/// How long a datapath change may wait for the PMDs before it is reported.
const QUIESCE_WARN: Duration = Duration::from_millis(100);
/// How long it waits at most; a PMD slower than this is stuck.
const QUIESCE_LIMIT: Duration = Duration::from_secs(5);

/// A port of a bridge.
struct Port {
    config: PortConfig,
    bridge: usize,
    ofport: u32,
    /// The DPDK device; `None` for a tunnel port.
    eth: Option<EthPort>,
    /// Its datapath port: the DPDK port id, or a number from `MAX_PORTS` on for a tunnel port.
    dp_port: u16,
    /// PMD counters for this DPDK port id when the port was added (a port id
    /// can be reused after a removal).
    baseline: PortCounterTotals,
    link: Link,
    /// When the port was added (OpenFlow port stats durations).
    added: Instant,
    /// What controllers configured (PORT_MOD).
    flags: PortFlags,
}

impl Port {
    /// The device's MAC; a tunnel port has none (zero).
    fn mac(&self) -> [u8; 6] {
        self.eth.as_ref().map_or([0; 6], EthPort::mac)
    }

    fn stats(&self) -> EthStats {
        self.eth.as_ref().map_or_else(EthStats::default, EthPort::stats)
    }

    fn rx_queues(&self) -> u16 {
        self.eth.as_ref().map_or(0, EthPort::rx_queues)
    }

    fn tx_queues(&self) -> u16 {
        self.eth.as_ref().map_or(0, EthPort::tx_queues)
    }

    fn mtu(&self) -> u16 {
        self.eth.as_ref().map_or(0, EthPort::mtu)
    }

    /// The link; a tunnel port's is always up.
    fn link(&self) -> Link {
        self.eth.as_ref().map_or(Link { up: true, ..Link::default() }, EthPort::link)
    }

    /// Packets received and sent: the device's counts, or for a port without a device what the
    /// PMDs counted on it (decapsulated and encapsulated packets of a tunnel port).
    fn packets(&self, device: &EthStats, totals: &PortCounterTotals) -> (u64, u64) {
        match self.eth {
            Some(_) => (device.rx_packets, device.tx_packets),
            None => (totals.rx.saturating_sub(self.baseline.rx), totals.tx.saturating_sub(self.baseline.tx)),
        }
    }

    /// The tunnel options of a tunnel port.
    fn tunnel(&self) -> Option<&TunnelConfig> {
        match &self.config.kind {
            PortKind::Tunnel(tunnel) => Some(tunnel),
            _ => None,
        }
    }
}

/// Why `Switch::apply_flow_ops` changed nothing visible.
#[derive(Debug)]
enum FlowOpsError {
    /// The tables refused the batch; nothing changed.
    Refused(ApplyError),
    /// The tables changed but the PMDs did not take the new version.
    NotPublished(String),
}

/// Learned rules and addresses the PMDs may queue before they are dropped.
const SIDE_EFFECT_QUEUE: usize = 4096;

/// Per-port sums over all PMDs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct PortCounterTotals {
    rx: u64,
    tx: u64,
    drops: [u64; DropReason::ALL.len()],
}

pub struct Switch {
    /// The OpenFlow targets (listeners, controllers, fail modes), once attached.
    openflow: Option<OpenFlowServer>,
    // Field order is drop order: PMDs stop before ports go, ports before the
    // pool, the pool before EAL cleanup.
    pmds: Vec<PmdHandle>,
    ports: Vec<Port>,
    /// Ports retired from the datapath whose PMDs never acknowledged it:
    /// kept (not closed) until the PMDs are stopped.
    unsafe_to_close: Vec<Port>,
    current: Arc<Datapath>,
    retired: Vec<Arc<Datapath>>,
    pool: PktMbufPool,
    eal: Arc<Eal>,
    bridges: Vec<Bridge>,
    /// Which PMD polls each (DPDK port id, queue).
    rxq_owner: HashMap<(u16, u16), usize>,
    /// Per PMD: the queue handles it takes over and the ports it gives up with the next version.
    handovers: Vec<QueueHandover>,
    next_vdev_index: u32,
    on_port_error: PortErrorPolicy,
    side_effects: Receiver<SideEffect>,
    /// Packet-ins from the PMDs, for the OpenFlow connections.
    packet_ins: Receiver<PacketInEvent>,
    tsc_per_ms: u64,
    /// The underlay routes: connected ones of the bridges' addresses, and static ones.
    routes: Arc<RouteTable>,
    /// Flood-and-learn VXLAN ports: learned tables, groups joined (vtep.rs).
    vteps: vtep::Vteps,
    /// The Geneve TLV map (tlv_map.rs), and whether the next version follows a change of it.
    tlv_map: TlvMap,
    tlv_map_changed: bool,
    /// Rule changes of the bridges (by index) for their flow monitors, reported with the next
    /// version (monitors.rs).
    rule_changes: Vec<(usize, ChangeSet)>,
}

impl Switch {
    /// Initialises DPDK, starts the PMDs, then the bridges and their ports.
    pub fn start(config: &Config) -> Result<Switch, String> {
        let online = core_affinity::get_core_ids().map(|ids| ids.len()).unwrap_or(0);
        for &core in config.pmd.cores.iter().chain(std::iter::once(&config.dpdk.main_core)) {
            if online > 0 && core >= online {
                return Err(format!("core {core} does not exist: this host has {online} CPUs (0..{})", online - 1));
            }
        }
        let eal = Arc::new(Eal::init(&config.eal_args()).map_err(|e| e.to_string())?);
        // Buffers big enough for the largest configured MTU in one segment.
        let largest_mtu = config.bridges.iter().flat_map(|b| &b.ports).filter_map(|p| p.mtu).max().unwrap_or(1500);
        let pool = PktMbufPool::create(
            "vswitch_mbufs",
            config.dpdk.mbufs,
            config.dpdk.mbuf_cache,
            data_room_for_mtu(largest_mtu),
        )
        .map_err(|e| e.to_string())?;
        let empty = Arc::new(Datapath::default());
        let (side_effects_tx, side_effects): (Sender<SideEffect>, _) = channel::bounded(SIDE_EFFECT_QUEUE);
        let (packet_ins_tx, packet_ins) = channel::bounded(PACKET_IN_QUEUE);
        let mut pmds = Vec::new();
        for (index, &core) in config.pmd.cores.iter().enumerate() {
            pmds.push(PmdHandle::spawn(
                eal.clone(),
                index,
                core,
                config.pmd.idle_sleep_max_us,
                empty.clone(),
                side_effects_tx.clone(),
                packet_ins_tx.clone(),
            )?);
        }
        let tsc_per_ms = (eal.tsc_hz() / 1000).max(1);
        let mut switch = Switch {
            openflow: None,
            pmds,
            ports: Vec::new(),
            unsafe_to_close: Vec::new(),
            current: empty,
            retired: Vec::new(),
            pool,
            eal,
            bridges: Vec::new(),
            rxq_owner: HashMap::new(),
            handovers: std::iter::repeat_with(QueueHandover::default).take(config.pmd.cores.len()).collect(),
            next_vdev_index: 0,
            on_port_error: config.switch.on_port_error,
            side_effects,
            packet_ins,
            tsc_per_ms,
            routes: Arc::new(RouteTable::new()),
            vteps: vtep::Vteps::default(),
            tlv_map: TlvMap::default(),
            tlv_map_changed: false,
            rule_changes: Vec::new(),
        };
        let mut routes = RouteTable::new();
        for bridge in &config.bridges {
            let now = switch.now_ms();
            let mut state = Bridge::new(&bridge.name, &bridge.flows, config.pmd.cores.len(), now)
                .map_err(|e| format!("bridge {}: {e}", bridge.name))?;
            state.packet_in_limit = bridge.packet_in_limit;
            state.datapath_id = bridge.datapath_id;
            state.mac_table_size = bridge.mac_table_size;
            state.mac_aging_ms = u64::from(bridge.mac_aging) * 1000;
            let aging_ms = u64::from(bridge.neighbour_aging) * 1000;
            state.neighbours = NeighbourCache::new(NeighbourLimits { aging_ms, ..NeighbourLimits::default() });
            state.mac = bridge.mac;
            state.addresses = bridge.underlay.addresses.clone();
            for &(ip, mac) in &bridge.underlay.neighbours {
                state.neighbours.set_static(ip, mac);
            }
            if !state.addresses.is_empty() {
                state.local_dp = Some(switch.free_virtual_dp_port().ok_or("no datapath port number left for LOCAL")?);
            }
            for address in &bridge.underlay.addresses {
                let route = Route {
                    prefix: address.prefix,
                    bridge: bridge.name.clone(),
                    gateway: None,
                    source: Some(address.addr),
                    origin: RouteOrigin::Connected,
                };
                routes.insert(route).map_err(|e| format!("bridge {}: {e}", bridge.name))?;
            }
            for route in &bridge.underlay.routes {
                let route = Route {
                    prefix: route.prefix,
                    bridge: bridge.name.clone(),
                    gateway: route.via,
                    source: None,
                    origin: RouteOrigin::Static,
                };
                routes.insert(route).map_err(|e| format!("bridge {}: {e}", bridge.name))?;
            }
            switch.bridges.push(state);
            let index = switch.bridges.len() - 1;
            // The LOCAL interface first (it has the bridge's MAC), then the configured ports.
            let local = bridge.local_interface.then(|| port::local_interface(bridge));
            let ports = local.iter().map(|p| (p, true)).chain(bridge.ports.iter().map(|p| (p, false)));
            for (port, is_local) in ports {
                let attached = if is_local {
                    switch.attach(index, port, OfPort::LOCAL.0, Some(bridge.mac))
                } else {
                    switch.attach_port(&bridge.name, port)
                };
                if let Err(e) = attached {
                    match switch.on_port_error {
                        PortErrorPolicy::Continue => {
                            tracing::error!(port = %port.name, bridge = %bridge.name, "port not added: {e}")
                        }
                        PortErrorPolicy::Abort => {
                            switch.shutdown();
                            return Err(format!("port {}: {e}", port.name));
                        }
                    }
                }
            }
        }
        switch.routes = Arc::new(routes);
        switch.publish()?;
        tracing::info!(
            bridges = switch.bridges.len(),
            ports = switch.ports.len(),
            pmds = switch.pmds.len(),
            "switch started"
        );
        Ok(switch)
    }

    /// Answers one control request.
    pub fn handle(&mut self, request: Request) -> Reply {
        match request {
            Request::Show => Reply::success(&self.show()),
            Request::PortStats { port } => match self.port_stats(port.as_deref()) {
                Ok(r) => Reply::success(&r),
                Err(e) => Reply::failure(e),
            },
            Request::PmdStats => Reply::success(&self.pmd_stats()),
            Request::PmdStatsClear => match self.pmds.iter().try_for_each(|p| p.send(PmdCommand::ClearStats)) {
                Ok(()) => Reply::success(&serde_json::Value::Null),
                Err(e) => Reply::failure(e),
            },
            Request::RxqShow => Reply::success(&self.rxq_show()),
            Request::AddPort { bridge, port } => match self.add_port(&bridge, port) {
                Ok(()) => Reply::success(&serde_json::Value::Null),
                Err(e) => Reply::failure(e),
            },
            Request::DelPort { port } => match self.del_port(&port) {
                Ok(()) => Reply::success(&serde_json::Value::Null),
                Err(e) => Reply::failure(e),
            },
            Request::DumpFlows { bridge, selector } => reply(self.dump_flows(&bridge, selector.as_deref())),
            Request::AddFlows { bridge, flows } => reply(self.add_flows(&bridge, &flows)),
            Request::ModFlows { bridge, flow, strict } => reply(self.mod_flows(&bridge, &flow, strict)),
            Request::DelFlows { bridge, selector, strict } => {
                reply(self.del_flows(&bridge, selector.as_deref(), strict))
            }
            Request::Trace { bridge, flow, packet } => reply(self.trace(&bridge, &flow, packet.as_deref())),
            Request::DumpDpFlows { bridge } => reply(self.dump_dp_flows(bridge.as_deref())),
            Request::FdbAdd { bridge, port, vlan, mac } => reply(self.fdb_add(&bridge, &port, vlan, &mac)),
            Request::FdbShow { bridge } => reply(self.fdb_show(&bridge)),
            Request::Mempool => Reply::success(&MempoolReply {
                name: self.pool.name().to_owned(),
                size: self.pool.size(),
                in_use: self.pool.in_use(),
                available: self.pool.available(),
            }),
            Request::SetController { bridge, targets } => reply(self.set_controller(&bridge, &targets)),
            Request::GetController { bridge } => reply(self.get_controller(&bridge)),
            Request::DelController { bridge } => reply(self.set_controller(&bridge, &[])),
            Request::SetDatapathId { bridge, datapath_id } => reply(self.set_datapath_id(&bridge, &datapath_id)),
            Request::SetFailMode { bridge, mode } => {
                reply(FailMode::parse(&mode).and_then(|mode| self.openflow_mut()?.set_fail_mode(&bridge, Some(mode))))
            }
            Request::GetFailMode { bridge } => reply(self.get_fail_mode(&bridge)),
            Request::DelFailMode { bridge } => {
                reply(self.openflow_mut().and_then(|of| of.set_fail_mode(&bridge, None)))
            }
            Request::ControllerStatus { bridge } => reply(self.controller_status(&bridge)),
            // Neighbours of underlay bridges (switch/underlay.rs).
            Request::NeighShow { bridge } => reply(self.neigh_show(bridge.as_deref())),
            Request::NeighSet { bridge, ip, mac } => {
                reply(self.neigh_set(&bridge, &ip, &mac).map(|()| serde_json::Value::Null))
            }
            Request::NeighFlush { bridge } => {
                reply(self.neigh_flush(bridge.as_deref()).map(|()| serde_json::Value::Null))
            }
            // Underlay routes (routes.rs).
            Request::RouteAdd { prefix, bridge, gateway } => {
                reply(self.route_add(&prefix, &bridge, gateway.as_deref()))
            }
            Request::RouteDel { prefix } => reply(self.route_del(&prefix)),
            Request::RouteShow => Reply::success(&self.route_show()),
            // Flood-and-learn VTEPs (vtep.rs).
            Request::VtepShow { port } => reply(self.vtep_show(port.as_deref())),
        }
    }

    /// Hands the OpenFlow targets to the switch, for vsctl's controller and fail-mode
    /// commands; they stop when the switch is dropped.
    pub fn attach_openflow(&mut self, server: OpenFlowServer) {
        self.openflow = Some(server);
    }

    /// Where the PMDs' packet-ins arrive (for the management loop to wait on; each goes to
    /// `handle_packet_in`).
    pub fn packet_ins(&self) -> Receiver<PacketInEvent> {
        self.packet_ins.clone()
    }

    fn openflow_mut(&mut self) -> Result<&mut OpenFlowServer, String> {
        self.openflow.as_mut().ok_or_else(|| "OpenFlow is not running".to_owned())
    }

    /// `set-controller` (and `del-controller` with no targets): every target is checked as
    /// the configuration checks it; an error names the bad one and changes nothing.
    fn set_controller(&mut self, bridge: &str, targets: &[String]) -> Result<(), String> {
        self.bridge_index(bridge).ok_or_else(|| format!("no bridge named {bridge:?}"))?;
        let parsed = OpenFlowTarget::parse_list(targets).map_err(|(_, problem)| problem)?;
        self.openflow_mut()?.set_targets(bridge, &parsed)
    }

    /// `set-datapath-id`: checked as the configuration's `datapath_id` is (hex, not 0, unique
    /// across bridges); the bridge's controllers reconnect to see it.
    fn set_datapath_id(&mut self, bridge: &str, text: &str) -> Result<(), String> {
        let index = self.bridge_named(bridge)?;
        let datapath_id = parse_datapath_id(text)?;
        if let Some(other) = self.bridges.iter().find(|b| b.datapath_id == datapath_id && b.name != bridge) {
            return Err(format!("datapath id {datapath_id:016x} is bridge {}'s", other.name));
        }
        if self.bridges[index].datapath_id == datapath_id {
            return Ok(());
        }
        if let Some(openflow) = self.openflow.as_mut() {
            openflow.set_datapath_id(bridge, datapath_id)?;
        }
        self.bridges[index].datapath_id = datapath_id;
        tracing::info!(bridge, datapath_id = %format!("{datapath_id:016x}"), "datapath id set");
        Ok(())
    }

    fn get_controller(&mut self, bridge: &str) -> Result<ControllerReply, String> {
        let targets = self.openflow_mut()?.targets(bridge)?;
        Ok(ControllerReply { targets: targets.iter().map(ToString::to_string).collect() })
    }

    fn controller_status(&mut self, bridge: &str) -> Result<ControllerStatusReply, String> {
        let fail_open = self.bridges[self.bridge_named(bridge)?].fail_open;
        let connections = self.openflow_mut()?.connections(bridge)?;
        Ok(ControllerStatusReply { fail_open, connections })
    }

    fn get_fail_mode(&mut self, bridge: &str) -> Result<FailModeReply, String> {
        let mode = self.openflow_mut()?.fail_mode(bridge)?;
        Ok(FailModeReply { mode: mode.map(|m| m.to_string()) })
    }

    /// Applies everything the PMDs learned so far, then publishes one new
    /// datapath version if anything changed.
    pub fn apply_side_effects(&mut self) {
        let now = self.now_ms();
        let mut changed = false;
        while let Ok(effect) = self.side_effects.try_recv() {
            match effect {
                SideEffect::LearnedRule { bridge, rule, refreshed_by } => {
                    if let Some(b) = self.bridges.get_mut(bridge) {
                        match b.learn_rule(*rule, refreshed_by, now) {
                            Ok(c) => changed |= c,
                            Err(e) => tracing::warn!(bridge = %b.name, "learned rule not added: {e}"),
                        }
                    }
                }
                SideEffect::LearnedMac { bridge, mac } => {
                    if let Some(b) = self.bridges.get_mut(bridge) {
                        changed |= b.learn_mac(mac, now);
                    }
                }
                SideEffect::ResolveNeighbour { bridge, nexthop } => self.resolve_neighbour(bridge, nexthop, now),
                SideEffect::LearnedVtep(learned) => changed |= self.vtep_learn(learned, now),
            }
        }
        if changed {
            if let Err(e) = self.publish() {
                tracing::error!("learned state not published: {e}");
            }
        }
    }

    /// Milliseconds on the clock the PMDs use for rule and megaflow times.
    fn now_ms(&self) -> u64 {
        rdtsc() / self.tsc_per_ms
    }

    fn bridge_named(&self, name: &str) -> Result<usize, String> {
        self.bridge_index(name).ok_or_else(|| format!("no bridge named {name:?}"))
    }

    fn dump_flows(&mut self, bridge: &str, selector: Option<&str>) -> Result<DumpFlowsReply, String> {
        let b = self.bridge_named(bridge)?;
        let selector = parse_dump_flows(selector.unwrap_or("")).map_err(|e| e.to_string())?;
        let now = self.now_ms();
        let flows = self.select_flows(b, &selector).iter().map(|entry| entry.dump_line(now)).collect();
        Ok(DumpFlowsReply { flows })
    }

    /// The rules of a bridge a selector selects, in dump order: what every dump (vsctl
    /// dump-flows, OpenFlow flow and aggregate stats) reads.
    fn select_flows(&self, bridge: usize, selector: &FlowSelector) -> Vec<Arc<RuleEntry>> {
        self.bridges[bridge].tables.dump(selector)
    }

    /// Applies flow operations to a bridge atomically and publishes them as one datapath
    /// version: what every flow change (configuration aside) goes through - vsctl add-flow(s),
    /// mod-flows, del-flows and OpenFlow flow_mods.
    /// `origin`: the OpenFlow request, for the flow monitors (None: vsctl, the switch).
    fn apply_flow_ops(
        &mut self,
        bridge: usize,
        ops: Vec<FlowOp>,
        origin: Option<Requester>,
    ) -> Result<ApplyOutcome, FlowOpsError> {
        self.apply_flow_op_batches(vec![(bridge, ops, origin)])
            .pop()
            .unwrap_or_else(|| Err(FlowOpsError::NotPublished("nothing applied".into())))
    }

    /// Applies several batches of flow operations, each atomically and on its own (one
    /// refused batch leaves the others), and publishes them all as one datapath version: the
    /// flow_mods OpenFlow connections queued up meanwhile cost one version, not one each. Each
    /// batch is one change for the flow monitors, made by its requester (None: vsctl).
    fn apply_flow_op_batches(
        &mut self,
        batches: Vec<(usize, Vec<FlowOp>, Option<Requester>)>,
    ) -> Vec<Result<ApplyOutcome, FlowOpsError>> {
        let now = self.now_ms();
        let mut results: Vec<(usize, Result<ApplyOutcome, FlowOpsError>)> = batches
            .into_iter()
            .map(|(bridge, ops, origin)| {
                // What changed before this batch is not its requester's.
                self.close_change(bridge, None);
                let applied = check_meters(&self.bridges[bridge].meters, &ops)
                    .and_then(|()| self.bridges[bridge].tables.apply(ops, now))
                    .map_err(FlowOpsError::Refused);
                self.close_change(bridge, origin);
                (bridge, applied)
            })
            .collect();
        if results.iter().any(|(_, result)| result.is_ok()) {
            if let Err(e) = self.publish() {
                for (_, result) in &mut results {
                    if result.is_ok() {
                        *result = Err(FlowOpsError::NotPublished(e.clone()));
                    }
                }
            }
        }
        for (bridge, result) in &results {
            for entry in result.iter().flat_map(|outcome| &outcome.removed) {
                self.push_flow_removed(*bridge, entry, FlowRemovedReason::Delete);
            }
        }
        results.into_iter().map(|(_, result)| result).collect()
    }

    /// `apply_flow_ops` for the control socket: its reply and error text.
    fn apply_flow_ops_text(&mut self, bridge: usize, ops: Vec<FlowOp>) -> Result<FlowModReply, String> {
        match self.apply_flow_ops(bridge, ops, None) {
            Ok(outcome) => Ok(FlowModReply {
                added: outcome.added,
                replaced: outcome.replaced,
                modified: outcome.modified,
                removed: outcome.removed.len(),
            }),
            Err(FlowOpsError::Refused(e)) => Err(format!("flow {}: {}", e.index + 1, e.error)),
            Err(FlowOpsError::NotPublished(e)) => Err(e),
        }
    }

    fn add_flows(&mut self, bridge: &str, flows: &[String]) -> Result<FlowModReply, String> {
        let b = self.bridge_named(bridge)?;
        let mut ops = Vec::with_capacity(flows.len());
        for (i, text) in flows.iter().enumerate() {
            let rule = parse_add_flow(text).map_err(|e| format!("flow {}: {e}", i + 1))?;
            ops.push(FlowOp::Add { rule, flags: FlowModFlags::default() });
        }
        self.apply_flow_ops_text(b, ops)
    }

    fn mod_flows(&mut self, bridge: &str, flow: &str, strict: bool) -> Result<FlowModReply, String> {
        let b = self.bridge_named(bridge)?;
        let modification = parse_mod_flows(flow, strict).map_err(|e| e.to_string())?;
        self.apply_flow_ops_text(b, vec![FlowOp::Modify(modification)])
    }

    fn del_flows(&mut self, bridge: &str, selector: Option<&str>, strict: bool) -> Result<FlowModReply, String> {
        let b = self.bridge_named(bridge)?;
        let selector = parse_del_flows(selector.unwrap_or(""), strict).map_err(|e| e.to_string())?;
        self.apply_flow_ops_text(b, vec![FlowOp::Delete(selector)])
    }

    fn fdb_add(&mut self, bridge: &str, port: &str, vlan: u16, mac: &str) -> Result<serde_json::Value, String> {
        let b = self.bridge_named(bridge)?;
        let ofport = self
            .ports
            .iter()
            .find(|p| p.bridge == b && p.config.name == port)
            .map(|p| p.ofport)
            .ok_or_else(|| format!("bridge {bridge} has no port named {port:?}"))?;
        let mac = parse_mac(mac)?;
        self.bridges[b].add_static_mac(vlan & vlan::VID_MASK, mac, ofport);
        self.publish()?;
        Ok(serde_json::Value::Null)
    }

    fn fdb_show(&self, bridge: &str) -> Result<FdbShowReply, String> {
        let b = self.bridge_named(bridge)?;
        let state = &self.bridges[b];
        let now = self.now_ms();
        let port_name = |ofport: u32| match ofport {
            ofport if ofport == OfPort::LOCAL.0 => "LOCAL".to_string(),
            ofport => self
                .ports
                .iter()
                .find(|p| p.bridge == b && p.ofport == ofport)
                .map_or_else(|| ofport.to_string(), |p| p.config.name.clone()),
        };
        let counters = state.mac_counters;
        Ok(FdbShowReply {
            bridge: state.name.clone(),
            aging_s: state.mac_aging_ms / 1000,
            limit: state.mac_table_size,
            entries: state
                .mac_entries()
                .into_iter()
                .map(|entry| FdbEntryInfo {
                    port: port_name(entry.ofport),
                    vlan: entry.vlan,
                    mac: mac_text(entry.mac),
                    age_ms: entry.last_seen_ms.map(|seen| now.saturating_sub(seen)),
                })
                .collect(),
            learned: counters.learned,
            moved: counters.moved,
            aged: counters.aged,
            evicted: counters.evicted,
        })
    }

    /// Periodic work of the management thread: link state changes (port liveness is part of
    /// the datapath: group buckets watch it), rule timeouts, MAC aging and fail-open.
    pub fn tick(&mut self) {
        let now = self.now_ms();
        let mut changed = false;
        for b in 0..self.bridges.len() {
            let (bridge_changed, expired) = self.bridges[b].expire(now);
            changed |= bridge_changed;
            for gone in expired {
                let reason = match gone.reason {
                    Timeout::Idle => FlowRemovedReason::IdleTimeout,
                    Timeout::Hard => FlowRemovedReason::HardTimeout,
                };
                self.push_flow_removed(b, &gone.entry, reason);
            }
        }
        changed |= self.follow_miss_listeners();
        self.resume_flow_monitors();
        changed |= self.tick_neighbours(now);
        changed |= self.tick_vteps(now);
        if let Some(openflow) = &self.openflow {
            for bridge in &mut self.bridges {
                let fail_open = openflow.fail_open(&bridge.name);
                if fail_open != bridge.fail_open {
                    if fail_open {
                        tracing::warn!(bridge = %bridge.name, "no controller: fail-open, forwarding as a learning switch");
                    } else {
                        tracing::info!(bridge = %bridge.name, "controller connected: fail-open ends, the flow tables decide");
                    }
                    bridge.fail_open = fail_open;
                    changed = true;
                }
            }
        }
        for i in 0..self.ports.len() {
            let port = &mut self.ports[i];
            let link = port.link();
            if link != port.link {
                tracing::info!(
                    port = %port.config.name,
                    up = link.up,
                    speed_mbps = link.speed_mbps,
                    "link {}",
                    if link.up { "up" } else { "down" }
                );
                changed |= link.up != port.link.up;
                port.link = link;
                self.push_port_status(i, PortReason::Modify);
            }
        }
        if changed {
            if let Err(e) = self.publish() {
                tracing::error!("expiry, fail-open or link change not published: {e}");
            }
        }
    }

    /// Makes every bridge send table misses to the controllers while one of its connections
    /// wants them (OpenFlow 1.0), and drop them otherwise; returns whether a bridge changed
    /// (the caller publishes: the choice is part of the translations the PMDs cache).
    pub(super) fn follow_miss_listeners(&mut self) -> bool {
        let Some(openflow) = &self.openflow else { return false };
        let mut changed = false;
        for bridge in &mut self.bridges {
            let wanted = openflow.wants_misses(&bridge.name);
            if wanted != bridge.miss_to_controller {
                tracing::info!(bridge = %bridge.name, to_controller = wanted, "table misses change");
                bridge.miss_to_controller = wanted;
                changed = true;
            }
        }
        changed
    }

    /// Adds a port at run time: it forwards as soon as this returns.
    pub fn add_port(&mut self, bridge: &str, config: PortConfig) -> Result<(), String> {
        self.attach_port(bridge, &config)?;
        self.publish()?;
        self.push_port_status(self.ports.len() - 1, PortReason::Add);
        Ok(())
    }

    /// Removes a port at run time without disturbing the others (a bridge's LOCAL interface
    /// stays: it belongs to the bridge).
    pub fn del_port(&mut self, name: &str) -> Result<(), String> {
        let index =
            self.ports.iter().position(|p| p.config.name == name).ok_or_else(|| format!("no port named {name:?}"))?;
        if self.ports[index].ofport == OfPort::LOCAL.0 {
            return Err(format!(
                "{name:?} is the LOCAL interface of bridge {}: it comes and goes with the bridge's local_interface",
                self.bridges[self.ports[index].bridge].name
            ));
        }
        self.push_port_status(index, PortReason::Delete);
        let port = self.ports.remove(index);
        let id = port.dp_port;
        self.bridges[port.bridge].forget_port(port.ofport);
        if port.eth.is_some() {
            self.rxq_owner.retain(|&(p, _), _| p != id);
            for handover in &mut self.handovers {
                handover.removed_ports.push(id);
            }
        }
        let result = self.publish();
        if result.is_ok() {
            drop(port); // stops and removes the device
            tracing::info!(port = name, "port removed");
        } else {
            self.unsafe_to_close.push(port);
        }
        result
    }

    /// Stops the PMDs, then closes every port (vhost sockets are removed).
    pub fn shutdown(&mut self) {
        for pmd in &mut self.pmds {
            pmd.stop();
        }
        self.pmds.clear();
        self.retired.clear();
        self.current = Arc::new(Datapath::default());
        self.ports.clear();
        self.unsafe_to_close.clear();
    }

    fn bridge_index(&self, name: &str) -> Option<usize> {
        self.bridges.iter().position(|b| b.name == name)
    }

    /// Checks a configured port, gives it its ofport (the first free one unless it names
    /// one), then attaches it; the datapath learns of it at the next `publish`.
    fn attach_port(&mut self, bridge_name: &str, config: &PortConfig) -> Result<(), String> {
        config.validate()?;
        let bridge = self.bridge_index(bridge_name).ok_or_else(|| format!("no bridge named {bridge_name:?}"))?;
        let used: Vec<u32> = self.ports.iter().filter(|p| p.bridge == bridge).map(|p| p.ofport).collect();
        let ofport = match config.ofport {
            Some(n) if used.contains(&n) => {
                return Err(format!("ofport {n} is taken in bridge {bridge_name}"));
            }
            Some(n) => n,
            None => (1..).find(|n| !used.contains(n)).unwrap_or(1),
        };
        self.attach(bridge, config, ofport, None)
    }

    /// Probes and starts port `config` as `ofport` of bridge `bridge` and records it (an
    /// internal port's kernel interface gets `mac`, if given); the datapath learns of it at
    /// the next `publish`.
    fn attach(&mut self, bridge: usize, config: &PortConfig, ofport: u32, mac: Option<[u8; 6]>) -> Result<(), String> {
        let bridge_name = self.bridges[bridge].name.clone();
        let bridge_name = bridge_name.as_str();
        if self.ports.iter().chain(&self.unsafe_to_close).any(|p| p.config.name == config.name) {
            return Err(format!("a port named {:?} exists already", config.name));
        }
        if self.ports.len() + self.unsafe_to_close.len() >= MAX_PORTS {
            return Err(format!("at most {MAX_PORTS} ports"));
        }
        if let Some(mtu) = config.mtu {
            if !self.pool.fits_mtu(mtu) {
                return Err(format!(
                    "MTU {mtu} does not fit the {}-byte packet buffers; configure the largest MTU at start",
                    self.pool.data_room()
                ));
            }
        }
        if let crate::config::PortKind::VhostUser { path } = &config.kind {
            crate::unix_socket::claim(path, "vhost-user socket")?;
        }
        port::check_interface_free(config)?;
        let Some(devargs) = port::devargs(config, self.next_vdev_index, mac) else {
            // A tunnel or patch port: no device, a datapath port number of its own.
            let dp_port =
                self.free_virtual_dp_port().ok_or("no datapath port number left for a port without a device")?;
            let baseline = self.port_totals(&self.all_pmd_counters(), dp_port);
            tracing::info!(port = %config.name, bridge = bridge_name, ofport, dp_port, kind = config.kind.type_name(), "port added");
            let mut config = config.clone();
            config.ofport = Some(ofport);
            let link = Link { up: true, ..Link::default() };
            self.ports.push(Port {
                config,
                bridge,
                ofport,
                eth: None,
                dp_port,
                baseline,
                link,
                added: Instant::now(),
                flags: PortFlags::default(),
            });
            return Ok(());
        };
        self.next_vdev_index += 1;
        let mut eth = EthPort::probe(&devargs).map_err(|e| e.to_string())?;
        let setup = PortSetup {
            rx_queues: config.rx_queues,
            tx_queues: u16::try_from(self.pmds.len()).unwrap_or(u16::MAX),
            rxq_size: config.rxq_size,
            txq_size: config.txq_size,
            mtu: config.mtu,
        };
        let queues = eth.configure_and_start(&setup, &self.pool).map_err(|e| e.to_string())?;
        let id = eth.id();
        for rxq in queues.rx {
            let owner = self.least_loaded_pmd();
            self.rxq_owner.insert((id, rxq.queue()), owner);
            if let Some(handover) = self.handovers.get_mut(owner) {
                handover.rx.push(rxq);
            }
        }
        self.hand_out_tx_queues(queues.tx);
        let baseline = self.port_totals(&self.all_pmd_counters(), id);
        let link = eth.link();
        tracing::info!(
            port = %config.name,
            bridge = bridge_name,
            ofport,
            dpdk_port = id,
            driver = %eth.info().driver,
            rxq = eth.rx_queues(),
            txq = eth.tx_queues(),
            "port added"
        );
        let mut config = config.clone();
        config.ofport = Some(ofport);
        self.ports.push(Port {
            config,
            bridge,
            ofport,
            eth: Some(eth),
            dp_port: id,
            baseline,
            link,
            added: Instant::now(),
            flags: PortFlags::default(),
        });
        Ok(())
    }

    /// Gives PMD i transmit queue i % n of a port with n tx queues: its own where no other PMD
    /// sends on that queue, shared under a lock where PMDs outnumber the queues.
    fn hand_out_tx_queues(&mut self, queues: Vec<TxQueue>) {
        let n_queues = queues.len();
        let n_pmds = self.handovers.len();
        for (index, queue) in queues.into_iter().enumerate() {
            let users: Vec<usize> = (0..n_pmds).filter(|pmd| pmd % n_queues == index).collect();
            match users.as_slice() {
                // More queues than PMDs: nobody sends on it.
                [] => {}
                &[only] => self.handovers[only].tx.push(TxTarget::Own(queue)),
                several => {
                    let shared = Arc::new(SharedTxQueue::new(queue));
                    for &pmd in several {
                        self.handovers[pmd].tx.push(TxTarget::Shared(shared.clone()));
                    }
                }
            }
        }
    }

    /// The lowest datapath port number above the DPDK ports that no port or LOCAL port uses.
    fn free_virtual_dp_port(&self) -> Option<u16> {
        let used = |dp: u16| {
            self.ports.iter().chain(&self.unsafe_to_close).any(|p| p.dp_port == dp)
                || self.bridges.iter().any(|b| b.local_dp == Some(dp))
        };
        (MAX_PORTS..MAX_DP_PORTS).filter_map(|dp| u16::try_from(dp).ok()).find(|&dp| !used(dp))
    }

    fn least_loaded_pmd(&self) -> usize {
        (0..self.pmds.len())
            .min_by_key(|&pmd| self.rxq_owner.values().filter(|&&owner| owner == pmd).count())
            .unwrap_or(0)
    }

    fn build_datapath(&mut self, version: u64) -> Datapath {
        let n_pmds = self.pmds.len();
        let mut rule_changes = Vec::with_capacity(self.bridges.len());
        let mut underlay_changes = Vec::with_capacity(self.bridges.len());
        let bridges: Vec<Arc<BridgeDp>> = (0..self.bridges.len())
            .map(|b| {
                let mut ports: Vec<BridgePort> = self
                    .ports
                    .iter()
                    .filter(|p| p.bridge == b)
                    .map(|p| BridgePort {
                        ofport: p.ofport,
                        dp_port: p.dp_port,
                        vlan_mode: VlanMode::from(&p.config),
                        live: p.link.up,
                        flags: p.flags,
                        tunnel: p.tunnel().map(|t| Arc::new(t.clone())),
                        patch: self.patch_peer(p),
                        mtu: p.mtu(),
                    })
                    .collect();
                let bridge = &mut self.bridges[b];
                if let Some(local_dp) = bridge.local_dp {
                    ports.push(BridgePort::trunk(OfPort::LOCAL.0, local_dp));
                }
                // (A new neighbour snapshot marks the underlay changed: taken first.)
                let neighbours = bridge.neighbour_snapshot();
                rule_changes.push(bridge.take_rule_changes());
                underlay_changes.push(std::mem::take(&mut bridge.underlay_changed));
                Arc::new(BridgeDp {
                    name: bridge.name.clone(),
                    tables: bridge.tables_snapshot(),
                    ports,
                    macs: bridge.mac_snapshot(),
                    packet_in_limit: bridge.packet_in_limit,
                    meters: bridge.meters.snapshot(),
                    miss_to_controller: bridge.miss_to_controller,
                    mac: bridge.mac,
                    addresses: bridge.addresses.iter().map(|a| a.addr).collect(),
                    local_dp: bridge.local_dp,
                    neighbours,
                })
            })
            .collect();
        let decaps = self.decaps(&bridges);
        let mut pmd_rxqs: Vec<Vec<RxqWork>> = vec![Vec::new(); n_pmds];
        for port in &self.ports {
            let id = port.dp_port;
            let decap = decaps
                .get(port.bridge)
                .and_then(Option::as_ref)
                .map(|decap| Arc::new(Decap { mtu: port.mtu(), ..decap.clone() }));
            let fixed = if decap.is_some() { None } else { fixed_actions(&bridges, port.bridge, id) };
            for queue in 0..port.rx_queues() {
                let owner = self.rxq_owner.get(&(id, queue)).copied().unwrap_or(0);
                if let Some(list) = pmd_rxqs.get_mut(owner) {
                    list.push(RxqWork {
                        port: id,
                        queue,
                        bridge: port.bridge,
                        fixed: fixed.clone(),
                        decap: decap.clone(),
                    });
                }
            }
        }
        let mut changes = self.changes_from_current(&bridges, rule_changes);
        for (changes, underlay) in changes.bridges.iter_mut().zip(underlay_changes) {
            changes.underlay |= underlay;
        }
        if std::mem::take(&mut self.tlv_map_changed) {
            // Where options go in keys and what outputs send: every cached flow is checked.
            changes.bridges.fill(BridgeChanges::everything());
        }
        let vteps = self.vtep_snapshot();
        self.vtep_changes(&vteps, &mut changes);
        Datapath { version, pmd_rxqs, bridges, changes, routes: Arc::clone(&self.routes), vteps }
    }

    /// The other end of patch port `port`: a patch port of another bridge naming it back.
    fn patch_peer(&self, port: &Port) -> Option<PatchPeer> {
        let PortKind::Patch { peer } = &port.config.kind else { return None };
        self.ports
            .iter()
            .find(|p| {
                p.config.name == *peer
                    && p.bridge != port.bridge
                    && matches!(&p.config.kind, PortKind::Patch { peer } if *peer == port.config.name)
            })
            .map(|p| PatchPeer { bridge: p.bridge, dp_port: p.dp_port })
            // No peer (yet): output to it goes nowhere (no such bridge).
            .or(Some(PatchPeer { bridge: usize::MAX, dp_port: NO_DP_PORT }))
    }

    /// Per bridge: what its rx queues need to terminate tunnels (bridges with addresses, while
    /// tunnel ports exist), but for the port's MTU.
    fn decaps(&self, bridges: &[Arc<BridgeDp>]) -> Vec<Option<Decap>> {
        let mut receivers: Vec<TunnelReceiver> = self
            .ports
            .iter()
            .filter_map(|p| {
                let tunnel = p.tunnel()?;
                Some(TunnelReceiver {
                    kind: tunnel.kind,
                    dst_port: tunnel.dst_port,
                    remote: match tunnel.remote_ip {
                        // A flood-and-learn port receives from any VTEP.
                        _ if tunnel.flood.is_some() => None,
                        TunnelAddress::Fixed(addr) => Some(addr),
                        TunnelAddress::Flow => None,
                    },
                    group: match tunnel.flood.as_ref().map(|flood| &flood.to) {
                        Some(FloodTo::Group(group)) => Some(*group),
                        _ => None,
                    },
                    local: match tunnel.local_ip {
                        Some(TunnelAddress::Fixed(addr)) => Some(addr),
                        _ => None,
                    },
                    in_key: match tunnel.in_key {
                        TunnelKey::Fixed(key) => Some(key),
                        TunnelKey::Flow => None,
                    },
                    gbp: tunnel.gbp,
                    bridge: p.bridge,
                    dp_port: p.dp_port,
                })
            })
            .collect();
        if receivers.is_empty() {
            return vec![None; bridges.len()];
        }
        receivers.sort_by_key(|r| std::cmp::Reverse(r.specificity()));
        let mut ports = UdpTunnelPorts::new();
        for r in &receivers {
            if r.kind != TunnelKind::Gre {
                ports.add(r.dst_port, r.kind);
            }
        }
        ports.map_geneve_options(self.tlv_map.mappings());
        // Packets to a flood-and-learn port's group are accepted by every underlay bridge.
        let groups: Vec<IpAddr> = receivers.iter().filter_map(|r| r.group).collect();
        bridges
            .iter()
            .map(|b| {
                (!b.addresses.is_empty()).then(|| Decap {
                    ports: ports.clone(),
                    locals: b.addresses.clone(),
                    groups: groups.clone(),
                    receivers: receivers.clone(),
                    mtu: 0,
                })
            })
            .collect()
    }

    /// What changed from the current version's bridges to `bridges`, whose rule changes
    /// since then are `rule_changes`.
    fn changes_from_current(
        &self,
        bridges: &[Arc<BridgeDp>],
        rule_changes: Vec<Option<Vec<RuleChange>>>,
    ) -> VersionChanges {
        let old = &self.current.bridges;
        let changes = bridges
            .iter()
            .zip(rule_changes)
            .enumerate()
            .map(|(b, (new, rules))| match old.get(b) {
                Some(old) if old.name == new.name => BridgeChanges::between(&old.view(), &new.view(), rules),
                _ => BridgeChanges::everything(),
            })
            .collect();
        VersionChanges { from_version: self.current.version, bridges: changes }
    }

    /// Hands a new datapath version to every PMD and waits (bounded) until
    /// all run it; then the previous versions are freed here, and the flow monitors hear of
    /// the rule changes.
    fn publish(&mut self) -> Result<(), String> {
        let published = self.publish_version();
        self.report_rule_changes();
        published
    }

    fn publish_version(&mut self) -> Result<(), String> {
        let version = self.current.version + 1;
        let next = Arc::new(self.build_datapath(version));
        for (pmd, handover) in self.pmds.iter().zip(&mut self.handovers) {
            pmd.send(PmdCommand::Install(next.clone(), std::mem::take(handover)))?;
        }
        let previous = std::mem::replace(&mut self.current, next);
        self.retired.push(previous);
        let started = Instant::now();
        let mut warned = false;
        while self.pmds.iter().any(|pmd| pmd.acked_version() < version) {
            let waited = started.elapsed();
            if waited > QUIESCE_LIMIT {
                let stuck: Vec<usize> =
                    self.pmds.iter().filter(|p| p.acked_version() < version).map(|p| p.shared.core).collect();
                tracing::error!(?stuck, "PMDs did not quiesce within {QUIESCE_LIMIT:?}");
                return Err(format!("PMDs on cores {stuck:?} did not take the new datapath"));
            }
            if !warned && waited > QUIESCE_WARN {
                tracing::warn!(version, "waiting for PMDs to quiesce for more than {QUIESCE_WARN:?}");
                warned = true;
            }
            std::thread::sleep(Duration::from_micros(20));
        }
        let waited = started.elapsed();
        if warned {
            tracing::warn!(version, ?waited, "PMDs quiesced");
        } else {
            tracing::debug!(version, ?waited, "datapath version published");
        }
        self.retired.clear();
        Ok(())
    }

    fn all_pmd_counters(&self) -> Vec<PmdCounters> {
        self.pmds.iter().map(|p| p.shared.counters.read()).collect()
    }

    fn port_totals(&self, counters: &[PmdCounters], id: u16) -> PortCounterTotals {
        let mut totals = PortCounterTotals::default();
        for c in counters {
            totals.rx += c.port_rx_packets(id);
            totals.tx += c.port_tx_packets(id);
            for (i, reason) in DropReason::ALL.iter().enumerate() {
                totals.drops[i] += c.port_drops(id, *reason);
            }
        }
        totals
    }

    fn show(&self) -> ShowReply {
        let bridges = self
            .bridges
            .iter()
            .enumerate()
            .map(|(b, bridge)| {
                let mut ports: Vec<PortInfo> = self
                    .ports
                    .iter()
                    .filter(|p| p.bridge == b)
                    .map(|p| PortInfo {
                        name: p.config.name.clone(),
                        ofport: p.ofport,
                        kind: port::kind_name(&p.config.kind).to_owned(),
                        target: port::target(&p.config),
                        dpdk_port_id: p.dp_port,
                        link_up: p.link.up,
                        speed_mbps: p.link.speed_mbps,
                        mac: mac_text(p.mac()),
                        mtu: p.mtu(),
                        rx_queues: p.rx_queues(),
                        tx_queues: p.tx_queues(),
                        options: match &p.config.kind {
                            PortKind::Tunnel(tunnel) => tunnel.to_options(),
                            PortKind::Patch { peer } => BTreeMap::from([("peer".to_owned(), peer.clone())]),
                            _ => BTreeMap::new(),
                        },
                    })
                    .collect();
                let addresses: Vec<String> =
                    bridge.addresses.iter().map(|a| format!("{}/{}", a.addr, a.prefix.len)).collect();
                // An underlay bridge's LOCAL port (the switch's own stack), as Open vSwitch lists
                // a bridge's internal port: named after the bridge.
                if let Some(local_dp) = bridge.local_dp {
                    ports.push(PortInfo {
                        name: bridge.name.clone(),
                        ofport: OfPort::LOCAL.0,
                        kind: port::LOCAL_KIND.to_owned(),
                        target: addresses.join(","),
                        dpdk_port_id: local_dp,
                        link_up: true,
                        speed_mbps: 0,
                        mac: mac_text(bridge.mac),
                        mtu: 0,
                        rx_queues: 0,
                        tx_queues: 0,
                        options: BTreeMap::new(),
                    });
                }
                BridgeInfo {
                    name: bridge.name.clone(),
                    datapath_id: format!("{:016x}", bridge.datapath_id),
                    n_flows: bridge.tables.len(),
                    ports,
                    mac: bridge.local_dp.map(|_| mac_text(bridge.mac)),
                    addresses,
                }
            })
            .collect();
        ShowReply { bridges }
    }

    fn port_stats(&self, only: Option<&str>) -> Result<PortStatsReply, String> {
        if let Some(name) = only {
            if !self.ports.iter().any(|p| p.config.name == name) {
                return Err(format!("no port named {name:?}"));
            }
        }
        let counters = self.all_pmd_counters();
        let ports = self
            .ports
            .iter()
            .filter(|p| only.is_none_or(|name| p.config.name == name))
            .map(|p| {
                let device = p.stats();
                let totals = self.port_totals(&counters, p.dp_port);
                let drops: BTreeMap<String, u64> = DropReason::ALL
                    .iter()
                    .enumerate()
                    .map(|(i, r)| (r.name().to_owned(), totals.drops[i].saturating_sub(p.baseline.drops[i])))
                    .collect();
                let (rx_packets, tx_packets) = p.packets(&device, &totals);
                PortStats {
                    name: p.config.name.clone(),
                    bridge: self.bridges[p.bridge].name.clone(),
                    ofport: p.ofport,
                    rx_packets,
                    rx_bytes: device.rx_bytes,
                    tx_packets,
                    tx_bytes: device.tx_bytes,
                    rx_missed: device.rx_missed + device.rx_nombuf,
                    rx_errors: device.rx_errors,
                    tx_errors: device.tx_errors,
                    drops,
                }
            })
            .collect();
        Ok(PortStatsReply { ports })
    }

    fn pmd_stats(&self) -> PmdStatsReply {
        let pmds = self
            .pmds
            .iter()
            .map(|pmd| {
                let c = pmd.shared.counters.read();
                let packets = c.get(PmdCounter::Packets);
                let bursts = c.get(PmdCounter::Bursts);
                let busy = c.get(PmdCounter::BusyCycles);
                let idle = c.get(PmdCounter::IdleCycles);
                PmdStats {
                    core: pmd.shared.core,
                    iterations: c.get(PmdCounter::Iterations),
                    packets,
                    bursts,
                    busy_cycles: busy,
                    idle_cycles: idle,
                    sleeps: c.get(PmdCounter::Sleeps),
                    cycles_per_packet: ratio(busy, packets),
                    packets_per_burst: ratio(packets, bursts),
                    busy_pct: 100.0 * ratio(busy, busy + idle),
                    repeat_hits: c.get(PmdCounter::RepeatHits),
                    emc_hits: c.get(PmdCounter::EmcHits),
                    emc_bypass: c.get(PmdCounter::EmcBypass) != 0,
                    megaflow_hits: c.get(PmdCounter::MegaflowHits),
                    upcalls: c.get(PmdCounter::Upcalls),
                    upcall_cycles: c.get(PmdCounter::UpcallCycles),
                    megaflows: c.get(PmdCounter::Megaflows),
                    subtable_lookups_per_hit: ratio(
                        c.get(PmdCounter::SubtableLookups),
                        c.get(PmdCounter::MegaflowHits),
                    ),
                    cache_flushes: c.get(PmdCounter::CacheFlushes),
                    revalidations: c.get(PmdCounter::Revalidations),
                    megaflows_revalidated: c.get(PmdCounter::MegaflowsRevalidated),
                    megaflows_invalidated: c.get(PmdCounter::MegaflowsInvalidated),
                    version_switch_max_cycles: c.get(PmdCounter::VersionSwitchMaxCycles),
                    packet_ins: c.get(PmdCounter::PacketIns),
                    packet_outs: c.get(PmdCounter::PacketOuts),
                    tunnel_held: c.get(PmdCounter::TunnelHeld),
                }
            })
            .collect();
        PmdStatsReply { tsc_hz: self.eal.tsc_hz(), pmds }
    }

    fn rxq_show(&self) -> RxqReply {
        let pmds = self
            .pmds
            .iter()
            .enumerate()
            .map(|(index, pmd)| {
                let mut rxqs: Vec<RxqInfo> = self
                    .ports
                    .iter()
                    .flat_map(|p| {
                        (0..p.rx_queues())
                            .filter(move |q| self.rxq_owner.get(&(p.dp_port, *q)) == Some(&index))
                            .map(move |queue| RxqInfo { port: p.config.name.clone(), queue })
                    })
                    .collect();
                rxqs.sort_by(|a, b| (&a.port, a.queue).cmp(&(&b.port, b.queue)));
                PmdRxqs { core: pmd.shared.core, rxqs }
            })
            .collect();
        RxqReply { pmds }
    }
}

impl Drop for Switch {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

/// The decision for every packet of a port, when the bridge's pipeline
/// gives the same one whatever the packet holds (the megaflow's mask is
/// in_port alone), learns nothing and only outputs or drops.
fn fixed_actions(bridges: &[Arc<BridgeDp>], index: usize, dp_port: u16) -> Option<Arc<FlowActions>> {
    let bridge = bridges.get(index)?;
    let mut key = FlowKey::default();
    key.set_u64(Field::InPort, u64::from(dp_port));
    let translation = translate(&bridge.view(), &key, false);
    let mut in_port_only = FlowKey::default();
    in_port_only.set_all_ones(Field::InPort);
    // Outputs to devices only: a tunnel output or LOCAL needs the general path.
    let only_outputs =
        translation.actions.iter().all(|a| matches!(a, DpAction::Output(p) if usize::from(*p) < MAX_PORTS));
    if translation.wildcards != in_port_only
        || !only_outputs
        || translation.tunnel_miss.is_some()
        || translation.stop.is_some()
        || !translation.learned_rules.is_empty()
        || !translation.learned_macs.is_empty()
        || !translation.learned_elsewhere.is_empty()
        || !translation.keep_alive.is_empty()
    {
        return None;
    }
    Some(Arc::new(FlowActions::from_translation(index, translation)))
}

fn reply<T: serde::Serialize>(result: Result<T, String>) -> Reply {
    match result {
        Ok(value) => Reply::success(&value),
        Err(e) => Reply::failure(e),
    }
}

/// `aa:bb:cc:dd:ee:ff`, as show prints a MAC.
fn mac_text(mac: [u8; 6]) -> String {
    mac.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":")
}

/// `aa:bb:cc:dd:ee:ff`.
fn parse_mac(text: &str) -> Result<[u8; 6], String> {
    let parts: Vec<&str> = text.split(':').collect();
    if parts.len() != 6 {
        return Err(format!("{text:?} is not a MAC address (aa:bb:cc:dd:ee:ff)"));
    }
    let mut mac = [0u8; 6];
    for (byte, part) in mac.iter_mut().zip(parts) {
        *byte = u8::from_str_radix(part, 16).map_err(|_| format!("{text:?} is not a MAC address"))?;
    }
    Ok(mac)
}
