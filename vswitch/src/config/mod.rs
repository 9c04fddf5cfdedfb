//! The vswitchd configuration: owns the TOML schema and its defaults (`Config` and its sections),
//! the validation that runs before DPDK is touched, and the EAL arguments derived from it.
//! `PortConfig` is also the add-port payload of the control socket. See docs/configuration.md.
#![forbid(unsafe_code)]

mod bridge;
mod port;
mod reader;
mod sections;
#[cfg(test)]
mod tests;

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

pub use crate::tunnel::port::{Inheritable, TunnelAddress, TunnelConfig, TunnelKey};
pub use bridge::{parse_datapath_id, parse_unicast_mac};
pub use port::{PortConfig, PortKind, DEFAULT_QUEUE_SIZE, DEFAULT_RX_QUEUES};

use crate::control::protocol::DEFAULT_SOCKET;
use crate::flow::FlowRule;
use crate::tunnel::route::Prefix;

/// Everything vswitchd needs to start. Only `Config::load`/`Config::parse` make one from text, and
/// they validate it: every port has `Some(ofport)` and every flow refers to existing ports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub dpdk: DpdkConfig,
    pub pmd: PmdConfig,
    pub control: ControlConfig,
    pub switch: SwitchConfig,
    /// At least one; names unique.
    pub bridges: Vec<BridgeConfig>,
    /// `[tls]`: the switch's key and certificates, needed by `tls:` and `ptls:` targets.
    pub tls: Option<TlsConfig>,
}

/// `[dpdk]`: the EAL and the packet buffer pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DpdkConfig {
    /// EAL main lcore = the management thread's core.
    pub main_core: usize,
    /// Hugepage memory in MB (`-m`), at least 64.
    pub memory_mb: u32,
    /// `--file-prefix`, keeps several DPDK processes apart.
    pub file_prefix: String,
    /// `--in-memory`: no hugepage files left behind.
    pub in_memory: bool,
    /// `--no-pci`: do not scan the PCI bus (vdevs only).
    pub no_pci: bool,
    /// Packet buffers in the pool, at least 1024.
    pub mbufs: u32,
    /// Per-lcore mempool cache, at most 512.
    pub mbuf_cache: u32,
    /// Appended verbatim to the EAL arguments.
    pub extra_args: Vec<String>,
}

impl Default for DpdkConfig {
    fn default() -> Self {
        DpdkConfig {
            main_core: 0,
            memory_mb: 512,
            file_prefix: "vswitch".to_string(),
            in_memory: true,
            no_pci: false,
            mbufs: 32768,
            mbuf_cache: 256,
            extra_args: Vec::new(),
        }
    }
}

/// `[pmd]`: the packet-polling threads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PmdConfig {
    /// The CPU of each PMD thread; non-empty, no duplicates, never `dpdk.main_core`.
    pub cores: Vec<usize>,
    /// Longest back-off sleep of an idle PMD in microseconds; 0 = pure polling.
    pub idle_sleep_max_us: u32,
}

impl Default for PmdConfig {
    fn default() -> Self {
        PmdConfig { cores: vec![1], idle_sleep_max_us: 0 }
    }
}

/// `[control]`: the control socket vsctl talks to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControlConfig {
    /// Path of the unix socket vswitchd listens on.
    pub socket: PathBuf,
}

impl ControlConfig {
    /// The OpenFlow management socket of `bridge`: `<bridge>.mgmt` next to the control socket
    /// (as Open vSwitch has `br0.mgmt` next to its database socket).
    pub fn mgmt_socket(&self, bridge: &str) -> PathBuf {
        let dir = self.socket.parent().unwrap_or_else(|| Path::new(""));
        dir.join(format!("{bridge}.mgmt"))
    }
}

impl Default for ControlConfig {
    fn default() -> Self {
        ControlConfig { socket: PathBuf::from(DEFAULT_SOCKET) }
    }
}

/// `[switch]`: switch-wide behaviour.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SwitchConfig {
    pub on_port_error: PortErrorPolicy,
}

/// `[tls]`: the PEM files of the switch's TLS identity (as `ovs-vsctl set-ssl` sets them).
/// Only the paths are checked when the file is read; vswitchd loads and checks the files
/// themselves when it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsConfig {
    /// The switch's private key.
    pub private_key: PathBuf,
    /// The switch's certificate (the chain, leaf first) for that key.
    pub certificate: PathBuf,
    /// The CA certificate(s) a peer's certificate must chain to.
    pub ca_certificate: PathBuf,
}

/// What vswitchd does when a port fails to probe or start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PortErrorPolicy {
    /// Log the failure and run on without that port (`"continue"`).
    #[default]
    Continue,
    /// Exit non-zero (`"abort"`).
    Abort,
}

