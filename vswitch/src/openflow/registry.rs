//! The connections of one bridge as the management thread and the connections themselves see
//! them: each connection's push queue (packet-ins, port status, flow removed, flow updates),
//! its counters, its controller role and its flow monitors (`monitor`: the management thread
//! reports the tables' changes to them here, and pauses and resumes a connection by the
//! estimated bytes of updates it has not written yet); the bridge's role generation id; and
//! whether a controller (a TCP connection, not the management socket) is connected, for the
//! fail mode.
//!
//! Roles follow OpenFlow 1.3 (6.3.5): every connection starts equal; a master request demotes
//! the other master to slave; master and slave requests carry a generation id, and one older
//! than the newest seen (by the serial-number comparison of the spec) is refused as stale.
//! Slaves may not change the switch and get no packet-ins or flow-removed by default.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crossbeam::channel::{self, Receiver, Sender};

use super::conn::N_TABLES;
use super::message::{ControllerRole, Role};
use super::monitor::{ChangeSet, ConnectionMonitors, FlowUpdate, MonitorError, MonitorRequest, PAUSE_BYTES};
use super::service::Push;
use super::wire::{ErrorType, OfError, Version};
use crate::control::protocol::ConnectionStatus;
use crate::pipeline::table::RuleEntry;

/// Pushes queued for one connection at most; more are dropped (counted).
const PUSH_QUEUE: usize = 1024;
/// OFPRRFC_STALE.
const ROLE_STALE: u16 = 0;

/// The connections of one bridge.
#[derive(Debug)]
pub(super) struct Registry {
    members: Mutex<Members>,
    next_id: AtomicU64,
    /// Controller connections open now.
    controllers: AtomicUsize,
    /// When the last controller connection ended (or the bridge started).
    alone_since: Mutex<Instant>,
}

#[derive(Debug, Default)]
struct Members {
    by_id: HashMap<u64, Member>,
    /// The newest generation id of a master or slave request.
    generation: Option<u64>,
}

#[derive(Debug)]
struct Member {
    pushes: Sender<Push>,
    state: Arc<MemberState>,
    monitors: ConnectionMonitors,
}

/// What a connection shares with the registry: who it is, its version, role and counters.
#[derive(Debug)]
pub(super) struct MemberState {
    peer: String,
    controller: bool,
    since: Instant,
    /// The negotiated version's wire number; 0 before the HELLOs.
    version: AtomicU8,
    role: AtomicU8,
    /// Wants a packet-in for every table miss (OpenFlow 1.0's miss semantics).
    wants_misses: AtomicBool,
    pub(super) packet_ins: AtomicU64,
    /// Over the connection's packet-in rate limit.
    pub(super) packet_ins_limited: AtomicU64,
    /// Pushes the connection's queue had no room for (it is not keeping up).
    pub(super) pushes_dropped: AtomicU64,
    /// Estimated bytes of flow monitor messages queued for the connection and not written yet.
    pub(super) monitor_backlog: AtomicUsize,
}

impl MemberState {
    pub(super) fn set_version(&self, version: Version) {
        self.version.store(version.wire(), Ordering::Relaxed);
    }

    /// A controller's connection (TCP or TLS), not the management socket's.
    pub(super) fn is_controller(&self) -> bool {
        self.controller
    }

    pub(super) fn set_wants_misses(&self, wanted: bool) {
        self.wants_misses.store(wanted, Ordering::SeqCst);
    }

    pub(super) fn wants_misses(&self) -> bool {
        self.wants_misses.load(Ordering::SeqCst)
    }

    fn status(&self) -> ConnectionStatus {
        let role = match self.role() {
            ControllerRole::Master => "master",
            ControllerRole::Slave => "slave",
            ControllerRole::Equal | ControllerRole::NoChange => "equal",
        };
        ConnectionStatus {
            peer: self.peer.clone(),
            controller: self.controller,
            version: Version::from_wire(self.version.load(Ordering::Relaxed)).map(|v| v.to_string()),
            role: role.to_owned(),
            seconds: self.since.elapsed().as_secs(),
            packet_ins: self.packet_ins.load(Ordering::Relaxed),
            packet_ins_limited: self.packet_ins_limited.load(Ordering::Relaxed),
            pushes_dropped: self.pushes_dropped.load(Ordering::Relaxed),
        }
    }

    pub(super) fn role(&self) -> ControllerRole {
        match self.role.load(Ordering::SeqCst) {
            1 => ControllerRole::Master,
            2 => ControllerRole::Slave,
            _ => ControllerRole::Equal,
        }
    }

