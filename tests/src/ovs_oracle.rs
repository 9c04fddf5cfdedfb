//! Open vSwitch as the oracle of the OpenFlow pipeline: a private
//! `ovsdb-server` and `ovs-vswitchd` (Debian's openvswitch-switch; no DPDK,
//! no kernel module) with one bridge on OVS's `dummy` datapath and ports of
//! type `dummy` with the OpenFlow port numbers a test asks for, the way OVS's
//! own test suite runs it (`--enable-dummy --disable-system
//! --disable-system-route`). Flows are loaded with `ovs-ofctl add-flows`,
//! dumped back with `dump-flows`, and packets traced with `ovs-appctl
//! ofproto/trace`, whose output is parsed into a [`Trace`]: the per-table
//! path, the `Megaflow:` and the `Datapath actions:` line, the latter also
//! with datapath port numbers turned back into OpenFlow port numbers (OVS
//! prints datapath ports; the map comes from `dpif/show`).
//!
//! Side effects (the `learn` action, MAC learning of `NORMAL`) happen only
//! when a packet is traced: [`OvsOracle::trace`] has none,
//! [`OvsOracle::trace_generate`] (`--generate`, a packet made from the flow)
//! and [`OvsOracle::trace_packet`] (the bytes of a frame) have them.
//!
//! Isolation, so it never meets the host's OVS or the benchmark harness's:
//! database, sockets and logs live in `<test dir>/ovs-<id>/`
//! (`OVS_RUNDIR`, `OVS_DBDIR`, `OVS_LOGDIR`, `OVS_SYSCONFDIR` all point
//! there and every tool is given its target explicitly), both daemons run
//! in a network namespace `vswe2e-ovs-<pid>-<id>` the oracle creates and
//! deletes, and both are children of the test, stopped by their pid:
//! `ovs-appctl exit`, a bounded wait, then SIGTERM and SIGKILL (also from
//! `Drop` when a test panics).
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use crate::command::{self, CmdOutput};
use crate::process::{log_tail, Guarded, Signal, Stopped};
use crate::scratch::TestDir;
use crate::wait;

/// The database schema openvswitch-common installs.
pub(crate) const SCHEMA: &str = "/usr/share/openvswitch/vswitch.ovsschema";
/// Where the OVS tools are looked for after `$PATH`.
const SYSTEM_DIRS: [&str; 2] = ["/usr/sbin", "/usr/bin"];
/// Prefix of the network namespaces of the oracle (the benchmark harness
/// uses `anchors-ovs`).
const NETNS_PREFIX: &str = "vswe2e-ovs";
/// Where `ip netns` keeps its namespaces.
const NETNS_DIR: &str = "/run/netns";
/// How long the daemons may take to come up with every port.
pub(crate) const START_LIMIT: Duration = Duration::from_secs(20);
/// How long one OVS tool run may take; their own `--timeout` is shorter.
pub(crate) const TOOL_LIMIT: Duration = Duration::from_secs(30);
/// The tools' own `--timeout`, in seconds.
pub(crate) const TOOL_TIMEOUT: &str = "20";
/// How long a daemon may take to exit after `ovs-appctl exit`, and after
/// SIGTERM when it did not.
const EXIT_LIMIT: Duration = Duration::from_secs(5);
/// Lines of ovs-vswitchd's log printed when a test fails.
pub(crate) const LOG_TAIL_LINES: usize = 40;
/// The OpenFlow port number of the bridge's own (internal) port.
pub const OFPP_LOCAL: u32 = 65534;

/// Tells apart the oracles (directories, namespaces) of one test process.
static NEXT_ID: AtomicU32 = AtomicU32::new(0);

/// A port of the oracle's bridge: a `dummy` interface with a requested
/// OpenFlow port number and, for `NORMAL`, a VLAN configuration.
#[derive(Debug, Clone)]
pub struct OvsPort {
    name: String,
    ofport: u32,
    tag: Option<u16>,
    trunks: Vec<u16>,
    /// Where the dummy interface writes what it sends (its `tx_pcap` option).
    tx_pcap: Option<std::path::PathBuf>,
}

impl OvsPort {
    /// A port named `name` with OpenFlow port number `ofport`.
    pub fn new(name: &str, ofport: u32) -> OvsPort {
        OvsPort { name: name.to_owned(), ofport, tag: None, trunks: Vec::new(), tx_pcap: None }
    }

