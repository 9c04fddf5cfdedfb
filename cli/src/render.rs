//! Turns the `result` of a successful reply into what vsctl prints: the typed
//! reply of each command as aligned tables (see `table`), or the raw result as
//! pretty JSON for `--json`.
//!
//! Commands that only change state (`pmd-stats-clear`, `add-port`, `del-port`,
//! `add-flow(s)`, `mod-flows`, `del-flows`, `fdb-add`, `set-`/`del-controller`,
//! `set-`/`del-fail-mode`, `route-add`, `route-del`) print nothing on success, like ovs-vsctl and ovs-ofctl; `--json` shows what vswitchd answered (for the
//! flow changes, how many rules were added, replaced, modified and removed; for the route
//! changes, the route added and the one removed).
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::proto::{
    ControllerReply, ControllerStatusReply, DpFlow, DpFlowsReply, DumpFlowsReply, FailModeReply, FdbShowReply,
    MempoolReply, NeighbourShowReply, PmdStats, PmdStatsReply, PortInfo, PortStatsReply, Request, RouteShowReply,
    RxqReply, ShowReply, TraceReply, VtepShowReply,
};
use crate::table::{Align, Table};

/// The text printed for `request`'s successful `result`, or why the result
/// does not have the shape that command's reply has.
pub fn render_result(request: &Request, result: Value) -> Result<String, serde_json::Error> {
    Ok(match request {
        Request::Show => show(&typed::<ShowReply>(result)?),
        Request::PortStats { .. } => port_stats(&typed::<PortStatsReply>(result)?),
        Request::PmdStats => pmd_stats(&typed::<PmdStatsReply>(result)?),
        Request::RxqShow => pmd_rxq_show(&typed::<RxqReply>(result)?),
        Request::DumpFlows { .. } => dump_flows(&typed::<DumpFlowsReply>(result)?),
        Request::Trace { .. } => trace(&typed::<TraceReply>(result)?),
        Request::DumpDpFlows { .. } => dump_dp_flows(&typed::<DpFlowsReply>(result)?),
        Request::Mempool => mempool(&typed::<MempoolReply>(result)?),
        // One target per line, as ovs-vsctl prints them; the fail mode alone, nothing if unset.
        Request::GetController { .. } => {
            typed::<ControllerReply>(result)?.targets.iter().map(|target| format!("{target}\n")).collect()
        }
        Request::GetFailMode { .. } => typed::<FailModeReply>(result)?.mode.map(|mode| mode + "\n").unwrap_or_default(),
        Request::ControllerStatus { .. } => controller_status(&typed::<ControllerStatusReply>(result)?),
        Request::NeighShow { .. } => neigh_show(&typed::<NeighbourShowReply>(result)?),
        Request::NeighSet { .. } | Request::NeighFlush { .. } => String::new(),
        Request::RouteShow => route_show(&typed::<RouteShowReply>(result)?),
        Request::VtepShow { .. } => vtep_show(&typed::<VtepShowReply>(result)?),
        Request::FdbShow { .. } => fdb_show(&typed::<FdbShowReply>(result)?),
        Request::PmdStatsClear
        | Request::AddPort { .. }
        | Request::DelPort { .. }
        | Request::AddFlows { .. }
        | Request::ModFlows { .. }
        | Request::DelFlows { .. }
        | Request::FdbAdd { .. }
        | Request::SetController { .. }
        | Request::DelController { .. }
        | Request::SetFailMode { .. }
        | Request::SetDatapathId { .. }
        | Request::DelFailMode { .. }
        | Request::RouteAdd { .. }
        | Request::RouteDel { .. } => String::new(),
    })
}

/// `--json`: the result exactly as vswitchd sent it, pretty-printed.
pub fn render_json(result: &Value) -> String {
    // A `Value` always serializes; `to_string_pretty` cannot fail on it.
    let mut text = serde_json::to_string_pretty(result).unwrap_or_default();
    text.push('\n');
    text
}

fn typed<T: DeserializeOwned>(result: Value) -> Result<T, serde_json::Error> {
    serde_json::from_value(result)
}

/// One block per bridge: a `bridge NAME: N ports, M flows` line, an underlay bridge's MAC and
/// addresses, then its ports (a LOCAL port as `LOCAL`; what a tunnel or LOCAL port has no
/// device for as `-`).
fn show(reply: &ShowReply) -> String {
    if reply.bridges.is_empty() {
        return "no bridges\n".to_string();
    }
    let mut out = String::new();
    for (index, bridge) in reply.bridges.iter().enumerate() {
        if index > 0 {
            out.push('\n');
        }
        out.push_str(&format!(
            "bridge {} (dpid {}): {}, {}\n",
            bridge.name,
            bridge.datapath_id,
            count(bridge.ports.len(), "port", "ports"),
            count(bridge.n_flows, "flow", "flows")
        ));
        if let Some(mac) = &bridge.mac {
            let addresses = if bridge.addresses.is_empty() { "-".to_string() } else { bridge.addresses.join(", ") };
            out.push_str(&format!("  underlay: mac {mac}, addresses {addresses}\n"));
        }
        if bridge.ports.is_empty() {
            continue;
        }
        let mut table = Table::new(&[
            ("PORT", Align::Left),
            ("OFPORT", Align::Right),
            ("TYPE", Align::Left),
            ("LINK", Align::Left),
            ("SPEED", Align::Right),
            ("MAC", Align::Left),
            ("MTU", Align::Right),
            ("RXQ", Align::Right),
            ("TXQ", Align::Right),
            ("TARGET", Align::Left),
        ]);
        for port in &bridge.ports {
            let device = has_device(port);
            let or_dash = |value: String| if device { value } else { "-".to_string() };
            table.add_row(vec![
                port.name.clone(),
                if port.ofport == LOCAL_OFPORT { "LOCAL".to_string() } else { port.ofport.to_string() },
                port.kind.clone(),
                if port.link_up { "up" } else { "down" }.to_string(),
                speed(port.speed_mbps),
                if device || port.kind == LOCAL_KIND { port.mac.clone() } else { "-".to_string() },
                or_dash(port.mtu.to_string()),
                or_dash(port.rx_queues.to_string()),
                or_dash(port.tx_queues.to_string()),
                port.target.clone(),
            ]);
        }
        table.render_into("  ", &mut out);
    }
    out
}

/// OpenFlow's LOCAL port number (an underlay bridge's own stack).
const LOCAL_OFPORT: u32 = 0xfffe;
/// The kind show gives a LOCAL port.
const LOCAL_KIND: &str = "internal";

