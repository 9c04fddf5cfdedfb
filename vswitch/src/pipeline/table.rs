//! The OpenFlow flow tables of one bridge (tables 0..=254), in two halves.
//!
//! **Management side** (`FlowTables`, owned and mutated by the management thread): OpenFlow 1.3
//! flow_mod semantics. An add replaces the rule with the same table, priority and match (its
//! counters kept unless `reset_counts`; `check_overlap` refuses an add that some packet could
//! match together with a same-priority rule of a different match); modify and modify-strict
//! replace the instructions (and cookie) of the selected rules, keeping their counters, age and
//! timeouts; delete and delete-strict return the removed rules (for flow_removed); dump lists the
//! selected rules; `expire` removes rules past their idle or hard timeout. `apply` runs a batch
//! of add/modify/delete operations all or nothing: on the first error every change already made
//! is undone, so a flows file or a bundle becomes one table version.
//!
//! **Lookup side** (`TablesSnapshot`, immutable, shared by the PMD threads through an `Arc`):
//! a priority-ordered tuple-space search per table. Rules are grouped into subtables by mask;
//! a subtable is a hash table from the masked key to the best rule with that match (rules with
//! the same mask and value differ only in priority, so only the first in lookup order can ever
//! win). Subtables are visited in the order of the best rule they hold and the search stops as
//! soon as a subtable cannot hold a better rule than the one found. Every visited subtable's
//! mask is ORed into the caller's `wildcards`: a megaflow built from the packet's key under
//! those wildcards gets the same answer for every packet it covers. A lookup neither allocates
//! nor takes a lock, and its cost does not depend on the number of rules in a subtable.
//!
//! Lookup order ("rank"): higher priority first; among equal priorities the rule added first
//! (lower id). Ties can only occur between rules of different masks that overlap, which
//! OpenFlow leaves undefined; the rule added first wins, deterministically.
//!
//! `FlowTables::snapshot` rebuilds only what changed since the previous snapshot: each subtable
//! is an `Arc` rebuilt only when a rule of its mask was added, modified or removed, and each
//! table's lookup structure is an `Arc` shared with the previous snapshot when nothing in it
//! changed.
//!
//! Every rule is an `Arc<RuleEntry>`: the `FlowRule`, an id, its flags and times (milliseconds,
//! supplied by the caller) and counters that the datapath updates without locks (relaxed
//! atomics, once per packet batch per rule). The counters sit behind their own `Arc` so that a
//! modified or replaced rule and its predecessor - which PMDs may still be hitting until they
//! move to the next snapshot - count into the same place.
//!
//! `take_changes` hands over the matches of the rules put in or taken out since its previous
//! call (at most `MAX_LOGGED_CHANGES`; beyond, only that there were more), so that the PMDs
//! invalidate only the cached megaflows those rules could have matched (`revalidate`).
//!
//! While flow monitors watch the bridge (`set_journal`), every rule added, changed or removed
//! is also journaled as a [`RuleEvent`] (a rolled-back batch leaves nothing there) for
//! `take_journal`; each rule carries the revision of its last add or change (`revision`), so
//! that a monitor that paused can tell which rules changed since.
//!
//! The tables also hold the bridge's group table (`group`), so one snapshot is one version of
//! rules and groups together: a rule may only use groups that exist, and a group delete deletes
//! the rules that use it (`apply_group_mod`).

use std::cmp::{Ordering as CmpOrdering, Reverse};
use std::fmt::{self, Write as _};
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use hashbrown::{DefaultHashBuilder, HashMap, HashSet, HashTable};

use super::group::{GroupEntry, GroupModError, GroupOp, GroupTable, GroupsSnapshot};
use crate::flow::key::{FlowKey, KEY_WORDS};
use crate::flow::{FlowModification, FlowParseError, FlowRule, FlowSelector, Instructions, Match};

/// Tables a bridge has: 0..=254 (255 is OpenFlow's "all tables").
pub const TABLE_COUNT: usize = 255;

/// Lookup order of rules, greatest first: priority, then the rule added first.
type Rank = (u16, Reverse<u64>);

/// The flow_mod flags that change how an add works or that a rule keeps.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct FlowModFlags {
    /// Send a flow_removed message when the rule expires or is deleted.
    pub send_flow_rem: bool,
    /// Refuse the add if it overlaps a rule of the same priority with a different match.
    pub check_overlap: bool,
    /// When the add replaces a rule, start from zero counters instead of the replaced rule's.
    pub reset_counts: bool,
}

impl fmt::Display for FlowModFlags {
    /// As Open vSwitch prints them in a dump: each set flag followed by a space.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = [
            (self.send_flow_rem, "send_flow_rem "),
            (self.check_overlap, "check_overlap "),
            (self.reset_counts, "reset_counts "),
        ];
        names.iter().filter(|(set, _)| *set).try_for_each(|(_, name)| f.write_str(name))
    }
}

/// Counters of a rule, shared by its versions (modify, replace without `reset_counts`).
#[derive(Debug, Default)]
struct Counters {
    packets: AtomicU64,
    bytes: AtomicU64,
    /// The last hit (ms), 0 before the first.
    last_used_ms: AtomicU64,
    /// The last time a learn action built the rule again (ms), 0 before: both timeouts count
    /// from it too.
    refreshed_ms: AtomicU64,
}

/// One rule of a table with its identity, times and counters.
#[derive(Debug)]
pub struct RuleEntry {
    rule: FlowRule,
    id: u64,
    flags: FlowModFlags,
    added_ms: u64,
    modified_ms: u64,
    /// The add (its id) or the change of instructions or cookie that made the rule what it is,
    /// numbered in the same sequence as ids.
    revision: u64,
    counters: Arc<Counters>,
}

/// Why `FlowTables::expire` removed a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Timeout {
    /// No hit for idle_timeout seconds.
    Idle,
    /// hard_timeout seconds since the rule was added.
    Hard,
}

impl RuleEntry {
    pub fn rule(&self) -> &FlowRule {
        &self.rule
    }

    /// Unique among the rules of a `FlowTables`; grows with every add; kept by a modify.
    pub fn id(&self) -> u64 {
        self.id
    }

    pub fn flags(&self) -> FlowModFlags {
        self.flags
    }

    /// When the rule was added (ms); a modify keeps it, a replacing add starts anew.
    pub fn added_ms(&self) -> u64 {
        self.added_ms
    }

    /// When the rule was last added or modified (ms).
    pub fn modified_ms(&self) -> u64 {
        self.modified_ms
    }

    /// The number of its last add or change of instructions or cookie: every add and change
    /// takes the next number ([`FlowTables::next_revision`]), so a rule whose revision is at
    /// least a number taken earlier changed since (and was added since when its id is).
    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// Counts a batch of `packets` packets of `bytes` bytes that hit the rule at `now_ms`. For
    /// the datapath: lock-free (relaxed atomics), call it once per batch, not per packet.
    #[inline]
    pub fn record(&self, packets: u64, bytes: u64, now_ms: u64) {
        self.counters.packets.fetch_add(packets, Ordering::Relaxed);
        self.counters.bytes.fetch_add(bytes, Ordering::Relaxed);
        self.counters.last_used_ms.fetch_max(now_ms, Ordering::Relaxed);
    }

    pub fn packets(&self) -> u64 {
        self.counters.packets.load(Ordering::Relaxed)
    }

    pub fn bytes(&self) -> u64 {
        self.counters.bytes.load(Ordering::Relaxed)
    }

    /// A learn action built the rule again at `now_ms`: its idle and hard timeouts start over,
    /// as Open vSwitch's learn does for the flow it learned. Not a modification: the datapath
    /// versions do not change.
    pub fn refresh(&self, now_ms: u64) {
        self.counters.refreshed_ms.fetch_max(now_ms, Ordering::Relaxed);
    }

    fn refreshed_ms(&self) -> u64 {
        self.counters.refreshed_ms.load(Ordering::Relaxed)
    }

    /// The last hit, or when the rule was added if that is later (what the idle timeout and
    /// idle_age count from).
    pub fn last_used_ms(&self) -> u64 {
        self.counters.last_used_ms.load(Ordering::Relaxed).max(self.added_ms)
    }

    /// How long the rule has been in its table at `now_ms`.
    #[cfg(test)]
    pub fn duration(&self, now_ms: u64) -> std::time::Duration {
        std::time::Duration::from_millis(now_ms.saturating_sub(self.added_ms))
    }

    /// Whether the rule has timed out at `now_ms`, and how (the hard timeout first). Both
    /// timeouts count from the last refresh (`refresh`) when that is later.
    pub fn expiry(&self, now_ms: u64) -> Option<Timeout> {
        let passed =
            |since: u64, seconds: u16| seconds != 0 && now_ms.saturating_sub(since) >= u64::from(seconds) * 1000;
        let refreshed = self.refreshed_ms();
        if passed(self.added_ms.max(refreshed), self.rule.hard_timeout) {
            Some(Timeout::Hard)
        } else if passed(self.last_used_ms().max(refreshed), self.rule.idle_timeout) {
            Some(Timeout::Idle)
        } else {
            None
        }
    }

    /// The rule as `ovs-ofctl dump-flows` prints it, with statistics at `now_ms`: `cookie=0x0,
    /// duration=1.234s, table=0, n_packets=10, n_bytes=640, idle_timeout=10, idle_age=2,
    /// priority=100,udp,in_port=1 actions=output:2`. Like Open vSwitch: the duration with
    /// milliseconds unless they are 0, timeouts and flags only when set, hard_age (seconds
    /// since the last add, modify or learn refresh) only when it differs from the duration's
    /// seconds.
    pub fn dump_line(&self, now_ms: u64) -> String {
        let rule = &self.rule;
        let duration_ms = now_ms.saturating_sub(self.added_ms);
        let seconds = duration_ms / 1000;
        let mut line = format!("cookie={:#x}, duration={seconds}", rule.cookie);
        // Writing to a String cannot fail.
        let _ = match duration_ms % 1000 {
            0 => write!(line, "s, "),
            millis => write!(line, ".{millis:03}s, "),
        };
        let _ = write!(line, "table={}, n_packets={}, n_bytes={}, ", rule.table, self.packets(), self.bytes());
        if rule.idle_timeout != 0 {
            let _ = write!(line, "idle_timeout={}, ", rule.idle_timeout);
        }
        if rule.hard_timeout != 0 {
            let _ = write!(line, "hard_timeout={}, ", rule.hard_timeout);
        }
        let _ = write!(line, "{}idle_age={}, ", self.flags, now_ms.saturating_sub(self.last_used_ms()) / 1000);
        let hard_age = now_ms.saturating_sub(self.modified_ms.max(self.refreshed_ms())) / 1000;
        if hard_age != seconds {
            let _ = write!(line, "hard_age={hard_age}, ");
        }
        // The match and actions as FlowRule prints them, without what was printed above.
        let bare = FlowRule { cookie: 0, table: 0, idle_timeout: 0, hard_timeout: 0, ..rule.clone() };
        let _ = write!(line, "{bare}");
        line
    }

