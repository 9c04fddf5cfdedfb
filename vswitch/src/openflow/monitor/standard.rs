//! The flow monitor wire format of OpenFlow 1.4 and 1.5 (OFPMP_FLOW_MONITOR, multipart type 16):
//! the requests (`ofp14_flow_monitor_request`, which add, modify or delete a monitor) and the
//! updates of the replies (`ofp_flow_update_full`, `_abbrev`, and `_paused` for PAUSED and
//! RESUMED), with an OXM match and instructions; checked as Open vSwitch 3.1 checks them.

use super::{FlagBits, FlowUpdate, FullUpdate, MonitorCommand, MonitorFlags, MonitorRequest, UpdateEvent};
use crate::flow::OfPort;
use crate::openflow::actions::{decode_instructions, encode_rule_instructions};
use crate::openflow::message::{bad_request, FlowRemovedReason, GROUP_ANY};
use crate::openflow::oxm::{decode_match, encode_match};
use crate::openflow::wire::{read_port, write_port, ErrorType, OfError, Reader, Version, Writer};

/// OFPFMF_* bits. NO_ABBREV (1 << 5) is not among them: Open vSwitch refuses it, and reads
/// ONLY_OWN as Nicira's "own" (the connection's own changes in full).
const FLAG_BITS: FlagBits =
    FlagBits { initial: 1 << 0, add: 1 << 1, delete: 1 << 2, modify: 1 << 3, actions: 1 << 4, own: 1 << 6 };

/// OFPFMC_* commands.
const COMMAND_ADD: u8 = 0;
const COMMAND_MODIFY: u8 = 1;
const COMMAND_DELETE: u8 = 2;

/// OFPFME_* events.
const EVENT_INITIAL: u16 = 0;
const EVENT_ADDED: u16 = 1;
const EVENT_REMOVED: u16 = 2;
const EVENT_MODIFIED: u16 = 3;
const EVENT_ABBREV: u16 = 4;
const EVENT_PAUSED: u16 = 5;
const EVENT_RESUMED: u16 = 6;

/// The fixed part of ofp14_flow_monitor_request and of ofp_flow_update_full.
const REQUEST_LEN: usize = 16;
const FULL_LEN: usize = 24;

/// OFPMOFC_* codes of OFPET_FLOW_MONITOR_FAILED (16).
pub mod code {
    pub const MONITOR_EXISTS: u16 = 1;
    pub const UNKNOWN_MONITOR: u16 = 3;
    pub const BAD_COMMAND: u16 = 4;
    pub const BAD_FLAGS: u16 = 5;
}

fn failed(code: u16, reason: String) -> OfError {
    OfError::new(ErrorType::FlowMonitorFailed, code, reason)
}

fn flags_from_wire(bits: u16) -> Result<MonitorFlags, OfError> {
    MonitorFlags::from_bits(bits, &FLAG_BITS).ok_or_else(|| failed(code::BAD_FLAGS, format!("monitor flags {bits:#x}")))
}

/// The monitor requests of a request body (zero or more, to the end). A delete has only its id
/// and table (the rest is not read; its match must be there); an unknown command is
/// OFPMOFC_BAD_COMMAND (Open vSwitch ignores it).
pub fn decode_requests(version: Version, r: &mut Reader) -> Result<Vec<MonitorRequest>, OfError> {
    let mut requests = Vec::new();
    while !r.is_empty() {
        if r.remaining() < REQUEST_LEN {
            return Err(OfError::bad_len(format!("flow monitor request of {} bytes", r.remaining())));
        }
        let id = r.u32()?;
        let out_port_at = r.bytes(4)?;
        let out_group = r.u32()?;
        let flags = r.u16()?;
        let table_id = r.u8()?;
        let command = r.u8()?;
        let request = if command == COMMAND_DELETE {
            let matches = decode_match(version, r)?;
            MonitorRequest {
                id,
                command: MonitorCommand::Delete,
                flags: MonitorFlags::default(),
                table_id,
                out_port: OfPort::NONE,
                out_group: None,
                matches,
            }
        } else {
            let flags = flags_from_wire(flags)?;
            let command = match command {
                COMMAND_ADD => MonitorCommand::Add,
                COMMAND_MODIFY => MonitorCommand::Modify,
                other => return Err(failed(code::BAD_COMMAND, format!("flow monitor command {other}"))),
            };
            let out_port = read_port(version, &mut Reader::new(out_port_at), |port| {
                bad_request(bad_request::BAD_PORT, format!("flow monitor out_port {port:#x}"))
            })?;
            let out_group = (out_group != GROUP_ANY).then_some(out_group);
            let matches = decode_match(version, r)?;
            MonitorRequest { id, command, flags, table_id, out_port, out_group, matches }
        };
        requests.push(request);
    }
    Ok(requests)
}

