//! The control-socket protocol shared by vswitchd and vsctl: one JSON object
//! per line in each direction, a `Request` answered by exactly one `Reply`.
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::config::PortConfig;

/// Where vswitchd listens and vsctl connects when no path is given.
pub const DEFAULT_SOCKET: &str = "/run/vswitch/vswitchd.sock";
/// Environment variable that overrides the default socket path for vsctl.
pub const SOCKET_ENV: &str = "VSWITCH_SOCKET";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Request {
    /// Bridges, their ports and the ports' state.
    Show,
    /// Per-port counters; all ports when `port` is None.
    PortStats { port: Option<String> },
    /// Per-PMD counters.
    PmdStats,
    /// Zero the per-PMD counters (port counters are the NIC's and stay).
    PmdStatsClear,
    /// Which PMD polls which rx queue.
    RxqShow,
    /// Add a port to a running bridge.
    AddPort { bridge: String, port: PortConfig },
    /// Remove a port, wherever it is.
    DelPort { port: String },
    /// The flow rules of a bridge (those a del-flows style match selects,
    /// all when None), one ovs-ofctl dump-flows line each, with counters.
    DumpFlows { bridge: String, selector: Option<String> },
    /// Adds rules (ovs-ofctl add-flow syntax), all or nothing.
    AddFlows { bridge: String, flows: Vec<String> },
    /// Changes the instructions of the rules a mod-flows line selects.
    ModFlows { bridge: String, flow: String, strict: bool },
    /// Deletes the rules a del-flows match selects (all when None).
    DelFlows { bridge: String, selector: Option<String>, strict: bool },
    /// Runs a packet, given as an ovs-ofctl flow (`in_port=1,tcp,tp_dst=80`),
    /// through the bridge's pipeline without sending it. With `packet` (the frame's bytes in
    /// hex, as `ovs-appctl ofproto/trace` takes one) the flow gives the input port and the
    /// fields are the frame's: a tunnel packet for the bridge's endpoint is decapsulated as the
    /// datapath does, and its inner frame traced in its tunnel port's bridge.
    Trace {
        bridge: String,
        flow: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        packet: Option<String>,
    },
    /// The megaflows the PMDs have cached (as `ovs-appctl dpctl/dump-flows`): every bridge's, or
    /// those of bridge `bridge`'s pipeline. Result: [`DpFlowsReply`].
    DumpDpFlows { bridge: Option<String> },
    /// A static MAC table entry for NORMAL (as `ovs-appctl fdb/add`).
    FdbAdd { bridge: String, port: String, vlan: u16, mac: String },
    /// The MAC table NORMAL uses (as `ovs-appctl fdb/show` and `fdb/stats-show`). Result:
    /// [`FdbShowReply`].
    FdbShow { bridge: String },
    /// Packet buffer pool usage.
    Mempool,
    /// Replaces the bridge's OpenFlow targets (`tcp:IP:PORT`, `ptcp:PORT[:IP]`), all or nothing.
    SetController { bridge: String, targets: Vec<String> },
    /// The bridge's OpenFlow targets. Result: [`ControllerReply`].
    GetController { bridge: String },
    /// Removes every OpenFlow target of the bridge (the management socket stays).
    DelController { bridge: String },
    /// Stores the bridge's fail mode (`secure` or `standalone`).
    SetFailMode { bridge: String, mode: String },
    /// Sets a bridge's OpenFlow datapath id (hex, unique across bridges, not 0); its
    /// controllers are reconnected to see it.
    SetDatapathId { bridge: String, datapath_id: String },
    /// The bridge's fail mode. Result: [`FailModeReply`].
    GetFailMode { bridge: String },
    /// Clears the bridge's fail mode.
    DelFailMode { bridge: String },
    /// The bridge's OpenFlow connections now, with their counters. Result:
    /// [`ControllerStatusReply`].
    ControllerStatus { bridge: String },
    // Neighbours of underlay bridges (the next hops of tunnel packets).
    /// The neighbour caches of a bridge, or of every bridge with addresses or entries. Result:
    /// [`NeighbourShowReply`].
    NeighShow { bridge: Option<String> },
    /// A static neighbour: `ip` (IPv4 or IPv6) is at unicast `mac`, never aged nor replaced by
    /// ARP / ND.
    NeighSet { bridge: String, ip: String, mac: String },
    /// Forgets the learned and incomplete neighbours (held packets dropped) of a bridge or of
    /// every bridge; static ones stay (Open vSwitch's tnl/neigh/flush).
    NeighFlush { bridge: Option<String> },

    // Underlay routes of tunnel packets (Open vSwitch's ovs/route/add, del, show).
    /// Adds (or replaces) the static route to `prefix` ("10.0.0.0/8", "fd00::/64") out of
    /// underlay bridge `bridge`, through `gateway` (None: the destinations are on the link).
    /// Result: [`RouteChangeReply`].
    RouteAdd { prefix: String, bridge: String, gateway: Option<String> },
    /// Removes the static route to `prefix` (a connected route goes with its bridge address
    /// only). Result: [`RouteChangeReply`].
    RouteDel { prefix: String },
    /// Every underlay route. Result: [`RouteShowReply`].
    RouteShow,

    // Flood-and-learn VTEPs (RFC 7348 section 4).
    /// What the flood-and-learn VXLAN ports learned (every one, or port `port`). Result:
    /// [`VtepShowReply`].
    VtepShow { port: Option<String> },
}

