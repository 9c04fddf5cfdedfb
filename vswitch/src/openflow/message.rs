//! OpenFlow messages (1.0, 1.3, 1.4 and 1.5) between a controller and the switch: framing a TCP byte
//! stream into messages ([`frame_length`]), the header, the typed [`Message`] and its
//! [`decode`]/[`encode`], OFPT_ERROR replies ([`encode_error`]) and version negotiation by HELLO
//! ([`negotiate`]). Matches, instructions and actions inside messages go through `oxm` and
//! `actions`; multipart bodies live in `multipart`, the Nicira and ONF experimenter messages in
//! `nicira`.
//!
//! Numbers that mean different things in 1.0 and 1.3 (port config/state bits, features
//! capabilities) are kept as the wire of the message's version has them; everything else is
//! typed. 1.4 and 1.5 are 1.3 where their layouts are 1.3's; where not (1.4's property lists in
//! port, queue, table and async messages, its standard bundles and role status; 1.5's OXS
//! statistics, packet_out match and group_mod with bucket ids) the codec speaks theirs.

use std::fmt;

use crate::flow::key::Field;
use crate::flow::tun_metadata::TlvMapping;
use crate::flow::{Action, Instructions, Match, OfPort, PacketInReason};

use super::actions::{decode_actions, decode_instructions, encode_actions, encode_rule_instructions};
use super::multipart::{pad_after, MultipartReply, MultipartRequest};
use super::nicira::{BundleAdd, BundleControl, FlowFormat, NxFlowMod, PacketInFormat};
use super::oxm::{decode_match, encode_match, v1_0_match_is_exact};
use super::oxs::{self, OxsStats};
use super::wire::{len16, read_port, write_port, ErrorType, OfError, Reader, Version, Writer};
use super::{multipart, nicira};

/// Every OpenFlow message starts with these 8 bytes.
pub const HEADER_LEN: usize = 8;
/// The part of an offending message an OFPT_ERROR carries back.
pub const ERROR_DATA_MAX: usize = 64;
/// "No buffered packet" in buffer_id fields.
pub const NO_BUFFER: u32 = 0xffff_ffff;
/// Any/all groups in out_group filters and group deletes (OFPG_ANY / OFPG_ALL); groups and
/// their buckets on the wire are the group table's model.
pub use crate::pipeline::group::{Bucket, BucketPlace, GroupType, BUCKET_MAX, GROUP_ALL, GROUP_ANY};

/// OFPBRC_* codes (the same numbers in 1.0, where BAD_MULTIPART is BAD_STAT and
/// BAD_EXPERIMENTER/BAD_EXP_TYPE are BAD_VENDOR/BAD_SUBTYPE).
pub(crate) mod bad_request {
    pub const BAD_VERSION: u16 = 0;
    pub const BAD_TYPE: u16 = 1;
    pub const BAD_MULTIPART: u16 = 2;
    pub const BAD_EXPERIMENTER: u16 = 3;
    pub const BAD_EXP_TYPE: u16 = 4;
    pub const EPERM: u16 = 5;
    pub const BUFFER_UNKNOWN: u16 = 8;
    pub const IS_SLAVE: u16 = 10;
    pub const BAD_PORT: u16 = 11;
}

pub(crate) fn bad_request(code: u16, reason: impl Into<String>) -> OfError {
    OfError::new(ErrorType::BadRequest, code, reason)
}

/// A value a switch-to-controller message cannot have (a reason or kind number out of range).
pub(crate) fn bad_value(what: &str, value: impl fmt::Display) -> OfError {
    bad_request(bad_request::EPERM, format!("{what} {value} is not defined"))
}

/// The common header. `version` is the raw byte: a HELLO may come from a version this switch
/// does not speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub version: u8,
    pub kind: u8,
    pub length: u16,
    pub xid: u32,
}

impl Header {
    pub fn read(r: &mut Reader) -> Result<Header, OfError> {
        Ok(Header { version: r.u8()?, kind: r.u8()?, length: r.u16()?, xid: r.u32()? })
    }
}

/// The length of the message at the start of `buffered` (bytes read from the stream so far):
/// `None` until its 8-byte header is there. A length below 8 cannot frame anything: the stream
/// is broken and the connection should be dropped after answering OFPBRC_BAD_LEN.
pub fn frame_length(buffered: &[u8]) -> Result<Option<usize>, OfError> {
    let mut r = Reader::new(buffered);
    let Ok(header) = Header::read(&mut r) else { return Ok(None) };
    match usize::from(header.length) {
        length if length < HEADER_LEN => Err(OfError::bad_len(format!("message length {length} below 8"))),
        length => Ok(Some(length)),
    }
}

/// A message that cannot be decoded, with what is needed to answer it with an OFPT_ERROR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    /// The version to answer in (the message's, or 1.3 when the message's is not spoken here).
    pub version: Version,
    pub xid: u32,
    pub error: OfError,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "xid {:#x}: {}", self.xid, self.error)
    }
}

impl std::error::Error for DecodeError {}

/// A message that cannot be put on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EncodeError {
    /// The message type does not exist in that version (e.g. GROUP_MOD in 1.0).
    NotInVersion { message: &'static str, version: Version },
    /// More than 65535 bytes: the caller splits multipart replies (`more`).
    TooLong { length: usize },
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EncodeError::NotInVersion { message, version } => write!(f, "{message} does not exist in {version:?}"),
            EncodeError::TooLong { length } => write!(f, "message of {length} bytes exceeds 65535"),
        }
    }
}

impl std::error::Error for EncodeError {}

/// HELLO. `versions`: the wire version numbers of the version-bitmap element, `None` when the
/// hello has no bitmap (then the header's version is all it says).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Hello {
    pub versions: Option<Vec<u8>>,
}

/// OFPT_ERROR as received (types and codes as numbers: experimenter errors have no [`ErrorType`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorMessage {
    pub error_type: u16,
    pub code: u16,
    pub data: Vec<u8>,
}

/// A switch port as FEATURES_REPLY (1.0), PORT_STATUS and the port-desc reply describe it.
/// `config`, `state` and the feature words have the bits of the message's version;
/// `curr_speed`/`max_speed` (kbps) exist only in 1.3.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortDesc {
    pub port_no: OfPort,
    pub hw_addr: [u8; 6],
    /// At most 15 bytes go on the wire.
    pub name: String,
    pub config: u32,
    pub state: u32,
    pub curr: u32,
    pub advertised: u32,
    pub supported: u32,
    pub peer: u32,
    pub curr_speed: u32,
    pub max_speed: u32,
}

impl Default for PortDesc {
    fn default() -> Self {
        PortDesc {
            port_no: OfPort::NONE,
            hw_addr: [0; 6],
            name: String::new(),
            config: 0,
            state: 0,
            curr: 0,
            advertised: 0,
            supported: 0,
            peer: 0,
            curr_speed: 0,
            max_speed: 0,
        }
    }
}

/// FEATURES_REPLY. `actions` and `ports` exist only in 1.0 (1.3 has the port-desc multipart),
/// `auxiliary_id` only in 1.3.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FeaturesReply {
    pub datapath_id: u64,
    pub n_buffers: u32,
    pub n_tables: u8,
    pub auxiliary_id: u8,
    pub capabilities: u32,
    pub actions: u32,
    pub ports: Vec<PortDesc>,
}

/// What the switch does with IP fragments (OFPC_FRAG_*; `NxMatch` is Open vSwitch's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FragHandling {
    #[default]
    Normal,
    Drop,
    Reassemble,
    NxMatch,
}

/// GET_CONFIG_REPLY / SET_CONFIG.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SwitchConfig {
    pub frag: FragHandling,
    /// OFPC_INVALID_TTL_TO_CONTROLLER (an Open vSwitch extension in 1.0 and 1.3).
    pub invalid_ttl_to_controller: bool,
    /// Bytes of a table-miss packet sent in a packet-in (0xffff: the whole packet).
    pub miss_send_len: u16,
}

/// PACKET_IN (and NXT_PACKET_IN). `matches` carries the pipeline fields (in_port, metadata,
/// registers, tunnel); 1.0 has only in_port and no table_id or cookie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PacketIn {
    pub buffer_id: u32,
    pub total_len: u16,
    pub reason: PacketInReason,
    pub table_id: u8,
    pub cookie: u64,
    pub matches: Match,
    pub data: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowRemovedReason {
    IdleTimeout,
    HardTimeout,
    Delete,
    GroupDelete,
    /// Its meter was deleted (OpenFlow 1.4's OFPRR_METER_DELETE; `Delete` before 1.4, as Open
    /// vSwitch reports it).
    MeterDelete,
}

impl FlowRemovedReason {
    /// The OFPRR_* number in `version`.
    pub fn wire(self, version: Version) -> u8 {
        match self {
            FlowRemovedReason::IdleTimeout => 0,
            FlowRemovedReason::HardTimeout => 1,
            FlowRemovedReason::MeterDelete if version >= Version::V1_4 => 4,
            FlowRemovedReason::Delete | FlowRemovedReason::MeterDelete => 2,
            FlowRemovedReason::GroupDelete => 3,
        }
    }
}

