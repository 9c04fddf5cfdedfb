//! The group table of a bridge (OpenFlow 1.3 groups): the model (`Group`, `Bucket`,
//! `GroupType`), GROUP_MOD add/modify/delete with the checks of the specification
//! (`GroupTable::apply`), the immutable `GroupsSnapshot` the PMDs translate with, and the
//! counters of groups and buckets.
//!
//! The group table lives in `FlowTables` and its snapshot in `TablesSnapshot`: one table version
//! holds the rules and the groups they use, so a PMD never sees a rule pointing at a group of
//! another version. `FlowTables` keeps the two consistent: a rule may only use groups that exist
//! (`OFPBAC_BAD_OUT_GROUP`) and deleting a group deletes the rules that use it.
//!
//! Counters are credited as rule counters are: a megaflow lists the groups (and buckets) its
//! translation went through (`GroupHit`) and the PMD hands its packet and byte counts on in
//! arrears, so the packet path has no atomic read-modify-write. A modify starts the group's
//! counters from zero (its buckets may be different ones); its age is kept.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use hashbrown::HashMap;

use crate::flow::{Action, OfPort, GROUP_MAX};

/// OFPG_ALL: every group, in a delete.
pub const GROUP_ALL: u32 = 0xffff_fffc;
/// OFPG_ANY: no group (a bucket watching none; flow filters without a group).
pub const GROUP_ANY: u32 = 0xffff_ffff;
/// Groups a bridge holds at most (per type, as group features report it).
pub const MAX_GROUPS: usize = 65_536;
/// Buckets a group holds at most.
pub const MAX_BUCKETS: usize = 64;
/// Group chains (a bucket's `group:N` or watch_group) are followed this deep at most.
pub const MAX_CHAIN_DEPTH: usize = 32;

/// OFPGT_*: what a group does with its buckets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GroupType {
    /// Every bucket, each on its own copy of the packet (multicast, flooding).
    All = 0,
    /// One live bucket, chosen by a hash of the flow and the buckets' weights (load sharing).
    Select = 1,
    /// Its one bucket (a shared next hop many rules point at).
    Indirect = 2,
    /// The first live bucket (fast failover).
    FastFailover = 3,
}

impl GroupType {
    /// The ovs-ofctl name.
    pub fn name(self) -> &'static str {
        match self {
            GroupType::All => "all",
            GroupType::Select => "select",
            GroupType::Indirect => "indirect",
            GroupType::FastFailover => "ff",
        }
    }
}

/// One bucket of a group.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Bucket {
    /// Its id (OpenFlow 1.5's bucket_id; up to 1.4 its position in the group), unique in the
    /// group, which 1.5's insert and remove bucket commands name.
    pub id: u32,
    /// The bucket's share of a select group's packets (0: never chosen); 0 in other types.
    pub weight: u16,
    /// The port whose liveness (link up) makes the bucket live; [`OfPort::NONE`]: no port watched.
    pub watch_port: OfPort,
    /// The group whose liveness makes the bucket live; [`GROUP_ANY`]: no group watched.
    pub watch_group: u32,
    /// Run in order on the bucket's copy of the packet.
    pub actions: Vec<Action>,
}

impl Bucket {
    /// The groups the bucket's actions send to.
    fn sends_to(&self) -> impl Iterator<Item = u32> + '_ {
        self.actions.iter().filter_map(|action| match action {
            Action::Group(id) => Some(*id),
            _ => None,
        })
    }

    /// Every group the bucket depends on: those it sends to and the one it watches.
    fn references(&self) -> impl Iterator<Item = u32> + '_ {
        self.sends_to().chain((self.watch_group != GROUP_ANY).then_some(self.watch_group))
    }
}

/// A group as a GROUP_MOD gives it and group desc reports it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Group {
    pub id: u32,
    pub group_type: GroupType,
    pub buckets: Vec<Bucket>,
}

