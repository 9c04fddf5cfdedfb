//! GRE and Geneve, over IPv4 and IPv6, against Open vSwitch's userspace datapath: the
//! independent peer for the tunnel types this kernel has no module for. OVS (`ovs_netdev`: netdev
//! datapath, its own namespace) runs native tunnelling as its how-to describes: br-phy holds the
//! VTEP addresses 172.31.2.2 and fd00:32::2 on its LOCAL tap and a `system` port on a veth to our
//! switch's underlay AF_PACKET port; br-int holds its host's veth (ofport 1), `gre` (key 2000,
//! ofport 2), `geneve` (VNI 3000, ofport 3), then `ip6gre` (key 2001, ofport 4: it replaces the
//! gre port, see below) and `geneve` over IPv6 (VNI 3001, ofport 5) to our VTEPs 172.31.2.1 and
//! fd00:32::1. Our switch has the same br-int. Neither side is told the other's MAC: both resolve
//! it (ARP, neighbour discovery).
//!
//! One round per tunnel: each host pings the other, then a 1 MB TCP transfer each way, compared
//! byte for byte, while a capture on the underlay link checks the tunnel, key and source of
//! every packet. In the Geneve rounds OVS's flow adds a (non-critical) TLV option,
//! `{class=0xffff,type=0x1,len=4}` set through `tun_metadata0`, which our switch skips; then an
//! option of a critical type makes OVS set the C bit, and our switch drops those packets
//! and counts them as `tunnel_critical_option` (RFC 8926 3.5: it cannot interpret the option).
//! At the end our switch maps the first option too (`ovs-ofctl add-tlv-map` on its br-int):
//! a flow matching tun_metadata0=0xcafe takes OVS's packets, another value is a table miss, and
//! OVS matches the tun_metadata0 our flow sets.
#![forbid(unsafe_code)]
use std::time::Duration;

use vswitch_e2e::netns::Namespace;
use vswitch_e2e::ofctl::{flow_lines, ofctl, ofctl_ok, unix_target};
use vswitch_e2e::overlay::{address, ifname, payload, sh_in_ok, tcp_transfer, veth, Capture};
use vswitch_e2e::ovs_netdev::OvsNetdev;
use vswitch_e2e::{wait, PortSpec, SwitchConfig, TestDir, Vswitchd};

/// Bytes of each TCP transfer.
const TRANSFER_BYTES: usize = 1 << 20;
/// The hosts' MTU.
const INNER_MTU: u32 = 1422;

