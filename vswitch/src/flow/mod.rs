//! Flow rules and their ovs-ofctl text syntax: owns `FlowRule`, `Match`, `Action`, `parse_flow`
//! and the canonical text form that `Display` prints (and `parse_flow` reads back).
//!
//! Only the subset the switch executes today is accepted: `priority`, `cookie`, `table=0`,
//! `in_port`, `idle_timeout=0`, `hard_timeout=0` and the actions `output:N`, `output:in_port`,
//! `in_port`, `drop` and a bare port number. Other OpenFlow fields and actions are recognised and
//! rejected as "not supported yet" so that a rule is never silently misread.

pub mod key;

use std::fmt;
use std::ops::RangeInclusive;

/// Priority of a rule that does not give one (the ovs-ofctl default).
pub const DEFAULT_PRIORITY: u16 = 32768;

/// An OpenFlow port number of a switch port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OfPort(pub u32);

impl OfPort {
    /// The numbers a switch port can have; 0 is invalid and 0xff00 and above are reserved ports
    /// (IN_PORT, LOCAL, CONTROLLER, ...), as in OpenFlow 1.0 and Open vSwitch.
    pub const RANGE: RangeInclusive<u32> = 1..=0xfeff;
}

/// The fields a rule matches on; `None` is a wildcard.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Match {
    /// The OpenFlow number of the port the packet arrived on.
    pub in_port: Option<u32>,
}

/// What a rule does with a matching packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Send to the port with this OpenFlow number (`output:N` or a bare `N`).
    Output(u32),
    /// Send back out of the port the packet came in on (`output:in_port`, `in_port`, `IN_PORT`).
    InPort,
    /// Discard (`drop`, or an empty action list); never combined with other actions.
    Drop,
}

/// One flow rule as an operator writes it for ovs-ofctl.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FlowRule {
    /// Higher wins among overlapping rules; `DEFAULT_PRIORITY` when not given.
    pub priority: u16,
    /// Opaque to the switch, for the operator or controller to find its rules.
    pub cookie: u64,
    /// Only table 0 exists until the multi-table pipeline lands.
    pub table: u8,
    pub matches: Match,
    /// Never empty after `parse_flow`: a rule without actions is `[Action::Drop]`.
    pub actions: Vec<Action>,
}

impl Default for FlowRule {
    /// Matches everything at the default priority and drops it.
    fn default() -> Self {
        FlowRule {
            priority: DEFAULT_PRIORITY,
            cookie: 0,
            table: 0,
            matches: Match::default(),
            actions: vec![Action::Drop],
        }
    }
}

/// Why a flow text was rejected: the offending token as written and the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowParseError {
    token: String,
    problem: String,
}

impl FlowParseError {
    fn new(token: &str, problem: impl Into<String>) -> Self {
        FlowParseError { token: token.to_string(), problem: problem.into() }
    }
}

impl fmt::Display for FlowParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.token.is_empty() {
            write!(f, "{}", self.problem)
        } else {
            write!(f, "{}: {}", self.token, self.problem)
        }
    }
}

impl std::error::Error for FlowParseError {}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Output(port) => write!(f, "output:{port}"),
            Action::InPort => f.write_str("IN_PORT"),
            Action::Drop => f.write_str("drop"),
        }
    }
}

impl fmt::Display for Match {
    /// The match fields in ovs-ofctl syntax, comma separated; empty when everything is wildcarded.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(port) = self.in_port {
            write!(f, "in_port={port}")?;
        }
        Ok(())
    }
}

impl fmt::Display for FlowRule {
    /// Canonical ovs-ofctl text; defaults (cookie 0, table 0, priority 32768) are left out.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut fields = Vec::new();
        if self.cookie != 0 {
            fields.push(format!("cookie={:#x}", self.cookie));
        }
        if self.table != 0 {
            fields.push(format!("table={}", self.table));
        }
        if self.priority != DEFAULT_PRIORITY {
            fields.push(format!("priority={}", self.priority));
        }
        let matches = self.matches.to_string();
        if !matches.is_empty() {
            fields.push(matches);
        }
        let actions = if self.actions.is_empty() {
            Action::Drop.to_string()
        } else {
            let texts: Vec<String> = self.actions.iter().map(Action::to_string).collect();
            texts.join(",")
        };
        fields.push(format!("actions={actions}"));
        f.write_str(&fields.join(","))
    }
}

