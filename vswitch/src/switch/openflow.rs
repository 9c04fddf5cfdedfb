//! The management thread's side of the OpenFlow connections: answers their typed queries
//! (`openflow::service`) from the same cores the control socket uses (`select_flows`,
//! `apply_flow_ops`, the port counters), runs packet-outs through a PMD, and pushes the PMDs'
//! packet-ins to the bridge's connections.

use std::sync::Arc;

use crate::dpdk::mbuf::Mbuf;
use crate::flow::key::FlowKey;
use crate::flow::{Action, FlowSelector, OfPort};
use crate::openflow::message::{FlowRemovedReason, MeterCommand, PortReason};
use crate::openflow::monitor::{MonitorError, Requester};
use crate::openflow::service::{
    Aggregate, Answer, FlowModFailure, FlowStat, MeterModFailure, MeterView, PacketOutFailure, PortCounters,
    PortModFailure, PortView, Push, Query, TableStat, METER_ALL,
};
use crate::packet::extract;
use crate::pipeline::meter::MeterSpec;
use crate::pipeline::table::{ApplyOutcome, FlowOp, RuleEntry, TABLE_COUNT};
use crate::pipeline::xlate::{translate_packet_out, PacketInOrigin, PortFlags, NO_DP_PORT};
use crate::pmd::packet_in::PacketInEvent;
use crate::pmd::stats::DropReason;
use crate::pmd::{Injection, PmdCommand};

use super::{FlowOpsError, Port, Switch};

impl Switch {
    /// Answers the flow_mods of OpenFlow connections that were queued together: each applied
    /// on its own, all published as one datapath version, answered in order.
    pub fn handle_openflow_flow_mods(&mut self, batch: Vec<(String, Vec<FlowOp>, Requester)>) -> Vec<Answer> {
        let known: Vec<Option<usize>> = batch.iter().map(|(bridge, _, _)| self.bridge_index(bridge)).collect();
        let batches = batch
            .into_iter()
            .zip(&known)
            .filter_map(|((_, ops, origin), b)| b.map(|b| (b, ops, Some(origin))))
            .collect();
        let mut results = self.apply_flow_op_batches(batches).into_iter();
        known
            .iter()
            .map(|b| match b.and_then(|_| results.next()) {
                None => Answer::NoBridge,
                Some(result) => Answer::FlowMod(flow_mod_answer(result)),
            })
            .collect()
    }

    /// Answers one query of an OpenFlow connection of `bridge`.
    pub fn handle_openflow(&mut self, bridge: &str, query: Query) -> Answer {
        let Some(b) = self.bridge_index(bridge) else { return Answer::NoBridge };
        match query {
            Query::Ports => Answer::Ports(self.ports.iter().filter(|p| p.bridge == b).map(port_view).collect()),
            Query::PortStats(only) => Answer::PortStats(self.openflow_port_stats(b, only.0)),
            Query::TableStats => {
                let tables = &self.bridges[b].tables;
                Answer::Tables(
                    (0u8..)
                        .take(TABLE_COUNT)
                        .map(|t| {
                            let (lookups, matched) = tables.counters().get(t);
                            TableStat {
                                active: u32::try_from(tables.rule_count(t)).unwrap_or(u32::MAX),
                                lookups,
                                matched,
                            }
                        })
                        .collect(),
                )
            }
            Query::Flows(selector) => {
                let now = self.now_ms();
                Answer::Flows(self.select_flows(b, &selector).iter().map(|entry| flow_stat(entry, now)).collect())
            }
            Query::Aggregate(selector) => {
                let selected = self.select_flows(b, &selector);
                Answer::Aggregate(Aggregate {
                    packets: selected.iter().map(|e| e.packets()).sum(),
                    bytes: selected.iter().map(|e| e.bytes()).sum(),
                    flows: u32::try_from(selected.len()).unwrap_or(u32::MAX),
                })
            }
            Query::FlowMods { ops, origin } => {
                Answer::FlowMod(flow_mod_answer(self.apply_flow_ops(b, ops, Some(origin))))
            }
            Query::FlowMonitor { connection, requests } => {
                Answer::FlowMonitor(self.apply_flow_monitor_requests(b, connection, requests))
            }
            Query::FlowMonitorCancel { connection, id } => Answer::FlowMonitorCancel(match &self.openflow {
                Some(openflow) => openflow.cancel_flow_monitor(bridge, connection, id),
                None => Err(MonitorError::Unknown(id)),
            }),
            Query::PacketOut { in_port, actions, frame } => {
                Answer::PacketOut(self.packet_out(b, in_port, &actions, &frame))
            }
            Query::PortMod { port, hw_addr, set, mask } => Answer::PortMod(self.port_mod(b, port, hw_addr, set, mask)),
            Query::MeterMod { command, id, spec } => Answer::MeterMod(self.meter_mod(b, command, id, spec)),
            Query::Meters(id) => Answer::Meters(self.meter_views(b, id)),
            Query::GroupMod(op) => Answer::GroupMod(self.apply_group_mod(b, op)),
            Query::GroupDesc => {
                Answer::Groups(self.bridges[b].tables.groups().iter().map(|entry| entry.group().clone()).collect())
            }
            Query::GroupStats(id) => Answer::GroupStats(self.group_stats(b, id)),
            Query::TlvTableMod { command, mappings } => Answer::TlvTableMod(self.tlv_table_mod(command, &mappings)),
            Query::TlvTable => Answer::TlvTable(self.tlv_table().mappings().to_vec()),
            Query::MissListenersChanged => {
                if self.follow_miss_listeners() {
                    if let Err(e) = self.publish() {
                        tracing::error!("the table-miss choice not published: {e}");
                    }
                }
                Answer::Done
            }
        }
    }

