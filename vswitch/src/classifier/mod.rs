//! Classification in the datapath: the per-PMD caches - the exact-match
//! cache (`emc`) in front of the megaflow classifier (`megaflow`,
//! tuple-space search) - the hash both use (`hash`), and the gates that
//! turn the EMC and the repeat check off where they do not pay (`gate`). The OpenFlow
//! tables behind them are `pipeline::table`. Both caches draw their random
//! choices (insertion, eviction) from `xorshift64`.
#![forbid(unsafe_code)]
pub mod emc;
pub mod gate;
pub mod hash;
pub mod megaflow;

/// The next number of a xorshift64 generator (state never 0): the caches'
/// cheap randomness for insertion draws and eviction samples.
#[inline(always)]
pub(crate) fn xorshift64(state: &mut u64) -> u64 {
    let mut x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *state = x;
    x
}
