//! Patch ports join bridges within one translation. A Neutron-style layout: the host's port is
//! an access port (VLAN 5) on br-int, which runs NORMAL and is patched to br-tun; br-tun maps
//! VLAN 5 to VNI 1000 on a VXLAN port and back (flows, as Neutron's tunnel bridge does);
//! br0 is the underlay (VTEP 172.31.1.1/24, NORMAL) with an AF_PACKET port into a namespace
//! holding a Linux kernel VXLAN device of VNI 1000. The host pings the kernel's overlay address;
//! the datapath flow of a packet covers br-int, br-tun and br0 (one megaflow, checked with
//! trace); a patch port whose peer is missing or not a patch port is refused in the config.
#![forbid(unsafe_code)]
use vswitch_e2e::netns::Namespace;
use vswitch_e2e::overlay::{address, sh, veth};
use vswitch_e2e::vswitchd::check_config;
use vswitch_e2e::{PortSpec, SwitchConfig, TestDir, Vswitchd};

#[test]
fn neutron_layout_br_int_br_tun_underlay() {
    let dir = TestDir::new("patch-ports");
    let underlay = Namespace::create(&dir, "ul");
    let vm = Namespace::create(&dir, "vm");
    let pid = std::process::id() % 100_000;
    let (phy, vm_port) = (format!("ppu{pid}"), format!("ppv{pid}"));
    veth(&phy, None, "ul0", &underlay, 1500);
    address(&underlay, "ul0", "172.31.1.2/24");
    veth(&vm_port, None, "vm0", &vm, 1450);
    address(&vm, "vm0", "10.1.1.1/24");
    sh(&format!(
        "ip -n {ns} link add vx0 type vxlan id 1000 remote 172.31.1.1 local 172.31.1.2 dstport 4789 dev ul0; \
         ip -n {ns} link set vx0 mtu 1450; ip -n {ns} addr add 10.1.1.2/24 dev vx0; ip -n {ns} link set vx0 up",
        ns = underlay.name()
    ));
    let br_int = format!(
        "[[bridge]]\nname = \"br-int\"\nflows = [\"actions=NORMAL\"]\n\
         [[bridge.port]]\nname = \"vm\"\ntype = \"dpdk\"\ndevargs = \"net_af_packet1,iface={vm_port}\"\nofport = 1\ntag = 5\n\
         [[bridge.port]]\nname = \"patch-tun\"\ntype = \"patch\"\nofport = 2\noptions = {{ peer = \"patch-int\" }}"
    );
    let br_tun = "[[bridge]]\nname = \"br-tun\"\nflows = [\n\
         \"priority=10,in_port=1,dl_vlan=5,actions=strip_vlan,set_tunnel:1000,output:2\",\n\
         \"priority=10,in_port=2,tun_id=1000,actions=mod_vlan_vid:5,output:1\",\n\
         \"priority=0,actions=drop\"]\n\
         [[bridge.port]]\nname = \"patch-int\"\ntype = \"patch\"\nofport = 1\noptions = { peer = \"patch-tun\" }\n\
         [[bridge.port]]\nname = \"vxlan0\"\ntype = \"vxlan\"\nofport = 2\n\
         options = { remote_ip = \"172.31.1.2\", key = \"flow\" }";
    let config = SwitchConfig::new(&dir)
        .flow("actions=NORMAL")
        .bridge_setting("mac", "\"02:00:00:00:aa:01\"")
        .bridge_setting("addresses", "[\"172.31.1.1/24\"]")
        .port(PortSpec::dpdk("phy", 1, &format!("net_af_packet0,iface={phy}")))
        .more_toml(&br_int)
        .more_toml(br_tun);
    let switch = Vswitchd::start(&dir, &config);

    let answered = vm.ping_until_answered("10.1.1.2", 5, 5);
    assert!(
        answered.is_ok(),
        "no answer through br-int, br-tun and the tunnel:\n{}\n{}",
        answered.unwrap_err(),
        switch.stderr()
    );
    // One translation crosses the three bridges: br-int's NORMAL tags the packet for the patch,
    // br-tun strips it and sets the VNI, br0's NORMAL sends the outer packet out of phy.
    let trace =
        switch.vsctl_ok(&["trace", "br-int", "in_port=1,icmp,dl_src=02:00:00:00:00:01,dl_dst=ff:ff:ff:ff:ff:ff"]);
    assert!(trace.contains("patch -> bridge"), "trace: {trace}");
    assert!(trace.contains("tnl_push(vxlan,") && trace.contains("vni=1000"), "trace: {trace}");
    assert!(!trace.contains("push_vlan"), "the VLAN br-int pushes for the patch is stripped again in br-tun: {trace}");
    // The tunnel port counts what it encapsulated and decapsulated.
    let stats = switch.port_stats();
    let vxlan = stats.port("vxlan0");
    assert!(vxlan.rx_packets >= 5 && vxlan.tx_packets >= 5, "vxlan0 counters: {vxlan:?}");
    // br0's NORMAL rule counts the outer packets it forwarded (and the ARP it saw).
    let underlay_flows = switch.vsctl_ok(&["dump-flows", "br0"]);
    assert!(!underlay_flows.contains("n_packets=0"), "br0's rule counts the encapsulated packets: {underlay_flows}");
    // Without its patch port br-int cannot reach br-tun; added back at run time, it can.
    switch.del_port("patch-tun");
    let cut = vm.ping("10.1.1.2", 2);
    assert!(!cut.stdout.contains(" 0% packet loss"), "pings crossed a removed patch port: {cut}");
    switch.vsctl_ok(&["add-port", "br-int", "patch-tun", "type=patch", "options:peer=patch-int", "ofport=2"]);
    let again = vm.ping_until_answered("10.1.1.2", 3, 5);
    assert!(again.is_ok(), "no answer after the patch port came back: {}", again.unwrap_err());
    switch.stop();
}

#[test]
fn patch_port_peers_are_checked() {
    let dir = TestDir::new("patch-check");
    let bad = [
        ("options = { peer = \"nobody\" }", "no port named \"nobody\""),
        ("options = { peer = \"p1\" }", "is not a patch port"),
        ("", "missing; a patch port names its peer"),
    ];
    for (options, error) in bad {
        let config = SwitchConfig::new(&dir).port(PortSpec::dpdk("p1", 1, "net_null0")).more_toml(&format!(
            "[[bridge]]\nname = \"br1\"\n[[bridge.port]]\nname = \"patch1\"\ntype = \"patch\"\nofport = 1\n{options}"
        ));
        let output = check_config(&config.write(&dir, "bad.toml"));
        assert!(!output.success() && output.stderr.contains(error), "expected {error:?}: {output}");
    }
}
