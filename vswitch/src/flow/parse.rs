//! The ovs-ofctl flow commands: add-flow (a whole rule), mod-flows (a selection plus new
//! actions), del-flows and dump-flows (a selection), and, for tests, the flows file of add-flows
//! (one rule per line, `#` comments; vsctl reads the file itself). Match fields: the protocol shorthands (`ip`, `tcp6`, `arp`, ...),
//! every registry field by ovs-ofctl, NXM/OXM or alias name with `value[/mask]`, subfields
//! (`reg0[0..3]=5`) and the views that ovs-ofctl gives names of their own (`dl_vlan`,
//! `dl_vlan_pcp`, `vlan_vid`, `vlan_pcp`, `nw_tos`, `ip_dscp`, `nw_ecn`). Prerequisites are
//! checked once the whole match is known (the order of fields does not matter).

use super::actions::{
    parse_decimal, parse_instructions, parse_table, ActionChecker, Instructions, Subfield, GROUP_MAX,
};
use super::key::{Field, Prereq};
use super::match_::numbers::*;
use super::match_::{requirement, Match};
use super::port::OfPort;
use super::rule::{FlowModification, FlowRule, FlowSelector};
use super::syntax::{Delimiter, FlowParseError, Item, Items};
use super::value::{parse_integer, parse_masked};
use super::DEFAULT_PRIORITY;
use crate::packet::proto::vlan;

/// Parses one rule in ovs-ofctl add-flow syntax, e.g.
/// `priority=10,in_port=1,actions=output:2,output:3` or
/// `table=1 priority=1 dl_dst=00:00:00:00:00:00/01:00:00:00:00:00 actions=resubmit(,20)`.
/// Table 0 and priority 32768 unless given; `actions=` comes last. Never panics.
pub fn parse_add_flow(text: &str) -> Result<FlowRule, FlowParseError> {
    let parsed = parse_command(text, Command::Add)?;
    let table = parsed.table.unwrap_or(0);
    let instructions = parsed.instructions(Some(table))?;
    Ok(FlowRule {
        table,
        priority: parsed.priority.unwrap_or(DEFAULT_PRIORITY),
        cookie: parsed.cookie.map_or(0, |(cookie, _)| cookie),
        idle_timeout: parsed.idle_timeout,
        hard_timeout: parsed.hard_timeout,
        matches: parsed.matches,
        instructions,
    })
}

/// Parses the argument of mod-flows: a match (with priority when `strict`, cookie=V/M to
/// select, cookie=V to set) and the new actions.
pub fn parse_mod_flows(text: &str, strict: bool) -> Result<FlowModification, FlowParseError> {
    let parsed = parse_command(text, Command::Modify { strict })?;
    let instructions = parsed.instructions(parsed.table)?;
    let new_cookie = match parsed.cookie {
        Some((cookie, None)) => Some(cookie),
        _ => None,
    };
    Ok(FlowModification {
        new_cookie,
        idle_timeout: parsed.idle_timeout,
        hard_timeout: parsed.hard_timeout,
        instructions,
        selector: parsed.selector(strict),
    })
}

/// Parses the match argument of del-flows (`--strict`: exactly this match and priority).
pub fn parse_del_flows(text: &str, strict: bool) -> Result<FlowSelector, FlowParseError> {
    Ok(parse_command(text, Command::Delete { strict })?.selector(strict))
}

/// Parses the match argument of dump-flows.
pub fn parse_dump_flows(text: &str) -> Result<FlowSelector, FlowParseError> {
    Ok(parse_command(text, Command::Dump)?.selector(false))
}

/// Flows files (ovs-ofctl add-flows) for tests; vsctl splits the file into rules itself
/// (`cli/src/flows_file.rs`) and vswitchd parses each with `parse_add_flow`.
#[cfg(test)]
mod flows_file {
    use std::fmt;

    use super::{parse_add_flow, FlowParseError, FlowRule};

    /// A line of a flows file was rejected; `line` counts from 1.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct FlowsFileError {
        pub line: usize,
        pub error: FlowParseError,
    }

    impl fmt::Display for FlowsFileError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "line {}: {}", self.line, self.error)
        }
    }

    impl std::error::Error for FlowsFileError {}

    /// Reads a flows file: one rule per line; everything after `#` is a comment; blank lines
    /// are skipped. All rules or the first error, naming its line.
    pub fn parse_flows_file(text: &str) -> Result<Vec<FlowRule>, FlowsFileError> {
        let mut rules = Vec::new();
        for (index, line) in text.lines().enumerate() {
            let without_comment = line.split('#').next().unwrap_or_default();
            if without_comment.trim().is_empty() {
                continue;
            }
            rules.push(parse_add_flow(without_comment).map_err(|error| FlowsFileError { line: index + 1, error })?);
        }
        Ok(rules)
    }
}

