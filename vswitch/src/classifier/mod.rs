//! Rule lookup for a bridge's flow table. Rules match on in_port only for
//! now (the full multi-table classifier replaces this), so the decision for
//! an input port is resolved once per table version, not per packet.
use crate::flow::FlowRule;

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

    /// The highest-priority rule matching packets from `in_port`; among
    /// equal priorities the one added first, as Open vSwitch resolves ties
    /// deterministically by its own order.
    pub fn lookup_in_port(&self, in_port: u32) -> Option<&FlowRule> {
        self.rules.iter().filter(|rule| rule.matches.in_port.is_none_or(|p| p == in_port)).fold(
            None,
            |best: Option<&FlowRule>, rule| match best {
                Some(b) if b.priority >= rule.priority => Some(b),
                _ => Some(rule),
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::parse_flow;

    fn table(rules: &[&str]) -> FlowTable {
        FlowTable::new(rules.iter().map(|r| parse_flow(r).unwrap()).collect())
    }

    #[test]
    fn highest_priority_wins() {
        let t = table(&["priority=1,actions=drop", "priority=10,in_port=1,actions=output:2"]);
        assert_eq!(t.lookup_in_port(1).unwrap().priority, 10);
        assert_eq!(t.lookup_in_port(2).unwrap().priority, 1);
    }

    #[test]
    fn tie_goes_to_first_added() {
        let t = table(&["priority=5,in_port=1,actions=output:2", "priority=5,actions=output:3"]);
        assert_eq!(t.lookup_in_port(1).unwrap().to_string(), "priority=5,in_port=1,actions=output:2");
    }

    #[test]
    fn miss_when_nothing_matches() {
        let t = table(&["in_port=1,actions=output:2"]);
        assert!(t.lookup_in_port(3).is_none());
        assert!(FlowTable::default().lookup_in_port(1).is_none());
    }
}
