//! Flow monitors (`ovs-ofctl monitor watch:`) in OpenFlow 1.0 (NXST_FLOW_MONITOR), 1.3
//! (ONFST_FLOW_MONITOR), 1.4 and 1.5 (OFPMP_FLOW_MONITOR): the same script runs against Open
//! vSwitch 3.1 and against the switch, and every monitor must print the same updates on both. The monitors watch everything, a
//! table and an out_port (two monitors on one connection), and a match without actions and
//! without its own changes in full; the script adds, modifies and deletes rules from another
//! connection, changes them as an operator (vsctl on the switch; another ovs-ofctl connection
//! on Open vSwitch, which has no vsctl for flows), has a learn action add a rule (a packet-out
//! through the tables), sends a flow_mod on a monitor's own connection (`ofctl/send`: an
//! ABBREV update with its xid there, in full elsewhere), cancels a monitor (`ofctl/send` of a
//! NXT/ONFT_FLOW_MONITOR_CANCEL, in 1.4 a flow monitor request with OFPFMC_DELETE), sends
//! requests the switches refuse (an id in use, a cancel or modify of an unknown id, bad flags:
//! the same errors) and lets a hard timeout expire. Then a slow reader: a monitor that
//! stops reading (`ofctl/block`) while thousands of rules are added is PAUSED, and when it
//! reads again gets RESUMED (messages of their own before 1.4, updates of a reply from 1.4
//! on), its view of the table complete.
#![forbid(unsafe_code)]
use std::io::Write;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use vswitch_e2e::frames::{self, Ipv4};
use vswitch_e2e::ofctl::{self, unix_target, OVS_OFCTL};
use vswitch_e2e::ofctl_monitor::OfctlMonitor;
use vswitch_e2e::openflow_raw::read_message;
use vswitch_e2e::process::{Guarded, Signal};
use vswitch_e2e::{OvsOracle, OvsPort, PortSpec, SwitchConfig, TestDir, Vswitchd};

const VERSIONS: [&str; 4] = ["OpenFlow10", "OpenFlow13", "OpenFlow14", "OpenFlow15"];
const SEEN_LIMIT: Duration = Duration::from_secs(15);
/// Rules the slow reader's switch gets while it does not read: updates well past the 128 KiB
/// at which both switches pause a monitor, and past what the socket buffers hold.
const FLOOD_RULES: usize = 4000;

/// The switch under test or Open vSwitch: where the script sends its changes.
enum Target<'a> {
    Ours(&'a Vswitchd, &'a SwitchConfig),
    Ovs(&'a OvsOracle),
}

impl Target<'_> {
    fn mgmt(&self) -> PathBuf {
        match self {
            Target::Ours(_, config) => config.mgmt_socket(),
            Target::Ovs(ovs) => ovs.mgmt_socket(),
        }
    }

    /// `ovs-ofctl -O <version> <command...> <its socket> <args...>`, which must succeed.
    fn ofctl(&self, version: &str, command: &[&str], args: &[&str]) {
        let target = unix_target(&self.mgmt());
        let all: Vec<&str> = command.iter().copied().chain([target.as_str()]).chain(args.iter().copied()).collect();
        ofctl::ofctl_ok(version, &all);
    }

    /// An operator's change: vsctl on the switch; on Open vSwitch (no vsctl for flows) a flow
    /// mod of another connection, which monitors report the same way.
    fn operator_add_flow(&self, version: &str, flow: &str) {
        match self {
            Target::Ours(switch, _) => drop(switch.vsctl_ok(&["add-flow", "br0", flow])),
            Target::Ovs(_) => self.ofctl(version, &["add-flow"], &[flow]),
        }
    }
}

/// The monitors of the script: their names and `watch:` arguments.
const MONITORS: [(&str, &[&str]); 3] =
    [("all", &[""]), ("filtered", &["table=1", "out_port=3"]), ("subnet", &["ip,nw_src=10.0.0.0/24,!actions,!own"])];

