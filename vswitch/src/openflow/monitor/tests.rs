//! The monitor core on real tables (their journal), and the codecs (Nicira/ONF, and 1.4's):
//! round trips, garbage, and what `ovs-ofctl ofp-print` (Open vSwitch 3.1's decoder) makes of
//! the bytes, errors included.

use std::process::Command;
use std::sync::Arc;

use super::nicira::{decode_requests, decode_updates, encode_requests, encode_updates};
use super::standard;
use super::*;
use crate::flow::{parse_add_flow, parse_del_flows, parse_dump_flows, parse_mod_flows, FlowSelector};
use crate::openflow::message::{decode, encode, Message};
use crate::openflow::multipart::{MultipartReply, MultipartRequest, ReplyBody, RequestBody};
use crate::openflow::wire::{Reader, Version, Writer};
use crate::pipeline::table::{FlowModFlags, FlowOp, FlowTables};

const ME: u64 = 7;

fn every_change() -> MonitorFlags {
    MonitorFlags { initial: true, add: true, delete: true, modify: true, actions: true, own: false }
}

fn monitor(id: u32, flags: MonitorFlags, table_id: u8, out_port: OfPort, matches: &str) -> MonitorRequest {
    let matches = parse_dump_flows(matches).unwrap().matches;
    MonitorRequest { id, command: MonitorCommand::Add, flags, table_id, out_port, out_group: None, matches }
}

fn add(text: &str) -> FlowOp {
    FlowOp::Add { rule: parse_add_flow(text).unwrap(), flags: FlowModFlags::default() }
}

/// Tables that journal, with the given rules (journal emptied).
fn tables(rules: &[&str]) -> FlowTables {
    let mut tables = FlowTables::new();
    tables.apply(rules.iter().map(|r| add(r)).collect(), 0).unwrap();
    tables.set_journal(true);
    tables
}

fn all_rules(tables: &FlowTables) -> Vec<Arc<RuleEntry>> {
    tables.dump(&FlowSelector::default())
}

/// The change set of `ops` applied to `tables`, made by `origin`.
fn change(tables: &mut FlowTables, ops: Vec<FlowOp>, origin: Option<Requester>) -> ChangeSet {
    tables.apply(ops, 1000).unwrap();
    ChangeSet { origin, events: tables.take_journal() }
}

/// Each update as ovs-ofctl's monitor prints it, roughly: event, table, match, actions.
fn summary(updates: &[FlowUpdate]) -> Vec<String> {
    updates
        .iter()
        .map(|update| match update {
            FlowUpdate::Abbrev { xid } => format!("ABBREV xid={xid}"),
            FlowUpdate::Paused | FlowUpdate::Resumed => format!("{update:?}"),
            FlowUpdate::Full(full) => {
                let rule = FlowRule {
                    table: full.table_id,
                    priority: full.priority,
                    matches: full.matches.clone(),
                    instructions: full.instructions.clone().unwrap_or_default(),
                    ..parse_add_flow("actions=drop").unwrap()
                };
                let actions = if full.instructions.is_some() { "" } else { " (no actions)" };
                format!("{:?} {rule}{actions}", full.event)
            }
        })
        .collect()
}

#[test]
fn initial_rules_are_those_a_monitor_watches_each_once() {
    let tables = tables(&[
        "priority=5,in_port=1,actions=output:2",
        "table=1,priority=5,in_port=2,actions=output:3",
        "priority=6,ip,nw_src=10.0.0.1,actions=output:3",
    ]);
    let mut monitors = ConnectionMonitors::default();
    let requests = vec![
        monitor(1, every_change(), ALL_TABLES, OfPort::NONE, "in_port=1"),
        // Watches the same rule, and one more: still one update per rule.
        monitor(2, MonitorFlags { actions: false, ..every_change() }, 0, OfPort(2), ""),
        // No initial flag: nothing of it in the reply.
        monitor(3, MonitorFlags { initial: false, ..every_change() }, 1, OfPort::NONE, ""),
    ];
    let initial = monitors.apply(requests, 254, &all_rules(&tables)).unwrap();
    assert_eq!(summary(&initial), ["Initial priority=5,in_port=1 actions=output:2"]);

    let again = monitors.apply(vec![monitor(2, every_change(), 0, OfPort::NONE, "")], 254, &[]);
    assert_eq!(again, Err(MonitorError::Exists(2)));
    let twice = vec![monitor(9, every_change(), 0, OfPort::NONE, ""), monitor(9, every_change(), 1, OfPort::NONE, "")];
    assert_eq!(monitors.apply(twice, 254, &[]), Err(MonitorError::Exists(9)));
    assert_eq!(
        monitors.apply(vec![monitor(10, every_change(), 254, OfPort::NONE, "")], 254, &[]),
        Err(MonitorError::BadTable(254))
    );
    assert_eq!(monitors.cancel(9), Err(MonitorError::Unknown(9)), "a refused request adds nothing");
    assert_eq!(monitors.cancel(3), Ok(()));
    assert_eq!(monitors.cancel(3), Err(MonitorError::Unknown(3)));
}

