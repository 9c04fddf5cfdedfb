//! A bridge's control state on the management thread: its OpenFlow tables
//! (changed by configuration, vsctl and learn actions), its MAC learning
//! table for NORMAL (learned from the PMDs' upcalls, aged, bounded) and, for an
//! underlay bridge, its neighbour cache (`tunnel::NeighbourCache`, with the packets it holds).
//! What cached megaflows keep alive (`pipeline::keepalive`) is read here: a MAC entry's
//! last-seen cell, and the cells tied to the learned rules with timeouts.
use std::sync::Arc;

use hashbrown::HashMap;

use std::net::IpAddr;

use crate::config::{BridgeConfig, InterfaceAddress, PacketInLimit};
use crate::flow::{Action, FlowRule, FlowSelector, Instructions, OfPort};
use crate::pipeline::keepalive::LastSeen;
use crate::pipeline::meter::MeterTable;
use crate::pipeline::table::{
    ApplyError, Expired, FlowModFlags, FlowOp, FlowTableError, FlowTables, RuleChange, RuleEntry, TablesSnapshot,
};
use crate::pipeline::xlate::{MacLearning, MacPort, MacTable};
use crate::pmd::packet_in::PacketInEvent;
use crate::tunnel::{NeighbourCache, NeighbourLimits, ResolvedNeighbour};

#[derive(Debug, Clone)]
struct MacEntry {
    /// Where, and the last-seen cell the datapath's megaflows refresh.
    port: MacPort,
    /// Added by an operator (fdb-add): never aged, never moved by learning.
    fixed: bool,
}

/// A MAC entry as `fdb-show` lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MacTableEntry {
    pub vlan: u16,
    pub mac: [u8; 6],
    pub ofport: u32,
    /// When a packet from it was last seen (ms); None for a static entry, which never ages.
    pub last_seen_ms: Option<u64>,
}

/// A learned rule with a timeout and the cells of the megaflows whose learn actions build it:
/// their traffic restarts its timeouts.
#[derive(Debug)]
struct LearnedRefresh {
    rule: Arc<RuleEntry>,
    cells: Vec<Arc<LastSeen>>,
}

/// Counters of the MAC learning table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MacCounters {
    pub learned: u64,
    pub moved: u64,
    pub aged: u64,
    pub evicted: u64,
}

pub struct Bridge {
    pub name: String,
    pub tables: FlowTables,
    snapshot: TablesSnapshot,
    macs: HashMap<(u16, [u8; 6]), MacEntry>,
    /// What the datapath was last given of `macs`, while nothing changed since.
    published_macs: Option<Arc<MacTable>>,
    pub mac_counters: MacCounters,
    /// Most MAC entries kept; when full, the oldest learned one goes.
    pub mac_table_size: usize,
    /// MAC entries not seen for this long are forgotten.
    pub mac_aging_ms: u64,
    /// The learned rules with timeouts that megaflows refresh, by rule id.
    learned_refresh: HashMap<u64, LearnedRefresh>,
    pub packet_in_limit: PacketInLimit,
    /// The OpenFlow datapath id (configured, or derived from the name).
    pub datapath_id: u64,
    /// Fail-open (standalone, no controller): the datapath runs NORMAL instead of the tables.
    pub fail_open: bool,
    /// `fail_open` as of the last `take_rule_changes`.
    published_fail_open: bool,
    /// A connection that wants a packet-in for a table miss (OpenFlow 1.0) is open: the
    /// datapath sends misses to the controllers instead of dropping them.
    pub miss_to_controller: bool,
    pub meters: MeterTable,
    /// The bridge's own MAC (its LOCAL port's).
    pub mac: [u8; 6],
    /// Its own addresses (tunnel endpoints); a bridge with addresses has a LOCAL port.
    pub addresses: Vec<InterfaceAddress>,
    /// The datapath port of its LOCAL port.
    pub local_dp: Option<u16>,
    /// Next hops of tunnel packets sent through this bridge: static ones (configuration,
    /// neigh-set), those learned from ARP / ND, those being resolved with the packets held
    /// for them (the PMDs' copies, as they came).
    pub neighbours: NeighbourCache<PacketInEvent>,
    /// What the datapath was last given of `neighbours` and the cache generation it was made
    /// at: the same `Arc` while no resolved entry changed.
    published_neighbours: Option<(u64, Arc<ResolvedNeighbours>)>,
    pub neighbour_counters: NeighbourCounters,
    /// Addresses, routes or neighbours changed since the last version.
    pub underlay_changed: bool,
}

