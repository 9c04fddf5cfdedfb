//! Reads the `[[bridge]]` tables: each bridge's ports (resolving automatic ofports) and flows,
//! and the checks that span ports and bridges (unique names, ofports, devargs and socket paths,
//! flows that refer only to existing ports).

use std::collections::{BTreeMap, HashMap};

use super::port::{check_interface_name, check_name};
use super::reader::{KeyError, Section};
use super::{
    BridgeConfig, FailMode, InterfaceAddress, OpenFlowTarget, PacketInLimit, PortConfig, PortKind, StaticRoute,
    Underlay,
};
use crate::flow::{parse_add_flow, Action, FlowRule, OfPort};
use crate::tunnel::route::Prefix;
use std::net::IpAddr;

const BRIDGE_KEYS: &[&str] = &[
    "name",
    "port",
    "flows",
    "openflow",
    "fail_mode",
    "controller_rate_limit",
    "controller_burst_limit",
    "datapath_id",
    "mac_table_size",
    "mac_aging",
    "neighbour_aging",
    "mac",
    "addresses",
    "routes",
    "neighbours",
    "local_interface",
];

pub(super) fn read_bridges(root: &Section) -> Result<Vec<BridgeConfig>, KeyError> {
    let sections = root.sections("bridge", "[[bridge]]")?;
    if sections.is_empty() {
        return Err(root.error("bridge", "no bridge configured; add a [[bridge]] table with a name"));
    }
    let bridges = sections.iter().map(read_bridge).collect::<Result<Vec<_>, _>>()?;
    check_unique_across_bridges(&bridges)?;
    check_patches(&bridges)?;
    Ok(bridges)
}

fn read_bridge(section: &Section) -> Result<BridgeConfig, KeyError> {
    section.reject_unknown_keys(BRIDGE_KEYS)?;
    let name = section.string("name")?.ok_or_else(|| section.error("name", "missing; every bridge needs a name"))?;
    check_name(&name).map_err(|problem| section.error("name", problem))?;
    let mut ports = section
        .sections("port", "[[bridge.port]]")?
        .iter()
        .map(PortConfig::from_toml)
        .collect::<Result<Vec<_>, _>>()?;
    assign_ofports(&mut ports).map_err(|error| error.within(section.path()))?;
    let underlay = read_underlay(section)?;
    let local_interface = section.boolean("local_interface")?.unwrap_or(false);
    if local_interface {
        check_interface_name(&name).map_err(|problem| {
            section.error("local_interface", format!("the LOCAL interface is named after the bridge: {problem}"))
        })?;
        if !underlay.addresses.is_empty() {
            return Err(section.error(
                "local_interface",
                "a bridge with addresses has the switch's own stack as its LOCAL port (the tunnel endpoints); \
                 give the host its interface on this bridge with a port of type \"internal\" instead",
            ));
        }
    }
    let has_local = local_interface || !underlay.addresses.is_empty();
    let mut flows = Vec::new();
    for (index, text) in section.strings("flows")?.unwrap_or_default().iter().enumerate() {
        let key = format!("flows[{index}]");
        let flow = parse_add_flow(text).map_err(|error| section.error(&key, error.to_string()))?;
        check_flow_ports(&flow, &name, &ports, has_local).map_err(|problem| section.error(&key, problem))?;
        flows.push(flow);
    }
    let openflow = OpenFlowTarget::parse_list(&section.strings("openflow")?.unwrap_or_default())
        .map_err(|(index, problem)| section.error(&format!("openflow[{index}]"), problem))?;
    let fail_mode = match section.string("fail_mode")? {
        Some(text) => Some(FailMode::parse(&text).map_err(|problem| section.error("fail_mode", problem))?),
        None => None,
    };
    let packet_in_limit = read_packet_in_limit(section)?;
    let datapath_id = match section.string("datapath_id")? {
        Some(text) => parse_datapath_id(&text).map_err(|problem| section.error("datapath_id", problem))?,
        None => derived_datapath_id(&name),
    };
    let mac_table_size = section.unsigned("mac_table_size")?.unwrap_or(BridgeConfig::DEFAULT_MAC_TABLE_SIZE);
    if !(1..=BridgeConfig::MAX_MAC_TABLE_SIZE).contains(&mac_table_size) {
        return Err(section.error(
            "mac_table_size",
            format!("{mac_table_size} is out of range; use 1..={} (MAC entries)", BridgeConfig::MAX_MAC_TABLE_SIZE),
        ));
    }
    let mac_aging = seconds(
        section,
        "mac_aging",
        BridgeConfig::DEFAULT_MAC_AGING_S,
        BridgeConfig::MAC_AGING_RANGE_S,
        "a MAC entry NORMAL learned lives unseen",
    )?;
    let neighbour_aging = seconds(
        section,
        "neighbour_aging",
        BridgeConfig::DEFAULT_NEIGHBOUR_AGING_S,
        BridgeConfig::NEIGHBOUR_AGING_RANGE_S,
        "a learned tunnel next hop lives unconfirmed",
    )?;
    let mac = match section.string("mac")? {
        Some(text) => parse_unicast_mac(&text).map_err(|problem| section.error("mac", problem))?,
        None => derived_mac(datapath_id),
    };
    Ok(BridgeConfig {
        name,
        ports,
        flows,
        openflow,
        fail_mode,
        packet_in_limit,
        datapath_id,
        mac_table_size,
        mac_aging,
        neighbour_aging,
        mac,
        underlay,
        local_interface,
    })
}

