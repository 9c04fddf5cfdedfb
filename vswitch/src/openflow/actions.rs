//! Actions and instructions on the wire: OpenFlow 1.3 instructions (meter, apply/clear/write
//! actions, write_metadata, goto_table) and actions (output, VLAN push/pop, set_field, TTL,
//! the deprecated OpenFlow 1.1 set actions Open vSwitch still accepts), OpenFlow 1.0 actions,
//! and the Nicira extensions ovs-ofctl emits (resubmit, set_tunnel, reg_load/reg_load2,
//! reg_move, dec_ttl, controller/controller2, learn, write_metadata).
//!
//! Encoding makes the choices Open vSwitch makes, so `ovs-ofctl` sees what it sent: OpenFlow
//! 1.3 writes `mod_vlan_vid` as push_vlan + set_field when the match has no tag, a partial
//! set_field as reg_load, set_tunnel as set_field. Where one model [`Action`] has several wire
//! forms, decoding gives the form the wire names (`set_field:...->tun_id` stays a set_field),
//! which acts the same. A few things have no 1.0 wire form: OpenFlow 1.0 drops meter,
//! clear_actions, write_actions and group (1.0 has no groups; decoding refuses its action type)
//! and writes goto_table as `resubmit(,T)`, as Open vSwitch does.

use std::net::Ipv4Addr;

use crate::flow::key::{Field, Prereq};
use crate::flow::numbers::{VLAN_PCP_MASK, VLAN_PRESENT, VLAN_VID_MASK};
use crate::flow::{
    Action, Instructions, Learn, LearnSpec, Match, OfPort, PacketInReason, Subfield, WriteMetadata, GROUP_MAX,
};
use crate::packet::proto::{ethertype, ip_proto, vlan};

use super::oxm::{
    all_ones, all_wire_fields, lookup_header32, read_be, read_tlv, subfield_from_wire, subfield_to_oxm_wire,
    subfield_to_wire, write_be, WireField, OXM_OF_ETH_DST, OXM_OF_ETH_SRC, OXM_OF_IN_PORT, OXM_OF_IPV4_DST,
    OXM_OF_IPV4_SRC, OXM_OF_IP_DSCP, OXM_OF_IP_ECN, OXM_OF_MPLS_LABEL, OXM_OF_MPLS_TC, OXM_OF_SCTP_DST,
    OXM_OF_SCTP_SRC, OXM_OF_TCP_DST, OXM_OF_TCP_SRC, OXM_OF_TUNNEL_ID, OXM_OF_UDP_DST, OXM_OF_UDP_SRC, OXM_OF_VLAN_PCP,
    OXM_OF_VLAN_VID,
};
use super::wire::{port_v1_0, read_port, write_port, ErrorType, OfError, Reader, Version, Writer};

/// OFPBAC_* codes (the same numbers in 1.0 up to BAD_QUEUE; 1.0 says VENDOR for EXPERIMENTER).
mod bad_action {
    pub const BAD_TYPE: u16 = 0;
    pub const BAD_LEN: u16 = 1;
    pub const BAD_EXPERIMENTER: u16 = 2;
    pub const BAD_EXP_TYPE: u16 = 3;
    pub const BAD_OUT_PORT: u16 = 4;
    pub const BAD_ARGUMENT: u16 = 5;
    pub const BAD_QUEUE: u16 = 8;
    pub const BAD_OUT_GROUP: u16 = 9;
    pub const BAD_SET_TYPE: u16 = 13;
    pub const BAD_SET_LEN: u16 = 14;
    pub const BAD_SET_ARGUMENT: u16 = 15;
}

/// OFPBIC_* codes (OpenFlow 1.3).
mod bad_instruction {
    pub const UNKNOWN_INST: u16 = 0;
    pub const UNSUP_INST: u16 = 1;
    pub const BAD_TABLE_ID: u16 = 2;
    pub const BAD_EXPERIMENTER: u16 = 5;
    pub const BAD_LEN: u16 = 7;
}

/// OFPMMFC_INVALID_METER.
const INVALID_METER: u16 = 2;

fn action_error(code: u16, reason: impl Into<String>) -> OfError {
    OfError::new(ErrorType::BadAction, code, reason)
}

fn instruction_error(code: u16, reason: impl Into<String>) -> OfError {
    OfError::new(ErrorType::BadInstruction, code, reason)
}

/// The set_field codes exist from OpenFlow 1.2; 1.0 (Nicira reg_load2) says BAD_ARGUMENT.
fn set_field_error(version: Version, code: u16, reason: impl Into<String>) -> OfError {
    match version {
        Version::V1_3 | Version::V1_4 | Version::V1_5 => action_error(code, reason),
        Version::V1_0 => action_error(bad_action::BAD_ARGUMENT, reason),
    }
}

/// OFPAT_* numbers of OpenFlow 1.3 (and the deprecated 1.1 set actions it still accepts).
mod of13 {
    pub const OUTPUT: u16 = 0;
    pub const SET_VLAN_VID: u16 = 1;
    pub const SET_VLAN_PCP: u16 = 2;
    pub const SET_DL_SRC: u16 = 3;
    pub const SET_DL_DST: u16 = 4;
    pub const SET_NW_SRC: u16 = 5;
    pub const SET_NW_DST: u16 = 6;
    pub const SET_NW_TOS: u16 = 7;
    pub const SET_NW_ECN: u16 = 8;
    pub const SET_TP_SRC: u16 = 9;
    pub const SET_TP_DST: u16 = 10;
    pub const SET_QUEUE: u16 = 21;
    pub const GROUP: u16 = 22;
    pub const PUSH_VLAN: u16 = 17;
    pub const POP_VLAN: u16 = 18;
    pub const SET_NW_TTL: u16 = 23;
    pub const DEC_NW_TTL: u16 = 24;
    pub const SET_FIELD: u16 = 25;
    pub const COPY_TTL_OUT: u16 = 11;
    pub const COPY_TTL_IN: u16 = 12;
    pub const SET_MPLS_TTL: u16 = 15;
    pub const DEC_MPLS_TTL: u16 = 16;
    pub const PUSH_MPLS: u16 = 19;
    pub const POP_MPLS: u16 = 20;
    /// PBB push and pop, which the switch does not have.
    pub const UNSUPPORTED: [u16; 2] = [26, 27];
}

/// OFPAT_* numbers OpenFlow 1.5 adds.
mod of15 {
    pub const COPY_FIELD: u16 = 28;
    pub const METER: u16 = 29;
}

/// OFPBAC_UNSUPPORTED_ORDER: a 1.5 meter action anywhere but first in apply_actions.
const UNSUPPORTED_ORDER: u16 = 10;

/// OFPAT10_* numbers.
mod of10 {
    pub const OUTPUT: u16 = 0;
    pub const SET_VLAN_VID: u16 = 1;
    pub const SET_VLAN_PCP: u16 = 2;
    pub const STRIP_VLAN: u16 = 3;
    pub const SET_DL_SRC: u16 = 4;
    pub const SET_DL_DST: u16 = 5;
    pub const SET_NW_SRC: u16 = 6;
    pub const SET_NW_DST: u16 = 7;
    pub const SET_NW_TOS: u16 = 8;
    pub const SET_TP_SRC: u16 = 9;
    pub const SET_TP_DST: u16 = 10;
    pub const ENQUEUE: u16 = 11;
}

const EXPERIMENTER_ACTION: u16 = 0xffff;
const NX_VENDOR_ID: u32 = 0x0000_2320;

/// Nicira action subtypes.
mod nxast {
    pub const RESUBMIT: u16 = 1;
    pub const SET_TUNNEL: u16 = 2;
    pub const REG_MOVE: u16 = 6;
    pub const REG_LOAD: u16 = 7;
    pub const SET_TUNNEL64: u16 = 9;
    pub const RESUBMIT_TABLE: u16 = 14;
    pub const LEARN: u16 = 16;
    pub const DEC_TTL: u16 = 18;
    pub const CONTROLLER: u16 = 20;
    pub const PUSH_MPLS: u16 = 23;
    pub const POP_MPLS: u16 = 24;
    pub const SET_MPLS_TTL: u16 = 25;
    pub const DEC_MPLS_TTL: u16 = 26;
    pub const SET_MPLS_LABEL: u16 = 30;
    pub const SET_MPLS_TC: u16 = 31;
    pub const DEC_TTL_CNT_IDS: u16 = 21;
    pub const WRITE_METADATA: u16 = 22;
    pub const REG_LOAD2: u16 = 33;
    pub const CONTROLLER2: u16 = 37;
    /// Open vSwitch's group action of OpenFlow 1.0.
    pub const GROUP: u16 = 40;
}

/// NXAC2PT_* properties of NXAST_CONTROLLER2.
mod controller2 {
    pub const MAX_LEN: u16 = 0;
    pub const CONTROLLER_ID: u16 = 1;
    pub const REASON: u16 = 2;
}