/// The resolved next hops of an underlay bridge and their MACs, as the datapath reads them.
pub type ResolvedNeighbours = HashMap<IpAddr, ResolvedNeighbour>;

/// What became of the requests and held packets of an underlay bridge's neighbour cache.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NeighbourCounters {
    /// ARP requests / neighbour solicitations sent.
    pub requests: u64,
    /// Unicast requests to learned next hops in use, before they age out.
    pub probes: u64,
    /// Packets held for an unresolved next hop.
    pub held: u64,
    /// Held packets sent once their next hop resolved.
    pub released: u64,
    /// Packets the PMDs handed over that were not held: the next hop's queue was full
    /// (`held_per_nexthop`) or the cache had no room.
    pub not_held: u64,
    /// Held packets dropped: their next hop was given up (no answer within `give_up_ms`) or
    /// flushed, or the packet could not be sent once resolved.
    pub dropped: u64,
}

impl Bridge {
    /// A bridge with `rules` installed (all or nothing) and room for the counters of `pmds`
    /// PMDs in its meters.
    pub fn new(name: &str, rules: &[FlowRule], pmds: usize, now_ms: u64) -> Result<Bridge, String> {
        let mut tables = FlowTables::new();
        let meters = MeterTable::new(pmds);
        let ops: Vec<FlowOp> =
            rules.iter().map(|rule| FlowOp::Add { rule: rule.clone(), flags: FlowModFlags::default() }).collect();
        check_meters(&meters, &ops)
            .map_err(|e| format!("flow {}: {} (meters come from controllers)", e.index, e.error))?;
        tables.apply(ops, now_ms).map_err(|e| format!("flow {}: {}", e.index, e.error))?;
        let snapshot = tables.snapshot();
        Ok(Bridge {
            name: name.to_owned(),
            tables,
            snapshot,
            macs: HashMap::new(),
            published_macs: None,
            mac_counters: MacCounters::default(),
            mac_table_size: BridgeConfig::DEFAULT_MAC_TABLE_SIZE,
            mac_aging_ms: u64::from(BridgeConfig::DEFAULT_MAC_AGING_S) * 1000,
            learned_refresh: HashMap::new(),
            packet_in_limit: PacketInLimit::default(),
            datapath_id: 0,
            fail_open: false,
            published_fail_open: false,
            miss_to_controller: false,
            meters,
            mac: [0; 6],
            addresses: Vec::new(),
            local_dp: None,
            neighbours: NeighbourCache::new(NeighbourLimits::default()),
            published_neighbours: None,
            neighbour_counters: NeighbourCounters::default(),
            underlay_changed: false,
        })
    }

    /// The tables as the datapath sees them (rebuilt where they changed); in fail-open, one
    /// rule that sends everything to NORMAL (the tables themselves stay as they are).
    pub fn tables_snapshot(&mut self) -> TablesSnapshot {
        if self.fail_open {
            return standalone_tables();
        }
        self.snapshot = self.tables.snapshot();
        self.snapshot.clone()
    }

    /// The rules of the datapath's tables put in or taken out since the previous call (`None`:
    /// too many to say, or fail-open switched the tables).
    pub fn take_rule_changes(&mut self) -> Option<Vec<RuleChange>> {
        let changes = self.tables.take_changes();
        let switched = std::mem::replace(&mut self.published_fail_open, self.fail_open) != self.fail_open;
        match (switched, self.fail_open) {
            (true, _) => None,
            // The datapath's tables are the standalone one, which does not change.
            (false, true) => Some(Vec::new()),
            (false, false) => changes,
        }
    }

    /// The resolved neighbours (reachable and static) as the datapath sees them: the same `Arc`
    /// while the cache's generation stays. A new one marks the underlay changed, so the cached
    /// tunnel flows through the bridge are revalidated.
    pub fn neighbour_snapshot(&mut self) -> Arc<ResolvedNeighbours> {
        let generation = self.neighbours.generation();
        match &self.published_neighbours {
            Some((published, snapshot)) if *published == generation => Arc::clone(snapshot),
            _ => {
                let snapshot = Arc::new(self.neighbours.resolved().collect());
                // The first snapshot changes nothing the datapath had.
                self.underlay_changed |= self.published_neighbours.is_some();
                self.published_neighbours = Some((generation, Arc::clone(&snapshot)));
                snapshot
            }
        }
    }

