//! How a configured port becomes a DPDK device: devargs for each port type
//! (the vhost-user socket checks are `crate::unix_socket::claim`), and the kernel interface of
//! an internal port or LOCAL interface, which must not exist before the switch creates it.
use std::path::Path;

use crate::config::{BridgeConfig, PortConfig, PortKind, DEFAULT_QUEUE_SIZE, DEFAULT_RX_QUEUES};
use crate::flow::OfPort;

/// The DPDK devargs that create the device for a port (`None`: a tunnel or patch port has no
/// device). `vdev_index` keeps net_vhost and net_tap device names unique within the process;
/// `mac` is the address an internal port's kernel interface gets (a LOCAL interface's is the
/// bridge's; `None`: net_tap picks one at random).
pub fn devargs(port: &PortConfig, vdev_index: u32, mac: Option<[u8; 6]>) -> Option<String> {
    let rx_queues = port.rx_queues;
    Some(match &port.kind {
        PortKind::Tunnel(_) | PortKind::Patch { .. } => return None,
        PortKind::Dpdk { devargs } => devargs.clone(),
        PortKind::VhostUser { path } => {
            format!("net_vhost_vs{vdev_index},iface={},queues={rx_queues},client=0", path.display())
        }
        PortKind::VhostUserClient { path } => {
            format!("net_vhost_vs{vdev_index},iface={},queues={rx_queues},client=1", path.display())
        }
        PortKind::Internal => {
            let mac = mac.map(|mac| format!(",mac={}", super::mac_text(mac))).unwrap_or_default();
            format!("net_tap_vs{vdev_index},iface={}{mac}", port.name)
        }
    })
}

/// The LOCAL port of a bridge with `local_interface`: an internal port named after the bridge,
/// OpenFlow port LOCAL, with the defaults of any port.
pub fn local_interface(bridge: &BridgeConfig) -> PortConfig {
    PortConfig {
        name: bridge.name.clone(),
        ofport: Some(OfPort::LOCAL.0),
        kind: PortKind::Internal,
        rx_queues: DEFAULT_RX_QUEUES,
        rxq_size: DEFAULT_QUEUE_SIZE,
        txq_size: DEFAULT_QUEUE_SIZE,
        mtu: None,
        tag: None,
        trunks: Vec::new(),
    }
}

/// Refuses to create the kernel interface of an internal port when one of that name exists
/// (net_tap would attach to an existing TAP device rather than fail).
pub fn check_interface_free(port: &PortConfig) -> Result<(), String> {
    if port.kind == PortKind::Internal && Path::new("/sys/class/net").join(&port.name).exists() {
        return Err(format!("a kernel interface named {:?} exists already", port.name));
    }
    Ok(())
}

/// The kind show gives an underlay bridge's LOCAL port (Open vSwitch's internal interface).
pub const LOCAL_KIND: &str = "internal";

/// What a port is, for display.
pub fn kind_name(kind: &PortKind) -> &'static str {
    match kind {
        PortKind::Dpdk { .. } => "dpdk",
        PortKind::VhostUser { .. } => "vhost-user",
        PortKind::VhostUserClient { .. } => "vhost-user-client",
        PortKind::Tunnel(tunnel) => tunnel.kind.name(),
        PortKind::Internal => LOCAL_KIND,
        PortKind::Patch { .. } => "patch",
    }
}

/// The devargs of a dpdk port, the socket of a vhost port, the kernel interface of an internal
/// port, the options of a tunnel or patch port, for display.
pub fn target(port: &PortConfig) -> String {
    match &port.kind {
        PortKind::Dpdk { devargs } => devargs.clone(),
        PortKind::VhostUser { path } | PortKind::VhostUserClient { path } => path.display().to_string(),
        PortKind::Tunnel(tunnel) => {
            tunnel.to_options().iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",")
        }
        PortKind::Internal => format!("iface={}", port.name),
        PortKind::Patch { peer } => format!("peer={peer}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devargs_per_kind() {
        let port = |kind: PortKind, rx_queues: u16| PortConfig {
            name: "p1".into(),
            ofport: None,
            kind,
            rx_queues,
            rxq_size: 1024,
            txq_size: 1024,
            mtu: None,
            tag: None,
            trunks: Vec::new(),
        };
        let dpdk = port(PortKind::Dpdk { devargs: "net_null0".into() }, 1);
        assert_eq!(devargs(&dpdk, 0, None).as_deref(), Some("net_null0"));
        let server = port(PortKind::VhostUser { path: "/run/x/vm1.sock".into() }, 2);
        assert_eq!(devargs(&server, 7, None).as_deref(), Some("net_vhost_vs7,iface=/run/x/vm1.sock,queues=2,client=0"));
        let client = port(PortKind::VhostUserClient { path: "/run/x/vm2.sock".into() }, 1);
        assert!(devargs(&client, 8, None).unwrap().ends_with(",client=1"));
        let internal = port(PortKind::Internal, 1);
        assert_eq!(devargs(&internal, 3, None).as_deref(), Some("net_tap_vs3,iface=p1"));
        assert_eq!(
            devargs(&internal, 4, Some([2, 0, 0, 0, 0xaa, 1])).as_deref(),
            Some("net_tap_vs4,iface=p1,mac=02:00:00:00:aa:01")
        );
    }
}