/// A number of seconds under `key`: `default` when absent, refused outside `range` with what
/// it counts (`meaning`).
fn seconds(
    section: &Section,
    key: &str,
    default: u32,
    range: std::ops::RangeInclusive<u32>,
    meaning: &str,
) -> Result<u32, KeyError> {
    let value = section.unsigned(key)?.unwrap_or(default);
    if !range.contains(&value) {
        return Err(section.error(
            key,
            format!("{value} is out of range; use {}..={} (seconds {meaning})", range.start(), range.end()),
        ));
    }
    Ok(value)
}

/// The bridge's own addresses, static routes and static neighbours.
fn read_underlay(section: &Section) -> Result<Underlay, KeyError> {
    let mut underlay = Underlay::default();
    for (index, text) in section.strings("addresses")?.unwrap_or_default().iter().enumerate() {
        let key = format!("addresses[{index}]");
        let (addr, prefix) = Prefix::parse_interface_address(text).map_err(|problem| section.error(&key, problem))?;
        if addr.is_multicast() || addr.is_unspecified() || addr.is_loopback() {
            return Err(section.error(&key, format!("{addr} cannot be a bridge's own address")));
        }
        if let Some(first) = underlay.addresses.iter().position(|a| a.addr == addr) {
            return Err(section.error(&key, format!("{addr} is already addresses[{first}]")));
        }
        underlay.addresses.push(InterfaceAddress { addr, prefix });
    }
    for route in section.sections("routes", "routes = [{ prefix = .., via = .. }]")? {
        route.reject_unknown_keys(&["prefix", "via"])?;
        let text = route.string("prefix")?.ok_or_else(|| route.error("prefix", "missing; e.g. \"10.0.0.0/8\""))?;
        let prefix = Prefix::parse(&text).map_err(|problem| route.error("prefix", problem))?;
        let via = match route.string("via")? {
            Some(text) => {
                let gateway: IpAddr =
                    text.parse().map_err(|_| route.error("via", format!("{text:?} is not an IP address")))?;
                if gateway.is_ipv4() != prefix.addr.is_ipv4() {
                    return Err(route.error("via", format!("{gateway} is not of the family of {prefix}")));
                }
                Some(gateway)
            }
            None => None,
        };
        underlay.routes.push(StaticRoute { prefix, via });
    }
    for neighbour in section.sections("neighbours", "neighbours = [{ ip = .., mac = .. }]")? {
        neighbour.reject_unknown_keys(&["ip", "mac"])?;
        let text = neighbour.string("ip")?.ok_or_else(|| neighbour.error("ip", "missing"))?;
        let ip: IpAddr = text.parse().map_err(|_| neighbour.error("ip", format!("{text:?} is not an IP address")))?;
        let text = neighbour.string("mac")?.ok_or_else(|| neighbour.error("mac", "missing"))?;
        let mac = parse_unicast_mac(&text).map_err(|problem| neighbour.error("mac", problem))?;
        underlay.neighbours.push((ip, mac));
    }
    Ok(underlay)
}