#[test]
fn changes_are_reported_by_kind_table_match_and_out_port() {
    let mut tables = tables(&["priority=5,in_port=1,actions=output:2"]);
    let mut monitors = ConnectionMonitors::default();
    let watch_port_2 = MonitorFlags { initial: false, ..every_change() };
    monitors.apply(vec![monitor(1, watch_port_2, 0, OfPort(2), "")], 254, &[]).unwrap();

    // A modify away from port 2 is reported (the old actions output there); the next is not.
    let set =
        change(&mut tables, vec![FlowOp::Modify(parse_mod_flows("in_port=1,actions=output:3", false).unwrap())], None);
    assert_eq!(summary(&monitors.updates(&set, ME)), ["Modified priority=5,in_port=1 actions=output:3"]);
    let set =
        change(&mut tables, vec![FlowOp::Modify(parse_mod_flows("in_port=1,actions=output:4", false).unwrap())], None);
    assert!(monitors.updates(&set, ME).is_empty());
    // A modify that changes nothing is no event at all.
    let set =
        change(&mut tables, vec![FlowOp::Modify(parse_mod_flows("in_port=1,actions=output:4", false).unwrap())], None);
    assert!(set.events.is_empty());

    // Another table, or a rule to another port: not watched.
    let set =
        change(&mut tables, vec![add("table=1,in_port=1,actions=output:2"), add("in_port=3,actions=output:1")], None);
    assert!(monitors.updates(&set, ME).is_empty());
    // Added and deleted, with the reason.
    let set = change(&mut tables, vec![add("priority=7,in_port=9,actions=output:2")], None);
    assert_eq!(summary(&monitors.updates(&set, ME)), ["Added priority=7,in_port=9 actions=output:2"]);
    let set = change(&mut tables, vec![FlowOp::Delete(parse_del_flows("in_port=9", false).unwrap())], None);
    assert_eq!(summary(&monitors.updates(&set, ME)), ["Deleted(Delete) priority=7,in_port=9 actions=output:2"]);
    // A timeout.
    tables.apply(vec![add("hard_timeout=1,priority=8,in_port=8,actions=output:2")], 1000).unwrap();
    tables.take_journal();
    assert_eq!(tables.expire(5000).len(), 1);
    let set = ChangeSet { origin: None, events: tables.take_journal() };
    let updates = monitors.updates(&set, ME);
    let [FlowUpdate::Full(timeout)] = &updates[..] else { panic!("{updates:?}") };
    assert_eq!(timeout.event, UpdateEvent::Deleted(FlowRemovedReason::HardTimeout));

    // A monitor of only deletes hears nothing of adds; one with a match only of what it selects.
    let mut deletes = ConnectionMonitors::default();
    let only_deletes = MonitorFlags { delete: true, ..MonitorFlags::default() };
    deletes.apply(vec![monitor(1, only_deletes, ALL_TABLES, OfPort::NONE, "ip")], 254, &[]).unwrap();
    let set = change(&mut tables, vec![add("ip,nw_dst=10.0.0.1,actions=drop"), add("arp,actions=drop")], None);
    assert!(deletes.updates(&set, ME).is_empty());
    let set = change(&mut tables, vec![FlowOp::Delete(parse_del_flows("", false).unwrap())], None);
    assert_eq!(summary(&deletes.updates(&set, ME)), ["Deleted(Delete) ip,nw_dst=10.0.0.1 actions=drop (no actions)"]);
}

