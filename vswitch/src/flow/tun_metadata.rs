//! Geneve options as flow fields: the switch's TLV map (Open vSwitch's `add-tlv-map`,
//! NXT_TLV_TABLE_MOD), which binds an option {class, type, length} to a field `tun_metadataN`
//! (N in 0..64) and gives the field its place in the flow key's option area.
//!
//! How deep: the key holds `AREA_BYTES` (32) bytes of option data, in four words of their own
//! (a packet that carries no mapped option does not mark them present), and one option at most
//! `MAX_OPTION_LEN` (16) bytes, the widest field value the switch handles (a `u128`). Open
//! vSwitch allows 124 bytes per option and 252 in all; 32 bytes are eight 4-byte options
//! (OVN's and most controllers' size), and every byte more costs every key that holds options
//! (the exact-match cache stores at most 14 words). A mapping gets the first free run of
//! 4-byte slots of its length; a mod that does not fit fails whole (NXTTMFC_TABLE_FULL).
//!
//! `TlvMap` is a value the switch owns and changes; `publish` makes a map the one field
//! definitions read (`Field::TunMetadata(n).def()`): a process-wide table, as the map is the
//! switch's (not a bridge's). Options a received packet carries whose mapping is unknown are
//! ignored (a critical one drops the packet); a mapped field of a packet without the option
//! reads as zero, and an output to a Geneve port sends one option per mapped field whose value
//! is not zero (unlike Open vSwitch, which tracks presence apart and sends a zero value too).

use std::sync::atomic::{AtomicU64, Ordering};

/// `[prefix0, prefix1, ..., prefix63]`.
macro_rules! names {
    ($prefix:literal) => {
        names!(@ $prefix; 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56 57 58 59 60 61 62 63)
    };
    (@ $prefix:literal; $($n:literal)*) => {
        [$(concat!($prefix, $n)),*]
    };
}

/// Fields `tun_metadata0` .. `tun_metadata63`.
pub const FIELDS: usize = 64;
/// Bytes of option data the flow key holds.
pub const AREA_BYTES: usize = 32;
/// The longest option value a field holds.
pub const MAX_OPTION_LEN: u8 = 16;
/// Option data is placed in slots of this many bytes (Geneve lengths are multiples of 4).
const SLOT: usize = 4;

/// One binding: the Geneve option `{class, kind, len}` is field `tun_metadata{index}`, at
/// `offset` in the key's option area.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TlvMapping {
    pub class: u16,
    /// The option type (its high bit is the critical bit).
    pub kind: u8,
    /// Bytes of option data (a multiple of 4, 4..=MAX_OPTION_LEN).
    pub len: u8,
    pub index: u8,
    /// Byte offset in the option area (set by `TlvMap::add`).
    pub offset: u8,
}

/// Why a TLV table mod is refused: Open vSwitch's NXTTMFC_* codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlvMapError {
    /// NXTTMFC_BAD_OPT_LEN: a length that is not a multiple of 4 in 4..=16.
    BadOptionLength,
    /// NXTTMFC_BAD_FIELD_IDX: an index of 64 or more.
    BadFieldIndex,
    /// NXTTMFC_TABLE_FULL: the option area has no room left for it.
    TableFull,
    /// NXTTMFC_ALREADY_MAPPED: the field has a mapping.
    AlreadyMapped,
    /// NXTTMFC_DUP_ENTRY: the option is mapped to another field.
    DuplicateEntry,
    /// NXTTMFC_INVALID_TLV_DEL: a flow uses a mapping to delete.
    InUse,
}

impl TlvMapError {
    /// The NXTTMFC code number (OpenFlow 1.2+ experimenter error type).
    pub fn code(self) -> u16 {
        match self {
            TlvMapError::BadOptionLength => 17,
            TlvMapError::BadFieldIndex => 18,
            TlvMapError::TableFull => 19,
            TlvMapError::AlreadyMapped => 20,
            TlvMapError::DuplicateEntry => 21,
            TlvMapError::InUse => 38,
        }
    }
}

impl std::fmt::Display for TlvMapError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TlvMapError::BadOptionLength => "option length must be a multiple of 4 from 4 to 16",
            TlvMapError::BadFieldIndex => "field index must be below 64",
            TlvMapError::TableFull => "no room left in the 32 bytes of option data the flow key holds",
            TlvMapError::AlreadyMapped => "the field is already mapped",
            TlvMapError::DuplicateEntry => "the option is already mapped to another field",
            TlvMapError::InUse => "a flow uses the mapping",
        })
    }
}