/// The bytes `ovs-ofctl -O <version> add-flow` sends for `flow` (its FLOW_MOD, as hex): read
/// from a socket of the test that answers its HELLO.
fn flow_mod_hex(dir: &TestDir, version: &str, flow: &str) -> String {
    let socket = dir.join(&format!("capture-{version}.sock"));
    let listener = UnixListener::bind(&socket).expect("bind the capture socket");
    let mut command = Command::new(OVS_OFCTL);
    // (--no-names: no table-name query before the flow_mod.)
    command.args(["--no-names", "-O", version, "add-flow"]).arg(unix_target(&socket)).arg(flow);
    let log = dir.join(&format!("capture-{version}.out"));
    let mut ofctl = Guarded::spawn("ovs-ofctl add-flow", command, Signal::Term, &log, &log);
    let (mut stream, _) = listener.accept().expect("ovs-ofctl connects");
    stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    let wire = wire_version(version);
    stream.write_all(&[wire, 0, 0, 8, 0, 0, 0, 1]).expect("our hello");
    // Barriers (after the flow format it may set first) are answered; the FLOW_MOD is kept.
    let barrier = if wire == 1 { 18 } else { 20 };
    let mut flow_mod = None;
    for _ in 0..16 {
        let Some(message) = read_message(&mut stream) else { break };
        if message[1] == barrier {
            let mut reply = message.clone();
            reply[1] = barrier + 1;
            stream.write_all(&reply).expect("a barrier reply");
        } else if message[1] == 14 {
            flow_mod = Some(message);
            break;
        }
    }
    let flow_mod = flow_mod.expect("a FLOW_MOD from ovs-ofctl");
    drop(stream);
    ofctl.stop(Duration::from_secs(2));
    flow_mod.iter().map(|b| format!("{b:02x}")).collect()
}

/// The header's version byte of `version` (an `ovs-ofctl -O` name).
fn wire_version(version: &str) -> u8 {
    match version {
        "OpenFlow10" => 1,
        "OpenFlow13" => 4,
        "OpenFlow14" => 5,
        _ => 6,
    }
}

/// A flow monitor message as hex, xid 0, for `ofctl/send`: 1.0's and 1.3's cancel of monitor
/// `id`, or in 1.4+ an OFPMP_FLOW_MONITOR request of one monitor (an empty OXM match).
fn monitor_message_hex(version: &str, id: u32, command: u8, flags: u16, table_id: u8) -> String {
    let cancel = match version {
        "OpenFlow10" => Some("01040014000000000000232000000015"), // NXT_FLOW_MONITOR_CANCEL
        "OpenFlow13" => Some("04040014000000004f4e46000000074e"), // ONFT_FLOW_MONITOR_CANCEL
        _ => None,
    };
    match cancel {
        Some(header) => format!("{header}{id:08x}"),
        None => {
            let wire = wire_version(version);
            // Header, multipart header (OFPMP_FLOW_MONITOR), ofp14_flow_monitor_request: id,
            // out_port and out_group ANY, flags, table, command; the match.
            format!(
                "{wire:02x}120028000000000010000000000000{id:08x}ffffffffffffffff{flags:04x}{table_id:02x}{command:02x}0001000400000000"
            )
        }
    }
}

/// The flow monitor requests the switches refuse, sent on the filtered monitor's connection
/// (its monitor 0 exists, 1 is cancelled), and the errors they get. (Not a bad table: Open
/// vSwitch has 255, the switch 254.)
fn refused_requests(version: &str) -> Vec<(String, &'static str)> {
    let all = 0x1f; // initial, add, delete, modify, actions
    match version {
        // 1.0 and 1.3: the cancel again (their requests only add, as ovs-ofctl's do).
        "OpenFlow10" | "OpenFlow13" => vec![(monitor_message_hex(version, 1, 0, 0, 0), "OFPMOFC_UNKNOWN_MONITOR")],
        _ => vec![
            (monitor_message_hex(version, 0, 0, all, 0xff), "OFPMOFC_MONITOR_EXISTS"),
            (monitor_message_hex(version, 1, 2, 0, 0), "OFPMOFC_UNKNOWN_MONITOR"),
            (monitor_message_hex(version, 7, 1, all, 0xff), "OFPMOFC_UNKNOWN_MONITOR"), // a modify
            (monitor_message_hex(version, 8, 0, 0x20, 0xff), "OFPMOFC_BAD_FLAGS"),      // NO_ABBREV
            (monitor_message_hex(version, 9, 0, 0x01, 0xff), "OFPMOFC_BAD_FLAGS"),      // no change
        ],
    }
}