/// Learn spec header bits.
mod learn_spec {
    pub const N_BITS: u16 = 0x07ff;
    pub const SRC_IMMEDIATE: u16 = 1 << 13;
    pub const DST_MASK: u16 = 3 << 11;
    pub const DST_MATCH: u16 = 0;
    pub const DST_LOAD: u16 = 1 << 11;
    pub const DST_OUTPUT: u16 = 2 << 11;
}

/// OFPIT_* numbers.
mod instruction {
    pub const GOTO_TABLE: u16 = 1;
    pub const WRITE_METADATA: u16 = 2;
    pub const WRITE_ACTIONS: u16 = 3;
    pub const APPLY_ACTIONS: u16 = 4;
    pub const CLEAR_ACTIONS: u16 = 5;
    pub const METER: u16 = 6;
    pub const EXPERIMENTER: u16 = 0xffff;
}

/// A table number that means "the current table" in resubmit.
const CURRENT_TABLE: u8 = 0xff;

const REASONS: [(PacketInReason, u8); 6] = [
    (PacketInReason::NoMatch, 0),
    (PacketInReason::Action, 1),
    (PacketInReason::InvalidTtl, 2),
    (PacketInReason::ActionSet, 3),
    (PacketInReason::Group, 4),
    (PacketInReason::PacketOut, 5),
];

fn reason_number(reason: PacketInReason) -> u8 {
    REASONS.iter().find(|(r, _)| *r == reason).map_or(1, |(_, n)| *n)
}

fn reason_from_number(number: u8) -> Result<PacketInReason, OfError> {
    REASONS
        .iter()
        .find(|(_, n)| *n == number)
        .map(|(r, _)| *r)
        .ok_or_else(|| action_error(bad_action::BAD_ARGUMENT, format!("unknown packet-in reason {number}")))
}

// ---------------------------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------------------------

/// What one action on the wire is: an action, or what the model keeps as an instruction:
/// (OpenFlow 1.0 only) Nicira's write_metadata, (1.5) the meter action.
enum Decoded {
    Action(Action),
    WriteMetadata(WriteMetadata),
    Meter(u32),
}

/// The action list in `r`, to its end.
fn decode_list(version: Version, mut r: Reader) -> Result<Vec<Decoded>, OfError> {
    let mut out = Vec::new();
    while !r.is_empty() {
        let bad_len = |reason: String| action_error(bad_action::BAD_LEN, reason);
        let header = r.peek(4).map_err(|_| bad_len("truncated action header".to_string()))?;
        let kind = u16::from_be_bytes([header[0], header[1]]);
        let len = usize::from(u16::from_be_bytes([header[2], header[3]]));
        if len < 8 || len % 8 != 0 || len > r.remaining() {
            return Err(bad_len(format!("action type {kind} with length {len} ({} bytes left)", r.remaining())));
        }
        let mut body = r.sub(len)?;
        body.skip(4)?;
        out.push(decode_action(version, kind, len, body)?);
    }
    Ok(out)
}

fn expect_len(len: usize, expected: usize, what: &str) -> Result<(), OfError> {
    if len == expected {
        Ok(())
    } else {
        Err(action_error(bad_action::BAD_LEN, format!("{what} action of {len} bytes (expected {expected})")))
    }
}

/// A 48-bit MAC as the model keeps it.
fn mac(r: &mut Reader) -> Result<u64, OfError> {
    Ok((read_be(r.bytes(6)?) & 0xffff_ffff_ffff) as u64)
}

fn decode_action(version: Version, kind: u16, len: usize, mut r: Reader) -> Result<Decoded, OfError> {
    if kind == EXPERIMENTER_ACTION {
        return decode_experimenter(version, len, r);
    }
    let action = match version {
        Version::V1_0 => decode_v1_0_action(kind, len, &mut r)?,
        Version::V1_5 if kind == of15::METER => {
            expect_len(len, 8, "meter")?;
            return meter_id(r.u32()?).map(Decoded::Meter);
        }
        Version::V1_5 if kind == of15::COPY_FIELD => decode_copy_field(len, &mut r)?,
        Version::V1_3 | Version::V1_4 | Version::V1_5 => decode_v1_3_action(version, kind, len, &mut r)?,
    };
    Ok(Decoded::Action(action))
}

/// A meter id of a meter instruction or action (0 is no meter: OFPMMFC_INVALID_METER).
fn meter_id(meter: u32) -> Result<u32, OfError> {
    if meter == 0 {
        return Err(OfError::new(ErrorType::MeterModFailed, INVALID_METER, "meter 0"));
    }
    Ok(meter)
}

/// OpenFlow 1.5's copy_field: bits of one field into another, which is the model's move (Open
/// vSwitch's reg_move). The fields are 32-bit OXM or NXM headers.
fn decode_copy_field(len: usize, r: &mut Reader) -> Result<Action, OfError> {
    if len < 24 {
        return Err(action_error(bad_action::BAD_LEN, format!("copy_field action of {len} bytes")));
    }
    let n_bits = u32::from(r.u16()?);
    let src_ofs = u32::from(r.u16()?);
    let dst_ofs = u32::from(r.u16()?);
    r.skip(2)?;
    let (src, dst) = same_width(wire_subfield(r.u32()?, src_ofs, n_bits)?, wire_subfield(r.u32()?, dst_ofs, n_bits)?);
    expect_zeros(r, r.remaining(), "copy_field")?;
    Ok(Action::Move { src, dst })
}

fn output(port: OfPort, max_len: u16) -> Result<Action, OfError> {
    match port {
        OfPort::CONTROLLER => Ok(Action::Controller { max_len, reason: PacketInReason::Action }),
        OfPort::NONE => Err(action_error(bad_action::BAD_OUT_PORT, "output to no port")),
        port => Ok(Action::Output { port, max_len }),
    }
}

fn vlan_vid(vid: u16) -> Result<u16, OfError> {
    if vid > vlan::VID_MASK {
        return Err(action_error(bad_action::BAD_ARGUMENT, format!("VLAN id {vid} out of range")));
    }
    Ok(vid)
}

fn vlan_pcp(pcp: u8) -> Result<u8, OfError> {
    if pcp > 7 {
        return Err(action_error(bad_action::BAD_ARGUMENT, format!("VLAN priority {pcp} out of range")));
    }
    Ok(pcp)
}

fn ip_tos(tos: u8) -> Result<u8, OfError> {
    if tos & 0x03 != 0 {
        return Err(action_error(bad_action::BAD_ARGUMENT, format!("TOS {tos} has ECN bits")));
    }
    Ok(tos)
}

/// The header rewrites OpenFlow 1.0 and 1.1 both have (1.3 still accepts the 1.1 ones), with
/// the same bodies under different type numbers.
#[derive(Debug, Clone, Copy)]
enum HeaderSet {
    DlSrc,
    DlDst,
    NwSrc,
    NwDst,
    NwTos,
    TpSrc,
    TpDst,
}

impl HeaderSet {
    fn of_v1_0(kind: u16) -> Option<HeaderSet> {
        Some(match kind {
            of10::SET_DL_SRC => HeaderSet::DlSrc,
            of10::SET_DL_DST => HeaderSet::DlDst,
            of10::SET_NW_SRC => HeaderSet::NwSrc,
            of10::SET_NW_DST => HeaderSet::NwDst,
            of10::SET_NW_TOS => HeaderSet::NwTos,
            of10::SET_TP_SRC => HeaderSet::TpSrc,
            of10::SET_TP_DST => HeaderSet::TpDst,
            _ => return None,
        })
    }

    fn of_v1_3(kind: u16) -> Option<HeaderSet> {
        Some(match kind {
            of13::SET_DL_SRC => HeaderSet::DlSrc,
            of13::SET_DL_DST => HeaderSet::DlDst,
            of13::SET_NW_SRC => HeaderSet::NwSrc,
            of13::SET_NW_DST => HeaderSet::NwDst,
            of13::SET_NW_TOS => HeaderSet::NwTos,
            of13::SET_TP_SRC => HeaderSet::TpSrc,
            of13::SET_TP_DST => HeaderSet::TpDst,
            _ => return None,
        })
    }

    /// The action from its body (`len` bytes with the header).
    fn decode(self, len: usize, r: &mut Reader) -> Result<Action, OfError> {
        Ok(match self {
            HeaderSet::DlSrc | HeaderSet::DlDst => {
                expect_len(len, 16, "set_dl_src/dst")?;
                let address = mac(r)?;
                if matches!(self, HeaderSet::DlSrc) {
                    Action::SetEthSrc(address)
                } else {
                    Action::SetEthDst(address)
                }
            }
            HeaderSet::NwSrc | HeaderSet::NwDst => {
                expect_len(len, 8, "set_nw_src/dst")?;
                let address = Ipv4Addr::from(r.u32()?);
                if matches!(self, HeaderSet::NwSrc) {
                    Action::SetIpv4Src(address)
                } else {
                    Action::SetIpv4Dst(address)
                }
            }
            HeaderSet::NwTos => {
                expect_len(len, 8, "set_nw_tos")?;
                Action::SetIpTos(ip_tos(r.u8()?)?)
            }
            HeaderSet::TpSrc | HeaderSet::TpDst => {
                expect_len(len, 8, "set_tp_src/dst")?;
                let port = r.u16()?;
                if matches!(self, HeaderSet::TpSrc) {
                    Action::SetL4SrcPort(port)
                } else {
                    Action::SetL4DstPort(port)
                }
            }
        })
    }
}

