//! Byte-level building blocks of the OpenFlow codec: protocol versions, the OFPT_ERROR
//! type/code pair every decoding failure maps to, a bounds-checked big-endian [`Reader`] and a
//! [`Writer`] that can patch lengths after the fact.

use std::fmt;

use crate::flow::OfPort;

/// An OpenFlow protocol version as the header's `version` byte has it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Version {
    V1_0,
    V1_3,
    V1_4,
    V1_5,
}

impl Version {
    pub fn wire(self) -> u8 {
        match self {
            Version::V1_0 => 0x01,
            Version::V1_3 => 0x04,
            Version::V1_4 => 0x05,
            Version::V1_5 => 0x06,
        }
    }

    pub fn from_wire(byte: u8) -> Option<Version> {
        match byte {
            0x01 => Some(Version::V1_0),
            0x04 => Some(Version::V1_3),
            0x05 => Some(Version::V1_4),
            0x06 => Some(Version::V1_5),
            _ => None,
        }
    }
}

impl fmt::Display for Version {
    /// `1.0`, `1.3`, `1.4`, `1.5`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Version::V1_0 => "1.0",
            Version::V1_3 => "1.3",
            Version::V1_4 => "1.4",
            Version::V1_5 => "1.5",
        })
    }
}

/// OFPT_ERROR types (OpenFlow 1.3 numbering; the 1.0 codec maps them to its own numbers where
/// 1.0 has the type, see [`ErrorType::wire`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorType {
    HelloFailed,
    BadRequest,
    BadAction,
    BadInstruction,
    BadMatch,
    FlowModFailed,
    GroupModFailed,
    PortModFailed,
    TableModFailed,
    QueueOpFailed,
    SwitchConfigFailed,
    RoleRequestFailed,
    MeterModFailed,
    TableFeaturesFailed,
    /// OFPET_BAD_PROPERTY of OpenFlow 1.4 (1.3: the request's own BAD_* type is used instead).
    BadProperty,
    /// OFPET_ASYNC_CONFIG_FAILED of OpenFlow 1.4.
    AsyncConfigFailed,
    /// OFPET_BUNDLE_FAILED of OpenFlow 1.4; in 1.3 the bundle extension's experimenter error
    /// (ONF, exp_type 2300 + code).
    BundleFailed,
    /// Open vSwitch's NXTTMFC_* (a TLV table mod failed): in 1.3 a Nicira experimenter error
    /// (exp_type = the code); OpenFlow 1.0 gets EPERM.
    TlvTableModFailed,
    /// OFPET_FLOW_MONITOR_FAILED of OpenFlow 1.4 (codes in `monitor::standard::code`); in 1.3
    /// Open vSwitch's Nicira experimenter errors (exp_type 6, 7, 8: `monitor::nicira::code`); in
    /// 1.0 its vendor errors (NXET_VENDOR, `message::encode_error`).
    FlowMonitorFailed,
}

