//! The forwarding state the PMD threads run on. The management thread builds
//! a new immutable `Datapath` for every change (ports, rules, MAC table,
//! rx-queue placement) and hands it to each PMD, which switches at its next
//! quiescent point (the top of a poll iteration) and revalidates its caches against what
//! changed since the previous version (`revalidate`), or flushes them; with
//! a version that adds or removes ports go the queue handles a PMD takes over
//! or gives up (`QueueHandover`), which only that PMD holds. See `pmd` and
//! `switch`.
#![forbid(unsafe_code)]
use std::net::IpAddr;
use std::sync::Arc;

use hashbrown::HashMap;

use crate::config::PacketInLimit;
use crate::dpdk::ethdev::{RxQueue, SharedTxQueue, TxQueue};
use crate::dpdk::mbuf::{RxBurst, TxBatch};
use crate::pipeline::dependencies::Dependencies;
use crate::pipeline::group::GroupHit;
use crate::pipeline::keepalive::LastSeen;
use crate::pipeline::meter::Meter;
use crate::pipeline::table::{RuleEntry, TableLookups, TablesSnapshot};
use crate::pipeline::xlate::{
    Bridge, BridgePort, DpAction, MacTable, Translation, TunnelMiss, TunnelPush, Underlay, UnderlayPath, XlateStop,
};
use crate::pmd::stats::DropReason;
use crate::revalidate::VersionChanges;
use crate::tunnel::header::{classify_outer_into, Classified, TunnelMetadata, UdpTunnelPorts};
use crate::tunnel::route::RouteTable;
use crate::tunnel::vtep::{multicast_mac, LearnedVteps, VtepEntry};
use crate::tunnel::{ResolvedNeighbour, TunnelKind};

/// Highest DPDK port id + 1 (RTE_MAX_ETHPORTS of the system DPDK).
pub const MAX_PORTS: usize = dpdk_sys::RTE_MAX_ETHPORTS as usize;

// A PMD keeps the ports with buffered packets in a 64-bit mask.
const _: () = assert!(MAX_PORTS <= 64, "RTE_MAX_ETHPORTS above 64: the PMD's pending-port mask is a u64");

/// Datapath port numbers: DPDK port ids below `MAX_PORTS`, then the ports without a device
/// (tunnel ports, bridges' LOCAL ports) up to this bound; per-port counters cover them all.
pub const MAX_DP_PORTS: usize = 64;

/// One version of the forwarding state.
#[derive(Debug, Default)]
pub struct Datapath {
    pub version: u64,
    /// Per PMD (by index): the rx queues it polls (it holds their handles).
    pub pmd_rxqs: Vec<Vec<RxqWork>>,
    /// The bridges' pipelines; `RxqWork::bridge` indexes this.
    pub bridges: Vec<Arc<BridgeDp>>,
    /// What changed since version `changes.from_version`, for the PMDs' caches (no bridge:
    /// nothing can be kept, as in the default).
    pub changes: VersionChanges,
    /// The underlay routes of tunnel outputs (their `bridge` names one of `bridges`).
    pub routes: Arc<RouteTable>,
    /// What the flood-and-learn VTEPs learned (`tunnel::vtep`).
    pub vteps: Arc<LearnedVteps>,
}

/// What the slow path of one bridge reads.
#[derive(Debug, Default)]
pub struct BridgeDp {
    pub name: String,
    pub tables: TablesSnapshot,
    pub ports: Vec<BridgePort>,
    pub macs: Arc<MacTable>,
    /// Packet-ins each PMD hands on at most.
    pub packet_in_limit: PacketInLimit,
    /// The bridge's meters, by id.
    pub meters: Vec<Arc<Meter>>,
    /// Table misses go to the controllers (an OpenFlow 1.0 connection wants them).
    pub miss_to_controller: bool,
    /// The bridge's own MAC (its LOCAL port's).
    pub mac: [u8; 6],
    /// The bridge's own addresses (tunnel endpoints).
    pub addresses: Vec<IpAddr>,
    /// The datapath port of its LOCAL port (bridges with addresses have one).
    pub local_dp: Option<u16>,
    /// Resolved next hops of tunnel packets sent through this bridge.
    pub neighbours: Arc<HashMap<IpAddr, ResolvedNeighbour>>,
}

