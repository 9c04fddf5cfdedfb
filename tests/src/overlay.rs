//! Helpers of the tunnel interoperability tests (`tests/e2e/tunnel_interop.rs`,
//! `tests/e2e/tunnel_ovs.rs`): veth pairs with checksum offload off (the switch reads them with
//! AF_PACKET), addresses without duplicate address detection, a bounded TCP transfer between two
//! namespaces compared byte for byte (python3 on both ends: no nc or socat is needed), and a
//! bounded `tshark` capture inside a namespace whose fields are returned per packet.
//!
//! Every process here is a child of the test, started with a time limit of its own and stopped by
//! its pid (`Guarded`) when the test panics; interfaces live in the test's namespaces or are veth
//! ends whose peer does, so deleting the namespaces deletes them.
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::command::{run, CmdOutput};
use crate::netns::Namespace;
use crate::process::{Guarded, Signal};
use crate::scratch::TestDir;
use crate::switch_config::{PortSpec, SwitchConfig};
use crate::vswitchd::Vswitchd;
use crate::wait;

/// How long one shell or `ip` command may take.
pub const LIMIT: Duration = Duration::from_secs(10);
/// How long a TCP transfer may take from connect to the last byte.
pub const TRANSFER_LIMIT: Duration = Duration::from_secs(30);
/// How long tshark may take to start capturing.
const CAPTURE_START_LIMIT: Duration = Duration::from_secs(15);

/// Runs `script` with `sh -ec`; panics with its output unless it succeeds. Its stdout.
pub fn sh(script: &str) -> String {
    let mut command = Command::new("sh");
    command.args(["-ec", script]);
    let output = run(command, LIMIT);
    assert!(output.success(), "{script}\n{output}");
    output.stdout
}

/// Runs `script` with `sh -ec` inside `ns` (bounded); its output, whatever the exit status.
pub fn sh_in(ns: &Namespace, script: &str) -> CmdOutput {
    let mut command = Command::new("ip");
    command.args(["netns", "exec", ns.name(), "sh", "-ec", script]);
    run(command, LIMIT)
}

/// Like `sh_in`, and panics with its output unless it succeeds. Its stdout.
pub fn sh_in_ok(ns: &Namespace, script: &str) -> String {
    let output = sh_in(ns, script);
    assert!(output.success(), "in {}: {script}\n{output}", ns.name());
    output.stdout
}

/// A kernel interface name unique to the test process: `<prefix><pid % 100000>` (at most 15
/// characters for a prefix of up to 10).
pub fn ifname(prefix: &str) -> String {
    format!("{prefix}{}", std::process::id() % 100_000)
}

/// A veth pair `outside` (stays in the test's namespace: the switch's AF_PACKET port, or a port
/// of another namespace's bridge when `outside_ns` is given) and `inside` (moved into `ns`), both
/// up with MTU `mtu` and transmit checksum offload off (AF_PACKET would read partial checksums);
/// no addresses. The switch's end has IPv6 off before it comes up, so the test's own namespace
/// sends nothing (router solicitations, MLD reports) through it.
pub fn veth(outside: &str, outside_ns: Option<&Namespace>, inside: &str, ns: &Namespace, mtu: u32) {
    sh(&format!(
        "ip link del {outside} 2>/dev/null || true; ip link add {outside} mtu {mtu} type veth peer name {inside} mtu {mtu}; \
         ethtool -K {outside} tx off >/dev/null; ethtool -K {inside} tx off >/dev/null; \
         ip link set {inside} netns {ns}",
        ns = ns.name()
    ));
    sh_in_ok(ns, &format!("ip link set {inside} up"));
    match outside_ns {
        Some(other) => {
            sh(&format!("ip link set {outside} netns {}", other.name()));
            sh_in_ok(other, &format!("ip link set {outside} up"));
        }
        None => drop(sh(&format!("sysctl -qw net.ipv6.conf.{outside}.disable_ipv6=1; ip link set {outside} up"))),
    }
}

/// No IPv6 in `ns`, on its interfaces and on those moved in later: no router solicitations or
/// MLD reports, which an overlay floods like any other multicast.
pub fn no_ipv6(ns: &Namespace) {
    sh_in_ok(ns, "sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1");
}

/// Adds `cidr` to `interface` inside `ns`; IPv6 addresses without duplicate address detection,
/// so they are usable at once.
pub fn address(ns: &Namespace, interface: &str, cidr: &str) {
    let nodad = if cidr.contains(':') { " nodad" } else { "" };
    sh_in_ok(ns, &format!("ip addr add {cidr} dev {interface}{nodad}"));
}