#[test]
fn own_changes_are_one_abbreviated_update_unless_a_monitor_wants_them_in_full() {
    let mut tables = tables(&[]);
    let mut monitors = ConnectionMonitors::default();
    monitors.apply(vec![monitor(1, every_change(), ALL_TABLES, OfPort::NONE, "")], 254, &[]).unwrap();
    let mine = Some(Requester { connection: ME, xid: 0x42 });
    let set = change(&mut tables, vec![add("in_port=1,actions=drop"), add("in_port=2,actions=drop")], mine);
    assert_eq!(summary(&monitors.updates(&set, ME)), ["ABBREV xid=66"]);
    // Another connection's change is in full.
    assert_eq!(monitors.updates(&set, ME + 1).len(), 2);

    let mut own = ConnectionMonitors::default();
    own.apply(vec![monitor(1, MonitorFlags { own: true, ..every_change() }, ALL_TABLES, OfPort::NONE, "")], 254, &[])
        .unwrap();
    assert_eq!(own.updates(&set, ME).len(), 2);
}

#[test]
fn a_paused_connection_hears_only_deletes_of_older_rules_then_what_changed_meanwhile() {
    let mut tables =
        tables(&["in_port=1,actions=output:1", "in_port=2,actions=output:2", "in_port=3,actions=output:3"]);
    let mut monitors = ConnectionMonitors::default();
    monitors.apply(vec![monitor(1, every_change(), ALL_TABLES, OfPort::NONE, "")], 254, &[]).unwrap();
    monitors.pause(tables.next_revision());
    assert!(monitors.is_paused());
    let mine = Some(Requester { connection: ME, xid: 1 });
    let set = change(
        &mut tables,
        vec![
            add("in_port=4,actions=output:4"),
            add("in_port=5,actions=output:5"),
            FlowOp::Modify(parse_mod_flows("in_port=2,actions=output:9", true).unwrap()),
            FlowOp::Delete(parse_del_flows("in_port=3", true).unwrap()),
            FlowOp::Delete(parse_del_flows("in_port=5", true).unwrap()),
        ],
        mine,
    );
    // Not abbreviated while paused; the rule added and deleted meanwhile is not reported.
    assert_eq!(summary(&monitors.updates(&set, ME)), ["Deleted(Delete) in_port=3 actions=output:3"]);
    let resumed = monitors.resume(&all_rules(&tables));
    assert!(!monitors.is_paused());
    assert_eq!(summary(&resumed), ["Modified in_port=2 actions=output:9", "Added in_port=4 actions=output:4"]);
    assert!(monitors.resume(&all_rules(&tables)).is_empty(), "not paused: nothing to resume");
}

#[test]
fn a_refused_batch_journals_nothing() {
    let mut tables = tables(&[]);
    let refused = tables.apply(vec![add("in_port=1,actions=drop"), add("in_port=2,actions=group:9")], 0);
    assert!(refused.is_err());
    assert!(tables.take_journal().is_empty());
    tables.set_journal(false);
    tables.apply(vec![add("in_port=1,actions=drop")], 0).unwrap();
    assert!(tables.take_journal().is_empty(), "nothing is journaled while no monitor watches");
}

fn sample_updates() -> Vec<FlowUpdate> {
    let rule =
        parse_add_flow("table=2,priority=9,cookie=0x5,idle_timeout=10,ip,nw_src=10.0.0.1,actions=output:2").unwrap();
    let full = |event, actions| FlowUpdate::full(event, &rule, actions);
    vec![
        full(UpdateEvent::Added, true),
        full(UpdateEvent::Modified, false),
        full(UpdateEvent::Deleted(FlowRemovedReason::IdleTimeout), true),
        FlowUpdate::Abbrev { xid: 0x1234 },
    ]
}

fn sample_requests() -> Vec<MonitorRequest> {
    vec![
        monitor(1, every_change(), ALL_TABLES, OfPort::NONE, "in_port=1,ip"),
        monitor(2, MonitorFlags { own: true, initial: false, ..every_change() }, 3, OfPort(7), ""),
    ]
}

