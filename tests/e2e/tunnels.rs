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
use vswitch_e2e::overlay::{address, sh, sh_in, veth};
use vswitch_e2e::{PortSpec, SwitchConfig, TestDir, Vswitchd};

const LIMIT: Duration = Duration::from_secs(10);

/// The switch between a host namespace ("vm", 10.1.1.1) and a kernel VTEP in an "underlay"
/// namespace (ul0 172.31.1.2, vx0 10.1.1.2, VNI 1000): br0 the underlay (172.31.1.1/24 on LOCAL,
/// NORMAL, port `phy`, learned next hops aging after `neighbour_aging` s), br-int the host's
/// port and the VXLAN port. `tag` keeps the veth names of the tests of this file apart.
fn vtep_setup(dir: &TestDir, tag: &str, neighbour_aging: u32) -> (Namespace, Namespace, Vswitchd) {
    let underlay = Namespace::create(dir, "ul");
    let vm = Namespace::create(dir, "vm");
    let pid = std::process::id() % 100_000;
    let (phy, vm_port) = (format!("{tag}u{pid}"), format!("{tag}v{pid}"));
    veth(&phy, None, "ul0", &underlay, 1500);
    address(&underlay, "ul0", "172.31.1.2/24");
    veth(&vm_port, None, "vm0", &vm, 1450);
    address(&vm, "vm0", "10.1.1.1/24");
    sh(&format!(
        "ip -n {ns} link add vx0 type vxlan id 1000 remote 172.31.1.1 local 172.31.1.2 dstport 4789 dev ul0; \
         ip -n {ns} link set vx0 mtu 1450; ip -n {ns} addr add 10.1.1.2/24 dev vx0; ip -n {ns} link set vx0 up",
        ns = underlay.name()
    ));
    let config = SwitchConfig::new(dir)
        .flow("actions=NORMAL")
        .bridge_setting("mac", "\"02:00:00:00:aa:01\"")
        .bridge_setting("addresses", "[\"172.31.1.1/24\"]")
        .bridge_setting("neighbour_aging", &neighbour_aging.to_string())
        .port(PortSpec::dpdk("phy", 1, &format!("net_af_packet0,iface={phy}")))
        .more_toml(&format!(
            "[[bridge]]\nname = \"br-int\"\nflows = [\"actions=NORMAL\"]\n\
             [[bridge.port]]\nname = \"vm\"\ntype = \"dpdk\"\ndevargs = \"net_af_packet1,iface={vm_port}\"\nofport = 1\n\
             [[bridge.port]]\nname = \"vxlan0\"\ntype = \"vxlan\"\nofport = 2\n\
             options = {{ remote_ip = \"172.31.1.2\", key = 1000 }}"
        ));
    let switch = Vswitchd::start(dir, &config);
    (underlay, vm, switch)
}

#[test]
fn vxlan_with_a_kernel_vtep() {
    let dir = TestDir::new("tunnels");
    let (underlay, vm, switch) = vtep_setup(&dir, "vx", 900);

    // The first packets wait for ARP on both sides.
    let answered = vm.ping_until_answered("10.1.1.2", 5, 5);
    assert!(answered.is_ok(), "no answer across the tunnel:\n{}\n{}", answered.unwrap_err(), switch.stderr());
    // The kernel learned our VTEP's MAC from our ARP reply, and sent to it.
    let neigh = sh_in(&underlay, "ip neigh show 172.31.1.1").stdout;
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

/// Runs `ping -c 1 -W 3` from `ns`: the round trip in ms of the one reply, or the output.
fn ping_once(ns: &Namespace, address: &str) -> Result<f64, String> {
    let mut command = Command::new("ip");
    command.args(["netns", "exec", ns.name(), "ping", "-n", "-c", "1", "-W", "3", address]);
    let output = run(command, LIMIT);
    let rtt = output.stdout.split("time=").nth(1).and_then(|rest| rest.split(' ').next()?.parse::<f64>().ok());
    match rtt {
        Some(ms) if output.success() => Ok(ms),
        _ => Err(format!("{output}")),
    }
}

/// br0's neighbour cache as `vsctl --json neigh-show br0` gives it.
fn neighbours(switch: &Vswitchd) -> serde_json::Value {
    let reply: serde_json::Value = switch.json(&["neigh-show", "br0"]);
    reply["bridges"][0].clone()
}

/// The entry of `ip` in br0's neighbour cache (Null when there is none).
fn neighbour(switch: &Vswitchd, ip: &str) -> serde_json::Value {
    let bridge = neighbours(switch);
    let entries = bridge["entries"].as_array().cloned().unwrap_or_default();
    entries.into_iter().find(|e| e["ip"] == ip).unwrap_or(serde_json::Value::Null)
}

/// Counts, for `seconds`, the ARP requests for 172.31.1.2 from the switch's VTEP MAC that reach
/// ul0 in `ns`.
const COUNT_REQUESTS: &str = r#"
import socket, sys, time
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0806))
s.bind(('ul0', 0))
s.settimeout(0.1)
end = time.time() + float(sys.argv[1])
n = 0
while time.time() < end:
    try:
        f = s.recv(100)
    except socket.timeout:
        continue
    if f[20:22] == b'\x00\x01' and f[6:12] == bytes([2, 0, 0, 0, 0xaa, 1]) and f[38:42] == bytes([172, 31, 1, 2]):
        n += 1
