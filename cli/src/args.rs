//! vsctl's command line: the clap definitions, and their translation into one
//! `Invocation` (socket, timeout, output style and the `Request` to send).
//!
//! Every mistake on the command line, including a malformed `add-port` setting,
//! an `fdb-add` VLAN or MAC that is not one, and an `add-flows` FILE that cannot
//! be read, comes back as a `clap::Error`, so it is reported with usage and exit
//! code 2 before anything is sent. Flow rules are vswitchd's to check.
use std::ffi::OsString;
use std::io::Read;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::error::ErrorKind;
use clap::{CommandFactory, Parser, Subcommand};

use crate::client::LONGEST_TIMEOUT;
use crate::flows_file::{read_flows, FlowsOrigin};
use crate::port_settings::port_config_from_settings;
use crate::proto::{Prefix, Request, DEFAULT_SOCKET};

/// Seconds vsctl waits for vswitchd when `--timeout` is not given.
const DEFAULT_TIMEOUT_SECS: &str = "10";

/// Talk to a running vswitchd over its control socket.
#[derive(Debug, Parser)]
#[command(name = "vsctl", version, propagate_version = true)]
struct Cli {
    /// Control socket of vswitchd [default: $VSWITCH_SOCKET, else /run/vswitch/vswitchd.sock]
    #[arg(long, global = true, value_name = "PATH")]
    socket: Option<PathBuf>,

    /// Print the daemon's reply as pretty JSON instead of tables
    #[arg(long, global = true)]
    json: bool,