fn decode_v1_0_action(kind: u16, len: usize, r: &mut Reader) -> Result<Action, OfError> {
    if let Some(set) = HeaderSet::of_v1_0(kind) {
        return set.decode(len, r);
    }
    let action = match kind {
        of10::OUTPUT => {
            expect_len(len, 8, "output")?;
            let port = OfPort(u32::from(r.u16()?));
            output(port, r.u16()?)?
        }
        of10::SET_VLAN_VID => {
            expect_len(len, 8, "set_vlan_vid")?;
            Action::SetVlanVid { vid: vlan_vid(r.u16()?)?, push_if_needed: true }
        }
        of10::SET_VLAN_PCP => {
            expect_len(len, 8, "set_vlan_pcp")?;
            Action::SetVlanPcp { pcp: vlan_pcp(r.u8()?)?, push_if_needed: true }
        }
        of10::STRIP_VLAN => {
            expect_len(len, 8, "strip_vlan")?;
            Action::PopVlan
        }
        of10::ENQUEUE => return Err(action_error(bad_action::BAD_QUEUE, "the switch has no queues")),
        _ => return Err(action_error(bad_action::BAD_TYPE, format!("unknown OpenFlow 1.0 action type {kind}"))),
    };
    Ok(action)
}

/// An action of OpenFlow 1.3 and later (`version` says whether a set_field may have a mask).
fn decode_v1_3_action(version: Version, kind: u16, len: usize, r: &mut Reader) -> Result<Action, OfError> {
    if let Some(set) = HeaderSet::of_v1_3(kind) {
        // The deprecated 1.1 rewrites are taken as the set_field 1.3 writes them as (one action,
        // one form, whichever way it came); the port rewrites stay, 1.3 writes them so without
        // a protocol.
        return match set.decode(len, r)? {
            Action::SetEthSrc(address) => as_set_field(&OXM_OF_ETH_SRC, address.into()),
            Action::SetEthDst(address) => as_set_field(&OXM_OF_ETH_DST, address.into()),
            Action::SetIpv4Src(address) => as_set_field(&OXM_OF_IPV4_SRC, u32::from(address).into()),
            Action::SetIpv4Dst(address) => as_set_field(&OXM_OF_IPV4_DST, u32::from(address).into()),
            Action::SetIpTos(tos) => as_set_field(&OXM_OF_IP_DSCP, (tos >> 2).into()),
            other => Ok(other),
        };
    }
    let action = match kind {
        of13::OUTPUT => {
            expect_len(len, 16, "output")?;
            let port = read_port(Version::V1_3, r, |n| {
                action_error(bad_action::BAD_OUT_PORT, format!("output to invalid port {n:#x}"))
            })?;
            output(port, r.u16()?)?
        }
        // Like the header rewrites above: the set_field form (which sets the VID or PCP bits
        // of a tag there is, as set_vlan_vid/pcp do).
        of13::SET_VLAN_VID => {
            expect_len(len, 8, "set_vlan_vid")?;
            as_set_field(&OXM_OF_VLAN_VID, u128::from(vlan_vid(r.u16()?)?) | VLAN_PRESENT)?
        }
        of13::SET_VLAN_PCP => {
            expect_len(len, 8, "set_vlan_pcp")?;
            as_set_field(&OXM_OF_VLAN_PCP, vlan_pcp(r.u8()?)?.into())?
        }
        of13::SET_NW_ECN => {
            expect_len(len, 8, "set_nw_ecn")?;
            let ecn = r.u8()?;
            if ecn > 3 {
                return Err(action_error(bad_action::BAD_ARGUMENT, format!("ECN {ecn} out of range")));
            }
            as_set_field(&OXM_OF_IP_ECN, ecn.into())?
        }
        of13::PUSH_VLAN => {
            expect_len(len, 8, "push_vlan")?;
            match r.u16()? {
                tpid if ethertype::is_vlan(tpid) => Action::PushVlan { tpid },
                tpid => {
                    return Err(action_error(bad_action::BAD_ARGUMENT, format!("push_vlan of ethertype {tpid:#06x}")))
                }
            }
        }
        of13::POP_VLAN => {
            expect_len(len, 8, "pop_vlan")?;
            Action::PopVlan
        }
        of13::SET_NW_TTL => {
            expect_len(len, 8, "set_nw_ttl")?;
            Action::SetIpTtl(r.u8()?)
        }
        of13::DEC_NW_TTL => {
            expect_len(len, 8, "dec_nw_ttl")?;
            Action::DecTtl
        }
        of13::SET_FIELD => decode_set_field(version, r)?,
        of13::COPY_TTL_OUT | of13::COPY_TTL_IN | of13::DEC_MPLS_TTL => {
            expect_len(len, 8, "copy_ttl_out/copy_ttl_in/dec_mpls_ttl")?;
            match kind {
                of13::COPY_TTL_OUT => Action::CopyTtlOut,
                of13::COPY_TTL_IN => Action::CopyTtlIn,
                _ => Action::DecMplsTtl,
            }
        }
        of13::SET_MPLS_TTL => {
            expect_len(len, 8, "set_mpls_ttl")?;
            Action::SetMplsTtl(r.u8()?)
        }
        of13::PUSH_MPLS | of13::POP_MPLS => {
            expect_len(len, 8, "push_mpls/pop_mpls")?;
            mpls_push_pop(kind == of13::PUSH_MPLS, r.u16()?)?
        }
        of13::SET_QUEUE => return Err(action_error(bad_action::BAD_QUEUE, "the switch has no queues")),
        of13::GROUP => {
            expect_len(len, 8, "group")?;
            group_action(r.u32()?)?
        }
        _ if of13::UNSUPPORTED.contains(&kind) => {
            return Err(action_error(bad_action::BAD_TYPE, format!("action type {kind} is not supported")))
        }
        _ => return Err(action_error(bad_action::BAD_TYPE, format!("unknown OpenFlow 1.3 action type {kind}"))),
    };
    Ok(action)
}

/// push_mpls (whose ethertype must be MPLS's: OFPBAC_BAD_ARGUMENT otherwise, as Open vSwitch)
/// or pop_mpls of `ethertype`.
fn mpls_push_pop(push: bool, ethertype: u16) -> Result<Action, OfError> {
    if !push {
        return Ok(Action::PopMpls { ethertype });
    }
    if !ethertype::is_mpls(ethertype) {
        return Err(action_error(bad_action::BAD_ARGUMENT, format!("push_mpls of ethertype {ethertype:#06x}")));
    }
    Ok(Action::PushMpls { ethertype })
}

/// A set_field (OpenFlow 1.3) or reg_load2 (Nicira) TLV: the masked bits of one field. The
/// rest of `r` is padding and must be zero.
/// The action a 1.3 set_field of `wire` to `value` decodes to.
fn as_set_field(wire: &WireField, value: u128) -> Result<Action, OfError> {
    let mut w = Writer::new();
    put_set_field(wire, value, &mut w);
    let action = w.into_bytes();
    // After the action's type and length.
    decode_set_field(Version::V1_3, &mut Reader::new(action.get(4..).unwrap_or_default()))
}

fn decode_set_field(version: Version, r: &mut Reader) -> Result<Action, OfError> {
    let error = |code, reason: String| set_field_error(version, code, reason);
    let tlv = read_tlv(r, &|reason| error(bad_action::BAD_SET_LEN, reason))?;
    let wire = tlv.field().ok_or_else(|| error(bad_action::BAD_SET_TYPE, format!("cannot set {}", tlv.describe())))?;
    wire.check_value_len(
        tlv.value.len(),
        |reason| error(bad_action::BAD_SET_LEN, reason),
        |reason| error(bad_action::BAD_SET_TYPE, reason),
    )?;
    if r.rest().iter().any(|&b| b != 0) {
        return Err(error(bad_action::BAD_SET_ARGUMENT, format!("non-zero padding after {}", wire.name)));
    }
    let value = read_be(tlv.value);
    let mask = match tlv.mask {
        // OpenFlow 1.3's and 1.4's set_field take no mask; 1.5's and Nicira's reg_load2 do.
        Some(_) if (Version::V1_3..Version::V1_5).contains(&version) && tlv.class == 0x8000 => {
            return Err(error(bad_action::BAD_SET_ARGUMENT, format!("masked set_field of {}", wire.name)))
        }
        Some(mask) => read_be(mask),
        None => all_ones(wire.value_bytes()),
    };
    if value & !mask != 0 {
        return Err(error(bad_action::BAD_SET_ARGUMENT, format!("{} value has bits outside its mask", wire.name)));
    }
    // Open vSwitch refuses OXM_OF_IN_PORT here (NXM_OF_IN_PORT may be loaded).
    if !wire.field.def().writable || *wire == OXM_OF_IN_PORT {
        return Err(error(bad_action::BAD_SET_ARGUMENT, format!("{} cannot be set", wire.name)));
    }
    // OpenFlow 1.3 (5.12.1): a vlan_vid set_field has OFPVID_PRESENT in value and mask.
    let (value, mask) = if *wire == OXM_OF_VLAN_VID {
        if value & mask & VLAN_PRESENT == 0 {
            return Err(error(bad_action::BAD_SET_ARGUMENT, format!("vlan_vid {value} without OFPVID_PRESENT")));
        }
        (value & VLAN_VID_MASK, mask & VLAN_VID_MASK)
    } else {
        (value, mask)
    };
    let (field_value, field_mask) = wire
        .field_value(value, mask)
        .ok_or_else(|| error(bad_action::BAD_SET_ARGUMENT, format!("invalid {} value {value:#x}", wire.name)))?;
    if field_mask == 0 {
        return Err(error(bad_action::BAD_SET_ARGUMENT, format!("{} sets no bits", wire.name)));
    }
    Ok(Action::SetField { field: wire.field, value: field_value, mask: field_mask })
}

