//! MULTIPART (1.3) / STATS (1.0) requests and replies: desc, flow, aggregate, table, table
//! features, port stats, port desc, queue, group stats/desc/features, meter stats/config/
//! features, 1.4's table desc and queue desc (and the 1.4/1.5 layouts of port, queue, flow and
//! aggregate stats and group desc), the Nicira vendor stats NXST_FLOW / NXST_AGGREGATE of 1.0
//! (their nx_match parts in `nicira`), and the flow monitors: 1.4's OFPMP_FLOW_MONITOR (the
//! bodies in `monitor::standard`), Open vSwitch's NXST / ONFST_FLOW_MONITOR in 1.0 and 1.3 (in
//! `monitor::nicira`). A reply larger than one message is the caller's to split (`more`).

use crate::flow::{Instructions, Match, OfPort};

use super::actions::{decode_instructions, encode_rule_instructions};
use super::message::{
    bad_request, decode_buckets, decode_buckets_v15, decode_meter_bands, decode_port_desc, encode_buckets,
    encode_buckets_v15, encode_meter_bands, encode_port_desc, read_name, write_name, Bucket, FlowModFlags, GroupType,
    MeterBand, MeterFlags, PortDesc, GROUP_ALL, GROUP_ANY,
};
use super::monitor::{self, FlowUpdate, MonitorRequest};
use super::nicira;
use super::oxm::{decode_match, encode_match};
use super::oxs::{self, OxsStats};
use super::wire::{len16, read_port, write_port, ErrorType, OfError, Reader, Version, Writer};

/// OFPMPF_REQ_MORE / OFPMPF_REPLY_MORE.
const MORE: u16 = 1;
const DESC: u16 = 0;
const FLOW: u16 = 1;
const AGGREGATE: u16 = 2;
const TABLE: u16 = 3;
const PORT_STATS: u16 = 4;
const QUEUE: u16 = 5;
const GROUP: u16 = 6;
const GROUP_DESC: u16 = 7;
const GROUP_FEATURES: u16 = 8;
const METER: u16 = 9;
const METER_CONFIG: u16 = 10;
const METER_FEATURES: u16 = 11;
const TABLE_FEATURES: u16 = 12;
const PORT_DESC: u16 = 13;
/// OpenFlow 1.4's table description and queue description.
const TABLE_DESC: u16 = 14;
const QUEUE_DESC: u16 = 15;
/// OpenFlow 1.4's flow monitors.
const FLOW_MONITOR: u16 = 16;
const EXPERIMENTER: u16 = 0xffff;

/// "All queues" in queue stats requests (OFPQ_ALL).
pub const QUEUE_ALL: u32 = 0xffff_ffff;
/// "All meters" in meter requests (OFPM_ALL).
pub const METER_ALL: u32 = 0xffff_ffff;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MultipartRequest {
    pub more: bool,
    pub body: RequestBody,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MultipartReply {
    pub more: bool,
    pub body: ReplyBody,
}

/// Which flows a flow or aggregate stats request asks about. 1.0 has no out_group and no
/// cookie filter on OFPST_FLOW (NXST_FLOW carries the cookie in its nx_match).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowStatsRequest {
    /// 0xff: all tables.
    pub table_id: u8,
    pub out_port: OfPort,
    pub out_group: u32,
    pub cookie: u64,
    pub cookie_mask: u64,
    pub matches: Match,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestBody {
    Desc,
    Flow(FlowStatsRequest),
    Aggregate(FlowStatsRequest),
    Table,
    /// Empty: a query; tables: a request to set them.
    TableFeatures(Vec<TableFeatures>),
    PortStats(OfPort),
    /// One port's description, or every port's ([`OfPort::NONE`], OFPP_ANY; only 1.5 asks
    /// for one).
    PortDesc(OfPort),
    Queue {
        port: OfPort,
        queue_id: u32,
    },
    /// One group's counters, or every group's (`GROUP_ALL`).
    Group(u32),
    /// One group, or every group (`GROUP_ALL`; 1.3's request has no id: every group).
    GroupDesc(u32),
    GroupFeatures,
    Meter(u32),
    MeterConfig(u32),
    MeterFeatures,
    /// OFPMP_TABLE_DESC (1.4).
    TableDesc,
    /// OFPMP_QUEUE_DESC (1.4, where it replaces QUEUE_GET_CONFIG): a port's queues (OFPP_ANY:
    /// every port's), one queue or all ([`QUEUE_ALL`]).
    QueueDesc {
        port: OfPort,
        queue_id: u32,
    },
    /// NXST_FLOW (1.0).
    NxFlow(FlowStatsRequest),
    /// NXST_AGGREGATE (1.0).
    NxAggregate(FlowStatsRequest),
    /// Flow monitor requests: OFPMP_FLOW_MONITOR (1.4+); Open vSwitch's NXST_FLOW_MONITOR
    /// (1.0) and ONFST_FLOW_MONITOR (1.3), which only add monitors.
    FlowMonitor(Vec<MonitorRequest>),
}

/// OFPST_DESC: NUL-padded strings of 256 bytes (serial_num: 32).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Desc {
    pub manufacturer: String,
    pub hardware: String,
    pub software: String,
    pub serial_num: String,
    pub datapath: String,
}

/// One rule in a flow stats reply. `idle_age`/`hard_age` (seconds since last hit / last
/// modification, plus one; 0 = not reported) exist only in NXST_FLOW; `flags` not in 1.0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowStats {
    pub table_id: u8,
    pub duration_sec: u32,
    pub duration_nsec: u32,
    pub priority: u16,
    pub idle_timeout: u16,
    pub hard_timeout: u16,
    pub flags: FlowModFlags,
    pub cookie: u64,
    pub packet_count: u64,
    pub byte_count: u64,
    pub idle_age: u16,
    pub hard_age: u16,
    pub matches: Match,
    pub instructions: Instructions,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AggregateStats {
    pub packet_count: u64,
    pub byte_count: u64,
    pub flow_count: u32,
}

/// One table in a table stats reply; `name`, `wildcards` and `max_entries` exist only in 1.0.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TableStats {
    pub table_id: u8,
    pub name: String,
    pub wildcards: u32,
    pub max_entries: u32,
    pub active_count: u32,
    pub lookup_count: u64,
    pub matched_count: u64,
}

/// Counters of one port; `duration_*` exist only in 1.3.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortStats {
    pub port_no: OfPort,
    pub rx_packets: u64,
    pub tx_packets: u64,
    pub rx_bytes: u64,
    pub tx_bytes: u64,
    pub rx_dropped: u64,
    pub tx_dropped: u64,
    pub rx_errors: u64,
    pub tx_errors: u64,
    pub rx_frame_err: u64,
    pub rx_over_err: u64,
    pub rx_crc_err: u64,
    pub collisions: u64,
    pub duration_sec: u32,
    pub duration_nsec: u32,
}