    /// An access port of VLAN `vlan` (the Port's `tag`).
    pub fn tag(mut self, vlan: u16) -> OvsPort {
        self.tag = Some(vlan);
        self
    }

    /// A trunk of these VLANs only (the Port's `trunks`).
    pub fn trunks(mut self, vlans: &[u16]) -> OvsPort {
        self.trunks = vlans.to_vec();
        self
    }

    /// Writes every frame it sends to the pcap file `path`.
    pub fn tx_pcap(mut self, path: &std::path::Path) -> OvsPort {
        self.tx_pcap = Some(path.to_owned());
        self
    }

    /// The `ovs-vsctl` arguments that add it to `bridge`.
    fn vsctl_args(&self, bridge: &str) -> Vec<String> {
        let mut args = vec!["--".to_owned(), "add-port".to_owned(), bridge.to_owned(), self.name.clone()];
        if let Some(vlan) = self.tag {
            args.push(format!("tag={vlan}"));
        }
        if !self.trunks.is_empty() {
            let list: Vec<String> = self.trunks.iter().map(u16::to_string).collect();
            args.push(format!("trunks=[{}]", list.join(",")));
        }
        args.extend(["--", "set", "Interface", &self.name, "type=dummy"].map(str::to_owned));
        args.push(format!("ofport_request={}", self.ofport));
        if let Some(path) = &self.tx_pcap {
            args.push(format!("options:tx_pcap={}", path.display()));
        }
        args
    }
}

/// The OpenFlow version `ovs-ofctl` speaks (`-O`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OfVersion {
    /// OpenFlow 1.0 with Nicira extensions (NXM, `resubmit`, `learn`...):
    /// what `ovs-ofctl` uses by default.
    Of10,
    /// OpenFlow 1.3 (`goto_table`, OXM).
    Of13,
}

impl OfVersion {
    fn protocol(self) -> &'static str {
        match self {
            OfVersion::Of10 => "OpenFlow10",
            OfVersion::Of13 => "OpenFlow13",
        }
    }
}

/// One datapath action of a trace, with an output's datapath port number
/// turned into the OpenFlow port number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OfAction {
    /// Output to this OpenFlow port ([`OFPP_LOCAL`] for the bridge port).
    Output(u32),
    /// Any other action as OVS prints it (`pop_vlan`,
    /// `push_vlan(vid=10,pcp=0)`, `drop`...).
    Other(String),
}

/// One table visited in a trace: `<table>. <rule>` and the lines under it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceStep {
    /// The bridge of the `bridge("...")` section it is in.
    pub bridge: String,
    pub table: u8,
    /// The matching rule as OVS prints it (`in_port=1, priority 1`), or
    /// `No match.`.
    pub rule: String,
    /// The actions executed and OVS's notes on them (`-> learned that...`,
    /// `>> suppressing side effects...`), trimmed.
    pub lines: Vec<String>,
}

/// The parsed output of `ofproto/trace`. When the trace has several
/// sections (recirculation), the last `Final flow:`, `Megaflow:` and
/// `Datapath actions:` lines are taken.
#[derive(Debug, Clone)]
pub struct Trace {
    /// What follows `Flow: `: the traced flow as OVS understood it.
    pub flow: String,
    /// The tables visited, in order.
    pub steps: Vec<TraceStep>,
    /// What follows `Final flow: `.
    pub final_flow: String,
    /// What follows `Megaflow: `: the match of the datapath flow.
    pub megaflow: String,
    /// What follows `Datapath actions: `, with datapath port numbers.
    pub datapath_actions: String,
    /// The datapath actions split at top-level commas, as printed.
    pub actions: Vec<String>,
    /// The same with outputs as OpenFlow ports (only top-level outputs;
    /// actions nested in `clone(...)` and the like stay as printed).
    pub of_actions: Vec<OfAction>,
    /// The whole output, for failure messages.
    pub text: String,
}

impl Trace {
    /// The tables visited, in order.
    pub fn tables(&self) -> Vec<u8> {
        self.steps.iter().map(|step| step.table).collect()
    }

    /// The OpenFlow ports the packet leaves through, in order.
    pub fn output_ports(&self) -> Vec<u32> {
        self.of_actions
            .iter()
            .filter_map(|action| match action {
                OfAction::Output(port) => Some(*port),
                OfAction::Other(_) => None,
            })
            .collect()
    }