#[cfg(test)]
pub use flows_file::{parse_flows_file, FlowsFileError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Command {
    Add,
    Modify { strict: bool },
    Delete { strict: bool },
    Dump,
}

impl Command {
    fn name(self) -> &'static str {
        match self {
            Command::Add => "add-flow",
            Command::Modify { .. } => "mod-flows",
            Command::Delete { .. } => "del-flows",
            Command::Dump => "dump-flows",
        }
    }

    fn takes_actions(self) -> bool {
        matches!(self, Command::Add | Command::Modify { .. })
    }

    fn takes_priority(self) -> bool {
        matches!(self, Command::Add | Command::Modify { .. } | Command::Delete { strict: true })
    }

    fn takes_out_port(self) -> bool {
        matches!(self, Command::Delete { .. } | Command::Dump)
    }
}

/// What the text before `actions=` gave.
struct Parsed<'a> {
    table: Option<u8>,
    priority: Option<u16>,
    /// The cookie and its mask, if one was given.
    cookie: Option<(u64, Option<u64>)>,
    idle_timeout: u16,
    hard_timeout: u16,
    out_port: Option<OfPort>,
    out_group: Option<u32>,
    matches: Match,
    /// Everything after `actions=`.
    actions: Option<&'a str>,
}

impl Parsed<'_> {
    fn instructions(&self, table: Option<u8>) -> Result<Instructions, FlowParseError> {
        let mut checker = ActionChecker::new(&self.matches, table);
        parse_instructions(self.actions.unwrap_or_default(), &mut checker)
    }

    fn selector(self, strict: bool) -> FlowSelector {
        let (cookie, cookie_mask) = match self.cookie {
            Some((cookie, Some(mask))) => (cookie, mask),
            _ => (0, 0),
        };
        FlowSelector {
            table: self.table,
            strict,
            priority: self.priority.unwrap_or(DEFAULT_PRIORITY),
            matches: self.matches,
            cookie,
            cookie_mask,
            out_port: self.out_port,
            out_group: self.out_group,
        }
    }
}

/// A matched field whose prerequisites are checked when the whole match is known.
struct PendingPrerequisite<'a> {
    token: &'a str,
    name: &'a str,
    prereq: Prereq,
}

/// Protocol shorthands: dl_type and nw_proto.
const PROTOCOLS: [(&str, u128, Option<u128>); 14] = [
    ("ip", ETH_TYPE_IP, None),
    ("ipv6", ETH_TYPE_IPV6, None),
    ("icmp", ETH_TYPE_IP, Some(IP_PROTO_ICMP)),
    ("icmp6", ETH_TYPE_IPV6, Some(IP_PROTO_ICMPV6)),
    ("tcp", ETH_TYPE_IP, Some(IP_PROTO_TCP)),
    ("tcp6", ETH_TYPE_IPV6, Some(IP_PROTO_TCP)),
    ("udp", ETH_TYPE_IP, Some(IP_PROTO_UDP)),
    ("udp6", ETH_TYPE_IPV6, Some(IP_PROTO_UDP)),
    ("sctp", ETH_TYPE_IP, Some(IP_PROTO_SCTP)),
    ("sctp6", ETH_TYPE_IPV6, Some(IP_PROTO_SCTP)),
    ("arp", ETH_TYPE_ARP, None),
    ("rarp", ETH_TYPE_RARP, None),
    ("mpls", ETH_TYPE_MPLS, None),
    ("mplsm", ETH_TYPE_MPLS_MCAST, None),
];

/// Fields and flags ovs-ofctl knows that this switch does not handle yet.
const UNSUPPORTED_FIELDS: &str = "\
    tun_tos tun_ttl pkt_mark skb_priority ct_state ct_zone ct_mark ct_label ct_nw_src \
    ct_nw_dst ct_ipv6_src ct_ipv6_dst ct_nw_proto ct_tp_src ct_tp_dst conj_id actset_output dp_hash \
    recirc_id packet_type eth dl_vlan1 dl_vlan_pcp1 vlan_tci1 in_port_oxm nd_reserved \
    nd_options_type igmp";