/// FLOW_REMOVED; 1.0 has no table_id and no hard_timeout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowRemoved {
    pub cookie: u64,
    pub priority: u16,
    pub reason: FlowRemovedReason,
    pub table_id: u8,
    pub duration_sec: u32,
    pub duration_nsec: u32,
    pub idle_timeout: u16,
    pub hard_timeout: u16,
    pub packet_count: u64,
    pub byte_count: u64,
    pub matches: Match,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortReason {
    Add,
    Delete,
    Modify,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortStatus {
    pub reason: PortReason,
    pub port: PortDesc,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PacketOut {
    pub buffer_id: u32,
    pub in_port: OfPort,
    pub actions: Vec<Action>,
    /// The frame when `buffer_id` is [`NO_BUFFER`].
    pub data: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowModCommand {
    Add,
    Modify,
    ModifyStrict,
    Delete,
    DeleteStrict,
}

impl FlowModCommand {
    const ALL: [FlowModCommand; 5] = [
        FlowModCommand::Add,
        FlowModCommand::Modify,
        FlowModCommand::ModifyStrict,
        FlowModCommand::Delete,
        FlowModCommand::DeleteStrict,
    ];

    pub(crate) fn wire(self) -> u8 {
        self as u8
    }

    pub(crate) fn from_wire(version: Version, number: u8) -> Result<FlowModCommand, OfError> {
        let bad_command = match version {
            Version::V1_3 | Version::V1_4 | Version::V1_5 => 6,
            Version::V1_0 => 4,
        };
        FlowModCommand::ALL
            .get(usize::from(number))
            .copied()
            .ok_or_else(|| OfError::new(ErrorType::FlowModFailed, bad_command, format!("flow_mod command {number}")))
    }
}

/// OFPFF_* flags of a flow-mod (and of flow stats). 1.0 has only the first two (and EMERG,
/// which is refused).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FlowModFlags {
    pub send_flow_rem: bool,
    pub check_overlap: bool,
    pub reset_counts: bool,
    pub no_packet_counts: bool,
    pub no_byte_counts: bool,
}

impl FlowModFlags {
    pub(crate) fn wire(self, version: Version) -> u16 {
        let mut bits = u16::from(self.send_flow_rem) | u16::from(self.check_overlap) << 1;
        if version >= Version::V1_3 {
            bits |= u16::from(self.reset_counts) << 2
                | u16::from(self.no_packet_counts) << 3
                | u16::from(self.no_byte_counts) << 4;
        }
        bits
    }

    pub(crate) fn from_wire(version: Version, bits: u16) -> Result<FlowModFlags, OfError> {
        let known = match version {
            Version::V1_3 | Version::V1_4 | Version::V1_5 => 0x1f,
            Version::V1_0 => 0x03,
        };
        if bits & !known != 0 {
            // OFPFMFC_BAD_FLAGS (1.3); 1.0 has OFPFMFC_BAD_EMERG_TIMEOUT for EMERG and
            // OFPFMFC_UNSUPPORTED otherwise.
            let code = match version {
                Version::V1_3 | Version::V1_4 | Version::V1_5 => 7,
                Version::V1_0 if bits & 0x04 != 0 => 3,
                Version::V1_0 => 5,
            };
            return Err(OfError::new(ErrorType::FlowModFailed, code, format!("flow_mod flags {bits:#x}")));
        }
        Ok(FlowModFlags {
            send_flow_rem: bits & 1 != 0,
            check_overlap: bits & 2 != 0,
            reset_counts: bits & 4 != 0,
            no_packet_counts: bits & 8 != 0,
            no_byte_counts: bits & 16 != 0,
        })
    }
}

/// FLOW_MOD (also NXT_FLOW_MOD). In 1.0 `table_id` is the high byte of the command, meaningful
/// only after NXT_FLOW_MOD_TABLE_ID enabled it (the connection decides); 1.0 has no
/// cookie_mask on the OFPT_FLOW_MOD (0) and no out_group ([`GROUP_ANY`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowMod {
    pub cookie: u64,
    pub cookie_mask: u64,
    pub table_id: u8,
    pub command: FlowModCommand,
    pub idle_timeout: u16,
    pub hard_timeout: u16,
    pub priority: u16,
    pub buffer_id: u32,
    /// Delete/modify filter; [`OfPort::NONE`] (ANY) for none.
    pub out_port: OfPort,
    pub out_group: u32,
    pub flags: FlowModFlags,
    pub matches: Match,
    pub instructions: Instructions,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupCommand {
    Add,
    Modify,
    Delete,
    /// OpenFlow 1.5 (and NXT_GROUP_MOD in 1.0): the message's buckets go in at a place.
    InsertBuckets(BucketPlace),
    /// OpenFlow 1.5 (and NXT_GROUP_MOD in 1.0): buckets come out.
    RemoveBuckets(BucketPlace),
}

impl GroupCommand {
    fn wire(self) -> u16 {
        match self {
            GroupCommand::Add => 0,
            GroupCommand::Modify => 1,
            GroupCommand::Delete => 2,
            GroupCommand::InsertBuckets(_) => 3,
            GroupCommand::RemoveBuckets(_) => 5,
        }
    }
}

impl GroupType {
    pub(crate) fn from_wire(number: u8) -> Result<GroupType, OfError> {
        [GroupType::All, GroupType::Select, GroupType::Indirect, GroupType::FastFailover]
            .get(usize::from(number))
            .copied()
            .ok_or_else(|| OfError::new(ErrorType::GroupModFailed, 10, format!("group type {number}")))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMod {
    pub command: GroupCommand,
    pub group_type: GroupType,
    pub group_id: u32,
    pub buckets: Vec<Bucket>,
}

/// PORT_MOD; the bits are those of the message's version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortMod {
    pub port_no: OfPort,
    pub hw_addr: [u8; 6],
    pub config: u32,
    pub mask: u32,
    pub advertise: u32,
}

/// TABLE_MOD (1.3): `table_id` 0xff means all tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableMod {
    pub table_id: u8,
    pub config: u32,
}

/// QUEUE_GET_CONFIG_REPLY: the queues of a port, without their properties (the switch has no
/// queue properties to report; received properties are checked and dropped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueConfig {
    pub port: OfPort,
    pub queues: Vec<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ControllerRole {
    NoChange,
    Equal,
    Master,
    Slave,
}

/// ROLE_REQUEST / ROLE_REPLY.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Role {
    pub role: ControllerRole,
    pub generation_id: u64,
}

/// Why a controller's role changed (OFPCRR_*).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleChangeReason {
    /// Another controller asked to be master.
    MasterRequest,
    Config,
    Experimenter,
}

/// ROLE_STATUS (1.4); properties are checked and dropped (the switch sends none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoleStatus {
    pub role: ControllerRole,
    pub reason: RoleChangeReason,
    pub generation_id: u64,
}

/// One property of a 1.4 SET_ASYNC / GET_ASYNC_REPLY: `kind` is its OFPACPT_* type (an even
/// number the slave role's mask, the odd one after it the master's and equal's), `mask` its bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AsyncProperty {
    pub kind: u16,
    pub mask: u32,
}

/// OFPACPT_* of the masks [`AsyncConfig`] keeps (packet-in, port status, flow removed); the
/// role status, table status and request-forward ones (6..=11) are taken and not kept: role
/// status goes to every 1.4 connection whose role changes, and nothing else is sent.
const ASYNC_PROPERTY_KEPT: u16 = 6;
/// OFPACPT_* types 1.4 defines, experimenter ones aside.
const ASYNC_PROPERTY_TYPES: u16 = 12;

impl AsyncConfig {
    /// The masks as 1.4 properties.
    pub fn properties(&self) -> Vec<AsyncProperty> {
        let masks = [self.packet_in_mask, self.port_status_mask, self.flow_removed_mask];
        (0..ASYNC_PROPERTY_KEPT)
            .zip(masks.iter().flat_map(|[master, slave]| [*slave, *master]))
            .map(|(kind, mask)| AsyncProperty { kind, mask })
            .collect()
    }

    /// Sets the mask a property names (those not kept are ignored).
    pub fn apply(&mut self, property: AsyncProperty) {
        let slot = usize::from(property.kind.is_multiple_of(2));
        let mask = match property.kind / 2 {
            0 => &mut self.packet_in_mask,
            1 => &mut self.port_status_mask,
            2 => &mut self.flow_removed_mask,
            _ => return,
        };
        mask[slot] = property.mask;
    }
}

/// GET_ASYNC_REPLY / SET_ASYNC: per message kind, a bitmap of reasons for [master/equal, slave].
/// In 1.4 the same masks travel as properties, and a SET_ASYNC may leave some out (`None`:
/// unchanged); 1.4's role status and table status masks are taken and ignored (the switch sends
/// role status to every 1.4 connection whose role it changes and has no table status).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AsyncConfig {
    pub packet_in_mask: [u32; 2],
    pub port_status_mask: [u32; 2],
    pub flow_removed_mask: [u32; 2],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MeterCommand {
    Add,
    Modify,
    Delete,
}

/// OFPMF_* flags of a meter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MeterFlags {
    pub kbps: bool,
    pub pktps: bool,
    pub burst: bool,
    pub stats: bool,
}

impl MeterFlags {
    pub(crate) fn wire(self) -> u16 {
        u16::from(self.kbps) | u16::from(self.pktps) << 1 | u16::from(self.burst) << 2 | u16::from(self.stats) << 3
    }