    fn set_role(&self, role: ControllerRole) {
        let value = match role {
            ControllerRole::Master => 1,
            ControllerRole::Slave => 2,
            ControllerRole::Equal | ControllerRole::NoChange => 0,
        };
        self.role.store(value, Ordering::SeqCst);
    }
}

/// What a flow monitor message's header takes (estimated, as the updates are).
pub(super) const MONITOR_MESSAGE_LEN: usize = 24;

impl Member {
    /// Queues a flow monitor push counted as `backlog` bytes until the connection writes it;
    /// false (counted as a dropped push) when the queue has no room.
    fn send_monitor_push(&self, push: Push, backlog: usize) -> bool {
        self.state.monitor_backlog.fetch_add(backlog, Ordering::SeqCst);
        if self.pushes.try_send(push).is_err() {
            self.state.monitor_backlog.fetch_sub(backlog, Ordering::SeqCst);
            self.state.pushes_dropped.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        true
    }
}

/// A connection's place in the registry while it lives.
pub(super) struct Membership {
    registry: Arc<Registry>,
    id: u64,
    pub(super) state: Arc<MemberState>,
}

impl Membership {
    /// The connection's id in its bridge's registry.
    pub(super) fn id(&self) -> u64 {
        self.id
    }
}

impl Drop for Membership {
    fn drop(&mut self) {
        self.registry.members().by_id.remove(&self.id);
    }
}

/// Counts a controller connection while it lives.
pub(super) struct ControllerConnected(Arc<Registry>);

impl Drop for ControllerConnected {
    fn drop(&mut self) {
        let mut since = self.0.alone_since.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if self.0.controllers.fetch_sub(1, Ordering::SeqCst) == 1 {
            *since = Instant::now();
        }
    }
}

impl Registry {
    pub(super) fn new() -> Arc<Registry> {
        Arc::new(Registry {
            members: Mutex::default(),
            next_id: AtomicU64::new(0),
            controllers: AtomicUsize::new(0),
            alone_since: Mutex::new(Instant::now()),
        })
    }

    fn members(&self) -> MutexGuard<'_, Members> {
        self.members.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Adds a connection (equal role) of `peer` (a controller: not the management socket);
    /// it leaves when the membership is dropped.
    pub(super) fn join(self: &Arc<Self>, peer: &str, controller: bool) -> (Membership, Receiver<Push>) {
        let (pushes, received) = channel::bounded(PUSH_QUEUE);
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let state = Arc::new(MemberState {
            peer: peer.to_owned(),
            controller,
            since: Instant::now(),
            version: AtomicU8::new(0),
            role: AtomicU8::new(0),
            wants_misses: AtomicBool::new(false),
            packet_ins: AtomicU64::new(0),
            packet_ins_limited: AtomicU64::new(0),
            pushes_dropped: AtomicU64::new(0),
            monitor_backlog: AtomicUsize::new(0),
        });
        let member = Member { pushes, state: state.clone(), monitors: ConnectionMonitors::default() };
        self.members().by_id.insert(id, member);
        (Membership { registry: self.clone(), id, state }, received)
    }

    /// The connections now, oldest first.
    pub(super) fn statuses(&self) -> Vec<ConnectionStatus> {
        let members = self.members();
        let mut ids: Vec<&u64> = members.by_id.keys().collect();
        ids.sort();
        ids.iter().filter_map(|id| members.by_id.get(id)).map(|member| member.state.status()).collect()
    }

    /// Whether a connection wants a packet-in for every table miss.
    pub(super) fn wants_misses(&self) -> bool {
        self.members().by_id.values().any(|member| member.state.wants_misses())
    }

