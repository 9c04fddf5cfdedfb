//! Actions and OpenFlow 1.3 instructions as ovs-ofctl writes them after `actions=`: outputs to
//! ports and reserved ports, controller, resubmit, set_field / load / move on fields and
//! subfields (`NXM_OF_VLAN_TCI[0..11]`, `reg0[5]`), the OpenFlow 1.0 `mod_*` actions, VLAN
//! push/pop, dec_ttl, set_tunnel, learn, group, and the instructions meter, clear_actions,
//! write_actions(...), write_metadata and goto_table. Parsing checks every action against the
//! rule's match the way ovs-ofctl does (a set_field, load or move needs its field writable and
//! its prerequisites guaranteed by the match, as changed by the actions before it).

use std::net::Ipv4Addr;

use super::key::{Field, Prereq};
use super::learn::Learn;
use super::match_::numbers::{VLAN_PCP_MASK, VLAN_PRESENT, VLAN_VID_MASK};
use super::match_::{requirement, Match};
use super::port::OfPort;
use super::syntax::{Delimiter, FlowParseError, Item, Items};
use super::value::{parse_ethernet, parse_integer, parse_ipv4, parse_masked};
use crate::packet::proto::{ethertype, vlan};

/// Bits `offset..offset + bits` of a field (`NXM_OF_VLAN_TCI[0..11]`); bit 0 is the field's
/// least significant bit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Subfield {
    pub field: Field,
    pub offset: u32,
    pub bits: u32,
}

impl Subfield {
    /// All of `field` (`NXM_OF_ETH_DST[]`).
    pub fn whole(field: Field) -> Subfield {
        Subfield { field, offset: 0, bits: field.def().bits }
    }

    pub fn is_whole(&self) -> bool {
        self.offset == 0 && self.bits == self.field.def().bits
    }

    /// The subfield's bits within the field's value.
    pub fn field_mask(&self) -> u128 {
        let ones = if self.bits >= 128 { u128::MAX } else { (1u128 << self.bits) - 1 };
        ones.checked_shl(self.offset).unwrap_or(0)
    }

    /// Parses `NAME`, `NAME[]`, `NAME[bit]` or `NAME[start..end]`; the name is an NXM/OXM name,
    /// an ovs-ofctl name or an alias.
    pub fn parse(text: &str) -> Result<Subfield, String> {
        let (name, range) = match text.find('[') {
            Some(open) => (&text[..open], Some(&text[open..])),
            None => (text, None),
        };
        let (field, _) = Field::resolve(name).ok_or_else(|| format!("unknown field {name:?}"))?;
        let width = field.def().bits;
        let (start, end) = match range {
            None | Some("[]") => (0, width.saturating_sub(1)),
            Some(range) => {
                let inner = range
                    .strip_prefix('[')
                    .and_then(|r| r.strip_suffix(']'))
                    .ok_or("expected [], [bit] or [start..end] after the field name")?;
                let number = |s: &str| {
                    if s.is_empty() || s.len() > 3 || !s.bytes().all(|b| b.is_ascii_digit()) {
                        return Err("expected [], [bit] or [start..end] after the field name".to_string());
                    }
                    s.parse::<u32>().map_err(|e| e.to_string())
                };
                match inner.split_once("..") {
                    Some((start, end)) => (number(start)?, number(end)?),
                    None => {
                        let bit = number(inner)?;
                        (bit, bit)
                    }
                }
            }
        };
        if start > end {
            return Err(format!("starting bit {start} is after ending bit {end}"));
        }
        if end >= width {
            return Err(format!("bit {end} is beyond the {width}-bit field {}", field.nxm_or_name()));
        }
        Ok(Subfield { field, offset: start, bits: end - start + 1 })
    }

    /// Non-empty and within the field.
    pub(crate) fn check_bounds(&self) -> Result<(), String> {
        let width = self.field.def().bits;
        if self.bits == 0 || self.offset.saturating_add(self.bits) > width {
            return Err(format!("{self} is not within the {width}-bit field"));
        }
        Ok(())
    }
}

/// Why a packet goes to the controller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PacketInReason {
    /// An explicit controller action (the default).
    Action,
    NoMatch,
    InvalidTtl,
    ActionSet,
    Group,
    PacketOut,
}

impl PacketInReason {
    const NAMES: [(PacketInReason, &'static str); 6] = [
        (PacketInReason::Action, "action"),
        (PacketInReason::NoMatch, "no_match"),
        (PacketInReason::InvalidTtl, "invalid_ttl"),
        (PacketInReason::ActionSet, "action_set"),
        (PacketInReason::Group, "group"),
        (PacketInReason::PacketOut, "packet_out"),
    ];

    /// The ovs-ofctl name (`no_match`).
    pub fn name(self) -> &'static str {
        PacketInReason::NAMES.iter().find(|(reason, _)| *reason == self).map_or("action", |(_, name)| name)
    }

    fn parse(text: &str) -> Option<PacketInReason> {
        PacketInReason::NAMES.iter().find(|(_, name)| *name == text).map(|(reason, _)| *reason)
    }
}

/// One action of an action list (apply-actions or write-actions).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Action {
    /// `output:N` or `N` to a switch port; `IN_PORT`, `NORMAL`, `FLOOD`, `ALL`, `LOCAL`.
    /// `max_len` means nothing for these ports, but OpenFlow carries it in every output action
    /// (os-ken and Ryu send OFPCML_MAX by default), and a controller that compares flow stats
    /// with what it sent must get it back: it is kept, never shown in the text form (as
    /// ovs-ofctl) and 0 when the rule came from text.
    Output { port: OfPort, max_len: u16 },
    /// `CONTROLLER:max_len`, `controller(reason=...,max_len=...)`, `output:CONTROLLER`.
    Controller { max_len: u16, reason: PacketInReason },
    /// `resubmit:port`, `resubmit(port,table)`: look the packet up again as if it came from
    /// `port` (`IN_PORT`: its real input port) in `table` (`None`: the current table); not both
    /// defaults.
    Resubmit { port: OfPort, table: Option<u8> },
    /// `set_field:value[/mask]->field`: the masked bits of the field (in the field's bits).
    SetField { field: Field, value: u128, mask: u128 },
    /// `load:value->dst[...]`.
    Load { value: u128, dst: Subfield },
    /// `move:src[...]->dst[...]`; both have the same width.
    Move { src: Subfield, dst: Subfield },
    /// `mod_vlan_vid:N` (pushes a tag if there is none) or `set_vlan_vid:N` (only changes one).
    SetVlanVid { vid: u16, push_if_needed: bool },
    /// `mod_vlan_pcp:N` / `set_vlan_pcp:N`.
    SetVlanPcp { pcp: u8, push_if_needed: bool },
    /// `strip_vlan` or `pop_vlan`.
    PopVlan,
    /// `push_vlan:0x8100` (or 0x88a8).
    PushVlan { tpid: u16 },
    /// `mod_dl_src:MAC`.
    SetEthSrc(u64),
    /// `mod_dl_dst:MAC`.
    SetEthDst(u64),
    /// `mod_nw_src:IP`.
    SetIpv4Src(Ipv4Addr),
    /// `mod_nw_dst:IP`.
    SetIpv4Dst(Ipv4Addr),
    /// `mod_nw_tos:TOS`: the DSCP bits of the TOS byte (a multiple of 4), ECN kept.
    SetIpTos(u8),
    /// `mod_nw_ecn:0..3`.
    SetIpEcn(u8),
    /// `mod_nw_ttl:N`.
    SetIpTtl(u8),
    /// `mod_tp_src:N`.
    SetL4SrcPort(u16),
    /// `mod_tp_dst:N`.
    SetL4DstPort(u16),
    /// `dec_ttl`.
    DecTtl,
    /// `set_tunnel:ID` / `set_tunnel64:ID`.
    SetTunnel(u64),
    /// `learn(...)`: add or refresh a rule built from the packet.
    Learn(Box<Learn>),
    /// `group:N`: process the packet through group N of the bridge's group table.
    Group(u32),
    /// `push_mpls:ETHERTYPE` (0x8847 or 0x8848): a new top label stack entry, after the VLAN
    /// tags. On a packet without MPLS its label is 0, its TC the IP DSCP's top 3 bits and its
    /// TTL the IP TTL (64 for a packet that is not IP); on MPLS a copy of the top entry's label,
    /// TC and TTL.
    PushMpls { ethertype: u16 },
    /// `pop_mpls:ETHERTYPE`: removes the top label stack entry; the frame's ethertype becomes
    /// `ethertype`.
    PopMpls { ethertype: u16 },
    /// `set_mpls_label(N)`: OpenFlow 1.0's Nicira action (1.3 sends a set_field).
    SetMplsLabel(u32),
    /// `set_mpls_tc(N)`: OpenFlow 1.0's Nicira action (1.3 sends a set_field).
    SetMplsTc(u8),
    /// `set_mpls_ttl(N)`.
    SetMplsTtl(u8),
    /// `dec_mpls_ttl`: a TTL of 0 or 1 goes to the controllers as `invalid_ttl` (those that ask
    /// for it) and ends the action list, as Open vSwitch does.
    DecMplsTtl,
    /// `copy_ttl_out` (OpenFlow 1.3): the TTL of the header under the top label stack entry
    /// (the next entry, or the IP header after the bottom one) into the top entry.
    CopyTtlOut,
    /// `copy_ttl_in` (OpenFlow 1.3): the top label stack entry's TTL into the header under it.
    CopyTtlIn,
}

