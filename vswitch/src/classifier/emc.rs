//! The exact-match cache of a PMD, in front of its megaflow table (Open vSwitch's EMC): packets'
//! full flow keys mapped to the megaflow they matched, so that a packet of a known flow costs one
//! hash and one or two cache lines instead of a tuple-space search.
//!
//! A key is identified by the words its parser set (`present`, a word bitmap) and their values;
//! only those words are hashed and compared. The hash comes from the caller: `Emc::hash` computes
//! it, but any hash that is equal for equal (key, present) pairs works (a NIC's RSS hash over the
//! headers in the key, for instance). Each key has two candidate slots, at two bit ranges of the
//! hash (`hash` and `hash` rotated by 16 bits, masked to the table size).
//!
//! Layout. A slot is one 64-byte line: the megaflow's `EntryId`, the hash, the present bitmap
//! (with a "referenced" bit) and the first 6 present words, which is a whole IPv4/TCP/UDP/ICMP
//! key (words 0-4, one line per lookup). Words 7 to 14 of longer keys (IPv6: 9 words, IPv6
//! neighbour discovery: 13, a tunnel adds 2 over IPv4 and 5 over IPv6, one more with tun_flags)
//! go to the slot's line in a parallel extension array, touched only by such keys. Keys of more
//! than 14 present words (IPv6 ND inside a tunnel) are not cached. 8192 slots: 512 KiB for IPv4
//! traffic (half of a 1 MiB L2), 1 MiB with IPv6; instead of 8192 x 240-byte keys (1.9 MiB) plus
//! hash and id.
//!
//! Policy. A hit must be confirmed by the caller's `alive` check (is the megaflow still
//! installed?); a dead one empties the slot and counts as a miss. Insertion is probabilistic, 1 in
//! `insert_inv_prob` calls (Open vSwitch's default 100; 1 = always, 0 = never), using a per-cache
//! xorshift, so short flows do not thrash the cache. A key already in a candidate slot gets the new
//! megaflow; otherwise an empty candidate is taken, else one not hit since the last insertion
//! into this pair (second chance: a hit sets the slot's referenced bit, an insertion clears both),
//! else a random one of the two. Nothing allocates, locks or blocks in `lookup`, `insert` and
//! `clear`.

use super::hash::{hash_words, key_word};
use super::megaflow::EntryId;
use crate::flow::key::{words, FlowKey};

/// Slots unless configured otherwise (Open vSwitch's EMC size).
pub const DEFAULT_ENTRIES: usize = 8192;
/// The largest cache (the second candidate uses hash bits 16 and up).
pub const MAX_ENTRIES: usize = 1 << 16;
/// Open vSwitch's default: insert 1 in 100 times.
pub const DEFAULT_INSERT_INV_PROB: u32 = 100;
/// Present words stored in the slot itself.
const INLINE_WORDS: usize = 6;
/// Present words stored in the extension array.
const EXT_WORDS: usize = 8;
/// The longest key the cache stores, in words.
#[expect(clippy::cast_possible_truncation, reason = "14")]
pub const MAX_KEY_WORDS: u32 = (INLINE_WORDS + EXT_WORDS) as u32;
/// In a slot's `present`: hit since the last insertion into its candidate pair.
const REFERENCED: u32 = 1 << 31;

/// A slot: exactly one cache line.
#[derive(Debug, Clone, Copy)]
#[repr(C, align(64))]
struct Slot {
    /// `None`: empty.
    id: Option<EntryId>,
    hash: u32,
    /// The key's word bitmap, and `REFERENCED`.
    present: u32,
    /// The first `INLINE_WORDS` present words, in word order.
    words: [u64; INLINE_WORDS],
}

const EMPTY: Slot = Slot { id: None, hash: 0, present: 0, words: [0; INLINE_WORDS] };

/// The present words of a slot's key after the first `INLINE_WORDS`, in word order.
#[derive(Debug, Clone, Copy)]
#[repr(C, align(64))]
struct Ext([u64; EXT_WORDS]);

