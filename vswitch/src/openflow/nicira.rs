//! Experimenter (1.3) / vendor (1.0) messages: the Nicira ones ovs-ofctl sends or asks for
//! (NXT_SET_FLOW_FORMAT, NXT_FLOW_MOD_TABLE_ID, NXT_SET_PACKET_IN_FORMAT, NXT_FLOW_MOD,
//! NXT_PACKET_IN, NXT_SET_ASYNC_CONFIG, NXT_GROUP_MOD, the NXST_GROUP* stats,
//! NXT_ROLE_REQUEST/REPLY (the roles of 1.0 controllers), NXT_TLV_TABLE_MOD/REQUEST/REPLY (the
//! Geneve TLV map), and the NXST_FLOW / NXST_AGGREGATE
//! vendor stats of 1.0), and the ONF bundle
//! extension of OpenFlow 1.3 (EXT-230: ONF_ET_BUNDLE_CONTROL, ONF_ET_BUNDLE_ADD_MESSAGE) as
//! Open vSwitch speaks it. The cookie match of the nx_match formats (NXM_NX_COOKIE[_W]) is
//! handled here; every other field goes through `oxm::decode_nx_match`.

use crate::flow::Match;

use super::actions::{decode_instructions, encode_rule_instructions};
use super::message::bad_request as codes;
use super::message::{
    bad_request, decode_async, decode_group_mod_v15, decode_nested, encode, encode_async, encode_group_mod_v15,
    packet_in_reason_from_wire, packet_in_reason_wire, ControllerRole, EncodeError, FlowMod, FlowModCommand,
    FlowModFlags, Message, PacketIn, TlvTableCommand, TlvTableMod, TlvTableReply, GROUP_ANY,
};
use super::monitor::nicira as monitor;
use super::multipart::{
    decode_aggregate, decode_all, decode_group_desc_v15, decode_group_features, decode_group_stats, encode_aggregate,
    encode_group_desc_v15, encode_group_features, encode_group_stats, entry_body, pad_after, FlowStats,
    FlowStatsRequest, ReplyBody, RequestBody,
};
use super::oxm::{decode_nx_match, encode_nx_match};
use super::wire::{len16, read_port, write_port, ErrorType, OfError, Reader, Version, Writer};
use crate::flow::tun_metadata::TlvMapping;

pub const NICIRA: u32 = 0x0000_2320;
pub const ONF: u32 = 0x4f4e_4600;

const NXT_ROLE_REQUEST: u32 = 10;
const NXT_ROLE_REPLY: u32 = 11;
const NXT_SET_FLOW_FORMAT: u32 = 12;
const NXT_FLOW_MOD: u32 = 13;
const NXT_FLOW_MOD_TABLE_ID: u32 = 15;
const NXT_SET_PACKET_IN_FORMAT: u32 = 16;
const NXT_PACKET_IN: u32 = 17;
/// The OpenFlow 1.0 form of OFPT_SET_ASYNC (same body).
const NXT_SET_ASYNC_CONFIG: u32 = 19;
/// The OpenFlow 1.0 form of OFPT_GROUP_MOD (OpenFlow 1.5's layout).
const NXT_GROUP_MOD: u32 = 31;
const NXT_TLV_TABLE_MOD: u32 = 24;
const NXT_TLV_TABLE_REQUEST: u32 = 25;
const NXT_TLV_TABLE_REPLY: u32 = 26;
const ONF_ET_BUNDLE_CONTROL: u32 = 2300;
const ONF_ET_BUNDLE_ADD_MESSAGE: u32 = 2301;
const NXST_FLOW: u32 = 0;
const NXST_AGGREGATE: u32 = 1;
/// The group multiparts of OpenFlow 1.0 (1.3's group stats and features, 1.5's group desc).
const NXST_GROUP: u32 = 7;
const NXST_GROUP_DESC: u32 = 8;
const NXST_GROUP_FEATURES: u32 = 9;
/// Open vSwitch's flow monitors: the 1.0 stats subtype, the 1.3 ONF experimenter multipart
/// type, and their cancel / paused / resumed messages.
const NXST_FLOW_MONITOR: u32 = 2;
const ONFST_FLOW_MONITOR: u32 = 1870;
const NXT_FLOW_MONITOR_CANCEL: u32 = 21;
const NXT_FLOW_MONITOR_PAUSED: u32 = 22;
const NXT_FLOW_MONITOR_RESUMED: u32 = 23;
const ONFT_FLOW_MONITOR_CANCEL: u32 = 1870;
const ONFT_FLOW_MONITOR_PAUSED: u32 = 1871;
const ONFT_FLOW_MONITOR_RESUMED: u32 = 1872;

