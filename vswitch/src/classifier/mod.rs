//! Classification: the per-PMD datapath caches - the exact-match cache
//! (`emc`) in front of the megaflow classifier (`megaflow`, tuple-space
//! search), both keyed with `hash` - and, until they are wired into the PMD
//! loop, the in_port rule lookup the running datapath uses: it executes
//! only rules that match on in_port alone and output or drop
//! (`FlowRule::port_only_actions`), so the decision for an input port is
//! resolved once per table version, not per packet.
pub mod emc;
pub mod hash;
pub mod megaflow;

use crate::flow::{FlowRule, OfPort, PortOutput};

/// A bridge's rules, in the order they were added.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FlowTable {
    rules: Vec<FlowRule>,
}

impl FlowTable {
    pub fn new(rules: Vec<FlowRule>) -> FlowTable {
        FlowTable { rules }
    }

    pub fn rules(&self) -> &[FlowRule] {
        &self.rules
    }

    pub fn len(&self) -> usize {
        self.rules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The highest-priority rule the port datapath can execute that matches
    /// every packet from `in_port`, with its outputs; among equal priorities
    /// the one added first, as Open vSwitch resolves ties deterministically
    /// by its own order. Other rules are not considered (config validation
    /// admits none until the OpenFlow pipeline lands).
    pub fn lookup_in_port(&self, in_port: u32) -> Option<(&FlowRule, Vec<PortOutput>)> {
        let applies = |rule: &&FlowRule| rule.matches.in_port().is_none_or(|port| port == OfPort(in_port));
        let best = self.rules.iter().filter(|rule| rule.port_only_actions().is_some()).filter(applies).fold(
            None,
            |best: Option<&FlowRule>, rule| match best {
                Some(b) if b.priority >= rule.priority => Some(b),
                _ => Some(rule),
            },
        );
        best.and_then(|rule| Some((rule, rule.port_only_actions()?)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::parse_add_flow;

    fn table(rules: &[&str]) -> FlowTable {
        FlowTable::new(rules.iter().map(|r| parse_add_flow(r).unwrap()).collect())
    }

    #[test]
    fn highest_priority_wins() {
        let t = table(&["priority=1,actions=drop", "priority=10,in_port=1,actions=output:2"]);
        assert_eq!(t.lookup_in_port(1).unwrap().0.priority, 10);
        assert_eq!(t.lookup_in_port(1).unwrap().1, vec![PortOutput::Port(OfPort(2))]);
        assert_eq!(t.lookup_in_port(2).unwrap().0.priority, 1);
        assert_eq!(t.lookup_in_port(2).unwrap().1, vec![]);
    }

    #[test]
    fn tie_goes_to_first_added() {
        let t = table(&["priority=5,in_port=1,actions=output:2", "priority=5,actions=output:3"]);
        assert_eq!(t.lookup_in_port(1).unwrap().0.to_string(), "priority=5,in_port=1 actions=output:2");
    }

    #[test]
    fn rules_the_port_datapath_cannot_run_are_not_considered() {
        let t = table(&[
            "priority=1,actions=output:3",
            "priority=9,in_port=1,tcp,actions=output:2",
            "priority=9,actions=NORMAL",
        ]);
        assert_eq!(t.lookup_in_port(1).unwrap().1, vec![PortOutput::Port(OfPort(3))]);
    }

    #[test]
    fn miss_when_nothing_matches() {
        let t = table(&["in_port=1,actions=output:2"]);
        assert!(t.lookup_in_port(3).is_none());
        assert!(FlowTable::default().lookup_in_port(1).is_none());
    }
}