    /// Where the packet leaves and with which 802.1Q VID (None: untagged),
    /// sorted: the outputs of the datapath actions with the VLAN in effect
    /// at each, starting from the traced flow's own tag. This is the view of
    /// a flood that does not depend on the order in which OVS walks its
    /// ports. Panics on datapath actions other than outputs, `push_vlan`,
    /// `pop_vlan` and `drop`.
    pub fn deliveries(&self) -> Vec<(u32, Option<u16>)> {
        let mut vlan =
            self.flow.split(',').find_map(|field| field.strip_prefix("dl_vlan=")).map(|vid| {
                vid.parse().unwrap_or_else(|_| panic!("bad dl_vlan {vid} in the traced flow:\n{}", self.text))
            });
        let mut deliveries = Vec::new();
        for action in &self.of_actions {
            match action {
                OfAction::Output(port) => deliveries.push((*port, vlan)),
                OfAction::Other(other) if other == "pop_vlan" => vlan = None,
                OfAction::Other(other) if other == "drop" => {}
                OfAction::Other(other) => {
                    let vid = other
                        .strip_prefix("push_vlan(vid=")
                        .and_then(|rest| rest.split([',', ')']).next())
                        .and_then(|vid| vid.parse().ok())
                        .unwrap_or_else(|| panic!("deliveries: cannot model `{other}`; trace:\n{}", self.text));
                    vlan = Some(vid);
                }
            }
        }
        deliveries.sort_unstable();
        deliveries
    }

    /// Parses `ofproto/trace` output; `of_port` maps a datapath port number
    /// to the OpenFlow one.
    fn parse(text: &str, of_port: impl Fn(u32) -> Option<u32>) -> Result<Trace, String> {
        let mut steps: Vec<TraceStep> = Vec::new();
        let mut bridge = String::new();
        let (mut flow, mut final_flow, mut megaflow, mut datapath_actions) = (None, None, None, None);
        for line in text.lines() {
            let trimmed = line.trim();
            if let Some(rest) = trimmed.strip_prefix("Flow: ") {
                flow = flow.or_else(|| Some(rest.to_owned()));
            } else if let Some(rest) = trimmed.strip_prefix("Final flow: ") {
                final_flow = Some(rest.to_owned());
            } else if let Some(rest) = trimmed.strip_prefix("Megaflow: ") {
                megaflow = Some(rest.to_owned());
            } else if let Some(rest) = trimmed.strip_prefix("Datapath actions: ") {
                datapath_actions = Some(rest.to_owned());
            } else if let Some(name) = trimmed.strip_prefix("bridge(\"").and_then(|r| r.strip_suffix("\")")) {
                bridge = name.to_owned();
            } else if let Some((table, rule)) = table_line(trimmed) {
                steps.push(TraceStep { bridge: bridge.clone(), table, rule: rule.to_owned(), lines: Vec::new() });
            } else if trimmed.is_empty() || trimmed.chars().all(|c| c == '-') {
                continue;
            } else if let Some(step) = steps.last_mut() {
                step.lines.push(trimmed.to_owned());
            }
        }
        let missing = |what: &str| format!("no `{what}` line");
        let datapath_actions = datapath_actions.ok_or_else(|| missing("Datapath actions:"))?;
        let actions = split_top_level(&datapath_actions);
        let of_actions = actions
            .iter()
            .map(|action| match action.parse::<u32>() {
                Ok(dp_port) => of_port(dp_port)
                    .map(OfAction::Output)
                    .ok_or_else(|| format!("datapath port {dp_port} is not a port of the bridge")),
                Err(_) => Ok(OfAction::Other(action.clone())),
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Trace {
            flow: flow.ok_or_else(|| missing("Flow:"))?,
            steps,
            final_flow: final_flow.ok_or_else(|| missing("Final flow:"))?,
            megaflow: megaflow.ok_or_else(|| missing("Megaflow:"))?,
            datapath_actions,
            actions,
            of_actions,
            text: text.to_owned(),
        })
    }
}

/// `<table>. <rule>` (the table right-aligned in the trace output).
fn table_line(line: &str) -> Option<(u8, &str)> {
    let (number, rule) = line.split_once(". ")?;
    Some((number.parse().ok()?, rule))
}

/// `a,b(c,d),e` -> `a`, `b(c,d)`, `e`.
pub(crate) fn split_top_level(text: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    for (index, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                parts.push(text[start..index].trim().to_owned());
                start = index + 1;
            }
            _ => {}
        }
    }
    parts.push(text[start..].trim().to_owned());
    parts.retain(|part| !part.is_empty());
    parts
}