impl Action {
    /// An output to `port` as the text form writes it (max_len 0).
    pub fn output(port: OfPort) -> Action {
        Action::Output { port, max_len: 0 }
    }
}

/// The highest group id a group or a `group:N` action may have (OFPG_MAX); the ids above are
/// OpenFlow's reserved ALL and ANY.
pub const GROUP_MAX: u32 = 0xffff_ff00;

/// `write_metadata:value[/mask]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct WriteMetadata {
    pub value: u64,
    pub mask: u64,
}

/// The OpenFlow 1.3 instructions of a rule, in the order they execute.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Instructions {
    /// `meter:N`: the packet goes through the bridge's meter N first (it must exist).
    pub meter: Option<u32>,
    /// The actions written directly after `actions=`.
    pub apply_actions: Vec<Action>,
    /// `clear_actions`: empty the action set.
    pub clear_actions: bool,
    /// `write_actions(...)`: merge into the action set.
    pub write_actions: Option<Vec<Action>>,
    pub write_metadata: Option<WriteMetadata>,
    pub goto_table: Option<u8>,
}

impl Instructions {
    /// No instruction at all: the packet is dropped (`actions=drop`).
    pub fn is_drop(&self) -> bool {
        *self == Instructions::default()
    }

    /// Whether an output action (applied or written) sends to `port`, for the `out_port` filter
    /// of del-flows and dump-flows.
    pub fn outputs_to(&self, port: OfPort) -> bool {
        let sends_to = |action: &Action| match action {
            Action::Output { port: output, .. } => *output == port,
            Action::Controller { .. } => port == OfPort::CONTROLLER,
            _ => false,
        };
        self.apply_actions.iter().chain(self.write_actions.iter().flatten()).any(sends_to)
    }

    /// The groups a `group:N` action (applied or written) sends to, in order, for the table
    /// checks (a rule may only use groups that exist) and the `out_group` filter.
    pub fn groups(&self) -> impl Iterator<Item = u32> + '_ {
        self.apply_actions.iter().chain(self.write_actions.iter().flatten()).filter_map(|action| match action {
            Action::Group(id) => Some(*id),
            _ => None,
        })
    }

    /// Checks every action against `matches` (and the rule's table, if known) as the parser
    /// does; the error names the action in its canonical text.
    pub fn check(&self, matches: &Match, table: Option<u8>) -> Result<(), FlowParseError> {
        let mut checker = ActionChecker::new(matches, table);
        let check_all = |checker: &mut ActionChecker, actions: &[Action]| {
            actions.iter().try_for_each(|action| {
                checker.check(action).map_err(|problem| FlowParseError::new(&action.to_string(), problem))
            })
        };
        check_all(&mut checker, &self.apply_actions)?;
        if let Some(write_actions) = &self.write_actions {
            for action in write_actions {
                check_allowed_in_action_set(action)
                    .map_err(|problem| FlowParseError::new(&action.to_string(), problem))?;
            }
            check_all(&mut checker.clone(), write_actions)?;
        }
        if let Some(target) = self.goto_table {
            checker
                .check_goto(target)
                .map_err(|problem| FlowParseError::new(&format!("goto_table:{target}"), problem))?;
        }
        Ok(())
    }
}

/// Follows an action list over a copy of the rule's match, updating what actions change (VLAN
/// tags), and checks each action as ovs-ofctl does.
#[derive(Debug, Clone)]
pub(crate) struct ActionChecker {
    flow: Match,
    table: Option<u8>,
}

/// The error for a field whose prerequisite the match does not give.
fn missing_prerequisite(field: Field, prereq: Prereq) -> String {
    let (what, example) = requirement(prereq);
    format!("{field} requires {what}, which the match does not guarantee (add e.g. '{example}' to the match)")
}

impl ActionChecker {
    pub(crate) fn new(matches: &Match, table: Option<u8>) -> Self {
        ActionChecker { flow: matches.clone(), table }
    }

    fn require(&self, field: Field, prereq: Prereq) -> Result<(), String> {
        if self.flow.satisfies(prereq) {
            Ok(())
        } else {
            Err(missing_prerequisite(field, prereq))
        }
    }

    fn require_writable(field: Field) -> Result<(), String> {
        if field.def().writable {
            Ok(())
        } else {
            Err(format!("{field} is read-only"))
        }
    }

    /// Writing vlan_tci bits: a write that sets the present bit decides whether there is a tag
    /// afterwards; one that leaves it alone changes an existing tag, so needs one.
    fn write_vlan_tci(&mut self, value: u128, mask: u128) -> Result<(), String> {
        if mask & VLAN_PRESENT == 0 {
            return self.require(Field::VlanTci, Prereq::Vlan);
        }
        let (old_value, old_mask) = self.flow.value_and_mask(Field::VlanTci);
        self.flow.set_masked(
            Field::VlanTci,
            (old_value & !VLAN_PRESENT) | (value & VLAN_PRESENT),
            old_mask | VLAN_PRESENT,
        );
        Ok(())
    }