impl BridgeDp {
    /// What the pipeline's translation reads of the bridge.
    pub fn view(&self) -> Bridge<'_> {
        Bridge {
            tables: &self.tables,
            ports: &self.ports,
            macs: &self.macs,
            miss_to_controller: self.miss_to_controller,
            underlay: None,
        }
    }

    /// `view`, with tunnel outputs routed through `datapath`'s underlay.
    pub fn view_in<'a>(&'a self, datapath: &'a Datapath) -> Bridge<'a> {
        Bridge { underlay: Some(datapath), ..self.view() }
    }
}

impl Underlay for Datapath {
    fn bridge_view(&self, index: usize) -> Option<Bridge<'_>> {
        self.bridges.get(index).map(|bridge| bridge.view_in(self))
    }

    fn resolve(&self, remote: IpAddr, local: Option<IpAddr>) -> Result<UnderlayPath<'_>, TunnelMiss> {
        if remote.is_multicast() {
            return self.resolve_group(remote, local);
        }
        let route = self.routes.lookup(&remote).ok_or(TunnelMiss::NoRoute)?;
        let index = self.bridges.iter().position(|b| b.name == route.bridge).ok_or(TunnelMiss::NoRoute)?;
        let bridge = &self.bridges[index];
        let local_dp = bridge.local_dp.ok_or(TunnelMiss::NoSourceAddress)?;
        let source = local
            .or(route.source)
            .or_else(|| bridge.addresses.iter().find(|a| a.is_ipv4() == remote.is_ipv4()).copied())
            .ok_or(TunnelMiss::NoSourceAddress)?;
        let nexthop = route.gateway.unwrap_or(remote);
        Ok(UnderlayPath {
            bridge: index,
            // The underlay bridge's own tunnel ports send nothing: no tunnel in a tunnel.
            view: bridge.view(),
            local_dp,
            mac: bridge.mac,
            source,
            nexthop,
            nexthop_mac: bridge.neighbours.get(&nexthop).map(|n| n.mac),
            nexthop_used: bridge.neighbours.get(&nexthop).map(|n| &n.used),
        })
    }

    fn learned_vtep(&self, dp_port: u16, mac: [u8; 6]) -> Option<&VtepEntry> {
        self.vteps.get(&(dp_port, mac))
    }

    fn routable_bridges(&self) -> u64 {
        self.bridges
            .iter()
            .enumerate()
            .filter(|(_, b)| b.local_dp.is_some())
            .fold(0, |bits, (index, _)| bits | 1 << (index % 64))
    }
}

impl Datapath {
    /// The underlay bridge a flood-and-learn port's group goes out of (and is joined on), and
    /// the source address: the bridge that has `local`, else the route to the group's, else the
    /// first bridge with an address of the group's family.
    pub fn group_bridge(&self, group: IpAddr, local: Option<IpAddr>) -> Option<(usize, IpAddr)> {
        let usable = |b: &BridgeDp| b.local_dp.is_some();
        if let Some(local) = local {
            let index = self.bridges.iter().position(|b| usable(b) && b.addresses.contains(&local))?;
            return Some((index, local));
        }
        let family = |b: &BridgeDp| b.addresses.iter().find(|a| a.is_ipv4() == group.is_ipv4()).copied();
        if let Some(route) = self.routes.lookup(&group) {
            let index = self.bridges.iter().position(|b| b.name == route.bridge && usable(b))?;
            return Some((index, route.source.or_else(|| family(&self.bridges[index]))?));
        }
        self.bridges.iter().enumerate().filter(|(_, b)| usable(b)).find_map(|(i, b)| Some((i, family(b)?)))
    }

    /// The way to a multicast group: no neighbour, the group's multicast MAC.
    fn resolve_group(&self, group: IpAddr, local: Option<IpAddr>) -> Result<UnderlayPath<'_>, TunnelMiss> {
        let (index, source) = self.group_bridge(group, local).ok_or(TunnelMiss::NoSourceAddress)?;
        let bridge = &self.bridges[index];
        Ok(UnderlayPath {
            bridge: index,
            view: bridge.view(),
            local_dp: bridge.local_dp.ok_or(TunnelMiss::NoSourceAddress)?,
            mac: bridge.mac,
            source,
            nexthop: group,
            nexthop_mac: multicast_mac(&group),
            nexthop_used: None,
        })
    }
}