/// `name` on `$PATH` or in the system directories; panics naming the setup
/// script when Open vSwitch is not installed.
pub(crate) fn ovs_tool(name: &str) -> PathBuf {
    let path_var = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path_var)
        .chain(SYSTEM_DIRS.iter().map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| {
            panic!(
                "{name} not found on $PATH nor in {}: Open vSwitch is not installed; run scripts/setup.sh \
                 (it installs openvswitch-switch)",
                SYSTEM_DIRS.join(", ")
            )
        })
}

/// A network namespace the oracle created; deleted on drop.
struct NetNs {
    name: String,
    deleted: bool,
}

impl NetNs {
    /// Creates `vswe2e-ovs-<pid>-<id>`. One left by an earlier process with
    /// the same pid (which is dead: pids are unique among live processes) is
    /// deleted first.
    fn create(id: u32) -> NetNs {
        let name = format!("{NETNS_PREFIX}-{}-{id}", std::process::id());
        let mut netns = NetNs { name, deleted: false };
        if netns.exists() {
            netns.delete().unwrap_or_else(|e| panic!("{e}"));
        }
        netns.deleted = false;
        let added = command::run(ip(&["netns", "add", &netns.name]), TOOL_LIMIT);
        assert!(added.success(), "cannot create network namespace {}:\n{added}", netns.name);
        netns
    }

    fn exists(&self) -> bool {
        Path::new(NETNS_DIR).join(&self.name).exists()
    }

    /// `ip netns exec <name> <program>`: `ip` execs the program, so the
    /// child's pid is the program's.
    fn exec(&self, program: &Path) -> Command {
        let mut command = ip(&["netns", "exec", &self.name]);
        command.arg(program);
        command
    }

    fn delete(&mut self) -> Result<(), String> {
        if self.deleted {
            return Ok(());
        }
        let output = command::try_run(ip(&["netns", "delete", &self.name]), TOOL_LIMIT)?;
        if !output.success() || self.exists() {
            return Err(format!("cannot delete network namespace {}:\n{output}", self.name));
        }
        self.deleted = true;
        Ok(())
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        if let Err(e) = self.delete() {
            eprintln!("warning: {e}");
        }
    }
}

fn ip(args: &[&str]) -> Command {
    let mut command = Command::new("ip");
    command.args(args);
    command
}

/// The OVS tools run against the daemons.
struct Tools {
    vsctl: PathBuf,
    ofctl: PathBuf,
    appctl: PathBuf,
}

/// A running private Open vSwitch with one bridge.
pub struct OvsOracle {
    bridge: String,
    /// `<test dir>/ovs-<id>`: database, sockets, logs, flow files.
    dir: PathBuf,
    tools: Tools,
    /// Datapath port number -> OpenFlow port number, the bridge port too.
    of_ports: BTreeMap<u32, u32>,
    flow_files: u32,
    stopped: bool,
    // Fields drop in declaration order: the daemons before their namespace
    // (`Drop::drop` has stopped them already; `start`'s locals unwind in
    // the same order).
    vswitchd: Guarded,
    ovsdb: Guarded,
    netns: NetNs,
}

