//! What the tests read back from `vsctl --json`: the subset of the control
//! protocol's replies (vswitch/src/control/protocol.rs) they check. Decoded
//! leniently (unknown fields ignored) so a field added to the protocol does
//! not break the suite; a field removed or renamed does.
use std::collections::BTreeMap;

use serde::Deserialize;

/// `vsctl --json show`.
#[derive(Debug, Clone, Deserialize)]
pub struct Show {
    pub bridges: Vec<BridgeInfo>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct BridgeInfo {
    pub name: String,
    pub datapath_id: String,
    pub ports: Vec<PortInfo>,
    pub n_flows: usize,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PortInfo {
    pub name: String,
    pub ofport: u32,
    pub kind: String,
    pub target: String,
    pub link_up: bool,
}

impl Show {
    /// The port named `name`, in whichever bridge.
    pub fn port(&self, name: &str) -> Option<&PortInfo> {
        self.bridges.iter().flat_map(|b| &b.ports).find(|p| p.name == name)
    }

    /// Every port name, bridge by bridge, in the daemon's order.
    pub fn port_names(&self) -> Vec<String> {
        self.bridges.iter().flat_map(|b| &b.ports).map(|p| p.name.clone()).collect()
    }
}

/// `vsctl --json port-stats`.
#[derive(Debug, Clone, Deserialize)]
pub struct PortStatsReply {
    pub ports: Vec<PortStats>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct PortStats {
    pub name: String,
    pub ofport: u32,
    pub rx_packets: u64,
    pub rx_bytes: u64,
    pub tx_packets: u64,
    pub tx_bytes: u64,
    pub rx_missed: u64,
    pub rx_errors: u64,
    pub tx_errors: u64,
    /// Switch drops by reason: table_miss, action_drop, no_such_port, tx_failed.
    pub drops: BTreeMap<String, u64>,
}

impl PortStats {
    /// Drops counted for `reason` (0 when the reason is not listed).
    pub fn dropped(&self, reason: &str) -> u64 {
        self.drops.get(reason).copied().unwrap_or(0)
    }

    /// Every drop and error the port counted, by the switch or the device.
    pub fn all_drops(&self) -> u64 {
        self.drops.values().sum::<u64>() + self.rx_missed + self.rx_errors + self.tx_errors
    }
}

impl PortStatsReply {
    /// The counters of port `name`; panics when the reply has no such port.
    pub fn port(&self, name: &str) -> &PortStats {
        self.ports.iter().find(|p| p.name == name).unwrap_or_else(|| panic!("port-stats has no port {name}: {self:?}"))
    }

    pub fn get(&self, name: &str) -> Option<&PortStats> {
        self.ports.iter().find(|p| p.name == name)
    }
}

/// `vsctl --json mempool`.
#[derive(Debug, Clone, Deserialize)]
pub struct Mempool {
    pub name: String,
    pub size: u32,
    pub in_use: u32,
    pub available: u32,
}