/// Match fields and flow attributes ovs-ofctl knows that this switch does not handle yet.
const UNSUPPORTED_FIELDS: &str = "\
    dl_src dl_dst dl_type dl_vlan dl_vlan_pcp vlan_tci vlan_vid vlan_pcp eth_src eth_dst \
    eth_type nw_src nw_dst nw_proto nw_tos nw_ecn nw_ttl nw_frag ip_src ip_dst ip_proto \
    ip_dscp ip_ecn ip_frag ipv4_src ipv4_dst ipv6_src ipv6_dst ipv6_label arp_op arp_spa \
    arp_tpa arp_sha arp_tha tp_src tp_dst tcp_src tcp_dst tcp_flags udp_src udp_dst sctp_src \
    sctp_dst icmp_type icmp_code icmpv6_type icmpv6_code nd_target nd_sll nd_tll mpls_label \
    mpls_tc mpls_bos mpls_ttl metadata tun_id tunnel_id tun_src tun_dst tun_ipv6_src \
    tun_ipv6_dst tun_flags pkt_mark skb_priority ct_state ct_zone ct_mark ct_label conj_id \
    actset_output in_port_oxm out_port out_group importance send_flow_rem check_overlap \
    reset_counts no_packet_counts no_byte_counts ip ipv6 icmp icmp6 tcp tcp6 udp udp6 sctp \
    sctp6 arp rarp mpls mplsm";

/// Actions ovs-ofctl knows that this switch does not execute yet.
const UNSUPPORTED_ACTIONS: &str = "\
    normal flood all controller local enqueue set_queue pop_queue mod_vlan_vid mod_vlan_pcp \
    strip_vlan push_vlan pop_vlan push_mpls pop_mpls mod_dl_src mod_dl_dst mod_nw_src \
    mod_nw_dst mod_nw_tos mod_nw_ecn mod_tp_src mod_tp_dst dec_ttl set_mpls_label \
    set_mpls_tc set_mpls_ttl dec_mpls_ttl set_tunnel set_tunnel64 set_field load move push \
    pop resubmit goto_table group meter learn note ct nat write_metadata write_actions \
    clear_actions multipath bundle bundle_load output_reg exit fin_timeout sample clone \
    check_pkt_larger encap decap";

/// Reserved port names ovs-ofctl accepts where a port number goes.
const UNSUPPORTED_PORT_NAMES: &str = "\
    local normal flood all controller table none any";

/// Whether `word` is one of the whitespace-separated words of `list`.
fn is_listed(list: &str, word: &str) -> bool {
    list.split_ascii_whitespace().any(|listed| listed == word)
}

/// Parses one rule in ovs-ofctl `add-flow` syntax, e.g.
/// `priority=10,in_port=1,actions=output:2,output:3`.
///
/// Fields are comma separated `name=value` pairs with optional whitespace around tokens;
/// `actions=` comes last and everything after it is the action list. Never panics.
pub fn parse_flow(text: &str) -> Result<FlowRule, FlowParseError> {
    let (fields_text, actions_text) = split_off_actions(text);
    let mut rule = FlowRule::default();
    let mut seen: Vec<&str> = Vec::new();
    for token in fields_text.split(',').map(str::trim) {
        if token.is_empty() {
            continue;
        }
        let (name, value) = match token.split_once('=') {
            Some((name, value)) => (name.trim(), Some(value.trim())),
            None => (token, None),
        };
        if name.contains(char::is_whitespace) || value.is_some_and(|v| v.contains(char::is_whitespace)) {
            return Err(FlowParseError::new(token, "unexpected whitespace; separate fields with commas"));
        }
        if seen.contains(&name) {
            return Err(FlowParseError::new(token, format!("{name} is given twice")));
        }
        seen.push(name);
        apply_field(&mut rule, token, name, value)?;
    }
    let Some(actions_text) = actions_text else {
        return Err(FlowParseError::new(
            text.trim(),
            "no actions: a rule needs actions=... at the end (actions=drop to discard)",
        ));
    };
    rule.actions = parse_actions(actions_text)?;
    Ok(rule)
}

