//! TEMPORARY: replaced by the of-match branch at merge.
//! Minimal match codec with the contract's signatures, enough for the message codec's tests:
//! in_port, metadata, eth_type and IPv4 addresses (OXM, the OpenFlow 1.0 ofp_match and NXM).

use crate::flow::key::Field;
use crate::flow::{Match, OfPort};

use super::wire::{read_port, write_port, ErrorType, OfError, Reader, Version, Writer};

fn bad_field(what: impl Into<String>) -> OfError {
    OfError::new(ErrorType::BadMatch, 6, what)
}

fn bad_port(number: u32) -> OfError {
    OfError::new(ErrorType::BadMatch, 7, format!("in_port {number}"))
}

const OXM_FIELDS: [(u8, Field, usize); 5] = [
    (0, Field::InPort, 4),
    (2, Field::Metadata, 8),
    (5, Field::DlType, 2),
    (11, Field::NwSrc, 4),
    (12, Field::NwDst, 4),
];
const NXM_FIELDS: [(u32, Field, usize); 5] = [
    (0x0000_0002, Field::InPort, 2),
    (0x0000_0602, Field::DlType, 2),
    (0x0001_0004, Field::Reg(0), 4),
    (0x0001_0204, Field::Reg(1), 4),
    (0x0001_2008, Field::TunId, 8),
];

fn read_value(r: &mut Reader, bytes: usize) -> Result<u128, OfError> {
    Ok(r.bytes(bytes)?.iter().fold(0u128, |acc, &b| acc << 8 | u128::from(b)))
}

fn write_value(value: u128, bytes: usize, w: &mut Writer) {
    w.bytes(&value.to_be_bytes()[16 - bytes..]);
}

/// OF1.3: one ofp_match (type OFPMT_OXM, length, OXM TLVs, padding to 8), consumed incl. padding.
/// OF1.0: the fixed 40-byte ofp_match (wildcards bits, nw_src/dst CIDR bits).
pub fn decode_match(version: Version, r: &mut Reader) -> Result<Match, OfError> {
    let mut m = Match::catch_all();
    match version {
        Version::V1_3 => {
            if r.u16()? != 1 {
                return Err(OfError::new(ErrorType::BadMatch, 0, "not an OXM match"));
            }
            let length = usize::from(r.u16()?);
            let mut tlvs =
                r.sub(length.checked_sub(4).ok_or_else(|| OfError::new(ErrorType::BadMatch, 1, "short"))?)?;
            r.skip((8 - length % 8) % 8)?;
            while !tlvs.is_empty() {
                let class = tlvs.u16()?;
                let field_and_mask = tlvs.u8()?;
                let len = usize::from(tlvs.u8()?);
                let field = OXM_FIELDS.iter().find(|(number, _, bytes)| {
                    class == 0x8000 && *number == field_and_mask >> 1 && len == bytes << (field_and_mask & 1)
                });
                let &(_, field, bytes) = field.ok_or_else(|| bad_field(format!("OXM {class:#x}/{field_and_mask}")))?;
                if field == Field::InPort {
                    m.set_in_port(read_port(Version::V1_3, &mut tlvs, bad_port)?);
                    continue;
                }
                let value = read_value(&mut tlvs, bytes)?;
                let mask = if field_and_mask & 1 == 1 { read_value(&mut tlvs, bytes)? } else { u128::MAX };
                m.set_masked(field, value, mask);
            }
        }
        Version::V1_0 => {
            let wildcards = r.u32()?;
            let in_port = r.u16()?;
            r.skip(12 + 2 + 1 + 1)?;
            let dl_type = r.u16()?;
            r.skip(4)?;
            let nw_src = r.u32()?;
            let nw_dst = r.u32()?;
            r.skip(4)?;
            if wildcards & 0x0030_00ee != 0x0030_00ee {
                return Err(bad_field("unsupported OpenFlow 1.0 match field"));
            }
            if wildcards & 1 == 0 {
                m.set_in_port(OfPort(u32::from(in_port)));
            }
            if wildcards & 0x10 == 0 {
                m.set_exact(Field::DlType, u128::from(dl_type));
            }
            for (shift, field, value) in [(8, Field::NwSrc, nw_src), (14, Field::NwDst, nw_dst)] {
                let wild = (wildcards >> shift & 0x3f).min(32);
                let mask = if wild == 32 { 0 } else { u32::MAX << wild };
                m.set_masked(field, u128::from(value), u128::from(mask));
            }
        }
    }
    Ok(m)
}

