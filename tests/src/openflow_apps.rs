//! Real OpenFlow controller applications as processes a test owns: os-ken's `osken-manager`
//! running `simple_switch_13`, and Faucet (the os-ken application `faucet.faucet`, which is
//! all the `faucet` command execs). They come from the venv scripts/setup.sh installs
//! (`$VSWITCH_OPENFLOW_APPS`, default /opt/vswitch-openflow-apps, pinned versions in
//! scripts/openflow-apps-requirements.txt).
//!
//! A controller listens on a TCP port of 127.0.0.1 the test picks (`ofctl::free_port`;
//! `controller_target(port)` is what the bridge's `openflow` list takes) and writes its output, and Faucet its own log, into the test's
//! scratch directory; they are printed when the test fails. It is stopped by its pid with
//! SIGTERM (os-ken exits at once), SIGKILL after a bounded wait, also from `Drop`.
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::ofctl::{flow_lines, free_port, ofctl, unix_target};
use crate::process::{log_tail, Guarded, Signal, Stopped};
use crate::scratch::TestDir;
use crate::wait;

/// Environment variable naming the controllers' venv.
pub const VENV_ENV: &str = "VSWITCH_OPENFLOW_APPS";
/// Where scripts/setup.sh puts the venv when `VSWITCH_OPENFLOW_APPS` is not set.
const DEFAULT_VENV: &str = "/opt/vswitch-openflow-apps";
/// How long a controller may take to exit after SIGTERM.
const STOP_LIMIT: Duration = Duration::from_secs(5);
/// Lines of each log printed when a test fails.
const LOG_TAIL_LINES: usize = 60;

/// A running controller application.
pub struct ControllerApp {
    process: Guarded,
    /// Its stdout and stderr, then any log of its own.
    logs: Vec<PathBuf>,
}

impl ControllerApp {
    /// os-ken's `simple_switch_13`: a learning switch that installs a table-miss rule to the
    /// controller and, for every packet-in whose destination it knows, an
    /// `in_port,eth_src,eth_dst` rule.
    pub fn simple_switch_13(dir: &TestDir, port: u16) -> ControllerApp {
        let app = venv().join("apps/simple_switch_13.py");
        assert!(app.is_file(), "{} is missing: run scripts/setup.sh", app.display());
        ControllerApp::start(dir, port, "osken", &app.to_string_lossy(), &[], Vec::new())
    }

    /// The os-ken application in the file `app` (run as osken-manager's `app`), with `env`
    /// added to its environment; its output in `<dir>/<name>.out`.
    pub fn osken_app(dir: &TestDir, port: u16, name: &str, app: &Path, env: &[(&str, String)]) -> ControllerApp {
        assert!(app.is_file(), "{} is missing", app.display());
        ControllerApp::start(dir, port, name, &app.to_string_lossy(), env, Vec::new())
    }

    /// Faucet on `config` (written to `<dir>/faucet.yaml`), its log in `<dir>/faucet.log`, its
    /// Prometheus exporter on another free port of 127.0.0.1.
    pub fn faucet(dir: &TestDir, port: u16, config: &FaucetConfig) -> ControllerApp {
        let config_path = dir.join("faucet.yaml");
        std::fs::write(&config_path, config.to_yaml())
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", config_path.display()));
        let log = dir.join("faucet.log");
        let exception_log = dir.join("faucet.exception.log");
        let env = [
            ("FAUCET_CONFIG", config_path.to_string_lossy().into_owned()),
            ("FAUCET_LOG", log.to_string_lossy().into_owned()),
            ("FAUCET_EXCEPTION_LOG", exception_log.to_string_lossy().into_owned()),
            ("FAUCET_PROMETHEUS_ADDR", "127.0.0.1".to_owned()),
            ("FAUCET_PROMETHEUS_PORT", free_port().to_string()),
        ];
        ControllerApp::start(dir, port, "faucet", "faucet.faucet", &env, vec![log, exception_log])
    }

    /// Starts `osken-manager <app>` listening on `port` of 127.0.0.1, output in
    /// `<dir>/<name>.out`.
    fn start(
        dir: &TestDir,
        port: u16,
        name: &str,
        app: &str,
        env: &[(&str, String)],
        own_logs: Vec<PathBuf>,
    ) -> ControllerApp {
        let manager = venv().join("bin/osken-manager");
        assert!(manager.is_file(), "{} is missing: run scripts/setup.sh", manager.display());
        let mut command = Command::new(manager);
        command
            .args(["--ofp-listen-host", "127.0.0.1", "--ofp-tcp-listen-port", &port.to_string(), app])
            .envs(env.iter().map(|(key, value)| (key, value)));
        let output = dir.join(&format!("{name}.out"));
        let process = Guarded::spawn(name, command, Signal::Term, &output, &output);
        let logs = std::iter::once(output).chain(own_logs).collect();
        ControllerApp { process, logs }
    }