/// `[[bridge]]`: a switch instance with its ports and flow rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BridgeConfig {
    /// 1..=32 of `[A-Za-z0-9_.-]`, unique.
    pub name: String,
    /// In file order; every `ofport` is `Some` and unique within the bridge.
    pub ports: Vec<PortConfig>,
    /// In file order; they name only ofports of this bridge's ports.
    pub flows: Vec<FlowRule>,
    /// The OpenFlow controllers of the bridge, in one list as Open vSwitch's controller table
    /// has them: passive listeners (`ptcp:PORT[:IP]`, `ptls:PORT[:IP]`, no two on the same
    /// address switch-wide) and active controllers the switch connects to (`tcp:IP:PORT`,
    /// `tls:IP:PORT`). No target twice; TLS ones only with `[tls]`.
    pub openflow: Vec<OpenFlowTarget>,
    /// `fail_mode`: what the bridge does while no controller is connected; `None` when not
    /// set (secure).
    pub fail_mode: Option<FailMode>,
    /// How many packet-ins each controller gets at most.
    pub packet_in_limit: PacketInLimit,
    /// The OpenFlow datapath id: `datapath_id` (hex, as Open vSwitch's
    /// other-config:datapath-id), or derived from the name when not set; unique across bridges.
    pub datapath_id: u64,
    /// Most MAC entries NORMAL keeps (Open vSwitch's other-config:mac-table-size).
    pub mac_table_size: usize,
    /// Seconds a MAC entry NORMAL learned lives without a packet from it (Open vSwitch's
    /// other-config:mac-aging-time).
    pub mac_aging: u32,
    /// Seconds a learned tunnel next hop (ARP / ND) lives unconfirmed; one that cached flows
    /// use is probed before then (Open vSwitch's `tnl/neigh/aging`).
    pub neighbour_aging: u32,
    /// The bridge's own Ethernet address (its LOCAL port): `mac`, or derived from the datapath id.
    pub mac: [u8; 6],
    /// What makes the bridge an underlay for tunnels.
    pub underlay: Underlay,
    /// `local_interface`: the bridge's LOCAL port is a kernel interface named after the bridge
    /// (a net_tap device) that the host's stack owns addresses on. Off by default; not with
    /// `underlay.addresses`, whose LOCAL port is the switch's own stack.
    pub local_interface: bool,
}

/// A bridge's own addresses (tunnel endpoints, each with the connected route of its prefix),
/// its static routes and static neighbours.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Underlay {
    pub addresses: Vec<InterfaceAddress>,
    pub routes: Vec<StaticRoute>,
    pub neighbours: Vec<(IpAddr, [u8; 6])>,
}

/// One of a bridge's own addresses and the prefix it is on ("172.31.1.1/24").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InterfaceAddress {
    pub addr: IpAddr,
    pub prefix: Prefix,
}

/// A static route through a bridge: to `prefix`, via a gateway or on the link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StaticRoute {
    pub prefix: Prefix,
    pub via: Option<IpAddr>,
}

impl BridgeConfig {
    pub const DEFAULT_MAC_TABLE_SIZE: usize = 8192;
    pub const MAX_MAC_TABLE_SIZE: usize = 1_000_000;
    /// Open vSwitch's default.
    pub const DEFAULT_MAC_AGING_S: u32 = 300;
    pub const MAC_AGING_RANGE_S: std::ops::RangeInclusive<u32> = 1..=3600;
    /// Open vSwitch's tunnel neighbour aging (15 min).
    pub const DEFAULT_NEIGHBOUR_AGING_S: u32 = 900;
    pub const NEIGHBOUR_AGING_RANGE_S: std::ops::RangeInclusive<u32> = 1..=86_400;
}

/// The packet-in rate limit of a bridge: every controller connection gets at most `rate`
/// packet-ins per second with bursts of `burst`, and every PMD hands at most as many per
/// second to the management thread. What is over the limit is dropped and counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacketInLimit {
    pub rate: u32,
    pub burst: u32,
}

impl PacketInLimit {
    pub const DEFAULT_RATE: u32 = 1000;
    /// Open vSwitch's lower bound for controller_rate_limit.
    pub const MIN_RATE: u32 = 100;
    pub const MAX_RATE: u32 = 1_000_000;
    /// Open vSwitch's lower bound for controller_burst_limit.
    pub const MIN_BURST: u32 = 25;
}

impl Default for PacketInLimit {
    fn default() -> Self {
        PacketInLimit { rate: Self::DEFAULT_RATE, burst: Self::DEFAULT_RATE / 4 }
    }
}

/// What the bridge should do while no controller is connected (`fail_mode`), as Open vSwitch
/// names it: `secure` keeps the flow tables as they are; `standalone` forwards as a NORMAL
/// learning switch while the bridge has active controllers and none is connected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailMode {
    Secure,
    Standalone,
}

