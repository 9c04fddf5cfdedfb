//! A minimal reader and writer of classic pcap files (what net_pcap reads
//! with `rx_pcap=` and writes with `tx_pcap=`); timestamps are ignored. The
//! frames themselves are built and compared by `frames`.
use std::path::Path;

/// Classic pcap magic, microsecond timestamps, as written natively.
const MAGIC_MICROS: u32 = 0xa1b2_c3d4;
/// The same with nanosecond timestamps (libpcap writes this for net_pcap).
const MAGIC_NANOS: u32 = 0xa1b2_3c4d;
const LINKTYPE_ETHERNET: u32 = 1;
const SNAPLEN: u32 = 65535;
const FILE_HEADER_LEN: usize = 24;
const RECORD_HEADER_LEN: usize = 16;

/// Writes `frames` into a new pcap file at `path` (Ethernet link type,
/// microsecond timestamps 1 ms apart).
pub fn write(path: &Path, frames: &[Vec<u8>]) {
    let mut bytes =
        Vec::with_capacity(FILE_HEADER_LEN + frames.iter().map(|f| f.len() + RECORD_HEADER_LEN).sum::<usize>());
    bytes.extend_from_slice(&MAGIC_MICROS.to_le_bytes());
    bytes.extend_from_slice(&2u16.to_le_bytes()); // version 2.4
    bytes.extend_from_slice(&4u16.to_le_bytes());
    bytes.extend_from_slice(&0i32.to_le_bytes()); // GMT offset
    bytes.extend_from_slice(&0u32.to_le_bytes()); // accuracy
    bytes.extend_from_slice(&SNAPLEN.to_le_bytes());
    bytes.extend_from_slice(&LINKTYPE_ETHERNET.to_le_bytes());
    for (index, frame) in frames.iter().enumerate() {
        let len = u32::try_from(frame.len()).expect("frame too long for pcap");
        let millis = u32::try_from(index).expect("too many frames");
        bytes.extend_from_slice(&(millis / 1000).to_le_bytes());
        bytes.extend_from_slice(&((millis % 1000) * 1000).to_le_bytes());
        bytes.extend_from_slice(&len.to_le_bytes()); // captured
        bytes.extend_from_slice(&len.to_le_bytes()); // on the wire
        bytes.extend_from_slice(frame);
    }
    std::fs::write(path, bytes).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
}

/// The frames of the pcap file at `path`, in order. Panics on anything that
/// is not a complete classic pcap file (either byte order, either timestamp
/// resolution) or holds truncated records.
pub fn read(path: &Path) -> Vec<Vec<u8>> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    parse(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The frames of a pcap file's contents.
pub fn parse(bytes: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    if bytes.len() < FILE_HEADER_LEN {
        return Err(format!("{} bytes: shorter than a pcap file header", bytes.len()));
    }
    let magic_le = u32::from_le_bytes(word(bytes, 0));
    let little_endian = match magic_le {
        MAGIC_MICROS | MAGIC_NANOS => true,
        _ if [MAGIC_MICROS, MAGIC_NANOS].contains(&magic_le.swap_bytes()) => false,
        _ => return Err(format!("not a pcap file (magic {magic_le:#010x})")),
    };
    let u32_at = |offset: usize| {
        let raw = word(bytes, offset);
        if little_endian {
            u32::from_le_bytes(raw)
        } else {
            u32::from_be_bytes(raw)
        }
    };
    let link_type = u32_at(20);
    if link_type != LINKTYPE_ETHERNET {
        return Err(format!("link type {link_type}, expected Ethernet ({LINKTYPE_ETHERNET})"));
    }
    let mut frames = Vec::new();
    let mut offset = FILE_HEADER_LEN;
    while offset < bytes.len() {
        if bytes.len() - offset < RECORD_HEADER_LEN {
            return Err(format!("truncated record header at byte {offset}"));
        }
        let captured = u32_at(offset + 8) as usize;
        let on_wire = u32_at(offset + 12) as usize;
        if captured != on_wire {
            return Err(format!("frame {} at byte {offset} was cut: {captured} of {on_wire} bytes", frames.len()));
        }
        let start = offset + RECORD_HEADER_LEN;
        let end = start.checked_add(captured).filter(|&end| end <= bytes.len());
        let Some(end) = end else {
            return Err(format!("frame {} at byte {offset} is truncated", frames.len()));
        };
        frames.push(bytes[start..end].to_vec());
        offset = end;
    }
    Ok(frames)
}

fn word(bytes: &[u8], offset: usize) -> [u8; 4] {
    [bytes[offset], bytes[offset + 1], bytes[offset + 2], bytes[offset + 3]]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frames::varied_frames;

    #[test]
    fn write_then_read_round_trips() {
        let path = std::env::temp_dir().join(format!("vsw-e2e-pcap-{}.pcap", std::process::id()));
        let frames = varied_frames(9, 50);
        write(&path, &frames);
        assert_eq!(read(&path), frames);
        write(&path, &[]);
        assert!(read(&path).is_empty());
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn big_endian_and_nanosecond_files_are_read() {
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&MAGIC_NANOS.to_be_bytes());
        bytes.extend_from_slice(&[0, 2, 0, 4]);
        bytes.extend_from_slice(&[0; 8]);
        bytes.extend_from_slice(&SNAPLEN.to_be_bytes());
        bytes.extend_from_slice(&LINKTYPE_ETHERNET.to_be_bytes());
        bytes.extend_from_slice(&[0; 8]);
        bytes.extend_from_slice(&3u32.to_be_bytes());
        bytes.extend_from_slice(&3u32.to_be_bytes());
        bytes.extend_from_slice(&[7, 8, 9]);
        assert_eq!(parse(&bytes).unwrap(), vec![vec![7, 8, 9]]);
    }

    #[test]
    fn truncated_files_are_errors() {
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&MAGIC_MICROS.to_le_bytes());
        bytes.extend_from_slice(&[2, 0, 4, 0]);
        bytes.extend_from_slice(&[0; 8]);
        bytes.extend_from_slice(&SNAPLEN.to_le_bytes());
        bytes.extend_from_slice(&LINKTYPE_ETHERNET.to_le_bytes());
        bytes.extend_from_slice(&[0; 8]);
        bytes.extend_from_slice(&10u32.to_le_bytes());
        bytes.extend_from_slice(&10u32.to_le_bytes());
        bytes.extend_from_slice(&[1, 2, 3]);
        assert!(parse(&bytes).unwrap_err().contains("truncated"));
        assert!(parse(&[0; 10]).is_err());
        assert!(parse(&[0; 24]).unwrap_err().contains("not a pcap"));
    }
}