/// Each monitor's flow events, and the errors of the filtered monitor's connection.
struct Printed {
    events: Vec<(String, Vec<String>)>,
    errors: Vec<String>,
}

/// Runs the script on `target` in `version`; returns each monitor's flow events.
fn script(dir: &TestDir, target: &Target, version: &str, own_flow_mod: &str) -> Printed {
    target.ofctl(version, &["del-flows"], &[]);
    target.ofctl(
        version,
        &["add-flows"],
        &[&write_flows(
            dir,
            "initial",
            &[
                "priority=5,in_port=1,actions=output:2",
                "table=1,priority=5,in_port=2,actions=output:1",
                "priority=6,ip,nw_src=10.0.0.1,actions=output:3",
            ],
        )],
    );
    let side = if matches!(target, Target::Ours(..)) { "ours" } else { "ovs" };
    let monitors: Vec<(&str, OfctlMonitor)> = MONITORS
        .iter()
        .map(|(name, watches)| {
            let process = format!("{side}-{version}-{name}");
            (*name, OfctlMonitor::watch(dir, &process, version, &target.mgmt(), watches))
        })
        .collect();

    // Another connection adds, modifies and deletes.
    target.ofctl(version, &["add-flow"], &["priority=7,in_port=3,actions=output:3"]);
    target.ofctl(version, &["mod-flows"], &["in_port=1,actions=output:3"]);
    target.ofctl(version, &["del-flows"], &["in_port=3"]);
    target.ofctl(version, &["add-flow"], &["priority=8,ip,nw_src=10.0.0.7,actions=output:2"]);
    target.ofctl(version, &["--strict", "mod-flows"], &["priority=8,ip,nw_src=10.0.0.7,actions=output:1"]);
    target.operator_add_flow(version, "table=1,priority=9,in_port=4,actions=drop");
    // A learn action adds a rule to table 3 when a packet goes through the tables.
    target.ofctl(
        version,
        &["add-flow"],
        &["priority=100,udp,actions=learn(table=3,priority=4,NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],output:NXM_OF_IN_PORT[])"],
    );
    let udp = frames::udp_frame(
        [0x02, 0, 0, 0, 0, 0x0a],
        [0x02, 0, 0, 0, 0, 0x0b],
        &Ipv4::new([10, 0, 0, 1], [10, 0, 0, 2]),
        (1000, 2000),
        &[0x5a; 22],
        true,
    );
    let packet: String = udp.iter().map(|b| format!("{b:02x}")).collect();
    target.ofctl(version, &["packet-out"], &[&format!("in_port=1 packet={packet} actions=table")]);
    // The subnet monitor's own connection changes a rule it watches: abbreviated there.
    let (_, subnet) = &monitors[2];
    let sent = subnet.appctl(&["ofctl/send", own_flow_mod]);
    assert!(sent.success(), "{sent}");
    // The filtered connection cancels its out_port monitor (ovs-ofctl numbers its monitors
    // from 0): a rule to port 3 is no longer reported there.
    let (_, filtered) = &monitors[1];
    let cancelled = filtered.appctl(&["ofctl/send", &monitor_message_hex(version, 1, 2, 0, 0)]);
    assert!(cancelled.success(), "{cancelled}");
    for (request, _) in refused_requests(version) {
        let sent = filtered.appctl(&["ofctl/send", &request]);
        assert!(sent.success(), "{sent}");
    }
    target.ofctl(version, &["add-flow"], &["priority=13,in_port=7,actions=output:3"]);
    // A hard timeout, the last event.
    target.ofctl(version, &["add-flow"], &["hard_timeout=1,priority=11,in_port=6,actions=drop"]);
    let (_, all) = &monitors[0];
    all.wait_for("reason=hard", 1, SEEN_LIMIT);
    // What came with or after the timeout's update (Open vSwitch sends a learned rule's update
    // with the next change's).
    std::thread::sleep(Duration::from_millis(300));
    Printed {
        events: monitors.iter().map(|(name, monitor)| ((*name).to_owned(), monitor.flow_events())).collect(),
        errors: monitors[1].1.errors(),
    }
}

