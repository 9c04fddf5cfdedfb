//! Tunnel interoperability beyond VXLAN/IPv4 with a kernel VTEP (`tunnels.rs`):
//! - VXLAN over an IPv6 underlay with the Linux kernel's vxlan device (its IPv6 defaults: it sends
//!   UDP checksums and refuses packets without one; ours are on by default over IPv6);
//! - two vswitchd processes as two hosts on one underlay (a Linux bridge in a namespace), VXLAN,
//!   Geneve and GRE between them;
//! - a capture (tshark) of the VXLAN packets the switch sends: UDP source port per inner flow in
//!   32768..=61000, DF, TTL 64, the configured VNI.
//!
//! Each proves reachability with ping both ways and a 1 MB TCP transfer each way, compared byte
//! for byte. The switch's underlay ports are AF_PACKET ports on veths (checksum offload off); the
//! hosts are network namespaces of the test.
#![forbid(unsafe_code)]
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use vswitch_e2e::netns::Namespace;
use vswitch_e2e::overlay::{
    address, ifname, payload, sh_in, sh_in_ok, start_hosts, tcp_transfer, tunnel_port, underlay_switch, veth, Capture,
};
use vswitch_e2e::{TestDir, Vswitchd};

/// Bytes of each TCP transfer.
const TRANSFER_BYTES: usize = 1 << 20;

/// The overlay bridge `br-int` of a switch: the host's AF_PACKET port (ofport 1) and `tunnels`
/// (TOML of `[[bridge.port]]` tables), with `flows`.
fn br_int(vm_iface: &str, flows: &[&str], tunnels: &str) -> String {
    let flows: Vec<String> = flows.iter().map(|f| format!("{f:?}")).collect();
    format!(
        "[[bridge]]\nname = \"br-int\"\nflows = [{}]\n\
         [[bridge.port]]\nname = \"vm\"\ntype = \"dpdk\"\ndevargs = \"net_af_packet1,iface={vm_iface}\"\nofport = 1\n{tunnels}",
        flows.join(", ")
    )
}

/// Pings `to` from `from` until every reply of a run arrives (the first wait for ARP/ND).
fn assert_ping(from: &Namespace, to: &str, what: &str, switches: &[&Vswitchd]) {
    if let Err(runs) = from.ping_until_answered(to, 5, 5) {
        let logs: Vec<String> = switches.iter().map(|s| s.stderr()).collect();
        panic!("{what}: {} gets no answer from {to}:\n{runs}\n{}", from.name(), logs.join("\n----\n"));
    }
}

/// 1 MB from `a` to `b_addr` in `b`, then 1 MB from `b` to `a_addr` in `a`, each compared.
fn assert_transfers(dir: &TestDir, a: (&Namespace, &str), b: (&Namespace, &str), port: u16, what: &str) {
    let data = payload(TRANSFER_BYTES, u64::from(port));
    if let Err(e) = tcp_transfer(dir, a.0, b.0, b.1, port, &data) {
        panic!("{what}: TCP {} -> {}: {e}", a.0.name(), b.1);
    }
    let data = payload(TRANSFER_BYTES, u64::from(port) + 1);
    if let Err(e) = tcp_transfer(dir, b.0, a.0, a.1, port + 1, &data) {
        panic!("{what}: TCP {} -> {}: {e}", b.0.name(), a.1);
    }
}

/// VXLAN over IPv6 with the kernel's vxlan device of VNI 1006, on its IPv6 defaults (UDP
/// checksums sent, zero checksums refused): the switch's default (`csum` on over IPv6) is what it
/// needs. The switch resolves the kernel's address with neighbour discovery and answers its
/// solicitations for the VTEP address.
#[test]
fn vxlan6_with_a_kernel_vtep() {
    vxlan6("vxlan6_kernel", "", "", true);
}

/// The same without UDP checksums: the kernel device with `udp6zerocsumtx udp6zerocsumrx`, the
/// switch's port with `csum = false` (RFC 6935/6936 zero checksums for tunnels, both ways).
#[test]
fn vxlan6_zero_checksums_with_a_kernel_vtep() {
    vxlan6("vxlan6_zerocsum", " udp6zerocsumtx udp6zerocsumrx", ", csum = false", false);
}

