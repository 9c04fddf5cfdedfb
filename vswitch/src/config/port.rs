//! One switch port's configuration: `PortConfig` and `PortKind`, their validation (shared by the
//! config file and the runtime add-port command) and their flat wire shape, which is the same in
//! TOML and JSON: `{"name": .., "type": "dpdk", "devargs": .., "ofport": .., "trunks": [..]}`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::reader::{KeyError, Section};
use crate::flow::OfPort;
use crate::pipeline::xlate::VlanMode;
use crate::tunnel::port::TunnelConfig;
use crate::tunnel::TunnelKind;

const TYPE_DPDK: &str = "dpdk";
const TYPE_VHOST_USER: &str = "vhost-user";
const TYPE_VHOST_USER_CLIENT: &str = "vhost-user-client";
const TYPE_PATCH: &str = "patch";
const TYPE_INTERNAL: &str = "internal";
const PORT_TYPES: &str =
    "\"dpdk\", \"vhost-user\", \"vhost-user-client\", \"internal\", \"patch\", \"vxlan\", \"geneve\" or \"gre\"";
const TUNNEL_TYPES: [TunnelKind; 3] = [TunnelKind::Vxlan, TunnelKind::Geneve, TunnelKind::Gre];

/// Receive queues of a port that does not say (`rx_queues`); vsctl's add-port uses it too.
pub const DEFAULT_RX_QUEUES: u16 = 1;
/// Receive and transmit ring size of a port that does not say (`rxq_size`, `txq_size`); vsctl's
/// add-port uses it too.
pub const DEFAULT_QUEUE_SIZE: u16 = 1024;
const MAX_RX_QUEUES: u16 = 64;
const MIN_QUEUE_SIZE: u16 = 64;
const MAX_QUEUE_SIZE: u16 = 4096;
const MIN_MTU: u16 = 68;
const MAX_MTU: u16 = 9600;
const MAX_NAME_LEN: usize = 32;
/// Longest Linux interface name (IFNAMSIZ - 1): internal ports and LOCAL interfaces.
const MAX_INTERFACE_NAME_LEN: usize = 15;
const MIN_TAG: u16 = 1;
const MAX_TAG: u16 = 4094;
const MAX_TRUNK_VLAN: u16 = 4095;
/// `sun_path` holds 108 bytes including the terminating NUL.
pub(super) const MAX_SOCKET_PATH_LEN: usize = 107;

/// The keys a `[[bridge.port]]` table may have (which of devargs/path depends on `type`).
const PORT_KEYS: &[&str] = &[
    "name",
    "type",
    "devargs",
    "path",
    "options",
    "ofport",
    "rx_queues",
    "rxq_size",
    "txq_size",
    "mtu",
    "tag",
    "trunks",
];

/// A port of a bridge, as configured (in the file or by add-port).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortConfig {
    /// Unique across all bridges; 1..=32 of `[A-Za-z0-9_.-]`.
    pub name: String,
    /// OpenFlow port number; `None` = the first free number >= 1 in its bridge. Always `Some`
    /// in a `Config` returned by `Config::load`/`parse`.
    pub ofport: Option<u32>,
    pub kind: PortKind,
    /// Receive queues, 1..=64 (default 1).
    pub rx_queues: u16,
    /// Descriptors per receive queue, a power of two in 64..=4096 (default 1024).
    pub rxq_size: u16,
    /// Descriptors per transmit queue, a power of two in 64..=4096 (default 1024).
    pub txq_size: u16,
    /// 68..=9600; `None` keeps the device's default.
    pub mtu: Option<u16>,
    /// Access port of this VLAN, 1..=4094 (NORMAL); excludes `trunks`.
    pub tag: Option<u16>,
    /// Trunk of these VLANs, each 0..=4095, no duplicates; empty = every VLAN (NORMAL).
    pub trunks: Vec<u16>,
}

/// How NORMAL treats VLANs on a port: an access port of its `tag`, else a trunk of its `trunks`.
impl From<&PortConfig> for VlanMode {
    fn from(port: &PortConfig) -> Self {
        match port.tag {
            Some(tag) => VlanMode::Access(tag),
            None => VlanMode::Trunk(port.trunks.clone()),
        }
    }
}

/// What a port is attached to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortKind {
    /// A DPDK ethdev: a PCI address or vdev devargs such as `net_tap0,iface=tap0`.
    Dpdk { devargs: String },
    /// vhost-user, the switch creates and listens on the socket (server mode).
    VhostUser { path: PathBuf },
    /// vhost-user, the switch connects to a socket the VM side listens on (client mode, reconnects).
    VhostUserClient { path: PathBuf },
    /// A tunnel (VXLAN, Geneve, GRE) to remote endpoints over an underlay bridge: no device.
    Tunnel(TunnelConfig),
    /// A kernel network interface named after the port (a DPDK net_tap device): what the
    /// pipeline outputs to it reaches the host's stack, what the host sends on it enters the
    /// bridge from this port.
    Internal,
    /// One end of a patch between two bridges (`options = { peer = "<port on another
    /// bridge>" }`): output to it continues in the peer's bridge. No device.
    Patch { peer: String },
}