print(n)
"#;

/// The neighbour cache in action against the kernel VTEP: the very first packet to an unknown
/// next hop is held (not dropped) and answered; neigh-show shows the peer; after neigh-flush the
/// traffic recovers; a peer MAC change is followed (its gratuitous ARP, or its own ARP request
/// for our VTEP); an unanswered next hop is asked for once a second; a static entry serves a
/// peer that never answers ARP.
#[test]
fn neighbour_cache_holds_learns_and_follows_the_peer() {
    let dir = TestDir::new("tunnels-neigh");
    let (underlay, vm, switch) = vtep_setup(&dir, "vn", 900);
    let ul = underlay.name().to_string();
    let peer = "172.31.1.2";
    // IPv6 off in the overlay (the host's router solicitations and MLD reports would cross the
    // tunnel and resolve the peer before the first ping), then an empty cache to start with.
    sh(&format!(
        "ip netns exec {vm} sysctl -qw net.ipv6.conf.vm0.disable_ipv6=1; \
         ip netns exec {ul} sysctl -qw net.ipv6.conf.vx0.disable_ipv6=1",
        vm = vm.name()
    ));
    std::thread::sleep(Duration::from_millis(200));
    switch.vsctl_ok(&["neigh-flush", "br0"]);
    assert_eq!(neighbour(&switch, peer), serde_json::Value::Null, "an empty cache to start with");

    // The first ping, one attempt: its packets wait for the next hop instead of being dropped.
    // (Had the overlay ARP request been dropped, the host would retransmit it a second later.)
    let first = ping_once(&vm, "10.1.1.2");
    let first = first.unwrap_or_else(|e| panic!("first ping not answered:\n{e}\n{}", switch.stderr()));
    eprintln!("first ping with an empty neighbour cache: {first} ms");
    assert!(first < 900.0, "the first ping waited for a retransmission: {first} ms");
    let entry = neighbour(&switch, peer);
    assert_eq!(entry["state"], "reachable", "{entry}");
    assert_eq!(entry["mac"], underlay.mac("ul0").as_str(), "{entry}");
    let counters = neighbours(&switch);
    assert!(counters["held"].as_u64() >= Some(1) && counters["released"].as_u64() >= Some(1), "{counters}");
    assert_eq!(switch.port_stats().port("vm").dropped("tunnel_neighbour_unresolved"), 0);
    let text = switch.vsctl_ok(&["neigh-show"]);
    assert!(text.contains("172.31.1.2") && text.contains("reachable"), "{text}");

    // Flushed: the next packet asks again, and is held meanwhile.
    switch.vsctl_ok(&["neigh-flush", "br0"]);
    assert_eq!(neighbour(&switch, peer), serde_json::Value::Null);
    let after_flush = ping_once(&vm, "10.1.1.2").unwrap_or_else(|e| panic!("no answer after neigh-flush:\n{e}"));
    eprintln!("first ping after neigh-flush: {after_flush} ms");
    assert_eq!(neighbour(&switch, peer)["state"], "reachable");

    // The peer's MAC changes and it says so (gratuitous ARP, as arp_notify makes Linux send).
    sh(&format!("ip netns exec {ul} sysctl -qw net.ipv4.conf.ul0.arp_notify=1"));
    sh(&format!("ip -n {ul} link set ul0 address 02:00:00:00:0b:02"));
    let moved = vswitch_e2e::wait::poll(Duration::from_secs(5), || {
        (neighbour(&switch, peer)["mac"] == "02:00:00:00:0b:02").then_some(())
    });
    assert!(moved.is_some(), "the gratuitous ARP was not learned: {}", neighbour(&switch, peer));
    assert!(vm.ping_until_answered("10.1.1.2", 3, 3).is_ok(), "no answer after the peer's MAC changed");
    // Again, silently: its own ARP request for our VTEP (it forgot its neighbours with the
    // change) tells us when it sends to us.
    sh(&format!("ip netns exec {ul} sysctl -qw net.ipv4.conf.ul0.arp_notify=0"));
    sh(&format!("ip -n {ul} link set ul0 address 02:00:00:00:0b:03"));
    let pinged = sh_in(&underlay, "ping -n -c 3 -i 0.2 -W 1 10.1.1.1");
    assert!(neighbour(&switch, peer)["mac"] == "02:00:00:00:0b:03", "{pinged}\n{}", neighbour(&switch, peer));
    assert!(vm.ping_until_answered("10.1.1.2", 3, 3).is_ok(), "no answer after the second MAC change");

    // A next hop that does not answer is asked for at most once a second.
    sh(&format!("ip -n {ul} addr del 172.31.1.2/24 dev ul0"));
    switch.vsctl_ok(&["neigh-flush", "br0"]);
    let requests_before = neighbours(&switch)["requests"].as_u64().unwrap_or(0);
    let mut counter = Command::new("ip");
    counter.args(["netns", "exec", &ul, "python3", "-c", COUNT_REQUESTS, "5"]);
    let counter = counter.stdout(std::process::Stdio::piped()).spawn().expect("python3");
    std::thread::sleep(Duration::from_millis(500));
    // 5 s of pings, 5 a second, each waiting 1 s at most for an answer that never comes.
    let mut ping = Command::new("ip");
    ping.args(["netns", "exec", vm.name(), "ping", "-n", "-c", "25", "-i", "0.2", "-W", "1", "10.1.1.2"]);
    let pings = run(ping, Duration::from_secs(20));
    let counted = counter.wait_with_output().expect("the ARP counter");
    let seen: u32 = String::from_utf8_lossy(&counted.stdout).trim().parse().unwrap_or(u32::MAX);
    let sent = neighbours(&switch)["requests"].as_u64().unwrap_or(0) - requests_before;
    eprintln!("unanswered next hop: {seen} ARP requests seen by the peer in 5 s, {sent} sent by the switch");
    assert!((3..=6).contains(&seen), "{seen} requests in 5 s\n{pings}");
    assert!(sent <= 7, "{sent} requests sent");
    let counters = neighbours(&switch);
    assert!(counters["dropped"].as_u64() >= Some(1), "given up, held packets dropped: {counters}");
    sh(&format!("ip -n {ul} addr add 172.31.1.2/24 dev ul0"));
    assert!(vm.ping_until_answered("10.1.1.2", 3, 3).is_ok(), "no answer once the peer answers again");

    // A peer that never answers ARP: a static entry.
    sh(&format!("ip -n {ul} link set ul0 arp off"));
    switch.vsctl_ok(&["neigh-flush", "br0"]);
    let mac = underlay.mac("ul0");
    switch.vsctl_ok(&["neigh-set", "br0", peer, &mac]);
    let entry = neighbour(&switch, peer);
    assert_eq!((entry["state"].as_str(), entry["mac"].as_str()), (Some("static"), Some(mac.as_str())), "{entry}");
    assert!(vm.ping_until_answered("10.1.1.2", 3, 3).is_ok(), "no answer with a static neighbour");
    switch.vsctl_ok(&["neigh-flush"]);
    assert_eq!(neighbour(&switch, peer)["state"], "static", "neigh-flush leaves static entries");

    // Bad input is refused, saying why.
    for (args, why) in [
        (vec!["neigh-set", "br9", peer, &mac], "no bridge named \"br9\""),
        (vec!["neigh-set", "br0", "172.31.1.1", &mac], "is an address of bridge br0 itself"),
        (vec!["neigh-set", "br0", "10.0.0.300", &mac], "not an IP address"),
        (vec!["neigh-set", "br0", peer, "01:00:5e:00:00:01"], "not a unicast MAC address"),
        (vec!["neigh-show", "br9"], "no bridge named \"br9\""),
        (vec!["neigh-flush", "br9"], "no bridge named \"br9\""),
    ] {
        let output = switch.vsctl(&args);
        assert!(!output.success() && output.stderr.contains(why), "{args:?}: {output}");
    }
    switch.stop();
}

