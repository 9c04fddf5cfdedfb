//! OXS, OpenFlow 1.5's flow statistics fields (`struct ofp_stats`): a reserved word, the length
//! of the fields, then TLVs of class OFPXSC_OPENFLOW_BASIC (duration, idle time, flow count,
//! packet count, byte count), padded to 8 as `ofp_match` is. Flow removed, flow desc and
//! aggregate stats carry them in 1.5 where 1.3 has fixed fields. Unknown or experimenter fields
//! are skipped, a malformed TLV is OFPBRC_BAD_LEN.

use super::wire::{len16, OfError, Reader, Writer};

const CLASS_OPENFLOW_BASIC: u16 = 0x8002;
const DURATION: u8 = 0;
const IDLE_TIME: u8 = 1;
const FLOW_COUNT: u8 = 3;
const PACKET_COUNT: u8 = 4;
const BYTE_COUNT: u8 = 5;

/// The statistics an `ofp_stats` carries; each is optional on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OxsStats {
    /// Seconds and nanoseconds.
    pub duration: Option<(u32, u32)>,
    pub idle_time: Option<(u32, u32)>,
    pub flow_count: Option<u32>,
    pub packet_count: Option<u64>,
    pub byte_count: Option<u64>,
}

/// Reads an `ofp_stats` and its padding.
pub fn decode_stats(r: &mut Reader) -> Result<OxsStats, OfError> {
    r.skip(2)?;
    let length = usize::from(r.u16()?);
    let fields_len = length.checked_sub(4).ok_or_else(|| OfError::bad_len(format!("ofp_stats length {length}")))?;
    let mut fields = r.sub(fields_len)?;
    r.skip(((8 - length % 8) % 8).min(r.remaining()))?;
    let mut stats = OxsStats::default();
    while !fields.is_empty() {
        let class = fields.u16()?;
        let field = fields.u8()? >> 1;
        let len = usize::from(fields.u8()?);
        let mut value = fields.sub(len)?;
        if class != CLASS_OPENFLOW_BASIC {
            continue;
        }
        let exact = |expected: usize| {
            if len == expected {
                Ok(())
            } else {
                Err(OfError::bad_len(format!("OXS field {field} of {len} bytes")))
            }
        };
        match field {
            DURATION => {
                exact(8)?;
                stats.duration = Some((value.u32()?, value.u32()?));
            }
            IDLE_TIME => {
                exact(8)?;
                stats.idle_time = Some((value.u32()?, value.u32()?));
            }
            FLOW_COUNT => {
                exact(4)?;
                stats.flow_count = Some(value.u32()?);
            }
            PACKET_COUNT => {
                exact(8)?;
                stats.packet_count = Some(value.u64()?);
            }
            BYTE_COUNT => {
                exact(8)?;
                stats.byte_count = Some(value.u64()?);
            }
            _ => {}
        }
    }
    Ok(stats)
}

/// Writes an `ofp_stats` with the statistics that are there, padded to 8.
pub fn encode_stats(stats: &OxsStats, w: &mut Writer) {
    let start = w.len();
    w.u16(0);
    w.u16(0);
    let header = |w: &mut Writer, field: u8, len: u8| {
        w.u16(CLASS_OPENFLOW_BASIC);
        w.u8(field << 1);
        w.u8(len);
    };
    if let Some((sec, nsec)) = stats.duration {
        header(w, DURATION, 8);
        w.u32(sec);
        w.u32(nsec);
    }
    if let Some((sec, nsec)) = stats.idle_time {
        header(w, IDLE_TIME, 8);
        w.u32(sec);
        w.u32(nsec);
    }
    if let Some(count) = stats.flow_count {
        header(w, FLOW_COUNT, 4);
        w.u32(count);
    }
    if let Some(count) = stats.packet_count {
        header(w, PACKET_COUNT, 8);
        w.u64(count);
    }
    if let Some(count) = stats.byte_count {
        header(w, BYTE_COUNT, 8);
        w.u64(count);
    }
    w.patch_u16(start + 2, len16(w.len() - start));
    w.pad_to_8(start);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_round_trip_with_padding() {
        let stats = OxsStats {
            duration: Some((3, 500)),
            idle_time: None,
            flow_count: Some(7),
            packet_count: Some(1 << 40),
            byte_count: Some(99),
        };
        let mut w = Writer::new();
        encode_stats(&stats, &mut w);
        let bytes = w.into_bytes();
        // 4 + (4+8) + (4+4) + (4+8) + (4+8) = 48: already a multiple of 8.
        assert_eq!(&bytes[2..4], &[0, 48]);
        assert_eq!(bytes.len(), 48);
        assert_eq!(&bytes[4..8], &[0x80, 0x02, 0x00, 8]);
        let mut r = Reader::new(&bytes);
        assert_eq!(decode_stats(&mut r).unwrap(), stats);
        assert!(r.is_empty());
    }

    #[test]
    fn length_without_padding_and_unknown_fields() {
        // ofp_stats of one flow_count (length 12, padded to 16), then an experimenter field.
        let bytes = [0, 0, 0, 20, 0x80, 0x02, 3 << 1, 4, 0, 0, 0, 9, 0xff, 0xff, 0, 4, 1, 2, 3, 4, 0, 0, 0, 0];
        let mut r = Reader::new(&bytes);
        let stats = decode_stats(&mut r).unwrap();
        assert_eq!(stats.flow_count, Some(9));
        assert!(r.is_empty());
    }

    #[test]
    fn bad_lengths_are_errors_not_panics() {
        for bytes in
            [&[0u8, 0, 0, 2][..], &[0, 0, 0, 12, 0x80, 0x02, 0, 9, 0, 0, 0, 0], &[0, 0, 0, 8, 0x80, 0x02, 6, 2]]
        {
            assert!(decode_stats(&mut Reader::new(bytes)).is_err(), "{bytes:?}");
        }
    }
}
