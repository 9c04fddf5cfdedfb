//! Issue 4's proof with real controller applications: the switch connects by itself to the
//! controller in its bridge's `openflow` list (`tcp:127.0.0.1:PORT`), the application programs
//! it over OpenFlow 1.3, and two network namespaces attached through TAP ports (DPDK
//! `net_tap`, ofports 1 and 2) ping each other across it.
//!
//! - os-ken's `simple_switch_13`: its table-miss rule to the controller appears, the hosts
//!   ping each other (every first packet goes to the controller as a packet-in and out again
//!   as a packet-out), and dump-flows shows the `in_port,dl_src,dl_dst` rules it learned.
//! - Faucet with one VLAN of the two ports (untagged): its pipeline appears (the VLAN push
//!   per port, the VLAN's flood rule), the hosts ping each other, and dump-flows shows the
//!   destinations it learned (its eth_dst table, from packet-ins).
//!
//! - A controller restart (simple_switch_13): in secure mode its flows stay and forward while
//!   it is gone, and the switch reconnects by itself when it is back; in standalone mode,
//!   without it and without flows, the bridge fails open and the hosts still reach each other.
//!
//! Every wait is bounded; namespaces, the switch and the controller are stopped or deleted
//! also when a test fails, with their logs printed.
#![forbid(unsafe_code)]
use std::time::Duration;

use vswitch_e2e::netns::{Namespace, MAX_INTERFACE_NAME};
use vswitch_e2e::ofctl::{self, free_port};
use vswitch_e2e::openflow_apps::{controller_target, ControllerApp, FaucetConfig};
use vswitch_e2e::{wait, PortSpec, SwitchConfig, TestDir, Vswitchd};

const HOST_A: &str = "10.98.0.1";
const HOST_B: &str = "10.98.0.2";
const PREFIX_LEN: u8 = 24;
const OFPORT_A: u32 = 1;
const OFPORT_B: u32 = 2;
/// The one VLAN of the Faucet configuration.
const VLAN: u16 = 100;
/// How long the controller may take to program the switch: Faucet starts after the switch
/// (it needs the datapath id), so the switch's reconnect backoff (up to 8 s) adds to its start.
const PROGRAMMED_LIMIT: Duration = Duration::from_secs(40);
/// The switch reconnects within its backoff (at most 8 s) and notices a closed connection at
/// once; this leaves room for a loaded host.
const RECONNECT_LIMIT: Duration = Duration::from_secs(15);
/// A standalone bridge fails open 15 s after its last controller left.
const FAIL_OPEN_LIMIT: Duration = Duration::from_secs(25);
/// Echo requests per ping run, and runs until one gets every reply.
const PINGS: u32 = 3;
const PING_ATTEMPTS: u32 = 5;

/// Two hosts on the switch: namespaces `ns-a` and `ns-b` holding the TAP interfaces of ports
/// 1 and 2. Declared before the switch, so they are deleted after it stopped.
struct Hosts {
    a: Namespace,
    b: Namespace,
    tap_a: String,
    tap_b: String,
}

impl Hosts {
    fn create(dir: &TestDir) -> Hosts {
        Hosts {
            a: Namespace::create(dir, "ns-a"),
            b: Namespace::create(dir, "ns-b"),
            tap_a: dir.unique_name("a", MAX_INTERFACE_NAME),
            tap_b: dir.unique_name("b", MAX_INTERFACE_NAME),
        }
    }

    /// The switch with the two TAP ports and the controller on `controller_port`.
    fn switch_config(&self, dir: &TestDir, controller_port: u16) -> SwitchConfig {
        SwitchConfig::new(dir)
            .openflow(&controller_target(controller_port))
            .port(PortSpec::tap("tap-a", OFPORT_A, 0, &self.tap_a))
            .port(PortSpec::tap("tap-b", OFPORT_B, 1, &self.tap_b))
    }

    /// Moves the switch's TAP interfaces into the namespaces and addresses them.
    fn attach(&self) {
        self.a.adopt(&self.tap_a, &format!("{HOST_A}/{PREFIX_LEN}"));
        self.b.adopt(&self.tap_b, &format!("{HOST_B}/{PREFIX_LEN}"));
    }

