//! Flow monitors: a connection asks to hear of the rules that match a filter (table, out_port,
//! out_group, a match) - the ones there now (`initial`) and then every rule added, modified or
//! deleted, whatever changed it (a flow_mod of any connection, a bundle, vsctl, a learn action,
//! a timeout, a group delete). OpenFlow 1.4 and 1.5 have them as OFPMP_FLOW_MONITOR; 1.0 and 1.3
//! as Open vSwitch's extensions (NXST_FLOW_MONITOR in 1.0, the same body as ONFST_FLOW_MONITOR
//! in 1.3, with messages of their own to cancel, pause and resume).
//!
//! This module is the version-independent core: a connection's monitors
//! ([`ConnectionMonitors`]), the requests that add, modify or delete them ([`MonitorRequest`]),
//! which rules they watch, and the updates a set of table changes ([`ChangeSet`]) or a resume
//! makes for them, as [`FlowUpdate`]s. `nicira` encodes them for 1.0 and 1.3, `standard` for
//! 1.4 and 1.5 (where a request also modifies or deletes a monitor, and PAUSED and RESUMED are
//! updates of a reply). The management thread runs it (`registry` holds the monitors of each
//! connection): the tables journal their changes only while a monitor exists, and nothing
//! happens on the packet path.
//!
//! Semantics as Open vSwitch's (ofproto/connmgr): an add is ADDED (also when it replaces a
//! rule), a modify MODIFIED only when it changes the instructions or the cookie, a removal
//! DELETED with its reason; a monitor with `out_port` also hears of a rule whose replaced or
//! previous instructions output there. Several monitors that watch one change make one update,
//! with the actions if one asks for them. The changes a connection made itself are one
//! ABBREV update with the xid of the request, unless a monitor that watches them has `own`.
//! When the connection does not take its updates (more than [`PAUSE_BYTES`] queued) it is
//! paused: only deletions of rules older than the pause are reported, until the queue drains;
//! then every rule added or changed meanwhile is reported (ADDED or MODIFIED) and RESUMED.
//! A request of several monitors is applied whole or not at all (Open vSwitch keeps what a
//! refused request deleted or modified before its error).

pub mod nicira;
pub mod standard;

use std::collections::BTreeMap;
use std::sync::Arc;

use super::message::FlowRemovedReason;
use crate::flow::key::KEY_WORDS;
use crate::flow::{FlowRule, Instructions, Match, OfPort};
use crate::pipeline::table::{Removal, RuleEntry, RuleEvent, Timeout};

/// Updates queued for a connection (estimated bytes) beyond which it is paused: Open vSwitch's
/// limit.
pub const PAUSE_BYTES: usize = 128 * 1024;

/// What a monitor reports and how (NXFMF_* / OFPFMF_*).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MonitorFlags {
    /// The rules it watches when it starts.
    pub initial: bool,
    pub add: bool,
    pub delete: bool,
    pub modify: bool,
    /// Updates carry the rules' actions.
    pub actions: bool,
    /// The connection's own changes in full, not abbreviated.
    pub own: bool,
}

impl MonitorFlags {
    fn union(self, other: MonitorFlags) -> MonitorFlags {
        MonitorFlags {
            initial: self.initial | other.initial,
            add: self.add | other.add,
            delete: self.delete | other.delete,
            modify: self.modify | other.modify,
            actions: self.actions | other.actions,
            own: self.own | other.own,
        }
    }

    fn any(self) -> bool {
        self != MonitorFlags::default()
    }

    /// The flags of a wire format's flags field `bits` (`layout` says where each is); `None`
    /// for a bit the format does not have, or for no event to report (add, delete and modify
    /// all clear).
    pub fn from_bits(bits: u16, layout: &FlagBits) -> Option<MonitorFlags> {
        let FlagBits { initial, add, delete, modify, actions, own } = *layout;
        let known = initial | add | delete | modify | actions | own;
        if bits & (add | delete | modify) == 0 || bits & !known != 0 {
            return None;
        }
        Some(MonitorFlags {
            initial: bits & initial != 0,
            add: bits & add != 0,
            delete: bits & delete != 0,
            modify: bits & modify != 0,
            actions: bits & actions != 0,
            own: bits & own != 0,
        })
    }