impl OvsOracle {
    /// Starts ovsdb-server and ovs-vswitchd in `<dir>/ovs-<id>` and a new
    /// network namespace, creates `bridge` (dummy datapath, `fail_mode=
    /// secure`: no flows, no forwarding) with `ports`, and waits until every
    /// port is up with the OpenFlow port number it asked for. Panics (with
    /// ovs-vswitchd's log) when anything fails; panics telling to run
    /// scripts/setup.sh when Open vSwitch is not installed.
    pub fn start(dir: &TestDir, bridge: &str, ports: &[OvsPort]) -> OvsOracle {
        let tools =
            Tools { vsctl: ovs_tool("ovs-vsctl"), ofctl: ovs_tool("ovs-ofctl"), appctl: ovs_tool("ovs-appctl") };
        let (ovsdb_tool, ovsdb_server, ovs_vswitchd) =
            (ovs_tool("ovsdb-tool"), ovs_tool("ovsdb-server"), ovs_tool("ovs-vswitchd"));
        assert!(Path::new(SCHEMA).is_file(), "{SCHEMA} is missing: run scripts/setup.sh (openvswitch-switch)");
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        let ovs_dir = dir.join(&format!("ovs-{id}"));
        std::fs::create_dir_all(&ovs_dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", ovs_dir.display()));

        let mut create = private_env(Command::new(ovsdb_tool), &ovs_dir);
        create.arg("create").arg(ovs_dir.join("conf.db")).arg(SCHEMA);
        let created = command::run(create, TOOL_LIMIT);
        assert!(created.success(), "cannot create the OVS database:\n{created}");

        let netns = NetNs::create(id);
        let mut server = private_env(netns.exec(&ovsdb_server), &ovs_dir);
        server.arg(ovs_dir.join("conf.db")).args([
            format!("--remote=punix:{}", ovs_dir.join("db.sock").display()),
            format!("--unixctl={}", ovs_dir.join("ovsdb-server.ctl").display()),
            format!("--log-file={}", ovs_dir.join("ovsdb-server.log").display()),
            "--no-chdir".to_owned(),
        ]);
        let out = ovs_dir.join("ovsdb-server.out");
        let mut ovsdb = Guarded::spawn("ovsdb-server", server, Signal::Term, &out, &out);
        // Before ovs-vswitchd starts: one that finds no database socket
        // retries only a second later.
        wait_for_database(&tools.vsctl, &ovs_dir, &mut ovsdb);

        let mut daemon = private_env(netns.exec(&ovs_vswitchd), &ovs_dir);
        daemon.arg(format!("unix:{}", ovs_dir.join("db.sock").display())).args([
            "--enable-dummy".to_owned(),
            "--disable-system".to_owned(),
            "--disable-system-route".to_owned(),
            format!("--unixctl={}", ovs_dir.join("ovs-vswitchd.ctl").display()),
            format!("--log-file={}", ovs_dir.join("ovs-vswitchd.log").display()),
            "--no-chdir".to_owned(),
        ]);
        let out = ovs_dir.join("ovs-vswitchd.out");
        let vswitchd = Guarded::spawn("ovs-vswitchd", daemon, Signal::Term, &out, &out);

        let mut oracle = OvsOracle {
            bridge: bridge.to_owned(),
            dir: ovs_dir,
            tools,
            of_ports: BTreeMap::new(),
            flow_files: 0,
            stopped: false,
            vswitchd,
            ovsdb,
            netns,
        };
        oracle.wait_for_vswitchd();
        oracle.add_bridge(ports);
        oracle.wait_for_ports(ports);
        oracle
    }

    /// Polls `ovs-appctl version` until ovs-vswitchd answers on its control
    /// socket (a daemon that dies at start-up is reported at once, not after
    /// ovs-vsctl's timeout).
    fn wait_for_vswitchd(&mut self) {
        let mut last = String::new();
        let (appctl, dir, vswitchd) = (&self.tools.appctl, &self.dir, &mut self.vswitchd);
        let ctl = dir.join("ovs-vswitchd.ctl");
        let answered = wait::poll(START_LIMIT, || {
            if let Some(status) = vswitchd.exit_status() {
                panic!(
                    "ovs-vswitchd exited with {status}:\n{}",
                    log_tail(&dir.join("ovs-vswitchd.out"), LOG_TAIL_LINES)
                );
            }
            let output = command::run(appctl_command(appctl, dir, &ctl, &["version"]), TOOL_LIMIT);
            last = output.to_string();
            output.success().then_some(())
        });
        if answered.is_none() {
            panic!("ovs-vswitchd did not answer within {START_LIMIT:?}; last try:\n{last}");
        }
    }

    /// Creates the bridge and its ports (ovs-vsctl waits, bounded by its
    /// `--timeout`, until ovs-vswitchd applied the change).
    fn add_bridge(&self, ports: &[OvsPort]) {
        let bridge = self.bridge.clone();
        let mut args: Vec<String> = ["--", "add-br", &bridge, "--", "set", "Bridge", &bridge]
            .into_iter()
            .chain(["datapath_type=dummy", "fail_mode=secure"])
            .map(str::to_owned)
            .collect();
        args.push("protocols=[OpenFlow10,OpenFlow11,OpenFlow12,OpenFlow13,OpenFlow14,OpenFlow15]".to_owned());
        for port in ports {
            args.extend(port.vsctl_args(&bridge));
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let output = command::run(vsctl_command(&self.tools.vsctl, &self.dir, &args), TOOL_LIMIT);
        if !output.success() {
            panic!("cannot create bridge {bridge}:\n{output}");
        }
    }

    /// Waits until `dpif/show` lists every port, checks each got the
    /// OpenFlow port number it asked for, and keeps the datapath -> OpenFlow
    /// port map.
    fn wait_for_ports(&mut self, ports: &[OvsPort]) {
        let mut last = String::new();
        let listed = wait::poll(START_LIMIT, || {
            let output = self.appctl(&["dpif/show"]);
            last = output.to_string();
            let listed = parse_dpif_show(&output.stdout, &self.bridge);
            let complete = output.success()
                && ports.iter().all(|port| listed.contains_key(&port.name))
                && listed.contains_key(&self.bridge);
            complete.then_some(listed)
        });
        let Some(listed) = listed else {
            panic!("ports did not all come up within {START_LIMIT:?}:\n{last}");
        };
        for port in ports {
            let (ofport, _) = listed[&port.name];
            if ofport != port.ofport {
                panic!("{} got OpenFlow port {ofport}, not {}:\n{last}", port.name, port.ofport);
            }
        }
        self.of_ports = listed.values().map(|&(ofport, dp_port)| (dp_port, ofport)).collect();
    }

    /// The pids of ovs-vswitchd and ovsdb-server.
    pub fn pids(&self) -> [u32; 2] {
        [self.vswitchd.pid(), self.ovsdb.pid()]
    }

    /// The name of its network namespace.
    pub fn netns(&self) -> &str {
        &self.netns.name
    }

    /// The bridge's OpenFlow management socket (`ovs-ofctl` and any OpenFlow client connect
    /// there; every version 1.0 to 1.5 is enabled).
    pub fn mgmt_socket(&self) -> PathBuf {
        self.dir.join(format!("{}.mgmt", self.bridge))
    }

    /// The datapath port number of OpenFlow port `ofport` (what OVS prints
    /// in `Datapath actions:`); panics when the bridge has no such port.
    pub fn dp_port(&self, ofport: u32) -> u32 {
        self.of_ports
            .iter()
            .find_map(|(&dp_port, &of)| (of == ofport).then_some(dp_port))
            .unwrap_or_else(|| panic!("bridge {} has no OpenFlow port {ofport}: {:?}", self.bridge, self.of_ports))
    }

    /// Adds `flows` (ovs-ofctl syntax, one flow per entry) with
    /// `ovs-ofctl -O <version> add-flows` from a file in the oracle's
    /// directory; panics when ovs-ofctl refuses them.
    pub fn add_flows(&mut self, version: OfVersion, flows: &[&str]) {
        self.flow_files += 1;
        let file = self.dir.join(format!("flows-{}.txt", self.flow_files));
        let mut text = flows.join("\n");
        text.push('\n');
        std::fs::write(&file, text).unwrap_or_else(|e| panic!("cannot write {}: {e}", file.display()));
        let file = file.display().to_string();
        let output = self.ofctl(version, &["add-flows", &self.management(), &file]);
        if !output.success() {
            panic!("ovs-ofctl refused the flows of {file}:\n{output}");
        }
    }

    /// `ovs-ofctl -O <version> --no-stats dump-flows`: every flow of every
    /// table, one per entry, as OVS normalises them.
    pub fn dump_flows(&self, version: OfVersion) -> Vec<String> {
        let output = self.ofctl(version, &["--no-stats", "dump-flows", &self.management()]);
        if !output.success() {
            panic!("cannot dump flows:\n{output}");
        }
        output
            .stdout
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty() && !line.starts_with("OFPST_") && !line.starts_with("NXST_"))
            .map(str::to_owned)
            .collect()
    }

    /// `ofproto/trace <bridge> <flow>` without side effects: `flow` in the
    /// flow syntax (`in_port=1,dl_vlan=1,dl_src=...,dl_dst=...`).
    pub fn trace(&self, flow: &str) -> Trace {
        self.run_trace(&["ofproto/trace", &self.bridge, flow])
    }

    /// `ofproto/trace <bridge> <flow> --generate`: OVS makes a packet from
    /// the flow, so side effects happen (`learn` adds its flows, `NORMAL`
    /// learns the source MAC) before this returns.
    pub fn trace_generate(&self, flow: &str) -> Trace {
        self.run_trace(&["ofproto/trace", &self.bridge, flow, "--generate"])
    }

    /// `ofproto/trace <bridge> in_port=<in_port> <hex of frame>`: the flow is
    /// extracted from the frame's bytes, and side effects happen.
    pub fn trace_packet(&self, in_port: u32, frame: &[u8]) -> Trace {
        let hex: String = frame.iter().map(|byte| format!("{byte:02x}")).collect();
        self.run_trace(&["ofproto/trace", &self.bridge, &format!("in_port={in_port}"), &hex])
    }

    /// `netdev-dummy/receive <port> <hex of frame>`: the frame arrives on dummy port `port` and
    /// goes through the datapath (its flow cache, upcalls, the OpenFlow tables) as a real
    /// packet; ovs-vswitchd has handled it when this returns.
    pub fn receive(&self, port: &str, frame: &[u8]) {
        let hex: String = frame.iter().map(|byte| format!("{byte:02x}")).collect();
        let output = self.appctl(&["netdev-dummy/receive", port, &hex]);
        assert!(output.success(), "netdev-dummy/receive {port} failed:\n{output}");
    }

    fn run_trace(&self, args: &[&str]) -> Trace {
        let output = self.appctl(args);
        if !output.success() {
            panic!("trace failed:\n{output}");
        }
        Trace::parse(&output.stdout, |dp_port| self.of_ports.get(&dp_port).copied())
            .unwrap_or_else(|e| panic!("cannot parse the trace ({e}):\n{}", output.stdout))
    }

    /// Stops both daemons (`ovs-appctl exit`) and deletes the namespace;
    /// panics unless both exited by themselves with status 0 and the
    /// namespace is gone.
    pub fn stop(mut self) {
        let problems = self.shutdown();
        assert!(problems.is_empty(), "OVS oracle did not stop cleanly:\n{}", problems.join("\n"));
    }

    /// Stops the daemons and deletes the namespace (once); returns what went
    /// wrong.
    fn shutdown(&mut self) -> Vec<String> {
        if std::mem::replace(&mut self.stopped, true) {
            return Vec::new();
        }
        let mut problems = Vec::new();
        let vswitchd_ctl = self.dir.join("ovs-vswitchd.ctl");
        let ovsdb_ctl = self.dir.join("ovsdb-server.ctl");
        for (daemon, ctl) in [(&mut self.vswitchd, vswitchd_ctl), (&mut self.ovsdb, ovsdb_ctl)] {
            stop_daemon(&self.tools.appctl, &self.dir, daemon, &ctl, &mut problems);
        }
        if let Err(e) = self.netns.delete() {
            problems.push(e);
        }
        problems
    }

    /// `ovs-appctl -t <ovs-vswitchd.ctl> --timeout=<s> <args>`.
    fn appctl(&self, args: &[&str]) -> CmdOutput {
        command::run(
            appctl_command(&self.tools.appctl, &self.dir, &self.dir.join("ovs-vswitchd.ctl"), args),
            TOOL_LIMIT,
        )
    }

    /// `ovs-ofctl -O <version> --timeout=<s> <args>`.
    fn ofctl(&self, version: OfVersion, args: &[&str]) -> CmdOutput {
        let mut command = private_env(Command::new(&self.tools.ofctl), &self.dir);
        command.args(["-O", version.protocol(), &format!("--timeout={TOOL_TIMEOUT}")]).args(args);
        command::run(command, TOOL_LIMIT)
    }

    /// The bridge's OpenFlow management socket, as an ovs-ofctl target.
    fn management(&self) -> String {
        format!("unix:{}", self.dir.join(format!("{}.mgmt", self.bridge)).display())
    }
}

impl Drop for OvsOracle {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "---- OVS oracle: files in {}; end of ovs-vswitchd's log ----\n{}",
                self.dir.display(),
                log_tail(&self.dir.join("ovs-vswitchd.log"), LOG_TAIL_LINES)
            );
        }
        for problem in self.shutdown() {
            eprintln!("warning: OVS oracle: {problem}");
        }
    }
}