/// One GROUP_MOD.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupOp {
    /// A new group; its id must be free.
    Add(Group),
    /// New type and buckets for an existing group.
    Modify(Group),
    /// Removes the group ([`GROUP_ALL`]: every group); a group that does not exist is no error.
    Delete(u32),
    /// OpenFlow 1.5's insert buckets: `buckets` go into group `group` at `place` (first (all
    /// too), last or after the bucket of an id), the others stay.
    InsertBuckets { group: u32, place: BucketPlace, buckets: Vec<Bucket> },
    /// OpenFlow 1.5's remove buckets: the first, the last, all or the one of an id.
    RemoveBuckets { group: u32, place: BucketPlace },
}

/// Which bucket a bucket command names (its command_bucket_id).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BucketPlace {
    First,
    Last,
    All,
    Id(u32),
}

/// The largest bucket id (OFPG15_BUCKET_MAX); the ids above name places.
pub const BUCKET_MAX: u32 = 0xffff_ff00;

/// Why a GROUP_MOD was refused (the OFPGMFC_* codes, and OFPBAC_BAD_OUT_GROUP for a bucket
/// sending to a group that does not exist). Nothing changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupModError {
    /// An add of an id in use.
    Exists(u32),
    /// A modify of an id not in use.
    Unknown(u32),
    /// Not a valid group: a reserved id, an indirect group without exactly one bucket, weights
    /// outside a select group.
    Invalid(String),
    OutOfGroups,
    OutOfBuckets,
    /// A watch_port or watch_group that cannot be watched, or a fast-failover bucket watching
    /// nothing.
    BadWatch(String),
    /// A bucket sends to a group that does not exist.
    BadOutGroup(u32),
    /// The group would reach itself through bucket actions or watched groups.
    Loop(u32),
    /// A delete of a group another group sends to or watches.
    Chained {
        group: u32,
        by: u32,
    },
    /// A bucket command names a bucket id the group does not have.
    UnknownBucket(u32),
    /// Two buckets of the group would have this id.
    BucketExists(u32),
}

impl fmt::Display for GroupModError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GroupModError::Exists(id) => write!(f, "group {id} exists already"),
            GroupModError::Unknown(id) => write!(f, "group {id} does not exist"),
            GroupModError::Invalid(reason) => f.write_str(reason),
            GroupModError::OutOfGroups => write!(f, "the bridge has {MAX_GROUPS} groups already"),
            GroupModError::OutOfBuckets => write!(f, "a group has at most {MAX_BUCKETS} buckets"),
            GroupModError::BadWatch(reason) => f.write_str(reason),
            GroupModError::BadOutGroup(id) => write!(f, "a bucket sends to group {id}, which does not exist"),
            GroupModError::Loop(id) => write!(f, "group {id} would reach itself through its buckets"),
            GroupModError::UnknownBucket(id) => write!(f, "the group has no bucket {id}"),
            GroupModError::BucketExists(id) => write!(f, "bucket id {id} is used twice"),
            GroupModError::Chained { group, by } => {
                write!(f, "group {group} is used by the buckets of group {by}; delete or modify that one first")
            }
        }
    }
}

impl std::error::Error for GroupModError {}

/// The position of the bucket of `id` in `group`.
fn bucket_index(group: &Group, id: u32) -> Result<usize, GroupModError> {
    group.buckets.iter().position(|bucket| bucket.id == id).ok_or(GroupModError::UnknownBucket(id))
}

/// Packets and bytes of a group or a bucket.
#[derive(Debug, Default)]
struct Count {
    packets: AtomicU64,
    bytes: AtomicU64,
}