/// Whether the port is a DPDK device (a tunnel, patch or LOCAL port - the first two have
/// options - has no MTU, queues or, but for LOCAL, MAC of its own).
fn has_device(port: &PortInfo) -> bool {
    port.options.is_empty() && port.kind != LOCAL_KIND
}

/// One line per underlay route, in vswitchd's order (the one a lookup takes first).
fn route_show(reply: &RouteShowReply) -> String {
    if reply.routes.is_empty() {
        return "no routes\n".to_string();
    }
    let mut table = Table::new(&[
        ("PREFIX", Align::Left),
        ("ORIGIN", Align::Left),
        ("BRIDGE", Align::Left),
        ("GATEWAY", Align::Left),
        ("SOURCE", Align::Left),
    ]);
    let or_dash = |value: &Option<String>| value.clone().unwrap_or_else(|| "-".to_string());
    for route in &reply.routes {
        table.add_row(vec![
            route.prefix.clone(),
            route.origin.clone(),
            route.bridge.clone(),
            or_dash(&route.gateway),
            or_dash(&route.source),
        ]);
    }
    let mut out = String::new();
    table.render_into("", &mut out);
    out
}

/// The MAC table as ovs-appctl fdb/show prints it (port, VLAN, MAC, age in seconds or
/// `static`), then a line with the counters, aging and limit.
fn fdb_show(reply: &FdbShowReply) -> String {
    let mut table =
        Table::new(&[("PORT", Align::Left), ("VLAN", Align::Right), ("MAC", Align::Left), ("AGE", Align::Right)]);
    for entry in &reply.entries {
        let age = entry.age_ms.map_or_else(|| "static".to_string(), |ms| (ms / 1000).to_string());
        table.add_row(vec![entry.port.clone(), entry.vlan.to_string(), entry.mac.clone(), age]);
    }
    let mut out = String::new();
    table.render_into("", &mut out);
    out.push_str(&format!(
        "{}: {} entries; learned {}, moved {}, aged {}, evicted {}; aging {} s, limit {}\n",
        reply.bridge,
        reply.entries.len(),
        reply.learned,
        reply.moved,
        reply.aged,
        reply.evicted,
        reply.aging_s,
        reply.limit
    ));
    out
}

/// Per flood-and-learn port: a line with where it floods and its counters, then its learned
/// MACs (MAC, remote VTEP, age in seconds).
fn vtep_show(reply: &VtepShowReply) -> String {
    if reply.ports.is_empty() {
        return "no flood-and-learn ports\n".to_string();
    }
    let mut out = String::new();
    for port in &reply.ports {
        let flood = match (&port.group, &port.joined_on) {
            (Some(group), Some(bridge)) => format!("group {group} (joined on {bridge})"),
            (Some(group), None) => format!("group {group} (not joined)"),
            (None, _) => format!("replication to {}", port.flood.join(",")),
        };
        out.push_str(&format!(
            "{} (bridge {}, vni {}): {flood}; learned {}, moved {}, aged {}, evicted {}; aging {} s, limit {}\n",
            port.port,
            port.bridge,
            port.vni,
            port.learned,
            port.moved,
            port.aged,
            port.evicted,
            port.aging_s,
            port.limit
        ));
        if port.entries.is_empty() {
            out.push_str("  no learned MACs\n");
            continue;
        }
        let mut table = Table::new(&[("MAC", Align::Left), ("REMOTE", Align::Left), ("AGE", Align::Right)]);
        for entry in &port.entries {
            table.add_row(vec![entry.mac.clone(), entry.remote.clone(), (entry.age_ms / 1000).to_string()]);
        }
        table.render_into("  ", &mut out);
    }
    out
}

/// One counter line per port; then, if any packet was dropped, one line per
/// port and drop reason with a non-zero count.
fn port_stats(reply: &PortStatsReply) -> String {
    if reply.ports.is_empty() {
        return "no ports\n".to_string();
    }
    let mut counters = Table::new(&[
        ("PORT", Align::Left),
        ("BRIDGE", Align::Left),
        ("OFPORT", Align::Right),
        ("RX_PACKETS", Align::Right),
        ("RX_BYTES", Align::Right),
        ("TX_PACKETS", Align::Right),
        ("TX_BYTES", Align::Right),
        ("RX_MISSED", Align::Right),
        ("RX_ERRORS", Align::Right),
        ("TX_ERRORS", Align::Right),
        ("DROPPED", Align::Right),
    ]);
    let mut drops = Table::new(&[("PORT", Align::Left), ("DROP_REASON", Align::Left), ("PACKETS", Align::Right)]);
    let mut any_drops = false;
    for port in &reply.ports {
        let dropped = port.drops.values().fold(0u64, |total, count| total.saturating_add(*count));
        counters.add_row(vec![
            port.name.clone(),
            port.bridge.clone(),
            port.ofport.to_string(),
            port.rx_packets.to_string(),
            port.rx_bytes.to_string(),
            port.tx_packets.to_string(),
            port.tx_bytes.to_string(),
            port.rx_missed.to_string(),
            port.rx_errors.to_string(),
            port.tx_errors.to_string(),
            dropped.to_string(),
        ]);
        for (reason, count) in port.drops.iter().filter(|(_, count)| **count > 0) {
            drops.add_row(vec![port.name.clone(), reason.clone(), count.to_string()]);
            any_drops = true;
        }
    }
    let mut out = String::new();
    counters.render_into("", &mut out);
    if any_drops {
        out.push('\n');
        drops.render_into("", &mut out);
    }
    out
}

/// Two tables with one line per PMD thread: where the cycles went, then how
/// packets were classified (exact-match cache, megaflow cache, upcalls).
fn pmd_stats(reply: &PmdStatsReply) -> String {
    if reply.pmds.is_empty() {
        return "no PMD threads\n".to_string();
    }
    let mut out = String::new();
    pmd_cycles_table(&reply.pmds).render_into("", &mut out);
    out.push('\n');
    pmd_cache_table(&reply.pmds).render_into("", &mut out);
    out.push('\n');
    pmd_versions_table(reply).render_into("", &mut out);
    out
}

