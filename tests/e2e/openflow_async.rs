//! What the switch tells controllers without being asked, and packet-outs, observed with the
//! real `ovs-ofctl monitor` and `packet-out` on the management socket: packet-ins from the
//! table-miss rule and from a controller action (reason, table, cookie, in_port, max_len cut
//! with the whole length reported), port status when ports come and go, flow-removed for
//! timeouts and deletes of rules that asked for it; packet-outs to a port and through the
//! tables. Then the packet-in rate limit (every packet-in counted: sent or dropped with its
//! reason) and the fail modes: standalone forwards as a learning switch while no controller
//! is connected, secure does not, and a controller connecting ends fail-open. A controller
//! (tests/python/invalid_ttl.py, os-ken's encoder) gets the packet-in of an expired dec_mpls_ttl
//! or dec_nw_ttl as invalid_ttl only when it asked for it in SET_CONFIG.
#![forbid(unsafe_code)]
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use vswitch_e2e::command;
use vswitch_e2e::frames::{self, Ipv4};
use vswitch_e2e::ofctl;
use vswitch_e2e::ofctl_monitor::OfctlMonitor;
use vswitch_e2e::openflow_apps::venv_python;
use vswitch_e2e::{pcap, wait, PortSpec, SwitchConfig, TestDir, Vswitchd};

const SEEN_LIMIT: Duration = Duration::from_secs(10);
const VM_A: frames::Mac = [0x02, 0, 0, 0, 0, 0x0a];
const VM_B: frames::Mac = [0x02, 0, 0, 0, 0, 0x0b];

fn ofctl13_ok(args: &[&str]) -> String {
    ofctl::ofctl_ok("OpenFlow13", args)
}

fn hex(frame: &[u8]) -> String {
    frame.iter().map(|b| format!("{b:02x}")).collect()
}

fn udp_frame(len: usize) -> Vec<u8> {
    let payload = vec![0x5a; len - 42];
    frames::udp_frame(VM_A, VM_B, &Ipv4::new([10, 0, 0, 1], [10, 0, 0, 2]), (1000, 2000), &payload, true)
}

/// Adds port `name` (ofport 1) replaying `frames` once.
fn add_rx_port(switch: &Vswitchd, dir: &TestDir, name: &str, vdev: u32, frames: &[Vec<u8>]) {
    let file = dir.join(&format!("{name}-{vdev}.pcap"));
    pcap::write(&file, frames);
    let devargs = format!("devargs=net_pcap{vdev},rx_pcap={}", file.display());
    switch.add_port(name, &["type=dpdk", &devargs, "ofport=1"]);
}

fn drops(switch: &Vswitchd, port: &str, reason: &str) -> u64 {
    switch.port_stats().get(port).map_or(0, |p| p.dropped(reason))
}