/// Flow flags and attributes ovs-ofctl knows that this switch does not handle yet.
const UNSUPPORTED_ATTRIBUTES: &str = "\
    send_flow_rem check_overlap reset_counts no_packet_counts no_byte_counts importance";

/// Statistics that dump-flows output carries; ignored so that it can be pasted back.
const STATISTICS: &str = "duration n_packets n_bytes idle_age hard_age";

fn is_listed(list: &str, word: &str) -> bool {
    list.split_ascii_whitespace().any(|listed| listed == word)
}

fn is_extended_register(name: &str) -> bool {
    ["xxreg", "xreg"]
        .iter()
        .any(|prefix| name.strip_prefix(prefix).is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())))
}

fn parse_command(text: &str, command: Command) -> Result<Parsed<'_>, FlowParseError> {
    let mut parsed = Parsed {
        table: None,
        priority: None,
        cookie: None,
        idle_timeout: 0,
        hard_timeout: 0,
        out_port: None,
        out_group: None,
        matches: Match::catch_all(),
        actions: None,
    };
    let mut seen: Vec<&str> = Vec::new();
    let mut pending: Vec<PendingPrerequisite> = Vec::new();
    for item in Items::new(text) {
        let item = item?;
        if item.key == "actions" && item.delimiter == Delimiter::Equals {
            if !command.takes_actions() {
                return Err(FlowParseError::new(
                    item.text,
                    format!("{} takes a match only; actions are for add-flow and mod-flows", command.name()),
                ));
            }
            parsed.actions = Some(&text[item.value_start..]);
            break;
        }
        if seen.contains(&item.key) {
            return Err(FlowParseError::new(item.text, format!("{} is given twice", item.key)));
        }
        seen.push(item.key);
        apply_item(&mut parsed, &mut pending, command, &item)
            .map_err(|problem| FlowParseError::new(item.text, problem))?;
    }
    if command.takes_actions() && parsed.actions.is_none() {
        return Err(FlowParseError::new(
            text,
            "no actions: a rule needs actions=... at the end (actions=drop to discard)",
        ));
    }
    for check in pending {
        check_prerequisite(&parsed.matches, &check)?;
    }
    Ok(parsed)
}

/// `icmp_type` and `icmp_code` also name the ICMPv6 fields, as in Open vSwitch's output.
fn check_prerequisite(matches: &Match, check: &PendingPrerequisite) -> Result<(), FlowParseError> {
    if matches.satisfies(check.prereq) {
        return Ok(());
    }
    let icmp_any = matches!(check.name, "icmp_type" | "icmp_code");
    if icmp_any && matches.satisfies(Prereq::Icmpv6) {
        return Ok(());
    }
    let (what, example) = if icmp_any { ("icmp or icmp6", "icmp,") } else { requirement(check.prereq) };
    Err(FlowParseError::new(check.token, format!("{} requires {what} (add e.g. '{example}')", check.name)))
}

fn needs_value<'a>(item: &Item<'a>, example: &str) -> Result<&'a str, String> {
    if item.value.is_empty() {
        Err(format!("missing value; expected {}={example}", item.key))
    } else {
        Ok(item.value)
    }
}

/// Adds a constraint to the match, refusing one that contradicts an earlier field.
fn constrain(matches: &mut Match, field: Field, value: u128, mask: u128) -> Result<(), String> {
    if matches.constrain(field, value, mask) {
        Ok(())
    } else {
        Err("contradicts an earlier field of the match".to_string())
    }
}

/// `value[/mask]` as integers, the mask defaulting to `default_mask`.
fn integer_with_mask(text: &str, default_mask: u128) -> Result<(u128, u128), String> {
    let (value, mask) = match text.split_once('/') {
        Some((value, mask)) => (value, Some(mask)),
        None => (text, None),
    };
    let value = parse_integer(value).ok_or("not a number (decimal or 0x hex)")?;
    let mask = match mask {
        None => default_mask,
        Some(mask) => parse_integer(mask).ok_or("invalid mask (decimal or 0x hex)")?,
    };
    Ok((value, mask))
}

