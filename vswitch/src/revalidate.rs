//! Targeted invalidation of the PMDs' caches when a datapath version changes a bridge, instead
//! of a flush. The management thread works out what changed between two versions of every
//! bridge (`BridgeChanges::between`): the rules put in or taken out (their tables and matches,
//! logged by `FlowTables`), the ports whose configuration, link or existence changed, the MAC
//! table entries learned, moved, aged or added, the groups added, modified or deleted. A PMD
//! then drops only the cached megaflows a change can affect, judged by what their translation
//! read (`pipeline::dependencies`):
//! - a rule change, when the megaflow's translation looked up the rule's table and some packet
//!   of the megaflow could match the rule there: their matches agree wherever both masks have
//!   bits (a word the actions rewrote before a lookup is not compared: any value may have been
//!   looked up there);
//! - a port, MAC entry or group change, when the translation read that port, entry or group.
//!
//! Everything else keeps hitting, in the exact-match cache too (its entries die with their
//! megaflow). What cannot be judged this way - another bridge set, a change of the table-miss
//! behaviour or of fail-open, more rule or MAC changes than are logged - is `everything`: a
//! flush of the bridge's megaflows.
//!
//! Finding the affected megaflows without looking at every one: a changed rule, and a changed
//! MAC entry as a match on dl_src or dl_dst, becomes a `Probe` in the megaflows' own key space
//! (in_port the DPDK port), and the megaflow table yields the megaflows whose keys overlap it
//! (`MegaflowTable::overlapping`: a hash probe per subtable, or a scan of its rows' few words);
//! only those, and the megaflows whose translation rewrote a word of their own mask before a
//! lookup (kept on a list), are checked in full. Port and group changes, which no key shows,
//! check every megaflow.
#![forbid(unsafe_code)]

use crate::flow::key::{Field, FlowKey, KEY_WORDS};
use crate::flow::Match;
use crate::pipeline::dependencies::{group_bits, mac_bits, port_bit, Dependencies, TableSet};
use crate::pipeline::table::RuleChange;
use crate::pipeline::xlate::Bridge;

/// What changed in one bridge from one datapath version to the next.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BridgeChanges {
    /// Nothing cached for the bridge can be kept.
    pub everything: bool,
    /// Rules put in or taken out.
    pub rules: Vec<RuleChange>,
    /// The tables of `rules`.
    pub tables: TableSet,
    /// Bloom bits of the ports changed (as `Dependencies::ports`).
    pub ports: u64,
    /// Bloom bits of the MAC table entries changed.
    pub macs: u64,
    /// Bloom bits of the groups changed.
    pub groups: u64,
    /// The rule and MAC entry changes as matches on megaflow keys.
    pub probes: Vec<Probe>,
    /// The bridge's addresses, its routes or neighbours changed: what tunnel outputs through it
    /// resolved may be different.
    pub underlay: bool,
}

/// MAC entries changed between two versions that are looked for one by one; more are
/// `everything`.
pub const MAX_MAC_CHANGES: usize = 256;

/// A match on megaflow keys (in_port the DPDK port) that every megaflow a change may affect
/// overlaps, unless its translation rewrote a word of its mask before a lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    pub value: FlowKey,
    pub mask: FlowKey,
}

impl Probe {
    /// The probe of a rule's match: its in_port (an OpenFlow port) as the DPDK port `dp_port`
    /// gives (`None`: no port of the bridge has it, so no megaflow key can), or not compared
    /// when the rule matches only some of its bits.
    fn of_rule(matches: &Match, dp_port: impl Fn(u32) -> Option<u16>) -> Option<Probe> {
        let (mut value, mut mask) = (*matches.value(), *matches.mask());
        let in_port_mask = mask.get_u64(Field::InPort);
        if in_port_mask == u64::from(u32::MAX) {
            let ofport = u32::try_from(value.get_u64(Field::InPort)).unwrap_or(u32::MAX);
            value.set_u64(Field::InPort, u64::from(dp_port(ofport)?));
        } else if in_port_mask != 0 {
            value.set_u64(Field::InPort, 0);
            mask.set_u64(Field::InPort, 0);
        }
        Some(Probe { value, mask })
    }

    /// The probe of a MAC entry read as `field` (dl_src or dl_dst).
    fn of_mac(field: Field, mac: [u8; 6]) -> Probe {
        let mut value = FlowKey::default();
        let mut mask = FlowKey::default();
        value.set_u128(field, mac.iter().fold(0u128, |v, &b| (v << 8) | u128::from(b)));
        mask.set_all_ones(field);
        Probe { value, mask }
    }
}

