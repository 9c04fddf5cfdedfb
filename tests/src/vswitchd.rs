//! A vswitchd under test and vsctl to talk to it. `Vswitchd::start` writes
//! the configuration, starts the daemon with its stderr in a file and waits
//! (bounded) until it answers on its control socket; `stop` sends SIGTERM and
//! requires exit code 0 within a few seconds. Dropped while running (a test
//! panicked) it is stopped the same way, with SIGKILL as the last resort; on
//! a failing test its stderr is printed.
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::time::Duration;

use serde::de::DeserializeOwned;

use crate::bins;
use crate::command::{self, CmdOutput};
use crate::process::{log_tail, Guarded, Signal, Stopped};
use crate::scratch::{hugepage_files, remove_dpdk_leftovers, runtime_files, TestDir};
use crate::status::{Mempool, PortStatsReply, Show};
use crate::switch_config::{SwitchConfig, BRIDGE};
use crate::wait;

/// How long vswitchd may take to answer its first request.
const START_LIMIT: Duration = Duration::from_secs(20);
/// How long vswitchd may take to exit after SIGTERM.
pub const STOP_LIMIT: Duration = Duration::from_secs(5);
/// How long one vsctl run may take (its own --timeout is shorter).
const VSCTL_LIMIT: Duration = Duration::from_secs(15);
/// Start-ups of one switch before a clash of DPDK af_packet fanout groups is given up on.
const FANOUT_CLASH_ATTEMPTS: usize = 5;
/// vsctl's --timeout for the harness's requests.
const VSCTL_TIMEOUT_SECS: &str = "10";
/// Lines of vswitchd's stderr printed when a test fails.
const STDERR_TAIL_LINES: usize = 80;

/// A running vswitchd.
pub struct Vswitchd {
    process: Guarded,
    socket: PathBuf,
    file_prefix: String,
    stderr_path: PathBuf,
}

impl Vswitchd {
    /// Writes `config` to `<dir>/vswitchd.toml`, starts vswitchd on it and
    /// waits until it answers `vsctl show`. Panics (with its stderr) when it
    /// exits or does not answer in time.
    pub fn start(dir: &TestDir, config: &SwitchConfig) -> Vswitchd {
        let mut daemon = Vswitchd::spawn(dir, config, "vswitchd");
        if let Err(status) = daemon.wait_started_respawning(dir, config, "vswitchd") {
            panic!("vswitchd exited during start-up with {status}");
        }
        daemon
    }

    /// `wait_started` for a daemon spawned as `name` on `config`, which is started again (at most
    /// `FANOUT_CLASH_ATTEMPTS` times in all) when DPDK's net_af_packet could not join its
    /// PACKET_FANOUT group for one of its ports: the switch then exits (a port it cannot do
    /// without) or runs without that port (logged "port not added"), and the test would fail
    /// for want of it. That PMD numbers the group `(pid ^ ifindex) & 0xffff`, and groups are per
    /// network namespace: switches of one test, started one after the other on veths created
    /// one after the other, often draw the same number for different interfaces, which the
    /// kernel refuses. A new process has another pid.
    pub fn wait_started_respawning(
        &mut self,
        dir: &TestDir,
        config: &SwitchConfig,
        name: &str,
    ) -> Result<(), ExitStatus> {
        let mut attempt = 1;
        loop {
            let outcome = self.wait_started();
            if attempt >= FANOUT_CLASH_ATTEMPTS || !self.stderr().contains("PACKET_FANOUT") {
                return outcome;
            }
            eprintln!("{name}: an af_packet fanout group clashed at start-up; starting it again");
            if let Stopped::Killed { grace } = self.process.stop(STOP_LIMIT) {
                panic!("{name} did not exit within {grace:?} after SIGTERM; killed it");
            }
            remove_dpdk_leftovers(&self.file_prefix);
            self.process = spawn_process(dir, config, name);
            attempt += 1;
        }
    }

    /// Starts vswitchd on `config` (written to `<dir>/<name>.toml`, stderr to
    /// `<dir>/<name>.stderr`) without waiting for it.
    pub fn spawn(dir: &TestDir, config: &SwitchConfig, name: &str) -> Vswitchd {
        let process = spawn_process(dir, config, name);
        let stderr_path = dir.join(&format!("{name}.stderr"));
        Vswitchd { process, socket: config.socket.clone(), file_prefix: config.file_prefix.clone(), stderr_path }
    }

