//! What an OpenFlow connection asks of the management thread, and what it gets back. The
//! connection threads never touch the flow tables, the ports or the PMDs: they send a typed
//! [`Query`] over a channel ([`OfPending`]) and wait (bounded) for the [`Answer`]. The
//! management thread (`Switch::handle_openflow`) answers with version-independent values; the
//! connection turns them into the messages of the version it negotiated. The management thread
//! also pushes [`Push`]es (packet-ins, port and flow changes) to every connection of a bridge.

use std::sync::Arc;

use crossbeam::channel::Sender;

use super::message::{FlowRemovedReason, MeterCommand, PortReason, TlvTableCommand};
use super::monitor::{FlowUpdate, MonitorError, MonitorRequest, Requester};
use crate::flow::tun_metadata::{TlvMapError, TlvMapping};
use crate::flow::{Action, FlowRule, FlowSelector, OfPort};
use crate::pipeline::group::{Group, GroupModError, GroupOp};
use crate::pipeline::meter::{MeterError, MeterSpec, MeterTotals};
use crate::pipeline::table::{FlowModFlags, FlowOp, FlowTableError};
use crate::pipeline::xlate::PortFlags;
use crate::pmd::packet_in::PacketInEvent;

/// A query of a connection of `bridge`, with where the answer goes.
pub struct OfPending {
    pub bridge: String,
    pub query: Query,
    pub reply_to: Sender<Answer>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Query {
    /// The bridge's ports (FEATURES, port desc). Answer: [`Answer::Ports`].
    Ports,
    /// Counters of one port, or of all ([`OfPort::NONE`]). Answer: [`Answer::PortStats`].
    PortStats(OfPort),
    /// Rules, lookups and matches per table. Answer: [`Answer::Tables`].
    TableStats,
    /// The rules a selector selects, with statistics. Answer: [`Answer::Flows`].
    Flows(FlowSelector),
    /// Sums over the rules a selector selects. Answer: [`Answer::Aggregate`].
    Aggregate(FlowSelector),
    /// Flow_mods (one, or a bundle's) applied together as one table version, all or none;
    /// `origin` is the connection and the request (for its flow monitors' abbreviated updates).
    /// Answer: [`Answer::FlowMod`].
    FlowMods { ops: Vec<FlowOp>, origin: Requester },
    /// A packet-out: `actions` run on `frame` as if it arrived on `in_port` (a port of the
    /// bridge, or CONTROLLER/LOCAL/NONE); output:TABLE runs the pipeline. Answer:
    /// [`Answer::PacketOut`].
    PacketOut { in_port: OfPort, actions: Vec<Action>, frame: Vec<u8> },
    /// A PORT_MOD: the flags under `mask` take the values of `set`; `hw_addr` must be the
    /// port's. Answer: [`Answer::PortMod`].
    PortMod { port: OfPort, hw_addr: [u8; 6], set: PortFlags, mask: PortFlags },
    /// A METER_MOD (delete: `spec` unused; id [`METER_ALL`] deletes every meter). Answer:
    /// [`Answer::MeterMod`].
    MeterMod { command: MeterCommand, id: u32, spec: MeterSpec },
    /// One meter, or every one ([`METER_ALL`]), with statistics. Answer: [`Answer::Meters`].
    Meters(u32),
    /// One group_mod, applied as one table version (with the rules a delete takes along).
    /// Answer: [`Answer::GroupMod`].
    GroupMod(GroupOp),
    /// Every group, by id. Answer: [`Answer::Groups`].
    GroupDesc,
    /// Counters of one group, or of all ([`crate::pipeline::group::GROUP_ALL`]). Answer:
    /// [`Answer::GroupStats`].
    GroupStats(u32),
    /// A connection started or stopped wanting a packet-in for every table miss (OpenFlow
    /// 1.0): the bridge's datapath follows before the answer. Answer: [`Answer::Done`].
    MissListenersChanged,
    /// An NXT_TLV_TABLE_MOD (the switch's map, whichever bridge asks). Answer:
    /// [`Answer::TlvTableMod`].
    TlvTableMod { command: TlvTableCommand, mappings: Vec<TlvMapping> },
    /// The switch's TLV map. Answer: [`Answer::TlvTable`].
    TlvTable,
    /// Flow monitor requests of connection `connection` (its registry id), all or none. Answer:
    /// [`Answer::FlowMonitor`], with the initial updates.
    FlowMonitor { connection: u64, requests: Vec<MonitorRequest> },
    /// Cancel a flow monitor of `connection`. Answer: [`Answer::FlowMonitorCancel`].
    FlowMonitorCancel { connection: u64, id: u32 },
}

/// OFPM_ALL: every meter.
pub use super::multipart::METER_ALL;

/// A meter with its statistics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeterView {
    pub id: u32,
    pub spec: MeterSpec,
    pub totals: MeterTotals,
    /// Rules with a meter instruction for it.
    pub flows: u32,
    pub duration_ms: u64,
}