    /// The flags field of a wire format whose bits `layout` gives.
    pub fn to_bits(self, layout: &FlagBits) -> u16 {
        [
            (self.initial, layout.initial),
            (self.add, layout.add),
            (self.delete, layout.delete),
            (self.modify, layout.modify),
            (self.actions, layout.actions),
            (self.own, layout.own),
        ]
        .iter()
        .filter(|(set, _)| *set)
        .fold(0, |bits, (_, bit)| bits | bit)
    }
}

/// Where a wire format puts each of [`MonitorFlags`]' flags in its flags field.
#[derive(Debug, Clone, Copy)]
pub struct FlagBits {
    pub initial: u16,
    pub add: u16,
    pub delete: u16,
    pub modify: u16,
    pub actions: u16,
    pub own: u16,
}

/// What a monitor request does (OFPFMC_*; 1.0 and 1.3 only add, and cancel with a message).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MonitorCommand {
    /// A new monitor (its id not in use).
    Add,
    /// Replaces the monitor with this id (its initial rules are reported again if asked).
    Modify,
    /// Cancels the monitor with this id (the rest of the request does not count).
    Delete,
}

/// One monitor of a connection, or a request to change one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonitorRequest {
    /// Unique among the connection's monitors.
    pub id: u32,
    pub command: MonitorCommand,
    pub flags: MonitorFlags,
    /// One table, or 0xff for all.
    pub table_id: u8,
    /// Only rules that output to this port; [`OfPort::NONE`] (OFPP_ANY in 1.3): any rule.
    pub out_port: OfPort,
    /// Only rules that use this group (1.4's out_group; None: OFPG_ANY).
    pub out_group: Option<u32>,
    /// Rules at least as specific as this match (as flow stats select them).
    pub matches: Match,
}

impl MonitorRequest {
    /// Whether the monitor watches `rule`, or `rule` as it was before (`before`: the rule an
    /// add replaced or a modify changed, whose outputs count for `out_port`).
    fn watches(&self, rule: &FlowRule, before: Option<&FlowRule>) -> bool {
        // OFPP_NONE in 1.0; 1.3's OFPP_ANY reads as the same number.
        let any_port = self.out_port == OfPort::NONE;
        let outputs = |r: &FlowRule| any_port || r.instructions.outputs_to(self.out_port);
        (self.table_id == ALL_TABLES || self.table_id == rule.table)
            && rule.matches.is_subsumed_by(&self.matches)
            && (outputs(rule) || before.is_some_and(outputs))
            && self.out_group.is_none_or(|group| rule.instructions.groups().any(|id| id == group))
    }
}

/// Table id 0xff: every table.
pub const ALL_TABLES: u8 = 0xff;

/// What happened to the rule of a full update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateEvent {
    /// There when the monitor started (NXFME_ADDED in the Nicira format, OFPFME_INITIAL in 1.4).
    Initial,
    Added,
    Deleted(FlowRemovedReason),
    Modified,
}

/// A rule as an update describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FullUpdate {
    pub event: UpdateEvent,
    pub table_id: u8,
    pub priority: u16,
    pub idle_timeout: u16,
    pub hard_timeout: u16,
    pub cookie: u64,
    pub matches: Match,
    /// When a monitor asked for actions.
    pub instructions: Option<Instructions>,
}

/// One flow update of a flow monitor reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlowUpdate {
    Full(Box<FullUpdate>),
    /// The connection's own request with this xid changed rules its monitors watch.
    Abbrev {
        xid: u32,
    },
    /// 1.4+: the updates are paused (in 1.0 and 1.3 a message of its own,
    /// `Message::FlowMonitorPaused`).
    Paused,
    /// 1.4+: the updates go on (1.0 and 1.3: `Message::FlowMonitorResumed`).
    Resumed,
}

impl FlowUpdate {
    fn full(event: UpdateEvent, rule: &FlowRule, actions: bool) -> FlowUpdate {
        FlowUpdate::Full(Box::new(FullUpdate {
            event,
            table_id: rule.table,
            priority: rule.priority,
            idle_timeout: rule.idle_timeout,
            hard_timeout: rule.hard_timeout,
            cookie: rule.cookie,
            matches: rule.matches.clone(),
            instructions: actions.then(|| rule.instructions.clone()),
        }))
    }

