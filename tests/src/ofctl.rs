//! `ovs-ofctl` (Open vSwitch's, Debian openvswitch-common) against the switch's OpenFlow
//! channel: one bounded run, its flow dumps as lines, the datapath id it shows; and a free TCP
//! port of 127.0.0.1 for the listeners and controllers the OpenFlow tests set up.
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::command::{run, CmdOutput};

pub const OVS_OFCTL: &str = "/usr/bin/ovs-ofctl";
/// How long one ovs-ofctl run may take.
const OFCTL_LIMIT: Duration = Duration::from_secs(20);

/// Runs `ovs-ofctl -O <version> <args>` (bounded in time).
pub fn ofctl(version: &str, args: &[&str]) -> CmdOutput {
    let mut command = Command::new(OVS_OFCTL);
    command.arg("-O").arg(version).args(args);
    run(command, OFCTL_LIMIT)
}

/// Runs ovs-ofctl, which must succeed; returns its stdout.
pub fn ofctl_ok(version: &str, args: &[&str]) -> String {
    let output = ofctl(version, args);
    assert!(output.success(), "{output}");
    output.stdout
}

/// The flow lines of a dump-flows output (without the reply header line).
pub fn flow_lines(dump: &str) -> Vec<String> {
    dump.lines().filter(|l| l.contains("actions=")).map(|l| l.trim().to_owned()).collect()
}

/// A field `name=VALUE` of a dump line, as text.
pub fn field<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    line.split([',', ' ']).find_map(|part| part.strip_prefix(name).and_then(|rest| rest.strip_prefix('=')))
}

/// `unix:PATH`, ovs-ofctl's name for a unix socket target such as the bridge's `br0.mgmt`.
pub fn unix_target(path: &Path) -> String {
    format!("unix:{}", path.display())
}

/// The datapath id `ovs-ofctl -O OpenFlow13 show` reports on the management socket `mgmt`.
pub fn datapath_id(mgmt: &Path) -> u64 {
    let show = ofctl_ok("OpenFlow13", &["show", &unix_target(mgmt)]);
    let hex = show.split("dpid:").nth(1).and_then(|rest| rest.get(..16)).expect("a dpid in the output");
    u64::from_str_radix(hex, 16).expect("a hexadecimal dpid")
}

/// A TCP port of 127.0.0.1 nobody listens on now (bound to port 0, then released).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local address").port()
}
