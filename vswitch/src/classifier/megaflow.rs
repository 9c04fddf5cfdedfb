//! The megaflow classifier of a PMD: tuple-space search over the megaflows the slow path installed
//! (Open vSwitch's dpcls). A megaflow is a mask, a key under that mask and a value (the datapath
//! actions, whatever type the caller picks), with per-entry packet, byte and last-used counters.
//!
//! Layout. One subtable per distinct mask. A subtable keeps its mask's n nonzero words as arrays
//! of (byte offset, mask); it stores each masked key compactly, only those n words and
//! then the entry id, in a row of a 64-byte-aligned array (rows padded to 4 or 8 words, or a
//! multiple of 8: a 5-tuple row of 4 words plus the id is one cache line), and indexes the rows
//! with an open-addressing hash table of 64-byte groups: 7 slots of (32-bit hash tag, row number)
//! and an overflow count, F14-style. A key is hashed over the mask's words only (`hash::add` of
//! `word & mask`, without building the masked key), its home group is `hash & (groups - 1)`,
//! and probing goes on to the next group only while a group's overflow count (entries whose home
//! is this group or one before and that live after it) is nonzero: a miss reads one line, a hit
//! two (group, row). No tombstones: removal decrements the counts. Groups double when the entries
//! would exceed 3/4 of the slots, rows double when full; both on insert, never on lookup. Removal
//! moves the last row into the hole.
//!
//! Lookup. `lookup_batch_masked` runs a burst subtable by subtable, in rank order, for the keys still
//! unmatched, in passes: hash them all, read all their home groups and pick the candidate rows
//! (branch-free), compare the candidates; in subtables bigger than L2 a load-only pass over the
//! groups and one over the rows go first, so that the cache misses of the burst overlap. These
//! are plain loads whose values are thrown away (`black_box`), not prefetch instructions (the
//! safe `crate::dpdk::prefetch` the PMD uses would serve too; the two have not been compared).
//! A subtable of at most 2 rows is scanned instead,
//! every key against every row, without a hash (`scans_all`: the whole table is that small, and
//! the PMD then skips its exact-match cache). The passes are compiled once per word count 1 to 8
//! (constant loop bounds, unrolled; Open vSwitch specialises its dpcls the same way) and once
//! generically. Subtables are re-ranked by their hits since the previous ranking when the PMD
//! calls `rank_subtables` (about once a second). When two megaflows match a key - the slow path
//! must not install overlapping megaflows with different actions, but may install overlapping
//! ones - the one in the first subtable in rank order wins; within a subtable masked keys are
//! unique. Lookup reads every masked word of the key: words the parser did not set must hold what
//! the slow path saw for them (zero), not a previous packet's values.
//!
//! Entries. Megaflows live in a slab of cache-line slots; an `EntryId` (slot index + generation)
//! stays valid while its megaflow lives, so the exact-match cache can point at it, and a removed
//! megaflow's id is recognised as stale (the generation moves on when the slot is freed). The
//! table keeps at most `limit` megaflows: `evict_over_limit` evicts approximately least recently
//! used ones (the oldest `last_used` of 8 sampled) down to it. `insert` itself never removes a
//! megaflow, so the ids a caller holds stay valid until it calls `evict_over_limit` (the PMD: after
//! each burst, whose packets may point at any megaflow). `expire_idle_some` removes idle
//! megaflows, a bounded slice of the slab at a time.
//!
//! Nothing allocates, locks or blocks in `lookup`, `lookup_batch*`, `get`, `contains` and `credit`;
//! `remove`, `expire_idle*`, `retain`, `clear` and `rank_subtables` do not allocate either (they
//! free a subtable that became empty); `insert` allocates when a table grows.

use std::cmp::Reverse;
use std::num::NonZeroU32;

use super::hash::{add, finish, key_word, start};
use crate::flow::key::{FlowKey, KEY_BYTES, KEY_WORDS};

/// Megaflows a table keeps unless told otherwise: a PMD's table. Open vSwitch keeps 65,536 per
/// PMD; 200,000 keep a 100k-flow workload cached (a full table's counters are reported within a
/// second, see `pmd`).
pub const DEFAULT_ENTRY_LIMIT: usize = 200_000;
/// The most megaflows a table can hold (ids and rows are 32-bit).
pub const MAX_ENTRY_LIMIT: usize = 1 << 30;

const _: () = assert!(MAX_ENTRY_LIMIT <= u32::MAX as usize);

/// A slot, row, subtable or rank index as the table stores it (u32): every one is below
/// `MAX_ENTRY_LIMIT` (a table never holds more megaflows, each subtable has one at least), which
/// fits.
#[inline(always)]
#[expect(clippy::cast_possible_truncation, reason = "indices are below MAX_ENTRY_LIMIT")]
fn index32(index: usize) -> u32 {
    index as u32
}

/// A random index below `n`.
#[inline(always)]
#[expect(clippy::cast_possible_truncation, reason = "the remainder is below `n`, a usize")]
fn random_below(random: u64, n: usize) -> usize {
    (random % n as u64) as usize
}
/// Slots per hash group: their tags, rows and the overflow count fill one cache line.
const GROUP_SLOTS: usize = 7;
/// A subtable grows when its entries would exceed this percentage of its slots.
const MAX_LOAD_PERCENT: usize = 75;
/// Megaflows compared when one has to be evicted.
const EVICTION_SAMPLES: usize = 8;
/// Keys a batch lookup tracks at once (one bit each).
const CHUNK: usize = 64;
/// Subtables with this many entries (512 KiB of 5-tuple rows) or more are too big to stay in L2:
/// a batch lookup touches their groups and rows ahead of use (measured: -16% time per key at 1M
/// entries, +12% at 1k).
const TOUCH_MIN_ENTRIES: usize = 8192;
/// Subtables with at most this many entries are scanned row by row instead of hashed: comparing
/// a key with two rows costs less than hashing it, reading a group and comparing one row.
const SCAN_MAX_ENTRIES: usize = 2;
/// An empty candidate in a batch lookup.
const NO_ROW: u32 = u32::MAX;

/// A megaflow's handle: valid while the megaflow lives, recognised as stale afterwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EntryId {
    index: u32,
    generation: NonZeroU32,
}

impl EntryId {
    /// The id packed into a row's last word.
    #[inline(always)]
    fn to_word(self) -> u64 {
        u64::from(self.index) | (u64::from(self.generation.get()) << 32)
    }

    #[inline(always)]
    fn from_word(word: u64) -> Option<EntryId> {
        NonZeroU32::new((word >> 32) as u32)
            .map(|generation| EntryId { index: (word & 0xffff_ffff) as u32, generation })
    }
}

/// A megaflow's counters; the caller credits packets and bytes with its own clock.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EntryStats {
    pub packets: u64,
    pub bytes: u64,
    /// The caller's time stamp of the last `credit` (or of the insertion).
    pub last_used: u64,
    /// The part of `packets` and `bytes` handed to the table's reporter already.
    pub reported_packets: u64,
    pub reported_bytes: u64,
}

/// Where a table hands the packets and bytes credited to its megaflows, in arrears: called with
/// the megaflow's value, the packets and bytes credited since the previous call for it, and its
/// `last_used`. `report_some` calls it for live megaflows, a bounded slice at a time, and every
/// removal (eviction, expiry, `remove`, `retain`, `clear`) and value replacement calls it first,
/// so nothing credited is lost. (The datapath credits rule counters this way: one pass in the
/// background instead of atomics per packet run.)
pub type Reporter<T> = fn(&T, u64, u64, u64);

/// Hands `entry`'s unreported counts to `reporter`.
fn report_entry<T>(reporter: Option<Reporter<T>>, entry: &mut Entry<T>) {
    let stats = &mut entry.stats;
    let (packets, bytes) = (stats.packets - stats.reported_packets, stats.bytes - stats.reported_bytes);
    if packets == 0 && bytes == 0 {
        return;
    }
    if let Some(reporter) = reporter {
        reporter(&entry.value, packets, bytes, stats.last_used);
    }
    stats.reported_packets = stats.packets;
    stats.reported_bytes = stats.bytes;
}

/// A table's counters since creation (or `clear_stats`), and its size now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MegaflowStats {
    /// Keys looked up (single or in batches).
    pub lookups: u64,
    /// Keys that matched a megaflow.
    pub hits: u64,
    /// Over all hits, the rank (1-based) of the subtable that matched: the subtables searched.
    pub subtable_lookups: u64,
    /// Megaflows inserted (not counting updates of an existing one).
    pub inserts: u64,
    /// Megaflows removed to make room under the limit.
    pub evictions: u64,
    /// Megaflows removed by `expire_idle*`.
    pub expirations: u64,
    /// Megaflows now.
    pub entries: u64,
    /// Subtables (distinct masks) now.
    pub subtables: u64,
}

impl MegaflowStats {
    /// Open vSwitch's "avg. subtable lookups per megaflow hit" (0 without hits).
    #[cfg(test)]
    pub fn subtable_lookups_per_hit(&self) -> f64 {
        if self.hits == 0 {
            0.0
        } else {
            self.subtable_lookups as f64 / self.hits as f64
        }
    }
}

