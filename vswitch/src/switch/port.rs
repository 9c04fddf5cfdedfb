//! How a configured port becomes a DPDK device: devargs for each port type
//! (the vhost-user socket checks are `crate::unix_socket::claim`).
use crate::config::PortKind;

/// The DPDK devargs that create the device for a port (`None`: a tunnel port has no device).
/// `vdev_index` keeps net_vhost device names unique within the process.
pub fn devargs(kind: &PortKind, rx_queues: u16, vdev_index: u32) -> Option<String> {
    Some(match kind {
        PortKind::Tunnel(_) | PortKind::Patch { .. } => return None,
        PortKind::Dpdk { devargs } => devargs.clone(),
        PortKind::VhostUser { path } => {
            format!("net_vhost_vs{vdev_index},iface={},queues={rx_queues},client=0", path.display())
        }
        PortKind::VhostUserClient { path } => {
            format!("net_vhost_vs{vdev_index},iface={},queues={rx_queues},client=1", path.display())
        }
    })
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
        PortKind::Patch { .. } => "patch",
    }
}

/// The devargs of a dpdk port or the socket of a vhost port, for display.
pub fn target(kind: &PortKind) -> String {
    match kind {
        PortKind::Dpdk { devargs } => devargs.clone(),
        PortKind::VhostUser { path } | PortKind::VhostUserClient { path } => path.display().to_string(),
        PortKind::Tunnel(tunnel) => {
            tunnel.to_options().iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",")
        }
        PortKind::Patch { peer } => format!("peer={peer}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devargs_per_kind() {
        let dpdk = PortKind::Dpdk { devargs: "net_null0".into() };
        assert_eq!(devargs(&dpdk, 1, 0).as_deref(), Some("net_null0"));
        let server = PortKind::VhostUser { path: "/run/x/vm1.sock".into() };
        assert_eq!(devargs(&server, 2, 7).as_deref(), Some("net_vhost_vs7,iface=/run/x/vm1.sock,queues=2,client=0"));
        let client = PortKind::VhostUserClient { path: "/run/x/vm2.sock".into() };
        assert!(devargs(&client, 1, 8).unwrap().ends_with(",client=1"));
    }
}