/// `group:id`; the reserved ids (ALL, ANY) are no group.
fn group_action(id: u32) -> Result<Action, OfError> {
    if id <= GROUP_MAX {
        Ok(Action::Group(id))
    } else {
        Err(action_error(bad_action::BAD_OUT_GROUP, format!("group {id:#x} is reserved")))
    }
}

/// A 32-bit NXM header and a bit range of it, as reg_load, reg_move and learn give them.
fn wire_subfield(header: u32, ofs: u32, n_bits: u32) -> Result<Subfield, OfError> {
    let wire = lookup_header32(header)
        .ok_or_else(|| action_error(bad_action::BAD_ARGUMENT, format!("unknown NXM header {header:#010x}")))?;
    subfield_from_wire(wire, ofs, n_bits).ok_or_else(|| {
        action_error(
            bad_action::BAD_ARGUMENT,
            format!("bits {ofs}..{} are not within {}", u64::from(ofs) + u64::from(n_bits), wire.name),
        )
    })
}

/// A copy between two subfields of the same width on the wire: where one is the whole of a
/// field wider than its wire form (`NXM_OF_IN_PORT[]`, 16 bits on the wire, is all 32 bits of
/// in_port), it is taken as just the wire's bits so both sides keep the same width.
fn same_width(a: Subfield, b: Subfield) -> (Subfield, Subfield) {
    if a.bits == b.bits {
        return (a, b);
    }
    let bits = a.bits.min(b.bits);
    let narrow = |sub: Subfield| Subfield { bits, ..sub };
    (narrow(a), narrow(b))
}

fn expect_zeros(r: &mut Reader, n: usize, what: &str) -> Result<(), OfError> {
    if r.bytes(n)?.iter().any(|&b| b != 0) {
        return Err(action_error(bad_action::BAD_ARGUMENT, format!("non-zero padding in {what}")));
    }
    Ok(())
}

fn decode_experimenter(version: Version, len: usize, mut r: Reader) -> Result<Decoded, OfError> {
    if len < 16 {
        return Err(action_error(bad_action::BAD_LEN, format!("experimenter action of {len} bytes")));
    }
    let experimenter = r.u32()?;
    if experimenter != NX_VENDOR_ID {
        return Err(action_error(bad_action::BAD_EXPERIMENTER, format!("unknown experimenter {experimenter:#x}")));
    }
    let subtype = r.u16()?;
    let action = match subtype {
        nxast::RESUBMIT | nxast::RESUBMIT_TABLE => {
            expect_len(len, 16, "resubmit")?;
            let port = OfPort(u32::from(r.u16()?));
            let table = r.u8()?;
            if subtype == nxast::RESUBMIT {
                Action::Resubmit { port, table: None }
            } else {
                expect_zeros(&mut r, 3, "resubmit")?;
                Action::Resubmit { port, table: (table != CURRENT_TABLE).then_some(table) }
            }
        }
        nxast::SET_TUNNEL => {
            expect_len(len, 16, "set_tunnel")?;
            r.skip(2)?;
            Action::SetTunnel(u64::from(r.u32()?))
        }
        nxast::GROUP => {
            expect_len(len, 16, "group")?;
            r.skip(2)?;
            group_action(r.u32()?)?
        }
        nxast::SET_TUNNEL64 => {
            expect_len(len, 24, "set_tunnel64")?;
            r.skip(6)?;
            Action::SetTunnel(r.u64()?)
        }
        nxast::REG_MOVE => {
            expect_len(len, 24, "reg_move")?;
            let n_bits = u32::from(r.u16()?);
            let src_ofs = u32::from(r.u16()?);
            let dst_ofs = u32::from(r.u16()?);
            let (src, dst) =
                same_width(wire_subfield(r.u32()?, src_ofs, n_bits)?, wire_subfield(r.u32()?, dst_ofs, n_bits)?);
            Action::Move { src, dst }
        }
        nxast::REG_LOAD => {
            expect_len(len, 24, "reg_load")?;
            let ofs_nbits = r.u16()?;
            let n_bits = u32::from(ofs_nbits & 0x3f) + 1;
            let dst = wire_subfield(r.u32()?, u32::from(ofs_nbits >> 6), n_bits)?;
            let value = u128::from(r.u64()?);
            if n_bits < 64 && value >> n_bits != 0 {
                return Err(action_error(bad_action::BAD_ARGUMENT, format!("reg_load value {value:#x} exceeds {dst}")));
            }
            Action::Load { value, dst }
        }
        nxast::REG_LOAD2 => decode_set_field(version, &mut r)?,
        nxast::DEC_TTL => {
            expect_len(len, 16, "dec_ttl")?;
            Action::DecTtl
        }
        nxast::DEC_TTL_CNT_IDS => {
            let n_controllers = r.u16()?;
            r.skip(4)?;
            let ids = (0..n_controllers).map(|_| r.u16()).collect::<Result<Vec<_>, _>>()?;
            if ids != [0] {
                return Err(action_error(bad_action::BAD_ARGUMENT, "dec_ttl with controller ids other than 0"));
            }
            Action::DecTtl
        }
        nxast::CONTROLLER => {
            expect_len(len, 16, "controller")?;
            let max_len = r.u16()?;
            let controller_id = r.u16()?;
            let reason = reason_from_number(r.u8()?)?;
            if controller_id != 0 {
                return Err(action_error(bad_action::BAD_ARGUMENT, "controller ids are not supported"));
            }
            Action::Controller { max_len, reason }
        }
        nxast::CONTROLLER2 => decode_controller2(&mut r)?,
        nxast::PUSH_MPLS | nxast::POP_MPLS => {
            expect_len(len, 16, "push_mpls/pop_mpls")?;
            let ethertype = r.u16()?;
            expect_zeros(&mut r, 4, "push_mpls/pop_mpls")?;
            mpls_push_pop(subtype == nxast::PUSH_MPLS, ethertype)?
        }
        nxast::SET_MPLS_TTL | nxast::SET_MPLS_TC => {
            expect_len(len, 16, "set_mpls_ttl/set_mpls_tc")?;
            let value = r.u8()?;
            expect_zeros(&mut r, 5, "set_mpls_ttl/set_mpls_tc")?;
            if subtype == nxast::SET_MPLS_TTL {
                Action::SetMplsTtl(value)
            } else if value <= 7 {
                Action::SetMplsTc(value)
            } else {
                return Err(action_error(bad_action::BAD_ARGUMENT, format!("MPLS TC {value} out of range")));
            }
        }
        nxast::DEC_MPLS_TTL => {
            expect_len(len, 16, "dec_mpls_ttl")?;
            expect_zeros(&mut r, 6, "dec_mpls_ttl")?;
            Action::DecMplsTtl
        }
        nxast::SET_MPLS_LABEL => {
            expect_len(len, 16, "set_mpls_label")?;
            expect_zeros(&mut r, 2, "set_mpls_label")?;
            let label = r.u32()?;
            if label > 0xf_ffff {
                return Err(action_error(bad_action::BAD_ARGUMENT, format!("MPLS label {label} out of range")));
            }
            Action::SetMplsLabel(label)
        }
        nxast::LEARN => Action::Learn(Box::new(decode_learn(&mut r)?)),
        nxast::WRITE_METADATA if version == Version::V1_0 => {
            expect_len(len, 32, "write_metadata")?;
            expect_zeros(&mut r, 6, "write_metadata")?;
            let value = r.u64()?;
            let mask = r.u64()?;
            return Ok(Decoded::WriteMetadata(WriteMetadata { value, mask }));
        }
        _ => return Err(action_error(bad_action::BAD_EXP_TYPE, format!("Nicira action {subtype} is not supported"))),
    };
    Ok(Decoded::Action(action))
}