/// NXM_NX_COOKIE and NXM_NX_COOKIE_W headers.
const NXM_NX_COOKIE: u32 = 0x0001_3c08;
const NXM_NX_COOKIE_W: u32 = 0x0001_3d10;

/// NXT_SET_FLOW_FORMAT: the match format of flow-mods, flow stats and flow-removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowFormat {
    OpenFlow10,
    Nxm,
}

/// NXT_SET_PACKET_IN_FORMAT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PacketInFormat {
    Standard,
    NxtPacketIn,
    NxtPacketIn2,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BundleControlType {
    OpenRequest,
    OpenReply,
    CloseRequest,
    CloseReply,
    CommitRequest,
    CommitReply,
    DiscardRequest,
    DiscardReply,
}

/// OFPBF_ATOMIC / OFPBF_ORDERED.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BundleFlags {
    pub atomic: bool,
    pub ordered: bool,
}

impl BundleFlags {
    fn wire(self) -> u16 {
        u16::from(self.atomic) | u16::from(self.ordered) << 1
    }

    fn from_wire(bits: u16) -> BundleFlags {
        BundleFlags { atomic: bits & 1 != 0, ordered: bits & 2 != 0 }
    }
}

/// ONF_ET_BUNDLE_CONTROL. Bundle properties are checked and dropped (none is defined).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BundleControl {
    pub bundle_id: u32,
    pub kind: BundleControlType,
    pub flags: BundleFlags,
}

/// ONF_ET_BUNDLE_ADD_MESSAGE: `message` is encoded with the outer message's version and xid
/// (the spec requires the inner xid to be the outer one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleAdd {
    pub bundle_id: u32,
    pub flags: BundleFlags,
    pub message: Box<Message>,
}

/// NXT_FLOW_MOD: `flow_mod.cookie`/`cookie_mask` are the cookie match of the nx_match (for an
/// add: the cookie, mask 0); `new_cookie` is the cookie the message sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NxFlowMod {
    pub flow_mod: FlowMod,
    pub new_cookie: u64,
}

fn bad_experimenter(experimenter: u32) -> OfError {
    bad_request(codes::BAD_EXPERIMENTER, format!("experimenter {experimenter:#x}"))
}

fn bad_exp_type(experimenter: u32, exp_type: u32) -> OfError {
    bad_request(codes::BAD_EXP_TYPE, format!("experimenter {experimenter:#x} type {exp_type}"))
}

/// NX_ROLE_OTHER, NX_ROLE_MASTER and NX_ROLE_SLAVE, in this order: OpenFlow 1.2's equal,
/// master and slave.
const NX_ROLES: [ControllerRole; 3] = [ControllerRole::Equal, ControllerRole::Master, ControllerRole::Slave];

fn decode_nx_role(r: &mut Reader) -> Result<ControllerRole, OfError> {
    let number = r.u32()?;
    // OFPRRFC_BAD_ROLE, as Open vSwitch answers it (1.0 has no such error: EPERM there).
    NX_ROLES
        .get(usize::try_from(number).unwrap_or(usize::MAX))
        .copied()
        .ok_or_else(|| OfError::new(ErrorType::RoleRequestFailed, 2, format!("Nicira role {number}")))
}

fn nx_role_number(role: ControllerRole) -> u32 {
    match role {
        ControllerRole::Master => 1,
        ControllerRole::Slave => 2,
        ControllerRole::Equal | ControllerRole::NoChange => 0,
    }
}

fn bad_format(what: &str, value: u32) -> OfError {
    bad_request(codes::EPERM, format!("{what} {value} not supported"))
}

