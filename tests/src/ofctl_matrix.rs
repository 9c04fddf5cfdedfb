//! The ovs-ofctl command matrix: every ovs-ofctl command that talks to a switch, in every
//! OpenFlow version ovs-ofctl speaks (1.0 to 1.5), against one switch's OpenFlow target. A cell
//! passes when ovs-ofctl exits 0 (`monitor watch:` when it is still watching after a moment, its
//! initial flow dump printed). Run against the switch and against Open vSwitch, the counts are the
//! conformance figure of the OpenFlow issue; tests/e2e/ofctl_matrix.rs keeps ours from falling.
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::command::{run, CmdOutput};
use crate::ofctl::OVS_OFCTL;

/// The versions, as `ovs-ofctl -O` names them.
pub const VERSIONS: [&str; 6] = ["OpenFlow10", "OpenFlow11", "OpenFlow12", "OpenFlow13", "OpenFlow14", "OpenFlow15"];

/// How long `monitor watch:` runs before it is stopped (it never ends by itself).
const MONITOR_FOR: Duration = Duration::from_secs(2);
/// How long any other command may take.
const COMMAND_LIMIT: Duration = Duration::from_secs(10);

/// One command: its name in the matrix and its arguments after the target (`{flows}` is the
/// path of a flows file with one rule).
pub struct MatrixCommand {
    pub name: &'static str,
    command: &'static str,
    args: &'static [&'static str],
}

const fn cmd(name: &'static str, command: &'static str, args: &'static [&'static str]) -> MatrixCommand {
    MatrixCommand { name, command, args }
}

/// The commands, in an order where each finds what it needs (a rule, a group, a meter).
pub const COMMANDS: &[MatrixCommand] = &[
    cmd("show", "show", &[]),
    cmd("dump-desc", "dump-desc", &[]),
    cmd("dump-tables", "dump-tables", &[]),
    cmd("dump-table-features", "dump-table-features", &[]),
    cmd("dump-table-desc", "dump-table-desc", &[]),
    cmd("dump-ports", "dump-ports", &[]),
    cmd("dump-ports 1", "dump-ports", &["1"]),
    cmd("dump-ports-desc", "dump-ports-desc", &[]),
    cmd("mod-port up", "mod-port", &["1", "up"]),
    cmd("mod-port no-flood", "mod-port", &["1", "no-flood"]),
    cmd("get-frags", "get-frags", &[]),
    cmd("set-frags normal", "set-frags", &["normal"]),
    cmd("probe", "probe", &[]),
    cmd("ping", "ping", &["64"]),
    cmd("add-flow", "add-flow", &["priority=5,in_port=1,actions=output:2"]),
    cmd("add-flow ip rewrite", "add-flow", &["priority=6,ip,nw_src=10.0.0.1,actions=mod_nw_dst:10.0.0.9,output:2"]),
    cmd("add-flow table=1", "add-flow", &["table=1,priority=5,in_port=2,actions=output:1"]),
    cmd("add-flow goto", "add-flow", &["priority=7,in_port=3,actions=resubmit(,1)"]),
    cmd("add-flow --bundle", "--bundle add-flow", &["priority=8,in_port=2,actions=output:3"]),
    cmd("add-flows", "add-flows", &["{flows}"]),
    cmd("mod-flows", "mod-flows", &["in_port=1,actions=output:3"]),
    cmd("mod-flows --strict", "--strict mod-flows", &["priority=5,in_port=1,actions=output:2"]),
    cmd("dump-flows", "dump-flows", &[]),
    cmd("dump-flows match", "dump-flows", &["in_port=1"]),
    cmd("dump-aggregate", "dump-aggregate", &[]),
    cmd("queue-stats", "queue-stats", &[]),
    cmd("queue-get-config", "queue-get-config", &["1"]),
    cmd(
        "packet-out",
        "packet-out",
        &[concat!(
            "in_port=CONTROLLER,packet=",
            "ffffffffffff00000000000108060001080006040001000000000001",
            "0a0000010000000000000a000002",
            ",actions=output:2"
        )],
    ),
    cmd("add-group", "add-group", &["group_id=1,type=all,bucket=output:2"]),
    cmd(
        "add-group select",
        "add-group",
        &["group_id=2,type=select,bucket=weight=1,actions=output:2,bucket=weight=2,actions=output:3"],
    ),
    cmd("mod-group", "mod-group", &["group_id=1,type=all,bucket=output:3"]),
    cmd("add-flow group", "add-flow", &["priority=9,in_port=2,actions=group:1"]),
    cmd("dump-groups", "dump-groups", &[]),
    cmd("dump-group-stats", "dump-group-stats", &[]),
    cmd("dump-group-features", "dump-group-features", &[]),
    cmd(
        "insert-buckets",
        "insert-buckets",
        &["group_id=2,command_bucket_id=last,bucket=bucket_id=7,weight=1,actions=output:1"],
    ),
    cmd("remove-buckets", "remove-buckets", &["group_id=2,command_bucket_id=7"]),
    cmd("add-meter", "add-meter", &["meter=1,kbps,band=type=drop,rate=1000"]),
    cmd("mod-meter", "mod-meter", &["meter=1,kbps,band=type=drop,rate=2000"]),
    cmd("add-flow meter", "add-flow", &["priority=10,in_port=3,actions=meter:1,output:2"]),
    cmd("dump-meters", "dump-meters", &[]),
    cmd("meter-stats", "meter-stats", &[]),
    cmd("meter-features", "meter-features", &[]),
    cmd("monitor watch:", "monitor", &["watch:"]),
    cmd("dump-tlv-map", "dump-tlv-map", &[]),
    cmd("add-tlv-map", "add-tlv-map", &["{class=0xffff,type=0,len=4}->tun_metadata0"]),
    // (So that the next version's add-tlv-map finds the field free.)
    cmd("del-tlv-map", "del-tlv-map", &[]),
    cmd("replace-flows", "replace-flows", &["{flows}"]),
    cmd("diff-flows", "diff-flows", &["{flows}"]),
    cmd("del-flows match", "del-flows", &["in_port=2"]),
    cmd("del-flows --strict", "--strict del-flows", &["priority=5,in_port=1"]),
    cmd("del-meters", "del-meters", &[]),
    cmd("del-groups", "del-groups", &[]),
    cmd("del-flows", "del-flows", &[]),
];

