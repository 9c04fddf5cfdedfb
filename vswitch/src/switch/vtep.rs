//! Flood-and-learn VXLAN ports (RFC 7348 section 4) on the management side: the learned table
//! of every such port (`tunnel::vtep::VtepTable`: what the PMDs' upcalls saw, aged, bounded),
//! published with the datapath version as one shared snapshot (the same `Arc` while nothing
//! changed) and revalidated entry by entry as MAC table entries are; the multicast groups joined
//! on the underlay (an IGMPv3 / MLDv2 report from the underlay bridge's LOCAL port through its
//! pipeline when a port appears, twice more a second apart, then every minute and when a query
//! asks; a leave when the last port of the group goes); `vsctl vtep-show`.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use crate::control::protocol::{VtepEntryInfo, VtepPortInfo, VtepShowReply};
use crate::flow::{Action, OfPort};
use crate::pipeline::xlate::VtepLearning;
use crate::revalidate::{VersionChanges, MAX_MAC_CHANGES};
use crate::tunnel::port::{Flood, FloodTo, TunnelAddress, TunnelConfig, TunnelKey};
use crate::tunnel::vtep::{learned_bits, membership_report, parse_membership_query, LearnedVteps, VtepTable};

use super::{mac_text, Switch};

/// Reports sent a second apart after a join (RFC 3376's robustness: unsolicited reports are
/// repeated), then one a minute.
const JOIN_REPORTS: u32 = 3;
const JOIN_REPORT_INTERVAL_MS: u64 = 1000;
pub const REPORT_INTERVAL_MS: u64 = 60_000;

/// The flood-and-learn state of the switch.
#[derive(Debug, Default)]
pub(super) struct Vteps {
    /// By the tunnel port's datapath port, with the port's name (a datapath port number is
    /// reused by the next port added).
    tables: HashMap<u16, (String, VtepTable)>,
    /// The snapshot the current datapath version has; `None` once a table changed.
    published: Option<Arc<LearnedVteps>>,
    /// Groups joined: (underlay bridge, group) -> its source address and reports.
    joined: HashMap<(usize, IpAddr), Joined>,
}

/// A flood-and-learn port as the periodic work needs it.
struct PortNow {
    dp: u16,
    name: String,
    aging_ms: u64,
    limit: usize,
    group: Option<IpAddr>,
    local: Option<IpAddr>,
}

#[derive(Debug, Clone, Copy)]
struct Joined {
    source: IpAddr,
    reports: u32,
    last_report_ms: u64,
}

impl Switch {
    /// The flood-and-learn ports now: (datapath port, name, its options).
    fn flood_ports(&self) -> Vec<(u16, &str, &TunnelConfig, &Flood)> {
        self.ports
            .iter()
            .filter_map(|p| {
                let tunnel = p.tunnel()?;
                Some((p.dp_port, p.config.name.as_str(), tunnel, tunnel.flood.as_ref()?))
            })
            .collect()
    }

    /// An upcall saw `learned`; returns whether the learned tables changed.
    pub(super) fn vtep_learn(&mut self, learned: VtepLearning, now_ms: u64) -> bool {
        let Some((name, aging_ms, limit)) =
            self.flood_ports().into_iter().find(|(dp, ..)| *dp == learned.port).map(|(_, name, _, f)| {
                (name.to_string(), flood_aging_ms(f), usize::try_from(f.limit).unwrap_or(usize::MAX))
            })
        else {
            return false;
        };
        let (_, table) =
            self.vteps.tables.entry(learned.port).or_insert_with(|| (name, VtepTable::new(aging_ms, limit)));
        let changed = table.learn(learned.mac, learned.remote, now_ms);
        if changed {
            tracing::debug!(port = learned.port, mac = %mac_text(learned.mac), remote = %learned.remote, "VTEP learned");
            self.vteps.published = None;
        }
        changed
    }

    /// The learned entries as the next datapath version has them.
    pub(super) fn vtep_snapshot(&mut self) -> Arc<LearnedVteps> {
        let tables = &self.vteps.tables;
        Arc::clone(self.vteps.published.get_or_insert_with(|| {
            Arc::new(
                tables
                    .iter()
                    .flat_map(|(&port, (_, table))| table.entries().into_iter().map(move |(mac, e)| ((port, mac), e)))
                    .collect(),
            )
        }))
    }