/// Polls `ovs-vsctl --no-wait init` (which also initialises the database)
/// until `ovsdb` answers; panics with its output when it exits or never does.
pub(crate) fn wait_for_database(vsctl: &Path, dir: &Path, ovsdb: &mut Guarded) {
    let mut last = String::new();
    let answered = wait::poll(START_LIMIT, || {
        if let Some(status) = ovsdb.exit_status() {
            panic!("ovsdb-server exited with {status}:\n{}", log_tail(&dir.join("ovsdb-server.out"), LOG_TAIL_LINES));
        }
        let output = command::run(vsctl_command(vsctl, dir, &["--no-wait", "init"]), TOOL_LIMIT);
        last = output.to_string();
        output.success().then_some(())
    });
    if answered.is_none() {
        panic!("ovsdb-server did not answer within {START_LIMIT:?}; last try:\n{last}");
    }
}

/// Points every OVS default directory of `command` at `dir`, so nothing
/// falls back to the system's /var/run/openvswitch or /etc/openvswitch.
pub(crate) fn private_env(mut command: Command, dir: &Path) -> Command {
    for variable in ["OVS_RUNDIR", "OVS_DBDIR", "OVS_LOGDIR", "OVS_SYSCONFDIR"] {
        command.env(variable, dir);
    }
    command
}