    fn rank(&self) -> Rank {
        (self.rule.priority, Reverse(self.id))
    }

    fn has_timeout(&self) -> bool {
        self.rule.idle_timeout != 0 || self.rule.hard_timeout != 0
    }
}

/// A rule `FlowTables::expire` removed, and why.
#[derive(Debug, Clone)]
pub struct Expired {
    pub entry: Arc<RuleEntry>,
    pub reason: Timeout,
}

/// One flow_mod: what `FlowTables::apply` runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlowOp {
    /// Add a rule, replacing the one with the same table, priority and match.
    Add { rule: FlowRule, flags: FlowModFlags },
    /// New instructions (and cookie) for the selected rules; strict when the selector is.
    Modify(FlowModification),
    /// Remove the selected rules; strict when the selector is.
    Delete(FlowSelector),
}

/// Why a flow_mod was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlowTableError {
    /// Not a table a rule can be in (255 means "all tables").
    BadTable(u8),
    /// A goto_table that does not go to a later table.
    BadGoto { table: u8, target: u8 },
    /// `check_overlap`: this rule of the same priority could match the same packets.
    Overlap(Box<FlowRule>),
    /// A modify would leave a rule that fails the checks of the rule model.
    Invalid(FlowParseError),
    /// A `group:N` action names a group that does not exist.
    UnknownGroup(u32),
    /// A meter instruction names a meter the bridge does not have.
    UnknownMeter(u32),
}

impl fmt::Display for FlowTableError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FlowTableError::BadTable(table) => write!(f, "table {table} does not exist (tables are 0..254)"),
            FlowTableError::BadGoto { table, target } => {
                write!(f, "goto_table:{target} in table {table}: the target must be a later table (up to 254)")
            }
            FlowTableError::Overlap(existing) => {
                write!(f, "overlaps a rule of the same priority in table {}: {existing}", existing.table)
            }
            FlowTableError::Invalid(error) => write!(f, "{error}"),
            FlowTableError::UnknownGroup(id) => write!(f, "group {id} does not exist"),
            FlowTableError::UnknownMeter(id) => write!(f, "meter:{id}: the bridge has no meter {id}"),
        }
    }
}

impl std::error::Error for FlowTableError {}

/// A batch was refused: the operation at `index` (from 0) failed and nothing was changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplyError {
    pub index: usize,
    pub error: FlowTableError,
}

impl fmt::Display for ApplyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "flow_mod {}: {}", self.index, self.error)
    }
}

impl std::error::Error for ApplyError {}

/// Rule changes logged between two `take_changes`; more mean "everything changed" (a flows
/// file, a big bundle): checking every cached megaflow against each would cost more than
/// translating the megaflows again.
pub const MAX_LOGGED_CHANGES: usize = 256;

/// A rule put in (added, replaced, modified) or taken out of a table: its table and match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleChange {
    pub table: u8,
    pub matches: Match,
}

/// Why a rule left its table, as flow monitors and flow_removed report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removal {
    /// A delete (flow_mod, del-flows, a deleted meter's rules).
    Delete,
    Timeout(Timeout),
    /// Its group was deleted.
    GroupDelete,
}

/// A rule added, changed or removed, journaled while flow monitors watch the tables.
#[derive(Debug, Clone)]
pub enum RuleEvent {
    /// An add put `entry` in, in place of `replaced` (same table, priority and match) if any.
    Added {
        entry: Arc<RuleEntry>,
        replaced: Option<Arc<RuleEntry>>,
    },
    /// A modify gave `previous` other instructions or another cookie: now `entry`. A modify
    /// that changes neither is no event.
    Modified {
        entry: Arc<RuleEntry>,
        previous: Arc<RuleEntry>,
    },
    Removed {
        entry: Arc<RuleEntry>,
        reason: Removal,
    },
}

impl RuleEvent {
    /// The rule as the event leaves it (a removed rule as it was).
    pub fn entry(&self) -> &Arc<RuleEntry> {
        match self {
            RuleEvent::Added { entry, .. } | RuleEvent::Modified { entry, .. } | RuleEvent::Removed { entry, .. } => {
                entry
            }
        }
    }

    /// The rule the event replaced or changed, if any.
    pub fn before(&self) -> Option<&Arc<RuleEntry>> {
        match self {
            RuleEvent::Added { replaced, .. } => replaced.as_ref(),
            RuleEvent::Modified { previous, .. } => Some(previous),
            RuleEvent::Removed { .. } => None,
        }
    }
}

/// What a batch did.
#[derive(Debug, Clone, Default)]
pub struct ApplyOutcome {
    /// Rules added, including those that replaced a rule.
    pub added: usize,
    /// Adds that replaced a rule with the same match and priority.
    pub replaced: usize,
    pub modified: usize,
    /// Rules deleted, in dump order per delete, for flow_removed messages.
    pub removed: Vec<Arc<RuleEntry>>,
}

/// A change `FlowTables` can undo.
enum Undo {
    /// `new` was put in place of `previous` (or of nothing).
    Put { new: Arc<RuleEntry>, previous: Option<Arc<RuleEntry>> },
    /// This rule was taken out.
    Took(Arc<RuleEntry>),
}

/// The rules of one table that share a mask, keyed by (priority, masked value).
#[derive(Default)]
struct Group {
    rules: HashTable<Arc<RuleEntry>>,
}

/// Management state of one table.
#[derive(Default)]
struct Table {
    /// Rules by mask.
    groups: HashMap<FlowKey, Group>,
    len: usize,
    hasher: DefaultHashBuilder,
    /// Masks with changes since the last snapshot.
    dirty: HashSet<FlowKey>,
    /// The lookup structure of every mask, as of the last snapshot.
    subtables: HashMap<FlowKey, Arc<Subtable>>,
    /// The lookup structure of the table as of the last snapshot (None: no rules).
    built: Option<Arc<TableLookup>>,
}

impl Table {
    fn slot_hash(&self, priority: u16, value: &FlowKey) -> u64 {
        self.hasher.hash_one((priority, value))
    }

    fn find(&self, priority: u16, matches: &Match) -> Option<&Arc<RuleEntry>> {
        let group = self.groups.get(matches.mask())?;
        let hash = self.slot_hash(priority, matches.value());
        group.rules.find(hash, |e| e.rule.priority == priority && e.rule.matches.value() == matches.value())
    }

    /// Puts `entry` in, returning the rule with the same priority and match it replaced.
    fn put(&mut self, entry: Arc<RuleEntry>) -> Option<Arc<RuleEntry>> {
        let priority = entry.rule.priority;
        let mask = *entry.rule.matches.mask();
        let hash = self.slot_hash(priority, entry.rule.matches.value());
        self.dirty.insert(mask);
        let hasher = &self.hasher;
        let group = self.groups.entry(mask).or_default();
        let value = *entry.rule.matches.value();
        let found = group.rules.find_mut(hash, |e| e.rule.priority == priority && *e.rule.matches.value() == value);
        match found {
            Some(slot) => Some(std::mem::replace(slot, entry)),
            None => {
                group.rules.insert_unique(hash, entry, |e| hasher.hash_one((e.rule.priority, e.rule.matches.value())));
                self.len += 1;
                None
            }
        }
    }

    /// Takes out the rule with this priority and match.
    fn take(&mut self, priority: u16, matches: &Match) -> Option<Arc<RuleEntry>> {
        let hash = self.slot_hash(priority, matches.value());
        let group = self.groups.get_mut(matches.mask())?;
        let found =
            group.rules.find_entry(hash, |e| e.rule.priority == priority && e.rule.matches.value() == matches.value());
        let (entry, _) = found.ok()?.remove();
        if group.rules.is_empty() {
            self.groups.remove(matches.mask());
        }
        self.dirty.insert(*matches.mask());
        self.len -= 1;
        Some(entry)
    }

    /// The oldest rule of `rule`'s priority, with another match, that some packet could match
    /// together with `rule`.
    fn overlapping(&self, rule: &FlowRule) -> Option<&Arc<RuleEntry>> {
        let (new_value, new_mask) = (rule.matches.value(), rule.matches.mask());
        let same_priority = |e: &&Arc<RuleEntry>| e.rule.priority == rule.priority;
        let per_group = self.groups.iter().filter(|(mask, _)| *mask != new_mask).filter_map(|(mask, group)| {
            if is_subset(mask, new_mask) {
                // A rule of this mask overlaps exactly when its value is the new value under it.
                let value = new_value.masked(mask);
                let hash = self.slot_hash(rule.priority, &value);
                group.rules.find(hash, |e| same_priority(&e) && *e.rule.matches.value() == value)
            } else {
                group
                    .rules
                    .iter()
                    .filter(same_priority)
                    .filter(|e| overlap(&e.rule.matches, &rule.matches))
                    .min_by_key(|e| e.id)
            }
        });
        // (The same mask is skipped: there only the identical match overlaps, and it is replaced.)
        per_group.min_by_key(|e| e.id)
    }

    /// The rules `selector` selects (its table is checked by the caller).
    fn select<'a>(&'a self, selector: &'a FlowSelector) -> Box<dyn Iterator<Item = &'a Arc<RuleEntry>> + 'a> {
        if selector.strict {
            return Box::new(
                self.find(selector.priority, &selector.matches).into_iter().filter(|e| selector.selects(&e.rule)),
            );
        }
        // A rule's match is subsumed by the selector's only if its mask covers the selector's.
        let groups = self.groups.iter().filter(|(mask, _)| is_subset(selector.matches.mask(), mask));
        Box::new(groups.flat_map(|(_, group)| group.rules.iter()).filter(|e| selector.selects(&e.rule)))
    }

    /// Brings the lookup structure up to date with the rules.
    fn rebuild(&mut self) {
        if self.dirty.is_empty() {
            return;
        }
        for mask in self.dirty.drain() {
            match self.groups.get(&mask) {
                Some(group) => {
                    self.subtables.insert(mask, Arc::new(Subtable::build(&mask, group)));
                }
                None => {
                    self.subtables.remove(&mask);
                }
            }
        }
        self.built = if self.len == 0 {
            None
        } else {
            let mut subtables: Vec<_> = self.subtables.values().cloned().collect();
            subtables.sort_by_key(|subtable| Reverse(subtable.max_rank));
            Some(Arc::new(TableLookup {
                subtables: subtables.into_boxed_slice(),
                #[cfg(test)]
                len: self.len,
            }))
        };
    }
}

/// Whether every bit of `inner` is set in `outer`.
fn is_subset(inner: &FlowKey, outer: &FlowKey) -> bool {
    (0..KEY_WORDS).all(|i| inner.word(i) & !outer.word(i) == 0)
}