    /// An MPLS action needs an MPLS packet (OpenFlow's OFPBAC_MATCH_INCONSISTENT otherwise).
    fn require_mpls(&self, action: &str) -> Result<(), String> {
        if self.flow.satisfies(Prereq::Mpls) {
            Ok(())
        } else {
            Err(format!(
                "{action} requires mpls or mplsm, which the match does not guarantee (add e.g. 'mpls,' to the match)"
            ))
        }
    }

    /// push_mpls and pop_mpls change the packet's ethertype for the actions after them.
    fn set_dl_type(&mut self, dl_type: u16) {
        self.flow.set_masked(Field::DlType, u128::from(dl_type), u128::MAX);
    }

    fn mark_vlan_present(&mut self) {
        let (value, mask) = self.flow.value_and_mask(Field::VlanTci);
        self.flow.set_masked(Field::VlanTci, value | VLAN_PRESENT, mask | VLAN_PRESENT);
    }

    pub(crate) fn check(&mut self, action: &Action) -> Result<(), String> {
        match action {
            Action::Output { port, .. } => {
                let reserved = [OfPort::IN_PORT, OfPort::NORMAL, OfPort::FLOOD, OfPort::ALL, OfPort::LOCAL];
                if !port.is_switch_port() && !reserved.contains(port) {
                    return Err(format!("cannot output to {port}"));
                }
            }
            Action::Resubmit { port, table } => {
                if !port.is_switch_port() && *port != OfPort::IN_PORT && *port != OfPort::LOCAL {
                    return Err(format!("cannot resubmit as if from {port}"));
                }
                if *port == OfPort::IN_PORT && table.is_none() {
                    return Err("resubmit needs a port or a table (or both)".to_string());
                }
                if table.is_some_and(|t| t == u8::MAX) {
                    return Err("table 255 is not a table (0..254)".to_string());
                }
            }
            Action::SetField { field, value, mask } => {
                ActionChecker::require_writable(*field)?;
                self.require(*field, field.def().prereq)?;
                if *field == Field::VlanTci {
                    self.write_vlan_tci(*value, *mask)?;
                }
            }
            Action::Load { value, dst } => {
                dst.check_bounds()?;
                ActionChecker::require_writable(dst.field)?;
                self.require(dst.field, dst.field.def().prereq)?;
                if dst.bits < 128 && value >> dst.bits != 0 {
                    return Err(format!("value does not fit in the {} bits of {dst}", dst.bits));
                }
                if dst.field == Field::VlanTci {
                    self.write_vlan_tci(value.checked_shl(dst.offset).unwrap_or(0), dst.field_mask())?;
                }
            }
            Action::Move { src, dst } => {
                src.check_bounds()?;
                dst.check_bounds()?;
                if src.bits != dst.bits {
                    return Err(format!(
                        "source {src} is {} bits wide but destination {dst} is {} bits wide",
                        src.bits, dst.bits
                    ));
                }
                self.require(src.field, src.field.def().prereq)?;
                ActionChecker::require_writable(dst.field)?;
                self.require(dst.field, dst.field.def().prereq)?;
            }
            Action::SetVlanVid { .. } | Action::SetVlanPcp { .. } => self.mark_vlan_present(),
            Action::PopVlan => {
                let (value, mask) = self.flow.value_and_mask(Field::VlanTci2);
                self.flow.set_masked(Field::VlanTci, value, mask);
                self.flow.wildcard(Field::VlanTci2);
            }
            Action::PushVlan { .. } => {
                let (value, mask) = self.flow.value_and_mask(Field::VlanTci);
                self.flow.set_masked(Field::VlanTci2, value, mask);
                self.flow.set_masked(Field::VlanTci, VLAN_PRESENT, VLAN_PRESENT);
            }
            Action::Learn(learn) => learn.check(&self.flow)?,
            Action::PushMpls { ethertype } => {
                if !ethertype::is_mpls(*ethertype) {
                    return Err(format!("push_mpls needs an MPLS ethertype (0x8847 or 0x8848), not {ethertype:#06x}"));
                }
                self.set_dl_type(*ethertype);
            }
            Action::PopMpls { ethertype } => {
                self.require_mpls("pop_mpls")?;
                self.set_dl_type(*ethertype);
            }
            Action::SetMplsLabel(_) => self.require_mpls("set_mpls_label")?,
            Action::SetMplsTc(_) => self.require_mpls("set_mpls_tc")?,
            Action::SetMplsTtl(_) => self.require_mpls("set_mpls_ttl")?,
            Action::DecMplsTtl => self.require_mpls("dec_mpls_ttl")?,
            Action::Group(id) => {
                if *id > GROUP_MAX {
                    return Err(format!("group {id} is not a group id (0..{GROUP_MAX})"));
                }
            }
            Action::Controller { .. }
            | Action::SetEthSrc(_)
            | Action::SetEthDst(_)
            | Action::SetIpv4Src(_)
            | Action::SetIpv4Dst(_)
            | Action::SetIpTos(_)
            | Action::SetIpEcn(_)
            | Action::SetIpTtl(_)
            | Action::SetL4SrcPort(_)
            | Action::SetL4DstPort(_)
            | Action::DecTtl
            | Action::SetTunnel(_)
            | Action::CopyTtlOut
            | Action::CopyTtlIn => {}
        }
        Ok(())
    }

    /// goto_table must go forward, to a table that exists.
    fn check_goto(&self, target: u8) -> Result<(), String> {
        if target == u8::MAX {
            return Err("table 255 is not a table (0..254)".to_string());
        }
        match self.table {
            Some(table) if target <= table => {
                Err(format!("goto_table must go to a later table than the rule's own (table {table})"))
            }
            _ => Ok(()),
        }
    }
}

/// The action set (write_actions) holds outputs, resubmits, field changes, VLAN push/pop and
/// dec_ttl, as in Open vSwitch; learn is not allowed there.
fn check_allowed_in_action_set(action: &Action) -> Result<(), String> {
    match action {
        Action::Learn(_) => Err("learn is not allowed inside write_actions".to_string()),
        _ => Ok(()),
    }
}

/// Where an instruction goes in the fixed OpenFlow order; actions may repeat, others may not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Stage {
    Start,
    Meter,
    Actions,
    ClearActions,
    WriteActions,
    WriteMetadata,
    GotoTable,
}

impl Stage {
    fn name(self) -> &'static str {
        match self {
            Stage::Start => "nothing",
            Stage::Meter => "meter",
            Stage::Actions => "actions",
            Stage::ClearActions => "clear_actions",
            Stage::WriteActions => "write_actions",
            Stage::WriteMetadata => "write_metadata",
            Stage::GotoTable => "goto_table",
        }
    }
}

/// Action names ovs-ofctl knows that this switch does not handle yet.
const UNSUPPORTED_ACTIONS: &str = "\
    enqueue set_queue pop_queue dec_nsh_ttl note ct ct_clear nat multipath bundle bundle_load output_reg \
    output_trunc exit fin_timeout sample clone check_pkt_larger encap decap push pop conjunction \
    debug_recirc debug_slow delete_field";