/// The (version, command) cells that passed.
pub type Passed = BTreeSet<(&'static str, &'static str)>;

/// Runs every command in every version against `target` (an ovs-ofctl target such as
/// `unix:PATH`), the flows file at `flows_file`; returns the cells that passed, and the output of
/// every failure for a report.
pub fn run_matrix(target: &str, flows_file: &Path) -> (Passed, Vec<String>) {
    let mut passed = Passed::new();
    let mut failures = Vec::new();
    for version in VERSIONS {
        for command in COMMANDS {
            let output = run_command(version, command, target, flows_file);
            let ok = if command.command == "monitor" { watching(&output) } else { output.success() };
            if ok {
                passed.insert((version, command.name));
            } else {
                failures.push(format!("{version} {}: {}", command.name, first_line(&output)));
            }
        }
    }
    (passed, failures)
}

fn run_command(version: &str, command: &MatrixCommand, target: &str, flows_file: &Path) -> CmdOutput {
    let flows = flows_file.display().to_string();
    let mut words: Vec<String> = command.command.split(' ').map(str::to_owned).collect();
    let name = words.pop().unwrap_or_default();
    let args: Vec<String> = command.args.iter().map(|a| a.replace("{flows}", &flows)).collect();
    if command.command == "monitor" {
        // `timeout` ends it (exit 124 when it was still watching).
        // Its control socket in the scratch directory (the default run directory may not exist).
        let unixctl = flows_file.with_file_name(format!("monitor-{version}.ctl"));
        let mut cmd = Command::new("timeout");
        cmd.arg(MONITOR_FOR.as_secs().to_string()).arg(OVS_OFCTL).arg("-O").arg(version);
        cmd.arg(format!("--unixctl={}", unixctl.display())).arg(&name).arg(target).args(&args);
        return run(cmd, MONITOR_FOR + COMMAND_LIMIT);
    }
    let mut cmd = Command::new(OVS_OFCTL);
    cmd.arg("-O").arg(version).args(&words).arg(&name).arg(target).args(&args);
    run(cmd, COMMAND_LIMIT)
}

/// `monitor watch:` got its initial flows and was still watching when `timeout` stopped it.
fn watching(output: &CmdOutput) -> bool {
    output.status.code() == Some(124) && output.stdout.contains("FLOW_MONITOR reply")
}

fn first_line(output: &CmdOutput) -> String {
    let text = if output.stderr.trim().is_empty() { &output.stdout } else { &output.stderr };
    text.lines().find(|l| !l.trim().is_empty()).unwrap_or("(no output)").trim().to_owned()
}

/// The rule of the flows file.
pub const FLOWS_FILE_RULE: &str = "priority=4,in_port=3,actions=output:1\n";

/// The matrix as a table: one row per command, one column per version, `ok`/`-` for ours and
/// for the reference side by side.
pub fn table(ours: &Passed, reference: &Passed) -> String {
    let mut text = format!("{:<24}", "command");
    for version in VERSIONS {
        text.push_str(&format!(" {:>9}", version.trim_start_matches("OpenFlow")));
    }
    text.push_str("   (ours/ovs)\n");
    for command in COMMANDS {
        text.push_str(&format!("{:<24}", command.name));
        for version in VERSIONS {
            let mark = |set: &Passed| if set.contains(&(version, command.name)) { "ok" } else { "-" };
            text.push_str(&format!(" {:>9}", format!("{}/{}", mark(ours), mark(reference))));
        }
        text.push('\n');
    }
    text.push_str(&format!(
        "passed: ours {} of {}, Open vSwitch {}\n",
        ours.len(),
        VERSIONS.len() * COMMANDS.len(),
        reference.len()
    ));
    text
}

#[cfg(test)]
mod tests {
    #[test]
    fn command_names_are_unique() {
        let mut names: Vec<&str> = super::COMMANDS.iter().map(|c| c.name).collect();
        names.sort_unstable();
        let count = names.len();
        names.dedup();
        assert_eq!(names.len(), count);
    }
}