/// How the PMDs took datapath versions: revalidated (the megaflows checked and removed) or
/// flushed, and the longest switch.
fn pmd_versions_table(reply: &PmdStatsReply) -> Table {
    let mut table = Table::new(&[
        ("CORE", Align::Right),
        ("REVALIDATIONS", Align::Right),
        ("MEGAFLOWS_CHECKED", Align::Right),
        ("MEGAFLOWS_REMOVED", Align::Right),
        ("CACHE_FLUSHES", Align::Right),
        ("LONGEST_SWITCH_US", Align::Right),
    ]);
    for pmd in &reply.pmds {
        let longest = match reply.tsc_hz {
            0 => "-".to_string(),
            hz => format!("{:.1}", pmd.version_switch_max_cycles as f64 * 1e6 / hz as f64),
        };
        table.add_row(vec![
            pmd.core.to_string(),
            pmd.revalidations.to_string(),
            pmd.megaflows_revalidated.to_string(),
            pmd.megaflows_invalidated.to_string(),
            pmd.cache_flushes.to_string(),
            longest,
        ]);
    }
    table
}

fn pmd_cycles_table(pmds: &[PmdStats]) -> Table {
    let mut table = Table::new(&[
        ("CORE", Align::Right),
        ("PACKETS", Align::Right),
        ("BURSTS", Align::Right),
        ("CYCLES/PKT", Align::Right),
        ("PKTS/BURST", Align::Right),
        ("BUSY%", Align::Right),
        ("SLEEPS", Align::Right),
        ("ITERATIONS", Align::Right),
    ]);
    for pmd in pmds {
        table.add_row(vec![
            pmd.core.to_string(),
            pmd.packets.to_string(),
            pmd.bursts.to_string(),
            format!("{:.1}", pmd.cycles_per_packet),
            format!("{:.2}", pmd.packets_per_burst),
            format!("{:.1}", pmd.busy_pct),
            pmd.sleeps.to_string(),
            pmd.iterations.to_string(),
        ]);
    }
    table
}

fn pmd_cache_table(pmds: &[PmdStats]) -> Table {
    let mut table = Table::new(&[
        ("CORE", Align::Right),
        ("REPEATS", Align::Right),
        ("EMC_HITS", Align::Right),
        ("MEGAFLOW_HITS", Align::Right),
        ("UPCALLS", Align::Right),
        ("CYC/UPCALL", Align::Right),
        ("MEGAFLOWS", Align::Right),
        ("SUBTBL/HIT", Align::Right),
    ]);
    for pmd in pmds {
        let cycles_per_upcall = match pmd.upcalls {
            0 => "-".to_string(),
            upcalls => format!("{:.1}", pmd.upcall_cycles as f64 / upcalls as f64),
        };
        table.add_row(vec![
            pmd.core.to_string(),
            pmd.repeat_hits.to_string(),
            pmd.emc_hits.to_string(),
            pmd.megaflow_hits.to_string(),
            pmd.upcalls.to_string(),
            cycles_per_upcall,
            pmd.megaflows.to_string(),
            format!("{:.2}", pmd.subtable_lookups_per_hit),
        ]);
    }
    table
}

/// One line per (PMD, rx queue); a PMD without queues gets a line of dashes.
fn pmd_rxq_show(reply: &RxqReply) -> String {
    if reply.pmds.is_empty() {
        return "no PMD threads\n".to_string();
    }
    let mut table = Table::new(&[("CORE", Align::Right), ("PORT", Align::Left), ("QUEUE", Align::Right)]);
    for pmd in &reply.pmds {
        if pmd.rxqs.is_empty() {
            table.add_row(vec![pmd.core.to_string(), "-".to_string(), "-".to_string()]);
        }
        for rxq in &pmd.rxqs {
            table.add_row(vec![pmd.core.to_string(), rxq.port.clone(), rxq.queue.to_string()]);
        }
    }
    let mut out = String::new();
    table.render_into("", &mut out);
    out
}

/// The rules as vswitchd sent them, one per line (ovs-ofctl dump-flows without its
/// reply header); the counters in them are ignored when a line is added back.
fn dump_flows(reply: &DumpFlowsReply) -> String {
    reply.flows.iter().map(|flow| format!("{flow}\n")).collect()
}

/// Per PMD a line with its core and how many megaflows it has (or why it did not say), then
/// one line per megaflow: `BRIDGE [tnl_pop(PORT)] MATCH packets:N bytes:N used:S.MMMs
/// actions:ACTIONS` (`used:never` before its first packet), as `ovs-appctl dpctl/dump-flows`.
fn dump_dp_flows(reply: &DpFlowsReply) -> String {
    if reply.pmds.is_empty() {
        return "no PMD threads\n".to_string();
    }
    let mut out = String::new();
    for pmd in &reply.pmds {
        if let Some(error) = &pmd.error {
            out.push_str(&format!("pmd core {}: {error}\n", pmd.core));
            continue;
        }
        let plural = if pmd.megaflows == 1 { "" } else { "s" };
        out.push_str(&format!("pmd core {}: {} megaflow{plural}", pmd.core, pmd.megaflows));
        if (pmd.flows.len() as u64) < pmd.megaflows {
            out.push_str(&format!(", the first {} listed", pmd.flows.len()));
        }
        out.push('\n');
        for flow in &pmd.flows {
            out.push_str(&format!("  {}\n", dp_flow_line(flow)));
        }
    }
    out
}

/// One megaflow of `dump_dp_flows`.
fn dp_flow_line(flow: &DpFlow) -> String {
    let mut parts = vec![flow.bridge.clone()];
    if let Some(port) = &flow.tnl_pop {
        parts.push(format!("tnl_pop({port})"));
    }
    if !flow.matches.is_empty() {
        parts.push(flow.matches.clone());
    }
    let used = flow.used_ms.map_or_else(|| "never".to_string(), |ms| format!("{}.{:03}s", ms / 1000, ms % 1000));
    parts.push(format!("packets:{} bytes:{} used:{used} actions:{}", flow.packets, flow.bytes, flow.actions));
    parts.join(" ")
}

/// As `ovs-appctl ofproto/trace` ends: the tables visited, a blank line, then the
/// megaflow that would be installed and the datapath actions.
fn trace(reply: &TraceReply) -> String {
    let mut out: String = reply.steps.iter().map(|step| format!("{step}\n")).collect();
    if !out.is_empty() {
        out.push('\n');
    }
    // (No megaflow: the decap stage decided before any pipeline.)
    if !reply.megaflow.is_empty() {
        out.push_str(&format!("Megaflow: {}\n", reply.megaflow));
    }
    out.push_str(&format!("Datapath actions: {}\n", reply.datapath_actions));
    out
}