impl PortKind {
    /// The `type` value of this kind in the config file: "dpdk", "vhost-user",
    /// "vhost-user-client", "internal", "patch", "vxlan", "geneve" or "gre".
    pub fn type_name(&self) -> &'static str {
        match self {
            PortKind::Dpdk { .. } => TYPE_DPDK,
            PortKind::VhostUser { .. } => TYPE_VHOST_USER,
            PortKind::VhostUserClient { .. } => TYPE_VHOST_USER_CLIENT,
            PortKind::Tunnel(tunnel) => tunnel.kind.name(),
            PortKind::Internal => TYPE_INTERNAL,
            PortKind::Patch { .. } => TYPE_PATCH,
        }
    }
}

impl PortConfig {
    /// Checks everything about this port that does not depend on other ports (name syntax,
    /// ofport range, queue counts and sizes, MTU, devargs, socket path, VLAN tag and trunks).
    /// The error names the key and the problem, e.g. `devargs: must not be empty`.
    pub fn validate(&self) -> Result<(), String> {
        self.check().map_err(|error| error.to_string())
    }

    pub(super) fn check(&self) -> Result<(), KeyError> {
        check_name(&self.name).map_err(|problem| KeyError::new("name", problem))?;
        if let Some(ofport) = self.ofport {
            if !OfPort::RANGE.contains(&ofport) {
                return Err(KeyError::new(
                    "ofport",
                    format!(
                        "{ofport} is out of range; use {}..={} (0x{:x})",
                        OfPort::RANGE.start(),
                        OfPort::RANGE.end(),
                        OfPort::RANGE.end()
                    ),
                ));
            }
        }
        match &self.kind {
            PortKind::Dpdk { devargs } => check_devargs(devargs),
            PortKind::VhostUser { path } | PortKind::VhostUserClient { path } => {
                check_socket_path(path).map_err(|problem| KeyError::new("path", problem))
            }
            PortKind::Tunnel(_) => Ok(()),
            PortKind::Internal => check_interface_name(&self.name).map_err(|problem| KeyError::new("name", problem)),
            PortKind::Patch { peer } => {
                check_name(peer).map_err(|problem| KeyError::new("options.peer", problem))?;
                if *peer == self.name {
                    return Err(KeyError::new("options.peer", "a patch port cannot be its own peer"));
                }
                Ok(())
            }
        }?;
        if !(1..=MAX_RX_QUEUES).contains(&self.rx_queues) {
            return Err(KeyError::new(
                "rx_queues",
                format!("{} is out of range; use 1..={MAX_RX_QUEUES}", self.rx_queues),
            ));
        }
        check_queue_size("rxq_size", self.rxq_size)?;
        check_queue_size("txq_size", self.txq_size)?;
        if let Some(mtu) = self.mtu {
            if !(MIN_MTU..=MAX_MTU).contains(&mtu) {
                return Err(KeyError::new("mtu", format!("{mtu} is out of range; use {MIN_MTU}..={MAX_MTU}")));
            }
        }
        self.check_vlans()
    }

    fn check_vlans(&self) -> Result<(), KeyError> {
        if let Some(tag) = self.tag {
            if !(MIN_TAG..=MAX_TAG).contains(&tag) {
                return Err(KeyError::new("tag", format!("{tag} is out of range; use {MIN_TAG}..={MAX_TAG}")));
            }
            if !self.trunks.is_empty() {
                return Err(KeyError::new(
                    "trunks",
                    "a port is either an access port (tag) or a trunk (trunks); give only one of them",
                ));
            }
        }
        for (index, &vlan) in self.trunks.iter().enumerate() {
            let key = || format!("trunks[{index}]");
            if vlan > MAX_TRUNK_VLAN {
                return Err(KeyError::new(key(), format!("{vlan} is out of range; use 0..={MAX_TRUNK_VLAN}")));
            }
            if let Some(first) = self.trunks[..index].iter().position(|&earlier| earlier == vlan) {
                return Err(KeyError::new(key(), format!("{vlan} is already listed as trunks[{first}]")));
            }
        }
        Ok(())
    }