/// A VXLAN/IPv6 tunnel between the switch and the kernel (`kernel_options` of its device, more
/// `port_options` of ours); `checksums`: whether both send UDP checksums, which a capture of the
/// pings checks.
fn vxlan6(test: &str, kernel_options: &str, port_options: &str, checksums: bool) {
    let dir = TestDir::new(test);
    let underlay = Namespace::create(&dir, "ul");
    let vm = Namespace::create(&dir, "vm");
    let (phy, vm_port) = (ifname("x6u"), ifname("x6v"));
    veth(&phy, None, "ul0", &underlay, 1500);
    address(&underlay, "ul0", "fd00:31::2/64");
    veth(&vm_port, None, "vm0", &vm, 1430);
    address(&vm, "vm0", "10.1.6.1/24");
    sh_in_ok(
        &underlay,
        &format!(
            "ip link add vx6 type vxlan id 1006 remote fd00:31::1 local fd00:31::2 dstport 4789 dev ul0{kernel_options}; \
             ip link set vx6 mtu 1430; ip addr add 10.1.6.2/24 dev vx6; ip link set vx6 up"
        ),
    );
    let options = format!("remote_ip = \"fd00:31::2\", key = 1006{port_options}");
    let tunnels = tunnel_port("vxlan6", "vxlan", 2, &options);
    let config = underlay_switch(
        &dir,
        "02:00:00:00:a6:01",
        &["fd00:31::1/64"],
        &phy,
        &br_int(&vm_port, &["actions=NORMAL"], &tunnels),
    );
    let switch = Vswitchd::start(&dir, &config);

    assert_ping(&vm, "10.1.6.2", "VXLAN/IPv6, switch side first", &[&switch]);
    let capture = Capture::start(&dir, &underlay, "ul0", "udp port 4789", 30, &["ipv6.src", "udp.checksum"]);
    assert_ping(&underlay, "10.1.6.1", "VXLAN/IPv6, kernel side first", &[&switch]);
    let packets = capture.stop();
    let sources: BTreeSet<&str> = packets.iter().filter_map(|p| p.first()?.split(',').next()).collect();
    assert_eq!(sources, BTreeSet::from(["fd00:31::1", "fd00:31::2"]), "{packets:?}");
    for fields in &packets {
        let [_, checksum] = fields.as_slice() else { panic!("{fields:?}") };
        let outer = checksum.split(',').next().unwrap_or_default();
        assert_eq!(number(outer) != Some(0), checksums, "outer UDP checksum: {fields:?}");
    }
    // The kernel learned our VTEP's MAC from our neighbour advertisement.
    let neigh = sh_in_ok(&underlay, "ip -6 neigh show fd00:31::1");
    assert!(neigh.contains("02:00:00:00:a6:01"), "kernel neighbour of our VTEP: {neigh}");
    let trace = switch.vsctl_ok(&["trace", "br-int", "in_port=1,ip,dl_src=02:00:00:00:00:01,dl_dst=ff:ff:ff:ff:ff:ff"]);
    assert!(trace.contains("ipv6(src=fd00:31::1,dst=fd00:31::2") && trace.contains("vni=1006"), "trace: {trace}");
    assert_transfers(&dir, (&vm, "10.1.6.1"), (&underlay, "10.1.6.2"), 5001, "VXLAN/IPv6");
    let stats = switch.port_stats();
    assert_eq!(stats.port("phy").dropped("tunnel_bad_checksum"), 0, "{:?}", stats.port("phy"));
    switch.stop();
}

