//! The ovs-ofctl command matrix (`vswitch_e2e::ofctl_matrix`): every command in every version
//! 1.0 to 1.5, against Open vSwitch and against the switch, printed side by side. In the versions
//! the switch speaks (1.0, 1.3, 1.4 and 1.5) every command must pass on it but those in `NOT_YET`, each
//! with its reason; a cell that stops passing fails the test with what ovs-ofctl said, and a cell
//! of `NOT_YET` that starts passing fails it too (take it off the list). 1.1 and 1.2 are refused
//! by design: no cell of theirs may pass but those in `OVER_1_4`.
#![forbid(unsafe_code)]
use vswitch_e2e::ofctl::unix_target;
use vswitch_e2e::ofctl_matrix::{run_matrix, table, COMMANDS, FLOWS_FILE_RULE};

/// The versions the switch speaks.
const SPOKEN: [&str; 4] = ["OpenFlow10", "OpenFlow13", "OpenFlow14", "OpenFlow15"];

/// Commands ovs-ofctl sends in OpenFlow 1.4 whatever `-O` says (it adds 1.4 to the versions it
/// offers): they pass in 1.1 and 1.2 too, over 1.4.
const OVER_1_4: &[&str] = &["add-flow --bundle"];

/// Cells of the spoken versions that do not pass on the switch, and why.
const NOT_YET: &[(&str, &str, &str)] = &[
    ("OpenFlow10", "dump-table-features", "ovs-ofctl needs 1.3"),
    ("OpenFlow10", "dump-table-desc", "ovs-ofctl needs 1.4"),
    ("OpenFlow13", "dump-table-desc", "ovs-ofctl needs 1.4"),
    ("OpenFlow13", "insert-buckets", "ovs-ofctl needs 1.0 or 1.5"),
    ("OpenFlow13", "remove-buckets", "ovs-ofctl needs 1.0 or 1.5"),
    ("OpenFlow14", "insert-buckets", "ovs-ofctl needs 1.0 or 1.5"),
    ("OpenFlow14", "remove-buckets", "ovs-ofctl needs 1.0 or 1.5"),
    ("OpenFlow10", "add-meter", "ovs-ofctl needs 1.3"),
    ("OpenFlow10", "mod-meter", "ovs-ofctl needs 1.3"),
    ("OpenFlow10", "add-flow meter", "ovs-ofctl needs 1.3"),
    ("OpenFlow10", "dump-meters", "ovs-ofctl needs 1.3"),
    ("OpenFlow10", "meter-stats", "ovs-ofctl needs 1.3"),
    ("OpenFlow10", "meter-features", "ovs-ofctl needs 1.3"),
    ("OpenFlow10", "del-meters", "ovs-ofctl needs 1.3"),
];
use vswitch_e2e::ovs_oracle::{OvsOracle, OvsPort};
use vswitch_e2e::{PortSpec, SwitchConfig, TestDir, Vswitchd};

#[test]
fn ovs_ofctl_command_matrix() {
    let dir = TestDir::new("ofctl_matrix");
    let flows_file = dir.join("flows.txt");
    std::fs::write(&flows_file, FLOWS_FILE_RULE).expect("write the flows file");

    let ovs = OvsOracle::start(&dir, "br0", &[OvsPort::new("p1", 1), OvsPort::new("p2", 2), OvsPort::new("p3", 3)]);
    let (reference, _) = run_matrix(&unix_target(&ovs.mgmt_socket()), &flows_file);
    ovs.stop();

    let config = SwitchConfig::new(&dir)
        .port(PortSpec::dpdk("p1", 1, "net_null0,no-rx=1"))
        .port(PortSpec::dpdk("p2", 2, "net_null1,no-rx=1"))
        .port(PortSpec::dpdk("p3", 3, "net_null2,no-rx=1"));
    let switch = Vswitchd::start(&dir, &config);
    let (ours, failures) = run_matrix(&unix_target(&config.mgmt_socket()), &flows_file);
    switch.stop();
    eprintln!("{}", table(&ours, &reference));

    let mut problems = Vec::new();
    for version in SPOKEN {
        for command in COMMANDS {
            let cell = (version, command.name);
            let not_yet = NOT_YET.iter().any(|(v, c, _)| (*v, *c) == cell);
            match (ours.contains(&cell), not_yet) {
                (false, false) => {
                    let why = failures.iter().find(|f| f.starts_with(&format!("{version} {}:", command.name)));
                    problems.push(format!("fails: {}", why.map_or("?", String::as_str)));
                }
                (true, true) => problems.push(format!("passes now, take it off NOT_YET: {version} {}", command.name)),
                _ => {}
            }
        }
    }
    let unspoken: Vec<_> =
        ours.iter().filter(|(version, command)| !SPOKEN.contains(version) && !OVER_1_4.contains(command)).collect();
    assert!(unspoken.is_empty(), "cells of a version the switch does not speak pass: {unspoken:?}");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