/// Parses everything after `actions=`: actions and instructions, checked against the match as
/// they come. An empty list, or `drop` alone, drops.
pub(crate) fn parse_instructions(text: &str, checker: &mut ActionChecker) -> Result<Instructions, FlowParseError> {
    let mut instructions = Instructions::default();
    let mut stage = Stage::Start;
    let mut drop_token = None;
    for item in Items::new(text) {
        let item = item?;
        let name = item.key.to_ascii_lowercase();
        let error = |problem: String| FlowParseError::new(item.text, problem);
        let next = match name.as_str() {
            "drop" => {
                expect_no_value(&item).map_err(error)?;
                drop_token = Some(item.text);
                continue;
            }
            "meter" => Stage::Meter,
            "clear_actions" => Stage::ClearActions,
            "write_actions" => Stage::WriteActions,
            "write_metadata" => Stage::WriteMetadata,
            "goto_table" => Stage::GotoTable,
            "apply_actions" => {
                return Err(error("apply_actions is the default instruction; write the actions directly".to_string()))
            }
            _ => Stage::Actions,
        };
        if next < stage || (next == stage && next != Stage::Actions) {
            return Err(error(if next == stage {
                format!("{} is given twice", next.name())
            } else {
                format!(
                    "{} must come before {} (the order is meter, actions, clear_actions, write_actions, \
                     write_metadata, goto_table)",
                    next.name(),
                    stage.name()
                )
            }));
        }
        stage = next;
        match next {
            Stage::Start => {}
            Stage::Meter => {
                let id = parse_decimal::<u32>(needs_value(&item).map_err(error)?)
                    .filter(|&id| id != 0)
                    .ok_or_else(|| error("not a meter id (1..4294967295)".to_string()))?;
                instructions.meter = Some(id);
            }
            Stage::Actions => {
                let action = parse_action(&item).map_err(error)?;
                checker.check(&action).map_err(error)?;
                instructions.apply_actions.push(action);
            }
            Stage::ClearActions => {
                expect_no_value(&item).map_err(error)?;
                instructions.clear_actions = true;
            }
            Stage::WriteActions => {
                if item.delimiter != Delimiter::Paren {
                    return Err(error("expected write_actions(action,...)".to_string()));
                }
                let mut nested = checker.clone();
                let actions = parse_action_set(item.value, &mut nested)?;
                // Writing nothing into the action set does nothing; Open vSwitch drops it too.
                instructions.write_actions = (!actions.is_empty()).then_some(actions);
            }
            Stage::WriteMetadata => {
                let (value, mask) =
                    parse_masked(Field::Metadata, "write_metadata", needs_value(&item).map_err(error)?, true)
                        .map_err(error)?;
                // parse_masked holds both to the field's 64 bits.
                let bits64 = |n: u128| u64::try_from(n).map_err(|_| error("write_metadata is 64 bits".to_string()));
                instructions.write_metadata = Some(WriteMetadata { value: bits64(value)?, mask: bits64(mask)? });
            }
            Stage::GotoTable => {
                let table = parse_table(needs_value(&item).map_err(error)?).map_err(error)?;
                checker.check_goto(table).map_err(error)?;
                instructions.goto_table = Some(table);
            }
        }
    }
    if let Some(token) = drop_token {
        if !instructions.is_drop() {
            return Err(FlowParseError::new(token, "cannot be combined with other actions"));
        }
    }
    Ok(instructions)
}

/// The actions inside `write_actions(...)`.
fn parse_action_set(text: &str, checker: &mut ActionChecker) -> Result<Vec<Action>, FlowParseError> {
    let mut actions = Vec::new();
    for item in Items::new(text) {
        let item = item?;
        let error = |problem: String| FlowParseError::new(item.text, problem);
        let name = item.key.to_ascii_lowercase();
        if name == "drop" {
            expect_no_value(&item).map_err(error)?;
            continue;
        }
        if matches!(name.as_str(), "meter" | "clear_actions" | "write_actions" | "write_metadata" | "goto_table") {
            return Err(error(format!("{name} is an instruction, not allowed inside write_actions")));
        }
        let action = parse_action(&item).map_err(error)?;
        check_allowed_in_action_set(&action).map_err(error)?;
        checker.check(&action).map_err(error)?;
        actions.push(action);
    }
    Ok(actions)
}

fn expect_no_value(item: &Item) -> Result<(), String> {
    if item.delimiter == Delimiter::None {
        Ok(())
    } else {
        Err(format!("{} takes no value", item.key))
    }
}

fn needs_value<'a>(item: &Item<'a>) -> Result<&'a str, String> {
    if item.value.is_empty() {
        Err(format!("missing value; expected {}:<value>", item.key))
    } else {
        Ok(item.value)
    }
}

/// Plain decimal digits only (no sign, no spaces) that fit in `T`.
pub(crate) fn parse_decimal<T: std::str::FromStr>(text: &str) -> Option<T> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// A table number 0..254 (255 means "all tables" in OpenFlow, not a table).
pub(crate) fn parse_table(text: &str) -> Result<u8, String> {
    parse_decimal::<u8>(text).filter(|&table| table != u8::MAX).ok_or_else(|| "not a table number (0..254)".to_string())
}

/// An integer of at most `max`, decimal or 0x hex.
fn parse_bounded<T: TryFrom<u128>>(text: &str, max: u128, what: &str) -> Result<T, String> {
    parse_integer(text).filter(|&n| n <= max).and_then(|n| T::try_from(n).ok()).ok_or_else(|| format!("not {what}"))
}