    /// Waits until it answers `vsctl show` (Ok) or exits (Err with its exit
    /// status); panics when it does neither within `START_LIMIT`.
    pub fn wait_started(&mut self) -> Result<(), ExitStatus> {
        let socket = self.socket.clone();
        let outcome = wait::poll(START_LIMIT, || {
            if let Some(status) = self.process.exit_status() {
                return Some(Err(status));
            }
            vsctl_at(&socket, &["--timeout", "2", "show"]).success().then_some(Ok(()))
        });
        outcome.unwrap_or_else(|| panic!("vswitchd did not answer on {} within {START_LIMIT:?}", socket.display()))
    }

    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// Everything it wrote to stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    pub fn is_running(&mut self) -> bool {
        self.process.is_running()
    }

    /// Waits at most `limit` for it to exit by itself.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        self.process.wait_exit(limit)
    }

    /// Runs `vsctl --socket <its socket> <args>`.
    pub fn vsctl(&self, args: &[&str]) -> CmdOutput {
        vsctl_at(&self.socket, args)
    }

    /// Runs vsctl and returns its stdout; panics unless it exits 0.
    pub fn vsctl_ok(&self, args: &[&str]) -> String {
        let output = self.vsctl(args);
        assert!(output.success(), "vsctl failed:\n{output}");
        output.stdout
    }

    /// Runs `vsctl --json <args>` and decodes its output.
    pub fn json<T: DeserializeOwned>(&self, args: &[&str]) -> T {
        let full: Vec<&str> = std::iter::once("--json").chain(args.iter().copied()).collect();
        let stdout = self.vsctl_ok(&full);
        serde_json::from_str(&stdout)
            .unwrap_or_else(|e| panic!("cannot decode `vsctl {}`: {e}\n{stdout}", full.join(" ")))
    }

    pub fn show(&self) -> Show {
        self.json(&["show"])
    }

    pub fn port_stats(&self) -> PortStatsReply {
        self.json(&["port-stats"])
    }

    /// Polls port-stats until `done` holds (at most `limit`); panics naming
    /// `what` with the last counters if it never does.
    pub fn wait_for_counters(
        &self,
        limit: Duration,
        what: &str,
        done: impl Fn(&PortStatsReply) -> bool,
    ) -> PortStatsReply {
        let mut last = None;
        let found = wait::poll(limit, || {
            let stats = self.port_stats();
            let reached = done(&stats);
            last = Some(stats.clone());
            reached.then_some(stats)
        });
        found.unwrap_or_else(|| panic!("timed out after {limit:?} waiting for {what}; last counters: {last:#?}"))
    }

    pub fn mempool(&self) -> Mempool {
        self.json(&["mempool"])
    }

    /// `vsctl add-port br0 <name> <settings...>`, which must succeed.
    pub fn add_port(&self, name: &str, settings: &[&str]) {
        let args: Vec<&str> = ["add-port", BRIDGE, name].into_iter().chain(settings.iter().copied()).collect();
        self.vsctl_ok(&args);
    }

    /// `vsctl del-port <name>`, which must succeed.
    pub fn del_port(&self, name: &str) {
        self.vsctl_ok(&["del-port", name]);
    }

    /// Sends SIGTERM and requires exit code 0 within `STOP_LIMIT`.
    pub fn stop(self) -> StopReport {
        self.stop_with(Signal::Term)
    }

    /// Like `stop`, with `signal` (SIGINT must stop it cleanly too).
    pub fn stop_with(mut self, signal: Signal) -> StopReport {
        let signal_name = signal.name();
        match self.process.stop_with(signal, STOP_LIMIT) {
            Stopped::Exited { status, after } => {
                assert_eq!(status.code(), Some(0), "vswitchd exited with {status} after SIG{signal_name} (expected 0)");
                // Looked at before `Drop` cleans up.
                StopReport {
                    took: after,
                    hugepage_files: hugepage_files(&self.file_prefix),
                    runtime_files: runtime_files(&self.file_prefix),
                }
            }
            Stopped::Killed { grace } => {
                panic!("vswitchd did not exit within {grace:?} after SIG{signal_name}; killed it")
            }
        }
    }
}

/// How a clean stop went and what DPDK files the process left.
#[derive(Debug)]
pub struct StopReport {
    /// From the signal to the exit.
    pub took: Duration,
    /// Files of its file prefix in /dev/hugepages.
    pub hugepage_files: Vec<PathBuf>,
    /// Files in its EAL runtime directory (/var/run/dpdk/<prefix>/).
    pub runtime_files: Vec<PathBuf>,
}

impl Drop for Vswitchd {
    fn drop(&mut self) {
        // Stopped first, so a failing test's output ends with how it stopped.
        let ended = if self.process.is_running() {
            match self.process.stop(STOP_LIMIT) {
                Stopped::Exited { status, .. } => format!("{status} after SIGTERM from the test harness"),
                Stopped::Killed { grace } => format!("killed: ignored SIGTERM for {grace:?}"),
            }
        } else {
            self.process.exit_status().map(|s| s.to_string()).unwrap_or_default()
        };
        if std::thread::panicking() {
            eprintln!(
                "---- vswitchd (pid {}) stderr ----\n{}\n---- vswitchd ended: {ended} ----",
                self.pid(),
                log_tail(&self.stderr_path, STDERR_TAIL_LINES)
            );
        }
        if !self.process.is_running() {
            remove_dpdk_leftovers(&self.file_prefix);
        }
    }
}

/// The vswitchd process of `Vswitchd::spawn`.
fn spawn_process(dir: &TestDir, config: &SwitchConfig, name: &str) -> Guarded {
    let config_path = config.write(dir, &format!("{name}.toml"));
    let stdout_path = dir.join(&format!("{name}.stdout"));
    let stderr_path = dir.join(&format!("{name}.stderr"));
    let mut command = Command::new(bins::vswitchd());
    command.arg("--config").arg(&config_path).env("RUST_LOG", "info");
    Guarded::spawn(name, command, Signal::Term, &stdout_path, &stderr_path)
}

/// Runs `vswitchd --check-config <config>` (bounded in time): how it judges a file.
pub fn check_config(config: &Path) -> CmdOutput {
    let mut command = Command::new(bins::vswitchd());
    command.arg("--check-config").arg(config);
    command::run(command, VSCTL_LIMIT)
}

/// Runs `vsctl --socket <socket> <args>` (bounded in time).
pub fn vsctl_at(socket: &Path, args: &[&str]) -> CmdOutput {
    let mut command = Command::new(bins::vsctl());
    command.env_remove("VSWITCH_SOCKET").arg("--socket").arg(socket);
    if !args.contains(&"--timeout") {
        command.args(["--timeout", VSCTL_TIMEOUT_SECS]);
    }
    command.args(args);
    command::run(command, VSCTL_LIMIT)
}
