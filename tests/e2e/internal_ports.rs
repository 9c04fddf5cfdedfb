//! Kernel-facing ports: an `internal` port and a bridge's LOCAL interface (`local_interface`)
//! are kernel interfaces (DPDK net_tap) the host's stack owns addresses on.
//! - An internal port on br0 gets an address; the host pings a "VM" (a namespace on a net_tap
//!   port) through the bridge both ways and sends it 1 MB over TCP each way, compared byte for
//!   byte; port-stats counts the port, and what the kernel refuses (the interface down) as
//!   tx_failed; del-port removes the kernel interface; add-port creates
//!   one at run time and refuses a name Linux cannot take or that is taken.
//! - A bridge with `local_interface = true` has a kernel interface named after it as OpenFlow port
//!   LOCAL, with the bridge's MAC: `in_port=LOCAL` and `output:LOCAL` rules carry the host's
//!   traffic, FLOOD and NORMAL include LOCAL, ovs-ofctl lists it (port-desc, dump-ports), and it
//!   cannot be deleted as a port.
//! - On an underlay bridge, whose LOCAL port is the switch's own stack, an internal port gives the
//!   host its interface on the underlay network beside it.
//! - Bad configurations are refused with a message naming the key and why.
//!
//! The kernel interfaces are created by vswitchd in the test's network namespace and moved into
//! namespaces of the test, so the host's own addresses and routes never change; their names carry
//! the test's pid.
#![forbid(unsafe_code)]
use std::time::Duration;

use vswitch_e2e::netns::Namespace;
use vswitch_e2e::ofctl::{ofctl_ok, unix_target};
use vswitch_e2e::overlay::{address, ifname, payload, sh_in, sh_in_ok, tcp_transfer, veth};
use vswitch_e2e::vswitchd::check_config;
use vswitch_e2e::{wait, PortSpec, SwitchConfig, TestDir, Vswitchd};

/// Bytes of each TCP transfer.
const TRANSFER_BYTES: usize = 1 << 20;
/// How long a removed port's kernel interface may take to disappear.
const GONE_LIMIT: Duration = Duration::from_secs(5);
/// How long a counter may take to move.
const LIMIT: Duration = Duration::from_secs(5);

/// Whether `interface` exists inside `ns` (or in the test's own namespace).
fn interface_exists(ns: Option<&Namespace>, interface: &str) -> bool {
    match ns {
        Some(ns) => sh_in(ns, &format!("ip link show dev {interface}")).success(),
        None => std::path::Path::new("/sys/class/net").join(interface).exists(),
    }
}

/// Waits (bounded) until `interface` is gone from `ns`; panics if it stays.
fn assert_gone(ns: Option<&Namespace>, interface: &str) {
    let gone = wait::poll(GONE_LIMIT, || (!interface_exists(ns, interface)).then_some(()));
    assert!(gone.is_some(), "kernel interface {interface} still exists {GONE_LIMIT:?} after del-port");
}

#[test]
fn internal_port_carries_host_traffic_to_a_vm() {
    let dir = TestDir::new("internal-port");
    let host = Namespace::create(&dir, "host");
    let vm = Namespace::create(&dir, "vm");
    let (host_if, vm_if) = (ifname("iph"), ifname("ipv"));
    let config = SwitchConfig::new(&dir)
        .flow("actions=NORMAL")
        .port(PortSpec::tap("vm", 1, 0, &vm_if))
        .port(PortSpec::internal(&host_if, 2));
    let switch = Vswitchd::start(&dir, &config);
    let show = switch.show();
    let port = show.port(&host_if).expect("the internal port in show");
    assert_eq!((port.kind.as_str(), port.ofport), ("internal", 2), "{port:?}");
    assert!(interface_exists(None, &host_if), "vswitchd made no kernel interface {host_if}");
    host.adopt(&host_if, "10.78.0.1/24");
    vm.adopt(&vm_if, "10.78.0.2/24");

    let there = host.ping_until_answered("10.78.0.2", 3, 5);
    assert!(there.is_ok(), "host -> VM over the internal port:\n{}\n{}", there.unwrap_err(), switch.stderr());
    let back = vm.ping_until_answered("10.78.0.1", 3, 5);
    assert!(back.is_ok(), "VM -> host over the internal port:\n{}", back.unwrap_err());
    let data = payload(TRANSFER_BYTES, 78);
    tcp_transfer(&dir, &host, &vm, "10.78.0.2", 5078, &data).expect("1 MB host -> VM");
    tcp_transfer(&dir, &vm, &host, "10.78.0.1", 5079, &data).expect("1 MB VM -> host");
    // The internal port's device counts the transfers (about 730 full frames each way, and
    // the acknowledgements of the other).
    let stats = switch.port_stats();
    let counted = stats.port(&host_if);
    assert!(counted.rx_bytes > TRANSFER_BYTES as u64, "what the host sent: {counted:?}");
    assert!(counted.tx_bytes > TRANSFER_BYTES as u64, "what the host received: {counted:?}");
    // The kernel refuses packets for an interface that is down (the port's link follows it):
    // counted as tx_failed on the port. (Moving it into the namespace took it down for a moment
    // too, so the count may not start at 0.)
    let refused_before = counted.dropped("tx_failed");
    sh_in_ok(&host, &format!("ip link set {host_if} down"));
    let _ = vm.ping("10.78.0.1", 1);
    switch.wait_for_counters(LIMIT, "tx_failed on the internal port that is down", |stats| {
        stats.port(&host_if).dropped("tx_failed") > refused_before
    });
    sh_in_ok(&host, &format!("ip link set {host_if} up"));
    let again = vm.ping_until_answered("10.78.0.1", 2, 5);
    assert!(again.is_ok(), "VM -> host once the interface is up again:\n{}", again.unwrap_err());

    // del-port removes the kernel interface (from wherever it is now).
    switch.del_port(&host_if);
    assert_gone(Some(&host), &host_if);
    assert!(!host.ping("10.78.0.2", 1).success(), "the host still reaches the VM without its port");

    // add-port makes one at run time; names Linux cannot take or that are taken are refused.
    let added = ifname("ipa");
    switch.add_port(&added, &["type=internal", "ofport=3"]);
    assert!(interface_exists(None, &added), "add-port made no kernel interface {added}");
    switch.del_port(&added);
    assert_gone(None, &added);
    let too_long = switch.vsctl(&["add-port", "br0", "internal-port-16", "type=internal"]);
    assert!(
        !too_long.success() && too_long.stderr.contains("a Linux interface name has at most 15"),
        "a 16-character internal port: {too_long}"
    );
    let taken = switch.vsctl(&["add-port", "br0", "lo", "type=internal"]);
    assert!(
        !taken.success() && taken.stderr.contains("a kernel interface named \"lo\" exists already"),
        "an internal port named like an existing interface: {taken}"
    );
    assert!(switch.show().port("lo").is_none(), "a refused port was added");
    switch.stop();
}