/// `get-controller`: the targets, as written in the configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControllerReply {
    pub targets: Vec<String>,
}

/// `controller-status`: whether the bridge forwards on its own (fail-open) and its connections.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControllerStatusReply {
    pub fail_open: bool,
    pub connections: Vec<ConnectionStatus>,
}

/// One OpenFlow connection of a bridge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionStatus {
    /// `IP:PORT` of the peer, or `unix` for the management socket.
    pub peer: String,
    /// A controller (TCP or TLS) rather than a management-socket client.
    pub controller: bool,
    /// `1.0` or `1.3` once negotiated.
    pub version: Option<String>,
    /// `equal`, `master` or `slave`.
    pub role: String,
    /// Seconds since it was opened.
    pub seconds: u64,
    /// Packet-ins sent to it.
    pub packet_ins: u64,
    /// Packet-ins over its rate limit (not sent).
    pub packet_ins_limited: u64,
    /// Pushes (packet-ins, port status, flow removed) its full queue had no room for.
    pub pushes_dropped: u64,
}

// Neighbours of underlay bridges.

/// `neigh-show`: per bridge, its neighbours and what became of its requests and held packets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NeighbourShowReply {
    pub bridges: Vec<NeighbourBridge>,
}

/// The neighbour cache of one bridge.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NeighbourBridge {
    pub bridge: String,
    /// Sorted by address, IPv4 first.
    pub entries: Vec<NeighbourEntry>,
    /// ARP requests / neighbour solicitations sent (at most one a second per next hop).
    pub requests: u64,
    /// Unicast requests to learned next hops that cached flows use, sent shortly before they
    /// would age out (an answer keeps them).
    #[serde(default)]
    pub probes: u64,
    /// Packets held for unresolved next hops.
    pub held: u64,
    /// Held packets sent once their next hop resolved.
    pub released: u64,
    /// Packets not held: their next hop already held as many as it may.
    pub not_held: u64,
    /// Held packets dropped: next hop given up or flushed, or not sendable once resolved.
    pub dropped: u64,
}

/// One neighbour.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NeighbourEntry {
    pub ip: String,
    /// `None` while incomplete.
    pub mac: Option<String>,
    /// `reachable` (learned), `static` or `incomplete` (being resolved).
    pub state: String,
    /// Milliseconds since a reachable entry was last confirmed, or an incomplete one was made;
    /// `None` for a static one.
    pub age_ms: Option<u64>,
    /// Packets held for it now.
    pub held: usize,
}

/// `get-fail-mode`: `None` when not set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailModeReply {
    pub mode: Option<String>,
}

/// The answer to one request: `ok` with a command-specific `result`, or an error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reply {
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default)]
    pub result: serde_json::Value,
}

impl Reply {
    pub fn success<T: Serialize>(result: &T) -> Reply {
        match serde_json::to_value(result) {
            Ok(result) => Reply { ok: true, error: None, result },
            Err(e) => Reply::failure(format!("cannot encode reply: {e}")),
        }
    }

    pub fn failure(error: impl Into<String>) -> Reply {
        Reply { ok: false, error: Some(error.into()), result: serde_json::Value::Null }
    }
}

/// `route-show`: every underlay route, IPv4 first, longest prefix first, then by address; of
/// one prefix the static route (the one used) before the connected one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteShowReply {
    pub routes: Vec<RouteInfo>,
}