/// NXAST_CONTROLLER2: properties after 6 bytes of padding; max_len, reason and controller id 0.
fn decode_controller2(r: &mut Reader) -> Result<Action, OfError> {
    expect_zeros(r, 6, "controller2")?;
    let mut max_len = u16::MAX;
    let mut reason = PacketInReason::Action;
    while !r.is_empty() {
        let kind = r.u16()?;
        let length = usize::from(r.u16()?);
        if length < 4 {
            return Err(action_error(bad_action::BAD_LEN, format!("controller2 property of length {length}")));
        }
        let mut value = r.sub(length - 4)?;
        r.skip((8 - length % 8) % 8)?;
        match kind {
            controller2::MAX_LEN => max_len = value.u16()?,
            controller2::REASON => reason = reason_from_number(value.u8()?)?,
            controller2::CONTROLLER_ID if value.u16()? == 0 => {}
            _ => {
                return Err(action_error(
                    bad_action::BAD_ARGUMENT,
                    format!("controller2 property {kind} is not supported"),
                ))
            }
        }
    }
    Ok(Action::Controller { max_len, reason })
}

fn decode_learn(r: &mut Reader) -> Result<Learn, OfError> {
    let bad = |reason: String| action_error(bad_action::BAD_ARGUMENT, reason);
    let idle_timeout = r.u16()?;
    let hard_timeout = r.u16()?;
    let priority = r.u16()?;
    let cookie = r.u64()?;
    let flags = r.u16()?;
    let table = r.u8()?;
    let pad = r.u8()?;
    let fin_idle_timeout = r.u16()?;
    let fin_hard_timeout = r.u16()?;
    if flags != 0 {
        return Err(bad(format!("learn flags {flags:#x} (send_flow_rem, delete_learned) are not supported")));
    }
    if pad != 0 || table == u8::MAX {
        return Err(bad(format!("learn into table {table} or with non-zero padding")));
    }
    let mut specs = Vec::new();
    while r.remaining() >= 2 {
        let header = r.u16()?;
        if header == 0 {
            break;
        }
        let n_bits = u32::from(header & learn_spec::N_BITS);
        let immediate = header & learn_spec::SRC_IMMEDIATE != 0;
        let dst_type = header & learn_spec::DST_MASK;
        let field_spec = |r: &mut Reader| -> Result<Subfield, OfError> {
            let field = r.u32().map_err(|_| action_error(bad_action::BAD_LEN, "learn spec is cut"))?;
            let ofs = r.u16().map_err(|_| action_error(bad_action::BAD_LEN, "learn spec is cut"))?;
            wire_subfield(field, u32::from(ofs), n_bits)
        };
        let src = if immediate {
            if n_bits == 0 || n_bits > 128 {
                return Err(bad(format!("learn immediate of {n_bits} bits")));
            }
            let bytes = 2 * n_bits.div_ceil(16) as usize;
            let value = read_be(r.bytes(bytes).map_err(|_| action_error(bad_action::BAD_LEN, "learn spec is cut"))?);
            if n_bits < 128 && value >> n_bits != 0 {
                return Err(bad(format!("learn immediate {value:#x} exceeds {n_bits} bits")));
            }
            Err(value)
        } else {
            Ok(field_spec(r)?)
        };
        let spec = match (dst_type, src) {
            (learn_spec::DST_MATCH, Ok(src)) => {
                let (dst, src) = same_width(field_spec(r)?, src);
                LearnSpec::MatchField { dst, src }
            }
            (learn_spec::DST_MATCH, Err(value)) => LearnSpec::MatchValue { dst: field_spec(r)?, value },
            (learn_spec::DST_LOAD, Ok(src)) => {
                let (src, dst) = same_width(src, field_spec(r)?);
                LearnSpec::LoadField { src, dst }
            }
            (learn_spec::DST_LOAD, Err(value)) => LearnSpec::LoadValue { value, dst: field_spec(r)? },
            (learn_spec::DST_OUTPUT, Ok(src)) => LearnSpec::Output { src },
            _ => return Err(bad(format!("learn spec header {header:#06x}"))),
        };
        specs.push(spec);
    }
    if r.rest().iter().any(|&b| b != 0) {
        return Err(bad("non-zero bytes after the learn specs".to_string()));
    }
    Ok(Learn { table, priority, idle_timeout, hard_timeout, fin_idle_timeout, fin_hard_timeout, cookie, specs })
}

/// An action list (packet-out, group buckets, write-actions): `len` bytes.
pub fn decode_actions(version: Version, r: &mut Reader, len: usize) -> Result<Vec<Action>, OfError> {
    let body = r.sub(len).map_err(|_| action_error(bad_action::BAD_LEN, format!("{len} bytes of actions are cut")))?;
    only_actions(decode_list(version, body)?)
}

/// The actions of a list that may hold nothing else.
fn only_actions(decoded: Vec<Decoded>) -> Result<Vec<Action>, OfError> {
    decoded
        .into_iter()
        .map(|decoded| match decoded {
            Decoded::Action(action) => Ok(action),
            Decoded::WriteMetadata(_) => {
                Err(action_error(bad_action::BAD_EXP_TYPE, "write_metadata is only allowed in a flow's actions"))
            }
            Decoded::Meter(_) => {
                Err(action_error(UNSUPPORTED_ORDER, "a meter action is taken only first in apply_actions"))
            }
        })
        .collect()
}

/// OF1.3: `len` bytes of instructions. OF1.0: `len` bytes of actions, which become apply_actions.
pub fn decode_instructions(version: Version, r: &mut Reader, len: usize) -> Result<Instructions, OfError> {
    match version {
        Version::V1_0 => {
            let body =
                r.sub(len).map_err(|_| action_error(bad_action::BAD_LEN, format!("{len} bytes of actions are cut")))?;
            let mut instructions = Instructions::default();
            for decoded in decode_list(version, body)? {
                match decoded {
                    Decoded::Action(action) => instructions.apply_actions.push(action),
                    Decoded::WriteMetadata(_) if instructions.write_metadata.is_some() => {
                        return Err(action_error(bad_action::BAD_ARGUMENT, "write_metadata given twice"))
                    }
                    Decoded::WriteMetadata(metadata) => instructions.write_metadata = Some(metadata),
                    // (Only 1.5 has a meter action.)
                    Decoded::Meter(_) => return Err(action_error(bad_action::BAD_TYPE, "a meter action in 1.0")),
                }
            }
            Ok(instructions)
        }
        Version::V1_3 | Version::V1_4 | Version::V1_5 => {
            let body = r.sub(len).map_err(|_| {
                instruction_error(bad_instruction::BAD_LEN, format!("{len} bytes of instructions are cut"))
            })?;
            decode_v1_3_instructions(version, body)
        }
    }
}

fn decode_v1_3_instructions(version: Version, mut r: Reader) -> Result<Instructions, OfError> {
    let bad_len = |reason: String| instruction_error(bad_instruction::BAD_LEN, reason);
    let mut instructions = Instructions::default();
    let mut seen = Vec::new();
    while !r.is_empty() {
        let kind = r.u16().map_err(|_| bad_len("truncated instruction".to_string()))?;
        let len = usize::from(r.u16().map_err(|_| bad_len("truncated instruction".to_string()))?);
        if len < 8 || len % 8 != 0 || len - 4 > r.remaining() {
            return Err(bad_len(format!("instruction {kind} of length {len}")));
        }
        let mut body = r.sub(len - 4)?;
        if seen.contains(&kind) {
            return Err(instruction_error(bad_instruction::UNSUP_INST, format!("instruction {kind} given twice")));
        }
        seen.push(kind);
        let fixed = |expected: usize| {
            if len == expected {
                Ok(())
            } else {
                Err(bad_len(format!("instruction {kind} of length {len} (expected {expected})")))
            }
        };
        match kind {
            instruction::GOTO_TABLE => {
                fixed(8)?;
                let table = body.u8()?;
                if table == u8::MAX {
                    return Err(instruction_error(bad_instruction::BAD_TABLE_ID, "goto_table 255"));
                }
                instructions.goto_table = Some(table);
            }
            instruction::WRITE_METADATA => {
                fixed(24)?;
                body.skip(4)?;
                let value = body.u64()?;
                let mask = body.u64()?;
                instructions.write_metadata = Some(WriteMetadata { value, mask });
            }
            instruction::WRITE_ACTIONS | instruction::APPLY_ACTIONS => {
                body.skip(4)?;
                let mut decoded = decode_list(version, body.sub(len - 8)?)?;
                // 1.5's meter action, first in apply_actions, is the model's meter instruction.
                if kind == instruction::APPLY_ACTIONS {
                    if let Some(Decoded::Meter(meter)) = decoded.first() {
                        if instructions.meter.replace(*meter).is_some() {
                            return Err(instruction_error(bad_instruction::UNSUP_INST, "meter given twice"));
                        }
                        decoded.remove(0);
                    }
                }
                let actions = only_actions(decoded)?;
                if kind == instruction::APPLY_ACTIONS {
                    instructions.apply_actions = actions;
                } else {
                    // Writing nothing into the action set does nothing (the text parser agrees).
                    instructions.write_actions = (!actions.is_empty()).then_some(actions);
                }
            }
            instruction::CLEAR_ACTIONS => {
                fixed(8)?;
                instructions.clear_actions = true;
            }
            instruction::METER => {
                fixed(8)?;
                if instructions.meter.replace(meter_id(body.u32()?)?).is_some() {
                    return Err(instruction_error(bad_instruction::UNSUP_INST, "meter given twice"));
                }
            }
            instruction::EXPERIMENTER => {
                return Err(instruction_error(bad_instruction::BAD_EXPERIMENTER, "experimenter instructions"))
            }
            _ => return Err(instruction_error(bad_instruction::UNKNOWN_INST, format!("unknown instruction {kind}"))),
        }
    }
    Ok(instructions)
}