pub(crate) fn decode_experimenter(version: Version, r: &mut Reader, in_bundle: bool) -> Result<Message, OfError> {
    let experimenter = r.u32()?;
    let exp_type = r.u32()?;
    match (experimenter, exp_type) {
        (NICIRA, NXT_SET_FLOW_FORMAT) => Ok(Message::SetFlowFormat(match r.u32()? {
            0 => FlowFormat::OpenFlow10,
            2 => FlowFormat::Nxm,
            other => return Err(bad_format("flow format", other)),
        })),
        (NICIRA, NXT_FLOW_MOD_TABLE_ID) => {
            let set = r.u8()?;
            r.skip(7)?;
            Ok(Message::FlowModTableId(set != 0))
        }
        (NICIRA, NXT_SET_PACKET_IN_FORMAT) => Ok(Message::SetPacketInFormat(match r.u32()? {
            0 => PacketInFormat::Standard,
            1 => PacketInFormat::NxtPacketIn,
            2 => PacketInFormat::NxtPacketIn2,
            other => return Err(bad_format("packet-in format", other)),
        })),
        (NICIRA, NXT_FLOW_MOD) => Ok(Message::NxFlowMod(decode_nx_flow_mod(version, r)?)),
        (NICIRA, NXT_PACKET_IN) => Ok(Message::NxPacketIn(decode_nx_packet_in(r)?)),
        (NICIRA, NXT_SET_ASYNC_CONFIG) => Ok(Message::SetAsync(decode_async(r)?)),
        (NICIRA, NXT_GROUP_MOD) if version == Version::V1_0 => Ok(Message::GroupMod(decode_group_mod_v15(version, r)?)),
        (NICIRA, NXT_ROLE_REQUEST) => Ok(Message::NxRoleRequest(decode_nx_role(r)?)),
        (NICIRA, NXT_ROLE_REPLY) => Ok(Message::NxRoleReply(decode_nx_role(r)?)),
        (NICIRA, NXT_TLV_TABLE_MOD) => {
            let command = match r.u16()? {
                0 => TlvTableCommand::Add,
                1 => TlvTableCommand::Delete,
                2 => TlvTableCommand::Clear,
                other => return Err(OfError::new(ErrorType::TlvTableModFailed, 16, format!("command {other}"))),
            };
            r.skip(6)?;
            Ok(Message::TlvTableMod(TlvTableMod { command, mappings: decode_tlv_maps(r)? }))
        }
        (NICIRA, NXT_TLV_TABLE_REQUEST) => Ok(Message::TlvTableRequest),
        (NICIRA, NXT_TLV_TABLE_REPLY) => {
            let max_option_space = r.u32()?;
            let max_fields = r.u16()?;
            r.skip(10)?;
            Ok(Message::TlvTableReply(TlvTableReply { max_option_space, max_fields, mappings: decode_tlv_maps(r)? }))
        }
        (NICIRA, NXT_FLOW_MONITOR_CANCEL) | (ONF, ONFT_FLOW_MONITOR_CANCEL)
            if monitor_vendor(version, experimenter) =>
        {
            Ok(Message::FlowMonitorCancel(r.u32()?))
        }
        (NICIRA, NXT_FLOW_MONITOR_PAUSED) | (ONF, ONFT_FLOW_MONITOR_PAUSED)
            if monitor_vendor(version, experimenter) =>
        {
            Ok(Message::FlowMonitorPaused)
        }
        (NICIRA, NXT_FLOW_MONITOR_RESUMED) | (ONF, ONFT_FLOW_MONITOR_RESUMED)
            if monitor_vendor(version, experimenter) =>
        {
            Ok(Message::FlowMonitorResumed)
        }
        (NICIRA, _) => Err(bad_exp_type(experimenter, exp_type)),
        (ONF, ONF_ET_BUNDLE_CONTROL | ONF_ET_BUNDLE_ADD_MESSAGE) if version == Version::V1_3 => {
            if in_bundle {
                return Err(bad_request(codes::BAD_TYPE, "a bundle message inside a bundle"));
            }
            if exp_type == ONF_ET_BUNDLE_CONTROL {
                decode_bundle_control(r).map(Message::BundleControl)
            } else {
                decode_bundle_add(version, r).map(Message::BundleAdd)
            }
        }
        (ONF, _) if version >= Version::V1_3 => Err(bad_exp_type(experimenter, exp_type)),
        _ => Err(bad_experimenter(experimenter)),
    }
}

