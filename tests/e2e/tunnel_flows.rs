//! A controller drives the tunnel fields: `ovs-ofctl` over br-int's OpenFlow channel installs
//! flows for a flow-based VXLAN port (`remote_ip=flow`, `key=flow`): the way out sets tun_dst
//! and tun_id (OpenFlow 1.3 set_field, NXM fields), the way in matches tun_id and tun_src; the
//! peer is a Linux kernel VTEP in a namespace. The host pings through it, ovs-ofctl's
//! dump-flows shows the tunnel fields as installed, and a packet of another VNI does not match.
//! The same over an IPv6 underlay with tun_ipv6_dst / tun_ipv6_src, and VXLAN-GBP (`exts=gbp`)
//! with a kernel VTEP that has `gbp` on: our flow sets tun_gbp_id, the kernel turns it into
//! the request's mark, reflects that mark into its reply (`fwmark_reflect`) and sends it back
//! as GBP, which our flow matches.
#![forbid(unsafe_code)]

use vswitch_e2e::netns::Namespace;
use vswitch_e2e::ofctl::{flow_lines, ofctl_ok, unix_target};
use vswitch_e2e::overlay::{address, sh, veth};
use vswitch_e2e::{PortSpec, SwitchConfig, TestDir, Vswitchd};

/// A running setup: br-int's VM port (the `vm` namespace, `vm0` at `.1` of `vm_net`) and
/// flow-based VXLAN port (ofport 2) over br-phy (VTEP `ours`, `phy` on the underlay), the
/// kernel VTEP `vx0` (VNI `vni`, `.2` of `vm_net`) at `peer` in the `ul` namespace.
struct FlowBasedTunnel {
    underlay: Namespace,
    vm: Namespace,
    switch: Vswitchd,
    mgmt: String,
}

/// The `vx0` kernel VTEP of VNI `vni` in `underlay`; `extra`: more `ip link add` arguments.
fn kernel_vtep(underlay: &Namespace, (vni, extra): (u32, &str), ours: &str, peer: &str, vm_net: &str, mtu: u32) {
    sh(&format!(
        "ip -n {ns} link del vx0 2>/dev/null || true; \
         ip -n {ns} link add vx0 type vxlan id {vni} remote {ours} local {peer} dstport 4789 dev ul0 {extra}; \
         ip -n {ns} link set vx0 mtu {mtu}; ip -n {ns} addr add {vm_net}.2/24 dev vx0; ip -n {ns} link set vx0 up",
        ns = underlay.name()
    ));
}

impl FlowBasedTunnel {
    /// `ours`/`peer`: the VTEP addresses, `prefix` their prefix length; `mtu` the VM's; `gbp`:
    /// VXLAN-GBP on both sides.
    fn start(
        dir: &TestDir,
        tag: &str,
        (ours, peer, prefix): (&str, &str, u8),
        vm_net: &str,
        mtu: u32,
        gbp: bool,
    ) -> Self {
        let underlay = Namespace::create(dir, &format!("ul{tag}"));
        let vm = Namespace::create(dir, &format!("vm{tag}"));
        let pid = std::process::id() % 100_000;
        let (phy, vm_port) = (format!("tf{tag}u{pid}"), format!("tf{tag}v{pid}"));
        veth(&phy, None, "ul0", &underlay, 1500);
        address(&underlay, "ul0", &format!("{peer}/{prefix}"));
        veth(&vm_port, None, "vm0", &vm, mtu);
        address(&vm, "vm0", &format!("{vm_net}.1/24"));
        kernel_vtep(&underlay, (4000, if gbp { "gbp" } else { "" }), ours, peer, vm_net, mtu);
        let exts = if gbp { ", exts = \"gbp\"" } else { "" };
        let config = SwitchConfig::new(dir)
            .flow("actions=NORMAL")
            .bridge_setting("mac", "\"02:00:00:00:aa:01\"")
            .bridge_setting("addresses", &format!("[\"{ours}/{prefix}\"]"))
            .port(PortSpec::dpdk("phy", 1, &format!("net_af_packet0,iface={phy}")))
            .more_toml(&format!(
                "[[bridge]]\nname = \"br-int\"\n\
                 [[bridge.port]]\nname = \"vm\"\ntype = \"dpdk\"\ndevargs = \"net_af_packet1,iface={vm_port}\"\nofport = 1\n\
                 [[bridge.port]]\nname = \"vxlan0\"\ntype = \"vxlan\"\nofport = 2\n\
                 options = {{ remote_ip = \"flow\", key = \"flow\"{exts} }}"
            ));
        let switch = Vswitchd::start(dir, &config);
        let mgmt = unix_target(&switch.socket().with_file_name("br-int.mgmt"));
        FlowBasedTunnel { underlay, vm, switch, mgmt }
    }

    fn add_flows(&self, flows: &[&str]) {
        for flow in flows {
            ofctl_ok("OpenFlow13", &["add-flow", &self.mgmt, flow]);
        }
    }

    /// Pings the kernel VTEP's side until answered; fails the test, with the switch's log, if not.
    fn ping_through(&self, target: &str) {
        let answered = self.vm.ping_until_answered(target, 3, 5);
        assert!(
            answered.is_ok(),
            "no answer through the flow-based tunnel:\n{}\n{}",
            answered.unwrap_err(),
            self.switch.stderr()
        );
    }