    /// The MAC table as the datapath sees it: the same `Arc` as last time when no entry was
    /// added, moved or removed since.
    pub fn mac_snapshot(&mut self) -> Arc<MacTable> {
        let macs = &self.macs;
        Arc::clone(
            self.published_macs
                .get_or_insert_with(|| Arc::new(macs.iter().map(|(key, entry)| (*key, entry.port.clone())).collect())),
        )
    }

    /// Applies a rule a learn action built, tied to `refreshed_by`, the cell of the megaflow
    /// whose traffic keeps re-running that learn action (a rule with a timeout). Returns
    /// whether the tables changed: an identical rule (same match, priority and instructions)
    /// is left in place, only its timeouts start over (`RuleEntry::refresh`), so a flow that
    /// keeps learning the same thing does not churn the datapath.
    pub fn learn_rule(
        &mut self,
        rule: FlowRule,
        refreshed_by: Option<Arc<LastSeen>>,
        now_ms: u64,
    ) -> Result<bool, String> {
        let selector = FlowSelector::exactly(&rule);
        let same = self.tables.dump(&selector).into_iter().find(|entry| entry.rule().instructions == rule.instructions);
        let changed = same.is_none();
        let entry = match same {
            Some(entry) => {
                entry.refresh(now_ms);
                entry
            }
            None => {
                self.tables.add(rule, FlowModFlags::default(), now_ms).map_err(|e| e.to_string())?;
                // Just added: the one rule the selector selects.
                self.tables.dump(&selector).pop().ok_or("learned rule not in its table")?
            }
        };
        if let Some(cell) = refreshed_by {
            let learned = self
                .learned_refresh
                .entry(entry.id())
                .or_insert_with(|| LearnedRefresh { rule: Arc::clone(&entry), cells: Vec::new() });
            if !learned.cells.iter().any(|held| Arc::ptr_eq(held, &cell)) {
                learned.cells.push(cell);
            }
        }
        Ok(changed)
    }

    /// Hands what the megaflows' traffic refreshed to the learned rules' timeouts; forgets the
    /// cells of megaflows that are gone (nothing else holds them) and the rules no table or
    /// version holds any more.
    fn refresh_learned_rules(&mut self) {
        self.learned_refresh.retain(|_, learned| {
            learned.cells.retain(|cell| {
                learned.rule.refresh(cell.get());
                Arc::strong_count(cell) > 1
            });
            !learned.cells.is_empty() && Arc::strong_count(&learned.rule) > 1
        });
    }

    /// Records where NORMAL saw an address; returns whether the table changed.
    pub fn learn_mac(&mut self, learned: MacLearning, now_ms: u64) -> bool {
        let key = (learned.vlan, learned.mac);
        if let Some(entry) = self.macs.get_mut(&key) {
            if entry.fixed || entry.port.ofport == learned.ofport {
                entry.port.last_seen.refresh(now_ms);
                return false;
            }
            // A new cell: the megaflows of the old port no longer keep it alive.
            entry.port = MacPort::new(learned.ofport, now_ms);
            self.published_macs = None;
            self.mac_counters.moved += 1;
            return true;
        }
        if self.macs.len() >= self.mac_table_size {
            let oldest =
                self.macs.iter().filter(|(_, e)| !e.fixed).min_by_key(|(_, e)| e.port.last_seen.get()).map(|(k, _)| *k);
            match oldest {
                Some(oldest) => {
                    self.macs.remove(&oldest);
                    self.mac_counters.evicted += 1;
                }
                None => return false,
            }
        }
        self.macs.insert(key, MacEntry { port: MacPort::new(learned.ofport, now_ms), fixed: false });
        self.published_macs = None;
        self.mac_counters.learned += 1;
        true
    }

    /// Every MAC entry, sorted by VLAN and MAC.
    pub fn mac_entries(&self) -> Vec<MacTableEntry> {
        let mut entries: Vec<_> = self
            .macs
            .iter()
            .map(|(&(vlan, mac), e)| MacTableEntry {
                vlan,
                mac,
                ofport: e.port.ofport,
                last_seen_ms: (!e.fixed).then(|| e.port.last_seen.get()),
            })
            .collect();
        entries.sort_unstable_by_key(|e| (e.vlan, e.mac));
        entries
    }