    /// Tells the connections of a port's bridge that it was added, removed or changed (link).
    pub(super) fn push_port_status(&self, port: usize, reason: PortReason) {
        let (Some(openflow), Some(port)) = (&self.openflow, self.ports.get(port)) else { return };
        openflow.push(&self.bridges[port.bridge].name, &Push::PortStatus { reason, port: port_view(port) });
    }

    /// Tells the connections of a bridge that a rule that asked for it (send_flow_rem) is gone.
    pub(super) fn push_flow_removed(&self, bridge: usize, entry: &RuleEntry, reason: FlowRemovedReason) {
        let Some(openflow) = &self.openflow else { return };
        if entry.flags().send_flow_rem {
            let flow = Box::new(flow_stat(entry, self.now_ms()));
            openflow.push(&self.bridges[bridge].name, &Push::FlowRemoved { reason, flow });
        }
    }

    /// Applies a PORT_MOD: the new flags take effect with the next datapath version, and every
    /// connection hears of the change.
    fn port_mod(
        &mut self,
        bridge: usize,
        port: OfPort,
        hw_addr: [u8; 6],
        set: PortFlags,
        mask: PortFlags,
    ) -> Result<(), PortModFailure> {
        let index = self
            .ports
            .iter()
            .position(|p| p.bridge == bridge && p.ofport == port.0)
            .ok_or(PortModFailure::NoSuchPort)?;
        if self.ports[index].mac() != hw_addr {
            return Err(PortModFailure::WrongHwAddr);
        }
        let old = self.ports[index].flags;
        let pick = |wanted: bool, new: bool, old: bool| if wanted { new } else { old };
        let new = PortFlags {
            down: pick(mask.down, set.down, old.down),
            no_recv: pick(mask.no_recv, set.no_recv, old.no_recv),
            no_fwd: pick(mask.no_fwd, set.no_fwd, old.no_fwd),
            no_flood: pick(mask.no_flood, set.no_flood, old.no_flood),
            no_packet_in: pick(mask.no_packet_in, set.no_packet_in, old.no_packet_in),
        };
        if new == old {
            return Ok(());
        }
        self.ports[index].flags = new;
        tracing::info!(port = %self.ports[index].config.name, flags = ?new, "port configured by a controller");
        self.publish().map_err(PortModFailure::Internal)?;
        self.push_port_status(index, PortReason::Modify);
        Ok(())
    }