    /// Adds to `changes` the learned entries that differ from the current version's (`new`
    /// the next version's): each as a MAC entry of its port's bridge; more than the MAC table
    /// would log are everything for that bridge.
    pub(super) fn vtep_changes(&self, new: &Arc<LearnedVteps>, changes: &mut VersionChanges) {
        let old = &self.current.vteps;
        if Arc::ptr_eq(old, new) {
            return;
        }
        let mut changed: Vec<(u16, [u8; 6])> =
            old.iter().filter(|(key, entry)| new.get(*key) != Some(entry)).map(|(key, _)| *key).collect();
        changed.extend(new.keys().filter(|key| !old.contains_key(*key)).copied());
        let mut per_bridge: HashMap<usize, usize> = HashMap::new();
        for (port, mac) in changed {
            // A port that is gone: its removal changed the port, which revalidates its readers.
            let Some(bridge) = self.ports.iter().find(|p| p.dp_port == port).map(|p| p.bridge) else { continue };
            let Some(bridge_changes) = changes.bridges.get_mut(bridge) else { continue };
            let count = per_bridge.entry(bridge).or_default();
            *count += 1;
            if *count > MAX_MAC_CHANGES {
                bridge_changes.everything = true;
            }
            bridge_changes.learned_vtep_changed(learned_bits(port, mac), mac);
        }
    }

    /// Periodic: tables follow the ports (a port gone takes its table), entries age, groups are
    /// joined, reported and left. Returns whether the learned tables changed.
    pub(super) fn tick_vteps(&mut self, now_ms: u64) -> bool {
        let ports: Vec<PortNow> = self
            .flood_ports()
            .into_iter()
            .map(|(dp, name, tunnel, flood)| {
                let group = match &flood.to {
                    FloodTo::Group(group) => Some(*group),
                    FloodTo::Replicate(_) => None,
                };
                let local = match tunnel.local_ip {
                    Some(TunnelAddress::Fixed(local)) => Some(local),
                    _ => None,
                };
                let limit = usize::try_from(flood.limit).unwrap_or(usize::MAX);
                PortNow { dp, name: name.to_string(), aging_ms: flood_aging_ms(flood), limit, group, local }
            })
            .collect();
        let before = self.vteps.tables.len();
        self.vteps.tables.retain(|port, (name, _)| ports.iter().any(|p| p.dp == *port && p.name == *name));
        let mut changed = before != self.vteps.tables.len();
        for port in &ports {
            if let Some((_, table)) = self.vteps.tables.get_mut(&port.dp) {
                table.aging_ms = port.aging_ms;
                table.limit = port.limit.max(1);
                changed |= table.age(now_ms) > 0;
            }
        }
        if changed {
            self.vteps.published = None;
        }
        // The groups wanted now, on the bridge a group output leaves by.
        let mut wanted: HashMap<(usize, IpAddr), IpAddr> = HashMap::new();
        for port in &ports {
            let Some(group) = port.group else { continue };
            if let Some((bridge, source)) = self.current.group_bridge(group, port.local) {
                wanted.entry((bridge, group)).or_insert(source);
            }
        }
        let gone: Vec<((usize, IpAddr), Joined)> = self
            .vteps
            .joined
            .iter()
            .filter(|(key, joined)| wanted.get(*key) != Some(&joined.source))
            .map(|(key, joined)| (*key, *joined))
            .collect();
        for ((bridge, group), joined) in gone {
            self.vteps.joined.remove(&(bridge, group));
            tracing::info!(bridge = %self.bridges.get(bridge).map_or("?", |b| b.name.as_str()), %group, "leaving group");
            self.send_membership(bridge, joined.source, group, false);
        }
        for ((bridge, group), source) in wanted {
            let joined = self.vteps.joined.entry((bridge, group)).or_insert_with(|| {
                tracing::info!(%group, %source, "joining group");
                Joined { source, reports: 0, last_report_ms: 0 }
            });
            let interval = if joined.reports < JOIN_REPORTS { JOIN_REPORT_INTERVAL_MS } else { REPORT_INTERVAL_MS };
            if joined.reports == 0 || now_ms.saturating_sub(joined.last_report_ms) >= interval {
                joined.reports = joined.reports.saturating_add(1);
                joined.last_report_ms = now_ms;
                self.send_membership(bridge, source, group, true);
            }
        }
        changed
    }