/// Writes the experimenter header and body of a Nicira or ONF message.
pub(crate) fn encode_experimenter(
    version: Version,
    xid: u32,
    message: &Message,
    w: &mut Writer,
) -> Result<(), EncodeError> {
    match message {
        Message::SetFlowFormat(format) => {
            nicira_header(NXT_SET_FLOW_FORMAT, w);
            w.u32(match format {
                FlowFormat::OpenFlow10 => 0,
                FlowFormat::Nxm => 2,
            });
        }
        Message::FlowModTableId(set) => {
            nicira_header(NXT_FLOW_MOD_TABLE_ID, w);
            w.u8(u8::from(*set));
            w.zeros(7);
        }
        Message::SetPacketInFormat(format) => {
            nicira_header(NXT_SET_PACKET_IN_FORMAT, w);
            w.u32(*format as u32);
        }
        Message::NxFlowMod(nx) => {
            nicira_header(NXT_FLOW_MOD, w);
            encode_nx_flow_mod(version, nx, w);
        }
        Message::NxPacketIn(packet_in) => {
            nicira_header(NXT_PACKET_IN, w);
            encode_nx_packet_in(packet_in, w);
        }
        Message::SetAsync(config) => {
            nicira_header(NXT_SET_ASYNC_CONFIG, w);
            encode_async(config, w);
        }
        Message::GroupMod(group_mod) => {
            nicira_header(NXT_GROUP_MOD, w);
            encode_group_mod_v15(version, group_mod, w);
        }
        Message::NxRoleRequest(role) => {
            nicira_header(NXT_ROLE_REQUEST, w);
            w.u32(nx_role_number(*role));
        }
        Message::NxRoleReply(role) => {
            nicira_header(NXT_ROLE_REPLY, w);
            w.u32(nx_role_number(*role));
        }
        Message::TlvTableMod(table_mod) => {
            nicira_header(NXT_TLV_TABLE_MOD, w);
            w.u16(match table_mod.command {
                TlvTableCommand::Add => 0,
                TlvTableCommand::Delete => 1,
                TlvTableCommand::Clear => 2,
            });
            w.zeros(6);
            encode_tlv_maps(&table_mod.mappings, w);
        }
        Message::TlvTableRequest => nicira_header(NXT_TLV_TABLE_REQUEST, w),
        Message::TlvTableReply(reply) => {
            nicira_header(NXT_TLV_TABLE_REPLY, w);
            w.u32(reply.max_option_space);
            w.u16(reply.max_fields);
            w.zeros(10);
            encode_tlv_maps(&reply.mappings, w);
        }
        Message::FlowMonitorCancel(id) => {
            monitor_message_header(version, [NXT_FLOW_MONITOR_CANCEL, ONFT_FLOW_MONITOR_CANCEL], w);
            w.u32(*id);
        }
        Message::FlowMonitorPaused => {
            monitor_message_header(version, [NXT_FLOW_MONITOR_PAUSED, ONFT_FLOW_MONITOR_PAUSED], w);
        }
        Message::FlowMonitorResumed => {
            monitor_message_header(version, [NXT_FLOW_MONITOR_RESUMED, ONFT_FLOW_MONITOR_RESUMED], w);
        }
        Message::BundleControl(control) => {
            w.u32(ONF);
            w.u32(ONF_ET_BUNDLE_CONTROL);
            encode_bundle_control(control, w);
        }
        Message::BundleAdd(add) => {
            w.u32(ONF);
            w.u32(ONF_ET_BUNDLE_ADD_MESSAGE);
            encode_bundle_add(version, xid, add, w)?;
        }
        _ => {}
    }
    Ok(())
}

/// The body of a bundle control message (1.4's OFPT_BUNDLE_CONTROL, or the ONF extension's
/// after its experimenter header).
pub(crate) fn encode_bundle_control(control: &BundleControl, w: &mut Writer) {
    w.u32(control.bundle_id);
    w.u16(control.kind as u16);
    w.u16(control.flags.wire());
}

/// The body of a bundle add message, its inner message padded to 8.
pub(crate) fn encode_bundle_add(
    version: Version,
    xid: u32,
    add: &BundleAdd,
    w: &mut Writer,
) -> Result<(), EncodeError> {
    w.u32(add.bundle_id);
    w.zeros(2);
    w.u16(add.flags.wire());
    let start = w.len();
    w.bytes(&encode(version, xid, &add.message)?);
    w.pad_to_8(start);
    Ok(())
}

/// `struct nx_tlv_map`s to the end: class, type, length, index (16 bits), 2 bytes of padding.
fn decode_tlv_maps(r: &mut Reader) -> Result<Vec<TlvMapping>, OfError> {
    let mut mappings = Vec::new();
    while !r.is_empty() {
        let class = r.u16()?;
        let kind = r.u8()?;
        let len = r.u8()?;
        let index = r.u16()?;
        r.skip(2)?;
        // (An index that does not fit is refused by the map as NXTTMFC_BAD_FIELD_IDX.)
        let index = u8::try_from(index).unwrap_or(u8::MAX);
        mappings.push(TlvMapping { class, kind, len, index, offset: 0 });
    }
    Ok(mappings)
}