/// Counters of one queue; `duration_*` exist only in 1.3.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueStats {
    pub port_no: OfPort,
    pub queue_id: u32,
    pub tx_bytes: u64,
    pub tx_packets: u64,
    pub tx_errors: u64,
    pub duration_sec: u32,
    pub duration_nsec: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counters {
    pub packet_count: u64,
    pub byte_count: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GroupStats {
    pub group_id: u32,
    pub ref_count: u32,
    pub packet_count: u64,
    pub byte_count: u64,
    pub duration_sec: u32,
    pub duration_nsec: u32,
    pub buckets: Vec<Counters>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupDesc {
    pub group_type: GroupType,
    pub group_id: u32,
    pub buckets: Vec<Bucket>,
}

/// OFPST_GROUP_FEATURES: bitmaps of group types, capabilities, and per type (all, select,
/// indirect, ff) the maximum number of groups and the bitmap of supported actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GroupFeatures {
    pub types: u32,
    pub capabilities: u32,
    pub max_groups: [u32; 4],
    pub actions: [u32; 4],
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MeterStats {
    pub meter_id: u32,
    pub flow_count: u32,
    pub packet_in_count: u64,
    pub byte_in_count: u64,
    pub duration_sec: u32,
    pub duration_nsec: u32,
    pub bands: Vec<Counters>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeterConfig {
    pub flags: MeterFlags,
    pub meter_id: u32,
    pub bands: Vec<MeterBand>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MeterFeatures {
    pub max_meter: u32,
    /// Bitmap of 1 << OFPMBT_* (drop = bit 1, dscp_remark = bit 2).
    pub band_types: u32,
    /// Bitmap of OFPMF_* flags.
    pub capabilities: u32,
    pub max_bands: u8,
    pub max_color: u8,
}

/// An instruction or action id in a table-features property: its type, and for experimenter
/// ids the bytes after type and length (experimenter id, subtype).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeatureId {
    pub kind: u16,
    pub data: Vec<u8>,
}

/// An OXM id: its 32-bit header, and the experimenter id when the class is 0xffff.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OxmId {
    pub header: u32,
    pub experimenter: Option<u32>,
}

/// A table-features property. `miss`: the *_MISS variant (what the table-miss rule may use).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TableFeatureProperty {
    Instructions { miss: bool, ids: Vec<FeatureId> },
    NextTables { miss: bool, tables: Vec<u8> },
    WriteActions { miss: bool, ids: Vec<FeatureId> },
    ApplyActions { miss: bool, ids: Vec<FeatureId> },
    Match(Vec<OxmId>),
    Wildcards(Vec<OxmId>),
    WriteSetfield { miss: bool, fields: Vec<OxmId> },
    ApplySetfield { miss: bool, fields: Vec<OxmId> },
    Experimenter { miss: bool, experimenter: u32, exp_type: u32, data: Vec<u8> },
}

/// One table of OFPMP_TABLE_DESC (1.4): its configuration bits (OFPTC_*); the switch has no
/// eviction or vacancy properties to report (received ones are skipped).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableDesc {
    pub table_id: u8,
    pub config: u32,
}