    /// About how many bytes the update takes on the wire (for the pause limit): the fixed
    /// part, and 16 bytes per match word and action.
    pub fn estimated_len(&self) -> usize {
        match self {
            FlowUpdate::Abbrev { .. } | FlowUpdate::Paused | FlowUpdate::Resumed => 8,
            FlowUpdate::Full(full) => {
                let mask = full.matches.mask();
                let words = (0..KEY_WORDS).filter(|&i| mask.word(i) != 0).count();
                let actions = full
                    .instructions
                    .as_ref()
                    .map_or(0, |i| i.apply_actions.len() + i.write_actions.as_ref().map_or(0, Vec::len) + 2);
                24 + 16 * (words + actions)
            }
        }
    }
}

impl From<Removal> for FlowRemovedReason {
    fn from(removal: Removal) -> FlowRemovedReason {
        match removal {
            Removal::Delete => FlowRemovedReason::Delete,
            Removal::Timeout(Timeout::Idle) => FlowRemovedReason::IdleTimeout,
            Removal::Timeout(Timeout::Hard) => FlowRemovedReason::HardTimeout,
            Removal::GroupDelete => FlowRemovedReason::GroupDelete,
        }
    }
}

/// The connection and request that made a change (for abbreviated updates).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Requester {
    /// The connection's id in its bridge's registry.
    pub connection: u64,
    pub xid: u32,
}

/// The rule events of one change (a flow_mod, a bundle, a vsctl command, what expired or was
/// learned at one time): one flow monitor message per connection that watches any of them.
#[derive(Debug, Clone)]
pub struct ChangeSet {
    /// None: the switch itself (timeouts, learning) or vsctl.
    pub origin: Option<Requester>,
    pub events: Vec<RuleEvent>,
}

/// Why a monitor request or cancel is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MonitorError {
    /// The connection has a monitor with this id (OFPMOFC_MONITOR_EXISTS).
    Exists(u32),
    /// No monitor with this id (OFPMOFC_UNKNOWN_MONITOR).
    Unknown(u32),
    /// Not a table (OFPBRC_BAD_TABLE_ID).
    BadTable(u8),
}

impl std::fmt::Display for MonitorError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MonitorError::Exists(id) => write!(f, "flow monitor {id} exists"),
            MonitorError::Unknown(id) => write!(f, "no flow monitor {id}"),
            MonitorError::BadTable(table) => write!(f, "no table {table}"),
        }
    }
}

/// The monitors of one connection, and whether its updates are paused.
#[derive(Debug, Default)]
pub struct ConnectionMonitors {
    monitors: BTreeMap<u32, MonitorRequest>,
    /// Paused since the tables' revision was this: rules added or changed from it on are
    /// reported at the resume.
    paused_at: Option<u64>,
}

impl ConnectionMonitors {
    pub fn is_empty(&self) -> bool {
        self.monitors.is_empty()
    }

    pub fn is_paused(&self) -> bool {
        self.paused_at.is_some()
    }

    /// Applies `requests` in order, all or none (tables below `tables`; an added id new, a
    /// modified or deleted one in use), and returns the initial updates: each of `rules` (in
    /// dump order) that a monitor the requests added or modified with `initial` watches, once.
    pub fn apply(
        &mut self,
        requests: Vec<MonitorRequest>,
        tables: u8,
        rules: &[Arc<RuleEntry>],
    ) -> Result<Vec<FlowUpdate>, MonitorError> {
        let mut monitors = self.monitors.clone();
        let mut started = Vec::new();
        for request in requests {
            if request.table_id != ALL_TABLES && request.table_id >= tables {
                return Err(MonitorError::BadTable(request.table_id));
            }
            let exists = monitors.contains_key(&request.id);
            match request.command {
                MonitorCommand::Add if exists => return Err(MonitorError::Exists(request.id)),
                MonitorCommand::Modify | MonitorCommand::Delete if !exists => {
                    return Err(MonitorError::Unknown(request.id))
                }
                MonitorCommand::Delete => drop(monitors.remove(&request.id)),
                MonitorCommand::Add | MonitorCommand::Modify => {
                    started.push(request.id);
                    monitors.insert(request.id, request);
                }
            }
        }
        let initial: Vec<&MonitorRequest> =
            started.iter().filter_map(|id| monitors.get(id)).filter(|m| m.flags.initial).collect();
        let updates = rules
            .iter()
            .filter_map(|entry| {
                let flags = merged(initial.iter().copied(), |m| m.watches(entry.rule(), None))?;
                Some(FlowUpdate::full(UpdateEvent::Initial, entry.rule(), flags.actions))
            })
            .collect();
        self.monitors = monitors;
        Ok(updates)
    }