// ---------------------------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------------------------

/// What the encoder knows about the packets an action list runs on: whether they carry a VLAN
/// tag (so `mod_vlan_vid` need not push one) and their IP protocol (which names the L4 port
/// fields), from the rule's match and the actions before.
#[derive(Debug, Clone, Copy)]
struct Context {
    vlan_tagged: bool,
    proto: Option<u8>,
}

impl Context {
    fn of(matches: &Match) -> Context {
        let proto = if matches.satisfies(Prereq::Ip) {
            matches.exact_value(Field::NwProto).and_then(|p| u8::try_from(p).ok())
        } else {
            None
        };
        Context { vlan_tagged: matches.satisfies(Prereq::Vlan), proto }
    }

    fn after(&mut self, action: &Action) {
        match action {
            Action::SetVlanVid { .. } | Action::SetVlanPcp { .. } | Action::PushVlan { .. } => self.vlan_tagged = true,
            Action::PopVlan => self.vlan_tagged = false,
            // The IP protocol is not known after the header changes.
            Action::PushMpls { .. } | Action::PopMpls { .. } => self.proto = None,
            Action::SetField { field: Field::VlanTci, value, mask } if mask & VLAN_PRESENT != 0 => {
                self.vlan_tagged = value & VLAN_PRESENT != 0;
            }
            Action::Load { value, dst } if dst.field == Field::VlanTci && dst.field_mask() & VLAN_PRESENT != 0 => {
                self.vlan_tagged = value.checked_shl(dst.offset).unwrap_or(0) & VLAN_PRESENT != 0;
            }
            _ => {}
        }
    }
}

/// Starts an action of `kind`; returns where its length goes.
fn begin(kind: u16, w: &mut Writer) -> usize {
    let start = w.len();
    w.u16(kind);
    w.u16(0);
    start
}

/// Pads an action or instruction to 8 bytes and writes its length.
fn finish(start: usize, w: &mut Writer) {
    w.pad_to_8(start);
    w.patch_len(start + 2, start);
}

/// Starts a Nicira action of `subtype`.
fn begin_nicira(subtype: u16, w: &mut Writer) -> usize {
    let start = begin(EXPERIMENTER_ACTION, w);
    w.u32(NX_VENDOR_ID);
    w.u16(subtype);
    start
}

/// NXAST_REG_LOAD of `value` into `dst`, in pieces of at most 64 bits from the lowest, as
/// Open vSwitch splits them. Fields without a Nicira header (vlan_tci2) cannot be loaded.
fn put_reg_load(value: u128, dst: &Subfield, proto: Option<u8>, w: &mut Writer) {
    let Some((wire, ofs, n_bits)) = subfield_to_wire(dst, proto) else { return };
    let mut done = 0;
    while done < n_bits {
        let piece = (n_bits - done).min(64);
        #[expect(clippy::cast_possible_truncation, reason = "a piece is at most 64 bits, masked")]
        let piece_value = ((value >> done) & all_ones_bits(u32::from(piece))) as u64;
        let start = begin_nicira(nxast::REG_LOAD, w);
        w.u16(((ofs + done) << 6) | (piece - 1));
        w.u32(wire.header32());
        w.u64(piece_value);
        finish(start, w);
        done += piece;
    }
}

fn all_ones_bits(bits: u32) -> u128 {
    if bits >= 128 {
        u128::MAX
    } else {
        (1u128 << bits) - 1
    }
}

/// The contiguous runs of ones in `mask`: (offset, bits).
fn runs(mask: u128) -> Vec<(u32, u32)> {
    let mut out = Vec::new();
    let mut offset = 0;
    while offset < 128 {
        let rest = mask >> offset;
        if rest == 0 {
            break;
        }
        let start = offset + rest.trailing_zeros();
        let length = (mask >> start).trailing_ones();
        out.push((start, length));
        offset = start + length;
    }
    out
}

/// A set_field of bits the OXM set_field cannot name alone: one reg_load per run of mask bits.
fn put_loads_for_mask(field: Field, value: u128, mask: u128, proto: Option<u8>, w: &mut Writer) {
    for (offset, bits) in runs(mask) {
        let dst = Subfield { field, offset, bits };
        put_reg_load((value >> offset) & all_ones_bits(bits), &dst, proto, w);
    }
}

fn put_set_field(wire: &WireField, value: u128, w: &mut Writer) {
    let start = begin(of13::SET_FIELD, w);
    wire.write_tlv(value, wire.valid(), w);
    finish(start, w);
}

/// The OXM an OpenFlow 1.3 set_field of `value` under `mask` bits of `field` uses (OXM
/// preferred, the L4 port fields named after `proto`), if one covers exactly those bits and can
/// carry the value: OXM_OF_VLAN_VID only with OFPVID_PRESENT set (OpenFlow 1.3 5.12.1), so a
/// load that clears the present bit goes out as reg_load.
fn set_field_wire(field: Field, value: u128, mask: u128, proto: Option<u8>) -> Option<&'static WireField> {
    let fits_proto = |wire: &WireField| match wire.prereq {
        Prereq::Tcp => proto.is_none_or(|p| p == ip_proto::TCP),
        Prereq::Udp => proto == Some(ip_proto::UDP),
        Prereq::Sctp => proto == Some(ip_proto::SCTP),
        _ => true,
    };
    all_wire_fields()
        .rev()
        .filter(|wire| wire.field == field && wire.field != Field::InPort && fits_proto(wire))
        .filter(|wire| **wire != OXM_OF_VLAN_VID || value & VLAN_PRESENT != 0)
        .find(|wire| wire.owned() == mask)
}

fn l4_port_wire(source: bool, proto: Option<u8>) -> Option<&'static WireField> {
    match (proto, source) {
        (Some(ip_proto::TCP), true) => Some(&OXM_OF_TCP_SRC),
        (Some(ip_proto::TCP), false) => Some(&OXM_OF_TCP_DST),
        (Some(ip_proto::UDP), true) => Some(&OXM_OF_UDP_SRC),
        (Some(ip_proto::UDP), false) => Some(&OXM_OF_UDP_DST),
        (Some(ip_proto::SCTP), true) => Some(&OXM_OF_SCTP_SRC),
        (Some(ip_proto::SCTP), false) => Some(&OXM_OF_SCTP_DST),
        _ => None,
    }
}

/// A fixed-layout action: type, length 8 or 16, a body.
fn put_simple(kind: u16, w: &mut Writer, body: impl FnOnce(&mut Writer)) {
    let start = begin(kind, w);
    body(w);
    finish(start, w);
}

/// Whether `action` sets the VLAN id or priority (so an OpenFlow 1.0 push_vlan before it can
/// be left to the set action, which pushes a tag when there is none).
fn sets_vlan(action: Option<&Action>) -> bool {
    match action {
        Some(Action::SetVlanVid { .. } | Action::SetVlanPcp { .. }) => true,
        Some(Action::SetField { field: Field::VlanTci, mask, .. }) => matches!(*mask, VLAN_VID_MASK | VLAN_PCP_MASK),
        _ => false,
    }
}

fn encode_action_list(version: Version, actions: &[Action], context: &mut Context, w: &mut Writer) {
    for (index, action) in actions.iter().enumerate() {
        match version {
            Version::V1_0 => encode_v1_0_action(action, actions.get(index + 1), context, w),
            Version::V1_5 if matches!(action, Action::Move { .. }) => put_copy_field(action, context, w),
            Version::V1_3 | Version::V1_4 | Version::V1_5 => encode_v1_3_action(action, context, w),
        }
        context.after(action);
    }
}

/// Actions that are the same in both versions: the Nicira ones, output and controller.
fn encode_common_action(version: Version, action: &Action, context: &Context, w: &mut Writer) -> bool {
    match action {
        Action::Output { port, max_len } => put_output(version, *port, *max_len, w),
        Action::Controller { max_len, reason: PacketInReason::Action } => {
            put_output(version, OfPort::CONTROLLER, *max_len, w)
        }
        Action::Controller { max_len, reason } => {
            let start = begin_nicira(nxast::CONTROLLER, w);
            w.u16(*max_len);
            w.u16(0);
            w.u8(reason_number(*reason));
            finish(start, w);
        }
        Action::Resubmit { port, table } => {
            // Open vSwitch sends resubmit:PORT as resubmit(PORT,255) too.
            let start = begin_nicira(nxast::RESUBMIT_TABLE, w);
            w.u16(port_v1_0(*port));
            w.u8(table.unwrap_or(CURRENT_TABLE));
            finish(start, w);
        }
        Action::Load { value, dst } => put_reg_load(*value, dst, context.proto, w),
        Action::Move { src, dst } => {
            let (Some((src_wire, src_ofs, src_bits)), Some((dst_wire, dst_ofs, dst_bits))) =
                (subfield_to_wire(src, context.proto), subfield_to_wire(dst, context.proto))
            else {
                return true;
            };
            let start = begin_nicira(nxast::REG_MOVE, w);
            w.u16(src_bits.min(dst_bits));
            w.u16(src_ofs);
            w.u16(dst_ofs);
            w.u32(src_wire.header32());
            w.u32(dst_wire.header32());
            finish(start, w);
        }
        Action::Learn(learn) => put_learn(learn, context.proto, w),
        _ => return false,
    }
    true
}