    pub(crate) fn from_wire(bits: u16) -> Result<MeterFlags, OfError> {
        if bits & !0x0f != 0 {
            return Err(OfError::new(ErrorType::MeterModFailed, 5, format!("meter flags {bits:#x}")));
        }
        Ok(MeterFlags { kbps: bits & 1 != 0, pktps: bits & 2 != 0, burst: bits & 4 != 0, stats: bits & 8 != 0 })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MeterBandKind {
    Drop,
    /// Raise the drop precedence of the DSCP by `prec_level`.
    DscpRemark {
        prec_level: u8,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MeterBand {
    pub kind: MeterBandKind,
    /// kbps or packets/s as the meter's flags say.
    pub rate: u32,
    pub burst_size: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeterMod {
    pub command: MeterCommand,
    pub flags: MeterFlags,
    pub meter_id: u32,
    pub bands: Vec<MeterBand>,
}

/// Every message the codec knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    Hello(Hello),
    Error(ErrorMessage),
    EchoRequest(Vec<u8>),
    EchoReply(Vec<u8>),
    FeaturesRequest,
    FeaturesReply(FeaturesReply),
    GetConfigRequest,
    GetConfigReply(SwitchConfig),
    SetConfig(SwitchConfig),
    PacketIn(PacketIn),
    FlowRemoved(FlowRemoved),
    PortStatus(PortStatus),
    PacketOut(PacketOut),
    FlowMod(FlowMod),
    GroupMod(GroupMod),
    PortMod(PortMod),
    TableMod(TableMod),
    MultipartRequest(MultipartRequest),
    MultipartReply(MultipartReply),
    BarrierRequest,
    BarrierReply,
    QueueGetConfigRequest(OfPort),
    QueueGetConfigReply(QueueConfig),
    RoleRequest(Role),
    RoleReply(Role),
    GetAsyncRequest,
    GetAsyncReply(AsyncConfig),
    /// SET_ASYNC of 1.0 (NXT_SET_ASYNC_CONFIG) and 1.3: every mask.
    SetAsync(AsyncConfig),
    /// SET_ASYNC of 1.4 and later: the masks it changes.
    SetAsyncProperties(Vec<AsyncProperty>),
    MeterMod(MeterMod),
    /// OFPT_ROLE_STATUS (1.4): the switch tells a controller its role changed.
    RoleStatus(RoleStatus),
    /// OFPT_BUNDLE_CONTROL (1.4); in 1.3 ONF_ET_BUNDLE_CONTROL (the bundle extension EXT-230).
    BundleControl(BundleControl),
    /// OFPT_BUNDLE_ADD_MESSAGE (1.4); in 1.3 ONF_ET_BUNDLE_ADD_MESSAGE.
    BundleAdd(BundleAdd),
    /// NXT_SET_FLOW_FORMAT.
    SetFlowFormat(FlowFormat),
    /// NXT_FLOW_MOD_TABLE_ID: whether the 1.0 flow-mod command's high byte is a table id.
    FlowModTableId(bool),
    /// NXT_SET_PACKET_IN_FORMAT.
    SetPacketInFormat(PacketInFormat),
    /// NXT_FLOW_MOD: a flow-mod with an nx_match (cookie_mask from NXM_NX_COOKIE_W).
    NxFlowMod(NxFlowMod),
    /// NXT_PACKET_IN: a packet-in with an nx_match.
    NxPacketIn(PacketIn),
    /// NXT_ROLE_REQUEST: a role without a generation id (how 1.0 controllers take roles).
    NxRoleRequest(ControllerRole),
    /// NXT_ROLE_REPLY.
    NxRoleReply(ControllerRole),
    /// NXT_TLV_TABLE_MOD: change the TLV map (`ovs-ofctl add-tlv-map`, `del-tlv-map`).
    TlvTableMod(TlvTableMod),
    /// NXT_TLV_TABLE_REQUEST (`ovs-ofctl dump-tlv-map`).
    TlvTableRequest,
    /// NXT_TLV_TABLE_REPLY.
    TlvTableReply(TlvTableReply),
    /// NXT_FLOW_MONITOR_CANCEL (1.0), ONFT_FLOW_MONITOR_CANCEL (1.3): the monitor's id.
    FlowMonitorCancel(u32),
    /// NXT/ONFT_FLOW_MONITOR_PAUSED: the switch stopped sending flow updates.
    FlowMonitorPaused,
    /// NXT/ONFT_FLOW_MONITOR_RESUMED: what changed meanwhile was sent; updates go on.
    FlowMonitorResumed,
}

/// NXT_TLV_TABLE_MOD's command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlvTableCommand {
    Add,
    /// Deletes the mappings of the listed fields (their option is not compared).
    Delete,
    /// Deletes every mapping; the list is ignored.
    Clear,
}

/// NXT_TLV_TABLE_MOD (the mappings' `offset` is not on the wire: 0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlvTableMod {
    pub command: TlvTableCommand,
    pub mappings: Vec<TlvMapping>,
}

/// NXT_TLV_TABLE_REPLY: the limits of the switch's map and its mappings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlvTableReply {
    /// Bytes of option data all mappings may take together.
    pub max_option_space: u32,
    pub max_fields: u16,
    pub mappings: Vec<TlvMapping>,
}

impl Message {
    /// The Open vSwitch name of the message type, for logs.
    pub fn name(&self) -> &'static str {
        match self {
            Message::Hello(_) => "OFPT_HELLO",
            Message::Error(_) => "OFPT_ERROR",
            Message::EchoRequest(_) => "OFPT_ECHO_REQUEST",
            Message::EchoReply(_) => "OFPT_ECHO_REPLY",
            Message::FeaturesRequest => "OFPT_FEATURES_REQUEST",
            Message::FeaturesReply(_) => "OFPT_FEATURES_REPLY",
            Message::GetConfigRequest => "OFPT_GET_CONFIG_REQUEST",
            Message::GetConfigReply(_) => "OFPT_GET_CONFIG_REPLY",
            Message::SetConfig(_) => "OFPT_SET_CONFIG",
            Message::PacketIn(_) => "OFPT_PACKET_IN",
            Message::FlowRemoved(_) => "OFPT_FLOW_REMOVED",
            Message::PortStatus(_) => "OFPT_PORT_STATUS",
            Message::PacketOut(_) => "OFPT_PACKET_OUT",
            Message::FlowMod(_) => "OFPT_FLOW_MOD",
            Message::GroupMod(_) => "OFPT_GROUP_MOD",
            Message::PortMod(_) => "OFPT_PORT_MOD",
            Message::TableMod(_) => "OFPT_TABLE_MOD",
            Message::MultipartRequest(_) => "OFPT_MULTIPART_REQUEST",
            Message::MultipartReply(_) => "OFPT_MULTIPART_REPLY",
            Message::BarrierRequest => "OFPT_BARRIER_REQUEST",
            Message::BarrierReply => "OFPT_BARRIER_REPLY",
            Message::QueueGetConfigRequest(_) => "OFPT_QUEUE_GET_CONFIG_REQUEST",
            Message::QueueGetConfigReply(_) => "OFPT_QUEUE_GET_CONFIG_REPLY",
            Message::RoleRequest(_) => "OFPT_ROLE_REQUEST",
            Message::RoleReply(_) => "OFPT_ROLE_REPLY",
            Message::GetAsyncRequest => "OFPT_GET_ASYNC_REQUEST",
            Message::GetAsyncReply(_) => "OFPT_GET_ASYNC_REPLY",
            Message::SetAsync(_) | Message::SetAsyncProperties(_) => "OFPT_SET_ASYNC",
            Message::MeterMod(_) => "OFPT_METER_MOD",
            Message::RoleStatus(_) => "OFPT_ROLE_STATUS",
            Message::BundleControl(_) => "OFPT_BUNDLE_CONTROL",
            Message::BundleAdd(_) => "OFPT_BUNDLE_ADD_MESSAGE",
            Message::SetFlowFormat(_) => "NXT_SET_FLOW_FORMAT",
            Message::FlowModTableId(_) => "NXT_FLOW_MOD_TABLE_ID",
            Message::SetPacketInFormat(_) => "NXT_SET_PACKET_IN_FORMAT",
            Message::NxFlowMod(_) => "NXT_FLOW_MOD",
            Message::NxPacketIn(_) => "NXT_PACKET_IN",
            Message::NxRoleRequest(_) => "NXT_ROLE_REQUEST",
            Message::NxRoleReply(_) => "NXT_ROLE_REPLY",
            Message::TlvTableMod(_) => "NXT_TLV_TABLE_MOD",
            Message::TlvTableRequest => "NXT_TLV_TABLE_REQUEST",
            Message::TlvTableReply(_) => "NXT_TLV_TABLE_REPLY",
            Message::FlowMonitorCancel(_) => "NXT_FLOW_MONITOR_CANCEL",
            Message::FlowMonitorPaused => "NXT_FLOW_MONITOR_PAUSED",
            Message::FlowMonitorResumed => "NXT_FLOW_MONITOR_RESUMED",
        }
    }

    /// The header type number in `version`; `None` where the version does not have the message.
    fn kind(&self, version: Version) -> Option<u8> {
        let v13 = version >= Version::V1_3;
        let v14 = version >= Version::V1_4;
        Some(match self {
            Message::Hello(_) => 0,
            Message::Error(_) => 1,
            Message::EchoRequest(_) => 2,
            Message::EchoReply(_) => 3,
            Message::BundleControl(_) | Message::BundleAdd(_) if !v13 => return None,
            // OpenFlow 1.4's standard bundles; 1.3 has the ONF extension (an experimenter message).
            Message::BundleControl(_) if v14 => 33,
            Message::BundleAdd(_) if v14 => 34,
            // 1.4 moved the queue configuration to the OFPMP_QUEUE_DESC multipart.
            Message::QueueGetConfigRequest(_) | Message::QueueGetConfigReply(_) if v14 => return None,
            // 1.4 cancels with a flow monitor request, and pauses and resumes in its replies.
            Message::FlowMonitorCancel(_) | Message::FlowMonitorPaused | Message::FlowMonitorResumed if v14 => {
                return None
            }
            // OpenFlow 1.0 has Open vSwitch's NXT_SET_ASYNC_CONFIG and NXT_GROUP_MOD instead.
            Message::SetAsync(_) | Message::GroupMod(_) if !v13 => 4,
            Message::BundleControl(_)
            | Message::BundleAdd(_)
            | Message::SetFlowFormat(_)
            | Message::FlowModTableId(_)
            | Message::SetPacketInFormat(_)
            | Message::NxFlowMod(_)
            | Message::NxPacketIn(_)
            | Message::NxRoleRequest(_)
            | Message::NxRoleReply(_)
            | Message::TlvTableMod(_)
            | Message::TlvTableRequest
            | Message::TlvTableReply(_)
            | Message::FlowMonitorCancel(_)
            | Message::FlowMonitorPaused
            | Message::FlowMonitorResumed => 4,
            Message::FeaturesRequest => 5,
            Message::FeaturesReply(_) => 6,
            Message::GetConfigRequest => 7,
            Message::GetConfigReply(_) => 8,
            Message::SetConfig(_) => 9,
            Message::PacketIn(_) => 10,
            Message::FlowRemoved(_) => 11,
            Message::PortStatus(_) => 12,
            Message::PacketOut(_) => 13,
            Message::FlowMod(_) => 14,
            Message::PortMod(_) if v13 => 16,
            Message::PortMod(_) => 15,
            Message::MultipartRequest(_) if v13 => 18,
            Message::MultipartRequest(_) => 16,
            Message::MultipartReply(_) if v13 => 19,
            Message::MultipartReply(_) => 17,
            Message::BarrierRequest if v13 => 20,
            Message::BarrierRequest => 18,
            Message::BarrierReply if v13 => 21,
            Message::BarrierReply => 19,
            Message::QueueGetConfigRequest(_) if v13 => 22,
            Message::QueueGetConfigRequest(_) => 20,
            Message::QueueGetConfigReply(_) if v13 => 23,
            Message::QueueGetConfigReply(_) => 21,
            _ if !v13 => return None,
            Message::GroupMod(_) => 15,
            Message::TableMod(_) => 17,
            Message::RoleRequest(_) => 24,
            Message::RoleReply(_) => 25,
            Message::GetAsyncRequest => 26,
            Message::GetAsyncReply(_) => 27,
            Message::SetAsync(_) => 28,
            Message::SetAsyncProperties(_) if v14 => 28,
            Message::SetAsyncProperties(_) => return None,
            Message::MeterMod(_) => 29,
            Message::RoleStatus(_) if v14 => 30,
            Message::RoleStatus(_) => return None,
        })
    }
}

/// Decodes one whole message (exactly `length` bytes as [`frame_length`] cut them) of any
/// version this switch speaks; a HELLO of any version.
pub fn decode(bytes: &[u8]) -> Result<(Header, Message), DecodeError> {
    decode_nested(bytes, false)
}

/// [`decode`] on a connection that negotiated `negotiated`: any other version is
/// OFPBRC_BAD_VERSION (answered in `negotiated`).
pub fn decode_in(negotiated: Version, bytes: &[u8]) -> Result<(Header, Message), DecodeError> {
    let mut r = Reader::new(bytes);
    if let Ok(header) = Header::read(&mut r) {
        if header.version != negotiated.wire() {
            let error = bad_request(
                bad_request::BAD_VERSION,
                format!("version {:#x} on a {negotiated:?} connection", header.version),
            );
            return Err(DecodeError { version: negotiated, xid: header.xid, error });
        }
    }
    decode(bytes)
}

/// `in_bundle`: the message is the inner message of a bundle add, which may not be a bundle
/// message itself.
pub(crate) fn decode_nested(bytes: &[u8], in_bundle: bool) -> Result<(Header, Message), DecodeError> {
    let mut r = Reader::new(bytes);
    let header = Header::read(&mut r).map_err(|error| DecodeError { version: Version::V1_3, xid: 0, error })?;
    let version = Version::from_wire(header.version);
    let fail = |error| DecodeError { version: version.unwrap_or(Version::V1_3), xid: header.xid, error };
    if usize::from(header.length) != bytes.len() {
        return Err(fail(OfError::bad_len(format!(
            "header length {} but the message has {} bytes",
            header.length,
            bytes.len()
        ))));
    }
    if header.kind == 0 {
        return decode_hello(&mut r).map(|hello| (header, Message::Hello(hello))).map_err(fail);
    }
    let version = version.ok_or_else(|| {
        fail(bad_request(bad_request::BAD_VERSION, format!("OpenFlow version {:#x} not supported", header.version)))
    })?;
    let message = decode_body(version, header.kind, &mut r, in_bundle).map_err(fail)?;
    if !r.is_empty() {
        return Err(fail(OfError::bad_len(format!("{} bytes after the {}", r.remaining(), message.name()))));
    }
    Ok((header, message))
}