#[test]
fn packet_in_packet_out_port_status_and_flow_removed() {
    let dir = TestDir::new("of_async_messages");
    let config = SwitchConfig::new(&dir)
        .flow("priority=0,actions=CONTROLLER:65535")
        .flow("priority=10,cookie=0x77,udp,actions=goto_table:3")
        .flow("table=3,priority=1,cookie=0x99,actions=CONTROLLER:20")
        .port(PortSpec::pcap_tx("p2", 2, 2, &dir.join("p2.pcap")));
    let switch = Vswitchd::start(&dir, &config);
    let mgmt = format!("unix:{}", config.mgmt_socket().display());
    let monitor = OfctlMonitor::start(&dir, "monitor", "OpenFlow13", &config.mgmt_socket());

    // A port comes: PORT_STATUS ADD, then its packets come up as packet-ins.
    let arp = frames::arp_request(VM_A, [10, 0, 0, 1], [10, 0, 0, 2]);
    let udp = udp_frame(100);
    add_rx_port(&switch, &dir, "p1", 1, &[arp.clone(), udp.clone()]);
    monitor.wait_for("ADD: 1(p1)", 1, SEEN_LIMIT);
    let miss = monitor.wait_for("(via no_match)", 1, SEEN_LIMIT);
    assert!(miss[0].contains("in_port=1") && miss[0].contains(&format!("total_len={}", arp.len())), "{miss:?}");
    assert!(miss[0].contains("cookie=0x0") && !miss[0].contains("table_id"), "table 0, the miss rule: {miss:?}");
    let action = monitor.wait_for("(via action)", 1, SEEN_LIMIT);
    assert!(action[0].contains("table_id=3") && action[0].contains("cookie=0x99"), "{action:?}");
    assert!(action[0].contains("total_len=100") && action[0].contains("data_len=20"), "cut to max_len: {action:?}");

    // Packet-outs: straight to a port, and through the tables (which send it up again).
    ofctl13_ok(&["packet-out", &mgmt, &format!("in_port=CONTROLLER packet={} actions=output:2", hex(&udp))]);
    switch.wait_for_counters(SEEN_LIMIT, "the packet-out on p2", |stats| {
        stats.ports.iter().any(|p| p.name == "p2" && p.tx_packets == 1)
    });
    ofctl13_ok(&["packet-out", &mgmt, &format!("in_port=1 packet={} actions=table", hex(&udp))]);
    monitor.wait_for("(via action)", 2, SEEN_LIMIT);

    // Flow-removed: a hard timeout and a delete, for rules with send_flow_rem only.
    ofctl13_ok(&["add-flow", &mgmt, "send_flow_rem,hard_timeout=1,priority=7,icmp,actions=drop"]);
    ofctl13_ok(&["add-flow", &mgmt, "send_flow_rem,priority=8,tcp,actions=drop"]);
    ofctl13_ok(&["add-flow", &mgmt, "priority=9,sctp,actions=drop"]);
    ofctl13_ok(&["del-flows", &mgmt, "--strict", "priority=8,tcp"]);
    ofctl13_ok(&["del-flows", &mgmt, "--strict", "priority=9,sctp"]);
    let hard = monitor.wait_for("reason=hard", 1, SEEN_LIMIT);
    assert!(hard[0].contains("OFPT_FLOW_REMOVED") && hard[0].contains("priority=7,icmp"), "{hard:?}");
    let deleted = monitor.wait_for("reason=delete", 1, SEEN_LIMIT);
    assert!(deleted[0].contains("priority=8,tcp"), "{deleted:?}");
    assert!(monitor.lines_with("sctp").is_empty(), "no flow-removed without send_flow_rem: {}", monitor.text());

    switch.del_port("p1");
    monitor.wait_for("DEL: 1(p1)", 1, SEEN_LIMIT);
    switch.stop();
}

#[test]
fn packet_ins_are_rate_limited_and_every_one_is_counted() {
    const FRAMES: u64 = 1000;
    let dir = TestDir::new("of_packet_in_limit");
    let config = SwitchConfig::new(&dir)
        .flow("priority=0,actions=CONTROLLER:65535")
        .bridge_setting("controller_rate_limit", "100")
        .bridge_setting("controller_burst_limit", "25")
        .port(PortSpec::pcap_tx("p2", 2, 2, &dir.join("p2.pcap")));
    let switch = Vswitchd::start(&dir, &config);
    let monitor = OfctlMonitor::start(&dir, "monitor", "OpenFlow13", &config.mgmt_socket());
    let started = Instant::now();
    let flood: Vec<Vec<u8>> =
        (0..u32::try_from(FRAMES).unwrap()).map(|i| frames::numbered_udp_frame(1, i, 64)).collect();
    add_rx_port(&switch, &dir, "p1", 1, &flood);
    switch.wait_for_counters(SEEN_LIMIT, "the flood received", |stats| {
        stats.ports.iter().any(|p| p.name == "p1" && p.rx_packets == FRAMES)
    });
    // Every packet went up or was counted as not going up (the PMD's limit).
    let pmd_stats: serde_json::Value = switch.json(&["pmd-stats"]);
    let queued = pmd_stats["pmds"][0]["packet_ins"].as_u64().expect("pmd-stats has packet_ins");
    let limited = drops(&switch, "p1", "packet_in_limit");
    assert_eq!(queued + limited, FRAMES, "queued {queued} + limited {limited}");
    std::thread::sleep(Duration::from_millis(500));
    let seconds = started.elapsed().as_secs_f64();
    let seen = monitor.lines_with("OFPT_PACKET_IN").len() as f64;
    // The burst plus the rate over the time it took, and not far below the burst.
    assert!(seen >= 20.0 && seen <= 25.0 + 100.0 * seconds + 5.0, "{seen} packet-ins in {seconds:.1} s");
    assert!(queued as f64 <= 25.0 + 100.0 * seconds + 5.0, "the PMD queued {queued} in {seconds:.1} s");
    // The monitor is the bridge's one connection: what the PMD queued it got, or its own
    // limit kept from it, and vsctl says so.
    let status: serde_json::Value = switch.json(&["controller-status", "br0"]);
    let connection = &status["connections"][0];
    let count = |key: &str| connection[key].as_u64().unwrap_or_else(|| panic!("{key} in {status}"));
    assert_eq!(count("packet_ins") as f64, seen, "{status}");
    assert_eq!(count("packet_ins") + count("packet_ins_limited") + count("pushes_dropped"), queued, "{status}");
    assert_eq!(connection["version"], "1.3", "{status}");
    switch.stop();
}