fn apply_item<'a>(
    parsed: &mut Parsed,
    pending: &mut Vec<PendingPrerequisite<'a>>,
    command: Command,
    item: &Item<'a>,
) -> Result<(), String> {
    let key = item.key;
    let mut require = |prereq: Prereq| pending.push(PendingPrerequisite { token: item.text, name: key, prereq });
    match key {
        "table" => {
            let value = needs_value(item, "<0..254>")?;
            parsed.table = match (command, parse_decimal::<u8>(value)) {
                (Command::Modify { .. } | Command::Delete { .. } | Command::Dump, Some(u8::MAX)) => None,
                _ => Some(parse_table(value)?),
            };
        }
        "priority" => {
            if !command.takes_priority() {
                return Err(
                    "del-flows without --strict selects rules of every priority; use --strict to give one".into()
                );
            }
            let value = needs_value(item, "<0..65535>")?;
            parsed.priority = Some(parse_decimal(value).ok_or("not a priority (0..65535)")?);
        }
        "cookie" => parsed.cookie = Some(parse_cookie(command, needs_value(item, "<number or 0x hex>")?)?),
        "idle_timeout" | "hard_timeout" => {
            if !command.takes_actions() {
                return Err(format!("{} takes a match only; timeouts are for add-flow and mod-flows", command.name()));
            }
            let seconds =
                parse_decimal(needs_value(item, "<seconds>")?).ok_or("not a timeout in seconds (0..65535)")?;
            if key == "idle_timeout" {
                parsed.idle_timeout = seconds;
            } else {
                parsed.hard_timeout = seconds;
            }
        }
        "out_port" => {
            if !command.takes_out_port() {
                return Err("out_port selects rules; it is for del-flows and dump-flows".to_string());
            }
            let port = OfPort::parse(needs_value(item, "<port>")?)?;
            parsed.out_port = (port != OfPort::NONE).then_some(port);
        }
        "out_group" => {
            if !command.takes_out_port() {
                return Err("out_group selects rules; it is for del-flows and dump-flows".to_string());
            }
            let value = needs_value(item, "<group>")?;
            parsed.out_group = match value.to_ascii_lowercase().as_str() {
                "any" => None,
                _ => Some(
                    parse_decimal::<u32>(value)
                        .filter(|&id| id <= GROUP_MAX)
                        .ok_or_else(|| format!("not a group id (0..{GROUP_MAX} or ANY)"))?,
                ),
            };
        }
        "actions" => return Err("missing value; expected actions=<action list>".to_string()),
        _ if is_listed(STATISTICS, key) => {
            needs_value(item, "<number>")?;
        }
        _ if is_listed(UNSUPPORTED_ATTRIBUTES, key) => return Err("not supported yet".to_string()),
        _ => return apply_match_field(&mut parsed.matches, &mut require, item),
    }
    Ok(())
}