impl ErrorType {
    /// The type number on the wire for `version`; `None` where OpenFlow 1.0 has no such type
    /// (the caller then reports `BadRequest`/`EPERM`-like fallbacks of its choice).
    pub fn wire(self, version: Version) -> Option<u16> {
        match version {
            Version::V1_3 => Some(match self {
                ErrorType::HelloFailed => 0,
                ErrorType::BadRequest => 1,
                ErrorType::BadAction => 2,
                ErrorType::BadInstruction => 3,
                ErrorType::BadMatch => 4,
                ErrorType::FlowModFailed => 5,
                ErrorType::GroupModFailed => 6,
                ErrorType::PortModFailed => 7,
                ErrorType::TableModFailed => 8,
                ErrorType::QueueOpFailed => 9,
                ErrorType::SwitchConfigFailed => 10,
                ErrorType::RoleRequestFailed => 11,
                ErrorType::MeterModFailed => 12,
                ErrorType::TableFeaturesFailed => 13,
                ErrorType::BundleFailed | ErrorType::TlvTableModFailed | ErrorType::FlowMonitorFailed => 0xffff,
                // 1.3 has no such types: they go out as OFPBRC_EPERM.
                ErrorType::BadProperty | ErrorType::AsyncConfigFailed => return None,
            }),
            Version::V1_4 | Version::V1_5 => Some(match self {
                ErrorType::BadProperty => 14,
                ErrorType::AsyncConfigFailed => 15,
                ErrorType::FlowMonitorFailed => 16,
                ErrorType::BundleFailed => 17,
                ErrorType::TlvTableModFailed => 0xffff,
                other => other.wire(Version::V1_3)?,
            }),
            Version::V1_0 => match self {
                ErrorType::HelloFailed => Some(0),
                ErrorType::BadRequest => Some(1),
                ErrorType::BadAction => Some(2),
                ErrorType::FlowModFailed => Some(3),
                ErrorType::PortModFailed => Some(4),
                ErrorType::QueueOpFailed => Some(5),
                // Open vSwitch's NXET_VENDOR.
                ErrorType::FlowMonitorFailed => Some(0xb0c2),
                _ => None,
            },
        }
    }
}

/// Why a message cannot be decoded or applied: the OFPT_ERROR type and code to send back (code
/// numbers as the specification of the message's version defines them) and a text for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfError {
    pub kind: ErrorType,
    pub code: u16,
    pub reason: String,
}

impl OfError {
    pub fn new(kind: ErrorType, code: u16, reason: impl Into<String>) -> OfError {
        OfError { kind, code, reason: reason.into() }
    }

    /// OFPBRC_BAD_LEN: a length field disagrees with the bytes that are there.
    pub fn bad_len(reason: impl Into<String>) -> OfError {
        OfError::new(ErrorType::BadRequest, 6, reason)
    }
}

impl fmt::Display for OfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}/{}: {}", self.kind, self.code, self.reason)
    }
}

impl std::error::Error for OfError {}

/// The whole seconds of a duration in milliseconds, as OpenFlow's `duration_sec` (saturating).
pub fn duration_sec(ms: u64) -> u32 {
    u32::try_from(ms / 1000).unwrap_or(u32::MAX)
}

/// The rest of a duration in milliseconds, as OpenFlow's `duration_nsec`.
pub fn duration_nsec(ms: u64) -> u32 {
    (ms % 1000) as u32 * 1_000_000
}

/// Reads a port number: 16 bits in OpenFlow 1.0, 32 in 1.3 and later (where the reserved ports are
/// 0xfffffff8.. and map to the 1.0 numbers [`OfPort`] uses). A 1.3 number that is neither a
/// switch port nor reserved is OFPBAC_BAD_OUT_PORT-like bad input: `bad` says which error.
pub fn read_port(version: Version, r: &mut Reader, bad: impl FnOnce(u32) -> OfError) -> Result<OfPort, OfError> {
    match version {
        Version::V1_0 => Ok(OfPort(u32::from(r.u16()?))),
        Version::V1_3 | Version::V1_4 | Version::V1_5 => {
            let number = r.u32()?;
            if number >= 0xffff_fff8 {
                Ok(OfPort(number - 0xffff_0000))
            } else if number <= *OfPort::RANGE.end() {
                Ok(OfPort(number))
            } else {
                Err(bad(number))
            }
        }
    }
}

/// A port number in OpenFlow 1.0's 16 bits. Every `OfPort` fits: switch ports are at most 0xfeff
/// and the reserved ports are kept in the 1.0 numbering (0xfff8..=0xffff); anything else would be
/// a bug, and goes out as OFPP_NONE rather than as some other port's number.
pub fn port_v1_0(port: OfPort) -> u16 {
    u16::try_from(port.0).unwrap_or(u16::MAX)
}

/// A length field's value. An element past 65535 bytes saturates: the message around it is
/// longer still, and `message::encode` refuses it (`EncodeError::TooLong`), so the field is never
/// sent cut to its low 16 bits.
pub fn len16(len: usize) -> u16 {
    u16::try_from(len).unwrap_or(u16::MAX)
}