fn decode_body(version: Version, kind: u8, r: &mut Reader, in_bundle: bool) -> Result<Message, OfError> {
    let v13 = version >= Version::V1_3;
    let v14 = version >= Version::V1_4;
    Ok(match kind {
        1 => Message::Error(ErrorMessage { error_type: r.u16()?, code: r.u16()?, data: r.rest().to_vec() }),
        2 => Message::EchoRequest(r.rest().to_vec()),
        3 => Message::EchoReply(r.rest().to_vec()),
        4 => nicira::decode_experimenter(version, r, in_bundle)?,
        5 => Message::FeaturesRequest,
        6 => Message::FeaturesReply(decode_features_reply(version, r)?),
        7 => Message::GetConfigRequest,
        8 => Message::GetConfigReply(decode_switch_config(r)?),
        9 => Message::SetConfig(decode_switch_config(r)?),
        10 => Message::PacketIn(decode_packet_in(version, r)?),
        11 => Message::FlowRemoved(decode_flow_removed(version, r)?),
        12 => Message::PortStatus(decode_port_status(version, r)?),
        13 => Message::PacketOut(decode_packet_out(version, r)?),
        14 => Message::FlowMod(decode_flow_mod(version, r)?),
        15 if version >= Version::V1_5 => Message::GroupMod(decode_group_mod_v15(version, r)?),
        15 if v13 => Message::GroupMod(decode_group_mod(r)?),
        15 | 16 if (kind == 16) == v13 => Message::PortMod(decode_port_mod(version, r)?),
        17 if v13 => {
            let table_id = r.u8()?;
            r.skip(3)?;
            let table_mod = TableMod { table_id, config: r.u32()? };
            if v14 {
                // Eviction and vacancy properties: the switch does neither (their config bits
                // are refused).
                nicira::skip_properties(r)?;
            }
            Message::TableMod(table_mod)
        }
        16 | 18 if (kind == 18) == v13 => Message::MultipartRequest(multipart::decode_request(version, r)?),
        17 | 19 if (kind == 19) == v13 => Message::MultipartReply(multipart::decode_reply(version, r)?),
        18 | 20 if (kind == 20) == v13 => Message::BarrierRequest,
        19 | 21 if (kind == 21) == v13 => Message::BarrierReply,
        22 | 23 if v14 => {
            return Err(bad_request(bad_request::BAD_TYPE, format!("message type {kind} in {version:?}")))
        }
        20 | 22 if (kind == 22) == v13 => {
            let port = read_port(version, r, |n| bad_request(bad_request::BAD_PORT, format!("port {n}")))?;
            r.skip(if v13 { 4 } else { 2 })?;
            Message::QueueGetConfigRequest(port)
        }
        21 | 23 if (kind == 23) == v13 => Message::QueueGetConfigReply(decode_queue_config(version, r)?),
        24 if v13 => Message::RoleRequest(decode_role(r)?),
        25 if v13 => Message::RoleReply(decode_role(r)?),
        26 if v13 => Message::GetAsyncRequest,
        27 if v14 => Message::GetAsyncReply(decode_async_properties(r)?),
        28 if v14 => Message::SetAsyncProperties(decode_async_property_list(r)?),
        27 if v13 => Message::GetAsyncReply(decode_async(r)?),
        28 if v13 => Message::SetAsync(decode_async(r)?),
        29 if v13 => Message::MeterMod(decode_meter_mod(r)?),
        30 if v14 => Message::RoleStatus(decode_role_status(r)?),
        33 | 34 if v14 && in_bundle => {
            return Err(bad_request(bad_request::BAD_TYPE, "a bundle message inside a bundle"))
        }
        33 if v14 => Message::BundleControl(nicira::decode_bundle_control(r)?),
        34 if v14 => Message::BundleAdd(nicira::decode_bundle_add(version, r)?),
        _ => return Err(bad_request(bad_request::BAD_TYPE, format!("message type {kind} in {version:?}"))),
    })
}

/// Encodes `message` with header `version` and `xid`.
pub fn encode(version: Version, xid: u32, message: &Message) -> Result<Vec<u8>, EncodeError> {
    let fits = match message {
        Message::MultipartRequest(request) => multipart::request_fits(version, request),
        Message::MultipartReply(reply) => multipart::reply_fits(version, reply),
        _ => true,
    };
    let kind =
        message.kind(version).filter(|_| fits).ok_or(EncodeError::NotInVersion { message: message.name(), version })?;
    let mut w = Writer::new();
    w.u8(version.wire());
    w.u8(kind);
    w.u16(0);
    w.u32(xid);
    encode_body(version, xid, message, &mut w)?;
    let length = w.len();
    let length16 = u16::try_from(length).map_err(|_| EncodeError::TooLong { length })?;
    w.patch_u16(2, length16);
    Ok(w.into_bytes())
}

fn encode_body(version: Version, xid: u32, message: &Message, w: &mut Writer) -> Result<(), EncodeError> {
    match message {
        Message::Hello(hello) => encode_hello(hello, w),
        Message::Error(error) => {
            w.u16(error.error_type);
            w.u16(error.code);
            w.bytes(&error.data);
        }
        Message::EchoRequest(data) | Message::EchoReply(data) => w.bytes(data),
        Message::FeaturesRequest
        | Message::GetConfigRequest
        | Message::BarrierRequest
        | Message::BarrierReply
        | Message::GetAsyncRequest => {}
        Message::FeaturesReply(features) => encode_features_reply(version, features, w),
        Message::GetConfigReply(config) | Message::SetConfig(config) => encode_switch_config(config, w),
        Message::PacketIn(packet_in) => encode_packet_in(version, packet_in, w),
        Message::FlowRemoved(removed) => encode_flow_removed(version, removed, w),
        Message::PortStatus(status) => {
            w.u8(status.reason as u8);
            w.zeros(7);
            encode_port_desc(version, &status.port, w);
        }
        Message::PacketOut(packet_out) => encode_packet_out(version, packet_out, w),
        Message::FlowMod(flow_mod) => encode_flow_mod(version, flow_mod, w),
        // OpenFlow 1.0 has Open vSwitch's NXT_SET_ASYNC_CONFIG and NXT_GROUP_MOD instead.
        Message::SetAsync(_) | Message::GroupMod(_) if version == Version::V1_0 => {
            nicira::encode_experimenter(version, xid, message, w)?;
        }
        Message::GroupMod(group_mod) if version >= Version::V1_5 => encode_group_mod_v15(version, group_mod, w),
        Message::GroupMod(group_mod) => {
            encode_group_mod_head(group_mod, w);
            encode_buckets(&group_mod.buckets, w);
        }
        Message::PortMod(port_mod) => encode_port_mod(version, port_mod, w),
        Message::TableMod(table_mod) => {
            w.u8(table_mod.table_id);
            w.zeros(3);
            w.u32(table_mod.config);
        }
        Message::MultipartRequest(request) => multipart::encode_request(version, request, w),
        Message::MultipartReply(reply) => multipart::encode_reply(version, reply, w),
        Message::QueueGetConfigRequest(port) => {
            write_port(version, *port, w);
            w.zeros(if version >= Version::V1_3 { 4 } else { 2 });
        }
        Message::QueueGetConfigReply(config) => encode_queue_config(version, config, w),
        Message::RoleRequest(role) | Message::RoleReply(role) => {
            w.u32(role.role as u32);
            w.zeros(4);
            w.u64(role.generation_id);
        }
        Message::GetAsyncReply(config) if version >= Version::V1_4 => {
            encode_async_properties(&config.properties(), w);
        }
        Message::SetAsyncProperties(properties) => encode_async_properties(properties, w),
        Message::GetAsyncReply(config) | Message::SetAsync(config) => encode_async(config, w),
        Message::RoleStatus(status) => {
            w.u32(status.role as u32);
            w.u8(status.reason as u8);
            w.zeros(3);
            w.u64(status.generation_id);
        }
        Message::BundleControl(control) if version >= Version::V1_4 => nicira::encode_bundle_control(control, w),
        Message::BundleAdd(add) if version >= Version::V1_4 => nicira::encode_bundle_add(version, xid, add, w)?,
        Message::MeterMod(meter_mod) => {
            w.u16(meter_mod.command as u16);
            w.u16(meter_mod.flags.wire());
            w.u32(meter_mod.meter_id);
            encode_meter_bands(&meter_mod.bands, w);
        }
        Message::BundleControl(_)
        | Message::BundleAdd(_)
        | Message::SetFlowFormat(_)
        | Message::FlowModTableId(_)
        | Message::SetPacketInFormat(_)
        | Message::NxFlowMod(_)
        | Message::NxPacketIn(_)
        | Message::NxRoleRequest(_)
        | Message::NxRoleReply(_)
        | Message::TlvTableMod(_)
        | Message::TlvTableRequest
        | Message::TlvTableReply(_)
        | Message::FlowMonitorCancel(_)
        | Message::FlowMonitorPaused
        | Message::FlowMonitorResumed => nicira::encode_experimenter(version, xid, message, w)?,
    }
    Ok(())
}

/// An OFPT_ERROR answering `offending` (its first 64 bytes go back as the data). An error type
/// 1.0 does not have is sent as OFPBRC_EPERM there.
/// The first of the ONF bundle extension's error codes (ONFERR_ET_BUNDLE_*).
const ONF_BUNDLE_ERROR_BASE: u16 = 2300;

/// Whether `version` defines error `code` of `kind`: OpenFlow 1.0 stops at OFPBRC_BUFFER_UNKNOWN,
/// OFPBAC_BAD_QUEUE, OFPFMFC_UNSUPPORTED, OFPPMFC_BAD_HW_ADDR and OFPQOFC_EPERM (1.3's IS_SLAVE,
/// BAD_PORT, BAD_OUT_GROUP, BAD_CONFIG... are past them). An undefined one goes out as
/// OFPBRC_EPERM, as Open vSwitch sends IS_SLAVE in 1.0.
fn defined_in(version: Version, kind: ErrorType, code: u16) -> bool {
    let last = match (version, kind) {
        (Version::V1_3 | Version::V1_4 | Version::V1_5, _) => return true,
        (Version::V1_0, ErrorType::HelloFailed) => 1,
        (Version::V1_0, ErrorType::BadRequest) => bad_request::BUFFER_UNKNOWN,
        (Version::V1_0, ErrorType::BadAction) => 8,
        (Version::V1_0, ErrorType::FlowModFailed) => 5,
        (Version::V1_0, ErrorType::PortModFailed) => 1,
        (Version::V1_0, ErrorType::QueueOpFailed) => 2,
        (Version::V1_0, ErrorType::FlowMonitorFailed) => return true,
        (Version::V1_0, _) => return false,
    };
    code <= last
}