/// One queue of OFPMP_QUEUE_DESC (1.4); rate properties are skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueDesc {
    pub port_no: OfPort,
    pub queue_id: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TableFeatures {
    pub table_id: u8,
    pub name: String,
    pub metadata_match: u64,
    pub metadata_write: u64,
    pub config: u32,
    pub max_entries: u32,
    pub properties: Vec<TableFeatureProperty>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplyBody {
    Desc(Desc),
    Flow(Vec<FlowStats>),
    Aggregate(AggregateStats),
    Table(Vec<TableStats>),
    TableFeatures(Vec<TableFeatures>),
    PortStats(Vec<PortStats>),
    PortDesc(Vec<PortDesc>),
    Queue(Vec<QueueStats>),
    Group(Vec<GroupStats>),
    GroupDesc(Vec<GroupDesc>),
    GroupFeatures(GroupFeatures),
    Meter(Vec<MeterStats>),
    MeterConfig(Vec<MeterConfig>),
    MeterFeatures(MeterFeatures),
    TableDesc(Vec<TableDesc>),
    QueueDesc(Vec<QueueDesc>),
    /// NXST_FLOW (1.0).
    NxFlow(Vec<FlowStats>),
    /// NXST_AGGREGATE (1.0).
    NxAggregate(AggregateStats),
    /// OFPMP_FLOW_MONITOR (1.4+), NXST_FLOW_MONITOR (1.0), ONFST_FLOW_MONITOR (1.3): the
    /// initial rules, or updates.
    FlowMonitor(Vec<FlowUpdate>),
}

fn bad_multipart(kind: u16, version: Version) -> OfError {
    bad_request(bad_request::BAD_MULTIPART, format!("multipart type {kind} in {version:?}"))
}

fn port_error(n: u32) -> OfError {
    bad_request(bad_request::BAD_PORT, format!("port number {n:#x}"))
}

/// A multipart type `version` does not have is OFPBRC_BAD_MULTIPART (BAD_STAT in 1.0).
fn require_v13(version: Version, kind: u16) -> Result<(), OfError> {
    if kind_in_version(version, kind, false) {
        Ok(())
    } else {
        Err(bad_multipart(kind, version))
    }
}

/// The type and flags words, and the 1.3 padding.
fn read_multipart_header(version: Version, r: &mut Reader) -> Result<(u16, bool), OfError> {
    let kind = r.u16()?;
    let flags = r.u16()?;
    if version >= Version::V1_3 {
        r.skip(4)?;
    }
    Ok((kind, flags & MORE != 0))
}

fn write_multipart_header(version: Version, kind: u16, more: bool, w: &mut Writer) {
    w.u16(kind);
    w.u16(u16::from(more));
    if version >= Version::V1_3 {
        w.zeros(4);
    }
}

pub(crate) fn decode_request(version: Version, r: &mut Reader) -> Result<MultipartRequest, OfError> {
    let (kind, more) = read_multipart_header(version, r)?;
    let body = match kind {
        DESC => RequestBody::Desc,
        FLOW => RequestBody::Flow(decode_flow_stats_request(version, r)?),
        AGGREGATE => RequestBody::Aggregate(decode_flow_stats_request(version, r)?),
        TABLE => RequestBody::Table,
        PORT_STATS => {
            let port = read_port(version, r, port_error)?;
            r.skip(if version >= Version::V1_3 { 4 } else { 6 })?;
            RequestBody::PortStats(port)
        }
        QUEUE => {
            let port = read_port(version, r, port_error)?;
            if version == Version::V1_0 {
                r.skip(2)?;
            }
            RequestBody::Queue { port, queue_id: r.u32()? }
        }
        EXPERIMENTER => nicira::decode_stats_request(version, r)?,
        // In 1.0 too, as Open vSwitch's extension (OFPST_PORT_DESC, no body, ofp_phy_ports).
        PORT_DESC if version >= Version::V1_5 => {
            RequestBody::PortDesc(pad_after(read_port(version, r, port_error)?, r, 4)?)
        }
        PORT_DESC => RequestBody::PortDesc(OfPort::NONE),
        _ => {
            require_v13(version, kind)?;
            match kind {
                GROUP => RequestBody::Group(pad_after(r.u32()?, r, 4)?),
                // 1.5 asks for one group or all; 1.3 and 1.4 for all.
                GROUP_DESC if version >= Version::V1_5 => RequestBody::GroupDesc(pad_after(r.u32()?, r, 4)?),
                GROUP_DESC => RequestBody::GroupDesc(GROUP_ALL),
                GROUP_FEATURES => RequestBody::GroupFeatures,
                METER => RequestBody::Meter(pad_after(r.u32()?, r, 4)?),
                METER_CONFIG => RequestBody::MeterConfig(pad_after(r.u32()?, r, 4)?),
                METER_FEATURES => RequestBody::MeterFeatures,
                TABLE_FEATURES => RequestBody::TableFeatures(decode_table_features_list(r)?),
                TABLE_DESC => RequestBody::TableDesc,
                QUEUE_DESC => RequestBody::QueueDesc { port: read_port(version, r, port_error)?, queue_id: r.u32()? },
                FLOW_MONITOR => RequestBody::FlowMonitor(monitor::standard::decode_requests(version, r)?),
                _ => return Err(bad_multipart(kind, version)),
            }
        }
    };
    Ok(MultipartRequest { more, body })
}

/// `value`, after skipping `n` padding bytes.
pub(crate) fn pad_after<T>(value: T, r: &mut Reader, n: usize) -> Result<T, OfError> {
    r.skip(n)?;
    Ok(value)
}

/// Whether `version` carries the group multiparts as Nicira vendor stats (1.0).
fn nicira_groups(version: Version) -> bool {
    version == Version::V1_0
}

/// The multipart type number of a request or reply body in `version`.
fn request_kind(version: Version, body: &RequestBody) -> u16 {
    match body {
        RequestBody::Group(_) | RequestBody::GroupDesc(_) | RequestBody::GroupFeatures if nicira_groups(version) => {
            EXPERIMENTER
        }
        RequestBody::Desc => DESC,
        RequestBody::Flow(_) => FLOW,
        RequestBody::Aggregate(_) => AGGREGATE,
        RequestBody::Table => TABLE,
        RequestBody::TableFeatures(_) => TABLE_FEATURES,
        RequestBody::PortStats(_) => PORT_STATS,
        RequestBody::PortDesc(_) => PORT_DESC,
        RequestBody::Queue { .. } => QUEUE,
        RequestBody::Group(_) => GROUP,
        RequestBody::GroupDesc(_) => GROUP_DESC,
        RequestBody::GroupFeatures => GROUP_FEATURES,
        RequestBody::Meter(_) => METER,
        RequestBody::MeterConfig(_) => METER_CONFIG,
        RequestBody::MeterFeatures => METER_FEATURES,
        RequestBody::TableDesc => TABLE_DESC,
        RequestBody::QueueDesc { .. } => QUEUE_DESC,
        RequestBody::FlowMonitor(_) if version >= Version::V1_4 => FLOW_MONITOR,
        RequestBody::NxFlow(_) | RequestBody::NxAggregate(_) | RequestBody::FlowMonitor(_) => EXPERIMENTER,
    }
}

fn reply_kind(version: Version, body: &ReplyBody) -> u16 {
    match body {
        ReplyBody::Group(_) | ReplyBody::GroupDesc(_) | ReplyBody::GroupFeatures(_) if nicira_groups(version) => {
            EXPERIMENTER
        }
        ReplyBody::Desc(_) => DESC,
        ReplyBody::Flow(_) => FLOW,
        ReplyBody::Aggregate(_) => AGGREGATE,
        ReplyBody::Table(_) => TABLE,
        ReplyBody::TableFeatures(_) => TABLE_FEATURES,
        ReplyBody::PortStats(_) => PORT_STATS,
        ReplyBody::PortDesc(_) => PORT_DESC,
        ReplyBody::Queue(_) => QUEUE,
        ReplyBody::Group(_) => GROUP,
        ReplyBody::GroupDesc(_) => GROUP_DESC,
        ReplyBody::GroupFeatures(_) => GROUP_FEATURES,
        ReplyBody::Meter(_) => METER,
        ReplyBody::MeterConfig(_) => METER_CONFIG,
        ReplyBody::MeterFeatures(_) => METER_FEATURES,
        ReplyBody::TableDesc(_) => TABLE_DESC,
        ReplyBody::QueueDesc(_) => QUEUE_DESC,
        ReplyBody::FlowMonitor(_) if version >= Version::V1_4 => FLOW_MONITOR,
        ReplyBody::NxFlow(_) | ReplyBody::NxAggregate(_) | ReplyBody::FlowMonitor(_) => EXPERIMENTER,
    }
}

/// Whether a body of multipart type `kind` exists in `version` (1.0 has types 0..=5, vendor
/// and Open vSwitch's port desc; the Nicira vendor stats only in 1.0).
pub(crate) fn kind_in_version(version: Version, kind: u16, nicira: bool) -> bool {
    match version {
        Version::V1_0 => kind <= QUEUE || kind == EXPERIMENTER || kind == PORT_DESC,
        Version::V1_3 => !nicira && (kind <= PORT_DESC || kind == EXPERIMENTER),
        Version::V1_4 | Version::V1_5 => !nicira && (kind <= FLOW_MONITOR || kind == EXPERIMENTER),
    }
}

pub(crate) fn request_fits(version: Version, request: &MultipartRequest) -> bool {
    let kind = request_kind(version, &request.body);
    match &request.body {
        RequestBody::FlowMonitor(requests) if kind == EXPERIMENTER => {
            kind_in_version(version, kind, false) && monitor::nicira::fits(requests, &[])
        }
        _ => kind_in_version(version, kind, kind == EXPERIMENTER),
    }
}

pub(crate) fn reply_fits(version: Version, reply: &MultipartReply) -> bool {
    let kind = reply_kind(version, &reply.body);
    match &reply.body {
        ReplyBody::FlowMonitor(updates) if kind == EXPERIMENTER => {
            kind_in_version(version, kind, false) && monitor::nicira::fits(&[], updates)
        }
        _ => kind_in_version(version, kind, kind == EXPERIMENTER),
    }
}

pub(crate) fn encode_request(version: Version, request: &MultipartRequest, w: &mut Writer) {
    let kind = request_kind(version, &request.body);
    write_multipart_header(version, kind, request.more, w);
    if kind == EXPERIMENTER {
        nicira::encode_stats_request(version, &request.body, w);
        return;
    }
    match &request.body {
        // 1.5's group desc and port desc requests name one group or port (or all).
        RequestBody::GroupDesc(id) if version >= Version::V1_5 => {
            w.u32(*id);
            w.zeros(4);
        }
        RequestBody::PortDesc(port) if version >= Version::V1_5 => {
            write_port(version, *port, w);
            w.zeros(4);
        }
        RequestBody::Desc
        | RequestBody::Table
        | RequestBody::PortDesc(_)
        | RequestBody::GroupDesc(_)
        | RequestBody::GroupFeatures
        | RequestBody::MeterFeatures
        | RequestBody::TableDesc => {}
        RequestBody::QueueDesc { port, queue_id } => {
            write_port(version, *port, w);
            w.u32(*queue_id);
        }
        RequestBody::FlowMonitor(requests) => monitor::standard::encode_requests(version, requests, w),
        RequestBody::Flow(request) | RequestBody::Aggregate(request) => encode_flow_stats_request(version, request, w),
        RequestBody::TableFeatures(tables) => encode_table_features_list(tables, w),
        RequestBody::PortStats(port) => {
            write_port(version, *port, w);
            w.zeros(if version >= Version::V1_3 { 4 } else { 6 });
        }
        RequestBody::Queue { port, queue_id } => {
            write_port(version, *port, w);
            if version == Version::V1_0 {
                w.zeros(2);
            }
            w.u32(*queue_id);
        }
        RequestBody::Group(id) | RequestBody::Meter(id) | RequestBody::MeterConfig(id) => {
            w.u32(*id);
            w.zeros(4);
        }
        RequestBody::NxFlow(_) | RequestBody::NxAggregate(_) => {}
    }
}

pub(crate) fn decode_reply(version: Version, r: &mut Reader) -> Result<MultipartReply, OfError> {
    let (kind, more) = read_multipart_header(version, r)?;
    let body = match kind {
        DESC => ReplyBody::Desc(Desc {
            manufacturer: read_name(r, 256)?,
            hardware: read_name(r, 256)?,
            software: read_name(r, 256)?,
            serial_num: read_name(r, 32)?,
            datapath: read_name(r, 256)?,
        }),
        FLOW => ReplyBody::Flow(decode_all(r, |r| decode_flow_stats(version, r))?),
        AGGREGATE if version >= Version::V1_5 => {
            let stats = oxs::decode_stats(r)?;
            ReplyBody::Aggregate(AggregateStats {
                packet_count: stats.packet_count.unwrap_or_default(),
                byte_count: stats.byte_count.unwrap_or_default(),
                flow_count: stats.flow_count.unwrap_or_default(),
            })
        }
        AGGREGATE => ReplyBody::Aggregate(decode_aggregate(r)?),
        TABLE => ReplyBody::Table(decode_all(r, |r| decode_table_stats(version, r))?),
        PORT_STATS => ReplyBody::PortStats(decode_all(r, |r| decode_port_stats(version, r))?),
        QUEUE => ReplyBody::Queue(decode_all(r, |r| decode_queue_stats(version, r))?),
        EXPERIMENTER => nicira::decode_stats_reply(version, r)?,
        PORT_DESC => ReplyBody::PortDesc(decode_all(r, |r| decode_port_desc(version, r))?),
        _ => {
            require_v13(version, kind)?;
            match kind {
                GROUP => ReplyBody::Group(decode_all(r, decode_group_stats)?),
                GROUP_DESC if version >= Version::V1_5 => {
                    ReplyBody::GroupDesc(decode_all(r, |r| decode_group_desc_v15(version, r))?)
                }
                GROUP_DESC => ReplyBody::GroupDesc(decode_all(r, decode_group_desc)?),
                GROUP_FEATURES => ReplyBody::GroupFeatures(decode_group_features(r)?),
                METER => ReplyBody::Meter(decode_all(r, decode_meter_stats)?),
                METER_CONFIG => ReplyBody::MeterConfig(decode_all(r, decode_meter_config)?),
                METER_FEATURES => {
                    let features = MeterFeatures {
                        max_meter: r.u32()?,
                        band_types: r.u32()?,
                        capabilities: r.u32()?,
                        max_bands: r.u8()?,
                        max_color: r.u8()?,
                    };
                    r.skip(2)?;
                    ReplyBody::MeterFeatures(features)
                }
                TABLE_FEATURES => ReplyBody::TableFeatures(decode_table_features_list(r)?),
                TABLE_DESC => ReplyBody::TableDesc(decode_all(r, decode_table_desc)?),
                QUEUE_DESC => ReplyBody::QueueDesc(decode_all(r, decode_queue_desc)?),
                FLOW_MONITOR => ReplyBody::FlowMonitor(monitor::standard::decode_updates(version, r)?),
                _ => return Err(bad_multipart(kind, version)),
            }
        }
    };
    Ok(MultipartReply { more, body })
}

pub(crate) fn encode_reply(version: Version, reply: &MultipartReply, w: &mut Writer) {
    let kind = reply_kind(version, &reply.body);
    write_multipart_header(version, kind, reply.more, w);
    if kind == EXPERIMENTER {
        nicira::encode_stats_reply(version, &reply.body, w);
        return;
    }
    match &reply.body {
        ReplyBody::Desc(desc) => {
            write_name(&desc.manufacturer, 256, w);
            write_name(&desc.hardware, 256, w);
            write_name(&desc.software, 256, w);
            write_name(&desc.serial_num, 32, w);
            write_name(&desc.datapath, 256, w);
        }
        ReplyBody::Flow(flows) => flows.iter().for_each(|flow| encode_flow_stats(version, flow, w)),
        ReplyBody::Aggregate(stats) if version >= Version::V1_5 => {
            let oxs_stats = OxsStats {
                flow_count: Some(stats.flow_count),
                packet_count: Some(stats.packet_count),
                byte_count: Some(stats.byte_count),
                ..OxsStats::default()
            };
            oxs::encode_stats(&oxs_stats, w);
        }
        ReplyBody::Aggregate(stats) => encode_aggregate(stats, w),
        ReplyBody::Table(tables) => tables.iter().for_each(|table| encode_table_stats(version, table, w)),
        ReplyBody::TableFeatures(tables) => encode_table_features_list(tables, w),
        ReplyBody::PortStats(ports) => ports.iter().for_each(|port| encode_port_stats(version, port, w)),
        ReplyBody::PortDesc(ports) => ports.iter().for_each(|port| encode_port_desc(version, port, w)),
        ReplyBody::Queue(queues) => queues.iter().for_each(|queue| encode_queue_stats(version, queue, w)),
        ReplyBody::Group(groups) => groups.iter().for_each(|group| encode_group_stats(group, w)),
        ReplyBody::GroupDesc(groups) if version >= Version::V1_5 => {
            groups.iter().for_each(|group| encode_group_desc_v15(version, group, w));
        }
        ReplyBody::GroupDesc(groups) => {
            for group in groups {
                let start = w.len();
                w.u16(0);
                w.u8(group.group_type as u8);
                w.u8(0);
                w.u32(group.group_id);
                encode_buckets(&group.buckets, w);
                w.patch_len(start, start);
            }
        }
        ReplyBody::GroupFeatures(features) => encode_group_features(features, w),
        ReplyBody::Meter(meters) => meters.iter().for_each(|meter| encode_meter_stats(meter, w)),
        ReplyBody::MeterConfig(meters) => {
            for meter in meters {
                let start = w.len();
                w.u16(0);
                w.u16(meter.flags.wire());
                w.u32(meter.meter_id);
                encode_meter_bands(&meter.bands, w);
                w.patch_len(start, start);
            }
        }
        ReplyBody::MeterFeatures(features) => {
            w.u32(features.max_meter);
            w.u32(features.band_types);
            w.u32(features.capabilities);
            w.u8(features.max_bands);
            w.u8(features.max_color);
            w.zeros(2);
        }
        ReplyBody::TableDesc(tables) => {
            for table in tables {
                w.u16(8);
                w.u8(table.table_id);
                w.u8(0);
                w.u32(table.config);
            }
        }
        ReplyBody::QueueDesc(queues) => {
            for queue in queues {
                write_port(version, queue.port_no, w);
                w.u32(queue.queue_id);
                w.u16(16);
                w.zeros(6);
            }
        }
        ReplyBody::FlowMonitor(updates) => monitor::standard::encode_updates(version, updates, w),
        ReplyBody::NxFlow(_) | ReplyBody::NxAggregate(_) => {}
    }
}

fn decode_table_desc(r: &mut Reader) -> Result<TableDesc, OfError> {
    let length = r.u16()?;
    let mut e = entry_body(r, length, 8)?;
    let table_id = e.u8()?;
    e.skip(1)?;
    let config = e.u32()?;
    nicira::skip_properties(&mut e)?;
    Ok(TableDesc { table_id, config })
}

fn decode_queue_desc(r: &mut Reader) -> Result<QueueDesc, OfError> {
    let port_no = read_port(Version::V1_4, r, port_error)?;
    let queue_id = r.u32()?;
    let length = r.u16()?;
    let mut e = entry_body(r, length.saturating_sub(8), 8)?;
    e.skip(6)?;
    nicira::skip_properties(&mut e)?;
    Ok(QueueDesc { port_no, queue_id })
}

pub(crate) fn encode_group_features(features: &GroupFeatures, w: &mut Writer) {
    w.u32(features.types);
    w.u32(features.capabilities);
    features.max_groups.iter().chain(&features.actions).for_each(|&word| w.u32(word));
}

pub(crate) fn decode_group_features(r: &mut Reader) -> Result<GroupFeatures, OfError> {
    let mut features = GroupFeatures { types: r.u32()?, capabilities: r.u32()?, ..GroupFeatures::default() };
    for word in features.max_groups.iter_mut().chain(features.actions.iter_mut()) {
        *word = r.u32()?;
    }
    Ok(features)
}

/// A group description in OpenFlow 1.5's layout (ofp15_group_desc_stats), which Open
/// vSwitch's NXST_GROUP_DESC carries in 1.0: buckets with ids and properties.
pub(crate) fn encode_group_desc_v15(version: Version, group: &GroupDesc, w: &mut Writer) {
    let start = w.len();
    w.u16(0);
    w.u8(group.group_type as u8);
    w.u8(0);
    w.u32(group.group_id);
    let buckets_len_at = w.len();
    w.u16(0);
    w.zeros(6);
    let buckets_start = w.len();
    encode_buckets_v15(version, group.group_type, &group.buckets, w);
    w.patch_len(buckets_len_at, buckets_start);
    w.patch_len(start, start);
}

pub(crate) fn decode_group_desc_v15(version: Version, r: &mut Reader) -> Result<GroupDesc, OfError> {
    let length = r.u16()?;
    let mut e = entry_body(r, length, 16)?;
    let group_type = GroupType::from_wire(e.u8()?)?;
    e.skip(1)?;
    let group_id = e.u32()?;
    let buckets_len = usize::from(e.u16()?);
    e.skip(6)?;
    let mut buckets = e.sub(buckets_len)?;
    Ok(GroupDesc { group_type, group_id, buckets: decode_buckets_v15(version, group_type, &mut buckets)? })
}

/// Entries up to the end of `r`.
pub(crate) fn decode_all<T>(
    r: &mut Reader,
    mut decode_one: impl FnMut(&mut Reader) -> Result<T, OfError>,
) -> Result<Vec<T>, OfError> {
    let mut entries = Vec::new();
    while !r.is_empty() {
        entries.push(decode_one(r)?);
    }
    Ok(entries)
}

/// The body of an entry whose first u16 (already read as `length`) counts itself: the next
/// `length - 2` bytes, at least `fixed - 2`.
pub(crate) fn entry_body<'a>(r: &mut Reader<'a>, length: u16, fixed: usize) -> Result<Reader<'a>, OfError> {
    let length = usize::from(length);
    if length < fixed {
        return Err(OfError::bad_len(format!("entry length {length} below {fixed}")));
    }
    r.sub(length - 2)
}