    /// Give up when vswitchd has not answered within SECS seconds (fractions allowed)
    #[arg(long, global = true, value_name = "SECS", default_value = DEFAULT_TIMEOUT_SECS,
          value_parser = parse_timeout, allow_negative_numbers = true)]
    timeout: Duration,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Bridges and their ports: ofport, type, target, link, speed, MAC, MTU, queues
    Show,
    /// Port counters: packets, bytes, misses, errors and drops by reason
    PortStats {
        /// Only this port (default: all ports)
        port: Option<String>,
    },
    /// Per-PMD counters: packets, bursts, cycles per packet, busy share, sleeps; cache hits, upcalls
    PmdStats,
    /// Zero the per-PMD counters (port counters stay)
    PmdStatsClear,
    /// Which PMD core polls which receive queue
    PmdRxqShow,
    /// The flow rules of a bridge with their counters, one ovs-ofctl dump-flows line each
    DumpFlows {
        /// Bridge name
        bridge: String,
        /// Only the rules this match selects, as for del-flows (default: all)
        #[arg(value_name = "MATCH")]
        selector: Option<String>,
    },
    /// Add a flow rule (ovs-ofctl add-flow syntax)
    #[command(after_help = "Example: vsctl add-flow br0 'priority=10,in_port=1,actions=output:2'")]
    AddFlow {
        /// Bridge name
        bridge: String,
        /// The rule, one argument (quote it)
        flow: String,
    },
    /// Add the flow rules of FILE, one per line: all of them, or none when one is refused
    #[command(
        after_help = "FILE holds one rule per line in ovs-ofctl add-flow syntax; everything from '#' to the end\n\
        of a line is a comment and blank lines are skipped.\n\n\
        Example: vsctl add-flows br0 /etc/vswitch/br0.flows"
    )]
    AddFlows {
        /// Bridge name
        bridge: String,
        /// File of rules, '-' for standard input
        file: PathBuf,
    },
    /// Change the actions of the rules FLOW's match selects
    #[command(after_help = "Example: vsctl mod-flows br0 'in_port=1,actions=output:3'")]
    ModFlows {
        /// Only the rule whose match and priority are exactly FLOW's
        #[arg(long)]
        strict: bool,
        /// Bridge name
        bridge: String,
        /// Match and new actions (ovs-ofctl mod-flows syntax), one argument
        flow: String,
    },
    /// Delete the flow rules MATCH selects (default: every rule of the bridge)
    DelFlows {
        /// Only the rule whose match and priority are exactly MATCH's
        #[arg(long)]
        strict: bool,
        /// Bridge name
        bridge: String,
        /// Rules to delete (ovs-ofctl del-flows syntax), one argument
        #[arg(value_name = "MATCH")]
        selector: Option<String>,
    },
    /// Run a packet through the bridge's flow tables without sending it (as ofproto/trace)
    #[command(after_help = "Examples: vsctl trace br0 'in_port=1,tcp,nw_dst=10.0.0.2,tp_dst=80'\n          \
                            vsctl trace br-phy in_port=1 02000000aa01...  (a whole frame in hex: a tunnel \
                            packet for the bridge's address is decapsulated and its inner frame traced)")]
    Trace {
        /// Bridge name
        bridge: String,
        /// The packet's fields, as an ovs-ofctl match (with PACKET: its in_port)
        flow: String,
        /// The packet itself: the Ethernet frame's bytes in hex (as ovs-appctl ofproto/trace takes it)
        packet: Option<String>,
    },
    /// The megaflows the PMDs cached: match, packets, bytes, last use, datapath actions (as ovs-appctl dpctl/dump-flows)
    #[command(after_help = "One block per PMD core, at most 1000 megaflows each. A line:\n  \
        BRIDGE [tnl_pop(PORT)] MATCH packets:N bytes:N used:SECONDSs|never actions:ACTIONS\n\
        MATCH is in ovs-ofctl syntax with the wildcarded fields left out, as trace prints its megaflow;\n\
        tnl_pop(PORT): the packets came out of tunnel port PORT (decapsulated before the lookup).\n\n\
        Example: vsctl dump-dp-flows br-int")]
    DumpDpFlows {
        /// Only the megaflows of this bridge's pipeline (default: every bridge)
        bridge: Option<String>,
    },
    /// The MAC table of the NORMAL action: port, VLAN, MAC, age; counters (as ovs-appctl fdb/show)
    FdbShow {
        /// Bridge name
        bridge: String,
    },
    /// Add a static MAC table entry for the NORMAL action (as ovs-appctl fdb/add)
    FdbAdd {
        /// Bridge name
        bridge: String,
        /// Port the MAC is behind
        port: String,
        /// VLAN, 0..4095
        #[arg(value_parser = clap::value_parser!(u16).range(0..=4095), allow_negative_numbers = true)]
        vlan: u16,
        /// MAC address, xx:xx:xx:xx:xx:xx
        #[arg(value_parser = parse_mac)]
        mac: String,
    },
    /// Packet buffer pool usage
    Mempool,
    /// Add a port to a running bridge
    #[command(after_help = "Settings:\n  \
        type=TYPE          required: dpdk, vhost-user, vhost-user-client, internal, patch, vxlan, geneve or gre\n  \
        devargs=DEVARGS    required for type=dpdk: PCI address or vdev (net_tap0,iface=tap0)\n  \
        path=SOCKET        required for type=vhost-user and vhost-user-client\n  \
        options:NAME=VALUE a tunnel's option (vxlan, geneve, gre), as Open vSwitch's: remote_ip\n                     \
        (required), local_ip, key, in_key, out_key, dst_port, tos, ttl, df_default, csum\n  \
        ofport=N           OpenFlow port number (default: first free)\n  \
        rx_queues=N        receive queues (default 1; not for tunnels)\n  \
        rxq_size=N         receive ring size (default 1024; not for tunnels)\n  \
        txq_size=N         transmit ring size (default 1024; not for tunnels)\n  \
        mtu=N              MTU (default: the device's; not for tunnels)\n  \
        tag=VLAN           access port of VLAN 1-4094 for NORMAL (untagged packets only)\n  \
        trunks=V1,V2,...   trunk of these VLANs for NORMAL (default: trunk of all VLANs)\n\n\
        Examples: vsctl add-port br0 vm1 type=vhost-user-client path=/run/vswitch/vm1.sock\n          \
        vsctl add-port br0 host0 type=internal   (a kernel interface host0 for the host's stack)\n          \
        vsctl add-port br-int vx1 type=vxlan options:remote_ip=172.31.2.2 options:key=1000")]
    AddPort {
        /// Bridge to add the port to
        bridge: String,
        /// Name of the new port
        name: String,
        /// Port settings, see below
        #[arg(value_name = "KEY=VALUE", required = true)]
        settings: Vec<String>,
    },
    /// Remove a port from whichever bridge has it
    DelPort {
        /// Port name
        name: String,
    },
    /// Replace the bridge's OpenFlow controllers and listeners (as ovs-vsctl set-controller)
    #[command(after_help = "Targets:\n  \
        tcp:IP:PORT        active controller the switch connects to (IPv6: tcp:[::1]:6653)\n  \
        tls:IP:PORT        the same over TLS (needs the [tls] section of the configuration)\n  \
        ptcp:PORT[:IP]     passive listener (default IP 127.0.0.1)\n  \
        ptls:PORT[:IP]     passive TLS listener; clients need a certificate of the CA\n\n\
        Example: vsctl set-controller br0 tcp:192.0.2.10:6653 ptcp:6654")]
    SetController {
        /// Bridge name
        bridge: String,
        /// OpenFlow targets, see below
        #[arg(value_name = "TARGET", required = true)]
        targets: Vec<String>,
    },
    /// The bridge's OpenFlow controllers and listeners, one per line
    GetController {
        /// Bridge name
        bridge: String,
    },
    /// Remove all of the bridge's OpenFlow controllers and listeners (the .mgmt socket stays)
    DelController {
        /// Bridge name
        bridge: String,
    },
    /// The bridge's OpenFlow connections: peer, version, role, packet-ins sent and dropped
    ControllerStatus {
        /// Bridge name
        bridge: String,
    },
    /// Set the bridge's fail mode: what it does while no controller is connected (docs/openflow.md)
    SetFailMode {
        /// Bridge name
        bridge: String,
        /// secure or standalone
        #[arg(value_parser = ["secure", "standalone"])]
        mode: String,
    },
    /// Set the bridge's OpenFlow datapath id (1 to 16 hex digits, unique, not 0); its
    /// controllers reconnect to see it (Open vSwitch's other-config:datapath-id)
    SetDatapathId {
        /// Bridge name
        bridge: String,
        /// e.g. 0000000000000001 or 0x1
        datapath_id: String,
    },
    /// The bridge's fail mode (nothing when not set)
    GetFailMode {
        /// Bridge name
        bridge: String,
    },
    /// Clear the bridge's fail mode
    DelFailMode {
        /// Bridge name
        bridge: String,
    },
    // Neighbours of underlay bridges (the next hops of tunnel packets).
    /// The neighbour cache (ARP / ND) of underlay bridges: IP, MAC, state, age, held packets
    #[command(
        after_help = "States: reachable (learned from ARP / ND, aged out after 15 minutes), static         (neigh-set or the
configuration), incomplete (being resolved: asked for at most once a second;         up to 4 packets
are held meanwhile and sent once it resolves, dropped when it stays unanswered         for 3 seconds)."
    )]
    NeighShow {
        /// Only this bridge (default: every bridge with addresses or neighbours)
        bridge: Option<String>,
    },
    /// Set a static neighbour: IP is at MAC on BRIDGE (as ovs-appctl tnl/neigh/set)
    #[command(
        after_help = "A static entry is never aged out nor replaced by what ARP / ND say;         neigh-flush leaves it.