#[test]
fn requests_and_updates_round_trip_in_both_versions() {
    for version in [Version::V1_0, Version::V1_3] {
        let mut w = Writer::new();
        encode_requests(version, &sample_requests(), &mut w);
        let bytes = w.into_bytes();
        assert_eq!(bytes.len() % 8, 0);
        assert_eq!(decode_requests(version, &mut Reader::new(&bytes)), Ok(sample_requests()), "{version:?}");

        let mut w = Writer::new();
        encode_updates(version, &sample_updates(), &mut w);
        let bytes = w.into_bytes();
        assert_eq!(decode_updates(version, &mut Reader::new(&bytes)), Ok(sample_updates()), "{version:?}");

        for message in [
            Message::MultipartRequest(MultipartRequest {
                more: false,
                body: RequestBody::FlowMonitor(sample_requests()),
            }),
            Message::MultipartReply(MultipartReply { more: true, body: ReplyBody::FlowMonitor(sample_updates()) }),
            Message::FlowMonitorCancel(3),
            Message::FlowMonitorPaused,
            Message::FlowMonitorResumed,
        ] {
            let bytes = encode(version, 9, &message).unwrap();
            assert_eq!(decode(&bytes).map(|(_, m)| m), Ok(message), "{version:?}");
        }
    }
}

#[test]
fn malformed_requests_are_refused_not_panicked_on() {
    let mut w = Writer::new();
    encode_requests(Version::V1_0, &sample_requests(), &mut w);
    let bytes = w.into_bytes();
    for cut in 0..bytes.len() {
        let _ = decode_requests(Version::V1_0, &mut Reader::new(&bytes[..cut]));
    }
    // No add, delete or modify: OFPMOFC_BAD_FLAGS.
    let mut flagless = bytes.clone();
    flagless[4..6].copy_from_slice(&0x0011u16.to_be_bytes());
    let error = decode_requests(Version::V1_0, &mut Reader::new(&flagless)).unwrap_err();
    assert_eq!((error.kind, error.code), (crate::openflow::ErrorType::FlowMonitorFailed, nicira::code::BAD_FLAGS));
    let mut w = Writer::new();
    encode_updates(Version::V1_3, &sample_updates(), &mut w);
    let bytes = w.into_bytes();
    for cut in 0..bytes.len() {
        let _ = decode_updates(Version::V1_3, &mut Reader::new(&bytes[..cut]));
    }
}

/// `ovs-ofctl ofp-print` of a message (None when ovs-ofctl is not installed).
fn ofp_print(bytes: &[u8]) -> Option<String> {
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let output = Command::new("ovs-ofctl").arg("ofp-print").arg(hex).output().ok()?;
    Some(String::from_utf8_lossy(&output.stdout).into_owned())
}

#[test]
fn open_vswitch_reads_the_updates_and_requests_as_sent() {
    let reply = Message::MultipartReply(MultipartReply { more: false, body: ReplyBody::FlowMonitor(sample_updates()) });
    let request =
        Message::MultipartRequest(MultipartRequest { more: false, body: RequestBody::FlowMonitor(sample_requests()) });
    // (ovs-ofctl prints no priority in flow updates.)
    let expected_updates = [
        " event=ADDED table=2 idle_timeout=10 cookie=0x5 ip,nw_src=10.0.0.1 actions=output:2",
        " event=MODIFIED table=2 idle_timeout=10 cookie=0x5 ip,nw_src=10.0.0.1",
        " event=DELETED reason=idle table=2 idle_timeout=10 cookie=0x5 ip,nw_src=10.0.0.1 actions=output:2",
        " event=ABBREV xid=0x1234",
    ];
    for (version, reply_name, request_name) in [
        (Version::V1_0, "NXST_FLOW_MONITOR reply (xid=0x9):", "NXST_FLOW_MONITOR request (xid=0x9):"),
        (Version::V1_3, "ONFST_FLOW_MONITOR reply (OF1.3) (xid=0x9):", "ONFST_FLOW_MONITOR request (OF1.3) (xid=0x9):"),
    ] {
        let Some(text) = ofp_print(&encode(version, 9, &reply).unwrap()) else { return };
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.first(), Some(&reply_name), "{text}");
        assert_eq!(lines.get(1..), Some(&expected_updates[..]), "{text}");

        let text = ofp_print(&encode(version, 9, &request).unwrap()).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.first(), Some(&request_name), "{text}");
        assert_eq!(
            lines.get(1..),
            Some(
                &[
                    " id=1 flags=initial,add,delete,modify,actions ip,in_port=1",
                    " id=2 flags=add,delete,modify,actions,own out_port=7 table=3",
                ][..]
            ),
            "{text}"
        );
    }
    for (version, message, name) in [
        (Version::V1_0, Message::FlowMonitorCancel(3), "NXT_FLOW_MONITOR_CANCEL (xid=0x9): id=3"),
        (Version::V1_3, Message::FlowMonitorCancel(3), "ONFT_FLOW_MONITOR_CANCEL (OF1.3) (xid=0x9): id=3"),
        (Version::V1_0, Message::FlowMonitorPaused, "NXT_FLOW_MONITOR_PAUSED (xid=0x9):"),
        (Version::V1_3, Message::FlowMonitorResumed, "ONFT_FLOW_MONITOR_RESUMED (OF1.3) (xid=0x9):"),
    ] {
        let text = ofp_print(&encode(version, 9, &message).unwrap()).unwrap_or_default();
        assert_eq!(text.lines().next().map(str::trim_end), Some(name), "{text}");
    }
}