impl FailMode {
    pub fn parse(text: &str) -> Result<FailMode, String> {
        match text {
            "secure" => Ok(FailMode::Secure),
            "standalone" => Ok(FailMode::Standalone),
            _ => Err(format!("{text:?} is not a fail mode (\"secure\" or \"standalone\")")),
        }
    }
}

impl fmt::Display for FailMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FailMode::Secure => "secure",
            FailMode::Standalone => "standalone",
        })
    }
}

/// An OpenFlow target of a bridge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OpenFlowTarget {
    /// `ptcp:PORT[:IP]` or `ptls:PORT[:IP]`: a passive listener, IP 127.0.0.1 when not given
    /// (listening beyond the host is opt-in).
    Listen(SocketAddr, Transport),
    /// `tcp:IP:PORT` or `tls:IP:PORT` (IPv6 in brackets: `tcp:[::1]:6653`): an active
    /// controller the switch connects to, and reconnects to with backoff.
    Connect(SocketAddr, Transport),
}

/// How a target's connections carry OpenFlow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// Plain TCP: no authentication, no encryption.
    Tcp,
    /// TLS with certificates verified both ways (the switch's own from `[tls]`).
    Tls,
}

impl Transport {
    /// The scheme of an active target (`tcp`, `tls`); a passive one has a `p` in front.
    fn scheme(self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::Tls => "tls",
        }
    }
}

impl OpenFlowTarget {
    /// Parses `ptcp:PORT[:IP]` / `ptls:PORT[:IP]` (an IPv6 address in brackets:
    /// `ptcp:6653:[::1]`) or `tcp:IP:PORT` / `tls:IP:PORT` (`tcp:[::1]:6653`).
    pub fn parse(text: &str) -> Result<OpenFlowTarget, String> {
        let Some((scheme, rest)) = text.split_once(':') else { return Err(not_a_target(text)) };
        let (passive, transport) = match scheme {
            "ptcp" => (true, Transport::Tcp),
            "ptls" => (true, Transport::Tls),
            "tcp" => (false, Transport::Tcp),
            "tls" => (false, Transport::Tls),
            _ => return Err(not_a_target(text)),
        };
        if passive {
            let (port, ip) = rest.split_once(':').unwrap_or((rest, "127.0.0.1"));
            let address = SocketAddr::new(parse_ip(text, ip)?, parse_port(text, port)?);
            return Ok(OpenFlowTarget::Listen(address, transport));
        }
        let Some((ip, port)) = rest.rsplit_once(':') else {
            return Err(format!("{text:?}: an active controller is \"{scheme}:IP:PORT\""));
        };
        if ip.contains(':') && !(ip.starts_with('[') && ip.ends_with(']')) {
            return Err(format!("{text:?}: an IPv6 address goes in brackets: \"{scheme}:[::1]:6653\""));
        }
        Ok(OpenFlowTarget::Connect(SocketAddr::new(parse_ip(text, ip)?, parse_port(text, port)?), transport))
    }

    /// The address listened on or connected to.
    pub fn address(&self) -> SocketAddr {
        match *self {
            OpenFlowTarget::Listen(address, _) | OpenFlowTarget::Connect(address, _) => address,
        }
    }

    pub fn transport(&self) -> Transport {
        match *self {
            OpenFlowTarget::Listen(_, transport) | OpenFlowTarget::Connect(_, transport) => transport,
        }
    }

    /// A TLS target needs the switch's key and certificates (`[tls]`): the error says so,
    /// naming the target. `tls_configured`: whether the switch has them.
    pub fn check_tls_configured(&self, tls_configured: bool) -> Result<(), String> {
        if self.transport() == Transport::Tls && !tls_configured {
            return Err(format!(
                "{self}: TLS needs the switch's private key and certificates; add a [tls] section with \
                 private_key, certificate and ca_certificate to the configuration"
            ));
        }
        Ok(())
    }

    /// Parses a whole list, refusing a target listed twice; an error names the position
    /// (index into `texts`) of the bad target.
    pub fn parse_list(texts: &[String]) -> Result<Vec<OpenFlowTarget>, (usize, String)> {
        let mut targets: Vec<OpenFlowTarget> = Vec::with_capacity(texts.len());
        for (index, text) in texts.iter().enumerate() {
            let target = OpenFlowTarget::parse(text).map_err(|problem| (index, problem))?;
            if targets.contains(&target) {
                return Err((index, format!("{target} is listed twice")));
            }
            targets.push(target);
        }
        Ok(targets)
    }
}

fn not_a_target(text: &str) -> String {
    format!(
        "{text:?} is not an OpenFlow target: \"tcp:IP:PORT\" or \"tls:IP:PORT\" (active controller), \
         \"ptcp:PORT[:IP]\" or \"ptls:PORT[:IP]\" (passive listener)"
    )
}

