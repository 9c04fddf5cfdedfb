//! A controller drives the tunnel fields of a flow-based VXLAN port (`remote_ip=flow`,
//! `key=flow`) on br-int; the peer is a Linux kernel VTEP in a namespace, the host a namespace on
//! br-int's port 1. The way out sets tun_dst and tun_id, the way in matches tun_id and tun_src;
//! the host pings the kernel's overlay address through them.
//! - `ovs-ofctl` over br-int's management socket (OpenFlow 1.3 set_field, NXM fields): its
//!   dump-flows shows the tunnel fields as installed, and a packet of another VNI does not match;
//!   `vsctl dump-dp-flows` shows the PMD's megaflows of both ways (the tunnel push with its outer
//!   header and VNI, the tunnel pop with the tunnel fields matched) with their packets.
//!   The same over an IPv6 underlay with tun_ipv6_dst / tun_ipv6_src, and VXLAN-GBP (`exts=gbp`)
//!   with a kernel VTEP that has `gbp` on: our flow sets tun_gbp_id, the kernel turns it into
//!   the request's mark, reflects that mark into its reply (`fwmark_reflect`) and sends it back
//!   as GBP, which our flow matches.
//! - An os-ken application (tests/python/tunnel_fields_app.py, OpenFlow 1.3) the switch connects
//!   to, br-int in secure fail mode (nothing forwards without its flows): tunnel_id as OXM
//!   TUNNEL_ID, tun_ipv4_src / tun_ipv4_dst as os-ken's Nicira extension fields; the flow stats
//!   it asks for decode to the flows it sent, with the pings counted.
#![forbid(unsafe_code)]
use std::path::Path;
use std::time::Duration;

use vswitch_e2e::netns::Namespace;
use vswitch_e2e::ofctl::{flow_lines, free_port, ofctl_ok, unix_target};
use vswitch_e2e::openflow_apps::{controller_target, ControllerApp};
use vswitch_e2e::overlay::{address, sh, veth};
use vswitch_e2e::{wait, PortSpec, SwitchConfig, TestDir, Vswitchd};