/// What a PMD needs to terminate tunnels on the rx queues of an underlay bridge's port: the UDP
/// ports of its tunnel types, the bridge's own addresses, the tunnel ports that receive and the
/// port's MTU.
#[derive(Debug, Clone, Default)]
pub struct Decap {
    pub ports: UdpTunnelPorts,
    pub locals: Vec<IpAddr>,
    /// The multicast groups the bridge joined for flood-and-learn ports.
    pub groups: Vec<IpAddr>,
    /// Most specific first (in_key, then remote_ip, then local_ip fixed), as Open vSwitch.
    pub receivers: Vec<TunnelReceiver>,
    /// The MTU of the underlay port whose queues these are (0: unknown, no limit): a tunnel
    /// packet whose outer IP packet is longer carries an inner frame larger than the overlay
    /// allows, and is dropped as `tunnel_oversize`.
    pub mtu: u16,
}

/// What the decap stage does with a received frame (`Decap::classify`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecapVerdict<'a> {
    /// Not for one of the bridge's tunnel endpoints: it goes through the bridge's pipeline.
    NotTunnel,
    /// A valid tunnel packet of `receiver`: it loses `outer_len` bytes of outer headers, and
    /// what follows its `inner_len` bytes of inner frame (the outer frame's Ethernet padding).
    Tunnel { outer_len: usize, inner_len: usize, receiver: &'a TunnelReceiver },
    /// For a tunnel endpoint, but dropped for this reason (counted on the underlay port).
    Drop(DropReason),
}

/// A tunnel port as a receiver of decapsulated packets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TunnelReceiver {
    pub kind: TunnelKind,
    /// UDP destination port (0 for GRE).
    pub dst_port: u16,
    /// `None`: any (remote_ip=flow).
    pub remote: Option<IpAddr>,
    /// `None`: any of the bridge's addresses.
    pub local: Option<IpAddr>,
    /// A flood-and-learn port's group: packets to it are the port's too (and only to it).
    pub group: Option<IpAddr>,
    /// `None`: any (in_key=flow).
    pub in_key: Option<u64>,
    /// exts=gbp: the VXLAN-GBP fields go into the key (otherwise they are left out).
    pub gbp: bool,
    pub bridge: usize,
    pub dp_port: u16,
}

impl TunnelReceiver {
    /// How specific the receiver is: higher wins.
    pub fn specificity(&self) -> u8 {
        u8::from(self.in_key.is_some()) * 4 + u8::from(self.remote.is_some()) * 2 + u8::from(self.local.is_some())
    }
}

impl Decap {
    /// Classifies a frame received on the underlay port: validates a packet for one of the
    /// bridge's tunnel endpoints (its tunnel fields go to `meta`), finds the tunnel port that
    /// receives it and checks it against the port's MTU. The PMDs' decap stage and trace both
    /// run this.
    #[inline]
    pub fn classify(&self, frame: &[u8], meta: &mut TunnelMetadata) -> DecapVerdict<'_> {
        let (outer_len, inner_len) = match classify_outer_into(frame, &self.ports, |ip| self.is_local(ip), meta) {
            Classified::NotTunnel => return DecapVerdict::NotTunnel,
            Classified::Bad(error) => return DecapVerdict::Drop(DropReason::Decap(error)),
            Classified::Tunnel { outer_len, inner_len } => (outer_len, inner_len),
        };
        // The outer IP packet: everything but the outer Ethernet header.
        let ip_len = (outer_len + inner_len).saturating_sub(crate::packet::proto::len::ETHERNET);
        if self.mtu != 0 && ip_len > usize::from(self.mtu) {
            return DecapVerdict::Drop(DropReason::TunnelOversize);
        }
        match self.receiver(meta) {
            Some(receiver) => {
                // The VXLAN-GBP fields count only on a port with exts=gbp.
                if !receiver.gbp {
                    (meta.gbp_id, meta.gbp_flags) = (0, 0);
                }
                DecapVerdict::Tunnel { outer_len, inner_len, receiver }
            }
            None => DecapVerdict::Drop(DropReason::TunnelUnknownPort),
        }
    }

    /// Whether `addr` is one of the bridge's own addresses.
    #[inline]
    pub fn is_local(&self, addr: &IpAddr) -> bool {
        self.locals.contains(addr) || self.groups.contains(addr)
    }

    /// The tunnel port a received tunnel packet belongs to.
    #[inline]
    pub fn receiver(&self, meta: &TunnelMetadata) -> Option<&TunnelReceiver> {
        self.receivers.iter().find(|r| {
            r.kind == meta.kind
                && (r.dst_port == 0 || r.dst_port == meta.tp_dst)
                && r.remote.is_none_or(|ip| ip == meta.src)
                && if meta.dst.is_multicast() {
                    r.group == Some(meta.dst)
                } else {
                    r.local.is_none_or(|ip| ip == meta.dst)
                }
                && r.in_key.is_none_or(|key| key == meta.tun_id)
        })
    }
}