/// The cache's counters since creation (or `clear_stats`). Lookups and hits are the caller's to
/// count, a burst at a time (an increment in memory per lookup made a dependency chain through
/// the lookup loop).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EmcStats {
    /// Keys stored (the insertions that passed the probability draw).
    pub inserts: u64,
}

/// A PMD's exact-match cache.
pub struct Emc {
    slots: Vec<Slot>,
    /// Present words after the first `INLINE_WORDS`, per slot.
    ext: Vec<Ext>,
    /// Slots - 1.
    mask: usize,
    insert_inv_prob: u32,
    /// An insertion draw passes if the random number is at most this; `None`: never.
    insert_threshold: Option<u32>,
    /// xorshift64 state.
    random: u64,
    stats: EmcStats,
}

impl Default for Emc {
    fn default() -> Self {
        Emc::new(DEFAULT_ENTRIES, DEFAULT_INSERT_INV_PROB)
    }
}

impl Emc {
    /// A cache of `entries` slots (rounded up to a power of two, 2 to `MAX_ENTRIES`), storing 1
    /// in `insert_inv_prob` of the keys offered to `insert` (0: none).
    pub fn new(entries: usize, insert_inv_prob: u32) -> Emc {
        let entries = entries.clamp(2, MAX_ENTRIES).next_power_of_two();
        let mut emc = Emc {
            slots: vec![EMPTY; entries],
            ext: vec![Ext([0; EXT_WORDS]); entries],
            mask: entries - 1,
            insert_inv_prob: 0,
            insert_threshold: None,
            random: 0x9e37_79b9_7f4a_7c15,
            stats: EmcStats::default(),
        };
        emc.set_insert_inv_prob(insert_inv_prob);
        emc
    }

    /// The number of slots.
    #[cfg(test)]
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// Bytes the cache occupies: the slots, and the extension array (touched only by keys with
    /// more than 6 present words).
    #[cfg(test)]
    pub fn footprint(&self) -> (usize, usize) {
        (self.slots.len() * std::mem::size_of::<Slot>(), self.ext.len() * std::mem::size_of::<Ext>())
    }

    #[cfg(test)]
    pub fn insert_inv_prob(&self) -> u32 {
        self.insert_inv_prob
    }

    /// Stores 1 in `insert_inv_prob` of the offered keys from now on (0: none, 1: all).
    pub fn set_insert_inv_prob(&mut self, insert_inv_prob: u32) {
        self.insert_inv_prob = insert_inv_prob;
        self.insert_threshold = (insert_inv_prob != 0).then(|| u32::MAX / insert_inv_prob);
    }

    #[cfg(test)]
    pub fn stats(&self) -> EmcStats {
        self.stats
    }

    #[cfg(test)]
    pub fn clear_stats(&mut self) {
        self.stats = EmcStats::default();
    }

    /// The hash `lookup` and `insert` expect, over the words in `present`.
    #[inline]
    pub fn hash(key: &FlowKey, present: u32) -> u32 {
        hash_words(key, present & words::ALL)
    }

    /// The two candidate slots of a hash.
    #[inline(always)]
    fn positions(&self, hash: u32) -> [usize; 2] {
        [hash as usize & self.mask, hash.rotate_right(16) as usize & self.mask]
    }

    /// Where the two candidate slots of `hash` are in memory, for the caller
    /// to prefetch a burst's slots before looking the burst up.
    #[inline]
    pub fn slot_addresses(&self, hash: u32) -> [*const u8; 2] {
        self.positions(hash)
            .map(|pos| self.slots.get(pos).map_or(std::ptr::null(), |slot| (slot as *const Slot).cast()))
    }