fn write_flows(dir: &TestDir, name: &str, flows: &[&str]) -> String {
    let file = dir.join(&format!("{name}.flows"));
    std::fs::write(&file, flows.join("\n") + "\n").expect("write a flows file");
    file.display().to_string()
}

#[test]
fn monitors_report_every_change_as_open_vswitch_does() {
    let dir = TestDir::new("of_monitor");
    let own = "priority=12,ip,nw_src=10.0.0.9,actions=drop";
    let own_hex: Vec<String> = VERSIONS.iter().map(|version| flow_mod_hex(&dir, version, own)).collect();

    let ports = [OvsPort::new("p1", 1), OvsPort::new("p2", 2), OvsPort::new("p3", 3)];
    let ovs = OvsOracle::start(&dir, "br0", &ports);
    let expected: Vec<_> =
        VERSIONS.iter().zip(&own_hex).map(|(version, hex)| script(&dir, &Target::Ovs(&ovs), version, hex)).collect();
    ovs.stop();

    let config = SwitchConfig::new(&dir)
        .port(PortSpec::dpdk("p1", 1, "net_null0,no-rx=1"))
        .port(PortSpec::dpdk("p2", 2, "net_null1,no-rx=1"))
        .port(PortSpec::dpdk("p3", 3, "net_null2,no-rx=1"));
    let switch = Vswitchd::start(&dir, &config);
    for ((version, hex), expected) in VERSIONS.iter().zip(&own_hex).zip(&expected) {
        let ours = script(&dir, &Target::Ours(&switch, &config), version, hex);
        for ((name, ours), (_, theirs)) in ours.events.iter().zip(&expected.events) {
            assert!(
                theirs.iter().any(|line| line.contains("event=")),
                "{version} {name}: Open vSwitch printed nothing"
            );
            if name == "filtered" {
                assert!(!theirs.iter().any(|line| line.contains("in_port=7")), "{version}: the monitor was cancelled");
            }
            assert_eq!(ours, theirs, "{version} monitor {name}: ours (left) and Open vSwitch's (right)");
        }
        // The errors Open vSwitch means to send: 3.1 sends those of a 1.4 request it decoded
        // whole with a header read from past the request (ovs-ofctl cannot decode them).
        let wanted: Vec<String> =
            refused_requests(version).iter().map(|(_, name)| format!("OFPT_ERROR {name}")).collect();
        assert_eq!(ours.errors, wanted, "{version}: our errors");
        assert_eq!(expected.errors.len(), wanted.len(), "{version}: Open vSwitch's errors {:?}", expected.errors);
        for (theirs, wanted) in expected.errors.iter().zip(&wanted) {
            let garbled = *version >= "OpenFlow14" && theirs.contains("decode error");
            assert!(theirs == wanted || garbled, "{version}: Open vSwitch's {theirs:?}, not {wanted:?}");
        }
    }
    switch.stop();
}