impl BridgeChanges {
    /// Everything changed.
    pub fn everything() -> BridgeChanges {
        BridgeChanges { everything: true, ..BridgeChanges::default() }
    }

    /// What changed from `old` to `new`, given the rules put in or taken out in between
    /// (`None`: too many to say).
    pub fn between(old: &Bridge<'_>, new: &Bridge<'_>, rules: Option<Vec<RuleChange>>) -> BridgeChanges {
        let Some(rules) = rules else { return BridgeChanges::everything() };
        if old.miss_to_controller != new.miss_to_controller {
            return BridgeChanges::everything();
        }
        let mut tables = TableSet::default();
        for change in &rules {
            tables.insert(change.table);
        }
        let dp_port = |ofport: u32| new.ports.iter().chain(old.ports).find(|p| p.ofport == ofport).map(|p| p.dp_port);
        let mut probes: Vec<Probe> =
            rules.iter().filter_map(|change| Probe::of_rule(&change.matches, dp_port)).collect();
        let mut ports = 0;
        for port in old.ports {
            if new.ports.iter().find(|p| p.ofport == port.ofport) != Some(port) {
                ports |= port_bit(port.ofport);
            }
        }
        for port in new.ports {
            if !old.ports.iter().any(|p| p.ofport == port.ofport) {
                ports |= port_bit(port.ofport);
            }
        }
        let mut mac_changes = Vec::new();
        if !std::ptr::eq(old.macs, new.macs) {
            for (&(vlan, mac), ofport) in old.macs {
                if new.macs.get(&(vlan, mac)) != Some(ofport) {
                    mac_changes.push((vlan, mac));
                }
            }
            for &(vlan, mac) in new.macs.keys() {
                if !old.macs.contains_key(&(vlan, mac)) {
                    mac_changes.push((vlan, mac));
                }
            }
        }
        if mac_changes.len() > MAX_MAC_CHANGES {
            return BridgeChanges::everything();
        }
        let mut macs = 0;
        for &(vlan, mac) in &mac_changes {
            macs |= mac_bits(vlan, mac);
            probes.push(Probe::of_mac(Field::DlSrc, mac));
            probes.push(Probe::of_mac(Field::DlDst, mac));
        }
        let groups = old.tables.groups().changed_ids(new.tables.groups()).fold(0, |bits, id| bits | group_bits(id));
        BridgeChanges { everything: false, rules, tables, ports, macs, groups, probes, underlay: false }
    }

    /// Entry `mac` of a flood-and-learn port's learned table (`tunnel::vtep`, Bloom bits
    /// `bits`) changed: revalidated as a MAC table entry of the bridge is.
    pub fn learned_vtep_changed(&mut self, bits: u64, mac: [u8; 6]) {
        if self.everything {
            return;
        }
        self.macs |= bits;
        self.probes.push(Probe::of_mac(Field::DlSrc, mac));
        self.probes.push(Probe::of_mac(Field::DlDst, mac));
    }

    /// Whether the megaflows that read no more than `reads` must all be checked: a change no
    /// probe shows (ports, groups, everything) may affect some.
    pub fn needs_full_check(&self, reads: &Dependencies) -> bool {
        self.everything || self.ports & reads.ports != 0 || self.groups & reads.groups != 0
    }

    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        !self.everything
            && !self.underlay
            && self.rules.is_empty()
            && self.ports == 0
            && self.macs == 0
            && self.groups == 0
    }

    /// Whether some megaflow that read no more than `reads` might be affected (the quick test of
    /// a whole cache against its summary: `Dependencies::union`).
    pub fn may_affect(&self, reads: &Dependencies) -> bool {
        self.everything
            || self.tables.intersects(&reads.tables)
            || self.ports & reads.ports != 0
            || self.macs & reads.macs != 0
            || self.groups & reads.groups != 0
    }

    /// Whether the cached megaflow `key` (under `mask`; its in_port the DPDK port) whose
    /// translation read `reads` may give another result now.
    pub fn affects(&self, key: &FlowKey, mask: &FlowKey, reads: &Dependencies) -> bool {
        if self.everything
            || self.ports & reads.ports != 0
            || self.macs & reads.macs != 0
            || self.groups & reads.groups != 0
        {
            return true;
        }
        if !self.tables.intersects(&reads.tables) {
            return false;
        }
        // The packet as the pipeline saw it: in_port is the OpenFlow port.
        let mut key = *key;
        key.set_u64(Field::InPort, u64::from(reads.in_ofport));
        self.rules.iter().filter(|change| reads.tables.contains(change.table)).any(|change| {
            let (value, rule_mask) = (change.matches.value(), change.matches.mask());
            (0..KEY_WORDS).all(|w| {
                reads.rewritten_words & (1 << w) != 0
                    || (key.word(w) ^ value.word(w)) & mask.word(w) & rule_mask.word(w) == 0
            })
        })
    }
}