    /// Queues `push` for every connection, never waiting: a connection whose queue is full
    /// misses it (counted).
    pub(super) fn push(&self, push: &Push) {
        for member in self.members().by_id.values() {
            if member.pushes.try_send(push.clone()).is_err() {
                member.state.pushes_dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Flow monitor requests of connection `connection` (add, modify, delete), all or none: the
    /// initial updates from `rules` (the bridge's, in dump order). A connection that is gone
    /// gets nothing.
    pub(super) fn apply_flow_monitor_requests(
        &self,
        connection: u64,
        requests: Vec<MonitorRequest>,
        rules: &[Arc<RuleEntry>],
    ) -> Result<Vec<FlowUpdate>, MonitorError> {
        match self.members().by_id.get_mut(&connection) {
            Some(member) => member.monitors.apply(requests, N_TABLES, rules),
            None => Ok(Vec::new()),
        }
    }

    pub(super) fn cancel_flow_monitor(&self, connection: u64, id: u32) -> Result<(), MonitorError> {
        match self.members().by_id.get_mut(&connection) {
            Some(member) => member.monitors.cancel(id),
            None => Err(MonitorError::Unknown(id)),
        }
    }

    /// Whether a connection has a flow monitor.
    pub(super) fn has_flow_monitors(&self) -> bool {
        self.members().by_id.values().any(|member| !member.monitors.is_empty())
    }

    /// Queues, for every connection with flow monitors, the updates of `sets` (one message per
    /// set it watches), never waiting. A connection whose backlog then passes
    /// [`PAUSE_BYTES`] (or whose queue is half full) is paused at `revision`, the tables'
    /// next revision; one whose queue has no room is paused before the lost updates, so that
    /// the resume reports what they added or changed.
    pub(super) fn report_rule_changes(&self, sets: &[ChangeSet], revision: u64) {
        let mut members = self.members();
        for (&id, member) in members.by_id.iter_mut().filter(|(_, member)| !member.monitors.is_empty()) {
            let messages: Vec<Vec<FlowUpdate>> =
                sets.iter().map(|set| member.monitors.updates(set, id)).filter(|updates| !updates.is_empty()).collect();
            if !messages.is_empty() {
                let backlog = messages.iter().flatten().map(FlowUpdate::estimated_len).sum::<usize>()
                    + MONITOR_MESSAGE_LEN * messages.len();
                if !member.send_monitor_push(Push::FlowUpdates { messages, backlog }, backlog) {
                    let oldest = sets.iter().flat_map(|set| &set.events).map(|e| e.entry().revision()).min();
                    member.monitors.pause(oldest.unwrap_or(revision));
                }
            }
            let full = member.state.monitor_backlog.load(Ordering::SeqCst) > PAUSE_BYTES
                || member.pushes.len() > PUSH_QUEUE / 2;
            if full && !member.monitors.is_paused() {
                member.monitors.pause(revision);
                member.send_monitor_push(Push::FlowMonitorPaused, MONITOR_MESSAGE_LEN);
            }
        }
    }

    /// Resumes the paused connections that wrote every update they had queued: the rules
    /// (`rules`: the bridge's, in dump order, asked for only when one resumes) added or changed
    /// since the pause, then RESUMED.
    pub(super) fn resume_flow_monitors(&self, rules: impl FnOnce() -> Vec<Arc<RuleEntry>>) {
        let mut members = self.members();
        let mut resumable = members
            .by_id
            .values_mut()
            .filter(|member| member.monitors.is_paused() && member.state.monitor_backlog.load(Ordering::SeqCst) == 0)
            .peekable();
        if resumable.peek().is_none() {
            return;
        }
        let rules = rules();
        for member in resumable {
            let updates = member.monitors.resume(&rules);
            if !updates.is_empty() {
                let backlog = updates.iter().map(FlowUpdate::estimated_len).sum::<usize>() + MONITOR_MESSAGE_LEN;
                member.send_monitor_push(Push::FlowUpdates { messages: vec![updates], backlog }, backlog);
            }
            member.send_monitor_push(Push::FlowMonitorResumed, MONITOR_MESSAGE_LEN);
        }
    }

    /// A ROLE_REQUEST of connection `member`: the reply, or why it is refused.
    pub(super) fn request_role(&self, member: &Membership, request: Role) -> Result<Role, OfError> {
        self.change_role(member, request.role, Some(request.generation_id))
    }

    /// An NXT_ROLE_REQUEST of connection `member` (1.0 controllers): the same roles without a
    /// generation id, so never stale, as in Open vSwitch. Returns the role now.
    pub(super) fn request_nx_role(&self, member: &Membership, role: ControllerRole) -> ControllerRole {
        match self.change_role(member, role, None) {
            Ok(reply) => reply.role,
            Err(_) => member.state.role(),
        }
    }

    /// Gives `member` `role`; a master or slave request with a generation id older than the
    /// newest is refused as stale.
    fn change_role(
        &self,
        member: &Membership,
        role: ControllerRole,
        generation_id: Option<u64>,
    ) -> Result<Role, OfError> {
        let mut members = self.members();
        match role {
            ControllerRole::NoChange => {}
            ControllerRole::Equal => member.state.set_role(ControllerRole::Equal),
            ControllerRole::Master | ControllerRole::Slave => {
                if let (Some(newest), Some(requested)) = (members.generation, generation_id) {
                    // The spec's comparison: distance as a signed 64-bit number.
                    if (requested.wrapping_sub(newest) as i64) < 0 {
                        return Err(OfError::new(
                            ErrorType::RoleRequestFailed,
                            ROLE_STALE,
                            format!("generation id {requested} is older than {newest}"),
                        ));
                    }
                }
                if generation_id.is_some() {
                    members.generation = generation_id;
                }
                if role == ControllerRole::Master {
                    let generation_id = members.generation.unwrap_or(0);
                    for other in members.by_id.values().filter(|other| !Arc::ptr_eq(&other.state, &member.state)) {
                        if other.state.role() == ControllerRole::Master {
                            other.state.set_role(ControllerRole::Slave);
                            // Its connection sends a ROLE_STATUS if it speaks 1.4 or later.
                            if other.pushes.try_send(Push::RoleStatus { generation_id }).is_err() {
                                other.state.pushes_dropped.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    }
                }
                member.state.set_role(role);
            }
        }
        Ok(Role { role: member.state.role(), generation_id: members.generation.unwrap_or(0) })
    }

    /// Counts a controller connection until the guard is dropped.
    pub(super) fn controller_connected(self: &Arc<Self>) -> ControllerConnected {
        self.controllers.fetch_add(1, Ordering::SeqCst);
        ControllerConnected(self.clone())
    }

    /// None while a controller is connected; else how long none has been.
    pub(super) fn alone_for(&self) -> Option<Duration> {
        let since = self.alone_since.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        (self.controllers.load(Ordering::SeqCst) == 0).then(|| since.elapsed())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn role(role: ControllerRole, generation_id: u64) -> Role {
        Role { role, generation_id }
    }

    #[test]
    fn one_master_at_a_time_and_stale_generations_are_refused() {
        let registry = Registry::new();
        let (first, pushes_1) = registry.join("test", true);
        let (second, pushes_2) = registry.join("test", true);
        assert_eq!(first.state.role(), ControllerRole::Equal);
        let reply = registry.request_role(&first, role(ControllerRole::Master, 5)).unwrap();
        assert_eq!(reply, role(ControllerRole::Master, 5));
        let reply = registry.request_role(&second, role(ControllerRole::Master, 6)).unwrap();
        assert_eq!(reply.role, ControllerRole::Master);
        assert_eq!(first.state.role(), ControllerRole::Slave, "the old master is demoted");
        // ... and told so (a ROLE_STATUS on a 1.4+ connection), with the newest generation id.
        assert!(matches!(pushes_1.try_recv(), Ok(Push::RoleStatus { generation_id: 6 })));
        assert!(pushes_2.try_recv().is_err(), "the new master is not told anything");
        let stale = registry.request_role(&first, role(ControllerRole::Master, 5)).unwrap_err();
        assert_eq!((stale.kind, stale.code), (ErrorType::RoleRequestFailed, ROLE_STALE));
        assert_eq!(first.state.role(), ControllerRole::Slave, "a refused request changes nothing");
        // Serial-number order: a wrapped id is newer.
        let (third, _pushes_3) = registry.join("test", true);
        registry.request_role(&third, role(ControllerRole::Slave, 6u64.wrapping_add(1 << 63) - 1)).unwrap();
        let reply = registry.request_role(&third, role(ControllerRole::NoChange, 0)).unwrap();
        assert_eq!(reply.role, ControllerRole::Slave);
        registry.request_role(&second, role(ControllerRole::Equal, 0)).unwrap();
        assert_eq!(second.state.role(), ControllerRole::Equal);
    }

    #[test]
    fn nicira_roles_share_the_role_machinery_without_generation_ids() {
        let registry = Registry::new();
        let (first, _pushes_1) = registry.join("test", true);
        let (second, _pushes_2) = registry.join("test", true);
        registry.request_role(&first, role(ControllerRole::Master, 9)).unwrap();
        assert_eq!(registry.request_nx_role(&second, ControllerRole::Master), ControllerRole::Master);
        assert_eq!(first.state.role(), ControllerRole::Slave, "a Nicira master demotes a 1.3 master");
        // No generation id: never stale, and the newest one stays for the 1.3 requests.
        assert_eq!(registry.request_nx_role(&first, ControllerRole::Master), ControllerRole::Master);
        assert_eq!(second.state.role(), ControllerRole::Slave);
        let stale = registry.request_role(&second, role(ControllerRole::Master, 8)).unwrap_err();
        assert_eq!(stale.code, ROLE_STALE);
        assert_eq!(registry.request_nx_role(&first, ControllerRole::Equal), ControllerRole::Equal);
    }

    #[test]
    fn pushes_reach_every_member_and_a_full_queue_is_counted() {
        let registry = Registry::new();
        let (member, pushes) = registry.join("test", true);
        let push = Push::PortStatus {
            reason: super::super::message::PortReason::Add,
            port: super::super::service::PortView {
                ofport: 1,
                name: "p1".into(),
                mac: [0; 6],
                link_up: true,
                speed_mbps: 0,
                flags: crate::pipeline::xlate::PortFlags::default(),
            },
        };
        for _ in 0..PUSH_QUEUE + 3 {
            registry.push(&push);
        }
        assert_eq!(pushes.len(), PUSH_QUEUE);
        assert_eq!(member.state.pushes_dropped.load(Ordering::Relaxed), 3);
        drop(member);
        registry.push(&push);
        assert_eq!(pushes.len(), PUSH_QUEUE, "a member that left gets nothing");
    }

    #[test]
    fn flow_updates_pause_a_connection_that_does_not_write_them_and_resume_it_once_it_did() {
        use crate::flow::{parse_add_flow, FlowSelector, Match, OfPort};
        use crate::openflow::monitor::{MonitorCommand, MonitorFlags, MonitorRequest};
        use crate::pipeline::table::{FlowModFlags, FlowOp, FlowTables};

        let registry = Registry::new();
        let (member, pushes) = registry.join("test", false);
        let (other, other_pushes) = registry.join("test", false);
        let flags = MonitorFlags { add: true, delete: true, modify: true, actions: true, ..MonitorFlags::default() };
        let watch_all = MonitorRequest {
            id: 1,
            command: MonitorCommand::Add,
            flags,
            table_id: 0xff,
            out_port: OfPort::NONE,
            out_group: None,
            matches: Match::catch_all(),
        };
        registry.apply_flow_monitor_requests(member.id(), vec![watch_all], &[]).unwrap();
        assert!(registry.has_flow_monitors());

        let mut tables = FlowTables::new();
        tables.set_journal(true);
        let mut change = |from: usize, to: usize| {
            let ops = (from..to)
                .map(|i| {
                    let rule = parse_add_flow(&format!("ip,nw_dst=10.0.{}.{},actions=output:2", i / 250, i % 250));
                    FlowOp::Add { rule: rule.unwrap(), flags: FlowModFlags::default() }
                })
                .collect();
            tables.apply(ops, 0).unwrap();
            let set = ChangeSet { origin: None, events: tables.take_journal() };
            registry.report_rule_changes(&[set], tables.next_revision());
        };
        // A small change: one message, no pause; the connection without monitors gets nothing.
        change(0, 1);
        assert_eq!(pushes.len(), 1);
        assert!(other_pushes.is_empty());
        let backlog = member.state.monitor_backlog.load(Ordering::SeqCst);
        assert!(backlog > 0 && backlog < PAUSE_BYTES);
        // Past the limit: the updates, then PAUSED; then nothing while paused.
        change(1, 3000);
        assert_eq!(pushes.len(), 3);
        assert!(matches!(pushes.try_iter().last(), Some(Push::FlowMonitorPaused)));
        change(3000, 3001);
        assert!(pushes.is_empty(), "no adds while paused");
        // Not resumed while the connection has not written its backlog; then the rule added
        // since the pause, and RESUMED.
        let rules = || tables.dump(&FlowSelector::default());
        registry.resume_flow_monitors(rules);
        assert!(pushes.is_empty());
        member.state.monitor_backlog.store(0, Ordering::SeqCst);
        registry.resume_flow_monitors(rules);
        let resumed: Vec<Push> = pushes.try_iter().collect();
        match &resumed[..] {
            [Push::FlowUpdates { messages, .. }, Push::FlowMonitorResumed] => assert_eq!(messages[0].len(), 1),
            other => panic!("{other:?}"),
        }
        drop(other);
        drop(member);
        assert!(!registry.has_flow_monitors(), "monitors go with their connection");
    }

    #[test]
    fn misses_are_wanted_while_a_member_wants_them() {
        let registry = Registry::new();
        let (first, _pushes_1) = registry.join("test", true);
        assert!(!registry.wants_misses());
        first.state.set_wants_misses(true);
        assert!(registry.wants_misses());
        drop(first);
        assert!(!registry.wants_misses(), "a member that left wants nothing");
    }

    #[test]
    fn presence_follows_controller_connections() {
        let registry = Registry::new();
        assert!(registry.alone_for().is_some());
        let first = registry.controller_connected();
        let second = registry.controller_connected();
        assert_eq!(registry.alone_for(), None);
        drop(first);
        assert_eq!(registry.alone_for(), None);
        drop(second);
        assert!(registry.alone_for().is_some_and(|alone| alone < Duration::from_secs(1)));
    }
}