#[test]
fn requests_modify_and_delete_monitors_all_or_none() {
    use crate::pipeline::group::{Bucket, Group, GroupOp, GroupType, GROUP_ANY};
    let mut tables = tables(&["priority=5,in_port=1,actions=output:2"]);
    let bucket = Bucket { id: 0, weight: 0, watch_port: OfPort::NONE, watch_group: GROUP_ANY, actions: Vec::new() };
    tables
        .apply_group_mod(GroupOp::Add(Group { id: 7, group_type: GroupType::Indirect, buckets: vec![bucket] }), 0)
        .unwrap();
    tables.apply(vec![add("priority=5,in_port=2,actions=group:7")], 0).unwrap();
    let rules = all_rules(&tables);
    let mut monitors = ConnectionMonitors::default();
    let quiet = MonitorFlags { initial: false, ..every_change() };
    monitors.apply(vec![monitor(1, quiet, ALL_TABLES, OfPort::NONE, "in_port=1")], 254, &rules).unwrap();
    // A modify replaces the monitor, and reports its initial rules when it asks: here the rule
    // of group 7 only.
    let modify = MonitorRequest {
        command: MonitorCommand::Modify,
        out_group: Some(7),
        ..monitor(1, every_change(), ALL_TABLES, OfPort::NONE, "")
    };
    let initial = monitors.apply(vec![modify], 254, &rules).unwrap();
    assert_eq!(summary(&initial), ["Initial priority=5,in_port=2 actions=group:7"]);

    let delete = |id| MonitorRequest { command: MonitorCommand::Delete, ..monitor(id, quiet, 0, OfPort::NONE, "") };
    // Deleting 1 then failing on 2 (unknown) leaves 1 in place.
    assert_eq!(monitors.apply(vec![delete(1), delete(2)], 254, &rules), Err(MonitorError::Unknown(2)));
    let modify_unknown = MonitorRequest { command: MonitorCommand::Modify, ..monitor(3, quiet, 0, OfPort::NONE, "") };
    assert_eq!(monitors.apply(vec![modify_unknown], 254, &rules), Err(MonitorError::Unknown(3)));
    assert!(!monitors.is_empty());
    // Added and deleted in one request: no initial rules of it; then nothing is left.
    let added =
        monitors.apply(vec![monitor(2, every_change(), 0, OfPort::NONE, ""), delete(2), delete(1)], 254, &rules);
    assert_eq!(added, Ok(Vec::new()));
    assert!(monitors.is_empty());
}

fn requests_with_every_command() -> Vec<MonitorRequest> {
    let mut requests = sample_requests();
    requests.push(MonitorRequest {
        command: MonitorCommand::Modify,
        out_group: Some(5),
        ..monitor(3, MonitorFlags { initial: false, ..every_change() }, 1, OfPort(2), "ip")
    });
    // A delete carries its id and table (and a match): nothing else is read.
    requests.push(MonitorRequest {
        command: MonitorCommand::Delete,
        ..monitor(4, MonitorFlags::default(), 0, OfPort::NONE, "")
    });
    requests
}

fn updates_with_pause() -> Vec<FlowUpdate> {
    let rule = parse_add_flow("table=1,priority=3,hard_timeout=4,in_port=3,actions=output:1").unwrap();
    let mut updates = sample_updates();
    updates.insert(0, FlowUpdate::full(UpdateEvent::Initial, &rule, true));
    updates.push(FlowUpdate::full(UpdateEvent::Deleted(FlowRemovedReason::MeterDelete), &rule, false));
    updates.extend([FlowUpdate::Paused, FlowUpdate::Resumed]);
    updates
}