/// A unicast Ethernet address "02:00:00:00:aa:01".
pub fn parse_unicast_mac(text: &str) -> Result<[u8; 6], String> {
    let mut mac = [0u8; 6];
    let mut parts = text.split(':');
    for byte in &mut mac {
        let part = parts.next().filter(|p| p.len() == 2).ok_or_else(|| format!("{text:?} is not a MAC address"))?;
        *byte = u8::from_str_radix(part, 16).map_err(|_| format!("{text:?} is not a MAC address"))?;
    }
    if parts.next().is_some() {
        return Err(format!("{text:?} is not a MAC address"));
    }
    if mac[0] & 1 != 0 || mac == [0; 6] {
        return Err(format!("{text} is not a unicast address"));
    }
    Ok(mac)
}

/// The MAC of a bridge without `mac`: locally administered, from its datapath id.
fn derived_mac(datapath_id: u64) -> [u8; 6] {
    let bytes = datapath_id.to_be_bytes();
    [0x02, bytes[3], bytes[4], bytes[5], bytes[6], bytes[7]]
}

/// The datapath id of a bridge without `datapath_id`: stable across restarts (derived from the
/// name: FNV-1a, cut to 48 bits as Open vSwitch's MAC-derived ids are), different for
/// different bridges.
pub(super) fn derived_datapath_id(bridge: &str) -> u64 {
    let hash = bridge
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3));
    hash & 0x0000_ffff_ffff_ffff
}

/// `datapath_id`: 1 to 16 hex digits, `0x` optional (Open vSwitch's other-config:datapath-id
/// takes exactly 16; Faucet's and Neutron's configurations write it either way), not zero.
pub fn parse_datapath_id(text: &str) -> Result<u64, String> {
    let digits = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")).unwrap_or(text);
    let usage = "use 1 to 16 hex digits, e.g. \"0000000000000001\" or \"0x1\"";
    if digits.is_empty() || digits.len() > 16 || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("{text:?} is not a datapath id; {usage}"));
    }
    match u64::from_str_radix(digits, 16) {
        Ok(0) => Err(format!("{text:?}: datapath id 0 is not allowed (controllers take it for none); {usage}")),
        Ok(id) => Ok(id),
        Err(_) => Err(format!("{text:?} is not a datapath id; {usage}")),
    }
}

/// `controller_rate_limit` (packets/s) and `controller_burst_limit` (packets), as Open
/// vSwitch's controller table has them; the burst defaults to a quarter of the rate.
fn read_packet_in_limit(section: &Section) -> Result<PacketInLimit, KeyError> {
    let rate: u32 = section.unsigned("controller_rate_limit")?.unwrap_or(PacketInLimit::DEFAULT_RATE);
    if !(PacketInLimit::MIN_RATE..=PacketInLimit::MAX_RATE).contains(&rate) {
        return Err(section.error(
            "controller_rate_limit",
            format!(
                "{rate} is out of range; use {}..={} (packet-ins per second)",
                PacketInLimit::MIN_RATE,
                PacketInLimit::MAX_RATE
            ),
        ));
    }
    let burst: u32 = section.unsigned("controller_burst_limit")?.unwrap_or((rate / 4).max(PacketInLimit::MIN_BURST));
    if !(PacketInLimit::MIN_BURST..=rate).contains(&burst) {
        return Err(section.error(
            "controller_burst_limit",
            format!("{burst} is out of range; use {}..={rate} (at most the rate)", PacketInLimit::MIN_BURST),
        ));
    }
    Ok(PacketInLimit { rate, burst })
}