    pub fn cancel(&mut self, id: u32) -> Result<(), MonitorError> {
        self.monitors.remove(&id).map(drop).ok_or(MonitorError::Unknown(id))
    }

    /// The updates of one change set for this connection (`me`): nothing when no monitor
    /// watches its events. While paused, only deletions of rules older than the pause, in
    /// full.
    pub fn updates(&self, set: &ChangeSet, me: u64) -> Vec<FlowUpdate> {
        let own = set.origin.filter(|origin| origin.connection == me);
        let mut updates = Vec::new();
        let mut abbreviated = false;
        for event in &set.events {
            let entry = event.entry();
            let (wanted, kind): (fn(&MonitorFlags) -> bool, UpdateEvent) = match event {
                RuleEvent::Added { .. } => (|f| f.add, UpdateEvent::Added),
                RuleEvent::Modified { .. } => (|f| f.modify, UpdateEvent::Modified),
                RuleEvent::Removed { reason, .. } => (|f| f.delete, UpdateEvent::Deleted((*reason).into())),
            };
            if let Some(paused_at) = self.paused_at {
                if !matches!(event, RuleEvent::Removed { .. }) || entry.id() >= paused_at {
                    continue;
                }
            }
            let before = event.before().map(|b| b.rule());
            let Some(flags) = merged(self.monitors.values(), |m| wanted(&m.flags) && m.watches(entry.rule(), before))
            else {
                continue;
            };
            match own {
                Some(origin) if !flags.own && self.paused_at.is_none() => {
                    if !abbreviated {
                        updates.push(FlowUpdate::Abbrev { xid: origin.xid });
                        abbreviated = true;
                    }
                }
                _ => updates.push(FlowUpdate::full(kind, entry.rule(), flags.actions)),
            }
        }
        updates
    }

    /// Pauses the updates at the tables' revision `revision` (the next one to come).
    pub fn pause(&mut self, revision: u64) {
        self.paused_at.get_or_insert(revision);
    }

    /// Ends a pause: the updates of the rules (of `rules`, in dump order) added or changed
    /// since: ADDED for those added (that a monitor with `add` or `modify` watches), MODIFIED
    /// for the others (a monitor with `modify`), as Open vSwitch reports them. Nothing when not
    /// paused.
    pub fn resume(&mut self, rules: &[Arc<RuleEntry>]) -> Vec<FlowUpdate> {
        let Some(paused_at) = self.paused_at.take() else { return Vec::new() };
        rules
            .iter()
            .filter_map(|entry| {
                let added = entry.id() >= paused_at;
                if !added && entry.revision() < paused_at {
                    return None;
                }
                let flags = merged(self.monitors.values(), |m| {
                    (m.flags.modify || (added && m.flags.add)) && m.watches(entry.rule(), None)
                })?;
                let event = if added { UpdateEvent::Added } else { UpdateEvent::Modified };
                Some(FlowUpdate::full(event, entry.rule(), flags.actions))
            })
            .collect()
    }
}

/// The union of the flags of the monitors `watching` selects; None when it selects none.
fn merged<'a>(
    monitors: impl Iterator<Item = &'a MonitorRequest>,
    watching: impl Fn(&MonitorRequest) -> bool,
) -> Option<MonitorFlags> {
    let flags = monitors.filter(|m| watching(m)).fold(MonitorFlags::default(), |all, m| all.union(m.flags));
    flags.any().then_some(flags)
}

#[cfg(test)]
mod tests;
