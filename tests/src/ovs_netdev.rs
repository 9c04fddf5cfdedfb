//! Open vSwitch's userspace datapath (`datapath_type=netdev`) as an independent tunnel peer: a
//! private `ovsdb-server` and `ovs-vswitchd` (Debian's openvswitch-switch, no DPDK, no kernel
//! module) inside a network namespace of the test, whose bridges hold `system` ports (OVS reads
//! and writes those Linux interfaces with AF_PACKET sockets: veths whose other end is a host or
//! the underlay) and whose LOCAL ports are tap devices (the VTEP address of OVS's native
//! tunnelling lives on br-phy's, as in OVS's Documentation/howto/userspace-tunneling.rst).
//!
//! Isolation as in `ovs_oracle`: database, sockets and logs in `<test dir>/ovsnd-<role>/`, every
//! tool given its target explicitly, both daemons children of the test in the namespace, stopped
//! by pid (`ovs-appctl exit`, a bounded wait, SIGTERM, SIGKILL), also from `Drop`.
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::command::{self, CmdOutput};
use crate::netns::Namespace;
use crate::ovs_oracle::{
    appctl_command, ovs_tool, private_env, stop_daemon, vsctl_command, wait_for_database, LOG_TAIL_LINES, SCHEMA,
    START_LIMIT, TOOL_LIMIT, TOOL_TIMEOUT,
};
use crate::process::{log_tail, Guarded, Signal};
use crate::scratch::TestDir;
use crate::wait;

/// A running private Open vSwitch with the userspace datapath, in a namespace of its own.
pub struct OvsNetdev {
    dir: PathBuf,
    vsctl: PathBuf,
    ofctl: PathBuf,
    appctl: PathBuf,
    stopped: bool,
    // Dropped in this order: the daemons (already stopped by `Drop::drop`), then the namespace.
    vswitchd: Guarded,
    ovsdb: Guarded,
    netns: Namespace,
}