    /// Does the slot at `pos` hold (`key`, `present`) under `hash`?
    #[inline(always)]
    fn holds(&self, pos: usize, key: &FlowKey, present: u32, hash: u32) -> bool {
        let Some(slot) = self.slots.get(pos) else { return false };
        if slot.hash != hash || slot.present & !REFERENCED != present || slot.id.is_none() {
            return false;
        }
        if present == words::IPV4_L4 {
            // The common case (words 0-4, all inline), unrolled.
            let diff = (0..5).fold(0, |diff, i| diff | (key_word(key, i) ^ slot.words[i]));
            return diff == 0;
        }
        let mut bits = present;
        let mut diff = 0;
        for &stored in &slot.words {
            if bits == 0 {
                break;
            }
            diff |= key_word(key, bits.trailing_zeros() as usize) ^ stored;
            bits &= bits - 1;
        }
        if bits != 0 {
            let Some(Ext(ext)) = self.ext.get(pos) else { return false };
            for &stored in ext {
                if bits == 0 {
                    break;
                }
                diff |= key_word(key, bits.trailing_zeros() as usize) ^ stored;
                bits &= bits - 1;
            }
        }
        diff == 0
    }

    /// The megaflow cached for (`key`, `present`) with `hash`, if `alive` confirms it; a cached
    /// megaflow that `alive` rejects is dropped from the cache.
    #[inline]
    pub fn lookup(
        &mut self,
        key: &FlowKey,
        present: u32,
        hash: u32,
        alive: impl FnOnce(EntryId) -> bool,
    ) -> Option<EntryId> {
        let present = present & words::ALL;
        let pos = self.positions(hash).into_iter().find(|&pos| self.holds(pos, key, present, hash))?;
        let slot = self.slots.get_mut(pos)?;
        let id = slot.id?;
        if !alive(id) {
            *slot = EMPTY;
            return None;
        }
        if slot.present & REFERENCED == 0 {
            slot.present |= REFERENCED;
        }
        Some(id)
    }

    /// Offers (`key`, `present`) -> `id` to the cache, which stores it with probability
    /// 1 / `insert_inv_prob` (never if `present` has more than `MAX_KEY_WORDS` words); returns
    /// whether it did.
    #[inline]
    pub fn insert(&mut self, key: &FlowKey, present: u32, hash: u32, id: EntryId) -> bool {
        let Some(threshold) = self.insert_threshold else { return false };
        if (self.next_random() & 0xffff_ffff) as u32 > threshold || (present & words::ALL).count_ones() > MAX_KEY_WORDS
        {
            return false;
        }
        self.store(key, present & words::ALL, hash, id);
        true
    }

    #[inline(always)]
    fn next_random(&mut self) -> u64 {
        super::xorshift64(&mut self.random)
    }

    fn store(&mut self, key: &FlowKey, present: u32, hash: u32, id: EntryId) {
        self.stats.inserts += 1;
        let [first, second] = self.positions(hash);
        let pos = if self.holds(first, key, present, hash) {
            first
        } else if self.holds(second, key, present, hash) {
            second
        } else {
            self.victim(first, second)
        };
        let Some(slot) = self.slots.get_mut(pos) else { return };
        slot.id = Some(id);
        slot.hash = hash;
        slot.present = present;
        let mut bits = present;
        for stored in slot.words.iter_mut() {
            *stored = if bits == 0 { 0 } else { key_word(key, bits.trailing_zeros() as usize) };
            bits &= bits.wrapping_sub(1);
        }
        if bits != 0 {
            if let Some(Ext(ext)) = self.ext.get_mut(pos) {
                for stored in ext.iter_mut() {
                    if bits == 0 {
                        break;
                    }
                    *stored = key_word(key, bits.trailing_zeros() as usize);
                    bits &= bits - 1;
                }
            }
        }
    }

    /// The less useful of two candidate slots for a new key; clears both referenced bits.
    fn victim(&mut self, first: usize, second: usize) -> usize {
        let state = |slot: Option<&Slot>| match slot {
            Some(Slot { id: None, .. }) | None => 0,
            Some(slot) if slot.present & REFERENCED == 0 => 1,
            Some(_) => 2,
        };
        let (a, b) = (state(self.slots.get(first)), state(self.slots.get(second)));
        let pos = match a.cmp(&b) {
            std::cmp::Ordering::Less => first,
            std::cmp::Ordering::Greater => second,
            std::cmp::Ordering::Equal if a == 0 || self.next_random() & 1 == 0 => first,
            std::cmp::Ordering::Equal => second,
        };
        for p in [first, second] {
            if let Some(slot) = self.slots.get_mut(p) {
                slot.present &= !REFERENCED;
            }
        }
        pos
    }