/// One megaflow, as `iter` and `retain` show it.
#[derive(Debug, Clone, Copy)]
pub struct Megaflow<'a, T> {
    pub id: EntryId,
    pub mask: &'a FlowKey,
    /// The key under the mask (bits outside the mask are zero).
    pub key: FlowKey,
    pub value: &'a T,
    pub stats: EntryStats,
}

/// One subtable, as `subtables` shows it.
#[derive(Debug, Clone, Copy)]
pub struct SubtableInfo<'a> {
    pub mask: &'a FlowKey,
    pub entries: usize,
    /// Hits since the last `rank_subtables`.
    pub hits: u64,
}

/// Tags, rows and overflow count of `GROUP_SLOTS` slots, in one cache line.
#[derive(Debug, Clone, Copy)]
#[repr(C, align(64))]
struct Group {
    /// Lanes 0-6: `tag_of(hash)` of the entry in slot i, 0 when the slot is empty. Lane 7
    /// (`OVERFLOW`): the entries that live after this group although their home is this group or
    /// one before. One 8-lane SIMD compare covers the tags.
    lanes: [u32; 8],
    /// The row of the entry in slot i; `rows[OVERFLOW]` is always `NO_ROW`, the candidate of a
    /// key without a matching tag.
    rows: [u32; 8],
}

/// The lane of `Group::lanes` that holds the overflow count.
const OVERFLOW: usize = GROUP_SLOTS;

impl Default for Group {
    fn default() -> Self {
        Group { lanes: [0; 8], rows: [NO_ROW; 8] }
    }
}

impl Group {
    /// Bit i set: slot i holds `tag`.
    #[inline(always)]
    fn matches(&self, tag: u32) -> u32 {
        let mut m = 0;
        for (i, &t) in self.lanes.iter().enumerate() {
            m |= u32::from(t == tag) << i;
        }
        m & ((1 << GROUP_SLOTS) - 1)
    }

    #[inline(always)]
    fn overflow(&self) -> u32 {
        self.lanes[OVERFLOW]
    }

    /// The row of the first slot of a `matches` mask; `NO_ROW` for an empty mask.
    #[inline(always)]
    fn first_row(&self, m: u32) -> u32 {
        self.rows[(m | 1 << OVERFLOW).trailing_zeros() as usize & 7]
    }

    /// (tag, row) of the slots.
    fn slots(&self) -> impl Iterator<Item = (u32, u32)> + '_ {
        self.lanes.iter().zip(&self.rows).take(GROUP_SLOTS).map(|(&t, &r)| (t, r))
    }
}

/// A nonzero tag for a hash (0 marks an empty slot).
#[inline(always)]
fn tag_of(hash: u32) -> u32 {
    hash.max(1)
}

/// The 8 bytes of `key` at `offset` (at most `KEY_BYTES - 8`, clamped), as `FlowKey::word`
/// reads them; compiles to one load.
#[inline(always)]
fn word_at(key: &FlowKey, offset: usize) -> u64 {
    let offset = offset.min(KEY_BYTES - 8);
    key.bytes.get(offset..offset + 8).and_then(|bytes| bytes.try_into().ok()).map_or(0, u64::from_ne_bytes)
}

/// Calls `$f(n, args...)` with `n` a literal for the common word counts 1 to 8, so that the
/// inlined body is specialised (loops unrolled, no bounds checks), and with the variable `n`
/// otherwise (Open vSwitch's specialised dpcls lookup functions).
macro_rules! specialised {
    ($n:expr, $f:path, $($arg:expr),*) => {
        match $n {
            1 => $f(1, $($arg),*),
            2 => $f(2, $($arg),*),
            3 => $f(3, $($arg),*),
            4 => $f(4, $($arg),*),
            5 => $f(5, $($arg),*),
            6 => $f(6, $($arg),*),
            7 => $f(7, $($arg),*),
            8 => $f(8, $($arg),*),
            n => $f(n, $($arg),*),
        }
    };
}

/// The megaflows of one mask.
struct Subtable {
    mask: FlowKey,
    word_bitmap: u32,
    /// The mask's nonzero words: `n` of them, in word order; a row stores a key's words in the
    /// same order.
    n: usize,
    /// Byte offset and mask of the mask's words 0..n.
    offsets: [usize; KEY_WORDS],
    masks: [u64; KEY_WORDS],
    /// u64s per row: the words, then the entry id, padded so a row never straddles more lines
    /// than it must.
    stride: usize,
    /// Rows start at `rows[base]`, 64-byte aligned.
    rows: Vec<u64>,
    base: usize,
    row_capacity: usize,
    /// Rows in use: rows 0..len.
    len: usize,
    /// A power of two of groups.
    groups: Vec<Group>,
    /// Hits since the last ranking.
    hits: u64,
    /// Place in the rank order before the current ranking (ties keep their order).
    position: u32,
}

impl Subtable {
    fn new(mask: &FlowKey) -> Subtable {
        let word_bitmap = mask.nonzero_words();
        let mut offsets = [0; KEY_WORDS];
        let mut masks = [0; KEY_WORDS];
        let mut n = 0usize;
        for (index, (offset, m)) in
            (0..KEY_WORDS).filter(|i| word_bitmap & (1 << i) != 0).zip(offsets.iter_mut().zip(&mut masks))
        {
            *offset = index * 8;
            *m = key_word(mask, index);
            n += 1;
        }
        let need = n + 1;
        let stride = if need <= 8 { need.next_power_of_two() } else { need.div_ceil(8) * 8 };
        Subtable {
            mask: *mask,
            word_bitmap,
            n,
            offsets,
            masks,
            stride,
            rows: Vec::new(),
            base: 0,
            row_capacity: 0,
            len: 0,
            groups: vec![Group::default()],
            hits: 0,
            position: 0,
        }
    }

    #[inline(always)]
    fn group_mask(&self) -> usize {
        self.groups.len() - 1
    }

    /// The hash of `key & mask` over the mask's words; `n` is `self.n`, passed in so that it can
    /// be a constant.
    #[inline(always)]
    fn hash(&self, n: usize, key: &FlowKey) -> u32 {
        let n = n.min(KEY_WORDS);
        let mut state = start(self.word_bitmap);
        for j in 0..n {
            state = add(state, word_at(key, self.offsets[j]) & self.masks[j]);
        }
        finish(state)
    }

    /// The stored words and the id word of `row`.
    #[inline(always)]
    fn row(&self, n: usize, row: u32) -> Option<&[u64]> {
        let start = self.base + row as usize * self.stride;
        self.rows.get(start..start + n.min(KEY_WORDS) + 1)
    }

    /// The hash a row was placed under.
    fn row_hash(&self, row: u32) -> u32 {
        // The row's words, without the id after them.
        let stored = self.row(self.n, row).and_then(|row| row.split_last()).map_or(&[][..], |(_, words)| words);
        finish(stored.iter().fold(start(self.word_bitmap), |state, &word| add(state, word)))
    }

    /// The entry of `row` if `key` matches it under the mask.
    #[inline(always)]
    fn row_matches(&self, n: usize, row: u32, key: &FlowKey) -> Option<EntryId> {
        let n = n.min(KEY_WORDS);
        let (&id, stored) = self.row(n, row)?.split_last()?;
        let mut diff = 0;
        for ((&value, &offset), &mask) in stored.iter().zip(&self.offsets[..n]).zip(&self.masks[..n]) {
            diff |= (word_at(key, offset) & mask) ^ value;
        }
        if diff == 0 {
            EntryId::from_word(id)
        } else {
            None
        }
    }

    /// The megaflow `key` matches, given `hash = self.hash(n, key)`.
    #[inline(always)]
    fn find(&self, n: usize, key: &FlowKey, hash: u32) -> Option<EntryId> {
        let tag = tag_of(hash);
        let mut g = hash as usize & self.group_mask();
        for _ in 0..self.groups.len() {
            let group = self.groups.get(g)?;
            let mut m = group.matches(tag);
            while m != 0 {
                let slot = m.trailing_zeros() as usize;
                m &= m - 1;
                if let Some(id) = group.rows.get(slot).and_then(|&row| self.row_matches(n, row, key)) {
                    return Some(id);
                }
            }
            if group.overflow() == 0 {
                return None;
            }
            g = (g + 1) & self.group_mask();
        }
        None
    }

    /// `find` of `key` with its hash: a single-key lookup.
    #[inline(always)]
    fn lookup(n: usize, st: &Subtable, key: &FlowKey) -> Option<EntryId> {
        st.find(n, key, st.hash(n, key))
    }