    /// dump-flows has a line with each of `texts` whose flow counted packets.
    fn assert_counted(&self, texts: &[&str], what: &str) {
        let dump = ofctl_ok("OpenFlow13", &["dump-flows", &self.mgmt]);
        let lines = flow_lines(&dump);
        assert!(
            lines.iter().any(|l| texts.iter().all(|t| l.contains(t)) && !l.contains("n_packets=0")),
            "{what}: {dump}"
        );
    }

    /// A ping that must go unanswered: its replies are table misses of the tunnel port.
    fn assert_missed(&self, target: &str, why: &str) {
        let before = self.switch.port_stats().port("vxlan0").dropped("table_miss");
        let other = self.vm.ping(target, 2);
        assert!(!other.stdout.contains(" 0% packet loss"), "{why}: {other}");
        let misses = self.switch.port_stats().port("vxlan0").dropped("table_miss");
        assert!(
            misses > before,
            "the replies are table misses of the tunnel port: {:?}",
            self.switch.port_stats().port("vxlan0")
        );
    }
}

#[test]
fn ovs_ofctl_sets_and_matches_tunnel_fields() {
    let dir = TestDir::new("tunnel-flows");
    let t = FlowBasedTunnel::start(&dir, "", ("172.31.1.1", "172.31.1.2", 24), "10.1.1", 1450, false);
    t.add_flows(&[
        "in_port=1,actions=set_field:172.31.1.2->tun_dst,set_field:4000->tun_id,output:2",
        "in_port=2,tun_id=4000,tun_src=172.31.1.2,actions=output:1",
    ]);
    t.ping_through("10.1.1.2");
    t.assert_counted(&["tun_id=0xfa0", "tun_src=172.31.1.2"], "the way in matched");
    t.assert_counted(&["set_field:172.31.1.2->tun_dst"], "the way out was taken");
    // Another VNI from the same peer matches no flow of br-int: a table miss, no reply.
    kernel_vtep(&t.underlay, (4001, ""), "172.31.1.1", "172.31.1.2", "10.1.1", 1450);
    t.assert_missed("10.1.1.2", "VNI 4001 crossed a tun_id=4000 flow");
    t.switch.stop();
}

#[test]
fn ovs_ofctl_sets_and_matches_ipv6_tunnel_fields() {
    let dir = TestDir::new("tunnel-flows6");
    let t = FlowBasedTunnel::start(&dir, "6", ("fd00:31::1", "fd00:31::2", 64), "10.1.2", 1430, false);
    t.add_flows(&[
        "in_port=1,actions=set_field:fd00:31::2->tun_ipv6_dst,set_field:4000->tun_id,output:2",
        "in_port=2,tun_id=4000,tun_ipv6_src=fd00:31::2,tun_ipv6_dst=fd00:31::1,tun_flags=-oam,actions=output:1",
    ]);
    t.ping_through("10.1.2.2");
    t.assert_counted(&["tun_ipv6_src=fd00:31::2,tun_ipv6_dst=fd00:31::1,tun_flags=-oam"], "the way in matched");
    t.assert_counted(&["set_field:fd00:31::2->tun_ipv6_dst"], "the way out was taken");
    // The same VTEP's packets no longer match once the way in wants another source.
    ofctl_ok("OpenFlow13", &["del-flows", &t.mgmt, "in_port=2"]);
    t.add_flows(&["in_port=2,tun_id=4000,tun_ipv6_src=fd00:31::3,actions=output:1"]);
    t.assert_missed("10.1.2.2", "fd00:31::2 matched a tun_ipv6_src=fd00:31::3 flow");
    t.switch.stop();
}

#[test]
fn vxlan_gbp_with_a_kernel_vtep() {
    let dir = TestDir::new("tunnel-flows-gbp");
    let t = FlowBasedTunnel::start(&dir, "g", ("172.31.3.1", "172.31.3.2", 24), "10.1.3", 1450, true);
    // The kernel answers with the mark of the request: the GBP policy ID it came with.
    sh(&format!("ip netns exec {} sysctl -qw net.ipv4.fwmark_reflect=1", t.underlay.name()));
    t.add_flows(&[
        "in_port=1,actions=set_field:172.31.3.2->tun_dst,set_field:4000->tun_id,set_field:0x1234->tun_gbp_id,output:2",
        "in_port=2,arp,actions=output:1",
        "in_port=2,tun_gbp_id=0x1234,tun_gbp_flags=0,actions=output:1",
    ]);
    t.ping_through("10.1.3.2");
    t.assert_counted(&["tun_gbp_id=4660", "tun_gbp_flags=0"], "the kernel's reply came with GBP 0x1234");
    // Another policy ID: the replies carry it, the flow does not match them.
    ofctl_ok("OpenFlow13", &["del-flows", &t.mgmt, "in_port=1"]);
    t.add_flows(&[
        "in_port=1,actions=set_field:172.31.3.2->tun_dst,set_field:4000->tun_id,set_field:0x99->tun_gbp_id,output:2",
    ]);
    t.assert_missed("10.1.3.2", "GBP 0x99 replies matched a tun_gbp_id=0x1234 flow");
    t.switch.stop();
}
