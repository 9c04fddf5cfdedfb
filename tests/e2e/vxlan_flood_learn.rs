//! The flood-and-learn VXLAN VTEP of RFC 7348 section 4 against Linux kernel VTEPs. The
//! underlay is a Linux bridge (`ulbr`, multicast snooping off) in namespace "ul" joining the
//! switch's br0 (AF_PACKET port on a veth, VTEP 172.31.1.1/24 on LOCAL) and two kernel VTEPs
//! of VNI 42 in namespaces of their own (172.31.1.3 and .4, overlay 10.1.1.3 and .4); a host
//! (10.1.1.1) sits behind the switch's br-int with the flood-and-learn port.
//! - Over a multicast group (239.1.1.1): the switch joins it (IGMPv3 report seen on the
//!   underlay), a ping floods the ARP to the group, both sides learn (the kernel's fdb names
//!   172.31.1.1, vtep-show the kernel's MAC behind 172.31.1.3), then the traffic is unicast (no
//!   group-addressed packet on the underlay) and the learned entries age out.
//! - With head-end replication (`remote_ip = "flood:172.31.1.3,172.31.1.4"`, the kernels with
//!   `bridge fdb append 00:00:00:00:00:00 ... dst`): a broadcast reaches each VTEP exactly once.
//!
//! Packets on the underlay are counted by a time-bounded Python AF_PACKET sniffer on the
//! bridge port towards the switch (it reads what tcpdump would, and also parses the inner
//! Ethernet type and the IGMP records this test checks, without a capture tool's start-up race).
#![forbid(unsafe_code)]
use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use vswitch_e2e::netns::Namespace;
use vswitch_e2e::overlay::{no_ipv6, sh, sh_in_ok};
use vswitch_e2e::{PortSpec, SwitchConfig, TestDir, Vswitchd};

const VTEP_MAC: &str = "02:00:00:00:aa:01";

/// The underlay: namespace `ul` with bridge `ulbr` (multicast snooping off: it floods the
/// group); the switch's AF_PACKET veth `phy` (outside) is bridge port `u0`; the host's veth
/// `host_port` (outside) has `vm0` in `vm` with 10.1.1.1/24.
fn underlay(ul: &Namespace, vm: &Namespace, phy: &str, host_port: &str) {
    for ns in [ul, vm] {
        no_ipv6(ns);
    }
    sh(&format!(
        "ip -n {ul} link add ulbr type bridge mcast_snooping 0; ip -n {ul} link set ulbr up; \
         ip link del {phy} 2>/dev/null || true; ip link add {phy} type veth peer name u0 netns {ul}; \
         ethtool -K {phy} tx off >/dev/null; sysctl -qw net.ipv6.conf.{phy}.disable_ipv6=1; ip link set {phy} up; \
         ip netns exec {ul} ethtool -K u0 tx off >/dev/null; ip -n {ul} link set u0 master ulbr up; \
         ip link del {host_port} 2>/dev/null || true; ip link add {host_port} type veth peer name vm0 netns {vm}; \
         ethtool -K {host_port} tx off >/dev/null; sysctl -qw net.ipv6.conf.{host_port}.disable_ipv6=1; \
         ip link set {host_port} up; \
         ip netns exec {vm} ethtool -K vm0 tx off >/dev/null; ip -n {vm} link set vm0 mtu 1450; \
         ip -n {vm} addr add 10.1.1.1/24 dev vm0; ip -n {vm} link set vm0 up",
        ul = ul.name(),
        vm = vm.name()
    ));
}

