//! The hash the datapath caches share: a flow key hashed over a subset of its 8-byte words (the
//! words a packet's parser set, for the exact-match cache; the nonzero words of a megaflow mask,
//! for a megaflow subtable).
//!
//! CRC-32C over the selected words in word order, started from the word bitmap: one SSE4.2
//! instruction per word (`crate::dpdk::crc32c_u64`, DPDK's `rte_hash_crc_8byte`; Open vSwitch
//! hashes its miniflows with the same instruction). The chain of one key is serial (3 cycles a
//! word) but the keys of a burst are independent, so a CPU overlaps them: 3.6 cycles for an
//! IPv4/UDP key (5 words) in a burst loop on a 2.6 GHz EPYC, where the former multiply-fold mix
//! (wyhash's primitive, one 64x64->128-bit multiply a word) took 9.4. Position in the chain
//! makes equal values in different words hash differently; the bitmap, keys of different word
//! sets. A subtable hashes a masked key word by word (`add` of `word & mask`) without building
//! it, and gets what `hash_words` gives for the masked key.
//!
//! Not keyed, like Open vSwitch's and DPDK's: the caches compare full keys, so collisions cost
//! time, never correctness.

use crate::dpdk::crc32c_u64;
use crate::flow::key::{words, FlowKey};

/// The state of a hash over the words of `word_bitmap`, before the first word.
#[inline(always)]
pub fn start(word_bitmap: u32) -> u64 {
    u64::from(word_bitmap)
}

/// Adds the next word (in word order) to a hash state.
#[inline(always)]
pub fn add(state: u64, word: u64) -> u64 {
    crc32c_u64(state, word)
}

/// The hash of a state.
#[inline(always)]
#[expect(clippy::cast_possible_truncation, reason = "the CRC-32C state is 32 bits in the instruction's u64")]
pub fn finish(state: u64) -> u32 {
    state as u32
}

/// Word `index` of `key` as `FlowKey::word` reads it; 0 past the end of the key (never panics;
/// only the low 5 bits of `index` count).
#[inline(always)]
pub fn key_word(key: &FlowKey, index: usize) -> u64 {
    let start = (index & 31) * 8;
    key.bytes.get(start..start + 8).and_then(|bytes| bytes.try_into().ok()).map_or(0, u64::from_ne_bytes)
}