/// Two switches as two hosts, VXLAN, Geneve and GRE between them over an IPv4 and over an IPv6
/// underlay (each br0 has an address of both families): each br-int has all six tunnel ports to
/// the other switch, and its host's traffic goes out through one of them at a time (a flow
/// changed per round); what arrives on any tunnel goes to the host. Each round also pings the
/// other host's IPv6 address (inner neighbour discovery across the tunnel).
#[test]
fn switch_to_switch_vxlan_geneve_gre_ipv4_ipv6() {
    let dir = TestDir::new("sw2sw_tunnels");
    let underlay = Namespace::create(&dir, "ul");
    let host_a = Namespace::create(&dir, "ha");
    let host_b = Namespace::create(&dir, "hb");
    sh_in_ok(
        &underlay,
        "ip link add ulbr type bridge mcast_snooping 0 stp_state 0 forward_delay 0; ip link set ulbr up",
    );
    let (phy_a, phy_b, vm_a, vm_b) = (ifname("s2pa"), ifname("s2pb"), ifname("s2va"), ifname("s2vb"));
    veth(&phy_a, None, "ula", &underlay, 1500);
    veth(&phy_b, None, "ulb", &underlay, 1500);
    sh_in_ok(&underlay, "ip link set ula master ulbr; ip link set ulb master ulbr");
    // Inner MTU 1430: VXLAN and Geneve over IPv6 add 70 bytes.
    veth(&vm_a, None, "vm0", &host_a, 1430);
    veth(&vm_b, None, "vm0", &host_b, 1430);
    address(&host_a, "vm0", "10.1.3.1/24");
    address(&host_b, "vm0", "10.1.3.2/24");
    address(&host_a, "vm0", "fd00:1:3::1/64");
    address(&host_b, "vm0", "fd00:1:3::2/64");

    // (port, type, OpenFlow port, key, IPv6 underlay, tshark's protocols of the outer packet)
    let ports = [
        ("vxlan0", "vxlan", 2, 100, false, "ip:udp:vxlan"),
        ("geneve0", "geneve", 3, 200, false, "ip:udp:geneve"),
        ("gre0", "gre", 4, 300, false, "ip:gre"),
        ("vxlan6", "vxlan", 5, 101, true, "ipv6:udp:vxlan"),
        ("geneve6", "geneve", 6, 201, true, "ipv6:udp:geneve"),
        ("gre6", "gre", 7, 301, true, "ipv6:gre"),
    ];
    let mut flows = vec!["priority=10,in_port=1,actions=output:2".to_owned()];
    flows.extend(ports.iter().map(|p| format!("priority=10,in_port={},actions=output:1", p.2)));
    let flows: Vec<&str> = flows.iter().map(String::as_str).collect();
    let tunnels = |remote4: &str, remote6: &str| {
        ports
            .map(|(name, kind, ofport, key, ipv6, _)| {
                let remote = if ipv6 { remote6 } else { remote4 };
                tunnel_port(name, kind, ofport, &format!("remote_ip = \"{remote}\", key = {key}"))
            })
            .concat()
    };
    let config_a = underlay_switch(
        &dir,
        "02:00:00:00:aa:01",
        &["172.31.3.1/24", "fd00:33::1/64"],
        &phy_a,
        &br_int(&vm_a, &flows, &tunnels("172.31.3.2", "fd00:33::2")),
    );
    let config_b = underlay_switch(
        &dir,
        "02:00:00:00:bb:01",
        &["172.31.3.2/24", "fd00:33::2/64"],
        &phy_b,
        &br_int(&vm_b, &flows, &tunnels("172.31.3.1", "fd00:33::1")),
    );
    let [switch_a, switch_b] = start_hosts(&dir, [("a", config_a), ("b", config_b)]);

    for (round, (name, _, ofport, key, _, protocol)) in ports.into_iter().enumerate() {
        for switch in [&switch_a, &switch_b] {
            switch.vsctl_ok(&["add-flow", "br-int", &format!("priority=10,in_port=1,actions=output:{ofport}")]);
        }
        // Every tunnel packet of the round, both ways, on switch A's underlay link.
        let capture = Capture::start(
            &dir,
            &underlay,
            "ula",
            "udp port 4789 or udp port 6081 or ip proto 47 or ip6 proto 47",
            50,
            &["frame.protocols", "vxlan.vni", "geneve.vni", "gre.key"],
        );
        assert_ping(&host_a, "10.1.3.2", name, &[&switch_a, &switch_b]);
        assert_ping(&host_b, "10.1.3.1", name, &[&switch_a, &switch_b]);
        assert_ping(&host_a, "fd00:1:3::2", name, &[&switch_a, &switch_b]);
        let port = 5100 + 10 * u16::try_from(round).unwrap_or(0);
        assert_transfers(&dir, (&host_a, "10.1.3.1"), (&host_b, "10.1.3.2"), port, name);
        // (Tunnel ports count nothing in port-stats yet: the capture shows which tunnel carried it.)
        let packets = capture.stop();
        assert!(packets.len() >= 1000, "{name}: {} tunnel packets captured", packets.len());
        for fields in &packets {
            let [protocols, vxlan_vni, geneve_vni, gre_key] = fields.as_slice() else { panic!("{fields:?}") };
            assert!(protocols.starts_with(&format!("eth:ethertype:{protocol}:eth:")), "{name}: {fields:?}");
            let keys = [vxlan_vni, geneve_vni, gre_key].map(|k| number(k));
            assert!(keys.iter().flatten().eq([&key]), "{name}: key {keys:?}, not {key}: {fields:?}");
        }
    }
    let stats = switch_b.port_stats();
    let phy = stats.port("phy");
    let tunnel_drops: u64 = phy.drops.iter().filter(|(reason, _)| reason.starts_with("tunnel_")).map(|(_, n)| n).sum();
    assert_eq!(tunnel_drops, 0, "switch B dropped tunnel packets: {phy:?}");
    switch_a.stop();
    switch_b.stop();
}