/// The packet buffer pool on one line, with the share in use.
/// Whether the bridge is failing open, then one line per OpenFlow connection.
fn controller_status(reply: &ControllerStatusReply) -> String {
    let mut out = format!(
        "fail-open: {}\n",
        if reply.fail_open { "yes (no controller: forwarding as a learning switch)" } else { "no" }
    );
    if reply.connections.is_empty() {
        out.push_str("no connections\n");
        return out;
    }
    let mut table = Table::new(&[
        ("PEER", Align::Left),
        ("KIND", Align::Left),
        ("VERSION", Align::Left),
        ("ROLE", Align::Left),
        ("UP_S", Align::Right),
        ("PACKET_INS", Align::Right),
        ("LIMITED", Align::Right),
        ("QUEUE_FULL", Align::Right),
    ]);
    for connection in &reply.connections {
        table.add_row(vec![
            connection.peer.clone(),
            if connection.controller { "controller" } else { "mgmt" }.to_string(),
            connection.version.clone().unwrap_or_else(|| "-".to_string()),
            connection.role.clone(),
            connection.seconds.to_string(),
            connection.packet_ins.to_string(),
            connection.packet_ins_limited.to_string(),
            connection.pushes_dropped.to_string(),
        ]);
    }
    out.push('\n');
    table.render_into("", &mut out);
    out
}

fn mempool(reply: &MempoolReply) -> String {
    let mut table = Table::new(&[
        ("POOL", Align::Left),
        ("SIZE", Align::Right),
        ("IN_USE", Align::Right),
        ("AVAILABLE", Align::Right),
        ("USED%", Align::Right),
    ]);
    let used_pct = if reply.size == 0 {
        "-".to_string()
    } else {
        format!("{:.1}", f64::from(reply.in_use) * 100.0 / f64::from(reply.size))
    };
    table.add_row(vec![
        reply.name.clone(),
        reply.size.to_string(),
        reply.in_use.to_string(),
        reply.available.to_string(),
        used_pct,
    ]);
    let mut out = String::new();
    table.render_into("", &mut out);
    out
}

/// Per bridge: a line with what became of its requests and held packets, then one line per
/// neighbour (age in seconds; `-` for a static entry's age and an incomplete one's MAC).
fn neigh_show(reply: &NeighbourShowReply) -> String {
    if reply.bridges.is_empty() {
        return "no underlay bridges\n".to_string();
    }
    let mut out = String::new();
    for (index, bridge) in reply.bridges.iter().enumerate() {
        if index > 0 {
            out.push('\n');
        }
        out.push_str(&format!(
            "{}: {}, requests sent {}, probes sent {}, packets held {}, sent after resolution {}, not held {}, dropped {}\n",
            bridge.bridge,
            count(bridge.entries.len(), "neighbour", "neighbours"),
            bridge.requests,
            bridge.probes,
            bridge.held,
            bridge.released,
            bridge.not_held,
            bridge.dropped
        ));
        if bridge.entries.is_empty() {
            continue;
        }
        let mut table = Table::new(&[
            ("IP", Align::Left),
            ("MAC", Align::Left),
            ("STATE", Align::Left),
            ("AGE_S", Align::Right),
            ("HELD", Align::Right),
        ]);
        for entry in &bridge.entries {
            table.add_row(vec![
                entry.ip.clone(),
                entry.mac.clone().unwrap_or_else(|| "-".to_string()),
                entry.state.clone(),
                entry.age_ms.map_or_else(|| "-".to_string(), |ms| format!("{:.1}", ms as f64 / 1000.0)),
                entry.held.to_string(),
            ]);
        }
        table.render_into("  ", &mut out);
    }
    out
}

/// "1 port", "3 ports".
fn count(number: usize, singular: &str, plural: &str) -> String {
    format!("{number} {}", if number == 1 { singular } else { plural })
}