/// The rules a monitor knows of from its events (ADDED/MODIFIED put the rule's table and
/// match in, DELETED takes it out), for a monitor that watches everything.
fn view(events: &[String]) -> std::collections::BTreeSet<String> {
    let mut known = std::collections::BTreeSet::new();
    for event in events {
        let table = event.split(" table=").nth(1).and_then(|rest| rest.split(' ').next()).unwrap_or("?");
        let matches = event.split(" cookie=").nth(1).and_then(|rest| rest.split(' ').nth(1)).unwrap_or("");
        let key = format!("{table} {matches}");
        if event.contains("event=DELETED") {
            known.remove(&key);
        } else if event.contains("event=ADDED") || event.contains("event=MODIFIED") {
            known.insert(key);
        }
    }
    known
}

/// The rules of `mgmt` as (table, match) keys like `view`'s.
fn dumped(version: &str, mgmt: &Path) -> std::collections::BTreeSet<String> {
    let dump = ofctl::ofctl_ok(version, &["--no-stats", "dump-flows", &unix_target(mgmt)]);
    ofctl::flow_lines(&dump)
        .iter()
        .map(|line| {
            // ` [table=N, ]priority=P,MATCH actions=...`: dump-flows prints the priority in the
            // match, updates do not.
            let table = line.split("table=").nth(1).and_then(|rest| rest.split(',').next()).unwrap_or("0");
            let rule = line.split_whitespace().find(|word| word.starts_with("priority=")).unwrap_or("");
            let matches: Vec<&str> = rule.split(',').skip(1).collect();
            format!("{table} {}", matches.join(","))
        })
        .collect()
}

/// A monitor that does not read while thousands of rules come is paused, then resumed with
/// what it missed; on both switches.
fn slow_reader(dir: &TestDir, target: &Target, version: &str) {
    target.ofctl(version, &["del-flows"], &[]);
    let side = if matches!(target, Target::Ours(..)) { "ours" } else { "ovs" };
    let monitor = OfctlMonitor::watch(dir, &format!("{side}-{version}-slow"), version, &target.mgmt(), &["!initial"]);
    let flows: Vec<String> = (0..FLOOD_RULES)
        .map(|i| format!("priority=20,ip,nw_dst=10.{}.{}.1,actions=output:2", i / 250, i % 250))
        .collect();
    let flows: Vec<&str> = flows.iter().map(String::as_str).collect();
    let file = write_flows(dir, &format!("{side}-{version}-flood"), &flows);
    let blocked = monitor.appctl(&["ofctl/block"]);
    assert!(blocked.success(), "{blocked}");
    target.ofctl(version, &["add-flows"], &[&file]);
    // A change while paused: reported as the rule it leaves at the resume.
    target.ofctl(version, &["--strict", "mod-flows"], &["priority=20,ip,nw_dst=10.0.0.1,actions=output:3"]);
    let unblocked = monitor.appctl(&["ofctl/unblock"]);
    assert!(unblocked.success(), "{unblocked}");
    // (NXT/ONFT_FLOW_MONITOR_RESUMED; from 1.4 on ` event=RESUMED` in a reply.)
    monitor.wait_for("RESUMED", 1, SEEN_LIMIT);
    let events = monitor.flow_events();
    let paused = events.iter().position(|e| e.ends_with("PAUSED"));
    let resumed = events.iter().position(|e| e.ends_with("RESUMED"));
    assert!(matches!((paused, resumed), (Some(p), Some(r)) if p < r), "{side} {version}: paused, then resumed");
    assert_eq!(view(&events), dumped(version, &target.mgmt()), "{side} {version}: the monitor's view is the table");
}

#[test]
fn a_slow_reader_is_paused_then_resumed() {
    let dir = TestDir::new("of_monitor_slow");
    let ovs = OvsOracle::start(&dir, "br0", &[OvsPort::new("p2", 2)]);
    for version in VERSIONS {
        slow_reader(&dir, &Target::Ovs(&ovs), version);
    }
    ovs.stop();
    let config = SwitchConfig::new(&dir).port(PortSpec::dpdk("p2", 2, "net_null0,no-rx=1"));
    let switch = Vswitchd::start(&dir, &config);
    for version in VERSIONS {
        slow_reader(&dir, &Target::Ours(&switch, &config), version);
    }
    switch.stop();
}