/// A controller of our own: accepts the switch's connection and answers its HELLO.
fn controller_session(listener: &TcpListener) -> TcpStream {
    listener.set_nonblocking(true).expect("non-blocking");
    let stream = wait::poll(Duration::from_secs(15), || listener.accept().ok().map(|(s, _)| s))
        .expect("the switch reconnects to its controller");
    stream.set_nonblocking(false).expect("blocking");
    stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    let mut stream = stream;
    stream.write_all(&[4, 0, 0, 8, 0, 0, 0, 1]).expect("hello");
    let mut hello = [0u8; 8];
    stream.read_exact(&mut hello).expect("the switch's hello");
    stream
}

#[test]
fn fail_modes_standalone_learns_secure_keeps_the_tables() {
    let dir = TestDir::new("of_fail_modes");
    // A controller target nobody listens on (yet).
    let port = TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("address").port();
    let config = SwitchConfig::new(&dir)
        .openflow(&format!("tcp:127.0.0.1:{port}"))
        .port(PortSpec::pcap_tx("p2", 2, 2, &dir.join("p2.pcap")))
        .port(PortSpec::pcap_tx("p3", 3, 3, &dir.join("p3.pcap")));
    let switch = Vswitchd::start(&dir, &config);
    let burst: Vec<Vec<u8>> = (0..10).map(|i| frames::numbered_udp_frame(1, i, 64)).collect();
    let tx = |port: &str| switch.port_stats().get(port).map_or(0, |p| p.tx_packets);

    // No flows and no controller yet: table misses.
    add_rx_port(&switch, &dir, "p1", 1, &burst);
    switch.wait_for_counters(SEEN_LIMIT, "misses", |_| drops(&switch, "p1", "table_miss") == 10);
    // Standalone (the default): fail-open once no controller was seen for 15 s.
    wait::poll(Duration::from_secs(25), || switch.stderr().contains("fail-open, forwarding").then_some(()))
        .unwrap_or_else(|| panic!("no fail-open within 25 s:\n{}", switch.stderr()));
    let status = switch.vsctl_ok(&["controller-status", "br0"]);
    assert!(status.starts_with("fail-open: yes"), "{status}");
    switch.del_port("p1");
    add_rx_port(&switch, &dir, "p1", 11, &burst);
    switch.wait_for_counters(SEEN_LIMIT, "NORMAL flooding to p2 and p3", |_| tx("p2") == 10 && tx("p3") == 10);

    // Secure: the tables decide again (nothing forwards).
    switch.vsctl_ok(&["set-fail-mode", "br0", "secure"]);
    wait::poll(SEEN_LIMIT, || switch.stderr().contains("fail-open ends").then_some(()))
        .unwrap_or_else(|| panic!("secure did not end fail-open:\n{}", switch.stderr()));
    switch.del_port("p1");
    add_rx_port(&switch, &dir, "p1", 12, &burst);
    switch.wait_for_counters(SEEN_LIMIT, "misses again", |_| drops(&switch, "p1", "table_miss") == 10);
    assert_eq!((tx("p2"), tx("p3")), (10, 10));

    // Standalone again (no controller for long: fail-open at once), then a controller comes.
    switch.vsctl_ok(&["set-fail-mode", "br0", "standalone"]);
    wait::poll(SEEN_LIMIT, || (switch.stderr().matches("fail-open, forwarding").count() == 2).then_some(()))
        .unwrap_or_else(|| panic!("no second fail-open:\n{}", switch.stderr()));
    let listener = TcpListener::bind(("127.0.0.1", port)).expect("the controller's port is free again");
    let _session = controller_session(&listener);
    wait::poll(SEEN_LIMIT, || (switch.stderr().matches("fail-open ends").count() == 2).then_some(()))
        .unwrap_or_else(|| panic!("a connected controller did not end fail-open:\n{}", switch.stderr()));
    let status = switch.vsctl_ok(&["controller-status", "br0"]);
    assert!(status.starts_with("fail-open: no") && status.contains("controller  1.3"), "{status}");
    switch.del_port("p1");
    add_rx_port(&switch, &dir, "p1", 13, &burst);
    switch.wait_for_counters(SEEN_LIMIT, "misses with a controller", |_| drops(&switch, "p1", "table_miss") == 10);
    assert_eq!((tx("p2"), tx("p3")), (10, 10));
    switch.stop();
}

