//! The hash the datapath caches share: a flow key hashed over a subset of its 8-byte words (the
//! words a packet's parser set, for the exact-match cache; the nonzero words of a megaflow mask,
//! for a megaflow subtable).
//!
//! Each selected word is mixed on its own, `fold(w ^ seed[i], K)` with `fold` the 64x64->128-bit
//! multiply folded back to 64 bits (the wyhash/foldhash primitive: every output bit depends on
//! every input bit) and a per-word seed so that equal values in different words differ; the mixed
//! words are summed, the word bitmap is xored in and the result folded to 32 bits. The per-word
//! mixes are independent of each other, so a CPU runs them in parallel: 2.7 ns for an IPv4/UDP
//! key (5 words) on a 2.6 GHz EPYC. (Mixing two words per multiply, as wyhash does, would halve
//! the multiplies but make every value of one word collide when the other equals its seed.)
//! Because the hash is a sum of per-word terms, a megaflow subtable computes the hash of a masked
//! key word by word without building the masked key (`mix_word` + `finish`), and gets exactly
//! what `hash_words` gives for the masked key.
//!
//! Not keyed: the caches compare full keys, so collisions cost time, never correctness. CRC32
//! (SSE4.2) is not an option in safe code: `std::arch`'s `_mm_crc32_u64` can only be called from
//! `unsafe` code or from a `#[target_feature]` function, which is itself unsafe to call.

use crate::flow::key::{words, FlowKey};

/// The multiplier of the per-word mix (2^64 / golden ratio, odd).
const WORD_MULTIPLIER: u64 = 0x9e37_79b9_7f4a_7c15;

/// splitmix64: a bijective scrambler, used at compile time to derive the word seeds.
const fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// One seed per word position (32 so that any 5-bit index is in range).
const SEEDS: [u64; 32] = {
    let mut seeds = [0; 32];
    let mut i = 0;
    while i < 32 {
        seeds[i] = splitmix64(0x6a09_e667_f3bc_c908 ^ (i as u64));
        i += 1;
    }
    seeds
};

/// The 128-bit product of `a` and `b`, its halves xored.
#[inline(always)]
fn folded_mul(a: u64, b: u64) -> u64 {
    let product = u128::from(a) * u128::from(b);
    (product as u64) ^ ((product >> 64) as u64)
}

/// The seed of word `index` (only the low 5 bits of `index` count).
#[inline(always)]
pub fn word_seed(index: usize) -> u64 {
    SEEDS[index & 31]
}

/// One word's share of a hash: add the shares of the selected words (wrapping) and `finish`.
#[inline(always)]
pub fn mix_word(seed: u64, word: u64) -> u64 {
    folded_mul(word ^ seed, WORD_MULTIPLIER)
}

/// The hash from the sum of the words' shares and the bitmap of the words hashed. Every share is
/// fully mixed already, so the sum is only folded to 32 bits (a final multiply measured 0.5-0.8 ns
/// per key for no better spread).
#[inline(always)]
pub fn finish(sum: u64, word_bitmap: u32) -> u32 {
    let x = sum ^ u64::from(word_bitmap);
    (x ^ (x >> 32)) as u32
}

/// Word `index` of `key` as `FlowKey::word` reads it; 0 past the end of the key (never panics;
/// only the low 5 bits of `index` count, as for `word_seed`).
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
        let sum = (0..5).fold(0u64, |sum, i| sum.wrapping_add(mix_word(word_seed(i), key_word(key, i))));
        return finish(sum, word_bitmap);
    }
    let mut sum = 0u64;
    let mut bits = word_bitmap;
    while bits != 0 {
        let index = bits.trailing_zeros() as usize;
        bits &= bits - 1;
        sum = sum.wrapping_add(mix_word(word_seed(index), key_word(key, index)));
    }
    finish(sum, word_bitmap)
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
        let general = (0..5).fold(0u64, |sum, i| sum.wrapping_add(mix_word(word_seed(i), key_word(&key, i))));
        assert_eq!(hash_words(&key, words::IPV4_L4), finish(general, words::IPV4_L4));
        // One more word takes the general path and hashes differently.
        assert_ne!(hash_words(&key, words::IPV4_L4 | words::METADATA), hash_words(&key, words::IPV4_L4));
    }

    #[test]
    fn key_word_reads_like_flow_key_word() {
        let mut key = FlowKey::default();
        for (i, b) in key.bytes.iter_mut().enumerate() {
            *b = i as u8;
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

    /// Keys that differ in the top byte of two words (where a multiply without the folded high
    /// half would lose bits) still get distinct hashes.
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
