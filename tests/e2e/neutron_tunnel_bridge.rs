//! The seed pipeline (Neutron's tunnel bridge from the classifier issue, `learn` included:
//! `NEUTRON_TUNNEL_BRIDGE`) on br-tun of three hosts, ports 2 and 3 real VXLAN ports
//! (`key = "flow"`) to the two other hosts, two tenants: VLAN 1 <-> tun_id 1, VLAN 2 <-> tun_id 2.
//!
//! Three vswitchd processes are the hosts, their underlay bridges (br0, VTEP 172.31.20.N/24)
//! joined by AF_PACKET ports on veths to a Linux bridge in namespace "ul". On each host br-int
//! (NORMAL) has two VMs - network namespaces on AF_PACKET veth ports, access ports of VLAN 1
//! (tenant 1) and VLAN 2 (tenant 2) - and a patch port to br-tun's port 1, so br-tun sees the
//! tenants' frames tagged as the seed pipeline expects. The tenants share one IPv4 subnet
//! (tenant 1 10.20.0.11-13, tenant 2 10.20.0.21-23): only the overlay keeps them apart.
//!
//! - Same-tenant VMs ping each other across every pair of hosts; a VM never reaches the other
//!   tenant's addresses, on its own host or another.
//! - A capture (tshark) in every VM from before the first ping to after the last shows frames
//!   of its own tenant's VMs on both other hosts and none of the other tenant's (no ARP
//!   broadcast, nothing).
//! - dump-flows of br-tun on each host shows the table-20 rules `learn` made: per tenant and
//!   remote VM its VLAN and MAC, the tunnel ID loaded and the tunnel port towards its host.
//! - After learning, unicast goes to the right host only: while a VM pings one on another host,
//!   the third host's underlay link carries no VXLAN packet (capture) and the tunnel ports
//!   towards it send nothing (port-stats).
#![forbid(unsafe_code)]
use std::collections::BTreeSet;
use std::time::Duration;

use vswitch_e2e::netns::Namespace;
use vswitch_e2e::overlay::{
    address, ifname, no_ipv6, sh_in, sh_in_ok, start_hosts, tunnel_port, underlay_switch, veth, Capture,
};
use vswitch_e2e::{wait, TestDir, Vswitchd, NEUTRON_TUNNEL_BRIDGE};

const HOSTS: [&str; 3] = ["a", "b", "c"];
/// The tenants: each is a VLAN on br-int and the same number as tun_id on the overlay.
const TENANTS: [u16; 2] = [1, 2];
/// Seconds a capture may run at most (they are stopped when the pings are done).
const CAPTURE_SECONDS: u32 = 80;
/// How long a capture may lag behind the packets it sees.
const CAPTURE_LIMIT: Duration = Duration::from_secs(5);
/// Echo requests of the unicast check.
const UNICAST_PINGS: u32 = 5;
/// How long a VM's kernel may go on asking for an address nobody has (3 requests a second apart).
const NEIGHBOUR_LIMIT: Duration = Duration::from_secs(10);

/// The VTEP address of host `host` (index in HOSTS).
fn vtep(host: usize) -> String {
    format!("172.31.20.{}", host + 1)
}

/// The address of tenant `tenant`'s VM on host `host`.
fn vm_ip(host: usize, tenant: u16) -> String {
    format!("10.20.0.{}", 10 * usize::from(tenant) + host + 1)
}

/// br-tun's OpenFlow port towards host `to` on host `from`: 2 for the next host, 3 for the one
/// after (the seed pipeline's two tunnel ports).
fn tunnel_ofport(from: usize, to: usize) -> u32 {
    if to == (from + 1) % HOSTS.len() {
        2
    } else {
        3
    }
}

/// br-tun's tunnel port towards host `to`.
fn tunnel_name(to: usize) -> String {
    format!("to-{}", HOSTS[to])
}