fn encode_tlv_maps(mappings: &[TlvMapping], w: &mut Writer) {
    for m in mappings {
        w.u16(m.class);
        w.u8(m.kind);
        w.u8(m.len);
        w.u16(u16::from(m.index));
        w.zeros(2);
    }
}

fn nicira_header(subtype: u32, w: &mut Writer) {
    w.u32(NICIRA);
    w.u32(subtype);
}

/// The flow monitor messages are Nicira's in 1.0 and ONF's in 1.3 (as Open vSwitch has them).
fn monitor_vendor(version: Version, experimenter: u32) -> bool {
    match version {
        Version::V1_0 => experimenter == NICIRA,
        Version::V1_3 => experimenter == ONF,
        Version::V1_4 | Version::V1_5 => false,
    }
}

/// The experimenter header of a flow monitor message: `[1.0 subtype, 1.3 subtype]`.
fn monitor_message_header(version: Version, [nicira, onf]: [u32; 2], w: &mut Writer) {
    match version {
        Version::V1_0 => nicira_header(nicira, w),
        Version::V1_3 | Version::V1_4 | Version::V1_5 => {
            w.u32(ONF);
            w.u32(onf);
        }
    }
}

pub(crate) fn decode_bundle_control(r: &mut Reader) -> Result<BundleControl, OfError> {
    use BundleControlType::*;
    let bundle_id = r.u32()?;
    let number = r.u16()?;
    let kind =
        [OpenRequest, OpenReply, CloseRequest, CloseReply, CommitRequest, CommitReply, DiscardRequest, DiscardReply]
            .get(usize::from(number))
            .copied()
            .ok_or_else(|| bad_format("bundle control type", u32::from(number)))?;
    let flags = BundleFlags::from_wire(r.u16()?);
    skip_properties(r)?;
    Ok(BundleControl { bundle_id, kind, flags })
}

pub(crate) fn decode_bundle_add(version: Version, r: &mut Reader) -> Result<BundleAdd, OfError> {
    let bundle_id = r.u32()?;
    r.skip(2)?;
    let flags = BundleFlags::from_wire(r.u16()?);
    let inner_len =
        usize::from(u16::from_be_bytes(r.peek(4)?.get(2..4).and_then(|b| b.try_into().ok()).unwrap_or_default()));
    let inner = r.bytes(inner_len)?;
    let (header, message) = decode_nested(inner, true).map_err(|error| error.error)?;
    if header.version != version.wire() {
        return Err(bad_request(codes::BAD_VERSION, "bundled message of another version"));
    }
    r.skip(((8 - inner_len % 8) % 8).min(r.remaining()))?;
    skip_properties(r)?;
    Ok(BundleAdd { bundle_id, flags, message: Box::new(message) })
}

/// Properties (type, length, padding to 8) of a message that defines none the switch uses:
/// checked and dropped.
pub(crate) fn skip_properties(r: &mut Reader) -> Result<(), OfError> {
    while !r.is_empty() {
        r.skip(2)?;
        let length = usize::from(r.u16()?);
        let body = length.checked_sub(4).ok_or_else(|| OfError::bad_len(format!("bundle property length {length}")))?;
        r.skip(body)?;
        r.skip(((8 - length % 8) % 8).min(r.remaining()))?;
    }
    Ok(())
}

/// An nx_match of `len` bytes plus its padding to 8: the match, and the cookie match
/// (value, mask) of an NXM_NX_COOKIE[_W] entry (0/0 without).
fn decode_nx_match_and_cookie(r: &mut Reader, len: usize) -> Result<(Match, u64, u64), OfError> {
    let bytes = r.bytes(len)?;
    r.skip((8 - len % 8) % 8)?;
    let mut tlvs = Reader::new(bytes);
    let mut others = Vec::with_capacity(len);
    let (mut cookie, mut cookie_mask) = (0, 0);
    while !tlvs.is_empty() {
        let header = tlvs.u32()?;
        let payload = tlvs.bytes(usize::from((header & 0xff) as u8))?;
        let mut payload_reader = Reader::new(payload);
        match header {
            NXM_NX_COOKIE => (cookie, cookie_mask) = (payload_reader.u64()?, u64::MAX),
            NXM_NX_COOKIE_W => (cookie, cookie_mask) = (payload_reader.u64()?, payload_reader.u64()?),
            _ => {
                others.extend_from_slice(&header.to_be_bytes());
                others.extend_from_slice(payload);
            }
        }
    }
    let matches = decode_nx_match(&mut Reader::new(&others), others.len())?;
    Ok((matches, cookie & cookie_mask, cookie_mask))
}