#[test]
fn gre_and_geneve_with_open_vswitch() {
    let dir = TestDir::new("tunnel_ovs");
    let host_ours = Namespace::create(&dir, "hv");
    let host_ovs = Namespace::create(&dir, "ho");
    let ovs = OvsNetdev::start(&dir, "ovs");
    let (phy, vm) = (ifname("ovp"), ifname("ovv"));
    veth(&phy, None, "ovsphy", ovs.netns(), 1500);
    // Inner MTU 1422: Geneve's 70 bytes of headers over IPv6 and OVS's 8-byte option fit a
    // 1500-byte underlay.
    veth(&vm, None, "vm0", &host_ours, INNER_MTU);
    veth("ovsvm", Some(ovs.netns()), "vm0", &host_ovs, INNER_MTU);
    address(&host_ours, "vm0", "10.2.1.1/24");
    address(&host_ovs, "vm0", "10.2.1.2/24");

    let bridges = "-- add-br br-phy -- set bridge br-phy datapath_type=netdev other_config:hwaddr=02:00:00:00:bb:02 \
         -- add-port br-phy ovsphy \
         -- add-br br-int -- set bridge br-int datapath_type=netdev \
         -- add-port br-int ovsvm -- set Interface ovsvm ofport_request=1 \
         -- add-port br-int gre0 -- set Interface gre0 type=gre options:remote_ip=172.31.2.1 options:key=2000 ofport_request=2 \
         -- add-port br-int gnv0 -- set Interface gnv0 type=geneve options:remote_ip=172.31.2.1 options:key=3000 ofport_request=3 \
         -- add-port br-int gnv6 -- set Interface gnv6 type=geneve options:remote_ip=fd00:32::1 options:key=3001 ofport_request=5";
    ovs.vsctl(&bridges.split_whitespace().collect::<Vec<_>>());
    sh_in_ok(
        ovs.netns(),
        "ip addr add 172.31.2.2/24 dev br-phy; ip addr add fd00:32::2/64 dev br-phy nodad; ip link set br-phy up",
    );
    ovs.ofctl("del-flows", "br-int", &[]);
    for tunnel in 2..=5 {
        ovs.ofctl("add-flow", "br-int", &[&format!("priority=10,in_port={tunnel},actions=output:1")]);
    }
    ovs.ofctl("add-tlv-map", "br-int", &["{class=0xffff,type=0x1,len=4}->tun_metadata0"]);
    ovs.ofctl("add-tlv-map", "br-int", &["{class=0xffff,type=0x81,len=4}->tun_metadata1"]);
    // OVS's route to our VTEP comes from br-phy's address (the kernel's route, read by netlink).
    for vtep in ["172.31.2.1", "fd00:32::1"] {
        let route = wait::poll(Duration::from_secs(10), || {
            let output = ovs.appctl(&["ovs/route/lookup", vtep]);
            output.stdout.contains("br-phy").then_some(output.stdout)
        });
        assert!(route.is_some(), "OVS has no route to {vtep}: {}", ovs.appctl(&["ovs/route/show"]));
    }

    let tunnels = [
        ("gre0", "gre", 2, 2000, "172.31.2.2"),
        ("geneve0", "geneve", 3, 3000, "172.31.2.2"),
        ("gre6", "gre", 4, 2001, "fd00:32::2"),
        ("geneve6", "geneve", 5, 3001, "fd00:32::2"),
    ]
    .map(|(name, kind, ofport, key, remote)| {
        format!(
            "\n[[bridge.port]]\nname = \"{name}\"\ntype = \"{kind}\"\nofport = {ofport}\n\
             options = {{ remote_ip = \"{remote}\", key = {key} }}\n"
        )
    })
    .concat();
    let flows: Vec<String> = (2..=5).map(|t| format!("\"priority=10,in_port={t},actions=output:1\"")).collect();
    let flows = flows.join(", ");
    let config = SwitchConfig::new(&dir)
        .flow("actions=NORMAL")
        .bridge_setting("mac", "\"02:00:00:00:aa:02\"")
        .bridge_setting("addresses", "[\"172.31.2.1/24\", \"fd00:32::1/64\"]")
        .port(PortSpec::dpdk("phy", 1, &format!("net_af_packet0,iface={phy}")))
        .more_toml(&format!(
            "[[bridge]]\nname = \"br-int\"\n\
             flows = [{flows}]\n\
             [[bridge.port]]\nname = \"vm\"\ntype = \"dpdk\"\ndevargs = \"net_af_packet1,iface={vm}\"\nofport = 1\n{tunnels}"
        ));
    let switch = Vswitchd::start(&dir, &config);
    let diagnose = |what: &str, detail: &str| -> String {
        format!(
            "{what}: {detail}\n---- OVS tnl/neigh/show:\n{}\n---- OVS dpctl/dump-flows:\n{}\n---- our port-stats phy: {:?}\n---- our stderr:\n{}",
            ovs.appctl(&["tnl/neigh/show"]).stdout,
            ovs.appctl(&["dpctl/dump-flows", "-m"]).stdout,
            switch.port_stats().port("phy"),
            switch.stderr()
        )
    };

    // (name, our output port, OVS's br-int flow from its host, protocols, key, OVS's option)
    let geneve_flow =
        |port: u32| format!("priority=10,in_port=1,actions=set_field:0xcafe->tun_metadata0,output:{port}");
    let rounds = [
        ("GRE", 2, "priority=10,in_port=1,actions=output:2".to_owned(), "ip:gre", 2000, None),
        ("Geneve", 3, geneve_flow(3), "ip:udp:geneve", 3000, Some("0xffff/0x01")),
        ("ip6gre", 4, "priority=10,in_port=1,actions=output:4".to_owned(), "ipv6:gre", 2001, None),
        ("Geneve/IPv6", 5, geneve_flow(5), "ipv6:udp:geneve", 3001, Some("0xffff/0x01")),
    ];
    for (round, (name, ofport, ovs_flow, protocol, key, option)) in rounds.into_iter().enumerate() {
        if name == "ip6gre" {
            // OVS 3.1's userspace datapath cannot hold a gre and an ip6gre port at once: its
            // tnl_pop for IPv4 GRE then picks the ip6gre port and drops the packet. One at a time.
            let swap = "-- del-port br-int gre0 -- add-port br-int gre6 -- set Interface gre6 type=ip6gre \
                        options:remote_ip=fd00:32::1 options:key=2001 ofport_request=4";
            ovs.vsctl(&swap.split_whitespace().collect::<Vec<_>>());
        }
        switch.vsctl_ok(&["add-flow", "br-int", &format!("priority=10,in_port=1,actions=output:{ofport}")]);
        ovs.ofctl("add-flow", "br-int", &[&ovs_flow]);
        let capture = Capture::start(
            &dir,
            ovs.netns(),
            "ovsphy",
            "udp port 6081 or ip proto 47 or ip6 proto 47",
            50,
            &[
                "ip.src",
                "ipv6.src",
                "frame.protocols",
                "geneve.vni",
                "gre.key",
                "geneve.option.class",
                "geneve.option.type",
            ],
        );
        if let Err(runs) = host_ours.ping_until_answered("10.2.1.2", 5, 5) {
            panic!("{}", diagnose(name, &format!("our host gets no answer from OVS's:\n{runs}")));
        }
        if let Err(runs) = host_ovs.ping_until_answered("10.2.1.1", 5, 5) {
            panic!("{}", diagnose(name, &format!("OVS's host gets no answer from ours:\n{runs}")));
        }
        let port = 5200 + 10 * u16::try_from(round).unwrap_or(0);
        let data = payload(TRANSFER_BYTES, u64::from(port));
        if let Err(e) = tcp_transfer(&dir, &host_ours, &host_ovs, "10.2.1.2", port, &data) {
            panic!("{}", diagnose(name, &format!("TCP from our host to OVS's: {e}")));
        }
        let data = payload(TRANSFER_BYTES, u64::from(port) + 1);
        if let Err(e) = tcp_transfer(&dir, &host_ovs, &host_ours, "10.2.1.1", port + 1, &data) {
            panic!("{}", diagnose(name, &format!("TCP from OVS's host to ours: {e}")));
        }
        let packets = capture.stop();
        let (mut ours, mut theirs) = (0, 0);
        for fields in &packets {
            let [src4, src6, protocols, vni, gre_key, class, kind] = fields.as_slice() else { panic!("{fields:?}") };
            assert!(protocols.starts_with(&format!("eth:ethertype:{protocol}:eth:")), "{name}: {fields:?}");
            let found = [vni, gre_key].map(|k| number(k));
            assert!(found.iter().flatten().eq([&key]), "{name}: key {found:?}, not {key}: {fields:?}");
            let options = (!class.is_empty()).then(|| format!("{class}/{kind}"));
            // (The outer header's address is the first; an inner IPv4 header fills ip.src too.)
            let src = if protocols.starts_with("eth:ethertype:ipv6:") { src6 } else { src4 };
            match src.split(',').next().unwrap_or_default() {
                "172.31.2.1" | "fd00:32::1" => {
                    ours += 1;
                    assert_eq!(options, None, "{name}: we send no Geneve option: {fields:?}");
                }
                "172.31.2.2" | "fd00:32::2" => {
                    theirs += 1;
                    assert_eq!(options.as_deref(), option, "{name}: OVS's option: {fields:?}");
                }
                _ => panic!("{name}: a tunnel packet from elsewhere: {fields:?}"),
            }
        }
        assert!(ours >= 500 && theirs >= 500, "{name}: {ours} tunnel packets from us, {theirs} from OVS");
    }

    // A critical option (type 0x81: its high bit) makes OVS set the Geneve C bit: we cannot
    // interpret it, so we drop the packet and count it.
    let before = switch.port_stats().port("phy").dropped("tunnel_critical_option");
    switch.vsctl_ok(&["add-flow", "br-int", "priority=10,in_port=1,actions=output:3"]);
    ovs.ofctl("add-flow", "br-int", &["priority=10,in_port=1,actions=set_field:0xbad->tun_metadata1,output:3"]);
    // (Its datapath flows of the old rule go now, not at the next revalidation.)
    assert!(ovs.appctl(&["revalidator/purge"]).success());
    let lost = host_ovs.ping("10.2.1.1", 3);
    assert!(!lost.success(), "a Geneve packet with a critical option got through:\n{lost}");
    let after = switch.port_stats().port("phy").dropped("tunnel_critical_option");
    assert!(after >= before + 3, "tunnel_critical_option {before} -> {after}");
    // And without it, the tunnel works again.
    ovs.ofctl("add-flow", "br-int", &["priority=10,in_port=1,actions=output:3"]);
    if let Err(runs) = host_ovs.ping_until_answered("10.2.1.1", 3, 3) {
        panic!("{}", diagnose("Geneve after the critical option", &runs));
    }

    tlv_map_both_ways(&switch, &ovs, &host_ours, &host_ovs);
    switch.stop();
    ovs.stop();
}

