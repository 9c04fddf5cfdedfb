//! A controller drives the tunnel fields: `ovs-ofctl` over br-int's OpenFlow channel installs
//! flows for a flow-based VXLAN port (`remote_ip=flow`, `key=flow`): the way out sets tun_dst
//! and tun_id (OpenFlow 1.3 set_field, NXM fields), the way in matches tun_id and tun_src; the
//! peer is a Linux kernel VTEP in a namespace. The host pings through it, ovs-ofctl's
//! dump-flows shows the tunnel fields as installed, and a packet of another VNI does not match.
//! The same over an IPv6 underlay with tun_ipv6_dst / tun_ipv6_src.
#![forbid(unsafe_code)]

use vswitch_e2e::netns::Namespace;
use vswitch_e2e::ofctl::{flow_lines, ofctl_ok, unix_target};
use vswitch_e2e::overlay::{address, sh, veth};
use vswitch_e2e::{PortSpec, SwitchConfig, TestDir, Vswitchd};

#[test]
fn ovs_ofctl_sets_and_matches_tunnel_fields() {
    let dir = TestDir::new("tunnel-flows");
    let underlay = Namespace::create(&dir, "ul");
    let vm = Namespace::create(&dir, "vm");
    let pid = std::process::id() % 100_000;
    let (phy, vm_port) = (format!("tfu{pid}"), format!("tfv{pid}"));
    veth(&phy, None, "ul0", &underlay, 1500);
    address(&underlay, "ul0", "172.31.1.2/24");
    veth(&vm_port, None, "vm0", &vm, 1450);
    address(&vm, "vm0", "10.1.1.1/24");
    sh(&format!(
        "ip -n {ns} link add vx0 type vxlan id 4000 remote 172.31.1.1 local 172.31.1.2 dstport 4789 dev ul0; \
         ip -n {ns} link set vx0 mtu 1450; ip -n {ns} addr add 10.1.1.2/24 dev vx0; ip -n {ns} link set vx0 up",
        ns = underlay.name()
    ));
    let config = SwitchConfig::new(&dir)
        .flow("actions=NORMAL")
        .bridge_setting("mac", "\"02:00:00:00:aa:01\"")
        .bridge_setting("addresses", "[\"172.31.1.1/24\"]")
        .port(PortSpec::dpdk("phy", 1, &format!("net_af_packet0,iface={phy}")))
        .more_toml(&format!(
            "[[bridge]]\nname = \"br-int\"\n\
             [[bridge.port]]\nname = \"vm\"\ntype = \"dpdk\"\ndevargs = \"net_af_packet1,iface={vm_port}\"\nofport = 1\n\
             [[bridge.port]]\nname = \"vxlan0\"\ntype = \"vxlan\"\nofport = 2\n\
             options = {{ remote_ip = \"flow\", key = \"flow\" }}"
        ));
    let switch = Vswitchd::start(&dir, &config);
    let mgmt = unix_target(&switch.socket().with_file_name("br-int.mgmt"));
    for flow in [
        "in_port=1,actions=set_field:172.31.1.2->tun_dst,set_field:4000->tun_id,output:2",
        "in_port=2,tun_id=4000,tun_src=172.31.1.2,actions=output:1",
    ] {
        ofctl_ok("OpenFlow13", &["add-flow", &mgmt, flow]);
    }
    let answered = vm.ping_until_answered("10.1.1.2", 3, 5);
    assert!(
        answered.is_ok(),
        "no answer through the flow-based tunnel:\n{}\n{}",
        answered.unwrap_err(),
        switch.stderr()
    );
    let dump = ofctl_ok("OpenFlow13", &["dump-flows", &mgmt]);
    let lines = flow_lines(&dump);
    assert!(
        lines
            .iter()
            .any(|l| l.contains("tun_id=0xfa0") && l.contains("tun_src=172.31.1.2") && !l.contains("n_packets=0")),
        "the way in matched: {dump}"
    );
    assert!(
        lines.iter().any(|l| l.contains("set_field:172.31.1.2->tun_dst") && !l.contains("n_packets=0")),
        "the way out was taken: {dump}"
    );
    // Another VNI from the same peer matches no flow of br-int: a table miss, no reply.
    sh(&format!(
        "ip -n {ns} link set vx0 down; ip -n {ns} link del vx0; \
         ip -n {ns} link add vx0 type vxlan id 4001 remote 172.31.1.1 local 172.31.1.2 dstport 4789 dev ul0; \
         ip -n {ns} link set vx0 mtu 1450; ip -n {ns} addr add 10.1.1.2/24 dev vx0; ip -n {ns} link set vx0 up",
        ns = underlay.name()
    ));
    let other = vm.ping("10.1.1.2", 2);
    assert!(!other.stdout.contains(" 0% packet loss"), "VNI 4001 crossed a tun_id=4000 flow: {other}");
    let misses = switch.port_stats().port("vxlan0").dropped("table_miss");
    assert!(
        misses > 0,
        "the other VNI's packets are table misses of the tunnel port: {:?}",
        switch.port_stats().port("vxlan0")
    );
    switch.stop();
}