/// Writes the nx_match with the cookie match (if the mask is not 0) and returns its length
/// (without the padding to 8, which the caller adds).
fn encode_nx_match_and_cookie(matches: &Match, cookie: u64, cookie_mask: u64, w: &mut Writer) -> usize {
    let mut length = encode_nx_match(matches, w);
    if cookie_mask == u64::MAX {
        w.u32(NXM_NX_COOKIE);
        w.u64(cookie);
        length += 12;
    } else if cookie_mask != 0 {
        w.u32(NXM_NX_COOKIE_W);
        w.u64(cookie);
        w.u64(cookie_mask);
        length += 20;
    }
    length
}

fn decode_nx_flow_mod(version: Version, r: &mut Reader) -> Result<NxFlowMod, OfError> {
    let new_cookie = r.u64()?;
    let [table_id, command] = r.array()?;
    let command = FlowModCommand::from_wire(version, command)?;
    let (idle_timeout, hard_timeout, priority) = (r.u16()?, r.u16()?, r.u16()?);
    let buffer_id = r.u32()?;
    let out_port = read_port(Version::V1_0, r, |_| OfError::bad_len("unreachable"))?;
    let flags = FlowModFlags::from_wire(Version::V1_0, r.u16()?)?;
    let match_len = usize::from(r.u16()?);
    r.skip(6)?;
    let (matches, cookie, cookie_mask) = decode_nx_match_and_cookie(r, match_len)?;
    let length = r.remaining();
    let instructions = decode_instructions(version, r, length)?;
    let flow_mod = FlowMod {
        cookie,
        cookie_mask,
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
    };
    Ok(NxFlowMod { flow_mod, new_cookie })
}

fn encode_nx_flow_mod(version: Version, nx: &NxFlowMod, w: &mut Writer) {
    let fm = &nx.flow_mod;
    w.u64(nx.new_cookie);
    w.u8(fm.table_id);
    w.u8(fm.command.wire());
    w.u16(fm.idle_timeout);
    w.u16(fm.hard_timeout);
    w.u16(fm.priority);
    w.u32(fm.buffer_id);
    write_port(Version::V1_0, fm.out_port, w);
    w.u16(fm.flags.wire(Version::V1_0));
    let match_len_at = w.len();
    w.u16(0);
    w.zeros(6);
    let start = w.len();
    let match_len = encode_nx_match_and_cookie(&fm.matches, fm.cookie, fm.cookie_mask, w);
    w.patch_u16(match_len_at, len16(match_len));
    w.pad_to_8(start);
    encode_rule_instructions(version, &fm.instructions, &fm.matches, w);
}

fn decode_nx_packet_in(r: &mut Reader) -> Result<PacketIn, OfError> {
    let buffer_id = r.u32()?;
    let total_len = r.u16()?;
    let reason = packet_in_reason_from_wire(Version::V1_0, r.u8()?)?;
    let table_id = r.u8()?;
    let cookie = r.u64()?;
    let match_len = usize::from(r.u16()?);
    r.skip(6)?;
    let (matches, _, _) = decode_nx_match_and_cookie(r, match_len)?;
    r.skip(2)?;
    Ok(PacketIn { buffer_id, total_len, reason, table_id, cookie, matches, data: r.rest().to_vec() })
}

fn encode_nx_packet_in(packet_in: &PacketIn, w: &mut Writer) {
    w.u32(packet_in.buffer_id);
    w.u16(packet_in.total_len);
    w.u8(packet_in_reason_wire(Version::V1_0, packet_in.reason));
    w.u8(packet_in.table_id);
    w.u64(packet_in.cookie);
    let match_len_at = w.len();
    w.u16(0);
    w.zeros(6);
    let start = w.len();
    let match_len = encode_nx_match(&packet_in.matches, w);
    w.patch_u16(match_len_at, len16(match_len));
    w.pad_to_8(start);
    w.zeros(2);
    w.bytes(&packet_in.data);
}