Packets held for IP are sent at once.

        Example: vsctl neigh-set br-phy 172.31.1.2 02:00:00:00:00:fe"
    )]
    NeighSet {
        /// Bridge name (the underlay bridge the next hop is reached through)
        bridge: String,
        /// The next hop's address, IPv4 or IPv6
        #[arg(value_parser = parse_unicast_ip)]
        ip: String,
        /// Its MAC, a unicast address xx:xx:xx:xx:xx:xx
        #[arg(value_parser = parse_unicast_mac)]
        mac: String,
    },
    /// Forget the learned and incomplete neighbours; static ones stay (as ovs-appctl tnl/neigh/flush)
    #[command(
        after_help = "Packets held for incomplete neighbours are dropped. Tunnel flows through the         bridge ask
for their next hops again (their first packets are held meanwhile)."
    )]
    NeighFlush {
        /// Only this bridge (default: every bridge)
        bridge: Option<String>,
    },

    // Underlay routes of tunnel packets (Open vSwitch's ovs/route/add, del, show).
    /// Add a static route for tunnel packets, or replace the static route of PREFIX (as ovs/route/add)
    #[command(after_help = "BRIDGE is an underlay bridge: it needs an address of PREFIX's family to send from.\n\
        GATEWAY must be on one of its networks; without it, the destinations are on the link.\n\n\
        Example: vsctl route-add 172.31.2.0/24 br0 172.31.1.254")]
    RouteAdd {
        /// Destinations: ADDRESS/LENGTH with the host bits zero (10.0.0.0/8, fd00::/64), or one ADDRESS
        #[arg(value_parser = parse_prefix)]
        prefix: String,
        /// Underlay bridge the tunnel packets leave by
        bridge: String,
        /// Next hop, an address of PREFIX's family (default: none, the destinations are on the link)
        #[arg(value_parser = parse_gateway)]
        gateway: Option<String>,
    },
    /// Delete the static route of PREFIX (a connected route goes with its bridge address only)
    RouteDel {
        /// The route's prefix, as route-show prints it
        #[arg(value_parser = parse_prefix)]
        prefix: String,
    },
    /// The underlay routes of tunnel packets: prefix, origin (connected, static), bridge, gateway, source
    RouteShow,

    // Flood-and-learn VTEPs (RFC 7348 section 4).
    /// What flood-and-learn VXLAN ports learned: MAC, remote VTEP, age; where they flood; counters
    #[command(after_help = "A flood-and-learn port is a vxlan port whose remote_ip is a multicast group\n\
        (options:remote_ip=239.1.1.1) or a head-end replication list (options:remote_ip=flood:10.0.0.2,10.0.0.3).")]
    VtepShow {
        /// Only this port
        port: Option<String>,
    },
}

/// What one run of vsctl does: which daemon, how long to wait, what to ask, how to print.
#[derive(Debug, Clone, PartialEq)]
pub struct Invocation {
    pub socket: PathBuf,
    pub timeout: Duration,
    pub json: bool,
    pub request: Request,
    /// For `add-flow(s)`: where the rules were written, to say which one was refused.
    pub flows_origin: Option<FlowsOrigin>,
}

/// Parses the command line (`args` includes the program name). `socket_env` is
/// the value of $VSWITCH_SOCKET, used when `--socket` is absent; `stdin` is read
/// only by `add-flows BRIDGE -`.
pub fn parse_invocation<I, T>(
    args: I,
    socket_env: Option<OsString>,
    stdin: impl Read,
) -> Result<Invocation, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = Cli::try_parse_from(args)?;
    let (request, flows_origin) = request_for(cli.command, stdin)?;
    Ok(Invocation {
        socket: resolve_socket(cli.socket, socket_env),
        timeout: cli.timeout,
        json: cli.json,
        request,
        flows_origin,
    })
}

/// `--socket`, else a non-empty $VSWITCH_SOCKET, else the built-in default.
fn resolve_socket(flag: Option<PathBuf>, socket_env: Option<OsString>) -> PathBuf {
    flag.or_else(|| socket_env.filter(|value| !value.is_empty()).map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(DEFAULT_SOCKET))
}

/// The request for `command`, and for `add-flow(s)` where its rules were written.
fn request_for(command: Command, stdin: impl Read) -> Result<(Request, Option<FlowsOrigin>), clap::Error> {
    let request = match command {
        Command::AddFlows { bridge, file } => {
            let flows = read_flows(&file, stdin)
                .map_err(|error| usage_error("add-flows", ErrorKind::Io, &error.to_string()))?;
            return Ok((Request::AddFlows { bridge, flows: flows.rules }, Some(flows.origin)));
        }
        Command::Show => Request::Show,
        Command::PortStats { port } => Request::PortStats { port },
        Command::PmdStats => Request::PmdStats,
        Command::PmdStatsClear => Request::PmdStatsClear,
        Command::PmdRxqShow => Request::RxqShow,
        Command::DumpFlows { bridge, selector } => Request::DumpFlows { bridge, selector },
        Command::AddFlow { bridge, flow } => {
            return Ok((Request::AddFlows { bridge, flows: vec![flow] }, Some(FlowsOrigin::CommandLine)));
        }
        Command::ModFlows { strict, bridge, flow } => Request::ModFlows { bridge, flow, strict },
        Command::DelFlows { strict, bridge, selector } => Request::DelFlows { bridge, selector, strict },
        Command::Trace { bridge, flow, packet } => Request::Trace { bridge, flow, packet },
        Command::DumpDpFlows { bridge } => Request::DumpDpFlows { bridge },
        Command::FdbShow { bridge } => Request::FdbShow { bridge },
        Command::FdbAdd { bridge, port, vlan, mac } => Request::FdbAdd { bridge, port, vlan, mac },
        Command::Mempool => Request::Mempool,
        Command::AddPort { bridge, name, settings } => {
            let port = port_config_from_settings(&name, &settings)
                .map_err(|error| usage_error("add-port", ErrorKind::ValueValidation, &error.to_string()))?;
            Request::AddPort { bridge, port }
        }
        Command::DelPort { name } => Request::DelPort { port: name },
        Command::SetController { bridge, targets } => Request::SetController { bridge, targets },
        Command::GetController { bridge } => Request::GetController { bridge },
        Command::ControllerStatus { bridge } => Request::ControllerStatus { bridge },
        Command::DelController { bridge } => Request::DelController { bridge },
        Command::SetFailMode { bridge, mode } => Request::SetFailMode { bridge, mode },
        Command::SetDatapathId { bridge, datapath_id } => Request::SetDatapathId { bridge, datapath_id },
        Command::GetFailMode { bridge } => Request::GetFailMode { bridge },
        Command::DelFailMode { bridge } => Request::DelFailMode { bridge },
        // Neighbours of underlay bridges.
        Command::NeighShow { bridge } => Request::NeighShow { bridge },
        Command::NeighSet { bridge, ip, mac } => Request::NeighSet { bridge, ip, mac },
        Command::NeighFlush { bridge } => Request::NeighFlush { bridge },
        Command::RouteAdd { prefix, bridge, gateway } => {
            check_gateway_family(&prefix, gateway.as_deref())
                .map_err(|error| usage_error("route-add", ErrorKind::ValueValidation, &error))?;
            Request::RouteAdd { prefix, bridge, gateway }
        }
        Command::RouteDel { prefix } => Request::RouteDel { prefix },
        Command::RouteShow => Request::RouteShow,
        Command::VtepShow { port } => Request::VtepShow { port },
    };
    Ok((request, None))
}