    /// Applies a METER_MOD and publishes it. Deleting a meter deletes the rules that use it (in
    /// the same table version).
    fn meter_mod(
        &mut self,
        bridge: usize,
        command: MeterCommand,
        id: u32,
        spec: MeterSpec,
    ) -> Result<(), MeterModFailure> {
        let now = self.now_ms();
        let meters = &mut self.bridges[bridge].meters;
        match command {
            MeterCommand::Add => meters.add(id, spec, now).map_err(MeterModFailure::Meter)?,
            MeterCommand::Modify => meters.modify(id, spec).map_err(MeterModFailure::Meter)?,
            MeterCommand::Delete => {
                let gone: Vec<u32> = meters.iter().map(|m| m.id).filter(|m| id == METER_ALL || *m == id).collect();
                for meter in &gone {
                    meters.delete(*meter);
                }
                let users: Vec<FlowOp> = self.bridges[bridge]
                    .tables
                    .dump(&FlowSelector::default())
                    .iter()
                    .filter(|entry| entry.rule().instructions.meter.is_some_and(|m| gone.contains(&m)))
                    .map(|entry| FlowOp::Delete(FlowSelector::exactly(entry.rule())))
                    .collect();
                if !users.is_empty() {
                    // One change for the flow monitors, made by no connection.
                    self.close_change(bridge, None);
                    let outcome = self.bridges[bridge]
                        .tables
                        .apply(users, now)
                        .map_err(|e| MeterModFailure::Internal(format!("{e:?}")))?;
                    self.close_change(bridge, None);
                    // Publishes the meters too.
                    self.publish().map_err(MeterModFailure::Internal)?;
                    for entry in &outcome.removed {
                        self.push_flow_removed(bridge, entry, FlowRemovedReason::MeterDelete);
                    }
                    return Ok(());
                }
            }
        }
        self.publish().map_err(MeterModFailure::Internal)
    }

    fn meter_views(&self, bridge: usize, id: u32) -> Vec<MeterView> {
        let now = self.now_ms();
        // Rules per meter, counted in one pass over the rules.
        let mut flows: hashbrown::HashMap<u32, u32> = hashbrown::HashMap::new();
        for entry in self.bridges[bridge].tables.dump(&FlowSelector::default()) {
            if let Some(meter) = entry.rule().instructions.meter {
                *flows.entry(meter).or_default() += 1;
            }
        }
        self.bridges[bridge]
            .meters
            .iter()
            .filter(|meter| id == METER_ALL || meter.id == id)
            .map(|meter| MeterView {
                id: meter.id,
                spec: meter.spec.clone(),
                totals: meter.totals(),
                flows: flows.get(&meter.id).copied().unwrap_or(0),
                duration_ms: now.saturating_sub(meter.added_ms),
            })
            .collect()
    }

    /// Hands a packet-in of a PMD to the connections of its bridge.
    pub fn handle_packet_in(&mut self, event: PacketInEvent) {
        match event.meta.origin {
            PacketInOrigin::LocalPort => return self.local_stack(event.bridge, &event.data),
            PacketInOrigin::TunnelHold { underlay, nexthop, .. } => {
                return self.hold_for_neighbour(underlay, nexthop, event);
            }
            _ => {}
        }
        let Some(bridge) = self.bridges.get(event.bridge) else { return };
        if let Some(openflow) = &self.openflow {
            openflow.push(&bridge.name, &Push::PacketIn(Arc::new(event)));
        }
    }