/// How long the controller may take to program br-int and report the pings in its flow stats.
const CONTROLLER_LIMIT: Duration = Duration::from_secs(30);

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
    /// VXLAN-GBP on both sides; `br_int_settings`: more TOML keys of br-int.
    fn start(
        dir: &TestDir,
        tag: &str,
        (ours, peer, prefix): (&str, &str, u8),
        vm_net: &str,
        mtu: u32,
        gbp: bool,
        br_int_settings: &str,
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
                "[[bridge]]\nname = \"br-int\"\n{br_int_settings}\n\
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

    /// `vsctl dump-dp-flows br-int` after the ping: the way out is a megaflow of port 1 whose
    /// actions push the outer header (`outer`: its addresses) with VNI 4000, the way in one of the
    /// tunnel port (ofport 2) popped by vxlan0 whose match holds `tunnel_fields`, both with
    /// packets; the text says the same. The underlay bridge's dump holds none of br-int's
    /// megaflows, and a bridge that does not exist is an error that names it.
    fn assert_dp_flows(&self, outer: &str, tunnel_fields: &[&str]) {
        let dump: serde_json::Value = self.switch.json(&["dump-dp-flows", "br-int"]);
        let flows = |dump: &serde_json::Value| -> Vec<serde_json::Value> {
            let pmds = dump["pmds"].as_array().cloned().unwrap_or_default();
            assert!(!pmds.is_empty() && pmds.iter().all(|pmd| pmd["error"].is_null()), "every PMD answers: {dump:#}");
            pmds.iter().flat_map(|pmd| pmd["flows"].as_array().cloned().unwrap_or_default()).collect()
        };
        let text = |flow: &serde_json::Value, key: &str| flow[key].as_str().unwrap_or_default().to_owned();
        let used = |flow: &serde_json::Value| {
            flow["packets"].as_u64() > Some(0) && flow["bytes"].as_u64() > Some(0) && flow["used_ms"].is_u64()
        };
        let br_int = flows(&dump);
        assert!(br_int.iter().all(|flow| flow["bridge"] == "br-int"), "{dump:#}");
        let way_out = br_int.iter().any(|flow| {
            let actions = text(flow, "actions");
            used(flow)
                && flow["tnl_pop"].is_null()
                && text(flow, "match").split(',').any(|field| field == "in_port=1")
                && actions.contains("tnl_push(vxlan,")
                && actions.contains(outer)
                && actions.contains("vni=4000")
        });
        assert!(way_out, "a megaflow of the way out pushes the outer header: {dump:#}");
        let way_in = |flow: &serde_json::Value| {
            let matches = text(flow, "match");
            flow["tnl_pop"] == "vxlan0"
                && matches.split(',').any(|field| field == "in_port=2")
                && tunnel_fields.iter().all(|field| matches.contains(field))
                && text(flow, "actions") == "1"
        };
        assert!(br_int.iter().any(|flow| used(flow) && way_in(flow)), "a megaflow of the way in: {dump:#}");
        let listing = self.switch.vsctl_ok(&["dump-dp-flows", "br-int"]);
        assert!(
            listing.lines().any(|line| line.trim_start().starts_with("br-int tnl_pop(vxlan0) ")
                && tunnel_fields.iter().all(|field| line.contains(field))
                && line.contains(" actions:1")),
            "{listing}"
        );
        assert!(listing.contains(outer) && listing.starts_with("pmd core "), "{listing}");
        let underlay: serde_json::Value = self.switch.json(&["dump-dp-flows", "br0"]);
        assert!(flows(&underlay).iter().all(|flow| flow["bridge"] == "br0"), "only br0's: {underlay:#}");
        let unknown = self.switch.vsctl(&["dump-dp-flows", "br-nope"]);
        assert!(!unknown.success() && unknown.stderr.contains("no bridge named \"br-nope\""), "{unknown}");
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
    let t = FlowBasedTunnel::start(&dir, "", ("172.31.1.1", "172.31.1.2", 24), "10.1.1", 1450, false, "");
    t.add_flows(&[
        "in_port=1,actions=set_field:172.31.1.2->tun_dst,set_field:4000->tun_id,output:2",
        "in_port=2,tun_id=4000,tun_src=172.31.1.2,actions=output:1",
    ]);
    t.ping_through("10.1.1.2");
    t.assert_counted(&["tun_id=0xfa0", "tun_src=172.31.1.2"], "the way in matched");
    t.assert_counted(&["set_field:172.31.1.2->tun_dst"], "the way out was taken");
    t.assert_dp_flows("ipv4(src=172.31.1.1,dst=172.31.1.2,", &["tun_id=0xfa0", "tun_src=172.31.1.2"]);
    // Another VNI from the same peer matches no flow of br-int: a table miss, no reply.
    kernel_vtep(&t.underlay, (4001, ""), "172.31.1.1", "172.31.1.2", "10.1.1", 1450);
    t.assert_missed("10.1.1.2", "VNI 4001 crossed a tun_id=4000 flow");
    t.switch.stop();
}

#[test]
fn ovs_ofctl_sets_and_matches_ipv6_tunnel_fields() {
    let dir = TestDir::new("tunnel-flows6");
    let t = FlowBasedTunnel::start(&dir, "6", ("fd00:31::1", "fd00:31::2", 64), "10.1.2", 1430, false, "");
    t.add_flows(&[
        "in_port=1,actions=set_field:fd00:31::2->tun_ipv6_dst,set_field:4000->tun_id,output:2",
        "in_port=2,tun_id=4000,tun_ipv6_src=fd00:31::2,tun_ipv6_dst=fd00:31::1,tun_flags=-oam,actions=output:1",
    ]);
    t.ping_through("10.1.2.2");
    t.assert_counted(&["tun_ipv6_src=fd00:31::2,tun_ipv6_dst=fd00:31::1,tun_flags=-oam"], "the way in matched");
    t.assert_counted(&["set_field:fd00:31::2->tun_ipv6_dst"], "the way out was taken");
    t.assert_dp_flows("ipv6(src=fd00:31::1,dst=fd00:31::2,", &["tun_id=0xfa0", "tun_ipv6_src=fd00:31::2"]);
    // The same VTEP's packets no longer match once the way in wants another source.
    ofctl_ok("OpenFlow13", &["del-flows", &t.mgmt, "in_port=2"]);
    t.add_flows(&["in_port=2,tun_id=4000,tun_ipv6_src=fd00:31::3,actions=output:1"]);
    t.assert_missed("10.1.2.2", "fd00:31::2 matched a tun_ipv6_src=fd00:31::3 flow");
    t.switch.stop();
}

#[test]
fn vxlan_gbp_with_a_kernel_vtep() {
    let dir = TestDir::new("tunnel-flows-gbp");
    let t = FlowBasedTunnel::start(&dir, "g", ("172.31.3.1", "172.31.3.2", 24), "10.1.3", 1450, true, "");
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

/// The os-ken application's view (its JSON file): the flows it installed and the last flow
/// stats reply, both as os-ken decoded them.
#[derive(Debug, serde::Deserialize)]
struct AppView {
    installed: Vec<AppFlow>,
    stats: Vec<AppFlow>,
}

#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
struct AppFlow {
    cookie: u64,
    priority: u16,
    table_id: u8,
    match_: Vec<(String, String)>,
    actions: Vec<String>,
    #[serde(default)]
    packet_count: u64,
}

impl AppView {
    fn read(path: &Path) -> Option<AppView> {
        let text = std::fs::read_to_string(path).ok()?;
        // `match` is a Rust keyword: the field is renamed on the way in.
        serde_json::from_str(&text.replace("\"match\":", "\"match_\":")).ok()
    }

    /// The stats entry of the installed flow with `cookie`.
    fn stats_of(&self, cookie: u64) -> Option<&AppFlow> {
        self.stats.iter().find(|flow| flow.cookie == cookie)
    }
}

#[test]
fn osken_app_sets_and_matches_tunnel_fields() {
    let dir = TestDir::new("tunnel-flows-osken");
    let port = free_port();
    let stats_path = dir.join("osken-stats.json");
    let app = Path::new(env!("CARGO_MANIFEST_DIR")).join("python/tunnel_fields_app.py");
    let env = [
        ("TUNNEL_APP_VM_PORT", "1".to_owned()),
        ("TUNNEL_APP_TUNNEL_PORT", "2".to_owned()),
        ("TUNNEL_APP_VNI", "4000".to_owned()),
        ("TUNNEL_APP_REMOTE", "172.31.1.2".to_owned()),
        ("TUNNEL_APP_STATS", stats_path.to_string_lossy().into_owned()),
    ];
    let controller = ControllerApp::osken_app(&dir, port, "tunnel-app", &app, &env);
    // Secure: br-int forwards nothing until the application's flows are there.
    let target = controller_target(port);
    let settings = format!("fail_mode = \"secure\"\nopenflow = [\"{target}\"]");
    let t = FlowBasedTunnel::start(&dir, "k", ("172.31.1.1", "172.31.1.2", 24), "10.1.1", 1450, false, &settings);

    let installed = wait::poll(CONTROLLER_LIMIT, || AppView::read(&stats_path).filter(|v| v.stats.len() == 2))
        .unwrap_or_else(|| panic!("no flow stats with the two flows:\n{}\n{}", controller.logs(), t.switch.stderr()));
    // What os-ken sent: the tunnel fields it can encode (tun_ipv4_src/dst are NXM fields).
    let out = &installed.installed[0];
    assert_eq!(
        out.actions,
        ["set_field:tunnel_id=4000", "set_field:tun_ipv4_dst=172.31.1.2", "output:2"],
        "{installed:#?}"
    );
    let expected_in = [("in_port", "2"), ("tun_ipv4_src", "172.31.1.2"), ("tunnel_id", "4000")];
    let expected_in: Vec<(String, String)> = expected_in.iter().map(|(f, v)| (f.to_string(), v.to_string())).collect();
    assert_eq!(installed.installed[1].match_, expected_in, "{installed:#?}");

    let answered = t.vm.ping_until_answered("10.1.1.2", 3, 5);
    assert!(
        answered.is_ok(),
        "no answer through the flows of the os-ken application:\n{}\n{}\n{}",
        answered.unwrap_err(),
        controller.logs(),
        t.switch.stderr()
    );
    // Its flow stats: each flow decodes to what it sent, with the pings counted (at least the
    // three echo requests out and the three replies in of the answered run).
    let counted = wait::poll(CONTROLLER_LIMIT, || {
        let view = AppView::read(&stats_path)?;
        let all_counted =
            view.installed.iter().all(|flow| view.stats_of(flow.cookie).is_some_and(|s| s.packet_count >= 3));
        all_counted.then_some(view)
    });
    let view = counted.unwrap_or_else(|| {
        panic!("the pings are not in the flow stats: {:#?}\n{}", AppView::read(&stats_path), controller.logs())
    });
    for sent in &view.installed {
        let stats = view.stats_of(sent.cookie).expect("counted above");
        assert_eq!(
            AppFlow { packet_count: sent.packet_count, ..stats.clone() },
            *sent,
            "flow stats of cookie {:#x} decode to another flow than was sent",
            sent.cookie
        );
    }
    // The kernel VTEP got them through the tunnel: its vxlan device counts the requests.
    let received = vswitch_e2e::overlay::sh_in_ok(&t.underlay, "cat /sys/class/net/vx0/statistics/rx_packets");
    assert!(received.trim().parse::<u64>().unwrap_or(0) >= 3, "vx0 received {received}");
    t.switch.stop();
    controller.stop();
}