#[test]
fn local_interface_is_openflow_port_local() {
    let dir = TestDir::new("local-interface");
    let local = Namespace::create(&dir, "local");
    let vm1 = Namespace::create(&dir, "vm1");
    let vm2 = Namespace::create(&dir, "vm2");
    let (bridge, vm1_if, vm2_if) = (ifname("ipl"), ifname("ipm"), ifname("ipn"));
    let bridge_toml = format!(
        "[[bridge]]\nname = \"{bridge}\"\nlocal_interface = true\nmac = \"02:00:00:00:78:01\"\n\
         flows = [\"in_port=LOCAL,actions=output:1\", \"in_port=1,actions=output:LOCAL\"]\n\
         [[bridge.port]]\nname = \"vm1\"\ntype = \"dpdk\"\ndevargs = \"net_tap1,iface={vm1_if}\"\nofport = 1\n\
         [[bridge.port]]\nname = \"vm2\"\ntype = \"dpdk\"\ndevargs = \"net_tap2,iface={vm2_if}\"\nofport = 2\n"
    );
    let config = SwitchConfig::new(&dir).more_toml(&bridge_toml);
    let switch = Vswitchd::start(&dir, &config);
    let vsctl_flows = |flow: &str| {
        switch.vsctl_ok(&["del-flows", &bridge]);
        switch.vsctl_ok(&["add-flow", &bridge, flow]);
    };
    let show = switch.show();
    let port = show.port(&bridge).expect("the LOCAL interface in show");
    assert_eq!((port.kind.as_str(), port.ofport), ("internal", 0xfffe), "{port:?}");
    local.adopt(&bridge, "10.79.0.1/24");
    vm1.adopt(&vm1_if, "10.79.0.2/24");
    vm2.adopt(&vm2_if, "10.79.0.3/24");
    assert_eq!(local.mac(&bridge), "02:00:00:00:78:01", "the LOCAL interface has the bridge's MAC");

    // in_port=LOCAL -> 1 and 1 -> LOCAL: the host reaches vm1, and only vm1.
    let answered = local.ping_until_answered("10.79.0.2", 3, 5);
    assert!(
        answered.is_ok(),
        "host -> vm1 by in_port=LOCAL / output:LOCAL:\n{}\n{}",
        answered.unwrap_err(),
        switch.stderr()
    );
    assert!(!local.ping("10.79.0.3", 1).success(), "vm2 answered without a rule to it");
    let flows = switch.vsctl_ok(&["dump-flows", &bridge]);
    assert_eq!(flows.matches("n_packets=0").count(), 0, "both rules carried packets:\n{flows}");

    // FLOOD includes LOCAL (not the input port): everyone reaches everyone.
    vsctl_flows("actions=FLOOD");
    for (from, to) in [(&vm1, "10.79.0.1"), (&vm2, "10.79.0.1"), (&local, "10.79.0.3")] {
        let answered = from.ping_until_answered(to, 2, 5);
        assert!(answered.is_ok(), "{} -> {to} with FLOOD:\n{}", from.name(), answered.unwrap_err());
    }
    // NORMAL learns LOCAL like any port.
    vsctl_flows("actions=NORMAL");
    let answered = vm2.ping_until_answered("10.79.0.1", 3, 5);
    assert!(answered.is_ok(), "vm2 -> host with NORMAL:\n{}", answered.unwrap_err());
    let data = payload(TRANSFER_BYTES, 79);
    tcp_transfer(&dir, &local, &vm2, "10.79.0.3", 5080, &data).expect("1 MB LOCAL -> vm2");

    // OpenFlow sees it as Open vSwitch shows a bridge's local port.
    let mgmt = unix_target(&dir.join(&format!("{bridge}.mgmt")));
    let desc = ofctl_ok("OpenFlow13", &["show", &mgmt]);
    assert!(desc.contains(&format!("LOCAL({bridge}): addr:02:00:00:00:78:01")), "port-desc:\n{desc}");
    let ports = ofctl_ok("OpenFlow13", &["dump-ports", &mgmt, "LOCAL"]);
    assert!(ports.contains("port LOCAL: rx pkts=") && !ports.contains("port  1:"), "dump-ports LOCAL:\n{ports}");
    let stats = switch.port_stats();
    let counted = stats.port(&bridge);
    // (Received by the switch: what the host sent.)
    assert!(counted.ofport == 0xfffe && counted.rx_bytes > TRANSFER_BYTES as u64, "{counted:?}");

    let refused = switch.vsctl(&["del-port", &bridge]);
    assert!(!refused.success() && refused.stderr.contains("is the LOCAL interface of bridge"), "{refused}");
    switch.stop();
}