/// An rx queue (its handle is the PMD's), its bridge, and - when the bridge's
/// rules decide for every packet of the port alike - that decision.
#[derive(Debug, Clone)]
pub struct RxqWork {
    pub port: u16,
    pub queue: u16,
    pub bridge: usize,
    /// Set when the pipeline's result depends on nothing but the input port
    /// and only outputs (a megaflow whose mask is in_port alone): packets
    /// of this queue then skip parsing and the caches.
    pub fixed: Option<Arc<FlowActions>>,
    /// Set on the queues of an underlay bridge's ports while tunnel ports exist: packets for
    /// the bridge's addresses are decapsulated before parse.
    pub decap: Option<Arc<Decap>>,
}

/// The cached result of the pipeline for a megaflow, with what the PMD
/// asks of it per burst worked out once. Laid out in this order (`repr(C)`):
/// what every run of packets reads first, next to the reference count, then
/// what only some runs read, then what only the counter reports read - so a
/// run touches one cache line of it.
#[derive(Debug, Default)]
#[repr(C)]
pub struct FlowActions {
    /// The single output port when that is all the actions do.
    pub only_output: Option<u16>,
    /// Nothing leaves and nothing goes to a controller: the packets are
    /// dropped without running the actions.
    pub drops_all: bool,
    /// Why the packet is dropped when there is no output.
    pub drop_reason: DropReason,
    /// A tunnel output: the packets' flow hashes are wanted.
    pub tunnels: bool,
    /// The only action is a tunnel output to one device port: the packets are encapsulated in
    /// the burst and sent on as a run.
    pub only_tunnel: Option<Arc<TunnelPush>>,
    pub actions: Box<[DpAction]>,
    /// Every output port, in order.
    pub output_ports: Box<[u16]>,
    /// The rules that decided, for their counters.
    pub rules: Box<[Arc<RuleEntry>]>,
    /// The groups and buckets the packets go through, for their counters.
    pub groups: Box<[GroupHit]>,
    /// The tables the packets are looked up in, for their counters.
    pub table_lookups: TableLookups,
    /// The bridge (index in `Datapath::bridges`) whose pipeline this is the result of.
    pub bridge: usize,
    /// What the translation read, for targeted invalidation.
    pub dependencies: Dependencies,
    /// The learned entries the packets keep alive (`pipeline::keepalive`), refreshed with the
    /// counter reports.
    pub keep_alive: Box<[Arc<LastSeen>]>,
}

