//! The slow path ("upcall" translation): runs the OpenFlow pipeline of a
//! bridge on one packet's flow key and turns the result into datapath
//! actions plus the megaflow mask that makes the result valid for every
//! packet it covers.
//!
//! Semantics follow OpenFlow 1.3 with the Open vSwitch extensions: tables
//! looked up from 0, apply-actions executed at once, write-actions merged
//! into the action set that runs when the pipeline ends, goto_table,
//! resubmit (nested lookups, depth-limited), set_field/load/move on the
//! working key, VLAN push/pop/modify, dec_ttl, groups (`groups`), learn (returned as a side
//! effect for the management thread to apply) and NORMAL, a VLAN-aware L2
//! learning switch over the bridge's MAC table (new addresses returned as
//! side effects too).
//!
//! Header changes are kept on the working key and written out ("committed")
//! as datapath actions only before an output or a VLAN push/pop, so a
//! packet is rewritten once per output at most. Every field the translation
//! reads is un-wildcarded; fields it only writes are not.

mod groups;
mod mpls;
mod patch;
pub mod tunnel;
mod vtep;

use std::cell::Cell;
use std::sync::Arc;

use hashbrown::HashMap;

use super::dependencies::{group_bits, mac_bits, port_bit, Dependencies, ALL_PORTS};
use super::group::GroupHit;
use super::keepalive::LastSeen;
use super::table::{RuleEntry, TableLookups, TablesSnapshot};
use crate::flow::key::{Field, FlowKey};
use crate::flow::numbers::{ETH_TYPE_IP, ETH_TYPE_IPV6};
use crate::flow::{Action, FlowRule, Instructions, Learn, LearnSpec, Match, OfPort, PacketInReason, Subfield};
use crate::packet::proto::{ethertype, vlan};
use crate::tunnel::port::TunnelConfig;
pub use tunnel::{TunnelMiss, TunnelPush, Underlay, UnderlayPath};
pub use vtep::{vtep_learning, VtepLearning};

/// Resubmits nested deeper than this (plus the first lookup) end the
/// translation as a loop in the rules, at the depth Open vSwitch stops.
pub const MAX_RESUBMIT_DEPTH: usize = 64;
/// Datapath actions one translation may produce.
pub const MAX_DATAPATH_ACTIONS: usize = 256;

/// What the datapath does to every packet of a megaflow, in order.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DpAction {
    /// Write a header field (the whole field) with this value.
    SetField {
        field: Field,
        value: u128,
    },
    /// Set the TCI (VID and PCP; no present bit) of the outermost tag.
    SetVlanTci(u16),
    PushVlan {
        tpid: u16,
        tci: u16,
    },
    PopVlan,
    /// Push this label stack entry (whole: label, TC, bottom of stack, TTL) after the VLAN
    /// tags; the frame's ethertype becomes `ethertype` (0x8847 or 0x8848).
    PushMpls {
        ethertype: u16,
        lse: u32,
    },
    /// Pop the top label stack entry; the frame's ethertype becomes `ethertype`.
    PopMpls {
        ethertype: u16,
    },
    /// The top label stack entry's TTL into the header under it (`rewrite::copy_mpls_ttl_in`).
    CopyTtlIn,
    /// Send a copy to this datapath port.
    Output(u16),
    /// A packet-in to the bridge's controllers.
    Controller(Arc<PacketInMeta>),
    /// Run the packet through this meter of the bridge: it may be dropped or remarked.
    Meter(u32),
    /// Encapsulate (a copy of) the packet and send it where the underlay bridge decided.
    Tunnel(Arc<TunnelPush>),
    /// A tunnel output whose next hop is unresolved: a copy of the packet goes to the management
    /// thread (through the packet-in queue, within the bridge's packet-in limit; origin
    /// [`PacketInOrigin::TunnelHold`]), which holds it until the next hop resolves and then
    /// sends it through the tunnel port.
    HoldForNeighbour(Arc<PacketInMeta>),
}

/// What a packet-in tells the controller besides the packet: why, from which rule, and the
/// pipeline fields at the controller action (the packet-in's match).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PacketInMeta {
    pub reason: PacketInReason,
    /// Whether a table miss sent it: OpenFlow versions report and deliver those differently.
    pub origin: PacketInOrigin,
    /// Bytes of the packet to send at most (65535: all).
    pub max_len: u16,
    pub table_id: u8,
    pub cookie: u64,
    /// The OpenFlow input port.
    pub in_port: u32,
    pub metadata: u64,
    pub tun_id: u64,
    pub regs: [u32; 8],
}

/// What sent a packet-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PacketInOrigin {
    /// A controller action of a rule that is not the table-miss rule.
    Rule,
    /// The controller action of the table-miss rule (priority 0, matching everything): a miss
    /// for OpenFlow 1.3 (reason no_match), an ordinary rule for 1.0 (reason action).
    TableMissRule,
    /// No rule matched and the bridge sends misses to the controllers
    /// ([`Bridge::miss_to_controller`]): only for connections that want them (OpenFlow 1.0).
    NoRule,
    /// Not a packet-in: a packet output to a bridge's LOCAL port, for the switch's own stack.
    LocalPort,
    /// Not a packet-in: a packet for the tunnel port of datapath port `port` whose next hop
    /// `nexthop` on underlay bridge `underlay` is unresolved, to be held until it resolves. The
    /// meta's in_port is where the packet came into the tunnel port's bridge (which is not the
    /// event's bridge when patch ports led there). `tunnel`: the tunnel fields the packet
    /// carries out, the meta's `tun_id` its key (`key=flow`).
    TunnelHold { port: u16, underlay: usize, nexthop: std::net::IpAddr, tunnel: tunnel::HeldTunnelFields },
}

impl PacketInMeta {
    /// What goes with a packet output to a LOCAL port.
    pub fn local_port() -> PacketInMeta {
        PacketInMeta {
            reason: PacketInReason::Action,
            origin: PacketInOrigin::LocalPort,
            max_len: u16::MAX,
            table_id: 0,
            cookie: 0,
            in_port: OfPort::LOCAL.0,
            metadata: 0,
            tun_id: 0,
            regs: [0; 8],
        }
    }
}

/// How a port treats VLANs for NORMAL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VlanMode {
    /// Untagged packets only; they belong to this VLAN.
    Access(u16),
    /// Tagged packets of these VLANs (and untagged, as VLAN 0); empty = every VLAN.
    Trunk(Vec<u16>),
}

/// A port of the bridge as the pipeline sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BridgePort {
    pub ofport: u32,
    pub dp_port: u16,
    pub vlan_mode: VlanMode,
    /// Link up: what group buckets watching the port see (a change is a new datapath version).
    pub live: bool,
    pub flags: PortFlags,
    /// A tunnel port's options: output encapsulates (it has no device).
    pub tunnel: Option<Arc<TunnelConfig>>,
    /// A patch port's peer: output continues in the peer's bridge (no device).
    pub patch: Option<PatchPeer>,
    /// The device's MTU (0 for a port without a device): an outer packet of a tunnel output
    /// longer than it is dropped as `tunnel_too_big`.
    pub mtu: u16,
}

impl BridgePort {
    /// A live trunk port of all VLANs without flags, tunnel, patch peer or MTU.
    pub fn trunk(ofport: u32, dp_port: u16) -> BridgePort {
        BridgePort {
            ofport,
            dp_port,
            vlan_mode: VlanMode::Trunk(Vec::new()),
            live: true,
            flags: PortFlags::default(),
            tunnel: None,
            patch: None,
            mtu: 0,
        }
    }
}

/// The other end of a patch port: its bridge (index of the datapath's bridges) and datapath port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PatchPeer {
    pub bridge: usize,
    pub dp_port: u16,
}

/// What a controller configured for a port (OpenFlow PORT_MOD).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct PortFlags {
    /// Administratively down: nothing in, nothing out.
    pub down: bool,
    /// Packets received on it are dropped.
    pub no_recv: bool,
    /// Nothing is sent out of it.
    pub no_fwd: bool,
    /// FLOOD, ALL and NORMAL's flooding leave it out.
    pub no_flood: bool,
    /// Its packets are not sent to the controller.
    pub no_packet_in: bool,
}

impl BridgePort {
    /// The VLAN a packet with this TCI belongs to on this port, if the
    /// port admits it.
    fn ingress_vlan(&self, tci: u16) -> Option<u16> {
        // A priority tag (VID 0) counts as untagged, as 802.1Q says.
        let vid = if tci & vlan::PRESENT != 0 { tci & vlan::VID_MASK } else { 0 };
        match &self.vlan_mode {
            VlanMode::Access(tag) => (vid == 0).then_some(*tag),
            VlanMode::Trunk(_) => self.carries(vid).then_some(vid),
        }
    }