pub fn encode_error(version: Version, xid: u32, error: &OfError, offending: &[u8]) -> Vec<u8> {
    let (error_type, code) = match error.kind.wire(version) {
        Some(error_type) if defined_in(version, error.kind, error.code) => (error_type, error.code),
        _ => (1, bad_request::EPERM),
    };
    let data = offending.get(..ERROR_DATA_MAX).unwrap_or(offending).to_vec();
    // What follows the type and code: an experimenter error's id (the 1.3 bundle extension's,
    // Nicira's TLV table and flow monitor errors); in 1.0 Open vSwitch's vendor error's vendor,
    // type and code (its flow monitor errors: OFPET_BAD_REQUEST, 511 + the 1.3 code).
    let mut vendor = Writer::new();
    let code = match (error_type, error.kind) {
        (0xffff, ErrorType::TlvTableModFailed | ErrorType::FlowMonitorFailed) => {
            vendor.u32(super::nicira::NICIRA);
            code
        }
        (0xffff, _) => {
            vendor.u32(super::nicira::ONF);
            ONF_BUNDLE_ERROR_BASE + code
        }
        (NX_VENDOR_ERROR, _) => {
            vendor.u32(super::nicira::NICIRA);
            vendor.u16(1);
            vendor.u16(NX10_FLOW_MONITOR_ERROR_BASE + code);
            // NXVC_VENDOR_ERROR.
            0
        }
        _ => code,
    };
    let mut w = Writer::new();
    w.u8(version.wire());
    w.u8(1);
    w.u16(len16(HEADER_LEN + 4 + vendor.len() + data.len()));
    w.u32(xid);
    w.u16(error_type);
    w.u16(code);
    w.bytes(vendor.as_slice());
    w.bytes(&data);
    w.into_bytes()
}

/// Open vSwitch's NXET_VENDOR error type of OpenFlow 1.0 (a vendor error follows).
const NX_VENDOR_ERROR: u16 = 0xb0c2;
/// Open vSwitch's 1.0 numbers of its flow monitor errors are these plus the 1.3 ones.
const NX10_FLOW_MONITOR_ERROR_BASE: u16 = 511;

const HELLO_ELEM_VERSIONBITMAP: u16 = 1;

fn decode_hello(r: &mut Reader) -> Result<Hello, OfError> {
    let mut hello = Hello::default();
    while !r.is_empty() {
        let element_type = r.u16()?;
        let length = usize::from(r.u16()?);
        let body_len =
            length.checked_sub(4).ok_or_else(|| OfError::bad_len(format!("hello element length {length}")))?;
        let mut body = r.sub(body_len)?;
        // Elements are padded to 8; the last one's padding may be missing in older peers.
        r.skip(((8 - length % 8) % 8).min(r.remaining()))?;
        if element_type == HELLO_ELEM_VERSIONBITMAP {
            let mut versions = Vec::new();
            let mut base = 0u32;
            while !body.is_empty() {
                let bitmap = body.u32()?;
                versions.extend(
                    (0..32).filter(|bit| bitmap >> bit & 1 == 1).filter_map(|bit| u8::try_from(base + bit).ok()),
                );
                base += 32;
            }
            hello.versions = Some(versions);
        }
    }
    Ok(hello)
}

fn encode_hello(hello: &Hello, w: &mut Writer) {
    let Some(versions) = &hello.versions else { return };
    let words = versions.iter().map(|&v| usize::from(v) / 32 + 1).max().unwrap_or(1);
    let start = w.len();
    w.u16(HELLO_ELEM_VERSIONBITMAP);
    w.u16(len16(4 + 4 * words));
    for word in 0..words {
        let bits =
            versions.iter().filter(|&&v| usize::from(v) / 32 == word).fold(0u32, |bits, &v| bits | 1 << (v % 32));
        w.u32(bits);
    }
    w.pad_to_8(start);
}

/// The HELLO this switch sends: the highest of `ours` in the header, all of them in the bitmap.
pub fn our_hello(ours: &[Version]) -> (Version, Message) {
    let highest = ours.iter().copied().max().unwrap_or(Version::V1_3);
    (highest, Message::Hello(Hello { versions: Some(ours.iter().map(|v| v.wire()).collect()) }))
}

/// The version both sides speak, from the peer's HELLO (its header version and message): the
/// highest common one of the bitmap when there is one, else the lower of both highest versions
/// if this switch speaks it. Failure is OFPHFC_INCOMPATIBLE.
pub fn negotiate(ours: &[Version], their_version: u8, their_hello: &Hello) -> Result<Version, OfError> {
    let chosen = match &their_hello.versions {
        Some(theirs) => ours.iter().copied().filter(|v| theirs.contains(&v.wire())).max(),
        None => {
            let highest = ours.iter().map(|v| v.wire()).max().unwrap_or(0);
            Version::from_wire(highest.min(their_version)).filter(|v| ours.contains(v))
        }
    };
    chosen.ok_or_else(|| {
        OfError::new(
            ErrorType::HelloFailed,
            0,
            format!("no common version with the peer (its hello: {their_version:#x} {their_hello:?})"),
        )
    })
}

fn decode_features_reply(version: Version, r: &mut Reader) -> Result<FeaturesReply, OfError> {
    let mut features =
        FeaturesReply { datapath_id: r.u64()?, n_buffers: r.u32()?, n_tables: r.u8()?, ..FeaturesReply::default() };
    match version {
        Version::V1_3 | Version::V1_4 | Version::V1_5 => {
            features.auxiliary_id = r.u8()?;
            r.skip(2)?;
            features.capabilities = r.u32()?;
            r.skip(4)?;
        }
        Version::V1_0 => {
            r.skip(3)?;
            features.capabilities = r.u32()?;
            features.actions = r.u32()?;
            while !r.is_empty() {
                features.ports.push(decode_port_desc(version, r)?);
            }
        }
    }
    Ok(features)
}

fn encode_features_reply(version: Version, features: &FeaturesReply, w: &mut Writer) {
    w.u64(features.datapath_id);
    w.u32(features.n_buffers);
    w.u8(features.n_tables);
    match version {
        Version::V1_3 | Version::V1_4 | Version::V1_5 => {
            w.u8(features.auxiliary_id);
            w.zeros(2);
            w.u32(features.capabilities);
            w.u32(0);
        }
        Version::V1_0 => {
            w.zeros(3);
            w.u32(features.capabilities);
            w.u32(features.actions);
            for port in &features.ports {
                encode_port_desc(version, port, w);
            }
        }
    }
}

fn decode_switch_config(r: &mut Reader) -> Result<SwitchConfig, OfError> {
    let flags = r.u16()?;
    let frag = [FragHandling::Normal, FragHandling::Drop, FragHandling::Reassemble, FragHandling::NxMatch]
        [usize::from(flags & 3)];
    Ok(SwitchConfig { frag, invalid_ttl_to_controller: flags & 4 != 0, miss_send_len: r.u16()? })
}

fn encode_switch_config(config: &SwitchConfig, w: &mut Writer) {
    w.u16(config.frag as u16 | u16::from(config.invalid_ttl_to_controller) << 2);
    w.u16(config.miss_send_len);
}

/// A NUL-padded name field of `size` bytes (at most `size - 1` of them count, as in Open
/// vSwitch, when the terminator is missing). Bytes that are not UTF-8 become `?`, so the name
/// is never longer than the field when written back.
pub(crate) fn read_name(r: &mut Reader, size: usize) -> Result<String, OfError> {
    let bytes = r.bytes(size)?;
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len()).min(size.saturating_sub(1));
    let name = bytes.get(..end).unwrap_or_default();
    Ok(match std::str::from_utf8(name) {
        Ok(text) => text.to_string(),
        Err(_) => String::from_utf8_lossy(name).replace(char::REPLACEMENT_CHARACTER, "?"),
    })
}

/// Writes `name` NUL-padded to `size` bytes, cut (at a character boundary) to at most
/// `size - 1` bytes so it stays terminated.
pub(crate) fn write_name(name: &str, size: usize, w: &mut Writer) {
    let mut used = name.len().min(size - 1);
    while !name.is_char_boundary(used) {
        used -= 1;
    }
    w.bytes(name.as_bytes().get(..used).unwrap_or_default());
    w.zeros(size - used);
}

fn port_error(n: u32) -> OfError {
    bad_request(bad_request::BAD_PORT, format!("port number {n:#x}"))
}

/// OFPPDPT_ETHERNET / OFPPMPT_ETHERNET / OFPPSPT_ETHERNET: the Ethernet property of 1.4's port
/// structures (the others are skipped).
const ETHERNET_PROPERTY: u16 = 0;

pub(crate) fn decode_port_desc(version: Version, r: &mut Reader) -> Result<PortDesc, OfError> {
    if version >= Version::V1_4 {
        return decode_port_desc_v1_4(r);
    }
    let port_no = read_port(version, r, port_error)?;
    if version >= Version::V1_3 {
        r.skip(4)?;
    }
    let hw_addr = r.array()?;
    if version >= Version::V1_3 {
        r.skip(2)?;
    }
    let mut port = PortDesc {
        port_no,
        hw_addr,
        name: read_name(r, 16)?,
        config: r.u32()?,
        state: r.u32()?,
        curr: r.u32()?,
        advertised: r.u32()?,
        supported: r.u32()?,
        peer: r.u32()?,
        ..PortDesc::default()
    };
    if version >= Version::V1_3 {
        port.curr_speed = r.u32()?;
        port.max_speed = r.u32()?;
    }
    Ok(port)
}

/// 1.4's `ofp_port`: a length, the fixed part, then properties; the features and speeds are
/// its Ethernet property's.
fn decode_port_desc_v1_4(r: &mut Reader) -> Result<PortDesc, OfError> {
    let port_no = read_port(Version::V1_4, r, port_error)?;
    let length = usize::from(r.u16()?);
    let mut e = r.sub(length.checked_sub(6).ok_or_else(|| OfError::bad_len(format!("port length {length}")))?)?;
    e.skip(2)?;
    let hw_addr = e.array()?;
    e.skip(2)?;
    let mut port = PortDesc {
        port_no,
        hw_addr,
        name: read_name(&mut e, 16)?,
        config: e.u32()?,
        state: e.u32()?,
        ..PortDesc::default()
    };
    while !e.is_empty() {
        let (kind, mut body) = e.property()?;
        if kind == ETHERNET_PROPERTY {
            body.skip(4)?;
            port.curr = body.u32()?;
            port.advertised = body.u32()?;
            port.supported = body.u32()?;
            port.peer = body.u32()?;
            port.curr_speed = body.u32()?;
            port.max_speed = body.u32()?;
        }
    }
    Ok(port)
}

pub(crate) fn encode_port_desc(version: Version, port: &PortDesc, w: &mut Writer) {
    if version >= Version::V1_4 {
        let start = w.len();
        write_port(version, port.port_no, w);
        w.u16(0);
        w.zeros(2);
        w.bytes(&port.hw_addr);
        w.zeros(2);
        write_name(&port.name, 16, w);
        w.u32(port.config);
        w.u32(port.state);
        w.property(ETHERNET_PROPERTY, |w| {
            w.zeros(4);
            for word in [port.curr, port.advertised, port.supported, port.peer, port.curr_speed, port.max_speed] {
                w.u32(word);
            }
        });
        w.patch_len(start + 4, start);
        return;
    }
    write_port(version, port.port_no, w);
    if version >= Version::V1_3 {
        w.zeros(4);
    }
    w.bytes(&port.hw_addr);
    if version >= Version::V1_3 {
        w.zeros(2);
    }
    write_name(&port.name, 16, w);
    for word in [port.config, port.state, port.curr, port.advertised, port.supported, port.peer] {
        w.u32(word);
    }
    if version >= Version::V1_3 {
        w.u32(port.curr_speed);
        w.u32(port.max_speed);
    }
}