    /// Reads a `[[bridge.port]]` table and validates it; errors carry the table's key path.
    pub(super) fn from_toml(section: &Section) -> Result<PortConfig, KeyError> {
        section.reject_unknown_keys(PORT_KEYS)?;
        let fields = PortFields {
            name: section.string("name")?.ok_or_else(|| section.error("name", "missing; every port needs a name"))?,
            port_type: section
                .string("type")?
                .ok_or_else(|| section.error("type", format!("missing; every port needs a type: {PORT_TYPES}")))?,
            devargs: section.string("devargs")?,
            path: section.string("path")?.map(PathBuf::from),
            options: section.scalar_map("options")?.unwrap_or_default(),
            ofport: section.unsigned("ofport")?,
            rx_queues: section.unsigned("rx_queues")?.unwrap_or(DEFAULT_RX_QUEUES),
            rxq_size: section.unsigned("rxq_size")?.unwrap_or(DEFAULT_QUEUE_SIZE),
            txq_size: section.unsigned("txq_size")?.unwrap_or(DEFAULT_QUEUE_SIZE),
            mtu: section.unsigned("mtu")?,
            tag: section.unsigned("tag")?,
            trunks: section.unsigned_list("trunks")?.unwrap_or_default(),
        };
        let port = fields.into_port().map_err(|error| error.within(section.path()))?;
        port.check().map_err(|error| error.within(section.path()))?;
        Ok(port)
    }
}

/// Bridge and port names: 1..=32 characters of `[A-Za-z0-9_.-]`.
pub(super) fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("must not be empty".to_string());
    }
    if let Some(bad) = name.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))) {
        return Err(format!("{name:?} contains {bad:?}; use only letters, digits, '_', '.' and '-'"));
    }
    if name.len() > MAX_NAME_LEN {
        return Err(format!("{name:?} is {} characters long; at most {MAX_NAME_LEN} are allowed", name.len()));
    }
    Ok(())
}

/// The name of a kernel interface the switch creates (an internal port, a bridge's LOCAL
/// interface): a valid port or bridge name that Linux takes as an interface name.
pub(super) fn check_interface_name(name: &str) -> Result<(), String> {
    if name.len() > MAX_INTERFACE_NAME_LEN {
        return Err(format!(
            "{name:?} is {} characters long; a Linux interface name has at most {MAX_INTERFACE_NAME_LEN}",
            name.len()
        ));
    }
    if name == "." || name == ".." {
        return Err(format!("{name:?} cannot be a Linux interface name"));
    }
    Ok(())
}

/// A unix socket path: absolute and short enough for `sun_path`.
pub(super) fn check_socket_path(path: &Path) -> Result<(), String> {
    if !path.is_absolute() {
        return Err(format!("{path:?} is not an absolute path"));
    }
    let len = path.as_os_str().len();
    if len > MAX_SOCKET_PATH_LEN {
        return Err(format!("{path:?} is {len} bytes long; a unix socket path can have at most {MAX_SOCKET_PATH_LEN}"));
    }
    Ok(())
}

fn check_devargs(devargs: &str) -> Result<(), KeyError> {
    if devargs.is_empty() {
        return Err(KeyError::new(
            "devargs",
            "must not be empty; give a PCI address or vdev devargs such as \"net_tap0,iface=tap0\"",
        ));
    }
    if devargs.contains(char::is_whitespace) {
        return Err(KeyError::new("devargs", format!("{devargs:?} contains whitespace")));
    }
    Ok(())
}

fn check_queue_size(key: &str, size: u16) -> Result<(), KeyError> {
    if size.is_power_of_two() && (MIN_QUEUE_SIZE..=MAX_QUEUE_SIZE).contains(&size) {
        Ok(())
    } else {
        Err(KeyError::new(key, format!("{size} is not a power of two in {MIN_QUEUE_SIZE}..={MAX_QUEUE_SIZE}")))
    }
}

/// The flat wire shape of a port, shared by TOML and JSON: `type` selects which of
/// `devargs`/`path` must be present.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PortFields {
    name: String,
    #[serde(rename = "type")]
    port_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    devargs: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    path: Option<PathBuf>,
    /// A tunnel port's options, as strings (Open vSwitch's `options:` column).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    options: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ofport: Option<u32>,
    #[serde(default = "default_rx_queues")]
    rx_queues: u16,
    #[serde(default = "default_queue_size")]
    rxq_size: u16,
    #[serde(default = "default_queue_size")]
    txq_size: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    mtu: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tag: Option<u16>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    trunks: Vec<u16>,
}

fn default_rx_queues() -> u16 {
    DEFAULT_RX_QUEUES
}

fn default_queue_size() -> u16 {
    DEFAULT_QUEUE_SIZE
}