/// The hash of the words of `key` selected by `word_bitmap` (bit i = word i; bits past the key's
/// words are ignored), and of the bitmap itself.
#[inline]
pub fn hash_words(key: &FlowKey, word_bitmap: u32) -> u32 {
    let word_bitmap = word_bitmap & words::ALL;
    if word_bitmap == words::IPV4_L4 {
        // The common case (an IPv4 packet with ports: words 0-4), unrolled.
        return finish((0..5).fold(start(word_bitmap), |state, i| add(state, key_word(key, i))));
    }
    let mut state = start(word_bitmap);
    let mut bits = word_bitmap;
    while bits != 0 {
        let index = bits.trailing_zeros() as usize;
        bits &= bits - 1;
        state = add(state, key_word(key, index));
    }
    finish(state)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::key::{Field, KEY_WORDS};

    #[test]
    fn unrolled_ipv4_hash_equals_the_general_one() {
        let mut key = FlowKey::default();
        for i in 0..KEY_WORDS {
            key.set_word(i, (i as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
        }
        let general = (0..5).fold(start(words::IPV4_L4), |state, i| add(state, key.word(i)));
        assert_eq!(hash_words(&key, words::IPV4_L4), finish(general));
        // One more word takes the general path and hashes differently.
        assert_ne!(hash_words(&key, words::IPV4_L4 | words::METADATA), hash_words(&key, words::IPV4_L4));
    }

    /// `add` is CRC-32C (reflected Castagnoli polynomial 0x82f63b78, no inversions) of the
    /// word's 8 bytes in memory order, checked against a bitwise reference.
    #[test]
    fn add_is_crc32c() {
        let data = *b"12345678";
        let state = add(u64::from(u32::MAX), u64::from_le_bytes(data));
        let mut reference = u32::MAX;
        for byte in data {
            reference ^= u32::from(byte);
            for _ in 0..8 {
                reference = if reference & 1 != 0 { (reference >> 1) ^ 0x82f6_3b78 } else { reference >> 1 };
            }
        }
        assert_eq!(u32::try_from(state).unwrap(), reference);
        assert_eq!(state >> 32, 0);
    }

    #[test]
    fn key_word_reads_like_flow_key_word() {
        let mut key = FlowKey::default();
        for (i, b) in key.bytes.iter_mut().enumerate() {
            *b = u8::try_from(i).unwrap();
        }
        for i in 0..KEY_WORDS {
            assert_eq!(key_word(&key, i), key.word(i));
        }
        assert_eq!(key_word(&key, KEY_WORDS), 0);
        assert_eq!(key_word(&key, 31), 0);
    }

    #[test]
    fn only_selected_words_count() {
        let mut a = FlowKey::default();
        a.set_u64(Field::NwSrc, 0x0a00_0001);
        let mut b = a;
        b.set_u64(Field::Ipv6Label, 7);
        let v4 = words::PORT_L2_TYPE | words::NW_ADDRS;
        assert_eq!(hash_words(&a, v4), hash_words(&b, v4));
        assert_ne!(hash_words(&a, v4 | words::IPV6_LABEL), hash_words(&b, v4 | words::IPV6_LABEL));
        // The bitmap is part of the hash even where the extra word is zero.
        assert_ne!(hash_words(&a, v4), hash_words(&a, v4 | words::TP_PORTS));
        // Bits past the key are ignored.
        assert_eq!(hash_words(&a, v4 | 1 << 30), hash_words(&a, v4));
    }

    #[test]
    fn same_value_in_different_words_hashes_differently() {
        let mut a = FlowKey::default();
        a.set_word(3, 42);
        let mut b = FlowKey::default();
        b.set_word(4, 42);
        let both = words::NW_ADDRS | words::TP_PORTS;
        assert_ne!(hash_words(&a, both), hash_words(&b, both));
    }

    /// Keys that differ in the top byte of two words still get distinct hashes.
    #[test]
    fn high_bytes_of_two_words_are_not_lost() {
        let mut hashes = std::collections::HashSet::new();
        let mut key = FlowKey::default();
        for a in 0..=255u8 {
            for b in 0..=255u8 {
                key.bytes[7] = a; // vlan_tci low byte
                key.bytes[31] = b; // nw_dst last byte
                hashes.insert(hash_words(&key, 0b11111));
            }
        }
        // 65536 keys into 2^32 values: a handful of collisions at most.
        assert!(hashes.len() > 65_530, "{}", hashes.len());
    }

    /// Keys that differ in one 16-bit field (the worst case for a weak hash: a counter in one
    /// byte pair) spread over a power-of-two table's low bits and over its high bits.
    #[test]
    fn sequential_ports_spread_evenly() {
        const BUCKETS: usize = 1024;
        const KEYS: usize = 16 * BUCKETS;
        let mut low = vec![0u32; BUCKETS];
        let mut high = vec![0u32; BUCKETS];
        let mut key = FlowKey::default();
        key.set_u64(Field::DlType, 0x0800);
        key.set_u64(Field::NwSrc, 0x0a00_0001);
        for port in 0..KEYS as u64 {
            key.set_u64(Field::TpSrc, port);
            let h = hash_words(&key, 0b11111);
            low[h as usize % BUCKETS] += 1;
            high[(h >> 22) as usize] += 1;
        }
        // Poisson(16): the largest of 1024 buckets is about 30, the smallest about 5.
        for buckets in [&low, &high] {
            assert!(buckets.iter().all(|&n| (2..=40).contains(&n)), "{:?}", buckets.iter().max());
        }
    }
}