/// OFPR_* of `version`: 1.0 and 1.3 have no_match, action and invalid_ttl; 1.4 adds
/// action_set, group and packet_out.
pub(crate) fn packet_in_reason_from_wire(version: Version, number: u8) -> Result<PacketInReason, OfError> {
    Ok(match number {
        0 => PacketInReason::NoMatch,
        1 => PacketInReason::Action,
        2 => PacketInReason::InvalidTtl,
        3 if version >= Version::V1_4 => PacketInReason::ActionSet,
        4 if version >= Version::V1_4 => PacketInReason::Group,
        5 if version >= Version::V1_4 => PacketInReason::PacketOut,
        _ => return Err(bad_value("packet-in reason", number)),
    })
}

/// OFPR_* numbers of `version`. Before 1.4 the 1.4 reasons (action_set, group, packet_out) are
/// reported as action, as Open vSwitch does.
pub(crate) fn packet_in_reason_wire(version: Version, reason: PacketInReason) -> u8 {
    match reason {
        PacketInReason::NoMatch => 0,
        PacketInReason::InvalidTtl => 2,
        PacketInReason::ActionSet if version >= Version::V1_4 => 3,
        PacketInReason::Group if version >= Version::V1_4 => 4,
        PacketInReason::PacketOut if version >= Version::V1_4 => 5,
        PacketInReason::Action | PacketInReason::ActionSet | PacketInReason::Group | PacketInReason::PacketOut => 1,
    }
}

fn decode_packet_in(version: Version, r: &mut Reader) -> Result<PacketIn, OfError> {
    let buffer_id = r.u32()?;
    let total_len = r.u16()?;
    match version {
        Version::V1_3 | Version::V1_4 | Version::V1_5 => {
            let reason = packet_in_reason_from_wire(version, r.u8()?)?;
            let table_id = r.u8()?;
            let cookie = r.u64()?;
            let matches = decode_match(version, r)?;
            r.skip(2)?;
            Ok(PacketIn { buffer_id, total_len, reason, table_id, cookie, matches, data: r.rest().to_vec() })
        }
        Version::V1_0 => {
            let mut matches = Match::catch_all();
            matches.set_in_port(read_port(version, r, port_error)?);
            let reason = packet_in_reason_from_wire(version, r.u8()?)?;
            r.skip(1)?;
            Ok(PacketIn { buffer_id, total_len, reason, table_id: 0, cookie: 0, matches, data: r.rest().to_vec() })
        }
    }
}

fn encode_packet_in(version: Version, packet_in: &PacketIn, w: &mut Writer) {
    w.u32(packet_in.buffer_id);
    w.u16(packet_in.total_len);
    match version {
        Version::V1_3 | Version::V1_4 | Version::V1_5 => {
            w.u8(packet_in_reason_wire(version, packet_in.reason));
            w.u8(packet_in.table_id);
            w.u64(packet_in.cookie);
            encode_match(version, &packet_in.matches, w);
            w.zeros(2);
        }
        Version::V1_0 => {
            write_port(version, packet_in.matches.in_port().unwrap_or(OfPort::NONE), w);
            w.u8(packet_in_reason_wire(version, packet_in.reason));
            w.u8(0);
        }
    }
    w.bytes(&packet_in.data);
}

fn flow_removed_reason(version: Version, number: u8) -> Result<FlowRemovedReason, OfError> {
    [
        FlowRemovedReason::IdleTimeout,
        FlowRemovedReason::HardTimeout,
        FlowRemovedReason::Delete,
        FlowRemovedReason::GroupDelete,
        FlowRemovedReason::MeterDelete,
    ]
    .into_iter()
    .find(|reason| reason.wire(version) == number)
    .ok_or_else(|| bad_value("flow-removed reason", number))
}

fn decode_flow_removed(version: Version, r: &mut Reader) -> Result<FlowRemoved, OfError> {
    match version {
        Version::V1_3 | Version::V1_4 | Version::V1_5 => {
            let (cookie, priority, reason, table_id, duration, timeouts, counts, matches);
            if version >= Version::V1_5 {
                // The header fields reordered, the counters and duration as OXS after the match.
                table_id = r.u8()?;
                reason = flow_removed_reason(version, r.u8()?)?;
                priority = r.u16()?;
                timeouts = (r.u16()?, r.u16()?);
                cookie = r.u64()?;
                matches = decode_match(version, r)?;
                let stats = oxs::decode_stats(r)?;
                duration = stats.duration.unwrap_or_default();
                counts = (stats.packet_count.unwrap_or_default(), stats.byte_count.unwrap_or_default());
            } else {
                cookie = r.u64()?;
                priority = r.u16()?;
                reason = flow_removed_reason(version, r.u8()?)?;
                table_id = r.u8()?;
                duration = (r.u32()?, r.u32()?);
                timeouts = (r.u16()?, r.u16()?);
                counts = (r.u64()?, r.u64()?);
                matches = decode_match(version, r)?;
            }
            Ok(FlowRemoved {
                cookie,
                priority,
                reason,
                table_id,
                duration_sec: duration.0,
                duration_nsec: duration.1,
                idle_timeout: timeouts.0,
                hard_timeout: timeouts.1,
                packet_count: counts.0,
                byte_count: counts.1,
                matches,
            })
        }
        Version::V1_0 => {
            let matches = decode_match(version, r)?;
            let cookie = r.u64()?;
            let priority = r.u16()?;
            let reason = flow_removed_reason(version, r.u8()?)?;
            r.skip(1)?;
            let (duration_sec, duration_nsec) = (r.u32()?, r.u32()?);
            let idle_timeout = r.u16()?;
            r.skip(2)?;
            let (packet_count, byte_count) = (r.u64()?, r.u64()?);
            Ok(FlowRemoved {
                cookie,
                priority,
                reason,
                table_id: 0,
                duration_sec,
                duration_nsec,
                idle_timeout,
                hard_timeout: 0,
                packet_count,
                byte_count,
                matches,
            })
        }
    }
}

fn encode_flow_removed(version: Version, removed: &FlowRemoved, w: &mut Writer) {
    match version {
        Version::V1_5 => {
            w.u8(removed.table_id);
            w.u8(removed.reason.wire(version));
            w.u16(removed.priority);
            w.u16(removed.idle_timeout);
            w.u16(removed.hard_timeout);
            w.u64(removed.cookie);
            encode_match(version, &removed.matches, w);
            let stats = OxsStats {
                duration: Some((removed.duration_sec, removed.duration_nsec)),
                packet_count: Some(removed.packet_count),
                byte_count: Some(removed.byte_count),
                ..OxsStats::default()
            };
            oxs::encode_stats(&stats, w);
        }
        Version::V1_3 | Version::V1_4 => {
            w.u64(removed.cookie);
            w.u16(removed.priority);
            w.u8(removed.reason.wire(version));
            w.u8(removed.table_id);
            w.u32(removed.duration_sec);
            w.u32(removed.duration_nsec);
            w.u16(removed.idle_timeout);
            w.u16(removed.hard_timeout);
            w.u64(removed.packet_count);
            w.u64(removed.byte_count);
            encode_match(version, &removed.matches, w);
        }
        Version::V1_0 => {
            encode_match(version, &removed.matches, w);
            w.u64(removed.cookie);
            w.u16(removed.priority);
            w.u8(removed.reason.wire(version));
            w.u8(0);
            w.u32(removed.duration_sec);
            w.u32(removed.duration_nsec);
            w.u16(removed.idle_timeout);
            w.zeros(2);
            w.u64(removed.packet_count);
            w.u64(removed.byte_count);
        }
    }
}

fn decode_port_status(version: Version, r: &mut Reader) -> Result<PortStatus, OfError> {
    let number = r.u8()?;
    let reason = [PortReason::Add, PortReason::Delete, PortReason::Modify]
        .get(usize::from(number))
        .copied()
        .ok_or_else(|| bad_value("port-status reason", number))?;
    r.skip(7)?;
    Ok(PortStatus { reason, port: decode_port_desc(version, r)? })
}

fn decode_packet_out(version: Version, r: &mut Reader) -> Result<PacketOut, OfError> {
    let buffer_id = r.u32()?;
    let in_port;
    let actions_len;
    if version >= Version::V1_5 {
        // 1.5: the packet's pipeline fields as a match; the switch takes in_port (required, as
        // Open vSwitch has it) and nothing else.
        actions_len = usize::from(r.u16()?);
        r.skip(2)?;
        let mut matches = decode_match(version, r)?;
        in_port = matches.in_port().ok_or_else(|| bad_request(bad_request::BAD_PORT, "packet_out without in_port"))?;
        matches.wildcard(Field::InPort);
        if !matches.is_catch_all() {
            return Err(OfError::new(ErrorType::BadMatch, 6, "a packet_out's match may hold in_port only"));
        }
    } else {
        in_port = read_port(version, r, port_error)?;
        actions_len = usize::from(r.u16()?);
        if version >= Version::V1_3 {
            r.skip(6)?;
        }
    }
    if actions_len > r.remaining() {
        // As Open vSwitch answers it: the message is too short for its actions.
        return Err(OfError::bad_len(format!("{actions_len} bytes of actions, {} left", r.remaining())));
    }
    let actions = decode_actions(version, r, actions_len)?;
    Ok(PacketOut { buffer_id, in_port, actions, data: r.rest().to_vec() })
}

fn encode_packet_out(version: Version, packet_out: &PacketOut, w: &mut Writer) {
    w.u32(packet_out.buffer_id);
    let length_at;
    if version >= Version::V1_5 {
        length_at = w.len();
        w.u16(0);
        w.zeros(2);
        let mut matches = Match::catch_all();
        matches.set_in_port(packet_out.in_port);
        encode_match(version, &matches, w);
    } else {
        write_port(version, packet_out.in_port, w);
        length_at = w.len();
        w.u16(0);
        if version >= Version::V1_3 {
            w.zeros(6);
        }
    }
    let start = w.len();
    encode_actions(version, &packet_out.actions, w);
    let actions_len = w.len() - start;
    w.patch_u16(length_at, len16(actions_len));
    w.bytes(&packet_out.data);
}