/// The switch's TLV map.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlvMap {
    mappings: Vec<TlvMapping>,
}

impl TlvMap {
    /// The mappings, by field index.
    pub fn mappings(&self) -> &[TlvMapping] {
        &self.mappings
    }

    /// The mapping of field `index`.
    pub fn get(&self, index: u8) -> Option<&TlvMapping> {
        self.mappings.iter().find(|m| m.index == index)
    }

    /// Adds mappings (`offset` ignored: placed here), all or none.
    pub fn add(&mut self, new: &[TlvMapping]) -> Result<(), TlvMapError> {
        let mut next = self.clone();
        for mapping in new {
            next.add_one(*mapping)?;
        }
        *self = next;
        Ok(())
    }

    fn add_one(&mut self, mut mapping: TlvMapping) -> Result<(), TlvMapError> {
        if usize::from(mapping.index) >= FIELDS {
            return Err(TlvMapError::BadFieldIndex);
        }
        if mapping.len == 0 || !mapping.len.is_multiple_of(4) || mapping.len > MAX_OPTION_LEN {
            return Err(TlvMapError::BadOptionLength);
        }
        if self.get(mapping.index).is_some() {
            return Err(TlvMapError::AlreadyMapped);
        }
        if self.mappings.iter().any(|m| (m.class, m.kind) == (mapping.class, mapping.kind)) {
            return Err(TlvMapError::DuplicateEntry);
        }
        let mut used = [false; AREA_BYTES / SLOT];
        for m in &self.mappings {
            let first = usize::from(m.offset) / SLOT;
            used.iter_mut().skip(first).take(usize::from(m.len) / SLOT).for_each(|slot| *slot = true);
        }
        let slots = usize::from(mapping.len) / SLOT;
        let start = (0..=used.len() - slots)
            .find(|&first| used[first..first + slots].iter().all(|taken| !taken))
            .ok_or(TlvMapError::TableFull)?;
        mapping.offset = u8::try_from(start * SLOT).map_err(|_| TlvMapError::TableFull)?;
        let at = self.mappings.partition_point(|m| m.index < mapping.index);
        self.mappings.insert(at, mapping);
        Ok(())
    }

    /// Deletes the mappings of fields `indexes` (an unmapped one is no error); `in_use` says
    /// whether a flow uses a field: then nothing is deleted.
    pub fn delete(&mut self, indexes: &[u8], in_use: impl Fn(u8) -> bool) -> Result<(), TlvMapError> {
        if indexes.iter().any(|&index| self.get(index).is_some() && in_use(index)) {
            return Err(TlvMapError::InUse);
        }
        self.mappings.retain(|m| !indexes.contains(&m.index));
        Ok(())
    }

    /// Deletes every mapping, unless a flow uses one.
    pub fn clear(&mut self, in_use: impl Fn(u8) -> bool) -> Result<(), TlvMapError> {
        let all: Vec<u8> = self.mappings.iter().map(|m| m.index).collect();
        self.delete(&all, in_use)
    }
}

/// The published map, per field: 0 = unmapped, else `1 << 48 | class << 32 | kind << 24 |
/// len << 16 | offset`.
static PUBLISHED: [AtomicU64; FIELDS] = [const { AtomicU64::new(0) }; FIELDS];

/// Makes `map` the one field definitions read.
pub fn publish(map: &TlvMap) {
    for (index, slot) in PUBLISHED.iter().enumerate() {
        let word = map.mappings.iter().find(|m| usize::from(m.index) == index).map_or(0, |m| {
            1 << 48 | u64::from(m.class) << 32 | u64::from(m.kind) << 24 | u64::from(m.len) << 16 | u64::from(m.offset)
        });
        slot.store(word, Ordering::Release);
    }
}

/// The published mapping of field `index`.
pub fn published(index: u8) -> Option<TlvMapping> {
    let word = PUBLISHED.get(usize::from(index))?.load(Ordering::Acquire);
    let byte = |shift: u32| u8::try_from((word >> shift) & 0xff).unwrap_or(0);
    (word != 0).then(|| TlvMapping {
        class: u16::try_from((word >> 32) & 0xffff).unwrap_or(0),
        kind: byte(24),
        len: byte(16),
        index,
        offset: byte(0),
    })
}