/// A tunnel port table (`[[bridge.port]]` of the `[[bridge]]` before it in the TOML).
pub fn tunnel_port(name: &str, kind: &str, ofport: u32, options: &str) -> String {
    format!("\n[[bridge.port]]\nname = \"{name}\"\ntype = \"{kind}\"\nofport = {ofport}\noptions = {{ {options} }}\n")
}

/// A switch whose br0 is the underlay (VTEP addresses `vteps` on LOCAL, NORMAL, AF_PACKET port
/// `phy` on `phy_iface`), with the bridges of `more_toml` (TOML `[[bridge]]` tables) after it.
pub fn underlay_switch(dir: &TestDir, mac: &str, vteps: &[&str], phy_iface: &str, more_toml: &str) -> SwitchConfig {
    let vteps: Vec<String> = vteps.iter().map(|v| format!("{v:?}")).collect();
    SwitchConfig::new(dir)
        .flow("actions=NORMAL")
        .bridge_setting("mac", &format!("{mac:?}"))
        .bridge_setting("addresses", &format!("[{}]", vteps.join(", ")))
        .port(PortSpec::dpdk("phy", 1, &format!("net_af_packet0,iface={phy_iface}")))
        .more_toml(more_toml)
}

/// Several switches as several hosts of one test: each `(role, config)` gets a file prefix and a
/// directory of sockets (control, bridges' management) `<dir>/<role>` of its own and a small
/// hugepage footprint (64 MB, 4096 mbufs: three fit beside the other tests); all are spawned
/// before any is waited for. Panics with a switch's stderr when it exits during start-up.
pub fn start_hosts<const N: usize>(dir: &TestDir, hosts: [(&str, SwitchConfig); N]) -> [Vswitchd; N] {
    let mut hosts = hosts.map(|(role, mut config)| {
        let sockets = dir.join(role);
        std::fs::create_dir_all(&sockets).expect("cannot create a socket directory");
        config.file_prefix = dir.file_prefix(&format!("vs{role}"));
        config.socket = sockets.join("ctl.sock");
        config.memory_mb = 64;
        config.mbufs = 4096;
        let name = format!("vswitchd-{role}");
        let switch = Vswitchd::spawn(dir, &config, &name);
        (name, config, switch)
    });
    for (name, config, switch) in &mut hosts {
        if let Err(status) = switch.wait_started_respawning(dir, config, name) {
            panic!("{name} exited during start-up with {status}:\n{}", switch.stderr());
        }
    }
    hosts.map(|(_, _, switch)| switch)
}

/// `len` pseudo-random bytes (xorshift64 from `seed`): a transfer's payload.
pub fn payload(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state.to_be_bytes()[4]
        })
        .collect()
}

/// The receiving and sending ends of a transfer, run by python3 inside the namespaces.
const TRANSFER_PY: &str = r#"
import socket, sys, time
mode = sys.argv[1]
limit = float(sys.argv[-1])
if mode == "serve":
    port, out = int(sys.argv[2]), sys.argv[3]
    server = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    server.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("::", port))
    server.listen(1)
    server.settimeout(limit)
    print("listening", flush=True)
    conn, peer = server.accept()
    conn.settimeout(limit)
    received = 0
    with open(out, "wb") as f:
        while True:
            data = conn.recv(65536)
            if not data:
                break
            f.write(data)
            received += len(data)
    conn.close()
    print("received", received, "from", peer[0], flush=True)
else:
    host, port, path = sys.argv[2], int(sys.argv[3]), sys.argv[4]
    data = open(path, "rb").read()
    deadline = time.monotonic() + limit
    while True:
        try:
            conn = socket.create_connection((host, port), timeout=2)
            break
        except OSError as e:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    conn.settimeout(limit)
    conn.sendall(data)
    conn.shutdown(socket.SHUT_WR)
    conn.recv(1)
    conn.close()
    print("sent", len(data), flush=True)
"#;