/// The VXLAN packets the switch sends to a kernel VTEP, captured with tshark on the underlay:
/// the configured VNI, TTL 64, DF set, and a UDP source port in 32768..=61000 chosen per inner
/// flow - constant within a flow, different between flows (eight inner UDP flows).
#[test]
fn vxlan_outer_header_capture() {
    let dir = TestDir::new("vxlan_capture");
    let underlay = Namespace::create(&dir, "ul");
    let vm = Namespace::create(&dir, "vm");
    let (phy, vm_port) = (ifname("cpu"), ifname("cpv"));
    veth(&phy, None, "ul0", &underlay, 1500);
    address(&underlay, "ul0", "172.31.4.2/24");
    veth(&vm_port, None, "vm0", &vm, 1450);
    address(&vm, "vm0", "10.1.4.1/24");
    sh_in_ok(
        &underlay,
        "ip link add vx0 type vxlan id 4242 remote 172.31.4.1 local 172.31.4.2 dstport 4789 dev ul0; \
         ip link set vx0 mtu 1450; ip addr add 10.1.4.2/24 dev vx0; ip link set vx0 up",
    );
    let tunnels = tunnel_port("vxlan0", "vxlan", 2, "remote_ip = \"172.31.4.2\", key = 4242");
    let config = underlay_switch(
        &dir,
        "02:00:00:00:c4:01",
        &["172.31.4.1/24"],
        &phy,
        &br_int(&vm_port, &["actions=NORMAL"], &tunnels),
    );
    let switch = Vswitchd::start(&dir, &config);
    assert_ping(&vm, "10.1.4.2", "VXLAN", &[&switch]);

    let capture = Capture::start(
        &dir,
        &underlay,
        "ul0",
        "udp dst port 4789 and src host 172.31.4.1",
        8,
        &["udp.srcport", "udp.dstport", "ip.flags.df", "ip.ttl", "vxlan.vni"],
    );
    // Eight inner UDP flows (source ports 40001..=40008), four datagrams each.
    let send = r#"
import socket, time
for round in range(4):
    for port in range(40001, 40009):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("10.1.4.1", port))
        s.sendto(b"flow %d" % port, ("10.1.4.2", 9))
        s.close()
    time.sleep(0.1)
"#;
    sh_in_ok(&vm, &format!("python3 -c '{send}'"));
    let packets = capture.finish(Duration::from_secs(20));

    // udp.srcport/udp.dstport/ip.* hold the outer then the inner value.
    let mut outer_ports: BTreeMap<String, BTreeSet<u16>> = BTreeMap::new();
    for fields in &packets {
        let [src, dst, df, ttl, vni] = fields.as_slice() else { panic!("capture line {fields:?}") };
        let values = |field: &str| field.split(',').map(str::to_owned).collect::<Vec<_>>();
        let (src, dst, df, ttl) = (values(src), values(dst), values(df), values(ttl));
        let outer_src: u16 = src[0].parse().unwrap_or_else(|_| panic!("udp.srcport {src:?}"));
        assert!((32768..=61000).contains(&outer_src), "outer source port {outer_src}: {fields:?}");
        assert_eq!(dst[0], "4789", "{fields:?}");
        assert!(df[0] == "1" || df[0] == "True", "DF not set: {fields:?}");
        assert_eq!(ttl[0], "64", "outer TTL: {fields:?}");
        assert_eq!(vni, "4242", "VNI: {fields:?}");
        if let Some(inner_src) = src.get(1).filter(|p| p.starts_with("4000")) {
            outer_ports.entry(inner_src.clone()).or_default().insert(outer_src);
        }
    }
    assert_eq!(outer_ports.len(), 8, "inner flows seen in the capture: {outer_ports:?}\n{packets:?}");
    for (inner, outer) in &outer_ports {
        assert_eq!(outer.len(), 1, "inner flow {inner} left with several outer source ports {outer:?}");
    }
    let distinct: BTreeSet<u16> = outer_ports.values().flatten().copied().collect();
    assert!(distinct.len() >= 4, "8 inner flows share outer source ports: {outer_ports:?}");
    // The kernel decapsulated them: its vxlan device counted the datagrams.
    let received = sh_in(&underlay, "ip -s link show vx0");
    assert!(received.success(), "{received}");
    switch.stop();
}

/// A number tshark printed in decimal or `0x` hexadecimal.
fn number(text: &str) -> Option<u32> {
    match text.strip_prefix("0x") {
        Some(hex) => u32::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}