fn decode_flow_stats_request(version: Version, r: &mut Reader) -> Result<FlowStatsRequest, OfError> {
    match version {
        Version::V1_3 | Version::V1_4 | Version::V1_5 => {
            let table_id = r.u8()?;
            r.skip(3)?;
            let out_port = read_port(version, r, port_error)?;
            let out_group = r.u32()?;
            r.skip(4)?;
            let (cookie, cookie_mask) = (r.u64()?, r.u64()?);
            let matches = decode_match(version, r)?;
            Ok(FlowStatsRequest { table_id, out_port, out_group, cookie, cookie_mask, matches })
        }
        Version::V1_0 => {
            let matches = decode_match(version, r)?;
            let table_id = r.u8()?;
            r.skip(1)?;
            let out_port = read_port(version, r, port_error)?;
            Ok(FlowStatsRequest { table_id, out_port, out_group: GROUP_ANY, cookie: 0, cookie_mask: 0, matches })
        }
    }
}

fn encode_flow_stats_request(version: Version, request: &FlowStatsRequest, w: &mut Writer) {
    match version {
        Version::V1_3 | Version::V1_4 | Version::V1_5 => {
            w.u8(request.table_id);
            w.zeros(3);
            write_port(version, request.out_port, w);
            w.u32(request.out_group);
            w.zeros(4);
            w.u64(request.cookie);
            w.u64(request.cookie_mask);
            encode_match(version, &request.matches, w);
        }
        Version::V1_0 => {
            encode_match(version, &request.matches, w);
            w.u8(request.table_id);
            w.u8(0);
            write_port(version, request.out_port, w);
        }
    }
}

