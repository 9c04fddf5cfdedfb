//! What a translation read of its bridge: the tables it looked up, the key words its actions had
//! rewritten before a lookup, the input port, and the ports, MAC table entries and groups it
//! consulted. A cached megaflow keeps this record, so that a change of a bridge invalidates only
//! the megaflows that read what changed (`revalidate`). Ports, MAC entries and groups are kept
//! as 64-bit Bloom filters: a false positive costs one needless upcall, never a stale result.
#![forbid(unsafe_code)]

use crate::flow::key::{FlowKey, KEY_WORDS};

/// A set of table numbers (0-254, and 255 for completeness).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TableSet([u64; 4]);

impl TableSet {
    pub fn insert(&mut self, table: u8) {
        if let Some(word) = self.0.get_mut(usize::from(table / 64)) {
            *word |= 1 << (table % 64);
        }
    }

    pub fn contains(&self, table: u8) -> bool {
        self.0.get(usize::from(table / 64)).is_some_and(|word| word & (1 << (table % 64)) != 0)
    }

    pub fn intersects(&self, other: &TableSet) -> bool {
        self.0.iter().zip(&other.0).any(|(a, b)| a & b != 0)
    }

    pub fn union(&mut self, other: &TableSet) {
        for (a, b) in self.0.iter_mut().zip(&other.0) {
            *a |= b;
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.iter().all(|&word| word == 0)
    }
}

/// Every port of a bridge: what FLOOD, ALL and NORMAL's flooding read (a port added, removed or
/// changed anywhere changes their result).
pub const ALL_PORTS: u64 = u64::MAX;

/// The Bloom bit of an OpenFlow port number.
pub fn port_bit(ofport: u32) -> u64 {
    1 << (ofport % 64)
}

/// The Bloom bits (two) of a MAC table entry's key.
pub fn mac_bits(vlan: u16, mac: [u8; 6]) -> u64 {
    let mut bytes = [0u8; 8];
    bytes[..2].copy_from_slice(&vlan.to_be_bytes());
    bytes[2..].copy_from_slice(&mac);
    bloom2(u64::from_be_bytes(bytes))
}

/// The Bloom bits (two) of a group id.
pub fn group_bits(id: u32) -> u64 {
    bloom2(u64::from(id))
}

/// Two bits chosen by a multiplicative hash of `value`.
fn bloom2(value: u64) -> u64 {
    let h = value.wrapping_add(0x9e37_79b9_7f4a_7c15).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    let h = (h ^ (h >> 31)).wrapping_mul(0x94d0_49bb_1331_11eb);
    (1 << (h >> 58)) | (1 << ((h >> 52) & 63))
}

/// What one translation read (see the module doc).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Dependencies {
    /// The tables looked up.
    pub tables: TableSet,
    /// Key words (bit i: word i) that differed from the packet's own when a table was looked
    /// up (set_field, registers, metadata, resubmit's in_port...): a rule's match is not
    /// compared with the packet on them.
    pub rewritten_words: u32,
    /// The OpenFlow number of the input port (the pipeline matches it; a megaflow key holds
    /// the DPDK port instead).
    pub in_ofport: u32,
    /// Ports read (Bloom bits of their OpenFlow numbers; `ALL_PORTS` for the port set).
    pub ports: u64,
    /// MAC table entries read by NORMAL, present or not (Bloom bits of (VLAN, MAC)).
    pub macs: u64,
    /// Groups read, their own or a bucket's watch group (Bloom bits of their ids).
    pub groups: u64,
    /// Other bridges the translation went through (bit = bridge index % 64: a tunnel output's
    /// underlay bridge): any change of theirs may alter the result.
    pub bridges: u64,
}

impl Dependencies {
    /// Records a lookup of `table` with the packet as it is then (`now`), `start` being the
    /// packet as the pipeline received it.
    pub fn looked_up(&mut self, table: u8, start: &FlowKey, now: &FlowKey) {
        self.tables.insert(table);
        for word in 0..KEY_WORDS {
            if start.word(word) != now.word(word) {
                self.rewritten_words |= 1 << word;
            }
        }
    }

    /// Everything `other` read too (a summary of several megaflows; `rewritten_words` and
    /// `in_ofport` are not summarised).
    pub fn union(&mut self, other: &Dependencies) {
        self.tables.union(&other.tables);
        self.ports |= other.ports;
        self.macs |= other.macs;
        self.groups |= other.groups;
        self.bridges |= other.bridges;
    }

    /// Records that the result depends on bridge `bridge` (index) as a whole.
    pub fn crosses_bridge(&mut self, bridge: usize) {
        self.bridges |= 1 << (bridge % 64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::key::Field;

    #[test]
    fn table_sets_hold_every_table_number() {
        let mut set = TableSet::default();
        for table in [0, 63, 64, 200, 255] {
            assert!(!set.contains(table));
            set.insert(table);
            assert!(set.contains(table));
        }
        let mut other = TableSet::default();
        other.insert(7);
        assert!(!set.intersects(&other));
        other.insert(200);
        assert!(set.intersects(&other));
    }

    #[test]
    fn lookups_record_the_words_rewritten_before_them() {
        let start = FlowKey::default();
        let mut now = start;
        let mut deps = Dependencies::default();
        deps.looked_up(0, &start, &now);
        assert_eq!(deps.rewritten_words, 0);
        now.set_u64(Field::Metadata, 5);
        deps.looked_up(1, &start, &now);
        assert!(deps.tables.contains(0) && deps.tables.contains(1));
        assert_eq!(deps.rewritten_words, crate::flow::key::words::METADATA);
    }

    #[test]
    fn bloom_bits_are_two_and_spread() {
        let mut seen = 0u64;
        for i in 0..64u8 {
            let bits = mac_bits(1, [2, 0, 0, 0, 0, i]);
            assert!((1..=2).contains(&bits.count_ones()));
            seen |= bits;
        }
        assert!(seen.count_ones() > 48, "64 MACs set only {} of 64 bits", seen.count_ones());
    }
}