/// One VM: a namespace whose interface `iface` is an access port of `tenant`'s VLAN on `host`'s
/// br-int.
struct Vm {
    ns: Namespace,
    iface: String,
    /// The switch's end of the veth (its AF_PACKET port).
    port: String,
    host: usize,
    tenant: u16,
    mac: String,
}

impl Vm {
    fn ip(&self) -> String {
        vm_ip(self.host, self.tenant)
    }

    fn name(&self) -> String {
        format!("{}{}", HOSTS[self.host], self.tenant)
    }
}

/// The bridges of host `host` after br0: br-int (NORMAL; the VMs' ports `vm1`, `vm2` with tags
/// 1 and 2, patch port 3 to br-tun) and br-tun (the seed pipeline; patch port 1, VXLAN ports
/// 2 and 3 to the other hosts with the VNI from the flows).
fn overlay_bridges(host: usize, vms: &[Vm]) -> String {
    let mut toml = String::from("[[bridge]]\nname = \"br-int\"\nflows = [\"actions=NORMAL\"]\n");
    for vm in vms.iter().filter(|vm| vm.host == host) {
        toml.push_str(&format!(
            "[[bridge.port]]\nname = \"vm{t}\"\ntype = \"dpdk\"\ndevargs = \"net_af_packet{t},iface={port}\"\n\
             ofport = {t}\ntag = {t}\n",
            t = vm.tenant,
            port = vm.port
        ));
    }
    toml.push_str(
        "[[bridge.port]]\nname = \"patch-tun\"\ntype = \"patch\"\nofport = 3\noptions = { peer = \"patch-int\" }\n",
    );
    let flows: Vec<String> = NEUTRON_TUNNEL_BRIDGE.iter().map(|f| format!("{f:?}")).collect();
    toml.push_str(&format!("\n[[bridge]]\nname = \"br-tun\"\nflows = [\n{}]\n", flows.join(",\n")));
    toml.push_str(
        "[[bridge.port]]\nname = \"patch-int\"\ntype = \"patch\"\nofport = 1\noptions = { peer = \"patch-tun\" }\n",
    );
    for peer in (0..HOSTS.len()).filter(|&peer| peer != host) {
        let options = format!("remote_ip = \"{}\", key = \"flow\"", vtep(peer));
        toml.push_str(&tunnel_port(&tunnel_name(peer), "vxlan", tunnel_ofport(host, peer), &options));
    }
    toml
}

/// What failed: every switch's flows of both overlay bridges, port counters (drops by reason),
/// br-int's MAC table and stderr, and every VM's interface counters and neighbours (did its
/// kernel see the request, did it answer).
fn context(switches: &[Vswitchd], vms: &[Vm]) -> String {
    let mut text = String::new();
    for (host, switch) in switches.iter().enumerate() {
        text.push_str(&format!("==== host {} ====\n", HOSTS[host]));
        for args in [&["dump-flows", "br-int"][..], &["dump-flows", "br-tun"], &["fdb-show", "br-int"], &["port-stats"]]
        {
            text.push_str(&format!("---- vsctl {} ----\n{}\n", args.join(" "), switch.vsctl(args)));
        }
        text.push_str(&format!("---- stderr ----\n{}\n", switch.stderr()));
    }
    for vm in vms {
        let state = sh_in(&vm.ns, &format!("ip -s link show dev {iface}; ip neigh show dev {iface}", iface = vm.iface));
        text.push_str(&format!("==== VM {} ({}, {}) ====\n{state}\n", vm.name(), vm.ip(), vm.mac));
    }
    text
}