/// The underlay at run time: a VXLAN port added with `vsctl add-port ... options:...`, its remote
/// endpoint 172.31.2.2 off the switch's link - only reachable through the gateway 172.31.1.2 (the
/// "ul" namespace, which holds 172.31.2.2 on its loopback and the kernel VTEP of VNI 2000) -
/// so nothing crosses the tunnel until `vsctl route-add` gives the way. Then a more specific
/// route through another gateway (a static neighbour nobody answers for) moves the traffic away
/// and route-del moves it back; deleting the route stops it again. Bad input is refused, the
/// drop cached before the route is revalidated (not flushed), and show/route-show tell it all.
#[test]
fn runtime_tunnel_port_and_routes() {
    let dir = TestDir::new("tunnel-routes");
    let underlay = Namespace::create(&dir, "ul");
    let vm = Namespace::create(&dir, "vm");
    let pid = std::process::id() % 100_000;
    let (phy, vm_port) = (format!("vru{pid}"), format!("vrv{pid}"));
    veth(&phy, None, "ul0", &underlay, 1500);
    address(&underlay, "ul0", "172.31.1.2/24");
    veth(&vm_port, None, "vm0", &vm, 1450);
    address(&vm, "vm0", "10.2.2.1/24");
    sh(&format!(
        "ip -n {ns} link set lo up; ip -n {ns} addr add 172.31.2.2/32 dev lo; \
         ip -n {ns} link add vx1 type vxlan id 2000 remote 172.31.1.1 local 172.31.2.2 dstport 4789; \
         ip -n {ns} link set vx1 mtu 1450; ip -n {ns} addr add 10.2.2.2/24 dev vx1; ip -n {ns} link set vx1 up",
        ns = underlay.name()
    ));
    let gateway_mac = underlay.mac("ul0");
    let config = SwitchConfig::new(&dir)
        .flow("actions=NORMAL")
        .bridge_setting("mac", "\"02:00:00:00:aa:01\"")
        .bridge_setting("addresses", "[\"172.31.1.1/24\"]")
        .bridge_setting("neighbours", "[{ ip = \"172.31.1.3\", mac = \"02:00:00:00:bb:03\" }]")
        .port(PortSpec::dpdk("phy", 1, &format!("net_af_packet0,iface={phy}")))
        .more_toml(&format!(
            "[[bridge]]\nname = \"br-int\"\nflows = [\"actions=NORMAL\"]\n\
             [[bridge.port]]\nname = \"vm\"\ntype = \"dpdk\"\ndevargs = \"net_af_packet1,iface={vm_port}\"\nofport = 1\n"
        ));
    let switch = Vswitchd::start(&dir, &config);
    let refused = |args: &[&str], code: i32, why: &str| {
        let output = switch.vsctl(args);
        assert_eq!(output.code(), Some(code), "{args:?} not refused with {code}:\n{output}");
        assert!(output.stderr.contains(why), "{args:?}: expected {why:?} in:\n{output}");
    };

    // The tunnel port, added at run time; a bad option is refused naming it, before anything is sent.
    refused(
        &["add-port", "br-int", "vx1", "type=vxlan", "options:remote_ip=172.31.2.2", "options:key=abc"],
        2,
        "'options:key=abc': \"abc\" is neither a number",
    );
    refused(&["add-port", "br-int", "vx1", "type=vxlan", "options:key=2000"], 2, "'options:remote_ip': missing");
    switch.vsctl_ok(&[
        "add-port",
        "br-int",
        "vx1",
        "type=vxlan",
        "options:remote_ip=172.31.2.2",
        "options:key=2000",
        "ofport=2",
    ]);
    let show: serde_json::Value = switch.json(&["show"]);
    let bridge = |name: &str| show["bridges"].as_array().unwrap().iter().find(|b| b["name"] == name).unwrap().clone();
    let (br0, br_int) = (bridge("br0"), bridge("br-int"));
    assert_eq!(br0["mac"], "02:00:00:00:aa:01", "{show:#}");
    assert_eq!(br0["addresses"], serde_json::json!(["172.31.1.1/24"]), "{show:#}");
    let local = br0["ports"].as_array().unwrap().iter().find(|p| p["ofport"] == 65534).expect("LOCAL in show");
    assert_eq!(
        (&local["name"], &local["kind"], &local["mac"]),
        (&"br0".into(), &"internal".into(), &"02:00:00:00:aa:01".into())
    );
    let vx1 = br_int["ports"].as_array().unwrap().iter().find(|p| p["name"] == "vx1").expect("vx1 in show");
    assert_eq!((&vx1["kind"], &vx1["ofport"]), (&"vxlan".into(), &2.into()), "{vx1:#}");
    assert_eq!(vx1["options"], serde_json::json!({"remote_ip": "172.31.2.2", "key": "2000"}), "{vx1:#}");
    assert!(br_int.get("mac").is_none() && br_int.get("addresses").is_none(), "br-int is no underlay: {br_int:#}");
    let text = switch.vsctl_ok(&["show"]);
    let row = |name: &str| -> Vec<String> {
        let line = text
            .lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("no {name} in:\n{text}"));
        line.split_whitespace().map(str::to_string).collect()
    };
    assert!(text.contains("  underlay: mac 02:00:00:00:aa:01, addresses 172.31.1.1/24\n"), "{text}");
    assert_eq!(
        row("br0"),
        ["br0", "LOCAL", "internal", "up", "-", "02:00:00:00:aa:01", "-", "-", "-", "172.31.1.1/24"]
    );
    assert_eq!(row("vx1"), ["vx1", "2", "vxlan", "up", "-", "-", "-", "-", "-", "key=2000,remote_ip=172.31.2.2"]);

    // No route to 172.31.2.2 yet: the tunnel sends nothing.
    let trace = || {
        switch.vsctl_ok(&["trace", "br-int", "in_port=1,icmp,nw_src=10.2.2.1,nw_dst=10.2.2.2,dl_dst=ff:ff:ff:ff:ff:ff"])
    };
    let no_route = trace();
    assert!(no_route.contains("tunnel not sent: NoRoute"), "{no_route}");
    assert!(!vm.ping("10.2.2.2", 2).success(), "an answer without a route");
    let dropped = |stats: &vswitch_e2e::status::PortStatsReply| stats.port("vm").dropped("tunnel_no_route");
    let before = dropped(&switch.port_stats());
    assert!(before > 0, "no tunnel_no_route drop: {:?}", switch.port_stats().port("vm"));

    // Bad routes are refused and say why; a connected route cannot be deleted.
    refused(&["route-add", "garbage", "br0"], 2, "\"garbage\" in \"garbage\" is not an IP address");
    refused(&["route-add", "172.31.2.1/24", "br0"], 2, "172.31.2.1/24 has host bits set; did you mean 172.31.2.0/24?");
    refused(
        &["route-add", "172.31.2.0/24", "br0", "fd00::1"],
        2,
        "gateway fd00::1 is IPv6, the prefix 172.31.2.0/24 IPv4",
    );
    refused(&["route-add", "172.31.2.0/24", "br9", "172.31.1.2"], 1, "no bridge named \"br9\"");
    refused(&["route-add", "172.31.2.0/24", "br-int"], 1, "bridge br-int has no IPv4 address to send tunnel packets");
    refused(&["route-add", "fd00:2::/48", "br0"], 1, "bridge br0 has no IPv6 address");
    refused(
        &["route-add", "172.31.2.0/24", "br0", "10.9.9.9"],
        1,
        "gateway 10.9.9.9 is not on a network of bridge br0",
    );
    refused(
        &["route-del", "172.31.1.0/24"],
        1,
        "172.31.1.0/24 is the connected route of bridge br0's address 172.31.1.1/24",
    );
    refused(&["route-del", "172.31.2.0/24"], 1, "no static route to 172.31.2.0/24");

    // The route through the gateway: the drop cached above is revalidated and the tunnel works.
    let pmd_before: serde_json::Value = switch.json(&["pmd-stats"]);
    assert_eq!(switch.vsctl_ok(&["route-add", "172.31.2.0/24", "br0", "172.31.1.2"]), "");
    let routes = switch.vsctl_ok(&["route-show"]);
    let lines: Vec<Vec<&str>> = routes.lines().map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(
        lines,
        [
            vec!["PREFIX", "ORIGIN", "BRIDGE", "GATEWAY", "SOURCE"],
            vec!["172.31.1.0/24", "connected", "br0", "-", "172.31.1.1"],
            vec!["172.31.2.0/24", "static", "br0", "172.31.1.2", "172.31.1.1"],
        ],
        "{routes}"
    );
    let json: serde_json::Value = switch.json(&["route-show"]);
    assert_eq!(
        json["routes"][1],
        serde_json::json!({"prefix": "172.31.2.0/24", "origin": "static", "bridge": "br0", "gateway": "172.31.1.2", "source": "172.31.1.1"})
    );
    let answered = vm.ping_until_answered("10.2.2.2", 5, 5);
    assert!(answered.is_ok(), "no answer through the gateway:\n{}\n{}", answered.unwrap_err(), switch.stderr());
    let via_gateway = format!("eth(src=02:00:00:00:aa:01,dst={gateway_mac}),ipv4(src=172.31.1.1,dst=172.31.2.2,");
    assert!(trace().contains(&via_gateway), "{}", trace());
    let pmd_after: serde_json::Value = switch.json(&["pmd-stats"]);
    let flushes = |pmd: &serde_json::Value| {
        pmd["pmds"].as_array().unwrap().iter().map(|p| p["cache_flushes"].as_u64().unwrap()).sum::<u64>()
    };
    assert_eq!(flushes(&pmd_after), flushes(&pmd_before), "a route change flushed the caches");

    // A more specific route through another gateway moves the traffic there (nobody answers for
    // 02:00:00:00:bb:03), its deletion moves it back.
    let replaced: serde_json::Value = switch.json(&["route-add", "172.31.2.2/32", "br0", "172.31.1.3"]);
    assert_eq!(replaced["added"]["prefix"], "172.31.2.2/32", "{replaced:#}");
    assert!(replaced["removed"].is_null(), "{replaced:#}");
    assert!(trace().contains("eth(src=02:00:00:00:aa:01,dst=02:00:00:00:bb:03)"), "{}", trace());
    assert!(!vm.ping("10.2.2.2", 3).success(), "answered through a gateway that is not there");
    let deleted: serde_json::Value = switch.json(&["route-del", "172.31.2.2/32"]);
    assert_eq!(deleted["removed"]["gateway"], "172.31.1.3", "{deleted:#}");
    assert!(trace().contains(&via_gateway), "{}", trace());
    assert!(vm.ping_until_answered("10.2.2.2", 3, 3).is_ok(), "the traffic did not come back to 172.31.1.2");

    // Without the route the tunnel stops again.
    assert_eq!(switch.vsctl_ok(&["route-del", "172.31.2.0/24"]), "");
    assert!(!switch.vsctl_ok(&["route-show"]).contains("172.31.2.0/24"));
    assert!(trace().contains("tunnel not sent: NoRoute"), "{}", trace());
    let stopped = dropped(&switch.port_stats());
    assert!(!vm.ping("10.2.2.2", 2).success(), "an answer after route-del");
    assert!(dropped(&switch.port_stats()) > stopped, "no tunnel_no_route drop after route-del");

    // The tunnel port goes as it came.
    switch.vsctl_ok(&["del-port", "vx1"]);
    assert!(switch.show().port("vx1").is_none());
    refused(&["del-port", "vx1"], 1, "no port named \"vx1\"");
    switch.stop();
}