/// Whether some packet matches both.
fn overlap(a: &Match, b: &Match) -> bool {
    (0..KEY_WORDS).all(|i| (a.value().word(i) ^ b.value().word(i)) & a.mask().word(i) & b.mask().word(i) == 0)
}

/// How many packets each table of a bridge looked up and matched (OpenFlow table stats),
/// credited from the megaflows in arrears as the rule counters are ([`TableLookups`]), and
/// shared by every version of the tables.
#[derive(Debug)]
pub struct TableCounters {
    lookups: [AtomicU64; TABLE_COUNT],
    matched: [AtomicU64; TABLE_COUNT],
}

impl Default for TableCounters {
    fn default() -> Self {
        TableCounters {
            lookups: std::array::from_fn(|_| AtomicU64::new(0)),
            matched: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

impl TableCounters {
    /// Packets `table` looked up, and how many of them a rule matched.
    pub fn get(&self, table: u8) -> (u64, u64) {
        let at = |counters: &[AtomicU64; TABLE_COUNT]| {
            counters.get(usize::from(table)).map_or(0, |counter| counter.load(Ordering::Relaxed))
        };
        (at(&self.lookups), at(&self.matched))
    }
}

/// The table lookups of one translation (table, whether a rule matched), in order, with the
/// counters they go to: what a megaflow credits to the tables for the packets it handled.
/// The default one goes nowhere (a translation that looks nothing up).
#[derive(Debug, Clone, Default)]
pub struct TableLookups {
    counters: Option<Arc<TableCounters>>,
    lookups: Vec<(u8, bool)>,
}

impl TableLookups {
    /// Notes a lookup of `table`.
    pub fn push(&mut self, table: u8, matched: bool) {
        self.lookups.push((table, matched));
    }

    pub fn is_empty(&self) -> bool {
        self.lookups.is_empty()
    }

    /// Credits `packets` to every lookup.
    pub fn record(&self, packets: u64) {
        let Some(counters) = &self.counters else { return };
        for &(table, matched) in &self.lookups {
            let t = usize::from(table);
            if let Some(lookups) = counters.lookups.get(t) {
                lookups.fetch_add(packets, Ordering::Relaxed);
            }
            if let (true, Some(hits)) = (matched, counters.matched.get(t)) {
                hits.fetch_add(packets, Ordering::Relaxed);
            }
        }
    }
}

/// The flow tables of a bridge, as the management thread changes them. See the module doc.
pub struct FlowTables {
    tables: Vec<Table>,
    /// Lookups and matches per table, of every version.
    counters: Arc<TableCounters>,
    groups: GroupTable,
    /// The rules with a timeout, by id.
    timed: HashMap<u64, Arc<RuleEntry>>,
    next_id: u64,
    /// The rules put in or taken out since `take_changes` (None: more than `MAX_LOGGED_CHANGES`).
    changes: Option<Vec<RuleChange>>,
    /// The rule events since `take_journal`, while flow monitors watch (None: nobody does).
    journal: Option<Vec<RuleEvent>>,
}

impl Default for FlowTables {
    fn default() -> Self {
        FlowTables {
            tables: (0..TABLE_COUNT).map(|_| Table::default()).collect(),
            counters: Arc::default(),
            groups: GroupTable::default(),
            timed: HashMap::new(),
            next_id: 1,
            changes: Some(Vec::new()),
            journal: None,
        }
    }
}

impl fmt::Debug for FlowTables {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let in_use = self.tables.iter().enumerate().filter(|(_, t)| t.len != 0).map(|(i, t)| (i, t.len));
        f.debug_map().entries(in_use).finish()
    }
}

impl FlowTables {
    /// No rules.
    pub fn new() -> FlowTables {
        FlowTables::default()
    }

    /// Rules in `table` (0 for 255).
    pub fn rule_count(&self, table: u8) -> usize {
        self.tables.get(usize::from(table)).map_or(0, |t| t.len)
    }

    /// Rules in all tables.
    pub fn len(&self) -> usize {
        self.tables.iter().map(|t| t.len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Adds a rule (flow_mod ADD), returning the rule with the same table, priority and match
    /// it replaced. Nothing changes on an error.
    ///
    /// Checks what the tables depend on (the table number; goto_table to a later table), not
    /// the rule model's checks (prerequisites, actions against the match): its producers run
    /// those (the ovs-ofctl parsers do; `FlowRule::check` is there for rules built in code), and
    /// running them again would triple the time to add 100,000 rules.
    pub fn add(
        &mut self,
        rule: FlowRule,
        flags: FlowModFlags,
        now_ms: u64,
    ) -> Result<Option<Arc<RuleEntry>>, FlowTableError> {
        // An add fails before it changes anything: there is nothing to undo.
        self.add_op(rule, flags, now_ms, &mut Vec::new(), &mut ApplyOutcome::default())
    }

    /// Gives the rules `modification.selector` selects (strictly or not, as it says) its
    /// instructions and cookie (flow_mod MODIFY / MODIFY_STRICT); counters, times, timeouts
    /// and flags are kept. Selecting nothing is not an error (OpenFlow 1.3). Returns how many
    /// rules changed; nothing changes on an error.
    #[cfg(test)]
    pub fn modify(&mut self, modification: &FlowModification, now_ms: u64) -> Result<usize, FlowTableError> {
        let mut undo = Vec::new();
        let result = self.modify_op(modification, now_ms, &mut undo);
        if result.is_err() {
            self.rollback(undo);
        }
        result
    }

    /// Removes the rules `selector` selects (flow_mod DELETE / DELETE_STRICT) and returns them
    /// in dump order.
    #[cfg(test)]
    pub fn delete(&mut self, selector: &FlowSelector) -> Vec<Arc<RuleEntry>> {
        let mut removed = Vec::new();
        self.delete_op(selector, &mut Vec::new(), &mut removed);
        removed
    }

    /// The rules `selector` selects, by table, then priority (highest first), then age (oldest
    /// first).
    pub fn dump(&self, selector: &FlowSelector) -> Vec<Arc<RuleEntry>> {
        let tables: Box<dyn Iterator<Item = &Table>> = match selector.table {
            Some(table) => Box::new(self.tables.get(usize::from(table)).into_iter()),
            None => Box::new(self.tables.iter()),
        };
        let mut selected: Vec<_> = tables.flat_map(|table| table.select(selector)).cloned().collect();
        selected.sort_by(|a, b| dump_order(a, b));
        selected
    }

    /// Removes the rules whose idle or hard timeout has passed at `now_ms`, oldest first.
    pub fn expire(&mut self, now_ms: u64) -> Vec<Expired> {
        let mut expired: Vec<_> = self
            .timed
            .values()
            .filter_map(|entry| entry.expiry(now_ms).map(|reason| Expired { entry: Arc::clone(entry), reason }))
            .collect();
        expired.sort_by_key(|e| e.entry.id);
        for e in &expired {
            self.take(&e.entry);
            self.journal(|| RuleEvent::Removed { entry: Arc::clone(&e.entry), reason: Removal::Timeout(e.reason) });
        }
        expired
    }

    /// Applies a batch of flow_mods in order, all or nothing: on the first error every change
    /// the batch made is undone and the error names the operation.
    pub fn apply(&mut self, ops: Vec<FlowOp>, now_ms: u64) -> Result<ApplyOutcome, ApplyError> {
        let mut outcome = ApplyOutcome::default();
        let mut undo = Vec::new();
        let next_id = self.next_id;
        let journaled = self.journal.as_ref().map_or(0, Vec::len);
        for (index, op) in ops.into_iter().enumerate() {
            let result = match op {
                FlowOp::Add { rule, flags } => self.add_op(rule, flags, now_ms, &mut undo, &mut outcome).map(drop),
                FlowOp::Modify(modification) => {
                    self.modify_op(&modification, now_ms, &mut undo).map(|n| outcome.modified += n)
                }
                FlowOp::Delete(selector) => {
                    self.delete_op(&selector, &mut undo, &mut outcome.removed);
                    Ok(())
                }
            };
            if let Err(error) = result {
                self.rollback(undo);
                self.next_id = next_id;
                if let Some(journal) = &mut self.journal {
                    journal.truncate(journaled);
                }
                return Err(ApplyError { index, error });
            }
        }
        Ok(outcome)
    }

    /// The lookup side of the tables as they are now. Rebuilds only the subtables with changes
    /// since the last snapshot; everything else is shared with it.
    pub fn snapshot(&mut self) -> TablesSnapshot {
        let mut tables = Vec::with_capacity(TABLE_COUNT);
        for table in &mut self.tables {
            table.rebuild();
            tables.push(table.built.clone());
        }
        while tables.last().is_some_and(Option::is_none) {
            tables.pop();
        }
        TablesSnapshot {
            tables: tables.into_boxed_slice(),
            groups: self.groups.snapshot(),
            counters: Arc::clone(&self.counters),
        }
    }

    /// The rules put in or taken out since the previous call (a rolled-back batch's too), or
    /// `None` when they were more than `MAX_LOGGED_CHANGES`.
    pub fn take_changes(&mut self) -> Option<Vec<RuleChange>> {
        self.changes.replace(Vec::new())
    }

    /// Starts (`true`) or stops journaling rule events for flow monitors; stopping drops what
    /// was not taken.
    pub fn set_journal(&mut self, on: bool) {
        match on {
            true => drop(self.journal.get_or_insert_with(Vec::new)),
            false => self.journal = None,
        }
    }

    /// The rule events since the previous call, in order (none while not journaling).
    pub fn take_journal(&mut self) -> Vec<RuleEvent> {
        self.journal.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// The revision the next add or change gets: rules whose revision is at least this
    /// changed after now.
    pub fn next_revision(&self) -> u64 {
        self.next_id
    }

    fn journal(&mut self, event: impl FnOnce() -> RuleEvent) {
        if let Some(journal) = &mut self.journal {
            journal.push(event());
        }
    }

    fn log_change(&mut self, rule: &FlowRule) {
        if let Some(changes) = &mut self.changes {
            if changes.len() < MAX_LOGGED_CHANGES {
                changes.push(RuleChange { table: rule.table, matches: rule.matches.clone() });
            } else {
                self.changes = None;
            }
        }
    }

    /// Lookups and matches per table.
    pub fn counters(&self) -> &TableCounters {
        &self.counters
    }

    /// The bridge's groups.
    pub fn groups(&self) -> &GroupTable {
        &self.groups
    }

    /// Applies one GROUP_MOD. A delete also removes the rules that use a deleted group (as
    /// OpenFlow specifies) and returns them, in dump order. Nothing changes on an error.
    pub fn apply_group_mod(&mut self, op: GroupOp, now_ms: u64) -> Result<Vec<Arc<RuleEntry>>, GroupModError> {
        let deleted = self.groups.apply(op, now_ms)?;
        if deleted.is_empty() {
            return Ok(Vec::new());
        }
        let users: Vec<Arc<RuleEntry>> = self
            .dump(&FlowSelector::default())
            .into_iter()
            .filter(|entry| entry.rule.instructions.groups().any(|id| deleted.contains(&id)))
            .collect();
        for entry in &users {
            self.take(entry);
            self.journal(|| RuleEvent::Removed { entry: Arc::clone(entry), reason: Removal::GroupDelete });
        }
        Ok(users)
    }

    /// How many rules and buckets of groups send to each group (OpenFlow's ref_count).
    pub fn group_references(&self) -> HashMap<u32, u32> {
        let mut counts = self.groups.references();
        for table in &self.tables {
            let rules = table.groups.values().flat_map(|group| group.rules.iter());
            for id in rules.flat_map(|entry| entry.rule.instructions.groups()) {
                *counts.entry(id).or_insert(0) += 1;
            }
        }
        counts
    }

    /// A rule may only send to groups that exist.
    fn check_groups(&self, instructions: &Instructions) -> Result<(), FlowTableError> {
        match instructions.groups().find(|&id| !self.groups.contains(id)) {
            Some(missing) => Err(FlowTableError::UnknownGroup(missing)),
            None => Ok(()),
        }
    }

    fn add_op(
        &mut self,
        rule: FlowRule,
        flags: FlowModFlags,
        now_ms: u64,
        undo: &mut Vec<Undo>,
        outcome: &mut ApplyOutcome,
    ) -> Result<Option<Arc<RuleEntry>>, FlowTableError> {
        let table = self.tables.get(usize::from(rule.table)).ok_or(FlowTableError::BadTable(rule.table))?;
        if let Some(target) = rule.instructions.goto_table {
            if target <= rule.table || usize::from(target) >= TABLE_COUNT {
                return Err(FlowTableError::BadGoto { table: rule.table, target });
            }
        }
        self.check_groups(&rule.instructions)?;
        if flags.check_overlap {
            if let Some(existing) = table.overlapping(&rule) {
                return Err(FlowTableError::Overlap(Box::new(existing.rule.clone())));
            }
        }
        let counters = match table.find(rule.priority, &rule.matches) {
            Some(old) if !flags.reset_counts => Arc::clone(&old.counters),
            _ => Arc::default(),
        };
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        let entry =
            Arc::new(RuleEntry { rule, id, flags, added_ms: now_ms, modified_ms: now_ms, revision: id, counters });
        let previous = self.put(Arc::clone(&entry));
        outcome.added += 1;
        outcome.replaced += usize::from(previous.is_some());
        self.journal(|| RuleEvent::Added { entry: Arc::clone(&entry), replaced: previous.clone() });
        undo.push(Undo::Put { new: entry, previous: previous.clone() });
        Ok(previous)
    }

    fn modify_op(
        &mut self,
        modification: &FlowModification,
        now_ms: u64,
        undo: &mut Vec<Undo>,
    ) -> Result<usize, FlowTableError> {
        let selected = self.dump(&modification.selector);
        if !selected.is_empty() {
            self.check_groups(&modification.instructions)?;
        }
        for old in &selected {
            let mut rule = old.rule.clone();
            rule.instructions = modification.instructions.clone();
            if let Some(cookie) = modification.new_cookie {
                rule.cookie = cookie;
            }
            rule.instructions.check(&rule.matches, Some(rule.table)).map_err(FlowTableError::Invalid)?;
            let changed = rule.instructions != old.rule.instructions || rule.cookie != old.rule.cookie;
            let revision = if changed { self.next_id } else { old.revision };
            if changed {
                self.next_id = self.next_id.wrapping_add(1);
            }
            let entry = Arc::new(RuleEntry {
                rule,
                id: old.id,
                flags: old.flags,
                added_ms: old.added_ms,
                modified_ms: now_ms,
                revision,
                counters: Arc::clone(&old.counters),
            });
            let previous = self.put(Arc::clone(&entry));
            if changed {
                self.journal(|| RuleEvent::Modified { entry: Arc::clone(&entry), previous: Arc::clone(old) });
            }
            undo.push(Undo::Put { new: entry, previous });
        }
        Ok(selected.len())
    }

    fn delete_op(&mut self, selector: &FlowSelector, undo: &mut Vec<Undo>, removed: &mut Vec<Arc<RuleEntry>>) {
        for entry in self.dump(selector) {
            self.take(&entry);
            self.journal(|| RuleEvent::Removed { entry: Arc::clone(&entry), reason: Removal::Delete });
            undo.push(Undo::Took(Arc::clone(&entry)));
            removed.push(entry);
        }
    }

    /// Puts `entry` in its table in place of the rule with the same priority and match.
    fn put(&mut self, entry: Arc<RuleEntry>) -> Option<Arc<RuleEntry>> {
        let table = self.tables.get_mut(usize::from(entry.rule.table))?;
        let previous = table.put(Arc::clone(&entry));
        self.log_change(&entry.rule);
        if let Some(previous) = &previous {
            self.timed.remove(&previous.id);
        }
        if entry.has_timeout() {
            self.timed.insert(entry.id, entry);
        }
        previous
    }

    /// Takes the rule with `entry`'s table, priority and match out.
    fn take(&mut self, entry: &RuleEntry) -> Option<Arc<RuleEntry>> {
        let taken =
            self.tables.get_mut(usize::from(entry.rule.table))?.take(entry.rule.priority, &entry.rule.matches)?;
        self.log_change(&taken.rule);
        self.timed.remove(&taken.id);
        Some(taken)
    }

    fn rollback(&mut self, undo: Vec<Undo>) {
        for change in undo.into_iter().rev() {
            match change {
                Undo::Put { previous: Some(previous), .. } => {
                    self.put(previous);
                }
                Undo::Put { new, previous: None } => {
                    self.take(&new);
                }
                Undo::Took(entry) => {
                    self.put(entry);
                }
            }
        }
    }
}

/// Dump order: table, priority (highest first), id (oldest first).
fn dump_order(a: &RuleEntry, b: &RuleEntry) -> CmpOrdering {
    (a.rule.table, Reverse(a.rule.priority), a.id).cmp(&(b.rule.table, Reverse(b.rule.priority), b.id))
}

/// The multiplier of the per-word mix of the subtable hash (2^64 / golden ratio, odd).
const WORD_MULTIPLIER: u64 = 0x9e37_79b9_7f4a_7c15;
/// The multiplier of the final mix (a splitmix64 constant, odd).
const FINAL_MULTIPLIER: u64 = 0xbf58_476d_1ce4_e5b9;

/// The 128-bit product of `a` and `b`, its halves xored (the wyhash/foldhash primitive).
#[inline(always)]
fn folded_mul(a: u64, b: u64) -> u64 {
    let product = u128::from(a) * u128::from(b);
    ((product & 0xffff_ffff_ffff_ffff) as u64) ^ ((product >> 64) as u64)
}

/// The hash of a subtable's masked key words: each word mixed on its own with a seed for its
/// position (independent multiplies that a CPU runs in parallel), summed, mixed once more.
/// Not keyed: slots compare the full words, so collisions cost time, never correctness.
#[inline(always)]
fn hash_words(words: &[u64]) -> u64 {
    let mut sum = 0u64;
    let mut seed = WORD_MULTIPLIER;
    for &word in words {
        sum = sum.wrapping_add(folded_mul(word ^ seed, WORD_MULTIPLIER));
        seed = seed.wrapping_add(WORD_MULTIPLIER);
    }
    folded_mul(sum ^ words.len() as u64, FINAL_MULTIPLIER)
}

/// A masked key of a subtable and the best rule with that match.
struct Slot {
    /// Where the key's words start in `Subtable::keys`.
    key: usize,
    /// The rule's rank, kept here so that a lookup does not touch the rule.
    rank: Rank,
    rule: Arc<RuleEntry>,
}

/// The rules of one mask, for lookup: a hash table from the masked key (only the mask's
/// nonzero words, stored back to back in `keys`) to the best rule with that match.
struct Subtable {
    mask: FlowKey,
    /// The mask's nonzero words: how many, their indices and values.
    word_count: usize,
    word_index: [usize; KEY_WORDS],
    mask_words: [u64; KEY_WORDS],
    /// `word_count` words per slot.
    keys: Vec<u64>,
    slots: HashTable<Slot>,
    /// The rank of the best rule.
    max_rank: Rank,
}

impl fmt::Debug for Subtable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subtable").field("mask", &self.mask).field("rules", &self.slots.len()).finish()
    }
}

impl Subtable {
    fn build(mask: &FlowKey, group: &Group) -> Subtable {
        let mut word_index = [0; KEY_WORDS];
        let mut mask_words = [0; KEY_WORDS];
        let mut word_count = 0;
        for (i, (index, word)) in (0..KEY_WORDS).map(|i| (i, mask.word(i))).filter(|(_, w)| *w != 0).enumerate() {
            word_index[i] = index;
            mask_words[i] = word;
            word_count += 1;
        }
        let mut keys = Vec::with_capacity(group.rules.len() * word_count);
        let mut slots: HashTable<Slot> = HashTable::with_capacity(group.rules.len());
        let mut max_rank = (0, Reverse(u64::MAX));
        for entry in group.rules.iter() {
            let rank = entry.rank();
            max_rank = max_rank.max(rank);
            let mut words = [0u64; KEY_WORDS];
            let value = entry.rule.matches.value();
            for (word, &i) in words.iter_mut().zip(&word_index).take(word_count) {
                *word = value.word(i);
            }
            let words = words.get(..word_count).unwrap_or_default();
            let hash = hash_words(words);
            match slots.find_mut(hash, |slot| same_words(slot_words(&keys, slot.key, word_count), words)) {
                Some(slot) => {
                    if rank > slot.rank {
                        slot.rank = rank;
                        slot.rule = Arc::clone(entry);
                    }
                }
                None => {
                    let key = keys.len();
                    keys.extend_from_slice(words);
                    let slot = Slot { key, rank, rule: Arc::clone(entry) };
                    slots.insert_unique(hash, slot, |slot| hash_words(slot_words(&keys, slot.key, word_count)));
                }
            }
        }
        Subtable { mask: *mask, word_count, word_index, mask_words, keys, slots, max_rank }
    }

    /// The best rule whose match `key` satisfies.
    #[inline]
    fn find(&self, key: &FlowKey) -> Option<&Slot> {
        let n = self.word_count;
        let mut words = [0u64; KEY_WORDS];
        for ((word, &i), &mask) in words.iter_mut().zip(&self.word_index).zip(&self.mask_words).take(n) {
            *word = key.word(i) & mask;
        }
        let words = words.get(..n)?;
        self.slots.find(hash_words(words), |slot| same_words(slot_words(&self.keys, slot.key, n), words))
    }

    /// ORs the mask into `wildcards`.
    #[inline]
    fn unwildcard(&self, wildcards: &mut FlowKey) {
        for (&i, &mask) in self.word_index.iter().zip(&self.mask_words).take(self.word_count) {
            wildcards.set_word(i, wildcards.word(i) | mask);
        }
    }
}

/// Whether two key word lists are equal: xor-or over the words, no branch per word and no call
/// to `memcmp` (a slice `==` is one, and costs more than the whole compare of a few words).
#[inline(always)]
fn same_words(a: &[u64], b: &[u64]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0, |differ, (x, y)| differ | (x ^ y)) == 0
}

/// The `n` key words from `start` (empty if out of range, which a slot's key never is).
#[inline]
fn slot_words(keys: &[u64], start: usize, n: usize) -> &[u64] {
    keys.get(start..start + n).unwrap_or_default()
}

/// The lookup structure of one table: its subtables, best first.
#[derive(Debug)]
struct TableLookup {
    subtables: Box<[Arc<Subtable>]>,
    /// Rules in the table (for the tests' `rule_count`).
    #[cfg(test)]
    len: usize,
}

/// An immutable version of a bridge's flow tables for the PMD threads. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct TablesSnapshot {
    /// By table number; tables past the last one in use are left out.
    tables: Box<[Option<Arc<TableLookup>>]>,
    /// The groups the rules of this version use.
    groups: GroupsSnapshot,
    /// Lookups and matches per table (of every version).
    counters: Arc<TableCounters>,
}

impl TablesSnapshot {
    /// The highest-priority rule of `table` whose match `key` satisfies (among equal
    /// priorities the one added first). ORs into `wildcards` every key bit the answer depends
    /// on: every key that equals `key` in the bits of `wildcards` gets the same answer. Does not
    /// allocate.
    #[inline]
    pub fn lookup(&self, table: u8, key: &FlowKey, wildcards: &mut FlowKey) -> Option<&Arc<RuleEntry>> {
        let lookup = self.tables.get(usize::from(table))?.as_deref()?;
        let mut best: Option<(Rank, &Arc<RuleEntry>)> = None;
        for subtable in lookup.subtables.iter() {
            if best.is_some_and(|(rank, _)| subtable.max_rank < rank) {
                break;
            }
            subtable.unwildcard(wildcards);
            if let Some(slot) = subtable.find(key) {
                if best.is_none_or(|(best_rank, _)| slot.rank > best_rank) {
                    best = Some((slot.rank, &slot.rule));
                }
            }
        }
        best.map(|(_, entry)| entry)
    }