    /// Empties the cache (after a table change that may have altered what keys map to).
    pub fn clear(&mut self) {
        self.slots.fill(EMPTY);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classifier::megaflow::MegaflowTable;
    use crate::flow::key::Field;

    const V4: u32 = 0b11111;

    fn udp(port: u64) -> FlowKey {
        let mut k = FlowKey::default();
        k.set_u64(Field::InPort, 1);
        k.set_u64(Field::DlType, 0x0800);
        k.set_u64(Field::NwProto, 17);
        k.set_u64(Field::NwSrc, 0x0a00_0001);
        k.set_u64(Field::TpSrc, port);
        k
    }

    /// Live and dead megaflow ids to point at.
    fn ids(n: usize) -> (MegaflowTable<()>, Vec<EntryId>) {
        let mut t = MegaflowTable::new(1000);
        let mut m = FlowKey::default();
        m.set_all_ones(Field::TpSrc);
        let ids = (0..n as u64).map(|i| t.insert(&m, &udp(i), (), 0).unwrap()).collect();
        (t, ids)
    }

    #[test]
    fn a_slot_is_one_cache_line() {
        assert_eq!(std::mem::size_of::<Slot>(), 64);
        assert_eq!(std::mem::align_of::<Slot>(), 64);
        assert_eq!(std::mem::size_of::<Ext>(), 64);
        assert_eq!(Emc::default().footprint(), (512 * 1024, 512 * 1024));
        assert_eq!(Emc::new(1000, 1).capacity(), 1024);
    }

    #[test]
    fn hit_miss_and_counters() {
        let (t, ids) = ids(2);
        let mut emc = Emc::new(64, 1);
        let a = udp(1);
        let h = Emc::hash(&a, V4);
        assert_eq!(emc.lookup(&a, V4, h, |_| true), None);
        assert!(emc.insert(&a, V4, h, ids[0]));
        assert_eq!(emc.lookup(&a, V4, h, |id| t.contains(id)), Some(ids[0]));
        // Another value, another bitmap, or a word outside the bitmap.
        let b = udp(2);
        assert_eq!(emc.lookup(&b, V4, Emc::hash(&b, V4), |_| true), None);
        assert_eq!(emc.lookup(&a, V4 | 1 << 5, Emc::hash(&a, V4 | 1 << 5), |_| true), None);
        let mut c = a;
        c.set_u64(Field::Metadata, 9);
        assert_eq!(emc.lookup(&c, V4, Emc::hash(&c, V4), |_| true), Some(ids[0]));
        // Inserting the same key again repoints it.
        assert!(emc.insert(&a, V4, h, ids[1]));
        assert_eq!(emc.lookup(&a, V4, h, |_| true), Some(ids[1]));
        assert_eq!(emc.stats(), EmcStats { inserts: 2 });
        emc.clear_stats();
        assert_eq!(emc.stats(), EmcStats::default());
    }

    #[test]
    fn stale_megaflow_is_rejected_and_dropped() {
        let (mut t, ids) = ids(1);
        let mut emc = Emc::new(64, 1);
        let a = udp(1);
        let h = Emc::hash(&a, V4);
        emc.insert(&a, V4, h, ids[0]);
        t.remove(ids[0]);
        assert_eq!(emc.lookup(&a, V4, h, |id| t.contains(id)), None);
        // The slot was emptied: not even a permissive check finds it now.
        assert_eq!(emc.lookup(&a, V4, h, |_| true), None);
    }

    #[test]
    fn replacement_prefers_empty_then_unreferenced() {
        let (_t, ids) = ids(4);
        let mut emc = Emc::new(16, 1);
        // One hash for all keys: candidates 5 and 3 of 16.
        let h = 0x0003_0005;
        let keys: Vec<FlowKey> = (0..4).map(udp).collect();
        let hits = |emc: &mut Emc, i: usize| emc.lookup(&keys[i], V4, h, |_| true) == Some(ids[i]);
        // Empty candidates first: both keys stay.
        emc.insert(&keys[0], V4, h, ids[0]);
        emc.insert(&keys[1], V4, h, ids[1]);
        assert!(hits(&mut emc, 0) && hits(&mut emc, 1));
        // Both referenced: one of them goes, and both lose their referenced bit.
        emc.insert(&keys[2], V4, h, ids[2]);
        assert!(hits(&mut emc, 2));
        assert_eq!(usize::from(hits(&mut emc, 0)) + usize::from(hits(&mut emc, 1)), 1);
        // Second chance: of two unreferenced entries, the one hit since is kept.
        let mut emc = Emc::new(16, 1);
        emc.insert(&keys[0], V4, h, ids[0]);
        emc.insert(&keys[1], V4, h, ids[1]);
        assert!(hits(&mut emc, 1));
        emc.insert(&keys[3], V4, h, ids[3]);
        assert!(!hits(&mut emc, 0));
        assert!(hits(&mut emc, 1) && hits(&mut emc, 3));
    }

    #[test]
    fn long_keys_use_the_extension_words() {
        let (_t, ids) = ids(1);
        let mut emc = Emc::new(64, 1);
        let mut k = udp(1);
        k.set(Field::Ipv6Src, &[1; 16]);
        k.set(Field::Ipv6Dst, &[2; 16]);
        k.set_u64(Field::TunId, 5);
        let present = V4 | words::TUN_ID | words::TUN_IPV4 | words::IPV6_ADDRS | words::IPV6_LABEL;
        assert_eq!(present.count_ones(), 12);
        let h = Emc::hash(&k, present);
        emc.insert(&k, present, h, ids[0]);
        assert_eq!(emc.lookup(&k, present, h, |_| true), Some(ids[0]));
        let mut other = k;
        other.set_u64(Field::Ipv6Label, 1);
        assert_eq!(emc.lookup(&other, present, h, |_| true), None);
        let mut other = k;
        other.set(Field::Ipv6Dst, &[3; 16]);
        assert_eq!(emc.lookup(&other, present, h, |_| true), None);
        // 14 words fit, 15 do not.
        let nd = V4 | words::IPV6_ADDRS | words::IPV6_LABEL | words::ND_TARGET | words::ARP_HA;
        assert_eq!(nd.count_ones(), MAX_KEY_WORDS);
        let h = Emc::hash(&k, nd);
        assert!(emc.insert(&k, nd, h, ids[0]));
        assert_eq!(emc.lookup(&k, nd, h, |_| true), Some(ids[0]));
        let h = Emc::hash(&k, nd | words::METADATA);
        assert!(!emc.insert(&k, nd | words::METADATA, h, ids[0]));
        assert_eq!(emc.lookup(&k, nd | words::METADATA, h, |_| true), None);
    }

    #[test]
    fn clear_empties() {
        let (_t, ids) = ids(1);
        let mut emc = Emc::new(64, 1);
        let a = udp(1);
        let h = Emc::hash(&a, V4);
        emc.insert(&a, V4, h, ids[0]);
        emc.clear();
        assert_eq!(emc.lookup(&a, V4, h, |_| true), None);
    }

    #[test]
    fn insertion_probability() {
        let (_t, ids) = ids(1);
        let mut emc = Emc::new(8192, DEFAULT_INSERT_INV_PROB);
        let stored = (0..100_000u64).filter(|&i| emc.insert(&udp(i), V4, u32::try_from(i).unwrap(), ids[0])).count();
        assert!((800..1200).contains(&stored), "{stored}");
        assert_eq!(emc.stats().inserts, stored as u64);
        emc.set_insert_inv_prob(0);
        assert_eq!(emc.insert_inv_prob(), 0);
        assert!(!(0..1000u64).any(|i| emc.insert(&udp(i), V4, u32::try_from(i).unwrap(), ids[0])));
        emc.set_insert_inv_prob(1);
        assert!((0..1000u64).all(|i| emc.insert(&udp(i), V4, u32::try_from(i).unwrap(), ids[0])));
    }
}