    /// Whether the port belongs to `vlan` (0 = untagged): an explicit trunk
    /// list carries untagged frames only if it lists VLAN 0, as in OVS.
    fn carries(&self, vlan: u16) -> bool {
        match &self.vlan_mode {
            VlanMode::Access(tag) => *tag == vlan,
            VlanMode::Trunk(vlans) => vlans.is_empty() || vlans.contains(&vlan),
        }
    }
}

/// The learned MAC addresses of a bridge: (VLAN, MAC) -> where.
pub type MacTable = HashMap<(u16, [u8; 6]), MacPort>;

/// Where a MAC address was learned, and its last-seen cell, which the megaflows of packets from
/// it refresh (`keepalive`).
#[derive(Debug, Clone)]
pub struct MacPort {
    pub ofport: u32,
    pub last_seen: Arc<LastSeen>,
}

impl MacPort {
    /// On `ofport`, seen at `now_ms`.
    pub fn new(ofport: u32, now_ms: u64) -> MacPort {
        MacPort { ofport, last_seen: Arc::new(LastSeen::new(now_ms)) }
    }
}

/// The same entry: the same port and the same cell (an entry aged and learned again on the same
/// port is another entry: the megaflows that hold the old cell must go).
impl PartialEq for MacPort {
    fn eq(&self, other: &MacPort) -> bool {
        self.ofport == other.ofport && Arc::ptr_eq(&self.last_seen, &other.last_seen)
    }
}

impl Eq for MacPort {}

/// Everything a translation reads about its bridge.
pub struct Bridge<'a> {
    pub tables: &'a TablesSnapshot,
    pub ports: &'a [BridgePort],
    pub macs: &'a MacTable,
    /// A miss in table 0 (or a table goto_table leads to) sends the packet to the controllers,
    /// as OpenFlow 1.0 has it: set while a connection that wants that is open. Otherwise a miss
    /// drops (OpenFlow 1.3).
    pub miss_to_controller: bool,
    /// The other bridges of the datapath: where tunnel outputs are routed and patch ports lead
    /// (none: tunnel and patch ports send nothing).
    pub underlay: Option<&'a dyn Underlay>,
}

impl Bridge<'_> {
    fn port_by_ofport(&self, ofport: u32) -> Option<&BridgePort> {
        self.ports.iter().find(|p| p.ofport == ofport)
    }

    fn port_by_dp(&self, dp_port: u16) -> Option<&BridgePort> {
        self.ports.iter().find(|p| p.dp_port == dp_port)
    }
}

/// Why a translation ended without forwarding normally.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XlateStop {
    /// The packet's input port is not a port of this bridge.
    UnknownInPort,
    /// dec_ttl found a TTL of 0 or 1.
    TtlExpired,
    /// Resubmits nested deeper than MAX_RESUBMIT_DEPTH.
    ResubmitDepth,
    /// More than MAX_DATAPATH_ACTIONS actions.
    TooManyActions,
    /// The input port is configured down or not to receive.
    PortNoRecv,
    /// A push_mpls or pop_mpls on a label stack deeper than the key keeps (the packet is
    /// dropped, as Open vSwitch does).
    TooManyMplsLabels,
}

/// A MAC address NORMAL saw on a port (for the management thread to learn).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MacLearning {
    pub vlan: u16,
    pub mac: [u8; 6],
    pub ofport: u32,
}

/// The result of running the pipeline on one flow key.
#[derive(Debug, Clone, Default)]
pub struct Translation {
    pub actions: Vec<DpAction>,
    /// The megaflow mask: the bits of the datapath key the result depends on.
    pub wildcards: FlowKey,
    /// The rules that matched, in order (for their counters).
    pub rules: Vec<Arc<RuleEntry>>,
    /// The groups (and buckets) the packet went through, in order (for their counters).
    pub groups: Vec<GroupHit>,
    /// The tables looked up, in order (for their counters).
    pub table_lookups: TableLookups,
    /// Rules built by learn actions.
    pub learned_rules: Vec<FlowRule>,
    /// Addresses NORMAL saw that the version does not have on the input port.
    pub learned_macs: Vec<MacLearning>,
    /// The last-seen cells of the learned entries the packets refresh (`keepalive`): known
    /// source MACs (here and behind patch ports), the VTEP entry of a decapsulated packet's
    /// source, the rules the learn actions build.
    pub keep_alive: Vec<Arc<LastSeen>>,
    /// Set when the translation stopped early; the actions so far stand.
    pub stop: Option<XlateStop>,
    /// Whether table 0 had no matching rule.
    pub table_miss: bool,
    /// Human-readable steps, when asked for (vsctl trace).
    pub trace: Option<Vec<String>>,
    /// What the translation read of the bridge, for targeted invalidation of its megaflow.
    pub dependencies: Dependencies,
    /// The first tunnel output that sent nothing, and why.
    pub tunnel_miss: Option<TunnelMiss>,
    /// Rules learned and MAC addresses seen in other bridges (through patch ports), by bridge
    /// index.
    pub learned_elsewhere: Vec<(usize, Learned)>,
    /// The packet's header fields as the datapath actions leave it.
    pub committed: FlowKey,
}

/// What a translation learned in a bridge other than its own.
#[derive(Debug, Clone)]
pub enum Learned {
    Rule(Box<FlowRule>),
    Mac(MacLearning),
}

/// Runs the bridge's pipeline for a packet with datapath key `dp_key`
/// (whose in_port is the datapath port). With `trace`, every step is
/// recorded in `Translation::trace`.
pub fn translate(bridge: &Bridge<'_>, dp_key: &FlowKey, trace: bool) -> Translation {
    translate_at(bridge, dp_key, trace, 0, None)
}

/// `translate`, `depth` bridges deep (patch ports crossed so far); `packet`: the headers the
/// packet has when `dp_key` holds changes not written to it yet (they are written only where
/// this bridge's actions need them, so a change the peer undoes costs nothing).
fn translate_at(
    bridge: &Bridge<'_>,
    dp_key: &FlowKey,
    trace: bool,
    depth: usize,
    packet: Option<&FlowKey>,
) -> Translation {
    let mut out = Translation {
        trace: trace.then(Vec::new),
        table_lookups: bridge.tables.new_lookups(),
        ..Translation::default()
    };
    out.wildcards.set_all_ones(Field::InPort);
    let dp_in_port = u16::try_from(dp_key.get_u64(Field::InPort)).unwrap_or(u16::MAX);
    let Some(in_port) = bridge.port_by_dp(dp_in_port) else {
        out.stop = Some(XlateStop::UnknownInPort);
        // Any port added may be this one.
        out.dependencies.ports = ALL_PORTS;
        return out;
    };
    if in_port.flags.down || in_port.flags.no_recv {
        out.stop = Some(XlateStop::PortNoRecv);
        out.dependencies.ports = port_bit(in_port.ofport);
        out.dependencies.in_ofport = in_port.ofport;
        return out;
    }
    let mut xlate = Xlate::new(bridge, in_port.clone(), dp_key, out);
    xlate.bridge_depth = depth;
    if let Some(packet) = packet {
        xlate.set_packet(packet);
    }
    xlate.run_table(0, true);
    if xlate.out.stop.is_none() {
        xlate.list_ended = false;
        let mut action_set = std::mem::take(&mut xlate.action_set);
        // OpenFlow 1.3 5.10: the action set runs in a fixed order, not in the order it was
        // written: copy_ttl_in, pop, push_mpls, push_vlan, copy_ttl_out, dec_ttl, set-field,
        // output.
        action_set.sort_by_key(action_set_rank);
        groups::group_replaces_output(&mut action_set);
        if !action_set.is_empty() {
            xlate.note(format!("action set: {}", list(&action_set)));
            xlate.execute(&action_set);
        }
    }
    xlate.finish()
}

/// The datapath port of a packet-out's input port that is not a port of the bridge
/// (CONTROLLER, LOCAL, NONE).
pub const NO_DP_PORT: u16 = u16::MAX;

/// Runs a packet-out's `actions` on the packet with datapath key `dp_key` as if it arrived on
/// `in_port`: a port of the bridge, or CONTROLLER/LOCAL/NONE (whose key's in_port is
/// [`NO_DP_PORT`]). output:TABLE runs the pipeline from table 0.
pub fn translate_packet_out(bridge: &Bridge<'_>, dp_key: &FlowKey, in_port: OfPort, actions: &[Action]) -> Translation {
    let port = bridge.port_by_ofport(in_port.0).cloned().unwrap_or_else(|| BridgePort::trunk(in_port.0, NO_DP_PORT));
    let mut xlate = Xlate::new(bridge, port, dp_key, Translation::default());
    xlate.execute(actions);
    xlate.finish()
}

/// What a packet-in says of the rule that sent it.
#[derive(Debug, Clone, Copy)]
struct RuleOrigin {
    cookie: u64,
    /// Priority 0 and matching everything: OpenFlow 1.3's table-miss flow entry.
    table_miss: bool,
}