    /// An empty record of the lookups of one translation, for this version's counters.
    pub fn new_lookups(&self) -> TableLookups {
        TableLookups { counters: Some(Arc::clone(&self.counters)), lookups: Vec::new() }
    }

    /// Rules in `table`.
    #[cfg(test)]
    pub fn rule_count(&self, table: u8) -> usize {
        self.tables.get(usize::from(table)).and_then(Option::as_ref).map_or(0, |t| t.len)
    }

    /// Group `id` of this version.
    pub fn group(&self, id: u32) -> Option<&Arc<GroupEntry>> {
        self.groups.get(id)
    }

    /// The groups of this version.
    pub fn groups(&self) -> &GroupsSnapshot {
        &self.groups
    }

    /// The tables that have rules, in order.
    #[cfg(test)]
    pub fn tables_in_use(&self) -> impl Iterator<Item = u8> + '_ {
        (0..=u8::MAX).zip(self.tables.iter()).filter(|(_, t)| t.is_some()).map(|(number, _)| number)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::flow::key::Field;
    use crate::flow::test_random::XorShift;
    use crate::flow::{
        parse_add_flow, parse_del_flows, parse_dump_flows, parse_flows_file, parse_mod_flows, Action, Instructions,
        OfPort,
    };

    fn rule(text: &str) -> FlowRule {
        match parse_add_flow(text) {
            Ok(rule) => rule,
            Err(error) => panic!("{text:?}: {error}"),
        }
    }