    /// Looks up the keys of `keys` whose bits are set in `unmatched`; returns the bits of those
    /// that matched, with their ids in `found`. Pass by pass over all the keys, so that the cache
    /// misses of different keys overlap (see the module documentation).
    #[inline(always)]
    fn lookup_chunk(n: usize, st: &Subtable, keys: &[FlowKey], unmatched: u64, found: &mut [Option<EntryId>]) -> u64 {
        if st.len <= SCAN_MAX_ENTRIES {
            return Subtable::scan_chunk(n, st, keys, unmatched, found);
        }
        let mut hashes = [0u32; CHUNK];
        let mut bits = unmatched;
        while bits != 0 {
            let i = bits.trailing_zeros() as usize % CHUNK;
            bits &= bits - 1;
            if let Some(key) = keys.get(i) {
                hashes[i] = st.hash(n, key);
            }
        }
        // In a subtable too big for L2, touch every home group first: a load each and nothing
        // else, so that all the cache misses are under way at once (loads doing a prefetch's
        // work, see the module documentation). In a small one that only costs instructions.
        let group_mask = st.group_mask();
        let touch = st.len >= TOUCH_MIN_ENTRIES;
        let mut touched = 0u32;
        let mut bits = if touch { unmatched } else { 0 };
        while bits != 0 {
            let i = bits.trailing_zeros() as usize % CHUNK;
            bits &= bits - 1;
            touched ^= st.groups.get(hashes[i] as usize & group_mask).map_or(0, Group::overflow);
        }
        // The first slot with the right tag is the candidate (`with_candidate`); `more` marks keys
        // that may have another one (several tags, or an overflowing group). No branches: which
        // keys match is not predictable when there are several subtables.
        let mut candidates = [NO_ROW; CHUNK];
        let mut with_candidate = 0u64;
        let mut more = 0u64;
        let mut bits = unmatched;
        while bits != 0 {
            let i = bits.trailing_zeros() as usize % CHUNK;
            bits &= bits - 1;
            let hash = hashes[i];
            if let Some(group) = st.groups.get(hash as usize & group_mask) {
                let m = group.matches(tag_of(hash));
                candidates[i] = group.first_row(m);
                with_candidate |= u64::from(m != 0) << i;
                more |= u64::from(m & m.wrapping_sub(1) != 0 || group.overflow() != 0) << i;
            }
        }
        // Touch the candidate rows.
        let mut bits = if touch { with_candidate } else { 0 };
        while bits != 0 {
            let i = bits.trailing_zeros() as usize % CHUNK;
            bits &= bits - 1;
            touched ^=
                st.row(0, candidates[i]).and_then(|stored| stored.first()).map_or(0, |&w| (w & 0xffff_ffff) as u32);
        }
        std::hint::black_box(touched);
        // Compare; search properly where that is not conclusive.
        let mut matched = 0u64;
        let mut bits = with_candidate | more;
        while bits != 0 {
            let i = bits.trailing_zeros() as usize % CHUNK;
            bits &= bits - 1;
            let Some(key) = keys.get(i) else { continue };
            let mut id = st.row_matches(n, candidates[i], key);
            if id.is_none() && more & (1 << i) != 0 {
                id = st.find(n, key, hashes[i]);
            }
            if let (Some(id), Some(f)) = (id, found.get_mut(i)) {
                *f = Some(id);
                matched |= 1 << i;
            }
        }
        matched
    }

    /// `lookup_chunk` of a subtable of at most `SCAN_MAX_ENTRIES` rows: every key compared with
    /// every row, no hash. The rows, the mask and its offsets are read out of the subtable once,
    /// before the keys.
    #[inline(always)]
    fn scan_chunk(n: usize, st: &Subtable, keys: &[FlowKey], unmatched: u64, found: &mut [Option<EntryId>]) -> u64 {
        let n = n.min(KEY_WORDS);
        let mut offsets = [0usize; KEY_WORDS];
        let mut masks = [0u64; KEY_WORDS];
        for ((offset, mask), (&from, &m)) in
            offsets.iter_mut().zip(&mut masks).zip(st.offsets.iter().zip(&st.masks)).take(n)
        {
            *offset = from.min(KEY_BYTES - 8);
            *mask = m;
        }
        // A row that cannot be read keeps no id and matches nothing.
        let count = st.len.min(SCAN_MAX_ENTRIES);
        let mut rows = [([0u64; KEY_WORDS], None); SCAN_MAX_ENTRIES];
        for (row, (words, id)) in (0u32..).zip(rows.iter_mut().take(count)) {
            if let Some((&stored_id, stored)) = st.row(n, row).and_then(|r| r.split_last()) {
                words[..stored.len()].copy_from_slice(stored);
                *id = EntryId::from_word(stored_id);
            }
        }
        let mut matched = 0u64;
        let mut bits = unmatched;
        while bits != 0 {
            let i = bits.trailing_zeros() as usize % CHUNK;
            bits &= bits - 1;
            let (Some(key), Some(f)) = (keys.get(i), found.get_mut(i)) else { continue };
            for (words, id) in rows.iter().take(count) {
                let mut diff = 0;
                for j in 0..n {
                    diff |= (word_at(key, offsets[j]) & masks[j]) ^ words[j];
                }
                if diff == 0 && id.is_some() {
                    *f = *id;
                    matched |= 1 << i;
                    break;
                }
            }
        }
        matched
    }

    /// Group and slot of `row`, placed under `hash`.
    fn locate(&self, hash: u32, row: u32) -> Option<(usize, usize)> {
        let tag = tag_of(hash);
        let mut g = hash as usize & self.group_mask();
        for _ in 0..self.groups.len() {
            let group = self.groups.get(g)?;
            if let Some(slot) = group.slots().position(|(t, r)| t == tag && r == row) {
                return Some((g, slot));
            }
            if group.overflow() == 0 {
                return None;
            }
            g = (g + 1) & self.group_mask();
        }
        None
    }

    /// Enters `row` in the first free slot from its home group on. The load limit guarantees one.
    fn place(&mut self, hash: u32, row: u32) {
        let tag = tag_of(hash);
        let group_mask = self.group_mask();
        let mut g = hash as usize & group_mask;
        for _ in 0..self.groups.len() {
            let Some(group) = self.groups.get_mut(g) else { return };
            if let Some((t, r)) =
                group.lanes.iter_mut().zip(group.rows.iter_mut()).take(GROUP_SLOTS).find(|(t, _)| **t == 0)
            {
                *t = tag;
                *r = row;
                return;
            }
            group.lanes[OVERFLOW] += 1;
            g = (g + 1) & group_mask;
        }
    }

    /// Takes `row`, placed under `hash`, out of the hash table.
    fn unplace(&mut self, hash: u32, row: u32) {
        let Some((found, slot)) = self.locate(hash, row) else { return };
        if let Some(group) = self.groups.get_mut(found) {
            if let (Some(tag), Some(r)) = (group.lanes.get_mut(slot), group.rows.get_mut(slot)) {
                *tag = 0;
                *r = NO_ROW;
            }
        }
        let group_mask = self.group_mask();
        let mut g = hash as usize & group_mask;
        while g != found {
            if let Some(group) = self.groups.get_mut(g) {
                group.lanes[OVERFLOW] = group.overflow().saturating_sub(1);
            }
            g = (g + 1) & group_mask;
        }
    }

    /// Rebuilds the hash table with `groups` groups (a power of two).
    fn rehash(&mut self, groups: usize) {
        self.groups = vec![Group::default(); groups];
        for row in 0..index32(self.len) {
            self.place(self.row_hash(row), row);
        }
    }

    /// Doubles the row array, keeping it 64-byte aligned.
    fn grow_rows(&mut self) {
        let capacity = (self.row_capacity * 2).max(4);
        // 7 spare words so that an aligned start always exists.
        let mut rows = vec![0u64; capacity * self.stride + 7];
        let base = match rows.as_ptr().align_offset(64) {
            offset if offset < 8 => offset,
            _ => 0,
        };
        let used = self.len * self.stride;
        if let (Some(to), Some(from)) = (rows.get_mut(base..base + used), self.rows.get(self.base..self.base + used)) {
            to.copy_from_slice(from);
        }
        self.rows = rows;
        self.base = base;
        self.row_capacity = capacity;
    }

    /// Adds `masked` (a key under this mask) for `id`; returns its row.
    fn insert(&mut self, masked: &FlowKey, id: EntryId) -> u32 {
        if self.len == self.row_capacity {
            self.grow_rows();
        }
        if (self.len + 1) * 100 > self.groups.len() * GROUP_SLOTS * MAX_LOAD_PERCENT {
            self.rehash(self.groups.len() * 2);
        }
        let row = index32(self.len);
        let start = self.base + self.len * self.stride;
        let n = self.n.min(KEY_WORDS);
        if let Some((last, stored)) = self.rows.get_mut(start..start + n + 1).and_then(|r| r.split_last_mut()) {
            for ((value, &offset), &mask) in stored.iter_mut().zip(&self.offsets[..n]).zip(&self.masks[..n]) {
                *value = word_at(masked, offset) & mask;
            }
            *last = id.to_word();
        }
        self.len += 1;
        self.place(self.hash(self.n, masked), row);
        row
    }

    /// Removes `row`; the last row moves into its place, and its entry is returned so that the
    /// caller can update it.
    fn remove(&mut self, row: u32) -> Option<EntryId> {
        if row as usize >= self.len {
            return None;
        }
        self.unplace(self.row_hash(row), row);
        let last = index32(self.len - 1);
        self.len -= 1;
        if row == last {
            return None;
        }
        let last_hash = self.row_hash(last);
        let from = self.base + last as usize * self.stride;
        let to = self.base + row as usize * self.stride;
        if from + self.stride > self.rows.len() {
            return None;
        }
        self.rows.copy_within(from..from + self.stride, to);
        if let Some((g, slot)) = self.locate(last_hash, last) {
            if let Some(r) = self.groups.get_mut(g).and_then(|group| group.rows.get_mut(slot)) {
                *r = row;
            }
        }
        self.row(self.n, row).and_then(|stored| stored.last()).and_then(|&id| EntryId::from_word(id))
    }