/// A usage error for `subcommand`, formatted by clap like its own errors
/// (message, the subcommand's usage line, exit code 2).
fn usage_error(subcommand: &str, kind: ErrorKind, message: &str) -> clap::Error {
    let mut command = Cli::command();
    command.build();
    match command.find_subcommand_mut(subcommand) {
        Some(subcommand) => subcommand.error(kind, message),
        None => command.error(kind, message),
    }
}

/// `fdb-add`'s MAC: six bytes of one or two hex digits separated by `:` (as in flow
/// matches), passed on as `xx:xx:xx:xx:xx:xx` in lower case.
fn parse_mac(text: &str) -> Result<String, String> {
    let octets: Option<Vec<String>> = text
        .split(':')
        .map(|octet| {
            let hex = (1..=2).contains(&octet.len()) && octet.bytes().all(|byte| byte.is_ascii_hexdigit());
            hex.then(|| format!("{:0>2}", octet.to_ascii_lowercase()))
        })
        .collect();
    match octets {
        Some(octets) if octets.len() == 6 => Ok(octets.join(":")),
        _ => Err("not a MAC address (expected six hex bytes: xx:xx:xx:xx:xx:xx)".to_string()),
    }
}

/// `neigh-set`'s IP: an IPv4 or IPv6 address a next hop can have (not unspecified, multicast or
/// broadcast), passed on as written.
fn parse_unicast_ip(text: &str) -> Result<String, String> {
    let ip: std::net::IpAddr = text.parse().map_err(|_| "not an IP address (IPv4 or IPv6)".to_string())?;
    let ip = ip.to_canonical();
    if ip.is_unspecified() || ip.is_multicast() || ip == std::net::IpAddr::V4(std::net::Ipv4Addr::BROADCAST) {
        return Err(format!("{ip} is not a unicast address: it cannot be a next hop"));
    }
    Ok(text.to_string())
}

/// `neigh-set`'s MAC: as `fdb-add`'s, and unicast (not multicast or broadcast, not all zero).
fn parse_unicast_mac(text: &str) -> Result<String, String> {
    let mac = parse_mac(text)?;
    let first = u8::from_str_radix(&mac[..2], 16).unwrap_or(1);
    if first & 1 != 0 || mac == "00:00:00:00:00:00" {
        return Err(format!("{mac} is not a unicast MAC address"));
    }
    Ok(mac)
}

/// A route's prefix: `ADDRESS/LENGTH` without host bits, or one address; passed on as
/// vswitchd prints it (`10.0.0.0/8`).
fn parse_prefix(text: &str) -> Result<String, String> {
    Prefix::parse(text).map(|prefix| prefix.to_string())
}

/// A route's gateway: an IPv4 or IPv6 address.
fn parse_gateway(text: &str) -> Result<String, String> {
    text.trim()
        .parse::<IpAddr>()
        .map(|gateway| gateway.to_string())
        .map_err(|_| "not an IP address (expected e.g. 172.31.1.254 or fd00::1)".to_string())
}

/// route-add: the gateway of an IPv4 prefix is an IPv4 address, of an IPv6 prefix an IPv6 one.
fn check_gateway_family(prefix: &str, gateway: Option<&str>) -> Result<(), String> {
    let (Ok(prefix), Some(Ok(gateway))) = (Prefix::parse(prefix), gateway.map(str::parse::<IpAddr>)) else {
        return Ok(());
    };
    if prefix.addr.is_ipv4() == gateway.is_ipv4() {
        return Ok(());
    }
    let family = |ipv4: bool| if ipv4 { "IPv4" } else { "IPv6" };
    Err(format!(
        "gateway {gateway} is {}, the prefix {prefix} {}: the gateway must be of the prefix's family",
        family(gateway.is_ipv4()),
        family(prefix.addr.is_ipv4())
    ))
}