    fn add(tables: &mut FlowTables, text: &str, now_ms: u64) -> Option<Arc<RuleEntry>> {
        tables.add(rule(text), FlowModFlags::default(), now_ms).unwrap()
    }

    fn tables_with(texts: &[&str]) -> FlowTables {
        let mut tables = FlowTables::new();
        for text in texts {
            add(&mut tables, text, 0);
        }
        tables
    }

    fn all() -> FlowSelector {
        FlowSelector::default()
    }

    /// The rules of a dump as text, in dump order.
    fn texts(entries: &[Arc<RuleEntry>]) -> Vec<String> {
        entries.iter().map(|e| e.rule().to_string()).collect()
    }

    fn udp_key(in_port: u32, nw_src: u32, tp_dst: u16) -> FlowKey {
        let mut key = FlowKey::default();
        key.set_u64(Field::InPort, u64::from(in_port));
        key.set_u64(Field::DlType, 0x0800);
        key.set_u64(Field::NwProto, 17);
        key.set_u64(Field::NwSrc, u64::from(nw_src));
        key.set_u64(Field::TpDst, u64::from(tp_dst));
        key
    }

    /// The lookup's answer as rule text, and the wildcards it produced.
    fn lookup(snapshot: &TablesSnapshot, table: u8, key: &FlowKey) -> (Option<String>, FlowKey) {
        let mut wildcards = FlowKey::default();
        let found = snapshot.lookup(table, key, &mut wildcards).map(|e| e.rule().to_string());
        (found, wildcards)
    }

    /// The right answer by brute force: the best-ranked matching rule of the table.
    fn naive(tables: &FlowTables, table: u8, key: &FlowKey) -> Option<u64> {
        let rules = tables.dump(&FlowSelector { table: Some(table), ..all() });
        rules.iter().filter(|e| e.rule().matches.matches(key)).max_by_key(|e| e.rank()).map(|e| e.id())
    }

    #[test]
    fn highest_priority_wins_and_misses_are_none() {
        let mut tables = tables_with(&[
            "priority=1,actions=drop",
            "priority=10,in_port=1,actions=output:2",
            "priority=20,udp,in_port=1,tp_dst=53,actions=output:3",
            "table=1,priority=5,actions=output:9",
        ]);
        let snapshot = tables.snapshot();
        assert_eq!(
            lookup(&snapshot, 0, &udp_key(1, 1, 53)).0.unwrap(),
            "priority=20,udp,in_port=1,tp_dst=53 actions=output:3"
        );
        assert_eq!(lookup(&snapshot, 0, &udp_key(1, 1, 54)).0.unwrap(), "priority=10,in_port=1 actions=output:2");
        assert_eq!(lookup(&snapshot, 0, &udp_key(2, 1, 53)).0.unwrap(), "priority=1 actions=drop");
        assert_eq!(lookup(&snapshot, 1, &udp_key(2, 1, 53)).0.unwrap(), "table=1, priority=5 actions=output:9");
        assert_eq!(lookup(&snapshot, 2, &udp_key(2, 1, 53)).0, None);
        assert_eq!(lookup(&snapshot, 255, &udp_key(2, 1, 53)).0, None);
        let only_specific = tables_with(&["priority=10,in_port=1,actions=output:2"]).snapshot();
        assert_eq!(lookup(&only_specific, 0, &udp_key(2, 1, 53)).0, None);
        assert_eq!(snapshot.rule_count(0), 3);
        assert_eq!(snapshot.rule_count(1), 1);
        assert_eq!(snapshot.rule_count(7), 0);
        assert_eq!(snapshot.rule_count(255), 0);
        assert_eq!(tables.rule_count(u8::try_from(TABLE_COUNT).unwrap()), 0);
        assert_eq!(snapshot.tables_in_use().collect::<Vec<_>>(), vec![0, 1]);
        assert_eq!(TablesSnapshot::default().tables_in_use().count(), 0);
        assert_eq!((tables.rule_count(0), tables.rule_count(1), tables.rule_count(255), tables.len()), (3, 1, 0, 4));
        assert!(!tables.is_empty() && FlowTables::new().is_empty());
    }

    #[test]
    fn equal_priorities_go_to_the_rule_added_first() {
        let mut tables = tables_with(&["priority=5,in_port=1,actions=output:2", "priority=5,udp,actions=output:3"]);
        let (found, _) = lookup(&tables.snapshot(), 0, &udp_key(1, 1, 1));
        assert_eq!(found.unwrap(), "priority=5,in_port=1 actions=output:2");
        let mut reversed = tables_with(&["priority=5,udp,actions=output:3", "priority=5,in_port=1,actions=output:2"]);
        let (found, _) = lookup(&reversed.snapshot(), 0, &udp_key(1, 1, 1));
        assert_eq!(found.unwrap(), "priority=5,udp actions=output:3");
    }

    #[test]
    fn wildcards_name_the_fields_of_every_visited_subtable() {
        let mut tables =
            tables_with(&["priority=10,udp,tp_dst=53,actions=output:1", "priority=5,in_port=1,actions=output:2"]);
        let snapshot = tables.snapshot();
        // A hit in the best subtable: the lower one is not visited.
        let (found, wildcards) = lookup(&snapshot, 0, &udp_key(1, 7, 53));
        assert_eq!(found.unwrap(), "priority=10,udp,tp_dst=53 actions=output:1");
        let mut expected = FlowKey::default();
        for field in [Field::DlType, Field::NwProto, Field::TpDst] {
            expected.set_all_ones(field);
        }
        assert_eq!(wildcards, expected);
        // A miss there: both visited.
        let (found, wildcards) = lookup(&snapshot, 0, &udp_key(1, 7, 54));
        assert_eq!(found.unwrap(), "priority=5,in_port=1 actions=output:2");
        expected.set_all_ones(Field::InPort);
        assert_eq!(wildcards, expected);
        // Bits already set by the caller stay.
        let mut wildcards = FlowKey::default();
        wildcards.set_all_ones(Field::Reg(3));
        snapshot.lookup(0, &udp_key(1, 7, 54), &mut wildcards);
        assert_eq!(wildcards.get_u64(Field::Reg(3)), 0xffff_ffff);
    }

    #[test]
    fn an_add_with_the_same_match_and_priority_replaces_the_rule() {
        let mut tables = FlowTables::new();
        let first = add(&mut tables, "priority=7,in_port=1,actions=output:2", 1000);
        assert!(first.is_none());
        let old = tables.dump(&all()).remove(0);
        old.record(3, 300, 1500);
        let replaced = add(&mut tables, "priority=7,in_port=1,actions=output:3", 2000).unwrap();
        assert!(Arc::ptr_eq(&replaced, &old));
        let new = tables.dump(&all()).remove(0);
        assert_eq!(tables.len(), 1);
        assert_eq!(new.rule().to_string(), "priority=7,in_port=1 actions=output:3");
        assert!(new.id() > old.id());
        assert_eq!((new.added_ms(), new.modified_ms(), new.packets(), new.bytes()), (2000, 2000, 3, 300));
        // Hits on the old version (a PMD still on the previous snapshot) count for the new one.
        old.record(1, 100, 2100);
        assert_eq!((new.packets(), new.bytes(), new.last_used_ms()), (4, 400, 2100));
        // Another priority or match is another rule.
        add(&mut tables, "priority=8,in_port=1,actions=output:3", 0);
        add(&mut tables, "priority=7,in_port=2,actions=output:3", 0);
        assert_eq!(tables.len(), 3);
        // reset_counts starts from zero.
        let flags = FlowModFlags { reset_counts: true, ..FlowModFlags::default() };
        tables.add(rule("priority=7,in_port=1,actions=drop"), flags, 3000).unwrap();
        let reset = tables.dump(&parse_del_flows("in_port=1,priority=7", true).unwrap());
        let reset = &reset[0];
        assert_eq!((reset.packets(), reset.bytes(), reset.flags()), (0, 0, flags));
        assert_eq!(new.packets(), 4);
    }