    /// An operator's static entry.
    pub fn add_static_mac(&mut self, vlan: u16, mac: [u8; 6], ofport: u32) {
        self.macs.insert((vlan, mac), MacEntry { port: MacPort::new(ofport, 0), fixed: true });
        self.published_macs = None;
    }

    /// Forgets the learned addresses of a port that is gone.
    pub fn forget_port(&mut self, ofport: u32) {
        self.macs.retain(|_, e| e.port.ofport != ofport);
        self.published_macs = None;
    }

    /// Ages MAC entries and expires rules, counting what the megaflows' traffic refreshed;
    /// returns whether anything changed, and the rules that expired.
    pub fn expire(&mut self, now_ms: u64) -> (bool, Vec<Expired>) {
        let before = self.macs.len();
        let aging_ms = self.mac_aging_ms;
        self.macs.retain(|_, e| e.fixed || now_ms.saturating_sub(e.port.last_seen.get()) < aging_ms);
        let aged = before - self.macs.len();
        if aged > 0 {
            self.published_macs = None;
        }
        self.mac_counters.aged += aged as u64;
        self.refresh_learned_rules();
        let expired = self.tables.expire(now_ms);
        for gone in &expired {
            tracing::debug!(bridge = %self.name, rule = %gone.entry.rule(), reason = ?gone.reason, "rule expired");
        }
        (aged > 0 || !expired.is_empty(), expired)
    }
}

/// Refuses flow operations whose meter instruction names a meter `meters` does not have.
pub fn check_meters(meters: &MeterTable, ops: &[FlowOp]) -> Result<(), ApplyError> {
    for (index, op) in ops.iter().enumerate() {
        let instructions = match op {
            FlowOp::Add { rule, .. } => &rule.instructions,
            FlowOp::Modify(modification) => &modification.instructions,
            FlowOp::Delete(_) => continue,
        };
        if let Some(id) = instructions.meter.filter(|id| !meters.contains(*id)) {
            return Err(ApplyError { index, error: FlowTableError::UnknownMeter(id) });
        }
    }
    Ok(())
}