/// A kernel VTEP in `k`: `e0` (bridge port `port` of ulbr) with `underlay_ip`/24, `vx0` of VNI
/// 42 with `vxlan_args` and `overlay_ip`/24. Returns vx0's MAC.
fn kernel_vtep(
    ul: &Namespace,
    k: &Namespace,
    port: &str,
    underlay_ip: &str,
    overlay_ip: &str,
    vxlan_args: &str,
) -> String {
    no_ipv6(k);
    sh(&format!(
        "ip -n {ul} link add {port} type veth peer name e0 netns {k}; ip -n {ul} link set {port} master ulbr up; \
         ip netns exec {k} ethtool -K e0 tx off >/dev/null; \
         ip -n {k} addr add {underlay_ip}/24 dev e0; ip -n {k} link set e0 up; \
         ip -n {k} link add vx0 type vxlan id 42 {vxlan_args} dev e0 dstport 4789 ttl 5; \
         ip -n {k} link set vx0 mtu 1450; ip -n {k} addr add {overlay_ip}/24 dev vx0; ip -n {k} link set vx0 up",
        ul = ul.name(),
        k = k.name()
    ));
    k.mac("vx0")
}

/// The switch: br0 the underlay (NORMAL, VTEP 172.31.1.1/24, port `phy`), br-int (NORMAL) with
/// the host's port and flood-and-learn port vx0 (VNI 42, `remote_ip`, learning aging 30 s).
fn switch(dir: &TestDir, phy: &str, host_port: &str, remote_ip: &str) -> Vswitchd {
    switch_with(dir, phy, host_port, remote_ip, 30, "flows = [\"actions=NORMAL\"]", "")
}

/// `switch`, with vx0's `learn_aging`, br-int's `settings` (TOML keys) and `more_ports` (TOML
/// port tables) on br-int after vx0.
fn switch_with(
    dir: &TestDir,
    phy: &str,
    host_port: &str,
    remote_ip: &str,
    learn_aging: u32,
    settings: &str,
    more_ports: &str,
) -> Vswitchd {
    let config = SwitchConfig::new(dir)
        .flow("actions=NORMAL")
        .bridge_setting("mac", &format!("\"{VTEP_MAC}\""))
        .bridge_setting("addresses", "[\"172.31.1.1/24\"]")
        .port(PortSpec::dpdk("phy", 1, &format!("net_af_packet0,iface={phy}")))
        .more_toml(&format!(
            "[[bridge]]\nname = \"br-int\"\n{settings}\n\
             [[bridge.port]]\nname = \"vm\"\ntype = \"dpdk\"\ndevargs = \"net_af_packet1,iface={host_port}\"\nofport = 1\n\
             [[bridge.port]]\nname = \"vx0\"\ntype = \"vxlan\"\nofport = 2\n\
             options = {{ remote_ip = \"{remote_ip}\", key = 42, ttl = 5, learn_aging = {learn_aging} }}\n{more_ports}"
        ));
    Vswitchd::start(dir, &config)
}

/// What the sniffer saw: VXLAN packets (outer source, destination, inner Ethernet type) and
/// IGMPv3 reports (source, first record's type and group).
#[derive(Debug, Default)]
struct Seen {
    vxlan: Vec<(String, String, String)>,
    igmp: Vec<(String, u8, String)>,
}

const SNIFFER: &str = r#"
import socket, struct, sys, time
iface, seconds = sys.argv[1], float(sys.argv[2])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
s.bind((iface, 0))
s.settimeout(0.1)
print("ready", file=sys.stderr, flush=True)
end = time.time() + seconds
while time.time() < end:
    try:
        f = s.recv(65535)
    except OSError:
        # A timeout, or the link bouncing (ENETDOWN) while the switch opens its port.
        continue
    if len(f) < 34 or f[12:14] != b'\x08\x00':
        continue
    ihl = (f[14] & 15) * 4
    src, dst, l4 = socket.inet_ntoa(f[26:30]), socket.inet_ntoa(f[30:34]), 14 + ihl
    if f[23] == 17 and len(f) >= l4 + 30 and struct.unpack('!H', f[l4 + 2:l4 + 4])[0] == 4789:
        inner = l4 + 16
        print('vxlan', src, dst, '0x%04x' % struct.unpack('!H', f[inner + 12:inner + 14])[0], flush=True)
    elif f[23] == 2 and len(f) >= l4 + 16 and f[l4] == 0x22:
        print('igmp', src, f[l4 + 8], socket.inet_ntoa(f[l4 + 12:l4 + 16]), flush=True)