    #[test]
    fn check_overlap_refuses_same_priority_rules_a_packet_could_match_together() {
        let mut tables = tables_with(&[
            "priority=5,in_port=1,actions=output:2",
            "priority=5,ip,nw_src=10.0.0.0/8,actions=output:2",
            "priority=5,reg0=0x10/0xf0,actions=output:2",
        ]);
        let check = FlowModFlags { check_overlap: true, ..FlowModFlags::default() };
        let mut try_add = |text: &str| tables.add(rule(text), check, 0).map(|_| ()).map_err(|e| e.to_string());
        // Wider than an existing match (the existing mask is within the new one).
        assert_eq!(
            try_add("priority=5,in_port=1,udp,actions=drop"),
            Err("overlaps a rule of the same priority in table 0: priority=5,in_port=1 actions=output:2".to_string())
        );
        // Narrower and wider prefixes, in both directions.
        assert!(try_add("priority=5,ip,nw_src=10.1.0.0/16,actions=drop").is_err());
        assert!(try_add("priority=5,ip,actions=drop").is_err());
        assert!(try_add("priority=5,actions=drop").is_err());
        // Masks that are not subsets of each other.
        assert!(try_add("priority=5,reg0=0x1/0x0f,actions=drop").is_err());
        assert!(try_add("priority=5,reg0=0x0/0x1f,in_port=2,actions=drop").is_err());
        // Disjoint values, other priorities.
        assert_eq!(try_add("priority=5,in_port=2,arp,reg0=0x20/0x30,actions=drop"), Ok(()));
        assert_eq!(try_add("priority=5,in_port=3,ip,nw_src=11.0.0.0/8,reg0=0/0x10,actions=drop"), Ok(()));
        assert_eq!(try_add("priority=6,in_port=1,actions=drop"), Ok(()));
        // The identical match is replaced, not refused.
        assert_eq!(try_add("priority=6,in_port=1,actions=output:9"), Ok(()));
        // ... unless another rule overlaps (in_port=1 and reg0=0x10/0xf0 were added unchecked).
        assert!(try_add("priority=5,in_port=1,actions=output:9").is_err());
        assert_eq!(tables.len(), 6);
        // Without the flag overlaps are fine.
        assert!(tables.add(rule("priority=5,actions=drop"), FlowModFlags::default(), 0).is_ok());
    }

    #[test]
    fn modify_replaces_instructions_and_cookie_and_keeps_the_rest() {
        let mut tables = FlowTables::new();
        add(&mut tables, "cookie=0x1,priority=5,idle_timeout=60,ip,nw_dst=10.0.0.1,actions=output:1", 1000);
        add(&mut tables, "priority=6,ip,nw_dst=10.0.0.1,tcp,actions=output:1", 1000);
        let send_flow_rem = FlowModFlags { send_flow_rem: true, ..FlowModFlags::default() };
        tables.add(rule("priority=7,in_port=3,actions=output:1"), send_flow_rem, 1000).unwrap();
        let before = tables.dump(&all());
        before.iter().for_each(|e| e.record(1, 64, 1200));
        let modified =
            tables.modify(&parse_mod_flows("ip,nw_dst=10.0.0.1,cookie=0x9,actions=output:4", false).unwrap(), 5000);
        assert_eq!(modified, Ok(2));
        let after = tables.dump(&all());
        assert_eq!(
            texts(&after),
            [
                "priority=7,in_port=3 actions=output:1",
                "cookie=0x9, priority=6,tcp,nw_dst=10.0.0.1 actions=output:4",
                "cookie=0x9, idle_timeout=60, priority=5,ip,nw_dst=10.0.0.1 actions=output:4",
            ]
        );
        for (old, new) in before.iter().zip(&after) {
            assert_eq!((old.id(), old.added_ms(), new.packets()), (new.id(), new.added_ms(), 1));
        }
        assert_eq!(after[1].modified_ms(), 5000);
        assert_eq!(tables.modify(&parse_mod_flows("in_port=3,actions=drop", false).unwrap(), 5000), Ok(1));
        assert_eq!(tables.dump(&all())[0].flags(), send_flow_rem);
        assert_eq!(after[0].modified_ms(), 1000);
        // Strict: exactly this priority and match.
        let strict = parse_mod_flows("priority=5,ip,nw_dst=10.0.0.1,actions=drop", true).unwrap();
        assert_eq!(tables.modify(&strict, 6000), Ok(1));
        assert_eq!(
            tables.dump(&all())[2].rule().to_string(),
            "cookie=0x9, idle_timeout=60, priority=5,ip,nw_dst=10.0.0.1 actions=drop"
        );
        // Nothing selected: nothing to do, not an error.
        assert_eq!(tables.modify(&parse_mod_flows("in_port=9,actions=drop", false).unwrap(), 0), Ok(0));
        // The modify-strict with a cookie selector only touches that cookie.
        let by_cookie = parse_mod_flows("cookie=0x1/0xff,actions=drop", false).unwrap();
        assert_eq!(tables.modify(&by_cookie, 0), Ok(0));
    }

    #[test]
    fn a_modify_that_would_leave_an_invalid_rule_changes_nothing() {
        let mut tables = tables_with(&[
            "table=0,priority=1,actions=drop",
            "table=3,priority=1,actions=drop",
            "table=1,actions=drop",
        ]);
        let before = texts(&tables.dump(&all()));
        // goto_table:2 is fine for tables 0 and 1 but not for table 3.
        let modification = parse_mod_flows("actions=goto_table:2", false).unwrap();
        let error = tables.modify(&modification, 0).unwrap_err();
        assert!(matches!(error, FlowTableError::Invalid(_)), "{error}");
        assert!(error.to_string().contains("goto_table:2"), "{error}");
        assert_eq!(texts(&tables.dump(&all())), before);
    }

    #[test]
    fn delete_strict_and_not_with_cookie_and_out_port_filters() {
        let texts_of = |tables: &FlowTables| texts(&tables.dump(&all()));
        let mut tables = tables_with(&[
            "priority=5,in_port=1,actions=output:2",
            "priority=6,in_port=1,udp,actions=output:3",
            "cookie=0x12,priority=7,in_port=2,actions=output:3",
            "table=4,priority=5,in_port=1,actions=output:2",
        ]);
        let removed = tables.delete(&parse_del_flows("table=0,in_port=1,priority=5", true).unwrap());
        assert_eq!(texts(&removed), ["priority=5,in_port=1 actions=output:2"]);
        let removed = tables.delete(&parse_del_flows("out_port=3,cookie=0x2/0xf", false).unwrap());
        assert_eq!(texts(&removed), ["cookie=0x12, priority=7,in_port=2 actions=output:3"]);
        assert!(tables.delete(&parse_del_flows("in_port=1,priority=5,udp", true).unwrap()).is_empty());
        assert_eq!(
            texts_of(&tables),
            ["priority=6,udp,in_port=1 actions=output:3", "table=4, priority=5,in_port=1 actions=output:2"]
        );
        let removed = tables.delete(&parse_del_flows("in_port=1", false).unwrap());
        assert_eq!(removed.len(), 2);
        assert!(tables.is_empty());
        assert!(tables.snapshot().tables_in_use().next().is_none());
    }

    #[test]
    fn dump_selects_by_subsumption_and_orders_by_table_priority_age() {
        let tables = tables_with(&[
            "table=2,priority=1,actions=drop",
            "priority=3,ip,nw_src=10.0.0.0/8,actions=drop",
            "priority=3,ip,nw_src=10.1.0.0/16,actions=drop",
            "priority=9,ip,actions=drop",
            "priority=3,in_port=1,actions=drop",
        ]);
        assert_eq!(
            texts(&tables.dump(&all())),
            [
                "priority=9,ip actions=drop",
                "priority=3,ip,nw_src=10.0.0.0/8 actions=drop",
                "priority=3,ip,nw_src=10.1.0.0/16 actions=drop",
                "priority=3,in_port=1 actions=drop",
                "table=2, priority=1 actions=drop",
            ]
        );
        let narrow = tables.dump(&parse_dump_flows("ip,nw_src=10.0.0.0/8").unwrap());
        assert_eq!(
            texts(&narrow),
            ["priority=3,ip,nw_src=10.0.0.0/8 actions=drop", "priority=3,ip,nw_src=10.1.0.0/16 actions=drop"]
        );
        assert_eq!(tables.dump(&parse_dump_flows("table=2").unwrap()).len(), 1);
        assert!(tables.dump(&FlowSelector { table: Some(255), ..all() }).is_empty());
        assert_eq!(tables.dump(&FlowSelector { out_port: Some(OfPort(1)), ..all() }).len(), 0);
    }

    #[test]
    fn timeouts_expire_idle_since_the_last_hit_and_hard_since_added() {
        let mut tables = FlowTables::new();
        add(&mut tables, "priority=1,idle_timeout=10,in_port=1,actions=drop", 0);
        add(&mut tables, "priority=1,hard_timeout=20,in_port=2,actions=drop", 0);
        add(&mut tables, "priority=1,idle_timeout=10,hard_timeout=25,in_port=3,actions=drop", 0);
        add(&mut tables, "priority=1,in_port=4,actions=drop", 0);
        let entries = tables.dump(&all());
        entries[0].record(1, 60, 8000);
        entries[2].record(1, 60, 9000);
        assert!(tables.expire(9999).is_empty());
        let expired = tables.expire(18_000);
        assert_eq!(expired.len(), 1);
        assert_eq!((expired[0].entry.rule().matches.in_port(), expired[0].reason), (Some(OfPort(1)), Timeout::Idle));
        // A modify keeps the timeouts and the age: the hard timeout still counts from the add.
        assert_eq!(tables.modify(&parse_mod_flows("in_port=3,actions=output:1", false).unwrap(), 14_000), Ok(1));
        entries[2].record(1, 60, 18_500);
        let expired = tables.expire(20_000);
        assert_eq!(
            (expired.len(), expired[0].reason, expired[0].entry.rule().matches.in_port()),
            (1, Timeout::Hard, Some(OfPort(2)))
        );
        assert!(tables.expire(24_999).is_empty());
        let expired = tables.expire(25_000);
        assert_eq!((expired.len(), expired[0].reason), (1, Timeout::Hard));
        assert_eq!(
            expired[0].entry.rule().to_string(),
            "idle_timeout=10, hard_timeout=25, priority=1,in_port=3 actions=output:1"
        );
        assert_eq!(expired[0].entry.packets(), 2);
        // A replacement starts a new hard timeout; a deleted rule never expires.
        add(&mut tables, "priority=1,hard_timeout=20,in_port=2,actions=output:5", 26_000);
        add(&mut tables, "priority=1,hard_timeout=20,in_port=2,actions=output:6", 30_000);
        assert!(tables.expire(49_999).is_empty());
        assert_eq!(tables.expire(50_000).len(), 1);
        add(&mut tables, "priority=1,hard_timeout=1,in_port=5,actions=drop", 0);
        tables.delete(&parse_del_flows("in_port=5", false).unwrap());
        assert!(tables.expire(u64::MAX).is_empty());
        assert_eq!(texts(&tables.dump(&all())), ["priority=1,in_port=4 actions=drop"]);
        assert_eq!(entries[3].expiry(u64::MAX), None);
    }