/// Where an action runs in the action set.
fn action_set_rank(action: &Action) -> u8 {
    match action {
        Action::CopyTtlIn => 0,
        Action::PopVlan | Action::PopMpls { .. } => 1,
        Action::PushMpls { .. } => 2,
        Action::PushVlan { .. } => 3,
        Action::CopyTtlOut => 4,
        Action::DecTtl | Action::DecMplsTtl => 5,
        Action::Output { .. } | Action::Controller { .. } | Action::Resubmit { .. } | Action::Group(_) => 7,
        _ => 6,
    }
}

fn list(actions: &[Action]) -> String {
    actions.iter().map(ToString::to_string).collect::<Vec<_>>().join(",")
}

struct Xlate<'a, 'b> {
    bridge: &'a Bridge<'b>,
    in_port: BridgePort,
    /// The packet as the pipeline sees it now (in_port = ofport).
    key: FlowKey,
    /// The packet as the pipeline received it.
    start_key: FlowKey,
    /// What the translation read so far (a `Cell`: the bridge's liveness checks read through
    /// `&self`).
    reads: Cell<Dependencies>,
    /// The packet as the datapath actions so far leave it.
    committed: FlowKey,
    /// Header fields written since the last commit.
    dirty: Vec<Field>,
    action_set: Vec<Action>,
    /// The table of the rule whose actions run (resubmit's default table).
    current_table: u8,
    /// The rule whose actions run (for packet-ins).
    current_rule: Option<RuleOrigin>,
    /// dec_ttl failed: the rest of the current action list is skipped.
    list_ended: bool,
    /// dec_ttl failed somewhere (a drop, if nothing else forwards).
    ttl_expired: bool,
    depth: usize,
    /// Patch ports crossed to get to this bridge.
    bridge_depth: usize,
    out: Translation,
}

impl<'a, 'b> Xlate<'a, 'b> {
    fn new(bridge: &'a Bridge<'b>, in_port: BridgePort, dp_key: &FlowKey, out: Translation) -> Xlate<'a, 'b> {
        let mut key = *dp_key;
        key.set_u64(Field::InPort, u64::from(in_port.ofport));
        let reads = Dependencies { in_ofport: in_port.ofport, ports: port_bit(in_port.ofport), ..out.dependencies };
        Xlate {
            bridge,
            in_port,
            key,
            start_key: key,
            reads: Cell::new(reads),
            committed: key,
            dirty: Vec::new(),
            action_set: Vec::new(),
            current_table: 0,
            current_rule: None,
            list_ended: false,
            ttl_expired: false,
            depth: 0,
            bridge_depth: 0,
            out,
        }
    }

    /// The packet's headers are `packet` (the working key may differ: those fields are dirty).
    fn set_packet(&mut self, packet: &FlowKey) {
        self.committed = *packet;
        self.committed.set_u64(Field::InPort, self.key.get_u64(Field::InPort));
        self.dirty = crate::flow::key::FIELDS
            .iter()
            .map(|def| def.field)
            .filter(|&f| {
                // (The inner tag is written by the VLAN pushes and pops themselves.)
                is_header_field(f) && f != Field::VlanTci2 && self.key.get_u128(f) != self.committed.get_u128(f)
            })
            .collect();
    }

    /// The translation, once the actions ran.
    fn finish(mut self) -> Translation {
        self.out.committed = self.committed;
        if self.ttl_expired && self.out.actions.iter().all(|a| !matches!(a, DpAction::Output(_) | DpAction::Tunnel(_)))
        {
            self.out.stop = Some(XlateStop::TtlExpired);
        }
        // Metadata and registers are zero in every datapath key: matching on
        // them in the megaflow would only cost hashing.
        for field in [Field::Metadata].into_iter().chain((0..8).map(Field::Reg)) {
            self.out.wildcards.set_u128(field, 0);
        }
        self.out.dependencies = self.reads.get();
        self.out
    }

    /// Records a read of the bridge's state.
    fn read_state(&self, record: impl FnOnce(&mut Dependencies)) {
        let mut reads = self.reads.get();
        record(&mut reads);
        self.reads.set(reads);
    }