#[test]
fn ovs_ofctl_sets_and_matches_ipv6_tunnel_fields() {
    let dir = TestDir::new("tunnel-flows6");
    let underlay = Namespace::create(&dir, "ul6");
    let vm = Namespace::create(&dir, "vm6");
    let pid = std::process::id() % 100_000;
    let (phy, vm_port) = (format!("tf6u{pid}"), format!("tf6v{pid}"));
    veth(&phy, None, "ul0", &underlay, 1500);
    address(&underlay, "ul0", "fd00:31::2/64");
    veth(&vm_port, None, "vm0", &vm, 1430);
    address(&vm, "vm0", "10.1.2.1/24");
    sh(&format!(
        "ip -n {ns} link add vx0 type vxlan id 4000 remote fd00:31::1 local fd00:31::2 dstport 4789 dev ul0; \
         ip -n {ns} link set vx0 mtu 1430; ip -n {ns} addr add 10.1.2.2/24 dev vx0; ip -n {ns} link set vx0 up",
        ns = underlay.name()
    ));
    let config = SwitchConfig::new(&dir)
        .flow("actions=NORMAL")
        .bridge_setting("mac", "\"02:00:00:00:aa:06\"")
        .bridge_setting("addresses", "[\"fd00:31::1/64\"]")
        .port(PortSpec::dpdk("phy", 1, &format!("net_af_packet0,iface={phy}")))
        .more_toml(&format!(
            "[[bridge]]\nname = \"br-int\"\n\
             [[bridge.port]]\nname = \"vm\"\ntype = \"dpdk\"\ndevargs = \"net_af_packet1,iface={vm_port}\"\nofport = 1\n\
             [[bridge.port]]\nname = \"vxlan0\"\ntype = \"vxlan\"\nofport = 2\n\
             options = {{ remote_ip = \"flow\", key = \"flow\" }}"
        ));
    let switch = Vswitchd::start(&dir, &config);
    let mgmt = unix_target(&switch.socket().with_file_name("br-int.mgmt"));
    for flow in [
        "in_port=1,actions=set_field:fd00:31::2->tun_ipv6_dst,set_field:4000->tun_id,output:2",
        "in_port=2,tun_id=4000,tun_ipv6_src=fd00:31::2,tun_ipv6_dst=fd00:31::1,tun_flags=-oam,actions=output:1",
    ] {
        ofctl_ok("OpenFlow13", &["add-flow", &mgmt, flow]);
    }
    let answered = vm.ping_until_answered("10.1.2.2", 3, 5);
    assert!(
        answered.is_ok(),
        "no answer through the flow-based IPv6 tunnel:\n{}\n{}",
        answered.unwrap_err(),
        switch.stderr()
    );
    let dump = ofctl_ok("OpenFlow13", &["dump-flows", &mgmt]);
    let lines = flow_lines(&dump);
    assert!(
        lines.iter().any(|l| l.contains("tun_ipv6_src=fd00:31::2,tun_ipv6_dst=fd00:31::1,tun_flags=-oam")
            && !l.contains("n_packets=0")),
        "the way in matched: {dump}"
    );
    assert!(
        lines.iter().any(|l| l.contains("set_field:fd00:31::2->tun_ipv6_dst") && !l.contains("n_packets=0")),
        "the way out was taken: {dump}"
    );
    // The same VTEP's packets no longer match once the way in wants another source: table misses.
    ofctl_ok("OpenFlow13", &["del-flows", &mgmt, "in_port=2"]);
    ofctl_ok("OpenFlow13", &["add-flow", &mgmt, "in_port=2,tun_id=4000,tun_ipv6_src=fd00:31::3,actions=output:1"]);
    let before = switch.port_stats().port("vxlan0").dropped("table_miss");
    let other = vm.ping("10.1.2.2", 2);
    assert!(!other.stdout.contains(" 0% packet loss"), "fd00:31::2 matched a tun_ipv6_src=fd00:31::3 flow: {other}");
    let misses = switch.port_stats().port("vxlan0").dropped("table_miss");
    assert!(
        misses > before,
        "the replies are table misses of the tunnel port: {:?}",
        switch.port_stats().port("vxlan0")
    );
    switch.stop();
}