    /// The tails of its logs, for failure messages.
    pub fn logs(&self) -> String {
        log_tails(&self.logs)
    }

    /// Polls `ovs-ofctl -O OpenFlow13 dump-flows` on the management socket `mgmt` until `done`
    /// holds for the flow lines (at most `limit`) and returns them. Panics naming `what`, with
    /// the last dump and the controller's logs, when it never does or the controller exits.
    pub fn wait_for_flows(
        &mut self,
        mgmt: &Path,
        what: &str,
        limit: Duration,
        done: impl Fn(&[String]) -> bool,
    ) -> Vec<String> {
        let target = unix_target(mgmt);
        let mut last = String::new();
        let found = wait::poll(limit, || {
            if let Some(status) = self.process.exit_status() {
                panic!(
                    "{} exited with {status} while waiting for {what}\n{}",
                    self.process.name(),
                    log_tails(&self.logs)
                );
            }
            let dump = ofctl("OpenFlow13", &["dump-flows", &target]);
            last = dump.to_string();
            let flows = flow_lines(&dump.stdout);
            (dump.success() && done(&flows)).then_some(flows)
        });
        found.unwrap_or_else(|| {
            panic!("timed out after {limit:?} waiting for {what}; last dump-flows:\n{last}\n{}", self.logs())
        })
    }

    /// Stops it with SIGTERM, SIGKILL when it overstays; panics when it had exited by itself.
    pub fn stop(mut self) {
        if let Some(status) = self.process.exit_status() {
            panic!("{} had exited by itself with {status}\n{}", self.process.name(), self.logs());
        }
        if let Stopped::Killed { grace } = self.process.stop(STOP_LIMIT) {
            panic!("{} ignored SIGTERM for {grace:?} and was killed", self.process.name());
        }
    }
}

impl Drop for ControllerApp {
    fn drop(&mut self) {
        if self.process.is_running() {
            if let Stopped::Killed { grace } = self.process.stop(STOP_LIMIT) {
                eprintln!(
                    "{} (pid {}) ignored SIGTERM for {grace:?} and was killed",
                    self.process.name(),
                    self.process.pid()
                );
            }
        }
        if std::thread::panicking() {
            eprintln!("---- {} (pid {}) ----\n{}", self.process.name(), self.process.pid(), self.logs());
        }
    }
}

/// A Faucet configuration of one datapath with one VLAN whose untagged (native) members are
/// the given OpenFlow ports.
///
/// The ports are configured with `opstatus_reconf: false`: Faucet programs them whatever link
/// state the switch reports. A net_tap port whose kernel interface was moved into another
/// network namespace is reported LINK_DOWN for good (DPDK's net_tap asks the kernel for the
/// interface's flags by name in vswitchd's namespace, where it no longer is), and Faucet
/// leaves ports it sees down out of the VLAN.
#[derive(Debug, Clone)]
pub struct FaucetConfig {
    /// The switch's datapath id (Faucet ignores a switch whose FEATURES_REPLY has another).
    pub dp_id: u64,
    pub vlan: u16,
    pub ports: Vec<u32>,
}

impl FaucetConfig {
    /// The YAML text Faucet reads (`vlans:` and `dps:`).
    pub fn to_yaml(&self) -> String {
        let mut text = String::new();
        let _ = writeln!(text, "vlans:\n  test-vlan:\n    vid: {}", self.vlan);
        let _ = writeln!(text, "dps:\n  br0:\n    dp_id: {:#x}\n    hardware: \"Open vSwitch\"", self.dp_id);
        let _ = writeln!(text, "    interfaces:");
        for port in &self.ports {
            let _ = writeln!(text, "      {port}:\n        name: \"port{port}\"\n        native_vlan: test-vlan");
            let _ = writeln!(text, "        opstatus_reconf: false");
        }
        text
    }
}

/// The bridge's `openflow` target that connects the switch to a controller listening on
/// `port` of 127.0.0.1.
pub fn controller_target(port: u16) -> String {
    format!("tcp:127.0.0.1:{port}")
}

/// The last lines of each of `logs`, headed by its path.
fn log_tails(logs: &[PathBuf]) -> String {
    let mut text = String::new();
    for log in logs {
        let _ = writeln!(text, "---- {} ----\n{}", log.display(), log_tail(log, LOG_TAIL_LINES));
    }
    text
}

/// The venv's Python, which has os-ken (for tests that use its OpenFlow parsers directly).
pub fn venv_python() -> PathBuf {
    let python = venv().join("bin/python3");
    assert!(python.is_file(), "{} is missing: run scripts/setup.sh", python.display());
    python
}

/// The controllers' venv: `$VSWITCH_OPENFLOW_APPS` or /opt/vswitch-openflow-apps.
pub fn venv() -> PathBuf {
    std::env::var_os(VENV_ENV).map(PathBuf::from).unwrap_or_else(|| PathBuf::from(DEFAULT_VENV))
}