#[test]
fn port_mod_configures_ports_and_says_so() {
    let dir = TestDir::new("of_port_mod");
    let config = SwitchConfig::new(&dir)
        .flow("priority=0,actions=FLOOD")
        .port(PortSpec::pcap_tx("p2", 2, 2, &dir.join("p2.pcap")))
        .port(PortSpec::pcap_tx("p3", 3, 3, &dir.join("p3.pcap")));
    let switch = Vswitchd::start(&dir, &config);
    let mgmt = format!("unix:{}", config.mgmt_socket().display());
    let monitor = OfctlMonitor::start(&dir, "monitor", "OpenFlow13", &config.mgmt_socket());
    let burst: Vec<Vec<u8>> = (0..10).map(|i| frames::numbered_udp_frame(1, i, 64)).collect();
    let tx = |port: &str| switch.port_stats().get(port).map_or(0, |p| p.tx_packets);

    // no-flood is a bit of OpenFlow 1.0's (ovs-ofctl leaves it out of 1.3 messages).
    ofctl::ofctl_ok("OpenFlow10", &["mod-port", &mgmt, "p3", "no-flood"]);
    let modified = monitor.wait_for("MOD: 3(p3)", 1, SEEN_LIMIT);
    assert!(!modified.is_empty());
    let desc = ofctl::ofctl_ok("OpenFlow10", &["show", &mgmt]);
    assert!(desc.contains("NO_FLOOD"), "{desc}");
    add_rx_port(&switch, &dir, "p1", 1, &burst);
    switch.wait_for_counters(SEEN_LIMIT, "the flood to p2", |_| tx("p2") == 10);
    assert_eq!(tx("p3"), 0, "p3 is no-flood");

    ofctl::ofctl_ok("OpenFlow10", &["mod-port", &mgmt, "p3", "flood"]);
    ofctl13_ok(&["mod-port", &mgmt, "p2", "no-forward"]);
    switch.del_port("p1");
    add_rx_port(&switch, &dir, "p1", 11, &burst);
    switch.wait_for_counters(SEEN_LIMIT, "the flood to p3", |_| tx("p3") == 10);
    assert_eq!(tx("p2"), 10, "p2 is no-forward");

    // A port that is gone takes its configuration with it: a new p1 forwards.
    ofctl13_ok(&["mod-port", &mgmt, "p1", "no-receive"]);
    switch.del_port("p1");
    add_rx_port(&switch, &dir, "p1", 12, &burst);
    switch.wait_for_counters(SEEN_LIMIT, "the new p1 forwarding", |_| tx("p3") == 20);
    ofctl13_ok(&["mod-port", &mgmt, "p1", "no-receive"]);
    ofctl13_ok(&["mod-port", &mgmt, "p1", "down"]);
    let desc = ofctl13_ok(&["dump-ports-desc", &mgmt]);
    assert!(desc.contains("PORT_DOWN") && desc.contains("NO_RECV") && desc.contains("LINK_DOWN"), "{desc}");
    let refused = ofctl::ofctl("OpenFlow13", &["mod-port", &mgmt, "9", "down"]);
    assert!(!refused.success(), "{refused}");
    switch.stop();
}