    /// Each host pings the other until a run gets every reply; panics with the runs and
    /// `context` (the flows, the controller's logs) otherwise.
    fn ping_both_ways(&self, context: impl Fn() -> String) {
        for (from, to) in [(&self.a, HOST_B), (&self.b, HOST_A)] {
            if let Err(runs) = from.ping_until_answered(to, PINGS, PING_ATTEMPTS) {
                panic!("{} cannot ping {to} across the switch:\n{runs}\n{}", from.name(), context());
            }
        }
    }
}

/// dump-flows over the bridge's management socket, for failure messages.
fn dump_flows(config: &SwitchConfig) -> String {
    ofctl::ofctl("OpenFlow13", &["dump-flows", &ofctl::unix_target(&config.mgmt_socket())]).to_string()
}

fn has_flow(flows: &[String], parts: &[&str]) -> bool {
    flows.iter().any(|flow| parts.iter().all(|part| flow.contains(part)))
}

/// The switch run by os-ken's simple_switch_13 until both hosts pinged each other and it
/// learned their rules; returns the learned flows too. Bind the parts in this order: they drop
/// in reverse, so the hosts go last.
fn simple_switch_learned(dir: &TestDir, port: u16) -> (Hosts, SwitchConfig, Vswitchd, ControllerApp, Vec<String>) {
    let mut controller = ControllerApp::simple_switch_13(dir, port);
    let hosts = Hosts::create(dir);
    let config = hosts.switch_config(dir, port);
    let switch = Vswitchd::start(dir, &config);
    hosts.attach();

    let mgmt = config.mgmt_socket();
    controller.wait_for_flows(&mgmt, "simple_switch_13's table-miss rule", PROGRAMMED_LIMIT, |flows| {
        has_flow(flows, &["priority=0 actions=CONTROLLER:65535"])
    });

    hosts.ping_both_ways(|| format!("{}\n{}", dump_flows(&config), controller.logs()));

    // What it learned: a rule per direction, matching the port (a is 1, b is 2) and both
    // addresses.
    let (mac_a, mac_b) = (hosts.a.mac(&hosts.tap_a), hosts.b.mac(&hosts.tap_b));
    let (from_a, to_a) = (format!("dl_src={mac_a}"), format!("dl_dst={mac_a}"));
    let (from_b, to_b) = (format!("dl_src={mac_b}"), format!("dl_dst={mac_b}"));
    let learned = controller.wait_for_flows(&mgmt, "simple_switch_13's learned rules", PROGRAMMED_LIMIT, |flows| {
        has_flow(flows, &["priority=1,in_port=1,", &from_a, &to_b, "actions=output:2"])
            && has_flow(flows, &["priority=1,in_port=2,", &from_b, &to_a, "actions=output:1"])
    });
    (hosts, config, switch, controller, learned)
}

#[test]
fn osken_simple_switch_13_connects_two_namespaces() {
    let dir = TestDir::new("osken_ss13");
    let (_hosts, _config, switch, controller, learned) = simple_switch_learned(&dir, free_port());
    assert!(has_flow(&learned, &["priority=0 actions=CONTROLLER:65535"]), "{learned:#?}");
    switch.stop();
    controller.stop();
}

/// The bridge's rules without what changes with time (durations, counters, ages).
fn rules(config: &SwitchConfig) -> Vec<String> {
    const CHANGING: [&str; 5] = ["duration=", "n_packets=", "n_bytes=", "idle_age=", "hard_age="];
    let dump = ofctl::ofctl_ok("OpenFlow13", &["dump-flows", &ofctl::unix_target(&config.mgmt_socket())]);
    let mut rules: Vec<String> = ofctl::flow_lines(&dump)
        .iter()
        .map(|line| {
            let parts = line.split(", ").filter(|part| !CHANGING.iter().any(|field| part.contains(field)));
            parts.collect::<Vec<_>>().join(", ")
        })
        .collect();
    rules.sort();
    rules
}

/// Whether a controller (TCP) connection is up, as vsctl controller-status shows it.
fn controller_connected(switch: &Vswitchd) -> bool {
    let status: serde_json::Value = switch.json(&["controller-status", "br0"]);
    status["connections"].as_array().is_some_and(|connections| connections.iter().any(|c| c["controller"] == true))
}