fn parse_action(item: &Item) -> Result<Action, String> {
    let name = item.key.to_ascii_lowercase();
    let bare = |action: Action| expect_no_value(item).map(|()| action);
    match name.as_str() {
        "output" => output_to(needs_value(item)?),
        "controller" => parse_controller(item),
        "in_port" | "normal" | "flood" | "all" | "local" | "table" | "none" | "any" => {
            if item.delimiter != Delimiter::None && Field::resolve(item.key).is_some() {
                return Err(MATCH_FIELD_AFTER_ACTIONS.to_string());
            }
            expect_no_value(item)?;
            output_to(item.key)
        }
        _ if !name.is_empty() && name.bytes().all(|b| b.is_ascii_digit()) => {
            expect_no_value(item)?;
            output_to(item.key)
        }
        "resubmit" => parse_resubmit(item),
        "set_field" => parse_set_field(needs_value(item)?),
        "load" => parse_load(needs_value(item)?),
        "move" => {
            let (src, dst) = split_arrow(needs_value(item)?)?;
            Ok(Action::Move { src: Subfield::parse(src)?, dst: Subfield::parse(dst)? })
        }
        "mod_vlan_vid" | "set_vlan_vid" => {
            let vid = parse_bounded::<u16>(needs_value(item)?, VLAN_VID_MASK, "a VLAN id (0..4095)")?;
            Ok(Action::SetVlanVid { vid, push_if_needed: name == "mod_vlan_vid" })
        }
        "mod_vlan_pcp" | "set_vlan_pcp" => {
            let pcp = parse_bounded::<u8>(needs_value(item)?, 7, "a VLAN priority (0..7)")?;
            Ok(Action::SetVlanPcp { pcp, push_if_needed: name == "mod_vlan_pcp" })
        }
        "strip_vlan" | "pop_vlan" => bare(Action::PopVlan),
        "push_vlan" => match parse_integer(needs_value(item)?).and_then(|tpid| u16::try_from(tpid).ok()) {
            Some(tpid) if ethertype::is_vlan(tpid) => Ok(Action::PushVlan { tpid }),
            _ => Err("not a VLAN ethertype (0x8100 or 0x88a8)".to_string()),
        },
        "mod_dl_src" | "mod_dl_dst" => {
            let mac = parse_ethernet(needs_value(item)?)
                .and_then(|mac| u64::try_from(mac).ok())
                .ok_or("invalid Ethernet address (expected xx:xx:xx:xx:xx:xx)")?;
            Ok(if name == "mod_dl_src" { Action::SetEthSrc(mac) } else { Action::SetEthDst(mac) })
        }
        "mod_nw_src" | "mod_nw_dst" => {
            let address = parse_ipv4(needs_value(item)?).ok_or("invalid IPv4 address")?;
            Ok(if name == "mod_nw_src" { Action::SetIpv4Src(address) } else { Action::SetIpv4Dst(address) })
        }
        "mod_nw_tos" => {
            let tos = parse_bounded::<u8>(needs_value(item)?, 0xff, "a TOS value (0..255)")?;
            if tos & 0x03 != 0 {
                return Err("the low 2 bits of the TOS are ECN and must be 0; use mod_nw_ecn for them".to_string());
            }
            Ok(Action::SetIpTos(tos))
        }
        "mod_nw_ecn" => Ok(Action::SetIpEcn(parse_bounded::<u8>(needs_value(item)?, 3, "an ECN value (0..3)")?)),
        "mod_nw_ttl" | "set_nw_ttl" => {
            Ok(Action::SetIpTtl(parse_bounded::<u8>(needs_value(item)?, 0xff, "a TTL (0..255)")?))
        }
        "mod_tp_src" | "mod_tp_dst" => {
            let port = parse_bounded::<u16>(needs_value(item)?, 0xffff, "a port number (0..65535)")?;
            Ok(if name == "mod_tp_src" { Action::SetL4SrcPort(port) } else { Action::SetL4DstPort(port) })
        }
        "dec_ttl" => {
            if item.delimiter == Delimiter::Paren {
                return Err("dec_ttl with controller ids is not supported yet".to_string());
            }
            bare(Action::DecTtl)
        }
        "push_mpls" | "pop_mpls" => {
            let ethertype = parse_bounded::<u16>(needs_value(item)?, 0xffff, "an ethertype (0..0xffff)")?;
            if name == "pop_mpls" {
                return Ok(Action::PopMpls { ethertype });
            }
            if !ethertype::is_mpls(ethertype) {
                return Err("not an MPLS ethertype (0x8847 or 0x8848)".to_string());
            }
            Ok(Action::PushMpls { ethertype })
        }
        "set_mpls_label" => {
            Ok(Action::SetMplsLabel(parse_bounded::<u32>(needs_value(item)?, 0xf_ffff, "an MPLS label (0..1048575)")?))
        }
        "set_mpls_tc" => Ok(Action::SetMplsTc(parse_bounded::<u8>(needs_value(item)?, 7, "an MPLS TC (0..7)")?)),
        "set_mpls_ttl" => Ok(Action::SetMplsTtl(parse_bounded::<u8>(needs_value(item)?, 0xff, "a TTL (0..255)")?)),
        "dec_mpls_ttl" => bare(Action::DecMplsTtl),
        "copy_ttl_out" => bare(Action::CopyTtlOut),
        "copy_ttl_in" => bare(Action::CopyTtlIn),
        "set_tunnel" | "set_tunnel64" => {
            let id = parse_bounded::<u64>(needs_value(item)?, u128::from(u64::MAX), "a tunnel id (64 bits)")?;
            Ok(Action::SetTunnel(id))
        }
        "group" => parse_decimal::<u32>(needs_value(item)?)
            .filter(|&id| id <= GROUP_MAX)
            .map(Action::Group)
            .ok_or_else(|| format!("not a group id (0..{GROUP_MAX})")),
        "learn" => {
            if item.delimiter != Delimiter::Paren {
                return Err("expected learn(...)".to_string());
            }
            Ok(Action::Learn(Box::new(Learn::parse(item.value)?)))
        }
        _ if UNSUPPORTED_ACTIONS.split_ascii_whitespace().any(|listed| listed == name) => {
            Err("action not supported yet".to_string())
        }
        _ if item.delimiter == Delimiter::Equals => Err(MATCH_FIELD_AFTER_ACTIONS.to_string()),
        _ => Err("unknown action".to_string()),
    }
}

const MATCH_FIELD_AFTER_ACTIONS: &str = "unknown action (match fields go before actions=, which must come last)";

/// `output:PORT` and the bare port forms.
fn output_to(text: &str) -> Result<Action, String> {
    if text.contains('[') {
        return Err("output to a field (output:NXM_NX_REG0[]) is not supported yet".to_string());
    }
    match OfPort::parse(text)? {
        OfPort::CONTROLLER => Ok(Action::Controller { max_len: u16::MAX, reason: PacketInReason::Action }),
        OfPort::TABLE => Err("output to TABLE is only for packet-out".to_string()),
        OfPort::NONE => Err("output to no port; write drop".to_string()),
        port => Ok(Action::output(port)),
    }
}

/// `controller`, `controller:max_len`, `controller(key=value,...)`.
fn parse_controller(item: &Item) -> Result<Action, String> {
    let mut max_len = u16::MAX;
    let mut reason = PacketInReason::Action;
    match item.delimiter {
        Delimiter::None => {}
        Delimiter::Equals | Delimiter::Colon => {
            max_len = parse_decimal(item.value).ok_or("not a maximum length (0..65535)")?;
        }
        Delimiter::Paren => {
            for argument in Items::new(item.value) {
                let argument = argument.map_err(|e| e.to_string())?;
                match argument.key {
                    "max_len" => {
                        max_len = parse_decimal(argument.value)
                            .ok_or_else(|| format!("{}: not a maximum length (0..65535)", argument.text))?;
                    }
                    "reason" => {
                        reason = PacketInReason::parse(argument.value).ok_or_else(|| {
                            format!(
                                "{}: unknown reason (action, no_match, invalid_ttl, action_set, group, packet_out)",
                                argument.text
                            )
                        })?;
                    }
                    "id" | "userdata" | "pause" | "meter_id" => {
                        return Err(format!("{}: not supported yet", argument.text));
                    }
                    _ => return Err(format!("{}: unknown controller option", argument.text)),
                }
            }
        }
    }
    Ok(Action::Controller { max_len, reason })
}

/// `resubmit:port` or `resubmit([port],[table])`.
fn parse_resubmit(item: &Item) -> Result<Action, String> {
    let port = |text: &str| if text.is_empty() { Ok(OfPort::IN_PORT) } else { OfPort::parse(text) };
    match item.delimiter {
        Delimiter::None => Err("expected resubmit:port or resubmit(port,table)".to_string()),
        Delimiter::Equals | Delimiter::Colon => Ok(Action::Resubmit { port: port(item.value)?, table: None }),
        Delimiter::Paren => {
            let parts: Vec<&str> = item.value.split(',').map(str::trim).collect();
            match parts.as_slice() {
                [in_port, table] => {
                    let table = if table.is_empty() { None } else { Some(parse_table(table)?) };
                    Ok(Action::Resubmit { port: port(in_port)?, table })
                }
                [_, _, "ct"] => Err("resubmit with ct is not supported yet".to_string()),
                _ => Err("expected resubmit(port,table), either part may be empty".to_string()),
            }
        }
    }
}

/// Splits `a->b`.
fn split_arrow(text: &str) -> Result<(&str, &str), String> {
    match text.split_once("->") {
        Some((left, right)) if !left.is_empty() && !right.is_empty() => Ok((left, right)),
        _ => Err("expected SOURCE->DESTINATION".to_string()),
    }
}