impl FlowActions {
    pub fn new(
        actions: Vec<DpAction>,
        rules: Vec<Arc<RuleEntry>>,
        groups: Vec<GroupHit>,
        table_lookups: TableLookups,
        drop_reason: DropReason,
    ) -> FlowActions {
        // (A port without a device, LOCAL, takes the general path.)
        let only_output = match actions.as_slice() {
            [DpAction::Output(port)] if usize::from(*port) < MAX_PORTS => Some(*port),
            _ => None,
        };
        let output_ports: Box<[u16]> = actions
            .iter()
            .flat_map(|a| match a {
                DpAction::Output(port) => std::slice::from_ref(port),
                DpAction::Tunnel(push) => &push.outputs[..],
                _ => &[],
            })
            .copied()
            .collect();
        let tunnels = actions.iter().any(|a| matches!(a, DpAction::Tunnel(_)));
        let only_tunnel = match actions.as_slice() {
            [DpAction::Tunnel(push)] if matches!(*push.outputs, [port] if usize::from(port) < MAX_PORTS) => {
                Some(Arc::clone(push))
            }
            _ => None,
        };
        let drops_all = output_ports.is_empty()
            && !actions.iter().any(|a| matches!(a, DpAction::Controller(_) | DpAction::HoldForNeighbour(_)));
        FlowActions {
            actions: actions.into(),
            rules: rules.into(),
            groups: groups.into(),
            table_lookups,
            only_output,
            output_ports,
            drops_all,
            tunnels,
            only_tunnel,
            drop_reason,
            bridge: 0,
            dependencies: Dependencies::default(),
            keep_alive: Box::default(),
        }
    }
}

/// Where a PMD transmits on one port: a queue of its own, or one it shares with other PMDs
/// (a device with fewer tx queues than PMDs), locked per tx burst.
#[derive(Debug)]
pub enum TxTarget {
    Own(TxQueue),
    Shared(Arc<SharedTxQueue>),
}

impl TxTarget {
    pub fn port(&self) -> u16 {
        match self {
            TxTarget::Own(queue) => queue.port(),
            TxTarget::Shared(shared) => shared.port(),
        }
    }

    /// Sends `batch`; returns (sent, dropped).
    #[inline]
    pub fn send(&mut self, batch: &mut TxBatch) -> (usize, usize) {
        match self {
            TxTarget::Own(queue) => queue.send(batch),
            TxTarget::Shared(shared) => shared.lock().send(batch),
        }
    }

    /// Sends a whole receive burst; returns (sent, dropped).
    #[inline]
    pub fn send_burst(&mut self, burst: &mut RxBurst) -> (usize, usize) {
        match self {
            TxTarget::Own(queue) => queue.send_burst(burst),
            TxTarget::Shared(shared) => shared.lock().send_burst(burst),
        }
    }
}

/// The queue handles a PMD takes over or gives up with a datapath version: those of the ports
/// added since the previous version it was sent, and the ids of the ports removed.
#[derive(Debug, Default)]
pub struct QueueHandover {
    /// DPDK ports whose handles the PMD drops (before it takes the new ones: an id can be reused).
    pub removed_ports: Vec<u16>,
    /// Receive queues the PMD polls from now on.
    pub rx: Vec<RxQueue>,
    /// Transmit targets, one per added port.
    pub tx: Vec<TxTarget>,
}

impl QueueHandover {
    pub fn is_empty(&self) -> bool {
        self.removed_ports.is_empty() && self.rx.is_empty() && self.tx.is_empty()
    }
}

