//! The flow monitor wire format of Open vSwitch's extensions: NXST_FLOW_MONITOR (Nicira vendor
//! stats, subtype 2) in OpenFlow 1.0 and ONFST_FLOW_MONITOR (ONF experimenter multipart, type
//! 1870) in 1.3, with the same bodies but for the match (1.0: an nx_match; 1.3: an OXM
//! ofp_match) and the actions (1.0 actions; 1.3 instructions). The requests
//! (`nx_flow_monitor_request` / `onf_flow_monitor_request`), the updates of the replies
//! (`nx_flow_update_full` / `nx_flow_update_abbrev`) and the cancel message's body.

use super::{FlagBits, FlowUpdate, FullUpdate, MonitorCommand, MonitorFlags, MonitorRequest, UpdateEvent};
use crate::openflow::actions::{decode_instructions, encode_rule_instructions};
use crate::openflow::message::{bad_request, FlowRemovedReason};
use crate::openflow::oxm::{decode_match, decode_nx_match, encode_match, encode_nx_match};
use crate::openflow::wire::{len16, read_port, write_port, ErrorType, OfError, Reader, Version, Writer};

/// NXFMF_* bits.
const FLAG_BITS: FlagBits =
    FlagBits { initial: 1 << 0, add: 1 << 1, delete: 1 << 2, modify: 1 << 3, actions: 1 << 4, own: 1 << 5 };

/// NXFME_* events.
const EVENT_ADDED: u16 = 0;
const EVENT_DELETED: u16 = 1;
const EVENT_MODIFIED: u16 = 2;
const EVENT_ABBREV: u16 = 3;

/// The fixed part of nx_flow_update_full.
const FULL_LEN: usize = 24;

/// Open vSwitch's codes of OFPMOFC_MONITOR_EXISTS, BAD_FLAGS and UNKNOWN_MONITOR as Nicira
/// experimenter errors of 1.3.
pub mod code {
    pub const MONITOR_EXISTS: u16 = 6;
    pub const BAD_FLAGS: u16 = 7;
    pub const UNKNOWN_MONITOR: u16 = 8;
}

fn flags_from_wire(bits: u16) -> Result<MonitorFlags, OfError> {
    MonitorFlags::from_bits(bits, &FLAG_BITS)
        .ok_or_else(|| OfError::new(ErrorType::FlowMonitorFailed, code::BAD_FLAGS, format!("monitor flags {bits:#x}")))
}

fn must_be_zero(r: &mut Reader, n: usize) -> Result<(), OfError> {
    if r.bytes(n)?.iter().any(|byte| *byte != 0) {
        return Err(bad_request(bad_request::EPERM, "flow monitor request padding is not zero"));
    }
    Ok(())
}

/// The monitor requests of a request body (zero or more, to the end): all adds.
pub fn decode_requests(version: Version, r: &mut Reader) -> Result<Vec<MonitorRequest>, OfError> {
    let mut requests = Vec::new();
    while !r.is_empty() {
        let id = r.u32()?;
        let flags = flags_from_wire(r.u16()?)?;
        let request = match version {
            Version::V1_0 => {
                let out_port = read_port(version, r, |_| OfError::bad_len("unreachable"))?;
                let match_len = usize::from(r.u16()?);
                let table_id = r.u8()?;
                must_be_zero(r, 5)?;
                let matches = decode_nx_match(r, match_len)?;
                r.skip((8 - match_len % 8) % 8)?;
                MonitorRequest { id, command: MonitorCommand::Add, flags, table_id, out_port, out_group: None, matches }
            }
            Version::V1_3 | Version::V1_4 | Version::V1_5 => {
                let _match_len = r.u16()?;
                let out_port = read_port(version, r, |port| {
                    bad_request(bad_request::BAD_PORT, format!("flow monitor out_port {port:#x}"))
                })?;
                let table_id = r.u8()?;
                must_be_zero(r, 3)?;
                let matches = decode_match(version, r)?;
                MonitorRequest { id, command: MonitorCommand::Add, flags, table_id, out_port, out_group: None, matches }
            }
        };
        requests.push(request);
    }
    Ok(requests)
}

/// The requests, as adds (the format has no other command, and no out_group: `fits`).
pub fn encode_requests(version: Version, requests: &[MonitorRequest], w: &mut Writer) {
    for request in requests {
        w.u32(request.id);
        w.u16(request.flags.to_bits(&FLAG_BITS));
        match version {
            Version::V1_0 => {
                write_port(version, request.out_port, w);
                let match_len_at = w.len();
                w.u16(0);
                w.u8(request.table_id);
                w.zeros(5);
                let start = w.len();
                let match_len = encode_nx_match(&request.matches, w);
                w.patch_u16(match_len_at, len16(match_len));
                w.pad_to_8(start);
            }
            Version::V1_3 | Version::V1_4 | Version::V1_5 => {
                let match_len_at = w.len();
                w.u16(0);
                write_port(version, request.out_port, w);
                w.u8(request.table_id);
                w.zeros(3);
                let match_len = encode_ofp_match(&request.matches, w);
                w.patch_u16(match_len_at, match_len);
            }
        }
    }
}

/// Writes a 1.3 ofp_match (padded) and returns its length without the padding.
fn encode_ofp_match(matches: &crate::flow::Match, w: &mut Writer) -> u16 {
    let start = w.len();
    encode_match(Version::V1_3, matches, w);
    let written = w.as_slice().get(start + 2..start + 4).unwrap_or_default();
    u16::from_be_bytes(written.try_into().unwrap_or_default())
}