impl Count {
    #[inline]
    fn add(&self, packets: u64, bytes: u64) {
        self.packets.fetch_add(packets, Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    fn read(&self) -> (u64, u64) {
        (self.packets.load(Ordering::Relaxed), self.bytes.load(Ordering::Relaxed))
    }
}

/// A group of the table with its age and counters.
#[derive(Debug)]
pub struct GroupEntry {
    group: Group,
    added_ms: u64,
    total: Count,
    buckets: Box<[Count]>,
}

impl GroupEntry {
    fn new(group: Group, added_ms: u64) -> GroupEntry {
        let buckets = group.buckets.iter().map(|_| Count::default()).collect();
        GroupEntry { group, added_ms, total: Count::default(), buckets }
    }

    pub fn group(&self) -> &Group {
        &self.group
    }

    /// When the group was added (ms); a modify keeps it.
    pub fn added_ms(&self) -> u64 {
        self.added_ms
    }

    /// Packets and bytes the group processed.
    pub fn counts(&self) -> (u64, u64) {
        self.total.read()
    }

    /// Packets and bytes per bucket, in bucket order.
    pub fn bucket_counts(&self) -> Vec<(u64, u64)> {
        self.buckets.iter().map(Count::read).collect()
    }
}

/// Which buckets of a group a translation ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HitBuckets {
    /// None (no live bucket): the group counts the packet, no bucket does.
    Nothing,
    One(usize),
    /// Every bucket (an `all` group).
    Every,
}

/// A group a megaflow's packets go through, for its counters.
#[derive(Debug, Clone)]
pub struct GroupHit {
    entry: Arc<GroupEntry>,
    buckets: HitBuckets,
}

impl GroupHit {
    pub fn new(entry: Arc<GroupEntry>, buckets: HitBuckets) -> GroupHit {
        GroupHit { entry, buckets }
    }

    #[cfg(test)]
    pub fn group_id(&self) -> u32 {
        self.entry.group.id
    }

    #[cfg(test)]
    pub fn buckets(&self) -> HitBuckets {
        self.buckets
    }

    /// Counts `packets` packets of `bytes` bytes for the group and its buckets. Lock-free
    /// (relaxed atomics): for the datapath's reports in arrears, never per packet.
    #[inline]
    pub fn record(&self, packets: u64, bytes: u64) {
        self.entry.total.add(packets, bytes);
        let buckets = &self.entry.buckets;
        match self.buckets {
            HitBuckets::Nothing => {}
            HitBuckets::One(index) => {
                if let Some(bucket) = buckets.get(index) {
                    bucket.add(packets, bytes);
                }
            }
            HitBuckets::Every => buckets.iter().for_each(|bucket| bucket.add(packets, bytes)),
        }
    }
}

/// The groups of a table version, for the PMDs. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct GroupsSnapshot(Arc<HashMap<u32, Arc<GroupEntry>>>);

impl GroupsSnapshot {
    pub fn get(&self, id: u32) -> Option<&Arc<GroupEntry>> {
        self.0.get(&id)
    }

    /// The ids of the groups added, modified or deleted from `self` to `newer`.
    pub fn changed_ids<'a>(&'a self, newer: &'a GroupsSnapshot) -> impl Iterator<Item = u32> + 'a {
        let same_table = Arc::ptr_eq(&self.0, &newer.0);
        let changed_or_gone = self
            .0
            .iter()
            .filter(move |(id, entry)| !same_table && newer.0.get(*id).is_none_or(|n| !Arc::ptr_eq(n, entry)))
            .map(|(id, _)| *id);
        let added = newer.0.keys().filter(move |id| !same_table && !self.0.contains_key(*id)).copied();
        changed_or_gone.chain(added)
    }
}

/// The groups of a bridge, as the management thread changes them.
#[derive(Debug, Default)]
pub struct GroupTable {
    groups: BTreeMap<u32, Arc<GroupEntry>>,
    /// The snapshot of the groups as they are, until the next change.
    built: Option<GroupsSnapshot>,
}

impl GroupTable {
    pub fn get(&self, id: u32) -> Option<&Arc<GroupEntry>> {
        self.groups.get(&id)
    }

    pub fn contains(&self, id: u32) -> bool {
        self.groups.contains_key(&id)
    }

    /// Every group, by id.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<GroupEntry>> {
        self.groups.values()
    }

