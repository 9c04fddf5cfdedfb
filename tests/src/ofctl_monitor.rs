//! `ovs-ofctl monitor` on a bridge's management socket as the observer of what the switch
//! sends by itself (packet-ins, port status, flow removed): a guarded process whose output
//! goes to a file in the test's scratch directory (its unixctl socket too), read back by
//! bounded polls.
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::ofctl::OVS_OFCTL;
use crate::process::{Guarded, Signal};
use crate::{wait, TestDir};

pub struct OfctlMonitor {
    process: Guarded,
    output: PathBuf,
}

impl OfctlMonitor {
    /// Starts `ovs-ofctl -O <version> monitor unix:<mgmt>` and waits until the switch has
    /// answered its first request (its output shows the connection is up).
    pub fn start(dir: &TestDir, name: &str, version: &str, mgmt: &Path) -> OfctlMonitor {
        let output = dir.join(&format!("{name}.out"));
        let mut command = Command::new(OVS_OFCTL);
        command
            .args(["-O", version, "--timestamp"])
            .arg(format!("--unixctl={}", dir.join(&format!("{name}.ctl")).display()))
            .arg("monitor")
            .arg(format!("unix:{}", mgmt.display()));
        let process = Guarded::spawn(name, command, Signal::Term, &output, &output);
        let mut monitor = OfctlMonitor { process, output };
        // The monitor prints nothing until the first asynchronous message; give it a moment
        // to connect and negotiate.
        std::thread::sleep(Duration::from_millis(500));
        assert!(monitor.process.is_running(), "ovs-ofctl monitor ended: {}", monitor.text());
        monitor
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