fn put_output(version: Version, port: OfPort, max_len: u16, w: &mut Writer) {
    let start = begin(0, w);
    write_port(version, port, w);
    w.u16(max_len);
    finish(start, w);
}

fn encode_v1_0_action(action: &Action, next: Option<&Action>, context: &Context, w: &mut Writer) {
    if encode_common_action(Version::V1_0, action, context, w) {
        return;
    }
    let proto = context.proto;
    match action {
        Action::SetVlanVid { vid, .. } => put_simple(of10::SET_VLAN_VID, w, |w| w.u16(*vid)),
        Action::SetVlanPcp { pcp, .. } => put_simple(of10::SET_VLAN_PCP, w, |w| w.u8(*pcp)),
        Action::PopVlan => put_simple(of10::STRIP_VLAN, w, |_| {}),
        // OpenFlow 1.0 has no push: a VLAN set right after pushes a tag if there is none (what
        // Open vSwitch relies on); a lone push sets the tag's present bit.
        Action::PushVlan { .. } if sets_vlan(next) => {}
        Action::PushVlan { .. } => {
            put_reg_load(1, &Subfield { field: Field::VlanTci, offset: 12, bits: 1 }, proto, w);
        }
        Action::SetEthSrc(address) => put_simple(of10::SET_DL_SRC, w, |w| write_be((*address).into(), 6, w)),
        Action::SetEthDst(address) => put_simple(of10::SET_DL_DST, w, |w| write_be((*address).into(), 6, w)),
        Action::SetIpv4Src(address) => put_simple(of10::SET_NW_SRC, w, |w| w.u32((*address).into())),
        Action::SetIpv4Dst(address) => put_simple(of10::SET_NW_DST, w, |w| w.u32((*address).into())),
        Action::SetIpTos(tos) => put_simple(of10::SET_NW_TOS, w, |w| w.u8(*tos)),
        Action::SetIpEcn(ecn) => {
            put_reg_load((*ecn).into(), &Subfield { field: Field::NwTos, offset: 0, bits: 2 }, proto, w)
        }
        Action::SetIpTtl(ttl) => put_reg_load((*ttl).into(), &Subfield::whole(Field::NwTtl), proto, w),
        Action::SetL4SrcPort(port) => put_simple(of10::SET_TP_SRC, w, |w| w.u16(*port)),
        Action::SetL4DstPort(port) => put_simple(of10::SET_TP_DST, w, |w| w.u16(*port)),
        Action::DecTtl => {
            let start = begin_nicira(nxast::DEC_TTL, w);
            finish(start, w);
        }
        Action::SetTunnel(id) => match u32::try_from(*id) {
            Ok(id32) => {
                let start = begin_nicira(nxast::SET_TUNNEL, w);
                w.zeros(2);
                w.u32(id32);
                finish(start, w);
            }
            Err(_) => {
                let start = begin_nicira(nxast::SET_TUNNEL64, w);
                w.zeros(6);
                w.u64(*id);
                finish(start, w);
            }
        },
        Action::SetField { field, value, mask } => encode_v1_0_set_field(*field, *value, *mask, proto, w),
        // OpenFlow 1.0 has no groups: Open vSwitch's extension.
        Action::Group(id) => {
            let start = begin_nicira(nxast::GROUP, w);
            w.zeros(2);
            w.u32(*id);
            finish(start, w);
        }
        // Nor MPLS: Open vSwitch's extensions; copy_ttl_in/out have no 1.0 form.
        Action::PushMpls { ethertype } | Action::PopMpls { ethertype } => {
            let push = matches!(action, Action::PushMpls { .. });
            let start = begin_nicira(if push { nxast::PUSH_MPLS } else { nxast::POP_MPLS }, w);
            w.u16(*ethertype);
            finish(start, w);
        }
        Action::SetMplsLabel(label) => {
            let start = begin_nicira(nxast::SET_MPLS_LABEL, w);
            w.zeros(2);
            w.u32(*label);
            finish(start, w);
        }
        Action::SetMplsTc(value) | Action::SetMplsTtl(value) => {
            let tc = matches!(action, Action::SetMplsTc(_));
            let start = begin_nicira(if tc { nxast::SET_MPLS_TC } else { nxast::SET_MPLS_TTL }, w);
            w.u8(*value);
            finish(start, w);
        }
        Action::DecMplsTtl => {
            let start = begin_nicira(nxast::DEC_MPLS_TTL, w);
            finish(start, w);
        }
        Action::CopyTtlOut | Action::CopyTtlIn => {}
        Action::Output { .. }
        | Action::Controller { .. }
        | Action::Resubmit { .. }
        | Action::Load { .. }
        | Action::Move { .. }
        | Action::Learn(_) => {}
    }
}

/// OpenFlow 1.0 has no set_field: the 1.0 set actions where one fits (as Open vSwitch
/// translates), reg_load otherwise.
#[expect(clippy::cast_possible_truncation, reason = "each value is of the field and mask its arm matched")]
fn encode_v1_0_set_field(field: Field, value: u128, mask: u128, proto: Option<u8>, w: &mut Writer) {
    let whole = mask == field.bits_mask();
    match (field, mask) {
        (Field::VlanTci, VLAN_VID_MASK) => put_simple(of10::SET_VLAN_VID, w, |w| w.u16(value as u16)),
        (Field::VlanTci, VLAN_PCP_MASK) => {
            put_simple(of10::SET_VLAN_PCP, w, |w| w.u8((value >> vlan::PCP_SHIFT) as u8))
        }
        (Field::NwTos, 0xfc) => put_simple(of10::SET_NW_TOS, w, |w| w.u8(value as u8)),
        (Field::DlSrc, _) if whole => put_simple(of10::SET_DL_SRC, w, |w| write_be(value, 6, w)),
        (Field::DlDst, _) if whole => put_simple(of10::SET_DL_DST, w, |w| write_be(value, 6, w)),
        (Field::NwSrc, _) if whole => put_simple(of10::SET_NW_SRC, w, |w| w.u32(value as u32)),
        (Field::NwDst, _) if whole => put_simple(of10::SET_NW_DST, w, |w| w.u32(value as u32)),
        (Field::TpSrc, _) if whole => put_simple(of10::SET_TP_SRC, w, |w| w.u16(value as u16)),
        (Field::TpDst, _) if whole => put_simple(of10::SET_TP_DST, w, |w| w.u16(value as u16)),
        _ => put_loads_for_mask(field, value, mask, proto, w),
    }
}