/// What changed in every bridge since the previous datapath version.
#[derive(Debug, Clone, Default)]
pub struct VersionChanges {
    /// The version these changes lead from (the next one's is `from_version + 1`).
    pub from_version: u64,
    /// By bridge index, as `Datapath::bridges`.
    pub bridges: Vec<BridgeChanges>,
}

impl VersionChanges {
    /// The changes of `bridge` (a bridge the previous version did not have: everything).
    pub fn bridge(&self, bridge: usize) -> Option<&BridgeChanges> {
        self.bridges.get(bridge)
    }

    /// Whether nothing cached can be kept (every bridge changed entirely, or there is none).
    pub fn is_total(&self) -> bool {
        self.bridges.iter().all(|changes| changes.everything)
    }

    /// Whether some megaflow of any bridge that read no more than `reads` might be affected.
    pub fn may_affect(&self, reads: &Dependencies) -> bool {
        self.bridges.iter().any(|changes| changes.may_affect(reads)) || self.crossed_bridge_changed(reads)
    }

    /// Whether, for megaflows that read no more than `reads`, the probes do not suffice.
    pub fn needs_full_check(&self, reads: &Dependencies) -> bool {
        self.bridges.iter().any(|changes| changes.needs_full_check(reads)) || self.crossed_bridge_changed(reads)
    }

    /// Whether a bridge the translation went through besides its own (a tunnel's underlay)
    /// changed at all: no probe tells which of its megaflows it affects.
    pub fn crossed_bridge_changed(&self, reads: &Dependencies) -> bool {
        reads.bridges != 0
            && self
                .bridges
                .iter()
                .enumerate()
                .any(|(b, changes)| reads.bridges & (1 << (b % 64)) != 0 && !changes.is_empty())
    }