#[test]
fn controller_restart_secure_keeps_flows_standalone_learns() {
    let dir = TestDir::new("osken_restart");
    let port = free_port();
    let (hosts, config, switch, controller, _) = simple_switch_learned(&dir, port);
    let context = || dump_flows(&config);

    // Secure: the controller goes away, its flows stay and still forward.
    switch.vsctl_ok(&["set-fail-mode", "br0", "secure"]);
    let before = rules(&config);
    controller.stop();
    wait::poll(RECONNECT_LIMIT, || (!controller_connected(&switch)).then_some(())).expect("the connection ends");
    assert_eq!(rules(&config), before, "secure keeps every flow");
    hosts.ping_both_ways(context);

    // It comes back on the same port: the switch reconnects by itself.
    let mut controller = ControllerApp::simple_switch_13(&dir, port);
    wait::poll(RECONNECT_LIMIT, || controller_connected(&switch).then_some(()))
        .unwrap_or_else(|| panic!("no reconnection:\n{}", controller.logs()));
    controller.wait_for_flows(&config.mgmt_socket(), "the table-miss rule again", PROGRAMMED_LIMIT, |flows| {
        has_flow(flows, &["priority=0 actions=CONTROLLER:65535"])
    });

    // Standalone: without the controller and without flows, the bridge fails open and
    // forwards as a learning switch.
    switch.vsctl_ok(&["set-fail-mode", "br0", "standalone"]);
    controller.stop();
    switch.vsctl_ok(&["del-flows", "br0"]);
    wait::poll(FAIL_OPEN_LIMIT, || {
        switch.vsctl_ok(&["controller-status", "br0"]).starts_with("fail-open: yes").then_some(())
    })
    .unwrap_or_else(|| panic!("no fail-open:\n{}", switch.stderr()));
    hosts.ping_both_ways(context);
    switch.stop();
}

#[test]
fn faucet_one_vlan_connects_two_namespaces() {
    let dir = TestDir::new("faucet_vlan");
    let port = free_port();
    let hosts = Hosts::create(&dir);
    let config = hosts.switch_config(&dir, port);
    let switch = Vswitchd::start(&dir, &config);
    hosts.attach();
    let mgmt = config.mgmt_socket();
    // Faucet programs only the datapath its configuration names.
    let faucet_config = FaucetConfig { dp_id: ofctl::datapath_id(&mgmt), vlan: VLAN, ports: vec![OFPORT_A, OFPORT_B] };
    let mut controller = ControllerApp::faucet(&dir, port, &faucet_config);

    // Its pipeline: each port's untagged frames enter the VLAN, the VLAN floods to both ports.
    let vlan_vid = format!("set_field:{}->vlan_vid", 0x1000 | VLAN);
    controller.wait_for_flows(&mgmt, "Faucet's pipeline for the VLAN", PROGRAMMED_LIMIT, |flows| {
        has_flow(flows, &["in_port=1,vlan_tci=0x0000/0x1fff", "push_vlan:0x8100", &vlan_vid])
            && has_flow(flows, &["in_port=2,vlan_tci=0x0000/0x1fff", "push_vlan:0x8100", &vlan_vid])
            && has_flow(flows, &[&format!("dl_vlan={VLAN} actions=pop_vlan,output:1,output:2")])
    });

    hosts.ping_both_ways(|| format!("{}\n{}", dump_flows(&config), controller.logs()));

    // What it learned from packet-ins: each host's address as a destination in the VLAN.
    let (mac_a, mac_b) = (hosts.a.mac(&hosts.tap_a), hosts.b.mac(&hosts.tap_b));
    let (to_a, to_b) = (format!("dl_dst={mac_a}"), format!("dl_dst={mac_b}"));
    let in_vlan = format!("dl_vlan={VLAN},");
    controller.wait_for_flows(&mgmt, "the destinations Faucet learned", PROGRAMMED_LIMIT, |flows| {
        has_flow(flows, &[&in_vlan, &to_a, "actions=pop_vlan,output:1"])
            && has_flow(flows, &[&in_vlan, &to_b, "actions=pop_vlan,output:2"])
    });

    switch.stop();
    controller.stop();
}
