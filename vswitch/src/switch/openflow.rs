//! The management thread's side of the OpenFlow connections: answers their typed queries
//! (`openflow::service`) from the same cores the control socket uses (`select_flows`,
//! `apply_flow_ops`, the port counters).

use crate::openflow::service::{Aggregate, Answer, FlowModFailure, FlowStat, PortCounters, PortView, Query};
use crate::pipeline::table::TABLE_COUNT;
use crate::pmd::stats::DropReason;

use super::{FlowOpsError, Switch};

impl Switch {
    /// Answers one query of an OpenFlow connection of `bridge`.
    pub fn handle_openflow(&mut self, bridge: &str, query: Query) -> Answer {
        let Some(b) = self.bridge_index(bridge) else { return Answer::NoBridge };
        match query {
            Query::Ports => Answer::Ports(
                self.ports
                    .iter()
                    .filter(|p| p.bridge == b)
                    .map(|p| PortView {
                        ofport: p.ofport,
                        name: p.config.name.clone(),
                        mac: p.eth.mac(),
                        link_up: p.link.up,
                        speed_mbps: p.link.speed_mbps,
                    })
                    .collect(),
            ),
            Query::PortStats(only) => Answer::PortStats(self.openflow_port_stats(b, only.0)),
            Query::TableStats => Answer::Tables(
                (0..TABLE_COUNT)
                    .map(|t| u32::try_from(self.bridges[b].tables.rule_count(t as u8)).unwrap_or(u32::MAX))
                    .collect(),
            ),
            Query::Flows(selector) => {
                let now = self.now_ms();
                Answer::Flows(
                    self.select_flows(b, &selector)
                        .iter()
                        .map(|entry| FlowStat {
                            rule: entry.rule().clone(),
                            flags: entry.flags(),
                            duration_ms: now.saturating_sub(entry.added_ms()),
                            packets: entry.packets(),
                            bytes: entry.bytes(),
                            idle_age_s: now.saturating_sub(entry.last_used_ms()) / 1000,
                            hard_age_s: now.saturating_sub(entry.modified_ms()) / 1000,
                        })
                        .collect(),
                )
            }
            Query::Aggregate(selector) => {
                let selected = self.select_flows(b, &selector);
                Answer::Aggregate(Aggregate {
                    packets: selected.iter().map(|e| e.packets()).sum(),
                    bytes: selected.iter().map(|e| e.bytes()).sum(),
                    flows: u32::try_from(selected.len()).unwrap_or(u32::MAX),
                })
            }
            Query::FlowMod(op) => Answer::FlowMod(match self.apply_flow_ops(b, vec![op]) {
                Ok(reply) => Ok(reply.modified),
                Err(FlowOpsError::Refused(e)) => Err(FlowModFailure::Table(e.error)),
                Err(FlowOpsError::NotPublished(e)) => Err(FlowModFailure::Internal(e)),
            }),
            Query::GroupMod(op) => Answer::GroupMod(self.apply_group_mod(b, op)),
            Query::GroupDesc => {
                Answer::Groups(self.bridges[b].tables.groups().iter().map(|entry| entry.group().clone()).collect())
            }
            Query::GroupStats(id) => Answer::GroupStats(self.group_stats(b, id)),
        }
    }

    /// Counters of the bridge's ports (`only`: one ofport, or every port when it is not a
    /// switch port number, i.e. OFPP_ANY).
    fn openflow_port_stats(&self, bridge: usize, only: u32) -> Vec<PortCounters> {
        let counters = self.all_pmd_counters();
        let any = only > *crate::flow::OfPort::RANGE.end();
        self.ports
            .iter()
            .filter(|p| p.bridge == bridge && (any || p.ofport == only))
            .map(|p| {
                let device = p.eth.stats();
                let totals = self.port_totals(&counters, p.eth.id());
                let dropped = |reason: DropReason| {
                    let i = DropReason::ALL.iter().position(|r| *r == reason).unwrap_or(0);
                    totals.drops[i].saturating_sub(p.baseline.drops[i])
                };
                let switch_drops: u64 =
                    DropReason::ALL.iter().filter(|r| **r != DropReason::TxFailed).map(|r| dropped(*r)).sum();
                PortCounters {
                    ofport: p.ofport,
                    rx_packets: device.rx_packets,
                    tx_packets: device.tx_packets,
                    rx_bytes: device.rx_bytes,
                    tx_bytes: device.tx_bytes,
                    rx_dropped: device.rx_missed + device.rx_nombuf + switch_drops,
                    tx_dropped: dropped(DropReason::TxFailed),
                    rx_errors: device.rx_errors,
                    tx_errors: device.tx_errors,
                    duration_ms: u64::try_from(p.added.elapsed().as_millis()).unwrap_or(u64::MAX),
                }
            })
            .collect()
    }
}