/// The vendor stats header after the stats type and flags: in 1.0 Nicira's vendor, subtype,
/// padding; in 1.3 the ONF experimenter and its type (only ONFST_FLOW_MONITOR, returned as
/// the Nicira subtype it stands for).
fn read_vendor_stats_header(version: Version, r: &mut Reader) -> Result<u32, OfError> {
    let vendor = r.u32()?;
    match (version, vendor) {
        (Version::V1_0, NICIRA) => {
            let subtype = r.u32()?;
            r.skip(4)?;
            Ok(subtype)
        }
        (Version::V1_3, ONF) => match r.u32()? {
            ONFST_FLOW_MONITOR => Ok(NXST_FLOW_MONITOR),
            exp_type => Err(bad_exp_type(vendor, exp_type)),
        },
        _ => Err(bad_experimenter(vendor)),
    }
}

/// The header of a flow monitor request or reply: NXST_FLOW_MONITOR in 1.0,
/// ONFST_FLOW_MONITOR in 1.3.
fn monitor_stats_header(version: Version, w: &mut Writer) {
    match version {
        Version::V1_0 => vendor_stats_header(NXST_FLOW_MONITOR, w),
        Version::V1_3 | Version::V1_4 | Version::V1_5 => {
            w.u32(ONF);
            w.u32(ONFST_FLOW_MONITOR);
        }
    }
}

pub(crate) fn decode_stats_request(version: Version, r: &mut Reader) -> Result<RequestBody, OfError> {
    let subtype = read_vendor_stats_header(version, r)?;
    match subtype {
        NXST_FLOW | NXST_AGGREGATE => {}
        NXST_GROUP => return Ok(RequestBody::Group(pad_after(r.u32()?, r, 4)?)),
        NXST_GROUP_DESC => return Ok(RequestBody::GroupDesc(pad_after(r.u32()?, r, 4)?)),
        NXST_GROUP_FEATURES => return Ok(RequestBody::GroupFeatures),
        NXST_FLOW_MONITOR => return Ok(RequestBody::FlowMonitor(monitor::decode_requests(version, r)?)),
        _ => return Err(bad_exp_type(NICIRA, subtype)),
    }
    let out_port = read_port(Version::V1_0, r, |_| OfError::bad_len("unreachable"))?;
    let match_len = usize::from(r.u16()?);
    let table_id = r.u8()?;
    r.skip(3)?;
    let (matches, cookie, cookie_mask) = decode_nx_match_and_cookie(r, match_len)?;
    let request = FlowStatsRequest { table_id, out_port, out_group: GROUP_ANY, cookie, cookie_mask, matches };
    Ok(if subtype == NXST_FLOW { RequestBody::NxFlow(request) } else { RequestBody::NxAggregate(request) })
}

/// The vendor stats header: Nicira, `subtype`, 4 bytes of padding.
fn vendor_stats_header(subtype: u32, w: &mut Writer) {
    w.u32(NICIRA);
    w.u32(subtype);
    w.zeros(4);
}

/// A request `multipart` sends as Nicira vendor stats in 1.0: the flow and aggregate stats
/// with an nx_match, the group multiparts.
pub(crate) fn encode_stats_request(version: Version, body: &RequestBody, w: &mut Writer) {
    let (subtype, request) = match body {
        RequestBody::FlowMonitor(requests) => {
            monitor_stats_header(version, w);
            return monitor::encode_requests(version, requests, w);
        }
        RequestBody::NxFlow(request) => (NXST_FLOW, request),
        RequestBody::NxAggregate(request) => (NXST_AGGREGATE, request),
        RequestBody::Group(id) | RequestBody::GroupDesc(id) => {
            let subtype = if matches!(body, RequestBody::Group(_)) { NXST_GROUP } else { NXST_GROUP_DESC };
            vendor_stats_header(subtype, w);
            w.u32(*id);
            w.zeros(4);
            return;
        }
        RequestBody::GroupFeatures => return vendor_stats_header(NXST_GROUP_FEATURES, w),
        _ => return,
    };
    vendor_stats_header(subtype, w);
    write_port(Version::V1_0, request.out_port, w);
    let match_len_at = w.len();
    w.u16(0);
    w.u8(request.table_id);
    w.zeros(3);
    let start = w.len();
    let match_len = encode_nx_match_and_cookie(&request.matches, request.cookie, request.cookie_mask, w);
    w.patch_u16(match_len_at, len16(match_len));
    w.pad_to_8(start);
}