/// Every published mapping, by field index.
pub fn published_map() -> TlvMap {
    TlvMap { mappings: (0..FIELDS).filter_map(|i| u8::try_from(i).ok().and_then(published)).collect() }
}

/// `tun_metadata0` .. `tun_metadata63`.
pub const NAMES: [&str; FIELDS] = names!("tun_metadata");
/// `NXM_NX_TUN_METADATA0` .. `NXM_NX_TUN_METADATA63`.
pub const NXM_NAMES: [&str; FIELDS] = names!("NXM_NX_TUN_METADATA");

/// The field index a name ends in, if `name` is `prefix` and a number below 64.
pub fn index_of(name: &str, prefix: &str) -> Option<u8> {
    let digits = name.strip_prefix(prefix)?;
    if digits.is_empty() || digits.len() > 2 || (digits.len() == 2 && digits.starts_with('0')) {
        return None;
    }
    digits.parse::<u8>().ok().filter(|&n| usize::from(n) < FIELDS)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn mapping(class: u16, kind: u8, len: u8, index: u8) -> TlvMapping {
        TlvMapping { class, kind, len, index, offset: 0 }
    }

    /// The mappings unit tests use wherever a field needs one (the published map is the
    /// process's, shared by the tests running at once: every test publishes this same map).
    pub(crate) fn publish_test_map() {
        let mut map = TlvMap::default();
        map.add(&[mapping(0xffff, 1, 4, 0), mapping(0x0102, 0x80, 8, 1), mapping(0xffff, 3, 16, 63)]).unwrap();
        publish(&map);
    }

    #[test]
    fn mappings_take_the_first_free_slots_and_refuse_what_does_not_fit() {
        let mut map = TlvMap::default();
        map.add(&[mapping(0xffff, 0, 4, 0), mapping(0xffff, 1, 8, 5)]).unwrap();
        assert_eq!(map.get(5).map(|m| m.offset), Some(4));
        map.delete(&[0], |_| false).unwrap();
        map.add(&[mapping(0xffff, 2, 4, 1)]).unwrap();
        assert_eq!(map.get(1).map(|m| m.offset), Some(0), "the freed slot");
        assert_eq!(map.add(&[mapping(0xffff, 3, 16, 2), mapping(0xffff, 4, 8, 3)]), Err(TlvMapError::TableFull));
        assert_eq!(map.mappings().len(), 2, "all or none");
        map.add(&[mapping(0xffff, 3, 16, 2), mapping(0xffff, 4, 4, 3)]).unwrap();
        assert_eq!(map.add(&[mapping(0xffff, 9, 4, 2)]), Err(TlvMapError::AlreadyMapped));
        assert_eq!(map.add(&[mapping(0xffff, 1, 4, 9)]), Err(TlvMapError::DuplicateEntry));
        assert_eq!(map.add(&[mapping(0xffff, 9, 6, 9)]), Err(TlvMapError::BadOptionLength));
        assert_eq!(map.add(&[mapping(0xffff, 9, 20, 9)]), Err(TlvMapError::BadOptionLength));
        assert_eq!(map.add(&[mapping(0xffff, 9, 4, 64)]), Err(TlvMapError::BadFieldIndex));
        assert_eq!(map.delete(&[2, 7], |index| index == 2), Err(TlvMapError::InUse));
        assert_eq!(map.delete(&[7], |_| true), Ok(()), "an unmapped field is not in use");
        assert_eq!(map.clear(|index| index == 3), Err(TlvMapError::InUse));
        map.clear(|_| false).unwrap();
        assert!(map.mappings().is_empty());
    }

    #[test]
    fn the_published_map_reads_back() {
        publish_test_map();
        assert_eq!(published(1), Some(TlvMapping { class: 0x0102, kind: 0x80, len: 8, index: 1, offset: 4 }));
        assert_eq!(published(2), None);
        assert_eq!(published_map().mappings().len(), 3);
    }

    #[test]
    fn names_and_indexes() {
        assert_eq!((NAMES[0], NAMES[63], NXM_NAMES[7]), ("tun_metadata0", "tun_metadata63", "NXM_NX_TUN_METADATA7"));
        assert_eq!(index_of("tun_metadata12", "tun_metadata"), Some(12));
        for bad in ["tun_metadata", "tun_metadata64", "tun_metadata01", "tun_metadata1x", "tun_metadata100"] {
            assert_eq!(index_of(bad, "tun_metadata"), None, "{bad}");
        }
    }
}