/// One underlay route.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteInfo {
    /// "172.31.2.0/24".
    pub prefix: String,
    /// "connected" (a bridge address's prefix) or "static" (configured or route-add).
    pub origin: String,
    /// The underlay bridge tunnel packets leave by.
    pub bridge: String,
    /// The next hop; None when the destinations are on the link.
    pub gateway: Option<String>,
    /// The outer source address the route sends from (None: the bridge has no address of the
    /// prefix's family, and tunnel packets to it are dropped as tunnel_no_route).
    pub source: Option<String>,
}

/// `route-add` / `route-del`: the route put in and the one taken out (replaced or deleted).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteChangeReply {
    pub added: Option<RouteInfo>,
    pub removed: Option<RouteInfo>,
}

/// `fdb-show`: a bridge's MAC learning table, sorted by VLAN and MAC, and its counters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FdbShowReply {
    pub bridge: String,
    /// Seconds an entry lives unseen (`mac_aging`).
    pub aging_s: u64,
    /// Most entries kept (`mac_table_size`).
    pub limit: usize,
    pub entries: Vec<FdbEntryInfo>,
    pub learned: u64,
    pub moved: u64,
    pub aged: u64,
    pub evicted: u64,
}

/// One MAC table entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FdbEntryInfo {
    /// The port's name (`LOCAL` for the bridge's LOCAL port).
    pub port: String,
    pub vlan: u16,
    pub mac: String,
    /// Milliseconds since a packet from it was last seen (at an upcall, or by the traffic of a
    /// cached megaflow); None for a static entry (fdb-add), which never ages.
    pub age_ms: Option<u64>,
}

// Flood-and-learn VTEPs.

/// `vtep-show`: the flood-and-learn ports, sorted by name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VtepShowReply {
    pub ports: Vec<VtepPortInfo>,
}

/// One flood-and-learn port: where it floods, what it learned, its counters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VtepPortInfo {
    pub port: String,
    pub bridge: String,
    pub vni: u64,
    /// The multicast group (IGMP / MLD joined), or None with head-end replication.
    pub group: Option<String>,
    /// The underlay bridge the group is joined on, once joined.
    pub joined_on: Option<String>,
    /// Head-end replication: the VTEPs every flooded frame goes to.
    pub flood: Vec<String>,
    pub aging_s: u32,
    pub limit: u32,
    /// Sorted by MAC.
    pub entries: Vec<VtepEntryInfo>,
    pub learned: u64,
    pub moved: u64,
    pub aged: u64,
    pub evicted: u64,
}