    #[test]
    fn a_learn_refresh_restarts_both_timeouts_and_without_one_the_rule_expires() {
        let mut tables = FlowTables::new();
        add(&mut tables, "table=20,priority=1,hard_timeout=3,dl_dst=fa:16:3e:00:00:02,actions=output:2", 0);
        add(&mut tables, "table=20,priority=1,idle_timeout=2,dl_dst=fa:16:3e:00:00:03,actions=output:2", 0);
        add(&mut tables, "table=20,priority=1,hard_timeout=3,dl_dst=fa:16:3e:00:00:04,actions=output:2", 0);
        let entries = tables.dump(&all());
        // Refreshed every second for ten seconds: neither the hard nor the idle timeout passes.
        for now in (1000..=10_000).step_by(1000) {
            entries[0].refresh(now - 1);
            entries[1].refresh(now - 1);
            let expired = tables.expire(now);
            assert!(expired.iter().all(|e| e.entry.id() == entries[2].id()), "at {now}: {expired:?}");
        }
        assert_eq!(tables.len(), 2, "the rule nothing refreshed went at its hard timeout");
        let line = entries[0].dump_line(11_500);
        assert!(
            line.contains("duration=11.500s, ") && line.contains("hard_age=1, "),
            "hard_age from the refresh: {line}"
        );
        // Refreshes stop: each goes at its timeout from the last one.
        assert!(tables.expire(9999 + 1999).is_empty());
        assert_eq!(
            texts(&tables.expire(9999 + 2000).iter().map(|e| Arc::clone(&e.entry)).collect::<Vec<_>>()),
            ["table=20, idle_timeout=2, priority=1,dl_dst=fa:16:3e:00:00:03 actions=output:2"]
        );
        assert!(tables.expire(9999 + 2999).is_empty());
        assert_eq!(tables.expire(9999 + 3000).len(), 1);
        assert!(tables.is_empty());
    }

    #[test]
    fn a_batch_applies_all_or_nothing() {
        let mut tables =
            tables_with(&["priority=1,in_port=1,actions=output:2", "priority=1,idle_timeout=5,in_port=2,actions=drop"]);
        let before = tables.dump(&all());
        let snapshot = tables.snapshot();
        let check = FlowModFlags { check_overlap: true, ..FlowModFlags::default() };
        let ops = vec![
            FlowOp::Add { rule: rule("priority=1,in_port=1,actions=output:3"), flags: FlowModFlags::default() },
            FlowOp::Add { rule: rule("priority=1,in_port=7,actions=output:3"), flags: FlowModFlags::default() },
            FlowOp::Delete(parse_del_flows("in_port=2", false).unwrap()),
            FlowOp::Modify(parse_mod_flows("in_port=7,actions=output:4", false).unwrap()),
            FlowOp::Add { rule: rule("priority=1,in_port=9,actions=drop"), flags: check },
            FlowOp::Add { rule: rule("priority=1,actions=drop"), flags: check },
            FlowOp::Add { rule: rule("priority=1,in_port=8,actions=drop"), flags: FlowModFlags::default() },
        ];
        let error = tables.apply(ops.clone(), 100).unwrap_err();
        assert_eq!(error.index, 5);
        assert!(matches!(error.error, FlowTableError::Overlap(_)));
        assert!(
            error.to_string().starts_with("flow_mod 5: overlaps a rule of the same priority in table 0: "),
            "{error}"
        );
        let after = tables.dump(&all());
        assert_eq!(after.len(), before.len());
        for (a, b) in before.iter().zip(&after) {
            assert!(Arc::ptr_eq(a, b));
        }
        // Nothing changed: the next snapshot equals the last one, the timed rule still expires.
        let (found, _) = lookup(&tables.snapshot(), 0, &udp_key(1, 0, 0));
        assert_eq!(found.unwrap(), "priority=1,in_port=1 actions=output:2");
        assert_eq!(lookup(&snapshot, 0, &udp_key(7, 0, 0)).0, None);
        assert_eq!(tables.expire(5000).len(), 1);
        // The same batch without the bad op; ids continue where they were.
        let mut ops = ops;
        ops.remove(5);
        let outcome = tables.apply(ops, 200).unwrap();
        assert_eq!((outcome.added, outcome.replaced, outcome.modified, outcome.removed.len()), (4, 1, 1, 0));
        assert_eq!(
            texts(&tables.dump(&all())),
            [
                "priority=1,in_port=1 actions=output:3",
                "priority=1,in_port=7 actions=output:4",
                "priority=1,in_port=9 actions=drop",
                "priority=1,in_port=8 actions=drop",
            ]
        );
        assert_eq!(tables.dump(&all())[0].id(), before[1].id() + 1);
        // Errors in a modify and on a table that does not exist roll back too.
        let bad = vec![
            FlowOp::Delete(all()),
            FlowOp::Add { rule: rule("table=3,actions=drop"), flags: FlowModFlags::default() },
            FlowOp::Modify(parse_mod_flows("actions=goto_table:1", false).unwrap()),
        ];
        let error = tables.apply(bad, 300).unwrap_err();
        assert_eq!(error.index, 2);
        assert_eq!(tables.len(), 4);
        let bad_table = FlowRule { table: 255, ..FlowRule::default() };
        let error = tables.apply(vec![FlowOp::Add { rule: bad_table.clone(), flags: FlowModFlags::default() }], 0);
        assert_eq!(error.unwrap_err(), ApplyError { index: 0, error: FlowTableError::BadTable(255) });
        assert_eq!(FlowTableError::BadTable(255).to_string(), "table 255 does not exist (tables are 0..254)");
        assert!(tables.add(bad_table, FlowModFlags::default(), 0).is_err());
        // goto_table must go forward.
        let backwards = rule("table=3,actions=goto_table:4");
        let backwards = FlowRule { table: 4, ..backwards };
        let error = tables.add(backwards, FlowModFlags::default(), 0).unwrap_err();
        assert_eq!(error, FlowTableError::BadGoto { table: 4, target: 4 });
        assert_eq!(error.to_string(), "goto_table:4 in table 4: the target must be a later table (up to 254)");
        let to_255 = rule("table=3,actions=goto_table:254");
        let to_255 = FlowRule { instructions: Instructions { goto_table: Some(255), ..to_255.instructions }, ..to_255 };
        assert!(tables.add(to_255, FlowModFlags::default(), 0).is_err());
        assert_eq!(tables.len(), 4);
        // A batch that adds and then deletes a rule reports it removed.
        let ops = vec![
            FlowOp::Add { rule: rule("priority=2,in_port=5,actions=drop"), flags: FlowModFlags::default() },
            FlowOp::Delete(parse_del_flows("priority=2,in_port=5", true).unwrap()),
        ];
        let outcome = tables.apply(ops, 0).unwrap();
        assert_eq!((outcome.added, outcome.removed.len(), tables.len()), (1, 1, 4));
    }

    #[test]
    fn snapshots_share_what_did_not_change_and_never_change() {
        let mut tables = tables_with(&[
            "priority=5,in_port=1,actions=output:2",
            "priority=5,in_port=2,actions=output:2",
            "priority=1,actions=drop",
            "table=1,actions=drop",
        ]);
        let first = tables.snapshot();
        let again = tables.snapshot();
        let table = |s: &TablesSnapshot, t: usize| Arc::clone(s.tables[t].as_ref().unwrap());
        assert!(Arc::ptr_eq(&table(&first, 0), &table(&again, 0)));
        add(&mut tables, "priority=5,in_port=3,actions=output:2", 0);
        let second = tables.snapshot();
        assert!(Arc::ptr_eq(&table(&first, 1), &table(&second, 1)));
        assert!(!Arc::ptr_eq(&table(&first, 0), &table(&second, 0)));
        // In table 0 only the in_port subtable was rebuilt, the catch-all one is shared.
        let catch_all = |s: &TablesSnapshot| {
            let t = table(s, 0);
            let found = t.subtables.iter().find(|st| st.mask == FlowKey::default()).map(Arc::clone);
            found.unwrap()
        };
        assert!(Arc::ptr_eq(&catch_all(&first), &catch_all(&second)));
        // The old snapshot still answers as before.
        assert_eq!(lookup(&first, 0, &udp_key(3, 0, 0)).0.unwrap(), "priority=1 actions=drop");
        assert_eq!(lookup(&second, 0, &udp_key(3, 0, 0)).0.unwrap(), "priority=5,in_port=3 actions=output:2");
        // Emptying a table drops it from the snapshot.
        tables.delete(&parse_del_flows("table=1", false).unwrap());
        let third = tables.snapshot();
        assert_eq!(third.tables_in_use().collect::<Vec<_>>(), vec![0]);
        assert_eq!(third.tables.len(), 1);
        assert!(format!("{third:?}").contains("Subtable"));
        assert_eq!(format!("{tables:?}"), "{0: 4}");
    }