#[test]
fn meters_police_in_the_datapath_and_count() {
    const FRAMES: u64 = 1000;
    let dir = TestDir::new("of_meters");
    let config = SwitchConfig::new(&dir).port(PortSpec::pcap_tx("p2", 2, 2, &dir.join("p2.pcap")));
    let switch = Vswitchd::start(&dir, &config);
    let mgmt = format!("unix:{}", config.mgmt_socket().display());
    ofctl13_ok(&["add-meter", &mgmt, "meter=1,pktps,burst,stats,bands=type=drop,rate=100,burst_size=20"]);
    ofctl13_ok(&["add-meter", &mgmt, "meter=2,kbps,stats,bands=type=dscp_remark,rate=1000,prec_level=1"]);
    let configs = ofctl13_ok(&["dump-meters", &mgmt]);
    assert!(
        configs.contains("meter=1 pktps burst stats bands=") && configs.contains("type=drop rate=100 burst_size=20"),
        "{configs}"
    );
    assert!(configs.contains("type=dscp_remark rate=1000 prec_level=1"), "{configs}");
    // A flow may only name a meter that exists.
    let refused = ofctl::ofctl("OpenFlow13", &["add-flow", &mgmt, "priority=10,udp,actions=meter:9,output:2"]);
    assert!(!refused.success() && refused.stderr.contains("OFPMMFC_UNKNOWN_METER"), "{refused}");
    ofctl13_ok(&["add-flow", &mgmt, "priority=10,udp,actions=meter:1,output:2"]);
    ofctl13_ok(&["add-flow", &mgmt, "priority=5,tcp,actions=meter:2,output:2"]);

    let flood: Vec<Vec<u8>> =
        (0..u32::try_from(FRAMES).unwrap()).map(|i| frames::numbered_udp_frame(1, i, 64)).collect();
    let started = Instant::now();
    add_rx_port(&switch, &dir, "p1", 1, &flood);
    switch.wait_for_counters(SEEN_LIMIT, "the flood received", |stats| {
        stats.get("p1").is_some_and(|p| p.rx_packets == FRAMES)
    });
    let seconds = started.elapsed().as_secs_f64();
    let sent = switch.port_stats().get("p2").map_or(0, |p| p.tx_packets);
    let dropped = drops(&switch, "p1", "meter_drop");
    assert_eq!(sent + dropped, FRAMES, "every packet forwarded or dropped by the meter");
    assert!(sent >= 20 && sent as f64 <= 20.0 + 100.0 * seconds + 5.0, "{sent} passed in {seconds:.2} s");
    let stats = ofctl13_ok(&["meter-stats", &mgmt, "meter=1"]);
    assert!(stats.contains(&format!("flow_count:1 packet_in_count:{FRAMES}")), "{stats}");
    assert!(stats.contains(&format!("0: packet_count:{dropped}")), "the drop band's count: {stats}");

    // Deleting a meter deletes the flows that use it.
    ofctl13_ok(&["del-meter", &mgmt, "meter=1"]);
    let flows = ofctl13_ok(&["dump-flows", &mgmt]);
    assert!(!flows.contains("meter:1") && flows.contains("meter:2"), "{flows}");
    assert!(!ofctl13_ok(&["dump-meters", &mgmt]).contains("meter=1 "), "meter 1 is gone");
    let features = ofctl13_ok(&["meter-features", &mgmt]);
    assert!(features.contains("max_meter:65536") && features.contains("drop dscp_remark"), "{features}");
    switch.stop();
}

#[test]
fn expired_ttls_go_to_the_controllers_that_asked_for_them() {
    let dir = TestDir::new("invalid_ttl");
    let port = ofctl::free_port();
    let config = SwitchConfig::new(&dir)
        .port(PortSpec::dpdk("p1", 1, "net_null0,no-rx=1"))
        .port(PortSpec::dpdk("p2", 2, "net_null1,no-rx=1"))
        .openflow(&format!("ptcp:{port}"));
    let switch = Vswitchd::start(&dir, &config);
    let mut cmd = Command::new(venv_python());
    cmd.arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("python/invalid_ttl.py"))
        .arg("--connect")
        .arg(format!("tcp:127.0.0.1:{port}"));
    let output = command::run(cmd, Duration::from_secs(60));
    assert!(output.success(), "{output}\nvswitchd:\n{}", switch.stderr());
    switch.stop();
}