/// `set_field:value[/mask]->field`. Besides the registry fields: nw_tos (the DSCP bits),
/// ip_dscp, nw_ecn / ip_ecn, vlan_vid and vlan_pcp, which write part of a field.
fn parse_set_field(text: &str) -> Result<Action, String> {
    let (value_text, name) = split_arrow(text)?;
    let integer = |max: u128, what: &str| parse_bounded::<u128>(value_text, max, what);
    let (field, value, mask) = match name {
        "nw_tos" => {
            let tos = integer(0xff, "a TOS value (0..255)")?;
            if tos & 0x03 != 0 {
                return Err("the low 2 bits of nw_tos are ECN and must be 0; set nw_ecn for them".to_string());
            }
            (Field::NwTos, tos, 0xfc)
        }
        "ip_dscp" => (Field::NwTos, integer(63, "a DSCP value (0..63)")? << 2, 0xfc),
        "nw_ecn" | "ip_ecn" => (Field::NwTos, integer(3, "an ECN value (0..3)")?, 0x03),
        "vlan_vid" => {
            let vid = integer(VLAN_PRESENT | VLAN_VID_MASK, "a VLAN id (0..4095, optionally | 0x1000)")?;
            (Field::VlanTci, vid & VLAN_VID_MASK, VLAN_VID_MASK)
        }
        "vlan_pcp" => (Field::VlanTci, integer(7, "a VLAN priority (0..7)")? << vlan::PCP_SHIFT, VLAN_PCP_MASK),
        _ => {
            let (field, _) = Field::resolve(name).ok_or_else(|| format!("unknown field {name:?}"))?;
            let (value, mask) = parse_masked(field, name, value_text, field.def().maskable)?;
            (field, value, mask)
        }
    };
    Ok(Action::SetField { field, value: value & mask, mask })
}

