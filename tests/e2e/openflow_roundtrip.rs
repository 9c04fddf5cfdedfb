//! Flows come back as they were sent, checked with an independent encoder: the property test
//! tests/python/flow_roundtrip.py (os-ken's OpenFlow 1.0, 1.3, 1.4 and 1.5 parsers, from the venv
//! scripts/setup.sh installs) sends hundreds of random flow_mods - matches with masks and
//! prerequisites, every action and instruction the switch takes, output actions with any
//! max_len, cookies, timeouts, flags - on the bridge's management socket, then compares flow
//! stats and the FLOW_REMOVED of a delete with what it sent, field by field.
//!
//! The same script runs against Open vSwitch first (its management socket, every version
//! enabled): the expectations are checked against the reference before they judge the switch.
//! The switch's runs of 1.3 and later add the fields Open vSwitch lacks (`--beyond-ovs`:
//! ipv6_exthdr) to the same flows.
//! Seeds are fixed, so a failure reproduces with the command line the test prints.
#![forbid(unsafe_code)]
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use vswitch_e2e::command::{self, CmdOutput};
use vswitch_e2e::openflow_apps::venv_python;
use vswitch_e2e::ovs_oracle::{OvsOracle, OvsPort};
use vswitch_e2e::{PortSpec, SwitchConfig, TestDir, Vswitchd};

/// Bound of one script run (hundreds of flow_mods and a flow dump take about a second).
const RUN_LIMIT: Duration = Duration::from_secs(120);
/// Flow mods per run.
const FLOWS: u32 = 400;
/// Seeds per version.
const SEEDS: [u32; 3] = [1, 2, 3];

fn script() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("python/flow_roundtrip.py")
}

fn round_trip(socket: &Path, version: &str, seed: u32, beyond_ovs: bool) -> CmdOutput {
    let mut cmd = Command::new(venv_python());
    cmd.arg(script()).arg("--connect").arg(format!("unix:{}", socket.display())).args([
        "--version",
        version,
        "--count",
        &FLOWS.to_string(),
        "--seed",
        &seed.to_string(),
    ]);
    if beyond_ovs {
        cmd.arg("--beyond-ovs");
    }
    command::run(cmd, RUN_LIMIT)
}

/// The switch with three ports that never receive (net_null with no-rx: no packet-ins race
/// the flow_removed messages the script waits for).
fn switch_config(dir: &TestDir) -> SwitchConfig {
    SwitchConfig::new(dir)
        .port(PortSpec::dpdk("p1", 1, "net_null0,no-rx=1"))
        .port(PortSpec::dpdk("p2", 2, "net_null1,no-rx=1"))
        .port(PortSpec::dpdk("p3", 3, "net_null2,no-rx=1"))
}

fn check_version(version: &str) {
    let dir = TestDir::new(&format!("openflow_roundtrip_{}", version.replace('.', "_")));
    let ovs = OvsOracle::start(&dir, "br0", &[OvsPort::new("p1", 1), OvsPort::new("p2", 2), OvsPort::new("p3", 3)]);
    for seed in SEEDS {
        let reference = round_trip(&ovs.mgmt_socket(), version, seed, false);
        assert!(reference.success(), "the script's expectations fail on Open vSwitch:\n{reference}");
    }
    ovs.stop();

    let config = switch_config(&dir);
    let switch = Vswitchd::start(&dir, &config);
    let socket = config.mgmt_socket();
    for seed in SEEDS {
        let ours = round_trip(&socket, version, seed, version != "1.0");
        assert!(ours.success(), "flows do not come back as sent:\n{ours}\nvswitchd:\n{}", switch.stderr());
        eprintln!("{}", ours.stdout.lines().last().unwrap_or_default());
    }
    switch.stop();
}

#[test]
fn openflow_1_3_flows_come_back_as_sent() {
    check_version("1.3");
}

#[test]
fn openflow_1_0_flows_come_back_as_sent() {
    check_version("1.0");
}

#[test]
fn openflow_1_4_flows_come_back_as_sent() {
    check_version("1.4");
}

#[test]
fn openflow_1_5_flows_come_back_as_sent() {
    check_version("1.5");
}