#[test]
fn three_hosts_two_tenants_on_the_seed_tunnel_bridge() {
    let dir = TestDir::new("neutron_tun");
    let underlay = Namespace::create(&dir, "ul");
    no_ipv6(&underlay);
    sh_in_ok(&underlay, "ip link add ulbr type bridge stp_state 0 forward_delay 0; ip link set ulbr up");
    let mut vms = Vec::new();
    for (host, name) in HOSTS.iter().enumerate() {
        veth(&ifname(&format!("ntp{name}")), None, &format!("ul{name}"), &underlay, 1500);
        sh_in_ok(&underlay, &format!("ip link set ul{name} master ulbr"));
        for tenant in TENANTS {
            let ns = Namespace::create(&dir, &format!("{name}{tenant}"));
            // Nothing but the test's own traffic: IPv6 would flood solicitations and reports.
            no_ipv6(&ns);
            let (iface, port) = (format!("vm{name}{tenant}"), ifname(&format!("ntv{name}{tenant}")));
            veth(&port, None, &iface, &ns, 1450);
            address(&ns, &iface, &format!("{}/24", vm_ip(host, tenant)));
            let mac = ns.mac(&iface);
            vms.push(Vm { ns, iface, port, host, tenant, mac });
        }
    }
    let configs = [0, 1, 2].map(|host| {
        let phy = ifname(&format!("ntp{}", HOSTS[host]));
        let mac = format!("02:00:00:00:20:0{}", host + 1);
        let config = underlay_switch(&dir, &mac, &[&format!("{}/24", vtep(host))], &phy, &overlay_bridges(host, &vms));
        (HOSTS[host], config)
    });
    let switches = start_hosts(&dir, configs);

    // Every frame each VM sees, from before the first ping to after the last.
    let captures: Vec<Capture> = vms
        .iter()
        .map(|vm| {
            Capture::start(&dir, &vm.ns, &vm.iface, "", CAPTURE_SECONDS, &["eth.src", "arp.src.proto_ipv4", "ip.src"])
        })
        .collect();

    // Same tenant: every VM reaches the tenant's VMs on the two other hosts.
    for from in &vms {
        for to in vms.iter().filter(|to| to.tenant == from.tenant && to.host != from.host) {
            if let Err(runs) = from.ns.ping_until_answered(&to.ip(), 3, 5) {
                panic!(
                    "{} gets no answer from {} ({}):\n{runs}\n{}",
                    from.name(),
                    to.name(),
                    to.ip(),
                    context(&switches, &vms)
                );
            }
        }
    }
    // br-tun's table 20 on each host: what learn made of the frames from the other hosts.
    for (host, switch) in switches.iter().enumerate() {
        let dump = switch.vsctl_ok(&["dump-flows", "br-tun"]);
        let learned: Vec<&str> = dump.lines().filter(|l| l.contains("table=20") && l.contains("dl_dst=")).collect();
        for vm in vms.iter().filter(|vm| vm.host != host) {
            let parts = [
                format!("vlan_tci=0x000{}/0x0fff", vm.tenant),
                format!("dl_dst={}", vm.mac),
                format!("load:0x{}->NXM_NX_TUN_ID[]", vm.tenant),
                format!("output:{}", tunnel_ofport(host, vm.host)),
            ];
            assert!(
                learned.iter().any(|l| parts.iter().all(|p| l.contains(p.as_str()))),
                "host {}: no learned rule {parts:?}:\n{dump}",
                HOSTS[host]
            );
        }
        assert_eq!(learned.len(), 4, "host {}: one learned rule per remote VM:\n{dump}", HOSTS[host]);
    }

    // Known unicast goes to its host only: while a1 pings b1, none of their frames crosses host
    // c's underlay link (c's own VMs may still be checking their neighbours, unicast, with a).
    let (a1, b1) = (&vms[0], &vms[2]);
    assert_eq!((a1.name(), b1.name()), ("a1".to_owned(), "b1".to_owned()));
    let fields = ["ip.src", "ip.dst", "eth.src", "eth.dst"];
    let to_b = Capture::start(&dir, &underlay, "ulb", "udp port 4789", CAPTURE_SECONDS, &fields);
    let to_c = Capture::start(&dir, &underlay, "ulc", "udp port 4789", CAPTURE_SECONDS, &fields);
    let before = switches.each_ref().map(Vswitchd::port_stats);
    if let Err(runs) = a1.ns.ping_until_answered(&b1.ip(), UNICAST_PINGS, 1) {
        panic!("a1 -> b1 after learning:\n{runs}\n{}", context(&switches, &vms));
    }
    // The inner addresses follow the outer ones in each field (`outer,inner`).
    let between_a1_b1 = |packet: &&Vec<String>| {
        let inner: Vec<&str> = packet[2..].iter().filter_map(|field| field.split(',').nth(1)).collect();
        inner.contains(&a1.mac.as_str()) && inner.contains(&b1.mac.as_str())
    };
    let pings = usize::try_from(UNICAST_PINGS).unwrap_or(0);
    to_b.wait_until(CAPTURE_LIMIT, |packets| packets.iter().filter(between_a1_b1).count() >= 2 * pings);
    let (to_b, to_c) = (to_b.stop(), to_c.stop());
    let after = switches.each_ref().map(Vswitchd::port_stats);
    let leaked: Vec<&Vec<String>> = to_c.iter().filter(between_a1_b1).collect();
    assert!(leaked.is_empty(), "a1 <-> b1 frames on host c's link: {leaked:?}");
    let carried = to_b.iter().filter(between_a1_b1).count();
    assert!(carried >= 2 * pings, "a1 <-> b1 on host b's link: {to_b:?}");
    // Sent through the tunnel ports between a and b (port-stats of br-tun's VXLAN ports).
    let sent = |host: usize, to: usize| {
        let name = tunnel_name(to);
        after[host].port(&name).tx_packets - before[host].port(&name).tx_packets
    };
    assert!(sent(0, 1) >= u64::from(UNICAST_PINGS) && sent(1, 0) >= u64::from(UNICAST_PINGS), "{after:?}");

    // The other tenant: not on the same host (br-int's VLANs), nor on another (the overlay).
    for (from, to) in [("a1", "a2"), ("a1", "b2"), ("c2", "b1"), ("b2", "c1")] {
        let from = vms.iter().find(|vm| vm.name() == from).expect("a VM");
        let to = vms.iter().find(|vm| vm.name() == to).expect("a VM");
        let output = from.ns.ping(&to.ip(), 1);
        assert!(
            !output.stdout.contains("bytes from"),
            "{} reached {} of the other tenant: {output}",
            from.name(),
            to.name()
        );
        // The kernel asks twice more after ping gave up: the captures wait for the last request.
        let resolving = format!("ip neigh show {} dev {}", to.ip(), from.iface);
        let state = wait::poll(NEIGHBOUR_LIMIT, || {
            let state = sh_in_ok(&from.ns, &resolving);
            (!state.contains("INCOMPLETE")).then_some(state)
        });
        assert!(
            state.as_ref().is_some_and(|state| !state.contains("lladdr")),
            "{} resolved {} of the other tenant: {state:?}",
            from.name(),
            to.ip()
        );
    }

    // Each VM saw its own tenant's VMs on both other hosts and nothing of the other tenant.
    for (vm, capture) in vms.iter().zip(captures) {
        let frames = capture.stop();
        let sources: BTreeSet<&str> = frames.iter().filter_map(|f| f.first().map(String::as_str)).collect();
        for other in vms.iter().filter(|other| other.host != vm.host) {
            let seen = sources.contains(other.mac.as_str());
            assert_eq!(
                seen,
                other.tenant == vm.tenant,
                "{} saw {}'s frames: {seen}; captured: {frames:?}",
                vm.name(),
                other.name()
            );
        }
        let foreign: Vec<String> = vms.iter().filter(|other| other.tenant != vm.tenant).map(Vm::ip).collect();
        let leaked: Vec<&Vec<String>> = frames
            .iter()
            .filter(|f| {
                f.iter().any(|field| vms.iter().any(|o| o.tenant != vm.tenant && field == &o.mac))
                    || f.iter().skip(1).any(|field| foreign.contains(field))
            })
            .collect();
        assert!(leaked.is_empty(), "{} saw the other tenant's frames: {leaked:?}", vm.name());
    }

    for switch in switches {
        switch.stop();
    }
}