/// Sends `data` over TCP from namespace `from` to a receiver in `to` listening on `port` of
/// every address (`to_addr` is the one connected to, IPv4 or IPv6), and compares what arrived
/// byte for byte. Err describes what went wrong (the ends' output, the first differing byte).
pub fn tcp_transfer(
    dir: &TestDir,
    from: &Namespace,
    to: &Namespace,
    to_addr: &str,
    port: u16,
    data: &[u8],
) -> Result<(), String> {
    let label = format!("tcp-{}-{port}", to.name());
    let script = dir.join("transfer.py");
    std::fs::write(&script, TRANSFER_PY).map_err(|e| format!("cannot write {}: {e}", script.display()))?;
    let sent = dir.join(&format!("{label}.sent"));
    let received = dir.join(&format!("{label}.received"));
    std::fs::write(&sent, data).map_err(|e| format!("cannot write {}: {e}", sent.display()))?;
    let _ = std::fs::remove_file(&received);
    let limit = TRANSFER_LIMIT.as_secs().to_string();

    let mut serve = Command::new("ip");
    serve.args(["netns", "exec", to.name(), "python3"]).arg(&script).args(["serve", &port.to_string()]);
    serve.arg(&received).arg(&limit);
    let server_out = dir.join(&format!("{label}.server"));
    let mut server = Guarded::spawn("tcp receiver", serve, Signal::Term, &server_out, &server_out);
    let listening = wait::poll(LIMIT, || {
        let text = std::fs::read_to_string(&server_out).unwrap_or_default();
        (text.contains("listening") || server.exit_status().is_some()).then_some(())
    });
    let server_text = || std::fs::read_to_string(&server_out).unwrap_or_default();
    if listening.is_none() || !server_text().contains("listening") {
        return Err(format!("the receiver in {} did not listen:\n{}", to.name(), server_text()));
    }

    let mut send = Command::new("ip");
    send.args(["netns", "exec", from.name(), "python3"]).arg(&script).args(["send", to_addr, &port.to_string()]);
    send.arg(&sent).arg(&limit);
    let client = run(send, TRANSFER_LIMIT + Duration::from_secs(5));
    let status = server.wait_exit(LIMIT);
    if !client.success() || !status.is_some_and(|s| s.success()) {
        return Err(format!(
            "transfer {} -> {to_addr}:{port} failed: sender {client}\nreceiver ({status:?}):\n{}",
            from.name(),
            server_text()
        ));
    }
    compare(&sent, &received)
}

/// Whether the two files hold the same bytes; Err names the first difference.
fn compare(sent: &Path, received: &Path) -> Result<(), String> {
    let a = std::fs::read(sent).map_err(|e| format!("cannot read {}: {e}", sent.display()))?;
    let b = std::fs::read(received).map_err(|e| format!("cannot read {}: {e}", received.display()))?;
    if a == b {
        return Ok(());
    }
    let first = a.iter().zip(&b).position(|(x, y)| x != y).unwrap_or(a.len().min(b.len()));
    Err(format!("{} bytes sent, {} received, first difference at byte {first}", a.len(), b.len()))
}

/// A tshark capture running inside a namespace.
pub struct Capture {
    process: Guarded,
    output: PathBuf,
}

impl Capture {
    /// Starts `tshark -i <interface> -f <filter> -a duration:<seconds> -T fields -e <field>...`
    /// inside `ns` and waits until it captures. Panics when tshark is not installed or does not
    /// start.
    pub fn start(
        dir: &TestDir,
        ns: &Namespace,
        interface: &str,
        filter: &str,
        seconds: u32,
        fields: &[&str],
    ) -> Capture {
        let output = dir.join(&format!("capture-{interface}.txt"));
        let log = dir.join(&format!("capture-{interface}.log"));
        let mut command = Command::new("ip");
        command.args(["netns", "exec", ns.name(), "tshark", "-n", "-l", "-i", interface, "-f", filter]);
        command.args(["-a", &format!("duration:{seconds}"), "-T", "fields", "-E", "separator=/t"]);
        for field in fields {
            command.args(["-e", field]);
        }
        let mut process = Guarded::spawn("tshark", command, Signal::Int, &output, &log);
        let started = wait::poll(CAPTURE_START_LIMIT, || {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            (text.contains("Capturing on") || process.exit_status().is_some()).then_some(())
        });
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        assert!(started.is_some() && text.contains("Capturing on"), "tshark did not start:\n{text}");
        Capture { process, output }
    }

    /// Waits (bounded by its duration plus a margin) for the capture to end; one vector of
    /// field values per packet.
    pub fn finish(mut self, limit: Duration) -> Vec<Vec<String>> {
        if self.process.wait_exit(limit).is_none() {
            self.process.stop(Duration::from_secs(5));
        }
        self.packets()
    }

    /// Stops the capture now (SIGINT: tshark writes out what it has); one vector of field
    /// values per packet.
    pub fn stop(mut self) -> Vec<Vec<String>> {
        self.process.stop(Duration::from_secs(5));
        self.packets()
    }

    /// Waits (at most `limit`) until the packets captured so far satisfy `done`; whether they
    /// did. tshark writes each packet as it sees it, a moment after it crossed the interface.
    pub fn wait_until(&self, limit: Duration, done: impl Fn(&[Vec<String>]) -> bool) -> bool {
        wait::poll(limit, || done(&self.packets()).then_some(())).is_some()
    }

    fn packets(&self) -> Vec<Vec<String>> {
        let text = std::fs::read_to_string(&self.output).unwrap_or_default();
        text.lines().map(|line| line.split('\t').map(str::to_owned).collect()).collect()
    }
}
