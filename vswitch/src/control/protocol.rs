//! The control-socket protocol shared by vswitchd and vsctl: one JSON object
//! per line in each direction, a `Request` answered by exactly one `Reply`.
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::config::PortConfig;

/// Where vswitchd listens and vsctl connects when no path is given.
pub const DEFAULT_SOCKET: &str = "/run/vswitch/vswitchd.sock";
/// Environment variable that overrides the default socket path for vsctl.
pub const SOCKET_ENV: &str = "VSWITCH_SOCKET";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Request {
    /// Bridges, their ports and the ports' state.
    Show,
    /// Per-port counters; all ports when `port` is None.
    PortStats { port: Option<String> },
    /// Per-PMD counters.
    PmdStats,
    /// Zero the per-PMD counters (port counters are the NIC's and stay).
    PmdStatsClear,
    /// Which PMD polls which rx queue.
    RxqShow,
    /// Add a port to a running bridge.
    AddPort { bridge: String, port: PortConfig },
    /// Remove a port, wherever it is.
    DelPort { port: String },
    /// The flow rules of a bridge, one ovs-ofctl style line each.
    DumpFlows { bridge: String },
    /// Packet buffer pool usage.
    Mempool,
}

/// The answer to one request: `ok` with a command-specific `result`, or an error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reply {
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default)]
    pub result: serde_json::Value,
}

impl Reply {
    pub fn success<T: Serialize>(result: &T) -> Reply {
        match serde_json::to_value(result) {
            Ok(result) => Reply { ok: true, error: None, result },
            Err(e) => Reply::failure(format!("cannot encode reply: {e}")),
        }
    }

    pub fn failure(error: impl Into<String>) -> Reply {
        Reply { ok: false, error: Some(error.into()), result: serde_json::Value::Null }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShowReply {
    pub bridges: Vec<BridgeInfo>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BridgeInfo {
    pub name: String,
    pub ports: Vec<PortInfo>,
    pub n_flows: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PortInfo {
    pub name: String,
    pub ofport: u32,
    /// "dpdk", "vhost-user" or "vhost-user-client".
    pub kind: String,
    /// devargs for dpdk ports, the socket path for vhost ports.
    pub target: String,
    pub dpdk_port_id: u16,
    pub link_up: bool,
    pub speed_mbps: u32,
    pub mac: String,
    pub mtu: u16,
    pub rx_queues: u16,
    pub tx_queues: u16,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PortStatsReply {
    pub ports: Vec<PortStats>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PortStats {
    pub name: String,
    pub bridge: String,
    pub ofport: u32,
    pub rx_packets: u64,
    pub rx_bytes: u64,
    pub tx_packets: u64,
    pub tx_bytes: u64,
    /// Dropped by the device on receive (no descriptor / no mbuf).
    pub rx_missed: u64,
    pub rx_errors: u64,
    pub tx_errors: u64,
    /// Packets the switch dropped, by reason (see `pmd::DropReason`).
    pub drops: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PmdStatsReply {
    pub tsc_hz: u64,
    pub pmds: Vec<PmdStats>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PmdStats {
    pub core: usize,
    pub iterations: u64,
    pub packets: u64,
    pub bursts: u64,
    pub busy_cycles: u64,
    pub idle_cycles: u64,
    pub sleeps: u64,
    /// busy cycles / packets.
    pub cycles_per_packet: f64,
    pub packets_per_burst: f64,
    /// busy / (busy + idle) in percent.
    pub busy_pct: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RxqReply {
    pub pmds: Vec<PmdRxqs>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PmdRxqs {
    pub core: usize,
    pub rxqs: Vec<RxqInfo>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RxqInfo {
    pub port: String,
    pub queue: u16,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MempoolReply {
    pub name: String,
    pub size: u32,
    pub in_use: u32,
    pub available: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DumpFlowsReply {
    pub flows: Vec<String>,
}