/// Splits `text` at the first `actions=` token: the fields before it and the action list after.
fn split_off_actions(text: &str) -> (&str, Option<&str>) {
    let mut start = 0;
    while start <= text.len() {
        let rest = &text[start..];
        let end = rest.find(',').map_or(text.len(), |offset| start + offset);
        let token = &text[start..end];
        if let Some(eq) = token.find('=') {
            if token[..eq].trim() == "actions" {
                return (&text[..start], Some(&text[start + eq + 1..]));
            }
        }
        start = end + 1;
    }
    (text, None)
}

/// Applies one `name[=value]` field (everything before `actions=`) to `rule`.
fn apply_field(rule: &mut FlowRule, token: &str, name: &str, value: Option<&str>) -> Result<(), FlowParseError> {
    let needs_value = |example: &str| FlowParseError::new(token, format!("missing value; expected {name}={example}"));
    match name {
        "priority" => {
            let value = value.ok_or_else(|| needs_value("<0..65535>"))?;
            rule.priority =
                parse_decimal(value).ok_or_else(|| FlowParseError::new(token, "not a priority (0..65535)"))?;
        }
        "cookie" => {
            let value = value.ok_or_else(|| needs_value("<number or 0x hex>"))?;
            rule.cookie = parse_cookie(token, value)?;
        }
        "table" => {
            let value = value.ok_or_else(|| needs_value("0"))?;
            let table: u8 =
                parse_decimal(value).ok_or_else(|| FlowParseError::new(token, "not a table number (0..254)"))?;
            if table != 0 {
                return Err(FlowParseError::new(
                    token,
                    "only table 0 is supported until the multi-table pipeline lands",
                ));
            }
            rule.table = table;
        }
        "in_port" => {
            let value = value.ok_or_else(|| needs_value("<port number>"))?;
            rule.matches.in_port = Some(parse_port_number(token, value)?);
        }
        "idle_timeout" | "hard_timeout" => {
            let value = value.ok_or_else(|| needs_value("0"))?;
            let seconds: u16 = parse_decimal(value)
                .ok_or_else(|| FlowParseError::new(token, "not a timeout in seconds (0..65535)"))?;
            if seconds != 0 {
                return Err(FlowParseError::new(
                    token,
                    "flow timeouts are not supported yet; only 0 (never expire) is accepted",
                ));
            }
        }
        "actions" => return Err(needs_value("<action list>")),
        _ if is_unsupported_field(name) => {
            return Err(FlowParseError::new(token, "field not supported yet"));
        }
        _ => return Err(FlowParseError::new(token, "unknown field")),
    }
    Ok(())
}

fn is_unsupported_field(name: &str) -> bool {
    let is_register = |prefix: &str| {
        name.strip_prefix(prefix).is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    };
    is_listed(UNSUPPORTED_FIELDS, name) || is_register("reg") || is_register("xreg") || is_register("xxreg")
}

/// Parses the text after `actions=`; an empty list means drop, as in ovs-ofctl.
fn parse_actions(text: &str) -> Result<Vec<Action>, FlowParseError> {
    let mut actions = Vec::new();
    for token in split_top_level(text).into_iter().map(str::trim) {
        if !token.is_empty() {
            actions.push(parse_action(token)?);
        }
    }
    if actions.is_empty() {
        return Ok(vec![Action::Drop]);
    }
    if actions.len() > 1 && actions.contains(&Action::Drop) {
        return Err(FlowParseError::new("drop", "cannot be combined with other actions"));
    }
    Ok(actions)
}