fn decode_flow_stats(version: Version, r: &mut Reader) -> Result<FlowStats, OfError> {
    let length = r.u16()?;
    let mut e = entry_body(r, length, if version >= Version::V1_3 { 56 } else { 88 })?;
    let (table_id, duration, priority, idle_timeout, hard_timeout, flags, cookie, counts, matches);
    if version >= Version::V1_5 {
        // `ofp_flow_desc`: the 1.4 fields reordered (no counters), the match, the counters and
        // duration as OXS stats.
        e.skip(2)?;
        table_id = e.u8()?;
        e.skip(1)?;
        (priority, idle_timeout, hard_timeout) = (e.u16()?, e.u16()?, e.u16()?);
        flags = FlowModFlags::from_wire(version, e.u16()?)?;
        e.skip(2)?;
        cookie = e.u64()?;
        matches = decode_match(version, &mut e)?;
        let stats = oxs::decode_stats(&mut e)?;
        duration = stats.duration.unwrap_or_default();
        counts = (stats.packet_count.unwrap_or_default(), stats.byte_count.unwrap_or_default());
    } else {
        table_id = e.u8()?;
        e.skip(1)?;
        let matches_1_0 = if version == Version::V1_0 { Some(decode_match(version, &mut e)?) } else { None };
        duration = (e.u32()?, e.u32()?);
        (priority, idle_timeout, hard_timeout) = (e.u16()?, e.u16()?, e.u16()?);
        flags = match version {
            Version::V1_3 | Version::V1_4 | Version::V1_5 => {
                let flags = FlowModFlags::from_wire(version, e.u16()?)?;
                e.skip(4)?;
                flags
            }
            Version::V1_0 => {
                e.skip(6)?;
                FlowModFlags::default()
            }
        };
        cookie = e.u64()?;
        counts = (e.u64()?, e.u64()?);
        matches = match matches_1_0 {
            Some(matches) => matches,
            None => decode_match(version, &mut e)?,
        };
    }
    let length = e.remaining();
    let instructions = decode_instructions(version, &mut e, length)?;
    Ok(FlowStats {
        table_id,
        duration_sec: duration.0,
        duration_nsec: duration.1,
        priority,
        idle_timeout,
        hard_timeout,
        flags,
        cookie,
        packet_count: counts.0,
        byte_count: counts.1,
        idle_age: 0,
        hard_age: 0,
        matches,
        instructions,
    })
}