    /// Port `ofport` of the bridge (a read the megaflow depends on).
    fn port(&self, ofport: u32) -> Option<&'a BridgePort> {
        self.read_state(|r| r.ports |= port_bit(ofport));
        self.bridge.port_by_ofport(ofport)
    }

    /// The bridge port of datapath port `dp_port` (a read the megaflow depends on).
    fn port_of_dp(&self, dp_port: u16) -> Option<&'a BridgePort> {
        let port = self.bridge.port_by_dp(dp_port);
        let bit = port.map_or(ALL_PORTS, |p| port_bit(p.ofport));
        self.read_state(|r| r.ports |= bit);
        port
    }

    /// Every port of the bridge (a read of the port set).
    fn all_ports(&self) -> &'a [BridgePort] {
        self.read_state(|r| r.ports = ALL_PORTS);
        self.bridge.ports
    }

    /// Where the MAC table has (`vlan`, `mac`) (a read, found or not).
    fn mac_port(&self, vlan: u16, mac: [u8; 6]) -> Option<u32> {
        self.mac_entry(vlan, mac).map(|entry| entry.ofport)
    }

    /// The MAC table's entry for (`vlan`, `mac`) (a read, found or not).
    fn mac_entry(&self, vlan: u16, mac: [u8; 6]) -> Option<&'a MacPort> {
        self.read_state(|r| r.macs |= mac_bits(vlan, mac));
        self.bridge.macs.get(&(vlan, mac))
    }

    /// Group `id` of the version (a read, found or not).
    fn group_entry(&self, id: u32) -> Option<&'a Arc<crate::pipeline::group::GroupEntry>> {
        self.read_state(|r| r.groups |= group_bits(id));
        self.bridge.tables.group(id)
    }

    fn note(&mut self, line: String) {
        if let Some(trace) = &mut self.out.trace {
            let indent = "    ".repeat(self.depth);
            trace.push(format!("{indent}{line}"));
        }
    }

    fn stopped(&self) -> bool {
        self.out.stop.is_some()
    }

    /// Looks `table` up and runs the matching rule's instructions
    /// (following goto_table). `top_level`: the pipeline's own lookup (table 0 of the packet,
    /// or a packet-out's output:TABLE), whose misses may go to the controllers; a resubmit's
    /// never do.
    fn run_table(&mut self, table: u8, top_level: bool) {
        let mut table = table;
        loop {
            let rule = self.bridge.tables.lookup(table, &self.key, &mut self.out.wildcards).cloned();
            let (start, now) = (&self.start_key, &self.key);
            self.read_state(|r| r.looked_up(table, start, now));
            self.out.table_lookups.push(table, rule.is_some());
            let Some(rule) = rule else {
                if top_level && table == 0 {
                    self.out.table_miss = true;
                }
                // As Open vSwitch: the lookups of table 0 and goto_table may send a miss up,
                // resubmits never do.
                if top_level && self.bridge.miss_to_controller {
                    self.note(format!("table {table}: no match -> controller (OpenFlow 1.0 miss)"));
                    self.current_table = table;
                    self.current_rule = None;
                    self.packet_in(PacketInReason::NoMatch, PacketInOrigin::NoRule, u16::MAX);
                } else {
                    self.note(format!("table {table}: no match -> drop"));
                }
                return;
            };
            self.note(format!("table {table}: {}", rule.rule()));
            self.out.rules.push(rule.clone());
            self.current_table = table;
            let origin = rule.rule();
            self.current_rule = Some(RuleOrigin {
                cookie: origin.cookie,
                table_miss: origin.priority == 0 && origin.matches.is_catch_all(),
            });
            let next = self.run_instructions(&rule.rule().instructions);
            match next {
                Some(next) if !self.stopped() => table = next,
                _ => return,
            }
        }
    }

    /// Runs a rule's instructions; returns the goto_table target.
    fn run_instructions(&mut self, instructions: &Instructions) -> Option<u8> {
        if let Some(meter) = instructions.meter {
            // Before the actions, as OpenFlow orders the instructions; a packet the meter
            // drops goes no further.
            self.commit();
            self.emit(DpAction::Meter(meter));
        }
        self.execute(&instructions.apply_actions);
        if std::mem::take(&mut self.list_ended) {
            return None;
        }
        if instructions.clear_actions {
            self.action_set.clear();
        }
        if let Some(write) = &instructions.write_actions {
            self.merge_action_set(write);
        }
        if let Some(meta) = instructions.write_metadata {
            let old = self.key.get_u64(Field::Metadata);
            self.key.set_u64(Field::Metadata, (old & !meta.mask) | (meta.value & meta.mask));
        }
        instructions.goto_table
    }

    /// OpenFlow action set: at most one action of each kind, the new one replacing.
    fn merge_action_set(&mut self, write: &[Action]) {
        for action in write {
            let kind = std::mem::discriminant(action);
            let same_field = |a: &Action| match (a, action) {
                (Action::SetField { field: x, .. }, Action::SetField { field: y, .. }) => x == y,
                _ => std::mem::discriminant(a) == kind,
            };
            self.action_set.retain(|a| !same_field(a));
            self.action_set.push(action.clone());
        }
    }

    fn execute(&mut self, actions: &[Action]) {
        for action in actions {
            if self.stopped() || self.list_ended {
                return;
            }
            self.execute_one(action);
        }
    }

    fn execute_one(&mut self, action: &Action) {
        match action {
            Action::Output { port, .. } => self.output(*port),
            Action::Controller { max_len, reason } => self.controller(*reason, *max_len),
            Action::Resubmit { port, table } => self.resubmit(*port, *table, false),
            Action::SetField { field, value, mask } => self.write_field(*field, *value, *mask),
            Action::Load { value, dst } => self.write_subfield(*dst, *value),
            Action::Move { src, dst } => {
                let value = self.read_subfield(*src);
                self.write_subfield(*dst, value);
            }
            Action::SetVlanVid { vid, push_if_needed } => {
                self.set_vlan_bits(u128::from(*vid & vlan::VID_MASK), vlan::VID_MASK, *push_if_needed)
            }
            Action::SetVlanPcp { pcp, push_if_needed } => {
                self.set_vlan_bits(u128::from(u16::from(*pcp & 7) << vlan::PCP_SHIFT), vlan::PCP_MASK, *push_if_needed)
            }
            Action::PopVlan => self.pop_vlan(),
            Action::PushVlan { tpid } => self.push_vlan(*tpid),
            Action::SetEthSrc(mac) => self.write_field(Field::DlSrc, u128::from(*mac), u128::MAX),
            Action::SetEthDst(mac) => self.write_field(Field::DlDst, u128::from(*mac), u128::MAX),
            Action::SetIpv4Src(ip) => self.write_field(Field::NwSrc, u128::from(u32::from(*ip)), u128::MAX),
            Action::SetIpv4Dst(ip) => self.write_field(Field::NwDst, u128::from(u32::from(*ip)), u128::MAX),
            Action::SetIpTos(tos) => self.write_field(Field::NwTos, u128::from(*tos & 0xfc), 0xfc),
            Action::SetIpEcn(ecn) => self.write_field(Field::NwTos, u128::from(*ecn & 3), 3),
            Action::SetIpTtl(ttl) => self.write_field(Field::NwTtl, u128::from(*ttl), u128::MAX),
            Action::SetL4SrcPort(port) => self.write_field(Field::TpSrc, u128::from(*port), u128::MAX),
            Action::SetL4DstPort(port) => self.write_field(Field::TpDst, u128::from(*port), u128::MAX),
            Action::DecTtl => self.dec_ttl(),
            Action::SetTunnel(id) => self.write_field(Field::TunId, u128::from(*id), u128::MAX),
            Action::Learn(learn) => self.learn(learn),
            Action::Group(id) => self.group(*id),
            Action::PushMpls { ethertype } => self.push_mpls(*ethertype),
            Action::PopMpls { ethertype } => self.pop_mpls(*ethertype),
            Action::SetMplsLabel(label) => self.write_field(Field::MplsLabel, u128::from(*label), u128::MAX),
            Action::SetMplsTc(tc) => self.write_field(Field::MplsTc, u128::from(*tc), u128::MAX),
            Action::SetMplsTtl(ttl) => self.write_field(Field::MplsTtl, u128::from(*ttl), u128::MAX),
            Action::DecMplsTtl => self.dec_mpls_ttl(),
            Action::CopyTtlOut => self.copy_ttl_out(),
            Action::CopyTtlIn => self.copy_ttl_in(),
        }
    }

    fn emit(&mut self, action: DpAction) {
        if self.out.actions.len() >= MAX_DATAPATH_ACTIONS {
            self.out.stop = Some(XlateStop::TooManyActions);
            return;
        }
        self.out.actions.push(action);
    }

    /// Reads a field, un-wildcarding it.
    fn read(&mut self, field: Field) -> u128 {
        self.out.wildcards.set_all_ones(field);
        self.key.get_u128(field)
    }

    /// A tunnel field as the actions so far leave it. A packet that came into this bridge from a
    /// port other than a tunnel port (and not across a patch port) has every tunnel field zero
    /// (only decapsulation sets them), so the value depends on the actions alone and the
    /// megaflow need not match the field: no extra key word for traffic that is not tunnelled.
    fn read_tunnel_field(&mut self, field: Field) -> u128 {
        if self.bridge_depth == 0 && self.in_port.tunnel.is_none() {
            self.key.get_u128(field)
        } else {
            self.read(field)
        }
    }

    fn read_subfield(&mut self, sub: Subfield) -> u128 {
        let mask = sub.field_mask();
        let old = self.out.wildcards.get_u128(sub.field);
        self.out.wildcards.set_u128(sub.field, old | mask);
        (self.key.get_u128(sub.field) & mask) >> sub.offset
    }

    fn write_subfield(&mut self, dst: Subfield, value: u128) {
        let mask = dst.field_mask();
        self.write_field(dst.field, (value << dst.offset) & mask, mask);
    }

    /// Writes the masked bits of a field on the working key. A partial
    /// write of a header field makes its committed value depend on the
    /// packet's other bits, so those are un-wildcarded.
    fn write_field(&mut self, field: Field, value: u128, mask: u128) {
        let full = field.bits_mask();
        let mask = mask & full;
        if field == Field::VlanTci {
            // Writing the TCI as a whole may add or remove the tag.
            self.out.wildcards.set_all_ones(Field::VlanTci);
        } else if mask != full && is_header_field(field) {
            self.out.wildcards.set_all_ones(field);
        }
        let old = self.key.get_u128(field);
        self.key.set_u128(field, (old & !mask) | (value & mask));
        if is_header_field(field) && !self.dirty.contains(&field) {
            self.dirty.push(field);
        }
    }

    fn vlan_tci(&mut self) -> u16 {
        u16::try_from(self.read(Field::VlanTci)).unwrap_or(0)
    }

    fn set_vlan_bits(&mut self, value: u128, mask: u16, push_if_needed: bool) {
        let tci = self.vlan_tci();
        if tci & vlan::PRESENT == 0 && !push_if_needed {
            return;
        }
        // Without a tag, the commit pushes one with the new TCI.
        let new = (tci & !mask) | (u16::try_from(value).unwrap_or(0) & mask);
        self.key.set_u128(Field::VlanTci, u128::from(new | vlan::PRESENT));
        if !self.dirty.contains(&Field::VlanTci) {
            self.dirty.push(Field::VlanTci);
        }
    }

    fn push_vlan(&mut self, tpid: u16) {
        self.commit();
        let outer = self.vlan_tci();
        // A pushed tag copies VID and PCP of the tag it covers (OpenFlow).
        let tci = if outer & vlan::PRESENT != 0 { outer & !vlan::PRESENT } else { 0 };
        self.emit(DpAction::PushVlan { tpid, tci });
        self.key.set_u128(Field::VlanTci2, u128::from(outer));
        self.key.set_u128(Field::VlanTci, u128::from(tci | vlan::PRESENT));
        self.committed.set_u128(Field::VlanTci2, u128::from(outer));
        self.committed.set_u128(Field::VlanTci, u128::from(tci | vlan::PRESENT));
    }

    fn pop_vlan(&mut self) {
        let outer = self.vlan_tci();
        if outer & vlan::PRESENT == 0 {
            return;
        }
        let packet_tci = self.committed.get_u128(Field::VlanTci);
        if u16::try_from(packet_tci).unwrap_or(0) & vlan::PRESENT == 0 && self.dirty.contains(&Field::VlanTci) {
            // The tag exists only in the working key (a VLAN set on an untagged packet, not
            // written yet): popping it leaves the packet as it is.
            self.key.set_u128(Field::VlanTci, packet_tci);
            self.dirty.retain(|&f| f != Field::VlanTci);
            return;
        }
        self.commit();
        self.emit(DpAction::PopVlan);
        let inner = self.read(Field::VlanTci2);
        for key in [&mut self.key, &mut self.committed] {
            key.set_u128(Field::VlanTci, inner);
            key.set_u128(Field::VlanTci2, 0);
        }
    }

    fn dec_ttl(&mut self) {
        let dl_type = self.read(Field::DlType);
        if dl_type != ETH_TYPE_IP && dl_type != ETH_TYPE_IPV6 {
            return;
        }
        let ttl = self.read(Field::NwTtl);
        if ttl <= 1 {
            // As Open vSwitch: the packet goes to the controllers as invalid_ttl (the connections
            // that asked for it) and this action list ends; a rule that resubmitted here goes on,
            // and so does the action set.
            self.note("dec_ttl: TTL expired -> controller (invalid_ttl), this action list ends".into());
            self.packet_in(PacketInReason::InvalidTtl, PacketInOrigin::Rule, u16::MAX);
            self.ttl_expired = true;
            self.list_ended = true;
            return;
        }
        self.write_field(Field::NwTtl, ttl - 1, u128::MAX);
    }

    /// Writes the pending header changes as datapath actions.
    fn commit(&mut self) {
        let dirty = std::mem::take(&mut self.dirty);
        for field in dirty {
            let now = self.key.get_u128(field);
            if field == Field::VlanTci {
                let now = u16::try_from(now).unwrap_or(0);
                let before = u16::try_from(self.committed.get_u128(Field::VlanTci)).unwrap_or(0);
                match (before & vlan::PRESENT != 0, now & vlan::PRESENT != 0) {
                    (true, true) => self.emit(DpAction::SetVlanTci(now & !vlan::PRESENT)),
                    (false, true) => self.emit(DpAction::PushVlan { tpid: ethertype::VLAN, tci: now & !vlan::PRESENT }),
                    (true, false) => self.emit(DpAction::PopVlan),
                    (false, false) => {}
                }
            } else {
                self.emit(DpAction::SetField { field, value: now });
            }
            self.committed.set_u128(field, now);
        }
    }

    fn output(&mut self, port: OfPort) {
        let in_ofport = self.in_port.ofport;
        match port {
            OfPort::IN_PORT if self.in_port.dp_port == NO_DP_PORT => {
                self.note("output:IN_PORT: skipped (the packet came from the controller)".into())
            }
            OfPort::IN_PORT => self.output_dp(self.in_port.dp_port),
            OfPort::NORMAL => self.normal(),
            OfPort::FLOOD | OfPort::ALL => {
                let flood = port == OfPort::FLOOD;
                let ports: Vec<u16> = self
                    .all_ports()
                    .iter()
                    .filter(|p| p.ofport != in_ofport && !(flood && p.flags.no_flood))
                    .map(|p| p.dp_port)
                    .collect();
                for dp in ports {
                    self.output_dp(dp);
                }
            }
            OfPort::CONTROLLER => self.controller(PacketInReason::Action, u16::MAX),
            // A packet-out's way into the pipeline.
            // As Open vSwitch: a miss there may go to the controllers, as the packet's own.
            OfPort::TABLE => self.resubmit(OfPort::IN_PORT, Some(0), true),
            OfPort(n) if n == in_ofport => self.note(format!("output:{n}: skipped (the input port)")),
            OfPort(n) => match self.port(n) {
                Some(p) => {
                    let dp = p.dp_port;
                    self.output_dp(dp);
                }
                None => self.note(format!("output:{n}: no such port")),
            },
        }
    }

    /// A controller action: a packet-in with the packet as the actions so far leave it. The
    /// table-miss rule's (priority 0, matching everything) is marked as such: OpenFlow 1.3
    /// reports it as a miss.
    fn controller(&mut self, reason: PacketInReason, max_len: u16) {
        let origin = match &self.current_rule {
            Some(rule) if reason == PacketInReason::Action && rule.table_miss => PacketInOrigin::TableMissRule,
            _ => PacketInOrigin::Rule,
        };
        self.packet_in(reason, origin, max_len);
    }

    fn packet_in(&mut self, reason: PacketInReason, origin: PacketInOrigin, max_len: u16) {
        if self.in_port.flags.no_packet_in {
            self.note("controller: skipped (the input port is no-packet-in)".into());
            return;
        }
        self.commit();
        // The packet-in carries these fields, so the megaflow depends on them.
        let in_port = (self.read(Field::InPort) & 0xffff_ffff) as u32;
        let metadata = (self.read(Field::Metadata) & 0xffff_ffff_ffff_ffff) as u64;
        let tun_id = (self.read(Field::TunId) & 0xffff_ffff_ffff_ffff) as u64;
        #[expect(clippy::cast_possible_truncation, reason = "16 registers of 32 bits")]
        let regs = std::array::from_fn(|r| self.read(Field::Reg(r as u8)) as u32);
        let meta = PacketInMeta {
            reason,
            origin,
            max_len,
            table_id: self.current_table,
            cookie: self.current_rule.map_or(0, |rule| rule.cookie),
            in_port,
            metadata,
            tun_id,
            regs,
        };
        self.emit(DpAction::Controller(Arc::new(meta)));
    }

    fn output_dp(&mut self, dp_port: u16) {
        let port = self.port_of_dp(dp_port);
        if port.is_some_and(|p| p.flags.down || p.flags.no_fwd) {
            self.note(format!("output to datapath port {dp_port}: skipped (the port is down or no-forward)"));
            return;
        }
        if let Some((port, tunnel)) = port.and_then(|p| p.tunnel.as_ref().map(|t| (p, t))) {
            self.tunnel_output(port, tunnel);
            return;
        }
        if let Some(peer) = port.and_then(|p| p.patch) {
            self.patch_output(peer);
            return;
        }
        self.commit();
        self.emit(DpAction::Output(dp_port));
    }

    /// Runs `table` (the current one by default) as if the packet came in on `port`;
    /// `top_level` as for [`Xlate::run_table`].
    fn resubmit(&mut self, port: OfPort, table: Option<u8>, top_level: bool) {
        if self.depth > MAX_RESUBMIT_DEPTH {
            // A loop in the rules: Open vSwitch drops the packet altogether.
            self.note("resubmit: too deep -> drop".into());
            self.out.stop = Some(XlateStop::ResubmitDepth);
            self.out.actions.clear();
            return;
        }
        let saved_in_port = self.key.get_u64(Field::InPort);
        if port != OfPort::IN_PORT {
            self.key.set_u64(Field::InPort, u64::from(port.0));
        }
        let (current, current_rule) = (self.current_table, self.current_rule);
        self.depth += 1;
        self.run_table(table.unwrap_or(current), top_level);
        self.depth -= 1;
        self.current_table = current;
        self.current_rule = current_rule;
        self.key.set_u64(Field::InPort, saved_in_port);
    }

    fn learn(&mut self, learn: &Learn) {
        let mut matches = Match::catch_all();
        let mut apply = Vec::new();
        for spec in &learn.specs {
            match *spec {
                LearnSpec::MatchField { dst, src } => {
                    let value = self.read_subfield(src);
                    let mask = dst.field_mask();
                    let (old_value, old_mask) = matches.value_and_mask(dst.field);
                    matches.set_masked(dst.field, old_value | ((value << dst.offset) & mask), old_mask | mask);
                }
                LearnSpec::MatchValue { dst, value } => {
                    let mask = dst.field_mask();
                    let (old_value, old_mask) = matches.value_and_mask(dst.field);
                    matches.set_masked(dst.field, old_value | ((value << dst.offset) & mask), old_mask | mask);
                }
                LearnSpec::LoadField { src, dst } => {
                    let value = self.read_subfield(src);
                    apply.push(Action::Load { value, dst });
                }
                LearnSpec::LoadValue { value, dst } => apply.push(Action::Load { value, dst }),
                LearnSpec::Output { src } => {
                    let port = self.read_subfield(src);
                    apply.push(Action::output(OfPort(u32::try_from(port).unwrap_or(u32::MAX))));
                }
            }
        }
        let rule = FlowRule {
            table: learn.table,
            priority: learn.priority,
            cookie: learn.cookie,
            idle_timeout: learn.idle_timeout,
            hard_timeout: learn.hard_timeout,
            matches,
            instructions: Instructions { apply_actions: apply, ..Instructions::default() },
        };
        self.note(format!("learn: table={} {rule}", rule.table));
        self.out.learned_rules.push(rule);
    }

    /// NORMAL: a VLAN-aware learning switch.
    fn normal(&mut self) {
        let tci = self.vlan_tci();
        let Some(vlan) = self.in_port.ingress_vlan(tci) else {
            self.note("NORMAL: VLAN not admitted on the input port -> drop".into());
            return;
        };
        let src = mac(self.read(Field::DlSrc));
        let dst = mac(self.read(Field::DlDst));
        if dst[..5] == [0x01, 0x80, 0xc2, 0x00, 0x00] && dst[5] <= 0x0f {
            // 802.1D reserved addresses (STP, LACP, LLDP...) are never forwarded.
            self.note("NORMAL: reserved multicast -> drop".into());
            return;
        }
        let in_ofport = self.in_port.ofport;
        let from_port = self.in_port.dp_port != NO_DP_PORT;
        if from_port && src[0] & 1 == 0 {
            match self.mac_entry(vlan, src) {
                // Known here: the megaflow's packets keep the entry alive.
                Some(entry) if entry.ofport == in_ofport => self.out.keep_alive.push(Arc::clone(&entry.last_seen)),
                _ => self.out.learned_macs.push(MacLearning { vlan, mac: src, ofport: in_ofport }),
            }
        }
        let known = if dst[0] & 1 == 0 { self.mac_port(vlan, dst) } else { None };
        let targets: Vec<BridgePort> = match known {
            Some(ofport) if ofport == in_ofport => {
                self.note("NORMAL: destination is on the input port -> drop".into());
                Vec::new()
            }
            Some(ofport) => self.port(ofport).cloned().into_iter().collect(),
            None => self
                .all_ports()
                .iter()
                .filter(|p| p.ofport != in_ofport && p.carries(vlan) && !p.flags.no_flood)
                .cloned()
                .collect(),
        };
        self.note(format!(
            "NORMAL: vlan {vlan}, {} -> ports {:?}",
            if known.is_some() { "learned destination" } else { "flood" },
            targets.iter().map(|p| p.ofport).collect::<Vec<_>>()
        ));
        // The priority the packet came with goes out with it on tagged ports.
        let pcp = if tci & vlan::PRESENT != 0 { tci & vlan::PCP_MASK } else { 0 };
        for port in targets {
            self.normal_output(&port, vlan, pcp);
        }
    }

    /// Output for NORMAL: untagged on access ports, tagged with the VLAN (and
    /// the packet's priority) on trunks; VLAN 0 untagged unless it has a priority.
    fn normal_output(&mut self, port: &BridgePort, vlan: u16, pcp: u16) {
        let tci = (self.key.get_u128(Field::VlanTci) & 0xffff) as u16;
        let tagged = tci & vlan::PRESENT != 0;
        match port.vlan_mode {
            VlanMode::Trunk(_) if vlan != 0 => {
                let wanted = vlan | pcp;
                if !tagged || tci & !vlan::PRESENT != wanted {
                    self.set_vlan_bits(u128::from(wanted), vlan::VID_MASK | vlan::PCP_MASK, true);
                }
            }
            // VLAN 0 on a trunk: a priority tag stays only if it carries a priority.
            VlanMode::Trunk(_) => {
                if tagged && pcp == 0 {
                    self.pop_vlan();
                }
            }
            VlanMode::Access(_) => {
                if tagged {
                    self.pop_vlan();
                }
            }
        }
        self.output_dp(port.dp_port);
    }
}

