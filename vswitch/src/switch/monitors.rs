//! The management thread's side of the flow monitors (`openflow::monitor`): a bridge's tables
//! journal their rule events only while one of its connections has a monitor; the events of
//! each change (a flow_mod, a bundle, a vsctl command; what expired or was learned meanwhile)
//! become a change set, and every published version hands the sets to the connections'
//! monitors. Paused monitors resume on the tick once their connection wrote what it had queued.

use crate::flow::FlowSelector;
use crate::openflow::monitor::{ChangeSet, FlowUpdate, MonitorError, MonitorRequest, Requester};

use super::Switch;

impl Switch {
    /// Closes the change of `bridge` that `origin` made (None: vsctl or the switch itself):
    /// its journaled rule events become one change set, reported with the next version.
    pub(super) fn close_change(&mut self, bridge: usize, origin: Option<Requester>) {
        let events = self.bridges[bridge].tables.take_journal();
        if !events.is_empty() {
            self.rule_changes.push((bridge, ChangeSet { origin, events }));
        }
    }

    /// Reports the closed changes, and what changed since (as the switch's own change), to
    /// every bridge's flow monitors; a bridge whose monitors are all gone stops journaling.
    pub(super) fn report_rule_changes(&mut self) {
        let Some(openflow) = &self.openflow else { return };
        for b in 0..self.bridges.len() {
            let events = self.bridges[b].tables.take_journal();
            if !events.is_empty() {
                self.rule_changes.push((b, ChangeSet { origin: None, events }));
            }
        }
        let mut changes = std::mem::take(&mut self.rule_changes);
        for (b, bridge) in self.bridges.iter_mut().enumerate() {
            let sets: Vec<ChangeSet> = changes.extract_if(.., |(of, _)| *of == b).map(|(_, set)| set).collect();
            let revision = bridge.tables.next_revision();
            if !openflow.report_rule_changes(&bridge.name, &sets, revision) {
                bridge.tables.set_journal(false);
            }
        }
    }

    /// A connection's flow monitor requests (add, modify, delete): the bridge journals its rule
    /// events from now on.
    pub(super) fn apply_flow_monitor_requests(
        &mut self,
        bridge: usize,
        connection: u64,
        requests: Vec<MonitorRequest>,
    ) -> Result<Vec<FlowUpdate>, MonitorError> {
        let Some(openflow) = &self.openflow else { return Ok(Vec::new()) };
        let rules = self.bridges[bridge].tables.dump(&FlowSelector::default());
        let initial = openflow.apply_flow_monitor_requests(&self.bridges[bridge].name, connection, requests, &rules)?;
        self.bridges[bridge].tables.set_journal(true);
        Ok(initial)
    }

    /// Resumes the paused flow monitors whose connection caught up (the tick).
    pub(super) fn resume_flow_monitors(&self) {
        let Some(openflow) = &self.openflow else { return };
        for bridge in &self.bridges {
            openflow.resume_flow_monitors(&bridge.name, || bridge.tables.dump(&FlowSelector::default()));
        }
    }
}