/// One learned inner MAC.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VtepEntryInfo {
    pub mac: String,
    /// The remote VTEP's address.
    pub remote: String,
    /// Milliseconds since it was last learned or seen at an upcall.
    pub age_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShowReply {
    pub bridges: Vec<BridgeInfo>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BridgeInfo {
    pub name: String,
    /// The OpenFlow datapath id, 16 hex digits (as ovs-ofctl show prints it).
    pub datapath_id: String,
    pub ports: Vec<PortInfo>,
    pub n_flows: usize,
    /// An underlay bridge's (one with addresses) own MAC; its LOCAL port is among `ports`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
    /// An underlay bridge's own addresses with their prefix lengths ("172.31.1.1/24").
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PortInfo {
    pub name: String,
    pub ofport: u32,
    /// "dpdk", "vhost-user", "vhost-user-client", a tunnel's "vxlan", "geneve" or "gre", or
    /// "internal" for an underlay bridge's LOCAL port (ofport 65534, named after the bridge).
    pub kind: String,
    /// devargs for dpdk ports, the socket path for vhost ports, a tunnel's options as
    /// `name=value,...`, the bridge's addresses for a LOCAL port.
    pub target: String,
    pub dpdk_port_id: u16,
    pub link_up: bool,
    pub speed_mbps: u32,
    pub mac: String,
    pub mtu: u16,
    pub rx_queues: u16,
    pub tx_queues: u16,
    /// A tunnel port's options (Open vSwitch's `options:` column: remote_ip, key, ...), as
    /// add-port and the configuration take them, defaults left out; a patch port's peer.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub options: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PortStatsReply {
    pub ports: Vec<PortStats>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PortStats {
    pub name: String,
    pub bridge: String,
    pub ofport: u32,
    pub rx_packets: u64,
    pub rx_bytes: u64,
    pub tx_packets: u64,
    pub tx_bytes: u64,
    /// Dropped by the device on receive (no descriptor / no mbuf).
    pub rx_missed: u64,
    pub rx_errors: u64,
    pub tx_errors: u64,
    /// Packets the switch dropped, by reason (see `pmd::DropReason`).
    pub drops: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PmdStatsReply {
    pub tsc_hz: u64,
    pub pmds: Vec<PmdStats>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PmdStats {
    pub core: usize,
    pub iterations: u64,
    pub packets: u64,
    pub bursts: u64,
    pub busy_cycles: u64,
    pub idle_cycles: u64,
    pub sleeps: u64,
    /// busy cycles / packets.
    pub cycles_per_packet: f64,
    pub packets_per_burst: f64,
    /// busy / (busy + idle) in percent.
    pub busy_pct: f64,
    /// Packets whose headers repeat the packet before them in the burst: classified by taking
    /// its result, without a lookup.
    pub repeat_hits: u64,
    pub emc_hits: u64,
    /// Whether the EMC is bypassed now: for want of hits (only one burst in 32 looks in it), or
    /// because the megaflow table is small enough (at most 2 megaflows) to scan without a hash.
    pub emc_bypass: bool,
    pub megaflow_hits: u64,
    /// Packets that missed both caches and ran the OpenFlow pipeline.
    pub upcalls: u64,
    /// Cycles spent in upcalls (translation and megaflow install).
    pub upcall_cycles: u64,
    /// Megaflows installed in this PMD's classifier now.
    pub megaflows: u64,
    /// Subtables probed per megaflow hit.
    pub subtable_lookups_per_hit: f64,
    /// Times the caches were flushed after a table change.
    pub cache_flushes: u64,
    /// Datapath versions taken without a flush (the cached megaflows revalidated against what
    /// changed).
    #[serde(default)]
    pub revalidations: u64,
    /// Megaflows revalidations checked.
    #[serde(default)]
    pub megaflows_revalidated: u64,
    /// Megaflows revalidations removed.
    #[serde(default)]
    pub megaflows_invalidated: u64,
    /// The longest version switch (flush or revalidation), in TSC cycles.
    #[serde(default)]
    pub version_switch_max_cycles: u64,
    /// Packets handed to the management thread for the controllers.
    #[serde(default)]
    pub packet_ins: u64,
    /// Packet-outs of the controllers this PMD ran.
    #[serde(default)]
    pub packet_outs: u64,
    /// Packets of tunnel outputs whose next hop was unresolved, handed to the management thread
    /// to wait for it (`vsctl neigh-show` says what became of them).
    #[serde(default)]
    pub tunnel_held: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RxqReply {
    pub pmds: Vec<PmdRxqs>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PmdRxqs {
    pub core: usize,
    pub rxqs: Vec<RxqInfo>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RxqInfo {
    pub port: String,
    pub queue: u16,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MempoolReply {
    pub name: String,
    pub size: u32,
    pub in_use: u32,
    pub available: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DumpFlowsReply {
    pub flows: Vec<String>,
}

/// `dump-dp-flows`: per PMD thread, the megaflows it has cached.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DpFlowsReply {
    /// The most megaflows listed per PMD.
    pub limit: u64,
    pub pmds: Vec<PmdDpFlows>,
}

/// One PMD's megaflows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PmdDpFlows {
    pub core: usize,
    /// Why its megaflows are missing (it did not answer in time); None when it answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The megaflows the request selects, listed or not (`flows` holds the first `limit`).
    pub megaflows: u64,
    pub flows: Vec<DpFlow>,
}

/// One cached megaflow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DpFlow {
    /// The bridge whose pipeline made it: its in_port's (for a decapsulated packet, the tunnel
    /// port's bridge).
    pub bridge: String,
    /// For packets that came out of a tunnel: the tunnel port whose decapsulation (before any
    /// lookup) made them packets of `in_port`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tnl_pop: Option<String>,
    /// The match, in ovs-ofctl syntax with the wildcarded fields left out (in_port an OpenFlow
    /// port of `bridge`), as trace prints its megaflow.
    #[serde(rename = "match")]
    pub matches: String,
    pub packets: u64,
    pub bytes: u64,
    /// Milliseconds since a packet last used it; None when none has.
    pub used_ms: Option<u64>,
    /// The datapath actions, comma separated (`drop` when none), as trace prints them.
    pub actions: String,
}

/// What a flow change did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FlowModReply {
    pub added: usize,
    pub replaced: usize,
    pub modified: usize,
    pub removed: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TraceReply {
    /// Every table visited, the rule hit and the actions, as text.
    pub steps: Vec<String>,
    /// The datapath actions, comma separated (`drop` when none).
    pub datapath_actions: String,
    /// The megaflow that would be installed, as an ovs-ofctl match; empty when the decap stage
    /// decided before any pipeline (a tunnel packet dropped, or described only as a flow).
    pub megaflow: String,
}