/// Link speed as operators say it: `10G`, `100M`, `2500M`; `-` when unknown (0).
fn speed(mbps: u32) -> String {
    let whole_gbps = mbps / 1000;
    match mbps {
        0 => "-".to_string(),
        _ if whole_gbps * 1000 == mbps => format!("{whole_gbps}G"),
        _ => format!("{mbps}M"),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::Serialize;
    use serde_json::json;

    use super::*;
    use crate::proto::{
        BridgeInfo, ConnectionStatus, PmdDpFlows, PmdRxqs, PmdStats, PortInfo, PortStats, RouteChangeReply, RouteInfo,
        RxqInfo,
    };

    fn value<T: Serialize>(reply: &T) -> Value {
        serde_json::to_value(reply).unwrap()
    }

    fn rendered<T: Serialize>(request: Request, reply: &T) -> String {
        render_result(&request, value(reply)).unwrap()
    }

    fn port(name: &str, ofport: u32, kind: &str, target: &str) -> PortInfo {
        PortInfo {
            name: name.to_string(),
            ofport,
            kind: kind.to_string(),
            target: target.to_string(),
            dpdk_port_id: u16::try_from(ofport).unwrap(),
            link_up: true,
            speed_mbps: 10_000,
            mac: format!("02:00:00:00:00:0{ofport}"),
            mtu: 1500,
            rx_queues: 1,
            tx_queues: 2,
            options: BTreeMap::new(),
        }
    }

    fn sample_show() -> ShowReply {
        let mut vm1 = port("vm1", 2, "vhost-user-client", "/run/vswitch/vm1.sock");
        vm1.link_up = false;
        vm1.speed_mbps = 0;
        vm1.mtu = 9000;
        vm1.rx_queues = 4;
        vm1.tx_queues = 4;
        ShowReply {
            bridges: vec![
                BridgeInfo {
                    name: "br0".to_string(),
                    datapath_id: "00006419136f7b9f".to_string(),
                    ports: vec![port("p1", 1, "dpdk", "net_pcap0,rx_pcap=/tmp/in.pcap"), vm1],
                    n_flows: 2,
                    mac: None,
                    addresses: vec![],
                },
                BridgeInfo {
                    name: "br1".to_string(),
                    datapath_id: "0000000000000002".to_string(),
                    ports: vec![],
                    n_flows: 1,
                    mac: None,
                    addresses: vec![],
                },
            ],
        }
    }

    fn sample_port_stats() -> PortStatsReply {
        let p1 = PortStats {
            name: "p1".to_string(),
            bridge: "br0".to_string(),
            ofport: 1,
            rx_packets: 10,
            rx_bytes: 640,
            tx_packets: 20,
            tx_bytes: 1280,
            rx_missed: 3,
            rx_errors: 0,
            tx_errors: 1,
            drops: BTreeMap::from([("no_route".to_string(), 4), ("tx_full".to_string(), 0)]),
        };
        let vm1 = PortStats {
            name: "vm1".to_string(),
            bridge: "br0".to_string(),
            ofport: 2,
            rx_packets: 123_456_789,
            rx_bytes: 7_901_234_496,
            ..PortStats::default()
        };
        PortStatsReply { ports: vec![p1, vm1] }
    }

    fn sample_pmd_stats() -> PmdStatsReply {
        PmdStatsReply {
            tsc_hz: 2_400_000_000,
            pmds: vec![
                PmdStats {
                    core: 1,
                    iterations: 5_000_000,
                    packets: 1_000_000,
                    bursts: 31_250,
                    busy_cycles: 120_500_000,
                    idle_cycles: 146_000_000,
                    sleeps: 0,
                    cycles_per_packet: 120.5,
                    packets_per_burst: 32.0,
                    busy_pct: 45.216,
                    repeat_hits: 600_000,
                    emc_hits: 390_000,
                    emc_bypass: false,
                    megaflow_hits: 9_950,
                    upcalls: 50,
                    upcall_cycles: 1_234_567,
                    megaflows: 12,
                    subtable_lookups_per_hit: 1.456,
                    cache_flushes: 3,
                    revalidations: 40,
                    megaflows_revalidated: 480,
                    megaflows_invalidated: 7,
                    version_switch_max_cycles: 120_000,
                    packet_ins: 0,
                    packet_outs: 0,
                    tunnel_held: 0,
                },
                PmdStats { core: 12, iterations: 7, sleeps: 1234, ..PmdStats::default() },
            ],
        }
    }

    #[test]
    fn show_lists_bridges_and_their_ports() {
        assert_eq!(
            rendered(Request::Show, &sample_show()),
            "\
bridge br0 (dpid 00006419136f7b9f): 2 ports, 2 flows
  PORT  OFPORT  TYPE               LINK  SPEED  MAC                 MTU  RXQ  TXQ  TARGET
  p1         1  dpdk               up      10G  02:00:00:00:00:01  1500    1    2  net_pcap0,rx_pcap=/tmp/in.pcap
  vm1        2  vhost-user-client  down      -  02:00:00:00:00:02  9000    4    4  /run/vswitch/vm1.sock

bridge br1 (dpid 0000000000000002): 0 ports, 1 flow
"
        );
    }

    #[test]
    fn show_gives_an_underlay_bridge_its_mac_addresses_and_local_port_and_tunnel_ports_their_options() {
        let phy = port("phy", 1, "dpdk", "net_af_packet0,iface=vxu1");
        let mut local = port("br0", LOCAL_OFPORT, "internal", "172.31.1.1/24,fd00:1::1/64");
        (local.dpdk_port_id, local.speed_mbps, local.mac, local.mtu, local.rx_queues, local.tx_queues) =
            (33, 0, "02:00:00:00:aa:01".to_string(), 0, 0, 0);
        let mut vxlan = port("vx1", 2, "vxlan", "key=2000,remote_ip=172.31.2.2");
        (vxlan.dpdk_port_id, vxlan.speed_mbps, vxlan.mac, vxlan.mtu, vxlan.rx_queues, vxlan.tx_queues) =
            (34, 0, "00:00:00:00:00:00".to_string(), 0, 0, 0);
        vxlan.options = BTreeMap::from([
            ("key".to_string(), "2000".to_string()),
            ("remote_ip".to_string(), "172.31.2.2".to_string()),
        ]);
        let reply = ShowReply {
            bridges: vec![
                BridgeInfo {
                    name: "br0".to_string(),
                    datapath_id: "0000000000000001".to_string(),
                    ports: vec![phy, local],
                    n_flows: 1,
                    mac: Some("02:00:00:00:aa:01".to_string()),
                    addresses: vec!["172.31.1.1/24".to_string(), "fd00:1::1/64".to_string()],
                },
                BridgeInfo {
                    name: "br-int".to_string(),
                    datapath_id: "0000000000000002".to_string(),
                    ports: vec![vxlan],
                    n_flows: 1,
                    mac: None,
                    addresses: vec![],
                },
            ],
        };
        assert_eq!(
            rendered(Request::Show, &reply),
            "\
bridge br0 (dpid 0000000000000001): 2 ports, 1 flow
  underlay: mac 02:00:00:00:aa:01, addresses 172.31.1.1/24, fd00:1::1/64
  PORT  OFPORT  TYPE      LINK  SPEED  MAC                 MTU  RXQ  TXQ  TARGET
  phy        1  dpdk      up      10G  02:00:00:00:00:01  1500    1    2  net_af_packet0,iface=vxu1
  br0    LOCAL  internal  up        -  02:00:00:00:aa:01     -    -    -  172.31.1.1/24,fd00:1::1/64

bridge br-int (dpid 0000000000000002): 1 port, 1 flow
  PORT  OFPORT  TYPE   LINK  SPEED  MAC  MTU  RXQ  TXQ  TARGET
  vx1        2  vxlan  up        -  -      -    -    -  key=2000,remote_ip=172.31.2.2
"
        );
        let json = value(&reply);
        assert_eq!(json["bridges"][0]["mac"], "02:00:00:00:aa:01");
        assert_eq!(json["bridges"][0]["ports"][1]["ofport"], 65534);
        assert_eq!(json["bridges"][1]["ports"][0]["options"], json!({"key": "2000", "remote_ip": "172.31.2.2"}));
        assert!(json["bridges"][1].get("mac").is_none() && json["bridges"][1].get("addresses").is_none());
        assert!(json["bridges"][0]["ports"][0].get("options").is_none());
    }

    #[test]
    fn fdb_show_lists_entries_and_counters() {
        use vswitch::control::protocol::FdbEntryInfo;
        let entry = |port: &str, vlan: u16, mac: &str, age_ms: Option<u64>| FdbEntryInfo {
            port: port.into(),
            vlan,
            mac: mac.into(),
            age_ms,
        };
        let reply = FdbShowReply {
            bridge: "br-int".into(),
            aging_s: 300,
            limit: 8192,
            entries: vec![
                entry("vm1", 0, "02:00:00:00:00:01", Some(2_500)),
                entry("vx0", 10, "fa:16:3e:00:00:02", None),
            ],
            learned: 3,
            moved: 0,
            aged: 1,
            evicted: 0,
        };
        let text = fdb_show(&reply);
        let lines: Vec<Vec<&str>> = text.lines().map(|l| l.split_whitespace().collect()).collect();
        assert_eq!(lines[0], ["PORT", "VLAN", "MAC", "AGE"]);
        assert_eq!(lines[1], ["vm1", "0", "02:00:00:00:00:01", "2"]);
        assert_eq!(lines[2], ["vx0", "10", "fa:16:3e:00:00:02", "static"]);
        assert!(
            text.ends_with("br-int: 2 entries; learned 3, moved 0, aged 1, evicted 0; aging 300 s, limit 8192\n"),
            "{text}"
        );
    }

    #[test]
    fn vtep_show_lists_ports_and_their_learned_macs() {
        use vswitch::control::protocol::{VtepEntryInfo, VtepPortInfo};
        let port = |name: &str, group: Option<&str>, flood: &[&str], entries: Vec<VtepEntryInfo>| VtepPortInfo {
            port: name.into(),
            bridge: "br-int".into(),
            vni: 42,
            group: group.map(Into::into),
            joined_on: group.map(|_| "br0".into()),
            flood: flood.iter().map(|s| s.to_string()).collect(),
            aging_s: 300,
            limit: 8192,
            entries,
            learned: 2,
            moved: 1,
            aged: 0,
            evicted: 0,
        };
        let entry = VtepEntryInfo { mac: "02:00:00:00:00:03".into(), remote: "172.31.1.3".into(), age_ms: 12_345 };
        let reply = VtepShowReply {
            ports: vec![
                port("vx0", Some("239.1.1.1"), &[], vec![entry]),
                port("vx1", None, &["10.0.0.2", "10.0.0.3"], vec![]),
            ],
        };
        let text = vtep_show(&reply);
        assert!(text.starts_with(
            "vx0 (bridge br-int, vni 42): group 239.1.1.1 (joined on br0); learned 2, moved 1, aged 0, evicted 0; aging 300 s, limit 8192\n"
        ), "{text}");
        let lines: Vec<Vec<&str>> = text.lines().map(|l| l.split_whitespace().collect()).collect();
        assert_eq!(lines[1], ["MAC", "REMOTE", "AGE"]);
        assert_eq!(lines[2], ["02:00:00:00:00:03", "172.31.1.3", "12"]);
        assert!(text.contains("vx1 (bridge br-int, vni 42): replication to 10.0.0.2,10.0.0.3;"), "{text}");
        assert!(text.ends_with("  no learned MACs\n"), "{text}");
        assert_eq!(vtep_show(&VtepShowReply { ports: vec![] }), "no flood-and-learn ports\n");
    }

    #[test]
    fn route_show_lists_every_route_and_route_changes_print_nothing() {
        let route = |prefix: &str, origin: &str, gateway: Option<&str>, source: Option<&str>| RouteInfo {
            prefix: prefix.to_string(),
            origin: origin.to_string(),
            bridge: "br0".to_string(),
            gateway: gateway.map(str::to_string),
            source: source.map(str::to_string),
        };
        let reply = RouteShowReply {
            routes: vec![
                route("172.31.2.0/24", "static", Some("172.31.1.254"), Some("172.31.1.1")),
                route("172.31.1.0/24", "connected", None, Some("172.31.1.1")),
                route("172.31.1.0/24", "static", None, Some("172.31.1.1")),
                route("fd00:2::/48", "static", Some("fd00:1::fe"), None),
            ],
        };
        assert_eq!(
            rendered(Request::RouteShow, &reply),
            "\
PREFIX         ORIGIN     BRIDGE  GATEWAY       SOURCE
172.31.2.0/24  static     br0     172.31.1.254  172.31.1.1
172.31.1.0/24  connected  br0     -             172.31.1.1
172.31.1.0/24  static     br0     -             172.31.1.1
fd00:2::/48    static     br0     fd00:1::fe    -
"
        );
        assert_eq!(rendered(Request::RouteShow, &RouteShowReply { routes: vec![] }), "no routes\n");
        let change = RouteChangeReply { added: Some(route("10.0.0.0/8", "static", None, None)), removed: None };
        let add = Request::RouteAdd { prefix: "10.0.0.0/8".into(), bridge: "br0".into(), gateway: None };
        assert_eq!(rendered(add, &change), "");
        assert_eq!(rendered(Request::RouteDel { prefix: "10.0.0.0/8".into() }, &change), "");
    }

    #[test]
    fn show_without_bridges() {
        assert_eq!(rendered(Request::Show, &ShowReply { bridges: vec![] }), "no bridges\n");
    }

    #[test]
    fn port_stats_with_drop_reasons() {
        assert_eq!(
            rendered(Request::PortStats { port: None }, &sample_port_stats()),
            "\
PORT  BRIDGE  OFPORT  RX_PACKETS    RX_BYTES  TX_PACKETS  TX_BYTES  RX_MISSED  RX_ERRORS  TX_ERRORS  DROPPED
p1    br0          1          10         640          20      1280          3          0          1        4
vm1   br0          2   123456789  7901234496           0         0          0          0          0        0

PORT  DROP_REASON  PACKETS
p1    no_route           4
"
        );
    }

    #[test]
    fn port_stats_without_drops_has_no_drop_table() {
        let mut reply = sample_port_stats();
        reply.ports.truncate(1);
        reply.ports[0].drops.clear();
        assert_eq!(
            rendered(Request::PortStats { port: Some("p1".to_string()) }, &reply),
            "\
PORT  BRIDGE  OFPORT  RX_PACKETS  RX_BYTES  TX_PACKETS  TX_BYTES  RX_MISSED  RX_ERRORS  TX_ERRORS  DROPPED
p1    br0          1          10       640          20      1280          3          0          1        0
"
        );
        let empty = PortStatsReply { ports: vec![] };
        assert_eq!(rendered(Request::PortStats { port: None }, &empty), "no ports\n");
    }

    #[test]
    fn pmd_stats_one_line_per_pmd_in_each_table() {
        assert_eq!(
            rendered(Request::PmdStats, &sample_pmd_stats()),
            "\
CORE  PACKETS  BURSTS  CYCLES/PKT  PKTS/BURST  BUSY%  SLEEPS  ITERATIONS
   1  1000000   31250       120.5       32.00   45.2       0     5000000
  12        0       0         0.0        0.00    0.0    1234           7

CORE  REPEATS  EMC_HITS  MEGAFLOW_HITS  UPCALLS  CYC/UPCALL  MEGAFLOWS  SUBTBL/HIT
   1   600000    390000           9950       50     24691.3         12        1.46
  12        0         0              0        0           -          0        0.00

CORE  REVALIDATIONS  MEGAFLOWS_CHECKED  MEGAFLOWS_REMOVED  CACHE_FLUSHES  LONGEST_SWITCH_US
   1             40                480                  7              3               50.0
  12              0                  0                  0              0                0.0
"
        );
        let none = PmdStatsReply { tsc_hz: 1, pmds: vec![] };
        assert_eq!(rendered(Request::PmdStats, &none), "no PMD threads\n");
    }

    #[test]
    fn pmd_stats_fit_in_120_columns_with_large_counters() {
        let busy = PmdStats {
            core: 127,
            iterations: 9_999_999_999_999,
            packets: 999_999_999_999_999,
            bursts: 99_999_999_999_999,
            busy_cycles: u64::MAX,
            idle_cycles: u64::MAX,
            sleeps: 999_999_999,
            cycles_per_packet: 12_345.6,
            packets_per_burst: 32.0,
            busy_pct: 100.0,
            repeat_hits: 999_999_999_999_999,
            emc_hits: 999_999_999_999_999,
            emc_bypass: true,
            megaflow_hits: 999_999_999_999_999,
            upcalls: 999_999_999_999,
            upcall_cycles: 99_999_999_999_999_999,
            megaflows: 65_536,
            subtable_lookups_per_hit: 12.5,
            cache_flushes: 999_999_999,
            revalidations: 999_999_999_999,
            megaflows_revalidated: 999_999_999_999_999,
            megaflows_invalidated: 999_999_999_999_999,
            version_switch_max_cycles: u64::MAX,
            packet_ins: 0,
            packet_outs: 0,
            tunnel_held: 0,
        };
        let text = rendered(Request::PmdStats, &PmdStatsReply { tsc_hz: 2_400_000_000, pmds: vec![busy] });
        assert_eq!(text.lines().count(), 8, "{text}");
        for line in text.lines() {
            assert!(line.chars().count() <= 120, "{} columns: {line}", line.chars().count());
        }
    }

    #[test]
    fn pmd_rxq_show_one_line_per_queue() {
        let reply = RxqReply {
            pmds: vec![
                PmdRxqs {
                    core: 1,
                    rxqs: vec![
                        RxqInfo { port: "p1".to_string(), queue: 0 },
                        RxqInfo { port: "vm1".to_string(), queue: 3 },
                    ],
                },
                PmdRxqs { core: 2, rxqs: vec![] },
            ],
        };
        assert_eq!(
            rendered(Request::RxqShow, &reply),
            "\
CORE  PORT  QUEUE
   1  p1        0
   1  vm1       3
   2  -         -
"
        );
        assert_eq!(rendered(Request::RxqShow, &RxqReply { pmds: vec![] }), "no PMD threads\n");
    }

    #[test]
    fn dump_flows_prints_rules_verbatim() {
        let reply = DumpFlowsReply {
            flows: vec!["priority=10,in_port=1,actions=output:2".to_string(), "in_port=2,actions=output:1".to_string()],
        };
        assert_eq!(
            rendered(Request::DumpFlows { bridge: "br0".to_string(), selector: None }, &reply),
            "priority=10,in_port=1,actions=output:2\nin_port=2,actions=output:1\n"
        );
        let empty = DumpFlowsReply { flows: vec![] };
        assert_eq!(rendered(Request::DumpFlows { bridge: "br0".to_string(), selector: None }, &empty), "");
    }

    #[test]
    fn dump_dp_flows_lists_each_pmd_and_its_megaflows() {
        let push = "tnl_push(vxlan,eth(src=02:00:00:00:aa:01,dst=02:00:00:00:aa:02),ipv4(src=172.31.1.1,\
                    dst=172.31.1.2,tos=0x0,ttl=64,df),udp(dst=4789,csum=false),vni=4000)->1";
        let flow = |tnl_pop: Option<&str>, matches: &str, packets, used_ms, actions: &str| DpFlow {
            bridge: "br-int".to_string(),
            tnl_pop: tnl_pop.map(str::to_string),
            matches: matches.to_string(),
            packets,
            bytes: packets * 98,
            used_ms,
            actions: actions.to_string(),
        };
        let reply = DpFlowsReply {
            limit: 1000,
            pmds: vec![
                PmdDpFlows {
                    core: 2,
                    error: None,
                    megaflows: 3,
                    flows: vec![
                        flow(None, "ip,in_port=1", 4, Some(1_234), push),
                        flow(Some("vxlan0"), "tun_id=0xfa0,tun_src=172.31.1.2,in_port=2", 3, Some(45), "1"),
                        flow(None, "", 0, None, "drop"),
                    ],
                },
                PmdDpFlows {
                    core: 3,
                    error: None,
                    megaflows: 1500,
                    flows: vec![flow(None, "in_port=1", 1, Some(0), "2")],
                },
                PmdDpFlows { core: 4, error: None, megaflows: 0, flows: vec![] },
                PmdDpFlows { core: 5, error: Some("no answer within 1 s".to_string()), megaflows: 0, flows: vec![] },
            ],
        };
        let expected = format!(
            "\
pmd core 2: 3 megaflows
  br-int ip,in_port=1 packets:4 bytes:392 used:1.234s actions:{push}
  br-int tnl_pop(vxlan0) tun_id=0xfa0,tun_src=172.31.1.2,in_port=2 packets:3 bytes:294 used:0.045s actions:1
  br-int packets:0 bytes:0 used:never actions:drop
pmd core 3: 1500 megaflows, the first 1 listed
  br-int in_port=1 packets:1 bytes:98 used:0.000s actions:2
pmd core 4: 0 megaflows
pmd core 5: no answer within 1 s
"
        );
        assert_eq!(rendered(Request::DumpDpFlows { bridge: None }, &reply), expected);
        let none = DpFlowsReply { limit: 1000, pmds: vec![] };
        assert_eq!(rendered(Request::DumpDpFlows { bridge: Some("br0".to_string()) }, &none), "no PMD threads\n");
    }

    #[test]
    fn trace_steps_then_megaflow_and_datapath_actions() {
        let reply = TraceReply {
            steps: vec![" 0. in_port=1, priority 32768\n    output:2".to_string()],
            datapath_actions: "2".to_string(),
            megaflow: "in_port=1".to_string(),
        };
        let request = Request::Trace { bridge: "br0".to_string(), flow: "in_port=1".to_string(), packet: None };
        assert_eq!(
            rendered(request.clone(), &reply),
            " 0. in_port=1, priority 32768\n    output:2\n\nMegaflow: in_port=1\nDatapath actions: 2\n"
        );
        let table_miss =
            TraceReply { steps: vec![], datapath_actions: "drop".to_string(), megaflow: "in_port=1".to_string() };
        assert_eq!(rendered(request.clone(), &table_miss), "Megaflow: in_port=1\nDatapath actions: drop\n");
        assert!(render_result(&request, json!({"steps": []})).is_err());
    }

    #[test]
    fn controller_status_lists_connections() {
        let connection = ConnectionStatus {
            peer: "127.0.0.1:40000".into(),
            controller: true,
            version: Some("1.3".into()),
            role: "master".into(),
            seconds: 12,
            packet_ins: 1000,
            packet_ins_limited: 25,
            pushes_dropped: 0,
        };
        let reply = ControllerStatusReply { fail_open: false, connections: vec![connection] };
        let text = rendered(Request::ControllerStatus { bridge: "br0".into() }, &reply);
        assert_eq!(
            text,
            "fail-open: no\n\nPEER             KIND        VERSION  ROLE    UP_S  PACKET_INS  LIMITED  QUEUE_FULL\n\
             127.0.0.1:40000  controller  1.3      master    12        1000       25           0\n"
        );
        let alone = ControllerStatusReply { fail_open: true, connections: Vec::new() };
        let text = rendered(Request::ControllerStatus { bridge: "br0".into() }, &alone);
        assert_eq!(text, "fail-open: yes (no controller: forwarding as a learning switch)\nno connections\n");
    }

    #[test]
    fn neigh_show_lists_each_bridge_and_its_neighbours() {
        use crate::proto::{NeighbourBridge, NeighbourEntry};
        let entry = |ip: &str, mac: Option<&str>, state: &str, age_ms, held| NeighbourEntry {
            ip: ip.into(),
            mac: mac.map(Into::into),
            state: state.into(),
            age_ms,
            held,
        };
        let reply = NeighbourShowReply {
            bridges: vec![
                NeighbourBridge {
                    bridge: "br-phy".into(),
                    entries: vec![
                        entry("172.31.1.2", Some("02:00:00:00:00:fe"), "reachable", Some(1234), 0),
                        entry("172.31.1.3", None, "incomplete", Some(250), 2),
                        entry("fd00::9", Some("02:00:00:00:00:09"), "static", None, 0),
                    ],
                    requests: 3,
                    probes: 2,
                    held: 5,
                    released: 3,
                    not_held: 1,
                    dropped: 0,
                },
                NeighbourBridge { bridge: "br-int".into(), ..NeighbourBridge::default() },
            ],
        };
        assert_eq!(
            rendered(Request::NeighShow { bridge: None }, &reply),
            "\
br-phy: 3 neighbours, requests sent 3, probes sent 2, packets held 5, sent after resolution 3, not held 1, dropped 0
  IP          MAC                STATE       AGE_S  HELD
  172.31.1.2  02:00:00:00:00:fe  reachable     1.2     0
  172.31.1.3  -                  incomplete    0.2     2
  fd00::9     02:00:00:00:00:09  static          -     0

br-int: 0 neighbours, requests sent 0, probes sent 0, packets held 0, sent after resolution 0, not held 0, dropped 0
"
        );
        let none = NeighbourShowReply { bridges: vec![] };
        assert_eq!(rendered(Request::NeighShow { bridge: None }, &none), "no underlay bridges\n");
        let set = Request::NeighSet { bridge: "br0".into(), ip: "10.0.0.1".into(), mac: "02:00:00:00:00:01".into() };
        assert_eq!(render_result(&set, Value::Null).unwrap(), "");
        assert_eq!(render_result(&Request::NeighFlush { bridge: None }, Value::Null).unwrap(), "");
    }

    #[test]
    fn mempool_usage() {
        let reply = MempoolReply { name: "mbuf_pool".to_string(), size: 32768, in_use: 1024, available: 31744 };
        assert_eq!(
            rendered(Request::Mempool, &reply),
            "\
POOL        SIZE  IN_USE  AVAILABLE  USED%
mbuf_pool  32768    1024      31744    3.1
"
        );
        let empty = MempoolReply { name: "none".to_string(), size: 0, in_use: 0, available: 0 };
        assert_eq!(
            rendered(Request::Mempool, &empty),
            "POOL  SIZE  IN_USE  AVAILABLE  USED%\nnone     0       0          0      -\n"
        );
    }

    #[test]
    fn state_changing_commands_print_nothing() {
        let bridge = || "br0".to_string();
        for request in [
            Request::PmdStatsClear,
            Request::DelPort { port: "p1".to_string() },
            Request::AddFlows { bridge: bridge(), flows: vec!["actions=drop".to_string()] },
            Request::ModFlows { bridge: bridge(), flow: "actions=drop".to_string(), strict: true },
            Request::DelFlows { bridge: bridge(), selector: None, strict: false },
            Request::FdbAdd { bridge: bridge(), port: "p1".to_string(), vlan: 0, mac: "02:00:00:00:00:01".to_string() },
        ] {
            assert_eq!(render_result(&request, Value::Null).unwrap(), "");
            assert_eq!(render_result(&request, json!({"anything": 1})).unwrap(), "");
        }
    }

    #[test]
    fn result_of_the_wrong_shape_is_an_error() {
        assert!(render_result(&Request::Show, json!({"bridges": "nope"})).is_err());
        assert!(render_result(&Request::PmdStats, Value::Null).is_err());
        assert!(render_result(&Request::Mempool, json!([])).is_err());
    }

    #[test]
    fn json_output_is_the_pretty_result() {
        assert_eq!(render_json(&json!({"flows": ["a"]})), "{\n  \"flows\": [\n    \"a\"\n  ]\n}\n");
        assert_eq!(render_json(&Value::Null), "null\n");
    }

    #[test]
    fn speeds() {
        assert_eq!(speed(0), "-");
        assert_eq!(speed(100), "100M");
        assert_eq!(speed(2500), "2500M");
        assert_eq!(speed(10_000), "10G");
        assert_eq!(speed(100_000), "100G");
    }
}
