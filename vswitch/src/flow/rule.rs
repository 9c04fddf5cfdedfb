//! Flow rules and the flow-table commands built from ovs-ofctl text: `FlowRule` (add-flow),
//! `FlowModification` (mod-flows) and `FlowSelector` (which rules del-flows, dump-flows and
//! mod-flows apply to, strict or not, with cookie/mask and out_port filters).

use super::actions::Instructions;
use super::match_::Match;
use super::port::OfPort;
use super::syntax::FlowParseError;
use super::DEFAULT_PRIORITY;

/// One flow rule as an operator writes it for ovs-ofctl add-flow.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FlowRule {
    /// 0..=254.
    pub table: u8,
    /// Higher wins among overlapping rules; `DEFAULT_PRIORITY` when not given.
    pub priority: u16,
    /// Opaque to the switch, for the operator or controller to find its rules.
    pub cookie: u64,
    /// Seconds without a hit before the rule expires; 0 = never.
    pub idle_timeout: u16,
    /// Seconds after which the rule expires; 0 = never.
    pub hard_timeout: u16,
    pub matches: Match,
    /// No instructions at all means drop.
    pub instructions: Instructions,
}

impl Default for FlowRule {
    /// Table 0, default priority, matches everything, drops it.
    fn default() -> Self {
        FlowRule {
            table: 0,
            priority: DEFAULT_PRIORITY,
            cookie: 0,
            idle_timeout: 0,
            hard_timeout: 0,
            matches: Match::catch_all(),
            instructions: Instructions::default(),
        }
    }
}

impl FlowRule {
    /// Checks a rule built in code as the parser checks text: match prerequisites, then every
    /// action against the match.
    pub fn check(&self) -> Result<(), FlowParseError> {
        self.matches
            .check_prerequisites()
            .map_err(|error| FlowParseError::new(&self.matches.to_string(), error.to_string()))?;
        if self.table == u8::MAX {
            return Err(FlowParseError::new("table=255", "not a table number (0..254)"));
        }
        self.instructions.check(&self.matches, Some(self.table))
    }
}

/// Which rules a mod-flows, del-flows or dump-flows command applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowSelector {
    /// `None`: every table.
    pub table: Option<u8>,
    /// Strict: rules with exactly this match and priority. Otherwise every rule whose match is
    /// at least as specific as `matches` (any priority).
    pub strict: bool,
    pub priority: u16,
    pub matches: Match,
    /// Rules whose cookie equals `cookie` in the bits of `cookie_mask` (mask 0: any cookie).
    pub cookie: u64,
    pub cookie_mask: u64,
    /// Only rules that output to this port (del-flows and dump-flows).
    pub out_port: Option<OfPort>,
    /// Only rules that send to this group (del-flows and dump-flows).
    pub out_group: Option<u32>,
}

impl Default for FlowSelector {
    /// Every rule of every table.
    fn default() -> Self {
        FlowSelector {
            table: None,
            strict: false,
            priority: DEFAULT_PRIORITY,
            matches: Match::catch_all(),
            cookie: 0,
            cookie_mask: 0,
            out_port: None,
            out_group: None,
        }
    }
}

impl FlowSelector {
    /// `rule` itself: its table, priority and match, strictly.
    pub fn exactly(rule: &FlowRule) -> FlowSelector {
        FlowSelector {
            table: Some(rule.table),
            strict: true,
            priority: rule.priority,
            matches: rule.matches.clone(),
            ..FlowSelector::default()
        }
    }

    /// Whether the command applies to `rule`.
    pub fn selects(&self, rule: &FlowRule) -> bool {
        let same_match = if self.strict {
            rule.priority == self.priority && rule.matches == self.matches
        } else {
            rule.matches.is_subsumed_by(&self.matches)
        };
        self.table.is_none_or(|table| table == rule.table)
            && (rule.cookie ^ self.cookie) & self.cookie_mask == 0
            && same_match
            && self.out_port.is_none_or(|port| rule.instructions.outputs_to(port))
            && self.out_group.is_none_or(|group| rule.instructions.groups().any(|id| id == group))
    }
}

