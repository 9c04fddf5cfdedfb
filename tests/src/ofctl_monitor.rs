//! `ovs-ofctl monitor` on a bridge's management socket as the observer of what the switch
//! sends by itself (packet-ins, port status, flow removed) or, with `watch:` arguments, of its
//! flow monitor updates: a guarded process whose output goes to a file in the test's scratch
//! directory (its unixctl socket too, which `appctl` drives: `ofctl/send`, `ofctl/block`),
//! read back by bounded polls.
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::command::{run, CmdOutput};
use crate::ofctl::OVS_OFCTL;
use crate::process::{Guarded, Signal};
use crate::{wait, TestDir};

const OVS_APPCTL: &str = "/usr/bin/ovs-appctl";
/// How long its first flow monitor replies may take.
const WATCH_LIMIT: Duration = Duration::from_secs(10);

pub struct OfctlMonitor {
    process: Guarded,
    output: PathBuf,
    unixctl: PathBuf,
}

impl OfctlMonitor {
    /// Starts `ovs-ofctl -O <version> monitor unix:<mgmt>` and waits until the switch has
    /// answered its first request (its output shows the connection is up).
    pub fn start(dir: &TestDir, name: &str, version: &str, mgmt: &Path) -> OfctlMonitor {
        let mut monitor = OfctlMonitor::spawn(dir, name, version, mgmt, &[]);
        // The monitor prints nothing until the first asynchronous message; give it a moment
        // to connect and negotiate.
        std::thread::sleep(Duration::from_millis(500));
        monitor.assert_running();
        monitor
    }

    /// Starts `ovs-ofctl -O <version> monitor unix:<mgmt> watch:W...` (one flow monitor per
    /// entry of `watches`, e.g. `table=1` or `` for everything) and waits until each one's
    /// initial reply is printed.
    pub fn watch(dir: &TestDir, name: &str, version: &str, mgmt: &Path, watches: &[&str]) -> OfctlMonitor {
        let arguments: Vec<String> = watches.iter().map(|w| format!("watch:{w}")).collect();
        let mut monitor = OfctlMonitor::spawn(dir, name, version, mgmt, &arguments);
        monitor.wait_for("FLOW_MONITOR reply", watches.len(), WATCH_LIMIT);
        monitor.assert_running();
        monitor
    }

    fn spawn(dir: &TestDir, name: &str, version: &str, mgmt: &Path, arguments: &[String]) -> OfctlMonitor {
        let output = dir.join(&format!("{name}.out"));
        let unixctl = dir.join(&format!("{name}.ctl"));
        let mut command = Command::new(OVS_OFCTL);
        command
            .args(["-O", version, "--timestamp"])
            .arg(format!("--unixctl={}", unixctl.display()))
            .arg("monitor")
            .arg(format!("unix:{}", mgmt.display()))
            .args(arguments);
        let process = Guarded::spawn(name, command, Signal::Term, &output, &output);
        OfctlMonitor { process, output, unixctl }
    }

    fn assert_running(&mut self) {
        let running = self.process.is_running();
        assert!(running, "ovs-ofctl monitor ended: {}", self.text());
    }

    /// `ovs-appctl -t <its unixctl socket> <args>` (bounded in time): `ofctl/send HEX`,
    /// `ofctl/block`, `ofctl/unblock`.
    pub fn appctl(&self, args: &[&str]) -> CmdOutput {
        let mut command = Command::new(OVS_APPCTL);
        command.arg("-t").arg(&self.unixctl).args(args);
        run(command, WATCH_LIMIT)
    }

    /// The flow monitor lines printed so far: each update (` event=...`, in 1.4+ also
    /// ` event=PAUSED` and ` event=RESUMED`) and the 1.0/1.3 `FLOW_MONITOR_PAUSED` / `RESUMED`
    /// messages (their header without timestamp and xid).
    pub fn flow_events(&self) -> Vec<String> {
        self.text()
            .lines()
            .filter_map(|line| {
                if line.starts_with(" event=") {
                    Some(line.to_owned())
                } else {
                    ["FLOW_MONITOR_PAUSED", "FLOW_MONITOR_RESUMED"]
                        .into_iter()
                        .find(|name| line.contains(name))
                        .map(|name| name.to_owned())
                }
            })
            .collect()
    }

    /// The errors printed so far, by name: `OFPT_ERROR <name>` (not their xid: Open vSwitch
    /// answers some flow monitor requests with an error whose header it reads from the
    /// request's body).
    pub fn errors(&self) -> Vec<String> {
        self.text()
            .lines()
            .filter(|line| line.contains("OFPT_ERROR"))
            .map(|line| format!("OFPT_ERROR {}", line.rsplit("): ").next().unwrap_or_default()))
            .collect()
    }

    pub fn text(&self) -> String {
        std::fs::read_to_string(&self.output).unwrap_or_default()
    }

    /// The output lines that contain `needle`.
    pub fn lines_with(&self, needle: &str) -> Vec<String> {
        self.text().lines().filter(|line| line.contains(needle)).map(str::to_owned).collect()
    }

    /// Waits until `needle` occurs on at least `count` lines; panics with the output if it
    /// does not within `limit`.
    pub fn wait_for(&self, needle: &str, count: usize, limit: Duration) -> Vec<String> {
        wait::poll(limit, || {
            let lines = self.lines_with(needle);
            (lines.len() >= count).then_some(lines)
        })
        .unwrap_or_else(|| panic!("{count} x {needle:?} not seen within {limit:?}; monitor output:\n{}", self.text()))
    }
}