fn encode_flow_stats(version: Version, flow: &FlowStats, w: &mut Writer) {
    let start = w.len();
    if version >= Version::V1_5 {
        w.u16(0);
        w.zeros(2);
        w.u8(flow.table_id);
        w.u8(0);
        w.u16(flow.priority);
        w.u16(flow.idle_timeout);
        w.u16(flow.hard_timeout);
        w.u16(flow.flags.wire(version));
        w.u16(0);
        w.u64(flow.cookie);
        encode_match(version, &flow.matches, w);
        let stats = OxsStats {
            duration: Some((flow.duration_sec, flow.duration_nsec)),
            packet_count: Some(flow.packet_count),
            byte_count: Some(flow.byte_count),
            ..OxsStats::default()
        };
        oxs::encode_stats(&stats, w);
        encode_rule_instructions(version, &flow.instructions, &flow.matches, w);
        w.patch_len(start, start);
        return;
    }
    w.u16(0);
    w.u8(flow.table_id);
    w.u8(0);
    if version == Version::V1_0 {
        encode_match(version, &flow.matches, w);
    }
    w.u32(flow.duration_sec);
    w.u32(flow.duration_nsec);
    w.u16(flow.priority);
    w.u16(flow.idle_timeout);
    w.u16(flow.hard_timeout);
    match version {
        Version::V1_3 | Version::V1_4 | Version::V1_5 => {
            w.u16(flow.flags.wire(version));
            w.zeros(4);
        }
        Version::V1_0 => w.zeros(6),
    }
    w.u64(flow.cookie);
    w.u64(flow.packet_count);
    w.u64(flow.byte_count);
    if version >= Version::V1_3 {
        encode_match(version, &flow.matches, w);
    }
    encode_rule_instructions(version, &flow.instructions, &flow.matches, w);
    w.patch_len(start, start);
}

pub(crate) fn decode_aggregate(r: &mut Reader) -> Result<AggregateStats, OfError> {
    let stats = AggregateStats { packet_count: r.u64()?, byte_count: r.u64()?, flow_count: r.u32()? };
    r.skip(4)?;
    Ok(stats)
}

pub(crate) fn encode_aggregate(stats: &AggregateStats, w: &mut Writer) {
    w.u64(stats.packet_count);
    w.u64(stats.byte_count);
    w.u32(stats.flow_count);
    w.zeros(4);
}

fn decode_table_stats(version: Version, r: &mut Reader) -> Result<TableStats, OfError> {
    let mut table = TableStats { table_id: r.u8()?, ..TableStats::default() };
    r.skip(3)?;
    if version == Version::V1_0 {
        table.name = read_name(r, 32)?;
        table.wildcards = r.u32()?;
        table.max_entries = r.u32()?;
    }
    table.active_count = r.u32()?;
    table.lookup_count = r.u64()?;
    table.matched_count = r.u64()?;
    Ok(table)
}

fn encode_table_stats(version: Version, table: &TableStats, w: &mut Writer) {
    w.u8(table.table_id);
    w.zeros(3);
    if version == Version::V1_0 {
        write_name(&table.name, 32, w);
        w.u32(table.wildcards);
        w.u32(table.max_entries);
    }
    w.u32(table.active_count);
    w.u64(table.lookup_count);
    w.u64(table.matched_count);
}

fn decode_port_stats(version: Version, r: &mut Reader) -> Result<PortStats, OfError> {
    if version >= Version::V1_4 {
        return decode_port_stats_v1_4(r);
    }
    let port_no = read_port(version, r, port_error)?;
    r.skip(if version >= Version::V1_3 { 4 } else { 6 })?;
    let mut counters = [0u64; 12];
    for counter in &mut counters {
        *counter = r.u64()?;
    }
    let duration = match version {
        Version::V1_3 | Version::V1_4 | Version::V1_5 => (r.u32()?, r.u32()?),
        Version::V1_0 => (0, 0),
    };
    Ok(port_stats_of(port_no, counters, duration))
}

/// Port stats from the twelve counters in their wire order (rx/tx packets, bytes, dropped,
/// errors, then frame, overrun and CRC errors and collisions) and the duration.
fn port_stats_of(port_no: OfPort, counters: [u64; 12], (duration_sec, duration_nsec): (u32, u32)) -> PortStats {
    let [rx_packets, tx_packets, rx_bytes, tx_bytes, rx_dropped, tx_dropped, rx_errors, tx_errors, rx_frame_err, rx_over_err, rx_crc_err, collisions] =
        counters;
    PortStats {
        port_no,
        rx_packets,
        tx_packets,
        rx_bytes,
        tx_bytes,
        rx_dropped,
        tx_dropped,
        rx_errors,
        tx_errors,
        rx_frame_err,
        rx_over_err,
        rx_crc_err,
        collisions,
        duration_sec,
        duration_nsec,
    }
}