/// Our switch maps `{class=0xffff,type=0x1,len=4}` to tun_metadata0 as OVS does and matches and
/// sets it over the Geneve port (ofport 3).
fn tlv_map_both_ways(switch: &Vswitchd, ovs: &OvsNetdev, host_ours: &Namespace, host_ovs: &Namespace) {
    let mgmt = unix_target(&switch.socket().with_file_name("br-int.mgmt"));
    ofctl_ok("OpenFlow13", &["add-tlv-map", &mgmt, "{class=0xffff,type=0x1,len=4}->tun_metadata0"]);
    let map = ofctl_ok("OpenFlow13", &["dump-tlv-map", &mgmt]);
    assert!(map.contains("0xffff") && map.contains("tun_metadata0"), "dump-tlv-map: {map}");
    // The way in matches OVS's option; OVS's flow sets 0xcafe.
    ofctl_ok("OpenFlow13", &["del-flows", &mgmt, "in_port=3"]);
    ofctl_ok("OpenFlow13", &["add-flow", &mgmt, "priority=20,in_port=3,tun_metadata0=0xcafe,actions=output:1"]);
    ovs.ofctl("add-flow", "br-int", &["priority=10,in_port=1,actions=set_field:0xcafe->tun_metadata0,output:3"]);
    assert!(ovs.appctl(&["revalidator/purge"]).success());
    if let Err(runs) = host_ovs.ping_until_answered("10.2.1.1", 3, 3) {
        panic!(
            "OVS's tun_metadata0=0xcafe matched no flow of ours: {runs}
{}",
            switch.stderr()
        );
    }
    let dump = ofctl_ok("OpenFlow13", &["dump-flows", &mgmt]);
    assert!(
        flow_lines(&dump).iter().any(|l| l.contains("tun_metadata0=0xcafe") && !l.contains("n_packets=0")),
        "our tun_metadata0 flow counted nothing: {dump}"
    );
    // Another value: a table miss of the Geneve port.
    let before = switch.port_stats().port("geneve0").dropped("table_miss");
    ovs.ofctl("add-flow", "br-int", &["priority=10,in_port=1,actions=set_field:0xbeef->tun_metadata0,output:3"]);
    assert!(ovs.appctl(&["revalidator/purge"]).success());
    let lost = host_ovs.ping("10.2.1.1", 2);
    assert!(
        !lost.success(),
        "tun_metadata0=0xbeef matched our 0xcafe flow:
{lost}"
    );
    let after = switch.port_stats().port("geneve0").dropped("table_miss");
    assert!(after > before, "table_miss of geneve0 {before} -> {after}");
    // The other way: our flow sets 0x1234, OVS's way in wants it.
    ofctl_ok("OpenFlow13", &["add-flow", &mgmt, "priority=20,in_port=3,actions=output:1"]);
    ofctl_ok(
        "OpenFlow13",
        &["add-flow", &mgmt, "priority=10,in_port=1,actions=set_field:0x1234->tun_metadata0,output:3"],
    );
    ovs.ofctl("add-flow", "br-int", &["priority=10,in_port=1,actions=output:3"]);
    ovs.ofctl("del-flows", "br-int", &["in_port=3"]);
    ovs.ofctl("add-flow", "br-int", &["priority=20,in_port=3,tun_metadata0=0x1234,actions=output:1"]);
    assert!(ovs.appctl(&["revalidator/purge"]).success());
    if let Err(runs) = host_ours.ping_until_answered("10.2.1.2", 3, 3) {
        panic!(
            "OVS did not match the tun_metadata0=0x1234 we set: {runs}
{}",
            switch.stderr()
        );
    }
    let theirs = ovs.ofctl("dump-flows", "br-int", &[]);
    assert!(
        flow_lines(&theirs).iter().any(|l| l.contains("tun_metadata0=0x1234") && !l.contains("n_packets=0")),
        "OVS's tun_metadata0=0x1234 flow counted nothing: {theirs}"
    );
    // A mapping in use (by a match and by a set_field) is not deleted; once unused it is.
    for (user, uses) in [("in_port=3", "a match and a set_field"), ("in_port=1", "a set_field")] {
        let refused = ofctl("OpenFlow13", &["del-tlv-map", &mgmt, "{class=0xffff,type=0x1,len=4}->tun_metadata0"]);
        assert!(!refused.success() && refused.stderr.contains("NXTTMFC_INVALID_TLV_DEL"), "used by {uses}: {refused}");
        ofctl_ok("OpenFlow13", &["del-flows", &mgmt, user]);
    }
    ofctl_ok("OpenFlow13", &["del-tlv-map", &mgmt, "{class=0xffff,type=0x1,len=4}->tun_metadata0"]);
    assert!(!ofctl_ok("OpenFlow13", &["dump-tlv-map", &mgmt]).contains("tun_metadata0"));
}

/// A number tshark printed in decimal or `0x` hexadecimal.
fn number(text: &str) -> Option<u32> {
    match text.strip_prefix("0x") {
        Some(hex) => u32::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}