/// Writes a port number in the width and numbering of `version`.
pub fn write_port(version: Version, port: OfPort, w: &mut Writer) {
    match version {
        Version::V1_0 => w.u16(port_v1_0(port)),
        _ if port.0 > *OfPort::RANGE.end() => w.u32(port.0 | 0xffff_0000),
        _ => w.u32(port.0),
    }
}

/// A bounds-checked big-endian cursor over a message. Running past the end is an
/// [`OfError::bad_len`], never a panic.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    bytes: &'a [u8],
    position: usize,
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader { bytes, position: 0 }
    }

    pub fn remaining(&self) -> usize {
        self.bytes.len() - self.position
    }

    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// The next `n` bytes, consumed.
    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8], OfError> {
        let end = self.position.checked_add(n).filter(|&end| end <= self.bytes.len()).ok_or_else(|| {
            OfError::bad_len(format!("{n} bytes needed at offset {}, {} left", self.position, self.remaining()))
        })?;
        let taken = &self.bytes[self.position..end];
        self.position = end;
        Ok(taken)
    }

    /// A reader over the next `n` bytes (a nested structure), consumed from this one.
    pub fn sub(&mut self, n: usize) -> Result<Reader<'a>, OfError> {
        Ok(Reader::new(self.bytes(n)?))
    }

    /// Everything not consumed yet.
    pub fn rest(&mut self) -> &'a [u8] {
        let taken = &self.bytes[self.position..];
        self.position = self.bytes.len();
        taken
    }

    pub fn skip(&mut self, n: usize) -> Result<(), OfError> {
        self.bytes(n).map(|_| ())
    }

    /// The next property of a 1.4 property list (type, length, body, padding to 8): its type and
    /// a reader over its body. A length below 4 is OFPBRC_BAD_LEN.
    pub fn property(&mut self) -> Result<(u16, Reader<'a>), OfError> {
        let kind = self.u16()?;
        let length = usize::from(self.u16()?);
        let body_len = length.checked_sub(4).ok_or_else(|| OfError::bad_len(format!("property length {length}")))?;
        let body = self.sub(body_len)?;
        self.skip(((8 - length % 8) % 8).min(self.remaining()))?;
        Ok((kind, body))
    }

    /// Looks at the next `n` bytes without consuming them.
    pub fn peek(&self, n: usize) -> Result<&'a [u8], OfError> {
        self.clone().bytes(n)
    }

    pub fn u8(&mut self) -> Result<u8, OfError> {
        Ok(self.bytes(1)?[0])
    }

    pub fn u16(&mut self) -> Result<u16, OfError> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    pub fn u32(&mut self) -> Result<u32, OfError> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    pub fn u64(&mut self) -> Result<u64, OfError> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], OfError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.bytes(N)?);
        Ok(out)
    }
}

/// A growing big-endian message buffer. Lengths that are known only at the end are written as
/// placeholders and patched with [`Writer::patch_u16`].
#[derive(Debug, Clone, Default)]
pub struct Writer {
    bytes: Vec<u8>,
}

impl Writer {
    pub fn new() -> Writer {
        Writer::default()
    }

    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    pub fn u8(&mut self, value: u8) {
        self.bytes.push(value);
    }

    pub fn u16(&mut self, value: u16) {
        self.bytes.extend_from_slice(&value.to_be_bytes());
    }

    pub fn u32(&mut self, value: u32) {
        self.bytes.extend_from_slice(&value.to_be_bytes());
    }

    pub fn u64(&mut self, value: u64) {
        self.bytes.extend_from_slice(&value.to_be_bytes());
    }

    pub fn bytes(&mut self, bytes: &[u8]) {
        self.bytes.extend_from_slice(bytes);
    }

    pub fn zeros(&mut self, n: usize) {
        self.bytes.resize(self.bytes.len() + n, 0);
    }