    pub fn len(&self) -> usize {
        self.groups.len()
    }

    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// How many buckets of other groups send to or watch each group.
    pub fn references(&self) -> HashMap<u32, u32> {
        let mut counts = HashMap::new();
        for entry in self.groups.values() {
            for id in entry.group.buckets.iter().flat_map(Bucket::references) {
                *counts.entry(id).or_insert(0) += 1;
            }
        }
        counts
    }

    /// The groups as they are now (rebuilt only after a change).
    pub fn snapshot(&mut self) -> GroupsSnapshot {
        let groups = &self.groups;
        self.built
            .get_or_insert_with(|| {
                GroupsSnapshot(Arc::new(groups.iter().map(|(id, entry)| (*id, Arc::clone(entry))).collect()))
            })
            .clone()
    }

    /// Applies one GROUP_MOD; returns the ids of the groups it deleted (none for an add or a
    /// modify). Nothing changes on an error.
    pub fn apply(&mut self, op: GroupOp, now_ms: u64) -> Result<Vec<u32>, GroupModError> {
        match op {
            GroupOp::Add(group) => {
                if self.groups.contains_key(&group.id) {
                    return Err(GroupModError::Exists(group.id));
                }
                if self.groups.len() >= MAX_GROUPS {
                    return Err(GroupModError::OutOfGroups);
                }
                self.check(&group)?;
                self.built = None;
                self.groups.insert(group.id, Arc::new(GroupEntry::new(group, now_ms)));
                Ok(Vec::new())
            }
            GroupOp::Modify(group) => self.replace(group),
            GroupOp::InsertBuckets { group, place, buckets } => {
                let mut changed = self.groups.get(&group).ok_or(GroupModError::Unknown(group))?.group.clone();
                let at = match place {
                    // (As Open vSwitch: "all" inserts at the front.)
                    BucketPlace::First | BucketPlace::All => 0,
                    BucketPlace::Last => changed.buckets.len(),
                    BucketPlace::Id(id) => 1 + bucket_index(&changed, id)?,
                };
                changed.buckets.splice(at..at, buckets);
                self.replace(changed)
            }
            GroupOp::RemoveBuckets { group, place } => {
                let mut changed = self.groups.get(&group).ok_or(GroupModError::Unknown(group))?.group.clone();
                match place {
                    BucketPlace::All => changed.buckets.clear(),
                    BucketPlace::First if !changed.buckets.is_empty() => {
                        changed.buckets.remove(0);
                    }
                    BucketPlace::Last | BucketPlace::First => {
                        changed.buckets.pop();
                    }
                    BucketPlace::Id(id) => {
                        changed.buckets.remove(bucket_index(&changed, id)?);
                    }
                }
                self.replace(changed)
            }
            GroupOp::Delete(GROUP_ALL) => {
                self.built = None;
                Ok(std::mem::take(&mut self.groups).into_keys().collect())
            }
            GroupOp::Delete(id) => {
                if !self.groups.contains_key(&id) {
                    return Ok(Vec::new());
                }
                let user = self
                    .groups
                    .values()
                    .find(|e| e.group.id != id && e.group.buckets.iter().any(|b| b.references().any(|r| r == id)));
                if let Some(user) = user {
                    return Err(GroupModError::Chained { group: id, by: user.group.id });
                }
                self.built = None;
                self.groups.remove(&id);
                Ok(vec![id])
            }
        }
    }

    /// Replaces the group of `group`'s id (which must exist), keeping its age; its counters
    /// start from zero.
    fn replace(&mut self, group: Group) -> Result<Vec<u32>, GroupModError> {
        let added_ms = self.groups.get(&group.id).ok_or(GroupModError::Unknown(group.id))?.added_ms;
        self.check(&group)?;
        self.built = None;
        self.groups.insert(group.id, Arc::new(GroupEntry::new(group, added_ms)));
        Ok(Vec::new())
    }