    /// A frame that reached bridge `bridge`'s LOCAL port: a membership query for a group it
    /// joined (or a general one) is answered with a report. Returns whether it was a query.
    pub(super) fn vtep_query(&mut self, bridge: usize, frame: &[u8]) -> bool {
        let Some(query) = parse_membership_query(frame) else { return false };
        let answer: Vec<(IpAddr, IpAddr)> = self
            .vteps
            .joined
            .iter()
            .filter(|((b, group), _)| *b == bridge && query.group.is_none_or(|asked| asked == *group))
            .map(|((_, group), joined)| (*group, joined.source))
            .collect();
        for (group, source) in answer {
            self.send_membership(bridge, source, group, true);
        }
        true
    }

    fn send_membership(&mut self, bridge: usize, source: IpAddr, group: IpAddr, join: bool) {
        let Some(mac) = self.bridges.get(bridge).map(|b| b.mac) else { return };
        let Some(frame) = membership_report(mac, source, group, join) else { return };
        if let Err(e) = self.packet_out(bridge, OfPort::LOCAL, &[Action::output(OfPort::TABLE)], &frame) {
            tracing::warn!(%group, "membership report not sent: {e:?}");
        }
    }

    /// `vtep-show`.
    pub(super) fn vtep_show(&self, only: Option<&str>) -> Result<VtepShowReply, String> {
        let now = self.now_ms();
        let mut ports: Vec<VtepPortInfo> = self
            .ports
            .iter()
            .filter(|p| only.is_none_or(|name| p.config.name == name))
            .filter_map(|p| {
                let tunnel = p.tunnel()?;
                let flood = tunnel.flood.as_ref()?;
                let (group, list) = match &flood.to {
                    FloodTo::Group(group) => (Some(*group), Vec::new()),
                    FloodTo::Replicate(list) => (None, list.iter().map(ToString::to_string).collect()),
                };
                let joined_on = group.and_then(|group| {
                    self.vteps
                        .joined
                        .keys()
                        .find(|(_, g)| *g == group)
                        .and_then(|(b, _)| self.bridges.get(*b))
                        .map(|b| b.name.clone())
                });
                let table = self.vteps.tables.get(&p.dp_port).map(|(_, table)| table);
                let counters = table.map(|t| t.counters).unwrap_or_default();
                Some(VtepPortInfo {
                    port: p.config.name.clone(),
                    bridge: self.bridges.get(p.bridge).map_or_else(String::new, |b| b.name.clone()),
                    vni: match tunnel.in_key {
                        TunnelKey::Fixed(key) => key,
                        TunnelKey::Flow => 0,
                    },
                    group: group.map(|g| g.to_string()),
                    joined_on,
                    flood: list,
                    aging_s: flood.aging_s,
                    limit: flood.limit,
                    entries: table
                        .map(|t| {
                            t.entries()
                                .into_iter()
                                .map(|(mac, e)| VtepEntryInfo {
                                    mac: mac_text(mac),
                                    remote: e.remote.to_string(),
                                    age_ms: now.saturating_sub(e.last_seen.get()),
                                })
                                .collect()
                        })
                        .unwrap_or_default(),
                    learned: counters.learned,
                    moved: counters.moved,
                    aged: counters.aged,
                    evicted: counters.evicted,
                })
            })
            .collect();
        if let Some(name) = only {
            if ports.is_empty() {
                return Err(if self.ports.iter().any(|p| p.config.name == name) {
                    format!("port {name:?} is not a flood-and-learn VXLAN port")
                } else {
                    format!("no port named {name:?}")
                });
            }
        }
        ports.sort_by(|a, b| a.port.cmp(&b.port));
        Ok(VtepShowReply { ports })
    }
}

/// A port's aging time in milliseconds.
fn flood_aging_ms(flood: &Flood) -> u64 {
    u64::from(flood.aging_s) * 1000
}