pub(crate) fn decode_stats_reply(version: Version, r: &mut Reader) -> Result<ReplyBody, OfError> {
    match read_vendor_stats_header(version, r)? {
        NXST_FLOW => Ok(ReplyBody::NxFlow(decode_all(r, decode_nx_flow_stats)?)),
        NXST_AGGREGATE => Ok(ReplyBody::NxAggregate(decode_aggregate(r)?)),
        NXST_GROUP => Ok(ReplyBody::Group(decode_all(r, decode_group_stats)?)),
        NXST_GROUP_DESC => Ok(ReplyBody::GroupDesc(decode_all(r, |r| decode_group_desc_v15(version, r))?)),
        NXST_GROUP_FEATURES => Ok(ReplyBody::GroupFeatures(decode_group_features(r)?)),
        NXST_FLOW_MONITOR => Ok(ReplyBody::FlowMonitor(monitor::decode_updates(version, r)?)),
        subtype => Err(bad_exp_type(NICIRA, subtype)),
    }
}

/// A reply `multipart` sends as Nicira vendor stats in 1.0 (group stats and features in 1.3's
/// layout, group descriptions in 1.5's).
pub(crate) fn encode_stats_reply(version: Version, body: &ReplyBody, w: &mut Writer) {
    match body {
        ReplyBody::NxFlow(flows) => {
            vendor_stats_header(NXST_FLOW, w);
            flows.iter().for_each(|flow| encode_nx_flow_stats(flow, w));
        }
        ReplyBody::NxAggregate(stats) => {
            vendor_stats_header(NXST_AGGREGATE, w);
            encode_aggregate(stats, w);
        }
        ReplyBody::Group(groups) => {
            vendor_stats_header(NXST_GROUP, w);
            groups.iter().for_each(|group| encode_group_stats(group, w));
        }
        ReplyBody::GroupDesc(groups) => {
            vendor_stats_header(NXST_GROUP_DESC, w);
            groups.iter().for_each(|group| encode_group_desc_v15(version, group, w));
        }
        ReplyBody::GroupFeatures(features) => {
            vendor_stats_header(NXST_GROUP_FEATURES, w);
            encode_group_features(features, w);
        }
        ReplyBody::FlowMonitor(updates) => {
            monitor_stats_header(version, w);
            monitor::encode_updates(version, updates, w);
        }
        _ => {}
    }
}

fn decode_nx_flow_stats(r: &mut Reader) -> Result<FlowStats, OfError> {
    let length = r.u16()?;
    let mut e = entry_body(r, length, 48)?;
    let table_id = e.u8()?;
    e.skip(1)?;
    let (duration_sec, duration_nsec) = (e.u32()?, e.u32()?);
    let (priority, idle_timeout, hard_timeout) = (e.u16()?, e.u16()?, e.u16()?);
    let match_len = usize::from(e.u16()?);
    let (idle_age, hard_age) = (e.u16()?, e.u16()?);
    let (cookie, packet_count, byte_count) = (e.u64()?, e.u64()?, e.u64()?);
    let (matches, _, _) = decode_nx_match_and_cookie(&mut e, match_len)?;
    let length = e.remaining();
    let instructions = decode_instructions(Version::V1_0, &mut e, length)?;
    Ok(FlowStats {
        table_id,
        duration_sec,
        duration_nsec,
        priority,
        idle_timeout,
        hard_timeout,
        flags: FlowModFlags::default(),
        cookie,
        packet_count,
        byte_count,
        idle_age,
        hard_age,
        matches,
        instructions,
    })
}

fn encode_nx_flow_stats(flow: &FlowStats, w: &mut Writer) {
    let start = w.len();
    w.u16(0);
    w.u8(flow.table_id);
    w.u8(0);
    w.u32(flow.duration_sec);
    w.u32(flow.duration_nsec);
    w.u16(flow.priority);
    w.u16(flow.idle_timeout);
    w.u16(flow.hard_timeout);
    let match_len_at = w.len();
    w.u16(0);
    w.u16(flow.idle_age);
    w.u16(flow.hard_age);
    w.u64(flow.cookie);
    w.u64(flow.packet_count);
    w.u64(flow.byte_count);
    let match_start = w.len();
    let match_len = encode_nx_match(&flow.matches, w);
    w.patch_u16(match_len_at, len16(match_len));
    w.pad_to_8(match_start);
    encode_rule_instructions(Version::V1_0, &flow.instructions, &flow.matches, w);
    w.patch_len(start, start);
}