/// A table 0 of one rule, `priority=0,actions=NORMAL`: a learning switch.
fn standalone_tables() -> TablesSnapshot {
    let mut tables = FlowTables::new();
    let normal = FlowRule {
        instructions: Instructions { apply_actions: vec![Action::output(OfPort::NORMAL)], ..Instructions::default() },
        priority: 0,
        ..FlowRule::default()
    };
    // An add to empty tables cannot fail.
    let _ = tables.apply(vec![FlowOp::Add { rule: normal, flags: FlowModFlags::default() }], 0);
    tables.snapshot()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::parse_add_flow;

    fn learned(mac: u8, ofport: u32) -> MacLearning {
        MacLearning { vlan: 0, mac: [2, 0, 0, 0, 0, mac], ofport }
    }

    #[test]
    fn identical_learned_rules_do_not_change_the_tables() {
        let mut bridge = Bridge::new("br0", &[], 1, 0).unwrap();
        let rule = parse_add_flow("table=20,priority=1,dl_dst=fa:16:3e:00:00:02,actions=output:2").unwrap();
        assert!(bridge.learn_rule(rule.clone(), None, 1).unwrap());
        assert!(!bridge.learn_rule(rule.clone(), None, 2).unwrap());
        let mut moved = rule;
        moved.instructions = parse_add_flow("actions=output:3").unwrap().instructions;
        assert!(bridge.learn_rule(moved, None, 3).unwrap());
        assert_eq!(bridge.tables.len(), 1);
    }

    #[test]
    fn a_mac_entry_lives_while_its_megaflows_refresh_it_and_ages_without() {
        let mut bridge = Bridge::new("br0", &[], 1, 0).unwrap();
        bridge.mac_aging_ms = 2000;
        assert!(bridge.learn_mac(learned(1, 1), 0));
        assert!(bridge.learn_mac(learned(2, 1), 0));
        let snapshot = bridge.mac_snapshot();
        // What a megaflow of packets from MAC 1 holds: the published entry's cell.
        let held = Arc::clone(&snapshot[&(0, [2, 0, 0, 0, 0, 1])].last_seen);
        for now in (500..=10_000).step_by(500) {
            held.refresh(now - 20);
            bridge.expire(now);
        }
        let after = bridge.mac_snapshot();
        assert_eq!(after.keys().collect::<Vec<_>>(), [&(0, [2, 0, 0, 0, 0, 1])], "MAC 2, unrefreshed, aged");
        assert_eq!(bridge.mac_counters.aged, 1);
        // The refreshes themselves changed nothing the datapath has: the same entry, no version.
        let (changed, _) = bridge.expire(10_100);
        assert!(!changed);
        assert!(Arc::ptr_eq(&after, &bridge.mac_snapshot()));
        // Traffic stops: it ages an aging time after the last refresh.
        assert!(!bridge.expire(9980 + 1999).0);
        assert!(bridge.expire(9980 + 2000).0);
        assert!(bridge.mac_snapshot().is_empty());
        // Learned anew: another cell; the old one keeps nothing alive.
        assert!(bridge.learn_mac(learned(1, 1), 12_000));
        held.refresh(20_000);
        assert!(bridge.expire(14_000).0);
    }

    #[test]
    fn a_moved_mac_gets_a_new_cell() {
        let mut bridge = Bridge::new("br0", &[], 1, 0).unwrap();
        bridge.learn_mac(learned(1, 1), 0);
        let before = bridge.mac_snapshot()[&(0, [2, 0, 0, 0, 0, 1])].clone();
        assert!(!bridge.learn_mac(learned(1, 1), 5));
        assert_eq!(bridge.mac_snapshot()[&(0, [2, 0, 0, 0, 0, 1])], before, "a refresh is the same entry");
        assert_eq!(before.last_seen.get(), 5);
        assert!(bridge.learn_mac(learned(1, 2), 10));
        let moved = &bridge.mac_snapshot()[&(0, [2, 0, 0, 0, 0, 1])];
        assert_ne!(*moved, before);
        assert!(!Arc::ptr_eq(&moved.last_seen, &before.last_seen));
    }

    #[test]
    fn learned_rules_live_while_the_megaflows_that_learn_them_move_packets() {
        let mut bridge = Bridge::new("br-tun", &[], 1, 0).unwrap();
        let rule = |mac: u8| {
            parse_add_flow(&format!(
                "table=20,priority=1,hard_timeout=3,dl_vlan=1,dl_dst=fa:16:3e:00:00:0{mac},actions=output:2"
            ))
            .unwrap()
        };
        // Two megaflows learn the same rule (two PMDs, say); a third learns another.
        let (first, second, other) =
            (Arc::new(LastSeen::default()), Arc::new(LastSeen::default()), Arc::new(LastSeen::default()));
        assert!(bridge.learn_rule(rule(1), Some(Arc::clone(&first)), 0).unwrap());
        assert!(!bridge.learn_rule(rule(1), Some(Arc::clone(&second)), 0).unwrap(), "identical: no change");
        assert!(bridge.learn_rule(rule(2), Some(Arc::clone(&other)), 0).unwrap());
        assert_eq!(bridge.learned_refresh.values().map(|l| l.cells.len()).sum::<usize>(), 3);
        // Only the second megaflow moves packets: rule 1 lives far beyond its hard timeout.
        for now in (1000..=10_000).step_by(1000) {
            second.refresh(now - 5);
            let (_, expired) = bridge.expire(now);
            assert!(expired.iter().all(|e| e.entry.rule().to_string().contains(":02 ")), "at {now}: {expired:?}");
        }
        assert_eq!(bridge.tables.len(), 1, "rule 2, never refreshed, timed out");
        // The first megaflow goes (evicted): its cell is forgotten.
        drop(first);
        bridge.expire(10_000);
        assert_eq!(bridge.learned_refresh.values().map(|l| l.cells.len()).sum::<usize>(), 1);
        // Traffic stops: the rule goes its hard timeout after the last refresh.
        assert!(bridge.expire(9995 + 2999).1.is_empty());
        assert_eq!(bridge.expire(9995 + 3000).1.len(), 1);
        assert!(bridge.tables.is_empty());
    }

    #[test]
    fn an_identical_relearn_restarts_the_timeouts() {
        let mut bridge = Bridge::new("br-tun", &[], 1, 0).unwrap();
        let rule =
            parse_add_flow("table=20,priority=1,hard_timeout=3,dl_dst=fa:16:3e:00:00:02,actions=output:2").unwrap();
        assert!(bridge.learn_rule(rule.clone(), None, 0).unwrap());
        assert!(!bridge.learn_rule(rule, None, 2500).unwrap());
        assert!(bridge.expire(5499).1.is_empty(), "3 s from the relearn, not from the add");
        assert_eq!(bridge.expire(5500).1.len(), 1);
    }

    #[test]
    fn macs_are_learned_moved_and_aged() {
        let mut bridge = Bridge::new("br0", &[], 1, 0).unwrap();
        assert!(bridge.learn_mac(learned(1, 1), 0));
        assert!(!bridge.learn_mac(learned(1, 1), 10), "same port: no change");
        assert!(bridge.learn_mac(learned(1, 2), 20), "moved");
        assert_eq!(bridge.mac_snapshot().get(&(0, [2, 0, 0, 0, 0, 1])).map(|p| p.ofport), Some(2));
        assert_eq!(bridge.mac_counters, MacCounters { learned: 1, moved: 1, aged: 0, evicted: 0 });
        assert!(!bridge.expire(20 + bridge.mac_aging_ms - 1).0);
        assert!(bridge.expire(20 + bridge.mac_aging_ms).0);
        assert!(bridge.mac_snapshot().is_empty());
    }

    #[test]
    fn static_entries_stay() {
        let mut bridge = Bridge::new("br0", &[], 1, 0).unwrap();
        bridge.add_static_mac(0, [2, 0, 0, 0, 0, 9], 4);
        assert!(!bridge.learn_mac(learned(9, 1), 5), "a static entry does not move");
        assert!(!bridge.expire(10 * bridge.mac_aging_ms).0);
        assert_eq!(bridge.mac_snapshot().get(&(0, [2, 0, 0, 0, 0, 9])).map(|p| p.ofport), Some(4));
        bridge.learn_mac(MacLearning { vlan: 0, mac: [2, 0, 0, 0, 0, 1], ofport: 2 }, 7);
        let listed = bridge.mac_entries();
        assert_eq!(
            listed,
            [
                MacTableEntry { vlan: 0, mac: [2, 0, 0, 0, 0, 1], ofport: 2, last_seen_ms: Some(7) },
                MacTableEntry { vlan: 0, mac: [2, 0, 0, 0, 0, 9], ofport: 4, last_seen_ms: None },
            ],
            "sorted; a static entry has no age"
        );
    }

    #[test]
    fn the_neighbour_snapshot_changes_with_what_lookups_resolve() {
        let mut bridge = Bridge::new("br-phy", &[], 1, 0).unwrap();
        let (peer, other): (IpAddr, IpAddr) = ("172.31.1.2".parse().unwrap(), "172.31.1.3".parse().unwrap());
        let first = bridge.neighbour_snapshot();
        assert!(first.is_empty());
        assert!(!bridge.underlay_changed, "the first snapshot is no change");
        bridge.neighbours.request_due(other, 0);
        assert!(Arc::ptr_eq(&first, &bridge.neighbour_snapshot()), "an incomplete entry resolves nothing");
        assert!(!bridge.underlay_changed);
        bridge.neighbours.learn(peer, [2, 0, 0, 0, 0, 0xfe], 10);
        let learned = bridge.neighbour_snapshot();
        assert_eq!(learned.get(&peer).map(|n| n.mac), Some([2, 0, 0, 0, 0, 0xfe]));
        assert_eq!(learned.len(), 1);
        assert!(std::mem::take(&mut bridge.underlay_changed), "tunnel flows through the bridge are revalidated");
        bridge.neighbours.learn(peer, [2, 0, 0, 0, 0, 0xfe], 20);
        assert!(Arc::ptr_eq(&learned, &bridge.neighbour_snapshot()), "a confirmation changes nothing");
        assert!(!bridge.underlay_changed);
        bridge.neighbours.set_static(other, [2, 0, 0, 0, 0, 3]);
        bridge.neighbours.flush();
        let flushed = bridge.neighbour_snapshot();
        assert_eq!(flushed.keys().collect::<Vec<_>>(), [&other], "static entries stay");
        assert!(bridge.underlay_changed);
    }

    #[test]
    fn the_table_is_bounded() {
        let mut bridge = Bridge::new("br0", &[], 1, 0).unwrap();
        bridge.mac_table_size = 100;
        for i in 0..bridge.mac_table_size + 5 {
            let mac = (i as u64).to_be_bytes();
            bridge.learn_mac(
                MacLearning { vlan: 1, mac: [2, mac[3], mac[4], mac[5], mac[6], mac[7]], ofport: 1 },
                i as u64,
            );
        }
        assert_eq!(bridge.mac_snapshot().len(), 100);
        assert_eq!(bridge.mac_counters.evicted, 5);
    }
}