    /// Every probe of every bridge.
    pub fn probes(&self) -> impl Iterator<Item = &Probe> + '_ {
        self.bridges.iter().flat_map(|changes| changes.probes.iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::parse_add_flow;
    use crate::pipeline::table::{FlowModFlags, FlowTables};
    use crate::pipeline::xlate::{BridgePort, MacPort, MacTable};

    fn port(ofport: u32) -> BridgePort {
        BridgePort::trunk(ofport, u16::try_from(ofport).unwrap())
    }

    /// A megaflow key with in_port `dp_port` and nw_src `nw_src` (IPv4), its mask in_port,
    /// dl_type and nw_src.
    fn megaflow(dp_port: u16, nw_src: u32) -> (FlowKey, FlowKey) {
        let mut key = FlowKey::default();
        key.set_u64(Field::InPort, u64::from(dp_port));
        key.set_u64(Field::DlType, 0x0800);
        key.set_u64(Field::NwSrc, u64::from(nw_src));
        let mut mask = FlowKey::default();
        for field in [Field::InPort, Field::DlType, Field::NwSrc] {
            mask.set_all_ones(field);
        }
        (key, mask)
    }

    fn rule_change(text: &str) -> RuleChange {
        let rule = parse_add_flow(text).unwrap();
        RuleChange { table: rule.table, matches: rule.matches }
    }

    fn changes(rules: &[&str]) -> BridgeChanges {
        let rules: Vec<RuleChange> = rules.iter().map(|r| rule_change(r)).collect();
        let mut tables = TableSet::default();
        for r in &rules {
            tables.insert(r.table);
        }
        BridgeChanges { rules, tables, ..BridgeChanges::default() }
    }

    fn reads(tables: &[u8], in_ofport: u32) -> Dependencies {
        let mut reads = Dependencies { in_ofport, ports: port_bit(in_ofport), ..Dependencies::default() };
        for &t in tables {
            reads.tables.insert(t);
        }
        reads
    }

    #[test]
    fn a_rule_affects_the_megaflows_it_could_match_in_the_tables_they_visited() {
        // DPDK port 7 is OpenFlow port 1: rules match the OpenFlow port.
        let (key, mask) = megaflow(7, 0x0a00_0001);
        let visited = reads(&[0], 1);
        assert!(changes(&["ip,nw_src=10.0.0.1,actions=drop"]).affects(&key, &mask, &visited));
        assert!(changes(&["in_port=1,actions=drop"]).affects(&key, &mask, &visited));
        assert!(changes(&["ip,nw_src=10.0.0.0/24,actions=drop"]).affects(&key, &mask, &visited));
        // A field the megaflow does not match on may take any value: the rule may match.
        assert!(changes(&["udp,tp_dst=53,actions=drop"]).affects(&key, &mask, &visited));
        assert!(!changes(&["ip,nw_src=10.0.0.2,actions=drop"]).affects(&key, &mask, &visited));
        assert!(!changes(&["in_port=2,actions=drop"]).affects(&key, &mask, &visited));
        assert!(!changes(&["arp,actions=drop"]).affects(&key, &mask, &visited));
        assert!(!changes(&["table=7,actions=drop"]).affects(&key, &mask, &visited), "table 7 was not looked up");
        // nw_src rewritten before a lookup: any value may have been looked up.
        let rewritten = Dependencies { rewritten_words: 1 << 3, ..reads(&[0, 1], 1) };
        assert!(changes(&["table=1,ip,nw_src=10.0.0.2,actions=drop"]).affects(&key, &mask, &rewritten));
    }

    #[test]
    fn changes_between_versions_name_ports_macs_and_groups() {
        let mut tables = FlowTables::new();
        tables.add(parse_add_flow("actions=NORMAL").unwrap(), FlowModFlags::default(), 0).unwrap();
        let snapshot = tables.snapshot();
        let rules = tables.take_changes();
        assert_eq!(rules.as_ref().map(Vec::len), Some(1));
        let ports = vec![port(1), port(2)];
        let mut macs = MacTable::new();
        macs.insert((0, [2, 0, 0, 0, 0, 1]), MacPort::new(1, 0));
        let old = Bridge { tables: &snapshot, ports: &ports, macs: &macs, miss_to_controller: false, underlay: None };
        let same = BridgeChanges::between(&old, &old, Some(Vec::new()));
        assert!(same.is_empty(), "{same:?}");
        // A megaflow's refresh of an entry is no change; the entry aged and learned again is.
        let refreshed = macs.clone();
        refreshed[&(0, [2, 0, 0, 0, 0, 1])].last_seen.refresh(5000);
        let new = Bridge { macs: &refreshed, ..old };
        assert!(BridgeChanges::between(&old, &new, Some(Vec::new())).is_empty());
        let mut relearned = macs.clone();
        relearned.insert((0, [2, 0, 0, 0, 0, 1]), MacPort::new(1, 6000));
        let new = Bridge { macs: &relearned, ..old };
        assert_eq!(BridgeChanges::between(&old, &new, Some(Vec::new())).macs, mac_bits(0, [2, 0, 0, 0, 0, 1]));

        let mut down = ports.clone();
        down[1].live = false;
        let mut moved = macs.clone();
        moved.insert((0, [2, 0, 0, 0, 0, 1]), MacPort::new(2, 0));
        moved.insert((0, [2, 0, 0, 0, 0, 9]), MacPort::new(1, 0));
        let new = Bridge { tables: &snapshot, ports: &down, macs: &moved, miss_to_controller: false, underlay: None };
        let changed = BridgeChanges::between(&old, &new, Some(Vec::new()));
        assert_eq!(changed.ports, port_bit(2));
        assert_eq!(changed.macs, mac_bits(0, [2, 0, 0, 0, 0, 1]) | mac_bits(0, [2, 0, 0, 0, 0, 9]));
        assert_eq!(changed.groups, 0);
        let (key, mask) = megaflow(1, 1);
        let only_port_1 = reads(&[0], 1);
        assert!(!changed.affects(&key, &mask, &only_port_1));
        let flooding = Dependencies { ports: u64::MAX, ..only_port_1 };
        assert!(changed.affects(&key, &mask, &flooding), "a port of the flood changed");

        let to_controller = Bridge { miss_to_controller: true, ..new };
        assert!(BridgeChanges::between(&old, &to_controller, Some(Vec::new())).everything);
        assert!(BridgeChanges::between(&old, &old, None).everything, "too many rule changes to say");
    }
}