fn encode_v1_3_action(action: &Action, context: &Context, w: &mut Writer) {
    if encode_common_action(Version::V1_3, action, context, w) {
        return;
    }
    let proto = context.proto;
    let push_if_needed = |push: bool, w: &mut Writer| {
        if push && !context.vlan_tagged {
            put_simple(of13::PUSH_VLAN, w, |w| w.u16(ethertype::VLAN));
        }
    };
    match action {
        Action::SetVlanVid { vid, push_if_needed: push } => {
            push_if_needed(*push, w);
            put_set_field(&OXM_OF_VLAN_VID, u128::from(*vid) | VLAN_PRESENT, w);
        }
        Action::SetVlanPcp { pcp, push_if_needed: push } => {
            push_if_needed(*push, w);
            put_set_field(&OXM_OF_VLAN_PCP, (*pcp).into(), w);
        }
        Action::PopVlan => put_simple(of13::POP_VLAN, w, |_| {}),
        Action::PushVlan { tpid } => put_simple(of13::PUSH_VLAN, w, |w| w.u16(*tpid)),
        Action::SetEthSrc(address) => put_set_field(&OXM_OF_ETH_SRC, (*address).into(), w),
        Action::SetEthDst(address) => put_set_field(&OXM_OF_ETH_DST, (*address).into(), w),
        Action::SetIpv4Src(address) => put_set_field(&OXM_OF_IPV4_SRC, u32::from(*address).into(), w),
        Action::SetIpv4Dst(address) => put_set_field(&OXM_OF_IPV4_DST, u32::from(*address).into(), w),
        Action::SetIpTos(tos) => put_set_field(&OXM_OF_IP_DSCP, (tos >> 2).into(), w),
        Action::SetIpEcn(ecn) => put_set_field(&OXM_OF_IP_ECN, (*ecn).into(), w),
        Action::SetIpTtl(ttl) => put_simple(of13::SET_NW_TTL, w, |w| w.u8(*ttl)),
        Action::SetL4SrcPort(port) | Action::SetL4DstPort(port) => {
            let source = matches!(action, Action::SetL4SrcPort(_));
            match l4_port_wire(source, proto) {
                Some(wire) => put_set_field(wire, (*port).into(), w),
                // No known protocol: the deprecated 1.1 action, which Open vSwitch still takes.
                None => put_simple(if source { of13::SET_TP_SRC } else { of13::SET_TP_DST }, w, |w| w.u16(*port)),
            }
        }
        Action::DecTtl => put_simple(of13::DEC_NW_TTL, w, |_| {}),
        Action::SetTunnel(id) => put_set_field(&OXM_OF_TUNNEL_ID, (*id).into(), w),
        Action::SetField { field: Field::VlanTci, value, mask: VLAN_VID_MASK } => {
            put_set_field(&OXM_OF_VLAN_VID, (value & VLAN_VID_MASK) | VLAN_PRESENT, w);
        }
        Action::SetField { field, value, mask } => match set_field_wire(*field, *value, *mask, proto) {
            Some(wire) => put_set_field(wire, wire.wire_value(*value, *mask).0, w),
            None => put_loads_for_mask(*field, *value, *mask, proto, w),
        },
        Action::Group(id) => put_simple(of13::GROUP, w, |w| w.u32(*id)),
        Action::PushMpls { ethertype } => put_simple(of13::PUSH_MPLS, w, |w| w.u16(*ethertype)),
        Action::PopMpls { ethertype } => put_simple(of13::POP_MPLS, w, |w| w.u16(*ethertype)),
        // As Open vSwitch: 1.3 has set_field for these two.
        Action::SetMplsLabel(label) => put_set_field(&OXM_OF_MPLS_LABEL, (*label).into(), w),
        Action::SetMplsTc(tc) => put_set_field(&OXM_OF_MPLS_TC, (*tc).into(), w),
        Action::SetMplsTtl(ttl) => put_simple(of13::SET_MPLS_TTL, w, |w| w.u8(*ttl)),
        Action::DecMplsTtl => put_simple(of13::DEC_MPLS_TTL, w, |_| {}),
        Action::CopyTtlOut => put_simple(of13::COPY_TTL_OUT, w, |_| {}),
        Action::CopyTtlIn => put_simple(of13::COPY_TTL_IN, w, |_| {}),
        Action::Output { .. }
        | Action::Controller { .. }
        | Action::Resubmit { .. }
        | Action::Load { .. }
        | Action::Move { .. }
        | Action::Learn(_) => {}
    }
}

/// A move as 1.5's copy_field, with the OXM headers of the fields where they have one (as Open
/// vSwitch writes it); a subfield without a wire form is left out as the reg_move encoder does.
fn put_copy_field(action: &Action, context: &Context, w: &mut Writer) {
    let Action::Move { src, dst } = action else { return };
    let (Some((src_wire, src_ofs, src_bits)), Some((dst_wire, dst_ofs, dst_bits))) =
        (subfield_to_oxm_wire(src, context.proto), subfield_to_oxm_wire(dst, context.proto))
    else {
        return;
    };
    let start = begin(of15::COPY_FIELD, w);
    w.u16(src_bits.min(dst_bits));
    w.u16(src_ofs);
    w.u16(dst_ofs);
    w.zeros(2);
    w.u32(src_wire.header32());
    w.u32(dst_wire.header32());
    finish(start, w);
}

fn put_learn(learn: &Learn, proto: Option<u8>, w: &mut Writer) {
    let start = begin_nicira(nxast::LEARN, w);
    w.u16(learn.idle_timeout);
    w.u16(learn.hard_timeout);
    w.u16(learn.priority);
    w.u64(learn.cookie);
    w.u16(0);
    w.u8(learn.table);
    w.u8(0);
    w.u16(learn.fin_idle_timeout);
    w.u16(learn.fin_hard_timeout);
    for spec in &learn.specs {
        put_learn_spec(spec, proto, w);
    }
    finish(start, w);
}

/// One learn spec; specs naming a field without a Nicira header (vlan_tci2) are left out.
fn put_learn_spec(spec: &LearnSpec, proto: Option<u8>, w: &mut Writer) {
    let wire = |sub: &Subfield| subfield_to_wire(sub, proto);
    let (dst_type, src, dst) = match spec {
        LearnSpec::MatchField { dst, src } => (learn_spec::DST_MATCH, Ok(src), Some(dst)),
        LearnSpec::MatchValue { dst, value } => (learn_spec::DST_MATCH, Err(*value), Some(dst)),
        LearnSpec::LoadField { src, dst } => (learn_spec::DST_LOAD, Ok(src), Some(dst)),
        LearnSpec::LoadValue { value, dst } => (learn_spec::DST_LOAD, Err(*value), Some(dst)),
        LearnSpec::Output { src } => (learn_spec::DST_OUTPUT, Ok(src), None),
    };
    let src_wire = match src {
        Ok(sub) => match wire(sub) {
            Some(found) => Some(found),
            None => return,
        },
        Err(_) => None,
    };
    let dst_wire = match dst {
        Some(sub) => match wire(sub) {
            Some(found) => Some(found),
            None => return,
        },
        None => None,
    };
    let n_bits = dst_wire.or(src_wire).map_or(0, |(_, _, bits)| bits);
    let immediate = if src.is_err() { learn_spec::SRC_IMMEDIATE } else { 0 };
    w.u16(n_bits | dst_type | immediate);
    match (src, src_wire) {
        (Err(value), _) => write_be(value, 2 * usize::from(n_bits.div_ceil(16)), w),
        (Ok(_), Some((wire, ofs, _))) => {
            w.u32(wire.header32());
            w.u16(ofs);
        }
        (Ok(_), None) => {}
    }
    if let Some((wire, ofs, _)) = dst_wire {
        w.u32(wire.header32());
        w.u16(ofs);
    }
}

/// An action list (packet-out, group buckets, write-actions): no match is known, so OpenFlow
/// 1.3 writes `mod_vlan_vid` with a push_vlan before it and L4 port rewrites as the 1.1 actions.
pub fn encode_actions(version: Version, actions: &[Action], w: &mut Writer) {
    encode_action_list(version, actions, &mut Context::of(&Match::catch_all()), w);
}

/// The instructions of a rule without its match; see [`encode_rule_instructions`], which
/// flow_mods and flow stats should use.
pub fn encode_instructions(version: Version, instructions: &Instructions, w: &mut Writer) {
    encode_rule_instructions(version, instructions, &Match::catch_all(), w);
}

/// The instructions of a rule whose match is `matches`, as Open vSwitch encodes them: the
/// match tells whether packets have a VLAN tag (`mod_vlan_vid` pushes one only if not) and
/// which L4 protocol `mod_tp_src` rewrites. OpenFlow 1.0 has only actions: write_metadata
/// becomes Nicira's, goto_table `resubmit(,T)`; meter, clear_actions and write_actions have no
/// 1.0 form and are left out.
pub fn encode_rule_instructions(version: Version, instructions: &Instructions, matches: &Match, w: &mut Writer) {
    let mut context = Context::of(matches);
    match version {
        Version::V1_0 => {
            encode_action_list(version, &instructions.apply_actions, &mut context, w);
            // The resubmit is an action, so it goes before write_metadata, which Open vSwitch
            // takes as an instruction and wants after every action.
            if let Some(table) = instructions.goto_table {
                let goto = Action::Resubmit { port: OfPort::IN_PORT, table: Some(table) };
                encode_common_action(version, &goto, &context, w);
            }
            if let Some(metadata) = instructions.write_metadata {
                let start = begin_nicira(nxast::WRITE_METADATA, w);
                w.zeros(6);
                w.u64(metadata.value);
                w.u64(metadata.mask);
                finish(start, w);
            }
        }
        Version::V1_3 | Version::V1_4 | Version::V1_5 => {
            // 1.5 deprecates the meter instruction: the meter action, first in apply_actions,
            // as Open vSwitch writes it.
            let meter_action = instructions.meter.filter(|_| version >= Version::V1_5);
            if let (Some(meter), None) = (instructions.meter, meter_action) {
                put_simple(instruction::METER, w, |w| w.u32(meter));
            }
            if !instructions.apply_actions.is_empty() || meter_action.is_some() {
                let start = begin(instruction::APPLY_ACTIONS, w);
                w.zeros(4);
                if let Some(meter) = meter_action {
                    put_simple(of15::METER, w, |w| w.u32(meter));
                }
                encode_action_list(version, &instructions.apply_actions, &mut context, w);
                finish(start, w);
            }
            if instructions.clear_actions {
                put_simple(instruction::CLEAR_ACTIONS, w, |w| w.zeros(4));
            }
            if let Some(actions) = &instructions.write_actions {
                let start = begin(instruction::WRITE_ACTIONS, w);
                w.zeros(4);
                encode_action_list(version, actions, &mut context.clone(), w);
                finish(start, w);
            }
            if let Some(metadata) = instructions.write_metadata {
                put_simple(instruction::WRITE_METADATA, w, |w| {
                    w.zeros(4);
                    w.u64(metadata.value);
                    w.u64(metadata.mask);
                });
            }
            if let Some(table) = instructions.goto_table {
                put_simple(instruction::GOTO_TABLE, w, |w| w.u8(table));
            }
        }
    }
}

#[cfg(test)]
mod tests;