/// Rejects duplicate ofports, then gives each port without one the lowest free number, in order.
/// Errors are relative to the bridge (`port[1].ofport`).
fn assign_ofports(ports: &mut [PortConfig]) -> Result<(), KeyError> {
    let mut owners: BTreeMap<u32, usize> = BTreeMap::new();
    for (index, port) in ports.iter().enumerate() {
        let Some(ofport) = port.ofport else { continue };
        if let Some(&owner) = owners.get(&ofport) {
            return Err(KeyError::new(
                format!("port[{index}].ofport"),
                format!("{ofport} is already the ofport of port {:?} (port[{owner}])", ports[owner].name),
            ));
        }
        owners.insert(ofport, index);
    }
    let mut candidate = *OfPort::RANGE.start();
    for (index, port) in ports.iter_mut().enumerate() {
        if port.ofport.is_some() {
            continue;
        }
        while owners.contains_key(&candidate) {
            candidate += 1;
        }
        if !OfPort::RANGE.contains(&candidate) {
            return Err(KeyError::new(format!("port[{index}].ofport"), "no free ofport left in this bridge"));
        }
        port.ofport = Some(candidate);
        owners.insert(candidate, index);
    }
    Ok(())
}

/// A flow may only name ports of its own bridge, by their (resolved) ofport, and LOCAL as its
/// input port only when the bridge has a LOCAL port (`has_local`).
fn check_flow_ports(flow: &FlowRule, bridge: &str, ports: &[PortConfig], has_local: bool) -> Result<(), String> {
    let exists =
        |number: u32| ports.iter().any(|port| port.ofport == Some(number)) || (has_local && number == OfPort::LOCAL.0);
    let missing = |token: String, number: u32| format!("{token}: bridge {bridge:?} has no port with ofport {number}");
    if let Some(in_port) = flow.matches.in_port() {
        if !exists(in_port.0) {
            return Err(missing(format!("in_port={in_port}"), in_port.0));
        }
    }
    let instructions = &flow.instructions;
    for action in instructions.apply_actions.iter().chain(instructions.write_actions.iter().flatten()) {
        if let Action::Output { port, .. } = *action {
            if port.is_switch_port() && !exists(port.0) {
                return Err(missing(format!("output:{port}"), port.0));
            }
        }
    }
    Ok(())
}

/// Bridge names, port names, DPDK devices and vhost socket paths must each be unique switch-wide.
/// Every patch port's peer is a patch port of another bridge that names it back.
fn check_patches(bridges: &[BridgeConfig]) -> Result<(), KeyError> {
    let patch = |name: &str| {
        bridges.iter().enumerate().find_map(|(b, bridge)| {
            bridge.ports.iter().find(|p| p.name == name).map(|p| match &p.kind {
                PortKind::Patch { peer } => (b, Some(peer.clone())),
                _ => (b, None),
            })
        })
    };
    for (b, bridge) in bridges.iter().enumerate() {
        for (index, port) in bridge.ports.iter().enumerate() {
            let PortKind::Patch { peer } = &port.kind else { continue };
            let key = format!("bridge[{b}].port[{index}].options.peer");
            match patch(peer) {
                None => return Err(KeyError::new(key, format!("no port named {peer:?}"))),
                Some((_, None)) => return Err(KeyError::new(key, format!("{peer:?} is not a patch port"))),
                Some((peer_bridge, _)) if peer_bridge == b => {
                    return Err(KeyError::new(
                        key,
                        format!("{peer:?} is on the same bridge; a patch joins two bridges"),
                    ))
                }
                Some((_, Some(back))) if back != port.name => {
                    return Err(KeyError::new(key, format!("{peer:?} names {back:?} as its peer, not {:?}", port.name)))
                }
                Some(_) => {}
            }
        }
    }
    Ok(())
}