    /// Translates a packet-out's actions for `frame` with the current tables and has a PMD run
    /// them (the one polling the input port, else the first).
    pub(super) fn packet_out(
        &mut self,
        bridge: usize,
        in_port: OfPort,
        actions: &[Action],
        frame: &[u8],
    ) -> Result<(), PacketOutFailure> {
        let dp_in_port = match self.ports.iter().find(|p| p.bridge == bridge && p.ofport == in_port.0) {
            Some(port) => port.dp_port,
            // As Open vSwitch: any port number below OFPP_MAX (0 and ports the bridge does not
            // have included) or CONTROLLER/LOCAL/NONE; the packet then comes from no datapath port.
            None if in_port.0 <= *OfPort::RANGE.end()
                || matches!(in_port, OfPort::CONTROLLER | OfPort::LOCAL | OfPort::NONE) =>
            {
                NO_DP_PORT
            }
            None => return Err(PacketOutFailure::BadInPort(in_port)),
        };
        let Some(bridge_dp) = self.current.bridges.get(bridge).cloned() else {
            return Err(PacketOutFailure::Busy("the bridge is not in the datapath yet".into()));
        };
        let mut key = FlowKey::default();
        let layers = extract(frame, u32::from(dp_in_port), &mut key);
        // Tunnel outputs go through the underlay as the version the PMD runs routes them.
        let datapath = Arc::clone(&self.current);
        let translation = translate_packet_out(&bridge_dp.view_in(&datapath), &key, in_port, actions);
        let now = self.now_ms();
        let mut learned = false;
        for rule in translation.learned_rules {
            match self.bridges[bridge].learn_rule(rule, None, now) {
                Ok(changed) => learned |= changed,
                Err(e) => {
                    tracing::warn!(bridge = %self.bridges[bridge].name, "learned rule of a packet-out not added: {e}")
                }
            }
        }
        if learned {
            if let Err(e) = self.publish() {
                tracing::error!("rules learned by a packet-out not published: {e}");
            }
        }
        if translation.actions.is_empty() {
            return Ok(());
        }
        let packet = Mbuf::copy_from(&self.pool, frame)
            .ok_or_else(|| PacketOutFailure::Busy("no packet buffer for the packet-out".into()))?;
        let pmd = self.rxq_owner.get(&(dp_in_port, 0)).copied().unwrap_or(0);
        let Some(handle) = self.pmds.get(pmd) else {
            return Err(PacketOutFailure::Busy("no PMD runs".into()));
        };
        let injection = Injection { bridge, in_port: dp_in_port, packet, layers, actions: translation.actions };
        handle.try_send(PmdCommand::Inject(Box::new(injection))).map_err(PacketOutFailure::Busy)
    }

    /// Counters of the bridge's ports (`only`: one ofport, LOCAL included, or every port when it
    /// is another reserved number, i.e. OFPP_ANY).
    fn openflow_port_stats(&self, bridge: usize, only: u32) -> Vec<PortCounters> {
        let counters = self.all_pmd_counters();
        let any = only > *OfPort::RANGE.end() && only != OfPort::LOCAL.0;
        self.ports
            .iter()
            .filter(|p| p.bridge == bridge && (any || p.ofport == only))
            .map(|p| {
                let device = p.stats();
                let totals = self.port_totals(&counters, p.dp_port);
                let dropped = |reason: DropReason| {
                    let i = DropReason::ALL.iter().position(|r| *r == reason).unwrap_or(0);
                    totals.drops[i].saturating_sub(p.baseline.drops[i])
                };
                let switch_drops: u64 =
                    DropReason::ALL.iter().filter(|r| **r != DropReason::TxFailed).map(|r| dropped(*r)).sum();
                let (rx_packets, tx_packets) = p.packets(&device, &totals);
                PortCounters {
                    ofport: p.ofport,
                    rx_packets,
                    tx_packets,
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

fn flow_mod_answer(result: Result<ApplyOutcome, FlowOpsError>) -> Result<usize, FlowModFailure> {
    match result {
        Ok(outcome) => Ok(outcome.modified),
        Err(FlowOpsError::Refused(e)) => Err(FlowModFailure::Table { index: e.index, error: e.error }),
        Err(FlowOpsError::NotPublished(e)) => Err(FlowModFailure::Internal(e)),
    }
}

fn port_view(port: &Port) -> PortView {
    PortView {
        ofport: port.ofport,
        name: port.config.name.clone(),
        mac: port.mac(),
        link_up: port.link.up,
        speed_mbps: port.link.speed_mbps,
        flags: port.flags,
    }
}

/// A rule and its statistics at `now` (ms).
fn flow_stat(entry: &RuleEntry, now: u64) -> FlowStat {
    FlowStat {
        rule: entry.rule().clone(),
        flags: entry.flags(),
        duration_ms: now.saturating_sub(entry.added_ms()),
        packets: entry.packets(),
        bytes: entry.bytes(),
        idle_age_s: now.saturating_sub(entry.last_used_ms()) / 1000,
        hard_age_s: now.saturating_sub(entry.modified_ms()) / 1000,
    }
}