fn reason_wire(reason: FlowRemovedReason) -> u16 {
    match reason {
        FlowRemovedReason::IdleTimeout => 0,
        FlowRemovedReason::HardTimeout => 1,
        FlowRemovedReason::Delete => 2,
        FlowRemovedReason::GroupDelete => 3,
        FlowRemovedReason::MeterDelete => 4,
    }
}

fn reason_from_wire(number: u16) -> Result<FlowRemovedReason, OfError> {
    match number {
        0 => Ok(FlowRemovedReason::IdleTimeout),
        1 => Ok(FlowRemovedReason::HardTimeout),
        2 => Ok(FlowRemovedReason::Delete),
        3 => Ok(FlowRemovedReason::GroupDelete),
        other => Err(bad_request(bad_request::EPERM, format!("flow removed reason {other}"))),
    }
}

/// The updates of a reply body, to the end.
pub fn decode_updates(version: Version, r: &mut Reader) -> Result<Vec<FlowUpdate>, OfError> {
    let mut updates = Vec::new();
    while !r.is_empty() {
        let length = usize::from(u16::from_be_bytes(r.peek(2)?.try_into().unwrap_or_default()));
        if length % 8 != 0 || length < 8 {
            return Err(OfError::bad_len(format!("flow update length {length}")));
        }
        let mut e = r.sub(length)?;
        e.skip(2)?;
        let event = e.u16()?;
        if event == EVENT_ABBREV {
            if length != 8 {
                return Err(OfError::bad_len(format!("abbreviated flow update length {length}")));
            }
            updates.push(FlowUpdate::Abbrev { xid: e.u32()? });
            continue;
        }
        if length < FULL_LEN {
            return Err(OfError::bad_len(format!("flow update length {length}")));
        }
        let reason = e.u16()?;
        let event = match event {
            EVENT_ADDED => UpdateEvent::Added,
            EVENT_DELETED => UpdateEvent::Deleted(reason_from_wire(reason)?),
            EVENT_MODIFIED => UpdateEvent::Modified,
            other => return Err(bad_request(bad_request::EPERM, format!("flow update event {other}"))),
        };
        let (priority, idle_timeout, hard_timeout) = (e.u16()?, e.u16()?, e.u16()?);
        let match_len = usize::from(e.u16()?);
        let table_id = e.u8()?;
        e.skip(1)?;
        let cookie = e.u64()?;
        let matches = match version {
            Version::V1_0 => {
                let matches = decode_nx_match(&mut e, match_len)?;
                e.skip((8 - match_len % 8) % 8)?;
                matches
            }
            Version::V1_3 | Version::V1_4 | Version::V1_5 => decode_match(version, &mut e)?,
        };
        let rest = e.remaining();
        // No actions on the wire: none asked for, or none the rule has (the same to a reader).
        let instructions =
            (rest > 0).then(|| decode_instructions(version, &mut e, rest)).transpose()?.filter(|i| !i.is_drop());
        updates.push(FlowUpdate::Full(Box::new(FullUpdate {
            event,
            table_id,
            priority,
            idle_timeout,
            hard_timeout,
            cookie,
            matches,
            instructions,
        })));
    }
    Ok(updates)
}

/// The updates but PAUSED and RESUMED, messages of their own in this format (`fits`).
pub fn encode_updates(version: Version, updates: &[FlowUpdate], w: &mut Writer) {
    for update in updates {
        let start = w.len();
        match update {
            FlowUpdate::Abbrev { xid } => {
                w.u16(0);
                w.u16(EVENT_ABBREV);
                w.u32(*xid);
            }
            FlowUpdate::Full(full) => {
                w.u16(0);
                encode_full(version, full, w);
            }
            FlowUpdate::Paused | FlowUpdate::Resumed => continue,
        }
        w.patch_len(start, start);
    }
}

/// Whether the format has `requests` (adds without out_group) and `updates` (no PAUSED or
/// RESUMED).
pub fn fits(requests: &[MonitorRequest], updates: &[FlowUpdate]) -> bool {
    requests.iter().all(|request| request.command == MonitorCommand::Add && request.out_group.is_none())
        && !updates.iter().any(|update| matches!(update, FlowUpdate::Paused | FlowUpdate::Resumed))
}

fn encode_full(version: Version, full: &FullUpdate, w: &mut Writer) {
    let (event, reason) = match full.event {
        UpdateEvent::Initial | UpdateEvent::Added => (EVENT_ADDED, 0),
        UpdateEvent::Deleted(reason) => (EVENT_DELETED, reason_wire(reason)),
        UpdateEvent::Modified => (EVENT_MODIFIED, 0),
    };
    w.u16(event);
    w.u16(reason);
    w.u16(full.priority);
    w.u16(full.idle_timeout);
    w.u16(full.hard_timeout);
    let match_len_at = w.len();
    w.u16(0);
    w.u8(full.table_id);
    w.u8(0);
    w.u64(full.cookie);
    let match_len = match version {
        Version::V1_0 => {
            let start = w.len();
            let len = len16(encode_nx_match(&full.matches, w));
            w.pad_to_8(start);
            len
        }
        Version::V1_3 | Version::V1_4 | Version::V1_5 => encode_ofp_match(&full.matches, w),
    };
    w.patch_u16(match_len_at, match_len);
    if let Some(instructions) = &full.instructions {
        encode_rule_instructions(version, instructions, &full.matches, w);
    }
}