/// Splits on commas that are not inside parentheses, so `ct(commit,zone=1)` stays one token.
fn split_top_level(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (index, byte) in text.bytes().enumerate() {
        match byte {
            b'(' => depth += 1,
            b')' => depth = depth.saturating_sub(1),
            b',' if depth == 0 => {
                parts.push(&text[start..index]);
                start = index + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

fn parse_action(token: &str) -> Result<Action, FlowParseError> {
    if let Some((name, port)) = token.split_once(':') {
        if name.trim().eq_ignore_ascii_case("output") {
            let port = port.trim();
            if port.eq_ignore_ascii_case("in_port") {
                return Ok(Action::InPort);
            }
            return parse_port_number(token, port).map(Action::Output);
        }
    }
    if token.eq_ignore_ascii_case("drop") {
        return Ok(Action::Drop);
    }
    if token.eq_ignore_ascii_case("in_port") {
        return Ok(Action::InPort);
    }
    if token.bytes().all(|b| b.is_ascii_digit()) {
        return parse_port_number(token, token).map(Action::Output);
    }
    let name_end = token.find([':', '(', '=']).unwrap_or(token.len());
    let name = token[..name_end].trim().to_ascii_lowercase();
    if is_listed(UNSUPPORTED_ACTIONS, &name) {
        return Err(FlowParseError::new(token, "action not supported yet"));
    }
    if token.contains('=') {
        return Err(FlowParseError::new(
            token,
            "unknown action (match fields go before actions=, which must come last)",
        ));
    }
    Err(FlowParseError::new(token, "unknown action"))
}

/// A switch port number in `OfPort::RANGE`, written in decimal.
fn parse_port_number(token: &str, value: &str) -> Result<u32, FlowParseError> {
    if is_listed(UNSUPPORTED_PORT_NAMES, &value.to_ascii_lowercase()) {
        return Err(FlowParseError::new(token, "reserved port not supported yet"));
    }
    let port: u32 = parse_decimal(value).ok_or_else(|| FlowParseError::new(token, "not a port number"))?;
    if !OfPort::RANGE.contains(&port) {
        return Err(FlowParseError::new(
            token,
            format!("port number out of range {}..={}", OfPort::RANGE.start(), OfPort::RANGE.end()),
        ));
    }
    Ok(port)
}

fn parse_cookie(token: &str, value: &str) -> Result<u64, FlowParseError> {
    if value.contains('/') {
        return Err(FlowParseError::new(token, "cookie masks are only for selecting flows, not for adding them"));
    }
    let not_a_cookie = || FlowParseError::new(token, "not a cookie (64-bit decimal or 0x hex)");
    match value.strip_prefix("0x").or_else(|| value.strip_prefix("0X")) {
        Some(hex) if !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
            u64::from_str_radix(hex, 16).map_err(|_| not_a_cookie())
        }
        Some(_) => Err(not_a_cookie()),
        None => parse_decimal(value).ok_or_else(not_a_cookie),
    }
}

/// Plain decimal digits only (no sign, no spaces) that fit in `T`.
fn parse_decimal<T: std::str::FromStr>(value: &str) -> Option<T> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value.parse().ok()
}

/// Random input for the never-panics tests of the parsers (here and in `config`).
#[cfg(test)]
pub(crate) mod test_random {
    /// xorshift64*: a fixed-seed generator so the cases are the same on every run.
    pub(crate) struct XorShift(pub u64);

    impl XorShift {
        pub(crate) fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        pub(crate) fn below(&mut self, bound: usize) -> usize {
            (self.next() % bound as u64) as usize
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(text: &str) -> String {
        match parse_flow(text) {
            Ok(rule) => panic!("{text:?} parsed as {rule:?}, expected an error"),
            Err(e) => e.to_string(),
        }
    }

    fn rule(priority: u16, in_port: Option<u32>, actions: Vec<Action>) -> FlowRule {
        FlowRule { priority, matches: Match { in_port }, actions, ..FlowRule::default() }
    }

    #[test]
    fn parses_the_contract_example() {
        let parsed = parse_flow("priority=10,in_port=1,actions=output:2,output:3").unwrap();
        assert_eq!(parsed, rule(10, Some(1), vec![Action::Output(2), Action::Output(3)]));
    }

    #[test]
    fn defaults_apply_when_fields_are_absent() {
        let parsed = parse_flow("actions=drop").unwrap();
        assert_eq!(parsed, FlowRule::default());
        assert_eq!(parsed.priority, 32768);
        assert_eq!(parsed.cookie, 0);
        assert_eq!(parsed.table, 0);
        assert_eq!(parsed.matches.in_port, None);
    }

    #[test]
    fn cookie_in_hex_and_decimal() {
        assert_eq!(parse_flow("cookie=0x1f,actions=drop").unwrap().cookie, 0x1f);
        assert_eq!(parse_flow("cookie=0XfF,actions=drop").unwrap().cookie, 0xff);
        assert_eq!(parse_flow("cookie=31,actions=drop").unwrap().cookie, 31);
        assert_eq!(parse_flow("cookie=0xffffffffffffffff,actions=drop").unwrap().cookie, u64::MAX);
    }

    #[test]
    fn action_spellings() {
        let actions = |text: &str| parse_flow(text).unwrap().actions;
        assert_eq!(actions("actions=output:7"), vec![Action::Output(7)]);
        assert_eq!(actions("actions=7"), vec![Action::Output(7)]);
        assert_eq!(actions("actions=OUTPUT:7"), vec![Action::Output(7)]);
        assert_eq!(actions("actions=output:in_port"), vec![Action::InPort]);
        assert_eq!(actions("actions=output:IN_PORT"), vec![Action::InPort]);
        assert_eq!(actions("actions=in_port"), vec![Action::InPort]);
        assert_eq!(actions("actions=IN_PORT"), vec![Action::InPort]);
        assert_eq!(actions("actions=drop"), vec![Action::Drop]);
        assert_eq!(actions("actions=1,in_port,output:3"), vec![Action::Output(1), Action::InPort, Action::Output(3)]);
    }

    #[test]
    fn empty_action_list_is_drop() {
        assert_eq!(parse_flow("in_port=1,actions=").unwrap().actions, vec![Action::Drop]);
        assert_eq!(parse_flow("in_port=1,actions=  ").unwrap().actions, vec![Action::Drop]);
    }

    #[test]
    fn whitespace_around_tokens_is_tolerated() {
        let parsed = parse_flow("  priority = 10 ,  in_port= 1, actions = output : 2 , 3 ").unwrap();
        assert_eq!(parsed, rule(10, Some(1), vec![Action::Output(2), Action::Output(3)]));
        assert_eq!(parse_flow("\tin_port=4,actions=drop\n").unwrap().matches.in_port, Some(4));
    }

    #[test]
    fn zero_timeouts_and_table_zero_are_accepted() {
        let parsed = parse_flow("table=0,idle_timeout=0,hard_timeout=0,actions=drop").unwrap();
        assert_eq!(parsed, FlowRule::default());
    }

    #[test]
    fn display_is_canonical_and_omits_defaults() {
        let text = |input: &str| parse_flow(input).unwrap().to_string();
        assert_eq!(text("priority=10,in_port=1,actions=output:2"), "priority=10,in_port=1,actions=output:2");
        assert_eq!(text("in_port=2 , actions=1"), "in_port=2,actions=output:1");
        assert_eq!(text("priority=32768,cookie=0,table=0,actions="), "actions=drop");
        assert_eq!(
            text("in_port=3,priority=5,cookie=255,actions=in_port"),
            "cookie=0xff,priority=5,in_port=3,actions=IN_PORT"
        );
    }

    #[test]
    fn display_round_trips_through_parse() {
        let inputs = [
            "actions=drop",
            "priority=0,actions=drop",
            "priority=65535,in_port=65279,actions=output:65279",
            "cookie=0xdeadbeef,in_port=1,actions=output:2,in_port,output:3",
            "cookie=18446744073709551615,priority=1,actions=",
            "in_port=9,actions=output:in_port",
        ];
        for input in inputs {
            let parsed = parse_flow(input).unwrap();
            let text = parsed.to_string();
            assert_eq!(parse_flow(&text).unwrap(), parsed, "{input} -> {text}");
            assert_eq!(parse_flow(&text).unwrap().to_string(), text);
        }
        let built = FlowRule { actions: Vec::new(), ..FlowRule::default() };
        assert_eq!(built.to_string(), "actions=drop");
    }

    #[test]
    fn rejects_bad_values_naming_the_token() {
        assert_eq!(error("in_port=abc,actions=drop"), "in_port=abc: not a port number");
        assert_eq!(error("in_port=-1,actions=drop"), "in_port=-1: not a port number");
        assert_eq!(error("in_port=0,actions=drop"), "in_port=0: port number out of range 1..=65279");
        assert_eq!(error("in_port=65280,actions=drop"), "in_port=65280: port number out of range 1..=65279");
        assert_eq!(error("priority=65536,actions=drop"), "priority=65536: not a priority (0..65535)");
        assert_eq!(error("priority=+5,actions=drop"), "priority=+5: not a priority (0..65535)");
        assert!(error("cookie=0xg,actions=drop").starts_with("cookie=0xg: not a cookie"));
        assert!(error("cookie=0x,actions=drop").starts_with("cookie=0x: not a cookie"));
        assert!(error("cookie=0x10000000000000000,actions=drop").contains("not a cookie"));
        assert!(error("cookie=1/0xff,actions=drop").contains("cookie masks"));
        assert!(error("priority,actions=drop").starts_with("priority: missing value"));
        assert!(error("in_port=,actions=drop").starts_with("in_port=: not a port number"));
    }

    #[test]
    fn only_table_zero() {
        assert_eq!(
            error("table=1,actions=drop"),
            "table=1: only table 0 is supported until the multi-table pipeline lands"
        );
        assert!(error("table=255,actions=drop").contains("only table 0 is supported"));
        assert!(error("table=256,actions=drop").contains("not a table number"));
    }

    #[test]
    fn nonzero_timeouts_are_not_supported_yet() {
        assert!(
            error("idle_timeout=10,actions=drop").starts_with("idle_timeout=10: flow timeouts are not supported yet")
        );
        assert!(error("hard_timeout=1,actions=drop").starts_with("hard_timeout=1: flow timeouts are not supported yet"));
    }

    #[test]
    fn unknown_and_unsupported_fields() {
        assert_eq!(error("nw_src=10.0.0.1,actions=drop"), "nw_src=10.0.0.1: field not supported yet");
        assert_eq!(error("dl_dst=00:00:00:00:00:01,actions=drop"), "dl_dst=00:00:00:00:00:01: field not supported yet");
        assert_eq!(error("tcp,actions=drop"), "tcp: field not supported yet");
        assert_eq!(error("reg3=1,actions=drop"), "reg3=1: field not supported yet");
        assert_eq!(error("frobnicate=1,actions=drop"), "frobnicate=1: unknown field");
        assert_eq!(error("hello,actions=drop"), "hello: unknown field");
    }

    #[test]
    fn actions_must_be_present_and_last() {
        assert!(error("in_port=1").contains("no actions"));
        assert!(error("").contains("no actions"));
        assert!(error("in_port=1,actions").starts_with("actions: missing value"));
        assert_eq!(
            error("actions=output:2,in_port=1"),
            "in_port=1: unknown action (match fields go before actions=, which must come last)"
        );
    }

    #[test]
    fn bad_actions() {
        assert_eq!(error("actions=drop,output:1"), "drop: cannot be combined with other actions");
        assert_eq!(error("actions=output:x"), "output:x: not a port number");
        assert_eq!(error("actions=output:0"), "output:0: port number out of range 1..=65279");
        assert_eq!(error("actions=normal"), "normal: action not supported yet");
        assert_eq!(error("actions=NORMAL"), "NORMAL: action not supported yet");
        assert_eq!(error("actions=mod_vlan_vid:10,output:1"), "mod_vlan_vid:10: action not supported yet");
        assert_eq!(error("actions=ct(commit,zone=1),output:2"), "ct(commit,zone=1): action not supported yet");
        assert_eq!(error("actions=output:LOCAL"), "output:LOCAL: reserved port not supported yet");
        assert_eq!(error("actions=bounce"), "bounce: unknown action");
    }

    #[test]
    fn repeated_fields_are_rejected() {
        assert_eq!(error("priority=1,priority=2,actions=drop"), "priority=2: priority is given twice");
        assert_eq!(error("in_port=1,in_port=2,actions=drop"), "in_port=2: in_port is given twice");
    }

    #[test]
    fn fields_separated_by_spaces_get_a_hint() {
        assert_eq!(
            error("priority=10 in_port=1,actions=drop"),
            "priority=10 in_port=1: unexpected whitespace; separate fields with commas"
        );
    }

    #[test]
    fn random_input_never_panics() {
        let mut random = test_random::XorShift(0x5eed_f10e_2024_0001);
        for _ in 0..20_000 {
            let len = random.below(64);
            let bytes: Vec<u8> = (0..len).map(|_| random.next() as u8).collect();
            let _ = parse_flow(&String::from_utf8_lossy(&bytes));
        }
        let pieces = [
            "priority",
            "cookie",
            "table",
            "in_port",
            "actions",
            "output",
            "drop",
            "idle_timeout",
            "=",
            "==",
            ",",
            ":",
            " ",
            "(",
            ")",
            "0",
            "1",
            "65279",
            "65280",
            "0x",
            "ff",
            "-",
            "IN_PORT",
            "nw_src",
            "reg",
            "/",
            "\u{e9}",
            "\u{1F600}",
            "\0",
        ];
        for _ in 0..20_000 {
            let count = random.below(12);
            let text: String = (0..count).map(|_| pieces[random.below(pieces.len())]).collect();
            if let Ok(parsed) = parse_flow(&text) {
                assert_eq!(parse_flow(&parsed.to_string()), Ok(parsed), "{text:?}");
            }
        }
    }
}