/// OFPPSPT_ETHERNET: the Ethernet error counters of 1.4's port stats.
const PORT_STATS_ETHERNET: u16 = 0;

/// 1.4's `ofp_port_stats`: a length, port, durations, eight counters, then properties (the
/// Ethernet one has the frame, overrun, CRC and collision counters).
fn decode_port_stats_v1_4(r: &mut Reader) -> Result<PortStats, OfError> {
    let length = r.u16()?;
    let mut e = entry_body(r, length, 80)?;
    e.skip(2)?;
    let port_no = read_port(Version::V1_4, &mut e, port_error)?;
    let duration = (e.u32()?, e.u32()?);
    let mut counters = [0u64; 12];
    for counter in &mut counters[..8] {
        *counter = e.u64()?;
    }
    while !e.is_empty() {
        let (kind, mut body) = e.property()?;
        if kind == PORT_STATS_ETHERNET {
            body.skip(4)?;
            for counter in &mut counters[8..] {
                *counter = body.u64()?;
            }
        }
    }
    Ok(port_stats_of(port_no, counters, duration))
}

fn encode_port_stats(version: Version, port: &PortStats, w: &mut Writer) {
    let counters = [
        port.rx_packets,
        port.tx_packets,
        port.rx_bytes,
        port.tx_bytes,
        port.rx_dropped,
        port.tx_dropped,
        port.rx_errors,
        port.tx_errors,
    ];
    let errors = [port.rx_frame_err, port.rx_over_err, port.rx_crc_err, port.collisions];
    if version >= Version::V1_4 {
        let start = w.len();
        w.u16(0);
        w.zeros(2);
        write_port(version, port.port_no, w);
        w.u32(port.duration_sec);
        w.u32(port.duration_nsec);
        counters.iter().for_each(|&counter| w.u64(counter));
        w.property(PORT_STATS_ETHERNET, |w| {
            w.zeros(4);
            errors.iter().for_each(|&counter| w.u64(counter));
        });
        w.patch_len(start, start);
        return;
    }
    write_port(version, port.port_no, w);
    w.zeros(if version >= Version::V1_3 { 4 } else { 6 });
    counters.iter().chain(&errors).for_each(|&counter| w.u64(counter));
    if version >= Version::V1_3 {
        w.u32(port.duration_sec);
        w.u32(port.duration_nsec);
    }
}

fn decode_queue_stats(version: Version, r: &mut Reader) -> Result<QueueStats, OfError> {
    // 1.4: a length and padding before 1.3's fields, properties after them (none defined but
    // experimenter ones: skipped).
    let mut entry = if version >= Version::V1_4 {
        let length = r.u16()?;
        let mut e = entry_body(r, length, 48)?;
        e.skip(6)?;
        Some(e)
    } else {
        None
    };
    let r = entry.as_mut().unwrap_or(r);
    let port_no = read_port(version, r, port_error)?;
    if version == Version::V1_0 {
        r.skip(2)?;
    }
    let (queue_id, tx_bytes, tx_packets, tx_errors) = (r.u32()?, r.u64()?, r.u64()?, r.u64()?);
    let (duration_sec, duration_nsec) = match version {
        Version::V1_3 | Version::V1_4 | Version::V1_5 => (r.u32()?, r.u32()?),
        Version::V1_0 => (0, 0),
    };
    if version >= Version::V1_4 {
        nicira::skip_properties(r)?;
    }
    Ok(QueueStats { port_no, queue_id, tx_bytes, tx_packets, tx_errors, duration_sec, duration_nsec })
}

fn encode_queue_stats(version: Version, queue: &QueueStats, w: &mut Writer) {
    let start = w.len();
    if version >= Version::V1_4 {
        w.u16(0);
        w.zeros(6);
    }
    write_port(version, queue.port_no, w);
    if version == Version::V1_0 {
        w.zeros(2);
    }
    w.u32(queue.queue_id);
    w.u64(queue.tx_bytes);
    w.u64(queue.tx_packets);
    w.u64(queue.tx_errors);
    if version >= Version::V1_3 {
        w.u32(queue.duration_sec);
        w.u32(queue.duration_nsec);
    }
    if version >= Version::V1_4 {
        w.patch_len(start, start);
    }
}

fn decode_counters(r: &mut Reader) -> Result<Vec<Counters>, OfError> {
    decode_all(r, |r| Ok(Counters { packet_count: r.u64()?, byte_count: r.u64()? }))
}

fn encode_counters(counters: &[Counters], w: &mut Writer) {
    for c in counters {
        w.u64(c.packet_count);
        w.u64(c.byte_count);
    }
}

pub(crate) fn decode_group_stats(r: &mut Reader) -> Result<GroupStats, OfError> {
    let length = r.u16()?;
    let mut e = entry_body(r, length, 40)?;
    e.skip(2)?;
    let (group_id, ref_count) = (e.u32()?, e.u32()?);
    e.skip(4)?;
    let (packet_count, byte_count) = (e.u64()?, e.u64()?);
    let (duration_sec, duration_nsec) = (e.u32()?, e.u32()?);
    let buckets = decode_counters(&mut e)?;
    Ok(GroupStats { group_id, ref_count, packet_count, byte_count, duration_sec, duration_nsec, buckets })
}

pub(crate) fn encode_group_stats(group: &GroupStats, w: &mut Writer) {
    w.u16(len16(40 + 16 * group.buckets.len()));
    w.zeros(2);
    w.u32(group.group_id);
    w.u32(group.ref_count);
    w.zeros(4);
    w.u64(group.packet_count);
    w.u64(group.byte_count);
    w.u32(group.duration_sec);
    w.u32(group.duration_nsec);
    encode_counters(&group.buckets, w);
}

fn decode_group_desc(r: &mut Reader) -> Result<GroupDesc, OfError> {
    let length = r.u16()?;
    let mut e = entry_body(r, length, 8)?;
    let group_type = GroupType::from_wire(e.u8()?)?;
    e.skip(1)?;
    let group_id = e.u32()?;
    Ok(GroupDesc { group_type, group_id, buckets: decode_buckets(&mut e)? })
}

fn decode_meter_stats(r: &mut Reader) -> Result<MeterStats, OfError> {
    let meter_id = r.u32()?;
    let length = usize::from(r.u16()?);
    let mut e = r.sub(
        length
            .checked_sub(6)
            .filter(|_| length >= 40)
            .ok_or_else(|| OfError::bad_len(format!("meter stats length {length}")))?,
    )?;
    e.skip(6)?;
    let flow_count = e.u32()?;
    let (packet_in_count, byte_in_count) = (e.u64()?, e.u64()?);
    let (duration_sec, duration_nsec) = (e.u32()?, e.u32()?);
    let bands = decode_counters(&mut e)?;
    Ok(MeterStats { meter_id, flow_count, packet_in_count, byte_in_count, duration_sec, duration_nsec, bands })
}