/// A next hop that cached flows send through is probed (a unicast ARP request) shortly before
/// it would age out, and the kernel's answer keeps it: with learned next hops aging after 2 s,
/// 8 s of cached pings lose nothing, hold no packet for ARP and never ask by broadcast again.
/// Once the pings stop, nothing uses it and it ages out.
#[test]
fn a_next_hop_in_use_is_probed_before_it_ages_out() {
    let dir = TestDir::new("tunnels_probe");
    let (_underlay, vm, switch) = vtep_setup(&dir, "vp", 2);
    let peer = "172.31.1.2";
    let answered = vm.ping_until_answered("10.1.1.2", 3, 5);
    assert!(answered.is_ok(), "no answer across the tunnel:\n{}", answered.unwrap_err());
    let before = neighbours(&switch);

    let pinged = sh_in(&vm, "ping -n -q -c 40 -i 0.2 -W 1 10.1.1.2").stdout;
    let after = neighbours(&switch);
    let count = |counters: &serde_json::Value, name: &str| counters[name].as_u64().unwrap_or(u64::MAX);
    eprintln!("8 s of pings through a next hop aging after 2 s: before {before}\nafter {after}");
    assert!(pinged.contains(" 0% packet loss"), "{pinged}");
    assert_eq!(count(&after, "held"), count(&before, "held"), "a packet waited for ARP: the entry aged out");
    assert_eq!(count(&after, "requests"), count(&before, "requests"), "asked by broadcast again");
    assert!(count(&after, "probes") >= 3, "probes: {after}");
    assert_eq!(neighbour(&switch, peer)["state"], "reachable");

    let aged = vswitch_e2e::wait::poll(Duration::from_secs(8), || neighbour(&switch, peer).is_null().then_some(()));
    assert!(aged.is_some(), "an unused next hop did not age out: {}", neighbour(&switch, peer));
    switch.stop();
}