    #[test]
    fn counters_are_shared_and_lock_free() {
        let mut tables = tables_with(&["priority=1,actions=drop"]);
        let snapshot = Arc::new(tables.snapshot());
        let threads: Vec<_> = (0..4)
            .map(|n| {
                let snapshot = Arc::clone(&snapshot);
                std::thread::spawn(move || {
                    let mut wildcards = FlowKey::default();
                    for i in 0..1000 {
                        let entry = snapshot.lookup(0, &udp_key(1, 0, 0), &mut wildcards).unwrap();
                        entry.record(32, 32 * 64, n * 1000 + i);
                    }
                })
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        let entry = &tables.dump(&all())[0];
        assert_eq!((entry.packets(), entry.bytes(), entry.last_used_ms()), (128_000, 128_000 * 64, 3999));
        fn shared<T: Send + Sync>(_: &T) {}
        shared(&*snapshot);
        shared(&tables);
    }

    #[test]
    fn dump_lines_are_what_ovs_ofctl_prints() {
        let mut tables = FlowTables::new();
        add(&mut tables, "idle_timeout=10,priority=100,udp,in_port=1,nw_src=10.0.0.1,actions=output:2", 10_000);
        let entry = Arc::clone(&tables.dump(&all())[0]);
        entry.record(10, 640, 10_500);
        assert_eq!(
            entry.dump_line(11_234),
            "cookie=0x0, duration=1.234s, table=0, n_packets=10, n_bytes=640, idle_timeout=10, idle_age=0, \
             priority=100,udp,in_port=1,nw_src=10.0.0.1 actions=output:2"
        );
        assert_eq!(entry.duration(11_234), Duration::from_millis(1234));
        assert_eq!(entry.duration(0), Duration::ZERO);
        // Whole seconds print without decimals; a modify shows in hard_age.
        tables.modify(&parse_mod_flows("in_port=1,actions=output:3", false).unwrap(), 12_000).unwrap();
        let modified = &tables.dump(&all())[0];
        assert_eq!(
            modified.dump_line(17_000),
            "cookie=0x0, duration=7s, table=0, n_packets=10, n_bytes=640, idle_timeout=10, idle_age=6, hard_age=5, \
             priority=100,udp,in_port=1,nw_src=10.0.0.1 actions=output:3"
        );
        let flags = FlowModFlags { send_flow_rem: true, check_overlap: true, reset_counts: true };
        let rule = rule("cookie=0xab,table=3,hard_timeout=30,actions=drop");
        tables.add(rule, flags, 0).unwrap();
        let other = &tables.dump(&parse_dump_flows("table=3").unwrap())[0];
        assert_eq!(
            other.dump_line(2_050),
            "cookie=0xab, duration=2.050s, table=3, n_packets=0, n_bytes=0, hard_timeout=30, \
             send_flow_rem check_overlap reset_counts idle_age=2, actions=drop"
        );
        // A clock behind the rule's times does not underflow.
        assert!(modified.dump_line(0).starts_with("cookie=0x0, duration=0s, table=0, n_packets=10"));
    }

    /// A rule in table 0 or 1 with a random match over fields with small value sets (so that rules overlap and keys hit):
    /// in_port, reg0 and dl_dst with arbitrary bit masks, some with an IPv4 prefix on nw_src.
    fn random_rule(random: &mut XorShift) -> FlowRule {
        let table = u8::try_from(random.below(2)).unwrap();
        let mut rule = FlowRule { table, priority: u16::try_from(random.below(4)).unwrap(), ..FlowRule::default() };
        let matches = &mut rule.matches;
        if random.below(2) == 0 {
            matches.set_exact(Field::InPort, 1 + random.below(3) as u128);
        }
        if random.below(2) == 0 {
            matches.set_masked(Field::Reg(0), random.below(16) as u128, random.below(16) as u128);
        }
        if random.below(3) == 0 {
            matches.set_masked(Field::DlDst, random.below(4) as u128, random.below(4) as u128);
        }
        if random.below(3) == 0 {
            matches.set_exact(Field::DlType, 0x0800);
            let prefix = [0, 8, 16, 24, 31, 32][random.below(6)];
            let mask = if prefix == 0 { 0 } else { u32::MAX << (32 - prefix) };
            matches.set_masked(Field::NwSrc, random_ip(random) as u128, u128::from(mask));
        }
        rule.instructions.apply_actions =
            vec![crate::flow::Action::output(OfPort(1 + u32::try_from(random.below(4)).unwrap()))];
        rule
    }

    fn random_ip(random: &mut XorShift) -> u32 {
        [0x0a00_0000, 0x0a00_0001, 0x0a01_0000, 0x0b00_0000][random.below(4)]
    }

    fn random_key(random: &mut XorShift) -> FlowKey {
        let mut key = FlowKey::default();
        key.set_u64(Field::InPort, 1 + random.below(4) as u64);
        key.set_u64(Field::Reg(0), random.below(16) as u64);
        key.set_u64(Field::DlDst, random.below(4) as u64);
        key.set_u64(Field::DlType, [0x0800, 0x0806][random.below(2)]);
        key.set_u64(Field::NwSrc, u64::from(random_ip(random)));
        key.set_u64(Field::TpSrc, random.below(3) as u64);
        key
    }

    /// The un-wildcarding property against a linear scan: for random rule sets (changed in
    /// random batches, so that incremental snapshots are covered) and random keys, the lookup
    /// finds the best matching rule, and every key that equals the key in the bits of the
    /// resulting wildcards gets the same rule.
    #[test]
    fn lookups_and_their_wildcards_agree_with_a_linear_scan() {
        let mut random = XorShift(0x1234_5678_9abc_def1);
        let mut checked = 0;
        for _round in 0..40 {
            let mut tables = FlowTables::new();
            for _batch in 0..4 {
                let mut ops: Vec<FlowOp> = (0..1 + random.below(25))
                    .map(|_| FlowOp::Add { rule: random_rule(&mut random), flags: FlowModFlags::default() })
                    .collect();
                if random.below(2) == 0 {
                    let victim = random_rule(&mut random);
                    ops.push(FlowOp::Delete(FlowSelector { matches: victim.matches, ..all() }));
                }
                tables.apply(ops, 0).unwrap();
                let snapshot = tables.snapshot();
                for _ in 0..50 {
                    let table = u8::try_from(random.below(3)).unwrap();
                    // Mostly keys from the rules' small value sets, sometimes any bytes at all.
                    let mut key = random_key(&mut random);
                    if random.below(10) == 0 {
                        key.bytes.iter_mut().for_each(|b| *b = (random.next() & 0xff) as u8);
                    }
                    let mut wildcards = FlowKey::default();
                    let found = snapshot.lookup(table, &key, &mut wildcards).map(|e| e.id());
                    assert_eq!(found, naive(&tables, table, &key), "{key:?}");
                    for _ in 0..20 {
                        let other = random_key(&mut random);
                        let mut covered = FlowKey::default();
                        for i in 0..KEY_WORDS {
                            covered
                                .set_word(i, (key.word(i) & wildcards.word(i)) | (other.word(i) & !wildcards.word(i)));
                        }
                        assert_eq!(
                            naive(&tables, table, &covered),
                            found,
                            "{key:?} wildcards {wildcards:?} covers {covered:?}"
                        );
                        checked += 1;
                    }
                }
            }
        }
        assert_eq!(checked, 40 * 4 * 50 * 20);
    }

    /// The exact-100k benchmark scenario at a size a debug build runs quickly: exact nw_src
    /// rules and a priority-0 catch-all. Every rule is one hash probe away; misses fall through
    /// to the catch-all; the wildcards are the exact rules' mask.
    #[test]
    fn many_exact_rules_and_a_catch_all() {
        const RULES: u32 = 20_000;
        let mut text: String = (0..RULES)
            .map(|i| format!("priority=100,udp,in_port=1,nw_src=10.0.{}.{},actions=output:2\n", i >> 8, i & 0xff))
            .collect();
        text.push_str("priority=0,actions=drop\n");
        let ops = parse_flows_file(&text)
            .unwrap()
            .into_iter()
            .map(|rule| FlowOp::Add { rule, flags: FlowModFlags::default() });
        let mut tables = FlowTables::new();
        assert_eq!(tables.apply(ops.collect(), 0).unwrap().added, RULES as usize + 1);
        let snapshot = tables.snapshot();
        let table = snapshot.tables[0].as_ref().unwrap();
        assert_eq!(table.subtables.len(), 2);
        assert_eq!(table.subtables[0].word_count, 3);
        let mut exact_mask = FlowKey::default();
        for field in [Field::InPort, Field::DlType, Field::NwProto, Field::NwSrc] {
            exact_mask.set_all_ones(field);
        }
        for i in (0..RULES).step_by(97) {
            let (found, wildcards) = lookup(&snapshot, 0, &udp_key(1, 0x0a00_0000 | i, 53));
            assert_eq!(
                found.unwrap(),
                format!("priority=100,udp,in_port=1,nw_src=10.0.{}.{} actions=output:2", i >> 8, i & 0xff)
            );
            assert_eq!(wildcards, exact_mask);
        }
        let (found, wildcards) = lookup(&snapshot, 0, &udp_key(2, 0x0a00_0001, 53));
        assert_eq!((found.unwrap().as_str(), wildcards), ("priority=0 actions=drop", exact_mask));
    }

    fn indirect(id: u32, port: u32) -> crate::pipeline::group::GroupOp {
        use crate::pipeline::group::{Bucket, Group, GroupOp, GroupType, GROUP_ANY};
        let bucket = Bucket {
            id: 0,
            weight: 0,
            watch_port: OfPort::NONE,
            watch_group: GROUP_ANY,
            actions: vec![Action::output(OfPort(port))],
        };
        GroupOp::Add(Group { id, group_type: GroupType::Indirect, buckets: vec![bucket] })
    }

    #[test]
    fn rules_use_only_groups_that_exist_and_go_with_them() {
        use crate::pipeline::group::{GroupOp, GROUP_ALL};
        let mut tables = FlowTables::new();
        let refused = tables.add(rule("in_port=1,actions=group:1"), FlowModFlags::default(), 0);
        assert_eq!(refused.unwrap_err(), FlowTableError::UnknownGroup(1));
        tables.apply_group_mod(indirect(1, 2), 0).unwrap();
        tables.apply_group_mod(indirect(2, 3), 0).unwrap();
        add(&mut tables, "in_port=1,actions=group:1", 0);
        add(&mut tables, "in_port=2,actions=write_actions(group:1)", 0);
        add(&mut tables, "in_port=3,actions=group:2", 0);
        add(&mut tables, "in_port=4,actions=output:1", 0);
        let to_missing = parse_mod_flows("in_port=4,actions=group:7", false).unwrap();
        assert_eq!(tables.modify(&to_missing, 0), Err(FlowTableError::UnknownGroup(7)));
        assert_eq!(tables.group_references().get(&1), Some(&2));
        let snapshot = tables.snapshot();
        assert!(snapshot.group(1).is_some() && snapshot.group(3).is_none());
        // Deleting a group deletes the rules that use it.
        let removed = tables.apply_group_mod(GroupOp::Delete(1), 0).unwrap();
        let removed: Vec<String> = removed.iter().map(|e| e.rule().to_string()).collect();
        assert_eq!(removed, ["in_port=1 actions=group:1", "in_port=2 actions=write_actions(group:1)"]);
        assert_eq!(tables.len(), 2);
        assert!(tables.snapshot().group(1).is_none(), "the next version has neither");
        let removed = tables.apply_group_mod(GroupOp::Delete(GROUP_ALL), 0).unwrap();
        assert_eq!(removed.len(), 1);
        assert_eq!(tables.len(), 1);
        assert!(tables.groups().is_empty());
    }
}