impl FlowActions {
    /// The cached form of bridge `bridge`'s translation; `translation`'s rules and groups move
    /// in.
    pub fn from_translation(bridge: usize, translation: Translation) -> FlowActions {
        let reason = if translation.table_miss {
            DropReason::TableMiss
        } else {
            match translation.stop {
                None => DropReason::ActionDrop,
                Some(XlateStop::TtlExpired) => DropReason::TtlExpired,
                Some(XlateStop::PortNoRecv) => DropReason::PortConfig,
                Some(XlateStop::TooManyMplsLabels) => DropReason::MplsTooDeep,
                Some(_) => DropReason::PipelineError,
            }
        };
        let reason = match (reason, translation.tunnel_miss) {
            (DropReason::ActionDrop, Some(miss)) => DropReason::of_tunnel_miss(miss),
            (reason, _) => reason,
        };
        let dependencies = translation.dependencies;
        FlowActions {
            bridge,
            dependencies,
            keep_alive: translation.keep_alive.into(),
            ..FlowActions::new(
                translation.actions,
                translation.rules,
                translation.groups,
                translation.table_lookups,
                reason,
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::flow::key::{Field, FlowKey};
    use crate::flow::{parse_add_flow, OfPort};
    use crate::pipeline::table::{FlowModFlags, FlowTables};
    use crate::pipeline::xlate::translate;
    use crate::revalidate::BridgeChanges;
    use crate::tunnel::port::TunnelConfig;
    use crate::tunnel::route::{Prefix, Route, RouteOrigin};

    const GATEWAY_MAC: [u8; 6] = [2, 0, 0, 0, 0xbb, 2];

    fn port(ofport: u32, dp_port: u16, tunnel: Option<Arc<TunnelConfig>>) -> BridgePort {
        BridgePort { tunnel, ..BridgePort::trunk(ofport, dp_port) }
    }

    fn bridge(name: &str, flow: &str, ports: Vec<BridgePort>) -> BridgeDp {
        let mut tables = FlowTables::new();
        tables.add(parse_add_flow(flow).unwrap(), FlowModFlags::default(), 0).unwrap();
        BridgeDp { name: name.into(), tables: tables.snapshot(), ports, ..BridgeDp::default() }
    }

    /// br0, the underlay (172.31.1.1 on LOCAL, dp 40; its gateway 172.31.1.2 resolved), and
    /// br-int whose port 1 outputs to a VXLAN port towards 172.31.2.2, behind that gateway.
    fn datapath(routes: RouteTable) -> Datapath {
        let underlay = BridgeDp {
            addresses: vec!["172.31.1.1".parse().unwrap()],
            local_dp: Some(40),
            neighbours: Arc::new(
                [("172.31.1.2".parse().unwrap(), ResolvedNeighbour::new(GATEWAY_MAC))].into_iter().collect(),
            ),
            ..bridge("br0", "in_port=LOCAL,actions=output:1", vec![port(1, 0, None), port(OfPort::LOCAL.0, 40, None)])
        };
        let options: BTreeMap<String, String> = [("remote_ip", "172.31.2.2"), ("key", "2000")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let vxlan = TunnelConfig::from_options(TunnelKind::Vxlan, &options).unwrap();
        let overlay =
            bridge("br-int", "in_port=1,actions=output:2", vec![port(1, 1, None), port(2, 41, Some(Arc::new(vxlan)))]);
        Datapath {
            bridges: vec![Arc::new(underlay), Arc::new(overlay)],
            routes: Arc::new(routes),
            ..Datapath::default()
        }
    }

    fn from_the_vm(datapath: &Datapath) -> Translation {
        let mut key = FlowKey::default();
        key.set_u64(Field::InPort, 1);
        translate(&datapath.bridges[1].view_in(datapath), &key, false)
    }

    #[test]
    fn a_tunnel_output_without_a_route_depends_on_every_underlay_bridge() {
        let datapath = datapath(RouteTable::new());
        assert_eq!(datapath.routable_bridges(), 0b01);
        let translation = from_the_vm(&datapath);
        assert_eq!(translation.tunnel_miss, Some(TunnelMiss::NoRoute));
        assert!(translation.actions.is_empty());
        assert_eq!(translation.dependencies.bridges, 0b01, "a route added through br0 must revalidate the drop");
        // What a route change publishes: br0 marked changed, which the drop crossed.
        let mut changes = VersionChanges { from_version: 1, bridges: vec![BridgeChanges::default(); 2] };
        assert!(!changes.crossed_bridge_changed(&translation.dependencies));
        changes.bridges[0].underlay = true;
        assert!(changes.crossed_bridge_changed(&translation.dependencies));

        let mut routes = RouteTable::new();
        routes
            .insert(Route {
                prefix: Prefix::parse("172.31.2.0/24").unwrap(),
                bridge: "br0".into(),
                gateway: Some("172.31.1.2".parse().unwrap()),
                source: Some("172.31.1.1".parse().unwrap()),
                origin: RouteOrigin::Static,
            })
            .unwrap();
        let datapath = self::datapath(routes);
        let translation = from_the_vm(&datapath);
        assert_eq!(translation.tunnel_miss, None);
        let [DpAction::Tunnel(push)] = translation.actions.as_slice() else {
            panic!("not one tunnel output: {:?}", translation.actions)
        };
        let header = push.header.to_string();
        assert!(header.contains("dst=02:00:00:00:bb:02"), "the gateway's MAC: {header}");
        assert!(header.contains("ipv4(src=172.31.1.1,dst=172.31.2.2"), "{header}");
        assert_eq!(push.outputs.as_ref(), &[0]);
        assert_eq!(translation.dependencies.bridges, 0b01);
    }
}