fn check_unique_across_bridges(bridges: &[BridgeConfig]) -> Result<(), KeyError> {
    let mut bridge_names: HashMap<&str, usize> = HashMap::new();
    let mut port_names: HashMap<&str, String> = HashMap::new();
    let mut targets: HashMap<String, String> = HashMap::new();
    let mut listeners: HashMap<std::net::SocketAddr, usize> = HashMap::new();
    let mut datapath_ids: HashMap<u64, usize> = HashMap::new();
    for (bridge_index, bridge) in bridges.iter().enumerate() {
        for (index, target) in bridge.openflow.iter().enumerate() {
            // Active controllers may be shared: several bridges may connect to one controller.
            let OpenFlowTarget::Listen(address, _) = *target else { continue };
            let port_taken = listeners.iter().find(|(taken, _)| {
                taken.port() == address.port()
                    && (taken.ip() == address.ip() || taken.ip().is_unspecified() || address.ip().is_unspecified())
            });
            if let Some((_, first)) = port_taken {
                return Err(KeyError::new(
                    format!("bridge[{bridge_index}].openflow[{index}]"),
                    format!("{target}: bridge[{first}] listens on that TCP port already"),
                ));
            }
            listeners.insert(address, bridge_index);
        }
        if let Some(first) = bridge_names.insert(&bridge.name, bridge_index) {
            return Err(KeyError::new(
                format!("bridge[{bridge_index}].name"),
                format!("{:?} is already the name of bridge[{first}]", bridge.name),
            ));
        }
        // A controller tells switches apart by their datapath id.
        if let Some(first) = datapath_ids.insert(bridge.datapath_id, bridge_index) {
            return Err(KeyError::new(
                format!("bridge[{bridge_index}].datapath_id"),
                format!("{:#018x} is already the datapath id of bridge[{first}]", bridge.datapath_id),
            ));
        }
        for (port_index, port) in bridge.ports.iter().enumerate() {
            let path = format!("bridge[{bridge_index}].port[{port_index}]");
            if let Some(first) = port_names.insert(&port.name, path.clone()) {
                return Err(KeyError::new(
                    format!("{path}.name"),
                    format!(
                        "{:?} is already the name of {first}; port names must be unique \
                         across all bridges",
                        port.name
                    ),
                ));
            }
            let (key, target) = match &port.kind {
                // Two ports cannot share a device: compare the device name,
                // the devargs up to the first comma.
                PortKind::Dpdk { devargs } => {
                    ("devargs", format!("DPDK device {:?}", devargs.split(',').next().unwrap_or(devargs)))
                }
                PortKind::VhostUser { path } | PortKind::VhostUserClient { path } => {
                    ("path", format!("socket path {path:?}"))
                }
                // Patch ends are checked pairwise below.
                PortKind::Patch { .. } => continue,
                // Its kernel interface is named after the port, whose name is unique.
                PortKind::Internal => continue,
                // A received packet must belong to one port: Open vSwitch's identity of a tunnel.
                PortKind::Tunnel(t) => (
                    "options.remote_ip",
                    format!(
                        "{} tunnel (remote_ip {:?}, local_ip {:?}, in_key {:?}, dst_port {})",
                        t.kind.name(),
                        t.remote_ip,
                        t.local_ip,
                        t.in_key,
                        t.dst_port
                    ),
                ),
            };
            if let Some(first) = targets.insert(target.clone(), port.name.clone()) {
                return Err(KeyError::new(
                    format!("{path}.{key}"),
                    format!("{target} is already used by port {first:?}"),
                ));
            }
        }
    }
    // A LOCAL interface is a port named after its bridge.
    for (bridge_index, bridge) in bridges.iter().enumerate().filter(|(_, b)| b.local_interface) {
        if let Some(port) = port_names.get(bridge.name.as_str()) {
            return Err(KeyError::new(
                format!("bridge[{bridge_index}].local_interface"),
                format!("the LOCAL interface would be named {:?}, which is the name of {port}", bridge.name),
            ));
        }
    }
    Ok(())
}