#[test]
fn requests_and_updates_round_trip_in_1_4_and_1_5() {
    for version in [Version::V1_4, Version::V1_5] {
        let mut w = Writer::new();
        standard::encode_requests(version, &requests_with_every_command(), &mut w);
        let bytes = w.into_bytes();
        assert_eq!(bytes.len() % 8, 0);
        let decoded = standard::decode_requests(version, &mut Reader::new(&bytes));
        assert_eq!(decoded, Ok(requests_with_every_command()), "{version:?}");

        let mut w = Writer::new();
        standard::encode_updates(version, &updates_with_pause(), &mut w);
        let bytes = w.into_bytes();
        assert_eq!(
            standard::decode_updates(version, &mut Reader::new(&bytes)),
            Ok(updates_with_pause()),
            "{version:?}"
        );

        for message in [
            Message::MultipartRequest(MultipartRequest {
                more: false,
                body: RequestBody::FlowMonitor(requests_with_every_command()),
            }),
            Message::MultipartReply(MultipartReply { more: true, body: ReplyBody::FlowMonitor(updates_with_pause()) }),
        ] {
            let bytes = encode(version, 9, &message).unwrap();
            // OFPMP_FLOW_MONITOR.
            assert_eq!(bytes.get(8..10), Some(&[0, 16][..]));
            assert_eq!(decode(&bytes).map(|(_, m)| m), Ok(message), "{version:?}");
        }
        // 1.4 has no cancel, pause or resume messages: they are requests and updates.
        for message in [Message::FlowMonitorCancel(3), Message::FlowMonitorPaused, Message::FlowMonitorResumed] {
            assert!(encode(version, 9, &message).is_err(), "{message:?} in {version:?}");
        }
    }
    // Nor do the Nicira and ONF formats have modify, delete, out_group, PAUSED or RESUMED.
    for version in [Version::V1_0, Version::V1_3] {
        let request = MultipartRequest { more: false, body: RequestBody::FlowMonitor(requests_with_every_command()) };
        assert!(encode(version, 9, &Message::MultipartRequest(request)).is_err());
        let reply = MultipartReply { more: false, body: ReplyBody::FlowMonitor(vec![FlowUpdate::Paused]) };
        assert!(encode(version, 9, &Message::MultipartReply(reply)).is_err());
    }
}

#[test]
fn malformed_1_4_requests_and_updates_are_refused_not_panicked_on() {
    let mut w = Writer::new();
    standard::encode_requests(Version::V1_4, &requests_with_every_command(), &mut w);
    let requests = w.into_bytes();
    let mut w = Writer::new();
    standard::encode_updates(Version::V1_4, &updates_with_pause(), &mut w);
    let updates = w.into_bytes();
    for bytes in [&requests, &updates] {
        for cut in 0..bytes.len() {
            let _ = standard::decode_requests(Version::V1_4, &mut Reader::new(&bytes[..cut]));
            let _ = standard::decode_updates(Version::V1_5, &mut Reader::new(&bytes[..cut]));
        }
        // Every byte changed in turn.
        for at in 0..bytes.len() {
            let mut changed = bytes.clone();
            changed[at] ^= 0xa5;
            let _ = standard::decode_requests(Version::V1_4, &mut Reader::new(&changed));
            let _ = standard::decode_updates(Version::V1_4, &mut Reader::new(&changed));
        }
    }
    let refused = |bytes: &[u8]| standard::decode_requests(Version::V1_4, &mut Reader::new(bytes)).unwrap_err();
    let failed = crate::openflow::ErrorType::FlowMonitorFailed;
    // NO_ABBREV (1 << 5), which Open vSwitch refuses too; no add, delete or modify.
    for flags in [0x0020u16 | 0x000e, 0x0011] {
        let mut bad_flags = requests.clone();
        bad_flags[12..14].copy_from_slice(&flags.to_be_bytes());
        let error = refused(&bad_flags);
        assert_eq!((error.kind, error.code), (failed, standard::code::BAD_FLAGS), "{flags:#x}");
    }
    let mut bad_command = requests.clone();
    bad_command[15] = 3;
    let error = refused(&bad_command);
    assert_eq!((error.kind, error.code), (failed, standard::code::BAD_COMMAND));
    // A request without its match.
    assert_eq!(refused(&requests[..16]).kind, crate::openflow::ErrorType::BadMatch);
}

