//! TEMPORARY: replaced by the of-match branch at merge.
//! Minimal action/instruction codec with the contract's signatures, enough for the message
//! codec's tests: output (incl. CONTROLLER), Nicira resubmit, apply_actions and goto_table.

use crate::flow::{Action, Instructions, OfPort, PacketInReason};

use super::wire::{read_port, write_port, ErrorType, OfError, Reader, Version, Writer};

fn bad_type(what: impl Into<String>) -> OfError {
    OfError::new(ErrorType::BadAction, 0, what)
}

/// OF1.3: `len` bytes of instructions. OF1.0: `len` bytes of actions, which become apply_actions.
pub fn decode_instructions(version: Version, r: &mut Reader, len: usize) -> Result<Instructions, OfError> {
    let mut instructions = Instructions::default();
    if version == Version::V1_0 {
        instructions.apply_actions = decode_actions(version, r, len)?;
        return Ok(instructions);
    }
    let mut all = r.sub(len)?;
    while !all.is_empty() {
        let kind = all.u16()?;
        let length = usize::from(all.u16()?);
        let mut body = all.sub(length.checked_sub(4).ok_or_else(|| OfError::bad_len("instruction"))?)?;
        match kind {
            1 => {
                instructions.goto_table = Some(body.u8()?);
            }
            4 => {
                body.skip(4)?;
                let n = body.remaining();
                instructions.apply_actions = decode_actions(version, &mut body, n)?;
            }
            _ => return Err(OfError::new(ErrorType::BadInstruction, 0, format!("instruction {kind}"))),
        }
    }
    Ok(instructions)
}

pub fn encode_instructions(version: Version, instructions: &Instructions, w: &mut Writer) {
    if version == Version::V1_0 {
        encode_actions(version, &instructions.apply_actions, w);
        return;
    }
    if let Some(table) = instructions.goto_table {
        w.u16(1);
        w.u16(8);
        w.u8(table);
        w.zeros(3);
    }
    if !instructions.apply_actions.is_empty() {
        let start = w.len();
        w.u16(4);
        w.u16(0);
        w.zeros(4);
        encode_actions(version, &instructions.apply_actions, w);
        let length = w.len() - start;
        w.patch_u16(start + 2, length as u16);
    }
}

/// An action list (packet-out, group buckets, write-actions): `len` bytes.
pub fn decode_actions(version: Version, r: &mut Reader, len: usize) -> Result<Vec<Action>, OfError> {
    let mut all = r.sub(len)?;
    let mut actions = Vec::new();
    while !all.is_empty() {
        let kind = all.u16()?;
        let length = usize::from(all.u16()?);
        let mut body = all.sub(length.checked_sub(4).ok_or_else(|| OfError::bad_len("action"))?)?;
        match kind {
            0 => {
                let port = read_port(version, &mut body, |n| OfError::new(ErrorType::BadAction, 4, format!("{n}")))?;
                let max_len = body.u16()?;
                actions.push(if port == OfPort::CONTROLLER {
                    Action::Controller { max_len, reason: PacketInReason::Action }
                } else {
                    Action::Output(port)
                });
            }
            0xffff if body.u32()? == 0x2320 && body.u16()? == 14 => {
                let port = OfPort(u32::from(body.u16()?));
                let table = body.u8()?;
                actions.push(Action::Resubmit { port, table: (table != 255).then_some(table) });
            }
            _ => return Err(bad_type(format!("action {kind}"))),
        }
    }
    Ok(actions)
}

pub fn encode_actions(version: Version, actions: &[Action], w: &mut Writer) {
    for action in actions {
        match action {
            Action::Output(_) | Action::Controller { .. } => {
                let (port, max_len) = match action {
                    Action::Controller { max_len, .. } => (OfPort::CONTROLLER, *max_len),
                    Action::Output(port) => (*port, 0),
                    _ => continue,
                };
                w.u16(0);
                w.u16(if version == Version::V1_0 { 8 } else { 16 });
                write_port(version, port, w);
                w.u16(max_len);
                if version == Version::V1_3 {
                    w.zeros(6);
                }
            }
            Action::Resubmit { port, table } => {
                w.u16(0xffff);
                w.u16(16);
                w.u32(0x2320);
                w.u16(14);
                w.u16(port.0 as u16);
                w.u8(table.unwrap_or(255));
                w.zeros(3);
            }
            _ => {}
        }
    }
}