impl OvsNetdev {
    /// Creates the namespace `<role>-<test>-<pid>`, the database and both daemons, and waits until
    /// ovs-vswitchd answers. Panics (with the logs) when anything fails.
    pub fn start(dir: &TestDir, role: &str) -> OvsNetdev {
        let (vsctl, ofctl, appctl) = (ovs_tool("ovs-vsctl"), ovs_tool("ovs-ofctl"), ovs_tool("ovs-appctl"));
        assert!(Path::new(SCHEMA).is_file(), "{SCHEMA} is missing: run scripts/setup.sh (openvswitch-switch)");
        let ovs_dir = dir.join(&format!("ovsnd-{role}"));
        std::fs::create_dir_all(&ovs_dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", ovs_dir.display()));
        let mut create = private_env(Command::new(ovs_tool("ovsdb-tool")), &ovs_dir);
        create.arg("create").arg(ovs_dir.join("conf.db")).arg(SCHEMA);
        let created = command::run(create, TOOL_LIMIT);
        assert!(created.success(), "cannot create the OVS database:\n{created}");

        let netns = Namespace::create(dir, role);
        let exec = |program: &Path| {
            let mut command = Command::new("ip");
            command.args(["netns", "exec", netns.name()]).arg(program);
            private_env(command, &ovs_dir)
        };
        let mut server = exec(&ovs_tool("ovsdb-server"));
        server.arg(ovs_dir.join("conf.db")).args([
            format!("--remote=punix:{}", ovs_dir.join("db.sock").display()),
            format!("--unixctl={}", ovs_dir.join("ovsdb-server.ctl").display()),
            format!("--log-file={}", ovs_dir.join("ovsdb-server.log").display()),
            "--no-chdir".to_owned(),
        ]);
        let out = ovs_dir.join("ovsdb-server.out");
        let mut ovsdb = Guarded::spawn("ovsdb-server", server, Signal::Term, &out, &out);
        wait_for_database(&vsctl, &ovs_dir, &mut ovsdb);

        // No kernel datapath (`--disable-system`); the kernel's routes of the namespace are read,
        // as on a real host (br-phy's address makes the route to the underlay).
        let mut daemon = exec(&ovs_tool("ovs-vswitchd"));
        daemon.arg(format!("unix:{}", ovs_dir.join("db.sock").display())).args([
            "--disable-system".to_owned(),
            format!("--unixctl={}", ovs_dir.join("ovs-vswitchd.ctl").display()),
            format!("--log-file={}", ovs_dir.join("ovs-vswitchd.log").display()),
            "--no-chdir".to_owned(),
        ]);
        let out = ovs_dir.join("ovs-vswitchd.out");
        let vswitchd = Guarded::spawn("ovs-vswitchd", daemon, Signal::Term, &out, &out);
        let mut ovs = OvsNetdev { dir: ovs_dir, vsctl, ofctl, appctl, stopped: false, vswitchd, ovsdb, netns };
        let answered = wait::poll(START_LIMIT, || {
            if let Some(status) = ovs.vswitchd.exit_status() {
                panic!("ovs-vswitchd exited with {status}:\n{}", log_tail(&out, LOG_TAIL_LINES));
            }
            ovs.appctl(&["version"]).success().then_some(())
        });
        assert!(answered.is_some(), "ovs-vswitchd did not answer within {START_LIMIT:?}");
        ovs
    }

    /// Its network namespace.
    pub fn netns(&self) -> &Namespace {
        &self.netns
    }

    /// `ovs-vsctl <args>` (it waits until ovs-vswitchd applied the change); panics unless it
    /// succeeds. Its stdout.
    pub fn vsctl(&self, args: &[&str]) -> String {
        let output = command::run(vsctl_command(&self.vsctl, &self.dir, args), TOOL_LIMIT);
        assert!(output.success(), "{output}\n{}", self.log());
        output.stdout
    }

    /// `ovs-ofctl <args>` (OpenFlow 1.0 with the Nicira extensions, what ovs-ofctl speaks by
    /// default) with `bridge`'s management socket after the command; panics unless it succeeds.
    pub fn ofctl(&self, command_name: &str, bridge: &str, args: &[&str]) -> String {
        let mut command = private_env(Command::new(&self.ofctl), &self.dir);
        command.arg(format!("--timeout={TOOL_TIMEOUT}")).arg(command_name);
        command.arg(format!("unix:{}", self.dir.join(format!("{bridge}.mgmt")).display())).args(args);
        let output = command::run(command, TOOL_LIMIT);
        assert!(output.success(), "{output}");
        output.stdout
    }

    /// `ovs-appctl <args>` to ovs-vswitchd.
    pub fn appctl(&self, args: &[&str]) -> CmdOutput {
        let ctl = self.dir.join("ovs-vswitchd.ctl");
        command::run(appctl_command(&self.appctl, &self.dir, &ctl, args), TOOL_LIMIT)
    }

    /// The end of ovs-vswitchd's log.
    pub fn log(&self) -> String {
        log_tail(&self.dir.join("ovs-vswitchd.log"), LOG_TAIL_LINES)
    }

    /// Stops both daemons; panics unless both exit by themselves with status 0. The namespace
    /// goes when this is dropped.
    pub fn stop(mut self) {
        let problems = self.shutdown();
        assert!(problems.is_empty(), "Open vSwitch did not stop cleanly:\n{}", problems.join("\n"));
    }

    fn shutdown(&mut self) -> Vec<String> {
        if std::mem::replace(&mut self.stopped, true) {
            return Vec::new();
        }
        let mut problems = Vec::new();
        let (vswitchd_ctl, ovsdb_ctl) = (self.dir.join("ovs-vswitchd.ctl"), self.dir.join("ovsdb-server.ctl"));
        for (daemon, ctl) in [(&mut self.vswitchd, vswitchd_ctl), (&mut self.ovsdb, ovsdb_ctl)] {
            stop_daemon(&self.appctl, &self.dir, daemon, &ctl, &mut problems);
        }
        problems
    }
}

impl Drop for OvsNetdev {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("---- Open vSwitch: files in {}; end of its log ----\n{}", self.dir.display(), self.log());
        }
        for problem in self.shutdown() {
            eprintln!("warning: Open vSwitch: {problem}");
        }
    }
}