impl PortFields {
    /// Checks that `type` is known and that exactly the keys of that type are present.
    fn into_port(mut self) -> Result<PortConfig, KeyError> {
        if let Some(kind) = TUNNEL_TYPES.into_iter().find(|kind| kind.name() == self.port_type) {
            self.no_device(&format!("a {} port has no device; it takes options (remote_ip, key, ...)", kind.name()))?;
            let tunnel = TunnelConfig::from_options(kind, &self.options)
                .map_err(|(option, problem)| KeyError::new(format!("options.{option}"), problem))?;
            return Ok(self.with_kind(PortKind::Tunnel(tunnel)));
        }
        if self.port_type == TYPE_PATCH {
            self.no_device("a patch port has no device; it takes options = { peer = \"PORT\" }")?;
            if let Some(unknown) = self.options.keys().find(|k| *k != "peer") {
                return Err(KeyError::new(
                    format!("options.{unknown}"),
                    "unknown option of a patch port; expected peer",
                ));
            }
            let peer = self.options.remove("peer").ok_or_else(|| {
                KeyError::new("options.peer", "missing; a patch port names its peer, a patch port of another bridge")
            })?;
            return Ok(self.with_kind(PortKind::Patch { peer }));
        }
        if !self.options.is_empty() {
            return Err(KeyError::new("options", "only tunnel and patch ports take options"));
        }
        let kind = match self.port_type.as_str() {
            TYPE_INTERNAL => {
                self.no_device(
                    "an internal port takes no device: the switch creates the kernel interface named after the port",
                )?;
                PortKind::Internal
            }
            TYPE_DPDK => {
                if self.path.is_some() {
                    return Err(KeyError::new(
                        "path",
                        "only vhost-user and vhost-user-client ports take a path; \
                         this port is type \"dpdk\" (it takes devargs)",
                    ));
                }
                let devargs = self.devargs.take().ok_or_else(|| {
                    KeyError::new(
                        "devargs",
                        "missing; a port of type \"dpdk\" needs devargs \
                         (a PCI address or vdev devargs such as \"net_tap0,iface=tap0\")",
                    )
                })?;
                PortKind::Dpdk { devargs }
            }
            TYPE_VHOST_USER | TYPE_VHOST_USER_CLIENT => {
                if self.devargs.is_some() {
                    return Err(KeyError::new(
                        "devargs",
                        format!(
                            "only ports of type \"dpdk\" take devargs; this port is type {:?} \
                             (it takes path)",
                            self.port_type
                        ),
                    ));
                }
                let path = self.path.take().ok_or_else(|| {
                    KeyError::new(
                        "path",
                        format!("missing; a port of type {:?} needs the vhost-user socket path", self.port_type),
                    )
                })?;
                if self.port_type == TYPE_VHOST_USER {
                    PortKind::VhostUser { path }
                } else {
                    PortKind::VhostUserClient { path }
                }
            }
            other => return Err(KeyError::new("type", format!("{other:?} is not a port type; use {PORT_TYPES}"))),
        };
        Ok(self.with_kind(kind))
    }

    /// Refuses `devargs` and `path` (whichever is given) on a port type without a device,
    /// saying `problem`.
    fn no_device(&self, problem: &str) -> Result<(), KeyError> {
        match (&self.devargs, &self.path) {
            (Some(_), _) => Err(KeyError::new("devargs", problem)),
            (None, Some(_)) => Err(KeyError::new("path", problem)),
            (None, None) => Ok(()),
        }
    }

    fn with_kind(self, kind: PortKind) -> PortConfig {
        PortConfig {
            name: self.name,
            ofport: self.ofport,
            kind,
            rx_queues: self.rx_queues,
            rxq_size: self.rxq_size,
            txq_size: self.txq_size,
            mtu: self.mtu,
            tag: self.tag,
            trunks: self.trunks,
        }
    }
}

impl From<&PortConfig> for PortFields {
    fn from(port: &PortConfig) -> Self {
        let (devargs, path, options) = match &port.kind {
            PortKind::Dpdk { devargs } => (Some(devargs.clone()), None, BTreeMap::new()),
            PortKind::VhostUser { path } | PortKind::VhostUserClient { path } => {
                (None, Some(path.clone()), BTreeMap::new())
            }
            PortKind::Tunnel(tunnel) => (None, None, tunnel.to_options()),
            PortKind::Internal => (None, None, BTreeMap::new()),
            PortKind::Patch { peer } => (None, None, BTreeMap::from([("peer".to_string(), peer.clone())])),
        };
        PortFields {
            name: port.name.clone(),
            port_type: port.kind.type_name().to_string(),
            devargs,
            path,
            options,
            ofport: port.ofport,
            rx_queues: port.rx_queues,
            rxq_size: port.rxq_size,
            txq_size: port.txq_size,
            mtu: port.mtu,
            tag: port.tag,
            trunks: port.trunks.clone(),
        }
    }
}

impl Serialize for PortConfig {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        PortFields::from(self).serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for PortConfig {
    /// Checks the shape only (known type, its keys present, no others); the values are checked
    /// by `PortConfig::validate`.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        PortFields::deserialize(deserializer)?.into_port().map_err(serde::de::Error::custom)
    }
}
