//! vswitchd configurations for the tests, written as TOML in the test's
//! scratch directory: one bridge `br0`, the suite's core pinning (management
//! on core 0, one PMD on core 1 that sleeps when idle, so testpmd can share
//! the machine), a small hugepage footprint and the test's own file prefix
//! and control socket.
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::scratch::TestDir;

/// The bridge every test configuration has.
pub const BRIDGE: &str = "br0";
/// CPU of vswitchd's management thread (EAL main lcore).
pub const MAIN_CORE: usize = 0;
/// CPU of vswitchd's only PMD thread.
pub const PMD_CORE: usize = 1;
/// Longest idle back-off sleep of the PMD: lets another process use core 1.
pub const IDLE_SLEEP_MAX_US: u32 = 100;

/// What a port is.
#[derive(Debug, Clone)]
pub enum PortKind {
    Dpdk {
        devargs: String,
    },
    VhostUser {
        path: PathBuf,
    },
    VhostUserClient {
        path: PathBuf,
    },
    /// An internal port: vswitchd creates a kernel interface named after the port.
    Internal,
}

/// One `[[bridge.port]]`.
#[derive(Debug, Clone)]
pub struct PortSpec {
    pub name: String,
    pub ofport: Option<u32>,
    pub kind: PortKind,
    /// `tag`: an access port of this VLAN (for NORMAL).
    pub tag: Option<u16>,
    /// `trunks`: a trunk of these VLANs only (for NORMAL; empty: all).
    pub trunks: Vec<u16>,
}

impl PortSpec {
    pub fn dpdk(name: &str, ofport: u32, devargs: &str) -> PortSpec {
        PortSpec::of_kind(name, ofport, PortKind::Dpdk { devargs: devargs.to_owned() })
    }

    /// A net_pcap port (vdev number `vdev`) that replays `file` once.
    pub fn pcap_rx(name: &str, ofport: u32, vdev: u32, file: &std::path::Path) -> PortSpec {
        PortSpec::dpdk(name, ofport, &format!("net_pcap{vdev},rx_pcap={}", file.display()))
    }

    /// A net_pcap port (vdev number `vdev`) that writes what it sends to `file`.
    pub fn pcap_tx(name: &str, ofport: u32, vdev: u32, file: &std::path::Path) -> PortSpec {
        PortSpec::dpdk(name, ofport, &format!("net_pcap{vdev},tx_pcap={}", file.display()))
    }

    /// A net_tap port (vdev number `vdev`): vswitchd creates the kernel TAP interface
    /// `interface` (at most 15 characters) in its own network namespace.
    pub fn tap(name: &str, ofport: u32, vdev: u32, interface: &str) -> PortSpec {
        PortSpec::dpdk(name, ofport, &format!("net_tap{vdev},iface={interface}"))
    }

    /// A vhost-user server port: vswitchd creates the socket at `path`.
    pub fn vhost_user(name: &str, ofport: u32, path: &Path) -> PortSpec {
        PortSpec::of_kind(name, ofport, PortKind::VhostUser { path: path.to_owned() })
    }

    /// A vhost-user client port: the VM side listens at `path`.
    pub fn vhost_user_client(name: &str, ofport: u32, path: &Path) -> PortSpec {
        PortSpec::of_kind(name, ofport, PortKind::VhostUserClient { path: path.to_owned() })
    }

    /// An internal port: vswitchd creates the kernel interface `name` (at most 15 characters)
    /// in its own network namespace.
    pub fn internal(name: &str, ofport: u32) -> PortSpec {
        PortSpec::of_kind(name, ofport, PortKind::Internal)
    }

    fn of_kind(name: &str, ofport: u32, kind: PortKind) -> PortSpec {
        PortSpec { name: name.to_owned(), ofport: Some(ofport), kind, tag: None, trunks: Vec::new() }
    }

    /// An access port of VLAN `vlan` (`tag`).
    pub fn tag(mut self, vlan: u16) -> PortSpec {
        self.tag = Some(vlan);
        self
    }

    /// A trunk of these VLANs only (`trunks`).
    pub fn trunks(mut self, vlans: &[u16]) -> PortSpec {
        self.trunks = vlans.to_vec();
        self
    }
}

/// A whole vswitchd configuration.
#[derive(Debug, Clone)]
pub struct SwitchConfig {
    pub file_prefix: String,
    pub socket: PathBuf,
    pub memory_mb: u32,
    pub mbufs: u32,
    /// `switch.on_port_error`; None leaves the default ("continue").
    pub on_port_error: Option<String>,
    pub flows: Vec<String>,
    pub ports: Vec<PortSpec>,
    /// The bridge's `openflow` targets (`ptcp:PORT[:IP]`, `tcp:IP:PORT`).
    pub openflow: Vec<String>,
    /// More keys of the bridge, as TOML lines (`fail_mode = "secure"`).
    pub bridge_settings: Vec<String>,
    /// More TOML after br0 (more `[[bridge]]` tables).
    pub more_toml: Vec<String>,
    /// `[tls]`: the switch's private key, certificate and CA certificate (PEM files).
    pub tls: Option<TlsFiles>,
}

/// The PEM files of a `[tls]` section.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub private_key: PathBuf,
    pub certificate: PathBuf,
    pub ca_certificate: PathBuf,
}

impl SwitchConfig {
    /// An empty bridge with the suite's defaults, files in `dir`.
    pub fn new(dir: &TestDir) -> SwitchConfig {
        SwitchConfig {
            file_prefix: dir.file_prefix("vs"),
            socket: dir.join("ctl.sock"),
            memory_mb: 128,
            mbufs: 8192,
            on_port_error: None,
            flows: Vec::new(),
            ports: Vec::new(),
            openflow: Vec::new(),
            bridge_settings: Vec::new(),
            more_toml: Vec::new(),
            tls: None,
        }
    }