fn encode_meter_stats(meter: &MeterStats, w: &mut Writer) {
    w.u32(meter.meter_id);
    w.u16(len16(40 + 16 * meter.bands.len()));
    w.zeros(6);
    w.u32(meter.flow_count);
    w.u64(meter.packet_in_count);
    w.u64(meter.byte_in_count);
    w.u32(meter.duration_sec);
    w.u32(meter.duration_nsec);
    encode_counters(&meter.bands, w);
}

fn decode_meter_config(r: &mut Reader) -> Result<MeterConfig, OfError> {
    let length = r.u16()?;
    let mut e = entry_body(r, length, 8)?;
    let flags = MeterFlags::from_wire(e.u16()?)?;
    let meter_id = e.u32()?;
    Ok(MeterConfig { flags, meter_id, bands: decode_meter_bands(&mut e)? })
}

fn table_features_failed(code: u16, reason: impl Into<String>) -> OfError {
    OfError::new(ErrorType::TableFeaturesFailed, code, reason)
}

fn decode_table_features_list(r: &mut Reader) -> Result<Vec<TableFeatures>, OfError> {
    decode_all(r, |r| {
        let length = r.u16()?;
        let mut e = entry_body(r, length, 64)?;
        let table_id = e.u8()?;
        e.skip(5)?;
        let mut table = TableFeatures {
            table_id,
            name: read_name(&mut e, 32)?,
            metadata_match: e.u64()?,
            metadata_write: e.u64()?,
            config: e.u32()?,
            max_entries: e.u32()?,
            properties: Vec::new(),
        };
        while !e.is_empty() {
            table.properties.push(decode_table_feature_property(&mut e)?);
        }
        Ok(table)
    })
}

fn decode_feature_ids(r: &mut Reader) -> Result<Vec<FeatureId>, OfError> {
    decode_all(r, |r| {
        let kind = r.u16()?;
        let length = usize::from(r.u16()?);
        let data = r.bytes(length.checked_sub(4).ok_or_else(|| OfError::bad_len(format!("id length {length}")))?)?;
        Ok(FeatureId { kind, data: data.to_vec() })
    })
}

fn decode_oxm_ids(r: &mut Reader) -> Result<Vec<OxmId>, OfError> {
    decode_all(r, |r| {
        let header = r.u32()?;
        let experimenter = if header >> 16 == 0xffff { Some(r.u32()?) } else { None };
        Ok(OxmId { header, experimenter })
    })
}

/// One property with its padding to 8 (OFPTFFC_BAD_TYPE for an unknown type, OFPTFFC_BAD_LEN
/// for a length that does not fit).
fn decode_table_feature_property(r: &mut Reader) -> Result<TableFeatureProperty, OfError> {
    let kind = r.u16()?;
    let length = usize::from(r.u16()?);
    let bad_len = || table_features_failed(2, format!("table feature property length {length}"));
    let body_len = length.checked_sub(4).ok_or_else(bad_len)?;
    let mut body = r.sub(body_len).map_err(|_| bad_len())?;
    r.skip(((8 - length % 8) % 8).min(r.remaining()))?;
    let miss = kind & 1 == 1;
    Ok(match kind {
        0 | 1 => TableFeatureProperty::Instructions { miss, ids: decode_feature_ids(&mut body)? },
        2 | 3 => TableFeatureProperty::NextTables { miss, tables: body.rest().to_vec() },
        4 | 5 => TableFeatureProperty::WriteActions { miss, ids: decode_feature_ids(&mut body)? },
        6 | 7 => TableFeatureProperty::ApplyActions { miss, ids: decode_feature_ids(&mut body)? },
        8 => TableFeatureProperty::Match(decode_oxm_ids(&mut body)?),
        10 => TableFeatureProperty::Wildcards(decode_oxm_ids(&mut body)?),
        12 | 13 => TableFeatureProperty::WriteSetfield { miss, fields: decode_oxm_ids(&mut body)? },
        14 | 15 => TableFeatureProperty::ApplySetfield { miss, fields: decode_oxm_ids(&mut body)? },
        0xfffe | 0xffff => TableFeatureProperty::Experimenter {
            miss,
            experimenter: body.u32()?,
            exp_type: body.u32()?,
            data: body.rest().to_vec(),
        },
        _ => return Err(table_features_failed(1, format!("table feature property type {kind}"))),
    })
}

fn encode_table_features_list(tables: &[TableFeatures], w: &mut Writer) {
    for table in tables {
        let start = w.len();
        w.u16(0);
        w.u8(table.table_id);
        w.zeros(5);
        write_name(&table.name, 32, w);
        w.u64(table.metadata_match);
        w.u64(table.metadata_write);
        w.u32(table.config);
        w.u32(table.max_entries);
        for property in &table.properties {
            encode_table_feature_property(property, w);
        }
        w.patch_len(start, start);
    }
}

fn encode_table_feature_property(property: &TableFeatureProperty, w: &mut Writer) {
    let start = w.len();
    let (kind, miss) = match property {
        TableFeatureProperty::Instructions { miss, .. } => (0, *miss),
        TableFeatureProperty::NextTables { miss, .. } => (2, *miss),
        TableFeatureProperty::WriteActions { miss, .. } => (4, *miss),
        TableFeatureProperty::ApplyActions { miss, .. } => (6, *miss),
        TableFeatureProperty::Match(_) => (8, false),
        TableFeatureProperty::Wildcards(_) => (10, false),
        TableFeatureProperty::WriteSetfield { miss, .. } => (12, *miss),
        TableFeatureProperty::ApplySetfield { miss, .. } => (14, *miss),
        TableFeatureProperty::Experimenter { miss, .. } => (0xfffe, *miss),
    };
    w.u16(kind | u16::from(miss));
    w.u16(0);
    match property {
        TableFeatureProperty::Instructions { ids, .. }
        | TableFeatureProperty::WriteActions { ids, .. }
        | TableFeatureProperty::ApplyActions { ids, .. } => {
            for id in ids {
                w.u16(id.kind);
                w.u16(len16(4 + id.data.len()));
                w.bytes(&id.data);
            }
        }
        TableFeatureProperty::NextTables { tables, .. } => w.bytes(tables),
        TableFeatureProperty::Match(fields)
        | TableFeatureProperty::Wildcards(fields)
        | TableFeatureProperty::WriteSetfield { fields, .. }
        | TableFeatureProperty::ApplySetfield { fields, .. } => {
            for field in fields {
                w.u32(field.header);
                if let Some(experimenter) = field.experimenter {
                    w.u32(experimenter);
                }
            }
        }
        TableFeatureProperty::Experimenter { experimenter, exp_type, data, .. } => {
            w.u32(*experimenter);
            w.u32(*exp_type);
            w.bytes(data);
        }
    }
    w.patch_len(start + 2, start);
    w.pad_to_8(start);
}