/// `ovs-vsctl --db=unix:<dir>/db.sock --timeout=<s> <args>`.
pub(crate) fn vsctl_command(vsctl: &Path, dir: &Path, args: &[&str]) -> Command {
    let mut command = private_env(Command::new(vsctl), dir);
    command
        .arg(format!("--db=unix:{}", dir.join("db.sock").display()))
        .arg(format!("--timeout={TOOL_TIMEOUT}"))
        .args(args);
    command
}

/// `ovs-appctl -t <target> --timeout=<s> <args>`.
pub(crate) fn appctl_command(appctl: &Path, dir: &Path, target: &Path, args: &[&str]) -> Command {
    let mut command = private_env(Command::new(appctl), dir);
    command.arg("-t").arg(target).arg(format!("--timeout={TOOL_TIMEOUT}")).args(args);
    command
}

/// `ovs-appctl exit`, a bounded wait for exit status 0, then SIGTERM and
/// SIGKILL; what went wrong goes to `problems`.
pub(crate) fn stop_daemon(appctl: &Path, dir: &Path, daemon: &mut Guarded, ctl: &Path, problems: &mut Vec<String>) {
    let name = daemon.name().to_owned();
    if let Some(status) = daemon.exit_status() {
        problems.push(format!("{name} (pid {}) had exited before the stop, with {status}", daemon.pid()));
        return;
    }
    match command::try_run(appctl_command(appctl, dir, ctl, &["exit"]), TOOL_LIMIT) {
        Ok(output) if output.success() => {}
        Ok(output) => problems.push(format!("`ovs-appctl exit` failed for {name}:\n{output}")),
        Err(e) => problems.push(e),
    }
    match daemon.wait_exit(EXIT_LIMIT) {
        Some(status) if status.success() => {}
        Some(status) => problems.push(format!("{name} exited with {status} after `ovs-appctl exit`")),
        None => {
            problems
                .push(format!("{name} (pid {}) did not exit within {EXIT_LIMIT:?} of `ovs-appctl exit`", daemon.pid()));
            if let Stopped::Killed { grace } = daemon.stop(EXIT_LIMIT) {
                problems.push(format!("{name} ignored SIGTERM for {grace:?} and was killed"));
            }
        }
    }
}

/// `dpif/show` lines of `bridge` (`    <name> <ofport>/<dp port>: (<type>)`
/// under `  <bridge>:`) -> name -> (OpenFlow port, datapath port).
fn parse_dpif_show(text: &str, bridge: &str) -> BTreeMap<String, (u32, u32)> {
    let mut ports = BTreeMap::new();
    let mut in_bridge = false;
    for line in text.lines() {
        let indent = line.len() - line.trim_start().len();
        if indent == 2 {
            in_bridge = line.trim().strip_suffix(':') == Some(bridge);
        } else if indent == 4 && in_bridge {
            let mut words = line.split_whitespace();
            let (Some(name), Some(numbers)) = (words.next(), words.next()) else { continue };
            let Some((ofport, dp_port)) = numbers.trim_end_matches(':').split_once('/') else { continue };
            if let (Ok(ofport), Ok(dp_port)) = (ofport.parse(), dp_port.parse()) {
                ports.insert(name.to_owned(), (ofport, dp_port));
            }
        }
    }
    ports
}