pub fn encode_match(version: Version, m: &Match, w: &mut Writer) {
    match version {
        Version::V1_3 => {
            let start = w.len();
            w.u16(1);
            w.u16(0);
            for &(number, field, bytes) in &OXM_FIELDS {
                let (value, mask) = m.value_and_mask(field);
                if mask == 0 {
                    continue;
                }
                let full = field.bits_mask();
                let masked = mask != full;
                w.u16(0x8000);
                w.u8(number << 1 | u8::from(masked));
                w.u8((bytes << u8::from(masked)) as u8);
                if field == Field::InPort {
                    write_port(Version::V1_3, OfPort(value as u32), w);
                    continue;
                }
                write_value(value, bytes, w);
                if masked {
                    write_value(mask, bytes, w);
                }
            }
            let length = w.len() - start;
            w.patch_u16(start + 2, length as u16);
            w.pad_to_8(start);
        }
        Version::V1_0 => {
            let mut wildcards = 0x0030_00ee_u32;
            let in_port = m.in_port();
            if in_port.is_none() {
                wildcards |= 1;
            }
            let (dl_type, dl_type_mask) = m.value_and_mask(Field::DlType);
            if dl_type_mask == 0 {
                wildcards |= 0x10;
            }
            let mut addresses = [0u32; 2];
            for (i, (shift, field)) in [(8, Field::NwSrc), (14, Field::NwDst)].into_iter().enumerate() {
                let (value, mask) = m.value_and_mask(field);
                wildcards |= (32 - (mask as u32).count_ones()) << shift;
                addresses[i] = value as u32;
            }
            w.u32(wildcards);
            w.u16(in_port.map_or(0, |port| port.0 as u16));
            w.zeros(16);
            w.u16(dl_type as u16);
            w.zeros(4);
            w.u32(addresses[0]);
            w.u32(addresses[1]);
            w.zeros(4);
        }
    }
}

/// Whether the fixed OpenFlow 1.0 ofp_match can express `m` (else the Nicira NXM formats are needed).
pub fn fits_v1_0_match(m: &Match) -> bool {
    let mut rest = m.clone();
    for field in [Field::InPort, Field::DlType, Field::NwSrc, Field::NwDst] {
        rest.wildcard(field);
    }
    rest.is_catch_all()
}

/// Nicira nx_match: `len` bytes of NXM/OXM TLVs, no header, no padding (NXT_FLOW_MOD, NXST_FLOW, NXT_PACKET_IN).
pub fn decode_nx_match(r: &mut Reader, len: usize) -> Result<Match, OfError> {
    let mut tlvs = r.sub(len)?;
    let mut m = Match::catch_all();
    while !tlvs.is_empty() {
        let header = tlvs.u32()?;
        let &(_, field, bytes) =
            NXM_FIELDS.iter().find(|(h, _, _)| *h == header).ok_or_else(|| bad_field(format!("NXM {header:#x}")))?;
        let value = read_value(&mut tlvs, bytes)?;
        m.set_exact(field, value);
    }
    Ok(m)
}

/// Writes the TLVs and returns their length (no padding).
pub fn encode_nx_match(m: &Match, w: &mut Writer) -> usize {
    let start = w.len();
    for &(header, field, bytes) in &NXM_FIELDS {
        if let Some(value) = m.exact_value(field) {
            w.u32(header);
            write_value(value, bytes, w);
        }
    }
    w.len() - start
}