fn mac(value: u128) -> [u8; 6] {
    let b = value.to_be_bytes();
    [b[10], b[11], b[12], b[13], b[14], b[15]]
}

/// Fields that live in packet headers. The others are pipeline metadata,
/// never written to the packet. That includes the tunnel fields: `set_tunnel`
/// or a write of a tun_* field only changes the working key (later lookups,
/// learn and a tunnel port's output read it: the outer header it builds); the
/// inner packet is not changed by it.
pub(crate) fn is_header_field(field: Field) -> bool {
    !matches!(field, Field::InPort | Field::Metadata | Field::Reg(_)) && !field.is_tunnel()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::parse_add_flow;
    use crate::pipeline::table::{FlowModFlags, FlowTables};

    pub(super) const VM_MAC: [u8; 6] = [0xfa, 0x16, 0x3e, 0, 0, 1];
    pub(super) const REMOTE_MAC: [u8; 6] = [0xfa, 0x16, 0x3e, 0, 0, 2];
    const BROADCAST: [u8; 6] = [0xff; 6];

    /// Datapath port numbers differ from ofports on purpose.
    pub(super) fn dp(ofport: u32) -> u16 {
        u16::try_from(ofport).unwrap() + 10
    }

    pub(super) fn trunk_ports(ofports: &[u32]) -> Vec<BridgePort> {
        ofports.iter().map(|&ofport| BridgePort::trunk(ofport, dp(ofport))).collect()
    }

    pub(super) fn tables(rules: &[&str]) -> TablesSnapshot {
        let mut tables = FlowTables::new();
        for text in rules {
            let rule = parse_add_flow(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            tables.add(rule, FlowModFlags::default(), 0).unwrap();
        }
        tables.snapshot()
    }

    fn mac_value(mac: [u8; 6]) -> u128 {
        mac.iter().fold(0u128, |acc, &b| (acc << 8) | u128::from(b))
    }

    pub(super) fn packet(in_ofport: u32, src: [u8; 6], dst: [u8; 6], vlan: Option<u16>) -> FlowKey {
        let mut key = FlowKey::default();
        key.set_u64(Field::InPort, u64::from(dp(in_ofport)));
        key.set_u128(Field::DlSrc, mac_value(src));
        key.set_u128(Field::DlDst, mac_value(dst));
        if let Some(vid) = vlan {
            key.set_u128(Field::VlanTci, u128::from(vlan::PRESENT | vid));
        }
        key
    }

    pub(super) fn run(snapshot: &TablesSnapshot, ports: &[BridgePort], macs: &MacTable, key: &FlowKey) -> Translation {
        translate(&Bridge { tables: snapshot, ports, macs, miss_to_controller: false, underlay: None }, key, true)
    }

    const NEUTRON: &[&str] = &[
        "hard_timeout=0 idle_timeout=0 priority=1 in_port=1 actions=resubmit(,1)",
        "hard_timeout=0 idle_timeout=0 priority=1 in_port=2 actions=resubmit(,3)",
        "hard_timeout=0 idle_timeout=0 priority=1 in_port=3 actions=resubmit(,3)",
        "hard_timeout=0 idle_timeout=0 priority=0 actions=drop",
        "hard_timeout=0 idle_timeout=0 priority=1 table=1 dl_dst=00:00:00:00:00:00/01:00:00:00:00:00 actions=resubmit(,20)",
        "hard_timeout=0 idle_timeout=0 priority=1 table=1 dl_dst=01:00:00:00:00:00/01:00:00:00:00:00 actions=resubmit(,21)",
        "hard_timeout=0 idle_timeout=0 priority=0 table=2 actions=drop",
        "hard_timeout=0 idle_timeout=0 priority=0 table=3 actions=drop",
        "hard_timeout=0 idle_timeout=0 priority=1 table=3 tun_id=0x1 actions=mod_vlan_vid:1,resubmit(,10)",
        "hard_timeout=0 idle_timeout=0 priority=1 table=3 tun_id=0x2 actions=mod_vlan_vid:2,resubmit(,10)",
        "hard_timeout=0 idle_timeout=0 priority=1 table=10 actions=learn(table=20,priority=1,hard_timeout=300,NXM_OF_VLAN_TCI[0..11],NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],load:0->NXM_OF_VLAN_TCI[],load:NXM_NX_TUN_ID[]->NXM_NX_TUN_ID[],output:NXM_OF_IN_PORT[]),output:1",
        "hard_timeout=0 idle_timeout=0 priority=0 table=20 actions=resubmit(,21)",
        "hard_timeout=0 idle_timeout=0 priority=0 table=21 actions=drop",
        "hard_timeout=0 idle_timeout=0 priority=1 table=21 dl_vlan=1 actions=strip_vlan,set_tunnel:0x1,output:2,output:3",
        "hard_timeout=0 idle_timeout=0 priority=1 table=21 dl_vlan=2 actions=strip_vlan,set_tunnel:0x2,output:2,output:3",
    ];

    #[test]
    fn port_to_port() {
        let snapshot = tables(&["in_port=1,actions=output:2", "in_port=2,actions=IN_PORT"]);
        let ports = trunk_ports(&[1, 2, 3]);
        let macs = MacTable::new();
        let t = run(&snapshot, &ports, &macs, &packet(1, VM_MAC, REMOTE_MAC, None));
        assert_eq!(t.actions, [DpAction::Output(dp(2))]);
        assert_eq!(t.rules.len(), 1);
        let mut expected = FlowKey::default();
        expected.set_all_ones(Field::InPort);
        assert_eq!(t.wildcards, expected, "only in_port decides");
        let back = run(&snapshot, &ports, &macs, &packet(2, VM_MAC, REMOTE_MAC, None));
        assert_eq!(back.actions, [DpAction::Output(dp(2))]);
        let miss = run(&snapshot, &ports, &macs, &packet(3, VM_MAC, REMOTE_MAC, None));
        assert!(miss.actions.is_empty() && miss.table_miss);
    }

    /// The packet-ins of a translation: (reason, origin, max_len, table).
    fn packet_ins(t: &Translation) -> Vec<(PacketInReason, PacketInOrigin, u16, u8)> {
        t.actions
            .iter()
            .filter_map(|a| match a {
                DpAction::Controller(meta) => Some((meta.reason, meta.origin, meta.max_len, meta.table_id)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn misses_go_to_the_controller_only_when_the_bridge_says_so() {
        let snapshot = tables(&["in_port=1,actions=goto_table:2", "in_port=2,actions=resubmit(,3)"]);
        let ports = trunk_ports(&[1, 2, 3]);
        let macs = MacTable::new();
        let bridge = |miss_to_controller| Bridge {
            tables: &snapshot,
            ports: &ports,
            macs: &macs,
            miss_to_controller,
            underlay: None,
        };
        let from = |ofport| packet(ofport, VM_MAC, REMOTE_MAC, None);
        // OpenFlow 1.3: a miss drops.
        let t = translate(&bridge(false), &from(3), false);
        assert!(t.actions.is_empty() && t.table_miss);
        // A 1.0 controller is there: a miss of table 0, or of a table goto_table leads to,
        // is a packet-in with the whole packet; one of a resubmit is not.
        let t = translate(&bridge(true), &from(3), false);
        assert_eq!(packet_ins(&t), [(PacketInReason::NoMatch, PacketInOrigin::NoRule, u16::MAX, 0)]);
        assert!(t.table_miss);
        let t = translate(&bridge(true), &from(1), false);
        assert_eq!(packet_ins(&t), [(PacketInReason::NoMatch, PacketInOrigin::NoRule, u16::MAX, 2)]);
        assert!(translate(&bridge(true), &from(2), false).actions.is_empty(), "resubmit misses stay silent");
        // The table-miss rule is a rule: its packet-in says so.
        let miss_rule = tables(&["priority=0,actions=CONTROLLER:80", "priority=1,in_port=1,actions=CONTROLLER:90"]);
        let with_rule = |ofport| {
            let view =
                Bridge { tables: &miss_rule, ports: &ports, macs: &macs, miss_to_controller: true, underlay: None };
            packet_ins(&translate(&view, &from(ofport), false))
        };
        assert_eq!(with_rule(3), [(PacketInReason::Action, PacketInOrigin::TableMissRule, 80, 0)]);
        assert_eq!(with_rule(1), [(PacketInReason::Action, PacketInOrigin::Rule, 90, 0)]);
        // A packet-out's output:TABLE is the packet's own lookup: its miss goes up too.
        let packet_out = |miss_to_controller| {
            let view = Bridge { tables: &snapshot, ports: &ports, macs: &macs, miss_to_controller, underlay: None };
            packet_ins(&translate_packet_out(&view, &from(3), OfPort(3), &[Action::output(OfPort::TABLE)]))
        };
        assert_eq!(packet_out(true), [(PacketInReason::NoMatch, PacketInOrigin::NoRule, u16::MAX, 0)]);
        assert_eq!(packet_out(false), []);
    }

    #[test]
    fn table_lookups_and_matches_are_counted_when_credited() {
        let mut flow_tables = FlowTables::new();
        for text in ["in_port=1,actions=goto_table:2", "in_port=2,actions=resubmit(,3)", "table=2,actions=drop"] {
            flow_tables.add(parse_add_flow(text).unwrap(), FlowModFlags::default(), 0).unwrap();
        }
        let snapshot = flow_tables.snapshot();
        let ports = trunk_ports(&[1, 2, 3]);
        let macs = MacTable::new();
        let view = Bridge { tables: &snapshot, ports: &ports, macs: &macs, miss_to_controller: false, underlay: None };
        for (ofport, packets) in [(1, 5), (2, 3), (3, 2)] {
            translate(&view, &packet(ofport, VM_MAC, REMOTE_MAC, None), false).table_lookups.record(packets);
        }
        let counters = flow_tables.counters();
        assert_eq!(counters.get(0), (10, 8), "table 0: every packet, all but port 3's matched");
        assert_eq!(counters.get(2), (5, 5));
        assert_eq!(counters.get(3), (3, 0), "a resubmit's lookup counts too");
        assert_eq!(counters.get(1), (0, 0));
    }

    #[test]
    fn port_flags_of_port_mod() {
        let snapshot = tables(&["in_port=1,actions=FLOOD,CONTROLLER:64", "in_port=2,actions=NORMAL"]);
        let mut ports = trunk_ports(&[1, 2, 3, 4]);
        ports[2].flags.no_flood = true;
        ports[3].flags.no_fwd = true;
        let macs = MacTable::new();
        let t = run(&snapshot, &ports, &macs, &packet(1, VM_MAC, REMOTE_MAC, None));
        assert!(matches!(t.actions.as_slice(), [DpAction::Output(p), DpAction::Controller(_)] if *p == dp(2)));
        let t = run(&snapshot, &ports, &macs, &packet(2, VM_MAC, [0xff; 6], None));
        assert_eq!(t.actions, [DpAction::Output(dp(1))], "NORMAL floods neither no-flood nor no-fwd ports");
        ports[0].flags.no_packet_in = true;
        let t = run(&snapshot, &ports, &macs, &packet(1, VM_MAC, REMOTE_MAC, None));
        assert_eq!(t.actions, [DpAction::Output(dp(2))], "no packet-in from a no-packet-in port");
        for down in [false, true] {
            ports[0].flags = PortFlags { down, no_recv: !down, ..PortFlags::default() };
            let t = run(&snapshot, &ports, &macs, &packet(1, VM_MAC, REMOTE_MAC, None));
            assert_eq!((t.actions.len(), t.stop), (0, Some(XlateStop::PortNoRecv)));
        }
        assert_eq!(
            run(&snapshot, &ports, &macs, &packet(2, VM_MAC, [0xff; 6], None)).actions,
            [],
            "nothing goes out of a port that is down"
        );
    }

    #[test]
    fn output_to_the_input_port_is_skipped() {
        let snapshot = tables(&["actions=output:1,output:2"]);
        let ports = trunk_ports(&[1, 2]);
        let t = run(&snapshot, &ports, &MacTable::new(), &packet(1, VM_MAC, REMOTE_MAC, None));
        assert_eq!(t.actions, [DpAction::Output(dp(2))]);
    }

    #[test]
    fn neutron_broadcast_from_the_vm_side_floods_the_tunnels() {
        let snapshot = tables(NEUTRON);
        let ports = trunk_ports(&[1, 2, 3]);
        let t = run(&snapshot, &ports, &MacTable::new(), &packet(1, VM_MAC, BROADCAST, Some(1)));
        // Open vSwitch: "Datapath actions: pop_vlan,2,3" (in OpenFlow port numbers).
        assert_eq!(t.actions, [DpAction::PopVlan, DpAction::Output(dp(2)), DpAction::Output(dp(3))]);
        // Megaflow: in_port, the VLAN and the multicast bit of dl_dst (OVS: in_port=1,dl_vlan=1,
        // dl_vlan_pcp=0,dl_dst=01:00:00:00:00:00/01:00:00:00:00:00).
        assert_eq!(t.wildcards.get_u128(Field::DlDst), 0x0100_0000_0000);
        assert_ne!(t.wildcards.get_u128(Field::VlanTci), 0);
        assert_eq!(t.wildcards.get_u128(Field::DlSrc), 0);
    }

    #[test]
    fn neutron_learns_from_the_tunnel_and_then_forwards_to_one_tunnel() {
        let snapshot = tables(NEUTRON);
        let ports = trunk_ports(&[1, 2, 3]);
        let macs = MacTable::new();
        let mut from_tunnel = packet(2, REMOTE_MAC, VM_MAC, None);
        from_tunnel.set_u64(Field::TunId, 1);
        let t = run(&snapshot, &ports, &macs, &from_tunnel);
        // Open vSwitch: "Datapath actions: push_vlan(vid=1,pcp=0),1".
        assert_eq!(t.actions, [DpAction::PushVlan { tpid: 0x8100, tci: 1 }, DpAction::Output(dp(1))]);
        let expected = parse_add_flow(
            "table=20,hard_timeout=300,priority=1,vlan_tci=0x0001/0x0fff,dl_dst=fa:16:3e:00:00:02 \
             actions=load:0->NXM_OF_VLAN_TCI[],load:0x1->NXM_NX_TUN_ID[],output:2",
        )
        .unwrap();
        assert_eq!(t.learned_rules, std::slice::from_ref(&expected));
        assert_eq!(t.wildcards.get_u128(Field::DlSrc), mac_value([0xff; 6]), "learn reads dl_src");
        assert_eq!(t.wildcards.get_u128(Field::TunId), u128::from(u64::MAX));

        let mut rules: Vec<&str> = NEUTRON.to_vec();
        let learned = expected.to_string();
        rules.push(&learned);
        let snapshot = tables(&rules);
        let t = run(&snapshot, &ports, &macs, &packet(1, VM_MAC, REMOTE_MAC, Some(1)));
        // Open vSwitch after learning: "Datapath actions: pop_vlan,2".
        assert_eq!(t.actions, [DpAction::PopVlan, DpAction::Output(dp(2))]);
        // The same destination on VLAN 2 is not learned: flood.
        let t = run(&snapshot, &ports, &macs, &packet(1, VM_MAC, REMOTE_MAC, Some(2)));
        assert_eq!(t.actions, [DpAction::PopVlan, DpAction::Output(dp(2)), DpAction::Output(dp(3))]);
    }

    fn normal_ports() -> Vec<BridgePort> {
        vec![
            BridgePort {
                ofport: 1,
                dp_port: dp(1),
                vlan_mode: VlanMode::Access(10),
                live: true,
                flags: PortFlags::default(),
                tunnel: None,
                patch: None,
                mtu: 0,
            },
            BridgePort {
                ofport: 2,
                dp_port: dp(2),
                vlan_mode: VlanMode::Trunk(vec![10, 20]),
                live: true,
                flags: PortFlags::default(),
                tunnel: None,
                patch: None,
                mtu: 0,
            },
            BridgePort {
                ofport: 3,
                dp_port: dp(3),
                vlan_mode: VlanMode::Access(20),
                live: true,
                flags: PortFlags::default(),
                tunnel: None,
                patch: None,
                mtu: 0,
            },
            BridgePort {
                ofport: 4,
                dp_port: dp(4),
                vlan_mode: VlanMode::Access(10),
                live: true,
                flags: PortFlags::default(),
                tunnel: None,
                patch: None,
                mtu: 0,
            },
        ]
    }

    #[test]
    fn normal_floods_within_the_vlan_and_learns_the_source() {
        let snapshot = tables(&["actions=NORMAL"]);
        let ports = normal_ports();
        let t = run(&snapshot, &ports, &MacTable::new(), &packet(1, VM_MAC, BROADCAST, None));
        assert_eq!(
            t.actions,
            [
                DpAction::PushVlan { tpid: 0x8100, tci: 10 },
                DpAction::Output(dp(2)),
                DpAction::PopVlan,
                DpAction::Output(dp(4))
            ]
        );
        assert_eq!(t.learned_macs, [MacLearning { vlan: 10, mac: VM_MAC, ofport: 1 }]);
        // A tagged packet on an access port is not admitted.
        let tagged = run(&snapshot, &ports, &MacTable::new(), &packet(1, VM_MAC, BROADCAST, Some(10)));
        assert!(tagged.actions.is_empty());
    }

    #[test]
    fn normal_forwards_to_a_learned_port_with_the_right_tagging() {
        let snapshot = tables(&["actions=NORMAL"]);
        let ports = normal_ports();
        let mut macs = MacTable::new();
        macs.insert((10, REMOTE_MAC), MacPort::new(2, 0));
        macs.insert((10, VM_MAC), MacPort::new(1, 0));
        let t = run(&snapshot, &ports, &macs, &packet(4, [2, 0, 0, 0, 0, 4], REMOTE_MAC, None));
        assert_eq!(t.actions, [DpAction::PushVlan { tpid: 0x8100, tci: 10 }, DpAction::Output(dp(2))]);
        assert!(t.keep_alive.is_empty(), "an unknown source keeps nothing alive");
        let from_trunk = run(&snapshot, &ports, &macs, &packet(2, REMOTE_MAC, VM_MAC, Some(10)));
        assert_eq!(from_trunk.actions, [DpAction::PopVlan, DpAction::Output(dp(1))]);
        assert!(from_trunk.learned_macs.is_empty(), "already known on that port");
        let source = &macs[&(10, REMOTE_MAC)].last_seen;
        assert!(
            matches!(&from_trunk.keep_alive[..], [cell] if Arc::ptr_eq(cell, source)),
            "the megaflow keeps its source's entry alive, not its destination's"
        );
        let moved = run(&snapshot, &ports, &macs, &packet(1, REMOTE_MAC, VM_MAC, None));
        assert!(moved.keep_alive.is_empty(), "a source seen on another port is learned, not refreshed");
        // Not learned in VLAN 20: flood there.
        let other_vlan = run(&snapshot, &ports, &macs, &packet(3, [2, 0, 0, 0, 0, 3], REMOTE_MAC, None));
        assert_eq!(other_vlan.actions, [DpAction::PushVlan { tpid: 0x8100, tci: 20 }, DpAction::Output(dp(2))]);
    }

    fn ipv4(in_ofport: u32, ttl: u8) -> FlowKey {
        let mut key = packet(in_ofport, VM_MAC, REMOTE_MAC, None);
        key.set_u64(Field::DlType, 0x0800);
        key.set_u64(Field::NwTtl, u64::from(ttl));
        key
    }

    #[test]
    fn dec_ttl_rewrites_or_stops() {
        let snapshot = tables(&["ip,actions=dec_ttl,output:2"]);
        let ports = trunk_ports(&[1, 2]);
        let t = run(&snapshot, &ports, &MacTable::new(), &ipv4(1, 64));
        assert_eq!(t.actions, [DpAction::SetField { field: Field::NwTtl, value: 63 }, DpAction::Output(dp(2))]);
        assert_eq!(t.wildcards.get_u128(Field::NwTtl), 0xff);
        let expired = run(&snapshot, &ports, &MacTable::new(), &ipv4(1, 1));
        assert!(
            matches!(expired.actions.as_slice(), [DpAction::Controller(meta)] if meta.reason == PacketInReason::InvalidTtl),
            "{:?}",
            expired.actions
        );
        assert_eq!(expired.stop, Some(XlateStop::TtlExpired));
    }

    #[test]
    fn set_fields_are_committed_once_before_each_output() {
        let snapshot = tables(&[
            "ip,actions=mod_nw_src:10.0.0.9,mod_nw_src:10.0.0.7,output:2,mod_dl_dst:02:00:00:00:00:09,output:3",
        ]);
        let ports = trunk_ports(&[1, 2, 3]);
        let t = run(&snapshot, &ports, &MacTable::new(), &ipv4(1, 64));
        assert_eq!(
            t.actions,
            [
                DpAction::SetField { field: Field::NwSrc, value: 0x0a00_0007 },
                DpAction::Output(dp(2)),
                DpAction::SetField { field: Field::DlDst, value: 0x0200_0000_0009 },
                DpAction::Output(dp(3)),
            ]
        );
        assert_eq!(t.wildcards.get_u128(Field::NwSrc), 0, "written, never read");
    }

    #[test]
    fn registers_move_and_load_between_tables() {
        let snapshot = tables(&[
            "in_port=1,actions=load:0x2->NXM_NX_REG0[],move:NXM_NX_REG0[0..15]->NXM_NX_REG1[16..31],resubmit(,1)",
            "table=1,reg1=0x20000,actions=output:2",
            "table=1,priority=0,actions=output:3",
        ]);
        let ports = trunk_ports(&[1, 2, 3]);
        let t = run(&snapshot, &ports, &MacTable::new(), &packet(1, VM_MAC, REMOTE_MAC, None));
        assert_eq!(t.actions, [DpAction::Output(dp(2))]);
        assert_eq!(t.wildcards.get_u128(Field::Reg(0)), 0, "registers never reach the megaflow");
    }

    #[test]
    fn action_set_runs_after_the_pipeline() {
        let snapshot = tables(&[
            "in_port=1,actions=write_actions(output:2),goto_table:1",
            "in_port=4,actions=write_actions(output:2),goto_table:1",
            "table=1,actions=output:3",
            "table=1,priority=40000,in_port=4,actions=clear_actions,write_actions(output:1)",
        ]);
        let ports = trunk_ports(&[1, 2, 3, 4]);
        let t = run(&snapshot, &ports, &MacTable::new(), &packet(1, VM_MAC, REMOTE_MAC, None));
        assert_eq!(t.actions, [DpAction::Output(dp(3)), DpAction::Output(dp(2))]);
        let cleared = run(&snapshot, &ports, &MacTable::new(), &packet(4, VM_MAC, REMOTE_MAC, None));
        assert_eq!(cleared.actions, [DpAction::Output(dp(1))], "the action set was cleared, then written");
    }

    #[test]
    fn resubmit_loops_are_cut() {
        let snapshot = tables(&["actions=resubmit(,0)"]);
        let ports = trunk_ports(&[1, 2]);
        let t = run(&snapshot, &ports, &MacTable::new(), &packet(1, VM_MAC, REMOTE_MAC, None));
        assert_eq!(t.stop, Some(XlateStop::ResubmitDepth));
    }

    #[test]
    fn flood_and_all_skip_the_input_port() {
        let snapshot = tables(&["in_port=1,actions=FLOOD", "in_port=2,actions=ALL"]);
        let ports = trunk_ports(&[1, 2, 3]);
        let t = run(&snapshot, &ports, &MacTable::new(), &packet(1, VM_MAC, BROADCAST, None));
        assert_eq!(t.actions, [DpAction::Output(dp(2)), DpAction::Output(dp(3))]);
        let t = run(&snapshot, &ports, &MacTable::new(), &packet(2, VM_MAC, BROADCAST, None));
        assert_eq!(t.actions, [DpAction::Output(dp(1)), DpAction::Output(dp(3))]);
    }

    #[test]
    fn trace_names_every_table() {
        let snapshot = tables(NEUTRON);
        let ports = trunk_ports(&[1, 2, 3]);
        let t = run(&snapshot, &ports, &MacTable::new(), &packet(1, VM_MAC, BROADCAST, Some(1)));
        let trace = t.trace.unwrap().join("\n");
        for table in ["table 0:", "table 1:", "table 21:"] {
            assert!(trace.contains(table), "{trace}");
        }
    }

    #[test]
    fn unknown_input_port_is_reported() {
        let snapshot = tables(&["actions=output:2"]);
        let ports = trunk_ports(&[2]);
        let t = run(&snapshot, &ports, &MacTable::new(), &packet(7, VM_MAC, REMOTE_MAC, None));
        assert_eq!(t.stop, Some(XlateStop::UnknownInPort));
        assert!(t.actions.is_empty());
    }
}