"#;

/// A sniffer on `iface` of `ns` for `seconds`, capturing once this returns.
struct Sniffer {
    child: Child,
    stderr: std::process::ChildStderr,
}

impl Sniffer {
    fn start(ns: &Namespace, iface: &str, seconds: u32) -> Sniffer {
        let mut child = Command::new("ip")
            .args(["netns", "exec", ns.name(), "python3", "-c", SNIFFER, iface, &seconds.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cannot start the sniffer");
        let mut stderr = child.stderr.take().expect("sniffer stderr");
        let mut ready = [0u8; 5];
        stderr.read_exact(&mut ready).expect("the sniffer did not start");
        assert_eq!(&ready, b"ready");
        Sniffer { child, stderr }
    }

    fn finish(mut self) -> Seen {
        let output = self.child.wait_with_output().expect("sniffer");
        let mut errors = String::new();
        let _ = self.stderr.read_to_string(&mut errors);
        assert!(output.status.success(), "sniffer failed: {output:?}\n{errors}");
        let mut seen = Seen::default();
        for line in String::from_utf8_lossy(&output.stdout).lines() {
            let words: Vec<&str> = line.split_whitespace().collect();
            match words.as_slice() {
                ["vxlan", src, dst, inner] => seen.vxlan.push((src.to_string(), dst.to_string(), inner.to_string())),
                ["igmp", src, record, group] => {
                    seen.igmp.push((src.to_string(), record.parse().unwrap_or(0), group.to_string()))
                }
                _ => {}
            }
        }
        seen
    }
}

impl Seen {
    fn to(&self, dst: &str) -> usize {
        self.vxlan.iter().filter(|(_, d, _)| d == dst).count()
    }
}

/// The learned entries of port vx0: (MAC, remote).
fn learned(switch: &Vswitchd) -> (Vec<(String, String)>, serde_json::Value) {
    let reply: serde_json::Value = switch.json(&["vtep-show", "vx0"]);
    let port = reply["ports"][0].clone();
    let entries = port["entries"]
        .as_array()
        .map(|entries| {
            entries
                .iter()
                .map(|e| (e["mac"].as_str().unwrap_or("").to_string(), e["remote"].as_str().unwrap_or("").to_string()))
                .collect()
        })
        .unwrap_or_default();
    (entries, port)
}

#[test]
fn flood_and_learn_over_a_multicast_group() {
    let dir = TestDir::new("vxlan-flood-learn");
    let (ul, vm, k1, k2) = (
        Namespace::create(&dir, "ul"),
        Namespace::create(&dir, "vm"),
        Namespace::create(&dir, "k1"),
        Namespace::create(&dir, "k2"),
    );
    let pid = std::process::id() % 100_000;
    let (phy, host_port) = (format!("fgu{pid}"), format!("fgv{pid}"));
    underlay(&ul, &vm, &phy, &host_port);
    let group = "group 239.1.1.1";
    let k1_mac = kernel_vtep(&ul, &k1, "k1", "172.31.1.3", "10.1.1.3", group);
    kernel_vtep(&ul, &k2, "k2", "172.31.1.4", "10.1.1.4", group);
    // Watching the underlay from before the switch starts until after the first ping.
    let flooding = Sniffer::start(&ul, "u0", 8);
    let switch = switch(&dir, &phy, &host_port, "239.1.1.1");
    let (_, port) = learned(&switch);
    assert_eq!((&port["group"], &port["vni"]), (&"239.1.1.1".into(), &42.into()), "{port:#}");
    let flushes_before = cache_flushes(&switch);

    // The first ping floods its ARP to the group; everybody learns.
    let answered = vm.ping_until_answered("10.1.1.3", 3, 4);
    let flooding = flooding.finish();
    assert!(answered.is_ok(), "no answer across the group:\n{}\n{}", answered.unwrap_err(), switch.stderr());
    // The switch joined the group: IGMPv3 reports (change to exclude, no source) on the underlay.
    assert!(
        flooding.igmp.iter().any(|(src, record, g)| src == "172.31.1.1" && *record == 4 && g == "239.1.1.1"),
        "no IGMPv3 join of 239.1.1.1 from the switch: {flooding:?}\n{}",
        switch.stderr()
    );
    assert_eq!(learned(&switch).1["joined_on"], "br0");
    assert!(
        flooding.vxlan.iter().any(|(src, dst, inner)| src == "172.31.1.1" && dst == "239.1.1.1" && inner == "0x0806"),
        "the ARP request was not flooded to the group: {flooding:?}"
    );
    let fdb = sh_in_ok(&k1, "bridge fdb show dev vx0");
    assert!(fdb.contains("dst 172.31.1.1"), "the kernel did not learn our VTEP: {fdb}");
    let (entries, port) = learned(&switch);
    assert!(entries.contains(&(k1_mac.clone(), "172.31.1.3".to_string())), "not learned: {port:#}");
    assert!(port["learned"].as_u64().unwrap_or(0) >= 1, "{port:#}");
    let text = switch.vsctl_ok(&["vtep-show"]);
    assert!(text.contains("group 239.1.1.1 (joined on br0)") && text.contains(&k1_mac), "{text}");

    // Follow-up traffic is unicast both ways: nothing to the group any more.
    let unicast = Sniffer::start(&ul, "u0", 3);
    let answered = vm.ping_until_answered("10.1.1.3", 5, 1);
    let unicast = unicast.finish();
    assert!(answered.is_ok(), "the unicast ping failed:\n{}", answered.unwrap_err());
    assert_eq!(unicast.to("239.1.1.1"), 0, "group traffic after learning: {unicast:?}");
    assert!(unicast.to("172.31.1.3") >= 5 && unicast.to("172.31.1.1") >= 5, "not unicast: {unicast:?}");
    assert_eq!(unicast.to("172.31.1.4"), 0, "{unicast:?}");
    // Learning revalidated the cached flows that read the entries; it flushed nothing.
    assert_eq!(cache_flushes(&switch), flushes_before, "learning flushed the PMDs' caches");

    // An IGMP general query on the underlay is answered with a report.
    let answering = Sniffer::start(&ul, "u0", 2);
    let query = "import socket; s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW); s.bind(('ulbr', 0)); \
                 s.send(bytes([1, 0, 0x5e, 0, 0, 1, 2, 0, 0, 0, 0, 9, 8, 0, 0x45, 0, 0, 28, 0, 0, 0, 0, 1, 2, 0, 0, \
                 172, 31, 1, 9, 224, 0, 0, 1, 0x11, 100, 0xee, 0x9b, 0, 0, 0, 0]))";
    sh_in_ok(&ul, &format!("python3 -c \"{query}\""));
    let answering = answering.finish();
    assert!(
        answering.igmp.iter().any(|(src, record, g)| src == "172.31.1.1" && *record == 4 && g == "239.1.1.1"),
        "the query was not answered: {answering:?}"
    );

    // Unused, the learned entries age out (learn_aging 30 s).
    let aged = vswitch_e2e::wait::poll(Duration::from_secs(60), || {
        let (entries, port) = learned(&switch);
        (entries.is_empty() && port["aged"].as_u64().unwrap_or(0) >= 1).then_some(())
    });
    assert!(aged.is_some(), "not aged: {:#}", learned(&switch).1);

    // The port goes: the switch leaves the group (change to include, no source).
    let leaving = Sniffer::start(&ul, "u0", 2);
    switch.vsctl_ok(&["del-port", "vx0"]);
    let leaving = leaving.finish();
    assert!(
        leaving.igmp.iter().any(|(src, record, g)| src == "172.31.1.1" && *record == 3 && g == "239.1.1.1"),
        "no leave: {leaving:?}"
    );
    assert_eq!(switch.vsctl_ok(&["vtep-show"]), "no flood-and-learn ports\n");
    switch.stop();
}

/// The datapath versions every PMD took so far (revalidated or flushed).
fn versions_taken(switch: &Vswitchd) -> u64 {
    let stats: serde_json::Value = switch.json(&["pmd-stats"]);
    let count = |key: &str| -> u64 {
        stats["pmds"].as_array().map_or(0, |pmds| pmds.iter().filter_map(|p| p[key].as_u64()).sum())
    };
    count("revalidations") + count("cache_flushes")
}

/// Cache flushes of every PMD so far.
fn cache_flushes(switch: &Vswitchd) -> u64 {
    let stats: serde_json::Value = switch.json(&["pmd-stats"]);
    stats["pmds"].as_array().map_or(0, |pmds| pmds.iter().filter_map(|p| p["cache_flushes"].as_u64()).sum())
}

#[test]
fn head_end_replication_reaches_each_vtep_once() {
    let dir = TestDir::new("vxlan-her");
    let (ul, vm, k1, k2) = (
        Namespace::create(&dir, "ul"),
        Namespace::create(&dir, "vm"),
        Namespace::create(&dir, "k1"),
        Namespace::create(&dir, "k2"),
    );
    let pid = std::process::id() % 100_000;
    let (phy, host_port) = (format!("fhu{pid}"), format!("fhv{pid}"));
    underlay(&ul, &vm, &phy, &host_port);
    let k1_mac = kernel_vtep(&ul, &k1, "k1", "172.31.1.3", "10.1.1.3", "local 172.31.1.3");
    let k2_mac = kernel_vtep(&ul, &k2, "k2", "172.31.1.4", "10.1.1.4", "local 172.31.1.4");
    for (k, peer) in [(&k1, "172.31.1.4"), (&k2, "172.31.1.3")] {
        sh_in_ok(
            k,
            &format!(
                "bridge fdb append 00:00:00:00:00:00 dev vx0 dst 172.31.1.1; \
                 bridge fdb append 00:00:00:00:00:00 dev vx0 dst {peer}"
            ),
        );
    }
    let switch = switch(&dir, &phy, &host_port, "flood:172.31.1.3,172.31.1.4");
    let (_, port) = learned(&switch);
    assert_eq!(port["flood"], serde_json::json!(["172.31.1.3", "172.31.1.4"]), "{port:#}");
    assert!(port["group"].is_null(), "{port:#}");

    // The first broadcast: both VTEPs' next hops unknown, both copies wait for ARP and go once.
    broadcast_reaches_each_vtep_once(&ul, &vm, 0x77);
    let neighbours: serde_json::Value = switch.json(&["neigh-show", "br0"]);
    assert!(neighbours["bridges"][0]["released"].as_u64().unwrap_or(0) >= 2, "copies not held: {neighbours:#}");

    // Both kernels answer across the replicated ARP; the switch learns where each is.
    for target in ["10.1.1.3", "10.1.1.4"] {
        let answered = vm.ping_until_answered(target, 3, 4);
        assert!(answered.is_ok(), "no answer from {target}:\n{}\n{}", answered.unwrap_err(), switch.stderr());
    }
    let (entries, port) = learned(&switch);
    assert!(entries.contains(&(k1_mac, "172.31.1.3".to_string())), "{port:#}");
    assert!(entries.contains(&(k2_mac, "172.31.1.4".to_string())), "{port:#}");

    // Another broadcast, the next hops known: one copy to each VTEP again.
    broadcast_reaches_each_vtep_once(&ul, &vm, 0x78);
    switch.stop();
}

/// The host sends one broadcast frame (an experimental ethertype, source MAC ending in
/// `marker`): the switch sends exactly one copy to each listed VTEP.
fn broadcast_reaches_each_vtep_once(ul: &Namespace, vm: &Namespace, marker: u8) {
    let sniffer = Sniffer::start(ul, "u0", 3);
    let send = format!(
        "import socket; s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW); s.bind(('vm0', 0)); \
         s.send(b'\\xff' * 6 + bytes([2, 0, 0, 0, 0, {marker}]) + b'\\x88\\xb5' + bytes(46))"
    );
    sh_in_ok(vm, &format!("python3 -c \"{send}\""));
    let seen = sniffer.finish();
    let copies: Vec<&(String, String, String)> = seen.vxlan.iter().filter(|(_, _, inner)| inner == "0x88b5").collect();
    let to = |dst: &str| copies.iter().filter(|(src, d, _)| src == "172.31.1.1" && d == dst).count();
    assert_eq!((to("172.31.1.3"), to("172.31.1.4"), copies.len()), (1, 1, 2), "{seen:?}");
}

/// Cached traffic keeps alive what its first packets learned (`pipeline::keepalive`). Every
/// aging is 2 s: br-int's `mac_aging`, vx0's `learn_aging` and the hard timeout of the rules a
/// learn action on br-int builds in table 10 (Neutron's br-tun learns the same way, with
/// hard_timeout=300). After the first ping learned everything, 7 s of pings - after their first
/// packets, one cached megaflow per direction, which upcall no more - keep NORMAL's two entries,
/// the VTEP entry and both learned rules: nothing aged or learned again, ages below the aging,
/// rules older than their hard timeout, and no frame flooded (none to br-int's sink port, none
/// to the group on the underlay). Once the pings stop, all of it ages out.
#[test]
fn cached_traffic_keeps_what_it_learned_alive() {
    let dir = TestDir::new("vxlan-keepalive");
    let (ul, vm, k1) = (Namespace::create(&dir, "ul"), Namespace::create(&dir, "vm"), Namespace::create(&dir, "k1"));
    let pid = std::process::id() % 100_000;
    let (phy, host_port) = (format!("fku{pid}"), format!("fkv{pid}"));
    underlay(&ul, &vm, &phy, &host_port);
    let k1_mac = kernel_vtep(&ul, &k1, "k1", "172.31.1.3", "10.1.1.3", "group 239.1.1.1");
    let vm_mac = vm.mac("vm0");
    let learn = "learn(table=10,hard_timeout=2,NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],output:NXM_OF_IN_PORT[])";
    let switch = switch_with(
        &dir,
        &phy,
        &host_port,
        "239.1.1.1",
        2,
        &format!("flows = [\"actions={learn},NORMAL\"]\nmac_aging = 2"),
        "[[bridge.port]]\nname = \"sink\"\ntype = \"dpdk\"\ndevargs = \"net_null0,no-rx=1\"\nofport = 3\n",
    );
    let answered = vm.ping_until_answered("10.1.1.3", 3, 4);
    assert!(answered.is_ok(), "no answer across the group:\n{}\n{}", answered.unwrap_err(), switch.stderr());
    let fdb = |switch: &Vswitchd| switch.json::<serde_json::Value>(&["fdb-show", "br-int"]);
    let entries = |fdb: &serde_json::Value| -> Vec<(String, String, u64)> {
        fdb["entries"]
            .as_array()
            .map(|entries| {
                entries
                    .iter()
                    .map(|e| {
                        let text = |key: &str| e[key].as_str().unwrap_or("").to_string();
                        (text("port"), text("mac"), e["age_ms"].as_u64().unwrap_or(u64::MAX))
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let learned_rules = |switch: &Vswitchd| -> Vec<String> {
        switch.vsctl_ok(&["dump-flows", "br-int", "table=10"]).lines().map(str::to_string).collect()
    };
    let sink_tx = |switch: &Vswitchd| {
        switch.port_stats().ports.iter().find(|p| p.name == "sink").map_or(u64::MAX, |p| p.tx_packets)
    };
    let before = fdb(&switch);
    let where_learned = |fdb: &serde_json::Value| -> Vec<(String, String)> {
        let mut found: Vec<(String, String)> = entries(fdb).into_iter().map(|(port, mac, _)| (port, mac)).collect();
        found.sort();
        found
    };
    assert_eq!(
        where_learned(&before),
        [("vm".to_string(), vm_mac.clone()), ("vx0".to_string(), k1_mac.clone())],
        "{before:#}"
    );
    let (_, vtep_before) = learned(&switch);
    assert_eq!(learned_rules(&switch).len(), 2, "{}", switch.vsctl_ok(&["dump-flows", "br-int"]));
    let flooded_before = sink_tx(&switch);
    let versions_before = versions_taken(&switch);

    // 7 s of cached traffic, over three agings.
    let steady = Sniffer::start(&ul, "u0", 8);
    let pinged = vm.ping("10.1.1.3", 35);
    assert!(pinged.success() && pinged.stdout.contains(" 0% packet loss"), "{pinged}");
    let after = fdb(&switch);
    let (vtep_entries, vtep_after) = learned(&switch);
    let rules = learned_rules(&switch);
    let flooded_after = sink_tx(&switch);
    let versions_after = versions_taken(&switch);
    let steady = steady.finish();
    assert_eq!(where_learned(&after), where_learned(&before), "{after:#}");
    assert!(entries(&after).iter().all(|(_, _, age)| *age < 2000), "an entry not refreshed: {after:#}");
    for counter in ["learned", "aged", "moved", "evicted"] {
        assert_eq!(after[counter], before[counter], "MAC table {counter} changed: {before:#}\n{after:#}");
        assert_eq!(vtep_after[counter], vtep_before[counter], "VTEP {counter} changed: {vtep_after:#}");
    }
    assert_eq!(vtep_entries, [(k1_mac.clone(), "172.31.1.3".to_string())], "{vtep_after:#}");
    assert!(
        vtep_after["entries"][0]["age_ms"].as_u64().is_some_and(|age| age < 2000),
        "the VTEP entry was not refreshed: {vtep_after:#}"
    );
    assert_eq!(flooded_after, flooded_before, "NORMAL flooded to the sink: {after:#}");
    // The refreshes are no change: not one datapath version while the traffic flowed.
    assert_eq!(versions_after, versions_before, "datapath versions during steady traffic");
    assert_eq!(steady.to("239.1.1.1"), 0, "flooded to the group: {steady:?}");
    assert!(steady.to("172.31.1.3") >= 35 && steady.to("172.31.1.1") >= 35, "not unicast: {steady:?}");
    assert_eq!(rules.len(), 2, "{rules:?}");
    for (mac, port) in [(&vm_mac, 1), (&k1_mac, 2)] {
        let line = rules.iter().find(|line| line.contains(&format!("dl_dst={mac} actions=output:{port}")));
        let line = line.unwrap_or_else(|| panic!("no learned rule for {mac}: {rules:?}"));
        // Older than its hard timeout, and the hard timeout counts from the last refresh.
        let seconds = |key: &str| -> Option<f64> {
            let from = line.find(&format!("{key}="))? + key.len() + 1;
            line[from..].split([',', 's']).next()?.parse().ok()
        };
        assert!(seconds("duration").is_some_and(|d| d >= 7.0), "{line}");
        assert!(seconds("hard_age").is_some_and(|age| age < 2.0), "{line}");
    }

    // Traffic stops: each ages out (2 s after its last refresh, within a second of checks).
    let aged = vswitch_e2e::wait::poll(Duration::from_secs(15), || {
        let fdb = fdb(&switch);
        let (vteps, _) = learned(&switch);
        (entries(&fdb).is_empty() && vteps.is_empty() && learned_rules(&switch).is_empty()).then_some(fdb)
    });
    let aged = aged.unwrap_or_else(|| {
        panic!("not aged: {:#}\n{:#}\n{:?}", fdb(&switch), learned(&switch).1, learned_rules(&switch))
    });
    assert_eq!(aged["aged"].as_u64(), before["aged"].as_u64().map(|n| n + 2), "{aged:#}");
    assert_eq!(learned(&switch).1["aged"].as_u64(), vtep_before["aged"].as_u64().map(|n| n + 1));
    switch.stop();
}