fn decode_flow_mod(version: Version, r: &mut Reader) -> Result<FlowMod, OfError> {
    match version {
        Version::V1_3 | Version::V1_4 | Version::V1_5 => {
            let (cookie, cookie_mask) = (r.u64()?, r.u64()?);
            let table_id = r.u8()?;
            let command = FlowModCommand::from_wire(version, r.u8()?)?;
            let (idle_timeout, hard_timeout, priority) = (r.u16()?, r.u16()?, r.u16()?);
            let buffer_id = r.u32()?;
            let out_port = read_port(version, r, port_error)?;
            let out_group = r.u32()?;
            let flags = FlowModFlags::from_wire(version, r.u16()?)?;
            r.skip(2)?;
            let matches = decode_match(version, r)?;
            let length = r.remaining();
            let instructions = decode_instructions(version, r, length)?;
            Ok(FlowMod {
                cookie,
                cookie_mask,
                table_id,
                command,
                idle_timeout,
                hard_timeout,
                priority,
                buffer_id,
                out_port,
                out_group,
                flags,
                matches,
                instructions,
            })
        }
        Version::V1_0 => {
            let exact = v1_0_match_is_exact(r)?;
            let matches = decode_match(version, r)?;
            let cookie = r.u64()?;
            let [table_id, command] = r.array()?;
            let command = FlowModCommand::from_wire(version, command)?;
            let (idle_timeout, hard_timeout, priority) = (r.u16()?, r.u16()?, r.u16()?);
            // OpenFlow 1.0 (3.4): an exact-match entry is always of the highest priority;
            // Open vSwitch stores it at 0xffff (and flow stats say so).
            let priority = if exact { u16::MAX } else { priority };
            let buffer_id = r.u32()?;
            let out_port = read_port(version, r, port_error)?;
            let flags = FlowModFlags::from_wire(version, r.u16()?)?;
            let length = r.remaining();
            let instructions = decode_instructions(version, r, length)?;
            Ok(FlowMod {
                cookie,
                cookie_mask: 0,
                table_id,
                command,
                idle_timeout,
                hard_timeout,
                priority,
                buffer_id,
                out_port,
                out_group: GROUP_ANY,
                flags,
                matches,
                instructions,
            })
        }
    }
}

fn encode_flow_mod(version: Version, flow_mod: &FlowMod, w: &mut Writer) {
    match version {
        Version::V1_3 | Version::V1_4 | Version::V1_5 => {
            w.u64(flow_mod.cookie);
            w.u64(flow_mod.cookie_mask);
            w.u8(flow_mod.table_id);
            w.u8(flow_mod.command.wire());
            w.u16(flow_mod.idle_timeout);
            w.u16(flow_mod.hard_timeout);
            w.u16(flow_mod.priority);
            w.u32(flow_mod.buffer_id);
            write_port(version, flow_mod.out_port, w);
            w.u32(flow_mod.out_group);
            w.u16(flow_mod.flags.wire(version));
            w.zeros(2);
            encode_match(version, &flow_mod.matches, w);
        }
        Version::V1_0 => {
            encode_match(version, &flow_mod.matches, w);
            w.u64(flow_mod.cookie);
            w.u8(flow_mod.table_id);
            w.u8(flow_mod.command.wire());
            w.u16(flow_mod.idle_timeout);
            w.u16(flow_mod.hard_timeout);
            w.u16(flow_mod.priority);
            w.u32(flow_mod.buffer_id);
            write_port(version, flow_mod.out_port, w);
            w.u16(flow_mod.flags.wire(version));
        }
    }
    encode_rule_instructions(version, &flow_mod.instructions, &flow_mod.matches, w);
}

fn group_mod_failed(code: u16, reason: impl Into<String>) -> OfError {
    OfError::new(ErrorType::GroupModFailed, code, reason)
}

fn decode_group_mod(r: &mut Reader) -> Result<GroupMod, OfError> {
    let (command, group_type, group_id) = decode_group_mod_head(r)?;
    let command = match command {
        0 => GroupCommand::Add,
        1 => GroupCommand::Modify,
        2 => GroupCommand::Delete,
        other => return Err(bad_group_command(other)),
    };
    Ok(GroupMod { command, group_type, group_id, buckets: decode_buckets(r)? })
}

/// OFPGMFC_BAD_COMMAND.
fn bad_group_command(number: u16) -> OfError {
    group_mod_failed(11, format!("group_mod command {number}"))
}

/// Command, type and group id: the first 8 bytes of a group_mod in every layout.
/// The command number, type and group id.
fn decode_group_mod_head(r: &mut Reader) -> Result<(u16, GroupType, u32), OfError> {
    let number = r.u16()?;
    let group_type = GroupType::from_wire(r.u8()?)?;
    r.skip(1)?;
    Ok((number, group_type, r.u32()?))
}

fn encode_group_mod_head(group_mod: &GroupMod, w: &mut Writer) {
    w.u16(group_mod.command.wire());
    w.u8(group_mod.group_type as u8);
    w.u8(0);
    w.u32(group_mod.group_id);
}

/// The next bucket of `r` (its length already read): at least `min_len` bytes, a multiple of 8,
/// within `r` (OFPGMFC_BAD_BUCKET otherwise).
fn bucket_entry<'a>(r: &mut Reader<'a>, min_len: usize) -> Result<Reader<'a>, OfError> {
    let length = usize::from(r.u16()?);
    length
        .checked_sub(2)
        .filter(|&rest| length >= min_len && length % 8 == 0 && rest <= r.remaining())
        .map(|rest| r.sub(rest))
        .transpose()?
        .ok_or_else(|| group_mod_failed(12, format!("bucket length {length}")))
}

/// Buckets up to the end of `r` (OFPGMFC_BAD_BUCKET for a bucket length that does not fit).
pub(crate) fn decode_buckets(r: &mut Reader) -> Result<Vec<Bucket>, OfError> {
    let mut buckets = Vec::new();
    while !r.is_empty() {
        let mut bucket = bucket_entry(r, 16)?;
        let weight = bucket.u16()?;
        let watch_port = read_port(Version::V1_3, &mut bucket, |n| group_mod_failed(13, format!("watch_port {n:#x}")))?;
        let watch_group = bucket.u32()?;
        bucket.skip(4)?;
        let actions_len = bucket.remaining();
        let actions = decode_actions(Version::V1_3, &mut bucket, actions_len)?;
        let id = u32::try_from(buckets.len()).unwrap_or(u32::MAX);
        buckets.push(Bucket { id, weight, watch_port, watch_group, actions });
    }
    Ok(buckets)
}

pub(crate) fn encode_buckets(buckets: &[Bucket], w: &mut Writer) {
    for bucket in buckets {
        let start = w.len();
        w.u16(0);
        w.u16(bucket.weight);
        write_port(Version::V1_3, bucket.watch_port, w);
        w.u32(bucket.watch_group);
        w.zeros(4);
        encode_actions(Version::V1_3, &bucket.actions, w);
        w.patch_len(start, start);
    }
}

/// OFPG15_BUCKET_ALL: the command_bucket_id of add, modify and delete; with FIRST and LAST the
/// places the bucket commands may name besides a bucket id.
const BUCKET_ALL: u32 = 0xffff_ffff;
const BUCKET_FIRST: u32 = 0xffff_fffd;
const BUCKET_LAST: u32 = 0xffff_fffe;
/// OFPGBPT15_WEIGHT, OFPGBPT15_WATCH_PORT, OFPGBPT15_WATCH_GROUP.
const BUCKET_PROP_WEIGHT: u16 = 0;
const BUCKET_PROP_WATCH_PORT: u16 = 1;
const BUCKET_PROP_WATCH_GROUP: u16 = 2;

/// A group_mod in OpenFlow 1.5's layout (ofp15_group_mod), which Open vSwitch's NXT_GROUP_MOD
/// carries in 1.0: buckets with ids and properties, the actions in `version`'s encoding, and
/// the insert and remove bucket commands with their command_bucket_id (first, last, all or a
/// bucket id; add, modify and delete take only all). Group properties (Open vSwitch's
/// selection method) are refused.
pub(crate) fn decode_group_mod_v15(version: Version, r: &mut Reader) -> Result<GroupMod, OfError> {
    let (number, group_type, group_id) = decode_group_mod_head(r)?;
    let buckets_len = usize::from(r.u16()?);
    r.skip(2)?;
    let command_bucket_id = r.u32()?;
    let place = match command_bucket_id {
        BUCKET_FIRST => BucketPlace::First,
        BUCKET_LAST => BucketPlace::Last,
        BUCKET_ALL => BucketPlace::All,
        id if id <= BUCKET_MAX => BucketPlace::Id(id),
        other => return Err(group_mod_failed(15, format!("command_bucket_id {other:#x}"))),
    };
    let command = match number {
        0..=2 if place != BucketPlace::All => {
            return Err(group_mod_failed(12, format!("command_bucket_id {command_bucket_id:#x} with command {number}")))
        }
        0 => GroupCommand::Add,
        1 => GroupCommand::Modify,
        2 => GroupCommand::Delete,
        3 => GroupCommand::InsertBuckets(place),
        5 => GroupCommand::RemoveBuckets(place),
        other => return Err(bad_group_command(other)),
    };
    let mut buckets = r.sub(buckets_len)?;
    let buckets = decode_buckets_v15(version, group_type, &mut buckets)?;
    if !r.is_empty() {
        return Err(group_mod_failed(12, "group properties (selection method) are not supported"));
    }
    Ok(GroupMod { command, group_type, group_id, buckets })
}

pub(crate) fn encode_group_mod_v15(version: Version, group_mod: &GroupMod, w: &mut Writer) {
    encode_group_mod_head(group_mod, w);
    let buckets_len_at = w.len();
    w.u16(0);
    w.zeros(2);
    w.u32(match group_mod.command {
        GroupCommand::InsertBuckets(place) | GroupCommand::RemoveBuckets(place) => match place {
            BucketPlace::First => BUCKET_FIRST,
            BucketPlace::Last => BUCKET_LAST,
            BucketPlace::All => BUCKET_ALL,
            BucketPlace::Id(id) => id,
        },
        GroupCommand::Add | GroupCommand::Modify | GroupCommand::Delete => BUCKET_ALL,
    });
    let start = w.len();
    encode_buckets_v15(version, group_mod.group_type, &group_mod.buckets, w);
    w.patch_len(buckets_len_at, start);
}

/// ofp15_bucket entries up to the end of `r`.
pub(crate) fn decode_buckets_v15(
    version: Version,
    group_type: GroupType,
    r: &mut Reader,
) -> Result<Vec<Bucket>, OfError> {
    let mut buckets = Vec::new();
    while !r.is_empty() {
        let mut bucket = bucket_entry(r, 8)?;
        let actions_len = usize::from(bucket.u16()?);
        let bucket_id = bucket.u32()?;
        if bucket_id > BUCKET_MAX {
            return Err(group_mod_failed(12, format!("bucket id {bucket_id:#x}")));
        }
        if actions_len > bucket.remaining() {
            return Err(group_mod_failed(12, format!("bucket actions of {actions_len} bytes")));
        }
        let actions = decode_actions(version, &mut bucket, actions_len)?;
        let mut decoded = Bucket {
            id: bucket_id,
            weight: u16::from(group_type == GroupType::Select),
            watch_port: OfPort::NONE,
            watch_group: GROUP_ANY,
            actions,
        };
        while !bucket.is_empty() {
            let kind = bucket.u16()?;
            let prop_len = usize::from(bucket.u16()?);
            if prop_len != 8 {
                return Err(group_mod_failed(12, format!("bucket property {kind} of {prop_len} bytes")));
            }
            match kind {
                BUCKET_PROP_WEIGHT => decoded.weight = pad_after(bucket.u16()?, &mut bucket, 2)?,
                BUCKET_PROP_WATCH_PORT => {
                    decoded.watch_port =
                        read_port(Version::V1_3, &mut bucket, |n| group_mod_failed(13, format!("watch_port {n:#x}")))?;
                }
                BUCKET_PROP_WATCH_GROUP => decoded.watch_group = bucket.u32()?,
                other => return Err(group_mod_failed(12, format!("bucket property {other}"))),
            }
        }
        buckets.push(decoded);
    }
    Ok(buckets)
}

