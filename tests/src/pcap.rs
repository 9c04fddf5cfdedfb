//! Test traffic: Ethernet/IPv4/UDP frames with distinct contents, and a
//! minimal reader and writer of classic pcap files (what net_pcap reads with
//! `rx_pcap=` and writes with `tx_pcap=`). Frames are compared byte for byte;
//! timestamps are ignored.
use std::path::Path;

/// Classic pcap magic, microsecond timestamps, as written natively.
const MAGIC_MICROS: u32 = 0xa1b2_c3d4;
/// The same with nanosecond timestamps (libpcap writes this for net_pcap).
const MAGIC_NANOS: u32 = 0xa1b2_3c4d;
const LINKTYPE_ETHERNET: u32 = 1;
const SNAPLEN: u32 = 65535;
const FILE_HEADER_LEN: usize = 24;
const RECORD_HEADER_LEN: usize = 16;

/// Smallest frame generated: the Ethernet minimum without FCS.
pub const MIN_FRAME: usize = 60;
/// Largest frame generated: a 1500-byte IP packet in Ethernet, without FCS.
pub const MAX_FRAME: usize = 1514;
const ETH_HEADER: usize = 14;
const IPV4_HEADER: usize = 20;
const UDP_HEADER: usize = 8;

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

/// An Ethernet/IPv4/UDP frame of exactly `len` bytes (60..=1514) whose
/// addresses, ports, IP id and payload all depend on `index`, so no two
/// frames of a test are alike. `flow` tells sources apart (it goes into the
/// source MAC and IP).
pub fn udp_frame(flow: u8, index: u32, len: usize) -> Vec<u8> {
    assert!((MIN_FRAME..=MAX_FRAME).contains(&len), "frame length {len} outside {MIN_FRAME}..={MAX_FRAME}");
    let id = index.to_be_bytes();
    let mut frame = Vec::with_capacity(len);
    // Ethernet: locally administered unicast MACs.
    frame.extend_from_slice(&[0x02, 0x00, 0x00, id[1], id[2], id[3]]);
    frame.extend_from_slice(&[0x02, 0x01, flow, id[1], id[2], id[3]]);
    frame.extend_from_slice(&0x0800u16.to_be_bytes());
    // IPv4, no options.
    let ip_len = u16::try_from(len - ETH_HEADER).expect("checked above");
    let ip_start = frame.len();
    frame.extend_from_slice(&[0x45, 0x00]);
    frame.extend_from_slice(&ip_len.to_be_bytes());
    frame.extend_from_slice(&((index & 0xffff) as u16).to_be_bytes()); // identification
    frame.extend_from_slice(&[0x40, 0x00, 64, 17]); // DF, TTL 64, UDP
    frame.extend_from_slice(&[0, 0]); // checksum, below
    frame.extend_from_slice(&[10, flow, id[2], id[3]]);
    frame.extend_from_slice(&[10, 200, id[2], id[3]]);
    let checksum = ipv4_checksum(&frame[ip_start..ip_start + IPV4_HEADER]);
    frame[ip_start + 10..ip_start + 12].copy_from_slice(&checksum.to_be_bytes());
    // UDP, checksum 0 (none).
    let udp_len = ip_len - u16::try_from(IPV4_HEADER).unwrap();
    frame.extend_from_slice(&(1024 + (index % 50_000) as u16).to_be_bytes());
    frame.extend_from_slice(&(5000 + flow as u16).to_be_bytes());
    frame.extend_from_slice(&udp_len.to_be_bytes());
    frame.extend_from_slice(&[0, 0]);
    // Payload: the index, then a byte pattern that shifts with it.
    let payload_len = len - ETH_HEADER - IPV4_HEADER - UDP_HEADER;
    let mut payload: Vec<u8> = index.to_be_bytes().into_iter().chain(std::iter::once(flow)).collect();
    payload.extend((0..).map(|i: u32| (i.wrapping_mul(31).wrapping_add(index) & 0xff) as u8).take(payload_len));
    payload.truncate(payload_len);
    frame.extend_from_slice(&payload);
    debug_assert_eq!(frame.len(), len);
    frame
}

/// `count` distinct frames of `flow` whose lengths sweep 60..=1514 (every
/// length class, small to jumbo-less maximum, in a scattered order).
pub fn varied_frames(flow: u8, count: u32) -> Vec<Vec<u8>> {
    let span = u32::try_from(MAX_FRAME - MIN_FRAME + 1).unwrap();
    (0..count).map(|i| udp_frame(flow, i, MIN_FRAME + (i.wrapping_mul(389) % span) as usize)).collect()
}

/// Panics unless `actual` holds exactly the frames of `expected`, in order,
/// byte for byte; the message names the first difference.
pub fn assert_same_frames(expected: &[Vec<u8>], actual: &[Vec<u8>], what: &str) {
    for (index, (want, got)) in expected.iter().zip(actual).enumerate() {
        if want != got {
            let first_byte = want.iter().zip(got.iter()).position(|(a, b)| a != b).unwrap_or(want.len().min(got.len()));
            panic!(
                "{what}: frame {index} differs (expected {} bytes, got {}; first difference at byte {first_byte})",
                want.len(),
                got.len()
            );
        }
    }
    assert_eq!(
        actual.len(),
        expected.len(),
        "{what}: {} frames instead of {} (the first {} are equal)",
        actual.len(),
        expected.len(),
        expected.len().min(actual.len())
    );
}

fn ipv4_checksum(header: &[u8]) -> u16 {
    let mut sum: u32 = header.chunks(2).map(|pair| u32::from(u16::from_be_bytes([pair[0], pair[1]]))).sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !u16::try_from(sum).expect("folded to 16 bits")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_have_their_length_and_are_distinct() {
        let frames = varied_frames(1, 1000);
        assert!(frames.iter().all(|f| (MIN_FRAME..=MAX_FRAME).contains(&f.len())));
        assert_eq!(frames.iter().map(Vec::len).min(), Some(MIN_FRAME));
        assert!(frames.iter().map(Vec::len).max() > Some(1400));
        let mut sorted = frames.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), frames.len(), "duplicate frames");
        assert_ne!(udp_frame(1, 7, 100), udp_frame(2, 7, 100));
    }

    #[test]
    fn ip_header_checksum_verifies() {
        let frame = udp_frame(3, 12345, 200);
        let header = &frame[ETH_HEADER..ETH_HEADER + IPV4_HEADER];
        assert_eq!(ipv4_checksum(header), 0, "a header with its checksum sums to 0xffff");
    }

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