/// On an underlay bridge (addresses: LOCAL is the switch's own stack) the host gets its interface
/// on the underlay network as an internal port: it reaches the underlay's hosts through NORMAL,
/// and the switch's stack still answers ARP for the tunnel endpoint's address.
#[test]
fn internal_port_beside_the_own_stack_of_an_underlay_bridge() {
    let dir = TestDir::new("internal-underlay");
    let host = Namespace::create(&dir, "host");
    let underlay = Namespace::create(&dir, "ul");
    let (host_if, phy) = (ifname("ipu"), ifname("ipp"));
    veth(&phy, None, "ul0", &underlay, 1500);
    address(&underlay, "ul0", "172.31.78.2/24");
    let config = SwitchConfig::new(&dir)
        .flow("actions=NORMAL")
        .bridge_setting("mac", "\"02:00:00:00:78:aa\"")
        .bridge_setting("addresses", "[\"172.31.78.1/24\"]")
        .port(PortSpec::dpdk("phy", 1, &format!("net_af_packet0,iface={phy}")))
        .port(PortSpec::internal(&host_if, 2));
    let switch = Vswitchd::start(&dir, &config);
    host.adopt(&host_if, "172.31.78.3/24");
    let answered = host.ping_until_answered("172.31.78.2", 3, 5);
    assert!(answered.is_ok(), "host -> underlay peer:\n{}\n{}", answered.unwrap_err(), switch.stderr());
    let back = underlay.ping_until_answered("172.31.78.3", 3, 5);
    assert!(back.is_ok(), "underlay peer -> host:\n{}", back.unwrap_err());
    // The VTEP address is the switch's: its stack answers the host's ARP (it answers no ping).
    let _ = host.ping("172.31.78.1", 1);
    let neigh = sh_in(&host, "ip neigh show 172.31.78.1");
    assert!(neigh.stdout.contains("02:00:00:00:78:aa"), "the host's ARP entry of the VTEP: {neigh}");
    let show = switch.show();
    let local = show.port("br0").expect("the own stack's LOCAL port");
    let internal = show.port(&host_if).expect("the internal port");
    assert_eq!((local.ofport, internal.kind.as_str()), (0xfffe, "internal"), "{show:?}");
    switch.stop();
}

#[test]
fn bad_kernel_interface_configs_are_refused() {
    let dir = TestDir::new("internal-check");
    let bad = [
        (
            "[[bridge]]\nname = \"bridge-of-16-chr\"\nlocal_interface = true",
            "bridge[1].local_interface: the LOCAL interface is named after the bridge: \
             \"bridge-of-16-chr\" is 16 characters long; a Linux interface name has at most 15",
        ),
        (
            "[[bridge]]\nname = \"br1\"\n[[bridge.port]]\nname = \"internal-port-16\"\ntype = \"internal\"",
            "bridge[1].port[0].name: \"internal-port-16\" is 16 characters long",
        ),
        (
            "[[bridge]]\nname = \"br1\"\nlocal_interface = true\naddresses = [\"172.31.1.1/24\"]",
            "bridge[1].local_interface: a bridge with addresses has the switch's own stack as its LOCAL port",
        ),
        (
            "[[bridge]]\nname = \"br1\"\nflows = [\"in_port=LOCAL,actions=drop\"]",
            "bridge \"br1\" has no port with ofport 65534",
        ),
    ];
    for (toml, error) in bad {
        let output = check_config(&SwitchConfig::new(&dir).more_toml(toml).write(&dir, "bad.toml"));
        assert!(!output.success() && output.stderr.contains(error), "expected {error:?}: {output}");
    }
}