/// A port as OpenFlow describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortView {
    pub ofport: u32,
    pub name: String,
    pub mac: [u8; 6],
    pub link_up: bool,
    pub speed_mbps: u32,
    pub flags: PortFlags,
}

/// A port's counters since it was added.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PortCounters {
    pub ofport: u32,
    pub rx_packets: u64,
    pub tx_packets: u64,
    pub rx_bytes: u64,
    pub tx_bytes: u64,
    /// Missed by the device and dropped by the switch on the way in.
    pub rx_dropped: u64,
    /// Refused by the device on transmit.
    pub tx_dropped: u64,
    pub rx_errors: u64,
    pub tx_errors: u64,
    pub duration_ms: u64,
}

/// One rule with its statistics, at the time of the query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowStat {
    pub rule: FlowRule,
    pub flags: FlowModFlags,
    pub duration_ms: u64,
    pub packets: u64,
    pub bytes: u64,
    /// Seconds since the last hit (or the add).
    pub idle_age_s: u64,
    /// Seconds since the last add or modify.
    pub hard_age_s: u64,
}

/// A table's rules and counters at the time of the query.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TableStat {
    pub active: u32,
    /// Packets looked up in the table (credited from the megaflows within ~10 ms, as rule
    /// counters are).
    pub lookups: u64,
    /// Of those, packets a rule matched.
    pub matched: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Aggregate {
    pub packets: u64,
    pub bytes: u64,
    pub flows: u32,
}

/// Why a flow_mod was not applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlowModFailure {
    /// The tables refused the flow_mod at this index of the batch; nothing changed.
    Table { index: usize, error: FlowTableError },
    /// The tables changed but the new version could not be published (a stuck PMD).
    Internal(String),
}

/// Why a group_mod was not applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupModFailure {
    Table(GroupModError),
    /// The tables changed but the new version could not be published (a stuck PMD).
    Internal(String),
}

/// A group's counters at the time of the query.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupStat {
    pub group_id: u32,
    /// Rules and buckets of other groups that send to it.
    pub ref_count: u32,
    pub packets: u64,
    pub bytes: u64,
    /// Packets and bytes per bucket.
    pub buckets: Vec<(u64, u64)>,
    pub duration_ms: u64,
}

/// Why a METER_MOD was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MeterModFailure {
    Meter(MeterError),
    /// The change could not be published to the datapath.
    Internal(String),
}

/// Why a PORT_MOD was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortModFailure {
    NoSuchPort,
    /// The message's hardware address is not the port's.
    WrongHwAddr,
    /// The change could not be published to the datapath.
    Internal(String),
}

/// Why a packet-out was not sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PacketOutFailure {
    /// in_port is neither a port of the bridge nor CONTROLLER/LOCAL/NONE.
    BadInPort(OfPort),
    /// No packet buffer, or the PMD's queue is full: try again.
    Busy(String),
}

/// What the management thread tells every connection of a bridge without being asked.
#[derive(Debug, Clone)]
pub enum Push {
    PacketIn(Arc<PacketInEvent>),
    PortStatus {
        reason: PortReason,
        port: PortView,
    },
    FlowRemoved {
        reason: FlowRemovedReason,
        flow: Box<FlowStat>,
    },
    /// Flow monitor updates for this connection: one message each (xid 0). `backlog` is their
    /// estimated size, counted in the connection's monitor backlog until they are written.
    FlowUpdates {
        messages: Vec<Vec<FlowUpdate>>,
        backlog: usize,
    },
    /// NXT_FLOW_MONITOR_PAUSED for this connection (counted in its backlog like an update).
    FlowMonitorPaused,
    /// NXT_FLOW_MONITOR_RESUMED for this connection.
    FlowMonitorResumed,
    /// This connection lost the master role to another one (a ROLE_STATUS in 1.4 and later).
    RoleStatus {
        generation_id: u64,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Ports(Vec<PortView>),
    PortStats(Vec<PortCounters>),
    /// Tables 0, 1, ... in order.
    Tables(Vec<TableStat>),
    Flows(Vec<FlowStat>),
    Aggregate(Aggregate),
    /// How many rules the flow_mods modified (0 for other commands' successes).
    FlowMod(Result<usize, FlowModFailure>),
    PacketOut(Result<(), PacketOutFailure>),
    PortMod(Result<(), PortModFailure>),
    MeterMod(Result<(), MeterModFailure>),
    Meters(Vec<MeterView>),
    GroupMod(Result<(), GroupModFailure>),
    Groups(Vec<Group>),
    GroupStats(Vec<GroupStat>),
    TlvTableMod(Result<(), TlvMapError>),
    TlvTable(Vec<TlvMapping>),
    /// The initial updates of new flow monitors, or why they were refused.
    FlowMonitor(Result<Vec<FlowUpdate>, MonitorError>),
    FlowMonitorCancel(Result<(), MonitorError>),
    /// Done, nothing to tell.
    Done,
    /// The bridge does not exist (any more).
    NoBridge,
}