    /// Zero bytes up to the next multiple of 8 counted from `start`.
    pub fn pad_to_8(&mut self, start: usize) {
        let used = self.bytes.len() - start;
        self.zeros((8 - used % 8) % 8);
    }

    /// A 1.4 property: type, length, what `body` writes, padding to 8.
    pub fn property(&mut self, kind: u16, body: impl FnOnce(&mut Writer)) {
        let start = self.len();
        self.u16(kind);
        self.u16(0);
        body(self);
        self.patch_len(start + 2, start);
        self.pad_to_8(start);
    }

    /// Overwrites the u16 at `at` (a length placeholder written earlier).
    pub fn patch_u16(&mut self, at: usize, value: u16) {
        self.bytes[at..at + 2].copy_from_slice(&value.to_be_bytes());
    }

    /// Patches the length placeholder at `at` with the bytes written since `start` ([`len16`]).
    pub fn patch_len(&mut self, at: usize, start: usize) {
        self.patch_u16(at, len16(self.bytes.len() - start));
    }

    pub fn as_slice(&self) -> &[u8] {
        &self.bytes
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_past_16_bits_saturate_instead_of_wrapping() {
        assert_eq!(len16(65_535), 65_535);
        // 65_540 cut to 16 bits would be 4: a length field that points inside the element.
        assert_eq!(len16(65_540), u16::MAX);
        let mut w = Writer::new();
        w.u16(0);
        w.zeros(70_000);
        w.patch_len(0, 0);
        assert_eq!(&w.as_slice()[..2], &[0xff, 0xff]);
    }

    #[test]
    fn ports_in_16_bits() {
        assert_eq!(port_v1_0(OfPort(0xfeff)), 0xfeff);
        assert_eq!(port_v1_0(OfPort(0xfffe)), 0xfffe);
        // Not an OfPort the switch makes; OFPP_NONE, not port 1.
        assert_eq!(port_v1_0(OfPort(0x1_0001)), 0xffff);
    }

    #[test]
    fn reader_reports_short_input_instead_of_panicking() {
        let mut r = Reader::new(&[0x12, 0x34, 0x56]);
        assert_eq!(r.u16().unwrap(), 0x1234);
        let error = r.u16().unwrap_err();
        assert_eq!((error.kind, error.code), (ErrorType::BadRequest, 6));
        assert_eq!(r.u8().unwrap(), 0x56);
        assert!(r.is_empty());
        assert!(r.bytes(usize::MAX).is_err());
    }

    #[test]
    fn ports_map_between_versions() {
        for (port, v10, v13) in [
            (OfPort(1), vec![0, 1], vec![0, 0, 0, 1]),
            (OfPort::CONTROLLER, vec![0xff, 0xfd], vec![0xff, 0xff, 0xff, 0xfd]),
            (OfPort::NONE, vec![0xff, 0xff], vec![0xff, 0xff, 0xff, 0xff]),
        ] {
            for (version, bytes) in [(Version::V1_0, v10), (Version::V1_3, v13)] {
                let mut w = Writer::new();
                write_port(version, port, &mut w);
                assert_eq!(w.as_slice(), &bytes[..]);
                let bad = |n| OfError::new(ErrorType::BadAction, 4, format!("port {n}"));
                assert_eq!(read_port(version, &mut Reader::new(&bytes), bad).unwrap(), port);
            }
        }
        let bad = |n| OfError::new(ErrorType::BadAction, 4, format!("port {n}"));
        assert!(read_port(Version::V1_3, &mut Reader::new(&[0, 1, 0, 0]), bad).is_err());
    }

    #[test]
    fn writer_pads_and_patches() {
        let mut w = Writer::new();
        w.u16(0);
        w.u8(7);
        w.pad_to_8(0);
        assert_eq!(w.len(), 8);
        w.patch_u16(0, 8);
        assert_eq!(w.as_slice(), &[0, 8, 7, 0, 0, 0, 0, 0]);
    }
}