/// mod-flows: new instructions (and cookie) for the selected rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowModification {
    pub selector: FlowSelector,
    /// `cookie=V` without a mask sets the rules' cookie.
    pub new_cookie: Option<u64>,
    /// Given timeouts, kept for a modify that adds a rule when none matches (OpenFlow 1.0);
    /// existing rules keep theirs.
    pub idle_timeout: u16,
    pub hard_timeout: u16,
    pub instructions: Instructions,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::key::Field;
    use crate::flow::parse_add_flow;

    fn rule(text: &str) -> FlowRule {
        parse_add_flow(text).unwrap()
    }

    #[test]
    fn check_of_rules_built_in_code() {
        assert_eq!(FlowRule::default().check(), Ok(()));
        let mut no_proto = FlowRule::default();
        no_proto.matches.set_exact(Field::TpDst, 80);
        assert_eq!(
            no_proto.check().unwrap_err().to_string(),
            "tp_dst=80: tp_dst requires tcp, udp or sctp (add e.g. 'tcp,')"
        );
        let table_255 = FlowRule { table: 255, ..FlowRule::default() };
        assert!(table_255.check().is_err());
        let goto_back = FlowRule {
            table: 3,
            instructions: Instructions { goto_table: Some(2), ..Instructions::default() },
            ..FlowRule::default()
        };
        assert!(goto_back.check().unwrap_err().to_string().contains("later table"));
    }

    #[test]
    fn selectors_strict_and_not() {
        let specific = rule("priority=5,tcp,nw_dst=10.0.0.1,tp_dst=80,actions=output:1");
        let other_table = rule("table=2,priority=5,tcp,nw_dst=10.0.0.1,tp_dst=80,actions=output:1");
        let mut loose = FlowSelector::default();
        loose.matches.set_exact(Field::DlType, 0x0800);
        assert!(loose.selects(&specific) && loose.selects(&other_table));
        assert!(FlowSelector::default().selects(&specific));
        let strict =
            FlowSelector { strict: true, priority: 5, matches: specific.matches.clone(), ..FlowSelector::default() };
        assert!(strict.selects(&specific));
        assert!(!FlowSelector { priority: 6, ..strict.clone() }.selects(&specific));
        assert!(!FlowSelector { matches: loose.matches.clone(), ..strict.clone() }.selects(&specific));
        assert!(!FlowSelector { table: Some(2), ..loose.clone() }.selects(&specific));
        assert!(FlowSelector { table: Some(2), ..loose.clone() }.selects(&other_table));
    }

    #[test]
    fn selectors_by_cookie_and_out_port() {
        let cookie_rule = rule("cookie=0x1234,actions=output:7,write_actions(output:8)");
        let by_cookie = |cookie, cookie_mask| FlowSelector { cookie, cookie_mask, ..FlowSelector::default() };
        assert!(by_cookie(0x1234, u64::MAX).selects(&cookie_rule));
        assert!(by_cookie(0x34, 0xff).selects(&cookie_rule));
        assert!(!by_cookie(0x35, 0xff).selects(&cookie_rule));
        assert!(by_cookie(0x9999, 0).selects(&cookie_rule));
        let out_port = |port| FlowSelector { out_port: Some(port), ..FlowSelector::default() };
        assert!(out_port(OfPort(7)).selects(&cookie_rule));
        assert!(out_port(OfPort(8)).selects(&cookie_rule));
        assert!(!out_port(OfPort(9)).selects(&cookie_rule));
        assert!(out_port(OfPort::CONTROLLER).selects(&rule("actions=CONTROLLER:64")));
        let group_rule = rule("actions=group:3,write_actions(group:4)");
        let out_group = |group| FlowSelector { out_group: Some(group), ..FlowSelector::default() };
        assert!(out_group(3).selects(&group_rule) && out_group(4).selects(&group_rule));
        assert!(!out_group(5).selects(&group_rule) && !out_group(3).selects(&cookie_rule));
    }
}