fn apply_match_field(matches: &mut Match, require: &mut impl FnMut(Prereq), item: &Item) -> Result<(), String> {
    let key = item.key;
    if let Some(&(_, dl_type, proto)) = PROTOCOLS.iter().find(|(name, _, _)| *name == key) {
        if item.delimiter != Delimiter::None {
            return Err(format!("{key} takes no value"));
        }
        constrain(matches, Field::DlType, dl_type, u128::MAX)?;
        if let Some(proto) = proto {
            constrain(matches, Field::NwProto, proto, u128::MAX)?;
        }
        return Ok(());
    }
    match key {
        "dl_vlan" => {
            let (field_value, field_mask) = match parse_integer(needs_value(item, "<0..4095 or 0xffff>")?) {
                Some(vid @ 0..=VLAN_VID_MASK) => (VLAN_PRESENT | vid, VLAN_PRESENT | VLAN_VID_MASK),
                Some(0xffff) => (0, 0xffff),
                _ => return Err("not a VLAN id (0..4095, or 0xffff for no VLAN)".to_string()),
            };
            constrain(matches, Field::VlanTci, field_value, field_mask)
        }
        "dl_vlan_pcp" => {
            let pcp =
                parse_integer(needs_value(item, "<0..7>")?).filter(|&p| p <= 7).ok_or("not a VLAN priority (0..7)")?;
            constrain(matches, Field::VlanTci, VLAN_PRESENT | (pcp << vlan::PCP_SHIFT), VLAN_PRESENT | VLAN_PCP_MASK)
        }
        "vlan_vid" => {
            let all = VLAN_PRESENT | VLAN_VID_MASK;
            let (vid, mask) = integer_with_mask(needs_value(item, "<0x1000|vid>")?, all)?;
            if vid > all || mask > all {
                return Err("not a VLAN id (13 bits: 0x1000 for a tag plus the id)".to_string());
            }
            if vid & VLAN_VID_MASK != 0 && vid & VLAN_PRESENT == 0 && mask & VLAN_PRESENT != 0 {
                return Err(format!(
                    "a tagged VLAN id needs the present bit 0x1000 (vlan_vid={:#x}), or write dl_vlan={vid}",
                    vid | VLAN_PRESENT
                ));
            }
            constrain(matches, Field::VlanTci, vid, mask)
        }
        "vlan_pcp" => {
            let pcp =
                parse_integer(needs_value(item, "<0..7>")?).filter(|&p| p <= 7).ok_or("not a VLAN priority (0..7)")?;
            require(Prereq::Vlan);
            constrain(matches, Field::VlanTci, pcp << vlan::PCP_SHIFT, VLAN_PCP_MASK)
        }
        "nw_tos" => {
            let tos = parse_integer(needs_value(item, "<TOS, a multiple of 4>")?)
                .filter(|&tos| tos <= 0xfc && tos & 0x03 == 0)
                .ok_or(
                    "not a TOS value with the ECN bits 0 (a multiple of 4 up to 252, no mask); use nw_ecn for ECN",
                )?;
            require(Prereq::Ip);
            constrain(matches, Field::NwTos, tos, 0xfc)
        }
        "ip_dscp" => {
            let dscp =
                parse_integer(needs_value(item, "<0..63>")?).filter(|&d| d <= 63).ok_or("not a DSCP value (0..63)")?;
            require(Prereq::Ip);
            constrain(matches, Field::NwTos, dscp << 2, 0xfc)
        }
        "nw_ecn" | "ip_ecn" => {
            let ecn =
                parse_integer(needs_value(item, "<0..3>")?).filter(|&e| e <= 3).ok_or("not an ECN value (0..3)")?;
            require(Prereq::Ip);
            constrain(matches, Field::NwTos, ecn, 0x03)
        }
        _ if key.contains('[') => {
            let subfield = Subfield::parse(key)?;
            let all = subfield.field_mask() >> subfield.offset;
            let (value, mask) = integer_with_mask(needs_value(item, "<value[/mask]>")?, all)?;
            if value & !all != 0 || mask & !all != 0 {
                return Err(format!("value or mask does not fit in the {} bits of {subfield}", subfield.bits));
            }
            require(subfield.field.def().prereq);
            constrain(matches, subfield.field, value << subfield.offset, mask << subfield.offset)
        }
        _ => match Field::resolve(key) {
            Some((field, prereq)) => {
                let (value, mask) = parse_masked(field, key, needs_value(item, "<value>")?, field.def().maskable)?;
                require(prereq);
                constrain(matches, field, value, mask)
            }
            None if is_listed(UNSUPPORTED_FIELDS, key) || is_extended_register(key) => {
                Err("field not supported yet".to_string())
            }
            None => Err("unknown field".to_string()),
        },
    }
}

/// `cookie=V` sets the cookie (add-flow, mod-flows); `cookie=V/M` selects rules by cookie
/// (mod-flows, del-flows, dump-flows). `-1` is all ones.
fn parse_cookie(command: Command, text: &str) -> Result<(u64, Option<u64>), String> {
    let number = |text: &str| {
        if text == "-1" {
            return Some(u64::MAX);
        }
        parse_integer(text).and_then(|n| u64::try_from(n).ok())
    };
    let not_a_cookie = || "not a cookie (64-bit decimal or 0x hex)".to_string();
    match text.split_once('/') {
        Some(_) if command == Command::Add => {
            Err("cookie masks are only for selecting flows (mod-flows, del-flows, dump-flows), not for adding them"
                .into())
        }
        Some((cookie, mask)) => {
            Ok((number(cookie).ok_or_else(not_a_cookie)?, Some(number(mask).ok_or_else(not_a_cookie)?)))
        }
        None if matches!(command, Command::Delete { .. } | Command::Dump) => {
            Err(format!("{} selects rules by cookie only with a mask, e.g. cookie={text}/-1", command.name()))
        }
        None => Ok((number(text).ok_or_else(not_a_cookie)?, None)),
    }
}