    /// Another key of the bridge: `value` is TOML (`"\"secure\""`, `100`).
    pub fn bridge_setting(mut self, key: &str, value: &str) -> SwitchConfig {
        self.bridge_settings.push(format!("{key} = {value}"));
        self
    }

    /// TOML appended after br0 and its ports: another `[[bridge]]` with its `[[bridge.port]]`s.
    pub fn more_toml(mut self, toml: &str) -> SwitchConfig {
        self.more_toml.push(toml.to_owned());
        self
    }

    pub fn flow(mut self, rule: &str) -> SwitchConfig {
        self.flows.push(rule.to_owned());
        self
    }

    /// The switch's TLS identity (`[tls]`), for `tls:` and `ptls:` targets.
    pub fn tls(mut self, files: TlsFiles) -> SwitchConfig {
        self.tls = Some(files);
        self
    }

    /// An OpenFlow target of the bridge: a listener (`ptcp:PORT[:IP]`, `ptls:...`) or a
    /// controller (`tcp:IP:PORT`, `tls:...`).
    pub fn openflow(mut self, target: &str) -> SwitchConfig {
        self.openflow.push(target.to_owned());
        self
    }

    /// The bridge's OpenFlow management socket: `br0.mgmt` next to the control socket.
    pub fn mgmt_socket(&self) -> PathBuf {
        self.socket.parent().unwrap_or_else(|| Path::new("")).join(format!("{BRIDGE}.mgmt"))
    }

    pub fn port(mut self, port: PortSpec) -> SwitchConfig {
        self.ports.push(port);
        self
    }

    pub fn on_port_error(mut self, policy: &str) -> SwitchConfig {
        self.on_port_error = Some(policy.to_owned());
        self
    }

    /// The vhost-user server socket paths of the configuration.
    pub fn server_sockets(&self) -> Vec<PathBuf> {
        self.ports
            .iter()
            .filter_map(|p| match &p.kind {
                PortKind::VhostUser { path } => Some(path.clone()),
                _ => None,
            })
            .collect()
    }

    /// The configuration file's text.
    pub fn to_toml(&self) -> String {
        let mut text = String::new();
        let _ = writeln!(text, "[dpdk]");
        let _ = writeln!(text, "main_core = {MAIN_CORE}");
        let _ = writeln!(text, "memory_mb = {}", self.memory_mb);
        let _ = writeln!(text, "file_prefix = {}", quote(&self.file_prefix));
        let _ = writeln!(text, "no_pci = true");
        let _ = writeln!(text, "mbufs = {}", self.mbufs);
        let _ = writeln!(text, "\n[pmd]\ncores = [{PMD_CORE}]\nidle_sleep_max_us = {IDLE_SLEEP_MAX_US}");
        let _ = writeln!(text, "\n[control]\nsocket = {}", quote(&self.socket.to_string_lossy()));
        if let Some(policy) = &self.on_port_error {
            let _ = writeln!(text, "\n[switch]\non_port_error = {}", quote(policy));
        }
        if let Some(tls) = &self.tls {
            let _ = writeln!(text, "\n[tls]");
            for (key, path) in [
                ("private_key", &tls.private_key),
                ("certificate", &tls.certificate),
                ("ca_certificate", &tls.ca_certificate),
            ] {
                let _ = writeln!(text, "{key} = {}", quote(&path.to_string_lossy()));
            }
        }
        let flows: Vec<String> = self.flows.iter().map(|f| quote(f)).collect();
        let _ = writeln!(text, "\n[[bridge]]\nname = {}\nflows = [{}]", quote(BRIDGE), flows.join(", "));
        if !self.openflow.is_empty() {
            let targets: Vec<String> = self.openflow.iter().map(|t| quote(t)).collect();
            let _ = writeln!(text, "openflow = [{}]", targets.join(", "));
        }
        for line in &self.bridge_settings {
            let _ = writeln!(text, "{line}");
        }
        for port in &self.ports {
            let _ = writeln!(text, "\n[[bridge.port]]\nname = {}", quote(&port.name));
            let (kind, target) = match &port.kind {
                PortKind::Dpdk { devargs } => ("dpdk", Some(("devargs", devargs.clone()))),
                PortKind::VhostUser { path } => ("vhost-user", Some(("path", path.to_string_lossy().into_owned()))),
                PortKind::VhostUserClient { path } => {
                    ("vhost-user-client", Some(("path", path.to_string_lossy().into_owned())))
                }
                PortKind::Internal => ("internal", None),
            };
            let _ = writeln!(text, "type = {}", quote(kind));
            if let Some((key, value)) = target {
                let _ = writeln!(text, "{key} = {}", quote(&value));
            }
            if let Some(ofport) = port.ofport {
                let _ = writeln!(text, "ofport = {ofport}");
            }
            if let Some(tag) = port.tag {
                let _ = writeln!(text, "tag = {tag}");
            }
            if !port.trunks.is_empty() {
                let list: Vec<String> = port.trunks.iter().map(u16::to_string).collect();
                let _ = writeln!(text, "trunks = [{}]", list.join(", "));
            }
        }
        for more in &self.more_toml {
            let _ = writeln!(text, "\n{more}");
        }
        text
    }

    /// Writes the configuration to `<dir>/<file>` and returns the path.
    pub fn write(&self, dir: &TestDir, file: &str) -> PathBuf {
        let path = dir.join(file);
        std::fs::write(&path, self.to_toml()).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        path
    }
}

/// A TOML basic string (JSON string escapes are valid TOML).
pub fn quote(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| format!("\"{text}\""))
}