    /// The checks of a group about to be added or to replace the one with its id.
    fn check(&self, group: &Group) -> Result<(), GroupModError> {
        let id = group.id;
        if let Some(twice) =
            group.buckets.iter().enumerate().find(|(i, b)| group.buckets[..*i].iter().any(|other| other.id == b.id))
        {
            return Err(GroupModError::BucketExists(twice.1.id));
        }
        if id > GROUP_MAX {
            return Err(GroupModError::Invalid(format!("group id {id:#x} is reserved (0..{GROUP_MAX:#x})")));
        }
        if group.buckets.len() > MAX_BUCKETS {
            return Err(GroupModError::OutOfBuckets);
        }
        if group.group_type == GroupType::Indirect && group.buckets.len() != 1 {
            return Err(GroupModError::Invalid(format!(
                "indirect group {id} has {} buckets; it has exactly one",
                group.buckets.len()
            )));
        }
        for bucket in &group.buckets {
            if group.group_type != GroupType::Select && bucket.weight != 0 {
                return Err(GroupModError::Invalid(format!(
                    "a bucket of {} group {id} has weight {}; only select buckets have weights",
                    group.group_type.name(),
                    bucket.weight
                )));
            }
            let watches_port = bucket.watch_port != OfPort::NONE;
            if watches_port && !bucket.watch_port.is_switch_port() && bucket.watch_port != OfPort::LOCAL {
                return Err(GroupModError::BadWatch(format!("cannot watch port {}", bucket.watch_port)));
            }
            let watches_group = bucket.watch_group != GROUP_ANY;
            if group.group_type == GroupType::FastFailover && !watches_port && !watches_group {
                return Err(GroupModError::BadWatch(format!(
                    "a bucket of fast-failover group {id} watches neither a port nor a group"
                )));
            }
            if watches_group && bucket.watch_group != id && !self.groups.contains_key(&bucket.watch_group) {
                return Err(GroupModError::BadWatch(format!("watch_group {} does not exist", bucket.watch_group)));
            }
            if let Some(missing) = bucket.sends_to().find(|&target| target != id && !self.groups.contains_key(&target))
            {
                return Err(GroupModError::BadOutGroup(missing));
            }
        }
        if self.reaches(group, id) {
            return Err(GroupModError::Loop(id));
        }
        Ok(())
    }