#[test]
fn open_vswitch_reads_the_1_4_updates_and_requests_as_sent() {
    let reply =
        Message::MultipartReply(MultipartReply { more: false, body: ReplyBody::FlowMonitor(updates_with_pause()) });
    let request = Message::MultipartRequest(MultipartRequest {
        more: false,
        body: RequestBody::FlowMonitor(requests_with_every_command()),
    });
    for (version, name) in [(Version::V1_4, "OF1.4"), (Version::V1_5, "OF1.5")] {
        let Some(text) = ofp_print(&encode(version, 9, &reply).unwrap()) else { return };
        let lines: Vec<&str> = text.lines().collect();
        let expected = [
            format!("OFPST_FLOW_MONITOR reply ({name}) (xid=0x9):"),
            " event=INITIAL table=1 hard_timeout=4 cookie=0 in_port=3 actions=output:1".to_owned(),
            " event=ADDED table=2 idle_timeout=10 cookie=0x5 ip,nw_src=10.0.0.1 actions=output:2".to_owned(),
            " event=MODIFIED table=2 idle_timeout=10 cookie=0x5 ip,nw_src=10.0.0.1".to_owned(),
            " event=DELETED reason=idle table=2 idle_timeout=10 cookie=0x5 ip,nw_src=10.0.0.1 actions=output:2"
                .to_owned(),
            " event=ABBREV xid=0x1234".to_owned(),
            " event=DELETED reason=meter_delete table=1 hard_timeout=4 cookie=0 in_port=3".to_owned(),
            " event=PAUSED".to_owned(),
            " event=RESUMED".to_owned(),
        ];
        assert_eq!(lines, expected, "{text}");

        let text = ofp_print(&encode(version, 9, &request).unwrap()).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let expected = [
            format!("OFPST_FLOW_MONITOR request ({name}) (xid=0x9):"),
            " id=1 flags=initial,add,delete,modify,actions ip,in_port=1".to_owned(),
            " id=2 flags=add,delete,modify,actions,own out_port=7 table=3".to_owned(),
            " id=3 flags=add,delete,modify,actions out_port=2 out_group=5 table=1 ip".to_owned(),
            " id=4 command=delete".to_owned(),
        ];
        assert_eq!(lines, expected, "{text}");
    }
}

#[test]
fn open_vswitch_reads_the_flow_monitor_errors_of_every_version() {
    use crate::openflow::message::encode_error;
    use crate::openflow::{ErrorType, OfError};
    let unknown = |code| OfError::new(ErrorType::FlowMonitorFailed, code, "no flow monitor 1");
    for (version, code, header) in [
        // Open vSwitch's Nicira vendor error (NXET_VENDOR) in 1.0, its experimenter error in 1.3.
        (Version::V1_0, nicira::code::UNKNOWN_MONITOR, "OFPT_ERROR (xid=0x9): OFPMOFC_UNKNOWN_MONITOR"),
        (Version::V1_3, nicira::code::UNKNOWN_MONITOR, "OFPT_ERROR (OF1.3) (xid=0x9): OFPMOFC_UNKNOWN_MONITOR"),
        (Version::V1_4, standard::code::UNKNOWN_MONITOR, "OFPT_ERROR (OF1.4) (xid=0x9): OFPMOFC_UNKNOWN_MONITOR"),
        (Version::V1_5, standard::code::BAD_COMMAND, "OFPT_ERROR (OF1.5) (xid=0x9): OFPMOFC_BAD_COMMAND"),
        (Version::V1_4, standard::code::BAD_FLAGS, "OFPT_ERROR (OF1.4) (xid=0x9): OFPMOFC_BAD_FLAGS"),
        (Version::V1_0, nicira::code::MONITOR_EXISTS, "OFPT_ERROR (xid=0x9): OFPMOFC_MONITOR_EXISTS"),
    ] {
        let offending = encode(version, 9, &Message::BarrierRequest).unwrap();
        let Some(text) = ofp_print(&encode_error(version, 9, &unknown(code), &offending)) else { return };
        assert_eq!(text.lines().next(), Some(header), "{text}");
    }
}