/// `--timeout`: a positive number of seconds, fractions allowed.
fn parse_timeout(text: &str) -> Result<Duration, String> {
    let seconds: f64 = text.parse().map_err(|_| format!("'{text}' is not a number of seconds"))?;
    if !seconds.is_finite() || seconds <= 0.0 {
        return Err(format!("'{text}': the timeout must be more than 0 seconds"));
    }
    match Duration::try_from_secs_f64(seconds) {
        Ok(timeout) if !timeout.is_zero() && timeout <= LONGEST_TIMEOUT => Ok(timeout),
        _ => Err(format!("'{text}': the timeout must be between 0 and {} seconds", LONGEST_TIMEOUT.as_secs())),
    }
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::io;
    use std::path::Path;

    use super::*;
    use crate::proto::{PortConfig, PortKind};
    use crate::test_server::scratch_dir;

    fn parse(args: &str) -> Result<Invocation, clap::Error> {
        parse_invocation(args.split_whitespace(), None, io::empty())
    }

    /// For arguments with spaces in them (quoted on a shell command line).
    fn request_of_words(words: &[&str]) -> Request {
        parse_invocation(words, None, io::empty()).unwrap().request
    }

    fn request(args: &str) -> Request {
        parse(args).unwrap().request
    }

    fn usage_error_text(args: &str) -> String {
        let error = parse(args).unwrap_err();
        assert_eq!(error.exit_code(), 2, "{args}: {error}");
        error.render().to_string()
    }

    #[test]
    fn every_subcommand_maps_to_its_request() {
        assert_eq!(request("vsctl show"), Request::Show);
        assert_eq!(request("vsctl port-stats"), Request::PortStats { port: None });
        assert_eq!(request("vsctl port-stats p1"), Request::PortStats { port: Some("p1".into()) });
        assert_eq!(request("vsctl pmd-stats"), Request::PmdStats);
        assert_eq!(request("vsctl pmd-stats-clear"), Request::PmdStatsClear);
        assert_eq!(request("vsctl pmd-rxq-show"), Request::RxqShow);
        assert_eq!(request("vsctl dump-flows br0"), Request::DumpFlows { bridge: "br0".into(), selector: None });
        assert_eq!(request("vsctl mempool"), Request::Mempool);
        assert_eq!(request("vsctl del-port vm1"), Request::DelPort { port: "vm1".into() });
        assert_eq!(
            request("vsctl set-controller br0 tcp:127.0.0.1:6653 ptcp:6654"),
            Request::SetController {
                bridge: "br0".into(),
                targets: vec!["tcp:127.0.0.1:6653".into(), "ptcp:6654".into()]
            }
        );
        assert_eq!(request("vsctl get-controller br0"), Request::GetController { bridge: "br0".into() });
        assert_eq!(request("vsctl controller-status br0"), Request::ControllerStatus { bridge: "br0".into() });
        assert_eq!(request("vsctl del-controller br0"), Request::DelController { bridge: "br0".into() });
        assert_eq!(
            request("vsctl set-fail-mode br0 secure"),
            Request::SetFailMode { bridge: "br0".into(), mode: "secure".into() }
        );
        assert_eq!(
            request("vsctl set-datapath-id br0 0x2a"),
            Request::SetDatapathId { bridge: "br0".into(), datapath_id: "0x2a".into() }
        );
        assert_eq!(request("vsctl get-fail-mode br0"), Request::GetFailMode { bridge: "br0".into() });
        assert_eq!(request("vsctl del-fail-mode br0"), Request::DelFailMode { bridge: "br0".into() });
    }

    #[test]
    fn flow_commands_map_to_their_requests() {
        let bridge = || "br0".to_string();
        assert_eq!(
            request_of_words(&["vsctl", "dump-flows", "br0", "table=1, in_port=1"]),
            Request::DumpFlows { bridge: bridge(), selector: Some("table=1, in_port=1".into()) }
        );
        assert_eq!(
            request_of_words(&["vsctl", "add-flow", "br0", "priority=10 in_port=1 actions=output:2"]),
            Request::AddFlows { bridge: bridge(), flows: vec!["priority=10 in_port=1 actions=output:2".into()] }
        );
        assert_eq!(
            request("vsctl mod-flows br0 in_port=1,actions=drop"),
            Request::ModFlows { bridge: bridge(), flow: "in_port=1,actions=drop".into(), strict: false }
        );
        let strict = Request::ModFlows { bridge: bridge(), flow: "priority=5,actions=2".into(), strict: true };
        assert_eq!(request("vsctl mod-flows --strict br0 priority=5,actions=2"), strict);
        assert_eq!(request("vsctl mod-flows br0 priority=5,actions=2 --strict"), strict);
        assert_eq!(
            request("vsctl del-flows br0"),
            Request::DelFlows { bridge: bridge(), selector: None, strict: false }
        );
        assert_eq!(
            request("vsctl del-flows --strict br0 priority=5,in_port=1"),
            Request::DelFlows { bridge: bridge(), selector: Some("priority=5,in_port=1".into()), strict: true }
        );
        assert_eq!(
            request_of_words(&["vsctl", "trace", "br0", "in_port=1, tcp, tp_dst=80"]),
            Request::Trace { bridge: bridge(), flow: "in_port=1, tcp, tp_dst=80".into(), packet: None }
        );
        assert_eq!(
            request("vsctl trace br0 in_port=1 0200000000aa"),
            Request::Trace { bridge: bridge(), flow: "in_port=1".into(), packet: Some("0200000000aa".into()) }
        );
    }

    #[test]
    fn only_adding_flows_has_a_flows_origin() {
        assert_eq!(parse("vsctl add-flow br0 actions=drop").unwrap().flows_origin, Some(FlowsOrigin::CommandLine));
        for args in ["vsctl mod-flows br0 actions=drop", "vsctl dump-flows br0", "vsctl show"] {
            assert_eq!(parse(args).unwrap().flows_origin, None, "{args}");
        }
    }

    #[test]
    fn fdb_add_checks_vlan_and_mac() {
        let entry =
            |vlan, mac: &str| Request::FdbAdd { bridge: "br0".into(), port: "p1".into(), vlan, mac: mac.into() };
        assert_eq!(request("vsctl fdb-add br0 p1 0 02:00:00:00:00:01"), entry(0, "02:00:00:00:00:01"));
        assert_eq!(request("vsctl fdb-add br0 p1 4095 0A:b:00:fF:1:02"), entry(4095, "0a:0b:00:ff:01:02"));
        for (vlan, complaint) in [
            ("4096", "invalid value '4096' for '<VLAN>': 4096 is not in 0..=4095"),
            ("-1", "invalid value '-1' for '<VLAN>': -1 is not in 0..=4095"),
            ("ten", "invalid value 'ten' for '<VLAN>': invalid digit found in string"),
        ] {
            let text = usage_error_text(&format!("vsctl fdb-add br0 p1 {vlan} 02:00:00:00:00:01"));
            assert!(text.contains(complaint), "{vlan}: {text}");
        }
        for mac in [
            "02:00:00:00:00",
            "02:00:00:00:00:01:02",
            "02:00:00:00:00:001",
            "02:00:00:00::01",
            "0g:00:00:00:00:01",
            "02-00-00-00-00-01",
            "020000000001",
            ":::::",
            "\u{e9}:00:00:00:00:01",
        ] {
            let text = usage_error_text(&format!("vsctl fdb-add br0 p1 1 {mac}"));
            assert!(
                text.contains(&format!("invalid value '{mac}' for '<MAC>': not a MAC address (expected six hex bytes")),
                "{mac}: {text}"
            );
        }
        assert!(usage_error_text("vsctl fdb-add br0 p1 1").contains("<MAC>"));
    }

    #[test]
    fn neighbour_commands_check_their_arguments() {
        assert_eq!(request("vsctl neigh-show"), Request::NeighShow { bridge: None });
        assert_eq!(request("vsctl neigh-show br0"), Request::NeighShow { bridge: Some("br0".into()) });
        assert_eq!(request("vsctl neigh-flush"), Request::NeighFlush { bridge: None });
        assert_eq!(request("vsctl neigh-flush br0"), Request::NeighFlush { bridge: Some("br0".into()) });
        assert_eq!(
            request("vsctl neigh-set br0 172.31.1.2 02:0:00:00:00:FE"),
            Request::NeighSet { bridge: "br0".into(), ip: "172.31.1.2".into(), mac: "02:00:00:00:00:fe".into() }
        );
        assert_eq!(
            request("vsctl neigh-set br0 fd00::2 02:00:00:00:00:fe"),
            Request::NeighSet { bridge: "br0".into(), ip: "fd00::2".into(), mac: "02:00:00:00:00:fe".into() }
        );
        for (ip, complaint) in [
            ("172.31.1", "not an IP address"),
            ("host", "not an IP address"),
            ("0.0.0.0", "0.0.0.0 is not a unicast address"),
            ("255.255.255.255", "is not a unicast address"),
            ("ff02::1", "ff02::1 is not a unicast address"),
            ("::ffff:224.0.0.1", "224.0.0.1 is not a unicast address"),
        ] {
            let text = usage_error_text(&format!("vsctl neigh-set br0 {ip} 02:00:00:00:00:fe"));
            assert!(text.contains(&format!("invalid value '{ip}' for '<IP>'")) && text.contains(complaint), "{text}");
        }
        for (mac, complaint) in [
            ("01:00:5e:00:00:01", "01:00:5e:00:00:01 is not a unicast MAC address"),
            ("ff:ff:ff:ff:ff:ff", "is not a unicast MAC address"),
            ("0:0:0:0:0:0", "00:00:00:00:00:00 is not a unicast MAC address"),
            ("02:00:00:00:00", "not a MAC address"),
        ] {
            let text = usage_error_text(&format!("vsctl neigh-set br0 10.0.0.1 {mac}"));
            assert!(text.contains(&format!("invalid value '{mac}' for '<MAC>'")) && text.contains(complaint), "{text}");
        }
        assert!(usage_error_text("vsctl neigh-set br0 10.0.0.1").contains("<MAC>"));
        let help = parse("vsctl neigh-flush --help").unwrap_err().render().to_string();
        assert!(help.contains("static ones stay (as ovs-appctl tnl/neigh/flush)"), "{help}");
    }

    #[test]
    fn add_flows_reads_the_file_or_standard_input() {
        let dir = scratch_dir("args-add-flows");
        let file = dir.join("br0.flows");
        fs::write(&file, "# uplink\npriority=10,in_port=1,actions=output:2\n\nin_port=2 actions=output:1 # back\n")
            .unwrap();
        let words = ["vsctl", "add-flows", "br0", file.to_str().unwrap()];
        let expected = Request::AddFlows {
            bridge: "br0".into(),
            flows: vec!["priority=10,in_port=1,actions=output:2".into(), "in_port=2 actions=output:1".into()],
        };
        let invocation = parse_invocation(words, None, io::empty()).unwrap();
        assert_eq!(invocation.request, expected);
        let origin = invocation.flows_origin.unwrap();
        assert_eq!(origin.locate("flow 2: why".to_string()), format!("{}:4: why", file.display()));
        let from_stdin =
            parse_invocation(["vsctl", "add-flows", "br0", "-"], None, "in_port=1,actions=drop\n".as_bytes());
        assert_eq!(
            from_stdin.unwrap().request,
            Request::AddFlows { bridge: "br0".into(), flows: vec!["in_port=1,actions=drop".into()] }
        );
        let only_comments = parse_invocation(["vsctl", "add-flows", "br0", "-"], None, "# none yet\n".as_bytes());
        assert_eq!(only_comments.unwrap().request, Request::AddFlows { bridge: "br0".into(), flows: vec![] });
        let _ = fs::remove_dir_all(dir);
    }

    #[test]
    fn unreadable_flows_file_is_a_usage_error_naming_it() {
        let dir = scratch_dir("args-add-flows-missing");
        let missing = dir.join("missing.flows");
        let text = usage_error_text(&format!("vsctl add-flows br0 {}", missing.display()));
        assert!(text.contains(&format!("error: cannot read flows file '{}': ", missing.display())), "{text}");
        assert!(text.contains("No such file or directory"), "{text}");
        assert!(text.contains("Usage: vsctl add-flows [OPTIONS] <BRIDGE> <FILE>"), "{text}");
        let _ = fs::remove_dir_all(dir);
    }

    #[test]
    fn standard_input_is_read_only_for_add_flows_dash() {
        struct Untouchable;
        impl Read for Untouchable {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::other("standard input must not be read"))
            }
        }
        let read = |words: &[&str]| parse_invocation(words, None, Untouchable);
        assert!(read(&["vsctl", "add-flow", "br0", "-"]).is_ok());
        assert!(read(&["vsctl", "dump-flows", "br0"]).is_ok());
        let text = read(&["vsctl", "add-flows", "br0", "-"]).unwrap_err().render().to_string();
        assert!(text.contains("cannot read flows from standard input: standard input must not be read"), "{text}");
    }

    #[test]
    fn add_port_builds_a_port_config() {
        let expected = Request::AddPort {
            bridge: "br0".into(),
            port: PortConfig {
                name: "vm1".into(),
                ofport: Some(3),
                kind: PortKind::VhostUserClient { path: PathBuf::from("/run/vm1.sock") },
                rx_queues: 2,
                rxq_size: 1024,
                txq_size: 1024,
                mtu: None,
                tag: None,
                trunks: vec![10, 20],
            },
        };
        assert_eq!(
            request(
                "vsctl add-port br0 vm1 type=vhost-user-client path=/run/vm1.sock ofport=3 rx_queues=2 trunks=10,20"
            ),
            expected
        );
    }

    #[test]
    fn route_commands_map_to_their_requests() {
        assert_eq!(
            request("vsctl route-add 172.31.2.0/24 br0 172.31.1.254"),
            Request::RouteAdd {
                prefix: "172.31.2.0/24".into(),
                bridge: "br0".into(),
                gateway: Some("172.31.1.254".into())
            }
        );
        assert_eq!(
            request("vsctl route-add fd00:2::/48 br0"),
            Request::RouteAdd { prefix: "fd00:2::/48".into(), bridge: "br0".into(), gateway: None }
        );
        assert_eq!(
            request("vsctl route-add 192.0.2.7 br0"),
            Request::RouteAdd { prefix: "192.0.2.7/32".into(), bridge: "br0".into(), gateway: None }
        );
        assert_eq!(request("vsctl route-del 172.31.2.0/24"), Request::RouteDel { prefix: "172.31.2.0/24".into() });
        assert_eq!(request("vsctl route-show"), Request::RouteShow);
        assert_eq!(request("vsctl fdb-show br0"), Request::FdbShow { bridge: "br0".into() });
        assert!(usage_error_text("vsctl fdb-show").contains("<BRIDGE>"));
        assert_eq!(request("vsctl vtep-show"), Request::VtepShow { port: None });
        assert_eq!(request("vsctl vtep-show vx0"), Request::VtepShow { port: Some("vx0".into()) });
    }

    #[test]
    fn dump_dp_flows_takes_an_optional_bridge() {
        assert_eq!(request("vsctl dump-dp-flows"), Request::DumpDpFlows { bridge: None });
        assert_eq!(request("vsctl dump-dp-flows br-int"), Request::DumpDpFlows { bridge: Some("br-int".into()) });
        let json = parse("vsctl --json dump-dp-flows br-int").unwrap();
        assert!(json.json);
        assert_eq!(json.request, Request::DumpDpFlows { bridge: Some("br-int".into()) });
        assert!(usage_error_text("vsctl dump-dp-flows br0 br1").contains("unexpected argument 'br1'"));
        let help = parse("vsctl dump-dp-flows --help").unwrap_err().render().to_string();
        assert!(help.contains("BRIDGE [tnl_pop(PORT)] MATCH packets:N bytes:N used:SECONDSs|never"), "{help}");
    }

    #[test]
    fn bad_routes_are_usage_errors_saying_why() {
        for (args, complaint) in [
            (
                "vsctl route-add garbage br0",
                "invalid value 'garbage' for '<PREFIX>': \"garbage\" in \"garbage\" is not an IP address",
            ),
            ("vsctl route-add 172.31.2.1/24 br0", "172.31.2.1/24 has host bits set; did you mean 172.31.2.0/24?"),
            ("vsctl route-add 10.0.0.0/33 br0", "a prefix length of 33 is beyond 32"),
            ("vsctl route-add 10.0.0.0/8 br0 gw", "invalid value 'gw' for '[GATEWAY]': not an IP address"),
            ("vsctl route-add 10.0.0.0/8 br0 fd00::1", "gateway fd00::1 is IPv6, the prefix 10.0.0.0/8 IPv4"),
            ("vsctl route-add fd00::/64 br0 10.0.0.1", "gateway 10.0.0.1 is IPv4, the prefix fd00::/64 IPv6"),
            ("vsctl route-del 10.0.0.1/8", "10.0.0.1/8 has host bits set"),
            ("vsctl route-add 10.0.0.0/8", "<BRIDGE>"),
            ("vsctl route-del", "<PREFIX>"),
            ("vsctl route-show extra", "unexpected argument 'extra'"),
            ("vsctl route-add 10.0.0.0/8 br0 10.0.0.1 extra", "unexpected argument 'extra'"),
        ] {
            let text = usage_error_text(args);
            assert!(text.contains(complaint), "{args}: {text}");
        }
    }

    #[test]
    fn defaults() {
        let invocation = parse("vsctl show").unwrap();
        assert_eq!(invocation.socket, Path::new(DEFAULT_SOCKET));
        assert_eq!(invocation.timeout, Duration::from_secs(10));
        assert!(!invocation.json);
    }

    #[test]
    fn global_options_before_or_after_the_subcommand() {
        let before = parse("vsctl --socket /tmp/a.sock --json --timeout 2.5 show").unwrap();
        let after = parse("vsctl show --socket /tmp/a.sock --json --timeout 2.5").unwrap();
        assert_eq!(before, after);
        assert_eq!(before.socket, Path::new("/tmp/a.sock"));
        assert_eq!(before.timeout, Duration::from_millis(2500));
        assert!(before.json);
        let longest = parse("vsctl --timeout 86400 show").unwrap();
        assert_eq!(longest.timeout, Duration::from_secs(86_400));
    }

    #[test]
    fn socket_flag_beats_environment_beats_default() {
        let from_env = parse_invocation(["vsctl", "show"], Some("/tmp/env.sock".into()), io::empty()).unwrap();
        assert_eq!(from_env.socket, Path::new("/tmp/env.sock"));
        let from_flag = parse_invocation(
            ["vsctl", "--socket", "/tmp/flag.sock", "show"],
            Some("/tmp/env.sock".into()),
            io::empty(),
        )
        .unwrap();
        assert_eq!(from_flag.socket, Path::new("/tmp/flag.sock"));
        let empty_env = parse_invocation(["vsctl", "show"], Some(OsString::new()), io::empty()).unwrap();
        assert_eq!(empty_env.socket, Path::new(DEFAULT_SOCKET));
    }

    #[test]
    fn bad_timeouts_are_usage_errors() {
        for bad in ["0", "-1", "abc", "inf", "NaN", "1e300", "86401", "1e-12"] {
            let text = usage_error_text(&format!("vsctl --timeout {bad} show"));
            assert!(text.contains("--timeout"), "{bad}: {text}");
        }
    }

    #[test]
    fn unknown_subcommand_and_missing_arguments_are_usage_errors() {
        assert!(usage_error_text("vsctl frobnicate").contains("unrecognized subcommand 'frobnicate'"));
        assert!(usage_error_text("vsctl").contains("Usage: vsctl"));
        assert!(usage_error_text("vsctl dump-flows").contains("<BRIDGE>"));
        assert!(usage_error_text("vsctl dump-flows br0 in_port=1 extra").contains("unexpected argument 'extra'"));
        assert!(usage_error_text("vsctl add-flow br0").contains("<FLOW>"));
        assert!(usage_error_text("vsctl add-flows br0").contains("<FILE>"));
        assert!(usage_error_text("vsctl mod-flows br0").contains("<FLOW>"));
        assert!(usage_error_text("vsctl del-flows").contains("<BRIDGE>"));
        assert!(usage_error_text("vsctl trace br0").contains("<FLOW>"));
        assert!(usage_error_text("vsctl fdb-add br0 p1").contains("<VLAN>"));
        assert!(usage_error_text("vsctl add-flow br0 --strict in_port=1,actions=drop")
            .contains("unexpected argument '--strict'"));
        assert!(usage_error_text("vsctl del-port").contains("<NAME>"));
        assert!(usage_error_text("vsctl add-port br0 vm1").contains("<KEY=VALUE>..."));
        assert!(usage_error_text("vsctl show extra").contains("unexpected argument 'extra'"));
        assert!(usage_error_text("vsctl show --bogus").contains("unexpected argument '--bogus'"));
    }

    #[test]
    fn bad_add_port_settings_are_usage_errors_naming_the_word() {
        let text = usage_error_text("vsctl add-port br0 p1 type=dpdk devargs=x mtu=big");
        assert!(text.contains("error: 'mtu=big': not a number in 0..=65535"), "{text}");
        assert!(text.contains("Usage: vsctl add-port [OPTIONS] <BRIDGE> <NAME> <KEY=VALUE>..."), "{text}");
        let text = usage_error_text("vsctl add-port br0 p1 devargs=x");
        assert!(
            text.contains("missing 'type=dpdk|vhost-user|vhost-user-client|internal|patch|vxlan|geneve|gre'"),
            "{text}"
        );
        let text = usage_error_text("vsctl add-port br0 vx1 type=vxlan options:remote_ip=10.0.0.2 options:key=x");
        assert!(text.contains("error: 'options:key=x': \"x\" is neither a number"), "{text}");
        let text = usage_error_text("vsctl add-port br0 p1 type=dpdk nonsense");
        assert!(text.contains("'nonsense': expected KEY=VALUE"), "{text}");
    }

    #[test]
    fn help_and_version_exit_zero() {
        for args in ["vsctl --help", "vsctl add-port --help", "vsctl add-flows --help", "vsctl --version"] {
            let error = parse(args).unwrap_err();
            assert_eq!(error.exit_code(), 0, "{args}");
        }
        let help = parse("vsctl add-port --help").unwrap_err().render().to_string();
        assert!(
            help.contains(
                "type=TYPE          required: dpdk, vhost-user, vhost-user-client, internal, patch, vxlan, geneve or gre"
            ),
            "{help}"
        );
        assert!(help.contains("options:NAME=VALUE a tunnel's option"), "{help}");
        let help = parse("vsctl add-flows --help").unwrap_err().render().to_string();
        assert!(help.contains("everything from '#' to the end\nof a line is a comment"), "{help}");
    }
}