pub fn encode_requests(version: Version, requests: &[MonitorRequest], w: &mut Writer) {
    for request in requests {
        w.u32(request.id);
        if request.command == MonitorCommand::Delete {
            // As Open vSwitch cancels: no port, group or flags.
            w.zeros(10);
            w.u8(request.table_id);
            w.u8(COMMAND_DELETE);
            encode_match(version, &request.matches, w);
            continue;
        }
        write_port(version, request.out_port, w);
        w.u32(request.out_group.unwrap_or(GROUP_ANY));
        w.u16(request.flags.to_bits(&FLAG_BITS));
        w.u8(request.table_id);
        w.u8(if request.command == MonitorCommand::Modify { COMMAND_MODIFY } else { COMMAND_ADD });
        encode_match(version, &request.matches, w);
    }
}

fn reason_wire(reason: FlowRemovedReason) -> u8 {
    match reason {
        FlowRemovedReason::IdleTimeout => 0,
        FlowRemovedReason::HardTimeout => 1,
        FlowRemovedReason::Delete => 2,
        FlowRemovedReason::GroupDelete => 3,
        FlowRemovedReason::MeterDelete => 4,
    }
}

fn reason_from_wire(number: u8) -> Result<FlowRemovedReason, OfError> {
    match number {
        0 => Ok(FlowRemovedReason::IdleTimeout),
        1 => Ok(FlowRemovedReason::HardTimeout),
        2 => Ok(FlowRemovedReason::Delete),
        3 => Ok(FlowRemovedReason::GroupDelete),
        4 => Ok(FlowRemovedReason::MeterDelete),
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
        let short = matches!(event, EVENT_ABBREV | EVENT_PAUSED | EVENT_RESUMED);
        if short && length != 8 || !short && length < FULL_LEN {
            return Err(OfError::bad_len(format!("flow update of event {event}: length {length}")));
        }
        let (table_id, reason) = match event {
            EVENT_ABBREV => {
                updates.push(FlowUpdate::Abbrev { xid: e.u32()? });
                continue;
            }
            EVENT_PAUSED | EVENT_RESUMED => {
                updates.push(if event == EVENT_PAUSED { FlowUpdate::Paused } else { FlowUpdate::Resumed });
                continue;
            }
            _ => (e.u8()?, e.u8()?),
        };
        let event = match event {
            EVENT_INITIAL => UpdateEvent::Initial,
            EVENT_ADDED => UpdateEvent::Added,
            EVENT_REMOVED => UpdateEvent::Deleted(reason_from_wire(reason)?),
            EVENT_MODIFIED => UpdateEvent::Modified,
            other => return Err(bad_request(bad_request::EPERM, format!("flow update event {other}"))),
        };
        let (idle_timeout, hard_timeout, priority) = (e.u16()?, e.u16()?, e.u16()?);
        e.skip(4)?;
        let cookie = e.u64()?;
        let matches = decode_match(version, &mut e)?;
        let rest = e.remaining();
        // No instructions on the wire: none asked for, or none the rule has (the same to a reader).
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

pub fn encode_updates(version: Version, updates: &[FlowUpdate], w: &mut Writer) {
    for update in updates {
        let start = w.len();
        w.u16(0);
        match update {
            FlowUpdate::Abbrev { xid } => {
                w.u16(EVENT_ABBREV);
                w.u32(*xid);
            }
            FlowUpdate::Paused | FlowUpdate::Resumed => {
                w.u16(if *update == FlowUpdate::Paused { EVENT_PAUSED } else { EVENT_RESUMED });
                w.zeros(4);
            }
            FlowUpdate::Full(full) => encode_full(version, full, w),
        }
        w.patch_len(start, start);
    }
}

fn encode_full(version: Version, full: &FullUpdate, w: &mut Writer) {
    let (event, reason) = match full.event {
        UpdateEvent::Initial => (EVENT_INITIAL, 0),
        UpdateEvent::Added => (EVENT_ADDED, 0),
        UpdateEvent::Deleted(reason) => (EVENT_REMOVED, reason_wire(reason)),
        UpdateEvent::Modified => (EVENT_MODIFIED, 0),
    };
    w.u16(event);
    w.u8(full.table_id);
    w.u8(reason);
    w.u16(full.idle_timeout);
    w.u16(full.hard_timeout);
    w.u16(full.priority);
    w.zeros(4);
    w.u64(full.cookie);
    encode_match(version, &full.matches, w);
    if let Some(instructions) = &full.instructions {
        encode_rule_instructions(version, instructions, &full.matches, w);
    }
}