    /// Whether `target` can be reached from the buckets of `group` (which replaces the table's
    /// group of its id), following sends and watches.
    fn reaches(&self, group: &Group, target: u32) -> bool {
        let mut seen = Vec::new();
        let mut pending: Vec<u32> = group.buckets.iter().flat_map(Bucket::references).collect();
        while let Some(id) = pending.pop() {
            if id == target {
                return true;
            }
            if seen.contains(&id) {
                continue;
            }
            seen.push(id);
            let next = if id == group.id { Some(group) } else { self.groups.get(&id).map(|e| &e.group) };
            pending.extend(next.into_iter().flat_map(|g| g.buckets.iter().flat_map(Bucket::references)));
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bucket(actions: Vec<Action>) -> Bucket {
        Bucket { id: 0, weight: 0, watch_port: OfPort::NONE, watch_group: GROUP_ANY, actions }
    }

    /// A group whose buckets get their positions as ids.
    fn group(id: u32, group_type: GroupType, buckets: Vec<Bucket>) -> Group {
        Group { id, group_type, buckets: buckets.into_iter().zip(0..).map(|(b, id)| Bucket { id, ..b }).collect() }
    }

    fn output(port: u32) -> Bucket {
        bucket(vec![Action::output(OfPort(port))])
    }

    #[test]
    fn add_modify_delete() {
        let mut table = GroupTable::default();
        let all = group(1, GroupType::All, vec![output(1), output(2)]);
        assert_eq!(table.apply(GroupOp::Add(all.clone()), 5), Ok(Vec::new()));
        assert_eq!(table.apply(GroupOp::Add(all.clone()), 6), Err(GroupModError::Exists(1)));
        let indirect = group(1, GroupType::Indirect, vec![output(3)]);
        assert_eq!(table.apply(GroupOp::Modify(indirect.clone()), 7), Ok(Vec::new()));
        assert_eq!(table.get(1).map(|e| (e.group().clone(), e.added_ms())), Some((indirect, 5)));
        let unknown = group(2, GroupType::All, Vec::new());
        assert_eq!(table.apply(GroupOp::Modify(unknown), 8), Err(GroupModError::Unknown(2)));
        assert_eq!(table.apply(GroupOp::Delete(9), 8), Ok(Vec::new()), "deleting nothing is no error");
        assert_eq!(table.apply(GroupOp::Delete(1), 8), Ok(vec![1]));
        assert!(table.is_empty());
        for id in [3, 4] {
            table.apply(GroupOp::Add(group(id, GroupType::All, Vec::new())), 9).unwrap();
        }
        assert_eq!(table.apply(GroupOp::Delete(GROUP_ALL), 10), Ok(vec![3, 4]));
        assert_eq!(table.len(), 0);
    }

    #[test]
    fn buckets_are_inserted_and_removed_by_place_and_id() {
        let mut table = GroupTable::default();
        let with_id = |id, port| Bucket { id, ..output(port) };
        let ids = |table: &GroupTable| table.get(1).unwrap().group().buckets.iter().map(|b| b.id).collect::<Vec<_>>();
        table.apply(GroupOp::Add(group(1, GroupType::All, vec![output(1), output(2)])), 3).unwrap();
        let insert = |place, buckets| GroupOp::InsertBuckets { group: 1, place, buckets };
        assert_eq!(table.apply(insert(BucketPlace::Last, vec![with_id(7, 3)]), 4), Ok(Vec::new()));
        assert_eq!(ids(&table), [0, 1, 7]);
        table.apply(insert(BucketPlace::First, vec![with_id(8, 3)]), 4).unwrap();
        table.apply(insert(BucketPlace::Id(0), vec![with_id(9, 3), with_id(10, 3)]), 4).unwrap();
        assert_eq!(ids(&table), [8, 0, 9, 10, 1, 7]);
        // The group keeps its age.
        assert_eq!(table.get(1).unwrap().added_ms(), 3);
        assert_eq!(table.apply(insert(BucketPlace::Last, vec![with_id(7, 1)]), 5), Err(GroupModError::BucketExists(7)));
        assert_eq!(
            table.apply(insert(BucketPlace::Id(99), vec![with_id(11, 1)]), 5),
            Err(GroupModError::UnknownBucket(99))
        );
        assert_eq!(ids(&table), [8, 0, 9, 10, 1, 7], "a refused command changes nothing");
        let remove = |place| GroupOp::RemoveBuckets { group: 1, place };
        for (place, left) in [
            (BucketPlace::Id(9), vec![8, 0, 10, 1, 7]),
            (BucketPlace::First, vec![0, 10, 1, 7]),
            (BucketPlace::Last, vec![0, 10, 1]),
        ] {
            table.apply(remove(place), 6).unwrap();
            assert_eq!(ids(&table), left);
        }
        assert_eq!(table.apply(remove(BucketPlace::Id(9)), 6), Err(GroupModError::UnknownBucket(9)));
        table.apply(remove(BucketPlace::All), 6).unwrap();
        assert!(ids(&table).is_empty());
        assert_eq!(
            table.apply(GroupOp::RemoveBuckets { group: 5, place: BucketPlace::All }, 6),
            Err(GroupModError::Unknown(5))
        );
    }

    #[test]
    fn refusals_name_the_specification_s_reasons() {
        let mut table = GroupTable::default();
        let mut add = |g: Group| table.apply(GroupOp::Add(g), 0);
        assert!(matches!(add(group(GROUP_MAX + 1, GroupType::All, Vec::new())), Err(GroupModError::Invalid(_))));
        assert!(matches!(
            add(group(1, GroupType::Indirect, vec![output(1), output(2)])),
            Err(GroupModError::Invalid(_))
        ));
        assert!(matches!(add(group(1, GroupType::Indirect, Vec::new())), Err(GroupModError::Invalid(_))));
        let weighted = Bucket { weight: 2, ..output(1) };
        assert!(matches!(add(group(1, GroupType::All, vec![weighted.clone()])), Err(GroupModError::Invalid(_))));
        assert_eq!(add(group(1, GroupType::Select, vec![weighted])), Ok(Vec::new()));
        assert!(matches!(add(group(2, GroupType::FastFailover, vec![output(1)])), Err(GroupModError::BadWatch(_))));
        let watch_flood = Bucket { watch_port: OfPort::FLOOD, ..output(1) };
        assert!(matches!(add(group(2, GroupType::FastFailover, vec![watch_flood])), Err(GroupModError::BadWatch(_))));
        let watch_missing = Bucket { watch_group: 9, ..output(1) };
        assert!(matches!(add(group(2, GroupType::FastFailover, vec![watch_missing])), Err(GroupModError::BadWatch(_))));
        assert_eq!(
            add(group(2, GroupType::All, vec![bucket(vec![Action::Group(9)])])),
            Err(GroupModError::BadOutGroup(9))
        );
        assert_eq!(add(group(2, GroupType::All, vec![output(1); MAX_BUCKETS + 1])), Err(GroupModError::OutOfBuckets));
        assert_eq!(add(group(2, GroupType::All, vec![bucket(vec![Action::Group(2)])])), Err(GroupModError::Loop(2)));
    }

    #[test]
    fn chains_are_checked_for_loops_and_kept_whole() {
        let mut table = GroupTable::default();
        table.apply(GroupOp::Add(group(1, GroupType::All, vec![output(1)])), 0).unwrap();
        table.apply(GroupOp::Add(group(2, GroupType::All, vec![bucket(vec![Action::Group(1)])])), 0).unwrap();
        let watcher = Bucket { watch_group: 2, ..output(3) };
        table.apply(GroupOp::Add(group(3, GroupType::FastFailover, vec![watcher])), 0).unwrap();
        // 1 -> 3 -> (watches) 2 -> 1: a loop.
        let back = group(1, GroupType::All, vec![bucket(vec![Action::Group(3)])]);
        assert_eq!(table.apply(GroupOp::Modify(back), 0), Err(GroupModError::Loop(1)));
        assert_eq!(table.apply(GroupOp::Delete(1), 0), Err(GroupModError::Chained { group: 1, by: 2 }));
        assert_eq!(table.references().get(&1), Some(&1));
        assert_eq!(table.references().get(&2), Some(&1));
        assert_eq!(table.apply(GroupOp::Delete(3), 0), Ok(vec![3]));
        assert_eq!(table.apply(GroupOp::Delete(2), 0), Ok(vec![2]));
        assert_eq!(table.apply(GroupOp::Delete(1), 0), Ok(vec![1]));
    }

    #[test]
    fn snapshots_follow_changes_and_counters_follow_hits() {
        let mut table = GroupTable::default();
        let empty = table.snapshot();
        table.apply(GroupOp::Add(group(1, GroupType::All, vec![output(1), output(2)])), 0).unwrap();
        let first = table.snapshot();
        assert!(empty.get(1).is_none());
        let entry = first.get(1).expect("group 1").clone();
        assert!(Arc::ptr_eq(&entry, table.snapshot().get(1).unwrap()), "unchanged: the same snapshot");
        GroupHit::new(entry.clone(), HitBuckets::Every).record(2, 200);
        GroupHit::new(entry.clone(), HitBuckets::One(1)).record(1, 60);
        GroupHit::new(entry.clone(), HitBuckets::Nothing).record(1, 70);
        assert_eq!(entry.counts(), (4, 330));
        assert_eq!(entry.bucket_counts(), [(2, 200), (3, 260)]);
        table.apply(GroupOp::Modify(group(1, GroupType::All, vec![output(3)])), 9).unwrap();
        let modified = table.snapshot();
        assert_eq!(modified.get(1).unwrap().counts(), (0, 0), "a modify starts the counters anew");
        assert_eq!(modified.get(1).unwrap().added_ms(), 0);
    }
}