    /// The key stored in `row`, as a full key.
    fn key_of(&self, row: u32) -> FlowKey {
        let mut key = FlowKey::default();
        for (&offset, &v) in self.offsets.iter().take(self.n).zip(self.row(self.n, row).unwrap_or(&[])) {
            if let Some(bytes) = key.bytes.get_mut(offset..offset + 8) {
                bytes.copy_from_slice(&v.to_ne_bytes());
            }
        }
        key
    }
}

/// A live megaflow in the slab.
struct Entry<T> {
    value: T,
    stats: EntryStats,
    subtable: u32,
    row: u32,
}

/// A slab slot: one cache line for the usual small `T` (an `Arc`), so `get` and `credit` touch
/// one line.
#[repr(align(64))]
struct EntrySlot<T> {
    /// The generation of the id of the current (or next) megaflow in this slot.
    generation: NonZeroU32,
    entry: Option<Entry<T>>,
}

/// A PMD's megaflow table. `T` is the value of a megaflow (e.g. an `Arc` of datapath actions).
pub struct MegaflowTable<T> {
    slots: Vec<EntrySlot<T>>,
    /// Free slot indices; capacity kept at the slab's size so freeing never allocates.
    free: Vec<u32>,
    /// By subtable id (stable while the subtable lives).
    subtables: Vec<Option<Subtable>>,
    /// Live subtable ids, in rank order.
    rank: Vec<u32>,
    len: usize,
    limit: usize,
    /// xorshift64 state, for eviction sampling.
    random: u64,
    /// Where `expire_idle_some` goes on.
    expire_cursor: usize,
    reporter: Option<Reporter<T>>,
    /// Where `report_some` goes on.
    report_cursor: usize,
    stats: MegaflowStats,
}

impl<T> Default for MegaflowTable<T> {
    fn default() -> Self {
        MegaflowTable::new(DEFAULT_ENTRY_LIMIT)
    }
}

impl<T> MegaflowTable<T> {
    /// An empty table that keeps at most `limit` megaflows (1 to `MAX_ENTRY_LIMIT`).
    pub fn new(limit: usize) -> MegaflowTable<T> {
        MegaflowTable {
            slots: Vec::new(),
            free: Vec::new(),
            subtables: Vec::new(),
            rank: Vec::new(),
            len: 0,
            limit: limit.clamp(1, MAX_ENTRY_LIMIT),
            random: 0x2545_f491_4f6c_dd1d,
            expire_cursor: 0,
            reporter: None,
            report_cursor: 0,
            stats: MegaflowStats::default(),
        }
    }

    /// The table, handing credited counts to `reporter` (see [`Reporter`]).
    pub fn reporting_to(mut self, reporter: Reporter<T>) -> MegaflowTable<T> {
        self.reporter = Some(reporter);
        self
    }

