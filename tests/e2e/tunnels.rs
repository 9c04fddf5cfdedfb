//! VXLAN between a host behind the switch and a Linux kernel VTEP, the independent peer: the
//! switch's br0 is the underlay (VTEP 172.31.1.1/24 on its LOCAL port, NORMAL, port `phy` an
//! AF_PACKET port on a veth into the "underlay" namespace, where the kernel's vxlan device of
//! VNI 1000 has 172.31.1.2); br-int holds the host's port (a veth into the "vm" namespace) and
//! the VXLAN port. Nothing is configured about the peer's MAC: the switch resolves it with ARP
//! and answers the kernel's ARP for its VTEP address. The host pings the kernel's overlay
//! address, both directions cross the tunnel (encapsulated by the switch, decapsulated by
//! it); then garbage for the VTEP (an unknown VNI, bad flags) is counted by reason and does
//! not disturb the traffic.
#![forbid(unsafe_code)]
use std::process::Command;
use std::time::Duration;

use vswitch_e2e::command::run;
use vswitch_e2e::netns::Namespace;
use vswitch_e2e::{PortSpec, SwitchConfig, TestDir, Vswitchd};

const LIMIT: Duration = Duration::from_secs(10);

fn sh(script: &str) {
    let mut command = Command::new("sh");
    command.args(["-ec", script]);
    let output = run(command, LIMIT);
    assert!(output.success(), "{script}\n{output}");
}

/// A veth pair: `outside` stays (the switch's AF_PACKET port), `inside` goes into `ns` with
/// `address`; checksum offload off on both (AF_PACKET would deliver bad checksums).
fn veth(outside: &str, inside: &str, ns: &Namespace, address: &str, mtu: u32) {
    sh(&format!(
        "ip link del {outside} 2>/dev/null || true; ip link add {outside} type veth peer name {inside}; \
         ethtool -K {outside} tx off >/dev/null; ip link set {outside} up"
    ));
    ns.adopt(inside, address);
    sh(&format!(
        "ip netns exec {ns} ethtool -K {inside} tx off >/dev/null; ip -n {ns} link set {inside} mtu {mtu}",
        ns = ns.name()
    ));
}

#[test]
fn vxlan_with_a_kernel_vtep() {
    let dir = TestDir::new("tunnels");
    let underlay = Namespace::create(&dir, "ul");
    let vm = Namespace::create(&dir, "vm");
    let pid = std::process::id() % 100_000;
    let (phy, vm_port) = (format!("vxu{pid}"), format!("vxv{pid}"));
    veth(&phy, "ul0", &underlay, "172.31.1.2/24", 1500);
    veth(&vm_port, "vm0", &vm, "10.1.1.1/24", 1450);
    sh(&format!(
        "ip -n {ns} link add vx0 type vxlan id 1000 remote 172.31.1.1 local 172.31.1.2 dstport 4789 dev ul0; \
         ip -n {ns} link set vx0 mtu 1450; ip -n {ns} addr add 10.1.1.2/24 dev vx0; ip -n {ns} link set vx0 up",
        ns = underlay.name()
    ));
    let config = SwitchConfig::new(&dir)
        .flow("actions=NORMAL")
        .bridge_setting("mac", "\"02:00:00:00:aa:01\"")
        .bridge_setting("addresses", "[\"172.31.1.1/24\"]")
        .port(PortSpec::dpdk("phy", 1, &format!("net_af_packet0,iface={phy}")))
        .more_toml(&format!(
            "[[bridge]]\nname = \"br-int\"\nflows = [\"actions=NORMAL\"]\n\
             [[bridge.port]]\nname = \"vm\"\ntype = \"dpdk\"\ndevargs = \"net_af_packet1,iface={vm_port}\"\nofport = 1\n\
             [[bridge.port]]\nname = \"vxlan0\"\ntype = \"vxlan\"\nofport = 2\n\
             options = {{ remote_ip = \"172.31.1.2\", key = 1000 }}"
        ));
    let switch = Vswitchd::start(&dir, &config);

    // The first packets wait for ARP on both sides.
    let answered = vm.ping_until_answered("10.1.1.2", 5, 5);
    assert!(answered.is_ok(), "no answer across the tunnel:\n{}\n{}", answered.unwrap_err(), switch.stderr());
    // The kernel learned our VTEP's MAC from our ARP reply, and sent to it.
    let neigh = run_in(&underlay, "ip neigh show 172.31.1.1");
    assert!(neigh.contains("02:00:00:00:aa:01"), "kernel neighbour of our VTEP: {neigh}");
    let trace =
        switch.vsctl_ok(&["trace", "br-int", "in_port=1,icmp,dl_src=02:00:00:00:00:01,dl_dst=ff:ff:ff:ff:ff:ff"]);
    assert!(trace.contains("tnl_push(vxlan,") && trace.contains("vni=1000"), "trace: {trace}");

    // Garbage for the VTEP: a VXLAN packet of an unknown VNI and one without the I flag.
    let garbage = r#"
import socket, struct
def csum(b):
    s = sum(struct.unpack('!10H', b))
    s = (s & 0xffff) + (s >> 16)
    s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff
def frame(flags, vni):
    inner = bytes(6) + bytes([2, 0, 0, 0, 0, 9]) + b'\x08\x00' + bytes(46)
    vx = struct.pack('!B3xI', flags, vni << 8)
    udp = struct.pack('!HHHH', 5000, 4789, 8 + len(vx) + len(inner), 0)
    ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(udp) + len(vx) + len(inner), 0, 0x4000, 64, 17, 0,
                     bytes([172, 31, 1, 2]), bytes([172, 31, 1, 1]))
    ip = ip[:10] + struct.pack('!H', csum(ip)) + ip[12:]
    return bytes([2, 0, 0, 0, 0xaa, 1, 2, 0, 0, 0, 0, 0x99]) + b'\x08\x00' + ip + udp + vx + inner
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(('ul0', 0))
for _ in range(20):
    s.send(frame(0x08, 7))
for _ in range(10):
    s.send(frame(0x00, 1000))
"#;
    let mut python = Command::new("ip");
    python.args(["netns", "exec", underlay.name(), "python3", "-c", garbage]);
    let sent = run(python, Duration::from_secs(60));
    assert!(sent.success(), "sending the bad packets: {sent}");
    let stats = vswitch_e2e::wait::poll(Duration::from_secs(5), || {
        let stats = switch.port_stats();
        let phy = stats.port("phy");
        (phy.dropped("tunnel_unknown_port") >= 20 && phy.dropped("tunnel_bad_flags") >= 10).then_some(stats)
    });
    assert!(stats.is_some(), "bad tunnel packets not counted: {:?}", switch.port_stats().port("phy"));
    // The tunnel still works.
    assert!(vm.ping_until_answered("10.1.1.2", 3, 3).is_ok(), "the tunnel stopped after the garbage");
    switch.stop();
}

fn run_in(ns: &Namespace, command_line: &str) -> String {
    let mut command = Command::new("ip");
    command.args(["netns", "exec", ns.name(), "sh", "-c", command_line]);
    run(command, LIMIT).stdout
}