/// Buckets as ofp15_bucket entries, with the properties that differ from
/// the defaults, as Open vSwitch writes them (weight for select groups or when not 0).
pub(crate) fn encode_buckets_v15(version: Version, group_type: GroupType, buckets: &[Bucket], w: &mut Writer) {
    for bucket in buckets {
        let start = w.len();
        w.u16(0);
        let actions_len_at = w.len();
        w.u16(0);
        w.u32(bucket.id);
        let actions_start = w.len();
        encode_actions(version, &bucket.actions, w);
        w.patch_len(actions_len_at, actions_start);
        if group_type == GroupType::Select || bucket.weight != 0 {
            w.u16(BUCKET_PROP_WEIGHT);
            w.u16(8);
            w.u16(bucket.weight);
            w.zeros(2);
        }
        if bucket.watch_port != OfPort::NONE {
            w.u16(BUCKET_PROP_WATCH_PORT);
            w.u16(8);
            write_port(Version::V1_3, bucket.watch_port, w);
        }
        if bucket.watch_group != GROUP_ANY {
            w.u16(BUCKET_PROP_WATCH_GROUP);
            w.u16(8);
            w.u32(bucket.watch_group);
        }
        w.patch_len(start, start);
    }
}

fn decode_port_mod(version: Version, r: &mut Reader) -> Result<PortMod, OfError> {
    let port_no = read_port(version, r, |n| OfError::new(ErrorType::PortModFailed, 0, format!("port {n:#x}")))?;
    if version >= Version::V1_3 {
        r.skip(4)?;
    }
    let hw_addr = r.array()?;
    if version >= Version::V1_3 {
        r.skip(2)?;
    }
    let (config, mask) = (r.u32()?, r.u32()?);
    let mut advertise = 0;
    if version >= Version::V1_4 {
        // Properties: the Ethernet one carries advertise; optical and experimenter ones are
        // skipped (the switch has nothing they could change).
        while !r.is_empty() {
            let (kind, mut body) = r.property()?;
            if kind == ETHERNET_PROPERTY {
                advertise = body.u32()?;
            }
        }
    } else {
        advertise = r.u32()?;
        r.skip(4)?;
    }
    Ok(PortMod { port_no, hw_addr, config, mask, advertise })
}

fn encode_port_mod(version: Version, port_mod: &PortMod, w: &mut Writer) {
    write_port(version, port_mod.port_no, w);
    if version >= Version::V1_3 {
        w.zeros(4);
    }
    w.bytes(&port_mod.hw_addr);
    if version >= Version::V1_3 {
        w.zeros(2);
    }
    w.u32(port_mod.config);
    w.u32(port_mod.mask);
    if version >= Version::V1_4 {
        w.property(ETHERNET_PROPERTY, |w| w.u32(port_mod.advertise));
    } else {
        w.u32(port_mod.advertise);
        w.zeros(4);
    }
}

fn decode_queue_config(version: Version, r: &mut Reader) -> Result<QueueConfig, OfError> {
    let port = read_port(version, r, port_error)?;
    r.skip(if version >= Version::V1_3 { 4 } else { 6 })?;
    let mut queues = Vec::new();
    while !r.is_empty() {
        let queue_id = r.u32()?;
        if version >= Version::V1_3 {
            r.skip(4)?;
        }
        let length = usize::from(r.u16()?);
        let fixed = if version >= Version::V1_3 { 16 } else { 8 };
        let properties = length.checked_sub(fixed).ok_or_else(|| OfError::bad_len(format!("queue length {length}")))?;
        r.skip(if version >= Version::V1_3 { 6 } else { 2 })?;
        let mut properties = r.sub(properties)?;
        while !properties.is_empty() {
            properties.skip(2)?;
            let length = usize::from(properties.u16()?);
            properties.skip(
                length.checked_sub(4).ok_or_else(|| OfError::bad_len(format!("queue property length {length}")))?,
            )?;
        }
        queues.push(queue_id);
    }
    Ok(QueueConfig { port, queues })
}

fn encode_queue_config(version: Version, config: &QueueConfig, w: &mut Writer) {
    write_port(version, config.port, w);
    w.zeros(if version >= Version::V1_3 { 4 } else { 6 });
    for &queue_id in &config.queues {
        w.u32(queue_id);
        if version >= Version::V1_3 {
            write_port(version, config.port, w);
            w.u16(16);
            w.zeros(6);
        } else {
            w.u16(8);
            w.zeros(2);
        }
    }
}

fn decode_role(r: &mut Reader) -> Result<Role, OfError> {
    let number = r.u32()?;
    let role = [ControllerRole::NoChange, ControllerRole::Equal, ControllerRole::Master, ControllerRole::Slave]
        .get(number as usize)
        .copied()
        .ok_or_else(|| OfError::new(ErrorType::RoleRequestFailed, 2, format!("role {number}")))?;
    r.skip(4)?;
    Ok(Role { role, generation_id: r.u64()? })
}

/// The six masks of OFPT_GET_ASYNC_REPLY / OFPT_SET_ASYNC (and of NXT_SET_ASYNC_CONFIG).
pub(crate) fn encode_async(config: &AsyncConfig, w: &mut Writer) {
    for word in config.packet_in_mask.iter().chain(&config.port_status_mask).chain(&config.flow_removed_mask) {
        w.u32(*word);
    }
}

/// 1.4's asynchronous-configuration properties up to the end of `r`. An unknown type is
/// OFPBPC_BAD_TYPE, a length other than 8 OFPBPC_BAD_LEN; experimenter properties are skipped.
fn decode_async_property_list(r: &mut Reader) -> Result<Vec<AsyncProperty>, OfError> {
    let mut properties = Vec::new();
    while !r.is_empty() {
        let kind = r.u16()?;
        let length = usize::from(r.u16()?);
        let body_len = length.checked_sub(4).ok_or_else(|| bad_property(1, format!("property length {length}")))?;
        let mut body = r.sub(body_len)?;
        r.skip(((8 - length % 8) % 8).min(r.remaining()))?;
        match kind {
            0xfffe | 0xffff => {}
            _ if kind >= ASYNC_PROPERTY_TYPES => return Err(bad_property(0, format!("async property {kind}"))),
            _ if length != 8 => return Err(bad_property(1, format!("async property {kind} of {length} bytes"))),
            _ => properties.push(AsyncProperty { kind, mask: body.u32()? }),
        }
    }
    Ok(properties)
}

/// OFPET_BAD_PROPERTY with `code` (OFPBPC_BAD_TYPE 0, BAD_LEN 1...).
pub(crate) fn bad_property(code: u16, reason: impl Into<String>) -> OfError {
    OfError::new(ErrorType::BadProperty, code, reason)
}

fn decode_async_properties(r: &mut Reader) -> Result<AsyncConfig, OfError> {
    let mut config = AsyncConfig::default();
    decode_async_property_list(r)?.into_iter().for_each(|property| config.apply(property));
    Ok(config)
}

fn encode_async_properties(properties: &[AsyncProperty], w: &mut Writer) {
    for property in properties {
        w.u16(property.kind);
        w.u16(8);
        w.u32(property.mask);
    }
}

fn decode_role_status(r: &mut Reader) -> Result<RoleStatus, OfError> {
    let number = r.u32()?;
    let role = [ControllerRole::NoChange, ControllerRole::Equal, ControllerRole::Master, ControllerRole::Slave]
        .get(number as usize)
        .copied()
        .ok_or_else(|| bad_value("role", number))?;
    let reason = match r.u8()? {
        0 => RoleChangeReason::MasterRequest,
        1 => RoleChangeReason::Config,
        2 => RoleChangeReason::Experimenter,
        other => return Err(bad_value("role status reason", other)),
    };
    r.skip(3)?;
    let generation_id = r.u64()?;
    nicira::skip_properties(r)?;
    Ok(RoleStatus { role, reason, generation_id })
}

pub(crate) fn decode_async(r: &mut Reader) -> Result<AsyncConfig, OfError> {
    Ok(AsyncConfig {
        packet_in_mask: [r.u32()?, r.u32()?],
        port_status_mask: [r.u32()?, r.u32()?],
        flow_removed_mask: [r.u32()?, r.u32()?],
    })
}

fn meter_mod_failed(code: u16, reason: impl Into<String>) -> OfError {
    OfError::new(ErrorType::MeterModFailed, code, reason)
}

fn decode_meter_mod(r: &mut Reader) -> Result<MeterMod, OfError> {
    let number = r.u16()?;
    let command = [MeterCommand::Add, MeterCommand::Modify, MeterCommand::Delete]
        .get(usize::from(number))
        .copied()
        .ok_or_else(|| meter_mod_failed(4, format!("meter_mod command {number}")))?;
    let flags = MeterFlags::from_wire(r.u16()?)?;
    let meter_id = r.u32()?;
    Ok(MeterMod { command, flags, meter_id, bands: decode_meter_bands(r)? })
}

/// Meter bands up to the end of `r`: drop and dscp_remark (OFPMMFC_BAD_BAND otherwise).
pub(crate) fn decode_meter_bands(r: &mut Reader) -> Result<Vec<MeterBand>, OfError> {
    let mut bands = Vec::new();
    while !r.is_empty() {
        let band_type = r.u16()?;
        let length = r.u16()?;
        if length != 16 {
            return Err(OfError::bad_len(format!("meter band length {length}")));
        }
        let (rate, burst_size) = (r.u32()?, r.u32()?);
        let kind = match band_type {
            1 => MeterBandKind::Drop,
            2 => MeterBandKind::DscpRemark { prec_level: r.u8()? },
            _ => return Err(meter_mod_failed(8, format!("meter band type {band_type}"))),
        };
        r.skip(if band_type == 1 { 4 } else { 3 })?;
        bands.push(MeterBand { kind, rate, burst_size });
    }
    Ok(bands)
}

pub(crate) fn encode_meter_bands(bands: &[MeterBand], w: &mut Writer) {
    for band in bands {
        w.u16(match band.kind {
            MeterBandKind::Drop => 1,
            MeterBandKind::DscpRemark { .. } => 2,
        });
        w.u16(16);
        w.u32(band.rate);
        w.u32(band.burst_size);
        match band.kind {
            MeterBandKind::Drop => w.zeros(4),
            MeterBandKind::DscpRemark { prec_level } => {
                w.u8(prec_level);
                w.zeros(3);
            }
        }
    }
}