/// `load:value->dst[...]`.
fn parse_load(text: &str) -> Result<Action, String> {
    let (value, dst) = split_arrow(text)?;
    let value = parse_integer(value)
        .ok_or("load takes a number (decimal or 0x hex) before '->'; to copy a field use move:SRC[]->DST[]")?;
    Ok(Action::Load { value, dst: Subfield::parse(dst)? })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::match_::numbers::*;

    fn ip_match() -> Match {
        let mut m = Match::catch_all();
        m.set_exact(Field::DlType, ETH_TYPE_IP);
        m
    }

    fn parse(text: &str, matches: &Match) -> Result<Instructions, String> {
        let mut checker = ActionChecker::new(matches, Some(0));
        parse_instructions(text, &mut checker).map_err(|e| e.to_string())
    }

    fn actions(text: &str) -> Vec<Action> {
        parse(text, &Match::catch_all()).unwrap().apply_actions
    }

    #[test]
    fn subfields() {
        assert_eq!(
            Subfield::parse("NXM_OF_VLAN_TCI[0..11]"),
            Ok(Subfield { field: Field::VlanTci, offset: 0, bits: 12 })
        );
        assert_eq!(Subfield::parse("NXM_OF_ETH_DST[]"), Ok(Subfield::whole(Field::DlDst)));
        assert_eq!(Subfield::parse("reg0[5]"), Ok(Subfield { field: Field::Reg(0), offset: 5, bits: 1 }));
        assert_eq!(Subfield::parse("vlan_tci[0..11]"), Ok(Subfield { field: Field::VlanTci, offset: 0, bits: 12 }));
        assert_eq!(Subfield::parse("tun_id"), Ok(Subfield::whole(Field::TunId)));
        assert!(Subfield::parse("NXM_OF_ETH_DST[]").unwrap().is_whole());
        assert_eq!(Subfield::parse("reg0[5..3]"), Err("starting bit 5 is after ending bit 3".to_string()));
        assert_eq!(Subfield::parse("reg0[32]"), Err("bit 32 is beyond the 32-bit field NXM_NX_REG0".to_string()));
        assert_eq!(Subfield::parse("bogus[]"), Err("unknown field \"bogus\"".to_string()));
        for bad in ["reg0[", "reg0[]x", "reg0[a..b]", "reg0[1..]", "reg0[-1]", "reg0[1...2]"] {
            assert!(Subfield::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(Subfield { field: Field::Reg(0), offset: 4, bits: 4 }.field_mask(), 0xf0);
        assert_eq!(Subfield::whole(Field::Ipv6Src).field_mask(), u128::MAX);
        assert!(Subfield { field: Field::Reg(0), offset: 30, bits: 4 }.check_bounds().is_err());
        assert!(Subfield { field: Field::Reg(0), offset: 0, bits: 0 }.check_bounds().is_err());
    }

    #[test]
    fn outputs_and_reserved_ports() {
        assert_eq!(
            actions("output:1,2,IN_PORT,in_port,output:in_port,NORMAL,flood,All,LOCAL,output:LOCAL"),
            vec![
                Action::output(OfPort(1)),
                Action::output(OfPort(2)),
                Action::output(OfPort::IN_PORT),
                Action::output(OfPort::IN_PORT),
                Action::output(OfPort::IN_PORT),
                Action::output(OfPort::NORMAL),
                Action::output(OfPort::FLOOD),
                Action::output(OfPort::ALL),
                Action::output(OfPort::LOCAL),
                Action::output(OfPort::LOCAL),
            ]
        );
        let controller = |max_len, reason| Action::Controller { max_len, reason };
        assert_eq!(
            actions("CONTROLLER,controller:100,output:CONTROLLER,controller(reason=no_match,max_len=64)"),
            vec![
                controller(65535, PacketInReason::Action),
                controller(100, PacketInReason::Action),
                controller(65535, PacketInReason::Action),
                controller(64, PacketInReason::NoMatch),
            ]
        );
        assert_eq!(parse("output:0", &Match::catch_all()).unwrap_err(), "output:0: port number out of range 1..=65279");
        assert_eq!(
            parse("output:TABLE", &Match::catch_all()).unwrap_err(),
            "output:TABLE: output to TABLE is only for packet-out"
        );
        assert_eq!(
            parse("output:NONE", &Match::catch_all()).unwrap_err(),
            "output:NONE: output to no port; write drop"
        );
        assert!(parse("output:NXM_NX_REG0[]", &Match::catch_all()).unwrap_err().contains("not supported yet"));
        assert!(parse("controller(reason=bogus)", &Match::catch_all()).unwrap_err().contains("unknown reason"));
        assert!(parse("controller(userdata=00)", &Match::catch_all()).unwrap_err().contains("not supported yet"));
        assert!(parse("controller(foo=1)", &Match::catch_all()).unwrap_err().contains("unknown controller option"));
        assert!(parse("controller:x", &Match::catch_all()).unwrap_err().contains("not a maximum length"));
        assert_eq!(parse("normal:1", &Match::catch_all()).unwrap_err(), "normal:1: normal takes no value");
        assert_eq!(
            parse("output:2,in_port=1", &Match::catch_all()).unwrap_err(),
            "in_port=1: unknown action (match fields go before actions=, which must come last)"
        );
    }

    #[test]
    fn resubmit_forms() {
        assert_eq!(
            actions("resubmit(,1),resubmit:3,resubmit(2,),resubmit(IN_PORT,4),resubmit(LOCAL,5)"),
            vec![
                Action::Resubmit { port: OfPort::IN_PORT, table: Some(1) },
                Action::Resubmit { port: OfPort(3), table: None },
                Action::Resubmit { port: OfPort(2), table: None },
                Action::Resubmit { port: OfPort::IN_PORT, table: Some(4) },
                Action::Resubmit { port: OfPort::LOCAL, table: Some(5) },
            ]
        );
        let m = Match::catch_all();
        assert!(parse("resubmit(,255)", &m).unwrap_err().contains("not a table number"));
        assert!(parse("resubmit(1,2,ct)", &m).unwrap_err().contains("not supported yet"));
        assert!(parse("resubmit(1)", &m).unwrap_err().contains("expected resubmit(port,table)"));
        assert!(parse("resubmit", &m).unwrap_err().contains("expected resubmit:port"));
        assert!(parse("resubmit:FLOOD", &m).unwrap_err().contains("cannot resubmit as if from FLOOD"));
        for no_target in ["resubmit(,)", "resubmit:IN_PORT", "resubmit(in_port,)"] {
            assert!(parse(no_target, &m).unwrap_err().contains("needs a port or a table"), "{no_target}");
        }
    }

    #[test]
    fn set_field_load_and_move() {
        let m = ip_match();
        let parsed =
            parse("set_field:10.0.0.1->nw_dst,set_field:0x5/0xf->reg1,load:0x2a->NXM_NX_REG0[0..7]", &m).unwrap();
        assert_eq!(
            parsed.apply_actions,
            vec![
                Action::SetField { field: Field::NwDst, value: 0x0a00_0001, mask: 0xffff_ffff },
                Action::SetField { field: Field::Reg(1), value: 5, mask: 0xf },
                Action::Load { value: 0x2a, dst: Subfield { field: Field::Reg(0), offset: 0, bits: 8 } },
            ]
        );
        assert_eq!(
            parse("move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[]", &m).unwrap().apply_actions,
            vec![Action::Move { src: Subfield::whole(Field::DlSrc), dst: Subfield::whole(Field::DlDst) }]
        );
        assert_eq!(
            parse("set_field:46->ip_dscp,set_field:1->nw_ecn,set_field:8->nw_tos", &m).unwrap().apply_actions,
            vec![
                Action::SetField { field: Field::NwTos, value: 184, mask: 0xfc },
                Action::SetField { field: Field::NwTos, value: 1, mask: 0x03 },
                Action::SetField { field: Field::NwTos, value: 8, mask: 0xfc },
            ]
        );
    }

    #[test]
    fn set_field_load_and_move_are_checked_like_ovs_ofctl() {
        let any = Match::catch_all();
        assert_eq!(
            parse("set_field:10.0.0.1->nw_dst", &any).unwrap_err(),
            "set_field:10.0.0.1->nw_dst: nw_dst requires ip, which the match does not guarantee \
             (add e.g. 'ip,' to the match)"
        );
        assert_eq!(
            parse("set_field:0x800->dl_type", &any).unwrap_err(),
            "set_field:0x800->dl_type: dl_type is read-only"
        );
        assert!(parse("set_field:80->tp_dst", &ip_match()).unwrap_err().contains("tp_dst requires tcp, udp or sctp"));
        assert!(parse("set_field:1/1->nw_ttl", &ip_match()).unwrap_err().contains("nw_ttl does not take a mask"));
        assert!(parse("set_field:1->bogus", &any).unwrap_err().contains("unknown field"));
        assert!(parse("set_field:1", &any).unwrap_err().contains("expected SOURCE->DESTINATION"));
        assert!(parse("set_field:5->nw_tos", &ip_match()).unwrap_err().contains("low 2 bits"));
        assert!(parse("set_field:5->vlan_vid", &any).unwrap_err().contains("requires a VLAN tag"));
        assert!(parse("mod_vlan_vid:5,set_field:5->vlan_vid,set_field:3->vlan_pcp", &any).is_ok());
        assert!(parse("load:0x100->NXM_NX_REG0[0..7]", &any).unwrap_err().contains("does not fit in the 8 bits"));
        assert!(parse("load:1->NXM_OF_ETH_TYPE[]", &any).unwrap_err().contains("dl_type is read-only"));
        assert!(parse("load:NXM_NX_REG1[]->NXM_NX_REG0[]", &any).unwrap_err().contains("to copy a field use move"));
        assert!(parse("load:1->NXM_OF_IP_SRC[]", &any).unwrap_err().contains("nw_src requires ip"));
        assert_eq!(
            parse("move:NXM_NX_REG0[0..3]->NXM_NX_REG1[0..7]", &any).unwrap_err(),
            "move:NXM_NX_REG0[0..3]->NXM_NX_REG1[0..7]: source NXM_NX_REG0[0..3] is 4 bits wide but destination \
             NXM_NX_REG1[0..7] is 8 bits wide"
        );
        assert!(parse("move:NXM_OF_IP_SRC[]->NXM_NX_REG0[]", &any).unwrap_err().contains("nw_src requires ip"));
        assert!(parse("move:NXM_NX_REG0[]->NXM_OF_IP_SRC[]", &ip_match()).is_ok());
        assert!(parse("move:NXM_NX_REG0[0..15]->NXM_OF_ETH_TYPE[]", &any).unwrap_err().contains("read-only"));
    }

    #[test]
    fn vlan_state_follows_the_actions() {
        let any = Match::catch_all();
        assert!(parse("set_field:5->vlan_vid", &any).is_err());
        assert!(parse("push_vlan:0x8100,set_field:5->vlan_vid", &any).is_ok());
        assert!(parse("push_vlan:0x8100,strip_vlan,set_field:5->vlan_vid", &any).is_err());
        assert!(parse("set_field:0x1005->vlan_tci,set_field:5->vlan_vid", &any).is_ok());
        assert!(parse("set_field:0->vlan_tci,set_field:5->vlan_vid", &any).is_err());
        assert!(parse("load:0x1005->NXM_OF_VLAN_TCI[],set_field:5->vlan_vid", &any).is_ok());
        assert!(parse("load:5->NXM_OF_VLAN_TCI[0..11]", &any).unwrap_err().contains("requires a VLAN tag"));
        let mut tagged = Match::catch_all();
        tagged.set_exact(Field::VlanTci, 0x1005);
        assert!(parse("set_field:7->vlan_vid,load:5->NXM_OF_VLAN_TCI[0..11]", &tagged).is_ok());
        assert!(parse("strip_vlan,set_field:7->vlan_vid", &tagged).is_err());
        assert!(parse("write_actions(push_vlan:0x8100),set_field:7->vlan_vid", &any).is_err());
    }

    #[test]
    fn legacy_actions() {
        assert_eq!(
            actions(
                "mod_vlan_vid:1,set_vlan_vid:4095,mod_vlan_pcp:7,set_vlan_pcp:0,strip_vlan,pop_vlan,push_vlan:0x88a8,\
                 mod_dl_src:00:00:00:00:00:01,mod_dl_dst:02:00:00:00:00:00,mod_nw_src:1.2.3.4,mod_nw_dst:5.6.7.8,\
                 mod_nw_tos:184,mod_nw_ecn:3,mod_nw_ttl:64,mod_tp_src:1,mod_tp_dst:65535,dec_ttl,set_tunnel:0x1,\
                 set_tunnel64:0xffffffffff"
            ),
            vec![
                Action::SetVlanVid { vid: 1, push_if_needed: true },
                Action::SetVlanVid { vid: 4095, push_if_needed: false },
                Action::SetVlanPcp { pcp: 7, push_if_needed: true },
                Action::SetVlanPcp { pcp: 0, push_if_needed: false },
                Action::PopVlan,
                Action::PopVlan,
                Action::PushVlan { tpid: 0x88a8 },
                Action::SetEthSrc(1),
                Action::SetEthDst(0x0200_0000_0000),
                Action::SetIpv4Src(Ipv4Addr::new(1, 2, 3, 4)),
                Action::SetIpv4Dst(Ipv4Addr::new(5, 6, 7, 8)),
                Action::SetIpTos(184),
                Action::SetIpEcn(3),
                Action::SetIpTtl(64),
                Action::SetL4SrcPort(1),
                Action::SetL4DstPort(65535),
                Action::DecTtl,
                Action::SetTunnel(1),
                Action::SetTunnel(0xff_ffff_ffff),
            ]
        );
        let m = Match::catch_all();
        for (text, problem) in [
            ("mod_vlan_vid:4096", "not a VLAN id"),
            ("mod_vlan_pcp:8", "not a VLAN priority"),
            ("push_vlan:0x0800", "not a VLAN ethertype"),
            ("mod_dl_src:00:00", "invalid Ethernet address"),
            ("mod_nw_src:1.2.3", "invalid IPv4 address"),
            ("mod_nw_tos:5", "low 2 bits"),
            ("mod_nw_ecn:4", "not an ECN value"),
            ("mod_nw_ttl:256", "not a TTL"),
            ("mod_tp_dst:65536", "not a port number"),
            ("dec_ttl(1,2)", "not supported yet"),
            ("dec_ttl:1", "takes no value"),
            ("set_tunnel:0x10000000000000000", "not a tunnel id"),
            ("strip_vlan:1", "takes no value"),
            ("mod_vlan_vid", "missing value"),
            ("learn:1", "expected learn(...)"),
            ("ct(commit,zone=1)", "action not supported yet"),
            ("enqueue:1:2", "action not supported yet"),
            ("bounce", "unknown action"),
        ] {
            let error = parse(text, &m).unwrap_err();
            assert!(error.starts_with(text) && error.contains(problem), "{text}: {error}");
        }
    }

    #[test]
    fn instructions_in_order() {
        let parsed =
            parse("meter:3,output:1,clear_actions,write_actions(output:2,set_field:1->reg0),write_metadata:0x1/0x3,goto_table:5", &Match::catch_all())
                .unwrap();
        assert_eq!(
            parsed,
            Instructions {
                meter: Some(3),
                apply_actions: vec![Action::output(OfPort(1))],
                clear_actions: true,
                write_actions: Some(vec![
                    Action::output(OfPort(2)),
                    Action::SetField { field: Field::Reg(0), value: 1, mask: 0xffff_ffff }
                ]),
                write_metadata: Some(WriteMetadata { value: 1, mask: 3 }),
                goto_table: Some(5),
            }
        );
        assert!(parsed.outputs_to(OfPort(2)) && parsed.outputs_to(OfPort(1)) && !parsed.outputs_to(OfPort(3)));
        assert_eq!(parse("write_actions()", &Match::catch_all()).unwrap(), Instructions::default());
        assert_eq!(
            parse("write_metadata:5", &Match::catch_all()).unwrap().write_metadata,
            Some(WriteMetadata { value: 5, mask: u64::MAX })
        );
    }

    #[test]
    fn instruction_errors() {
        let m = Match::catch_all();
        for (text, expected) in [
            ("goto_table:1,output:2", "output:2: actions must come before goto_table"),
            ("output:2,meter:1", "meter:1: meter must come before actions"),
            ("goto_table:1,goto_table:2", "goto_table:2: goto_table is given twice"),
            ("clear_actions,clear_actions", "clear_actions: clear_actions is given twice"),
            ("goto_table:0", "goto_table:0: goto_table must go to a later table than the rule's own (table 0)"),
            ("goto_table:255", "goto_table:255: not a table number (0..254)"),
            ("meter:0", "meter:0: not a meter id"),
            ("write_actions:1", "write_actions:1: expected write_actions(action,...)"),
            (
                "write_actions(goto_table:1)",
                "goto_table:1: goto_table is an instruction, not allowed inside write_actions",
            ),
            ("write_actions(learn(table=1))", "learn(table=1): learn is not allowed inside write_actions"),
            ("write_metadata:1/x", "write_metadata:1/x: invalid mask"),
            ("apply_actions(output:1)", "apply_actions(output:1): apply_actions is the default instruction"),
            ("clear_actions:1", "clear_actions:1: clear_actions takes no value"),
            ("drop,output:1", "drop: cannot be combined with other actions"),
            ("goto_table:1,drop", "drop: cannot be combined with other actions"),
            ("drop:1", "drop:1: drop takes no value"),
            ("write_actions(output:1", "write_actions(output:1: missing ')'"),
        ] {
            let error = parse(text, &m).unwrap_err();
            assert!(error.starts_with(expected), "{text}: {error}");
        }
        assert!(parse("drop", &m).unwrap().is_drop());
        assert!(parse("", &m).unwrap().is_drop());
        assert!(parse("write_actions(drop)", &m).is_ok());
    }

    #[test]
    fn programmatic_instructions_are_checked_too() {
        let ok = Instructions {
            apply_actions: vec![Action::output(OfPort(1))],
            goto_table: Some(2),
            ..Instructions::default()
        };
        assert_eq!(ok.check(&Match::catch_all(), Some(1)), Ok(()));
        assert_eq!(
            ok.check(&Match::catch_all(), Some(2)).unwrap_err().to_string(),
            "goto_table:2: goto_table must go to a later table than the rule's own (table 2)"
        );
        let bad = Instructions {
            apply_actions: vec![Action::SetField { field: Field::NwSrc, value: 1, mask: 0xffff_ffff }],
            ..Instructions::default()
        };
        assert!(bad
            .check(&Match::catch_all(), None)
            .unwrap_err()
            .to_string()
            .starts_with("set_field:0.0.0.1->ip_src: "));
        let bad_port = Instructions { apply_actions: vec![Action::output(OfPort::NONE)], ..Instructions::default() };
        assert!(bad_port.check(&Match::catch_all(), None).unwrap_err().to_string().contains("cannot output to ANY"));
        let learn_in_set = Instructions {
            write_actions: Some(vec![Action::Learn(Box::new(Learn::parse("table=1").unwrap()))]),
            ..Instructions::default()
        };
        assert!(learn_in_set.check(&Match::catch_all(), None).is_err());
        let resubmit_255 = Instructions {
            apply_actions: vec![Action::Resubmit { port: OfPort::IN_PORT, table: Some(255) }],
            ..Instructions::default()
        };
        assert!(resubmit_255.check(&Match::catch_all(), None).is_err());
        let move_widths = Instructions {
            apply_actions: vec![Action::Move {
                src: Subfield::whole(Field::Reg(0)),
                dst: Subfield::whole(Field::TunId),
            }],
            ..Instructions::default()
        };
        assert!(move_widths.check(&Match::catch_all(), None).unwrap_err().to_string().contains("bits wide"));
    }
}