    /// Reports the unreported counts of the megaflows in the next `max_slots` slab slots, going on
    /// where the previous call stopped and wrapping around.
    pub fn report_some(&mut self, max_slots: usize) {
        let slots = self.slots.len();
        if slots == 0 {
            return;
        }
        let start = self.report_cursor % slots;
        for offset in 0..max_slots.min(slots) {
            if let Some(entry) = self.slots.get_mut((start + offset) % slots).and_then(|s| s.entry.as_mut()) {
                report_entry(self.reporter, entry);
            }
        }
        self.report_cursor = (start + max_slots.min(slots)) % slots;
    }

    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether every lookup is a scan of at most `SCAN_MAX_ENTRIES` megaflows, without a hash:
    /// then an exact-match cache in front costs more than it saves.
    pub fn scans_all(&self) -> bool {
        self.len <= SCAN_MAX_ENTRIES
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Changes the limit (clamped like `new`); evicts down to it at once. Returns the evictions.
    #[cfg(test)]
    pub fn set_limit(&mut self, limit: usize) -> usize {
        self.limit = limit.clamp(1, MAX_ENTRY_LIMIT);
        self.evict_over_limit()
    }

    /// Evicts approximately least recently used megaflows until at most `limit` are left.
    /// Returns the evictions.
    #[inline]
    pub fn evict_over_limit(&mut self) -> usize {
        let mut evicted = 0;
        while self.len > self.limit && self.evict_one() {
            evicted += 1;
        }
        evicted
    }

    /// The counters, with the current entry and subtable counts.
    pub fn stats(&self) -> MegaflowStats {
        MegaflowStats { entries: self.len as u64, subtables: self.rank.len() as u64, ..self.stats }
    }

    /// Zeroes the counters (not the entries' own).
    pub fn clear_stats(&mut self) {
        self.stats = MegaflowStats::default();
    }

    /// Installs a megaflow matching the keys `k` with `k & mask == key & mask`, used at `now`.
    /// If the same (mask, masked key) is installed already, its value is replaced and its id and
    /// counters stay. Nothing is evicted: beyond the limit the table grows until
    /// `evict_over_limit`. Returns the megaflow's id (`None` only when the table holds
    /// `MAX_ENTRY_LIMIT` megaflows, or `u32::MAX` slots).
    pub fn insert(&mut self, mask: &FlowKey, key: &FlowKey, value: T, now: u64) -> Option<EntryId> {
        let masked = key.masked(mask);
        let existing = self
            .subtables
            .iter()
            .flatten()
            .find(|st| st.mask == *mask)
            .and_then(|st| Subtable::lookup(st.n, st, &masked));
        let reporter = self.reporter;
        if let Some(entry) = existing.and_then(|id| self.slot_entry_mut(id)) {
            report_entry(reporter, entry);
            entry.value = value;
            return existing;
        }
        if self.len >= MAX_ENTRY_LIMIT {
            return None;
        }
        let (index, generation) = match self.free.pop() {
            Some(index) => (index, self.slots.get(index as usize)?.generation),
            None => {
                let index = u32::try_from(self.slots.len()).ok().filter(|&i| i != u32::MAX)?;
                self.slots.push(EntrySlot { generation: NonZeroU32::MIN, entry: None });
                // Room for every slot in the free list, so that freeing never allocates.
                self.free.reserve(self.slots.len() - self.free.len());
                (index, NonZeroU32::MIN)
            }
        };
        let id = EntryId { index, generation };
        let subtable = self.subtable_for(mask);
        let row = match self.subtables.get_mut(subtable).and_then(Option::as_mut) {
            Some(st) => st.insert(&masked, id),
            None => {
                self.free.push(index);
                return None;
            }
        };
        if let Some(slot) = self.slots.get_mut(index as usize) {
            slot.entry = Some(Entry {
                value,
                stats: EntryStats { last_used: now, ..EntryStats::default() },
                subtable: index32(subtable),
                row,
            });
        }
        self.len += 1;
        self.stats.inserts += 1;
        Some(id)
    }

    /// The id of the subtable for `mask`, created (last in rank) if there is none.
    fn subtable_for(&mut self, mask: &FlowKey) -> usize {
        if let Some(i) = self.subtables.iter().position(|st| st.as_ref().is_some_and(|st| st.mask == *mask)) {
            return i;
        }
        let i = match self.subtables.iter().position(Option::is_none) {
            Some(i) => i,
            None => {
                self.subtables.push(None);
                self.subtables.len() - 1
            }
        };
        if let Some(place) = self.subtables.get_mut(i) {
            *place = Some(Subtable::new(mask));
        }
        self.rank.push(index32(i));
        i
    }

    /// Removes a megaflow; returns its value, or `None` if the id is stale.
    pub fn remove(&mut self, id: EntryId) -> Option<T> {
        if !self.contains(id) {
            return None;
        }
        self.remove_at(id.index as usize)
    }

    fn remove_at(&mut self, index: usize) -> Option<T> {
        let slot = self.slots.get_mut(index)?;
        let mut entry = slot.entry.take()?;
        report_entry(self.reporter, &mut entry);
        slot.generation = slot.generation.checked_add(1).unwrap_or(NonZeroU32::MIN);
        self.free.push(index32(index));
        self.len -= 1;
        let subtable = entry.subtable as usize;
        if let Some(place) = self.subtables.get_mut(subtable) {
            if let Some(st) = place.as_mut() {
                if let Some(moved) = st.remove(entry.row) {
                    if let Some(e) = self.slots.get_mut(moved.index as usize).and_then(|s| s.entry.as_mut()) {
                        e.row = entry.row;
                    }
                }
                if st.len == 0 {
                    *place = None;
                    self.rank.retain(|&s| s as usize != subtable);
                }
            }
        }
        Some(entry.value)
    }

    /// Removes every megaflow; every id becomes stale.
    pub fn clear(&mut self) {
        for (index, slot) in self.slots.iter_mut().enumerate() {
            if let Some(mut entry) = slot.entry.take() {
                report_entry(self.reporter, &mut entry);
                slot.generation = slot.generation.checked_add(1).unwrap_or(NonZeroU32::MIN);
                self.free.push(index32(index));
            }
        }
        self.subtables.clear();
        self.rank.clear();
        self.len = 0;
    }

    /// Is `id` a live megaflow?
    #[inline]
    pub fn contains(&self, id: EntryId) -> bool {
        self.slots.get(id.index as usize).is_some_and(|s| s.generation == id.generation && s.entry.is_some())
    }

    #[inline]
    fn slot_entry(&self, id: EntryId) -> Option<&Entry<T>> {
        self.slots.get(id.index as usize).filter(|s| s.generation == id.generation)?.entry.as_ref()
    }

    #[inline]
    fn slot_entry_mut(&mut self, id: EntryId) -> Option<&mut Entry<T>> {
        self.slots.get_mut(id.index as usize).filter(|s| s.generation == id.generation)?.entry.as_mut()
    }

    /// The value of a live megaflow.
    #[inline]
    pub fn get(&self, id: EntryId) -> Option<&T> {
        self.slot_entry(id).map(|e| &e.value)
    }

    /// The counters of a live megaflow.
    #[cfg(test)]
    pub fn entry_stats(&self, id: EntryId) -> Option<EntryStats> {
        self.slot_entry(id).map(|e| e.stats)
    }

    /// Counts `packets` and `bytes` on a live megaflow, used at `now`; false if the id is stale.
    #[inline]
    pub fn credit(&mut self, id: EntryId, packets: u64, bytes: u64, now: u64) -> bool {
        match self.slot_entry_mut(id) {
            Some(e) => {
                e.stats.packets = e.stats.packets.saturating_add(packets);
                e.stats.bytes = e.stats.bytes.saturating_add(bytes);
                e.stats.last_used = now;
                true
            }
            None => false,
        }
    }

    /// The megaflow `key` matches (the first matching subtable in rank order).
    #[inline]
    pub fn lookup(&mut self, key: &FlowKey) -> Option<EntryId> {
        self.stats.lookups += 1;
        for (rank, &sid) in self.rank.iter().enumerate() {
            let Some(Some(st)) = self.subtables.get_mut(sid as usize) else { continue };
            if let Some(id) = specialised!(st.n, Subtable::lookup, st, key) {
                st.hits += 1;
                self.stats.hits += 1;
                self.stats.subtable_lookups += rank as u64 + 1;
                return Some(id);
            }
        }
        None
    }

    /// Looks up `keys` at once: `found[i]` becomes the megaflow `keys[i]` matches, as `lookup`
    /// would return it (for i below the shorter length of the two). Returns the hits.
    #[cfg(test)]
    #[inline]
    pub fn lookup_batch(&mut self, keys: &[FlowKey], found: &mut [Option<EntryId>]) -> usize {
        keys.chunks(CHUNK)
            .zip(found.chunks_mut(CHUNK))
            .map(|(keys, found)| self.lookup_chunk(keys, u64::MAX, found).count_ones() as usize)
            .sum()
    }

    /// Looks up the keys of a burst of at most 64 whose bit is set in `which` (bit i: `keys[i]`)
    /// at once, as `lookup` would, e.g. the exact-match cache's misses, without copying them
    /// out. `found[i]` is set for those keys and left alone for the others. Returns the bits of
    /// the keys that matched.
    #[inline]
    pub fn lookup_batch_masked(&mut self, keys: &[FlowKey], which: u64, found: &mut [Option<EntryId>]) -> u64 {
        self.lookup_chunk(keys, which, found)
    }

    /// Looks up the keys of `which` among the first `CHUNK` keys; returns the bits of those that
    /// matched.
    #[inline]
    fn lookup_chunk(&mut self, keys: &[FlowKey], which: u64, found: &mut [Option<EntryId>]) -> u64 {
        let n = keys.len().min(found.len()).min(CHUNK);
        let mut unmatched = which & if n == CHUNK { u64::MAX } else { (1 << n) - 1 };
        self.stats.lookups += u64::from(unmatched.count_ones());
        for (rank, &sid) in self.rank.iter().enumerate() {
            if unmatched == 0 {
                break;
            }
            let Some(Some(st)) = self.subtables.get_mut(sid as usize) else { continue };
            let matched_bits = specialised!(st.n, Subtable::lookup_chunk, st, keys, unmatched, found);
            unmatched &= !matched_bits;
            let matched = u64::from(matched_bits.count_ones());
            st.hits += matched;
            self.stats.hits += matched;
            self.stats.subtable_lookups += matched * (rank as u64 + 1);
        }
        // The subtables only wrote the hits; the misses are cleared here, after them.
        let mut bits = unmatched;
        while bits != 0 {
            if let Some(f) = found.get_mut(bits.trailing_zeros() as usize) {
                *f = None;
            }
            bits &= bits - 1;
        }
        which & !unmatched & if n == CHUNK { u64::MAX } else { (1 << n) - 1 }
    }

    /// Orders the subtables by hits since the previous call, most first (ties keep their order),
    /// and starts counting again. The PMD calls it periodically, e.g. every second.
    pub fn rank_subtables(&mut self) {
        for (position, &sid) in self.rank.iter().enumerate() {
            if let Some(Some(st)) = self.subtables.get_mut(sid as usize) {
                st.position = index32(position);
            }
        }
        let subtables = &self.subtables;
        self.rank.sort_unstable_by_key(|&sid| match subtables.get(sid as usize) {
            Some(Some(st)) => (Reverse(st.hits), st.position),
            _ => (Reverse(0), u32::MAX),
        });
        for st in self.subtables.iter_mut().flatten() {
            st.hits = 0;
        }
    }

    /// The subtables in rank order.
    pub fn subtables(&self) -> impl Iterator<Item = SubtableInfo<'_>> + '_ {
        self.rank.iter().filter_map(|&sid| self.subtables.get(sid as usize)?.as_ref()).map(|st| SubtableInfo {
            mask: &st.mask,
            entries: st.len,
            hits: st.hits,
        })
    }

    /// Every megaflow, in slab order.
    pub fn iter(&self) -> impl Iterator<Item = Megaflow<'_, T>> + '_ {
        self.slots.iter().enumerate().filter_map(|(index, slot)| {
            let entry = slot.entry.as_ref()?;
            let st = self.subtables.get(entry.subtable as usize)?.as_ref()?;
            Some(Megaflow {
                id: EntryId { index: index32(index), generation: slot.generation },
                mask: &st.mask,
                key: st.key_of(entry.row),
                value: &entry.value,
                stats: entry.stats,
            })
        })
    }

    /// Keeps the megaflows `keep` approves (revalidation after a table change); returns how
    /// many were removed.
    pub fn retain(&mut self, mut keep: impl FnMut(&Megaflow<'_, T>) -> bool) -> usize {
        let mut removed = 0;
        for index in 0..self.slots.len() {
            let drop = match self.slots.get(index) {
                Some(EntrySlot { generation, entry: Some(_) }) => {
                    let id = EntryId { index: index32(index), generation: *generation };
                    self.megaflow(id).is_some_and(|megaflow| !keep(&megaflow))
                }
                _ => false,
            };
            if drop && self.remove_at(index).is_some() {
                removed += 1;
            }
        }
        removed
    }

    /// Appends to `found` the megaflows that some key matching `value` under `mask` falls in:
    /// their keys agree with `value` wherever both masks have bits. A subtable whose mask
    /// `mask` covers holds at most one such megaflow, found by one hash probe; the rows of the
    /// others are compared one by one (a few words each, contiguous), without touching the
    /// megaflows' values.
    pub fn overlapping(&self, value: &FlowKey, mask: &FlowKey, found: &mut Vec<EntryId>) {
        for st in self.subtables.iter().flatten() {
            let n = st.n.min(KEY_WORDS);
            let mut common = [0u64; KEY_WORDS];
            let mut wanted = [0u64; KEY_WORDS];
            let mut covered = true;
            for j in 0..n {
                let (offset, st_mask) = (st.offsets[j], st.masks[j]);
                let probe_mask = word_at(mask, offset);
                covered &= st_mask & !probe_mask == 0;
                common[j] = st_mask & probe_mask;
                wanted[j] = word_at(value, offset) & common[j];
            }
            if covered {
                found.extend(Subtable::lookup(n, st, &value.masked(&st.mask)));
                continue;
            }
            for row in 0..index32(st.len) {
                let Some((&id, stored)) = st.row(n, row).and_then(<[u64]>::split_last) else { continue };
                let differs = stored.iter().zip(&common).zip(&wanted).any(|((&w, &c), &v)| w & c != v);
                if !differs {
                    found.extend(EntryId::from_word(id));
                }
            }
        }
    }

    /// The megaflow of a live id.
    pub fn megaflow(&self, id: EntryId) -> Option<Megaflow<'_, T>> {
        let entry = self.slot_entry(id)?;
        let st = self.subtables.get(entry.subtable as usize)?.as_ref()?;
        Some(Megaflow { id, mask: &st.mask, key: st.key_of(entry.row), value: &entry.value, stats: entry.stats })
    }

    /// Removes every megaflow not used for more than `idle_after` before `now` (in the callers'
    /// time unit); returns how many. Scans the whole slab: with many megaflows prefer
    /// `expire_idle_some`, which bounds the work per call.
    #[cfg(test)]
    pub fn expire_idle(&mut self, now: u64, idle_after: u64) -> usize {
        self.expire_range(0, self.slots.len(), now, idle_after)
    }

    /// `expire_idle` over the next `max_slots` slab slots only, going on where the previous call
    /// stopped and wrapping around; returns how many megaflows it removed.
    pub fn expire_idle_some(&mut self, now: u64, idle_after: u64, max_slots: usize) -> usize {
        let slots = self.slots.len();
        if slots == 0 {
            return 0;
        }
        let start = self.expire_cursor % slots;
        let count = max_slots.min(slots);
        let end = start + count;
        let mut removed = self.expire_range(start, end.min(slots), now, idle_after);
        if end > slots {
            removed += self.expire_range(0, end - slots, now, idle_after);
        }
        self.expire_cursor = end % slots;
        removed
    }

    fn expire_range(&mut self, start: usize, end: usize, now: u64, idle_after: u64) -> usize {
        let mut removed = 0;
        for index in start..end {
            let idle = self
                .slots
                .get(index)
                .and_then(|slot| slot.entry.as_ref())
                .is_some_and(|e| now.saturating_sub(e.stats.last_used) > idle_after);
            if idle && self.remove_at(index).is_some() {
                removed += 1;
            }
        }
        self.stats.expirations += removed as u64;
        removed
    }

    #[inline(always)]
    fn next_random(&mut self) -> u64 {
        super::xorshift64(&mut self.random)
    }

    /// Evicts the least recently used of `EVICTION_SAMPLES` randomly sampled megaflows; false
    /// if the table is empty.
    fn evict_one(&mut self) -> bool {
        let slots = self.slots.len();
        if self.len == 0 || slots == 0 {
            return false;
        }
        let mut victim: Option<(u64, usize)> = None;
        let mut sampled = 0;
        for _ in 0..EVICTION_SAMPLES * 4 {
            let index = random_below(self.next_random(), slots);
            if let Some(e) = self.slots.get(index).and_then(|slot| slot.entry.as_ref()) {
                if victim.is_none_or(|(used, _)| e.stats.last_used < used) {
                    victim = Some((e.stats.last_used, index));
                }
                sampled += 1;
                if sampled == EVICTION_SAMPLES {
                    break;
                }
            }
        }
        // A sparse slab: take the first megaflow after a random place.
        let start = random_below(self.next_random(), slots);
        let index = victim.map(|(_, index)| index).or_else(|| {
            (start..slots).chain(0..start).find(|&i| self.slots.get(i).is_some_and(|slot| slot.entry.is_some()))
        });
        match index.and_then(|index| self.remove_at(index)) {
            Some(_) => {
                self.stats.evictions += 1;
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::key::{words, Field};

    /// A fixed-seed xorshift64 for reproducible random tests.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        #[expect(clippy::cast_possible_truncation, reason = "the remainder is below `n`, a usize")]
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    impl<T> MegaflowTable<T> {
        /// Checks the internal structure: every row findable, overflow counts exact, slab and
        /// subtables consistent.
        fn check_invariants(&self) {
            let mut live = 0;
            for (sid, st) in self.subtables.iter().enumerate() {
                let Some(st) = st else { continue };
                assert!(st.len > 0, "empty subtable kept");
                assert!(self.rank.contains(&(index32(sid))));
                assert_eq!(st.base * 8 % 64, st.rows.as_ptr().align_offset(64) * 8 % 64);
                let mut overflow = vec![0u32; st.groups.len()];
                let mut placed = 0;
                for (g, group) in st.groups.iter().enumerate() {
                    assert_eq!(group.rows[OVERFLOW], NO_ROW);
                    for (slot, (tag, row)) in group.slots().enumerate() {
                        if tag == 0 {
                            continue;
                        }
                        placed += 1;
                        let hash = st.row_hash(row);
                        assert_eq!(tag, tag_of(hash));
                        assert_eq!(st.locate(hash, row), Some((g, slot)));
                        let mut h = hash as usize & st.group_mask();
                        while h != g {
                            overflow[h] += 1;
                            h = (h + 1) & st.group_mask();
                        }
                    }
                }
                assert_eq!(placed, st.len);
                for (group, expected) in st.groups.iter().zip(&overflow) {
                    assert_eq!(group.overflow(), *expected);
                }
                for row in 0..index32(st.len) {
                    let id = EntryId::from_word(*st.row(st.n, row).unwrap().last().unwrap()).unwrap();
                    let entry = self.slot_entry(id).expect("row of a dead entry");
                    assert_eq!((entry.subtable, entry.row), (index32(sid), row));
                    live += 1;
                }
            }
            assert_eq!(live, self.len);
            assert_eq!(self.slots.iter().filter(|s| s.entry.is_some()).count(), self.len);
            assert_eq!(self.rank.len(), self.subtables.iter().flatten().count());
            assert!(self.free.capacity() >= self.slots.len());
        }
    }

    fn key(fields: &[(Field, u64)]) -> FlowKey {
        let mut k = FlowKey::default();
        for &(f, v) in fields {
            k.set_u64(f, v);
        }
        k
    }

    fn mask(fields: &[Field]) -> FlowKey {
        let mut m = FlowKey::default();
        for &f in fields {
            m.set_all_ones(f);
        }
        m
    }

    #[test]
    fn insert_lookup_remove() {
        let mut t = MegaflowTable::new(100);
        let m = mask(&[Field::InPort, Field::NwDst]);
        let flow = key(&[(Field::InPort, 1), (Field::NwDst, 0x0a00_0001), (Field::TpSrc, 99)]);
        let id = t.insert(&m, &flow, "a", 5).unwrap();
        assert_eq!(t.get(id), Some(&"a"));
        assert_eq!(t.entry_stats(id), Some(EntryStats { last_used: 5, ..EntryStats::default() }));
        // Bits outside the mask do not matter.
        let packet = key(&[(Field::InPort, 1), (Field::NwDst, 0x0a00_0001), (Field::TpSrc, 7), (Field::NwSrc, 3)]);
        assert_eq!(t.lookup(&packet), Some(id));
        assert_eq!(t.lookup(&key(&[(Field::InPort, 2), (Field::NwDst, 0x0a00_0001)])), None);
        assert!(t.credit(id, 2, 128, 9));
        assert_eq!(
            t.entry_stats(id),
            Some(EntryStats { packets: 2, bytes: 128, last_used: 9, ..EntryStats::default() })
        );
        // The same megaflow again: the value changes, the id and counters stay.
        assert_eq!(t.insert(&m, &packet, "b", 10), Some(id));
        assert_eq!(t.get(id), Some(&"b"));
        assert_eq!(t.entry_stats(id).unwrap().packets, 2);
        assert_eq!(t.len(), 1);
        let megaflows: Vec<_> = t.iter().collect();
        assert_eq!(megaflows.len(), 1);
        assert_eq!(megaflows[0].key, flow.masked(&m));
        assert_eq!(*megaflows[0].mask, m);
        assert_eq!(t.remove(id), Some("b"));
        assert!(!t.contains(id));
        assert_eq!(t.get(id), None);
        assert!(!t.credit(id, 1, 1, 1));
        assert_eq!(t.remove(id), None);
        assert_eq!(t.lookup(&packet), None);
        assert_eq!(t.stats().subtables, 0);
        // The slot is reused with a new generation: the old id stays stale.
        let id2 = t.insert(&m, &flow, "c", 11).unwrap();
        assert_ne!(id2, id);
        assert!(!t.contains(id));
        assert_eq!(t.lookup(&packet), Some(id2));
        let s = t.stats();
        assert_eq!((s.lookups, s.hits, s.inserts, s.entries, s.subtables), (4, 2, 2, 1, 1));
        t.check_invariants();
    }

    /// Subtables of up to `SCAN_MAX_ENTRIES` rows are scanned, bigger ones hashed: a batch finds
    /// the same megaflows either way, across the boundary in both directions, and `scans_all`
    /// says which regime the whole table is in.
    #[test]
    fn small_subtables_are_scanned_with_the_same_results() {
        let mut t = MegaflowTable::new(100);
        let m = mask(&[Field::InPort, Field::NwDst, Field::TpDst]);
        let flow =
            |i: u64| key(&[(Field::InPort, 1), (Field::NwDst, 0x0a00_0000 + i), (Field::TpDst, 80), (Field::TpSrc, i)]);
        let keys: Vec<FlowKey> = (0..8).map(flow).collect();
        let check = |t: &mut MegaflowTable<u64>, ids: &[EntryId]| {
            let mut found = vec![Some(EntryId { index: 99, generation: NonZeroU32::MIN }); keys.len()];
            let hits = t.lookup_batch_masked(&keys, 0b1111_1110, &mut found);
            assert_eq!(found[0].map(|id| id.index), Some(99), "a key outside `which` is left alone");
            for (i, f) in found.iter().enumerate().skip(1) {
                assert_eq!(*f, ids.get(i).copied(), "key {i} of {}", ids.len());
                assert_eq!(hits & (1 << i) != 0, i < ids.len());
            }
        };
        assert!(t.scans_all());
        let mut ids = Vec::new();
        for i in 0..6u64 {
            ids.push(t.insert(&m, &flow(i), i, 0).unwrap());
            assert_eq!(t.scans_all(), ids.len() <= SCAN_MAX_ENTRIES);
            check(&mut t, &ids);
        }
        while let Some(id) = ids.pop() {
            t.remove(id);
            check(&mut t, &ids);
        }
        // Two scanned subtables: the first in rank order that matches wins.
        let wide = mask(&[Field::InPort]);
        let narrow_id = t.insert(&m, &flow(1), 1, 0).unwrap();
        let wide_id = t.insert(&wide, &flow(1), 2, 0).unwrap();
        assert!(t.scans_all());
        let mut found = vec![None; 3];
        assert_eq!(t.lookup_batch(&keys[..3], &mut found), 3);
        let first =
            t.rank
                .first()
                .map(|&sid| if t.subtables[sid as usize].as_ref().unwrap().mask == m { narrow_id } else { wide_id });
        assert_eq!(found, vec![Some(wide_id), first, Some(wide_id)]);
        t.check_invariants();
    }

    #[test]
    fn catch_all_mask_matches_everything() {
        let mut t = MegaflowTable::new(10);
        let id = t.insert(&FlowKey::default(), &key(&[(Field::InPort, 3)]), 1, 0).unwrap();
        assert_eq!(t.lookup(&FlowKey::default()), Some(id));
        assert_eq!(t.lookup(&key(&[(Field::Ipv6Label, 3), (Field::ArpTha, 1)])), Some(id));
    }

    #[test]
    fn ranking_moves_the_busy_subtable_first() {
        let mut t = MegaflowTable::new(10);
        let a = mask(&[Field::InPort]);
        let b = mask(&[Field::InPort, Field::TpDst]);
        t.insert(&a, &key(&[(Field::InPort, 1)]), 'a', 0).unwrap();
        let id_b = t.insert(&b, &key(&[(Field::InPort, 2), (Field::TpDst, 80)]), 'b', 0).unwrap();
        let hot = key(&[(Field::InPort, 2), (Field::TpDst, 80)]);
        for _ in 0..10 {
            assert_eq!(t.lookup(&hot), Some(id_b));
        }
        assert_eq!(t.stats().subtable_lookups_per_hit(), 2.0);
        assert_eq!(*t.subtables().next().unwrap().mask, a);
        assert_eq!(t.subtables().nth(1).unwrap().hits, 10);
        t.rank_subtables();
        assert_eq!(*t.subtables().next().unwrap().mask, b);
        assert_eq!(t.subtables().next().unwrap().hits, 0);
        t.clear_stats();
        let mut found = [None; 4];
        assert_eq!(t.lookup_batch(&[hot; 4], &mut found), 4);
        assert_eq!(found, [Some(id_b); 4]);
        assert_eq!(t.stats().subtable_lookups_per_hit(), 1.0);
        // Ties keep their order.
        t.rank_subtables();
        t.rank_subtables();
        assert_eq!(*t.subtables().next().unwrap().mask, b);
    }

    #[test]
    fn overlapping_megaflows_first_subtable_in_rank_wins() {
        let mut t = MegaflowTable::new(10);
        let coarse = t.insert(&mask(&[Field::InPort]), &key(&[(Field::InPort, 1)]), 0, 0).unwrap();
        let fine = t
            .insert(&mask(&[Field::InPort, Field::TpDst]), &key(&[(Field::InPort, 1), (Field::TpDst, 53)]), 1, 0)
            .unwrap();
        let packet = key(&[(Field::InPort, 1), (Field::TpDst, 53)]);
        assert_eq!(t.lookup(&packet), Some(coarse));
        for _ in 0..3 {
            t.lookup(&key(&[(Field::InPort, 9), (Field::TpDst, 9)]));
        }
        t.remove(coarse);
        assert_eq!(t.lookup(&packet), Some(fine));
    }

    #[test]
    fn limit_evicts_approximately_least_recently_used() {
        let mut t = MegaflowTable::new(1000);
        let m = mask(&[Field::NwSrc]);
        let ids: Vec<_> = (0..1000u64).map(|i| t.insert(&m, &key(&[(Field::NwSrc, i)]), i, i).unwrap()).collect();
        for i in 1000..1100u64 {
            let id = t.insert(&m, &key(&[(Field::NwSrc, i)]), i, i).unwrap();
            assert_eq!(t.len(), 1001, "insert does not evict");
            assert_eq!(t.evict_over_limit(), 1);
            assert_eq!(t.len(), 1000);
            assert!(t.contains(id), "the newest megaflow is the most recently used");
        }
        assert_eq!(t.stats().evictions, 100);
        let evicted: Vec<u64> = (0..1000u64).filter(|&i| !t.contains(ids[usize::try_from(i).unwrap()])).collect();
        assert_eq!(evicted.len(), 100);
        // Each eviction takes the oldest of 8 samples: about the oldest ninth.
        let mean = evicted.iter().sum::<u64>() / 100;
        assert!(mean < 250, "mean age rank of evicted entries {mean}");
        assert!(evicted.iter().all(|&i| i < 700), "{evicted:?}");
        assert_eq!(t.set_limit(10), 990);
        assert_eq!(t.len(), 10);
        assert_eq!(t.stats().evictions, 1090);
        t.check_invariants();
    }

    #[test]
    fn expire_idle_and_the_bounded_variant() {
        let mut t = MegaflowTable::new(100);
        let m = mask(&[Field::TpSrc]);
        let ids: Vec<_> = (0..50u64).map(|i| t.insert(&m, &key(&[(Field::TpSrc, i)]), i, i).unwrap()).collect();
        // Idle for more than 10 at 30: used before 20.
        assert_eq!(t.expire_idle(30, 10), 20);
        assert!(ids.iter().take(20).all(|&id| !t.contains(id)));
        assert!(ids.iter().skip(20).all(|&id| t.contains(id)));
        let mut removed = 0;
        for _ in 0..7 {
            removed += t.expire_idle_some(1000, 10, 8);
        }
        assert_eq!(removed, 30);
        assert!(t.is_empty());
        assert_eq!(t.stats().expirations, 50);
        t.check_invariants();
    }

    #[test]
    fn clear_and_retain() {
        let mut t = MegaflowTable::new(100);
        let m = mask(&[Field::TpSrc, Field::NwProto]);
        let ids: Vec<_> =
            (0..20u64).map(|i| t.insert(&m, &key(&[(Field::TpSrc, i), (Field::NwProto, 17)]), i, 0).unwrap()).collect();
        assert_eq!(t.retain(|mf| mf.key.get_u64(Field::TpSrc) % 2 == 0 && *mf.value < 100), 10);
        assert!(ids.iter().enumerate().all(|(i, &id)| t.contains(id) == (i % 2 == 0)));
        t.check_invariants();
        t.clear();
        assert!(t.is_empty());
        assert!(ids.iter().all(|&id| !t.contains(id)));
        assert_eq!(t.lookup(&key(&[(Field::TpSrc, 2), (Field::NwProto, 17)])), None);
        let id = t.insert(&m, &key(&[(Field::TpSrc, 2)]), 7, 0).unwrap();
        assert!(ids.iter().all(|&old| old != id));
        t.check_invariants();
    }

    /// A value that tallies what the table reports for it.
    type Tally = std::rc::Rc<std::cell::Cell<(u64, u64, u64)>>;

    fn tally(value: &Tally, packets: u64, bytes: u64, last_used: u64) {
        let (p, b, _) = value.get();
        value.set((p + packets, b + bytes, last_used));
    }

    #[test]
    fn credited_counts_reach_the_reporter_exactly_once_whatever_removes_the_megaflow() {
        let mut t = MegaflowTable::new(4).reporting_to(tally as Reporter<Tally>);
        let m = mask(&[Field::TpSrc]);
        let tallies: Vec<Tally> = (0..8).map(|_| Tally::default()).collect();
        let mut ids: Vec<EntryId> = (0..4u64)
            .map(|i| t.insert(&m, &key(&[(Field::TpSrc, i)]), tallies[usize::try_from(i).unwrap()].clone(), 0).unwrap())
            .collect();
        for (i, &id) in ids.iter().enumerate() {
            assert!(t.credit(id, i as u64 + 1, 100, 7));
        }
        // Two slots per step: the first two, then the other two; nothing twice.
        t.report_some(2);
        assert_eq!((tallies[0].get(), tallies[1].get(), tallies[2].get()), ((1, 100, 7), (2, 100, 7), (0, 0, 0)));
        t.report_some(2);
        t.report_some(4);
        assert_eq!((tallies[2].get(), tallies[3].get()), ((3, 100, 7), (4, 100, 7)));
        for &id in &ids {
            assert!(t.credit(id, 10, 1000, 9));
        }
        // Replacing the value reports to the old one first.
        assert_eq!(t.insert(&m, &key(&[(Field::TpSrc, 0)]), tallies[4].clone(), 10), Some(ids[0]));
        assert_eq!(tallies[0].get(), (11, 1100, 9));
        // remove, eviction (a fifth megaflow at the limit of 4), retain, clear.
        t.remove(ids[1]);
        assert_eq!(tallies[1].get(), (12, 1100, 9));
        ids.push(t.insert(&m, &key(&[(Field::TpSrc, 5)]), tallies[5].clone(), 11).unwrap());
        ids.push(t.insert(&m, &key(&[(Field::TpSrc, 6)]), tallies[6].clone(), 11).unwrap());
        assert_eq!(t.evict_over_limit(), 1);
        assert_eq!(t.len(), 4);
        assert_eq!(t.retain(|mf| mf.key.get_u64(Field::TpSrc) != 2), 1);
        assert_eq!(tallies[2].get(), (13, 1100, 9));
        t.clear();
        let total: u64 = tallies.iter().map(|tally| tally.get().0).sum();
        assert_eq!(total, 1 + 2 + 3 + 4 + 4 * 10, "{tallies:?}");
        assert_eq!(tallies[3].get(), (14, 1100, 9));
    }

    #[test]
    fn a_big_subtable_with_churn() {
        let mut t = MegaflowTable::new(1 << 20);
        let m = mask(&[Field::NwSrc, Field::NwDst, Field::TpSrc]);
        let mut rng = Rng(7);
        let mut live = Vec::new();
        for i in 0..30_000u64 {
            let k = key(&[(Field::NwSrc, rng.next() & 0xffff), (Field::NwDst, i), (Field::TpSrc, 1)]);
            live.push((t.insert(&m, &k, i, 0).unwrap(), k));
        }
        t.check_invariants();
        for _ in 0..15_000 {
            let (id, _) = live.swap_remove(rng.below(live.len()));
            assert!(t.remove(id).is_some());
        }
        t.check_invariants();
        let keys: Vec<FlowKey> = live.iter().map(|&(_, k)| k).collect();
        let mut found = vec![None; keys.len()];
        assert_eq!(t.lookup_batch(&keys, &mut found), keys.len());
        for ((id, k), f) in live.iter().zip(&found) {
            assert_eq!(*f, Some(*id));
            assert_eq!(t.lookup(k), Some(*id));
        }
        let absent = key(&[(Field::NwSrc, 1 << 20), (Field::NwDst, 1), (Field::TpSrc, 1)]);
        assert_eq!(t.lookup(&absent), None);
    }

    /// What the reference model knows of a megaflow.
    struct RefEntry {
        id: EntryId,
        mask: FlowKey,
        key: FlowKey,
        value: u64,
        last_used: u64,
    }

    /// What a linear scan in rank order says `key` matches.
    fn reference_lookup(t: &MegaflowTable<u64>, reference: &[RefEntry], key: &FlowKey) -> Option<EntryId> {
        let masks: Vec<FlowKey> = t.subtables().map(|s| *s.mask).collect();
        masks.iter().find_map(|m| reference.iter().find(|e| e.mask == *m && key.masked(m) == e.key).map(|e| e.id))
    }

    /// Random masks, keys and operations against a linear-scan reference.
    #[test]
    fn random_operations_agree_with_a_linear_scan() {
        let mut rng = Rng(0x1234_5678_9abc_def1);
        let candidate_words = [0usize, 1, 2, 3, 4, 5, 10, 12, 16];
        // A pool of masks: 2 to 4 words each, whole or partial words; one catch-all.
        let mut masks = vec![FlowKey::default()];
        while masks.len() < 8 {
            let mut m = FlowKey::default();
            for _ in 0..2 + rng.below(3) {
                let w = candidate_words[rng.below(candidate_words.len())];
                let bits = match rng.below(3) {
                    0 => u64::MAX,
                    1 => 0xffff_ffff,
                    _ => rng.next() | 1,
                };
                m.set_word(w, bits);
            }
            if !masks.contains(&m) {
                masks.push(m);
            }
        }
        // Word values from small pools so that keys and megaflows collide and overlap.
        let pools: Vec<Vec<u64>> =
            (0..KEY_WORDS).map(|_| (0..12).map(|i| if i == 0 { 0 } else { rng.next() }).collect()).collect();
        let random_key = |rng: &mut Rng| {
            let mut k = FlowKey::default();
            for (w, pool) in pools.iter().enumerate() {
                k.set_word(w, pool[rng.below(pool.len())]);
            }
            k
        };
        let mut t: MegaflowTable<u64> = MegaflowTable::new(200);
        let mut reference: Vec<RefEntry> = Vec::new();
        let mut dead: Vec<EntryId> = Vec::new();
        let mut now = 0u64;
        let mut checked_hits = 0;
        for op in 0..25_000u64 {
            now += 1;
            match rng.below(100) {
                0..=34 => {
                    // The catch-all (masks[0]) rarely: it hides every miss while it lives.
                    let m = if rng.below(300) == 0 { masks[0] } else { masks[1 + rng.below(masks.len() - 1)] };
                    let k = random_key(&mut rng);
                    let evictions = t.stats().evictions;
                    let existing = reference.iter().position(|e| e.mask == m && e.key == k.masked(&m));
                    let id = t.insert(&m, &k, op, now).unwrap();
                    t.evict_over_limit();
                    match existing {
                        Some(i) => {
                            assert_eq!(reference[i].id, id);
                            reference[i].value = op;
                        }
                        None => reference.push(RefEntry { id, mask: m, key: k.masked(&m), value: op, last_used: now }),
                    }
                    let before = reference.len();
                    dead.extend(reference.iter().filter(|e| !t.contains(e.id)).map(|e| e.id));
                    reference.retain(|e| t.contains(e.id));
                    assert_eq!((before - reference.len()) as u64, t.stats().evictions - evictions);
                    assert!(t.contains(id));
                }
                35..=44 => {
                    if !reference.is_empty() && rng.below(4) != 0 {
                        let e = reference.swap_remove(rng.below(reference.len()));
                        assert_eq!(t.remove(e.id), Some(e.value));
                        dead.push(e.id);
                    } else if !dead.is_empty() {
                        let id = dead[rng.below(dead.len())];
                        assert_eq!(t.remove(id), None);
                    }
                }
                45..=64 => {
                    // Half the keys are made to hit an existing megaflow.
                    let mut k = random_key(&mut rng);
                    if !reference.is_empty() && rng.below(2) == 0 {
                        let e = &reference[rng.below(reference.len())];
                        for w in 0..KEY_WORDS {
                            k.set_word(w, e.key.word(w) | (k.word(w) & !e.mask.word(w)));
                        }
                    }
                    let expected = reference_lookup(&t, &reference, &k);
                    assert_eq!(t.lookup(&k), expected, "op {op}");
                    checked_hits += usize::from(expected.is_some());
                    if let Some(id) = expected {
                        assert!(t.credit(id, 1, 64, now));
                        reference.iter_mut().find(|e| e.id == id).unwrap().last_used = now;
                    }
                }
                65..=84 => {
                    let n = 1 + rng.below(70);
                    let keys: Vec<FlowKey> = (0..n)
                        .map(|_| {
                            let mut k = random_key(&mut rng);
                            if !reference.is_empty() && rng.below(3) != 0 {
                                let e = &reference[rng.below(reference.len())];
                                for w in 0..KEY_WORDS {
                                    k.set_word(w, e.key.word(w) | (k.word(w) & !e.mask.word(w)));
                                }
                            }
                            k
                        })
                        .collect();
                    let mut found =
                        vec![Some(dead.first().copied().unwrap_or(EntryId::from_word(1 << 32).unwrap())); n];
                    let expected: Vec<_> = keys.iter().map(|k| reference_lookup(&t, &reference, k)).collect();
                    if n <= 64 && rng.below(2) == 0 {
                        // A random subset: the others' `found` stays as it was.
                        let which = rng.next();
                        let before = found.clone();
                        let hit_bits = t.lookup_batch_masked(&keys, which, &mut found);
                        for i in 0..n {
                            if which & (1 << i) != 0 {
                                assert_eq!(found[i], expected[i], "op {op}");
                                assert_eq!(hit_bits & (1 << i) != 0, expected[i].is_some());
                            } else {
                                assert_eq!(found[i], before[i]);
                                assert_eq!(hit_bits & (1 << i), 0);
                            }
                        }
                        checked_hits += hit_bits.count_ones() as usize;
                    } else {
                        let hits = t.lookup_batch(&keys, &mut found);
                        assert_eq!(found, expected, "op {op}");
                        assert_eq!(hits, expected.iter().flatten().count());
                        checked_hits += hits;
                    }
                }
                85..=92 => {
                    let i = rng.below(reference.len().max(1));
                    if let Some(e) = reference.get_mut(i) {
                        e.last_used = now;
                        assert!(t.credit(e.id, 1, 1, now));
                    }
                }
                93..=94 if rng.below(4) == 0 => {
                    let idle = 50 + rng.below(1000) as u64;
                    let expired = reference.iter().filter(|e| now - e.last_used > idle).count();
                    let removed = if rng.below(2) == 0 {
                        t.expire_idle(now, idle)
                    } else {
                        let mut removed = 0;
                        for _ in 0..4 {
                            removed += t.expire_idle_some(now, idle, t.slots.len().div_ceil(4));
                        }
                        removed
                    };
                    assert_eq!(removed, expired);
                    dead.extend(reference.iter().filter(|e| now - e.last_used > idle).map(|e| e.id));
                    reference.retain(|e| now - e.last_used <= idle);
                }
                93..=98 => t.rank_subtables(),
                _ => {
                    if rng.below(100) == 0 {
                        t.clear();
                        dead.extend(reference.drain(..).map(|e| e.id));
                    }
                }
            }
            assert_eq!(t.len(), reference.len());
            assert!(t.len() <= 200);
            if op % 1000 == 0 {
                t.check_invariants();
                for mf in t.iter() {
                    let e = reference.iter().find(|e| e.id == mf.id).unwrap();
                    assert_eq!(
                        (*mf.mask, mf.key, *mf.value, mf.stats.last_used),
                        (e.mask, e.key, e.value, e.last_used)
                    );
                }
            }
        }
        assert!(dead.iter().all(|&id| !t.contains(id)));
        let s = t.stats();
        assert!(
            checked_hits > 5_000 && s.lookups - s.hits > 5_000 && s.evictions > 100 && s.expirations > 100,
            "{checked_hits} {s:?}"
        );
        assert_eq!(usize::try_from(s.entries).unwrap(), reference.len());
        let _ = words::ALL;
    }
}