fn parse_port(text: &str, port: &str) -> Result<u16, String> {
    port.parse().ok().filter(|&p| p != 0).ok_or_else(|| format!("{text:?}: {port:?} is not a TCP port (1..65535)"))
}

fn parse_ip(text: &str, ip: &str) -> Result<std::net::IpAddr, String> {
    ip.strip_prefix('[')
        .and_then(|inner| inner.strip_suffix(']'))
        .unwrap_or(ip)
        .parse()
        .map_err(|_| format!("{text:?}: {ip:?} is not an IP address"))
}

impl fmt::Display for OpenFlowTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            OpenFlowTarget::Listen(address, transport) => match address.ip() {
                std::net::IpAddr::V4(ip) => write!(f, "p{}:{}:{ip}", transport.scheme(), address.port()),
                std::net::IpAddr::V6(ip) => write!(f, "p{}:{}:[{ip}]", transport.scheme(), address.port()),
            },
            // SocketAddr writes IPv6 in brackets already.
            OpenFlowTarget::Connect(address, transport) => write!(f, "{}:{address}", transport.scheme()),
        }
    }
}

impl Config {
    /// Reads, parses and validates the file at `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|error| ConfigError {
            file: path.to_path_buf(),
            place: Place::File,
            problem: format!("cannot read: {error}"),
        })?;
        Config::parse(&text, path)
    }

    /// Parses and validates `text`; `origin` is the file name used in error messages.
    pub fn parse(text: &str, origin: &Path) -> Result<Config, ConfigError> {
        let table: toml::Table = toml::from_str(text).map_err(|error| ConfigError::syntax(origin, text, &error))?;
        sections::config_from_table(&table).map_err(|error| ConfigError {
            file: origin.to_path_buf(),
            place: Place::Key(error.key),
            problem: error.problem,
        })
    }

    /// The EAL command line: `vswitchd -l <main> --main-lcore <main> --file-prefix <prefix>
    /// -m <MB> [--in-memory] [--no-pci] [extra_args...]`. PMD threads are not EAL lcores.
    pub fn eal_args(&self) -> Vec<String> {
        let dpdk = &self.dpdk;
        let main_core = dpdk.main_core.to_string();
        let mut args: Vec<String> = vec![
            "vswitchd".into(),
            "-l".into(),
            main_core.clone(),
            "--main-lcore".into(),
            main_core,
            "--file-prefix".into(),
            dpdk.file_prefix.clone(),
            "-m".into(),
            dpdk.memory_mb.to_string(),
        ];
        if dpdk.in_memory {
            args.push("--in-memory".into());
        }
        if dpdk.no_pci {
            args.push("--no-pci".into());
        }
        args.extend(dpdk.extra_args.iter().cloned());
        args
    }
}

/// Why a configuration was rejected. Displays as `<file>: <key path>: <problem>`, or
/// `<file>:<line>:<column>: <problem>` for TOML syntax errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    file: PathBuf,
    place: Place,
    problem: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Place {
    /// The file as a whole (cannot be read, or a syntax error without a position).
    File,
    /// 1-based line and column (in characters).
    Position { line: usize, column: usize },
    /// A key path such as `bridge[0].port[1].devargs`.
    Key(String),
}

impl ConfigError {
    fn syntax(file: &Path, text: &str, error: &toml::de::Error) -> Self {
        let place = match error.span() {
            Some(span) => {
                let (line, column) = line_and_column(text, span.start);
                Place::Position { line, column }
            }
            None => Place::File,
        };
        ConfigError { file: file.to_path_buf(), place, problem: one_line(error.message()) }
    }
}

/// toml's messages can span lines ("invalid string\nexpected `\"`"); a log line wants one.
fn one_line(message: &str) -> String {
    let lines: Vec<&str> = message.lines().map(str::trim).filter(|line| !line.is_empty()).collect();
    lines.join("; ")
}

/// 1-based line and column (counting characters, not bytes) of byte `offset` in `text`.
fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text.as_bytes()[..offset.min(text.len())];
    let line_start = before.iter().rposition(|&byte| byte == b'\n').map_or(0, |newline| newline + 1);
    let line = before.iter().filter(|&&byte| byte == b'\n').count() + 1;
    let is_char_start = |byte: &&u8| (**byte & 0xc0) != 0x80;
    let column = before[line_start..].iter().filter(is_char_start).count() + 1;
    (line, column)
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let file = self.file.display();
        match &self.place {
            Place::File => write!(f, "{file}: {}", self.problem),
            Place::Position { line, column } => {
                write!(f, "{file}:{line}:{column}: {}", self.problem)
            }
            Place::Key(key) => write!(f, "{file}: {key}: {}", self.problem),
        }
    }
}

impl std::error::Error for ConfigError {}
